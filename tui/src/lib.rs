//! `keeperctl` as a library: the control API client, shared by the CLI commands and the console.

pub mod client;
