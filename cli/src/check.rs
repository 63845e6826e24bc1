//! `redial check FILE…`: validate policy files for CI, and show what each one resolves to.

use std::path::PathBuf;
use std::process::ExitCode;

use redial::policy::lint::{Finding, Severity};
use serde::Serialize;

use redial_cli::common::{check_file, finding_line};

/// The options of `redial check`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Prints each valid file's effective policy as TOML (every setting, resolved from its
preset) on stdout. Every error of a file is named on stderr, in file order, with its line,
column, key and rule, e.g.

  redial: retry.toml:3:1: backoff.cap: must be >= base (200ms), got 100ms

and the exit status is 1. Settings that are legal but probably a mistake (an empty file,
max_elapsed shorter than the first wait) are warnings: printed, but the file passes
unless --strict.

Examples:
  redial check retry.toml
  redial check policies/*.toml policies/*.json
  redial check --strict --format json retry.toml
  cat retry.toml | redial check -")]
pub struct CheckArgs {
    /// Policy files, TOML or JSON by their extension; '-' reads one from stdin (JSON when
    /// it starts with '{', TOML otherwise).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Warnings fail the check too (exit status 1).
    #[arg(long)]
    strict: bool,
    /// `text`: effective policies on stdout, findings on stderr. `json`: one JSON object on
    /// stdout with every finding (file, severity, key, line, column, rule).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

/// Runs `redial check`.
pub fn run(args: CheckArgs) -> ExitCode {
    let json = args.format == "json";
    let mut failed = false;
    let mut printed = false;
    let mut rows: Vec<Row> = Vec::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for path in &args.files {
        let name = path.display().to_string();
        let report = match check_file(path) {
            Ok(report) => report,
            Err(message) => {
                failed = true;
                errors += 1;
                if json {
                    rows.push(row(&name, "error", None, &message_after(&name, &message)));
                } else {
                    eprintln!("redial: {message}");
                }
                continue;
            }
        };
        for f in &report.findings {
            match f.severity {
                Severity::Error => errors += 1,
                _ => warnings += 1,
            }
            if json {
                rows.push(row(&name, f.severity.as_str(), Some(f), &f.rule));
            } else {
                eprintln!("redial: {}", finding_line(path, f));
            }
        }
        if report.omitted > 0 {
            errors += report.omitted;
            if !json {
                eprintln!("redial: {name}: {} more errors not shown", report.omitted);
            }
        }
        failed |= report.has_errors() || (args.strict && report.has_warnings());
        if let (Some(policy), false) = (&report.policy, json) {
            if printed {
                println!();
            }
            println!("# {name}: valid; every setting, resolved from its preset:");
            print!("{}", policy.to_toml());
            printed = true;
        }
    }
    if json {
        let out = Report {
            ok: !failed,
            errors,
            warnings,
            findings: rows,
        };
        // Plain structs of strings and numbers always serialize.
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The output of `--format json`.
#[derive(Serialize)]
struct Report {
    ok: bool,
    errors: usize,
    warnings: usize,
    findings: Vec<Row>,
}

/// One finding of `--format json`.
#[derive(Serialize)]
struct Row {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    severity: &'static str,
    key: Option<String>,
    rule: String,
}

fn row(file: &str, severity: &'static str, f: Option<&Finding>, rule: &str) -> Row {
    Row {
        file: file.into(),
        line: f.and_then(|f| f.line),
        column: f.and_then(|f| f.column),
        severity,
        key: f.map(|f| f.key.clone()),
        rule: rule.into(),
    }
}

/// A read error's message without the file name it starts with.
fn message_after(name: &str, message: &str) -> String {
    message
        .strip_prefix(name)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(message)
        .to_owned()
}
