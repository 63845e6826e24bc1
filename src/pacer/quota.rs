//! The quota a server states: how many requests remain until when.
//!
//! Read from the first of these families that is present and valid, requests only (a
//! token quota is in other units):
//!
//! 1. the IETF `RateLimit` field (`"default";r=50;t=30`): of several policies, the one
//!    that allows the lowest rate, `r / t`;
//! 2. the older draft's `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`;
//! 3. `anthropic-ratelimit-requests-limit`, `-remaining`, `-reset` (RFC 3339);
//! 4. `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
//!    `x-ratelimit-reset-requests` (OpenAI; a duration such as `6m0s`);
//! 5. `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset` (GitHub and
//!    others; seconds, or a Unix timestamp).
//!
//! The values go through the same parsers as the hints (`redial::hints`), so a header
//! reads the same everywhere; a family whose `remaining` or `reset` is missing or invalid
//! is skipped, never guessed. Nothing here allocates or panics.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::HeaderMap;
//! use redial::pacer::Quota;
//!
//! let mut h = HeaderMap::new();
//! h.insert("x-ratelimit-limit", "60".parse()?);
//! h.insert("x-ratelimit-remaining", "12".parse()?);
//! h.insert("x-ratelimit-reset", "30".parse()?);
//! let q = Quota::from_headers(&h, SystemTime::now()).unwrap();
//! assert_eq!(q, Quota { remaining: 12, reset: Duration::from_secs(30), limit: Some(60) });
//! assert_eq!(q.rate(), Some(0.4));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::time::Duration;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName};

use crate::hints::number;
use crate::hints::structured_field::{self, Bare};
use crate::hints::{parse_reset_duration, parse_rfc3339_reset, parse_x_ratelimit_reset};

/// Requests left in a quota, and when it resets.
///
/// ```
/// use std::time::Duration;
/// use redial::pacer::Quota;
/// let q = Quota { remaining: 0, reset: Duration::from_secs(2), limit: None };
/// assert_eq!(q.rate(), Some(0.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Requests the server will still accept before the reset.
    pub remaining: u64,
    /// How long until the quota resets, from the moment the answer arrived.
    pub reset: Duration,
    /// The quota's size, when the server says it.
    pub limit: Option<u64>,
}

impl Quota {
    /// The rate that spends what remains exactly by the reset, in requests per second
    /// (`None` when the reset is now: the quota says nothing about the time ahead).
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = redial::pacer::Quota { remaining: 10, reset: Duration::from_secs(4), limit: None };
    /// assert_eq!(q.rate(), Some(2.5));
    /// ```
    pub fn rate(&self) -> Option<f64> {
        let secs = self.reset.as_secs_f64();
        (secs > 0.0).then(|| self.remaining as f64 / secs)
    }

    /// A 429's wait longer than this, with no quota stated, is a window's reset: a spent
    /// quota until then. HTTP's `Retry-After` counts whole seconds, and a limiter that
    /// refills continuously (nginx's `limit_req`, an acceleration limit) says 1: its next
    /// slot, which a hold of a second at every 429 would waste (measured: a pacer holding
    /// at every `Retry-After: 1` served 3.8 calls a second of the 26 an acceleration limit
    /// let through). A fixed window says how long until it opens again.
    ///
    /// ```
    /// assert_eq!(redial::pacer::Quota::WINDOW_AFTER, std::time::Duration::from_secs(1));
    /// ```
    pub const WINDOW_AFTER: Duration = Duration::from_secs(1);

