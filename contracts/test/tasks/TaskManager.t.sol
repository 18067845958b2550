// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Vm} from "forge-std/Vm.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {BatchDigest} from "../../src/libraries/BatchDigest.sol";
import {IJobManager, JobSpec, JobState, JobStatus, TriggerKind} from "../../src/interfaces/IJobManager.sol";
import {IBlsKeyRegistry} from "../../src/interfaces/IBlsKeyRegistry.sol";
import {JobManager} from "../../src/jobs/JobManager.sol";
import {JobSchedule} from "../../src/jobs/JobSchedule.sol";
import {KeeperServiceManager} from "../../src/avs/KeeperServiceManager.sol";
import {TaskManager} from "../../src/tasks/TaskManager.sol";
import {
    ITaskManager,
    BatchHeader,
    TaskInput,
    NonSigners,
    BatchRecord,
    SkipReason,
    SignedLeaf,
    BatchClaim
} from "../../src/interfaces/ITaskManager.sol";
import {JobSpecs} from "../utils/JobSpecs.sol";
import {
    ForwarderGuardedTarget,
    RevertingTarget,
    GasGuzzlerTarget,
    ChainlinkStyleUpkeep,
    GelatoStyleTarget,
    GelatoStyleResolver,
    NoopTarget
} from "../utils/JobTargets.sol";
import {TaskFixture} from "../utils/TaskFixture.sol";
import {TaskReentrantTarget} from "../utils/TaskTargets.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {JobForwarder} from "../../src/jobs/JobForwarder.sol";

