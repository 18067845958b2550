//! The data-directory lock: an exclusive `flock` on a file beside the database, so a second keeperd
//! on the same data fails at start instead of interleaving nonces and slashing-protection records
//! with the first. The kernel drops the lock when the holder exits, even by SIGKILL, so there is
//! never a stale lock to clean up; the file is therefore never deleted.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::{Result, StoreError};

/// How long to wait for a lock whose recorded holder is this very process (see `acquire`).
const OWN_LOCK_GRACE: Duration = Duration::from_millis(500);

/// Held for the life of the store; dropping it closes the file and so releases the lock.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock at `path`, failing at once if another process holds it, and records this
    /// process's pid in it for the error message a second daemon prints.
    pub(crate) fn acquire(path: &Path) -> Result<Self> {
        let fs_err = |source| StoreError::Filesystem { path: path.to_path_buf(), source };
        // Not truncated on open: the holder's pid is in it when another process has the lock.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(fs_err)?;
        let started = Instant::now();
        loop {
            // `flock(LOCK_EX | LOCK_NB)` on Unix.
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let holder_pid = read_pid(&mut file);
                    // The lock belongs to an open file description, and a child this process is
                    // forking holds a copy of every descriptor until it execs (close-on-exec). So a
                    // lock this process just released can look held for a moment: wait that out.
                    // Another process's lock fails at once.
                    if holder_pid == Some(std::process::id()) && started.elapsed() < OWN_LOCK_GRACE {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    return Err(StoreError::Locked { path: path.to_path_buf(), holder_pid });
                }
                Err(TryLockError::Error(e)) => return Err(fs_err(e)),
            }
        }
        file.set_len(0).map_err(fs_err)?;
        file.seek(SeekFrom::Start(0)).map_err(fs_err)?;
        writeln!(file, "{}", std::process::id()).map_err(fs_err)?;
        Ok(Self { _file: file, path: path.to_path_buf() })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid the holder wrote, if it has written it yet.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
