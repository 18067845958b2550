//! The console's state machine: what it knows of the daemon, which view and row are selected, the
//! open form or dialog. Keys go in through [`App::handle_key`] (which answers with an [`Action`]
//! for the I/O side), the daemon's answers and events through [`App::apply`]. No I/O and no
//! terminal here, so tests drive it with keys and events alone.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};

use alloy::primitives::U256;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use keeper_shared::api::{
    ApiError, CreateJobRequest, Event, EventRecord, JobStatus, JobView, OperatorView, RegisterOperatorRequest,
    StatusResponse, TaskDetail, TaskState, TaskView,
};

use super::events::EventLog;
use super::form::{self, CreateJobPreview, Form};
use super::tasks::{TaskKey, TaskQueue};

/// The console's views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Operators,
    Tasks,
    Jobs,
    Events,
}

impl View {
    pub const ALL: [View; 5] = [View::Overview, View::Operators, View::Tasks, View::Jobs, View::Events];

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Operators => "Operators",
            View::Tasks => "Tasks",
            View::Jobs => "Jobs",
            View::Events => "Events",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// The link to the daemon, as the I/O side reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Trying to reach the socket (attempt 1 is the first).
    Connecting {
        attempt: u32,
    },
    Connected,
    /// Lost or never reached; the I/O side retries by itself.
    Disconnected {
        error: String,
        attempt: u32,
    },
}

/// What the I/O side tells the console.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiEvent {
    Connection(Connection),
    Status(StatusResponse),
    Operators(Vec<OperatorView>),
    /// Every job the daemon indexed (a fresh listing replaces the old one).
    Jobs(Vec<JobView>),
    /// Every task in `states`, as the daemon lists them now.
    Tasks {
        states: Vec<TaskState>,
        tasks: Vec<TaskView>,
    },
    /// The newest tasks of one job, read when it was selected (merged into the queue).
    JobTasks {
        job_id: U256,
        tasks: Vec<TaskView>,
    },
    /// A task and its state history, asked for with [`Command::LoadTask`] (or why it could not be read).
    TaskDetail {
        key: TaskKey,
        result: Result<TaskDetail, String>,
    },
    /// One live event of the daemon's stream.
    Event(EventRecord),
    /// The stream skipped this many events (the client was too slow).
    Missed(u64),
    /// The answer to a [`Command`] that writes.
    WriteDone {
        what: String,
        result: Result<String, ApiError>,
    },
    /// Wall-clock time, for ages and latencies (tests set it).
    Tick {
        now_ms: i64,
    },
}

/// A request for the I/O side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateJob(Box<CreateJobRequest>),
    PauseJob(U256),
    ResumeJob(U256),
    CancelJob(U256),
    RegisterOperator(RegisterOperatorRequest),
    /// Read everything again now.
    Refresh,
    /// Read a job's tasks from `from_sequence` on (its history in the jobs view).
    LoadJobTasks {
        job_id: U256,
        from_sequence: u64,
    },
    /// Read one task with its state history (the task detail dialog).
    LoadTask(TaskKey),
}

impl Command {
    /// What the console says while it waits for the answer.
    pub fn describe(&self) -> String {
        match self {
            Command::CreateJob(_) => "create job".to_owned(),
            Command::PauseJob(id) => format!("pause job {id}"),
            Command::ResumeJob(id) => format!("resume job {id}"),
            Command::CancelJob(id) => format!("cancel job {id}"),
            Command::RegisterOperator(_) => "register operator".to_owned(),
            Command::Refresh => "refresh".to_owned(),
            Command::LoadJobTasks { job_id, .. } => format!("read the tasks of job {job_id}"),
            Command::LoadTask((job_id, sequence)) => format!("read task {job_id}/{sequence}"),
        }
    }
}

/// What a key asks the outer loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    Send(Command),
}

/// A dialog over the current view (one at a time: its size does not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    JobForm(Form),
    /// The transaction a job creation sends, shown before it is sent.
    JobPreview {
        form: Form,
        preview: Box<CreateJobPreview>,
    },
    OperatorForm(Form),
    /// One task's state history (`None` while it is read).
    TaskDetail {
        key: TaskKey,
        detail: Option<Result<TaskDetail, String>>,
    },
    /// "Are you sure?" before a write; `y` sends `command`.
    Confirm {
        question: String,
        detail: String,
        command: Command,
    },
}

/// A line under the view: the last write's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub ok: bool,
    pub text: String,
}

