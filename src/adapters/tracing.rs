//! `tracing` (feature `tracing`): a span per retried call and an event per retry, named
//! after OpenTelemetry's HTTP attributes, so that services can count retries by status
//! and error type.
//!
//! The span, `redial.call`, opens at a call's first failure (a call that succeeds at once
//! costs nothing and says nothing) as a child of the current span, and lives until the
//! call ends. Its fields are recorded once, when the call ends (a subscriber such as
//! `tracing-subscriber`'s text format prints every value a field is given, so a count
//! recorded at each retry would print as many times), and a call dropped before it ends
//! leaves them empty:
//!
//! | field | value |
//! |---|---|
//! | `http.request.resend_count` | retries made |
//! | `redial.attempts` | attempts in all |
//! | `redial.stop_reason` | why it ended: `succeeded`, `not_retryable`, `attempts_exhausted`, … |
//! | `redial.paced_ms` | how long its attempts waited for the rate [pacer](crate::pacer), in milliseconds |
//!
//! Each retry is an `INFO` event inside it, whose message is the adapters' one-line
//! [`Event`](crate::Event) (`attempt 1 failed: 529 overloaded_error; server asked 2s
//! (retry-after); retrying in 2.1s (request id req_1)`), with these fields:
//!
//! | field | value |
//! |---|---|
//! | `http.request.resend_count` | which retry this will be: 1 for the first |
//! | `http.response.status_code` | the failed attempt's status, if a response arrived |
//! | `error.type` | the API error type (`overloaded_error`), else the transport failure (`timeout`), else the status (`503`) |
//! | `redial.wait` | the wait, written the human way (`2.1s`) |
//! | `redial.wait_ms` | the wait in milliseconds |
//! | `redial.request_id` | the server's request id for the failed attempt, if any |
//!
//! A call that ends after a failure ends with one more `INFO` event, carrying
//! `redial.stop_reason`, `redial.attempts`, `http.response.status_code`, `error.type`
//! and `redial.request_id` as above, and the stop with its numbers as its message.
//!
//! Without the feature these are empty functions that the compiler removes. With it, a
//! call whose span no subscriber wants says nothing and keeps nothing; one that a
//! subscriber takes keeps its span in a box (the subscriber allocates for it anyway).

use core::time::Duration;

use crate::machine::Action;
#[cfg(feature = "tracing")]
use crate::verdict::Cause;
use crate::verdict::Verdict;
use crate::Stop;

#[cfg(feature = "tracing")]
use super::notify::Event;

/// One call's span, made at its first failure.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    #[cfg(feature = "tracing")]
    span: CallSpan,
}

/// The span, boxed so that every retried call (which holds one of these) stays small
/// whether or not anyone listens: a box is made only when a subscriber takes the span.
#[cfg(feature = "tracing")]
#[derive(Debug, Default)]
enum CallSpan {
    /// No failure yet.
    #[default]
    Unopened,
    /// No subscriber wants the span: the call says nothing, and costs next to nothing.
    Silent,
    Open(Box<tracing::Span>),
}

