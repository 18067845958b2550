//! The keeper role: takes batch proposals from its sources (the aggregator's HTTP endpoint, the
//! operators' gossip network, or both), checks every leaf against its own
//! view (the task is due by its own job index, and its own execution at the reference block gives
//! the same response), and only then signs the batch digest, through the slashing-protection record
//! (committed before the signature leaves the process). Leaves it disagrees with are disputed, so
//! the aggregator can drop them and re-propose the rest.
//!
//! A leaf whose response this keeper already signed for that task (in an earlier batch, perhaps
//! at another reference block) is accepted as is: signing the same response again is never an
//! equivocation, and it lets a task that missed its batch be re-proposed unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use keeper_shared::batch::{Batch, TaskId, TaskLeaf};
use keeper_shared::bls::SigningDomain;
use tokio_util::sync::CancellationToken;

use super::client::{AggregatorClient, ClientConfig, ClientError};
use super::source::{ProposalSource, SourceError};
use crate::aggregator::flights::AGE_MARGIN;
use crate::context::NodeContext;
use crate::jobs::{execute, Outcome, ReferenceBlock, SpecError};
use crate::protocol::{Dispute, DisputeReason, DisputedTask, ErrorCode, SignedBatch};
use crate::store::{BatchSigningRequest, SlashingProtectionError, Store, StoreError, TaskDue, TaskState};

/// Why the keeper role stopped.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    #[error("keeper: {0}")]
    Config(String),
    #[error("keeper: {0}")]
    Client(#[from] ClientError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("keeper: {0}")]
    Store(#[from] StoreError),
}

/// What the keeper decided about one proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not yet: its reference block is ahead of this keeper's view.
    Later,
    /// Signed (or signed before).
    Signed,
    /// Some leaves are disputed.
    Disputed(Vec<DisputedTask>),
    /// The proposal is for another chain or contract, or its reference block is not canonical.
    Ignored(String),
}

