// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IStrategy
/// @notice EigenLayer's strategy interface: a vault holding one underlying token, whose shares the StrategyManager
/// credits to stakers. Written from the v1.3 ABI, with what later cores call on a strategy: `withdraw` returns the
/// amount sent (v1.5+, decoded by `StrategyManager.clearBurnOrRedistributableShares`), and the share hooks
/// `beforeAddShares`/`beforeRemoveShares` (v1.11+; EigenLayer's `IStrategy.sol`, present at tag v1.12.0, absent at
/// v1.9.0). A v1.3 core ignores the return value and never calls the hooks.
interface IStrategy {
    /// @notice Emitted on every deposit and withdrawal with the underlying value of 1e18 shares.
    event ExchangeRateEmitted(uint256 rate);
    /// @notice Emitted once, when the strategy's token is fixed.
    event StrategyTokenSet(IERC20 token, uint8 decimals);

    /// @notice Credits shares for `amount` of `token` already transferred to the strategy.
    /// @dev Only the StrategyManager.
    /// @param token The underlying token.
    /// @param amount The amount transferred in.
    /// @return newShares The shares minted.
    function deposit(IERC20 token, uint256 amount) external returns (uint256 newShares);

    /// @notice Burns `amountShares` and sends their underlying value to `recipient`.
    /// @dev Only the StrategyManager.
    /// @param recipient Who receives the tokens.
    /// @param token The underlying token.
    /// @param amountShares The shares to redeem.
    /// @return amountOut The underlying amount sent.
    function withdraw(address recipient, IERC20 token, uint256 amountShares) external returns (uint256 amountOut);

    /// @notice Called by the StrategyManager (v1.11+) before it credits `shares` to `staker` (a deposit, or a
    /// withdrawal completed as shares); a strategy may refuse by reverting.
    /// @dev Only the StrategyManager.
    /// @param staker Who receives the shares.
    /// @param shares The shares added.
    function beforeAddShares(address staker, uint256 shares) external;

    /// @notice Called by the StrategyManager (v1.11+) before it removes `shares` of `staker`'s deposit shares (a
    /// queued withdrawal); a strategy may refuse by reverting.
    /// @dev Only the StrategyManager.
    /// @param staker Who loses the shares.
    /// @param shares The shares removed.
    function beforeRemoveShares(address staker, uint256 shares) external;

    /// @notice The underlying value of `amountShares`; may modify state in some strategies.
    /// @param amountShares A share amount.
    /// @return The underlying amount.
    function sharesToUnderlying(uint256 amountShares) external returns (uint256);

    /// @notice The shares that `amountUnderlying` would mint; may modify state in some strategies.
    /// @param amountUnderlying An underlying amount.
    /// @return The share amount.
    function underlyingToShares(uint256 amountUnderlying) external returns (uint256);

    /// @notice The underlying value of a staker's deposit shares; may modify state in some strategies.
    /// @param user The staker.
    /// @return The underlying amount.
    function userUnderlying(address user) external returns (uint256);

    /// @notice A human-readable description of the strategy.
    /// @return The description.
    function explanation() external view returns (string memory);

    /// @notice A staker's deposit shares in this strategy (as recorded by the StrategyManager).
    /// @param user The staker.
    /// @return The shares.
    function shares(address user) external view returns (uint256);

    /// @notice View form of `sharesToUnderlying`.
    /// @param amountShares A share amount.
    /// @return The underlying amount.
    function sharesToUnderlyingView(uint256 amountShares) external view returns (uint256);

    /// @notice View form of `underlyingToShares`.
    /// @param amountUnderlying An underlying amount.
    /// @return The share amount.
    function underlyingToSharesView(uint256 amountUnderlying) external view returns (uint256);

    /// @notice View form of `userUnderlying`.
    /// @param user The staker.
    /// @return The underlying amount.
    function userUnderlyingView(address user) external view returns (uint256);

    /// @notice The token this strategy holds.
    /// @return The token.
    function underlyingToken() external view returns (IERC20);

    /// @notice All shares outstanding.
    /// @return The total.
    function totalShares() external view returns (uint256);

    /// @notice The strategy's version string.
    /// @return The version.
    function version() external view returns (string memory);
}
