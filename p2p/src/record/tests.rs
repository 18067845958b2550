use alloy::primitives::{address, U256};
use alloy::signers::local::PrivateKeySigner;
use libp2p::identity::Keypair;

use super::*;
use crate::registry::StaticRegistry;

const NOW: u64 = 1_800_000_000;

fn network() -> NetworkId {
    NetworkId { chain_id: 31337, task_manager: address!("0x00000000000000000000000000000000000000aa") }
}

fn record_of(signer: &PrivateKeySigner) -> PeerRecord {
    PeerRecord {
        operator: signer.address(),
        peer_id: Keypair::generate_ed25519().public().to_peer_id(),
        addresses: vec!["/ip4/10.0.0.1/tcp/9000".parse().unwrap()],
        sequence: 7,
        expires_at: NOW + 3600,
    }
}

/// Wire bytes of `record` with an arbitrary signature (for forgeries).
fn encode_with(record: &PeerRecord, signature: &[u8]) -> Vec<u8> {
    SignedPeerRecordData { record: record.data(), signature: Bytes::from(signature.to_vec()) }.abi_encode()
}

#[test]
fn signed_record_decodes_to_itself() {
    let signer = PrivateKeySigner::random();
    let signed = record_of(&signer).sign(&network(), &signer).unwrap();
    let decoded = SignedPeerRecord::decode(signed.encoded(), &network(), NOW).unwrap();
    assert_eq!(decoded, signed);
    assert_eq!(decoded.operator(), signer.address());
}

#[test]
fn signing_another_operators_record_fails() {
    let signer = PrivateKeySigner::random();
    let mut record = record_of(&signer);
    record.operator = PrivateKeySigner::random().address();
    assert!(matches!(record.sign(&network(), &signer), Err(RecordError::SignerMismatch { .. })));
}

#[test]
fn forged_operator_is_refused() {
    let signer = PrivateKeySigner::random();
    let victim = PrivateKeySigner::random().address();
    let mut record = record_of(&signer);
    let signature = signer.sign_hash_sync(&record.signing_hash(&network())).unwrap();
    record.operator = victim;
    let bytes = encode_with(&record, &signature.as_bytes());
    match SignedPeerRecord::decode(&bytes, &network(), NOW) {
        Err(RecordError::SignerMismatch { claimed, .. }) => assert_eq!(claimed, victim),
        other => panic!("expected a signer mismatch, got {other:?}"),
    }
}

#[test]
fn record_of_another_network_is_refused() {
    let signer = PrivateKeySigner::random();
    let signed = record_of(&signer).sign(&network(), &signer).unwrap();
    let other = NetworkId { chain_id: 1, ..network() };
    assert!(matches!(SignedPeerRecord::decode(signed.encoded(), &other, NOW), Err(RecordError::SignerMismatch { .. })));
}

#[test]
fn expired_and_far_expiries_are_refused() {
    let signer = PrivateKeySigner::random();
    let signed = record_of(&signer).sign(&network(), &signer).unwrap();
    assert!(matches!(
        SignedPeerRecord::decode(signed.encoded(), &network(), NOW + 3600),
        Err(RecordError::Expired { .. })
    ));
    let mut far = record_of(&signer);
    far.expires_at = NOW + MAX_RECORD_TTL.as_secs() + 1;
    let far = far.sign(&network(), &signer).unwrap();
    assert!(matches!(SignedPeerRecord::decode(far.encoded(), &network(), NOW), Err(RecordError::ExpiryTooFar { .. })));
}

#[test]
fn malformed_and_non_canonical_bytes_are_refused() {
    let signer = PrivateKeySigner::random();
    let signed = record_of(&signer).sign(&network(), &signer).unwrap();
    assert!(matches!(SignedPeerRecord::decode(b"garbage", &network(), NOW), Err(RecordError::Malformed(_))));
    let mut longer = signed.encoded().to_vec();
    longer.extend_from_slice(&[0u8; 32]);
    assert!(matches!(SignedPeerRecord::decode(&longer, &network(), NOW), Err(RecordError::NotCanonical)));
    let huge = vec![0u8; MAX_RECORD_BYTES + 1];
    assert!(matches!(SignedPeerRecord::decode(&huge, &network(), NOW), Err(RecordError::Malformed(_))));
}

#[test]
fn high_s_twin_of_a_valid_signature_is_refused() {
    let signer = PrivateKeySigner::random();
    let record = record_of(&signer);
    let signature = signer.sign_hash_sync(&record.signing_hash(&network())).unwrap();
    // The same signature with s' = n - s and the parity flipped: valid ECDSA, second encoding.
    let n = U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap();
    let twin = Signature::new(signature.r(), n - signature.s(), !signature.v());
    assert_eq!(twin.recover_address_from_prehash(&record.signing_hash(&network())).unwrap(), signer.address());
    let bytes = encode_with(&record, &twin.as_bytes());
    assert!(matches!(SignedPeerRecord::decode(&bytes, &network(), NOW), Err(RecordError::BadSignature(_))));
}

#[test]
fn too_many_addresses_are_refused_on_both_sides() {
    let signer = PrivateKeySigner::random();
    let mut record = record_of(&signer);
    record.addresses = vec!["/ip4/10.0.0.1/tcp/9000".parse().unwrap(); MAX_RECORD_ADDRESSES + 1];
    assert!(matches!(
        record.clone().sign(&network(), &signer),
        Err(RecordError::InvalidField { field: "addresses", .. })
    ));
    let signature = signer.sign_hash_sync(&record.signing_hash(&network())).unwrap();
    let bytes = encode_with(&record, &signature.as_bytes());
    assert!(matches!(
        SignedPeerRecord::decode(&bytes, &network(), NOW),
        Err(RecordError::InvalidField { field: "addresses", .. })
    ));
}

#[test]
fn verify_requires_registration() {
    let registered = PrivateKeySigner::random();
    let outsider = PrivateKeySigner::random();
    let registry = StaticRegistry::new([registered.address()], 10);
    let ok = record_of(&registered).sign(&network(), &registered).unwrap();
    SignedPeerRecord::verify(ok.encoded(), &network(), &registry, NOW).unwrap();
    let refused = record_of(&outsider).sign(&network(), &outsider).unwrap();
    assert_eq!(
        SignedPeerRecord::verify(refused.encoded(), &network(), &registry, NOW),
        Err(RecordError::NotRegistered(outsider.address()))
    );
}