/// The keeper role's loop.
pub async fn run(context: NodeContext, shutdown: CancellationToken) -> Result<(), KeeperError> {
    let mut sources = Vec::new();
    if context.config.p2p.transport.uses_http() {
        let url = context
            .config
            .aggregator_url()
            .ok_or_else(|| KeeperError::Config("aggregator.url: not configured".into()))?;
        let client = AggregatorClient::new(url.as_str(), ClientConfig::default())?;
        tracing::info!(aggregator = %url, "keeper: started (HTTP)");
        sources.push(ProposalSource::http(client));
    }
    if let Some(hub) = &context.p2p {
        tracing::info!("keeper: started (P2P)");
        sources.push(ProposalSource::gossip(Arc::clone(hub)));
    }
    let last_signed = context.store.with(|store| store.read(|tx| tx.condition_signings())).await?;
    let last_signed = last_signed
        .into_iter()
        .map(|(job, s)| (job, SignedCondition { sequence: s.sequence, reference_block: s.reference_block }))
        .collect();
    let mut keeper = Keeper { context, cache: HashMap::new(), last_signed, max_reference_age: None };
    // A keeper outside the set is refused every poll until it registers: said once, then counted.
    let mut told_unknown = false;
    loop {
        for source in &mut sources {
            match keeper.poll(source).await {
                Ok(()) => {}
                Err(KeeperError::Source(SourceError::Http(e))) if e.is_retryable() => {
                    tracing::debug!(error = %e, "keeper: aggregator unreachable; retrying");
                }
                Err(KeeperError::Source(SourceError::Http(e))) if e.code() == Some(ErrorCode::UnknownOperator) => {
                    keeper.context.metrics.signatures_refused.with_label_values(&["unknown_operator"]).inc();
                    if std::mem::replace(&mut told_unknown, true) {
                        tracing::debug!(error = %e, "keeper: not in the keeper set");
                    } else {
                        tracing::warn!(
                            error = %e,
                            "keeper: the aggregator does not count this operator (not registered in the keeper set yet, or deregistered); its signatures are refused until it registers"
                        );
                    }
                }
                Err(KeeperError::Source(SourceError::Http(e))) if e.code() == Some(ErrorCode::ProposalClosed) => {
                    // Normal: the quorum was reached (or the proposal dropped) before this signature arrived.
                    keeper.context.metrics.signatures_refused.with_label_values(&["proposal_closed"]).inc();
                    tracing::debug!(error = %e, "keeper: signature arrived after the proposal closed");
                }
                Err(e) => tracing::warn!(error = %e, source = source.name(), "keeper: poll failed"),
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(keeper.context.config.keeper_poll_interval) => {}
        }
    }
}

/// This keeper's response hash for a task at a reference block, or why it has none.
type OwnResponse = Result<B256, (DisputeReason, String)>;

struct Keeper {
    context: NodeContext,
    /// Own responses by (task, reference block hash), with the reference block's number: a proposal
    /// re-sent is not executed twice. Only blocks a proposal can still be judged at are kept (at 10,000
    /// jobs a count cap of 100,000 held about ten minutes of responses nobody would ask for again).
    cache: HashMap<(TaskId, B256), (u64, OwnResponse)>,
    /// Condition jobs: the last task this keeper signed, by job, with its reference block (the
    /// single-flight rule: the next one is signed only once this one's outcome is on chain, or it can
    /// no longer land). Kept in the store with each signing and read back at start, so a restart
    /// forgets nothing.
    last_signed: HashMap<U256, SignedCondition>,
    /// The task manager's `maxReferenceAge`, read once.
    max_reference_age: Option<u64>,
}

impl Keeper {
    /// Judges every open proposal, newest first: a keeper that cannot keep up signs the proposals that
    /// can still reach quorum rather than, in order, ones that close before its signature arrives (the
    /// collapse of issue 19: every signature late). One about to close is not judged at all; the same
    /// order at every keeper makes them sign the same proposals.
    async fn poll(&mut self, source: &mut ProposalSource) -> Result<(), KeeperError> {
        let mut batches = Vec::new();
        loop {
            let fetched = source.fetch().await?;
            source.advance(&fetched);
            let more = fetched.has_more;
            batches.extend(fetched.batches);
            if !more {
                break;
            }
        }
        let max_age = self.max_reference_age().await;
        if let Some(head) = self.context.schedule.head() {
            let oldest = head.number.saturating_sub(max_age);
            self.cache.retain(|_, (number, _)| *number >= oldest);
        }
        let mut queue = newest_first(batches).into_iter();
        while let Some(batch) = queue.next() {
            let head = self.context.schedule.head().map_or(0, |head| head.number);
            if closes_before_signing(&batch, head, max_age) {
                self.context.metrics.signatures_refused.with_label_values(&["too_old"]).inc();
                tracing::debug!(digest = %batch.digest(), head, "keeper: not judging a proposal about to close");
                source.judged(&batch);
                continue;
            }
            let verdict = match self.judge(&batch, source).await {
                Ok(verdict) => verdict,
                Err(e) => {
                    // Judged again at the next poll, with the ones not reached.
                    source.later(std::iter::once(batch).chain(queue));
                    return Err(e);
                }
            };
            match verdict {
                Verdict::Later => source.later([batch]),
                Verdict::Signed | Verdict::Ignored(_) => source.judged(&batch),
                Verdict::Disputed(tasks) => {
                    source.judged(&batch);
                    self.context.metrics.observe_disputed(tasks.iter().map(|task| task.reason));
                    let dispute = Dispute { operator: self.operator_address(), digest: batch.digest(), tasks };
                    source.send_dispute(&dispute, &batch).await?;
                }
            }
        }
        Ok(())
    }

    fn operator_address(&self) -> alloy::primitives::Address {
        self.context.operator.as_ref().map(|o| o.address).unwrap_or_default()
    }

    /// Checks one proposal and signs it if every leaf is right.
    async fn judge(&mut self, batch: &Batch, source: &mut ProposalSource) -> Result<Verdict, KeeperError> {
        let deployment = &self.context.config.deployment;
        let ctx = *batch.context();
        if ctx.chain_id != deployment.chain_id || ctx.task_manager != deployment.avs.task_manager {
            return Ok(Verdict::Ignored("another chain or task manager".into()));
        }
        let Some(head) = self.context.schedule.head() else { return Ok(Verdict::Later) };
        if head.number < ctx.reference_block_number {
            return Ok(Verdict::Later);
        }
        let provider = self.context.pool.provider();
        let block = provider.get_block_by_number(ctx.reference_block_number.into()).await.ok().flatten();
        let Some(block) = block else { return Ok(Verdict::Later) };
        if block.header.hash != ctx.reference_block_hash {
            return Ok(Verdict::Ignored(format!("reference block {} is not canonical", ctx.reference_block_number)));
        }
        let reference = ReferenceBlock::of(&block.header);

        let max_age = self.max_reference_age().await;
        // What the job index says of every leaf, under one read of it: whether the leaf is a condition
        // job's (and its last outcome's block), and the spec hash this keeper would execute it under.
        let views: Vec<_> = {
            let index = self.context.schedule.index().await;
            let mut hashes: HashMap<U256, Result<B256, SpecError>> = HashMap::new();
            batch
                .leaves()
                .iter()
                .map(|leaf| {
                    let job = index.job(leaf.task.job_id);
                    let condition = job.filter(|job| job.spec.action.is_condition()).map(|job| job.last_outcome_block);
                    let own_spec = index
                        .is_due(leaf.task, &reference)
                        .map(|spec| hashes.entry(leaf.task.job_id).or_insert_with(|| spec.hash()).clone());
                    (condition, own_spec)
                })
                .collect()
        };
        let signed_before = self.signed_responses(batch.leaves()).await?;
        let conditions_of = batch.leaves().iter().zip(&views).map(|(leaf, (condition, _))| (leaf.task, *condition));
        let flights = single_flight(conditions_of, &reference, &self.last_signed, max_age);
        let mut disputed = Vec::new();
        let mut conditions = Vec::new();
        for (((leaf, (condition, own_spec)), signed_before), flight) in
            batch.leaves().iter().zip(views).zip(signed_before).zip(flights)
        {
            if condition.is_some() {
                if let Some(dispute) = flight {
                    disputed.push(dispute);
                    continue;
                }
                conditions.push(leaf.task);
            }
            // The leaf binds a spec, and the chain judges the leaf by it: only the job's spec as this keeper
            // sees it may be signed, whatever the response (a response signed before included).
            if let Some(dispute) = spec_dispute(leaf, own_spec) {
                disputed.push(dispute);
                continue;
            }
            if signed_before == Some(leaf.response_hash) {
                continue;
            }
            let Some(own) = self.own_response(leaf.task, &reference).await else { return Ok(Verdict::Later) };
            disputed.extend(leaf_dispute(leaf, signed_before, own));
        }
        if !disputed.is_empty() {
            tracing::info!(digest = %batch.digest(), disputed = disputed.len(), "keeper: disputing leaves");
            return Ok(Verdict::Disputed(disputed));
        }

        let Some(key) = self.context.operator.as_ref().and_then(|o| o.bls.clone()) else {
            return Err(KeeperError::Config("operator.bls_keystore: the keeper has no BLS key".into()));
        };
        let reference_block = ctx.reference_block_number;
        let decision = {
            let (batch, conditions) = (batch.clone(), conditions.clone());
            self.context
                .store
                .with(move |store| Ok::<_, StoreError>(record_signing(store, &batch, &conditions)))
                .await?
        };
        let digest = match decision {
            Ok(digest) => digest,
            Err(refusal) => {
                tracing::warn!(digest = %batch.digest(), error = %refusal, "keeper: slashing protection refused to sign");
                self.context.metrics.slashing_protection_refusals.inc();
                return Ok(Verdict::Disputed(refusal_disputes(batch, &refusal)));
            }
        };
        // Recorded with the signing (in the store too), before the signature can leave the process.
        for task in conditions {
            note_signed(&mut self.last_signed, task, reference_block);
        }
        let signature = key.sign(digest.as_slice(), SigningDomain::Batch);
        let signed = SignedBatch { operator: self.operator_address(), digest, signature };
        let quorum = source.send_signature(&signed, batch).await?;
        self.context.metrics.batches_signed.inc();
        let tasks = batch.leaves().len();
        match quorum {
            // Over HTTP the aggregator says whether this signature completed the quorum.
            Some(quorum) => tracing::info!(%digest, tasks, reference_block, quorum, "keeper: signed batch"),
            None => tracing::info!(%digest, tasks, reference_block, source = source.name(), "keeper: signed batch"),
        }
        Ok(Verdict::Signed)
    }

    /// The task manager's `maxReferenceAge` (its largest allowed value if the chain cannot say: a longer
    /// wait, never a double check).
    async fn max_reference_age(&mut self) -> u64 {
        if let Some(age) = self.max_reference_age {
            return age;
        }
        let provider = self.context.pool.provider();
        let task_manager =
            keeper_shared::contracts::TaskManager::new(self.context.config.deployment.avs.task_manager, &provider);
        match task_manager.maxReferenceAge().call().await {
            Ok(age) => {
                self.max_reference_age = Some(u64::from(age));
                u64::from(age)
            }
            Err(e) => {
                tracing::debug!(error = %e, "keeper: reading maxReferenceAge failed");
                MAX_REFERENCE_AGE_BOUND
            }
        }
    }

    /// The response this keeper signed before for each leaf's task and spec, in leaf order (one visit
    /// to the store for the whole batch).
    async fn signed_responses(&self, leaves: &[TaskLeaf]) -> Result<Vec<Option<B256>>, KeeperError> {
        let deployment = &self.context.config.deployment;
        let (chain_id, task_manager) = (deployment.chain_id, deployment.avs.task_manager);
        let wanted: Vec<(TaskId, B256)> = leaves.iter().map(|leaf| (leaf.task, leaf.spec_hash)).collect();
        let found = self
            .context
            .store
            .with(move |store| {
                let protection = store.slashing_protection();
                wanted
                    .iter()
                    .map(|(task, spec_hash)| {
                        protection
                            .signed_response(chain_id, task_manager, *task, *spec_hash)
                            .map(|found| found.map(|r| r.response_hash))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| StoreError::Task(e.to_string()))
            })
            .await?;
        Ok(found)
    }

    /// This keeper's response hash for `task` at `reference`, or why it has none; `None` when the
    /// chain could not be asked (judged again at the next poll).
    async fn own_response(&mut self, task: TaskId, reference: &ReferenceBlock) -> Option<OwnResponse> {
        if let Some((_, cached)) = self.cache.get(&(task, reference.hash)) {
            return Some(cached.clone());
        }
        let spec = self.context.schedule.index().await.is_due(task, reference);
        let result = match spec {
            None => Err((DisputeReason::NotDue, "not due by this keeper's view of the job".to_string())),
            Some(spec) => {
                match execute(&self.context.pool.provider(), &self.context.scripts, &spec, task, reference).await {
                    Ok(outcome @ (Outcome::Respond(_) | Outcome::CheckFailed(_))) => match outcome.response() {
                        Some(response) => Ok(response.hash()),
                        None => Err((DisputeReason::ExecutionFailed, "no response".to_string())),
                    },
                    Ok(Outcome::Unsupported { reason }) => Err((DisputeReason::Unsupported, reason)),
                    Ok(Outcome::ScriptFailed { reason }) => {
                        tracing::warn!(job = %task.job_id, sequence = task.sequence, %reason, "keeper: the job's script failed");
                        self.context.metrics.script_failures.inc();
                        Err((DisputeReason::ExecutionFailed, reason))
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "keeper: executing a task failed; judging later");
                        return None;
                    }
                }
            }
        };
        self.cache.insert((task, reference.hash), (reference.number, result.clone()));
        Some(result)
    }
}

/// Open proposals in the order a keeper judges them: the latest reference block first, and of one
/// block the last published first. A condition job's later sequence may so be judged (and signed) before
/// an earlier one of another proposal; signing the earlier one after it would put two of the job's
/// tasks in flight (both could perform, the later checked before the earlier's outcome), so the
/// single-flight rule ([`in_flight_dispute`]) holds back any other sequence, earlier ones included.
fn newest_first(mut batches: Vec<Batch>) -> Vec<Batch> {
    batches.reverse();
    batches.sort_by_key(|batch| std::cmp::Reverse(batch.context().reference_block_number));
    batches
}

/// Whether a proposal's reference block is so old at `head` that the aggregator closes it (an unsigned
/// proposal stays open at most `maxReferenceAge` less [`AGE_MARGIN`] blocks past its reference block)
/// before a signature judged now could count.
fn closes_before_signing(batch: &Batch, head: u64, max_reference_age: u64) -> bool {
    head.saturating_sub(batch.context().reference_block_number) >= max_reference_age.saturating_sub(AGE_MARGIN)
}

/// `TaskManager.setMaxReferenceAge`'s upper bound (docs/protocol.md, "Powers and trust").
const MAX_REFERENCE_AGE_BOUND: u64 = 256;

/// The last task of a condition job this keeper signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SignedCondition {
    sequence: u64,
    reference_block: u64,
}

