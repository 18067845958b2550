//! The devnet: a throwaway chain with the real EigenLayer core, our AVS, and keepers registered
//! through EigenLayer with BLS keys, whose signatures our contracts check.

mod anvil;
mod batch_demo;
mod network;

use std::io::Write;
use std::path::PathBuf;

use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::U256;
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use eyre::{eyre, WrapErr};
use keeper_shared::bls::{PublicKey, SecretKey};
use keeper_shared::contracts::BlsKeyRegistry;

pub use anvil::start as start_anvil;
pub use batch_demo::{run_batch_demo, BatchDemoReport};
pub use network::{
    deploy_network, mine_blocks, onboard_devnet_operator, NetworkConfig, DEVNET_METADATA_URI, FULL_MAGNITUDE,
};

/// anvil's default number of funded accounts: one deploys and owns, the rest can be keepers.
const ANVIL_ACCOUNTS: usize = 10;

/// What `keeperd devnet` starts.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The anvil binary.
    pub anvil: PathBuf,
    /// How many keepers register and sign (at most 9).
    pub keepers: usize,
    /// How many tasks the batch holds.
    pub tasks: usize,
    /// Where the deployment file is written.
    pub deployment_file: PathBuf,
}

/// Starts anvil, deploys and onboards, runs the demo, and stops anvil, also on Ctrl-C or SIGTERM.
pub async fn run(config: &DevnetConfig, out: &mut impl Write) -> eyre::Result<Option<BatchDemoReport>> {
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
) -> eyre::Result<BatchDemoReport> {
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
    if let Some(parent) = config.deployment_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).wrap_err_with(|| format!("creating {}", parent.display()))?;
    }
    deployment.write(&config.deployment_file)?;
    writeln!(out, "wrote the deployment file {}", config.deployment_file.display())?;

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

    run_batch_demo(anvil, &keys, config.tasks, out).await
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
