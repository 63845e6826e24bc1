//! Compile errors a user is meant to read, pinned word for word.
//!
//! Each `tests/compile_fail/NAME.rs` is checked by cargo as a crate of its own that depends
//! on this one, with the features its first lines name (`//@ default-features = false`,
//! `//@ features = a, b`), and the errors it gets must be `NAME.stderr` exactly, with the
//! case's directory written `$DIR`, this crate's `$REDIAL`, and the file the compiler
//! writes a long type to `$LONG_TYPE_FILE`. `REDIAL_BLESS=1 cargo test
//! --test compile_fail` rewrites the `.stderr` files from what the compiler says now.
//!
//! Not trybuild: it checks its cases with the features of the test run and builds every
//! dev-dependency for them, while the `json` case needs that feature off, and a case here
//! builds this crate's few dependencies only. The lock file is the workspace's, so the
//! versions are the ones the tests use, and cargo runs `--offline`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a case asks of its dependency on redial.
struct Case {
    name: String,
    source: PathBuf,
    default_features: bool,
    features: Vec<String>,
}

impl Case {
    fn read(source: PathBuf) -> Case {
        let text = std::fs::read_to_string(&source).expect("a readable case");
        let mut case = Case {
            name: source
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a UTF-8 name")
                .to_string(),
            source,
            default_features: true,
            features: Vec::new(),
        };
        for line in text.lines().map_while(|l| l.strip_prefix("//@ ")) {
            match line.split_once(" = ") {
                Some(("default-features", v)) => case.default_features = v == "true",
                Some(("features", v)) => {
                    case.features = v.split(", ").map(str::to_string).collect()
                }
                _ => panic!("{}: unknown header {line:?}", case.name),
            }
        }
        case
    }

    /// A package for the case alone, in a scratch directory: its manifest names the case
    /// as its binary, and the workspace's lock file pins the versions.
    fn package(&self, scratch: &Path) -> PathBuf {
        let dir = scratch.join(&self.name);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let features: Vec<String> = self.features.iter().map(|f| format!("{f:?}")).collect();
        let manifest = format!(
            "[package]\nname = \"compile-fail-{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[[bin]]\nname = \"{name}\"\npath = {source:?}\n\n\
             [dependencies]\nredial = {{ path = {redial:?}, default-features = {default}, \
             features = [{features}] }}\nhttp = \"1\"\n\n[workspace]\n",
            name = self.name,
            source = self.source,
            redial = env!("CARGO_MANIFEST_DIR"),
            default = self.default_features,
            features = features.join(", "),
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).expect("manifest");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
            dir.join("Cargo.lock"),
        )
        .expect("the workspace's lock file");
        dir
    }

    /// What the compiler says about the case, its paths made portable.
    fn errors(&self, scratch: &Path) -> String {
        let dir = self.package(scratch);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args(["check", "--quiet", "--offline", "--color=never"])
            .arg("--target-dir")
            .arg(scratch.join("target"))
            .current_dir(&dir)
            .env_remove("RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(
            !out.status.success(),
            "{}: compiled, and it must not",
            self.name
        );
        normalize(&String::from_utf8_lossy(&out.stderr))
    }
}

/// Keeps the compiler's diagnostics, not cargo's closing lines, with `$DIR` and `$REDIAL`
/// for the machine's paths. Lines and columns in this crate's own source read `LL:CC`
/// (and its snippets' line numbers `LL`), so that an edit elsewhere in a file does not
/// move a pinned message; indentation, which follows the width of line numbers, is
/// dropped.
fn normalize(stderr: &str) -> String {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile_fail");
    let mut out = String::new();
    let mut in_redial = false;
    for line in stderr.lines() {
        if line.starts_with("error: could not compile") || line.starts_with("warning: build failed")
        {
            continue;
        }
        let line = line
            .replace(&cases.display().to_string(), "$DIR")
            .replace(env!("CARGO_MANIFEST_DIR"), "$REDIAL");
        let mut line = line.trim().to_string();
        // A long type's file is named by a hash of the build.
        const LONG: &str = "has been written to '";
        if let Some(at) = line.find(LONG) {
            line = format!("{}{LONG}$LONG_TYPE_FILE'", &line[..at]);
        }
        if let Some((arrow, at)) = line
            .strip_prefix("--> ")
            .map(|at| ("-->", at))
            .or_else(|| line.strip_prefix("::: ").map(|at| (":::", at)))
        {
            in_redial = at.starts_with("$REDIAL");
            if in_redial {
                let file = at.split(':').next().unwrap_or(at);
                line = format!("{arrow} {file}:LL:CC");
            }
        } else if in_redial {
            let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 && line[digits..].starts_with(" |") {
                line = format!("LL{}", &line[digits..]);
            } else if !(line.starts_with('|') || line == "...") {
                in_redial = false;
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.trim_end().to_string() + "\n"
}

#[test]
fn compile_errors_read_as_pinned() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile_fail");
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile_fail");
    let bless = std::env::var_os("REDIAL_BLESS").is_some();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&cases)
        .expect("tests/compile_fail")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "no cases in {}", cases.display());
    let mut wrong = Vec::new();
    for source in sources {
        let case = Case::read(source);
        let got = case.errors(&scratch);
        let pinned = case.source.with_extension("stderr");
        if bless {
            std::fs::write(&pinned, &got).expect("write the .stderr");
            continue;
        }
        let want = std::fs::read_to_string(&pinned).unwrap_or_default();
        if got != want {
            wrong.push(format!(
                "{}: the compiler now says\n{got}\ninstead of {}:\n{want}",
                case.name,
                pinned.display()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