    /// What an answer tells a pacer of the quota: what its headers state
    /// ([`from_headers`](Self::from_headers)); or, for a 429 (`throttled`) that states
    /// none and says to wait longer than [`WINDOW_AFTER`](Self::WINDOW_AFTER), a spent
    /// quota until then. A spent quota holds no longer than the answer's `wait` (the
    /// classifier's hint: `Retry-After` wins over a reset) nor than `max_hint`: a reset
    /// years away (a clock off, a yearly quota) must not hold every attempt for years.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use http::HeaderMap;
    /// use redial::pacer::Quota;
    /// let none = HeaderMap::new();
    /// let (now, max_hint) = (SystemTime::now(), Duration::from_secs(60));
    /// let after = |s| Some(Duration::from_secs(s));
    /// let held = Quota::of_answer(&none, now, true, after(7), max_hint).unwrap();
    /// assert_eq!((held.remaining, held.reset), (0, Duration::from_secs(7)));
    /// assert_eq!(Quota::of_answer(&none, now, true, after(1), max_hint), None, "a next slot");
    /// assert_eq!(Quota::of_answer(&none, now, false, after(7), max_hint), None, "not a 429");
    /// let mut spent = HeaderMap::new();
    /// spent.insert("ratelimit", r#""default";r=0;t=86400"#.parse()?);
    /// let held = Quota::of_answer(&spent, now, true, None, max_hint).unwrap();
    /// assert_eq!(held.reset, max_hint, "a day away holds for max_hint");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of_answer(
        headers: &HeaderMap,
        wall: SystemTime,
        throttled: bool,
        wait: Option<Duration>,
        max_hint: Duration,
    ) -> Option<Quota> {
        Quota::stated_or_waited(
            Quota::from_headers(headers, wall),
            throttled,
            wait,
            max_hint,
        )
    }

    /// [`of_answer`](Self::of_answer), given what the headers state.
    pub(crate) fn stated_or_waited(
        stated: Option<Quota>,
        throttled: bool,
        wait: Option<Duration>,
        max_hint: Duration,
    ) -> Option<Quota> {
        let window = wait.filter(|w| throttled && *w > Quota::WINDOW_AFTER && stated.is_none());
        let quota = stated.or(window.map(|reset| Quota {
            remaining: 0,
            reset,
            limit: None,
        }))?;
        if quota.remaining > 0 {
            // Requests left: the reset is the quota's rate, not a hold.
            return Some(quota);
        }
        let most = wait.map_or(max_hint, |w| w.min(max_hint));
        Some(Quota {
            reset: quota.reset.min(most),
            ..quota
        })
    }

    /// The quota `headers` state, from the first family present and valid (see the
    /// module docs). `wall` is the wall clock when the answer arrived.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use http::HeaderMap;
    /// let mut h = HeaderMap::new();
    /// h.insert("ratelimit", r#""default";r=5;t=10, "day";r=100000;t=86400"#.parse()?);
    /// let q = redial::pacer::Quota::from_headers(&h, SystemTime::now()).unwrap();
    /// assert_eq!((q.remaining, q.reset), (5, Duration::from_secs(10)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_headers(headers: &HeaderMap, wall: SystemTime) -> Option<Quota> {
        ietf(headers)
            .or_else(|| family(headers, &IETF_OLD, delta_secs))
            .or_else(|| family(headers, &ANTHROPIC, |v| parse_rfc3339_reset(v, wall)))
            .or_else(|| family(headers, &OPENAI, parse_reset_duration))
            .or_else(|| family(headers, &XRATELIMIT, |v| parse_x_ratelimit_reset(v, wall)))
    }
}

/// `[limit, remaining, reset]` header names of one family.
type Names = [HeaderName; 3];

static IETF_OLD: Names = [
    HeaderName::from_static("ratelimit-limit"),
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("ratelimit-reset"),
];
static ANTHROPIC: Names = [
    HeaderName::from_static("anthropic-ratelimit-requests-limit"),
    HeaderName::from_static("anthropic-ratelimit-requests-remaining"),
    HeaderName::from_static("anthropic-ratelimit-requests-reset"),
];
static OPENAI: Names = [
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
];
static XRATELIMIT: Names = [
    HeaderName::from_static("x-ratelimit-limit"),
    HeaderName::from_static("x-ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-reset"),
];
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Seconds from now, as the older IETF draft's `RateLimit-Reset` says them.
fn delta_secs(v: &str) -> Option<Duration> {
    number::decimal(number::trim_ows(v), 1_000_000_000, false)
}

fn integer(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    let v = headers.get(name)?.to_str().ok()?;
    number::integer(number::trim_ows(v).as_bytes())
}

fn family(
    headers: &HeaderMap,
    names: &Names,
    reset: impl Fn(&str) -> Option<Duration>,
) -> Option<Quota> {
    let [limit, remaining, reset_name] = names;
    let remaining = integer(headers, remaining)?;
    let reset = reset(headers.get(reset_name)?.to_str().ok()?)?;
    Some(Quota {
        remaining,
        reset,
        limit: integer(headers, limit),
    })
}

/// The IETF `RateLimit` field: the policy with the lowest `r / t`. A field outside RFC
/// 9651's grammar is ignored as a whole, as the draft requires.
fn ietf(headers: &HeaderMap) -> Option<Quota> {
    let mut lines = headers.get_all(&RATELIMIT).iter().peekable();
    lines.peek()?;
    let mut best: Option<Quota> = None;
    let ok = structured_field::read_list(lines.map(|v| v.as_bytes()), [b"r", b"t"], |m| {
        let [r, t] = m.params;
        let (Some(Bare::Integer(r)), Some(Bare::Integer(t))) = (r, t) else {
            // A policy without both numbers says nothing of a rate; others may.
            return matches!(m.item, Some(Bare::String | Bare::Token));
        };
        let (Ok(r), Ok(t)) = (u64::try_from(r), u64::try_from(t)) else {
            return false;
        };
        let q = Quota {
            remaining: r,
            reset: Duration::from_secs(t),
            limit: None,
        };
        // Lower rate first; a reset of 0 allows anything, so it never wins.
        let lower = match (best.and_then(|b| b.rate()), q.rate()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(b), Some(n)) => n < b,
        };
        if lower || best.is_none() {
            best = Some(q);
        }
        matches!(m.item, Some(Bare::String | Bare::Token))
    });
    if ok {
        best
    } else {
        None
    }
}
