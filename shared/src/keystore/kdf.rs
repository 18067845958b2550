//! Password-based key derivation and the AES-128-CTR cipher shared by both keystore formats.
//!
//! EIP-2335 and Web3 Secret Storage name their KDF parameters identically (`dklen`, `n`,
//! `r`, `p`, `salt` for scrypt; `c`, `dklen`, `prf`, `salt` for PBKDF2), so one reader
//! validates both, including files that `eth-keystore` would otherwise panic on.

use aes::cipher::{KeyIvInit, StreamCipher};
use serde::Serialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{fields::JsonObject, KeystoreError, Result};

/// Length of the derived key: 16 bytes of AES-128 key, then 16 bytes for the checksum.
pub(crate) const DERIVED_KEY_LEN: usize = 32;
/// The AES-128 key: the derived key's first half.
pub(crate) const AES_KEY_LEN: usize = 16;
/// Length of the AES-128-CTR initialisation vector.
pub(crate) const IV_LEN: usize = 16;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Encrypts or decrypts `data` in place with AES-128-CTR under the derived key's first 16 bytes,
/// as both EIP-2335 and Web3 Secret Storage do.
pub(crate) fn apply_keystream(key: &[u8; DERIVED_KEY_LEN], iv: &[u8; IV_LEN], data: &mut [u8]) {
    Aes128Ctr::new(key[..AES_KEY_LEN].into(), iv.into()).apply_keystream(data);
}

/// A KDF's parameters as both formats write them (EIP-2335's `kdf.params`, Web3 Secret Storage's
/// `kdfparams`).
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum KdfParamsJson {
    Scrypt { dklen: usize, n: u32, p: u32, r: u32, salt: String },
    Pbkdf2 { dklen: usize, c: u32, prf: &'static str, salt: String },
}

/// Upper bound on the memory an scrypt derivation may ask for (128·r·n bytes). The
/// standard 2^18, r = 8 needs 256 MiB; without a bound a hostile or corrupt file could
/// request more memory than exists, and a failed allocation aborts the process instead
/// of returning an error.
const MAX_SCRYPT_MEMORY: u64 = 2 << 30;

const PBKDF2_PRF: &str = "hmac-sha256";

/// Which KDF, with which cost parameters, protects a keystore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfChoice {
    /// scrypt with n = 2^`log_n`.
    Scrypt { log_n: u8, r: u32, p: u32 },
    /// PBKDF2 with HMAC-SHA256 and `c` iterations.
    Pbkdf2 { c: u32 },
}

impl Default for KdfChoice {
    /// [`KdfChoice::STANDARD`].
    fn default() -> Self {
        Self::STANDARD
    }
}

impl KdfChoice {
    /// scrypt n = 262144, r = 8, p = 1: the parameters of the EIP-2335 test vector and of
    /// the keystores the staking deposit tools write. About a second per derivation.
    pub const STANDARD: Self = Self::Scrypt { log_n: 18, r: 8, p: 1 };

    /// scrypt n = 1024, r = 8, p = 1: about a millisecond per derivation.
    ///
    /// For tests only: it makes brute-forcing the password 256 times cheaper than
    /// [`KdfChoice::STANDARD`].
    pub const fn insecure_fast() -> Self {
        Self::Scrypt { log_n: 10, r: 8, p: 1 }
    }

