//! The control API against a real `keeperd run` (scheduler role) on anvil with a deployed network
//! and two jobs: every endpoint, malformed requests, the socket's modes, a second daemon on the same
//! socket, a stale socket after `kill -9`, and every `curl` example of `docs/api.md`, run with the
//! real curl and parsed into `keeper_shared::api`'s types.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeper_devnet::anvil::BlockMiner;
use keeper_devnet::operators::DeployedDevnet;
use keeper_devnet::Daemon;
use keeper_shared::api::{
    ApiError, ErrorCode, Event, EventRecord, JobList, JobStatus, JobView, RecentEvents, StatusResponse, TaskDetail,
    TaskList, TaskState,
};
use keeper_shared::contracts::JobManager;
use keeperd::jobs::{Action, JobSpec, Trigger};

const CURL: &str = "/usr/bin/curl";

/// `keeperd run` (the scheduler role, no operator) on the test's socket and a data dir, its stderr in
/// `<dir>/<log_name>`; the harness's guard SIGKILLs it on drop.
fn start_daemon(env: &Env, data_dir: &Path, log_name: &str) -> Daemon {
    Daemon::builder(Path::new(env!("CARGO_BIN_EXE_keeperd")))
        .args(["--roles", "scheduler", "--rpc-url", &env.rpc_url])
        .arg("--deployment")
        .arg(env.dir.path().join("deployment.json"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--api-socket")
        .arg(&env.socket)
        .log(&env.dir.path().join(log_name))
        .spawn()
        .unwrap()
}

/// `keeperd run --config <config>` (the operator's keys, the scheduler role) on the test's socket.
fn start_with_operator(env: &Env, config: &Path, log_name: &str) -> Daemon {
    Daemon::builder(Path::new(env!("CARGO_BIN_EXE_keeperd")))
        .config(config)
        .arg("--api-socket")
        .arg(&env.socket)
        .log(&env.dir.path().join(log_name))
        .spawn()
        .unwrap()
}

fn terminate(daemon: &mut Daemon) -> std::process::ExitStatus {
    daemon.stop(Duration::from_secs(20)).expect("keeperd stops on SIGTERM")
}

/// Anvil with the network deployed and two jobs: 1 (interval, every 2 s, active) and 2 (every 5
/// blocks, paused); a background task mines a block every 300 ms so heads and tasks keep coming.
struct Env {
    // Declared first: it stops mining before anvil is killed.
    _miner: BlockMiner,
    _anvil: alloy::node_bindings::AnvilInstance,
    dir: tempfile::TempDir,
    rpc_url: String,
    socket: PathBuf,
    deployment: keeper_shared::deployment::Deployment,
    /// Anvil's key 1: the operator of a daemon started with [`start_with_operator`].
    operator: PrivateKeySigner,
}

async fn env() -> Env {
    let anvil = common::anvil();
    let dir = tempfile::tempdir().unwrap();
    let DeployedDevnet { provider, deployment, .. } = DeployedDevnet::deploy(&anvil, dir.path()).await.unwrap();

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

    let miner = BlockMiner::start(&anvil, Duration::from_millis(300));
    let socket = dir.path().join("run/keeperd.sock");
    let operator = PrivateKeySigner::from(anvil.keys()[1].clone());
    Env { _miner: miner, rpc_url: anvil.endpoint(), _anvil: anvil, dir, socket, deployment, operator }
}

/// Keystores and a config for the operator (anvil's key 1, with a fresh BLS key) that owns the
/// jobs the writes create; it holds `stake` tokens deposited in the keeper strategy (a staker's
/// doing, before the daemon starts, so the daemon's nonces are its own).
async fn operator_config(env: &Env, stake: U256) -> PathBuf {
    let key = keeper_shared::bls::SecretKey::random(&mut rand::thread_rng());
    let config = keeper_devnet::pipeline::write_operator_files(
        &env.dir.path().join("operator"),
        &env.operator,
        &key,
        &env.rpc_url,
        &env.dir.path().join("deployment.json"),
        &["scheduler"],
        "127.0.0.1:1",
    )
    .unwrap();
    let url: reqwest::Url = env.rpc_url.parse().unwrap();
    let owner = ProviderBuilder::new()
        .wallet(EthereumWallet::from(PrivateKeySigner::from(env._anvil.keys()[0].clone())))
        .connect_http(url.clone());
    let operator = ProviderBuilder::new().wallet(EthereumWallet::from(env.operator.clone())).connect_http(url);
    let token = env.deployment.stake_token.unwrap();
    if stake.is_zero() {
        return config; // an operator without stake
    }
    let token_contract = keeper_shared::contracts::StakeToken::new(token, &owner);
    let mint = token_contract.mint(env.operator.address(), stake);
    assert!(mint.send().await.unwrap().get_receipt().await.unwrap().status());
    keeperd::eigenlayer::onboarding::deposit(
        &operator,
        &env.deployment,
        env.deployment.avs.strategies[0],
        token,
        stake,
    )
    .await
    .unwrap();
    config
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
        assert!(daemon.exited().is_none(), "keeperd exited: {}", daemon.log_text());
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
        assert!(Instant::now() < deadline, "keeperd not ready in time: {}", daemon.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_and_malformed_requests_get_their_codes() {
    let env = env().await;
    let data = env.dir.path().join("data");
    let mut daemon = start_daemon(&env, &data, "keeperd.log");
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
    // A scheduler alone performs nothing: job 1's latest sequence is due, and each earlier one was
    // missed when the next came due (no task stays due for good).
    let count = |state| status.health.database.task_counts.iter().find(|c| c.state == state).map_or(0, |c| c.count);
    assert_eq!(count(TaskState::Due), 1, "{:?}", status.health.database.task_counts);
    assert!(count(TaskState::Missed) >= 1, "{:?}", status.health.database.task_counts);

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
    assert!(matches!(job.spec.trigger, Trigger::Interval { period: 2, .. }));
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
        (vec!["http://keeperd/v1/tasks/1/+0"], 400, ErrorCode::InvalidValue, Some("sequence")),
        (vec!["http://keeperd/v1/jobs/+1"], 400, ErrorCode::InvalidValue, Some("id")),
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
    let mut second = start_daemon(&env, &env.dir.path().join("data-2"), "keeperd-2.log");
    let exit = second.wait_exit(Duration::from_secs(20)).expect("the second daemon exits");
    assert!(!exit.success());
    assert!(second.log_text().contains("another keeperd is already serving on it"), "{}", second.log_text());
    let _: StatusResponse = get(socket, "/v1/status");

    // kill -9 leaves the socket file behind; the next start removes it and serves.
    daemon.kill9();
    assert!(env.socket.exists(), "a killed daemon cannot remove its socket");
    let mut restarted = start_daemon(&env, &data, "keeperd-3.log");
    wait_ready(&mut restarted, socket).await;
    assert!(restarted.log_text().contains("removing a stale socket"), "{}", restarted.log_text());
    let _: StatusResponse = get(socket, "/v1/status");
    // SIGTERM: a clean stop removes the socket.
    assert!(terminate(&mut restarted).success(), "{}", restarted.log_text());
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
        keeper_shared::api::OPERATORS_PATH,
        keeper_shared::api::OPERATOR_REGISTER_PATH,
        keeper_shared::api::OPERATOR_DEREGISTER_PATH,
        "/v1/jobs/3/pause",
        "/v1/jobs/3/resume",
        "/v1/jobs/3/cancel",
        "/v1/jobs/3/topup",
    ] {
        assert!(examples.iter().any(|e| e.command.contains(&format!("keeperd{path}"))), "no example of {path}");
    }
    for method in ["-X POST", "-X PUT"] {
        assert!(examples.iter().any(|e| e.command.contains(method)), "no {method} example");
    }

    // The writes need an operator key: the examples run against a daemon with one.
    let env = env().await;
    let config = operator_config(&env, U256::from(10u64).pow(U256::from(20u64))).await;
    let mut daemon = start_with_operator(&env, &config, "keeperd.log");
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
        let command = format!("curl -sS --max-time 80 -w '\\n%{{http_code}}' {rest}");
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
            ["operators"] => serde_json::from_str::<keeper_shared::api::OperatorList>(body).map(drop),
            ["create_job"] => serde_json::from_str::<keeper_shared::api::CreateJobResponse>(body).map(drop),
            ["job_write"] => serde_json::from_str::<keeper_shared::api::JobWriteResponse>(body).map(drop),
            ["operator_write"] => serde_json::from_str::<keeper_shared::api::OperatorWriteResponse>(body).map(drop),
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

/// `curl -X <method>` with a JSON body on the socket: (HTTP status, body).
fn send_json(socket: &Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let url = format!("http://keeperd{path}");
    curl(
        socket,
        &["-X", method, "-H", "Content-Type: application/json", "--data-binary", body, "--max-time", "80", &url],
    )
}

fn write<T: serde::de::DeserializeOwned>(socket: &Path, method: &str, path: &str, body: &str) -> T {
    let (status, text) = send_json(socket, method, path, body);
    assert_eq!(status, 200, "{method} {path} {body}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
}

fn write_error(socket: &Path, method: &str, path: &str, body: &str) -> (u16, ApiError) {
    let (status, text) = send_json(socket, method, path, body);
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}")))
}

/// Polls `GET path` until `done` holds for the answer (the scheduler indexes a write's log a block later).
async fn eventually<T: serde::de::DeserializeOwned>(socket: &Path, path: &str, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = curl(socket, &[&format!("http://keeperd{path}")]);
        if status == 200 {
            let value: T = serde_json::from_str(&body).unwrap();
            if done(&value) {
                return value;
            }
        }
        assert!(Instant::now() < deadline, "GET {path} never matched: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn spec_json(target: Address, gas_limit: u32) -> String {
    format!(
        r#"{{"trigger":{{"kind":"interval","start_secs":1,"period_secs":3600}},"action":{{"kind":"call","target":"{target}","data":"0xd09de08a"}},"gas_limit":{gas_limit},"max_fee_wei":"10000000000000000","expiry_secs":null}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_reach_the_chain_and_the_read_api_and_bad_ones_get_their_codes() {
    use keeper_shared::api::{CreateJobResponse, JobWriteResponse, OperatorList, OperatorStep, OperatorWriteResponse};
    let env = env().await;
    let ether = U256::from(10u64).pow(U256::from(18u64));
    // No stake yet: the daemon deposits it below (`POST /v1/operator/deposit`).
    let config = operator_config(&env, U256::ZERO).await;
    let mut daemon = start_with_operator(&env, &config, "keeperd-operator.log");
    wait_ready(&mut daemon, &env.socket).await;
    let socket = env.socket.as_path();
    let me = env.operator.address();
    let provider = ProviderBuilder::new().connect_http(env.rpc_url.parse().unwrap());
    let manager = JobManager::new(env.deployment.avs.job_manager, &provider);
    let target = Address::repeat_byte(0x22);

    // Create: the id comes from the JobCreated log; the job is the operator's, funded, and indexed.
    let created: CreateJobResponse = write(
        socket,
        "POST",
        "/v1/jobs",
        &format!(r#"{{"spec":{},"funding_wei":"{ether}"}}"#, spec_json(target, 100_000)),
    );
    assert_eq!(created.job_id, U256::from(3u64));
    assert!(created.tx.block_number > 0);
    let id = created.job_id;
    assert_eq!(manager.jobOwner(id).call().await.unwrap(), me);
    assert_eq!(manager.forwarderOf(id).call().await.unwrap(), created.forwarder);
    assert_eq!(U256::from(manager.jobState(id).call().await.unwrap().balance), ether);
    let job: JobView = eventually(socket, "/v1/jobs/3", |j: &JobView| j.owner == me).await;
    assert_eq!((job.status, job.balance_wei, job.spec.gas_limit), (JobStatus::Active, ether, 100_000));

    // Update (same trigger, new gas limit), pause, resume, top up: each on chain and in the read API.
    let updated: JobWriteResponse =
        write(socket, "PUT", "/v1/jobs/3", &format!(r#"{{"spec":{}}}"#, spec_json(target, 200_000)));
    assert!(updated.tx.block_number > created.tx.block_number);
    eventually(socket, "/v1/jobs/3", |j: &JobView| j.spec.gas_limit == 200_000).await;
    let _: JobWriteResponse = write(socket, "POST", "/v1/jobs/3/pause", "");
    assert_eq!(manager.jobState(id).call().await.unwrap().status, 2, "Paused on chain");
    eventually(socket, "/v1/jobs/3", |j: &JobView| j.status == JobStatus::Paused).await;
    // Pausing twice: the job manager's own refusal, by name, before anything is sent.
    let (status, error) = write_error(socket, "POST", "/v1/jobs/3/pause", "{}");
    assert_eq!((status, error.code, error.revert.as_deref()), (409, ErrorCode::Reverted, Some("InvalidJobStatus")));
    let _: JobWriteResponse = write(socket, "POST", "/v1/jobs/3/resume", "{}");
    eventually(socket, "/v1/jobs/3", |j: &JobView| j.status == JobStatus::Active).await;
    let _: JobWriteResponse = write(socket, "POST", "/v1/jobs/3/topup", r#"{"amount_wei":"500"}"#);
    eventually(socket, "/v1/jobs/3", |j: &JobView| j.balance_wei == ether + U256::from(500u64)).await;
    // Anyone may top up any job: job 1 is the deployer's.
    let _: JobWriteResponse = write(socket, "POST", "/v1/jobs/1/topup", r#"{"amount_wei":"7"}"#);

    // Events of the writes on the feed.
    let recent: RecentEvents = get(socket, "/v1/events/recent?limit=1000");
    let changes: Vec<_> = recent
        .events
        .iter()
        .filter_map(|r| match &r.event {
            Event::Job { job_id, change, .. } if *job_id == id => Some(*change),
            _ => None,
        })
        .collect();
    use keeper_shared::api::JobChange;
    for change in [JobChange::Created, JobChange::Updated, JobChange::Paused, JobChange::Resumed, JobChange::ToppedUp] {
        assert!(changes.contains(&change), "{change}: {changes:?}");
    }
    assert!(recent.events.iter().any(|r| matches!(r.event, Event::TaskState { .. })), "task state events");

    // Bad requests: each with its code and field, nothing sent.
    let nonce_before = provider.get_transaction_count(me).await.unwrap();
    let bad_spec = |edit: &str, to: &str| {
        format!(r#"{{"spec":{},"funding_wei":"0"}}"#, spec_json(target, 100_000).replace(edit, to))
    };
    /// (method, path, body, status, code, field)
    type WriteCase<'a> = (&'a str, String, String, u16, ErrorCode, Option<&'a str>);
    let cases: Vec<WriteCase<'_>> = vec![
        (
            "POST",
            "/v1/jobs".into(),
            bad_spec("\"period_secs\":3600", "\"period_secs\":0"),
            400,
            ErrorCode::InvalidValue,
            Some("spec.trigger.period_secs"),
        ),
        (
            "POST",
            "/v1/jobs".into(),
            bad_spec("\"gas_limit\":100000", "\"gas_limit\":5"),
            400,
            ErrorCode::InvalidValue,
            Some("spec.gas_limit"),
        ),
        (
            "POST",
            "/v1/jobs".into(),
            bad_spec("\"expiry_secs\":null", "\"expiry_secs\":2"),
            400,
            ErrorCode::InvalidValue,
            Some("spec.expiry_secs"),
        ),
        (
            "POST",
            "/v1/jobs".into(),
            bad_spec(&target.to_string(), &env.deployment.avs.job_manager.to_string()),
            400,
            ErrorCode::InvalidValue,
            Some("spec.action.target"),
        ),
        ("POST", "/v1/jobs".into(), bad_spec("\"gas_limit\"", "\"gas_limt\""), 400, ErrorCode::BadJson, Some("spec")),
        (
            "POST",
            "/v1/jobs".into(),
            bad_spec("\"expiry_secs\":null", "\"expiry\":5"),
            400,
            ErrorCode::BadJson,
            Some("spec.expiry"),
        ),
        ("POST", "/v1/jobs".into(), "{not json".into(), 400, ErrorCode::BadJson, None),
        ("POST", "/v1/jobs".into(), "[]".into(), 400, ErrorCode::BadJson, None),
        ("POST", "/v1/jobs/3/pause".into(), "[]".into(), 400, ErrorCode::BadJson, None),
        (
            "POST",
            "/v1/jobs".into(),
            bad_spec("\"data\":\"0xd09de08a\"", "\"data\":\"\""),
            400,
            ErrorCode::BadJson,
            Some("spec.action.data"),
        ),
        (
            "POST",
            "/v1/jobs".into(),
            bad_spec("\"data\":\"0xd09de08a\"", "\"data\":\"0xzz\""),
            400,
            ErrorCode::BadJson,
            Some("spec.action.data"),
        ),
        (
            "PUT",
            "/v1/jobs/3".into(),
            format!(r#"{{"spec":{}}}"#, spec_json(target, 100_000).replace("3600", "60")),
            400,
            ErrorCode::InvalidValue,
            Some("spec.trigger"),
        ),
        (
            "POST",
            "/v1/jobs/3/topup".into(),
            r#"{"amount_wei":"0"}"#.into(),
            400,
            ErrorCode::InvalidValue,
            Some("amount_wei"),
        ),
        ("POST", "/v1/jobs/3/pause".into(), r#"{"now":true}"#.into(), 400, ErrorCode::BadJson, Some("now")),
        ("POST", "/v1/jobs/1/pause".into(), String::new(), 403, ErrorCode::NotJobOwner, Some("id")),
        ("POST", "/v1/jobs/99/cancel".into(), String::new(), 404, ErrorCode::JobNotFound, Some("id")),
        ("POST", "/v1/jobs/x/cancel".into(), String::new(), 400, ErrorCode::InvalidValue, Some("id")),
        (
            "POST",
            "/v1/operator/register".into(),
            r#"{"magnitude":0}"#.into(),
            400,
            ErrorCode::InvalidValue,
            Some("magnitude"),
        ),
        ("DELETE", "/v1/jobs/3".into(), String::new(), 405, ErrorCode::MethodNotAllowed, None),
    ];
    for (method, path, body, want_status, want_code, want_field) in cases {
        let (status, error) = write_error(socket, method, &path, &body);
        assert_eq!(
            (status, error.code, error.field.as_deref()),
            (want_status, want_code, want_field),
            "{method} {path} {body}: {error}"
        );
        assert!(want_field.is_none_or(|f| error.message.starts_with(f)), "{}", error.message);
    }
    assert_eq!(provider.get_transaction_count(me).await.unwrap(), nonce_before, "no bad request sent a transaction");

    // Cancel: refunded, cancelled on chain and in the read API.
    let _: JobWriteResponse = write(socket, "POST", "/v1/jobs/3/cancel", "");
    assert_eq!(manager.jobState(id).call().await.unwrap().status, 3, "Cancelled on chain");
    eventually(socket, "/v1/jobs/3", |j: &JobView| j.status == JobStatus::Cancelled).await;

    // Registration without stake is refused before anything is sent; then the daemon deposits tokens
    // the operator holds (approve + depositIntoStrategy; not in the set yet, so no weight refresh).
    let nonce = provider.get_transaction_count(me).await.unwrap();
    let (status, error) = write_error(socket, "POST", "/v1/operator/register", "{}");
    assert_eq!((status, error.code, error.field.as_deref()), (400, ErrorCode::InvalidValue, Some("stake")), "{error}");
    assert_eq!(provider.get_transaction_count(me).await.unwrap(), nonce, "nothing sent");
    let owner = ProviderBuilder::new()
        .wallet(EthereumWallet::from(PrivateKeySigner::from(env._anvil.keys()[0].clone())))
        .connect_http(env.rpc_url.parse().unwrap());
    let stake_token = keeper_shared::contracts::StakeToken::new(env.deployment.stake_token.unwrap(), &owner);
    let minted = stake_token.mint(me, ether * U256::from(100u64)).send().await.unwrap().get_receipt().await.unwrap();
    assert!(minted.status());
    let deposited: OperatorWriteResponse = write(socket, "POST", "/v1/operator/deposit", r#"{"amount":"100"}"#);
    let steps: Vec<_> = deposited.steps.iter().map(|s| (s.step, s.tx.is_some())).collect();
    assert_eq!(
        steps,
        [(OperatorStep::ApproveStake, true), (OperatorStep::Deposit, true), (OperatorStep::UpdateWeight, false)]
    );

    // Operator registration: EigenLayer registration first; the rest once the allocation delay is in effect.
    let first: OperatorWriteResponse =
        write(socket, "POST", "/v1/operator/register", r#"{"metadata_uri":"https://op.invalid/m.json"}"#);
    assert_eq!(first.steps[0].step, OperatorStep::RegisterAsOperator);
    let registered_at = first.steps[0].tx.as_ref().unwrap().block_number;
    if !first.complete {
        // The devnet's ALLOCATION_CONFIGURATION_DELAY is 1 block: the delay applies 2 blocks later.
        assert_eq!(first.retry_at_block, Some(registered_at + 2), "{first:?}");
    }
    let registry = keeper_shared::contracts::BlsKeyRegistry::new(env.deployment.avs.key_registry, &provider);
    // The chain mines on its own: the delay may already apply when the first call reads it.
    let completed_at_once = first.complete;
    let mut response = first;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !response.complete {
        assert!(Instant::now() < deadline, "registration never completed: {response:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, text) = send_json(socket, "POST", "/v1/operator/register", "{}");
        assert_eq!(status, 200, "{text}\n{}", daemon.log_text());
        response = serde_json::from_str(&text).unwrap();
    }
    if !completed_at_once {
        assert_eq!(response.steps[0].skipped.as_deref(), Some("already an EigenLayer operator"));
    }
    assert!(
        response.steps.iter().any(|s| s.step == OperatorStep::RegisterForKeeperSet && s.tx.is_some()),
        "{response:?}"
    );
    assert!(registry.isRegistered(me).call().await.unwrap());
    let operators: OperatorList = get(socket, "/v1/operators");
    let mine = operators.operators.iter().find(|o| o.address == me).expect("the local operator is listed");
    assert!(mine.local && mine.registered && mine.stake > U256::ZERO && mine.bls_pubkey.is_some(), "{mine:?}");
    let again: OperatorWriteResponse = write(socket, "POST", "/v1/operator/register", "");
    assert!(again.complete && again.steps.iter().all(|s| s.tx.is_none()), "nothing left to do: {again:?}");

    let out: OperatorWriteResponse = write(socket, "POST", "/v1/operator/deregister", "");
    assert!(out.steps.iter().all(|s| s.tx.is_some()), "{out:?}");
    assert!(!registry.isRegistered(me).call().await.unwrap());
    let operators: OperatorList = get(socket, "/v1/operators");
    assert!(!operators.operators.iter().find(|o| o.address == me).unwrap().registered);

    // The time filter: every task so far was created before now, none after.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let before: TaskList = get(socket, &format!("/v1/tasks?to={}", now + 1));
    assert!(!before.tasks.is_empty());
    let after: TaskList = get(socket, &format!("/v1/tasks?from={}", now + 3600));
    assert!(after.tasks.is_empty());
    let all: TaskList = get(socket, "/v1/tasks?from=0&limit=1000");
    assert!(all.tasks.len() >= before.tasks.len());

    // A client of another user is refused, reads and writes alike (the test runs as root: a child
    // as `nobody`, the socket opened to it for the test).
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        std::fs::set_permissions(socket.parent().unwrap(), std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        for args in [vec!["http://keeperd/v1/status"], vec!["-X", "POST", "http://keeperd/v1/jobs/3/pause"]] {
            let output = Command::new(CURL)
                .args(["-sS", "--max-time", "15", "--unix-socket"])
                .arg(socket)
                .args(&args)
                .uid(65534)
                .gid(65534)
                .output()
                .unwrap();
            let body = String::from_utf8(output.stdout).unwrap();
            let error: ApiError = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{args:?}: {e}: {body}"));
            assert_eq!(error.code, ErrorCode::PeerForbidden, "{args:?}: {body}");
        }
    }
    assert!(terminate(&mut daemon).success(), "{}", daemon.log_text());
}

/// Sends `request` on a fresh connection (write errors ignored: the server may answer and close
/// before reading it all) and reads until the server closes: (status, error body).
fn raw_error(socket: &Path, request: Vec<u8>) -> (u16, ApiError) {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let _ = sender.join();
    parse_raw(&bytes)
}

fn parse_raw(bytes: &[u8]) -> (u16, ApiError) {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let status = head.strip_prefix("HTTP/1.1 ").and_then(|s| s.get(..3)).and_then(|s| s.parse().ok());
    let status = status.unwrap_or_else(|| panic!("not an HTTP answer: {head}"));
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}")))
}

/// A connection that sent `request` and read the answer's head (`200` expected); kept open.
fn open_stream(socket: &Path) -> std::os::unix::net::UnixStream {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(b"GET /v1/events HTTP/1.1\r\nHost: keeperd\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the stream closed: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200 "), "{}", String::from_utf8_lossy(&head));
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_a_json_body_and_a_request_over_a_cap_is_refused_at_once() {
    let env = env().await;
    let mut daemon = start_daemon(&env, &env.dir.path().join("data"), "keeperd.log");
    wait_ready(&mut daemon, &env.socket).await;
    let socket = env.socket.as_path();

    // What hyper refuses before any route sees it.
    let long_uri = format!("GET /v1/{} HTTP/1.1\r\nHost: keeperd\r\n\r\n", "a".repeat(70_000));
    let huge_header = format!("GET /v1/status HTTP/1.1\r\nHost: keeperd\r\nX-Big: {}\r\n\r\n", "b".repeat(600_000));
    let cases: Vec<(&str, Vec<u8>, u16, ErrorCode)> = vec![
        ("bad request line", b"GARBAGE\r\n\r\n".to_vec(), 400, ErrorCode::BadRequest),
        ("bad version", b"GET /v1/status HTTP/7.1\r\nHost: k\r\n\r\n".to_vec(), 400, ErrorCode::BadRequest),
        ("bad header", b"GET /v1/status HTTP/1.1\r\nHo st: k\r\n\r\n".to_vec(), 400, ErrorCode::BadRequest),
        ("long URI", long_uri.into_bytes(), 414, ErrorCode::UriTooLong),
        ("huge header", huge_header.into_bytes(), 431, ErrorCode::HeadersTooLarge),
        ("partial headers", b"GET /v1/status HTTP/1.1\r\nHost: k".to_vec(), 408, ErrorCode::Timeout),
    ];
    for (what, request, want_status, want_code) in cases {
        let (status, error) = raw_error(socket, request);
        assert_eq!((status, error.code), (want_status, want_code), "{what}: {error}");
        assert_eq!(want_code.http_status(), want_status);
    }

    // Event streams have their own cap, below the connections': reads still get through.
    let streams: Vec<_> = (0..keeperd::api::MAX_EVENT_STREAMS).map(|_| open_stream(socket)).collect();
    let _: StatusResponse = get(socket, "/v1/status");
    let (status, error) = raw_error(socket, b"GET /v1/events HTTP/1.1\r\nHost: keeperd\r\n\r\n".to_vec());
    assert_eq!((status, error.code), (503, ErrorCode::Unavailable), "{error}");
    assert!(error.message.contains("event streams"), "{error}");

    // Every connection slot taken (streams plus clients that never finish their headers): the next
    // connection is answered 503 instead of waiting in the backlog.
    let max = keeperd::api::limits().max_connections;
    let slow: Vec<_> = (streams.len()..max)
        .map(|_| {
            use std::io::Write;
            let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
            stream.write_all(b"GET /v1/status HTTP/1.1\r\n").unwrap();
            stream
        })
        .collect();
    let (status, error) = raw_error(socket, b"GET /v1/status HTTP/1.1\r\nHost: keeperd\r\n\r\n".to_vec());
    assert_eq!((status, error.code), (503, ErrorCode::Unavailable), "{error}");
    // The slow ones get their 408; once they are gone, requests are served again.
    for mut stream in slow {
        use std::io::Read;
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        assert_eq!(parse_raw(&bytes).1.code, ErrorCode::Timeout);
    }
    drop(streams);
    let _: StatusResponse = get(socket, "/v1/status");
    tokio::time::sleep(Duration::from_secs(1)).await; // the server notices the closed streams at their next event
    assert!(!stream_events(socket, 2).is_empty(), "stream slots are given back when streams close");
    assert!(terminate(&mut daemon).success(), "{}", daemon.log_text());
}
