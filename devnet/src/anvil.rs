//! Starting anvil for a devnet or a test: the real binary on a free 127.0.0.1 port, killed when
//! the returned instance is dropped.

use std::path::{Path, PathBuf};

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::providers::{Provider, ProviderBuilder};
use eyre::WrapErr;

/// anvil's default number of funded accounts: one deploys and owns, the rest can be keepers.
pub const ANVIL_ACCOUNTS: usize = 10;

/// Starts `binary` (the real anvil, not npm's launcher script: killing a launcher would leave anvil
/// running) with automine on a port the OS picks.
pub fn start(binary: &Path) -> eyre::Result<AnvilInstance> {
    Anvil::at(binary)
        .arg("--host")
        .arg("127.0.0.1")
        // anvil writes every state older than its in-memory window to ~/.foundry/anvil/tmp and
        // removes it only on a clean exit; an instance killed on drop left it behind (57 GB here
        // once). Old states are dropped instead: keepers read at recent reference blocks only.
        .args(["--max-persisted-states", "0"])
        .try_spawn()
        .wrap_err_with(|| format!("starting anvil from {} (run `make setup`, or pass --anvil)", binary.display()))
}

/// Starts `binary` on `port` from a state file (`--load-state`, e.g. one [`crate::history::spread`]
/// wrote): the chain it holds, its latest state, and no history of states (`--prune-history`).
pub fn start_loaded(binary: &Path, port: u16, state: &Path) -> eyre::Result<AnvilInstance> {
    Anvil::at(binary)
        .port(port)
        .arg("--host")
        .arg("127.0.0.1")
        .arg("--load-state")
        .arg(state)
        .args(["--prune-history", "512"])
        // Loading a million blocks takes about a minute.
        .timeout(300_000)
        .try_spawn()
        .wrap_err_with(|| format!("starting anvil from {} with the state {}", binary.display(), state.display()))
}

/// The anvil tests start: `$KEEPER_ANVIL` (the Makefile exports it), else the real binary `make
/// setup` installs from npm in this checkout.
pub fn binary() -> PathBuf {
    std::env::var_os("KEEPER_ANVIL").map(PathBuf::from).unwrap_or_else(|| {
        crate::binaries::repo_root().join("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    })
}

/// A fresh anvil of [`binary`] for a test; panics naming the fix if it cannot start.
#[allow(clippy::expect_used)]
pub fn for_test() -> AnvilInstance {
    start(&binary()).expect("anvil starts (run `make setup` first)")
}

/// Mines a block every `interval` on an automining anvil until dropped, so that daemons see heads and
/// interval tasks come due without transactions of their own.
pub struct BlockMiner(tokio::task::JoinHandle<()>);

impl BlockMiner {
    /// Starts mining on `anvil` (from inside a tokio runtime).
    pub fn start(anvil: &AnvilInstance, interval: std::time::Duration) -> Self {
        let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
        Self(tokio::spawn(async move {
            loop {
                // A failed mine (anvil busy or gone) is retried at the next tick.
                let _ = provider.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await;
                tokio::time::sleep(interval).await;
            }
        }))
    }
}

impl Drop for BlockMiner {
    fn drop(&mut self) {
        self.0.abort();
    }
}
