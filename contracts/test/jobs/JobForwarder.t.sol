// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";
import {JobSpec, TaskMode, TaskOutcome} from "../../src/interfaces/IJobManager.sol";
import {JobManager} from "../../src/jobs/JobManager.sol";
import {JobForwarder} from "../../src/jobs/JobForwarder.sol";
import {JobSpecs} from "../utils/JobSpecs.sol";
import {FeeLedgerStub} from "../utils/FeeLedgerStub.sol";
import {
    ForwarderGuardedTarget,
    RevertingTarget,
    GasGuzzlerTarget,
    HugeReturnTarget,
    GasRecorderTarget,
    ChainlinkStyleUpkeep,
    GelatoStyleTarget,
    GelatoStyleResolver,
    NoopTarget
} from "../utils/JobTargets.sol";

/// @dev The forwarder on its own: this test contract deploys it, so it is the forwarder's job manager.
contract JobForwarderTest is Test {
    /// @dev `JobForwarder.CALL_RESERVE`.
    uint256 internal constant CALL_RESERVE = 5_000;
    JobForwarder internal forwarder;
    GasRecorderTarget internal recorder;

    function setUp() public {
        forwarder = new JobForwarder();
        recorder = new GasRecorderTarget();
    }

    function test_constructor_recordsDeployerAsJobManager() public view {
        assertEq(forwarder.jobManager(), address(this));
    }

    function test_forward_revertsForAnyoneButTheJobManager() public {
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(JobForwarder.OnlyJobManager.selector, stranger));
        vm.prank(stranger);
        forwarder.forward(address(recorder), "", 50_000);
    }

    function test_forward_callsWithDataFromItself() public {
        ForwarderGuardedTarget target = new ForwarderGuardedTarget(address(forwarder));
        (bool success, uint256 gasUsed) = forwarder.forward(address(target), abi.encodeWithSignature("work()"), 100_000);
        assertTrue(success);
        assertGt(gasUsed, 20_000);
        assertEq(target.count(), 1);
        assertEq(target.lastCaller(), address(forwarder));
    }

    function test_forward_targetRejectsOtherSenders() public {
        ForwarderGuardedTarget target = new ForwarderGuardedTarget(address(forwarder));
        vm.expectRevert(abi.encodeWithSelector(ForwarderGuardedTarget.NotMyForwarder.selector, address(this)));
        target.work();
        JobForwarder other = new JobForwarder();
        (bool success,) = other.forward(address(target), abi.encodeWithSignature("work()"), 100_000);
        assertFalse(success);
    }

    function test_forward_targetWithoutCodeFails() public {
        (bool success, uint256 gasUsed) = forwarder.forward(makeAddr("eoa"), hex"12345678", 100_000);
        assertFalse(success);
        assertEq(gasUsed, 0);
    }

    function test_forward_revertingTargetFails() public {
        (bool success, uint256 gasUsed) = forwarder.forward(address(new RevertingTarget()), "", 100_000);
        assertFalse(success);
        assertLt(gasUsed, 100_000);
    }

    function test_forward_outOfGasTargetFailsAndUsesItsLimit() public {
        GasGuzzlerTarget guzzler = new GasGuzzlerTarget();
        (bool success, uint256 gasUsed) = forwarder.forward(address(guzzler), "", 100_000);
        assertFalse(success);
        // The whole limit, plus the call's own cost.
        assertGe(gasUsed, 100_000);
        assertLt(gasUsed, 100_000 + 3_000);
    }

    /// A target returning (or reverting with) megabytes costs the forwarder nothing extra: nothing is copied.
    function test_forward_hugeReturnDataIsNotCopied() public {
        HugeReturnTarget huge = new HugeReturnTarget();
        _overhead(address(huge), abi.encode(false, uint256(0))); // warm-up: target and forwarder warm from here
        uint256 small = _overhead(address(huge), abi.encode(false, uint256(32)));
        uint256 large = _overhead(address(huge), abi.encode(false, uint256(1 << 20)));
        uint256 largeRevert = _overhead(address(huge), abi.encode(true, uint256(1 << 20)));
        assertApproxEqAbs(small, large, 50);
        assertApproxEqAbs(small, largeRevert, 50);
    }

    /// Gas spent by `forward` outside the target's call.
    function _overhead(address target, bytes memory data) internal returns (uint256) {
        uint256 before = gasleft();
        (bool success, uint256 gasUsed) = forwarder.forward(target, data, 4_000_000);
        uint256 total = before - gasleft();
        (bool fail,) = abi.decode(data, (bool, uint256));
        assertEq(success, !fail);
        return total - gasUsed;
    }

    /// EIP-150: whatever gas the caller gives, the target gets exactly its limit, or the forwarder reverts.
    function testFuzz_forward_targetGetsItsGasLimitOrReverts(uint256 gasLimit, uint256 outerGas) public {
        gasLimit = bound(gasLimit, 21_000, 5_000_000);
        outerGas = bound(outerGas, 10_000, gasLimit * 2 + 20_000);
        // Make the recorder's slot non-zero and warm, so that its write fits any limit.
        (bool primed,) = address(recorder).call("");
        assertTrue(primed);

        try forwarder.forward{gas: outerGas}(address(recorder), "", gasLimit) returns (bool success, uint256) {
            assertTrue(success);
            uint256 entry = recorder.gasAtEntry();
            assertLe(entry, gasLimit);
            assertGe(entry, gasLimit - 100);
        } catch (bytes memory reason) {
            // casting to 'bytes4' is safe because it keeps the selector, the first 4 bytes of the reason
            // forge-lint: disable-next-line(unsafe-typecast)
            assertEq(bytes4(reason), JobForwarder.InsufficientGas.selector);
            // Only when the limit and its 1/63 and the reserve do not fit.
            assertLt(outerGas, gasLimit + gasLimit / 63 + CALL_RESERVE + 5_000);
        }
    }

    function test_forward_justEnoughGasSucceeds() public {
        (bool primed,) = address(recorder).call("");
        assertTrue(primed);
        uint256 gasLimit = 1_000_000;
        uint256 needed = gasLimit + gasLimit / 63 + CALL_RESERVE;
        // Binary search for the least outer gas that does not revert: it must be close to `needed`.
        uint256 low = gasLimit;
        uint256 high = needed + 20_000;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            try forwarder.forward{gas: mid}(address(recorder), "", gasLimit) {
                high = mid;
            } catch {
                low = mid + 1;
            }
        }
        assertGe(low, needed);
        assertLe(low, needed + 3_000);
        forwarder.forward{gas: low}(address(recorder), "", gasLimit);
        assertGe(recorder.gasAtEntry(), gasLimit - 100);
    }

    function test_forward_revertsOnAbsurdGasLimit() public {
        vm.expectPartialRevert(JobForwarder.InsufficientGas.selector);
        forwarder.forward(address(recorder), "", uint256(type(uint64).max) + 1);
        vm.expectPartialRevert(JobForwarder.InsufficientGas.selector);
        forwarder.forward(address(recorder), "", type(uint64).max);
    }
}

