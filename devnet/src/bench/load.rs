//! `keeper-devnet bench-load`: the load benchmark of the task pipeline. It starts anvil, deploys
//! EigenLayer and the AVS, onboards the keepers and runs one `keeperd run` per keeper, as
//! `keeper-devnet run` does (`crate::operators`: over HTTP operator 0 aggregates, over P2P every
//! operator proposes and submits by the rotation; operator 0 challenges; confirmation depth 0), then
//! creates many interval jobs (by default 1,000 at 60 s, their start times spread evenly over one
//! period so that about 17 tasks fall due every second), switches anvil to one block per second and
//! measures a window (by default 5 minutes) of due times:
//!
//! - every task due in the window against the task manager's `TaskPerformed` logs (misses and
//!   duplicates listed), with a drain period after the window for the last tasks to land;
//! - latency from due time to inclusion, in seconds (block time minus due time) and in blocks
//!   (inclusion block minus the first block whose time reached the due time: the earliest reference
//!   block the task can be signed at);
//! - batches per block, tasks per batch and gas per task (batch receipt gas / tasks in the batch);
//! - peak and final resident memory and the CPU time of each daemon and of anvil, from /proc.
//!
//! The jobs are created in a handful of blocks: automine is switched off, every `createJob` and
//! `setForwarder` is sent with an explicit nonce without waiting for its receipt, and blocks are mined
//! until the pool is empty (anvil gives each block a later second, so one block per transaction would
//! push the chain's clock far ahead of the jobs' start times).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::{SolCall, SolEvent};
use eyre::{eyre, WrapErr};
use keeper_shared::contracts::{JobManager, SampleCounter, TaskManager};
use serde::Serialize;

use super::procfs::{self, ProcessSample};
use super::stats::{self, Summary, Tally, Task};
use crate::jobs::head;
use crate::operators::{self, DeployedDevnet, DevnetOperators, Keeper};
use crate::setup::DevnetSetup;
use keeperd::jobs::schedule::SkipReason;
use keeperd::jobs::{Action, JobSpec, Trigger};

/// Escrow per benchmark job: far more than a 5-minute run charges (each task at most `MAX_FEE`).
const DEPOSIT_WEI: u128 = 100_000_000_000_000_000; // 0.1 ether
/// The most one task may charge (the spec's `maxFee`).
const MAX_FEE: u128 = 10_000_000_000_000_000; // 0.01 ether
/// Gas the counter's `increment()` gets per task.
const TASK_GAS_LIMIT: u32 = 100_000;
/// The goals.
const GOAL_P99_BLOCKS: u64 = 2;
const GOAL_RSS_KIB: u64 = 100 * 1024;

/// What `keeper-devnet bench-load` runs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The binaries, the directory and the keepers (over HTTP operator 0 aggregates; operator 0
    /// challenges unless the plan says not to, which isolates the challenger's cost).
    pub setup: DevnetSetup,
    /// Interval jobs created.
    pub jobs: u64,
    /// Their period, seconds.
    pub period: u64,
    /// The measured window of due times, seconds.
    pub duration: u64,
    /// Seconds from job creation to the first due time (setup must finish within it).
    pub lead: u64,
    /// Seconds after the window during which its last tasks may still land.
    pub drain: u64,
    /// The command line, for the report.
    pub command: String,
}

