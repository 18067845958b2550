use alloy::primitives::{Bytes, LogData};
use keeper_shared::contracts::JobManager;

use super::*;
use crate::jobs::{Action, EventFilter};

const JOB_MANAGER: Address = Address::repeat_byte(0x10);
const TASK_MANAGER: Address = Address::repeat_byte(0x20);
const EMITTER: Address = Address::repeat_byte(0x30);

fn log(address: Address, data: LogData, block: u64, index: u64) -> Log {
    Log {
        inner: alloy::primitives::Log { address, data },
        block_number: Some(block),
        log_index: Some(index),
        ..Log::default()
    }
}

fn spec(trigger: Trigger) -> JobSpec {
    JobSpec {
        trigger,
        action: Action::Call { target: Address::repeat_byte(0x40), data: Bytes::from_static(&[0xde, 0xad]) },
        gas_limit: 100_000,
        max_fee: 10u128.pow(16),
        expiry: None,
    }
}

fn created(id: u64, spec: &JobSpec, deposit: u64, block: u64) -> Log {
    let event = JobManager::JobCreated {
        jobId: U256::from(id),
        owner: Address::repeat_byte(1),
        forwarder: Address::repeat_byte(2),
        specHash: spec.hash().unwrap(),
        deposit: U256::from(deposit),
        spec: spec.to_job_manager().unwrap(),
    };
    log(JOB_MANAGER, event.encode_log_data(), block, 0)
}

fn reference(number: u64, timestamp: u64) -> ReferenceBlock {
    ReferenceBlock { number, hash: B256::repeat_byte(number as u8), timestamp }
}

fn performed(id: u64, sequence: u64, fee: u64, block: u64) -> Log {
    let event = TaskManager::TaskPerformed {
        jobId: U256::from(id),
        sequence,
        digest: B256::repeat_byte(9),
        success: true,
        gasUsed: U256::from(30_000),
        fee: U256::from(fee),
    };
    log(TASK_MANAGER, event.encode_log_data(), block, 1)
}

#[test]
fn an_interval_job_is_due_at_its_latest_sequence_above_the_watermark() {
    let mut index = JobIndex::default();
    index
        .apply_job_manager_log(&created(1, &spec(Trigger::Interval { start: 1000, period: 60 }), 10u64.pow(18), 5))
        .unwrap();
    assert!(index.due_tasks(&reference(6, 999), 1, 0).is_empty(), "not yet started");
    let due = index.due_tasks(&reference(7, 1000 + 130), 1, 0);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].task, TaskId { job_id: U256::from(1), sequence: 2 });

    let outcome = index.apply_task_manager_log(&performed(1, 2, 1000, 8)).unwrap().unwrap();
    assert!(matches!(outcome.kind, OutcomeKind::Performed { success: true, .. }));
    let job = index.job(U256::from(1)).unwrap();
    assert_eq!((job.next_sequence, job.balance), (3, U256::from(10u64.pow(18) - 1000)));
    assert!(index.due_tasks(&reference(9, 1000 + 170), 1, 0).is_empty(), "sequence 2 is done");
    assert_eq!(index.due_tasks(&reference(10, 1000 + 180), 1, 0)[0].task.sequence, 3);
    assert_eq!(index.take_dirty().len(), 1);
    assert!(index.take_dirty().is_empty());
}

#[test]
fn paused_cancelled_and_unfunded_jobs_are_not_due() {
    let mut index = JobIndex::default();
    let block_spec = spec(Trigger::Block { start: 0, period: 2 });
    index.apply_job_manager_log(&created(1, &block_spec, 10u64.pow(18), 1)).unwrap();
    index.apply_job_manager_log(&created(2, &block_spec, 1, 1)).unwrap();
    let at = reference(4, 100);
    let due: Vec<_> = index.due_tasks(&at, 1_000_000_000, 0).into_iter().map(|d| d.task.job_id).collect();
    assert_eq!(due, vec![U256::from(1)], "job 2 cannot pay 100k gas at 1 gwei");

    let paused = log(JOB_MANAGER, JobManager::JobPaused { jobId: U256::from(1) }.encode_log_data(), 5, 0);
    index.apply_job_manager_log(&paused).unwrap();
    assert!(index.due_tasks(&at, 1, 0).iter().all(|d| d.task.job_id != U256::from(1)));
    assert!(index.is_due(TaskId { job_id: U256::from(1), sequence: 2 }, &at).is_none());
    let resumed = log(JOB_MANAGER, JobManager::JobResumed { jobId: U256::from(1) }.encode_log_data(), 6, 0);
    index.apply_job_manager_log(&resumed).unwrap();
    assert!(index.is_due(TaskId { job_id: U256::from(1), sequence: 2 }, &at).is_some());
    assert!(index.is_due(TaskId { job_id: U256::from(1), sequence: 3 }, &at).is_none(), "block 6 is after 4");

    let cancelled = JobManager::JobCancelled {
        jobId: U256::from(1),
        owner: Address::repeat_byte(1),
        refund: U256::from(10u64.pow(18)),
    };
    index.apply_job_manager_log(&log(JOB_MANAGER, cancelled.encode_log_data(), 7, 0)).unwrap();
    assert!(index.due_tasks(&at, 1, 0).is_empty());
    assert_eq!(index.job(U256::from(1)).unwrap().balance, U256::ZERO);
}

