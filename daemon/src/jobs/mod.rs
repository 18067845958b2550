//! Jobs as the keeper roles handle them: what a keeper answers for a task at a reference block
//! (`execute`) and the `respondToBatch` call an aggregator submits (`submit`), on the job domain of
//! `keeper_shared::job` (the spec, when a task is due, the task manager's rules), re-exported here
//! for the roles. The scheduler, keeper, aggregator and challenger are built on these; nothing here
//! keeps state.

pub mod execute;
pub mod submit;

pub use keeper_shared::job::{
    decode_job_log, response_hash, schedule, spec, Action, EventFilter, JobEvent, JobSpec, OutcomeKind, ReferenceBlock,
    RevertReason, ScheduleError, SkipReason, SpecError, TaskResponse, Trigger,
};

pub use execute::{execute, CheckFailure, ExecuteError, Outcome, CHECK_GAS_LIMIT};
pub use submit::{build_submission, BatchSubmission, BatchTask, SubmitError, SubmitReceipt};
