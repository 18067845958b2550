//! The transaction sender against real anvil: consecutive nonces across sends and a restart,
//! a stuck transaction (automine off) replaced with bumped fees and only one of the two mined,
//! reverts reported with the transaction, a duplicate payload not sent twice, and recovery of
//! pending transactions from the store, and a transaction whose anchor block a reorg took
//! away cancelled rather than sent again.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::Duration;

use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{address, bytes, Address, Bytes, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeperd::chain::{bumped_fee, RpcPool, RpcPoolConfig, SenderConfig, SenderError, TxRequest, TxSender};
use keeperd::store::{BlockAnchor, SharedStore, Store, TxKind, TxStatus};
use tokio_util::sync::CancellationToken;

const REVERTER: Address = address!("00000000000000000000000000000000000bad01");

fn config() -> SenderConfig {
    SenderConfig {
        stuck_after_blocks: 1_000,
        stuck_after: Duration::from_secs(3_600),
        poll_interval: Duration::from_millis(50),
        ..SenderConfig::default()
    }
}

async fn sender(anvil: &AnvilInstance, store: &SharedStore, config: SenderConfig) -> TxSender {
    let pool = RpcPool::new(RpcPoolConfig::new(vec![anvil.endpoint_url()])).unwrap();
    let signer = PrivateKeySigner::from(anvil.keys()[1].clone());
    TxSender::new(pool, store.clone(), signer, config).await.unwrap()
}

fn transfer(payload: u8) -> TxRequest {
    TxRequest {
        kind: TxKind::JobAdmin,
        payload_ref: vec![payload; 32],
        to: Address::repeat_byte(0x42),
        input: Bytes::new(),
        value: U256::from(1),
        gas_limit: None,
    }
}

fn open_store(dir: &tempfile::TempDir) -> SharedStore {
    SharedStore::new(Store::open(dir.path().join("keeperd.db")).unwrap())
}

async fn rpc(anvil: &AnvilInstance, method: &'static str, params: serde_json::Value) -> serde_json::Value {
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    provider.raw_request(method.into(), params).await.unwrap()
}

async fn chain_nonce(anvil: &AnvilInstance, address: Address) -> u64 {
    ProviderBuilder::new().connect_http(anvil.endpoint_url()).get_transaction_count(address).await.unwrap()
}

#[tokio::test]
async fn nonces_stay_consecutive_across_sends_and_a_restart() {
    let anvil = common::anvil();
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let mut nonces = Vec::new();
    let address = {
        let store = open_store(&dir);
        let sender = sender(&anvil, &store, config()).await;
        for payload in 0..8 {
            let tracked = sender.send(transfer(payload)).await.unwrap();
            assert!(tracked.newly_sent);
            nonces.push(tracked.nonce);
        }
        for payload in 0..8 {
            let mined = sender.wait(&[payload; 32], &shutdown).await.unwrap();
            assert_eq!(mined.nonce, nonces[payload as usize]);
        }
        sender.address()
    };
    // A restart: a new sender on the reopened store continues where the first stopped.
    let store = open_store(&dir);
    let sender = sender(&anvil, &store, config()).await;
    assert!(sender.recover().await.unwrap().is_empty(), "nothing left pending");
    for payload in 8..12 {
        nonces.push(sender.send(transfer(payload)).await.unwrap().nonce);
        sender.wait(&[payload; 32], &shutdown).await.unwrap();
    }
    assert_eq!(nonces, (0..12).collect::<Vec<u64>>());
    assert_eq!(chain_nonce(&anvil, address).await, 12);
}

#[tokio::test]
async fn a_duplicate_payload_is_not_sent_twice() {
    let anvil = common::anvil();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let sender = sender(&anvil, &store, config()).await;
    let first = sender.send(transfer(7)).await.unwrap();
    let again = sender.send(transfer(7)).await.unwrap();
    assert_eq!((again.tx_hash, again.nonce, again.newly_sent), (first.tx_hash, first.nonce, false));
    sender.wait(&[7; 32], &CancellationToken::new()).await.unwrap();
    let after_mined = sender.send(transfer(7)).await.unwrap();
    assert_eq!((after_mined.tx_hash, after_mined.status), (first.tx_hash, TxStatus::Mined));
    assert_eq!(chain_nonce(&anvil, sender.address()).await, 1, "one transaction on chain");
    let stored = store.with(|s| s.read(|r| r.transactions_for_payload(&[7; 32]))).await.unwrap();
    assert_eq!(stored.len(), 1);
}

#[tokio::test]
async fn a_reverted_receipt_is_an_error_naming_the_transaction() {
    let anvil = common::anvil();
    // Runtime code: mstore(0, 0xdeadbeef); revert(28, 4).
    rpc(&anvil, "anvil_setCode", serde_json::json!([REVERTER, bytes!("63deadbeef6000526004601cfd")])).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let sender = sender(&anvil, &store, config()).await;
    let call = TxRequest { to: REVERTER, value: U256::ZERO, ..transfer(1) };

    // Estimated: refused before anything is signed or recorded, with the revert data.
    match sender.send(call.clone()).await {
        Err(SenderError::WouldRevert { source, .. }) => {
            assert_eq!(source.revert_data().map(|d| d.to_vec()), Some(vec![0xde, 0xad, 0xbe, 0xef]))
        }
        other => panic!("{other:?}"),
    }
    assert!(store.with(|s| s.read(|r| r.transactions_for_payload(&[1; 32]))).await.unwrap().is_empty());

    // With a gas limit given, it is mined and reverts.
    let tracked = sender.send(TxRequest { gas_limit: Some(100_000), ..call }).await.unwrap();
    match sender.wait(&[1; 32], &CancellationToken::new()).await {
        Err(SenderError::Reverted { tx_hash, nonce, .. }) => assert_eq!((tx_hash, nonce), (tracked.tx_hash, 0)),
        other => panic!("{other:?}"),
    }
    let stored = store.with(move |s| s.read(|r| r.transaction(tracked.tx_hash))).await.unwrap().unwrap();
    assert_eq!(stored.status, TxStatus::Reverted);
}

#[tokio::test]
async fn a_stuck_transaction_is_replaced_with_bumped_fees_and_only_one_is_mined() {
    let anvil = common::anvil();
    rpc(&anvil, "evm_setAutomine", serde_json::json!([false])).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let stuck = SenderConfig { stuck_after: Duration::from_millis(200), ..config() };
    let sender = std::sync::Arc::new(sender(&anvil, &store, stuck).await);
    let original = sender.send(transfer(3)).await.unwrap();

    let shutdown = CancellationToken::new();
    let waiting = {
        let (sender, shutdown) = (sender.clone(), shutdown.clone());
        tokio::spawn(async move { sender.wait(&[3; 32], &shutdown).await })
    };
    // Let the sender replace it at least once, then mine.
    let mut recorded = Vec::new();
    for _ in 0..200 {
        recorded = store.with(|s| s.read(|r| r.transactions_for_payload(&[3; 32]))).await.unwrap();
        if recorded.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recorded.len() >= 2, "never replaced: {recorded:?}");
    rpc(&anvil, "evm_mine", serde_json::json!([])).await;
    let mined = waiting.await.unwrap().unwrap();
    assert_ne!(mined.tx_hash, original.tx_hash, "the replacement is mined");
    assert_eq!(mined.nonce, original.nonce);

    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    let first = provider.get_transaction_by_hash(original.tx_hash).await.unwrap();
    assert!(first.is_none_or(|t| t.block_number.is_none()), "the original is not mined");
    assert!(provider.get_transaction_receipt(original.tx_hash).await.unwrap().is_none());
    assert_eq!(chain_nonce(&anvil, sender.address()).await, 1);

    let stored = store.with(|s| s.read(|r| r.transactions_for_payload(&[3; 32]))).await.unwrap();
    let statuses: Vec<TxStatus> = stored.iter().map(|s| s.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == TxStatus::Mined).count(), 1, "{statuses:?}");
    assert_eq!(stored[0].status, TxStatus::Replaced);
    assert_eq!(stored[0].replaced_by, Some(stored[1].tx.tx_hash));
    // The mined replacement pays at least 12.5% + 1 wei more than the original, on both fees.
    let original_tx = decode(&stored[0].tx.raw.clone().unwrap());
    let mined_tx = provider.get_transaction_by_hash(mined.tx_hash).await.unwrap().unwrap();
    assert!(mined_tx.max_fee_per_gas() >= bumped_fee(original_tx.max_fee_per_gas()));
    let priority = mined_tx.max_priority_fee_per_gas().unwrap();
    assert!(priority >= bumped_fee(original_tx.max_priority_fee_per_gas().unwrap()));
}

