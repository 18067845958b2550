//! The daemon's records in the control API's shapes (`keeper_shared::api`).

use keeper_shared::api::{
    ActionView, BlockView, EndpointState as ApiEndpointState, Event, JobSpecView, JobStatus as ApiJobStatus, JobView,
    NextDue, RpcEndpointHealth, TaskOutcomeView, TaskState as ApiTaskState, TaskTransitionView, TaskView, TriggerView,
};

use crate::chain::{EndpointHealth, EndpointState};
use crate::jobs::schedule::{due_at, latest_due_sequence};
use crate::jobs::{Action, JobSpec, ReferenceBlock, SpecError, Trigger};
use crate::scheduler::{OutcomeKind, TaskOutcome};
use crate::store::{JobRecord, JobStatus, TaskRecord, TaskState, TaskTransition};

pub fn block_view(block: &ReferenceBlock) -> BlockView {
    BlockView { number: block.number, hash: block.hash, timestamp_secs: block.timestamp }
}

pub fn job_status(status: JobStatus) -> ApiJobStatus {
    match status {
        JobStatus::Active => ApiJobStatus::Active,
        JobStatus::Paused => ApiJobStatus::Paused,
        JobStatus::Cancelled => ApiJobStatus::Cancelled,
        JobStatus::Expired => ApiJobStatus::Expired,
    }
}

pub fn store_job_status(status: ApiJobStatus) -> JobStatus {
    match status {
        ApiJobStatus::Active => JobStatus::Active,
        ApiJobStatus::Paused => JobStatus::Paused,
        ApiJobStatus::Cancelled => JobStatus::Cancelled,
        ApiJobStatus::Expired => JobStatus::Expired,
    }
}

pub fn task_state(state: TaskState) -> ApiTaskState {
    match state {
        TaskState::Due => ApiTaskState::Due,
        TaskState::Executed => ApiTaskState::Executed,
        TaskState::Signed => ApiTaskState::Signed,
        TaskState::Proposed => ApiTaskState::Proposed,
        TaskState::Submitted => ApiTaskState::Submitted,
        TaskState::Performed => ApiTaskState::Performed,
        TaskState::Failed => ApiTaskState::Failed,
        TaskState::Dropped => ApiTaskState::Dropped,
    }
}

pub fn store_task_state(state: ApiTaskState) -> TaskState {
    match state {
        ApiTaskState::Due => TaskState::Due,
        ApiTaskState::Executed => TaskState::Executed,
        ApiTaskState::Signed => TaskState::Signed,
        ApiTaskState::Proposed => TaskState::Proposed,
        ApiTaskState::Submitted => TaskState::Submitted,
        ApiTaskState::Performed => TaskState::Performed,
        ApiTaskState::Failed => TaskState::Failed,
        ApiTaskState::Dropped => TaskState::Dropped,
    }
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
        status: job_status(record.status),
        owner: record.owner,
        forwarder: record.forwarder,
        balance_wei: record.balance,
        watermark: record.next_sequence,
        updated_at_block: record.updated_at_block,
        next_due,
        spec: spec_view(&spec),
    })
}

/// The job's next task: the latest one due at `head` if the watermark has not passed it, else the
/// first one after it (before any head: the watermark's). `None` for event jobs and past the expiry.
pub fn next_due(spec: &JobSpec, watermark: u64, head: Option<&ReferenceBlock>) -> Option<NextDue> {
    let (start, period, by_time) = match spec.trigger {
        Trigger::Interval { start, period } => (start, period, true),
        Trigger::Block { start, period } => (start, period, false),
        Trigger::Event(_) => return None,
    };
    let latest = head.and_then(|head| latest_due_sequence(spec, head));
    let (sequence, due_now) = match latest {
        Some(latest) if latest >= watermark => (latest, true),
        Some(latest) => (watermark.max(latest.saturating_add(1)), false),
        None => (watermark, false),
    };
    let at = u64::try_from(due_at(start, period, sequence)).ok()?;
    if by_time && !due_now && spec.expiry.is_some_and(|expiry| expiry != 0 && at > expiry) {
        return None;
    }
    Some(NextDue { sequence, due_now, at_secs: by_time.then_some(at), at_block: (!by_time).then_some(at) })
}

pub fn spec_view(spec: &JobSpec) -> JobSpecView {
    let trigger = match spec.trigger {
        Trigger::Interval { start, period } => TriggerView::Interval { start_secs: start, period_secs: period },
        Trigger::Block { start, period } => TriggerView::Block { start_block: start, period_blocks: period },
        Trigger::Event(filter) => TriggerView::Event {
            start_block: filter.start,
            emitter: filter.emitter,
            topic0: filter.topic0,
            topics: filter.topics,
        },
    };
    let action = match &spec.action {
        Action::Call { target, data } => ActionView::Call { target: *target, data: data.clone() },
        Action::ChainlinkUpkeep { target, check_data } => {
            ActionView::ChainlinkUpkeep { target: *target, check_data: check_data.clone() }
        }
        Action::GelatoResolver { target, resolver, resolver_data } => {
            ActionView::GelatoResolver { target: *target, resolver: *resolver, resolver_data: resolver_data.clone() }
        }
        Action::Script { target, args, code_url, code_hash } => ActionView::Script {
            target: *target,
            args: args.clone(),
            code_url: code_url.clone(),
            code_hash: *code_hash,
        },
    };
    JobSpecView {
        trigger,
        action,
        gas_limit: spec.gas_limit,
        max_fee_wei: spec.max_fee,
        expiry_secs: spec.expiry.filter(|e| *e != 0),
    }
}

