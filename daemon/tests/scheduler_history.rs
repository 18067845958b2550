//! The scheduler on a chain with a long history (issue 19), at a scale a test can mine: anvil's
//! `anvil_mine` slows down as the chain grows (about 30 blocks/s past 20,000 blocks on this machine),
//! so the history is a few thousand blocks and the scheduler's step and undo depth are scaled down
//! with it ([`Scheduler::with_history_limits`]); `make history` measures the real sizes.
//!
//! 1. A first start reads the history in steps, reports its progress, and holds one step's logs at a
//!    time. 2. A reorg of depth `d` reads about `d` blocks of logs and leaves the index a fresh sync
//!    builds. 3. A job whose creation the reorg took away is gone from the store too (what the control
//!    API and a restart read), and is back once the same creation is mined on the new branch.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::Filter;
use keeper_devnet::{deploy_network, NetworkConfig};
use keeper_shared::contracts::JobManager;
use keeper_shared::deployment::Deployment;
use keeperd::chain::{RpcPool, RpcPoolConfig};
use keeperd::jobs::{Action, JobSpec, Trigger};
use keeperd::scheduler::{Job, ScheduleView, Scheduler};
use keeperd::store::{SharedStore, Store, TaskState};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// Blocks per catch-up step, and the deepest reorg undone from the journal.
const STEP: u64 = 400;
const UNDO_DEPTH: usize = 16;
const JOBS: u64 = 12;
/// Empty blocks mined after each job's creation.
const GAP: u64 = 200;
const DEADLINE: Duration = Duration::from_secs(60);

struct Chain {
    provider: DynProvider,
    deployment: Deployment,
    endpoint: reqwest::Url,
    _anvil: alloy::node_bindings::AnvilInstance,
}

impl Chain {
    /// The network deployed.
    async fn deployed() -> Self {
        let anvil = common::anvil();
        let (owner, provider) = common::wallet_provider(&anvil, 0);
        let deployment = deploy_network(&provider, &NetworkConfig::devnet(owner)).await.unwrap();
        Self { provider, deployment, endpoint: anvil.endpoint_url(), _anvil: anvil }
    }

    /// The network deployed, then `JOBS` jobs each followed by `GAP` empty blocks.
    async fn with_history() -> Self {
        let chain = Self::deployed().await;
        for _ in 0..JOBS {
            chain.create_job().await;
            chain.mine(GAP).await;
        }
        chain
    }

    /// Creates a job (a block job due from block 0); returns the block and the transaction.
    async fn create_job(&self) -> (u64, B256) {
        let spec = JobSpec {
            trigger: Trigger::Block { start: 0, period: 1_000_000 },
            action: Action::Call { target: Address::repeat_byte(0x42), data: Bytes::new() },
            gas_limit: 300_000,
            max_fee: 10_000_000_000_000_000,
            expiry: None,
        };
        let manager = JobManager::new(self.deployment.avs.job_manager, &self.provider);
        let pending = manager.createJob(spec.to_job_manager().unwrap()).value(U256::from(10u64.pow(18)));
        let receipt = pending.send().await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status());
        (receipt.block_number.unwrap(), receipt.transaction_hash)
    }

    async fn mine(&self, blocks: u64) {
        self.provider.raw_request::<_, ()>("anvil_mine".into(), (U256::from(blocks),)).await.unwrap();
    }

    async fn head(&self) -> alloy::rpc::types::Block {
        self.provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await.unwrap().unwrap()
    }

    /// A scheduler at depth 0 on a fresh store, running until the returned token is cancelled.
    fn scheduler(&self, dir: &TempDir) -> (ScheduleView, CancellationToken) {
        let running = self.start(dir);
        (running.view, running.shutdown)
    }

    /// A scheduler at depth 0 on the store in `dir` (created, or as a previous one left it).
    fn start(&self, dir: &TempDir) -> Running {
        let pool = RpcPool::new(RpcPoolConfig::new(vec![self.endpoint.clone()])).unwrap();
        let store = Store::open(dir.path().join("keeperd.db")).unwrap();
        let reader = store.open_reader().unwrap().unwrap();
        let (scheduler, view) =
            Scheduler::new(pool, SharedStore::new(store), &self.deployment, 0, Duration::from_millis(20));
        let scheduler = scheduler.with_history_limits(STEP, UNDO_DEPTH);
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move { scheduler.run(token).await.unwrap() });
        Running { view, shutdown, task, reader }
    }
}

