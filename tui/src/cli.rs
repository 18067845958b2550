//! Command line of `keeperctl`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::keys;

/// Keeper network CLI (testnet software: do not secure real value with it).
///
/// Machine-readable output goes to stdout with --json; messages and prompts go to stderr.
#[derive(Debug, Parser)]
#[command(name = "keeperctl", version, about, long_about)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of human text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and inspect encrypted key files (BLS keystores per EIP-2335, ECDSA keystores per Web3 Secret Storage).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new BLS12-381 keeper key into an EIP-2335 keystore (mode 0600) and print its public key.
    NewBls(NewKeyArgs),
    /// Generate a new ECDSA operator key into a Web3 Secret Storage keystore (mode 0600) and print its address.
    NewEcdsa(NewKeyArgs),
    /// Show what a keystore holds without its secret: the BLS public key (no password needed) or,
    /// for an ECDSA keystore, the address (needs the password).
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct PasswordArgs {
    /// Read the keystore password from this file (trailing newline ignored). Otherwise the
    /// KEEPER_KEYSTORE_PASSWORD environment variable, otherwise a prompt on the terminal.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct NewKeyArgs {
    /// Where to write the keystore; refused if the file exists.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Key derivation function protecting the keystore (BLS keystores only; ECDSA keystores use scrypt).
    #[arg(long, value_enum, default_value_t = Kdf::Scrypt)]
    pub kdf: Kdf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The keystore file.
    pub file: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kdf {
    /// scrypt, n = 2^18, r = 8, p = 1 (EIP-2335's standard parameters).
    Scrypt,
    /// PBKDF2-HMAC-SHA256, c = 2^18.
    Pbkdf2,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> eyre::Result<()> {
    match cli.command {
        Command::Keys(KeysCommand::NewBls(args)) => keys::new_bls(&args, cli.json),
        Command::Keys(KeysCommand::NewEcdsa(args)) => keys::new_ecdsa(&args, cli.json),
        Command::Keys(KeysCommand::Show(args)) => keys::show(&args, cli.json),
    }
}
