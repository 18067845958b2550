//! `keeperctl keys ...`: create and inspect keystores.

use eyre::WrapErr;
use keeper_shared::bls::{PublicKey, SecretKey};
use keeper_shared::keystore::{ecdsa, KdfChoice, Keystore, KeystoreError, WriteMode};
use serde::Serialize;

use crate::cli::{Kdf, NewKeyArgs, ShowArgs};
use keeper_shared::keystore::prompt::{read_password, Purpose};

/// What the key commands print (as JSON with --json).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyInfo {
    kind: &'static str,
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

impl KeyInfo {
    fn print(&self, json: bool) -> eyre::Result<()> {
        if json {
            println!("{}", serde_json::to_string(self)?);
        } else {
            let id = self.public_key.as_deref().or(self.address.as_deref()).unwrap_or_default();
            println!("{} key {id} in {}", self.kind, self.file);
        }
        Ok(())
    }
}

pub fn new_bls(args: &NewKeyArgs, json: bool) -> eyre::Result<()> {
    let password = read_password(args.password.password_file.as_deref(), Purpose::New)?;
    let key = SecretKey::random(&mut rand::rngs::OsRng);
    let kdf = match args.kdf {
        Kdf::Scrypt => KdfChoice::STANDARD,
        Kdf::Pbkdf2 => KdfChoice::Pbkdf2 { c: 262_144 },
    };
    Keystore::from_secret_key(&key, "", &password, kdf)?
        .write_to(&args.out, WriteMode::CreateNew)
        .wrap_err_with(|| format!("writing --out {}", args.out.display()))?;
    KeyInfo {
        kind: "bls",
        file: args.out.display().to_string(),
        public_key: Some(key.public_key().to_string()),
        address: None,
    }
    .print(json)
}

pub fn new_ecdsa(args: &NewKeyArgs, json: bool) -> eyre::Result<()> {
    let password = read_password(args.password.password_file.as_deref(), Purpose::New)?;
    let signer = ecdsa::create(&args.out, &password, WriteMode::CreateNew)
        .wrap_err_with(|| format!("writing --out {}", args.out.display()))?;
    KeyInfo {
        kind: "ecdsa",
        file: args.out.display().to_string(),
        public_key: None,
        address: Some(signer.address().to_checksum(None)),
    }
    .print(json)
}

pub fn show(args: &ShowArgs, json: bool) -> eyre::Result<()> {
    let file = args.file.display().to_string();
    // An EIP-2335 keystore names its public key in clear; anything else is tried as an ECDSA keystore.
    match Keystore::read_from(&args.file) {
        Ok(keystore) => {
            let public_key = PublicKey::from_compressed(keystore.pubkey())
                .wrap_err_with(|| format!("{file}: field `pubkey`"))?
                .to_string();
            return KeyInfo { kind: "bls", file, public_key: Some(public_key), address: None }.print(json);
        }
        Err(KeystoreError::UnsupportedVersion { .. }) => {}
        Err(err) => return Err(err).wrap_err_with(|| format!("reading {file}")),
    }
    let password = read_password(args.password.password_file.as_deref(), Purpose::Existing)?;
    let signer = ecdsa::load(&args.file, &password).wrap_err_with(|| format!("opening {file}"))?;
    KeyInfo { kind: "ecdsa", file, public_key: None, address: Some(signer.address().to_checksum(None)) }.print(json)
}