    /// Rejects parameters that cannot work or would exhaust memory.
    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        match *self {
            Self::Scrypt { log_n, r, p } => scrypt_params(log_n, r, p).map(|_| ()),
            Self::Pbkdf2 { c: 0 } => Err("PBKDF2 needs at least one iteration"),
            Self::Pbkdf2 { .. } => Ok(()),
        }
    }

    /// Derives the 32-byte decryption key from the processed password and the salt.
    pub(crate) fn derive(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; DERIVED_KEY_LEN]>> {
        let mut key = Zeroizing::new([0u8; DERIVED_KEY_LEN]);
        match *self {
            Self::Scrypt { log_n, r, p } => {
                let params = scrypt_params(log_n, r, p).map_err(invalid_kdf)?;
                scrypt::scrypt(password, salt, &params, key.as_mut_slice()).map_err(|e| invalid_kdf(&e.to_string()))?;
            }
            Self::Pbkdf2 { c } => {
                if c == 0 {
                    return Err(invalid_kdf("PBKDF2 needs at least one iteration"));
                }
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, c, key.as_mut_slice());
            }
        }
        Ok(key)
    }

    /// Reads and validates the KDF named `function` (found at `function_field`) with its
    /// `params` object; returns the choice and the salt.
    pub(crate) fn read(function: &str, function_field: String, params: &JsonObject<'_>) -> Result<(Self, Vec<u8>)> {
        let choice = match function {
            "scrypt" => {
                let n = params.u32("n")?;
                if n < 2 || !n.is_power_of_two() {
                    return Err(params.invalid("n", format!("{n} is not a power of two above 1")));
                }
                let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| params.invalid("n", "out of range"))?;
                let r = params.u32("r")?;
                if r == 0 {
                    return Err(params.invalid("r", "must be at least 1"));
                }
                let p = params.u32("p")?;
                if p == 0 {
                    return Err(params.invalid("p", "must be at least 1"));
                }
                scrypt_params(log_n, r, p).map_err(|reason| params.invalid("n", reason))?;
                Self::Scrypt { log_n, r, p }
            }
            "pbkdf2" => {
                let prf = params.string("prf")?;
                if prf != PBKDF2_PRF {
                    return Err(KeystoreError::UnsupportedFunction {
                        field: params.path_of("prf"),
                        found: prf.to_owned(),
                        supported: PBKDF2_PRF.to_owned(),
                    });
                }
                let c = params.u32("c")?;
                if c == 0 {
                    return Err(params.invalid("c", "PBKDF2 needs at least one iteration"));
                }
                Self::Pbkdf2 { c }
            }
            other => {
                return Err(KeystoreError::UnsupportedFunction {
                    field: function_field,
                    found: other.to_owned(),
                    supported: "scrypt, pbkdf2".to_owned(),
                })
            }
        };
        let dklen = params.u32("dklen")?;
        if dklen as usize != DERIVED_KEY_LEN {
            return Err(params
                .invalid("dklen", format!("must be {DERIVED_KEY_LEN} (AES-128 key + checksum key), found {dklen}")));
        }
        let salt = params.hex("salt")?;
        Ok((choice, salt))
    }

    /// The parameters to write beside `salt`.
    pub(crate) fn params_json(&self, salt: &[u8]) -> KdfParamsJson {
        match *self {
            Self::Scrypt { log_n, r, p } => {
                KdfParamsJson::Scrypt { dklen: DERIVED_KEY_LEN, n: 1u32 << log_n, p, r, salt: hex::encode(salt) }
            }
            Self::Pbkdf2 { c } => {
                KdfParamsJson::Pbkdf2 { dklen: DERIVED_KEY_LEN, c, prf: PBKDF2_PRF, salt: hex::encode(salt) }
            }
        }
    }

    /// The JSON `function` name.
    pub(crate) fn function_name(&self) -> &'static str {
        match self {
            Self::Scrypt { .. } => "scrypt",
            Self::Pbkdf2 { .. } => "pbkdf2",
        }
    }
}

fn scrypt_params(log_n: u8, r: u32, p: u32) -> Result<scrypt::Params, &'static str> {
    if log_n == 0 || log_n >= 32 {
        return Err("scrypt n must be a power of two between 2 and 2^31");
    }
    if r == 0 || p == 0 {
        return Err("scrypt r and p must be at least 1");
    }
    let memory = 128u64 * u64::from(r) * (1u64 << log_n);
    if memory > MAX_SCRYPT_MEMORY {
        return Err("scrypt n·r asks for more than 2 GiB of memory");
    }
    scrypt::Params::new(log_n, r, p, DERIVED_KEY_LEN).map_err(|_| "scrypt rejects these parameters (r·p too large)")
}

