//! The console's I/O side against a stand-in daemon on a Unix socket (HTTP/1.1 written by hand):
//! it reads status, jobs, tasks and the event stream into `ApiEvent`s, reports the link lost when
//! the daemon goes away, and connects and reloads by itself when it comes back.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod console_support;

use std::path::Path;
use std::time::Duration;

use alloy::primitives::U256;
use console_support::*;
use keeper_shared::api::{
    JobList, JobStatus, RecentEvents, TaskCursor, TaskDetail, TaskList, TaskState, TaskTransitionView, TasksQuery,
};
use keeperctl::client::Client;
use keeperctl::console::runtime::serve;
use keeperctl::console::{ApiEvent, Command, Connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The answer to one request: status, body and content type.
fn answer(path: &str) -> (u16, String, &'static str) {
    let json = "application/json";
    let route = path.split('?').next().unwrap_or(path);
    match route {
        "/v1/status" => (200, serde_json::to_string(&status()).unwrap(), json),
        "/v1/jobs" => (
            200,
            serde_json::to_string(&JobList { jobs: vec![job(1, JobStatus::Active, 1)], next: None }).unwrap(),
            json,
        ),
        "/v1/tasks" => {
            let query = TasksQuery::parse(path.split_once('?').map(|(_, q)| q)).unwrap();
            let list = match query.job {
                Some(job) => job_tasks_page(job, query.after),
                None => {
                    let tasks =
                        if query.state == Some(TaskState::Due) { vec![task(1, 0, TaskState::Due)] } else { Vec::new() };
                    TaskList { tasks, next: None }
                }
            };
            (200, serde_json::to_string(&list).unwrap(), json)
        }
        "/v1/tasks/1/3" => {
            let history = vec![
                TaskTransitionView { from: None, to: TaskState::Due, at_ms: NOW_MS - 5_000, detail: None },
                TaskTransitionView {
                    from: Some(TaskState::Due),
                    to: TaskState::Performed,
                    at_ms: NOW_MS - 4_000,
                    detail: Some("batch 0x4e".to_owned()),
                },
            ];
            let detail = TaskDetail { task: task(1, 3, TaskState::Performed), history };
            (200, serde_json::to_string(&detail).unwrap(), json)
        }
        "/v1/tasks/1/9" => {
            (404, r#"{"code":"task_not_found","message":"task 1/9: not found","field":null}"#.to_owned(), json)
        }
        "/v1/events/recent" => (200, serde_json::to_string(&RecentEvents { events: Vec::new() }).unwrap(), json),
        _ => (404, r#"{"code":"not_found","message":"path: no such route","field":"path"}"#.to_owned(), json),
    }
}

/// Job 1 has tasks 3, 4 and 5 in the stand-in's store, served two to a page (as the daemon pages,
/// with a `next` cursor), in `(job, sequence)` order after `after`.
fn job_tasks_page(job: U256, after: Option<TaskCursor>) -> TaskList {
    let all: Vec<_> = if job == U256::from(1) {
        vec![task(1, 3, TaskState::Performed), task(1, 4, TaskState::Failed), task(1, 5, TaskState::Due)]
    } else {
        Vec::new()
    };
    let rest: Vec<_> =
        all.into_iter().filter(|t| after.is_none_or(|a| (t.job_id, t.sequence) > (a.job_id, a.sequence))).collect();
    let next = (rest.len() > 2).then(|| format!("{}:{}", rest[1].job_id, rest[1].sequence));
    TaskList { tasks: rest.into_iter().take(2).collect(), next }
}

async fn connection(mut stream: UnixStream) {
    let mut buffer = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let Ok(n) = stream.read(&mut chunk).await else { return };
        if n == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..n]);
        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_string();
            buffer.drain(..end + 4);
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            if path == "/v1/events" {
                let record = serde_json::to_string(&new_head(7, 500)).unwrap();
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                let event = format!("id: 7\nevent: new_head\ndata: {record}\n\n");
                // One chunk of the chunked body, as the real daemon's SSE answer sends them.
                let event = format!("{:x}\r\n{event}\r\n", event.len());
                if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(event.as_bytes()).await.is_err()
                {
                    return;
                }
                // Keep the stream open until the daemon "dies" (the task is aborted).
                std::future::pending::<()>().await;
            }
            let (code, body, content_type) = answer(&path);
            let reason = if code == 200 { "OK" } else { "Not Found" };
            let response = format!(
                "HTTP/1.1 {code} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(response.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// A stand-in daemon: serves until the returned task is aborted (its connections go with it).
fn start_daemon(socket: &Path) -> tokio::task::JoinHandle<()> {
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket).unwrap();
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                connections.spawn(connection(stream));
            }
        }
    })
}

