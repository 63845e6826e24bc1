//! A 429 that states no quota but says to wait longer than a second: a fixed window's
//! reset, or a brown-out's wait. One answer cannot tell them apart.
//!
//! A spent window refuses every request until it resets; a brown-out refuses a share of
//! them, and states a whole new wait on each 429. Holding every attempt until each wait
//! ends is right for the window and stalls the brown-out (PACER.md: 20 % of 429s with
//! `Retry-After: 5` at random, 10 clients: 19.1 % of calls served, against 99.2 % without
//! the hold). So a pacer engaged by a stated quota ([`Engage::Quota`](super::Engage::Quota))
//! checks such a wait before it trusts it. It holds for [`Pacer::CHECK_AFTER`], then lets
//! one attempt go, and the check's answer decides:
//! - Refused, with a wait that ends when the window's does (within [`Pacer::CHECK_SLACK`]:
//!   `Retry-After` counts whole seconds): the window is spent, and the hold lasts until it
//!   ends. For [`Pacer::CHECKED_FOR`] the bare 429s are then a limiter's. They cut the
//!   learned rate, as a stated quota's do (a pacer that only held would send each
//!   window's backlog at once when it opens), and their waits hold without a check (a
//!   process that calls once in a while has no attempt to spare: its next call is the
//!   check).
//! - Refused, with a whole new wait that ends later, or successful before the window's
//!   end: a brown-out, not a spent window, and bare waits hold nothing for
//!   [`Pacer::CHECKED_FOR`].
//! - Refused, with a wait that ends earlier: a new window, checked in turn.
//!
//! A wait too short to check before it ends (at most `CHECK_AFTER + CHECK_SLACK`) holds
//! nothing until a check has found a limiter. A window costs one 429 more than trusting
//! it did.
//!
//! ```text
//! 429, wait 30 s ── hold 2 s ── check ─┬─ 429, same end ── hold until it; trust for 60 s
//!                                      ├─ 429, earlier end ── a new window: hold 2 s, check
//!                                      └─ success, or 429 with a later end ── bare waits
//!                                            hold nothing for 60 s
//! ```

use super::Pacer;
use crate::backoff::nanos;

// A brown-out's whole new wait on the check must end later than the window's by more
// than the slack, or the check could not tell them apart (`Pacer::CHECK_AFTER`'s doc).
const _: () = assert!(BareWait::CHECK_AFTER > BareWait::SLACK);

/// The check of one pacer, under its slow lock (nanoseconds on the pacer's clock).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BareWait {
    /// The window held: when its wait ends, and when its check goes.
    window: Option<(u64, u64)>,
    /// Until when bare waits hold nothing (0: no check has succeeded).
    ignore_until: u64,
    /// Until when bare 429s are trusted as a limiter's (0: never): a check found a
    /// window spent. They cut the learned rate as a stated quota's do, and hold until the
    /// wait they state, unchecked.
    trusted_until: u64,
}

impl BareWait {
    /// [`Pacer::CHECK_AFTER`], in nanoseconds.
    pub(crate) const CHECK_AFTER: u64 = nanos(Pacer::CHECK_AFTER);
    /// [`Pacer::CHECK_SLACK`], in nanoseconds.
    pub(crate) const SLACK: u64 = nanos(Pacer::CHECK_SLACK);
    /// The spacing of the attempts a check's hold lets go (100 ms): the check's answer
    /// comes within a round trip, and ends the hold or makes it last.
    pub(crate) const CHECK_STEP: u64 = 100_000_000;
    /// [`Pacer::CHECKED_FOR`], in nanoseconds.
    pub(crate) const CHECKED_FOR: u64 = nanos(Pacer::CHECKED_FOR);

    /// A 429 at `now` said to wait until `until` and stated no quota. Returns until when
    /// to hold every attempt (none: not at all).
    pub(crate) fn hold(&mut self, now: u64, until: u64) -> Option<u64> {
        if now < self.ignore_until {
            return None;
        }
        if self.limiter(now) {
            // No check: a success before the end is an answer sent before the hold.
            self.window = Some((until, until));
            return Some(until);
        }
        match self.window {
            // Before the check, which never comes after the window's end: the answers to
            // attempts sent before the hold.
            Some((_, check)) if now < check => Some(check),
            // The check refused, with the window's own end: spent.
            Some((end, _)) if now < end && until.abs_diff(end) <= BareWait::SLACK => {
                self.trusted_until = now.saturating_add(BareWait::CHECKED_FOR);
                Some(end)
            }
            // The check refused with a whole new wait: what a brown-out says, never a
            // spent window, whose end stays where it was.
            Some((end, _)) if now < end && until > end.saturating_add(BareWait::SLACK) => {
                self.window = None;
                self.ignore_until = now.saturating_add(BareWait::CHECKED_FOR);
                None
            }
            _ => {
                let check = now.saturating_add(BareWait::CHECK_AFTER);
                if check.saturating_add(BareWait::SLACK) >= until {
                    // Too short to check before it ends: held only once trusted.
                    self.window = None;
                    return None;
                }
                self.window = Some((until, check));
                Some(check)
            }
        }
    }

    /// Whether the hold at `now` ends in a check: then the attempts held go one per
    /// [`CHECK_STEP`](Self::CHECK_STEP) after it, not one a second, so that those queued
    /// behind the check wait for its answer rather than stop with `rate_limited`.
    pub(crate) fn checking(&self, now: u64) -> bool {
        self.window
            .is_some_and(|(end, check)| now < check && check < end)
    }

