//! keeperd's logs against the real binary: one operator (keeper, aggregator and challenger) on
//! anvil with the real EigenLayer core and the AVS, unlocking its keystores with a password and
//! signing and submitting batches for the sample jobs, run once at `trace` level in text and once
//! at `debug` in JSON. Neither stderr nor the daily files may contain the password, the BLS secret
//! key or the ECDSA private key (as hex or as a byte list); the files must exist where the README
//! says; JSON mode must write one JSON object per line on both outputs.
//!
//! The test owns both daemons and anvil (killed on drop). On failure the temp dir is kept and its
//! path printed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use alloy::providers::{DynProvider, Provider};
use keeper_devnet::operators::{DeployedDevnet, DevnetOperators, OperatorPlan};
use keeper_devnet::pipeline::{create_sample_jobs, performed_tasks};
use keeper_devnet::Daemon;
use keeper_shared::deployment::Deployment;

/// How long the daemon gets to get a batch performed (it needs a few blocks at one a second).
const SOON: Duration = Duration::from_secs(90);

/// `keeperd run --config <config> <args>` (the harness's guard: SIGKILL on drop), its logging set by
/// the config and `args` alone, its stderr into `stderr`.
fn start_daemon(config: &Path, args: &[&str], stderr: &Path) -> Daemon {
    Daemon::builder(Path::new(env!("CARGO_BIN_EXE_keeperd")))
        .config(config)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("KEEPERD_LOG_FORMAT")
        .env_remove("KEEPERD_LOG_DIR")
        .log(stderr)
        .spawn()
        .unwrap()
}

/// SIGTERM, as a service manager stops it, so the file writer is flushed by the guard.
fn stop(daemon: &mut Daemon) -> ExitStatus {
    daemon.stop(Duration::from_secs(30)).expect("keeperd stops within 30 s of SIGTERM")
}

/// Waits until a task is performed after block `from`, failing if the daemon exits first.
async fn wait_performed(provider: &DynProvider, deployment: &Deployment, from: u64, daemon: &mut Daemon) {
    let deadline = Instant::now() + SOON;
    loop {
        assert!(daemon.running(), "keeperd exited early; its stderr:\n{}", daemon.log_tail(40));
        let head = provider.get_block_number().await.unwrap();
        if head > from
            && !performed_tasks(provider, deployment.avs.task_manager, from + 1, head).await.unwrap().is_empty()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no task performed within {SOON:?}; keeperd's stderr:\n{}",
            daemon.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The daily log files in `dir` (`keeperd.log.YYYY-MM-DD`), not the `keeperd.log` symlink.
fn daily_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.strip_prefix("keeperd.log.").is_some_and(|date| date.len() == 10) && p.is_file()
        })
        .collect();
    files.sort();
    files
}

/// Each secret in the forms a careless `{}`/`{:?}` could print it: hex (any case, with or without
/// `0x`) and Rust's byte-slice debug form.
fn secret_forms(name: &str, bytes: &[u8]) -> Vec<(String, String)> {
    vec![(format!("{name} (hex)"), hex::encode(bytes)), (format!("{name} (bytes)"), format!("{bytes:?}"))]
}

