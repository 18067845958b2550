//! The control API against a real `keeperd run` (scheduler role) on anvil with a deployed network
//! and two jobs: every endpoint, malformed requests, the socket's modes, a second daemon on the same
//! socket, a stale socket after `kill -9`, and every `curl` example of `docs/api.md`, run with the
//! real curl and parsed into `keeper_shared::api`'s types.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeper_shared::api::{
    ApiError, ErrorCode, Event, EventRecord, JobList, JobStatus, JobView, RecentEvents, StatusResponse, TaskDetail,
    TaskList, TaskState, TriggerView,
};
use keeper_shared::contracts::JobManager;
use keeperd::devnet::{deploy_network, NetworkConfig};
use keeperd::jobs::{Action, JobSpec, Trigger};

const CURL: &str = "/usr/bin/curl";

/// A `keeperd run` owned by the test (SIGKILLed on drop if still running).
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(env: &Env, data_dir: &Path, log_name: &str) -> Self {
        let log = env.dir.path().join(log_name);
        let child = Command::new(env!("CARGO_BIN_EXE_keeperd"))
            .args(["run", "--roles", "scheduler", "--rpc-url", &env.rpc_url])
            .arg("--deployment")
            .arg(env.dir.path().join("deployment.json"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--api-socket")
            .arg(&env.socket)
            .env("RUST_LOG", "warn,keeperd=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        wait_exit(&mut self.child, Duration::from_secs(20)).expect("keeperd stops on SIGTERM")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Anvil with the network deployed and two jobs: 1 (interval, every 2 s, active) and 2 (every 5
/// blocks, paused); a background task mines a block every 300 ms so heads and tasks keep coming.
struct Env {
    _anvil: alloy::node_bindings::AnvilInstance,
    dir: tempfile::TempDir,
    rpc_url: String,
    socket: PathBuf,
    miner: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.miner.abort();
    }
}

async fn env() -> Env {
    let anvil = common::anvil();
    let signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let owner = signer.address();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(anvil.endpoint_url());
    let deployment = deploy_network(&provider, &NetworkConfig::devnet(owner)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    deployment.write(&dir.path().join("deployment.json")).unwrap();

    let now =
        provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await.unwrap().unwrap().header.timestamp;
    let call = Action::Call { target: Address::repeat_byte(0x11), data: vec![0xd0, 0x9d, 0xe0, 0x8a].into() };
    let spec =
        |trigger| JobSpec { trigger, action: call.clone(), gas_limit: 300_000, max_fee: 10u128.pow(16), expiry: None };
    let manager = JobManager::new(deployment.avs.job_manager, &provider);
    let ether = U256::from(10u64).pow(U256::from(18u64));
    for trigger in [Trigger::Interval { start: now, period: 2 }, Trigger::Block { start: 0, period: 5 }] {
        let abi = spec(trigger).to_job_manager().unwrap();
        let receipt = manager.createJob(abi).value(ether).send().await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status());
    }
    let receipt = manager.pauseJob(U256::from(2u64)).send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());

    let miner = {
        let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
        tokio::spawn(async move {
            loop {
                let _ = provider.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let socket = dir.path().join("run/keeperd.sock");
    Env { rpc_url: anvil.endpoint(), _anvil: anvil, dir, socket, miner }
}

/// `curl` on the socket: (HTTP status, body).
fn curl(socket: &Path, args: &[&str]) -> (u16, String) {
    let output = Command::new(CURL)
        .args(["-sS", "--max-time", "15", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

fn get<T: serde::de::DeserializeOwned>(socket: &Path, path: &str) -> T {
    let (status, body) = curl(socket, &[&format!("http://keeperd{path}")]);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn get_error(socket: &Path, args: &[&str]) -> (u16, ApiError) {
    let (status, body) = curl(socket, args);
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{args:?}: {e}: {body}")))
}

/// Waits until the daemon serves, has indexed both jobs and has at least two tasks of job 1.
async fn wait_ready(daemon: &mut Daemon, socket: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(daemon.child.try_wait().unwrap().is_none(), "keeperd exited: {}", daemon.log());
        if socket.exists() {
            let (status, body) = curl(socket, &["http://keeperd/v1/tasks?job=1"]);
            if status == 200 {
                let tasks: TaskList = serde_json::from_str(&body).unwrap();
                let jobs: JobList = get(socket, "/v1/jobs");
                if jobs.jobs.len() == 2 && tasks.tasks.len() >= 2 {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "keeperd not ready in time: {}", daemon.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_and_malformed_requests_get_their_codes() {
    let env = env().await;
    let data = env.dir.path().join("data");
    let mut daemon = Daemon::start(&env, &data, "keeperd.log");
    wait_ready(&mut daemon, &env.socket).await;
    let socket = env.socket.as_path();

    // The socket and its directory are private.
    assert_eq!(std::fs::metadata(socket).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(std::fs::metadata(socket.parent().unwrap()).unwrap().mode() & 0o7777, 0o700);

    let status: StatusResponse = get(socket, "/v1/status");
    assert_eq!(status.roles, vec!["scheduler"]);
    assert_eq!((status.chain_id, status.confirmations, status.operator), (31337, 0, None));
    assert!(status.head.is_some() && status.sync.chain_block.is_some());
    assert!(status.health.database.ok && status.health.scheduler.running);
    assert_eq!(status.health.rpc.len(), 1);
    assert!(status.health.database.task_counts.iter().any(|c| c.state == TaskState::Due && c.count >= 2));

    // Jobs: filters, pages, one job with its readable spec and next due task.
    let jobs: JobList = get(socket, "/v1/jobs");
    assert_eq!(
        jobs.jobs.iter().map(|j| (j.id.to::<u64>(), j.status)).collect::<Vec<_>>(),
        vec![(1, JobStatus::Active), (2, JobStatus::Paused)]
    );
    assert_eq!(jobs.next, None);
    let paused: JobList = get(socket, "/v1/jobs?status=paused");
    assert_eq!(paused.jobs.len(), 1);
    assert_eq!(paused.jobs[0].next_due, None, "a paused job has no next task");
    let first: JobList = get(socket, "/v1/jobs?limit=1");
    assert_eq!(first.next, Some(U256::from(1u64)));
    let second: JobList = get(socket, "/v1/jobs?limit=1&after=1");
    assert_eq!((second.jobs[0].id, second.next), (U256::from(2u64), Some(U256::from(2u64))));
    let rest: JobList = get(socket, "/v1/jobs?limit=1&after=2");
    assert!(rest.jobs.is_empty() && rest.next.is_none());
    let job: JobView = get(socket, "/v1/jobs/1");
    assert!(matches!(job.spec.trigger, TriggerView::Interval { period_secs: 2, .. }));
    assert_eq!(job.balance_wei, U256::from(10u64).pow(U256::from(18u64)));
    assert!(job.next_due.is_some_and(|d| d.at_secs.is_some()));

    // Tasks: pages by cursor, one task's history.
    let page: TaskList = get(socket, "/v1/tasks?job=1&limit=1");
    assert_eq!(page.tasks.len(), 1);
    let next = page.next.clone().expect("more than one task");
    let page2: TaskList = get(socket, &format!("/v1/tasks?job=1&limit=1&after={next}"));
    assert!(page2.tasks[0].sequence > page.tasks[0].sequence);
    let due: TaskList = get(socket, "/v1/tasks?state=due");
    assert!(due.tasks.iter().all(|t| t.state == TaskState::Due && t.job_id == U256::from(1u64)));
    let sequence = page.tasks[0].sequence;
    let detail: TaskDetail = get(socket, &format!("/v1/tasks/1/{sequence}"));
    assert_eq!(detail.task, page.tasks[0]);
    assert_eq!((detail.history[0].from, detail.history[0].to), (None, TaskState::Due));

    // Events: remembered ones, and the live stream.
    let recent: RecentEvents = get(socket, "/v1/events/recent?limit=3");
    assert!(!recent.events.is_empty() && recent.events.len() <= 3);
    assert!(recent.events.windows(2).all(|w| w[1].id == w[0].id + 1));
    let streamed = stream_events(socket, 3);
    assert!(streamed.iter().any(|r| matches!(r.event, Event::NewHead { .. })), "{streamed:?}");

    // Malformed requests.
    let big = "x".repeat(100 * 1024);
    let cases: Vec<(Vec<&str>, u16, ErrorCode, Option<&str>)> = vec![
        (vec!["http://keeperd/v1/nope"], 404, ErrorCode::NotFound, None),
        (vec!["http://keeperd/v1/jobs?limit=0"], 400, ErrorCode::InvalidValue, Some("limit")),
        (vec!["http://keeperd/v1/jobs?colour=red"], 400, ErrorCode::InvalidQuery, Some("colour")),
        (vec!["http://keeperd/v1/status?verbose=1"], 400, ErrorCode::InvalidQuery, Some("verbose")),
        (vec!["http://keeperd/v1/jobs/abc"], 400, ErrorCode::InvalidValue, Some("id")),
        (vec!["http://keeperd/v1/jobs/999"], 404, ErrorCode::JobNotFound, Some("id")),
        (vec!["http://keeperd/v1/tasks/1/x"], 400, ErrorCode::InvalidValue, Some("sequence")),
        (vec!["http://keeperd/v1/tasks/1/99999"], 404, ErrorCode::TaskNotFound, Some("sequence")),
        (vec!["http://keeperd/v1/tasks?after=zz"], 400, ErrorCode::InvalidCursor, Some("after")),
        (vec!["http://keeperd/v1/tasks?state=done"], 400, ErrorCode::InvalidValue, Some("state")),
        (vec!["-X", "POST", "http://keeperd/v1/status"], 405, ErrorCode::MethodNotAllowed, None),
        (
            vec!["-H", "Content-Type: application/json", "--data-binary", &big, "http://keeperd/v1/jobs"],
            413,
            ErrorCode::BodyTooLarge,
            None,
        ),
        (
            vec!["-H", "Last-Event-ID: x", "http://keeperd/v1/events"],
            400,
            ErrorCode::InvalidValue,
            Some("Last-Event-ID"),
        ),
    ];
    for (args, want_status, want_code, want_field) in cases {
        let (status, error) = get_error(socket, &args);
        assert_eq!(
            (status, error.code, error.field.as_deref()),
            (want_status, want_code, want_field),
            "{:?}: {error}",
            &args[args.len() - 1]
        );
        assert_eq!(status, want_code.http_status());
    }

    // A second daemon on the same socket (its own data directory) refuses to start; the first serves on.
    let mut second = Daemon::start(&env, &env.dir.path().join("data-2"), "keeperd-2.log");
    let exit = wait_exit(&mut second.child, Duration::from_secs(20)).expect("the second daemon exits");
    assert!(!exit.success());
    assert!(second.log().contains("another keeperd is already serving on it"), "{}", second.log());
    let _: StatusResponse = get(socket, "/v1/status");

    // kill -9 leaves the socket file behind; the next start removes it and serves.
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    assert!(env.socket.exists(), "a killed daemon cannot remove its socket");
    let mut restarted = Daemon::start(&env, &data, "keeperd-3.log");
    wait_ready(&mut restarted, socket).await;
    assert!(restarted.log().contains("removing a stale socket"), "{}", restarted.log());
    let _: StatusResponse = get(socket, "/v1/status");
    // SIGTERM: a clean stop removes the socket.
    assert!(restarted.terminate().success(), "{}", restarted.log());
    assert!(!env.socket.exists());
}

/// Reads `/v1/events` for `secs` seconds with curl and parses each `data:` line.
fn stream_events(socket: &Path, secs: u32) -> Vec<EventRecord> {
    let output = Command::new(CURL)
        .args(["-sSN", "--max-time", &secs.to_string(), "--unix-socket"])
        .arg(socket)
        .arg("http://keeperd/v1/events")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(28), "the stream stays open until curl's --max-time");
    parse_sse(&String::from_utf8(output.stdout).unwrap())
}

fn parse_sse(text: &str) -> Vec<EventRecord> {
    let mut records = Vec::new();
    let mut id = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("id: ") {
            id = Some(value.parse::<u64>().unwrap());
        } else if let Some(data) = line.strip_prefix("data: ") {
            let record: EventRecord = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
            assert_eq!(Some(record.id), id, "the SSE id is the record's");
            records.push(record);
        }
    }
    records
}

/// One example of docs/api.md: what the marker before it expects, and the command.
struct Example {
    expect: String,
    command: String,
}

fn doc_examples(doc: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut expect: Option<String> = None;
    let mut in_sh = false;
    let mut curl_lines = 0;
    for line in doc.lines() {
        if let Some(rest) = line.strip_prefix("<!-- expect: ") {
            expect = Some(rest.trim_end_matches("-->").trim().to_owned());
        } else if line.trim() == "```sh" {
            in_sh = true;
        } else if line.trim() == "```" {
            in_sh = false;
        } else if in_sh && line.trim_start().starts_with("curl ") {
            curl_lines += 1;
            let expect =
                expect.take().unwrap_or_else(|| panic!("docs/api.md: no `<!-- expect: ... -->` before {line}"));
            examples.push(Example { expect, command: line.trim().to_owned() });
        }
    }
    assert_eq!(curl_lines, examples.len());
    examples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_curl_example_in_the_docs_runs_and_parses() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md")).unwrap();
    let examples = doc_examples(&doc);
    for path in [
        keeper_shared::api::STATUS_PATH,
        keeper_shared::api::JOBS_PATH,
        keeper_shared::api::TASKS_PATH,
        keeper_shared::api::RECENT_EVENTS_PATH,
        keeper_shared::api::EVENTS_PATH,
    ] {
        assert!(examples.iter().any(|e| e.command.contains(&format!("keeperd{path}"))), "no example of {path}");
    }

    let env = env().await;
    let mut daemon = Daemon::start(&env, &env.dir.path().join("data"), "keeperd.log");
    wait_ready(&mut daemon, &env.socket).await;
    for example in &examples {
        let rest = example.command.strip_prefix("curl ").unwrap();
        if example.expect == "event_stream" {
            let command = format!("curl -sS --max-time 3 {rest}");
            let output = shell(&command, &env.socket);
            assert_eq!(output.status.code(), Some(28), "{command}");
            let records = parse_sse(&String::from_utf8(output.stdout).unwrap());
            assert!(!records.is_empty(), "{command}: no events");
            continue;
        }
        let command = format!("curl -sS --max-time 15 -w '\\n%{{http_code}}' {rest}");
        let output = shell(&command, &env.socket);
        assert!(output.status.success(), "{command}: {}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8(output.stdout).unwrap();
        let (body, status) = text.rsplit_once('\n').unwrap();
        let status: u16 = status.parse().unwrap();
        let parsed = match example.expect.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["status"] => serde_json::from_str::<StatusResponse>(body).map(drop),
            ["job_list"] => serde_json::from_str::<JobList>(body).map(drop),
            ["job"] => serde_json::from_str::<JobView>(body).map(drop),
            ["task_list"] => serde_json::from_str::<TaskList>(body).map(drop),
            ["task"] => serde_json::from_str::<TaskDetail>(body).map(drop),
            ["recent_events"] => serde_json::from_str::<RecentEvents>(body).map(drop),
            ["error", want_status, want_code] => {
                let error: ApiError = serde_json::from_str(body).unwrap_or_else(|e| panic!("{command}: {e}: {body}"));
                assert_eq!(status.to_string(), *want_status, "{command}: {body}");
                assert_eq!(error.code.as_str(), *want_code, "{command}: {body}");
                continue;
            }
            other => panic!("docs/api.md: unknown expectation {other:?}"),
        };
        assert_eq!(status, 200, "{command}: {body}");
        parsed.unwrap_or_else(|e| panic!("{command}: {e}: {body}"));
    }
}

fn shell(command: &str, socket: &Path) -> std::process::Output {
    Command::new("sh").arg("-c").arg(command).env("KEEPERD_SOCKET", socket).output().unwrap()
}