/// Escrow below this many maximum fees is flagged in the jobs view.
pub const LOW_ESCROW_TASKS: u64 = 10;
/// Tasks of the selected job read from the daemon (its newest ones) for the jobs view's history.
pub const JOB_HISTORY_TASKS: u64 = 200;
/// Blocks the throughput sparkline remembers.
pub const THROUGHPUT_BLOCKS: usize = 240;

#[derive(Debug)]
pub struct App {
    pub view: View,
    pub connection: Connection,
    pub status: Option<StatusResponse>,
    pub operators: Vec<OperatorView>,
    pub jobs: BTreeMap<U256, JobView>,
    pub tasks: TaskQueue,
    pub events: EventLog,
    /// Tasks performed per processed block, oldest first (the last entry is the current block).
    pub throughput: VecDeque<u64>,
    pub now_ms: i64,
    pub modal: Option<Modal>,
    pub notice: Option<Notice>,
    /// Writes sent and not answered yet.
    pub pending: Vec<String>,

    pub task_filter: Option<TaskState>,
    pub task_selected: Option<TaskKey>,
    /// The task list's first visible row (kept by the renderer so the list scrolls, not jumps).
    pub task_top: Cell<Option<TaskKey>>,
    pub job_selected: Option<U256>,
    pub job_top: Cell<usize>,
    /// The job whose tasks were last asked for (asked again when another is selected or the link
    /// comes back).
    pub job_tasks_requested: Option<U256>,
    pub operator_selected: usize,
    /// Rows the last frame's lists showed (page up/down moves this many).
    pub page_rows: Cell<usize>,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    pub fn new() -> Self {
        Self {
            view: View::Overview,
            connection: Connection::Connecting { attempt: 1 },
            status: None,
            operators: Vec::new(),
            jobs: BTreeMap::new(),
            tasks: TaskQueue::default(),
            events: EventLog::default(),
            throughput: VecDeque::new(),
            now_ms: 0,
            modal: None,
            notice: None,
            pending: Vec::new(),
            task_filter: None,
            task_selected: None,
            task_top: Cell::new(None),
            job_selected: None,
            job_top: Cell::new(0),
            job_tasks_requested: None,
            operator_selected: 0,
            page_rows: Cell::new(10),
        }
    }

    /// Takes in what the I/O side learnt.
    pub fn apply(&mut self, event: ApiEvent) {
        match event {
            ApiEvent::Connection(connection) => {
                if connection == Connection::Connected {
                    // Tasks may have moved while the link was down: read the history again.
                    self.job_tasks_requested = None;
                }
                self.connection = connection;
            }
            ApiEvent::Status(status) => self.status = Some(status),
            ApiEvent::Operators(operators) => {
                self.operators = operators;
                self.operator_selected = self.operator_selected.min(self.operators.len().saturating_sub(1));
            }
            ApiEvent::Jobs(jobs) => {
                self.jobs = jobs.into_iter().map(|job| (job.id, job)).collect();
                if self.job_selected.is_none_or(|id| !self.jobs.contains_key(&id)) {
                    self.job_selected = self.jobs.keys().next().copied();
                }
            }
            ApiEvent::Tasks { states, tasks } => self.tasks.replace_states(&states, tasks),
            ApiEvent::JobTasks { tasks, .. } => {
                for task in tasks {
                    self.tasks.merge(task);
                }
            }
            ApiEvent::TaskDetail { key, result } => {
                if let Some(Modal::TaskDetail { key: open, detail }) = &mut self.modal {
                    if *open == key {
                        if let Ok(read) = &result {
                            self.tasks.merge(read.task.clone());
                        }
                        *detail = Some(result);
                    }
                }
            }
            ApiEvent::Event(record) => self.apply_record(record),
            ApiEvent::Missed(count) => self.events.push_note(self.now_ms, format!("missed {count} events")),
            ApiEvent::WriteDone { what, result } => {
                if let Some(i) = self.pending.iter().position(|p| *p == what) {
                    self.pending.remove(i);
                }
                self.notice = Some(match result {
                    Ok(text) => Notice { ok: true, text: format!("{what}: {text}") },
                    Err(error) => {
                        // A refused job creation goes back to its form, on the field at fault.
                        if let Some(Modal::JobPreview { form, .. }) = &self.modal {
                            let mut form = form.clone();
                            form.error = Some(form::api_form_error(&error));
                            if let Some(field) = form.error.as_ref().and_then(|e| e.field) {
                                form.focus_field(field);
                            }
                            self.modal = Some(Modal::JobForm(form));
                        }
                        Notice { ok: false, text: format!("{what} failed: {error}") }
                    }
                });
                if matches!(self.modal, Some(Modal::JobPreview { .. })) {
                    self.modal = None;
                }
            }
            ApiEvent::Tick { now_ms } => self.now_ms = now_ms,
        }
    }

