//! `keeper_p2p_*`: the network node's counters (read from its snapshot at each scrape, so the
//! network task never touches Prometheus) and the rotation's own (proposals and submissions by
//! role, duplicate submissions), registered once in the daemon's registry.
//!
//!
//! `docs/metrics.md` ("Operators' network") is the reference.

use std::sync::{Arc, Mutex};

use keeper_p2p::metrics::{MetricsSnapshot, NetworkMetrics, TopicSnapshot, LATENCY_BUCKETS_MS};
use keeper_p2p::Topic;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Bucket, Histogram, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::metrics::MetricsError;

/// `role` of submissions: slot 0 of the rotation, or a later one. Proposals have no role: only a
/// reference block's leader proposes, and a dead leader's tasks are proposed by the next block's
/// leader (its own block's leader, not a takeover).
pub const DUTY_ROLES: [&str; 2] = ["leader", "takeover"];

/// The rotation's counters.
#[derive(Debug, Clone)]
pub struct P2pMetrics {
    pub proposals: IntCounter,
    pub submissions: IntCounterVec,
    pub duplicate_submissions: IntCounter,
}

impl P2pMetrics {
    /// Registers every `keeper_p2p_*` metric in `registry`; the network ones read `network`.
    pub fn register(registry: &Registry, network: Arc<NetworkMetrics>) -> Result<Self, MetricsError> {
        let counter_vec = |name: &'static str, help: &str| {
            let metric = IntCounterVec::new(Opts::new(name, help), &["role"])
                .map_err(|source| MetricsError::Register { name, source })?;
            registry.register(Box::new(metric.clone())).map_err(|source| MetricsError::Register { name, source })?;
            for role in DUTY_ROLES {
                metric.with_label_values(&[role]);
            }
            Ok::<_, MetricsError>(metric)
        };
        let counter = |name: &'static str, help: &str| {
            let metric = IntCounter::with_opts(Opts::new(name, help))
                .map_err(|source| MetricsError::Register { name, source })?;
            registry.register(Box::new(metric.clone())).map_err(|source| MetricsError::Register { name, source })?;
            Ok::<_, MetricsError>(metric)
        };
        let proposals =
            counter("keeper_p2p_proposals_total", "Batches this node proposed as its reference block's leader")?;
        let submissions = counter_vec("keeper_p2p_submissions_total", "Batches this node submitted, by rotation role")?;
        let duplicate_submissions = counter(
            "keeper_p2p_duplicate_submissions_total",
            "This node's batch submissions that failed on chain after another node's landed",
        )?;
        let network = NetworkCollector::new(network)
            .map_err(|source| MetricsError::Register { name: "keeper_p2p_messages_received_total", source })?;
        registry
            .register(Box::new(network))
            .map_err(|source| MetricsError::Register { name: "keeper_p2p_messages_received_total", source })?;
        Ok(Self { proposals, submissions, duplicate_submissions })
    }

    pub fn role(takeover: bool) -> &'static str {
        DUTY_ROLES[usize::from(takeover)]
    }
}

const LATENCY: &str = "keeper_p2p_gossip_latency_seconds";

/// Exports the network node's snapshot at scrape time.
struct NetworkCollector {
    network: Arc<NetworkMetrics>,
    /// Serializes scrapes: the metrics below are reset and refilled by each.
    lock: Mutex<()>,
    peers_connected: IntGauge,
    peers_verified: IntGauge,
    published: IntCounterVec,
    received: IntCounterVec,
    forwarded: IntCounterVec,
    invalid: IntCounterVec,
    latency: Desc,
    descs: Vec<Desc>,
}

