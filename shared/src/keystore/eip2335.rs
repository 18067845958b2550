//! EIP-2335 (version 4) keystores for BLS12-381 secret keys.
//!
//! The secret is encrypted with AES-128-CTR under the first half of a key derived from
//! the password (scrypt or PBKDF2-HMAC-SHA256); the second half, hashed with the
//! ciphertext, gives the checksum that tells a wrong password from a right one.
//! Passwords are processed as the EIP requires (NFKD, control codes stripped), so any
//! conforming tool opens the keystores written here and vice versa.
//!
//! This module handles the secret as bytes and knows nothing of BLS arithmetic: callers
//! check that the decrypted secret matches [`Keystore::pubkey`].

use std::{fmt, path::Path};

use rand::{rngs::OsRng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    fields::JsonObject,
    file::{self, WriteMode},
    kdf::{apply_keystream, KdfChoice, KdfParamsJson, AES_KEY_LEN, DERIVED_KEY_LEN, IV_LEN},
    password::eip2335_password_bytes,
    KeystoreError, Result,
};

/// Length of a BLS12-381 secret key.
pub const SECRET_LEN: usize = 32;
/// Length of a compressed BLS12-381 G1 public key.
pub const PUBKEY_LEN: usize = 48;

const VERSION: u32 = 4;
const SALT_LEN: usize = 32;
const CHECKSUM_LEN: usize = 32;

const CHECKSUM_FUNCTION: &str = "sha256";
const CIPHER_FUNCTION: &str = "aes-128-ctr";

/// An EIP-2335 keystore: one encrypted BLS secret key and its public metadata.
#[derive(Clone, PartialEq, Eq)]
pub struct Keystore {
    kdf: KdfChoice,
    salt: Vec<u8>,
    checksum: [u8; CHECKSUM_LEN],
    iv: [u8; IV_LEN],
    ciphertext: [u8; SECRET_LEN],
    description: String,
    pubkey: [u8; PUBKEY_LEN],
    path: String,
    uuid: Uuid,
}

