//! ECDSA (secp256k1) operator keys in Web3 Secret Storage (version 3) keystores, the
//! format of geth, foundry's `cast wallet` and the EigenLayer CLI.
//!
//! Writing is ours, so that the key derivation is the caller's choice: [`KdfChoice::STANDARD`]
//! (scrypt n = 2^18, r = 8, p = 1, as geth's "standard" setting and EIP-2335 use) for real keys;
//! `eth-keystore`, which alloy wraps, always writes n = 8192. Decryption is alloy's
//! (`PrivateKeySigner::decrypt_keystore`), so every file written here is checked to open in a
//! second implementation. This module adds what alloy lacks: private file permissions and no
//! silent overwrite (via [`file`](mod@super::file)), validation before decrypting (`eth-keystore`
//! panics on some malformed files), and errors in terms of [`KeystoreError`].
//!
//! Passwords are used as their UTF-8 bytes, unnormalised, as geth does.

use std::{io, path::Path};

use alloy::primitives::keccak256;
use alloy::signers::local::{LocalSignerError, PrivateKeySigner};
use rand::{rngs::OsRng, RngCore};
use serde::Serialize;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    fields::JsonObject,
    file::{self, WriteMode},
    kdf::{apply_keystream, KdfChoice, KdfParamsJson, AES_KEY_LEN, DERIVED_KEY_LEN, IV_LEN},
    KeystoreError, Result,
};

const VERSION: u32 = 3;
/// Length of a secp256k1 secret key.
pub const SECRET_LEN: usize = 32;
const SALT_LEN: usize = 32;

/// Generates a random operator key and stores it at `path`, encrypted under `password`.
pub fn create(path: impl AsRef<Path>, password: &str, kdf: KdfChoice, mode: WriteMode) -> Result<PrivateKeySigner> {
    let signer = PrivateKeySigner::random_with(&mut OsRng);
    let secret = Zeroizing::new(signer.to_bytes().0);
    write(path.as_ref(), &signer, secret.as_slice(), password, kdf, mode)?;
    Ok(signer)
}

/// Stores the given 32-byte secret key at `path`, encrypted under `password`.
pub fn import(
    path: impl AsRef<Path>,
    secret: &[u8],
    password: &str,
    kdf: KdfChoice,
    mode: WriteMode,
) -> Result<PrivateKeySigner> {
    let signer =
        (secret.len() == SECRET_LEN).then(|| PrivateKeySigner::from_slice(secret).ok()).flatten().ok_or_else(|| {
            KeystoreError::InvalidInput {
                what: "ECDSA secret key",
                reason: format!(
                    "not a secp256k1 secret key (expected {SECRET_LEN} bytes encoding a non-zero \
                 scalar below the curve order, got {} bytes)",
                    secret.len()
                ),
            }
        })?;
    write(path.as_ref(), &signer, secret, password, kdf, mode)?;
    Ok(signer)
}

fn write(
    path: &Path,
    signer: &PrivateKeySigner,
    secret: &[u8],
    password: &str,
    kdf: KdfChoice,
    mode: WriteMode,
) -> Result<()> {
    kdf.validate()
        .map_err(|reason| KeystoreError::InvalidInput { what: "KDF parameters", reason: reason.to_owned() })?;
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let mut iv = [0u8; IV_LEN];
    OsRng.fill_bytes(&mut iv);
    let json = encrypt(secret, signer, password, kdf, &salt, &iv, Uuid::new_v4())?;
    file::write_private_file(path, json.as_bytes(), mode)
}

/// The Web3 Secret Storage v3 document of `secret` (whose key is `signer`) under `password`,
/// with the given randomness.
fn encrypt(
    secret: &[u8],
    signer: &PrivateKeySigner,
    password: &str,
    kdf: KdfChoice,
    salt: &[u8],
    iv: &[u8; IV_LEN],
    id: Uuid,
) -> Result<String> {
    let key = kdf.derive(password.as_bytes(), salt)?;
    // Plaintext only until the keystream is applied on the next line.
    let mut ciphertext = secret.to_vec();
    apply_keystream(&key, iv, &mut ciphertext);
    let json = Web3Keystore {
        address: hex::encode(signer.address()),
        crypto: Web3Crypto {
            cipher: "aes-128-ctr",
            cipherparams: Web3CipherParams { iv: hex::encode(iv) },
            mac: hex::encode(mac(&key, &ciphertext)),
            ciphertext: hex::encode(&ciphertext),
            kdf: kdf.function_name(),
            kdfparams: kdf.params_json(salt),
        },
        id,
        version: VERSION,
    };
    serde_json::to_string_pretty(&json).map_err(KeystoreError::Encode)
}

/// Keccak-256(key[16..32] || ciphertext): Web3 Secret Storage's password check.
fn mac(key: &[u8; DERIVED_KEY_LEN], ciphertext: &[u8]) -> [u8; 32] {
    keccak256([&key[AES_KEY_LEN..], ciphertext].concat()).0
}

/// A version-3 keystore as geth writes it (with the address, without the `0x`).
#[derive(Serialize)]
struct Web3Keystore {
    address: String,
    crypto: Web3Crypto,
    id: Uuid,
    version: u32,
}

