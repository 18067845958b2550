// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {
    ForwarderAllowList,
    SampleCounter,
    SimulationOnly,
    SampleLiquidationBook,
    SampleVault,
    SampleVaultResolver,
    SampleOracle,
    SamplePriceMirror
} from "../../src/devnet/SampleTargets.sol";

contract SampleTargetsTest is Test {
    address internal owner = makeAddr("owner");
    address internal forwarder = makeAddr("forwarder");
    address internal other = makeAddr("other");

    // ---------------------------------------------------------------------------------------------------------
    // Allow-list (through the counter)
    // ---------------------------------------------------------------------------------------------------------

    event ForwarderSet(address indexed forwarder, bool allowed);
    event Incremented(address indexed forwarder, uint256 count);

    function _counter() internal returns (SampleCounter c) {
        c = new SampleCounter(owner);
        vm.prank(owner);
        c.setForwarder(forwarder, true);
    }

    function test_setForwarder_allowsAndDisallows() public {
        SampleCounter c = new SampleCounter(owner);
        assertEq(c.owner(), owner);
        assertFalse(c.isForwarder(forwarder));
        vm.expectEmit(address(c));
        emit ForwarderSet(forwarder, true);
        vm.prank(owner);
        c.setForwarder(forwarder, true);
        assertTrue(c.isForwarder(forwarder));
        vm.expectEmit(address(c));
        emit ForwarderSet(forwarder, false);
        vm.prank(owner);
        c.setForwarder(forwarder, false);
        assertFalse(c.isForwarder(forwarder));
    }

    function test_setForwarder_revertsForNonOwner() public {
        SampleCounter c = new SampleCounter(owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, other));
        vm.prank(other);
        c.setForwarder(forwarder, true);
    }

    function test_setForwarder_revertsForZero() public {
        SampleCounter c = new SampleCounter(owner);
        vm.expectRevert(ForwarderAllowList.ForwarderAddressZero.selector);
        vm.prank(owner);
        c.setForwarder(address(0), true);
    }

    function test_increment_countsPerForwarder() public {
        SampleCounter c = _counter();
        address second = makeAddr("second");
        vm.prank(owner);
        c.setForwarder(second, true);
        vm.expectEmit(address(c));
        emit Incremented(forwarder, 1);
        vm.prank(forwarder);
        c.increment();
        vm.prank(second);
        c.increment();
        vm.prank(second);
        c.increment();
        assertEq(c.count(), 3);
        assertEq(c.countOf(forwarder), 1);
        assertEq(c.countOf(second), 2);
    }

    function test_increment_revertsForOthers() public {
        SampleCounter c = _counter();
        vm.expectRevert(abi.encodeWithSelector(ForwarderAllowList.ForwarderNotAllowed.selector, other));
        vm.prank(other);
        c.increment();
        // The owner is not a forwarder either.
        vm.expectRevert(abi.encodeWithSelector(ForwarderAllowList.ForwarderNotAllowed.selector, owner));
        vm.prank(owner);
        c.increment();
        // A disallowed forwarder is refused again.
        vm.prank(owner);
        c.setForwarder(forwarder, false);
        vm.expectRevert(abi.encodeWithSelector(ForwarderAllowList.ForwarderNotAllowed.selector, forwarder));
        vm.prank(forwarder);
        c.increment();
        assertEq(c.count(), 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Chainlink-style liquidation book
    // ---------------------------------------------------------------------------------------------------------

    event PriceSet(uint256 price);
    event PositionOpened(uint256 indexed positionId, uint128 collateral, uint128 debt);
    event Liquidated(uint256 indexed positionId, uint256 price, address indexed forwarder);

    /// Price 2.0: position 0 (10 collateral, 15 debt) is safe (20 >= 15), position 1 (10, 25) is under water.
    function _book() internal returns (SampleLiquidationBook b) {
        b = new SampleLiquidationBook(owner, 2e18);
        vm.startPrank(owner);
        b.setForwarder(forwarder, true);
        b.openPosition(10, 15);
        b.openPosition(10, 25);
        vm.stopPrank();
    }

    /// `checkUpkeep` as keepers simulate it: an eth_call from the zero address.
    function _check(SampleLiquidationBook b, bytes memory checkData) internal returns (bool, bytes memory) {
        vm.prank(address(0), address(0));
        return b.checkUpkeep(checkData);
    }

    function test_book_constructorAndOwnerFunctions() public {
        vm.expectEmit();
        emit PriceSet(3e18);
        SampleLiquidationBook b = new SampleLiquidationBook(owner, 3e18);
        assertEq(b.price(), 3e18);
        vm.expectEmit(address(b));
        emit PriceSet(1e18);
        vm.prank(owner);
        b.setPrice(1e18);
        assertEq(b.price(), 1e18);
        vm.expectEmit(address(b));
        emit PositionOpened(0, 7, 8);
        vm.prank(owner);
        assertEq(b.openPosition(7, 8), 0);
        assertEq(b.positionCount(), 1);
        SampleLiquidationBook.Position memory p = b.position(0);
        assertEq(p.collateral, 7);
        assertEq(p.debt, 8);
        assertFalse(p.liquidated);
    }

    function test_book_ownerFunctions_revertForOthers() public {
        SampleLiquidationBook b = _book();
        vm.startPrank(other);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, other));
        b.setPrice(1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, other));
        b.openPosition(1, 1);
        vm.stopPrank();
    }

    function test_openPosition_revertsWhenEmpty() public {
        SampleLiquidationBook b = _book();
        vm.startPrank(owner);
        vm.expectRevert(SampleLiquidationBook.EmptyPosition.selector);
        b.openPosition(0, 1);
        vm.expectRevert(SampleLiquidationBook.EmptyPosition.selector);
        b.openPosition(1, 0);
        vm.stopPrank();
    }

    function test_views_revertForUnknownPosition() public {
        SampleLiquidationBook b = _book();
        vm.expectRevert(abi.encodeWithSelector(SampleLiquidationBook.UnknownPosition.selector, 2));
        b.position(2);
        vm.expectRevert(abi.encodeWithSelector(SampleLiquidationBook.UnknownPosition.selector, 2));
        b.isUnderwater(2);
    }

    function test_isUnderwater_followsPrice() public {
        SampleLiquidationBook b = _book();
        assertFalse(b.isUnderwater(0));
        assertTrue(b.isUnderwater(1));
        vm.prank(owner);
        b.setPrice(3e18); // 30 >= 25
        assertFalse(b.isUnderwater(1));
        vm.prank(owner);
        b.setPrice(1.4e18); // 14 < 15
        assertTrue(b.isUnderwater(0));
    }

    function test_checkUpkeep_findsFirstUnderwater() public {
        SampleLiquidationBook b = _book();
        (bool needed, bytes memory performData) = _check(b, "");
        assertTrue(needed);
        assertEq(abi.decode(performData, (uint256)), 1);
        // A range that excludes position 1.
        (needed, performData) = _check(b, abi.encode(uint256(0), uint256(1)));
        assertFalse(needed);
        assertEq(performData.length, 0);
        // A range beyond the book is clamped.
        (needed, performData) = _check(b, abi.encode(uint256(1), uint256(100)));
        assertTrue(needed);
        assertEq(abi.decode(performData, (uint256)), 1);
        // Nothing under water at a high price.
        vm.prank(owner);
        b.setPrice(10e18);
        (needed,) = _check(b, "");
        assertFalse(needed);
    }

    function test_checkUpkeep_revertsOutsideSimulation() public {
        SampleLiquidationBook b = _book();
        vm.expectRevert(SimulationOnly.OnlySimulatedBackend.selector);
        vm.prank(other, other);
        b.checkUpkeep("");
        // The sender does not matter, only the origin.
        vm.expectRevert(SimulationOnly.OnlySimulatedBackend.selector);
        vm.prank(address(0), other);
        b.checkUpkeep("");
    }

    function test_checkUpkeep_revertsOnBadRange() public {
        SampleLiquidationBook b = _book();
        vm.expectRevert(abi.encodeWithSelector(SampleLiquidationBook.InvalidRange.selector, 2, 1));
        _check(b, abi.encode(uint256(2), uint256(1)));
        // checkData that is not two words does not decode.
        vm.expectRevert();
        _check(b, hex"01");
    }

    function test_performUpkeep_liquidatesOnce() public {
        SampleLiquidationBook b = _book();
        (, bytes memory performData) = _check(b, "");
        vm.expectEmit(address(b));
        emit Liquidated(1, 2e18, forwarder);
        vm.prank(forwarder);
        b.performUpkeep(performData);
        assertTrue(b.position(1).liquidated);
        assertEq(b.liquidations(), 1);
        assertFalse(b.isUnderwater(1));
        // Re-checked: a second perform with the same data is refused.
        vm.expectRevert(abi.encodeWithSelector(SampleLiquidationBook.NotUnderwater.selector, 1));
        vm.prank(forwarder);
        b.performUpkeep(performData);
        // And the check now finds nothing.
        (bool needed,) = _check(b, "");
        assertFalse(needed);
    }

    function test_performUpkeep_revertsForOthers() public {
        SampleLiquidationBook b = _book();
        vm.expectRevert(abi.encodeWithSelector(ForwarderAllowList.ForwarderNotAllowed.selector, other));
        vm.prank(other);
        b.performUpkeep(abi.encode(uint256(1)));
    }

    function test_performUpkeep_revertsWhenNotUnderwater() public {
        SampleLiquidationBook b = _book();
        vm.expectRevert(abi.encodeWithSelector(SampleLiquidationBook.NotUnderwater.selector, 0));
        vm.prank(forwarder);
        b.performUpkeep(abi.encode(uint256(0)));
        vm.expectRevert(abi.encodeWithSelector(SampleLiquidationBook.UnknownPosition.selector, 9));
        vm.prank(forwarder);
        b.performUpkeep(abi.encode(uint256(9)));
        // A price move between check and perform: the re-check refuses.
        vm.prank(owner);
        b.setPrice(3e18);
        vm.expectRevert(abi.encodeWithSelector(SampleLiquidationBook.NotUnderwater.selector, 1));
        vm.prank(forwarder);
        b.performUpkeep(abi.encode(uint256(1)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Gelato-style vault and resolver
    // ---------------------------------------------------------------------------------------------------------

    event RewardsAccrued(uint256 amount, uint256 pendingRewards);
    event Harvested(uint256 amount, uint256 totalHarvested, address indexed forwarder);

    function _vault() internal returns (SampleVault v, SampleVaultResolver r) {
        v = new SampleVault(owner);
        vm.prank(owner);
        v.setForwarder(forwarder, true);
        r = new SampleVaultResolver(v, 100);
    }

    function test_accrue() public {
        (SampleVault v,) = _vault();
        vm.expectEmit(address(v));
        emit RewardsAccrued(60, 60);
        vm.prank(owner);
        v.accrue(60);
        vm.prank(owner);
        v.accrue(50);
        assertEq(v.pendingRewards(), 110);
    }

    function test_accrue_revertsForNonOwner() public {
        (SampleVault v,) = _vault();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, other));
        vm.prank(other);
        v.accrue(1);
    }

    function test_checker_andHarvest() public {
        (SampleVault v, SampleVaultResolver r) = _vault();
        assertEq(address(r.vault()), address(v));
        assertEq(r.minHarvest(), 100);
        (bool canExec, bytes memory payload) = r.checker();
        assertFalse(canExec);
        assertEq(string(payload), "not enough rewards");

        vm.prank(owner);
        v.accrue(150);
        (canExec, payload) = r.checker();
        assertTrue(canExec);
        assertEq(payload, abi.encodeCall(SampleVault.harvest, (150)));

        // The payload as the forwarder sends it.
        vm.expectEmit(address(v));
        emit Harvested(150, 150, forwarder);
        vm.prank(forwarder);
        (bool ok,) = address(v).call(payload);
        assertTrue(ok);
        assertEq(v.pendingRewards(), 0);
        assertEq(v.totalHarvested(), 150);
        assertEq(v.harvests(), 1);
        (canExec,) = r.checker();
        assertFalse(canExec);
    }

    function test_resolver_minHarvestAtLeastOne() public {
        (SampleVault v,) = _vault();
        SampleVaultResolver r = new SampleVaultResolver(v, 0);
        assertEq(r.minHarvest(), 1);
        (bool canExec,) = r.checker();
        assertFalse(canExec);
    }

    function test_harvest_revertsForOthers() public {
        (SampleVault v,) = _vault();
        vm.prank(owner);
        v.accrue(150);
        vm.expectRevert(abi.encodeWithSelector(ForwarderAllowList.ForwarderNotAllowed.selector, other));
        vm.prank(other);
        v.harvest(150);
    }

    function test_harvest_revertsOnInvalidAmount() public {
        (SampleVault v,) = _vault();
        vm.prank(owner);
        v.accrue(150);
        vm.expectRevert(abi.encodeWithSelector(SampleVault.InvalidHarvest.selector, 0, 150));
        vm.prank(forwarder);
        v.harvest(0);
        vm.expectRevert(abi.encodeWithSelector(SampleVault.InvalidHarvest.selector, 151, 150));
        vm.prank(forwarder);
        v.harvest(151);
        // A partial harvest is fine.
        vm.prank(forwarder);
        v.harvest(50);
        assertEq(v.pendingRewards(), 100);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Oracle and its mirror
    // ---------------------------------------------------------------------------------------------------------

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event Synced(uint256 indexed round, int256 answer, address indexed forwarder);

    function test_oracle_report() public {
        SampleOracle o = new SampleOracle(owner);
        assertEq(o.latestRound(), 0);
        vm.warp(5000);
        vm.expectEmit(address(o));
        emit AnswerUpdated(-7, 1, 5000);
        vm.prank(owner);
        o.report(-7);
        assertEq(o.latestAnswer(), -7);
        assertEq(o.latestRound(), 1);
        assertEq(o.latestTimestamp(), 5000);
        vm.prank(owner);
        o.report(42);
        assertEq(o.latestRound(), 2);
    }

    function test_oracle_report_revertsForNonOwner() public {
        SampleOracle o = new SampleOracle(owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, other));
        vm.prank(other);
        o.report(1);
    }

    function test_mirror_sync() public {
        SampleOracle o = new SampleOracle(owner);
        SamplePriceMirror m = new SamplePriceMirror(owner, o);
        assertEq(address(m.oracle()), address(o));
        vm.prank(owner);
        m.setForwarder(forwarder, true);
        vm.prank(owner);
        o.report(1234);
        vm.expectEmit(address(m));
        emit Synced(1, 1234, forwarder);
        vm.prank(forwarder);
        m.sync();
        assertEq(m.answer(), 1234);
        assertEq(m.round(), 1);
        assertEq(m.syncs(), 1);
    }

    function test_mirror_sync_revertsForOthers() public {
        SampleOracle o = new SampleOracle(owner);
        SamplePriceMirror m = new SamplePriceMirror(owner, o);
        vm.expectRevert(abi.encodeWithSelector(ForwarderAllowList.ForwarderNotAllowed.selector, other));
        vm.prank(other);
        m.sync();
    }
}
