//! The invariants of the `decide_line` fuzz target: input lines of `redial decide`.
//!
//! Kept apart from `checks.rs` because they need the command line's library
//! (`redial-cli`), which the main crate's corpus replay test does not build. The fuzz target
//! `decide_line` compiles this file, and so does `cli/tests/fuzz_corpus.rs`, which replays
//! `fuzz/corpus/decide_line/` under `cargo test`.
//!
//! A corpus file is one or more input lines (JSON Lines, as `redial decide` reads them),
//! fed in order to one session, so that the budget carries from line to line. The checks
//! read the output as a client would (JSON, by `serde_json`) and hold it to the design's
//! "command line" section and to the policy.

use std::time::{Duration, Instant, UNIX_EPOCH};

use redial::backoff::{Curve, Jitter};
use redial::budget::BudgetConfig;
use redial::classify::NonIdempotent;
use redial::duration;
use redial::machine::OnLongHint;
use redial::{Policy, Preset, Rng, StopReason};
use redial_cli::decide::Session;
use serde_json::{Map, Value};

/// `data` is input lines. Each line goes through a session of each of a few policies
/// (presets, and small limits that reach every stop reason). Checks, for every line:
/// - nothing panics, and every line gets exactly one output line: a JSON object that is
///   either `{"id", "steps"}` or `{"id", "error"}` with a message (a blank line an error);
/// - `id` is the input's `id` when the line is a JSON value that has one, else `null`;
/// - steps follow the attempts: one per attempt until the first stop, which ends them;
///   never more retries than the policy allows, and a stop at the last attempt;
/// - a retry's `delay_ms` agrees with its `why`: a backoff (`backoff N of M`, N counting
///   the retries) is at most `cap`; an honoured hint lies in `[hint, hint + min(hint / 10,
///   1 s)]` and is at most `max_hint`; a clamped hint waits `max_hint` plus that spread,
///   only under `on_long_hint = "clamp"`; no wait ends past `max_elapsed`;
/// - a stop gives one of the design's reasons, its `why` opens with it, and the reason is
///   one the policy can give (no budget stop without a budget, …).
pub fn decide_line(data: &[u8]) {
    let start = Instant::now();
    // The design's example day, so that dated hints read the same on every run.
    let wall = UNIX_EPOCH + Duration::from_secs(1_795_428_000);
    for policy in policies() {
        let mut session = Session::at(&policy, start, wall);
        let mut rng = Rng::with_seed(7);
        for line in data.split(|&b| b == b'\n') {
            let answer = session.answer(line, &mut rng);
            check_answer(&policy, line, &answer);
        }
    }
}

/// Fresh policies for each input (a budget carries only within one input): two presets;
/// one with small limits of every kind, which clamps long hints; and one that never
/// retries a non-idempotent request and draws no jitter, so that its backoff delays are
/// exact (`1.999999ms` tripling: the rounding of `delay_ms` shows).
fn policies() -> [Policy; 4] {
    let small = Policy::builder()
        .max_attempts(4)
        .max_elapsed(Duration::from_secs(20))
        .curve(Curve::Linear)
        .jitter(Jitter::Decorrelated)
        .max_hint(Duration::from_secs(5))
        .on_long_hint(OnLongHint::Clamp)
        .budget(BudgetConfig::new(12, 5, 10, 1))
        .build();
    let exact = Policy::builder()
        .max_attempts(4)
        .curve(Curve::Exponential)
        .base(EXACT_BASE)
        .factor(3.0)
        .cap(Duration::from_secs(1))
        .jitter(Jitter::None)
        .non_idempotent(NonIdempotent::Never)
        .build();
    match (small, exact) {
        (Ok(small), Ok(exact)) => [
            Policy::preset(Preset::Default),
            Policy::preset(Preset::Anthropic),
            small,
            exact,
        ],
        (Err(e), _) | (_, Err(e)) => panic!("the checks' policies are valid: {e}"),
    }
}

/// The base of the exact policy: just under 2 ms.
const EXACT_BASE: Duration = Duration::from_nanos(1_999_999);

