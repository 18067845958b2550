//! The job domain, defined once for keeperd and keeperctl: a job's spec and its conversions to and
//! from the contracts' struct (`spec`), the job manager's rules for a spec (`validate`), when a task
//! is due and what the task manager does with a signed one (`schedule`), a keeper's response to a
//! task (`response`), what the task manager did with it (`outcome`), why a target reverted
//! (`revert`), and the states of jobs and tasks (`state`).
//!
//! The spec is also what the control API carries: its JSON form is this type's serde form
//! (`{"trigger":{"kind":"interval","start_secs":…,"period_secs":…},"action":{…},"gas_limit":…,
//! "max_fee_wei":"…","expiry_secs":…}`), so there is no second "view" type to keep in step.

pub mod outcome;
pub mod response;
pub mod revert;
pub mod schedule;
pub mod spec;
pub mod state;
pub mod validate;

use alloy::primitives::B256;

pub use outcome::OutcomeKind;
pub use response::{response_hash, TaskResponse};
pub use revert::RevertReason;
pub use schedule::{next_due, NextDue, ScheduleError, SkipReason};
pub use spec::{created_job, decode_job_log, Action, EventFilter, JobEvent, JobSpec, SpecError, Trigger};
pub use state::{JobStatus, TaskEnding, TaskState};
pub use validate::{is_funded, validate_funding, validate_spec, InvalidSpec, SpecContext, SpecRule, FLOOR_GAS_PRICE};

/// The block a batch is computed against: checkers are simulated on its state, due times judged at its
/// number and time, and its number and hash are signed (the task manager refuses the batch if the hash
/// is no longer the chain's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReferenceBlock {
    pub number: u64,
    pub hash: B256,
    /// Unix time of the block.
    pub timestamp: u64,
}

impl ReferenceBlock {
    /// The reference block of a block header.
    pub fn of(header: &alloy::rpc::types::Header) -> Self {
        Self { number: header.number, hash: header.hash, timestamp: header.timestamp }
    }
}
