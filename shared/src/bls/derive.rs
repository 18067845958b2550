//! EIP-2333 key derivation and EIP-2334 paths.

use blst::min_pk;

use super::error::{BlsError, Result};

/// The EIP-2334 signing-key path of validator-style key 0: `m/12381/3600/0/0/0`.
pub const EIP2334_VALIDATOR_PATH: &str = "m/12381/3600/0/0/0";

/// EIP-2333 needs at least 32 bytes of key material.
const MIN_SEED_LEN: usize = 32;

pub(super) fn master(seed: &[u8]) -> Result<min_pk::SecretKey> {
    if seed.len() < MIN_SEED_LEN {
        return Err(BlsError::SeedTooShort { got: seed.len() });
    }
    min_pk::SecretKey::derive_master_eip2333(seed).map_err(|_| BlsError::SeedTooShort { got: seed.len() })
}

/// Parses an EIP-2334 path (`m/12381/3600/0/0/0`) into child indices.
pub fn parse_eip2334_path(path: &str) -> Result<Vec<u32>> {
    let invalid = |reason| BlsError::InvalidPath { path: path.to_owned(), reason };
    let mut parts = path.split('/');
    if parts.next() != Some("m") {
        return Err(invalid("must start with \"m\""));
    }
    parts
        .map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("each level must be a decimal index"));
            }
            part.parse::<u32>().map_err(|_| invalid("an index does not fit in 32 bits"))
        })
        .collect()
}
