//! `keeperd`: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> eyre::Result<()> {
    let cli = keeperd::cli::Cli::parse();
    keeperd::cli::run(cli)
}
