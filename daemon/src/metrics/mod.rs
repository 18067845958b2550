//! keeperd's Prometheus metrics: one [`Metrics`] per daemon (created by the node, shared as
//! `Arc<Metrics>` through the `NodeContext`) owns the registry and every metric as a plain handle,
//! and [`serve`] answers `GET /metrics` in the Prometheus text format on `[metrics] listen`.
//!
//! This module knows no component's types: each component fills the handles from its own (the
//! scheduler's outcomes in `scheduler::metrics`, the aggregator's signature results in its
//! collector, the keeper's disputes by reason name). Counters move where things happen (one line in
//! the role that does it); gauges of state (jobs, tasks, chain position, endpoint health, the
//! operator's registration) are refreshed from the daemon's own state when scraped
//! ([`StateGauges`]), so an idle daemon costs nothing. Labels are small closed
//! sets (states, outcomes, RPC methods, endpoint indexes): never task ids, job ids or hashes.
//! `docs/metrics.md` is the reference (every metric with its type, labels and meaning; example
//! queries); a test (`node`'s, where the whole registry is assembled) holds it to what the registry
//! exports.

mod server;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use keeper_shared::batch::TaskId;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub use server::{bind, router, serve, StateGauges};

use crate::protocol::DisputeReason;
use crate::store::{JobStatus, TaskState};

/// Why metrics could not be set up or served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metrics: registering {name}: {source}")]
    Register { name: &'static str, source: prometheus::Error },
    #[error("metrics: listening on {address}: {source}")]
    Listen { address: SocketAddr, source: std::io::Error },
    #[error("metrics: reading the bound address: {0}")]
    BoundAddress(std::io::Error),
    #[error("metrics: encoding: {0}")]
    Encode(String),
}

/// The roles, as `keeper_role_enabled{role}` names them.
pub const ROLES: [&str; 4] = ["scheduler", "keeper", "aggregator", "challenger"];
/// `keeper_task_outcomes_total{outcome}`.
pub const OUTCOMES: [&str; 4] = ["performed", "reverted", "not_executed", "skipped"];
/// `keeper_tasks_failed_total`'s reason for a perform that reverted on chain (the event carries no revert
/// data).
pub const REVERTED_ON_CHAIN: &str = "reverted_on_chain";
/// `keeper_signatures_received_total{result}`: verified and counted, sent again, failed
/// verification, not verified (an offender over its allowance), refused otherwise (unknown
/// operator or proposal, conflicting signature).
pub const SIGNATURE_RESULTS: [&str; 5] = ["added", "duplicate", "invalid", "rate_limited", "refused"];
/// `keeper_batch_submissions_total{result}`: broadcast, not broadcast (the simulation or the
/// sender refused), mined and successful, failed after broadcast.
pub const SUBMISSION_RESULTS: [&str; 4] = ["sent", "not_sent", "accepted", "failed"];
/// `keeper_signatures_refused_total{reason}`: the refusals a keeper expects in normal operation.
pub const KEEPER_REFUSALS: [&str; 2] = ["unknown_operator", "proposal_closed"];

/// `keeper_tasks_unprofitable_total{job}`: the job's kind (its action), a closed set.
pub const JOB_KINDS: [&str; 4] = ["call", "chainlink_upkeep", "gelato_resolver", "script"];
/// `keeper_weight_updates_total{trigger}`: `updateWeights` after EigenLayer reported a member's stake
/// change, `updateAllWeights` as the periodic confirmation.
pub const WEIGHT_UPDATE_TRIGGERS: [&str; 2] = ["stake_change", "confirmation"];
/// `keeper_equivocation_proofs_total{result}`.
pub const PROOF_RESULTS: [&str; 2] = ["accepted", "failed"];

/// Every metric of the daemon, registered in its own registry.
pub struct Metrics {
    registry: Registry,
    listen: OnceLock<SocketAddr>,
    pub build_info: IntGaugeVec,
    pub role_enabled: IntGaugeVec,

