//! What the end-to-end tests of keeperctl share: the anvil and keeperd binaries they run, from the
//! devnet harness.

#![allow(dead_code, unused_imports)] // each test uses part of it

pub use keeper_devnet::anvil::binary as anvil_binary;
pub use keeper_devnet::binaries::{keeperd as keeperd_binary, repo_root as repo};
