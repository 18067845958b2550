// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {BatchDigest, TaskLeaf} from "../../src/libraries/BatchDigest.sol";
import {BlsTestBase} from "../utils/BlsTestBase.sol";

/// @dev External wrappers: calldata entry points for `batchRoot`/`leafHashes`, and call frames for expectRevert.
contract BatchDigestHarness {
    function batchRoot(TaskLeaf[] calldata leaves) external pure returns (bytes32) {
        return BatchDigest.batchRoot(leaves);
    }

    function leafHashes(TaskLeaf[] calldata leaves) external pure returns (bytes32[] memory) {
        return BatchDigest.leafHashes(leaves);
    }

    function merkleRoot(bytes32[] memory leaves) external pure returns (bytes32) {
        return BatchDigest.merkleRoot(leaves);
    }

    function merkleProof(bytes32[] memory leaves, uint256 index) external pure returns (bytes32[] memory) {
        return BatchDigest.merkleProof(leaves, index);
    }

    function merkleRootInPlace(bytes32[] memory leaves) external pure returns (bytes32) {
        return BatchDigest.merkleRootInPlace(leaves);
    }
}

contract BatchDigestTest is BlsTestBase {
    BatchDigestHarness internal harness;

    function setUp() public {
        harness = new BatchDigestHarness();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Constants: the strings of docs/protocol.md
    // ---------------------------------------------------------------------------------------------------------

    function test_constants() public pure {
        assertEq(
            BatchDigest.TASK_RESPONSE_TYPEHASH,
            keccak256(bytes("TaskResponse(uint256 jobId,uint64 sequence,bytes32 specHash,bytes32 responseHash)"))
        );
        assertEq(
            BatchDigest.TASK_BATCH_TYPEHASH,
            keccak256(bytes("TaskBatch(uint64 referenceBlockNumber,bytes32 referenceBlockHash,bytes32 batchRoot)"))
        );
        assertEq(
            BatchDigest.KEY_REGISTRATION_TYPEHASH,
            keccak256(bytes("KeyRegistration(address operator,bytes32 pubkeyHash)"))
        );
        assertEq(
            BatchDigest.DOMAIN_TYPEHASH,
            keccak256(bytes("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"))
        );
        assertEq(BatchDigest.NAME_HASH, keccak256(bytes("KeeperNetwork")));
        assertEq(BatchDigest.VERSION_HASH, keccak256(bytes("1")));
        assertEq(BatchDigest.BATCH_DST, bytes("KEEPER-NETWORK-V1-BATCH_BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"));
        assertEq(BatchDigest.POP_DST, bytes("KEEPER-NETWORK-V1-KEY_BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Leaves and tree
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_leafHash(uint256 jobId, uint64 sequence, bytes32 specHash, bytes32 responseHash) public view {
        bytes32 expected =
            keccak256(abi.encode(BatchDigest.TASK_RESPONSE_TYPEHASH, jobId, sequence, specHash, responseHash));
        assertEq(BatchDigest.leafHash(jobId, sequence, specHash, responseHash), expected);
        TaskLeaf[] memory leaves = new TaskLeaf[](1);
        leaves[0] = TaskLeaf(jobId, sequence, specHash, responseHash);
        assertEq(harness.leafHashes(leaves)[0], expected);
        assertEq(harness.batchRoot(leaves), expected, "one leaf is its own root");
    }

    function test_leafHashes_rejectsSequenceAbove64Bits() public {
        // Hand-made calldata: one TaskLeaf whose sequence word has bit 64 set.
        bytes memory call = abi.encodeWithSelector(
            harness.batchRoot.selector,
            uint256(0x20),
            uint256(1),
            uint256(7),
            uint256(1) << 64,
            keccak256("s"),
            keccak256("r")
        );
        (bool ok,) = address(harness).call(call);
        assertFalse(ok);
        // The same with a clean sequence is accepted.
        call = abi.encodeWithSelector(
            harness.batchRoot.selector,
            uint256(0x20),
            uint256(1),
            uint256(7),
            uint256(1),
            keccak256("s"),
            keccak256("r")
        );
        (bool accepted, bytes memory root) = address(harness).call(call);
        assertTrue(accepted);
        assertEq(abi.decode(root, (bytes32)), BatchDigest.leafHash(7, 1, keccak256("s"), keccak256("r")));
    }

    function testFuzz_hashPair_isCommutative(bytes32 a, bytes32 b) public pure {
        assertEq(BatchDigest.hashPair(a, b), BatchDigest.hashPair(b, a));
        (bytes32 low, bytes32 high) = a < b ? (a, b) : (b, a);
        assertEq(BatchDigest.hashPair(a, b), keccak256(abi.encodePacked(low, high)));
    }

    function test_merkleRoot_smallTrees() public pure {
        bytes32[] memory leaves = new bytes32[](3);
        leaves[0] = keccak256("a");
        leaves[1] = keccak256("b");
        leaves[2] = keccak256("c");
        bytes32 ab = BatchDigest.hashPair(leaves[0], leaves[1]);
        // The odd leaf c moves up unchanged and pairs with ab at the next level.
        assertEq(BatchDigest.merkleRoot(leaves), BatchDigest.hashPair(ab, leaves[2]));
        assertEq(leaves[0], keccak256("a"), "input not modified");

        bytes32[] memory two = new bytes32[](2);
        two[0] = leaves[0];
        two[1] = leaves[1];
        assertEq(BatchDigest.merkleRoot(two), ab);
    }

    function test_merkleRoot_fiveLeavesPromotesTwice() public pure {
        bytes32[] memory leaves = _leaves(5, 1);
        bytes32 left = BatchDigest.hashPair(
            BatchDigest.hashPair(leaves[0], leaves[1]), BatchDigest.hashPair(leaves[2], leaves[3])
        );
        assertEq(BatchDigest.merkleRoot(leaves), BatchDigest.hashPair(left, leaves[4]));
        bytes32[] memory proof = BatchDigest.merkleProof(leaves, 4);
        assertEq(proof.length, 1);
        assertEq(proof[0], left);
    }

    function test_emptyBatch_reverts() public {
        vm.expectRevert(BatchDigest.EmptyBatch.selector);
        harness.batchRoot(new TaskLeaf[](0));
        vm.expectRevert(BatchDigest.EmptyBatch.selector);
        harness.merkleRoot(new bytes32[](0));
        vm.expectRevert(BatchDigest.EmptyBatch.selector);
        harness.merkleProof(new bytes32[](0), 0);
        vm.expectRevert(BatchDigest.EmptyBatch.selector);
        harness.merkleRootInPlace(new bytes32[](0));
    }

    /// The in-place fold gives the same root as the copying one (and the recursive definition).
    function testFuzz_merkleRootInPlace_matchesMerkleRoot(uint256 seed, uint8 size) public pure {
        uint256 count = bound(size, 1, 70);
        bytes32[] memory leaves = _leaves(count, seed);
        bytes32 root = BatchDigest.merkleRoot(leaves);
        assertEq(BatchDigest.merkleRootInPlace(_leaves(count, seed)), root);
        assertEq(root, _referenceRoot(leaves));
    }

    function test_merkleProof_revertsOutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(BatchDigest.LeafIndexOutOfRange.selector, 3, 3));
        harness.merkleProof(_leaves(3, 0), 3);
    }

    function testFuzz_merkle_everyProofVerifies(uint256 seed, uint8 size) public pure {
        uint256 count = bound(size, 1, 70);
        bytes32[] memory leaves = _leaves(count, seed);
        bytes32 root = BatchDigest.merkleRoot(leaves);
        assertEq(root, _referenceRoot(leaves), "root matches the recursive definition");
        for (uint256 i; i < count; ++i) {
            bytes32[] memory proof = BatchDigest.merkleProof(leaves, i);
            assertLe(proof.length, _ceilLog2(count));
            assertTrue(BatchDigest.verifyProof(proof, root, leaves[i]), "proof verifies");
            assertFalse(BatchDigest.verifyProof(proof, root, keccak256(abi.encode(leaves[i]))), "other leaf");
        }
    }

    function testFuzz_merkle_changedLeafChangesRoot(uint256 seed, uint8 size, uint256 position, bytes32 replacement)
        public
        pure
    {
        uint256 count = bound(size, 1, 70);
        uint256 index = position % count;
        bytes32[] memory leaves = _leaves(count, seed);
        vm.assume(replacement != leaves[index]);
        bytes32 root = BatchDigest.merkleRoot(leaves);
        bytes32[] memory proof = BatchDigest.merkleProof(leaves, index);

        bytes32 original = leaves[index];
        leaves[index] = replacement;
        assertFalse(BatchDigest.verifyProof(proof, root, replacement), "old proof, changed leaf");
        assertTrue(BatchDigest.merkleRoot(leaves) != root, "changed leaf, changed root");
        assertTrue(
            BatchDigest.verifyProof(BatchDigest.merkleProof(leaves, index), BatchDigest.merkleRoot(leaves), replacement)
        );
        leaves[index] = original;
        assertEq(BatchDigest.merkleRoot(leaves), root);
    }

    function testFuzz_merkle_orderMatters(uint256 seed, uint8 size, uint256 a, uint256 b) public pure {
        uint256 count = bound(size, 2, 40);
        bytes32[] memory leaves = _leaves(count, seed);
        (a, b) = (a % count, b % count);
        vm.assume(a != b);
        bytes32 root = BatchDigest.merkleRoot(leaves);
        (leaves[a], leaves[b]) = (leaves[b], leaves[a]);
        // Swapping two siblings leaves the root unchanged (the pair hash is commutative); any other swap moves
        // leaves to other subtrees and changes it.
        if (a >> 1 != b >> 1) assertTrue(BatchDigest.merkleRoot(leaves) != root);
        else assertEq(BatchDigest.merkleRoot(leaves), root);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Digests
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_domainSeparator(uint256 chainId, address verifyingContract) public pure {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("KeeperNetwork"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        assertEq(BatchDigest.domainSeparator(chainId, verifyingContract), expected);
    }

    function testFuzz_taskBatchDigest(bytes32 separator, uint64 number, bytes32 blockHash, bytes32 root) public pure {
        bytes32 structHash = keccak256(abi.encode(BatchDigest.TASK_BATCH_TYPEHASH, number, blockHash, root));
        assertEq(BatchDigest.taskBatchStructHash(number, blockHash, root), structHash);
        assertEq(
            BatchDigest.taskBatchDigest(separator, number, blockHash, root),
            keccak256(abi.encodePacked(hex"1901", separator, structHash))
        );
    }

    function testFuzz_keyRegistrationDigest(bytes32 separator, address operator, bytes32 pubkeyHash) public pure {
        bytes32 structHash = keccak256(abi.encode(BatchDigest.KEY_REGISTRATION_TYPEHASH, operator, pubkeyHash));
        assertEq(
            BatchDigest.keyRegistrationDigest(separator, operator, pubkeyHash),
            keccak256(abi.encodePacked(hex"1901", separator, structHash))
        );
    }

    function test_typedDigest_keepsFreeMemoryPointer() public pure {
        uint256 before;
        uint256 afterwards;
        assembly {
            before := mload(0x40)
        }
        BatchDigest.typedDigest(keccak256("a"), keccak256("b"));
        assembly {
            afterwards := mload(0x40)
        }
        assertEq(afterwards, before);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Vectors generated by the Rust side: test/vectors/bls_vectors.json
    // ---------------------------------------------------------------------------------------------------------

    function test_vectors_batches() public view {
        string memory json = _vectors();
        uint256 count = _count(json, ".batches");
        assertGe(count, 3, "expected at least 3 batch vectors");
        for (uint256 i; i < count; ++i) {
            string memory at = _at(".batches", i);
            TaskLeaf[] memory leaves = _parseLeaves(json, at);
            bytes32[] memory expectedHashes = vm.parseJsonBytes32Array(json, string.concat(at, ".leafHashes"));
            bytes32 root = vm.parseJsonBytes32(json, string.concat(at, ".root"));

            assertEq(harness.leafHashes(leaves), expectedHashes, string.concat("leafHashes", at));
            assertEq(harness.batchRoot(leaves), root, string.concat("root", at));
            assertEq(BatchDigest.merkleRoot(expectedHashes), root, string.concat("merkleRoot", at));
            for (uint256 j; j < leaves.length; ++j) {
                bytes32[] memory proof =
                    vm.parseJsonBytes32Array(json, string.concat(_at(string.concat(at, ".proofs"), j)));
                assertEq(BatchDigest.merkleProof(expectedHashes, j), proof, string.concat("proof", at));
                assertTrue(BatchDigest.verifyProof(proof, root, expectedHashes[j]), string.concat("verifyProof", at));
            }

            bytes32 separator = BatchDigest.domainSeparator(
                vm.parseJsonUint(json, string.concat(at, ".chainId")),
                vm.parseJsonAddress(json, string.concat(at, ".verifyingContract"))
            );
            assertEq(separator, vm.parseJsonBytes32(json, string.concat(at, ".domainSeparator")), "domainSeparator");
            bytes32 digest = BatchDigest.taskBatchDigest(
                separator,
                uint64(vm.parseJsonUint(json, string.concat(at, ".referenceBlockNumber"))),
                vm.parseJsonBytes32(json, string.concat(at, ".referenceBlockHash")),
                root
            );
            assertEq(digest, vm.parseJsonBytes32(json, string.concat(at, ".digest")), string.concat("digest", at));
        }
    }

    function test_vectors_registrations() public view {
        string memory json = _vectors();
        uint256 count = _count(json, ".registrations");
        assertGe(count, 2, "expected at least 2 registration vectors");
        for (uint256 i; i < count; ++i) {
            string memory at = _at(".registrations", i);
            bytes memory pubkey = vm.parseJsonBytes(json, string.concat(at, ".pubkey"));
            bytes32 pubkeyHash = keccak256(pubkey);
            assertEq(pubkeyHash, vm.parseJsonBytes32(json, string.concat(at, ".pubkeyHash")), "pubkeyHash");

            bytes32 separator = BatchDigest.domainSeparator(
                vm.parseJsonUint(json, string.concat(at, ".chainId")),
                vm.parseJsonAddress(json, string.concat(at, ".registry"))
            );
            address operator = vm.parseJsonAddress(json, string.concat(at, ".operator"));
            bytes32 digest = BatchDigest.keyRegistrationDigest(separator, operator, pubkeyHash);
            assertEq(digest, vm.parseJsonBytes32(json, string.concat(at, ".digest")), string.concat("digest", at));

            // The proof of possession is a BLS signature over the digest with the PoP tag, and only that tag.
            BLS12381.G1Point memory key = BLS12381.g1FromBytes(pubkey);
            BLS12381.G2Point memory pop = BLS12381.g2FromBytes(vm.parseJsonBytes(json, string.concat(at, ".pop")));
            assertTrue(BLS12381.isValidG1(key), "registered key is in G1");
            assertTrue(BLS12381.verify(key, pop, abi.encode(digest), BatchDigest.POP_DST), string.concat("pop", at));
            assertFalse(BLS12381.verify(key, pop, abi.encode(digest), BatchDigest.BATCH_DST), "pop under batch tag");
            bytes32 otherOperator = BatchDigest.keyRegistrationDigest(separator, address(0xBEEF), pubkeyHash);
            assertFalse(BLS12381.verify(key, pop, abi.encode(otherOperator), BatchDigest.POP_DST), "copied pop");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function _leaves(uint256 count, uint256 seed) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            leaves[i] = keccak256(abi.encode(seed, i));
        }
    }

    /// @dev The tree read straight from the spec, with a fresh array per level (independent of the library's
    /// in-place fold).
    function _referenceRoot(bytes32[] memory level) internal pure returns (bytes32) {
        while (level.length > 1) {
            bytes32[] memory next = new bytes32[]((level.length + 1) / 2);
            for (uint256 i; i < next.length; ++i) {
                next[i] = 2 * i + 1 < level.length ? BatchDigest.hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
            }
            level = next;
        }
        return level[0];
    }

    function _ceilLog2(uint256 x) internal pure returns (uint256 result) {
        while ((uint256(1) << result) < x) {
            ++result;
        }
    }
}
