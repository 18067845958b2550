//! The devnet's keepers at work: each onboarded operator gets its own keystores, config, database
//! and `keeperd run` process (operator 0 also aggregates and challenges); sample jobs of every kind
//! are created against the sample targets, the chain is nudged so that each has work, and every
//! task the task manager performs is printed as it lands.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use eyre::{eyre, WrapErr};
use keeper_shared::bls::SecretKey;
use keeper_shared::contracts::{
    SampleCounter, SampleLiquidationBook, SampleOracle, SamplePriceMirror, SampleVault, SampleVaultResolver,
    TaskManager,
};
use keeper_shared::deployment::Deployment;
use keeper_shared::keystore::{ecdsa, KdfChoice, Keystore, WriteMode};

use keeperd::eigenlayer::onboarding::confirm;
use keeperd::jobs::{Action, EventFilter, JobSpec, Trigger};

use crate::jobs;
use crate::operators::{self, Keeper};

/// The devnet aggregator's quorum window: short, for a one-second chain; still two keeper polls
/// at the default interval (`config`'s test holds them to it).
pub const DEVNET_QUORUM_WINDOW_MS: u64 = 200;
/// Devnet keystores use light KDF parameters: the keys guard nothing, and each daemon start
/// decrypts them (a production keystore uses scrypt 2^18).
const DEVNET_KDF: KdfChoice = KdfChoice::Pbkdf2 { c: 4096 };

/// One sample job.
#[derive(Debug, Clone)]
pub struct SampleJob {
    pub id: U256,
    pub name: &'static str,
}

/// Writes operator `index`'s keystores, password and config under `dir`, returning the config path.
#[allow(clippy::too_many_arguments)]
pub fn write_operator_files(
    dir: &Path,
    signer: &PrivateKeySigner,
    key: &SecretKey,
    rpc_url: &str,
    deployment_file: &Path,
    roles: &[&str],
    aggregator: &str,
) -> eyre::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let password = hex::encode(rand::random::<[u8; 16]>());
    let password_file = dir.join("password");
    std::fs::write(&password_file, &password)?;
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))?;
    Keystore::from_secret_key(key, "", &password, DEVNET_KDF)?.write_to(dir.join("bls.json"), WriteMode::Replace)?;
    ecdsa::import(dir.join("ecdsa.json"), signer.to_bytes().as_slice(), &password, DEVNET_KDF, WriteMode::Replace)?;
    let roles = roles.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ");
    // Its own metrics port per daemon, known in advance so a Prometheus targets file can list it.
    let metrics = format!("127.0.0.1:{}", free_port()?);
    let config = format!(
        "# Written by keeper-devnet.\n\
         data_dir = \"data\"\n\
         deployment = \"{deployment}\"\n\
         roles = [{roles}]\n\n\
         [chain]\n\
         rpc_urls = [\"{rpc_url}\"]\n\
         confirmations = 0\n\
         poll_interval_ms = 200\n\n\
         [operator]\n\
         ecdsa_keystore = \"ecdsa.json\"\n\
         bls_keystore = \"bls.json\"\n\
         password_file = \"password\"\n\n\
         [aggregator]\n\
         listen = \"{aggregator}\"\n\
         url = \"http://{aggregator}\"\n\
         quorum_window_ms = {DEVNET_QUORUM_WINDOW_MS}\n\n\
         [keeper]\n\
         poll_interval_ms = {DEFAULT_KEEPER_POLL_MS}\n\n\
         [metrics]\n\
         listen = \"{metrics}\"\n",
        deployment = deployment_file.display(),
        DEFAULT_KEEPER_POLL_MS = keeperd::config::DEFAULT_KEEPER_POLL_MS,
    );
    let path = dir.join("keeperd.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}

/// Appends a `[p2p]` section to an operator's config (written by [`write_operator_files`]): the
/// operators' network on loopback, listening on `port` and dialling the other operators' ports.
pub fn append_p2p_section(config: &Path, port: u16, peers: &[u16], takeover_blocks: u64) -> eyre::Result<()> {
    use std::io::Write;
    let bootstrap: Vec<String> = peers.iter().map(|p| format!("\"/ip4/127.0.0.1/tcp/{p}\"")).collect();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(config)
        .wrap_err_with(|| format!("opening {}", config.display()))?;
    write!(
        file,
        "\n[p2p]\ntransport = \"p2p\"\nlisten = [\"/ip4/127.0.0.1/tcp/{port}\"]\nbootstrap = [{}]\ntakeover_blocks = {takeover_blocks}\n",
        bootstrap.join(", ")
    )?;
    Ok(())
}

/// Where the daemon of `config` (a file [`write_operator_files`] wrote) serves its metrics.
pub fn metrics_listen(config: &Path) -> eyre::Result<String> {
    let text = std::fs::read_to_string(config).wrap_err_with(|| format!("reading {}", config.display()))?;
    let value: toml::Value = toml::from_str(&text).wrap_err_with(|| format!("parsing {}", config.display()))?;
    value
        .get("metrics")
        .and_then(|m| m.get("listen"))
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| eyre!("{}: no [metrics] listen", config.display()))
}

