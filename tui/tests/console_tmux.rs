//! `keeperctl tui` in a real terminal: tmux (from Debian's package, installed by `make setup` into
//! .tools/) runs the console against a devnet daemon, `send-keys` types a job into the create-job
//! form, and `capture-pane` reads the screen until the job is listed and then until one of its tasks
//! is performed. The devnet is the one `keeper-devnet run` starts, cut down to what the console needs:
//! anvil with EigenLayer and the AVS, two keepers onboarded through EigenLayer (operator 0 also
//! aggregates, so a batch needs both: quorum is two thirds of 300 tokens), one block a second, and
//! the sample counter as the job's target. No sample jobs: the job the form creates is job 1.
//!
//! Every wait polls the screen until a generous deadline; nothing is timed. The tmux server (with
//! the console in it), the daemons and anvil are owned by guards, stopped on drop, on a panic too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

use common::{keeperd_binary, repo};

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use keeper_devnet::operators::{DeployedDevnet, DevnetOperators, Keeper, OperatorPlan};
use keeper_shared::contracts::{JobManager, SampleCounter};
use keeper_shared::job::TaskState;

/// The console's terminal: the size the test mostly looks at, then the smallest it supports.
const WIDE: (u16, u16) = (120, 40);
const NARROW: (u16, u16) = (80, 24);
/// Deadlines for things that take a few blocks (the console polls the daemon every 2 s).
const SOON: Duration = Duration::from_secs(60);
/// A job's first task is due, executed by both keepers, aggregated and submitted: a handful of
/// blocks, given much longer on a loaded machine.
const PERFORMED: Duration = Duration::from_secs(180);
/// The job: `counter.increment()` every 2 s, 0.01 ETH at most per task, 1 ETH of escrow.
const PERIOD_SECS: &str = "2";
const INCREMENT: &str = "0xd09de08a"; // SampleCounter.increment() (checked against the binding below)
const MAX_FEE_WEI: &str = "10000000000000000";
const FUNDING_WEI: &str = "1000000000000000000";

/// `$KEEPER_TMUX` (the Makefile exports it), else where `make setup` installs it. Never the
/// system's: a fresh machine may have none, and the test must not depend on its version.
fn tmux_binary() -> PathBuf {
    let path = std::env::var_os("KEEPER_TMUX").map(PathBuf::from).unwrap_or_else(|| repo().join(".tools/bin/tmux"));
    assert!(
        path.is_file(),
        "tmux not found at {} ($KEEPER_TMUX): run `make setup`, which installs tmux from Debian's package into .tools/",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------------------------------------
// The devnet
// ---------------------------------------------------------------------------------------------------------

/// anvil, the deployment, two keeper daemons and the counter. Fields drop in order: the daemons
/// (SIGKILL) before anvil.
struct Devnet {
    keepers: Vec<Keeper>,
    anvil: AnvilInstance,
    dir: PathBuf,
    counter: Address,
    job_manager: Address,
}

impl Devnet {
    async fn start(dir: &Path) -> Self {
        let anvil = keeper_devnet::anvil::for_test();
        let devnet = DeployedDevnet::deploy(&anvil, dir).await.unwrap();
        let plan = OperatorPlan::http(2);
        let operators = DevnetOperators::onboard(&anvil, &devnet, &plan, |_| Ok(())).await.unwrap();
        let DeployedDevnet { owner, provider, deployment, .. } = devnet;
        let counter = *SampleCounter::deploy(&provider, owner).await.unwrap().address();
        // Job 1's forwarder, allowed on the counter before the console creates the job (the
        // address is fixed by the job id: CREATE2 in the job manager).
        let job_manager = JobManager::new(deployment.avs.job_manager, &provider);
        assert_eq!(job_manager.nextJobId().call().await.unwrap(), U256::from(1));
        let forwarder = job_manager.forwarderOf(U256::from(1)).call().await.unwrap();
        keeper_devnet::jobs::allow_forwarder(&provider, counter, forwarder).await.unwrap();
        // From now on a block a second, as `keeper-devnet run` runs: interval jobs need time to pass.
        provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,)).await.unwrap();
        let keepers = operators.spawn(&keeperd_binary()).unwrap();
        Self { keepers, anvil, dir: dir.to_owned(), counter, job_manager: deployment.avs.job_manager }
    }

    /// Operator 0's control socket (its data dir's default: `<data_dir>/keeperd.sock`).
    fn socket(&self) -> PathBuf {
        self.dir.join("operator-0/data/keeperd.sock")
    }

    /// The end of each daemon's log, for failure messages.
    fn log_tails(&mut self) -> String {
        let mut out = String::new();
        for (i, keeper) in self.keepers.iter_mut().enumerate() {
            let exited = keeper.daemon.exited().map_or(String::new(), |s| format!(" (exited: {s})"));
            out.push_str(&format!("--- operator-{i} keeperd.log, last lines{exited}:\n"));
            out.push_str(&keeper.daemon.log_tail(15));
            out.push('\n');
        }
        out
    }

    async fn count_of_job_1(&self) -> U256 {
        let provider = ProviderBuilder::new().connect_http(self.anvil.endpoint_url());
        let forwarder = JobManager::new(self.job_manager, &provider).forwarderOf(U256::from(1)).call().await.unwrap();
        SampleCounter::new(self.counter, &provider).countOf(forwarder).call().await.unwrap()
    }
}

