//! `keeperd deploy`: the AVS on the EigenLayer core a network file names (a public testnet's, or
//! any other), with the keeper operator set on that network's strategies. Before anything is sent:
//! the network is checked against the endpoint (chain id, code, whitelisted strategies: the same
//! check as `keeperd network check`) and the AVS's safety windows against the core's delays. Each
//! step is recorded in the output file as it goes, so a re-run resumes; a finished file makes a
//! re-run a no-op. `--dry-run` runs every step on a local fork of the chain (anvil) instead and
//! prints each transaction's gas and the total cost at the chain's gas price.

mod avs;
mod dry_run;
mod error;
mod steps;
mod windows;

use std::io::Write;
use std::path::{Path, PathBuf};

use alloy::network::EthereumWallet;
use alloy::primitives::{utils::format_ether, Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeper_shared::deployment::{AvsSettings, DeployJournal, DeployStep, Deployment, DeploymentFile};
use keeper_shared::network::{inspect_core, CoreReport, Network};

pub use avs::deploy_avs;
pub use error::DeployError;
pub use steps::{SentStep, StepRunner};
pub use windows::SafetyWindows;

/// What `keeperd deploy` is asked to do.
#[derive(Debug, Clone)]
pub struct DeployConfig {
    /// A built-in network's name or a network file.
    pub network: String,
    pub rpc_url: String,
    /// The deployment file written (and, while unfinished, the progress record).
    pub out: PathBuf,
    pub metadata_uri: String,
    /// Strategies of the network file, by name.
    pub strategies: Vec<String>,
    /// A token to create a strategy for through the network's StrategyFactory.
    pub new_strategy_token: Option<Address>,
    /// Who may pause batches [default: the deployer].
    pub guardian: Option<Address>,
    pub minimum_stake: U256,
    pub max_slash_wad: U256,
    pub challenge_window: Option<u32>,
    pub max_reference_age: Option<u16>,
    /// Run on a local fork started from this anvil binary and send nothing to the chain.
    pub dry_run: Option<PathBuf>,
    /// Test hook: stop once this step is confirmed.
    pub stop_after: Option<DeployStep>,
}

/// How a deploy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployOutcome {
    /// Every step is done; the deployment file is written.
    Deployed(Deployment),
    /// The file already held this finished deployment: nothing was sent.
    AlreadyDeployed(Deployment),
    /// A dry run: what each remaining step would send, with its gas, and the total cost in wei at the gas price.
    DryRun { steps: Vec<SentStep>, gas_price: u128, total_wei: U256 },
}

/// Runs the deploy as `deployer`, printing progress to `out`.
pub async fn run(
    config: &DeployConfig,
    deployer: PrivateKeySigner,
    out: &mut (dyn Write + Send),
) -> Result<DeployOutcome, DeployError> {
    let network = Network::load(&config.network)?;
    let url = config
        .rpc_url
        .parse::<alloy::transports::http::reqwest::Url>()
        .map_err(|e| DeployError::BadUrl { url: config.rpc_url.clone(), reason: e.to_string() })?;
    let reader = ProviderBuilder::new().connect_http(url.clone());
    let core = inspect_core(&network, &reader).await?;
    let windows = SafetyWindows::plan(&core, config.challenge_window, config.max_reference_age)?;
    print_core(&network, &core, &windows, out)?;
    let settings = settings(config, &network, deployer.address())?;

    let journal = match DeploymentFile::read(&config.out)? {
        Some(DeploymentFile::Finished(deployment)) => {
            let Some(journal) = &deployment.deploy_log else {
                return Err(DeployError::NotOurs { path: config.out.display().to_string() });
            };
            check_same(&config.out, journal, &network, core.chain_id, deployer.address(), &settings)?;
            check_code(&reader, &config.out, &deployment).await?;
            writeln!(out, "{} already holds this deployment: nothing to send", config.out.display())?;
            return Ok(DeployOutcome::AlreadyDeployed(deployment));
        }
        Some(DeploymentFile::Unfinished(journal)) => {
            check_same(&config.out, &journal, &network, core.chain_id, deployer.address(), &settings)?;
            let done = journal.steps.iter().filter(|s| s.confirmed()).count();
            writeln!(out, "resuming the deploy recorded in {} ({done} steps done)", config.out.display())?;
            journal
        }
        None => {
            let start = reader.get_block_number().await.map_err(DeployError::rpc("reading the head"))?;
            DeployJournal::new(&network.name, core.chain_id, deployer.address(), start, settings)
        }
    };

    if let Some(anvil) = &config.dry_run {
        return dry_run::run(anvil, config, &network, &reader, journal, out).await;
    }

    let wallet = ProviderBuilder::new().wallet(EthereumWallet::from(deployer)).connect_http(url);
    let mut runner = StepRunner::new(&wallet, journal)
        .recording_to(config.out.clone())
        .stopping_after(config.stop_after)
        .printing_to(out);
    let avs = deploy_avs(&mut runner, &network.eigenlayer, network.strategy_factory).await?;
    let journal = runner.into_journal();
    let deployment = Deployment {
        chain_id: core.chain_id,
        deploy_block: journal.start_block,
        eigenlayer: network.eigenlayer.clone(),
        avs,
        stake_token: None,
        deploy_log: Some(journal),
    };
    DeploymentFile::Finished(deployment.clone()).write(&config.out)?;
    writeln!(out, "wrote the deployment file {}", config.out.display())?;
    Ok(DeployOutcome::Deployed(deployment))
}

