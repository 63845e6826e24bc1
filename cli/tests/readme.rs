//! Every console example in the command line's READMEs runs, and prints what the README
//! says it prints (issue 20: docs that cannot go stale).
//!
//! A ```` ```console ```` block is a shell session: each `$ ` line is a command, the lines
//! after it its output (stdout and stderr together, as a terminal shows them), up to the
//! next command. `$ cat NAME` shows a file, so its output is written to `NAME` before the
//! block runs; files a block uses without showing them come from `tests/readme/`. A line
//! that is `…` alone stands for any number of lines, and `…` inside a line for any text.
//! The commands of a block run in one shell, in a fresh directory, with `redial` the
//! binary under test, so `echo $?` sees the command before it.

use std::path::{Path, PathBuf};
use std::process::Command;

const ELIDED: &str = "…";

struct Step {
    command: String,
    expected: Vec<String>,
}

/// The console blocks of a markdown file: their steps, with the line each starts on.
fn blocks(markdown: &str) -> Vec<(usize, Vec<Step>)> {
    let mut out = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        if line.trim() != "```console" {
            continue;
        }
        let mut steps: Vec<Step> = Vec::new();
        for (_, line) in lines.by_ref() {
            if line.trim() == "```" {
                break;
            }
            if let Some(command) = line.strip_prefix("$ ") {
                steps.push(Step {
                    command: command.to_string(),
                    expected: Vec::new(),
                });
            } else if let Some(step) = steps.last_mut() {
                step.expected.push(line.to_string());
            }
        }
        out.push((n + 1, steps));
    }
    out
}

/// Whether `actual` is what `expected` shows, with its elisions.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == ELIDED => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((e, rest)) => match actual.split_first() {
            Some((a, more)) => line_matches(e, a) && matches(rest, more),
            None => false,
        },
    }
}

fn line_matches(expected: &str, actual: &str) -> bool {
    let mut parts = expected.split(ELIDED);
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// A directory of its own for one block, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(file: &str) -> Scratch {
        let name = format!("redial-readme-{}-{file}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readme")
}

/// Runs every block of `file` (relative to the crate) and returns what went wrong.
fn check(file: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let markdown = std::fs::read_to_string(&path).expect("the README");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_redial"));
    let bin_dir = bin.parent().expect("a directory").to_path_buf();
    let path_var = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut problems = Vec::new();
    // One directory for the whole README, as a reader's session: a file shown in one
    // block serves the blocks after it.
    let dir = Scratch::new(file);
    let blocks = blocks(&markdown);
    // A README whose examples stopped being console blocks would pass with none checked.
    assert!(
        blocks.iter().any(|(_, steps)| !steps.is_empty()),
        "{file} has no console example to check"
    );
    for step in blocks.iter().flat_map(|(_, steps)| steps) {
        if let Some(name) = step.command.strip_prefix("cat ") {
            let mut text = step.expected.join("\n");
            // A file ends where the next command's blank line begins.
            while text.ends_with('\n') {
                text.pop();
            }
            text.push('\n');
            std::fs::write(dir.path().join(name.trim()), text).expect("written");
        }
    }
    // Files a README shows only in part (with `…`), or not at all.
    for entry in std::fs::read_dir(fixtures()).expect("tests/readme") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copied");
    }
    for (line, steps) in blocks {
        // One shell for the block: a marker before each command splits the output.
        // `$?` is kept across the marker, for a step that is `echo $?`.
        let mut script = String::new();
        for (i, step) in steps.iter().enumerate() {
            script.push_str(&format!(
                "s=$?; echo '@@step {i}'; (exit $s)\n{{ {}\n}} 2>&1\n",
                step.command
            ));
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .env("PATH", &path_var)
            .env("NO_COLOR", "1")
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut outputs: Vec<Vec<&str>> = vec![Vec::new(); steps.len()];
        let mut current = None;
        for l in text.lines() {
            if let Some(i) = l.strip_prefix("@@step ") {
                current = i.parse::<usize>().ok();
                continue;
            }
            if let Some(out) = current.and_then(|i| outputs.get_mut(i)) {
                out.push(l);
            }
        }
        for (step, actual) in steps.iter().zip(&outputs) {
            // Blank lines between commands are the README's layout, not output.
            let mut expected = step.expected.clone();
            while expected.last().is_some_and(|l| l.trim().is_empty()) {
                expected.pop();
            }
            let mut actual = actual.clone();
            while actual.last().is_some_and(|l| l.trim().is_empty()) {
                actual.pop();
            }
            if !matches(&expected, &actual) {
                problems.push(format!(
                    "{file}, block at line {line}: `$ {}`\n--- the README shows\n{}\n--- it prints\n{}",
                    step.command,
                    expected.join("\n"),
                    actual.join("\n")
                ));
            }
        }
    }
    problems
}

#[test]
fn the_command_lines_readme_prints_what_it_shows() {
    let problems = check("README.md");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_simulators_readme_prints_what_it_shows() {
    let problems = check("README-simulate.md");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn elisions_match_what_they_stand_for_and_nothing_else() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(&e(&["a", "…", "d"]), &["a", "b", "c", "d"]));
    assert!(matches(&e(&["a", "…", "d"]), &["a", "d"]));
    assert!(!matches(&e(&["a", "…", "d"]), &["a", "b"]));
    assert!(!matches(&e(&["a", "b"]), &["a", "b", "c"]));
    assert!(line_matches("took …s", "took 0.07s"));
    assert!(line_matches("a … c … e", "a b c d e"));
    assert!(!line_matches("a … c", "a b d"));
    assert!(!line_matches("exact", "exact but more"));
}

#[test]
fn the_root_readmes_explain_sentence_is_what_explain_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_redial"))
        .args(["explain", "--preset", "anthropic", "--status", "429"])
        .args(["--header", "retry-after: 30", "--method", "POST"])
        .output()
        .expect("redial runs");
    // The answer's sentence; the rate pacer's line follows it (the README says so).
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let sentence = stdout.lines().next().unwrap_or_default().trim().to_string();
    assert!(
        stdout.contains("states no quota") && stdout.contains("then lets one go to check"),
        "{stdout}"
    );
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("the root README");
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat(&readme).contains(&format!("*{}*", flat(&sentence))),
        "README.md does not quote what explain prints:\n{sentence}"
    );
}

#[test]
fn the_root_readmes_fleet_table_is_the_simulators_run() {
    // The command the README gives, without the chart: its "load during incident" row,
    // one figure per budget, is the README's table.
    let out = Command::new(env!("CARGO_BIN_EXE_redial"))
        .args(["simulate", "--scenario", "outage", "--no-chart"])
        .args(["--compare", "default@off,default@aws,default,default@redis"])
        .output()
        .expect("redial runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let loads: Vec<String> = text
        .lines()
        .find_map(|l| l.strip_prefix("load during incident"))
        .expect("the load row")
        .split_whitespace()
        .map(|x| x.replace('x', "×"))
        .collect();
    assert_eq!(loads.len(), 4, "{text}");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("the root README");
    let rows = [
        format!("| none (`@off`) | {} |", loads[0]),
        format!(
            "| the AWS SDKs' token bucket (`@aws`, the `aws-standard` preset) | {} |",
            loads[1]
        ),
        format!("| **the default, `adaptive`** | **{}** |", loads[2]),
        format!(
            "| the default, shared through Redis every 250ms (`@redis`) | {} |",
            loads[3]
        ),
    ];
    for row in rows {
        assert!(readme.contains(&row), "README.md lacks `{row}`:\n{text}");
    }
}
