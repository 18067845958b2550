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

alloy::sol! {
    /// Errors the AllocationManager of newer cores adds to the v1.3 ABI above, that the daemon's calls
    /// can meet (registration, allocation, the AVS set-up at deploy, and a slash passed on by the task
    /// manager). Facts from EigenLayer's `src/contracts/interfaces/IAllocationManager.sol` (tags
    /// v1.5.0 to v1.12.0, commit f84a5151); selectors by `cast sig`.
    #[derive(Debug)]
    interface AllocationManagerSinceV15 {
        /// v1.5+, 0x4e236e9a: a strategy a set may not hold (the beacon chain or EIGEN strategy in a
        /// redistributing set).
        error InvalidStrategy();
        /// v1.5+, 0xc97c347e: a redistributing set's recipient is zero or the burn address.
        error InvalidRedistributionRecipient();
        /// v1.9+, 0x25c0ba74: the set's slasher was migrated already.
        error OperatorSetAlreadyMigrated();
        /// v1.9+, 0x255b0f41: the set has no slasher (a set created before v1.9 and not migrated):
        /// nobody can slash in it.
        error SlasherNotSet();
    }

    /// Errors the StrategyManager and its slashing arithmetic add in newer cores, that a deposit or a
    /// slash can meet. Facts from EigenLayer's `IStrategyManager.sol` and `libraries/SlashingLib.sol`
    /// (tags v1.5.0 to v1.12.0); selectors by `cast sig`.
    #[derive(Debug)]
    interface StrategyManagerSinceV15 {
        /// v1.5+, 0xca354fa3: a strategy appears twice in one slash's shares to clear.
        error StrategyAlreadyInSlash();
        /// v1.5+, 0xb9676398 (SlashingLib): a deposit to an operator slashed to zero magnitude.
        error InvalidDepositScalingFactor();
    }
}

#[cfg(test)]
mod tests {
    use alloy::sol_types::SolError;

    use super::{AllocationManagerSinceV15 as Am, StrategyManagerSinceV15 as Sm};

    /// The selectors named in the docs above are the ones `sol!` derives from the signatures.
    #[test]
    fn newer_core_error_selectors_match_the_sources() {
        let selectors = [
            (Am::InvalidStrategy::SELECTOR, "4e236e9a"),
            (Am::InvalidRedistributionRecipient::SELECTOR, "c97c347e"),
            (Am::OperatorSetAlreadyMigrated::SELECTOR, "25c0ba74"),
            (Am::SlasherNotSet::SELECTOR, "255b0f41"),
            (Sm::StrategyAlreadyInSlash::SELECTOR, "ca354fa3"),
            (Sm::InvalidDepositScalingFactor::SELECTOR, "b9676398"),
        ];
        for (selector, hex) in selectors {
            assert_eq!(alloy::hex::encode(selector), hex);
        }
    }
}
