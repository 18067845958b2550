//! Encrypted key files: EIP-2335 (version 4) keystores for BLS12-381 secret keys and
//! Web3 Secret Storage (version 3) keystores for ECDSA operator keys.
//!
//! - [`eip2335`]: [`Keystore`] encrypts and decrypts BLS secrets as raw bytes; it does not
//!   link against any BLS library, so callers check that a decrypted secret matches
//!   [`Keystore::pubkey`].
//! - [`ecdsa`]: creates, imports and loads secp256k1 operator keys through alloy's
//!   `eth-keystore` integration.
//! - [`file`](mod@file): how key files reach the disk (mode 0600 from the first byte, parents 0700,
//!   atomic rename, no silent overwrite). Both formats go through it.
//!
//! Every failure is a [`KeystoreError`]; a wrong password is always
//! [`KeystoreError::WrongPassword`], whatever the format.

mod bls;
pub mod ecdsa;
pub mod eip2335;
pub mod file;

mod fields;
mod kdf;
mod password;
pub mod prompt;

use std::{io, path::PathBuf};

pub use eip2335::Keystore;
pub use file::WriteMode;
pub use kdf::KdfChoice;

/// Result of every keystore operation.
pub type Result<T, E = KeystoreError> = std::result::Result<T, E>;

/// Why a keystore could not be created, read, parsed or decrypted.
///
/// No variant ever carries secret material: field errors quote only the offending
/// non-secret value or its JSON type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The password does not open this keystore. The checksum (EIP-2335) or MAC (v3) that
    /// proves the password also covers the ciphertext, so an altered checksum or
    /// ciphertext is indistinguishable from a wrong password and lands here too.
    #[error("wrong password for keystore (or its checksum or ciphertext was altered)")]
    WrongPassword,

    /// The keystore file does not exist.
    #[error("keystore file {} does not exist", path.display())]
    NotFound { path: PathBuf },

    /// A keystore file is already at the destination and the caller did not ask to
    /// replace it.
    #[error("keystore file {} already exists; refusing to overwrite it", path.display())]
    AlreadyExists { path: PathBuf },

    /// The file is far larger than any keystore, so it is not read into memory.
    #[error("{} is larger than {limit} bytes, too large to be a keystore", path.display())]
    TooLarge { path: PathBuf, limit: u64 },

    /// An I/O operation on a key file or its directory failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The keystore text is not JSON at all.
    #[error("keystore is not valid JSON: {0}")]
    MalformedJson(#[source] serde_json::Error),

    /// A required JSON field is absent (`field` is its dotted path, e.g. `crypto.kdf.params`).
    #[error("keystore field `{field}` is missing")]
    MissingField { field: String },

    /// A JSON field is present but has the wrong type or an unacceptable value.
    #[error("keystore field `{field}` is invalid: {reason}")]
    InvalidField { field: String, reason: String },

    /// A module names a KDF, checksum, cipher or PRF this implementation does not know.
    #[error("keystore field `{field}` names unsupported function `{found}` (supported: {supported})")]
    UnsupportedFunction { field: String, found: String, supported: String },

    /// The `version` field is not the one this format requires.
    #[error("keystore field `version` is {found}, expected {expected}")]
    UnsupportedVersion { found: String, expected: u32 },

    /// An argument given to create a keystore is unusable (wrong key length, bad KDF
    /// parameters, malformed derivation path).
    #[error("invalid {what}: {reason}")]
    InvalidInput { what: &'static str, reason: String },

    /// alloy's local signer failed in a way not covered above (e.g. the decrypted bytes are
    /// not a valid secp256k1 scalar).
    #[error("ECDSA keystore operation failed: {0}")]
    Signer(#[source] alloy::signers::local::LocalSignerError),

    /// The keystore could not be serialised to JSON.
    #[error("could not encode keystore as JSON: {0}")]
    Encode(#[source] serde_json::Error),
}
