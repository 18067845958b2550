//! The schema's history: an ordered list of SQL steps. The database's `user_version` is the number
//! of steps applied; each step runs in its own transaction together with the bump of that number,
//! so a crash leaves the schema at a step boundary, never half-migrated.
//!
//! Add a step by appending to [`MIGRATIONS`]; never edit a released one. A step that rebuilds a
//! table (SQLite cannot alter a CHECK) should end with `PRAGMA foreign_key_check`-clean data.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::error::{Result, StoreError};

/// One schema step, taking the database from `version - 1` to `version`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "initial schema: cursor, jobs, tasks, proposals, transactions, slashing protection",
        sql: include_str!("sql/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "job cache: owner, forwarder, balance and watermark",
        sql: include_str!("sql/0002_job_state.sql"),
    },
    Migration {
        version: 3,
        description: "proposals: leaves bind the spec hash (104 bytes); proposals of the old form dropped",
        sql: include_str!("sql/0003_leaf_spec_hash.sql"),
    },
    Migration {
        version: 4,
        description: "tasks: new state 'unprofitable'",
        sql: include_str!("sql/0004_task_state_unprofitable.sql"),
    },
    Migration {
        version: 5,
        description: "slashing protection: responses keyed by task and spec hash",
        sql: include_str!("sql/0005_signed_response_spec.sql"),
    },
    Migration {
        version: 6,
        description: "task states checked by the code, not a CHECK list (new states need no rebuild)",
        sql: include_str!("sql/0006_task_state_text.sql"),
    },
    Migration {
        version: 7,
        description: "keeper: the last condition task signed per job (single flight across restarts)",
        sql: include_str!("sql/0007_condition_signings.sql"),
    },
    Migration {
        version: 8,
        description: "transactions: the block a transaction is valid on (a batch's reference block)",
        sql: include_str!("sql/0008_transaction_anchor.sql"),
    },
    Migration {
        version: 9,
        description: "job cache: a job whose creation left the chain in a reorg is marked and no longer read",
        sql: include_str!("sql/0009_job_left_chain.sql"),
    },
];

/// `PRAGMA application_id` of a keeperd database ("KPRD"), set by the first migration.
pub(crate) const APPLICATION_ID: i64 = 0x4B50_5244;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn schema_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Brings the database at `path` up to [`SCHEMA_VERSION`]; refuses one that is newer, or that
/// belongs to another application.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let found = schema_version(conn)?;
    let application_id: i64 = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    let fresh = application_id == 0 && found == 0 && objects == 0;
    if application_id != APPLICATION_ID && !fresh {
        return Err(StoreError::ForeignDatabase { path: path.to_path_buf(), found: application_id });
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
    }
    for step in MIGRATIONS.iter().filter(|step| step.version > found) {
        let failed = |source| StoreError::Migration { version: step.version, description: step.description, source };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive).map_err(failed)?;
        tx.execute_batch(step.sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", step.version).map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_from_one() {
        for (index, step) in MIGRATIONS.iter().enumerate() {
            assert_eq!(step.version, index as i64 + 1, "{}", step.description);
        }
    }

    /// Schema 4 rebuilds the task tables: a database at schema 3 keeps its tasks and their history,
    /// the history still refers to its task, and the new state is accepted.
    #[test]
    fn schema_4_keeps_tasks_and_history_and_accepts_unprofitable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keeper.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        for step in &MIGRATIONS[..3] {
            conn.execute_batch(step.sql).unwrap_or_else(|e| panic!("{}: {e}", step.description));
            conn.pragma_update(None, "user_version", step.version).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO jobs (job_id, spec, status, updated_at_block, updated_at_ms)
                 VALUES (zeroblob(32), x'00', 'active', 1, 1);
             INSERT INTO tasks VALUES (zeroblob(32), 7, 'dropped', NULL, 9, NULL, 1, 2);
             INSERT INTO task_history (job_id, sequence, from_state, to_state, at_ms, detail)
                 VALUES (zeroblob(32), 7, NULL, 'due', 1, NULL), (zeroblob(32), 7, 'due', 'dropped', 2, 'why');",
        )
        .unwrap();
        assert!(conn.execute("UPDATE tasks SET state = 'unprofitable'", []).is_err(), "schema 3 lacks the state");

        // Schema 4 alone (schema 6 drops the closed list; its own test covers it).
        let step = &MIGRATIONS[3];
        conn.execute_batch(step.sql).unwrap();
        conn.pragma_update(None, "user_version", step.version).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 4);
        let kept: (String, i64, i64) = conn
            .query_row(
                "SELECT t.state, t.due_block, (SELECT count(*) FROM task_history h WHERE h.sequence = t.sequence)
                 FROM tasks t",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
        assert_eq!(kept, ("dropped".to_owned(), 9, 2));
        let detail: Option<String> =
            conn.query_row("SELECT detail FROM task_history ORDER BY id DESC LIMIT 1", [], |row| row.get(0)).unwrap();
        assert_eq!(detail.as_deref(), Some("why"));
        conn.execute("UPDATE tasks SET state = 'unprofitable'", []).unwrap();
        conn.execute(
            "INSERT INTO task_history (job_id, sequence, from_state, to_state, at_ms)
             VALUES (zeroblob(32), 7, 'dropped', 'unprofitable', 3)",
            [],
        )
        .unwrap();
        assert!(conn.execute("UPDATE tasks SET state = 'pending'", []).is_err(), "still a closed list");
        let orphan = conn.execute(
            "INSERT INTO task_history (job_id, sequence, to_state, at_ms) VALUES (zeroblob(32), 8, 'due', 4)",
            [],
        );
        assert!(orphan.is_err(), "the history's foreign key names the rebuilt tasks table");
        assert!(conn.execute("UPDATE task_history SET detail = 'x'", []).is_err(), "history is append-only");
        let violations: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| row.get(0)).unwrap();
        assert_eq!(violations, 0);
    }

    /// Schema 5 keys signed responses by task and spec: a response recorded before it keeps its task
    /// under the unknown spec (zero hash, which conflicts with every spec), and stays append-only.
    #[test]
    fn schema_5_keeps_signed_responses_under_an_unknown_spec() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keeper.db");
        let mut conn = Connection::open(&path).unwrap();
        for step in &MIGRATIONS[..4] {
            conn.execute_batch(step.sql).unwrap();
            conn.pragma_update(None, "user_version", step.version).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO signed_responses VALUES (31337, zeroblob(20), zeroblob(32), 3, x'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', NULL, 5);",
        )
        .unwrap();
        migrate(&mut conn, &path).unwrap();
        let (spec, sequence): (Vec<u8>, i64) = conn
            .query_row("SELECT spec_hash, sequence FROM signed_responses", [], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap();
        assert_eq!((spec, sequence), (vec![0u8; 32], 3));
        assert!(conn.execute("DELETE FROM signed_responses", []).is_err(), "append-only");
    }
}
