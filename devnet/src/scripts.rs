//! The devnet's script jobs: the SDK's example modules (`sdk/assemblyscript/build/*.wasm`, built by
//! `make setup`) served over HTTP from 127.0.0.1 by a server the devnet owns, and one script job per
//! example against the sample targets, so keepers fetch, hash-check, cache and run them as they would
//! any job's code.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::{SolCall, SolValue};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use eyre::{eyre, WrapErr};
use keeper_shared::contracts::{SampleCounter, SamplePriceMirror};
use keeper_shared::deployment::Deployment;
use tokio_util::sync::CancellationToken;

use crate::jobs;
use crate::pipeline::{SampleJob, Samples};
use keeperd::jobs::{Action, JobSpec, Trigger};

/// The SDK's examples the devnet runs, by file stem.
pub const EXAMPLES: [&str; 2] = ["time_window", "price_deviation"];

/// Where `make setup` builds the SDK's examples in this source tree (a devnet is run from a checkout).
pub fn default_examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/assemblyscript/build")
}

/// A module served by the [`ScriptServer`].
#[derive(Debug, Clone)]
pub struct ServedModule {
    pub name: String,
    pub url: String,
    pub code_hash: B256,
}

/// An HTTP server on 127.0.0.1 (a free port) serving modules at `/scripts/<name>.wasm`; stopped when
/// dropped (or with [`ScriptServer::stop`]).
#[derive(Debug)]
pub struct ScriptServer {
    address: SocketAddr,
    modules: Vec<ServedModule>,
    shutdown: CancellationToken,
}

impl ScriptServer {
    /// Serves `modules` (name, code).
    pub async fn start(modules: Vec<(String, Vec<u8>)>) -> eyre::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.wrap_err("binding the script server")?;
        let address = listener.local_addr()?;
        let served = modules
            .iter()
            .map(|(name, code)| ServedModule {
                name: name.clone(),
                url: format!("http://{address}/scripts/{name}.wasm"),
                code_hash: keccak256(code),
            })
            .collect();
        let files: Arc<HashMap<String, Bytes>> =
            Arc::new(modules.into_iter().map(|(name, code)| (format!("{name}.wasm"), Bytes::from(code))).collect());
        let router = Router::new().route("/scripts/{file}", get(serve_module)).with_state(files);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await;
            if let Err(error) = served {
                tracing::warn!(%error, "devnet: the script server stopped");
            }
        });
        Ok(Self { address, modules: served, shutdown })
    }

    /// Reads the examples from `dir` and serves them.
    pub async fn examples(dir: &Path) -> eyre::Result<Self> {
        let mut modules = Vec::new();
        for name in EXAMPLES {
            let path = dir.join(format!("{name}.wasm"));
            let code = std::fs::read(&path).wrap_err_with(|| {
                format!("reading the script example {} (built by `make setup`, or `make sdk`)", path.display())
            })?;
            modules.push((name.to_owned(), code));
        }
        Self::start(modules).await
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn module(&self, name: &str) -> Option<&ServedModule> {
        self.modules.iter().find(|m| m.name == name)
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn serve_module(State(files): State<Arc<HashMap<String, Bytes>>>, UrlPath(file): UrlPath<String>) -> Response {
    match files.get(&file) {
        Some(code) => ([(header::CONTENT_TYPE, "application/wasm")], code.0.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no module {file}\n")).into_response(),
    }
}

/// The script jobs' price target: a mirror of the sample oracle of its own, so that only the script job
/// syncs it (the sample event job syncs the other one at every answer).
pub async fn deploy_script_mirror<P: Provider>(provider: &P, owner: Address, oracle: Address) -> eyre::Result<Address> {
    Ok(*SamplePriceMirror::deploy(provider, owner, oracle).await?.address())
}

/// The spec of an example's job: `time_window` calls `counter.increment()` inside a window that spans the
/// whole day (so every task performs); `price_deviation` syncs `mirror` once the oracle moved more than
/// 0.01% (the devnet moves it about 0.05% every few seconds).
pub fn example_spec(
    module: &ServedModule,
    trigger: Trigger,
    counter: Address,
    oracle: Address,
    mirror: Address,
) -> eyre::Result<JobSpec> {
    let (target, args) = match module.name.as_str() {
        "time_window" => {
            let increment = Bytes::from(SampleCounter::incrementCall {}.abi_encode());
            (counter, (0u64, 24u64, false, increment).abi_encode_params())
        }
        "price_deviation" => (mirror, (oracle, mirror, 1u64).abi_encode_params()),
        other => return Err(eyre!("no devnet job for the script {other}")),
    };
    let action =
        Action::Script { target, args: args.into(), code_url: module.url.clone(), code_hash: module.code_hash };
    Ok(JobSpec { trigger, action, gas_limit: 300_000, max_fee: 10u128.pow(16), expiry: None })
}

/// One script job per example, on an interval of `interval_secs`, added to `samples.jobs`.
pub async fn create_example_jobs<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    owner: Address,
    samples: &mut Samples,
    server: &ScriptServer,
    interval_secs: u64,
) -> eyre::Result<Vec<SampleJob>> {
    let (_, now) = jobs::head(provider).await?;
    let mirror = deploy_script_mirror(provider, owner, samples.oracle).await?;
    let mut jobs = Vec::new();
    for (name, label) in [
        ("time_window", "script: time window, counter.increment() from 00:00 to 24:00 UTC"),
        ("price_deviation", "script: price deviation, mirror.sync() when the oracle moved > 0.01%"),
    ] {
        let module = server.module(name).ok_or_else(|| eyre!("the script server has no {name}"))?;
        let trigger = Trigger::Interval { start: now, period: interval_secs };
        let spec = example_spec(module, trigger, samples.counter, samples.oracle, mirror)?;
        let deposit = U256::from(jobs::ONE_ETHER);
        let id = jobs::create_allowed_job(provider, deployment.avs.job_manager, &spec, deposit).await?.id;
        let job = SampleJob { id, name: label };
        samples.jobs.push(job.clone());
        jobs.push(job);
    }
    Ok(jobs)
}