/// The single-flight rule for a leaf of a condition job at `reference`: `None` signs it. The previous
/// task this keeper signed for the job (`previous`) must have its outcome on chain at or before the
/// reference block (`last_outcome_block`, by this keeper's index, is after the previous reference
/// block and at most this one), or be unable to land any more (its reference block is more than
/// `max_age` blocks before this one: the task manager refuses it). The same task again is fine; an
/// earlier sequence is held back like a later one: the task manager performs sequence n after n+1 of an
/// event job (tasks are marked one by one), and n+1 after n of an interval or block job (the watermark
/// only refuses sequences below it), each checked before the other's outcome: one check, two performs.
fn in_flight_dispute(
    task: TaskId,
    reference: &ReferenceBlock,
    previous: Option<SignedCondition>,
    last_outcome_block: u64,
    max_age: u64,
) -> Option<DisputedTask> {
    let previous = previous.filter(|p| p.sequence != task.sequence)?;
    let landed = last_outcome_block > previous.reference_block && last_outcome_block <= reference.number;
    let expired = reference.number > previous.reference_block.saturating_add(max_age);
    if landed || expired {
        return None;
    }
    Some(DisputedTask {
        task,
        reason: DisputeReason::PreviousInFlight,
        own_response_hash: None,
        detail: Some(format!(
            "this keeper signed sequence {} at block {} and its outcome is not on chain by block {}",
            previous.sequence, previous.reference_block, reference.number
        )),
    })
}

