//! Group `decision`: one whole HTTP retry decision.
//!
//! The response is the fixtures' 429 (`tests/fixtures/anthropic-errors.jsonl`: 9
//! headers, among them `retry-after` and six `anthropic-ratelimit-*`), for a POST. One
//! decision classifies it (status, error type, `x-should-retry`, safety of a POST), reads
//! the server's hint, picks the delay with its spread, and charges the shared budget:
//!
//! - `429 delay-seconds`: `retry-after: 17`;
//! - `429 IMF-fixdate`: `retry-after: Mon, 23 Nov 2026 10:00:17 GMT`, 17 s after the wall
//!   clock;
//! - `429 RFC 3339 reset`: no `retry-after`, so the `anthropic-ratelimit-*-reset` headers
//!   decide (the latest reset of the exhausted buckets);
//! - `429 IETF RateLimit`: no `retry-after`, and a `RateLimit` field in the draft's form,
//!   with a partition key, read as the RFC 9651 List it is
//!   (`"default";r=0;t=17;pk=:dHJpYWwxMjEzMjM=:, "daily";r=100;t=3600`);
//! - `429 delay-seconds + body`: the same, with the error type read from the JSON body;
//! - `200`: the same headers on a success, which should cost next to nothing.
//!
//! The error type is known to the decision (an adapter reads it from the body, or a
//! stream's `error` event, before it asks); the `+ body` case adds that read. The budget is
//! the AWS bucket (5 tokens a retry) but with room for the whole run, so that every
//! iteration takes the same path: a drained bucket would stop early and look faster. The
//! `, adaptive` rows use the default budget since issue 11, `adaptive`, with time moving
//! 1µs per iteration (a 429 is no overload signal, but nothing succeeds in the loop, so
//! the budget refuses most of those retries as a failing server's); the `, aws` rows are
//! the same loop with the deep AWS bucket, the like-for-like "before".
//!
//! No peer reads these headers (their users parse them in a hook), so the baseline is
//! `hand-written`: what a user writes around any of them: match the status, parse
//! `retry-after` as seconds or an HTTP-date, add a spread, take tokens from an atomic
//! bucket.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use redial::budget::BudgetConfig;
use redial::classify::{Outcome, RequestFacts};
use redial::hints::HintSource;
use redial::machine::{Action, Basis};
use redial::{Policy, StopReason};

/// The fixtures' day, 2026-11-23T10:00:00Z: the wall clock the 429 was sent at.
fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_428_000)
}

/// The headers of the fixtures' 429.
fn fixture_429_headers() -> HeaderMap {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/anthropic-errors.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("{path}: {e} (a copy of the shared fixtures kept in the repository)")
    });
    for line in text.lines() {
        let response: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}: {e}"));
        if response["status"] != 429 {
            continue;
        }
        let mut headers = HeaderMap::new();
        if let Some(fields) = response["headers"].as_object() {
            for (name, value) in fields {
                let value = value.as_str().unwrap_or_default();
                headers.insert(
                    HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
                    HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
                );
            }
        }
        return headers;
    }
    panic!("{path}: no 429")
}

fn fixture_429_body() -> Vec<u8> {
    br#"{"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}, "request_id": "req_011CSHoEeqs5C35K2UUqR7F8"}"#.to_vec()
}

/// The default policy, with a bucket deep enough never to run dry during the bench.
fn policy() -> Policy {
    let built = Policy::builder()
        .budget(BudgetConfig::new(u32::MAX, 5, 10, 1))
        .build();
    match built {
        Ok(p) => p,
        Err(e) => panic!("the bench policy is valid: {e}"),
    }
}

/// One decision through redial, as an adapter makes it.
fn redial_decision(
    policy: &Policy,
    facts: &RequestFacts,
    outcome: &Outcome<'_>,
    wall: SystemTime,
    now: Instant,
    rng: &mut fastrand::Rng,
) -> Action {
    let verdict = policy.classify(facts, outcome, wall);
    let mut call = policy.start(now);
    call.on_outcome(&verdict, now, rng)
}

/// The baseline: a user's own decision with no library.
fn hand_decision(
    status: u16,
    headers: &HeaderMap,
    wall: SystemTime,
    bucket: &AtomicU32,
    rng: &mut fastrand::Rng,
) -> Option<Duration> {
    if (200..400).contains(&status) {
        return None;
    }
    if !matches!(status, 408 | 425 | 429 | 500 | 502 | 503 | 504 | 529) {
        return None;
    }
    let hint = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| match s.trim().parse::<u64>() {
            Ok(secs) => Some(Duration::from_secs(secs)),
            Err(_) => httpdate::parse_http_date(s)
                .ok()
                .map(|at| at.duration_since(wall).unwrap_or_default()),
        });
    let delay = match hint {
        Some(h) => h + Duration::from_nanos(rng.u64(0..=(h / 10).as_nanos() as u64)),
        None => Duration::from_nanos(rng.u64(0..=500_000_000)),
    };
    bucket
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| t.checked_sub(5))
        .ok()?;
    Some(delay)
}

