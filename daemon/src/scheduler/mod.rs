//! The scheduler role: follows the chain at the configured confirmation depth, indexes the job
//! manager's and task manager's logs (and the logs that trigger event jobs) into the [`JobIndex`],
//! keeps the job cache, the tasks and the cursor in the store (one transaction per step, so a
//! restart resumes exactly after the last block processed), and publishes each processed block as
//! the reference block the other roles work at.
//!
//! Tasks end here when the chain decides (performed, skipped: a performed task stays performed), when an
//! interval or block job's later sequence comes due (the waiting earlier ones are missed), when the chain
//! performs a later sequence (every pending earlier one is missed), when a job is cancelled or expires,
//! and when a reorg takes an event task's log away (dropped; due again if the log comes back). The rules
//! are [`TaskEnding`]'s, pure and tested in `keeper_shared::job::state`.
//!
//! A long history: the first start (or a start after a long stop) reads the blocks deeper than the
//! deepest reorg it undoes in ranges of [`LOG_RANGE`] blocks, one `eth_getLogs` and one header per
//! range ([`Scheduler::catch_up`]), keeping only one range's logs in memory, and reports its progress
//! in the log and the status; the follower then takes over block by block.
//!
//! Reorgs: the follower reports blocks that left the canonical chain; the index is rolled back from
//! its undo journal (kept for the follower's window of blocks, [`FollowerConfig::window`]), so a
//! reorg of depth `d` costs `d` blocks of work, not the history. Only a fork older than the journal
//! (the daemon was down, or the fork point was not found) rebuilds the index from the deployment block.
//! Either way a job whose creation left the chain is marked gone in the store and its pending tasks are
//! dropped, so neither the control API nor a restart shows it; created again on the new branch, it is
//! written again and its tasks are due again.

mod index;
pub mod metrics;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use keeper_shared::batch::TaskId;
use keeper_shared::contracts::TaskManager;
use keeper_shared::deployment::Deployment;
use tokio::sync::{broadcast, watch, RwLock};
use tokio_util::sync::CancellationToken;

pub use crate::jobs::OutcomeKind;
pub use index::{DueTask, IndexError, Job, JobIndex, TaskOutcome};

use crate::chain::{
    logs_in_ranges, BlockFollower, BlockRef, FollowerConfig, FollowerError, FollowerEvent, LogsError, RpcError,
    RpcPool, StartFrom, LOG_RANGE,
};
use crate::jobs::schedule::{event_log, event_sequence};
use crate::jobs::ReferenceBlock;
use crate::store::{ChainCursor, JobStatus, SharedStore, StoreError, TaskDue, TaskEnding, TaskState};

/// The store's cursor stream of the scheduler.
pub const CURSOR_STREAM: &str = "scheduler";
/// How far below a processed block that left the chain, with its fork point unknown, the index is
/// rebuilt from: deeper than any reorg of a chain that finalises (Ethereum: 2 epochs, 64 blocks),
/// and the follower's own window.
const RESYNC_DEPTH: u64 = 128;

