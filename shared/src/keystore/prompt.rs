//! Where a keystore password comes from: a file, the environment, or the terminal, in that order.
//! `keeperctl` and `keeperd` both read passwords this way.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Environment variable holding a keystore password (for scripts; a file is safer).
pub const PASSWORD_ENV: &str = "KEEPER_KEYSTORE_PASSWORD";

/// Whether a new password is being chosen (asked twice) or an existing one entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    New,
    Existing,
}

/// Why no password could be had. Never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("reading the password file {}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    #[error("no password: pass --password-file, or set {PASSWORD_ENV}, or run on a terminal to be asked")]
    NoSource,
    #[error("reading the password from the terminal: {0}")]
    Terminal(std::io::Error),
    #[error("password: must not be empty")]
    Empty,
    #[error("password: the two entries differ")]
    Mismatch,
}

/// Reads the password from `file` (one trailing newline dropped), else `$KEEPER_KEYSTORE_PASSWORD`,
/// else the terminal (asked twice for a new password).
pub fn read_password(file: Option<&Path>, purpose: Purpose) -> Result<Zeroizing<String>, PasswordError> {
    let password = if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| PasswordError::File { path: path.to_owned(), source })?,
        );
        Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_owned())
    } else if let Ok(value) = std::env::var(PASSWORD_ENV) {
        Zeroizing::new(value)
    } else if std::io::stdin().is_terminal() {
        prompt(purpose)?
    } else {
        return Err(PasswordError::NoSource);
    };
    if purpose == Purpose::New && password.is_empty() {
        return Err(PasswordError::Empty);
    }
    Ok(password)
}

fn prompt(purpose: Purpose) -> Result<Zeroizing<String>, PasswordError> {
    let first = Zeroizing::new(rpassword::prompt_password("Keystore password: ").map_err(PasswordError::Terminal)?);
    if purpose == Purpose::New {
        let again = Zeroizing::new(rpassword::prompt_password("Repeat password: ").map_err(PasswordError::Terminal)?);
        if *first != *again {
            return Err(PasswordError::Mismatch);
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_wins_and_loses_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret pass\n").unwrap();
        assert_eq!(read_password(Some(&path), Purpose::Existing).unwrap().as_str(), "s3cret pass");
    }

    #[test]
    fn an_empty_new_password_and_a_missing_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(read_password(Some(&path), Purpose::New), Err(PasswordError::Empty)));
        let missing = dir.path().join("missing");
        let err = read_password(Some(&missing), Purpose::Existing).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
