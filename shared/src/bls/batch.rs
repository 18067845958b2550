//! Verifying many signatures at once while proving each one valid on its own.
//!
//! The signatures are grouped by message, and one pairing check covers every group. With a fresh
//! random non-zero 64-bit scalar `r_i` per signature it tests
//!
//! ```text
//!     Π_g e(Σ_{i∈g} r_i·pk_i, H(m_g)) · e(−g1, Σ_i r_i·σ_i) = 1
//! ```
//!
//! which costs one hash to G2 and one Miller-loop pair per distinct message plus one for the
//! signatures, a single final exponentiation, and two multi-scalar multiplications (Pippenger),
//! instead of a hash and a Miller loop per signature.
//!
//! Why it proves each signature: write `σ_i = sk_i·H(m_i) + δ_i` (`δ_i = 0` exactly when `σ_i` is
//! valid). By bilinearity the left side equals `e(g1, −Σ r_i·δ_i)`, which is 1 exactly when
//! `Σ r_i·δ_i = 0`. Every `δ_i` lies in G2, a group of prime order `q` (signatures and keys are
//! subgroup-checked when decoded), so if some `δ_j ≠ 0`, then for any values of the other scalars
//! at most one value of `r_j` modulo `q` makes the sum vanish: the check passes with probability
//! at most 1/(2^64 − 1). The scalars are drawn after the signatures are fixed, so no signer can
//! aim for them. The plain sum (every `r_i = 1`) proves only the aggregate: two signatures whose
//! errors cancel (`δ` and `−δ`) pass it, and the challenger's equivocation evidence needs each
//! stored signature valid by itself.
//!
//! Finding the invalid ones, when the check fails (its value `X = e(g1, −Σ r_i·δ_i)` is kept):
//! - Naming a single culprit (batches of `IDENTIFY_MIN` or more): two more values over the same
//!   signatures, with every weight 1 (`B = e(g1, −Σ δ_i)`) and with weight `i + 1` for the item at
//!   position `i` (`W = e(g1, −Σ (i+1)·δ_i)`). If only item `j` is invalid, `W = B^(j+1)`, found
//!   with at most `n` multiplications in GT. The suspect is then confirmed by one check of it
//!   alone with its random scalar: `X_j = X` means the others' random combination vanishes (each
//!   of them valid, as above) and `X_j ≠ 1` that `δ_j ≠ 0`. Four checks in all instead of
//!   `1 + log2(n)` for bisection. The weights of `B` and `W` are public, so a signer could make
//!   them mislead; they only choose whom to test, and a failed confirmation falls back to:
//! - Bisection with the same random scalars: `X` of a range is the product of its halves' values,
//!   so one check of the left half also tells whether the right half fails (`X_left ≠ X`). A range
//!   of one item that is known to fail is invalid without another check.
//!
//! An item is reported invalid only when a check proved its `δ ≠ 0`, never by elimination under a
//! probabilistic argument: a signature reported invalid is invalid.

use std::ops::Range;
use std::sync::OnceLock;

use alloy::primitives::hex;
use blst::{blst_fp12, blst_p1_affine, blst_p2_affine, min_pk, MultiPoint, Pairing, BLST_ERROR};
use rand::{CryptoRng, RngCore};

use super::keys::PublicKey;
use super::signature::Signature;
use super::SigningDomain;

/// Bytes of each random scalar (64 bits).
const RANDOM_BYTES: usize = 8;
/// From this many signatures on, a failed check first tries to name a single invalid signature
/// (three more checks); below it, bisection needs no more.
const IDENTIFY_MIN: usize = 16;

/// What [`Signature::verify_each`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchVerdict {
    /// One entry per item, in input order: whether its signature is valid.
    pub valid: Vec<bool>,
    /// Pairing checks computed (one final exponentiation each): 1 when every signature is valid.
    pub pairing_checks: usize,
}

impl BatchVerdict {
    pub fn all_valid(&self) -> bool {
        self.valid.iter().all(|valid| *valid)
    }

    /// Input positions of the invalid signatures.
    pub fn invalid(&self) -> impl Iterator<Item = usize> + '_ {
        self.valid.iter().enumerate().filter(|(_, valid)| !**valid).map(|(index, _)| index)
    }
}

impl Signature {
    /// Verifies each `(key, message, signature)` item and reports which are valid, proving each
    /// signature valid on its own (not only their aggregate), at the cost of about one pairing
    /// check for the whole batch when all are valid: see the module documentation for the
    /// argument and for how invalid ones are found.
    pub fn verify_each<R: RngCore + CryptoRng>(
        items: &[(PublicKey, &[u8], Signature)],
        domain: SigningDomain,
        rng: &mut R,
    ) -> BatchVerdict {
        let mut batch = Batch::new(items, domain, rng);
        batch.run();
        batch.verdict()
    }
}

