//! The head follower against real anvil: each confirmed block once and in order at depth 0 and 2,
//! reorgs (`anvil_reorg`, and `evm_revert` to a snapshot then different blocks) reported with the
//! right common ancestor and dropped blocks, and resuming from a cursor kept in the store.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::Duration;

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use keeperd::chain::{
    BlockFollower, BlockRef, FollowerConfig, FollowerError, FollowerEvent, Reorg, RpcPool, RpcPoolConfig, StartFrom,
};
use keeperd::store::Store;
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn pool(anvil: &AnvilInstance) -> RpcPool {
    RpcPool::new(RpcPoolConfig::new(vec![anvil.endpoint_url()])).unwrap()
}

fn follower(anvil: &AnvilInstance, confirmations: u64, start: StartFrom) -> BlockFollower {
    let config =
        FollowerConfig { confirmations, poll_interval: Duration::from_millis(20), ..FollowerConfig::default() };
    BlockFollower::new(pool(anvil), config, start)
}

async fn mine(anvil: &AnvilInstance, blocks: u64) {
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    provider.raw_request::<_, ()>("anvil_mine".into(), (U256::from(blocks),)).await.unwrap();
}

async fn head(anvil: &AnvilInstance) -> u64 {
    ProviderBuilder::new().connect_http(anvil.endpoint_url()).get_block_number().await.unwrap()
}

/// A transfer from anvil's first account, mined at once (automine): it makes the next block differ
/// from any block mined before at that height.
async fn transfer(anvil: &AnvilInstance) {
    let (_, provider) = common::wallet_provider(anvil, 0);
    let tx = TransactionRequest::default().to(Address::repeat_byte(0x42)).value(U256::from(1));
    provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
}

fn blocks(events: &[FollowerEvent]) -> Vec<BlockRef> {
    events
        .iter()
        .map(|e| match e {
            FollowerEvent::Block(b) => *b,
            other => panic!("expected only blocks, got {other:?}"),
        })
        .collect()
}

fn numbers(blocks: &[BlockRef]) -> Vec<u64> {
    blocks.iter().map(|b| b.number).collect()
}

/// Checks the blocks are the canonical ones at their heights and chain by parent hash.
async fn assert_canonical(anvil: &AnvilInstance, blocks: &[BlockRef]) {
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    for pair in blocks.windows(2) {
        assert_eq!(pair[1].parent_hash, pair[0].hash);
    }
    for block in blocks {
        let canonical = provider.get_block_by_number(block.number.into()).await.unwrap().unwrap();
        assert_eq!(canonical.header.hash, block.hash, "block {}", block.number);
        assert_eq!(canonical.header.timestamp, block.timestamp);
    }
}

#[tokio::test]
async fn depth_zero_emits_every_block_once_in_order() {
    let anvil = common::anvil();
    mine(&anvil, 2).await;
    let mut follower = follower(&anvil, 0, StartFrom::Block(1));
    let first = blocks(&follower.poll().await.unwrap());
    assert_eq!(numbers(&first), vec![1, 2]);
    assert!(follower.poll().await.unwrap().is_empty(), "nothing new, nothing emitted");
    mine(&anvil, 3).await;
    let second = blocks(&follower.poll().await.unwrap());
    assert_eq!(numbers(&second), vec![3, 4, 5]);
    assert_canonical(&anvil, &[first, second].concat()).await;
}

#[tokio::test]
async fn depth_two_emits_a_block_once_two_more_are_on_top() {
    let anvil = common::anvil();
    let mut follower = follower(&anvil, 2, StartFrom::Block(0));
    assert!(follower.poll().await.unwrap().is_empty(), "head 0: nothing is 2 deep");
    mine(&anvil, 2).await;
    assert_eq!(numbers(&blocks(&follower.poll().await.unwrap())), vec![0]);
    mine(&anvil, 1).await;
    assert_eq!(numbers(&blocks(&follower.poll().await.unwrap())), vec![1]);
    mine(&anvil, 4).await;
    let later = blocks(&follower.poll().await.unwrap());
    assert_eq!(numbers(&later), vec![2, 3, 4, 5]);
    assert_eq!(head(&anvil).await, 7);
    assert_canonical(&anvil, &later).await;
}