fn check_answer(policy: &Policy, line: &[u8], answer: &str) {
    let shown = String::from_utf8_lossy(line);
    let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
    let blank = trimmed.iter().all(u8::is_ascii_whitespace);
    if blank {
        assert!(
            answer.contains("\"error\""),
            "{shown:?}: a blank line is an error: {answer}"
        );
    }
    assert!(
        !answer.contains(['\n', '\r']),
        "{shown:?}: the answer {answer:?} is not one line"
    );
    let out: Value = serde_json::from_str(answer)
        .unwrap_or_else(|e| panic!("{shown:?}: the answer {answer:?} is not JSON: {e}"));
    let Value::Object(out) = out else {
        panic!("{shown:?}: the answer {answer:?} is not an object");
    };

    // The input as the checks read it: a JSON value, or nothing.
    let input: Option<Value> = std::str::from_utf8(trimmed)
        .ok()
        .and_then(|text| serde_json::from_str(text).ok());
    // A key given twice anywhere is refused (serde_json would keep the last silently), and
    // its id is not read: which of two would it be?
    let repeated = std::str::from_utf8(trimmed).is_ok_and(has_a_repeated_key);
    let id = input
        .as_ref()
        .filter(|_| !repeated)
        .and_then(|v| v.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    if repeated {
        assert!(
            out.contains_key("error"),
            "{shown:?}: a repeated key is an error: {answer}"
        );
    }
    assert_eq!(
        out.get("id"),
        Some(&id),
        "{shown:?}: the answer {answer:?} does not carry the id"
    );

    let mut keys: Vec<&str> = out.keys().map(String::as_str).collect();
    keys.sort_unstable();
    match keys[..] {
        ["error", "id"] => {
            let error = out.get("error").and_then(Value::as_str);
            assert!(
                error.is_some_and(|e| !e.trim().is_empty()),
                "{shown:?}: the error in {answer:?} says nothing"
            );
        }
        ["id", "steps"] => {
            let Some(Value::Object(call)) = &input else {
                panic!("{shown:?}: steps {answer:?} for a line that is not a JSON object");
            };
            let Some(Value::Array(attempts)) = call.get("attempts") else {
                panic!("{shown:?}: steps {answer:?} for a line without attempts");
            };
            let Some(Value::Array(steps)) = out.get("steps") else {
                panic!("{shown:?}: {answer:?} has steps that are not an array");
            };
            check_steps(
                policy,
                call,
                attempts,
                steps,
                &format!("{shown:?} -> {answer}"),
            );
        }
        _ => panic!("{shown:?}: the answer {answer:?} has keys {keys:?}"),
    }
}

/// Whether some object of a JSON text has a key twice (false when the text is not JSON).
fn has_a_repeated_key(text: &str) -> bool {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

    /// Visits a value; `Err` when an object repeats a key.
    struct Walk;

    impl<'de> serde::Deserialize<'de> for Walk {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Walk, D::Error> {
            d.deserialize_any(Walk)
        }
    }

    impl<'de> Visitor<'de> for Walk {
        type Value = Walk;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_str<E>(self, _: &str) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_unit<E>(self) -> Result<Walk, E> {
            Ok(Walk)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Walk, A::Error> {
            while seq.next_element::<Walk>()?.is_some() {}
            Ok(Walk)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Walk, A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<Walk>()?;
                if !seen.insert(key) {
                    return Err(serde::de::Error::custom("repeated"));
                }
            }
            Ok(Walk)
        }
    }

    serde_json::from_str::<Value>(text).is_ok() && serde_json::from_str::<Walk>(text).is_err()
}

/// The steps of one call, against its attempts and the policy.
fn check_steps(
    policy: &Policy,
    call: &Map<String, Value>,
    attempts: &[Value],
    steps: &[Value],
    context: &str,
) {
    let rules = policy.rules();
    let max_retries = rules.max_attempts() - 1;
    assert!(
        steps.len() <= attempts.len(),
        "{context}: more steps than attempts"
    );
    let stopped = steps.last().is_some_and(|s| s["action"] == "stop");
    if !stopped {
        assert_eq!(
            steps.len(),
            attempts.len(),
            "{context}: attempts left unprocessed without a stop"
        );
    }
    // When the attempt arrived, in milliseconds since the call began; a missing `at_ms` is
    // when the previous delay ended, of which the output shows the whole milliseconds, so
    // the estimate is never late.
    let mut due_ms: u64 = 0;
    let mut retries = 0;
    for (i, (step, attempt)) in steps.iter().zip(attempts).enumerate() {
        let Value::Object(step) = step else {
            panic!("{context}: step {i} is not an object");
        };
        let at_ms = attempt
            .get("at_ms")
            .and_then(Value::as_u64)
            .unwrap_or(due_ms);
        let is_last = i + 1 == steps.len();
        let attempts_made = i + 1;
        check_class(policy, call, attempt, step, context);
        match step.get("action").and_then(Value::as_str) {
            Some("retry") => {
                retries += 1;
                assert!(
                    retries <= max_retries,
                    "{context}: retry {retries} of at most {max_retries}"
                );
                let delay_ms = check_retry(policy, step, retries, context);
                if let Some(limit) = rules.max_elapsed() {
                    let end = u128::from(at_ms) + u128::from(delay_ms);
                    assert!(
                        end <= limit.as_millis(),
                        "{context}: retry {retries} ends at {end} ms, past max_elapsed {limit:?}"
                    );
                }
                due_ms = at_ms.saturating_add(delay_ms);
            }
            Some("stop") => {
                assert!(is_last, "{context}: a step after a stop");
                check_stop(policy, step, attempt, attempts_made, context);
            }
            other => panic!("{context}: step {i} has action {other:?}"),
        }
        if attempts_made == rules.max_attempts() as usize {
            assert!(is_last, "{context}: a step after the last attempt");
            assert!(stopped, "{context}: the last attempt did not stop the call");
        }
    }
}

/// A retry step: its fields, and its delay against the basis its `why` names. Returns the
/// delay in milliseconds.
fn check_retry(policy: &Policy, step: &Map<String, Value>, retry: u32, context: &str) -> u64 {
    let mut keys: Vec<&str> = step.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["action", "delay_ms", "why"],
        "{context}: retry fields"
    );
    let delay_ms = step["delay_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("{context}: delay_ms is not a whole number"));
    let why = step["why"]
        .as_str()
        .unwrap_or_else(|| panic!("{context}: why is not a string"));
    // "<cause>; <basis>": the cause names a status, an error type or a transport failure,
    // none of which holds a `;`.
    let Some((_cause, basis)) = why.split_once("; ") else {
        panic!("{context}: the retry's why {why:?} names no basis");
    };
    let rules = policy.rules();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if let Some(counts) = basis.strip_prefix("backoff ") {
        let expected = format!("{retry} of {}", rules.max_attempts() - 1);
        assert_eq!(counts, expected, "{context}: backoff count");
        let cap = rules.backoff().cap();
        assert!(
            delay_ms <= ms(cap),
            "{context}: backoff delay {delay_ms} ms above cap {cap:?}"
        );
        if rules.backoff().base() == EXACT_BASE {
            // min(1s, 1_999_999 ns × 3^(retry−1)), in whole milliseconds rounded down.
            let nanos = (1_999_999u64 * 3u64.pow(retry - 1)).min(1_000_000_000);
            assert_eq!(
                delay_ms,
                nanos / 1_000_000,
                "{context}: delay_ms rounds down"
            );
        }
        return delay_ms;
    }
    assert!(
        policy.classifier().honor_hints(),
        "{context}: a hint with hints off"
    );
    let Some(asked) = basis.strip_prefix("server asked ") else {
        panic!("{context}: the retry's basis {basis:?} is neither backoff nor a hint");
    };
    let (asked, clamped) = match asked.split_once(", clamped to max_hint ") {
        Some((asked, max)) => (asked, Some(max)),
        None => (asked, None),
    };
    let Some((asked, _source)) = asked.split_once(" (") else {
        panic!("{context}: the hint {asked:?} names no header");
    };
    // People read the wait rounded to its size (`1.2s` for 1234.5 ms: `duration::Rounded`
    // rounds to the nearest whole unit of what it writes), so the true value lies within
    // half that unit of the written one, and no further.
    let asked = duration::parse(asked)
        .unwrap_or_else(|e| panic!("{context}: the hint's wait does not read: {e}"));
    let slack = |written: Duration| {
        let unit = if written < Duration::from_micros(1) {
            Duration::ZERO // whole nanoseconds: exact
        } else if written < Duration::from_millis(1) {
            Duration::from_micros(1)
        } else if written < Duration::from_secs(1) {
            Duration::from_millis(1)
        } else if written < Duration::from_secs(60) {
            Duration::from_millis(100)
        } else if written < Duration::from_secs(3_600) {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(60)
        };
        unit / 2
    };
    let max_hint = rules.max_hint();
    let (shortest, longest) = match clamped {
        None => {
            assert!(
                asked <= max_hint + slack(asked),
                "{context}: honoured {asked:?} above max_hint {max_hint:?}"
            );
            (
                asked.saturating_sub(slack(asked)),
                (asked + slack(asked)).min(max_hint),
            )
        }
        Some(max) => {
            let max = duration::parse(max)
                .unwrap_or_else(|e| panic!("{context}: max_hint {max:?} does not read: {e}"));
            assert!(
                max.abs_diff(max_hint) <= slack(max),
                "{context}: max_hint written {max:?}, is {max_hint:?}"
            );
            assert!(
                asked + slack(asked) > max_hint,
                "{context}: clamped a hint within max_hint"
            );
            assert_eq!(
                rules.on_long_hint(),
                OnLongHint::Clamp,
                "{context}: clamped under on_long_hint = stop"
            );
            (max_hint, max_hint)
        }
    };
    let spread = (longest / 10).min(Duration::from_secs(1));
    let (low, high) = (ms(shortest), ms(longest.saturating_add(spread)));
    assert!(
        (low..=high).contains(&delay_ms),
        "{context}: hinted delay {delay_ms} ms outside [{low}, {high}]"
    );
    delay_ms
}

/// How the design's "Classification" table and its safety rule class one attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    Success,
    Retryable,
    Fatal,
}

