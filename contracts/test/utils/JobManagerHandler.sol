// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobSpec, JobState, JobStatus, TaskMode, TaskOutcome} from "../../src/interfaces/IJobManager.sol";
import {JobManager} from "../../src/jobs/JobManager.sol";
import {JobSpecs} from "./JobSpecs.sol";
import {FeeLedgerStub} from "./FeeLedgerStub.sol";

/// @dev Drives a job manager with random valid operations and keeps ghost totals of every ether movement.
contract JobManagerHandler is Test {
    JobManager public immutable jm;
    address public immutable taskManager;
    address public immutable feeRecipient = makeAddr("feeRecipient");
    address[] internal actors;
    uint256[] public jobIds;

    uint256 public deposited;
    uint256 public charged;
    uint256 public refunded;
    uint256 public withdrawn;
    uint64 public nextSequence;

    constructor(JobManager jm_, address taskManager_) {
        jm = jm_;
        taskManager = taskManager_;
        for (uint256 i; i < 3; ++i) {
            actors.push(makeAddr(string(abi.encodePacked("actor", vm.toString(i)))));
        }
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _job(uint256 seed) internal view returns (uint256) {
        return jobIds[seed % jobIds.length];
    }

    function createJob(uint256 actorSeed, uint256 deposit, uint80 maxFee) external {
        address actor = _actor(actorSeed);
        deposit = bound(deposit, 0, 100 ether);
        JobSpec memory spec = JobSpecs.hourly(1, address(0xBEEF));
        spec.maxFee = uint80(bound(maxFee, 1, 10 ether));
        vm.deal(actor, actor.balance + deposit);
        vm.prank(actor);
        jobIds.push(jm.createJob{value: deposit}(spec));
        deposited += deposit;
    }

    function topUp(uint256 actorSeed, uint256 jobSeed, uint256 amount) external {
        if (jobIds.length == 0) return;
        uint256 jobId = _job(jobSeed);
        if (jm.jobState(jobId).status == JobStatus.Cancelled) return;
        address actor = _actor(actorSeed);
        amount = bound(amount, 1, 100 ether);
        vm.deal(actor, actor.balance + amount);
        vm.prank(actor);
        jm.topUp{value: amount}(jobId);
        deposited += amount;
    }

    /// @dev A task as the task manager runs it: on a target without code (no gas used), so the charge is
    /// min(premium, maxFee) when the escrow can pay it, else nothing (unfunded).
    function runTask(uint256 jobSeed, uint256 premium, uint8 skip, bool perform) external {
        if (jobIds.length == 0) return;
        uint256 jobId = _job(jobSeed);
        JobState memory state = jm.jobState(jobId);
        (TaskOutcome outcome, uint256 fee) = _run(jobId, state.nextSequence + skip % 3, perform, premium);
        if (state.status != JobStatus.Active) assertEq(uint8(outcome), uint8(TaskOutcome.JobNotActive));
        charged += fee;
    }

    function _run(uint256 jobId, uint64 sequence, bool perform, uint256 premium)
        internal
        returns (TaskOutcome outcome, uint256 fee)
    {
        bytes32 specHash = jm.specHashOf(jobId);
        TaskMode mode = perform ? TaskMode.Perform : TaskMode.Consume;
        premium = bound(premium, 0, 20 ether);
        vm.prank(taskManager);
        // Gas price 0: the charge is the overhead fee alone (the premium here).
        (outcome,,, fee) = jm.runTask(jobId, specHash, sequence, mode, address(0xBEEF), "", 50_000, premium);
        // As the task manager does when a batch ends.
        FeeLedgerStub(taskManager).credit(fee);
    }

    function pauseOrResume(uint256 jobSeed) external {
        if (jobIds.length == 0) return;
        uint256 jobId = _job(jobSeed);
        JobStatus status = jm.jobState(jobId).status;
        if (status == JobStatus.Cancelled) return;
        vm.prank(jm.jobOwner(jobId));
        if (status == JobStatus.Active) jm.pauseJob(jobId);
        else jm.resumeJob(jobId);
    }

    function cancel(uint256 jobSeed) external {
        if (jobIds.length == 0) return;
        uint256 jobId = _job(jobSeed);
        if (jm.jobState(jobId).status == JobStatus.Cancelled) return;
        address owner = jm.jobOwner(jobId);
        uint256 before = owner.balance;
        vm.prank(owner);
        uint256 refund = jm.cancelJob(jobId);
        assertEq(owner.balance, before + refund);
        refunded += refund;
    }

    function withdrawFees(uint256 amount) external {
        amount = bound(amount, 0, jm.accruedFees());
        vm.prank(taskManager);
        jm.withdrawFees(feeRecipient, amount);
        withdrawn += amount;
    }
}
