//! Errors of the crate's boundaries. Message-level failures are [`crate::InvalidReason`]s: they are
//! counted and scored, not returned.

use alloy::primitives::Address;
use libp2p::PeerId;
use thiserror::Error;

/// A configuration field out of its domain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("p2p config: `{field}`: {reason}")]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: String,
}

/// Why a peer record was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("peer record: not a valid encoding: {0}")]
    Malformed(String),
    #[error("peer record: encoding is not canonical")]
    NotCanonical,
    #[error("peer record: `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("peer record: signature is not a valid ECDSA signature: {0}")]
    BadSignature(String),
    #[error("peer record: signed by {recovered}, not by the operator it names ({claimed})")]
    SignerMismatch { claimed: Address, recovered: Address },
    #[error("peer record of {operator}: expired at {expires_at} (now {now})")]
    Expired { operator: Address, expires_at: u64, now: u64 },
    #[error("peer record of {operator}: expiry {expires_at} is further ahead than allowed")]
    ExpiryTooFar { operator: Address, expires_at: u64 },
    #[error("peer record: operator {0} is not registered")]
    NotRegistered(Address),
    #[error("peer record of {operator} names peer {record}, but came from peer {connection}")]
    PeerMismatch { operator: Address, record: Box<PeerId>, connection: Box<PeerId> },
    #[error("peer record of {operator}: sequence {sequence} is older than the known {known}")]
    Stale { operator: Address, sequence: u64, known: u64 },
    #[error("peer record: cannot sign: {0}")]
    Signing(String),
}

/// Why a node could not start or a command could not be carried out.
#[derive(Debug, Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("p2p: cannot build the transport: {0}")]
    Transport(String),
    #[error("p2p: cannot build the gossip behaviour: {0}")]
    Gossip(String),
    #[error("p2p: cannot listen on {address}: {reason}")]
    Listen { address: libp2p::Multiaddr, reason: String },
    #[error("p2p: cannot sign: {0}")]
    Signing(String),
    #[error("p2p: payload of {len} bytes exceeds the {topic} limit of {max}")]
    PayloadTooLarge { topic: crate::Topic, len: usize, max: usize },
    #[error("p2p: cannot publish on {topic}: {reason}")]
    Publish { topic: crate::Topic, reason: String },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("p2p: the node has stopped")]
    Stopped,
}