fn split_reorg(events: &[FollowerEvent]) -> (Reorg, Vec<BlockRef>) {
    let Some((FollowerEvent::Reorg(reorg), rest)) = events.split_first() else {
        panic!("expected a reorg first: {events:?}");
    };
    (reorg.clone(), blocks(rest))
}

#[tokio::test]
async fn anvil_reorg_is_reported_with_its_common_ancestor_at_depth_zero() {
    let anvil = common::anvil();
    mine(&anvil, 6).await;
    let mut follower = follower(&anvil, 0, StartFrom::Block(0));
    let before = blocks(&follower.poll().await.unwrap());
    assert_eq!(numbers(&before), (0..=6).collect::<Vec<_>>());

    // Replace the last 3 blocks, with a transfer in the first new one so its hash differs.
    let (from, _) = common::wallet_provider(&anvil, 0);
    let tx = json!({ "from": from, "to": Address::repeat_byte(0x42), "value": "0x1" });
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    provider.raw_request::<_, ()>("anvil_reorg".into(), (3u64, json!([[tx, 0]]))).await.unwrap();

    let (reorg, after) = split_reorg(&follower.poll().await.unwrap());
    assert_eq!(reorg.common_ancestor, before[3]);
    assert_eq!(reorg.dropped, before[4..].to_vec());
    assert_eq!(numbers(&after), vec![4, 5, 6], "the new blocks at the dropped heights");
    assert_eq!(after[0].parent_hash, before[3].hash);
    assert!(after.iter().zip(&before[4..]).all(|(new, old)| new.hash != old.hash));
    assert_canonical(&anvil, &after).await;
    assert!(follower.poll().await.unwrap().is_empty(), "the reorg is reported once");
}

#[tokio::test]
async fn evm_revert_to_a_snapshot_is_a_reorg_at_depth_two() {
    let anvil = common::anvil();
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    mine(&anvil, 3).await;
    let snapshot: U256 = provider.raw_request("evm_snapshot".into(), ()).await.unwrap();
    mine(&anvil, 5).await; // head 8
    let mut follower = follower(&anvil, 2, StartFrom::Block(0));
    let before = blocks(&follower.poll().await.unwrap());
    assert_eq!(numbers(&before), (0..=6).collect::<Vec<_>>());

    let reverted: bool = provider.raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    assert!(reverted);
    assert!(follower.poll().await.unwrap().iter().all(|e| matches!(e, FollowerEvent::Reorg(_))));
    transfer(&anvil).await; // block 4 differs from the dropped one
    mine(&anvil, 5).await; // head 9
    let events = follower.poll().await.unwrap();
    // The reorg may have been seen at the previous poll already (head 3 < dropped block 4).
    let after = match events.first() {
        Some(FollowerEvent::Reorg(_)) => split_reorg(&events).1,
        _ => blocks(&events),
    };
    assert_eq!(numbers(&after), vec![4, 5, 6, 7]);
    assert_canonical(&anvil, &after).await;
}

#[tokio::test]
async fn evm_revert_reorg_reports_the_snapshot_block_as_ancestor() {
    let anvil = common::anvil();
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    mine(&anvil, 3).await;
    let snapshot: U256 = provider.raw_request("evm_snapshot".into(), ()).await.unwrap();
    mine(&anvil, 5).await; // head 8
    let mut follower = follower(&anvil, 2, StartFrom::Block(0));
    let before = blocks(&follower.poll().await.unwrap());

    let _: bool = provider.raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    transfer(&anvil).await;
    mine(&anvil, 5).await; // head 9: the new chain is longer than the old one
    let (reorg, after) = split_reorg(&follower.poll().await.unwrap());
    assert_eq!(reorg.common_ancestor, before[3], "block 3, where the snapshot was taken");
    assert_eq!(reorg.dropped, before[4..].to_vec());
    assert_eq!(numbers(&after), vec![4, 5, 6, 7]);
}