impl Trace {
    /// What the machine decided after failed attempt number `attempt`: a retry (its
    /// event) or a stop (the closing event). `paced`: how long the call's attempts have
    /// waited for the rate pacer.
    #[inline]
    pub(crate) fn failed(
        &mut self,
        attempt: u32,
        action: &Action,
        verdict: &Verdict,
        request_id: Option<&str>,
        paced: Duration,
    ) {
        #[cfg(feature = "tracing")]
        if !matches!(self.span, CallSpan::Silent) {
            self.heard(attempt, action, verdict, request_id, paced);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (attempt, action, verdict, request_id, paced);
    }

    /// [`failed`](Self::failed) when someone may listen.
    #[cfg(feature = "tracing")]
    fn heard(
        &mut self,
        attempt: u32,
        action: &Action,
        verdict: &Verdict,
        request_id: Option<&str>,
        paced: Duration,
    ) {
        if let CallSpan::Unopened = self.span {
            // No subscriber set, globally or for this thread: nothing to open (an atomic
            // load, where making a disabled span costs a few dozen instructions).
            self.span = match tracing::dispatcher::has_been_set() {
                false => CallSpan::Silent,
                true => match open() {
                    span if span.is_disabled() => CallSpan::Silent,
                    span => CallSpan::Open(Box::new(span)),
                },
            };
        }
        if let CallSpan::Open(span) = &self.span {
            match action {
                Action::Retry(retry) => {
                    retry_event(span, &Event::new(attempt, retry, verdict, request_id))
                }
                Action::Stop(stop) => stop_event(span, attempt, stop, verdict, request_id, paced),
            }
        }
    }

    /// The rate pacer stopped the call before attempt number `attempts + 1` was sent
    /// (`rate_limited`): the closing event, in a span opened for it if no failure had.
    #[cold]
    pub(crate) fn limited(&mut self, attempts: u32, stop: &Stop, paced: Duration) {
        #[cfg(feature = "tracing")]
        {
            if let CallSpan::Unopened = self.span {
                self.span = match tracing::dispatcher::has_been_set() {
                    false => CallSpan::Silent,
                    true => CallSpan::Open(Box::new(open())),
                };
            }
            if let CallSpan::Open(span) = &self.span {
                let reason = stop.reason().as_str();
                ended(span, attempts, reason, paced);
                tracing::info!(parent: &**span, redial.stop_reason = reason, "{stop}");
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (attempts, stop, paced);
    }

    /// The call succeeded at attempt number `attempts`: closes the span, if a failure
    /// opened one.
    #[inline]
    pub(crate) fn succeeded(&mut self, attempts: u32, paced: Duration) {
        #[cfg(feature = "tracing")]
        if let CallSpan::Open(span) = &self.span {
            ended(span, attempts, "succeeded", paced);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (attempts, paced);
    }
}

#[cfg(feature = "tracing")]
#[cold]
fn open() -> tracing::Span {
    tracing::info_span!(
        "redial.call",
        http.request.resend_count = tracing::field::Empty,
        redial.attempts = tracing::field::Empty,
        redial.stop_reason = tracing::field::Empty,
        redial.paced_ms = tracing::field::Empty,
    )
}

/// Records the span's fields, once each: the call ended after `attempts` attempts,
/// having waited `paced` for the rate pacer (recorded only if it waited).
#[cfg(feature = "tracing")]
fn ended(span: &tracing::Span, attempts: u32, reason: &str, paced: Duration) {
    span.record("http.request.resend_count", attempts.saturating_sub(1));
    span.record("redial.attempts", attempts);
    span.record("redial.stop_reason", reason);
    if !paced.is_zero() {
        span.record(
            "redial.paced_ms",
            u64::try_from(paced.as_millis()).unwrap_or(u64::MAX),
        );
    }
}

#[cfg(feature = "tracing")]
fn retry_event(span: &tracing::Span, event: &Event<'_>) {
    let cause = event.retry().cause;
    let wait = event.delay();
    tracing::info!(
        parent: span,
        http.request.resend_count = event.attempt(),
        http.response.status_code = cause.status,
        "error.type" = %ErrorTypeField(&cause),
        redial.wait = %crate::duration::Rounded(wait),
        redial.wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        redial.request_id = event.request_id(),
        "{event}",
    );
}

#[cfg(feature = "tracing")]
fn stop_event(
    span: &tracing::Span,
    attempts: u32,
    stop: &Stop,
    verdict: &Verdict,
    request_id: Option<&str>,
    paced: Duration,
) {
    let reason = stop.reason().as_str();
    ended(span, attempts, reason, paced);
    let cause = verdict.cause().copied().unwrap_or_else(Cause::caller);
    tracing::info!(
        parent: span,
        redial.stop_reason = reason,
        redial.attempts = attempts,
        http.response.status_code = cause.status,
        "error.type" = %ErrorTypeField(&cause),
        redial.request_id = request_id,
        "{stop}",
    );
}

/// OpenTelemetry's `error.type`: the most precise class known. The API error type, else
/// the transport failure, else the status code (as OpenTelemetry's HTTP conventions
/// write it), else `_OTHER`, the convention's fallback.
#[cfg(feature = "tracing")]
struct ErrorTypeField<'a>(&'a Cause);

#[cfg(feature = "tracing")]
impl core::fmt::Display for ErrorTypeField<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let cause = self.0;
        match (cause.error_type, cause.transport, cause.status) {
            (Some(t), _, _) => f.write_str(t.as_str()),
            (None, Some(t), _) => f.write_str(t.as_str()),
            (None, None, Some(status)) => write!(f, "{status}"),
            (None, None, None) => f.write_str("_OTHER"),
        }
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use super::*;
    use crate::verdict::{ErrorType, Transport};

    #[test]
    fn error_type_is_the_most_precise_class_known() {
        let field = |c: Cause| ErrorTypeField(&c).to_string();
        assert_eq!(
            field(Cause::status(529).with_error_type(ErrorType::Overloaded)),
            "overloaded_error"
        );
        assert_eq!(field(Cause::transport(Transport::Timeout)), "timeout");
        assert_eq!(field(Cause::status(503)), "503");
        assert_eq!(field(Cause::caller()), "_OTHER");
    }

    /// A subscriber that keeps each event's message and `http.request.resend_count`, and
    /// the values recorded on spans, in the order they come.
    #[derive(Default)]
    struct Capture(std::sync::Mutex<Vec<String>>);

    struct Fields<'a>(&'a mut Vec<String>);

    impl tracing::field::Visit for Fields<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn core::fmt::Debug) {
            self.0.push(format!("{}={value:?}", field.name()));
        }
    }

    impl tracing::Subscriber for &'static Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
            if let Ok(mut seen) = self.0.lock() {
                values.record(&mut Fields(&mut seen));
            }
        }
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if let Ok(mut seen) = self.0.lock() {
                event.record(&mut Fields(&mut seen));
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// Through the one driver, with a subscriber listening: an event per retry with its
    /// resend count and wait, and the span's end. (Without one, the call keeps nothing:
    /// `tests/alloc_future.rs` runs with this feature on and counts no allocation.)
    #[test]
    fn a_blocking_call_traces_each_retry_and_its_end() {
        // tracing caches each callsite's interest for the whole process, asked of the
        // default subscriber of whichever thread reaches it first while one dispatcher
        // is registered: another test's call, with no subscriber, cached "never" and this
        // capture saw nothing (seen once in CI). A second dispatcher, interested in
        // everything and alive for the whole test, makes the interest both's.
        let anchor: &'static Capture = Box::leak(Box::default());
        let _anchor = tracing::Dispatch::new(anchor);
        tracing::callsite::rebuild_interest_cache();
        let capture: &'static Capture = Box::leak(Box::default());
        let mut refusals = 2;
        let policy = crate::Policy::default();
        let result = tracing::subscriber::with_default(capture, || {
            crate::BlockingRetryable::retry(
                || {
                    refusals -= 1;
                    if refusals >= 0 {
                        Err(Transport::Connect)
                    } else {
                        Ok(http::Response::new(()))
                    }
                },
                &policy,
            )
            .sleeper(|_| ())
            .call()
        });
        assert!(result.is_ok());
        let seen = capture.0.lock().map(|s| s.join("\n")).unwrap_or_default();
        let resends: Vec<_> = seen
            .lines()
            .filter(|l| l.starts_with("http.request.resend_count="))
            .collect();
        assert_eq!(
            resends,
            [
                "http.request.resend_count=1",
                "http.request.resend_count=2",
                "http.request.resend_count=2"
            ],
            "{seen}"
        );
        assert!(seen.contains("message=attempt 1 failed: connect"), "{seen}");
        assert!(seen.contains("redial.stop_reason=\"succeeded\""), "{seen}");
        assert!(seen.contains("redial.attempts=3"), "{seen}");
    }
}
