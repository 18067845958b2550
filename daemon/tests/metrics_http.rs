//! keeperd's Prometheus endpoint on a real pipeline: anvil with EigenLayer and the AVS, one operator
//! holding all the stake running the real `keeperd run` (keeper, aggregator and challenger) with
//! `--metrics-listen 127.0.0.1:0`, the devnet's sample jobs, and `GET /metrics` scraped over TCP
//! until a task is performed. The bound port is found in the daemon's log, as an operator would.
//!
//! Checks the exposition format, that counters moved (tasks performed, RPC requests, batches
//! proposed, signed, accepted), that the gauges of state follow the chain (head, jobs, operator
//! registration), and that other paths are 404. No timing is asserted: the deadline only bounds
//! how long the test waits for the pipeline.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::providers::Provider;
use keeper_devnet::operators::{DeployedDevnet, DevnetOperators, OperatorPlan};
use keeper_devnet::pipeline::create_sample_jobs;
use keeper_devnet::Daemon;

/// How long the pipeline gets to start and perform its first tasks (a block a second).
const DEADLINE: Duration = Duration::from_secs(180);

/// The address from the daemon's log line `metrics: serving Prometheus metrics on http://<addr>/metrics`.
fn metrics_address(daemon: &Daemon) -> Option<SocketAddr> {
    let text = daemon.log_text();
    let (_, rest) = text.split_once("serving Prometheus metrics on http://")?;
    rest.split_once("/metrics")?.0.parse().ok()
}

fn fail(daemon: &Daemon, why: &str) -> ! {
    panic!("{why}\n--- daemon log (last 40 lines) ---\n{}", daemon.log_tail(40));
}

/// One HTTP/1.1 GET: (status line, headers, body).
fn get(address: SocketAddr, path: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_owned(), headers.to_ascii_lowercase(), body.to_owned())
}

/// Every sample of an exposition, by series (`name{labels}`); panics on a malformed line.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("malformed sample line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("malformed value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("keeper_"), "{line}");
        assert!(samples.insert(series.to_owned(), value).is_none(), "{series} twice");
    }
    samples
}

/// The sum of every series of metric `name` (all label sets).
fn total(samples: &BTreeMap<String, f64>, name: &str) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| series.as_str() == name || series.starts_with(&format!("{name}{{")))
        .map(|(_, v)| v)
        .sum()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples.get(series).unwrap_or_else(|| panic!("no series {series}"))
}

