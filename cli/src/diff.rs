//! `redial diff A B`: what changes between two policies (files or presets), and what that
//! does to the schedule and to the decision in a few standard situations.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use redial::classify::{Outcome, RequestFacts};
use redial::machine::Action;
use redial::{ErrorType, Policy, Preset, Rng, Transport};

use crate::schedule::run_once;
use redial_cli::common::{fail, load_file, show, table_left as table};

/// The options of `redial diff`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Each of A and B is a policy file (TOML or JSON, by extension) or a preset name (default,
anthropic, openai, aws-standard). Three parts: the effective settings that differ; the
delay before each retry when every attempt fails (p50 over 1000 seeds); and the first
attempt's decision in standard situations, rows that differ marked with *.

Examples:
  redial diff default retry.toml
  redial diff policies/old.toml policies/new.toml")]
pub struct DiffArgs {
    /// The policy before: a file or a preset name.
    #[arg(value_name = "A")]
    a: String,
    /// The policy after: a file or a preset name.
    #[arg(value_name = "B")]
    b: String,
}

/// Runs `redial diff`.
pub fn run(args: DiffArgs) -> ExitCode {
    let (a, b) = match (named(&args.a), named(&args.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let mut out = format!("# {} → {}\n\nsettings:\n", args.a, args.b);
    let (na, nb) = (label(&args.a), label(&args.b));
    // Two files of one name are told apart by their place in the command.
    let (na, nb) = if na == nb {
        (format!("A {na}"), format!("B {nb}"))
    } else {
        (na, nb)
    };
    let (na, nb) = (na.as_str(), nb.as_str());
    let changed = settings(&a, &b);
    if changed.is_empty() {
        out.push_str("  the same\n");
    } else {
        out.push_str(&indent(&table(&["key", na, nb], &changed)));
    }
    out.push_str("\nschedule, every attempt failing (p50 delay over 1000 seeds):\n");
    out.push_str(&indent(&schedule(&a, &b, na, nb)));
    out.push_str("\nfirst attempt's decision:\n");
    out.push_str(&indent(&decisions(&a, &b, na, nb)));
    print!("{out}");
    ExitCode::SUCCESS
}

/// A preset by name, or a policy file.
fn named(name: &str) -> Result<Policy, String> {
    match name.parse::<Preset>() {
        Ok(preset) => Ok(Policy::preset(preset)),
        Err(_) => load_file(Path::new(name)),
    }
}

/// A column heading: a preset's name, or a file's name without its folder.
fn label(name: &str) -> String {
    Path::new(name)
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned())
}

/// `+409 +500–599`: codes with runs of three or more written as a range.
fn codes(sign: char, codes: &[i64]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&first) = codes.get(i) {
        let mut j = i;
        while codes.get(j + 1) == Some(&(codes[j] + 1)) {
            j += 1;
        }
        if j >= i + 2 {
            out.push(format!("{sign}{first}–{}", codes[j]));
        } else {
            out.extend(codes[i..=j].iter().map(|c| format!("{sign}{c}")));
        }
        i = j + 1;
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Each effective setting as `key` → value text, read back from the policy's TOML.
fn flat(policy: &Policy) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    // `to_toml` is valid TOML by contract; an empty table would only hide differences.
    let table: toml::Table = toml::from_str(&policy.to_toml()).unwrap_or_default();
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) => {
                out.extend(inner.into_iter().map(|(k, v)| (format!("{key}.{k}"), v)));
            }
            value => out.push((key, value)),
        }
    }
    out
}

/// The settings that differ: key, A's value, B's value.
fn settings(a: &Policy, b: &Policy) -> Vec<Vec<String>> {
    let (fa, fb) = (flat(a), flat(b));
    let mut keys: Vec<&String> = fa.iter().chain(&fb).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let get = |f: &[(String, toml::Value)], k: &str| {
        f.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    };
    let mut rows = Vec::new();
    for key in keys {
        let (va, vb) = (get(&fa, key), get(&fb, key));
        if va == vb {
            continue;
        }
        let row = match (&va, &vb) {
            (Some(toml::Value::Array(x)), Some(toml::Value::Array(y))) => {
                let ints = |v: &[toml::Value], not_in: &[toml::Value]| -> Vec<i64> {
                    v.iter()
                        .filter(|c| !not_in.contains(c))
                        .filter_map(toml::Value::as_integer)
                        .collect()
                };
                let added = codes('+', &ints(y, x));
                let dropped = codes('-', &ints(x, y));
                vec![
                    key.clone(),
                    format!("{} codes", x.len()),
                    format!("{} codes: {}", y.len(), [added, dropped].concat().join(" ")),
                ]
            }
            _ => vec![key.clone(), text(va.as_ref()), text(vb.as_ref())],
        };
        rows.push(row);
    }
    rows
}