#[test]
fn event_jobs_get_one_task_per_matching_log_in_order() {
    let mut index = JobIndex::default();
    let topic0 = B256::repeat_byte(0xaa);
    let filter = EventFilter { start: 3, emitter: EMITTER, topic0, topics: [Some(B256::repeat_byte(1)), None, None] };
    index.apply_job_manager_log(&created(7, &spec(Trigger::Event(filter)), 10u64.pow(18), 2)).unwrap();
    assert_eq!(index.event_emitters(), vec![EMITTER]);

    let matching =
        |block, i| log(EMITTER, LogData::new_unchecked(vec![topic0, B256::repeat_byte(1)], Bytes::new()), block, i);
    index.apply_trigger_log(&matching(2, 0)); // before start
    index.apply_trigger_log(&matching(4, 3));
    index.apply_trigger_log(&matching(5, 0));
    index.apply_trigger_log(&log(
        EMITTER,
        LogData::new_unchecked(vec![topic0, B256::repeat_byte(2)], Bytes::new()),
        5,
        1,
    ));
    index.apply_trigger_log(&log(
        Address::repeat_byte(0x31),
        LogData::new_unchecked(vec![topic0, B256::repeat_byte(1)], Bytes::new()),
        5,
        2,
    ));

    let sequences: Vec<u64> = index.due_tasks(&reference(5, 0), 1, 0).iter().map(|d| d.task.sequence).collect();
    assert_eq!(sequences, vec![(4 << 24) | 3, 5 << 24]);
    let only_first: Vec<u64> = index.due_tasks(&reference(4, 0), 1, 0).iter().map(|d| d.task.sequence).collect();
    assert_eq!(only_first, vec![(4 << 24) | 3], "a log after the reference block is not due yet");

    index.apply_task_manager_log(&performed(7, (4 << 24) | 3, 1, 6)).unwrap();
    let sequences: Vec<u64> = index.due_tasks(&reference(6, 0), 1, 0).iter().map(|d| d.task.sequence).collect();
    assert_eq!(sequences, vec![5 << 24]);
}

#[test]
fn the_store_record_round_trips() {
    let mut index = JobIndex::default();
    index.apply_job_manager_log(&created(3, &spec(Trigger::Interval { start: 1, period: 2 }), 77, 9)).unwrap();
    let job = index.job(U256::from(3)).unwrap().clone();
    assert_eq!(Job::from_record(&job.to_record().unwrap()).unwrap(), job);
}

/// A history touching every kind of change: creations, an update, pause and resume, a cancel, task
/// outcomes (a skip too) and event triggers, over blocks 2..=12.
fn history() -> Vec<Log> {
    let topic0 = B256::repeat_byte(0xaa);
    let filter = EventFilter { start: 0, emitter: EMITTER, topic0, topics: [None, None, None] };
    let trigger = |block, i| log(EMITTER, LogData::new_unchecked(vec![topic0], Bytes::new()), block, i);
    let interval = spec(Trigger::Interval { start: 1, period: 2 });
    let slower = spec(Trigger::Interval { start: 1, period: 4 });
    let updated = JobManager::JobUpdated {
        jobId: U256::from(1),
        specHash: slower.hash().unwrap(),
        spec: slower.to_job_manager().unwrap(),
    };
    let skipped = TaskManager::TaskSkipped { jobId: U256::from(2), sequence: 9, digest: B256::ZERO, reason: 4 };
    vec![
        created(1, &interval, 10u64.pow(18), 2),
        created(2, &spec(Trigger::Event(filter)), 10u64.pow(18), 3),
        trigger(4, 0),
        performed(1, 1, 100, 5),
        log(JOB_MANAGER, updated.encode_log_data(), 6, 0),
        trigger(6, 1),
        performed(2, 4 << 24, 100, 7),
        log(JOB_MANAGER, JobManager::JobPaused { jobId: U256::from(1) }.encode_log_data(), 8, 0),
        log(TASK_MANAGER, skipped.encode_log_data(), 9, 0),
        created(3, &interval, 5, 9),
        log(JOB_MANAGER, JobManager::JobResumed { jobId: U256::from(1) }.encode_log_data(), 10, 0),
        trigger(11, 0),
        log(
            JOB_MANAGER,
            JobManager::JobCancelled { jobId: U256::from(2), owner: Address::repeat_byte(1), refund: U256::from(1) }
                .encode_log_data(),
            12,
            0,
        ),
    ]
}

