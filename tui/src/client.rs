//! A client of keeperd's control API on its Unix socket (`docs/api.md`), shared by the CLI commands
//! and the console: JSON `GET`/`POST` with timeouts, typed read helpers, and the server-sent event
//! stream with reconnection.
//!
//! ```ignore
//! let client = Client::new(default_socket())?;          // or Client::new("/path/keeperd.sock")
//! let status = client.status().await?;                  // GET /v1/status
//! let jobs = client.jobs(&JobsQuery::default()).await?; // GET /v1/jobs
//! let mut events = client.events(None);                 // GET /v1/events, reconnecting
//! while let Some(item) = events.next().await {
//!     match item? { StreamItem::Event(record) => println!("{}", record.id), _ => {} }
//! }
//! ```
//!
//! Errors say which of three things went wrong, because the CLI's exit codes (and the console's
//! banner) tell them apart: the daemon could not be reached ([`ClientError::Unreachable`],
//! [`ClientError::Timeout`]), it answered with an [`ApiError`] ([`ClientError::Api`]), or it answered
//! something that is not the API ([`ClientError::Protocol`]).

// `ClientError::Api` carries the daemon's error body whole, for callers to match on; errors are rare
// and the few extra bytes on the happy path's `Result` do not matter next to a socket round trip.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::U256;
use keeper_shared::api::{
    self, ApiError, EventRecord, JobList, JobView, JobsQuery, RecentEvents, RecentEventsQuery, StatusResponse,
    TaskDetail, TaskList, TasksQuery,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How long a request may take by default (the daemon answers within 10 s or says `timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long connecting may take (a local socket: either at once or never).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The daemon sends a keep-alive comment every 15 s; this much silence means the stream is dead.
const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Waits between reconnection attempts of the event stream, doubling up to the last.
const RECONNECT_BACKOFF: [Duration; 4] =
    [Duration::from_millis(250), Duration::from_millis(500), Duration::from_secs(1), Duration::from_secs(2)];

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing accepts connections at the socket (no daemon, wrong path, no permission).
    #[error("cannot reach keeperd at {}: {reason} (is `keeperd run` running? point at it with --socket or KEEPERD_SOCKET)", socket.display())]
    Unreachable { socket: PathBuf, reason: String },
    /// The daemon accepted but did not answer in time.
    #[error("keeperd at {} did not answer {what} within {}s", socket.display(), timeout.as_secs_f32())]
    Timeout { socket: PathBuf, what: String, timeout: Duration },
    /// The daemon answered with an error.
    #[error("keeperd refused {what}: {error}")]
    Api { what: String, status: u16, error: ApiError },
    /// The daemon answered something that is not the control API.
    #[error("keeperd answered {what} with something unexpected: {reason}")]
    Protocol { what: String, reason: String },
}

impl ClientError {
    /// Whether the daemon was not reached at all or went silent (as opposed to refusing).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Timeout { .. })
    }

    /// The API error, if the daemon refused the request.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Api { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Where keeperctl looks for the daemon when neither `--socket` nor `KEEPERD_SOCKET` says: where
/// the user's daemon on the default data directory listens (`$XDG_RUNTIME_DIR/keeperd/keeperd.sock`,
/// else `<$XDG_DATA_HOME or ~/.local/share>/keeperd/keeperd.sock`), as `keeperd` computes it.
pub fn default_socket() -> PathBuf {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(runtime) = env("XDG_RUNTIME_DIR") {
        return runtime.join("keeperd").join("keeperd.sock");
    }
    let data = env("XDG_DATA_HOME")
        .or_else(|| env("HOME").map(|home| home.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("keeperd").join("keeperd.sock")
}

/// A control API client bound to one socket. Cheap to clone (connections are pooled and shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    socket: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client of the daemon at `socket`. Nothing is connected until the first request.
    pub fn new(socket: impl Into<PathBuf>) -> Result<Self, ClientError> {
        let socket = socket.into();
        let http = reqwest::Client::builder()
            .unix_socket(socket.as_path())
            .connect_timeout(CONNECT_TIMEOUT)
            // Plain HTTP on a local socket: no certificate store to load (a third of the startup time).
            .tls_certs_only([])
            .build()
            .map_err(|e| ClientError::Unreachable { socket: socket.clone(), reason: e.to_string() })?;
        Ok(Self { http, socket, timeout: DEFAULT_TIMEOUT })
    }

    /// The same client with another per-request timeout (the event stream has its own idle timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET path_and_query`, the answer parsed as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, ClientError> {
        let what = format!("GET {path_and_query}");
        let request = self.http.get(url(path_and_query));
        self.send(request, &what).await
    }

    /// `POST path` with `body` as JSON, the answer parsed as `T`.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let what = format!("POST {path}");
        let body = serde_json::to_vec(body)
            .map_err(|e| ClientError::Protocol { what: what.clone(), reason: format!("encoding the body: {e}") })?;
        let request = self.http.post(url(path)).header("content-type", "application/json").body(body);
        self.send(request, &what).await
    }

    /// `PUT path` with `body` as JSON, the answer parsed as `T`.
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let what = format!("PUT {path}");
        let body = serde_json::to_vec(body)
            .map_err(|e| ClientError::Protocol { what: what.clone(), reason: format!("encoding the body: {e}") })?;
        let request = self.http.put(url(path)).header("content-type", "application/json").body(body);
        self.send(request, &what).await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<StatusResponse, ClientError> {
        self.get(api::STATUS_PATH).await
    }

    /// `GET /v1/jobs` (one page; follow `next` with `query.after`).
    pub async fn jobs(&self, query: &JobsQuery) -> Result<JobList, ClientError> {
        self.get(&format!("{}{}", api::JOBS_PATH, query.to_query())).await
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn job(&self, id: U256) -> Result<JobView, ClientError> {
        self.get(&api::job_path(id)).await
    }

    /// `GET /v1/tasks` (one page; follow `next` with `query.after`).
    pub async fn tasks(&self, query: &TasksQuery) -> Result<TaskList, ClientError> {
        self.get(&format!("{}{}", api::TASKS_PATH, query.to_query())).await
    }

    /// `GET /v1/tasks/{job}/{sequence}`.
    pub async fn task(&self, job: U256, sequence: u64) -> Result<TaskDetail, ClientError> {
        self.get(&api::task_path(job, sequence)).await
    }

    /// `GET /v1/events/recent`.
    pub async fn recent_events(&self, query: &RecentEventsQuery) -> Result<RecentEvents, ClientError> {
        self.get(&format!("{}{}", api::RECENT_EVENTS_PATH, query.to_query())).await
    }

    /// The live event stream (`GET /v1/events`), starting after `last_event_id` if given (the
    /// daemon replays what it still remembers). It reconnects by itself when the connection drops;
    /// see [`EventStream::next`].
    pub fn events(&self, last_event_id: Option<u64>) -> EventStream {
        EventStream {
            client: self.clone(),
            last_id: last_event_id,
            response: None,
            buffer: Vec::new(),
            pending: SseFrame::default(),
            failures: 0,
            reconnect: true,
            fresh: false,
        }
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder, what: &str) -> Result<T, ClientError> {
        let response = request.timeout(self.timeout).send().await.map_err(|e| self.transport_error(e, what))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| self.transport_error(e, what))?;
        parse_answer(status, &body, what)
    }

    fn transport_error(&self, error: reqwest::Error, what: &str) -> ClientError {
        if error.is_timeout() {
            ClientError::Timeout { socket: self.socket.clone(), what: what.to_owned(), timeout: self.timeout }
        } else {
            ClientError::Unreachable { socket: self.socket.clone(), reason: connect_reason(&self.socket, &error) }
        }
    }
}

