//! A job's status and a task's state: one definition each. The daemon's store keeps their names as
//! TEXT (its CHECK constraints list them), the control API as JSON strings, and keeperctl takes them
//! as flag values (`--status`, `--state`).

use crate::named_enum;

named_enum! {
    /// A job's lifecycle as the job manager reports it.
    pub enum JobStatus {
        Active => "active",
        Paused => "paused",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

named_enum! {
    /// Where a task is in a daemon's pipeline. The first five are on the way ([`TaskState::is_pending`]);
    /// every other one ends the task, with its reason in the history's detail. Only the chain can move
    /// an ended task again (a task missed here may still land through a batch already in flight).
    pub enum TaskState {
        /// Derived from its job's trigger; waiting to be executed.
        Due => "due",
        /// Executed at its reference block; the response hash is known.
        Executed => "executed",
        /// This keeper signed a batch containing it.
        Signed => "signed",
        /// (Aggregator) put in a batch proposal.
        Proposed => "proposed",
        /// (Aggregator) its batch was sent to the task manager.
        Submitted => "submitted",
        /// Performed on chain.
        Performed => "performed",
        /// Its target reverted, on chain or in the simulation before sending (the reason is in its history),
        /// or it was given up (execution error, reverted submission past retries).
        Failed => "failed",
        /// Skipped by the task manager on chain; the history names the `SkipReason`.
        Skipped => "skipped",
        /// Never performed: a later sequence of its job was due first, or the chain performed a later one.
        /// The history names that sequence.
        Missed => "missed",
        /// Its trigger log (event jobs), or its job's creation, left the chain in a reorg; due again if it
        /// comes back.
        Dropped => "dropped",
        /// (Aggregator) left out because its job's `maxFee` cannot pay for it at the current base fee
        /// (the history's detail says by how much); proposed once the base fee allows it again.
        Unprofitable => "unprofitable",
        /// (Aggregator) this daemon cannot execute it (e.g. a script job without the script runtime); the
        /// history says why.
        Unsupported => "unsupported",
        /// (Condition jobs) checked at a reference block: nothing to do. Kept off chain, never proposed:
        /// a later sequence supersedes it.
        NothingToDo => "nothing_to_do",
    }
}

impl TaskState {
    /// On the way to the chain: every such task must still reach a state that ends it.
    pub const fn is_pending(self) -> bool {
        matches!(self, Self::Due | Self::Executed | Self::Signed | Self::Proposed | Self::Submitted)
    }

    /// Waiting for a batch of this daemon, not in one that may still land (an aggregator's
    /// proposed and submitted tasks end with their batch).
    const fn is_waiting(self) -> bool {
        matches!(self, Self::Due | Self::Executed | Self::Signed)
    }

    /// The state after this daemon's own progress with the task (`to`: executed, signed, proposed,
    /// submitted): none once the chain performed it. The scheduler may record the perform just before
    /// the aggregator records a proposal made at an older reference block; the chain's word stands.
    pub fn after_progress(self, to: TaskState) -> Option<TaskState> {
        (self != Self::Performed).then_some(to)
    }

    /// The state after `outcome`'s state `to` is read from the chain: the chain decides, except that a
    /// performed task stays performed (a second batch carrying it is skipped as already performed).
    pub fn after_chain(self, to: TaskState) -> Option<TaskState> {
        (self != to && !(self == Self::Performed && to != Self::Performed)).then_some(to)
    }
}

/// Something that ends (or re-opens) a task apart from its own progress through the pipeline. Each is
/// a pure rule over the task's current state ([`TaskEnding::next`]) with the reason the history keeps
/// ([`TaskEnding::detail`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEnding {
    /// A later sequence of its interval or block job is due: a task still waiting is missed (one in a
    /// batch ends with that batch).
    Superseded { by: u64 },
    /// The chain performed or consumed sequence `by` of its job, a later one: the task manager would
    /// skip this one, wherever it is.
    Overtaken { by: u64 },
    /// Its job was cancelled or expired (`status`): a task still waiting is missed.
    JobClosed { status: JobStatus },
    /// (Event jobs) its trigger log, in block `block`, left the chain; `ancestor` is the reorg's common
    /// ancestor.
    LogRemoved { block: u64, ancestor: u64 },
    /// Its job's creation left the chain in a reorg whose common ancestor is `ancestor`: the job does not
    /// exist on the chain any more.
    JobRemoved { ancestor: u64 },
    /// Derived as due again (an event task's log, or its job's creation, is back on the chain after a
    /// reorg).
    DueAgain,
    /// Its batch will not land (`why`: closed without quorum, its reference block left the chain, its
    /// transaction given up). `due_again`: the task is still due and will be proposed again; otherwise it
    /// is missed.
    BatchAbandoned { why: String, due_again: bool },
}

impl TaskEnding {
    /// The state a task in `from` moves to, or `None` when this does not concern it.
    pub fn next(&self, from: TaskState) -> Option<TaskState> {
        use TaskState as S;
        match self {
            Self::Superseded { .. } => from.is_waiting().then_some(S::Missed),
            Self::Overtaken { .. } => from.is_pending().then_some(S::Missed),
            Self::JobClosed { .. } => from.is_waiting().then_some(S::Missed),
            Self::LogRemoved { .. } | Self::JobRemoved { .. } => {
                (from.is_pending() || from == S::Unprofitable).then_some(S::Dropped)
            }
            Self::DueAgain => (from == S::Dropped).then_some(S::Due),
            Self::BatchAbandoned { due_again, .. } => {
                matches!(from, S::Proposed | S::Submitted).then_some(if *due_again { S::Due } else { S::Missed })
            }
        }
    }

    /// The reason, for the task's history.
    pub fn detail(&self) -> String {
        match self {
            Self::Superseded { by } => {
                format!("missed: sequence {by} of the job was due before this one was performed")
            }
            Self::Overtaken { by } => format!("missed: sequence {by} of the job was performed on chain first"),
            Self::JobClosed { status } => format!("missed: the job is {status}"),
            Self::LogRemoved { block, ancestor } => {
                format!("dropped: its log (block {block}) left the chain in a reorg (common ancestor {ancestor})")
            }
            Self::JobRemoved { ancestor } => {
                format!("dropped: its job's creation left the chain in a reorg (common ancestor {ancestor})")
            }
            Self::DueAgain => "due again: its log or its job's creation is back on the chain".to_owned(),
            Self::BatchAbandoned { why, due_again: true } => format!("batch abandoned ({why}); due again"),
            Self::BatchAbandoned { why, due_again: false } => {
                format!("missed: batch abandoned ({why}) and the task is no longer due")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_are_the_json_strings_and_parse_back() {
        for state in TaskState::ALL {
            assert_eq!(serde_json::to_string(state).unwrap(), format!("\"{state}\""));
            assert_eq!(TaskState::parse(state.as_str()), Some(*state));
        }
        for status in JobStatus::ALL {
            assert_eq!(serde_json::to_string(status).unwrap(), format!("\"{status}\""));
            assert_eq!(JobStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(TaskState::parse("pending"), None);
        assert_eq!(JobStatus::parse("Active"), None);
        // JSON reads only the names, and a wrong one is refused naming what would have been right.
        assert_eq!(serde_json::from_str::<JobStatus>("\"paused\"").unwrap(), JobStatus::Paused);
        let error = serde_json::from_str::<JobStatus>("\"Paused\"").unwrap_err().to_string();
        assert!(error.contains("unknown variant `Paused`") && error.contains("`paused`"), "{error}");
        assert!(serde_json::from_str::<TaskState>("3").is_err());
    }

    #[test]
    fn a_later_due_sequence_misses_waiting_tasks_but_not_those_in_a_batch() {
        let ending = TaskEnding::Superseded { by: 7 };
        for state in [TaskState::Due, TaskState::Executed, TaskState::Signed] {
            assert_eq!(ending.next(state), Some(TaskState::Missed), "{state}");
        }
        for state in
            TaskState::ALL.iter().filter(|s| !matches!(s, TaskState::Due | TaskState::Executed | TaskState::Signed))
        {
            assert_eq!(ending.next(*state), None, "{state}");
        }
        assert!(ending.detail().contains("sequence 7"), "{}", ending.detail());
    }

    #[test]
    fn a_closed_job_misses_its_waiting_tasks() {
        let ending = TaskEnding::JobClosed { status: JobStatus::Cancelled };
        assert_eq!(ending.next(TaskState::Due), Some(TaskState::Missed));
        assert_eq!(ending.next(TaskState::Submitted), None, "its batch decides");
        assert_eq!(ending.detail(), "missed: the job is cancelled");
    }

    #[test]
    fn a_later_sequence_on_chain_misses_every_pending_task() {
        let ending = TaskEnding::Overtaken { by: 9 };
        for state in TaskState::ALL {
            let expected = state.is_pending().then_some(TaskState::Missed);
            assert_eq!(ending.next(*state), expected, "{state}");
        }
        assert!(ending.detail().contains("sequence 9") && ending.detail().starts_with("missed"));
    }

    #[test]
    fn a_removed_log_drops_its_task_and_its_return_makes_it_due_again() {
        let removed = TaskEnding::LogRemoved { block: 12, ancestor: 10 };
        assert_eq!(removed.next(TaskState::Proposed), Some(TaskState::Dropped));
        assert_eq!(removed.next(TaskState::Due), Some(TaskState::Dropped));
        assert_eq!(removed.next(TaskState::Performed), None);
        assert!(removed.detail().contains("block 12") && removed.detail().contains("ancestor 10"));
        assert_eq!(TaskEnding::DueAgain.next(TaskState::Dropped), Some(TaskState::Due));
        assert_eq!(TaskEnding::DueAgain.next(TaskState::Missed), None);
        assert_eq!(TaskEnding::DueAgain.next(TaskState::Due), None);
    }

    #[test]
    fn a_removed_job_creation_drops_its_pending_tasks_and_nothing_ended() {
        let removed = TaskEnding::JobRemoved { ancestor: 40 };
        for state in [TaskState::Due, TaskState::Signed, TaskState::Submitted, TaskState::Unprofitable] {
            assert_eq!(removed.next(state), Some(TaskState::Dropped), "{state}");
        }
        for state in [TaskState::Performed, TaskState::Missed, TaskState::Skipped, TaskState::Dropped] {
            assert_eq!(removed.next(state), None, "{state}");
        }
        assert!(removed.detail().starts_with("dropped") && removed.detail().contains("ancestor 40"));
    }

    #[test]
    fn an_abandoned_batch_sends_its_tasks_back_to_due_or_to_missed() {
        let again = TaskEnding::BatchAbandoned { why: "closed without quorum".into(), due_again: true };
        let missed = TaskEnding::BatchAbandoned { why: "closed without quorum".into(), due_again: false };
        for state in [TaskState::Proposed, TaskState::Submitted] {
            assert_eq!(again.next(state), Some(TaskState::Due));
            assert_eq!(missed.next(state), Some(TaskState::Missed));
        }
        // Performed through another batch meanwhile, or already ended: left alone.
        for state in [TaskState::Performed, TaskState::Due, TaskState::Missed, TaskState::Skipped] {
            assert_eq!(again.next(state), None, "{state}");
        }
        assert!(missed.detail().starts_with("missed") && missed.detail().contains("without quorum"));
    }

    #[test]
    fn the_chain_decides_except_that_performed_stays_performed() {
        assert_eq!(TaskState::Proposed.after_chain(TaskState::Performed), Some(TaskState::Performed));
        assert_eq!(TaskState::Missed.after_chain(TaskState::Performed), Some(TaskState::Performed));
        assert_eq!(TaskState::Proposed.after_chain(TaskState::Skipped), Some(TaskState::Skipped));
        assert_eq!(TaskState::Performed.after_chain(TaskState::Skipped), None);
        assert_eq!(TaskState::Performed.after_chain(TaskState::Performed), None);
    }

    #[test]
    fn a_performed_task_is_not_proposed_again_by_a_late_record() {
        assert_eq!(TaskState::Performed.after_progress(TaskState::Proposed), None);
        assert_eq!(TaskState::Due.after_progress(TaskState::Proposed), Some(TaskState::Proposed));
        // A skip moves no watermark: the task may be proposed again.
        assert_eq!(TaskState::Skipped.after_progress(TaskState::Proposed), Some(TaskState::Proposed));
    }

    #[test]
    fn every_state_is_pending_or_ends_the_task() {
        let pending: Vec<_> = TaskState::ALL.iter().filter(|s| s.is_pending()).collect();
        assert_eq!(pending.len(), 5);
        assert!(!TaskState::Missed.is_pending() && !TaskState::Dropped.is_pending());
    }
}