fn decode(raw: &[u8]) -> TxEnvelope {
    TxEnvelope::decode_2718(&mut &raw[..]).unwrap()
}

#[tokio::test]
async fn pending_transactions_are_rebroadcast_from_the_store_after_a_restart() {
    let anvil = common::anvil();
    rpc(&anvil, "evm_setAutomine", serde_json::json!([false])).await;
    let dir = tempfile::tempdir().unwrap();
    let hashes = {
        let store = open_store(&dir);
        let sender = sender(&anvil, &store, config()).await;
        let a = sender.send(transfer(1)).await.unwrap();
        let b = sender.send(transfer(2)).await.unwrap();
        assert_eq!((a.nonce, b.nonce), (0, 1));
        vec![a.tx_hash, b.tx_hash]
    };
    // The node loses them (as after its own restart); only the store remembers.
    rpc(&anvil, "anvil_dropAllTransactions", serde_json::json!([])).await;

    let store = open_store(&dir);
    let sender = sender(&anvil, &store, config()).await;
    let recovered = sender.recover().await.unwrap();
    assert_eq!(recovered.iter().map(|t| t.tx_hash).collect::<Vec<_>>(), hashes);
    let next = sender.send(transfer(3)).await.unwrap();
    assert_eq!(next.nonce, 2, "after the recorded ones");
    rpc(&anvil, "evm_mine", serde_json::json!([])).await;
    let shutdown = CancellationToken::new();
    for payload in 1..=3u8 {
        let mined = sender.wait(&[payload; 32], &shutdown).await.unwrap();
        assert_eq!(mined.nonce, u64::from(payload) - 1);
    }
    assert_eq!(chain_nonce(&anvil, sender.address()).await, 3);
}