fn url(path_and_query: &str) -> String {
    format!("http://{}{path_and_query}", api::HOST)
}

/// The most useful words for a failed connection: the OS error of the socket when there is one.
fn connect_reason(socket: &Path, error: &reqwest::Error) -> String {
    match std::fs::symlink_metadata(socket) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "no socket there".to_owned(),
        Err(e) => e.to_string(),
        Ok(_) => {
            // reqwest's message is generic; its source chain holds the OS error (refused, denied).
            let mut reason = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                reason = inner.to_string();
                source = inner.source();
            }
            reason
        }
    }
}

/// A 2xx body parsed as `T`, any other status as the API's error body.
fn parse_answer<T: DeserializeOwned>(status: u16, body: &[u8], what: &str) -> Result<T, ClientError> {
    let protocol = |reason: String| ClientError::Protocol { what: what.to_owned(), reason };
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| protocol(format!("HTTP {status}: {e}")));
    }
    match serde_json::from_slice::<ApiError>(body) {
        Ok(error) => Err(ClientError::Api { what: what.to_owned(), status, error }),
        Err(_) => Err(protocol(format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()))),
    }
}

/// What the event stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// An event, in id order.
    Event(EventRecord),
    /// The daemon dropped this many events because the client was slow (fill the gap from
    /// `GET /v1/events/recent` if it matters).
    Missed(u64),
    /// The connection dropped and was re-established; events after the last one seen are replayed
    /// as far as the daemon remembers them (a gap in ids shows what it forgot).
    Reconnected,
}

