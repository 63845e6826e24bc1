//! The stream adapter against a real server: an SSE stream that fails with an
//! `overloaded_error` event after `message_start` and `ping` is re-opened; one that fails
//! after a content delta is returned, never retried.

mod common;

use std::time::Duration;

use common::server::{Canned, Server};
use common::sse::{collect, Sse, SseEvent};
use common::Recording;
use redial::retry_stream;
use redial::stream::StreamError;
use redial::{ErrorType, Policy, Preset, StopReason};
use redial::{Last, Refusal};

/// The shared fixture: `message_start`, `ping`, then an `overloaded_error` event.
const OVERLOADED_AFTER_200: &str = include_str!("fixtures/sse-error-after-200.txt");

const GOOD: &str = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hello\"}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

const FAILS_AFTER_DELTA: &str = "event: message_start\ndata: {}\n\n\
event: content_block_delta\ndata: {\"delta\":{\"text\":\"Hel\"}}\n\n\
event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";

fn instant() -> Recording<fn(Duration) -> std::future::Ready<()>> {
    Recording::new(|_| std::future::ready(()))
}

async fn run(
    server: &Server,
    policy: &Policy,
) -> Vec<Result<SseEvent, redial::RetryError<StreamError<reqwest::Error>, reqwest::Response>>> {
    let client = reqwest::Client::new();
    let url = server.url("/v1/messages");
    let events = retry_stream(
        policy,
        || {
            let send = client.post(&url).body("{\"stream\":true}").send();
            async move { send.await.map_err(StreamError::Call) }
        },
        Sse::new,
    )
    .commit_when(|event: &SseEvent| event.event == "content_block_delta")
    .sleeper(instant());
    collect(Box::pin(events)).await
}

#[tokio::test]
async fn an_error_event_before_any_content_is_reopened() {
    let server = Server::start(vec![Canned::sse(OVERLOADED_AFTER_200), Canned::sse(GOOD)]).await;
    let items = run(&server, &Policy::preset(Preset::Anthropic)).await;
    let names: Vec<_> = items
        .iter()
        .map(|i| {
            i.as_ref()
                .map(|e| e.event.clone())
                .unwrap_or_else(|e| e.to_string())
        })
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "message_start",
            "content_block_delta",
            "message_stop"
        ]
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_default_preset_does_not_retry_a_post_whose_stream_began() {
    let server = Server::start(vec![Canned::sse(OVERLOADED_AFTER_200), Canned::sse(GOOD)]).await;
    let mut items = run(&server, &Policy::default()).await;
    assert_eq!(
        server.hits(),
        1,
        "an error event after a 200: the server had begun to act"
    );
    let err = items.pop().expect("an error").unwrap_err();
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert_eq!(err.refusal(), None);
    assert!(matches!(
        err.last(),
        Last::Error(StreamError::Event(event)) if event.error_type == ErrorType::Overloaded
            && event.message.as_deref() == Some("Overloaded")
    ));
    assert_eq!(items.len(), 2, "message_start and ping came through");
}

#[tokio::test]
async fn an_error_after_committed_output_is_returned_never_retried() {
    let server = Server::start(vec![Canned::sse(FAILS_AFTER_DELTA), Canned::sse(GOOD)]).await;
    let mut items = run(&server, &Policy::preset(Preset::Anthropic)).await;
    assert_eq!(server.hits(), 1);
    let err = items.pop().expect("an error").unwrap_err();
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert_eq!(err.refusal(), Some(Refusal::AfterOutput));
    assert!(
        err.to_string().contains("output had already been yielded"),
        "{err}"
    );
    assert_eq!(items.len(), 2, "message_start and the delta, once each");
}

