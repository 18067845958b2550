//! The one version string of `keeperd` and `keeperctl` (`--version`, `keeper_build_info`).
//!
//! The commit comes from `KEEPER_GIT_COMMIT` at compile time, which `make release` sets
//! (`git rev-parse --short HEAD`, `-dirty` when the tree has changes). It is read with
//! `option_env!` rather than by a build script so that a new commit does not rebuild every crate
//! and test binary for every developer; a plain `cargo build` says it is a dev build instead.

use std::sync::OnceLock;

/// The workspace's version (every crate shares it).
pub const PACKAGE: &str = env!("CARGO_PKG_VERSION");

/// The git commit the binary was built from, when the build named it.
pub const COMMIT: Option<&str> = option_env!("KEEPER_GIT_COMMIT");

/// `0.1.0 (commit 1a2b3c4)`, or `0.1.0 (dev build, unknown commit)` when the build named none.
pub fn long() -> &'static str {
    static LONG: OnceLock<String> = OnceLock::new();
    LONG.get_or_init(|| format(PACKAGE, COMMIT))
}

/// The version string for a package version and an optional commit (an empty or blank commit,
/// as `KEEPER_GIT_COMMIT=` gives, counts as none).
pub fn format(package: &str, commit: Option<&str>) -> String {
    match commit.map(str::trim).filter(|commit| !commit.is_empty()) {
        Some(commit) => format!("{package} (commit {commit})"),
        None => format!("{package} (dev build, unknown commit)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_commit_when_the_build_set_one() {
        assert_eq!(format("0.1.0", Some("1a2b3c4")), "0.1.0 (commit 1a2b3c4)");
        assert_eq!(format("0.1.0", Some("1a2b3c4-dirty")), "0.1.0 (commit 1a2b3c4-dirty)");
    }

    #[test]
    fn says_dev_build_without_a_commit() {
        assert_eq!(format("0.1.0", None), "0.1.0 (dev build, unknown commit)");
        assert_eq!(format("0.1.0", Some(" ")), "0.1.0 (dev build, unknown commit)");
    }

    #[test]
    fn long_is_the_package_version_with_this_build_s_commit() {
        assert_eq!(long(), format(PACKAGE, COMMIT));
        assert!(long().starts_with(env!("CARGO_PKG_VERSION")));
    }
}