/// The server-sent event stream. Call [`EventStream::next`] in a loop.
#[derive(Debug)]
pub struct EventStream {
    client: Client,
    last_id: Option<u64>,
    response: Option<reqwest::Response>,
    buffer: Vec<u8>,
    pending: SseFrame,
    /// Consecutive failed connection attempts.
    failures: usize,
    reconnect: bool,
    /// No event read yet on the current connection.
    fresh: bool,
}

/// The fields of one SSE event being read.
#[derive(Debug, Default)]
struct SseFrame {
    data: Vec<String>,
}

impl EventStream {
    /// Stop after a dropped connection instead of reconnecting (`next` then returns the error).
    pub fn without_reconnect(mut self) -> Self {
        self.reconnect = false;
        self
    }

    /// The id of the last event yielded.
    pub fn last_event_id(&self) -> Option<u64> {
        self.last_id
    }

    /// The next item. A failure to connect is returned as an error (the caller decides whether to
    /// call again, which retries after a short backoff); a connection that drops after it was
    /// established is re-established once before anything is reported. `None` never happens
    /// while reconnecting; without reconnection it marks the end of the stream.
    pub async fn next(&mut self) -> Option<Result<StreamItem, ClientError>> {
        let mut reconnected = false;
        loop {
            if let Some(item) = self.take_buffered() {
                return Some(item);
            }
            if self.response.is_none() {
                if self.failures > 0 {
                    let wait = RECONNECT_BACKOFF[(self.failures - 1).min(RECONNECT_BACKOFF.len() - 1)];
                    tokio::time::sleep(wait).await;
                }
                match self.connect().await {
                    Ok(response) => {
                        self.response = Some(response);
                        self.fresh = true;
                        if reconnected {
                            self.failures = 0;
                            return Some(Ok(StreamItem::Reconnected));
                        }
                    }
                    Err(error) => {
                        self.failures += 1;
                        return Some(Err(error));
                    }
                }
            }
            let Some(response) = self.response.as_mut() else { continue };
            match tokio::time::timeout(STREAM_IDLE_TIMEOUT, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    self.failures = 0;
                    self.buffer.extend_from_slice(&chunk);
                }
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                    // The daemon stopped, restarted or went silent: start over after the last event.
                    self.response = None;
                    self.buffer.clear();
                    self.pending = SseFrame::default();
                    if !self.reconnect {
                        return None;
                    }
                    reconnected = true;
                    self.failures += 1;
                }
            }
        }
    }

    async fn connect(&self) -> Result<reqwest::Response, ClientError> {
        let what = format!("GET {}", api::EVENTS_PATH);
        let mut request = self.client.http.get(url(api::EVENTS_PATH)).header("accept", "text/event-stream");
        if let Some(id) = self.last_id {
            request = request.header("last-event-id", id.to_string());
        }
        // Only the answer's head is timed: the stream itself lasts as long as the daemon.
        let response = tokio::time::timeout(self.client.timeout, request.send())
            .await
            .map_err(|_| ClientError::Timeout {
                socket: self.client.socket.clone(),
                what: what.clone(),
                timeout: self.client.timeout,
            })?
            .map_err(|e| self.client.transport_error(e, &what))?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.bytes().await.unwrap_or_default();
            return Err(parse_answer::<()>(status, &body, &what)
                .err()
                .unwrap_or_else(|| ClientError::Protocol { what, reason: format!("HTTP {status}") }));
        }
        Ok(response)
    }

    /// Parses whole lines out of the buffer until an event or a `missed` comment completes.
    fn take_buffered(&mut self) -> Option<Result<StreamItem, ClientError>> {
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(item) = self.feed_line(line) {
                return Some(item);
            }
        }
        None
    }

    fn feed_line(&mut self, line: &str) -> Option<Result<StreamItem, ClientError>> {
        if line.is_empty() {
            // End of an event: its `data:` lines hold the record (its id is the `id:` field too).
            let frame = std::mem::take(&mut self.pending);
            if frame.data.is_empty() {
                return None;
            }
            let data = frame.data.join("\n");
            return Some(match serde_json::from_str::<EventRecord>(&data) {
                Ok(record) => {
                    // The daemon replays only ids above our `Last-Event-ID`: a lower first id on a new
                    // connection is a daemon that restarted and numbers from scratch (older keeperd
                    // versions did). Start over from its ids rather than drop them all as seen.
                    if std::mem::take(&mut self.fresh) && self.last_id.is_some_and(|last| record.id <= last) {
                        self.last_id = None;
                    }
                    if self.last_id.is_some_and(|last| record.id <= last) {
                        // Already yielded (a replay overlapping what we saw).
                        return None;
                    }
                    self.last_id = Some(record.id);
                    Ok(StreamItem::Event(record))
                }
                Err(e) => Err(ClientError::Protocol {
                    what: format!("GET {}", api::EVENTS_PATH),
                    reason: format!("event data {data:?}: {e}"),
                }),
            });
        }
        if let Some(comment) = line.strip_prefix(':') {
            let missed = comment.trim().strip_prefix("missed ").and_then(|rest| rest.split(' ').next());
            return missed.and_then(|n| n.parse().ok()).map(|n| Ok(StreamItem::Missed(n)));
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        if field == "data" {
            self.pending.data.push(value.to_owned());
        }
        // `id:` and `event:` repeat what the data says; other fields are ignored, per the SSE spec.
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn stream() -> EventStream {
        Client::new("/nonexistent/keeperd.sock").unwrap().events(None)
    }

    #[test]
    fn sse_lines_make_events_and_missed_comments() {
        let mut s = stream();
        s.buffer.extend_from_slice(
            b": keep-alive\n\nid: 9\nevent: new_head\ndata: {\"id\":9,\"at_ms\":5,\"event\":{\"type\":\"new_head\",\
              \"block\":{\"number\":4,\"hash\":\"0x0000000000000000000000000000000000000000000000000000000000000001\",\
              \"timestamp_secs\":7}}}\r\n\r\n: missed 3 events\nid: 10\n",
        );
        match s.take_buffered() {
            Some(Ok(StreamItem::Event(record))) => assert_eq!(record.id, 9),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.take_buffered().unwrap().unwrap(), StreamItem::Missed(3));
        assert!(s.take_buffered().is_none(), "half an event stays buffered");
        assert_eq!(s.last_event_id(), Some(9));
        // A replayed event at or below the last id is not yielded twice.
        s.buffer.clear();
        s.buffer.extend_from_slice(b"data: {\"id\":9,\"at_ms\":5,\"event\":{\"type\":\"new_head\",\"block\":{\"number\":4,\"hash\":\"0x0000000000000000000000000000000000000000000000000000000000000001\",\"timestamp_secs\":7}}}\n\n");
        assert!(s.take_buffered().is_none());
        // A new connection whose first event is at or below the last id: a restarted daemon that
        // numbers from scratch. Its events are yielded, not dropped.
        s.fresh = true;
        s.buffer.extend_from_slice(b"data: {\"id\":2,\"at_ms\":5,\"event\":{\"type\":\"new_head\",\"block\":{\"number\":4,\"hash\":\"0x0000000000000000000000000000000000000000000000000000000000000001\",\"timestamp_secs\":7}}}\n\n");
        assert!(matches!(s.take_buffered(), Some(Ok(StreamItem::Event(r))) if r.id == 2));
        assert_eq!(s.last_event_id(), Some(2));
    }

    #[test]
    fn bad_event_data_is_a_protocol_error() {
        let mut s = stream();
        s.buffer.extend_from_slice(b"data: {\"nope\":1}\n\n");
        assert!(matches!(s.take_buffered(), Some(Err(ClientError::Protocol { .. }))));
    }

    #[test]
    fn answers_parse_into_values_or_api_errors() {
        let ok: serde_json::Value = parse_answer(200, b"{\"a\":1}", "GET /x").unwrap();
        assert_eq!(ok["a"], 1);
        let err = parse_answer::<serde_json::Value>(
            404,
            br#"{"code":"job_not_found","message":"job: 9 is unknown","field":"job"}"#,
            "GET /v1/jobs/9",
        )
        .unwrap_err();
        assert_eq!(err.api_error().unwrap().code, api::ErrorCode::JobNotFound);
        assert!(!err.is_unreachable());
        assert!(matches!(
            parse_answer::<serde_json::Value>(502, b"bad gateway", "GET /x"),
            Err(ClientError::Protocol { .. })
        ));
    }

    #[tokio::test]
    async fn a_missing_socket_is_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(dir.path().join("none.sock")).unwrap();
        let err = client.status().await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        assert!(err.to_string().contains("no socket there"), "{err}");
        let mut events = client.events(None);
        assert!(matches!(events.next().await, Some(Err(ClientError::Unreachable { .. }))));
    }
}