// ---------------------------------------------------------------------------------------------------------
// The terminal
// ---------------------------------------------------------------------------------------------------------

/// A private tmux server (its own socket in the test's temp dir, its own config) with one session
/// running the console. Killed with everything in it on drop.
struct Tmux {
    binary: PathBuf,
    socket: PathBuf,
}

const SESSION: &str = "console";

impl Tmux {
    fn start(dir: &Path, console: &[&str], (width, height): (u16, u16)) -> Self {
        let config = dir.join("tmux.conf");
        // No status line (the pane is the whole window), panes kept after the console exits (its
        // last screen and exit status stay readable), and the terminal type the console sees.
        std::fs::write(
            &config,
            "set -g status off\nset -g remain-on-exit on\nset -g default-terminal xterm-256color\n\
             set -g history-limit 0\n",
        )
        .unwrap();
        let tmux = Self { binary: tmux_binary(), socket: dir.join("tmux.sock") };
        let (width, height) = (width.to_string(), height.to_string());
        let mut args = vec!["-f", config.to_str().unwrap(), "new-session", "-d", "-s", SESSION, "-x", &width];
        args.extend(["-y", &height, "--"]);
        args.extend(console);
        tmux.ok(&args);
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.binary)
            .arg("-u")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env("TERM", "xterm-256color")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// Keys by tmux's names (`Tab`, `Enter`, `End`) or single characters.
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend(keys);
        self.ok(&args);
    }

    /// Text typed as it is (`-l`: no key names).
    fn type_text(&self, text: &str) {
        self.ok(&["send-keys", "-t", SESSION, "-l", "--", text]);
    }

    /// The visible screen, one line per row.
    fn screen(&self) -> String {
        self.ok(&["capture-pane", "-p", "-t", SESSION])
    }

    fn format(&self, format: &str) -> String {
        self.ok(&["display-message", "-p", "-t", SESSION, format]).trim().to_owned()
    }

    fn resize(&self, (width, height): (u16, u16)) {
        self.ok(&["resize-window", "-t", SESSION, "-x", &width.to_string(), "-y", &height.to_string()]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The console gets SIGHUP with its pane; the server exits with its last session.
        let _ = self.run(&["kill-server"]);
    }
}

/// Everything the test runs, dropped in this order: the console's tmux, then the daemons and anvil.
struct World {
    tmux: Tmux,
    devnet: Devnet,
    started: Instant,
}

