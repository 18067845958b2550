// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {BlsBatchVerifier} from "../src/BlsBatchVerifier.sol";
import {BLS12381} from "../src/libraries/BLS12381.sol";
import {BatchDigest, TaskLeaf} from "../src/libraries/BatchDigest.sol";
import {BlsTestBase} from "./utils/BlsTestBase.sol";

contract BlsBatchVerifierTest is BlsTestBase {
    event BatchVerified(bytes32 indexed digest, bytes32 root, uint64 referenceBlockNumber, uint256 leafCount);

    uint256 internal constant SECRET = 0x5eed;
    uint64 internal constant REFERENCE_BLOCK = 1000;
    bytes32 internal constant REFERENCE_HASH = keccak256("block 1000");

    BlsBatchVerifier internal verifier;

    function setUp() public {
        verifier = new BlsBatchVerifier();
        vm.roll(REFERENCE_BLOCK + 10);
        vm.setBlockhash(REFERENCE_BLOCK, REFERENCE_HASH);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Signed here (keys and signatures from the MSM precompiles)
    // ---------------------------------------------------------------------------------------------------------

    function test_domainSeparator() public view {
        assertEq(verifier.domainSeparator(), BatchDigest.domainSeparator(block.chainid, address(verifier)));
    }

    function test_domainSeparator_followsChainId() public {
        bytes32 before = verifier.domainSeparator();
        vm.chainId(5);
        assertTrue(verifier.domainSeparator() != before);
        assertEq(verifier.domainSeparator(), BatchDigest.domainSeparator(5, address(verifier)));
    }

    function testFuzz_verifyBatch_acceptsSignedBatch(uint256 seed, uint8 size) public view {
        TaskLeaf[] memory leaves = _leaves(bound(size, 1, 12), seed);
        (bytes memory pubkey, bytes memory signature, bytes32 root, bytes32 digest) =
            _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        (bool valid, bytes32 returnedRoot, bytes32 returnedDigest) =
            verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertTrue(valid);
        assertEq(returnedRoot, root);
        assertEq(returnedDigest, digest);
    }

    function testFuzz_verifyBatch_rejectsChangedLeaf(uint256 seed, uint8 size, uint256 position, uint8 field)
        public
        view
    {
        TaskLeaf[] memory leaves = _leaves(bound(size, 1, 12), seed);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        TaskLeaf memory leaf = leaves[position % leaves.length];
        if (field % 3 == 0) leaf.jobId ^= 1;
        else if (field % 3 == 1) leaf.sequence ^= 1;
        else leaf.responseHash ^= bytes32(uint256(1));
        (bool valid,,) = verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid);
    }

    function test_verifyBatch_rejectsReorderedLeaves() public view {
        TaskLeaf[] memory leaves = _leaves(3, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        (leaves[0], leaves[2]) = (leaves[2], leaves[0]);
        (bool valid,,) = verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid);
    }

    function test_verifyBatch_rejectsOtherReferenceBlock() public view {
        TaskLeaf[] memory leaves = _leaves(2, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        (bool valid,,) = verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK + 1, REFERENCE_HASH, leaves);
        assertFalse(valid, "other number");
        (valid,,) = verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, keccak256("other"), leaves);
        assertFalse(valid, "other hash");
    }

    function test_verifyBatch_rejectsOtherContractAndChain() public {
        TaskLeaf[] memory leaves = _leaves(2, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        BlsBatchVerifier other = new BlsBatchVerifier();
        (bool valid,,) = other.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid, "replayed on another contract");
        vm.chainId(block.chainid + 1);
        (valid,,) = verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid, "replayed on another chain");
    }

    function test_verifyBatch_rejectsWrongKey() public view {
        TaskLeaf[] memory leaves = _leaves(2, 7);
        (, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        bytes memory otherKey = BLS12381.toBytes(_publicKey(SECRET + 1));
        (bool valid,,) = verifier.verifyBatch(otherKey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid);
    }

    function test_verifyBatch_rejectsSignatureUnderPopTag() public view {
        TaskLeaf[] memory leaves = _leaves(2, 7);
        (bytes memory pubkey,,, bytes32 digest) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        bytes memory popTagged = BLS12381.toBytes(_sign(SECRET, abi.encode(digest), BatchDigest.POP_DST));
        (bool valid,,) = verifier.verifyBatch(pubkey, popTagged, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid);
    }

    function test_verifyBatch_infinityIsInvalid() public view {
        TaskLeaf[] memory leaves = _leaves(1, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        (bool valid,,) = verifier.verifyBatch(new bytes(128), new bytes(256), REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid, "zero key, zero signature");
        (valid,,) = verifier.verifyBatch(new bytes(128), signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid, "zero key");
        (valid,,) = verifier.verifyBatch(pubkey, new bytes(256), REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertFalse(valid, "zero signature");
    }

    function test_verifyBatch_revertsOnMalformedEncoding() public {
        TaskLeaf[] memory leaves = _leaves(1, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 128, 48));
        verifier.verifyBatch(new bytes(48), signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 96));
        verifier.verifyBatch(pubkey, new bytes(96), REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        pubkey[0] = 0x01;
        vm.expectRevert(BLS12381.NonZeroPadding.selector);
        verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
    }

    function test_verifyBatch_revertsOnEmptyBatch() public {
        (bytes memory pubkey, bytes memory signature,,) =
            _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, _leaves(1, 7));
        vm.expectRevert(BatchDigest.EmptyBatch.selector);
        verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, new TaskLeaf[](0));
        vm.expectRevert(BatchDigest.EmptyBatch.selector);
        verifier.submitBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, new TaskLeaf[](0));
    }

    function test_submitBatch_emitsAndReturnsDigest() public {
        TaskLeaf[] memory leaves = _leaves(4, 7);
        (bytes memory pubkey, bytes memory signature, bytes32 root, bytes32 digest) =
            _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        vm.expectEmit(address(verifier));
        emit BatchVerified(digest, root, REFERENCE_BLOCK, 4);
        assertEq(verifier.submitBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves), digest);
    }

    function test_submitBatch_revertsOnInvalidSignature() public {
        TaskLeaf[] memory leaves = _leaves(4, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        leaves[1].responseHash = keccak256("forged");
        vm.expectRevert(BlsBatchVerifier.InvalidSignature.selector);
        verifier.submitBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        vm.expectRevert(BlsBatchVerifier.InvalidSignature.selector);
        verifier.submitBatch(new bytes(128), new bytes(256), REFERENCE_BLOCK, REFERENCE_HASH, leaves);
    }

    function test_submitBatch_revertsOnStaleReferenceBlockHash() public {
        TaskLeaf[] memory leaves = _leaves(2, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        // A reorg replaced block 1000: the chain now knows a different hash for it.
        vm.setBlockhash(REFERENCE_BLOCK, keccak256("block 1000, after the reorg"));
        vm.expectRevert(abi.encodeWithSelector(BlsBatchVerifier.UnknownReferenceBlock.selector, REFERENCE_BLOCK));
        verifier.submitBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        // The same batch still verifies off the chain's view (verifyBatch does not look at the chain).
        (bool valid,,) = verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        assertTrue(valid);
    }

    function test_submitBatch_revertsOnBlockOutOfRange() public {
        TaskLeaf[] memory leaves = _leaves(2, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        vm.roll(REFERENCE_BLOCK + 257); // blockhash only reaches back 256 blocks
        vm.expectRevert(abi.encodeWithSelector(BlsBatchVerifier.UnknownReferenceBlock.selector, REFERENCE_BLOCK));
        verifier.submitBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
    }

    function test_submitBatch_zeroHashNeverMatches() public {
        // blockhash() answers zero for the current block, future blocks and old ones; a batch claiming a zero
        // hash must not pass the guard through that.
        uint64 future = uint64(block.number + 5);
        TaskLeaf[] memory leaves = _leaves(1, 7);
        (bytes memory pubkey, bytes memory signature,,) = _signBatch(SECRET, future, bytes32(0), leaves);
        (bool valid,,) = verifier.verifyBatch(pubkey, signature, future, bytes32(0), leaves);
        assertTrue(valid);
        vm.expectRevert(abi.encodeWithSelector(BlsBatchVerifier.UnknownReferenceBlock.selector, future));
        verifier.submitBatch(pubkey, signature, future, bytes32(0), leaves);
        uint64 current = uint64(block.number);
        (pubkey, signature,,) = _signBatch(SECRET, current, bytes32(0), leaves);
        vm.expectRevert(abi.encodeWithSelector(BlsBatchVerifier.UnknownReferenceBlock.selector, current));
        verifier.submitBatch(pubkey, signature, current, bytes32(0), leaves);
    }

    function test_submitBatch_aggregateOfSigners() public {
        // Three keepers sign; the aggregate key of all four minus the non-signer verifies the aggregate signature.
        TaskLeaf[] memory leaves = _leaves(5, 11);
        (, bytes32 digest) = _rootAndDigest(address(verifier), REFERENCE_BLOCK, REFERENCE_HASH, leaves);
        BLS12381.G1Point[] memory keys = new BLS12381.G1Point[](4);
        BLS12381.G2Point[] memory signatures = new BLS12381.G2Point[](3);
        for (uint256 i; i < 4; ++i) {
            keys[i] = _publicKey(100 + i);
            if (i < 3) signatures[i] = _sign(100 + i, abi.encode(digest), BatchDigest.BATCH_DST);
        }
        BLS12381.G1Point[] memory nonSigners = new BLS12381.G1Point[](1);
        nonSigners[0] = keys[3];
        BLS12381.G1Point memory signersKey = BLS12381.subtractG1(BLS12381.aggregateG1(keys), nonSigners);
        bytes memory aggregateSignature = BLS12381.toBytes(BLS12381.aggregateG2(signatures));
        assertEq(
            verifier.submitBatch(
                BLS12381.toBytes(signersKey), aggregateSignature, REFERENCE_BLOCK, REFERENCE_HASH, leaves
            ),
            digest
        );
        // Against every key, including the non-signer's, the signers' aggregate signature is invalid.
        bytes memory allKeys = BLS12381.toBytes(BLS12381.aggregateG1(keys));
        vm.expectRevert(BlsBatchVerifier.InvalidSignature.selector);
        verifier.submitBatch(allKeys, aggregateSignature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Vectors generated by the Rust side (blst): the verifier placed at the vector's address and chain
    // ---------------------------------------------------------------------------------------------------------

    /// @dev One entry of `.batches` in the vectors file.
    struct BatchVector {
        bytes pubkey;
        bytes signature;
        uint64 number;
        bytes32 blockHash;
        bytes32 root;
        bytes32 digest;
        TaskLeaf[] leaves;
    }

    function test_vectors_batches() public {
        string memory json = _vectors();
        uint256 count = _count(json, ".batches");
        assertGe(count, 3, "expected at least 3 batch vectors");
        for (uint256 i; i < count; ++i) {
            string memory at = _at(".batches", i);
            BlsBatchVerifier placed = _placeVerifier(json, at);
            assertEq(
                placed.domainSeparator(), vm.parseJsonBytes32(json, string.concat(at, ".domainSeparator")), "domain"
            );
            _checkBatchVector(placed, _parseBatchVector(json, at), at);
        }
    }

    function _checkBatchVector(BlsBatchVerifier placed, BatchVector memory v, string memory at) internal {
        (bool valid, bytes32 root, bytes32 digest) =
            placed.verifyBatch(v.pubkey, v.signature, v.number, v.blockHash, v.leaves);
        assertTrue(valid, string.concat("valid", at));
        assertEq(root, v.root, string.concat("root", at));
        assertEq(digest, v.digest, string.concat("digest", at));

        vm.roll(uint256(v.number) + 1);
        vm.setBlockhash(v.number, v.blockHash);
        vm.expectEmit(address(placed));
        emit BatchVerified(v.digest, v.root, v.number, v.leaves.length);
        assertEq(placed.submitBatch(v.pubkey, v.signature, v.number, v.blockHash, v.leaves), v.digest);

        v.leaves[v.leaves.length - 1].sequence ^= 1;
        (valid,,) = placed.verifyBatch(v.pubkey, v.signature, v.number, v.blockHash, v.leaves);
        assertFalse(valid, string.concat("tampered", at));
        vm.expectRevert(BlsBatchVerifier.InvalidSignature.selector);
        placed.submitBatch(v.pubkey, v.signature, v.number, v.blockHash, v.leaves);
    }

    function _parseBatchVector(string memory json, string memory at) internal view returns (BatchVector memory v) {
        v.pubkey = vm.parseJsonBytes(json, string.concat(at, ".pubkey"));
        v.signature = vm.parseJsonBytes(json, string.concat(at, ".signature"));
        v.number = uint64(vm.parseJsonUint(json, string.concat(at, ".referenceBlockNumber")));
        v.blockHash = vm.parseJsonBytes32(json, string.concat(at, ".referenceBlockHash"));
        v.root = vm.parseJsonBytes32(json, string.concat(at, ".root"));
        v.digest = vm.parseJsonBytes32(json, string.concat(at, ".digest"));
        v.leaves = _parseLeaves(json, at);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Gas
    // ---------------------------------------------------------------------------------------------------------

    /// Gas of the verifyBatch call frame itself (vm.lastCallGas: excludes the test contract's own argument
    /// encoding and the 21,000 + calldata a transaction would add).
    function test_gas_verifyBatch() public {
        for (uint256 size = 1; size <= 64; size *= 8) {
            TaskLeaf[] memory leaves = _leaves(size, 3);
            (bytes memory pubkey, bytes memory signature,,) =
                _signBatch(SECRET, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
            (bool valid,,) = verifier.verifyBatch(pubkey, signature, REFERENCE_BLOCK, REFERENCE_HASH, leaves);
            uint256 used = vm.lastCallGas().gasTotalUsed;
            assertTrue(valid);
            emit log_named_uint(string.concat("verifyBatch call frame, leaves = ", vm.toString(size)), used);
            assertLt(used, 180_000 + size * 1_000, "verifyBatch gas regression");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function _leaves(uint256 count, uint256 seed) internal pure returns (TaskLeaf[] memory leaves) {
        leaves = new TaskLeaf[](count);
        for (uint64 i; i < count; ++i) {
            bytes32 entropy = keccak256(abi.encode(seed, i));
            leaves[i] = TaskLeaf(
                uint256(entropy) >> 192, i, keccak256(abi.encode("spec", entropy)), keccak256(abi.encode(entropy))
            );
        }
    }

    function _rootAndDigest(address target, uint64 number, bytes32 blockHash, TaskLeaf[] memory leaves)
        internal
        view
        returns (bytes32 root, bytes32 digest)
    {
        bytes32[] memory hashes = new bytes32[](leaves.length);
        for (uint256 i; i < leaves.length; ++i) {
            hashes[i] =
                BatchDigest.leafHash(leaves[i].jobId, leaves[i].sequence, leaves[i].specHash, leaves[i].responseHash);
        }
        root = BatchDigest.merkleRoot(hashes);
        digest =
            BatchDigest.taskBatchDigest(BatchDigest.domainSeparator(block.chainid, target), number, blockHash, root);
    }

    /// @dev A key and a signature over the batch digest for `verifier`, as 128/256-byte EIP-2537 encodings.
    function _signBatch(uint256 secret, uint64 number, bytes32 blockHash, TaskLeaf[] memory leaves)
        internal
        view
        returns (bytes memory pubkey, bytes memory signature, bytes32 root, bytes32 digest)
    {
        (root, digest) = _rootAndDigest(address(verifier), number, blockHash, leaves);
        pubkey = BLS12381.toBytes(_publicKey(secret));
        signature = BLS12381.toBytes(_sign(secret, abi.encode(digest), BatchDigest.BATCH_DST));
    }

    /// @dev The verifier's runtime code at the vector's verifyingContract, on the vector's chain id. The
    /// contract has no constructor state or immutables, so etching the runtime code is a complete deployment.
    function _placeVerifier(string memory json, string memory at) internal returns (BlsBatchVerifier placed) {
        placed = BlsBatchVerifier(vm.parseJsonAddress(json, string.concat(at, ".verifyingContract")));
        vm.etch(address(placed), address(verifier).code);
        vm.chainId(vm.parseJsonUint(json, string.concat(at, ".chainId")));
    }
}
