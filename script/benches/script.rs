//! Script jobs' costs: cold start (fetch from a local HTTP server + compile), compile alone, warm execution of
//! the SDK's examples (built by `make setup`) against an in-process chain, the per-call overhead of a host
//! call, and (printed once) the fuel each example uses.
//!
//! `cargo bench -p keeper-script --bench script`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use alloy::primitives::{address, bytes, keccak256, I256};
use alloy::sol_types::SolValue;
use common::{example_module, wat, TableChain};
use criterion::{criterion_group, criterion_main, Criterion};
use keeper_script::config::FetchConfig;
use keeper_script::{BlockContext, CallResult, Fetcher, Limits, Sandbox, ScriptInput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `body` to every request on 127.0.0.1 (keep-alive off: each fetch opens a connection, as a cold
/// start does).
async fn serve(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/job.wasm", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    url
}

/// A price with 8 decimals, as Chainlink feeds report them.
const E8: i64 = 100_000_000;

fn price_chain() -> (TableChain, Vec<u8>) {
    let oracle = address!("00000000000000000000000000000000000000a1");
    let mirror = address!("00000000000000000000000000000000000000b2");
    let answer = |v: i64| CallResult::Success(I256::try_from(v).unwrap().abi_encode().into());
    let mut chain = TableChain::at(common::block());
    chain.calls.insert((oracle, bytes!("50d25bcd")), answer(1_020 * E8));
    chain.calls.insert((mirror, bytes!("85bb7d69")), answer(1_000 * E8));
    (chain, (oracle, mirror, 500u64).abi_encode_params())
}

fn time_window_args() -> Vec<u8> {
    (9u64, 17u64, true, bytes!("d09de08a")).abi_encode_params()
}

fn input(args: Vec<u8>, block: BlockContext) -> ScriptInput {
    ScriptInput { args: args.into(), block, ..common::input(b"") }
}

/// A module calling `block_number` `n` times in a loop (or doing the same loop without the call).
fn host_loop(n: u32, with_call: bool) -> Vec<u8> {
    let work = if with_call { "(drop (call $block_number))" } else { "(drop (i64.const 0))" };
    wat(&format!(
        r#"(module (import "keeper_v1" "block_number" (func $block_number (result i64)))
             (import "keeper_v1" "skip" (func $skip (param i32 i32))) (memory (export "memory") 1)
             (func (export "run") (local $i i32)
               (loop $l {work} (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.lt_u (local.get $i) (i32.const {n}))))
               (call $skip (i32.const 0) (i32.const 0))))"#
    ))
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sandbox = Sandbox::new(Limits::default());
    let time_window = example_module("time_window");
    let price = example_module("price_deviation");
    let (price_table, price_args) = price_chain();
    let window_chain = TableChain::at(BlockContext { timestamp: 1_700_000_000 - 12 * 3600, ..common::block() });

    // Fuel, once.
    for (name, code, chain, args) in [
        ("time_window", &time_window, &window_chain, time_window_args()),
        ("price_deviation", &price, &price_table, price_args.clone()),
    ] {
        let script = sandbox.compile(code).unwrap();
        let report = runtime.block_on(sandbox.run(&script, &input(args, chain.block), chain)).unwrap();
        eprintln!(
            "{name}: {} bytes, fuel used {}, chain reads {}, outcome {:?}",
            code.len(),
            report.fuel_used,
            report.chain_reads,
            report.outcome
        );
    }

    let mut group = c.benchmark_group("script");
    group.measurement_time(Duration::from_secs(5));
    for (name, code) in [("time_window", &time_window), ("price_deviation", &price)] {
        let url = runtime.block_on(serve(code.clone()));
        let hash = keccak256(code);
        let fetcher = Fetcher::new(&FetchConfig::default()).unwrap();
        group.bench_function(format!("cold_start/{name}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let code = fetcher.fetch(&url, hash).await.unwrap();
                sandbox.compile(&code).unwrap()
            })
        });
        group.bench_function(format!("compile/{name}"), |b| b.iter(|| sandbox.compile(code).unwrap()));
    }

    let window_script = sandbox.compile(&time_window).unwrap();
    let window_input = input(time_window_args(), window_chain.block);
    group.bench_function("warm_run/time_window", |b| {
        b.to_async(&runtime).iter(|| sandbox.run(&window_script, &window_input, &window_chain))
    });
    let price_script = sandbox.compile(&price).unwrap();
    let price_input = input(price_args, price_table.block);
    group.bench_function("warm_run/price_deviation", |b| {
        b.to_async(&runtime).iter(|| sandbox.run(&price_script, &price_input, &price_table))
    });

    // Host-call overhead: (with calls - without) / 10,000.
    let chain = TableChain::at(common::block());
    let plain = input(Vec::new(), chain.block);
    for (label, with_call) in [("host_calls_10k/with_call", true), ("host_calls_10k/without_call", false)] {
        let script = sandbox.compile(&host_loop(10_000, with_call)).unwrap();
        group.bench_function(label, |b| b.to_async(&runtime).iter(|| sandbox.run(&script, &plain, &chain)));
    }
    group.finish();
}

criterion_group!(script, benches);
criterion_main!(script);
