//! The sandbox against well-behaved and hostile guests written in the text format: each hostile one ends with
//! its own clear reason, and the host keeps running.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use alloy::primitives::{address, bytes, Address, Bytes, B256, U256};
use common::{input, tight_limits, wat, TableChain};
use keeper_script::sandbox::HostFault;
use keeper_script::{CallResult, Limits, RunError, RunReport, Sandbox, ScriptOutcome};

const IMPORTS: &str = r#"
  (import "keeper_v1" "args_len" (func $args_len (result i32)))
  (import "keeper_v1" "args_read" (func $args_read (param i32)))
  (import "keeper_v1" "perform" (func $perform (param i32 i32)))
  (import "keeper_v1" "skip" (func $skip (param i32 i32)))
  (import "keeper_v1" "fail" (func $fail (param i32 i32)))
  (import "keeper_v1" "block_number" (func $block_number (result i64)))
  (import "keeper_v1" "block_timestamp" (func $block_timestamp (result i64)))
  (import "keeper_v1" "block_hash" (func $block_hash (param i32)))
  (import "keeper_v1" "job_id" (func $job_id (param i32)))
  (import "keeper_v1" "call" (func $call (param i32 i32 i32) (result i32)))
  (import "keeper_v1" "return_data_len" (func $return_data_len (result i32)))
  (import "keeper_v1" "return_data_read" (func $return_data_read (param i32)))
  (import "keeper_v1" "balance" (func $balance (param i32 i32)))
  (import "keeper_v1" "code_size" (func $code_size (param i32) (result i64)))
  (import "keeper_v1" "storage" (func $storage (param i32 i32 i32)))
  (import "keeper_v1" "log" (func $log (param i32 i32)))
"#;

/// A module with every import, one page of memory, and `body` as `run`'s body (plus `extra` items).
fn module(body: &str, extra: &str) -> Vec<u8> {
    wat(&format!(
        r#"(module {IMPORTS}
             (memory (export "memory") 1)
             {extra}
             (func (export "run") {body}))"#
    ))
}

async fn run_with(limits: Limits, code: &[u8], args: &[u8], chain: &TableChain) -> Result<RunReport, RunError> {
    let sandbox = Sandbox::new(limits);
    let script = sandbox.compile(code)?;
    sandbox.run(&script, &input(args), chain).await
}

async fn run(code: &[u8]) -> Result<RunReport, RunError> {
    run_with(tight_limits(), code, b"", &TableChain::at(common::block())).await
}

fn perform(report: &RunReport) -> &Bytes {
    match &report.outcome {
        ScriptOutcome::Perform { call_data } => call_data,
        other => panic!("expected perform, got {other:?}"),
    }
}

#[tokio::test]
async fn echoes_its_arguments_as_call_data() {
    let code = module("(call $args_read (i32.const 0)) (call $perform (i32.const 0) (call $args_len))", "");
    let chain = TableChain::at(common::block());
    let report = run_with(tight_limits(), &code, b"\x12\x34\x56", &chain).await.unwrap();
    assert_eq!(perform(&report), &bytes!("123456"));
    assert!(report.fuel_used > 0);
    // Fuel is deterministic: the same run costs the same.
    let again = run_with(tight_limits(), &code, b"\x12\x34\x56", &chain).await.unwrap();
    assert_eq!(again.fuel_used, report.fuel_used);
}

#[tokio::test]
async fn skips_with_a_reason_and_sees_the_reference_block() {
    // Skip with reason "n" if the block number is 1234 and its time 1700000000, else perform.
    let code = module(
        r#"(if (i32.and (i64.eq (call $block_number) (i64.const 1234))
                        (i64.eq (call $block_timestamp) (i64.const 1700000000)))
             (then (call $skip (i32.const 100) (i32.const 1))))
           (call $block_hash (i32.const 0)) (call $perform (i32.const 0) (i32.const 32))"#,
        r#"(data (i32.const 100) "n")"#,
    );
    let report = run(&code).await.unwrap();
    assert_eq!(report.outcome, ScriptOutcome::Skip { reason: "n".into() });

    let hash = module(
        "(call $block_hash (i32.const 0)) (call $job_id (i32.const 32)) (call $perform (i32.const 0) (i32.const 64))",
        "",
    );
    let report = run(&hash).await.unwrap();
    let data = perform(&report);
    assert_eq!(&data[..32], B256::repeat_byte(0xab).as_slice());
    assert_eq!(&data[32..], U256::from(7).to_be_bytes::<32>().as_slice());
}