impl Keystore {
    /// Encrypts `secret` (32 bytes) under `password` with a fresh random salt, IV and
    /// UUID v4.
    ///
    /// `pubkey` is the 48-byte compressed public key of `secret` (not checked here);
    /// `path` is its EIP-2334 derivation path (`m/12381/3600/0/0/0`), or `""` if the key
    /// was not derived. Use [`KdfChoice::STANDARD`] for real keys.
    pub fn encrypt(secret: &[u8], pubkey: &[u8], path: &str, password: &str, kdf: KdfChoice) -> Result<Self> {
        let secret: &[u8; SECRET_LEN] = secret.try_into().map_err(|_| KeystoreError::InvalidInput {
            what: "secret key",
            reason: format!("expected {SECRET_LEN} bytes, got {}", secret.len()),
        })?;
        let pubkey: [u8; PUBKEY_LEN] = pubkey.try_into().map_err(|_| KeystoreError::InvalidInput {
            what: "public key",
            reason: format!("expected {PUBKEY_LEN} bytes, got {}", pubkey.len()),
        })?;
        if !is_eip2334_path(path) {
            return Err(KeystoreError::InvalidInput {
                what: "derivation path",
                reason: format!("`{path}` is neither empty nor of the form m/12381/3600/0/0"),
            });
        }
        kdf.validate()
            .map_err(|reason| KeystoreError::InvalidInput { what: "KDF parameters", reason: reason.to_owned() })?;

        let mut salt = vec![0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let mut iv = [0u8; IV_LEN];
        OsRng.fill_bytes(&mut iv);

        let key = kdf.derive(&eip2335_password_bytes(password), &salt)?;
        // The copy is plaintext only until the keystream is applied on the next line.
        let mut ciphertext = *secret;
        apply_keystream(&key, &iv, &mut ciphertext);
        let checksum = checksum(&key, &ciphertext);

        Ok(Self {
            kdf,
            salt,
            checksum,
            iv,
            ciphertext,
            description: String::new(),
            pubkey,
            path: path.to_owned(),
            uuid: Uuid::new_v4(),
        })
    }

    /// Decrypts the secret key; [`KeystoreError::WrongPassword`] if `password` is not the
    /// one it was encrypted with.
    pub fn decrypt(&self, password: &str) -> Result<Zeroizing<Vec<u8>>> {
        let key = self.kdf.derive(&eip2335_password_bytes(password), &self.salt)?;
        if !constant_time_eq(&checksum(&key, &self.ciphertext), &self.checksum) {
            return Err(KeystoreError::WrongPassword);
        }
        let mut secret = Zeroizing::new(self.ciphertext.to_vec());
        apply_keystream(&key, &self.iv, &mut secret);
        Ok(secret)
    }

    /// Parses and validates a keystore; errors name the offending field.
    pub fn from_json(json: &str) -> Result<Self> {
        let doc: serde_json::Value = serde_json::from_str(json).map_err(KeystoreError::MalformedJson)?;
        let root = JsonObject::root(&doc)?;
        // First, so that a v3 (ECDSA) keystore is reported as such rather than by the
        // first field it lacks.
        root.version("version", VERSION)?;

        let crypto = root.object("crypto")?;

        let kdf = crypto.object("kdf")?;
        let (kdf_choice, salt) =
            KdfChoice::read(kdf.string("function")?, kdf.path_of("function"), &kdf.object("params")?)?;
        kdf.string("message")?;

        let checksum = crypto.object("checksum")?;
        checksum.function("function", &[CHECKSUM_FUNCTION])?;
        checksum.object("params")?;
        let checksum_message = checksum.hex_array::<CHECKSUM_LEN>("message")?;

        let cipher = crypto.object("cipher")?;
        cipher.function("function", &[CIPHER_FUNCTION])?;
        let iv = cipher.object("params")?.hex_array::<IV_LEN>("iv")?;
        let ciphertext = cipher.hex_array::<SECRET_LEN>("message")?;

        let path = root.string("path")?;
        if !is_eip2334_path(path) {
            return Err(root.invalid("path", "not an EIP-2334 path (m/12381/...) or empty"));
        }
        let uuid = Uuid::parse_str(root.string("uuid")?).map_err(|e| root.invalid("uuid", e.to_string()))?;

        Ok(Self {
            kdf: kdf_choice,
            salt,
            checksum: checksum_message,
            iv,
            ciphertext,
            description: root.optional_string("description")?.unwrap_or_default().to_owned(),
            pubkey: root.hex_array::<PUBKEY_LEN>("pubkey")?,
            path: path.to_owned(),
            uuid,
        })
    }

    /// The keystore as pretty-printed JSON, fields in the order of the EIP's examples.
    pub fn to_json(&self) -> Result<String> {
        let kdf_params = self.kdf.params_json(&self.salt);
        let json = KeystoreJson {
            crypto: CryptoJson {
                kdf: ModuleJson { function: self.kdf.function_name(), params: kdf_params, message: String::new() },
                checksum: ModuleJson {
                    function: CHECKSUM_FUNCTION,
                    params: EmptyParams {},
                    message: hex::encode(self.checksum),
                },
                cipher: ModuleJson {
                    function: CIPHER_FUNCTION,
                    params: CipherParamsJson { iv: hex::encode(self.iv) },
                    message: hex::encode(self.ciphertext),
                },
            },
            description: &self.description,
            pubkey: hex::encode(self.pubkey),
            path: &self.path,
            uuid: self.uuid,
            version: VERSION,
        };
        serde_json::to_string_pretty(&json).map_err(KeystoreError::Encode)
    }

    /// Reads and parses a keystore file.
    pub fn read_from(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_json(&file::read_keystore_file(path.as_ref())?)
    }

    /// Writes the keystore to `path` with mode 0600 (parents created 0700); see
    /// [`WriteMode`] for an existing file.
    pub fn write_to(&self, path: impl AsRef<Path>, mode: WriteMode) -> Result<()> {
        file::write_private_file(path.as_ref(), self.to_json()?.as_bytes(), mode)
    }

    /// The compressed BLS12-381 public key stored in the clear.
    pub fn pubkey(&self) -> &[u8; PUBKEY_LEN] {
        &self.pubkey
    }

    /// The EIP-2334 derivation path, `""` if none.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Sets the free-text `description` field.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The KDF and its cost parameters.
    pub fn kdf(&self) -> KdfChoice {
        self.kdf
    }
}

/// Shows the public metadata only; the encrypted fields are noise to a reader.
impl fmt::Debug for Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keystore")
            .field("pubkey", &hex::encode(self.pubkey))
            .field("path", &self.path)
            .field("uuid", &self.uuid)
            .field("description", &self.description)
            .field("kdf", &self.kdf)
            .finish_non_exhaustive()
    }
}