#[tokio::test]
async fn wait_stops_on_shutdown() {
    let anvil = common::anvil();
    rpc(&anvil, "evm_setAutomine", serde_json::json!([false])).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let sender = sender(&anvil, &store, config()).await;
    sender.send(transfer(9)).await.unwrap();
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    assert!(matches!(sender.wait(&[9; 32], &shutdown).await, Err(SenderError::Shutdown { .. })));
}

/// A mined transaction that a reorg takes out of the chain, and that the node does not put back in
/// its pool (anvil does not), leaves a nonce gap: the sender sends it again when a later one waits
/// behind the gap, and both are mined.
#[tokio::test]
async fn a_transaction_reorged_out_is_sent_again_so_later_nonces_are_not_stuck() {
    let anvil = common::anvil();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let sender = sender(&anvil, &store, config()).await;
    let shutdown = CancellationToken::new();
    let snapshot = rpc(&anvil, "evm_snapshot", serde_json::json!([])).await;
    let first = sender.send(transfer(1)).await.unwrap();
    sender.wait(&[1; 32], &shutdown).await.unwrap();
    // The block with the first transaction leaves the chain; the node forgets the transaction.
    rpc(&anvil, "evm_revert", serde_json::json!([snapshot])).await;
    rpc(&anvil, "evm_mine", serde_json::json!([])).await;
    assert_eq!(chain_nonce(&anvil, sender.address()).await, 0);

    let second = sender.send(transfer(2)).await.unwrap();
    assert_eq!((first.nonce, second.nonce), (0, 1));
    let mined = tokio::time::timeout(Duration::from_secs(30), sender.wait(&[2; 32], &shutdown)).await.unwrap().unwrap();
    assert_eq!(mined.nonce, 1);
    assert_eq!(chain_nonce(&anvil, sender.address()).await, 2, "the first transaction was mined again");
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    assert!(provider.get_transaction_receipt(first.tx_hash).await.unwrap().is_some());
}

/// A transaction anchored to a block (a batch's reference block) is never sent again once a
/// reorg took that block away (it would revert `UnknownReferenceBlock`): its nonce is taken by a cancel,
/// so the later transaction still goes through.
#[tokio::test]
async fn an_anchored_transaction_reorged_out_with_its_block_is_cancelled_not_sent_again() {
    let anvil = common::anvil();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let sender = sender(&anvil, &store, config()).await;
    let shutdown = CancellationToken::new();
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    let snapshot = rpc(&anvil, "evm_snapshot", serde_json::json!([])).await;
    rpc(&anvil, "evm_mine", serde_json::json!([])).await;
    let block = provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await.unwrap().unwrap();
    let anchor = BlockAnchor { number: block.header.number, hash: block.header.hash };
    let first = sender.send_anchored(transfer(1), Some(anchor)).await.unwrap();
    sender.wait(&[1; 32], &shutdown).await.unwrap();
    // The anchor block and the transaction leave the chain; the block at the anchor's height is another.
    rpc(&anvil, "evm_revert", serde_json::json!([snapshot])).await;
    rpc(&anvil, "evm_mine", serde_json::json!([block.header.timestamp + 100])).await;
    let replaced = provider.get_block_by_number(anchor.number.into()).await.unwrap().unwrap();
    assert_ne!(replaced.header.hash, anchor.hash);

    let second = sender.send(transfer(2)).await.unwrap();
    assert_eq!((first.nonce, second.nonce), (0, 1));
    let mined = tokio::time::timeout(Duration::from_secs(30), sender.wait(&[2; 32], &shutdown)).await.unwrap().unwrap();
    assert_eq!(mined.nonce, 1);
    assert_eq!(chain_nonce(&anvil, sender.address()).await, 2);
    assert!(provider.get_transaction_receipt(first.tx_hash).await.unwrap().is_none(), "never sent again");
    let hash = first.tx_hash;
    let stored = store.with(move |s| s.read(move |r| r.transaction(hash))).await.unwrap().unwrap();
    assert_eq!(stored.status, TxStatus::Dropped);
    assert_eq!(stored.tx.anchor, Some(anchor));
    let address = sender.address();
    let at_zero = store.with(move |s| s.read(move |r| r.live_transactions_at_nonce(31337, address, 0))).await;
    let cancel = at_zero.unwrap().into_iter().find(|t| t.tx.kind == TxKind::Cancel).expect("a cancel at nonce 0");
    let receipt = provider.get_transaction_receipt(cancel.tx.tx_hash).await.unwrap().expect("the cancel mined");
    assert!(receipt.status());
    assert_eq!(receipt.to, Some(receipt.from), "a transfer of nothing to ourselves");
}
