//! Errors of the embedded database. Each names the file, table or column it is about, so an
//! operator reading a log line knows what to look at without the source.

use std::path::PathBuf;

use thiserror::Error;

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why the store could not open, read or write.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store: cannot create or secure {path}: {source}")]
    Filesystem {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "store: {path} is locked by another keeperd{}; stop it or use another data directory",
        holder_pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked { path: PathBuf, holder_pid: Option<u32> },
    #[error("store: {path} is not a keeperd database (application id {found:#010x})")]
    ForeignDatabase { path: PathBuf, found: i64 },
    #[error("store: {path} is not a readable SQLite database (corrupt or not a database): {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "store: {path} has schema version {found}, newer than the {supported} this keeperd knows; \
         upgrade keeperd rather than downgrading the database"
    )]
    SchemaTooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("store: migration to schema version {version} ({description}) failed: {source}")]
    Migration {
        version: i64,
        description: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("store: {table}.{column}: {reason}")]
    InvalidValue { table: &'static str, column: &'static str, reason: String },
    #[error("store: {table}: no row for {key}")]
    NotFound { table: &'static str, key: String },
    #[error("store: {table}: {key} already holds a different {column}")]
    Conflict { table: &'static str, column: &'static str, key: String },
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: the blocking task using the store failed: {0}")]
    Task(String),
}

impl StoreError {
    pub(crate) fn invalid(table: &'static str, column: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidValue { table, column, reason: reason.into() }
    }
}
