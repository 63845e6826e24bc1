//! One named test per row of the design's classification table, and per rule of the
//! safety of a retry (RFC 9110 §9.2.2), so that a failure names the row it broke.

use std::time::SystemTime;

use http::{HeaderMap, Method, StatusCode};
use redial::classify::{Classifier, NonIdempotent, Outcome, RequestFacts, Rule};
use redial::{ErrorType, Policy, Preset, Transport, Verdict};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Success,
    Retry(Rule),
    Fatal(Rule),
}

fn classify_with(
    policy: &Policy,
    method: Method,
    status: u16,
    headers: &[(&str, &str)],
    error_type: Option<&str>,
    request_headers: &[(&str, &str)],
) -> Verdict {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let mut req = HeaderMap::new();
    for (k, v) in request_headers {
        req.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let mut outcome = Outcome::response(StatusCode::from_u16(status).unwrap(), &map);
    if let Some(t) = error_type {
        outcome = outcome.with_error_type(ErrorType::from_name(t));
    }
    policy.classify(
        &RequestFacts::from_parts(&method, &req),
        &outcome,
        SystemTime::now(),
    )
}

fn check(v: Verdict, want: Want) {
    let got = match v {
        Verdict::Success => Want::Success,
        Verdict::Retryable { cause, .. } => Want::Retry(cause.rule),
        Verdict::Fatal { cause } => Want::Fatal(cause.rule),
    };
    assert_eq!(got, want, "{v:?}");
}

/// `row!(name: METHOD status [headers] [error type] => want)` under the default policy.
macro_rules! row {
    ($name:ident: $method:ident $status:literal $(h[$($hk:literal : $hv:literal),*])? $(e[$et:literal])? $(r[$($rk:literal : $rv:literal),*])? => $want:expr) => {
        row!($name: Preset::Default, $method $status $(h[$($hk : $hv),*])? $(e[$et])? $(r[$($rk : $rv),*])? => $want);
    };
    ($name:ident: $preset:expr, $method:ident $status:literal $(h[$($hk:literal : $hv:literal),*])? $(e[$et:literal])? $(r[$($rk:literal : $rv:literal),*])? => $want:expr) => {
        #[test]
        fn $name() {
            let headers: &[(&str, &str)] = &[$($(($hk, $hv)),*)?];
            let request: &[(&str, &str)] = &[$($(($rk, $rv)),*)?];
            let error_type: Option<&str> = None $(.or(Some($et)))?;
            let v = classify_with(&Policy::preset($preset), Method::$method, $status, headers, error_type, request);
            check(v, $want);
        }
    };
}

use Want::*;

// Row: 2xx, 3xx → success.
row!(status_200_is_success: GET 200 => Success);
row!(status_204_is_success: POST 204 => Success);
row!(status_301_is_success: GET 301 => Success);
row!(status_304_is_success: GET 304 => Success);
row!(status_200_ignores_should_retry: GET 200 h["x-should-retry": "true"] => Success);

// Row: 408, 425, 429, 500, 502, 503, 504, 529 → retryable.
row!(status_408_is_retryable: GET 408 => Retry(Rule::Status));
row!(status_425_is_retryable: GET 425 => Retry(Rule::Status));
row!(status_429_is_retryable: GET 429 => Retry(Rule::Status));
row!(status_500_is_retryable: GET 500 => Retry(Rule::Status));
row!(status_502_is_retryable: GET 502 => Retry(Rule::Status));
row!(status_503_is_retryable: GET 503 => Retry(Rule::Status));
row!(status_504_is_retryable: GET 504 => Retry(Rule::Status));
row!(status_529_is_retryable: GET 529 => Retry(Rule::Status));

// Row: every other 4xx and 5xx → fatal.
row!(status_400_is_fatal: GET 400 => Fatal(Rule::Status));
row!(status_401_is_fatal: GET 401 => Fatal(Rule::Status));
row!(status_402_is_fatal: GET 402 => Fatal(Rule::Status));
row!(status_403_is_fatal: GET 403 => Fatal(Rule::Status));
row!(status_404_is_fatal: GET 404 => Fatal(Rule::Status));
row!(status_409_is_fatal_by_default: GET 409 => Fatal(Rule::Status));
row!(status_413_is_fatal: GET 413 => Fatal(Rule::Status));
row!(status_422_is_fatal: GET 422 => Fatal(Rule::Status));
row!(status_501_is_fatal: GET 501 => Fatal(Rule::Status));
row!(status_505_is_fatal: GET 505 => Fatal(Rule::Status));
row!(status_599_is_fatal: GET 599 => Fatal(Rule::Status));

// Row: 403 with x-ratelimit-remaining: 0 → retryable, as a rate limit.
row!(status_403_rate_limited_is_retryable: GET 403 h["x-ratelimit-remaining": "0"] => Retry(Rule::RateLimit403));
row!(status_403_rate_limited_post_is_retryable: POST 403 h["x-ratelimit-remaining": "0"] => Retry(Rule::RateLimit403));
row!(status_403_with_quota_left_is_fatal: GET 403 h["x-ratelimit-remaining": "12"] => Fatal(Rule::Status));
row!(status_403_with_garbage_remaining_is_fatal: GET 403 h["x-ratelimit-remaining": "zero"] => Fatal(Rule::Status));

// Row: x-should-retry overrides the status either way.
row!(should_retry_true_on_400_is_retryable: GET 400 h["x-should-retry": "true"] => Retry(Rule::ShouldRetryHeader));
row!(should_retry_false_on_503_is_fatal: GET 503 h["x-should-retry": "false"] => Fatal(Rule::ShouldRetryHeader));
row!(should_retry_is_case_and_space_tolerant: GET 400 h["x-should-retry": " TRUE "] => Retry(Rule::ShouldRetryHeader));
row!(should_retry_garbage_is_ignored: GET 503 h["x-should-retry": "maybe"] => Retry(Rule::Status));
row!(should_retry_false_beats_a_retryable_error_type: GET 529 h["x-should-retry": "false"] e["overloaded_error"] => Fatal(Rule::ShouldRetryHeader));

// Row: retryable API error types, whatever the status.
row!(rate_limit_error_is_retryable: GET 400 e["rate_limit_error"] => Retry(Rule::ErrorType));
row!(overloaded_error_is_retryable: GET 529 e["overloaded_error"] => Retry(Rule::ErrorType));
row!(api_error_is_retryable: GET 500 e["api_error"] => Retry(Rule::ErrorType));
row!(timeout_error_is_retryable: GET 504 e["timeout_error"] => Retry(Rule::ErrorType));
row!(overloaded_error_after_200_is_retryable: GET 200 e["overloaded_error"] => Retry(Rule::ErrorType));
row!(api_error_on_a_fatal_status_is_retryable: GET 404 e["api_error"] => Retry(Rule::ErrorType));

// Row: fatal API error types.
row!(invalid_request_error_is_fatal: GET 400 e["invalid_request_error"] => Fatal(Rule::ErrorType));
row!(authentication_error_is_fatal: GET 401 e["authentication_error"] => Fatal(Rule::ErrorType));
row!(billing_error_is_fatal: GET 402 e["billing_error"] => Fatal(Rule::ErrorType));
row!(permission_error_is_fatal: GET 403 e["permission_error"] => Fatal(Rule::ErrorType));
row!(not_found_error_is_fatal: GET 404 e["not_found_error"] => Fatal(Rule::ErrorType));
row!(request_too_large_is_fatal: GET 413 e["request_too_large"] => Fatal(Rule::ErrorType));
row!(fatal_error_type_beats_a_retryable_status: GET 503 e["invalid_request_error"] => Fatal(Rule::ErrorType));

// Row: an unknown error type is decided by the status.
row!(unknown_error_type_on_503_is_retryable: GET 503 e["brand_new_error"] => Retry(Rule::Status));
row!(unknown_error_type_on_400_is_fatal: GET 400 e["brand_new_error"] => Fatal(Rule::Status));
row!(unknown_error_type_after_200_is_fatal: GET 200 e["brand_new_error"] => Fatal(Rule::ErrorType));

// Safety: idempotent methods may always be retried.
row!(put_500_is_retryable: PUT 500 => Retry(Rule::Status));
row!(delete_502_is_retryable: DELETE 502 => Retry(Rule::Status));
row!(head_504_is_retryable: HEAD 504 => Retry(Rule::Status));
row!(options_500_is_retryable: OPTIONS 500 => Retry(Rule::Status));
row!(trace_500_is_retryable: TRACE 500 => Retry(Rule::Status));
row!(post_with_idempotency_key_500_is_retryable: POST 500 r["idempotency-key": "k-1"] => Retry(Rule::Status));

// Safety, when_safe: only where the server cannot have acted.
row!(post_425_is_retryable_when_safe: POST 425 => Retry(Rule::Status));
row!(post_429_is_retryable_when_safe: POST 429 => Retry(Rule::Status));
row!(post_503_is_retryable_when_safe: POST 503 => Retry(Rule::Status));
row!(post_529_is_retryable_when_safe: POST 529 => Retry(Rule::Status));
row!(post_408_is_not_retried_when_safe: POST 408 => Fatal(Rule::NotIdempotent));
row!(post_500_is_not_retried_when_safe: POST 500 => Fatal(Rule::NotIdempotent));
row!(post_502_is_not_retried_when_safe: POST 502 => Fatal(Rule::NotIdempotent));
row!(post_504_is_not_retried_when_safe: POST 504 => Fatal(Rule::NotIdempotent));
row!(patch_500_is_not_retried_when_safe: PATCH 500 => Fatal(Rule::NotIdempotent));
row!(post_rate_limit_error_is_retryable_when_safe: POST 500 e["rate_limit_error"] => Retry(Rule::ErrorType));
row!(post_overloaded_error_is_retryable_when_safe: POST 500 e["overloaded_error"] => Retry(Rule::ErrorType));
row!(post_api_error_is_not_retried_when_safe: POST 500 e["api_error"] => Fatal(Rule::NotIdempotent));
row!(post_api_error_on_503_is_retryable_when_safe: POST 503 e["api_error"] => Retry(Rule::ErrorType));
row!(post_timeout_error_on_429_is_retryable_when_safe: POST 429 e["timeout_error"] => Retry(Rule::ErrorType));
row!(post_timeout_error_is_not_retried_when_safe: POST 504 e["timeout_error"] => Fatal(Rule::NotIdempotent));
row!(post_error_event_after_200_is_not_retried_when_safe: POST 200 e["overloaded_error"] => Fatal(Rule::NotIdempotent));
row!(post_should_retry_true_is_retryable_when_safe: POST 500 h["x-should-retry": "true"] => Retry(Rule::ShouldRetryHeader));

// Safety, always (the LLM presets): like an idempotent request.
row!(anthropic_post_500_is_retryable: Preset::Anthropic, POST 500 => Retry(Rule::Status));
row!(anthropic_post_409_is_retryable: Preset::Anthropic, POST 409 => Retry(Rule::Status));
row!(anthropic_post_501_is_retryable: Preset::Anthropic, POST 501 => Retry(Rule::Status));
row!(anthropic_post_error_event_after_200_is_retryable: Preset::Anthropic, POST 200 e["overloaded_error"] => Retry(Rule::ErrorType));
row!(openai_post_500_is_retryable: Preset::OpenAi, POST 500 => Retry(Rule::Status));
row!(anthropic_post_400_is_fatal: Preset::Anthropic, POST 400 => Fatal(Rule::Status));
row!(aws_post_500_is_not_retried: Preset::AwsStandard, POST 500 => Fatal(Rule::NotIdempotent));

fn transport(policy: &Policy, method: Method, kind: Transport) -> Verdict {
    policy.classify(
        &RequestFacts::new(&method),
        &Outcome::Transport(kind),
        SystemTime::now(),
    )
}

fn never() -> Policy {
    Policy::builder()
        .non_idempotent(NonIdempotent::Never)
        .build()
        .unwrap()
}

// Rows: transport failures.
#[test]
fn transport_connect_is_retryable_for_every_method() {
    for m in [Method::GET, Method::POST, Method::PATCH] {
        check(
            transport(&Policy::default(), m, Transport::Connect),
            Retry(Rule::Transport),
        );
    }
}

#[test]
fn transport_timeout_reset_other_are_retryable_when_idempotent() {
    for kind in [Transport::Timeout, Transport::Reset, Transport::Other] {
        check(
            transport(&Policy::default(), Method::GET, kind),
            Retry(Rule::Transport),
        );
        check(
            transport(&Policy::default(), Method::POST, kind),
            Fatal(Rule::NotIdempotent),
        );
        check(
            transport(&Policy::preset(Preset::Anthropic), Method::POST, kind),
            Retry(Rule::Transport),
        );
    }
}

// Safety, never: not even a connect failure; idempotent requests are unaffected.
#[test]
fn never_retries_no_post() {
    check(
        transport(&never(), Method::POST, Transport::Connect),
        Fatal(Rule::NotIdempotent),
    );
    check(
        classify_with(&never(), Method::POST, 429, &[], None, &[]),
        Fatal(Rule::NotIdempotent),
    );
    check(
        classify_with(&never(), Method::GET, 503, &[], None, &[]),
        Retry(Rule::Status),
    );
}

#[test]
fn retry_status_replaces_the_table() {
    let p = Policy::builder().retry_status([418]).build().unwrap();
    check(
        classify_with(&p, Method::GET, 418, &[], None, &[]),
        Retry(Rule::Status),
    );
    check(
        classify_with(&p, Method::GET, 503, &[], None, &[]),
        Fatal(Rule::Status),
    );
}

#[test]
fn hints_ride_on_retryable_verdicts_only_when_honoured() {
    let h = [("retry-after", "17")];
    let v = classify_with(&Policy::default(), Method::GET, 429, &h, None, &[]);
    assert_eq!(v.hint().map(|h| h.wait.as_secs()), Some(17));
    let deaf = Policy::builder().honor_hints(false).build().unwrap();
    assert_eq!(
        classify_with(&deaf, Method::GET, 429, &h, None, &[]).hint(),
        None
    );
    // A fatal verdict carries no hint.
    assert_eq!(
        classify_with(&Policy::default(), Method::GET, 400, &h, None, &[]).hint(),
        None
    );
}

#[test]
fn classifier_default_matches_the_default_preset() {
    assert_eq!(
        Classifier::default(),
        *Policy::preset(Preset::Default).classifier()
    );
}

/// Every response in the fixtures, through the error-body reader and the classifier.
#[test]
fn fixtures_classify_as_documented() {
    let text = include_str!("fixtures/anthropic-errors.jsonl");
    let wall = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_428_000);
    let mut seen = 0;
    let mut with_ids = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let status = v["status"].as_u64().unwrap() as u16;
        let mut headers = HeaderMap::new();
        for (k, val) in v["headers"].as_object().unwrap() {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                val.as_str().unwrap().parse().unwrap(),
            );
        }
        let body = redial::classify::read_error_body(v["body"].as_str().unwrap().as_bytes());
        let body_id = body.request_id.as_deref().map(str::to_owned);
        if let Some(id) = redial::classify::request_id(&headers) {
            assert_eq!(body_id.as_deref(), Some(id), "header and body ids agree");
            with_ids += 1;
        }
        let mut outcome = Outcome::response(StatusCode::from_u16(status).unwrap(), &headers);
        if let Some(t) = body.error_type {
            outcome = outcome.with_error_type(t);
        }
        let post = RequestFacts::new(&Method::POST);
        let by_default = Policy::default().classify(&post, &outcome, wall);
        let by_anthropic = Policy::preset(Preset::Anthropic).classify(&post, &outcome, wall);
        let (default_retries, anthropic_retries) = match status {
            400 | 401 | 402 | 403 | 404 | 413 => (false, false),
            429 | 529 => (true, true),
            500 | 502 | 504 => (false, true),
            other => panic!("unexpected fixture status {other}"),
        };
        assert_eq!(by_default.is_retryable(), default_retries, "{line}");
        assert_eq!(by_anthropic.is_retryable(), anthropic_retries, "{line}");
        if status == 429 {
            // retry-after (17 s) wins over the anthropic reset (also 17 s away here).
            let hint = by_default.hint().unwrap();
            assert_eq!(hint.wait.as_secs(), 17);
            assert_eq!(hint.source, redial::hints::HintSource::RetryAfter);
        }
        seen += 1;
    }
    assert_eq!(seen, 14);
    assert!(
        with_ids > 0,
        "the fixtures carry request ids, and they were read"
    );
}