impl NetworkCollector {
    fn new(network: Arc<NetworkMetrics>) -> Result<Self, prometheus::Error> {
        let topic = |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["topic"]);
        let collector = Self {
            network,
            lock: Mutex::new(()),
            peers_connected: IntGauge::new("keeper_p2p_peers_connected", "Peers with an open connection")?,
            peers_verified: IntGauge::new(
                "keeper_p2p_peers_verified",
                "Connected peers that presented a registered operator's signed record",
            )?,
            published: topic("keeper_p2p_messages_published_total", "Messages this node signed and published")?,
            received: topic("keeper_p2p_messages_received_total", "Messages received, before validation")?,
            forwarded: topic("keeper_p2p_messages_forwarded_total", "Valid gossip handed back for forwarding")?,
            invalid: IntCounterVec::new(
                Opts::new("keeper_p2p_messages_invalid_total", "Messages refused, by topic and reason"),
                &["topic", "reason"],
            )?,
            latency: Desc::new(
                LATENCY.to_owned(),
                "Gossip latency: receive time minus the author's stamp".to_owned(),
                vec!["topic".to_owned()],
                Default::default(),
            )?,
            descs: Vec::new(),
        };
        let mut descs: Vec<Desc> = collector.parts().iter().flat_map(|c| c.desc().into_iter().cloned()).collect();
        descs.push(collector.latency.clone());
        Ok(Self { descs, ..collector })
    }

    fn parts(&self) -> [&dyn Collector; 6] {
        [&self.peers_connected, &self.peers_verified, &self.published, &self.received, &self.forwarded, &self.invalid]
    }

    fn fill(&self, snapshot: &MetricsSnapshot) {
        self.peers_connected.set(snapshot.peers_connected as i64);
        self.peers_verified.set(snapshot.peers_verified as i64);
        for counter in [&self.published, &self.received, &self.forwarded, &self.invalid] {
            counter.reset();
        }
        for topic in Topic::ALL {
            self.fill_topic(topic.name(), snapshot.topic(topic));
        }
    }

    fn fill_topic(&self, name: &str, topic: &TopicSnapshot) {
        self.published.with_label_values(&[name]).inc_by(topic.published);
        self.received.with_label_values(&[name]).inc_by(topic.received);
        self.forwarded.with_label_values(&[name]).inc_by(topic.forwarded);
        for (reason, count) in &topic.invalid {
            self.invalid.with_label_values(&[name, reason]).inc_by(*count);
        }
    }

    /// The node's latency buckets (cumulative, milliseconds) as a Prometheus histogram in seconds.
    fn latency_family(&self, snapshot: &MetricsSnapshot) -> MetricFamily {
        let mut family = MetricFamily::default();
        family.set_name(LATENCY.to_owned());
        family.set_help(self.latency.help.clone());
        family.set_field_type(MetricType::HISTOGRAM);
        for (name, topic) in Topic::ALL.map(|topic| (topic.name(), snapshot.topic(topic))) {
            let mut histogram = Histogram::default();
            let buckets = LATENCY_BUCKETS_MS
                .iter()
                .zip(&topic.latency_buckets)
                .map(|(bound, count)| {
                    let mut bucket = Bucket::default();
                    bucket.set_upper_bound(*bound as f64 / 1000.0);
                    bucket.set_cumulative_count(*count);
                    bucket
                })
                .collect();
            histogram.set_bucket(buckets);
            histogram.set_sample_count(topic.latency_buckets.last().copied().unwrap_or(0));
            histogram.set_sample_sum(topic.latency_sum_ms as f64 / 1000.0);
            let mut label = LabelPair::default();
            label.set_name("topic".to_owned());
            label.set_value(name.to_owned());
            let mut metric = Metric::default();
            metric.set_label(vec![label]);
            metric.set_histogram(histogram);
            family.mut_metric().push(metric);
        }
        family
    }
}

impl Collector for NetworkCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let _serial = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let snapshot = self.network.snapshot();
        self.fill(&snapshot);
        let mut families: Vec<MetricFamily> = self.parts().iter().flat_map(|c| c.collect()).collect();
        families.push(self.latency_family(&snapshot));
        families
    }
}
