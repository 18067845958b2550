//! Starting anvil for a devnet or a test: the real binary on a free 127.0.0.1 port, killed when
//! the returned instance is dropped.

use std::path::Path;

use alloy::node_bindings::{Anvil, AnvilInstance};
use eyre::WrapErr;

/// Starts `binary` (the real anvil, not npm's launcher script: killing a launcher would leave anvil
/// running) with automine on a port the OS picks.
pub fn start(binary: &Path) -> eyre::Result<AnvilInstance> {
    Anvil::at(binary)
        .arg("--host")
        .arg("127.0.0.1")
        .try_spawn()
        .wrap_err_with(|| format!("starting anvil from {} (run `make setup`, or pass --anvil)", binary.display()))
}
