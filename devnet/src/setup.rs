//! What every `keeper-devnet` command sets up (the walk-through and the load benchmark): the anvil
//! and keeperd binaries, the directory the files go to, the operators to run, and a fresh anvil that
//! Ctrl-C or SIGTERM stops with everything the command started.

use std::io::Write;
use std::path::PathBuf;

use alloy::node_bindings::AnvilInstance;
use eyre::eyre;
use keeperd::signals::ShutdownSignals;

use crate::anvil::ANVIL_ACCOUNTS;
use crate::operators::OperatorPlan;

/// The programs, the directory and the operators of a devnet command.
#[derive(Debug, Clone)]
pub struct DevnetSetup {
    /// The anvil binary.
    pub anvil: PathBuf,
    /// The keeperd binary each operator runs.
    pub keeperd: PathBuf,
    /// Where the deployment file, and each operator's keys, config, database and log, are written.
    pub dir: PathBuf,
    pub plan: OperatorPlan,
}

impl DevnetSetup {
    /// Starts anvil and runs `command` on it until it finishes, or until Ctrl-C or SIGTERM (`None`);
    /// anvil stops either way.
    pub async fn run<T, W: Write>(
        &self,
        out: &mut W,
        command: impl AsyncFnOnce(&AnvilInstance, &mut W) -> eyre::Result<T>,
    ) -> eyre::Result<Option<T>> {
        if self.plan.keepers == 0 || self.plan.keepers >= ANVIL_ACCOUNTS {
            return Err(eyre!("keepers: must be between 1 and {}", ANVIL_ACCOUNTS - 1));
        }
        // Handlers first: a signal that arrives once anvil runs must reach us, not kill us with
        // anvil orphaned.
        let mut shutdown = ShutdownSignals::install()?;
        let anvil = crate::anvil::start(&self.anvil)?;
        writeln!(out, "anvil: chain {} listening on {}", anvil.chain_id(), anvil.endpoint())?;
        out.flush()?;
        let outcome = tokio::select! {
            report = command(&anvil, out) => Some(report?),
            () = shutdown.recv() => None,
        };
        match &outcome {
            Some(_) => writeln!(out, "done: stopping anvil")?,
            None => writeln!(out, "interrupted: stopping anvil")?,
        }
        drop(anvil);
        Ok(outcome)
    }
}
