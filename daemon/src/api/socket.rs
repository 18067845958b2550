//! The control socket: created 0600 in a private (0700) directory owned by the daemon's user, a
//! live socket at the path refused (another daemon serves there), a stale one from a crash removed,
//! and every connection's peer credentials read with `SO_PEERCRED` for the uid check.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use keeper_shared::api::{ApiError, ErrorCode};

/// Why the control socket cannot be opened. Every message names the path.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("api.socket {}: another keeperd is already serving on it (stop it, or choose another socket)", path.display())]
    InUse { path: PathBuf },
    #[error("api.socket {}: exists and is not a socket; not removing it", path.display())]
    NotASocket { path: PathBuf },
    #[error("api.socket {}: directory {} must be private to keeperd's user: {reason}", path.display(), dir.display())]
    UnsafeDirectory { path: PathBuf, dir: PathBuf, reason: String },
    #[error("api.socket {}: {step}: {source}", path.display())]
    Io { path: PathBuf, step: &'static str, source: std::io::Error },
}

/// The credentials of a connected client, as the kernel reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// `None` if the credentials could not be read.
    pub uid: Option<u32>,
    pub pid: Option<i32>,
}

/// Whether a peer may use the API: only processes of the user the daemon runs as (root
/// included: it can reach the socket despite its mode, but it is not who runs the daemon).
pub fn authorize(peer: &Peer, daemon_uid: u32) -> Result<(), ApiError> {
    match peer.uid {
        Some(uid) if uid == daemon_uid => Ok(()),
        Some(uid) => Err(ApiError::field(
            ErrorCode::PeerForbidden,
            "peer",
            format!(
                "uid {uid} is not keeperd's uid {daemon_uid}; only the user running keeperd may use its control API"
            ),
        )),
        None => Err(ApiError::field(ErrorCode::PeerForbidden, "peer", "the client's credentials could not be read")),
    }
}

/// A bound control socket; the socket file is removed when this is dropped (if it is still ours).
#[derive(Debug)]
pub struct ControlSocket {
    listener: Option<std::os::unix::net::UnixListener>,
    path: PathBuf,
    inode: u64,
    uid: u32,
}

impl ControlSocket {
    /// Prepares the directory, probes for a live or stale socket at `path`, and binds.
    pub fn bind(path: &Path) -> Result<Self, SocketError> {
        let io = |step| move |source| SocketError::Io { path: path.to_path_buf(), step, source };
        let uid = std::fs::metadata("/proc/self").map_err(io("reading the daemon's uid"))?.uid();
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        prepare_directory(path, &dir, uid)?;

        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io("inspecting the existing file")(e)),
            Ok(meta) if !meta.file_type().is_socket() => return Err(SocketError::NotASocket { path: path.into() }),
            Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => return Err(SocketError::InUse { path: path.into() }),
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    tracing::info!(path = %path.display(), "control API: removing a stale socket (a daemon that did not stop cleanly)");
                    std::fs::remove_file(path).map_err(io("removing the stale socket"))?;
                }
                Err(e) => return Err(io("probing the existing socket")(e)),
            },
        }

        let listener = std::os::unix::net::UnixListener::bind(path).map_err(|e| match e.kind() {
            ErrorKind::AddrInUse => SocketError::InUse { path: path.into() },
            _ => io("binding")(e),
        })?;
        // The directory is private, so the moment between bind and chmod exposes nothing.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io("making it 0600"))?;
        let inode = std::fs::symlink_metadata(path).map_err(io("reading it back"))?.ino();
        listener.set_nonblocking(true).map_err(io("making it non-blocking"))?;
        Ok(Self { listener: Some(listener), path: path.to_path_buf(), inode, uid })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The uid the daemon runs as (the only one allowed in).
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The listener for the serve loop (once; inside a tokio runtime).
    pub(crate) fn listener(&mut self) -> Result<PeerListener, SocketError> {
        let io = |source| SocketError::Io { path: self.path.clone(), step: "registering with the runtime", source };
        let listener = self.listener.take().ok_or_else(|| io(std::io::Error::other("already taken")))?;
        Ok(PeerListener { inner: tokio::net::UnixListener::from_std(listener).map_err(io)? })
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        // Only our own socket: a daemon started after us may have replaced it.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|meta| meta.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Creates a missing directory 0700; an existing one must be ours and closed to group and others
/// (it is never chmod-ed: it may be a directory the user shares on purpose).
fn prepare_directory(path: &Path, dir: &Path, uid: u32) -> Result<(), SocketError> {
    let unsafe_dir = |reason: String| SocketError::UnsafeDirectory { path: path.into(), dir: dir.into(), reason };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|source| SocketError::Io {
                path: path.into(),
                step: "creating its directory",
                source,
            })?;
            Ok(())
        }
        Err(source) => Err(SocketError::Io { path: path.into(), step: "inspecting its directory", source }),
        Ok(meta) if !meta.is_dir() => Err(unsafe_dir("not a directory".into())),
        Ok(meta) if meta.uid() != uid => Err(unsafe_dir(format!("owned by uid {}, not {uid}", meta.uid()))),
        Ok(meta) if meta.mode() & 0o077 != 0 => Err(unsafe_dir(format!(
            "mode {:04o} lets group or others in; use a 0700 directory (the default is $XDG_RUNTIME_DIR/keeperd)",
            meta.mode() & 0o7777
        ))),
        Ok(_) => Ok(()),
    }
}

