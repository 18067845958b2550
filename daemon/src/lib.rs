//! The keeper network daemon. Roles (scheduler, keeper, aggregator, challenger) arrive with the
//! daemon pipeline. Today: the devnet (the real EigenLayer core and our AVS on anvil, keepers
//! onboarded through EigenLayer, a BLS-signed batch verified on chain), operator onboarding, and
//! the embedded store with the slashing-protection record the keeper role will sign through.

pub mod aggregator;
pub mod api;
pub mod bench;
pub mod chain;
pub mod challenger;
pub mod cli;
pub mod config;
pub mod context;
pub mod deploy;
pub mod devnet;
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
pub mod store;
