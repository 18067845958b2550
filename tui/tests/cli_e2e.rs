//! `keeperctl` as a user runs it, against a real `keeperd run` on anvil with the network deployed
//! (daemon mode), and against anvil alone (direct mode, `--rpc-url`): every subcommand, its `--json`
//! parsed into the API's types, and each error path's exit code (2 usage, 3 unreachable,
//! 4 refused, 1 other).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{anvil_binary, keeperd_binary};

use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeper_devnet::anvil::BlockMiner;
use keeper_devnet::operators::DeployedDevnet;
use keeper_shared::api::{
    CreateJobResponse, ErrorCode, EventRecord, JobList, JobStatus, JobView, JobWriteResponse, OperatorList,
    StatusResponse, TaskDetail, TaskList,
};
use keeper_shared::job::{Action, Trigger};

const ETHER: u128 = 1_000_000_000_000_000_000;
const TARGET: &str = "0x1111111111111111111111111111111111111111";

/// One keeperctl run: (exit code, stdout, stderr).
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// The `--json` error object on stderr, after checking the exit code.
    fn error(&self, code: i32) -> serde_json::Value {
        assert_eq!(self.code, code, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        let error: serde_json::Value =
            serde_json::from_str(self.stderr.trim()).unwrap_or_else(|e| panic!("{e}: {}", self.stderr));
        assert_eq!(error["exit_code"], code);
        error
    }
}

