//! The job index: every job of the job manager as of the last processed block, built from the job
//! manager's and the task manager's logs (no per-job calls), and the pending tasks of event jobs.
//!
//! Every change is journaled by block ([`journal`]), so a reorg of depth `d` is undone from the last
//! `d` blocks' records; records older than the deepest reorg the scheduler undoes are dropped, so the
//! journal stays bounded however long the history.

mod journal;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use keeper_shared::batch::TaskId;
use keeper_shared::contracts::TaskManager;

use crate::jobs::schedule::{event_sequence, latest_due_sequence, matches_log};
use crate::jobs::{decode_job_log, JobEvent, JobSpec, OutcomeKind, ReferenceBlock, Trigger};
use crate::store::{JobRecord, JobStatus};
use journal::UndoJournal;

/// Why a log could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("job manager log in block {block:?}: {reason}")]
    JobLog { block: Option<u64>, reason: String },
    #[error("task manager log in block {block:?}: {reason}")]
    TaskLog { block: Option<u64>, reason: String },
    #[error("job {job_id}: cached spec does not decode: {reason}")]
    CachedSpec { job_id: U256, reason: String },
}

/// One job as the scheduler knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: U256,
    pub spec: Arc<JobSpec>,
    pub owner: Address,
    pub forwarder: Address,
    pub status: JobStatus,
    /// Escrow left, in wei.
    pub balance: U256,
    /// Every sequence below it is performed or skipped for good.
    pub next_sequence: u64,
    pub updated_at_block: u64,
    /// The block of the last task outcome of this job the index applied (not stored: after a restart
    /// `updated_at_block`, which is at or after it, stands in). A condition job's next task is checked
    /// only at a reference block at or after it (docs/protocol.md, "Condition jobs").
    pub last_outcome_block: u64,
}

impl Job {
    /// The store's record of this job.
    pub fn to_record(&self) -> Result<JobRecord, IndexError> {
        let spec = self.spec.encode().map_err(|e| IndexError::CachedSpec { job_id: self.id, reason: e.to_string() })?;
        Ok(JobRecord {
            job_id: self.id,
            spec,
            status: self.status,
            updated_at_block: self.updated_at_block,
            owner: self.owner,
            forwarder: self.forwarder,
            balance: self.balance,
            next_sequence: self.next_sequence,
        })
    }

    /// The job from the store's record.
    pub fn from_record(record: &JobRecord) -> Result<Self, IndexError> {
        let spec = JobSpec::decode(&record.spec)
            .map_err(|e| IndexError::CachedSpec { job_id: record.job_id, reason: e.to_string() })?;
        Ok(Self {
            id: record.job_id,
            spec: Arc::new(spec),
            owner: record.owner,
            forwarder: record.forwarder,
            status: record.status,
            balance: record.balance,
            next_sequence: record.next_sequence,
            updated_at_block: record.updated_at_block,
            last_outcome_block: record.updated_at_block,
        })
    }

    /// Whether the escrow can pay the most a task may cost at `gas_price` plus `premium` (the task
    /// manager skips an unfunded task, so proposing it would waste a leaf).
    pub fn is_funded(&self, gas_price: u128, premium: u128) -> bool {
        keeper_shared::job::is_funded(&self.spec, self.balance, gas_price, premium)
    }
}

/// A task due at a reference block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTask {
    pub task: TaskId,
    pub spec: Arc<JobSpec>,
}

/// The jobs, and the event tasks seen but not yet performed.
#[derive(Debug, Clone, Default)]
pub struct JobIndex {
    jobs: BTreeMap<U256, Job>,
    /// Sequences of event-triggered tasks at or above their job's watermark.
    event_tasks: BTreeMap<U256, BTreeSet<u64>>,
    /// Jobs changed since the last [`JobIndex::take_dirty`].
    dirty: BTreeSet<U256>,
    /// Jobs whose creation a reorg took away since the last [`JobIndex::take_removed`]: their store rows
    /// must go too, or the API and a restart would still show them.
    removed: BTreeSet<U256>,
    journal: UndoJournal,
}

