//! The number grammar every hint parser shares.
//!
//! ```text
//! number   = 1*DIGIT [ "." 1*DIGIT ]      ; the fraction only where a header allows it
//! DIGIT    = %x30-39                      ; ASCII only: no signs, no other scripts' digits
//! ```
//!
//! Callers trim optional whitespace (RFC 9110 §5.6.3 `OWS`: space and tab) first. Anything
//! else (`nan`, `inf`, `+5`, `1e3`, `٣`) is not a number, and a value too large for a
//! [`Duration`] is treated the same way: the header is ignored, never a panic.

use core::time::Duration;

/// Trims RFC 9110 optional whitespace (space and horizontal tab) on both sides.
pub(crate) fn trim_ows(s: &str) -> &str {
    // By bytes, not chars: every header read goes through here, and space and tab are
    // ASCII, so the cut always falls on a char boundary.
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// Parses `number` in units of `unit_nanos` nanoseconds. A fraction is accepted only when
/// `fraction` is true; digits beyond nanosecond precision are checked and then dropped.
pub(crate) fn decimal(s: &str, unit_nanos: u64, fraction: bool) -> Option<Duration> {
    let bytes = s.as_bytes();
    let (int, frac) = match bytes.iter().position(|&b| b == b'.') {
        Some(dot) if fraction => (&bytes[..dot], Some(&bytes[dot + 1..])),
        Some(_) => return None,
        None => (bytes, None),
    };
    let whole = integer(int)?;
    if frac.is_none() && unit_nanos == 1_000_000_000 {
        // Whole seconds, the usual hint: no nanosecond arithmetic needed.
        return Some(Duration::from_secs(whole));
    }
    let mut nanos = u128::from(whole) * u128::from(unit_nanos);
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // 18 digits fit a u64 and already exceed nanosecond precision for any unit we use.
        let kept = &frac[..frac.len().min(18)];
        let mut value: u64 = 0;
        let mut scale: u64 = 1;
        for &b in kept {
            value = value * 10 + u64::from(b - b'0');
            scale *= 10;
        }
        nanos += u128::from(value) * u128::from(unit_nanos) / u128::from(scale);
    }
    from_nanos(nanos)
}

/// Parses `1*DIGIT` into a `u64`; `None` for an empty string, any other byte, or overflow.
pub(crate) fn integer(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// A duration from a nanosecond count, `None` when it does not fit.
pub(crate) fn from_nanos(nanos: u128) -> Option<Duration> {
    // Nearly every wait fits a u64 (584 years), whose division by a constant is a
    // multiplication; a u128 division is a library call, the costliest step of a hint.
    if let Ok(n) = u64::try_from(nanos) {
        return Some(Duration::from_nanos(n));
    }
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    // The remainder is below 10^9, so it fits a u32.
    let sub = (nanos % 1_000_000_000) as u32;
    Some(Duration::new(secs, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    #[test]
    fn integers_and_fractions() {
        assert_eq!(decimal("0", S, false), Some(Duration::ZERO));
        assert_eq!(decimal("120", S, false), Some(Duration::from_secs(120)));
        assert_eq!(decimal("007", S, false), Some(Duration::from_secs(7)));
        assert_eq!(decimal("1.5", MS, true), Some(Duration::from_micros(1500)));
        assert_eq!(
            decimal("0.0000000019", S, true),
            Some(Duration::from_nanos(1))
        );
        assert_eq!(
            decimal("1.12345678901234567890123", S, true),
            Some(Duration::new(1, 123_456_789))
        );
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "", ".", "1.", ".5", "-1", "+1", "1e3", "nan", "inf", "0x10", "1 000", "١٢", "1.5.5",
            " 1",
        ] {
            assert_eq!(decimal(bad, S, true), None, "{bad:?}");
        }
        assert_eq!(decimal("1.5", S, false), None);
    }

    #[test]
    fn trim_ows_trims_spaces_and_tabs_only() {
        for (raw, trimmed) in [
            ("", ""),
            (" ", ""),
            (" \t 17\t ", "17"),
            ("1 7", "1 7"),
            ("\u{a0}17\u{a0}", "\u{a0}17\u{a0}"),
            ("\n17\r", "\n17\r"),
            (" é ", "é"),
        ] {
            assert_eq!(trim_ows(raw), trimmed, "{raw:?}");
            assert_eq!(trim_ows(raw), raw.trim_matches([' ', '\t']), "{raw:?}");
        }
    }

    #[test]
    fn overflow_is_invalid_not_a_panic() {
        assert_eq!(decimal("18446744073709551616", S, false), None);
        assert_eq!(
            decimal("18446744073709551615", S, false),
            Some(Duration::from_secs(u64::MAX))
        );
        // u64::MAX hours does not fit a Duration.
        assert_eq!(decimal("18446744073709551615", 3_600 * S, false), None);
        assert_eq!(decimal(&"9".repeat(10_000), S, true), None);
    }
}
