//! The daemon's embedded database: chain cursors, the job cache, tasks and their state history,
//! the aggregator's proposals and collected signatures, the transactions sent, and the keeper's
//! slashing-protection record.
//!
//! SQLite through rusqlite (compiled in with the `bundled` feature). It was chosen over redb for
//! what this data needs: several tables joined by keys with constraints the database itself
//! enforces (CHECKs on every enum and byte length, foreign keys, append-only triggers on the
//! slashing-protection record), secondary indices for keyset pagination by state, versioned
//! migrations in plain SQL, and a file an operator can inspect with the `sqlite3` shell when
//! something goes wrong. Its WAL mode gives atomic, durable commits that survive `kill -9` and
//! power loss.
//!
//! One [`Store`] owns one connection; its calls block (a commit waits for fsync), so async code
//! calls it from `spawn_blocking` or a dedicated thread, behind a mutex if several tasks share it.

mod codec;
mod condition_signings;
mod cursor;
mod error;
mod jobs;
mod lock;
mod migrations;
mod proposals;
mod shared;
mod slashing_protection;
mod tasks;
mod transactions;

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::ops::Deref;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

pub use condition_signings::ConditionSigning;
pub use cursor::ChainCursor;
pub use error::{Result, StoreError};
pub use jobs::{JobRecord, JobStatus};
pub use migrations::SCHEMA_VERSION;
pub use proposals::{CollectedSignature, SignatureInsert, StoredProposal};
pub use shared::SharedStore;
pub use slashing_protection::{
    BatchSigningRequest, ImportSummary, Interchange, InterchangeBatch, InterchangeMetadata, InterchangeResponse,
    SignedResponse, SigningDecision, SlashingProtection, SlashingProtectionError, INTERCHANGE_FORMAT_VERSION,
};
pub use tasks::{JobFailures, TaskDue, TaskEnding, TaskPage, TaskRecord, TaskState, TaskTransition};
pub use transactions::{BlockAnchor, NewTransaction, StoredTransaction, TxKind, TxStatus};

use lock::DataDirLock;

/// How long a statement waits for a lock held by another connection (a `sqlite3` shell, a backup)
/// before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The keeperd database. See the module documentation.
#[derive(Debug)]
pub struct Store {
    // Declared before the lock so the connection closes before the lock is released.
    conn: Connection,
    path: Option<PathBuf>,
    _lock: Option<DataDirLock>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`: the file is made private to its owner
    /// (0600; a missing parent directory is created 0700), an exclusive lock is taken on
    /// `<path>.lock` so a second daemon fails here, and the schema is migrated to [`SCHEMA_VERSION`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let fs_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Filesystem { path, source }
        };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            if !dir.exists() {
                DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(fs_err(dir))?;
            }
        }
        let lock = DataDirLock::acquire(&sibling(path, ".lock"))?;

        // Create the file ourselves so it never exists with the umask's mode, and tighten files an
        // older run or a copy left readable. SQLite gives its -wal and -shm files the database's mode.
        OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path).map_err(fs_err(path))?;
        for file in [path.to_path_buf(), sibling(path, "-wal"), sibling(path, "-shm"), lock.path().to_path_buf()] {
            match std::fs::set_permissions(&file, Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(fs_err(&file)(e)),
                _ => {}
            }
        }

        let unreadable = |source| StoreError::Unreadable { path: path.to_path_buf(), source };
        let mut conn = Connection::open(path).map_err(unreadable)?;
        configure(&conn, Some(path))?;
        migrations::migrate(&mut conn, path).map_err(|e| match e {
            StoreError::Sqlite(e) => classify(e, path),
            other => other,
        })?;
        Ok(Self { conn, path: Some(path.to_path_buf()), _lock: Some(lock) })
    }

    /// A second, read-only connection to this store's file, for readers that must never make the
    /// pipeline wait (the control API): in WAL mode readers and the writer do not block each
    /// other, whereas sharing the one connection put every API read in the pipeline's way. It takes
    /// no lock and runs no migration; it refuses to write. `None` for an in-memory store.
    pub fn open_reader(&self) -> Option<Result<Self>> {
        let path = self.path.as_deref()?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let open = || -> Result<Self> {
            let conn = Connection::open_with_flags(path, flags)
                .map_err(|source| StoreError::Unreadable { path: path.to_path_buf(), source })?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.pragma_update(None, "query_only", true)?;
            Ok(Self { conn, path: Some(path.to_path_buf()), _lock: None })
        };
        Some(open())
    }

    /// A private in-memory database with the full schema, for unit tests of code that uses the store.
    #[cfg(test)]
    pub(crate) fn open_in_memory() -> Result<Self> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn, None)?;
        migrations::migrate(&mut conn, Path::new(":memory:"))?;
        Ok(Self { conn, path: None, _lock: None })
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open database (always [`SCHEMA_VERSION`] once opened).
    pub fn schema_version(&self) -> Result<i64> {
        migrations::schema_version(&self.conn)
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`, so it never fails half-way for a lock
    /// upgrade) and commits if it returns `Ok`. On `Err` nothing it wrote is kept: use this to move
    /// a chain cursor together with everything derived from that block.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&WriteTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_err::<E>)?;
        let value = f(&WriteTx { read: ReadTx { conn: &tx } })?;
        tx.commit().map_err(store_err::<E>)?;
        Ok(value)
    }

    /// Runs `f` in one read transaction, so all its reads see the same snapshot.
    pub fn read<T, E>(&mut self, f: impl FnOnce(&ReadTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(store_err::<E>)?;
        let value = f(&ReadTx { conn: &tx })?;
        // Ending a read-only transaction cannot lose anything; an error here is still reported.
        tx.commit().map_err(store_err::<E>)?;
        Ok(value)
    }

    /// The keeper's slashing-protection record.
    pub fn slashing_protection(&mut self) -> SlashingProtection<'_> {
        SlashingProtection::new(&mut self.conn)
    }
}

/// Reads inside a transaction of [`Store::read`] or [`Store::write`]. Table-specific methods are
/// defined next to each table's code.
#[derive(Debug)]
pub struct ReadTx<'a> {
    conn: &'a Connection,
}

/// Reads and writes inside a transaction of [`Store::write`]; everything done through it commits
/// or rolls back together.
#[derive(Debug)]
pub struct WriteTx<'a> {
    read: ReadTx<'a>,
}

impl<'a> Deref for WriteTx<'a> {
    type Target = ReadTx<'a>;

    fn deref(&self) -> &ReadTx<'a> {
        &self.read
    }
}

fn store_err<E: From<StoreError>>(e: rusqlite::Error) -> E {
    E::from(StoreError::Sqlite(e))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Connection settings, applied on every open (none of them persists in the file except WAL mode).
fn configure(conn: &Connection, on_disk: Option<&Path>) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if let Some(path) = on_disk {
        // Reads the header first, so a file that is not a database fails here.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| classify(e, path))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::invalid("pragma", "journal_mode", format!("WAL refused, got {mode}")));
        }
    }
    // FULL: every commit is fsynced before it returns. In WAL mode NORMAL would be atomic but not
    // durable on power loss, and the slashing-protection record must be durable before a signature
    // leaves the process (a lost record would let a restarted keeper sign a conflicting response);
    // likewise a transaction must be recorded before it is broadcast. Commits are a few per block.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Tells a corrupt or foreign file apart from other SQLite errors.
fn classify(e: rusqlite::Error, path: &Path) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Unreadable { path: path.to_path_buf(), source: e }
        }
        _ => StoreError::Sqlite(e),
    }
}

#[cfg(test)]
mod tests;
