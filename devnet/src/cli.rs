//! Command line of `keeper-devnet`: the devnet walk-through (`run`, what `make demo` starts) and the
//! load benchmark (`bench-load`, `make load`), both driving real `keeperd run` daemons.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use eyre::eyre;

use crate::bench::load::{self, LoadConfig};
use crate::operators::OperatorPlan;
use crate::setup::DevnetSetup;
use crate::walk_through::{self, DevnetConfig};

/// A throwaway keeper network on a local chain: anvil with the real EigenLayer core and the AVS,
/// operators onboarded through EigenLayer, one `keeperd run` per operator.
#[derive(Debug, Parser)]
#[command(name = "keeper-devnet", version = keeper_shared::version::long(), about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a throwaway local chain (anvil on a free 127.0.0.1 port), deploy the real EigenLayer
    /// core and the AVS, register keepers through EigenLayer with BLS keys and stake, start one
    /// `keeperd run` per keeper (the first also aggregates and challenges), create sample jobs of
    /// every kind, and print each task as the task manager performs it. Ctrl-C stops the daemons
    /// and anvil.
    Run(RunArgs),
    /// The load benchmark (README, "Load benchmark"): a devnet with many interval jobs, measured
    /// over a window of due times.
    BenchLoad(BenchLoadArgs),
}

/// The programs a devnet starts.
#[derive(Debug, clap::Args)]
pub struct Binaries {
    /// The anvil binary to start (`make demo` passes the one installed from npm).
    #[arg(long, env = "KEEPER_ANVIL", default_value = "anvil")]
    pub anvil: PathBuf,
    /// The keeperd binary each operator runs [default: `keeperd` beside this program, as cargo
    /// builds them].
    #[arg(long, env = "KEEPERD_BIN")]
    pub keeperd: Option<PathBuf>,
}

impl Binaries {
    /// These programs, writing under `dir`, running `plan`'s operators.
    fn setup(&self, dir: PathBuf, plan: OperatorPlan) -> eyre::Result<DevnetSetup> {
        Ok(DevnetSetup { anvil: self.anvil.clone(), keeperd: self.keeperd()?, dir, plan })
    }

    fn keeperd(&self) -> eyre::Result<PathBuf> {
        if let Some(path) = &self.keeperd {
            return Ok(path.clone());
        }
        let beside = std::env::current_exe()?.with_file_name("keeperd");
        match beside.is_file() {
            true => Ok(beside),
            false => Err(eyre!(
                "--keeperd: no keeperd beside this program ({}): build it (`cargo build -p keeperd`) or pass --keeperd",
                beside.display()
            )),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub binaries: Binaries,
    /// How many keepers register and run a daemon (anvil funds 9 besides the deployer).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub keepers: u8,
    /// Where the deployment file and each operator's keys, config, database and log go.
    #[arg(long, default_value = ".devnet")]
    pub dir: PathBuf,
    /// Seconds between the sample interval job's tasks.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Stop (successfully) once every sample job was performed this many times.
    #[arg(long)]
    pub until_performed: Option<u64>,
    /// Stop after this many seconds; with --until-performed, failing if it was not reached.
    #[arg(long, default_value_t = 86_400)]
    pub duration: u64,
    /// The script SDK's built examples, served to the keepers for the script jobs [default: this
    /// checkout's sdk/assemblyscript/build, built by `make setup`].
    #[arg(long)]
    pub script_examples: Option<PathBuf>,
    /// How the operators exchange proposals and signatures: `p2p` (gossip; every operator proposes
    /// and submits by the rotation) or `http` (operator 0 aggregates for all).
    #[arg(long, value_enum, default_value = "p2p")]
    pub transport: keeperd::config::Transport,
}

#[derive(Debug, clap::Args)]
pub struct BenchLoadArgs {
    #[command(flatten)]
    pub binaries: Binaries,
    /// Keepers, each running a daemon (operator 0 also aggregates and challenges).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub keepers: u8,
    /// Interval jobs, their start times spread evenly over one period.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub jobs: u64,
    /// Seconds between a job's tasks.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub period: u64,
    /// Seconds of due times measured.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: u64,
    /// Seconds from job creation to the first due time (the daemons start within it).
    #[arg(long, default_value_t = 60)]
    pub lead: u64,
    /// Seconds after the window for its last tasks to land.
    #[arg(long, default_value_t = 30)]
    pub drain: u64,
    /// Where the deployment file and each operator's keys, config, database and log go.
    #[arg(long, default_value = ".devnet/load")]
    pub dir: PathBuf,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Operator 0 runs keeper and aggregator only (isolates the challenger's cost).
    #[arg(long)]
    pub no_challenger: bool,
    /// How the operators exchange proposals and signatures: `http` (operator 0 aggregates for all)
    /// or `p2p` (gossip; every operator proposes and submits by the rotation), to compare the two
    /// on the same load.
    #[arg(long, value_enum, default_value = "http")]
    pub transport: keeperd::config::Transport,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Run(args) => {
            let plan = OperatorPlan { keepers: args.keepers.into(), transport: args.transport, challenger: true };
            let config = DevnetConfig {
                setup: args.binaries.setup(args.dir, plan)?,
                interval_secs: args.interval,
                until_performed: args.until_performed,
                duration: std::time::Duration::from_secs(args.duration),
                script_examples: args.script_examples.unwrap_or_else(crate::scripts::default_examples_dir),
            };
            match runtime.block_on(walk_through::run(&config, &mut std::io::stdout()))? {
                Some(_) => Ok(()),
                None => Err(eyre!("interrupted before the devnet walk-through finished")),
            }
        }
        Command::BenchLoad(args) => {
            let plan = OperatorPlan {
                keepers: args.keepers.into(),
                transport: args.transport,
                challenger: !args.no_challenger,
            };
            let config = LoadConfig {
                setup: args.binaries.setup(args.dir, plan)?,
                jobs: args.jobs,
                period: args.period,
                duration: args.duration,
                lead: args.lead,
                drain: args.drain,
                command: std::env::args().collect::<Vec<_>>().join(" "),
            };
            match runtime.block_on(load::run(&config, &mut std::io::stdout()))? {
                Some(report) => match args.report {
                    Some(path) => load::write_report(&report, &path),
                    None => Ok(()),
                },
                None => Err(eyre!("interrupted before the load benchmark finished")),
            }
        }
    }
}
