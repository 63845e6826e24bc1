//! docs/ARCHITECTURE.md stays true: every file it names exists, and every function the
//! walk of one retried call names is defined in the file of its row.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn page() -> String {
    std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md")
}

/// The backticked spans of `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn every_file_named_exists() {
    let page = page();
    let mut named = 0;
    for span in code_spans(&page) {
        if span.starts_with("src/") || span.starts_with("tests/") || span.starts_with("docs/") {
            named += 1;
            assert!(
                root().join(span).exists(),
                "docs/ARCHITECTURE.md names {span}, which does not exist"
            );
        }
    }
    assert!(named > 20, "the page names only {named} files");
}

#[test]
fn every_function_of_the_walk_is_defined_in_its_file() {
    let page = page();
    let mut checked = 0;
    // The walk's rows: `| # | step | file | functions |`.
    for row in page
        .lines()
        .filter(|l| l.starts_with("| ") && l.matches('|').count() == 5)
    {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (file, functions) = (cells[3], cells[4]);
        let Some(file) = code_spans(file).into_iter().find(|s| s.starts_with("src/")) else {
            continue;
        };
        let source = std::fs::read_to_string(root().join(file))
            .unwrap_or_else(|_| panic!("docs/ARCHITECTURE.md names {file}, which does not exist"));
        for function in code_spans(functions) {
            let name = function.rsplit("::").next().unwrap_or(function);
            let defined = [format!("fn {name}("), format!("fn {name}<")]
                .iter()
                .any(|d| source.contains(d.as_str()));
            assert!(
                defined,
                "docs/ARCHITECTURE.md: `{function}` is not defined in {file}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "the walk names only {checked} functions");
}

/// Issue 19's bound on the walk: a retried call enters at most 40 functions in at most
/// 10 files, and the page's own count of them is the table's.
#[test]
fn the_walk_stays_within_40_functions_in_10_files() {
    let page = page();
    let mut functions = std::collections::BTreeSet::new();
    let mut files = std::collections::BTreeSet::new();
    for row in page
        .lines()
        .filter(|l| l.starts_with("| ") && l.matches('|').count() == 5)
    {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some(file) = code_spans(cells[3])
            .into_iter()
            .find(|s| s.starts_with("src/"))
        else {
            continue;
        };
        files.insert(file);
        for function in code_spans(cells[4]) {
            functions.insert((file, function));
        }
    }
    let (f, n) = (functions.len(), files.len());
    assert!(
        f <= 40 && n <= 10,
        "the walk enters {f} functions in {n} files"
    );
    let said = format!("The table names {f} functions in {n} files.");
    assert!(
        page.contains(&said),
        "docs/ARCHITECTURE.md should say: {said}"
    );
}

/// Issue 19: every adapter only interprets the driver's commands, in at most 60 lines of
/// loop. The loop is the first `loop {` in the file, to its closing brace.
#[test]
fn every_adapter_loop_is_at_most_60_lines() {
    let adapters = [
        "src/adapters/future.rs",
        "src/adapters/blocking.rs",
        "src/adapters/stream.rs",
        "src/adapters/tower/future.rs",
        "src/adapters/reqwest_middleware.rs",
    ];
    for file in adapters {
        let source = std::fs::read_to_string(root().join(file)).expect(file);
        let lines: Vec<&str> = source.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.trim_end().ends_with("loop {"))
            .unwrap_or_else(|| panic!("{file} has no loop"));
        let mut depth = 0i32;
        let mut end = None;
        for (i, line) in lines.iter().enumerate().skip(start) {
            let code = line.split("//").next().unwrap_or("");
            depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
            if depth == 0 {
                end = Some(i);
                break;
            }
        }
        let end = end.unwrap_or_else(|| panic!("{file}: the loop never closes"));
        let length = end - start + 1;
        assert!(length <= 60, "{file}: the loop is {length} lines");
    }
}