/// A running scheduler and a read-only connection to its store (what the control API reads through).
struct Running {
    view: ScheduleView,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    reader: Store,
}

impl Running {
    /// Stops the scheduler and waits until it has let go of its store.
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }

    /// The job ids the store lists, as `GET /v1/jobs` reads them.
    fn stored_jobs(&mut self) -> Vec<U256> {
        self.reader.read(|tx| tx.jobs(None, None, 100)).unwrap().iter().map(|job| job.job_id).collect()
    }
}

/// Waits until the scheduler has processed the chain's current head.
async fn wait_synced(view: &ScheduleView, chain: &Chain) {
    let head = chain.head().await.header;
    let deadline = Instant::now() + DEADLINE;
    while view.head().map(|h| (h.number, h.hash)) != Some((head.number, head.hash)) {
        assert!(Instant::now() < deadline, "scheduler not at block {} within {DEADLINE:?}", head.number);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn jobs(view: &ScheduleView) -> Vec<Job> {
    view.index().await.jobs().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_reads_the_history_in_steps_with_progress_and_one_step_of_logs_at_a_time() {
    let chain = Chain::with_history().await;
    let dir = tempfile::tempdir().unwrap();
    let (view, shutdown) = chain.scheduler(&dir);
    // Progress shows while catching up, before any head is published.
    let deadline = Instant::now() + DEADLINE;
    let mut seen_catching_up = Vec::new();
    while view.head().is_none() {
        assert!(Instant::now() < deadline, "no head within {DEADLINE:?}");
        if let Some(progress) = view.progress().filter(|p| p.catching_up) {
            seen_catching_up.push(progress.percent());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_synced(&view, &chain).await;
    let progress = view.progress().unwrap();
    assert_eq!((progress.percent(), progress.catching_up), (100, false), "{progress:?}");
    assert!(!seen_catching_up.is_empty(), "progress was reported while catching up");
    assert!(seen_catching_up.iter().all(|p| *p < 100), "{seen_catching_up:?}");
    assert_eq!(view.index().await.len() as u64, JOBS);

    let history = progress.processed - chain.deployment.deploy_block + 1;
    let (requests, blocks) = view.log_reads().get();
    assert_eq!(blocks, history, "every block's logs read once");
    // A step holds a step's logs: the deployment's settings in the first, then about STEP / GAP
    // creations, never the whole history's.
    let most = view.log_reads().most_in_one_step.load(std::sync::atomic::Ordering::Relaxed);
    let logs_of = |from: u64, to: u64| {
        let avs = &chain.deployment.avs;
        let filter = Filter::new().address(vec![avs.job_manager, avs.task_manager]).from_block(from).to_block(to);
        let provider = chain.provider.clone();
        async move { provider.get_logs(&filter).await.unwrap().len() as u64 }
    };
    let first_step = logs_of(chain.deployment.deploy_block, chain.deployment.deploy_block + STEP - 1).await;
    let total = logs_of(chain.deployment.deploy_block, progress.processed).await;
    assert!(most <= first_step + STEP.div_ceil(GAP), "{most} logs held at once, {first_step} in the first step");
    assert!(most < total, "{most} logs held at once: the whole history's ({total})");
    assert!(requests >= history / STEP, "{requests} requests for {history} blocks");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_reads_only_its_depth_of_logs_and_leaves_the_index_of_a_fresh_sync() {
    const DEPTH: u64 = 6;
    let chain = Chain::with_history().await;
    let dir = tempfile::tempdir().unwrap();
    let (view, shutdown) = chain.scheduler(&dir);
    wait_synced(&view, &chain).await;
    // A job created in a block the reorg drops.
    chain.mine(2).await;
    let (created, _) = chain.create_job().await;
    chain.mine(3).await;
    wait_synced(&view, &chain).await;
    assert_eq!(view.index().await.len() as u64, JOBS + 1);
    let head = chain.head().await.header.number;
    assert!(head - created < DEPTH);

    let (_, before) = view.log_reads().get();
    chain.provider.raw_request::<_, ()>("anvil_reorg".into(), (DEPTH, Vec::<()>::new())).await.unwrap();
    wait_synced(&view, &chain).await;
    let (_, after) = view.log_reads().get();
    assert!(after - before <= DEPTH + 1, "a reorg of depth {DEPTH} read {} blocks of logs", after - before);
    assert_eq!(view.index().await.len() as u64, JOBS, "the job created in a dropped block is gone");

    let fresh_dir = tempfile::tempdir().unwrap();
    let (fresh, fresh_shutdown) = chain.scheduler(&fresh_dir);
    wait_synced(&fresh, &chain).await;
    assert_eq!(jobs(&view).await, jobs(&fresh).await, "the rolled back index is the one a fresh sync builds");
    shutdown.cancel();
    fresh_shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_creation_a_reorg_removed_is_gone_from_the_store_and_after_a_restart_until_created_again() {
    let chain = Chain::deployed().await;
    chain.create_job().await;
    chain.mine(2).await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = chain.start(&dir);
    wait_synced(&running.view, &chain).await;
    let kept = running.stored_jobs();
    assert_eq!(kept.len(), 1);

    // A job created in a block the reorg drops; its first task is due at once.
    let (created, creation) = chain.create_job().await;
    let raw: Bytes = chain.provider.raw_request("eth_getRawTransactionByHash".into(), (creation,)).await.unwrap();
    chain.mine(3).await;
    wait_synced(&running.view, &chain).await;
    let dropped_job = *running.stored_jobs().iter().find(|id| !kept.contains(id)).expect("the new job is stored");
    let first_task = keeper_shared::batch::TaskId { job_id: dropped_job, sequence: 0 };
    let task_state = |reader: &mut Store| reader.read(|tx| tx.task(first_task)).unwrap().map(|task| task.state);
    assert_eq!(task_state(&mut running.reader), Some(TaskState::Due));

    let depth = chain.head().await.header.number - created + 1;
    chain.provider.raw_request::<_, ()>("anvil_reorg".into(), (depth, Vec::<()>::new())).await.unwrap();
    wait_synced(&running.view, &chain).await;
    assert!(running.view.index().await.job(dropped_job).is_none());
    assert_eq!(running.stored_jobs(), kept, "GET /v1/jobs lists only the job still on the chain");
    assert!(running.reader.read(|tx| tx.job(dropped_job)).unwrap().is_none(), "GET /v1/jobs/{{id}} finds nothing");
    assert_eq!(task_state(&mut running.reader), Some(TaskState::Dropped), "its due task ends with the job");

    // A restart loads only what is on the chain.
    running.stop().await;
    let mut running = chain.start(&dir);
    // The head is published with the next block processed.
    chain.mine(1).await;
    wait_synced(&running.view, &chain).await;
    assert_eq!(jobs(&running.view).await.iter().map(|job| job.id).collect::<Vec<_>>(), kept);
    assert_eq!(running.stored_jobs(), kept);

    // The same creation mined on the new branch: indexed, stored and due again.
    // anvil answers before it has mined the block: wait for the receipt, then for the scheduler.
    let sent: B256 = chain.provider.raw_request("eth_sendRawTransaction".into(), (raw,)).await.unwrap();
    let deadline = Instant::now() + DEADLINE;
    while chain.provider.get_transaction_receipt(sent).await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "the creation sent again is not mined within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_synced(&running.view, &chain).await;

    assert!(running.view.index().await.job(dropped_job).is_some());
    assert_eq!(running.stored_jobs().len(), 2);
    assert!(running.reader.read(|tx| tx.job(dropped_job)).unwrap().is_some());
    assert_eq!(task_state(&mut running.reader), Some(TaskState::Due));
    running.stop().await;
}
