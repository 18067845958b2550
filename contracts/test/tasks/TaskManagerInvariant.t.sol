// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobManager} from "../../src/jobs/JobManager.sol";
import {TaskManager} from "../../src/tasks/TaskManager.sol";
import {TaskManagerHandler} from "../utils/TaskManagerHandler.sol";

/// @dev Escrow, rewards and exactly-once under random sequences of job operations, signed batches (performed,
/// consumed, repeated and stale tasks, paused, cancelled and unfunded jobs) and reward claims, through the real
/// task manager, job manager, key registry and EigenLayer core.
contract TaskManagerInvariantTest is Test {
    TaskManagerHandler internal handler;
    JobManager internal jm;
    TaskManager internal tm;

    function setUp() public {
        handler = new TaskManagerHandler();
        jm = JobManager(payable(handler.jobManagerAddress()));
        tm = TaskManager(handler.taskManagerAddress());
        bytes4[] memory selectors = new bytes4[](7);
        selectors[0] = TaskManagerHandler.createJob.selector;
        selectors[1] = TaskManagerHandler.topUp.selector;
        selectors[2] = TaskManagerHandler.pauseOrResume.selector;
        selectors[3] = TaskManagerHandler.cancel.selector;
        selectors[4] = TaskManagerHandler.respond.selector;
        selectors[5] = TaskManagerHandler.claim.selector;
        selectors[6] = TaskManagerHandler.roll.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
        targetContract(address(handler));
    }

    /// forge-config: default.invariant.runs = 24
    /// forge-config: default.invariant.depth = 40
    /// forge-config: default.invariant.fail-on-revert = true
    /// Escrow deposited = escrow held + fees paid + refunds; the job manager holds exactly escrow plus fee pool.
    function invariant_escrowDepositedIsHeldPaidOrRefunded() public view {
        uint256 held = handler.sumOfBalances();
        assertEq(handler.deposited(), held + handler.feesCharged() + handler.refunded());
        assertEq(jm.totalEscrow(), held);
        assertEq(address(jm).balance, held + jm.accruedFees());
    }

    /// forge-config: default.invariant.runs = 24
    /// forge-config: default.invariant.depth = 40
    /// forge-config: default.invariant.fail-on-revert = true
    /// Rewards credited (the records' submitter and signer rewards) = rewards withdrawable + withdrawn, every fee
    /// charged is credited, and what the claimants can still claim fits in what is withdrawable.
    function invariant_rewardsCreditedAreWithdrawableOrWithdrawn() public view {
        uint256 credited = handler.credited();
        assertEq(credited, handler.feesCharged());
        assertEq(credited, jm.accruedFees() + handler.claimed());
        assertEq(tm.totalCredited(), credited);
        assertEq(tm.totalClaimed(), handler.claimed());
        assertLe(handler.unclaimedShares(), jm.accruedFees());
    }

    /// forge-config: default.invariant.runs = 24
    /// forge-config: default.invariant.depth = 40
    /// forge-config: default.invariant.fail-on-revert = true
    /// No task is performed twice: no (job, sequence) reaches its target twice, every call was reported as
    /// performed, and no job has more calls than sequences consumed.
    function invariant_noTaskPerformedTwice() public view {
        assertFalse(handler.target().calledTwice());
        assertTrue(handler.callsWithinWatermarks());
    }

    /// The handler's paths do what the invariants rely on: tasks get performed and charged, and claims pay out.
    function test_handlerPerformsChargesAndClaims() public {
        handler.createJob(1 ether, 0.01 ether);
        handler.createJob(1 ether, 0.01 ether);
        for (uint256 i; i < 4; ++i) {
            handler.respond(i, 3, i % 2 == 0, 1);
        }
        assertGt(handler.performedEvents(), 0);
        assertGt(handler.credited(), 0);
        assertEq(handler.credited(), handler.feesCharged());
        // Four batches accepted: operator 1 (a signer of all) and the submitter claim them all.
        handler.claim(1, 4);
        handler.claim(4, 4);
        assertGt(handler.claimed(), 0);
        assertEq(handler.credited(), jm.accruedFees() + handler.claimed());
        invariant_escrowDepositedIsHeldPaidOrRefunded();
        invariant_noTaskPerformedTwice();
    }
}
