//! Where a keystore password comes from: a file, the environment, or the terminal.

use std::io::IsTerminal;
use std::path::Path;

use eyre::{bail, WrapErr};
use zeroize::Zeroizing;

/// Environment variable holding a keystore password (for scripts; a file is safer).
pub const PASSWORD_ENV: &str = "KEEPER_KEYSTORE_PASSWORD";

/// Whether a new password is being chosen (asked twice) or an existing one entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    New,
    Existing,
}

/// Reads the password from `file`, else `$KEEPER_KEYSTORE_PASSWORD`, else the terminal.
pub fn read(file: Option<&Path>, purpose: Purpose) -> eyre::Result<Zeroizing<String>> {
    let password = if let Some(file) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(file).wrap_err_with(|| format!("reading --password-file {}", file.display()))?,
        );
        Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_owned())
    } else if let Ok(value) = std::env::var(PASSWORD_ENV) {
        Zeroizing::new(value)
    } else if std::io::stdin().is_terminal() {
        prompt(purpose)?
    } else {
        bail!("no password: pass --password-file, or set {PASSWORD_ENV}, or run on a terminal to be asked");
    };
    if purpose == Purpose::New && password.is_empty() {
        bail!("password: must not be empty");
    }
    Ok(password)
}

fn prompt(purpose: Purpose) -> eyre::Result<Zeroizing<String>> {
    let first = Zeroizing::new(rpassword::prompt_password("Keystore password: ")?);
    if purpose == Purpose::New {
        let again = Zeroizing::new(rpassword::prompt_password("Repeat password: ")?);
        if *first != *again {
            bail!("password: the two entries differ");
        }
    }
    Ok(first)
}
