//! `keeperctl`: parses the command line and hands over to the commands.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod keys;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The cause chain on one line: "writing --out k.json: keystore file k.json already exists; ..."
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