/// Why the scheduler stopped.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("scheduler: {0}")]
    Store(#[from] StoreError),
    #[error("scheduler: {0}")]
    Index(#[from] IndexError),
    #[error("scheduler: {0}")]
    Logs(#[from] LogsError),
    #[error("scheduler: {0}")]
    Follower(#[from] crate::chain::FollowerError),
    #[error("scheduler: reading block {number} to re-sync from: {reason}")]
    ResyncBlock { number: u64, reason: String },
    #[error("scheduler: reading the chain head or block {number} while catching up: {source}")]
    CatchUp { number: u64, source: RpcError },
}

/// How far the scheduler has read the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncProgress {
    /// The first block it reads (the deployment block).
    pub first: u64,
    /// The last block processed.
    pub processed: u64,
    /// The confirmed chain head when it last looked.
    pub target: u64,
    /// Whether it is catching up on history in ranges (no tasks are proposed meanwhile).
    pub catching_up: bool,
}

impl SyncProgress {
    /// Whole percent of the blocks from `first` to `target` processed.
    pub fn percent(&self) -> u8 {
        keeper_shared::api::sync_percent(self.first, self.processed, self.target)
    }
}

/// The scheduler's reads of logs, counted (a reorg's cost is read off these).
#[derive(Debug, Default)]
pub struct LogReads {
    /// `eth_getLogs` requests.
    pub requests: AtomicU64,
    /// Blocks the requests covered.
    pub blocks: AtomicU64,
    /// The most logs one step (a range while catching up, a run of blocks after) held at once.
    pub most_in_one_step: AtomicU64,
}

impl LogReads {
    fn record(&self, from: u64, to: u64) {
        let blocks = to.saturating_sub(from).saturating_add(1);
        self.blocks.fetch_add(blocks, Ordering::Relaxed);
        self.requests.fetch_add(blocks.div_ceil(LOG_RANGE), Ordering::Relaxed);
    }

    fn held(&self, logs: usize) {
        self.most_in_one_step.fetch_max(u64::try_from(logs).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// (requests, blocks) so far.
    pub fn get(&self) -> (u64, u64) {
        (self.requests.load(Ordering::Relaxed), self.blocks.load(Ordering::Relaxed))
    }
}

/// What the scheduler shares with the other roles of the daemon.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    index: Arc<RwLock<JobIndex>>,
    head: watch::Receiver<Option<ReferenceBlock>>,
    outcomes: broadcast::Sender<TaskOutcome>,
    progress: watch::Receiver<Option<SyncProgress>>,
    log_reads: Arc<LogReads>,
}

impl ScheduleView {
    /// How far the scheduler has read the chain (`None` before it first looked).
    pub fn progress(&self) -> Option<SyncProgress> {
        *self.progress.borrow()
    }

    /// The logs the scheduler has read so far.
    pub fn log_reads(&self) -> &LogReads {
        &self.log_reads
    }

    /// The jobs as of the last processed block.
    pub async fn index(&self) -> tokio::sync::RwLockReadGuard<'_, JobIndex> {
        self.index.read().await
    }

    /// The last processed block (`None` before the first).
    pub fn head(&self) -> Option<ReferenceBlock> {
        *self.head.borrow()
    }

    /// Waits for the next processed block; `None` once the scheduler has stopped.
    pub async fn next_head(&mut self) -> Option<ReferenceBlock> {
        self.head.changed().await.ok()?;
        *self.head.borrow_and_update()
    }

    /// A receiver of head changes (for `select!` loops).
    pub fn head_receiver(&self) -> watch::Receiver<Option<ReferenceBlock>> {
        self.head.clone()
    }

    /// What the task manager did with tasks, as their logs are processed.
    pub fn outcomes(&self) -> broadcast::Receiver<TaskOutcome> {
        self.outcomes.subscribe()
    }
}

/// The scheduler role.
pub struct Scheduler {
    pool: RpcPool,
    store: SharedStore,
    job_manager: Address,
    task_manager: Address,
    deploy_block: u64,
    follower: FollowerConfig,
    index: Arc<RwLock<JobIndex>>,
    head: watch::Sender<Option<ReferenceBlock>>,
    outcomes: broadcast::Sender<TaskOutcome>,
    progress: watch::Sender<Option<SyncProgress>>,
    log_reads: Arc<LogReads>,
    /// Blocks per step while catching up on history.
    catch_up_range: u64,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The due tasks written at the last processed block: only newly due ones are written at the next
    /// (with 10,000 jobs under overload, thousands stay due block after block). Forgotten when the
    /// index is rebuilt, so that every due task is written again after a reorg.
    written_due: std::sync::Mutex<HashSet<TaskId>>,
}

impl Scheduler {
    /// A scheduler following `deployment`'s contracts at `confirmations` blocks behind the head.
    pub fn new(
        pool: RpcPool,
        store: SharedStore,
        deployment: &Deployment,
        confirmations: u64,
        poll_interval: Duration,
    ) -> (Self, ScheduleView) {
        let index = Arc::new(RwLock::new(JobIndex::default()));
        let (head, head_rx) = watch::channel(None);
        let (outcomes, _) = broadcast::channel(4096);
        let (progress, progress_rx) = watch::channel(None);
        let log_reads = Arc::new(LogReads::default());
        let view = ScheduleView {
            index: Arc::clone(&index),
            head: head_rx,
            outcomes: outcomes.clone(),
            progress: progress_rx,
            log_reads: Arc::clone(&log_reads),
        };
        let follower = FollowerConfig { confirmations, poll_interval, ..FollowerConfig::default() };
        let scheduler = Self {
            pool,
            store,
            job_manager: deployment.avs.job_manager,
            task_manager: deployment.avs.task_manager,
            deploy_block: deployment.deploy_block,
            follower,
            index,
            head,
            outcomes,
            progress,
            log_reads,
            catch_up_range: LOG_RANGE,
            metrics: None,
            written_due: std::sync::Mutex::default(),
        };
        (scheduler, view)
    }

    /// Catches up in steps of `range` blocks (default [`LOG_RANGE`]) and undoes reorgs up to `depth`
    /// blocks from the journal (default the follower's window, 128): smaller values let a test show
    /// the behaviour of a long history on a short one.
    pub fn with_history_limits(mut self, range: u64, depth: usize) -> Self {
        self.catch_up_range = range.max(1);
        self.follower.window = depth.max(1);
        self
    }

    /// Counts chain position, reorgs and task outcomes on `metrics`.
    pub fn with_metrics(self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        Self { metrics: Some(metrics), ..self }
    }

    /// Runs until `shutdown`; returns an error only for what retrying cannot fix.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), SchedulerError> {
        let (jobs, cursor) = self
            .store
            .with(|store| {
                store.read(|tx| {
                    let mut jobs = Vec::new();
                    let mut after = None;
                    loop {
                        let page = tx.jobs(None, after, 1000)?;
                        let Some(last) = page.last() else { break };
                        after = Some(last.job_id);
                        jobs.extend(page);
                    }
                    Ok::<_, StoreError>((jobs, tx.cursor(CURSOR_STREAM)?))
                })
            })
            .await?;
        let jobs = jobs.iter().map(Job::from_record).collect::<Result<Vec<_>, _>>()?;
        let mut index = JobIndex::from_jobs(jobs);
        index.journal_from(cursor.map_or(0, |c| c.block_number));
        *self.index.write().await = index;
        let cursor = match self.catch_up(cursor, &shutdown).await {
            Ok(cursor) => cursor,
            Err(error) => {
                // The follower reads the rest block by block.
                tracing::warn!(%error, "scheduler: catching up in ranges failed; following block by block");
                self.store.with(|store| store.read(|tx| tx.cursor(CURSOR_STREAM))).await?
            }
        };
        let start = match cursor {
            Some(cursor) => StartFrom::Cursor(cursor),
            None => StartFrom::Block(self.deploy_block),
        };
        tracing::info!(?start, "scheduler: following the chain");
        let mut follower = BlockFollower::new(self.pool.clone(), self.follower.clone(), start);
        loop {
            let polled = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                polled = follower.poll() => polled,
            };
            if let Some(metrics) = &self.metrics {
                metrics.observe_chain(follower.chain_head(), None, self.follower.confirmations);
            }
            if let Some(head) = follower.chain_head() {
                let target = head.saturating_sub(self.follower.confirmations);
                self.progress.send_if_modified(|progress| match progress {
                    Some(progress) if progress.target != target => {
                        progress.target = target;
                        true
                    }
                    _ => false,
                });
            }
            match polled {
                Ok(events) => {
                    if let Err(error) = self.process(events).await {
                        tracing::warn!(%error, "scheduler: processing blocks failed; retrying from the cursor");
                        follower = self.restart_follower().await?;
                    }
                }
                Err(error) if error.is_transient() => {
                    tracing::warn!(%error, "scheduler: polling the chain failed; retrying");
                }
                // A block processed before left the chain and the node forgot it (a reorg while the
                // daemon was down, or while a failed step restarted the follower from the cursor):
                // the fork point is somewhere below, so rebuild from well below it.
                Err(FollowerError::ForkPointUnknown { number, hash }) => {
                    tracing::warn!(
                        number,
                        %hash,
                        depth = RESYNC_DEPTH,
                        "scheduler: a processed block left the chain and its fork point is unknown; re-syncing from \
                         an older block"
                    );
                    match self.resync_below(number).await {
                        Ok(resynced) => follower = resynced,
                        Err(error) => tracing::warn!(%error, "scheduler: re-syncing failed; retrying"),
                    }
                }
                Err(error) => return Err(error.into()),
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.follower.poll_interval) => {}
            }
        }
    }

    /// Rebuilds the index up to the canonical block `RESYNC_DEPTH` below `lost` (not below the
    /// deployment block) and follows on from there.
    async fn resync_below(&self, lost: u64) -> Result<BlockFollower, SchedulerError> {
        let number = lost.saturating_sub(RESYNC_DEPTH).max(self.deploy_block);
        let block = self
            .pool
            .provider()
            .get_block_by_number(number.into())
            .await
            .map_err(|e| SchedulerError::ResyncBlock {
                number,
                reason: RpcError::from_call("eth_getBlockByNumber", e).to_string(),
            })?
            .ok_or_else(|| SchedulerError::ResyncBlock { number, reason: "the node does not have it".into() })?;
        let header = &block.header;
        let ancestor = BlockRef {
            number: header.number,
            hash: header.hash,
            parent_hash: header.parent_hash,
            timestamp: header.timestamp,
        };
        self.rebuild(ancestor).await?;
        self.restart_follower().await
    }

    async fn restart_follower(&self) -> Result<BlockFollower, SchedulerError> {
        let cursor = self.store.with(|store| store.read(|tx| tx.cursor(CURSOR_STREAM))).await?;
        if let Some(cursor) = cursor {
            // A failed step may have applied logs past the cursor (its store write failed): undo them,
            // else they are applied twice (a fee charged twice to the escrow).
            if !self.index.write().await.rollback_to(cursor.block_number) {
                tracing::warn!(cursor = cursor.block_number, "scheduler: the job index may be ahead of the cursor");
            }
        }
        let start = cursor.map_or(StartFrom::Block(self.deploy_block), StartFrom::Cursor);
        Ok(BlockFollower::new(self.pool.clone(), self.follower.clone(), start))
    }

    /// Processes the follower's events: runs of consecutive blocks in one log query each.
    async fn process(&self, events: Vec<FollowerEvent>) -> Result<(), SchedulerError> {
        let mut run: Vec<BlockRef> = Vec::new();
        for event in events {
            match event {
                FollowerEvent::Block(block) => run.push(block),
                FollowerEvent::Reorg(reorg) => {
                    if let Some(metrics) = &self.metrics {
                        metrics.chain_reorgs.inc();
                    }
                    if !run.is_empty() {
                        self.process_blocks(&std::mem::take(&mut run)).await?;
                    }
                    let ancestor = reorg.common_ancestor;
                    if self.index.write().await.rollback_to(ancestor.number) {
                        tracing::warn!(
                            ancestor = ancestor.number,
                            dropped = reorg.dropped.len(),
                            "scheduler: chain reorganised; job index rolled back"
                        );
                        self.drop_removed_event_tasks(ancestor.number).await?;
                        self.persist(ancestor.cursor(), &[], None).await?;
                    } else {
                        tracing::warn!(
                            ancestor = ancestor.number,
                            dropped = reorg.dropped.len(),
                            "scheduler: chain reorganised below the undo journal; rebuilding the job index"
                        );
                        self.rebuild(ancestor).await?;
                    }
                }
            }
        }
        if !run.is_empty() {
            self.process_blocks(&run).await?;
        }
        Ok(())
    }

    async fn process_blocks(&self, blocks: &[BlockRef]) -> Result<(), SchedulerError> {
        let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else { return Ok(()) };
        let logs = self.logs(first.number, last.number).await?;
        let mut outcomes = Vec::new();
        let mut included = Vec::new();
        {
            let mut index = self.index.write().await;
            for log in &logs {
                if let Some(outcome) = self.apply(&mut index, log)? {
                    included.push(log.block_number);
                    outcomes.push(outcome);
                }
            }
            index.forget_before(last.number.saturating_add(1).saturating_sub(self.undo_depth()));
        }
        let reference = ReferenceBlock { number: last.number, hash: last.hash, timestamp: last.timestamp };
        self.persist(last.cursor(), &outcomes, Some(reference)).await?;
        self.progress.send_modify(|progress| {
            let target = progress.map_or(last.number, |p| p.target).max(last.number);
            *progress =
                Some(SyncProgress { first: self.deploy_block, processed: last.number, target, catching_up: false });
        });
        if let Some(metrics) = &self.metrics {
            self::metrics::observe_outcomes(metrics, &*self.index.read().await, &outcomes, &included, blocks);
        }
        for outcome in outcomes {
            // Nobody listening is fine.
            let _ = self.outcomes.send(outcome);
        }
        self.head.send_replace(Some(reference));
        Ok(())
    }

    /// Applies one log to the index; trigger logs of event jobs are recognised by their emitter.
    fn apply(&self, index: &mut JobIndex, log: &Log) -> Result<Option<TaskOutcome>, SchedulerError> {
        let address = log.address();
        if address == self.job_manager {
            index.apply_job_manager_log(log)?;
        } else if address == self.task_manager {
            return Ok(index.apply_task_manager_log(log)?);
        }
        // A job manager or task manager log may also trigger an event job that listens to it.
        index.apply_trigger_log(log);
        Ok(None)
    }

    /// The job manager's, the task manager's and the event jobs' emitters' logs of a range, in
    /// chain order. Emitters of jobs created inside the range are fetched in a second pass.
    async fn logs(&self, from: u64, to: u64) -> Result<Vec<Log>, SchedulerError> {
        let logs = self.step_logs(from, to).await?;
        self.log_reads.held(logs.len());
        Ok(logs)
    }

    /// [`Scheduler::logs`], uncounted.
    async fn step_logs(&self, from: u64, to: u64) -> Result<Vec<Log>, SchedulerError> {
        let mut addresses = vec![self.job_manager, self.task_manager];
        addresses.extend(self.index.read().await.event_emitters());
        let mut logs = self.fetch_logs(from, to, addresses.clone()).await?;
        // Jobs created in this range may listen to other contracts: index them first, then fetch
        // their emitters' logs too (the second query is skipped when nothing new appeared).
        let mut probe = self.index.read().await.clone();
        for log in logs.iter().filter(|l| l.address() == self.job_manager) {
            probe.apply_job_manager_log(log)?;
        }
        let extra: Vec<Address> =
            probe.event_emitters().into_iter().filter(|address| !addresses.contains(address)).collect();
        if !extra.is_empty() {
            logs.extend(self.fetch_logs(from, to, extra).await?);
            logs.sort_by_key(|log| (log.block_number, log.log_index));
        }
        Ok(logs)
    }

    async fn fetch_logs(&self, from: u64, to: u64, addresses: Vec<Address>) -> Result<Vec<Log>, SchedulerError> {
        self.log_reads.record(from, to);
        let mut logs = logs_in_ranges(&self.pool, &Filter::new().address(addresses), from, to).await?;
        logs.sort_by_key(|log| (log.block_number, log.log_index));
        Ok(logs)
    }

    /// The deepest reorg the index is rolled back from its journal rather than rebuilt: the
    /// follower's window, which is as deep as it compares hashes.
    fn undo_depth(&self) -> u64 {
        u64::try_from(self.follower.window).unwrap_or(u64::MAX).max(1)
    }

    /// Processes the blocks deeper than [`Scheduler::undo_depth`] below the confirmed head in ranges
    /// of [`LOG_RANGE`] blocks (a reorg does not reach them, so the follower's block-by-block hash
    /// checks are not needed), logging the progress, and returns the cursor reached. No task is made
    /// due meanwhile: a reference block that old could not be performed.
    async fn catch_up(
        &self,
        mut cursor: Option<ChainCursor>,
        shutdown: &CancellationToken,
    ) -> Result<Option<ChainCursor>, SchedulerError> {
        let started = Instant::now();
        let mut read = 0u64;
        loop {
            if shutdown.is_cancelled() {
                return Ok(cursor);
            }
            let next = cursor.map_or(self.deploy_block, |c| c.block_number.saturating_add(1));
            let head = self
                .pool
                .run("eth_blockNumber", |p| async move { p.get_block_number().await })
                .await
                .map_err(|source| SchedulerError::CatchUp { number: next, source })?;
            let target = head.saturating_sub(self.follower.confirmations);
            let deep = target.saturating_sub(self.undo_depth());
            // Only blocks a reorg may still take away are left: the follower reads them block by block.
            if next > deep {
                if read > 0 {
                    tracing::info!(
                        blocks = read,
                        secs = started.elapsed().as_secs_f64(),
                        "scheduler: caught up with the history; following block by block"
                    );
                }
                return Ok(cursor);
            }
            let to = deep.min(next.saturating_add(self.catch_up_range - 1));
            let last = self.process_range(next, to).await?;
            cursor = Some(last.cursor());
            read = read.saturating_add(to - next + 1);
            let progress = SyncProgress { first: self.deploy_block, processed: to, target, catching_up: true };
            self.progress.send_replace(Some(progress));
            let secs = started.elapsed().as_secs_f64();
            let jobs = self.index.read().await.len();
            tracing::info!(
                processed = to,
                target,
                percent = progress.percent(),
                blocks_per_sec = if secs > 0.0 { (read as f64 / secs).round() } else { 0.0 },
                jobs,
                "scheduler: catching up with the history"
            );
        }
    }

    /// Applies the logs of blocks `[from, to]` and moves the cursor to `to`, in one store transaction,
    /// keeping no undo records (the range is deeper than any reorg undone).
    async fn process_range(&self, from: u64, to: u64) -> Result<BlockRef, SchedulerError> {
        let logs = self.logs(from, to).await?;
        let block = self
            .pool
            .run("eth_getBlockByNumber", |p| async move { p.get_block_by_number(to.into()).await })
            .await
            .map_err(|source| SchedulerError::CatchUp { number: to, source })?
            .ok_or(SchedulerError::Follower(FollowerError::MissingBlock { number: to }))?;
        let header = &block.header;
        let last =
            BlockRef { number: to, hash: header.hash, parent_hash: header.parent_hash, timestamp: header.timestamp };
        let mut outcomes = Vec::new();
        {
            let mut index = self.index.write().await;
            for log in &logs {
                outcomes.extend(self.apply(&mut index, log)?);
            }
            index.forget_before(to.saturating_add(1));
        }
        self.persist(last.cursor(), &outcomes, None).await?;
        Ok(last)
    }

    /// Writes the changed jobs, the due tasks and the task outcomes, and moves the cursor, in one
    /// transaction. Tasks that can no longer be performed end there ([`task_endings`]).
    async fn persist(
        &self,
        cursor: ChainCursor,
        outcomes: &[TaskOutcome],
        reference: Option<ReferenceBlock>,
    ) -> Result<(), SchedulerError> {
        let (removed, records, due, due_now) = {
            let mut index = self.index.write().await;
            let removed = index.take_removed();
            let records = index.take_dirty().iter().map(Job::to_record).collect::<Result<Vec<_>, _>>()?;
            // At the floor price: a job whose escrow cannot pay even then (1 wei) has no due task
            // (the aggregator judges at the chain's price when it proposes).
            let all_due = match reference {
                Some(reference) => index.due_tasks(&reference, keeper_shared::job::FLOOR_GAS_PRICE, 0),
                None => Vec::new(),
            };
            let due_now: HashSet<TaskId> = all_due.iter().map(|task| task.task).collect();
            let written = self.written_due.lock().unwrap_or_else(PoisonError::into_inner);
            let due: Vec<(TaskId, TaskDue, bool)> = match reference {
                Some(reference) => all_due
                    .iter()
                    .filter(|task| !written.contains(&task.task))
                    .map(|task| (task.task, due_of(task, &reference), supersedes(task)))
                    .collect(),
                None => Vec::new(),
            };
            (removed, records, due, due_now)
        };
        let outcomes = outcomes.to_vec();
        let moved = self
            .store
            .with(move |store| {
                store.write(|tx| {
                    let mut moved = Vec::new();
                    // A job whose creation a reorg took away (the cursor is the reorg's common ancestor).
                    for job_id in &removed {
                        if tx.mark_job_left_chain(*job_id, cursor.block_number)? {
                            let ending = TaskEnding::JobRemoved { ancestor: cursor.block_number };
                            moved.extend(tx.end_job_tasks(*job_id, 0..u64::MAX, &ending)?);
                        }
                    }
                    for record in &records {
                        tx.upsert_job(record)?;
                        if matches!(record.status, JobStatus::Cancelled | JobStatus::Expired) {
                            let ending = TaskEnding::JobClosed { status: record.status };
                            moved.extend(tx.end_job_tasks(record.job_id, 0..u64::MAX, &ending)?);
                        }
                    }
                    for (task, when, supersedes) in &due {
                        if !tx.insert_task(*task, *when)? {
                            // Known already: an event task dropped in a reorg whose log is back.
                            tx.end_task(*task, &TaskEnding::DueAgain)?;
                            continue;
                        }
                        if *supersedes {
                            let ending = TaskEnding::Superseded { by: task.sequence };
                            moved.extend(tx.end_job_tasks(task.job_id, 0..task.sequence, &ending)?);
                        }
                    }
                    for outcome in &outcomes {
                        let (state, detail) = outcome_state(&outcome.kind);
                        tx.record_chain_outcome(outcome.task, state, cursor.block_number, &detail)?;
                        if moves_watermark(&outcome.kind) {
                            let ending = TaskEnding::Overtaken { by: outcome.task.sequence };
                            moved.extend(tx.end_job_tasks(outcome.task.job_id, 0..outcome.task.sequence, &ending)?);
                        }
                    }
                    tx.set_cursor(CURSOR_STREAM, cursor)?;
                    Ok::<_, StoreError>(moved)
                })
            })
            .await?;
        *self.written_due.lock().unwrap_or_else(PoisonError::into_inner) = due_now;
        self.report_endings(&moved);
        Ok(())
    }

    /// Logs and counts tasks that ended without being performed.
    fn report_endings(&self, moved: &[(TaskId, TaskState)]) {
        for (task, state) in moved {
            tracing::debug!(job = %task.job_id, sequence = task.sequence, %state, "scheduler: task ended");
        }
        if let Some(metrics) = &self.metrics {
            metrics.observe_missed(moved);
        }
    }

    /// Event tasks at or after `ancestor`'s next block: their logs left the chain with the reorg (those
    /// that come back at the same place are due again as the new blocks are processed).
    async fn drop_removed_event_tasks(&self, ancestor: u64) -> Result<(), SchedulerError> {
        let event_jobs: Vec<alloy::primitives::U256> = self
            .index
            .read()
            .await
            .jobs()
            .filter(|job| matches!(job.spec.trigger, crate::jobs::Trigger::Event(_)))
            .map(|job| job.id)
            .collect();
        let Some(first) = ancestor.checked_add(1).and_then(|block| event_sequence(block, 0).ok()) else {
            return Ok(());
        };
        let moved = self
            .store
            .with(move |store| {
                store.write(|tx| {
                    let mut moved = Vec::new();
                    for job_id in &event_jobs {
                        for state in TaskState::ALL {
                            let probe = TaskEnding::LogRemoved { block: 0, ancestor };
                            if probe.next(*state).is_none() {
                                continue;
                            }
                            for task in tx.job_tasks_in_state(*job_id, *state, first..u64::MAX)? {
                                let (block, _) = event_log(task.sequence);
                                if let Some(to) = tx.end_task(task, &TaskEnding::LogRemoved { block, ancestor })? {
                                    moved.push((task, to));
                                }
                            }
                        }
                    }
                    Ok::<_, StoreError>(moved)
                })
            })
            .await?;
        if !moved.is_empty() {
            tracing::info!(dropped = moved.len(), ancestor, "scheduler: event tasks whose logs left the chain dropped");
        }
        Ok(())
    }

    /// Rebuilds the index from the deployment block up to `ancestor` after a reorg.
    async fn rebuild(&self, ancestor: BlockRef) -> Result<(), SchedulerError> {
        let logs =
            if ancestor.number >= self.deploy_block { self.fetch_all_logs(ancestor.number).await? } else { Vec::new() };
        let mut fresh = JobIndex::default();
        for log in &logs {
            self.apply(&mut fresh, log)?;
        }
        fresh.forget_before(ancestor.number.saturating_add(1));
        // Every job of the fresh index is dirty, so all are rewritten; one that vanished with the
        // reorg is marked gone in the store.
        self.index.write().await.replace_with(fresh);
        self.drop_removed_event_tasks(ancestor.number).await?;
        self.persist(ancestor.cursor(), &[], None).await
    }

    /// Every relevant log from the deployment block to `to`, fetched as the index grows (event jobs'
    /// emitters are only known once their jobs are).
    async fn fetch_all_logs(&self, to: u64) -> Result<Vec<Log>, SchedulerError> {
        let mut probe = JobIndex::default();
        let core = self.fetch_logs(self.deploy_block, to, vec![self.job_manager, self.task_manager]).await?;
        for log in core.iter().filter(|l| l.address() == self.job_manager) {
            probe.apply_job_manager_log(log)?;
        }
        let emitters: Vec<Address> =
            probe.event_emitters().into_iter().filter(|a| *a != self.job_manager && *a != self.task_manager).collect();
        let mut logs = core;
        if !emitters.is_empty() {
            logs.extend(self.fetch_logs(self.deploy_block, to, emitters).await?);
            logs.sort_by_key(|log| (log.block_number, log.log_index));
        }
        Ok(logs)
    }
}

