//! What a message must pass before it is delivered to the daemon and forwarded to other peers.
//!
//! The crate checks what it can know itself ([`check_envelope`]): size, encoding, signature,
//! topic, the author's registration at the reference block, the reference block's hash, age.
//! Then the daemon's [`MessageValidator`] checks the payload (a proposal's batch, a BLS
//! signature over a digest). A rejected message is dropped and its sender's peer score lowered;
//! an ignored one is dropped without penalty (e.g. a block we have not seen yet).

use crate::config::{Limits, Topic};
use crate::envelope::SignedEnvelope;
use crate::registry::OperatorRegistry;

/// Why a message was refused; each is a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    /// Not a decodable envelope.
    Malformed,
    /// Decodable, but not in its one canonical encoding.
    NotCanonical,
    /// The signature is not a valid low-s ECDSA signature.
    BadSignature,
    UnknownTopic,
    /// The envelope's topic is not the gossip topic it came on.
    WrongTopic,
    /// Larger than the topic's limit.
    Oversize,
    /// The author is not in the operator set at the reference block (a forged signature lands
    /// here too: ECDSA recovery yields some other address).
    UnknownOperator,
    /// The reference block's hash is not the canonical one.
    WrongReferenceBlock,
    /// The reference block is further behind our head than the limit.
    TooOld,
    /// Stamped too far in our future, or naming a block too far ahead of our head.
    FromFuture,
    /// The daemon's validator refused it; the label is the daemon's.
    Application(&'static str),
}

impl InvalidReason {
    /// The reasons the crate itself gives, in metrics order.
    pub const CRATE_REASONS: [InvalidReason; 10] = [
        InvalidReason::Malformed,
        InvalidReason::NotCanonical,
        InvalidReason::BadSignature,
        InvalidReason::UnknownTopic,
        InvalidReason::WrongTopic,
        InvalidReason::Oversize,
        InvalidReason::UnknownOperator,
        InvalidReason::WrongReferenceBlock,
        InvalidReason::TooOld,
        InvalidReason::FromFuture,
    ];

    pub fn label(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::NotCanonical => "not_canonical",
            Self::BadSignature => "bad_signature",
            Self::UnknownTopic => "unknown_topic",
            Self::WrongTopic => "wrong_topic",
            Self::Oversize => "oversize",
            Self::UnknownOperator => "unknown_operator",
            Self::WrongReferenceBlock => "wrong_reference_block",
            Self::TooOld => "too_old",
            Self::FromFuture => "from_future",
            Self::Application(_) => "application",
        }
    }

    /// Index into per-reason counters: the crate's reasons, then one slot for the daemon's.
    pub(crate) fn index(&self) -> usize {
        Self::CRATE_REASONS.iter().position(|r| r == self).unwrap_or(Self::CRATE_REASONS.len())
    }
}

impl std::fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Application(label) => write!(f, "application: {label}"),
            other => f.write_str(other.label()),
        }
    }
}

/// The daemon's judgement of a message that passed the crate's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver and forward.
    Accept,
    /// Drop without penalty (e.g. valid but useless to us now).
    Ignore,
    /// Drop and lower the sender's score.
    Reject(&'static str),
}

/// The daemon's payload check. Called on the network task for every message that passed the
/// crate's checks, so it must be quick and must not block (a BLS verification is fine).
pub trait MessageValidator: Send + Sync {
    fn validate(&self, message: &SignedEnvelope) -> Verdict;
}

/// Accepts every payload: for test beds whose payloads mean nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl MessageValidator for AcceptAll {
    fn validate(&self, _message: &SignedEnvelope) -> Verdict {
        Verdict::Accept
    }
}

/// The crate's outcome of a message before the daemon sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Pass,
    /// Cannot be judged yet (a block we do not have): drop, no penalty.
    Ignore,
    Reject(InvalidReason),
}

/// The crate's checks of a decoded envelope, cheapest first. `expected_topic` is the gossip
/// topic it arrived on (none for catch-up answers); `now_ms` is our clock.
pub(crate) fn check_envelope(
    message: &SignedEnvelope,
    expected_topic: Option<Topic>,
    registry: &dyn OperatorRegistry,
    limits: &Limits,
    now_ms: u64,
) -> Check {
    let envelope = message.envelope();
    if expected_topic.is_some_and(|t| t != envelope.topic) {
        return Check::Reject(InvalidReason::WrongTopic);
    }
    if envelope.payload.len() > limits.max_payload_bytes(envelope.topic) {
        return Check::Reject(InvalidReason::Oversize);
    }
    if envelope.created_at_ms > now_ms.saturating_add(limits.max_clock_skew.as_millis() as u64) {
        return Check::Reject(InvalidReason::FromFuture);
    }
    let head = registry.head_block();
    let number = envelope.reference_block_number;
    if number > head {
        return if number - head > limits.max_reference_lead_blocks {
            Check::Reject(InvalidReason::FromFuture)
        } else {
            Check::Ignore
        };
    }
    if head - number > limits.max_reference_age_blocks {
        return Check::Reject(InvalidReason::TooOld);
    }
    match registry.block_hash(number) {
        Some(hash) if hash == envelope.reference_block_hash => {}
        Some(_) => return Check::Reject(InvalidReason::WrongReferenceBlock),
        // Within the age window but unknown to the view (it keeps fewer blocks): not the
        // sender's fault.
        None => return Check::Ignore,
    }
    if !registry.is_registered(message.author(), number) {
        return Check::Reject(InvalidReason::UnknownOperator);
    }
    Check::Pass
}

#[cfg(test)]
mod tests;
