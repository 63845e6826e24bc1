//! `redial simulate`: many clients against a modelled server, in virtual time. Not built yet.

use std::process::ExitCode;

/// The options of `redial simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {}

/// Runs `redial simulate`.
pub fn run(args: SimulateArgs) -> ExitCode {
    let _ = args;
    eprintln!("simulate: not built yet");
    ExitCode::FAILURE
}
