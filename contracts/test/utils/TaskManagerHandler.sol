// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Vm} from "forge-std/Vm.sol";
import {JobSpec, JobState, JobStatus} from "../../src/interfaces/IJobManager.sol";
import {
    ITaskManager,
    BatchHeader,
    TaskInput,
    NonSigners,
    BatchRecord,
    BatchClaim,
    SignedLeaf
} from "../../src/interfaces/ITaskManager.sol";
import {Allocation} from "../../src/interfaces/IAllocationManager.sol";
import {IStrategy} from "../../src/interfaces/IStrategy.sol";
import {KeeperServiceManager} from "../../src/avs/KeeperServiceManager.sol";
import {BatchDigest} from "../../src/libraries/BatchDigest.sol";
import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {JobSchedule} from "../../src/jobs/JobSchedule.sol";
import {JobSpecs} from "./JobSpecs.sol";
import {TaskFixture} from "./TaskFixture.sol";

/// @dev Counts every call per (forwarder, sequence) and remembers if one came twice; `ping(version)` is the static
/// call of Call jobs (counted per forwarder only).
contract SequenceTarget {
    mapping(address forwarder => mapping(uint64 sequence => uint256 calls)) public calls;
    mapping(address forwarder => uint256) public callsOf;
    bool public calledTwice;

    function perform(uint64 sequence) external {
        if (++calls[msg.sender][sequence] > 1) calledTwice = true;
        ++callsOf[msg.sender];
    }

    function ping(uint256) external {
        ++callsOf[msg.sender];
    }
}

