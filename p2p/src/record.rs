//! An operator's peer record: "operator X runs peer P, reachable at these addresses", signed with
//! X's operator ECDSA key over an EIP-712 digest, with a sequence number (newer replaces older)
//! and an expiry.
//!
//! A record only authorises its peer once that peer presents it itself over an authenticated
//! (noise) connection; records relayed by others are used to find and dial peers, never to vouch
//! for them. So no operator can claim another's peer id to speak for it.

use alloy::primitives::{Address, Bytes, Signature, B256};
use alloy::signers::SignerSync;
use alloy::sol_types::{SolStruct, SolValue};
use libp2p::{Multiaddr, PeerId};

use crate::config::NetworkId;
use crate::error::RecordError;
use crate::registry::OperatorRegistry;

/// Addresses a record carries at most.
pub const MAX_RECORD_ADDRESSES: usize = 8;
/// Longest encoded multiaddress in a record.
pub const MAX_ADDRESS_BYTES: usize = 128;
/// Largest encoded signed record.
pub const MAX_RECORD_BYTES: usize = 4096;
/// Records may not be valid for longer than this (a key rotation takes effect within it).
pub const MAX_RECORD_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

alloy::sol! {
    /// The EIP-712 struct an operator signs.
    struct PeerRecordData {
        address operator;
        bytes peerId;
        bytes[] addresses;
        uint64 sequence;
        uint64 expiresAt;
    }

    /// The wire form: the struct and its 65-byte signature, ABI-encoded.
    struct SignedPeerRecordData {
        PeerRecordData record;
        bytes signature;
    }
}

/// The content of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    pub operator: Address,
    pub peer_id: PeerId,
    pub addresses: Vec<Multiaddr>,
    /// Higher replaces lower; the signer uses the time of signing in milliseconds, so a restart
    /// needs no stored counter.
    pub sequence: u64,
    /// Unix seconds after which the record is void.
    pub expires_at: u64,
}

/// A record with its operator's signature, as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPeerRecord {
    record: PeerRecord,
    signature: Signature,
    encoded: Vec<u8>,
}

impl PeerRecord {
    fn data(&self) -> PeerRecordData {
        PeerRecordData {
            operator: self.operator,
            peerId: Bytes::from(self.peer_id.to_bytes()),
            addresses: self.addresses.iter().map(|a| Bytes::from(a.to_vec())).collect(),
            sequence: self.sequence,
            expiresAt: self.expires_at,
        }
    }

    /// The EIP-712 digest the operator signs.
    pub fn signing_hash(&self, network: &NetworkId) -> B256 {
        self.data().eip712_signing_hash(&network.domain())
    }

    /// Signs the record with the operator's key, which must be the record's operator.
    pub fn sign(self, network: &NetworkId, signer: &dyn SignerSync) -> Result<SignedPeerRecord, RecordError> {
        check_fields(&self)?;
        let signature =
            signer.sign_hash_sync(&self.signing_hash(network)).map_err(|e| RecordError::Signing(e.to_string()))?;
        let recovered = signature
            .recover_address_from_prehash(&self.signing_hash(network))
            .map_err(|e| RecordError::Signing(e.to_string()))?;
        if recovered != self.operator {
            return Err(RecordError::SignerMismatch { claimed: self.operator, recovered });
        }
        let encoded = encode(&self, &signature);
        Ok(SignedPeerRecord { record: self, signature, encoded })
    }
}

fn encode(record: &PeerRecord, signature: &Signature) -> Vec<u8> {
    SignedPeerRecordData { record: record.data(), signature: Bytes::from(signature.as_bytes().to_vec()) }.abi_encode()
}

fn check_fields(record: &PeerRecord) -> Result<(), RecordError> {
    if record.addresses.len() > MAX_RECORD_ADDRESSES {
        return Err(RecordError::InvalidField {
            field: "addresses",
            reason: format!("{} addresses, at most {MAX_RECORD_ADDRESSES}", record.addresses.len()),
        });
    }
    for (i, address) in record.addresses.iter().enumerate() {
        if address.len() > MAX_ADDRESS_BYTES {
            return Err(RecordError::InvalidField {
                field: "addresses",
                reason: format!("address {i} is longer than {MAX_ADDRESS_BYTES} bytes"),
            });
        }
    }
    Ok(())
}

