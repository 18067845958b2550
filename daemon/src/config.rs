//! keeperd's configuration: defaults, overridden by a TOML file, overridden by environment variables
//! and flags (clap reads both; a flag beats its variable). Everything is validated once at start, and
//! every error names the field (`chain.rpc_urls`, `operator.bls_keystore`, ...) and the reason.
//!
//! Relative paths in the file are relative to the file's directory, so a config and its keys can
//! move together; relative paths given as flags are relative to the working directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::transports::http::reqwest::Url;
use keeper_shared::deployment::Deployment;
use serde::Deserialize;

pub mod log;
mod p2p;

pub use self::log::{FileLog, LogConfig, LogFormat, LogOverrides};
pub use self::p2p::{FileP2p, P2pConfig, Transport};

/// The largest confirmation depth: a batch's reference block must stay within the task manager's
/// `maxReferenceAge` (64 at deployment), and the reference block is the confirmed head.
pub const MAX_CONFIRMATIONS: u64 = 32;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("config: `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A `[script]` setting (the error names its field).
    #[error(transparent)]
    Script(#[from] keeper_script::ConfigError),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field, reason: reason.into() }
}

/// A role a keeperd instance plays; any mix per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Indexes jobs and derives due tasks (needed by every other role, so it always runs with them).
    Scheduler,
    /// Executes due tasks and signs batch proposals whose every leaf matches its own result.
    Keeper,
    /// Proposes batches, collects and verifies signatures, aggregates at quorum and submits.
    Aggregator,
    /// Re-executes performed tasks, reports mismatches, proves equivocations on chain.
    Challenger,
}

/// The roles enabled; the scheduler is implied by any other role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles {
    pub scheduler: bool,
    pub keeper: bool,
    pub aggregator: bool,
    pub challenger: bool,
}

impl Roles {
    fn from_list(list: &[Role]) -> Self {
        let has = |role| list.contains(&role);
        let keeper = has(Role::Keeper);
        let aggregator = has(Role::Aggregator);
        let challenger = has(Role::Challenger);
        Self { scheduler: has(Role::Scheduler) || keeper || aggregator || challenger, keeper, aggregator, challenger }
    }

    /// Every role (what a devnet daemon runs).
    pub fn all() -> Self {
        Self { scheduler: true, keeper: true, aggregator: true, challenger: true }
    }

