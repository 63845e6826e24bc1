//! The rate-limit header families: when a quota resets.
//!
//! They are consulted only after `retry-after-ms` and `retry-after`, and only where they
//! speak of an exhausted quota: on a 429, or when a matching `remaining` header is 0. A
//! reset time on a successful response with quota left says nothing about this request.

use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::structured_field::{self, Bare};
use super::{number, Parsed};

/// Parses an RFC 3339 timestamp (as in `anthropic-ratelimit-requests-reset:
/// 2026-11-23T10:00:17Z`) into how long to wait from `wall`; zero when it has passed.
///
/// Offsets and fractional seconds are accepted; impossible dates are not.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use redial::hints::parse_rfc3339_reset;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_428_000); // 2026-11-23T10:00:00Z
/// assert_eq!(parse_rfc3339_reset("2026-11-23T10:00:17Z", now), Some(Duration::from_secs(17)));
/// assert_eq!(parse_rfc3339_reset("2026-11-23T11:00:17.5+01:00", now), Some(Duration::from_millis(17_500)));
/// assert_eq!(parse_rfc3339_reset("2026-02-30T10:00:17Z", now), None);
/// ```
pub fn parse_rfc3339_reset(value: &str, wall: SystemTime) -> Option<Duration> {
    let at = OffsetDateTime::parse(number::trim_ows(value), &Rfc3339).ok()?;
    let wait = at.unix_timestamp_nanos().saturating_sub(unix_nanos(wall));
    Some(number::from_nanos(u128::try_from(wait).unwrap_or(0)).unwrap_or(Duration::MAX))
}

/// Parses a Go-style duration as sent in `x-ratelimit-reset-requests` and
/// `x-ratelimit-reset-tokens` (`1s`, `6m0s`, `20ms`, `59.5s`).
///
/// ```
/// use std::time::Duration;
/// use redial::hints::parse_reset_duration;
///
/// assert_eq!(parse_reset_duration("6m0s"), Some(Duration::from_secs(360)));
/// assert_eq!(parse_reset_duration("20ms"), Some(Duration::from_millis(20)));
/// assert_eq!(parse_reset_duration("soon"), None);
/// ```
pub fn parse_reset_duration(value: &str) -> Option<Duration> {
    crate::duration::parse_opt(number::trim_ows(value))
}

/// Parses `x-ratelimit-reset`: seconds from now, or a Unix timestamp when the number is
/// at least 1,000,000,000 (GitHub sends timestamps, others send deltas; no delta that large
/// is plausible, as it is over 31 years). A fraction is accepted (Discord sends
/// `1470173023.123`). A timestamp in the past means zero.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use redial::hints::parse_x_ratelimit_reset;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_428_000);
/// assert_eq!(parse_x_ratelimit_reset("30", now), Some(Duration::from_secs(30)));
/// assert_eq!(parse_x_ratelimit_reset("1795428045", now), Some(Duration::from_secs(45)));
/// assert_eq!(parse_x_ratelimit_reset("1000000000", now), Some(Duration::ZERO));
/// ```
pub fn parse_x_ratelimit_reset(value: &str, wall: SystemTime) -> Option<Duration> {
    let n = number::decimal(number::trim_ows(value), 1_000_000_000, true)?;
    if n.as_secs() >= 1_000_000_000 {
        // Nanosecond arithmetic: `UNIX_EPOCH + n` could overflow `SystemTime` and panic.
        let wait = (n.as_nanos() as i128).saturating_sub(unix_nanos(wall));
        Some(number::from_nanos(u128::try_from(wait).unwrap_or(0)).unwrap_or(Duration::MAX))
    } else {
        Some(n)
    }
}

