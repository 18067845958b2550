//! Script jobs through the real daemons: anvil with EigenLayer and the AVS, `keeperd run` processes, the
//! SDK's example modules (built by `make setup`) served over HTTP on 127.0.0.1 as the devnet serves them.
//!
//! - Three keepers perform both examples, and for every performed task all three signed the same response
//!   (read back from each keeper's slashing-protection record). `SCRIPT_E2E_RUNS` sets how many performed
//!   tasks of each example to wait for (default 10; `docs/script-jobs.md` has a run with 100).
//! - A hostile module (an infinite loop) fails its tasks with the reason in the task's history, and the
//!   same daemon keeps performing another job.
//!
//! The tests own anvil and the daemons (killed on drop).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, Bytes, I256, U256};
use alloy::providers::{DynProvider, Provider};
use keeper_devnet::jobs;
use keeper_devnet::operators::{DeployedDevnet, DevnetOperators, Keeper, OperatorPlan};
use keeper_devnet::pipeline::{performed_tasks, SampleJob, Samples};
use keeper_devnet::scripts::{self, ScriptServer};
use keeper_shared::batch::TaskId;
use keeper_shared::contracts::{SampleCounter, SampleOracle};
use keeper_shared::deployment::Deployment;
use keeperd::jobs::{Action, JobSpec, Trigger};
use keeperd::store::{Store, TaskState};

/// Seconds between a script job's tasks.
const PERIOD: u64 = 2;

/// A devnet of `keepers` daemons (operator 0 also aggregates and challenges), the sample counter and
/// oracle, and a script server.
struct Net {
    _anvil: AnvilInstance,
    _dir: tempfile::TempDir,
    provider: DynProvider,
    owner: Address,
    deployment: Deployment,
    samples: Samples,
    server: ScriptServer,
    keepers: Vec<Keeper>,
    operators: DevnetOperators,
}

impl Net {
    async fn start(keepers: usize, extra_modules: Vec<(String, Vec<u8>)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let anvil = common::anvil();
        let devnet = DeployedDevnet::deploy(&anvil, dir.path()).await.unwrap();
        let plan = OperatorPlan::http(keepers);
        let operators = DevnetOperators::onboard(&anvil, &devnet, &plan, |_| Ok(())).await.unwrap();
        for operator in &operators.operators {
            // Gather signatures long enough after quorum that every keeper's lands in each batch: the test
            // compares all three keepers' responses for every task.
            let text = std::fs::read_to_string(&operator.config)
                .unwrap()
                .replace("quorum_window_ms = 200", "quorum_window_ms = 1500");
            std::fs::write(&operator.config, text).unwrap();
        }
        let DeployedDevnet { owner, provider, deployment, .. } = devnet;
        let counter = *SampleCounter::deploy(&provider, owner).await.unwrap().address();
        let oracle = *SampleOracle::deploy(&provider, owner).await.unwrap().address();
        let samples = Samples {
            counter,
            book: Address::ZERO,
            vault: Address::ZERO,
            resolver: Address::ZERO,
            oracle,
            mirror: Address::ZERO,
            jobs: Vec::new(),
        };
        let mut modules = Vec::new();
        for name in scripts::EXAMPLES {
            let path = scripts::default_examples_dir().join(format!("{name}.wasm"));
            let code = std::fs::read(&path).unwrap_or_else(|e| panic!("{} ({e}): run `make setup`", path.display()));
            modules.push((name.to_owned(), code));
        }
        modules.extend(extra_modules);
        let server = ScriptServer::start(modules).await.unwrap();
        Self { _anvil: anvil, _dir: dir, provider, owner, deployment, samples, server, keepers: Vec::new(), operators }
    }

