//! Checks the EigenLayer core artifacts committed in `contracts/test/eigenlayer/` (which
//! `keeper_shared::eigenlayer` and the forge fixture both use) against the crates.io crate they were
//! taken from, `eigen-utils` 2.0.0 (the v1.3 slashing release, compiled by EigenLayer with solc
//! 0.8.27): the creation bytecode byte for byte, and the ABI's functions, events and errors by
//! selector. Needs the crate, so it runs only with `--features eigen-utils` (`make vectors`); the
//! default build and tests do without it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeSet;
use std::path::PathBuf;

use alloy::json_abi::JsonAbi;
use alloy::primitives::FixedBytes;
use eigen_utils::slashing::core::{
    allocation_manager::AllocationManager, avs_directory::AVSDirectory, delegation_manager::DelegationManager,
    eigen_pod::EigenPod, eigen_pod_manager::EigenPodManager, permission_controller::PermissionController,
    strategy_manager::StrategyManager,
};

/// What the crate publishes of one contract: creation bytecode and selectors.
struct Published {
    bytecode: &'static [u8],
    functions: &'static [[u8; 4]],
    errors: &'static [[u8; 4]],
    events: &'static [[u8; 32]],
}

macro_rules! published {
    ($module:ident, $calls:ident, $errors:ident, $events:ident) => {
        Published {
            bytecode: &$module::BYTECODE,
            functions: $module::$calls::SELECTORS,
            errors: $module::$errors::SELECTORS,
            events: $module::$events::SELECTORS,
        }
    };
}

fn selectors<const N: usize>(all: &[[u8; N]]) -> BTreeSet<FixedBytes<N>> {
    all.iter().map(|s| FixedBytes(*s)).collect()
}

#[test]
fn committed_core_artifacts_match_the_crate() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/test/eigenlayer");
    let contracts = [
        (
            "PermissionController",
            published!(
                PermissionController,
                PermissionControllerCalls,
                PermissionControllerErrors,
                PermissionControllerEvents
            ),
        ),
        (
            "DelegationManager",
            published!(DelegationManager, DelegationManagerCalls, DelegationManagerErrors, DelegationManagerEvents),
        ),
        (
            "StrategyManager",
            published!(StrategyManager, StrategyManagerCalls, StrategyManagerErrors, StrategyManagerEvents),
        ),
        (
            "AllocationManager",
            published!(AllocationManager, AllocationManagerCalls, AllocationManagerErrors, AllocationManagerEvents),
        ),
        ("AVSDirectory", published!(AVSDirectory, AVSDirectoryCalls, AVSDirectoryErrors, AVSDirectoryEvents)),
        (
            "EigenPodManager",
            published!(EigenPodManager, EigenPodManagerCalls, EigenPodManagerErrors, EigenPodManagerEvents),
        ),
        ("EigenPod", published!(EigenPod, EigenPodCalls, EigenPodErrors, EigenPodEvents)),
    ];
    for (name, published) in contracts {
        let path = dir.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        let artifact: serde_json::Value = serde_json::from_str(&text).unwrap();
        let bytecode = artifact["bytecode"].as_str().unwrap();
        assert_eq!(bytecode, format!("0x{}", hex::encode(published.bytecode)), "{name}: bytecode");
        let abi: JsonAbi = serde_json::from_value(artifact["abi"].clone()).unwrap();
        let functions = abi.functions().map(|f| f.selector()).collect::<BTreeSet<_>>();
        assert_eq!(functions, selectors(published.functions), "{name}: functions");
        let errors = abi.errors().map(|e| e.selector()).collect::<BTreeSet<_>>();
        assert_eq!(errors, selectors(published.errors), "{name}: errors");
        let events = abi.events().filter(|e| !e.anonymous).map(|e| e.selector()).collect::<BTreeSet<_>>();
        assert_eq!(events, selectors(published.events), "{name}: events");
    }
}
