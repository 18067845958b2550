//! What a node is configured with: the network it belongs to (chain and task manager), where it
//! listens, whom it dials first, and the limits every message is held to.

use std::time::Duration;

use alloy::primitives::Address;
use alloy::sol_types::Eip712Domain;
use libp2p::{Multiaddr, StreamProtocol};

use crate::error::ConfigError;

/// One keeper network: messages, records and topics are bound to the chain and the task manager,
/// so nothing signed for one network is accepted by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkId {
    pub chain_id: u64,
    pub task_manager: Address,
}

impl NetworkId {
    /// The gossipsub topic name of `topic` on this network.
    pub fn topic_name(&self, topic: Topic) -> String {
        format!("/keeper-network/{}/{:#x}/{}/1", self.chain_id, self.task_manager, topic.name())
    }

    /// The request-response protocol (records and catch-up) of this network.
    pub(crate) fn sync_protocol(&self) -> StreamProtocol {
        let name = format!("/keeper-network/{}/{:#x}/sync/1", self.chain_id, self.task_manager);
        // A protocol name only needs a leading '/', which the format guarantees.
        StreamProtocol::try_from_owned(name).unwrap_or(StreamProtocol::new("/keeper-network/sync/1"))
    }

    /// The EIP-712 domain of records and envelopes: the protocol's own domain
    /// (`keeper_shared::batch::domain`) on the task manager; their struct types differ from the
    /// batch's, so no signature can be taken for another.
    pub(crate) fn domain(&self) -> Eip712Domain {
        keeper_shared::batch::domain(self.chain_id, self.task_manager)
    }
}

/// The gossip topics. The number is part of the signed envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Batch proposals of a reference block.
    Proposals,
    /// Operators' signatures over proposals.
    Signatures,
    /// Leaves of a proposal an operator will not sign, and why (advice to the proposer; never evidence).
    Disputes,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Topic::Proposals, Topic::Signatures, Topic::Disputes];

    pub fn as_u8(self) -> u8 {
        match self {
            Topic::Proposals => 1,
            Topic::Signatures => 2,
            Topic::Disputes => 3,
        }
    }

    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Topic::Proposals),
            2 => Some(Topic::Signatures),
            3 => Some(Topic::Disputes),
            _ => None,
        }
    }

    /// The label used in topic names and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Proposals => "proposals",
            Topic::Signatures => "signatures",
            Topic::Disputes => "disputes",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Topic::Proposals => 0,
            Topic::Signatures => 1,
            Topic::Disputes => 2,
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes an envelope adds around its payload (ABI head words, reference block, 65-byte signature),
/// rounded up.
pub const ENVELOPE_OVERHEAD: usize = 512;

/// What every message is held to before it is forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of a proposal (a batch of up to a few hundred leaves fits in 64 KiB).
    pub max_proposal_bytes: usize,
    /// Largest payload of a signature message (a 96-byte BLS signature, a digest, an operator).
    pub max_signature_bytes: usize,
    /// Largest payload of a dispute (a digest, an operator, and per disputed leaf its task, reason
    /// and a short detail: a few hundred bytes each).
    pub max_dispute_bytes: usize,
    /// A message whose reference block is further than this behind our head is too old.
    pub max_reference_age_blocks: u64,
    /// A message may name a block up to this far ahead of our head (we may lag); it is ignored, not
    /// penalised, since its hash cannot be checked yet.
    pub max_reference_lead_blocks: u64,
    /// A message stamped further than this in our future is refused.
    pub max_clock_skew: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_proposal_bytes: 256 * 1024,
            max_signature_bytes: 1024,
            max_dispute_bytes: 64 * 1024,
            max_reference_age_blocks: 64,
            max_reference_lead_blocks: 4,
            max_clock_skew: Duration::from_secs(30),
        }
    }
}

impl Limits {
    pub fn max_payload_bytes(&self, topic: Topic) -> usize {
        match topic {
            Topic::Proposals => self.max_proposal_bytes,
            Topic::Signatures => self.max_signature_bytes,
            Topic::Disputes => self.max_dispute_bytes,
        }
    }

    /// Largest encoded envelope of any topic.
    pub fn max_envelope_bytes(&self) -> usize {
        self.max_proposal_bytes.max(self.max_signature_bytes).max(self.max_dispute_bytes) + ENVELOPE_OVERHEAD
    }
}

