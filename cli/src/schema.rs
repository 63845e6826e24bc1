//! `redial schema`: the policy file's JSON Schema, generated from the key tables the
//! parser reads, for editors and for validation outside Rust.

use std::process::ExitCode;

/// The options of `redial schema`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The schema is draft 2020-12 and says, key by key, what `redial check` accepts: names,
types, choices, the duration grammar, single-value ranges. Rules between keys (cap >= base,
costs within the capacity) and check's lint are beyond a schema: run `redial check` too.
The same text is checked in as cli/policy.schema.json.

Examples:
  redial schema > policy.schema.json
  # in a TOML file, for editors that read it (taplo, Even Better TOML):
  #:schema ./policy.schema.json")]
pub struct SchemaArgs {}

/// Runs `redial schema`.
pub fn run(_: SchemaArgs) -> ExitCode {
    print!("{}", redial::policy::schema::json_schema());
    ExitCode::SUCCESS
}
