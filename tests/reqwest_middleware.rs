//! `RetryMiddleware` in a `reqwest_middleware::ClientWithMiddleware` against a real loopback
//! server: the hints, the error types read from bodies left readable, idempotency read
//! from the request, bodies that cannot be replayed, and the final error.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::server::{Canned, Server};
use common::Recording;
use http::Extensions;
use redial::budget::BudgetConfig;
use redial::reqwest_middleware::RetryMiddleware;
use redial::{Policy, Preset, RequestIds, RetryError, Stop, StopReason};
use reqwest::{Request, Response};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Next};

type Instant = Recording<fn(Duration) -> std::future::Ready<()>>;

/// A client that retries under `policy`, recording each wait and completing it at once.
fn client(policy: Policy) -> (ClientWithMiddleware, Instant) {
    let sleeper: Instant = Recording::new(|_| std::future::ready(()));
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(policy).sleeper(sleeper.clone()))
        .build();
    (client, sleeper)
}

#[tokio::test]
async fn retry_after_is_honoured_for_a_post() {
    let server = Server::start(vec![
        Canned::api_error(429, "rate_limit_error", "req_1").header("retry-after", "1"),
        Canned::api_error(529, "overloaded_error", "req_2").header("retry-after-ms", "1500"),
    ])
    .await;
    let (client, sleeper) = client(Policy::default());
    let response = client
        .post(server.url("/v1/messages"))
        .body("{}")
        .send()
        .await
        .expect("the third attempt succeeds");
    assert_eq!(response.status(), 200);
    assert_eq!(server.hits(), 3);
    // Each wait is the server's, plus at most a tenth of it.
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits[0] >= Duration::from_secs(1) && waits[0] <= Duration::from_millis(1100),
        "{waits:?}"
    );
    assert!(
        waits[1] >= Duration::from_millis(1500) && waits[1] <= Duration::from_millis(1650),
        "{waits:?}"
    );
}

#[tokio::test]
async fn error_types_are_read_and_the_body_is_left_readable() {
    // `overloaded_error` is retryable whatever the status: only its body says so here.
    let server = Server::start(vec![
        Canned::api_error(400, "overloaded_error", "req_1"),
        Canned::api_error(400, "invalid_request_error", "req_2"),
    ])
    .await;
    let (client, sleeper) = client(Policy::preset(Preset::Anthropic));
    let response = client
        .post(server.url("/v1/messages"))
        .body("{}")
        .send()
        .await
        .expect("a response comes back as a response");
    assert_eq!(server.hits(), 2);
    assert_eq!(sleeper.waits().len(), 1);
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers().get("request-id").map(|v| v.as_bytes()),
        Some(&b"req_2"[..])
    );
    // Why it stopped, and every attempt's request id, ride along.
    let stop = response.extensions().get::<Stop>().expect("the stop");
    assert_eq!(stop.reason(), StopReason::NotRetryable);
    let ids = response.extensions().get::<RequestIds>().expect("the ids");
    assert_eq!(ids.iter().collect::<Vec<_>>(), ["req_1", "req_2"]);
    let body = response.text().await.expect("the body is still there");
    assert!(body.contains("invalid_request_error"), "{body}");
}

#[tokio::test]
async fn idempotency_is_read_from_the_request() {
    let server = Server::start(vec![Canned::new(500), Canned::new(500)]).await;
    let (client, _) = client(Policy::default());
    let url = server.url("/v1/charges");
    // A POST: the server may have acted on it, so a 500 is not retried...
    let response = client.post(&url).body("{}").send().await.expect("a 500");
    assert_eq!((response.status().as_u16(), server.hits()), (500, 1));
    // ...unless it carries an Idempotency-Key.
    let response = client
        .post(&url)
        .header("idempotency-key", "7c4a8d09")
        .body("{}")
        .send()
        .await
        .expect("a 200 after the 500");
    assert_eq!((response.status().as_u16(), server.hits()), (200, 3));
    // A PUT is idempotent by its method.
    let server = Server::start(vec![Canned::new(500)]).await;
    let response = client
        .put(server.url("/v1/charges/1"))
        .body("{}")
        .send()
        .await
        .expect("a 200 after the 500");
    assert_eq!((response.status().as_u16(), server.hits()), (200, 2));
}

#[tokio::test]
async fn a_body_that_cannot_be_replayed_is_sent_once() {
    let server = Server::start(vec![Canned::new(503)]).await;
    let (client, sleeper) = client(Policy::default());
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("{"), Ok("}")];
    let body = reqwest::Body::wrap_stream(stream_of(chunks));
    let response = client
        .put(server.url("/v1/upload"))
        .body(body)
        .send()
        .await
        .expect("the 503 comes back");
    assert_eq!((response.status().as_u16(), server.hits()), (503, 1));
    assert!(sleeper.waits().is_empty());
}