fn keeperctl(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keeperctl"));
    command
        .args(args)
        .env_remove("KEEPERD_SOCKET")
        .env_remove("ETH_PRIVATE_KEY")
        .env_remove("ETH_KEYSTORE")
        .env_remove("KEEPER_DEPLOYMENT")
        .env_remove("KEEPER_KEYSTORE_PASSWORD")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let Output { status, stdout, stderr } = command.output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// Anvil with the network deployed; a background thread mines a block every 300 ms so the
/// daemon sees heads and interval tasks come due.
struct Chain {
    // Declared first: it stops mining before anvil is killed.
    _miner: BlockMiner,
    anvil: AnvilInstance,
    dir: tempfile::TempDir,
    deployment: PathBuf,
}

impl Chain {
    async fn start() -> Self {
        let anvil = keeper_devnet::start_anvil(&anvil_binary()).expect("anvil (run `make setup`)");
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let devnet = DeployedDevnet::deploy(&anvil, dir.path()).await.unwrap();
        let miner = BlockMiner::start(&anvil, Duration::from_millis(300));
        Self { _miner: miner, anvil, dir, deployment: devnet.deployment_file }
    }

    fn key_hex(&self, index: usize) -> String {
        format!("0x{}", hex::encode(self.anvil.keys()[index].to_bytes()))
    }

    fn address(&self, index: usize) -> Address {
        PrivateKeySigner::from(self.anvil.keys()[index].clone()).address()
    }
}

/// A `keeperd run` (scheduler role, with account 1's key as the operator's) owned by the test
/// through the harness's guard (SIGKILL on drop).
struct Daemon {
    process: keeper_devnet::Daemon,
    socket: PathBuf,
}

impl Daemon {
    /// `keeperd run` on the chain's files, with the operator's keystore written first; its stderr
    /// in `keeperd.log`. Returns once it serves with a head.
    fn start(chain: &Chain) -> Self {
        let dir = chain.dir.path();
        let (password, keystore) = (dir.join("password"), dir.join("operator.json"));
        std::fs::write(&password, "pw").unwrap();
        keeper_shared::keystore::ecdsa::import(
            &keystore,
            &chain.anvil.keys()[1].to_bytes(),
            "pw",
            keeper_shared::keystore::KdfChoice::insecure_fast(),
            keeper_shared::keystore::WriteMode::CreateNew,
        )
        .unwrap();
        let socket = dir.join("run/keeperd.sock");
        let process = keeper_devnet::Daemon::builder(&keeperd_binary())
            .args(["--roles", "scheduler", "--rpc-url", &chain.anvil.endpoint()])
            .arg("--deployment")
            .arg(&chain.deployment)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--api-socket")
            .arg(&socket)
            .arg("--ecdsa-keystore")
            .arg(&keystore)
            .arg("--password-file")
            .arg(&password)
            .log(&dir.join("keeperd.log"))
            .spawn()
            .unwrap();
        let mut daemon = Self { process, socket };
        daemon.wait_ready();
        daemon
    }

    fn socket(&self) -> &str {
        self.socket.to_str().unwrap()
    }

    fn log(&self) -> String {
        self.process.log_text()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            assert!(self.process.exited().is_none(), "keeperd exited: {}", self.log());
            let run = keeperctl(&["--json", "--socket", self.socket(), "status"], &[]);
            if run.code == 0 {
                let status: StatusResponse = run.json();
                if status.head.is_some() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "keeperd not ready: {}\n{}", run.stderr, self.log());
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Polls `f` until it gives `Some` (the daemon indexes what the chain did a block or two later).
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The column names of a human table (its first line), whatever the columns' widths.
fn header(run: &Run) -> Vec<&str> {
    run.stdout.lines().next().unwrap_or_default().split_whitespace().collect()
}

/// An interval job's start (an update must keep the trigger).
fn start_of(job: &JobView) -> String {
    match job.spec.trigger {
        Trigger::Interval { start, .. } => start.to_string(),
        other => panic!("{other:?}"),
    }
}

fn create_flags<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["job", "create", "--target", TARGET, "--signature", "increment()", "--max-fee", "0.01ether"];
    args.extend_from_slice(extra);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_mode_every_subcommand_and_error_code() {
    let chain = Chain::start().await;
    let daemon = Daemon::start(&chain);
    let s = daemon.socket();
    let ctl = |args: &[&str]| {
        let mut full = vec!["--socket", s];
        full.extend_from_slice(args);
        keeperctl(&full, &[])
    };
    let operator = chain.address(1);

    // status
    let status: StatusResponse = ctl(&["--json", "status"]).json();
    assert_eq!((status.chain_id, status.operator), (31337, Some(operator)));
    let human = ctl(&["status"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.contains("roles:") && human.stdout.contains("RPC ENDPOINT"), "{}", human.stdout);
    // The socket from the environment works as well as the flag.
    assert_eq!(keeperctl(&["--json", "status"], &[("KEEPERD_SOCKET", s)]).code, 0);

    // job create: flags, --json, and the human form printing the id alone on stdout.
    let created: CreateJobResponse = ctl(&create_flags(&["--json", "--interval", "2s", "--fund", "0.1ether"])).json();
    assert_eq!(created.job_id, U256::from(1u64));
    let human = ctl(&create_flags(&["--every-blocks", "5", "--fund", "1ether"]));
    assert_eq!((human.code, human.stdout.trim()), (0, "2"), "{}", human.stderr);
    // From a TOML spec file.
    let spec_file = chain.dir.path().join("job.toml");
    std::fs::write(
        &spec_file,
        format!(
            "gas_limit = 100000\nmax_fee_wei = \"1000000000000000\"\n[trigger]\nkind = \"block\"\nstart_block = 0\n\
             period_blocks = 3\n[action]\nkind = \"call\"\ntarget = \"{TARGET}\"\ndata = \"0xd09de08a\"\n"
        ),
    )
    .unwrap();
    let from_file: CreateJobResponse =
        ctl(&["--json", "job", "create", "--file", spec_file.to_str().unwrap(), "--fund", "1gwei"]).json();
    assert_eq!(from_file.job_id, U256::from(3u64));

    // job show / list once the daemon indexed them.
    let job: JobView = eventually("job 1 indexed", || {
        let run = ctl(&["--json", "job", "show", "1"]);
        (run.code == 0).then(|| run.json())
    });
    assert_eq!((job.owner, job.status, job.balance_wei), (operator, JobStatus::Active, U256::from(ETHER / 10)));
    assert!(matches!(job.spec.trigger, Trigger::Interval { period: 2, .. }));
    assert!(matches!(&job.spec.action, Action::Call { data, .. } if data[..] == [0xd0, 0x9d, 0xe0, 0x8a]));
    let list: JobList = eventually("three jobs", || {
        let list: JobList = ctl(&["--json", "job", "list"]).json();
        (list.jobs.len() == 3).then_some(list)
    });
    assert_eq!(list.next, None);
    let page: JobList = ctl(&["--json", "job", "list", "--limit", "1"]).json();
    assert_eq!((page.jobs.len(), page.next), (1, Some(U256::from(1u64))));
    let all: JobList = ctl(&["--json", "job", "list", "--limit", "1", "--all"]).json();
    assert_eq!(all.jobs.len(), 3);
    let human = ctl(&["job", "list"]);
    assert!(human.stdout.starts_with("ID") && human.stdout.lines().count() == 4, "{}", human.stdout);
    assert_eq!(header(&human), ["ID", "STATUS", "ESCROW", "NEXT", "DUE", "TRIGGER", "ACTION"], "{}", human.stdout);

    // Writes: update, pause, resume, top-up, cancel.
    let updated: JobWriteResponse = ctl(&[
        "--json",
        "job",
        "update",
        "1",
        "--target",
        TARGET,
        "--signature",
        "increment()",
        "--interval",
        "2s",
        "--start",
        &start_of(&job),
        "--max-fee",
        "0.01ether",
        "--gas-limit",
        "200000",
    ])
    .json();
    assert_eq!(updated.job_id, U256::from(1u64));
    let paused: JobWriteResponse = ctl(&["--json", "job", "pause", "1"]).json();
    assert!(paused.tx.block_number > 0);
    let _: JobWriteResponse = ctl(&["--json", "job", "resume", "1"]).json();
    let _: JobWriteResponse = ctl(&["--json", "job", "top-up", "1", "0.05ether"]).json();
    let human = ctl(&["job", "cancel", "2"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.starts_with("job 2 cancelled: transaction 0x"), "{}", human.stdout);
    eventually("job 1 topped up and job 2 cancelled in the index", || {
        let one: JobView = ctl(&["--json", "job", "show", "1"]).json();
        let two: JobView = ctl(&["--json", "job", "show", "2"]).json();
        (one.balance_wei == U256::from(ETHER / 10 + ETHER / 20)
            && one.spec.gas_limit == 200_000
            && two.status == JobStatus::Cancelled)
            .then_some(())
    });

    // Tasks of the interval job come due.
    let tasks: TaskList = eventually("tasks of job 1", || {
        let tasks: TaskList = ctl(&["--json", "task", "list", "--job", "1"]).json();
        (!tasks.tasks.is_empty()).then_some(tasks)
    });
    let first = &tasks.tasks[0];
    let detail: TaskDetail = ctl(&["--json", "task", "show", "1", &first.sequence.to_string()]).json();
    assert_eq!((detail.task.job_id, detail.history[0].from), (U256::from(1u64), None));
    let human = ctl(&["task", "list", "--state", "due"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    // The time filter: the last hour holds them, a window that ended an hour ago none.
    let recent: TaskList = ctl(&["--json", "task", "list", "--job", "1", "--from", "-1h"]).json();
    assert!(recent.tasks.iter().any(|t| t.sequence == first.sequence), "{recent:?}");
    let old: TaskList = ctl(&["--json", "task", "list", "--job", "1", "--to", "-1h"]).json();
    assert!(old.tasks.is_empty(), "{old:?}");
    assert_eq!(ctl(&["--json", "task", "list", "--from", "soon"]).error(2)["api"]["field"], "--from");

    // Events: recent, then the live stream (a JSON line each).
    let recent = ctl(&["--json", "events", "--limit", "3"]);
    assert_eq!(recent.code, 0, "{}", recent.stderr);
    let lines: Vec<EventRecord> = recent.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty() && lines.len() <= 3);
    let follow = ctl(&["--json", "events", "--follow", "--limit", "1", "--count", "3"]);
    let streamed: Vec<EventRecord> = follow.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(streamed.len(), 3, "{}", follow.stderr);
    assert!(streamed.windows(2).all(|w| w[0].id < w[1].id), "ids increase");

    // Operators.
    let operators: OperatorList = ctl(&["--json", "operator", "show"]).json();
    assert!(operators.operators.iter().all(|o| !o.registered));

    // Error paths.
    // 2: local validation names the field and the flag; nothing is sent.
    let bad = ctl(&create_flags(&["--json", "--interval", "0s"])).error(2);
    assert_eq!(bad["api"]["field"], "spec.trigger.period_secs");
    assert!(bad["error"].as_str().unwrap().contains("--interval"), "{bad}");
    let bad = ctl(&create_flags(&["--json", "--interval", "2s", "--gas-limit", "1"])).error(2);
    assert_eq!(bad["api"]["field"], "spec.gas_limit");
    assert_eq!(ctl(&["--json", "job", "show", "one"]).error(2)["api"]["field"], "id");
    assert_eq!(ctl(&["job", "show", "1", "--no-such-flag"]).code, 2, "clap's usage errors");
    assert_eq!(ctl(&["--json", "task", "list", "--after", "1-2"]).error(2)["api"]["code"], "invalid_cursor");
    // 4: the daemon refuses.
    let missing = ctl(&["--json", "job", "show", "999"]).error(4);
    assert_eq!(missing["api"]["code"], ErrorCode::JobNotFound.as_str());
    let again = ctl(&["--json", "job", "pause", "2"]).error(4);
    assert!(again["api"]["code"] == "reverted" || again["api"]["code"] == "invalid_value", "{again}");
    let no_bls = ctl(&["--json", "operator", "register"]).error(4);
    assert_eq!(no_bls["api"]["code"], "no_operator_key");
    // A job owned by someone else (created straight on chain by account 2).
    let rpc = chain.anvil.endpoint();
    let direct: CreateJobResponse = keeperctl(
        &create_flags(&[
            "--json",
            "--interval",
            "1h",
            "--rpc-url",
            &rpc,
            "--deployment",
            chain.deployment.to_str().unwrap(),
        ]),
        &[("ETH_PRIVATE_KEY", &chain.key_hex(2))],
    )
    .json();
    eventually("the direct job indexed", || {
        (ctl(&["job", "show", &direct.job_id.to_string()]).code == 0).then_some(())
    });
    let foreign = ctl(&["--json", "job", "pause", &direct.job_id.to_string()]).error(4);
    assert_eq!(foreign["api"]["code"], "not_job_owner");
    // The job commands are written once: the chain backend reads the same jobs into the same values,
    // and prints them in the same table, as the daemon.
    let on_chain = |args: &[&str]| {
        let mut full = args.to_vec();
        full.extend_from_slice(&["--rpc-url", &rpc, "--deployment", chain.deployment.to_str().unwrap()]);
        keeperctl(&full, &[])
    };
    let via_chain: JobList = on_chain(&["--json", "job", "list"]).json();
    let via_daemon: JobList = ctl(&["--json", "job", "list"]).json();
    assert_eq!(via_daemon.jobs.len(), 4);
    assert_eq!(via_chain.jobs.len(), 4);
    for (daemon, chain) in via_daemon.jobs.iter().zip(&via_chain.jobs) {
        assert_eq!(
            (daemon.id, daemon.status, daemon.owner, daemon.forwarder, daemon.balance_wei, &daemon.spec),
            (chain.id, chain.status, chain.owner, chain.forwarder, chain.balance_wei, &chain.spec)
        );
    }
    let (daemon, chain_list) = (ctl(&["job", "list"]), on_chain(&["job", "list"]));
    assert_eq!(header(&daemon), header(&chain_list), "{}\n{}", daemon.stdout, chain_list.stdout);
    assert_eq!(daemon.stdout.lines().count(), chain_list.stdout.lines().count());
    for run in [ctl(&["job", "list", "--status", "expired"]), on_chain(&["job", "list", "--status", "expired"])] {
        assert_eq!((run.code, run.stdout.as_str(), run.stderr.trim()), (0, "", "no jobs"), "{}", run.stderr);
    }
    // 3: no daemon at the socket, or one that never answers.
    let nowhere = chain.dir.path().join("nowhere.sock");
    let gone = keeperctl(&["--json", "--socket", nowhere.to_str().unwrap(), "status"], &[]).error(3);
    assert!(gone["error"].as_str().unwrap().contains("no socket there"), "{gone}");
    let silent_path = chain.dir.path().join("silent.sock");
    let silent = std::os::unix::net::UnixListener::bind(&silent_path).unwrap();
    let held = std::thread::spawn(move || silent.accept().map(|(stream, _)| stream));
    keeperctl(&["--json", "--timeout", "1s", "--socket", silent_path.to_str().unwrap(), "status"], &[]).error(3);
    drop(held);
    // 1: something that is not keeperd answers.
    let fake_path = chain.dir.path().join("fake.sock");
    let fake = std::os::unix::net::UnixListener::bind(&fake_path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = fake.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf);
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello").unwrap();
    });
    keeperctl(&["--json", "--socket", fake_path.to_str().unwrap(), "status"], &[]).error(1);
    server.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_without_a_daemon() {
    let chain = Chain::start().await;
    let rpc = chain.anvil.endpoint();
    let deployment = chain.deployment.to_str().unwrap().to_owned();
    let key = chain.key_hex(3);
    let env = [("ETH_PRIVATE_KEY", key.as_str()), ("KEEPER_DEPLOYMENT", deployment.as_str())];
    let ctl = |args: &[&str]| {
        let mut full = args.to_vec();
        full.extend_from_slice(&["--rpc-url", &rpc]);
        keeperctl(&full, &env)
    };

    let created: CreateJobResponse =
        ctl(&create_flags(&["--json", "--every-blocks", "10", "--fund", "0.5ether"])).json();
    assert_eq!(created.job_id, U256::from(1u64));
    let job: JobView = ctl(&["--json", "job", "show", "1"]).json();
    assert_eq!((job.owner, job.status, job.forwarder), (chain.address(3), JobStatus::Active, created.forwarder));
    assert_eq!(job.spec.trigger, Trigger::Block { start: 0, period: 10 });
    assert_eq!(job.spec.max_fee, ETHER / 100);
    assert!(job.next_due.is_some());
    let human = ctl(&["job", "show", "1"]);
    assert!(human.stdout.contains("next due:") && human.stdout.contains("every 10 blocks"), "{}", human.stdout);

    // A Gelato-style job and an event job, from flags.
    let _: CreateJobResponse =
        ctl(&create_flags(&["--json", "--interval", "1m", "--checker", "0x2222222222222222222222222222222222222222"])
            .into_iter()
            .filter(|a| *a != "--signature" && *a != "increment()")
            .collect::<Vec<_>>())
        .json();
    let _: CreateJobResponse = ctl(&[
        "--json",
        "job",
        "create",
        "--target",
        TARGET,
        "--calldata",
        "0xd09de08a",
        "--on-event",
        "AnswerUpdated(int256,uint256,uint256)",
        "--emitter",
        "0x3333333333333333333333333333333333333333",
        "--max-fee",
        "0.01ether",
    ])
    .json();
    let list: JobList = ctl(&["--json", "job", "list"]).json();
    assert_eq!(list.jobs.len(), 3);
    assert!(matches!(list.jobs[1].spec.action, Action::GelatoResolver { .. }));
    assert!(matches!(list.jobs[2].spec.trigger, Trigger::Event(_)));
    // Pages, as from the daemon.
    let page: JobList = ctl(&["--json", "job", "list", "--limit", "1"]).json();
    assert_eq!((page.jobs.len(), page.next), (1, Some(U256::from(1u64))));
    let all: JobList = ctl(&["--json", "job", "list", "--limit", "1", "--all"]).json();
    let specs = |list: &JobList| list.jobs.iter().map(|job| (job.id, job.spec.clone())).collect::<Vec<_>>();
    assert_eq!((specs(&all), all.next), (specs(&list), None));
    let human = ctl(&["job", "list", "--limit", "2"]);
    assert_eq!(header(&human), ["ID", "STATUS", "ESCROW", "NEXT", "DUE", "TRIGGER", "ACTION"], "{}", human.stdout);
    assert_eq!(human.stdout.lines().count(), 3, "{}", human.stdout);
    assert!(human.stderr.contains("more: --after 2 (or --all)"), "{}", human.stderr);
    let none = ctl(&["job", "list", "--status", "paused"]);
    assert_eq!((none.code, none.stdout.as_str(), none.stderr.trim()), (0, "", "no jobs"), "{}", none.stderr);

    let updated: JobWriteResponse =
        ctl(&["--json", "job", "update", "1", "--target", TARGET, "--every-blocks", "10", "--max-fee", "0.02ether"])
            .json();
    assert_eq!(updated.job_id, U256::from(1u64));
    let _: JobWriteResponse = ctl(&["--json", "job", "pause", "1"]).json();
    let _: JobWriteResponse = ctl(&["--json", "job", "resume", "1"]).json();
    let _: JobWriteResponse = ctl(&["--json", "job", "top-up", "1", "0.25ether"]).json();
    let job: JobView = ctl(&["--json", "job", "show", "1"]).json();
    assert_eq!((job.balance_wei, job.spec.max_fee), (U256::from(ETHER * 3 / 4), ETHER / 50));
    let _: JobWriteResponse = ctl(&["--json", "job", "cancel", "1"]).json();
    let job: JobView = ctl(&["--json", "job", "show", "1"]).json();
    assert_eq!((job.status, job.balance_wei), (JobStatus::Cancelled, U256::ZERO));

    // A keystore instead of the private key.
    std::fs::write(chain.dir.path().join("pw"), "pw").unwrap();
    let keystore = chain.dir.path().join("signer.json");
    keeper_shared::keystore::ecdsa::import(
        &keystore,
        &chain.anvil.keys()[4].to_bytes(),
        "pw",
        keeper_shared::keystore::KdfChoice::insecure_fast(),
        keeper_shared::keystore::WriteMode::CreateNew,
    )
    .unwrap();
    let run = keeperctl(
        &[
            "--json",
            "job",
            "top-up",
            "2",
            "1gwei",
            "--rpc-url",
            &rpc,
            "--keystore",
            keystore.to_str().unwrap(),
            "--password-file",
            chain.dir.path().join("pw").to_str().unwrap(),
        ],
        &[("KEEPER_DEPLOYMENT", &deployment)],
    );
    let _: JobWriteResponse = run.json();

    // Error paths: the same validation as through the daemon (2), the chain's refusals (4), an
    // endpoint that is not there (3), no key (2).
    let bad = ctl(&create_flags(&["--json", "--interval", "0s"])).error(2);
    assert_eq!(bad["api"]["field"], "spec.trigger.period_secs");
    let past = ctl(&create_flags(&["--json", "--every-blocks", "5", "--expiry", "1000"])).error(2);
    assert_eq!(past["api"]["field"], "spec.expiry_secs", "chain time is known in direct mode: {past}");
    let cancelled = ctl(&["--json", "job", "pause", "1"]).error(4);
    assert_eq!(cancelled["api"]["revert"], "InvalidJobStatus", "{cancelled}");
    let missing = ctl(&["--json", "job", "show", "99"]).error(4);
    assert_eq!(missing["api"]["code"], "job_not_found");
    let immutable =
        ctl(&["--json", "job", "update", "2", "--target", TARGET, "--every-blocks", "3", "--max-fee", "1"]).error(4);
    assert_eq!(immutable["api"]["revert"], "TriggerImmutable", "{immutable}");
    let closed = keeperctl(
        &["--json", "job", "show", "1", "--rpc-url", "http://127.0.0.1:9"],
        &[("KEEPER_DEPLOYMENT", &deployment)],
    );
    closed.error(3);
    let no_key = keeperctl(&["--json", "job", "pause", "2", "--rpc-url", &rpc], &[("KEEPER_DEPLOYMENT", &deployment)]);
    no_key.error(2);
    let no_deployment = keeperctl(&["--json", "job", "show", "1", "--rpc-url", &rpc], &[]);
    no_deployment.error(2);
}

/// A JSON-RPC endpoint in front of anvil that, like public providers, refuses `eth_getLogs` over more
/// than [`RANGE_LIMIT`] blocks (or with an open end); it counts what it saw.
struct RangeLimitedRpc {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<RangeTally>>,
    server: tokio::task::JoinHandle<()>,
}

/// Small, so that a history of a few ranges takes anvil little time to mine (a provider's 10,000
/// would need tens of thousands of blocks: anvil mines about 40 a second here).
const RANGE_LIMIT: u64 = 500;

#[derive(Debug, Default, Clone)]
struct RangeTally {
    get_logs: u64,
    refused: u64,
    widest: u64,
}

impl Drop for RangeLimitedRpc {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RangeLimitedRpc {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(RangeTally::default()));
        let tally = seen.clone();
        let server = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let tally = tally.clone();
                tokio::spawn(async move {
                    // One request per connection (answered with `Connection: close`).
                    let mut request = Vec::new();
                    let mut buf = [0u8; 8192];
                    let (head_end, length) = loop {
                        let Ok(n) = client.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, length);
                        }
                    };
                    while request.len() < head_end + length {
                        let Ok(n) = client.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                    }
                    let body = &request[head_end..head_end + length];
                    let call: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                    let answer = match refusal(&call, &tally) {
                        Some(refusal) => refusal.to_string().into_bytes(),
                        None => {
                            let Ok(mut anvil) = tokio::net::TcpStream::connect(upstream).await else { return };
                            let forward = format!(
                                "POST / HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            let _ = anvil.write_all(forward.as_bytes()).await;
                            let _ = anvil.write_all(body).await;
                            let mut response = Vec::new();
                            let _ = anvil.read_to_end(&mut response).await;
                            let start = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
                            response[start..].to_vec()
                        }
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        answer.len()
                    );
                    let _ = client.write_all(head.as_bytes()).await;
                    let _ = client.write_all(&answer).await;
                });
            }
        });
        Self { url, seen, server }
    }

    fn tally(&self) -> RangeTally {
        self.seen.lock().unwrap().clone()
    }
}

