//! The console's I/O: the terminal loop, and the tasks that talk to the daemon through
//! [`Client`]. They only exchange messages with the [`App`]: [`ApiEvent`]s in, [`Command`]s out.
//!
//! Reconnection: a reader polls the daemon's status, jobs, tasks and operators every
//! [`REFRESH_EVERY`] and reports the link as connected or not by whether that works, so the
//! console notices a daemon that went away, and reloads everything when it comes back. The event
//! stream reconnects by itself ([`crate::client::EventStream`]) and asks for a reload when it did.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::U256;
use crossterm::event::{Event as TermEvent, EventStream as TermEvents};
use futures_util::StreamExt;
use keeper_shared::api::{
    self, ApiError, CreateJobResponse, EmptyRequest, ErrorCode, JobAction, JobWriteResponse, JobsQuery, OperatorList,
    OperatorStepOutcome, OperatorWriteResponse, TaskCursor, TaskState, TaskView, TasksQuery, MAX_LIMIT,
};
use tokio::sync::{mpsc, Notify};

use super::app::{Action, ApiEvent, App, Command, Connection};
use crate::client::{Client, ClientError, StreamItem};

/// Writes wait for their transaction's receipt (operator registration: several).
const WRITE_TIMEOUT: Duration = Duration::from_secs(180);
/// How often everything is read again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// At most this many frames a second while events pour in (keys redraw at once).
const FRAME_EVERY: Duration = Duration::from_millis(33);
/// The in-flight states the console lists in full (finished tasks arrive as events).
// The pending states (`TaskState::is_pending`).
pub const LIVE_STATES: [TaskState; 5] =
    [TaskState::Due, TaskState::Executed, TaskState::Signed, TaskState::Proposed, TaskState::Submitted];
/// Tasks of one job read at most for its history.
const MAX_JOB_TASKS: usize = 5_000;
/// Tasks read per state at most.
const MAX_TASKS_PER_STATE: usize = 50_000;

/// Errors of the console's terminal.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Runs the console on the current terminal until the user quits. Restores the terminal on the
/// way out, and on a panic (ratatui's hook).
pub async fn run(client: Client) -> Result<(), ConsoleError> {
    // Not a terminal (or none to take over): fail before starting anything.
    let mut terminal = ratatui::try_init()?;
    let (api_tx, mut api_rx) = mpsc::channel::<ApiEvent>(8192);
    let (command_tx, command_rx) = mpsc::unbounded_channel::<Command>();
    let io = tokio::spawn(serve(client, api_tx, command_rx));

    let result = async {
        let mut app = App::new();
        app.apply(ApiEvent::Tick { now_ms: now_ms() });
        let mut keys = TermEvents::new();
        let mut frames = tokio::time::interval(FRAME_EVERY);
        frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut dirty = true;
        loop {
            if dirty {
                terminal.draw(|frame| super::ui::draw(frame, &app))?;
                dirty = false;
            }
            tokio::select! {
                key = keys.next() => match key {
                    Some(Ok(TermEvent::Key(key))) => {
                        match app.handle_key(key) {
                            Action::Quit => return Ok(()),
                            Action::Send(command) => {
                                // The I/O task ends only with the console: a closed channel is a bug
                                // we cannot act on here.
                                let _ = command_tx.send(command);
                            }
                            Action::None => {}
                        }
                        dirty = true;
                    }
                    Some(Ok(TermEvent::Resize(..))) => dirty = true,
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(ConsoleError::Terminal(error)),
                    None => return Ok(()),
                },
                event = api_rx.recv() => {
                    let Some(event) = event else { return Ok(()) };
                    app.apply(event);
                    // Take what else is queued before drawing: 1,000 events a second cost one frame.
                    while let Ok(event) = api_rx.try_recv() {
                        app.apply(event);
                    }
                    // A job selected by the listing needs its history read.
                    if let Some(command) = app.follow_up() {
                        let _ = command_tx.send(command);
                    }
                }
                _ = frames.tick() => {
                    app.apply(ApiEvent::Tick { now_ms: now_ms() });
                    dirty = true;
                }
            }
        }
    }
    .await;
    ratatui::restore();
    io.abort();
    result
}