/// A stream of these chunks, without a stream crate: `futures_core::Stream` by hand.
fn stream_of(
    chunks: Vec<Result<&'static str, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<&'static str, std::io::Error>> + Send + 'static {
    struct Chunks(std::vec::IntoIter<Result<&'static str, std::io::Error>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<&'static str, std::io::Error>;
        fn poll_next(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Chunks(chunks.into_iter())
}

/// Counts the attempts that reach it; the third fails as a reset connection would.
static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

fn reset_the_third<'a>(
    req: Request,
    extensions: &'a mut Extensions,
    next: Next<'a>,
) -> Pin<Box<dyn Future<Output = reqwest_middleware::Result<Response>> + Send + 'a>> {
    if ATTEMPTS.fetch_add(1, Ordering::SeqCst) == 2 {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        return Box::pin(async move { Err(reqwest_middleware::Error::middleware(reset)) });
    }
    next.run(req, extensions)
}

#[tokio::test]
async fn the_final_error_names_the_stop_the_attempts_and_the_request_ids() {
    let server = Server::start(vec![
        Canned::api_error(503, "api_error", "req_a"),
        Canned::api_error(503, "api_error", "req_b"),
    ])
    .await;
    let sleeper: Instant = Recording::new(|_| std::future::ready(()));
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(Policy::default()).sleeper(sleeper.clone()))
        .with(reset_the_third)
        .build();
    let err = client
        .get(server.url("/v1/models"))
        .send()
        .await
        .expect_err("the third attempt is reset");
    let text = err.to_string();
    assert!(
        text.starts_with("attempts_exhausted: reset on the last of 3 attempt(s); 3 attempt(s) in"),
        "{text}"
    );
    assert!(text.ends_with("request ids: req_a, req_b"), "{text}");
    let reqwest_middleware::Error::Middleware(inner) = err else {
        panic!("a middleware error");
    };
    let retry = inner
        .downcast_ref::<RetryError<reqwest_middleware::Error, Response>>()
        .expect("redial's error");
    assert_eq!(
        (retry.reason(), retry.attempts()),
        (StopReason::AttemptsExhausted, 3)
    );
    assert!(retry.error().is_some_and(|e| e.is_middleware()));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_budget_stops_retries_and_the_response_says_so() {
    // A bucket that pays for one retry: the second retry is refused.
    let policy = Policy::builder()
        .budget(BudgetConfig::new(5, 5, 5, 1))
        .build()
        .expect("a valid policy");
    let server = Server::start(vec![Canned::new(503), Canned::new(503), Canned::new(503)]).await;
    let (client, sleeper) = client(policy);
    let response = client
        .get(server.url("/v1/models"))
        .send()
        .await
        .expect("the last 503 comes back");
    assert_eq!((response.status().as_u16(), server.hits()), (503, 2));
    assert_eq!(sleeper.waits().len(), 1);
    let stop = response.extensions().get::<Stop>().expect("the stop");
    assert_eq!(stop.reason(), StopReason::BudgetExhausted, "{stop}");
}

#[tokio::test]
async fn a_throttle_on_one_host_never_paces_calls_to_another() {
    // One server, two host names for it: the pacer's scope is the request's host.
    let server = Server::start(vec![Canned::new(429)]).await;
    let policy = common::paced_once();
    let sleeper = Recording::new(redial::sleep::TokioSleeper);
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(policy.clone()).sleeper(sleeper.clone()))
        .build();
    let throttled = client
        .get(server.url("/a"))
        .send()
        .await
        .expect("the 429 comes back");
    assert_eq!(throttled.status(), 429);
    let key = |host: &str| Some(redial::pacer::PacerKey::host(host));
    let paced = |host: &str| policy.pacer_for(key(host)).expect("on").is_active();
    assert!(paced("127.0.0.1"), "the throttled host paces");
    assert!(!paced("localhost"), "another host does not");
    assert!(
        !policy.pacer().expect("on").is_active(),
        "nor do calls that name no host"
    );
    let other = format!("http://localhost:{}/b", server.addr.port());
    for _ in 0..10 {
        let response = client.get(&other).send().await.expect("served");
        assert_eq!(response.status(), 200);
    }
    assert!(sleeper.waits().is_empty(), "{:?}", sleeper.waits());
    for _ in 0..3 {
        let response = client.get(server.url("/a")).send().await.expect("served");
        assert_eq!(response.status(), 200);
    }
    assert!(
        !sleeper.waits().is_empty(),
        "calls to the throttled host wait for their slots"
    );
}