#[tokio::test]
async fn chain_reads_are_answered_at_the_block_and_cost_fuel() {
    let target = address!("00000000000000000000000000000000000000aa");
    let mut chain = TableChain::at(common::block());
    chain.calls.insert((target, bytes!("abcd")), CallResult::Success(bytes!("0102030405")));
    chain.calls.insert((target, bytes!("dead")), CallResult::Reverted(bytes!("08c379a0")));
    chain.balances.insert(target, U256::from(5_000));
    chain.code_sizes.insert(target, 77);
    chain.storage.insert((target, B256::repeat_byte(1)), B256::repeat_byte(2));
    let extra = format!(
        r#"(data (i32.const 0) "{}") (data (i32.const 32) "\ab\cd") (data (i32.const 40) "\de\ad")
           (data (i32.const 64) "{}")"#,
        target.as_slice().iter().map(|b| format!("\\{b:02x}")).collect::<String>(),
        "\\01".repeat(32),
    );
    // Output at 200: status of call(abcd), return data (5 bytes), status of call(dead), balance (32), code size
    // (8, little-endian), storage word (32).
    let body = r#"
        (i32.store8 (i32.const 200) (call $call (i32.const 0) (i32.const 32) (i32.const 2)))
        (call $return_data_read (i32.const 201))
        (i32.store8 (i32.const 206) (call $call (i32.const 0) (i32.const 40) (i32.const 2)))
        (call $balance (i32.const 0) (i32.const 207))
        (i64.store (i32.const 239) (call $code_size (i32.const 0)))
        (call $storage (i32.const 0) (i32.const 64) (i32.const 247))
        (call $perform (i32.const 200) (i32.const 79))"#;
    let code = module(body, &extra);
    let report = run_with(tight_limits(), &code, b"", &chain).await.unwrap();
    let out = perform(&report);
    assert_eq!(out[0], 0, "call succeeded");
    assert_eq!(&out[1..6], &[1, 2, 3, 4, 5]);
    assert_eq!(out[6], 1, "call reverted");
    assert_eq!(&out[7..39], U256::from(5_000).to_be_bytes::<32>().as_slice());
    assert_eq!(&out[39..47], 77u64.to_le_bytes().as_slice());
    assert_eq!(&out[47..79], B256::repeat_byte(2).as_slice());
    assert_eq!(report.chain_reads, 5);
    assert!(report.fuel_used >= 5 * 20_000, "chain reads cost fuel: {}", report.fuel_used);
}

#[tokio::test]
async fn host_calls_cost_fuel() {
    let calls = |n: u32| {
        module(
            &format!(
                "(local $i i32) (loop $l (drop (call $block_number)) (local.set $i (i32.add (local.get $i) (i32.const 1)))
                   (br_if $l (i32.lt_u (local.get $i) (i32.const {n})))) (call $skip (i32.const 0) (i32.const 0))"
            ),
            "",
        )
    };
    let few = run(&calls(1)).await.unwrap().fuel_used;
    let many = run(&calls(1001)).await.unwrap().fuel_used;
    assert!(many - few >= 1000 * 100, "1000 more host calls cost {} more fuel", many - few);
}

#[tokio::test]
async fn infinite_loop_runs_out_of_fuel() {
    let error = run(&module("(loop $forever (br $forever))", "")).await.unwrap_err();
    assert!(matches!(error, RunError::OutOfFuel { limit: 5_000_000 }), "{error}");
    assert!(error.is_deterministic());
    assert_eq!(error.to_string(), "out of fuel: the run needs more than its 5000000 units");
}

