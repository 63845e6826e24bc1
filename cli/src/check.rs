//! `redial check FILE…`: validate policy files for CI, and show what each one resolves to.

use std::path::PathBuf;
use std::process::ExitCode;

use redial::Policy;

use redial_cli::common::located;

/// The options of `redial check`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Prints each valid file's effective policy as TOML (every setting, resolved from its
preset) on stdout. An invalid file is named on stderr with the key and the rule it
breaks, e.g.

  redial: retry.toml: backoff.cap: must be >= base (200ms), got 100ms

and the exit status is 1.

Examples:
  redial check retry.toml
  redial check policies/*.toml policies/*.json")]
pub struct CheckArgs {
    /// Policy files, TOML or JSON by their extension.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Runs `redial check`.
pub fn run(args: CheckArgs) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    let mut printed = false;
    for path in &args.files {
        match Policy::from_path(path) {
            Ok(policy) => {
                if printed {
                    println!();
                }
                println!(
                    "# {}: valid; every setting, resolved from its preset:",
                    path.display()
                );
                print!("{}", policy.to_toml());
                printed = true;
            }
            Err(e) => status = redial_cli::common::fail(located(path, &e)),
        }
    }
    status
}
