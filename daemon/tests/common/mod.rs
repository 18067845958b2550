//! What the daemon's integration tests share: the anvil binary and funded wallets.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a subset

pub mod p2p;

use std::path::PathBuf;

use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

/// `$KEEPER_ANVIL` (the Makefile sets it), else the binary `make setup` installs from npm.
pub fn anvil_binary() -> PathBuf {
    std::env::var_os("KEEPER_ANVIL").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    })
}

/// A fresh anvil owned by the test (killed when dropped).
pub fn anvil() -> AnvilInstance {
    keeperd::devnet::start_anvil(&anvil_binary()).expect("anvil starts (run `make setup` first)")
}

/// A provider signing with anvil's funded account `index`, and that account's address.
pub fn wallet_provider(anvil: &AnvilInstance, index: usize) -> (Address, impl Provider + Clone) {
    let signer = PrivateKeySigner::from(anvil.keys()[index].clone());
    let address = signer.address();
    (address, ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(anvil.endpoint_url()))
}
