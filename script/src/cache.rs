//! Fetched modules on disk, addressed by their keccak256 (`<hash>.wasm`), so a restart does not refetch.
//!
//! - Atomic: a module is written to a temporary file in the same directory, synced, and renamed into place
//!   (then the directory is synced), so a crash leaves either the whole module or none.
//! - Verified: every read re-hashes the file; a file that does not match its name (a torn write on a
//!   filesystem without atomic rename, bit rot, tampering) is deleted and reported as a miss, so the caller
//!   fetches it again.
//! - Bounded: after each write the least recently used modules (by modification time, refreshed on each hit)
//!   are deleted until the total is under the limit.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use alloy::primitives::{keccak256, B256};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CacheError {
    #[error("script cache {path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("script cache: refusing to store code under {expected}: it hashes to {actual}")]
    WrongHash { expected: B256, actual: B256 },
}

type Result<T, E = CacheError> = std::result::Result<T, E>;

const EXTENSION: &str = "wasm";
const TEMP_EXTENSION: &str = "partial";

/// The cache directory and its size bound.
#[derive(Debug)]
pub struct ModuleCache {
    dir: PathBuf,
    max_bytes: u64,
    temp_counter: AtomicU64,
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> CacheError + 'a {
    move |source| CacheError::Io { path: path.to_owned(), action, source }
}

impl ModuleCache {
    /// Opens (creating, 0700) the cache at `dir` and removes temporary files a crash left behind.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io(&dir, "create"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir, "set permissions"))?;
        }
        for entry in fs::read_dir(&dir).map_err(io(&dir, "list"))? {
            let path = entry.map_err(io(&dir, "list"))?.path();
            if path.extension().is_some_and(|ext| ext == TEMP_EXTENSION) {
                fs::remove_file(&path).map_err(io(&path, "remove a partial write"))?;
            }
        }
        Ok(Self { dir, max_bytes, temp_counter: AtomicU64::new(0) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, hash: B256) -> PathBuf {
        self.dir.join(format!("{}.{EXTENSION}", alloy::hex::encode(hash)))
    }

    /// The module with this hash, if the cache has an intact copy.
    pub fn get(&self, hash: B256) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(hash);
        let code = match fs::read(&path) {
            Ok(code) => code,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io(&path, "read")(error)),
        };
        let actual = keccak256(&code);
        if actual != hash {
            tracing::warn!(path = %path.display(), %actual, "script cache: corrupt entry removed; fetching again");
            fs::remove_file(&path).map_err(io(&path, "remove a corrupt entry"))?;
            return Ok(None);
        }
        // Recently used: eviction goes by modification time. Failing to touch only skews eviction.
        if let Ok(file) = File::options().append(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Ok(Some(code))
    }

    /// Stores `code` under `hash` (which it must hash to), then evicts down to the bound.
    pub fn put(&self, hash: B256, code: &[u8]) -> Result<()> {
        let actual = keccak256(code);
        if actual != hash {
            return Err(CacheError::WrongHash { expected: hash, actual });
        }
        let path = self.path_of(hash);
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!("{}.{}.{n}.{TEMP_EXTENSION}", alloy::hex::encode(hash), std::process::id()));
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&temp).map_err(io(&temp, "create"))?;
            file.write_all(code).map_err(io(&temp, "write"))?;
            file.sync_all().map_err(io(&temp, "sync"))?;
            fs::rename(&temp, &path).map_err(io(&path, "rename into place"))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written?;
        File::open(&self.dir).and_then(|dir| dir.sync_all()).map_err(io(&self.dir, "sync"))?;
        self.evict(hash)
    }

    /// Deletes the least recently used modules (never `keep`) until the total is within the bound.
    fn evict(&self, keep: B256) -> Result<()> {
        let keep = self.path_of(keep);
        let mut entries = Vec::new();
        let mut total = 0u64;
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir, "list"))? {
            let entry = entry.map_err(io(&self.dir, "list"))?;
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != EXTENSION) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            total += meta.len();
            if path != keep {
                entries.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), path));
            }
        }
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            fs::remove_file(&path).map_err(io(&path, "evict"))?;
            total -= len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn round_trip_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let code = b"\0asm module bytes".to_vec();
        let hash = keccak256(&code);
        ModuleCache::open(dir.path(), 1 << 20).unwrap().put(hash, &code).unwrap();
        let cache = ModuleCache::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(cache.get(hash).unwrap(), Some(code));
        assert_eq!(cache.get(keccak256(b"other")).unwrap(), None);
    }

    #[test]
    fn corrupt_entries_are_dropped_and_partial_writes_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModuleCache::open(dir.path(), 1 << 20).unwrap();
        let code = b"module".to_vec();
        let hash = keccak256(&code);
        cache.put(hash, &code).unwrap();
        let path = cache.path_of(hash);
        fs::write(&path, b"modulX").unwrap();
        assert_eq!(cache.get(hash).unwrap(), None);
        assert!(!path.exists(), "the corrupt file is removed");

        let partial = dir.path().join(format!("{}.1.0.{TEMP_EXTENSION}", alloy::hex::encode(hash)));
        fs::write(&partial, b"mod").unwrap();
        ModuleCache::open(dir.path(), 1 << 20).unwrap();
        assert!(!partial.exists());
    }

    #[test]
    fn refuses_code_under_another_hash() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModuleCache::open(dir.path(), 1 << 20).unwrap();
        assert!(matches!(cache.put(keccak256(b"a"), b"b"), Err(CacheError::WrongHash { .. })));
    }

    #[test]
    fn evicts_least_recently_used_beyond_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModuleCache::open(dir.path(), 250).unwrap();
        let modules: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 100]).collect();
        let hashes: Vec<B256> = modules.iter().map(keccak256).collect();
        cache.put(hashes[0], &modules[0]).unwrap();
        cache.put(hashes[1], &modules[1]).unwrap();
        // Make module 1 older than module 0 by use, whatever the filesystem's time resolution.
        let old = SystemTime::now() - Duration::from_secs(60);
        File::options().append(true).open(cache.path_of(hashes[1])).unwrap().set_modified(old).unwrap();
        cache.put(hashes[2], &modules[2]).unwrap();
        assert!(cache.get(hashes[1]).unwrap().is_none(), "the least recently used goes");
        assert!(cache.get(hashes[0]).unwrap().is_some());
        assert!(cache.get(hashes[2]).unwrap().is_some());
    }
}
