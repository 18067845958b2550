//! The task pipeline end to end: a fresh anvil with EigenLayer and
//! the AVS, 3-4 operators each running the real `keeperd run` binary on its own data dir, jobs on
//! the sample targets, and outcomes read from the chain. Every scenario checks that no task
//! `(jobId, sequence)` was performed twice, and that the targets saw exactly the performed calls.
//!
//! 1. pause, resume and cancel; 2. escrow running out; 3. an operator offline; 4. kill -9 of the
//!    aggregator and of a keeper at several points, restarted on the same data dir; 5. reorgs at
//!    confirmation depth 0, one of them while a keeper is down; 6. economic security: a job updated between
//!    signing and submission, an operator deallocating, and a job unprofitable at the base fee (its
//!    reason read with the real `keeperctl task show` on the aggregator's socket).
//!
//! Each test owns every process it starts (guards kill on drop). On failure the temp dir is kept
//! and its path printed with the tail of every daemon's log (`PIPELINE_E2E_KEEP=1` keeps it always).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::contract::SolCallBuilder;
use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, I256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use keeper_devnet::jobs;
use keeper_devnet::operators::{node_nonce_provider, DeployedDevnet, DevnetOperator};
use keeper_devnet::pipeline::{free_port, performed_tasks};
use keeper_devnet::Daemon;
use keeper_shared::contracts::{
    BlsKeyRegistry, JobManager, SampleCounter, SampleLiquidationBook, SampleOracle, SamplePriceMirror, SampleVault,
    SampleVaultResolver, TaskManager,
};
use keeper_shared::deployment::Deployment;
use keeper_shared::eigenlayer::allocation_manager::AllocationManager;
use keeperd::jobs::schedule::event_sequence;
use keeperd::jobs::{Action, EventFilter, JobSpec, Trigger};
use tempfile::TempDir;

const ETHER: u64 = 1_000_000_000_000_000_000;
const GAS_LIMIT: u32 = 300_000;
const MAX_FEE: u128 = 10_000_000_000_000_000;
/// `SkipReason` values of `TaskSkipped` (contracts/src/interfaces/ITaskManager.sol).
const SKIP_SPEC_MISMATCH: u8 = 0;
const SKIP_JOB_NOT_ACTIVE: u8 = 1;
const SKIP_ALREADY_PERFORMED: u8 = 3;
const SKIP_UNFUNDED: u8 = 4;
/// How long the pipeline gets to do something it should do within a few blocks.
const SOON: Duration = Duration::from_secs(25);
/// How long a transaction of the test gets to be mined (a block a second).
const RECEIPT_DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------