/// The settings the flags ask for, strategies resolved by name.
fn settings(config: &DeployConfig, network: &Network, deployer: Address) -> Result<AvsSettings, DeployError> {
    let known = || network.strategies.keys().cloned().collect::<Vec<_>>().join(", ");
    let mut strategies = Vec::with_capacity(config.strategies.len());
    for name in &config.strategies {
        let address = network.strategies.get(name).ok_or_else(|| DeployError::UnknownStrategy {
            name: name.clone(),
            network: network.name.clone(),
            known: known(),
        })?;
        if !strategies.contains(address) {
            strategies.push(*address);
        }
    }
    if strategies.is_empty() && config.new_strategy_token.is_none() {
        return Err(DeployError::NoStrategy { known: known() });
    }
    if config.new_strategy_token.is_some() && network.strategy_factory.is_none() {
        return Err(DeployError::NoStrategyFactory { network: network.name.clone() });
    }
    Ok(AvsSettings {
        owner: deployer,
        guardian: config.guardian.unwrap_or(deployer),
        metadata_uri: config.metadata_uri.clone(),
        strategies,
        new_strategy_token: config.new_strategy_token,
        minimum_stake: config.minimum_stake,
        max_slash_wad: config.max_slash_wad,
        challenge_window: config.challenge_window,
        max_reference_age: config.max_reference_age,
    })
}

/// Refuses to resume (or call finished) a deploy recorded with anything else than this one.
fn check_same(
    path: &Path,
    journal: &DeployJournal,
    network: &Network,
    chain_id: u64,
    deployer: Address,
    settings: &AvsSettings,
) -> Result<(), DeployError> {
    let changed = |field: &str, recorded: String, requested: String| DeployError::SettingsChanged {
        path: path.display().to_string(),
        field: field.to_owned(),
        recorded,
        requested,
    };
    if journal.chain_id != chain_id {
        return Err(changed("chain id", journal.chain_id.to_string(), chain_id.to_string()));
    }
    if journal.network != network.name {
        return Err(changed("network", journal.network.clone(), network.name.clone()));
    }
    if journal.deployer != deployer {
        return Err(changed("deployer", journal.deployer.to_string(), deployer.to_string()));
    }
    // Field by field, through their JSON, so the message names the one that differs.
    let as_map = |s: &AvsSettings| match serde_json::to_value(s) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (recorded, requested) = (as_map(&journal.settings), as_map(settings));
    let keys: std::collections::BTreeSet<&String> = recorded.keys().chain(requested.keys()).collect();
    for key in keys {
        let (was, now) = (recorded.get(key), requested.get(key));
        if was != now {
            let show = |v: Option<&serde_json::Value>| v.map_or_else(|| "none".to_owned(), ToString::to_string);
            return Err(changed(&format!("settings.{key}"), show(was), show(now)));
        }
    }
    Ok(())
}

/// A finished deployment's contracts must still be there (not a file from a reset devnet).
async fn check_code<P: Provider>(provider: &P, path: &Path, deployment: &Deployment) -> Result<(), DeployError> {
    let avs = &deployment.avs;
    for (what, address) in [
        ("service manager", avs.service_manager),
        ("key registry", avs.key_registry),
        ("task manager", avs.task_manager),
        ("job manager", avs.job_manager),
    ] {
        let code =
            provider.get_code_at(address).await.map_err(DeployError::rpc(format!("reading the {what}'s code")))?;
        if code.is_empty() {
            return Err(DeployError::Vanished {
                path: path.display().to_string(),
                what: what.to_owned(),
                address,
                chain_id: deployment.chain_id,
            });
        }
    }
    Ok(())
}

fn print_core(
    network: &Network,
    core: &CoreReport,
    windows: &SafetyWindows,
    out: &mut (dyn Write + Send),
) -> Result<(), DeployError> {
    writeln!(out, "network {} (chain {}), EigenLayer core {}", network.name, core.chain_id, core.version)?;
    writeln!(
        out,
        "  slashable horizon {} blocks (DEALLOCATION_DELAY {}, MIN_WITHDRAWAL_DELAY_BLOCKS {}); a new operator's \
         allocation delay applies after ALLOCATION_CONFIGURATION_DELAY {} blocks (at once on cores v1.9+)",
        core.slashable_horizon,
        core.deallocation_delay,
        core.min_withdrawal_delay_blocks,
        core.allocation_configuration_delay
    )?;
    writeln!(
        out,
        "  AVS windows: challenge window {} + reference age {} + weight age {} blocks fit it",
        windows.challenge_window, windows.max_reference_age, windows.max_weight_age
    )?;
    Ok(())
}

/// Prints a dry run's transactions and their cost.
pub fn print_dry_run(steps: &[SentStep], gas_price: u128, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
    let mut total_gas = 0u64;
    for step in steps {
        total_gas += step.gas_used;
        let cost = U256::from(step.gas_used) * U256::from(gas_price);
        writeln!(
            out,
            "  {:<22} {:<42} gas {:>9}  {} ETH",
            step.step.as_str(),
            step.what,
            step.gas_used,
            format_ether(cost)
        )?;
    }
    let total = U256::from(total_gas) * U256::from(gas_price);
    writeln!(
        out,
        "  {} transactions, {total_gas} gas, {} ETH at {} gwei (nothing was sent)",
        steps.len(),
        format_ether(total),
        alloy::primitives::utils::format_units(gas_price, "gwei").unwrap_or_else(|_| gas_price.to_string())
    )
}
