//! `keeperd network check`: a network file (or a built-in network) against the chain an RPC URL
//! reaches, before anything is deployed or registered on it.

use std::io::Write;

use alloy::providers::ProviderBuilder;
use keeper_shared::network::{inspect_core, CoreReport, Network};

/// Loads `network`, checks it against `rpc_url`, and prints the report (JSON or a table).
pub async fn run(network: &str, rpc_url: &str, json: bool, out: &mut impl Write) -> eyre::Result<()> {
    let network = Network::load(network)?;
    let url = rpc_url.parse().map_err(|e| eyre::eyre!("--rpc-url `{rpc_url}`: {e}"))?;
    let provider = ProviderBuilder::new().connect_http(url);
    let report = inspect_core(&network, &provider).await?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        print_table(&network, &report, out)?;
    }
    Ok(())
}

fn print_table(network: &Network, report: &CoreReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "network {} (chain {}), core {}", report.network, report.chain_id, report.version)?;
    writeln!(out, "  source: {}", network.source)?;
    writeln!(out, "  DEALLOCATION_DELAY             {:>8} blocks", report.deallocation_delay)?;
    writeln!(out, "  MIN_WITHDRAWAL_DELAY_BLOCKS    {:>8} blocks", report.min_withdrawal_delay_blocks)?;
    writeln!(out, "  ALLOCATION_CONFIGURATION_DELAY {:>8} blocks", report.allocation_configuration_delay)?;
    writeln!(
        out,
        "  slashable horizon              {:>8} blocks (challenge window + reference age + weight age must fit)",
        report.slashable_horizon
    )?;
    for strategy in &report.strategies {
        writeln!(
            out,
            "  strategy {:<8} {}  whitelisted, underlying token {}",
            strategy.name, strategy.address, strategy.underlying_token
        )?;
    }
    Ok(())
}