/// A node's configuration. [`NodeConfig::new`] fills in defaults suited to a network of tens of
/// operators on a chain with blocks every few seconds.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub network: NetworkId,
    /// Addresses to listen on (`/ip4/0.0.0.0/tcp/9000`; port 0 picks a free one).
    pub listen: Vec<Multiaddr>,
    /// Addresses put in our record. Empty: the addresses we actually listen on.
    pub external_addresses: Vec<Multiaddr>,
    /// Peers dialled at start and redialled while disconnected (`/ip4/…/tcp/…[/p2p/<peer id>]`).
    pub bootstrap: Vec<Multiaddr>,
    pub limits: Limits,
    /// How long our signed record stays valid; it is re-signed at each start and on address change.
    pub record_ttl: Duration,
    /// Gossipsub heartbeat (mesh upkeep, gossip of message ids).
    pub heartbeat: Duration,
    pub ping_interval: Duration,
    /// A connection whose ping is not answered within this is closed (a dead link is noticed).
    pub ping_timeout: Duration,
    /// How often disconnected bootstrap peers and recorded operators are dialled again.
    pub redial_interval: Duration,
    /// How often one connected peer is asked for messages we may have missed; `None`: only on
    /// (re)connection and on request.
    pub catch_up_interval: Option<Duration>,
    /// Envelopes kept for catch-up answers (oldest dropped first).
    pub log_capacity: usize,
    /// Messages returned by one catch-up answer at most.
    pub catch_up_max_messages: usize,
    /// A request (record exchange or catch-up) not answered within this fails.
    pub request_timeout: Duration,
    /// Dial the addresses in other operators' records (off: only the bootstrap peers).
    pub discover: bool,
    /// Established connections at most (each peer may have two).
    pub max_connections: u32,
}

impl NodeConfig {
    pub fn new(network: NetworkId, listen: Vec<Multiaddr>) -> Self {
        Self {
            network,
            listen,
            external_addresses: Vec::new(),
            bootstrap: Vec::new(),
            limits: Limits::default(),
            record_ttl: Duration::from_secs(24 * 3600),
            heartbeat: Duration::from_millis(700),
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(20),
            redial_interval: Duration::from_secs(10),
            catch_up_interval: Some(Duration::from_secs(30)),
            log_capacity: 4096,
            catch_up_max_messages: 512,
            request_timeout: Duration::from_secs(10),
            discover: true,
            max_connections: 256,
        }
    }

    /// Checks every field; the error names the field at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &'static str, reason: &str| Err(ConfigError { field, reason: reason.to_string() });
        if self.listen.is_empty() {
            return invalid("listen", "name at least one address to listen on");
        }
        if self.limits.max_proposal_bytes == 0 || self.limits.max_signature_bytes == 0 {
            return invalid("limits", "payload limits must be positive");
        }
        if self.limits.max_envelope_bytes() > MAX_ENVELOPE_BYTES_CAP {
            return invalid("limits.max_proposal_bytes", "larger than the 4 MiB cap of a gossip message");
        }
        if self.limits.max_reference_age_blocks == 0 {
            return invalid("limits.max_reference_age_blocks", "must be at least 1");
        }
        if self.record_ttl < Duration::from_secs(60) || self.record_ttl > crate::record::MAX_RECORD_TTL {
            return invalid("record_ttl", "must be between 60 s and 7 days");
        }
        if self.heartbeat < Duration::from_millis(50) {
            return invalid("heartbeat", "must be at least 50 ms");
        }
        if self.ping_interval.is_zero() || self.ping_timeout.is_zero() {
            return invalid("ping_interval", "ping interval and timeout must be positive");
        }
        if self.redial_interval.is_zero() {
            return invalid("redial_interval", "must be positive");
        }
        if self.catch_up_interval.is_some_and(|d| d.is_zero()) {
            return invalid("catch_up_interval", "must be positive (or unset)");
        }
        if self.log_capacity == 0 || self.catch_up_max_messages == 0 {
            return invalid("log_capacity", "the catch-up log and answers must hold at least one message");
        }
        if self.request_timeout.is_zero() {
            return invalid("request_timeout", "must be positive");
        }
        if self.max_connections == 0 {
            return invalid("max_connections", "must be at least 1");
        }
        if self.external_addresses.len() > crate::record::MAX_RECORD_ADDRESSES {
            return invalid("external_addresses", "a record carries at most 8 addresses");
        }
        Ok(())
    }
}

/// No envelope may exceed this, whatever the configuration says.
pub const MAX_ENVELOPE_BYTES_CAP: usize = 4 * 1024 * 1024;
