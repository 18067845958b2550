//! Query strings of the list endpoints: built by clients with `to_query`, parsed by the server with
//! `parse`, so both sides agree on names and formats and every bad value is reported by its name.

use std::str::FromStr;

use alloy::primitives::U256;

use super::error::{ApiError, ErrorCode};
pub use crate::decimal::parse_decimal_u256;
use crate::job::{JobStatus, TaskState};

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: u32 = 100;
/// Most items per page.
pub const MAX_LIMIT: u32 = 1000;

/// `GET /v1/jobs?status=&after=&limit=`: jobs in id order, optionally of one status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobsQuery {
    pub status: Option<JobStatus>,
    /// Only jobs with a larger id (the `next` of the previous page).
    pub after: Option<U256>,
    pub limit: Option<u32>,
}

/// `GET /v1/tasks?state=&job=&from=&to=&after=&limit=`: tasks in `(job, sequence)` order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TasksQuery {
    pub state: Option<TaskState>,
    pub job: Option<U256>,
    /// Only tasks created (seen due by the daemon) at or after this unix time, in seconds.
    pub from: Option<u64>,
    /// Only tasks created before this unix time, in seconds.
    pub to: Option<u64>,
    /// Only tasks after this one (the `next` of the previous page).
    pub after: Option<TaskCursor>,
    pub limit: Option<u32>,
}

/// `GET /v1/events/recent?limit=`: the newest events the daemon remembers, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentEventsQuery {
    pub limit: Option<u32>,
}

/// A position in the task list: `<job id>:<sequence>`, both decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskCursor {
    pub job_id: U256,
    pub sequence: u64,
}

impl std::fmt::Display for TaskCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.job_id, self.sequence)
    }
}

impl FromStr for TaskCursor {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, ApiError> {
        let invalid =
            || ApiError::field(ErrorCode::InvalidCursor, "after", format!("{s:?} is not <job id>:<sequence>"));
        let (job, sequence) = s.split_once(':').ok_or_else(invalid)?;
        Ok(Self {
            job_id: parse_decimal_u256(job).ok_or_else(invalid)?,
            sequence: sequence.parse().map_err(|_| invalid())?,
        })
    }
}

/// A job id from a path or query (`field` names it in the error).
pub fn parse_job_id(field: &str, text: &str) -> Result<U256, ApiError> {
    parse_decimal_u256(text)
        .ok_or_else(|| ApiError::field(ErrorCode::InvalidValue, field, format!("{text:?} is not a decimal job id")))
}

/// A task's sequence number in a path: decimal digits only (`+0` and ` 1` are refused, as job ids are).
pub fn parse_sequence(field: &str, text: &str) -> Result<u64, ApiError> {
    text.bytes().all(|b| b.is_ascii_digit()).then(|| text.parse::<u64>().ok()).flatten().ok_or_else(|| {
        ApiError::field(ErrorCode::InvalidValue, field, format!("{text:?} is not a task sequence number"))
    })
}

impl JobsQuery {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut out = Self::default();
        for (key, value) in pairs(query)? {
            match key.as_str() {
                "status" => out.status = Some(parse_enum("status", &value, JobStatus::ALL, JobStatus::as_str)?),
                "after" => out.after = Some(parse_job_id("after", &value)?),
                "limit" => out.limit = Some(parse_limit(&value)?),
                _ => return Err(unknown_param(&key, &["status", "after", "limit"])),
            }
        }
        Ok(out)
    }

    pub fn to_query(&self) -> String {
        join(&[
            ("status", self.status.map(|s| s.as_str().to_owned())),
            ("after", self.after.map(|a| a.to_string())),
            ("limit", self.limit.map(|l| l.to_string())),
        ])
    }
}

impl TasksQuery {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut out = Self::default();
        for (key, value) in pairs(query)? {
            match key.as_str() {
                "state" => out.state = Some(parse_enum("state", &value, TaskState::ALL, TaskState::as_str)?),
                "job" => out.job = Some(parse_job_id("job", &value)?),
                "from" => out.from = Some(parse_secs("from", &value)?),
                "to" => out.to = Some(parse_secs("to", &value)?),
                "after" => out.after = Some(value.parse()?),
                "limit" => out.limit = Some(parse_limit(&value)?),
                _ => return Err(unknown_param(&key, &["state", "job", "from", "to", "after", "limit"])),
            }
        }
        if let (Some(from), Some(to)) = (out.from, out.to) {
            if to < from {
                return Err(ApiError::field(ErrorCode::InvalidValue, "to", format!("{to} is before from={from}")));
            }
        }
        Ok(out)
    }

    pub fn to_query(&self) -> String {
        join(&[
            ("state", self.state.map(|s| s.as_str().to_owned())),
            ("job", self.job.map(|j| j.to_string())),
            ("from", self.from.map(|t| t.to_string())),
            ("to", self.to.map(|t| t.to_string())),
            ("after", self.after.map(|a| a.to_string())),
            ("limit", self.limit.map(|l| l.to_string())),
        ])
    }
}

impl RecentEventsQuery {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut out = Self::default();
        for (key, value) in pairs(query)? {
            match key.as_str() {
                "limit" => out.limit = Some(parse_limit(&value)?),
                _ => return Err(unknown_param(&key, &["limit"])),
            }
        }
        Ok(out)
    }

    pub fn to_query(&self) -> String {
        join(&[("limit", self.limit.map(|l| l.to_string()))])
    }
}

/// The endpoints that take no query refuse one, so a typo is not silently ignored.
pub fn parse_empty(query: Option<&str>) -> Result<(), ApiError> {
    match pairs(query)?.into_iter().next() {
        Some((key, _)) => Err(unknown_param(&key, &[])),
        None => Ok(()),
    }
}

fn unknown_param(key: &str, known: &[&str]) -> ApiError {
    let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
    ApiError::field(ErrorCode::InvalidQuery, key, format!("unknown query parameter (this endpoint takes: {known})"))
}

/// Unix seconds; at most year 9999, so milliseconds fit an `i64`.
fn parse_secs(field: &str, value: &str) -> Result<u64, ApiError> {
    match value.parse::<u64>() {
        Ok(secs) if secs <= 253_402_300_799 => Ok(secs),
        _ => Err(ApiError::field(ErrorCode::InvalidValue, field, format!("{value:?} is not unix seconds"))),
    }
}

fn parse_limit(value: &str) -> Result<u32, ApiError> {
    match value.parse::<u32>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ApiError::field(ErrorCode::InvalidValue, "limit", format!("{value:?} is not in 1..={MAX_LIMIT}"))),
    }
}

fn parse_enum<T: Copy>(field: &str, value: &str, all: &[T], name: fn(T) -> &'static str) -> Result<T, ApiError> {
    all.iter().copied().find(|v| name(*v) == value).ok_or_else(|| {
        let names: Vec<_> = all.iter().map(|v| name(*v)).collect();
        ApiError::field(ErrorCode::InvalidValue, field, format!("{value:?} is not one of {}", names.join(", ")))
    })
}

/// `key=value` pairs, percent-decoded; a repeated key is refused rather than silently overridden.
fn pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(key)?;
        let value = percent_decode(value)?;
        if out.iter().any(|(k, _)| *k == key) {
            return Err(ApiError::field(ErrorCode::InvalidQuery, key, "given more than once"));
        }
        out.push((key, value));
    }
    Ok(out)
}

fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bad = || ApiError::new(ErrorCode::InvalidQuery, format!("query: {text:?} is not valid percent-encoding"));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Only values made of characters that need no escaping are ever written (enums, numbers, `:`).
fn join(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> =
        pairs.iter().filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={v}"))).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
