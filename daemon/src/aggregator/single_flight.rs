//! The single-flight rule of condition jobs (ChainlinkUpkeep, GelatoResolver, Script:
//! [`crate::jobs::Action::is_condition`]), on the aggregator's side: such a job has at most one task
//! proposed or submitted, and its next task is checked only at a reference block at or after the block
//! where the previous one's outcome landed (performed, failed, skipped) or its transaction settled. A
//! check that finds nothing to do is never proposed (a later sequence supersedes it) and not repeated
//! for that sequence. Without the rule, sequence n+1 was checked while n was in flight, both saw the
//! same work, and n+1's perform reverted at the target ("not needed", "stale performData").
//!
//! Keepers apply the same rule to what they sign (`keeper::role`), so an aggregator that breaks it
//! gets its leaf disputed.

use std::collections::{BTreeSet, HashMap, HashSet};

use alloy::primitives::U256;
use keeper_shared::batch::TaskId;

use crate::jobs::{ReferenceBlock, Trigger};
use crate::scheduler::{DueTask, JobIndex};

/// What the aggregator remembers per condition job.
#[derive(Debug, Default)]
pub struct ConditionGate {
    /// The first reference block at which a job's next check may happen: the block its last submitted
    /// task's transaction settled in.
    not_before: HashMap<U256, u64>,
    /// Sequences checked at some reference block with nothing to do, per job (above its watermark).
    nothing_to_do: HashMap<U256, BTreeSet<u64>>,
}

impl ConditionGate {
    /// Whether `due` may be checked at `reference`, given the tasks in flight (proposed or submitted)
    /// and the job as the index knows it. Non-condition jobs always may.
    pub fn allows(
        &self,
        due: &DueTask,
        busy_jobs: &HashSet<U256>,
        index: &JobIndex,
        reference: &ReferenceBlock,
    ) -> bool {
        if !due.spec.action.is_condition() {
            return true;
        }
        let job_id = due.task.job_id;
        if busy_jobs.contains(&job_id) {
            return false;
        }
        let settled = self.not_before.get(&job_id).copied().unwrap_or(0);
        let landed = index.job(job_id).map_or(0, |job| job.last_outcome_block);
        if reference.number < settled.max(landed) {
            return false;
        }
        !self.nothing_to_do.get(&job_id).is_some_and(|checked| checked.contains(&due.task.sequence))
    }

    /// A submitted task's transaction settled (mined, reverted or given up) at `block`.
    pub fn settled(&mut self, task: TaskId, block: u64) {
        let entry = self.not_before.entry(task.job_id).or_default();
        *entry = (*entry).max(block);
    }

    /// `task` was checked and there was nothing to do: not proposed, not checked again.
    pub fn nothing_to_do(&mut self, task: TaskId) {
        self.nothing_to_do.entry(task.job_id).or_default().insert(task.sequence);
    }

    /// Forgets what the chain has made moot: sequences below each job's watermark, and for interval
    /// and block jobs (one latest due sequence at a time) all but the highest.
    pub fn prune(&mut self, index: &JobIndex) {
        self.nothing_to_do.retain(|job_id, checked| {
            let Some(job) = index.job(*job_id) else { return false };
            checked.retain(|&sequence| sequence >= job.next_sequence);
            if !matches!(job.spec.trigger, Trigger::Event(_)) {
                if let Some(&last) = checked.iter().next_back() {
                    checked.retain(|&sequence| sequence == last);
                }
            }
            !checked.is_empty()
        });
        self.not_before.retain(|job_id, _| index.job(*job_id).is_some());
    }
}

