//! `GET /v1/operators`: every operator the key registry has seen register (its logs since the
//! deployment block, kept between calls: each call reads only the blocks since the last), with its
//! state now (registered, weight, key) and what this daemon saw of its signatures in the proposals it
//! stored over the last [`SIGNATURE_WINDOW_BLOCKS`] blocks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use axum::extract::{RawQuery, State};
use keeper_shared::api::{parse_empty, ApiError, ErrorCode, OperatorList, OperatorView};
use keeper_shared::contracts::BlsKeyRegistry;

use super::routes::{internal, ok, ApiState, Failure, Reply};
use crate::chain::{logs_in_ranges, LogsError, RpcPool};
use crate::store::StoreError;

/// Proposals with a reference block this far below the processed head count for signed/missed.
pub const SIGNATURE_WINDOW_BLOCKS: u64 = 10_000;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

fn chain(what: &str, error: impl std::fmt::Display) -> Failure {
    Failure(ApiError::new(ErrorCode::Unavailable, format!("{what}: {error}")))
}

/// Per operator: batches signed, the time of the newest signature, and how long after each
/// proposal its signature came.
#[derive(Debug, Default, Clone)]
struct Seen {
    signed: u64,
    last_ms: Option<i64>,
    latencies_ms: Vec<u64>,
}

impl Seen {
    fn median_latency_ms(&self) -> Option<u64> {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied()
    }
}