/// One operator's `keeperd run` (the harness's guard: restartable on the same config and data dir,
/// every start appending to the same log, killed when dropped).
fn spawn_daemon(config: &Path) -> Daemon {
    Daemon::spawn(Path::new(env!("CARGO_BIN_EXE_keeperd")), config).unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------------------------------------

struct Operator {
    config: PathBuf,
}

/// A job created by the test.
#[derive(Debug, Clone, Copy)]
struct TestJob {
    id: U256,
    forwarder: Address,
}

/// A `TaskPerformed` log.
#[derive(Debug, Clone, Copy)]
struct Performed {
    job: U256,
    sequence: u64,
    block: u64,
    success: bool,
}

/// anvil, the deployment, the operators' files and daemons, and the sample targets. Fields drop in
/// order: the daemons go before anvil.
struct Net {
    daemons: Vec<Option<Daemon>>,
    operators: Vec<Operator>,
    provider: DynProvider,
    deployment: Deployment,
    counter: Address,
    oracle: Address,
    mirror: Address,
    /// Owned: anvil is killed when the network is dropped.
    anvil: AnvilInstance,
    dir: Option<TempDir>,
    started: Instant,
}

impl Net {
    /// Deploys everything and onboards one operator per weight (in whole tokens); operator
    /// `aggregator` also aggregates and challenges. No daemon runs yet, and anvil still automines.
    async fn setup(weights: &[u64], aggregator: usize) -> Self {
        Self::setup_on(common::anvil(), weights, aggregator).await
    }

    /// [`Net::setup`] on an anvil the caller started.
    async fn setup_on(anvil: AnvilInstance, weights: &[u64], aggregator: usize) -> Self {
        let started = Instant::now();
        // The nonce is read from the node for every transaction: the reorg scenarios drop the
        // test's own transactions.
        let (owner, provider) = node_nonce_provider(&anvil, 0);
        let dir = tempfile::tempdir().unwrap();
        let devnet = DeployedDevnet::deploy_as(owner, provider, dir.path()).await.unwrap();
        let listen = format!("127.0.0.1:{}", free_port().unwrap());

        let mut operators = Vec::new();
        let rpc_url = anvil.endpoint_url();
        for (i, weight) in weights.iter().enumerate() {
            let roles = if i == aggregator { vec!["keeper", "aggregator", "challenger"] } else { vec!["keeper"] };
            let operator =
                DevnetOperator::onboard(&anvil, &devnet, i, *weight, roles, rpc_url.as_str(), &listen).await.unwrap();
            operators.push(Operator { config: operator.config });
        }
        let DeployedDevnet { provider, deployment, .. } = devnet;

        let counter = *SampleCounter::deploy(&provider, owner).await.unwrap().address();
        let oracle = *SampleOracle::deploy(&provider, owner).await.unwrap().address();
        let mirror = *SamplePriceMirror::deploy(&provider, owner, oracle).await.unwrap().address();
        let daemons = operators.iter().map(|_| None).collect();
        Self { daemons, operators, provider, deployment, counter, oracle, mirror, anvil, dir: Some(dir), started }
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    /// From now on one block a second, as on a real chain (and as the load goals assume).
    /// Restarts anvil on its port from `state` (a spread history): the provider, the daemons and
    /// their files keep the same endpoint.
    fn reload_anvil(&mut self, state: &Path) {
        let port = self.anvil.port();
        let _ = self.anvil.child_mut().kill();
        let _ = self.anvil.child_mut().wait();
        self.anvil = keeper_devnet::anvil::start_loaded(&common::anvil_binary(), port, state).unwrap();
    }

    async fn mine_every_second(&self) {
        self.provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,)).await.unwrap();
    }

    fn start(&mut self, operator: usize) {
        match &mut self.daemons[operator] {
            Some(daemon) => daemon.start().unwrap(),
            slot @ None => *slot = Some(spawn_daemon(&self.operators[operator].config)),
        }
    }

    fn daemon(&mut self, operator: usize) -> &mut Daemon {
        self.daemons[operator].as_mut().expect("daemon started")
    }

    async fn now(&self) -> u64 {
        self.provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    /// `anvil_reorg`: replaces the last `depth` blocks with new ones, empty or holding the dropped
    /// blocks' transactions again (in their order, in the first new block). Mining pauses meanwhile
    /// so that the dropped blocks are the ones read. Returns the head after the reorg.
    async fn reorg(&self, depth: u64, mine_dropped_again: bool) -> u64 {
        self.provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (0u64,)).await.unwrap();
        let head = self.head().await;
        let mut again = Vec::new();
        if mine_dropped_again {
            for number in head + 1 - depth..=head {
                let block = self.provider.get_block_by_number(number.into()).await.unwrap().unwrap();
                for hash in block.transactions.hashes() {
                    let raw: alloy::primitives::Bytes =
                        self.provider.raw_request("eth_getRawTransactionByHash".into(), (hash,)).await.unwrap();
                    again.push(serde_json::json!([raw, 0]));
                }
            }
        }
        self.provider.raw_request::<_, ()>("anvil_reorg".into(), (depth, again)).await.unwrap();
        self.mine_every_second().await;
        self.head().await
    }

    async fn head(&self) -> u64 {
        self.provider.get_block_number().await.unwrap()
    }

    /// `counter.increment()` every `period` seconds from `start`.
    fn counter_job(&self, start: u64, period: u64) -> JobSpec {
        JobSpec {
            trigger: Trigger::Interval { start, period },
            action: Action::Call { target: self.counter, data: SampleCounter::incrementCall {}.abi_encode().into() },
            gas_limit: GAS_LIMIT,
            max_fee: MAX_FEE,
            expiry: None,
        }
    }

    /// `mirror.sync()` on every `AnswerUpdated` of the oracle.
    fn mirror_job(&self) -> JobSpec {
        JobSpec {
            trigger: Trigger::Event(EventFilter {
                start: 0,
                emitter: self.oracle,
                topic0: SampleOracle::AnswerUpdated::SIGNATURE_HASH,
                topics: [None, None, None],
            }),
            action: Action::Call { target: self.mirror, data: SamplePriceMirror::syncCall {}.abi_encode().into() },
            gas_limit: GAS_LIMIT,
            max_fee: MAX_FEE,
            expiry: None,
        }
    }

    /// Creates a job funded with `deposit` wei and allows its forwarder on its target.
    async fn create_job(&self, spec: &JobSpec, deposit: U256) -> TestJob {
        let job =
            jobs::create_allowed_job(&self.provider, self.deployment.avs.job_manager, spec, deposit).await.unwrap();
        TestJob { id: job.id, forwarder: job.forwarder }
    }

    fn job_manager(&self) -> JobManager::JobManagerInstance<&DynProvider> {
        JobManager::new(self.deployment.avs.job_manager, &self.provider)
    }

    /// A new oracle answer: one `AnswerUpdated`, so one task of every mirror job.
    async fn report(&self, answer: i64) -> u64 {
        let oracle = SampleOracle::new(self.oracle, &self.provider);
        receipt(oracle.report(I256::try_from(answer).unwrap())).await.block_number.unwrap()
    }

    /// The event sequences of every `AnswerUpdated` of the canonical chain.
    async fn oracle_sequences(&self) -> BTreeSet<u64> {
        let filter = Filter::new()
            .address(self.oracle)
            .event_signature(SampleOracle::AnswerUpdated::SIGNATURE_HASH)
            .from_block(self.deployment.deploy_block);
        let logs = self.provider.get_logs(&filter).await.unwrap();
        logs.iter().map(|l| event_sequence(l.block_number.unwrap(), l.log_index.unwrap()).unwrap()).collect()
    }

    /// Every `TaskPerformed` of the canonical chain, after checking that none repeats a task.
    async fn performed(&self) -> Vec<Performed> {
        let head = self.head().await;
        let all = performed_tasks(&self.provider, self.deployment.avs.task_manager, self.deployment.deploy_block, head)
            .await
            .unwrap();
        let mut seen = BTreeMap::new();
        let mut out = Vec::new();
        for (job, sequence, block, success, _, _) in all {
            if let Some(earlier) = seen.insert((job, sequence), block) {
                self.fail(&format!("job {job} task {sequence} performed twice: blocks {earlier} and {block}"));
            }
            out.push(Performed { job, sequence, block, success });
        }
        out
    }

    /// Every `TaskSkipped` of `job` on the canonical chain: (sequence, block, reason).
    async fn skipped(&self, job: &TestJob) -> Vec<(u64, u64, u8)> {
        let filter = Filter::new()
            .address(self.deployment.avs.task_manager)
            .event_signature(TaskManager::TaskSkipped::SIGNATURE_HASH)
            .topic1(job.id)
            .from_block(self.deployment.deploy_block);
        let logs = self.provider.get_logs(&filter).await.unwrap();
        logs.iter()
            .map(|log| {
                let e = TaskManager::TaskSkipped::decode_log_data(log.data()).unwrap();
                (e.sequence, log.block_number.unwrap(), e.reason)
            })
            .collect()
    }

    /// Waits (at most `timeout`) until `done` holds for the performed tasks, failing early if a
    /// running daemon exits. Returns the performed tasks.
    async fn wait_performed(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Performed]) -> bool,
    ) -> Vec<Performed> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_running();
            let performed = self.performed().await;
            if done(&performed) {
                return performed;
            }
            if Instant::now() > deadline {
                self.fail(&format!("timed out after {timeout:?} waiting for: {what}"));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until daemon `operator` logs a line containing `needle` after byte `from` of its log.
    async fn wait_log(&mut self, operator: usize, from: u64, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.daemon(operator).logged_since(from, needle) {
            self.check_running();
            if Instant::now() > deadline {
                self.fail(&format!("operator {operator} did not log {needle:?} within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Fails if a started daemon has exited.
    fn check_running(&mut self) {
        let mut exited = None;
        for (i, daemon) in self.daemons.iter_mut().enumerate() {
            if let Some(status) = daemon.as_mut().and_then(Daemon::exited) {
                exited = Some((i, status));
            }
        }
        if let Some((i, status)) = exited {
            self.fail(&format!("the daemon of operator {i} exited ({status})"));
        }
    }

    /// The checks every scenario ends with: every daemon still runs, and no log shows a role
    /// failing, an error, or slashing protection refusing to sign.
    fn check_logs(&mut self) {
        self.check_running();
        for (i, daemon) in self.daemons.iter().enumerate() {
            let Some(daemon) = daemon else { continue };
            let log = daemon.log_text();
            for bad in ["slashing protection refused", "role failed", " ERROR ", "panicked"] {
                if let Some(line) = log.lines().find(|l| l.contains(bad)) {
                    self.fail(&format!("operator {i} logged {bad:?}: {line}"));
                }
            }
        }
    }

    /// Panics with the scenario's context: the kept temp dir and each daemon's last log lines.
    fn fail(&self, message: &str) -> ! {
        let mut context = String::new();
        for (i, daemon) in self.daemons.iter().enumerate() {
            let Some(daemon) = daemon else { continue };
            let log = daemon.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            context.push_str(&format!("\n--- operator {i} ({}) log tail ---\n{tail}\n", daemon.log_path().display()));
        }
        panic!("{message} (after {:?}; files in {}){context}", self.started.elapsed(), self.dir().display());
    }

    /// How many times the counter was incremented through `job`'s forwarder.
    async fn counter_calls(&self, job: &TestJob) -> u64 {
        let counter = SampleCounter::new(self.counter, &self.provider);
        counter.countOf(job.forwarder).call().await.unwrap().to::<u64>()
    }

    async fn mirror_syncs(&self) -> u64 {
        SamplePriceMirror::new(self.mirror, &self.provider).syncs().call().await.unwrap().to::<u64>()
    }

    /// Operator `i`'s address and a provider signing as it.
    fn operator(&self, i: usize) -> (Address, DynProvider) {
        let signer = PrivateKeySigner::from(self.anvil.keys()[i + 1].clone());
        let address = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(self.anvil.endpoint_url())
            .erased();
        (address, provider)
    }

    fn registry(&self) -> BlsKeyRegistry::BlsKeyRegistryInstance<&DynProvider> {
        BlsKeyRegistry::new(self.deployment.avs.key_registry, &self.provider)
    }

    /// Every operator's stake in the keeper set that stays slashable (what a challenge could take).
    async fn slashable_stakes(&self) -> Vec<U256> {
        let mut stakes = Vec::new();
        for i in 0..self.operators.len() {
            stakes.push(self.registry().currentStake(self.operator(i).0).call().await.unwrap());
        }
        stakes
    }

    /// Every `OperatorSlashed` of the canonical chain.
    async fn slashings(&self) -> usize {
        let filter = Filter::new()
            .address(self.deployment.eigenlayer.allocation_manager)
            .event_signature(AllocationManager::OperatorSlashed::SIGNATURE_HASH)
            .from_block(self.deployment.deploy_block);
        self.provider.get_logs(&filter).await.unwrap().len()
    }

    /// Every `TaskNotExecuted` ("checked, nothing to do" on chain) of `job`.
    async fn not_executed(&self, job: &TestJob) -> usize {
        let filter = Filter::new()
            .address(self.deployment.avs.task_manager)
            .event_signature(TaskManager::TaskNotExecuted::SIGNATURE_HASH)
            .topic1(job.id)
            .from_block(self.deployment.deploy_block);
        self.provider.get_logs(&filter).await.unwrap().len()
    }

    /// Runs the real `keeperctl` with `args` against operator `i`'s control socket; its stdout.
    fn keeperctl(&self, i: usize, args: &[&str]) -> String {
        let socket = self.operators[i].config.parent().unwrap().join("data/keeperd.sock");
        let output = Command::new(keeper_devnet::binaries::keeperctl())
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .env_remove("KEEPERD_SOCKET")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "keeperctl {args:?}: {}\n{stdout}{stderr}", output.status);
        stdout
    }

    async fn job_balance(&self, job: &TestJob) -> U256 {
        U256::from(self.job_manager().jobState(job.id).call().await.unwrap().balance)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for daemon in self.daemons.iter_mut().flatten() {
            daemon.kill9();
        }
        // Kept on failure, or when asked (to read the daemons' logs of a passing run).
        if std::thread::panicking() || std::env::var_os("PIPELINE_E2E_KEEP").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("pipeline_e2e: keeping {}", dir.keep().display());
            }
        }
    }
}

/// Sends `call` and waits for its successful receipt. The gas limit is fixed: under interval mining
/// anvil's estimate fell short for the oracle's second report (it stores `block.timestamp`; the
/// estimate likely ran at the previous report's time, making that store a no-op).
/// A transaction not mined within [`RECEIPT_DEADLINE`] fails the test instead of hanging it.
async fn receipt<P: Provider, C: SolCall>(call: SolCallBuilder<P, C>) -> TransactionReceipt {
    let pending = call.gas(3_000_000).send().await.unwrap();
    let hash = *pending.tx_hash();
    let receipt = pending
        .with_timeout(Some(RECEIPT_DEADLINE))
        .get_receipt()
        .await
        .unwrap_or_else(|e| panic!("transaction {hash} not mined within {RECEIPT_DEADLINE:?}: {e}"));
    assert!(receipt.status(), "transaction {} reverted", receipt.transaction_hash);
    receipt
}

async fn receipt_of<P: Provider, C: SolCall>(call: SolCallBuilder<P, C>) {
    receipt(call).await;
}

fn of(performed: &[Performed], job: &TestJob) -> Vec<Performed> {
    performed.iter().filter(|p| p.job == job.id).copied().collect()
}

fn count_after(performed: &[Performed], job: &TestJob, block: u64) -> usize {
    performed.iter().filter(|p| p.job == job.id && p.block > block).count()
}

/// Every performed call of `job` reached the counter once (and the target never reverted).
async fn assert_counter_matches(net: &Net, performed: &[Performed], job: &TestJob) {
    let tasks = of(performed, job);
    assert!(tasks.iter().all(|p| p.success), "a counter call reverted: {tasks:?}");
    assert_eq!(net.counter_calls(job).await, tasks.len() as u64, "counter calls of job {}", job.id);
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------------------

/// A paused job is not performed while paused and is performed again once resumed; a cancelled
/// job is never performed again; the other job keeps going throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_job_waits_for_resume_and_cancelled_job_stops_for_good() {
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let now = net.now().await;
    let paused = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    let other = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    net.wait_performed("both jobs performed", SOON, |p| !of(p, &paused).is_empty() && !of(p, &other).is_empty()).await;

    let pause_block = receipt(net.job_manager().pauseJob(paused.id)).await.block_number.unwrap();
    // While paused, the other job is performed three more times (a few batches: the pipeline runs).
    net.wait_performed("the other job performed while the first is paused", SOON, |p| {
        count_after(p, &other, pause_block) >= 3
    })
    .await;
    let resume_block = receipt(net.job_manager().resumeJob(paused.id)).await.block_number.unwrap();
    let performed = net.performed().await;
    let while_paused: Vec<_> =
        of(&performed, &paused).into_iter().filter(|p| p.block > pause_block && p.block <= resume_block).collect();
    if !while_paused.is_empty() {
        net.fail(&format!(
            "job {} performed while paused (blocks {pause_block}..={resume_block}): {while_paused:?}",
            paused.id
        ));
    }
    net.wait_performed("the resumed job performed again", SOON, |p| count_after(p, &paused, resume_block) >= 1).await;

    let cancel_block = receipt(net.job_manager().cancelJob(other.id)).await.block_number.unwrap();
    let performed = net
        .wait_performed("the resumed job performed twice after the cancel", SOON, |p| {
            count_after(p, &paused, cancel_block) >= 2
        })
        .await;
    let after_cancel = count_after(&performed, &other, cancel_block);
    if after_cancel != 0 {
        net.fail(&format!("cancelled job {} performed {after_cancel} times after block {cancel_block}", other.id));
    }
    assert_counter_matches(&net, &performed, &paused).await;
    assert_counter_matches(&net, &performed, &other).await;
    // The daemons stop proposing an inactive job: at most a batch already in flight when the
    // pause or cancel landed has the task manager skip it (one a task, for a 2 s job).
    for job in [&paused, &other] {
        let skipped = net.skipped(job).await;
        if skipped.iter().filter(|(_, _, reason)| *reason == SKIP_JOB_NOT_ACTIVE).count() > 1 {
            net.fail(&format!("job {} proposed while inactive; skipped: {skipped:?}", job.id));
        }
    }
    net.check_logs();
}

/// A job whose escrow pays for two executions is performed twice, then never again (its escrow
/// cannot pay the most a task may cost), while the daemons keep performing another job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfunded_job_stops_when_its_escrow_runs_out() {
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let now = net.now().await;
    // The fee of a task is min((gasUsed + its share of the batch) * gasPrice + premium, maxFee,
    // balance). The job's maxFee is the least the task manager accepts, minJobFee(gas limit), and the
    // owner sets the premium to that: each task costs exactly maxFee whatever anvil's gas price, and
    // 2.5 x maxFee pays for two.
    let task_manager = TaskManager::new(net.deployment.avs.task_manager, &net.provider);
    let max_fee: u128 = task_manager.minJobFee(GAS_LIMIT).call().await.unwrap().to();
    let premium = task_manager.PREMIUM_UNIT().call().await.unwrap();
    let premium = max_fee.div_ceil(premium.to()) * premium.to::<u128>();
    let set = task_manager.setPremium(premium.try_into().unwrap()).send().await.unwrap().get_receipt().await.unwrap();
    assert!(set.status());
    let mut spec = net.counter_job(now, 2);
    spec.max_fee = max_fee;
    let poor = net.create_job(&spec, U256::from(max_fee * 5 / 2)).await;
    let other = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    let performed = net.wait_performed("the poor job performed twice", SOON, |p| of(p, &poor).len() >= 2).await;
    let second = of(&performed, &poor).iter().map(|p| p.block).max().unwrap();
    // The daemons go on with the funded job, and the poor one stays at two.
    let performed = net
        .wait_performed("the funded job performed four more times", SOON, |p| count_after(p, &other, second) >= 4)
        .await;
    let poor_tasks = of(&performed, &poor);
    if poor_tasks.len() != 2 {
        net.fail(&format!("the job funded for two tasks was performed {} times: {poor_tasks:?}", poor_tasks.len()));
    }
    assert_eq!(net.job_balance(&poor).await, U256::from(max_fee / 2), "what is left in the escrow");
    assert_counter_matches(&net, &performed, &poor).await;
    assert_counter_matches(&net, &performed, &other).await;
    // The daemons stop proposing it: at most a batch in flight when the second landed is skipped.
    let skipped = net.skipped(&poor).await;
    if skipped.iter().filter(|(_, _, reason)| *reason == SKIP_UNFUNDED).count() > 1 {
        net.fail(&format!("the unfunded job was still proposed; skipped: {skipped:?}"));
    }
    net.check_logs();
}

/// Four operators of weights 100/200/300/400; the 100 one's daemon is killed: the other three hold
/// 90% of the weight, above the two-thirds quorum, and batches keep landing without its signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_is_reached_with_one_operator_offline() {
    let mut net = Net::setup(&[100, 200, 300, 400], 3).await;
    let now = net.now().await;
    let job = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    let mirror = net.create_job(&net.mirror_job(), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..4 {
        net.start(i);
    }
    net.wait_performed("a first task", SOON, |p| !of(p, &job).is_empty()).await;
    net.daemon(0).kill9();
    net.daemons[0] = None; // offline for good
    let offline_from = net.head().await;
    for answer in 1..=3 {
        net.report(answer).await;
    }
    let performed = net
        .wait_performed("tasks performed without the offline operator", SOON, |p| {
            count_after(p, &job, offline_from) >= 3 && count_after(p, &mirror, offline_from) >= 3
        })
        .await;
    // Batches referencing a block after the kill were signed without operator 0: one non-signer each.
    // (A batch that lands after the kill may still reference an earlier block that operator 0 signed.)
    let filter = Filter::new()
        .address(net.deployment.avs.task_manager)
        .event_signature(TaskManager::BatchResponded::SIGNATURE_HASH)
        .from_block(offline_from + 1);
    let logs = net.provider.get_logs(&filter).await.unwrap();
    let batches: Vec<_> = logs
        .iter()
        .map(|log| (log.block_number, TaskManager::BatchResponded::decode_log_data(log.data()).unwrap()))
        .filter(|(_, batch)| u64::from(batch.record.referenceBlockNumber) > offline_from)
        .collect();
    // The oracle's answers were logged after the kill, so their tasks' batches reference later blocks.
    assert!(!batches.is_empty(), "no batch references a block after the kill");
    for (block, batch) in &batches {
        assert_eq!(batch.nonSignerPubkeyHashes.len(), 1, "batch {} in block {block:?}", batch.digest);
    }
    let sequences = net.oracle_sequences().await;
    let mirrored: BTreeSet<u64> = of(&performed, &mirror).iter().map(|p| p.sequence).collect();
    assert_eq!(mirrored, sequences, "every oracle answer mirrored once");
    assert_eq!(net.mirror_syncs().await, sequences.len() as u64);
    assert_counter_matches(&net, &performed, &job).await;
    net.check_logs();
}

/// Reports a new oracle answer every `every` until `stop` is set: event tasks keep arriving while
/// daemons are killed and restarted.
fn spawn_reporter(
    provider: DynProvider,
    oracle: Address,
    every: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let oracle = SampleOracle::new(oracle, &provider);
        let mut reports = 0u64;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            reports += 1;
            receipt(oracle.report(I256::try_from(1000 + reports).unwrap())).await;
            tokio::time::sleep(every).await;
        }
        reports
    })
}