/// The jobs with a task in flight.
pub fn busy_jobs<'a>(in_flight: impl IntoIterator<Item = &'a TaskId>) -> HashSet<U256> {
    in_flight.into_iter().map(|task| task.job_id).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use alloy::primitives::{Address, Bytes, B256};

    use super::*;
    use crate::jobs::{Action, JobSpec};
    use crate::scheduler::Job;
    use crate::store::JobStatus;

    fn spec(action: Action) -> JobSpec {
        JobSpec {
            trigger: Trigger::Block { start: 0, period: 1 },
            action,
            gas_limit: 100_000,
            max_fee: 10u128.pow(16),
            expiry: None,
        }
    }

    fn upkeep() -> JobSpec {
        spec(Action::ChainlinkUpkeep { target: Address::repeat_byte(0x40), check_data: Bytes::new() })
    }

    fn call() -> JobSpec {
        spec(Action::Call { target: Address::repeat_byte(0x40), data: Bytes::from_static(&[1]) })
    }

    fn job(id: u64, spec: &JobSpec, next_sequence: u64, last_outcome_block: u64) -> Job {
        Job {
            id: U256::from(id),
            spec: Arc::new(spec.clone()),
            owner: Address::repeat_byte(1),
            forwarder: Address::repeat_byte(2),
            status: JobStatus::Active,
            balance: U256::from(10u128.pow(18)),
            next_sequence,
            updated_at_block: 1,
            last_outcome_block,
        }
    }

    fn due(id: u64, sequence: u64, spec: &JobSpec) -> DueTask {
        DueTask { task: TaskId { job_id: U256::from(id), sequence }, spec: Arc::new(spec.clone()) }
    }

    fn at(number: u64) -> ReferenceBlock {
        ReferenceBlock { number, hash: B256::repeat_byte(number as u8), timestamp: number }
    }

    #[test]
    fn a_condition_job_with_a_task_in_flight_is_not_checked_again() {
        let index = JobIndex::from_jobs([job(1, &upkeep(), 471, 10), job(2, &call(), 5, 10)]);
        let gate = ConditionGate::default();
        let in_flight =
            [TaskId { job_id: U256::from(1), sequence: 471 }, TaskId { job_id: U256::from(2), sequence: 5 }];
        let busy = busy_jobs(&in_flight);
        // Sequence 472 of the upkeep while 471 is in flight: no (checked again, it would see the same
        // work and sign it twice).
        assert!(!gate.allows(&due(1, 472, &upkeep()), &busy, &index, &at(20)));
        // A call job's next task does not depend on the previous one's outcome.
        assert!(gate.allows(&due(2, 6, &call()), &busy, &index, &at(20)));
        // Nothing in flight: yes.
        assert!(gate.allows(&due(1, 472, &upkeep()), &HashSet::new(), &index, &at(20)));
    }

    #[test]
    fn the_next_check_waits_for_the_reference_block_of_the_previous_outcome() {
        // The previous task landed in block 30 (by the index) or its transaction settled in block 32.
        let index = JobIndex::from_jobs([job(1, &upkeep(), 472, 30)]);
        let mut gate = ConditionGate::default();
        let none = HashSet::new();
        assert!(!gate.allows(&due(1, 472, &upkeep()), &none, &index, &at(29)), "checked before it landed");
        assert!(gate.allows(&due(1, 472, &upkeep()), &none, &index, &at(30)));
        gate.settled(TaskId { job_id: U256::from(1), sequence: 471 }, 32);
        assert!(!gate.allows(&due(1, 472, &upkeep()), &none, &index, &at(31)));
        assert!(gate.allows(&due(1, 472, &upkeep()), &none, &index, &at(32)));
        gate.settled(TaskId { job_id: U256::from(1), sequence: 470 }, 12);
        assert!(!gate.allows(&due(1, 472, &upkeep()), &none, &index, &at(31)), "an older settlement never lowers it");
    }

    #[test]
    fn nothing_to_do_is_not_checked_again_and_is_forgotten_below_the_watermark() {
        let mut index = JobIndex::from_jobs([job(1, &upkeep(), 5, 1)]);
        let mut gate = ConditionGate::default();
        let none = HashSet::new();
        gate.nothing_to_do(TaskId { job_id: U256::from(1), sequence: 5 });
        assert!(!gate.allows(&due(1, 5, &upkeep()), &none, &index, &at(9)), "sequence 5 said nothing to do");
        assert!(gate.allows(&due(1, 6, &upkeep()), &none, &index, &at(9)), "the next sequence is checked");
        gate.nothing_to_do(TaskId { job_id: U256::from(1), sequence: 6 });
        gate.prune(&index);
        assert_eq!(gate.nothing_to_do[&U256::from(1)], BTreeSet::from([6]), "a block job keeps only the latest");
        index = JobIndex::from_jobs([job(1, &upkeep(), 7, 1)]);
        gate.prune(&index);
        assert!(gate.nothing_to_do.is_empty(), "below the watermark: forgotten");
    }
}
