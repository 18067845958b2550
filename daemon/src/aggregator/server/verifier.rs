//! The aggregator's signature verifier. Whatever arrived while the previous round was being checked
//! is verified in the next round: signatures grouped by digest, each group covered by one pairing
//! check that still proves every signature valid on its own ([`Signature::verify_each`]); an
//! invalid one is found with a few more checks.
//!
//! An operator whose signature fails is an offender for [`OffenderPolicy::isolation`]: its
//! signatures are then verified alone, outside the shared rounds, so it can no longer make honest
//! operators' signatures cost extra checks, and at most [`OffenderPolicy::burst`] of them at once
//! and one per [`OffenderPolicy::refill`] after that; the rest are refused unverified
//! ([`Verdict::RateLimited`]). Its work on the aggregator is then bounded by the policy, not by how
//! fast it sends. Only members of a proposal's operator set get this far (the collector refuses
//! strangers before any pairing), so the offender table is bounded by the registry's size.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use keeper_shared::bls::{PublicKey, Signature, SigningDomain};
use rand::{CryptoRng, RngCore};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// Longest isolation applied, whatever the policy says.
const MAX_ISOLATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// How the verifier treats operators that sent an invalid signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffenderPolicy {
    /// How long after its latest invalid signature an operator's signatures are verified alone
    /// and rate-limited.
    pub isolation: Duration,
    /// Signatures of an offender verified at once before the rate limit applies.
    pub burst: u32,
    /// One more of its signatures may be verified per this much time.
    pub refill: Duration,
}

impl Default for OffenderPolicy {
    fn default() -> Self {
        // An honest keeper signs about one proposal per block: one a second with a burst of four
        // lets a keeper that recovered (a key mix-up fixed) keep signing while it serves its time.
        Self { isolation: Duration::from_secs(600), burst: 4, refill: Duration::from_secs(1) }
    }
}

/// The verifier's answer for one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    /// Not verified: the operator is an offender that used up its allowance; retry after this long.
    RateLimited {
        retry_after: Duration,
    },
}

/// Where a signature is verified, or why it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// In the round's shared checks.
    Shared,
    /// Alone: the operator is an offender.
    Alone,
    RateLimited {
        retry_after: Duration,
    },
}

/// One signature to verify.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    pub operator: Address,
    pub key: PublicKey,
    pub digest: B256,
    pub signature: Signature,
}

/// What one round found: a verdict per item, in order, and the pairing checks it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoundOutcome {
    pub verdicts: Vec<Verdict>,
    pub pairing_checks: usize,
}

/// Operators that sent invalid signatures recently, and their allowances.
#[derive(Debug, Default)]
pub(crate) struct Offenders {
    policy: OffenderPolicy,
    by_operator: HashMap<Address, Offender>,
}

#[derive(Debug)]
struct Offender {
    /// Invalid signatures since it last had a clean record: its score.
    invalid: u64,
    until: Instant,
    tokens: u32,
    refilled: Instant,
}

impl Offenders {
    pub fn new(policy: OffenderPolicy) -> Self {
        Self { policy, by_operator: HashMap::new() }
    }

    /// Decides where `operator`'s next signature is verified, spending its allowance if it is an offender.
    pub fn admit(&mut self, operator: Address, now: Instant) -> Admission {
        let Some(offender) = self.by_operator.get_mut(&operator) else { return Admission::Shared };
        if now >= offender.until {
            self.by_operator.remove(&operator); // served its time: a clean record again
            return Admission::Shared;
        }
        let refill = self.policy.refill.max(Duration::from_millis(1));
        let earned = now.saturating_duration_since(offender.refilled).as_nanos() / refill.as_nanos();
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            offender.tokens = offender.tokens.saturating_add(earned).min(self.policy.burst);
            offender.refilled += refill.saturating_mul(earned);
        }
        if offender.tokens > 0 {
            offender.tokens -= 1;
            return Admission::Alone;
        }
        let retry_after = refill.saturating_sub(now.saturating_duration_since(offender.refilled));
        Admission::RateLimited { retry_after }
    }

    /// Records an invalid signature by `operator`; returns its score (invalid signatures since its
    /// record was last clean).
    pub fn record_invalid(&mut self, operator: Address, now: Instant) -> u64 {
        let policy = &self.policy;
        let offender = self.by_operator.entry(operator).or_insert_with(|| Offender {
            invalid: 0,
            until: now,
            tokens: policy.burst,
            refilled: now,
        });
        offender.invalid += 1;
        // Capped so that no configured length can overflow the clock.
        offender.until = now + policy.isolation.min(MAX_ISOLATION);
        offender.invalid
    }
}

