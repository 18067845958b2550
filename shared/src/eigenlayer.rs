//! Rust bindings of EigenLayer's core contracts (the v1.3 slashing release the devnet deploys), generated
//! by `alloy::sol!` from `contracts/test/eigenlayer/<Name>.json`: the creation bytecode the crates.io crate
//! `eigen-utils` 2.0.0 publishes and the JSON ABI its bindings were generated from (facts, with their
//! source named in each file; `cargo test -p keeperd --features eigen-utils --test eigenlayer_bytecode`
//! checks both against the crate). The forge fixture deploys the same files, so the Rust devnet and the
//! contract tests run the same core, and neither keeperd nor its tests need the crate (nor the AWS SDK
//! it brings).
//!
//! One module per contract, as in `eigen_utils::slashing::core`: several ABIs name the same library
//! structs (`OperatorSet`, `IAllocationManagerTypes`), which `sol!` would otherwise define twice.

#![allow(clippy::too_many_arguments)]

macro_rules! core_contract {
    ($($module:ident => $name:ident, $artifact:literal $(, uses $($used:ident)::+)?;)*) => {
        $(
            pub mod $module {
                // The ABI's library structs name structs `sol!` puts in the contract's module.
                $(use $($used)::+;)?
                alloy::sol!(
                    #[sol(rpc)]
                    #[derive(Debug)]
                    $name,
                    $artifact
                );
            }
        )*
    };
}

core_contract! {
    permission_controller => PermissionController, "../contracts/test/eigenlayer/PermissionController.json";
    delegation_manager => DelegationManager, "../contracts/test/eigenlayer/DelegationManager.json";
    strategy_manager => StrategyManager, "../contracts/test/eigenlayer/StrategyManager.json";
    allocation_manager => AllocationManager, "../contracts/test/eigenlayer/AllocationManager.json", uses self::AllocationManager::OperatorSet;
    avs_directory => AVSDirectory, "../contracts/test/eigenlayer/AVSDirectory.json";
    eigen_pod_manager => EigenPodManager, "../contracts/test/eigenlayer/EigenPodManager.json";
    eigen_pod => EigenPod, "../contracts/test/eigenlayer/EigenPod.json";
}

alloy::sol! {
    /// The ERC-20 functions staking needs (EIP-20).
    #[sol(rpc)]
    #[derive(Debug)]
    interface IERC20 {
        function approve(address spender, uint256 amount) external returns (bool);
        function allowance(address owner, address spender) external view returns (uint256);
        function balanceOf(address account) external view returns (uint256);
        function transfer(address to, uint256 amount) external returns (bool);
    }
}
