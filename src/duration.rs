//! Durations as people write them: `500ms`, `8s`, `2m`, `6m0s`, `1.5s`. [`parse`] reads
//! one; [`Exact`] writes one back to the value (for policy files), [`Rounded`] to what
//! matters at its size (for messages).
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
//! assert_eq!(duration::Exact(Duration::from_millis(500)).to_string(), "500ms");
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

/// Writes a duration exactly, in the compact form [`parse`] reads back to the same value:
/// `500ms`, `8s`, `2m`, `1h30m`, `1.5s`, `0s`. For policy files; a message wants
/// [`Rounded`].
///
/// ```
/// use std::time::Duration;
/// use redial::duration::{parse, Exact};
///
/// let d = Duration::new(90, 250_000_000);
/// assert_eq!(Exact(d).to_string(), "1m30.25s");
/// assert_eq!(parse(&Exact(d).to_string())?, d);
/// # Ok::<(), redial::duration::DurationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exact(pub Duration);

impl fmt::Display for Exact {
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

/// Writes a duration rounded, the way a person reads it in a message: to what matters at
/// its size: `750us`, `485ms`, `2.1s`, `1m30s`, `2h5m`, never raw nanoseconds (below a
/// microsecond, nanoseconds are all there is). For errors, events and logs; a policy file
/// wants [`Exact`], which writes the exact value back.
///
/// ```
/// use std::time::Duration;
/// use redial::duration::Rounded;
///
/// assert_eq!(Rounded(Duration::from_nanos(484_905_666)).to_string(), "485ms");
/// assert_eq!(Rounded(Duration::from_millis(2_104)).to_string(), "2.1s");
/// assert_eq!(Rounded(Duration::from_secs(90)).to_string(), "1m30s");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounded(pub Duration);

impl fmt::Display for Rounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const US: u128 = 1_000;
        const MS: u128 = 1_000_000;
        const S: u128 = 1_000_000_000;
        let n = self.0.as_nanos();
        // Each size rounds half up to its unit; a value that rounds up to the next size
        // falls through to it (999.6us is 1ms).
        if n == 0 {
            return f.write_str("0s");
        }
        if n < US {
            return write!(f, "{n}ns");
        }
        let us = (n + US / 2) / US;
        if us < 1_000 {
            return write!(f, "{us}us");
        }
        let ms = (n + MS / 2) / MS;
        if ms < 1_000 {
            return write!(f, "{ms}ms");
        }
        let tenths = (n + S / 20) / (S / 10);
        if tenths < 600 {
            write!(f, "{}", tenths / 10)?;
            if !tenths.is_multiple_of(10) {
                write!(f, ".{}", tenths % 10)?;
            }
            return f.write_str("s");
        }
        let secs = (n + S / 2) / S;
        if secs < 3_600 {
            return pair(f, secs, "m", "s");
        }
        pair(f, (n + 30 * S) / (60 * S), "h", "m")
    }
}

/// `count` of the small unit as whole big units (60 small each) and the rest: `1m30s`,
/// or `2m` when there is no rest.
fn pair(f: &mut fmt::Formatter<'_>, count: u128, big: &str, small: &str) -> fmt::Result {
    write!(f, "{}{big}", count / 60)?;
    match count % 60 {
        0 => Ok(()),
        rest => write!(f, "{rest}{small}"),
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

    #[test]
    fn readable_rounds_to_what_matters_at_each_size() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_nanos(1_499), "1us"),
            (Duration::from_nanos(749_600), "750us"),
            (Duration::from_nanos(999_600), "1ms"),
            (Duration::from_nanos(484_905_666), "485ms"),
            (Duration::from_nanos(999_500_000), "1s"),
            (Duration::from_nanos(960_006_738), "960ms"),
            (Duration::from_millis(2_104), "2.1s"),
            (Duration::from_millis(8_000), "8s"),
            (Duration::from_millis(59_960), "1m"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_millis(3_599_600), "1h"),
            (Duration::from_secs(7_500), "2h5m"),
            (Duration::MAX, "5124095576030431h"),
        ];
        for (d, want) in cases {
            assert_eq!(Rounded(d).to_string(), want, "{d:?}");
        }
    }

    proptest! {
        /// The oracle is the value itself: what is written reads back within half the unit
        /// it is written in (0.5us, 0.5ms, 50ms for tenths of a second, 0.5s, 30s), the unit
        /// told from the value written. Sizes are drawn log-uniformly, so that every unit,
        /// and each boundary between two, is reached.
        #[test]
        fn prop_readable_is_within_half_its_unit(
            nanos in (10u32..63).prop_flat_map(|b| (1u64 << b)..(1u64 << (b + 1)))
        ) {
            let d = Duration::from_nanos(nanos);
            let text = Rounded(d).to_string();
            let back = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let half_unit = match back.as_nanos() {
                n if n < 1_000_000 => Duration::from_nanos(500),
                n if n < 1_000_000_000 => Duration::from_micros(500),
                n if n < 60_000_000_000 => Duration::from_millis(50),
                n if n < 3_600_000_000_000 => Duration::from_millis(500),
                _ => Duration::from_secs(30),
            };
            let off = back.abs_diff(d);
            prop_assert!(off <= half_unit, "{:?} wrote {} ({:?})", d, text, back);
            prop_assert!(!text.contains("ns"), "{}", text);
        }

        #[test]
        fn prop_human_round_trips(secs in 0u64..10_000_000, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse(&Exact(d).to_string()), Ok(d));
        }

        #[test]
        fn prop_parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }
    }
}
