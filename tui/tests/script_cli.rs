//! `keeperctl script run` and `keeperctl job create --script` against anvil with the network deployed, on
//! the SDK's time-window example (built by `make setup`) and on modules that break the host interface.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use alloy::network::EthereumWallet;
use alloy::primitives::{keccak256, Bytes};
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use keeper_devnet::{deploy_network, NetworkConfig};
use keeper_shared::api::{CreateJobResponse, JobView};
use keeper_shared::job::Action;

const TARGET: &str = "0x1111111111111111111111111111111111111111";

fn keeperctl(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keeperctl"));
    command.args(args).env_remove("KEEPERD_SOCKET").env_remove("ETH_PRIVATE_KEY").stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let Output { status, stdout, stderr } = command.output().unwrap();
    (status.code().unwrap_or(-1), String::from_utf8(stdout).unwrap(), String::from_utf8(stderr).unwrap())
}

fn example(name: &str) -> PathBuf {
    let path = common::repo().join(format!("sdk/assemblyscript/build/{name}.wasm"));
    assert!(path.exists(), "{} (run `make setup`)", path.display());
    path
}

/// The time-window example's arguments: a window over the whole day, so it always performs `call_data`.
fn all_day(call_data: &[u8]) -> String {
    format!("{}", Bytes::from((0u64, 24u64, false, Bytes::copy_from_slice(call_data)).abi_encode_params()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_run_and_job_create_with_a_script() {
    let anvil = keeper_devnet::start_anvil(&common::anvil_binary()).expect("anvil (run `make setup`)");
    let rpc = anvil.endpoint();
    let module = example("time_window");
    let module_arg = module.to_str().unwrap();
    let args = all_day(&[0xd0, 0x9d, 0xe0, 0x8a]);

    // Human output: the result, fuel, time.
    let (code, stdout, stderr) = keeperctl(&["script", "run", module_arg, "--rpc-url", &rpc, "--args", &args], &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("result: perform, call data 0xd09de08a (4 bytes)"), "{stdout}");
    assert!(stdout.contains("fuel: ") && stdout.contains("time: ") && stdout.contains("block: 0 "), "{stdout}");

    // JSON, at a given block.
    let (code, stdout, stderr) =
        keeperctl(&["--json", "script", "run", module_arg, "--rpc-url", &rpc, "--args", &args, "--block", "0"], &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["perform"], true);
    assert_eq!(summary["call_data"], "0xd09de08a");
    assert_eq!(summary["code_hash"], keccak256(std::fs::read(&module).unwrap()).to_string());
    let fuel = summary["fuel_used"].as_u64().unwrap();
    assert!(fuel > 0 && fuel < summary["fuel_limit"].as_u64().unwrap(), "{summary}");

    // The script's own failure (arguments it cannot decode) is exit 1 with its reason; a block the chain
    // does not have is a usage error.
    let (code, _, stderr) = keeperctl(&["script", "run", module_arg, "--rpc-url", &rpc], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the script failed"), "{stderr}");
    let (code, _, stderr) = keeperctl(&["script", "run", module_arg, "--rpc-url", &rpc, "--block", "999"], &[]);
    assert_eq!(code, 2, "{stderr}");

    // Modules that do not follow the host interface are refused before anything runs.
    let dir = tempfile::tempdir().unwrap();
    for (name, wat, expected) in [
        (
            "bad_import.wasm",
            r#"(module (import "env" "abort" (func)) (memory (export "memory") 1) (func (export "run")))"#,
            "which the host does not provide",
        ),
        ("no_run.wasm", r#"(module (memory (export "memory") 1))"#, "exports no function `run`"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
        let (code, _, stderr) = keeperctl(&["script", "run", path.to_str().unwrap(), "--rpc-url", &rpc], &[]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        let (code, _, stderr) = keeperctl(
            &[
                "job",
                "create",
                "--target",
                TARGET,
                "--interval",
                "1m",
                "--max-fee",
                "0.01ether",
                "--script",
                path.to_str().unwrap(),
                "--code-url",
                "https://example.org/job.wasm",
                "--no-dry-run",
            ],
            &[],
        );
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("--script") && stderr.contains(expected), "{stderr}");
    }

    // job create --script, straight on chain: the code hash computed, the dry run printed, the job registered.
    let signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer.clone())).connect_http(anvil.endpoint_url());
    let deployment = deploy_network(&provider, &NetworkConfig::devnet(signer.address())).await.unwrap();
    let deployment_file = dir.path().join("deployment.json");
    deployment.write(&deployment_file).unwrap();
    let key = format!("0x{}", hex::encode(anvil.keys()[3].to_bytes()));
    let env = [("ETH_PRIVATE_KEY", key.as_str()), ("KEEPER_DEPLOYMENT", deployment_file.to_str().unwrap())];
    let create = |extra: &[&str]| {
        let mut full = vec![
            "job",
            "create",
            "--target",
            TARGET,
            "--interval",
            "1m",
            "--max-fee",
            "0.01ether",
            "--script",
            module_arg,
            "--code-url",
            "https://example.org/time_window.wasm",
            "--rpc-url",
            &rpc,
        ];
        full.extend_from_slice(extra);
        keeperctl(&full, &env)
    };
    let (code, stdout, stderr) = create(&["--args", &args]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("dry run of") && stderr.contains("result: perform, call data 0xd09de08a"), "{stderr}");
    let (code, stdout, _) = keeperctl(&["--json", "job", "show", "1", "--rpc-url", &rpc], &env);
    assert_eq!(code, 0);
    let job: JobView = serde_json::from_str(&stdout).unwrap();
    let Action::Script { args: job_args, code_url, code_hash, .. } = job.spec.action else { panic!("{job:?}") };
    assert_eq!(code_hash, keccak256(std::fs::read(&module).unwrap()));
    assert_eq!(code_url, "https://example.org/time_window.wasm");
    assert_eq!(job_args.to_string(), args);

    // A dry run that fails registers nothing.
    let (code, _, stderr) = create(&["--json"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, stdout, _) = keeperctl(&["--json", "job", "show", "2", "--rpc-url", &rpc], &env);
    assert_eq!(code, 4, "{stdout}");
    let created: CreateJobResponse = {
        let (code, stdout, stderr) = create(&["--json", "--no-dry-run"]);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    assert_eq!(created.job_id, alloy::primitives::U256::from(2u64));
}
