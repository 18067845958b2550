use std::fmt;

use alloy::primitives::Address;
use blst::min_pk;
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::derive;
use super::eip2537;
use super::error::{BlsError, Result};
use super::signature::Signature;
use super::SigningDomain;
use crate::batch::key_registration_digest;

/// A BLS12-381 secret key. Zeroized on drop (blst derives `Zeroize(drop)`), never printed:
/// `Debug` shows only the public key.
pub struct SecretKey(min_pk::SecretKey);

impl SecretKey {
    /// A fresh key from 32 bytes of the given RNG through the IETF KeyGen (HKDF-mod-r).
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut ikm = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(ikm.as_mut());
        // KeyGen only fails for key material under 32 bytes.
        match min_pk::SecretKey::key_gen(ikm.as_ref(), &[]) {
            Ok(key) => Self(key),
            Err(_) => unreachable!("KeyGen accepts 32 bytes of key material"),
        }
    }

    /// The EIP-2333 master key of a seed (at least 32 bytes).
    pub fn derive_master(seed: &[u8]) -> Result<Self> {
        derive::master(seed).map(Self)
    }

    /// The EIP-2333 child key at `index`.
    pub fn derive_child(&self, index: u32) -> Self {
        Self(self.0.derive_child_eip2333(index))
    }

    /// The key at an EIP-2334 path such as `m/12381/3600/0/0/0`, derived from `seed`.
    pub fn derive_path(seed: &[u8], path: &str) -> Result<Self> {
        let indices = derive::parse_eip2334_path(path)?;
        let mut key = Self::derive_master(seed)?;
        for index in indices {
            key = key.derive_child(index);
        }
        Ok(key)
    }

    /// Reads a 32-byte big-endian scalar; zero and values not below the group order are rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        min_pk::SecretKey::from_bytes(bytes).map(Self).map_err(|_| BlsError::InvalidSecretKey)
    }

    /// The 32-byte big-endian scalar, in a buffer that zeroizes on drop (for keystores only).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.sk_to_pk())
    }

    /// Signs `message` for `domain`.
    pub fn sign(&self, message: &[u8], domain: SigningDomain) -> Signature {
        Signature::from_blst(self.0.sign(message, domain.dst(), &[]))
    }

    /// A proof of possession for registering this key as `operator`'s at the key registry
    /// `registry` on `chain_id` (see [`crate::batch::key_registration_digest`]).
    pub fn prove_possession(&self, chain_id: u64, registry: Address, operator: Address) -> Signature {
        let digest = key_registration_digest(chain_id, registry, operator, &self.public_key());
        self.sign(digest.as_slice(), SigningDomain::ProofOfPossession)
    }

    /// Signs with an arbitrary domain separation tag: for cross-checking other implementations
    /// against test vectors, never for protocol messages (use [`SecretKey::sign`]).
    pub fn sign_with_dst(&self, message: &[u8], dst: &[u8]) -> Signature {
        Signature::from_blst(self.0.sign(message, dst, &[]))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public key {})", self.public_key())
    }
}

/// A validated BLS12-381 public key (a G1 point in the subgroup, not infinity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(min_pk::PublicKey);

impl PublicKey {
    const WHAT: &'static str = "public key";

    /// Reads the 48-byte compressed (wire) encoding, fully validated.
    pub fn from_compressed(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != super::PUBLIC_KEY_COMPRESSED_LEN {
            return Err(BlsError::InvalidLength {
                what: Self::WHAT,
                expected: super::PUBLIC_KEY_COMPRESSED_LEN,
                got: bytes.len(),
            });
        }
        let key = min_pk::PublicKey::uncompress(bytes).map_err(|e| BlsError::from_blst(e, Self::WHAT))?;
        Self::validated(key)
    }

    /// Reads the 128-byte EIP-2537 (chain) encoding, fully validated.
    pub fn from_eip2537(bytes: &[u8]) -> Result<Self> {
        let raw = eip2537::g1_from_eip2537(bytes, Self::WHAT)?;
        let key = min_pk::PublicKey::deserialize(&raw).map_err(|e| BlsError::from_blst(e, Self::WHAT))?;
        Self::validated(key)
    }

    fn validated(key: min_pk::PublicKey) -> Result<Self> {
        key.validate().map_err(|e| BlsError::from_blst(e, Self::WHAT))?;
        Ok(Self(key))
    }

    /// The 48-byte compressed encoding.
    pub fn to_compressed(&self) -> [u8; super::PUBLIC_KEY_COMPRESSED_LEN] {
        self.0.compress()
    }

    /// The 128-byte EIP-2537 encoding the precompiles and our contracts use.
    pub fn to_eip2537(&self) -> [u8; super::PUBLIC_KEY_EIP2537_LEN] {
        eip2537::g1_to_eip2537(&self.0.serialize())
    }

    /// The sum of `keys`: the key that verifies the aggregate of their signatures on one message.
    pub fn aggregate(keys: &[PublicKey]) -> Result<Self> {
        if keys.is_empty() {
            return Err(BlsError::EmptyAggregate { what: "public keys" });
        }
        let refs: Vec<&min_pk::PublicKey> = keys.iter().map(|k| &k.0).collect();
        let aggregate = min_pk::AggregatePublicKey::aggregate(&refs, false)
            .map_err(|e| BlsError::from_blst(e, "aggregate public key"))?;
        Self::validated(aggregate.to_public_key())
    }

    /// `self` minus each of `keys`: an aggregate key with some signers removed, as the chain
    /// computes it from the set's aggregate and the non-signers. Fails if nothing is left.
    pub fn subtract(&self, keys: &[PublicKey]) -> Result<Self> {
        let mut acc = min_pk::AggregatePublicKey::from_public_key(&self.0);
        for key in keys {
            acc.sub_aggregate(&min_pk::AggregatePublicKey::from_public_key(&key.0));
        }
        Self::validated(acc.to_public_key())
    }

    /// Checks a proof of possession made by [`SecretKey::prove_possession`].
    pub fn verify_possession(
        &self,
        proof: &Signature,
        chain_id: u64,
        registry: Address,
        operator: Address,
    ) -> Result<()> {
        let digest = key_registration_digest(chain_id, registry, operator, self);
        proof.verify(self, digest.as_slice(), SigningDomain::ProofOfPossession)
    }

    pub(crate) fn as_blst(&self) -> &min_pk::PublicKey {
        &self.0
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.to_compressed()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_compressed().hash(state);
    }
}

impl std::str::FromStr for PublicKey {
    type Err = BlsError;

    /// Parses the compressed key as hex, with or without `0x`.
    fn from_str(s: &str) -> Result<Self> {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(digits).map_err(|_| BlsError::InvalidEncoding { what: Self::WHAT })?;
        Self::from_compressed(&bytes)
    }
}
