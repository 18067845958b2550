//! Extracts the published EigenLayer core creation bytecode that the crates.io crate `eigen-utils`
//! 2.0.0 ships (the v1.3 slashing release, compiled by EigenLayer with solc 0.8.27) into
//! `contracts/test/eigenlayer/`, so that the forge tests run against the same real core as the
//! Rust devnet. Fails when the committed files differ from the crate;
//! `KEEPER_UPDATE_VECTORS=1 cargo test -p keeperd --test eigenlayer_bytecode` rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;

use eigen_utils::slashing::core::{
    allocation_manager::AllocationManager, avs_directory::AVSDirectory, delegation_manager::DelegationManager,
    eigen_pod::EigenPod, eigen_pod_manager::EigenPodManager, permission_controller::PermissionController,
    strategy_manager::StrategyManager,
};

#[test]
fn eigenlayer_bytecode_files_match_the_crate() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/test/eigenlayer");
    let contracts: [(&str, &[u8]); 7] = [
        ("PermissionController", &PermissionController::BYTECODE),
        ("DelegationManager", &DelegationManager::BYTECODE),
        ("StrategyManager", &StrategyManager::BYTECODE),
        ("AllocationManager", &AllocationManager::BYTECODE),
        ("AVSDirectory", &AVSDirectory::BYTECODE),
        ("EigenPodManager", &EigenPodManager::BYTECODE),
        ("EigenPod", &EigenPod::BYTECODE),
    ];
    let update = std::env::var_os("KEEPER_UPDATE_VECTORS").is_some();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, bytecode) in contracts {
        let text = format!(
            "{{\n  \"source\": \"crates.io eigen-utils 2.0.0, eigen_utils::slashing::core\",\n  \"bytecode\": \"0x{}\"\n}}\n",
            hex::encode(bytecode)
        );
        let path = dir.join(format!("{name}.json"));
        if update {
            std::fs::write(&path, text).unwrap();
        } else {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(committed == text, "{} is stale: run `make vectors` and commit", path.display());
        }
    }
}
