//! The devnet: a throwaway chain with the real EigenLayer core, our AVS, and keepers registered
//! through EigenLayer with BLS keys, each running its own `keeperd`, performing sample jobs of every
//! kind through BLS-signed batches.

mod anvil;
mod batch_demo;
pub mod faucet;
mod network;
pub mod pipeline;
pub mod scripts;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use eyre::{eyre, WrapErr};
use keeper_shared::bls::{PublicKey, SecretKey};
use keeper_shared::contracts::BlsKeyRegistry;

pub use anvil::start as start_anvil;
pub use batch_demo::{run_batch_demo, BatchDemoReport};
pub use network::{
    deploy_devnet_core, deploy_network, mine_blocks, onboard_devnet_operator, DevnetCore, NetworkConfig,
    DEVNET_METADATA_URI, FULL_MAGNITUDE,
};

/// anvil's default number of funded accounts: one deploys and owns, the rest can be keepers.
const ANVIL_ACCOUNTS: usize = 10;

/// Blocks a devnet proposer or submitter has before the next takes over (one block a second).
const DEVNET_TAKEOVER_BLOCKS: u64 = 2;

/// What `keeperd devnet` starts.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The anvil binary.
    pub anvil: PathBuf,
    /// The keeperd binary each operator runs.
    pub keeperd: PathBuf,
    /// How many keepers register and run a daemon (at most 9).
    pub keepers: usize,
    /// Where the deployment file, and each operator's keys, config, database and log, are written.
    pub dir: PathBuf,
    /// Seconds between the interval job's tasks.
    pub interval_secs: u64,
    /// Stop once every sample job was performed this many times.
    pub until_performed: Option<u64>,
    /// Stop after this long (fails if `until_performed` was not reached by then).
    pub duration: Duration,
    /// Where the SDK's example modules are (`sdk/assemblyscript/build`); served to the keepers for the
    /// devnet's script jobs.
    pub script_examples: PathBuf,
    /// How operators exchange proposals and signatures: P2P (every operator proposes and submits by
    /// the rotation) or HTTP (operator 0 aggregates).
    pub transport: crate::config::Transport,
}

/// Starts anvil, deploys and onboards, runs the keepers on sample jobs, and stops everything, also
/// on Ctrl-C or SIGTERM. `None` when interrupted.
pub async fn run(config: &DevnetConfig, out: &mut impl Write) -> eyre::Result<Option<pipeline::PipelineRun>> {
    if config.keepers == 0 || config.keepers >= ANVIL_ACCOUNTS {
        return Err(eyre!("keepers: must be between 1 and {}", ANVIL_ACCOUNTS - 1));
    }
    // Handlers first: a signal that arrives once anvil runs must reach us, not kill us with anvil orphaned.
    let mut shutdown = ShutdownSignals::install()?;
    let anvil = start_anvil(&config.anvil)?;
    writeln!(out, "anvil: chain {} listening on {}", anvil.chain_id(), anvil.endpoint())?;
    out.flush()?;
    let outcome = tokio::select! {
        report = walk_through(&anvil, config, out) => Some(report?),
        () = shutdown.recv() => None,
    };
    match &outcome {
        Some(_) => writeln!(out, "done: stopping anvil")?,
        None => writeln!(out, "interrupted: stopping anvil")?,
    }
    drop(anvil);
    Ok(outcome)
}

