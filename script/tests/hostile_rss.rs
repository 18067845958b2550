//! 1,000 hostile runs in one process: every one ends with its reason, and the resident set stays bounded
//! (a store, instance or memory kept per run would grow it by megabytes a run: each memory bomb takes 16 MiB).
//! Alone in its test binary so no other test's allocations blur the figures; run with `--nocapture` to see them.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::{input, wat, TableChain};
use keeper_script::{Limits, RunError, Sandbox};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const IMPORTS: &str = r#"(import "keeper_v1" "perform" (func $perform (param i32 i32)))
                         (import "keeper_v1" "args_read" (func $args_read (param i32)))"#;

fn hostile_modules() -> Vec<(&'static str, Vec<u8>)> {
    let module = |body: &str, extra: &str| {
        wat(&format!(r#"(module {IMPORTS} (memory (export "memory") 1) {extra} (func (export "run") {body}))"#))
    };
    vec![
        ("infinite loop", module("(loop $l (br $l))", "")),
        ("memory bomb", module("(loop $l (drop (memory.grow (i32.const 16))) (br $l))", "")),
        ("deep recursion", module("(call $r)", "(func $r (call $r))")),
        ("trap", module("unreachable", "")),
        ("huge output", module("(call $perform (i32.const 0) (i32.const 65536))", "")),
        ("garbage pointer", module("(call $args_read (i32.const -100))", "")),
        ("floats", module("(drop (f64.sqrt (f64.const -1))) (unreachable)", "")),
    ]
}

#[tokio::test]
async fn a_thousand_hostile_runs_keep_memory_bounded() {
    let limits = Limits { fuel: 2_000_000, memory_bytes: 16 << 20, ..Limits::default() };
    let sandbox = Sandbox::new(limits);
    let modules: Vec<_> =
        hostile_modules().into_iter().map(|(name, code)| (name, sandbox.compile(&code).unwrap())).collect();
    let chain = TableChain::at(common::block());
    let input = input(b"");
    let start = rss_kib();
    let mut after_warmup = start;
    for i in 0..1_000 {
        let (name, script) = &modules[i % modules.len()];
        let error = sandbox.run(script, &input, &chain).await.unwrap_err();
        let expected = match *name {
            "infinite loop" => matches!(error, RunError::OutOfFuel { .. }),
            "memory bomb" => matches!(error, RunError::MemoryLimit { .. }),
            "deep recursion" => matches!(error, RunError::StackOverflow { .. }),
            "trap" | "floats" => matches!(error, RunError::Trap { .. }),
            _ => matches!(error, RunError::Host(_)),
        };
        assert!(expected, "{name}: {error}");
        if i == 99 {
            after_warmup = rss_kib();
        }
    }
    let end = rss_kib();
    eprintln!(
        "hostile runs: RSS {start} KiB at start, {after_warmup} KiB after 100 runs, {end} KiB after 1000 runs \
         (growth over the last 900: {} KiB)",
        end.saturating_sub(after_warmup)
    );
    // A leak of one bomb's memory per run would be 128 bombs x 16 MiB over the last 900 runs.
    assert!(end.saturating_sub(after_warmup) < 32 * 1024, "RSS grew from {after_warmup} KiB to {end} KiB");
}
