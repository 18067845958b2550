//! The keeper network daemon, `keeperd`: one binary whose configuration enables the roles
//! (scheduler, keeper, aggregator, challenger), its control API and its metrics, plus the deployment
//! and operator onboarding commands. The devnet and the load benchmark drive it from outside (the
//! `keeper-devnet` crate).
//!
//! The modules form layers, each using only those below it (`tests/module_graph.rs` fails on a
//! cycle): `store`, `jobs`, `config`, `protocol` and `signals` at the bottom; `metrics`, `http`, `chain`,
//! `quorum`, `scheduler` and `p2p` above them; `context` (what the roles share) above those; the
//! roles (`keeper`, `aggregator`, `challenger`) and the control API (`api`) on top of it; `node`,
//! which builds a context and runs them, and `cli` last.

pub mod aggregator;
pub mod api;
pub mod chain;
pub mod challenger;
pub mod cli;
pub mod config;
pub mod context;
pub mod deploy;
pub mod eigenlayer;
pub mod http;
pub mod jobs;
pub mod keeper;
pub mod logging;
pub mod metrics;
pub mod network_check;
pub mod node;
pub mod p2p;
pub mod protocol;
pub mod quorum;
pub mod roles;
pub mod scheduler;
pub mod signals;
pub mod store;