/// @dev Jobs end to end through the job manager, called exactly as the task manager will call them.
contract JobForwarderIntegrationTest is Test {
    JobManager internal jm;
    /// The task manager: a stub (the job manager asks it for the least max fee, 0 here).
    address internal taskManager = address(new FeeLedgerStub());
    address internal alice = makeAddr("alice");

    function setUp() public {
        vm.warp(1_700_000_000);
        vm.prank(taskManager);
        jm = new JobManager();
        vm.deal(alice, 10 ether);
    }

    /// @dev `runTask` in `Perform` mode as the task manager, under the job's current spec.
    function _perform(uint256 jobId, uint64 sequence, address target, bytes memory data, uint256 gasLimit, uint256 fee)
        internal
        returns (bool success, uint256 gasUsed)
    {
        bytes32 specHash = jm.specHashOf(jobId);
        vm.prank(taskManager);
        TaskOutcome outcome;
        (outcome, success, gasUsed,) =
            jm.runTask(jobId, specHash, sequence, TaskMode.Perform, target, data, gasLimit, fee);
        assertEq(uint8(outcome), uint8(TaskOutcome.Done));
    }

    /// Keepers simulate `checkUpkeep(checkData)` from the zero address at the reference block; the task manager
    /// then calls `performUpkeep(performData)` through the job's forwarder with the job's gas limit.
    function test_chainlinkStyleUpkeep() public {
        ChainlinkStyleUpkeep upkeep = new ChainlinkStyleUpkeep(60);
        JobSpec memory spec = JobSpecs.spec(
            JobSpecs.intervalTrigger(uint64(block.timestamp), 60),
            JobSpecs.upkeepAction(address(upkeep), abi.encode(uint256(3)))
        );
        upkeep.setForwarder(jm.forwarderOf(jm.nextJobId()));
        vm.prank(alice);
        uint256 jobId = jm.createJob{value: 1 ether}(spec);

        for (uint64 sequence; sequence < 3; ++sequence) {
            (bool needed, bytes memory performData) = _checkUpkeep(spec);
            assertTrue(needed);
            (bool success,) = _perform(
                jobId,
                sequence,
                spec.action.target,
                abi.encodeWithSignature("performUpkeep(bytes)", performData),
                spec.gasLimit,
                0.001 ether
            );
            assertTrue(success);
            // Not needed again until the interval has passed.
            (needed,) = _checkUpkeep(spec);
            assertFalse(needed);
            vm.warp(block.timestamp + 60);
        }
        assertEq(upkeep.counter(), 9);
        assertEq(jm.jobState(jobId).balance, 1 ether - 0.003 ether);

        // Stale performData (computed before another perform) is refused by the upkeep, not by the forwarder.
        (, bytes memory stale) = _checkUpkeep(spec);
        _perform(jobId, 3, address(upkeep), abi.encodeWithSignature("performUpkeep(bytes)", stale), spec.gasLimit, 0);
        (bool again,) = _perform(
            jobId, 4, address(upkeep), abi.encodeWithSignature("performUpkeep(bytes)", stale), spec.gasLimit, 0
        );
        assertFalse(again);
    }

    function _checkUpkeep(JobSpec memory spec) internal returns (bool needed, bytes memory performData) {
        vm.prank(address(0), address(0));
        (bool ok, bytes memory ret) =
            spec.action.target.call(abi.encodeWithSignature("checkUpkeep(bytes)", spec.action.data));
        assertTrue(ok);
        (needed, performData) = abi.decode(ret, (bool, bytes));
    }

    /// Keepers call the resolver with the spec's calldata; `execPayload` is the calldata the task manager sends
    /// to the target through the job's forwarder.
    function test_gelatoStyleResolver() public {
        GelatoStyleTarget target = new GelatoStyleTarget();
        GelatoStyleResolver resolver = new GelatoStyleResolver(target);
        JobSpec memory spec = JobSpecs.spec(
            JobSpecs.blockTrigger(uint64(block.number), 10),
            JobSpecs.resolverAction(address(target), address(resolver), abi.encodeCall(resolver.checker, (42)))
        );
        target.setForwarder(jm.forwarderOf(jm.nextJobId()));
        vm.prank(alice);
        uint256 jobId = jm.createJob{value: 1 ether}(spec);

        (bool canExec, bytes memory execPayload) = _resolve(spec);
        assertTrue(canExec);
        (bool success,) = _perform(jobId, 0, spec.action.target, execPayload, spec.gasLimit, 0);
        assertTrue(success);
        assertEq(target.value(), 42);

        (canExec,) = _resolve(spec);
        assertFalse(canExec);

        // The same payload from anyone else is refused by the target.
        vm.expectRevert(abi.encodeWithSelector(GelatoStyleTarget.NotForwarder.selector, address(this)));
        target.setValue(1);
    }

    function _resolve(JobSpec memory spec) internal returns (bool canExec, bytes memory execPayload) {
        vm.prank(address(0), address(0));
        (bool ok, bytes memory ret) = spec.action.resolver.call(spec.action.data);
        assertTrue(ok);
        (canExec, execPayload) = abi.decode(ret, (bool, bytes));
    }

    /// Gas of the forwarding path with every account and slot warm (in a test all are warm, and `vm.cool` does not
    /// change that here); in a batch the forwarder and the target are cold, adding 2,500 each (run with
    /// `--isolate` for transaction-level figures). Printed for the record; bounded so a regression shows.
    function test_gas_forwardOverhead() public {
        NoopTarget noop = new NoopTarget();
        JobSpec memory spec = JobSpecs.spec(JobSpecs.intervalTrigger(1, 60), JobSpecs.callAction(address(noop), ""));
        vm.startPrank(alice);
        uint256 first = jm.createJob{value: 1 ether}(spec);
        uint256 second = jm.createJob{value: 1 ether}(spec);
        vm.stopPrank();

        bytes32 specHash = jm.specHashOf(first);
        vm.startPrank(taskManager);
        // Warms the job manager, its task manager slot and the pool slot.
        jm.runTask(first, specHash, 0, TaskMode.Perform, address(noop), hex"c0ffee", 50_000, 0.001 ether);
        uint256 before = gasleft();
        (,, uint256 gasUsed,) =
            jm.runTask(second, specHash, 0, TaskMode.Perform, address(noop), hex"c0ffee", 50_000, 0.001 ether);
        uint256 total = before - gasleft();
        vm.stopPrank();

        emit log_named_uint("runTask from the task manager, accounts warm", total);
        emit log_named_uint("runTask: of which the target call (gasUsed)", gasUsed);
        emit log_named_uint("runTask: overhead outside the target call", total - gasUsed);
        assertLt(total - gasUsed, 12_000);
    }

    /// Call costs, printed for the record (warm in a plain run; run with `--isolate` for cold transactions).
    function test_gas_standalone() public {
        NoopTarget noop = new NoopTarget();
        JobSpec memory spec = JobSpecs.spec(
            JobSpecs.intervalTrigger(1, 60), JobSpecs.callAction(address(noop), abi.encodeWithSignature("work()"))
        );
        vm.prank(alice);
        jm.createJob{value: 1 ether}(spec);
        Vm.Gas memory g = vm.lastCallGas();
        emit log_named_uint("createJob (second job, pool slot warm)", g.gasTotalUsed);

        vm.prank(alice);
        jm.createJob{value: 1 ether}(spec);
        g = vm.lastCallGas();
        emit log_named_uint("createJob", g.gasTotalUsed);

        vm.prank(alice);
        jm.topUp{value: 1 ether}(2);
        g = vm.lastCallGas();
        emit log_named_uint("topUp", g.gasTotalUsed);

        bytes32 specHash = jm.specHashOf(2);
        vm.prank(taskManager);
        jm.runTask(2, specHash, 0, TaskMode.Consume, address(0), "", 0, 0);
        g = vm.lastCallGas();
        emit log_named_uint("runTask (Consume)", g.gasTotalUsed);
        emit log_named_uint("forwarder runtime size", jm.forwarderOf(2).code.length);
    }
}
