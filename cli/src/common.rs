//! What several commands share: choosing a policy, reading times and headers, printing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::builder::PossibleValuesParser;
use http::{HeaderName, HeaderValue};
use redial::duration::Rounded;
use redial::policy::check::{check_bytes, Report};
use redial::policy::file::{read_file, read_limited, Format};
use redial::policy::lint::{Finding, Severity};
use redial::{Policy, Preset};

/// `--policy FILE | --preset NAME`, for every command that needs a policy.
#[derive(clap::Args, Debug, Clone)]
pub struct PolicyArgs {
    /// A policy file, TOML or JSON by its extension ('-' is stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub policy: Option<PathBuf>,
    /// A built-in preset [default: default].
    #[arg(long, value_name = "NAME", value_parser = PossibleValuesParser::new(Preset::ALL.map(|p| p.name())))]
    pub preset: Option<String>,
}

impl PolicyArgs {
    /// The chosen policy, or a message that names the file, the key and the rule.
    pub fn load(&self) -> Result<Policy, String> {
        if let Some(path) = &self.policy {
            return load_file(path);
        }
        let preset = match &self.preset {
            Some(name) => name.parse::<Preset>().map_err(|e| e.to_string())?,
            None => Preset::Default,
        };
        Ok(Policy::preset(preset))
    }

    /// Where the policy comes from, for headings: `preset default`, `policy retry.toml`.
    pub fn source(&self) -> String {
        match (&self.policy, &self.preset) {
            (Some(path), _) => format!("policy {}", path.display()),
            (None, Some(name)) => format!("preset {name}"),
            (None, None) => "preset default".into(),
        }
    }
}

/// Reads and checks one policy file as `redial check` does (`-` is standard input, its
/// format told by its first character): every error and warning, or why it cannot be read.
pub fn check_file(path: &Path) -> Result<Report, String> {
    let (bytes, format) = if path.as_os_str() == "-" {
        let bytes = read_limited(std::io::stdin().lock(), "-").map_err(|e| e.to_string())?;
        let format = Format::sniff(&String::from_utf8_lossy(&bytes));
        (bytes, format)
    } else {
        let format = Format::of_path(path).map_err(|e| e.to_string())?;
        (read_file(path).map_err(|e| e.to_string())?, format)
    };
    Ok(check_bytes(bytes, format))
}

/// The policy of a file, or every error `check` finds in it, one `redial:` line each.
pub fn load_file(path: &Path) -> Result<Policy, String> {
    let report = check_file(path)?;
    match report.policy {
        Some(policy) => Ok(policy),
        None => {
            let lines: Vec<String> = report
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| finding_line(path, f))
                .collect();
            Err(lines.join("\nredial: "))
        }
    }
}

/// `FILE:LINE:COLUMN: KEY: RULE` (`warning: ` before the key for a warning); a syntax
/// error, whose key is its line, is written `FILE:LINE:COLUMN: RULE`.
pub fn finding_line(path: &Path, f: &Finding) -> String {
    let mut out = path.display().to_string();
    if let Some(line) = f.line {
        out.push_str(&format!(":{line}"));
        if let Some(column) = f.column {
            out.push_str(&format!(":{column}"));
        }
    }
    out.push_str(": ");
    if f.severity == Severity::Warning {
        out.push_str("warning: ");
    }
    if !(f.key.starts_with("line ") && f.line.is_some()) {
        out.push_str(&f.key);
        out.push_str(": ");
    }
    out.push_str(&f.rule);
    out
}

/// Prints `redial: MESSAGE` to stderr and returns the failure status.
pub fn fail(message: impl fmt::Display) -> ExitCode {
    eprintln!("redial: {message}");
    ExitCode::FAILURE
}

/// A wall-clock time: RFC 3339 (`2026-11-23T10:00:00Z`) or an HTTP date
/// (`Mon, 23 Nov 2026 10:00:00 GMT`).
pub fn parse_wall_clock(s: &str) -> Result<SystemTime, String> {
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.into());
    }
    httpdate::parse_http_date(s).map_err(|_| {
        format!(
            "expected an RFC 3339 time such as 2026-11-23T10:00:00Z or an HTTP date such as \
             'Mon, 23 Nov 2026 10:00:00 GMT', found {s:?}"
        )
    })
}

/// A header given as `name: value`.
pub fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("expected 'name: value', found {s:?}"))?;
    header(name.trim(), value.trim_matches(|c| c == ' ' || c == '\t'))
}

/// A header from its name and value, each checked.
pub fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    let value = HeaderValue::from_str(value)
        .map_err(|_| format!("the value of {name} is not a valid header value: {value:?}"))?;
    Ok((name, value))
}

/// The most headers one map may hold (an attempt's response headers, or a request's):
/// `http::HeaderMap` panics past 24,576 distinct names, and servers send far fewer than
/// this (hyper refuses more than 100 by default).
pub const MAX_HEADERS: usize = 1000;

/// A header map from checked pairs, at most [`MAX_HEADERS`] of them.
pub fn header_map(
    pairs: impl IntoIterator<Item = (HeaderName, HeaderValue)>,
) -> Result<http::HeaderMap, String> {
    let mut out = http::HeaderMap::new();
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i >= MAX_HEADERS {
            return Err(too_many_headers());
        }
        out.append(name, value);
    }
    Ok(out)
}

/// The error for more than [`MAX_HEADERS`] headers.
pub fn too_many_headers() -> String {
    format!("more than {MAX_HEADERS} headers, the most redial reads for one response or request")
}

/// A method, upper-cased: `post` is taken to mean POST.
pub fn parse_method(s: &str) -> Result<http::Method, String> {
    http::Method::from_bytes(s.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{s:?} is not a valid method"))
}

/// A duration for people, rounded to what matters at its size (`312ms`, `1.2s`): see
/// `redial::duration::Rounded`.
pub fn show(d: Duration) -> String {
    Rounded(d).to_string()
}

/// Prints rows under a header, every column right-aligned to its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    layout(header, rows, |cell, w| format!("{cell:>w$}"))
}

/// Prints rows under a header, every column left-aligned to its widest cell.
pub fn table_left(header: &[&str], rows: &[Vec<String>]) -> String {
    layout(header, rows, |cell, w| format!("{cell:<w$}"))
}

fn layout(header: &[&str], rows: &[Vec<String>], pad: fn(&str, usize) -> String) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| pad(cell, *w))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_takes_both_forms() {
        let a = parse_wall_clock("2026-11-23T10:00:00Z").unwrap();
        let b = parse_wall_clock("Mon, 23 Nov 2026 10:00:00 GMT").unwrap();
        assert_eq!(a, b);
        assert!(parse_wall_clock("yesterday").is_err());
    }

    #[test]
    fn headers_split_at_the_first_colon() {
        let (name, value) = parse_header("Retry-After:  Mon, 23 Nov 2026 10:00:30 GMT").unwrap();
        assert_eq!(name, "retry-after");
        assert_eq!(value, "Mon, 23 Nov 2026 10:00:30 GMT");
        assert!(parse_header("retry-after 30").is_err());
        assert!(parse_header("bad name: 1").is_err());
    }

    #[test]
    fn tables_align_right() {
        let t = table(&["a", "bb"], &[vec!["100".into(), "1".into()]]);
        assert_eq!(t, "  a  bb\n100   1\n");
    }
}