impl JobIndex {
    /// An index of the cached jobs (after a restart). It cannot be rolled back until
    /// [`JobIndex::journal_from`] says at which block it is.
    pub fn from_jobs(jobs: impl IntoIterator<Item = Job>) -> Self {
        Self {
            jobs: jobs.into_iter().map(|job| (job.id, job)).collect(),
            journal: UndoJournal::unknown_past(),
            ..Self::default()
        }
    }

    /// The index is at the end of `block`: it can be rolled back to it and, as blocks are applied,
    /// to later ones.
    pub fn journal_from(&mut self, block: u64) {
        self.journal = UndoJournal::starting_at(block);
    }

    /// Rolls the index back to the end of block `ancestor`, from the journal. `false` (and nothing
    /// changed) when the journal does not reach that far back: the index must be rebuilt from logs.
    pub fn rollback_to(&mut self, ancestor: u64) -> bool {
        if !self.journal.reaches(ancestor) {
            return false;
        }
        for undo in self.journal.take_after(ancestor) {
            for (id, before) in undo.jobs {
                match before {
                    Some(job) => {
                        self.jobs.insert(id, job);
                        self.dirty.insert(id);
                    }
                    None => {
                        if self.jobs.remove(&id).is_some() {
                            self.removed.insert(id);
                        }
                    }
                }
            }
            for (id, before) in undo.event_tasks {
                match before {
                    Some(pending) => self.event_tasks.insert(id, pending),
                    None => self.event_tasks.remove(&id),
                };
            }
        }
        true
    }

    /// Drops the undo records of blocks before `block` (rolling back below `block - 1` becomes
    /// impossible), which bounds the journal by the reorg depth the caller undoes.
    pub fn forget_before(&mut self, block: u64) {
        self.journal.forget_before(block);
    }

    /// Blocks with undo records (for tests and the journal's bound).
    pub fn journaled_blocks(&self) -> usize {
        self.journal.blocks.len()
    }

    /// Records job `id`'s state and pending event tasks before block `block` first changes them.
    fn save(&mut self, block: u64, id: U256) {
        let undo = self.journal.block(block);
        if let std::collections::btree_map::Entry::Vacant(entry) = undo.jobs.entry(id) {
            entry.insert(self.jobs.get(&id).cloned());
        }
        if let std::collections::btree_map::Entry::Vacant(entry) = undo.event_tasks.entry(id) {
            entry.insert(self.event_tasks.get(&id).cloned());
        }
    }

    pub fn job(&self, id: U256) -> Option<&Job> {
        self.jobs.get(&id)
    }

    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values()
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The contracts whose logs can trigger an active event job.
    pub fn event_emitters(&self) -> Vec<Address> {
        let set: BTreeSet<Address> = self
            .jobs
            .values()
            .filter(|job| job.status == JobStatus::Active)
            .filter_map(|job| match &job.spec.trigger {
                Trigger::Event(filter) => Some(filter.emitter),
                _ => None,
            })
            .collect();
        set.into_iter().collect()
    }

