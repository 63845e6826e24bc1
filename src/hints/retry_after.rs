//! `retry-after-ms` and `retry-after`.

use core::time::Duration;
use std::time::SystemTime;

use super::number;

/// Parses a `retry-after-ms` value: milliseconds, possibly fractional (`"1500"`, `"250.5"`).
///
/// The header is not in an RFC; the Anthropic and OpenAI APIs send it beside `retry-after`
/// because delay-seconds cannot say "200 ms". Whitespace around the value is trimmed.
///
/// ```
/// use std::time::Duration;
/// use redial::hints::parse_retry_after_ms;
///
/// assert_eq!(parse_retry_after_ms("1500"), Some(Duration::from_millis(1500)));
/// assert_eq!(parse_retry_after_ms(" 0.5 "), Some(Duration::from_micros(500)));
/// assert_eq!(parse_retry_after_ms("-1"), None);
/// ```
pub fn parse_retry_after_ms(value: &str) -> Option<Duration> {
    number::decimal(number::trim_ows(value), 1_000_000, true)
}

/// Parses a `retry-after` value (RFC 9110 §10.2.3) into how long to wait from `wall`.
///
/// ```text
/// Retry-After   = HTTP-date / delay-seconds
/// delay-seconds = 1*DIGIT
/// HTTP-date     = IMF-fixdate / obs-date     ; obs-date = rfc850-date / asctime-date
/// ```
///
/// Dates are read by the `httpdate` crate in all three forms RFC 9110 §5.6.7 requires
/// recipients to accept. A date in the past means "now": zero.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use redial::hints::parse_retry_after;
///
/// let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:07 GMT").unwrap();
/// let thirty = Some(Duration::from_secs(30));
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), thirty);
/// assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), thirty);
/// assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), thirty);
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, wall: SystemTime) -> Option<Duration> {
    let value = number::trim_ows(value);
    if value.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return number::decimal(value, 1_000_000_000, false);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(wait_until(date, wall))
}

/// How long from `wall` until `at`; zero when `at` has passed.
pub(crate) fn wait_until(at: SystemTime, wall: SystemTime) -> Duration {
    at.duration_since(wall).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_now() -> SystemTime {
        // RFC 9110's example date, 30 s earlier.
        SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777 - 30)
    }

    #[test]
    fn rfc_9110_examples_in_all_three_forms() {
        let thirty = Some(Duration::from_secs(30));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_now()),
            thirty
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", rfc_now()),
            thirty
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994", rfc_now()),
            thirty
        );
        // RFC 9110 §10.2.3's own delay-seconds example.
        assert_eq!(
            parse_retry_after("120", rfc_now()),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn delay_seconds_is_digits_only() {
        for bad in ["1.5", "-1", "+1", "1e3", "nan", "inf", "٣", "", "  ", "0x1"] {
            assert_eq!(parse_retry_after(bad, rfc_now()), None, "{bad:?}");
        }
        assert_eq!(
            parse_retry_after(" \t17\t ", rfc_now()),
            Some(Duration::from_secs(17))
        );
        assert_eq!(parse_retry_after(&"9".repeat(10_240), rfc_now()), None);
    }

    #[test]
    fn impossible_and_malformed_dates_are_ignored() {
        for bad in [
            "Sun, 31 Feb 2026 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 GMT trailing",
            "2026-11-23T10:00:17Z",
        ] {
            assert_eq!(parse_retry_after(bad, rfc_now()), None, "{bad:?}");
        }
    }

    /// An instant as `httpdate` writes it, and the same fields with one changed.
    #[test]
    fn a_past_date_means_zero() {
        let later = rfc_now() + Duration::from_secs(3_600);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_ms_fractions() {
        assert_eq!(
            parse_retry_after_ms("250.75"),
            Some(Duration::from_micros(250_750))
        );
        for bad in ["", "1,5", "-3", "NaN", "Infinity", "1.", "１２"] {
            assert_eq!(parse_retry_after_ms(bad), None, "{bad:?}");
        }
    }
}
