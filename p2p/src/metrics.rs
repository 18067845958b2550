//! The node's counters: plain atomics the daemon reads with [`NetworkMetrics::snapshot`] and
//! exports (Prometheus names are the daemon's business). One struct, registered once, passed
//! where needed.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Topic;
use crate::validation::InvalidReason;

/// Upper bounds (milliseconds) of the gossip latency buckets; a last bucket takes the rest.
pub const LATENCY_BUCKETS_MS: [u64; 10] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

const REASONS: usize = InvalidReason::CRATE_REASONS.len() + 1;

#[derive(Debug, Default)]
struct TopicCounters {
    published: AtomicU64,
    received: AtomicU64,
    accepted: AtomicU64,
    forwarded: AtomicU64,
    ignored: AtomicU64,
    duplicates: AtomicU64,
    caught_up: AtomicU64,
    invalid: [AtomicU64; REASONS],
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    latency_sum_ms: AtomicU64,
}

/// The node's counters. Gauges are set, counters only grow.
#[derive(Debug, Default)]
pub struct NetworkMetrics {
    peers_connected: AtomicU64,
    peers_verified: AtomicU64,
    records_accepted: AtomicU64,
    records_rejected: AtomicU64,
    catch_up_requests: AtomicU64,
    catch_up_served: AtomicU64,
    topics: [TopicCounters; Topic::ALL.len()],
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Peers with at least one open connection.
    pub peers_connected: u64,
    /// Connected peers that presented a valid record of a registered operator.
    pub peers_verified: u64,
    pub records_accepted: u64,
    pub records_rejected: u64,
    /// Catch-up requests we sent.
    pub catch_up_requests: u64,
    /// Catch-up requests we answered.
    pub catch_up_served: u64,
    pub proposals: TopicSnapshot,
    pub signatures: TopicSnapshot,
    pub disputes: TopicSnapshot,
}

