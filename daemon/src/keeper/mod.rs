//! The keeper role. Today: its client of the aggregator endpoint.

pub mod client;
pub mod role;