/// kill -9 at several points, each daemon restarted on its own data dir: the aggregator right
/// after it logs a proposal, right after a keeper reports the quorum, and right after it sends a
/// batch; a keeper right after it signs; and the aggregator and a keeper together. Afterwards
/// every oracle answer (an event task each) is performed exactly once, the interval jobs go on,
/// nothing is performed twice, and no daemon logged an error or a slashing-protection refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_several_points_loses_and_repeats_nothing() {
    const AGGREGATOR: usize = 3;
    const KEEPER: usize = 1;
    let mut net = Net::setup(&[100, 200, 300, 400], AGGREGATOR).await;
    let now = net.now().await;
    let every_2 = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    let every_3 = net.create_job(&net.counter_job(now, 3), U256::from(ETHER)).await;
    let mirror = net.create_job(&net.mirror_job(), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..4 {
        net.start(i);
    }
    net.wait_performed("a first task", SOON, |p| !of(p, &every_2).is_empty()).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reporter = spawn_reporter(net.provider.clone(), net.oracle, Duration::from_millis(1500), stop.clone());

    // Each kill lands while the pipeline is busy: the next one waits for a task performed since.
    let mut kills = Vec::new();
    let points: [(&str, usize, &str, &[usize]); 5] = [
        ("the aggregator after a proposal", AGGREGATOR, "aggregator: proposed batch", &[AGGREGATOR]),
        ("the aggregator at quorum", KEEPER, "quorum=true", &[AGGREGATOR]),
        ("the aggregator after sending a batch", AGGREGATOR, "aggregator: batch sent", &[AGGREGATOR]),
        ("a keeper after signing", KEEPER, "keeper: signed batch", &[KEEPER]),
        ("the aggregator and a keeper together", AGGREGATOR, "aggregator: proposed batch", &[AGGREGATOR, KEEPER]),
    ];
    for (what, watched, needle, victims) in points {
        let from = net.daemon(watched).log_len();
        net.wait_log(watched, from, needle, SOON).await;
        for &victim in victims {
            net.daemon(victim).kill9();
        }
        let killed_at = net.head().await;
        kills.push((what, killed_at));
        for &victim in victims {
            net.daemon(victim).start().unwrap();
        }
        net.wait_performed(&format!("a task performed after killing {what}"), SOON, |p| {
            p.iter().any(|t| t.block > killed_at)
        })
        .await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reports = reporter.await.unwrap();
    let last_kill = kills.last().unwrap().1;

    let sequences = net.oracle_sequences().await;
    assert_eq!(sequences.len() as u64, reports);
    let performed = net
        .wait_performed(
            "every oracle answer mirrored, and both interval jobs performed since the last kill",
            SOON,
            |p| {
                let mirrored: BTreeSet<u64> = of(p, &mirror).iter().map(|t| t.sequence).collect();
                sequences.is_subset(&mirrored)
                    && count_after(p, &every_2, last_kill) >= 2
                    && count_after(p, &every_3, last_kill) >= 1
            },
        )
        .await;
    let mirrored: BTreeSet<u64> = of(&performed, &mirror).iter().map(|t| t.sequence).collect();
    assert_eq!(mirrored, sequences, "the mirror job performed exactly the oracle's answers");
    assert_eq!(net.mirror_syncs().await, sequences.len() as u64);
    assert_counter_matches(&net, &performed, &every_2).await;
    assert_counter_matches(&net, &performed, &every_3).await;
    // No task was submitted again once performed (the task manager would have skipped it).
    for job in [&every_2, &every_3, &mirror] {
        let skipped = net.skipped(job).await;
        if skipped.iter().any(|(_, _, reason)| *reason == SKIP_ALREADY_PERFORMED) {
            net.fail(&format!("job {}: a performed task was submitted again ({skipped:?}; kills {kills:?})", job.id));
        }
    }
    // Every restart came up (its keeper role started again) and nothing logged an error.
    for (operator, starts) in [(AGGREGATOR, 5), (KEEPER, 3)] {
        let daemon = net.daemon(operator);
        assert_eq!(daemon.starts(), starts);
        assert_eq!(daemon.log_text().matches("keeper: started").count(), starts as usize);
    }
    net.check_logs();
}

/// A reorg of depth 3 with empty replacement blocks right after tasks were performed, twice, with
/// the daemons at confirmation depth 0: they notice it, re-derive their tasks, and keep performing;
/// then a keeper is killed and the block it processed last is reorganised away while it is down:
/// it resumes. On the final canonical chain every oracle answer is mirrored once and nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_at_depth_zero_is_followed_and_nothing_is_performed_twice() {
    reorg_scenario(false).await;
}

