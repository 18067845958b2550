//! `--dry-run`: the deploy's remaining steps run on a throwaway fork of the chain (anvil, sending
//! as the deployer without its key), so every transaction is executed for real against the live
//! core, reverts show before they cost anything, and the gas is what the chain would charge. Nothing
//! reaches the chain itself, and the output file is not touched.

use std::io::Write;
use std::path::Path;

use alloy::node_bindings::Anvil;
use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use keeper_shared::deployment::DeployJournal;
use keeper_shared::network::Network;

use super::{deploy_avs, print_dry_run, DeployConfig, DeployError, DeployOutcome, StepRunner};

/// Enough ether on the fork for any deploy, whatever the deployer holds on the chain.
const FORK_BALANCE_WEI: u128 = 1_000_000_000_000_000_000_000;

pub(super) async fn run<P: Provider>(
    anvil: &Path,
    config: &DeployConfig,
    network: &Network,
    chain: &P,
    journal: DeployJournal,
    out: &mut (dyn Write + Send),
) -> Result<DeployOutcome, DeployError> {
    let deployer = journal.deployer;
    let fork = Anvil::at(anvil)
        .arg("--host")
        .arg("127.0.0.1")
        .arg("--auto-impersonate")
        // A dry run needs no old state on disk (a killed fork would leave it behind).
        .args(["--max-persisted-states", "0"])
        .fork(config.rpc_url.clone())
        .try_spawn()
        .map_err(|e| DeployError::DryRun(format!("starting anvil from {} to fork the chain: {e}", anvil.display())))?;
    let provider = ProviderBuilder::new().connect_http(fork.endpoint_url());
    provider
        .raw_request::<_, ()>("anvil_setBalance".into(), (deployer, U256::from(FORK_BALANCE_WEI)))
        .await
        .map_err(DeployError::rpc("dry run: funding the deployer on the fork"))?;
    writeln!(
        out,
        "dry run on a fork of chain {} ({}): nothing is sent to the chain",
        journal.chain_id,
        fork.endpoint()
    )?;
    let mut runner = StepRunner::new(&provider, journal).printing_to(out);
    deploy_avs(&mut runner, &network.eigenlayer, network.strategy_factory).await?;
    let steps = runner.sent().to_vec();
    drop(runner);
    drop(fork);

    let gas_price = chain.get_gas_price().await.map_err(DeployError::rpc("reading the chain's gas price"))?;
    let total_gas: u64 = steps.iter().map(|s| s.gas_used).sum();
    let total_wei = U256::from(total_gas) * U256::from(gas_price);
    print_dry_run(&steps, gas_price, out)?;
    let balance = chain.get_balance(deployer).await.map_err(DeployError::rpc("reading the deployer's balance"))?;
    if balance < total_wei {
        writeln!(
            out,
            "  the deployer {deployer} holds {} ETH, less than that: fund it before deploying",
            alloy::primitives::utils::format_ether(balance)
        )?;
    }
    Ok(DeployOutcome::DryRun { steps, gas_price, total_wei })
}