/// The control socket of the daemon of `config` (written by [`write_operator_files`]: its data
/// directory is `data` next to the file, and a daemon given a data directory listens in it).
pub fn api_socket(config: &Path) -> PathBuf {
    keeperd::config::data_dir_api_socket(&config.parent().unwrap_or(Path::new(".")).join("data"))
}

/// One daemon as a Prometheus scrape target.
#[derive(Debug, Clone)]
pub struct MetricsTarget {
    /// The operator's index in the devnet (`operator-N`).
    pub index: usize,
    pub operator: Address,
    pub roles: Vec<&'static str>,
    /// `ip:port` of `GET /metrics`.
    pub listen: String,
}

/// Writes `path` as a Prometheus file-based discovery list (`file_sd_configs`), one group per
/// daemon labelled with its operator index, address and roles; replaced atomically, since
/// Prometheus re-reads it whenever it changes (dashboards/prometheus.yml points at the devnet's).
pub fn write_prometheus_targets(path: &Path, targets: &[MetricsTarget]) -> eyre::Result<()> {
    let groups: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| {
            serde_json::json!({
                "targets": [t.listen],
                "labels": {
                    "operator": t.index.to_string(),
                    "operator_address": t.operator.to_string(),
                    "roles": t.roles.join(","),
                },
            })
        })
        .collect();
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_string_pretty(&groups)? + "\n")
        .wrap_err_with(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).wrap_err_with(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A free port on 127.0.0.1 (bound then released).
pub fn free_port() -> eyre::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The sample targets.
pub struct Samples {
    pub counter: Address,
    pub book: Address,
    pub vault: Address,
    pub resolver: Address,
    pub oracle: Address,
    pub mirror: Address,
    pub jobs: Vec<SampleJob>,
}

/// Deploys the sample targets and creates one job of each kind, each funded with 1 ether, and
/// allows each job's forwarder on its target.
pub async fn create_sample_jobs<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    owner: Address,
    interval_secs: u64,
) -> eyre::Result<Samples> {
    let counter = *SampleCounter::deploy(provider, owner).await?.address();
    let book =
        *SampleLiquidationBook::deploy(provider, owner, U256::from(2000u64) * U256::from(10u64).pow(U256::from(18u64)))
            .await?
            .address();
    let vault = *SampleVault::deploy(provider, owner).await?.address();
    let resolver = *SampleVaultResolver::deploy(provider, vault, U256::from(100u64)).await?.address();
    let oracle = *SampleOracle::deploy(provider, owner).await?.address();
    let mirror = *SamplePriceMirror::deploy(provider, owner, oracle).await?.address();

    let (_, now) = jobs::head(provider).await?;
    let spec = |trigger, action| JobSpec { trigger, action, gas_limit: 300_000, max_fee: 10u128.pow(16), expiry: None };
    let specs = [
        (
            "interval: counter.increment()",
            spec(
                Trigger::Interval { start: now, period: interval_secs },
                Action::Call { target: counter, data: SampleCounter::incrementCall {}.abi_encode().into() },
            ),
        ),
        (
            "block: counter.increment() every 10 blocks",
            spec(
                Trigger::Block { start: 0, period: 10 },
                Action::Call { target: counter, data: SampleCounter::incrementCall {}.abi_encode().into() },
            ),
        ),
        (
            "Chainlink-style: liquidation book checkUpkeep/performUpkeep",
            spec(
                Trigger::Interval { start: now, period: 2 },
                Action::ChainlinkUpkeep { target: book, check_data: Bytes::new() },
            ),
        ),
        (
            "Gelato-style: vault harvest when the resolver says so",
            spec(
                Trigger::Interval { start: now, period: 2 },
                Action::GelatoResolver {
                    target: vault,
                    resolver,
                    resolver_data: SampleVaultResolver::checkerCall {}.abi_encode().into(),
                },
            ),
        ),
        (
            "event: mirror.sync() on each oracle AnswerUpdated",
            spec(
                Trigger::Event(EventFilter {
                    start: 0,
                    emitter: oracle,
                    topic0: SampleOracle::AnswerUpdated::SIGNATURE_HASH,
                    topics: [None, None, None],
                }),
                Action::Call { target: mirror, data: SamplePriceMirror::syncCall {}.abi_encode().into() },
            ),
        ),
    ];
    let mut created = Vec::new();
    for (name, spec) in specs {
        let deposit = U256::from(jobs::ONE_ETHER);
        let id = jobs::create_allowed_job(provider, deployment.avs.job_manager, &spec, deposit).await?.id;
        created.push(SampleJob { id, name });
    }
    Ok(Samples { counter, book, vault, resolver, oracle, mirror, jobs: created })
}

