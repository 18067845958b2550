//! Tests of opening, locking, migrating and transactions; table-specific tests live with each table.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use alloy::primitives::{Address, B256, U256};
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use rusqlite::Connection;

use super::*;

pub(crate) const CHAIN_ID: u64 = 31337;
pub(crate) const TASK_MANAGER: Address = Address::repeat_byte(0x77);

/// A batch at reference block `block` with leaves `(job id, sequence, response byte)`.
pub(crate) fn batch(block: u64, leaves: &[(u64, u64, u8)]) -> Batch {
    let context = BatchContext {
        chain_id: CHAIN_ID,
        task_manager: TASK_MANAGER,
        reference_block_number: block,
        reference_block_hash: B256::from(U256::from(block) + U256::from(1u64 << 40)),
    };
    let leaves = leaves
        .iter()
        .map(|&(job, sequence, response)| TaskLeaf {
            task: TaskId { job_id: U256::from(job), sequence },
            spec_hash: B256::repeat_byte(0x5e),
            response_hash: B256::repeat_byte(response),
        })
        .collect();
    Batch::new(context, leaves).unwrap()
}

pub(crate) fn job(id: u64) -> JobRecord {
    JobRecord {
        job_id: U256::from(id),
        spec: br#"{"interval":60}"#.to_vec(),
        status: JobStatus::Active,
        updated_at_block: 1,
        owner: alloy::primitives::Address::repeat_byte(0x11),
        forwarder: alloy::primitives::Address::repeat_byte(0x22),
        balance: U256::from(10u64).pow(U256::from(18u64)),
        next_sequence: 3,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn creates_the_schema_from_empty_and_reopens_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    let cursor = ChainCursor { block_number: 42, block_hash: B256::repeat_byte(4) };
    {
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.path(), Some(path.as_path()));
        let pragma = |name: &str| -> i64 { store.conn.pragma_query_value(None, name, |row| row.get(0)).unwrap() };
        assert_eq!(pragma("synchronous"), 2, "FULL: every commit is fsynced");
        assert_eq!(pragma("foreign_keys"), 1);
        assert_eq!(pragma("busy_timeout"), 5_000);
        store.write(|tx| tx.set_cursor("job_events", cursor)).unwrap();
    }
    for _ in 0..2 {
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.read(|r| r.cursor("job_events")).unwrap(), Some(cursor));
    }
    let conn = Connection::open(&path).unwrap();
    let journal: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
    assert_eq!(journal, "wal");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for table in [
        "chain_cursor",
        "jobs",
        "proposal_signatures",
        "proposals",
        "signed_batches",
        "signed_responses",
        "task_history",
        "tasks",
        "transactions",
    ] {
        assert!(tables.iter().any(|t| t == table), "{table} missing from {tables:?}");
    }
}

#[test]
fn refuses_a_database_newer_than_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    drop(Store::open(&path).unwrap());
    Connection::open(&path).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported, .. } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("keeper.db"), "{err}");
}

#[test]
fn refuses_another_applications_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    Connection::open(&path).unwrap().execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { found: 0, .. }), "{err}");
}

#[test]
fn a_corrupt_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Unreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("keeper.db"), "{err}");

    // A valid database whose pages were overwritten after the header.
    let path = dir.path().join("damaged.db");
    {
        let mut store = Store::open(&path).unwrap();
        store.write(|tx| tx.upsert_job(&job(1))).unwrap();
    }
    Connection::open(&path).unwrap().pragma_update(None, "journal_mode", "DELETE").unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    for byte in bytes.iter_mut().skip(100) {
        *byte = 0xff;
    }
    std::fs::write(&path, bytes).unwrap();
    let result = Store::open(&path).and_then(|mut store| store.read(|r| r.job(U256::from(1))));
    assert!(result.is_err(), "{result:?}");
}

