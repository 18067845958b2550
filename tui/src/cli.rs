//! Command line of `keeperctl`.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use keeper_shared::job::{JobStatus, TaskState};

use crate::exit::CliResult;
use crate::{commands, devnet, job, keys, script};

const AFTER_HELP: &str = "\
Daemon: commands other than `keys` and `completions` talk to keeperd's control API on its Unix
socket: --socket, else $KEEPERD_SOCKET, else $XDG_RUNTIME_DIR/keeperd/keeperd.sock (the user's
daemon on the default data directory), or without $XDG_RUNTIME_DIR the default data directory's
${XDG_DATA_HOME:-~/.local/share}/keeperd/keeperd.sock. A devnet prints each daemon's socket. `job` commands also work without a daemon, straight
against the chain: give --rpc-url, --deployment and a key (--keystore, or --private-key /
$ETH_PRIVATE_KEY as Foundry's cast accepts).

Output: human text and tables on stdout; with --json one JSON document per command, except
`events`, which prints one JSON line per event (recent and live alike). Errors go to stderr (a JSON
object with --json).

Exit codes: 0 done; 1 failed otherwise (files, keystores); 2 usage error (bad flags, a job spec
refused by local validation); 3 daemon (or RPC endpoint) unreachable or not answering;
4 request refused by the daemon or the chain (unknown job, not the owner, a revert); 5 done as far
as it can go now, run it again later (`operator register` waiting on EigenLayer's allocation delay:
the message names the block).";

/// Keeper network CLI (testnet software: do not secure real value with it).
///
/// Machine-readable output goes to stdout with --json; messages and prompts go to stderr.
#[derive(Debug, Parser)]
#[command(name = "keeperctl", version = keeper_shared::version::long(), about, long_about, after_long_help = AFTER_HELP)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of human text.
    #[arg(long, global = true)]
    pub json: bool,
    /// keeperd's control socket [default: $XDG_RUNTIME_DIR/keeperd/keeperd.sock, or without
    /// $XDG_RUNTIME_DIR ${XDG_DATA_HOME:-~/.local/share}/keeperd/keeperd.sock].
    #[arg(long, global = true, env = "KEEPERD_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Give up on a daemon request after this long (writes wait for their transaction's receipt
    /// and get at least 120 s).
    #[arg(long, global = true, value_name = "DURATION", default_value = "15s", value_parser = parse_duration_arg)]
    pub timeout: std::time::Duration,
    #[command(subcommand)]
    pub command: Command,
}

/// Parsed once per run: the size of the job variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon's version, roles, operator, sync state and the health of its RPC endpoints,
    /// scheduler and database.
    Status,
    /// Create, change and inspect jobs (through the daemon, or straight on chain with --rpc-url).
    #[command(subcommand)]
    Job(JobCommand),
    /// Inspect the tasks the daemon tracks.
    #[command(subcommand)]
    Task(TaskCommand),
    /// The daemon's recent events, or (--follow) the live stream. With --json: one JSON line per
    /// event (an event record), recent and live alike.
    Events(EventsArgs),
    /// Register or deregister the daemon's operator in the keeper set, deposit its stake; show the
    /// operators.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Devnet helpers (`keeper-devnet run`'s faucet).
    #[command(subcommand)]
    Devnet(DevnetCommand),
    /// Create, import, export and inspect encrypted key files (BLS keystores per EIP-2335, ECDSA
    /// keystores per Web3 Secret Storage).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run a script job's WebAssembly module locally, as keepers run it (its result, fuel and time).
    #[command(subcommand)]
    Script(ScriptCommand),
    /// The operator console: a full-screen view of the daemon (status, operators, tasks, jobs,
    /// events) with job and operator actions. Needs a terminal.
    Tui,
    /// Print a shell completion script (e.g. `keeperctl completions bash > ~/.local/share/bash-completion/completions/keeperctl`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

// ---------------------------------------------------------------------------------------------
// job
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Create a job from flags or a spec file, validate it locally, fund it, print its id.
    Create(CreateArgs),
    /// Replace a job's spec (the trigger must stay what it was created with).
    Update(UpdateArgs),
    /// Pause a job: no task of it runs until it is resumed.
    Pause(JobIdArgs),
    /// Resume a paused job.
    Resume(JobIdArgs),
    /// Cancel a job for good; the escrow left is refunded to its owner.
    Cancel(JobIdArgs),
    /// Add escrow to a job (anyone may top up any job).
    TopUp(TopUpArgs),
    /// One job: spec, status, escrow, next due task.
    Show(JobShowArgs),
    /// The jobs the daemon indexed, in id order.
    List(JobListArgs),
}

