//! The tower layer end to end: a reqwest-backed service on a real loopback server, with
//! the layer retrying `http::Request`s and replaying their bodies.

mod common;

use std::time::Duration;

use common::server::{Canned, Server};
use common::Recording;
use redial::tower::{ReplayBody, RetryLayer};
use redial::{Last, Refusal};
use redial::{Policy, Preset, StopReason};
use tower::{Layer, Service, ServiceExt};

fn instant() -> Recording<fn(Duration) -> std::future::Ready<()>> {
    Recording::new(|_| std::future::ready(()))
}

/// An `http::Request` service over reqwest.
fn upstream<B: Into<reqwest::Body>>(
    client: reqwest::Client,
) -> impl tower::Service<
    http::Request<B>,
    Response = http::Response<reqwest::Body>,
    Error = reqwest::Error,
> + Clone {
    tower::service_fn(move |req: http::Request<B>| {
        let client = client.clone();
        async move {
            let req = reqwest::Request::try_from(req)?;
            Ok(http::Response::from(client.execute(req).await?))
        }
    })
}

#[tokio::test]
async fn the_layer_retries_and_replays_the_body() {
    let server = Server::start(vec![
        Canned::api_error(529, "overloaded_error", "req_1"),
        Canned::new(429).header("retry-after", "1"),
    ])
    .await;
    let sleeper = instant();
    let mut notes = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let service = RetryLayer::new(Policy::default())
        .sleeper(sleeper.clone())
        .notify(move |event| {
            let _ = tx.send(event.attempt());
        })
        .layer(upstream(reqwest::Client::new()));
    let request = http::Request::post(server.url("/v1/messages"))
        .header("content-type", "application/json")
        .body(String::from(r#"{"model":"claude"}"#))
        .expect("valid request");
    let response = service.oneshot(request).await.expect("third time lucky");
    assert_eq!(response.status(), 200);
    assert_eq!(server.hits(), 3);
    let bodies: Vec<_> = server.seen().into_iter().map(|s| s.body).collect();
    assert!(
        bodies
            .iter()
            .all(|b| b.as_ref() == br#"{"model":"claude"}"#),
        "{bodies:?}"
    );
    let waits = sleeper.waits();
    assert!(waits[1] >= Duration::from_secs(1) && waits[1] <= Duration::from_millis(1100));
    notes.extend(rx.try_iter());
    assert_eq!(notes, [1, 2]);
}

#[tokio::test]
async fn the_method_of_the_request_decides_safety() {
    let client = reqwest::Client::new();
    let layer = RetryLayer::new(Policy::preset(Preset::Default)).sleeper(instant());

    let server = Server::start(vec![Canned::new(500)]).await;
    let post = http::Request::post(server.url("/"))
        .body(String::new())
        .expect("valid");
    let err = layer
        .layer(upstream(client.clone()))
        .oneshot(post)
        .await
        .unwrap_err();
    assert_eq!((err.reason(), server.hits()), (StopReason::NotRetryable, 1));
    let Last::Response(response) = err.into_last() else {
        panic!("the 500 is kept")
    };
    assert_eq!(response.status(), 500);

    let server = Server::start(vec![Canned::new(500)]).await;
    let get = http::Request::get(server.url("/"))
        .body(String::new())
        .expect("valid");
    let response = layer.layer(upstream(client.clone())).oneshot(get).await;
    assert!(response.is_ok());
    assert_eq!(server.hits(), 2);

    let server = Server::start(vec![Canned::new(500)]).await;
    let keyed = http::Request::post(server.url("/"))
        .header("idempotency-key", "k-1")
        .body(String::new())
        .expect("valid");
    let response = layer.layer(upstream(client)).oneshot(keyed).await;
    assert!(
        response.is_ok(),
        "an Idempotency-Key makes a POST safe to retry"
    );
    assert_eq!(server.hits(), 2);
}

/// A body that can be read only once.
struct Once(String);

impl ReplayBody for Once {
    fn try_replay(&self) -> Option<Self> {
        None
    }
}

impl From<Once> for reqwest::Body {
    fn from(body: Once) -> Self {
        body.0.into()
    }
}

#[tokio::test]
async fn a_body_that_cannot_be_replayed_is_sent_once() {
    let server = Server::start(vec![Canned::new(503)]).await;
    let service = RetryLayer::new(Policy::default())
        .sleeper(instant())
        .layer(upstream(reqwest::Client::new()));
    let request = http::Request::get(server.url("/"))
        .body(Once("x".into()))
        .expect("valid");
    let err = service.clone().oneshot(request).await.unwrap_err();
    assert_eq!(server.hits(), 1);
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert_eq!(err.refusal(), Some(Refusal::BodyNotReplayable));
    assert_eq!(err.response().map(|r| r.status().as_u16()), Some(503));

    // A success goes through untouched.
    let request = http::Request::get(server.url("/"))
        .body(Once("x".into()))
        .expect("valid");
    let response = service.oneshot(request).await.expect("a 200");
    assert_eq!(response.status(), 200);
}

/// Issue 12: the layer mode that keeps the inner service's types, inside a hyper-util
/// legacy client stack. The stack's response and error types stay the inner service's:
/// the 529 is retried, and the 400 that ends the call comes back `Ok`, as tower's own
/// `Retry` answers.
#[tokio::test]
async fn issue_12_keep_inner_types_in_a_hyper_util_client_stack() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let server = Server::start(vec![
        Canned::api_error(529, "overloaded_error", "req_1"),
        Canned::api_error(400, "invalid_request_error", "req_2"),
    ])
    .await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let service = tower::ServiceBuilder::new()
        .layer(
            RetryLayer::new(Policy::default())
                .sleeper(instant())
                .keep_inner_types(),
        )
        .map_err(std::io::Error::other)
        .service(client);
    let request = http::Request::get(server.url("/v1/models"))
        .body(Full::new(Bytes::from_static(b"")))
        .expect("valid request");
    let result: Result<http::Response<Incoming>, std::io::Error> = service.oneshot(request).await;
    let response = result.expect("every response comes back Ok");
    assert_eq!(response.status(), 400);
    assert_eq!(server.hits(), 2, "the 529 was retried, the 400 was not");
}

#[tokio::test]
async fn a_throttle_on_one_host_never_paces_calls_to_another() {
    // One server, two host names for it: the pacer's scope is the request's host.
    let server = Server::start(vec![Canned::new(429)]).await;
    let policy = common::paced_once();
    let sleeper = Recording::new(redial::sleep::TokioSleeper);
    let service = RetryLayer::new(policy.clone())
        .sleeper(sleeper.clone())
        .layer(upstream(reqwest::Client::new()));
    let get = |url: String| {
        http::Request::get(url)
            .body(String::new())
            .expect("valid request")
    };
    let throttled = service.clone().oneshot(get(server.url("/a"))).await;
    assert!(throttled.is_err(), "the 429 stops the call");
    let key = |host: &str| Some(redial::pacer::PacerKey::host(host));
    let paced = |host: &str| policy.pacer_for(key(host)).expect("on").is_active();
    assert!(paced("127.0.0.1"), "the throttled host paces");
    assert!(!paced("localhost"), "another host does not");
    let other = format!("http://localhost:{}/b", server.addr.port());
    for _ in 0..10 {
        let response = service.clone().oneshot(get(other.clone())).await;
        assert_eq!(response.expect("served").status(), 200);
    }
    assert!(sleeper.waits().is_empty(), "{:?}", sleeper.waits());
    for _ in 0..3 {
        let response = service.clone().oneshot(get(server.url("/a"))).await;
        assert_eq!(response.expect("served").status(), 200);
    }
    assert!(
        !sleeper.waits().is_empty(),
        "calls to the throttled host wait for their slots"
    );
}

#[tokio::test]
async fn the_pacers_wait_is_backpressure_in_poll_ready() {
    let server = Server::start(vec![Canned::new(429)]).await;
    let policy = common::paced_once();
    let mut service = RetryLayer::new(policy.clone())
        .sleeper(redial::sleep::TokioSleeper)
        .layer(upstream(reqwest::Client::new()));
    let get = || {
        http::Request::get(server.url("/a"))
            .body(String::new())
            .expect("valid request")
    };
    // Not paced yet: ready at once. The 429 cuts this host's rate.
    let throttled = service.ready().await.expect("ready").call(get()).await;
    assert!(throttled.is_err());
    let (mut readying, mut calling) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        let ready = service.ready().await.expect("ready");
        readying += t0.elapsed();
        let t1 = std::time::Instant::now();
        let response = ready.call(get()).await.expect("served");
        calling += t1.elapsed();
        assert_eq!(response.status(), 200);
    }
    // The waits (about 0.7 s a slot at the cut rate) came in poll_ready; each call then
    // went in the slot it was given.
    assert!(readying >= Duration::from_millis(500), "{readying:?}");
    assert!(calling < Duration::from_millis(300), "{calling:?}");
}