    pub chain_head_block: IntGauge,
    pub chain_processed_block: IntGauge,
    pub chain_lag_blocks: IntGauge,
    pub chain_reorgs: IntCounter,

    pub rpc_requests: IntCounterVec,
    pub rpc_errors: IntCounterVec,
    pub rpc_duration: HistogramVec,
    pub rpc_endpoint_healthy: IntGaugeVec,
    pub rpc_endpoint_state_changes: IntCounterVec,

    pub jobs: IntGaugeVec,
    pub jobs_escrow_low: IntGauge,
    pub tasks: IntGaugeVec,
    pub task_outcomes: IntCounterVec,
    pub tasks_failed: IntCounterVec,
    pub tasks_missed: IntCounterVec,
    pub task_latency_seconds: Histogram,
    pub task_latency_blocks: Histogram,

    pub batches_signed: IntCounter,
    pub tasks_disputed: IntCounterVec,
    /// This keeper's signatures the aggregator refused, by [`KEEPER_REFUSALS`].
    pub signatures_refused: IntCounterVec,
    pub slashing_protection_refusals: IntCounter,

    pub batches_proposed: IntCounter,
    pub tasks_proposed: IntCounter,
    pub signatures_received: IntCounterVec,
    pub signatures_invalid: IntCounterVec,
    pub signatures_rate_limited: IntCounterVec,
    pub signature_pairing_checks: IntCounter,
    pub disputes_received: IntCounter,
    pub tasks_unprofitable: IntCounterVec,
    pub weight_updates: IntCounterVec,
    pub slashable_budget_exceeded: IntGauge,
    pub quorum_duration: Histogram,
    pub batch_submissions: IntCounterVec,
    pub batch_gas_used: Histogram,
    pub batch_tasks: Histogram,

    pub script_failures: IntCounter,
    pub challenger_mismatches: IntCounter,
    pub equivocation_proofs: IntCounterVec,

    pub operator_registered: IntGauge,
    pub operator_weight: Gauge,
    pub operator_total_weight: Gauge,

    pub database_errors: IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("listen", &self.listen.get()).finish_non_exhaustive()
    }
}

/// Registers metrics into one registry, naming the failing one.
struct Builder {
    registry: Registry,
}

impl Builder {
    fn add<M: prometheus::core::Collector + Clone + 'static>(
        &self,
        name: &'static str,
        metric: Result<M, prometheus::Error>,
    ) -> Result<M, MetricsError> {
        let metric = metric.map_err(|source| MetricsError::Register { name, source })?;
        self.registry.register(Box::new(metric.clone())).map_err(|source| MetricsError::Register { name, source })?;
        Ok(metric)
    }

    fn counter(&self, name: &'static str, help: &str) -> Result<IntCounter, MetricsError> {
        self.add(name, IntCounter::with_opts(Opts::new(name, help)))
    }

    fn counter_vec(
        &self,
        name: &'static str,
        help: &str,
        label: &str,
        values: &[&str],
    ) -> Result<IntCounterVec, MetricsError> {
        let metric = self.add(name, IntCounterVec::new(Opts::new(name, help), &[label]))?;
        // Known label values appear at 0 from the start, so rates and dashboards have a series.
        for value in values {
            metric.with_label_values(&[*value]);
        }
        Ok(metric)
    }

    fn gauge(&self, name: &'static str, help: &str) -> Result<IntGauge, MetricsError> {
        self.add(name, IntGauge::with_opts(Opts::new(name, help)))
    }

    fn float_gauge(&self, name: &'static str, help: &str) -> Result<Gauge, MetricsError> {
        self.add(name, Gauge::with_opts(Opts::new(name, help)))
    }

    fn gauge_vec(
        &self,
        name: &'static str,
        help: &str,
        label: &str,
        values: &[&str],
    ) -> Result<IntGaugeVec, MetricsError> {
        let metric = self.add(name, IntGaugeVec::new(Opts::new(name, help), &[label]))?;
        for value in values {
            metric.with_label_values(&[*value]);
        }
        Ok(metric)
    }

    fn histogram(&self, name: &'static str, help: &str, buckets: &[f64]) -> Result<Histogram, MetricsError> {
        self.add(name, Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())))
    }
}