fn invalid_kdf(reason: &str) -> KeystoreError {
    KeystoreError::InvalidInput { what: "KDF parameters", reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(doc: serde_json::Value) -> Result<(KdfChoice, Vec<u8>)> {
        let root = JsonObject::root(&doc).unwrap();
        let function = root.string("function").unwrap();
        KdfChoice::read(function, root.path_of("function"), &root.object("params")?)
    }

    #[test]
    fn standard_is_the_eip2335_vector_parameters() {
        assert_eq!(KdfChoice::default(), KdfChoice::Scrypt { log_n: 18, r: 8, p: 1 });
        assert!(KdfChoice::STANDARD.validate().is_ok());
        assert!(KdfChoice::insecure_fast().validate().is_ok());
    }

    #[test]
    fn pbkdf2_matches_rfc7914_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64),
        // first 32 bytes.
        let key = KdfChoice::Pbkdf2 { c: 1 }.derive(b"passwd", b"salt").unwrap();
        assert_eq!(hex::encode(*key), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
    }

    #[test]
    fn scrypt_matches_rfc7914_vector() {
        // RFC 7914 section 12: scrypt (P="password", S="NaCl", N=1024, r=8, p=16,
        // dkLen=64), first 32 bytes.
        let key = KdfChoice::Scrypt { log_n: 10, r: 8, p: 16 }.derive(b"password", b"NaCl").unwrap();
        assert_eq!(hex::encode(*key), "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162");
    }

    #[test]
    fn reads_both_kdfs() {
        let (choice, salt) = read(json!({
            "function": "scrypt",
            "params": { "dklen": 32, "n": 1024, "r": 8, "p": 1, "salt": "abcd" }
        }))
        .unwrap();
        assert_eq!(choice, KdfChoice::insecure_fast());
        assert_eq!(salt, [0xab, 0xcd]);
        let (choice, _) = read(json!({
            "function": "pbkdf2",
            "params": { "dklen": 32, "c": 7, "prf": "hmac-sha256", "salt": "" }
        }))
        .unwrap();
        assert_eq!(choice, KdfChoice::Pbkdf2 { c: 7 });
    }

    fn invalid_field(result: Result<(KdfChoice, Vec<u8>)>) -> String {
        match result {
            Err(KeystoreError::InvalidField { field, .. }) => field,
            other => panic!("expected InvalidField, got {other:?}"),
        }
    }

    #[test]
    fn rejects_bad_scrypt_params() {
        let scrypt = |n: serde_json::Value, r: u32, dklen: u32| {
            read(json!({
                "function": "scrypt",
                "params": { "dklen": dklen, "n": n, "r": r, "p": 1, "salt": "00" }
            }))
        };
        assert_eq!(invalid_field(scrypt(json!(1000), 8, 32)), "params.n");
        assert_eq!(invalid_field(scrypt(json!(1), 8, 32)), "params.n");
        assert_eq!(invalid_field(scrypt(json!("1024"), 8, 32)), "params.n");
        // 2^22 · 8 · 128 bytes = 4 GiB: refused before allocating.
        assert_eq!(invalid_field(scrypt(json!(1u32 << 22), 8, 32)), "params.n");
        assert_eq!(invalid_field(scrypt(json!(1024), 0, 32)), "params.r");
        assert_eq!(invalid_field(scrypt(json!(1024), 8, 16)), "params.dklen");
    }

    #[test]
    fn rejects_unknown_kdf_and_prf() {
        match read(json!({ "function": "argon2id", "params": {} })) {
            Err(KeystoreError::UnsupportedFunction { field, found, .. }) => {
                assert_eq!((field.as_str(), found.as_str()), ("function", "argon2id"));
            }
            other => panic!("unexpected {other:?}"),
        }
        match read(json!({
            "function": "pbkdf2",
            "params": { "dklen": 32, "c": 7, "prf": "hmac-sha512", "salt": "" }
        })) {
            Err(KeystoreError::UnsupportedFunction { field, .. }) => assert_eq!(field, "params.prf"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            invalid_field(read(json!({
                "function": "pbkdf2",
                "params": { "dklen": 32, "c": 0, "prf": "hmac-sha256", "salt": "" }
            }))),
            "params.c"
        );
    }
}