fn apply_all(index: &mut JobIndex, logs: &[Log]) {
    for log in logs {
        match log.address() {
            JOB_MANAGER => index.apply_job_manager_log(log).map(|_| ()).unwrap(),
            TASK_MANAGER => index.apply_task_manager_log(log).map(|_| ()).unwrap(),
            _ => {}
        }
        index.apply_trigger_log(log);
    }
}

fn state(index: &JobIndex) -> (Vec<Job>, BTreeMap<U256, BTreeSet<u64>>) {
    (index.jobs().cloned().collect(), index.event_tasks.clone())
}

#[test]
fn a_rollback_leaves_the_index_a_sync_up_to_the_ancestor_builds() {
    let logs = history();
    for ancestor in 0..=12 {
        let mut rolled = JobIndex::default();
        apply_all(&mut rolled, &logs);
        rolled.take_dirty();
        assert!(rolled.rollback_to(ancestor), "the journal reaches block {ancestor}");
        let mut fresh = JobIndex::default();
        let upto: Vec<Log> = logs.iter().filter(|l| l.block_number.unwrap() <= ancestor).cloned().collect();
        apply_all(&mut fresh, &upto);
        assert_eq!(state(&rolled), state(&fresh), "rolled back to block {ancestor}");
        // Every job the rollback changed back is written to the store again.
        let dirty: BTreeSet<U256> = rolled.take_dirty().iter().map(|job| job.id).collect();
        let changed: BTreeSet<U256> = logs
            .iter()
            .filter(|l| l.block_number.unwrap() > ancestor && l.address() != EMITTER)
            .filter_map(|l| l.topics().get(1).map(|t| U256::from_be_bytes(t.0)))
            .filter(|id| fresh.job(*id).is_some())
            .collect();
        assert!(changed.is_subset(&dirty), "rolled back to {ancestor}: {changed:?} not all in {dirty:?}");
    }
}

/// A job whose creation a rollback (or a rebuild) undoes is reported once, for the store to mark gone; one
/// created again before the store is written is not (it is written instead).
#[test]
fn jobs_whose_creation_left_the_chain_are_reported_for_the_store() {
    let logs = history();
    let ids = |index: &JobIndex| index.jobs().map(|job| job.id).collect::<BTreeSet<U256>>();
    for ancestor in 0..=12 {
        let mut rolled = JobIndex::default();
        apply_all(&mut rolled, &logs);
        let before = ids(&rolled);
        assert!(rolled.take_removed().is_empty(), "nothing removed before a reorg");
        assert!(rolled.rollback_to(ancestor));
        let gone: BTreeSet<U256> = before.difference(&ids(&rolled)).copied().collect();
        assert_eq!(rolled.take_removed().into_iter().collect::<BTreeSet<_>>(), gone, "ancestor {ancestor}");
        assert!(rolled.take_removed().is_empty(), "reported once");

        // A rebuild from the logs up to the ancestor reports the same jobs.
        let mut rebuilt = JobIndex::default();
        apply_all(&mut rebuilt, &logs);
        let mut fresh = JobIndex::default();
        let upto: Vec<Log> = logs.iter().filter(|l| l.block_number.unwrap() <= ancestor).cloned().collect();
        apply_all(&mut fresh, &upto);
        rebuilt.replace_with(fresh);
        assert_eq!(rebuilt.take_removed().into_iter().collect::<BTreeSet<_>>(), gone, "rebuilt at {ancestor}");
    }
    // Job 3's creation (block 9) is mined again on the new branch before the store is written.
    let mut index = JobIndex::default();
    apply_all(&mut index, &logs);
    assert!(index.rollback_to(8));
    index.apply_job_manager_log(&created(3, &spec(Trigger::Interval { start: 1, period: 2 }), 5, 10)).unwrap();
    assert!(!index.take_removed().contains(&U256::from(3)));
    assert!(index.take_dirty().iter().any(|job| job.id == U256::from(3)));
}

#[test]
fn the_journal_is_bounded_and_an_index_without_history_cannot_roll_back() {
    let logs = history();
    let mut index = JobIndex::default();
    apply_all(&mut index, &logs);
    index.forget_before(9);
    assert!(index.journaled_blocks() <= 4, "blocks 9..=12 only");
    let before = state(&index);
    assert!(!index.rollback_to(7), "block 8's records are gone");
    assert_eq!(state(&index), before, "a refused rollback changes nothing");
    assert!(index.rollback_to(8));

    let mut loaded = JobIndex::from_jobs(index.jobs().cloned().collect::<Vec<_>>());
    assert!(!loaded.rollback_to(8), "an index loaded from the store knows no history");
    loaded.journal_from(8);
    apply_all(&mut loaded, &logs[9..]);
    assert!(loaded.rollback_to(8));
    assert!(!loaded.rollback_to(7));
}
