//! Merkle tree over ordered leaves with commutative (sorted-pair) keccak hashing; an odd last
//! node moves up unchanged rather than being paired with itself, so no two leaf lists of
//! different lengths share a root by duplication.

use alloy::primitives::{keccak256, B256};

use super::BatchError;

/// All levels of the tree, leaves first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    levels: Vec<Vec<B256>>,
}

fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

impl MerkleTree {
    /// Builds the tree; at least one leaf.
    pub fn new(leaves: Vec<B256>) -> Result<Self, BatchError> {
        if leaves.is_empty() {
            return Err(BatchError::Empty);
        }
        let mut levels = vec![leaves];
        while let Some(level) = levels.last().filter(|l| l.len() > 1) {
            let next = level
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => hash_pair(*a, *b),
                    [single] => *single,
                    _ => unreachable!("chunks(2) yields one or two nodes"),
                })
                .collect();
            levels.push(next);
        }
        Ok(Self { levels })
    }

    pub fn root(&self) -> B256 {
        // `new` guarantees a last level with exactly one node.
        self.levels.last().and_then(|l| l.first()).copied().unwrap_or_default()
    }

    pub fn leaf_count(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// Siblings of leaf `index`, bottom-up, skipping levels where it had none.
    pub fn proof(&self, index: usize) -> Result<Vec<B256>, BatchError> {
        let len = self.leaf_count();
        if index >= len {
            return Err(BatchError::LeafIndexOutOfRange { index, len });
        }
        let mut proof = Vec::new();
        let mut position = index;
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(position ^ 1) {
                proof.push(*sibling);
            }
            position /= 2;
        }
        Ok(proof)
    }
}

/// Whether `proof` links `leaf` to `root`.
pub fn verify_proof(leaf: B256, proof: &[B256], root: B256) -> bool {
    proof.iter().fold(leaf, |node, sibling| hash_pair(node, *sibling)) == root
}
