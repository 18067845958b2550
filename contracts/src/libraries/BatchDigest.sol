// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @notice One keeper result: the response hash for task (jobId, sequence), computed under the job spec whose hash
/// is `specHash`.
struct TaskLeaf {
    uint256 jobId;
    uint64 sequence;
    bytes32 specHash;
    bytes32 responseHash;
}

/// @title BatchDigest
/// @notice The bytes a keeper signs, exactly as docs/protocol.md defines them: task-response leaves, the Merkle
/// root over a batch, the EIP-712 style domain and digests for a batch and for a key registration, and the two
/// BLS domain separation tags. `shared/src/batch.rs` implements the same definitions in Rust.
library BatchDigest {
    /// @notice keccak256("TaskResponse(uint256 jobId,uint64 sequence,bytes32 specHash,bytes32 responseHash)").
    bytes32 internal constant TASK_RESPONSE_TYPEHASH =
        keccak256("TaskResponse(uint256 jobId,uint64 sequence,bytes32 specHash,bytes32 responseHash)");

    /// @notice keccak256("TaskBatch(uint64 referenceBlockNumber,bytes32 referenceBlockHash,bytes32 batchRoot)").
    bytes32 internal constant TASK_BATCH_TYPEHASH =
        keccak256("TaskBatch(uint64 referenceBlockNumber,bytes32 referenceBlockHash,bytes32 batchRoot)");

    /// @notice keccak256("KeyRegistration(address operator,bytes32 pubkeyHash)").
    bytes32 internal constant KEY_REGISTRATION_TYPEHASH =
        keccak256("KeyRegistration(address operator,bytes32 pubkeyHash)");

    /// @notice keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)").
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @notice keccak256 of the domain name "KeeperNetwork".
    bytes32 internal constant NAME_HASH = keccak256("KeeperNetwork");

    /// @notice keccak256 of the domain version "1".
    bytes32 internal constant VERSION_HASH = keccak256("1");

    /// @notice BLS domain separation tag for batch signatures.
    bytes internal constant BATCH_DST = "KEEPER-NETWORK-V1-BATCH_BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    /// @notice BLS domain separation tag for proofs of possession (key registration).
    bytes internal constant POP_DST = "KEEPER-NETWORK-V1-KEY_BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    /// @notice A batch must have at least one leaf: an empty batch has no root.
    error EmptyBatch();

    /// @notice A proof was asked for a leaf position past the end of the batch.
    error LeafIndexOutOfRange(uint256 index, uint256 count);

    // ---------------------------------------------------------------------------------------------------------
    // Leaves and the Merkle tree
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The leaf of one task response: keccak256(abi.encode(TASK_RESPONSE_TYPEHASH, jobId, sequence,
    /// specHash, responseHash)).
    /// @param jobId The job.
    /// @param sequence The task's sequence number within the job.
    /// @param specHash keccak256(abi.encode(spec)) of the job spec the keeper executed.
    /// @param responseHash The keeper's result.
    /// @return leaf The leaf hash.
    function leafHash(uint256 jobId, uint64 sequence, bytes32 specHash, bytes32 responseHash)
        internal
        pure
        returns (bytes32 leaf)
    {
        // abi.encode in unallocated memory: it runs once per leaf, and allocating each time grows memory.
        bytes32 typeHash = TASK_RESPONSE_TYPEHASH;
        assembly ("memory-safe") {
            let buffer := mload(0x40)
            mstore(buffer, typeHash)
            mstore(add(buffer, 0x20), jobId)
            mstore(add(buffer, 0x40), and(sequence, 0xffffffffffffffff))
            mstore(add(buffer, 0x60), specHash)
            mstore(add(buffer, 0x80), responseHash)
            leaf := keccak256(buffer, 0xa0)
        }
    }

    /// @notice The leaf hashes of a batch, in batch order.
    /// @param leaves The task responses.
    /// @return hashes One leaf hash per response.
    function leafHashes(TaskLeaf[] calldata leaves) internal pure returns (bytes32[] memory hashes) {
        hashes = new bytes32[](leaves.length);
        bytes32 typeHash = TASK_RESPONSE_TYPEHASH;
        // Assembly because it runs once per leaf; reading the calldata words directly saves ~300 gas per leaf
        // over field access. The encoding is the same as `leafHash`.
        assembly ("memory-safe") {
            let buffer := mload(0x40)
            mstore(buffer, typeHash)
            for { let i := 0 } lt(i, leaves.length) { i := add(i, 1) } {
                // A TaskLeaf in calldata is four words: jobId, sequence, specHash, responseHash.
                let leaf := add(leaves.offset, shl(7, i))
                // Reject a sequence that does not fit uint64, as Solidity's ABI decoder would.
                if shr(64, calldataload(add(leaf, 0x20))) { revert(0, 0) }
                calldatacopy(add(buffer, 0x20), leaf, 0x80)
                mstore(add(add(hashes, 0x20), shl(5, i)), keccak256(buffer, 0xa0))
            }
        }
    }

    /// @notice The Merkle root of a batch of task responses.
    /// @dev Reverts `EmptyBatch` for no leaves.
    /// @param leaves The task responses, in batch order.
    /// @return The batch root.
    function batchRoot(TaskLeaf[] calldata leaves) internal pure returns (bytes32) {
        if (leaves.length == 0) revert EmptyBatch();
        // The hashes are a fresh array, so the tree can be folded into it.
        return _foldInPlace(leafHashes(leaves));
    }

    /// @notice The Merkle root over leaf hashes in order: neighbours are hashed pairwise with `hashPair`, an odd
    /// last node moves up unchanged, one leaf is its own root.
    /// @dev Reverts `EmptyBatch` for no leaves. Does not modify `leaves`.
    /// @param leaves The leaf hashes.
    /// @return The root.
    function merkleRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 count = leaves.length;
        if (count == 0) revert EmptyBatch();
        bytes32[] memory nodes = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            nodes[i] = leaves[i];
        }
        return _foldInPlace(nodes);
    }

    /// @notice `merkleRoot` without the copy: folds the tree into `leaves` itself, which is overwritten.
    /// @dev Reverts `EmptyBatch` for no leaves. For callers that no longer need the leaf hashes.
    /// @param leaves The leaf hashes (overwritten).
    /// @return The root.
    function merkleRootInPlace(bytes32[] memory leaves) internal pure returns (bytes32) {
        if (leaves.length == 0) revert EmptyBatch();
        return _foldInPlace(leaves);
    }

    /// @notice The proof for the leaf at `index`: its sibling at each level where it has one, bottom-up.
    /// @dev Meant for off-chain helpers and tests; on chain only `verifyProof` is needed.
    /// @param leaves The leaf hashes, in order (not modified).
    /// @param index The position of the leaf to prove; must be below `leaves.length`.
    /// @return proof The sibling hashes.
    function merkleProof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory proof) {
        uint256 count = leaves.length;
        if (count == 0) revert EmptyBatch();
        if (index >= count) revert LeafIndexOutOfRange(index, count);
        bytes32[] memory nodes = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            nodes[i] = leaves[i];
        }
        // At most one sibling per level, and a tree of `count` leaves has fewer than 256 levels.
        proof = new bytes32[](256);
        uint256 length;
        while (count > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < count) proof[length++] = nodes[sibling];
            count = _foldLevel(nodes, count);
            index >>= 1;
        }
        assembly ("memory-safe") {
            // Shrinking a memory array in place is safe: the tail stays allocated, just unused.
            mstore(proof, length)
        }
    }

    /// @notice Whether `proof` proves that `leaf` is in the tree with root `root`.
    /// @param proof The sibling hashes, bottom-up.
    /// @param root The expected root.
    /// @param leaf The leaf hash.
    /// @return True if folding the proof from the leaf gives the root.
    function verifyProof(bytes32[] memory proof, bytes32 root, bytes32 leaf) internal pure returns (bool) {
        bytes32 node = leaf;
        for (uint256 i; i < proof.length; ++i) {
            node = hashPair(node, proof[i]);
        }
        return node == root;
    }

    /// @notice keccak256(min(a, b) || max(a, b)): commutative, so a proof needs no left/right flags.
    /// @param a One node.
    /// @param b The other node.
    /// @return parent The parent node.
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32 parent) {
        assembly ("memory-safe") {
            // The smaller word goes to 0x00, the larger to 0x20 (scratch space).
            let swap := lt(b, a)
            mstore(shl(5, swap), a)
            mstore(shl(5, iszero(swap)), b)
            parent := keccak256(0x00, 0x40)
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Typed digests
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The domain separator for name "KeeperNetwork", version "1", a chain and a verifying contract.
    /// @param chainId The chain id.
    /// @param verifyingContract The contract that checks the signature (task manager or key registry).
    /// @return The domain separator.
    function domainSeparator(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chainId, verifyingContract));
    }

    /// @notice The struct hash of TaskBatch(uint64 referenceBlockNumber, bytes32 referenceBlockHash, bytes32
    /// batchRoot).
    /// @param referenceBlockNumber The block the batch was computed against.
    /// @param referenceBlockHash That block's hash.
    /// @param root The batch root.
    /// @return The struct hash.
    function taskBatchStructHash(uint64 referenceBlockNumber, bytes32 referenceBlockHash, bytes32 root)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(TASK_BATCH_TYPEHASH, referenceBlockNumber, referenceBlockHash, root));
    }

    /// @notice The digest a keeper signs for a batch (the BLS message, with `BATCH_DST`).
    /// @param separator The domain separator (verifying contract = the task manager).
    /// @param referenceBlockNumber The block the batch was computed against.
    /// @param referenceBlockHash That block's hash.
    /// @param root The batch root.
    /// @return The digest.
    function taskBatchDigest(bytes32 separator, uint64 referenceBlockNumber, bytes32 referenceBlockHash, bytes32 root)
        internal
        pure
        returns (bytes32)
    {
        return typedDigest(separator, taskBatchStructHash(referenceBlockNumber, referenceBlockHash, root));
    }

    /// @notice The struct hash of KeyRegistration(address operator, bytes32 pubkeyHash).
    /// @param operator The operator registering the key; binding it stops a copied proof being replayed.
    /// @param pubkeyHash keccak256 of the 128-byte EIP-2537 encoding of the G1 public key.
    /// @return The struct hash.
    function keyRegistrationStructHash(address operator, bytes32 pubkeyHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(KEY_REGISTRATION_TYPEHASH, operator, pubkeyHash));
    }

    /// @notice The digest signed as proof of possession of a key (the BLS message, with `POP_DST`).
    /// @param separator The domain separator (verifying contract = the key registry).
    /// @param operator The operator registering the key.
    /// @param pubkeyHash keccak256 of the 128-byte EIP-2537 encoding of the G1 public key.
    /// @return The digest.
    function keyRegistrationDigest(bytes32 separator, address operator, bytes32 pubkeyHash)
        internal
        pure
        returns (bytes32)
    {
        return typedDigest(separator, keyRegistrationStructHash(operator, pubkeyHash));
    }

    /// @notice keccak256(0x19 || 0x01 || separator || structHash).
    /// @param separator The domain separator.
    /// @param structHash The struct hash.
    /// @return digest The typed digest.
    function typedDigest(bytes32 separator, bytes32 structHash) internal pure returns (bytes32 digest) {
        assembly ("memory-safe") {
            // 66 bytes from 0x1e: the 0x1901 prefix at the end of the first word, then the two hashes. The free
            // memory pointer word at 0x40 is borrowed and restored.
            let saved := mload(0x40)
            mstore(0x00, 0x1901)
            mstore(0x20, separator)
            mstore(0x40, structHash)
            digest := keccak256(0x1e, 0x42)
            mstore(0x40, saved)
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Folds `nodes` level by level into its first slot and returns the root. Overwrites `nodes`.
    function _foldInPlace(bytes32[] memory nodes) private pure returns (bytes32) {
        uint256 count = nodes.length;
        while (count > 1) {
            count = _foldLevel(nodes, count);
        }
        return nodes[0];
    }

    /// @dev Replaces the first `count` nodes by their parents (written from index 0; a parent's index never
    /// exceeds its children's, so reading and writing one array is safe) and returns the parent count.
    function _foldLevel(bytes32[] memory nodes, uint256 count) private pure returns (uint256 parents) {
        // Assembly because this is the inner loop of every batch root (Solidity spends ~600 gas per node here).
        // Callers keep count <= nodes.length, so no bounds checks are needed.
        assembly ("memory-safe") {
            let data := add(nodes, 0x20)
            let pairs := shr(1, count)
            for { let i := 0 } lt(i, pairs) { i := add(i, 1) } {
                let left := mload(add(data, shl(6, i)))
                let right := mload(add(data, add(shl(6, i), 0x20)))
                // hashPair(left, right), inlined.
                let swap := lt(right, left)
                mstore(shl(5, swap), left)
                mstore(shl(5, iszero(swap)), right)
                mstore(add(data, shl(5, i)), keccak256(0x00, 0x40))
            }
            // An odd last node moves up unchanged.
            if and(count, 1) { mstore(add(data, shl(5, pairs)), mload(add(data, shl(5, sub(count, 1))))) }
            parents := add(pairs, and(count, 1))
        }
    }
}