#[test]
fn files_are_private_to_their_owner() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").join("keeper");
    let path = data.join("keeper.db");
    let mut store = Store::open(&path).unwrap();
    store.write(|tx| tx.upsert_job(&job(1))).unwrap();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&data.join("keeper.db.lock")), 0o600);
    assert_eq!(mode(&data.join("keeper.db-wal")), 0o600, "SQLite gives the WAL the database's mode");
    drop(store);

    // A database left readable by others is tightened on open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Store::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_second_open_fails_while_the_first_is_alive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    let first = Store::open(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    match &err {
        StoreError::Locked { path: locked, holder_pid } => {
            assert_eq!(locked, &dir.path().join("keeper.db.lock"));
            assert_eq!(*holder_pid, Some(std::process::id()));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
    drop(first);
    Store::open(&path).unwrap();
}

#[test]
fn a_reader_neither_waits_for_nor_holds_up_the_writer_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("keeper.db")).unwrap();
    assert!(Store::open_in_memory().unwrap().open_reader().is_none());
    let mut reader = store.open_reader().unwrap().unwrap();
    let cursor = |n: u64| ChainCursor { block_number: n, block_hash: B256::repeat_byte(n as u8) };
    store.write(|tx| tx.set_cursor("job_events", cursor(1))).unwrap();

    // A long read holds its snapshot while the writer commits twice, without either waiting.
    reader
        .read(|r| {
            assert_eq!(r.cursor("job_events")?, Some(cursor(1)));
            store.write(|tx| tx.set_cursor("job_events", cursor(2)))?;
            store.write(|tx| tx.set_cursor("job_events", cursor(3)))?;
            assert_eq!(r.cursor("job_events")?, Some(cursor(1)), "one snapshot per read");
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(reader.read(|r| r.cursor("job_events")).unwrap(), Some(cursor(3)));

    let refused = reader.write(|tx| tx.set_cursor("job_events", cursor(4)));
    assert!(matches!(refused, Err(StoreError::Sqlite(_))), "{refused:?}");
    assert_eq!(store.read(|r| r.cursor("job_events")).unwrap(), Some(cursor(3)));
}

#[test]
fn cursor_and_derived_rows_commit_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    let cursor = ChainCursor { block_number: 100, block_hash: B256::repeat_byte(1) };
    let task = TaskId { job_id: U256::from(1), sequence: 0 };
    Store::open(&path)
        .unwrap()
        .write(|tx| {
            tx.upsert_job(&job(1))?;
            tx.insert_task(task, TaskDue { at_ms: Some(1_000), block: None })?;
            tx.set_cursor("job_events", cursor)
        })
        .unwrap();
    let mut store = Store::open(&path).unwrap();
    let (read_cursor, read_task) =
        store.read(|r| Ok::<_, StoreError>((r.cursor("job_events")?, r.task(task)?))).unwrap();
    assert_eq!(read_cursor, Some(cursor));
    assert_eq!(read_task.unwrap().state, TaskState::Due);
}

#[test]
fn cursor_and_derived_rows_roll_back_together() {
    #[derive(Debug)]
    enum DeriveError {
        Store(#[allow(dead_code)] StoreError),
        Rejected,
    }
    impl From<StoreError> for DeriveError {
        fn from(e: StoreError) -> Self {
            Self::Store(e)
        }
    }

    let mut store = Store::open_in_memory().unwrap();
    let old = ChainCursor { block_number: 99, block_hash: B256::repeat_byte(9) };
    store.write(|tx| tx.set_cursor("job_events", old)).unwrap();

    // A caller's own error after some writes: none of them is kept.
    let result = store.write(|tx| {
        tx.upsert_job(&job(1))?;
        tx.set_cursor("job_events", ChainCursor { block_number: 100, block_hash: B256::repeat_byte(1) })?;
        Err::<(), _>(DeriveError::Rejected)
    });
    assert!(matches!(result, Err(DeriveError::Rejected)));
    // A database error half-way (a task whose job is not cached violates the foreign key).
    let result = store.write(|tx| {
        tx.set_cursor("job_events", ChainCursor { block_number: 101, block_hash: B256::repeat_byte(2) })?;
        tx.insert_task(TaskId { job_id: U256::from(2), sequence: 0 }, TaskDue { at_ms: Some(1), block: None })
    });
    assert!(matches!(result, Err(StoreError::Sqlite(_))), "{result:?}");

    assert_eq!(store.read(|r| r.cursor("job_events")).unwrap(), Some(old));
    assert_eq!(store.read(|r| r.job(U256::from(1))).unwrap(), None);
}

#[test]
fn values_beyond_sqlite_integers_are_refused() {
    let mut store = Store::open_in_memory().unwrap();
    let cursor = ChainCursor { block_number: u64::MAX, block_hash: B256::ZERO };
    let err = store.write(|tx| tx.set_cursor("job_events", cursor)).unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { table: "chain_cursor", column: "block_number", .. }), "{err}");
}

