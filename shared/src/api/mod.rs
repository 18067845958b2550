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
//! | GET | `/v1/tasks?state=&job=&after=&limit=` | [`TaskList`] |
//! | GET | `/v1/tasks/{job}/{sequence}` | [`TaskDetail`] |
//! | GET | `/v1/events/recent?limit=` | [`RecentEvents`] |
//! | GET | `/v1/events` | `text/event-stream` of [`EventRecord`]s |
//!
//! Every error answers with an HTTP status and an [`ApiError`] body.

mod error;
mod query;
mod types;

pub use error::{ApiError, ErrorCode};
pub use query::{
    parse_decimal_u256, parse_empty, parse_job_id, JobsQuery, RecentEventsQuery, TaskCursor, TasksQuery, DEFAULT_LIMIT,
    MAX_LIMIT,
};
pub use types::*;

pub const STATUS_PATH: &str = "/v1/status";
pub const JOBS_PATH: &str = "/v1/jobs";
/// Route pattern of one job; [`job_path`] fills it in.
pub const JOB_ROUTE: &str = "/v1/jobs/{id}";
pub const TASKS_PATH: &str = "/v1/tasks";
/// Route pattern of one task; [`task_path`] fills it in.
pub const TASK_ROUTE: &str = "/v1/tasks/{job}/{sequence}";
pub const EVENTS_PATH: &str = "/v1/events";
pub const RECENT_EVENTS_PATH: &str = "/v1/events/recent";

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