/// Direct mode: the job commands sent as transactions from this machine, without a daemon.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// Send to the chain directly through this RPC endpoint instead of asking the daemon.
    #[arg(long, value_name = "URL")]
    pub rpc_url: Option<String>,
    /// The network's deployment file (contract addresses), needed with --rpc-url.
    #[arg(long, env = "KEEPER_DEPLOYMENT", value_name = "FILE")]
    pub deployment: Option<PathBuf>,
    /// Sign with this Web3 (ECDSA) keystore; its password from --password-file or
    /// $KEEPER_KEYSTORE_PASSWORD, else a prompt.
    #[arg(long, env = "ETH_KEYSTORE", value_name = "FILE", conflicts_with = "private_key")]
    pub keystore: Option<PathBuf>,
    /// Sign with this hex private key (prefer the environment variable: arguments are visible to
    /// other users in the process list).
    #[arg(long, env = "ETH_PRIVATE_KEY", value_name = "HEX", hide_env_values = true)]
    pub private_key: Option<String>,
    /// The keystore password file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Blocks per eth_getLogs request when reading a job's history: public RPC providers refuse wider
    /// queries (10,000 is commonly accepted; some free tiers take 500 or 1,000).
    #[arg(long, value_name = "BLOCKS", default_value_t = keeper_shared::block_ranges::LOG_RANGE, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_range: u64,
}

/// The job spec as flags (`job create`, `job update`), or `--file`.
#[derive(Debug, Clone, Default, Args)]
pub struct SpecArgs {
    /// Read the spec from a TOML or JSON file (the API's `spec` object: `trigger`, `action`,
    /// `gas_limit`, `max_fee_wei`, `expiry_secs`); the other spec flags are then not allowed.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// The contract the job calls (through its forwarder).
    #[arg(long, value_name = "ADDRESS")]
    pub target: Option<String>,
    /// The call's data, hex (a Call job; default with neither this nor --signature: empty).
    #[arg(long, value_name = "HEX", conflicts_with = "signature")]
    pub calldata: Option<String>,
    /// The function to call, e.g. 'harvest()' or 'transfer(address,uint256)'; encoded with --args.
    #[arg(long, value_name = "SIG")]
    pub signature: Option<String>,
    /// The function's arguments, in order (with --signature); with --script, the script's arguments as one
    /// hex value (the job's `args`, e.g. `cast abi-encode` output).
    #[arg(long, num_args = 0.., value_name = "ARG", allow_negative_numbers = true)]
    pub args: Vec<String>,

    /// Trigger: every DURATION (`60s`, `5m`, `1h`, `1d`, or seconds).
    #[arg(long, value_name = "DURATION", group = "trigger")]
    pub interval: Option<String>,
    /// With --interval: the unix time of the first task (default: now).
    #[arg(long, value_name = "UNIX_SECS", requires = "interval")]
    pub start: Option<u64>,
    /// Trigger: every N blocks.
    #[arg(long, value_name = "N", group = "trigger")]
    pub every_blocks: Option<u64>,
    /// Trigger: once per log with this event signature ('AnswerUpdated(int256,uint256,uint256)')
    /// or topic0 (0x…), emitted by --emitter.
    #[arg(long, value_name = "EVENT", group = "trigger")]
    pub on_event: Option<String>,
    /// With --on-event: the contract whose logs count.
    #[arg(long, value_name = "ADDRESS", requires = "on_event")]
    pub emitter: Option<String>,
    /// With --on-event: only logs whose topics 1..3 equal these (0x… 32 bytes, or `*` for any).
    #[arg(long, value_name = "TOPIC", num_args = 1..=3, requires = "on_event")]
    pub topics: Vec<String>,
    /// With --every-blocks or --on-event: the first block (default: 0 for --every-blocks, so tasks
    /// fall on multiples of N; the current block for --on-event).
    #[arg(long, value_name = "BLOCK")]
    pub start_block: Option<u64>,

