// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IStrategy} from "./IStrategy.sol";
import {OperatorSet} from "./IAllocationManager.sol";

/// @title IStrategyManager
/// @notice The subset of EigenLayer's StrategyManager used by strategies, the service manager, devnet tooling and
/// tests. Written from the v1.3 ABI, plus `clearBurnOrRedistributableShares` (v1.5 and later, EigenLayer's
/// `IStrategyManager.sol`), which replaces `burnShares` for slashes made on those cores.
interface IStrategyManager {
    /// @notice Transfers `amount` of `token` from the caller into `strategy` and credits the shares minted.
    /// @param strategy A whitelisted strategy.
    /// @param token Its underlying token.
    /// @param amount The amount.
    /// @return depositShares The shares credited.
    function depositIntoStrategy(IStrategy strategy, IERC20 token, uint256 amount)
        external
        returns (uint256 depositShares);

    /// @notice Allows deposits into strategies; only the strategy whitelister.
    /// @param strategiesToWhitelist The strategies.
    function addStrategiesToDepositWhitelist(IStrategy[] calldata strategiesToWhitelist) external;

    /// @notice Names who may whitelist strategies; only the owner.
    /// @param newStrategyWhitelister The new whitelister (a strategy factory, on a devnet).
    function setStrategyWhitelister(address newStrategyWhitelister) external;

    /// @notice Sends a strategy's slashed shares' tokens to the burn address (permissionless).
    /// @param strategy The strategy.
    function burnShares(IStrategy strategy) external;

    /// @notice Sends the tokens of the shares slashed by `slashId` in `operatorSet` to the set's burn (or
    /// redistribution) address, for every strategy slashed (permissionless). Core v1.5 and later only.
    /// @param operatorSet The operator set that slashed.
    /// @param slashId The slash's id, as `AllocationManager.slashOperator` returned it.
    /// @return The amounts of tokens sent, per strategy.
    function clearBurnOrRedistributableShares(OperatorSet calldata operatorSet, uint256 slashId)
        external
        returns (uint256[] memory);

    /// @notice Shares slashed in `strategy` and not yet burnt.
    /// @param strategy The strategy.
    /// @return The shares.
    function getBurnableShares(IStrategy strategy) external view returns (uint256);

    /// @notice A staker's deposit shares in a strategy.
    /// @param staker The staker.
    /// @param strategy The strategy.
    /// @return shares The shares.
    function stakerDepositShares(address staker, IStrategy strategy) external view returns (uint256 shares);

    /// @notice Whether deposits into `strategy` are allowed.
    /// @param strategy The strategy.
    /// @return whitelisted True if allowed.
    function strategyIsWhitelistedForDeposit(IStrategy strategy) external view returns (bool whitelisted);

    /// @notice Where burnt tokens go.
    /// @return The burn address.
    function DEFAULT_BURN_ADDRESS() external view returns (address);
}