/// The provider's answer to a log query over too many blocks (`None`: forward it).
fn refusal(call: &serde_json::Value, tally: &std::sync::Mutex<RangeTally>) -> Option<serde_json::Value> {
    if call["method"] != "eth_getLogs" {
        return None;
    }
    let block = |key: &str| {
        call["params"][0][key].as_str().and_then(|hex| u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok())
    };
    let mut tally = tally.lock().unwrap();
    tally.get_logs += 1;
    let span = match (block("fromBlock"), block("toBlock")) {
        (Some(from), Some(to)) => to.saturating_sub(from) + 1,
        _ => u64::MAX,
    };
    tally.widest = tally.widest.max(span);
    (span > RANGE_LIMIT).then(|| {
        tally.refused += 1;
        serde_json::json!({
            "jsonrpc": "2.0",
            "id": call["id"],
            "error": {"code": -32005, "message": format!("query exceeds max block range {RANGE_LIMIT}")},
        })
    })
}

/// Direct mode on a chain with a long history, through an endpoint that refuses wide log queries as
/// public providers do: the job's spec is found in ranges the endpoint accepts, newest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_reads_logs_in_ranges_a_public_provider_accepts() {
    let chain = Chain::start().await;
    let anvil = ProviderBuilder::new().connect_http(chain.anvil.endpoint_url());
    let mine = |blocks: u64| {
        let anvil = anvil.clone();
        async move {
            let _: serde_json::Value = anvil.raw_request("anvil_mine".into(), (format!("{blocks:#x}"),)).await.unwrap();
        }
    };
    let proxy = RangeLimitedRpc::start(format!("127.0.0.1:{}", chain.anvil.port()).parse().unwrap()).await;
    let deployment = chain.deployment.to_str().unwrap().to_owned();
    let key = chain.key_hex(3);
    let env = [("ETH_PRIVATE_KEY", key.as_str()), ("KEEPER_DEPLOYMENT", deployment.as_str())];
    let ctl = |args: &[&str]| {
        let mut full = args.to_vec();
        full.extend_from_slice(&["--rpc-url", &proxy.url, "--log-range", "500"]);
        keeperctl(&full, &env)
    };

    mine(1_250).await;
    let created: CreateJobResponse =
        ctl(&create_flags(&["--json", "--every-blocks", "10", "--fund", "0.5ether"])).json();
    mine(1_250).await;
    let job: JobView = ctl(&["--json", "job", "show", &created.job_id.to_string()]).json();
    assert_eq!((job.id, job.status, job.forwarder), (created.job_id, JobStatus::Active, created.forwarder));
    assert!(matches!(job.spec.trigger, Trigger::Block { period: 10, .. }), "{:?}", job.spec.trigger);
    let list: JobList = ctl(&["--json", "job", "list"]).json();
    assert_eq!(list.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![created.job_id]);

    let tally = proxy.tally();
    assert!(tally.get_logs >= 6, "the spec is 1,250 blocks back: three ranges per read: {tally:?}");
    assert_eq!(tally.refused, 0, "{tally:?}");
    assert!(tally.widest <= RANGE_LIMIT, "{tally:?}");

    // Two more jobs, newer: a page of all three reads the history once (down to the oldest job's
    // creation), not once per job.
    let mut ids = vec![created.job_id];
    for _ in 0..2 {
        ids.push(
            ctl(&create_flags(&["--json", "--every-blocks", "10", "--fund", "0.5ether"]))
                .json::<CreateJobResponse>()
                .job_id,
        );
        mine(1_250).await;
    }
    let head = anvil.get_block_number().await.unwrap();
    let before = proxy.tally().get_logs;
    let list: JobList = ctl(&["--json", "job", "list"]).json();
    assert_eq!(list.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), ids);
    let reads = proxy.tally().get_logs - before;
    let one_pass = (head - created.tx.block_number) / 500 + 2;
    assert!(reads <= one_pass, "{reads} log reads for one page; one pass down to the oldest job is {one_pass}");
    // Pages: two, then the rest.
    let page: JobList = ctl(&["--json", "job", "list", "--limit", "2"]).json();
    assert_eq!(page.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), ids[..2]);
    assert_eq!(page.next, Some(ids[1]));
    let rest: JobList = ctl(&["--json", "job", "list", "--after", &ids[1].to_string()]).json();
    assert_eq!(rest.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), ids[2..]);
    assert_eq!(rest.next, None);
}

