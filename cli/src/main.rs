//! `redial`: check a retry policy file, see its schedule, and ask why a response is (or is
//! not) retried. A thin front end over the `redial` library: every decision it prints is the
//! library's own. `decide` and the helpers every command shares live in this crate's
//! library (`src/lib.rs`), where the fuzz targets reach them too.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use redial_cli::decide;

mod check;
mod diff;
mod explain;
mod schedule;
mod schema;
mod simulate;

const EXAMPLES: &str = "\
Examples:
  redial check retry.toml
  redial schedule --preset anthropic --samples 1000
  redial explain --status 429 --header 'retry-after: 30'
  redial explain --policy retry.toml --status 502 --method POST
  echo '{\"id\":\"a\",\"attempts\":[{\"status\":503},{\"status\":200}]}' | redial decide --seed 7

Exit status: 0 on success, 1 on an invalid policy or input, 2 on a usage error.";

/// Decides whether and when an HTTP call should be retried, and says why.
#[derive(Parser, Debug)]
#[command(name = "redial", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate policy files and print each one's effective policy.
    Check(check::CheckArgs),
    /// Show the delay before each retry when every attempt fails.
    Schedule(schedule::ScheduleArgs),
    /// Explain in one sentence what happens after one response or transport failure.
    Explain(explain::ExplainArgs),
    /// Decide calls given as JSON Lines: one line of steps out per line in.
    Decide(decide::DecideArgs),
    /// Many clients against a modelled server, in virtual time.
    Simulate(simulate::SimulateArgs),
    /// Compare two policies: settings, schedule, decisions.
    Diff(diff::DiffArgs),
    /// Print the policy file's JSON Schema.
    Schema(schema::SchemaArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check(args) => check::run(args),
        Command::Schedule(args) => schedule::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Decide(args) => decide::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Schema(args) => schema::run(args),
    }
}
