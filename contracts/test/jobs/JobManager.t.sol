// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {
    IJobManager,
    JobSpec,
    JobState,
    JobStatus,
    Trigger,
    TriggerKind,
    Action,
    ActionKind,
    SpecField,
    SpecFault,
    TaskMode,
    TaskOutcome
} from "../../src/interfaces/IJobManager.sol";
import {JobManager} from "../../src/jobs/JobManager.sol";
import {JobForwarder} from "../../src/jobs/JobForwarder.sol";
import {JobSchedule} from "../../src/jobs/JobSchedule.sol";
import {JobSpecs} from "../utils/JobSpecs.sol";
import {FeeLedgerStub} from "../utils/FeeLedgerStub.sol";
import {ForwarderGuardedTarget, RevertingTarget, ReentrantOwnerTarget, EtherRefuser} from "../utils/JobTargets.sol";

contract JobManagerTest is Test {
    JobManager internal jm;
    /// The task manager: a stub keeping the count of fees charged, which `_run` adds each charge to.
    address internal taskManager = address(new FeeLedgerStub());
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    ForwarderGuardedTarget internal target;

    uint64 internal constant START = 1_000_000;

    function setUp() public {
        vm.warp(START);
        // The job manager's deployer is its task manager.
        vm.prank(taskManager);
        jm = new JobManager();
        // The forwarder of job 1 is known before the job exists.
        target = new ForwarderGuardedTarget(jm.forwarderOf(1));
        vm.deal(alice, 100 ether);
        vm.deal(bob, 100 ether);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function _spec() internal view returns (JobSpec memory) {
        return JobSpecs.hourly(START, address(target));
    }

    function _create(uint256 deposit) internal returns (uint256) {
        vm.prank(alice);
        return jm.createJob{value: deposit}(_spec());
    }

    function _expectInvalid(JobSpec memory spec, SpecField field, SpecFault fault) internal {
        vm.expectRevert(abi.encodeWithSelector(IJobManager.InvalidSpec.selector, field, fault));
        vm.prank(alice);
        jm.createJob(spec);
    }

    /// @dev `runTask` as the task manager, under the job's current spec.
    function _run(uint256 jobId, uint64 sequence, TaskMode mode, address to, bytes memory data, uint256 premium)
        internal
        returns (TaskOutcome outcome, bool success, uint256 gasUsed, uint256 charged)
    {
        bytes32 specHash = jm.specHashOf(jobId);
        vm.prank(taskManager);
        (outcome, success, gasUsed, charged) = jm.runTask(jobId, specHash, sequence, mode, to, data, 50_000, premium);
        FeeLedgerStub(taskManager).credit(charged);
    }

    /// @dev Charges `fee` (capped by max fee) as the premium of a task on a target without code (no gas used).
    function _charge(uint256 jobId, uint64 sequence, uint256 fee) internal returns (uint256 charged) {
        TaskOutcome outcome;
        (outcome,,, charged) = _run(jobId, sequence, TaskMode.Perform, address(0xBEEF), "", fee);
        assertEq(uint8(outcome), uint8(TaskOutcome.Done));
    }

    function _assertOutcome(TaskOutcome actual, TaskOutcome expected) internal pure {
        assertEq(uint8(actual), uint8(expected));
    }

    function _expectStatus(uint256 jobId, JobStatus status) internal {
        vm.expectRevert(abi.encodeWithSelector(IJobManager.InvalidJobStatus.selector, jobId, status));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Construction and the task manager
    // ---------------------------------------------------------------------------------------------------------

    function test_constructor_setsState() public {
        JobManager fresh = new JobManager();
        assertEq(fresh.taskManager(), address(this));
        assertEq(fresh.nextJobId(), 1);
        assertEq(fresh.forwarderInitCodeHash(), keccak256(type(JobForwarder).creationCode));
    }

    /// The deployer is the task manager for good: no one else may run tasks or withdraw fees, the deployer included
    /// once it is not the caller (no setter exists to change it).
    function test_constructor_deployerIsTheTaskManager() public {
        assertEq(jm.taskManager(), taskManager);
        assertEq(jm.accruedFees(), 0);
        assertEq(jm.totalEscrow(), 0);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.NotTaskManager.selector, address(this)));
        jm.runTask(1, bytes32(0), 0, TaskMode.Check, address(0), "", 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.NotTaskManager.selector, address(this)));
        jm.withdrawFees(bob, 0);
    }

    function test_receive_reverts() public {
        vm.prank(alice);
        (bool ok,) = address(jm).call{value: 1 ether}("");
        assertFalse(ok);
    }

    // ---------------------------------------------------------------------------------------------------------
    // createJob
    // ---------------------------------------------------------------------------------------------------------

    function test_createJob_storesStateDeploysForwarderAndEmits() public {
        JobSpec memory spec = _spec();
        bytes32 specHash = keccak256(abi.encode(spec));
        address forwarder = jm.forwarderOf(1);
        assertEq(forwarder.code.length, 0);

        vm.expectEmit(address(jm));
        emit IJobManager.JobCreated(1, alice, forwarder, specHash, 1 ether, spec);
        vm.prank(alice);
        uint256 jobId = jm.createJob{value: 1 ether}(spec);

        assertEq(jobId, 1);
        assertEq(jm.nextJobId(), 2);
        JobState memory state = jm.jobState(jobId);
        assertEq(state.balance, 1 ether);
        assertEq(state.maxFee, spec.maxFee);
        assertEq(state.nextSequence, 0);
        assertEq(uint8(state.status), uint8(JobStatus.Active));
        assertEq(jm.jobOwner(jobId), alice);
        assertEq(jm.specHashOf(jobId), specHash);
        assertTrue(jm.isCurrentSpec(jobId, spec));
        assertEq(jm.totalEscrow(), 1 ether);
        assertEq(address(jm).balance, 1 ether);
        assertGt(forwarder.code.length, 0);
        assertEq(JobForwarder(forwarder).jobManager(), address(jm));
    }

    function test_createJob_zeroDepositAndIncreasingIds() public {
        assertEq(_create(0), 1);
        assertEq(_create(0), 2);
        assertEq(jm.jobState(2).balance, 0);
        assertTrue(jm.forwarderOf(1) != jm.forwarderOf(2));
    }

    /// The documented derivation: CREATE2(jobManager, salt = bytes32(jobId), keccak256(JobForwarder creation code)).
    function testFuzz_forwarderOf_matchesCreate2(uint256 jobId) public view {
        bytes32 initCodeHash = keccak256(type(JobForwarder).creationCode);
        assertEq(jm.forwarderOf(jobId), vm.computeCreate2Address(bytes32(jobId), initCodeHash, address(jm)));
        address manual = address(
            uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(jm), bytes32(jobId), initCodeHash))))
        );
        assertEq(jm.forwarderOf(jobId), manual);
    }

    function test_createJob_everyKind() public {
        vm.startPrank(alice);
        jm.createJob(JobSpecs.spec(JobSpecs.blockTrigger(10, 5), JobSpecs.callAction(address(target), "")));
        Trigger memory eventTrigger =
            JobSpecs.eventTrigger(0, address(0xE), keccak256("Transfer(address,address,uint256)"));
        eventTrigger.topicMask = 0x0b; // topic0, topic1 (a zero value: mints) and topic3
        eventTrigger.topics[3] = bytes32(uint256(7));
        jm.createJob(JobSpecs.spec(eventTrigger, JobSpecs.upkeepAction(address(target), hex"1234")));
        jm.createJob(
            JobSpecs.spec(
                JobSpecs.intervalTrigger(START, 60),
                JobSpecs.resolverAction(address(target), address(0xA), abi.encodeWithSignature("checker()"))
            )
        );
        jm.createJob(
            JobSpecs.spec(
                JobSpecs.intervalTrigger(START, 60),
                JobSpecs.scriptAction(address(target), "ipfs://bafy", keccak256("wasm"), hex"00")
            )
        );
        vm.stopPrank();
        assertEq(jm.nextJobId(), 5);
    }

    function test_createJob_boundsAreInclusive() public {
        JobSpec memory spec = _spec();
        spec.gasLimit = jm.MIN_GAS_LIMIT();
        spec.action.data = new bytes(jm.MAX_ACTION_DATA_LENGTH());
        spec.expiry = uint40(block.timestamp + 1);
        spec.trigger.start = uint64(block.timestamp + 1); // expiry == start is allowed
        vm.prank(alice);
        jm.createJob(spec);

        spec.gasLimit = jm.MAX_GAS_LIMIT();
        spec.action = JobSpecs.scriptAction(address(target), string(new bytes(512)), bytes32(uint256(1)), "");
        spec.maxFee = type(uint80).max;
        vm.prank(alice);
        jm.createJob(spec);
    }

    function test_createJob_revertsOnInvalidTrigger() public {
        JobSpec memory spec = _spec();
        spec.trigger.period = 0;
        _expectInvalid(spec, SpecField.TriggerPeriod, SpecFault.Missing);

        spec = _spec();
        spec.trigger.emitter = address(1);
        _expectInvalid(spec, SpecField.TriggerEmitter, SpecFault.NotAllowed);

        spec = _spec();
        spec.trigger.topicMask = 1;
        _expectInvalid(spec, SpecField.TriggerTopics, SpecFault.NotAllowed);

        spec = _spec();
        spec.trigger.topics[2] = bytes32(uint256(1));
        _expectInvalid(spec, SpecField.TriggerTopics, SpecFault.NotAllowed);

        spec = _spec();
        spec.trigger.kind = TriggerKind.Block;
        spec.trigger.period = 0;
        _expectInvalid(spec, SpecField.TriggerPeriod, SpecFault.Missing);

        spec.trigger = JobSpecs.eventTrigger(0, address(0xE), bytes32(uint256(1)));
        spec.trigger.period = 1;
        _expectInvalid(spec, SpecField.TriggerPeriod, SpecFault.NotAllowed);

        spec.trigger = JobSpecs.eventTrigger(0, address(0), bytes32(uint256(1)));
        _expectInvalid(spec, SpecField.TriggerEmitter, SpecFault.Missing);

        spec.trigger = JobSpecs.eventTrigger(0, address(0xE), bytes32(uint256(1)));
        spec.trigger.topicMask = 0x10;
        _expectInvalid(spec, SpecField.TriggerTopics, SpecFault.Malformed);

        spec.trigger.topicMask = 0x02;
        _expectInvalid(spec, SpecField.TriggerTopics, SpecFault.Missing);

        spec.trigger.topicMask = 0x01;
        spec.trigger.topics[1] = bytes32(uint256(5));
        _expectInvalid(spec, SpecField.TriggerTopics, SpecFault.Malformed);
    }

    function test_createJob_revertsOnInvalidAction() public {
        JobSpec memory spec = _spec();
        spec.action.target = address(0);
        _expectInvalid(spec, SpecField.ActionTarget, SpecFault.Missing);

        spec.action.target = address(jm);
        _expectInvalid(spec, SpecField.ActionTarget, SpecFault.NotAllowed);

        spec = _spec();
        spec.action.data = new bytes(4097);
        _expectInvalid(spec, SpecField.ActionData, SpecFault.TooLarge);

        spec = _spec();
        spec.action.resolver = address(1);
        _expectInvalid(spec, SpecField.ActionResolver, SpecFault.NotAllowed);

        spec.action = JobSpecs.resolverAction(address(target), address(0), hex"01020304");
        _expectInvalid(spec, SpecField.ActionResolver, SpecFault.Missing);

        spec.action = JobSpecs.resolverAction(address(target), address(1), hex"010203");
        _expectInvalid(spec, SpecField.ActionData, SpecFault.TooSmall);

        spec = _spec();
        spec.action.codeUrl = "ipfs://x";
        _expectInvalid(spec, SpecField.ActionCodeUrl, SpecFault.NotAllowed);

        spec = _spec();
        spec.action.codeHash = bytes32(uint256(1));
        _expectInvalid(spec, SpecField.ActionCodeHash, SpecFault.NotAllowed);

        spec.action = JobSpecs.scriptAction(address(target), "", bytes32(uint256(1)), "");
        _expectInvalid(spec, SpecField.ActionCodeUrl, SpecFault.Missing);

        spec.action = JobSpecs.scriptAction(address(target), string(new bytes(513)), bytes32(uint256(1)), "");
        _expectInvalid(spec, SpecField.ActionCodeUrl, SpecFault.TooLarge);

        spec.action = JobSpecs.scriptAction(address(target), "ipfs://x", bytes32(0), "");
        _expectInvalid(spec, SpecField.ActionCodeHash, SpecFault.Missing);
    }

    function test_createJob_revertsOnInvalidLimits() public {
        JobSpec memory spec = _spec();
        spec.gasLimit = 20_999;
        _expectInvalid(spec, SpecField.GasLimit, SpecFault.TooSmall);

        spec.gasLimit = 5_000_001;
        _expectInvalid(spec, SpecField.GasLimit, SpecFault.TooLarge);

        spec = _spec();
        spec.maxFee = 0;
        _expectInvalid(spec, SpecField.MaxFee, SpecFault.Missing);

        spec = _spec();
        spec.expiry = uint40(block.timestamp);
        _expectInvalid(spec, SpecField.Expiry, SpecFault.TooSmall);

        spec.trigger.start = uint64(block.timestamp + 100);
        spec.expiry = uint40(block.timestamp + 99);
        _expectInvalid(spec, SpecField.Expiry, SpecFault.TooSmall);
    }

    function test_createJob_revertsOnBalanceOverflow() public {
        uint256 tooMuch = uint256(type(uint96).max) + 1;
        vm.deal(alice, tooMuch);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.BalanceOverflow.selector, 1, tooMuch));
        vm.prank(alice);
        jm.createJob{value: tooMuch}(_spec());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Spec validation, fuzzed against an independent reference
    // ---------------------------------------------------------------------------------------------------------

    struct RawSpec {
        uint8 triggerKind;
        uint64 start;
        uint64 period;
        address emitter;
        uint8 topicMask;
        bytes32 topic;
        uint8 topicSlot;
        uint8 actionKind;
        address actionTarget;
        uint16 dataLength;
        address resolver;
        uint16 urlLength;
        bytes32 codeHash;
        uint32 gasLimit;
        uint80 maxFee;
        uint40 expiry;
    }

    /// Each field is valid-looking half of the time and arbitrary otherwise, so that every check is reached.
    function testFuzz_createJob_validation(RawSpec memory raw, uint256 seed) public {
        JobSpec memory spec = _specFrom(raw, seed);
        (bool valid, SpecField field, SpecFault fault) = _reference(spec);
        vm.prank(alice);
        if (valid) {
            uint256 jobId = jm.createJob(spec);
            assertTrue(jm.isCurrentSpec(jobId, spec));
        } else {
            vm.expectRevert(abi.encodeWithSelector(IJobManager.InvalidSpec.selector, field, fault));
            jm.createJob(spec);
        }
    }

    function _pick(uint256 seed, uint256 i) internal pure returns (bool) {
        return (seed >> i) & 1 == 1;
    }

    function _specFrom(RawSpec memory raw, uint256 seed) internal view returns (JobSpec memory spec) {
        Trigger memory t;
        t.kind = TriggerKind(raw.triggerKind % 3);
        bool isEvent = t.kind == TriggerKind.Event;
        t.start = _pick(seed, 0) ? raw.start : uint64(block.timestamp);
        t.period = _pick(seed, 1) ? raw.period : (isEvent ? 0 : 60);
        t.emitter = _pick(seed, 2) ? raw.emitter : (isEvent ? address(0xE) : address(0));
        t.topicMask = _pick(seed, 3) ? raw.topicMask : (isEvent ? 1 : 0);
        if (_pick(seed, 4)) t.topics[raw.topicSlot % 4] = raw.topic;
        spec.trigger = t;

        Action memory a;
        a.kind = ActionKind(raw.actionKind % 4);
        a.target = _pick(seed, 5) ? raw.actionTarget : address(target);
        if (_pick(seed, 6) && _pick(seed, 14) && _pick(seed, 15)) a.target = address(jm);
        a.data = new bytes(_pick(seed, 7) ? raw.dataLength % 5000 : 4);
        a.resolver = _pick(seed, 8) ? raw.resolver : (a.kind == ActionKind.GelatoResolver ? address(0xA) : address(0));
        bool isScript = a.kind == ActionKind.Script;
        a.codeUrl = string(new bytes(_pick(seed, 9) ? raw.urlLength % 600 : (isScript ? 10 : 0)));
        a.codeHash = _pick(seed, 10) ? raw.codeHash : (isScript ? bytes32(uint256(1)) : bytes32(0));
        spec.action = a;

        spec.gasLimit = _pick(seed, 11) ? raw.gasLimit : 100_000;
        spec.maxFee = _pick(seed, 12) ? raw.maxFee : 1 gwei;
        spec.expiry = _pick(seed, 13) ? raw.expiry : 0;
    }

    /// The rules of `InvalidSpec`, in the documented order, written independently of the contract.
    function _reference(JobSpec memory s) internal view returns (bool, SpecField, SpecFault) {
        Trigger memory t = s.trigger;
        if (t.kind == TriggerKind.Event) {
            if (t.period != 0) return (false, SpecField.TriggerPeriod, SpecFault.NotAllowed);
            if (t.emitter == address(0)) return (false, SpecField.TriggerEmitter, SpecFault.Missing);
            if (t.topicMask >= 16) return (false, SpecField.TriggerTopics, SpecFault.Malformed);
            if (t.topicMask % 2 == 0) return (false, SpecField.TriggerTopics, SpecFault.Missing);
            for (uint256 i = 1; i < 4; ++i) {
                bool filtered = (t.topicMask / (2 ** i)) % 2 == 1;
                if (!filtered && t.topics[i] != 0) return (false, SpecField.TriggerTopics, SpecFault.Malformed);
            }
        } else {
            if (t.period == 0) return (false, SpecField.TriggerPeriod, SpecFault.Missing);
            if (t.emitter != address(0)) return (false, SpecField.TriggerEmitter, SpecFault.NotAllowed);
            bool anyTopic = t.topics[0] != 0 || t.topics[1] != 0 || t.topics[2] != 0 || t.topics[3] != 0;
            if (t.topicMask != 0 || anyTopic) return (false, SpecField.TriggerTopics, SpecFault.NotAllowed);
        }
        Action memory a = s.action;
        if (a.target == address(0)) return (false, SpecField.ActionTarget, SpecFault.Missing);
        if (a.target == address(jm)) return (false, SpecField.ActionTarget, SpecFault.NotAllowed);
        if (a.data.length > 4096) return (false, SpecField.ActionData, SpecFault.TooLarge);
        if (a.kind == ActionKind.GelatoResolver) {
            if (a.data.length < 4) return (false, SpecField.ActionData, SpecFault.TooSmall);
            if (a.resolver == address(0)) return (false, SpecField.ActionResolver, SpecFault.Missing);
        } else if (a.resolver != address(0)) {
            return (false, SpecField.ActionResolver, SpecFault.NotAllowed);
        }
        uint256 urlLength = bytes(a.codeUrl).length;
        if (a.kind == ActionKind.Script) {
            if (urlLength == 0) return (false, SpecField.ActionCodeUrl, SpecFault.Missing);
            if (urlLength > 512) return (false, SpecField.ActionCodeUrl, SpecFault.TooLarge);
            if (a.codeHash == 0) return (false, SpecField.ActionCodeHash, SpecFault.Missing);
        } else {
            if (urlLength != 0) return (false, SpecField.ActionCodeUrl, SpecFault.NotAllowed);
            if (a.codeHash != 0) return (false, SpecField.ActionCodeHash, SpecFault.NotAllowed);
        }
        if (s.gasLimit < 21_000) return (false, SpecField.GasLimit, SpecFault.TooSmall);
        if (s.gasLimit > 5_000_000) return (false, SpecField.GasLimit, SpecFault.TooLarge);
        if (s.maxFee == 0) return (false, SpecField.MaxFee, SpecFault.Missing);
        if (s.expiry != 0) {
            // forge-lint: disable-next-line(block-timestamp)
            if (s.expiry <= block.timestamp) return (false, SpecField.Expiry, SpecFault.TooSmall);
            if (t.kind == TriggerKind.Interval && s.expiry < t.start) {
                return (false, SpecField.Expiry, SpecFault.TooSmall);
            }
        }
        return (true, SpecField.TriggerPeriod, SpecFault.Missing);
    }

    // ---------------------------------------------------------------------------------------------------------
    // updateJob
    // ---------------------------------------------------------------------------------------------------------

    function test_updateJob_replacesSpecAndEmits() public {
        uint256 jobId = _create(1 ether);
        JobSpec memory spec = _spec();
        spec.action = JobSpecs.upkeepAction(address(target), hex"beef");
        spec.maxFee = 1 gwei;
        spec.gasLimit = 1_000_000;
        spec.expiry = uint40(block.timestamp + 1 days);
        bytes32 specHash = keccak256(abi.encode(spec));

        vm.expectEmit(address(jm));
        emit IJobManager.JobUpdated(jobId, specHash, spec);
        vm.prank(alice);
        jm.updateJob(jobId, spec);

        assertEq(jm.specHashOf(jobId), specHash);
        assertTrue(jm.isCurrentSpec(jobId, spec));
        assertFalse(jm.isCurrentSpec(jobId, _spec()));
        JobState memory state = jm.jobState(jobId);
        assertEq(state.maxFee, 1 gwei);
        assertEq(state.balance, 1 ether);
    }

    function test_updateJob_worksWhilePaused() public {
        uint256 jobId = _create(0);
        vm.startPrank(alice);
        jm.pauseJob(jobId);
        JobSpec memory spec = _spec();
        spec.maxFee = 5;
        jm.updateJob(jobId, spec);
        vm.stopPrank();
        assertEq(jm.jobState(jobId).maxFee, 5);
        assertEq(uint8(jm.jobState(jobId).status), uint8(JobStatus.Paused));
    }

    function test_updateJob_reverts() public {
        uint256 jobId = _create(0);
        JobSpec memory spec = _spec();

        vm.expectRevert(abi.encodeWithSelector(IJobManager.JobNotFound.selector, 9));
        vm.prank(alice);
        jm.updateJob(9, spec);

        vm.expectRevert(abi.encodeWithSelector(IJobManager.NotJobOwner.selector, jobId, bob));
        vm.prank(bob);
        jm.updateJob(jobId, spec);

        spec.trigger.period = 60;
        vm.expectRevert(abi.encodeWithSelector(IJobManager.TriggerImmutable.selector, jobId));
        vm.prank(alice);
        jm.updateJob(jobId, spec);

        spec = _spec();
        spec.gasLimit = 1;
        vm.expectRevert(
            abi.encodeWithSelector(IJobManager.InvalidSpec.selector, SpecField.GasLimit, SpecFault.TooSmall)
        );
        vm.prank(alice);
        jm.updateJob(jobId, spec);

        vm.prank(alice);
        jm.cancelJob(jobId);
        _expectStatus(jobId, JobStatus.Cancelled);
        vm.prank(alice);
        jm.updateJob(jobId, _spec());
    }

    // ---------------------------------------------------------------------------------------------------------
    // pauseJob / resumeJob
    // ---------------------------------------------------------------------------------------------------------

    function test_pauseAndResume() public {
        uint256 jobId = _create(0);
        vm.expectEmit(address(jm));
        emit IJobManager.JobPaused(jobId);
        vm.prank(alice);
        jm.pauseJob(jobId);
        assertEq(uint8(jm.jobState(jobId).status), uint8(JobStatus.Paused));

        vm.expectEmit(address(jm));
        emit IJobManager.JobResumed(jobId);
        vm.prank(alice);
        jm.resumeJob(jobId);
        assertEq(uint8(jm.jobState(jobId).status), uint8(JobStatus.Active));
    }

    function test_pauseJob_reverts() public {
        uint256 jobId = _create(0);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.JobNotFound.selector, 2));
        vm.prank(alice);
        jm.pauseJob(2);

        vm.expectRevert(abi.encodeWithSelector(IJobManager.NotJobOwner.selector, jobId, bob));
        vm.prank(bob);
        jm.pauseJob(jobId);

        vm.startPrank(alice);
        jm.pauseJob(jobId);
        _expectStatus(jobId, JobStatus.Paused);
        jm.pauseJob(jobId);
        jm.cancelJob(jobId);
        _expectStatus(jobId, JobStatus.Cancelled);
        jm.pauseJob(jobId);
        vm.stopPrank();
    }

    function test_resumeJob_reverts() public {
        uint256 jobId = _create(0);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.JobNotFound.selector, 2));
        vm.prank(alice);
        jm.resumeJob(2);

        vm.prank(alice);
        jm.pauseJob(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.NotJobOwner.selector, jobId, bob));
        vm.prank(bob);
        jm.resumeJob(jobId);

        vm.startPrank(alice);
        jm.resumeJob(jobId);
        _expectStatus(jobId, JobStatus.Active);
        jm.resumeJob(jobId);
        jm.cancelJob(jobId);
        _expectStatus(jobId, JobStatus.Cancelled);
        jm.resumeJob(jobId);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------------------------------
    // cancelJob
    // ---------------------------------------------------------------------------------------------------------

    function test_cancelJob_refundsOwnerAndEmits() public {
        uint256 jobId = _create(3 ether);
        _charge(jobId, 0, 0.01 ether);
        uint256 before = alice.balance;

        vm.expectEmit(address(jm));
        emit IJobManager.JobCancelled(jobId, alice, 2.99 ether);
        vm.prank(alice);
        assertEq(jm.cancelJob(jobId), 2.99 ether);

        assertEq(alice.balance, before + 2.99 ether);
        JobState memory state = jm.jobState(jobId);
        assertEq(state.balance, 0);
        assertEq(uint8(state.status), uint8(JobStatus.Cancelled));
        assertEq(jm.totalEscrow(), 0);
        assertEq(address(jm).balance, 0.01 ether);
    }

    function test_cancelJob_pausedAndEmpty() public {
        uint256 jobId = _create(0);
        vm.startPrank(alice);
        jm.pauseJob(jobId);
        assertEq(jm.cancelJob(jobId), 0);
        vm.stopPrank();
    }

    function test_cancelJob_reverts() public {
        uint256 jobId = _create(1 ether);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.JobNotFound.selector, 2));
        vm.prank(alice);
        jm.cancelJob(2);

        vm.expectRevert(abi.encodeWithSelector(IJobManager.NotJobOwner.selector, jobId, bob));
        vm.prank(bob);
        jm.cancelJob(jobId);

        vm.startPrank(alice);
        jm.cancelJob(jobId);
        _expectStatus(jobId, JobStatus.Cancelled);
        jm.cancelJob(jobId);
        vm.stopPrank();
    }

    function test_cancelJob_revertsWhenRefundFails() public {
        EtherRefuser refuser = new EtherRefuser();
        vm.deal(address(refuser), 1 ether);
        bytes memory ret = refuser.exec{value: 1 ether}(address(jm), abi.encodeCall(IJobManager.createJob, (_spec())));
        uint256 jobId = abi.decode(ret, (uint256));
        vm.expectRevert(abi.encodeWithSelector(IJobManager.TransferFailed.selector, address(refuser), 1 ether));
        refuser.exec(address(jm), abi.encodeCall(IJobManager.cancelJob, (jobId)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // topUp
    // ---------------------------------------------------------------------------------------------------------

    function test_topUp_byAnyoneAndEmits() public {
        uint256 jobId = _create(1 ether);
        vm.expectEmit(address(jm));
        emit IJobManager.JobToppedUp(jobId, bob, 2 ether, 3 ether);
        vm.prank(bob);
        jm.topUp{value: 2 ether}(jobId);
        assertEq(jm.jobState(jobId).balance, 3 ether);
        assertEq(jm.totalEscrow(), 3 ether);

        vm.prank(alice);
        jm.pauseJob(jobId);
        vm.prank(bob);
        jm.topUp{value: 1}(jobId);
        assertEq(jm.jobState(jobId).balance, 3 ether + 1);
    }

    function test_topUp_reverts() public {
        uint256 jobId = _create(0);
        vm.expectRevert(IJobManager.ZeroDeposit.selector);
        vm.prank(bob);
        jm.topUp(jobId);

        vm.expectRevert(abi.encodeWithSelector(IJobManager.JobNotFound.selector, 2));
        vm.prank(bob);
        jm.topUp{value: 1}(2);

        uint256 tooMuch = type(uint96).max;
        vm.deal(bob, tooMuch + 1);
        vm.prank(bob);
        jm.topUp{value: tooMuch}(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.BalanceOverflow.selector, jobId, tooMuch + 1));
        vm.prank(bob);
        jm.topUp{value: 1}(jobId);

        vm.prank(alice);
        jm.cancelJob(jobId);
        _expectStatus(jobId, JobStatus.Cancelled);
        vm.prank(bob);
        jm.topUp{value: 1}(jobId);
    }

    // ---------------------------------------------------------------------------------------------------------
    // runTask
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_runTask_chargesMinOfPremiumAndMaxFeeOrIsUnfunded(uint96 deposit, uint80 maxFee, uint128 fee)
        public
    {
        deposit = uint96(bound(deposit, 0, 50 ether));
        JobSpec memory spec = _spec();
        spec.maxFee = uint80(bound(maxFee, 1, type(uint80).max));
        vm.prank(alice);
        uint256 jobId = jm.createJob{value: deposit}(spec);

        uint256 worst = fee < spec.maxFee ? fee : spec.maxFee;
        (TaskOutcome outcome,,, uint256 charged) = _run(jobId, 0, TaskMode.Perform, address(0xBEEF), "", fee);
        if (deposit == 0 || deposit < worst) {
            _assertOutcome(outcome, TaskOutcome.Unfunded);
            assertEq(jm.jobState(jobId).nextSequence, 0);
            worst = 0;
        } else {
            _assertOutcome(outcome, TaskOutcome.Done);
            assertEq(jm.jobState(jobId).nextSequence, 1);
        }
        assertEq(charged, worst);
        assertEq(jm.jobState(jobId).balance, deposit - worst);
        assertEq(jm.accruedFees(), worst);
        assertEq(jm.totalEscrow(), deposit - worst);
        assertEq(address(jm).balance, jm.totalEscrow() + jm.accruedFees());
    }

    /// The charge is gas used x gas price + premium, capped by max fee; the worst case decides whether it runs.
    /// The task manager prices the gas (`pricing = gasPrice << 128 | overheadFee`); `tx.gasprice` plays no part.
    function test_runTask_chargesGasAtThePriceGiven() public {
        uint256 jobId = _create(1 ether);
        vm.txGasPrice(1000 gwei);
        (TaskOutcome outcome, bool success, uint256 gasUsed, uint256 charged) = _run(
            jobId, 0, TaskMode.Perform, address(target), abi.encodeWithSignature("work()"), _pricing(10 gwei, 1 gwei)
        );
        _assertOutcome(outcome, TaskOutcome.Done);
        assertTrue(success);
        assertGt(gasUsed, 0);
        assertEq(charged, gasUsed * 10 gwei + 1 gwei);

        // 50,000 gas at 1,000 gwei is 0.05 ether, above max fee (0.01 ether): the worst case is max fee, which the
        // escrow holds, so the task runs; the charge is what it used, capped by max fee.
        (,, gasUsed, charged) = _run(
            jobId, 1, TaskMode.Perform, address(target), abi.encodeWithSignature("work()"), _pricing(1000 gwei, 0)
        );
        assertEq(charged, gasUsed * 1000 gwei);
        (,,, charged) = _run(
            jobId, 2, TaskMode.Perform, address(target), abi.encodeWithSignature("work()"), _pricing(1000 gwei, 1 ether)
        );
        assertEq(charged, JobSpecs.MAX_FEE);
    }

    function _pricing(uint256 gasPrice, uint256 overheadFee) internal pure returns (uint256) {
        return (gasPrice << 128) | overheadFee;
    }

    function test_runTask_performsChargesAndAdvancesWatermark() public {
        uint256 jobId = _create(1 ether);
        uint256 escrow = jm.totalEscrow();
        uint256 fees = jm.accruedFees();
        // A target without code: the call fails and uses no gas, so the charge is the premium alone.
        (TaskOutcome outcome, bool success, uint256 gasUsed, uint256 charged) =
            _run(jobId, 0, TaskMode.Perform, address(0xBEEF), hex"c0ffee00", 0.001 ether);
        _assertOutcome(outcome, TaskOutcome.Done);
        assertFalse(success);
        assertEq(gasUsed, 0);
        assertEq(charged, 0.001 ether);
        JobState memory state = jm.jobState(jobId);
        assertEq(state.nextSequence, 1);
        assertEq(state.balance, 1 ether - 0.001 ether);
        assertEq(jm.totalEscrow(), escrow - 0.001 ether);
        assertEq(jm.accruedFees(), fees + 0.001 ether);

        // Capped by maxFee; skipping ahead is allowed, and what is skipped over can never run.
        assertEq(_charge(jobId, 3, 1 ether), 0.01 ether);
        assertEq(jm.jobState(jobId).nextSequence, 4);
        for (uint64 s = 0; s < 4; ++s) {
            (outcome,,, charged) = _run(jobId, s, TaskMode.Perform, address(target), "", 1);
            _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
            assertEq(charged, 0);
            (outcome,,,) = _run(jobId, s, TaskMode.Consume, address(0), "", 0);
            _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
        }
        assertEq(target.count(), 0);
        assertEq(jm.jobState(jobId).balance, 1 ether - 0.011 ether);
    }

    function test_runTask_consumeAdvancesWatermarkWithoutCallOrCharge() public {
        uint256 jobId = _create(0);
        (TaskOutcome outcome, bool success, uint256 gasUsed, uint256 charged) =
            _run(jobId, 5, TaskMode.Consume, address(target), abi.encodeWithSignature("work()"), 1 ether);
        _assertOutcome(outcome, TaskOutcome.Done);
        assertFalse(success);
        assertEq(gasUsed, 0);
        assertEq(charged, 0);
        assertEq(target.count(), 0);
        assertEq(jm.jobState(jobId).nextSequence, 6);
        // An empty escrow does not stop a consume.
        (outcome,,,) = _run(jobId, 6, TaskMode.Consume, address(0), "", 0);
        _assertOutcome(outcome, TaskOutcome.Done);
    }

    function test_runTask_largestSequenceNeverRuns() public {
        uint256 jobId = _create(1 ether);
        (TaskOutcome outcome,,,) = _run(jobId, type(uint64).max, TaskMode.Consume, address(0), "", 0);
        _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
        (outcome,,,) = _run(jobId, type(uint64).max, TaskMode.Perform, address(target), "", 0);
        _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
        (outcome,,,) = _run(jobId, type(uint64).max - 1, TaskMode.Consume, address(0), "", 0);
        _assertOutcome(outcome, TaskOutcome.Done);
        assertEq(jm.jobState(jobId).nextSequence, type(uint64).max);
        (outcome,,,) = _run(jobId, type(uint64).max, TaskMode.Consume, address(0), "", 0);
        _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
    }

    function test_runTask_checkReportsSpecAndStatusOnly() public {
        uint256 jobId = _create(0);
        // Check ignores watermark and funds (this escrow is empty), and writes nothing.
        _run(jobId, 0, TaskMode.Consume, address(0), "", 0);
        vm.record();
        (TaskOutcome outcome,,,) = _run(jobId, 0, TaskMode.Check, address(target), "", 1 ether);
        (, bytes32[] memory writes) = vm.accesses(address(jm));
        _assertOutcome(outcome, TaskOutcome.Done);
        assertEq(writes.length, 0);
        assertEq(target.count(), 0);
        vm.prank(alice);
        jm.pauseJob(jobId);
        (outcome,,,) = _run(jobId, 1, TaskMode.Check, address(target), "", 0);
        _assertOutcome(outcome, TaskOutcome.JobNotActive);
        vm.prank(alice);
        jm.cancelJob(jobId);
        (outcome,,,) = _run(jobId, 1, TaskMode.Check, address(target), "", 0);
        _assertOutcome(outcome, TaskOutcome.JobNotActive);
    }

    function test_runTask_statusAndSpecOutcomes() public {
        uint256 jobId = _create(1 ether);
        bytes32 specHash = jm.specHashOf(jobId);
        TaskOutcome outcome;

        // Unknown job, and a hash that is not the current spec's.
        vm.startPrank(taskManager);
        (outcome,,,) = jm.runTask(2, specHash, 0, TaskMode.Perform, address(target), "", 50_000, 0);
        _assertOutcome(outcome, TaskOutcome.SpecMismatch);
        (outcome,,,) = jm.runTask(jobId, bytes32(0), 0, TaskMode.Perform, address(target), "", 50_000, 0);
        _assertOutcome(outcome, TaskOutcome.SpecMismatch);
        (outcome,,,) = jm.runTask(jobId, keccak256("other"), 0, TaskMode.Check, address(target), "", 50_000, 0);
        _assertOutcome(outcome, TaskOutcome.SpecMismatch);
        vm.stopPrank();

        // After an update the previous spec's hash finds nothing, and the state moved to the new one.
        JobSpec memory spec = _spec();
        spec.gasLimit = 60_000;
        vm.prank(alice);
        jm.updateJob(jobId, spec);
        vm.prank(taskManager);
        (outcome,,,) = jm.runTask(jobId, specHash, 0, TaskMode.Perform, address(target), "", 50_000, 0);
        _assertOutcome(outcome, TaskOutcome.SpecMismatch);
        assertEq(_charge(jobId, 0, 0.001 ether), 0.001 ether);
        assertEq(jm.jobState(jobId).balance, 1 ether - 0.001 ether);

        // Paused and cancelled jobs do nothing.
        vm.prank(alice);
        jm.pauseJob(jobId);
        (outcome,,,) = _run(jobId, 1, TaskMode.Perform, address(target), "", 0);
        _assertOutcome(outcome, TaskOutcome.JobNotActive);
        (outcome,,,) = _run(jobId, 1, TaskMode.Consume, address(target), "", 0);
        _assertOutcome(outcome, TaskOutcome.JobNotActive);
        vm.prank(alice);
        jm.cancelJob(jobId);
        (outcome,,,) = _run(jobId, 1, TaskMode.Perform, address(target), "", 0);
        _assertOutcome(outcome, TaskOutcome.JobNotActive);
        assertEq(jm.jobState(jobId).nextSequence, 1);
        assertEq(target.count(), 0);
    }

    function test_runTask_unfundedDoesNothing() public {
        uint256 jobId = _create(0);
        (TaskOutcome outcome,,,) = _run(jobId, 0, TaskMode.Perform, address(target), "", 0);
        _assertOutcome(outcome, TaskOutcome.Unfunded);
        vm.prank(bob);
        jm.topUp{value: 0.001 ether}(jobId);
        (outcome,,,) = _run(jobId, 0, TaskMode.Perform, address(target), "", 0.001 ether + 1);
        _assertOutcome(outcome, TaskOutcome.Unfunded);
        assertEq(jm.jobState(jobId).nextSequence, 0);
        assertEq(target.count(), 0);
        (outcome,,,) = _run(jobId, 0, TaskMode.Perform, address(target), abi.encodeWithSignature("work()"), 0.001 ether);
        _assertOutcome(outcome, TaskOutcome.Done);
        assertEq(target.count(), 1);
        assertEq(jm.jobState(jobId).balance, 0);
    }

    function test_runTask_reverts() public {
        uint256 jobId = _create(1 ether);
        bytes32 specHash = jm.specHashOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.NotTaskManager.selector, alice));
        vm.prank(alice);
        jm.runTask(jobId, specHash, 0, TaskMode.Perform, address(target), "", 50_000, 0);

        // The forwarder's own check fails cleanly and the revert reaches the task manager.
        vm.prank(taskManager);
        try jm.runTask(jobId, specHash, 0, TaskMode.Perform, address(target), "", uint256(type(uint64).max) + 1, 0) {
            fail();
        } catch (bytes memory reason) {
            // casting to 'bytes4' is safe because it keeps the selector, the first 4 bytes of the reason
            // forge-lint: disable-next-line(unsafe-typecast)
            assertEq(bytes4(reason), JobForwarder.InsufficientGas.selector);
        }
    }

    function test_runTask_callsTargetFromTheJobsForwarder() public {
        uint256 jobId = _create(1 ether);
        JobSpec memory spec = _spec();
        (, bool success, uint256 gasUsed,) = _run(jobId, 0, TaskMode.Perform, spec.action.target, spec.action.data, 0);
        assertTrue(success);
        assertGt(gasUsed, 0);
        assertEq(target.count(), 1);
        assertEq(target.lastCaller(), jm.forwarderOf(jobId));
    }

    function test_runTask_anotherJobCannotImpersonate() public {
        _create(0);
        uint256 other = _create(1 ether);
        (TaskOutcome outcome, bool success,,) =
            _run(other, 0, TaskMode.Perform, address(target), abi.encodeWithSignature("work()"), 0);
        _assertOutcome(outcome, TaskOutcome.Done);
        assertFalse(success);
        assertEq(target.count(), 0);
    }

    function test_runTask_failingTargetDoesNotRevert() public {
        uint256 jobId = _create(1 ether);
        address reverting = address(new RevertingTarget());
        (TaskOutcome outcome, bool success, uint256 gasUsed, uint256 charged) =
            _run(jobId, 0, TaskMode.Perform, reverting, "", 0.001 ether);
        _assertOutcome(outcome, TaskOutcome.Done);
        assertFalse(success);
        assertGt(gasUsed, 0);
        assertEq(charged, 0.001 ether);
        assertEq(jm.jobState(jobId).nextSequence, 1);
    }

    /// A target that owns its job tries to cancel it while being executed, to take the escrow before the charge.
    function test_forward_ownerOperationsBlockedDuringCall() public {
        ReentrantOwnerTarget attacker = new ReentrantOwnerTarget(address(jm));
        JobSpec memory spec = JobSpecs.hourly(START, address(attacker));
        spec.action.data = abi.encodeCall(ReentrantOwnerTarget.attack, ());
        vm.deal(address(attacker), 1 ether);
        vm.prank(address(attacker));
        uint256 jobId = jm.createJob{value: 1 ether}(spec);
        attacker.setJob(jobId);

        bytes32 specHash = jm.specHashOf(jobId);
        vm.prank(taskManager);
        (TaskOutcome outcome, bool success,, uint256 charged) = jm.runTask(
            jobId, specHash, 0, TaskMode.Perform, address(attacker), spec.action.data, spec.gasLimit, 1 ether
        );
        FeeLedgerStub(taskManager).credit(charged);
        _assertOutcome(outcome, TaskOutcome.Done);
        assertFalse(success);
        assertEq(charged, spec.maxFee);
        JobState memory state = jm.jobState(jobId);
        assertEq(uint8(state.status), uint8(JobStatus.Active));
        assertEq(state.balance, 1 ether - spec.maxFee);

        // Outside a call the owner may cancel as usual.
        vm.prank(address(attacker));
        jm.cancelJob(jobId);
        assertEq(address(attacker).balance, 1 ether - spec.maxFee);
    }

    // ---------------------------------------------------------------------------------------------------------
    // withdrawFees
    // ---------------------------------------------------------------------------------------------------------

    function test_withdrawFees_sendsAndEmits() public {
        uint256 jobId = _create(1 ether);
        _charge(jobId, 0, 0.01 ether);
        _charge(jobId, 1, 0.01 ether);
        vm.startPrank(taskManager);
        vm.expectEmit(address(jm));
        emit IJobManager.FeesWithdrawn(bob, 0.015 ether);
        jm.withdrawFees(bob, 0.015 ether);
        vm.stopPrank();
        assertEq(bob.balance, 100 ether + 0.015 ether);
        assertEq(jm.accruedFees(), 0.005 ether);
        assertEq(address(jm).balance, 0.98 ether + 0.005 ether);
    }

    function test_withdrawFees_reverts() public {
        uint256 jobId = _create(1 ether);
        _charge(jobId, 0, 0.01 ether);

        vm.expectRevert(abi.encodeWithSelector(IJobManager.NotTaskManager.selector, alice));
        vm.prank(alice);
        jm.withdrawFees(alice, 1);

        vm.startPrank(taskManager);
        vm.expectRevert(IJobManager.InputAddressZero.selector);
        jm.withdrawFees(address(0), 1);

        vm.expectRevert(abi.encodeWithSelector(IJobManager.InsufficientFees.selector, 0.01 ether + 1, 0.01 ether));
        jm.withdrawFees(bob, 0.01 ether + 1);

        address refuser = address(new EtherRefuser());
        vm.expectRevert(abi.encodeWithSelector(IJobManager.TransferFailed.selector, refuser, 1));
        jm.withdrawFees(refuser, 1);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    function test_viewsOfUnknownJob() public view {
        assertEq(jm.jobOwner(3), address(0));
        assertEq(jm.specHashOf(3), bytes32(0));
        assertFalse(jm.isCurrentSpec(3, _spec()));
        assertEq(jm.jobState(3).balance, 0);
    }

    /// @dev The storage slot of `_states[jobId][specHash]` (slots: 0 `_jobs`, 1 `_states`).
    function _stateSlot(uint256 jobId, bytes32 specHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(specHash, keccak256(abi.encode(jobId, uint256(1)))));
    }

    /// The hot state is one storage slot, keyed by the job and its spec hash: balance | maxFee << 96 |
    /// nextSequence << 176 | status << 240. A task reads and writes that slot and no other (the task manager's
    /// address, checked on every call, is an immutable); the fee pool is the task manager's count.
    function test_jobStateIsOneSlot() public {
        uint256 jobId = _create(1 ether);
        _run(jobId, 41, TaskMode.Consume, address(0), "", 0);
        bytes32 specHash = jm.specHashOf(jobId);
        bytes32 slot = _stateSlot(jobId, specHash);
        uint256 word = uint256(vm.load(address(jm), slot));
        // Truncating casts on purpose: each picks one field out of the packed word.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint96(word), 1 ether);
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint80(word >> 96), JobSpecs.MAX_FEE);
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint64(word >> 176), 42);
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint8(word >> 240), uint8(JobStatus.Active));

        vm.record();
        vm.prank(taskManager);
        jm.runTask(jobId, specHash, 42, TaskMode.Perform, address(0xBEEF), "", 50_000, 1);
        (bytes32[] memory reads, bytes32[] memory writes) = vm.accesses(address(jm));
        assertGt(reads.length, 0);
        for (uint256 i; i < reads.length; ++i) {
            assertEq(reads[i], slot);
        }
        assertEq(writes.length, 1);
        assertEq(writes[0], slot);
        assertEq(uint64(uint256(vm.load(address(jm), slot)) >> 176), 43);
        assertEq(uint256(vm.load(address(jm), slot)) >> 248, 0, "not unordered");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Event jobs: tasks complete one by one
    // ---------------------------------------------------------------------------------------------------------

    function _createEventJob() internal returns (uint256) {
        JobSpec memory spec = JobSpecs.spec(
            JobSpecs.eventTrigger(1, address(0xE0), keccak256("Ping()")), JobSpecs.callAction(address(0xBEEF), hex"01")
        );
        vm.prank(alice);
        return jm.createJob{value: 1 ether}(spec);
    }

    /// An event job's tasks complete in any order, each once; its watermark is not used (a later log's task never
    /// makes an earlier one's impossible). The flag sits in the job's slot (bit 248) and the marks in a bitmap.
    function test_eventJob_tasksCompleteInAnyOrder() public {
        uint256 jobId = _createEventJob();
        JobState memory state = jm.jobState(jobId);
        assertTrue(state.unordered);
        uint64 late = JobSchedule.eventSequence(100, 2);
        uint64 early = JobSchedule.eventSequence(90, 0);
        uint64 sameBlock = JobSchedule.eventSequence(100, 1);
        (TaskOutcome outcome,,,) = _run(jobId, late, TaskMode.Perform, address(0xBEEF), "", 0);
        _assertOutcome(outcome, TaskOutcome.Done);
        (outcome,,,) = _run(jobId, early, TaskMode.Consume, address(0), "", 0);
        _assertOutcome(outcome, TaskOutcome.Done);
        (outcome,,,) = _run(jobId, sameBlock, TaskMode.Perform, address(0xBEEF), "", 0);
        _assertOutcome(outcome, TaskOutcome.Done);
        assertTrue(jm.isTaskDone(jobId, late));
        assertTrue(jm.isTaskDone(jobId, early));
        assertTrue(jm.isTaskDone(jobId, sameBlock));
        assertFalse(jm.isTaskDone(jobId, JobSchedule.eventSequence(100, 0)));
        assertEq(jm.jobState(jobId).nextSequence, 0);
        // Each once, performed or consumed.
        (outcome,,,) = _run(jobId, late, TaskMode.Perform, address(0xBEEF), "", 0);
        _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
        (outcome,,,) = _run(jobId, early, TaskMode.Perform, address(0xBEEF), "", 0);
        _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
        (outcome,,,) = _run(jobId, type(uint64).max, TaskMode.Perform, address(0xBEEF), "", 0);
        _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
        // The marks outlive a spec update.
        JobSpec memory updated = JobSpecs.spec(
            JobSpecs.eventTrigger(1, address(0xE0), keccak256("Ping()")), JobSpecs.callAction(address(0xBEEF), hex"02")
        );
        vm.prank(alice);
        jm.updateJob(jobId, updated);
        (outcome,,,) = _run(jobId, late, TaskMode.Perform, address(0xBEEF), "", 0);
        _assertOutcome(outcome, TaskOutcome.AlreadyPerformed);
        assertTrue(jm.jobState(jobId).unordered);
    }

    function testFuzz_eventJob_eachSequenceOnce(uint64[8] memory sequences) public {
        uint256 jobId = _createEventJob();
        for (uint256 i; i < sequences.length; ++i) {
            uint64 sequence = sequences[i] == type(uint64).max ? 0 : sequences[i];
            bool seen;
            for (uint256 j; j < i; ++j) {
                uint64 earlier = sequences[j] == type(uint64).max ? 0 : sequences[j];
                if (earlier == sequence) seen = true;
            }
            assertEq(jm.isTaskDone(jobId, sequence), seen);
            (TaskOutcome outcome,,,) = _run(jobId, sequence, TaskMode.Consume, address(0), "", 0);
            _assertOutcome(outcome, seen ? TaskOutcome.AlreadyPerformed : TaskOutcome.Done);
            assertTrue(jm.isTaskDone(jobId, sequence));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The max fee floor
    // ---------------------------------------------------------------------------------------------------------

    /// `maxFee` must pay the gas limit and a whole batch at the task manager's floor price (`minJobFee`), at
    /// creation and at update; jobs created before a higher floor keep their fee.
    function test_maxFeeFloor() public {
        FeeLedgerStub(taskManager).setMinGasPrice(1 gwei);
        JobSpec memory spec = _spec();
        uint256 floor = (uint256(spec.gasLimit) + 300_000) * 1 gwei;
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        spec.maxFee = uint80(floor - 1);
        _expectInvalid(spec, SpecField.MaxFee, SpecFault.TooSmall);
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        spec.maxFee = uint80(floor);
        vm.prank(alice);
        uint256 jobId = jm.createJob(spec);
        FeeLedgerStub(taskManager).setMinGasPrice(2 gwei);
        assertEq(jm.jobState(jobId).maxFee, floor, "kept");
        vm.expectRevert(abi.encodeWithSelector(IJobManager.InvalidSpec.selector, SpecField.MaxFee, SpecFault.TooSmall));
        vm.prank(alice);
        jm.updateJob(jobId, spec);
    }
}
