//! When a task `(jobId, sequence)` is due: the rules of `contracts/src/jobs/JobSchedule.sol`, and the
//! task manager's own judgement of a signed task (`TaskManager._isDue`, `_validCallData`, `_skipReason`),
//! so that a keeper never signs what the contract would call an offence and an aggregator can leave out
//! what the contract would skip.
//!
//! - Interval: task `n` is due at unix time `start + n * period`, never if that is after the expiry.
//! - Block: task `n` is due at block `start + n * period`, while the reference time is not after the expiry.
//! - Event: one task per matching log, sequence `block << 24 | logIndex`, due once the log's block is
//!   reached (from block `start` on), while the reference time is not after the expiry.
//!
//! An expiry of `None` (0 on chain) means never; `Some(0)` is read the same way.

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::response::TaskResponse;
use super::spec::{Action, JobSpec, Trigger};
use super::state::JobStatus;
use super::ReferenceBlock;

/// Bits of an event sequence that hold the log index.
pub const LOG_INDEX_BITS: u32 = 24;
/// The largest block number an event sequence can name (2^40 - 1).
pub const MAX_EVENT_BLOCK: u64 = (1 << 40) - 1;
/// The largest log index an event sequence can name (2^24 - 1).
pub const MAX_LOG_INDEX: u64 = (1 << LOG_INDEX_BITS) - 1;
/// `performUpkeep(bytes)`: the only call a Chainlink-style job may make (`TaskManager.PERFORM_UPKEEP_SELECTOR`).
pub const PERFORM_UPKEEP_SELECTOR: [u8; 4] = [0x45, 0x85, 0xe3, 0x3b];

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("schedule: log {log_index} of block {block_number} has no event sequence (block < 2^40, index < 2^24)")]
    EventLogOutOfRange { block_number: u64, log_index: u64 },
}

fn not_expired(expiry: Option<u64>, timestamp: u64) -> bool {
    match expiry {
        None | Some(0) => true,
        Some(expiry) => timestamp <= expiry,
    }
}

/// The time (interval) or block (block trigger) task `sequence` is due at: `start + sequence * period`.
/// At most 2^128 - 2^64, so it never overflows a u128.
pub fn due_at(start: u64, period: u64, sequence: u64) -> u128 {
    u128::from(start) + u128::from(sequence) * u128::from(period)
}

/// `JobSchedule.isIntervalDue`: the due time has come and is not after a non-zero expiry.
pub fn is_interval_due(start: u64, period: u64, expiry: Option<u64>, sequence: u64, timestamp: u64) -> bool {
    let due = due_at(start, period, sequence);
    due <= u128::from(timestamp)
        && match expiry {
            None | Some(0) => true,
            Some(expiry) => due <= u128::from(expiry),
        }
}

/// `JobSchedule.isBlockDue`: the due block is reached and the reference time is not after a non-zero expiry.
pub fn is_block_due(
    start: u64,
    period: u64,
    expiry: Option<u64>,
    sequence: u64,
    block_number: u64,
    timestamp: u64,
) -> bool {
    due_at(start, period, sequence) <= u128::from(block_number) && not_expired(expiry, timestamp)
}

/// `JobSchedule.latestDue`: the latest sequence due by `point` (a time or block), ignoring expiry; `None`
/// if nothing is due yet or the period is 0. With the exactly-once watermark, earlier tasks need never run.
pub fn latest_due(start: u64, period: u64, point: u64) -> Option<u64> {
    if period == 0 || point < start {
        return None;
    }
    Some((point - start) / period)
}

/// `JobSchedule.eventSequence`: the sequence of the task for the log at (`block_number`, `log_index`).
pub fn event_sequence(block_number: u64, log_index: u64) -> Result<u64, ScheduleError> {
    if block_number > MAX_EVENT_BLOCK || log_index > MAX_LOG_INDEX {
        return Err(ScheduleError::EventLogOutOfRange { block_number, log_index });
    }
    Ok((block_number << LOG_INDEX_BITS) | log_index)
}

/// `JobSchedule.eventLog`: the (block, log index) an event sequence names.
pub fn event_log(sequence: u64) -> (u64, u32) {
    // The mask keeps 24 bits, so the index fits a u32.
    (sequence >> LOG_INDEX_BITS, (sequence & MAX_LOG_INDEX) as u32)
}