#[tokio::test]
async fn infinite_loop_with_ample_fuel_hits_the_wall_clock() {
    let limits = Limits { fuel: 5_000_000_000, wall_clock_ms: 50, ..tight_limits() };
    let code = module("(loop $forever (br $forever))", "");
    let error = run_with(limits, &code, b"", &TableChain::at(common::block())).await.unwrap_err();
    assert!(matches!(error, RunError::WallClock { limit_ms: 50 }), "{error}");
    assert!(!error.is_deterministic());
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    // Grow a page at a time forever.
    let bomb = module("(loop $grow (drop (memory.grow (i32.const 1))) (br $grow))", "");
    let error = run(&bomb).await.unwrap_err();
    assert!(matches!(error, RunError::MemoryLimit { limit } if limit == 2 << 20), "{error}");
    // One huge growth, and a module declaring more memory than the limit.
    let huge = module("(drop (memory.grow (i32.const 60000))) (call $skip (i32.const 0) (i32.const 0))", "");
    assert!(matches!(run(&huge).await.unwrap_err(), RunError::MemoryLimit { .. }));
    let declared = wat(r#"(module (memory (export "memory") 1000) (func (export "run")))"#);
    let error = run(&declared).await.unwrap_err();
    assert!(matches!(error, RunError::MemoryLimit { .. }), "{error}");
}

#[tokio::test]
async fn deep_recursion_overflows_the_wasm_stack_not_the_hosts() {
    let code = module(
        "(call $down (i64.const 0))",
        "(func $down (param i64) (call $down (i64.add (local.get 0) (i64.const 1))))",
    );
    let error = run(&code).await.unwrap_err();
    assert!(matches!(error, RunError::StackOverflow { .. }), "{error}");
    // Recursion with large frames runs into the value stack limit first.
    let locals = "(local i64) ".repeat(2000);
    let wide = module("(call $wide)", &format!("(func $wide {locals} (call $wide))"));
    assert!(matches!(run(&wide).await.unwrap_err(), RunError::StackOverflow { .. }));
}

#[tokio::test]
async fn traps_end_the_run_with_the_trap() {
    let error = run(&module("unreachable", "")).await.unwrap_err();
    assert_eq!(error.to_string(), "trap: wasm `unreachable` instruction executed");
    let error = run(&module("(drop (i32.div_u (i32.const 1) (i32.const 0)))", "")).await.unwrap_err();
    assert_eq!(error.to_string(), "trap: integer divide by zero");
    let error = run(&module("(drop (i32.load (i32.const 70000)))", "")).await.unwrap_err();
    assert_eq!(error.to_string(), "trap: out of bounds memory access");
}

#[tokio::test]
async fn the_script_can_fail_with_its_own_message_or_give_no_result() {
    let error =
        run(&module("(call $fail (i32.const 0) (i32.const 4))", r#"(data (i32.const 0) "oops")"#)).await.unwrap_err();
    assert_eq!(error.to_string(), "the script failed: oops");
    let error = run(&module("", "")).await.unwrap_err();
    assert!(matches!(error, RunError::NoResult), "{error}");
}

#[tokio::test]
async fn huge_output_is_refused() {
    let limits = Limits { memory_bytes: 4 << 20, ..tight_limits() };
    let code = wat(&format!(
        r#"(module {IMPORTS} (memory (export "memory") 20) (func (export "run") (call $perform (i32.const 0) (i32.const 1048576))))"#
    ));
    let error = run_with(limits, &code, b"", &TableChain::at(common::block())).await.unwrap_err();
    assert!(
        matches!(error, RunError::Host(HostFault::TooLong { call: "perform", len: 1_048_576, limit: 16_384, .. })),
        "{error}"
    );
    let long_reason = module("(call $skip (i32.const 0) (i32.const 1000))", "");
    assert!(matches!(run(&long_reason).await.unwrap_err(), RunError::Host(HostFault::TooLong { call: "skip", .. })));
}

#[tokio::test]
async fn garbage_arguments_to_host_calls_fail_the_script_cleanly() {
    let cases: &[(&str, &str)] = &[
        ("(call $args_read (i32.const -1))", "args_read"),
        ("(call $perform (i32.const 65530) (i32.const 100))", "perform"),
        ("(call $perform (i32.const -8) (i32.const 16))", "perform"),
        ("(call $block_hash (i32.const 65535))", "block_hash"),
        ("(drop (call $call (i32.const 65530) (i32.const 0) (i32.const 0)))", "call"),
        ("(drop (call $call (i32.const 0) (i32.const 0) (i32.const -1)))", "call"),
        ("(drop (call $call (i32.const 0) (i32.const 60000) (i32.const 10000)))", "call"),
        ("(call $balance (i32.const 0) (i32.const 65520))", "balance"),
        ("(call $storage (i32.const 0) (i32.const 65535) (i32.const 0))", "storage"),
        ("(call $log (i32.const 0) (i32.const 2147483647))", "log"),
        ("(call $skip (i32.const 2147483647) (i32.const 10))", "skip"),
    ];
    for (body, call) in cases {
        let error = run(&module(body, "")).await.unwrap_err();
        match &error {
            RunError::Host(HostFault::OutOfBounds { call: c, .. } | HostFault::TooLong { call: c, .. }) => {
                assert_eq!(c, call, "{body}: {error}")
            }
            other => panic!("{body}: expected a host fault, got {other}"),
        }
        assert!(error.to_string().starts_with(&format!("host call `{call}`")), "{error}");
    }
}

#[tokio::test]
async fn too_many_chain_reads_are_refused() {
    let target = Address::ZERO;
    let mut chain = TableChain::at(common::block());
    chain.code_sizes.insert(target, 1);
    let limits = Limits { max_chain_reads: 3, ..tight_limits() };
    let code = module("(loop $l (drop (call $code_size (i32.const 0))) (br $l))", "");
    let error = run_with(limits, &code, b"", &chain).await.unwrap_err();
    assert!(matches!(error, RunError::Host(HostFault::TooManyChainReads { limit: 3, .. })), "{error}");
}

#[tokio::test]
async fn a_failing_node_is_not_the_scripts_fault() {
    let code = module("(drop (call $code_size (i32.const 0))) (call $skip (i32.const 0) (i32.const 0))", "");
    let error = run(&code).await.unwrap_err();
    assert!(matches!(error, RunError::Chain(_)), "{error}");
    assert!(!error.is_deterministic());
}

#[test]
fn modules_outside_the_interface_are_refused_at_compile_time() {
    let sandbox = Sandbox::new(tight_limits());
    let reason = |code: Vec<u8>| sandbox.compile(&code).map(|_| ()).unwrap_err().to_string();
    // An import the host does not have (AssemblyScript's default abort, WASI).
    let env_abort = wat(
        r#"(module (import "env" "abort" (func (param i32 i32 i32 i32))) (memory (export "memory") 1) (func (export "run")))"#,
    );
    assert_eq!(
        reason(env_abort),
        "the module does not follow the keeper_v1 interface: it imports `env.abort`, which the host does not provide"
    );
    let wasi = wat(
        r#"(module (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32))) (memory (export "memory") 1) (func (export "run")))"#,
    );
    assert!(reason(wasi).contains("wasi_snapshot_preview1.random_get"));
    let unknown = wat(
        r#"(module (import "keeper_v1" "now" (func (result i64))) (memory (export "memory") 1) (func (export "run")))"#,
    );
    assert!(reason(unknown).contains("`keeper_v1.now`"));
    let wrong_type = wat(
        r#"(module (import "keeper_v1" "args_len" (func (result i64))) (memory (export "memory") 1) (func (export "run")))"#,
    );
    assert!(reason(wrong_type).contains("`keeper_v1.args_len`"));
    let imported_memory = wat(r#"(module (import "keeper_v1" "memory" (memory 1)) (func (export "run")))"#);
    assert!(reason(imported_memory).contains("`keeper_v1.memory`"));
    // Exports.
    assert!(reason(wat(r#"(module (func (export "run")))"#)).contains("no memory named `memory`"));
    assert!(reason(wat(r#"(module (memory (export "memory") 1))"#)).contains("no function `run`"));
    assert!(reason(wat(r#"(module (memory (export "memory") 1) (func (export "run") (param i32)))"#)).contains("`run`"));
    // A start function would run outside the driver's metering; not a module at all.
    let start = wat(r#"(module (memory (export "memory") 1) (func $s) (start $s) (func (export "run")))"#);
    assert!(reason(start).starts_with("invalid module"));
    assert!(reason(b"\0asm garbage".to_vec()).starts_with("invalid module"));
}

#[tokio::test]
async fn initialize_runs_before_run() {
    let code = module(
        "(call $perform (i32.const 0) (i32.const 1))",
        r#"(func (export "_initialize") (i32.store8 (i32.const 0) (i32.const 42)))"#,
    );
    assert_eq!(perform(&run(&code).await.unwrap()), &bytes!("2a"));
}

/// NaN bits differ by platform for the same arithmetic in plain hardware (x86 produces a negative quiet NaN
/// from 0/0, ARM a positive one; payloads propagate differently). The deterministic profile canonicalises
/// every NaN an arithmetic instruction produces, so each keeper computes the same bits.
#[tokio::test]
async fn nan_bits_are_canonical() {
    let code = module(
        r#"
        ;; 0/0 in f32 and f64, sqrt(-1), and a NaN with a payload and the sign set passed through an add.
        (i32.store (i32.const 0) (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0))))
        (i64.store (i32.const 4) (i64.reinterpret_f64 (f64.div (f64.const 0) (f64.const 0))))
        (i64.store (i32.const 12) (i64.reinterpret_f64 (f64.sqrt (f64.const -1))))
        (i32.store (i32.const 20) (i32.reinterpret_f32 (f32.add (f32.reinterpret_i32 (i32.const 0xffc01234)) (f32.const 1))))
        (i64.store (i32.const 24) (i64.reinterpret_f64 (f64.promote_f32 (f32.reinterpret_i32 (i32.const 0x7fa00001)))))
        (call $perform (i32.const 0) (i32.const 32))"#,
        "",
    );
    let report = run(&code).await.unwrap();
    let out = perform(&report);
    let f32_bits = |at: usize| u32::from_le_bytes(out[at..at + 4].try_into().unwrap());
    let f64_bits = |at: usize| u64::from_le_bytes(out[at..at + 8].try_into().unwrap());
    assert_eq!(f32_bits(0), 0x7fc0_0000);
    assert_eq!(f64_bits(4), 0x7ff8_0000_0000_0000);
    assert_eq!(f64_bits(12), 0x7ff8_0000_0000_0000);
    assert_eq!(f32_bits(20), 0x7fc0_0000);
    assert_eq!(f64_bits(24), 0x7ff8_0000_0000_0000);
}
