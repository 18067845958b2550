//! The keeper network daemon. Roles (scheduler, keeper, aggregator, challenger) arrive with the
//! daemon pipeline; today it carries the devnet that shows a BLS-signed task batch verified on chain.

pub mod cli;
pub mod devnet;
pub mod eigenlayer;