/// Replaces the last `depth` blocks, with a transfer in the first new one so its hash differs.
async fn anvil_reorg(anvil: &AnvilInstance, depth: u64) {
    let (from, _) = common::wallet_provider(anvil, 0);
    let tx = json!({ "from": from, "to": Address::repeat_byte(0x42), "value": "0x1" });
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    provider.raw_request::<_, ()>("anvil_reorg".into(), (depth, json!([[tx, 0]]))).await.unwrap();
}

#[tokio::test]
async fn two_successive_reorgs_at_depth_zero_are_each_reported_once_and_followed() {
    let anvil = common::anvil();
    mine(&anvil, 6).await;
    let mut follower = follower(&anvil, 0, StartFrom::Block(0));
    let first = blocks(&follower.poll().await.unwrap());

    anvil_reorg(&anvil, 3).await;
    mine(&anvil, 2).await; // head 8
    let (reorg, second) = split_reorg(&follower.poll().await.unwrap());
    assert_eq!((reorg.common_ancestor, reorg.dropped), (first[3], first[4..].to_vec()));
    assert_eq!(numbers(&second), vec![4, 5, 6, 7, 8]);

    // The second reorg drops blocks emitted after the first one, and one emitted before it.
    anvil_reorg(&anvil, 6).await;
    mine(&anvil, 1).await; // head 9
    let (reorg, third) = split_reorg(&follower.poll().await.unwrap());
    assert_eq!(reorg.common_ancestor, first[2]);
    let mut dropped = vec![first[3]];
    dropped.extend(&second);
    assert_eq!(reorg.dropped, dropped);
    assert_eq!(numbers(&third), (3..=9).collect::<Vec<_>>());
    assert_eq!(third[0].parent_hash, first[2].hash);
    assert_canonical(&anvil, &third).await;
    mine(&anvil, 1).await;
    assert_eq!(numbers(&blocks(&follower.poll().await.unwrap())), vec![10], "each reorg is reported once");
}

#[tokio::test]
async fn a_reorg_deeper_than_the_window_fails_at_every_poll_and_never_emits_the_new_chain_unannounced() {
    let anvil = common::anvil();
    mine(&anvil, 6).await;
    let config = FollowerConfig {
        confirmations: 0,
        poll_interval: Duration::from_millis(20),
        window: 2,
        ..FollowerConfig::default()
    };
    let mut follower = BlockFollower::new(pool(&anvil), config, StartFrom::Block(0));
    let emitted = blocks(&follower.poll().await.unwrap());
    assert_eq!(follower.last_emitted(), Some(emitted[6]));

    // Blocks 3..=6 replaced: the fork is below the 2 remembered blocks, and anvil forgets dropped
    // blocks, so the parent-hash walk cannot reach it.
    anvil_reorg(&anvil, 4).await;
    mine(&anvil, 1).await;
    for attempt in 0..2 {
        match follower.poll().await {
            Err(FollowerError::ForkPointUnknown { number, .. }) => assert_eq!(number, 4, "attempt {attempt}"),
            other => panic!("attempt {attempt}: expected the fork point to be unknown, got {other:?}"),
        }
        assert_eq!(follower.last_emitted(), Some(emitted[6]), "attempt {attempt}: the window is kept");
    }
}

