//! keeperd's control API, version 1: the paths, query strings, JSON bodies and error codes that
//! `keeperd` serves on its Unix socket and `keeperctl` (and scripts, with `curl --unix-socket`)
//! use. Defined once here so both sides agree; nothing in it depends on daemon internals.
//! The reference with examples is `docs/api.md`.
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `/v1/status` | [`StatusResponse`] |
//! | GET | `/v1/jobs?status=&after=&limit=` | [`JobList`] |
//! | GET | `/v1/jobs/{id}` | [`JobView`] |
//! | GET | `/v1/tasks?state=&job=&from=&to=&after=&limit=` | [`TaskList`] |
//! | GET | `/v1/tasks/{job}/{sequence}` | [`TaskDetail`] |
//! | GET | `/v1/events/recent?limit=` | [`RecentEvents`] |
//! | GET | `/v1/events` | `text/event-stream` of [`EventRecord`]s |
//! | GET | `/v1/operators` | [`OperatorList`] |
//! | POST | `/v1/jobs` ([`CreateJobRequest`]) | [`CreateJobResponse`] |
//! | PUT | `/v1/jobs/{id}` ([`UpdateJobRequest`]) | [`JobWriteResponse`] |
//! | POST | `/v1/jobs/{id}/pause`, `/resume`, `/cancel` (no body) | [`JobWriteResponse`] |
//! | POST | `/v1/jobs/{id}/topup` ([`TopUpRequest`]) | [`JobWriteResponse`] |
//! | POST | `/v1/operator/register` ([`RegisterOperatorRequest`]) | [`OperatorWriteResponse`] |
//! | POST | `/v1/operator/deregister` (no body) | [`OperatorWriteResponse`] |
//! | POST | `/v1/operator/deposit` ([`DepositRequest`]) | [`OperatorWriteResponse`] |
//!
//! Request bodies are read with [`parse_body`]; job specs are checked with
//! [`job_spec::validate_spec`] (keeperctl can run the same check before sending). The job domain's
//! types the API carries (the spec, job and task states, the next due task, a task's outcome) are `crate::job`'s,
//! re-exported here.
//!
//! Every error answers with an HTTP status and an [`ApiError`] body.

mod error;
pub mod job_spec;
mod query;
mod types;
mod write;

pub use crate::job::{Action, EventFilter, JobSpec, JobStatus, NextDue, OutcomeKind, TaskState, Trigger};
pub use error::{ApiError, ErrorCode};
pub use query::{
    parse_decimal_u256, parse_empty, parse_job_id, parse_sequence, JobsQuery, RecentEventsQuery, TaskCursor,
    TasksQuery, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use types::*;
pub use write::*;

pub const STATUS_PATH: &str = "/v1/status";
pub const JOBS_PATH: &str = "/v1/jobs";
/// Route pattern of one job; [`job_path`] fills it in.
pub const JOB_ROUTE: &str = "/v1/jobs/{id}";
pub const TASKS_PATH: &str = "/v1/tasks";
/// Route pattern of one task; [`task_path`] fills it in.
pub const TASK_ROUTE: &str = "/v1/tasks/{job}/{sequence}";
pub const EVENTS_PATH: &str = "/v1/events";
pub const RECENT_EVENTS_PATH: &str = "/v1/events/recent";
pub const OPERATORS_PATH: &str = "/v1/operators";
/// Route patterns of the job writes; [`job_action_path`] fills them in.
pub const JOB_PAUSE_ROUTE: &str = "/v1/jobs/{id}/pause";
pub const JOB_RESUME_ROUTE: &str = "/v1/jobs/{id}/resume";
pub const JOB_CANCEL_ROUTE: &str = "/v1/jobs/{id}/cancel";
pub const JOB_TOPUP_ROUTE: &str = "/v1/jobs/{id}/topup";
pub const OPERATOR_REGISTER_PATH: &str = "/v1/operator/register";
pub const OPERATOR_DEPOSIT_PATH: &str = "/v1/operator/deposit";
pub const OPERATOR_DEREGISTER_PATH: &str = "/v1/operator/deregister";

/// What `POST /v1/jobs/{id}/{action}` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobAction {
    Pause,
    Resume,
    Cancel,
    TopUp,
}

impl JobAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
            Self::TopUp => "topup",
        }
    }
}

pub fn job_action_path(id: alloy::primitives::U256, action: JobAction) -> String {
    format!("{JOBS_PATH}/{id}/{}", action.as_str())
}

/// The host name clients put in URLs (a Unix socket has none; HTTP/1.1 requires a `Host`).
pub const HOST: &str = "keeperd";

pub fn job_path(id: alloy::primitives::U256) -> String {
    format!("{JOBS_PATH}/{id}")
}

pub fn task_path(job: alloy::primitives::U256, sequence: u64) -> String {
    format!("{TASKS_PATH}/{job}/{sequence}")
}

#[cfg(test)]
mod tests;