fn text(v: Option<&toml::Value>) -> String {
    match v {
        Some(toml::Value::String(s)) => s.clone(),
        Some(toml::Value::Integer(i)) => i.to_string(),
        Some(toml::Value::Float(x)) => format!("{x:?}"),
        Some(toml::Value::Boolean(b)) => b.to_string(),
        Some(toml::Value::Array(items)) => {
            let items: Vec<String> = items.iter().map(|i| text(Some(i))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(_) => "?".into(),
        None => "none".into(),
    }
}

/// Per retry, the p50 delay of each policy over 1000 seeds; then how each stops.
fn schedule(a: &Policy, b: &Policy, na: &str, nb: &str) -> String {
    let runs = |p: &Policy| -> (Vec<Vec<Duration>>, String) {
        let mut per_retry: Vec<Vec<Duration>> = Vec::new();
        let mut stop = String::from("-");
        for seed in 0..1000 {
            let Ok(run) = run_once(p, seed) else { break };
            for (i, d) in run.delays.iter().enumerate() {
                if per_retry.len() <= i {
                    per_retry.push(Vec::new());
                }
                if let Some(v) = per_retry.get_mut(i) {
                    v.push(*d);
                }
            }
            if seed == 0 {
                stop = run
                    .stop
                    .map_or("more retries".into(), |s| s.reason().to_string());
            }
        }
        (per_retry, stop)
    };
    let p50 = |v: Option<&Vec<Duration>>| -> String {
        let Some(v) = v else { return "-".into() };
        let mut v = v.clone();
        v.sort_unstable();
        v.get(v.len().saturating_sub(1) / 2)
            .map_or("-".into(), |d| show(*d))
    };
    let ((ra, sa), (rb, sb)) = (runs(a), runs(b));
    let mut rows: Vec<Vec<String>> = (0..ra.len().max(rb.len()).min(20))
        .map(|i| vec![(i + 1).to_string(), p50(ra.get(i)), p50(rb.get(i))])
        .collect();
    rows.push(vec!["then".into(), sa, sb]);
    table(&["retry", na, nb], &rows)
}

/// One standard situation: a request and what its first attempt got.
struct Situation {
    label: &'static str,
    method: Method,
    status: Option<u16>,
    headers: &'static [(&'static str, &'static str)],
    error_type: Option<&'static str>,
    transport: Option<Transport>,
}

fn situations() -> Vec<Situation> {
    let s = |label, method, status, headers, error_type, transport| Situation {
        label,
        method,
        status,
        headers,
        error_type,
        transport,
    };
    vec![
        s("GET 503", Method::GET, Some(503), &[], None, None),
        s("GET 500", Method::GET, Some(500), &[], None, None),
        s("GET 409", Method::GET, Some(409), &[], None, None),
        s("POST 502", Method::POST, Some(502), &[], None, None),
        s(
            "POST 529 overloaded_error",
            Method::POST,
            Some(529),
            &[],
            Some("overloaded_error"),
            None,
        ),
        s(
            "GET 429 retry-after: 30",
            Method::GET,
            Some(429),
            &[("retry-after", "30")],
            None,
            None,
        ),
        s(
            "GET 429 retry-after: 90",
            Method::GET,
            Some(429),
            &[("retry-after", "90")],
            None,
            None,
        ),
        s(
            "POST 200 then overloaded_error event",
            Method::POST,
            Some(200),
            &[],
            Some("overloaded_error"),
            None,
        ),
        s(
            "POST connect failure",
            Method::POST,
            None,
            &[],
            None,
            Some(Transport::Connect),
        ),
        s(
            "POST timeout",
            Method::POST,
            None,
            &[],
            None,
            Some(Transport::Timeout),
        ),
    ]
}

/// The first attempt's decision in each situation, over 200 seeds (each with a fresh
/// budget): `retry after LOW–HIGH`, or `stop: REASON`.
fn decide(policy: &Policy, s: &Situation) -> String {
    let mut headers = HeaderMap::new();
    for (name, value) in s.headers {
        headers.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    let status = s.status.and_then(|c| StatusCode::from_u16(c).ok());
    let outcome = match (s.transport, status) {
        (Some(kind), _) => Outcome::Transport(kind),
        (None, Some(status)) => {
            let o = Outcome::response(status, &headers);
            match s.error_type {
                Some(t) => o.with_error_type(ErrorType::from_name(t)),
                None => o,
            }
        }
        (None, None) => return "-".into(),
    };
    let facts = RequestFacts::new(&s.method);
    let verdict = policy.classify(&facts, &outcome, SystemTime::UNIX_EPOCH);
    let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
    for seed in 0..200 {
        let Ok(fresh) = policy.to_builder().build() else {
            return "-".into();
        };
        let now = Instant::now();
        match fresh
            .start(now)
            .on_outcome(&verdict, now, &mut Rng::with_seed(seed))
        {
            Action::Retry(r) => {
                low = low.min(r.delay);
                high = high.max(r.delay);
            }
            Action::Stop(stop) => return format!("stop: {}", stop.reason()),
        }
    }
    if show(low) == show(high) {
        format!("retry after {}", show(low))
    } else {
        format!("retry after {}–{}", show(low), show(high))
    }
}

fn decisions(a: &Policy, b: &Policy, na: &str, nb: &str) -> String {
    let rows: Vec<Vec<String>> = situations()
        .iter()
        .map(|s| {
            let (da, db) = (decide(a, s), decide(b, s));
            let mark = if da == db { "" } else { "*" };
            vec![s.label.to_string(), da, db, mark.to_string()]
        })
        .collect();
    table(&["situation", na, nb, ""], &rows)
}
