//! The node's libp2p identity (its peer id): an ed25519 key kept in a file under the data dir,
//! created 0600 on first start, so a restarted node keeps its peer id and peers' records of it
//! stay good. It is not the operator's key: losing it costs a new peer record, nothing more.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use keeper_p2p::Keypair;

use super::P2pError;

/// Reads the key at `path`, or creates it (0600, exclusively) if the file does not exist.
pub fn load_or_create(path: &Path) -> Result<Keypair, P2pError> {
    let field = |reason: String| P2pError::KeyFile { path: path.to_owned(), reason };
    match std::fs::read(path) {
        Ok(bytes) => {
            let mode = std::fs::metadata(path).map_err(|e| field(e.to_string()))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(field(format!("readable by others (mode {:o}); chmod 600 it", mode & 0o777)));
            }
            Keypair::from_protobuf_encoding(&bytes).map_err(|e| field(format!("not a libp2p key: {e}")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keypair = Keypair::generate_ed25519();
            let bytes = keypair.to_protobuf_encoding().map_err(|e| field(e.to_string()))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| field(e.to_string()))?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| field(e.to_string()))?;
            file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(|e| field(e.to_string()))?;
            Ok(keypair)
        }
        Err(e) => Err(field(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_private_and_read_back_with_the_same_peer_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/p2p.key");
        let first = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
    }

    #[test]
    fn a_key_readable_by_others_or_garbled_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p2p.key");
        load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = load_or_create(&path).unwrap_err().to_string();
        assert!(error.contains("p2p.key") && error.contains("chmod"), "{error}");
        std::fs::write(&path, b"garbage").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let error = load_or_create(&path).unwrap_err().to_string();
        assert!(error.contains("not a libp2p key"), "{error}");
    }
}