/// SHA-256(key[16..32] || ciphertext), as EIP-2335 defines the password check.
fn checksum(key: &[u8; DERIVED_KEY_LEN], ciphertext: &[u8]) -> [u8; CHECKSUM_LEN] {
    Sha256::new().chain_update(&key[AES_KEY_LEN..]).chain_update(ciphertext).finalize().into()
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn constant_time_eq(a: &[u8; CHECKSUM_LEN], b: &[u8; CHECKSUM_LEN]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `""` or `m` followed by `/index` components of decimal u32s (EIP-2334).
fn is_eip2334_path(path: &str) -> bool {
    if path.is_empty() {
        return true;
    }
    let mut parts = path.split('/');
    parts.next() == Some("m")
        && parts
            .all(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) && index.parse::<u32>().is_ok())
}

// The JSON schema, field for field and in the order of the EIP's test vectors.

#[derive(Serialize)]
struct KeystoreJson<'a> {
    crypto: CryptoJson,
    description: &'a str,
    pubkey: String,
    path: &'a str,
    uuid: Uuid,
    version: u32,
}

#[derive(Serialize)]
struct CryptoJson {
    kdf: ModuleJson<KdfParamsJson>,
    checksum: ModuleJson<EmptyParams>,
    cipher: ModuleJson<CipherParamsJson>,
}

#[derive(Serialize)]
struct ModuleJson<P> {
    function: &'static str,
    params: P,
    message: String,
}

#[derive(Serialize)]
struct EmptyParams {}

#[derive(Serialize)]
struct CipherParamsJson {
    iv: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::file::tests::mode_of;
    use serde_json::{json, Value};

    // Both vectors are copied from the "Test Cases" section of EIP-2335 (now ERC-2335,
    // file ERCS/erc-2335.md in the ethereum/ERCs repository).
    const VECTOR_PASSWORD: &str = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑";
    const VECTOR_SECRET: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
    const VECTOR_PUBKEY: &str =
        "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07";

