//! The aggregator role's exchange with keepers: the endpoint that publishes proposals and collects
//! signatures and disputes ([`server`]), over the messages of [`crate::protocol`] and the stake
//! quorum of [`crate::quorum`]. Proposing batches and submitting certificates on chain
//! are the role's other halves; they drive this module through [`server::Collector`]. Before
//! proposing, the role keeps the key registry's weights in step with EigenLayer ([`weights`]) and
//! leaves out tasks whose job cannot pay at the current base fee ([`fees`]).

pub mod fees;
pub mod flights;
pub mod role;
pub mod server;
pub mod single_flight;
pub mod weights;