/// Verifies the admitted items of one round: the shared ones together, the offenders' one by one.
pub(crate) fn verify_round<R: RngCore + CryptoRng>(
    items: &[Item],
    admissions: &[Admission],
    rng: &mut R,
) -> RoundOutcome {
    let of = |ok: bool| if ok { Verdict::Valid } else { Verdict::Invalid };
    let mut verdicts: Vec<Verdict> = admissions
        .iter()
        .map(|admission| match admission {
            // Overwritten below for every admitted item.
            Admission::Shared | Admission::Alone => Verdict::Invalid,
            Admission::RateLimited { retry_after } => Verdict::RateLimited { retry_after: *retry_after },
        })
        .collect();
    let shared: Vec<usize> = (0..items.len()).filter(|i| admissions[*i] == Admission::Shared).collect();
    let triples: Vec<(PublicKey, &[u8], Signature)> =
        shared.iter().map(|i| (items[*i].key, items[*i].digest.as_slice(), items[*i].signature)).collect();
    let verdict = Signature::verify_each(&triples, SigningDomain::Batch, rng);
    let mut pairing_checks = verdict.pairing_checks;
    for (index, ok) in shared.into_iter().zip(verdict.valid) {
        verdicts[index] = of(ok);
    }
    for (index, item) in items.iter().enumerate() {
        if admissions[index] == Admission::Alone {
            verdicts[index] =
                of(item.signature.verify(&item.key, item.digest.as_slice(), SigningDomain::Batch).is_ok());
            pairing_checks += 1;
        }
    }
    RoundOutcome { verdicts, pairing_checks }
}

/// A queued signature and where its verdict goes.
pub(crate) struct Request {
    pub item: Item,
    pub reply: oneshot::Sender<Verdict>,
}

/// Verifies queued signatures round by round until every sender is dropped: whatever arrived while
/// a round was being checked (up to `max_round`) goes into the next.
pub(crate) async fn run(
    mut requests: mpsc::Receiver<Request>,
    max_round: usize,
    policy: OffenderPolicy,
    metrics: Option<Arc<Metrics>>,
) {
    let mut offenders = Offenders::new(policy);
    while let Some(first) = requests.recv().await {
        let mut round = vec![first];
        while round.len() < max_round {
            match requests.try_recv() {
                Ok(request) => round.push(request),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        let admissions: Vec<Admission> = round.iter().map(|r| offenders.admit(r.item.operator, now)).collect();
        let items: Vec<Item> = round.iter().map(|r| r.item).collect();
        let outcome =
            tokio::task::spawn_blocking(move || verify_round(&items, &admissions, &mut rand::thread_rng())).await;
        // If the blocking task died, dropping the replies tells each waiting request.
        let Ok(outcome) = outcome else { continue };
        if let Some(metrics) = &metrics {
            metrics.signature_pairing_checks.inc_by(outcome.pairing_checks as u64);
        }
        let now = Instant::now();
        for (request, verdict) in round.into_iter().zip(outcome.verdicts) {
            let operator = request.item.operator;
            match verdict {
                Verdict::Valid => {}
                Verdict::RateLimited { .. } => {
                    if let Some(metrics) = &metrics {
                        metrics.observe_signature_rate_limited(operator);
                    }
                }
                Verdict::Invalid => {
                    let score = offenders.record_invalid(operator, now);
                    tracing::warn!(
                        %operator,
                        digest = %request.item.digest,
                        score,
                        "aggregator: invalid signature; the operator's signatures are verified alone and rate-limited"
                    );
                    if let Some(metrics) = &metrics {
                        metrics.observe_signature_invalid(operator);
                    }
                }
            }
            let _ = request.reply.send(verdict);
        }
    }
}

#[cfg(test)]
mod tests;
