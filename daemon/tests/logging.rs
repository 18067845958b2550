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
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeper_devnet::pipeline::{create_sample_jobs, free_port, performed_tasks, write_operator_files};
use keeper_devnet::{deploy_network, onboard_devnet_operator, NetworkConfig};
use keeper_shared::api::FULL_MAGNITUDE;
use keeper_shared::bls::SecretKey;
use keeper_shared::deployment::Deployment;

/// How long the daemon gets to get a batch performed (it needs a few blocks at one a second).
const SOON: Duration = Duration::from_secs(90);

/// A `keeperd run` owned by the test: SIGTERM on [`Daemon::stop`], SIGKILL on drop.
struct Daemon {
    child: Option<Child>,
}

impl Daemon {
    fn start(config: &Path, args: &[&str], stderr: &Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_keeperd"))
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("KEEPER_KEYSTORE_PASSWORD")
            .env_remove("KEEPERD_LOG_FORMAT")
            .env_remove("KEEPERD_LOG_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(stderr).unwrap())
            .spawn()
            .unwrap();
        Self { child: Some(child) }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// SIGTERM, as a service manager stops it, so the file writer is flushed by the guard.
    /// Whatever happens here, the child stays owned: `Drop` kills it if it has not exited.
    fn stop(&mut self) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("keeperd did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until a task is performed after block `from`, failing if the daemon exits first.
async fn wait_performed(provider: &DynProvider, deployment: &Deployment, from: u64, daemon: &mut Daemon, log: &Path) {
    let deadline = Instant::now() + SOON;
    loop {
        assert!(daemon.running(), "keeperd exited early; its stderr:\n{}", tail(log));
        let head = provider.get_block_number().await.unwrap();
        if head > from
            && !performed_tasks(provider, deployment.avs.task_manager, from + 1, head).await.unwrap().is_empty()
        {
            return;
        }
        assert!(Instant::now() < deadline, "no task performed within {SOON:?}; keeperd's stderr:\n{}", tail(log));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn tail(path: &Path) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
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
    let owner_signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let owner = owner_signer.address();
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(owner_signer)).connect_http(anvil.endpoint_url()).erased();
    let deployment = deploy_network(&provider, &NetworkConfig::devnet(owner)).await.unwrap();
    let deployment_file = dir.path().join("deployment.json");
    deployment.write(&deployment_file).unwrap();

    let signer = PrivateKeySigner::from(anvil.keys()[1].clone());
    let operator = signer.address();
    let operator_provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer.clone())).connect_http(anvil.endpoint_url());
    let key = SecretKey::random(&mut rand::thread_rng());
    let stake = U256::from(100u64) * U256::from(FULL_MAGNITUDE);
    onboard_devnet_operator(&provider, &operator_provider, operator, &deployment, &key, stake).await.unwrap();
    let operator_dir = dir.path().join("operator-0");
    let config = write_operator_files(
        &operator_dir,
        &signer,
        &key,
        anvil.endpoint_url().as_str(),
        &deployment_file,
        &["keeper", "aggregator", "challenger"],
        &format!("127.0.0.1:{}", free_port().unwrap()),
    )
    .unwrap();
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
    let mut daemon = Daemon::start(&config, &["--log-level", "trace"], &text_stderr);
    wait_performed(&provider, &deployment, from, &mut daemon, &text_stderr).await;
    assert!(daemon.stop().success(), "keeperd exits cleanly on SIGTERM:\n{}", tail(&text_stderr));

    // Run 2: JSON at debug, its files in a directory given by flag.
    let json_stderr = dir.path().join("stderr-json.log");
    let json_dir = dir.path().join("json-logs");
    let from = provider.get_block_number().await.unwrap();
    let json_dir_arg = json_dir.to_str().unwrap();
    let mut daemon = Daemon::start(
        &config,
        &["--log-level", "debug", "--log-format", "json", "--log-dir", json_dir_arg],
        &json_stderr,
    );
    wait_performed(&provider, &deployment, from, &mut daemon, &json_stderr).await;
    assert!(daemon.stop().success(), "keeperd exits cleanly on SIGTERM:\n{}", tail(&json_stderr));

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