/// `keeperd run --config <config>` with its metrics on a port the OS picks.
fn spawn(config: &Path) -> Daemon {
    Daemon::builder(Path::new(env!("CARGO_BIN_EXE_keeperd")))
        .config(config)
        .args(["--metrics-listen", "127.0.0.1:0"])
        .env_remove("KEEPERD_METRICS_LISTEN")
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_when_the_pipeline_performs_tasks() {
    let anvil = common::anvil();
    let dir = tempfile::tempdir().unwrap();
    let devnet = DeployedDevnet::deploy(&anvil, dir.path()).await.unwrap();
    let operators = DevnetOperators::onboard(&anvil, &devnet, &OperatorPlan::http(1), |_| Ok(())).await.unwrap();
    let DeployedDevnet { owner, provider, deployment, .. } = devnet;
    let config = &operators.operators[0].config;

    let samples = create_sample_jobs(&provider, &deployment, owner, 2).await.unwrap();
    provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,)).await.unwrap();
    let mut daemon = spawn(config);

    let started = Instant::now();
    let address = loop {
        if let Some(address) = metrics_address(&daemon) {
            break address;
        }
        if let Some(status) = daemon.exited() {
            fail(&daemon, &format!("keeperd exited ({status}) before serving metrics"));
        }
        if started.elapsed() > DEADLINE {
            fail(&daemon, "keeperd never logged its metrics address");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(address.ip().is_loopback() && address.port() != 0, "{address}");

    // Scrape until a task was performed (every scrape must parse).
    let samples_now = loop {
        let (status, headers, body) = get(address, "/metrics");
        assert!(status.contains(" 200 "), "{status}");
        assert!(headers.contains("content-type: text/plain; version=0.0.4"), "{headers}");
        let parsed = parse(&body);
        if value(&parsed, r#"keeper_task_outcomes_total{outcome="performed"}"#) > 0.0
            && value(&parsed, r#"keeper_batch_submissions_total{result="accepted"}"#) > 0.0
        {
            break parsed;
        }
        if let Some(status) = daemon.exited() {
            fail(&daemon, &format!("keeperd exited ({status}) before performing a task"));
        }
        if started.elapsed() > DEADLINE {
            fail(&daemon, &format!("no task performed within {DEADLINE:?}; last scrape:\n{body}"));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let s = &samples_now;

    let version = keeper_shared::version::long();
    assert_eq!(value(s, &format!("keeper_build_info{{version=\"{version}\"}}")), 1.0);
    for role in ["scheduler", "keeper", "aggregator", "challenger"] {
        assert_eq!(value(s, &format!("keeper_role_enabled{{role=\"{role}\"}}")), 1.0, "{role}");
    }
    let head = provider.get_block_number().await.unwrap() as f64;
    assert!(value(s, "keeper_chain_head_block") > 0.0 && value(s, "keeper_chain_head_block") <= head);
    assert!(value(s, "keeper_chain_processed_block") > 0.0);
    assert!(value(s, "keeper_chain_processed_block") <= value(s, "keeper_chain_head_block"));
    assert!(total(s, "keeper_rpc_requests_total") > 0.0);
    assert!(value(s, r#"keeper_rpc_requests_total{endpoint="0",method="eth_blockNumber"}"#) > 0.0);
    assert!(value(s, r#"keeper_rpc_request_duration_seconds_count{method="eth_blockNumber"}"#) > 0.0);
    assert_eq!(value(s, r#"keeper_rpc_endpoint_healthy{endpoint="0"}"#), 1.0);

    assert_eq!(value(s, r#"keeper_jobs{state="active"}"#), samples.jobs.len() as f64);
    assert_eq!(value(s, "keeper_jobs_escrow_low"), 0.0, "every sample job holds 1 ether, 100 tasks at max fee");
    assert!(value(s, r#"keeper_tasks{state="performed"}"#) > 0.0);
    assert!(value(s, "keeper_task_latency_seconds_count") + value(s, "keeper_task_latency_blocks_count") > 0.0);

    assert!(value(s, "keeper_batches_proposed_total") > 0.0);
    assert!(value(s, "keeper_tasks_proposed_total") >= value(s, "keeper_batches_proposed_total"));
    assert!(value(s, "keeper_batches_signed_total") > 0.0);
    assert!(value(s, r#"keeper_signatures_received_total{result="added"}"#) > 0.0);
    assert_eq!(value(s, r#"keeper_signatures_received_total{result="invalid"}"#), 0.0);
    assert!(value(s, "keeper_quorum_duration_seconds_count") > 0.0);
    assert!(value(s, r#"keeper_batch_submissions_total{result="sent"}"#) > 0.0);
    assert!(value(s, "keeper_batch_gas_used_sum") > 0.0);
    assert!(value(s, "keeper_batch_tasks_sum") > 0.0);
    assert_eq!(value(s, "keeper_slashing_protection_refusals_total"), 0.0);
    assert_eq!(value(s, "keeper_database_errors_total"), 0.0);

    assert_eq!(value(s, "keeper_operator_registered"), 1.0);
    assert!(value(s, "keeper_operator_weight") > 0.0);
    assert_eq!(value(s, "keeper_operator_weight"), value(s, "keeper_operator_total_weight"));

    // Counters only grow: a later scrape sees at least as much.
    let (_, _, later) = get(address, "/metrics");
    let later = parse(&later);
    for name in ["keeper_rpc_requests_total", "keeper_task_outcomes_total", "keeper_batches_proposed_total"] {
        assert!(total(&later, name) >= total(s, name), "{name}");
    }

    let (status, _, body) = get(address, "/other");
    assert!(status.contains(" 404 "), "{status}");
    assert!(body.contains("/metrics"), "{body}");
}