/// The same reorg, but the dropped blocks' transactions are mined again in the replacement blocks
/// (as a real chain's nodes re-queue them): a batch whose reference block left the chain reverts,
/// and its tasks are proposed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_with_the_dropped_transactions_mined_again_performs_nothing_twice() {
    reorg_scenario(true).await;
}

async fn reorg_scenario(mine_dropped_again: bool) {
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let now = net.now().await;
    let counter = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    let mirror = net.create_job(&net.mirror_job(), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    net.wait_performed("a first task", SOON, |p| !of(p, &counter).is_empty()).await;
    let mut reorgs = Vec::new();
    for round in 0..2i64 {
        // An oracle answer, and the reorg as soon as its reaction lands: the reaction (at least)
        // leaves the chain.
        let reported = net.report(round).await;
        let performed = net
            .wait_performed("the answer mirrored", SOON, |p| of(p, &mirror).iter().any(|t| t.block > reported))
            .await;
        let landed = of(&performed, &mirror).iter().map(|t| t.block).max().unwrap();
        let head = net.reorg(3, mine_dropped_again).await;
        reorgs.push((landed, head));
        net.wait_performed("the counter job performed after the reorg", SOON, |p| count_after(p, &counter, head) >= 2)
            .await;
    }
    // A keeper is killed, and the block it processed last leaves the chain while it is down: it
    // resumes from a cursor the node no longer knows.
    let from = net.daemon(1).log_len();
    net.wait_log(1, from, "keeper: signed batch", SOON).await; // it has processed a recent head
    net.daemon(1).kill9();
    let head = net.reorg(3, mine_dropped_again).await;
    net.daemon(1).start().unwrap();
    net.wait_performed("the counter job performed after the keeper's restart", SOON, |p| {
        count_after(p, &counter, head) >= 2
    })
    .await;
    let last = net.report(99).await;
    let sequences = net.oracle_sequences().await;
    let performed = net
        .wait_performed("every canonical oracle answer mirrored", SOON, |p| {
            let mirrored: BTreeSet<u64> = of(p, &mirror).iter().map(|t| t.sequence).collect();
            sequences.is_subset(&mirrored) && of(p, &mirror).iter().any(|t| t.block > last)
        })
        .await;
    let mirrored: BTreeSet<u64> = of(&performed, &mirror).iter().map(|t| t.sequence).collect();
    assert_eq!(mirrored, sequences, "the mirror job performed exactly the canonical oracle answers ({reorgs:?})");
    assert_eq!(net.mirror_syncs().await, sequences.len() as u64);
    assert_counter_matches(&net, &performed, &counter).await;
    let noticed = net.daemons.iter().flatten().filter(|d| d.log_text().contains("chain reorganised")).count();
    assert_eq!(noticed, 3, "every daemon's scheduler saw the reorg");
    net.check_logs();
}

// ---------------------------------------------------------------------------------------------------------
// Economic security: what an operator or a job owner could gain by cheating
// ---------------------------------------------------------------------------------------------------------

/// A job whose maxFee is the least the task manager accepts (its gas limit and a solo batch at the
/// 1 gwei floor) is left out while the base fee is 50 gwei: `keeperctl task show` on the aggregator
/// says `unprofitable` with the fee needed and the maxFee. Once the base fee falls back the same task
/// is proposed and performed (an unprofitable task is retried at every block).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprofitable_job_is_left_out_with_its_reason_and_performed_once_fees_fall() {
    const HIGH_BASE_FEE: u128 = 50_000_000_000;
    keeper_devnet::binaries::keeperctl(); // built before the clock starts
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let task_manager = TaskManager::new(net.deployment.avs.task_manager, &net.provider);
    let max_fee: u128 = task_manager.minJobFee(GAS_LIMIT).call().await.unwrap().to();
    let solo: u64 = task_manager.SOLO_BATCH_GAS().call().await.unwrap().to();
    let mut spec = net.mirror_job();
    spec.max_fee = max_fee;
    let job = net.create_job(&spec, U256::from(ETHER)).await;
    let provider = net.provider.clone();
    let set_fee = || async {
        let fee = (U256::from(HIGH_BASE_FEE),);
        provider.raw_request::<_, ()>("anvil_setNextBlockBaseFeePerGas".into(), fee).await.unwrap();
    };
    let reported = net.report(7).await;
    let sequence = net.oracle_sequences().await.into_iter().next_back().unwrap();
    // The latest block has the high base fee before any daemon looks.
    set_fee().await;
    net.provider.raw_request::<_, String>("evm_mine".into(), ()).await.unwrap();
    set_fee().await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    // The base fee stays high until the aggregator has judged the task (each block lowers it by up
    // to 12.5%, so it is set again for every next block meanwhile).
    let task = format!("{}", job.id);
    let show = ["task", "show", task.as_str(), &sequence.to_string()];
    let deadline = Instant::now() + SOON;
    let shown = loop {
        net.check_running();
        set_fee().await;
        let socket_ready = net.operators[0].config.parent().unwrap().join("data/keeperd.sock").exists();
        if socket_ready {
            let out = net.keeperctl(0, &["--json", "task", "list", "--state", "unprofitable", "--job", &task]);
            let list: keeper_shared::api::TaskList = serde_json::from_str(&out).unwrap();
            if list.tasks.iter().any(|t| t.sequence == sequence) {
                break net.keeperctl(0, &show);
            }
        }
        if Instant::now() > deadline {
            net.fail("the task was never shown as unprofitable");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let needed = (u128::from(GAS_LIMIT) + u128::from(solo)) * HIGH_BASE_FEE;
    assert!(shown.contains("unprofitable"), "{shown}");
    let reason = shown.lines().find(|l| l.trim_start().starts_with("reason")).unwrap_or_else(|| panic!("{shown}"));
    assert!(reason.contains(&format!("needs {needed} wei")), "{reason}");
    assert!(reason.contains(&format!("maxFee is {max_fee} wei")), "{reason}");
    assert!(reason.contains(&format!("base fee {HIGH_BASE_FEE} wei")), "{reason}");
    let none: Vec<_> = of(&net.performed().await, &job);
    assert!(none.is_empty(), "performed while unprofitable: {none:?}");

    // Fees fall back (about 12.5% a block from 50 gwei to the 1 gwei the maxFee pays for): performed.
    let performed = net
        .wait_performed("the task performed once fees fell", Duration::from_secs(90), |p| !of(p, &job).is_empty())
        .await;
    let tasks = of(&performed, &job);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].sequence, sequence);
    assert!(tasks[0].block > reported);
    // The aggregator's store follows the chain's outcome within a block or two.
    let deadline = Instant::now() + SOON;
    let detail = loop {
        let out = net.keeperctl(0, &["--json", "task", "show", task.as_str(), &sequence.to_string()]);
        let detail: keeper_shared::api::TaskDetail = serde_json::from_str(&out).unwrap();
        if detail.task.state == keeper_shared::job::TaskState::Performed || Instant::now() > deadline {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(detail.task.state, keeper_shared::job::TaskState::Performed, "{detail:?}");
    let states: Vec<_> = detail.history.iter().map(|step| step.to).collect();
    assert!(states.contains(&keeper_shared::job::TaskState::Unprofitable), "history: {states:?}");
    assert_eq!(net.mirror_syncs().await, 1);
    net.check_logs();
}

/// A job updated (new target and call data) after the keepers signed a batch holding its task and
/// before that batch is mined: the batch lands after the update, the task manager skips the leaf
/// (its spec is no longer the job's), the challenger finds nothing to prove, nobody's slashable
/// stake moves, and the task is performed later under the new spec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_updated_between_signing_and_submission_slashes_nobody_and_runs_its_new_spec() {
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    // Old spec: on each oracle answer, counter.increment(). New spec: mirror.sync().
    let mut old = net.mirror_job();
    old.action = Action::Call { target: net.counter, data: SampleCounter::incrementCall {}.abi_encode().into() };
    let job = net.create_job(&old, U256::from(ETHER)).await;
    jobs::allow_forwarder(&net.provider, net.mirror, job.forwarder).await.unwrap();
    let stakes = net.slashable_stakes().await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    // The pipeline runs: a first answer is performed under the old spec.
    net.report(1).await;
    net.wait_performed("a first task", SOON, |p| !of(p, &job).is_empty()).await;
    assert_eq!(net.counter_calls(&job).await, 1);

    // Mining stops; the next answer's block is mined by hand, the keepers sign, the aggregator sends.
    net.provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (0u64,)).await.unwrap();
    let from = net.daemon(0).log_len();
    let oracle = SampleOracle::new(net.oracle, &net.provider);
    let pending = oracle.report(I256::try_from(2).unwrap()).gas(3_000_000).send().await.unwrap();
    net.provider.raw_request::<_, String>("evm_mine".into(), ()).await.unwrap();
    assert!(pending.get_receipt().await.unwrap().status());
    let sequence = net.oracle_sequences().await.into_iter().next_back().unwrap();
    net.wait_log(0, from, "aggregator: batch sent", SOON).await;

    // The owner's update goes first in the next block (a higher priority fee than the batch's).
    let mut new = old.clone();
    new.action = Action::Call { target: net.mirror, data: SamplePriceMirror::syncCall {}.abi_encode().into() };
    let update = net
        .job_manager()
        .updateJob(job.id, new.to_job_manager().unwrap())
        .gas(3_000_000)
        .max_priority_fee_per_gas(100_000_000_000)
        .max_fee_per_gas(1_000_000_000_000)
        .send()
        .await
        .unwrap();
    net.provider.raw_request::<_, String>("evm_mine".into(), ()).await.unwrap();
    let update = update.get_receipt().await.unwrap();
    assert!(update.status());
    let block = update.block_number.unwrap();
    net.mine_every_second().await;
    let skipped = net.skipped(&job).await;
    assert!(
        skipped.contains(&(sequence, block, SKIP_SPEC_MISMATCH)),
        "the batch signed under the old spec landed after the update, skipped: {skipped:?} (update in block {block})"
    );

    // Performed later under the new spec, once: the keepers sign the task's new response (their
    // slashing-protection record binds a response to its task and spec, as the chain's equivocation
    // proof does), and the old spec's call never runs again.
    let performed = net
        .wait_performed("the task performed under the new spec", SOON, |p| {
            of(p, &job).iter().any(|t| t.sequence == sequence)
        })
        .await;
    assert_eq!(net.mirror_syncs().await, 1, "the new spec's call");
    assert_eq!(net.counter_calls(&job).await, 1, "the old spec's call never ran again");
    assert_eq!(of(&performed, &job).len(), 2);
    // Give the challenger (operator 0) a few blocks to act on the skipped and the performed batch.
    let head = net.head().await;
    while net.head().await < head + 5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(net.slashings().await, 0, "nobody slashed");
    assert_eq!(net.slashable_stakes().await, stakes, "every operator's slashable stake unchanged");
    net.check_logs();
}