// Safety and x-should-retry: the server's word overrides the status, not the policy's
// `never` for a request that is not idempotent.
#[test]
fn x_should_retry_true_under_never_retries_no_post() {
    let vouched = &[("x-should-retry", "true")];
    for status in [400, 409, 503] {
        check(
            classify_with(&never(), Method::POST, status, vouched, None, &[]),
            Fatal(Rule::NotIdempotent),
        );
        check(
            classify_with(&never(), Method::GET, status, vouched, None, &[]),
            Retry(Rule::ShouldRetryHeader),
        );
        check(
            classify_with(&Policy::default(), Method::POST, status, vouched, None, &[]),
            Retry(Rule::ShouldRetryHeader),
        );
    }
}

// Safety: an Idempotency-Key makes a POST safe to retry after a timeout or a reset, under
// every setting of `non_idempotent`.
#[test]
fn a_post_with_an_idempotency_key_is_retried_after_a_timeout_or_a_reset() {
    let mut keyed = HeaderMap::new();
    keyed.insert("idempotency-key", "k1".parse().unwrap());
    for policy in [Policy::default(), never()] {
        for kind in [Transport::Timeout, Transport::Reset] {
            let v = policy.classify(
                &RequestFacts::from_parts(&Method::POST, &keyed),
                &Outcome::Transport(kind),
                SystemTime::now(),
            );
            check(v, Retry(Rule::Transport));
            check(
                transport(&policy, Method::POST, kind),
                Fatal(Rule::NotIdempotent),
            );
        }
    }
}