/// Parses one line of the IETF `RateLimit` field
/// (draft-ietf-httpapi-ratelimit-headers: a Structured Field List of service limits):
///
/// ```text
/// RateLimit: "default";r=0;t=30, "daily";r=100;t=3600
/// ```
///
/// `r` is the quota left and `t` the seconds until it resets. The answer is the latest `t`
/// among the items with `r=0`; on a 429 (`on_429`), if no item says 0, the latest `t` of
/// all. An item without `t` is skipped.
///
/// The field is read strictly as RFC 9651 says: other parameters, bare ones included, are
/// allowed and ignored (the draft calls them comments), while anything outside RFC 9651's
/// grammar (a trailing comma, an empty member, whitespace around `=`, an upper-case or
/// empty key, a number of more than 15 digits), an item that is not a String or Token
/// naming a policy, or an `r` or `t` that is not a non-negative Integer makes the whole
/// field [`Parsed::Invalid`]: the draft says a malformed field MUST be ignored.
///
/// ```
/// use std::time::Duration;
/// use redial::hints::{parse_ratelimit, Parsed};
///
/// let v = r#""default";r=0;t=30, "daily";r=100;t=3600"#;
/// assert_eq!(parse_ratelimit(v, false), Parsed::Valid(Duration::from_secs(30)));
/// assert_eq!(parse_ratelimit(r#""default";r=5;t=30"#, false), Parsed::Absent);
/// assert_eq!(parse_ratelimit(r#""default";r=5;t=30"#, true), Parsed::Valid(Duration::from_secs(30)));
/// assert_eq!(parse_ratelimit(r#""default";r=0;t=30;burst"#, true), Parsed::Valid(Duration::from_secs(30)));
/// assert_eq!(parse_ratelimit(r#""default";r=0;t=-1"#, true), Parsed::Invalid);
/// assert_eq!(parse_ratelimit(r#""default";r=0;t=30,"#, true), Parsed::Invalid);
/// ```
pub fn parse_ratelimit(value: &str, on_429: bool) -> Parsed<Duration> {
    ratelimit_lines(core::iter::once(value.as_bytes()), on_429)
}

/// Reads every `RateLimit` line of `headers` as one list.
pub(super) fn ratelimit_field(headers: &HeaderMap, on_429: bool) -> Parsed<Duration> {
    let mut lines = headers.get_all(&RATELIMIT).iter().peekable();
    if lines.peek().is_none() {
        return Parsed::Absent;
    }
    ratelimit_lines(lines.map(HeaderValue::as_bytes), on_429)
}

/// The selection rule over one List made of `lines`.
fn ratelimit_lines<'a>(lines: impl Iterator<Item = &'a [u8]>, on_429: bool) -> Parsed<Duration> {
    let mut scan = Buckets::default();
    let list = structured_field::read_list(lines, [b"r", b"t"], |member| {
        let [remaining, reset] = member.params.map(|p| match p {
            None => Some(None),
            Some(Bare::Integer(n)) => u64::try_from(n).ok().map(Some),
            Some(_) => None,
        });
        let (Some(remaining), Some(reset)) = (remaining, reset) else {
            return false;
        };
        if !matches!(member.item, Some(Bare::String | Bare::Token)) {
            return false;
        }
        scan.offer(
            remaining == Some(0),
            reset.map(|t| Some(Duration::from_secs(t))),
        );
        true
    });
    if list {
        scan.finish(on_429)
    } else {
        Parsed::Invalid
    }
}

/// Reads a family of `(remaining, reset)` header pairs: the latest reset among the pairs
/// whose remaining is 0, or on a 429 with none at 0, the latest of all.
///
/// The `remaining` headers are read first: they decide which resets count, so only those
/// are parsed (a 5xx with quota left parses none, where a timestamp costs more than the
/// rest of the decision).
pub(super) fn buckets<const N: usize>(
    headers: &HeaderMap,
    pairs: &[(HeaderName, HeaderName); N],
    on_429: bool,
    parse: impl Fn(&str) -> Option<Duration>,
) -> Parsed<Duration> {
    let exhausted = pairs
        .each_ref()
        .map(|(remaining, _)| headers.get(remaining).is_some_and(is_zero));
    let any_exhausted = exhausted.contains(&true);
    if !any_exhausted && !on_429 {
        return Parsed::Absent;
    }
    let mut latest = Latest::default();
    for ((_, reset), exhausted) in pairs.iter().zip(exhausted) {
        if any_exhausted && !exhausted {
            continue;
        }
        if let Some(value) = headers.get(reset) {
            latest.offer(value.to_str().ok().and_then(&parse));
        }
    }
    latest.finish()
}

pub(super) static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Whether a `remaining` header says the quota is used up.
fn is_zero(value: &HeaderValue) -> bool {
    value
        .to_str()
        .ok()
        .and_then(|s| number::integer(number::trim_ows(s).as_bytes()))
        == Some(0)
}