/// The benchmark's results (also written as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub command: String,
    /// `debug` or `release`: how keeperd (the daemons and this command) was built.
    pub build: &'static str,
    pub setup: SetupReport,
    pub window: WindowReport,
    pub tasks: TasksReport,
    /// From due time to inclusion, in blocks.
    pub latency_blocks: Option<Summary>,
    /// From due time to inclusion, in seconds.
    pub latency_secs: Option<Summary>,
    pub batches: BatchesReport,
    pub gas: GasReport,
    pub processes: Vec<ProcessReport>,
    pub goals: Goals,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    pub jobs: u64,
    pub period_secs: u64,
    pub keepers: usize,
    /// Whether operator 0 ran the challenger role too.
    pub challenger: bool,
    /// `http` or `p2p` (or `both`): what carried proposals and signatures.
    pub transport: &'static str,
    pub confirmations: u64,
    pub block_time_secs: u64,
    pub duration_secs: u64,
    pub drain_secs: u64,
    /// Wall time to create the jobs and allow their forwarders.
    pub create_jobs_secs: f64,
    /// Blocks the jobs and allow-list entries took.
    pub create_jobs_blocks: u64,
    /// Whether the window opened before the daemons were started (a longer `--lead` is needed).
    pub setup_overran: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowReport {
    /// Due times measured: `from_time..to_time` (unix seconds).
    pub from_time: u64,
    pub to_time: u64,
    /// The blocks whose time is in the window.
    pub from_block: u64,
    pub to_block: u64,
    /// The last block read (end of the drain period).
    pub end_block: u64,
    /// Wall-clock length of the window.
    pub wall_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TasksReport {
    #[serde(flatten)]
    pub tally: Tally,
    /// Performed tasks of due ones whose target reverted (still performed once).
    pub reverted: usize,
    /// `TaskSkipped` logs of the benchmark's jobs, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// `TaskNotExecuted` logs of the benchmark's jobs.
    pub not_executed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchesReport {
    /// Batches included in the window's blocks.
    pub count: usize,
    /// Batches in each block of the window (blocks without one count as 0).
    pub per_block: Option<Summary>,
    /// Blocks of the window holding at least one batch.
    pub blocks_with_batches: usize,
    pub blocks: usize,
    /// The batches' `taskCount`.
    pub tasks_per_batch: Option<Summary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GasReport {
    /// Receipt gas of the window's batches, summed.
    pub total_gas: u64,
    /// Tasks of those batches.
    pub tasks: u64,
    /// `total_gas / tasks`.
    pub mean_per_task: f64,
    /// Each batch's receipt gas divided by its tasks.
    pub per_task_by_batch: Option<Summary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    pub name: String,
    pub pid: u32,
    pub peak_rss_mib: f64,
    /// Resident memory at the end of the window.
    pub final_rss_mib: f64,
    /// CPU time over the window, seconds, and as a share of one core.
    pub cpu_secs_window: f64,
    pub cpu_percent_window: f64,
    /// CPU time from start to the end of the drain period.
    pub cpu_secs_total: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Goals {
    pub every_due_task_exactly_once: bool,
    pub p99_latency_at_most_2_blocks: bool,
    pub each_daemon_under_100_mib: bool,
}

/// Runs the benchmark; `None` when interrupted (Ctrl-C or SIGTERM stop the daemons and anvil).
pub async fn run<W: Write>(config: &LoadConfig, out: &mut W) -> eyre::Result<Option<LoadReport>> {
    if config.jobs == 0 || config.period == 0 || config.duration == 0 {
        return Err(eyre!("jobs, period and duration: must be positive"));
    }
    config.setup.run(out, async |anvil, out: &mut W| bench(anvil, config, out).await).await
}

/// Jobs the benchmark created: ids `first..first + starts.len()`, job `first + i` starting at `starts[i]`.
struct LoadJobs {
    first: u64,
    starts: Vec<u64>,
    blocks: u64,
}

async fn bench(anvil: &AnvilInstance, config: &LoadConfig, out: &mut impl Write) -> eyre::Result<LoadReport> {
    let (plan, transport) = (&config.setup.plan, config.setup.plan.transport);
    let devnet = DeployedDevnet::deploy(anvil, &config.setup.dir).await?;
    let (owner, provider, deployment, dir) = (devnet.owner, &devnet.provider, &devnet.deployment, &devnet.dir);
    writeln!(out, "deployed EigenLayer and the AVS; deployment file {}", devnet.deployment_file.display())?;
    let operators = DevnetOperators::onboard(anvil, &devnet, plan, |_| Ok(())).await?;
    writeln!(out, "onboarded {} keepers through EigenLayer ({} transport)", plan.keepers, transport.as_str())?;
    out.flush()?;

    let created = Instant::now();
    let jobs = create_jobs(provider, deployment, owner, config).await?;
    let create_jobs_secs = created.elapsed().as_secs_f64();
    let base = jobs.starts.first().copied().unwrap_or_default();
    let window = (base, base + config.duration);
    writeln!(
        out,
        "created {} interval jobs (ids {}..={}, every {} s, first due at {base}) and allowed their forwarders in {:.1} s ({} blocks)",
        config.jobs,
        jobs.first,
        jobs.first + config.jobs - 1,
        config.period,
        create_jobs_secs,
        jobs.blocks
    )?;

    provider
        .raw_request::<_, serde_json::Value>("evm_setIntervalMining".into(), (1u64,))
        .await
        .wrap_err("switching anvil to one block per second")?;
    let start_block = provider.get_block_number().await?;
    let mut keepers = operators.spawn(&config.setup.keeperd)?;
    let (_, now) = head(provider).await?;
    let setup_overran = now >= window.0;
    writeln!(
        out,
        "started {} keeperd daemons at block {start_block} (logs in {}/operator-*/keeperd.log); the window opens in {} s{}",
        keepers.len(),
        dir.display(),
        window.0.saturating_sub(now),
        if setup_overran { " (already open: setup took longer than --lead)" } else { "" }
    )?;
    out.flush()?;

    let mut processes: Vec<Watched> = keepers
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let name = match (i, transport.uses_p2p()) {
                (0, false) => "keeperd 0 (aggregator)".into(),
                _ => format!("keeperd {i}"),
            };
            Watched::new(name, k.daemon.pid().unwrap_or_default())
        })
        .collect();
    processes.push(Watched::new("anvil".into(), anvil.child().id()));

    let measured =
        measure(provider, deployment, &jobs, config, window, start_block, &mut keepers, &mut processes, out).await;
    for keeper in &mut keepers {
        keeper.daemon.stop(Duration::from_secs(10));
    }
    let (end_block, wall) = measured?;
    writeln!(out, "stopped the daemons; reading blocks {start_block}..={end_block}")?;
    out.flush()?;

    let observed = observe(provider, deployment.avs.task_manager, start_block, end_block).await?;
    let setup = SetupReport {
        jobs: config.jobs,
        period_secs: config.period,
        keepers: plan.keepers,
        challenger: plan.challenger,
        transport: transport.as_str(),
        confirmations: 0,
        block_time_secs: 1,
        duration_secs: config.duration,
        drain_secs: config.drain,
        create_jobs_secs,
        create_jobs_blocks: jobs.blocks,
        setup_overran,
    };
    let report = analyse(config, setup, &jobs, window, end_block, wall, &observed, &processes)?;
    print_report(&report, out)?;
    Ok(report)
}

/// Deploys a counter, creates the jobs against it and allows their forwarders, in a few blocks.
async fn create_jobs<P: Provider>(
    provider: &P,
    deployment: &keeper_shared::deployment::Deployment,
    owner: Address,
    config: &LoadConfig,
) -> eyre::Result<LoadJobs> {
    let counter = SampleCounter::deploy(provider, owner).await.wrap_err("deploying the counter")?;
    let manager = JobManager::new(deployment.avs.job_manager, provider);
    let first = u64::try_from(manager.nextJobId().call().await.wrap_err("reading nextJobId")?)
        .map_err(|_| eyre!("nextJobId does not fit 64 bits"))?;
    let (before, now) = head(provider).await?;
    let starts = stats::spread_starts(now + config.lead, config.period, config.jobs);
    let spec = |start| JobSpec {
        trigger: Trigger::Interval { start, period: config.period },
        action: Action::Call { target: *counter.address(), data: SampleCounter::incrementCall {}.abi_encode().into() },
        gas_limit: TASK_GAS_LIMIT,
        max_fee: MAX_FEE,
        expiry: None,
    };
    let deposit = U256::from(DEPOSIT_WEI);
    let first_spec = spec(starts[0]).to_job_manager()?;
    let create_gas =
        manager.createJob(first_spec).value(deposit).estimate_gas().await.wrap_err("estimating createJob")?;
    let forwarder = manager.forwarderOf(U256::from(first)).call().await?;
    let allow_gas = counter.setForwarder(forwarder, true).estimate_gas().await.wrap_err("estimating setForwarder")?;
    let latest =
        provider.get_block_by_number(BlockNumberOrTag::Latest).await?.ok_or_else(|| eyre!("no latest block"))?;
    // Full blocks raise the base fee 12.5% each: leave room for a couple of dozen of them.
    let priority = 1_000_000_000u128;
    let max_fee = u128::from(latest.header.base_fee_per_gas.unwrap_or(1_000_000_000)) * 20 + priority;
    let (create_gas, allow_gas) = (create_gas * 6 / 5, allow_gas * 6 / 5);
    // As many as fit one block: anvil drops the pending transactions of a sender whose next one did
    // not fit the block it was building, so each block is filled and mined before the next is sent.
    let per_block = |gas: u64| usize::try_from((latest.header.gas_limit * 9 / 10 / gas).max(1)).unwrap_or(1);

    provider.raw_request::<_, serde_json::Value>("evm_setAutomine".into(), (false,)).await?;
    let mut nonce = provider.get_transaction_count(owner).await?;
    // Sent without waiting for receipts: whether each landed is checked from the logs once mined.
    for (chunk, starts) in starts.chunks(per_block(create_gas)).enumerate() {
        for &start in starts {
            let _pending = manager
                .createJob(spec(start).to_job_manager()?)
                .value(deposit)
                .nonce(nonce)
                .gas(create_gas)
                .max_fee_per_gas(max_fee)
                .max_priority_fee_per_gas(priority)
                .send()
                .await
                .wrap_err_with(|| format!("sending createJob (block {chunk} of the jobs)"))?;
            nonce += 1;
        }
        mine_until(provider, owner, nonce).await?;
    }
    let ids: Vec<u64> = (first..first + config.jobs).collect();
    for ids in ids.chunks(per_block(allow_gas)) {
        for &id in ids {
            let forwarder = manager.forwarderOf(U256::from(id)).call().await?;
            let _pending = counter
                .setForwarder(forwarder, true)
                .nonce(nonce)
                .gas(allow_gas)
                .max_fee_per_gas(max_fee)
                .max_priority_fee_per_gas(priority)
                .send()
                .await
                .wrap_err_with(|| format!("sending setForwarder for job {id}"))?;
            nonce += 1;
        }
        mine_until(provider, owner, nonce).await?;
    }
    let (after, _) = head(provider).await?;

    // Every job and every allow-list entry landed (a reverted transaction emits nothing).
    let created = provider
        .get_logs(
            &Filter::new()
                .address(deployment.avs.job_manager)
                .event_signature(JobManager::JobCreated::SIGNATURE_HASH)
                .from_block(before + 1)
                .to_block(after),
        )
        .await?
        .len() as u64;
    let allowed = provider
        .get_logs(
            &Filter::new()
                .address(*counter.address())
                .event_signature(SampleCounter::ForwarderSet::SIGNATURE_HASH)
                .from_block(before + 1)
                .to_block(after),
        )
        .await?
        .len() as u64;
    if created != config.jobs || allowed != config.jobs {
        return Err(eyre!("{created} jobs created and {allowed} forwarders allowed, expected {} each", config.jobs));
    }
    Ok(LoadJobs { first, starts, blocks: after - before })
}

/// Mines blocks until `owner`'s transactions up to nonce `next` are in (a few at most).
async fn mine_until<P: Provider>(provider: &P, owner: Address, next: u64) -> eyre::Result<()> {
    for _ in 0..4 {
        provider.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await?;
        let mined = provider.get_transaction_count(owner).block_id(BlockId::latest()).await?;
        if mined >= next {
            return Ok(());
        }
    }
    let pool: serde_json::Value = provider.raw_request("txpool_status".into(), ()).await?;
    Err(eyre!("the job transactions up to nonce {next} were not mined (pool: {pool})"))
}

/// A process whose memory and CPU time the report gives.
struct Watched {
    name: String,
    pid: u32,
    at_window_start: Option<ProcessSample>,
    at_window_end: Option<ProcessSample>,
    last: Option<ProcessSample>,
}

impl Watched {
    fn new(name: String, pid: u32) -> Self {
        Self { name, pid, at_window_start: None, at_window_end: None, last: None }
    }

    fn sample(&mut self) {
        if let Ok(sample) = procfs::sample(self.pid) {
            self.last = Some(sample);
        }
    }
}

/// Waits out the window and the drain period, sampling the processes and printing progress; returns
/// the last block and the window's wall-clock length.
#[allow(clippy::too_many_arguments)]
async fn measure<P: Provider>(
    provider: &P,
    deployment: &keeper_shared::deployment::Deployment,
    jobs: &LoadJobs,
    config: &LoadConfig,
    window: (u64, u64),
    start_block: u64,
    keepers: &mut [Keeper],
    processes: &mut [Watched],
    out: &mut impl Write,
) -> eyre::Result<(u64, f64)> {
    let end_time = window.1 + config.drain;
    let (_, now) = head(provider).await?;
    // Generous: a chain that stops producing blocks must not hang the benchmark.
    let deadline = Instant::now() + Duration::from_secs(end_time.saturating_sub(now) + 120);
    let mut opened: Option<Instant> = None;
    let mut wall = 0.0;
    let mut next_block = start_block;
    let mut performed = 0usize;
    let mut last_progress = Instant::now();
    let job_ids = jobs.first..jobs.first + jobs.starts.len() as u64;
    loop {
        let (number, timestamp) = head(provider).await?;
        for process in processes.iter_mut() {
            process.sample();
        }
        if opened.is_none() && timestamp >= window.0 {
            opened = Some(Instant::now());
            for process in processes.iter_mut() {
                process.at_window_start = process.last;
            }
            writeln!(out, "window opened at block {number}")?;
        }
        if let (Some(at), true) = (opened, timestamp >= window.1) {
            if processes.iter().any(|p| p.at_window_end.is_none()) {
                wall = at.elapsed().as_secs_f64();
                for process in processes.iter_mut() {
                    process.at_window_end = process.last;
                }
                writeln!(out, "window closed at block {number}; draining {} s", config.drain)?;
            }
        }
        if timestamp >= end_time {
            return Ok((number, wall));
        }
        operators::check_running(keepers)?;
        if Instant::now() > deadline {
            return Err(eyre!("the chain stopped advancing (block {number}, time {timestamp})"));
        }
        if last_progress.elapsed() >= Duration::from_secs(15) && number >= next_block {
            let logs = task_logs(provider, deployment.avs.task_manager, next_block, number).await?;
            performed += logs
                .iter()
                .filter_map(|log| TaskManager::TaskPerformed::decode_log_data(log.data()).ok())
                .filter(|e| u64::try_from(e.jobId).is_ok_and(|id| job_ids.contains(&id)))
                .count();
            next_block = number + 1;
            last_progress = Instant::now();
            let aggregator_rss = processes.first().and_then(|p| p.last).map_or(0, |s| s.rss_kib / 1024);
            let phase = if timestamp < window.0 {
                format!("window opens in {} s", window.0 - timestamp)
            } else if timestamp < window.1 {
                format!("{} s of {} s", timestamp - window.0, config.duration)
            } else {
                "draining".to_string()
            };
            writeln!(
                out,
                "block {number} ({phase}): {performed} tasks performed so far; aggregator RSS {aggregator_rss} MiB"
            )?;
            out.flush()?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Every log of the task manager the report reads, blocks `from..=to`.
async fn task_logs<P: Provider>(provider: &P, task_manager: Address, from: u64, to: u64) -> eyre::Result<Vec<Log>> {
    let filter = Filter::new()
        .address(task_manager)
        .event_signature(vec![
            TaskManager::TaskPerformed::SIGNATURE_HASH,
            TaskManager::TaskSkipped::SIGNATURE_HASH,
            TaskManager::TaskNotExecuted::SIGNATURE_HASH,
            TaskManager::BatchResponded::SIGNATURE_HASH,
        ])
        .from_block(from)
        .to_block(to);
    provider.get_logs(&filter).await.wrap_err_with(|| format!("reading task logs of blocks {from}..={to}"))
}

/// What the chain recorded during the run.
struct Observed {
    /// `(number, timestamp)` of every block read, in order.
    blocks: Vec<(u64, u64)>,
    logs: Vec<Log>,
    /// Receipt gas of each batch transaction.
    gas: HashMap<B256, u64>,
}

async fn observe<P: Provider>(provider: &P, task_manager: Address, from: u64, to: u64) -> eyre::Result<Observed> {
    let mut blocks = Vec::new();
    for number in from..=to {
        let block = provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await?
            .ok_or_else(|| eyre!("block {number} is missing"))?;
        blocks.push((number, block.header.timestamp));
    }
    let logs = task_logs(provider, task_manager, from, to).await?;
    let mut gas = HashMap::new();
    for log in &logs {
        if log.topic0() != Some(&TaskManager::BatchResponded::SIGNATURE_HASH) {
            continue;
        }
        let Some(tx) = log.transaction_hash else { continue };
        if gas.contains_key(&tx) {
            continue;
        }
        let receipt = provider
            .get_transaction_receipt(tx)
            .await?
            .ok_or_else(|| eyre!("no receipt for batch transaction {tx}"))?;
        gas.insert(tx, receipt.gas_used);
    }
    Ok(Observed { blocks, logs, gas })
}

#[allow(clippy::too_many_arguments)]
fn analyse(
    config: &LoadConfig,
    setup: SetupReport,
    jobs: &LoadJobs,
    window: (u64, u64),
    end_block: u64,
    wall: f64,
    observed: &Observed,
    processes: &[Watched],
) -> eyre::Result<LoadReport> {
    let job_ids = jobs.first..jobs.first + jobs.starts.len() as u64;
    let ours = |job: U256| u64::try_from(job).ok().filter(|id| job_ids.contains(id));

    let mut due = BTreeSet::new();
    for (i, &start) in jobs.starts.iter().enumerate() {
        for sequence in stats::due_sequences(start, config.period, window.0, window.1) {
            due.insert(Task { job: jobs.first + i as u64, sequence });
        }
    }
    let mut performed = Vec::new();
    let mut included: BTreeMap<Task, u64> = BTreeMap::new();
    let mut reverted = 0;
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut not_executed = 0;
    // (block, tx, task count) of each batch.
    let mut batches: Vec<(u64, Option<B256>, u64)> = Vec::new();
    for log in &observed.logs {
        let block = log.block_number.unwrap_or_default();
        if let Ok(e) = TaskManager::TaskPerformed::decode_log_data(log.data()) {
            let Some(job) = ours(e.jobId) else { continue };
            let task = Task { job, sequence: e.sequence };
            performed.push(task);
            included.entry(task).or_insert(block);
            if !e.success && due.contains(&task) {
                reverted += 1;
            }
        } else if let Ok(e) = TaskManager::TaskSkipped::decode_log_data(log.data()) {
            if ours(e.jobId).is_some() {
                let reason = SkipReason::from_u8(e.reason).map_or_else(|| e.reason.to_string(), |r| format!("{r:?}"));
                *skipped.entry(reason).or_default() += 1;
            }
        } else if let Ok(e) = TaskManager::TaskNotExecuted::decode_log_data(log.data()) {
            if ours(e.jobId).is_some() {
                not_executed += 1;
            }
        } else if let Ok(e) = TaskManager::BatchResponded::decode_log_data(log.data()) {
            let tasks = u64::try_from(e.taskCount).unwrap_or(u64::MAX);
            batches.push((block, log.transaction_hash, tasks));
        }
    }
    let tally = stats::tally(&due, &performed);

    let timestamps: HashMap<u64, u64> = observed.blocks.iter().copied().collect();
    let mut latency_blocks = Vec::new();
    let mut latency_secs = Vec::new();
    for task in &due {
        let Some(&block) = included.get(task) else { continue };
        let index = usize::try_from(task.job - jobs.first)?;
        let due_time = jobs.starts[index] + task.sequence * config.period;
        let due_block = stats::first_block_at(&observed.blocks, due_time).unwrap_or(block);
        latency_blocks.push(block.saturating_sub(due_block));
        latency_secs.push(timestamps.get(&block).copied().unwrap_or(due_time).saturating_sub(due_time));
    }

    let from_block = stats::first_block_at(&observed.blocks, window.0).unwrap_or(end_block);
    let to_block = stats::first_block_at(&observed.blocks, window.1).map_or(end_block, |b| b.saturating_sub(1));
    let in_window: Vec<&(u64, Option<B256>, u64)> =
        batches.iter().filter(|(block, _, _)| (from_block..=to_block).contains(block)).collect();
    let mut per_block: BTreeMap<u64, u64> = (from_block..=to_block).map(|b| (b, 0)).collect();
    for (block, _, _) in &in_window {
        *per_block.entry(*block).or_default() += 1;
    }
    let per_block: Vec<u64> = per_block.into_values().collect();
    let tasks_per_batch: Vec<u64> = in_window.iter().map(|(_, _, tasks)| *tasks).collect();
    let mut total_gas = 0u64;
    let mut gas_tasks = 0u64;
    let mut per_task = Vec::new();
    for (_, tx, tasks) in &in_window {
        let Some(gas) = tx.and_then(|tx| observed.gas.get(&tx).copied()) else { continue };
        if *tasks == 0 {
            continue;
        }
        total_gas += gas;
        gas_tasks += tasks;
        per_task.push(gas / tasks);
    }

    let process_reports: Vec<ProcessReport> = processes.iter().map(|p| process_report(p, wall)).collect();
    let daemons_small =
        processes.iter().filter(|p| p.name != "anvil").all(|p| p.last.is_some_and(|s| s.peak_rss_kib < GOAL_RSS_KIB));
    let latency_blocks = Summary::of(&latency_blocks);
    let goals = Goals {
        every_due_task_exactly_once: tally.exactly_once(),
        p99_latency_at_most_2_blocks: latency_blocks.as_ref().is_some_and(|s| s.p99 <= GOAL_P99_BLOCKS),
        each_daemon_under_100_mib: daemons_small,
    };
    Ok(LoadReport {
        command: config.command.clone(),
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        setup,
        window: WindowReport {
            from_time: window.0,
            to_time: window.1,
            from_block,
            to_block,
            end_block,
            wall_secs: wall,
        },
        tasks: TasksReport { tally, reverted, skipped, not_executed },
        latency_blocks,
        latency_secs: Summary::of(&latency_secs),
        batches: BatchesReport {
            count: in_window.len(),
            blocks_with_batches: per_block.iter().filter(|&&n| n > 0).count(),
            blocks: per_block.len(),
            per_block: Summary::of(&per_block),
            tasks_per_batch: Summary::of(&tasks_per_batch),
        },
        gas: GasReport {
            total_gas,
            tasks: gas_tasks,
            mean_per_task: if gas_tasks == 0 { 0.0 } else { total_gas as f64 / gas_tasks as f64 },
            per_task_by_batch: Summary::of(&per_task),
        },
        processes: process_reports,
        goals,
    })
}

fn process_report(process: &Watched, wall: f64) -> ProcessReport {
    let ticks = procfs::clock_ticks_per_second() as f64;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let last = process.last.unwrap_or_default();
    let end = process.at_window_end.unwrap_or(last);
    let window_ticks = end.cpu_ticks.saturating_sub(process.at_window_start.map_or(0, |s| s.cpu_ticks));
    let cpu_secs_window = window_ticks as f64 / ticks;
    ProcessReport {
        name: process.name.clone(),
        pid: process.pid,
        peak_rss_mib: mib(last.peak_rss_kib),
        final_rss_mib: mib(end.rss_kib),
        cpu_secs_window,
        cpu_percent_window: if wall > 0.0 { 100.0 * cpu_secs_window / wall } else { 0.0 },
        cpu_secs_total: last.cpu_ticks as f64 / ticks,
    }
}

fn summary_line(summary: &Option<Summary>, unit: &str) -> String {
    match summary {
        Some(s) => format!(
            "p50 {}, p90 {}, p99 {}, max {}, mean {:.2}{unit} (n = {})",
            s.p50, s.p90, s.p99, s.max, s.mean, s.count
        ),
        None => "none".to_string(),
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn print_report(report: &LoadReport, out: &mut impl Write) -> eyre::Result<()> {
    let s = &report.setup;
    let w = &report.window;
    let t = &report.tasks;
    writeln!(out, "\n== load benchmark ({} build of keeperd) ==", report.build)?;
    writeln!(out, "command: {}", report.command)?;
    writeln!(
        out,
        "{} interval jobs every {} s, {} keepers (challenger {}, {} transport), {}-second blocks, confirmation depth {}; due times {}..{} ({} s), blocks {}..={} ({:.0} s of wall time), drain {} s",
        s.jobs, s.period_secs, s.keepers, if s.challenger { "on" } else { "off" }, s.transport, s.block_time_secs, s.confirmations, w.from_time, w.to_time, s.duration_secs,
        w.from_block, w.to_block, w.wall_secs, s.drain_secs
    )?;
    writeln!(
        out,
        "tasks: due {}, performed exactly once {}, missed {}, duplicated {}, target reverted {}; performed outside the window {}; skipped {:?}; not executed {}",
        t.tally.due,
        t.tally.performed_once,
        t.tally.missed.len(),
        t.tally.duplicated.len(),
        t.reverted,
        t.tally.outside_window,
        t.skipped,
        t.not_executed
    )?;
    if !t.tally.missed.is_empty() {
        let first: Vec<String> = t.tally.missed.iter().take(10).map(|m| format!("{}/{}", m.job, m.sequence)).collect();
        writeln!(out, "  missed (job/sequence, first 10): {}", first.join(", "))?;
    }
    writeln!(out, "latency due -> inclusion, blocks: {}", summary_line(&report.latency_blocks, " blocks"))?;
    writeln!(out, "latency due -> inclusion, seconds: {}", summary_line(&report.latency_secs, " s"))?;
    let b = &report.batches;
    writeln!(
        out,
        "batches: {} in {} of the window's {} blocks; per block: {}",
        b.count,
        b.blocks_with_batches,
        b.blocks,
        summary_line(&b.per_block, "")
    )?;
    writeln!(out, "tasks per batch: {}", summary_line(&b.tasks_per_batch, ""))?;
    let g = &report.gas;
    writeln!(
        out,
        "gas per task: {:.0} (receipt gas {} / {} tasks); by batch: {}",
        g.mean_per_task,
        g.total_gas,
        g.tasks,
        summary_line(&g.per_task_by_batch, " gas")
    )?;
    writeln!(
        out,
        "{:<24} {:>6} {:>14} {:>15} {:>18} {:>14}",
        "process", "pid", "peak RSS MiB", "final RSS MiB", "CPU s (window)", "CPU s (total)"
    )?;
    for p in &report.processes {
        writeln!(
            out,
            "{:<24} {:>6} {:>14.1} {:>15.1} {:>10.1} ({:>4.0}%) {:>14.1}",
            p.name, p.pid, p.peak_rss_mib, p.final_rss_mib, p.cpu_secs_window, p.cpu_percent_window, p.cpu_secs_total
        )?;
    }
    let goals = &report.goals;
    writeln!(
        out,
        "goals: every due task performed exactly once: {}; p99 latency <= 2 blocks: {}; each daemon under 100 MiB RSS: {}",
        met(goals.every_due_task_exactly_once),
        met(goals.p99_latency_at_most_2_blocks),
        met(goals.each_daemon_under_100_mib)
    )?;
    out.flush()?;
    Ok(())
}

/// Writes the report as pretty JSON.
pub fn write_report(report: &LoadReport, path: &Path) -> eyre::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(path, json + "\n").wrap_err_with(|| format!("writing the report {}", path.display()))
}
