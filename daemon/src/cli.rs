//! Command line of `keeperd`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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

/// Runs the parsed command.
pub fn run(cli: Cli) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
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