impl SignedPeerRecord {
    pub fn record(&self) -> &PeerRecord {
        &self.record
    }

    pub fn operator(&self) -> Address {
        self.record.operator
    }

    pub fn peer_id(&self) -> PeerId {
        self.record.peer_id
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The wire bytes.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// Decodes wire bytes and checks what needs no outside knowledge: canonical encoding, field
    /// bounds, a low-s signature by the named operator, not expired at `now` (unix seconds) and
    /// not valid for longer than [`MAX_RECORD_TTL`].
    pub fn decode(bytes: &[u8], network: &NetworkId, now: u64) -> Result<Self, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::Malformed(format!("{} bytes, at most {MAX_RECORD_BYTES}", bytes.len())));
        }
        let data = SignedPeerRecordData::abi_decode(bytes).map_err(|e| RecordError::Malformed(e.to_string()))?;
        if data.abi_encode() != bytes {
            return Err(RecordError::NotCanonical);
        }
        let peer_id = PeerId::from_bytes(&data.record.peerId)
            .map_err(|e| RecordError::InvalidField { field: "peerId", reason: e.to_string() })?;
        if data.record.addresses.len() > MAX_RECORD_ADDRESSES {
            return Err(RecordError::InvalidField {
                field: "addresses",
                reason: format!("{} addresses, at most {MAX_RECORD_ADDRESSES}", data.record.addresses.len()),
            });
        }
        let addresses = data
            .record
            .addresses
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if a.len() > MAX_ADDRESS_BYTES {
                    return Err(RecordError::InvalidField {
                        field: "addresses",
                        reason: format!("address {i} is longer than {MAX_ADDRESS_BYTES} bytes"),
                    });
                }
                Multiaddr::try_from(a.to_vec())
                    .map_err(|e| RecordError::InvalidField { field: "addresses", reason: format!("address {i}: {e}") })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let record = PeerRecord {
            operator: data.record.operator,
            peer_id,
            addresses,
            sequence: data.record.sequence,
            expires_at: data.record.expiresAt,
        };
        let signature = parse_signature(&data.signature).map_err(RecordError::BadSignature)?;
        let recovered = signature
            .recover_address_from_prehash(&record.signing_hash(network))
            .map_err(|e| RecordError::BadSignature(e.to_string()))?;
        if recovered != record.operator {
            return Err(RecordError::SignerMismatch { claimed: record.operator, recovered });
        }
        if record.expires_at <= now {
            return Err(RecordError::Expired { operator: record.operator, expires_at: record.expires_at, now });
        }
        if record.expires_at > now.saturating_add(MAX_RECORD_TTL.as_secs()) {
            return Err(RecordError::ExpiryTooFar { operator: record.operator, expires_at: record.expires_at });
        }
        Ok(Self { record, signature, encoded: bytes.to_vec() })
    }

    /// [`Self::decode`], then the operator must be registered at the registry's latest block.
    pub fn verify(
        bytes: &[u8],
        network: &NetworkId,
        registry: &dyn OperatorRegistry,
        now: u64,
    ) -> Result<Self, RecordError> {
        let record = Self::decode(bytes, network, now)?;
        let head = registry.head_block();
        if !registry.is_registered(record.operator(), head) {
            return Err(RecordError::NotRegistered(record.operator()));
        }
        Ok(record)
    }
}

/// A 65-byte `r || s || v` ECDSA signature with `s` in the lower half (a high `s` would give a
/// second encoding of the same signature).
pub(crate) fn parse_signature(bytes: &[u8]) -> Result<Signature, String> {
    let signature = Signature::from_raw(bytes).map_err(|e| e.to_string())?;
    if signature.normalize_s().is_some() {
        return Err("s is in the upper half of the curve order".into());
    }
    Ok(signature)
}

#[cfg(test)]
mod tests;
