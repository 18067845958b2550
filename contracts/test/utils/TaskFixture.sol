// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {BatchDigest} from "../../src/libraries/BatchDigest.sol";
import {JobManager} from "../../src/jobs/JobManager.sol";
import {JobSpec} from "../../src/interfaces/IJobManager.sol";
import {TaskManager} from "../../src/tasks/TaskManager.sol";
import {BatchHeader, TaskInput, NonSigners} from "../../src/interfaces/ITaskManager.sol";
import {EigenLayerFixture} from "./EigenLayerFixture.sol";

/// @dev The real EigenLayer core and AVS (EigenLayerFixture), a job manager and a task manager wired together, and
/// `operatorCount` operators onboarded with BLS keys. Builds, signs and submits batches from the protocol
/// definition (BatchDigest), not from the task manager's helpers.
abstract contract TaskFixture is EigenLayerFixture {
    uint256 internal constant OPERATOR_STAKE = 1000e18;
    uint64 internal constant OPERATOR_MAGNITUDE = 0.5e18;
    /// @dev Each operator's weight: its slashable stake, OPERATOR_STAKE * OPERATOR_MAGNITUDE / 1e18.
    uint256 internal constant OPERATOR_WEIGHT = 500e18;

    address internal taskOwner = makeAddr("taskOwner");
    address internal guardian = makeAddr("guardian");
    address internal jobOwner = makeAddr("jobOwner");
    address internal submitter = makeAddr("submitter");

    JobManager internal jobManager;
    TaskManager internal taskManager;

    /// @dev A block after the AVS was deployed and before any operator joined: the set had no weight there.
    uint256 internal emptySetBlock;

    address[] internal operators;
    uint256[] internal secrets;
    bytes32[] internal pubkeyHashes;

    function _deployTaskManager(uint256 operatorCount) internal {
        _deployCore();
        _deployAvs(MINIMUM_STAKE);
        taskManager = new TaskManager(registry, serviceManager, taskOwner, guardian);
        jobManager = JobManager(address(taskManager.jobManager()));
        vm.prank(avsOwner);
        serviceManager.setTaskManager(address(taskManager));
        vm.roll(block.number + 1);
        emptySetBlock = block.number;
        vm.roll(block.number + 1);
        for (uint256 i; i < operatorCount; ++i) {
            _addOperator();
        }
        registry.updateAllWeights();
        vm.roll(block.number + 1);
        vm.deal(jobOwner, 1000 ether);
    }

    /// @dev Confirms the set's weights in this block (`updateAllWeights`), as keepers do at least every
    /// `maxWeightAge` blocks.
    function _confirmWeights() internal {
        registry.updateAllWeights();
    }

    /// @dev Onboards one more operator with a deterministic key and the standard stake.
    function _addOperator() internal returns (address operator, uint256 secret) {
        uint256 index = operators.length;
        operator = makeAddr(string.concat("operator", vm.toString(index)));
        secret = uint256(keccak256(abi.encode("keeper secret", index))) % R;
        _onboard(operator, secret, OPERATOR_STAKE, OPERATOR_MAGNITUDE);
        operators.push(operator);
        secrets.push(secret);
        pubkeyHashes.push(keccak256(BLS12381.toBytes(_publicKey(secret))));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Jobs
    // ---------------------------------------------------------------------------------------------------------

    function _createJob(JobSpec memory spec, uint256 deposit) internal returns (uint256 jobId) {
        vm.prank(jobOwner);
        jobId = jobManager.createJob{value: deposit}(spec);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Batches
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Moves one block on and returns the previous one as reference block, with a hash set for it. Confirms the
    /// set's weights first (in the reference block) when the last confirmation is more than half the task manager's
    /// `maxWeightAge` old, as a keeper keeping the set fresh would; tests of stale weights build their headers with
    /// `_headerAt`.
    function _header() internal returns (BatchHeader memory header) {
        if (block.number - registry.weightsConfirmedAt() > taskManager.maxWeightAge() / 2) _confirmWeights();
        return _headerAt();
    }

    /// @dev `_header` without the confirmation.
    function _headerAt() internal returns (BatchHeader memory header) {
        vm.roll(block.number + 1);
        uint32 ref = uint32(block.number - 1);
        bytes32 hash = keccak256(abi.encode("block", ref));
        vm.setBlockhash(ref, hash);
        header = BatchHeader(ref, hash);
    }

    function _task(uint256 jobId, uint64 sequence, JobSpec memory spec, bool execute, bytes memory callData)
        internal
        pure
        returns (TaskInput memory)
    {
        return TaskInput(jobId, sequence, spec, execute, callData);
    }

    function _one(TaskInput memory task) internal pure returns (TaskInput[] memory tasks) {
        tasks = new TaskInput[](1);
        tasks[0] = task;
    }

    function _leafHashes(TaskInput[] memory tasks) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](tasks.length);
        for (uint256 i; i < tasks.length; ++i) {
            leaves[i] = BatchDigest.leafHash(
                tasks[i].jobId,
                tasks[i].sequence,
                keccak256(abi.encode(tasks[i].spec)),
                keccak256(abi.encode(tasks[i].execute, tasks[i].callData))
            );
        }
    }

    function _digest(BatchHeader memory header, bytes32 root) internal view returns (bytes32) {
        return BatchDigest.taskBatchDigest(
            BatchDigest.domainSeparator(block.chainid, address(taskManager)),
            header.referenceBlockNumber,
            header.referenceBlockHash,
            root
        );
    }

    function _batchDigest(BatchHeader memory header, TaskInput[] memory tasks) internal view returns (bytes32) {
        return _digest(header, BatchDigest.merkleRoot(_leafHashes(tasks)));
    }

    /// @dev The non-signers' keys for operator indices `absent`, sorted by pubkey hash.
    function _nonSigners(uint256[] memory absent) internal view returns (NonSigners memory nonSigners) {
        uint256 n = absent.length;
        uint256[] memory order = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            order[i] = absent[i];
        }
        // Insertion sort by pubkey hash.
        for (uint256 i = 1; i < n; ++i) {
            uint256 current = order[i];
            uint256 j = i;
            while (j > 0 && pubkeyHashes[order[j - 1]] > pubkeyHashes[current]) {
                order[j] = order[j - 1];
                --j;
            }
            order[j] = current;
        }
        nonSigners.pubkeys = new BLS12381.G1Point[](n);
        for (uint256 i; i < n; ++i) {
            nonSigners.pubkeys[i] = _publicKey(secrets[order[i]]);
        }
    }

    function _sortedHashes(uint256[] memory absent) internal view returns (bytes32[] memory hashes) {
        NonSigners memory nonSigners = _nonSigners(absent);
        hashes = new bytes32[](absent.length);
        for (uint256 i; i < absent.length; ++i) {
            hashes[i] = keccak256(BLS12381.toBytes(nonSigners.pubkeys[i]));
        }
    }

    /// @dev The aggregate signature of every operator but `absent` over `digest`: (sum of their secrets) * H(m).
    function _aggregateSignature(bytes32 digest, uint256[] memory absent) internal view returns (bytes memory) {
        uint256 sum;
        for (uint256 i; i < operators.length; ++i) {
            if (_isIn(absent, i)) continue;
            sum = addmod(sum, secrets[i], R);
        }
        return BLS12381.toBytes(_sign(sum, abi.encode(digest), BatchDigest.BATCH_DST));
    }

    function _operatorSignature(uint256 index, bytes32 digest) internal view returns (bytes memory) {
        return BLS12381.toBytes(_sign(secrets[index], abi.encode(digest), BatchDigest.BATCH_DST));
    }

    function _isIn(uint256[] memory list, uint256 value) internal pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }

    function _none() internal pure returns (uint256[] memory) {
        return new uint256[](0);
    }

    /// @dev The first `count` operator indices.
    function _firstN(uint256 count) internal pure returns (uint256[] memory list) {
        list = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            list[i] = i;
        }
    }

    /// @dev Signs `tasks` with every operator but `absent` and submits them as `submitter`.
    function _respond(BatchHeader memory header, TaskInput[] memory tasks, uint256[] memory absent)
        internal
        returns (bytes32 digest)
    {
        (NonSigners memory nonSigners, bytes memory signature) = _signBatch(header, tasks, absent);
        vm.prank(submitter);
        digest = taskManager.respondToBatch(header, tasks, nonSigners, signature);
    }

    function _signBatch(BatchHeader memory header, TaskInput[] memory tasks, uint256[] memory absent)
        internal
        view
        returns (NonSigners memory nonSigners, bytes memory signature)
    {
        nonSigners = _nonSigners(absent);
        signature = _aggregateSignature(_batchDigest(header, tasks), absent);
    }
}
