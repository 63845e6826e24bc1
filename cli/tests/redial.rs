//! The real `redial` binary on checked-in policy files and JSON Lines fixtures.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn policy(name: &str) -> String {
    fixture(&format!("policies/{name}")).display().to_string()
}

fn calls(name: &str) -> String {
    fixture(&format!("calls/{name}")).display().to_string()
}

/// Runs `redial` with these arguments and this standard input.
fn redial(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_redial"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redial runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin).expect("stdin takes the input");
    drop(input);
    let out = child.wait_with_output().expect("redial finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "a panic for {args:?}: {stderr}"
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// `redial decide ARGS FILE`, each output line parsed.
fn decide(args: &[&str], file: &str) -> Vec<Value> {
    let mut all: Vec<&str> = vec!["decide"];
    all.extend_from_slice(args);
    all.push(file);
    let out = redial(&all, b"");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect()
}

fn reasons(line: &Value) -> Vec<String> {
    line["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| match s["action"].as_str() {
            Some("retry") => "retry".to_string(),
            _ => s["reason"]
                .as_str()
                .expect("a stop has a reason")
                .to_string(),
        })
        .collect()
}

fn delay(line: &Value, step: usize) -> u64 {
    line["steps"][step]["delay_ms"].as_u64().expect("delay_ms")
}

// ---------------------------------------------------------------------------------- check

#[test]
fn check_prints_the_effective_policy_of_a_valid_file() {
    let out = redial(&["check", &policy("platform.toml")], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "max_attempts = 4",
        "max_elapsed = \"30s\"",
        "base = \"200ms\"",
        "cap = \"5s\"",
        "jitter = \"full\"",
        "max_hint = \"1m\"",
        "retry_status = [408, 425, 429, 500, 502, 503, 504, 529]",
        "capacity = 500",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(stderr(&out).is_empty());
}

#[test]
fn check_resolves_missing_keys_from_the_preset() {
    let out = redial(&["check", &policy("anthropic-longer.toml")], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("max_attempts = 5"));
    assert!(text.contains("cap = \"20s\""));
    assert!(
        text.contains("non_idempotent = \"always\""),
        "from the preset"
    );
    assert!(text.contains("jitter_ratio = 0.25"), "from the preset");
    assert!(text.contains("409"), "from the preset's statuses");
}

#[test]
fn check_reads_json_with_the_same_result() {
    let toml = redial(&["check", &policy("platform.toml")], b"");
    let json = redial(&["check", &policy("platform.json")], b"");
    assert!(json.status.success(), "{}", stderr(&json));
    let body = |o: &Output| stdout(o).lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&toml), body(&json));
}

#[test]
fn check_output_is_itself_a_policy_file_that_checks_the_same() {
    let first = redial(&["check", &policy("anthropic-longer.toml")], b"");
    let dir = std::env::temp_dir().join(format!("redial-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("effective.toml");
    std::fs::write(&path, stdout(&first)).unwrap();
    let second = redial(&["check", &path.display().to_string()], b"");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    let body = |o: &Output| stdout(o).lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&first), body(&second));
}

/// Every rule a policy file can break: (file, the message after `redial: PATH:`, which
/// starts with the line and column).
const INVALID: &[(&str, &str)] = &[
    ("max-attempts-zero.toml", "1:1: max_attempts: must be at least 1, got 0"),
    ("max-attempts-negative.toml", "1:1: max_attempts: must be >= 0, got -3"),
    ("max-elapsed-zero.toml", "1:1: max_elapsed: must be more than 0s, got 0s"),
    ("cap-below-base.toml", "3:1: backoff.cap: must be >= base (200ms), got 100ms"),
    ("cap-below-base.json", "1:14: backoff.cap: must be >= base (2s), got 1s"),
    ("factor-zero.toml", "2:1: backoff.factor: must be a finite number > 0, got 0.0"),
    ("factor-negative.toml", "2:1: backoff.factor: must be a finite number > 0, got -2.0"),
    ("jitter-ratio-above-one.toml", "3:1: backoff.jitter_ratio: must be between 0 and 1, got 1.5"),
    ("jitter-ratio-negative.toml", "3:1: backoff.jitter_ratio: must be between 0 and 1, got -0.25"),
    (
        "jitter-ratio-without-proportional.toml",
        "3:1: backoff.jitter_ratio: must be used with jitter = \"proportional\" only, got jitter = \"equal\"",
    ),
    (
        "unknown-key.toml",
        "2:1: retries: unknown key (expected one of preset, max_attempts, max_elapsed, non_idempotent, backoff, hints, classify, budget, fleet, rate)",
    ),
    (
        "unknown-key-in-table.toml",
        "3:1: backoff.max: unknown key (expected one of kind, base, cap, factor, jitter, jitter_ratio)",
    ),
    ("unknown-table.toml", "1:2: retry: unknown key"),
    (
        "bad-duration.toml",
        "2:1: backoff.base: must be a duration such as 500ms, 8s or 2m, got \"200 millis\"",
    ),
    (
        "duration-not-a-string.toml",
        "2:1: hints.max_hint: expected a duration string such as \"500ms\", found the integer 60",
    ),
    (
        "bad-non-idempotent.toml",
        "1:1: non_idempotent: must be one of when_safe, always, never, got \"sometimes\"",
    ),
    (
        "bad-kind.toml",
        "2:1: backoff.kind: must be one of exponential, constant, linear, got \"fibonacci\"",
    ),
    (
        "bad-jitter.toml",
        "2:1: backoff.jitter: must be one of none, full, equal, proportional, decorrelated, got \"random\"",
    ),
    ("bad-on-long-hint.toml", "2:1: hints.on_long_hint: must be one of stop, clamp, got \"wait\""),
    (
        "bad-preset.toml",
        "1:1: preset: must be one of default, anthropic, openai, aws-standard, got \"google\"",
    ),
    ("bad-status.toml", "2:1: classify.retry_status: must be status codes from 100 to 599, got 600"),
    ("status-too-low.toml", "2:1: classify.retry_status: must be status codes from 100 to 599, got 99"),
    (
        "budget-capacity-zero.toml",
        "2:1: budget.capacity: must be at least 1 when the budget is enabled, got 0",
    ),
    (
        "budget-retry-cost-over-capacity.toml",
        "3:1: budget.retry_cost: must be <= capacity (8), got 10",
    ),
    (
        "budget-timeout-cost-over-capacity.toml",
        "2:1: budget.timeout_cost: must be <= capacity (500), got 600",
    ),
    (
        "budget-refund-over-capacity.toml",
        "2:1: budget.success_refund: must be <= capacity (500), got 501",
    ),
    ("rate-burst-over-10000.toml", "2:1: rate.burst: must be from 1 to 10000, got 20000"),
    ("wrong-type.toml", "2:1: hints.honor: expected true or false, found the string \"yes\""),
    ("not-toml.toml", "2:9: unclosed table"),
    ("not-json.json", "1:20: trailing comma"),
];

