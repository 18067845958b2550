// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Vm} from "forge-std/Vm.sol";
import {JobSpec, JobState, JobStatus} from "../../src/interfaces/IJobManager.sol";
import {ITaskManager, BatchHeader, TaskInput, BatchRecord, BatchClaim} from "../../src/interfaces/ITaskManager.sol";
import {JobSpecs} from "./JobSpecs.sol";
import {TaskFixture} from "./TaskFixture.sol";

/// @dev A target that counts every call per (forwarder, sequence) and remembers if one came twice.
contract SequenceTarget {
    mapping(address forwarder => mapping(uint64 sequence => uint256 calls)) public calls;
    mapping(address forwarder => uint256) public callsOf;
    bool public calledTwice;

    function perform(uint64 sequence) external {
        if (++calls[msg.sender][sequence] > 1) calledTwice = true;
        ++callsOf[msg.sender];
    }
}

/// @dev Drives the task manager and job manager together, on the real EigenLayer fixture with 4 operators: jobs
/// are created, topped up, paused, resumed and cancelled; batches of up to 3 tasks (due, already done, repeated,
/// not executed) are signed by 3 or 4 operators and submitted at random gas prices; operators and the submitter
/// claim. Ghost totals of every wei moved are kept from the calls and the events.
contract TaskManagerHandler is TaskFixture {
    uint256 internal constant OPERATOR_COUNT = 4;
    /// One task per block from block 1: any sequence up to the reference block is due.
    uint64 internal constant EVERY_BLOCK = 1;

    SequenceTarget public target;
    uint256[] public jobIds;
    JobSpec[] internal specs;

    uint256 public deposited;
    uint256 public refunded;
    uint256 public feesCharged;
    uint256 public credited;
    uint256 public claimed;
    uint256 public performedEvents;

    struct Accepted {
        bytes32 digest;
        BatchRecord record;
        bytes32[] nonSignerHashes;
    }

    Accepted[] internal accepted;
    /// The next batch index each claimant (operators, the submitter) has not yet claimed (or passed over).
    mapping(address claimant => uint256) internal cursor;

    constructor() {
        _deployTaskManager(OPERATOR_COUNT);
        vm.prank(taskOwner);
        taskManager.setPremium(1e12);
        target = new SequenceTarget();
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function claimants() external view returns (address[] memory list) {
        list = new address[](OPERATOR_COUNT + 1);
        for (uint256 i; i < OPERATOR_COUNT; ++i) {
            list[i] = operators[i];
        }
        list[OPERATOR_COUNT] = submitter;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Jobs
    // ---------------------------------------------------------------------------------------------------------

    function createJob(uint256 deposit, uint80 maxFee) external {
        deposit = bound(deposit, 0, 1 ether);
        // A Gelato-style job: the keepers' call data (here the sequence) goes to the target as is.
        JobSpec memory spec = JobSpecs.spec(
            JobSpecs.blockTrigger(1, EVERY_BLOCK),
            JobSpecs.resolverAction(address(target), address(0xBEEF), abi.encodeWithSignature("checker()"))
        );
        spec.maxFee = uint80(bound(maxFee, 1e12, 0.01 ether));
        jobIds.push(_createJob(spec, deposit));
        specs.push(spec);
        deposited += deposit;
    }

    function topUp(uint256 jobSeed, uint256 amount) external {
        if (jobIds.length == 0) return;
        uint256 i = jobSeed % jobIds.length;
        if (jobManager.jobState(jobIds[i]).status == JobStatus.Cancelled) return;
        amount = bound(amount, 1, 0.1 ether);
        vm.deal(address(this), amount);
        jobManager.topUp{value: amount}(jobIds[i]);
        deposited += amount;
    }

    function pauseOrResume(uint256 jobSeed) external {
        if (jobIds.length == 0) return;
        uint256 id = jobIds[jobSeed % jobIds.length];
        JobStatus status = jobManager.jobState(id).status;
        if (status == JobStatus.Cancelled) return;
        vm.prank(jobOwner);
        if (status == JobStatus.Active) jobManager.pauseJob(id);
        else jobManager.resumeJob(id);
    }

    function cancel(uint256 jobSeed) external {
        if (jobIds.length == 0) return;
        uint256 id = jobIds[jobSeed % jobIds.length];
        if (jobManager.jobState(id).status == JobStatus.Cancelled) return;
        vm.prank(jobOwner);
        refunded += jobManager.cancelJob(id);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Batches
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Up to 3 tasks of random jobs: the next sequence, one further, or one already passed; executed or not.
    /// The same task may appear twice in a batch. 3 or 4 of the 4 operators sign.
    function respond(uint256 seed, uint8 taskCount, bool oneAbsent, uint64 gasPriceGwei) external {
        if (jobIds.length == 0) return;
        taskCount = uint8(bound(taskCount, 1, 3));
        TaskInput[] memory tasks = new TaskInput[](taskCount);
        for (uint256 t; t < taskCount; ++t) {
            uint256 r = uint256(keccak256(abi.encode(seed, t)));
            uint256 i = r % jobIds.length;
            uint64 next = jobManager.jobState(jobIds[i]).nextSequence;
            uint64 sequence = next + uint64((r >> 8) % 2);
            if ((r >> 16) % 4 == 0 && next > 0) sequence = next - 1;
            bool execute = (r >> 24) % 5 != 0;
            tasks[t] = _task(
                jobIds[i], sequence, specs[i], execute, execute ? abi.encodeCall(target.perform, (sequence)) : bytes("")
            );
        }
        uint256[] memory absent = oneAbsent ? _firstN(1) : _none();
        vm.txGasPrice(bound(gasPriceGwei, 0, 100) * 1 gwei);
        vm.recordLogs();
        _respond(_header(), tasks, absent);
        _account(vm.getRecordedLogs());
    }

    function _account(Vm.Log[] memory logs) internal {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(taskManager)) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == ITaskManager.TaskPerformed.selector) {
                (,, uint256 fee) = abi.decode(logs[i].data, (bool, uint256, uint256));
                feesCharged += fee;
                ++performedEvents;
            } else if (topic == ITaskManager.BatchResponded.selector) {
                (,,, bytes32[] memory hashes, BatchRecord memory record) =
                    abi.decode(logs[i].data, (bytes32, bytes32, uint256, bytes32[], BatchRecord));
                credited += record.submitterReward + record.signerReward;
                Accepted storage entry = accepted.push();
                entry.digest = logs[i].topics[1];
                entry.record = record;
                entry.nonSignerHashes = hashes;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Claims
    // ---------------------------------------------------------------------------------------------------------

    /// @dev A claimant (an operator or the submitter) claims its next few batches, in order, to itself.
    function claim(uint256 claimantSeed, uint8 count) external {
        address claimant = claimantSeed % (OPERATOR_COUNT + 1) == OPERATOR_COUNT
            ? submitter
            : operators[claimantSeed % (OPERATOR_COUNT + 1)];
        uint256 from = cursor[claimant];
        uint256 available = accepted.length - from;
        uint256 n = bound(count, 0, available);
        BatchClaim[] memory claims = new BatchClaim[](n);
        for (uint256 i; i < n; ++i) {
            Accepted storage entry = accepted[from + i];
            claims[i] = BatchClaim(entry.digest, entry.record, entry.nonSignerHashes);
        }
        uint256 before = claimant.balance;
        vm.prank(claimant);
        uint256 amount = taskManager.claimRewards(claims, claimant);
        assertEq(claimant.balance, before + amount);
        claimed += amount;
        cursor[claimant] = from + n;
    }

    function roll(uint8 blocks) external {
        vm.roll(block.number + bound(blocks, 1, 20));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views for the invariants
    // ---------------------------------------------------------------------------------------------------------

    function sumOfBalances() external view returns (uint256 sum) {
        for (uint256 i; i < jobIds.length; ++i) {
            sum += jobManager.jobState(jobIds[i]).balance;
        }
    }

    /// @dev Every job's target calls match its watermark's story: no more calls than sequences consumed.
    function callsWithinWatermarks() external view returns (bool) {
        uint256 total;
        for (uint256 i; i < jobIds.length; ++i) {
            JobState memory state = jobManager.jobState(jobIds[i]);
            uint256 calls = target.callsOf(jobManager.forwarderOf(jobIds[i]));
            if (calls > state.nextSequence) return false;
            total += calls;
        }
        return total == performedEvents;
    }

    /// @dev What each claimant could still claim from the batches it has not claimed, summed.
    function unclaimedShares() external view returns (uint256 sum) {
        for (uint256 c; c <= OPERATOR_COUNT; ++c) {
            address claimant = c == OPERATOR_COUNT ? submitter : operators[c];
            uint256 from = cursor[claimant];
            BatchClaim[] memory claims = new BatchClaim[](accepted.length - from);
            for (uint256 i; i < claims.length; ++i) {
                Accepted storage entry = accepted[from + i];
                claims[i] = BatchClaim(entry.digest, entry.record, entry.nonSignerHashes);
            }
            sum += taskManager.claimableRewards(claimant, claims);
        }
    }

    function taskManagerAddress() external view returns (address) {
        return address(taskManager);
    }

    function jobManagerAddress() external view returns (address) {
        return address(jobManager);
    }

    receive() external payable {}
}