#[derive(Serialize)]
struct Web3Crypto {
    cipher: &'static str,
    cipherparams: Web3CipherParams,
    ciphertext: String,
    kdf: &'static str,
    kdfparams: KdfParamsJson,
    mac: String,
}

#[derive(Serialize)]
struct Web3CipherParams {
    iv: String,
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
        import(&path, &dev_key(), "pw", KdfChoice::insecure_fast(), WriteMode::Replace).unwrap();
        let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut doc);
        fs::write(&path, doc.to_string()).unwrap();
        path
    }

    /// The PBKDF2 test vector of the Web3 Secret Storage Definition (ethereum.org, "Web3 secret
    /// storage definition", test vectors: password `testpassword`, c = 262144): our encryption with
    /// its salt, IV and key gives its ciphertext and MAC. (Its scrypt sibling uses n = 2^18 with
    /// r = 1, outside RFC 7914's bound n < 2^(16·r), which the `scrypt` crate enforces.)
    #[test]
    fn web3_secret_storage_pbkdf2_vector_is_reproduced() {
        let secret = hex::decode("7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d").unwrap();
        let salt = hex::decode("ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd").unwrap();
        let iv: [u8; IV_LEN] = hex::decode("6087dab2f9fdbbfaddc31a909735c1e6").unwrap().try_into().unwrap();
        let signer = PrivateKeySigner::from_slice(&secret).unwrap();
        let id = Uuid::parse_str("3198bc9c-6672-5ab3-d995-4942343ae5b6").unwrap();
        let kdf = KdfChoice::Pbkdf2 { c: 262_144 };
        let json = encrypt(&secret, &signer, "testpassword", kdf, &salt, &iv, id).unwrap();
        let doc: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["crypto"]["ciphertext"], "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46");
        assert_eq!(doc["crypto"]["mac"], "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2");
        assert_eq!(
            doc["crypto"]["kdfparams"],
            json!({"c": 262144, "dklen": 32, "prf": "hmac-sha256", "salt": hex::encode(&salt)})
        );
        assert_eq!(doc["version"], 3);
    }

    /// Real keys get the standard scrypt cost, and alloy's reader (a second implementation) opens
    /// the file.
    #[test]
    fn standard_keystores_use_scrypt_2_18_and_open_in_alloy() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ecdsa.json");
        let written = import(&path, &dev_key(), "pw", KdfChoice::STANDARD, WriteMode::CreateNew).unwrap();
        let doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["crypto"]["kdf"], "scrypt");
        assert_eq!(doc["crypto"]["kdfparams"]["n"], 262144);
        assert_eq!(doc["address"], hex::encode(written.address()));
        let opened = PrivateKeySigner::decrypt_keystore(&path, "pw").unwrap();
        assert_eq!(opened.address(), written.address());
        assert_eq!(load(&path, "pw").unwrap().address(), written.address());
    }

    /// PBKDF2 keystores are written too, and open.
    #[test]
    fn pbkdf2_keystores_open() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ecdsa.json");
        let written = create(&path, "pw", KdfChoice::Pbkdf2 { c: 1024 }, WriteMode::CreateNew).unwrap();
        let doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["crypto"]["kdfparams"]["prf"], "hmac-sha256");
        assert_eq!(load(&path, "pw").unwrap().address(), written.address());
    }

    #[test]
    fn created_key_loads_back() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("operator/ecdsa.json");
        let created = create(&path, "hunter2", KdfChoice::insecure_fast(), WriteMode::CreateNew).unwrap();
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
        let imported = import(&path, &dev_key(), "pw", KdfChoice::insecure_fast(), WriteMode::CreateNew).unwrap();
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
        import(&path, &dev_key(), "right", KdfChoice::insecure_fast(), WriteMode::CreateNew).unwrap();
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
                import(&path, &secret, "pw", KdfChoice::insecure_fast(), WriteMode::CreateNew),
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
        let first = import(&path, &dev_key(), "pw", KdfChoice::insecure_fast(), WriteMode::CreateNew).unwrap();
        assert!(matches!(
            create(&path, "pw", KdfChoice::insecure_fast(), WriteMode::CreateNew),
            Err(KeystoreError::AlreadyExists { .. })
        ));
        assert!(matches!(
            import(&path, &dev_key(), "pw", KdfChoice::insecure_fast(), WriteMode::CreateNew),
            Err(KeystoreError::AlreadyExists { .. })
        ));
        assert_eq!(load(&path, "pw").unwrap(), first);
        let second = create(&path, "pw2", KdfChoice::insecure_fast(), WriteMode::Replace).unwrap();
        assert_eq!(load(&path, "pw2").unwrap(), second);
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[test]
    fn debug_output_contains_no_secret() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ecdsa.json");
        let signer = import(&path, &dev_key(), "pw", KdfChoice::insecure_fast(), WriteMode::CreateNew).unwrap();
        let outputs = [
            format!("{signer:?}"),
            format!("{:?}", load(&path, "wrong")),
            format!("{:?}", import(&path, &dev_key(), "pw", KdfChoice::insecure_fast(), WriteMode::CreateNew)),
        ];
        for output in outputs {
            assert!(!output.to_lowercase().contains(DEV_KEY), "{output}");
        }
    }
}
