//! The devnet: a throwaway chain where keepers' BLS signatures are checked by our contracts.

mod anvil;
mod batch_demo;
mod network;

use std::path::PathBuf;

pub use anvil::start as start_anvil;
pub use batch_demo::{run_batch_demo, BatchDemoReport};
pub use network::{deploy_network, NetworkConfig, DEVNET_METADATA_URI};

/// What `keeperd devnet` starts.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The anvil binary.
    pub anvil: PathBuf,
    /// How many keepers sign.
    pub keepers: usize,
    /// How many tasks the batch holds.
    pub tasks: usize,
}

/// Starts anvil, runs the demo against it and stops anvil, also on Ctrl-C or SIGTERM.
pub async fn run(config: &DevnetConfig, out: &mut impl std::io::Write) -> eyre::Result<Option<BatchDemoReport>> {
    let anvil = start_anvil(&config.anvil)?;
    writeln!(out, "anvil: chain {} listening on {}", anvil.chain_id(), anvil.endpoint())?;
    let outcome = tokio::select! {
        report = run_batch_demo(&anvil, config.keepers, config.tasks, out) => Some(report?),
        () = shutdown_signal() => None,
    };
    match &outcome {
        Some(_) => writeln!(out, "done: stopping anvil")?,
        None => writeln!(out, "interrupted: stopping anvil")?,
    }
    drop(anvil);
    Ok(outcome)
}

/// Resolves on Ctrl-C or SIGTERM, so that the devnet's children are stopped before exiting.
async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
