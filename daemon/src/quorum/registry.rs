//! The keeper set at a reference block, as the key registry records it: every operator whose key
//! is in the aggregate key at that block (from the registry's registration logs) with its weight
//! and the total weight at that block (from the registry's checkpointed views). Sets are cached per
//! block; registration logs are indexed incrementally.

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use keeper_shared::bls::PublicKey;
use keeper_shared::contracts::BlsKeyRegistry;

use super::{Operator, OperatorSet, OperatorSetError};
use crate::chain::{logs_in_ranges, LogsError, RpcError, RpcPool};

/// Why the set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OperatorsError {
    #[error("operator set: {0}")]
    Rpc(#[from] RpcError),
    #[error("operator set: {0}")]
    Logs(#[from] LogsError),
    #[error("operator set: registry log: {0}")]
    Log(String),
    #[error("operator set: operator {operator}: registered key is not a valid G1 point: {reason}")]
    Key { operator: Address, reason: String },
    #[error("operator set at block {block}: {source}")]
    Set { block: u64, source: OperatorSetError },
}

#[derive(Debug, Clone)]
struct Registration {
    operator: Address,
    /// (block, registered?) in chain order.
    changes: Vec<(u64, bool)>,
}

/// The registry's members over time.
#[derive(Debug)]
pub struct RegistryView {
    pool: RpcPool,
    registry: Address,
    next_block: u64,
    keys: BTreeMap<B256, PublicKey>,
    members: BTreeMap<B256, Registration>,
    cache: BTreeMap<u64, Arc<OperatorSet>>,
}

impl RegistryView {
    pub fn new(pool: RpcPool, registry: Address, deploy_block: u64) -> Self {
        Self {
            pool,
            registry,
            next_block: deploy_block,
            keys: BTreeMap::new(),
            members: BTreeMap::new(),
            cache: BTreeMap::new(),
        }
    }

    /// The set at `block` (which must be mined).
    pub async fn at(&mut self, block: u64) -> Result<Arc<OperatorSet>, OperatorsError> {
        if let Some(set) = self.cache.get(&block) {
            return Ok(Arc::clone(set));
        }
        self.index_to(block).await?;
        let provider = self.pool.provider();
        let registry = BlsKeyRegistry::new(self.registry, &provider);
        let block_u32 = u32::try_from(block).unwrap_or(u32::MAX);
        let mut operators = Vec::new();
        for (hash, registration) in &self.members {
            let registered = registration
                .changes
                .iter()
                .rev()
                .find(|(at, _)| *at <= block)
                .is_some_and(|(_, registered)| *registered);
            if !registered {
                continue;
            }
            let Some(key) = self.keys.get(hash) else { continue };
            let weight = registry
                .getOperatorWeightAtBlock(registration.operator, block_u32)
                .call()
                .await
                .map_err(|e| RpcError::from_call("getOperatorWeightAtBlock", e))?;
            operators.push(Operator { address: registration.operator, public_key: *key, weight });
        }
        let total = registry
            .getTotalWeightAtBlock(block_u32)
            .call()
            .await
            .map_err(|e| RpcError::from_call("getTotalWeightAtBlock", e))?;
        let set = Arc::new(OperatorSet::new(operators, total).map_err(|source| OperatorsError::Set { block, source })?);
        self.cache.insert(block, Arc::clone(&set));
        while self.cache.len() > 256 {
            self.cache.pop_first();
        }
        Ok(set)
    }

    async fn index_to(&mut self, block: u64) -> Result<(), OperatorsError> {
        if block < self.next_block {
            return Ok(());
        }
        let filter = Filter::new().address(self.registry);
        let logs = logs_in_ranges(&self.pool, &filter, self.next_block, block).await?;
        for log in &logs {
            let Some(topic0) = log.topics().first().copied() else { continue };
            let at = log.block_number.unwrap_or(block);
            let bad = |e: alloy::sol_types::Error| OperatorsError::Log(e.to_string());
            if topic0 == BlsKeyRegistry::PubkeyRegistered::SIGNATURE_HASH {
                let e = BlsKeyRegistry::PubkeyRegistered::decode_log_data(log.data()).map_err(bad)?;
                let key = PublicKey::from_eip2537(&e.pubkey.to_eip2537())
                    .map_err(|err| OperatorsError::Key { operator: e.operator, reason: err.to_string() })?;
                self.keys.insert(e.pubkeyHash, key);
            } else if topic0 == BlsKeyRegistry::OperatorRegistered::SIGNATURE_HASH {
                let e = BlsKeyRegistry::OperatorRegistered::decode_log_data(log.data()).map_err(bad)?;
                self.members
                    .entry(e.pubkeyHash)
                    .or_insert_with(|| Registration { operator: e.operator, changes: Vec::new() })
                    .changes
                    .push((at, true));
            } else if topic0 == BlsKeyRegistry::OperatorDeregistered::SIGNATURE_HASH {
                let e = BlsKeyRegistry::OperatorDeregistered::decode_log_data(log.data()).map_err(bad)?;
                if let Some(member) = self.members.get_mut(&e.pubkeyHash) {
                    member.changes.push((at, false));
                }
            }
        }
        self.next_block = block + 1;
        Ok(())
    }
}
