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
}
