//! The view of the chain a node checks records and messages against. The daemon implements it
//! from its chain follower and the key registry; [`StaticRegistry`] is a fixed set for test beds.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use alloy::primitives::{keccak256, Address, B256};

/// What the node asks of the chain. Calls are made on the network task for every message, so
/// they must answer from memory, without blocking.
pub trait OperatorRegistry: Send + Sync {
    /// The newest block the view holds (the daemon's confirmed head).
    fn head_block(&self) -> u64;
    /// The canonical hash of block `number`, if the view knows it.
    fn block_hash(&self, number: u64) -> Option<B256>;
    /// Whether `operator` is in the keeper operator set at block `number`.
    fn is_registered(&self, operator: Address, number: u64) -> bool;
}

/// A fixed operator set on a synthetic chain whose head is moved by hand and whose block hashes
/// are `keccak256("keeper-p2p static chain" || number)`. For test beds and tools; a real node
/// takes both from the chain.
#[derive(Debug)]
pub struct StaticRegistry {
    operators: HashSet<Address>,
    head: AtomicU64,
}

impl StaticRegistry {
    pub fn new(operators: impl IntoIterator<Item = Address>, head: u64) -> Self {
        Self { operators: operators.into_iter().collect(), head: AtomicU64::new(head) }
    }

    pub fn set_head(&self, head: u64) {
        self.head.store(head, Ordering::Relaxed);
    }

    /// The hash of block `number` on the synthetic chain.
    pub fn hash_of(number: u64) -> B256 {
        let mut preimage = b"keeper-p2p static chain".to_vec();
        preimage.extend_from_slice(&number.to_be_bytes());
        keccak256(preimage)
    }
}

impl OperatorRegistry for StaticRegistry {
    fn head_block(&self) -> u64 {
        self.head.load(Ordering::Relaxed)
    }

    fn block_hash(&self, number: u64) -> Option<B256> {
        (number <= self.head_block()).then(|| Self::hash_of(number))
    }

    fn is_registered(&self, operator: Address, _number: u64) -> bool {
        self.operators.contains(&operator)
    }
}