fn decision(c: &mut Criterion) {
    let mut g = c.benchmark_group("decision");
    let mut rng = fastrand::Rng::with_seed(7);
    let now = Instant::now();
    let wall = wall();
    let post = RequestFacts::new(&Method::POST);
    let rate_limited = redial::ErrorType::RateLimit;

    let seconds = fixture_429_headers();
    let mut date = seconds.clone();
    date.insert(
        http::header::RETRY_AFTER,
        HeaderValue::from_static("Mon, 23 Nov 2026 10:00:17 GMT"),
    );
    let mut reset_only = seconds.clone();
    reset_only.remove(http::header::RETRY_AFTER);
    let mut ietf = reset_only.clone();
    ietf.insert(
        "ratelimit",
        HeaderValue::from_static(
            r#""default";r=0;t=17;pk=:dHJpYWwxMjEzMjM=:, "daily";r=100;t=3600"#,
        ),
    );
    let body = fixture_429_body();

    let cases: [(&str, StatusCode, &HeaderMap, Option<HintSource>); 5] = [
        (
            "429 delay-seconds",
            StatusCode::TOO_MANY_REQUESTS,
            &seconds,
            Some(HintSource::RetryAfter),
        ),
        (
            "429 IMF-fixdate",
            StatusCode::TOO_MANY_REQUESTS,
            &date,
            Some(HintSource::RetryAfter),
        ),
        (
            "429 RFC 3339 reset",
            StatusCode::TOO_MANY_REQUESTS,
            &reset_only,
            Some(HintSource::AnthropicReset),
        ),
        (
            "429 IETF RateLimit",
            StatusCode::TOO_MANY_REQUESTS,
            &ietf,
            Some(HintSource::RateLimit),
        ),
        ("200", StatusCode::OK, &seconds, None),
    ];
    for (name, status, headers, source) in cases {
        let p = policy();
        let outcome = if status.is_success() {
            Outcome::response(status, headers)
        } else {
            Outcome::response(status, headers).with_error_type(rate_limited)
        };
        // Every case must take the path it is named after: the 17 s hint from the header
        // family it names (a date that failed to parse would fall through to another
        // family, and then to a different path), or a success.
        let action = redial_decision(&p, &post, &outcome, wall, now, &mut rng);
        match (action.retry(), source) {
            (Some(r), Some(source)) => {
                let Basis::Hint(hint) = r.basis else {
                    panic!("{name}: not a hint: {action:?}");
                };
                assert_eq!(
                    (hint.source, hint.wait),
                    (source, Duration::from_secs(17)),
                    "{name}: {action:?}"
                );
            }
            (None, None) => assert_eq!(
                action.stop().map(|s| s.reason()),
                Some(StopReason::Succeeded)
            ),
            _ => panic!("{name}: {action:?}"),
        }
        g.bench_function(format!("{name}/redial"), |b| {
            b.iter(|| {
                black_box(common::obey(redial_decision(
                    &p,
                    black_box(&post),
                    black_box(&outcome),
                    wall,
                    now,
                    &mut rng,
                )))
            })
        });
        if !matches!(name, "429 RFC 3339 reset" | "429 IETF RateLimit") {
            let bucket = AtomicU32::new(u32::MAX);
            let code = status.as_u16();
            g.bench_function(format!("{name}/hand-written"), |b| {
                b.iter(|| {
                    black_box(hand_decision(
                        black_box(code),
                        black_box(headers),
                        wall,
                        &bucket,
                        &mut rng,
                    ))
                })
            });
        }
    }

    let adaptive = Policy::default();
    let deep = policy();
    for (name, status) in [
        ("429 delay-seconds", StatusCode::TOO_MANY_REQUESTS),
        ("200", StatusCode::OK),
    ] {
        let outcome = if status.is_success() {
            Outcome::response(status, &seconds)
        } else {
            Outcome::response(status, &seconds).with_error_type(rate_limited)
        };
        // The `, aws` twin runs the same moving clock with the deep AWS bucket, so that the
        // two rows differ by the budget alone.
        for (budget, p) in [("adaptive", &adaptive), ("aws", &deep)] {
            let action = redial_decision(p, &post, &outcome, wall, now, &mut rng);
            assert_eq!(action.retry().is_some(), !status.is_success(), "{action:?}");
            // The adaptive budget reads the time: each decision 1µs after the last, as calls
            // come (its window then folds every 29,000 decisions). No call in this loop
            // succeeds, so the budget soon sees a failing server and refuses about 9
            // retries in 10 (`Stop::Throttled`): the adaptive 429 row is mostly that path.
            let mut at = now;
            g.bench_function(format!("{name}/redial, {budget}"), |b| {
                b.iter(|| {
                    at += Duration::from_micros(1);
                    black_box(common::obey(redial_decision(
                        p,
                        black_box(&post),
                        black_box(&outcome),
                        wall,
                        at,
                        &mut rng,
                    )))
                })
            });
            // After the run the adaptive budget may refuse, as a failing server's: a retry or
            // that refusal, never another stop.
            let action = redial_decision(p, &post, &outcome, wall, at, &mut rng);
            let stop = action.stop().map(|s| s.reason());
            if status.is_success() {
                assert_eq!(stop, Some(StopReason::Succeeded), "{action:?}");
            } else {
                assert!(
                    action.retry().is_some() || stop == Some(StopReason::BudgetExhausted),
                    "{action:?}"
                );
            }
        }
    }

    let p = policy();
    g.bench_function("429 delay-seconds + body/redial", |b| {
        b.iter(|| {
            let read = redial::classify::read_error_body(black_box(&body));
            let mut outcome = Outcome::response(StatusCode::TOO_MANY_REQUESTS, &seconds);
            if let Some(t) = read.error_type {
                outcome = outcome.with_error_type(t);
            }
            black_box(common::obey(redial_decision(
                &p, &post, &outcome, wall, now, &mut rng,
            )))
        })
    });

    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = decision
}
criterion_main!(benches);
