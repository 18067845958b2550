// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {ERC20Strategy} from "../../src/devnet/ERC20Strategy.sol";
import {StakeToken} from "../../src/devnet/StakeToken.sol";
import {IStrategyManager} from "../../src/interfaces/IStrategyManager.sol";
import {EigenLayerFixture} from "../utils/EigenLayerFixture.sol";

/// @dev Unit tests drive the strategy with a pranked StrategyManager (the real one, deployed by the fixture),
/// integration tests go through EigenLayer's StrategyManager.
contract ERC20StrategyTest is EigenLayerFixture {
    address internal staker = makeAddr("staker");
    address internal stranger = makeAddr("stranger");
    uint256 internal constant OFFSET = 1e3;

    event StrategyTokenSet(IERC20 token, uint8 decimals);
    event ExchangeRateEmitted(uint256 rate);
    event Deposited(uint256 amount, uint256 newShares);
    event Withdrawn(address indexed recipient, uint256 amountShares, uint256 amount);

    function setUp() public {
        _deployCore();
        _deployAvs(MINIMUM_STAKE);
    }

    function test_constructor() public {
        assertEq(address(strategy.strategyManager()), address(strategyManager));
        assertEq(address(strategy.underlyingToken()), address(stakeToken));
        assertEq(strategy.totalShares(), 0);
        assertEq(strategy.version(), "v1.3.0");
        assertGt(bytes(strategy.explanation()).length, 0);
        vm.expectEmit();
        emit StrategyTokenSet(stakeToken, 18);
        new ERC20Strategy(strategyManager, stakeToken);
    }

    function test_constructor_revertsOnZero() public {
        vm.expectRevert(ERC20Strategy.InputAddressZero.selector);
        new ERC20Strategy(IStrategyManager(address(0)), stakeToken);
        vm.expectRevert(ERC20Strategy.InputAddressZero.selector);
        new ERC20Strategy(strategyManager, IERC20Metadata(address(0)));
    }

    function test_depositAndWithdraw_throughStrategyManager() public {
        _deposit(staker, 100e18);
        assertEq(strategy.totalShares(), 100e18);
        assertEq(strategy.shares(staker), 100e18);
        assertEq(strategy.userUnderlyingView(staker), 100e18);
        assertEq(strategy.userUnderlying(staker), 100e18);
        assertEq(strategyManager.stakerDepositShares(staker, strategy), 100e18);
        assertEq(stakeToken.balanceOf(address(strategy)), 100e18);
    }

    function test_deposit_firstIsOneToOneThenProRata() public {
        _directDeposit(1000);
        assertEq(strategy.totalShares(), 1000);
        // A donation doubles the balance: later shares are priced against the virtual balance.
        vm.prank(avsOwner);
        stakeToken.mint(address(strategy), 1000);
        uint256 expected = (500 * (1000 + OFFSET)) / (2000 + OFFSET);
        assertEq(strategy.underlyingToSharesView(500), expected);
        assertEq(strategy.underlyingToShares(500), expected);
        uint256 minted = _directDeposit(500);
        assertEq(minted, expected);
    }

    function test_deposit_inflationAttackLosesToVirtualShares() public {
        // Attacker deposits 1 wei then donates a lot; a victim's deposit still mints shares, and the attacker
        // cannot redeem more than it put in.
        _directDeposit(1);
        vm.prank(avsOwner);
        stakeToken.mint(address(strategy), 1e18);
        uint256 victimShares = _directDeposit(1e18);
        assertGt(victimShares, 0);
        assertLt(strategy.sharesToUnderlyingView(1), 1e18);
    }

    function test_deposit_emitsEvents() public {
        vm.prank(avsOwner);
        stakeToken.mint(address(strategy), 100);
        vm.expectEmit(address(strategy));
        emit Deposited(100, 100);
        vm.expectEmit(address(strategy));
        emit ExchangeRateEmitted(1e18);
        vm.prank(address(strategyManager));
        strategy.deposit(stakeToken, 100);
    }

    function test_deposit_reverts() public {
        vm.expectRevert(ERC20Strategy.OnlyStrategyManager.selector);
        vm.prank(stranger);
        strategy.deposit(stakeToken, 1);

        StakeToken other = new StakeToken("Other", "OTH", avsOwner);
        vm.startPrank(address(strategyManager));
        vm.expectRevert(ERC20Strategy.OnlyUnderlyingToken.selector);
        strategy.deposit(other, 1);
        vm.expectRevert(ERC20Strategy.NewSharesZero.selector);
        strategy.deposit(stakeToken, 0);
        vm.stopPrank();
    }

    function test_deposit_revertsAboveMaxTotalShares() public {
        uint256 amount = strategy.MAX_TOTAL_SHARES() + 1;
        vm.prank(avsOwner);
        stakeToken.mint(address(strategy), amount);
        vm.expectRevert(ERC20Strategy.TotalSharesExceedsMax.selector);
        vm.prank(address(strategyManager));
        strategy.deposit(stakeToken, amount);
    }

    function test_withdraw() public {
        _directDeposit(1000e18);
        vm.expectEmit(address(strategy));
        emit Withdrawn(stranger, 400e18, 400e18);
        vm.prank(address(strategyManager));
        // Cores from v1.5 decode the amount sent.
        assertEq(strategy.withdraw(stranger, stakeToken, 400e18), 400e18);
        assertEq(stakeToken.balanceOf(stranger), 400e18);
        assertEq(strategy.totalShares(), 600e18);
        assertEq(strategy.sharesToUnderlyingView(600e18), 600e18);
        assertEq(strategy.sharesToUnderlying(600e18), 600e18);
    }

    /// The v1.11+ share hooks accept every staker, and only from the StrategyManager.
    function test_shareHooks_onlyStrategyManager() public {
        vm.startPrank(address(strategyManager));
        strategy.beforeAddShares(stranger, 1e18);
        strategy.beforeRemoveShares(stranger, 1e18);
        vm.stopPrank();
        vm.expectRevert(ERC20Strategy.OnlyStrategyManager.selector);
        vm.prank(stranger);
        strategy.beforeAddShares(stranger, 1e18);
        vm.expectRevert(ERC20Strategy.OnlyStrategyManager.selector);
        vm.prank(stranger);
        strategy.beforeRemoveShares(stranger, 1e18);
    }

    function test_withdraw_reverts() public {
        _directDeposit(1000);
        vm.expectRevert(ERC20Strategy.OnlyStrategyManager.selector);
        vm.prank(stranger);
        strategy.withdraw(stranger, stakeToken, 1);

        StakeToken other = new StakeToken("Other", "OTH", avsOwner);
        vm.startPrank(address(strategyManager));
        vm.expectRevert(ERC20Strategy.OnlyUnderlyingToken.selector);
        strategy.withdraw(stranger, other, 1);
        vm.expectRevert(ERC20Strategy.WithdrawalAmountExceedsTotalDeposits.selector);
        strategy.withdraw(stranger, stakeToken, 1001);
        vm.stopPrank();
    }

    /// Depositing then withdrawing never returns more than was put in, whatever the prior state.
    function testFuzz_roundTripNeverProfits(uint96 seedDeposit, uint96 donation, uint96 amount) public {
        vm.assume(amount > 0);
        if (seedDeposit > 0) _directDeposit(seedDeposit);
        vm.prank(avsOwner);
        stakeToken.mint(address(strategy), donation);
        if (strategy.underlyingToSharesView(amount) == 0) return;
        uint256 minted = _directDeposit(amount);
        uint256 before = stakeToken.balanceOf(stranger);
        vm.prank(address(strategyManager));
        strategy.withdraw(stranger, stakeToken, minted);
        assertLe(stakeToken.balanceOf(stranger) - before, amount);
    }

    /// As the StrategyManager does: transfer in, then call deposit.
    function _directDeposit(uint256 amount) internal returns (uint256 minted) {
        vm.prank(avsOwner);
        stakeToken.mint(address(strategy), amount);
        vm.prank(address(strategyManager));
        minted = strategy.deposit(stakeToken, amount);
    }
}
