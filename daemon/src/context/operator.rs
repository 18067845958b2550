//! The operator's keys: the ECDSA key that names the operator and signs its transactions, and the
//! BLS key a keeper signs batches with, unlocked from their keystores at start.

use std::sync::Arc;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use eyre::WrapErr;
use keeper_shared::bls::SecretKey;
use keeper_shared::keystore::prompt::{read_password, Purpose};
use keeper_shared::keystore::{ecdsa, Keystore};

use crate::config::{Config, OperatorKeys};

/// The operator this instance acts for.
#[derive(Clone)]
pub struct Operator {
    /// The operator's address (its ECDSA key's).
    pub address: Address,
    /// Signs the operator's transactions.
    pub signer: PrivateKeySigner,
    /// Signs batches (keepers only).
    pub bls: Option<Arc<SecretKey>>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("address", &self.address)
            .field("bls", &self.bls.as_ref().map(|k| k.public_key().to_string()))
            .finish()
    }
}

/// Unlocks the operator's keystores, if the configuration names them.
pub fn unlock_operator(config: &Config) -> eyre::Result<Option<Operator>> {
    config.operator.as_ref().map(unlock).transpose()
}

/// Unlocks `keys`: one password for both keystores unless the BLS keystore has its own.
pub fn unlock(keys: &OperatorKeys) -> eyre::Result<Operator> {
    let password = read_password(keys.password_file.as_deref(), Purpose::Existing)?;
    let signer = ecdsa::load(&keys.ecdsa_keystore, &password)
        .wrap_err_with(|| format!("operator.ecdsa_keystore {}", keys.ecdsa_keystore.display()))?;
    let bls = match &keys.bls_keystore {
        Some(path) => {
            let keystore =
                Keystore::read_from(path).wrap_err_with(|| format!("operator.bls_keystore {}", path.display()))?;
            let own = keys.bls_password_file.as_deref().map(|file| read_password(Some(file), Purpose::Existing));
            let bls_password = match own {
                Some(read) => read.wrap_err("operator.bls_password_file")?,
                None => password.clone(),
            };
            let key = keystore
                .decrypt_secret_key(&bls_password)
                .wrap_err_with(|| format!("operator.bls_keystore {}", path.display()))?;
            Some(Arc::new(key))
        }
        None => None,
    };
    Ok(Operator { address: signer.address(), signer, bls })
}

#[cfg(test)]
mod tests {
    use keeper_shared::keystore::{KdfChoice, WriteMode};

    use super::*;

    /// The BLS keystore may have its own password: `bls_password_file` unlocks it while the ECDSA
    /// keystore keeps `password_file`; without it one password opens both.
    #[test]
    fn the_bls_keystore_can_have_its_own_password() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let fast = KdfChoice::insecure_fast();
        let signer = ecdsa::import(dir.join("op.json"), &[7u8; 32], "ecdsa-pw", fast, WriteMode::Replace).unwrap();
        let key = SecretKey::random(&mut rand::rngs::OsRng);
        Keystore::from_secret_key(&key, "", "bls-pw", fast)
            .unwrap()
            .write_to(dir.join("bls.json"), WriteMode::Replace)
            .unwrap();
        std::fs::write(dir.join("pw"), "ecdsa-pw\n").unwrap();
        std::fs::write(dir.join("bls-pw"), "bls-pw\n").unwrap();

        let own = OperatorKeys {
            ecdsa_keystore: dir.join("op.json"),
            bls_keystore: Some(dir.join("bls.json")),
            password_file: Some(dir.join("pw")),
            bls_password_file: Some(dir.join("bls-pw")),
        };
        let operator = unlock(&own).unwrap();
        assert_eq!(operator.address, signer.address());
        assert_eq!(operator.bls.unwrap().public_key(), key.public_key());

        let shared = OperatorKeys { bls_password_file: None, ..own };
        let error = format!("{:#}", unlock(&shared).unwrap_err());
        assert!(error.contains("operator.bls_keystore"), "one password for both fails on the BLS keystore: {error}");
    }
}
