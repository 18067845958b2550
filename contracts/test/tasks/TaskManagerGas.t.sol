// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {JobSpec} from "../../src/interfaces/IJobManager.sol";
import {BatchHeader, TaskInput, NonSigners} from "../../src/interfaces/ITaskManager.sol";
import {JobSpecs} from "../utils/JobSpecs.sol";
import {TaskFixture} from "../utils/TaskFixture.sol";
import {TaskMinimalTarget} from "../utils/TaskTargets.sol";

/// @dev Gas of `respondToBatch` itself (`vm.lastCallGas`: without the 21,000 intrinsic gas, the calldata, or the
/// test's cost of encoding the arguments). Every contract it touches is `vm.cool`ed first so its storage slots are cold
/// as in a fresh transaction; the traces show that account access stays warm, so a real transaction pays about 2,500
/// more per distinct account reached (key registry, job manager, and each task's forwarder and target). One batch
/// runs before the measured one, so the figures are the steady state. Targets do nothing. Figures are logged (run
/// with -vv), with loose assertions only.
/// Each measurement also logs a transaction estimate: the call's gas, plus 21,000, plus the calldata as Prague
/// prices it (4 gas per zero byte, 16 per other byte, or EIP-7623's floor of 10 per token if higher), plus 2,500 per
/// distinct account reached beyond the task manager. That is the figure to compare with Chainlink's per-upkeep gas.
contract TaskManagerGasTest is TaskFixture {
    uint64 internal constant T0 = 1_700_000_000;
    bytes internal constant CALL_DATA = hex"c0ffee00";

    JobSpec[] internal specs;
    uint256[] internal jobIds;
    address[] internal touched;
    bytes internal lastCalldata;
    uint256 internal lastTxEstimate;

    function _setUpNetwork(uint256 operatorCount, uint256 jobCount) internal {
        _deployTaskManager(operatorCount);
        vm.warp(T0);
        vm.prank(taskOwner);
        taskManager.setPremium(1e12);
        touched.push(address(taskManager));
        touched.push(address(jobManager));
        touched.push(address(registry));
        for (uint256 i; i < jobCount; ++i) {
            // A target per job: each task pays for reaching a cold contract, as distinct jobs do.
            TaskMinimalTarget target = new TaskMinimalTarget();
            JobSpec memory spec =
                JobSpecs.spec(JobSpecs.intervalTrigger(T0, 3600), JobSpecs.callAction(address(target), CALL_DATA));
            uint256 id = _createJob(spec, 1 ether);
            specs.push(spec);
            jobIds.push(id);
            touched.push(address(target));
            touched.push(jobManager.forwarderOf(id));
        }
        _warmUp();
    }

    /// @dev One batch on a job of its own before measuring, so the measured batch is not the first ever (the first
    /// writes the batch counter from zero: 17,100 gas more, once in the contract's life).
    function _warmUp() internal {
        TaskMinimalTarget target = new TaskMinimalTarget();
        JobSpec memory spec =
            JobSpecs.spec(JobSpecs.intervalTrigger(T0, 3600), JobSpecs.callAction(address(target), CALL_DATA));
        uint256 id = _createJob(spec, 1 ether);
        _respond(_header(), _one(_task(id, 0, spec, true, CALL_DATA)), _none());
    }

    function _tasks(uint256 count) internal view returns (TaskInput[] memory tasks) {
        tasks = new TaskInput[](count);
        for (uint256 i; i < count; ++i) {
            tasks[i] = _task(jobIds[i], 0, specs[i], true, CALL_DATA);
        }
    }

    /// @dev Gas of one respondToBatch with every touched account cold.
    function _measure(TaskInput[] memory tasks, uint256 absentCount) internal returns (uint256 gasUsed) {
        BatchHeader memory header = _header();
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _firstN(absentCount));
        lastCalldata = abi.encodeCall(taskManager.respondToBatch, (header, tasks, nonSigners, signature));
        for (uint256 i; i < touched.length; ++i) {
            vm.cool(touched[i]);
        }
        vm.prank(submitter);
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
        // The call's own gas, without the test's cost of encoding its arguments.
        gasUsed = vm.lastCallGas().gasTotalUsed;
        // Every task ran.
        for (uint256 i; i < tasks.length; ++i) {
            assertEq(jobManager.jobState(tasks[i].jobId).nextSequence, 1);
        }
        // Registry and job manager, then each task's forwarder and target.
        lastTxEstimate = _transactionGas(gasUsed, lastCalldata, 2 + 2 * tasks.length);
    }

    /// @dev What the call would cost as a transaction of its own (see the contract's comment).
    function _transactionGas(uint256 callGas, bytes memory data, uint256 coldAccounts) internal pure returns (uint256) {
        uint256 zeros;
        for (uint256 i; i < data.length; ++i) {
            if (data[i] == 0) ++zeros;
        }
        uint256 nonZeros = data.length - zeros;
        uint256 standard = 21_000 + 4 * zeros + 16 * nonZeros + callGas + 2_500 * coldAccounts;
        uint256 floor = 21_000 + 10 * (zeros + 4 * nonZeros);
        return standard > floor ? standard : floor;
    }

    function _single(uint256 operatorCount, uint256 absentCount) internal returns (uint256 gasUsed) {
        _setUpNetwork(operatorCount, 1);
        gasUsed = _measure(_tasks(1), absentCount);
        emit log_named_uint(
            string.concat(
                "batch of 1 | operators ",
                vm.toString(operatorCount),
                " | non-signers ",
                vm.toString(absentCount),
                " | gas"
            ),
            gasUsed
        );
        emit log_named_uint("  as a transaction (estimate)", lastTxEstimate);
    }

    function _batch(uint256 taskCount) internal returns (uint256 gasUsed) {
        _setUpNetwork(16, taskCount);
        gasUsed = _measure(_tasks(taskCount), 2);
        emit log_named_uint(
            string.concat("batch of ", vm.toString(taskCount), " | 16 operators, 2 absent | gas"), gasUsed
        );
        emit log_named_uint(string.concat("batch of ", vm.toString(taskCount), " | gas per task"), gasUsed / taskCount);
        emit log_named_uint("  as a transaction (estimate), per task", lastTxEstimate / taskCount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // A batch of one task, by set size and non-signers
    // ---------------------------------------------------------------------------------------------------------

    function test_gas_single_4ops_allSign() public {
        assertLt(_single(4, 0), 235_000);
    }

    function test_gas_single_4ops_1absent() public {
        assertLt(_single(4, 1), 240_000);
    }

    function test_gas_single_16ops_allSign() public {
        assertLt(_single(16, 0), 235_000);
    }

    function test_gas_single_16ops_2absent() public {
        assertLt(_single(16, 2), 242_000);
    }

    function test_gas_single_64ops_allSign() public {
        assertLt(_single(64, 0), 235_000);
    }

    /// The issue's goal: under 250,000 here (249,062 when last measured: about 3,300 per non-signer, of which
    /// 2,100 is the cold read of its weight and 475 its G1 addition).
    function test_gas_single_64ops_7absent() public {
        assertLt(_single(64, 7), 250_000);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Batches at 16 operators
    // ---------------------------------------------------------------------------------------------------------

    function test_gas_batch_8() public {
        _batch(8);
    }

    /// The issue's goal: under 25,000 per task in a batch of 32.
    function test_gas_batch_32() public {
        assertLt(_batch(32) / 32, 25_000);
    }

    function test_gas_batch_128() public {
        _batch(128);
    }

    /// @dev The marginal cost of a task: (batch of 33 - batch of 1) / 32, on one network.
    function test_gas_marginalPerTask() public {
        _setUpNetwork(16, 34);
        TaskInput[] memory one = new TaskInput[](1);
        one[0] = _task(jobIds[33], 0, specs[33], true, CALL_DATA);
        uint256 single = _measure(one, 2);
        uint256 many = _measure(_tasks(33), 2);
        uint256 marginal = (many - single) / 32;
        emit log_named_uint("marginal gas per task (16 operators, 2 absent)", marginal);
        assertLt(marginal, 18_500);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Event jobs (one task per log)
    // ---------------------------------------------------------------------------------------------------------

    /// @dev `count` event tasks: one log each of `jobCount` event jobs, the logs of a job in distinct blocks, in
    /// order. A fresh network with 16 operators (2 absent).
    function _eventBatch(uint256 jobCount, uint256 logsPerJob) internal returns (uint256 gasUsed) {
        _setUpNetwork(16, 0);
        uint256 count = jobCount * logsPerJob;
        TaskInput[] memory tasks = new TaskInput[](count);
        for (uint256 j; j < jobCount; ++j) {
            TaskMinimalTarget target = new TaskMinimalTarget();
            JobSpec memory spec = JobSpecs.spec(
                JobSpecs.eventTrigger(1, address(0xE0), keccak256("Ping()")),
                JobSpecs.callAction(address(target), CALL_DATA)
            );
            uint256 id = _createJob(spec, 1 ether);
            touched.push(address(target));
            touched.push(jobManager.forwarderOf(id));
            for (uint256 l; l < logsPerJob; ++l) {
                tasks[j * logsPerJob + l] = _task(id, uint64((10 + l) << 24 | 3), spec, true, CALL_DATA);
            }
        }
        BatchHeader memory header = _header();
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _firstN(2));
        for (uint256 i; i < touched.length; ++i) {
            vm.cool(touched[i]);
        }
        vm.prank(submitter);
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
        gasUsed = vm.lastCallGas().gasTotalUsed;
        emit log_named_uint(
            string.concat(
                "event tasks | jobs ", vm.toString(jobCount), " x logs ", vm.toString(logsPerJob), " | gas per task"
            ),
            gasUsed / count
        );
    }

    function test_gas_event_single() public {
        _eventBatch(1, 1);
    }

    function test_gas_event_32jobs() public {
        _eventBatch(32, 1);
    }

    function test_gas_event_oneJob32logs() public {
        _eventBatch(1, 32);
    }
}
