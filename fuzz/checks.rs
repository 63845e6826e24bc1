//! The invariants the core's fuzz targets assert, in one place.
//!
//! Each public function takes the raw bytes a fuzzer (or a corpus file) supplies, decodes
//! them into an input, runs the core on it and panics when an invariant breaks. The
//! cargo-fuzz targets in `fuzz_targets/` call these functions, and `tests/fuzz_corpus.rs`
//! replays every checked-in corpus file through the very same functions under plain
//! `cargo test`, so there is one copy of the checks and CI catches a regression without
//! the fuzzer. The two targets that need more than the core keep their checks beside
//! these: `policy_checks.rs` (`policy_file`, redial's `serde` feature) and `cli_checks.rs`
//! (`decide_line`, the command line's library), replayed by `cli/tests/fuzz_corpus.rs`.
//!
//! The checks compare the core with small, independent restatements of the design's rules
//! ("oracles"), written from the grammar rather than from the core's code, so that a slip
//! in either shows up as a disagreement.
//!
//! Corpus files are plain text where the input is text: a header value for `retry_after`
//! and `rate_limit`, a status line and `name: value` lines for `header_map`, a body for
//! `error_body`. Only `machine` reads binary.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use redial::backoff::{Curve, Jitter};
use redial::budget::{BudgetConfig, BudgetKind, Throttle};
use redial::classify::{Outcome, RequestFacts};
use redial::hints::{self, HintSource, Parsed};
use redial::machine::{Action, Basis, Machine, OnLongHint};
use redial::{Cause, ErrorType, Policy, Preset, Stop, Transport, Verdict};

/// The adaptive budget's model, shared with `tests/machine.rs` (which reaches it through
/// this module).
#[path = "../tests/adaptive_model/mod.rs"]
pub mod adaptive_model;

// ---------------------------------------------------------------------------------------
// Shared helpers and oracles
// ---------------------------------------------------------------------------------------

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Wall clocks every time-relative reading is checked against: before the epoch, the
/// epoch, RFC 9110's example day, the fixtures' day (whole and half second), and the last
/// second `httpdate` and RFC 3339 can write.
fn walls() -> [SystemTime; 6] {
    let epoch = UNIX_EPOCH;
    [
        epoch - Duration::from_secs(86_400),
        epoch,
        epoch + Duration::from_secs(784_111_777 - 30),
        epoch + Duration::from_secs(1_795_428_000),
        epoch + Duration::new(1_795_428_000, 500_000_000),
        epoch + Duration::from_secs(253_402_300_799),
    ]
}

/// RFC 9110 `OWS`: the parsers trim spaces and tabs, and nothing else.
fn ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Nanoseconds since the Unix epoch, negative before it.
fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// A wait of `nanos` (which may be negative: the moment has passed), as the design says:
/// zero for the past, and a wait too long for a `Duration` is the longest one.
fn wait_from_nanos(nanos: i128) -> Duration {
    if nanos <= 0 {
        return Duration::ZERO;
    }
    let nanos = nanos as u128;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

/// The design's number, read straight from its grammar:
/// `1*DIGIT [ "." 1*DIGIT ]` (the fraction only when `fraction` is true), in units of
/// `unit_nanos`, truncated to whole nanoseconds. An integer part above `u64::MAX` is an
/// overflowing number: invalid, as is anything that does not fit a `Duration`.
fn number_oracle(s: &str, unit_nanos: u128, fraction: bool) -> Option<Duration> {
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) if fraction => (int, Some(frac)),
        Some(_) => return None,
        None => (s, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u64 = int.parse().ok()?;
    let mut nanos = u128::from(int) * unit_nanos;
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nanos += fraction_nanos(frac, unit_nanos);
    }
    let secs = u64::try_from(nanos / NANOS_PER_SEC).ok()?;
    Some(Duration::new(secs, (nanos % NANOS_PER_SEC) as u32))
}

/// `0.frac` of a unit, in whole nanoseconds (rounded down). Only the first 20 digits are
/// read: the rest move the value by less than 10^-7 ns for any unit up to an hour, so at
/// most the last nanosecond can differ from the exact value (callers allow for it where
/// the unit is large).
fn fraction_nanos(frac: &str, unit_nanos: u128) -> u128 {
    let kept = &frac[..frac.len().min(20)];
    let mut value: u128 = 0;
    for b in kept.bytes() {
        value = value * 10 + u128::from(b - b'0');
    }
    value * unit_nanos / 10u128.pow(kept.len() as u32)
}

/// Every maximal run of ASCII digits in `s` that fits a `u64`: the numbers a value could
/// mean as whole seconds.
fn digit_runs(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .filter_map(|run| run.parse().ok())
        .collect()
}

/// Whether a `…-remaining` value says the quota is used up: digits, all zero.
fn says_zero(value: &str) -> bool {
    let v = ows(value);
    !v.is_empty() && v.bytes().all(|b| b == b'0')
}

/// Bytes as text. Header values reach the parsers through `to_str`, which accepts only
/// visible ASCII; the parsers' own contract is any `&str`, so the fuzzer's bytes are made
/// into one losslessly where they are UTF-8 and with replacement characters elsewhere.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

// ---------------------------------------------------------------------------------------
// retry_after: `retry-after-ms` and `retry-after`
// ---------------------------------------------------------------------------------------

/// `data` is one header value. Checks:
/// - `retry-after-ms` is exactly the number its digits say (milliseconds, fraction
///   truncated to whole nanoseconds), and nothing else is read;
/// - `retry-after` delay-seconds is exactly its digits, never negative, never anything but
///   ASCII digits;
/// - an HTTP-date is read as `httpdate` reads it, waits exactly until that instant (zero
///   once it has passed), and reads the same when written back in IMF-fixdate and, where
///   they can hold the year, in the two obsolete forms RFC 9110 §5.6.7 requires.
pub fn retry_after(data: &[u8]) {
    let value = text(data);
    let trimmed = ows(&value);

    let ms = hints::parse_retry_after_ms(&value);
    assert_eq!(
        ms,
        number_oracle(trimmed, 1_000_000, true),
        "retry-after-ms {value:?}"
    );

    for wall in walls() {
        let got = hints::parse_retry_after(&value, wall);
        if trimmed.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            // delay-seconds = 1*DIGIT: no fraction, no sign, no units.
            assert_eq!(
                got,
                number_oracle(trimmed, NANOS_PER_SEC, false),
                "delay-seconds {value:?}"
            );
            continue;
        }
        let Ok(at) = httpdate::parse_http_date(trimmed) else {
            assert_eq!(got, None, "{value:?} is not an HTTP-date");
            continue;
        };
        let expected = wait_from_nanos(unix_nanos(at) - unix_nanos(wall));
        assert_eq!(got, Some(expected), "HTTP-date {value:?} at {wall:?}");
        for form in http_date_forms(at) {
            assert_eq!(
                hints::parse_retry_after(&form, wall),
                got,
                "{value:?} written as {form:?}"
            );
        }
    }
}

