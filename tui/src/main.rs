//! `keeperctl`: parses the command line and hands over to the commands.

use std::process::ExitCode;

mod cli;
mod commands;
mod devnet;
mod exit;
mod job;
mod jobspec;
mod keys;
mod output;
mod script;

fn main() -> ExitCode {
    let cli = cli::parse();
    let json = cli.json;
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => error.report(json),
    }
}
