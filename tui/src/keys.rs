//! `keeperctl keys ...`: create and inspect keystores.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use eyre::WrapErr;
use keeper_shared::bls::{PublicKey, SecretKey};
use keeper_shared::keystore::{ecdsa, KdfChoice, Keystore, KeystoreError, WriteMode};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{ExportArgs, ImportArgs, Kdf, KeyKind, NewKeyArgs, ShowArgs};
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
            crate::output::line(format_args!("{}", serde_json::to_string(self)?));
        } else {
            let id = self.public_key.as_deref().or(self.address.as_deref()).unwrap_or_default();
            crate::output::line(format_args!("{} key {id} in {}", self.kind, self.file));
        }
        Ok(())
    }
}

fn kdf_choice(kdf: Kdf) -> KdfChoice {
    match kdf {
        Kdf::Scrypt => KdfChoice::STANDARD,
        Kdf::Pbkdf2 => KdfChoice::Pbkdf2 { c: 262_144 },
    }
}

pub fn new_bls(args: &NewKeyArgs, json: bool) -> eyre::Result<()> {
    let password = read_password(args.password.password_file.as_deref(), Purpose::New)?;
    let key = SecretKey::random(&mut rand::rngs::OsRng);
    Keystore::from_secret_key(&key, "", &password, kdf_choice(args.kdf))?
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
    let signer = ecdsa::create(&args.out, &password, kdf_choice(args.kdf), WriteMode::CreateNew)
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

/// Reads a hex secret from a file (`-`: stdin); the buffer is wiped when dropped.
fn read_secret(path: &std::path::Path) -> eyre::Result<Zeroizing<Vec<u8>>> {
    let text = Zeroizing::new(if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).wrap_err("reading the secret from stdin")?;
        text
    } else {
        std::fs::read_to_string(path).wrap_err_with(|| format!("reading --secret-file {}", path.display()))?
    });
    let digits = text.trim();
    let digits = digits.strip_prefix("0x").unwrap_or(digits);
    let bytes =
        hex::decode(digits).map_err(|_| eyre::eyre!("--secret-file {}: not a hex secret key", path.display()))?;
    Ok(Zeroizing::new(bytes))
}

pub fn import(args: &ImportArgs, json: bool) -> eyre::Result<()> {
    if let Some(keystore) = &args.keystore {
        return import_keystore(args, keystore, json);
    }
    let Some(secret_file) = &args.secret_file else {
        return Err(eyre::eyre!("name the key: --secret-file or --keystore"));
    };
    let secret = read_secret(secret_file)?;
    let password = read_password(args.password.password_file.as_deref(), Purpose::New)?;
    write_keystore(args, &secret, &password)?.print(json)
}

/// Encrypts `secret` (of `args.kind`) into `args.out` under `password`.
fn write_keystore(args: &ImportArgs, secret: &[u8], password: &str) -> eyre::Result<KeyInfo> {
    let file = args.out.display().to_string();
    Ok(match args.kind {
        KeyKind::Bls => {
            let key = SecretKey::from_bytes(secret).wrap_err("--secret-file: not a BLS12-381 secret key")?;
            Keystore::from_secret_key(&key, "", password, kdf_choice(args.kdf))?
                .write_to(&args.out, WriteMode::CreateNew)
                .wrap_err_with(|| format!("writing --out {file}"))?;
            KeyInfo { kind: "bls", file, public_key: Some(key.public_key().to_string()), address: None }
        }
        KeyKind::Ecdsa => {
            let signer = ecdsa::import(&args.out, secret, password, kdf_choice(args.kdf), WriteMode::CreateNew)
                .wrap_err_with(|| format!("writing --out {file}"))?;
            KeyInfo { kind: "ecdsa", file, public_key: None, address: Some(signer.address().to_checksum(None)) }
        }
    })
}

/// `keys import --keystore`: opens the keystore with its password (which proves it holds the key it
/// names), then copies it unchanged or re-encrypts its secret under the new password.
fn import_keystore(args: &ImportArgs, source: &std::path::Path, json: bool) -> eyre::Result<()> {
    let name = source.display().to_string();
    let old_password = read_password(args.keystore_password_file.as_deref(), Purpose::Existing)
        .wrap_err("the --keystore's password")?;
    let secret = match args.kind {
        KeyKind::Bls => {
            let keystore = Keystore::read_from(source).wrap_err_with(|| format!("--keystore {name}"))?;
            let key = keystore.decrypt_secret_key(&old_password).wrap_err_with(|| format!("--keystore {name}"))?;
            Zeroizing::new(key.to_bytes().to_vec())
        }
        KeyKind::Ecdsa => {
            let signer = ecdsa::load(source, &old_password).wrap_err_with(|| format!("--keystore {name}"))?;
            Zeroizing::new(signer.to_bytes().to_vec())
        }
    };
    if !args.copy {
        let password = read_password(args.password.password_file.as_deref(), Purpose::New)?;
        return write_keystore(args, &secret, &password)?.print(json);
    }
    let text = std::fs::read(source).wrap_err_with(|| format!("reading --keystore {name}"))?;
    write_new_private_file(&args.out, &text)?;
    let file = args.out.display().to_string();
    let info = match args.kind {
        KeyKind::Bls => {
            let key = SecretKey::from_bytes(&secret).wrap_err_with(|| format!("--keystore {name}"))?;
            KeyInfo { kind: "bls", file, public_key: Some(key.public_key().to_string()), address: None }
        }
        KeyKind::Ecdsa => {
            let signer = alloy::signers::local::PrivateKeySigner::from_slice(&secret)
                .wrap_err_with(|| format!("--keystore {name}"))?;
            KeyInfo { kind: "ecdsa", file, public_key: None, address: Some(signer.address().to_checksum(None)) }
        }
    };
    info.print(json)
}

pub fn export(args: &ExportArgs, json: bool) -> eyre::Result<()> {
    let file = args.file.display().to_string();
    let password = read_password(args.password.password_file.as_deref(), Purpose::Existing)?;
    let (info, secret) = match Keystore::read_from(&args.file) {
        Ok(keystore) => {
            let key = keystore.decrypt_secret_key(&password).wrap_err_with(|| format!("opening {file}"))?;
            let public_key = Some(key.public_key().to_string());
            (KeyInfo { kind: "bls", file, public_key, address: None }, Zeroizing::new(key.to_bytes().to_vec()))
        }
        Err(KeystoreError::UnsupportedVersion { .. }) => {
            let signer = ecdsa::load(&args.file, &password).wrap_err_with(|| format!("opening {file}"))?;
            let address = Some(signer.address().to_checksum(None));
            (KeyInfo { kind: "ecdsa", file, public_key: None, address }, Zeroizing::new(signer.to_bytes().to_vec()))
        }
        Err(err) => return Err(err).wrap_err_with(|| format!("reading {file}")),
    };
    let text = Zeroizing::new(format!("0x{}\n", hex::encode(&secret[..])));
    write_new_private_file(&args.out, text.as_bytes())?;
    if !json {
        eprintln!("wrote the secret key to {} (mode 0600): keep it offline", args.out.display());
    }
    info.print(json)
}

/// Writes `contents` to `--out`, a new file of mode 0600 (an existing file is never replaced).
fn write_new_private_file(out: &std::path::Path, contents: &[u8]) -> eyre::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .wrap_err_with(|| format!("creating --out {}", out.display()))?;
    file.write_all(contents).wrap_err_with(|| format!("writing --out {}", out.display()))
}