/// Operator 0 (100 of 1000) deallocates all its stake from the keeper set. The aggregator sees
/// EigenLayer's AllocationUpdated and refreshes that member's weight with `updateWeights` (not
/// waiting for the periodic `updateAllWeights`): its weight is 0 from then on, long before the
/// deallocation takes effect and the stake could leave, and batches keep landing with the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deallocating_operator_stops_counting_before_it_can_leave_and_the_rest_go_on() {
    let mut net = Net::setup(&[100, 200, 300, 400], 3).await;
    let now = net.now().await;
    let job = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..4 {
        net.start(i);
    }
    net.wait_performed("a first task", SOON, |p| !of(p, &job).is_empty()).await;
    let (leaver, leaver_provider) = net.operator(0);
    assert!(net.registry().getOperatorWeight(leaver).call().await.unwrap() > U256::ZERO);
    // Deallocate right after a periodic confirmation (the aggregator sends one at half the weight
    // age), so that only a refresh on the stake event can zero the weight within the next blocks.
    let max_weight_age: u64 =
        TaskManager::new(net.deployment.avs.task_manager, &net.provider).maxWeightAge().call().await.unwrap().into();
    let deadline = Instant::now() + Duration::from_secs(max_weight_age + 30);
    loop {
        let confirmed: u64 = net.registry().weightsConfirmedAt().call().await.unwrap().to();
        if net.head().await.saturating_sub(confirmed) <= max_weight_age / 4 {
            break;
        }
        if Instant::now() > deadline {
            net.fail("the aggregator did not confirm the weights");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let deallocated =
        keeperd::eigenlayer::onboarding::allocate(&leaver_provider, &net.deployment, leaver, 0).await.unwrap();
    let dealloc_block = deallocated.block_number.unwrap();
    let delay: u64 = AllocationManager::new(net.deployment.eigenlayer.allocation_manager, &net.provider)
        .DEALLOCATION_DELAY()
        .call()
        .await
        .unwrap()
        .into();
    // The refresh: an OperatorWeightUpdated to 0 for the leaver, sent as updateWeights.
    let deadline = Instant::now() + SOON;
    let (refresh_block, refresh_tx) = loop {
        net.check_running();
        let filter = Filter::new()
            .address(net.deployment.avs.key_registry)
            .event_signature(BlsKeyRegistry::OperatorWeightUpdated::SIGNATURE_HASH)
            .topic1(leaver.into_word())
            .from_block(dealloc_block);
        let logs = net.provider.get_logs(&filter).await.unwrap();
        let zeroed = logs
            .iter()
            .find(|log| BlsKeyRegistry::OperatorWeightUpdated::decode_log_data(log.data()).unwrap().weight.is_zero());
        if let Some(log) = zeroed {
            break (log.block_number.unwrap(), log.transaction_hash.unwrap());
        }
        if Instant::now() > deadline {
            net.fail("the deallocating operator's weight was not refreshed");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let tx = net.provider.get_transaction_by_hash(refresh_tx).await.unwrap().unwrap();
    let input = alloy::consensus::Transaction::input(&tx);
    assert_eq!(&input[..4], BlsKeyRegistry::updateWeightsCall::SELECTOR, "refreshed by updateWeights");
    assert!(
        refresh_block < dealloc_block + delay,
        "weight gone in block {refresh_block}, before the deallocation takes effect after block {}",
        dealloc_block + delay
    );
    assert_eq!(net.registry().getOperatorWeight(leaver).call().await.unwrap(), U256::ZERO);

    // Batches keep landing without the leaver's weight: 900 of 900 remain, above the quorum.
    let performed = net
        .wait_performed("tasks performed after the refresh", SOON, |p| count_after(p, &job, refresh_block) >= 3)
        .await;
    assert_counter_matches(&net, &performed, &job).await;
    net.check_logs();
}

// ---------------------------------------------------------------------------------------------------------
// Condition jobs: checked once per task, never twice for the same work
// ---------------------------------------------------------------------------------------------------------

const ONE: u128 = 1_000_000_000_000_000_000;

/// A stock Chainlink-style upkeep (SampleLiquidationBook: `checkUpkeep` behind `cannotExecute`, a
/// `performUpkeep` that re-checks its `performData` and reverts `NotUnderwater` when it is stale),
/// checked every block while three counter jobs and an event job load the pipeline: every position
/// is liquidated exactly once and not one `performUpkeep` reverts (before the single-flight rule, the
/// next sequence was checked while the previous one was in flight, saw the same position, and
/// reverted on chain). Once the book is clear, its "nothing to do" checks never reach the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chainlink_upkeep_under_load_never_double_fires() {
    const POSITIONS: u64 = 8;
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let owner = net.provider.get_accounts().await.unwrap()[0];
    let provider = net.provider.clone();
    let book = SampleLiquidationBook::deploy(&provider, owner, U256::from(2000 * ONE)).await.unwrap();
    for _ in 0..POSITIONS {
        receipt_of(book.openPosition(ONE, 1500 * ONE)).await;
    }
    // At 1000 every position is under water.
    receipt_of(book.setPrice(U256::from(1000 * ONE))).await;
    let head = net.head().await;
    let upkeep = net
        .create_job(
            &JobSpec {
                trigger: Trigger::Block { start: head, period: 1 },
                action: Action::ChainlinkUpkeep { target: *book.address(), check_data: Default::default() },
                gas_limit: GAS_LIMIT,
                max_fee: MAX_FEE,
                expiry: None,
            },
            U256::from(ETHER),
        )
        .await;
    let now = net.now().await;
    let mut load = Vec::new();
    for _ in 0..3 {
        load.push(net.create_job(&net.counter_job(now, 1), U256::from(ETHER)).await);
    }
    let mirror = net.create_job(&net.mirror_job(), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reporter = spawn_reporter(net.provider.clone(), net.oracle, Duration::from_millis(1500), stop.clone());
    net.wait_performed("every position liquidated", Duration::from_secs(120), |p| {
        of(p, &upkeep).iter().filter(|t| t.success).count() as u64 >= POSITIONS
    })
    .await;
    // A few more blocks of checks with nothing left to do.
    let cleared = net.head().await;
    let performed = net
        .wait_performed("the load jobs go on", SOON, |p| load.iter().all(|job| count_after(p, job, cleared + 4) >= 1))
        .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = reporter.await;
    let upkeeps = of(&performed, &upkeep);
    let reverted: Vec<_> = upkeeps.iter().filter(|p| !p.success).collect();
    if !reverted.is_empty() {
        net.fail(&format!("{} of {} performUpkeep calls reverted: {reverted:?}", reverted.len(), upkeeps.len()));
    }
    assert_eq!(upkeeps.len() as u64, POSITIONS, "one perform per position");
    assert_eq!(book.liquidations().call().await.unwrap(), U256::from(POSITIONS));
    assert_eq!(net.not_executed(&upkeep).await, 0, "'nothing to do' went on chain");
    // The load jobs keep running while this reads the chain, so only their successes are compared.
    for job in &load {
        assert!(of(&performed, job).iter().all(|p| p.success), "a counter call reverted");
    }
    assert!(!of(&performed, &mirror).is_empty());
    net.check_logs();
}

/// A stock Gelato resolver (SampleVaultResolver: `checker()` says false until 100 rewards are
/// pending) on a 2 s interval: its false ticks put nothing on chain (no `TaskNotExecuted`), its true
/// ticks are performed, and every harvest succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gelato_resolver_that_mostly_says_no_puts_nothing_on_chain() {
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let owner = net.provider.get_accounts().await.unwrap()[0];
    let provider = net.provider.clone();
    let vault = SampleVault::deploy(&provider, owner).await.unwrap();
    let resolver = SampleVaultResolver::deploy(&provider, *vault.address(), U256::from(100)).await.unwrap();
    let now = net.now().await;
    let harvest = net
        .create_job(
            &JobSpec {
                trigger: Trigger::Interval { start: now, period: 2 },
                action: Action::GelatoResolver {
                    target: *vault.address(),
                    resolver: *resolver.address(),
                    resolver_data: SampleVaultResolver::checkerCall {}.abi_encode().into(),
                },
                gas_limit: GAS_LIMIT,
                max_fee: MAX_FEE,
                expiry: None,
            },
            U256::from(ETHER),
        )
        .await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    // Three rounds: some false ticks, then rewards worth a harvest, then wait for it.
    for round in 1..=3u64 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        receipt_of(vault.accrue(U256::from(150))).await;
        net.wait_performed("the harvest", SOON, |p| of(p, &harvest).len() as u64 >= round).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let performed = net.performed().await;
    let harvests = of(&performed, &harvest);
    assert_eq!(harvests.len(), 3, "one harvest per accrual: {harvests:?}");
    assert!(harvests.iter().all(|p| p.success), "a harvest reverted: {harvests:?}");
    assert_eq!(vault.harvests().call().await.unwrap(), U256::from(3));
    let not_executed = net.not_executed(&harvest).await;
    if not_executed != 0 {
        net.fail(&format!("{not_executed} 'nothing to do' tasks went on chain"));
    }
    net.check_logs();
}

/// A job whose target refuses its forwarder (never allowed: `ForwarderNotAllowed`) is never called
/// on chain: the aggregator's simulation from the forwarder reverts, the task is left out and
/// recorded failed with the decoded reason; the other job goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_refuses_the_forwarder_is_left_out_with_its_reason() {
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let now = net.now().await;
    let manager = net.job_manager();
    let spec = net.counter_job(now, 2);
    let created = receipt(manager.createJob(spec.to_job_manager().unwrap()).value(U256::from(ETHER))).await;
    let refused = created
        .inner
        .logs()
        .iter()
        .find_map(|log| JobManager::JobCreated::decode_log_data(log.data()).ok().map(|e| e.jobId))
        .unwrap();
    let other = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    net.wait_log(0, 0, "ForwarderNotAllowed", SOON).await;
    let performed = net.wait_performed("the other job", SOON, |p| of(p, &other).len() >= 3).await;
    assert!(performed.iter().all(|p| p.job != refused), "the refused job's target was called");
    assert_counter_matches(&net, &performed, &other).await;
    net.check_logs();
}

// ---------------------------------------------------------------------------------------------------------
// A flood on the control API: clients cannot cost the pipeline a task
// ---------------------------------------------------------------------------------------------------------

/// What the flood saw of the API's answers.
#[derive(Debug, Default)]
struct FloodTally {
    requests: u64,
    answers: u64,
    /// Error answers (status >= 400) without a JSON `code`.
    bodiless_errors: u64,
    /// 5xx answers other than `503 unavailable` (a cap).
    server_errors: u64,
    refused_503: u64,
}

/// Sends `request` on a fresh connection and reads the answer (the server closes: every request
/// says `Connection: close`, and a malformed one is closed after its answer).
fn flood_request(socket: &Path, request: &[u8], tally: &std::sync::Mutex<FloodTally>) {
    use std::os::unix::net::UnixStream;
    let Ok(mut stream) = UnixStream::connect(socket) else { return };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(15)));
    let _ = stream.write_all(request);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let mut tally = tally.lock().unwrap();
    tally.requests += 1;
    let text = String::from_utf8_lossy(&bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return };
    let Some(status) = head.strip_prefix("HTTP/1.1 ").and_then(|s| s.get(..3)).and_then(|s| s.parse::<u16>().ok())
    else {
        return;
    };
    tally.answers += 1;
    if status >= 400 {
        let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
        if json.as_ref().and_then(|j| j.get("code")).is_none() {
            tally.bodiless_errors += 1;
        }
    }
    if status == 503 {
        tally.refused_503 += 1;
    } else if status >= 500 {
        tally.server_errors += 1;
    }
}

