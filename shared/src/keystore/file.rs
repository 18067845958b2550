//! How key files reach the disk.
//!
//! A key file is never readable by anyone but its owner, not even for an instant: it is
//! born 0600 as a hidden temporary file in the destination directory (or inside a 0700
//! temporary directory there, for writers that create the file themselves), flushed,
//! and only then moved to its final name. Missing parent directories are created 0700.
//! An existing keystore is replaced only with [`WriteMode::Replace`]; the no-overwrite
//! check and the move are one atomic step (a hard link), so two writers racing for the
//! same name cannot both win.

use std::{
    fs::{self, DirBuilder, File, OpenOptions, Permissions},
    io::{self, Read, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use rand::RngCore;

use super::{KeystoreError, Result};

/// Permissions of a key file: owner read/write only.
pub const FILE_MODE: u32 = 0o600;
/// Permissions of a directory this module creates: owner only.
pub const DIR_MODE: u32 = 0o700;

/// Keystores are around 1 KiB; anything much larger is not one and is not read whole.
const MAX_KEYSTORE_FILE_LEN: u64 = 64 * 1024;

/// What to do when the destination of a new keystore already exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with [`KeystoreError::AlreadyExists`]: losing a key by accident is worse than
    /// an error.
    #[default]
    CreateNew,
    /// Atomically replace the existing file.
    Replace,
}

/// Reads a keystore file as text.
pub(crate) fn read_keystore_file(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => KeystoreError::NotFound { path: path.to_owned() },
        _ => io_error("open", path, source),
    })?;
    let mut text = String::new();
    file.take(MAX_KEYSTORE_FILE_LEN + 1).read_to_string(&mut text).map_err(|source| match source.kind() {
        io::ErrorKind::InvalidData => KeystoreError::InvalidField {
            field: "(file)".into(),
            reason: format!("{} is not UTF-8 text", path.display()),
        },
        _ => io_error("read", path, source),
    })?;
    if text.len() as u64 > MAX_KEYSTORE_FILE_LEN {
        return Err(KeystoreError::TooLarge { path: path.to_owned(), limit: MAX_KEYSTORE_FILE_LEN });
    }
    Ok(text)
}

/// Writes `contents` to `dest` with mode 0600, creating missing parents with mode 0700.
pub(crate) fn write_private_file(dest: &Path, contents: &[u8], mode: WriteMode) -> Result<()> {
    let dir = prepare_destination(dest, mode)?;
    let tmp = TempPath(dir.join(hidden_temp_name(dest, "tmp")));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&tmp.0)
        .map_err(|e| io_error("create temporary key file", &tmp.0, e))?;
    // The process umask can only remove bits from `mode`; set it exactly anyway so the
    // result never depends on the caller's environment.
    file.set_permissions(Permissions::from_mode(FILE_MODE)).map_err(|e| io_error("set permissions of", &tmp.0, e))?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(|e| io_error("write", &tmp.0, e))?;
    drop(file);
    install(&tmp.0, dest, &dir, mode)
}

/// A temporary file removed on drop unless it was moved away first.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        // After a successful rename the name no longer exists; NotFound is expected.
        let _ = fs::remove_file(&self.0);
    }
}

/// Fails early if `dest` exists and may not be replaced; creates missing parents 0700.
/// Returns the directory the file will live in.
fn prepare_destination(dest: &Path, mode: WriteMode) -> Result<PathBuf> {
    if dest.file_name().is_none() {
        return Err(KeystoreError::InvalidInput {
            what: "keystore path",
            reason: format!("{} does not name a file", dest.display()),
        });
    }
    if mode == WriteMode::CreateNew && fs::symlink_metadata(dest).is_ok() {
        return Err(KeystoreError::AlreadyExists { path: dest.to_owned() });
    }
    let dir = parent_dir(dest);
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(&dir).map_err(|e| io_error("create directory", &dir, e))?;
    Ok(dir)
}

