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
    let date = match imf_fixdate(value.as_bytes()) {
        Some(date) => date,
        None => httpdate::parse_http_date(value).ok()?,
    };
    Some(wait_until(date, wall))
}

/// Reads an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 §5.6.7 has
/// senders use, with the same rules as `httpdate`: fields in range, a day the month has,
/// the weekday that date fell on, years 1970 to 9999.
///
/// `httpdate` checks a date by converting it to a `SystemTime` and back, which is most of
/// the cost of a dated hint; this reads the common form directly. It answers `None` for
/// anything else, and `httpdate` then decides, so the result is always `httpdate`'s
/// (the `retry_after` fuzz target compares the two on every input).
#[inline(never)] // keeps the delay-seconds path of `parse_retry_after` small
fn imf_fixdate(s: &[u8]) -> Option<SystemTime> {
    // `Sun, 06 Nov 1994 08:49:37 GMT`, field by field.
    let &[w0, w1, w2, b',', b' ', d0, d1, b' ', ref rest @ ..] = s else {
        return None;
    };
    let &[m0, m1, m2, b' ', y0, y1, y2, y3, b' ', ref rest @ ..] = rest else {
        return None;
    };
    let &[h0, h1, b':', n0, n1, b':', s0, s1, b' ', b'G', b'M', b'T'] = rest else {
        return None;
    };
    let digit = |b: u8| b.is_ascii_digit().then(|| u64::from(b - b'0'));
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let (day, hour, min, sec) = (two(d0, d1)?, two(h0, h1)?, two(n0, n1)?, two(s0, s1)?);
    let year = two(y0, y1)? * 100 + two(y2, y3)?;
    let month: u64 = match &[m0, m1, m2] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    // Monday is 0, as counted from 1970-01-01, a Thursday (3).
    let weekday: u64 = match &[w0, w1, w2] {
        b"Mon" => 0,
        b"Tue" => 1,
        b"Wed" => 2,
        b"Thu" => 3,
        b"Fri" => 4,
        b"Sat" => 5,
        b"Sun" => 6,
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1970..=9999).contains(&year) || day == 0 || day > month_days {
        return None;
    }
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    if (days + 3) % 7 != weekday {
        return None;
    }
    let secs = days * 86_400 + hour * 3_600 + min * 60 + sec;
    SystemTime::UNIX_EPOCH.checked_add(core::time::Duration::from_secs(secs))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar, from 1970 on
/// (H. Hinnant's `days_from_civil`, with years counted from March so that the leap day
/// ends the year).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let (era, year_of_era) = (y / 400, y % 400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719,468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
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
    fn imf(secs: u64) -> String {
        httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn same_as_httpdate(s: &str) {
        assert_eq!(
            imf_fixdate(s.as_bytes()),
            httpdate::parse_http_date(s).ok(),
            "{s:?}"
        );
    }

    #[test]
    fn imf_fixdate_reads_every_day_as_httpdate_does() {
        // Every day around the epoch, the leap rules' edges (1972, 2000, 2100, 2400) and
        // the last years; each at a time of day that moves with the day.
        let day = 86_400;
        let spans = [
            (0, 3 * 366),
            (10_957 - 400, 10_957 + 400),   // 2000-01-01
            (47_482 - 400, 47_482 + 400),   // 2100-01-01
            (157_054 - 400, 157_054 + 400), // 2400-01-01
            (2_932_532 - 800, 2_932_897),   // 9998-01-01 to 9999-12-31
        ];
        for (from, to) in spans {
            for d in from..to {
                let secs = d * day + (d * 7_919) % day;
                let s = imf(secs);
                assert_eq!(
                    imf_fixdate(s.as_bytes()),
                    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
                    "{s:?}"
                );
                same_as_httpdate(&s);
            }
        }
    }

    #[test]
    fn imf_fixdate_refuses_what_httpdate_refuses() {
        for s in [
            "Mon, 06 Nov 1994 08:49:37 GMT", // a Sunday
            "Sun, 29 Feb 2026 00:00:00 GMT",
            "Tue, 29 Feb 2100 00:00:00 GMT",
            "Tue, 29 Feb 2000 00:00:00 GMT", // a leap day: read
            "Sun, 31 Apr 2026 00:00:00 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "Sat, 01 Jan 10000 00:00:00 GM",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT ",
            "Sun,  6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08.49.37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
        ] {
            same_as_httpdate(s);
        }
        assert!(
            imf_fixdate(b"Sunday, 06-Nov-94 08:49:37 GMT").is_none(),
            "left to httpdate"
        );
    }

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
