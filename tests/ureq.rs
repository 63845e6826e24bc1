//! ureq 3 against a real loopback server: a 400 is attempted once and a 429 or 529 waits
//! what its `Retry-After` asks, whether the status comes back as a response
//! (`keep_status`) or, on ureq's default agent, as an error.

mod common;

use std::io::Read;
use std::time::Duration;

use common::server::{Canned, Server};
use redial::ureq::KeepStatus;
use redial::{BlockingRetryable, Last, RetryError};
use redial::{Policy, Preset, StopReason};
use ureq::http::Response;
use ureq::Body;

/// Runs a blocking call on a thread of its own while the server runs on the runtime, and
/// returns it with the waits the retry asked for (recorded, not slept).
async fn blocking<T: Send + 'static>(
    call: impl FnOnce(&mut dyn FnMut(Duration)) -> T + Send + 'static,
) -> (T, Vec<Duration>) {
    tokio::task::spawn_blocking(move || {
        let mut waits = Vec::new();
        let out = call(&mut |d| waits.push(d));
        (out, waits)
    })
    .await
    .expect("the blocking call does not panic")
}

fn policy() -> Policy {
    Policy::preset(Preset::Anthropic)
}

type Outcome = Result<Response<Body>, RetryError<ureq::Error, Response<Body>>>;

/// POSTs to `url` under the Anthropic preset, with `keep_status` or on ureq's defaults.
async fn post(url: String, keep_status: bool) -> (Outcome, Vec<Duration>) {
    blocking(move |sleep| {
        let agent = ureq::Agent::new_with_defaults();
        let request = || match keep_status {
            true => agent.post(&url).keep_status(),
            false => agent.post(&url),
        };
        (|| request().send("{}"))
            .retry(policy())
            .sleeper(sleep)
            .call()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_status_400_is_attempted_once_and_handed_back() {
    let server = Server::start(vec![Canned::api_error(
        400,
        "invalid_request_error",
        "req_400",
    )])
    .await;
    let (result, waits) = post(server.url("/v1/messages"), true).await;
    let err = result.expect_err("a 400 is not retried");
    assert_eq!(err.reason(), StopReason::NotRetryable, "{err}");
    assert_eq!((err.attempts(), server.hits()), (1, 1));
    assert!(waits.is_empty());
    assert_eq!(err.request_ids().iter().collect::<Vec<_>>(), ["req_400"]);
    let Last::Response(mut response) = err.into_last() else {
        panic!("the 400 is handed back as a response");
    };
    assert_eq!(response.status(), 400);
    let mut body = String::new();
    response
        .body_mut()
        .as_reader()
        .read_to_string(&mut body)
        .expect("the body is still there");
    assert!(body.contains("invalid_request_error"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_status_429_and_529_wait_their_retry_after() {
    let server = Server::start(vec![
        Canned::api_error(429, "rate_limit_error", "req_1").header("retry-after", "1"),
        Canned::api_error(529, "overloaded_error", "req_2").header("retry-after", "2"),
        Canned::new(200).body("hello"),
    ])
    .await;
    let (result, waits) = post(server.url("/v1/messages"), true).await;
    let mut response = result.expect("the third attempt succeeds");
    assert_eq!(
        response.body_mut().read_to_string().expect("a body"),
        "hello"
    );
    assert_eq!(server.hits(), 3);
    // Each wait is the hint plus at most a tenth of it (design: server hints).
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits[0] >= Duration::from_secs(1) && waits[0] <= Duration::from_millis(1100),
        "{waits:?}"
    );
    assert!(
        waits[1] >= Duration::from_secs(2) && waits[1] <= Duration::from_millis(2200),
        "{waits:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_agent_400_is_attempted_once() {
    // ureq's default agent returns the 400 as `Err(StatusCode(400))`: issue 12's first item
    // saw it retried three times as a transport failure.
    let server = Server::start(vec![Canned::new(400), Canned::new(400), Canned::new(400)]).await;
    let (result, waits) = post(server.url("/v1/messages"), false).await;
    let err = result.expect_err("a 400 is not retried");
    assert_eq!(err.reason(), StopReason::NotRetryable, "{err}");
    assert_eq!((err.attempts(), server.hits()), (1, 1));
    assert!(waits.is_empty());
    assert!(matches!(err.error(), Some(ureq::Error::StatusCode(400))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_agent_statuses_decide_even_through_io_errors() {
    // A 529 as an error is retried by its status; its Retry-After is lost with the headers,
    // so the wait comes from the backoff curve (0.5 s, minus up to a quarter).
    let server = Server::start(vec![
        Canned::new(529).header("retry-after", "30"),
        Canned::new(400),
    ])
    .await;
    let url = server.url("/v1/messages");
    let (result, waits) = blocking(move |sleep| {
        let agent = ureq::Agent::new_with_defaults();
        (|| agent.post(&url).send("{}").map_err(ureq::Error::into_io))
            .retry(policy())
            .sleeper(sleep)
            .call()
    })
    .await;
    let err = result.expect_err("the 400 ends the call");
    assert_eq!(err.reason(), StopReason::NotRetryable, "{err}");
    assert_eq!((err.attempts(), server.hits()), (2, 2));
    assert_eq!(waits.len(), 1);
    assert!(
        waits[0] >= Duration::from_millis(375) && waits[0] <= Duration::from_millis(500),
        "{waits:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_for_a_post() {
    let addr = common::server::closed_port().await;
    let (result, waits) = blocking(move |sleep| {
        let agent = ureq::Agent::new_with_defaults();
        let url = format!("http://{addr}/v1/messages");
        (|| agent.post(&url).keep_status().send("{}"))
            .retry(Policy::default())
            .sleeper(sleep)
            .call()
    })
    .await;
    let err = result.expect_err("nothing listens");
    assert_eq!(err.reason(), StopReason::AttemptsExhausted, "{err}");
    assert_eq!((err.attempts(), waits.len()), (3, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_configured_to_keep_statuses_needs_no_keep_status() {
    let server = Server::start(vec![Canned::new(429).header("retry-after", "1")]).await;
    let url = server.url("/v1/messages");
    let (result, waits) = blocking(move |sleep| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        (|| agent.post(&url).send("{}"))
            .retry(policy())
            .sleeper(sleep)
            .call()
    })
    .await;
    assert_eq!(result.expect("a 200 after the 429").status(), 200);
    assert_eq!(waits.len(), 1);
    assert!(
        waits[0] >= Duration::from_secs(1) && waits[0] <= Duration::from_millis(1100),
        "{waits:?}"
    );
}
