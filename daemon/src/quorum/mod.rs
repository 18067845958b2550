//! Stake quorum over one proposal: which operators may sign it (the set at its reference block),
//! the signatures collected so far, and the aggregate that goes on chain. Pure logic, no I/O.
//!
//! The task manager checks a batch as `apk(reference block) - Σ non-signer keys` against the
//! aggregate signature, with `signed weight = total weight - Σ non-signer weights` (sorted,
//! distinct non-signer key hashes). The registry's aggregate key holds the key of *every* operator
//! registered at that block, weight 0 included, so the non-signers produced here are every member of
//! the set that did not sign, whatever its weight.

pub mod registry;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use alloy::primitives::{keccak256, Address, B256, U256};
use keeper_shared::bls::{BlsError, PublicKey, Signature, SigningDomain};
use rand::{CryptoRng, RngCore};
use thiserror::Error;

/// Basis points in one whole.
pub const BPS: u16 = 10_000;

/// Why an operator set was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OperatorSetError {
    #[error("operator set: no operators")]
    Empty,
    #[error("operator set: operator {operator} is listed twice")]
    DuplicateOperator { operator: Address },
    #[error("operator set: operators {first} and {second} have the same public key")]
    DuplicateKey { first: Address, second: Address },
    #[error("operator set: total weight is 0 (the task manager refuses such a reference block)")]
    ZeroTotalWeight,
    #[error("operator set: operator weights add up to {sum}, more than the total weight {total}")]
    WeightsExceedTotal { sum: U256, total: U256 },
    #[error("operator set: total weight {total} is too large to compare in basis points")]
    TotalWeightTooLarge { total: U256 },
}

/// Why a quorum threshold or an aggregate was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum QuorumError {
    #[error("quorum threshold: {bps} basis points is outside 1..={BPS}")]
    InvalidThreshold { bps: u16 },
    #[error("proposal {digest}: quorum not reached ({signed} of {total} weight signed, {threshold_bps} bps needed)")]
    NotReached { digest: B256, signed: U256, total: U256, threshold_bps: u16 },
    #[error("proposal {digest}: cannot aggregate: {source}")]
    Aggregate {
        digest: B256,
        #[source]
        source: BlsError,
    },
}

/// Why one operator's signature was not counted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SignatureRejected {
    #[error("proposal {digest}: operator {operator} is not in the operator set at its reference block")]
    UnknownOperator { digest: B256, operator: Address },
    #[error("proposal {digest}: the signature of operator {operator} does not verify against its key")]
    InvalidSignature { digest: B256, operator: Address },
    #[error("proposal {digest}: operator {operator} already signed with a different signature; the first is kept")]
    ConflictingSignature { digest: B256, operator: Address },
}

/// What a counted signature did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A new signer; `reached_quorum` is true for the one signature that crossed the threshold.
    Added { reached_quorum: bool },
    /// The operator's same signature was already counted (a keeper re-sending).
    AlreadyPresent,
}

/// What [`Quorum::check`] found before any pairing is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    AlreadyPresent,
    /// A member's new signature: verify it against this key, then [`Quorum::record_verified`].
    Verify(PublicKey),
}

/// Rejected signatures, by reason (for metrics and the operator console).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectionCounts {
    pub unknown_operator: u64,
    pub invalid_signature: u64,
    pub conflicting_signature: u64,
}

/// The stake threshold, in basis points of the total weight at the reference block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumThreshold(u16);

impl QuorumThreshold {
    /// The task manager's default: two thirds (`TaskManager.DEFAULT_QUORUM_BPS`).
    pub const TWO_THIRDS: Self = Self(6_667);

    pub fn from_bps(bps: u16) -> Result<Self, QuorumError> {
        if bps == 0 || bps > BPS {
            return Err(QuorumError::InvalidThreshold { bps });
        }
        Ok(Self(bps))
    }

    pub fn bps(self) -> u16 {
        self.0
    }

    /// The task manager's test: `signed * BPS >= total * threshold`. Cannot overflow: an
    /// [`OperatorSet`] bounds its total weight so that `total * BPS` fits.
    pub fn is_met(self, signed: U256, total: U256) -> bool {
        signed.saturating_mul(U256::from(BPS)) >= total.saturating_mul(U256::from(self.0))
    }
}

