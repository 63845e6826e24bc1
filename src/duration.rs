//! Human durations: `500ms`, `8s`, `2m`, `6m0s`, `1.5s`.
//!
//! One grammar serves the policy file (`base = "200ms"`) and the
//! `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens` headers, which carry Go-style
//! durations such as `6m0s` or `20ms`.
//!
//! ```text
//! duration = "0" / 1*( number unit )
//! number   = 1*DIGIT [ "." 1*DIGIT ]
//! unit     = "ns" / "us" / "µs" / "ms" / "s" / "m" / "h"
//! ```
//!
//! Signs, spaces inside the value, exponents and non-ASCII digits are rejected; a value that
//! does not fit a [`Duration`] is rejected too, never wrapped or clamped.
//!
//! ```
//! use std::time::Duration;
//! use redial::duration;
//!
//! assert_eq!(duration::parse("6m0s")?, Duration::from_secs(360));
//! assert_eq!(duration::parse("1.5s")?, Duration::from_millis(1500));
//! assert_eq!(duration::Human(Duration::from_millis(500)).to_string(), "500ms");
//! # Ok::<(), redial::duration::DurationError>(())
//! ```

use core::fmt;
use core::time::Duration;

use crate::hints::number;

/// Why a string is not a duration.
///
/// ```
/// let err = redial::duration::parse("5 seconds").unwrap_err();
/// assert_eq!(err.to_string(), "expected a duration such as 500ms, 8s or 2m, found \"5 seconds\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected a duration such as 500ms, 8s or 2m, found {found:?}")]
pub struct DurationError {
    found: String,
}

/// Parses a human duration (see the [module docs](self) for the grammar).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(redial::duration::parse("1h2m3s")?, Duration::from_secs(3723));
/// assert!(redial::duration::parse("-1s").is_err());
/// # Ok::<(), redial::duration::DurationError>(())
/// ```
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    parse_opt(s).ok_or_else(|| DurationError {
        found: s.to_owned(),
    })
}

/// Parses without building an error: the allocation-free form the header parsers use.
pub(crate) fn parse_opt(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .position(|b| !(b.is_ascii_digit() || b == b'.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .bytes()
            .position(|b| b.is_ascii_digit() || b == b'.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let unit_nanos = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        total = total.checked_add(number::decimal(num, unit_nanos, true)?)?;
        rest = next;
    }
    Some(total)
}

/// Writes a duration in the compact form [`parse`] reads back: `500ms`, `8s`, `2m`,
/// `1h30m`, `1.5s`, `0s`.
///
/// ```
/// use std::time::Duration;
/// use redial::duration::{parse, Human};
///
/// let d = Duration::new(90, 250_000_000);
/// assert_eq!(Human(d).to_string(), "1m30.25s");
/// assert_eq!(parse(&Human(d).to_string())?, d);
/// # Ok::<(), redial::duration::DurationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let secs = d.as_secs();
        let nanos = d.subsec_nanos();
        if secs == 0 {
            return match nanos {
                0 => f.write_str("0s"),
                n if n % 1_000_000 == 0 => write!(f, "{}ms", n / 1_000_000),
                n if n % 1_000 == 0 => write!(f, "{}us", n / 1_000),
                n => write!(f, "{n}ns"),
            };
        }
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 || nanos > 0 {
            write!(f, "{s}")?;
            if nanos > 0 {
                // Trailing zeros are dropped: 250_000_000 ns prints as ".25".
                let (mut frac, mut width) = (nanos, 9);
                while frac % 10 == 0 {
                    frac /= 10;
                    width -= 1;
                }
                write!(f, ".{frac:0width$}")?;
            }
            f.write_str("s")?;
        }
        Ok(())
    }
}

/// Writes a duration for people: whole milliseconds from 1 ms up, rounded down (`123ms`,
/// `2.1s`, `1m30.001s`), exact below 1 ms. A server's `retry-after-ms: 123.456789` reads
/// `123ms`, never `123456789ns`. For text that must parse back exactly (a policy file), use
/// [`Human`].
///
/// ```
/// use std::time::Duration;
/// use redial::duration::Approx;
///
/// assert_eq!(Approx(Duration::from_nanos(123_456_789)).to_string(), "123ms");
/// assert_eq!(Approx(Duration::from_millis(2100)).to_string(), "2.1s");
/// assert_eq!(Approx(Duration::from_nanos(1_500)).to_string(), "1us");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Approx(pub Duration);

impl fmt::Display for Approx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        // The coarsest unit the duration reaches: ms, else us, else ns.
        let unit = if d >= Duration::from_millis(1) {
            1_000_000
        } else if d >= Duration::from_micros(1) {
            1_000
        } else {
            1
        };
        let nanos = d.subsec_nanos() / unit * unit;
        Human(Duration::new(d.as_secs(), nanos)).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_forms_users_write() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("8s", Duration::from_secs(8)),
            ("2m", Duration::from_secs(120)),
            ("6m0s", Duration::from_secs(360)),
            ("20ms", Duration::from_millis(20)),
            ("1.5s", Duration::from_millis(1500)),
            ("59.123s", Duration::from_millis(59_123)),
            ("1h0m0s", Duration::from_secs(3600)),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
        ];
        for (s, d) in cases {
            assert_eq!(parse(s), Ok(d), "{s}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "", "5", "-1s", "+1s", "1 s", " 1s", "1d", "s", "ms", "1.s", ".5s", "1e3s", "nan",
            "infs", "1sms", "١s",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&format!("{}h", u64::MAX)).is_err());
    }

    proptest! {
        #[test]
        fn prop_human_round_trips(secs in 0u64..10_000_000, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse(&Human(d).to_string()), Ok(d));
        }

        #[test]
        fn prop_parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }
    }
}
