//! Conversions between blst's uncompressed serialisation and the EIP-2537 encoding the
//! precompiles use. blst (ZCash format) writes an Fp2 element as `c1 || c0` with 48-byte
//! coordinates and flags in the top bits; EIP-2537 writes `c0 || c1`, each Fp padded to 64 bytes
//! with 16 zero bytes, and encodes infinity as all zeros.

use super::error::{BlsError, Result};

const FP: usize = 48;
const PADDED: usize = 64;
const PAD: usize = PADDED - FP;

/// blst's uncompressed G1 (96 bytes) to EIP-2537 (128 bytes). `blst_bytes` is never infinity here:
/// callers only hold validated points.
pub(crate) fn g1_to_eip2537(blst_bytes: &[u8; 2 * FP]) -> [u8; 2 * PADDED] {
    let mut out = [0u8; 2 * PADDED];
    out[PAD..PADDED].copy_from_slice(&blst_bytes[..FP]);
    out[PADDED + PAD..].copy_from_slice(&blst_bytes[FP..]);
    out
}

/// EIP-2537 G1 (128 bytes) to blst's uncompressed form, checking the padding. The all-zero
/// encoding (infinity) is reported as such; curve and subgroup checks are left to blst.
pub(crate) fn g1_from_eip2537(bytes: &[u8], what: &'static str) -> Result<[u8; 2 * FP]> {
    check_len(bytes, 2 * PADDED, what)?;
    if bytes.iter().all(|b| *b == 0) {
        return Err(BlsError::PointAtInfinity { what });
    }
    let mut out = [0u8; 2 * FP];
    for (i, chunk) in bytes.chunks_exact(PADDED).enumerate() {
        out[i * FP..(i + 1) * FP].copy_from_slice(unpad(chunk, what)?);
    }
    reject_flag_bits(out[0], what)?;
    Ok(out)
}

/// blst's uncompressed G2 (192 bytes: x.c1 x.c0 y.c1 y.c0) to EIP-2537 (256 bytes: x.c0 x.c1 y.c0 y.c1).
pub(crate) fn g2_to_eip2537(blst_bytes: &[u8; 4 * FP]) -> [u8; 4 * PADDED] {
    let mut out = [0u8; 4 * PADDED];
    for (dst_index, src_index) in [(0, 1), (1, 0), (2, 3), (3, 2)] {
        let dst = dst_index * PADDED + PAD;
        out[dst..dst + FP].copy_from_slice(&blst_bytes[src_index * FP..(src_index + 1) * FP]);
    }
    out
}

/// EIP-2537 G2 (256 bytes) to blst's uncompressed form, checking the padding.
pub(crate) fn g2_from_eip2537(bytes: &[u8], what: &'static str) -> Result<[u8; 4 * FP]> {
    check_len(bytes, 4 * PADDED, what)?;
    if bytes.iter().all(|b| *b == 0) {
        return Err(BlsError::PointAtInfinity { what });
    }
    let mut out = [0u8; 4 * FP];
    for (src_index, dst_index) in [(0, 1), (1, 0), (2, 3), (3, 2)] {
        let chunk = &bytes[src_index * PADDED..(src_index + 1) * PADDED];
        out[dst_index * FP..(dst_index + 1) * FP].copy_from_slice(unpad(chunk, what)?);
    }
    reject_flag_bits(out[0], what)?;
    Ok(out)
}

fn check_len(bytes: &[u8], expected: usize, what: &'static str) -> Result<()> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(BlsError::InvalidLength { what, expected, got: bytes.len() })
    }
}

fn unpad<'a>(chunk: &'a [u8], what: &'static str) -> Result<&'a [u8]> {
    if chunk[..PAD].iter().any(|b| *b != 0) {
        return Err(BlsError::NonZeroPadding { what });
    }
    Ok(&chunk[PAD..])
}

/// A coordinate below the 381-bit modulus has its top three bits clear; blst would read them as
/// compression/infinity/sign flags, so a value with any of them set is simply not a field element.
fn reject_flag_bits(first_byte: u8, what: &'static str) -> Result<()> {
    if first_byte & 0xe0 != 0 {
        return Err(BlsError::InvalidEncoding { what });
    }
    Ok(())
}