/// The instant `at` in each HTTP-date form that can hold its year: IMF-fixdate always,
/// RFC 850 (two-digit year, read as 1970–2069) and asctime.
fn http_date_forms(at: SystemTime) -> Vec<String> {
    // httpdate writes IMF-fixdate; the other two are rebuilt from its fields:
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let imf = httpdate::fmt_http_date(at);
    let mut forms = vec![imf.clone()];
    let fields: Vec<&str> = imf.split([' ', ',']).filter(|f| !f.is_empty()).collect();
    if let [wday, day, mon, year, time, "GMT"] = fields[..] {
        let long_day = match wday {
            "Mon" => "Monday",
            "Tue" => "Tuesday",
            "Wed" => "Wednesday",
            "Thu" => "Thursday",
            "Fri" => "Friday",
            "Sat" => "Saturday",
            _ => "Sunday",
        };
        if let Ok(y) = year.parse::<u32>() {
            if (1970..=2069).contains(&y) {
                forms.push(format!("{long_day}, {day}-{mon}-{:02} {time} GMT", y % 100));
            }
        }
        let day_num: u32 = day.parse().unwrap_or(0);
        forms.push(format!("{wday} {mon} {day_num:>2} {time} {year}"));
    } else {
        panic!("httpdate wrote {imf:?}, not an IMF-fixdate");
    }
    forms
}

// ---------------------------------------------------------------------------------------
// rate_limit: the rate-limit header families, one value at a time
// ---------------------------------------------------------------------------------------

/// `data` is one header value, read by every rate-limit family's parser. Checks:
/// - IETF `RateLimit`: exactly what [`ratelimit_sf_oracle`] (a full RFC 9651 parser and
///   the draft's rules) says, on a 429 and off one;
/// - RFC 3339 resets: exactly the time until the instant, zero once past, the same when
///   the instant is written back in canonical UTC form;
/// - Go durations: the sum of their parts (to the nanosecond), and they survive a round
///   trip through `redial::duration::Exact`;
/// - `x-ratelimit-reset`: exactly its number of seconds, or the time until that Unix
///   timestamp from 1,000,000,000 on.
pub fn rate_limit(data: &[u8]) {
    let value = text(data);
    let trimmed = ows(&value);

    for on_429 in [true, false] {
        assert_eq!(
            hints::parse_ratelimit(&value, on_429),
            ratelimit_sf_oracle(&[value.as_bytes()], on_429),
            "RateLimit {value:?}, on a 429: {on_429}"
        );
    }

    let go = hints::parse_reset_duration(&value);
    match (go, go_duration_oracle(trimmed)) {
        (None, None) => {}
        (Some(got), Some((expected, parts))) => {
            let diff = got.abs_diff(expected);
            assert!(
                diff <= Duration::from_nanos(parts),
                "Go duration {value:?}: {got:?}, expected {expected:?}"
            );
            let written = redial::duration::Exact(got).to_string();
            assert_eq!(
                redial::duration::parse(&written),
                Ok(got),
                "{value:?} round trip via {written:?}"
            );
        }
        (got, expected) => panic!("Go duration {value:?}: {got:?}, expected {expected:?}"),
    }

    let parsed =
        time::OffsetDateTime::parse(trimmed, &time::format_description::well_known::Rfc3339);
    for wall in walls() {
        let got = hints::parse_rfc3339_reset(&value, wall);
        match &parsed {
            Err(_) => assert_eq!(got, None, "RFC 3339 {value:?}"),
            Ok(at) => {
                let at_nanos = at.unix_timestamp_nanos();
                let expected = wait_from_nanos(at_nanos - unix_nanos(wall));
                assert_eq!(got, Some(expected), "RFC 3339 {value:?} at {wall:?}");
                if let Some(utc) = canonical_rfc3339(at_nanos) {
                    assert_eq!(
                        hints::parse_rfc3339_reset(&utc, wall),
                        got,
                        "{value:?} written as {utc:?}"
                    );
                }
            }
        }

        let got = hints::parse_x_ratelimit_reset(&value, wall);
        let expected = number_oracle(trimmed, NANOS_PER_SEC, true).map(|n| {
            if n.as_secs() >= 1_000_000_000 {
                wait_from_nanos(n.as_nanos() as i128 - unix_nanos(wall))
            } else {
                n
            }
        });
        assert_eq!(got, expected, "x-ratelimit-reset {value:?} at {wall:?}");
    }
}

