//! Command line of `keeperd`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, FileConfig, Overrides, Role};

/// Keeper network daemon (testnet software: do not secure real value with it).
#[derive(Debug, Parser)]
#[command(name = "keeperd", version = keeper_shared::version::long(), about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the roles the configuration names (scheduler, keeper, aggregator,
    /// challenger), until SIGINT or SIGTERM. Settings come from the config file, overridden by
    /// environment variables, overridden by flags; each is checked at start.
    Run(Box<RunArgs>), // boxed: its many optional settings dwarf the other commands' arguments
    /// Public networks' EigenLayer core (README, "Run on a public testnet").
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Deploy the AVS (service manager, key registry, task manager, job manager) on the EigenLayer
    /// core a network names, create the keeper operator set on its strategies, and write the
    /// deployment file keeperd and keeperctl read. Checks the network against the endpoint and the
    /// AVS's windows against the core's delays first; records each transaction in --out as it
    /// goes, so a re-run resumes (and is a no-op once finished).
    Deploy(Box<DeployArgs>),
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Check a network against the chain an RPC endpoint serves: the chain id must match, every
    /// core proxy and strategy must have code, every strategy must be whitelisted; prints the
    /// core's version and delays (from chain) and each strategy's token.
    Check {
        /// A built-in network (`sepolia`, `hoodi`) or a network file (JSON, the shape of
        /// shared/networks/hoodi.json).
        #[arg(long)]
        network: String,
        /// JSON-RPC endpoint of that chain.
        #[arg(long, env = "KEEPERD_RPC_URL")]
        rpc_url: String,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List the built-in networks.
    List,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("key").required(true).args(["keystore", "private_key"]))]
#[command(group = clap::ArgGroup::new("strategy").required(true).multiple(true).args(["strategies", "new_strategy_token"]))]
pub struct DeployArgs {
    /// A built-in network (`sepolia`, `hoodi`) or a network file (the shape of shared/networks/hoodi.json).
    #[arg(long)]
    pub network: String,
    /// JSON-RPC endpoint of that chain (its chain id must be the network's).
    #[arg(long, env = "KEEPERD_RPC_URL")]
    pub rpc_url: String,
    /// The deployer's ECDSA keystore (Web3 v3); it owns the AVS contracts.
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// File holding the keystore's password; otherwise $KEEPER_KEYSTORE_PASSWORD, otherwise a prompt.
    #[arg(long, value_name = "FILE", requires = "keystore")]
    pub password_file: Option<PathBuf>,
    /// The deployer's private key (hex) instead of a keystore, as Foundry's cast takes it.
    #[arg(long, env = "ETH_PRIVATE_KEY", hide_env_values = true, value_name = "HEX")]
    pub private_key: Option<String>,
    /// The deployment file to write; while the deploy is unfinished it records the progress.
    #[arg(long, value_name = "FILE", default_value = "deployment.json")]
    pub out: PathBuf,
    /// The AVS metadata URI published in EigenLayer (a JSON document: name, website, description, logo).
    #[arg(long, value_name = "URI")]
    pub metadata_uri: String,
    /// A strategy of the network file whose stake counts in the keeper set, by name (repeatable;
    /// the set adds their shares, so pick strategies of one denomination).
    #[arg(long = "strategy", value_name = "NAME")]
    pub strategies: Vec<String>,
    /// Create the strategy of this ERC20 through the network's StrategyFactory (reused if the
    /// token has one) and count it too.
    #[arg(long, value_name = "TOKEN")]
    pub new_strategy_token: Option<alloy::primitives::Address>,
    /// Who may pause and resume the task manager's batches [default: the deployer].
    #[arg(long, value_name = "ADDRESS")]
    pub guardian: Option<alloy::primitives::Address>,
    /// Slashable stake (strategy shares, in wei) an operator needs to join the keeper set.
    #[arg(long, value_name = "WEI", default_value = "1000000000000000000")]
    pub minimum_stake: alloy::primitives::U256,
    /// Largest share of an operator's stake one slash may take, in 1e18ths (fixed for good).
    #[arg(long, value_name = "WAD", default_value = "500000000000000000")]
    pub max_slash_wad: alloy::primitives::U256,
    /// Blocks a batch can be challenged after it is accepted [default: 7200 or half the core's
    /// slashable horizon, whichever is less].
    #[arg(long, value_name = "BLOCKS")]
    pub challenge_window: Option<u32>,
    /// Blocks a batch's reference block may be old when submitted [default: 64 or an eighth of the
    /// core's slashable horizon, whichever is less].
    #[arg(long, value_name = "BLOCKS")]
    pub max_reference_age: Option<u16>,
    /// Run every step on a local fork of the chain (anvil) and print each transaction's gas and the
    /// total cost; nothing is sent and --out is not written.
    #[arg(long)]
    pub dry_run: bool,
    /// The anvil binary --dry-run forks the chain with.
    #[arg(long, env = "KEEPER_ANVIL", default_value = "anvil")]
    pub anvil: PathBuf,
    /// Stop once this step is confirmed (tests of an interrupted deploy).
    #[arg(long, hide = true, value_parser = parse_deploy_step)]
    pub stop_after: Option<keeper_shared::deployment::DeployStep>,
}