/// A task's state ([`OutcomeKind::task_state`]) and history detail for what the task manager did with
/// it (the event of a reverted perform carries no revert data; the fee says what was charged).
fn outcome_state(kind: &OutcomeKind) -> (TaskState, String) {
    let detail = match kind {
        OutcomeKind::Performed { success: true, .. } => "performed on chain".to_owned(),
        OutcomeKind::Performed { success: false, gas_used, fee_wei } => {
            format!("reverted on chain: the target reverted (gas used {gas_used}, fee charged {fee_wei} wei)")
        }
        OutcomeKind::NotExecuted => "checked: nothing to do (consumed on chain)".to_owned(),
        OutcomeKind::Skipped { reason } => {
            let name =
                crate::jobs::SkipReason::from_u8(*reason).map_or_else(|| reason.to_string(), |r| format!("{r:?}"));
            format!("skipped by the task manager: {name}")
        }
    };
    (kind.task_state(), detail)
}

/// Whether a new due sequence ends the job's earlier waiting ones: interval and block jobs propose only
/// their latest due sequence; every log of an event job is a task of its own.
fn supersedes(task: &DueTask) -> bool {
    !matches!(task.spec.trigger, crate::jobs::Trigger::Event(_))
}

/// Whether the outcome moves its job's watermark past the task (a skip does not).
fn moves_watermark(kind: &OutcomeKind) -> bool {
    !matches!(kind, OutcomeKind::Skipped { .. })
}

/// When a due task was due, for the store.
fn due_of(task: &DueTask, reference: &ReferenceBlock) -> TaskDue {
    use crate::jobs::Trigger;
    match task.spec.trigger {
        Trigger::Interval { start, period } => {
            let at = crate::jobs::schedule::due_at(start, period, task.task.sequence);
            TaskDue { at_ms: i64::try_from(at.saturating_mul(1000)).ok(), block: Some(reference.number) }
        }
        Trigger::Block { start, period } => {
            let at = crate::jobs::schedule::due_at(start, period, task.task.sequence);
            TaskDue { at_ms: None, block: Some(u64::try_from(at).unwrap_or(reference.number)) }
        }
        Trigger::Event(_) => {
            let (block, _) = crate::jobs::schedule::event_log(task.task.sequence);
            TaskDue { at_ms: None, block: Some(block) }
        }
    }
}

/// The task manager's premium per performed task (read once per batch by the aggregator).
pub async fn premium(pool: &RpcPool, task_manager: Address) -> Result<u128, RpcError> {
    let provider = pool.provider();
    let premium = TaskManager::new(task_manager, &provider)
        .premium()
        .call()
        .await
        .map_err(|e| RpcError::from_call("premium", e))?;
    Ok(premium.to::<u128>())
}
