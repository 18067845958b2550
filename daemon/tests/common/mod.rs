//! What the daemon's integration tests share beyond the harness (`keeper-devnet`): the P2P tests'
//! operators.

#![allow(dead_code, unused_imports, clippy::unwrap_used)] // each test binary uses a subset

pub mod p2p;

pub use keeper_devnet::anvil::{binary as anvil_binary, for_test as anvil};
pub use keeper_devnet::operators::wallet_provider;
