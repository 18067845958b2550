//! Tasks (`(jobId, sequence)`) through the pipeline, and the append-only history of their states.

use alloy::primitives::{B256, U256};
use keeper_shared::batch::TaskId;
use rusqlite::{params, Row};

use super::codec::{enum_col, now_ms, opt_b256_col, opt_u64_col, u256_col, u256_to_sql, u64_col, u64_to_sql};
use super::error::{Result, StoreError};
use super::{ReadTx, WriteTx};

const TABLE: &str = "tasks";
const HISTORY: &str = "task_history";

/// A task's state (`keeper_shared::job`), stored as its name: TEXT read back with [`TaskState::parse`],
/// which refuses an unknown name (schema 6 dropped the CHECK lists, so a new state needs no rebuild).
pub use keeper_shared::job::{TaskEnding, TaskState};

/// A job's failed tasks, as [`ReadTx::job_failures`] reads them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobFailures {
    pub failed: u64,
    /// Failed tasks among the job's latest finished ones, before the first that was performed.
    pub in_a_row: u32,
    pub last_reason: Option<String>,
}

/// When a task is due: at a time, at a block, or both (at least one is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskDue {
    pub at_ms: Option<i64>,
    pub block: Option<u64>,
}

/// One task as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub task: TaskId,
    pub state: TaskState,
    pub due: TaskDue,
    pub response_hash: Option<B256>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One entry of a task's history. `from` is `None` for the entry that created the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTransition {
    pub from: Option<TaskState>,
    pub to: TaskState,
    pub at_ms: i64,
    pub detail: Option<String>,
}

/// A page of tasks; pass `next` as `after` to get the following page (`None`: no more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    pub tasks: Vec<TaskRecord>,
    pub next: Option<TaskId>,
}

const COLUMNS: &str = "job_id, sequence, state, due_at_ms, due_block, response_hash, created_at_ms, updated_at_ms";

fn decode(row: &Row<'_>) -> Result<TaskRecord> {
    Ok(TaskRecord {
        task: TaskId { job_id: u256_col(row, TABLE, "job_id")?, sequence: u64_col(row, TABLE, "sequence")? },
        state: enum_col(row, TABLE, "state", TaskState::parse)?,
        due: TaskDue { at_ms: row.get("due_at_ms")?, block: opt_u64_col(row, TABLE, "due_block")? },
        response_hash: opt_b256_col(row, TABLE, "response_hash")?,
        created_at_ms: row.get("created_at_ms")?,
        updated_at_ms: row.get("updated_at_ms")?,
    })
}

fn page(mut rows: rusqlite::Rows<'_>, limit: u32) -> Result<TaskPage> {
    let mut tasks = Vec::new();
    while let Some(row) = rows.next()? {
        tasks.push(decode(row)?);
    }
    let full = u32::try_from(tasks.len()).is_ok_and(|len| len == limit);
    let next = if full { tasks.last().map(|t| t.task) } else { None };
    Ok(TaskPage { tasks, next })
}

fn sequence_to_sql(sequence: u64) -> Result<i64> {
    u64_to_sql(TABLE, "sequence", sequence)
}

fn task_key(task: TaskId) -> String {
    format!("job {} sequence {}", task.job_id, task.sequence)
}

