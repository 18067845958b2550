//! The scheduler on a chain with a long history (issue 19), at a scale a test can mine: anvil's
//! `anvil_mine` slows down as the chain grows (about 30 blocks/s past 20,000 blocks on this machine),
//! so the history is a few thousand blocks and the scheduler's step and undo depth are scaled down
//! with it ([`Scheduler::with_history_limits`]); `make history` measures the real sizes.
//!
//! 1. A first start reads the history in steps, reports its progress, and holds one step's logs at a
//!    time. 2. A reorg of depth `d` reads about `d` blocks of logs and leaves the index a fresh sync
//!    builds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::Filter;
use keeper_devnet::{deploy_network, NetworkConfig};
use keeper_shared::contracts::JobManager;
use keeper_shared::deployment::Deployment;
use keeperd::chain::{RpcPool, RpcPoolConfig};
use keeperd::jobs::{Action, JobSpec, Trigger};
use keeperd::scheduler::{Job, ScheduleView, Scheduler};
use keeperd::store::{SharedStore, Store};
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
    /// The network deployed, then `JOBS` jobs each followed by `GAP` empty blocks.
    async fn with_history() -> Self {
        let anvil = common::anvil();
        let (owner, provider) = common::wallet_provider(&anvil, 0);
        let deployment = deploy_network(&provider, &NetworkConfig::devnet(owner)).await.unwrap();
        let chain = Self { provider, deployment, endpoint: anvil.endpoint_url(), _anvil: anvil };
        for _ in 0..JOBS {
            chain.create_job().await;
            chain.mine(GAP).await;
        }
        chain
    }

    async fn create_job(&self) -> u64 {
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
        receipt.block_number.unwrap()
    }

    async fn mine(&self, blocks: u64) {
        self.provider.raw_request::<_, ()>("anvil_mine".into(), (U256::from(blocks),)).await.unwrap();
    }

    async fn head(&self) -> alloy::rpc::types::Block {
        self.provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await.unwrap().unwrap()
    }

    /// A scheduler at depth 0 on a fresh store, running until the returned token is cancelled.
    fn scheduler(&self, dir: &TempDir) -> (ScheduleView, CancellationToken) {
        let pool = RpcPool::new(RpcPoolConfig::new(vec![self.endpoint.clone()])).unwrap();
        let store = SharedStore::new(Store::open(dir.path().join("keeperd.db")).unwrap());
        let (scheduler, view) = Scheduler::new(pool, store, &self.deployment, 0, Duration::from_millis(20));
        let scheduler = scheduler.with_history_limits(STEP, UNDO_DEPTH);
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move { scheduler.run(token).await.unwrap() });
        (view, shutdown)
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
    let created = chain.create_job().await;
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