const RPC_SECONDS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const LATENCY_SECONDS: [f64; 12] = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0, 30.0, 60.0, 120.0, 300.0];
const LATENCY_BLOCKS: [f64; 10] = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0, 64.0];
const QUORUM_SECONDS: [f64; 12] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0];
const BATCH_GAS: [f64; 10] = [50_000.0, 100_000.0, 200_000.0, 300_000.0, 500_000.0, 1e6, 2e6, 5e6, 10e6, 30e6];
const BATCH_TASKS: [f64; 11] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

impl Metrics {
    /// A fresh registry with every metric; label values known in advance start at 0.
    pub fn new() -> Result<Self, MetricsError> {
        let b = Builder { registry: Registry::new() };
        let job_states: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        let task_states: Vec<&str> = TaskState::ALL.iter().map(|s| s.as_str()).collect();
        let dispute_reasons: Vec<&str> = DisputeReason::ALL.iter().map(|r| r.as_str()).collect();
        let metrics = Self {
            build_info: b.gauge_vec("keeper_build_info", "keeperd's version (always 1)", "version", &[])?,
            role_enabled: b.gauge_vec("keeper_role_enabled", "1 if the role runs in this daemon", "role", &ROLES)?,

            chain_head_block: b.gauge("keeper_chain_head_block", "Latest block number the chain follower saw")?,
            chain_processed_block: b
                .gauge("keeper_chain_processed_block", "Last block the scheduler processed (the reference block)")?,
            chain_lag_blocks: b.gauge(
                "keeper_chain_lag_blocks",
                "Blocks between the confirmed head (head minus confirmations) and the last processed block",
            )?,
            chain_reorgs: b
                .counter("keeper_chain_reorgs_total", "Chain reorganisations the scheduler rebuilt after")?,

            rpc_requests: b.add(
                "keeper_rpc_requests_total",
                IntCounterVec::new(
                    Opts::new("keeper_rpc_requests_total", "JSON-RPC attempts by method and endpoint index"),
                    &["method", "endpoint"],
                ),
            )?,
            rpc_errors: b.add(
                "keeper_rpc_errors_total",
                IntCounterVec::new(
                    Opts::new(
                        "keeper_rpc_errors_total",
                        "JSON-RPC attempts that failed at the endpoint (timeout, connection, HTTP error, rate limit, \
                         no answer); reverts and refusals are answers, not errors",
                    ),
                    &["method", "endpoint"],
                ),
            )?,
            rpc_duration: b.add(
                "keeper_rpc_request_duration_seconds",
                HistogramVec::new(
                    HistogramOpts::new("keeper_rpc_request_duration_seconds", "Duration of one JSON-RPC attempt")
                        .buckets(RPC_SECONDS.to_vec()),
                    &["method"],
                ),
            )?,
            rpc_endpoint_healthy: b.gauge_vec(
                "keeper_rpc_endpoint_healthy",
                "1 if the RPC endpoint's last call succeeded, 0 if degraded or down",
                "endpoint",
                &[],
            )?,
            rpc_endpoint_state_changes: b.add(
                "keeper_rpc_endpoint_state_changes_total",
                IntCounterVec::new(
                    Opts::new(
                        "keeper_rpc_endpoint_state_changes_total",
                        "RPC endpoint state changes (healthy, degraded, down) by endpoint index and new state",
                    ),
                    &["endpoint", "state"],
                ),
            )?,

            jobs: b.gauge_vec("keeper_jobs", "Jobs in the scheduler's index by status", "state", &job_states)?,
            jobs_escrow_low: b.gauge(
                "keeper_jobs_escrow_low",
                "Active jobs whose escrow pays for fewer than metrics.escrow_low_tasks tasks at their max fee",
            )?,
            tasks: b.gauge_vec(
                "keeper_tasks",
                "Task records in this daemon's store by state",
                "state",
                &task_states,
            )?,
            task_outcomes: b.counter_vec(
                "keeper_task_outcomes_total",
                "Task outcomes in the task manager's logs, as the scheduler processes them",
                "outcome",
                &OUTCOMES,
            )?,
            tasks_failed: b.add(
                "keeper_tasks_failed_total",
                IntCounterVec::new(
                    Opts::new(
                        "keeper_tasks_failed_total",
                        "Tasks whose target reverted, by job and reason: reverted_on_chain (a TaskPerformed with \
                         success false), or the custom error's name, error_string, panic, unknown or empty when the \
                         aggregator's simulation before sending reverted (the task was left out)",
                    ),
                    &["job", "reason"],
                ),
            )?,
            tasks_missed: b.add(
                "keeper_tasks_missed_total",
                IntCounterVec::new(
                    Opts::new(
                        "keeper_tasks_missed_total",
                        "Tasks that ended missed, by job: a later sequence of the job was due or performed first, or \
                         their batch was abandoned when they were no longer due",
                    ),
                    &["job"],
                ),
            )?,
            task_latency_seconds: b.histogram(
                "keeper_task_latency_seconds",
                "Interval jobs: time of the block that performed a task minus its due time",
                &LATENCY_SECONDS,
            )?,
            task_latency_blocks: b.histogram(
                "keeper_task_latency_blocks",
                "Block and event jobs: block that performed a task minus the block it was due at",
                &LATENCY_BLOCKS,
            )?,

            batches_signed: b.counter("keeper_batches_signed_total", "Batches this keeper signed")?,
            tasks_disputed: b.counter_vec(
                "keeper_tasks_disputed_total",
                "Leaves of proposals this keeper disputed, by reason",
                "reason",
                &dispute_reasons,
            )?,
            signatures_refused: b.counter_vec(
                "keeper_signatures_refused_total",
                "This keeper's signatures the aggregator refused: unknown_operator (not in the keeper set), proposal_closed (late)",
                "reason",
                &KEEPER_REFUSALS,
            )?,
            slashing_protection_refusals: b.counter(
                "keeper_slashing_protection_refusals_total",
                "Batches the slashing-protection record refused to sign",
            )?,

            batches_proposed: b.counter("keeper_batches_proposed_total", "Batch proposals published to keepers")?,
            tasks_proposed: b.counter("keeper_tasks_proposed_total", "Tasks in published batch proposals")?,
            signatures_received: b.counter_vec(
                "keeper_signatures_received_total",
                "Keeper signatures the aggregator received, by result",
                "result",
                &SIGNATURE_RESULTS,
            )?,
            // Labelled by signer: only members of an operator set are verified, so this stays small.
            signatures_invalid: b.counter_vec(
                "keeper_signatures_invalid_total",
                "Keeper signatures that failed BLS verification, by operator",
                "operator",
                &[],
            )?,
            signatures_rate_limited: b.counter_vec(
                "keeper_signatures_rate_limited_total",
                "Signatures of operators that recently sent invalid ones, refused unverified, by operator",
                "operator",
                &[],
            )?,
            signature_pairing_checks: b.counter(
                "keeper_signature_pairing_checks_total",
                "Pairing checks the aggregator's signature verifier computed (one per round when all are valid)",
            )?,
            disputes_received: b.counter("keeper_disputes_received_total", "Disputes received from keepers")?,
            tasks_unprofitable: b.counter_vec(
                "keeper_tasks_unprofitable_total",
                "Tasks the aggregator left out because their job's maxFee cannot pay at the current base fee, by \
                 job kind (counted when a task becomes unprofitable, not at every block it stays so)",
                "job",
                &JOB_KINDS,
            )?,
            weight_updates: b.counter_vec(
                "keeper_weight_updates_total",
                "Key registry weight refreshes the aggregator sent, by what triggered them",
                "trigger",
                &WEIGHT_UPDATE_TRIGGERS,
            )?,
            slashable_budget_exceeded: b.gauge(
                "keeper_slashable_budget_exceeded",
                "1 while maxWeightAge + maxReferenceAge + challengeWindowBlocks exceed the slashable horizon read \
                 from EigenLayer (the aggregator proposes nothing meanwhile), else 0",
            )?,
            quorum_duration: b.histogram(
                "keeper_quorum_duration_seconds",
                "Time from publishing a proposal to reaching its stake quorum",
                &QUORUM_SECONDS,
            )?,
            batch_submissions: b.counter_vec(
                "keeper_batch_submissions_total",
                "Batch submissions (respondToBatch) by result",
                "result",
                &SUBMISSION_RESULTS,
            )?,
            batch_gas_used: b.histogram("keeper_batch_gas_used", "Gas used by each mined batch", &BATCH_GAS)?,
            batch_tasks: b.histogram("keeper_batch_tasks", "Tasks in each mined batch", &BATCH_TASKS)?,

            script_failures: b.counter(
                "keeper_script_failures_total",
                "Script runs that gave no result: the task failed and nothing was signed for it",
            )?,
            challenger_mismatches: b.counter(
                "keeper_challenger_mismatches_total",
                "Performed responses that differ from this daemon's own execution",
            )?,
            equivocation_proofs: b.counter_vec(
                "keeper_equivocation_proofs_total",
                "Equivocation proofs sent by the challenger, by result",
                "result",
                &PROOF_RESULTS,
            )?,

            operator_registered: b
                .gauge("keeper_operator_registered", "1 if the operator is registered in the key registry")?,
            operator_weight: b
                .float_gauge("keeper_operator_weight", "The operator's current stake weight in the key registry")?,
            operator_total_weight: b
                .float_gauge("keeper_operator_total_weight", "The key registry's current total stake weight")?,

            database_errors: b.counter("keeper_database_errors_total", "Store operations that failed")?,
            registry: b.registry,
            listen: OnceLock::new(),
        };
        metrics.build_info.with_label_values(&[keeper_shared::version::long()]).set(1);
        Ok(metrics)
    }

