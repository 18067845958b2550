//! Library shared by `keeperd` and `keeperctl`: the job domain, protocol types, BLS12-381
//! signatures, encrypted keystores and contract bindings.
//!
//! Only [`bls`] and [`keystore`] touch secret key material.

pub mod api;
pub mod batch;
pub mod block_ranges;
pub mod bls;
pub mod contracts;
pub mod decimal;
pub mod deployment;
pub mod eigenlayer;
pub mod job;
pub mod keystore;
mod named_enum;
pub mod network;
pub mod version;

/// What [`named_enum!`] expands to needs, reachable from other crates.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