    /// Action: a Gelato-style resolver at this address says whether to act and with what calldata
    /// (its call from --checker-calldata or --checker-signature, default 'checker()').
    #[arg(long, value_name = "ADDRESS", conflicts_with_all = ["upkeep", "calldata", "signature"])]
    pub checker: Option<String>,
    /// With --checker: the resolver's calldata, hex.
    #[arg(long, value_name = "HEX", requires = "checker", conflicts_with = "checker_signature")]
    pub checker_calldata: Option<String>,
    /// With --checker: the resolver function (no arguments), e.g. 'checker()'.
    #[arg(long, value_name = "SIG", requires = "checker")]
    pub checker_signature: Option<String>,
    /// Action: the target is a Chainlink-style upkeep (checkUpkeep/performUpkeep), checked with
    /// --check-data.
    #[arg(long, conflicts_with_all = ["calldata", "signature"])]
    pub upkeep: bool,
    /// With --upkeep: checkUpkeep's `checkData`, hex (default empty).
    #[arg(long, value_name = "HEX", requires = "upkeep")]
    pub check_data: Option<String>,
    /// Action: a script job running this WebAssembly module (its keccak256 is the job's codeHash; it is
    /// checked against the keeper_v1 host interface), published at --code-url.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["upkeep", "checker", "calldata", "signature"], requires = "code_url")]
    pub script: Option<PathBuf>,
    /// With --script: where keepers fetch the module (https://, http://, ipfs://).
    #[arg(long, value_name = "URL", requires = "script")]
    pub code_url: Option<String>,

    /// Gas the target gets per execution.
    #[arg(long, value_name = "GAS", default_value_t = 300_000)]
    pub gas_limit: u32,
    /// The most one execution may charge: wei, or with a unit (`0.01ether`, `20gwei`).
    #[arg(long, value_name = "AMOUNT")]
    pub max_fee: Option<String>,
    /// No task is due after this: unix seconds, or `+DURATION` from now (`+30d`).
    #[arg(long, value_name = "TIME")]
    pub expiry: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Escrow to deposit with the job: wei, or with a unit (`0.1ether`).
    #[arg(long, value_name = "AMOUNT", default_value = "0")]
    pub fund: String,
    /// With --script: the chain the dry run reads (at its latest block) before the job is registered
    /// [default: --rpc-url].
    #[arg(long, value_name = "URL", requires = "script")]
    pub dry_run_rpc: Option<String>,
    /// With --script: register the job without running the module once first.
    #[arg(long, requires = "script", conflicts_with = "dry_run_rpc")]
    pub no_dry_run: bool,
    #[command(flatten)]
    pub chain: ChainArgs,
}

// ---------------------------------------------------------------------------------------------
// script
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum ScriptCommand {
    /// Run a module once at a block (default: the latest) with the limits keepers use by default,
    /// and print its result, the fuel it used and its time.
    Run(ScriptRunArgs),
}

#[derive(Debug, Args)]
pub struct ScriptRunArgs {
    /// The WebAssembly module (e.g. built with the AssemblyScript SDK in sdk/assemblyscript).
    pub module: PathBuf,
    /// The chain the script reads.
    #[arg(long, value_name = "URL")]
    pub rpc_url: String,
    /// The script's arguments, hex (what a job's `args` hold).
    #[arg(long, value_name = "HEX")]
    pub args: Option<String>,
    /// Run at this block instead of the latest.
    #[arg(long, value_name = "N")]
    pub block: Option<u64>,
    /// The job id the script is told.
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub job_id: u64,
    /// Whose default limits apply: the trigger kind of the job the script is for.
    #[arg(long, value_enum, default_value_t = ScriptKind::Interval)]
    pub kind: ScriptKind,
}

/// A job's trigger kind, as far as script limits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScriptKind {
    Interval,
    Block,
    Event,
}

impl From<ScriptKind> for keeper_script::JobKind {
    fn from(kind: ScriptKind) -> Self {
        match kind {
            ScriptKind::Interval => Self::Interval,
            ScriptKind::Block => Self::Block,
            ScriptKind::Event => Self::Event,
        }
    }
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The job's id.
    pub id: String,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
}

#[derive(Debug, Args)]
pub struct JobIdArgs {
    /// The job's id.
    pub id: String,
    #[command(flatten)]
    pub chain: ChainArgs,
}

#[derive(Debug, Args)]
pub struct TopUpArgs {
    /// The job's id.
    pub id: String,
    /// How much: wei, or with a unit (`0.1ether`).
    pub amount: String,
    #[command(flatten)]
    pub chain: ChainArgs,
}

#[derive(Debug, Args)]
pub struct JobShowArgs {
    /// The job's id.
    pub id: String,
    #[command(flatten)]
    pub chain: ChainArgs,
}

