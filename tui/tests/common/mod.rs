//! What the end-to-end tests of keeperctl share: the anvil and keeperd binaries they run.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test uses part of it

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `$KEEPER_ANVIL` (the Makefile exports it), else where `make setup` installs anvil.
pub fn anvil_binary() -> PathBuf {
    std::env::var_os("KEEPER_ANVIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
}

/// The keeperd binary of this build: a dev-dependency builds the library, not the binary, so it
/// is built here once (a no-op when it is up to date) and found beside this test's target dir.
pub fn keeperd_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "keeperd", "--bin", "keeperd"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building keeperd");
        // target/debug/deps/<test>-… -> target/debug/keeperd
        let exe = std::env::current_exe().unwrap();
        let binary = exe.parent().unwrap().parent().unwrap().join("keeperd");
        assert!(binary.exists(), "{}", binary.display());
        binary
    })
}
