//! What the P2P tests share (`p2p_e2e` on loopback, `p2p_netns` across network namespaces): one
//! operator's `keeperd run` owned by a guard, and a deployed network of operators with an interval
//! job, read back from the chain. How the daemons are placed (ports, hosts) is each test's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use keeper_devnet::jobs;
use keeper_devnet::operators::{node_nonce_provider, DeployedDevnet, DevnetOperator};
use keeper_devnet::pipeline::{metrics_listen, performed_tasks};
use keeper_shared::contracts::{BlsKeyRegistry, JobManager, SampleCounter, TaskManager};
use keeper_shared::deployment::Deployment;
use keeper_shared::eigenlayer::allocation_manager::AllocationManager;
use keeperd::jobs::{Action, JobSpec, Trigger};
use tempfile::TempDir;

/// One operator's `keeperd run` (the harness's guard, SIGKILLed when dropped) with what the P2P
/// tests read of it: its metrics and its control socket.
pub struct Daemon {
    process: keeper_devnet::Daemon,
    socket: PathBuf,
    metrics: String,
}

impl std::ops::Deref for Daemon {
    type Target = keeper_devnet::Daemon;
    fn deref(&self) -> &Self::Target {
        &self.process
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.process
    }
}

impl Daemon {
    /// `keeperd run --config <config>` on this host.
    pub fn spawn(config: &Path) -> Self {
        Self::spawn_with(config, &[])
    }

    /// `<launcher…> keeperd run --config <config>`, where the launcher runs keeperd (`ip netns exec
    /// <ns>` in a test bed: `ip` execs it, so the child's pid is keeperd's). Logs go to
    /// `keeperd.log` next to the config.
    pub fn spawn_with(config: &Path, launcher: &[&str]) -> Self {
        let process = keeper_devnet::Daemon::builder(Path::new(env!("CARGO_BIN_EXE_keeperd")))
            .config(config)
            .launcher(launcher)
            .spawn()
            .unwrap();
        let metrics = metrics_listen(config).unwrap();
        let socket = keeper_devnet::pipeline::api_socket(config);
        Self { process, socket, metrics }
    }

    /// The sum of a metric's series on this daemon's `/metrics` (`name` may carry labels:
    /// `keeper_p2p_submissions_total{role="takeover"}`).
    pub async fn metric(&self, name: &str) -> f64 {
        let body = reqwest::get(format!("http://{}/metrics", self.metrics)).await.unwrap().text().await.unwrap();
        sum_metric(&body, name)
    }

    /// `GET <path>` on the control socket, as JSON.
    pub fn get(&self, path: &str) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: keeperd\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path} body {body:?}: {e}"))
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> serde_json::Value {
        self.get("/v1/status")
    }

    /// The operators (lower-case `0x…`) of the verified peers in `GET /v1/status`.
    pub fn verified_peers(&self) -> Vec<String> {
        let status = self.status();
        status["p2p"]["peers"]
            .as_array()
            .map(|peers| peers.iter().filter_map(|p| p["operator"].as_str().map(str::to_lowercase)).collect())
            .unwrap_or_default()
    }

    /// The daemon's store (`<data_dir>/keeperd.sqlite`); open it once the daemon is stopped.
    pub fn store_path(&self) -> PathBuf {
        self.process.config().unwrap().parent().unwrap().join("data/keeperd.sqlite")
    }
}

