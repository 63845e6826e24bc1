//! `redial`: the command line. This minimal entry point only dispatches `simulate`; the
//! CLI branch's `main.rs` replaces it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod simulate;

/// Decides whether and when an HTTP call should be tried again.
#[derive(Parser, Debug)]
#[command(name = "redial", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Many clients against a modelled server in virtual time: what a policy does to it.
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Simulate(args) => simulate::run(args),
    }
}
