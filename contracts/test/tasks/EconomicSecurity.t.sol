// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Vm} from "forge-std/Vm.sol";
import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {IJobManager, JobSpec, SpecField, SpecFault} from "../../src/interfaces/IJobManager.sol";
import {IStrategy} from "../../src/interfaces/IStrategy.sol";
import {RegisterParams} from "../../src/interfaces/IAllocationManager.sol";
import {BlsKeyRegistry} from "../../src/avs/BlsKeyRegistry.sol";
import {KeeperServiceManager} from "../../src/avs/KeeperServiceManager.sol";
import {JobSchedule} from "../../src/jobs/JobSchedule.sol";
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
import {ChainlinkStyleUpkeep, ForwarderGuardedTarget, GasGuzzlerTarget, NoopTarget} from "../utils/JobTargets.sol";
import {TaskFixture} from "../utils/TaskFixture.sol";

/// @dev Attacks on the protocol's economic security, each performed against the real EigenLayer core and the AVS and shown refused (or, for
/// the fee attacks, the bound shown to hold). Attack 9 is documentation (docs/protocol.md, "What the chain checks").
contract EconomicSecurityTest is TaskFixture {
    uint64 internal constant T0 = 1_700_000_000;
    uint96 internal constant PREMIUM = 0.001 ether;
    uint256 internal constant DEPOSIT = 1 ether;

    ForwarderGuardedTarget internal target;
    uint256 internal jobId;
    JobSpec internal spec;
    bytes internal workCall = abi.encodeWithSignature("work()");

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
    // Attack 1: a job owner gets honest keepers slashed by changing the job after they signed
    // ---------------------------------------------------------------------------------------------------------

    /// The owner waits for the keepers' signed batch, updates the job's call data, and submits the same signature
    /// with the new spec (so the old response looks wrong), then challenges. The leaf binds the signed spec: the
    /// swapped spec breaks the signature; with the signed spec the task is skipped as a spec mismatch, nothing is
    /// provably wrong, and nobody's stake moves. Repeated three times (the attack took operators from 500 to 428.7).
    function test_attack1_updateAfterSigning_slashesNobody() public {
        uint256[] memory stakes = _stakes();
        for (uint256 round; round < 3; ++round) {
            vm.warp(T0 + round * 3600);
            JobSpec memory signed = spec;
            BatchHeader memory header = _header();
            // Test values: the cast keeps what the test put there.
            // forge-lint: disable-next-line(unsafe-typecast)
            TaskInput[] memory tasks = _one(_task(jobId, uint64(round), signed, true, workCall));
            (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());

            // The owner changes the call data before the batch lands.
            JobSpec memory changed = _copy(signed);
            changed.action.data = abi.encodeWithSignature("other(uint256)", round);
            vm.prank(jobOwner);
            jobManager.updateJob(jobId, changed);
            spec = changed;

            // The signature over the signed spec does not cover the changed one.
            // forge-lint: disable-next-line(unsafe-typecast)
            TaskInput[] memory swapped = _one(_task(jobId, uint64(round), changed, true, workCall));
            vm.expectRevert(ITaskManager.InvalidSignature.selector);
            vm.prank(jobOwner);
            taskManager.respondToBatch(header, swapped, nonSigners, signature);

            // Submitted as signed (by the owner, front-running the aggregator): accepted, the task skipped.
            vm.expectEmit(address(taskManager));
            // Test values: the cast keeps what the test put there.
            // forge-lint: disable-next-line(unsafe-typecast)
            emit ITaskManager.TaskSkipped(jobId, uint64(round), _batchDigest(header, tasks), SkipReason.SpecMismatch);
            vm.recordLogs();
            vm.prank(jobOwner);
            bytes32 digest = taskManager.respondToBatch(header, tasks, nonSigners, signature);
            (BatchRecord memory record, bytes32[] memory hashes) = _recordOf(vm.getRecordedLogs());
            assertEq(record.invalidLeaf, bytes32(0), "nothing provably wrong");
            vm.expectRevert(abi.encodeWithSelector(ITaskManager.NoInvalidResponse.selector, digest));
            vm.prank(jobOwner);
            taskManager.challengeInvalidResponse(digest, record, hashes, operators);

            // The aggregator's own submission of the same batch is a replay.
            vm.expectRevert(abi.encodeWithSelector(ITaskManager.BatchAlreadyResponded.selector, digest));
            taskManager.respondToBatch(header, tasks, nonSigners, signature);
            // Restore a spec the target accepts for the next round.
            vm.prank(jobOwner);
            jobManager.updateJob(jobId, signed);
            spec = signed;
        }
        _assertStakes(stakes);
        assertEq(target.count(), 0);
        // The task is performed later, under the job's current spec.
        _respond(_header(), _one(_task(jobId, 2, spec, true, workCall)), _none());
        assertEq(target.count(), 1);
    }

    /// The same with an action-kind change: keepers signed a Chainlink-style `performUpkeep` under the upkeep spec;
    /// the owner turns the job into a plain Call with other data, under which `performUpkeep` would be impossible
    /// call data. The signed spec judges the leaf: valid, skipped, nobody slashed.
    function test_attack1_actionKindChange_judgedBySignedSpec() public {
        uint256[] memory stakes = _stakes();
        ChainlinkStyleUpkeep upkeep = new ChainlinkStyleUpkeep(60);
        JobSpec memory upkeepSpec =
            JobSpecs.spec(JobSpecs.intervalTrigger(T0, 60), JobSpecs.upkeepAction(address(upkeep), abi.encode(5)));
        uint256 id = _createJob(upkeepSpec, DEPOSIT);
        bytes memory performCall = abi.encodeCall(ChainlinkStyleUpkeep.performUpkeep, (abi.encode(5)));
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(id, 0, upkeepSpec, true, performCall));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());

        JobSpec memory asCall =
            JobSpecs.spec(JobSpecs.intervalTrigger(T0, 60), JobSpecs.callAction(address(upkeep), hex"01"));
        vm.prank(jobOwner);
        jobManager.updateJob(id, asCall);

        vm.recordLogs();
        bytes32 digest = taskManager.respondToBatch(header, tasks, nonSigners, signature);
        (BatchRecord memory record, bytes32[] memory hashes) = _recordOf(vm.getRecordedLogs());
        assertEq(record.invalidLeaf, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NoInvalidResponse.selector, digest));
        taskManager.challengeInvalidResponse(digest, record, hashes, operators);
        _assertStakes(stakes);
    }

    /// The guilty side: keepers sign call data their own (signed) spec forbids; the owner's later update cannot wash
    /// the offence away, since the leaf is judged by the spec it binds. Every signer is slashed.
    function test_attack1_dishonestLeafStaysSlashableAfterAnUpdate() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(jobId, 0, spec, true, hex"deadbeef"));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _absent(3));
        JobSpec memory changed = _copy(spec);
        changed.action.data = hex"deadbeef";
        vm.prank(jobOwner);
        jobManager.updateJob(jobId, changed);

        vm.recordLogs();
        bytes32 digest = taskManager.respondToBatch(header, tasks, nonSigners, signature);
        (BatchRecord memory record, bytes32[] memory hashes) = _recordOf(vm.getRecordedLogs());
        assertEq(record.invalidLeaf, _leafHashes(tasks)[0]);
        address[] memory signers = new address[](3);
        for (uint256 i; i < 3; ++i) {
            signers[i] = operators[i];
        }
        uint256 before = _sharesOf(operators[0]);
        taskManager.challengeInvalidResponse(digest, record, hashes, signers);
        assertApproxEqAbs(before - _sharesOf(operators[0]), 25e18, 1e6, "5% of the 500 allocated");
        assertEq(_sharesOf(operators[3]), 1000e18, "the non-signer keeps everything");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attack 2: a quorum with nothing at stake
    // ---------------------------------------------------------------------------------------------------------

    /// Operators with 75% of the weight deallocate everything and wait out EigenLayer's deallocation delay. Their
    /// old weights are then stale (no confirmation in `maxWeightAge` blocks before the reference block) and refused;
    /// once confirmed, they weigh nothing and cannot reach quorum.
    function test_attack2_deallocatedQuorum_isRefused() public {
        for (uint256 i; i < 3; ++i) {
            _allocate(operators[i], 0);
        }
        vm.roll(block.number + DEALLOCATION_DELAY + 1);

        // Nobody confirmed the weights since: refused as stale.
        BatchHeader memory header = _headerAt();
        TaskInput[] memory tasks = _one(_task(jobId, 5, spec, true, workCall)); // provably not due
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _absent(3));
        uint32 confirmed = uint32(registry.weightsConfirmedAt());
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskManager.StaleWeights.selector, header.referenceBlockNumber, confirmed, taskManager.maxWeightAge()
            )
        );
        taskManager.respondToBatch(header, tasks, nonSigners, signature);

        // Confirmed: the three weigh nothing, the fourth is everything.
        _confirmWeights();
        header = _headerAt();
        (nonSigners, signature) = _signBatch(header, tasks, _absent(3));
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.QuorumNotReached.selector, 0, OPERATOR_WEIGHT, uint16(6_667))
        );
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    /// Stake that signs stays slashable until the batch's challenge deadline: the three deallocate right after
    /// the last confirmation and sign a provably wrong batch at once (their weights still count); challenged at the
    /// very last block of its window, each loses 5% of what it counted with.
    function test_attack2_stakeThatSignedIsSlashableUntilTheDeadline() public {
        _confirmWeights();
        for (uint256 i; i < 3; ++i) {
            _allocate(operators[i], 0);
        }
        BatchHeader memory header = _headerAt();
        TaskInput[] memory tasks = _one(_task(jobId, 5, spec, true, workCall));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _absent(3));
        // Submitted as late as the reference age allows.
        vm.roll(header.referenceBlockNumber + taskManager.maxReferenceAge());
        vm.recordLogs();
        bytes32 digest = taskManager.respondToBatch(header, tasks, nonSigners, signature);
        (BatchRecord memory record, bytes32[] memory hashes) = _recordOf(vm.getRecordedLogs());
        assertEq(record.signedWeight, 3 * OPERATOR_WEIGHT);

        vm.roll(record.challengeDeadline);
        address[] memory signers = new address[](3);
        uint256[] memory before = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            signers[i] = operators[i];
            before[i] = _sharesOf(operators[i]);
        }
        taskManager.challengeInvalidResponse(digest, record, hashes, signers);
        for (uint256 i; i < 3; ++i) {
            assertApproxEqAbs(before[i] - _sharesOf(operators[i]), OPERATOR_WEIGHT / 20, 1e6, "5% of the weight");
        }
        // The bound that makes it so, read from chain.
        (uint256 used, uint256 horizon) = taskManager.slashableBudget();
        assertLe(used, horizon);
        assertEq(horizon, DEALLOCATION_DELAY);
    }

    /// The rule itself: a reference block more than `maxWeightAge` blocks after the last confirmation is refused,
    /// one exactly that far is accepted.
    function test_attack2_weightAgeBound() public {
        _confirmWeights();
        uint256 confirmed = block.number;
        uint32 maxAge = taskManager.maxWeightAge();
        vm.roll(confirmed + maxAge);
        BatchHeader memory header = _headerAt();
        assertEq(header.referenceBlockNumber, confirmed + maxAge);
        _respond(header, _one(_workTask(0)), _none());

        header = _headerAt();
        TaskInput[] memory tasks = _one(_workTask(0));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());
        // Test values: a block number of the test.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 confirmedAt = uint32(confirmed);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.StaleWeights.selector, header.referenceBlockNumber, confirmedAt, maxAge)
        );
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attack 3: event tasks lost to a later log's batch
    // ---------------------------------------------------------------------------------------------------------

    /// Batches for two logs of one event job land out of order (anyone may submit any signed batch): both tasks are
    /// performed, each once.
    function test_attack3_eventTasksCompleteInAnyOrder() public {
        NoopTarget noop = new NoopTarget();
        JobSpec memory s = JobSpecs.spec(
            JobSpecs.eventTrigger(10, address(0xE), keccak256("Ping()")), JobSpecs.callAction(address(noop), hex"01")
        );
        uint256 id = _createJob(s, DEPOSIT);
        BatchHeader memory header = _header();
        uint64 early = JobSchedule.eventSequence(header.referenceBlockNumber - 5, 0);
        uint64 late = JobSchedule.eventSequence(header.referenceBlockNumber, 7);
        TaskInput[] memory first = _one(_task(id, early, s, true, hex"01"));
        TaskInput[] memory second = _one(_task(id, late, s, true, hex"01"));
        (NonSigners memory nsEarly, bytes memory sigEarly) = _signBatch(header, first, _none());
        // The later log's batch lands first.
        vm.expectEmit(true, true, true, false, address(taskManager));
        emit ITaskManager.TaskPerformed(id, late, _batchDigest(header, second), true, 0, 0);
        _respond(header, second, _none());
        vm.expectEmit(true, true, true, false, address(taskManager));
        emit ITaskManager.TaskPerformed(id, early, _batchDigest(header, first), true, 0, 0);
        taskManager.respondToBatch(header, first, nsEarly, sigEarly);
        assertTrue(jobManager.isTaskDone(id, early));
        assertTrue(jobManager.isTaskDone(id, late));

        // Neither runs twice.
        BatchHeader memory again = _header();
        TaskInput[] memory both = new TaskInput[](2);
        both[0] = first[0];
        both[1] = second[0];
        vm.expectEmit(address(taskManager));
        emit ITaskManager.TaskSkipped(id, early, _batchDigest(again, both), SkipReason.AlreadyPerformed);
        vm.expectEmit(address(taskManager));
        emit ITaskManager.TaskSkipped(id, late, _batchDigest(again, both), SkipReason.AlreadyPerformed);
        _respond(again, both, _none());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attack 4: zero-stake keys, and ejection that does not stick
    // ---------------------------------------------------------------------------------------------------------

    /// A key with no stake cannot join (so no batch carries it as a non-signer); an operator ejected for a proven
    /// equivocation cannot come back once EigenLayer's delay has passed, nor can anyone reuse its key.
    function test_attack4_zeroStakeRefused_and_ejectionSticks() public {
        address squatter = makeAddr("squatter");
        vm.prank(squatter);
        delegationManager.registerAsOperator(address(0), OPERATOR_ALLOCATION_DELAY, "https://operator.example");
        bytes memory data = _registrationData(squatter, 0x5eed);
        RegisterParams memory params = _registerParams(data);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.InsufficientStake.selector, squatter, 0, MINIMUM_STAKE));
        vm.prank(squatter);
        allocationManager.registerForOperatorSets(squatter, params);

        // Operator 1 equivocates and is proven: slashed, ejected, banned.
        bytes32 specHash = keccak256(abi.encode(spec));
        (SignedLeaf memory a, SignedLeaf memory b) = _equivocation(1, specHash);
        taskManager.challengeEquivocation(operators[1], jobId, 0, specHash, a, b);
        assertFalse(registry.isRegistered(operators[1]));
        vm.roll(block.number + DEALLOCATION_DELAY + 1);
        bytes memory again = abi.encode(BLS12381.toBytes(_publicKey(secrets[1])), bytes(""));
        params = _registerParams(again);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.OperatorIsBanned.selector, operators[1]));
        vm.prank(operators[1]);
        allocationManager.registerForOperatorSets(operators[1], params);
        // Its key, under a fresh address, with a fresh proof: bound to the banned operator for good.
        address fresh = makeAddr("fresh");
        _prepareOperator(fresh, OPERATOR_STAKE, OPERATOR_MAGNITUDE);
        bytes memory key = BLS12381.toBytes(_publicKey(secrets[1]));
        params = _registerParams(abi.encode(key, _proofOfPossession(fresh, secrets[1], key)));
        vm.expectRevert(
            abi.encodeWithSelector(BlsKeyRegistry.PubkeyAlreadyRegistered.selector, pubkeyHashes[1], operators[1])
        );
        vm.prank(fresh);
        allocationManager.registerForOperatorSets(fresh, params);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attack 5: jobs that make keepers pay
    // ---------------------------------------------------------------------------------------------------------

    /// An interval job whose 5M-gas target burns all the gas it is given.
    function _guzzlerSpec() private returns (JobSpec memory s) {
        GasGuzzlerTarget guzzler = new GasGuzzlerTarget();
        s = JobSpecs.spec(JobSpecs.intervalTrigger(T0, 60), JobSpecs.callAction(address(guzzler), ""));
        s.gasLimit = 5_000_000;
    }

    /// A job whose `maxFee` cannot pay its gas limit and a batch's fixed cost at the floor price is refused at
    /// creation and at update.
    function test_attack5_maxFeeFloorAtCreationAndUpdate() public {
        JobSpec memory s = _guzzlerSpec();
        s.maxFee = 1;
        vm.expectRevert(abi.encodeWithSelector(IJobManager.InvalidSpec.selector, SpecField.MaxFee, SpecFault.TooSmall));
        vm.prank(jobOwner);
        jobManager.createJob{value: 1 ether}(s);
        uint256 floor = taskManager.minJobFee(5_000_000);
        assertEq(floor, (5_000_000 + taskManager.SOLO_BATCH_GAS()) * 1 gwei);
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        s.maxFee = uint80(floor - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.InvalidSpec.selector, SpecField.MaxFee, SpecFault.TooSmall));
        vm.prank(jobOwner);
        jobManager.createJob{value: 1 ether}(s);
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        s.maxFee = uint80(floor);
        uint256 id = _createJob(s, 1 ether);
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        s.maxFee = uint80(floor - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobManager.InvalidSpec.selector, SpecField.MaxFee, SpecFault.TooSmall));
        vm.prank(jobOwner);
        jobManager.updateJob(id, s);
    }

    /// The bound: a batch holding only a job at the floor (a 5M-gas target that burns it all), submitted at the floor
    /// price as base fee, reimburses the submitter at least what the transaction cost it. Measured: the call's gas
    /// plus 21,000 and the calldata at Prague prices, against the record's `submitterReward`.
    function test_attack5_soloBatchAtTheFloorPaysItsSubmitter() public {
        JobSpec memory s = _guzzlerSpec();
        s.maxFee = uint80(taskManager.minJobFee(5_000_000));
        uint256 id = _createJob(s, 1 ether);
        vm.prank(taskOwner);
        taskManager.setPremium(0);

        vm.fee(1 gwei);
        vm.txGasPrice(1 gwei);
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_task(id, 0, s, true, ""));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _absent(3));
        bytes memory callData = abi.encodeCall(taskManager.respondToBatch, (header, tasks, nonSigners, signature));
        vm.recordLogs();
        vm.prank(submitter);
        taskManager.respondToBatch(header, tasks, nonSigners, signature);
        uint256 txGas = vm.lastCallGas().gasTotalUsed + 21_000 + _calldataGas(callData);
        (BatchRecord memory record,) = _recordOf(vm.getRecordedLogs());
        uint256 cost = txGas * 1 gwei;
        emit log_named_uint("solo 5M-gas task: transaction gas", txGas);
        emit log_named_uint("solo 5M-gas task: reimbursed gas", record.submitterReward / 1 gwei);
        assertGe(record.submitterReward, cost, "the submitter is reimbursed at least its cost");
        // Not a windfall either: within 10% above the cost (calldata is charged at the non-zero byte price).
        assertLe(record.submitterReward, cost * 110 / 100);
    }

    /// The batch's fixed cost is paid by its tasks: for batches of 1, 8 and 32 tasks (interval jobs; event jobs;
    /// Gelato-style jobs whose 1 KB of call data and 512 bytes of resolver data are random, i.e. dense calldata),
    /// the submitter's reimbursement covers what the transaction cost it (execution, 21,000, calldata at Prague
    /// prices, 2,600 per cold forwarder and target), and exceeds it by at most 10%.
    function test_attack5_batchCostIsPaidByItsTasks() public {
        vm.prank(taskOwner);
        taskManager.setPremium(0);
        vm.fee(1 gwei);
        vm.txGasPrice(1 gwei);
        uint256[3] memory sizes = [uint256(1), 8, 32];
        string[3] memory names = ["interval", "event", "dense gelato"];
        for (uint256 kind; kind < 3; ++kind) {
            for (uint256 k; k < 3; ++k) {
                TaskInput[] memory tasks = new TaskInput[](sizes[k]);
                for (uint256 i; i < sizes[k]; ++i) {
                    tasks[i] = _costTask(kind, i);
                }
                BatchHeader memory header = _header();
                (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _absent(3));
                bytes memory callData =
                    abi.encodeCall(taskManager.respondToBatch, (header, tasks, nonSigners, signature));
                vm.recordLogs();
                vm.prank(submitter);
                taskManager.respondToBatch(header, tasks, nonSigners, signature);
                uint256 txGas = vm.lastCallGas().gasTotalUsed + 21_000 + _calldataGas(callData) + 5_200 * sizes[k];
                (BatchRecord memory record,) = _recordOf(vm.getRecordedLogs());
                uint256 reimbursed = record.submitterReward / 1 gwei;
                emit log_named_uint(string.concat(names[kind], " tasks: ", vm.toString(sizes[k]), ", tx gas"), txGas);
                emit log_named_uint("  reimbursed gas", reimbursed);
                assertGe(reimbursed, txGas, "the submitter is not out of pocket");
                assertLe(reimbursed, txGas * 110 / 100, "nor paid more than 10% beyond its cost");
            }
        }
    }

    /// @dev A task of a fresh job of `kind` (0 interval, 1 event, 2 Gelato-style with dense data), funded.
    function _costTask(uint256 kind, uint256 salt) internal returns (TaskInput memory) {
        NoopTarget noop = new NoopTarget();
        if (kind == 0) {
            JobSpec memory s =
                JobSpecs.spec(JobSpecs.intervalTrigger(T0, 60), JobSpecs.callAction(address(noop), hex"01"));
            return _task(_createJob(s, 1 ether), 0, s, true, hex"01");
        }
        if (kind == 1) {
            JobSpec memory s = JobSpecs.spec(
                JobSpecs.eventTrigger(1, address(0xE), keccak256("Ping()")), JobSpecs.callAction(address(noop), hex"01")
            );
            uint64 sequence = JobSchedule.eventSequence(uint64(block.number), 0);
            return _task(_createJob(s, 1 ether), sequence, s, true, hex"01");
        }
        JobSpec memory g = JobSpecs.spec(
            JobSpecs.intervalTrigger(T0, 60), JobSpecs.resolverAction(address(noop), address(0xBEEF), _dense(512, salt))
        );
        return _task(_createJob(g, 1 ether), 0, g, true, _dense(1024, salt + 1));
    }

    /// @dev `length` bytes with no zero byte among them.
    function _dense(uint256 length, uint256 salt) internal pure returns (bytes memory data) {
        data = new bytes(length);
        for (uint256 i; i < length; ++i) {
            data[i] = bytes1(uint8(uint256(keccak256(abi.encode(salt, i))) % 255) + 1);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attack 6: the submitter sets its own reimbursement
    // ---------------------------------------------------------------------------------------------------------

    /// A submitter that builds its own block pays itself an absurd priority fee (10,000 gwei over a 10 gwei base
    /// fee): the job is charged at most the base fee plus the 2 gwei cap per gas.
    function test_attack6_absurdGasPriceIsCapped() public {
        vm.fee(10 gwei);
        vm.txGasPrice(10_000 gwei);
        vm.recordLogs();
        _respond(_header(), _one(_workTask(0)), _none());
        Vm.Log[] memory logs = vm.getRecordedLogs();
        (BatchRecord memory record,) = _recordOf(logs);
        (uint256 gasUsed, uint256 fee) = _performedOf(logs);
        uint256 capped = 10 gwei + taskManager.maxPriorityFee();
        assertEq(capped, 12 gwei);
        // Fee = (gas used + overhead) * capped price + premium, and the submitter's part is the gas at that price.
        assertEq((fee - PREMIUM) % capped, 0);
        uint256 chargedGas = (fee - PREMIUM) / capped;
        assertGt(chargedGas, gasUsed);
        assertLt(chargedGas, gasUsed + 350_000);
        assertEq(record.submitterReward, chargedGas * capped);
        assertLt(fee, JobSpecs.MAX_FEE, "far below what the uncapped price would take");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attack 7: owner powers
    // ---------------------------------------------------------------------------------------------------------

    /// A batch's challenge deadline is fixed when it is accepted: the owner shortening the window afterwards does
    /// not close it early (nor can it reopen a closed one).
    function test_attack7_windowChangeIsNotRetroactive() public {
        TaskInput[] memory tasks = _one(_workTask(5)); // not due
        vm.recordLogs();
        bytes32 digest = _respond(_header(), tasks, _absent(3));
        (BatchRecord memory record, bytes32[] memory hashes) = _recordOf(vm.getRecordedLogs());
        vm.prank(taskOwner);
        taskManager.setChallengeWindow(1);
        vm.roll(record.challengeDeadline);
        address[] memory signers = new address[](1);
        signers[0] = operators[0];
        taskManager.challengeInvalidResponse(digest, record, hashes, signers);
        assertTrue(serviceManager.isSlashed(digest, operators[0]));
    }

    /// The guardian pauses new batches; refunds, top-ups, updates, claims and challenges go on. No one else can
    /// pause, the guardian cannot unpause anything else, and the owner only names the guardian.
    function test_attack7_guardianPausesOnlyBatches() public {
        // An offence to challenge and a batch to claim, from before the pause.
        vm.recordLogs();
        bytes32 digest = _respond(_header(), _one(_workTask(5)), _absent(3));
        (BatchRecord memory record, bytes32[] memory hashes) = _recordOf(vm.getRecordedLogs());

        vm.expectRevert(abi.encodeWithSelector(ITaskManager.NotGuardian.selector, taskOwner));
        vm.prank(taskOwner);
        taskManager.pause();
        vm.expectEmit(address(taskManager));
        emit ITaskManager.BatchesPaused(true);
        vm.prank(guardian);
        taskManager.pause();

        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, _none());
        vm.expectRevert(ITaskManager.Paused.selector);
        taskManager.respondToBatch(header, tasks, nonSigners, signature);

        BatchClaim[] memory claims = new BatchClaim[](1);
        claims[0] = BatchClaim(digest, record, hashes);
        vm.prank(operators[0]);
        taskManager.claimRewards(claims, operators[0]);
        address[] memory signers = new address[](1);
        signers[0] = operators[1];
        taskManager.challengeInvalidResponse(digest, record, hashes, signers);
        vm.prank(jobOwner);
        jobManager.topUp{value: 1}(jobId);
        uint256 balance = jobManager.jobState(jobId).balance;
        vm.prank(jobOwner);
        assertEq(jobManager.cancelJob(jobId), balance, "the refund goes out while paused");

        vm.prank(guardian);
        taskManager.unpause();
        assertFalse(taskManager.paused());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attack 8: invalid points cost the whole transaction
    // ---------------------------------------------------------------------------------------------------------

    /// A batch whose signature is a well-encoded point off the curve fails with a named error at the price of the
    /// pairing, not the sender's 3M gas limit (2.96M before each precompile call was given only its price).
    function test_attack8_offCurveSignatureFailsCheaply() public {
        BatchHeader memory header = _header();
        TaskInput[] memory tasks = _one(_workTask(0));
        NonSigners memory nonSigners = _nonSigners(_none());
        bytes memory offCurve = _offCurveG2();
        bytes memory call = abi.encodeCall(ITaskManager.respondToBatch, (header, tasks, nonSigners, offCurve));
        uint256 before = gasleft();
        (bool ok, bytes memory ret) = address(taskManager).call{gas: 3_000_000}(call);
        uint256 used = before - gasleft();
        assertFalse(ok);
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(bytes4(ret), ITaskManager.InvalidSignature.selector);
        emit log_named_uint("batch with an off-curve signature: gas", used);
        assertLt(used, 400_000);
    }

    /// A key registration carrying a key off the curve fails with a named error cheaply too.
    function test_attack8_offCurveKeyFailsCheaply() public {
        address newcomer = makeAddr("newcomer");
        _prepareOperator(newcomer, OPERATOR_STAKE, OPERATOR_MAGNITUDE);
        // (1, 1) is not on y^2 = x^3 + 4.
        bytes memory key = abi.encode(bytes32(0), bytes32(uint256(1)), bytes32(0), bytes32(uint256(1)));
        RegisterParams memory params = _registerParams(abi.encode(key, _offCurveG2()));
        uint256 before = gasleft();
        vm.prank(newcomer);
        (bool ok, bytes memory ret) = address(allocationManager).call{gas: 3_000_000}(
            abi.encodeCall(allocationManager.registerForOperatorSets, (newcomer, params))
        );
        uint256 used = before - gasleft();
        assertFalse(ok);
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(bytes4(ret), BlsKeyRegistry.InvalidPublicKey.selector);
        emit log_named_uint("registration with an off-curve key: gas", used);
        assertLt(used, 400_000);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function _workTask(uint64 sequence) internal view returns (TaskInput memory) {
        return _task(jobId, sequence, spec, true, workCall);
    }

    /// @dev A deep copy (memory structs assign by reference).
    function _copy(JobSpec memory s) internal pure returns (JobSpec memory) {
        return abi.decode(abi.encode(s), (JobSpec));
    }

    function _absent(uint256 index) internal pure returns (uint256[] memory list) {
        list = new uint256[](1);
        list[0] = index;
    }

    function _recordOf(Vm.Log[] memory logs)
        internal
        view
        returns (BatchRecord memory record, bytes32[] memory hashes)
    {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(taskManager) && logs[i].topics[0] == ITaskManager.BatchResponded.selector) {
                (,,, hashes, record) = abi.decode(logs[i].data, (bytes32, bytes32, uint256, bytes32[], BatchRecord));
            }
        }
    }

    function _performedOf(Vm.Log[] memory logs) internal view returns (uint256 gasUsed, uint256 fee) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(taskManager) && logs[i].topics[0] == ITaskManager.TaskPerformed.selector) {
                (, gasUsed, fee) = abi.decode(logs[i].data, (bool, uint256, uint256));
            }
        }
    }

    function _sharesOf(address operator) internal view returns (uint256) {
        IStrategy[] memory strategies = _strategies();
        return delegationManager.getOperatorShares(operator, strategies)[0];
    }

    function _stakes() internal view returns (uint256[] memory stakes) {
        stakes = new uint256[](operators.length);
        for (uint256 i; i < operators.length; ++i) {
            stakes[i] = _sharesOf(operators[i]);
        }
    }

    function _assertStakes(uint256[] memory stakes) internal view {
        for (uint256 i; i < operators.length; ++i) {
            assertEq(_sharesOf(operators[i]), stakes[i], "stake unchanged");
            assertTrue(registry.isRegistered(operators[i]), "still in the set");
        }
    }

    /// @dev Operator `index` signs task (jobId, 0) under `specHash` twice, with two different responses.
    function _equivocation(uint256 index, bytes32) internal view returns (SignedLeaf memory a, SignedLeaf memory b) {
        BatchHeader memory headerA = BatchHeader(500, keccak256("A"));
        BatchHeader memory headerB = BatchHeader(501, keccak256("B"));
        TaskInput[] memory tasksA = _one(_workTask(0));
        TaskInput[] memory tasksB = _one(_task(jobId, 0, spec, false, ""));
        a = SignedLeaf(
            headerA,
            keccak256(abi.encode(true, workCall)),
            new bytes32[](0),
            _operatorSignature(index, _batchDigest(headerA, tasksA))
        );
        b = SignedLeaf(
            headerB,
            keccak256(abi.encode(false, bytes(""))),
            new bytes32[](0),
            _operatorSignature(index, _batchDigest(headerB, tasksB))
        );
    }

    /// @dev A well-encoded G2 point (every coordinate 1) that is not on the curve.
    function _offCurveG2() internal pure returns (bytes memory) {
        return abi.encode(
            bytes32(0),
            bytes32(uint256(1)),
            bytes32(0),
            bytes32(uint256(1)),
            bytes32(0),
            bytes32(uint256(1)),
            bytes32(0),
            bytes32(uint256(1))
        );
    }

    /// @dev Calldata gas at Prague prices: 4 per zero byte, 16 per other byte.
    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }
}