#[test]
fn check_names_the_key_and_the_rule_of_every_invalid_policy() {
    for (file, want) in INVALID {
        let path = policy(&format!("invalid/{file}"));
        let out = redial(&["check", &path], b"");
        assert_eq!(out.status.code(), Some(1), "{file}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{file}: nothing on stdout");
        let err = stderr(&out);
        let expected = format!("redial: {path}:{want}");
        assert!(
            err.starts_with(&expected),
            "{file}:\n got: {err}\nwant: {expected}"
        );
        // Every error of the file, one line each (the first is the one named above). Each
        // file breaks one rule, save the one whose capacity of 8 the preset's timeout_cost
        // (10) passes too.
        let errors = match *file {
            "budget-retry-cost-over-capacity.toml" => 2,
            _ => 1,
        };
        assert_eq!(err.lines().count(), errors, "{file}:\n{err}");
        for line in err.lines() {
            assert!(
                line.starts_with(&format!("redial: {path}:")),
                "{file}: {line}"
            );
        }
    }
}

#[test]
fn check_refuses_files_it_cannot_read() {
    let yaml = policy("invalid/not-a-policy-format.yaml");
    let out = redial(&["check", &yaml], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("redial: {yaml}: expected a .toml or .json file\n")
    );
    let out = redial(&["check", "/no/such/policy.toml"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("redial: /no/such/policy.toml: "));
}

#[test]
fn check_of_several_files_fails_if_any_does() {
    let out = redial(
        &[
            "check",
            &policy("platform.toml"),
            &policy("invalid/factor-zero.toml"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("max_attempts = 4"));
    assert!(stderr(&out).contains("backoff.factor"));
}

#[test]
fn an_invalid_policy_fails_every_command_the_same_way() {
    let path = policy("invalid/cap-below-base.toml");
    for args in [
        vec!["schedule", "--policy", &path],
        vec!["explain", "--policy", &path, "--status", "503"],
        vec!["decide", "--policy", &path],
    ] {
        let out = redial(&args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&out),
            format!("redial: {path}:3:1: backoff.cap: must be >= base (200ms), got 100ms\n")
        );
    }
}

#[test]
fn usage_mistakes_exit_2_with_clap_messages() {
    let out = redial(&["schedule", "--preset", "google"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("possible values: default, anthropic, openai, aws-standard"));
    let out = redial(
        &["schedule", "--preset", "default", "--policy", "x.toml"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = redial(&["explain"], b"");
    assert_eq!(
        out.status.code(),
        Some(2),
        "--status or --transport is needed"
    );
}

#[test]
fn help_shows_examples() {
    for args in [
        vec!["--help"],
        vec!["check", "--help"],
        vec!["schedule", "--help"],
        vec!["explain", "--help"],
        vec!["decide", "--help"],
    ] {
        let out = redial(&args, b"");
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).contains("Examples:"), "{args:?}");
    }
}

#[test]
fn simulate_compares_presets_and_policy_files() {
    let file = fixture("policies/anthropic-longer.toml")
        .display()
        .to_string();
    let out = redial(
        &[
            "simulate",
            "--scenario",
            "outage",
            "--clients",
            "50",
            "--duration",
            "2m",
            "--no-chart",
            "--compare",
            &format!("default,{file}"),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().find(|l| l.starts_with("measure")).unwrap();
    assert!(
        header.contains("default") && header.contains("anthropic-longer.toml"),
        "{header}"
    );
    assert!(text.contains("amplification (attempts/call)"), "{text}");

    let out = redial(&["simulate", "--no-chart", "--compare", "nonsense"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown policy \"nonsense\""),
        "{}",
        stderr(&out)
    );
}

/// Issue 17: `--seeds A-B` runs every policy on each seed and prints the worst seed and
/// the median of each measure, and the single-seed table is unchanged.
#[test]
fn simulate_over_seeds_prints_the_worst_and_the_median() {
    let small = [
        "simulate",
        "--no-chart",
        "--scenario",
        "brownout",
        "--failure",
        "503",
        "--clients",
        "10",
        "--duration",
        "2m",
        "--incident-at",
        "30s",
        "--incident-for",
        "1m",
        "--compare",
        "default,default@off",
    ];
    let out = redial(&[&small[..], &["--seeds", "1-3"]].concat(), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("seeds 1-3."), "{text}");
    assert!(text.contains("50% of requests fail with 503."), "{text}");
    let header = text.lines().find(|l| l.starts_with("measure")).unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "measure",
            "default",
            "worst",
            "default",
            "median",
            "default@off",
            "worst",
            "default@off",
            "median"
        ]
    );
    assert!(
        stderr(&out).contains("simulated 6 run(s)"),
        "{}",
        stderr(&out)
    );
    // The worst is the worst of the seeds the single-seed table shows.
    let during = |text: &str| -> Vec<f64> {
        let line = text
            .lines()
            .find(|l| l.starts_with("call success during incident"))
            .unwrap_or_else(|| panic!("{text}"));
        line.split_whitespace()
            .filter_map(|c| c.strip_suffix('%'))
            .map(|c| c.parse().unwrap())
            .collect()
    };
    let seeds: Vec<Vec<f64>> = (1..=3)
        .map(|seed| {
            let out = redial(&[&small[..], &["--seed", &seed.to_string()]].concat(), b"");
            assert!(out.status.success(), "{}", stderr(&out));
            during(&stdout(&out))
        })
        .collect();
    let worst_default = seeds.iter().map(|v| v[0]).fold(f64::MAX, f64::min);
    let cells = during(&text);
    assert_eq!(cells.len(), 4, "{text}");
    assert_eq!(cells[0], worst_default, "{text}");
    let mut defaults: Vec<f64> = seeds.iter().map(|v| v[0]).collect();
    defaults.sort_by(f64::total_cmp);
    assert_eq!(cells[1], defaults[1], "{text}");
}

#[test]
fn simulate_reads_failure_kinds_timeouts_and_the_shed_status() {
    let run = |extra: &[&str]| {
        let base = [
            "simulate",
            "--no-chart",
            "--clients",
            "10",
            "--duration",
            "1m",
            "--incident-at",
            "10s",
            "--incident-for",
            "20s",
        ];
        redial(&[&base[..], extra].concat(), b"")
    };
    let out = run(&["--failure", "refused"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("every request is refused (a connect failure, at once)."),
        "{}",
        stdout(&out)
    );
    let out = run(&[
        "--scenario",
        "brownout",
        "--failure",
        "timeout",
        "--timeout",
        "3s",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("50% of requests get no answer (the client times out after 3s)."),
        "{}",
        stdout(&out)
    );
    let out = run(&["--scenario", "brownout", "--failure", "429+20ms"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("50% of requests get 429 saying to wait 20ms."),
        "{}",
        stdout(&out)
    );
    let out = run(&["--scenario", "overload", "--shed-status", "503"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("sheds with 503."), "{}", stdout(&out));

    // Errors name the flag.
    for (args, message) in [
        (
            &["--failure", "nope"][..],
            "unknown failure \"nope\" (expected a status from 100 to 599, refused, timeout, or 429+<wait> such as 429+1s or 429+20ms)",
        ),
        (&["--failure", "429+2h"], "unknown failure \"429+2h\""),
        (&["--failure", "600"], "unknown failure \"600\""),
        (
            &["--timeout", "0s"],
            "--timeout: must be more than 0s and at most 1h, got 0s",
        ),
        (
            &["--shed-status", "99"],
            "--shed-status: must be a status from 100 to 599, got 99",
        ),
        (&["--seeds", "3-1"], "expected A-B, two seeds with A ≤ B"),
        (&["--seeds", "1-5000"], "at most 1000 seeds, got 1-5000"),
        (&["--seeds", "1-3", "--seed", "2"], "cannot be used with"),
    ] {
        let out = run(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

// ------------------------------------------------------------------------------- schedule

#[test]
fn schedule_lists_each_retry_and_how_the_call_stops() {
    let out = redial(&["schedule", "--seed", "42"], b"");
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "# preset default, seed 42: the delay before each retry if every attempt fails"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["retry", "raw", "delay", "total"]
    );
    assert!(lines[2].trim_start().starts_with("1  500ms"), "{text}");
    assert!(lines[3].trim_start().starts_with("2     1s"), "{text}");
    assert_eq!(
        lines[4],
        "then: attempts_exhausted (attempt 3 of max_attempts 3 fails too)"
    );
    // The columns line up: every row as wide as the header.
    assert_eq!(lines[1].len(), lines[2].len());
    assert_eq!(
        redial(&["schedule", "--seed", "42"], b"").stdout,
        out.stdout,
        "same seed, same schedule"
    );
}

#[test]
fn schedule_without_jitter_is_the_raw_curve() {
    let out = redial(
        &[
            "schedule",
            "--policy",
            &policy("decide.toml"),
            "--seed",
            "1",
        ],
        b"",
    );
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(2)
        .take(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [["1", "500ms", "500ms", "500ms"], ["2", "1s", "1s", "1.5s"]]
    );
}

#[test]
fn schedule_samples_give_min_p50_p99_max_per_retry() {
    let out = redial(
        &[
            "schedule",
            "--preset",
            "anthropic",
            "--samples",
            "500",
            "--seed",
            "3",
        ],
        b"",
    );
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "# preset anthropic, 500 runs (seeds 3..=502): each retry's delay if every attempt fails"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["retry", "raw", "min", "p50", "p99", "max"]
    );
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(row[..2], ["1", "500ms"]);
    let ms = |s: &str| redial::duration::parse(s).unwrap().as_millis();
    let (min, p50, p99, max) = (ms(row[2]), ms(row[3]), ms(row[4]), ms(row[5]));
    assert!(
        375 <= min && min <= p50 && p50 <= p99 && p99 <= max && max <= 500,
        "proportional 0.25: 375ms..500ms\n{text}"
    );
    assert!(lines[4].trim_start().starts_with("total"));
    assert_eq!(lines[5], "then: attempts_exhausted in 500 of 500 runs");
    assert!(
        lines[1..5].iter().all(|l| l.len() == lines[1].len()),
        "aligned:\n{text}"
    );
}

#[test]
fn schedule_shows_where_the_deadline_cuts() {
    // max_elapsed 2s, no jitter: retries wait 500ms (ends at 500ms) and 1s (ends at 1.5s);
    // the third would wait 2s and end at 3.5s, past the limit, so the deadline cuts the
    // call there, with 5 attempts allowed.
    let dir = std::env::temp_dir().join(format!("redial-cli-deadline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("deadline.toml");
    std::fs::write(
        &path,
        "max_attempts = 5\nmax_elapsed = \"2s\"\n[backoff]\nbase = \"500ms\"\ncap = \"8s\"\njitter = \"none\"\n",
    )
    .unwrap();
    let path = path.display().to_string();
    let single = redial(&["schedule", "--policy", &path], b"");
    let sampled = redial(&["schedule", "--policy", &path, "--samples", "50"], b"");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(single.status.success(), "{}", stderr(&single));
    let text = stdout(&single);
    let lines: Vec<&str> = text.lines().collect();
    let rows: Vec<Vec<&str>> = lines[2..4]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [["1", "500ms", "500ms", "500ms"], ["2", "1s", "1s", "1.5s"]],
        "{text}"
    );
    assert!(
        lines[4].starts_with("then: deadline_exceeded"),
        "the third retry is cut by the deadline:\n{text}"
    );
    assert!(
        stdout(&sampled).contains("then: deadline_exceeded in 50 of 50 runs"),
        "{}",
        stdout(&sampled)
    );
}

// -------------------------------------------------------------------------------- explain

#[test]
fn explain_a_429_with_retry_after_30() {
    let out = redial(
        &["explain", "--status", "429", "--header", "retry-after: 30"],
        b"",
    );
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "Retry after 30s to 31s: 429 is retryable (it is in classify.retry_status) and GET is \
         idempotent; the wait is the 30s the server asked for in retry-after, plus up to 1s so \
         that clients told the same time do not all return at once.\n\
         This 429 says to wait 30s but states no quota, as a brown-out's 429s may (engage = \
         \"quota\"): the rate pacer holds every attempt of this policy's calls to the host \
         for 2s, then lets one go to check. Refused with the same end, the window is spent: \
         the hold lasts until it ends, and for 1m such 429s hold unchecked and cut the \
         pacer's rate to 70 % of what the calls send; succeeding, waits that state no quota \
         hold nothing for 1m. A slot further than max_wait 10s past any hold the server \
         stated (or past the call's deadline) stops the call with rate_limited, before it is \
         sent.\n"
    );
}

#[test]
fn explain_says_what_the_rate_pacer_learns_when_the_policy_paces() {
    let paced = policy("paced.toml");
    let out = redial(&["explain", "--policy", &paced, "--status", "429"], b"");
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.lines().nth(1).is_some_and(|l| l.starts_with(
            "The rate pacer learns a throttle: its rate is cut to 70 % of what the calls were sending and the next send is held for 70ms"
        ) && l.ends_with("max_wait 5s past any hold the server stated (or past the call's deadline) stops the call with rate_limited, before it is sent.")),
        "{text}"
    );
    let quota = redial(
        &[
            "explain",
            "--policy",
            &paced,
            "--status",
            "200",
            "-H",
            "ratelimit: \"default\";r=5;t=10",
        ],
        b"",
    );
    assert!(
        stdout(&quota).contains(
            "The rate pacer reads the quota: 5 requests remain for 10s, about 0.5 requests/s;"
        ),
        "{}",
        stdout(&quota)
    );
    // Without a [rate] table, the presets' pacer: a 429 that states no quota teaches it
    // nothing, with or without nginx's `Retry-After: 1`.
    let nothing = "The rate pacer learns nothing from a 429 that states no quota (engage = \
                   \"quota\"): a brown-out's 429s look the same; a [rate] table paces a \
                   limiter that only says Retry-After.";
    for headers in [&[][..], &["-H", "retry-after: 1"][..]] {
        let preset = redial(
            &[&["explain", "--status", "429"][..], headers].concat(),
            b"",
        );
        assert_eq!(stdout(&preset).lines().nth(1), Some(nothing), "{headers:?}");
    }
    // A wait too short to check holds nothing; a longer one holds until its check.
    let three = redial(&["explain", "--status", "429", "-H", "retry-after: 3"], b"");
    assert!(
        stdout(&three).contains("does not hold for this 429's wait of 3s"),
        "{}",
        stdout(&three)
    );
    let five = redial(&["explain", "--status", "429", "-H", "retry-after: 5"], b"");
    assert!(
        stdout(&five).contains("holds every attempt of this policy's calls to the host for 2s"),
        "{}",
        stdout(&five)
    );
    // A stated quota engages it, and a spent one holds until its reset.
    let spent = redial(
        &[
            "explain",
            "--status",
            "429",
            "-H",
            "x-ratelimit-remaining: 0",
            "-H",
            "x-ratelimit-reset: 20",
        ],
        b"",
    );
    assert!(
        stdout(&spent).contains(
            "This 429 states the server's quota, which engages the rate pacer (engage = \
             \"quota\"): it holds every attempt of this policy's calls to the host for 20s \
             first (the quota it states is spent)"
        ),
        "{}",
        stdout(&spent)
    );
    // Pacing off: nothing is said of a pacer.
    let off = temp_policy("unpaced.toml", "[rate]\nenabled = false\n");
    let unpaced = redial(&["explain", "--policy", &off, "--status", "429"], b"");
    assert!(!stdout(&unpaced).contains("pacer"), "{}", stdout(&unpaced));
}

#[test]
fn explain_a_post_502() {
    let out = redial(&["explain", "--status", "502", "--method", "POST"], b"");
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "Do not retry (not_retryable): a 502 would be retryable, but POST is not idempotent and \
         the server may already have acted on it (non_idempotent = \"when_safe\" retries a POST \
         only after a connect failure, 425, 429, 503 or 529); send an Idempotency-Key to make it \
         safe to retry.\n"
    );
    let with_key = redial(
        &[
            "explain",
            "--status",
            "502",
            "--method",
            "POST",
            "--request-header",
            "Idempotency-Key: k1",
        ],
        b"",
    );
    assert!(stdout(&with_key).starts_with("Retry after 0s to 500ms: 502 is retryable"));
    assert!(stdout(&with_key).contains("this POST has an Idempotency-Key"));
}

#[test]
fn explain_names_invalid_and_outranked_headers() {
    let out = redial(
        &[
            "explain",
            "--status",
            "429",
            "-H",
            "retry-after: soon",
            "-H",
            "retry-after-ms: 1500",
            "-H",
            "x-ratelimit-reset: 9",
        ],
        b"",
    );
    let text = stdout(&out);
    assert!(text.starts_with("Retry after 1.5s to 1.7s:"), "{text}");
    assert!(text.contains("in retry-after-ms"));
    assert!(
        text.contains("Note: retry-after is present but not valid (\"soon\"), so it was ignored.")
    );
    assert!(text.contains("Note: x-ratelimit-reset asks for 9s, but retry-after-ms comes first."));
}

#[test]
fn explain_a_long_hint_and_an_http_date() {
    let long = redial(
        &["explain", "--status", "503", "-H", "retry-after: 7200"],
        b"",
    );
    assert!(stdout(&long).starts_with(
        "Do not retry (hint_too_long): the server asked for 2h in retry-after, more than max_hint 1m"
    ));
    let date = redial(
        &[
            "explain",
            "--status",
            "503",
            "-H",
            "retry-after: Mon, 23 Nov 2026 10:00:30 GMT",
            "--now",
            "2026-11-23T10:00:00Z",
        ],
        b"",
    );
    assert!(stdout(&date).starts_with("Retry after 30s to 31s: 503 is retryable"));
}

#[test]
fn explain_error_types_streams_and_transport() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--status", "400", "--error-type", "invalid_request_error"],
            "Do not retry (not_retryable): 400 invalid_request_error is not retryable: invalid_request_error is a mistake in the request",
        ),
        (
            &["--preset", "anthropic", "--status", "200", "--error-type", "overloaded_error", "--method", "POST"],
            "Retry after 375ms to 500ms: an overloaded_error event after a 200 is retryable by its error type and the policy retries a POST like any request",
        ),
        (
            &["--status", "200", "--error-type", "overloaded_error", "--method", "POST"],
            "Do not retry (not_retryable): an overloaded_error event after a 200 would be retryable, but POST is not idempotent",
        ),
        (
            &["--transport", "connect", "--method", "POST"],
            "Retry after 0s to 500ms: a connect failure is retryable (the request never reached the server) even for a POST",
        ),
        (&["--status", "200"], "Nothing to retry (succeeded): 200 is a success."),
        (&["--status", "404"], "Do not retry (not_retryable): 404 is not in classify.retry_status."),
        (
            &["--status", "503", "-H", "x-should-retry: false"],
            "Do not retry (not_retryable): the server sent x-should-retry: false with its 503.",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["explain"];
        all.extend_from_slice(args);
        let out = redial(&all, b"");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with(want),
            "{args:?}\n got: {}\nwant: {want}",
            stdout(&out)
        );
    }
}

#[test]
fn explain_rejects_bad_input_with_a_message() {
    let out = redial(
        &["explain", "--status", "429", "--header", "retry-after 30"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("expected 'name: value'"));
    let out = redial(&["explain", "--status", "1000"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = redial(&["explain", "--status", "503", "--now", "yesterday"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("RFC 3339"));
}

// --------------------------------------------------------------------------------- decide

#[test]
fn decide_reaches_every_stop_reason() {
    let out = decide(
        &["--policy", &policy("decide.toml"), "--seed", "1"],
        &calls("stop-reasons.jsonl"),
    );
    let ids: Vec<&str> = out.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "succeeded",
            "not_retryable",
            "attempts_exhausted",
            "hint_too_long",
            "deadline_exceeded",
            "budget_exhausted"
        ]
    );
    for line in &out {
        let reasons = reasons(line);
        assert_eq!(
            reasons.last().map(String::as_str),
            line["id"].as_str(),
            "{line}"
        );
    }
    // No jitter: the delays are the curve's, and `why` is the Retry's own phrase.
    assert_eq!(
        out[2]["steps"],
        serde_json::json!([
            {"action": "retry", "delay_ms": 500, "why": "503; backoff 1 of 2"},
            {"action": "retry", "delay_ms": 1000, "why": "503; backoff 2 of 2"},
            {"action": "stop", "reason": "attempts_exhausted", "why": "attempts_exhausted: 503 on the last of 3 attempt(s)"}
        ])
    );
    assert_eq!(
        out[4]["steps"][1]["why"],
        "deadline_exceeded: 9.5s elapsed + 1s wait would pass max_elapsed 10s"
    );
    assert_eq!(
        out[5]["steps"][0]["why"],
        "budget_exhausted: retry costs 10 tokens, budget holds 5"
    );
    assert_eq!(
        out[3]["steps"][0]["why"],
        "hint_too_long: server asked 1h, more than max_hint 1m"
    );
}

#[test]
fn decide_carries_the_budget_from_line_to_line() {
    let out = decide(
        &["--policy", &policy("tiny-budget.toml")],
        &calls("budget-carries.jsonl"),
    );
    let all: Vec<Vec<String>> = out.iter().map(reasons).collect();
    assert_eq!(
        all,
        [
            vec!["retry", "attempts_exhausted"],
            vec!["retry", "attempts_exhausted"],
            vec!["budget_exhausted"],
            vec!["succeeded"],
            vec!["budget_exhausted"],
        ]
    );
    // The first-attempt success put back one token.
    assert_eq!(
        out[4]["steps"][0]["why"],
        "budget_exhausted: retry costs 5 tokens, budget holds 1"
    );
    // The third call alone, in a run of its own, has the whole budget.
    let alone = redial(
        &["decide", "--policy", &policy("tiny-budget.toml")],
        br#"{"id": "third", "attempts": [{"status": 503}]}"#,
    );
    let line: Value = serde_json::from_slice(&alone.stdout).unwrap();
    assert_eq!(reasons(&line), ["retry"]);
}

#[test]
fn decide_is_deterministic_with_a_seed() {
    let file = calls("anthropic.jsonl");
    let a = redial(
        &["decide", "--preset", "anthropic", "--seed", "7", &file],
        b"",
    );
    let b = redial(
        &["decide", "--preset", "anthropic", "--seed", "7", &file],
        b"",
    );
    let c = redial(
        &["decide", "--preset", "anthropic", "--seed", "8", &file],
        b"",
    );
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout, "another seed, other jitter");
    // stdin and a file argument are the same input.
    let stdin = redial(
        &["decide", "--preset", "anthropic", "--seed", "7"],
        &std::fs::read(&file).unwrap(),
    );
    assert_eq!(a.stdout, stdin.stdout);
}

#[test]
fn decide_anthropic_errors() {
    let out = decide(
        &["--policy", &policy("anthropic-bucket.toml"), "--seed", "7"],
        &calls("anthropic.jsonl"),
    );
    let by_id = |id: &str| {
        out.iter()
            .find(|l| l["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    assert_eq!(reasons(by_id("overloaded-then-ok")), ["retry", "succeeded"]);
    let d = delay(by_id("overloaded-then-ok"), 0);
    assert!((2000..=2200).contains(&d), "2s plus up to 10 %: {d}");
    assert_eq!(
        by_id("overloaded-then-ok")["steps"][0]["why"],
        "529 overloaded_error; server asked 2s (retry-after)"
    );
    // The bucket that is out (requests) resets in 20s; tokens has some left.
    let rl = by_id("rate-limited");
    assert_eq!(reasons(rl), ["retry", "succeeded"]);
    assert!((20_000..=21_000).contains(&delay(rl, 0)), "{rl}");
    assert!(rl["steps"][0]["why"]
        .as_str()
        .unwrap()
        .contains("anthropic-ratelimit-*-reset"));
    for id in [
        "invalid-request",
        "authentication",
        "billing",
        "too-large-from-proxy",
        "should-retry-false",
    ] {
        assert_eq!(reasons(by_id(id)), ["not_retryable"], "{id}");
    }
    assert_eq!(
        reasons(by_id("api-error-three-times")),
        ["retry", "retry", "attempts_exhausted"]
    );
    assert_eq!(
        reasons(by_id("overloaded-mid-stream")),
        ["retry", "succeeded"]
    );
    assert_eq!(
        reasons(by_id("transport")),
        ["retry", "retry", "attempts_exhausted"]
    );
    assert_eq!(
        by_id("transport")["steps"][1]["why"],
        "reset; backoff 2 of 2"
    );
}

#[test]
fn decide_reads_request_headers_and_methods() {
    let out = decide(&["--seed", "1"], &calls("idempotency.jsonl"));
    let all: Vec<Vec<String>> = out.iter().map(reasons).collect();
    assert_eq!(
        all,
        [
            vec!["not_retryable"],
            vec!["retry", "succeeded"],
            vec!["retry", "succeeded"],
            vec!["retry", "succeeded"],
            vec!["not_retryable"],
        ]
    );
    assert_eq!(
        out[0]["steps"][0]["why"],
        "not_retryable: 502 (request not idempotent)"
    );
}

#[test]
fn decide_takes_the_wall_clock_from_now_plus_at_ms() {
    let out = decide(&["--seed", "1"], &calls("wall-clock.jsonl"));
    let line = &out[0];
    // The same date is 30s away at the start and 20s away 10s later.
    assert!((30_000..=31_000).contains(&delay(line, 0)), "{line}");
    assert!((20_000..=21_000).contains(&delay(line, 1)), "{line}");
    // Two attempts and no stop: the steps end with the last retry.
    assert_eq!(reasons(line), ["retry", "retry"]);
}

#[test]
fn decide_answers_malformed_lines_and_goes_on() {
    let out = decide(&["--seed", "1"], &calls("malformed.jsonl"));
    let input = std::fs::read_to_string(calls("malformed.jsonl")).unwrap();
    // One answer per line, the blank one included.
    assert_eq!(out.len(), input.lines().count());
    assert_eq!(reasons(&out[0]), ["retry", "succeeded"]);
    assert_eq!(reasons(out.last().unwrap()), ["retry", "succeeded"]);
    let errors: Vec<(Value, String)> = out[1..out.len() - 1]
        .iter()
        .map(|l| {
            assert!(l.get("steps").is_none(), "{l}");
            let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["error", "id"], "exactly id and error: {l}");
            (l["id"].clone(), l["error"].as_str().unwrap().to_string())
        })
        .collect();
    let expect: &[(Value, &str)] = &[
        (Value::Null, "not JSON: "),
        (Value::Null, "expected an object with \"attempts\""),
        ("no-attempts".into(), "missing field `attempts`"),
        ("typo".into(), "attempts[0]: unknown field `statsu`"),
        (42.into(), "attempts[0]: transport: expected one of connect, timeout, reset, other, found \"teleport\""),
        ("both".into(), "attempts[0]: \"transport\" means no response arrived"),
        ("neither".into(), "attempts[0]: expected \"status\", \"stream_error\" or \"transport\""),
        ("big-status".into(), "attempts[0]: status: expected 100 to 999, found 1000"),
        ("stream-on-503".into(), "attempts[0]: \"stream_error\" is an error event after a 2xx"),
        ("backwards".into(), "attempts[1]: at_ms 100 is earlier than the attempt before (500)"),
        ("bad-header".into(), "attempts[0]: headers: \"retry after\" is not a valid header name"),
        ("bad-now".into(), "now: expected an RFC 3339 time"),
        ("bad-method".into(), "method: \"GE T\" is not a valid method"),
        (serde_json::json!({"nested": true}), "invalid type: string \"none\", expected a sequence"),
        (Value::Null, "empty line: expected a JSON object"),
    ];
    assert_eq!(errors.len(), expect.len());
    for ((id, error), (want_id, want)) in errors.iter().zip(expect) {
        assert_eq!(id, want_id, "{error}");
        assert!(
            error.starts_with(want),
            "{id}:\n got: {error}\nwant: {want}"
        );
    }
}

#[test]
fn decide_survives_bytes_that_are_not_utf8() {
    let out = redial(&["decide"], b"\xff\xfe\n{\"id\": 1, \"attempts\": []}\n");
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "{\"id\":null,\"error\":\"not UTF-8\"}\n{\"id\":1,\"steps\":[]}\n"
    );
}

// ------------------------------------------------------------------------------ issue 13

/// 24,577 distinct header names made `http::HeaderMap` panic ("size overflows MAX_SIZE"),
/// and every later line went unanswered.
#[test]
fn issue_13_too_many_headers_get_an_error_line_not_a_panic() {
    let headers: serde_json::Map<String, Value> = (0..25_000)
        .map(|i| (format!("x-h{i}"), Value::String("1".into())))
        .collect();
    let big = serde_json::json!({"id": "big", "attempts": [{"status": 503, "headers": headers}]});
    let req =
        serde_json::json!({"id": "req", "request_headers": headers, "attempts": [{"status": 503}]});
    let input =
        format!("{big}\n{req}\n{{\"id\": \"after\", \"attempts\": [{{\"status\": 200}}]}}\n");
    let out = redial(&["decide", "--seed", "1"], input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0]["error"].as_str().unwrap().ends_with(
        "headers: more than 1000 headers, the most redial reads for one response or request"
    ));
    assert!(lines[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("request_headers: more than 1000"));
    assert_eq!(lines[2]["steps"][0]["reason"], "succeeded");

    let mut args = vec!["explain".to_string(), "--status".into(), "503".into()];
    for i in 0..1001 {
        args.push("-H".into());
        args.push(format!("x-h{i}: 1"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = redial(&args, b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("redial: --header: more than 1000 headers"));
}

/// A 50 MB line peaked at 4.7 GB: a line over 1 MiB is answered with an error, its bytes
/// dropped as they are read, and the run goes on.
#[test]
fn issue_13_a_line_over_one_mib_is_refused_and_the_run_goes_on() {
    let mut input = vec![b' '; (1 << 20) + 1];
    input.extend_from_slice(b"\n{\"id\": 2, \"attempts\": [{\"status\": 200}]}\n");
    let out = redial(&["decide"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("line longer than 1 MiB"), "{}", lines[0]);
    assert!(lines[1].starts_with("{\"id\":2,\"steps\""), "{}", lines[1]);
    // A line of exactly 1 MiB is still read.
    let mut input = br#"{"id": 3, "attempts": [{"status": 200}]}"#.to_vec();
    input.resize(1 << 20, b' ');
    let out = redial(&["decide"], &input);
    assert!(
        stdout(&out).starts_with("{\"id\":3,\"steps\""),
        "{}",
        stdout(&out)
    );
}

/// `check` on a symlink to /dev/zero grew to 3.7 GB.
#[cfg(unix)]
#[test]
fn issue_13_check_refuses_dev_zero_at_once() {
    let link = std::env::temp_dir().join(format!("redial-cli-zero-{}.toml", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let out = redial(&["check", &link.display().to_string()], b"");
    std::fs::remove_file(&link).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .ends_with("larger than the 256 KiB a policy file may hold; is it the right file?\n"),
        "{}",
        stderr(&out)
    );
}

/// `decide` with a duplicated `id` kept the last silently.
#[test]
fn issue_13_decide_refuses_a_repeated_key() {
    let out = redial(
        &["decide"],
        b"{\"id\": \"a\", \"id\": \"b\", \"attempts\": [{\"status\": 200}]}\n",
    );
    assert_eq!(
        stdout(&out),
        "{\"id\":null,\"error\":\"not JSON: duplicate key `id`: give each key once (column 21)\"}\n"
    );
}

/// `explain --transport` with `--header` silently dropped the header.
#[test]
fn issue_13_explain_refuses_headers_on_a_transport_failure() {
    let out = redial(
        &["explain", "--transport", "timeout", "-H", "retry-after: 1"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("'--header <NAME: VALUE>'"),
        "{}",
        stderr(&out)
    );
}

/// A past HTTP date was explained as "the 0s the server asked for".
#[test]
fn issue_13_explain_says_a_past_date_has_passed() {
    let out = redial(
        &[
            "explain",
            "--status",
            "503",
            "--header",
            "retry-after: Mon, 23 Nov 2026 09:00:00 GMT",
            "--now",
            "2026-11-23T10:00:00Z",
        ],
        b"",
    );
    assert_eq!(
        stdout(&out),
        "Retry after 0s: 503 is retryable (it is in classify.retry_status) and GET is idempotent; \
         the server asked to wait until a date in retry-after, and that date has passed, so the \
         retry is made at once.\n"
    );
}

#[test]
fn explain_a_later_attempt() {
    let out = redial(
        &[
            "explain",
            "--policy",
            &policy("platform.toml"),
            "--status",
            "503",
            "--attempt",
            "3",
            "--elapsed",
            "29.5s",
        ],
        b"",
    );
    let text = stdout(&out);
    assert!(
        text.starts_with("Attempt 3 of at most 4, 29.5s into the call:\n"),
        "{text}"
    );
    // explain draws with a fixed seed: one outcome, the backoff's range for retry 3.
    assert!(
        text.contains("Retry after 0s to 800ms: 503 is retryable"),
        "{text}"
    );
    let out = redial(&["explain", "--status", "503", "--attempt", "3"], b"");
    assert!(
        stdout(&out).contains("Do not retry (attempts_exhausted)"),
        "{}",
        stdout(&out)
    );
    let out = redial(&["explain", "--status", "503", "--attempt", "5"], b"");
    assert_eq!(
        stdout(&out),
        "The call never reaches attempt 5: attempt 3 ends it (attempts_exhausted: connect on the last of 3 attempt(s)).\n"
    );
    let out = redial(&["explain", "--status", "503", "--attempt", "0"], b"");
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 13, item 4: what cannot be meant fails `check`, naming the key and why; what is
/// probably a mistake warns, and fails only with `--strict`.
#[test]
fn issue_13_check_refuses_self_defeating_policies_and_warns_on_mistakes() {
    let text = "max_attempts = 4294967295\n[backoff]\nbase = \"0s\"\ncap = \"0s\"\n[hints]\nmax_hint = \"0s\"\non_long_hint = \"clamp\"\n[classify]\nretry_status = [200, 304]\n[budget]\nretry_cost = 0\n";
    let out = redial(&["check", "-"], text.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let keys: Vec<&str> = err
        .lines()
        .map(|l| l.split(": ").nth(2).unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "max_attempts",
            "backoff.base",
            "hints.max_hint",
            "classify.retry_status",
            "budget.retry_cost"
        ],
        "{err}"
    );
    assert!(
        err.contains("-:9:1: classify.retry_status: must hold error statuses (400 to 599)"),
        "{err}"
    );

    for (text, warning) in [
        ("", "-:1:1: warning: policy: the file sets nothing"),
        ("{}", "-:1:1: warning: policy: the file sets nothing"),
        (
            "max_elapsed = \"100ms\"",
            "-:1:1: warning: max_elapsed: 100ms is shorter than the first retry's backoff (500ms)",
        ),
    ] {
        let out = redial(&["check", "-"], text.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{text:?}");
        assert!(
            stderr(&out).starts_with(&format!("redial: {warning}")),
            "{text:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).contains("max_attempts = 3"));
        let out = redial(&["check", "--strict", "-"], text.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{text:?} --strict");
    }
}

#[test]
fn check_format_json_lists_every_finding() {
    let out = redial(
        &[
            "check",
            "--format",
            "json",
            &policy("platform.toml"),
            &policy("invalid/budget-retry-cost-over-capacity.toml"),
            &policy("invalid/not-a-policy-format.yaml"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"], 3);
    assert_eq!(v["warnings"], 0);
    let rows = v["findings"].as_array().unwrap();
    assert_eq!(rows[0]["key"], "budget.retry_cost");
    assert_eq!(rows[0]["line"], 3);
    assert_eq!(rows[0]["column"], 1);
    assert_eq!(rows[0]["rule"], "must be <= capacity (8), got 10");
    assert!(rows[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("budget-retry-cost-over-capacity.toml"));
    assert_eq!(rows[1]["key"], "budget.timeout_cost");
    assert_eq!(rows[1]["line"], Value::Null, "from the preset: no line");
    assert_eq!(rows[2]["key"], Value::Null);
    assert_eq!(rows[2]["rule"], "expected a .toml or .json file");
    assert!(stderr(&out).is_empty());
}

#[test]
fn diff_shows_settings_schedule_and_decisions_that_change() {
    let out = redial(&["diff", "openai", "anthropic"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("# openai → anthropic\n\nsettings:\n"),
        "{text}"
    );
    let settings: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("  key"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(settings, ["  hints.max_hint  2m      1m"], "{text}");
    let marked: Vec<&str> = text.lines().filter(|l| l.ends_with('*')).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].starts_with("  GET 429 retry-after: 90"), "{text}");
    assert!(marked[0].contains("stop: hint_too_long"), "{text}");

    let out = redial(&["diff", "default", &policy("anthropic-longer.toml")], b"");
    let text = stdout(&out);
    assert!(
        text.contains("classify.retry_status  8 codes    104 codes: +409 +501 +505–528 +530–599"),
        "{text}"
    );
    assert!(text.contains("  3      -                   1.7"), "{text}");

    let out = redial(&["diff", "default", "default"], b"");
    assert!(stdout(&out).contains("settings:\n  the same\n"));
    assert!(!stdout(&out).contains('*'));

    let out = redial(
        &["diff", "default", &policy("invalid/cap-below-base.toml")],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cap-below-base.toml:3:1: backoff.cap"),
        "{}",
        stderr(&out)
    );
}

/// Issue 13: `simulate` took presets only; `--policy FILE` load-tests the file under
/// review beside the baseline.
#[test]
fn simulate_takes_the_policy_file_under_review() {
    let file = policy("anthropic-longer.toml");
    let out = redial(
        &[
            "simulate",
            "--clients",
            "10",
            "--duration",
            "2m",
            "--no-chart",
            "--policy",
            &file,
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().find(|l| l.starts_with("measure")).unwrap();
    assert!(
        header.contains("default") && header.contains("anthropic-longer.toml"),
        "{header}"
    );
}

/// Issue 13, item 6: a fractional `retry-after-ms` read "server asked 123456789ns".
#[test]
fn issue_13_durations_people_read_are_never_raw_nanoseconds() {
    let out = redial(
        &["decide", "--seed", "1"],
        br#"{"attempts": [{"status": 429, "headers": {"retry-after-ms": "123.456789"}}]}"#,
    );
    let text = stdout(&out);
    assert!(
        text.contains("server asked 123ms (retry-after-ms)"),
        "{text}"
    );
    let out = redial(
        &[
            "explain",
            "--status",
            "429",
            "-H",
            "retry-after-ms: 90000.5",
        ],
        b"",
    );
    let text = stdout(&out);
    assert!(
        text.contains("the server asked for 1m30s in retry-after-ms"),
        "{text}"
    );
    assert!(!text.contains("ns "), "{text}");
}

/// Issue 13, item 5: each message names the file, the line and column, and the fix.
#[test]
fn issue_13_messages_name_the_file_the_place_and_the_fix() {
    let dir = std::env::temp_dir().join(format!("redial-messages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, &[u8], &str); 6] = [
        ("json.toml", b"{\"max_attempts\": 2}", "json.toml:1:1: invalid key-value pair, expected key; the text is JSON: name the file .json"),
        ("toml.json", b"max_attempts = 2\n", "toml.json:1:1: expected value; the text is not a JSON object: if it is TOML, name the file .toml"),
        ("bom.json", b"\xef\xbb\xbf{\"max_attempts\": 2}", "bom.json:1:1: expected value; the file starts with a byte order mark (U+FEFF), which JSON does not allow: save it as UTF-8 without BOM"),
        ("nan.json", b"{\n  \"backoff\": {\"factor\": NaN}\n}", "nan.json:2:25: expected value; JSON has no NaN or Infinity: write a finite number"),
        ("latin1.toml", b"max_attempts = 2\n# caf\xe9\n", "latin1.toml:2:6: not UTF-8 text (byte 0xE9); save the file as UTF-8 (policy files are text, TOML or JSON)"),
        ("twice.toml", b"[backoff]\ncap = \"1s\"\ncap = \"2s\"\n", "twice.toml:3:1: duplicate key `cap`"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = redial(&["check", &path.display().to_string()], b"");
        assert_eq!(out.status.code(), Some(1), "{name}");
        let want = format!("redial: {}/{want}\n", dir.display());
        assert_eq!(stderr(&out), want, "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ------------------------------------------------------------ the gate and the throttle

/// A policy file in a temporary directory, named after the test that writes it.
fn temp_policy(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("redial-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("the policy is written");
    path.display().to_string()
}

#[test]
fn explain_says_the_fleet_gate_holds_first_attempts_until_the_reset() {
    let fleet = temp_policy(
        "fleet.toml",
        "[fleet]\nurl = \"redis://127.0.0.1:6379\"\nkey = \"billing-api\"\nramp = \"10s\"\n",
    );
    let at = |args: &[&str]| {
        let mut all = vec!["explain", "--policy", &fleet];
        all.extend_from_slice(args);
        let out = redial(&all, b"");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    // A 429 with a reset: held 30s, then a ramp as long as the hold, up to `ramp`.
    let text = at(&["--status", "429", "--header", "retry-after: 30"]);
    assert!(
        text.lines().nth(1)
            == Some(
                "The rate-limit gate learns that the quota is spent: first attempts of every \
                 process naming fleet key \"billing-api\" are held 30s until it resets, then \
                 ramp back up over 10s."
            ),
        "{text}"
    );
    // A success whose quota has 0 left teaches it too; a short hold gets a short ramp.
    let text = at(&[
        "--status",
        "200",
        "--header",
        "x-ratelimit-remaining-requests: 0",
        "--header",
        "x-ratelimit-reset-requests: 2.1s",
    ]);
    assert!(
        text.contains("are held 2.1s until it resets, then ramp back up over 2.1s."),
        "{text}"
    );
    // A reset past max_hold is held max_hold.
    let text = at(&["--status", "429", "--header", "retry-after: 600"]);
    assert!(
        text.contains("are held 1m (max_hold 1m: the server's reset is later) until it resets"),
        "{text}"
    );
    // A 503's retry-after is one server's health, not the key's quota: nothing new.
    let text = at(&["--status", "503", "--header", "retry-after: 2"]);
    assert!(!text.contains("rate-limit gate"), "{text}");
    // Without a gate, nothing new either.
    let plain = redial(
        &["explain", "--status", "429", "--header", "retry-after: 30"],
        b"",
    );
    assert!(
        !stdout(&plain).contains("rate-limit gate"),
        "{}",
        stdout(&plain)
    );
}

#[test]
fn explain_a_later_attempt_gives_the_throttles_rule() {
    let out = redial(&["explain", "--status", "503", "--attempt", "2"], b"");
    let text = stdout(&out);
    assert!(
        text.ends_with(
            "Note: the retry budget is left out: it depends on the whole process's traffic \
             (see redial simulate); its throttle refuses a retry (budget_exhausted) when recent \
             retries would pass 2 per recent first attempt plus 0.5 for failures that look like \
             bad luck, 1 down to 0.1 as more of the attempts fail while the server sheds load, \
             and 0.1 once 3 retries since the last success found nothing working, over a 30s \
             window.\n"
        ),
        "{text}"
    );
    // The `aws` bucket has no throttle to describe.
    let out = redial(
        &[
            "explain",
            "--preset",
            "aws-standard",
            "--status",
            "503",
            "--attempt",
            "2",
        ],
        b"",
    );
    assert!(
        stdout(&out).ends_with("(see redial simulate).\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn decide_says_when_the_throttle_refuses_a_burst_of_503s() {
    // Calls that succeed, then a burst of 503s: the default (adaptive) budget retries the
    // first three and throttles the rest, in the shared vocabulary.
    let mut input = String::new();
    for i in 0..5 {
        input.push_str(&format!(
            "{{\"id\": \"ok{i}\", \"attempts\": [{{\"at_ms\": 0, \"status\": 200}}]}}\n"
        ));
    }
    for i in 0..5 {
        input.push_str(&format!(
            "{{\"id\": \"burst{i}\", \"attempts\": [{{\"status\": 503}}, {{\"status\": 200}}]}}\n"
        ));
    }
    let out = redial(&["decide", "--seed", "1"], input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let all: Vec<Vec<String>> = lines.iter().map(reasons).collect();
    assert_eq!(all[..5], vec![vec!["succeeded"]; 5]);
    // A new process's credit: three shed retries.
    assert_eq!(all[5..8], vec![vec!["retry", "succeeded"]; 3]);
    assert_eq!(all[8..], vec![vec!["budget_exhausted"]; 2]);
    // The why is `Stop::Throttled`'s: retries against the allowance, under the shed
    // ratio (a 503 says the server sheds load).
    for line in &lines[8..] {
        assert_eq!(
            line["steps"][0]["why"],
            "budget_exhausted: throttled: 3 recent retries already, at most 3 allowed while the server \
             sheds load"
        );
    }
    // The same burst in a fresh run of its own: its first 503 is retried.
    let alone = redial(
        &["decide", "--seed", "1"],
        br#"{"attempts": [{"status": 503}, {"status": 200}]}"#,
    );
    let line: Value = serde_json::from_slice(&alone.stdout).expect("JSON");
    assert_eq!(reasons(&line), ["retry", "succeeded"]);
}

#[test]
fn explain_says_when_the_throttle_refuses_a_retry() {
    // A throttle so strict that it allows no retry of bad luck at all, even a fresh
    // process's first.
    let strict = temp_policy(
        "strict.toml",
        "[budget]\nkind = \"adaptive\"\nretry_ratio = 0.0\nmin_retries = 0.1\n",
    );
    let out = redial(&["explain", "--policy", &strict, "--status", "500"], b"");
    assert_eq!(
        stdout(&out),
        "Do not retry (budget_exhausted): the throttle (the adaptive retry budget) refuses it: \
         0 recent retries already, at most 0 allowed for failures that look like bad luck \
         (retry_ratio 0 per recent first attempt, plus min_retries 0.1, over a 30s window).\n"
    );
}

/// Issue 18: the leaky-bucket and acceleration limiters as scenarios, and a pacer per
/// client with `--pacer`, whose rows show only when it ran.
#[test]
fn simulate_paces_against_a_leaky_bucket() {
    let args = [
        "simulate",
        "--no-chart",
        "--scenario",
        "leaky-bucket",
        "--clients",
        "1",
        "--rate",
        "30",
        "--incident-at",
        "0s",
        "--incident-for",
        "10m",
        "--duration",
        "40s",
    ];
    // Columns: the default preset, then the file's policy, which paces not at all. The
    // limiter's 429s say only `Retry-After: 1`, which does not engage the preset's pacer:
    // no pacer row.
    let unpaced = temp_policy("unpaced.toml", "[rate]\nenabled = false\n");
    let off = redial(&[&args[..], &["--policy", &unpaced]].concat(), b"");
    assert!(off.status.success(), "{}", stderr(&off));
    let text = stdout(&off);
    assert!(text.contains("leaky bucket of 10 requests/s with a burst of 10"));
    assert!(!text.contains("rate_limited (pacer)"), "{text}");
    // With `--pacer` (any 429 engages it), the row shows.
    let on = redial(&[&args[..], &["--pacer"]].concat(), b"");
    assert!(on.status.success(), "{}", stderr(&on));
    assert!(
        stdout(&on).contains("rate_limited (pacer)"),
        "{}",
        stdout(&on)
    );
    let bad = redial(&[&args[..], &["--limit-rate", "0"]].concat(), b"");
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--limit-rate"), "{}", stderr(&bad));
    let accel = redial(
        &[
            "simulate",
            "--no-chart",
            "--scenario",
            "acceleration",
            "--slope",
            "2",
        ],
        b"",
    );
    assert!(accel.status.success(), "{}", stderr(&accel));
    assert!(stdout(&accel).contains("rising by at most 2 each second"));
}

#[test]
fn decide_help_shows_what_its_own_input_prints() {
    // The help's sample input, run as the help says (--seed 7): the help's sample output.
    let help = stdout(&redial(&["decide", "--help"], b""));
    let input = help
        .split("Input, one call per line:")
        .nth(1)
        .and_then(|rest| rest.split("An attempt has").next())
        .expect("the sample input");
    let line: String = input.split_whitespace().collect::<Vec<_>>().join(" ");
    let out = redial(&["decide", "--seed", "7"], line.as_bytes());
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let sample = help
        .split("Output, one line per input line, in order (here with --seed 7):")
        .nth(1)
        .and_then(|rest| rest.split("Processing of a call").next())
        .expect("the sample output");
    let shown: Value = serde_json::from_str(sample.trim()).expect("the sample is JSON");
    assert_eq!(shown, printed, "the help's sample output");
}
