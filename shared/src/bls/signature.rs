use std::fmt;

use blst::{blst_scalar, min_pk, BLST_ERROR};
use rand::{CryptoRng, RngCore};

use super::eip2537;
use super::error::{BlsError, Result};
use super::keys::{PublicKey, SecretKey};
use super::SigningDomain;

/// A validated BLS12-381 signature (a G2 point in the subgroup, not infinity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(min_pk::Signature);

impl Signature {
    const WHAT: &'static str = "signature";

    pub(crate) fn from_blst(signature: min_pk::Signature) -> Self {
        Self(signature)
    }

    pub(crate) fn as_blst(&self) -> &min_pk::Signature {
        &self.0
    }

    /// Reads the 96-byte compressed (wire) encoding, fully validated.
    pub fn from_compressed(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != super::SIGNATURE_COMPRESSED_LEN {
            return Err(BlsError::InvalidLength {
                what: Self::WHAT,
                expected: super::SIGNATURE_COMPRESSED_LEN,
                got: bytes.len(),
            });
        }
        let signature = min_pk::Signature::uncompress(bytes).map_err(|e| BlsError::from_blst(e, Self::WHAT))?;
        Self::validated(signature)
    }

    /// Reads the 256-byte EIP-2537 (chain) encoding, fully validated.
    pub fn from_eip2537(bytes: &[u8]) -> Result<Self> {
        let raw = eip2537::g2_from_eip2537(bytes, Self::WHAT)?;
        let signature = min_pk::Signature::deserialize(&raw).map_err(|e| BlsError::from_blst(e, Self::WHAT))?;
        Self::validated(signature)
    }

    fn validated(signature: min_pk::Signature) -> Result<Self> {
        signature.validate(true).map_err(|e| BlsError::from_blst(e, Self::WHAT))?;
        Ok(Self(signature))
    }

    /// The 96-byte compressed encoding.
    pub fn to_compressed(&self) -> [u8; super::SIGNATURE_COMPRESSED_LEN] {
        self.0.compress()
    }

    /// The 256-byte EIP-2537 encoding the precompiles and our contracts use.
    pub fn to_eip2537(&self) -> [u8; super::SIGNATURE_EIP2537_LEN] {
        eip2537::g2_to_eip2537(&self.0.serialize())
    }

    /// Checks this signature over `message` for `domain` against `key`.
    pub fn verify(&self, key: &PublicKey, message: &[u8], domain: SigningDomain) -> Result<()> {
        // Key and signature were validated when constructed; no need to re-check the groups.
        let outcome = self.0.verify(false, message, domain.dst(), &[], key.as_blst(), false);
        check(outcome)
    }

    /// Checks an aggregate signature by `keys`, all over the same `message`. The keys must have
    /// proven possession (as registered keys have), which is what makes this safe against
    /// rogue-key attacks.
    pub fn fast_aggregate_verify(&self, keys: &[PublicKey], message: &[u8], domain: SigningDomain) -> Result<()> {
        let aggregate = PublicKey::aggregate(keys)?;
        self.verify(&aggregate, message, domain)
    }

    /// The sum of `signatures`.
    pub fn aggregate(signatures: &[Signature]) -> Result<Self> {
        if signatures.is_empty() {
            return Err(BlsError::EmptyAggregate { what: "signatures" });
        }
        let refs: Vec<&min_pk::Signature> = signatures.iter().map(|s| &s.0).collect();
        let aggregate = min_pk::AggregateSignature::aggregate(&refs, false)
            .map_err(|e| BlsError::from_blst(e, "aggregate signature"))?;
        Self::validated(aggregate.to_signature())
    }

    /// Checks many independent `(key, message, signature)` triples at once with a random linear
    /// combination: one multi-pairing instead of one pairing check each (about 3x the throughput of
    /// verifying one by one). `Ok` only if every triple is valid; on failure, callers that need to
    /// know which one was bad verify them singly.
    pub fn verify_many<R: RngCore + CryptoRng>(
        items: &[(PublicKey, &[u8], Signature)],
        domain: SigningDomain,
        rng: &mut R,
    ) -> Result<()> {
        if items.is_empty() {
            return Err(BlsError::EmptyAggregate { what: "signatures to verify" });
        }
        let messages: Vec<&[u8]> = items.iter().map(|(_, m, _)| *m).collect();
        let keys: Vec<&min_pk::PublicKey> = items.iter().map(|(k, _, _)| k.as_blst()).collect();
        let signatures: Vec<&min_pk::Signature> = items.iter().map(|(_, _, s)| &s.0).collect();
        // 64 random bits per item bound a forger's success probability by 2^-64.
        let randomness: Vec<blst_scalar> = items
            .iter()
            .map(|_| {
                let mut b = [0u8; 32];
                rng.fill_bytes(&mut b[..8]);
                b[0] |= 1; // never zero
                blst_scalar { b }
            })
            .collect();
        let outcome = min_pk::Signature::verify_multiple_aggregate_signatures(
            &messages,
            domain.dst(),
            &keys,
            false,
            &signatures,
            false,
            &randomness,
            64,
        );
        check(outcome)
    }
}

fn check(outcome: BLST_ERROR) -> Result<()> {
    match outcome {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        BLST_ERROR::BLST_VERIFY_FAIL => Err(BlsError::VerificationFailed),
        other => Err(BlsError::from_blst(other, "signature")),
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.to_compressed()))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

/// RFC 9380 hash-to-G2 of `message` under `dst`, in the EIP-2537 encoding: what the on-chain
/// implementation must produce. Computed as the signature of secret key 1, which is exactly
/// `H(message)`, so it needs no access to blst's internals.
pub fn hash_to_g2_eip2537(message: &[u8], dst: &[u8]) -> [u8; super::SIGNATURE_EIP2537_LEN] {
    let mut one = [0u8; 32];
    one[31] = 1;
    match SecretKey::from_bytes(&one) {
        Ok(key) => key.sign_with_dst(message, dst).to_eip2537(),
        Err(_) => unreachable!("1 is a valid scalar"),
    }
}
