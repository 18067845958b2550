//! ECDSA (secp256k1) operator keys in Web3 Secret Storage (version 3) keystores, the
//! format of geth, foundry's `cast wallet` and the EigenLayer CLI.
//!
//! Encryption and decryption are alloy's (`PrivateKeySigner::{new_keystore,
//! encrypt_keystore, decrypt_keystore}`, which wrap the `eth-keystore` crate). This module
//! adds what they lack: private file permissions and no silent overwrite (via
//! [`file`](mod@super::file)), validation before decrypting (`eth-keystore` panics on some
//! malformed files), and errors in terms of [`KeystoreError`].
//!
//! Passwords are used as their UTF-8 bytes, unnormalised, as geth does; `eth-keystore`
//! writes scrypt with n = 8192, r = 8, p = 1.

use std::{io, path::Path};

use alloy::signers::local::{LocalSignerError, PrivateKeySigner};
use rand::rngs::OsRng;
use uuid::Uuid;

use super::{
    fields::JsonObject,
    file::{self, PrivateTempDir, WriteMode},
    kdf::KdfChoice,
    KeystoreError, Result,
};

const VERSION: u32 = 3;
/// Length of a secp256k1 secret key.
pub const SECRET_LEN: usize = 32;
/// What `eth-keystore` names the file inside the private temporary directory.
const TEMP_FILE_NAME: &str = "keystore.json";

/// Generates a random operator key and stores it at `path`, encrypted under `password`.
pub fn create(path: impl AsRef<Path>, password: &str, mode: WriteMode) -> Result<PrivateKeySigner> {
    let path = path.as_ref();
    let dir = PrivateTempDir::beside(path, mode)?;
    let (signer, _uuid) = PrivateKeySigner::new_keystore(dir.path(), &mut OsRng, password, Some(TEMP_FILE_NAME))
        .map_err(|e| signer_error(e, dir.path()))?;
    file::install_private_file(&dir.path().join(TEMP_FILE_NAME), path, mode)?;
    Ok(signer)
}

/// Stores the given 32-byte secret key at `path`, encrypted under `password`.
pub fn import(path: impl AsRef<Path>, secret: &[u8], password: &str, mode: WriteMode) -> Result<PrivateKeySigner> {
    let path = path.as_ref();
    // Checked before anything touches the disk: `eth-keystore` would encrypt any bytes.
    if secret.len() != SECRET_LEN || PrivateKeySigner::from_slice(secret).is_err() {
        return Err(KeystoreError::InvalidInput {
            what: "ECDSA secret key",
            reason: format!(
                "not a secp256k1 secret key (expected {SECRET_LEN} bytes encoding a non-zero \
                 scalar below the curve order, got {} bytes)",
                secret.len()
            ),
        });
    }
    let dir = PrivateTempDir::beside(path, mode)?;
    let (signer, _uuid) =
        PrivateKeySigner::encrypt_keystore(dir.path(), &mut OsRng, secret, password, Some(TEMP_FILE_NAME))
            .map_err(|e| signer_error(e, dir.path()))?;
    file::install_private_file(&dir.path().join(TEMP_FILE_NAME), path, mode)?;
    Ok(signer)
}

/// Decrypts the operator key stored at `path`.
pub fn load(path: impl AsRef<Path>, password: &str) -> Result<PrivateKeySigner> {
    let path = path.as_ref();
    // `eth-keystore` rereads the file itself; validating our own read first turns its
    // panics and terse errors into field-level ones. Swapping the file in between would
    // need write access to the key directory, which already means full control of the key.
    validate(&file::read_keystore_file(path)?)?;
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| signer_error(e, path))
}

/// Checks everything `eth-keystore` relies on without checking.
fn validate(json: &str) -> Result<()> {
    let doc: serde_json::Value = serde_json::from_str(json).map_err(KeystoreError::MalformedJson)?;
    let root = JsonObject::root(&doc)?;
    root.version("version", VERSION)?;
    Uuid::parse_str(root.string("id")?).map_err(|e| root.invalid("id", e.to_string()))?;

    let crypto = root.object("crypto")?;
    crypto.function("cipher", &["aes-128-ctr"])?;
    crypto.object("cipherparams")?.hex_array::<16>("iv")?;
    crypto.hex_array::<SECRET_LEN>("ciphertext")?;
    crypto.hex_array::<32>("mac")?;

    let kdf = crypto.string("kdf")?;
    let params = crypto.object("kdfparams")?;
    KdfChoice::read(kdf, crypto.path_of("kdf"), &params)?;
    // `eth-keystore` picks the KDF from the shape of `kdfparams`, not from `kdf`: make
    // sure the two cannot disagree.
    let foreign = if kdf == "scrypt" { "c" } else { "n" };
    if params.value(foreign).is_ok() {
        return Err(params.invalid(foreign, format!("not a parameter of {kdf}")));
    }
    Ok(())
}