/// Receives events until `want` matches one (a generous guard against a hang, not a timing check).
async fn wait_for(rx: &mut mpsc::Receiver<ApiEvent>, what: &str, want: impl Fn(&ApiEvent) -> bool) -> Vec<ApiEvent> {
    let mut seen = Vec::new();
    let result = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = rx.recv().await {
            let done = want(&event);
            seen.push(event);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(result.is_ok(), "no {what} among {seen:#?}");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_daemon_and_reconnects_after_it_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("keeperd.sock");
    let daemon = start_daemon(&socket);

    let (tx, mut rx) = mpsc::channel(1024);
    let (_commands, command_rx) = mpsc::unbounded_channel();
    let io = tokio::spawn(serve(Client::new(&socket).unwrap(), tx, command_rx));

    let mut seen = wait_for(&mut rx, "task listing", |e| matches!(e, ApiEvent::Tasks { .. })).await;
    assert!(seen.contains(&ApiEvent::Connection(Connection::Connected)), "{seen:#?}");
    assert!(seen.iter().any(|e| matches!(e, ApiEvent::Status(s) if s.chain_id == 31337)));
    assert!(seen.iter().any(|e| matches!(e, ApiEvent::Jobs(jobs) if jobs.len() == 1)));
    assert!(!seen.iter().any(|e| matches!(e, ApiEvent::Operators(_))), "a daemon without /v1/operators is still read");
    // The stream's event may come before or after the listings.
    let streamed = |e: &ApiEvent| matches!(e, ApiEvent::Event(r) if r.id == 7);
    if !seen.iter().any(streamed) {
        seen = wait_for(&mut rx, "streamed event", streamed).await;
    }
    assert!(seen.iter().any(streamed));

    // The daemon goes away: the link is reported lost.
    daemon.abort();
    let _ = daemon.await;
    std::fs::remove_file(&socket).unwrap();
    wait_for(&mut rx, "disconnection", |e| matches!(e, ApiEvent::Connection(Connection::Disconnected { .. }))).await;

    // It comes back on the same socket: connected again, everything read again.
    let daemon = start_daemon(&socket);
    wait_for(&mut rx, "reconnection", |e| *e == ApiEvent::Connection(Connection::Connected)).await;
    wait_for(&mut rx, "status after reconnecting", |e| matches!(e, ApiEvent::Status(_))).await;

    io.abort();
    daemon.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_a_jobs_tasks_and_a_task_history_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("keeperd.sock");
    let daemon = start_daemon(&socket);
    let (tx, mut rx) = mpsc::channel(1024);
    let (commands, command_rx) = mpsc::unbounded_channel();
    let io = tokio::spawn(serve(Client::new(&socket).unwrap(), tx, command_rx));

    // Every page of the job's tasks, as one answer.
    commands.send(Command::LoadJobTasks { job_id: U256::from(1), from_sequence: 0 }).unwrap();
    let seen = wait_for(&mut rx, "job tasks", |e| matches!(e, ApiEvent::JobTasks { .. })).await;
    let Some(ApiEvent::JobTasks { job_id, tasks }) = seen.last() else { unreachable!() };
    assert_eq!(*job_id, U256::from(1));
    assert_eq!(tasks.iter().map(|t| t.sequence).collect::<Vec<_>>(), vec![3, 4, 5]);
    // From a sequence on: the ones before it are not read.
    commands.send(Command::LoadJobTasks { job_id: U256::from(1), from_sequence: 4 }).unwrap();
    let seen = wait_for(&mut rx, "job tasks from 4", |e| matches!(e, ApiEvent::JobTasks { .. })).await;
    let Some(ApiEvent::JobTasks { tasks, .. }) = seen.last() else { unreachable!() };
    assert_eq!(tasks.iter().map(|t| t.sequence).collect::<Vec<_>>(), vec![4, 5]);

    // One task's history; a missing task comes back as the daemon's refusal.
    let key = (U256::from(1), 3);
    commands.send(Command::LoadTask(key)).unwrap();
    let seen = wait_for(&mut rx, "task detail", |e| matches!(e, ApiEvent::TaskDetail { .. })).await;
    let Some(ApiEvent::TaskDetail { key: read, result: Ok(detail) }) = seen.last() else { panic!("{seen:#?}") };
    assert_eq!(*read, key);
    assert_eq!(detail.task.state, TaskState::Performed);
    assert_eq!(detail.history.len(), 2);
    assert_eq!(detail.history[1].detail.as_deref(), Some("batch 0x4e"));
    commands.send(Command::LoadTask((U256::from(1), 9))).unwrap();
    let seen = wait_for(&mut rx, "missing task", |e| matches!(e, ApiEvent::TaskDetail { .. })).await;
    let Some(ApiEvent::TaskDetail { result: Err(error), .. }) = seen.last() else { panic!("{seen:#?}") };
    assert!(error.contains("task 1/9: not found"), "{error}");

    io.abort();
    daemon.abort();
}
