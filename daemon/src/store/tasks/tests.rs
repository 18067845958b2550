use super::*;
use crate::store::tests::job;
use crate::store::Store;

fn id(job: u64, sequence: u64) -> TaskId {
    TaskId { job_id: U256::from(job), sequence }
}

fn store_with_jobs(jobs: &[u64]) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    store
        .write(|tx| {
            for &j in jobs {
                tx.upsert_job(&job(j))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    store
}

#[test]
fn a_task_keeps_the_history_of_its_states() {
    let mut store = store_with_jobs(&[1]);
    let task = id(1, 7);
    let response = B256::repeat_byte(0xab);
    store
        .write(|tx| {
            assert!(tx.insert_task(task, TaskDue { at_ms: Some(60_000), block: Some(12) })?);
            assert!(!tx.insert_task(task, TaskDue { at_ms: Some(1), block: None })?, "already known");
            assert_eq!(tx.transition_task(task, TaskState::Executed, Some(response), Some("ok"))?, TaskState::Due);
            assert_eq!(tx.transition_task(task, TaskState::Signed, None, Some("batch 0x01"))?, TaskState::Executed);
            Ok::<_, StoreError>(())
        })
        .unwrap();

    let record = store.read(|r| r.task(task)).unwrap().unwrap();
    assert_eq!(record.state, TaskState::Signed);
    assert_eq!(record.response_hash, Some(response), "a transition without a hash keeps the one set");
    assert_eq!(record.due, TaskDue { at_ms: Some(60_000), block: Some(12) }, "the second insert changed nothing");

    let history = store.read(|r| r.task_history(task)).unwrap();
    let steps: Vec<_> = history.iter().map(|t| (t.from, t.to, t.detail.as_deref())).collect();
    assert_eq!(
        steps,
        vec![
            (None, TaskState::Due, None),
            (Some(TaskState::Due), TaskState::Executed, Some("ok")),
            (Some(TaskState::Executed), TaskState::Signed, Some("batch 0x01")),
        ]
    );
    assert!(history.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert!(store.read(|r| r.task_history(id(1, 8))).unwrap().is_empty());
}

#[test]
fn transitions_of_unknown_tasks_and_dueless_tasks_are_refused() {
    let mut store = store_with_jobs(&[1]);
    let missing = store.write(|tx| tx.transition_task(id(1, 1), TaskState::Executed, None, None));
    assert!(matches!(missing, Err(StoreError::NotFound { table: "tasks", .. })), "{missing:?}");
    let dueless = store.write(|tx| tx.insert_task(id(1, 1), TaskDue::default()));
    assert!(matches!(dueless, Err(StoreError::InvalidValue { .. })), "{dueless:?}");
}

#[test]
fn tasks_by_state_page_by_key() {
    let mut store = store_with_jobs(&[1, 2, 300]);
    store
        .write(|tx| {
            for job in [1u64, 2, 300] {
                for sequence in 0..5 {
                    tx.insert_task(id(job, sequence), TaskDue { at_ms: None, block: Some(sequence) })?;
                    if sequence % 2 == 1 {
                        tx.transition_task(id(job, sequence), TaskState::Executed, None, None)?;
                    }
                }
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.read(|r| r.tasks_in_state(TaskState::Due, after, 4)).unwrap();
        assert!(page.tasks.len() <= 4);
        seen.extend(page.tasks.iter().map(|t| t.task));
        // A task leaving the state between pages does not shift the next page (keyset, not OFFSET).
        if let Some(first) = page.tasks.first() {
            store.write(|tx| tx.transition_task(first.task, TaskState::Executed, None, None)).unwrap();
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> =
        [1u64, 2, 300].iter().flat_map(|&job| [0u64, 2, 4].into_iter().map(move |s| id(job, s))).collect();
    assert_eq!(seen, expected, "every due task exactly once, in (job id, sequence) order");

    let counts = store.read(|r| r.task_counts()).unwrap();
    let due = counts.iter().find(|(s, _)| *s == TaskState::Due).map(|(_, n)| *n);
    let executed = counts.iter().find(|(s, _)| *s == TaskState::Executed).map(|(_, n)| *n);
    assert_eq!(due.unwrap_or(0) + executed.unwrap_or(0), 15);

    let of_job = store.read(|r| r.tasks_of_job(U256::from(2), None, 3)).unwrap();
    assert_eq!(of_job.tasks.iter().map(|t| t.task.sequence).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(of_job.next, Some(id(2, 2)));
    let rest = store.read(|r| r.tasks_of_job(U256::from(2), Some(2), 3)).unwrap();
    assert_eq!(rest.tasks.iter().map(|t| t.task.sequence).collect::<Vec<_>>(), vec![3, 4]);
    assert_eq!(rest.next, None);
}

#[test]
fn filtered_listing_pages_through_any_mix_of_state_and_job() {
    let mut store = store_with_jobs(&[1, 2, 3]);
    store
        .write(|tx| {
            for j in 1..=3 {
                for s in 0..4 {
                    tx.insert_task(id(j, s), TaskDue { at_ms: Some(1), block: None })?;
                    if s % 2 == 1 {
                        tx.transition_task(id(j, s), TaskState::Performed, None, None)?;
                    }
                }
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    // Pages of 2 until `next` is None, collecting (job, sequence).
    let mut collect = |state, job: Option<u64>| {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = store.read(|r| r.tasks_filtered(state, job.map(U256::from), after, 2)).unwrap();
            out.extend(page.tasks.iter().map(|t| (t.task.job_id.to::<u64>(), t.task.sequence)));
            match page.next {
                Some(next) => after = Some(next),
                None => break out,
            }
        }
    };
    assert_eq!(collect(None, None).len(), 12);
    assert_eq!(collect(Some(TaskState::Performed), None), vec![(1, 1), (1, 3), (2, 1), (2, 3), (3, 1), (3, 3)]);
    assert_eq!(collect(None, Some(2)), vec![(2, 0), (2, 1), (2, 2), (2, 3)]);
    assert_eq!(collect(Some(TaskState::Due), Some(3)), vec![(3, 0), (3, 2)]);
    // A cursor from another job: before it starts at the job's first task, after it is empty.
    let page = store.read(|r| r.tasks_filtered(None, Some(U256::from(2)), Some(id(1, 3)), 10)).unwrap();
    assert_eq!(page.tasks.len(), 4);
    let page = store.read(|r| r.tasks_filtered(None, Some(U256::from(2)), Some(id(3, 0)), 10)).unwrap();
    assert!(page.tasks.is_empty() && page.next.is_none());
}

#[test]
fn a_jobs_failures_are_counted_with_the_latest_run_and_reason() {
    let mut store = store_with_jobs(&[1, 2]);
    let states =
        [TaskState::Failed, TaskState::Performed, TaskState::Failed, TaskState::NothingToDo, TaskState::Failed];
    store
        .write(|tx| {
            for (sequence, state) in states.iter().enumerate() {
                let task = id(1, sequence as u64);
                tx.insert_task(task, TaskDue { at_ms: None, block: Some(1) })?;
                tx.transition_task(task, *state, None, Some(&format!("reason {sequence}")))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let failures = store.read(|r| r.job_failures(U256::from(1), 3)).unwrap();
    // Finished tasks, newest first: 4 failed, 2 failed, 1 performed (nothing to do is not finished work).
    assert_eq!(failures, JobFailures { failed: 3, in_a_row: 2, last_reason: Some("reason 4".into()) });
    assert_eq!(store.read(|r| r.job_failures(U256::from(2), 3)).unwrap(), JobFailures::default());
}

#[test]
fn endings_move_only_the_tasks_they_concern_and_keep_their_reason() {
    let mut store = store_with_jobs(&[1, 2]);
    let due = TaskDue { at_ms: None, block: Some(1) };
    let moved = store
        .write(|tx| {
            for sequence in 0..5 {
                tx.insert_task(id(1, sequence), due)?;
            }
            tx.insert_task(id(2, 0), due)?;
            tx.transition_task(id(1, 1), TaskState::Proposed, None, None)?;
            tx.transition_task(id(1, 2), TaskState::Performed, None, None)?;
            // Sequence 4 is due: 0 and 3 (waiting) are missed, 1 (in a batch) and 2 (performed) are not,
            // and the other job is untouched.
            tx.end_job_tasks(U256::from(1), 0..4, &TaskEnding::Superseded { by: 4 })
        })
        .unwrap();
    assert_eq!(moved, vec![(id(1, 0), TaskState::Missed), (id(1, 3), TaskState::Missed)]);
    let state = |store: &mut Store, task| store.read(|r| r.task(task)).unwrap().unwrap().state;
    assert_eq!(state(&mut store, id(1, 1)), TaskState::Proposed);
    assert_eq!(state(&mut store, id(2, 0)), TaskState::Due);
    let history = store.read(|r| r.task_history(id(1, 0))).unwrap();
    assert_eq!(history.last().unwrap().detail.as_deref(), Some(TaskEnding::Superseded { by: 4 }.detail().as_str()));

    // A second batch carrying a performed task is skipped on chain: the task stays performed.
    let outcome = store.write(|tx| tx.record_chain_outcome(id(1, 2), TaskState::Skipped, 9, "skipped")).unwrap();
    assert_eq!(outcome, None);
    assert_eq!(state(&mut store, id(1, 2)), TaskState::Performed);
    // The chain performed sequence 4: the proposed sequence 1 can no longer land.
    let moved = store
        .write(|tx| {
            tx.record_chain_outcome(id(1, 4), TaskState::Performed, 9, "performed on chain")?;
            tx.end_job_tasks(U256::from(1), 0..4, &TaskEnding::Overtaken { by: 4 })
        })
        .unwrap();
    assert_eq!(moved, vec![(id(1, 1), TaskState::Missed)]);
    // A task this store never saw is created by its outcome.
    let created = store.write(|tx| tx.record_chain_outcome(id(2, 5), TaskState::Performed, 9, "performed")).unwrap();
    assert_eq!(created, Some(TaskState::Performed));
}