impl ReadTx<'_> {
    pub fn task(&self, task: TaskId) -> Result<Option<TaskRecord>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tasks WHERE job_id = ?1 AND sequence = ?2"))?;
        let mut rows = stmt.query(params![u256_to_sql(task.job_id), sequence_to_sql(task.sequence)?])?;
        rows.next()?.map(decode).transpose()
    }

    /// Up to `limit` tasks in `state`, in task id order, after `after` (keyset pagination: stable
    /// while tasks change state, and as cheap on the last page as on the first).
    pub fn tasks_in_state(&self, state: TaskState, after: Option<TaskId>, limit: u32) -> Result<TaskPage> {
        match after {
            None => {
                let mut stmt = self.conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM tasks WHERE state = ?1 ORDER BY job_id, sequence LIMIT ?2"
                ))?;
                let rows = stmt.query(params![state.as_str(), limit])?;
                page(rows, limit)
            }
            Some(after) => {
                let mut stmt = self.conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM tasks WHERE state = ?1 AND (job_id, sequence) > (?2, ?3)
                     ORDER BY job_id, sequence LIMIT ?4"
                ))?;
                let rows = stmt.query(params![
                    state.as_str(),
                    u256_to_sql(after.job_id),
                    sequence_to_sql(after.sequence)?,
                    limit
                ])?;
                page(rows, limit)
            }
        }
    }

    /// Up to `limit` tasks of `job_id` with a sequence above `after_sequence`, in sequence order.
    pub fn tasks_of_job(&self, job_id: U256, after_sequence: Option<u64>, limit: u32) -> Result<TaskPage> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE job_id = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3"
        ))?;
        let after = after_sequence.map(sequence_to_sql).transpose()?.unwrap_or(-1);
        let rows = stmt.query(params![u256_to_sql(job_id), after, limit])?;
        page(rows, limit)
    }

    /// Up to `limit` tasks after `after` in task id order, of one state and/or one job when given
    /// (the control API's listing; the single-filter cases use their own indexed queries).
    pub fn tasks_filtered(
        &self,
        state: Option<TaskState>,
        job_id: Option<U256>,
        after: Option<TaskId>,
        limit: u32,
    ) -> Result<TaskPage> {
        match (state, job_id) {
            (Some(state), None) => return self.tasks_in_state(state, after, limit),
            (None, Some(job_id)) => {
                let after_sequence = match after {
                    Some(after) if after.job_id > job_id => return Ok(TaskPage { tasks: Vec::new(), next: None }),
                    Some(after) if after.job_id == job_id => Some(after.sequence),
                    _ => None,
                };
                return self.tasks_of_job(job_id, after_sequence, limit);
            }
            _ => {}
        }
        self.tasks_created_between(state, job_id, None, None, after, limit)
    }

    /// A job's failed tasks in this store: how many, how many of its latest finished tasks (performed
    /// or failed, highest sequences first, at most `window`) failed in a row, and the reason of the
    /// latest failure (its history detail).
    pub fn job_failures(&self, job_id: U256, window: u32) -> Result<JobFailures> {
        let id = u256_to_sql(job_id);
        let failed: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM tasks WHERE job_id = ?1 AND state = 'failed'")?
            .query_row(params![id], |row| row.get(0))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT state FROM tasks WHERE job_id = ?1 AND state IN ('performed', 'failed')
             ORDER BY sequence DESC LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![id, window])?;
        let mut in_a_row = 0;
        while let Some(row) = rows.next()? {
            if enum_col(row, TABLE, "state", TaskState::parse)? != TaskState::Failed {
                break;
            }
            in_a_row += 1;
        }
        let last_reason = self
            .conn
            .prepare_cached(
                "SELECT detail FROM task_history WHERE job_id = ?1 AND to_state = 'failed' ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![id], |row| row.get::<_, Option<String>>(0))
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?
            .flatten();
        Ok(JobFailures { failed: u64::try_from(failed).unwrap_or(0), in_a_row, last_reason })
    }

    /// Every state `task` went through, oldest first.
    pub fn task_history(&self, task: TaskId) -> Result<Vec<TaskTransition>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT from_state, to_state, at_ms, detail FROM task_history
             WHERE job_id = ?1 AND sequence = ?2 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![u256_to_sql(task.job_id), sequence_to_sql(task.sequence)?])?;
        let mut history = Vec::new();
        while let Some(row) = rows.next()? {
            history.push(transition(row)?);
        }
        Ok(history)
    }

    /// Like [`Self::tasks_filtered`], and only tasks created in `[from_ms, to_ms)` (either bound
    /// optional): the control API's time filter.
    pub fn tasks_created_between(
        &self,
        state: Option<TaskState>,
        job_id: Option<U256>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        after: Option<TaskId>,
        limit: u32,
    ) -> Result<TaskPage> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks
             WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR job_id = ?2)
                 AND (?3 IS NULL OR (job_id, sequence) > (?3, ?4))
                 AND (?5 IS NULL OR created_at_ms >= ?5) AND (?6 IS NULL OR created_at_ms < ?6)
             ORDER BY job_id, sequence LIMIT ?7"
        ))?;
        let rows = stmt.query(params![
            state.map(TaskState::as_str),
            job_id.map(u256_to_sql),
            after.map(|a| u256_to_sql(a.job_id)),
            after.map(|a| sequence_to_sql(a.sequence)).transpose()?.unwrap_or(0),
            from_ms,
            to_ms,
            limit
        ])?;
        page(rows, limit)
    }

    /// Up to `limit` history entries of any task with a row id above `after_id`, oldest first,
    /// each with its id (the control API's event feed follows them).
    pub fn task_transitions_after(&self, after_id: i64, limit: u32) -> Result<Vec<(i64, TaskId, TaskTransition)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, job_id, sequence, from_state, to_state, at_ms, detail FROM task_history
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after_id, limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let task =
                TaskId { job_id: u256_col(row, HISTORY, "job_id")?, sequence: u64_col(row, HISTORY, "sequence")? };
            out.push((row.get("id")?, task, transition(row)?));
        }
        Ok(out)
    }

    /// The newest history entry's row id (0 when there is none).
    pub fn last_task_transition_id(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) FROM task_history", [], |row| row.get(0))?)
    }

    /// `job_id`'s tasks in `state` with a sequence in `sequences` (the `tasks_by_state` index serves it,
    /// so the cost follows the matching tasks, not the job's history).
    pub fn job_tasks_in_state(
        &self,
        job_id: U256,
        state: TaskState,
        sequences: std::ops::Range<u64>,
    ) -> Result<Vec<TaskId>> {
        if sequences.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT job_id, sequence FROM tasks WHERE state = ?1 AND job_id = ?2 AND sequence >= ?3 AND sequence < ?4
             ORDER BY sequence",
        )?;
        // Sequences above i64::MAX cannot be stored: the range is clamped to what can be.
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut rows =
            stmt.query(params![state.as_str(), u256_to_sql(job_id), clamp(sequences.start), clamp(sequences.end)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(TaskId { job_id: u256_col(row, TABLE, "job_id")?, sequence: u64_col(row, TABLE, "sequence")? });
        }
        Ok(out)
    }

    /// How many tasks are in each state (states with none are left out).
    pub fn task_counts(&self) -> Result<Vec<(TaskState, u64)>> {
        let mut stmt = self.conn.prepare_cached("SELECT state, count(*) AS n FROM tasks GROUP BY state")?;
        let mut rows = stmt.query([])?;
        let mut counts = Vec::new();
        while let Some(row) = rows.next()? {
            counts.push((enum_col(row, TABLE, "state", TaskState::parse)?, u64_col(row, TABLE, "n")?));
        }
        Ok(counts)
    }
}

