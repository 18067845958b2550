//! The keeper role ([`role`]), and where its proposals come from ([`source`]: the aggregator's HTTP
//! endpoint through [`client`], or the operators' gossip network).

pub mod client;
pub mod role;
pub mod source;
