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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeper_devnet::pipeline::{create_sample_jobs, free_port, write_operator_files};
use keeper_devnet::{deploy_network, onboard_devnet_operator, NetworkConfig};
use keeper_shared::api::FULL_MAGNITUDE;
use keeper_shared::bls::SecretKey;

/// How long the pipeline gets to start and perform its first tasks (a block a second).
const DEADLINE: Duration = Duration::from_secs(180);

/// The daemon, killed when dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The address from the log line `metrics: serving Prometheus metrics on http://<addr>/metrics`.
    fn metrics_address(&self) -> Option<SocketAddr> {
        let text = self.log_text();
        let (_, rest) = text.split_once("serving Prometheus metrics on http://")?;
        rest.split_once("/metrics")?.0.parse().ok()
    }

    fn fail(&self, why: &str) -> ! {
        let text = self.log_text();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        panic!("{why}\n--- daemon log (last 40 lines, newest first) ---\n{}", tail.join("\n"));
    }
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

fn spawn(config: &Path) -> Daemon {
    let log = config.parent().unwrap().join("keeperd.log");
    let child = Command::new(env!("CARGO_BIN_EXE_keeperd"))
        .arg("run")
        .arg("--config")
        .arg(config)
        .arg("--metrics-listen")
        .arg("127.0.0.1:0")
        .env("RUST_LOG", "warn,keeperd=info")
        .env("NO_COLOR", "1")
        .env_remove("KEEPER_KEYSTORE_PASSWORD")
        .env_remove("KEEPERD_METRICS_LISTEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Daemon { child, log }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_when_the_pipeline_performs_tasks() {
    let anvil = common::anvil();
    let owner_signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let owner = owner_signer.address();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(owner_signer)).connect_http(anvil.endpoint_url());
    let deployment = deploy_network(&provider, &NetworkConfig::devnet(owner)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployment_file = dir.path().join("deployment.json");
    deployment.write(&deployment_file).unwrap();

    let signer = PrivateKeySigner::from(anvil.keys()[1].clone());
    let operator = signer.address();
    let operator_provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer.clone())).connect_http(anvil.endpoint_url());
    let key = SecretKey::random(&mut rand::thread_rng());
    let stake = U256::from(1u64) * U256::from(FULL_MAGNITUDE);
    onboard_devnet_operator(&provider, &operator_provider, operator, &deployment, &key, stake).await.unwrap();
    let config = write_operator_files(
        &dir.path().join("operator-0"),
        &signer,
        &key,
        anvil.endpoint_url().as_str(),
        &deployment_file,
        &["keeper", "aggregator", "challenger"],
        &format!("127.0.0.1:{}", free_port().unwrap()),
    )
    .unwrap();

    let samples = create_sample_jobs(&provider, &deployment, owner, 2).await.unwrap();
    provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,)).await.unwrap();
    let mut daemon = spawn(&config);

    let started = Instant::now();
    let address = loop {
        if let Some(address) = daemon.metrics_address() {
            break address;
        }
        if let Ok(Some(status)) = daemon.child.try_wait() {
            daemon.fail(&format!("keeperd exited ({status}) before serving metrics"));
        }
        if started.elapsed() > DEADLINE {
            daemon.fail("keeperd never logged its metrics address");
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
        if let Ok(Some(status)) = daemon.child.try_wait() {
            daemon.fail(&format!("keeperd exited ({status}) before performing a task"));
        }
        if started.elapsed() > DEADLINE {
            daemon.fail(&format!("no task performed within {DEADLINE:?}; last scrape:\n{body}"));
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
