//! The daemon's records in the control API's shapes (`keeper_shared::api`). Jobs and tasks carry the
//! job domain's own types (`keeper_shared::job`): the spec, its next due task and the states.

use keeper_shared::api::{BlockView, Event, JobView, RpcEndpointHealth, TaskTransitionView, TaskView};
use keeper_shared::job::{next_due, JobSpec, ReferenceBlock, SpecError};

use crate::chain::EndpointHealth;
use crate::scheduler::TaskOutcome;
use crate::store::{JobFailures, JobRecord, JobStatus, TaskRecord, TaskTransition};

pub fn block_view(block: &ReferenceBlock) -> BlockView {
    BlockView { number: block.number, hash: block.hash, timestamp_secs: block.timestamp }
}

/// A job whose latest this many finished tasks all failed gets a warning.
pub const KEEPS_REVERTING: u32 = 3;

/// A cached job as the API shows it, with its failures in this daemon's store; `head` is the
/// scheduler's last processed block.
pub fn job_view_with_failures(
    record: &JobRecord,
    failures: &JobFailures,
    head: Option<&ReferenceBlock>,
) -> Result<JobView, SpecError> {
    let mut view = job_view(record, head)?;
    view.tasks_failed = failures.failed;
    if failures.in_a_row >= KEEPS_REVERTING {
        let reason = failures.last_reason.as_deref().unwrap_or("no reason recorded");
        view.warning =
            Some(format!("the target keeps reverting (its last {} tasks failed): {reason}", failures.in_a_row));
    }
    Ok(view)
}

/// A cached job as the API shows it; `head` is the scheduler's last processed block.
pub fn job_view(record: &JobRecord, head: Option<&ReferenceBlock>) -> Result<JobView, SpecError> {
    let spec = JobSpec::decode(&record.spec)?;
    let next_due = match record.status {
        JobStatus::Active => next_due(&spec, record.next_sequence, head),
        _ => None,
    };
    Ok(JobView {
        id: record.job_id,
        status: record.status,
        owner: record.owner,
        forwarder: record.forwarder,
        balance_wei: record.balance,
        watermark: record.next_sequence,
        updated_at_block: record.updated_at_block,
        next_due,
        spec,
        tasks_failed: 0,
        warning: None,
    })
}

pub fn task_view(record: &TaskRecord) -> TaskView {
    TaskView {
        job_id: record.task.job_id,
        sequence: record.task.sequence,
        state: record.state,
        due_at_ms: record.due.at_ms,
        due_block: record.due.block,
        response_hash: record.response_hash,
        created_at_ms: record.created_at_ms,
        updated_at_ms: record.updated_at_ms,
    }
}

pub fn transition_view(transition: &TaskTransition) -> TaskTransitionView {
    TaskTransitionView {
        from: transition.from,
        to: transition.to,
        at_ms: transition.at_ms,
        detail: transition.detail.clone(),
    }
}

pub fn outcome_event(outcome: &TaskOutcome) -> Event {
    Event::TaskOutcome {
        job_id: outcome.task.job_id,
        sequence: outcome.task.sequence,
        batch: outcome.digest,
        outcome: outcome.kind.clone(),
    }
}

/// An endpoint's health with its URL cut to scheme, host and port: providers put API keys in the
/// path or the user part, and the API should not hand them to every script that asks for status.
pub fn endpoint_health(health: &EndpointHealth) -> RpcEndpointHealth {
    let endpoint = crate::chain::redact_url(&health.url);
    RpcEndpointHealth {
        state: health.state,
        consecutive_failures: health.consecutive_failures,
        last_error: health.last_error.as_ref().map(|e| e.replace(&health.url, &endpoint)),
        last_latency_ms: health.last_latency.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        requests_total: health.requests_total,
        failures_total: health.failures_total,
        endpoint,
    }
}
