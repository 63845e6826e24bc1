//! ureq (feature `ureq`): ureq 3's results as HTTP outcomes, status kept.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::classify::Outcome;
use crate::verdict::Transport;

use super::http_outcome::{empty_headers, transport_kind, HttpOutcome};

/// A ureq error: a status that arrived as an error by its status (its headers are lost),
/// any other failure as a transport failure. See the [docs](KeepStatus).
///
/// ```
/// use redial::HttpOutcome;
/// use redial::Transport;
/// use redial::classify::Outcome;
///
/// assert!(matches!(ureq::Error::StatusCode(400).outcome(), Outcome::Response { status, .. } if status == 400));
/// assert!(matches!(ureq::Error::HostNotFound.outcome(), Outcome::Transport(Transport::Connect)));
/// ```
impl HttpOutcome for ureq::Error {
    fn outcome(&self) -> Outcome<'_> {
        use ureq::Error as E;
        use ureq::Timeout as T;
        match self {
            E::StatusCode(code) => status_outcome(*code),
            // The request was never sent: as safe to retry as a refused connection.
            E::HostNotFound | E::ConnectionFailed | E::Timeout(T::Resolve | T::Connect) => {
                Outcome::Transport(Transport::Connect)
            }
            E::Timeout(_) | E::BodyStalled => Outcome::Transport(Transport::Timeout),
            E::Io(io) => Outcome::Transport(transport_kind(io)),
            other => Outcome::Transport(transport_kind(other)),
        }
    }
}

/// The outcome of an I/O error that wraps a ureq error (`ureq::Error::into_io`), if it
/// does: so a status mapped to an I/O error is still read as its status.
pub(crate) fn wrapped(io: &std::io::Error) -> Option<Outcome<'static>> {
    match io.get_ref()?.downcast_ref::<ureq::Error>()? {
        ureq::Error::StatusCode(code) => Some(status_outcome(*code)),
        _ => None,
    }
}

fn status_outcome(code: u16) -> Outcome<'static> {
    warn_status_as_error(code);
    match http::StatusCode::from_u16(code) {
        Ok(status) => Outcome::response(status, empty_headers()),
        // ureq only reports statuses it parsed, so this is out of the question; were it
        // not, a status we cannot name is a failure we cannot read.
        Err(_) => Outcome::Transport(Transport::Other),
    }
}

/// Says once per process that statuses arrive as errors, and how to keep their headers.
fn warn_status_as_error(code: u16) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if SAID.load(Ordering::Relaxed) || SAID.swap(true, Ordering::Relaxed) {
        return;
    }
    #[cfg(feature = "tracing")]
    tracing::warn!(http.response.status_code = code, "{}", StatusAsError(code));
    #[cfg(all(not(feature = "tracing"), debug_assertions))]
    eprintln!("{}", StatusAsError(code));
    #[cfg(all(not(feature = "tracing"), not(debug_assertions)))]
    let _ = code;
}

/// The warning's text.
struct StatusAsError(u16);

impl core::fmt::Display for StatusAsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "redial: ureq returned status {} as an error, without its headers, so \
             Retry-After and the rate-limit headers cannot be read; call \
             `.keep_status()` on the request (redial::ureq::KeepStatus), or build \
             the agent with `.http_status_as_error(false)`",
            self.0
        )
    }
}

/// ureq 3 (feature `ureq`): its results classify with no glue code, statuses and headers
/// kept.
///
/// By default a ureq 3 agent turns every 4xx and 5xx into `Err(ureq::Error::StatusCode(..))`,
/// which keeps the status and drops the headers, `Retry-After` and the rate-limit headers
/// with them. Call [`keep_status`](KeepStatus::keep_status) on the request, however the
/// agent is configured, and such a response comes back as a response, headers and body
/// intact:
///
/// ```no_run
/// use redial::BlockingRetryable;
/// use redial::ureq::KeepStatus;
/// use redial::{Policy, Preset};
///
/// let agent = ureq::Agent::new_with_defaults();
/// let policy = Policy::preset(Preset::Anthropic);
/// let response = (|| agent.post("http://localhost:8080/v1/messages").keep_status().send("{}"))
///     .retry(&policy)
///     .call()?;
/// # let _ = response;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A status that still arrives as an error (an agent built with `http_status_as_error`
/// left on, and no `keep_status`) is classified by its status alone: a `400` is attempted
/// once and a `429` is retried, but on the backoff curve, since the wait the server asked
/// for is gone. The first time that happens in a process, `redial` says so: a `tracing`
/// warning with the `tracing` feature, else a line on standard error in debug builds.
/// An error mapped to [`std::io::Error`] with `ureq::Error::into_io` is read the same way.
///
/// The other errors read as transport failures: a refused or failed connection, a host
/// not found, and a connect or resolve timeout as [`Transport::Connect`] (the request was
/// never sent, so it is safe to retry any method); any other timeout as
/// [`Transport::Timeout`]; an I/O error by its kind ([`transport_kind`]); the rest as
/// [`Transport::Other`].
///
/// This crate turns on none of ureq's features: for `https`, turn on `rustls` (ureq's
/// default) or `native-tls` in your own dependency on ureq.
///
/// Adds [`keep_status`](Self::keep_status) to ureq's request builders.
///
/// ```
/// use redial::ureq::KeepStatus;
/// let request = ureq::get("http://localhost:8080/").keep_status();
/// # drop(request);
/// ```
pub trait KeepStatus: Sized {
    /// This request returns a 4xx or 5xx as a response, headers and body included,
    /// instead of `Err(ureq::Error::StatusCode(..))`, whatever the agent's configuration
    /// (ureq's `http_status_as_error(false)`, for this request only).
    ///
    /// ```
    /// use redial::ureq::KeepStatus;
    /// let agent = ureq::Agent::new_with_defaults();
    /// let request = agent.post("http://localhost:8080/v1/messages").keep_status();
    /// # drop(request);
    /// ```
    fn keep_status(self) -> Self;
}

impl<B> KeepStatus for ureq::RequestBuilder<B> {
    fn keep_status(self) -> Self {
        self.config().http_status_as_error(false).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_around_a_status_reads_as_the_status() {
        let io = ureq::Error::StatusCode(529).into_io();
        assert!(matches!(wrapped(&io), Some(Outcome::Response { status, .. }) if status == 529));
        let io = ureq::Error::HostNotFound.into_io();
        assert!(wrapped(&io).is_none());
    }

    #[test]
    fn timeouts_before_sending_are_connect_failures() {
        for (timeout, want) in [
            (ureq::Timeout::Connect, Transport::Connect),
            (ureq::Timeout::Resolve, Transport::Connect),
            (ureq::Timeout::RecvResponse, Transport::Timeout),
            (ureq::Timeout::Global, Transport::Timeout),
        ] {
            let err = ureq::Error::Timeout(timeout);
            let outcome = err.outcome();
            assert!(
                matches!(outcome, Outcome::Transport(t) if t == want),
                "{timeout:?}"
            );
        }
    }

    #[test]
    fn the_warning_says_what_to_do() {
        let text = StatusAsError(429).to_string();
        assert!(text.contains("status 429"), "{text}");
        assert!(text.contains(".keep_status()"), "{text}");
        assert!(text.contains("http_status_as_error(false)"), "{text}");
    }
}
