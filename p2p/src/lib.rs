//! The keeper operators' peer-to-peer network, free of the daemon.
//!
//! - [`record`]: each operator's signed peer record (peer id, addresses, sequence, expiry), signed
//!   with its operator ECDSA key and checked against an [`registry::OperatorRegistry`].
//! - [`envelope`]: the signed envelope every gossip message travels in (topic, reference block,
//!   opaque payload); its author is the operator whose ECDSA key signed it.
//! - [`validation`]: what is checked before a message is forwarded, and the daemon's callback.
//! - [`node`]: a libp2p node (TCP + noise + yamux, gossipsub, request-response for records and
//!   catch-up, ping) run as one task, driven through a [`node::NodeHandle`].
//! - [`rotation`]: the pure rule that orders operators per reference block (proposer, submitter,
//!   takeovers).
//! - [`metrics`]: plain counters the daemon exports.
//! - [`testbed`]: network namespaces per host, for multi-host tests on one machine.
//!
//! `docs/p2p.md` describes the protocol and the rotation rule.

pub mod config;
pub mod envelope;
mod error;
pub mod metrics;
pub mod node;
pub mod record;
pub mod registry;
pub mod rotation;
mod sync;
pub mod testbed;
mod time;
pub mod validation;

pub use config::{Limits, NetworkId, NodeConfig, Topic};
pub use envelope::{Envelope, MessageId, SignedEnvelope};
pub use error::{NodeError, RecordError};
pub use libp2p::{identity::Keypair, Multiaddr, PeerId};
pub use node::{spawn, MessageSource, NodeEvent, NodeHandle, PeerInfo, ReceivedMessage};
pub use record::{PeerRecord, SignedPeerRecord};
pub use registry::{OperatorRegistry, StaticRegistry};
pub use validation::{InvalidReason, MessageValidator, Verdict};