/// Talks to the daemon until the console drops the channels.
pub async fn serve(client: Client, events: mpsc::Sender<ApiEvent>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let reload = Arc::new(Notify::new());
    let reader = tokio::spawn(read_loop(client.clone(), events.clone(), reload.clone()));
    let stream = tokio::spawn(stream_loop(client.clone(), events.clone(), reload.clone()));
    let writer = client.clone().with_timeout(WRITE_TIMEOUT);
    while let Some(command) = commands.recv().await {
        match command {
            Command::Refresh => {
                reload.notify_one();
                continue;
            }
            Command::LoadJobTasks { job_id, from_sequence } => {
                let (client, events) = (client.clone(), events.clone());
                tokio::spawn(async move {
                    // A failed read leaves the history to the live events; the reader reports the link.
                    if let Ok(tasks) = job_tasks(&client, job_id, from_sequence).await {
                        let _ = events.send(ApiEvent::JobTasks { job_id, tasks }).await;
                    }
                });
                continue;
            }
            Command::LoadTask(key) => {
                let (client, events) = (client.clone(), events.clone());
                tokio::spawn(async move {
                    let result = client.task(key.0, key.1).await.map_err(|e| match e.api_error() {
                        Some(error) => error.to_string(),
                        None => short_error(&e),
                    });
                    let _ = events.send(ApiEvent::TaskDetail { key, result }).await;
                });
                continue;
            }
            _ => {}
        }
        // Each write on its own task: a transaction takes blocks, reads go on meanwhile.
        let (writer, events, reload) = (writer.clone(), events.clone(), reload.clone());
        tokio::spawn(async move {
            let what = command.describe();
            let result = write(&writer, command).await;
            let _ = events.send(ApiEvent::WriteDone { what, result }).await;
            reload.notify_one();
        });
    }
    reader.abort();
    stream.abort();
}

async fn read_loop(client: Client, events: mpsc::Sender<ApiEvent>, reload: Arc<Notify>) {
    let mut attempt = 0u32;
    let mut connected = false;
    loop {
        match read_all(&client).await {
            Ok(batch) => {
                if !connected {
                    connected = true;
                    attempt = 0;
                    if events.send(ApiEvent::Connection(Connection::Connected)).await.is_err() {
                        return;
                    }
                }
                for event in batch {
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                connected = false;
                attempt += 1;
                let state = Connection::Disconnected { error: short_error(&error), attempt };
                if events.send(ApiEvent::Connection(state)).await.is_err() {
                    return;
                }
            }
        }
        let wait = if connected { REFRESH_EVERY } else { backoff(attempt) };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = reload.notified() => {}
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(3)))
}

fn short_error(error: &ClientError) -> String {
    match error {
        ClientError::Unreachable { reason, .. } => reason.clone(),
        ClientError::Timeout { .. } => "no answer in time".to_owned(),
        other => other.to_string(),
    }
}