fn parse_deploy_step(text: &str) -> Result<keeper_shared::deployment::DeployStep, String> {
    use keeper_shared::deployment::DeployStep;
    DeployStep::parse(text)
        .ok_or_else(|| format!("one of {}", DeployStep::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")))
}

impl DeployArgs {
    fn signer(&self) -> eyre::Result<alloy::signers::local::PrivateKeySigner> {
        use eyre::WrapErr;
        use keeper_shared::keystore::ecdsa;
        use keeper_shared::keystore::prompt::{read_password, Purpose};
        match (&self.keystore, &self.private_key) {
            (Some(path), _) => {
                let password = read_password(self.password_file.as_deref(), Purpose::Existing)?;
                ecdsa::load(path, &password).wrap_err_with(|| format!("--keystore {}", path.display()))
            }
            (None, Some(hex)) => hex.trim().parse().map_err(|e| eyre::eyre!("--private-key: not a secp256k1 key: {e}")),
            (None, None) => Err(eyre::eyre!("--keystore or --private-key: the deployer's key is needed")),
        }
    }

    fn config(&self) -> crate::deploy::DeployConfig {
        crate::deploy::DeployConfig {
            network: self.network.clone(),
            rpc_url: self.rpc_url.clone(),
            out: self.out.clone(),
            metadata_uri: self.metadata_uri.clone(),
            strategies: self.strategies.clone(),
            new_strategy_token: self.new_strategy_token,
            guardian: self.guardian,
            minimum_stake: self.minimum_stake,
            max_slash_wad: self.max_slash_wad,
            challenge_window: self.challenge_window,
            max_reference_age: self.max_reference_age,
            dry_run: self.dry_run.then(|| self.anvil.clone()),
            stop_after: self.stop_after,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// TOML configuration file (see README, "Running keeperd").
    #[arg(long, short = 'c', env = "KEEPERD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the database lives [default: $XDG_DATA_HOME/keeperd].
    #[arg(long, env = "KEEPERD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The deployment file naming the contracts.
    #[arg(long, env = "KEEPERD_DEPLOYMENT")]
    pub deployment: Option<PathBuf>,
    /// Roles to run, comma-separated (the scheduler runs whenever another role does).
    #[arg(long, env = "KEEPERD_ROLES", value_delimiter = ',')]
    pub roles: Vec<Role>,
    /// RPC endpoints in order of preference, comma-separated; the daemon fails over among them.
    #[arg(long = "rpc-url", env = "KEEPERD_RPC_URLS", value_delimiter = ',')]
    pub rpc_urls: Vec<String>,
    /// Blocks behind the head a block must be before the daemon acts on it.
    #[arg(long, env = "KEEPERD_CONFIRMATIONS")]
    pub confirmations: Option<u64>,
    /// The operator's ECDSA keystore (Web3 v3).
    #[arg(long, env = "KEEPERD_ECDSA_KEYSTORE")]
    pub ecdsa_keystore: Option<PathBuf>,
    /// The operator's BLS keystore (EIP-2335).
    #[arg(long, env = "KEEPERD_BLS_KEYSTORE")]
    pub bls_keystore: Option<PathBuf>,
    /// File holding the keystores' password; otherwise $KEEPER_KEYSTORE_PASSWORD, otherwise a prompt.
    #[arg(long, env = "KEEPERD_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// File holding the BLS keystore's own password, if it differs from the ECDSA keystore's.
    #[arg(long, env = "KEEPERD_BLS_PASSWORD_FILE")]
    pub bls_password_file: Option<PathBuf>,
    /// Where the aggregator role serves keepers (ip:port).
    #[arg(long, env = "KEEPERD_AGGREGATOR_LISTEN")]
    pub aggregator_listen: Option<String>,
    /// Where keepers reach the aggregator (http://host:port).
    #[arg(long, env = "KEEPERD_AGGREGATOR_URL")]
    pub aggregator_url: Option<String>,
    /// The control API's Unix socket [default: <data_dir>/keeperd.sock when a data directory is
    /// given or $XDG_RUNTIME_DIR is unset, else $XDG_RUNTIME_DIR/keeperd/keeperd.sock].
    #[arg(long, env = "KEEPERD_API_SOCKET")]
    pub api_socket: Option<PathBuf>,
    /// Where Prometheus scrapes `GET /metrics` (ip:port; port 0 picks a free one), or `off`
    /// [default: 127.0.0.1:9464].
    #[arg(long, env = "KEEPERD_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// What to log: a level (`debug`) or per-target directives (`warn,keeperd=debug`)
    /// [default: warn,keeperd=info].
    #[arg(long, env = "RUST_LOG")]
    pub log_level: Option<String>,
    /// How log lines look, on stderr and in the files.
    #[arg(long, env = "KEEPERD_LOG_FORMAT", value_enum)]
    pub log_format: Option<crate::config::LogFormat>,
    /// Where the daily log files go [default: <data_dir>/logs].
    #[arg(long, env = "KEEPERD_LOG_DIR")]
    pub log_dir: Option<PathBuf>,
    /// How many daily log files to keep [default: 7].
    #[arg(long, env = "KEEPERD_LOG_MAX_FILES")]
    pub log_max_files: Option<usize>,
}

impl RunArgs {
    fn resolve(self) -> eyre::Result<Config> {
        let file = match &self.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        let overrides = Overrides {
            data_dir: self.data_dir,
            deployment: self.deployment,
            roles: self.roles,
            rpc_urls: self.rpc_urls,
            confirmations: self.confirmations,
            ecdsa_keystore: self.ecdsa_keystore,
            bls_keystore: self.bls_keystore,
            password_file: self.password_file,
            bls_password_file: self.bls_password_file,
            aggregator_listen: self.aggregator_listen,
            aggregator_url: self.aggregator_url,
            api_socket: self.api_socket,
            metrics_listen: self.metrics_listen,
            log: crate::config::LogOverrides {
                level: self.log_level,
                format: self.log_format,
                dir: self.log_dir,
                max_files: self.log_max_files,
            },
        };
        Ok(Config::resolve(file, overrides)?)
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Run(args) => {
            let config = args.resolve()?;
            // Held until `run` returns: dropping it flushes and stops the file writer.
            let _log_guard = crate::logging::init(&config.log)?;
            let operator = crate::context::unlock_operator(&config)?;
            let result = runtime.block_on(async move {
                let shutdown = tokio_util::sync::CancellationToken::new();
                let mut signals = crate::signals::ShutdownSignals::install()?;
                let watcher = {
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        signals.recv().await;
                        tracing::info!("shutdown signal received");
                        shutdown.cancel();
                    })
                };
                let result = crate::node::run(config, operator, shutdown).await;
                watcher.abort();
                result
            });
            // Into the file too, where an operator looks for why the daemon stopped.
            if let Err(error) = &result {
                tracing::error!("keeperd failed: {error:#}");
            }
            result
        }
        Command::Network(NetworkCommand::Check { network, rpc_url, json }) => {
            runtime.block_on(crate::network_check::run(&network, &rpc_url, json, &mut std::io::stdout()))
        }
        Command::Deploy(args) => {
            let signer = args.signer()?;
            let mut out = std::io::stdout();
            runtime.block_on(crate::deploy::run(&args.config(), signer, &mut out))?;
            Ok(())
        }
        Command::Network(NetworkCommand::List) => {
            for name in keeper_shared::network::Network::presets() {
                println!("{name}");
            }
            Ok(())
        }
    }
}
