// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobManager} from "../../src/jobs/JobManager.sol";
import {TaskManager} from "../../src/tasks/TaskManager.sol";
import {TaskManagerHandler} from "../utils/TaskManagerHandler.sol";

/// @dev Escrow, rewards, exactly-once and slashing under random sequences of job operations (created, updated,
/// paused, cancelled, topped up), batches signed at one block and submitted at a later one (honest or dishonest,
/// performed, consumed, repeated, stale, refused), and in between: weight changes, deallocations, weight
/// confirmations or none, ejections, new operators, equivocations, challenges, claims and the guardian's pause;
/// through the real task manager, job manager, key registry, service manager and EigenLayer core.
contract TaskManagerInvariantTest is Test {
    TaskManagerHandler internal handler;
    JobManager internal jm;
    TaskManager internal tm;

    function setUp() public {
        handler = new TaskManagerHandler();
        jm = JobManager(payable(handler.jobManagerAddress()));
        tm = TaskManager(handler.taskManagerAddress());
        // Weighted by repetition: signing, submitting and challenging come up most.
        bytes4[] memory selectors = new bytes4[](23);
        selectors[0] = TaskManagerHandler.createJob.selector;
        selectors[1] = TaskManagerHandler.createJob.selector;
        selectors[2] = TaskManagerHandler.updateJob.selector;
        selectors[3] = TaskManagerHandler.topUp.selector;
        selectors[4] = TaskManagerHandler.pauseOrResume.selector;
        selectors[5] = TaskManagerHandler.cancel.selector;
        selectors[6] = TaskManagerHandler.sign.selector;
        selectors[7] = TaskManagerHandler.sign.selector;
        selectors[8] = TaskManagerHandler.sign.selector;
        selectors[9] = TaskManagerHandler.submit.selector;
        selectors[10] = TaskManagerHandler.submit.selector;
        selectors[11] = TaskManagerHandler.submit.selector;
        selectors[12] = TaskManagerHandler.challenge.selector;
        selectors[13] = TaskManagerHandler.challenge.selector;
        selectors[14] = TaskManagerHandler.equivocate.selector;
        selectors[15] = TaskManagerHandler.deposit.selector;
        selectors[16] = TaskManagerHandler.deallocate.selector;
        selectors[17] = TaskManagerHandler.refreshWeights.selector;
        selectors[18] = TaskManagerHandler.ejectBelowMinimum.selector;
        selectors[19] = TaskManagerHandler.addOperator.selector;
        selectors[20] = TaskManagerHandler.claim.selector;
        selectors[21] = TaskManagerHandler.roll.selector;
        selectors[22] = TaskManagerHandler.guardianToggle.selector;
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
    /// performed, and no interval or block job has more calls than sequences consumed.
    function invariant_noTaskPerformedTwice() public view {
        assertTrue(handler.callsWithinWatermarks());
    }

    /// forge-config: default.invariant.runs = 24
    /// forge-config: default.invariant.depth = 40
    /// forge-config: default.invariant.fail-on-revert = true
    /// Only the guilty are slashed: every operator slashed signed a provably wrong leaf or equivocated, whatever
    /// happened between signing and submission (job updates, weight changes, deallocations, ejections). That the
    /// guilty are slashed (and lose at least the slashed share of the weight they counted with) the handler asserts
    /// at each challenge.
    function invariant_onlyTheGuiltyAreSlashed() public view {
        for (uint256 i; i < handler.slashedCount(); ++i) {
            assertTrue(handler.guilty(handler.slashedAt(i)), "an innocent operator was slashed");
        }
    }

    /// The handler's paths do what the invariants rely on: tasks get performed and charged, claims pay out, a
    /// dishonest batch is accepted and its signers slashed, an honest one signed before a job update is skipped.
    function test_handlerPerformsChargesClaimsAndSlashes() public {
        handler.createJob(1 ether, 0.01 ether, 0);
        handler.createJob(1 ether, 0.01 ether, 1);
        handler.createJob(1 ether, 0.01 ether, 2);
        for (uint256 i; i < 4; ++i) {
            handler.sign(i, 3, i % 2 == 0, false, false);
            handler.submit(0, 1, 1);
        }
        assertGt(handler.performedEvents(), 0);
        assertGt(handler.credited(), 0);
        assertEq(handler.credited(), handler.feesCharged());
        assertEq(handler.honestAccepted(), 4);
        handler.claim(1, 4);
        handler.claim(4, 4);
        assertGt(handler.claimed(), 0);
        assertEq(handler.credited(), jm.accruedFees() + handler.claimed());

        // Signed honestly, the job updated, then submitted: accepted, and never challengeable.
        handler.sign(7, 1, false, false, false);
        handler.updateJob(0);
        handler.updateJob(1);
        handler.updateJob(2);
        handler.submit(0, 1, 1);
        handler.challenge(4);
        assertEq(handler.slashedCount(), 0);

        // Signed dishonestly by all: accepted, challenged, every signer slashed.
        handler.sign(3, 1, false, true, false);
        handler.deposit(0, 100e18);
        handler.submit(0, 1, 1);
        assertEq(handler.dishonestAccepted(), 1);
        handler.challenge(5);
        assertEq(handler.dishonestChallenged(), 1);
        assertEq(handler.slashedCount(), 4);
        invariant_onlyTheGuiltyAreSlashed();
        invariant_escrowDepositedIsHeldPaidOrRefunded();
        invariant_noTaskPerformedTwice();
    }
}