fn install(tmp: &Path, dest: &Path, dir: &Path, mode: WriteMode) -> Result<()> {
    match mode {
        WriteMode::Replace => {
            fs::rename(tmp, dest).map_err(|e| io_error("move key file into", dest, e))?;
        }
        WriteMode::CreateNew => match fs::hard_link(tmp, dest) {
            // link(2) refuses an existing name atomically, unlike rename(2).
            Ok(()) => {
                // The key is in place; failing to drop the temporary second name (a 0600
                // file in the same directory) is not worth reporting the write as failed.
                let _ = fs::remove_file(tmp);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(KeystoreError::AlreadyExists { path: dest.to_owned() });
            }
            // Filesystems without hard links: check, then rename (a narrow race remains).
            Err(_) => {
                if fs::symlink_metadata(dest).is_ok() {
                    return Err(KeystoreError::AlreadyExists { path: dest.to_owned() });
                }
                fs::rename(tmp, dest).map_err(|e| io_error("move key file into", dest, e))?;
            }
        },
    }
    // Make the new directory entry durable, so a crash cannot leave the key unnamed.
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error("flush directory", dir, e))
}

fn parent_dir(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// `.<file name>.<random>.<suffix>`: hidden, unique, and recognisable if a crash leaves
/// it behind.
fn hidden_temp_name(dest: &Path, suffix: &str) -> String {
    let mut random = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.{}.{suffix}", hex::encode(random))
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> KeystoreError {
    KeystoreError::Io { action, path: path.to_owned(), source }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Permission bits of `path`.
    pub(crate) fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn writes_file_0600_and_creates_parents_0700() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("a/b/key.json");
        write_private_file(&dest, b"{}", WriteMode::CreateNew).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"{}");
        assert_eq!(mode_of(&dest), 0o600);
        assert_eq!(mode_of(&root.path().join("a")), 0o700);
        assert_eq!(mode_of(&root.path().join("a/b")), 0o700);
        // No temporary file is left behind.
        assert_eq!(entries(&root.path().join("a/b")), ["key.json"]);
    }

    #[test]
    fn refuses_to_overwrite_unless_asked() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("key.json");
        write_private_file(&dest, b"first", WriteMode::CreateNew).unwrap();
        match write_private_file(&dest, b"second", WriteMode::CreateNew) {
            Err(KeystoreError::AlreadyExists { path }) => assert_eq!(path, dest),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(fs::read(&dest).unwrap(), b"first");
        write_private_file(&dest, b"second", WriteMode::Replace).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"second");
        assert_eq!(mode_of(&dest), 0o600);
        assert_eq!(entries(root.path()), ["key.json"]);
    }

    #[test]
    fn replacing_a_world_readable_file_leaves_it_private() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("key.json");
        fs::write(&dest, b"old").unwrap();
        fs::set_permissions(&dest, Permissions::from_mode(0o644)).unwrap();
        write_private_file(&dest, b"new", WriteMode::Replace).unwrap();
        assert_eq!(mode_of(&dest), 0o600);
    }

    #[test]
    fn existing_symlink_counts_as_existing() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("key.json");
        std::os::unix::fs::symlink(root.path().join("nowhere"), &dest).unwrap();
        assert!(matches!(
            write_private_file(&dest, b"x", WriteMode::CreateNew),
            Err(KeystoreError::AlreadyExists { .. })
        ));
        assert!(!root.path().join("nowhere").exists());
    }

    #[test]
    fn read_reports_missing_and_oversized_files() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("missing.json");
        assert!(matches!(
            read_keystore_file(&missing),
            Err(KeystoreError::NotFound { path }) if path == missing
        ));
        let big = root.path().join("big.json");
        fs::write(&big, vec![b' '; MAX_KEYSTORE_FILE_LEN as usize + 1]).unwrap();
        assert!(matches!(read_keystore_file(&big), Err(KeystoreError::TooLarge { .. })));
        let binary = root.path().join("binary.json");
        fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(read_keystore_file(&binary), Err(KeystoreError::InvalidField { .. })));
    }

    #[test]
    fn rejects_paths_without_a_file_name() {
        assert!(matches!(
            write_private_file(Path::new("/"), b"x", WriteMode::CreateNew),
            Err(KeystoreError::InvalidInput { .. })
        ));
    }
}