    async fn spawn_keepers(&mut self) {
        self.provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,)).await.unwrap();
        self.keepers = self.operators.spawn(std::path::Path::new(env!("CARGO_BIN_EXE_keeperd"))).unwrap();
    }

    fn logs(&self) -> String {
        self.keepers.iter().map(|keeper| keeper.daemon.log_text()).collect::<Vec<_>>().join("\n----\n")
    }

    /// Reports a new oracle answer every `PERIOD` seconds and collects the performed tasks of `jobs` until
    /// each has `runs` of them (or `limit` passes, which fails the test).
    async fn wait_performed(&mut self, jobs: &[SampleJob], runs: u64, limit: Duration) -> BTreeMap<U256, Vec<u64>> {
        let oracle = SampleOracle::new(self.samples.oracle, &self.provider);
        let started = Instant::now();
        let mut next_block = self.provider.get_block_number().await.unwrap();
        let mut performed: BTreeMap<U256, Vec<u64>> = jobs.iter().map(|j| (j.id, Vec::new())).collect();
        let mut round = 0i64;
        while performed.values().any(|tasks| (tasks.len() as u64) < runs) {
            assert!(started.elapsed() < limit, "performed within {limit:?}: {performed:?}\n{}", self.logs());
            for keeper in &mut self.keepers {
                assert!(keeper.daemon.exited().is_none(), "a daemon exited:\n{}", self.logs());
            }
            round += 1;
            oracle.report(I256::try_from(2000 + round).unwrap()).send().await.unwrap().get_receipt().await.unwrap();
            let head = self.provider.get_block_number().await.unwrap();
            if head >= next_block {
                let task_manager = self.deployment.avs.task_manager;
                for (job, sequence, _, success, _, _) in
                    performed_tasks(&self.provider, task_manager, next_block, head).await.unwrap()
                {
                    if let Some(tasks) = performed.get_mut(&job) {
                        assert!(success, "job {job} task {sequence}: the target reverted");
                        assert!(!tasks.contains(&sequence), "job {job} task {sequence} performed twice");
                        tasks.push(sequence);
                    }
                }
                next_block = head + 1;
            }
            tokio::time::sleep(Duration::from_secs(PERIOD)).await;
        }
        performed
    }

    fn stop(&mut self) {
        for keeper in &mut self.keepers {
            keeper.daemon.stop(Duration::from_secs(20));
        }
    }

    fn store(&self, keeper: usize) -> Store {
        Store::open(self.operators.operators[keeper].config.with_file_name("data").join("keeperd.sqlite")).unwrap()
    }
}

/// The hash of job `job`'s spec as the daemon behind `store` indexed it (signed responses are kept per spec).
fn spec_hash(store: &mut Store, job: U256) -> alloy::primitives::B256 {
    let record = store.read(|tx| tx.job(job)).unwrap().unwrap_or_else(|| panic!("job {job} not indexed"));
    JobSpec::decode(&record.spec).unwrap().hash().unwrap()
}

