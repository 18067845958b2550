//! The SDK's example jobs, as `make setup` builds them from AssemblyScript: the time window against a table
//! chain at chosen times, the price deviation against the sample oracle and mirror deployed on anvil.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::path::PathBuf;

use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{address, bytes, Bytes, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use common::{example_module, TableChain};
use keeper_script::{
    AlloyChain, BlockContext, CallResult, ChainReader, Limits, RunError, RunReport, Sandbox, ScriptInput, ScriptOutcome,
};
use keeper_shared::contracts::{SampleOracle, SamplePriceMirror};

async fn run<C: ChainReader>(module: &str, args: Vec<u8>, chain: &C) -> Result<RunReport, RunError> {
    let sandbox = Sandbox::new(Limits::default());
    let script = sandbox.compile(&example_module(module))?;
    let input = ScriptInput { job_id: U256::from(1), args: args.into(), block: chain.block() };
    sandbox.run(&script, &input, chain).await
}

fn at(timestamp: u64) -> TableChain {
    TableChain::at(BlockContext { number: 10, hash: B256::repeat_byte(1), timestamp })
}

fn skip_reason(report: &RunReport) -> &str {
    match &report.outcome {
        ScriptOutcome::Skip { reason } => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

/// A price with 8 decimals, as Chainlink feeds report them.
const E8: i64 = 100_000_000;

// 1700000000 is Tuesday 2023-11-14 22:13:20 UTC.
const TUESDAY_2213: u64 = 1_700_000_000;

#[tokio::test]
async fn time_window_acts_only_inside_its_window() {
    let call_data = bytes!("d09de08a"); // increment()
    let window = |from: u64, to: u64, weekdays: bool| (from, to, weekdays, call_data.clone()).abi_encode_params();

    let report = run("time_window", window(9, 17, true), &at(TUESDAY_2213)).await.unwrap();
    assert_eq!(skip_reason(&report), "outside 09:00-17:00 UTC: Tuesday 22:13 UTC");

    let tuesday_1013 = TUESDAY_2213 - 12 * 3600;
    let report = run("time_window", window(9, 17, true), &at(tuesday_1013)).await.unwrap();
    assert_eq!(report.outcome, ScriptOutcome::Perform { call_data: call_data.clone() });
    assert_eq!(report.chain_reads, 0);

    let saturday = TUESDAY_2213 + 4 * 86_400;
    let report = run("time_window", window(0, 24, true), &at(saturday)).await.unwrap();
    assert_eq!(skip_reason(&report), "weekend: Saturday 22:13 UTC");
    let report = run("time_window", window(0, 24, false), &at(saturday)).await.unwrap();
    assert!(matches!(report.outcome, ScriptOutcome::Perform { .. }));

    let error = run("time_window", window(17, 9, false), &at(saturday)).await.unwrap_err();
    assert_eq!(error.to_string(), "the script failed: arguments: the window must satisfy fromHour < toHour <= 24");
    let error = run("time_window", vec![1, 2, 3], &at(saturday)).await.unwrap_err();
    assert_eq!(error.to_string(), "the script failed: Decoder: reading past the end of 3 bytes");
}

#[tokio::test]
async fn price_deviation_handles_negative_prices_and_failing_feeds() {
    let oracle = address!("00000000000000000000000000000000000000a1");
    let mirror = address!("00000000000000000000000000000000000000b2");
    let args = (oracle, mirror, 500u64).abi_encode_params();
    let answer =
        |value: i64| CallResult::Success(alloy::primitives::I256::try_from(value).unwrap().abi_encode().into());
    let mut chain = at(TUESDAY_2213);
    chain.calls.insert((oracle, bytes!("50d25bcd")), answer(-100));
    chain.calls.insert((mirror, bytes!("85bb7d69")), answer(-200));
    let report = run("price_deviation", args.clone(), &chain).await.unwrap();
    assert_eq!(report.outcome, ScriptOutcome::Perform { call_data: bytes!("fff6cae9") });

    chain.calls.insert((mirror, bytes!("85bb7d69")), answer(-102));
    let report = run("price_deviation", args.clone(), &chain).await.unwrap();
    assert_eq!(skip_reason(&report), "price moved 1.96% since the last sync (threshold 5.00%)");

    chain.calls.insert((oracle, bytes!("50d25bcd")), CallResult::Reverted(Bytes::new()));
    let error = run("price_deviation", args, &chain).await.unwrap_err();
    assert_eq!(error.to_string(), "the script failed: oracle.latestAnswer() failed with status 1");
}

/// `$KEEPER_ANVIL` (the Makefile exports it), else where `make setup` installs anvil.
fn anvil() -> AnvilInstance {
    let binary = std::env::var_os("KEEPER_ANVIL").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    });
    Anvil::at(binary)
        .arg("--host")
        .arg("127.0.0.1")
        .args(["--max-persisted-states", "0"])
        .try_spawn()
        .expect("anvil (run `make setup`)")
}

async fn latest<P: Provider>(provider: &P) -> BlockContext {
    let block = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    BlockContext { number: block.header.number, hash: block.header.hash, timestamp: block.header.timestamp }
}

#[tokio::test]
async fn price_deviation_against_the_sample_oracle_on_anvil() {
    let anvil = anvil();
    let signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let owner = signer.address();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(anvil.endpoint_url());
    let oracle = SampleOracle::deploy(&provider, owner).await.unwrap();
    let mirror = SamplePriceMirror::deploy(&provider, owner, *oracle.address()).await.unwrap();
    mirror.setForwarder(owner, true).send().await.unwrap().get_receipt().await.unwrap();
    let report = |answer: i64| {
        let call = oracle.report(alloy::primitives::I256::try_from(answer).unwrap());
        async move { call.send().await.unwrap().get_receipt().await.unwrap() }
    };
    let args: Vec<u8> = (*oracle.address(), *mirror.address(), 500u64).abi_encode_params();
    let sync = bytes!("fff6cae9");
    let run_at = |block: BlockContext| {
        let args = args.clone();
        let chain = AlloyChain::new(provider.clone(), block);
        async move { run("price_deviation", args, &chain).await }
    };

    report(1_000 * E8).await;
    let first = run_at(latest(&provider).await).await.unwrap();
    assert_eq!(first.outcome, ScriptOutcome::Perform { call_data: sync.clone() }, "never synced");
    assert_eq!(first.chain_reads, 2);

    // Perform what the script decided, as the job's forwarder would.
    let receipt = provider
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default().to(*mirror.address()).input(sync.clone().into()),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(mirror.answer().call().await.unwrap(), alloy::primitives::I256::try_from(1_000 * E8).unwrap());

    report(1_020 * E8).await;
    let small_move = latest(&provider).await;
    let report_small = run_at(small_move).await.unwrap();
    assert_eq!(skip_reason(&report_small), "price moved 2.00% since the last sync (threshold 5.00%)");
    // Bit-identical on a second run: same outcome, same fuel.
    let again = run_at(small_move).await.unwrap();
    assert_eq!((again.outcome.clone(), again.fuel_used), (report_small.outcome.clone(), report_small.fuel_used));

    report(1_100 * E8).await;
    let big = run_at(latest(&provider).await).await.unwrap();
    assert_eq!(big.outcome, ScriptOutcome::Perform { call_data: sync });

    // Pinned: the earlier block still answers as it did, whatever the chain did since.
    let pinned = run_at(small_move).await.unwrap();
    assert_eq!(pinned.outcome, report_small.outcome);
    // A block the node does not know (as after a reorg) fails the read: no silent answer from another block.
    let gone = BlockContext { hash: B256::repeat_byte(0x99), ..small_move };
    let error = run_at(gone).await.unwrap_err();
    assert!(matches!(error, RunError::Chain(_)), "{error}");
}
