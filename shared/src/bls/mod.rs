//! BLS12-381 signatures in the "minimal public key" variant (public keys in G1, signatures in G2),
//! the proof-of-possession scheme of the IETF BLS draft, hashing to G2 per RFC 9380.
//!
//! This module and [`crate::keystore`] are the only places that touch secret key bytes or blst.
//! Every point read from outside (wire or chain encoding) is checked: on the curve, in the
//! prime-order subgroup, and not the point at infinity.

mod batch;
mod derive;
mod eip2537;
mod error;
mod keys;
mod signature;

pub use batch::BatchVerdict;
pub use derive::{parse_eip2334_path, EIP2334_VALIDATOR_PATH};
pub use error::{BlsError, Result};
pub use keys::{PublicKey, SecretKey};
pub use signature::{hash_to_g2_eip2537, Signature};

/// Length of a compressed G1 public key.
pub const PUBLIC_KEY_COMPRESSED_LEN: usize = 48;
/// Length of a G1 public key in the EIP-2537 (chain) encoding.
pub const PUBLIC_KEY_EIP2537_LEN: usize = 128;
/// Length of a compressed G2 signature.
pub const SIGNATURE_COMPRESSED_LEN: usize = 96;
/// Length of a G2 signature in the EIP-2537 (chain) encoding.
pub const SIGNATURE_EIP2537_LEN: usize = 256;

/// What a signature is for. Each purpose has its own domain separation tag, so a signature made
/// for one can never be presented as the other (see `docs/protocol.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningDomain {
    /// Signatures over task-batch digests.
    Batch,
    /// Proofs of possession over key-registration digests.
    ProofOfPossession,
}

impl SigningDomain {
    /// The RFC 9380 domain separation tag of this purpose.
    pub const fn dst(self) -> &'static [u8] {
        match self {
            Self::Batch => BATCH_DST,
            Self::ProofOfPossession => POP_DST,
        }
    }
}

/// Domain separation tag of batch signatures.
pub const BATCH_DST: &[u8] = b"KEEPER-NETWORK-V1-BATCH_BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Domain separation tag of proofs of possession.
pub const POP_DST: &[u8] = b"KEEPER-NETWORK-V1-KEY_BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

#[cfg(test)]
mod tests;