    fn apply_record(&mut self, record: EventRecord) {
        match &record.event {
            Event::NewHead { block } => {
                self.throughput.push_back(0);
                while self.throughput.len() > THROUGHPUT_BLOCKS {
                    self.throughput.pop_front();
                }
                if let Some(status) = &mut self.status {
                    status.head = Some(*block);
                }
            }
            Event::TaskState { job_id, sequence, to, .. } => {
                let key = (*job_id, *sequence);
                if !self.tasks.set_state(key, *to, record.at_ms) {
                    // A new task: its due time comes with the next listing.
                    self.tasks.upsert(TaskView {
                        job_id: *job_id,
                        sequence: *sequence,
                        state: *to,
                        due_at_ms: None,
                        due_block: None,
                        response_hash: None,
                        created_at_ms: record.at_ms,
                        updated_at_ms: record.at_ms,
                    });
                }
            }
            Event::Job { job_id, status, balance_wei, block, .. } => {
                if let Some(job) = self.jobs.get_mut(job_id) {
                    job.status = *status;
                    job.balance_wei = *balance_wei;
                    job.updated_at_block = job.updated_at_block.max(*block);
                }
            }
            Event::Health { .. } | Event::Unknown => {}
            Event::TaskOutcome { job_id, sequence, outcome, .. } => {
                let state = outcome.task_state();
                if state == TaskState::Performed {
                    match self.throughput.back_mut() {
                        Some(count) => *count += 1,
                        None => self.throughput.push_back(1),
                    }
                }
                self.tasks.set_state((*job_id, *sequence), state, record.at_ms);
            }
        }
        self.events.push(record);
    }