    /// The enabled roles' names, for logs and status.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.scheduler, "scheduler"),
            (self.keeper, "keeper"),
            (self.aggregator, "aggregator"),
            (self.challenger, "challenger"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// The configuration file's schema: every field optional, unknown fields refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub deployment: Option<PathBuf>,
    pub roles: Option<Vec<Role>>,
    #[serde(default)]
    pub chain: FileChain,
    #[serde(default)]
    pub operator: FileOperator,
    #[serde(default)]
    pub aggregator: FileAggregator,
    #[serde(default)]
    pub keeper: FileKeeper,
    #[serde(default)]
    pub api: FileApi,
    #[serde(default)]
    pub metrics: FileMetrics,
    /// The transport between operators, and the operators' network node.
    #[serde(default)]
    pub p2p: FileP2p,
    #[serde(default)]
    pub log: FileLog,
    /// Script jobs: fetching, the module cache (default `<data_dir>/scripts`), limits per trigger kind.
    #[serde(default)]
    pub script: keeper_script::ScriptConfig,
}

/// How often a keeper asks the aggregator for new proposals by default. Well inside the quorum windows
/// an aggregator keeps open after quorum (the default [`DEFAULT_QUORUM_WINDOW_MS`], the devnet's 200 ms):
/// at 250 ms against the devnet's window a new keeper was left out of 23% of batches. A poll is one
/// small GET on the aggregator's endpoint.
pub const DEFAULT_KEEPER_POLL_MS: u64 = 100;

/// How long the aggregator keeps gathering signatures after quorum, by default.
pub const DEFAULT_QUORUM_WINDOW_MS: u64 = 300;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileChain {
    pub rpc_urls: Option<Vec<String>>,
    pub confirmations: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOperator {
    pub ecdsa_keystore: Option<PathBuf>,
    pub bls_keystore: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    pub bls_password_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAggregator {
    pub listen: Option<String>,
    pub url: Option<String>,
    pub quorum_window_ms: Option<u64>,
    pub max_batch_tasks: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileKeeper {
    pub poll_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileApi {
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetrics {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
    pub escrow_low_tasks: Option<u64>,
}

impl FileConfig {
    /// Reads and parses a config file, resolving its relative paths against its directory.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut file: Self =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: one_line(&e) })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut file.data_dir,
            &mut file.deployment,
            &mut file.operator.ecdsa_keystore,
            &mut file.operator.bls_keystore,
            &mut file.operator.password_file,
            &mut file.operator.bls_password_file,
            &mut file.api.socket,
            &mut file.log.dir,
            &mut file.script.cache.dir,
            &mut file.p2p.key_file,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(file)
    }
}

/// toml's errors span several lines with a source excerpt; the daemon prints errors on one line.
fn one_line(error: &toml::de::Error) -> String {
    let message = error.message().trim().to_owned();
    match error.span() {
        Some(span) => format!("{message} (at byte {})", span.start),
        None => message,
    }
}

/// What flags and environment variables set; `None`/empty = not given.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub deployment: Option<PathBuf>,
    pub roles: Vec<Role>,
    pub rpc_urls: Vec<String>,
    pub confirmations: Option<u64>,
    pub ecdsa_keystore: Option<PathBuf>,
    pub bls_keystore: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    pub bls_password_file: Option<PathBuf>,
    pub aggregator_listen: Option<String>,
    pub aggregator_url: Option<String>,
    pub api_socket: Option<PathBuf>,
    /// Where the Prometheus endpoint listens (ip:port), or `off`.
    pub metrics_listen: Option<String>,
    pub log: LogOverrides,
}

/// Where the operator's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorKeys {
    /// Web3 v3 keystore of the operator's ECDSA key: its address is the operator, and it signs transactions.
    pub ecdsa_keystore: PathBuf,
    /// EIP-2335 keystore of the BLS key registered in the key registry (keepers only).
    pub bls_keystore: Option<PathBuf>,
    /// The ECDSA keystore's password (and the BLS keystore's, unless `bls_password_file` names its
    /// own); otherwise `$KEEPER_KEYSTORE_PASSWORD`, otherwise the terminal.
    pub password_file: Option<PathBuf>,
    /// The BLS keystore's own password, for a key that arrived with its own (an imported EIP-2335
    /// keystore).
    pub bls_password_file: Option<PathBuf>,
}

/// Chain access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    /// Endpoints in order of preference; the RPC pool fails over among them.
    pub rpc_urls: Vec<Url>,
    /// Blocks behind the head a block must be to be acted on (0 = the head).
    pub confirmations: u64,
    pub poll_interval: Duration,
    pub request_timeout: Duration,
}

/// The aggregator role, and where keepers find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatorConfig {
    /// Where the aggregator serves proposals and takes signatures (aggregator role).
    pub listen: Option<SocketAddr>,
    /// Where keepers reach the aggregator (keeper role).
    pub url: Option<Url>,
    /// How long to keep gathering signatures once the quorum is reached.
    pub quorum_window: Duration,
    /// Most tasks per batch.
    pub max_batch_tasks: usize,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub deployment_file: PathBuf,
    pub deployment: Deployment,
    pub roles: Roles,
    pub chain: ChainConfig,
    pub operator: Option<OperatorKeys>,
    pub aggregator: AggregatorConfig,
    /// How often a keeper asks the aggregator for new proposals.
    pub keeper_poll_interval: Duration,
    /// The control API's Unix socket.
    pub api_socket: PathBuf,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// Where logs go, in which format, at which level.
    pub log: LogConfig,
    /// Script jobs (`[script]`), validated; the cache directory is always set.
    pub script: keeper_script::ScriptConfig,
    /// The transport between operators (`[p2p]`).
    pub p2p: P2pConfig,
}

impl Config {
    /// Merges defaults, the file (if any) and the overrides, then validates.
    pub fn resolve(file: FileConfig, overrides: Overrides) -> Result<Self, ConfigError> {
        let roles_list = if overrides.roles.is_empty() { file.roles.unwrap_or_default() } else { overrides.roles };
        if roles_list.is_empty() {
            return Err(invalid("roles", "name at least one of scheduler, keeper, aggregator, challenger"));
        }
        let roles = Roles::from_list(&roles_list);

        let data_dir_given = overrides.data_dir.is_some() || file.data_dir.is_some();
        let data_dir = overrides.data_dir.or(file.data_dir).map_or_else(default_data_dir, Ok)?;
        let deployment_file = overrides
            .deployment
            .or(file.deployment)
            .ok_or_else(|| invalid("deployment", "required: the deployment file naming the contracts"))?;
        let deployment =
            Deployment::read(&deployment_file).map_err(|e| invalid("deployment", one_line_error(&e.to_string())))?;

        let chain = resolve_chain(file.chain, overrides.rpc_urls, overrides.confirmations)?;

        let ecdsa_keystore = overrides.ecdsa_keystore.or(file.operator.ecdsa_keystore);
        let bls_keystore = overrides.bls_keystore.or(file.operator.bls_keystore);
        let password_file = overrides.password_file.or(file.operator.password_file);
        let bls_password_file = overrides.bls_password_file.or(file.operator.bls_password_file);
        let needs_signer = roles.keeper || roles.aggregator || roles.challenger;
        let operator = match ecdsa_keystore {
            Some(ecdsa_keystore) => {
                require_file("operator.ecdsa_keystore", &ecdsa_keystore)?;
                if let Some(bls) = &bls_keystore {
                    require_file("operator.bls_keystore", bls)?;
                }
                if let Some(pw) = &password_file {
                    require_file("operator.password_file", pw)?;
                }
                if let Some(pw) = &bls_password_file {
                    if bls_keystore.is_none() {
                        return Err(invalid("operator.bls_password_file", "set, but no operator.bls_keystore is"));
                    }
                    require_file("operator.bls_password_file", pw)?;
                }
                Some(OperatorKeys { ecdsa_keystore, bls_keystore, password_file, bls_password_file })
            }
            None if needs_signer => return Err(invalid(
                "operator.ecdsa_keystore",
                "required by the keeper, aggregator and challenger roles (the operator's address and transaction key)",
            )),
            None => None,
        };
        if roles.keeper && operator.as_ref().is_none_or(|o| o.bls_keystore.is_none()) {
            return Err(invalid(
                "operator.bls_keystore",
                "required by the keeper role (the key it signs batches with)",
            ));
        }

        let p2p = self::p2p::resolve_p2p(file.p2p, &data_dir)?;
        if p2p.transport.uses_p2p() && operator.is_none() {
            return Err(invalid(
                "operator.ecdsa_keystore",
                "required by [p2p] transport = \"p2p\" or \"both\" (the node's record and messages are signed with it)",
            ));
        }
        let aggregator = resolve_aggregator(file.aggregator, overrides.aggregator_listen, overrides.aggregator_url)?;
        // Over P2P alone, no HTTP endpoint is served or needed.
        let http = p2p.transport.uses_http();
        if http && roles.aggregator && aggregator.listen.is_none() {
            return Err(invalid(
                "aggregator.listen",
                "required by the aggregator role (host:port to serve keepers on)",
            ));
        }
        if http && roles.keeper && aggregator.url.is_none() && aggregator.listen.is_none() {
            return Err(invalid("aggregator.url", "required by the keeper role (where the aggregator serves)"));
        }
        let keeper_poll_interval =
            millis("keeper.poll_interval_ms", file.keeper.poll_interval_ms.unwrap_or(DEFAULT_KEEPER_POLL_MS))?;

        let api_socket =
            overrides.api_socket.or(file.api.socket).unwrap_or_else(|| default_api_socket(&data_dir, data_dir_given));
        if api_socket.file_name().is_none() {
            return Err(invalid("api.socket", format!("{} names no file", api_socket.display())));
        }

        let metrics = resolve_metrics(file.metrics, overrides.metrics_listen)?;
        let log = LogConfig::resolve(file.log, overrides.log, &data_dir)?;
        let mut script = file.script;
        script.cache.dir.get_or_insert_with(|| data_dir.join("scripts"));
        script.validate("script")?;

        Ok(Self {
            data_dir,
            deployment_file,
            deployment,
            roles,
            chain,
            operator,
            aggregator,
            keeper_poll_interval,
            api_socket,
            metrics,
            log,
            script,
            p2p,
        })
    }

