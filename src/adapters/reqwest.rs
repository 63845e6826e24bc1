//! reqwest (feature `reqwest`): its responses and errors are HTTP outcomes.

use crate::classify::{request_id, Outcome};
use crate::verdict::Transport;

#[cfg(feature = "json")]
use super::http_outcome::with_error_type;
use super::http_outcome::{
    body_request_id, empty_headers, response_outcome, transport_kind, HttpOutcome,
};

/// Its status and headers, and the [`ErrorType`](crate::ErrorType) in its extensions if
/// [`read_error_type`] put one there.
impl HttpOutcome for reqwest::Response {
    fn outcome(&self) -> Outcome<'_> {
        response_outcome(self.status(), self.headers(), self.extensions())
    }

    fn request_id(&self) -> Option<&str> {
        request_id(self.headers()).or_else(|| body_request_id(self.extensions()))
    }
}

/// A transport failure, or the status of an `error_for_status` error. See the
/// [docs](read_error_type).
impl HttpOutcome for reqwest::Error {
    fn outcome(&self) -> Outcome<'_> {
        // A connect timeout is still a connect failure: the request was never sent.
        if self.is_connect() {
            return Outcome::Transport(Transport::Connect);
        }
        if self.is_timeout() {
            return Outcome::Transport(Transport::Timeout);
        }
        if let Some(status) = self.status() {
            return Outcome::response(status, empty_headers());
        }
        Outcome::Transport(transport_kind(self))
    }
}

/// reqwest (feature `reqwest`): its responses and errors are HTTP outcomes, so a reqwest
/// call retries with no glue code.
///
/// ```no_run
/// use redial::Retryable;
/// use redial::sleep::TokioSleeper;
/// use redial::{Policy, Preset};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = reqwest::Client::new();
/// let policy = Policy::preset(Preset::Anthropic);
/// let response = (|| client.post("https://api.anthropic.com/v1/messages").body("{}").send())
///     .retry(&policy)
///     .sleeper(TokioSleeper)
///     .await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
///
/// A `reqwest::Error` reads as a transport failure: a connect error as
/// [`Transport::Connect`] (never sent, so always safe to retry), a timeout as
/// [`Transport::Timeout`], an error from `error_for_status` as its status, anything else by
/// the I/O error inside it ([`transport_kind`]): a reset as [`Transport::Reset`], the
/// rest as [`Transport::Other`].
///
/// The body of an error response is not read (see [error bodies](crate::HttpOutcome#error-bodies));
/// call [`read_error_type`] inside the operation to have its error type count.
///
/// Reads the body of an error response so that its error type counts, and hands back an
/// equivalent response (same status, headers, URL, and the body's bytes). A success or a
/// redirect is returned untouched, its body unread, so a stream stays a stream.
///
/// Feature `json` (on by default): without it this function does not exist, rather than
/// read every error body and never find an error type.
///
/// ```no_run
/// use redial::Retryable;
/// use redial::reqwest::read_error_type;
/// use redial::sleep::TokioSleeper;
///
/// # async fn run(client: reqwest::Client, policy: redial::Policy) -> Result<(), Box<dyn std::error::Error>> {
/// let response = (|| async {
///     read_error_type(client.get("https://example.com/").send().await?).await
/// })
/// .retry(&policy)
/// .idempotent()
/// .sleeper(TokioSleeper)
/// .await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "json")]
pub async fn read_error_type(response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    use reqwest::ResponseBuilderExt as _;

    let status = response.status();
    if status.is_success() || status.is_redirection() {
        return Ok(response);
    }
    let url = response.url().clone();
    let (mut parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    let bytes = http_body_util::BodyExt::collect(body).await?.to_bytes();
    // reqwest keeps the URL in a private extension; its builder extension puts it back.
    if let Ok(carrier) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(carrier.into_parts().0.extensions);
    }
    let buffered = with_error_type(http::Response::from_parts(parts, bytes));
    Ok(reqwest::Response::from(buffered))
}
