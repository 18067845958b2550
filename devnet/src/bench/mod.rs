//! Benchmarks run as commands (never as timed tests): `keeper-devnet bench-load`, the load benchmark of
//! the task pipeline on a devnet, and the arithmetic and /proc readings its report is made of.

pub mod load;
pub mod procfs;
pub mod stats;
