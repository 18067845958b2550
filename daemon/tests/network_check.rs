//! `keeperd network check` against a real EigenLayer core on anvil, treated as a foreign network:
//! the report read from chain, and each kind of wrong network file refused with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use alloy::primitives::Address;
use keeper_devnet::{deploy_network, NetworkConfig};
use keeper_shared::deployment::Deployment;
use keeper_shared::network::{CoreReport, Network};

fn network_of(deployment: &Deployment) -> Network {
    Network {
        name: "anvil".into(),
        chain_id: deployment.chain_id,
        source: "deployed by this test".into(),
        eigenlayer: deployment.eigenlayer.clone(),
        strategy_factory: None,
        strategies: BTreeMap::from([("STAKE".to_owned(), deployment.avs.strategies[0])]),
    }
}

fn check(network: &Network, rpc_url: &str, dir: &tempfile::TempDir) -> Output {
    let path = dir.path().join(format!("{}.json", network.name));
    std::fs::write(&path, serde_json::to_string_pretty(network).unwrap()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_keeperd"))
        .args(["network", "check", "--json", "--rpc-url", rpc_url, "--network"])
        .arg(&path)
        .output()
        .unwrap()
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "expected a refusal: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_network_file_is_checked_against_the_chain() {
    let anvil = common::anvil();
    let (owner, provider) = common::wallet_provider(&anvil, 0);
    let deployment = deploy_network(&provider, &NetworkConfig::devnet(owner)).await.unwrap();
    let rpc_url = anvil.endpoint();
    let dir = tempfile::tempdir().unwrap();

    let network = network_of(&deployment);
    let output = check(&network, &rpc_url, &dir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: CoreReport = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((report.chain_id, report.version.as_str()), (31337, "v1.3.0-devnet"));
    assert_eq!((report.deallocation_delay, report.min_withdrawal_delay_blocks), (200, 200));
    assert_eq!(report.slashable_horizon, 200);
    assert_eq!(report.strategies.len(), 1);
    assert_eq!(Some(report.strategies[0].underlying_token), deployment.stake_token);

    let wrong_chain = Network { chain_id: 560_048, ..network.clone() };
    let error = refused(&check(&wrong_chain, &rpc_url, &dir));
    assert!(error.contains("chain 560048") && error.contains("serves chain 31337"), "{error}");

    // The stake token has code but is no strategy the StrategyManager whitelisted.
    let mut not_whitelisted = network.clone();
    not_whitelisted.strategies.insert("TOKEN".into(), deployment.stake_token.unwrap());
    let error = refused(&check(&not_whitelisted, &rpc_url, &dir));
    assert!(error.contains("strategy TOKEN") && error.contains("not whitelisted"), "{error}");

    let mut missing = network.clone();
    missing.strategies.insert("GONE".into(), Address::repeat_byte(0x42));
    let error = refused(&check(&missing, &rpc_url, &dir));
    assert!(error.contains("strategy GONE") && error.contains("no code"), "{error}");

    let error = refused(
        &Command::new(env!("CARGO_BIN_EXE_keeperd"))
            .args(["network", "check", "--rpc-url", &rpc_url, "--network", "no-such-network"])
            .output()
            .unwrap(),
    );
    assert!(error.contains("no-such-network") && error.contains("sepolia, hoodi"), "{error}");
}

#[test]
fn built_in_networks_are_listed() {
    let output = Command::new(env!("CARGO_BIN_EXE_keeperd")).args(["network", "list"]).output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "sepolia\nhoodi\n");
}