/// Malformed and abusive requests of every kind, one per connection, until `stop`.
fn malformed_requests(seed: u64) -> Vec<Vec<u8>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let random: Vec<u8> = (0..rng.gen_range(1..4096)).map(|_| rng.gen()).collect();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n").into_bytes();
    let post = |path: &str, body: &str| {
        format!("POST {path} HTTP/1.1\r\nHost: k\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .into_bytes()
    };
    vec![
        random,
        b"BREW /v1/status HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /v1/status HTTP/3.7\r\n\r\n".to_vec(),
        b"GET /v1/status\r\n\r\n".to_vec(),
        format!("GET /v1/status HTTP/1.1\r\nX: {}\r\n\r\n", "h".repeat(500_000)).into_bytes(),
        get(&format!("/v1/{}", "u".repeat(70_000))),
        post("/v1/jobs", &"x".repeat(100_000)),
        post("/v1/jobs", "{\"spec\": [1, 2, {\"x\""),
        post("/v1/jobs", "[]"),
        post(
            "/v1/jobs/1/topup",
            "{\"amount_wei\":\"99999999999999999999999999999999999999999999999999999999999999999999999999999999\"}",
        ),
        get("/v1/tasks?limit=99999999999999999999"),
        get("/v1/jobs/340282366920938463463374607431768211456340282366920938463463374607431768211456"),
        get("/v1/tasks/1/-1"),
        get("/v1/tasks/%ZZ/1"),
        get("/v1/tasks?state=due&state=due"),
        get("/v1/nope"),
        get("/v1/tasks?limit=1000"),
        get("/v1/operators"),
        get("/v1/events/recent?limit=1000"),
    ]
}

/// Floods the control socket at `socket` from plain threads until `stop`: malformed requests,
/// `parallel` connections at once doing heavy reads, slowloris clients, and `streams` event
/// streams held open.
fn spawn_flood(
    socket: PathBuf,
    parallel: usize,
    streams: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (std::sync::Arc<std::sync::Mutex<FloodTally>>, Vec<std::thread::JoinHandle<()>>) {
    use std::sync::atomic::Ordering;
    let tally = std::sync::Arc::new(std::sync::Mutex::new(FloodTally::default()));
    let mut threads = Vec::new();
    // Malformed requests, back to back, from four threads.
    for worker in 0..4u64 {
        let (socket, stop, tally) = (socket.clone(), stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::SeqCst) {
                for request in malformed_requests(worker * 1_000_000 + round) {
                    flood_request(&socket, &request, &tally);
                }
                round += 1;
            }
        }));
    }
    // `parallel` connections at once, each a heavy read, again and again.
    {
        let (socket, stop, tally) = (socket.clone(), stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let wave: Vec<_> = (0..parallel)
                    .map(|i| {
                        let (socket, tally) = (socket.clone(), tally.clone());
                        let path = ["/v1/tasks?limit=1000", "/v1/status", "/v1/jobs", "/v1/operators"][i % 4];
                        std::thread::spawn(move || {
                            let request = format!("GET {path} HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n");
                            flood_request(&socket, request.as_bytes(), &tally);
                        })
                    })
                    .collect();
                for thread in wave {
                    let _ = thread.join();
                }
            }
        }));
    }
    // Slowloris: a header byte a second on 16 connections, reopened when the server closes them.
    {
        let (socket, stop) = (socket.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut slow: Vec<std::os::unix::net::UnixStream> = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                while slow.len() < 16 {
                    match std::os::unix::net::UnixStream::connect(&socket) {
                        Ok(stream) => slow.push(stream),
                        Err(_) => break,
                    }
                }
                slow.retain_mut(|stream| stream.write_all(b"X").is_ok());
                std::thread::sleep(Duration::from_secs(1));
            }
        }));
    }
    // Event streams, held open (those over the cap are refused and retried).
    {
        let (socket, stop) = (socket, stop);
        threads.push(std::thread::spawn(move || {
            let mut open: Vec<std::os::unix::net::UnixStream> = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                open.truncate(streams.min(open.len()));
                while open.len() < streams {
                    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(&socket) else { break };
                    let _ = stream.write_all(b"GET /v1/events HTTP/1.1\r\nHost: k\r\n\r\n");
                    open.push(stream);
                }
                std::thread::sleep(Duration::from_secs(2));
                // Drain what the open streams sent, so they stay live, and drop the closed ones.
                open.retain_mut(|stream| {
                    let _ = stream.set_nonblocking(true);
                    let mut buffer = [0u8; 65536];
                    loop {
                        match stream.read(&mut buffer) {
                            Ok(0) => return false,
                            Ok(_) => continue,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                            Err(_) => return false,
                        }
                    }
                });
            }
        }));
    }
    (tally, threads)
}

/// Due-to-performed latency of `job`'s interval tasks (every `period` s from `start`), in seconds
/// of chain time (a block a second), for the tasks due in `[from, to)`.
async fn interval_latencies(
    net: &Net,
    performed: &[Performed],
    job: &TestJob,
    start: u64,
    period: u64,
    from: u64,
    to: u64,
) -> Vec<u64> {
    let mut latencies = Vec::new();
    for task in of(performed, job) {
        let due = start + task.sequence * period;
        if due < from || due >= to {
            continue;
        }
        let block = net.provider.get_block_by_number(task.block.into()).await.unwrap().unwrap();
        latencies.push(block.header.timestamp.saturating_sub(due));
    }
    latencies.sort_unstable();
    latencies
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() * p).div_ceil(100)).clamp(1, sorted.len()) - 1]
}

