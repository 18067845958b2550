// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IStrategy} from "./IStrategy.sol";

/// @title IDelegationManager
/// @notice The subset of EigenLayer's DelegationManager (core v1.3) used by devnet tooling and tests: operator
/// registration, operator shares and the withdrawal delay. Written from the v1.3 ABI.
interface IDelegationManager {
    /// @notice Registers the caller as an operator (delegated to itself).
    /// @param initDelegationApprover Who must approve delegations to it (zero for none).
    /// @param allocationDelay Blocks before its allocations take effect.
    /// @param metadataURI The operator's metadata URI.
    function registerAsOperator(address initDelegationApprover, uint32 allocationDelay, string calldata metadataURI)
        external;

    /// @notice Whether `operator` is registered as an operator.
    /// @param operator The address.
    /// @return True if an operator.
    function isOperator(address operator) external view returns (bool);

    /// @notice The shares delegated to `operator` in each strategy.
    /// @param operator The operator.
    /// @param strategies The strategies.
    /// @return The shares.
    function getOperatorShares(address operator, IStrategy[] calldata strategies)
        external
        view
        returns (uint256[] memory);

    /// @notice The StrategyManager whose deposit shares this DelegationManager delegates (v1.3 and later).
    /// @return The StrategyManager (its proxy).
    function strategyManager() external view returns (address);

    /// @notice Blocks a queued withdrawal waits; its shares stay slashable meanwhile.
    /// @return The delay.
    function minWithdrawalDelayBlocks() external view returns (uint32);
}
