//! The task queue the console shows: every known task by `(job, sequence)`, plus one ordered index
//! per state, so an update is O(log n), a state's count is O(1), and a screen of rows is read from
//! a key onwards without walking the rows above it (the list is virtualised: only visible rows are
//! touched, whatever the queue's size).

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::U256;
use keeper_shared::api::{TaskState, TaskView};

/// A task's identity: job id, then sequence (the API's order).
pub type TaskKey = (U256, u64);

/// Tasks kept by default; beyond it the oldest finished ones go first.
pub const DEFAULT_TASK_CAPACITY: usize = 100_000;

fn state_index(state: TaskState) -> usize {
    TaskState::ALL.iter().position(|s| *s == state).unwrap_or(0)
}

#[derive(Debug, Clone)]
pub struct TaskQueue {
    tasks: BTreeMap<TaskKey, TaskView>,
    by_state: Vec<BTreeSet<TaskKey>>,
    capacity: usize,
}

impl Default for TaskQueue {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_TASK_CAPACITY)
    }
}

impl TaskQueue {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            tasks: BTreeMap::new(),
            by_state: TaskState::ALL.iter().map(|_| BTreeSet::new()).collect(),
            capacity: capacity.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Tasks in `state`, or all of them.
    pub fn count(&self, state: Option<TaskState>) -> usize {
        match state {
            Some(state) => self.by_state[state_index(state)].len(),
            None => self.tasks.len(),
        }
    }

    pub fn get(&self, key: &TaskKey) -> Option<&TaskView> {
        self.tasks.get(key)
    }

    /// Inserts or replaces a task, keeping the state indexes in step. O(log n).
    pub fn upsert(&mut self, task: TaskView) {
        let key = (task.job_id, task.sequence);
        if let Some(old) = self.tasks.get(&key) {
            if old.state != task.state {
                self.by_state[state_index(old.state)].remove(&key);
            }
        }
        self.by_state[state_index(task.state)].insert(key);
        self.tasks.insert(key, task);
        self.evict();
    }

    /// Moves a known task to `state` (an event said so). Returns false for an unknown task.
    pub fn set_state(&mut self, key: TaskKey, state: TaskState, at_ms: i64) -> bool {
        let Some(task) = self.tasks.get_mut(&key) else { return false };
        if task.state != state {
            self.by_state[state_index(task.state)].remove(&key);
            self.by_state[state_index(state)].insert(key);
            task.state = state;
        }
        task.updated_at_ms = task.updated_at_ms.max(at_ms);
        true
    }

    /// Takes in a task read from the daemon unless the queue already holds a newer update of it
    /// (an event that arrived while the read was on its way).
    pub fn merge(&mut self, task: TaskView) {
        let newer = self.tasks.get(&(task.job_id, task.sequence)).is_some_and(|t| t.updated_at_ms > task.updated_at_ms);
        if !newer {
            self.upsert(task);
        }
    }

    pub fn remove(&mut self, key: &TaskKey) -> Option<TaskView> {
        let task = self.tasks.remove(key)?;
        self.by_state[state_index(task.state)].remove(key);
        Some(task)
    }

    /// A fresh listing of every task in `states`: upserts them, and forgets the tasks the queue
    /// still had in those states that the listing no longer holds (they moved on or are gone).
    pub fn replace_states(&mut self, states: &[TaskState], tasks: Vec<TaskView>) {
        let listed: BTreeSet<TaskKey> = tasks.iter().map(|t| (t.job_id, t.sequence)).collect();
        for state in states {
            let stale: Vec<TaskKey> =
                self.by_state[state_index(*state)].iter().filter(|k| !listed.contains(k)).copied().collect();
            for key in stale {
                self.remove(&key);
            }
        }
        for task in tasks {
            self.upsert(task);
        }
    }