#[derive(Debug, Args)]
pub struct JobListArgs {
    /// Only jobs with this status.
    #[arg(long, value_name = "STATUS", value_parser = named(JobStatus::ALL, JobStatus::as_str))]
    pub status: Option<JobStatus>,
    /// Start after this job id (the previous page's `next`).
    #[arg(long, value_name = "ID")]
    pub after: Option<String>,
    /// At most this many (1..=1000); with --all, the page size.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Follow `next` to the last page.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub chain: ChainArgs,
}

// ---------------------------------------------------------------------------------------------
// task, events, operator
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Tasks in (job, sequence) order.
    List(TaskListArgs),
    /// One task and every state it went through.
    Show {
        /// The job's id.
        job: String,
        /// The task's sequence.
        sequence: u64,
    },
}

#[derive(Debug, Args)]
pub struct TaskListArgs {
    /// Only tasks in this state.
    #[arg(long, value_name = "STATE", value_parser = named(TaskState::ALL, TaskState::as_str))]
    pub state: Option<TaskState>,
    /// Only tasks of this job.
    #[arg(long, value_name = "ID")]
    pub job: Option<String>,
    /// Only tasks the daemon saw due at or after this time: unix seconds, or `-DURATION` ago (`-1h`).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only tasks the daemon saw due before this time: unix seconds, or `-DURATION` ago.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Start after this task (`<job>:<sequence>`, the previous page's `next`).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
    /// At most this many (1..=1000); with --all, the page size.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Follow `next` to the last page.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Keep printing events as they happen (reconnecting if the daemon restarts) until Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
    /// How many recent events to print first (without --follow: the newest this many).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: u32,
    /// With --follow: stop after this many events (for scripts and tests).
    #[arg(long, value_name = "N", requires = "follow")]
    pub count: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Register the daemon's operator in the keeper set through EigenLayer (register as operator,
    /// allocate, register for the set with its BLS key); steps already done are skipped.
    Register(RegisterArgs),
    /// Leave the keeper set (deregister from the set, deallocate).
    Deregister,
    /// Restake tokens the daemon's operator holds: approve the StrategyManager, deposit into one
    /// of the keeper set's strategies, and refresh the operator's weight if it is in the set.
    Deposit(DepositArgs),
    /// The operators the key registry knows, with their stake and what the daemon saw them sign.
    Show,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// EigenLayer operator metadata URI (when registering as an EigenLayer operator).
    #[arg(long, value_name = "URI", default_value = "")]
    pub metadata_uri: String,
    /// EigenLayer allocation delay, in blocks (when registering as an EigenLayer operator).
    #[arg(long, value_name = "BLOCKS", default_value_t = 0)]
    pub allocation_delay: u32,
    /// Share of the stake to allocate to the keeper set, in 1e18ths (default: all of it).
    #[arg(long, value_name = "WAD")]
    pub magnitude: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DepositArgs {
    /// The strategy (one of the keeper set's; may be left out when the set has only one).
    #[arg(long, value_name = "ADDRESS")]
    pub strategy: Option<alloy::primitives::Address>,
    /// How much of the strategy's token, in whole tokens (`100`, `0.5`): scaled by the token's
    /// decimals.
    #[arg(long, value_name = "TOKENS")]
    pub amount: String,
}

#[derive(Debug, Subcommand)]
pub enum DevnetCommand {
    /// Send ether and stake tokens from the devnet's faucet (written by `keeper-devnet run`) to an
    /// address, e.g. a new operator's before `keeperctl operator deposit`.
    Fund(FundArgs),
}

#[derive(Debug, Args)]
pub struct FundArgs {
    /// Who receives.
    pub address: alloy::primitives::Address,
    /// The faucet file `keeper-devnet run` wrote.
    #[arg(long, value_name = "FILE", default_value = ".devnet/faucet.json")]
    pub faucet: PathBuf,
    /// Ether to send, in whole ether.
    #[arg(long, value_name = "ETHER", default_value = "10")]
    pub eth: String,
    /// Stake tokens to send, in whole tokens.
    #[arg(long, value_name = "TOKENS", default_value = "1000")]
    pub stake: String,
}

// ---------------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new BLS12-381 keeper key into an EIP-2335 keystore (mode 0600) and print its public key.
    NewBls(NewKeyArgs),
    /// Generate a new ECDSA operator key into a Web3 Secret Storage keystore (mode 0600) and print its address.
    NewEcdsa(NewKeyArgs),
    /// Show what a keystore holds without its secret: the BLS public key (no password needed) or,
    /// for an ECDSA keystore, the address (needs the password).
    Show(ShowArgs),
    /// Encrypt an existing secret key (hex, from a file or stdin) into a new keystore, or bring in
    /// an existing keystore (checked, then re-encrypted or copied).
    Import(ImportArgs),
    /// Decrypt a keystore and write its secret key, hex, to a new file (mode 0600).
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct PasswordArgs {
    /// Read the keystore password from this file (trailing newline ignored). Otherwise the
    /// KEEPER_KEYSTORE_PASSWORD environment variable, otherwise a prompt on the terminal.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct NewKeyArgs {
    /// Where to write the keystore; refused if the file exists.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Key derivation function protecting the keystore (EIP-2335 for BLS keys, Web3 Secret Storage v3
    /// for ECDSA keys: the same parameters in both).
    #[arg(long, value_enum, default_value_t = Kdf::Scrypt)]
    pub kdf: Kdf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The keystore file.
    pub file: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyKind {
    /// A BLS12-381 keeper key (32-byte secret) into an EIP-2335 keystore.
    Bls,
    /// An ECDSA operator key (32-byte secp256k1 secret) into a Web3 keystore.
    Ecdsa,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["secret_file", "keystore"]))]