/// A Unix listener whose accepted connections carry their [`Peer`] credentials.
#[derive(Debug)]
pub(crate) struct PeerListener {
    inner: tokio::net::UnixListener,
}

impl axum::serve::Listener for PeerListener {
    type Io = tokio::net::UnixStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Peer) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    let peer = match stream.peer_cred() {
                        Ok(cred) => Peer { uid: Some(cred.uid()), pid: cred.pid() },
                        Err(e) => {
                            tracing::warn!(error = %e, "control API: reading a client's credentials failed");
                            Peer { uid: None, pid: None }
                        }
                    };
                    return (stream, peer);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "control API: accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Peer> {
        Ok(Peer { uid: None, pid: None })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_the_daemons_uid_is_authorized() {
        assert!(authorize(&Peer { uid: Some(1000), pid: Some(7) }, 1000).is_ok());
        for peer in [Peer { uid: Some(1001), pid: Some(7) }, Peer { uid: Some(0), pid: None }] {
            let err = authorize(&peer, 1000).unwrap_err();
            assert_eq!((err.code, err.field.as_deref()), (ErrorCode::PeerForbidden, Some("peer")));
            assert!(err.message.contains("not keeperd's uid 1000"), "{}", err.message);
            assert_eq!(err.code.http_status(), 403);
        }
        let err = authorize(&Peer { uid: None, pid: None }, 1000).unwrap_err();
        assert_eq!(err.code, ErrorCode::PeerForbidden);
    }

    #[test]
    fn socket_is_0600_in_a_0700_directory_and_removed_on_drop() {
        let base = tempfile::tempdir().unwrap();
        let path = base.path().join("run/keeperd/k.sock");
        let socket = ControlSocket::bind(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert!(matches!(ControlSocket::bind(&path), Err(SocketError::InUse { .. })));
        drop(socket);
        assert!(!path.exists());
    }

    #[test]
    fn a_stale_socket_is_replaced_and_other_files_are_not() {
        let base = tempfile::tempdir().unwrap();
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = base.path().join("k.sock");
        // A socket nobody listens on any more: bound, then its listener closed without removing the file.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let socket = ControlSocket::bind(&path).unwrap();
        assert!(std::os::unix::net::UnixStream::connect(&path).is_ok(), "the new socket serves");
        drop(socket);

        std::fs::write(&path, "not a socket").unwrap();
        assert!(matches!(ControlSocket::bind(&path), Err(SocketError::NotASocket { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    }

    #[test]
    fn a_directory_open_to_others_is_refused_not_chmodded() {
        let base = tempfile::tempdir().unwrap();
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = ControlSocket::bind(&base.path().join("k.sock")).unwrap_err();
        assert!(matches!(err, SocketError::UnsafeDirectory { .. }), "{err}");
        assert!(err.to_string().contains("mode 0755"), "{err}");
        assert_eq!(std::fs::metadata(base.path()).unwrap().mode() & 0o7777, 0o755);
    }
}