impl WriteTx<'_> {
    /// Records a newly due task in state [`TaskState::Due`], with its first history entry.
    /// Returns `false` (and changes nothing) if the task is already known. Its job must be cached.
    pub fn insert_task(&self, task: TaskId, due: TaskDue) -> Result<bool> {
        if due.at_ms.is_none() && due.block.is_none() {
            return Err(StoreError::invalid(TABLE, "due_at_ms", "a task is due at a time, a block, or both"));
        }
        let now = now_ms();
        let (job, sequence) = (u256_to_sql(task.job_id), sequence_to_sql(task.sequence)?);
        let due_block = due.block.map(|b| u64_to_sql(TABLE, "due_block", b)).transpose()?;
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO tasks (job_id, sequence, state, due_at_ms, due_block, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, 'due', ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING",
            )?
            .execute(params![job, sequence, due.at_ms, due_block, now])?;
        if inserted == 0 {
            return Ok(false);
        }
        self.append_history(task, None, TaskState::Due, now, None)?;
        Ok(true)
    }

    /// Moves `task` to `to`, setting its response hash if given, and appends the change to its
    /// history. Returns the state it left. The pipeline decides which moves make sense; the store
    /// only keeps the record.
    pub fn transition_task(
        &self,
        task: TaskId,
        to: TaskState,
        response_hash: Option<B256>,
        detail: Option<&str>,
    ) -> Result<TaskState> {
        let current = self.task(task)?.ok_or_else(|| StoreError::NotFound { table: TABLE, key: task_key(task) })?;
        let now = now_ms();
        self.conn
            .prepare_cached(
                "UPDATE tasks SET state = ?3, response_hash = coalesce(?4, response_hash), updated_at_ms = ?5
                 WHERE job_id = ?1 AND sequence = ?2",
            )?
            .execute(params![
                u256_to_sql(task.job_id),
                sequence_to_sql(task.sequence)?,
                to.as_str(),
                response_hash.as_ref().map(B256::as_slice),
                now
            ])?;
        self.append_history(task, Some(current.state), to, now, detail)?;
        Ok(current.state)
    }

    /// Applies `ending` to `task` if it concerns the task's current state ([`TaskEnding::next`]),
    /// recording its reason. Returns the state it moved to (`None`: unknown task, or left as it was).
    pub fn end_task(&self, task: TaskId, ending: &TaskEnding) -> Result<Option<TaskState>> {
        let Some(current) = self.task(task)? else { return Ok(None) };
        let Some(to) = ending.next(current.state) else { return Ok(None) };
        self.transition_task(task, to, None, Some(&ending.detail()))?;
        Ok(Some(to))
    }

    /// Applies `ending` to every task of `job_id` with a sequence in `sequences` that it concerns; returns
    /// the tasks moved, with their new state.
    pub fn end_job_tasks(
        &self,
        job_id: U256,
        sequences: std::ops::Range<u64>,
        ending: &TaskEnding,
    ) -> Result<Vec<(TaskId, TaskState)>> {
        let mut moved = Vec::new();
        for state in TaskState::ALL.iter().filter(|state| ending.next(**state).is_some()) {
            for task in self.job_tasks_in_state(job_id, *state, sequences.clone())? {
                if let Some(to) = self.end_task(task, ending)? {
                    moved.push((task, to));
                }
            }
        }
        moved.sort_by_key(|(task, _)| task.sequence);
        Ok(moved)
    }

    /// Records what the chain did with `task` (state `to`, with `detail`), creating the task if this
    /// store never saw it; a performed task stays performed ([`TaskState::after_chain`]). Returns the
    /// state it moved to, if it moved.
    pub fn record_chain_outcome(
        &self,
        task: TaskId,
        to: TaskState,
        due_block: u64,
        detail: &str,
    ) -> Result<Option<TaskState>> {
        let current = match self.task(task)? {
            Some(current) => current.state,
            None => {
                self.insert_task(task, TaskDue { at_ms: None, block: Some(due_block) })?;
                TaskState::Due
            }
        };
        let Some(to) = current.after_chain(to) else { return Ok(None) };
        self.transition_task(task, to, None, Some(detail))?;
        Ok(Some(to))
    }

    fn append_history(
        &self,
        task: TaskId,
        from: Option<TaskState>,
        to: TaskState,
        at_ms: i64,
        detail: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO task_history (job_id, sequence, from_state, to_state, at_ms, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                u256_to_sql(task.job_id),
                sequence_to_sql(task.sequence)?,
                from.map(TaskState::as_str),
                to.as_str(),
                at_ms,
                detail
            ])?;
        Ok(())
    }
}

/// One `task_history` row as a transition.
fn transition(row: &rusqlite::Row<'_>) -> Result<TaskTransition> {
    let from: Option<String> = row.get("from_state")?;
    let from = from
        .map(|text| {
            TaskState::parse(&text)
                .ok_or_else(|| StoreError::invalid(HISTORY, "from_state", format!("unknown value {text:?}")))
        })
        .transpose()?;
    Ok(TaskTransition {
        from,
        to: enum_col(row, HISTORY, "to_state", TaskState::parse)?,
        at_ms: row.get("at_ms")?,
        detail: row.get("detail")?,
    })
}

#[cfg(test)]
mod tests;