/// `JobSchedule.isEventDue`: the log's block is from `start` to the reference block, and the reference
/// time is not after a non-zero expiry.
pub fn is_event_due(start: u64, expiry: Option<u64>, sequence: u64, block_number: u64, timestamp: u64) -> bool {
    let (log_block, _) = event_log(sequence);
    log_block >= start && log_block <= block_number && not_expired(expiry, timestamp)
}

/// `JobSchedule.matchesLog`: whether a log of `emitter` with `topics` matches an event trigger (other
/// triggers match nothing).
pub fn matches_log(trigger: &Trigger, emitter: Address, topics: &[B256]) -> bool {
    let Trigger::Event(filter) = trigger else { return false };
    if emitter != filter.emitter || topics.first() != Some(&filter.topic0) {
        return false;
    }
    filter.topics.iter().enumerate().all(|(i, wanted)| match wanted {
        None => true,
        Some(value) => topics.get(i + 1) == Some(value),
    })
}

/// `JobSchedule.isDue`: whether task `sequence` of `spec` is due at the reference block (number and time).
/// This is what a keeper checks before it signs.
pub fn is_due(spec: &JobSpec, sequence: u64, reference: &ReferenceBlock) -> bool {
    let (number, timestamp) = (reference.number, reference.timestamp);
    match spec.trigger {
        Trigger::Interval { start, period } => is_interval_due(start, period, spec.expiry, sequence, timestamp),
        Trigger::Block { start, period } => is_block_due(start, period, spec.expiry, sequence, number, timestamp),
        Trigger::Event(filter) => is_event_due(filter.start, spec.expiry, sequence, number, timestamp),
    }
}

/// The latest sequence of an interval or block job that is due at the reference block, expiry included
/// (an interval task due after the expiry is never due); `None` if none is, and for event jobs, whose
/// sequences come from logs.
pub fn latest_due_sequence(spec: &JobSpec, reference: &ReferenceBlock) -> Option<u64> {
    match spec.trigger {
        Trigger::Interval { start, period } => {
            let point = match spec.expiry {
                None | Some(0) => reference.timestamp,
                Some(expiry) => reference.timestamp.min(expiry),
            };
            latest_due(start, period, point)
        }
        Trigger::Block { start, period } => {
            not_expired(spec.expiry, reference.timestamp).then(|| latest_due(start, period, reference.number))?
        }
        Trigger::Event(_) => None,
    }
}

/// When a job's next task is due, as the control API shows it (`JobView.next_due`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextDue {
    pub sequence: u64,
    /// Due already at the head (and not yet performed).
    pub due_now: bool,
    /// Unix time it is due at (interval jobs).
    pub at_secs: Option<u64>,
    /// Block it is due at (block jobs).
    pub at_block: Option<u64>,
}

/// The job's next task: the latest one due at `head` if the watermark has not passed it, else the
/// first one after it (before any head: the watermark's). `None` for event jobs, whose sequences
/// come from logs, and for an interval task due after the expiry, which is never due.
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
    if by_time && !due_now && !not_expired(spec.expiry, at) {
        return None;
    }
    Some(NextDue { sequence, due_now, at_secs: by_time.then_some(at), at_block: (!by_time).then_some(at) })
}

// ---------------------------------------------------------------------------------------------------------
// The task manager's judgement of a signed task
// ---------------------------------------------------------------------------------------------------------

/// `TaskManager._isDue`: due ignoring expiry, as the contract judges it when the batch lands. An
/// interval task's time must have come by the submission block's time `now` (the contract cannot see the
/// reference block's time, which is at most `now`); a block task's block, and an event task's log block
/// (from `start`), must be at most the reference block. A "no" here is slashable.
pub fn is_due_on_chain(trigger: &Trigger, sequence: u64, reference_block: u64, now: u64) -> bool {
    match *trigger {
        Trigger::Interval { start, period } => due_at(start, period, sequence) <= u128::from(now),
        Trigger::Block { start, period } => due_at(start, period, sequence) <= u128::from(reference_block),
        Trigger::Event(filter) => {
            let (log_block, _) = event_log(sequence);
            log_block >= filter.start && log_block <= reference_block
        }
    }
}

/// `TaskManager._validCallData`: a Call job always sends its static data (so `execute = false` is wrong
/// for it); a Chainlink-style job does nothing or calls `performUpkeep`; Gelato-style and script jobs may
/// send anything. A "no" here is slashable.
pub fn valid_call_data(action: &Action, response: &TaskResponse) -> bool {
    match action {
        Action::Call { data, .. } => response.execute && response.call_data == *data,
        Action::ChainlinkUpkeep { .. } if response.execute => {
            response.call_data.get(..4) == Some(PERFORM_UPKEEP_SELECTOR.as_slice())
        }
        _ => true,
    }
}

