use thiserror::Error;

/// Result alias of the BLS module.
pub type Result<T, E = BlsError> = std::result::Result<T, E>;

/// Why a key, signature or operation was rejected. `what` names the value concerned
/// ("public key", "signature", ...).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BlsError {
    #[error("{what}: expected {expected} bytes, got {got}")]
    InvalidLength { what: &'static str, expected: usize, got: usize },
    #[error(
        "{what}: not a valid point encoding (bad flags, coordinate not below the field modulus, or not on the curve)"
    )]
    InvalidEncoding { what: &'static str },
    #[error("{what}: non-zero padding in an EIP-2537 field element")]
    NonZeroPadding { what: &'static str },
    #[error("{what}: point is not in the prime-order subgroup")]
    NotInSubgroup { what: &'static str },
    #[error("{what}: the point at infinity is not allowed")]
    PointAtInfinity { what: &'static str },
    #[error("secret key: must be 32 bytes encoding a non-zero scalar below the group order")]
    InvalidSecretKey,
    #[error("seed: EIP-2333 needs at least 32 bytes of key material, got {got}")]
    SeedTooShort { got: usize },
    #[error("derivation path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("cannot aggregate an empty list of {what}")]
    EmptyAggregate { what: &'static str },
    #[error("signature does not verify")]
    VerificationFailed,
}

impl BlsError {
    /// Maps a blst decoding/validation error onto ours for the value named `what`.
    pub(crate) fn from_blst(err: blst::BLST_ERROR, what: &'static str) -> Self {
        use blst::BLST_ERROR as E;
        match err {
            E::BLST_POINT_NOT_IN_GROUP => Self::NotInSubgroup { what },
            E::BLST_PK_IS_INFINITY => Self::PointAtInfinity { what },
            E::BLST_VERIFY_FAIL => Self::VerificationFailed,
            _ => Self::InvalidEncoding { what },
        }
    }
}