impl MetricsSnapshot {
    pub fn topic(&self, topic: Topic) -> &TopicSnapshot {
        match topic {
            Topic::Proposals => &self.proposals,
            Topic::Signatures => &self.signatures,
            Topic::Disputes => &self.disputes,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSnapshot {
    /// Messages we signed and published.
    pub published: u64,
    /// Messages received (gossip and catch-up), before validation.
    pub received: u64,
    /// Messages that passed validation and were delivered.
    pub accepted: u64,
    /// Accepted gossip messages handed back to gossipsub for forwarding.
    pub forwarded: u64,
    /// Dropped without penalty.
    pub ignored: u64,
    /// Valid messages we already had (e.g. got by catch-up, then by gossip).
    pub duplicates: u64,
    /// Accepted messages that came by catch-up.
    pub caught_up: u64,
    /// Refused messages by reason label (`application` sums the daemon's reasons).
    pub invalid: Vec<(&'static str, u64)>,
    /// Gossip latency (receive time minus the author's stamp): cumulative counts per bucket of
    /// [`LATENCY_BUCKETS_MS`], then the total count.
    pub latency_buckets: Vec<u64>,
    pub latency_sum_ms: u64,
}

impl TopicSnapshot {
    pub fn invalid_total(&self) -> u64 {
        self.invalid.iter().map(|(_, n)| n).sum()
    }

    pub fn invalid_by(&self, label: &str) -> u64 {
        self.invalid.iter().find(|(l, _)| *l == label).map_or(0, |(_, n)| *n)
    }
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl NetworkMetrics {
    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let topic = |t: &TopicCounters| {
            let mut cumulative = 0;
            let latency_buckets = t
                .latency_buckets
                .iter()
                .map(|b| {
                    cumulative += load(b);
                    cumulative
                })
                .collect();
            let labels = InvalidReason::CRATE_REASONS.iter().map(|r| r.label()).chain(["application"]);
            TopicSnapshot {
                published: load(&t.published),
                received: load(&t.received),
                accepted: load(&t.accepted),
                forwarded: load(&t.forwarded),
                ignored: load(&t.ignored),
                duplicates: load(&t.duplicates),
                caught_up: load(&t.caught_up),
                invalid: labels.zip(t.invalid.iter().map(load)).collect(),
                latency_buckets,
                latency_sum_ms: load(&t.latency_sum_ms),
            }
        };
        MetricsSnapshot {
            peers_connected: load(&self.peers_connected),
            peers_verified: load(&self.peers_verified),
            records_accepted: load(&self.records_accepted),
            records_rejected: load(&self.records_rejected),
            catch_up_requests: load(&self.catch_up_requests),
            catch_up_served: load(&self.catch_up_served),
            proposals: topic(&self.topics[Topic::Proposals.index()]),
            signatures: topic(&self.topics[Topic::Signatures.index()]),
            disputes: topic(&self.topics[Topic::Disputes.index()]),
        }
    }

    fn topic(&self, topic: Topic) -> &TopicCounters {
        &self.topics[topic.index()]
    }

    pub(crate) fn set_peers(&self, connected: usize, verified: usize) {
        self.peers_connected.store(connected as u64, Ordering::Relaxed);
        self.peers_verified.store(verified as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_accepted(&self) {
        add(&self.records_accepted);
    }

    pub(crate) fn record_rejected(&self) {
        add(&self.records_rejected);
    }

    pub(crate) fn catch_up_requested(&self) {
        add(&self.catch_up_requests);
    }

    pub(crate) fn catch_up_served(&self) {
        add(&self.catch_up_served);
    }

    pub(crate) fn published(&self, topic: Topic) {
        add(&self.topic(topic).published);
    }

    pub(crate) fn received(&self, topic: Option<Topic>) {
        // A message too broken to name its topic is counted under proposals' `received` and
        // its invalid reason; the reason says what it was.
        add(&self.topic(topic.unwrap_or(Topic::Proposals)).received);
    }

    pub(crate) fn accepted(&self, topic: Topic, caught_up: bool) {
        add(&self.topic(topic).accepted);
        if caught_up {
            add(&self.topic(topic).caught_up);
        }
    }

    pub(crate) fn forwarded(&self, topic: Topic) {
        add(&self.topic(topic).forwarded);
    }

    pub(crate) fn ignored(&self, topic: Topic) {
        add(&self.topic(topic).ignored);
    }

    pub(crate) fn duplicate(&self, topic: Topic) {
        add(&self.topic(topic).duplicates);
    }

    pub(crate) fn invalid(&self, topic: Option<Topic>, reason: InvalidReason) {
        add(&self.topic(topic.unwrap_or(Topic::Proposals)).invalid[reason.index()]);
    }

    pub(crate) fn latency(&self, topic: Topic, latency_ms: u64) {
        let counters = self.topic(topic);
        let bucket = LATENCY_BUCKETS_MS.iter().position(|b| latency_ms <= *b).unwrap_or(LATENCY_BUCKETS_MS.len());
        add(&counters.latency_buckets[bucket]);
        counters.latency_sum_ms.fetch_add(latency_ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_cumulative_and_sum() {
        let metrics = NetworkMetrics::default();
        for ms in [0, 5, 6, 99, 100_000] {
            metrics.latency(Topic::Signatures, ms);
        }
        let s = metrics.snapshot().signatures;
        // <=5: 0 and 5; <=10: +6; <=100: +99; the rest in the last bucket.
        assert_eq!(s.latency_buckets[0], 2);
        assert_eq!(s.latency_buckets[1], 3);
        assert_eq!(s.latency_buckets[4], 4);
        assert_eq!(*s.latency_buckets.last().unwrap_or(&0), 5);
        assert_eq!(s.latency_sum_ms, 100_110);
    }

    #[test]
    fn invalid_reasons_have_their_own_labels() {
        let metrics = NetworkMetrics::default();
        metrics.invalid(Some(Topic::Proposals), InvalidReason::Oversize);
        metrics.invalid(Some(Topic::Proposals), InvalidReason::Application("bad_bls"));
        metrics.invalid(Some(Topic::Proposals), InvalidReason::Application("other"));
        let s = metrics.snapshot().proposals;
        assert_eq!(s.invalid_by("oversize"), 1);
        assert_eq!(s.invalid_by("application"), 2);
        assert_eq!(s.invalid_total(), 3);
        assert_eq!(metrics.snapshot().signatures.invalid_total(), 0);
    }
}