#[test]
fn help_and_completions_need_no_daemon() {
    let help = keeperctl(&["--help"], &[]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit codes") && help.stdout.contains("job"), "{}", help.stdout);
    let bash = keeperctl(&["completions", "bash"], &[]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("keeperctl") && bash.stdout.contains("top-up"), "{}", &bash.stdout[..200]);
    assert_eq!(keeperctl(&["completions", "nosh"], &[]).code, 2);
}

/// kill -9 of the daemon and a restart on the same data dir: `keeperctl events --follow` (one
/// process throughout) prints the new daemon's events, and the console's runtime reconnects and
/// delivers them (its state refreshes: a listing and new events after the restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_and_the_console_carry_on_after_the_daemon_is_killed_and_restarted() {
    use keeperctl::console::{ApiEvent, Connection};
    use tokio::sync::mpsc;
    let chain = Chain::start().await;
    let mut daemon = Daemon::start(&chain);

    let mut follow = Command::new(env!("CARGO_BIN_EXE_keeperctl"))
        .args(["--json", "--socket", daemon.socket(), "events", "--follow", "--limit", "1"])
        .env_remove("KEEPERD_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<EventRecord>();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines_tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                return;
            }
        }
    });
    let (console_tx, mut console) = mpsc::channel(4096);
    let (_commands, command_rx) = mpsc::unbounded_channel();
    let runtime = tokio::spawn(keeperctl::console::runtime::serve(
        keeperctl::client::Client::new(daemon.socket()).unwrap(),
        console_tx,
        command_rx,
    ));
    let first = lines.recv_timeout(Duration::from_secs(30)).expect("an event before the restart");

    daemon.process.kill9();
    let killed_at_ms =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap();
    // On the same files, its stderr appended to the same log.
    daemon.process.start().unwrap();
    daemon.wait_ready();

    // keeperctl prints the new run's events (ids above the old run's, times after the kill).
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let record = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).unwrap_or_else(|_| {
            let _ = follow.kill();
            let mut stderr = String::new();
            let _ = follow.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("keeperctl events --follow printed nothing after the restart: {stderr}\n{}", daemon.log())
        });
        if record.at_ms > killed_at_ms {
            break record;
        }
    };
    assert!(after.id > first.id, "{after:?} after {first:?}");

    // The console: disconnected, connected again, read again, and new events delivered.
    let mut seen = Vec::new();
    let (mut reconnected, mut relisted, mut new_event) = (false, false, false);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(reconnected && relisted && new_event) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(event)) = tokio::time::timeout(left, console.recv()).await else {
            panic!("the console did not resynchronise (reconnected {reconnected}, listed {relisted}, new event {new_event}): {seen:#?}")
        };
        match &event {
            ApiEvent::Connection(Connection::Disconnected { .. }) => reconnected = false,
            ApiEvent::Connection(Connection::Connected) => reconnected = true,
            ApiEvent::Tasks { .. } if reconnected => relisted = true,
            ApiEvent::Event(record) if record.at_ms > killed_at_ms => new_event = true,
            _ => {}
        }
        seen.push(event);
    }
    runtime.abort();
    let _ = follow.kill();
    let _ = follow.wait();

    // `keeperctl events --follow | head -1`: the reader goes away, keeperctl exits 0 without a word.
    let mut head = Command::new(env!("CARGO_BIN_EXE_keeperctl"))
        .args(["--socket", daemon.socket(), "events", "--follow", "--limit", "1"])
        .env_remove("KEEPERD_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut byte = [0u8; 1];
    head.stdout.as_mut().unwrap().read_exact(&mut byte).unwrap();
    drop(head.stdout.take());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = head.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "keeperctl kept running with nobody reading");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    head.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""), "a closed stdout ends keeperctl quietly");
}

