//! The workspace's own programs for tests that run them as a user would: a dev-dependency builds a
//! package's library, not its binaries, so a test needing another package's binary has it built
//! here once per test process (a no-op when it is up to date) and finds it in the target dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The checkout this crate was built from.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `keeperd`, built from this checkout.
pub fn keeperd() -> PathBuf {
    build("keeperd", "keeperd")
}

/// `keeperctl`, built from this checkout.
pub fn keeperctl() -> PathBuf {
    build("keeperctl", "keeperctl")
}

/// `keeper-devnet` (this crate's command), built from this checkout.
pub fn keeper_devnet() -> PathBuf {
    build("keeper-devnet", "keeper-devnet")
}

/// `cargo build -p <package> --bin <bin>` (once per process and binary), and the binary's path
/// beside the running test's (target/debug/deps/<test>-… -> target/debug/<bin>). Panics if the
/// build fails: only tests call it.
#[allow(clippy::expect_used)]
fn build(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, path)) = built.iter().find(|(name, _)| name == bin) {
        return path.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", package, "--bin", bin])
        .current_dir(repo_root())
        .status()
        .expect("running cargo");
    assert!(status.success(), "building {bin}");
    let exe = std::env::current_exe().expect("the test's own path");
    let binary = exe.parent().and_then(Path::parent).expect("a target dir").join(bin);
    assert!(binary.exists(), "{}", binary.display());
    built.push((bin.to_owned(), binary.clone()));
    binary
}
