//! The devnet walk-through (`keeper-devnet run`, `make demo`): a throwaway chain with the real
//! EigenLayer core, our AVS, and keepers registered through EigenLayer with BLS keys, each running
//! its own `keeperd`, performing sample jobs of every kind through BLS-signed batches.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::U256;
use alloy::providers::Provider;
use eyre::{eyre, WrapErr};
use keeper_shared::api::FULL_MAGNITUDE;
use keeper_shared::bls::PublicKey;
use keeper_shared::contracts::BlsKeyRegistry;

use crate::operators::{DeployedDevnet, DevnetOperators};
use crate::setup::DevnetSetup;
use crate::{faucet, pipeline, scripts};

/// What `keeper-devnet run` starts.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The binaries, the directory and the keepers (at most 9; operator 0 challenges).
    pub setup: DevnetSetup,
    /// Seconds between the interval job's tasks.
    pub interval_secs: u64,
    /// Stop once every sample job was performed this many times.
    pub until_performed: Option<u64>,
    /// Stop after this long (fails if `until_performed` was not reached by then).
    pub duration: Duration,
    /// Where the SDK's example modules are (`sdk/assemblyscript/build`); served to the keepers for the
    /// devnet's script jobs.
    pub script_examples: PathBuf,
}

/// Starts anvil, deploys and onboards, runs the keepers on sample jobs, and stops everything, also
/// on Ctrl-C or SIGTERM. `None` when interrupted.
pub async fn run<W: Write>(config: &DevnetConfig, out: &mut W) -> eyre::Result<Option<pipeline::PipelineRun>> {
    config.setup.run(out, async |anvil, out: &mut W| walk_through(anvil, config, out).await).await
}

async fn walk_through(
    anvil: &AnvilInstance,
    config: &DevnetConfig,
    out: &mut impl Write,
) -> eyre::Result<pipeline::PipelineRun> {
    let devnet = DeployedDevnet::deploy(anvil, &config.setup.dir).await?;
    let (owner, owner_provider, deployment, dir) = (devnet.owner, &devnet.provider, &devnet.deployment, &devnet.dir);
    writeln!(
        out,
        "deployed EigenLayer core (AllocationManager {}, DelegationManager {}) and the AVS (service manager {}, key registry {})",
        deployment.eigenlayer.allocation_manager,
        deployment.eigenlayer.delegation_manager,
        deployment.avs.service_manager,
        deployment.avs.key_registry
    )?;
    writeln!(out, "wrote the deployment file {}", devnet.deployment_file.display())?;
    let (faucet, faucet_file) =
        faucet::open_faucet(owner_provider, deployment, anvil.endpoint_url().as_str(), dir).await?;
    writeln!(
        out,
        "faucet {faucet}: ether and stake tokens for a new operator: keeperctl devnet fund <address> --faucet {}",
        faucet_file.display()
    )?;
    let operators = DevnetOperators::onboard(anvil, &devnet, &config.setup.plan, |operator| {
        writeln!(
            out,
            "keeper {}: operator {} staked {} tokens and registered BLS key {} (registration gas {})",
            operator.index,
            operator.address(),
            operator.stake_tokens,
            operator.key.public_key(),
            operator.registration_gas
        )?;
        Ok(())
    })
    .await?;
    let mut metrics = Vec::new();
    for operator in &operators.operators {
        metrics.push(pipeline::MetricsTarget {
            index: operator.index,
            operator: operator.address(),
            roles: operator.roles.clone(),
            listen: pipeline::metrics_listen(&operator.config)?,
        });
    }
    let keys: Vec<PublicKey> = operators.operators.iter().map(|o| o.key.public_key()).collect();

    let registry = BlsKeyRegistry::new(deployment.avs.key_registry, owner_provider);
    let apk = registry.currentApk().call().await.wrap_err("reading the registry's aggregate key")?;
    let expected = PublicKey::aggregate(&keys)?;
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

    let mut samples = pipeline::create_sample_jobs(owner_provider, deployment, owner, config.interval_secs).await?;
    let script_server = scripts::ScriptServer::examples(&config.script_examples).await?;
    writeln!(out, "script server: the SDK's examples on http://{}/scripts/", script_server.address())?;
    scripts::create_example_jobs(owner_provider, deployment, owner, &mut samples, &script_server, config.interval_secs)
        .await?;
    for job in &samples.jobs {
        writeln!(out, "job {}: {}", job.id, job.name)?;
    }
    // From now on a block every second, as on a real chain: interval jobs need time to pass.
    owner_provider
        .raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,))
        .await
        .wrap_err("switching anvil to one block per second")?;
    let mut keepers = operators.spawn(&config.setup.keeperd)?;
    let exchange = match config.setup.plan.transport.uses_p2p() {
        true => format!("over P2P on 127.0.0.1 ports {:?}, proposer and submitter by rotation", operators.p2p_ports),
        false => format!("operator 0 also aggregates on {}", operators.aggregator),
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
    for (i, operator) in operators.operators.iter().enumerate() {
        let socket = pipeline::api_socket(&operator.config);
        writeln!(
            out,
            "keeper {i}: control socket {}; attach: keeperctl --socket {} tui",
            socket.display(),
            socket.display()
        )?;
    }
    out.flush()?;
    let result = pipeline::watch(
        owner_provider,
        deployment,
        &samples,
        &mut keepers,
        config.until_performed,
        config.duration,
        out,
    )
    .await;
    for keeper in &mut keepers {
        keeper.daemon.stop(Duration::from_secs(10));
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