fn runs() -> u64 {
    std::env::var("SCRIPT_E2E_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_keepers_sign_identical_responses_for_the_example_scripts() {
    let runs = runs();
    let mut net = Net::start(3, Vec::new()).await;
    let jobs =
        scripts::create_example_jobs(&net.provider, &net.deployment, net.owner, &mut net.samples, &net.server, PERIOD)
            .await
            .unwrap();
    net.spawn_keepers().await;
    let started = Instant::now();
    let performed = net.wait_performed(&jobs, runs, Duration::from_secs(60 + runs * 10)).await;
    let elapsed = started.elapsed();
    net.stop();

    let deployment = &net.deployment;
    let mut stores: Vec<Store> = (0..3).map(|i| net.store(i)).collect();
    let mut compared = 0;
    for (job, sequences) in &performed {
        for &sequence in sequences {
            let task = TaskId { job_id: *job, sequence };
            let responses: Vec<_> = stores
                .iter_mut()
                .map(|store| {
                    let spec = spec_hash(store, *job);
                    store
                        .slashing_protection()
                        .signed_response(deployment.chain_id, deployment.avs.task_manager, task, spec)
                        .unwrap()
                        .map(|signed| signed.response_hash)
                })
                .collect();
            assert!(responses[0].is_some(), "job {job} task {sequence}: keeper 0 signed nothing: {responses:?}");
            assert!(
                responses.iter().all(|r| *r == responses[0]),
                "job {job} task {sequence}: the keepers signed different responses: {responses:?}"
            );
            compared += 1;
        }
    }
    let per_job: Vec<_> = jobs.iter().map(|job| format!("{} x{}", job.name, performed[&job.id].len())).collect();
    println!(
        "script e2e: {compared} performed tasks ({}), identical responses from 3 keepers, in {:.0} s",
        per_job.join(", "),
        elapsed.as_secs_f64()
    );
}

/// Loops forever: the run ends out of fuel.
const INFINITE_LOOP: &str = r#"(module (memory (export "memory") 1) (func (export "run") (loop (br 0))))"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_script_fails_its_tasks_with_the_reason_and_the_daemon_performs_other_jobs() {
    let hostile = wat::parse_str(INFINITE_LOOP).unwrap();
    let mut net = Net::start(1, vec![("infinite_loop".to_owned(), hostile)]).await;
    let owner = net.owner;
    let now = net.provider.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp;
    let trigger = Trigger::Interval { start: now, period: PERIOD };
    let module = net.server.module("infinite_loop").unwrap().clone();
    let spec = JobSpec {
        trigger,
        action: Action::Script {
            target: net.samples.counter,
            args: Bytes::new(),
            code_url: module.url,
            code_hash: module.code_hash,
        },
        gas_limit: 300_000,
        max_fee: 10u128.pow(16),
        expiry: None,
    };
    let job_manager = net.deployment.avs.job_manager;
    let ether = U256::from(jobs::ONE_ETHER);
    let hostile_job = jobs::create_allowed_job(&net.provider, job_manager, &spec, ether).await.unwrap().id;
    let window = net.server.module("time_window").unwrap().clone();
    let spec = scripts::example_spec(&window, trigger, net.samples.counter, net.samples.oracle, owner).unwrap();
    let good_job = SampleJob {
        id: jobs::create_allowed_job(&net.provider, job_manager, &spec, ether).await.unwrap().id,
        name: "",
    };
    net.spawn_keepers().await;
    net.wait_performed(&[good_job], 3, Duration::from_secs(120)).await;
    net.stop();

    let mut store = net.store(0);
    let failures: Vec<(TaskId, String)> = store
        .read(|tx| {
            let mut failures = Vec::new();
            for record in tx.tasks_of_job(hostile_job, None, 100)?.tasks {
                // A task due when the daemon stopped may not have been run yet, and one superseded by the
                // next sequence before it was run is missed; every other one failed.
                assert!(matches!(record.state, TaskState::Failed | TaskState::Due | TaskState::Missed), "{record:?}");
                assert_eq!(record.response_hash, None, "nothing was signed for {record:?}");
                let history = tx.task_history(record.task)?;
                failures.extend(
                    history
                        .into_iter()
                        .filter(|t| t.to == TaskState::Failed)
                        .filter_map(|t| Some((record.task, t.detail?))),
                );
            }
            Ok::<_, keeperd::store::StoreError>(failures)
        })
        .unwrap();
    assert!(!failures.is_empty(), "no failed task of the hostile job:\n{}", net.logs());
    let spec = spec_hash(&mut store, hostile_job);
    for (task, reason) in &failures {
        assert!(reason.contains("out of fuel"), "{reason}");
        let signed = store
            .slashing_protection()
            .signed_response(net.deployment.chain_id, net.deployment.avs.task_manager, *task, spec)
            .unwrap();
        assert!(signed.is_none(), "the keeper signed a response for the hostile job's {task:?}: {signed:?}");
    }
    assert!(net.logs().contains("keeperd stopped"), "the daemon stopped cleanly:\n{}", net.logs());
}
