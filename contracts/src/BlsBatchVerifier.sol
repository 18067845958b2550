// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {BLS12381} from "./libraries/BLS12381.sol";
import {BatchDigest, TaskLeaf} from "./libraries/BatchDigest.sol";

/// @title BlsBatchVerifier
/// @notice Checks a BLS signature over a batch of task responses, with this contract as the EIP-712 verifying
/// contract of the batch digest. It holds no state: the caller supplies the (aggregate) public key, so it proves
/// only that that key signed the batch; deciding whose key counts is the task manager's job.
/// @dev Malformed key or signature bytes (wrong length, non-zero padding, a coordinate >= p) revert with the
/// `BLS12381` decoding errors; a well-encoded key or signature that does not verify (including infinity, points
/// off the curve or outside the subgroup) makes `verifyBatch` return `valid = false` and `submitBatch` revert
/// `InvalidSignature`. An empty batch reverts `BatchDigest.EmptyBatch`.
contract BlsBatchVerifier {
    /// @notice The signature does not verify against the key and the batch digest.
    error InvalidSignature();

    /// @notice The reference block is not one of the last 256 blocks of this chain with the given hash (a reorg
    /// replaced it, it is too old, or it is not yet mined).
    error UnknownReferenceBlock(uint64 referenceBlockNumber);

    /// @notice A batch signature was checked against the reference block and accepted.
    /// @param digest The signed batch digest.
    /// @param root The batch root.
    /// @param referenceBlockNumber The reference block.
    /// @param leafCount The number of task responses in the batch.
    event BatchVerified(bytes32 indexed digest, bytes32 root, uint64 referenceBlockNumber, uint256 leafCount);

    /// @notice Verifies a BLS signature over a batch without checking the reference block against the chain.
    /// @param pubkey The signer's (or the aggregate) G1 public key, 128 bytes EIP-2537.
    /// @param signature The (aggregate) G2 signature, 256 bytes EIP-2537.
    /// @param referenceBlockNumber The block the batch was computed against.
    /// @param referenceBlockHash That block's hash as the signers saw it.
    /// @param leaves The task responses, in batch order (at least one).
    /// @return valid Whether the signature is valid for the digest.
    /// @return root The batch root.
    /// @return digest The batch digest (the signed message).
    function verifyBatch(
        bytes calldata pubkey,
        bytes calldata signature,
        uint64 referenceBlockNumber,
        bytes32 referenceBlockHash,
        TaskLeaf[] calldata leaves
    ) external view returns (bool valid, bytes32 root, bytes32 digest) {
        return _verifyBatch(pubkey, signature, referenceBlockNumber, referenceBlockHash, leaves);
    }

    /// @notice Verifies a BLS signature over a batch whose reference block is on this chain, and emits
    /// `BatchVerified`.
    /// @dev The reorg guard: `blockhash(referenceBlockNumber)` must equal `referenceBlockHash`, so a batch signed
    /// against a block that a reorg replaced is refused. `blockhash` only knows the last 256 blocks, and answers
    /// zero otherwise, which is never accepted.
    /// @param pubkey The signer's (or the aggregate) G1 public key, 128 bytes EIP-2537.
    /// @param signature The (aggregate) G2 signature, 256 bytes EIP-2537.
    /// @param referenceBlockNumber The block the batch was computed against.
    /// @param referenceBlockHash That block's hash.
    /// @param leaves The task responses, in batch order (at least one).
    /// @return digest The batch digest.
    function submitBatch(
        bytes calldata pubkey,
        bytes calldata signature,
        uint64 referenceBlockNumber,
        bytes32 referenceBlockHash,
        TaskLeaf[] calldata leaves
    ) external returns (bytes32 digest) {
        bytes32 knownHash = blockhash(referenceBlockNumber);
        if (knownHash == bytes32(0) || knownHash != referenceBlockHash) {
            revert UnknownReferenceBlock(referenceBlockNumber);
        }
        bool valid;
        bytes32 root;
        (valid, root, digest) = _verifyBatch(pubkey, signature, referenceBlockNumber, referenceBlockHash, leaves);
        if (!valid) revert InvalidSignature();
        emit BatchVerified(digest, root, referenceBlockNumber, leaves.length);
    }

    /// @notice The EIP-712 domain separator of batches verified here: name "KeeperNetwork", version "1", this
    /// chain, this contract.
    /// @return The domain separator.
    function domainSeparator() external view returns (bytes32) {
        return BatchDigest.domainSeparator(block.chainid, address(this));
    }

    /// @dev Computed per call rather than cached in an immutable: it costs a few hundred gas and stays right
    /// after a fork changes the chain id or when the runtime code is placed at another address.
    function _verifyBatch(
        bytes calldata pubkey,
        bytes calldata signature,
        uint64 referenceBlockNumber,
        bytes32 referenceBlockHash,
        TaskLeaf[] calldata leaves
    ) private view returns (bool valid, bytes32 root, bytes32 digest) {
        root = BatchDigest.batchRoot(leaves);
        digest = BatchDigest.taskBatchDigest(
            BatchDigest.domainSeparator(block.chainid, address(this)), referenceBlockNumber, referenceBlockHash, root
        );
        valid = BLS12381.verify(
            BLS12381.g1FromBytes(pubkey), BLS12381.g2FromBytes(signature), abi.encode(digest), BatchDigest.BATCH_DST
        );
    }
}
