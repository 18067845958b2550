//! The aggregator over P2P: every operator's aggregator follows every proposal, but only the
//! rotation's holder proposes and submits (`p2p::schedule_of`). Per reference block `R` the order
//! is drawn from `R`'s hash and the keeper set's weights at `R`: the leader of the current head
//! proposes; once a proposal has its quorum, the holder of the current slot of its reference
//! block submits (the leader first, the next after each `takeover_blocks`), so a dead proposer or
//! submitter costs one deadline, not the task. A proposal gossiped by another operator is adopted
//! here (its tasks re-executed for their call data), so any operator can submit it. Disputes travel
//! on their own topic; once the disputers weigh too much for quorum, the reference block's leader
//! re-proposes the rest and every other node drops the disputed proposal and follows the new one.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::B256;
use keeper_shared::batch::Batch;

use super::{performed_meanwhile, Aggregator, AGE_MARGIN};
use crate::aggregator::server::CollectorError;
use crate::jobs::ReferenceBlock;
use crate::p2p::P2pHub;
use crate::protocol::{Dispute, SignedBatch};

/// Signatures kept for proposals not adopted yet (they may outrun their proposal).
const MAX_EARLY_DIGESTS: usize = 256;

pub(super) struct Rotation {
    pub(super) hub: Arc<P2pHub>,
    /// Signatures whose proposal this node has not adopted yet, by digest.
    early: HashMap<B256, Vec<SignedBatch>>,
}

impl Rotation {
    pub(super) fn new(hub: Arc<P2pHub>) -> Self {
        Self { hub, early: HashMap::new() }
    }
}

impl Aggregator {
    /// Whether this node proposes at `reference`: always over HTTP; over P2P only as the leader of
    /// the block (a dead leader's block passes: the next block has another leader).
    pub(super) async fn leads(&mut self, reference: &ReferenceBlock) -> bool {
        let Some(rotation) = &self.rotation else { return true };
        let (me, takeover_blocks) = (rotation.hub.operator(), rotation.hub.takeover_blocks());
        let Ok(set) = self.registry.at(reference.number).await else { return false };
        crate::p2p::schedule_of(&set, reference, takeover_blocks)
            .and_then(|schedule| schedule.duty_at(reference.number).ok())
            .is_some_and(|duty| duty.operator == me)
    }

    /// Whether this node submits `digest` now: `Some(takeover?)` if so. Over HTTP always (as leader);
    /// over P2P only while it holds the current slot of the proposal's reference block.
    pub(super) async fn submitter_duty(&mut self, digest: B256) -> Option<bool> {
        let Some(rotation) = &self.rotation else { return Some(false) };
        let (me, takeover_blocks) = (rotation.hub.operator(), rotation.hub.takeover_blocks());
        let reference = self.flights.get(&digest)?.payload.reference;
        let head = self.context.schedule.head()?.number.max(reference.number);
        let set = self.registry.at(reference.number).await.ok()?;
        let duty = crate::p2p::schedule_of(&set, &reference, takeover_blocks)?.duty_at(head).ok()?;
        (duty.operator == me).then_some(duty.is_takeover())
    }

    /// Follows a proposal seen on the network (another operator's, or our own coming back).
    pub(super) async fn adopt(&mut self, batch: Batch) {
        let digest = batch.digest();
        if self.flights.contains(&digest) || self.submitted.contains_key(&digest) {
            return;
        }
        // Marked at once, so that this node does not propose them again while re-executing.
        let tasks: Vec<_> = batch.leaves().iter().map(|leaf| leaf.task).collect();
        let fresh: Vec<_> = tasks.iter().copied().filter(|t| self.in_flight.insert(*t)).collect();
        let Some((reference, batch_tasks)) = self.rebuild(&batch).await else {
            tracing::info!(%digest, "aggregator: not following a gossiped proposal (not canonical, done, or not ours to compute)");
            for task in fresh {
                self.in_flight.remove(&task);
            }
            return;
        };
        let set = match self.registry.at(reference.number).await {
            Ok(set) => set,
            Err(e) => {
                tracing::warn!(%digest, error = %e, "aggregator: no keeper set for a gossiped proposal");
                for task in fresh {
                    self.in_flight.remove(&task);
                }
                return;
            }
        };
        match self.collector.publish(batch.clone(), set).await {
            Ok(published) => {
                tracing::info!(%digest, tasks = batch_tasks.len(), reference_block = reference.number, "aggregator: following a gossiped proposal");
                self.add_flight(digest, batch, batch_tasks, reference, published.quorum_reached);
            }
            Err(e) => {
                tracing::warn!(%digest, error = %e, "aggregator: cannot follow a gossiped proposal");
                for task in fresh {
                    self.in_flight.remove(&task);
                }
                return;
            }
        }
        let early = self.rotation.as_mut().and_then(|r| r.early.remove(&digest)).unwrap_or_default();
        for signed in early {
            self.gossiped_signature(signed).await;
        }
    }

    /// Counts a signature seen on the network (ours included) toward its proposal's quorum.
    pub(super) async fn gossiped_signature(&mut self, signed: SignedBatch) {
        match self.collector.submit_signature(signed).await {
            Ok(_) => {}
            Err(CollectorError::UnknownDigest { digest }) => {
                let Some(rotation) = &mut self.rotation else { return };
                if rotation.early.len() >= MAX_EARLY_DIGESTS && !rotation.early.contains_key(&digest) {
                    rotation.early.clear();
                }
                rotation.early.entry(digest).or_default().push(signed);
            }
            Err(e) => {
                tracing::debug!(digest = %signed.digest, operator = %signed.operator, error = %e, "aggregator: gossiped signature not counted")
            }
        }
    }

    /// Records a dispute seen on the network (ours included) against the proposal it names; the
    /// collector's event then decides, by the disputers' weight, whether its tasks leave the batch.
    pub(super) fn gossiped_dispute(&mut self, dispute: Dispute) {
        if let Err(e) = self.collector.submit_dispute(dispute.clone()) {
            tracing::debug!(digest = %dispute.digest, operator = %dispute.operator, error = %e, "aggregator: gossiped dispute not recorded");
        }
    }

    /// Over P2P, proposals this node did not submit end when their tasks land (someone else
    /// submitted them) or when their reference block grows too old.
    pub(super) async fn forget_settled(&mut self, head: u64) {
        if self.rotation.is_none() {
            return;
        }
        let limit = self.max_age.saturating_sub(AGE_MARGIN);
        let done: Vec<B256> = {
            let index = self.context.schedule.index().await;
            self.flights
                .iter()
                .filter(|(_, f)| {
                    head.saturating_sub(f.reference_block) > limit
                        || performed_meanwhile(&index, f.payload.tasks.iter().map(|t| t.task))
                })
                .map(|(digest, _)| *digest)
                .collect()
        };
        for digest in done {
            if let Some(flight) = self.flights.remove(&digest) {
                tracing::debug!(%digest, "aggregator: proposal settled elsewhere or expired");
                self.collector.close(digest);
                // Tasks this node proposed end (back to due, or missed); ones that landed are the scheduler's.
                let tasks: Vec<_> = flight.payload.tasks.iter().map(|t| t.task).collect();
                self.abandon(&tasks, "its proposal expired or landed through another operator").await;
            }
        }
    }
}