/// Gives the condition and event jobs work: a new oracle answer and vault rewards every call, and
/// (on the `liquidation`th call) an under-water position.
pub async fn nudge<P: Provider>(provider: &P, samples: &Samples, round: u64) -> eyre::Result<()> {
    let oracle = SampleOracle::new(samples.oracle, provider);
    confirm(
        "reporting an oracle answer",
        oracle.report(alloy::primitives::I256::try_from(2000 + round as i64)?).send().await,
    )
    .await?;
    let vault = SampleVault::new(samples.vault, provider);
    confirm("accruing vault rewards", vault.accrue(U256::from(250u64)).send().await).await?;
    if round % 4 == 1 {
        let book = SampleLiquidationBook::new(samples.book, provider);
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        confirm("setting the price", book.setPrice(U256::from(2000u64) * e18).send().await).await?;
        confirm(
            "opening a position",
            book.openPosition(1_000_000_000_000_000_000, 1_500_000_000_000_000_000_000).send().await,
        )
        .await?;
        confirm("dropping the price", book.setPrice(U256::from(1000u64) * e18).send().await).await?;
    }
    Ok(())
}

/// Every `TaskPerformed` of blocks `from..=to`: (job, sequence, block, success, gas used, fee).
pub async fn performed_tasks<P: Provider>(
    provider: &P,
    task_manager: Address,
    from: u64,
    to: u64,
) -> eyre::Result<Vec<(U256, u64, u64, bool, U256, U256)>> {
    let filter = Filter::new()
        .address(task_manager)
        .event_signature(TaskManager::TaskPerformed::SIGNATURE_HASH)
        .from_block(from)
        .to_block(to);
    let mut out = Vec::new();
    for log in provider.get_logs(&filter).await? {
        let e = TaskManager::TaskPerformed::decode_log_data(log.data())?;
        out.push((e.jobId, e.sequence, log.block_number.unwrap_or_default(), e.success, e.gasUsed, e.fee));
    }
    Ok(out)
}

/// The whole walk-through after deployment: operators' daemons, sample jobs, progress until
/// `until` (every sample job performed at least that many times) or `duration`.
pub struct PipelineRun {
    pub performed: BTreeMap<U256, u64>,
}

#[allow(clippy::too_many_arguments)]
pub async fn watch<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    samples: &Samples,
    keepers: &mut [Keeper],
    until: Option<u64>,
    duration: Duration,
    out: &mut impl Write,
) -> eyre::Result<PipelineRun> {
    let start = Instant::now();
    let mut next_block = provider.get_block_number().await?;
    let mut performed: BTreeMap<U256, u64> = samples.jobs.iter().map(|j| (j.id, 0)).collect();
    let mut seen = std::collections::HashSet::new();
    let names: BTreeMap<U256, &str> = samples.jobs.iter().map(|j| (j.id, j.name)).collect();
    let mut round = 0u64;
    let mut last_nudge = Instant::now() - Duration::from_secs(10);
    while start.elapsed() < duration {
        if last_nudge.elapsed() >= Duration::from_secs(3) {
            round += 1;
            nudge(provider, samples, round).await?;
            last_nudge = Instant::now();
        }
        let head = provider.get_block_number().await?;
        if head >= next_block {
            for (job, sequence, block, success, gas, fee) in
                performed_tasks(provider, deployment.avs.task_manager, next_block, head).await?
            {
                if !seen.insert((job, sequence)) {
                    return Err(eyre!("job {job} task {sequence} was performed twice"));
                }
                *performed.entry(job).or_default() += 1;
                writeln!(
                    out,
                    "performed: job {job} ({}) task {sequence} in block {block}: {} gas, fee {fee} wei{}",
                    names.get(&job).copied().unwrap_or("?"),
                    gas,
                    if success { "" } else { " (the target reverted)" }
                )?;
                out.flush()?;
            }
            next_block = head + 1;
        }
        if let Some(until) = until {
            if performed.values().all(|&n| n >= until) {
                break;
            }
        }
        operators::check_running(keepers)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(PipelineRun { performed })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keeper on the default poll interval polls at least twice inside the devnet's quorum window,
    /// or it would be left out of batches (the default window is held to it in keeperd's config tests).
    #[test]
    fn the_default_keeper_poll_fits_twice_in_the_devnet_quorum_window() {
        let window = Duration::from_millis(DEVNET_QUORUM_WINDOW_MS);
        let poll = Duration::from_millis(keeperd::config::DEFAULT_KEEPER_POLL_MS);
        assert!(poll * 2 <= window, "{poll:?} against {window:?}");
    }
}
