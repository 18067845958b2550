//! The aggregator role: at each block the scheduler processes, proposes a batch of the due tasks
//! that are not already in flight (executed here at that reference block), serves it to keepers
//! through the [`Collector`], and once the stake quorum has signed (plus a short window for more
//! signers) submits `respondToBatch` and follows it to its receipt. A disputed leaf is dropped and
//! the rest re-proposed at the same reference block; a proposal that cannot reach quorum before its
//! reference block grows too old is abandoned and its tasks proposed again later. Every task taken out
//! of flight that way ends in the store ([`TaskEnding::BatchAbandoned`]: back to due, or missed once it
//! is no longer due), so none stays proposed or submitted. A batch's transaction is anchored to its
//! reference block: after a reorg that takes the block away the sender abandons it rather than send it
//! again (it would revert `UnknownReferenceBlock`), and its tasks are proposed again on the new chain.
//!
//! Crash safety: proposals and signatures are in the store before keepers see an acknowledgement,
//! and every transaction is recorded before it is broadcast (`chain::TxSender`, keyed by the batch
//! digest, so a batch is never sent twice). After a restart the pending transactions are tracked
//! again, and the stored proposals still young enough are re-published (their tasks re-executed at
//! their reference block to recover the call data, their signatures re-verified), so a batch that
//! had reached quorum is submitted without asking keepers again.
//!
//! Exactly-once: a task is never proposed while it is in an open proposal or a pending
//! submission, never below its job's watermark (the scheduler's index), and the task manager
//! refuses a batch digest twice and skips a performed sequence, so a retried submission can only
//! waste gas, never perform twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use futures_util::StreamExt;
use keeper_shared::batch::{Batch, BatchContext, TaskId};
use keeper_shared::contracts::TaskManager;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use self::rotation::Rotation;
use super::fees::{FeeRule, Shortfall};
use super::flights::{Flights, Pace, AGE_MARGIN};
use super::server::{Collector, CollectorConfig, CollectorError, CollectorEvent};
use super::single_flight::{busy_jobs, ConditionGate};
use super::weights::{Turns, WeightKeeper, WeightsError, TURN_MULTIPLE};
use crate::chain::{SenderError, TrackedTx, TxRequest, TxSender};
use crate::context::NodeContext;
use crate::jobs::submit::{simulate_task_call, BatchTask};
use crate::jobs::{build_submission, execute, Outcome, ReferenceBlock, RevertReason, SubmitError};
use crate::p2p::metrics::P2pMetrics;
use crate::quorum::registry::RegistryView;
use crate::quorum::QuorumThreshold;
use crate::scheduler::{DueTask, JobIndex};
use crate::store::{BlockAnchor, StoreError, TaskDue, TaskEnding, TaskState, TxKind};