async fn walk_through(
    anvil: &AnvilInstance,
    config: &DevnetConfig,
    out: &mut impl Write,
) -> eyre::Result<pipeline::PipelineRun> {
    let owner_signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let owner = owner_signer.address();
    let owner_provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(owner_signer)).connect_http(anvil.endpoint_url());

    let deployment = deploy_network(&owner_provider, &NetworkConfig::devnet(owner)).await?;
    writeln!(
        out,
        "deployed EigenLayer core (AllocationManager {}, DelegationManager {}) and the AVS (service manager {}, key registry {})",
        deployment.eigenlayer.allocation_manager,
        deployment.eigenlayer.delegation_manager,
        deployment.avs.service_manager,
        deployment.avs.key_registry
    )?;
    std::fs::create_dir_all(&config.dir).wrap_err_with(|| format!("creating {}", config.dir.display()))?;
    let dir = config.dir.canonicalize().wrap_err_with(|| format!("resolving {}", config.dir.display()))?;
    let deployment_file = dir.join("deployment.json");
    deployment.write(&deployment_file)?;
    writeln!(out, "wrote the deployment file {}", deployment_file.display())?;
    let (faucet, faucet_file) =
        faucet::open_faucet(&owner_provider, &deployment, anvil.endpoint_url().as_str(), &dir).await?;
    writeln!(
        out,
        "faucet {faucet}: ether and stake tokens for a new operator: keeperctl devnet fund <address> --faucet {}",
        faucet_file.display()
    )?;
    let aggregator = format!("127.0.0.1:{}", pipeline::free_port()?);
    let p2p = config.transport.uses_p2p();
    let p2p_ports = (0..config.keepers).map(|_| pipeline::free_port()).collect::<Result<Vec<_>, _>>()?;
    let mut configs = Vec::new();
    let mut metrics = Vec::new();

    let mut rng = rand::thread_rng();
    let mut keys = Vec::with_capacity(config.keepers);
    for i in 0..config.keepers {
        let signer = PrivateKeySigner::from(anvil.keys()[i + 1].clone());
        let operator = signer.address();
        let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(anvil.endpoint_url());
        let key = SecretKey::random(&mut rng);
        let stake = U256::from(100 * (i as u64 + 1)) * U256::from(FULL_MAGNITUDE);
        let receipt = onboard_devnet_operator(&owner_provider, &provider, operator, &deployment, &key, stake).await?;
        writeln!(
            out,
            "keeper {i}: operator {operator} staked {} tokens and registered BLS key {} (registration gas {})",
            100 * (i + 1),
            key.public_key(),
            receipt.gas_used
        )?;
        // Over P2P every operator can propose and submit; over HTTP operator 0 aggregates for all.
        let roles: &[&str] = match (i, p2p) {
            (0, _) => &["keeper", "aggregator", "challenger"],
            (_, true) => &["keeper", "aggregator"],
            (_, false) => &["keeper"],
        };
        let config_file = pipeline::write_operator_files(
            &dir.join(format!("operator-{i}")),
            &PrivateKeySigner::from(anvil.keys()[i + 1].clone()),
            &key,
            anvil.endpoint_url().as_str(),
            &deployment_file,
            roles,
            &aggregator,
        )?;
        if p2p {
            let peers: Vec<u16> = p2p_ports.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| *p).collect();
            pipeline::append_p2p_section(&config_file, p2p_ports[i], &peers, DEVNET_TAKEOVER_BLOCKS)?;
        }
        metrics.push(pipeline::MetricsTarget {
            index: i,
            operator,
            roles: roles.to_vec(),
            listen: pipeline::metrics_listen(&config_file)?,
        });
        configs.push((operator, config_file));
        keys.push(key);
    }

    let registry = BlsKeyRegistry::new(deployment.avs.key_registry, &owner_provider);
    let apk = registry.currentApk().call().await.wrap_err("reading the registry's aggregate key")?;
    let expected = PublicKey::aggregate(&keys.iter().map(SecretKey::public_key).collect::<Vec<_>>())?;
    if apk.to_eip2537() != expected.to_eip2537() {
        return Err(eyre!("the key registry's aggregate key differs from the keepers' aggregate"));
    }
    let total = registry.getTotalWeight().call().await.wrap_err("reading the total weight")?;
    writeln!(
        out,
        "key registry: {} keepers, aggregate key matches, total weight {} tokens",
        keys.len(),
        total / U256::from(FULL_MAGNITUDE)
    )?;

    let mut samples = pipeline::create_sample_jobs(&owner_provider, &deployment, owner, config.interval_secs).await?;
    let script_server = scripts::ScriptServer::examples(&config.script_examples).await?;
    writeln!(out, "script server: the SDK's examples on http://{}/scripts/", script_server.address())?;
    scripts::create_example_jobs(
        &owner_provider,
        &deployment,
        owner,
        &mut samples,
        &script_server,
        config.interval_secs,
    )
    .await?;
    for job in &samples.jobs {
        writeln!(out, "job {}: {}", job.id, job.name)?;
    }
    // From now on a block every second, as on a real chain: interval jobs need time to pass.
    owner_provider
        .raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,))
        .await
        .wrap_err("switching anvil to one block per second")?;
    let mut keepers = Vec::new();
    for (operator, config_file) in &configs {
        keepers.push(pipeline::spawn_keeper(&config.keeperd, *operator, config_file)?);
    }
    let exchange = match p2p {
        true => format!("over P2P on 127.0.0.1 ports {p2p_ports:?}, proposer and submitter by rotation"),
        false => format!("operator 0 also aggregates on {aggregator}"),
    };
    writeln!(
        out,
        "started {} keeperd daemons ({exchange}); logs in {}/operator-*/keeperd.log",
        keepers.len(),
        dir.display()
    )?;
    let targets_file = dir.join("prometheus-targets.json");
    pipeline::write_prometheus_targets(&targets_file, &metrics)?;
    for target in &metrics {
        writeln!(out, "keeper {}: metrics on http://{}/metrics", target.index, target.listen)?;
    }
    writeln!(out, "Prometheus targets in {} (dashboards/README.md)", targets_file.display())?;
    for (i, (_, config_file)) in configs.iter().enumerate() {
        let socket = pipeline::api_socket(config_file);
        writeln!(
            out,
            "keeper {i}: control socket {}; attach: keeperctl --socket {} tui",
            socket.display(),
            socket.display()
        )?;
    }
    out.flush()?;
    let result = pipeline::watch(
        &owner_provider,
        &deployment,
        &samples,
        &mut keepers,
        config.until_performed,
        config.duration,
        out,
    )
    .await;
    for keeper in &mut keepers {
        keeper.stop(Duration::from_secs(10));
    }
    script_server.stop();
    let run = result?;
    if let Some(until) = config.until_performed {
        if let Some((job, n)) = run.performed.iter().find(|(_, n)| **n < until) {
            return Err(eyre!("job {job} was performed {n} times, fewer than --until-performed {until}"));
        }
    }
    let total: u64 = run.performed.values().sum();
    writeln!(out, "keepers performed {total} tasks; stopping the daemons")?;
    Ok(run)
}

/// SIGINT (Ctrl-C) and SIGTERM, caught so that the devnet's children are stopped before exiting.
pub struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    pub fn install() -> eyre::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).wrap_err("installing the SIGINT handler")?,
            terminate: signal(SignalKind::terminate()).wrap_err("installing the SIGTERM handler")?,
        })
    }

    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
