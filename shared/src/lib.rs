//! Library shared by `keeperd` and `keeperctl`: protocol types, BLS12-381 signatures,
//! encrypted keystores and contract bindings.
//!
//! Only [`bls`] and [`keystore`] touch secret key material.

pub mod api;
pub mod batch;
pub mod bls;
pub mod contracts;
pub mod deployment;
pub mod keystore;