/// Why the aggregator role stopped, or could not propose at a block.
#[derive(Debug, thiserror::Error)]
pub enum AggregatorError {
    #[error("aggregator: {field}: not set")]
    NotConfigured { field: &'static str },
    #[error("aggregator: the task manager's quorumBps: {0}")]
    Threshold(#[source] crate::quorum::QuorumError),
    #[error("aggregator: listening on {address}: {source}")]
    Listen { address: std::net::SocketAddr, source: std::io::Error },
    #[error("aggregator: reading the task manager's {parameter}: {source}")]
    Parameter {
        parameter: &'static str,
        #[source]
        source: alloy::contract::Error,
    },
    #[error("aggregator: reading the {what} from the node: {source}")]
    Node {
        what: &'static str,
        #[source]
        source: alloy::transports::TransportError,
    },
    #[error("aggregator: reading the task manager's premium: {0}")]
    Premium(#[source] crate::chain::RpcError),
    #[error("aggregator: starting the signature collector: {0}")]
    Collector(#[source] CollectorError),
    #[error("aggregator: building the batch at block {block}: {source}")]
    Batch {
        block: u64,
        #[source]
        source: keeper_shared::batch::BatchError,
    },
    #[error("aggregator: the keeper set at block {block}: {source}")]
    KeeperSet {
        block: u64,
        #[source]
        source: crate::quorum::registry::OperatorsError,
    },
    #[error("aggregator: publishing a proposal at block {block}: {source}")]
    Publish {
        block: u64,
        #[source]
        source: CollectorError,
    },
    #[error("aggregator: {0}")]
    Submit(#[from] crate::jobs::SubmitError),
}

/// Executions and simulations of due tasks in flight at once (`eth_call`s to the node).
const NODE_CALLS_IN_PARALLEL: usize = 16;

/// What the role keeps with an open proposal.
struct Proposal {
    batch: Batch,
    tasks: Vec<BatchTask>,
    reference: ReferenceBlock,
}

/// The aggregator role's loop.
pub async fn run(context: NodeContext, shutdown: CancellationToken) -> Result<(), AggregatorError> {
    let config = Arc::clone(&context.config);
    // Over P2P alone no endpoint is served: proposals and signatures travel by gossip.
    let listen = match config.p2p.transport.uses_http() {
        true => Some(config.aggregator.listen.ok_or(AggregatorError::NotConfigured { field: "aggregator.listen" })?),
        false => None,
    };
    let sender = context.sender.clone().ok_or(AggregatorError::NotConfigured { field: "operator.ecdsa_keystore" })?;
    let deployment = &config.deployment;
    let provider = context.pool.provider();
    let task_manager = TaskManager::new(deployment.avs.task_manager, &provider);
    let parameter = |parameter| move |source| AggregatorError::Parameter { parameter, source };
    let quorum_bps = task_manager.quorumBps().call().await.map_err(parameter("quorumBps"))?;
    let max_age = u64::from(task_manager.maxReferenceAge().call().await.map_err(parameter("maxReferenceAge"))?);
    let max_weight_age = u64::from(task_manager.maxWeightAge().call().await.map_err(parameter("maxWeightAge"))?);
    let solo_batch_gas: u64 =
        task_manager.SOLO_BATCH_GAS().call().await.map_err(parameter("SOLO_BATCH_GAS"))?.saturating_to();
    let threshold = QuorumThreshold::from_bps(quorum_bps).map_err(AggregatorError::Threshold)?;
    let collector = Collector::new(
        context.store.clone(),
        CollectorConfig {
            quorum: threshold,
            metrics: Some(Arc::clone(&context.metrics)),
            ..CollectorConfig::default()
        },
    )
    .map_err(AggregatorError::Collector)?;
    let server = match listen {
        Some(listen) => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|source| AggregatorError::Listen { address: listen, source })?;
            let limits = crate::http::HttpLimits::default();
            let router = super::server::router(collector.clone(), &limits);
            tracing::info!(%listen, quorum_bps, "aggregator: serving keepers");
            // Aborted with the role if the node gives up waiting for it.
            Some(AbortOnDropHandle::new(tokio::spawn(crate::http::serve(
                listener,
                router,
                limits,
                shutdown.child_token(),
            ))))
        }
        None => None,
    };
    let rotation = context.p2p.as_ref().map(|hub| Rotation::new(Arc::clone(hub)));
    if rotation.is_some() {
        tracing::info!(quorum_bps, "aggregator: proposing and submitting by the P2P rotation");
    }

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Settled>();
    let (submissions_tx, mut submissions_rx) = tokio::sync::mpsc::unbounded_channel::<SubmissionOutcome>();
    let (submitter_tx, submitter_rx) = tokio::sync::mpsc::unbounded_channel::<SubmittingBatch>();

    let mut aggregator = Aggregator {
        context: context.clone(),
        collector: collector.clone(),
        registry: RegistryView::new(context.pool.clone(), deployment.avs.key_registry, deployment.deploy_block),
        flights: Flights::new(config.aggregator.quorum_window, max_age),
        in_flight: HashSet::new(),
        disputed: HashMap::new(),
        script_failed: HashSet::new(),
        max_age,
        max_tasks: config.aggregator.max_batch_tasks,
        sender: Arc::clone(&sender),
        done: done_tx,
        submitter: submitter_tx,
        submitted: HashMap::new(),
        restored: false,
        shutdown: shutdown.clone(),
        weights: WeightKeeper::new(
            context.pool.clone(),
            Arc::clone(&sender),
            Arc::clone(&context.metrics),
            deployment,
            max_weight_age,
        ),
        fees: FeeRule { solo_batch_gas },
        unprofitable: HashSet::new(),
        gate: ConditionGate::default(),
        failures_reported: HashSet::new(),
        rotation,
        pace: Pace::default(),
        unsupported_reported: HashSet::new(),
        waiters: TaskTracker::new(),
    };
    // Stopped with the role, whatever ends its loop.
    let submitter_stop = shutdown.child_token();
    aggregator.waiters.spawn(submitter(
        context.clone(),
        Arc::clone(&sender),
        max_age,
        submitter_rx,
        submissions_tx,
        submitter_stop.clone(),
    ));
    match sender.recover().await {
        Ok(pending) => {
            for tracked in pending {
                // Its batch's tasks stay in flight until it settles, and end with it if it fails.
                let tasks = aggregator.recovered_tasks(&tracked.payload_ref).await;
                aggregator.in_flight.extend(tasks.iter().copied());
                aggregator.track(tracked, tasks);
            }
        }
        Err(e) => tracing::warn!(error = %e, "aggregator: recovering pending transactions failed"),
    }
    let mut events = collector.subscribe();
    let mut head = context.schedule.head_receiver();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (mut gossiped_proposals, mut gossiped_signatures, mut gossiped_disputes) = match &context.p2p {
        Some(hub) => {
            (Some(hub.subscribe_proposals()), Some(hub.subscribe_signatures()), Some(hub.subscribe_disputes()))
        }
        None => (None, None, None),
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(batch) = gossip_next(&mut gossiped_proposals) => aggregator.adopt(batch).await,
            Some(signed) = gossip_next(&mut gossiped_signatures) => aggregator.gossiped_signature(signed).await,
            Some(dispute) = gossip_next(&mut gossiped_disputes) => aggregator.gossiped_dispute(dispute),
            changed = head.changed() => {
                if changed.is_err() { break; }
                let reference = *head.borrow_and_update();
                if let Some(reference) = reference {
                    let previous = aggregator.pace.last_head().unwrap_or(0);
                    let backlog = aggregator.flights.backlog(previous).map(|f| f.payload.tasks.len()).sum();
                    aggregator.pace.on_head(reference.number, backlog);
                    if !aggregator.restored {
                        aggregator.restore(reference).await;
                    }
                    // Proposing only while every batch's challenge window ends before its signers'
                    // stake can leave (the weight keeper logs and counts the refusal).
                    let turns = aggregator.rotation.as_ref().map(|r| Turns {
                        registry: &mut aggregator.registry,
                        me: r.hub.operator(),
                        turn_blocks: r.hub.takeover_blocks().saturating_mul(TURN_MULTIPLE),
                    });
                    match aggregator.weights.on_head(reference.number, turns).await {
                        Ok(()) if !aggregator.leads(&reference).await => {}
                        Ok(()) => {
                            if let Err(e) = aggregator.propose(reference).await {
                                tracing::warn!(error = %e, "aggregator: proposing failed");
                            }
                        }
                        // Logged once at error level when it starts, and counted.
                        Err(WeightsError::BudgetExceedsHorizon { .. }) => {}
                        Err(e) => tracing::warn!(error = %e, "aggregator: not proposing at this block"),
                    }
                    aggregator.expire(reference.number).await;
                    aggregator.forget_settled(reference.number).await;
                }
            }
            event = events.recv() => match event {
                Ok(CollectorEvent::QuorumReached { digest }) => aggregator.quorum_reached(digest),
                Ok(CollectorEvent::DisputeReceived(dispute)) => {
                    aggregator.context.metrics.disputes_received.inc();
                    match aggregator.collector.lost_to_disputes(dispute.digest) {
                        Some(tasks) => {
                            if let Err(e) = aggregator.disputed(dispute.digest, &tasks).await {
                                tracing::warn!(error = %e, "aggregator: re-proposing after a dispute failed");
                            }
                        }
                        None => tracing::info!(
                            digest = %dispute.digest,
                            operator = %dispute.operator,
                            tasks = dispute.tasks.len(),
                            "aggregator: dispute recorded; the rest of the set can still reach quorum"
                        ),
                    }
                }
                Ok(CollectorEvent::SignatureAccepted { .. }) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => tracing::warn!(missed = n, "aggregator: missed collector events"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            Some(outcome) = submissions_rx.recv() => aggregator.on_submission(outcome).await,
            Some(settled) = done_rx.recv() => {
                if let Some(tasks) = aggregator.submitted.remove(&settled.digest) {
                    for task in &tasks {
                        aggregator.in_flight.remove(task);
                        aggregator.gate.settled(*task, settled.block);
                    }
                    // Accepted: the scheduler records each task's outcome from the chain's logs.
                    if let Some(why) = settled.failed {
                        aggregator.abandon(&tasks, &why).await;
                    }
                }
            }
            _ = tick.tick() => {
                for digest in aggregator.ready() {
                    let Some(takeover) = aggregator.submitter_duty(digest).await else { continue };
                    let role = aggregator.rotation.is_some().then(|| P2pMetrics::role(takeover));
                    aggregator.submit(digest, role).await;
                }
            }
        }
    }
    submitter_stop.cancel();
    aggregator.waiters.close();
    aggregator.waiters.wait().await;
    if let Some(server) = server {
        let _ = server.await;
    }
    Ok(())
}

/// The next message of a gossip channel; never, without one (HTTP only).
async fn gossip_next<T: Clone>(receiver: &mut Option<tokio::sync::broadcast::Receiver<T>>) -> Option<T> {
    let Some(receiver) = receiver else { return std::future::pending().await };
    loop {
        match receiver.recv().await {
            Ok(item) => return Some(item),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "aggregator: missed gossip messages");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

/// A submitted batch's transaction, settled.
struct Settled {
    digest: B256,
    /// The block it settled in (the chain's head when it was given up).
    block: u64,
    /// Why it will not land (reverted, abandoned, given up); `None` when it was accepted.
    failed: Option<String>,
}

struct Aggregator {
    context: NodeContext,
    collector: Collector,
    registry: RegistryView,
    flights: Flights<Proposal>,
    in_flight: HashSet<TaskId>,
    /// Tasks disputed at a reference block: not proposed again at that block.
    disputed: HashMap<u64, HashSet<TaskId>>,
    /// Tasks whose script failed: ended (state `failed`, with the reason), never executed again. Only the
    /// still-due ones are kept, so the set stays as small as the due list.
    script_failed: HashSet<TaskId>,
    max_age: u64,
    max_tasks: usize,
    sender: Arc<TxSender>,
    /// Reports a submitted batch's transaction settled (mined, reverted or given up).
    done: tokio::sync::mpsc::UnboundedSender<Settled>,
    /// Batches that reached quorum, to the submitter, in the order they were proposed.
    submitter: tokio::sync::mpsc::UnboundedSender<SubmittingBatch>,
    /// Tasks of batches handed to a submitter, by digest, until their transaction settles.
    submitted: HashMap<B256, Vec<TaskId>>,
    /// Whether stored proposals were re-published since start.
    restored: bool,
    shutdown: CancellationToken,
    weights: WeightKeeper,
    fees: FeeRule,
    /// Tasks unprofitable at the last proposal (each is recorded and counted once while it stays so).
    unprofitable: HashSet<TaskId>,
    /// Condition jobs: one task in flight, the next check after the previous outcome.
    gate: ConditionGate,
    /// Tasks already recorded as failed by a simulation (re-checked later, recorded and counted once).
    failures_reported: HashSet<TaskId>,
    /// Over P2P: who proposes and submits, and the signatures that arrived before their proposal.
    rotation: Option<Rotation>,
    /// How many leaves the keepers sign per block: bounds what is proposed.
    pace: Pace,
    /// Tasks already recorded as unsupported here (recorded once).
    unsupported_reported: HashSet<TaskId>,
    /// The submitter and the sent batches' receipt waiters: the role ends only after they do (they
    /// stop at shutdown), so none outlives the node's task set.
    waiters: TaskTracker,
}

impl Aggregator {
    /// Proposes the due tasks not in flight at `reference`: as many as the keepers' pace allows
    /// ([`Pace::allowance`]), in batches of at most `max_tasks` leaves, each batch its own proposal
    /// (several can land in one block). Tasks left over stay due for the next block; an interval
    /// job's task that is still waiting when its next sequence comes due ends missed, with that reason.
    async fn propose(&mut self, reference: ReferenceBlock) -> Result<(), AggregatorError> {
        let provider = self.context.pool.provider();
        let node = |what| move |source| AggregatorError::Node { what, source };
        // Read once per block, the three at once (each is a round trip to a node that is busy under load).
        let task_manager = self.context.config.deployment.avs.task_manager;
        let (gas_price, premium, latest) = tokio::join!(
            provider.get_gas_price(),
            crate::scheduler::premium(&self.context.pool, task_manager),
            provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest),
        );
        let gas_price = gas_price.map_err(node("gas price"))?;
        let premium = premium.map_err(AggregatorError::Premium)?;
        let base_fee =
            latest.map_err(node("latest block"))?.and_then(|block| block.header.base_fee_per_gas).map_or(0, u128::from);
        let mut skip = self.disputed.get(&reference.number).cloned().unwrap_or_default();
        let (due, forwarders) = {
            let index = self.context.schedule.index().await;
            self.gate.prune(&index);
            let all_due = index.due_tasks(&reference, gas_price, premium);
            // A task whose script failed ends there; forget it once it is no longer due.
            if !self.script_failed.is_empty() {
                let due_now: HashSet<TaskId> = all_due.iter().map(|d| d.task).collect();
                self.script_failed.retain(|task| due_now.contains(task));
            }
            skip.extend(self.script_failed.iter().copied());
            let busy = busy_jobs(&self.in_flight);
            let due: Vec<DueTask> = proposable(all_due, &self.in_flight, &skip)
                .into_iter()
                .filter(|due| self.gate.allows(due, &busy, &index, &reference))
                .collect();
            let forwarders: HashMap<U256, Address> =
                due.iter().filter_map(|d| index.job(d.task.job_id).map(|job| (job.id, job.forwarder))).collect();
            (due, forwarders)
        };
        let (mut due, unprofitable) = split_unprofitable(&self.fees, due, base_fee);
        self.record_unprofitable(unprofitable, reference.number).await;
        let unsigned: usize = self.flights.unsigned().map(|f| f.payload.tasks.len()).sum();
        longest_waiting_first(&mut due);
        due.truncate(self.pace.allowance(self.max_tasks, unsigned));
        // Executions and simulations are calls to the node: a few at a time rather than one by one.
        let executed: Vec<(DueTask, Result<Outcome, _>)> = futures_util::stream::iter(due)
            .map(|due| {
                let (provider, scripts) = (&provider, &self.context.scripts);
                async move {
                    let outcome = execute(provider, scripts, &due.spec, due.task, &reference).await;
                    (due, outcome)
                }
            })
            .buffered(NODE_CALLS_IN_PARALLEL)
            .collect()
            .await;
        let mut candidates = Vec::new();
        let mut idle = Vec::new();
        for (due, outcome) in executed {
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::warn!(error = %e, "aggregator: executing a due task failed");
                    continue;
                }
            };
            let response = match &outcome {
                Outcome::Unsupported { reason } => {
                    tracing::debug!(job = %due.task.job_id, %reason, "aggregator: task not supported");
                    if self.unsupported_reported.len() > 100_000 {
                        self.unsupported_reported.clear();
                    }
                    if self.unsupported_reported.insert(due.task) {
                        let detail = format!("not supported by this daemon: {reason}");
                        self.record_details(&[(due.task, detail)], TaskState::Unsupported, reference.number).await;
                    }
                    continue;
                }
                Outcome::ScriptFailed { reason } => {
                    tracing::warn!(
                        job = %due.task.job_id,
                        sequence = due.task.sequence,
                        %reason,
                        "aggregator: the job's script failed; the task ends unsigned"
                    );
                    self.context.metrics.script_failures.inc();
                    self.script_failed.insert(due.task);
                    self.record_details(&[(due.task, reason.clone())], TaskState::Failed, reference.number).await;
                    continue;
                }
                Outcome::CheckFailed(failure) if due.spec.action.is_condition() => {
                    idle.push((
                        due.task,
                        format!("checked at block {}: the check failed: {failure:?}", reference.number),
                    ));
                    self.gate.nothing_to_do(due.task);
                    continue;
                }
                other => match other.response() {
                    Some(response) => response,
                    None => continue,
                },
            };
            // "Checked, nothing to do" never goes on chain: a later sequence supersedes it.
            if !response.execute && due.spec.action.is_condition() {
                idle.push((due.task, format!("checked at block {}: nothing to do", reference.number)));
                self.gate.nothing_to_do(due.task);
                continue;
            }
            let forwarder = forwarders.get(&due.task.job_id).copied().unwrap_or_default();
            candidates.push((BatchTask { task: due.task, spec: (*due.spec).clone(), response }, forwarder));
        }
        let simulated: Vec<_> = futures_util::stream::iter(candidates)
            .map(|(task, forwarder)| {
                let provider = &provider;
                async move {
                    let result = simulate_task_call(provider, forwarder, &task).await;
                    (task, result)
                }
            })
            .buffered(NODE_CALLS_IN_PARALLEL)
            .collect()
            .await;
        let mut tasks = Vec::new();
        let mut failed = Vec::new();
        for (task, result) in simulated {
            match result {
                Ok(Ok(())) => tasks.push(task),
                Ok(Err(reason)) => failed.push((task.task, reason)),
                Err(e) => tracing::warn!(error = %e, "aggregator: simulating a task's call failed; checking it later"),
            }
        }
        self.record_details(&idle, TaskState::NothingToDo, reference.number).await;
        self.target_reverts(&failed, reference.number).await;
        for batch in split_into_batches(tasks, self.max_tasks) {
            self.publish(reference, batch).await?;
        }
        Ok(())
    }

    /// Tasks left out because their target would revert: recorded `failed` with the decoded reason and
    /// counted (once per task; the task is checked again at a later block and may yet be proposed).
    async fn target_reverts(&mut self, failed: &[(TaskId, RevertReason)], block: u64) {
        let mut fresh = Vec::new();
        for (task, reason) in failed {
            if self.failures_reported.len() > 100_000 {
                self.failures_reported.clear();
            }
            if !self.failures_reported.insert(*task) {
                continue;
            }
            tracing::info!(
                job = %task.job_id,
                sequence = task.sequence,
                %reason,
                "aggregator: the task's target would revert; leaving it out"
            );
            self.context.metrics.observe_task_failed(task.job_id, reason.label());
            fresh
                .push((*task, format!("the target would revert: {reason} (simulated; left out, checked again later)")));
        }
        self.record_details(&fresh, TaskState::Failed, block).await;
    }

    async fn publish(&mut self, reference: ReferenceBlock, tasks: Vec<BatchTask>) -> Result<(), AggregatorError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let deployment = &self.context.config.deployment;
        let context = BatchContext {
            chain_id: deployment.chain_id,
            task_manager: deployment.avs.task_manager,
            reference_block_number: reference.number,
            reference_block_hash: reference.hash,
        };
        let leaves = crate::jobs::submit::leaves(&tasks)?;
        let block = reference.number;
        let batch = Batch::new(context, leaves).map_err(|source| AggregatorError::Batch { block, source })?;
        let set = self.registry.at(block).await.map_err(|source| AggregatorError::KeeperSet { block, source })?;
        let published = self
            .collector
            .publish(batch.clone(), set)
            .await
            .map_err(|source| AggregatorError::Publish { block, source })?;
        let digest = published.digest;
        self.record(&tasks, TaskState::Proposed, reference.number).await;
        for task in &tasks {
            self.in_flight.insert(task.task);
        }
        if let Some(rotation) = &self.rotation {
            if let Err(e) = rotation.hub.publish_proposal(&batch).await {
                tracing::warn!(%digest, error = %e, "aggregator: gossiping the proposal failed");
            }
            rotation.hub.metrics.proposals.inc();
        }
        tracing::info!(%digest, tasks = tasks.len(), reference_block = reference.number, "aggregator: proposed batch");
        self.context.metrics.batches_proposed.inc();
        self.context.metrics.tasks_proposed.inc_by(tasks.len() as u64);
        self.add_flight(digest, batch, tasks, reference, published.quorum_reached);
        Ok(())
    }

    /// Follows a published proposal until it is submitted or expires, after the ones before it.
    fn add_flight(
        &mut self,
        digest: B256,
        batch: Batch,
        tasks: Vec<BatchTask>,
        reference: ReferenceBlock,
        quorum_reached: bool,
    ) {
        let now = tokio::time::Instant::now();
        let number = reference.number;
        self.flights.open(digest, number, quorum_reached, now, Proposal { batch, tasks, reference });
    }

    fn quorum_reached(&mut self, digest: B256) {
        let head = self.context.schedule.head().map_or(0, |head| head.number);
        if let Some(took) = self.flights.quorum_reached(digest, head, tokio::time::Instant::now()) {
            self.context.metrics.quorum_duration.observe(took.as_secs_f64());
            self.pace.signed(self.flights.get(&digest).map_or(0, |f| f.payload.tasks.len()));
        }
    }

    /// Proposals whose quorum window is over, or that every operator signed, oldest first.
    fn ready(&self) -> Vec<B256> {
        let collector = &self.collector;
        self.flights.ready(tokio::time::Instant::now(), |digest| {
            collector.quorum_state(digest).is_some_and(|state| state.signers.len() == state.operators)
        })
    }

    /// Hands a proposal that reached quorum to the submitter ([`submitter`]), which checks it against
    /// the node and sends it off this loop (so proposing the next block overlaps it, and several batches
    /// can land in one block). Its tasks stay in flight, and its digest in
    /// `submitted`, until [`Self::on_submission`] hears back.
    async fn submit(&mut self, digest: B256, role: Option<&'static str>) {
        let Some(flight) = self.flights.remove(&digest).map(|f| f.payload) else { return };
        let certificate = match self.collector.certificate(digest) {
            Ok(certificate) => certificate,
            Err(e) => {
                tracing::warn!(%digest, error = %e, "aggregator: no certificate");
                self.abandon(&task_ids(&flight.tasks), "no certificate").await;
                self.collector.close(digest);
                return;
            }
        };
        self.collector.close(digest);
        // Never submit a task the chain has performed meanwhile (e.g. by another aggregator).
        let stale = performed_meanwhile(&*self.context.schedule.index().await, flight.tasks.iter().map(|t| t.task));
        if stale {
            tracing::info!(%digest, "aggregator: a task of the batch was performed meanwhile; re-proposing the rest");
            self.abandon(&task_ids(&flight.tasks), "a task of the batch was performed meanwhile").await;
            return;
        }
        let keys: Vec<_> = certificate.non_signers.iter().map(|n| n.public_key).collect();
        let submission = match build_submission(&flight.batch, &flight.tasks, &keys, &certificate.signature) {
            Ok(submission) => submission,
            Err(e) => {
                tracing::error!(%digest, error = %e, "aggregator: building the submission failed");
                self.abandon(&task_ids(&flight.tasks), "building the submission failed").await;
                return;
            }
        };
        let forwarders: Vec<Address> = {
            let index = self.context.schedule.index().await;
            flight.tasks.iter().map(|t| index.job(t.task.job_id).map(|job| job.forwarder).unwrap_or_default()).collect()
        };
        self.submitted.insert(digest, task_ids(&flight.tasks));
        let batch =
            SubmittingBatch { digest, flight, submission, forwarders, signers: certificate.signers.len(), role };
        tracing::debug!(%digest, "aggregator: handing the batch to the submitter");
        if self.submitter.send(batch).is_err() {
            // The submitter ends only with the role: the proposal is re-published at the next start.
            tracing::debug!(%digest, "aggregator: shutting down; not submitting");
            self.submitted.remove(&digest);
        }
    }

    /// What the submitter reports: a sent batch is followed to its receipt; one whose targets would
    /// revert is proposed again without them; any other failure ends its tasks (back to due or missed).
    async fn on_submission(&mut self, outcome: SubmissionOutcome) {
        match outcome {
            SubmissionOutcome::Sent { tracked, tasks, role } => {
                if let (Some(rotation), Some(role)) = (&self.rotation, role) {
                    rotation.hub.metrics.submissions.with_label_values(&[role]).inc();
                }
                self.track(tracked, tasks);
            }
            SubmissionOutcome::TargetsWouldRevert { digest, flight, reverting } => {
                self.submitted.remove(&digest);
                self.release(&flight.tasks);
                let reference = flight.reference;
                let left_out: Vec<TaskId> = reverting.iter().map(|(task, _)| *task).collect();
                self.disputed.entry(reference.number).or_default().extend(left_out.iter().copied());
                self.target_reverts(&reverting, reference.number).await;
                let keep = without_disputed(flight.tasks, &left_out);
                tracing::info!(%digest, left_out = left_out.len(), kept = keep.len(), "aggregator: re-proposing without them");
                if let Err(e) = self.publish(reference, keep).await {
                    tracing::warn!(error = %e, "aggregator: re-proposing failed");
                }
            }
            SubmissionOutcome::Failed { digest, tasks, why } => {
                self.submitted.remove(&digest);
                self.abandon(&tasks, &why).await;
            }
        }
    }

    /// Follows a sent batch to its receipt in the background; its tasks stay in flight until then.
    fn track(&mut self, tracked: TrackedTx, tasks: Vec<TaskId>) {
        let Ok(digest) = B256::try_from(tracked.payload_ref.as_slice()) else { return };
        let (metrics, task_count) = (Arc::clone(&self.context.metrics), tasks.len());
        self.submitted.insert(digest, tasks);
        let (sender, done, shutdown) = (Arc::clone(&self.sender), self.done.clone(), self.shutdown.clone());
        let pool = self.context.pool.clone();
        // Over P2P a failed submission whose tasks are on chain anyway is a duplicate of another
        // operator's (harmless by the exactly-once rule; counted, to see how rare it is).
        let duplicates = self
            .rotation
            .as_ref()
            .map(|r| (r.hub.metrics.duplicate_submissions.clone(), self.context.schedule.clone()));
        let task_ids = self.submitted.get(&digest).cloned().unwrap_or_default();
        self.waiters.spawn(async move {
            let settled = match sender.wait(&tracked.payload_ref, &shutdown).await {
                Ok(mined) => {
                    metrics.observe_batch_mined(mined.gas_used, task_count);
                    tracing::info!(
                        %digest,
                        tx = %mined.tx_hash,
                        block = mined.block_number,
                        gas = mined.gas_used,
                        "aggregator: batch accepted"
                    );
                    Settled { digest, block: mined.block_number, failed: None }
                }
                // Shutting down: the transaction stays pending in the store, tracked again at start.
                Err(SenderError::Shutdown { .. }) => return,
                Err(error) => {
                    metrics.batch_submissions.with_label_values(&["failed"]).inc();
                    let duplicate = match &duplicates {
                        Some((_, schedule)) => performed_meanwhile(&*schedule.index().await, task_ids.iter().copied()),
                        None => false,
                    };
                    if let (true, Some((counter, _))) = (duplicate, &duplicates) {
                        counter.inc();
                        tracing::info!(%digest, %error, "aggregator: duplicate submission (another operator's landed first)");
                    } else {
                        tracing::warn!(%digest, %error, "aggregator: batch transaction failed");
                    }
                    // Given up: whatever it did is on chain by the head now (0 if the node cannot say).
                    let block = pool.provider().get_block_number().await.unwrap_or(0);
                    Settled { digest, block, failed: Some(error.to_string()) }
                }
            };
            let _ = done.send(settled);
        });
    }

    /// The tasks of the stored proposal a recovered transaction carries (none if it is not a batch, or
    /// the proposal cannot be read: the scheduler still ends them from the chain's logs).
    async fn recovered_tasks(&self, payload_ref: &[u8]) -> Vec<TaskId> {
        let Ok(digest) = B256::try_from(payload_ref) else { return Vec::new() };
        let stored = self.context.store.with(move |store| store.read(|tx| tx.proposal(digest))).await;
        match stored {
            Ok(Some(proposal)) => proposal.batch.leaves().iter().map(|leaf| leaf.task).collect(),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!(%digest, error = %e, "aggregator: reading a pending batch's proposal failed");
                Vec::new()
            }
        }
    }

    /// Re-publishes the stored proposals still young enough to be submitted (after a restart).
    async fn restore(&mut self, head: ReferenceBlock) {
        self.restored = true;
        let min_block = head.number.saturating_sub(self.max_age.saturating_sub(AGE_MARGIN));
        let stored = match self.collector.stored_proposals(min_block).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %e, "aggregator: reading stored proposals failed");
                return;
            }
        };
        for batch in stored {
            let digest = batch.digest();
            if self.submitted.contains_key(&digest) {
                continue;
            }
            let number = batch.context().reference_block_number;
            let Some((reference, tasks)) = self.rebuild(&batch).await else { continue };
            if tasks.iter().any(|t| self.in_flight.contains(&t.task)) {
                continue;
            }
            let set = match self.registry.at(number).await {
                Ok(set) => set,
                Err(_) => continue,
            };
            match self.collector.publish(batch.clone(), set).await {
                Ok(published) => {
                    tracing::info!(
                        %digest,
                        signatures = published.restored_signatures,
                        quorum = published.quorum_reached,
                        "aggregator: re-published a stored proposal"
                    );
                    for task in &tasks {
                        self.in_flight.insert(task.task);
                    }
                    self.add_flight(digest, batch, tasks, reference, published.quorum_reached);
                }
                Err(e) => tracing::debug!(%digest, error = %e, "aggregator: not re-publishing"),
            }
        }
    }

    /// A proposal's tasks with their call data, re-executed at its reference block: `None` if the
    /// block is no longer canonical, a task was performed meanwhile, or a leaf is not what this node
    /// computes (then it cannot be submitted from here).
    async fn rebuild(&self, batch: &Batch) -> Option<(ReferenceBlock, Vec<BatchTask>)> {
        let provider = self.context.pool.provider();
        let number = batch.context().reference_block_number;
        let block = provider.get_block_by_number(number.into()).await.ok().flatten()?;
        if block.header.hash != batch.context().reference_block_hash {
            return None; // reorged away
        }
        let reference = ReferenceBlock::of(&block.header);
        if performed_meanwhile(&*self.context.schedule.index().await, batch.leaves().iter().map(|l| l.task)) {
            return None; // accepted already, or overtaken
        }
        let mut tasks = Vec::new();
        for leaf in batch.leaves() {
            let spec = self.context.schedule.index().await.job(leaf.task.job_id).map(|job| job.spec.clone())?;
            let outcome = execute(&provider, &self.context.scripts, &spec, leaf.task, &reference).await.ok()?;
            // The leaf binds the spec it was executed under: the job's spec now must be that one.
            if spec.hash().ok() != Some(leaf.spec_hash) {
                return None;
            }
            match outcome.response() {
                Some(response) if response.hash() == leaf.response_hash => {
                    tasks.push(BatchTask { task: leaf.task, spec: (*spec).clone(), response });
                }
                _ => return None,
            }
        }
        Some((reference, tasks))
    }

    /// Drops disputed tasks and re-proposes the rest at the same reference block.
    async fn disputed(&mut self, digest: B256, tasks: &[TaskId]) -> Result<(), AggregatorError> {
        let Some(flight) = self.flights.remove(&digest).map(|f| f.payload) else { return Ok(()) };
        self.collector.close(digest);
        let reference = flight.reference;
        self.disputed.entry(reference.number).or_default().extend(tasks.iter().copied());
        self.release(&flight.tasks);
        self.abandon(tasks, "disputed by a keeper").await;
        let keep = without_disputed(flight.tasks, tasks);
        if self.rotation.is_some() && !self.leads(&reference).await {
            // Over P2P the reference block's leader re-proposes the rest; this node follows that proposal.
            tracing::info!(%digest, dropped = tasks.len(), "aggregator: dispute; the leader re-proposes the rest");
            return Ok(());
        }
        tracing::info!(%digest, dropped = tasks.len(), kept = keep.len(), "aggregator: dispute; re-proposing");
        self.publish(reference, keep).await
    }

    /// Abandons proposals the keepers did not sign within their lifetime ([`Flights::expire`]).
    async fn expire(&mut self, head: u64) {
        // A quorum whose event still waits behind this round (a round takes seconds under load) is a
        // quorum: expiring that proposal threw away batches every keeper had signed.
        let signed: Vec<B256> = self
            .flights
            .iter()
            .filter(|(digest, f)| {
                f.quorum_at.is_none() && self.collector.quorum_state(**digest).is_some_and(|state| state.reached)
            })
            .map(|(digest, _)| *digest)
            .collect();
        for digest in signed {
            self.quorum_reached(digest);
        }
        let lifetime = self.flights.lifetime_blocks();
        for (digest, flight) in self.flights.expire(head) {
            tracing::info!(%digest, lifetime, "aggregator: proposal expired without quorum");
            self.collector.close(digest);
            let why = format!("its proposal closed without quorum after {lifetime} blocks");
            self.abandon(&task_ids(&flight.payload.tasks), &why).await;
        }
        self.disputed.retain(|block, _| head.saturating_sub(*block) <= self.max_age);
    }

    /// Takes `tasks` out of flight for good: their batch will not land. Each goes back to due if the
    /// index still has it due at the head (it is proposed again), or ends missed; one the chain has
    /// performed or passed meanwhile is left to the scheduler, which records that from the logs.
    async fn abandon(&mut self, tasks: &[TaskId], why: &str) {
        let mut endings = Vec::new();
        {
            let index = self.context.schedule.index().await;
            let head = self.context.schedule.head();
            for task in tasks {
                self.in_flight.remove(task);
                if performed_meanwhile(&index, std::iter::once(*task)) {
                    continue;
                }
                let due_again = head.is_some_and(|head| index.is_due(*task, &head).is_some());
                endings.push((*task, TaskEnding::BatchAbandoned { why: why.to_owned(), due_again }));
            }
        }
        if endings.is_empty() {
            return;
        }
        let result = self
            .context
            .store
            .with(move |store| {
                store.write(|tx| {
                    let mut moved = Vec::new();
                    for (task, ending) in &endings {
                        if let Some(to) = tx.end_task(*task, ending)? {
                            moved.push((*task, to));
                        }
                    }
                    Ok::<_, StoreError>(moved)
                })
            })
            .await;
        match result {
            Ok(moved) => self.context.metrics.observe_missed(&moved),
            Err(e) => tracing::warn!(error = %e, "aggregator: recording abandoned tasks failed"),
        }
    }

    fn release(&mut self, tasks: &[BatchTask]) {
        for task in tasks {
            self.in_flight.remove(&task.task);
        }
    }

    /// Records the tasks left out as unprofitable, with the numbers, each once until it is proposed.
    async fn record_unprofitable(&mut self, tasks: Vec<(DueTask, Shortfall)>, block: u64) {
        // Forget the ones no longer due (performed, or an interval job's next sequence took over).
        let now: HashSet<TaskId> = tasks.iter().map(|(due, _)| due.task).collect();
        let before = std::mem::replace(&mut self.unprofitable, now);
        let mut fresh: Vec<(TaskId, String)> = Vec::new();
        for (due, shortfall) in tasks {
            if before.contains(&due.task) {
                continue;
            }
            self.context.metrics.observe_unprofitable(&due.spec.action);
            tracing::info!(job = %due.task.job_id, sequence = due.task.sequence, %shortfall, "aggregator: left out");
            fresh.push((due.task, shortfall.to_string()));
        }
        if fresh.is_empty() {
            return;
        }
        self.record_details(&fresh, TaskState::Unprofitable, block).await;
    }

    /// Records task states with a history detail each (best effort, as [`Self::record`]).
    async fn record_details(&self, tasks: &[(TaskId, String)], state: TaskState, block: u64) {
        if tasks.is_empty() {
            return;
        }
        let items = tasks.to_vec();
        let result = self
            .context
            .store
            .with(move |store| {
                store.write(|tx| {
                    for (task, detail) in &items {
                        if tx.task(*task)?.is_none() {
                            tx.insert_task(*task, TaskDue { at_ms: None, block: Some(block) })?;
                        }
                        tx.transition_task(*task, state, None, Some(detail))?;
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "aggregator: recording task states failed");
        }
    }

    async fn record(&self, tasks: &[BatchTask], state: TaskState, block: u64) {
        record_progress(&self.context.store, tasks, state, block).await;
    }
}

/// A batch that reached quorum, handed to the submitter.
struct SubmittingBatch {
    digest: B256,
    flight: Proposal,
    submission: crate::jobs::BatchSubmission,
    forwarders: Vec<Address>,
    signers: usize,
    /// Over P2P: the rotation role it is submitted in (counted once it is sent).
    role: Option<&'static str>,
}

/// What became of a [`SubmittingBatch`].
enum SubmissionOutcome {
    Sent { tracked: TrackedTx, tasks: Vec<TaskId>, role: Option<&'static str> },
    TargetsWouldRevert { digest: B256, flight: Proposal, reverting: Vec<(TaskId, RevertReason)> },
    Failed { digest: B256, tasks: Vec<TaskId>, why: String },
}

/// Batches the submitter checks against the node at once (a target call per task and the batch's gas
/// estimate each); they are still sent one at a time, in order.
const CHECKS_IN_PARALLEL: usize = 4;

/// How long the submitter waits for a batch's check: a node too loaded to answer in time holds every
/// later batch behind it (they are sent in order), so the batch is given up and its tasks proposed again.
/// Seen on anvil at 10,000 jobs: checks took 0.9 s (p50) to 3.2 s (p90), and once sending stopped for
/// minutes.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// The submitter: checks the batches handed to it, several at once, and sends them in the order they
/// came (the order they were proposed), so that nonces follow it and an event job's earlier task never
/// lands after a later one. Ends at shutdown; a batch not sent by then stays proposed in the store and
/// its proposal is re-published at the next start.
async fn submitter(
    context: NodeContext,
    sender: Arc<TxSender>,
    max_age: u64,
    batches: tokio::sync::mpsc::UnboundedReceiver<SubmittingBatch>,
    report: tokio::sync::mpsc::UnboundedSender<SubmissionOutcome>,
    shutdown: CancellationToken,
) {
    let incoming = futures_util::stream::unfold(batches, |mut batches| async move {
        batches.recv().await.map(|batch| (batch, batches))
    });
    let checked = incoming
        .map(|batch| {
            let (context, sender) = (context.clone(), Arc::clone(&sender));
            async move {
                let started = tokio::time::Instant::now();
                let checked = tokio::time::timeout(CHECK_TIMEOUT, check_batch(&context, &sender, &batch)).await;
                let took_ms = started.elapsed().as_millis();
                tracing::debug!(digest = %batch.digest, took_ms, ok = matches!(checked, Ok(Ok(_))), "aggregator: batch checked");
                (batch, checked)
            }
        })
        .buffered(CHECKS_IN_PARALLEL);
    let mut checked = std::pin::pin!(checked);
    loop {
        let (batch, checked) = tokio::select! {
            () = shutdown.cancelled() => return,
            next = checked.next() => match next {
                Some(next) => next,
                None => return,
            },
        };
        let started = tokio::time::Instant::now();
        let digest = batch.digest;
        let outcome = send_batch(&context, &sender, batch, checked, max_age).await;
        tracing::debug!(%digest, took_ms = started.elapsed().as_millis(), "aggregator: batch send step done");
        if report.send(outcome).is_err() {
            return;
        }
    }
}

/// What sending `batch` would do at the node's latest state: its gas estimate, or why not to send it.
async fn check_batch(context: &NodeContext, sender: &TxSender, batch: &SubmittingBatch) -> Result<u64, SubmitError> {
    let task_manager = context.config.deployment.avs.task_manager;
    let provider = context.pool.provider();
    let (tasks, forwarders) = (&batch.flight.tasks, &batch.forwarders);
    batch.submission.check_and_estimate(&provider, task_manager, sender.address(), tasks, forwarders).await
}

/// Sends a checked batch. A batch that would revert is not sent (its gas would be lost): the check
/// names the error.
async fn send_batch(
    context: &NodeContext,
    sender: &TxSender,
    batch: SubmittingBatch,
    checked: Result<Result<u64, SubmitError>, tokio::time::error::Elapsed>,
    max_age: u64,
) -> SubmissionOutcome {
    let SubmittingBatch { digest, flight, submission, signers, role, .. } = batch;
    let failed = |why: String| SubmissionOutcome::Failed { digest, tasks: task_ids(&flight.tasks), why };
    // Checked at an older head: one whose reference block is about to grow too old would revert
    // `ReferenceBlockTooOld` by the time it is mined (gas paid for nothing).
    let head = context.schedule.head().map_or(0, |head| head.number);
    let age = head.saturating_sub(flight.reference.number);
    if age + AGE_MARGIN > max_age {
        tracing::warn!(%digest, age, "aggregator: the batch's reference block grew too old while it waited; not sending it");
        context.metrics.batch_submissions.with_label_values(&["not_sent"]).inc();
        return failed(format!("its reference block was {age} blocks old when its turn to be sent came"));
    }
    let estimate = match checked {
        Ok(Ok(estimate)) => estimate,
        Ok(Err(SubmitError::TargetsWouldRevert { tasks })) => {
            return SubmissionOutcome::TargetsWouldRevert { digest, flight, reverting: tasks }
        }
        Err(_) => {
            tracing::warn!(%digest, after_secs = CHECK_TIMEOUT.as_secs(), "aggregator: checking the batch against the node timed out; not sending it");
            context.metrics.batch_submissions.with_label_values(&["not_sent"]).inc();
            return failed(format!("checking it against the node took over {} s", CHECK_TIMEOUT.as_secs()));
        }
        Ok(Err(error)) => {
            tracing::warn!(%digest, %error, "aggregator: the batch would be rejected; not sending it");
            context.metrics.batch_submissions.with_label_values(&["not_sent"]).inc();
            return failed(format!("the batch would be rejected: {error}"));
        }
    };
    record_progress(&context.store, &flight.tasks, TaskState::Submitted, flight.reference.number).await;
    let request = TxRequest {
        kind: TxKind::RespondToTasks,
        payload_ref: digest.to_vec(),
        to: context.config.deployment.avs.task_manager,
        input: submission.calldata(),
        value: U256::ZERO,
        gas_limit: Some(sender.gas_limit_for(estimate)),
    };
    // Valid only on the chain that has its reference block: the sender abandons it after a reorg.
    let anchor = BlockAnchor { number: flight.reference.number, hash: flight.reference.hash };
    match sender.send_anchored(request, Some(anchor)).await {
        Ok(tracked) => {
            context.metrics.batch_submissions.with_label_values(&["sent"]).inc();
            tracing::info!(%digest, tx = %tracked.tx_hash, tasks = flight.tasks.len(), signers, "aggregator: batch sent");
            SubmissionOutcome::Sent { tracked, tasks: task_ids(&flight.tasks), role }
        }
        Err(error) => {
            tracing::warn!(%digest, %error, "aggregator: sending the batch failed");
            context.metrics.batch_submissions.with_label_values(&["not_sent"]).inc();
            failed(format!("sending it failed: {error}"))
        }
    }
}

/// Records task states for operators and the console (best effort: no safety depends on it).
async fn record_progress(store: &crate::store::SharedStore, tasks: &[BatchTask], state: TaskState, block: u64) {
    let items: BTreeMap<TaskId, B256> = tasks.iter().map(|t| (t.task, t.response.hash())).collect();
    let result = store
        .with(move |store| {
            store.write(|tx| {
                for (task, response) in &items {
                    let current = match tx.task(*task)? {
                        Some(record) => record.state,
                        None => {
                            tx.insert_task(*task, TaskDue { at_ms: None, block: Some(block) })?;
                            TaskState::Due
                        }
                    };
                    if let Some(to) = current.after_progress(state) {
                        tx.transition_task(*task, to, Some(*response), None)?;
                    }
                }
                Ok::<_, StoreError>(())
            })
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "aggregator: recording task states failed");
    }
}

/// The due tasks to execute for a proposal: none already in an open proposal or a pending
/// submission, none disputed at this reference block.
fn proposable(due: Vec<DueTask>, in_flight: &HashSet<TaskId>, disputed: &HashSet<TaskId>) -> Vec<DueTask> {
    due.into_iter().filter(|d| !in_flight.contains(&d.task) && !disputed.contains(&d.task)).collect()
}

/// The due tasks whose job pays for them at `base_fee`, and the others with what they lack.
fn split_unprofitable(fees: &FeeRule, due: Vec<DueTask>, base_fee: u128) -> (Vec<DueTask>, Vec<(DueTask, Shortfall)>) {
    let mut profitable = Vec::new();
    let mut unprofitable = Vec::new();
    for task in due {
        match fees.check(&task.spec, base_fee) {
            Ok(()) => profitable.push(task),
            Err(shortfall) => unprofitable.push((task, shortfall)),
        }
    }
    (profitable, unprofitable)
}

/// Whether the chain performed (or skipped past) one of `tasks` since it was proposed, by the
/// scheduler's index: a job's watermark only moves past performed sequences, and a job the index no
/// longer has cannot be performed. Such a batch is never submitted.
fn performed_meanwhile(index: &JobIndex, mut tasks: impl Iterator<Item = TaskId>) -> bool {
    tasks.any(|task| index.job(task.job_id).is_none_or(|job| task.sequence < job.next_sequence))
}

/// Orders due tasks for a proposal that cannot take them all: event and block jobs' tasks first (few,
/// and an event task is never superseded), then interval tasks by due time. Under overload every
/// job's task then waits its turn, instead of the lowest job ids always going first and the others
/// always missing.
fn longest_waiting_first(due: &mut [DueTask]) {
    due.sort_by_cached_key(|task| match task.spec.trigger {
        crate::jobs::Trigger::Interval { start, period } => {
            crate::jobs::schedule::due_at(start, period, task.task.sequence)
        }
        _ => 0,
    });
}

/// `tasks` in batches of at most `max` leaves, as even as can be (167 tasks at 128: 84 and 83, so
/// that neither waits on a batch twice its size).
fn split_into_batches(mut tasks: Vec<BatchTask>, max: usize) -> Vec<Vec<BatchTask>> {
    if tasks.is_empty() {
        return Vec::new();
    }
    let count = tasks.len().div_ceil(max.max(1));
    let size = tasks.len().div_ceil(count);
    let mut batches = Vec::with_capacity(count);
    while tasks.len() > size {
        let rest = tasks.split_off(size);
        batches.push(std::mem::replace(&mut tasks, rest));
    }
    batches.push(tasks);
    batches
}

fn task_ids(tasks: &[BatchTask]) -> Vec<TaskId> {
    tasks.iter().map(|t| t.task).collect()
}

/// A disputed proposal's tasks minus the disputed ones: what is proposed again.
fn without_disputed(tasks: Vec<BatchTask>, disputed: &[TaskId]) -> Vec<BatchTask> {
    tasks.into_iter().filter(|t| !disputed.contains(&t.task)).collect()
}

mod rotation;
#[cfg(test)]
mod tests;