/// Why the task manager skips a signed task (`SkipReason` in `ITaskManager.sol`, same order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    SpecMismatch,
    JobNotActive,
    Expired,
    AlreadyPerformed,
    Unfunded,
    NotDue,
    InvalidCallData,
}

impl SkipReason {
    /// The contract's enum value.
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => Self::SpecMismatch,
            1 => Self::JobNotActive,
            2 => Self::Expired,
            3 => Self::AlreadyPerformed,
            4 => Self::Unfunded,
            5 => Self::NotDue,
            6 => Self::InvalidCallData,
            _ => return None,
        })
    }

    /// Whether signing a task skipped for this reason is an offence (the batch's signers are slashable).
    pub fn is_offence(self) -> bool {
        matches!(self, Self::NotDue | Self::InvalidCallData)
    }
}

/// A job's status in the job manager (`JobStatus` in `IJobManager.sol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnChainStatus {
    None,
    Active,
    Paused,
    Cancelled,
}

impl OnChainStatus {
    /// The contract's enum value.
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => Self::None,
            1 => Self::Active,
            2 => Self::Paused,
            3 => Self::Cancelled,
            _ => return None,
        })
    }

    /// The job's status as the control API shows it at a block of time `now`: `None` for a job id
    /// that was never created; an active job past its expiry (`now` after it, as the task manager
    /// judges) is expired.
    pub fn job_status(self, expiry: Option<u64>, now: u64) -> Option<JobStatus> {
        Some(match self {
            Self::None => return None,
            Self::Active if !not_expired(expiry, now) => JobStatus::Expired,
            Self::Active => JobStatus::Active,
            Self::Paused => JobStatus::Paused,
            Self::Cancelled => JobStatus::Cancelled,
        })
    }
}

/// The job's hot state as the task manager reads it when the batch lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnChainJob {
    /// Whether the spec signed is the job's current spec (its hash is the job manager's).
    pub spec_is_current: bool,
    pub status: OnChainStatus,
    /// Escrow in wei.
    pub balance: u128,
    pub max_fee: u128,
    /// The exactly-once watermark: tasks below it were performed, consumed or skipped over.
    pub next_sequence: u64,
}

/// The block the batch lands in, and the task manager's premium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submission {
    /// The block's unix time.
    pub timestamp: u64,
    /// The transaction's gas price, in wei.
    pub gas_price: u128,
    /// The premium per performed task, in wei.
    pub premium: u128,
}

/// A signed task to judge.
#[derive(Debug, Clone, Copy)]
pub struct SignedTask<'a> {
    pub spec: &'a JobSpec,
    pub sequence: u64,
    pub response: &'a TaskResponse,
    pub reference_block: u64,
}

/// `TaskManager._skipReason`: why the task manager would skip the task, or `None` if it would perform
/// it (or consume it, for `execute = false`). Judged in the contract's order: the spec first, then the
/// offences (which depend only on what the signers saw), then what may have changed since the reference
/// block (status, expiry, watermark, funds).
pub fn skip_reason(task: &SignedTask<'_>, job: &OnChainJob, at: &Submission) -> Option<SkipReason> {
    if !job.spec_is_current {
        return Some(SkipReason::SpecMismatch);
    }
    if !is_due_on_chain(&task.spec.trigger, task.sequence, task.reference_block, at.timestamp) {
        return Some(SkipReason::NotDue);
    }
    if !valid_call_data(&task.spec.action, task.response) {
        return Some(SkipReason::InvalidCallData);
    }
    if job.status != OnChainStatus::Active {
        return Some(SkipReason::JobNotActive);
    }
    if !not_expired(task.spec.expiry, at.timestamp) {
        return Some(SkipReason::Expired);
    }
    if task.sequence < job.next_sequence {
        return Some(SkipReason::AlreadyPerformed);
    }
    if task.response.execute && unfunded(job, task.spec.gas_limit, at) {
        return Some(SkipReason::Unfunded);
    }
    None
}

/// `TaskManager._unfunded`: the escrow is empty or below the most the task may be charged,
/// min(maxFee, gasLimit * gasPrice + premium).
fn unfunded(job: &OnChainJob, gas_limit: u32, at: &Submission) -> bool {
    if job.balance == 0 {
        return true;
    }
    let worst = u128::from(gas_limit).saturating_mul(at.gas_price).saturating_add(at.premium).min(job.max_fee);
    job.balance < worst
}

#[cfg(test)]
mod tests;
