//! The aggregator's signature verifier. Whatever arrived while the previous round was being checked
//! is verified in the next round: signatures grouped by digest, and one pairing check for all the
//! groups that still proves every signature valid on its own ([`Signature::verify_each`]); an
//! invalid one is named with three more checks. A round takes at most one signature of each
//! operator into that shared check ([`form_round`]), so whoever sends many invalid signatures at
//! once costs a round no more than one does.
//!
//! An operator whose signature fails is an offender for [`OffenderPolicy::isolation`]: its
//! signatures are then verified alone, outside the shared rounds, so it can no longer make honest
//! operators' signatures cost extra checks, and at most [`OffenderPolicy::burst`] of them at once
//! and one per [`OffenderPolicy::refill`] after that; the rest are refused unverified
//! ([`Verdict::RateLimited`]). Its work on the aggregator is then bounded by the policy, not by how
//! fast it sends. Only members of a proposal's operator set get this far (the collector refuses
//! strangers before any pairing), so the offender table is bounded by the registry's size.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use keeper_shared::bls::{PublicKey, Signature, SigningDomain};
use rand::{CryptoRng, RngCore};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// Signatures held back from a round (by [`form_round`]) are bounded by this many rounds' worth.
const WAITING_ROUNDS: usize = 8;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The signatures of one round: distinct items, where each is verified, and whoever waits for
/// each verdict (a signature sent again while the first copy waits shares its verdict).
#[derive(Debug)]
pub(crate) struct Round<W> {
    pub items: Vec<Item>,
    pub admissions: Vec<Admission>,
    pub waiters: Vec<Vec<W>>,
}

/// Takes the next round from `waiting`, in order, and returns it with what must wait for a later
/// round. At most `max` items, and at most one shared item per operator: an operator not (yet)
/// known as an offender can put only one invalid signature into a shared round, which costs
/// three more checks to name, whatever else it sent; its other signatures wait, and are an
/// offender's if that one failed. Offenders' signatures are admitted (alone or rate-limited) as
/// they come, spending their allowance.
pub(crate) fn form_round<W>(
    waiting: impl IntoIterator<Item = (Item, W)>,
    offenders: &mut Offenders,
    now: Instant,
    max: usize,
) -> (Round<W>, VecDeque<(Item, W)>) {
    let mut round = Round { items: Vec::new(), admissions: Vec::new(), waiters: Vec::new() };
    let mut shared_by: HashMap<Address, usize> = HashMap::new();
    let mut later = VecDeque::new();
    for (item, waiter) in waiting {
        if let Some(&index) = shared_by.get(&item.operator) {
            if round.items[index] == item {
                round.waiters[index].push(waiter);
            } else {
                later.push_back((item, waiter));
            }
            continue;
        }
        if round.items.len() >= max {
            later.push_back((item, waiter));
            continue;
        }
        let admission = offenders.admit(item.operator, now);
        if admission == Admission::Shared {
            shared_by.insert(item.operator, round.items.len());
        }
        round.items.push(item);
        round.admissions.push(admission);
        round.waiters.push(vec![waiter]);
    }
    (round, later)
}

/// Verifies queued signatures round by round until every sender is dropped: whatever arrived while
/// a round was being checked (up to `max_round` at a time) goes into the next ([`form_round`]).
pub(crate) async fn run(
    mut requests: mpsc::Receiver<Request>,
    max_round: usize,
    policy: OffenderPolicy,
    metrics: Option<Arc<Metrics>>,
) {
    let mut offenders = Offenders::new(policy);
    let mut waiting: VecDeque<(Item, oneshot::Sender<Verdict>)> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match requests.recv().await {
                Some(request) => waiting.push_back((request.item, request.reply)),
                None => break,
            }
        }
        // New arrivals each round even when earlier ones wait (one operator's many signatures
        // must not hold back the others'), up to a bound; beyond it the channel pushes back.
        for _ in 0..max_round.min((WAITING_ROUNDS * max_round).saturating_sub(waiting.len())) {
            match requests.try_recv() {
                Ok(request) => waiting.push_back((request.item, request.reply)),
                Err(_) => break,
            }
        }
        let (round, later) = form_round(waiting.drain(..), &mut offenders, Instant::now(), max_round);
        waiting = later;
        let Round { items, admissions, waiters } = round;
        let checked = items.clone();
        let outcome =
            tokio::task::spawn_blocking(move || verify_round(&checked, &admissions, &mut rand::thread_rng())).await;
        // If the blocking task died, dropping the replies tells each waiting request.
        let Ok(outcome) = outcome else { continue };
        if let Some(metrics) = &metrics {
            metrics.signature_pairing_checks.inc_by(outcome.pairing_checks as u64);
        }
        let now = Instant::now();
        for ((item, verdict), replies) in items.into_iter().zip(outcome.verdicts).zip(waiters) {
            observe(&mut offenders, metrics.as_deref(), &item, verdict, replies.len(), now);
            for reply in replies {
                let _ = reply.send(verdict);
            }
        }
    }
}

/// Scores an invalid signature and counts it (`copies` requests carried it) in the metrics.
fn observe(
    offenders: &mut Offenders,
    metrics: Option<&Metrics>,
    item: &Item,
    verdict: Verdict,
    copies: usize,
    now: Instant,
) {
    let operator = item.operator;
    match verdict {
        Verdict::Valid => {}
        Verdict::RateLimited { .. } => {
            if let Some(metrics) = metrics {
                metrics.observe_signature_rate_limited(operator);
            }
        }
        Verdict::Invalid => {
            let score = offenders.record_invalid(operator, now);
            tracing::warn!(
                %operator,
                digest = %item.digest,
                score,
                copies,
                "aggregator: invalid signature; the operator's signatures are verified alone and rate-limited"
            );
            if let Some(metrics) = metrics {
                metrics.observe_signature_invalid(operator);
            }
        }
    }
}

#[cfg(test)]
mod tests;