    /// Maps a key to a state change, and maybe to something for the I/O side to do (a key that
    /// asks for nothing may still bring up a read, see [`App::follow_up`]).
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        match self.handle_key_inner(key) {
            Action::None => self.follow_up().map_or(Action::None, Action::Send),
            action => action,
        }
    }

    /// A read the screen now needs: the selected job's tasks, in the jobs view, once per job
    /// selected (live events keep them current after that). The runtime asks after every batch of
    /// API events too, for a job selected by a listing rather than a key.
    pub fn follow_up(&mut self) -> Option<Command> {
        if self.view != View::Jobs || self.modal.is_some() || self.connection != Connection::Connected {
            return None;
        }
        let job = self.selected_job()?;
        if self.job_tasks_requested == Some(job.id) {
            return None;
        }
        let newest = job.next_due.as_ref().map_or(job.watermark, |n| n.sequence.max(job.watermark));
        let command = Command::LoadJobTasks { job_id: job.id, from_sequence: newest.saturating_sub(JOB_HISTORY_TASKS) };
        self.job_tasks_requested = Some(job.id);
        Some(command)
    }

    fn handle_key_inner(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if self.modal.is_some() {
            return self.handle_modal_key(key);
        }
        if self.view == View::Events && self.events.editing_filter {
            self.events.edit_filter(key);
            return Action::None;
        }
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Tab => self.view = View::ALL[(self.view.index() + 1) % View::ALL.len()],
            KeyCode::BackTab => self.view = View::ALL[(self.view.index() + View::ALL.len() - 1) % View::ALL.len()],
            KeyCode::Char(c @ '1'..='5') => self.view = View::ALL[(c as usize) - ('1' as usize)],
            KeyCode::Char('g') if key.modifiers.is_empty() => return Action::Send(Command::Refresh),
            KeyCode::Esc => self.notice = None,
            _ => return self.handle_view_key(key),
        }
        Action::None
    }

    fn handle_view_key(&mut self, key: KeyEvent) -> Action {
        let page = self.page_rows.get().max(1) as isize;
        let delta = match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(-1),
            KeyCode::Down | KeyCode::Char('j') => Some(1),
            KeyCode::PageUp => Some(-page),
            KeyCode::PageDown => Some(page),
            KeyCode::Home => Some(isize::MIN),
            KeyCode::End => Some(isize::MAX),
            _ => None,
        };
        match self.view {
            View::Overview => {}
            View::Operators => match (delta, key.code) {
                (Some(d), _) => {
                    let last = self.operators.len().saturating_sub(1);
                    self.operator_selected = clamp_step(self.operator_selected, d, last);
                }
                (None, KeyCode::Char('R')) => self.modal = Some(Modal::OperatorForm(form::operator_form())),
                _ => {}
            },
            View::Tasks => match (delta, key.code) {
                (Some(d), _) => self.move_task(d),
                (None, KeyCode::Char('f')) => self.cycle_task_filter(true),
                (None, KeyCode::Char('F')) => self.cycle_task_filter(false),
                (None, KeyCode::Enter) => return self.open_task_detail(),
                _ => {}
            },
            View::Jobs => match (delta, key.code) {
                (Some(d), _) => {
                    let ids: Vec<U256> = self.jobs.keys().copied().collect();
                    let at = self.job_selected.and_then(|id| ids.iter().position(|i| *i == id)).unwrap_or(0);
                    self.job_selected = ids.get(clamp_step(at, d, ids.len().saturating_sub(1))).copied();
                }
                (None, KeyCode::Char('n')) => self.open_job_form(),
                (None, KeyCode::Char('p')) => self.confirm_job(JobWrite::Pause),
                (None, KeyCode::Char('r')) => self.confirm_job(JobWrite::Resume),
                (None, KeyCode::Char('c')) => self.confirm_job(JobWrite::Cancel),
                _ => {}
            },
            View::Events => match (delta, key.code) {
                (Some(d), _) => self.events.scroll(d),
                (None, KeyCode::Char('/')) => self.events.editing_filter = true,
                (None, KeyCode::Char('x')) => self.events.filter.clear(),
                _ => {}
            },
        }
        Action::None
    }

    fn move_task(&mut self, delta: isize) {
        let filter = self.task_filter;
        self.task_selected = match delta {
            isize::MIN => self.tasks.first(filter),
            isize::MAX => self.tasks.last(filter),
            d => match self.task_selected {
                Some(key) => self.tasks.step(filter, key, d),
                // Nothing chosen yet: the first row is the one shown selected, move from there.
                None => self.tasks.first(filter).and_then(|first| self.tasks.step(filter, first, d)),
            },
        };
    }

    /// Opens the selected task's history and asks the daemon for it.
    fn open_task_detail(&mut self) -> Action {
        let filter = self.task_filter;
        let selected =
            self.task_selected.and_then(|k| self.tasks.resolve(filter, k)).or_else(|| self.tasks.first(filter));
        let Some(key) = selected else { return Action::None };
        self.modal = Some(Modal::TaskDetail { key, detail: None });
        Action::Send(Command::LoadTask(key))
    }

    fn cycle_task_filter(&mut self, forward: bool) {
        // None (all), then each state in pipeline order.
        let n = TaskState::ALL.len() + 1;
        let at = match self.task_filter {
            None => 0,
            Some(state) => TaskState::ALL.iter().position(|s| *s == state).map_or(0, |i| i + 1),
        };
        let next = if forward { (at + 1) % n } else { (at + n - 1) % n };
        self.task_filter = if next == 0 { None } else { Some(TaskState::ALL[next - 1]) };
        self.task_top.set(None);
        self.task_selected = self.task_selected.and_then(|key| self.tasks.resolve(self.task_filter, key));
    }

    fn open_job_form(&mut self) {
        let mut form = form::job_form();
        // Start the first task at the chain's current time: the common case, and a valid one.
        if let Some(head) = self.status.as_ref().and_then(|s| s.head) {
            form.set("trigger.start", head.timestamp_secs.to_string());
        }
        self.modal = Some(Modal::JobForm(form));
    }

    fn confirm_job(&mut self, write: JobWrite) {
        let Some(job) = self.job_selected.and_then(|id| self.jobs.get(&id)) else {
            self.notice = Some(Notice { ok: false, text: "no job selected".to_owned() });
            return;
        };
        let id = job.id;
        let refused = match (write, job.status) {
            (JobWrite::Pause, JobStatus::Active) => None,
            (JobWrite::Pause, status) => Some(format!("job {id} is {status}: only an active job can be paused")),
            (JobWrite::Resume, JobStatus::Paused) => None,
            (JobWrite::Resume, status) => Some(format!("job {id} is {status}: only a paused job can be resumed")),
            (JobWrite::Cancel, JobStatus::Active | JobStatus::Paused) => None,
            (JobWrite::Cancel, status) => Some(format!("job {id} is {status} already")),
        };
        if let Some(text) = refused {
            self.notice = Some(Notice { ok: false, text });
            return;
        }
        let (question, detail, command) = match write {
            JobWrite::Pause => (
                format!("Pause job {id}?"),
                "No task is due while it is paused; its escrow stays.".to_owned(),
                Command::PauseJob(id),
            ),
            JobWrite::Resume => (
                format!("Resume job {id}?"),
                "Tasks fall due again from the next period on.".to_owned(),
                Command::ResumeJob(id),
            ),
            JobWrite::Cancel => (
                format!("Cancel job {id}?"),
                format!(
                    "Its escrow ({}) goes back to the owner. This cannot be undone.",
                    super::format::eth(job.balance_wei)
                ),
                Command::CancelJob(id),
            ),
        };
        self.modal = Some(Modal::Confirm { question, detail, command });
    }

    fn send(&mut self, command: Command) -> Action {
        self.pending.push(command.describe());
        self.notice = None;
        Action::Send(command)
    }

    fn handle_modal_key(&mut self, key: KeyEvent) -> Action {
        let Some(modal) = self.modal.take() else { return Action::None };
        match modal {
            Modal::TaskDetail { key: task, detail } => match key.code {
                KeyCode::Esc | KeyCode::Enter => {}
                _ => self.modal = Some(Modal::TaskDetail { key: task, detail }),
            },
            Modal::Confirm { question, detail, command } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => return self.send(command),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
                _ => self.modal = Some(Modal::Confirm { question, detail, command }),
            },
            Modal::JobForm(mut form) => {
                match key.code {
                    KeyCode::Esc => return Action::None,
                    KeyCode::Enter => {
                        let now_secs = self.status.as_ref().and_then(|s| s.head).map(|h| h.timestamp_secs);
                        // A refused form keeps its error (set by `read_job_form`) and stays open.
                        if let Ok(request) = form::read_job_form(&mut form, now_secs) {
                            match form::preview_job(request) {
                                Ok(preview) => {
                                    self.modal = Some(Modal::JobPreview { form, preview: Box::new(preview) });
                                    return Action::None;
                                }
                                Err(error) => form.error = Some(form::api_form_error(&error)),
                            }
                        }
                    }
                    _ => {
                        edit_form(&mut form, key);
                        form::update_job_form(&mut form);
                    }
                }
                self.modal = Some(Modal::JobForm(form));
            }
            Modal::JobPreview { form, preview } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    let command = Command::CreateJob(Box::new(preview.request.clone()));
                    // Kept open until the answer: a refusal goes back to the form.
                    self.modal = Some(Modal::JobPreview { form, preview });
                    return self.send(command);
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => self.modal = Some(Modal::JobForm(form)),
                _ => self.modal = Some(Modal::JobPreview { form, preview }),
            },
            Modal::OperatorForm(mut form) => match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => match form::read_operator_form(&mut form) {
                    Ok(request) => {
                        let who = self
                            .status
                            .as_ref()
                            .and_then(|s| s.operator)
                            .map_or("the daemon's operator".to_owned(), |a| a.to_string());
                        let magnitude = request
                            .magnitude
                            .map_or("all of its stake".to_owned(), |m| format!("magnitude {m} of 1e18"));
                        self.modal = Some(Modal::Confirm {
                            question: format!("Register {who} with the keeper set?"),
                            detail: format!(
                                "Allocates {magnitude}, then registers its BLS key (one transaction per step)."
                            ),
                            command: Command::RegisterOperator(request),
                        });
                    }
                    Err(_) => self.modal = Some(Modal::OperatorForm(form)),
                },
                _ => {
                    edit_form(&mut form, key);
                    self.modal = Some(Modal::OperatorForm(form));
                }
            },
        }
        Action::None
    }

    /// The selected job, if any.
    pub fn selected_job(&self) -> Option<&JobView> {
        self.job_selected.and_then(|id| self.jobs.get(&id))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobWrite {
    Pause,
    Resume,
    Cancel,
}

fn edit_form(form: &mut Form, key: KeyEvent) {
    match key.code {
        KeyCode::Tab | KeyCode::Down => form.move_focus(true),
        KeyCode::BackTab | KeyCode::Up => form.move_focus(false),
        KeyCode::Left => {
            form.cycle(false);
        }
        KeyCode::Right | KeyCode::Char(' ') if form.focused().is_some_and(|f| f.is_choice()) => {
            form.cycle(true);
        }
        KeyCode::Backspace => form.backspace(),
        KeyCode::Char(c) => form.type_char(c),
        _ => {}
    }
}

fn clamp_step(at: usize, delta: isize, last: usize) -> usize {
    match delta {
        isize::MIN => 0,
        isize::MAX => last,
        d if d < 0 => at.saturating_sub(d.unsigned_abs()),
        d => at.saturating_add(d.unsigned_abs()).min(last),
    }
}