    /// Drops the oldest finished tasks (then the oldest of any state) while above capacity.
    fn evict(&mut self) {
        while self.tasks.len() > self.capacity {
            let oldest_finished =
                // Ended tasks (every state but the pending ones) go first.
                TaskState::ALL
                    .iter()
                    .filter(|state| !state.is_pending())
                    .filter_map(|state| self.by_state[state_index(*state)].first().copied())
                    .min();
            let victim = oldest_finished.or_else(|| self.tasks.keys().next().copied());
            match victim {
                Some(key) => {
                    self.remove(&key);
                }
                None => break,
            }
        }
    }

    fn keys_from<'a>(&'a self, filter: Option<TaskState>, from: TaskKey) -> Box<dyn Iterator<Item = TaskKey> + 'a> {
        match filter {
            Some(state) => Box::new(self.by_state[state_index(state)].range(from..).copied()),
            None => Box::new(self.tasks.range(from..).map(|(k, _)| *k)),
        }
    }

    fn keys_before<'a>(
        &'a self,
        filter: Option<TaskState>,
        before: TaskKey,
    ) -> Box<dyn DoubleEndedIterator<Item = TaskKey> + 'a> {
        match filter {
            Some(state) => Box::new(self.by_state[state_index(state)].range(..before).copied()),
            None => Box::new(self.tasks.range(..before).map(|(k, _)| *k)),
        }
    }

    /// The first key at or after `key` in the filtered list, else the last one before it.
    pub fn resolve(&self, filter: Option<TaskState>, key: TaskKey) -> Option<TaskKey> {
        self.keys_from(filter, key).next().or_else(|| self.keys_before(filter, key).next_back())
    }

    pub fn first(&self, filter: Option<TaskState>) -> Option<TaskKey> {
        self.keys_from(filter, (U256::ZERO, 0)).next()
    }

    pub fn last(&self, filter: Option<TaskState>) -> Option<TaskKey> {
        self.keys_before(filter, (U256::MAX, u64::MAX)).next_back().or_else(|| {
            // `(MAX, MAX)` itself is excluded by the range above.
            let max = (U256::MAX, u64::MAX);
            self.keys_from(filter, max).next()
        })
    }

    /// The key `delta` rows away from `key` (clamped to the list's ends). O(log n + |delta|).
    pub fn step(&self, filter: Option<TaskState>, key: TaskKey, delta: isize) -> Option<TaskKey> {
        let start = self.resolve(filter, key)?;
        if delta >= 0 {
            let mut last = start;
            for k in self.keys_from(filter, start).skip(1).take(delta.unsigned_abs()) {
                last = k;
            }
            Some(last)
        } else {
            let mut last = start;
            for k in self.keys_before(filter, start).rev().take(delta.unsigned_abs()) {
                last = k;
            }
            Some(last)
        }
    }

    /// Up to `rows` tasks from `top` on (the rows a screen shows).
    pub fn window(&self, filter: Option<TaskState>, top: TaskKey, rows: usize) -> Vec<&TaskView> {
        self.keys_from(filter, top).take(rows).filter_map(|k| self.tasks.get(&k)).collect()
    }

    /// The newest `rows` tasks of one job, newest first (a job's history).
    pub fn of_job(&self, job: U256, rows: usize) -> Vec<&TaskView> {
        self.tasks.range((job, 0)..=(job, u64::MAX)).rev().take(rows).map(|(_, t)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(job: u64, sequence: u64, state: TaskState) -> TaskView {
        TaskView {
            job_id: U256::from(job),
            sequence,
            state,
            due_at_ms: Some(1_000),
            due_block: None,
            response_hash: None,
            created_at_ms: 1_000,
            updated_at_ms: 1_000,
        }
    }

    fn key(job: u64, sequence: u64) -> TaskKey {
        (U256::from(job), sequence)
    }

    #[test]
    fn state_indexes_follow_updates() {
        let mut queue = TaskQueue::default();
        queue.upsert(task(1, 0, TaskState::Due));
        queue.upsert(task(1, 1, TaskState::Due));
        queue.upsert(task(2, 0, TaskState::Signed));
        assert_eq!(queue.count(Some(TaskState::Due)), 2);
        assert!(queue.set_state(key(1, 0), TaskState::Performed, 2_000));
        assert_eq!(queue.count(Some(TaskState::Due)), 1);
        assert_eq!(queue.count(Some(TaskState::Performed)), 1);
        assert_eq!(queue.get(&key(1, 0)).map(|t| t.updated_at_ms), Some(2_000));
        assert!(!queue.set_state(key(9, 9), TaskState::Performed, 0));
        queue.upsert(task(2, 0, TaskState::Submitted));
        assert_eq!(queue.count(Some(TaskState::Signed)), 0);
        assert_eq!(queue.count(None), 3);
    }

    #[test]
    fn window_and_step_walk_the_filtered_order() {
        let mut queue = TaskQueue::default();
        for s in 0..10 {
            queue.upsert(task(1, s, if s % 2 == 0 { TaskState::Due } else { TaskState::Performed }));
        }
        let due = Some(TaskState::Due);
        let rows: Vec<u64> = queue.window(due, key(1, 3), 3).iter().map(|t| t.sequence).collect();
        assert_eq!(rows, vec![4, 6, 8]);
        assert_eq!(queue.step(due, key(1, 0), 2), Some(key(1, 4)));
        assert_eq!(queue.step(due, key(1, 4), -1), Some(key(1, 2)));
        assert_eq!(queue.step(due, key(1, 4), 100), Some(key(1, 8)));
        assert_eq!(queue.step(due, key(1, 4), -100), Some(key(1, 0)));
        assert_eq!(queue.first(None), Some(key(1, 0)));
        assert_eq!(queue.last(None), Some(key(1, 9)));
        // A key past the end resolves to the last one.
        assert_eq!(queue.resolve(due, key(5, 0)), Some(key(1, 8)));
    }

    #[test]
    fn capacity_evicts_finished_tasks_first() {
        let mut queue = TaskQueue::with_capacity(3);
        queue.upsert(task(1, 0, TaskState::Due));
        queue.upsert(task(1, 1, TaskState::Performed));
        queue.upsert(task(1, 2, TaskState::Due));
        queue.upsert(task(1, 3, TaskState::Due));
        assert_eq!(queue.len(), 3);
        assert!(queue.get(&key(1, 1)).is_none(), "the performed task goes first");
        queue.upsert(task(1, 4, TaskState::Due));
        assert!(queue.get(&key(1, 0)).is_none(), "then the oldest");
    }

    #[test]
    fn merge_keeps_the_newer_update() {
        let mut queue = TaskQueue::default();
        queue.upsert(task(1, 0, TaskState::Due));
        queue.set_state(key(1, 0), TaskState::Performed, 3_000);
        // A read taken before the event: its state is older and is not taken.
        queue.merge(task(1, 0, TaskState::Signed));
        assert_eq!(queue.get(&key(1, 0)).map(|t| t.state), Some(TaskState::Performed));
        let mut later = task(1, 0, TaskState::Failed);
        later.updated_at_ms = 4_000;
        queue.merge(later);
        assert_eq!(queue.get(&key(1, 0)).map(|t| t.state), Some(TaskState::Failed));
        queue.merge(task(1, 1, TaskState::Due));
        assert_eq!(queue.count(Some(TaskState::Due)), 1);
    }

    #[test]
    fn replace_states_forgets_tasks_that_moved_on() {
        let mut queue = TaskQueue::default();
        queue.upsert(task(1, 0, TaskState::Due));
        queue.upsert(task(1, 1, TaskState::Due));
        queue.upsert(task(1, 2, TaskState::Performed));
        queue.replace_states(&[TaskState::Due], vec![task(1, 1, TaskState::Due), task(1, 3, TaskState::Due)]);
        assert!(queue.get(&key(1, 0)).is_none());
        assert!(queue.get(&key(1, 2)).is_some(), "other states are kept");
        assert_eq!(queue.count(Some(TaskState::Due)), 2);
        let history: Vec<u64> = queue.of_job(U256::from(1), 10).iter().map(|t| t.sequence).collect();
        assert_eq!(history, vec![3, 2, 1]);
    }
}