pub async fn list_operators(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Reply {
    parse_empty(query.as_deref())?;
    let chain_turn = state.chain_turn().await;
    let context = state.context();
    let registry_address = context.config.deployment.avs.key_registry;
    // Registrations and departures, in chain order: the MISSED column counts only proposals made
    // while an operator was in the set, and keeps them after it leaves. Kept from call to call: each
    // reads only the blocks since the last.
    let mut membership = state.membership().lock().await;
    let to = match context.schedule.head() {
        Some(head) => head.number,
        None => tokio::time::timeout(
            READ_TIMEOUT,
            context.pool.run("eth_blockNumber", |p| async move { p.get_block_number().await }),
        )
        .await
        .map_err(|_| chain("reading the head", "timed out"))?
        .map_err(|e| chain("reading the head", e))?,
    };
    tokio::time::timeout(READ_TIMEOUT, membership.index_to(&context.pool, registry_address, to))
        .await
        .map_err(|_| chain("reading the key registry's logs", "timed out"))?
        .map_err(|e| chain("reading the key registry's logs", e))?;
    let mut addresses: BTreeSet<Address> = membership.membership.operators().collect();
    let local = context.operator.as_ref().map(|o| o.address);
    addresses.extend(local);

    let min_block = context.schedule.head().map_or(0, |h| h.number.saturating_sub(SIGNATURE_WINDOW_BLOCKS));
    let (proposals, seen) = state
        .store(move |store| {
            store.read(|tx| {
                let proposals = tx.proposals_since_block(min_block)?;
                let mut seen: BTreeMap<Address, Seen> = BTreeMap::new();
                let mut signers = Vec::with_capacity(proposals.len());
                for proposal in &proposals {
                    let mut signed_by = BTreeSet::new();
                    for signature in tx.signatures(proposal.batch.digest())? {
                        signed_by.insert(signature.operator);
                        let entry = seen.entry(signature.operator).or_default();
                        entry.signed += 1;
                        entry.last_ms = entry.last_ms.max(Some(signature.received_at_ms));
                        // Clocks of one process: a signature stored before its proposal cannot
                        // happen, but a negative difference must not wrap.
                        let latency = signature.received_at_ms.saturating_sub(proposal.created_at_ms);
                        entry.latencies_ms.push(u64::try_from(latency).unwrap_or(0));
                    }
                    signers.push((proposal.batch.context().reference_block_number, signed_by));
                }
                Ok::<_, StoreError>((signers, seen))
            })
        })
        .await
        .map_err(|e| internal("reading the stored signatures", &e))?;

    let registry = BlsKeyRegistry::new(registry_address, context.pool.provider());
    let mut operators = Vec::with_capacity(addresses.len());
    for address in addresses {
        let views = async {
            let registered = registry.isRegistered(address).call().await?;
            let stake = registry.getOperatorWeight(address).call().await?;
            let hash = registry.pubkeyHashOf(address).call().await?;
            let key = if hash.is_zero() { None } else { Some(registry.pubkeyOf(address).call().await?) };
            Ok::<_, alloy::contract::Error>((registered, stake, hash, key))
        };
        let (registered, stake, hash, key) = tokio::time::timeout(READ_TIMEOUT, views)
            .await
            .map_err(|_| chain("reading the key registry", "timed out"))?
            .map_err(|e| chain("reading the key registry", e))?;
        let seen = seen.get(&address).cloned().unwrap_or_default();
        operators.push(OperatorView {
            address,
            local: local == Some(address),
            registered,
            stake,
            bls_pubkey: key.map(|k| Bytes::from(k.to_eip2537().to_vec())),
            pubkey_hash: (!hash.is_zero()).then_some(hash),
            last_seen_ms: seen.last_ms,
            signed: seen.signed,
            missed: proposals
                .iter()
                .filter(|(block, signed_by)| {
                    membership.membership.member_at(address, *block) && !signed_by.contains(&address)
                })
                .count() as u64,
            signature_latency_ms: seen.median_latency_ms(),
        });
    }
    drop(chain_turn);
    ok(&OperatorList { operators })
}

/// The key registry's membership history as far as it was read: indexed from the deployment block
/// on the first call, then only the blocks since (in ranges public providers accept). It follows the
/// scheduler's processed head, whose blocks are confirmed.
#[derive(Debug)]
pub struct MembershipIndex {
    next_block: u64,
    membership: Membership,
}

impl MembershipIndex {
    pub fn new(deploy_block: u64) -> Self {
        Self { next_block: deploy_block, membership: Membership::default() }
    }

    /// Reads the registry's membership logs up to block `to`.
    async fn index_to(&mut self, pool: &RpcPool, registry: Address, to: u64) -> Result<(), LogsError> {
        if to < self.next_block {
            return Ok(());
        }
        let filter = Filter::new().address(registry).event_signature(vec![
            BlsKeyRegistry::OperatorRegistered::SIGNATURE_HASH,
            BlsKeyRegistry::OperatorDeregistered::SIGNATURE_HASH,
            BlsKeyRegistry::OperatorBanned::SIGNATURE_HASH,
        ]);
        for log in logs_in_ranges(pool, &filter, self.next_block, to).await? {
            let (Some(block), Some(operator)) = (log.block_number, log.topics().get(1)) else { continue };
            let operator = Address::from_word(*operator);
            match log.topic0() {
                Some(&BlsKeyRegistry::OperatorRegistered::SIGNATURE_HASH) => self.membership.joined(operator, block),
                Some(_) => self.membership.left(operator, block),
                None => {}
            }
        }
        self.next_block = to + 1;
        Ok(())
    }
}

/// When each operator was in the keeper set: `[joined, left)` block ranges, from the key registry's
/// logs in chain order.
#[derive(Debug, Default)]
struct Membership {
    ranges: BTreeMap<Address, Vec<(u64, Option<u64>)>>,
}

impl Membership {
    fn joined(&mut self, operator: Address, block: u64) {
        let ranges = self.ranges.entry(operator).or_default();
        if !ranges.last().is_some_and(|(_, left)| left.is_none()) {
            ranges.push((block, None));
        }
    }

    fn left(&mut self, operator: Address, block: u64) {
        if let Some((_, left @ None)) = self.ranges.get_mut(&operator).and_then(|r| r.last_mut()) {
            *left = Some(block);
        }
    }

    fn operators(&self) -> impl Iterator<Item = Address> + '_ {
        self.ranges.keys().copied()
    }

    /// Whether `operator` was in the set for a proposal at reference block `block` (a registration
    /// in that very block counts: the key registry's checkpoint is at the block).
    fn member_at(&self, operator: Address, block: u64) -> bool {
        self.ranges.get(&operator).is_some_and(|ranges| {
            ranges.iter().any(|(joined, left)| *joined <= block && left.is_none_or(|left| block < left))
        })
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::Address;

    use super::{Membership, Seen};

    #[test]
    fn membership_counts_only_blocks_while_registered_and_keeps_the_past() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut membership = Membership::default();
        membership.joined(a, 10);
        membership.left(a, 20);
        membership.joined(a, 30);
        membership.joined(b, 15);
        assert!(!membership.member_at(a, 9), "before it registered");
        assert!(membership.member_at(a, 10) && membership.member_at(a, 19));
        assert!(!membership.member_at(a, 20) && !membership.member_at(a, 29), "while out of the set");
        assert!(membership.member_at(a, 1000), "back in");
        assert!(!membership.member_at(b, 14) && membership.member_at(b, 15));
        assert!(!membership.member_at(Address::ZERO, 15));
        assert_eq!(membership.operators().count(), 2);
    }

    #[test]
    fn signature_latency_is_the_median_and_absent_without_signatures() {
        assert_eq!(Seen::default().median_latency_ms(), None);
        let seen = Seen { signed: 5, last_ms: Some(0), latencies_ms: vec![900, 100, 200, 150, 4_000] };
        assert_eq!(seen.median_latency_ms(), Some(200));
        let one = Seen { signed: 1, last_ms: Some(0), latencies_ms: vec![42] };
        assert_eq!(one.median_latency_ms(), Some(42));
    }
}