impl World {
    /// Polls the screen until `done` holds on a settled frame, or panics after `deadline` with the
    /// last screen, the console's pane state and the daemons' logs. Settled: the same a moment
    /// later, since a capture can land while tmux is halfway through a frame the console wrote.
    async fn wait_for(&mut self, what: &str, deadline: Duration, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let mut screen = self.tmux.screen();
            if done(&screen) {
                tokio::time::sleep(Duration::from_millis(150)).await;
                let again = self.tmux.screen();
                if again == screen {
                    // Shown with --nocapture: what the console looked like at each step, and when.
                    eprintln!("--- {what} (after {:.1?}):\n{screen}", self.started.elapsed());
                    return screen;
                }
                screen = again;
            }
            if started.elapsed() > deadline {
                let pane =
                    self.tmux.format("dead #{pane_dead} status #{pane_dead_status} size #{pane_width}x#{pane_height}");
                panic!(
                    "waited {deadline:?} for {what}; pane: {pane}; the screen:\n{screen}\n{}",
                    self.devnet.log_tails()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The screen's rows as cells between the borders: `│ 1     active …│` → ["1", "active", …].
fn rows(screen: &str) -> impl Iterator<Item = Vec<&str>> {
    screen.lines().map(|line| line.split(|c: char| c.is_whitespace() || c == '│').filter(|w| !w.is_empty()).collect())
}

/// Whether a row starts with `first` and has `word` somewhere after it.
fn has_row(screen: &str, first: &str, word: &str) -> bool {
    rows(screen).any(|cells| cells.first() == Some(&first) && cells[1..].contains(&word))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_tmux_creates_a_job_through_the_form_and_shows_it_performed() {
    use alloy::sol_types::SolCall;
    assert_eq!(INCREMENT, alloy::hex::encode_prefixed(SampleCounter::incrementCall::SELECTOR));
    // Before the devnet: a missing tmux fails at once, naming `make setup`.
    tmux_binary();
    let started = Instant::now();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let devnet = Devnet::start(dir).await;
    eprintln!("--- devnet up: two keepers running (after {:.1?})", started.elapsed());
    let socket = devnet.socket();
    let counter = devnet.counter.to_string();
    let console = [env!("CARGO_BIN_EXE_keeperctl"), "--socket", socket.to_str().unwrap(), "tui"];
    let tmux = Tmux::start(dir, &console, WIDE);
    let mut world = World { tmux, devnet, started };
    assert_eq!(world.tmux.format("#{pane_width}x#{pane_height}"), "120x40");

    // The overview, once the daemon is up and answering: connected, with a head block.
    world
        .wait_for("the console to connect and show the chain head", SOON * 2, |s| {
            s.contains("● connected") && s.contains("head     #")
        })
        .await;

    // Jobs view (key 4): none yet. `n` opens the form, prefilled with the chain's time as start.
    world.tmux.keys(&["4"]);
    world.wait_for("the empty jobs view", SOON, |s| s.contains("Jobs (0)") && s.contains("n: create one")).await;
    world.tmux.keys(&["n"]);
    world.wait_for("the create-job form", SOON, |s| s.contains("Create a job") && s.contains("‹ interval ›")).await;
    // Fields in order (hidden ones skipped): trigger, start, period, action, target, calldata,
    // gas limit, max fee, expiry, funding.
    world.tmux.keys(&["Tab", "Tab"]);
    world.tmux.type_text(PERIOD_SECS);
    world.tmux.keys(&["Tab", "Tab"]);
    world.tmux.type_text(&counter);
    world.tmux.keys(&["Tab"]);
    world.tmux.type_text(INCREMENT);
    world.tmux.keys(&["Tab", "Tab"]);
    world.tmux.type_text(MAX_FEE_WEI);
    world.tmux.keys(&["Tab", "Tab"]);
    world.tmux.type_text(FUNDING_WEI);
    let form = world
        .wait_for("the filled form", SOON, |s| s.contains(FUNDING_WEI) && s.contains(&counter) && s.contains(INCREMENT))
        .await;
    assert!(has_row(&form, "period", PERIOD_SECS), "{form}");
    assert!(has_row(&form, "max", MAX_FEE_WEI), "{form}");
    assert!(has_row(&form, "gas", "300000"), "{form}");

    // Enter checks the form and shows the transaction; `y` sends it through the daemon.
    world.tmux.keys(&["Enter"]);
    let preview = world.wait_for("the transaction preview", SOON, |s| s.contains("Transaction preview")).await;
    assert!(preview.contains("JobManager.createJob(spec)"), "{preview}");
    assert!(preview.contains(&format!("{FUNDING_WEI} wei (1")), "{preview}");
    assert!(preview.contains(&format!("interval every {PERIOD_SECS}s from ")), "{preview}");
    assert!(preview.contains(&format!("call {counter} data {INCREMENT}")), "{preview}");
    assert!(preview.contains(&format!("{MAX_FEE_WEI} wei per task")), "{preview}");
    world.tmux.keys(&["y"]);

    // The daemon's answer on the notice line, and the job in the list (indexed by the scheduler).
    let created = world
        .wait_for("job 1 to be created and listed", SOON * 2, |s| {
            s.contains("create job: job 1 created in block") && has_row(s, "1", "active")
        })
        .await;
    assert!(has_row(&created, "1", &format!("{PERIOD_SECS}s")), "{created}");
    assert!(created.contains(&format!("interval, every {PERIOD_SECS}s from")), "{created}");

    // Tasks view (key 3), filtered to performed tasks (`F` steps back from "all" through the states in
    // reverse declaration order, one key per state, down to performed), until one of job 1's tasks shows
    // as performed.
    let performed = TaskState::ALL.iter().position(|s| *s == TaskState::Performed).expect("a performed state");
    let mut keys = vec!["3"];
    keys.extend(std::iter::repeat_n("F", TaskState::ALL.len() - performed));
    assert_eq!(keys.len(), 9, "one filter key per state after performed (failed .. nothing_to_do), and one more");
    world.tmux.keys(&keys);
    world.wait_for("the performed filter", SOON, |s| s.contains("(f: performed)")).await;
    world.wait_for("a performed task of job 1", PERFORMED, |s| has_row(s, "1", "performed")).await;
    assert!(world.devnet.count_of_job_1().await >= U256::from(1), "the counter saw no increment from job 1");

    // The smallest supported terminal: the same views still fit and show the same facts.
    world.tmux.resize(NARROW);
    assert_eq!(world.tmux.format("#{pane_width}x#{pane_height}"), "80x24");
    let narrow = world
        .wait_for("the tasks view at 80x24", SOON, |s| {
            s.lines().count() == 24 && s.contains("(f: performed)") && has_row(s, "1", "performed")
        })
        .await;
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
    assert!(narrow.contains("● connected"), "{narrow}");
    assert!(narrow.lines().last().unwrap().contains("q quit"), "{narrow}");
    world.tmux.keys(&["4"]);
    world.wait_for("the jobs view at 80x24", SOON, |s| s.contains("Jobs (1)") && has_row(s, "1", "active")).await;

    // `q` quits: the console exits 0 (its pane stays, dead, by remain-on-exit).
    let pid: u32 = world.tmux.format("#{pane_pid}").parse().expect("the pane's process id");
    world.tmux.keys(&["q"]);
    let started = Instant::now();
    let status = loop {
        // tmux records the status once it reaps the process; it sometimes leaves it a zombie for
        // long, whose status the kernel still reports.
        let status = world.tmux.format("#{pane_dead_status}");
        if !status.is_empty() {
            break status.parse::<i32>().ok();
        }
        if let Some(wait_status) = zombie_wait_status(pid) {
            // A signal's number is in the low bits (negated here so it cannot pass for exit code 0).
            break Some(if wait_status & 0x7f != 0 { -(wait_status & 0x7f) } else { wait_status >> 8 });
        }
        assert!(started.elapsed() < SOON, "the console did not exit on q:\n{}", world.tmux.screen());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, Some(0), "{}", world.tmux.screen());
}

/// The `waitpid` status of process `pid` if it has exited but was not reaped yet (a zombie): the
/// last field of `/proc/<pid>/stat` (proc(5), `exit_code`).
fn zombie_wait_status(pid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if fields.first() != Some(&"Z") {
        return None;
    }
    fields.last()?.parse().ok()
}