/// A flood against the aggregator's control socket (malformed requests of every kind,
/// 400 connections at once, slowloris, 40 event streams for a cap of 32) costs no task: every
/// interval task due before the end is performed, every oracle answer is mirrored once, nothing is
/// skipped, every error answer has a JSON body, and no answer is a 5xx other than a cap's 503.
/// Latency is measured from the chain (a quiet phase, then the flood) and printed; the assertion on
/// it is a generous bound, the numbers go in the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_the_control_api_costs_no_task() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const AGGREGATOR: usize = 2;
    const PERIOD: u64 = 2;
    let mut net = Net::setup(&[100, 200, 300], AGGREGATOR).await;
    let start = net.now().await + 5;
    let job = net.create_job(&net.counter_job(start, PERIOD), U256::from(ETHER)).await;
    let mirror = net.create_job(&net.mirror_job(), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    net.wait_performed("a first task", SOON, |p| !of(p, &job).is_empty()).await;
    let reporting = Arc::new(AtomicBool::new(false));
    let reporter = spawn_reporter(net.provider.clone(), net.oracle, Duration::from_secs(3), reporting.clone());

    let quiet_from = net.now().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let flood_from = net.now().await;
    let socket = net.dir().join(format!("operator-{AGGREGATOR}/data/keeperd.sock"));
    assert!(socket.exists(), "{}", socket.display());
    let flooding = Arc::new(AtomicBool::new(false));
    let (tally, threads) = spawn_flood(socket, 400, 40, flooding.clone());
    tokio::time::sleep(Duration::from_secs(60)).await;
    flooding.store(true, Ordering::SeqCst);
    let flood_to = net.now().await;
    for thread in threads {
        tokio::task::block_in_place(|| thread.join().unwrap());
    }
    reporting.store(true, Ordering::SeqCst);
    reporter.await.unwrap();

    // Every task due before the flood ended, and every oracle answer, performed once.
    let last_due = (flood_to - start) / PERIOD;
    net.wait_performed("every task due during the flood", SOON, |p| {
        of(p, &job).iter().filter(|t| t.sequence <= last_due).count() as u64 == last_due + 1
    })
    .await;
    let sequences = net.oracle_sequences().await;
    let performed = net
        .wait_performed("every oracle answer mirrored", SOON, |p| {
            of(p, &mirror).iter().map(|t| t.sequence).collect::<BTreeSet<u64>>() == sequences
        })
        .await;
    assert!(net.skipped(&job).await.is_empty(), "skipped: {:?}", net.skipped(&job).await);
    assert!(net.skipped(&mirror).await.is_empty(), "skipped: {:?}", net.skipped(&mirror).await);
    assert_counter_matches(&net, &performed, &job).await;

    let tally = std::mem::take(&mut *tally.lock().unwrap());
    let quiet = interval_latencies(&net, &performed, &job, start, PERIOD, quiet_from, flood_from).await;
    let flood = interval_latencies(&net, &performed, &job, start, PERIOD, flood_from, flood_to).await;
    eprintln!(
        "flood: {tally:?}; due-to-performed latency in s of chain time (1 block/s): quiet n={} p50={} p99={} max={}; flood n={} p50={} p99={} max={}",
        quiet.len(), percentile(&quiet, 50), percentile(&quiet, 99), quiet.last().copied().unwrap_or(0),
        flood.len(), percentile(&flood, 50), percentile(&flood, 99), flood.last().copied().unwrap_or(0),
    );
    assert!(tally.answers > 1000, "the flood reached the API: {tally:?}");
    assert_eq!((tally.bodiless_errors, tally.server_errors), (0, 0), "{tally:?}");
    assert!(percentile(&flood, 99) <= 10, "p99 latency under the flood: {flood:?}");
    net.check_logs();
}

// ---------------------------------------------------------------------------------------------------------
// Task states that end: no task stays due or in flight for good
// ---------------------------------------------------------------------------------------------------------

/// A reorg takes away the block a performed batch was signed at (and the block that included it): the
/// aggregator's transaction is never sent again (it would revert `UnknownReferenceBlock`, gas for
/// nothing), its nonce is taken by a cancel, and the task is proposed again and performed once on the
/// new chain. No transaction of the aggregator reverts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_removes_a_batch_reference_block_costs_no_reverted_transaction() {
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let now = net.now().await;
    // A long period: the sequence whose batch the reorg removes is still the one due on the new chain.
    let counter = net.create_job(&net.counter_job(now, 60), U256::from(ETHER)).await;
    net.mine_every_second().await;
    // A few empty blocks first: the reorg then stays clear of the set-up (with the daemons started at
    // once, the task came back on the new chain as ForwarderNotAllowed: the allow-listing was lost).
    let set_up = net.head().await;
    while net.head().await < set_up + 3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in 0..3 {
        net.start(i);
    }
    let performed = net.wait_performed("a first task", SOON, |p| !of(p, &counter).is_empty()).await;
    let first = of(&performed, &counter)[0];
    // The batch's reference block, from its BatchResponded log; mining pauses so that the depth is exact.
    net.provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (0u64,)).await.unwrap();
    let filter = Filter::new()
        .address(net.deployment.avs.task_manager)
        .event_signature(TaskManager::BatchResponded::SIGNATURE_HASH)
        .from_block(first.block)
        .to_block(first.block);
    let logs = net.provider.get_logs(&filter).await.unwrap();
    let responded = TaskManager::BatchResponded::decode_log_data(logs[0].data()).unwrap();
    let reference = net.provider.get_block_by_hash(responded.referenceBlockHash).await.unwrap().unwrap().header.number;
    let depth = net.head().await + 1 - reference;
    let from = net.daemon(0).log_len();
    net.reorg(depth, false).await;
    let now_there = net.provider.get_block_by_number(reference.into()).await.unwrap().unwrap().header.hash;
    assert_ne!(now_there, responded.referenceBlockHash, "the reference block {reference} left the chain");

    let performed = net
        .wait_performed("the task performed again on the new chain", SOON * 2, |p| {
            of(p, &counter).iter().any(|t| t.sequence == first.sequence)
        })
        .await;
    assert_counter_matches(&net, &performed, &counter).await;
    assert!(
        net.daemon(0).logged_since(from, "anchor block left the chain"),
        "the sender abandoned the batch whose reference block {reference} left the chain"
    );

    // Every transaction of the aggregator on the final chain succeeded.
    let (aggregator, _) = net.operator(0);
    let mut sent = 0;
    for number in net.deployment.deploy_block..=net.head().await {
        let receipts = net.provider.get_block_receipts(number.into()).await.unwrap().unwrap_or_default();
        for receipt in receipts.iter().filter(|r| r.from == aggregator) {
            sent += 1;
            if !receipt.status() {
                net.fail(&format!("aggregator transaction {} reverted in block {number}", receipt.transaction_hash));
            }
        }
    }
    assert!(sent >= 2, "the aggregator sent its batches ({sent} transactions)");
    net.check_logs();
}

/// The aggregator stops for several periods of an interval job, so its sequences come due and are
/// superseded unproposed; then the job is cancelled and the chain goes quiet. Every daemon's store,
/// through `keeperctl status` and `keeperctl task list`, has no task left due, executed, signed,
/// proposed or submitted, and the keepers' missed tasks say which later sequence took over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_sequences_end_missed_and_nothing_stays_pending_once_the_chain_is_quiet() {
    use keeper_shared::api::{StatusResponse, TaskDetail, TaskList};
    use keeper_shared::job::TaskState;

    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let now = net.now().await;
    let counter = net.create_job(&net.counter_job(now, 2), U256::from(ETHER)).await;
    net.mine_every_second().await;
    for i in 0..3 {
        net.start(i);
    }
    net.wait_performed("a first task", SOON, |p| !of(p, &counter).is_empty()).await;
    net.daemon(0).kill9();
    tokio::time::sleep(Duration::from_secs(10)).await; // five periods without an aggregator
    let restarted = net.head().await;
    net.start(0);
    net.wait_performed("performed after the restart", SOON, |p| count_after(p, &counter, restarted) >= 2).await;
    receipt_of(net.job_manager().cancelJob(counter.id)).await;

    let deadline = Instant::now() + SOON;
    loop {
        let mut pending = Vec::new();
        for i in 0..3 {
            let status: StatusResponse = serde_json::from_str(&net.keeperctl(i, &["--json", "status"])).unwrap();
            for count in status.health.database.task_counts {
                if count.state.is_pending() && count.count > 0 {
                    pending.push((i, count.state, count.count));
                }
            }
        }
        if pending.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            net.fail(&format!("tasks still pending once the chain is quiet (daemon, state, count): {pending:?}"));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let job = counter.id.to_string();
    for i in 0..3 {
        for state in TaskState::ALL.iter().filter(|s| s.is_pending()) {
            let out = net.keeperctl(i, &["--json", "task", "list", "--state", state.as_str(), "--all"]);
            let list: TaskList = serde_json::from_str(&out).unwrap();
            assert!(list.tasks.is_empty(), "daemon {i}: {state} tasks: {:?}", list.tasks);
        }
    }

    // A keeper saw the sequences nobody proposed while the aggregator was down: missed, with the reason.
    let out = net.keeperctl(1, &["--json", "task", "list", "--state", "missed", "--job", &job, "--all"]);
    let missed: TaskList = serde_json::from_str(&out).unwrap();
    assert!(missed.tasks.len() >= 2, "a keeper's missed tasks: {:?}", missed.tasks);
    let sequence = missed.tasks[0].sequence.to_string();
    let detail: TaskDetail =
        serde_json::from_str(&net.keeperctl(1, &["--json", "task", "show", &job, &sequence])).unwrap();
    let reason = detail.reason().unwrap_or_default().to_owned();
    assert!(reason.starts_with("missed: sequence ") || reason.starts_with("missed: the job"), "{reason}");
    let shown = net.keeperctl(1, &["task", "show", &job, &sequence]);
    assert!(shown.contains("missed") && shown.contains(&reason), "{shown}");

    let performed = net.performed().await;
    assert_counter_matches(&net, &performed, &counter).await;
    net.check_logs();
}

// ---------------------------------------------------------------------------------------------------------
// A chain with a long history (issue 19)
// ---------------------------------------------------------------------------------------------------------

/// The state of task `(job, sequence)` in daemon `i`'s store, if it has it.
fn task_state(net: &Net, i: usize, job: U256, sequence: u64) -> Option<keeper_shared::job::TaskState> {
    let out = net.keeperctl(i, &["--json", "task", "list", "--job", &job.to_string(), "--all"]);
    let list: keeper_shared::api::TaskList = serde_json::from_str(&out).unwrap();
    list.tasks.iter().find(|t| t.sequence == sequence).map(|t| t.state)
}

/// Replaces the blocks from `first` on with new ones holding `again` (raw transactions, in order, in
/// the first new block). Mining pauses meanwhile so that the head does not move under the depth.
async fn reorg_from(net: &Net, first: u64, again: &[alloy::primitives::Bytes]) {
    net.provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (0u64,)).await.unwrap();
    let depth = net.head().await + 1 - first;
    let again: Vec<_> = again.iter().map(|raw| serde_json::json!([raw, 0])).collect();
    net.provider.raw_request::<_, ()>("anvil_reorg".into(), (depth, again)).await.unwrap();
    net.mine_every_second().await;
}

