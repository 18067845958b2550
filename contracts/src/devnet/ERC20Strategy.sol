// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IStrategy} from "../interfaces/IStrategy.sol";
import {IStrategyManager} from "../interfaces/IStrategyManager.sol";

/// @title ERC20Strategy
/// @notice An EigenLayer strategy for one ERC20, for devnets (EigenLayer's own StrategyBase is not shipped as
/// bytecode). Only the StrategyManager moves funds; it transfers tokens in before calling `deposit`.
/// @dev Shares are priced against the token balance with a virtual offset: both the share supply and the balance
/// count an extra `VIRTUAL_OFFSET`. The first depositor gets shares 1:1, and an attacker who donates tokens to
/// inflate the share price loses most of the donation to the virtual shares, so small later deposits cannot be
/// rounded down to zero shares for profit. Rounding always favours the strategy (down on both mint and redeem).
/// Valid on every core from v1.3 on: `withdraw` returns the amount sent (decoded by v1.5+ when clearing slashed
/// shares), and the v1.11+ share hooks accept every staker.
contract ERC20Strategy is IStrategy {
    using SafeERC20 for IERC20;

    /// @notice Virtual shares and virtual tokens added to both sides of every conversion.
    uint256 public constant VIRTUAL_OFFSET = 1e3;

    /// @notice Upper bound on total shares, so share arithmetic (shares x balance) cannot overflow.
    uint256 public constant MAX_TOTAL_SHARES = 1e38 - 1;

    /// @notice The StrategyManager, the only caller of `deposit` and `withdraw`.
    IStrategyManager public immutable strategyManager;

    /// @inheritdoc IStrategy
    IERC20 public immutable underlyingToken;

    /// @inheritdoc IStrategy
    uint256 public totalShares;

    /// @notice Emitted on every deposit.
    event Deposited(uint256 amount, uint256 newShares);
    /// @notice Emitted on every withdrawal (including burns of slashed shares).
    event Withdrawn(address indexed recipient, uint256 amountShares, uint256 amount);

    /// @notice The caller is not the StrategyManager.
    error OnlyStrategyManager();
    /// @notice The token is not this strategy's underlying token.
    error OnlyUnderlyingToken();
    /// @notice A deposit so small it would mint no shares.
    error NewSharesZero();
    /// @notice The deposit would take total shares above `MAX_TOTAL_SHARES`.
    error TotalSharesExceedsMax();
    /// @notice More shares were asked for than exist.
    error WithdrawalAmountExceedsTotalDeposits();
    /// @notice The zero address was given where a contract is needed.
    error InputAddressZero();

    modifier onlyStrategyManager() {
        if (msg.sender != address(strategyManager)) revert OnlyStrategyManager();
        _;
    }

    /// @param strategyManager_ The EigenLayer StrategyManager (its proxy).
    /// @param token The underlying token; must implement `decimals()`.
    constructor(IStrategyManager strategyManager_, IERC20Metadata token) {
        if (address(strategyManager_) == address(0) || address(token) == address(0)) revert InputAddressZero();
        strategyManager = strategyManager_;
        underlyingToken = token;
        emit StrategyTokenSet(token, token.decimals());
    }

    /// @inheritdoc IStrategy
    /// @dev The StrategyManager has already transferred `amount` in, so the price uses the balance before it.
    function deposit(IERC20 token, uint256 amount) external onlyStrategyManager returns (uint256 newShares) {
        if (token != underlyingToken) revert OnlyUnderlyingToken();
        uint256 virtualBalance = underlyingToken.balanceOf(address(this)) + VIRTUAL_OFFSET;
        uint256 priorTotalShares = totalShares;
        newShares = (amount * (priorTotalShares + VIRTUAL_OFFSET)) / (virtualBalance - amount);
        if (newShares == 0) revert NewSharesZero();
        uint256 newTotalShares = priorTotalShares + newShares;
        if (newTotalShares > MAX_TOTAL_SHARES) revert TotalSharesExceedsMax();
        totalShares = newTotalShares;
        emit Deposited(amount, newShares);
        emit ExchangeRateEmitted((1e18 * virtualBalance) / (newTotalShares + VIRTUAL_OFFSET));
    }

    /// @inheritdoc IStrategy
    function withdraw(address recipient, IERC20 token, uint256 amountShares)
        external
        onlyStrategyManager
        returns (uint256 amount)
    {
        if (token != underlyingToken) revert OnlyUnderlyingToken();
        uint256 priorTotalShares = totalShares;
        if (amountShares > priorTotalShares) revert WithdrawalAmountExceedsTotalDeposits();
        uint256 virtualBalance = underlyingToken.balanceOf(address(this)) + VIRTUAL_OFFSET;
        amount = (virtualBalance * amountShares) / (priorTotalShares + VIRTUAL_OFFSET);
        uint256 newTotalShares = priorTotalShares - amountShares;
        totalShares = newTotalShares;
        emit Withdrawn(recipient, amountShares, amount);
        emit ExchangeRateEmitted((1e18 * (virtualBalance - amount)) / (newTotalShares + VIRTUAL_OFFSET));
        underlyingToken.safeTransfer(recipient, amount);
    }

    /// @inheritdoc IStrategy
    /// @dev No limit on who may hold shares: nothing to check.
    function beforeAddShares(address, uint256) external view onlyStrategyManager {}

    /// @inheritdoc IStrategy
    /// @dev No lock on shares: nothing to check.
    function beforeRemoveShares(address, uint256) external view onlyStrategyManager {}

    /// @inheritdoc IStrategy
    function sharesToUnderlying(uint256 amountShares) external view returns (uint256) {
        return sharesToUnderlyingView(amountShares);
    }

    /// @inheritdoc IStrategy
    function underlyingToShares(uint256 amountUnderlying) external view returns (uint256) {
        return underlyingToSharesView(amountUnderlying);
    }

    /// @inheritdoc IStrategy
    function userUnderlying(address user) external view returns (uint256) {
        return userUnderlyingView(user);
    }

    /// @inheritdoc IStrategy
    function explanation() external pure returns (string memory) {
        return "Holds one ERC20; shares priced against the balance with a virtual offset of 1e3 shares and tokens.";
    }

    /// @inheritdoc IStrategy
    function version() external pure returns (string memory) {
        return "v1.3.0";
    }

    /// @inheritdoc IStrategy
    function shares(address user) public view returns (uint256) {
        return strategyManager.stakerDepositShares(user, this);
    }

    /// @inheritdoc IStrategy
    function sharesToUnderlyingView(uint256 amountShares) public view returns (uint256) {
        return
            ((underlyingToken.balanceOf(address(this)) + VIRTUAL_OFFSET) * amountShares)
                / (totalShares + VIRTUAL_OFFSET);
    }

    /// @inheritdoc IStrategy
    function underlyingToSharesView(uint256 amountUnderlying) public view returns (uint256) {
        return (amountUnderlying * (totalShares + VIRTUAL_OFFSET))
            / (underlyingToken.balanceOf(address(this)) + VIRTUAL_OFFSET);
    }

    /// @inheritdoc IStrategy
    function userUnderlyingView(address user) public view returns (uint256) {
        return sharesToUnderlyingView(shares(user));
    }
}