/// The single-flight verdict of each of a batch's leaves at `reference` (`(task, Some(last outcome block))`
/// for a condition job's, `None` for others), in leaf order: a leaf allowed counts as signed for the
/// batch's later leaves, so one batch never carries two tasks of a condition job (both would perform,
/// checked at one block).
fn single_flight(
    leaves: impl IntoIterator<Item = (TaskId, Option<u64>)>,
    reference: &ReferenceBlock,
    last_signed: &HashMap<U256, SignedCondition>,
    max_age: u64,
) -> Vec<Option<DisputedTask>> {
    let mut in_batch: HashMap<U256, SignedCondition> = HashMap::new();
    leaves
        .into_iter()
        .map(|(task, condition)| {
            let last_outcome_block = condition?;
            let previous = in_batch.get(&task.job_id).or_else(|| last_signed.get(&task.job_id)).copied();
            let dispute = in_flight_dispute(task, reference, previous, last_outcome_block, max_age);
            if dispute.is_none() {
                in_batch.insert(
                    task.job_id,
                    SignedCondition { sequence: task.sequence, reference_block: reference.number },
                );
            }
            dispute
        })
        .collect()
}

/// Records that `task` of a condition job was signed at `reference_block`: it is now the job's task in
/// flight (the rule let it through, so the previous one landed or expired), whatever its sequence; the
/// same task signed again keeps its latest reference block. `record_condition_signing` (the store) keeps the
/// same record across restarts.
fn note_signed(last_signed: &mut HashMap<U256, SignedCondition>, task: TaskId, reference_block: u64) {
    let signed = SignedCondition { sequence: task.sequence, reference_block };
    let entry = last_signed.entry(task.job_id).or_insert(signed);
    if entry.sequence != task.sequence || entry.reference_block < reference_block {
        *entry = signed;
    }
}