/// Status, operators, jobs and the in-flight tasks, as one batch of events.
async fn read_all(client: &Client) -> Result<Vec<ApiEvent>, ClientError> {
    let mut out = vec![ApiEvent::Status(client.status().await?)];
    match client.get::<OperatorList>(api::OPERATORS_PATH).await {
        Ok(list) => out.push(ApiEvent::Operators(list.operators)),
        // A daemon without the operators endpoint still serves the rest.
        Err(error) if error.api_error().is_some() => {}
        Err(error) => return Err(error),
    }
    let mut jobs = Vec::new();
    let mut query = JobsQuery { limit: Some(MAX_LIMIT), ..JobsQuery::default() };
    loop {
        let page = client.jobs(&query).await?;
        jobs.extend(page.jobs);
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    out.push(ApiEvent::Jobs(jobs));
    let mut tasks: Vec<TaskView> = Vec::new();
    for state in LIVE_STATES {
        let mut query = TasksQuery { state: Some(state), limit: Some(MAX_LIMIT), ..TasksQuery::default() };
        let mut read = 0;
        loop {
            let page = client.tasks(&query).await?;
            read += page.tasks.len();
            tasks.extend(page.tasks);
            match page.next.as_deref().map(str::parse) {
                Some(Ok(cursor)) if read < MAX_TASKS_PER_STATE => query.after = Some(cursor),
                _ => break,
            }
        }
    }
    out.push(ApiEvent::Tasks { states: LIVE_STATES.to_vec(), tasks });
    Ok(out)
}

/// The tasks of `job_id` from `from_sequence` on, as the daemon stores them (at most
/// [`MAX_JOB_TASKS`]).
pub async fn job_tasks(client: &Client, job_id: U256, from_sequence: u64) -> Result<Vec<TaskView>, ClientError> {
    let after = from_sequence.checked_sub(1).map(|sequence| TaskCursor { job_id, sequence });
    let mut query = TasksQuery { job: Some(job_id), after, limit: Some(MAX_LIMIT), ..TasksQuery::default() };
    let mut tasks = Vec::new();
    loop {
        let page = client.tasks(&query).await?;
        tasks.extend(page.tasks.into_iter().filter(|t| t.job_id == job_id));
        match page.next.as_deref().map(str::parse) {
            Some(Ok(cursor)) if tasks.len() < MAX_JOB_TASKS => query.after = Some(cursor),
            _ => break,
        }
    }
    Ok(tasks)
}

async fn stream_loop(client: Client, events: mpsc::Sender<ApiEvent>, reload: Arc<Notify>) {
    let mut stream = client.events(None);
    while let Some(item) = stream.next().await {
        let event = match item {
            Ok(StreamItem::Event(record)) => ApiEvent::Event(record),
            Ok(StreamItem::Missed(count)) => ApiEvent::Missed(count),
            Ok(StreamItem::Reconnected) => {
                reload.notify_one();
                continue;
            }
            // The reader reports the link's state; the stream just retries (with its backoff).
            Err(_) => continue,
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

async fn write(client: &Client, command: Command) -> Result<String, ApiError> {
    let refusal = |error: ClientError| match error {
        ClientError::Api { error, .. } => error,
        other => ApiError::new(ErrorCode::Unavailable, other.to_string()),
    };
    let job_action = |id, action| async move {
        let answer: JobWriteResponse =
            client.post(&api::job_action_path(id, action), &EmptyRequest {}).await.map_err(refusal)?;
        Ok::<_, ApiError>(format!("done in block {} (tx {})", answer.tx.block_number, answer.tx.tx_hash))
    };
    match command {
        Command::CreateJob(request) => {
            let answer: CreateJobResponse = client.post(api::JOBS_PATH, &*request).await.map_err(refusal)?;
            Ok(format!("job {} created in block {} (tx {})", answer.job_id, answer.tx.block_number, answer.tx.tx_hash))
        }
        Command::PauseJob(id) => job_action(id, JobAction::Pause).await,
        Command::ResumeJob(id) => job_action(id, JobAction::Resume).await,
        Command::CancelJob(id) => job_action(id, JobAction::Cancel).await,
        Command::RegisterOperator(request) => {
            let answer: OperatorWriteResponse =
                client.post(api::OPERATOR_REGISTER_PATH, &request).await.map_err(refusal)?;
            Ok(format!("{}: {}", answer.operator, steps(&answer.steps)))
        }
        Command::Refresh | Command::LoadJobTasks { .. } | Command::LoadTask(_) => Ok("reloaded".to_owned()),
    }
}

fn steps(steps: &[OperatorStepOutcome]) -> String {
    let parts: Vec<String> = steps
        .iter()
        .map(|s| match (&s.tx, &s.skipped) {
            (Some(tx), _) => format!("{:?} in block {}", s.step, tx.block_number),
            (None, Some(why)) => format!("{:?} skipped ({why})", s.step),
            (None, None) => format!("{:?}", s.step),
        })
        .collect();
    parts.join("; ")
}
