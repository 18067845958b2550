//! The scheduler's side of the daemon's metrics: task outcomes (with their latency from the due
//! time) as the scheduler processes the task manager's logs, and the jobs in its index by status.

use alloy::primitives::U256;

use super::{Job, JobIndex, OutcomeKind, TaskOutcome};
use crate::chain::BlockRef;
use crate::jobs::Trigger;
use crate::metrics::{Metrics, REVERTED_ON_CHAIN};
use crate::store::JobStatus;

/// A task outcome from a log of block `included`; `job` is its job in the index (for the due
/// time). Latency is observed for performed tasks only.
pub fn observe_outcome(metrics: &Metrics, outcome: &TaskOutcome, job: Option<&Job>, included: Option<&BlockRef>) {
    let name = match outcome.kind {
        OutcomeKind::Performed { success: true, .. } => "performed",
        OutcomeKind::Performed { success: false, .. } => "reverted",
        OutcomeKind::NotExecuted => "not_executed",
        OutcomeKind::Skipped { .. } => "skipped",
    };
    metrics.task_outcomes.with_label_values(&[name]).inc();
    if let OutcomeKind::Performed { success: false, .. } = outcome.kind {
        metrics.observe_task_failed(outcome.task.job_id, REVERTED_ON_CHAIN);
    }
    let (Some(job), Some(block), OutcomeKind::Performed { .. }) = (job, included, &outcome.kind) else { return };
    let sequence = outcome.task.sequence;
    match job.spec.trigger {
        Trigger::Interval { start, period } => {
            let due = crate::jobs::schedule::due_at(start, period, sequence);
            let late = u128::from(block.timestamp).saturating_sub(due);
            metrics.task_latency_seconds.observe(late as f64);
        }
        Trigger::Block { start, period } => {
            let due = crate::jobs::schedule::due_at(start, period, sequence);
            metrics.task_latency_blocks.observe(u128::from(block.number).saturating_sub(due) as f64);
        }
        Trigger::Event(_) => {
            let (due, _) = crate::jobs::schedule::event_log(sequence);
            metrics.task_latency_blocks.observe(block.number.saturating_sub(due) as f64);
        }
    }
}

/// The outcomes of processed `blocks`, each with the number of the block whose log carried it.
pub fn observe_outcomes(
    metrics: &Metrics,
    index: &JobIndex,
    outcomes: &[TaskOutcome],
    included: &[Option<u64>],
    blocks: &[BlockRef],
) {
    for (outcome, number) in outcomes.iter().zip(included) {
        let block = blocks.iter().find(|b| Some(b.number) == *number);
        observe_outcome(metrics, outcome, index.job(outcome.task.job_id), block);
    }
}

/// Jobs by status and jobs low on escrow, from the scheduler's index.
pub fn observe_jobs(metrics: &Metrics, index: &JobIndex, escrow_low_tasks: u64) {
    let mut counts = vec![0i64; JobStatus::ALL.len()];
    let mut low = 0i64;
    for job in index.jobs() {
        if let Some(slot) = JobStatus::ALL.iter().position(|s| *s == job.status) {
            counts[slot] += 1;
        }
        // Every job's missed counter exists from the start, at 0: `increase()` then sees its first miss.
        let _ = metrics.tasks_missed.with_label_values(&[job.id.to_string().as_str()]);
        let enough = U256::from(job.spec.max_fee).saturating_mul(U256::from(escrow_low_tasks));
        if job.status == JobStatus::Active && job.balance < enough {
            low += 1;
        }
    }
    for (status, count) in JobStatus::ALL.iter().zip(counts) {
        metrics.jobs.with_label_values(&[status.as_str()]).set(count);
    }
    metrics.jobs_escrow_low.set(low);
}