/// One member of an operator set, as the key registry reports it at a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub address: Address,
    pub public_key: PublicKey,
    pub weight: U256,
}

/// A member's key and weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    pub public_key: PublicKey,
    pub weight: U256,
}

/// The operators registered at one reference block: every key in the registry's aggregate key at
/// that block (weight 0 included), and the registry's total weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSet {
    operators: BTreeMap<Address, OperatorInfo>,
    total_weight: U256,
}

impl OperatorSet {
    /// Checks the set: non-empty, distinct addresses and keys, weights adding up to at most a non-zero total.
    pub fn new(operators: impl IntoIterator<Item = Operator>, total_weight: U256) -> Result<Self, OperatorSetError> {
        if total_weight.is_zero() {
            return Err(OperatorSetError::ZeroTotalWeight);
        }
        if total_weight.checked_mul(U256::from(BPS)).is_none() {
            return Err(OperatorSetError::TotalWeightTooLarge { total: total_weight });
        }
        let mut map = BTreeMap::new();
        let mut keys: HashMap<PublicKey, Address> = HashMap::new();
        let mut sum = U256::ZERO;
        for operator in operators {
            if let Some(first) = keys.insert(operator.public_key, operator.address) {
                if first != operator.address {
                    return Err(OperatorSetError::DuplicateKey { first, second: operator.address });
                }
            }
            sum = sum.saturating_add(operator.weight);
            let info = OperatorInfo { public_key: operator.public_key, weight: operator.weight };
            if map.insert(operator.address, info).is_some() {
                return Err(OperatorSetError::DuplicateOperator { operator: operator.address });
            }
        }
        if map.is_empty() {
            return Err(OperatorSetError::Empty);
        }
        if sum > total_weight {
            return Err(OperatorSetError::WeightsExceedTotal { sum, total: total_weight });
        }
        Ok(Self { operators: map, total_weight })
    }

    pub fn get(&self, operator: &Address) -> Option<&OperatorInfo> {
        self.operators.get(operator)
    }

    pub fn total_weight(&self) -> U256 {
        self.total_weight
    }

    pub fn len(&self) -> usize {
        self.operators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.operators.is_empty()
    }

    /// Members in address order.
    pub fn iter(&self) -> impl Iterator<Item = (&Address, &OperatorInfo)> {
        self.operators.iter()
    }

    /// The sum of every member's key: what the registry's `getApkAtBlock` returns for this set.
    pub fn aggregate_public_key(&self) -> Result<PublicKey, BlsError> {
        let keys: Vec<PublicKey> = self.operators.values().map(|info| info.public_key).collect();
        PublicKey::aggregate(&keys)
    }
}

/// An operator that did not sign, in the form the task manager takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonSigner {
    pub operator: Address,
    pub public_key: PublicKey,
    /// `keccak256` of the key's 128-byte EIP-2537 encoding: the registry's key id and the sort key.
    pub pubkey_hash: B256,
    pub weight: U256,
}

/// Everything the submitter needs for one batch: the aggregate signature, who signed, and the
/// non-signers sorted by strictly ascending `pubkey_hash` as `TaskManager.respondToBatch` requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumCertificate {
    pub digest: B256,
    pub signature: Signature,
    /// In address order.
    pub signers: Vec<Address>,
    pub non_signers: Vec<NonSigner>,
    pub signed_weight: U256,
    pub total_weight: U256,
}

/// A snapshot of one proposal's quorum, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumState {
    pub digest: B256,
    pub signed_weight: U256,
    pub total_weight: U256,
    pub threshold_bps: u16,
    pub reached: bool,
    /// In address order.
    pub signers: Vec<Address>,
    pub operators: usize,
    pub rejections: RejectionCounts,
}

/// Signatures collected over one proposal's digest.
#[derive(Debug, Clone)]
pub struct Quorum {
    digest: B256,
    set: Arc<OperatorSet>,
    threshold: QuorumThreshold,
    signatures: BTreeMap<Address, Signature>,
    signed_weight: U256,
    rejections: RejectionCounts,
}

