//! `keeperctl` as a library: the control API client, shared by the CLI commands and the console,
//! and the operator console (`keeperctl tui`), so its tests and benchmarks drive it without a
//! terminal or a daemon.

pub mod client;
pub mod console;