/// An event task whose log leaves the chain in a reorg ends `dropped`, with the block of its log as the
/// reason; when the same log comes back at the same place its task is due again and is performed once.
/// Only the aggregator's daemon runs until then (100 of 600: no quorum), so the task stays pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_task_whose_log_leaves_the_chain_is_dropped_and_due_again_when_it_comes_back() {
    use keeper_shared::api::TaskDetail;
    use keeper_shared::job::TaskState;

    keeper_devnet::binaries::keeperctl(); // built before the clock starts
    let mut net = Net::setup(&[100, 200, 300], 0).await;
    let mirror = net.create_job(&net.mirror_job(), U256::from(ETHER)).await;
    net.mine_every_second().await;
    net.start(0);
    let reported = net.report(1).await;
    let sequence = net.oracle_sequences().await.into_iter().next_back().unwrap();
    let block = net.provider.get_block_by_number(reported.into()).await.unwrap().unwrap();
    let mut raw = Vec::new();
    for hash in block.transactions.hashes() {
        raw.push(net.provider.raw_request("eth_getRawTransactionByHash".into(), (hash,)).await.unwrap());
    }
    let wait_state = |net: &mut Net, what: &str, ok: &dyn Fn(Option<TaskState>) -> bool| {
        let deadline = Instant::now() + SOON;
        loop {
            net.check_running();
            let socket = net.operators[0].config.parent().unwrap().join("data/keeperd.sock");
            let state = if socket.exists() { task_state(net, 0, mirror.id, sequence) } else { None };
            if ok(state) {
                return;
            }
            if Instant::now() > deadline {
                net.fail(&format!("task {sequence} of job {}: {what} within {SOON:?}; it is {state:?}", mirror.id));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_state(&mut net, "due", &|s| s.is_some_and(|s| s.is_pending()));

    reorg_from(&net, reported, &[]).await;
    wait_state(&mut net, "dropped", &|s| s == Some(TaskState::Dropped));
    let job = mirror.id.to_string();
    let detail: TaskDetail =
        serde_json::from_str(&net.keeperctl(0, &["--json", "task", "show", &job, &sequence.to_string()])).unwrap();
    let reason = detail.reason().unwrap_or_default();
    assert!(reason.starts_with(&format!("dropped: its log (block {reported}) left the chain")), "{reason}");

    // The report comes back in the same block at the same place: the same task.
    reorg_from(&net, reported, &raw).await;
    assert!(net.oracle_sequences().await.contains(&sequence), "the log is back at the same place");
    wait_state(&mut net, "due again", &|s| s.is_some_and(|s| s.is_pending()));
    let detail: TaskDetail =
        serde_json::from_str(&net.keeperctl(0, &["--json", "task", "show", &job, &sequence.to_string()])).unwrap();
    assert!(
        detail.history.iter().any(|step| step.detail.as_deref() == Some("due again: its log or its job's creation is back on the chain")),
        "{:?}",
        detail.history
    );
    net.start(1);
    net.start(2);
    let performed = net
        .wait_performed("the returned log's task performed", SOON, |p| {
            of(p, &mirror).iter().any(|t| t.sequence == sequence)
        })
        .await;
    assert_eq!(of(&performed, &mirror).iter().filter(|t| t.sequence == sequence).count(), 1);
    wait_state(&mut net, "performed in the aggregator's store", &|s| s == Some(TaskState::Performed));
    net.check_logs();
}

/// Numbers for the README's "long history" paragraph, by hand (`make history`): `HISTORY_JOBS` jobs
/// (default 10,000) created `JOBS_PER_BLOCK` a block (default 10) once the network is onboarded,
/// then spread over a chain of `HISTORY_BLOCKS` blocks (default 1,000,000) by empty blocks
/// ([`keeper_devnet::history`]: anvil cannot mine that many here, but loads them), and anvil
/// restarted on that chain. Then the first start of one daemon: time and rate to sync, its peak
/// memory, the progress `keeperctl status` showed, the latency of `GET /v1/operators` over
/// `OPERATORS_CALLS` calls (default 300), the time to follow a reorg, and a page of `keeperctl job
/// list` in direct mode (its spec scan in ranges of 10,000 blocks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: minutes, and a few GB for anvil; run with `make history`"]
async fn long_history_first_start_measured() {
    use keeper_shared::api::StatusResponse;
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (jobs, per_block, blocks, calls) = (
        env("HISTORY_JOBS", 10_000),
        env("JOBS_PER_BLOCK", 10),
        env("HISTORY_BLOCKS", 1_000_000),
        env("OPERATORS_CALLS", 300),
    );
    keeper_devnet::binaries::keeperctl();
    let mut net = Net::setup_on(common::anvil(), &[100, 200, 300], 0).await;
    let started = Instant::now();
    let owner = net.anvil.addresses()[0];
    // Due in a month: the measurement is the sync, not the tasks.
    let spec = net.counter_job(net.now().await + 30 * 86_400, 3600).to_job_manager().unwrap();
    let manager = net.job_manager();
    let deposit = U256::from(ETHER / 100);
    let gas = manager.createJob(spec.clone()).value(deposit).estimate_gas().await.unwrap() * 6 / 5;
    let from = net.head().await + 1;
    net.provider.raw_request::<_, serde_json::Value>("evm_setAutomine".into(), (false,)).await.unwrap();
    let mut nonce = net.provider.get_transaction_count(owner).await.unwrap();
    for block in 0..jobs.div_ceil(per_block) {
        for _ in 0..per_block.min(jobs - block * per_block) {
            let _pending = manager.createJob(spec.clone()).value(deposit).nonce(nonce).gas(gas).send().await.unwrap();
            nonce += 1;
        }
        net.provider.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
    }
    net.provider.raw_request::<_, serde_json::Value>("evm_setAutomine".into(), (true,)).await.unwrap();
    let last = net.head().await;
    let created = net
        .provider
        .get_logs(
            &Filter::new()
                .address(net.deployment.avs.job_manager)
                .event_signature(JobManager::JobCreated::SIGNATURE_HASH)
                .from_block(from)
                .to_block(last),
        )
        .await
        .unwrap()
        .len() as u64;
    assert_eq!(created, jobs, "every job created");
    let answer: String = net.provider.raw_request("anvil_dumpState".into(), ()).await.unwrap();
    let dump = keeper_devnet::history::decode_dump(&answer).unwrap();
    let gap = blocks.saturating_sub(last) / (last - from + 1);
    let state = net.dir().join("history.json");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&state).unwrap());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let spread = keeper_devnet::history::spread(&dump, from, gap, now, &mut file).unwrap();
    drop((file, dump));
    eprintln!(
        "history: {jobs} jobs in {} blocks, spread to {} blocks ({gap} empty before each) in {:.1?}",
        last - from + 1,
        spread.head,
        started.elapsed()
    );
    let loading = Instant::now();
    net.reload_anvil(&state);
    let _ = std::fs::remove_file(&state);
    eprintln!("anvil loaded the chain in {:.1?}", loading.elapsed());
    let head = net.head().await;
    let history = head - net.deployment.deploy_block;
    net.mine_every_second().await;

    let synced_from = Instant::now();
    net.start(0);
    let socket = net.operators[0].config.parent().unwrap().join("data/keeperd.sock");
    let pid = net.daemon(0).pid().unwrap();
    let mut shown = Vec::new();
    loop {
        net.check_running();
        if socket.exists() {
            let status: StatusResponse = serde_json::from_str(&net.keeperctl(0, &["--json", "status"])).unwrap();
            shown.push((status.sync.processed_block, status.sync.percent));
            if status.sync.state == keeper_shared::api::SyncState::Synced {
                break;
            }
        }
        assert!(synced_from.elapsed() < Duration::from_secs(1800), "not synced within 30 minutes");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sync_secs = synced_from.elapsed().as_secs_f64();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_owned();
    eprintln!(
        "first start: {history} blocks, {jobs} jobs synced in {sync_secs:.1} s ({:.0} blocks/s); {}; {}",
        history as f64 / sync_secs,
        field("VmHWM"),
        field("VmRSS")
    );
    eprintln!("status samples (processed block, percent): {shown:?}");

    let mut latencies = Vec::new();
    for _ in 0..calls {
        let at = Instant::now();
        let body = unix_get(&socket, "/v1/operators");
        latencies.push(at.elapsed());
        assert!(body.contains("\"operators\""), "{body}");
    }
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    eprintln!(
        "GET /v1/operators x{calls}: p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        pct(50),
        pct(99),
        latencies.last().unwrap()
    );
    let log = net.daemon(0).log_text();
    let progress_lines: Vec<&str> = log.lines().filter(|l| l.contains("catching up")).collect();
    eprintln!("{} progress lines; last: {:?}", progress_lines.len(), progress_lines.last());

    // A reorg at the tip of the long chain: the daemon follows the new branch. anvil holds states
    // only of blocks mined since it loaded the chain, and a reorg needs the one below it.
    while net.head().await < spread.head + 8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let reorged = net.reorg(6, false).await;
    let followed_from = Instant::now();
    loop {
        let status: StatusResponse = serde_json::from_str(&net.keeperctl(0, &["--json", "status"])).unwrap();
        if status.head.is_some_and(|head| head.number >= reorged) {
            break;
        }
        assert!(followed_from.elapsed() < Duration::from_secs(120), "the reorg not followed in 2 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("a reorg of depth 6 at block {reorged}: followed in {:.1?}", followed_from.elapsed());

    // keeperctl's direct mode: the first page of jobs (the oldest, their specs deepest in the
    // history) read from the chain in ranges of 10,000 blocks.
    let listing = Instant::now();
    let output = Command::new(keeper_devnet::binaries::keeperctl())
        .args(["--json", "job", "list", "--limit", "100", "--rpc-url", net.anvil.endpoint().as_str()])
        .arg("--deployment")
        .arg(net.dir().join("deployment.json"))
        .env_remove("KEEPERD_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "keeperctl job list --rpc-url: {stderr}");
    let list: keeper_shared::api::JobList = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list.jobs.len(), 100);
    eprintln!(
        "keeperctl job list --rpc-url (100 jobs): {:.1?}, {} progress lines; last: {:?}",
        listing.elapsed(),
        stderr.lines().filter(|l| l.contains("reading")).count(),
        stderr.lines().rfind(|l| l.contains("reading"))
    );
    net.check_logs();
}

/// The body of an HTTP/1.1 GET on the control API's socket.
fn unix_get(socket: &Path, path: &str) -> String {
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: keeperd\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
