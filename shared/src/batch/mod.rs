//! The signed message of the protocol, defined once (`docs/protocol.md`): a batch of
//! `(jobId, sequence, specHash, responseHash)` leaves for one reference block, their Merkle root, and
//! the EIP-712 typed digest that keepers BLS-sign. A leaf binds the hash of the job spec the keeper
//! executed, so a spec changed after signing can never make the signature look wrong. `contracts/src/libraries/BatchDigest.sol` computes the
//! same bytes; `contracts/test/vectors/bls_vectors.json` pins them across both.

mod merkle;
mod typed;

use std::collections::HashSet;

use alloy::primitives::{Address, B256, U256};
use thiserror::Error;

pub use merkle::{verify_proof, MerkleTree};
pub use typed::{domain, key_registration_digest, EIP712_NAME, EIP712_VERSION};

/// Why a batch could not be built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BatchError {
    #[error("batch: a batch needs at least one task")]
    Empty,
    #[error("batch: task (job {job_id}, sequence {sequence}) appears more than once")]
    DuplicateTask { job_id: U256, sequence: u64 },
    #[error("batch: leaf index {index} is out of range for {len} leaves")]
    LeafIndexOutOfRange { index: usize, len: usize },
}

/// A task: the `sequence`-th execution of job `job_id`. Its identity is derived, never stored in advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    pub job_id: U256,
    pub sequence: u64,
}

/// One task's response as signed: the leaf of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskLeaf {
    pub task: TaskId,
    /// `keccak256(abi.encode(spec))` of the job spec the response was computed under.
    pub spec_hash: B256,
    pub response_hash: B256,
}

impl TaskLeaf {
    /// The leaf hash: the EIP-712 struct hash of
    /// `TaskResponse(uint256 jobId,uint64 sequence,bytes32 specHash,bytes32 responseHash)`.
    pub fn hash(&self) -> B256 {
        typed::task_response_hash(self)
    }
}

/// Where a batch's signature is valid: one chain, one task manager, one reference block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchContext {
    pub chain_id: u64,
    pub task_manager: Address,
    pub reference_block_number: u64,
    pub reference_block_hash: B256,
}

/// A proposed batch: its context and its leaves in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    context: BatchContext,
    leaves: Vec<TaskLeaf>,
    tree: MerkleTree,
}

impl Batch {
    /// Builds a batch; it must be non-empty and name each task at most once.
    pub fn new(context: BatchContext, leaves: Vec<TaskLeaf>) -> Result<Self, BatchError> {
        let mut seen = HashSet::with_capacity(leaves.len());
        for leaf in &leaves {
            if !seen.insert(leaf.task) {
                return Err(BatchError::DuplicateTask { job_id: leaf.task.job_id, sequence: leaf.task.sequence });
            }
        }
        let hashes: Vec<B256> = leaves.iter().map(TaskLeaf::hash).collect();
        let tree = MerkleTree::new(hashes)?;
        Ok(Self { context, leaves, tree })
    }

    pub fn context(&self) -> &BatchContext {
        &self.context
    }

    pub fn leaves(&self) -> &[TaskLeaf] {
        &self.leaves
    }

    /// The Merkle root over the leaf hashes.
    pub fn root(&self) -> B256 {
        self.tree.root()
    }

    /// The proof that leaf `index` is in this batch (for equivocation challenges).
    pub fn proof(&self, index: usize) -> Result<Vec<B256>, BatchError> {
        self.tree.proof(index)
    }

    /// The 32-byte message keepers sign: the EIP-712 digest of
    /// `TaskBatch(uint64 referenceBlockNumber,bytes32 referenceBlockHash,bytes32 batchRoot)`
    /// in the task manager's domain.
    pub fn digest(&self) -> B256 {
        typed::batch_digest(&self.context, self.root())
    }
}

#[cfg(test)]
mod tests;
