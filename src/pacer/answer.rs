//! One answer as a pacer reads it: what every driver (the library's, the simulator's) tells
//! a pacer, in one place, so that none reads an answer differently.

use core::time::Duration;
use std::time::{Instant, SystemTime};

use http::HeaderMap;

use super::{Engage, Pacer, Quota};

/// An answer from the server, as [`Pacer::learn`] reads it.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let headers = http::HeaderMap::new();
/// let answer = redial::pacer::Answer {
///     status: 429,
///     headers: &headers,
///     wait: Some(Duration::from_secs(1)),
///     wall: SystemTime::now(),
///     max_hint: Duration::from_secs(60),
/// };
/// assert!(answer.throttled());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Answer<'a> {
    /// Its status: 429 is a throttle.
    pub status: u16,
    /// Its headers, for a quota they state.
    pub headers: &'a HeaderMap,
    /// How long it said to wait, as the classifier read it (the verdict's hint).
    pub wait: Option<Duration>,
    /// The wall clock when it arrived, for the dates in a quota's headers.
    pub wall: SystemTime,
    /// The longest wait the policy honours (`max_hint`): no spent quota holds longer.
    pub max_hint: Duration,
}

impl Answer<'_> {
    /// Whether it is a throttle (a 429).
    ///
    /// ```
    /// # use std::time::{Duration, SystemTime};
    /// # let headers = http::HeaderMap::new();
    /// let ok = redial::pacer::Answer {
    ///     status: 200, headers: &headers, wait: None,
    ///     wall: SystemTime::now(), max_hint: Duration::from_secs(60),
    /// };
    /// assert!(!ok.throttled());
    /// ```
    pub fn throttled(&self) -> bool {
        self.status == 429
    }
}

impl Pacer {
    /// Learns from an answer that arrived at `now`: a 429 that says how long to wait is
    /// heard ([`hear_hint`](Self::hear_hint)), its quota read once the pacer listens
    /// ([`Quota::of_answer`]: a header parse no pacer that waits for a hint pays before
    /// one), and the rest is [`on_response`](Self::on_response)'s. `overload` as there.
    ///
    /// ```
    /// use std::time::{Duration, Instant, SystemTime};
    /// use redial::pacer::{Acquire, Answer, Pacer, PacerConfig};
    /// let p = Pacer::new(PacerConfig::on_hint());
    /// let headers = http::HeaderMap::new();
    /// let now = Instant::now();
    /// // A fixed window's 429: open again in 5 s.
    /// let answer = Answer {
    ///     status: 429,
    ///     headers: &headers,
    ///     wait: Some(Duration::from_secs(5)),
    ///     wall: SystemTime::now(),
    ///     max_hint: Duration::from_secs(60),
    /// };
    /// p.learn(now, answer, false);
    /// assert!(p.listens());
    /// assert!(p.acquire(now, None).wait() > Duration::ZERO, "held until the window opens");
    /// ```
    pub fn learn(&self, now: Instant, answer: Answer<'_>, overload: bool) {
        let throttled = answer.throttled();
        // A 429's headers are read for a stated quota once it can matter: it engages a
        // pacer that waits for one, and it tells a listening pacer what a wait means.
        let stated = (throttled || self.listens())
            .then(|| Quota::from_headers(answer.headers, answer.wall))
            .flatten();
        let engages = match self.config.engage {
            Engage::Throttle => false,
            Engage::Hint => answer.wait.is_some(),
            Engage::Quota => {
                stated.is_some() || answer.wait.is_some_and(|w| w > Quota::WINDOW_AFTER)
            }
        };
        if throttled && engages {
            self.hear_hint(now);
        }
        let quota = if self.listens() {
            Quota::stated_or_waited(stated, throttled, answer.wait, answer.max_hint)
        } else {
            None
        };
        self.respond(now, throttled, overload, quota, stated.is_some());
    }
}