#[test]
fn jobs_upsert_get_and_list() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .write(|tx| {
            for id in 1..=5 {
                tx.upsert_job(&job(id))?;
            }
            tx.upsert_job(&JobRecord { status: JobStatus::Paused, updated_at_block: 7, ..job(3) })
        })
        .unwrap();
    let three = store.read(|r| r.job(U256::from(3))).unwrap().unwrap();
    assert_eq!((three.status, three.updated_at_block), (JobStatus::Paused, 7));
    let first = store.read(|r| r.jobs(None, None, 2)).unwrap();
    assert_eq!(first.iter().map(|j| j.job_id).collect::<Vec<_>>(), vec![U256::from(1), U256::from(2)]);
    let rest = store.read(|r| r.jobs(None, Some(U256::from(2)), 10)).unwrap();
    assert_eq!(rest.len(), 3);
    let active = store.read(|r| r.jobs(Some(JobStatus::Active), None, 10)).unwrap();
    assert_eq!(active.len(), 4);
    // Job ids order numerically, not by their decimal text or little-endian bytes.
    store.write(|tx| tx.upsert_job(&JobRecord { job_id: U256::from(256), ..job(0) })).unwrap();
    let all = store.read(|r| r.jobs(None, None, 10)).unwrap();
    assert_eq!(all.last().unwrap().job_id, U256::from(256));
}

/// A job whose creation left the chain is read by nobody (the control API, a restarted scheduler), and its
/// waiting tasks are dropped; created again, it is back as written.
#[test]
fn a_job_that_left_the_chain_is_not_read_until_it_is_written_again() {
    let mut store = Store::open_in_memory().unwrap();
    let task = TaskId { job_id: U256::from(2), sequence: 3 };
    store
        .write(|tx| {
            tx.upsert_job(&job(1))?;
            tx.upsert_job(&job(2))?;
            tx.insert_task(task, TaskDue { at_ms: None, block: Some(5) })
        })
        .unwrap();
    let removed = store
        .write(|tx| {
            assert!(tx.mark_job_left_chain(U256::from(2), 4)?);
            assert!(!tx.mark_job_left_chain(U256::from(2), 4)?, "marked once");
            assert!(!tx.mark_job_left_chain(U256::from(9), 4)?, "not cached");
            tx.end_job_tasks(U256::from(2), 0..u64::MAX, &TaskEnding::JobRemoved { ancestor: 4 })
        })
        .unwrap();
    assert_eq!(removed, vec![(task, TaskState::Dropped)]);
    assert_eq!(store.read(|r| r.job(U256::from(2))).unwrap(), None);
    let listed = store.read(|r| r.jobs(None, None, 10)).unwrap();
    assert_eq!(listed.iter().map(|j| j.job_id).collect::<Vec<_>>(), vec![U256::from(1)]);
    assert!(store.read(|r| r.jobs(Some(JobStatus::Active), Some(U256::from(1)), 10)).unwrap().is_empty());

    store.write(|tx| tx.upsert_job(&JobRecord { updated_at_block: 6, ..job(2) })).unwrap();
    assert_eq!(store.read(|r| r.job(U256::from(2))).unwrap(), Some(JobRecord { updated_at_block: 6, ..job(2) }));
    assert_eq!(store.read(|r| r.jobs(None, None, 10)).unwrap().len(), 2);
}