/// Whether a leaf's spec is the one this keeper would execute: `None` if so; else the dispute. `own`
/// is the job's spec hash by this keeper's view if the task is due at the reference block.
fn spec_dispute(leaf: &TaskLeaf, own: Option<Result<B256, SpecError>>) -> Option<DisputedTask> {
    let (reason, detail) = match own {
        None => (DisputeReason::NotDue, "not due by this keeper's view of the job".to_string()),
        Some(Ok(hash)) if hash == leaf.spec_hash => return None,
        Some(Ok(hash)) => (DisputeReason::SpecMismatch, format!("this keeper executes the job's spec {hash}")),
        Some(Err(e)) => (DisputeReason::ExecutionFailed, e.to_string()),
    };
    Some(DisputedTask { task: leaf.task, reason, own_response_hash: None, detail: Some(detail) })
}

/// The keeper's verdict on a leaf it has not already signed with this very response: `None` signs
/// it. Only a leaf whose response is this keeper's own, for a task it never signed another response
/// for, is signed; a response signed before wins over a new execution (a task never gets two).
fn leaf_dispute(
    leaf: &TaskLeaf,
    signed_before: Option<B256>,
    own: Result<B256, (DisputeReason, String)>,
) -> Option<DisputedTask> {
    let signed_other = signed_before.filter(|hash| *hash != leaf.response_hash);
    match own {
        Ok(hash) if hash == leaf.response_hash && signed_other.is_none() => None,
        Ok(hash) => Some(DisputedTask {
            task: leaf.task,
            reason: DisputeReason::ResponseMismatch,
            own_response_hash: Some(signed_other.unwrap_or(hash)),
            detail: signed_other.map(|_| "this keeper signed another response for the task before".into()),
        }),
        Err((reason, detail)) => {
            Some(DisputedTask { task: leaf.task, reason, own_response_hash: None, detail: Some(detail) })
        }
    }
}