    /// Where keepers reach the aggregator: the configured URL, else the local listen address.
    pub fn aggregator_url(&self) -> Option<Url> {
        self.aggregator.url.clone().or_else(|| {
            let listen = self.aggregator.listen?;
            Url::parse(&format!("http://{listen}")).ok()
        })
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("keeperd.sqlite")
    }
}

fn one_line_error(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn resolve_chain(file: FileChain, urls: Vec<String>, confirmations: Option<u64>) -> Result<ChainConfig, ConfigError> {
    let urls = if urls.is_empty() { file.rpc_urls.unwrap_or_default() } else { urls };
    if urls.is_empty() {
        return Err(invalid("chain.rpc_urls", "name at least one RPC endpoint"));
    }
    let rpc_urls = urls
        .iter()
        .map(|text| {
            let url = Url::parse(text).map_err(|e| invalid("chain.rpc_urls", format!("{text:?} is not a URL: {e}")))?;
            match url.scheme() {
                "http" | "https" => Ok(url),
                other => Err(invalid("chain.rpc_urls", format!("{text:?}: scheme {other:?} is not http or https"))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let confirmations = confirmations.or(file.confirmations).unwrap_or(0);
    if confirmations > MAX_CONFIRMATIONS {
        return Err(invalid(
            "chain.confirmations",
            format!("{confirmations} is above the maximum {MAX_CONFIRMATIONS}"),
        ));
    }
    Ok(ChainConfig {
        rpc_urls,
        confirmations,
        poll_interval: millis("chain.poll_interval_ms", file.poll_interval_ms.unwrap_or(500))?,
        request_timeout: millis("chain.request_timeout_ms", file.request_timeout_ms.unwrap_or(10_000))?,
    })
}

fn resolve_aggregator(
    file: FileAggregator,
    listen: Option<String>,
    url: Option<String>,
) -> Result<AggregatorConfig, ConfigError> {
    let listen = listen
        .or(file.listen)
        .map(|text| {
            text.parse::<SocketAddr>()
                .map_err(|_| invalid("aggregator.listen", format!("{text:?} is not an ip:port address")))
        })
        .transpose()?;
    let url = url
        .or(file.url)
        .map(|text| {
            let url = Url::parse(&text).map_err(|e| invalid("aggregator.url", format!("{text:?}: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("aggregator.url", format!("{text:?}: scheme is not http or https")));
            }
            Ok(url)
        })
        .transpose()?;
    let quorum_window =
        millis("aggregator.quorum_window_ms", file.quorum_window_ms.unwrap_or(DEFAULT_QUORUM_WINDOW_MS))?;
    let max_batch_tasks = file.max_batch_tasks.unwrap_or(128);
    if !(1..=1024).contains(&max_batch_tasks) {
        return Err(invalid("aggregator.max_batch_tasks", format!("{max_batch_tasks} is not in 1..=1024")));
    }
    Ok(AggregatorConfig { listen, url, quorum_window, max_batch_tasks: max_batch_tasks as usize })
}

/// The default address of the Prometheus endpoint (9464 is the port registered for OpenTelemetry's
/// Prometheus exporter, free of the usual node ports; loopback, since the metrics are unauthenticated).
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";

/// The Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Whether `GET /metrics` is served at all.
    pub enabled: bool,
    /// Where it is served; port 0 picks a free port (logged, and in `Metrics::listen_addr`).
    pub listen: SocketAddr,
    /// Whether `listen` was configured: a configured address that cannot be bound stops the start;
    /// the default one only logs a warning (another daemon on the host may have it).
    pub listen_configured: bool,
    /// A job whose escrow pays for fewer tasks than this at its `max_fee` counts as low.
    pub escrow_low_tasks: u64,
}

fn resolve_metrics(file: FileMetrics, listen: Option<String>) -> Result<MetricsConfig, ConfigError> {
    // A flag or variable wins over the file both ways: `off` disables, an address enables.
    let given = listen.as_ref().map(|text| !text.eq_ignore_ascii_case("off"));
    let listen = listen.filter(|_| given == Some(true));
    let listen = listen.or(file.listen);
    let listen_configured = listen.is_some();
    let listen = listen.unwrap_or_else(|| DEFAULT_METRICS_LISTEN.to_owned());
    let listen = listen
        .parse::<SocketAddr>()
        .map_err(|_| invalid("metrics.listen", format!("{listen:?} is not an ip:port address")))?;
    let escrow_low_tasks = file.escrow_low_tasks.unwrap_or(10);
    if !(1..=1_000_000).contains(&escrow_low_tasks) {
        return Err(invalid("metrics.escrow_low_tasks", format!("{escrow_low_tasks} is not in 1..=1000000")));
    }
    let enabled = given.or(file.enabled).unwrap_or(true);
    Ok(MetricsConfig { enabled, listen, listen_configured, escrow_low_tasks })
}

/// A duration in milliseconds, bounded to something a daemon can live with (1 ms .. 10 min).
fn millis(field: &'static str, value: u64) -> Result<Duration, ConfigError> {
    if !(1..=600_000).contains(&value) {
        return Err(invalid(field, format!("{value} ms is not in 1..=600000")));
    }
    Ok(Duration::from_millis(value))
}

fn require_file(field: &'static str, path: &Path) -> Result<(), ConfigError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(invalid(field, format!("{} is not a file", path.display()))),
        Err(e) => Err(invalid(field, format!("{}: {e}", path.display()))),
    }
}

/// The user's daemon (default data directory) listens at the well-known
/// `$XDG_RUNTIME_DIR/keeperd/keeperd.sock`, where keeperctl looks first. A daemon given its own data
/// directory (a devnet runs several) listens at `<data_dir>/keeperd.sock`, so instances never collide;
/// so does any daemon without `$XDG_RUNTIME_DIR`.
fn default_api_socket(data_dir: &Path, data_dir_given: bool) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty() && !data_dir_given) {
        Some(dir) => PathBuf::from(dir).join("keeperd").join("keeperd.sock"),
        None => data_dir_api_socket(data_dir),
    }
}

/// Where a daemon given `data_dir` listens by default.
pub fn data_dir_api_socket(data_dir: &Path) -> PathBuf {
    data_dir.join("keeperd.sock")
}

/// `$XDG_DATA_HOME/keeperd`, else `~/.local/share/keeperd`.
fn default_data_dir() -> Result<PathBuf, ConfigError> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("keeperd"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/keeperd")),
        None => Err(invalid("data_dir", "not set, and neither XDG_DATA_HOME nor HOME is")),
    }
}

#[cfg(test)]
mod tests;
