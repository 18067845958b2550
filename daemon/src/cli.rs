//! Command line of `keeperd`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, FileConfig, Overrides, Role};
use crate::devnet;

/// Keeper network daemon (testnet software: do not secure real value with it).
#[derive(Debug, Parser)]
#[command(name = "keeperd", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the roles the configuration names (scheduler, keeper, aggregator,
    /// challenger), until SIGINT or SIGTERM. Settings come from the config file, overridden by
    /// environment variables, overridden by flags; each is checked at start.
    Run(RunArgs),
    /// Start a throwaway local chain (anvil on a free 127.0.0.1 port), deploy the real EigenLayer
    /// core and the AVS, register keepers through EigenLayer with BLS keys and stake, write the
    /// deployment file, then BLS-sign a batch of task responses with the keepers' keys and verify
    /// the aggregate signature on chain, printing each step. Stops anvil on exit (also Ctrl-C).
    Devnet(DevnetArgs),
}

#[derive(Debug, clap::Args)]
pub struct DevnetArgs {
    /// The anvil binary to start (`make demo` passes the one installed from npm).
    #[arg(long, env = "KEEPER_ANVIL", default_value = "anvil")]
    pub anvil: PathBuf,
    /// How many keepers register and sign the batch (anvil funds 9 besides the deployer).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub keepers: u8,
    /// How many tasks the batch holds.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub tasks: u16,
    /// Where to write the deployment file (chain id, deploy block, every contract address).
    #[arg(long, default_value = ".devnet/deployment.json")]
    pub deployment_file: PathBuf,
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
    /// Where the aggregator role serves keepers (ip:port).
    #[arg(long, env = "KEEPERD_AGGREGATOR_LISTEN")]
    pub aggregator_listen: Option<String>,
    /// Where keepers reach the aggregator (http://host:port).
    #[arg(long, env = "KEEPERD_AGGREGATOR_URL")]
    pub aggregator_url: Option<String>,
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
            aggregator_listen: self.aggregator_listen,
            aggregator_url: self.aggregator_url,
        };
        Ok(Config::resolve(file, overrides)?)
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: info for keeperd, warn for the rest).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,keeperd=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Run(args) => {
            let config = args.resolve()?;
            let operator = crate::node::unlock_operator(&config)?;
            init_logging();
            runtime.block_on(async move {
                let shutdown = tokio_util::sync::CancellationToken::new();
                let mut signals = devnet::ShutdownSignals::install()?;
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
            })
        }
        Command::Devnet(args) => match runtime.block_on(devnet::run(&args.into(), &mut std::io::stdout()))? {
            Some(_) => Ok(()),
            None => Err(eyre::eyre!("interrupted before the devnet walk-through finished")),
        },
    }
}

impl From<DevnetArgs> for devnet::DevnetConfig {
    fn from(args: DevnetArgs) -> Self {
        Self {
            anvil: args.anvil,
            keepers: args.keepers.into(),
            tasks: args.tasks.into(),
            deployment_file: args.deployment_file,
        }
    }
}