#[tokio::test]
async fn a_failed_open_is_retried_and_a_last_failed_response_is_kept() {
    let server = Server::start(vec![
        Canned::api_error(529, "overloaded_error", "req_1"),
        Canned::sse(GOOD),
    ])
    .await;
    let items = run(&server, &Policy::default()).await;
    assert_eq!(server.hits(), 2);
    assert!(items.iter().all(Result::is_ok));

    let server = Server::start(vec![
        Canned::api_error(429, "rate_limit_error", "req_1").header("retry-after", "1"),
        Canned::api_error(429, "rate_limit_error", "req_2").header("retry-after", "1"),
        Canned::api_error(429, "rate_limit_error", "req_3").header("retry-after", "1"),
    ])
    .await;
    let mut items = run(&server, &Policy::default()).await;
    let err = items.pop().expect("an error").unwrap_err();
    assert!(items.is_empty());
    assert_eq!(
        (err.reason(), err.attempts()),
        (StopReason::AttemptsExhausted, 3)
    );
    assert_eq!(
        err.request_ids().iter().collect::<Vec<_>>(),
        ["req_1", "req_2", "req_3"]
    );
    let Last::Response(response) = err.into_last() else {
        panic!("the 429 is kept")
    };
    assert_eq!(response.status(), 429);
}

/// A stream over a list of items, standing in for a connection that is already open.
struct Iter<T>(std::vec::IntoIter<T>);

impl<T: Unpin> futures_core::Stream for Iter<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        std::task::Poll::Ready(self.0.next())
    }
}

type Item = Result<&'static str, StreamError<std::io::Error>>;

/// What the caller of a scripted stream sees.
type Seen =
    Result<&'static str, redial::RetryError<StreamError<std::io::Error>, http::Response<u32>>>;

/// Runs a retried stream whose `n`th opening yields `script(n)`, under the `anthropic`
/// preset (which may retry the call), committing as `commit` says (`None`: the default).
/// Returns what the caller saw and how many times the stream was opened.
fn scripted(
    script: fn(u32) -> Vec<Item>,
    commit: Option<fn(&&'static str) -> bool>,
) -> (Vec<Seen>, u32) {
    let policy = Policy::preset(Preset::Anthropic);
    let mut opened = 0;
    let builder = retry_stream(
        &policy,
        || {
            opened += 1;
            std::future::ready(Ok::<_, StreamError<std::io::Error>>(http::Response::new(
                opened,
            )))
        },
        move |response: http::Response<u32>| Iter(script(*response.body()).into_iter()),
    )
    .sleeper(|_| std::future::ready(()));
    let seen: Vec<_> = match commit {
        None => futures_executor::block_on_stream(Box::pin(builder)).collect(),
        Some(commit) => {
            futures_executor::block_on_stream(Box::pin(builder.commit_when(commit))).collect()
        }
    };
    (seen, opened)
}

fn overloaded() -> Item {
    Err(StreamError::Event(ErrorType::Overloaded.into()))
}

fn reset() -> Item {
    Err(StreamError::Call(
        std::io::ErrorKind::ConnectionReset.into(),
    ))
}

#[test]
fn by_default_the_first_item_is_committed_output() {
    // The first opening fails before any item: re-opened. The second yields one item, so
    // by default its error comes after committed output: returned, never retried.
    let (seen, opened) = scripted(
        |n| match n {
            1 => vec![overloaded()],
            _ => vec![Ok("ping"), overloaded()],
        },
        None,
    );
    assert_eq!(opened, 2);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].as_ref().ok(), Some(&"ping"));
    let err = seen[1].as_ref().unwrap_err();
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert_eq!(err.refusal(), Some(Refusal::AfterOutput));
}

#[test]
fn a_transport_error_mid_stream_reopens_before_the_commit_point_and_is_returned_after() {
    let (seen, opened) = scripted(
        |n| match n {
            1 => vec![Ok("message_start"), reset()],
            _ => vec![Ok("message_start"), Ok("content_block_delta"), reset()],
        },
        Some(|event| *event == "content_block_delta"),
    );
    assert_eq!(opened, 2, "re-opened once, after the first reset");
    let names: Vec<_> = seen
        .iter()
        .filter_map(|i| i.as_ref().ok().copied())
        .collect();
    assert_eq!(
        names,
        ["message_start", "message_start", "content_block_delta"]
    );
    let err = seen.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.refusal(), Some(Refusal::AfterOutput));
    assert!(
        matches!(err.last(), Last::Error(StreamError::Call(e)) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{err}"
    );
}