/// @dev Drives the task manager, job manager, key registry and service manager together, on the real EigenLayer
/// fixture: jobs of three kinds (a block job calling a static `ping`, a block job and an event job sending the keepers'
/// call data Gelato-style) are created, updated, topped up, paused, resumed and cancelled; batches are signed at one
/// block and submitted at a later one, while in between anything may happen: job updates, deposits (weights grow),
/// deallocations, weight refreshes (or none: weights go stale), ejections of operators below the minimum stake, new
/// operators, equivocations, challenges, claims, the guardian's pause. Signers are either honest (each leaf is what
/// the job's spec at the reference block gives) or, on purpose, dishonest (a Call job's leaf with other call data,
/// or a task not yet due): every operator that signed a dishonest leaf or equivocated is guilty.
/// What the invariants check through the ghost state: an innocent operator is never slashed; a challenge of an
/// accepted dishonest batch within its deadline always succeeds and burns at least the slashed share of the weight
/// each signer counted with; an honest batch is never challengeable; escrow, rewards and exactly-once hold.
contract TaskManagerHandler is TaskFixture {
    uint256 internal constant FIRST_OPERATORS = 4;
    uint256 internal constant MAX_OPERATORS = 7;
    uint256 internal constant MAX_PENDING = 8;

    /// Block job with a static `ping(version)` call; block job with the keepers' `perform(sequence)`; event job with
    /// the keepers' `perform(sequence)`.
    uint8 internal constant CALL_JOB = 0;
    uint8 internal constant GELATO_JOB = 1;
    uint8 internal constant EVENT_JOB = 2;

    SequenceTarget public target;
    address internal resolver = address(0xBEEF);
    uint256[] public jobIds;
    uint8[] internal kinds;
    JobSpec[] internal specs;
    uint256[] internal versions;

    // Escrow and rewards ghosts.
    uint256 public deposited;
    uint256 public refunded;
    uint256 public feesCharged;
    uint256 public credited;
    uint256 public claimed;
    uint256 public performedEvents;

    // Slashing ghosts.
    mapping(address operator => bool) public guilty;
    mapping(address operator => uint256) public slashCount;
    address[] internal slashedOperators;
    uint256 public dishonestAccepted;
    uint256 public dishonestChallenged;
    uint256 public honestAccepted;
    uint256 public submissionsRefused;
    uint256 public equivocationsProven;

    struct Pending {
        BatchHeader header;
        TaskInput[] tasks;
        NonSigners nonSigners;
        bytes signature;
        address[] signers;
        uint256[] signerWeights;
        uint256[] slashCounts;
        bool dishonest;
    }

    struct Accepted {
        bytes32 digest;
        BatchRecord record;
        bytes32[] nonSignerHashes;
        address[] signers;
        uint256[] signerWeights;
        uint256[] slashCountsAtSigning;
        bool dishonest;
        bool challenged;
    }

    /// Signed batches not yet submitted, ABI-encoded `Pending`s.
    bytes[] internal pending;
    Accepted[] internal accepted;
    /// The next batch index each claimant has not yet claimed (or passed over).
    mapping(address claimant => uint256) internal cursor;

    constructor() {
        _deployTaskManager(FIRST_OPERATORS);
        vm.prank(taskOwner);
        taskManager.setPremium(1000 gwei);
        target = new SequenceTarget();
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function operatorCount() external view returns (uint256) {
        return operators.length;
    }

    function operatorAt(uint256 i) external view returns (address) {
        return operators[i];
    }

    function slashedCount() external view returns (uint256) {
        return slashedOperators.length;
    }

    function slashedAt(uint256 i) external view returns (address) {
        return slashedOperators[i];
    }

    // ---------------------------------------------------------------------------------------------------------
    // Jobs
    // ---------------------------------------------------------------------------------------------------------

    function createJob(uint256 deposit, uint80 maxFee, uint8 kind) external {
        // Mostly funded for many tasks; now and then nearly empty (its tasks are skipped as unfunded).
        deposit = deposit % 8 == 0 ? bound(deposit, 0, 0.001 ether) : bound(deposit, 0.1 ether, 1 ether);
        kind = uint8(bound(kind, 0, 2));
        JobSpec memory spec = _specFor(kind, 0);
        // At least the job manager's floor: (gas limit + a batch of one) at the floor gas price.
        spec.maxFee = uint80(bound(maxFee, taskManager.minJobFee(spec.gasLimit), 0.01 ether));
        jobIds.push(_createJob(spec, deposit));
        kinds.push(kind);
        specs.push(spec);
        versions.push(0);
        deposited += deposit;
    }

    /// The owner replaces the job's spec (new call data or resolver data; the trigger stays): tasks signed under
    /// the old spec are skipped, never slashable.
    function updateJob(uint256 jobSeed) external {
        if (jobIds.length == 0) return;
        uint256 i = jobSeed % jobIds.length;
        if (jobManager.jobState(jobIds[i]).status == JobStatus.Cancelled) return;
        JobSpec memory spec = _specFor(kinds[i], ++versions[i]);
        spec.maxFee = specs[i].maxFee;
        vm.prank(jobOwner);
        jobManager.updateJob(jobIds[i], spec);
        specs[i] = spec;
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
    // Signing and submission
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Signs a batch of 1..3 tasks at a fresh reference block, by every registered operator or all but one,
    /// honestly (each leaf as the job's spec at the reference block gives it) or not (one leaf provably wrong).
    /// Weights are confirmed first (`_header`), or on `skipConfirmation` not (they may then be stale at submission).
    function sign(uint256 seed, uint8 taskCount, bool oneAbsent, bool dishonest, bool skipConfirmation) external {
        if (jobIds.length == 0 || pending.length >= MAX_PENDING) return;
        (address[] memory signers, uint256[] memory signerIndices, uint256[] memory absent) =
            _signersNow(oneAbsent, seed);
        if (signers.length == 0) return;
        BatchHeader memory header = skipConfirmation ? _headerAt() : _header();
        taskCount = uint8(bound(taskCount, 1, 3));
        TaskInput[] memory tasks = new TaskInput[](taskCount);
        for (uint256 t; t < taskCount; ++t) {
            tasks[t] = _honestTask(uint256(keccak256(abi.encode(seed, t))), header.referenceBlockNumber);
        }
        if (dishonest) tasks[0] = _dishonestTask(seed, header.referenceBlockNumber);
        Pending memory entry;
        entry.header = header;
        entry.tasks = tasks;
        entry.nonSigners = _nonSigners(absent);
        entry.signature = _signatureOf(_batchDigest(header, tasks), signerIndices);
        entry.dishonest = dishonest;
        entry.signers = signers;
        entry.signerWeights = new uint256[](signers.length);
        entry.slashCounts = new uint256[](signers.length);
        for (uint256 s; s < signers.length; ++s) {
            entry.signerWeights[s] = registry.getOperatorWeightAtBlock(signers[s], header.referenceBlockNumber);
            entry.slashCounts[s] = slashCount[signers[s]];
            if (dishonest) guilty[signers[s]] = true;
        }
        pending.push(abi.encode(entry));
    }

    /// @dev Submits a pending batch at a random gas price and base fee. Refusals the rules call for (stale weights, a
    /// reference block too old or unknown, the same digest twice, batches paused) are counted; any other revert fails.
    function submit(uint256 pendingSeed, uint64 gasPriceGwei, uint64 baseFeeGwei) external {
        if (pending.length == 0) return;
        uint256 index = pendingSeed % pending.length;
        Pending memory batch = abi.decode(pending[index], (Pending));
        pending[index] = pending[pending.length - 1];
        pending.pop();

        // The chain still knows the reference block's hash while it is among the last 256 (forge keeps hashes set with
        // `setBlockhash` only within a call of the campaign, so it is set again here).
        if (block.number - batch.header.referenceBlockNumber <= 256) {
            vm.setBlockhash(batch.header.referenceBlockNumber, batch.header.referenceBlockHash);
        }
        vm.fee(bound(baseFeeGwei, 0, 50) * 1 gwei);
        vm.txGasPrice(bound(gasPriceGwei, 0, 200) * 1 gwei);
        vm.recordLogs();
        vm.prank(submitter);
        try taskManager.respondToBatch(batch.header, batch.tasks, batch.nonSigners, batch.signature) {}
        catch (bytes memory reason) {
            // Test values: the cast keeps what the test put there.
            // forge-lint: disable-next-line(unsafe-typecast)
            bytes4 selector = bytes4(reason);
            bool expected = selector == ITaskManager.StaleWeights.selector
                || selector == ITaskManager.ReferenceBlockTooOld.selector
                || selector == ITaskManager.UnknownReferenceBlock.selector
                || selector == ITaskManager.BatchAlreadyResponded.selector || selector == ITaskManager.Paused.selector
                || selector == ITaskManager.QuorumNotReached.selector
                || selector == ITaskManager.NoWeightAtReferenceBlock.selector;
            assertTrue(expected, "a signed batch was refused for a reason the rules do not give");
            ++submissionsRefused;
            vm.getRecordedLogs();
            return;
        }
        _account(vm.getRecordedLogs(), batch);
    }

    /// @dev Challenges an accepted batch for its invalid leaf with all its signers. A dishonest batch within its
    /// deadline must be slashable (each signer loses at least the slashed share of the weight it counted with,
    /// unless it was slashed for something else meanwhile); an honest one never is.
    function challenge(uint256 acceptedSeed) external {
        if (accepted.length == 0) return;
        Accepted storage entry = accepted[acceptedSeed % accepted.length];
        if (!entry.dishonest) {
            vm.expectRevert(abi.encodeWithSelector(ITaskManager.NoInvalidResponse.selector, entry.digest));
            taskManager.challengeInvalidResponse(entry.digest, entry.record, entry.nonSignerHashes, entry.signers);
            return;
        }
        if (entry.challenged || block.number > entry.record.challengeDeadline) return;
        entry.challenged = true;
        ++dishonestChallenged;
        // The signers with weight at the reference block (a signer whose stake was all on its way out counted
        // nothing and is no signer on chain).
        address[] memory weighted = _weighted(entry.signers, entry.signerWeights);
        uint256[] memory sharesBefore = new uint256[](entry.signers.length);
        for (uint256 s; s < entry.signers.length; ++s) {
            sharesBefore[s] = _shares(entry.signers[s]);
        }
        vm.recordLogs();
        taskManager.challengeInvalidResponse(entry.digest, entry.record, entry.nonSignerHashes, weighted);
        _noteSlashes(vm.getRecordedLogs());
        for (uint256 s; s < entry.signers.length; ++s) {
            if (entry.signerWeights[s] == 0) continue;
            address signer = entry.signers[s];
            assertTrue(serviceManager.isSlashed(entry.digest, signer), "every signer of a proven batch is slashed");
            assertFalse(registry.isRegistered(signer), "and ejected");
            // Stake at risk: at least the slashed share of the weight it counted with, unless another slash came in
            // between (this one is counted in `slashCount` already).
            if (slashCount[signer] == entry.slashCountsAtSigning[s] + 1) {
                uint256 burnt = sharesBefore[s] - _shares(signer);
                assertGe(burnt + 1e6, entry.signerWeights[s] * taskManager.INVALID_RESPONSE_SLASH_WAD() / 1e18);
            }
        }
    }

    /// @dev A registered operator signs two responses for one task under one spec (a dishonest act), and anyone
    /// proves it.
    function equivocate(uint256 operatorSeed, uint256 jobSeed) external {
        if (jobIds.length == 0) return;
        uint256 index = operatorSeed % operators.length;
        address operator = operators[index];
        if (!registry.isRegistered(operator)) return;
        uint256 i = jobSeed % jobIds.length;
        if (kinds[i] == CALL_JOB) return;
        guilty[operator] = true;
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 sequence = uint64(jobSeed >> 128);
        bytes32 specHash = keccak256(abi.encode(specs[i]));
        SignedLeaf memory a = _signedLeaf(index, jobIds[i], sequence, specs[i], 1);
        SignedLeaf memory b = _signedLeaf(index, jobIds[i], sequence, specs[i], 2);
        vm.recordLogs();
        taskManager.challengeEquivocation(operator, jobIds[i], sequence, specHash, a, b);
        _noteSlashes(vm.getRecordedLogs());
        ++equivocationsProven;
        assertTrue(registry.isBanned(operator));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Stake and the set
    // ---------------------------------------------------------------------------------------------------------

    /// @dev An operator restakes more (its weight grows at the next refresh).
    function deposit(uint256 operatorSeed, uint256 amount) external {
        address operator = operators[operatorSeed % operators.length];
        _deposit(operator, bound(amount, 1e18, 500e18));
    }

    /// @dev An operator lowers its allocation to the keeper set (the deallocation takes EigenLayer's delay, its weight
    /// drops at the next refresh). Refused by EigenLayer while an earlier change is pending.
    function deallocate(uint256 operatorSeed, uint64 magnitude) external {
        address operator = operators[operatorSeed % operators.length];
        Allocation memory current = allocationManager.getAllocation(operator, _keeperSet(), strategy);
        if (current.effectBlock != 0 && current.effectBlock > block.number) return;
        magnitude = uint64(bound(magnitude, 0, current.currentMagnitude));
        if (magnitude == current.currentMagnitude) return;
        _allocate(operator, magnitude);
    }

    function refreshWeights() external {
        registry.updateAllWeights();
    }

    /// @dev Anyone ejects a member below the minimum stake.
    function ejectBelowMinimum(uint256 operatorSeed) external {
        address operator = operators[operatorSeed % operators.length];
        if (!registry.isRegistered(operator) || registry.currentStake(operator) >= registry.minimumStake()) return;
        serviceManager.ejectBelowMinimum(operator);
    }

    function addOperator() external {
        if (operators.length >= MAX_OPERATORS) return;
        _addOperator();
    }

    function guardianToggle() external {
        vm.startPrank(guardian);
        if (taskManager.paused()) taskManager.unpause();
        else taskManager.pause();
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Claims and time
    // ---------------------------------------------------------------------------------------------------------

    /// @dev A claimant (an operator or the submitter) claims its next few batches, in order, to itself.
    function claim(uint256 claimantSeed, uint8 count) external {
        uint256 pick = claimantSeed % (operators.length + 1);
        address claimant = pick == operators.length ? submitter : operators[pick];
        uint256 from = cursor[claimant];
        uint256 n = bound(count, 0, accepted.length - from);
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

    /// @dev A few blocks on, mostly; one in eight times a long jump (reference blocks and weights go stale).
    function roll(uint8 blocks) external {
        vm.roll(block.number + (blocks % 8 == 0 ? bound(blocks, 20, 80) : bound(blocks, 1, 3)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views for the invariants
    // ---------------------------------------------------------------------------------------------------------

    function sumOfBalances() external view returns (uint256 sum) {
        for (uint256 i; i < jobIds.length; ++i) {
            sum += jobManager.jobState(jobIds[i]).balance;
        }
    }

    /// @dev Every job's target calls match its completion story: interval and block jobs have no more calls than
    /// sequences consumed, no (job, sequence) was called twice, and every call was reported as performed.
    function callsWithinWatermarks() external view returns (bool) {
        uint256 total;
        for (uint256 i; i < jobIds.length; ++i) {
            JobState memory state = jobManager.jobState(jobIds[i]);
            uint256 calls = target.callsOf(jobManager.forwarderOf(jobIds[i]));
            if (kinds[i] != EVENT_JOB && calls > state.nextSequence) return false;
            total += calls;
        }
        return total == performedEvents && !target.calledTwice();
    }

    /// @dev What each claimant could still claim from the batches it has not claimed, summed.
    function unclaimedShares() external view returns (uint256 sum) {
        for (uint256 c; c <= operators.length; ++c) {
            address claimant = c == operators.length ? submitter : operators[c];
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

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    function _specFor(uint8 kind, uint256 version) internal view returns (JobSpec memory) {
        if (kind == CALL_JOB) {
            return JobSpecs.spec(
                JobSpecs.blockTrigger(1, 1),
                JobSpecs.callAction(address(target), abi.encodeCall(SequenceTarget.ping, (version)))
            );
        }
        bytes memory resolverData = abi.encodeWithSignature("checker(uint256)", version);
        if (kind == GELATO_JOB) {
            return JobSpecs.spec(
                JobSpecs.blockTrigger(1, 1), JobSpecs.resolverAction(address(target), resolver, resolverData)
            );
        }
        return JobSpecs.spec(
            JobSpecs.eventTrigger(1, address(0xE0), keccak256("Ping()")),
            JobSpecs.resolverAction(address(target), resolver, resolverData)
        );
    }

    /// @dev The registered operators, minus at most one (the one `seed` picks) if `oneAbsent`: the signers and their
    /// indices, and the absent ones' indices (every registered operator that does not sign is a non-signer; an
    /// operator out of the set is neither).
    function _signersNow(bool oneAbsent, uint256 seed)
        internal
        view
        returns (address[] memory signers, uint256[] memory signerIndices, uint256[] memory absent)
    {
        uint256 n = operators.length;
        bool[] memory signs = new bool[](n);
        uint256 signing;
        uint256 skipped = oneAbsent ? seed % n : type(uint256).max;
        uint256 absentCount;
        for (uint256 i; i < n; ++i) {
            if (!registry.isRegistered(operators[i])) continue;
            if (i == skipped) {
                ++absentCount;
                continue;
            }
            signs[i] = true;
            ++signing;
        }
        signers = new address[](signing);
        signerIndices = new uint256[](signing);
        absent = new uint256[](absentCount);
        uint256 s;
        uint256 a;
        for (uint256 i; i < n; ++i) {
            if (signs[i]) {
                signerIndices[s] = i;
                signers[s++] = operators[i];
            } else if (registry.isRegistered(operators[i])) {
                absent[a++] = i;
            }
        }
    }

    /// @dev The aggregate signature of the operators at `indices` over `digest`: (sum of their secrets) * H(m).
    function _signatureOf(bytes32 digest, uint256[] memory indices) internal view returns (bytes memory) {
        uint256 sum;
        for (uint256 i; i < indices.length; ++i) {
            sum = addmod(sum, secrets[indices[i]], R);
        }
        return BLS12381.toBytes(_sign(sum, abi.encode(digest), BatchDigest.BATCH_DST));
    }

    /// @dev What an honest keeper signs for a random job at `referenceBlock`: a due task, its response under the
    /// job's current spec.
    function _honestTask(uint256 r, uint32 referenceBlock) internal view returns (TaskInput memory) {
        uint256 i = r % jobIds.length;
        JobSpec memory spec = specs[i];
        uint64 sequence;
        if (kinds[i] == EVENT_JOB) {
            // A log of a block from the trigger's start to the reference block.
            sequence = JobSchedule.eventSequence(uint64(bound(r >> 8, 1, referenceBlock)), uint32((r >> 80) % 3));
        } else {
            uint64 next = jobManager.jobState(jobIds[i]).nextSequence;
            sequence = next + uint64((r >> 8) % 2);
            if ((r >> 16) % 4 == 0 && next > 0) sequence = next - 1;
            // Block jobs every block from block 1: task n is due at block n + 1, so up to the reference block.
            if (sequence >= referenceBlock) sequence = referenceBlock - 1;
        }
        if (kinds[i] == CALL_JOB) return _task(jobIds[i], sequence, spec, true, spec.action.data);
        bool execute = (r >> 24) % 5 != 0;
        return _task(
            jobIds[i], sequence, spec, execute, execute ? abi.encodeCall(SequenceTarget.perform, (sequence)) : bytes("")
        );
    }

    /// @dev A provably wrong leaf: a Call job's task with other call data, or a block job's task not due yet.
    function _dishonestTask(uint256 seed, uint32 referenceBlock) internal view returns (TaskInput memory) {
        uint256 i = seed % jobIds.length;
        JobSpec memory spec = specs[i];
        if (kinds[i] == CALL_JOB) {
            return
                _task(jobIds[i], referenceBlock, spec, true, abi.encodeCall(SequenceTarget.ping, (type(uint256).max)));
        }
        if (kinds[i] == GELATO_JOB) {
            // Test values: the cast keeps what the test put there.
            // forge-lint: disable-next-line(unsafe-typecast)
            uint64 notDue = uint64(referenceBlock) + 1 + uint64(seed % 100);
            return _task(jobIds[i], notDue, spec, true, abi.encodeCall(SequenceTarget.perform, (notDue)));
        }
        uint64 future = JobSchedule.eventSequence(uint64(referenceBlock) + 1, 0);
        return _task(jobIds[i], future, spec, true, abi.encodeCall(SequenceTarget.perform, (future)));
    }

    /// @dev Operator `index`'s own signature of a one-leaf batch giving the task response `variant`.
    function _signedLeaf(uint256 index, uint256 jobId, uint64 sequence, JobSpec memory spec, uint256 variant)
        internal
        view
        returns (SignedLeaf memory leaf)
    {
        // Test values: the cast keeps what the test put there.
        // forge-lint: disable-next-line(unsafe-typecast)
        BatchHeader memory header = BatchHeader(uint32(variant), keccak256(abi.encode("equivocation", variant)));
        TaskInput[] memory tasks = _one(_task(jobId, sequence, spec, true, abi.encode(variant)));
        leaf = SignedLeaf(
            header,
            keccak256(abi.encode(true, abi.encode(variant))),
            new bytes32[](0),
            _operatorSignature(index, _batchDigest(header, tasks))
        );
    }

    function _account(Vm.Log[] memory logs, Pending memory batch) internal {
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
                // A batch holds a provably wrong leaf exactly when it was signed dishonestly.
                assertEq(record.invalidLeaf != bytes32(0), batch.dishonest, "invalid leaf recorded iff dishonest");
                if (batch.dishonest) ++dishonestAccepted;
                else ++honestAccepted;
                Accepted storage entry = accepted.push();
                entry.digest = logs[i].topics[1];
                entry.record = record;
                entry.nonSignerHashes = hashes;
                entry.dishonest = batch.dishonest;
                for (uint256 s; s < batch.signers.length; ++s) {
                    entry.signers.push(batch.signers[s]);
                    entry.signerWeights.push(batch.signerWeights[s]);
                    entry.slashCountsAtSigning.push(batch.slashCounts[s]);
                }
            }
        }
    }

    function _noteSlashes(Vm.Log[] memory logs) internal {
        for (uint256 i; i < logs.length; ++i) {
            if (
                logs[i].emitter == address(serviceManager)
                    && logs[i].topics[0] == KeeperServiceManager.OperatorSlashRequested.selector
            ) {
                address operator = address(uint160(uint256(logs[i].topics[1])));
                if (slashCount[operator]++ == 0) slashedOperators.push(operator);
            }
        }
    }

    function _weighted(address[] storage signers, uint256[] storage weights)
        internal
        view
        returns (address[] memory list)
    {
        uint256 n;
        for (uint256 s; s < signers.length; ++s) {
            if (weights[s] != 0) ++n;
        }
        list = new address[](n);
        n = 0;
        for (uint256 s; s < signers.length; ++s) {
            if (weights[s] != 0) list[n++] = signers[s];
        }
    }

    function _shares(address operator) internal view returns (uint256) {
        IStrategy[] memory strategies = _strategies();
        return delegationManager.getOperatorShares(operator, strategies)[0];
    }
}