/// Records `batch` in the slashing-protection database (committed before the signature can leave
/// the process) and returns the digest to sign, or the refusal. The task records written after it
/// are for operators and the console; losing them loses no safety.
fn record_signing(store: &mut Store, batch: &Batch, conditions: &[TaskId]) -> Result<B256, SlashingProtectionError> {
    let decision = store.slashing_protection().check_and_record(&BatchSigningRequest::new(batch))?;
    let reference_block = batch.context().reference_block_number;
    // The single-flight record must be kept before the signature leaves (a restarted keeper would
    // otherwise sign the job's next task while this one may land): no signature without it.
    store
        .write(|tx| {
            for task in conditions {
                tx.record_condition_signing(*task, reference_block)?;
            }
            Ok::<_, StoreError>(())
        })
        .map_err(SlashingProtectionError::from)?;
    let _ = store.write(|tx| {
        for leaf in batch.leaves() {
            if tx.task(leaf.task)?.is_none() {
                tx.insert_task(leaf.task, TaskDue { at_ms: None, block: Some(reference_block) })?;
            }
            tx.transition_task(leaf.task, TaskState::Signed, Some(leaf.response_hash), None)?;
        }
        Ok::<_, StoreError>(())
    });
    Ok(decision.digest())
}

/// Every leaf of a batch slashing protection refused, disputed with the refusal as the reason.
fn refusal_disputes(batch: &Batch, refusal: &SlashingProtectionError) -> Vec<DisputedTask> {
    batch
        .leaves()
        .iter()
        .map(|leaf| DisputedTask {
            task: leaf.task,
            reason: DisputeReason::Other,
            own_response_hash: None,
            detail: Some(format!("slashing protection: {refusal}")),
        })
        .collect()
}

#[cfg(test)]
mod tests;
