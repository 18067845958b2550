//! The signed envelope of every gossip message: topic, reference block (number and hash), the
//! author's clock, and an opaque payload the daemon defines, signed with the author's operator
//! ECDSA key over an EIP-712 digest. The signature makes an envelope self-authenticating, so it
//! can be relayed, answered in catch-up and re-published by anyone without losing its author.
//!
//! A message's id is the keccak-256 of its wire bytes. Those bytes are canonical (decoding
//! re-encodes and compares; signatures must have a low `s`), so one message has one id, and a
//! forged copy cannot poison the id of the real one.

use std::fmt;

use alloy::primitives::{keccak256, Address, Bytes, Signature, B256};
use alloy::signers::SignerSync;
use alloy::sol_types::{SolStruct, SolValue};

use crate::config::{NetworkId, Topic};
use crate::error::NodeError;
use crate::record::parse_signature;
use crate::validation::InvalidReason;

alloy::sol! {
    /// The EIP-712 struct an author signs.
    struct GossipMessage {
        uint8 topic;
        uint64 referenceBlockNumber;
        bytes32 referenceBlockHash;
        uint64 createdAtMs;
        bytes payload;
    }

    /// The wire form: the struct and its 65-byte signature, ABI-encoded.
    struct SignedGossipMessage {
        GossipMessage message;
        bytes signature;
    }
}

/// A message id: keccak-256 of the envelope's wire bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub B256);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

impl MessageId {
    pub fn of(encoded: &[u8]) -> Self {
        Self(keccak256(encoded))
    }
}

/// An unsigned envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub topic: Topic,
    pub reference_block_number: u64,
    pub reference_block_hash: B256,
    /// The author's clock at signing, unix milliseconds (gossip latency; too-far-future check).
    pub created_at_ms: u64,
    pub payload: Vec<u8>,
}

impl Envelope {
    fn data(&self) -> GossipMessage {
        GossipMessage {
            topic: self.topic.as_u8(),
            referenceBlockNumber: self.reference_block_number,
            referenceBlockHash: self.reference_block_hash,
            createdAtMs: self.created_at_ms,
            payload: Bytes::from(self.payload.clone()),
        }
    }

    /// The EIP-712 digest the author signs.
    pub fn signing_hash(&self, network: &NetworkId) -> B256 {
        self.data().eip712_signing_hash(&network.domain())
    }

    /// Signs with the operator's key; the signer's address becomes the author.
    pub fn sign(self, network: &NetworkId, signer: &dyn SignerSync) -> Result<SignedEnvelope, NodeError> {
        let digest = self.signing_hash(network);
        let signature = signer.sign_hash_sync(&digest).map_err(|e| NodeError::Signing(e.to_string()))?;
        // alloy's local signer produces low-s signatures; normalise anyway so ours always decode.
        let signature = signature.normalized_s();
        let author = signature.recover_address_from_prehash(&digest).map_err(|e| NodeError::Signing(e.to_string()))?;
        let encoded =
            SignedGossipMessage { message: self.data(), signature: Bytes::from(signature.as_bytes().to_vec()) }
                .abi_encode();
        Ok(SignedEnvelope { id: MessageId::of(&encoded), envelope: self, author, encoded })
    }
}

/// An envelope whose signature has been checked: its author is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEnvelope {
    envelope: Envelope,
    author: Address,
    id: MessageId,
    encoded: Vec<u8>,
}

impl SignedEnvelope {
    /// Decodes wire bytes of at most `max_bytes`: canonical ABI, a known topic, a low-s signature
    /// from which the author is recovered. Registration, reference block and limits are checked
    /// by [`crate::validation`].
    pub fn decode(bytes: &[u8], network: &NetworkId, max_bytes: usize) -> Result<Self, InvalidReason> {
        if bytes.len() > max_bytes {
            return Err(InvalidReason::Oversize);
        }
        let data = SignedGossipMessage::abi_decode(bytes).map_err(|_| InvalidReason::Malformed)?;
        if data.abi_encode() != bytes {
            return Err(InvalidReason::NotCanonical);
        }
        let topic = Topic::from_u8(data.message.topic).ok_or(InvalidReason::UnknownTopic)?;
        let envelope = Envelope {
            topic,
            reference_block_number: data.message.referenceBlockNumber,
            reference_block_hash: data.message.referenceBlockHash,
            created_at_ms: data.message.createdAtMs,
            payload: data.message.payload.to_vec(),
        };
        let signature: Signature = parse_signature(&data.signature).map_err(|_| InvalidReason::BadSignature)?;
        let author = signature
            .recover_address_from_prehash(&envelope.signing_hash(network))
            .map_err(|_| InvalidReason::BadSignature)?;
        Ok(Self { envelope, author, id: MessageId::of(bytes), encoded: bytes.to_vec() })
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    pub fn topic(&self) -> Topic {
        self.envelope.topic
    }

    /// The operator whose key signed the envelope.
    pub fn author(&self) -> Address {
        self.author
    }

    pub fn id(&self) -> MessageId {
        self.id
    }

    pub fn payload(&self) -> &[u8] {
        &self.envelope.payload
    }

    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }
}

#[cfg(test)]
mod tests;
