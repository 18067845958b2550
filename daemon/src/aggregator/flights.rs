//! The aggregator's open proposals ("flights") as plain bookkeeping: the order they were proposed in
//! (batches are submitted in that order), when each reached quorum and whether its quorum window is
//! over, and when an unsigned one expires. No I/O: time is passed in (`tokio::time::Instant`, so
//! tests run under a paused clock) and the payload is whatever the role carries with a proposal.
//!
//! A proposal's lifetime is not fixed at the task manager's `maxReferenceAge`: under overload a
//! proposal the keepers cannot sign in time only holds its tasks back, so the lifetime follows how
//! many blocks the keepers take to reach quorum ([`Lifetime`]), within `maxReferenceAge` less a margin.

use std::collections::HashMap;
use std::time::Duration;

use alloy::primitives::B256;
use tokio::time::Instant;

/// Blocks before the task manager's `maxReferenceAge` at which an unsigned proposal is abandoned
/// (its transaction must still be mined before the reference block grows too old).
pub const AGE_MARGIN: u64 = 4;

/// One open proposal.
#[derive(Debug, Clone)]
pub struct Flight<P> {
    /// Order of proposal: batches are submitted in this order, so that an event job's earlier task
    /// never lands after a later one (the watermark would skip it for good).
    pub order: u64,
    pub reference_block: u64,
    /// When it was published (for `keeper_quorum_duration_seconds`).
    pub proposed_at: Instant,
    pub quorum_at: Option<Instant>,
    pub payload: P,
}

/// How long an unsigned proposal stays open, in blocks past its reference block: a few times the
/// blocks its keepers have recently taken to reach quorum, never less than `floor`, never more than
/// `ceiling` (`maxReferenceAge - AGE_MARGIN`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lifetime {
    floor: u64,
    ceiling: u64,
    /// Moving average of blocks from reference block to quorum (`None` before the first quorum).
    quorum_blocks: Option<f64>,
}

impl Lifetime {
    /// Blocks of slack over the observed quorum time: the head can move a block or two while a
    /// proposal is published and while its keepers poll.
    const SLACK_BLOCKS: u64 = 3;
    /// Weight of the latest observation in the moving average.
    const SMOOTHING: f64 = 0.2;

    /// `max_reference_age`: the task manager's `maxReferenceAge`. Before any quorum was seen the
    /// lifetime is the ceiling (the keepers' pace is unknown).
    pub fn new(max_reference_age: u64) -> Self {
        let ceiling = max_reference_age.saturating_sub(AGE_MARGIN).max(1);
        Self { floor: (2 * Self::SLACK_BLOCKS).min(ceiling), ceiling, quorum_blocks: None }
    }

    /// A proposal at `reference_block` reached quorum with the head at `head`.
    pub fn observe_quorum(&mut self, reference_block: u64, head: u64) {
        let blocks = head.saturating_sub(reference_block) as f64;
        self.quorum_blocks = Some(match self.quorum_blocks {
            None => blocks,
            Some(mean) => mean + Self::SMOOTHING * (blocks - mean),
        });
    }

    /// Blocks past its reference block an unsigned proposal stays open.
    pub fn blocks(&self) -> u64 {
        match self.quorum_blocks {
            None => self.ceiling,
            Some(mean) => {
                let sized = (2.0 * mean).ceil() as u64 + Self::SLACK_BLOCKS;
                sized.clamp(self.floor, self.ceiling)
            }
        }
    }
}

/// How many leaves the keepers bring to quorum per block, measured over blocks in which they had more
/// to sign than they signed (otherwise the count is the demand, not their pace: then the estimate
/// grows, to find out whether they can do more), and what that
/// allows the aggregator to propose: twice the pace (room to find a faster one), never less than one
/// full batch, less what still waits for signatures. Proposing more than keepers can sign would only
/// queue proposals that close unsigned; the tasks left over stay due instead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pace {
    /// Leaves that reached quorum since the last head.
    signed: usize,
    last_head: Option<u64>,
    per_block: Option<f64>,
}

impl Pace {
    /// Before any measurement: this many full batches may wait for signatures.
    pub const UNMEASURED_BATCHES: usize = 4;
    /// Weight of the latest block in the moving average.
    const SMOOTHING: f64 = 0.3;
    /// How much the measured pace grows at a head where the keepers had no backlog.
    const GROWTH: f64 = 1.5;

    /// A proposal of `leaves` reached quorum.
    pub fn signed(&mut self, leaves: usize) {
        self.signed = self.signed.saturating_add(leaves);
    }

    /// The chain moved to `head`; `backlog` leaves of open proposals were still unsigned.
    pub fn on_head(&mut self, head: u64, backlog: usize) {
        let signed = std::mem::take(&mut self.signed);
        let Some(last) = self.last_head.replace(head) else { return };
        let blocks = head.saturating_sub(last);
        if blocks == 0 {
            return;
        }
        let rate = signed as f64 / blocks as f64;
        self.per_block = match (self.per_block, backlog) {
            (None, 0) => None,
            // The keepers signed everything they had: they can do more than measured (a measurement
            // taken while they were starting, say, must not hold the proposals down for good).
            (Some(mean), 0) => Some((mean * Self::GROWTH).max(rate)),
            (None, _) => Some(rate),
            (Some(mean), _) => Some(mean + Self::SMOOTHING * (rate - mean)),
        };
    }