/// `Outcome::is_success`, which adapters ask before anything else: the table's first row
/// without a header read (found by mutation testing: only doctests held it).
#[test]
fn an_outcome_is_a_success_for_2xx_and_3xx_without_an_error_type() {
    let headers = HeaderMap::new();
    for (status, success) in [
        (200, true),
        (204, true),
        (304, true),
        (199, false),
        (400, false),
        (429, false),
        (500, false),
    ] {
        let code = StatusCode::from_u16(status).expect("a status");
        assert_eq!(
            Outcome::response(code, &headers).is_success(),
            success,
            "{status}"
        );
    }
    let api_error =
        Outcome::response(StatusCode::OK, &headers).with_error_type(ErrorType::Overloaded);
    assert!(
        !api_error.is_success(),
        "a 200 that carries an API error type"
    );
    assert!(!Outcome::stream_error(&headers, ErrorType::Overloaded).is_success());
    assert!(!Outcome::Transport(Transport::Timeout).is_success());
}

/// `RequestFacts::is_idempotent`, which the tower and reqwest-middleware adapters read to
/// keep a layer's `.idempotent()` (found by mutation testing: only doctests held it).
#[test]
fn request_facts_say_whether_the_request_is_idempotent() {
    assert!(RequestFacts::new(&Method::GET).is_idempotent());
    assert!(RequestFacts::new(&Method::PUT).is_idempotent());
    assert!(!RequestFacts::new(&Method::POST).is_idempotent());
    assert!(RequestFacts::idempotent(true).is_idempotent());
    assert!(!RequestFacts::idempotent(false).is_idempotent());
    let mut keyed = HeaderMap::new();
    keyed.insert("idempotency-key", "k1".parse().expect("a value"));
    // An Idempotency-Key header makes any request idempotent (the IETF draft).
    assert!(RequestFacts::from_parts(&Method::POST, &keyed).is_idempotent());
    assert!(!RequestFacts::from_parts(&Method::POST, &HeaderMap::new()).is_idempotent());
}

