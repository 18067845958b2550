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
        .port(port)
        .chain_id(chain_id)
        .try_spawn()
        .expect("anvil starts")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
    let prober = pool.spawn_prober(shutdown.clone());
    wait_for_state(&pool, 0, EndpointState::Down).await;
    assert_eq!(chain_id(&pool).await.unwrap(), 1002);

    let _primary = anvil_on(port, 1001);
    wait_for_state(&pool, 0, EndpointState::Healthy).await;
    assert_eq!(pool.health()[0].consecutive_failures, 0);
    assert_eq!(chain_id(&pool).await.unwrap(), 1001, "traffic returns to the preferred endpoint");
    shutdown.cancel();
    prober.await.unwrap();
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
