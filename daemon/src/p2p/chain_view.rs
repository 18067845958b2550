//! The node's view of the chain for the network crate ([`keeper_p2p::OperatorRegistry`]): the
//! head, recent canonical block hashes, and the keeper set at each recent block. It is filled from
//! the daemon's own sources (the scheduler's head and the aggregator's [`RegistryView`] of the key
//! registry) by [`ChainView::advance`], and answered from memory, since the network task asks it
//! for every message.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use keeper_p2p::rotation::{OperatorStake, Schedule};

use crate::chain::RpcPool;
use crate::jobs::ReferenceBlock;
use crate::quorum::registry::RegistryView;

/// Blocks kept behind the head: the network refuses messages older than 64 blocks anyway.
const KEPT_BLOCKS: u64 = 128;
/// Gaps in the scheduler's heads wider than this are not filled (hashes are then unknown: ignored).
const MAX_GAP_FILL: u64 = 16;

#[derive(Debug, Default)]
struct State {
    head: u64,
    hashes: BTreeMap<u64, B256>,
    /// The keeper set (with weights) at the blocks it was read at; a block between two reads uses
    /// the earlier one (the set changes only by transactions, which the next read sees).
    sets: BTreeMap<u64, Arc<Vec<OperatorStake>>>,
}

/// Shared between the network task (reads) and the hub (writes).
#[derive(Debug, Default)]
pub struct ChainView {
    state: RwLock<State>,
}

impl ChainView {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves the view to `head`: reads the keeper set there, fills the hashes of skipped blocks,
    /// and forgets blocks older than the window. The new head shows only once all of it is in.
    pub async fn advance(
        &self,
        head: ReferenceBlock,
        registry: &mut RegistryView,
        pool: &RpcPool,
    ) -> Result<(), crate::quorum::registry::OperatorsError> {
        let stakes = stakes_of(&*registry.at(head.number).await?);
        let previous = self.read().head;
        let mut filled = Vec::new();
        if previous > 0 && head.number > previous + 1 && head.number - previous <= MAX_GAP_FILL {
            let provider = pool.provider();
            for number in previous + 1..head.number {
                if let Ok(Some(block)) = provider.get_block_by_number(number.into()).await {
                    filled.push((number, block.header.hash));
                }
            }
        }
        let mut state = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A reorg replaces the hashes from its fork point on.
        let stale: Vec<u64> = state.hashes.range(head.number..).map(|(n, _)| *n).collect();
        for number in stale {
            state.hashes.remove(&number);
        }
        for (number, hash) in filled {
            state.hashes.insert(number, hash);
        }
        state.hashes.insert(head.number, head.hash);
        state.sets.insert(head.number, Arc::new(stakes));
        state.head = head.number;
        let oldest = head.number.saturating_sub(KEPT_BLOCKS);
        state.hashes = state.hashes.split_off(&oldest);
        // Keep the newest set at or before the window's start, for blocks just inside it.
        let keep_from = state.sets.range(..=oldest).next_back().map(|(n, _)| *n).unwrap_or(oldest);
        state.sets = state.sets.split_off(&keep_from);
        Ok(())
    }

    /// Moves the view to the chain's confirmed head now (before the scheduler reports one).
    pub async fn prime(
        &self,
        pool: &RpcPool,
        confirmations: u64,
        registry: &mut RegistryView,
    ) -> Result<(), super::P2pError> {
        let provider = pool.provider();
        let latest = provider.get_block_number().await.map_err(|e| super::P2pError::Chain(e.to_string()))?;
        let number = latest.saturating_sub(confirmations);
        let block = provider
            .get_block_by_number(number.into())
            .await
            .map_err(|e| super::P2pError::Chain(e.to_string()))?
            .ok_or_else(|| super::P2pError::Chain(format!("block {number} not found")))?;
        self.advance(ReferenceBlock::of(&block.header), registry, pool).await?;
        Ok(())
    }

    /// The keeper set with its weights at `number`, if the view covers it.
    pub fn stakes_at(&self, number: u64) -> Option<Arc<Vec<OperatorStake>>> {
        self.read().sets.range(..=number).next_back().map(|(_, set)| Arc::clone(set))
    }

    /// The rotation schedule of reference block `number`, if the view knows its hash and set.
    pub fn schedule(&self, number: u64, takeover_blocks: u64) -> Option<Schedule> {
        let hash = self.block_hash_at(number)?;
        let stakes = self.stakes_at(number)?;
        Schedule::new(number, hash, &stakes, takeover_blocks).ok()
    }

    fn block_hash_at(&self, number: u64) -> Option<B256> {
        self.read().hashes.get(&number).copied()
    }

    #[cfg(test)]
    pub(crate) fn set_for_test(&self, number: u64, hash: B256, stakes: Vec<OperatorStake>) {
        let mut state = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.head = state.head.max(number);
        state.hashes.insert(number, hash);
        state.sets.insert(number, Arc::new(stakes));
    }
}

/// The rotation's stakes: the key registry's weights at the block.
pub fn stakes_of(set: &crate::quorum::OperatorSet) -> Vec<OperatorStake> {
    set.iter().map(|(address, info)| OperatorStake { operator: *address, stake: info.weight }).collect()
}

impl keeper_p2p::OperatorRegistry for ChainView {
    fn head_block(&self) -> u64 {
        self.read().head
    }

    fn block_hash(&self, number: u64) -> Option<B256> {
        self.block_hash_at(number)
    }

    fn is_registered(&self, operator: Address, number: u64) -> bool {
        self.stakes_at(number).is_some_and(|set| set.iter().any(|o| o.operator == operator))
    }
}