    /// The jobs changed since the last call, to be written to the store.
    pub fn take_dirty(&mut self) -> Vec<Job> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty.into_iter().filter_map(|id| self.jobs.get(&id).cloned()).collect()
    }

    /// The jobs whose creation left the chain since the last call, to be marked gone in the store; one
    /// created again since (the same creation mined on the new branch) is not among them but dirty.
    pub fn take_removed(&mut self) -> Vec<U256> {
        let removed = std::mem::take(&mut self.removed);
        removed.into_iter().filter(|id| !self.jobs.contains_key(id)).collect()
    }

    /// Takes `fresh` (rebuilt from the chain's logs) as the index; the jobs this one has and `fresh`
    /// lacks left the chain ([`JobIndex::take_removed`]).
    pub fn replace_with(&mut self, mut fresh: JobIndex) {
        fresh.removed = std::mem::take(&mut self.removed);
        fresh.removed.extend(self.jobs.keys().filter(|id| !fresh.jobs.contains_key(id)));
        *self = fresh;
    }

    /// Applies a log of the job manager.
    pub fn apply_job_manager_log(&mut self, log: &Log) -> Result<(), IndexError> {
        let block = log.block_number.unwrap_or_default();
        let event = decode_job_log(&log.inner)
            .map_err(|e| IndexError::JobLog { block: log.block_number, reason: e.to_string() })?;
        let Some(event) = event else { return Ok(()) };
        let id = event.job_id();
        self.save(block, id);
        match event {
            JobEvent::Created { job_id, owner, forwarder, deposit, spec, .. } => {
                self.jobs.insert(
                    job_id,
                    Job {
                        id: job_id,
                        spec: Arc::new(spec),
                        owner,
                        forwarder,
                        status: JobStatus::Active,
                        balance: deposit,
                        next_sequence: 0,
                        updated_at_block: block,
                        last_outcome_block: block,
                    },
                );
            }
            JobEvent::Updated { job_id, spec, .. } => {
                if let Some(job) = self.jobs.get_mut(&job_id) {
                    job.spec = Arc::new(spec);
                }
            }
            JobEvent::Paused { job_id } => self.set_status(job_id, JobStatus::Paused),
            JobEvent::Resumed { job_id } => self.set_status(job_id, JobStatus::Active),
            JobEvent::Cancelled { job_id, .. } => {
                self.set_status(job_id, JobStatus::Cancelled);
                if let Some(job) = self.jobs.get_mut(&job_id) {
                    job.balance = U256::ZERO;
                }
                self.event_tasks.remove(&job_id);
            }
            JobEvent::ToppedUp { job_id, balance, .. } => {
                if let Some(job) = self.jobs.get_mut(&job_id) {
                    job.balance = balance;
                }
            }
        }
        self.touch(id, block);
        Ok(())
    }

    /// Applies a log of the task manager: a performed or consumed task moves its job's watermark,
    /// and a performed one pays its fee from the escrow.
    pub fn apply_task_manager_log(&mut self, log: &Log) -> Result<Option<TaskOutcome>, IndexError> {
        let Some(topic0) = log.topics().first().copied() else { return Ok(None) };
        let block = log.block_number.unwrap_or_default();
        let bad = |e: alloy::sol_types::Error| IndexError::TaskLog { block: log.block_number, reason: e.to_string() };
        let outcome = if topic0 == TaskManager::TaskPerformed::SIGNATURE_HASH {
            let e = TaskManager::TaskPerformed::decode_log_data(log.data()).map_err(bad)?;
            self.save(block, e.jobId);
            if let Some(job) = self.jobs.get_mut(&e.jobId) {
                job.balance = job.balance.saturating_sub(e.fee);
            }
            TaskOutcome {
                task: TaskId { job_id: e.jobId, sequence: e.sequence },
                digest: e.digest,
                kind: OutcomeKind::Performed { success: e.success, gas_used: e.gasUsed, fee_wei: e.fee },
            }
        } else if topic0 == TaskManager::TaskNotExecuted::SIGNATURE_HASH {
            let e = TaskManager::TaskNotExecuted::decode_log_data(log.data()).map_err(bad)?;
            self.save(block, e.jobId);
            TaskOutcome {
                task: TaskId { job_id: e.jobId, sequence: e.sequence },
                digest: e.digest,
                kind: OutcomeKind::NotExecuted,
            }
        } else if topic0 == TaskManager::TaskSkipped::SIGNATURE_HASH {
            let e = TaskManager::TaskSkipped::decode_log_data(log.data()).map_err(bad)?;
            self.save(block, e.jobId);
            // A skip moves no watermark, but it is the task's outcome on chain: a condition job's next
            // check may follow it.
            if let Some(job) = self.jobs.get_mut(&e.jobId) {
                job.last_outcome_block = job.last_outcome_block.max(block);
            }
            return Ok(Some(TaskOutcome {
                task: TaskId { job_id: e.jobId, sequence: e.sequence },
                digest: e.digest,
                kind: OutcomeKind::Skipped { reason: e.reason },
            }));
        } else {
            return Ok(None);
        };
        let task = outcome.task;
        if let Some(job) = self.jobs.get_mut(&task.job_id) {
            job.next_sequence = job.next_sequence.max(task.sequence.saturating_add(1));
            job.last_outcome_block = job.last_outcome_block.max(block);
        }
        if let Some(pending) = self.event_tasks.get_mut(&task.job_id) {
            pending.retain(|&sequence| sequence > task.sequence);
        }
        self.touch(task.job_id, block);
        Ok(Some(outcome))
    }

    /// Adds the task of every active event job this log triggers.
    pub fn apply_trigger_log(&mut self, log: &Log) {
        let (Some(block), Some(index)) = (log.block_number, log.log_index) else { return };
        let Ok(sequence) = event_sequence(block, index) else { return };
        let emitter = log.address();
        let topics = log.topics();
        let triggered: Vec<U256> = self
            .jobs
            .values()
            .filter(|job| job.status == JobStatus::Active && sequence >= job.next_sequence)
            .filter(|job| match &job.spec.trigger {
                Trigger::Event(filter) => block >= filter.start && matches_log(&job.spec.trigger, emitter, topics),
                _ => false,
            })
            .map(|job| job.id)
            .collect();
        for id in triggered {
            self.save(block, id);
            self.event_tasks.entry(id).or_default().insert(sequence);
        }
    }

    /// The tasks worth proposing at `reference`: for interval and block jobs the latest due sequence
    /// (earlier ones are skipped over, as the watermark allows), for event jobs every pending log in
    /// order; only of active, funded jobs, never below the watermark.
    pub fn due_tasks(&self, reference: &ReferenceBlock, gas_price: u128, premium: u128) -> Vec<DueTask> {
        let mut due = Vec::new();
        for job in self.jobs.values() {
            if job.status != JobStatus::Active || !job.is_funded(gas_price, premium) {
                continue;
            }
            match &job.spec.trigger {
                Trigger::Event(_) => {
                    let Some(pending) = self.event_tasks.get(&job.id) else { continue };
                    for &sequence in pending.range(job.next_sequence..) {
                        if crate::jobs::schedule::is_due(&job.spec, sequence, reference) {
                            due.push(DueTask {
                                task: TaskId { job_id: job.id, sequence },
                                spec: Arc::clone(&job.spec),
                            });
                        }
                    }
                }
                _ => {
                    if let Some(sequence) = latest_due_sequence(&job.spec, reference) {
                        if sequence >= job.next_sequence {
                            due.push(DueTask {
                                task: TaskId { job_id: job.id, sequence },
                                spec: Arc::clone(&job.spec),
                            });
                        }
                    }
                }
            }
        }
        due
    }

    /// Whether `task` is one this index would propose at `reference` (what a keeper checks before
    /// signing a leaf).
    pub fn is_due(&self, task: TaskId, reference: &ReferenceBlock) -> Option<Arc<JobSpec>> {
        let job = self.jobs.get(&task.job_id)?;
        if job.status != JobStatus::Active || task.sequence < job.next_sequence {
            return None;
        }
        crate::jobs::schedule::is_due(&job.spec, task.sequence, reference).then(|| Arc::clone(&job.spec))
    }

    fn set_status(&mut self, id: U256, status: JobStatus) {
        if let Some(job) = self.jobs.get_mut(&id) {
            job.status = status;
        }
    }

    fn touch(&mut self, id: U256, block: u64) {
        if let Some(job) = self.jobs.get_mut(&id) {
            job.updated_at_block = job.updated_at_block.max(block);
            self.dirty.insert(id);
        }
    }
}

/// What the task manager did with a task of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    pub task: TaskId,
    /// The batch.
    pub digest: B256,
    pub kind: OutcomeKind,
}

#[cfg(test)]
mod tests;