    /// The head of the last [`Self::on_head`].
    pub fn last_head(&self) -> Option<u64> {
        self.last_head
    }

    /// Leaves measured per block, if measured.
    pub fn per_block(&self) -> Option<f64> {
        self.per_block
    }

    /// Leaves that may be proposed now, with `unsigned` leaves waiting for signatures.
    pub fn allowance(&self, max_tasks: usize, unsigned: usize) -> usize {
        let cap = match self.per_block {
            None => Self::UNMEASURED_BATCHES * max_tasks,
            Some(pace) => ((2.0 * pace).ceil() as usize).max(max_tasks),
        };
        cap.saturating_sub(unsigned)
    }
}

/// The open proposals, by digest.
#[derive(Debug)]
pub struct Flights<P> {
    open: HashMap<B256, Flight<P>>,
    next_order: u64,
    /// How long a proposal that reached quorum waits for more signers before it is submitted.
    window: Duration,
    lifetime: Lifetime,
}

impl<P> Flights<P> {
    pub fn new(window: Duration, max_reference_age: u64) -> Self {
        Self { open: HashMap::new(), next_order: 0, window, lifetime: Lifetime::new(max_reference_age) }
    }

    /// Follows a published proposal (after the ones opened before it).
    pub fn open(&mut self, digest: B256, reference_block: u64, quorum_reached: bool, now: Instant, payload: P) {
        self.next_order += 1;
        let flight = Flight {
            order: self.next_order,
            reference_block,
            proposed_at: now,
            quorum_at: quorum_reached.then_some(now),
            payload,
        };
        self.open.insert(digest, flight);
    }

    /// Marks `digest` as having reached quorum with the chain at `head`; the time it took, the first time.
    pub fn quorum_reached(&mut self, digest: B256, head: u64, now: Instant) -> Option<Duration> {
        let flight = self.open.get_mut(&digest)?;
        if flight.quorum_at.is_some() {
            return None;
        }
        flight.quorum_at = Some(now);
        self.lifetime.observe_quorum(flight.reference_block, head);
        Some(now.saturating_duration_since(flight.proposed_at))
    }

    /// Proposals whose quorum window is over, or that every operator signed (`all_signed`), oldest first.
    pub fn ready(&self, now: Instant, all_signed: impl Fn(B256) -> bool) -> Vec<B256> {
        let mut ready: Vec<(u64, B256)> = self
            .open
            .iter()
            .filter(|(digest, flight)| {
                flight
                    .quorum_at
                    .is_some_and(|at| now.saturating_duration_since(at) >= self.window || all_signed(**digest))
            })
            .map(|(digest, flight)| (flight.order, *digest))
            .collect();
        ready.sort_unstable();
        ready.into_iter().map(|(_, digest)| digest).collect()
    }

    /// Takes out the proposals without quorum that are past their lifetime at `head`, oldest first.
    pub fn expire(&mut self, head: u64) -> Vec<(B256, Flight<P>)> {
        let lifetime = self.lifetime.blocks();
        let mut old: Vec<(u64, B256)> = self
            .open
            .iter()
            .filter(|(_, f)| f.quorum_at.is_none() && head.saturating_sub(f.reference_block) > lifetime)
            .map(|(digest, f)| (f.order, *digest))
            .collect();
        old.sort_unstable();
        old.into_iter().filter_map(|(_, digest)| self.open.remove(&digest).map(|f| (digest, f))).collect()
    }

    pub fn get(&self, digest: &B256) -> Option<&Flight<P>> {
        self.open.get(digest)
    }

    pub fn remove(&mut self, digest: &B256) -> Option<Flight<P>> {
        self.open.remove(digest)
    }

    pub fn contains(&self, digest: &B256) -> bool {
        self.open.contains_key(digest)
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Every open proposal.
    pub fn iter(&self) -> impl Iterator<Item = (&B256, &Flight<P>)> {
        self.open.iter()
    }

    /// Open proposals that have not reached quorum yet.
    pub fn unsigned(&self) -> impl Iterator<Item = &Flight<P>> {
        self.open.values().filter(|f| f.quorum_at.is_none())
    }

    /// Unsigned proposals made before the head the aggregator last proposed at (`previous`): the
    /// keepers have had a whole round for them, so what [`Pace`] counts as their backlog. The last
    /// round's proposals are not: counting them would measure the aggregator's own rate of proposing
    /// (one round per block, or fewer when a round takes longer) as the keepers' pace.
    pub fn backlog(&self, previous: u64) -> impl Iterator<Item = &Flight<P>> {
        self.unsigned().filter(move |f| f.reference_block < previous)
    }

    /// Blocks past its reference block an unsigned proposal stays open now.
    pub fn lifetime_blocks(&self) -> u64 {
        self.lifetime.blocks()
    }
}

#[cfg(test)]
mod tests;