fn signer_error(error: LocalSignerError, path: &Path) -> KeystoreError {
    use eth_keystore::KeystoreError as Eth;
    match error {
        LocalSignerError::EthKeystoreError(Eth::MacMismatch) => KeystoreError::WrongPassword,
        LocalSignerError::EthKeystoreError(Eth::StdIo(message)) => {
            KeystoreError::Io { action: "access", path: path.to_owned(), source: io::Error::other(message) }
        }
        LocalSignerError::IoError(source) => KeystoreError::Io { action: "access", path: path.to_owned(), source },
        other => KeystoreError::Signer(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::file::tests::mode_of;
    use alloy::primitives::address;
    use serde_json::{json, Value};
    use std::fs;

    // Anvil's and Hardhat's first default development account: a published key, never a
    // real one.
    const DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    fn dev_key() -> Vec<u8> {
        hex::decode(DEV_KEY).unwrap()
    }

    /// A keystore of the dev key at `dir/key.json`, its JSON edited by `edit`.
    fn edited_keystore(dir: &Path, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
        let path = dir.join("key.json");
        import(&path, &dev_key(), "pw", WriteMode::Replace).unwrap();
        let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut doc);
        fs::write(&path, doc.to_string()).unwrap();
        path
    }

    #[test]
    fn created_key_loads_back() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("operator/ecdsa.json");
        let created = create(&path, "hunter2", WriteMode::CreateNew).unwrap();
        let loaded = load(&path, "hunter2").unwrap();
        assert_eq!(loaded, created);
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(path.parent().unwrap()), 0o700);
        // Only the keystore remains: the private temporary directory is gone.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn imported_key_loads_back_with_its_address() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ecdsa.json");
        let imported = import(&path, &dev_key(), "pw", WriteMode::CreateNew).unwrap();
        let expected = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(imported.address(), expected);
        let loaded = load(&path, "pw").unwrap();
        assert_eq!(loaded.address(), expected);
        assert_eq!(loaded.to_bytes().as_slice(), dev_key().as_slice());
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn wrong_password_is_rejected() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ecdsa.json");
        import(&path, &dev_key(), "right", WriteMode::CreateNew).unwrap();
        assert!(matches!(load(&path, "wrong"), Err(KeystoreError::WrongPassword)));
    }

    #[test]
    fn tampered_mac_is_rejected() {
        let root = tempfile::tempdir().unwrap();
        let path = edited_keystore(root.path(), |doc| {
            doc["crypto"]["mac"] = json!("00".repeat(32));
        });
        assert!(matches!(load(&path, "pw"), Err(KeystoreError::WrongPassword)));
    }

    #[test]
    fn missing_and_malformed_files_are_rejected() {
        let root = tempfile::tempdir().unwrap();
        assert!(matches!(load(root.path().join("absent.json"), "pw"), Err(KeystoreError::NotFound { .. })));

        let garbage = root.path().join("garbage.json");
        fs::write(&garbage, "not json").unwrap();
        assert!(matches!(load(&garbage, "pw"), Err(KeystoreError::MalformedJson(_))));

        let field_of = |edit: fn(&mut Value)| match load(edited_keystore(root.path(), edit), "pw") {
            Err(KeystoreError::InvalidField { field, .. }) => field,
            other => panic!("expected InvalidField, got {other:?}"),
        };
        // Each of these would make eth-keystore panic (slice out of range).
        assert_eq!(field_of(|doc| doc["crypto"]["kdfparams"]["dklen"] = json!(16)), "crypto.kdfparams.dklen");
        assert_eq!(field_of(|doc| doc["crypto"]["cipherparams"]["iv"] = json!("00")), "crypto.cipherparams.iv");
        assert_eq!(field_of(|doc| doc["crypto"]["kdfparams"]["n"] = json!(1000)), "crypto.kdfparams.n");
        assert_eq!(field_of(|doc| doc["crypto"]["kdfparams"]["c"] = json!(1)), "crypto.kdfparams.c");
        assert_eq!(field_of(|doc| doc["id"] = json!(12)), "id");

        match load(edited_keystore(root.path(), |doc| doc["crypto"]["kdf"] = json!("argon2")), "pw") {
            Err(KeystoreError::UnsupportedFunction { field, .. }) => {
                assert_eq!(field, "crypto.kdf");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bls_keystore_is_reported_by_version() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("bls.json");
        let bls =
            crate::keystore::Keystore::encrypt(&[1u8; 32], &[2u8; 48], "", "pw", KdfChoice::insecure_fast()).unwrap();
        bls.write_to(&path, WriteMode::CreateNew).unwrap();
        match load(&path, "pw") {
            Err(KeystoreError::UnsupportedVersion { found, expected: 3 }) => assert_eq!(found, "4"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn invalid_secret_keys_are_refused_before_writing() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ecdsa.json");
        // The secp256k1 group order n is not a valid scalar.
        let order = hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap();
        for secret in [vec![0u8; 32], dev_key()[1..].to_vec(), order] {
            assert!(matches!(
                import(&path, &secret, "pw", WriteMode::CreateNew),
                Err(KeystoreError::InvalidInput { .. })
            ));
        }
        assert!(!path.exists());
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn existing_keystore_is_not_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ecdsa.json");
        let first = import(&path, &dev_key(), "pw", WriteMode::CreateNew).unwrap();
        assert!(matches!(create(&path, "pw", WriteMode::CreateNew), Err(KeystoreError::AlreadyExists { .. })));
        assert!(matches!(
            import(&path, &dev_key(), "pw", WriteMode::CreateNew),
            Err(KeystoreError::AlreadyExists { .. })
        ));
        assert_eq!(load(&path, "pw").unwrap(), first);
        let second = create(&path, "pw2", WriteMode::Replace).unwrap();
        assert_eq!(load(&path, "pw2").unwrap(), second);
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[test]
    fn debug_output_contains_no_secret() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ecdsa.json");
        let signer = import(&path, &dev_key(), "pw", WriteMode::CreateNew).unwrap();
        let outputs = [
            format!("{signer:?}"),
            format!("{:?}", load(&path, "wrong")),
            format!("{:?}", import(&path, &dev_key(), "pw", WriteMode::CreateNew)),
        ];
        for output in outputs {
            assert!(!output.to_lowercase().contains(DEV_KEY), "{output}");
        }
    }
}
