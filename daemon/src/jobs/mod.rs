//! Jobs as the keeper roles handle them: the spec (`spec`), when a task is due (`schedule`), what a
//! keeper answers for a task at a reference block (`execute`), and the `respondToBatch` call an
//! aggregator submits (`submit`). The scheduler, keeper, aggregator and challenger are built on these;
//! nothing here keeps state.

pub mod execute;
pub mod schedule;
pub mod spec;
pub mod submit;

use alloy::primitives::B256;

pub use execute::{execute, response_hash, CheckFailure, ExecuteError, Outcome, TaskResponse, CHECK_GAS_LIMIT};
pub use schedule::{ScheduleError, SkipReason};
pub use spec::{decode_job_log, Action, EventFilter, JobEvent, JobSpec, SpecError, Trigger};
pub use submit::{build_submission, BatchSubmission, BatchTask, SubmitError, SubmitReceipt};

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
