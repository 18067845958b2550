//! The real EigenLayer core deploys on a fresh anvil and is wired up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::time::Instant;

use alloy::network::EthereumWallet;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeper_devnet::{deploy_core, CoreConfig};
use keeper_shared::eigenlayer::{
    allocation_manager::AllocationManager, delegation_manager::DelegationManager, strategy_manager::StrategyManager,
};

#[tokio::test]
async fn core_deploys_fresh_and_is_initialised() {
    let anvil = keeper_devnet::anvil::for_test();
    let signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let owner = signer.address();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(anvil.endpoint_url());

    let first_block = provider.get_block_number().await.unwrap() + 1;
    let started = Instant::now();
    let core = deploy_core(&provider, &CoreConfig::devnet(owner)).await.unwrap();
    let elapsed = started.elapsed();
    let last_block = provider.get_block_number().await.unwrap();
    let mut gas = 0u64;
    for number in first_block..=last_block {
        gas += provider.get_block_by_number(number.into()).await.unwrap().unwrap().header.gas_used;
    }
    println!(
        "EigenLayer core: {} transactions, {gas} gas, {:.2} s",
        last_block + 1 - first_block,
        elapsed.as_secs_f64()
    );

    let allocation = AllocationManager::new(core.allocation_manager, &provider);
    assert_eq!(allocation.owner().call().await.unwrap(), owner);
    assert_eq!(allocation.ALLOCATION_CONFIGURATION_DELAY().call().await.unwrap(), 1);
    assert_eq!(allocation.delegation().call().await.unwrap(), core.delegation_manager);
    let delegation = DelegationManager::new(core.delegation_manager, &provider);
    assert_eq!(delegation.owner().call().await.unwrap(), owner);
    assert_eq!(delegation.allocationManager().call().await.unwrap(), core.allocation_manager);
    let strategies = StrategyManager::new(core.strategy_manager, &provider);
    assert_eq!(strategies.strategyWhitelister().call().await.unwrap(), owner);
    assert_eq!(strategies.version().call().await.unwrap(), "v1.3.0-devnet");
}