/// `StatusSet::with_range` adds exactly `low..=high`, and nothing past 599 (found by
/// mutation testing: the doctest alone held it).
#[test]
fn a_status_range_adds_exactly_its_codes() {
    use redial::classify::StatusSet;
    let set = StatusSet::EMPTY.with_range(500, 502);
    let held: Vec<u16> = (100..600).filter(|&c| set.contains(c)).collect();
    assert_eq!(held, [500, 501, 502]);
    let top = StatusSet::EMPTY.with_range(598, u16::MAX);
    assert!(top.contains(598) && top.contains(599) && !top.contains(600));
    assert!(
        !StatusSet::EMPTY.with_range(503, 502).contains(503),
        "an empty range"
    );
}

/// The classifier's getters and the status set's `Debug` read back what was set (found
/// by mutation testing: only doctests of the defaults held them).
#[test]
fn a_classifier_says_what_it_was_built_with() {
    for rule in NonIdempotent::ALL {
        let policy = Policy::builder()
            .non_idempotent(rule)
            .build()
            .expect("a valid policy");
        assert_eq!(policy.classifier().non_idempotent(), rule);
    }
    for honor in [true, false] {
        let policy = Policy::builder()
            .honor_hints(honor)
            .build()
            .expect("a valid policy");
        assert_eq!(policy.classifier().honor_hints(), honor);
    }
    let set = redial::classify::StatusSet::EMPTY.with(503).with(429);
    assert_eq!(format!("{set:?}"), "{429, 503}");
}

/// `request_id` reads `request-id` first, then `x-request-id` (found by mutation testing:
/// the fixture test only compared ids when one was found, so `None` passed it).
#[test]
fn the_request_id_comes_from_request_id_then_x_request_id() {
    let with = |pairs: &[(&str, &str)]| {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).expect("a name"),
                v.parse().expect("a value"),
            );
        }
        map
    };
    let anthropic = with(&[("request-id", "req_1")]);
    assert_eq!(redial::classify::request_id(&anthropic), Some("req_1"));
    let proxy = with(&[("x-request-id", "abc")]);
    assert_eq!(redial::classify::request_id(&proxy), Some("abc"));
    let both = with(&[("x-request-id", "abc"), ("request-id", "req_1")]);
    assert_eq!(redial::classify::request_id(&both), Some("req_1"));
    assert_eq!(redial::classify::request_id(&HeaderMap::new()), None);
}
