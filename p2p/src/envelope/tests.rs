use alloy::primitives::{address, U256};
use alloy::signers::local::PrivateKeySigner;

use super::*;

fn network() -> NetworkId {
    NetworkId { chain_id: 31337, task_manager: address!("0x00000000000000000000000000000000000000aa") }
}

fn envelope() -> Envelope {
    Envelope {
        topic: Topic::Signatures,
        reference_block_number: 42,
        reference_block_hash: B256::repeat_byte(7),
        created_at_ms: 1_800_000_000_000,
        payload: b"a signature".to_vec(),
    }
}

fn encode_with(envelope: &Envelope, signature: &[u8]) -> Vec<u8> {
    SignedGossipMessage { message: envelope.data(), signature: Bytes::from(signature.to_vec()) }.abi_encode()
}

#[test]
fn signed_envelope_decodes_with_its_author_and_id() {
    let signer = PrivateKeySigner::random();
    let signed = envelope().sign(&network(), &signer).unwrap();
    let decoded = SignedEnvelope::decode(signed.encoded(), &network(), 4096).unwrap();
    assert_eq!(decoded, signed);
    assert_eq!(decoded.author(), signer.address());
    assert_eq!(decoded.id(), MessageId(keccak256(signed.encoded())));
    assert_eq!(decoded.envelope(), &envelope());
}

#[test]
fn tampered_payload_or_other_network_changes_the_author() {
    let signer = PrivateKeySigner::random();
    let signed = envelope().sign(&network(), &signer).unwrap();
    let signature = signer.sign_hash_sync(&envelope().signing_hash(&network())).unwrap().as_bytes();
    let mut tampered = envelope();
    tampered.payload = b"another signature".to_vec();
    let bytes = encode_with(&tampered, &signature);
    // ECDSA recovery of a signature over other bytes yields some other address (or none).
    match SignedEnvelope::decode(&bytes, &network(), 4096) {
        Ok(decoded) => assert_ne!(decoded.author(), signer.address()),
        Err(reason) => assert_eq!(reason, InvalidReason::BadSignature),
    }
    let other = NetworkId { chain_id: 1, ..network() };
    let decoded = SignedEnvelope::decode(signed.encoded(), &other, 4096).unwrap();
    assert_ne!(decoded.author(), signer.address());
}

#[test]
fn bad_encodings_are_named() {
    let signer = PrivateKeySigner::random();
    let signed = envelope().sign(&network(), &signer).unwrap();
    assert_eq!(SignedEnvelope::decode(signed.encoded(), &network(), 64), Err(InvalidReason::Oversize));
    assert_eq!(SignedEnvelope::decode(b"not an envelope", &network(), 4096), Err(InvalidReason::Malformed));
    let mut longer = signed.encoded().to_vec();
    longer.extend_from_slice(&[0u8; 32]);
    assert_eq!(SignedEnvelope::decode(&longer, &network(), 4096), Err(InvalidReason::NotCanonical));

    let mut unknown_topic = envelope().data();
    unknown_topic.topic = 9;
    let digest = unknown_topic.eip712_signing_hash(&network().domain());
    let signature = signer.sign_hash_sync(&digest).unwrap();
    let bytes = SignedGossipMessage { message: unknown_topic, signature: Bytes::from(signature.as_bytes().to_vec()) }
        .abi_encode();
    assert_eq!(SignedEnvelope::decode(&bytes, &network(), 4096), Err(InvalidReason::UnknownTopic));

    assert_eq!(
        SignedEnvelope::decode(&encode_with(&envelope(), &[1u8; 64]), &network(), 4096),
        Err(InvalidReason::BadSignature)
    );
}

#[test]
fn high_s_twin_is_refused() {
    let signer = PrivateKeySigner::random();
    let digest = envelope().signing_hash(&network());
    let signature = signer.sign_hash_sync(&digest).unwrap();
    let n = U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap();
    let twin = Signature::new(signature.r(), n - signature.s(), !signature.v());
    assert_eq!(twin.recover_address_from_prehash(&digest).unwrap(), signer.address());
    assert_eq!(
        SignedEnvelope::decode(&encode_with(&envelope(), &twin.as_bytes()), &network(), 4096),
        Err(InvalidReason::BadSignature)
    );
}