/// The design's classification of `attempt` under `policy`, restated from the table
/// without the code under test; `None` where the design leaves the case open (an
/// `x-should-retry` beside a known error type, an informational or unknown status, an
/// unknown error type on a success, a 403 rate limit on an unsafe method, repeated
/// headers) or the attempt is not of the input's shape.
fn class_oracle(policy: &Policy, call: &Map<String, Value>, attempt: &Value) -> Option<Class> {
    let classifier = policy.classifier();
    let method = match call.get("method") {
        None => "GET".to_owned(),
        Some(m) => m.as_str()?.to_ascii_uppercase(),
    };
    let keyed = call
        .get("request_headers")
        .and_then(Value::as_object)
        .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("idempotency-key")));
    let idempotent = keyed
        || matches!(
            method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
        );
    // Whether a retry of this failure is allowed, given whether the server cannot have
    // acted on the request.
    let gate = |safe: bool| {
        let allowed = idempotent
            || match classifier.non_idempotent() {
                NonIdempotent::Always => true,
                NonIdempotent::Never => false,
                _ => safe,
            };
        Some(if allowed {
            Class::Retryable
        } else {
            Class::Fatal
        })
    };
    if let Some(transport) = attempt.get("transport") {
        return match transport.as_str()? {
            "connect" => gate(true),
            "timeout" | "reset" | "other" => gate(false),
            _ => None,
        };
    }
    let stream_error = attempt.get("stream_error").and_then(Value::as_str);
    let status = match attempt.get("status") {
        Some(s) => u16::try_from(s.as_u64()?).ok()?,
        None if stream_error.is_some() => 200,
        None => return None,
    };
    let headers = attempt.get("headers").and_then(Value::as_object);
    let header = |name: &str| -> Option<Option<&str>> {
        let value = headers?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?
            .1;
        Some(value.as_str())
    };
    let error_type = stream_error.or(attempt.get("error_type").and_then(Value::as_str));
    let known = error_type.and_then(|t| match t {
        "rate_limit_error" | "overloaded_error" | "api_error" | "timeout_error" => Some(true),
        "invalid_request_error"
        | "authentication_error"
        | "billing_error"
        | "permission_error"
        | "not_found_error"
        | "request_too_large" => Some(false),
        _ => None,
    });
    let success_status = (200..400).contains(&status);
    if !(200..600).contains(&status) {
        return None;
    }
    if success_status && error_type.is_none() {
        return Some(Class::Success);
    }
    let should_retry = match header("x-should-retry") {
        None => None,
        Some(None) => return None,
        Some(Some(v)) if status >= 400 => match v.trim_matches([' ', '\t']) {
            v if v.eq_ignore_ascii_case("true") => Some(true),
            v if v.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        },
        Some(Some(_)) => None,
    };
    let safe_status = matches!(status, 425 | 429 | 503 | 529);
    match (should_retry, known) {
        (Some(_), Some(_)) => None,
        (Some(true), None) => gate(true),
        (Some(false), None) => Some(Class::Fatal),
        (None, Some(false)) => Some(Class::Fatal),
        (None, Some(true)) => {
            let stands_for_safe =
                matches!(error_type, Some("rate_limit_error" | "overloaded_error"));
            // An error event after a 200: the server had begun to act.
            gate(!success_status && (safe_status || stands_for_safe))
        }
        (None, None) if success_status => None,
        (None, None) => {
            let remaining = header("x-ratelimit-remaining");
            if status == 403 && remaining.is_some() {
                // GitHub's primary rate limit when it says 0: left to the table tests.
                return None;
            }
            if classifier.retry_status().contains(status) {
                gate(safe_status)
            } else {
                Some(Class::Fatal)
            }
        }
    }
}