struct Entry<'m> {
    input: usize,
    key: min_pk::PublicKey,
    signature: min_pk::Signature,
    message: &'m [u8],
    scalar: [u8; RANDOM_BYTES],
}

/// The weights of the signatures in a combination.
#[derive(Debug, Clone, Copy)]
enum Weights {
    /// Each entry's random scalar: the sound check.
    Random,
    /// All 1: the plain sums.
    Ones,
    /// `i + 1` for the entry at position `i` of the range.
    Positions,
}

struct Batch<'m> {
    /// Sorted by message, so each group is a contiguous run.
    entries: Vec<Entry<'m>>,
    dst: &'static [u8],
    /// By entry position; every position is written before the verdict is read.
    valid: Vec<bool>,
    checks: usize,
}

impl<'m> Batch<'m> {
    fn new<R: RngCore + CryptoRng>(
        items: &[(PublicKey, &'m [u8], Signature)],
        domain: SigningDomain,
        rng: &mut R,
    ) -> Self {
        let mut entries: Vec<Entry<'m>> = items
            .iter()
            .enumerate()
            .map(|(input, (key, message, signature))| Entry {
                input,
                key: *key.as_blst(),
                signature: *signature.as_blst(),
                message,
                scalar: random_scalar(rng),
            })
            .collect();
        entries.sort_by(|a, b| a.message.cmp(b.message));
        let valid = vec![false; entries.len()];
        Self { entries, dst: domain.dst(), valid, checks: 0 }
    }

    fn run(&mut self) {
        let all = 0..self.entries.len();
        match all.len() {
            0 => {}
            1 => self.singly(all),
            n => match self.value(all.clone(), Weights::Random) {
                None => self.singly(all),
                Some(whole) if whole == gt_one() => self.mark(all, true),
                Some(whole) => {
                    if n < IDENTIFY_MIN || !self.identify_one(whole) {
                        self.bisect(all, whole);
                    }
                }
            },
        }
    }

    /// Names the one invalid signature of the whole batch, whose random check gave `whole`;
    /// false (nothing marked) if there is not exactly one, or if the search was misled.
    fn identify_one(&mut self, whole: blst_fp12) -> bool {
        let all = 0..self.entries.len();
        let Some(base) = self.value(all.clone(), Weights::Ones) else { return false };
        if base == gt_one() {
            return false; // the errors cancel in the plain sum: more than one invalid signature
        }
        let Some(weighted) = self.value(all.clone(), Weights::Positions) else { return false };
        let mut power = base;
        let mut suspect = None;
        for position in all.clone() {
            if power == weighted {
                suspect = Some(position);
                break;
            }
            power *= base;
        }
        let Some(suspect) = suspect else { return false };
        match self.value(suspect..suspect + 1, Weights::Random) {
            Some(alone) if alone == whole => {
                self.mark(all, true);
                self.valid[suspect] = false;
                true
            }
            _ => false,
        }
    }

    /// Marks every entry of `range`, whose random check is known to give `failed` (not 1).
    fn bisect(&mut self, range: Range<usize>, failed: blst_fp12) {
        if range.len() == 1 {
            self.mark(range, false); // its own random combination is not zero: δ ≠ 0
            return;
        }
        let middle = range.start + range.len() / 2;
        let (left, right) = (range.start..middle, middle..range.end);
        let Some(left_value) = self.value(left.clone(), Weights::Random) else { return self.singly(range) };
        let left_fails = left_value != gt_one();
        // The range's value is the product of its halves' values.
        let right_fails = left_value != failed;
        if left_fails {
            self.bisect(left, left_value);
        } else {
            self.mark(left, true);
        }
        match (right_fails, left_fails) {
            (false, _) => self.mark(right, true),
            (true, false) => self.bisect(right, failed),
            (true, true) if right.len() == 1 => self.mark(right, false),
            (true, true) => match self.value(right.clone(), Weights::Random) {
                Some(right_value) => self.bisect(right, right_value),
                None => self.singly(right),
            },
        }
    }

    /// Verifies each entry of `range` alone.
    fn singly(&mut self, range: Range<usize>) {
        for position in range {
            let entry = &self.entries[position];
            let outcome = entry.signature.verify(false, entry.message, self.dst, &[], &entry.key, false);
            self.valid[position] = outcome == BLST_ERROR::BLST_SUCCESS;
            self.checks += 1;
        }
    }

    fn mark(&mut self, range: Range<usize>, valid: bool) {
        self.valid[range].fill(valid);
    }

    /// `Π_g e(Σ w_i·pk_i, H(m_g)) · e(−g1, Σ w_i·σ_i)` over the entries of `range` (1 when every one
    /// of them is valid); `None` only if blst refuses an input, which validated points never are.
    fn value(&mut self, range: Range<usize>, weights: Weights) -> Option<blst_fp12> {
        self.checks += 1;
        let entries = &self.entries[range];
        let (scalars, bits) = weights.scalars(entries);
        let bytes = bits.div_ceil(8);
        let signatures: Vec<min_pk::Signature> = entries.iter().map(|e| e.signature).collect();
        let signature_sum = match weights {
            Weights::Ones => signatures.add(),
            Weights::Random | Weights::Positions => signatures.mult(&scalars, bits),
        };
        let signature_sum: blst_p2_affine = signature_sum.to_signature().into();

        let mut pairing = Pairing::new(true, self.dst);
        let mut pairs = 0;
        let mut start = 0;
        for group in entries.chunk_by(|a, b| a.message == b.message) {
            let keys: Vec<min_pk::PublicKey> = group.iter().map(|e| e.key).collect();
            let key_sum = match weights {
                Weights::Ones => keys.add(),
                Weights::Random | Weights::Positions => {
                    keys.mult(&scalars[start * bytes..(start + group.len()) * bytes], bits)
                }
            };
            start += group.len();
            let key_sum: blst_p1_affine = key_sum.to_public_key().into();
            // blst's multi-pairing does not handle infinity; the pair's factor e(0, H) is 1 anyway.
            if key_sum == blst_p1_affine::default() {
                continue;
            }
            if pairing.aggregate(&key_sum, false, &(), false, group[0].message, &[]) != BLST_ERROR::BLST_SUCCESS {
                return None;
            }
            pairs += 1;
        }
        if signature_sum != blst_p2_affine::default() {
            pairing.raw_aggregate(&signature_sum, negated_generator());
            pairs += 1;
        }
        if pairs == 0 {
            return Some(gt_one());
        }
        Some(pairing.as_fp12().final_exp())
    }

    fn verdict(&self) -> BatchVerdict {
        let mut valid = vec![false; self.entries.len()];
        for (entry, verdict) in self.entries.iter().zip(&self.valid) {
            valid[entry.input] = *verdict;
        }
        BatchVerdict { valid, pairing_checks: self.checks }
    }
}

impl Weights {
    /// Little-endian scalars, one per entry of equal width, and their width in bits.
    fn scalars(self, entries: &[Entry<'_>]) -> (Vec<u8>, usize) {
        match self {
            Self::Random => (entries.iter().flat_map(|e| e.scalar).collect(), 8 * RANDOM_BYTES),
            Self::Ones => (Vec::new(), 0),
            Self::Positions => {
                let bits = (usize::BITS - entries.len().leading_zeros()) as usize;
                let bytes = bits.div_ceil(8);
                let scalars =
                    (1..=entries.len()).flat_map(|weight| weight.to_le_bytes().into_iter().take(bytes)).collect();
                (scalars, bits)
            }
        }
    }
}

/// A uniformly random non-zero 64-bit scalar (a zero one would leave its signature unchecked).
fn random_scalar<R: RngCore + CryptoRng>(rng: &mut R) -> [u8; RANDOM_BYTES] {
    loop {
        let mut scalar = [0u8; RANDOM_BYTES];
        rng.fill_bytes(&mut scalar);
        if scalar != [0u8; RANDOM_BYTES] {
            return scalar;
        }
    }
}

/// The identity of GT.
fn gt_one() -> blst_fp12 {
    blst_fp12::default()
}

/// `−g1`, the public key of the secret scalar `q − 1`.
fn negated_generator() -> &'static blst_p1_affine {
    static POINT: OnceLock<blst_p1_affine> = OnceLock::new();
    POINT.get_or_init(|| {
        // The BLS12-381 group order q minus one (IETF pairing-friendly-curves draft, BLS12_381 r).
        const ORDER_MINUS_ONE: [u8; 32] = hex!("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000000");
        match min_pk::SecretKey::from_bytes(&ORDER_MINUS_ONE) {
            Ok(key) => key.sk_to_pk().into(),
            Err(_) => unreachable!("q - 1 is a valid scalar"),
        }
    })
}

#[cfg(test)]
mod tests;