#[test]
fn enum_check_constraints_match_the_rust_enums() {
    let mut store = Store::open_in_memory().unwrap();
    store.write(|tx| tx.upsert_job(&job(1))).unwrap();
    for status in JobStatus::ALL {
        store.write(|tx| tx.upsert_job(&JobRecord { status: *status, ..job(1) })).unwrap();
        assert_eq!(store.read(|r| r.job(U256::from(1))).unwrap().unwrap().status, *status, "read back");
    }
    for (sequence, state) in TaskState::ALL.iter().enumerate() {
        let task = TaskId { job_id: U256::from(1), sequence: sequence as u64 };
        store
            .write(|tx| {
                tx.insert_task(task, TaskDue { at_ms: None, block: Some(5) })?;
                tx.transition_task(task, *state, None, None)
            })
            .unwrap();
        assert_eq!(store.read(|r| r.task(task)).unwrap().unwrap().state, *state, "read back");
    }
    let conn = &store.conn;
    // A task state is checked when read (schema 6): an unknown name is an error naming the column.
    assert!(conn.execute("UPDATE tasks SET state = ''", []).is_err());
    conn.execute("UPDATE tasks SET state = 'pending'", []).unwrap();
    let error = store.read(|r| r.task(TaskId { job_id: U256::from(1), sequence: 0 })).unwrap_err().to_string();
    assert!(error.contains("state") && error.contains("pending"), "{error}");
    let conn = &store.conn;
    assert!(conn.execute("UPDATE jobs SET status = 'gone'", []).is_err());
    assert!(conn.execute("UPDATE task_history SET detail = 'x'", []).is_err(), "history is append-only");
    assert!(conn.execute("DELETE FROM task_history", []).is_err(), "history is append-only");
    let zero_hash = B256::ZERO;
    assert!(conn.execute("UPDATE tasks SET response_hash = ?1", [&zero_hash.as_slice()[..31]]).is_err());
}

#[test]
fn schema_6_keeps_tasks_and_history_and_takes_new_states() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    {
        // A database at schema 3 with a job, a task and its history, as an older keeperd left it.
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        let tx = conn.transaction().unwrap();
        for step in &migrations::MIGRATIONS[..3] {
            tx.execute_batch(step.sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 3).unwrap();
        tx.commit().unwrap();
        let id = U256::from(7).to_be_bytes::<32>();
        conn.execute(
            "INSERT INTO jobs (job_id, spec, status, updated_at_block, updated_at_ms) VALUES (?1, x'00', 'active', 1, 1)",
            [id.as_slice()],
        )
        .unwrap();
        conn.execute("INSERT INTO tasks VALUES (?1, 3, 'performed', NULL, 9, NULL, 1, 2)", [id.as_slice()]).unwrap();
        conn.execute(
            "INSERT INTO task_history (job_id, sequence, from_state, to_state, at_ms, detail)
             VALUES (?1, 3, 'due', 'performed', 2, 'landed')",
            [id.as_slice()],
        )
        .unwrap();
        assert!(conn.execute("UPDATE tasks SET state = 'nothing_to_do'", []).is_err(), "schema 3 lists the states");
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let task = TaskId { job_id: U256::from(7), sequence: 3 };
    assert_eq!(store.read(|r| r.task(task)).unwrap().unwrap().state, TaskState::Performed);
    store.write(|tx| tx.transition_task(task, TaskState::NothingToDo, None, Some("checked"))).unwrap();
    assert_eq!(store.read(|r| r.task(task)).unwrap().unwrap().state, TaskState::NothingToDo);
    let history: i64 = store.conn.query_row("SELECT count(*) FROM task_history", [], |row| row.get(0)).unwrap();
    assert_eq!(history, 2, "the old history row is kept and the new one appended");
    assert!(store.conn.execute("DELETE FROM task_history", []).is_err(), "history is still append-only");
    let fk: i64 = store.conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| row.get(0)).unwrap();
    assert_eq!(fk, 0);
}