/// A step agrees with the design's class of its attempt: a success stops as succeeded, a
/// fatal failure as not_retryable, and a retryable one is retried or stopped by a limit.
fn check_class(
    policy: &Policy,
    call: &Map<String, Value>,
    attempt: &Value,
    step: &Map<String, Value>,
    context: &str,
) {
    let Some(class) = class_oracle(policy, call, attempt) else {
        return;
    };
    let action = step.get("action").and_then(Value::as_str);
    let reason = step.get("reason").and_then(Value::as_str);
    let agrees = match class {
        Class::Success => reason == Some("succeeded"),
        Class::Fatal => reason == Some("not_retryable"),
        Class::Retryable => {
            action == Some("retry") || !matches!(reason, Some("succeeded" | "not_retryable"))
        }
    };
    assert!(
        agrees,
        "{context}: the design classes {attempt} as {class:?}, the step is {step:?}"
    );
}

/// A stop step: a reason of the design's vocabulary, which this policy and this attempt
/// can give.
fn check_stop(
    policy: &Policy,
    step: &Map<String, Value>,
    attempt: &Value,
    attempts_made: usize,
    context: &str,
) {
    let mut keys: Vec<&str> = step.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["action", "reason", "why"], "{context}: stop fields");
    let reason = step["reason"].as_str().unwrap_or("");
    let why = step["why"].as_str().unwrap_or("");
    let Some(reason) = StopReason::ALL.into_iter().find(|r| r.as_str() == reason) else {
        panic!("{context}: {reason:?} is not a stop reason");
    };
    assert!(
        why.starts_with(&format!("{reason}: ")),
        "{context}: the why {why:?} does not open with {reason}"
    );
    let rules = policy.rules();
    let last = attempts_made == rules.max_attempts() as usize;
    let transport = attempt.get("transport").is_some();
    match reason {
        StopReason::Succeeded => assert!(!transport, "{context}: a transport failure succeeded"),
        StopReason::NotRetryable => {}
        StopReason::AttemptsExhausted => assert!(last, "{context}: exhausted before the last"),
        StopReason::HintTooLong => {
            assert!(!last, "{context}: attempts_exhausted comes first");
            assert_eq!(rules.on_long_hint(), OnLongHint::Stop, "{context}");
            assert!(!transport, "{context}: a hint without a response");
        }
        StopReason::DeadlineExceeded => {
            assert!(!last, "{context}: attempts_exhausted comes first");
            assert!(rules.max_elapsed().is_some(), "{context}: no max_elapsed");
        }
        StopReason::BudgetExhausted => {
            assert!(!last, "{context}: attempts_exhausted comes first");
            assert!(rules.budget().is_some(), "{context}: no budget");
        }
        other => panic!("{context}: a stop reason the checks do not know: {other}"),
    }
}