pub struct ImportArgs {
    #[arg(long, value_enum)]
    pub kind: KeyKind,
    /// The file holding the secret key as hex (0x optional); `-` reads stdin. Never a command-line
    /// argument: those are visible to other users.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// An existing keystore of that kind instead (EIP-2335 for bls, e.g. from a validator client or
    /// another AVS; Web3 v3 for ecdsa, e.g. from geth or cast): opened with its password to check it,
    /// then re-encrypted under the new password, or copied unchanged with --copy.
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// File holding the --keystore's current password; otherwise $KEEPER_KEYSTORE_PASSWORD, otherwise
    /// a prompt.
    #[arg(long, value_name = "FILE", requires = "keystore")]
    pub keystore_password_file: Option<PathBuf>,
    /// Write the --keystore unchanged (its password and KDF stay) once it opened.
    #[arg(long, requires = "keystore")]
    pub copy: bool,
    /// Where to write the keystore; refused if the file exists.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Key derivation function of the new keystore.
    #[arg(long, value_enum, default_value_t = Kdf::Scrypt, conflicts_with = "copy")]
    pub kdf: Kdf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The keystore file (BLS or ECDSA: recognised by its content).
    pub file: PathBuf,
    /// Where to write the secret key, hex; created with mode 0600, refused if it exists.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kdf {
    /// scrypt, n = 2^18, r = 8, p = 1 (EIP-2335's and geth's standard parameters).
    Scrypt,
    /// PBKDF2-HMAC-SHA256, c = 2^18.
    Pbkdf2,
}

/// The values of a flag that takes one of the job domain's named states (`--status`, `--state`):
/// their names, as the API and the daemon's store spell them, listed in `--help` and completions.
fn named<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(all.iter().map(|value| name(*value))).try_map(move |text| {
        all.iter().copied().find(|value| name(*value) == text).ok_or_else(|| format!("unknown value {text:?}"))
    })
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::jobspec::parse_duration(text).map(std::time::Duration::from_secs)
}

/// Runs the parsed command.
/// The command line as clap sees it: the derived [`Cli`], with the global `--json` hidden where it
/// means nothing (the full-screen console and the completion scripts print no JSON).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut command = Cli::command();
    // Global flags reach the subcommands when the command is built; hide them after that.
    command.build();
    for name in WITHOUT_JSON {
        command = command.mut_subcommand(name, |sub| sub.mut_arg("json", |arg| arg.hide(true)));
    }
    command
}

/// Subcommands whose output is never JSON.
const WITHOUT_JSON: [&str; 2] = ["tui", "completions"];

/// Parses the process's arguments with [`command`] (clap's usage error and exit on failure).
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|error| error.exit())
}