pub fn task_view(record: &TaskRecord) -> TaskView {
    TaskView {
        job_id: record.task.job_id,
        sequence: record.task.sequence,
        state: task_state(record.state),
        due_at_ms: record.due.at_ms,
        due_block: record.due.block,
        response_hash: record.response_hash,
        created_at_ms: record.created_at_ms,
        updated_at_ms: record.updated_at_ms,
    }
}

pub fn transition_view(transition: &TaskTransition) -> TaskTransitionView {
    TaskTransitionView {
        from: transition.from.map(task_state),
        to: task_state(transition.to),
        at_ms: transition.at_ms,
        detail: transition.detail.clone(),
    }
}

pub fn outcome_event(outcome: &TaskOutcome) -> Event {
    let view = match outcome.kind {
        OutcomeKind::Performed { success, gas_used, fee } => {
            TaskOutcomeView::Performed { success, gas_used, fee_wei: fee }
        }
        OutcomeKind::NotExecuted => TaskOutcomeView::NotExecuted,
        OutcomeKind::Skipped { reason } => TaskOutcomeView::Skipped { reason },
    };
    Event::TaskOutcome {
        job_id: outcome.task.job_id,
        sequence: outcome.task.sequence,
        batch: outcome.digest,
        outcome: view,
    }
}

/// An endpoint's health with its URL cut to scheme, host and port: providers put API keys in the
/// path or the user part, and the API should not hand them to every script that asks for status.
pub fn endpoint_health(health: &EndpointHealth) -> RpcEndpointHealth {
    let endpoint = redact_url(&health.url);
    RpcEndpointHealth {
        state: match health.state {
            EndpointState::Healthy => ApiEndpointState::Healthy,
            EndpointState::Degraded => ApiEndpointState::Degraded,
            EndpointState::Down => ApiEndpointState::Down,
        },
        consecutive_failures: health.consecutive_failures,
        last_error: health.last_error.as_ref().map(|e| e.replace(&health.url, &endpoint)),
        last_latency_ms: health.last_latency.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        requests_total: health.requests_total,
        failures_total: health.failures_total,
        endpoint,
    }
}

fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("?");
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            let hidden = if parsed.path().len() > 1 || parsed.query().is_some() || !parsed.username().is_empty() {
                "/…"
            } else {
                ""
            };
            format!("{}://{host}{port}{hidden}", parsed.scheme())
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy::primitives::{Address, Bytes, B256};

    use super::*;

    fn interval(start: u64, period: u64, expiry: Option<u64>) -> JobSpec {
        JobSpec {
            trigger: Trigger::Interval { start, period },
            action: Action::Call { target: Address::ZERO, data: Bytes::new() },
            gas_limit: 1,
            max_fee: 1,
            expiry,
        }
    }

    fn at(number: u64, timestamp: u64) -> ReferenceBlock {
        ReferenceBlock { number, hash: B256::ZERO, timestamp }
    }

    #[test]
    fn next_due_is_the_pending_task_or_the_first_after_the_head() {
        let spec = interval(100, 10, None);
        // At t=125 task 2 (due 120) is due; the watermark 2 has not passed it.
        let due = next_due(&spec, 2, Some(&at(1, 125))).unwrap();
        assert_eq!((due.sequence, due.due_now, due.at_secs, due.at_block), (2, true, Some(120), None));
        // Watermark 3: task 2 is done, task 3 (due 130) comes next.
        let due = next_due(&spec, 3, Some(&at(1, 125))).unwrap();
        assert_eq!((due.sequence, due.due_now, due.at_secs), (3, false, Some(130)));
        // Before the start, and before any head: the watermark's task.
        assert_eq!(next_due(&spec, 0, Some(&at(1, 50))).unwrap().at_secs, Some(100));
        assert_eq!(next_due(&spec, 4, None).unwrap().sequence, 4);
        // Nothing after the expiry.
        assert!(next_due(&interval(100, 10, Some(125)), 3, Some(&at(1, 125))).is_none());
        let block = JobSpec { trigger: Trigger::Block { start: 0, period: 10 }, ..spec };
        let due = next_due(&block, 0, Some(&at(25, 1))).unwrap();
        assert_eq!((due.sequence, due.due_now, due.at_block, due.at_secs), (2, true, Some(20), None));
    }

    #[test]
    fn endpoint_urls_lose_their_secrets() {
        assert_eq!(redact_url("https://mainnet.infura.io/v3/0123abcd"), "https://mainnet.infura.io/…");
        assert_eq!(redact_url("http://user:pw@10.0.0.1:8545/"), "http://10.0.0.1:8545/…");
        assert_eq!(redact_url("http://127.0.0.1:8545/"), "http://127.0.0.1:8545");
    }
}