impl Quorum {
    pub fn new(digest: B256, set: Arc<OperatorSet>, threshold: QuorumThreshold) -> Self {
        Self {
            digest,
            set,
            threshold,
            signatures: BTreeMap::new(),
            signed_weight: U256::ZERO,
            rejections: RejectionCounts::default(),
        }
    }

    pub fn digest(&self) -> B256 {
        self.digest
    }

    pub fn operator_set(&self) -> &Arc<OperatorSet> {
        &self.set
    }

    pub fn threshold(&self) -> QuorumThreshold {
        self.threshold
    }

    pub fn signed_weight(&self) -> U256 {
        self.signed_weight
    }

    pub fn is_reached(&self) -> bool {
        self.threshold.is_met(self.signed_weight, self.set.total_weight)
    }

    pub fn rejections(&self) -> RejectionCounts {
        self.rejections
    }

    /// Whether quorum can still be reached if the members in `refusing` that have not signed never
    /// do (a member's signature already counted stays counted; strangers weigh nothing).
    pub fn reachable_without<'a>(&self, refusing: impl IntoIterator<Item = &'a Address>) -> bool {
        let mut seen = std::collections::BTreeSet::new();
        let lost = refusing
            .into_iter()
            .filter(|operator| !self.signatures.contains_key(*operator) && seen.insert(**operator))
            .filter_map(|operator| self.set.get(operator))
            .fold(U256::ZERO, |sum, info| sum.saturating_add(info.weight));
        self.threshold.is_met(self.set.total_weight.saturating_sub(lost), self.set.total_weight)
    }

    /// The counted signatures, in operator address order.
    pub fn signatures(&self) -> impl Iterator<Item = (&Address, &Signature)> {
        self.signatures.iter()
    }

    pub fn state(&self) -> QuorumState {
        QuorumState {
            digest: self.digest,
            signed_weight: self.signed_weight,
            total_weight: self.set.total_weight,
            threshold_bps: self.threshold.bps(),
            reached: self.is_reached(),
            signers: self.signatures.keys().copied().collect(),
            operators: self.set.len(),
            rejections: self.rejections,
        }
    }

    /// Everything that can be decided without a pairing: membership and an earlier signature of
    /// the same operator. Rejections are counted.
    pub fn check(&mut self, operator: Address, signature: &Signature) -> Result<Check, SignatureRejected> {
        let Some(info) = self.set.get(&operator) else {
            self.rejections.unknown_operator += 1;
            return Err(SignatureRejected::UnknownOperator { digest: self.digest, operator });
        };
        match self.signatures.get(&operator) {
            None => Ok(Check::Verify(info.public_key)),
            Some(first) if first == signature => Ok(Check::AlreadyPresent),
            Some(_) => {
                // BLS signatures are unique per (key, message): the second one cannot verify.
                self.rejections.conflicting_signature += 1;
                Err(SignatureRejected::ConflictingSignature { digest: self.digest, operator })
            }
        }
    }

    /// Checks, verifies and counts one signature.
    pub fn add(&mut self, operator: Address, signature: Signature) -> Result<Accepted, SignatureRejected> {
        match self.check(operator, &signature)? {
            Check::AlreadyPresent => Ok(Accepted::AlreadyPresent),
            Check::Verify(key) => match signature.verify(&key, self.digest.as_slice(), SigningDomain::Batch) {
                Ok(()) => self.record_verified(operator, signature),
                Err(_) => Err(self.record_invalid(operator)),
            },
        }
    }

    /// Checks, verifies and counts many signatures with one batch verification that still proves
    /// each valid on its own (see [`verify_signatures`]). Results are in input order; of two signatures by one
    /// operator, the first valid one is kept.
    pub fn add_many<R: RngCore + CryptoRng>(
        &mut self,
        items: &[(Address, Signature)],
        rng: &mut R,
    ) -> Vec<Result<Accepted, SignatureRejected>> {
        // Every slot pending verification is overwritten below; "invalid" is only its placeholder.
        let mut results = Vec::with_capacity(items.len());
        let mut to_verify = Vec::new();
        for (index, (operator, signature)) in items.iter().enumerate() {
            match self.check(*operator, signature) {
                Ok(Check::Verify(key)) => {
                    to_verify.push((index, (key, self.digest, *signature)));
                    results.push(Err(SignatureRejected::InvalidSignature { digest: self.digest, operator: *operator }));
                }
                Ok(Check::AlreadyPresent) => results.push(Ok(Accepted::AlreadyPresent)),
                Err(rejected) => results.push(Err(rejected)),
            }
        }
        let triples: Vec<(PublicKey, B256, Signature)> = to_verify.iter().map(|(_, triple)| *triple).collect();
        let valid = verify_signatures(&triples, rng);
        for ((index, _), valid) in to_verify.iter().zip(valid) {
            let (operator, signature) = items[*index];
            results[*index] =
                if valid { self.record_verified(operator, signature) } else { Err(self.record_invalid(operator)) };
        }
        results
    }

    /// Counts a signature the caller verified over this digest against the member's key (see
    /// [`Quorum::check`]); the server verifies signatures of many proposals in one batch.
    pub(crate) fn record_verified(
        &mut self,
        operator: Address,
        signature: Signature,
    ) -> Result<Accepted, SignatureRejected> {
        let Some(info) = self.set.get(&operator) else {
            self.rejections.unknown_operator += 1;
            return Err(SignatureRejected::UnknownOperator { digest: self.digest, operator });
        };
        let weight = info.weight;
        match self.signatures.get(&operator) {
            Some(first) if *first == signature => return Ok(Accepted::AlreadyPresent),
            Some(_) => {
                self.rejections.conflicting_signature += 1;
                return Err(SignatureRejected::ConflictingSignature { digest: self.digest, operator });
            }
            None => {}
        }
        let before = self.is_reached();
        self.signatures.insert(operator, signature);
        self.signed_weight = self.signed_weight.saturating_add(weight);
        Ok(Accepted::Added { reached_quorum: !before && self.is_reached() })
    }

    /// Counts a signature the caller found invalid.
    pub(crate) fn record_invalid(&mut self, operator: Address) -> SignatureRejected {
        self.rejections.invalid_signature += 1;
        SignatureRejected::InvalidSignature { digest: self.digest, operator }
    }

    /// The aggregate signature, signers and sorted non-signers, once the quorum is reached.
    pub fn certificate(&self) -> Result<QuorumCertificate, QuorumError> {
        if !self.is_reached() {
            return Err(QuorumError::NotReached {
                digest: self.digest,
                signed: self.signed_weight,
                total: self.set.total_weight,
                threshold_bps: self.threshold.bps(),
            });
        }
        let signatures: Vec<Signature> = self.signatures.values().copied().collect();
        let signature = Signature::aggregate(&signatures)
            .map_err(|source| QuorumError::Aggregate { digest: self.digest, source })?;
        let mut non_signers: Vec<NonSigner> = self
            .set
            .iter()
            .filter(|(address, _)| !self.signatures.contains_key(*address))
            .map(|(address, info)| NonSigner {
                operator: *address,
                public_key: info.public_key,
                pubkey_hash: keccak256(info.public_key.to_eip2537()),
                weight: info.weight,
            })
            .collect();
        non_signers.sort_by_key(|n| n.pubkey_hash);
        Ok(QuorumCertificate {
            digest: self.digest,
            signature,
            signers: self.signatures.keys().copied().collect(),
            non_signers,
            signed_weight: self.signed_weight,
            total_weight: self.set.total_weight,
        })
    }
}

/// Verifies independent `(key, digest, signature)` batch signatures; `true` for each valid one,
/// in input order. Signatures are grouped by digest and one pairing check covers them all while
/// proving each valid on its own; invalid ones are found with a few more checks
/// ([`Signature::verify_each`]).
pub fn verify_signatures<R: RngCore + CryptoRng>(items: &[(PublicKey, B256, Signature)], rng: &mut R) -> Vec<bool> {
    let triples: Vec<(PublicKey, &[u8], Signature)> =
        items.iter().map(|(key, digest, signature)| (*key, digest.as_slice(), *signature)).collect();
    Signature::verify_each(&triples, SigningDomain::Batch, rng).valid
}

#[cfg(test)]
mod tests;