/// A new operator's way to stake on a devnet: the devnet's faucet sends it ether and stake tokens
/// (`keeperctl devnet fund`), then its daemon deposits them (`keeperctl operator deposit`: approve +
/// `depositIntoStrategy`, the weight refresh skipped outside the set); a deposit above what it holds
/// is refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn devnet_faucet_then_operator_deposit() {
    let chain = Chain::start().await;
    let owner = PrivateKeySigner::from(chain.anvil.keys()[0].clone());
    let owner_provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(owner)).connect_http(chain.anvil.endpoint_url());
    let deployment = keeper_shared::deployment::Deployment::read(&chain.deployment).unwrap();
    let (_, faucet) =
        keeper_devnet::faucet::open_faucet(&owner_provider, &deployment, &chain.anvil.endpoint(), chain.dir.path())
            .await
            .unwrap();
    let operator = chain.address(1);
    let token = keeper_shared::contracts::StakeToken::new(deployment.stake_token.unwrap(), &owner_provider);
    let eth_before = owner_provider.get_balance(operator).await.unwrap();

    let funded = keeperctl(
        &["--json", "devnet", "fund", &operator.to_string(), "--faucet", faucet.to_str().unwrap(), "--stake", "100"],
        &[],
    );
    let funded: serde_json::Value = funded.json();
    assert_eq!(funded["stake_wei"], (100 * ETHER).to_string());
    assert_eq!(token.balanceOf(operator).call().await.unwrap(), U256::from(100 * ETHER));
    assert_eq!(owner_provider.get_balance(operator).await.unwrap(), eth_before + U256::from(10 * ETHER));

    let daemon = Daemon::start(&chain);
    let socket = daemon.socket();
    let run = keeperctl(&["--json", "--socket", socket, "operator", "deposit", "--amount", "60"], &[]);
    let answer: keeper_shared::api::OperatorWriteResponse = run.json();
    let steps: Vec<_> = answer.steps.iter().map(|s| (s.step, s.tx.is_some())).collect();
    use keeper_shared::api::OperatorStep;
    assert_eq!(
        steps,
        [(OperatorStep::ApproveStake, true), (OperatorStep::Deposit, true), (OperatorStep::UpdateWeight, false)],
        "{answer:?}"
    );
    let strategy = deployment.avs.strategies[0];
    assert_eq!(token.balanceOf(strategy).call().await.unwrap(), U256::from(60 * ETHER));
    assert_eq!(token.balanceOf(operator).call().await.unwrap(), U256::from(40 * ETHER));

    let nonce = owner_provider.get_transaction_count(operator).await.unwrap();
    let refused = keeperctl(&["--json", "--socket", socket, "operator", "deposit", "--amount", "50"], &[]);
    let error = refused.error(4);
    assert_eq!(error["api"]["field"], "amount", "{error}");
    assert!(error["api"]["message"].as_str().unwrap().contains("holds 40 of token"), "{error}");
    let human = keeperctl(&["--socket", socket, "operator", "deposit", "--amount", "60"], &[]);
    assert_ne!(human.code, 0);
    assert_eq!(owner_provider.get_transaction_count(operator).await.unwrap(), nonce, "a refused deposit sends nothing");
}
