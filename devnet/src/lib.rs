//! The devnet harness, in one place for the devnet, the load benchmark and the integration tests:
//! anvil on a free port, the EigenLayer core (from the committed bytecode) and the AVS deployed,
//! operators onboarded through EigenLayer with their files written, and `keeperd run` daemons owned
//! by guards. The `keeper-devnet` command runs the walk-through (`run`) and the load benchmark
//! (`bench-load`); the production keeperd links none of this.

pub mod anvil;
pub mod batch_demo;
pub mod bench;
pub mod binaries;
pub mod cli;
pub mod daemon;
pub mod eigenlayer_core;
pub mod faucet;
pub mod history;
pub mod jobs;
pub mod network;
pub mod operators;
pub mod pipeline;
pub mod scripts;
pub mod setup;
pub mod walk_through;

pub use anvil::start as start_anvil;
pub use batch_demo::{run_batch_demo, BatchDemoReport};
pub use daemon::{Daemon, DaemonBuilder};
pub use eigenlayer_core::{deploy_core, CoreConfig};
pub use network::{
    deploy_devnet_core, deploy_network, mine_blocks, onboard_devnet_operator, DevnetCore, NetworkConfig,
    DEVNET_METADATA_URI,
};
