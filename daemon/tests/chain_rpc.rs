//! The RPC pool against real anvils: failover when an endpoint dies, health per endpoint, the
//! re-probe bringing it back, and reverts returned at once instead of retried.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::Duration;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{address, bytes, Address, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use keeperd::chain::{EndpointState, RpcError, RpcPool, RpcPoolConfig};
use tokio_util::sync::CancellationToken;

fn anvil_on(port: u16, chain_id: u64) -> AnvilInstance {
    Anvil::at(common::anvil_binary())
        .arg("--host")
        .arg("127.0.0.1")
        .args(["--max-persisted-states", "0"])
        .port(port)
        .chain_id(chain_id)
        .try_spawn()
        .expect("anvil starts")
}

fn free_port() -> u16 {
    keeper_devnet::pipeline::free_port().unwrap()
}

fn test_config(urls: Vec<alloy::transports::http::reqwest::Url>) -> RpcPoolConfig {
    RpcPoolConfig {
        request_timeout: Duration::from_secs(2),
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        down_after: 2,
        probe_interval: Duration::from_millis(100),
        ..RpcPoolConfig::new(urls)
    }
}

async fn chain_id(pool: &RpcPool) -> Result<u64, RpcError> {
    pool.run("eth_chainId", |p| async move { p.get_chain_id().await }).await
}

/// Waits (polling, bounded) until `state` holds for endpoint `index`.
async fn wait_for_state(pool: &RpcPool, index: usize, state: EndpointState) {
    for _ in 0..200 {
        if pool.health()[index].state == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("endpoint {index} never became {state}: {:?}", pool.health()[index]);
}

#[tokio::test]
async fn fails_over_when_the_primary_dies_and_returns_to_it_once_it_is_back() {
    let port = free_port();
    let primary = anvil_on(port, 1001);
    let backup = anvil_on(free_port(), 1002);
    let pool = RpcPool::new(test_config(vec![primary.endpoint_url(), backup.endpoint_url()])).unwrap();

    assert_eq!(chain_id(&pool).await.unwrap(), 1001, "the first endpoint is preferred");
    assert_eq!(pool.health()[1].requests_total, 0);

    drop(primary);
    for _ in 0..10 {
        assert_eq!(chain_id(&pool).await.unwrap(), 1002, "every call goes through the backup");
    }
    let health = pool.health();
    assert_ne!(health[0].state, EndpointState::Healthy, "{health:?}");
    assert!(health[0].last_error.is_some());
    assert_eq!(health[1].state, EndpointState::Healthy);

    let shutdown = CancellationToken::new();
    let prober = tokio::spawn(pool.prober(shutdown.clone()));
    wait_for_state(&pool, 0, EndpointState::Down).await;
    assert_eq!(chain_id(&pool).await.unwrap(), 1002);

    let _primary = anvil_on(port, 1001);
    wait_for_state(&pool, 0, EndpointState::Healthy).await;
    assert_eq!(pool.health()[0].consecutive_failures, 0);
    assert_eq!(chain_id(&pool).await.unwrap(), 1001, "traffic returns to the preferred endpoint");
    shutdown.cancel();
    prober.await.unwrap();
}

/// Log lines written while a guard from [`capture_logs`] is alive.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    fn lines_with(&self, needle: &str) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines().filter(|line| line.contains(needle)).map(str::to_owned).collect()
    }
}

/// An endpoint that dies and comes back: each state change is logged once at warn (with the URL
/// redacted) and counted by the metric, however many calls fail in between.
#[tokio::test]
async fn endpoint_state_changes_are_logged_once_and_counted() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let port = free_port();
    let primary = anvil_on(port, 1001);
    let backup = anvil_on(free_port(), 1002);
    let metrics = std::sync::Arc::new(keeperd::metrics::Metrics::new().unwrap());
    // A query stands for a provider's API key (anvil ignores it): it must not reach the log.
    let mut primary_url = primary.endpoint_url();
    primary_url.set_query(Some("apikey=secret-api-key"));
    let config =
        RpcPoolConfig { metrics: Some(metrics.clone()), ..test_config(vec![primary_url, backup.endpoint_url()]) };
    let pool = RpcPool::new(config).unwrap();
    assert_eq!(chain_id(&pool).await.unwrap(), 1001);

    drop(primary);
    for _ in 0..10 {
        assert_eq!(chain_id(&pool).await.unwrap(), 1002);
    }
    let shutdown = CancellationToken::new();
    let prober = tokio::spawn(pool.prober(shutdown.clone()));
    wait_for_state(&pool, 0, EndpointState::Down).await;
    let _primary = anvil_on(port, 1001);
    wait_for_state(&pool, 0, EndpointState::Healthy).await;
    shutdown.cancel();
    prober.await.unwrap();

    let changes = |state: &str| metrics.rpc_endpoint_state_changes.with_label_values(&["0", state]).get();
    assert_eq!((changes("degraded"), changes("down"), changes("healthy")), (1, 1, 1));
    assert_eq!(metrics.rpc_endpoint_state_changes.with_label_values(&["1", "down"]).get(), 0);
    let changed = logs.lines_with("rpc endpoint state changed");
    assert_eq!(changed.len(), 2, "healthy→degraded and degraded→down, once each: {changed:#?}");
    assert!(changed.iter().all(|line| line.contains("WARN") && line.contains("index=0")), "{changed:#?}");
    assert_eq!(logs.lines_with("rpc endpoint recovered").len(), 1);
    assert!(logs.lines_with("secret-api-key").is_empty(), "the URL's key is redacted in logs");
}

#[tokio::test]
async fn a_revert_is_typed_and_not_retried() {
    let anvil = common::anvil();
    let pool = RpcPool::new(test_config(vec![anvil.endpoint_url()])).unwrap();
    // Runtime code: mstore(0, 0xdeadbeef); revert(28, 4).
    let reverter: Address = address!("00000000000000000000000000000000000bad01");
    let code: Bytes = bytes!("63deadbeef6000526004601cfd");
    pool.provider().raw_request::<_, ()>("anvil_setCode".into(), (reverter, code)).await.unwrap();

    let before = pool.health()[0].requests_total;
    let call = TransactionRequest::default().to(reverter);
    let error = pool.run("eth_call", |p| async move { p.call(call).await }).await.unwrap_err();
    assert!(error.is_revert(), "{error:?}");
    assert_eq!(error.revert_data().map(|d| d.to_vec()), Some(vec![0xde, 0xad, 0xbe, 0xef]));
    assert_eq!(pool.health()[0].requests_total, before + 1, "one attempt only");
    assert_eq!(pool.health()[0].state, EndpointState::Healthy, "a revert is not the endpoint's fault");
}

#[tokio::test]
async fn no_endpoint_up_is_unavailable_after_the_attempt_budget() {
    let dead = format!("http://127.0.0.1:{}", free_port()).parse().unwrap();
    let pool = RpcPool::new(test_config(vec![dead])).unwrap();
    let error = chain_id(&pool).await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    let health = &pool.health()[0];
    assert_eq!((health.requests_total, health.state), (4, EndpointState::Down), "{health:?}");
}
