//! What travels in the envelopes' payloads: the same wire forms as the HTTP endpoint
//! (`crate::protocol`), so a proposal or a signature has one encoding and one parser
//! whichever transport carried it. The envelope's signature names the author; these checks tie
//! the payload to it.

use alloy::primitives::Address;
use keeper_p2p::SignedEnvelope;
use keeper_shared::batch::Batch;

use crate::protocol::{Dispute, DisputePost, ProposalView, SignaturePost, SignedBatch};

/// Why a payload is refused (each is a `keeper_p2p_messages_invalid_total{reason="application"}`
/// and a log label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload does not decode")]
    Malformed,
    #[error("the batch's chain, task manager or reference block is not the envelope's")]
    ContextMismatch,
    #[error("a signature or dispute signed by someone other than the operator it names")]
    SignerMismatch,
}

impl PayloadError {
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_payload",
            Self::ContextMismatch => "context_mismatch",
            Self::SignerMismatch => "signer_mismatch",
        }
    }
}

pub fn encode_proposal(batch: &Batch) -> Vec<u8> {
    // Serializing a struct of strings and integers cannot fail.
    serde_json::to_vec(&ProposalView::from_batch(batch)).unwrap_or_default()
}

pub fn encode_signature(signed: &SignedBatch) -> Vec<u8> {
    serde_json::to_vec(&SignaturePost::from_signed(signed)).unwrap_or_default()
}

pub fn encode_dispute(dispute: &Dispute) -> Vec<u8> {
    serde_json::to_vec(&DisputePost::from_dispute(dispute)).unwrap_or_default()
}

/// The batch of a proposal envelope, rebuilt (its digest is ours, never the sender's claim) and
/// bound to the envelope's network and reference block.
pub fn decode_proposal(message: &SignedEnvelope, chain_id: u64, task_manager: Address) -> Result<Batch, PayloadError> {
    let view: ProposalView = serde_json::from_slice(message.payload()).map_err(|_| PayloadError::Malformed)?;
    let batch = view.to_batch().map_err(|_| PayloadError::Malformed)?;
    let context = batch.context();
    let envelope = message.envelope();
    if context.chain_id != chain_id
        || context.task_manager != task_manager
        || context.reference_block_number != envelope.reference_block_number
        || context.reference_block_hash != envelope.reference_block_hash
    {
        return Err(PayloadError::ContextMismatch);
    }
    Ok(batch)
}

/// The signature of a signature envelope, whose named operator must be its author (nobody
/// relays a signature under another operator's name; the BLS check is the collector's).
pub fn decode_signature(message: &SignedEnvelope) -> Result<SignedBatch, PayloadError> {
    let post: SignaturePost = serde_json::from_slice(message.payload()).map_err(|_| PayloadError::Malformed)?;
    let signed = post.parse().map_err(|_| PayloadError::Malformed)?;
    if signed.operator != message.author() {
        return Err(PayloadError::SignerMismatch);
    }
    Ok(signed)
}

/// The dispute of a dispute envelope, whose named operator must be its author: a dispute is advice,
/// but only its own operator may give it (the aggregator weighs it by that operator's stake).
pub fn decode_dispute(message: &SignedEnvelope) -> Result<Dispute, PayloadError> {
    let post: DisputePost = serde_json::from_slice(message.payload()).map_err(|_| PayloadError::Malformed)?;
    let dispute = post.parse().map_err(|_| PayloadError::Malformed)?;
    if dispute.operator != message.author() {
        return Err(PayloadError::SignerMismatch);
    }
    Ok(dispute)
}