    const SCRYPT_VECTOR: &str = r#"{
    "crypto": {
        "kdf": {
            "function": "scrypt",
            "params": {
                "dklen": 32,
                "n": 262144,
                "p": 1,
                "r": 8,
                "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
            },
            "message": ""
        },
        "checksum": {
            "function": "sha256",
            "params": {},
            "message": "d2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484"
        },
        "cipher": {
            "function": "aes-128-ctr",
            "params": {
                "iv": "264daa3f303d7259501c93d997d84fe6"
            },
            "message": "06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f"
        }
    },
    "description": "This is a test keystore that uses scrypt to secure the secret.",
    "pubkey": "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
    "path": "m/12381/60/3141592653/589793238",
    "uuid": "1d85ae20-35c5-4611-98e8-aa14a633906f",
    "version": 4
}"#;

    const PBKDF2_VECTOR: &str = r#"{
    "crypto": {
        "kdf": {
            "function": "pbkdf2",
            "params": {
                "dklen": 32,
                "c": 262144,
                "prf": "hmac-sha256",
                "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
            },
            "message": ""
        },
        "checksum": {
            "function": "sha256",
            "params": {},
            "message": "8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1"
        },
        "cipher": {
            "function": "aes-128-ctr",
            "params": {
                "iv": "264daa3f303d7259501c93d997d84fe6"
            },
            "message": "cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad"
        }
    },
    "description": "This is a test keystore that uses PBKDF2 to secure the secret.",
    "pubkey": "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
    "path": "m/12381/60/0/0",
    "uuid": "64625def-3331-4eea-ab6f-782f3ed16a83",
    "version": 4
}"#;

    fn secret() -> Vec<u8> {
        hex::decode(VECTOR_SECRET).unwrap()
    }

    fn pubkey() -> Vec<u8> {
        hex::decode(VECTOR_PUBKEY).unwrap()
    }

    fn light_keystore(password: &str) -> Keystore {
        Keystore::encrypt(&secret(), &pubkey(), "m/12381/3600/0/0/0", password, KdfChoice::insecure_fast()).unwrap()
    }

    /// A light keystore's JSON with one edit applied.
    fn edited(edit: impl FnOnce(&mut Value)) -> String {
        let mut doc: Value = serde_json::from_str(&light_keystore("pw").to_json().unwrap()).unwrap();
        edit(&mut doc);
        doc.to_string()
    }

    #[test]
    fn scrypt_test_vector_decrypts() {
        let keystore = Keystore::from_json(SCRYPT_VECTOR).unwrap();
        assert_eq!(keystore.kdf(), KdfChoice::STANDARD);
        assert_eq!(keystore.path(), "m/12381/60/3141592653/589793238");
        assert_eq!(&keystore.pubkey()[..], &pubkey()[..]);
        assert_eq!(*keystore.decrypt(VECTOR_PASSWORD).unwrap(), secret());
    }

    #[test]
    fn pbkdf2_test_vector_decrypts() {
        let keystore = Keystore::from_json(PBKDF2_VECTOR).unwrap();
        assert_eq!(keystore.kdf(), KdfChoice::Pbkdf2 { c: 262144 });
        assert_eq!(keystore.uuid(), Uuid::parse_str("64625def-3331-4eea-ab6f-782f3ed16a83").unwrap());
        assert_eq!(*keystore.decrypt(VECTOR_PASSWORD).unwrap(), secret());
    }

    #[test]
    fn test_vectors_survive_a_json_round_trip() {
        for vector in [SCRYPT_VECTOR, PBKDF2_VECTOR] {
            let written = Keystore::from_json(vector).unwrap().to_json().unwrap();
            let expected: Value = serde_json::from_str(vector).unwrap();
            let actual: Value = serde_json::from_str(&written).unwrap();
            assert_eq!(actual, expected);
            assert_eq!(Keystore::from_json(&written).unwrap(), Keystore::from_json(vector).unwrap());
        }
    }

    #[test]
    fn encrypt_then_decrypt_round_trips_with_both_kdfs() {
        for kdf in [KdfChoice::insecure_fast(), KdfChoice::Pbkdf2 { c: 16 }] {
            let keystore = Keystore::encrypt(&secret(), &pubkey(), "", "hunter2", kdf).unwrap();
            let reparsed = Keystore::from_json(&keystore.to_json().unwrap()).unwrap();
            assert_eq!(reparsed, keystore);
            assert_eq!(*reparsed.decrypt("hunter2").unwrap(), secret());
        }
    }

    #[test]
    fn new_keystores_have_fresh_randomness_and_the_eip_shape() {
        let a = light_keystore("pw");
        let b = light_keystore("pw");
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.iv, b.iv);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_ne!(a.uuid(), b.uuid());
        assert_eq!(a.uuid().get_version_num(), 4);

        let doc: Value = serde_json::from_str(&a.to_json().unwrap()).unwrap();
        assert_eq!(doc["version"], json!(4));
        assert_eq!(doc["pubkey"], json!(VECTOR_PUBKEY));
        assert_eq!(doc["path"], json!("m/12381/3600/0/0/0"));
        assert_eq!(doc["description"], json!(""));
        assert_eq!(doc["crypto"]["kdf"]["function"], json!("scrypt"));
        assert_eq!(doc["crypto"]["kdf"]["params"]["n"], json!(1024));
        assert_eq!(doc["crypto"]["kdf"]["params"]["dklen"], json!(32));
        assert_eq!(doc["crypto"]["kdf"]["message"], json!(""));
        assert_eq!(doc["crypto"]["kdf"]["params"]["salt"].as_str().unwrap().len(), 64);
        assert_eq!(doc["crypto"]["checksum"]["function"], json!("sha256"));
        assert_eq!(doc["crypto"]["checksum"]["params"], json!({}));
        assert_eq!(doc["crypto"]["cipher"]["function"], json!("aes-128-ctr"));
        assert_eq!(doc["crypto"]["cipher"]["params"]["iv"].as_str().unwrap().len(), 32);
        assert_eq!(doc["crypto"]["cipher"]["message"].as_str().unwrap().len(), 64);

        let described = a.with_description("keeper 1");
        assert!(described.to_json().unwrap().contains("\"description\": \"keeper 1\""));
    }

    #[test]
    fn standard_kdf_is_written_with_the_eip_parameters() {
        // Built by hand: deriving with the standard parameters is the expensive part and
        // the vectors already cover it.
        let mut keystore = light_keystore("pw");
        keystore.kdf = KdfChoice::default();
        let doc: Value = serde_json::from_str(&keystore.to_json().unwrap()).unwrap();
        let params = &doc["crypto"]["kdf"]["params"];
        assert_eq!(
            (params["n"].clone(), params["r"].clone(), params["p"].clone()),
            (json!(262144), json!(8), json!(1))
        );
    }

    #[test]
    fn wrong_password_is_rejected() {
        let keystore = light_keystore("correct horse");
        assert!(matches!(keystore.decrypt("battery staple"), Err(KeystoreError::WrongPassword)));
        assert!(matches!(keystore.decrypt(""), Err(KeystoreError::WrongPassword)));
    }

    #[test]
    fn control_characters_in_the_password_are_ignored() {
        let keystore = light_keystore("pass\u{7f}word\n");
        assert_eq!(*keystore.decrypt("password").unwrap(), secret());
        let keystore = light_keystore("password");
        assert_eq!(*keystore.decrypt("\u{0}pass\u{9f}word\r\n").unwrap(), secret());
        // Space is a real character, not a control code.
        assert!(matches!(keystore.decrypt("pass word"), Err(KeystoreError::WrongPassword)));
    }

    #[test]
    fn tampered_checksum_or_ciphertext_is_rejected() {
        let flip_first_nibble = |s: &str| {
            let first = if s.starts_with('0') { '1' } else { '0' };
            format!("{first}{}", &s[1..])
        };
        for field in ["checksum", "cipher"] {
            let json = edited(|doc| {
                let message = &mut doc["crypto"][field]["message"];
                *message = json!(flip_first_nibble(message.as_str().unwrap()));
            });
            let keystore = Keystore::from_json(&json).unwrap();
            assert!(matches!(keystore.decrypt("pw"), Err(KeystoreError::WrongPassword)), "tampered {field}");
        }
    }

    #[test]
    fn malformed_json_is_rejected() {
        assert!(matches!(Keystore::from_json("{ \"crypto\": "), Err(KeystoreError::MalformedJson(_))));
        assert!(matches!(Keystore::from_json("[]"), Err(KeystoreError::InvalidField { .. })));
    }

    fn unsupported_field(json: &str) -> (String, String) {
        match Keystore::from_json(json) {
            Err(KeystoreError::UnsupportedFunction { field, found, .. }) => (field, found),
            other => panic!("expected UnsupportedFunction, got {other:?}"),
        }
    }

    #[test]
    fn unknown_functions_are_rejected_naming_the_field() {
        let json = edited(|doc| doc["crypto"]["kdf"]["function"] = json!("argon2id"));
        assert_eq!(unsupported_field(&json), ("crypto.kdf.function".into(), "argon2id".into()));
        let json = edited(|doc| doc["crypto"]["checksum"]["function"] = json!("keccak256"));
        assert_eq!(unsupported_field(&json).0, "crypto.checksum.function");
        let json = edited(|doc| doc["crypto"]["cipher"]["function"] = json!("aes-256-gcm"));
        assert_eq!(unsupported_field(&json).0, "crypto.cipher.function");
    }

    fn invalid_field(json: &str) -> String {
        match Keystore::from_json(json) {
            Err(KeystoreError::InvalidField { field, .. }) => field,
            other => panic!("expected InvalidField, got {other:?}"),
        }
    }

    #[test]
    fn wrong_param_types_are_rejected_naming_the_field() {
        let json = edited(|doc| doc["crypto"]["kdf"]["params"]["n"] = json!("1024"));
        assert_eq!(invalid_field(&json), "crypto.kdf.params.n");
        let json = edited(|doc| doc["crypto"]["kdf"]["params"]["salt"] = json!("not hex"));
        assert_eq!(invalid_field(&json), "crypto.kdf.params.salt");
        let json = edited(|doc| doc["crypto"]["cipher"]["params"]["iv"] = json!(7));
        assert_eq!(invalid_field(&json), "crypto.cipher.params.iv");
        let json = edited(|doc| doc["crypto"]["cipher"]["params"]["iv"] = json!("00ff"));
        assert_eq!(invalid_field(&json), "crypto.cipher.params.iv");
        let json = edited(|doc| doc["crypto"]["checksum"]["params"] = json!([]));
        assert_eq!(invalid_field(&json), "crypto.checksum.params");
        let json = edited(|doc| doc["crypto"]["kdf"]["params"]["dklen"] = json!(64));
        assert_eq!(invalid_field(&json), "crypto.kdf.params.dklen");
    }

    #[test]
    fn other_bad_fields_are_rejected_naming_the_field() {
        let json = edited(|doc| doc["pubkey"] = json!(format!("0x{VECTOR_PUBKEY}")));
        assert_eq!(invalid_field(&json), "pubkey");
        let json = edited(|doc| doc["pubkey"] = json!("9612d7a7"));
        assert_eq!(invalid_field(&json), "pubkey");
        let json = edited(|doc| doc["path"] = json!("m/12381/x"));
        assert_eq!(invalid_field(&json), "path");
        let json = edited(|doc| doc["uuid"] = json!("not-a-uuid"));
        assert_eq!(invalid_field(&json), "uuid");
        let json = edited(|doc| doc["description"] = json!(5));
        assert_eq!(invalid_field(&json), "description");
        let json = edited(|doc| doc["crypto"]["cipher"]["message"] = json!("00"));
        assert_eq!(invalid_field(&json), "crypto.cipher.message");

        for (edit, missing) in [
            (
                Box::new(|doc: &mut Value| {
                    doc.as_object_mut().unwrap().remove("path");
                }) as Box<dyn FnOnce(&mut Value)>,
                "path",
            ),
            (
                Box::new(|doc: &mut Value| {
                    doc["crypto"]["kdf"].as_object_mut().unwrap().remove("params");
                }),
                "crypto.kdf.params",
            ),
        ] {
            match Keystore::from_json(&edited(edit)) {
                Err(KeystoreError::MissingField { field }) => assert_eq!(field, missing),
                other => panic!("expected MissingField {missing}, got {other:?}"),
            }
        }

        // Unknown extra fields (some tools add a `name`) are tolerated.
        let json = edited(|doc| doc["name"] = json!("validator 7"));
        assert!(Keystore::from_json(&json).is_ok());
    }

    #[test]
    fn wrong_version_is_rejected() {
        for version in [json!(3), json!("4"), json!(4.5)] {
            let json = edited(|doc| doc["version"] = version.clone());
            match Keystore::from_json(&json) {
                Err(KeystoreError::UnsupportedVersion { expected: 4, .. }) => {}
                other => panic!("version {version}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn encrypt_rejects_bad_inputs() {
        let kdf = KdfChoice::insecure_fast();
        let cases = [
            Keystore::encrypt(&secret()[1..], &pubkey(), "", "pw", kdf),
            Keystore::encrypt(&secret(), &pubkey()[1..], "", "pw", kdf),
            Keystore::encrypt(&secret(), &pubkey(), "m/12381/+1", "pw", kdf),
            Keystore::encrypt(&secret(), &pubkey(), "12381/1", "pw", kdf),
            Keystore::encrypt(&secret(), &pubkey(), "m//1", "pw", kdf),
            Keystore::encrypt(&secret(), &pubkey(), "", "pw", KdfChoice::Pbkdf2 { c: 0 }),
            Keystore::encrypt(&secret(), &pubkey(), "", "pw", KdfChoice::Scrypt { log_n: 0, r: 8, p: 1 }),
        ];
        for (i, case) in cases.into_iter().enumerate() {
            assert!(matches!(case, Err(KeystoreError::InvalidInput { .. })), "case {i}: {case:?}");
        }
        assert!(Keystore::encrypt(&secret(), &pubkey(), "m", "pw", kdf).is_ok());
    }

    #[test]
    fn debug_output_contains_no_secret() {
        let keystore = light_keystore("pw");
        let secret = keystore.decrypt("pw").unwrap();
        let secret_hex = hex::encode(&*secret);
        let outputs = [
            format!("{keystore:?}"),
            format!("{keystore:#?}"),
            format!("{secret:?}"),
            format!("{:?}", keystore.decrypt("wrong")),
        ];
        for output in outputs {
            assert!(!output.contains(&secret_hex), "{output}");
            assert!(!output.contains(&format!("{:?}", &secret[..8])), "{output}");
        }
        assert!(format!("{keystore:?}").contains(VECTOR_PUBKEY));
    }

    #[test]
    fn files_are_private_and_not_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("keys/bls/keystore.json");
        let keystore = light_keystore("pw");
        keystore.write_to(&dest, WriteMode::CreateNew).unwrap();
        assert_eq!(mode_of(&dest), 0o600);
        assert_eq!(mode_of(dest.parent().unwrap()), 0o700);
        assert_eq!(mode_of(&root.path().join("keys")), 0o700);

        let read = Keystore::read_from(&dest).unwrap();
        assert_eq!(read, keystore);
        assert_eq!(*read.decrypt("pw").unwrap(), secret());

        let other = light_keystore("other");
        assert!(matches!(other.write_to(&dest, WriteMode::CreateNew), Err(KeystoreError::AlreadyExists { .. })));
        assert_eq!(Keystore::read_from(&dest).unwrap(), keystore);
        other.write_to(&dest, WriteMode::Replace).unwrap();
        assert_eq!(Keystore::read_from(&dest).unwrap(), other);
        assert_eq!(mode_of(&dest), 0o600);

        assert!(matches!(Keystore::read_from(root.path().join("absent.json")), Err(KeystoreError::NotFound { .. })));
    }
}