#[tokio::test]
async fn a_reorg_to_a_shorter_chain_is_reported_before_the_new_chain_reaches_the_old_height() {
    let anvil = common::anvil();
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    mine(&anvil, 3).await;
    let snapshot: U256 = provider.raw_request("evm_snapshot".into(), ()).await.unwrap();
    mine(&anvil, 5).await; // head 8
    let mut follower = follower(&anvil, 0, StartFrom::Block(0));
    let before = blocks(&follower.poll().await.unwrap());

    let _: bool = provider.raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    transfer(&anvil).await; // head 4, below the last emitted block 8
    let (reorg, after) = split_reorg(&follower.poll().await.unwrap());
    assert_eq!(reorg.common_ancestor, before[3]);
    assert_eq!(reorg.dropped, before[4..].to_vec());
    assert_eq!(numbers(&after), vec![4]);
    assert_ne!(after[0].hash, before[4].hash);
    assert!(follower.poll().await.unwrap().is_empty(), "nothing new until the chain grows");
    mine(&anvil, 2).await;
    let grown = blocks(&follower.poll().await.unwrap());
    assert_eq!(numbers(&grown), vec![5, 6]);
    assert_eq!(grown[0].parent_hash, after[0].hash);
}

#[tokio::test]
async fn resumes_after_the_stored_cursor() {
    let anvil = common::anvil();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keeperd.db");
    mine(&anvil, 4).await;
    let last = {
        let mut follower = follower(&anvil, 1, StartFrom::Block(0));
        let emitted = blocks(&follower.poll().await.unwrap());
        assert_eq!(numbers(&emitted), vec![0, 1, 2, 3]);
        let mut store = Store::open(&db).unwrap();
        let last = *emitted.last().unwrap();
        store.write(|tx| tx.set_cursor("test_stream", last.cursor())).unwrap();
        last
    };
    mine(&anvil, 3).await;
    let cursor = Store::open(&db).unwrap().read(|r| r.cursor("test_stream")).unwrap().unwrap();
    assert_eq!(cursor, last.cursor());
    let mut follower = follower(&anvil, 1, StartFrom::Cursor(cursor));
    let resumed = blocks(&follower.poll().await.unwrap());
    assert_eq!(numbers(&resumed), vec![4, 5, 6], "nothing repeated, nothing skipped");
    assert_eq!(resumed[0].parent_hash, last.hash);
}

#[tokio::test]
async fn a_cursor_reorganised_away_while_stopped_is_an_error_naming_it() {
    let anvil = common::anvil();
    mine(&anvil, 6).await;
    let mut first = follower(&anvil, 0, StartFrom::Block(0));
    let emitted = blocks(&first.poll().await.unwrap());
    let cursor = emitted[6].cursor();
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    let (from, _) = common::wallet_provider(&anvil, 0);
    let tx = json!({ "from": from, "to": Address::repeat_byte(0x42), "value": "0x1" });
    provider.raw_request::<_, ()>("anvil_reorg".into(), (2u64, json!([[tx, 0]]))).await.unwrap();

    // anvil forgets dropped blocks, so with nothing but the cursor the fork point cannot be
    // found: the follower says so (naming the block) rather than guessing an ancestor.
    let mut resumed = follower(&anvil, 0, StartFrom::Cursor(cursor));
    match resumed.poll().await {
        Err(FollowerError::ForkPointUnknown { number, hash }) => assert_eq!((number, hash), (6, cursor.block_hash)),
        other => panic!("{other:?}"),
    }
    // A cursor below the reorg resumes normally, and nothing after it is lost.
    let mut below = follower(&anvil, 0, StartFrom::Cursor(emitted[4].cursor()));
    let after = blocks(&below.poll().await.unwrap());
    assert_eq!(numbers(&after), vec![5, 6]);
    assert_ne!(after[0].hash, emitted[5].hash);
}

#[tokio::test]
async fn run_sends_events_until_shutdown() {
    let anvil = common::anvil();
    mine(&anvil, 3).await;
    let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(follower(&anvil, 0, StartFrom::Block(1)).run(sender, shutdown.clone()));
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match receiver.recv().await.unwrap() {
            FollowerEvent::Block(b) => seen.push(b.number),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, vec![1, 2, 3]);
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