/// The sum of the series of `name` in a Prometheus text body.
pub fn sum_metric(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter(|line| line[name.len()..].starts_with([' ', '{']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A deployed network: the AVS on anvil, operators onboarded with their stakes and a config file
/// each (without a `[p2p]` section: where the daemons listen is the test's choice), and a sample
/// counter for interval jobs.
pub struct Chain {
    pub provider: DynProvider,
    pub deployment: Deployment,
    pub counter: Address,
    /// Every onboarded operator's key, in order.
    pub operators: Vec<PrivateKeySigner>,
    pub configs: Vec<PathBuf>,
    pub dir: TempDir,
}

impl Chain {
    /// Deploys on `anvil` and onboards one operator per entry of `stakes` (in whole
    /// stake tokens) from anvil's accounts 1, 2, …; their configs point at `rpc_url` (anvil's own
    /// endpoint unless the daemons run on other hosts).
    pub async fn deploy(anvil: &AnvilInstance, rpc_url: &str, stakes: &[u64]) -> Self {
        let (owner, provider) = node_nonce_provider(anvil, 0);
        let dir = tempfile::tempdir().unwrap();
        let devnet = DeployedDevnet::deploy_as(owner, provider, dir.path()).await.unwrap();
        // Over P2P alone the aggregator endpoint is neither served nor used; the files name one anyway.
        let unused_http = "127.0.0.1:9";
        let mut operators = Vec::new();
        let mut configs = Vec::new();
        for (i, stake) in stakes.iter().enumerate() {
            let roles = vec!["keeper", "aggregator", "challenger"];
            let operator =
                DevnetOperator::onboard(anvil, &devnet, i, *stake, roles, rpc_url, unused_http).await.unwrap();
            operators.push(operator.signer);
            configs.push(operator.config);
        }
        let DeployedDevnet { provider, deployment, .. } = devnet;
        let counter = *SampleCounter::deploy(&provider, owner).await.unwrap().address();
        Self { provider, deployment, counter, operators, configs, dir }
    }

    pub fn addresses(&self) -> Vec<Address> {
        self.operators.iter().map(PrivateKeySigner::address).collect()
    }

    /// One block every `seconds` from now on.
    pub async fn interval_mining(&self, seconds: u64) {
        self.provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (seconds,)).await.unwrap();
    }

    /// A job calling `counter.increment()` every `period` seconds from now, funded, its forwarder
    /// allowed.
    pub async fn counter_job(&self, period: u64) -> U256 {
        let (_, now) = jobs::head(&self.provider).await.unwrap();
        let spec = JobSpec {
            trigger: Trigger::Interval { start: now, period },
            action: Action::Call { target: self.counter, data: SampleCounter::incrementCall {}.abi_encode().into() },
            gas_limit: 300_000,
            max_fee: 10_000_000_000_000_000,
            expiry: None,
        };
        let deposit = U256::from(jobs::ONE_ETHER);
        jobs::create_allowed_job(&self.provider, self.deployment.avs.job_manager, &spec, deposit).await.unwrap().id
    }

    /// Every `TaskPerformed` as (job, sequence) → (block, transaction sender); `Err` names a task
    /// performed twice.
    pub async fn performed(&self) -> Result<BTreeMap<(U256, u64), (u64, Address)>, String> {
        let head = self.provider.get_block_number().await.unwrap();
        let all = performed_tasks(&self.provider, self.deployment.avs.task_manager, self.deployment.deploy_block, head)
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for (job, sequence, block, _success, _, _) in all {
            if out.insert((job, sequence), (block, Address::ZERO)).is_some() {
                return Err(format!("job {job} task {sequence} performed twice"));
            }
        }
        for (block, sender) in out.values_mut() {
            *sender = self.submitter_in(*block).await;
        }
        Ok(out)
    }

    /// Who sent the task manager's transaction in `block`.
    pub async fn submitter_in(&self, block: u64) -> Address {
        let block = self.provider.get_block_by_number(block.into()).full().await.unwrap().unwrap();
        block
            .transactions
            .into_transactions()
            .find(|tx| {
                use alloy::consensus::Transaction;
                tx.inner.to() == Some(self.deployment.avs.task_manager)
            })
            .map(|tx| tx.inner.signer())
            .unwrap_or_default()
    }

    /// `OperatorSlashed` events since the deployment.
    /// The blocks and senders of the key registry's weight confirmations (`updateAllWeights`), oldest first.
    pub async fn weight_confirmations(&self) -> Vec<(u64, Address)> {
        let filter = alloy::rpc::types::Filter::new()
            .address(self.deployment.avs.key_registry)
            .event_signature(BlsKeyRegistry::WeightsConfirmed::SIGNATURE_HASH)
            .from_block(self.deployment.deploy_block);
        let mut confirmations = Vec::new();
        for log in self.provider.get_logs(&filter).await.unwrap() {
            let hash = log.transaction_hash.unwrap();
            let tx = self.provider.get_transaction_by_hash(hash).await.unwrap().unwrap();
            confirmations.push((log.block_number.unwrap(), tx.inner.signer()));
        }
        confirmations
    }

    pub async fn max_weight_age(&self) -> u32 {
        TaskManager::new(self.deployment.avs.task_manager, &self.provider).maxWeightAge().call().await.unwrap()
    }

    pub async fn slashings(&self) -> usize {
        let filter = alloy::rpc::types::Filter::new()
            .address(self.deployment.eigenlayer.allocation_manager)
            .event_signature(AllocationManager::OperatorSlashed::SIGNATURE_HASH)
            .from_block(self.deployment.deploy_block);
        self.provider.get_logs(&filter).await.unwrap().len()
    }
}

/// Running operators over a deployed [`Chain`]; on failure, each daemon's log tail and the kept
/// temp dir go into the panic message.
pub struct Operators {
    /// Daemons drop (are killed) before the chain's temp dir goes.
    pub daemons: Vec<Daemon>,
    pub chain: Chain,
    /// Set when the files are to outlive the test (a failure, or `keep` asked).
    pub keep: bool,
    pub started: Instant,
    pub name: &'static str,
}

impl Operators {
    pub async fn performed(&self) -> BTreeMap<(U256, u64), (u64, Address)> {
        match self.chain.performed().await {
            Ok(performed) => performed,
            Err(message) => self.fail(&message),
        }
    }

    /// Polls the performed tasks until `done(count)`; fails naming `what` after `timeout`.
    pub async fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(usize) -> bool) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.performed().await.len();
            if done(count) {
                return count;
            }
            if Instant::now() > deadline {
                self.fail(&format!("timed out after {timeout:?} waiting for {what} ({count} performed)"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The first daemon to log `needle` after its offset in `offsets` (polled every 5 ms).
    pub async fn first_to_log(&self, offsets: &[u64], needle: &str, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = (0..self.daemons.len()).find(|i| self.daemons[*i].logged_since(offsets[*i], needle)) {
                return i;
            }
            if Instant::now() > deadline {
                self.fail(&format!("nobody logged {needle:?} within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Fails if any daemon logged a slashing-protection refusal, an equivocation, an error or a
    /// role failure.
    pub fn check_logs(&self) {
        for (i, daemon) in self.daemons.iter().enumerate() {
            let log = daemon.log_text();
            for bad in ["slashing protection refused", "role failed", " ERROR ", "panicked", "equivocation"] {
                if let Some(line) = log.lines().find(|l| l.contains(bad)) {
                    self.fail(&format!("operator {i} logged {bad:?}: {line}"));
                }
            }
        }
    }

    pub fn fail(&self, message: &str) -> ! {
        let mut context = String::new();
        for (i, daemon) in self.daemons.iter().enumerate() {
            let log = daemon.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            context.push_str(&format!("\n--- operator {i} log tail ---\n{tail}\n"));
        }
        panic!(
            "{}: {message} (after {:?}; files in {}){context}",
            self.name,
            self.started.elapsed(),
            self.chain.dir.path().display()
        );
    }
}

impl Drop for Operators {
    fn drop(&mut self) {
        for daemon in &mut self.daemons {
            daemon.kill9();
        }
        if std::thread::panicking() || self.keep {
            let dir = std::mem::replace(&mut self.chain.dir, tempfile::tempdir().unwrap());
            eprintln!("{}: keeping {}", self.name, dir.keep().display());
        }
    }
}