    /// The registry (to gather or to register more collectors).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every metric in the Prometheus text format.
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(|e| MetricsError::Encode(e.to_string()))?;
        String::from_utf8(out).map_err(|e| MetricsError::Encode(e.to_string()))
    }

    /// Where `GET /metrics` is served, once bound (port 0 resolved).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.get().copied()
    }

    pub(crate) fn set_listen_addr(&self, address: SocketAddr) {
        let _ = self.listen.set(address);
    }

    /// Marks the enabled roles.
    pub fn set_roles(&self, roles: &crate::config::Roles) {
        for (name, on) in [
            ("scheduler", roles.scheduler),
            ("keeper", roles.keeper),
            ("aggregator", roles.aggregator),
            ("challenger", roles.challenger),
        ] {
            self.role_enabled.with_label_values(&[name]).set(i64::from(on));
        }
    }

    /// One JSON-RPC attempt on endpoint `endpoint` (its index in the configuration).
    pub fn observe_rpc(&self, method: &str, endpoint: usize, duration: Duration, failed: bool) {
        let endpoint = endpoint.to_string();
        self.rpc_requests.with_label_values(&[method, endpoint.as_str()]).inc();
        // Touched on success too, so every method seen has an error series (at 0) to rate.
        let errors = self.rpc_errors.with_label_values(&[method, endpoint.as_str()]);
        if failed {
            errors.inc();
        }
        self.rpc_duration.with_label_values(&[method]).observe(duration.as_secs_f64());
    }

    /// Endpoint `endpoint` (its index in the configuration) changed to `state` (the chain's name
    /// for it: healthy, degraded, down).
    pub fn observe_rpc_state_change(&self, endpoint: usize, state: &str) {
        let endpoint = endpoint.to_string();
        self.rpc_endpoint_state_changes.with_label_values(&[endpoint.as_str(), state]).inc();
    }

    /// A task of `job` failed for `reason` (a bounded name: [`REVERTED_ON_CHAIN`] or a
    /// [`keeper_shared::job::RevertReason::label`]). The job id is a label: one series per job that ever
    /// failed, as many as the job manager has jobs at most.
    /// Counts the tasks among `moved` that ended missed.
    pub fn observe_missed<'a>(&self, moved: impl IntoIterator<Item = &'a (TaskId, TaskState)>) {
        for (task, state) in moved {
            if *state == TaskState::Missed {
                self.tasks_missed.with_label_values(&[task.job_id.to_string().as_str()]).inc();
            }
        }
    }

    pub fn observe_task_failed(&self, job: U256, reason: &str) {
        self.tasks_failed.with_label_values(&[job.to_string().as_str(), reason]).inc();
    }

    /// A task the aggregator leaves out as unprofitable (once per task, when it becomes so).
    pub fn observe_unprofitable(&self, action: &crate::jobs::Action) {
        let kind = match action {
            crate::jobs::Action::Call { .. } => "call",
            crate::jobs::Action::ChainlinkUpkeep { .. } => "chainlink_upkeep",
            crate::jobs::Action::GelatoResolver { .. } => "gelato_resolver",
            crate::jobs::Action::Script { .. } => "script",
        };
        self.tasks_unprofitable.with_label_values(&[kind]).inc();
    }

    /// Leaves this keeper disputed, each by its reason.
    pub fn observe_disputed(&self, reasons: impl IntoIterator<Item = DisputeReason>) {
        for reason in reasons {
            self.tasks_disputed.with_label_values(&[reason.as_str()]).inc();
        }
    }

    /// What the aggregator made of a keeper's signature: one of [`SIGNATURE_RESULTS`].
    pub fn observe_signature(&self, result: &str) {
        self.signatures_received.with_label_values(&[result]).inc();
    }

    /// An operator's signature failed verification.
    pub fn observe_signature_invalid(&self, operator: Address) {
        self.signatures_invalid.with_label_values(&[operator.to_string().as_str()]).inc();
    }

    /// An offender's signature was refused unverified.
    pub fn observe_signature_rate_limited(&self, operator: Address) {
        self.signatures_rate_limited.with_label_values(&[operator.to_string().as_str()]).inc();
    }

    /// A batch transaction that was mined and succeeded, with its task count (0 when unknown: a
    /// transaction recovered after a restart; then only its gas is observed).
    pub fn observe_batch_mined(&self, gas_used: u64, tasks: usize) {
        self.batch_submissions.with_label_values(&["accepted"]).inc();
        self.batch_gas_used.observe(gas_used as f64);
        if tasks > 0 {
            self.batch_tasks.observe(tasks as f64);
        }
    }

    /// The chain position: `head` as the follower saw it, `processed` by the scheduler.
    pub fn observe_chain(&self, head: Option<u64>, processed: Option<u64>, confirmations: u64) {
        if let Some(head) = head {
            self.chain_head_block.set(gauge_value(head));
        }
        if let Some(processed) = processed {
            self.chain_processed_block.set(gauge_value(processed));
        }
        let head = u64::try_from(self.chain_head_block.get()).unwrap_or(0);
        if let (true, Some(processed)) = (head > 0, processed) {
            self.chain_lag_blocks.set(gauge_value(head.saturating_sub(confirmations).saturating_sub(processed)));
        }
    }
}

/// A u64 as an integer gauge's value (saturating: block numbers and counts never get there).
pub fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A 256-bit amount as a float gauge's value (Prometheus samples are f64: precision is lost
/// beyond 2^53, which a dashboard never shows).
pub fn float_value(value: U256) -> f64 {
    value.to_string().parse::<f64>().unwrap_or(f64::MAX)
}

#[cfg(test)]
mod tests;