pub fn run(cli: Cli) -> CliResult {
    let json = cli.json;
    match cli.command {
        Command::Keys(KeysCommand::NewBls(args)) => Ok(keys::new_bls(&args, json)?),
        Command::Keys(KeysCommand::NewEcdsa(args)) => Ok(keys::new_ecdsa(&args, json)?),
        Command::Keys(KeysCommand::Show(args)) => Ok(keys::show(&args, json)?),
        Command::Keys(KeysCommand::Import(args)) => Ok(keys::import(&args, json)?),
        Command::Keys(KeysCommand::Export(args)) => Ok(keys::export(&args, json)?),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "keeperctl", &mut std::io::stdout());
            Ok(())
        }
        command => {
            let context = commands::Context::new(cli.socket, cli.timeout, json);
            runtime()?.block_on(async move {
                match command {
                    Command::Status => commands::status(&context).await,
                    Command::Job(command) => job::run(&context, command).await,
                    Command::Task(task) => commands::task(&context, task).await,
                    Command::Events(args) => commands::events(&context, &args).await,
                    Command::Operator(op) => commands::operator(&context, op).await,
                    Command::Devnet(DevnetCommand::Fund(args)) => devnet::fund(&args, json).await,
                    Command::Tui => commands::console(&context).await,
                    Command::Script(ScriptCommand::Run(args)) => script::run(&args, json).await,
                    Command::Keys(_) | Command::Completions { .. } => Ok(()),
                }
            })
        }
    }
}

/// One thread: keeperctl waits on one request at a time, and starts faster without a pool.
fn runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| eyre::eyre!("starting the async runtime: {e}").into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn create(args: &[&str]) -> CreateArgs {
        let mut full = vec!["keeperctl", "job", "create", "--target", "0x1111111111111111111111111111111111111111"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Job(JobCommand::Create(args)) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn args_stop_at_the_next_flag_and_take_negative_numbers() {
        let args = create(&["--signature", "f(int256,uint256)", "--args", "-7", "8", "--interval", "1h"]);
        assert_eq!(args.spec.args, ["-7", "8"]);
        assert_eq!(args.spec.interval.as_deref(), Some("1h"));
    }

    /// The flags take the states by the names the API and the daemon's store use, and list them.
    #[test]
    fn state_flags_take_the_api_names() {
        use clap::CommandFactory;
        let command = Cli::command();
        let values = |path: &[&str], flag: &str| -> Vec<String> {
            let mut sub = &command;
            for name in path {
                sub = sub.find_subcommand(name).unwrap();
            }
            let arg = sub.get_arguments().find(|a| a.get_id() == flag).unwrap();
            arg.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect()
        };
        let names = |all: &[&str]| all.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let states: Vec<&str> = TaskState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(values(&["task", "list"], "state"), names(&states));
        let statuses: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(values(&["job", "list"], "status"), names(&statuses));
        for state in TaskState::ALL {
            let cli = Cli::try_parse_from(["keeperctl", "task", "list", "--state", state.as_str()]).unwrap();
            let Command::Task(TaskCommand::List(args)) = cli.command else { panic!("not task list") };
            assert_eq!(args.state, Some(*state));
        }
        for status in JobStatus::ALL {
            let cli = Cli::try_parse_from(["keeperctl", "job", "list", "--status", status.as_str()]).unwrap();
            let Command::Job(JobCommand::List(args)) = cli.command else { panic!("not job list") };
            assert_eq!(args.status, Some(*status));
        }
        assert!(Cli::try_parse_from(["keeperctl", "task", "list", "--state", "pending"]).is_err());
    }

    #[test]
    fn json_is_offered_only_where_it_means_something() {
        let help = |path: &[&str]| {
            let mut command = command();
            let mut sub = &mut command;
            for name in path {
                sub = sub.find_subcommand_mut(name).unwrap();
            }
            sub.render_long_help().to_string()
        };
        for name in WITHOUT_JSON {
            assert!(!help(&[name]).contains("--json"), "{name}: {}", help(&[name]));
        }
        assert!(help(&["status"]).contains("--json"));
        assert!(help(&["task", "list"]).contains("--json"));
        assert!(help(&[]).contains("--json"));
    }

    #[test]
    fn one_trigger_and_one_action_kind() {
        let both = ["keeperctl", "job", "create", "--interval", "1h", "--every-blocks", "3"];
        assert!(Cli::try_parse_from(both).is_err());
        let both = ["keeperctl", "job", "create", "--upkeep", "--calldata", "0x"];
        assert!(Cli::try_parse_from(both).is_err());
        assert_eq!(create(&[]).spec.gas_limit, SpecArgs::DEFAULT_GAS_LIMIT, "the default matches the constant");
    }
}