contract TaskManagerTest is TaskFixture {
    uint64 internal constant T0 = 1_700_000_000;
    uint96 internal constant PREMIUM = 0.001 ether;
    uint256 internal constant DEPOSIT = 1 ether;

    ForwarderGuardedTarget internal target;
    uint256 internal jobId;
    JobSpec internal spec;
    bytes internal workCall = abi.encodeWithSignature("work()");

    event TaskPerformed(
        uint256 indexed jobId,
        uint64 indexed sequence,
        bytes32 indexed digest,
        bool success,
        uint256 gasUsed,
        uint256 fee
    );
    event TaskNotExecuted(uint256 indexed jobId, uint64 indexed sequence, bytes32 indexed digest);
    event TaskSkipped(uint256 indexed jobId, uint64 indexed sequence, bytes32 indexed digest, SkipReason reason);
    event QuorumBpsSet(uint16 previous, uint16 quorumBps);
    event PremiumSet(uint96 previous, uint96 premium);
    event MaxReferenceAgeSet(uint16 previous, uint16 maxReferenceAge);
    event ChallengeWindowSet(uint32 previous, uint32 challengeWindowBlocks);
    event MaxWeightAgeSet(uint32 previous, uint32 maxWeightAge);
    event MaxPriorityFeeSet(uint256 previous, uint256 maxPriorityFee);
    event MinGasPriceSet(uint256 previous, uint256 minGasPrice);
    event GuardianSet(address indexed previous, address indexed guardian);
    event BatchesPaused(bool paused);
    event RewardsClaimed(
        address indexed claimant, address indexed to, uint256 amount, uint64 fromIndex, uint64 toIndex
    );
    event EquivocationProven(
        address indexed operator,
        uint256 indexed jobId,
        uint64 indexed sequence,
        bytes32 specHash,
        bytes32 digestA,
        bytes32 digestB,
        bytes32 responseA,
        bytes32 responseB,
        uint256 wad,
        address challenger
    );
    event InvalidResponseProven(
        address indexed operator, bytes32 indexed digest, bytes32 invalidLeaf, uint256 wad, address challenger
    );

    function setUp() public {
        _deployTaskManager(4);
        vm.warp(T0);
        vm.prank(taskOwner);
        taskManager.setPremium(PREMIUM);
        target = new ForwarderGuardedTarget(jobManager.forwarderOf(jobManager.nextJobId()));
        spec = JobSpecs.hourly(T0, address(target));
        jobId = _createJob(spec, DEPOSIT);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function _workTask(uint64 sequence) internal view returns (TaskInput memory) {
        return _task(jobId, sequence, spec, true, workCall);
    }

    function _respondRecorded(BatchHeader memory header, TaskInput[] memory tasks, uint256[] memory absent)
        internal
        returns (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes)
    {
        vm.recordLogs();
        digest = _respond(header, tasks, absent);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(taskManager) && logs[i].topics[0] == ITaskManager.BatchResponded.selector) {
                (,,, hashes, record) = abi.decode(logs[i].data, (bytes32, bytes32, uint256, bytes32[], BatchRecord));
            }
        }
    }

    /// @dev The gasUsed of the (single) TaskPerformed event of the recorded logs.
    function _gasUsedOf(Vm.Log[] memory logs) internal view returns (uint256 gasUsed, uint256 fee, bool success) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(taskManager) && logs[i].topics[0] == ITaskManager.TaskPerformed.selector) {
                (success, gasUsed, fee) = abi.decode(logs[i].data, (bool, uint256, uint256));
            }
        }
    }

    function _expectSkip(uint256 id, uint64 sequence, BatchHeader memory header, TaskInput[] memory tasks, SkipReason r)
        internal
    {
        vm.expectEmit(address(taskManager));
        emit TaskSkipped(id, sequence, _batchDigest(header, tasks), r);
    }

    function _claim(bytes32 digest, BatchRecord memory record, bytes32[] memory hashes)
        internal
        pure
        returns (BatchClaim[] memory claims)
    {
        claims = new BatchClaim[](1);
        claims[0] = BatchClaim(digest, record, hashes);
    }

    function _copy(BatchRecord memory record) internal pure returns (BatchRecord memory) {
        return abi.decode(abi.encode(record), (BatchRecord));
    }

    /// @dev The gas a performed task was charged for besides its call, from its fee at `price` (no cap bound).
    function _overheadGas(uint256 fee, uint256 gasUsed, uint256 price) internal view returns (uint256) {
        uint256 gasPart = fee - taskManager.premium();
        assertEq(gasPart % price, 0, "the gas part is whole gas at the price");
        return gasPart / price - gasUsed;
    }

    /// @dev Shrinks the challenge window and weight age so the reference age can be `age` within the horizon.
    function _roomForReferenceAge(uint16 age) internal {
        vm.startPrank(taskOwner);
        taskManager.setChallengeWindow(1);
        taskManager.setMaxWeightAge(1);
        taskManager.setMaxReferenceAge(age);
        vm.stopPrank();
    }

    function _absent(uint256 index) internal pure returns (uint256[] memory list) {
        list = new uint256[](1);
        list[0] = index;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Construction and settings
    // ---------------------------------------------------------------------------------------------------------

    /// The defaults fit the slashable horizon read from chain (the fixture's 50-block delays, a public testnet's):
    /// window half of it, reference age an eighth, weight age the rest.
    function test_constructor_setsState() public {
        TaskManager fresh = new TaskManager(registry, serviceManager, taskOwner, guardian);
        assertEq(address(fresh.registry()), address(registry));
        // Its own job manager, created with it and linked to it for good.
        JobManager created = JobManager(address(fresh.jobManager()));
        assertTrue(address(created).code.length != 0);
        assertTrue(address(created) != address(jobManager));
        assertEq(created.taskManager(), address(fresh));
        assertEq(created.nextJobId(), 1);
        assertEq(address(fresh.serviceManager()), address(serviceManager));
        assertEq(fresh.owner(), taskOwner);
        assertEq(fresh.guardian(), guardian);
        assertFalse(fresh.paused());
        assertEq(fresh.quorumBps(), fresh.DEFAULT_QUORUM_BPS());
        assertEq(fresh.challengeWindowBlocks(), 25);
        assertEq(fresh.maxReferenceAge(), 6);
        assertEq(fresh.maxWeightAge(), 19);
        (uint256 used, uint256 horizon) = fresh.slashableBudget();
        assertEq(used, 50);
        assertEq(horizon, 50);
        assertEq(fresh.premium(), 0);
        assertEq(fresh.maxPriorityFee(), fresh.DEFAULT_MAX_PRIORITY_FEE());
        assertEq(fresh.minGasPrice(), fresh.DEFAULT_MIN_GAS_PRICE());
        assertEq(fresh.batchCount(), 0);
        assertEq(fresh.totalCredited(), 0);
        assertEq(fresh.totalClaimed(), 0);
    }

    function test_constructor_emitsSettings() public {
        vm.expectEmit();
        emit QuorumBpsSet(0, 6_667);
        vm.expectEmit();
        emit MaxReferenceAgeSet(0, 6);
        vm.expectEmit();
        emit ChallengeWindowSet(0, 25);
        vm.expectEmit();
        emit MaxWeightAgeSet(0, 19);
        vm.expectEmit();
        emit PremiumSet(0, 0);
        vm.expectEmit();
        emit MaxPriorityFeeSet(0, 2 gwei);
        vm.expectEmit();
        emit MinGasPriceSet(0, 1 gwei);
        vm.expectEmit();
        emit GuardianSet(address(0), guardian);
        new TaskManager(registry, serviceManager, taskOwner, guardian);
    }

    function test_constructor_revertsOnZeroAddress() public {
        vm.expectRevert(ITaskManager.InputAddressZero.selector);
        new TaskManager(IBlsKeyRegistry(address(0)), serviceManager, taskOwner, guardian);
        vm.expectRevert(ITaskManager.InputAddressZero.selector);
        new TaskManager(registry, KeeperServiceManager(address(0)), taskOwner, guardian);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new TaskManager(registry, serviceManager, address(0), guardian);
    }

    function test_setQuorumBps() public {
        vm.expectEmit(address(taskManager));
        emit QuorumBpsSet(6_667, 5_000);
        vm.prank(taskOwner);
        taskManager.setQuorumBps(5_000);
        assertEq(taskManager.quorumBps(), 5_000);
        vm.prank(taskOwner);
        taskManager.setQuorumBps(10_000);
        assertEq(taskManager.quorumBps(), 10_000);
    }

    function test_setQuorumBps_reverts() public {
        vm.startPrank(taskOwner);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidQuorumBps.selector, uint16(4_999)));
        taskManager.setQuorumBps(4_999);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidQuorumBps.selector, uint16(10_001)));
        taskManager.setQuorumBps(10_001);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        taskManager.setQuorumBps(6_000);
    }

    function test_setPremium() public {
        vm.expectEmit(address(taskManager));
        emit PremiumSet(PREMIUM, 0.01 ether);
        vm.prank(taskOwner);
        taskManager.setPremium(0.01 ether);
        assertEq(taskManager.premium(), 0.01 ether);
    }

    function test_setPremium_reverts() public {
        vm.startPrank(taskOwner);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidPremium.selector, uint96(0.01 ether + 1 gwei)));
        taskManager.setPremium(0.01 ether + 1 gwei);
        // Whole gwei only.
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidPremium.selector, uint96(1 gwei + 1)));
        taskManager.setPremium(1 gwei + 1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        taskManager.setPremium(1 gwei);
    }

    function test_setMaxPriorityFee() public {
        vm.expectEmit(address(taskManager));
        emit MaxPriorityFeeSet(2 gwei, 0.001 gwei);
        vm.prank(taskOwner);
        taskManager.setMaxPriorityFee(0.001 gwei);
        assertEq(taskManager.maxPriorityFee(), 0.001 gwei);
        vm.prank(taskOwner);
        taskManager.setMaxPriorityFee(100 gwei);
        assertEq(taskManager.maxPriorityFee(), 100 gwei);
    }

    function test_setMaxPriorityFee_reverts() public {
        vm.startPrank(taskOwner);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMaxPriorityFee.selector, 100 gwei + 1e6));
        taskManager.setMaxPriorityFee(100 gwei + 1e6);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMaxPriorityFee.selector, 1e6 + 1));
        taskManager.setMaxPriorityFee(1e6 + 1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        taskManager.setMaxPriorityFee(0);
    }

    function test_setMinGasPrice() public {
        vm.expectEmit(address(taskManager));
        emit MinGasPriceSet(1 gwei, 1e6);
        vm.prank(taskOwner);
        taskManager.setMinGasPrice(1e6);
        assertEq(taskManager.minGasPrice(), 1e6);
        assertEq(taskManager.minJobFee(200_000), 500_000 * 1e6);
    }

    function test_setMinGasPrice_reverts() public {
        vm.startPrank(taskOwner);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMinGasPrice.selector, 1e6 - 1));
        taskManager.setMinGasPrice(1e6 - 1);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMinGasPrice.selector, 1000 gwei + 1));
        taskManager.setMinGasPrice(1000 gwei + 1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        taskManager.setMinGasPrice(1 gwei);
    }

    function test_setMaxReferenceAge() public {
        // Room first: the window shrinks, then the reference age grows.
        vm.startPrank(taskOwner);
        taskManager.setChallengeWindow(1);
        vm.expectEmit(address(taskManager));
        emit MaxReferenceAgeSet(6, 30);
        taskManager.setMaxReferenceAge(30);
        vm.stopPrank();
        assertEq(taskManager.maxReferenceAge(), 30);
    }

    function test_setMaxReferenceAge_reverts() public {
        vm.startPrank(taskOwner);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMaxReferenceAge.selector, uint16(0)));
        taskManager.setMaxReferenceAge(0);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMaxReferenceAge.selector, uint16(257)));
        taskManager.setMaxReferenceAge(257);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.ExceedsSlashableHorizon.selector, 51, 50));
        taskManager.setMaxReferenceAge(7);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        taskManager.setMaxReferenceAge(5);
    }

    function test_setChallengeWindow() public {
        vm.expectEmit(address(taskManager));
        emit ChallengeWindowSet(25, 1);
        vm.prank(taskOwner);
        taskManager.setChallengeWindow(1);
        assertEq(taskManager.challengeWindowBlocks(), 1);
    }

    function test_setChallengeWindow_reverts() public {
        vm.startPrank(taskOwner);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidChallengeWindow.selector, uint32(0)));
        taskManager.setChallengeWindow(0);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidChallengeWindow.selector, uint32(100_801)));
        taskManager.setChallengeWindow(100_801);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.ExceedsSlashableHorizon.selector, 51, 50));
        taskManager.setChallengeWindow(26);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        taskManager.setChallengeWindow(10);
    }

    function test_setMaxWeightAge() public {
        vm.expectEmit(address(taskManager));
        emit MaxWeightAgeSet(19, 1);
        vm.prank(taskOwner);
        taskManager.setMaxWeightAge(1);
        assertEq(taskManager.maxWeightAge(), 1);
    }

    function test_setMaxWeightAge_reverts() public {
        vm.startPrank(taskOwner);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMaxWeightAge.selector, uint32(0)));
        taskManager.setMaxWeightAge(0);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMaxWeightAge.selector, uint32(100_801)));
        taskManager.setMaxWeightAge(100_801);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.ExceedsSlashableHorizon.selector, 51, 50));
        taskManager.setMaxWeightAge(20);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        taskManager.setMaxWeightAge(10);
    }

    /// A horizon too short for a 1-block window, reference age and weight age refuses the deployment.
    function test_constructor_revertsOnTooShortHorizon() public {
        vm.mockCall(address(registry), abi.encodeWithSelector(IBlsKeyRegistry.slashableHorizon.selector), abi.encode(2));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.InvalidMaxWeightAge.selector, uint32(0)));
        new TaskManager(registry, serviceManager, taskOwner, guardian);
        vm.mockCall(address(registry), abi.encodeWithSelector(IBlsKeyRegistry.slashableHorizon.selector), abi.encode(3));
        TaskManager fresh = new TaskManager(registry, serviceManager, taskOwner, guardian);
        assertEq(fresh.challengeWindowBlocks() + fresh.maxReferenceAge() + fresh.maxWeightAge(), 3);
    }

    /// A mainnet-like horizon (14 days of blocks) keeps the window and reference age defaults.
    function test_constructor_longHorizonKeepsDefaults() public {
        vm.mockCall(
            address(registry), abi.encodeWithSelector(IBlsKeyRegistry.slashableHorizon.selector), abi.encode(100_800)
        );
        TaskManager fresh = new TaskManager(registry, serviceManager, taskOwner, guardian);
        assertEq(fresh.challengeWindowBlocks(), 7_200);
        assertEq(fresh.maxReferenceAge(), 64);
        assertEq(fresh.maxWeightAge(), 100_800 - 7_200 - 64);
    }

    /// The batch path reads the settings word by bit offset; the offsets are where Solidity packs `Config`.
    function test_configLayout() public {
        vm.startPrank(taskOwner);
        taskManager.setQuorumBps(7_001);
        taskManager.setMaxWeightAge(3);
        taskManager.setChallengeWindow(11);
        taskManager.setMaxReferenceAge(5);
        taskManager.setPremium(7 gwei);
        taskManager.setMaxPriorityFee(0.003 gwei);
        vm.stopPrank();
        vm.prank(guardian);
        taskManager.pause();
        uint256 word = uint256(vm.load(address(taskManager), bytes32(uint256(2))));
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint16(word), 7_001, "quorum at 0");
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint16(word >> 16), 5, "reference age at 16");
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint24(word >> 32), 11, "window at 32");
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint24(word >> 56), 3, "weight age at 56");
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint8(word >> 80), 1, "paused at 80");
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint24(word >> 88), 7, "premium (gwei) at 88");
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint24(word >> 112), 3, "priority fee (0.001 gwei) at 112");
        vm.prank(guardian);
        taskManager.unpause();
        vm.txGasPrice(1 gwei);
        _respond(_header(), _one(_workTask(0)), _none());
        _respond(_header(), _one(_task(jobId, 0, spec, true, workCall)), _none());
        word = uint256(vm.load(address(taskManager), bytes32(uint256(2))));
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint32(word >> 136), 2, "batch count at 136");
        assertGt(taskManager.totalCredited(), 0);
        assertEq(word >> 168, taskManager.totalCredited(), "credited at 168");
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(uint16(word), 7_001, "the rest untouched");
    }

    function test_setGuardian() public {
        vm.expectEmit(address(taskManager));
        emit GuardianSet(guardian, address(this));
        vm.prank(taskOwner);
        taskManager.setGuardian(address(this));
        assertEq(taskManager.guardian(), address(this));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, guardian));
        vm.prank(guardian);
        taskManager.setGuardian(guardian);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    function test_domainSeparator_isTheProtocolDomain() public {
        assertEq(taskManager.domainSeparator(), BatchDigest.domainSeparator(block.chainid, address(taskManager)));
        vm.chainId(31_338);
        assertEq(taskManager.domainSeparator(), BatchDigest.domainSeparator(31_338, address(taskManager)));
    }

    function test_batchDigest_andResponseHash() public view {
        BatchHeader memory header = BatchHeader(123, keccak256("h"));
        bytes32 root = keccak256("root");
        assertEq(taskManager.batchDigest(header, root), _digest(header, root));
        assertEq(taskManager.responseHash(true, workCall), keccak256(abi.encode(true, workCall)));
        assertEq(
            taskManager.equivocationId(7, 9, keccak256("spec")),
            keccak256(abi.encode(keccak256("KeeperNetwork.Equivocation"), 7, 9, keccak256("spec")))
        );
    }

    /// The response hash encoded by hand is abi.encode's, whatever the length and padding of the call data.
    function testFuzz_responseHash(bool execute, bytes memory callData) public view {
        assertEq(taskManager.responseHash(execute, callData), keccak256(abi.encode(execute, callData)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // respondToBatch: performing
    // ---------------------------------------------------------------------------------------------------------

    function test_respond_performsCallJobAndCharges() public {
        vm.txGasPrice(2 gwei);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        uint256 feesBefore = jobManager.accruedFees();
        vm.recordLogs();
        bytes32 digest = _respond(header, tasks, _none());
        (uint256 gasUsed, uint256 fee, bool success) = _gasUsedOf(vm.getRecordedLogs());

        assertTrue(success);
        assertGt(gasUsed, 0);
        // The call's gas and its share of the batch (a batch of one: the whole fixed cost), at 2 gwei, plus the
        // premium.
        uint256 overhead = _overheadGas(fee, gasUsed, 2 gwei);
        assertGt(overhead, 200_000);
        assertLt(overhead, 350_000);
        assertEq(target.count(), 1);
        assertEq(target.lastCaller(), jobManager.forwarderOf(jobId));
        JobState memory state = jobManager.jobState(jobId);
        assertEq(state.balance, DEPOSIT - fee);
        assertEq(state.nextSequence, 1);
        assertEq(jobManager.accruedFees() - feesBefore, fee);
        assertEq(taskManager.batchCount(), 1);
        assertEq(taskManager.totalCredited(), fee);
        assertTrue(taskManager.batchRecordHash(digest) != bytes32(0));
        assertEq(digest, _batchDigest(header, tasks));
    }

    function test_respond_emitsBatchRespondedWithRecord() public {
        vm.txGasPrice(1 gwei);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes) =
            _respondRecorded(header, tasks, _absent(2));
        assertEq(record.batchIndex, 0);
        assertEq(record.referenceBlockNumber, header.referenceBlockNumber);
        assertEq(record.challengeDeadline, block.number + taskManager.challengeWindowBlocks());
        assertEq(record.submitter, submitter);
        assertEq(record.signedWeight, 3 * OPERATOR_WEIGHT);
        assertEq(record.totalWeight, 4 * OPERATOR_WEIGHT);
        assertEq(record.signerReward, PREMIUM);
        assertGt(record.submitterReward, 0);
        assertEq(record.invalidLeaf, bytes32(0));
        assertEq(hashes.length, 1);
        assertEq(hashes[0], pubkeyHashes[2]);
        assertEq(record.nonSignersHash, keccak256(abi.encodePacked(hashes)));
        assertEq(taskManager.batchRecordHash(digest), keccak256(abi.encode(record)));
    }

    function test_respond_emitsTaskPerformed() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        // Only the indexed fields are known in advance.
        vm.expectEmit(true, true, true, false, address(taskManager));
        emit TaskPerformed(jobId, 0, _batchDigest(header, tasks), true, 0, 0);
        _respond(header, tasks, _none());
    }

    function test_respond_chainlinkStyleUpkeep() public {
        ChainlinkStyleUpkeep upkeep = new ChainlinkStyleUpkeep(60);
        uint256 id = jobManager.nextJobId();
        upkeep.setForwarder(jobManager.forwarderOf(id));
        JobSpec memory s = JobSpecs.spec(
            JobSpecs.intervalTrigger(T0, 60), JobSpecs.upkeepAction(address(upkeep), abi.encode(uint256(5)))
        );
        _createJob(s, DEPOSIT);

        // The keepers simulate checkUpkeep from the zero address and sign performUpkeep(performData).
        vm.prank(address(0), address(0));
        (bool needed, bytes memory performData) = upkeep.checkUpkeep(abi.encode(uint256(5)));
        assertTrue(needed);
        bytes memory callData = abi.encodeCall(ChainlinkStyleUpkeep.performUpkeep, (performData));
        _respond(_header(), _one(_task(id, 0, s, true, callData)), _none());
        assertEq(upkeep.counter(), 5);
        assertEq(upkeep.lastPerformed(), block.timestamp);
    }

    function test_respond_chainlinkStyleUpkeep_notNeeded() public {
        ChainlinkStyleUpkeep upkeep = new ChainlinkStyleUpkeep(60);
        uint256 id = jobManager.nextJobId();
        upkeep.setForwarder(jobManager.forwarderOf(id));
        JobSpec memory s = JobSpecs.spec(
            JobSpecs.intervalTrigger(T0, 60), JobSpecs.upkeepAction(address(upkeep), abi.encode(uint256(5)))
        );
        _createJob(s, DEPOSIT);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(id, 0, s, false, ""));
        vm.expectEmit(address(taskManager));
        emit TaskNotExecuted(id, 0, _batchDigest(header, tasks));
        _respond(header, tasks, _none());
        assertEq(upkeep.counter(), 0);
        JobState memory state = jobManager.jobState(id);
        assertEq(state.nextSequence, 1);
        assertEq(state.balance, DEPOSIT);
    }

    function test_respond_gelatoStyleResolver() public {
        GelatoStyleTarget gelatoTarget = new GelatoStyleTarget();
        GelatoStyleResolver resolver = new GelatoStyleResolver(gelatoTarget);
        uint256 id = jobManager.nextJobId();
        gelatoTarget.setForwarder(jobManager.forwarderOf(id));
        bytes memory resolverData = abi.encodeCall(GelatoStyleResolver.checker, (42));
        JobSpec memory s = JobSpecs.spec(
            JobSpecs.blockTrigger(1, 10),
            JobSpecs.resolverAction(address(gelatoTarget), address(resolver), resolverData)
        );
        _createJob(s, DEPOSIT);

        (bool canExec, bytes memory execPayload) = resolver.checker(42);
        assertTrue(canExec);
        _respond(_header(), _one(_task(id, 3, s, true, execPayload)), _none());
        assertEq(gelatoTarget.value(), 42);
        assertEq(jobManager.jobState(id).nextSequence, 4);
    }

    function test_respond_scriptJobSendsKeeperCallData() public {
        NoopTarget noop = new NoopTarget();
        JobSpec memory s = JobSpecs.spec(
            JobSpecs.intervalTrigger(T0, 600),
            JobSpecs.scriptAction(address(noop), "ipfs://script", keccak256("code"), abi.encode("args"))
        );
        uint256 id = _createJob(s, DEPOSIT);
        vm.recordLogs();
        _respond(_header(), _one(_task(id, 0, s, true, hex"deadbeef")), _none());
        (uint256 gasUsed,, bool success) = _gasUsedOf(vm.getRecordedLogs());
        assertTrue(success);
        assertGt(gasUsed, 0);
        assertEq(jobManager.jobState(id).nextSequence, 1);
    }

    function test_respond_eventJob() public {
        NoopTarget noop = new NoopTarget();
        JobSpec memory s = JobSpecs.spec(
            JobSpecs.eventTrigger(10, address(0xE), keccak256("Ping()")), JobSpecs.callAction(address(noop), hex"01")
        );
        uint256 id = _createJob(s, DEPOSIT);
        BatchHeader memory header = _header();
        uint64 sequence = JobSchedule.eventSequence(header.referenceBlockNumber, 3);
        _respond(header, _one(_task(id, sequence, s, true, hex"01")), _none());
        // An event task completes on its own: its bit, not the watermark.
        assertTrue(jobManager.isTaskDone(id, sequence));
        assertFalse(jobManager.isTaskDone(id, sequence - 1));
        assertEq(jobManager.jobState(id).nextSequence, 0);
        assertTrue(jobManager.jobState(id).unordered);
    }

    function test_respond_manyTasksWithNonSigner() public {
        vm.warp(T0 + 3 * 3600);
        TaskInput[] memory tasks = new TaskInput[](3);
        for (uint64 i; i < 3; ++i) {
            tasks[i] = _workTask(i);
        }
        _respond(_header(), tasks, _absent(1));
        assertEq(target.count(), 3);
        assertEq(jobManager.jobState(jobId).nextSequence, 3);
        assertEq(jobManager.jobState(jobId).balance, DEPOSIT - 3 * PREMIUM);
    }

    function test_respond_failingTargetsDoNotRevertTheBatch() public {
        RevertingTarget reverting = new RevertingTarget();
        GasGuzzlerTarget guzzler = new GasGuzzlerTarget();
        JobSpec memory a = JobSpecs.spec(JobSpecs.intervalTrigger(T0, 60), JobSpecs.callAction(address(reverting), ""));
        JobSpec memory b = JobSpecs.spec(JobSpecs.intervalTrigger(T0, 60), JobSpecs.callAction(address(guzzler), ""));
        b.gasLimit = 100_000;
        uint256 idA = _createJob(a, DEPOSIT);
        uint256 idB = _createJob(b, DEPOSIT);
        TaskInput[] memory tasks = new TaskInput[](3);
        tasks[0] = _task(idA, 0, a, true, "");
        tasks[1] = _task(idB, 0, b, true, "");
        tasks[2] = _workTask(0);
        vm.txGasPrice(1 gwei);
        vm.recordLogs();
        _respond(_header(), tasks, _none());
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 seen;
        uint256 overhead;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(taskManager) || logs[i].topics[0] != ITaskManager.TaskPerformed.selector) {
                continue;
            }
            (bool success, uint256 gasUsed, uint256 fee) = abi.decode(logs[i].data, (bool, uint256, uint256));
            uint256 id = uint256(logs[i].topics[1]);
            if (id == idB) assertGe(gasUsed, 100_000); // burnt its whole limit
            assertEq(success, id == jobId);
            // Every task of the batch pays the same share of it, on top of its own gas and its own variable calldata
            // at 16 gas a byte (the work job's 4-byte call data and spec data, each padded to a word; none for the
            // others).
            uint256 own = id == jobId ? 16 * 64 : 0;
            if (seen == 0) overhead = _overheadGas(fee, gasUsed, 1 gwei) - own;
            assertEq(fee, (gasUsed + overhead + own) * 1 gwei + PREMIUM);
            ++seen;
        }
        assertEq(seen, 3);
        assertEq(target.count(), 1);
        assertEq(jobManager.jobState(idA).nextSequence, 1);
        assertEq(jobManager.jobState(idB).nextSequence, 1);
    }

    function test_respond_feeCappedByMaxFee() public {
        vm.fee(1000 gwei);
        vm.txGasPrice(1000 gwei);
        _respond(_header(), _one(_workTask(0)), _none());
        assertEq(jobManager.jobState(jobId).balance, DEPOSIT - JobSpecs.MAX_FEE);
    }

    function test_respond_reentrantTargetCannotReenter() public {
        TaskReentrantTarget reentrant = new TaskReentrantTarget(taskManager);
        bytes memory attack = abi.encodeCall(TaskReentrantTarget.attack, ());
        JobSpec memory s =
            JobSpecs.spec(JobSpecs.intervalTrigger(T0, 60), JobSpecs.callAction(address(reentrant), attack));
        uint256 id = _createJob(s, DEPOSIT);
        _respond(_header(), _one(_task(id, 0, s, true, attack)), _none());
        assertFalse(reentrant.respondSucceeded());
        assertEq(reentrant.respondError(), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        assertFalse(reentrant.claimSucceeded());
        assertEq(reentrant.claimError(), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        assertEq(jobManager.jobState(id).nextSequence, 1);
    }

    function test_respond_revertsWhenTooLittleGasForTheTarget() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());
        // Enough for the signature check but not for the job's 200k gas limit: the whole batch reverts, so a
        // submitter cannot starve a target into failing.
        vm.prank(submitter);
        (bool ok, bytes memory ret) = address(taskManager).call{gas: 400_000}(
            abi.encodeCall(ITaskManager.respondToBatch, (header, tasks, nonSigners, signature))
        );
        assertFalse(ok);
        // The first four bytes of the revert data are the error selector.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(bytes4(ret), JobForwarder.InsufficientGas.selector);
        assertEq(jobManager.jobState(jobId).nextSequence, 0);
        assertEq(taskManager.batchCount(), 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // respondToBatch: exactly once and skips
    // ---------------------------------------------------------------------------------------------------------

    function test_respond_sameTaskInSecondBatchIsSkipped() public {
        _respond(_header(), _one(_workTask(0)), _none());
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        _expectSkip(jobId, 0, header, tasks, SkipReason.AlreadyPerformed);
        _respond(header, tasks, _none());
        assertEq(target.count(), 1);
        assertEq(jobManager.jobState(jobId).balance, DEPOSIT - PREMIUM);
    }

    function test_respond_sameTaskTwiceInOneBatch() public {
        TaskInput[] memory tasks = new TaskInput[](2);
        tasks[0] = _workTask(0);
        tasks[1] = _workTask(0);
        BatchHeader memory header = _header();
        _expectSkip(jobId, 0, header, tasks, SkipReason.AlreadyPerformed);
        _respond(header, tasks, _none());
        assertEq(target.count(), 1);
    }

    function test_respond_earlierSequenceAfterLaterIsSkipped() public {
        vm.warp(T0 + 7200);
        _respond(_header(), _one(_workTask(2)), _none());
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(1));
        _expectSkip(jobId, 1, header, tasks, SkipReason.AlreadyPerformed);
        _respond(header, tasks, _none());
        assertEq(target.count(), 1);
    }

    function test_respond_largestSequenceIsNeverDue() public {
        JobSpec memory s =
            JobSpecs.spec(JobSpecs.blockTrigger(0, 1), JobSpecs.callAction(address(new NoopTarget()), hex"01"));
        uint256 id = _createJob(s, DEPOSIT);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(id, type(uint64).max, s, true, hex"01"));
        _expectSkip(id, type(uint64).max, header, tasks, SkipReason.NotDue);
        _respond(header, tasks, _none());
        assertEq(jobManager.jobState(id).nextSequence, 0);
    }

    function test_respond_pausedJobIsSkipped() public {
        vm.prank(jobOwner);
        jobManager.pauseJob(jobId);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        _expectSkip(jobId, 0, header, tasks, SkipReason.JobNotActive);
        _respond(header, tasks, _none());
        assertEq(target.count(), 0);
        assertEq(jobManager.jobState(jobId).nextSequence, 0);
    }

    function test_respond_cancelledJobIsSkipped() public {
        vm.prank(jobOwner);
        jobManager.cancelJob(jobId);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        _expectSkip(jobId, 0, header, tasks, SkipReason.JobNotActive);
        _respond(header, tasks, _none());
        assertEq(target.count(), 0);
    }

    function test_respond_expiredJobIsSkipped() public {
        JobSpec memory s = spec;
        // T0 + 100 is far below 2^40.
        // forge-lint: disable-next-line(unsafe-typecast)
        s.expiry = uint40(T0 + 100);
        vm.prank(jobOwner);
        jobManager.updateJob(jobId, s);
        vm.warp(T0 + 101);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(jobId, 0, s, true, workCall));
        _expectSkip(jobId, 0, header, tasks, SkipReason.Expired);
        _respond(header, tasks, _none());
        assertEq(target.count(), 0);
    }

    function test_respond_unfundedJobIsSkipped() public {
        // The escrow holds less than the premium alone.
        JobSpec memory s = _specOf(0);
        uint256 id = _createJob(s, PREMIUM - 1);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(id, 0, s, true, workCall));
        _expectSkip(id, 0, header, tasks, SkipReason.Unfunded);
        _respond(header, tasks, _none());
        assertEq(jobManager.jobState(id).nextSequence, 0);
        // Funded, the same task runs in the next batch.
        vm.prank(jobOwner);
        jobManager.topUp{value: 1 ether}(id);
        _respond(_header(), tasks, _none());
        assertEq(jobManager.jobState(id).nextSequence, 1);
    }

    function test_respond_unfundedForWorstCaseGas() public {
        // 200k gas at 100 gwei is 0.02 ether, above maxFee (0.01): the escrow must hold maxFee.
        vm.fee(100 gwei);
        vm.txGasPrice(100 gwei);
        JobSpec memory s = _specOf(0);
        uint256 id = _createJob(s, JobSpecs.MAX_FEE - 1);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(id, 0, s, true, workCall));
        _expectSkip(id, 0, header, tasks, SkipReason.Unfunded);
        _respond(header, tasks, _none());
    }

    function test_respond_emptyEscrowIsSkippedEvenWithoutPremium() public {
        vm.prank(taskOwner);
        taskManager.setPremium(0);
        uint256 id = _createJob(_specOf(0), 0);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(id, 0, _specOf(0), true, workCall));
        _expectSkip(id, 0, header, tasks, SkipReason.Unfunded);
        _respond(header, tasks, _none());
    }

    function test_respond_specMismatchIsSkipped() public {
        JobSpec memory other = spec;
        other.gasLimit = 300_000;
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = new TaskInput[](2);
        tasks[0] = _task(jobId, 0, other, true, workCall);
        tasks[1] = _task(999, 0, spec, true, workCall); // no such job
        _expectSkip(jobId, 0, header, tasks, SkipReason.SpecMismatch);
        _expectSkip(999, 0, header, tasks, SkipReason.SpecMismatch);
        _respond(header, tasks, _none());
        assertEq(target.count(), 0);
    }

    function test_respond_notDueIntervalTaskIsSkippedAndRecorded() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = new TaskInput[](2);
        tasks[0] = _workTask(0);
        tasks[1] = _workTask(1); // due at T0 + 3600
        _expectSkip(jobId, 1, header, tasks, SkipReason.NotDue);
        (, BatchRecord memory record,) = _respondRecorded(header, tasks, _none());
        assertEq(record.invalidLeaf, _leafHashes(tasks)[1]);
        assertEq(target.count(), 1);
        assertEq(jobManager.jobState(jobId).nextSequence, 1);
    }

    function test_respond_notDueBlockTaskIsSkipped() public {
        JobSpec memory s =
            JobSpecs.spec(JobSpecs.blockTrigger(0, 100), JobSpecs.callAction(address(new NoopTarget()), hex"01"));
        uint256 id = _createJob(s, DEPOSIT);
        BatchHeader memory header = _header();
        uint64 firstNotDue = uint64(header.referenceBlockNumber / 100 + 1);
        TaskInput[] memory tasks = new TaskInput[](2);
        tasks[0] = _task(id, firstNotDue - 1, s, true, hex"01");
        tasks[1] = _task(id, firstNotDue, s, true, hex"01");
        _expectSkip(id, firstNotDue, header, tasks, SkipReason.NotDue);
        (, BatchRecord memory record,) = _respondRecorded(header, tasks, _none());
        assertEq(record.invalidLeaf, _leafHashes(tasks)[1]);
        assertEq(jobManager.jobState(id).nextSequence, firstNotDue);
    }

    function test_respond_eventFromAfterTheReferenceBlockIsNotDue() public {
        JobSpec memory s = JobSpecs.spec(
            JobSpecs.eventTrigger(10, address(0xE), keccak256("Ping()")),
            JobSpecs.callAction(address(new NoopTarget()), hex"01")
        );
        uint256 id = _createJob(s, DEPOSIT);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = new TaskInput[](2);
        uint64 future = JobSchedule.eventSequence(header.referenceBlockNumber + 1, 0);
        uint64 beforeStart = JobSchedule.eventSequence(9, 0);
        tasks[0] = _task(id, future, s, true, hex"01");
        tasks[1] = _task(id, beforeStart, s, true, hex"01");
        _expectSkip(id, future, header, tasks, SkipReason.NotDue);
        _expectSkip(id, beforeStart, header, tasks, SkipReason.NotDue);
        _respond(header, tasks, _none());
        assertEq(jobManager.jobState(id).nextSequence, 0);
    }

    function test_respond_invalidCallDataIsSkippedAndRecorded() public {
        ChainlinkStyleUpkeep upkeep = new ChainlinkStyleUpkeep(60);
        JobSpec memory s = JobSpecs.spec(
            JobSpecs.intervalTrigger(T0, 60), JobSpecs.upkeepAction(address(upkeep), abi.encode(uint256(5)))
        );
        uint256 id = _createJob(s, DEPOSIT);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = new TaskInput[](4);
        tasks[0] = _task(jobId, 0, spec, true, hex"12345678"); // a Call job must send its data
        tasks[1] = _task(jobId, 0, spec, false, ""); // and cannot be "nothing to do"
        tasks[2] = _task(id, 0, s, true, abi.encodeWithSignature("checkUpkeep(bytes)", "")); // only performUpkeep
        tasks[3] = _task(id, 0, s, true, hex"45"); // too short for a selector
        for (uint256 i; i < 4; ++i) {
            _expectSkip(tasks[i].jobId, 0, header, tasks, SkipReason.InvalidCallData);
        }
        (, BatchRecord memory record,) = _respondRecorded(header, tasks, _none());
        assertEq(record.invalidLeaf, _leafHashes(tasks)[0]);
        assertEq(target.count(), 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // respondToBatch: rejected batches
    // ---------------------------------------------------------------------------------------------------------

    function test_respond_revertsOnEmptyBatch() public {
        BatchHeader memory header = _header();
        vm.expectRevert(ITaskManager.EmptyBatch.selector);
        taskManager.respondToBatch(header, new TaskInput[](0), _nonSigners(_none()), new bytes(256));
    }

    function test_respond_revertsOnReplay() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());
        bytes32 digest = taskManager.respondToBatch(header, tasks, nonSigners, signature);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.BatchAlreadyResponded.selector, digest));
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
        // With another signer set, the same digest is refused too.
        (nonSigners, signature) = _signBatch(header, tasks, _absent(0));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.BatchAlreadyResponded.selector, digest));
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsOnReorgedReferenceBlock() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());
        vm.setBlockhash(header.referenceBlockNumber, keccak256("after the reorg"));
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskManager.UnknownReferenceBlock.selector, header.referenceBlockNumber, header.referenceBlockHash
            )
        );
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsOnCurrentOrFutureBlock() public {
        BatchHeader memory header = BatchHeader(uint32(block.number), bytes32(0));
        TaskInput[] memory tasks = _one(_workTask(0));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.UnknownReferenceBlock.selector, uint32(block.number), bytes32(0))
        );
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsOnTooOldReferenceBlock() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());
        vm.roll(block.number + 6); // age 7
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskManager.ReferenceBlockTooOld.selector, header.referenceBlockNumber, block.number, uint16(6)
            )
        );
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
        vm.startPrank(taskOwner);
        taskManager.setChallengeWindow(24);
        taskManager.setMaxReferenceAge(7);
        vm.stopPrank();
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsWithoutQuorum() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        uint256[] memory absent = _firstN(2);
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, absent);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskManager.QuorumNotReached.selector, 2 * OPERATOR_WEIGHT, 4 * OPERATOR_WEIGHT, uint16(6_667)
            )
        );
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
        // Half is enough once the quorum is 50%.
        vm.prank(taskOwner);
        taskManager.setQuorumBps(5_000);
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsOnSignatureBySmallerSetThanClaimed() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        // Operator 3 did not sign, but the submitter lists no non-signers.
        bytes memory signature = _aggregateSignature(_batchDigest(header, tasks), _absent(3));
        NonSigners memory nonSigners = _nonSigners(_none());
        vm.expectRevert(ITaskManager.InvalidSignature.selector);
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsOnWrongNonSigner() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        // Operator 3 did not sign, but operator 2 is listed.
        bytes memory signature = _aggregateSignature(_batchDigest(header, tasks), _absent(3));
        NonSigners memory nonSigners = _nonSigners(_absent(2));
        vm.expectRevert(ITaskManager.InvalidSignature.selector);
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsOnUnsortedOrDuplicateNonSigners() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        uint256[] memory absent = new uint256[](2);
        absent[1] = 1;
        NonSigners memory nonSigners = _nonSigners(absent);
        bytes memory signature = _aggregateSignature(_batchDigest(header, tasks), absent);
        (nonSigners.pubkeys[0], nonSigners.pubkeys[1]) = (nonSigners.pubkeys[1], nonSigners.pubkeys[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NonSignersNotSorted.selector, 1));
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
        nonSigners.pubkeys[0] = nonSigners.pubkeys[1];
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NonSignersNotSorted.selector, 1));
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsOnUnknownNonSigner() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        NonSigners memory nonSigners;
        nonSigners.pubkeys = new BLS12381.G1Point[](1);
        nonSigners.pubkeys[0] = _publicKey(12345);
        bytes memory signature = _aggregateSignature(_batchDigest(header, tasks), _none());
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskManager.UnknownNonSigner.selector, keccak256(BLS12381.toBytes(_publicKey(12345)))
            )
        );
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function test_respond_revertsOnSignatureOverAnotherBatch() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        TaskInput[] memory other = _one(_task(jobId, 0, spec, false, ""));
        bytes memory signature = _aggregateSignature(_batchDigest(header, other), _none());
        vm.expectRevert(ITaskManager.InvalidSignature.selector);
        taskManager.respondToBatch(header, tasks, _nonSigners(_none()), signature);
    }

    function test_respond_revertsOnSignatureForAnotherContract() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        bytes32 foreign = BatchDigest.taskBatchDigest(
            BatchDigest.domainSeparator(block.chainid, address(0xBEEF)),
            header.referenceBlockNumber,
            header.referenceBlockHash,
            BatchDigest.merkleRoot(_leafHashes(tasks))
        );
        bytes memory signature = _aggregateSignature(foreign, _none());
        vm.expectRevert(ITaskManager.InvalidSignature.selector);
        taskManager.respondToBatch(header, tasks, _nonSigners(_none()), signature);
    }

    function test_respond_revertsOnMalformedSignature() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 255));
        taskManager.respondToBatch(header, tasks, _nonSigners(_none()), new bytes(255));
        // The point at infinity never verifies.
        vm.expectRevert(ITaskManager.InvalidSignature.selector);
        taskManager.respondToBatch(header, tasks, _nonSigners(_none()), new bytes(256));
    }

    function test_respond_revertsWhenTheSetHadNoWeight() public {
        _roomForReferenceAge(48);
        // Test block numbers are small.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 ref = uint32(emptySetBlock);
        vm.setBlockhash(ref, keccak256("empty"));
        BatchHeader memory header = BatchHeader(ref, keccak256("empty"));
        TaskInput[] memory tasks = _one(_workTask(0));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NoWeightAtReferenceBlock.selector, ref));
        taskManager.respondToBatch(header, tasks, _nonSigners(_none()), new bytes(256));
    }

    function test_respond_usesTheSetAtTheReferenceBlock() public {
        // A batch signed by the 4 operators at a reference block before a 5th joined verifies after it joined.
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());
        _addOperator();
        vm.roll(block.number + 1);
        _roomForReferenceAge(20);
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
        assertEq(target.count(), 1);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Rewards
    // ---------------------------------------------------------------------------------------------------------

    function test_claimRewards_submitterAndSigners() public {
        vm.txGasPrice(1 gwei);
        (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes) =
            _respondRecorded(_header(), _one(_workTask(0)), _absent(3));
        BatchClaim[] memory claims = _claim(digest, record, hashes);

        // The submitter takes the gas part.
        address payee = makeAddr("payee");
        assertEq(taskManager.claimableRewards(submitter, claims), record.submitterReward);
        vm.expectEmit(address(taskManager));
        emit RewardsClaimed(submitter, payee, record.submitterReward, 0, 0);
        vm.prank(submitter);
        assertEq(taskManager.claimRewards(claims, payee), record.submitterReward);
        assertEq(payee.balance, record.submitterReward);
        assertEq(taskManager.nextClaimableBatch(submitter), 1);

        // Three signers share the premium by weight; the non-signer gets nothing.
        uint256 share = uint256(PREMIUM) / 3;
        for (uint256 i; i < 3; ++i) {
            assertEq(taskManager.claimableRewards(operators[i], claims), share);
            vm.prank(operators[i]);
            taskManager.claimRewards(claims, operators[i]);
            assertEq(operators[i].balance, share);
        }
        assertEq(taskManager.claimableRewards(operators[3], claims), 0);
        vm.prank(operators[3]);
        assertEq(taskManager.claimRewards(claims, operators[3]), 0);

        // Accounting: the fee pool still holds exactly what was credited and not claimed (rounding dust here).
        assertEq(taskManager.totalClaimed(), record.submitterReward + 3 * share);
        assertEq(jobManager.accruedFees(), taskManager.totalCredited() - taskManager.totalClaimed());
        assertEq(jobManager.accruedFees(), PREMIUM - 3 * share);
    }

    function test_claimRewards_revertsOnSecondClaimOrOutOfOrder() public {
        (bytes32 d0, BatchRecord memory r0, bytes32[] memory h0) =
            _respondRecorded(_header(), _one(_workTask(0)), _none());
        vm.warp(T0 + 3600);
        (bytes32 d1, BatchRecord memory r1, bytes32[] memory h1) =
            _respondRecorded(_header(), _one(_workTask(1)), _none());
        BatchClaim[] memory claims = new BatchClaim[](2);
        claims[0] = BatchClaim(d1, r1, h1);
        claims[1] = BatchClaim(d0, r0, h0);
        vm.startPrank(operators[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.ClaimOutOfOrder.selector, uint64(0), uint64(2)));
        taskManager.claimRewards(claims, operators[0]);
        taskManager.claimRewards(_claim(d1, r1, h1), operators[0]);
        // Batch 0 was passed over.
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.ClaimOutOfOrder.selector, uint64(0), uint64(2)));
        taskManager.claimRewards(_claim(d0, r0, h0), operators[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.ClaimOutOfOrder.selector, uint64(1), uint64(2)));
        taskManager.claimRewards(_claim(d1, r1, h1), operators[0]);
        vm.stopPrank();
        assertEq(operators[0].balance, uint256(PREMIUM) / 4);
    }

    function test_claimRewards_revertsOnForgedRecordOrNonSigners() public {
        (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes) =
            _respondRecorded(_header(), _one(_workTask(0)), _absent(3));
        BatchRecord memory forged = _copy(record);
        forged.signedWeight = 1;
        vm.startPrank(operators[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.BatchRecordMismatch.selector, digest));
        taskManager.claimRewards(_claim(digest, forged, hashes), operators[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.BatchRecordMismatch.selector, bytes32(uint256(1))));
        taskManager.claimRewards(_claim(bytes32(uint256(1)), record, hashes), operators[0]);
        vm.stopPrank();
        // Operator 3 cannot hide from the non-signer list.
        vm.prank(operators[3]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NonSignersMismatch.selector, digest));
        taskManager.claimRewards(_claim(digest, record, new bytes32[](0)), operators[3]);
    }

    function test_claimRewards_zeroRecipientAndEmptyList() public {
        vm.expectRevert(ITaskManager.InputAddressZero.selector);
        taskManager.claimRewards(new BatchClaim[](0), address(0));
        vm.recordLogs();
        assertEq(taskManager.claimRewards(new BatchClaim[](0), address(this)), 0);
        assertEq(vm.getRecordedLogs().length, 0);
    }

    function testFuzz_feeAccounting(uint64 gasPriceGwei, uint96 premium_, uint8 absentCount) public {
        gasPriceGwei = uint64(bound(gasPriceGwei, 0, 500));
        premium_ = uint96(bound(premium_, 0, taskManager.MAX_PREMIUM() / 1 gwei)) * 1 gwei;
        absentCount = uint8(bound(absentCount, 0, 1));
        vm.prank(taskOwner);
        taskManager.setPremium(premium_);
        vm.txGasPrice(uint256(gasPriceGwei) * 1 gwei);
        (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes) =
            _respondRecorded(_header(), _one(_workTask(0)), _firstN(absentCount));
        uint256 charged = DEPOSIT - jobManager.jobState(jobId).balance;
        uint256 expected = record.submitterReward + record.signerReward;
        assertEq(charged, expected);
        assertLe(charged, JobSpecs.MAX_FEE);

        uint256 paid;
        BatchClaim[] memory claims = _claim(digest, record, hashes);
        vm.prank(submitter);
        paid += taskManager.claimRewards(claims, submitter);
        for (uint256 i; i < operators.length; ++i) {
            vm.prank(operators[i]);
            paid += taskManager.claimRewards(claims, operators[i]);
        }
        assertLe(paid, charged);
        assertLe(charged - paid, operators.length); // rounding dust only
        assertEq(jobManager.accruedFees(), taskManager.totalCredited() - taskManager.totalClaimed());
    }

    function testFuzz_intervalDueness(uint64 sequence, uint32 elapsed) public {
        sequence = uint64(bound(sequence, 0, 1000));
        vm.warp(T0 + uint256(elapsed));
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(sequence));
        // forge-lint: disable-next-line(block-timestamp)
        bool due = uint256(T0) + uint256(sequence) * 3600 <= block.timestamp;
        if (!due) _expectSkip(jobId, sequence, header, tasks, SkipReason.NotDue);
        (, BatchRecord memory record,) = _respondRecorded(header, tasks, _none());
        assertEq(target.count(), due ? 1 : 0);
        assertEq(record.invalidLeaf == bytes32(0), due);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Challenges: invalid response
    // ---------------------------------------------------------------------------------------------------------

    function _invalidBatch()
        internal
        returns (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes, bytes32 leaf)
    {
        TaskInput[] memory tasks = _one(_workTask(5)); // not due for hours
        (digest, record, hashes) = _respondRecorded(_header(), tasks, _absent(3));
        leaf = _leafHashes(tasks)[0];
    }

    function test_challengeInvalidResponse_slashesSigners() public {
        (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes, bytes32 leaf) = _invalidBatch();
        address[] memory signers = new address[](2);
        signers[0] = operators[0];
        signers[1] = operators[1];
        uint256 before = registry.getOperatorWeight(operators[0]);
        vm.expectEmit(address(taskManager));
        emit InvalidResponseProven(operators[0], digest, leaf, 0.05e18, address(this));
        vm.expectEmit(address(taskManager));
        emit InvalidResponseProven(operators[1], digest, leaf, 0.05e18, address(this));
        taskManager.challengeInvalidResponse(digest, record, hashes, signers);
        assertLt(registry.getOperatorWeight(operators[0]), before);
        assertLt(registry.getOperatorWeight(operators[1]), before);
        assertEq(registry.getOperatorWeight(operators[2]), before);
        assertTrue(serviceManager.isSlashed(digest, operators[0]));
        // Ejected and banned for good.
        assertFalse(registry.isRegistered(operators[0]));
        assertTrue(registry.isBanned(operators[1]));
        assertTrue(registry.isRegistered(operators[2]));

        address[] memory again = new address[](1);
        again[0] = operators[1];
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.AlreadySlashed.selector, operators[1], digest));
        taskManager.challengeInvalidResponse(digest, record, hashes, again);
    }

    function test_challengeInvalidResponse_revertsOnNonSignerOrStranger() public {
        (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes,) = _invalidBatch();
        address[] memory list = new address[](1);
        list[0] = operators[3];
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NotASigner.selector, operators[3], digest));
        taskManager.challengeInvalidResponse(digest, record, hashes, list);
        list[0] = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NotASigner.selector, list[0], digest));
        taskManager.challengeInvalidResponse(digest, record, hashes, list);
    }

    function test_challengeInvalidResponse_revertsOutsideWindowOrOnBadInput() public {
        (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes,) = _invalidBatch();
        address[] memory list = new address[](1);
        list[0] = operators[0];
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NonSignersMismatch.selector, digest));
        taskManager.challengeInvalidResponse(digest, record, new bytes32[](0), list);
        BatchRecord memory forged = _copy(record);
        forged.invalidLeaf = bytes32(0);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.BatchRecordMismatch.selector, digest));
        taskManager.challengeInvalidResponse(digest, forged, hashes, list);
        vm.roll(uint256(record.challengeDeadline) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.ChallengeWindowClosed.selector, digest, record.challengeDeadline)
        );
        taskManager.challengeInvalidResponse(digest, record, hashes, list);
    }

    function test_challengeInvalidResponse_revertsOnValidBatch() public {
        (bytes32 digest, BatchRecord memory record, bytes32[] memory hashes) =
            _respondRecorded(_header(), _one(_workTask(0)), _none());
        address[] memory list = new address[](1);
        list[0] = operators[0];
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NoInvalidResponse.selector, digest));
        taskManager.challengeInvalidResponse(digest, record, hashes, list);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Challenges: equivocation
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Operator `index` signs batch A = [task(jobId, 0, X)] and batch B = [other, task(jobId, 0, Y)].
    function _equivocation(uint256 index) internal view returns (SignedLeaf memory a, SignedLeaf memory b) {
        BatchHeader memory headerA = BatchHeader(500, keccak256("A"));
        BatchHeader memory headerB = BatchHeader(501, keccak256("B"));
        TaskInput[] memory tasksA = _one(_workTask(0));
        TaskInput[] memory tasksB = new TaskInput[](3);
        tasksB[0] = _task(7, 3, spec, true, hex"01");
        tasksB[1] = _task(jobId, 0, spec, false, "");
        tasksB[2] = _task(8, 1, spec, true, hex"02");
        bytes32[] memory leavesB = _leafHashes(tasksB);
        a = SignedLeaf(
            headerA,
            keccak256(abi.encode(true, workCall)),
            new bytes32[](0),
            _operatorSignature(index, _batchDigest(headerA, tasksA))
        );
        b = SignedLeaf(
            headerB,
            keccak256(abi.encode(false, bytes(""))),
            BatchDigest.merkleProof(leavesB, 1),
            _operatorSignature(index, _batchDigest(headerB, tasksB))
        );
    }

    function test_challengeEquivocation_slashes() public {
        (SignedLeaf memory a, SignedLeaf memory b) = _equivocation(1);
        bytes32 specHash = keccak256(abi.encode(spec));
        bytes32 offence = taskManager.equivocationId(jobId, 0, specHash);
        uint256 before = registry.currentStake(operators[1]);
        vm.expectEmit(true, true, true, false, address(taskManager));
        emit EquivocationProven(operators[1], jobId, 0, 0, 0, 0, 0, 0, 0, address(0));
        taskManager.challengeEquivocation(operators[1], jobId, 0, specHash, a, b);
        // EigenLayer rounds the slashed shares in its own favour: a few hundred wei of 450e18. Ejected, the
        // operator is still slashable (DEALLOCATION_DELAY), so EigenLayer still reports its reduced stake.
        assertApproxEqAbs(registry.currentStake(operators[1]), before * 9 / 10, 1e6);
        assertFalse(registry.isRegistered(operators[1]), "ejected");
        assertTrue(registry.isBanned(operators[1]), "for good");
        assertEq(registry.getOperatorWeight(operators[1]), 0);
        assertTrue(serviceManager.isSlashed(offence, operators[1]));

        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.AlreadySlashed.selector, operators[1], offence));
        taskManager.challengeEquivocation(operators[1], jobId, 0, specHash, b, a);
    }

    function test_challengeEquivocation_revertsOnSameResponse() public {
        (SignedLeaf memory a,) = _equivocation(1);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.SameResponse.selector, a.responseHash));
        taskManager.challengeEquivocation(operators[1], jobId, 0, keccak256(abi.encode(spec)), a, a);
    }

    function test_challengeEquivocation_revertsOnAnotherOperatorsSignature() public {
        (SignedLeaf memory a, SignedLeaf memory b) = _equivocation(1);
        vm.expectPartialRevert(ITaskManager.InvalidOperatorSignature.selector);
        taskManager.challengeEquivocation(operators[2], jobId, 0, keccak256(abi.encode(spec)), a, b);
    }

    function test_challengeEquivocation_revertsOnWrongTaskSpecOrProof() public {
        (SignedLeaf memory a, SignedLeaf memory b) = _equivocation(1);
        bytes32 specHash = keccak256(abi.encode(spec));
        vm.expectPartialRevert(ITaskManager.InvalidOperatorSignature.selector);
        taskManager.challengeEquivocation(operators[1], jobId, 1, specHash, a, b);
        vm.expectPartialRevert(ITaskManager.InvalidOperatorSignature.selector);
        taskManager.challengeEquivocation(operators[1], jobId, 0, keccak256("another spec"), a, b);
        b.proof[0] = keccak256("wrong sibling");
        vm.expectPartialRevert(ITaskManager.InvalidOperatorSignature.selector);
        taskManager.challengeEquivocation(operators[1], jobId, 0, specHash, a, b);
    }

    function test_challengeEquivocation_revertsOnUnknownOperator() public {
        (SignedLeaf memory a, SignedLeaf memory b) = _equivocation(1);
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.UnknownOperator.selector, stranger));
        taskManager.challengeEquivocation(stranger, jobId, 0, keccak256(abi.encode(spec)), a, b);
    }

    /// A task manager the service manager does not link cannot slash through it.
    function test_challengeEquivocation_revertsWhenNotTheLinkedTaskManager() public {
        TaskManager unlinked = new TaskManager(registry, serviceManager, taskOwner, guardian);
        BatchHeader memory headerA = BatchHeader(500, keccak256("A"));
        BatchHeader memory headerB = BatchHeader(501, keccak256("B"));
        TaskInput[] memory tasksA = _one(_workTask(0));
        TaskInput[] memory tasksB = _one(_task(jobId, 0, spec, false, ""));
        bytes32 digestA = BatchDigest.taskBatchDigest(
            unlinked.domainSeparator(), 500, keccak256("A"), BatchDigest.merkleRoot(_leafHashes(tasksA))
        );
        bytes32 digestB = BatchDigest.taskBatchDigest(
            unlinked.domainSeparator(), 501, keccak256("B"), BatchDigest.merkleRoot(_leafHashes(tasksB))
        );
        SignedLeaf memory a = SignedLeaf(
            headerA, keccak256(abi.encode(true, workCall)), new bytes32[](0), _operatorSignature(1, digestA)
        );
        SignedLeaf memory b = SignedLeaf(
            headerB, keccak256(abi.encode(false, bytes(""))), new bytes32[](0), _operatorSignature(1, digestB)
        );
        vm.expectRevert(KeeperServiceManager.OnlyTaskManager.selector);
        unlinked.challengeEquivocation(operators[1], jobId, 0, keccak256(abi.encode(spec)), a, b);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal helpers that need the fixture's state
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The spec of jobs created with `JobSpecs.hourly(T0, noop)`; id 0 builds a fresh one for a new job.
    function _specOf(uint256) internal returns (JobSpec memory) {
        if (address(_noop) == address(0)) _noop = new NoopTarget();
        return JobSpecs.hourly(T0, address(_noop));
    }

    NoopTarget internal _noop;
}
