//! A history spread by empty blocks loads into a real anvil as a consistent chain: numbers, parent
//! hashes and times in order, transactions and their logs at their new blocks, state unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use keeper_devnet::history::{decode_dump, renumber, spread};
use keeper_shared::contracts::SampleCounter;

#[tokio::test]
async fn a_spread_history_loads_with_its_logs_at_the_new_blocks_and_a_hash_chain_that_holds() {
    let anvil = keeper_devnet::anvil::for_test();
    let signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let owner = signer.address();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(anvil.endpoint_url());
    let counter = SampleCounter::deploy(&provider, owner).await.unwrap();
    let from = provider.get_block_number().await.unwrap() + 1;
    // Three blocks to spread, each with one ForwarderSet log.
    let mut mined = Vec::new();
    for i in 0..3u8 {
        let receipt = counter
            .setForwarder(alloy::primitives::Address::repeat_byte(i + 1), true)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        mined.push((receipt.transaction_hash, receipt.block_number.unwrap()));
    }
    let answer: String = provider.raw_request("anvil_dumpState".into(), ()).await.unwrap();
    let dump = decode_dump(&answer).unwrap();

    let gap = 1_000;
    let end_time = 1_900_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let written = spread(&dump, from, gap, end_time, &mut file).unwrap();
    drop(file);
    let last = mined.last().unwrap().1;
    assert_eq!(written.head, renumber(last, from, gap));
    assert_eq!(written.blocks, written.head + 1);

    let loaded = keeper_devnet::anvil::start_loaded(&keeper_devnet::anvil::binary(), 0, &path).unwrap();
    let reader = ProviderBuilder::new().connect_http(loaded.endpoint_url());
    assert_eq!(reader.get_block_number().await.unwrap(), written.head);

    // Every transaction is at its new block, and its log is found there (and only there).
    for (hash, old) in &mined {
        let receipt = reader.get_transaction_receipt(*hash).await.unwrap().expect("the receipt is served");
        assert_eq!(receipt.block_number, Some(renumber(*old, from, gap)));
    }
    let logs = reader
        .get_logs(
            &Filter::new()
                .address(*counter.address())
                .event_signature(SampleCounter::ForwarderSet::SIGNATURE_HASH)
                .from_block(0)
                .to_block(written.head),
        )
        .await
        .unwrap();
    let at: Vec<u64> = logs.iter().map(|l| l.block_number.unwrap()).collect();
    let expected: Vec<u64> = mined.iter().map(|(_, old)| renumber(*old, from, gap)).collect();
    assert_eq!(at, expected);

    // The hash chain holds across an inserted stretch, and time advances a second a block.
    for number in [from - 1, from, from + gap - 1, from + gap, written.head] {
        let block = reader.get_block_by_number(number.into()).await.unwrap().unwrap();
        let parent = reader.get_block_by_number((number - 1).into()).await.unwrap().unwrap();
        assert_eq!(block.header.parent_hash, parent.hash(), "block {number}");
        assert_eq!(block.header.timestamp, parent.header.timestamp + 1, "block {number}");
    }
    let head = reader.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    assert_eq!(head.header.timestamp, end_time);

    // The state is the dump's: the counter's allow-list, and the chain goes on from the new head.
    let loaded_counter = SampleCounter::new(*counter.address(), &reader);
    assert!(loaded_counter.isForwarder(alloy::primitives::Address::repeat_byte(3)).call().await.unwrap());
    reader.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
    let next = reader.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    assert_eq!(next.header.number, written.head + 1);
    assert_eq!(next.header.parent_hash, head.hash());
}