/// Nanoseconds since the Unix epoch, negative before it.
fn unix_nanos(wall: SystemTime) -> i128 {
    match wall.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// The latest reset seen, and whether an unreadable one was seen, for one set of buckets.
#[derive(Default, Clone, Copy)]
struct Latest {
    best: Option<Duration>,
    invalid: bool,
}

impl Latest {
    fn offer(&mut self, reset: Option<Duration>) {
        match reset {
            Some(d) => self.best = Some(self.best.map_or(d, |b| b.max(d))),
            None => self.invalid = true,
        }
    }

    fn finish(self) -> Parsed<Duration> {
        match (self.best, self.invalid) {
            (Some(d), _) => Parsed::Valid(d),
            (None, true) => Parsed::Invalid,
            (None, false) => Parsed::Absent,
        }
    }
}

/// Resets split by whether their quota is exhausted.
#[derive(Default)]
struct Buckets {
    exhausted: Latest,
    all: Latest,
    any_exhausted: bool,
}

impl Buckets {
    /// `reset` is `None` when the bucket sent no reset, `Some(None)` when it was unreadable.
    fn offer(&mut self, exhausted: bool, reset: Option<Option<Duration>>) {
        self.any_exhausted |= exhausted;
        if let Some(reset) = reset {
            if exhausted {
                self.exhausted.offer(reset);
            }
            self.all.offer(reset);
        }
    }

    fn finish(self, on_429: bool) -> Parsed<Duration> {
        if self.any_exhausted {
            self.exhausted.finish()
        } else if on_429 {
            self.all.finish()
        } else {
            Parsed::Absent
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // 2026-11-23T10:00:00Z, the fixtures' day.
        UNIX_EPOCH + Duration::from_secs(1_795_428_000)
    }

    #[test]
    fn ietf_ratelimit_items() {
        let s = Duration::from_secs;
        assert_eq!(
            parse_ratelimit(r#""a";r=0;t=30"#, false),
            Parsed::Valid(s(30))
        );
        assert_eq!(
            parse_ratelimit(r#""a";r=0;t=30, "b";r=0;t=90"#, false),
            Parsed::Valid(s(90))
        );
        assert_eq!(
            parse_ratelimit(r#""a";r=1;t=30, "b";r=0;t=10"#, true),
            Parsed::Valid(s(10)),
            "an exhausted quota wins over a later one with room"
        );
        assert_eq!(
            parse_ratelimit(r#""a,b;c";r=0;t=5"#, false),
            Parsed::Valid(s(5))
        );
        assert_eq!(
            parse_ratelimit("default;r=0;t=7", false),
            Parsed::Valid(s(7))
        );
        assert_eq!(parse_ratelimit(r#""a";r=0"#, true), Parsed::Absent);
        assert_eq!(
            parse_ratelimit(r#""a";r=0;t=7;pk=:abc=:"#, true),
            Parsed::Valid(s(7))
        );
    }

    #[test]
    fn ietf_ratelimit_garbage() {
        for bad in [
            r#""a";r=0;t=-30"#,
            r#""a";r=0;t=1.5"#,
            r#""a";r=0;t"#,
            r#""a";r=x;t=3"#,
            "=0;t=3",
            r#""a;r=0;t=3"#,
            r#""a";r=0;t=99999999999999999999999"#,
            "limit=10, remaining=0, reset=30",
        ] {
            assert_eq!(parse_ratelimit(bad, true), Parsed::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(
            parse_rfc3339_reset("2026-11-23T10:00:17Z", now()),
            Some(Duration::from_secs(17))
        );
        assert_eq!(
            parse_rfc3339_reset("2026-11-23T09:00:00Z", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_rfc3339_reset("1900-01-01T00:00:00Z", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_rfc3339_reset("9999-12-31T23:59:59Z", now())
                .map(|d| d.as_secs() > 200_000_000_000),
            Some(true)
        );
        for bad in [
            "",
            "2026-11-23",
            "2026-11-23T10:00:17",
            "2026-13-01T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "tomorrow",
            "2026-11-23T10:00:17Zjunk",
        ] {
            assert_eq!(parse_rfc3339_reset(bad, now()), None, "{bad:?}");
        }
    }

    #[test]
    fn x_ratelimit_reset_delta_or_timestamp() {
        assert_eq!(parse_x_ratelimit_reset("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_x_ratelimit_reset("999999999", now()),
            Some(Duration::from_secs(999_999_999)),
            "just under the threshold is still a delta"
        );
        assert_eq!(
            parse_x_ratelimit_reset("1795428001.5", now()),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_x_ratelimit_reset("18446744073709551615", now()).map(|d| d > Duration::ZERO),
            Some(true),
            "a timestamp far away is a long wait, not an overflow"
        );
        for bad in ["-5", "", "5s", "nan"] {
            assert_eq!(parse_x_ratelimit_reset(bad, now()), None, "{bad:?}");
        }
    }
}