/// The duration grammar of `redial::duration`, restated:
/// `"0" / 1*( number unit )`, units `ns us µs ms s m h`. Returns the total and the number
/// of parts (each part may be one nanosecond under the exact value; see
/// [`fraction_nanos`]).
fn go_duration_oracle(s: &str) -> Option<(Duration, u64)> {
    if s == "0" {
        return Some((Duration::ZERO, 0));
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: u128 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let part = number_oracle(num, unit_nanos, true)?;
        total += part.as_nanos();
        parts += 1;
        rest = next;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).ok()?;
    Some((Duration::new(secs, (total % NANOS_PER_SEC) as u32), parts))
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` for an instant, when its UTC year has four digits.
fn canonical_rfc3339(unix_nanos: i128) -> Option<String> {
    let utc = time::OffsetDateTime::from_unix_timestamp_nanos(unix_nanos).ok()?;
    if !(0..=9999).contains(&utc.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.nanosecond()
    ))
}

// ---------------------------------------------------------------------------------------
// header_map: a whole response's headers through hint extraction and classification
// ---------------------------------------------------------------------------------------

/// `data` is a status line (`429`) followed by `name: value` lines. Lines that are not a
/// valid header are skipped, a missing or impossible status reads as 429, and repeated
/// names append. Checks, at every wall clock:
/// - `server_wait` is the first valid reading of `inspect`, and `inspect` is `read` for
///   each family, in the design's order;
/// - each family's reading is exactly what the design says of its headers (restated
///   below), so the answer is always one of the values some header means;
/// - no answer is longer than the longest wait any header value could mean under any
///   family's grammar, and a reset family says nothing about a response that is neither a
///   429 nor carries an exhausted quota;
/// - classification carries the same hint on a retryable verdict, none when hints are
///   off, and never panics.
pub fn header_map(data: &[u8]) {
    let (status, headers) = decode_headers(data);
    for wall in walls() {
        let all = hints::inspect(&headers, status, wall);
        for (i, (source, reading)) in all.iter().enumerate() {
            assert_eq!(*source, HINT_ORDER[i], "the design's order of the families");
            assert_eq!(
                *reading,
                hints::read(*source, &headers, status, wall),
                "inspect and read disagree on {source}"
            );
            assert_eq!(
                *reading,
                family_oracle(*source, &headers, status, wall),
                "{source} on a {status} with {headers:?} at {wall:?}"
            );
        }
        let first = all.iter().find_map(|(source, reading)| {
            reading.valid().map(|wait| hints::Hint {
                wait,
                source: *source,
            })
        });
        let hint = hints::server_wait(&headers, status, wall);
        assert_eq!(hint, first, "server_wait is the first valid family");

        if let Some(hint) = hint {
            let longest = longest_meaning(&headers, wall);
            assert!(
                Some(hint.wait) <= longest,
                "{hint:?} is longer than any header could mean ({longest:?})"
            );
        }

        check_classification(&headers, status, wall, hint);
        check_quota(&headers, wall);
    }
}

/// The pacer's quota reader, on the same headers: never a panic, and a quota it reads is
/// one a pacer can use (a finite, non-negative rate; a reset no longer than any header
/// could mean).
fn check_quota(headers: &HeaderMap, wall: SystemTime) {
    let Some(q) = redial::pacer::Quota::from_headers(headers, wall) else {
        return;
    };
    if let Some(rate) = q.rate() {
        assert!(rate.is_finite() && rate >= 0.0, "{q:?}: rate {rate}");
    }
    let longest = longest_meaning(headers, wall);
    assert!(
        longest.is_some_and(|l| q.reset <= l) || q.reset == Duration::ZERO,
        "{q:?}: a reset longer than any header could mean ({longest:?})"
    );
}

/// The design's order of the hint families ("Server hints"), written out by hand: the
/// first present and valid one wins.
const HINT_ORDER: [HintSource; 7] = [
    HintSource::RetryAfterMs,
    HintSource::RetryAfter,
    HintSource::RateLimit,
    HintSource::RateLimitReset,
    HintSource::AnthropicReset,
    HintSource::OpenAiReset,
    HintSource::XRateLimitReset,
];

/// Status and headers from the text format described on [`header_map`].
fn decode_headers(data: &[u8]) -> (u16, HeaderMap) {
    let mut lines = data.split(|&b| b == b'\n');
    let status = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse::<u16>().ok())
        .filter(|s| (100..=599).contains(s))
        .unwrap_or(429);
    let mut headers = HeaderMap::new();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        else {
            continue;
        };
        headers.append(name, value);
    }
    (status, headers)
}

/// The first value of a header as text, `Some(None)` when present but not visible ASCII.
fn first(headers: &HeaderMap, name: &str) -> Option<Option<String>> {
    headers
        .get(name)
        .map(|v| v.to_str().ok().map(str::to_owned))
}

/// Each family, restated from the design's "Server hints".
fn family_oracle(
    source: HintSource,
    headers: &HeaderMap,
    status: u16,
    wall: SystemTime,
) -> Parsed<Duration> {
    let single = |name: &str, parse: &dyn Fn(&str) -> Option<Duration>| match first(headers, name) {
        None => Parsed::Absent,
        Some(text) => match text.as_deref().and_then(parse) {
            Some(d) => Parsed::Valid(d),
            None => Parsed::Invalid,
        },
    };
    match source {
        HintSource::RetryAfterMs => single("retry-after-ms", &hints::parse_retry_after_ms),
        HintSource::RetryAfter => single("retry-after", &|v| hints::parse_retry_after(v, wall)),
        HintSource::RateLimit => ratelimit_oracle(headers, status),
        HintSource::RateLimitReset => buckets_oracle(
            headers,
            status,
            &[("ratelimit-remaining", "ratelimit-reset")],
            &|v| number_oracle(ows(v), NANOS_PER_SEC, false),
        ),
        HintSource::AnthropicReset => buckets_oracle(
            headers,
            status,
            &[
                (
                    "anthropic-ratelimit-requests-remaining",
                    "anthropic-ratelimit-requests-reset",
                ),
                (
                    "anthropic-ratelimit-tokens-remaining",
                    "anthropic-ratelimit-tokens-reset",
                ),
                (
                    "anthropic-ratelimit-input-tokens-remaining",
                    "anthropic-ratelimit-input-tokens-reset",
                ),
                (
                    "anthropic-ratelimit-output-tokens-remaining",
                    "anthropic-ratelimit-output-tokens-reset",
                ),
            ],
            &|v| hints::parse_rfc3339_reset(v, wall),
        ),
        HintSource::OpenAiReset => buckets_oracle(
            headers,
            status,
            &[
                (
                    "x-ratelimit-remaining-requests",
                    "x-ratelimit-reset-requests",
                ),
                ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
            ],
            &hints::parse_reset_duration,
        ),
        HintSource::XRateLimitReset => buckets_oracle(
            headers,
            status,
            &[("x-ratelimit-remaining", "x-ratelimit-reset")],
            &|v| hints::parse_x_ratelimit_reset(v, wall),
        ),
        other => panic!("a family the checks do not know: {other:?}"),
    }
}

/// "The latest reset among the buckets whose remaining is 0 (all of them on a 429 if none
/// says 0)"; an unreadable reset counts only when no bucket in play is readable.
fn buckets_oracle(
    headers: &HeaderMap,
    status: u16,
    pairs: &[(&str, &str)],
    parse: &dyn Fn(&str) -> Option<Duration>,
) -> Parsed<Duration> {
    let exhausted = |remaining: &str| {
        first(headers, remaining)
            .flatten()
            .is_some_and(|v| says_zero(&v))
    };
    let any_exhausted = pairs.iter().any(|(remaining, _)| exhausted(remaining));
    if !any_exhausted && status != 429 {
        return Parsed::Absent;
    }
    let mut best: Option<Duration> = None;
    let mut invalid = false;
    for (remaining, reset) in pairs {
        if any_exhausted && !exhausted(remaining) {
            continue;
        }
        match first(headers, reset) {
            None => {}
            Some(text) => match text.as_deref().and_then(parse) {
                Some(d) => best = best.max(Some(d)),
                None => invalid = true,
            },
        }
    }
    match (best, invalid) {
        (Some(d), _) => Parsed::Valid(d),
        (None, true) => Parsed::Invalid,
        (None, false) => Parsed::Absent,
    }
}

/// Every `RateLimit` line is one List (RFC 9651 §4.2: the lines joined with commas).
fn ratelimit_oracle(headers: &HeaderMap, status: u16) -> Parsed<Duration> {
    let lines: Vec<&[u8]> = headers
        .get_all("ratelimit")
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    if lines.is_empty() {
        return Parsed::Absent;
    }
    ratelimit_sf_oracle(&lines, status == 429)
}

/// The IETF `RateLimit` field (draft-ietf-httpapi-ratelimit-headers §4), read by `sfv`, a
/// full RFC 9651 parser, from the lines joined with `", "`:
/// - anything `sfv` rejects is a malformed field: invalid as a whole;
/// - each member must be an Item naming a policy (a String or a Token), and its `r` and
///   `t` parameters, where present, non-negative Integers; otherwise the field is invalid;
/// - the answer is the latest `t` among the items with `r` = 0; with none at 0, on a 429,
///   the latest `t` of all; an item without `t` offers nothing.
pub fn ratelimit_sf_oracle(lines: &[&[u8]], on_429: bool) -> Parsed<Duration> {
    let joined = lines.join(&b", "[..]);
    let Ok(list) = sfv::Parser::new(&joined).parse_list::<sfv::List>() else {
        return Parsed::Invalid;
    };
    let (mut exhausted, mut all) = (Vec::new(), Vec::new());
    for member in &list {
        let sfv::ListEntry::Item(item) = member else {
            return Parsed::Invalid;
        };
        if !matches!(
            item.bare_item,
            sfv::BareItem::String(_) | sfv::BareItem::Token(_)
        ) {
            return Parsed::Invalid;
        }
        let param = |key: &str| match item.params.get(key) {
            None => Ok(None),
            Some(sfv::BareItem::Integer(n)) if i64::from(*n) >= 0 => Ok(Some(i64::from(*n))),
            Some(_) => Err(()),
        };
        let (Ok(r), Ok(t)) = (param("r"), param("t")) else {
            return Parsed::Invalid;
        };
        if let Some(t) = t {
            let t = Duration::from_secs(t as u64);
            all.push(t);
            if r == Some(0) {
                exhausted.push(t);
            }
        }
    }
    let any_exhausted = list.iter().any(|m| match m {
        sfv::ListEntry::Item(item) => {
            matches!(item.params.get("r"), Some(sfv::BareItem::Integer(n)) if i64::from(*n) == 0)
        }
        sfv::ListEntry::InnerList(_) => false,
    });
    let chosen = if any_exhausted {
        exhausted.into_iter().max()
    } else if on_429 {
        all.into_iter().max()
    } else {
        None
    };
    chosen.map_or(Parsed::Absent, Parsed::Valid)
}

/// The longest wait any header value could mean, read by every family's grammar
/// (a reset in whole seconds for the digit runs of `RateLimit` lines).
fn longest_meaning(headers: &HeaderMap, wall: SystemTime) -> Option<Duration> {
    let mut longest: Option<Duration> = None;
    for value in headers.values() {
        let Ok(v) = value.to_str() else { continue };
        let readings = [
            hints::parse_retry_after_ms(v),
            hints::parse_retry_after(v, wall),
            hints::parse_rfc3339_reset(v, wall),
            hints::parse_reset_duration(v),
            hints::parse_x_ratelimit_reset(v, wall),
            digit_runs(v).into_iter().max().map(Duration::from_secs),
        ];
        longest = readings.into_iter().fold(longest, Option::max);
    }
    longest
}

/// Classification of the same response: a retryable verdict carries `server_wait`'s
/// hint when the policy honours hints and none when it does not.
fn check_classification(
    headers: &HeaderMap,
    status: u16,
    wall: SystemTime,
    hint: Option<hints::Hint>,
) {
    let Ok(code) = StatusCode::from_u16(status) else {
        return;
    };
    let outcome = Outcome::response(code, headers);
    let [default, anthropic, ignoring] = classification_policies();
    for method in [Method::GET, Method::POST] {
        let facts = RequestFacts::from_parts(&method, headers);
        for policy in [default, anthropic] {
            let verdict = policy.classify(&facts, &outcome, wall);
            if verdict.is_retryable() {
                assert_eq!(verdict.hint(), hint, "{method} {status}");
            }
            if (200..400).contains(&status) {
                assert!(verdict.is_success(), "{status} with no error type succeeds");
            }
        }
        let verdict = ignoring.classify(&facts, &outcome, wall);
        assert_eq!(verdict.hint(), None, "hints are off");
    }
}

/// The default and Anthropic presets and a policy that ignores hints, built once: the
/// fuzzer runs the checks millions of times.
fn classification_policies() -> &'static [Policy; 3] {
    static POLICIES: std::sync::OnceLock<[Policy; 3]> = std::sync::OnceLock::new();
    POLICIES.get_or_init(|| {
        let ignoring = match Policy::builder().honor_hints(false).build() {
            Ok(p) => p,
            Err(e) => panic!("a policy without hints is valid: {e}"),
        };
        [
            Policy::preset(Preset::Default),
            Policy::preset(Preset::Anthropic),
            ignoring,
        ]
    })
}

// ---------------------------------------------------------------------------------------
// error_body: the JSON error envelope
// ---------------------------------------------------------------------------------------

/// `data` is a response body or an SSE `error` event's data. Checks:
/// - whatever the reader finds is what the JSON document says at `error.type` and
///   `request_id` (so it never reads a type out of something that is not an envelope);
/// - any JSON object with the envelope's shape, written out canonically, reads back with
///   its type and request id; one without that shape reads as empty;
/// - without the `json` feature, every body reads as empty.
pub fn error_body(data: &[u8]) {
    let read = redial::classify::read_error_body(data);
    #[cfg(not(feature = "json"))]
    assert_eq!(read, redial::classify::ErrorBody::default());
    #[cfg(feature = "json")]
    json_envelope(data, &read);
}

#[cfg(feature = "json")]
fn json_envelope(data: &[u8], read: &redial::classify::ErrorBody<'_>) {
    use serde_json::Value;

    /// What an envelope-shaped object says, `None` when the object is not of that shape.
    fn envelope(obj: &serde_json::Map<String, Value>) -> Option<(Option<ErrorType>, Option<&str>)> {
        let error_type = match obj.get("error") {
            None | Some(Value::Null) => None,
            Some(Value::Object(error)) => match error.get("type") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) => Some(ErrorType::from_name(t)),
                Some(_) => return None,
            },
            Some(_) => return None,
        };
        let request_id = match obj.get("request_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.as_str()),
            Some(_) => return None,
        };
        Some((error_type, request_id))
    }

    let document: Option<Value> = serde_json::from_slice(data).ok();
    if read.error_type.is_some() || read.request_id.is_some() {
        let Some(Value::Object(obj)) = &document else {
            // `Value` refuses numbers beyond f64 (`1e400`), which JSON's grammar allows and
            // the reader skips over: then the body need only be JSON, and an object.
            let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok();
            let starts_as_object = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            assert!(
                is_json && starts_as_object && document.is_none(),
                "read {read:?} from a body that is not a JSON object: {:?}",
                String::from_utf8_lossy(data)
            );
            return;
        };
        let said = envelope(obj);
        assert_eq!(
            said,
            Some((read.error_type, read.request_id.as_deref())),
            "read {read:?} from {obj:?}"
        );
    }

    if let Some(Value::Object(obj)) = &document {
        let canonical = match serde_json::to_vec(&document) {
            Ok(bytes) => bytes,
            Err(e) => panic!("a parsed document writes back: {e}"),
        };
        let again = redial::classify::read_error_body(&canonical);
        match envelope(obj) {
            Some((error_type, request_id)) => {
                assert_eq!(again.error_type, error_type, "{obj:?}");
                assert_eq!(again.request_id.as_deref(), request_id, "{obj:?}");
            }
            None => assert_eq!(again, redial::classify::ErrorBody::default(), "{obj:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// machine: arbitrary verdicts and times through the retry machine
// ---------------------------------------------------------------------------------------

/// Reads the fuzzer's bytes as numbers; past the end, every read is zero.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// A duration on one of several scales, so the fuzzer reaches nanoseconds, the usual
    /// milliseconds and seconds, and the saturating extremes alike.
    fn duration(&mut self) -> Duration {
        match self.u8() % 6 {
            0 => Duration::from_nanos(u64::from(self.u16())),
            1 | 2 => Duration::from_millis(u64::from(self.u16())),
            3 => Duration::from_secs(u64::from(self.u16())),
            4 => Duration::from_nanos(self.u64()),
            _ => Duration::MAX,
        }
    }
}

/// A policy from the fuzzer's bytes, `None` when the builder rejects it (only valid
/// policies are driven).
fn decode_policy(r: &mut Reader<'_>) -> Option<Policy> {
    let flags = r.u8();
    let max_attempts = match flags & 0b11 {
        0 => r.u32(),
        _ => u32::from(r.u8() % 8),
    };
    let curve = match r.u8() % 3 {
        0 => Curve::Exponential,
        1 => Curve::Constant,
        _ => Curve::Linear,
    };
    let base = r.duration();
    let cap = base.saturating_add(r.duration());
    let factor = match r.u8() % 8 {
        0 => 2.0,
        1 => 1.0,
        2 => 0.5,
        3 => 1.5,
        4 => 10.0,
        5 => 1e300,
        6 => f64::MIN_POSITIVE,
        _ => f64::from_bits(r.u64()),
    };
    let jitter = match r.u8() % 6 {
        0 => Jitter::None,
        1 => Jitter::Full,
        2 => Jitter::Equal,
        3 => Jitter::Proportional(f64::from(r.u8()) / 255.0),
        4 => Jitter::Proportional(f64::from_bits(r.u64())),
        _ => Jitter::Decorrelated,
    };
    let max_hint = r.duration();
    let on_long_hint = if flags & 0b100 != 0 {
        OnLongHint::Clamp
    } else {
        OnLongHint::Stop
    };
    let mut builder = Policy::builder()
        .max_attempts(max_attempts)
        .curve(curve)
        .base(base)
        .cap(cap)
        .factor(factor)
        .jitter(jitter)
        .max_hint(max_hint)
        .on_long_hint(on_long_hint);
    if flags & 0b1000 != 0 {
        builder = builder.max_elapsed(r.duration());
    }
    builder = if flags & 0b1_0000 != 0 {
        builder.no_budget()
    } else if flags & 0b100_0000 != 0 {
        builder.budget(decode_adaptive(r))
    } else {
        builder.budget(BudgetConfig::new(
            u32::from(r.u16()),
            u32::from(r.u8()),
            u32::from(r.u8()),
            u32::from(r.u8() % 8),
        ))
    };
    builder.build().ok()
}

/// The `adaptive` kind: the default's numbers (`Policy::default()`'s budget) a quarter of
/// the time, otherwise settings from a few each (windows of a second and more: the docs
/// say nothing of shorter ones).
fn decode_adaptive(r: &mut Reader<'_>) -> BudgetConfig {
    let mut c = BudgetConfig::default();
    if !r.u8().is_multiple_of(4) {
        c.window = [30, 1, 10, 120].map(Duration::from_secs)[usize::from(r.u8() % 4)];
        c.overload_ratio = [0.1, 0.0, 0.5, 1.0][usize::from(r.u8() % 4)];
        c.retry_ratio = [2.0, 0.0, 0.3, 10.0][usize::from(r.u8() % 4)];
        c.min_retries = [0.5, 0.0, 3.0, 100.0][usize::from(r.u8() % 4)];
    }
    c
}

/// One step of the script: start a new call, or feed one outcome after some time.
#[derive(Clone, Copy, Debug)]
enum Step {
    NewCall,
    Outcome(Verdict),
}

/// A step for a policy with an adaptive budget: every kind of outcome the rule tells
/// apart (an overload signal by status and by body, bad luck by status and by transport,
/// a rate limit with and without a wait, an answer, a fatal failure). The other policies
/// read steps as [`decode_step`] always has, so that their corpus files keep their meaning.
fn decode_adaptive_step(r: &mut Reader<'_>) -> (Duration, Step) {
    let op = r.u8();
    let (after, step) = decode_step_with(r, op % 8);
    let step = match op % 16 {
        8 => Step::Outcome(Verdict::retryable(Cause::status(529))),
        9 => Step::Outcome(Verdict::retryable(Cause::status(500))),
        10 => Step::Outcome(Verdict::retryable(Cause::status(429))),
        11 => Step::Outcome(Verdict::fatal(Cause::transport(Transport::Connect))),
        12 => Step::Outcome(Verdict::retryable(
            Cause::status(200).with_error_type(ErrorType::Overloaded),
        )),
        13 => Step::Outcome(Verdict::retryable(Cause::transport(Transport::Reset))),
        14 => Step::Outcome(Verdict::fatal(Cause::status(503))),
        15 => Step::Outcome(Verdict::fatal(Cause::status(404))),
        _ => step,
    };
    (after, step)
}

fn decode_step(r: &mut Reader<'_>) -> (Duration, Step) {
    let op = r.u8();
    decode_step_with(r, op)
}

fn decode_step_with(r: &mut Reader<'_>, op: u8) -> (Duration, Step) {
    // Mostly the waits a real call sees; sometimes any duration at all.
    let after = match r.u8() % 4 {
        0 => Duration::ZERO,
        1 => Duration::from_millis(u64::from(r.u16())),
        2 => Duration::from_secs(u64::from(r.u16())),
        _ => r.duration(),
    };
    let hint = |r: &mut Reader<'_>| hints::Hint {
        wait: r.duration(),
        source: HintSource::RetryAfter,
    };
    let step = match op % 8 {
        0 => Step::Outcome(Verdict::Success),
        1 => Step::Outcome(Verdict::fatal(Cause::status(400))),
        2 | 3 => Step::Outcome(Verdict::retryable(Cause::status(503))),
        4 => Step::Outcome(Verdict::retryable(Cause::transport(Transport::Timeout))),
        5 => Step::Outcome(Verdict::Retryable {
            cause: Cause::status(429),
            hint: Some(hint(r)),
        }),
        6 => Step::NewCall,
        _ => Step::Outcome(Verdict::Retryable {
            cause: Cause::transport(Transport::Timeout),
            hint: Some(hint(r)),
        }),
    };
    (after, step)
}

/// `data` is a policy, a seed, then a script of steps. Several calls run one after
/// another on the same policy, so they share its budget. At every step:
/// - attempts never exceed `max_attempts`, and each outcome counts one attempt;
/// - once stopped, a call stays stopped: the same stop every time, no attempt counted,
///   the budget untouched;
/// - a stop follows the design's priority and carries true numbers;
/// - a backoff delay lies within its jitter's range and never above `cap`; a hint's delay
///   lies in `[hint, hint + min(hint / 10, 1 s)]`, clamped to `max_hint` only when the
///   policy says clamp;
/// - no retry's wait ends past `max_elapsed`;
/// - the budget is exactly what the AWS rules leave in it, within `[0, capacity]`;
/// - an adaptive budget (the default's, or other settings) allows and refuses exactly the
///   retries its model ([`adaptive_model`]) does, in the lane the model says, with the
///   numbers the refusal names, and counts what the model counts;
/// - the same policy, seed and script give the same actions.
pub fn machine(data: &[u8]) {
    let mut r = Reader(data);
    let Some(policy) = decode_policy(&mut r) else {
        return;
    };
    let seed = r.u64();
    let adaptive = policy.rules().budget_config().kind == BudgetKind::Adaptive;
    let mut script = Vec::new();
    while !r.is_empty() && script.len() < 256 {
        script.push(if adaptive {
            decode_adaptive_step(&mut r)
        } else {
            decode_step(&mut r)
        });
    }
    let base = Instant::now();
    let first = run_script(&policy, seed, &script, base);
    // A fresh policy of the same settings has a fresh budget: the run must repeat exactly.
    let again = match policy.to_builder().build() {
        Ok(p) => run_script(&p, seed, &script, base),
        Err(e) => panic!("a policy's own settings rebuild: {e}"),
    };
    assert_eq!(
        first, again,
        "same policy, seed and script, different actions"
    );
}

/// What the machine's rules leave in the budget, kept beside the real one.
struct Model {
    tokens: u32,
    capacity: u32,
}

/// One call's state as the checks see it.
struct Call<'p> {
    machine: Machine<&'p Policy>,
    start: Instant,
    retries: u32,
    spent: u32,
    previous: Duration,
}

fn run_script(
    policy: &Policy,
    seed: u64,
    script: &[(Duration, Step)],
    base: Instant,
) -> Vec<Action> {
    let rules = policy.rules();
    let mut rng = fastrand::Rng::with_seed(seed);
    let kind = rules.budget_config().kind;
    let mut model = rules
        .budget()
        .filter(|_| kind == BudgetKind::Aws)
        .map(|b| Model {
            tokens: b.available(),
            capacity: b.config().capacity,
        });
    let mut adaptive = rules
        .budget()
        .filter(|_| kind == BudgetKind::Adaptive)
        .map(|b| adaptive_model::Model::new(b.config()));
    if let (Some(m), Some(b)) = (&model, rules.budget()) {
        assert_eq!(m.tokens, m.capacity, "a new budget starts full");
        assert_eq!(b.config(), rules.budget_config());
    }
    let mut now = base;
    let new_call = |now: Instant| Call {
        machine: policy.start(now),
        start: now,
        retries: 0,
        spent: 0,
        previous: rules.backoff().base(),
    };
    let mut call = new_call(now);
    let mut actions = Vec::new();
    for &(after, step) in script {
        let Some(later) = now.checked_add(after) else {
            break;
        };
        now = later;
        match step {
            Step::NewCall => call = new_call(now),
            Step::Outcome(verdict) => {
                let stopped = call.machine.stopped().is_some();
                let action = one_outcome(policy, &mut call, &mut model, verdict, now, &mut rng);
                if let (Some(m), false) = (&mut adaptive, stopped) {
                    adaptive_outcome(m, &verdict, action, call.machine.attempts() == 1, now);
                }
                actions.push(action);
            }
        }
        if let (Some(m), Some(b)) = (&mut adaptive, rules.budget()) {
            assert_eq!(
                b.take_local_deltas(),
                m.take(),
                "the adaptive budget counts what its model counts"
            );
        }
        if let (Some(m), Some(b)) = (&model, rules.budget()) {
            assert_eq!(
                b.available(),
                m.tokens,
                "the budget holds what the rules leave"
            );
            assert!(m.tokens <= m.capacity);
        }
    }
    actions
}

fn one_outcome(
    policy: &Policy,
    call: &mut Call<'_>,
    model: &mut Option<Model>,
    verdict: Verdict,
    now: Instant,
    rng: &mut fastrand::Rng,
) -> Action {
    let rules = policy.rules();
    let max_attempts = rules.max_attempts();
    let attempts_before = call.machine.attempts();
    let stopped_before = call.machine.stopped().copied();

    let action = call.machine.on_outcome(&verdict, now, rng);

    if let Some(stop) = stopped_before {
        assert_eq!(
            action,
            Action::Stop(stop),
            "a stopped call repeats its stop"
        );
        assert_eq!(
            call.machine.attempts(),
            attempts_before,
            "and counts nothing"
        );
        return action;
    }
    let attempts = call.machine.attempts();
    assert_eq!(attempts, attempts_before.saturating_add(1));
    assert!(
        attempts <= max_attempts,
        "attempts never exceed max_attempts"
    );
    let elapsed = now.saturating_duration_since(call.start);
    let cost = match verdict.cause() {
        Some(cause) if cause.is_timeout() => rules.budget_config().timeout_cost,
        _ => rules.budget_config().retry_cost,
    };

    match (verdict, action) {
        (Verdict::Success, Action::Stop(stop)) => {
            assert_eq!(stop, Stop::Succeeded { attempts });
            assert_eq!(call.machine.stopped(), Some(&stop));
            if let Some(m) = model {
                let refund = if call.retries == 0 {
                    rules.budget_config().success_refund
                } else {
                    call.spent
                };
                m.tokens = m.tokens.saturating_add(refund).min(m.capacity);
            }
        }
        (Verdict::Fatal { cause }, Action::Stop(stop)) => {
            assert_eq!(stop, Stop::NotRetryable { cause });
        }
        (Verdict::Retryable { cause, hint }, Action::Retry(retry)) => {
            assert!(attempts < max_attempts, "a retry leaves an attempt to make");
            call.retries += 1;
            assert_eq!(retry.retry, call.retries);
            assert_eq!(retry.max_retries, max_attempts - 1);
            assert!(retry.retry <= retry.max_retries);
            assert_eq!(retry.cause, cause);
            check_delay(
                policy,
                call.previous,
                retry.retry,
                hint,
                retry.basis,
                retry.delay,
            );
            if let Some(limit) = rules.max_elapsed() {
                assert!(
                    elapsed.saturating_add(retry.delay) <= limit,
                    "a retry whose wait ends past max_elapsed: {elapsed:?} + {:?} > {limit:?}",
                    retry.delay
                );
            }
            if let Some(m) = model {
                assert!(m.tokens >= cost, "a retry the budget could not pay for");
                m.tokens -= cost;
                call.spent = call.spent.saturating_add(cost);
            }
            if retry.basis == Basis::Backoff {
                call.previous = retry.delay;
            }
        }
        (Verdict::Retryable { cause, hint }, Action::Stop(stop)) => {
            assert_eq!(call.machine.stopped(), Some(&stop));
            let too_long = hint.is_some_and(|h| {
                h.wait > rules.max_hint() && rules.on_long_hint() == OnLongHint::Stop
            });
            match stop {
                Stop::AttemptsExhausted {
                    attempts: a,
                    cause: c,
                } => {
                    assert_eq!((a, c), (attempts, cause));
                    assert_eq!(attempts, max_attempts, "exhausted only at the last attempt");
                }
                _ if attempts >= max_attempts => {
                    panic!("{stop:?} where attempts_exhausted comes first")
                }
                Stop::HintTooLong { asked, max } => {
                    assert!(too_long, "{stop:?} for {hint:?}");
                    assert_eq!(Some(asked), hint.map(|h| h.wait));
                    assert_eq!(max, rules.max_hint());
                }
                _ if too_long => panic!("{stop:?} where hint_too_long comes first"),
                Stop::DeadlineExceeded {
                    elapsed: e,
                    wait,
                    limit,
                } => {
                    assert_eq!(Some(limit), rules.max_elapsed());
                    assert_eq!(e, elapsed);
                    assert!(e.saturating_add(wait) > limit, "{stop:?} within the limit");
                    // The wait the machine computed: a long hint here was clamped.
                    let basis = match hint {
                        Some(h) if h.wait > rules.max_hint() => Basis::ClampedHint {
                            hint: h,
                            max: rules.max_hint(),
                        },
                        Some(h) => Basis::Hint(h),
                        None => Basis::Backoff,
                    };
                    check_delay(policy, call.previous, call.retries + 1, hint, basis, wait);
                }
                // Checked against the adaptive model by `adaptive_outcome`.
                Stop::Throttled { .. } => {
                    assert_eq!(
                        rules.budget_config().kind,
                        BudgetKind::Adaptive,
                        "{stop:?} from a budget that is not adaptive"
                    );
                    assert!(rules.budget_config().enabled);
                }
                Stop::BudgetExhausted { cost: c, available } => {
                    let Some(m) = model else {
                        panic!("budget_exhausted with the budget off");
                    };
                    assert_eq!(c, cost);
                    assert_eq!(available, m.tokens);
                    assert!(m.tokens < cost, "{stop:?} with enough tokens");
                }
                other => panic!("{other:?} for a retryable failure"),
            }
        }
        (verdict, action) => panic!("{action:?} for {verdict:?}"),
    }
    action
}

/// Feeds the adaptive budget's model what the machine fed its budget for one outcome of a
/// running call (`first` when it was the call's first attempt), and checks the machine's
/// answer where the budget decided it.
pub fn adaptive_outcome(
    m: &mut adaptive_model::Model,
    verdict: &Verdict,
    action: Action,
    first: bool,
    now: Instant,
) {
    use adaptive_model::Lane;
    // A status below 500 that is neither a rate limit nor an overload signal: the server
    // answered on purpose.
    let answered = |c: &Cause| {
        c.status.is_some_and(|s| s < 500) && !c.is_rate_limit() && !c.signals_overload()
    };
    let (cause, hint) = match verdict {
        Verdict::Success => return m.success(first),
        Verdict::Fatal { cause } if answered(cause) => return m.success(first),
        Verdict::Fatal { cause } => return m.failure(first, cause.signals_overload()),
        Verdict::Retryable { cause, hint } => (cause, hint),
    };
    let overload = cause.signals_overload();
    let paced = hint.is_some() && cause.is_rate_limit();
    // The budget weighs a retry only once the rules before it allow one.
    let refused = match action {
        Action::Retry(_) => None,
        Action::Stop(Stop::Throttled {
            retries,
            allowed,
            why,
        }) => Some((retries, allowed, why)),
        Action::Stop(_) if paced => return m.paced_failure(first, overload),
        Action::Stop(_) => return m.failure(first, overload),
    };
    if paced {
        assert!(
            refused.is_none(),
            "a paced 429 spent the allowance: {action:?}"
        );
        return m.success(first);
    }
    let d = m.decide(overload, now);
    if m.lost.is_none() {
        let lane = refused.map(|(_, _, why)| match why {
            Throttle::BadLuck => Lane::BadLuck,
            Throttle::Shedding => Lane::Shed,
            Throttle::Failing { .. } => Lane::Failing,
            other => panic!("a refusal the model does not know: {other:?}"),
        });
        assert!(
            d.admits(lane, refused.is_none()),
            "the adaptive budget's answer {action:?} (lane {lane:?}) against its model's {d:?}"
        );
        if let (Some((retries, allowed, _)), Some(lane)) = (refused, lane) {
            assert!(
                d.names(lane, retries, allowed),
                "the refusal's numbers {action:?} against the model's {d:?}"
            );
        }
    }
    m.decided(first, overload, refused.is_none());
}

/// The delay of retry `n` lies where the design puts it.
fn check_delay(
    policy: &Policy,
    previous: Duration,
    n: u32,
    hint: Option<hints::Hint>,
    basis: Basis,
    delay: Duration,
) {
    let rules = policy.rules();
    match (hint, basis) {
        (None, Basis::Backoff) => {
            let b = rules.backoff();
            let cap = b.cap();
            assert!(delay <= cap, "delay {delay:?} above cap {cap:?}");
            let (low, high) = jittered_delay_oracle(
                b.curve(),
                b.base(),
                cap,
                b.factor(),
                b.jitter(),
                n,
                previous,
            );
            assert!(
                low <= delay && delay <= high,
                "retry {n}: {delay:?} outside [{low:?}, {high:?}] for {b:?}"
            );
        }
        (Some(h), Basis::Hint(used)) => {
            assert_eq!(h, used, "the delay names the hint it honoured");
            assert!(
                h.wait <= rules.max_hint(),
                "a long hint is clamped, never honoured as is"
            );
            hinted_delay_within_spread(h.wait, delay);
        }
        (Some(h), Basis::ClampedHint { hint, max }) => {
            assert_eq!(h, hint, "the delay names the hint it clamped");
            assert_eq!(max, rules.max_hint());
            assert!(h.wait > max, "only a long hint is clamped");
            assert_eq!(
                rules.on_long_hint(),
                OnLongHint::Clamp,
                "a long hint clamped"
            );
            hinted_delay_within_spread(max, delay);
        }
        (hint, basis) => panic!("basis {basis:?} for hint {hint:?}"),
    }
}

/// The design's curve, restated: the raw delay of retry `n` (1 for the first), as the
/// interval float rounding allows (one part in 10^12, plus 1 ns, for the exponential).
/// `exponential` `min(cap, base × factor^(n−1))`, `constant` `min(cap, base)`, `linear`
/// `min(cap, base × n)`.
pub fn raw_delay_oracle(
    curve: Curve,
    base: Duration,
    cap: Duration,
    factor: f64,
    n: u32,
) -> (Duration, Duration) {
    let n = n.max(1);
    let exact = |nanos: u128| {
        let d = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)).min(cap);
        (d, d)
    };
    match curve {
        Curve::Constant => exact(base.as_nanos()),
        Curve::Linear => exact(base.as_nanos().saturating_mul(u128::from(n))),
        Curve::Exponential => {
            let x = base.as_nanos() as f64 * factor.powf(f64::from(n - 1));
            if base.is_zero() {
                return exact(0);
            }
            let at = |v: f64| {
                if v.is_nan() || v >= cap.as_nanos() as f64 {
                    cap
                } else {
                    Duration::from_nanos(v.max(0.0) as u64)
                }
            };
            (at(x - x * 1e-12 - 1.0), at(x + x * 1e-12 + 1.0))
        }
        other => panic!("a curve the checks do not know: {other:?}"),
    }
}

/// Where the design's jitter puts retry `n`'s delay, given the previous delay:
/// `none` d, `full` [0, d], `equal` [d/2, d], `proportional` [d × (1 − r), d],
/// `decorrelated` [base, min(cap, 3 × previous)].
pub fn jittered_delay_oracle(
    curve: Curve,
    base: Duration,
    cap: Duration,
    factor: f64,
    jitter: Jitter,
    n: u32,
    previous: Duration,
) -> (Duration, Duration) {
    let (low, high) = raw_delay_oracle(curve, base, cap, factor, n);
    match jitter {
        Jitter::None => (low, high),
        Jitter::Full => (Duration::ZERO, high),
        Jitter::Equal => (low / 2, high),
        Jitter::Proportional(r) => {
            let low = low.as_nanos() as f64 * (1.0 - r);
            let low = (low - low * 1e-12 - 1.0).max(0.0);
            (Duration::from_nanos(low as u64), high)
        }
        Jitter::Decorrelated => {
            let low = base.min(cap);
            (low, previous.saturating_mul(3).min(cap).max(low))
        }
        other => panic!("a jitter the checks do not know: {other:?}"),
    }
}

/// A hinted delay lies in `[asked, asked + min(asked / 10, 1 s)]`.
fn hinted_delay_within_spread(asked: Duration, delay: Duration) {
    // Delays are whole nanoseconds held in a u64: past 584 years they saturate.
    let ceiling = Duration::from_nanos(u64::MAX);
    let spread = (asked / 10).min(Duration::from_secs(1));
    let low = asked.min(ceiling);
    let high = asked.saturating_add(spread).min(ceiling);
    assert!(
        low <= delay && delay <= high,
        "hint delay {delay:?} outside [{low:?}, {high:?}]"
    );
}