    /// Whether bare 429s are a limiter's at `now`: a check found a window spent, less
    /// than [`Pacer::CHECKED_FOR`] ago.
    pub(crate) fn limiter(&self, now: u64) -> bool {
        now < self.trusted_until
    }

    /// A success at `now`. After a window's check went and more than `SLACK` before its
    /// end, it shows that nothing was spent.
    pub(crate) fn success(&mut self, now: u64) {
        let Some((end, check)) = self.window else {
            return;
        };
        if now >= end {
            self.window = None;
        } else if now >= check && now.saturating_add(BareWait::SLACK) < end {
            // (Within `SLACK` of the end, the window may have reset: the wait was rounded
            // up to whole seconds.)
            self.window = None;
            self.ignore_until = now.saturating_add(BareWait::CHECKED_FOR);
            self.trusted_until = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BareWait;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_spent_window_is_held_until_its_end_after_one_check() {
        let mut w = BareWait::default();
        assert_eq!(w.hold(0, 30 * S), Some(2 * S), "held until the check");
        assert!(w.checking(S));
        assert!(!w.checking(2 * S), "the check goes at the hold's end");
        assert_eq!(
            w.hold(S / 10, 30 * S),
            Some(2 * S),
            "an answer sent before the hold"
        );
        w.success(S / 2);
        assert!(!w.limiter(2 * S));
        let check = 2 * S + S / 10;
        assert_eq!(
            w.hold(check, 29 * S + S / 2),
            Some(30 * S),
            "the check refused"
        );
        assert!(!w.checking(check));
        assert!(w.limiter(check), "a limiter's 429s");
        assert_eq!(w.hold(3 * S, 30 * S), Some(30 * S));
        w.success(30 * S + S / 10);
        assert_eq!(
            w.hold(40 * S, 50 * S),
            Some(50 * S),
            "trusted: the next window unchecked"
        );
        assert!(!w.checking(40 * S), "a trusted hold ends in no check");
        w.success(45 * S);
        assert!(
            w.limiter(45 * S),
            "a success before the end answers an attempt sent before"
        );
        let later = check + BareWait::CHECKED_FOR;
        assert_eq!(
            w.hold(later, later + 30 * S),
            Some(later + 2 * S),
            "checked again"
        );
    }

    #[test]
    fn a_check_that_succeeds_stops_bare_waits_holding() {
        let mut w = BareWait::default();
        assert_eq!(w.hold(0, 5 * S), Some(2 * S));
        w.success(2 * S + S / 10);
        assert!(!w.limiter(3 * S));
        assert_eq!(w.hold(3 * S, 8 * S), None);
        assert_eq!(w.hold(2 * S + BareWait::CHECKED_FOR, 70 * S), None);
        let later = 2 * S + S / 10 + BareWait::CHECKED_FOR;
        assert_eq!(w.hold(later, later + 5 * S), Some(later + 2 * S));
    }

    #[test]
    fn a_check_refused_with_a_whole_new_wait_is_a_brown_out() {
        let mut w = BareWait::default();
        assert_eq!(w.hold(0, 5 * S), Some(2 * S));
        // The check refused with a whole new wait: a brown-out, not the window's end.
        let now = 2 * S + S / 10;
        assert_eq!(w.hold(now, now + 5 * S), None);
        assert!(!w.limiter(now));
        assert_eq!(
            w.hold(now + S, now + 31 * S),
            None,
            "bare waits hold nothing"
        );
    }

    #[test]
    fn a_check_refused_with_an_earlier_end_is_not_the_window_either() {
        let mut w = BareWait::default();
        assert_eq!(w.hold(0, 30 * S), Some(2 * S));
        let now = 2 * S + S / 10;
        assert_eq!(
            w.hold(now, now + 10 * S),
            Some(now + 2 * S),
            "a new window, checked"
        );
        assert!(!w.limiter(now));
    }

    #[test]
    fn a_wait_too_short_to_check_holds_nothing_until_trusted() {
        let mut w = BareWait::default();
        assert_eq!(w.hold(0, 3 * S), None, "the check would come at its end");
        assert_eq!(w.hold(0, 3 * S + 1), Some(2 * S));
        let mut trusted = BareWait::default();
        trusted.hold(0, 30 * S);
        trusted.hold(2 * S, 30 * S);
        assert_eq!(trusted.hold(31 * S, 33 * S), Some(33 * S));
    }

    #[test]
    fn a_refusal_at_the_windows_very_end_is_a_new_wait() {
        let mut w = BareWait::default();
        assert_eq!(w.hold(0, 10 * S), Some(2 * S));
        // The window has ended: a second more is a new wait, too short to check, and
        // says nothing of the window the check was for.
        assert_eq!(w.hold(10 * S, 11 * S), None);
        assert!(!w.limiter(10 * S));
        // Nor is a whole new wait there a brown-out's: a new window, checked.
        let mut w = BareWait::default();
        w.hold(0, 10 * S);
        assert_eq!(w.hold(10 * S, 40 * S), Some(12 * S));
    }

    #[test]
    fn a_success_within_slack_of_the_end_proves_nothing() {
        let mut w = BareWait::default();
        w.hold(0, 10 * S);
        // The wait was rounded up: the window may have opened a moment before.
        w.success(9 * S + S / 2);
        assert_eq!(
            w.hold(9 * S + S / 2 + 1, 10 * S),
            Some(10 * S),
            "still the check's window"
        );
        // Exactly `SLACK` before the end is within it.
        let mut w = BareWait::default();
        w.hold(0, 10 * S);
        w.success(10 * S - BareWait::SLACK);
        assert_eq!(w.hold(9 * S + 1, 10 * S), Some(10 * S));
    }
}
