//! The bridge between EIP-2335 keystores (which hold raw secret bytes) and BLS keys: the only
//! place a BLS secret key goes into or comes out of a keystore.

use super::eip2335::Keystore;
use super::{KdfChoice, KeystoreError, Result};
use crate::bls::SecretKey;

impl Keystore {
    /// Encrypts `key` under `password`; `path` is its EIP-2334 derivation path, or empty.
    pub fn from_secret_key(key: &SecretKey, path: &str, password: &str, kdf: KdfChoice) -> Result<Self> {
        Self::encrypt(key.to_bytes().as_ref(), &key.public_key().to_compressed(), path, password, kdf)
    }

    /// Decrypts the BLS secret key and checks that it is the key the keystore claims to hold.
    pub fn decrypt_secret_key(&self, password: &str) -> Result<SecretKey> {
        let secret = self.decrypt(password)?;
        let key = SecretKey::from_bytes(&secret).map_err(|e| KeystoreError::InvalidField {
            field: "crypto.cipher.message".into(),
            reason: format!("decrypts to no valid BLS secret key ({e})"),
        })?;
        if key.public_key().to_compressed() != *self.pubkey() {
            return Err(KeystoreError::InvalidField {
                field: "pubkey".into(),
                reason: "does not match the decrypted secret key".into(),
            });
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::{SigningDomain, EIP2334_VALIDATOR_PATH};

    #[test]
    fn bls_key_round_trips_through_a_keystore_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys/bls.json");
        let key = SecretKey::derive_path(&[3u8; 32], EIP2334_VALIDATOR_PATH).unwrap();
        let keystore =
            Keystore::from_secret_key(&key, EIP2334_VALIDATOR_PATH, "correct horse", KdfChoice::insecure_fast())
                .unwrap();
        keystore.write_to(&file, Default::default()).unwrap();

        let loaded = Keystore::read_from(&file).unwrap().decrypt_secret_key("correct horse").unwrap();
        assert_eq!(loaded.public_key(), key.public_key());
        let signature = loaded.sign(b"m", SigningDomain::Batch);
        signature.verify(&key.public_key(), b"m", SigningDomain::Batch).unwrap();
        assert!(matches!(
            Keystore::read_from(&file).unwrap().decrypt_secret_key("wrong"),
            Err(KeystoreError::WrongPassword)
        ));
    }

    #[test]
    fn a_keystore_whose_pubkey_lies_is_rejected() {
        let key = SecretKey::derive_master(&[4u8; 32]).unwrap();
        let other = SecretKey::derive_master(&[5u8; 32]).unwrap().public_key();
        let keystore =
            Keystore::encrypt(key.to_bytes().as_ref(), &other.to_compressed(), "", "pw", KdfChoice::insecure_fast())
                .unwrap();
        let err = keystore.decrypt_secret_key("pw").unwrap_err();
        assert!(matches!(err, KeystoreError::InvalidField { ref field, .. } if field == "pubkey"), "{err}");
    }
}