fn assert_no_secrets(path: &Path, secrets: &[(String, String)]) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).to_lowercase();
    for (name, secret) in secrets {
        assert!(!text.contains(secret.as_str()), "{} contains the {name}", path.display());
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_logged_at_trace_level_and_json_mode_writes_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let anvil = common::anvil();
    let devnet = DeployedDevnet::deploy(&anvil, dir.path()).await.unwrap();
    let operators = DevnetOperators::onboard(&anvil, &devnet, &OperatorPlan::http(1), |_| Ok(())).await.unwrap();
    let DeployedDevnet { owner, provider, deployment, .. } = devnet;
    let (signer, key, config) =
        (&operators.operators[0].signer, &operators.operators[0].key, &operators.operators[0].config);
    let operator_dir = config.parent().unwrap();
    let operator = signer.address();
    create_sample_jobs(&provider, &deployment, owner, 2).await.unwrap();
    provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,)).await.unwrap();

    let password = std::fs::read_to_string(operator_dir.join("password")).unwrap();
    let mut secrets = vec![("keystore password".to_owned(), password.trim().to_lowercase())];
    secrets.extend(secret_forms("BLS secret key", key.to_bytes().as_slice()));
    secrets.extend(secret_forms("ECDSA private key", signer.to_bytes().as_slice()));
    assert!(secrets.iter().all(|(_, s)| s.len() >= 32), "every secret is long enough not to occur by chance");

    // Run 1: text, everything at trace level (every crate, not only keeperd).
    let text_stderr = dir.path().join("stderr-text.log");
    let from = provider.get_block_number().await.unwrap();
    let mut daemon = start_daemon(config, &["--log-level", "trace"], &text_stderr);
    wait_performed(&provider, &deployment, from, &mut daemon).await;
    assert!(stop(&mut daemon).success(), "keeperd exits cleanly on SIGTERM:\n{}", daemon.log_tail(40));

    // Run 2: JSON at debug, its files in a directory given by flag.
    let json_stderr = dir.path().join("stderr-json.log");
    let json_dir = dir.path().join("json-logs");
    let from = provider.get_block_number().await.unwrap();
    let json_dir_arg = json_dir.to_str().unwrap();
    let mut daemon = start_daemon(
        config,
        &["--log-level", "debug", "--log-format", "json", "--log-dir", json_dir_arg],
        &json_stderr,
    );
    wait_performed(&provider, &deployment, from, &mut daemon).await;
    assert!(stop(&mut daemon).success(), "keeperd exits cleanly on SIGTERM:\n{}", daemon.log_tail(40));

    // The text run's files are where the README says: `<data_dir>/logs/keeperd.log.YYYY-MM-DD`,
    // with `keeperd.log` linking to the current one.
    let text_dir = operator_dir.join("data/logs");
    let text_files = daily_files(&text_dir);
    assert!(!text_files.is_empty(), "no daily log file in {}", text_dir.display());
    assert_eq!(std::fs::canonicalize(text_dir.join("keeperd.log")).unwrap(), text_files.last().unwrap().clone());
    let json_files = daily_files(&json_dir);
    assert!(!json_files.is_empty(), "no daily log file in {}", json_dir.display());

    let operator_hex = format!("{operator:x}").to_lowercase();
    for (path, json) in text_files
        .iter()
        .map(|p| (p.clone(), false))
        .chain([(text_stderr.clone(), false), (json_stderr.clone(), true)])
        .chain(json_files.iter().map(|p| (p.clone(), true)))
    {
        let text = assert_no_secrets(&path, &secrets);
        // The scan read real logs: the daemon's start, with the operator's address, is in each.
        assert!(text.contains("keeperd starting"), "{} lacks the start event", path.display());
        assert!(text.contains(&operator_hex), "{} never names the operator {operator_hex}", path.display());
        if json {
            let raw = std::fs::read_to_string(&path).unwrap();
            for (n, line) in raw.lines().enumerate() {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{} line {}: not JSON ({e}): {line}", path.display(), n + 1));
                let object =
                    value.as_object().unwrap_or_else(|| panic!("{} line {}: not an object", path.display(), n + 1));
                for field in ["timestamp", "level", "target", "fields"] {
                    assert!(object.contains_key(field), "{} line {}: no `{field}`: {line}", path.display(), n + 1);
                }
            }
            assert!(raw.contains("\"level\":\"DEBUG\""), "{}: no debug event at --log-level debug", path.display());
        } else {
            assert!(text.contains(" trace "), "{}: no trace event at --log-level trace", path.display());
            assert!(!text.trim_start().starts_with('{'), "{}: text mode wrote JSON", path.display());
        }
    }
    drop(anvil);
}
