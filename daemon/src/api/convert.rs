//! The daemon's records in the control API's shapes (`keeper_shared::api`). Jobs and tasks carry the
//! job domain's own types (`keeper_shared::job`): the spec, its next due task and the states.

use keeper_shared::api::{BlockView, Event, JobView, RpcEndpointHealth, TaskTransitionView, TaskView};
use keeper_shared::job::{next_due, JobSpec, ReferenceBlock, SpecError};

use crate::chain::EndpointHealth;
use crate::scheduler::TaskOutcome;
use crate::store::{JobRecord, JobStatus, TaskRecord, TaskTransition};

pub fn block_view(block: &ReferenceBlock) -> BlockView {
    BlockView { number: block.number, hash: block.hash, timestamp_secs: block.timestamp }
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
