//! The future adapter against a real HTTP server on 127.0.0.1 with a real client
//! (reqwest): the waits are recorded by the sleeper, never measured on the wall clock.

mod common;

use std::time::Duration;

use common::clock::Virtual;
use common::server::{closed_port, Canned, Server};
use common::Recording;
use redial::reqwest::read_error_type;
use redial::Retryable;
use redial::{Policy, Preset, StopReason};

/// Records each wait and completes it at once.
fn instant() -> Recording<fn(Duration) -> std::future::Ready<()>> {
    Recording::new(|_| std::future::ready(()))
}

#[tokio::test]
async fn retry_after_and_rate_limit_headers_set_the_wait() {
    let server = Server::start(vec![
        Canned::api_error(429, "rate_limit_error", "req_429")
            .header("retry-after", "2")
            .header("anthropic-ratelimit-requests-remaining", "0")
            .header("anthropic-ratelimit-requests-reset", "2030-01-01T00:00:00Z"),
        Canned::new(429).header("x-ratelimit-reset-requests", "1s"),
    ])
    .await;
    let client = reqwest::Client::new();
    // The sleeper moves no clock, so the pacer's hold until the quota's reset (the wait
    // the retry already slept, in real time) would show as waits of its own.
    let policy = Preset::Anthropic
        .builder()
        .no_pacing()
        .build()
        .expect("valid");
    let sleeper = instant();
    let response = (|| client.post(server.url("/v1/messages")).body("{}").send())
        .retry(&policy)
        .sleeper(sleeper.clone())
        .await
        .expect("the third attempt gets a 200");
    assert_eq!(response.text().await.expect("body"), "done");
    assert_eq!(server.hits(), 3);
    let waits = sleeper.waits();
    // retry-after: 2 wins over the reset timestamp; then the OpenAI-style reset of 1 s.
    assert!(
        waits[0] >= Duration::from_secs(2) && waits[0] <= Duration::from_millis(2200),
        "{waits:?}"
    );
    assert!(
        waits[1] >= Duration::from_secs(1) && waits[1] <= Duration::from_millis(1100),
        "{waits:?}"
    );
}

#[tokio::test]
async fn overloaded_529_is_retried() {
    let server = Server::start(vec![
        Canned::api_error(529, "overloaded_error", "req_1"),
        Canned::api_error(529, "overloaded_error", "req_2"),
    ])
    .await;
    let client = reqwest::Client::new();
    let policy = Policy::default();
    let mut notes = Vec::new();
    let response = (|| client.post(server.url("/v1/messages")).body("{}").send())
        .retry(&policy)
        .sleeper(instant())
        .notify(|e| notes.push((e.attempt(), e.request_id().map(str::to_owned))))
        .await
        .expect("529 is retried, even for a POST");
    assert!(response.status().is_success());
    assert_eq!(server.hits(), 3);
    assert_eq!(
        notes,
        [(1, Some("req_1".into())), (2, Some("req_2".into()))]
    );
}

/// Also issue 12, item 7: the last response comes out of the error by value, with no
/// wildcard arm, so its body can be read; an error that holds none gives itself back.
#[tokio::test]
async fn a_400_is_not_retried_and_its_response_is_handed_back() {
    let server = Server::start(vec![Canned::api_error(
        400,
        "invalid_request_error",
        "req_bad",
    )])
    .await;
    let client = reqwest::Client::new();
    let policy = Policy::preset(Preset::Anthropic);
    let err = (|| client.post(server.url("/v1/messages")).body("{}").send())
        .retry(&policy)
        .sleeper(instant())
        .await
        .unwrap_err();
    assert_eq!(server.hits(), 1);
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert_eq!(err.request_ids().last(), Some("req_bad"));
    let err = match err.into_error() {
        Ok(e) => panic!("a response, not an error: {e}"),
        Err(err) => err,
    };
    let response = match err.into_response() {
        Ok(response) => response,
        Err(err) => panic!("the 400 is kept: {err}"),
    };
    assert_eq!(response.status(), 400);
    assert!(response
        .text()
        .await
        .expect("body")
        .contains("invalid_request_error"));
}

#[tokio::test]
async fn post_500_is_not_retried_by_default_but_is_by_anthropic() {
    let client = reqwest::Client::new();

    let server = Server::start(vec![Canned::new(500)]).await;
    let err = (|| client.post(server.url("/v1/messages")).body("{}").send())
        .retry(&Policy::preset(Preset::Default))
        .sleeper(instant())
        .await
        .unwrap_err();
    assert_eq!((err.reason(), server.hits()), (StopReason::NotRetryable, 1));
    assert!(err.to_string().contains("request not idempotent"), "{err}");

    let server = Server::start(vec![Canned::new(500)]).await;
    let response = (|| client.post(server.url("/v1/messages")).body("{}").send())
        .retry(&Policy::preset(Preset::Anthropic))
        .sleeper(instant())
        .await
        .expect("anthropic retries a POST after a 500");
    assert!(response.status().is_success());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_get_500_is_retried_once_the_request_is_known_to_be_idempotent() {
    let server = Server::start(vec![Canned::new(500), Canned::new(502)]).await;
    let client = reqwest::Client::new();
    let policy = Policy::default();
    let response = (|| client.get(server.url("/v1/models")).send())
        .retry(&policy)
        .facts(redial::classify::RequestFacts::new(&http::Method::GET))
        .sleeper(instant())
        .await
        .expect("a GET may be retried after a 5xx");
    assert!(response.status().is_success());
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_reported() {
    let addr = closed_port().await;
    let client = reqwest::Client::new();
    let policy = Policy::default();
    let mut calls = 0;
    let err = (|| {
        calls += 1;
        client
            .post(format!("http://{addr}/v1/messages"))
            .body("{}")
            .send()
    })
    .retry(&policy)
    .sleeper(instant())
    .await
    .unwrap_err();
    assert_eq!(
        calls, 3,
        "a connect failure is safe to retry, even for a POST"
    );
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert!(err.error().is_some_and(reqwest::Error::is_connect));
    assert!(err.to_string().contains("connect"), "{err}");
}

#[tokio::test]
async fn the_body_error_type_counts_once_read() {
    // A 500 whose body says the request itself was bad: the error type wins.
    let script = || vec![Canned::api_error(500, "invalid_request_error", "req_x")];
    let client = reqwest::Client::new();
    let policy = Policy::default();

    let server = Server::start(script()).await;
    let err = (|| async { read_error_type(client.get(server.url("/")).send().await?).await })
        .retry(&policy)
        .idempotent()
        .sleeper(instant())
        .await
        .unwrap_err();
    assert_eq!((err.reason(), server.hits()), (StopReason::NotRetryable, 1));
    let response = err.response().expect("the response is kept");
    assert_eq!(response.url().as_str(), server.url("/"));

    // Unread, the status decides: a GET 500 is retried.
    let server = Server::start(script()).await;
    let response = (|| client.get(server.url("/")).send())
        .retry(&policy)
        .idempotent()
        .sleeper(instant())
        .await;
    assert!(response.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_context_carries_mutable_state_across_attempts() {
    use redial::RetryableWithContext;

    /// State an attempt needs `&mut` access to: here, a log of the statuses seen.
    struct Session {
        client: reqwest::Client,
        statuses: Vec<u16>,
    }

    let server = Server::start(vec![Canned::new(503), Canned::new(429)]).await;
    let url = server.url("/v1/models");
    let policy = Policy::default();
    let session = Session {
        client: reqwest::Client::new(),
        statuses: Vec::new(),
    };
    let (session, result) = (|mut session: Session| {
        let url = url.clone();
        async move {
            let result = session.client.get(&url).send().await;
            if let Ok(response) = &result {
                session.statuses.push(response.status().as_u16());
            }
            (session, result)
        }
    })
    .retry_with(&policy, session)
    .idempotent()
    .sleeper(instant())
    .await;
    assert!(result.is_ok());
    assert_eq!(session.statuses, [503, 429, 200]);
}

/// The presets' policy, one attempt a call, against a real server playing a script, its
/// waits read on a clock that moves only when slept on.
struct Presets {
    server: Server,
    client: reqwest::Client,
    policy: Policy,
    clock: Virtual,
}

impl Presets {
    async fn against(script: Vec<Canned>) -> Presets {
        Presets {
            server: Server::start(script).await,
            client: reqwest::Client::new(),
            policy: Policy::builder().max_attempts(1).build().expect("valid"),
            clock: Virtual::new(),
        }
    }

    /// One call: whether it succeeded.
    async fn call(&self) -> bool {
        (|| self.client.get(self.server.url("/")).send())
            .retry(&self.policy)
            .sleeper(self.clock.clone())
            .await
            .is_ok()
    }

    /// How long the calls have slept in all.
    fn slept(&self) -> Duration {
        self.clock.elapsed()
    }
}

/// The presets' pacer against a real server whose 429s say only `Retry-After`. A fixed
/// window, open again in 5 s: the next call is the check, 2 s later
/// (`Pacer::CHECK_AFTER`), refused with the window's own end (3 s left); the call after
/// it waits for the window in the pacer instead of drawing another 429.
#[tokio::test]
async fn the_presets_check_a_bare_wait_and_hold_a_spent_window() {
    let p = Presets::against(vec![
        Canned::new(429).header("retry-after", "5"),
        Canned::new(429).header("retry-after", "3"),
    ])
    .await;
    let t0 = p.slept();
    assert!(!p.call().await, "the window is spent");
    assert!(!p.call().await, "the check, refused");
    let checked = p.slept() - t0;
    assert!(p.call().await, "the window opened");
    let opened = p.slept() - t0;
    assert_eq!(
        p.server.hits(),
        3,
        "no call drew a 429 the pacer could spare"
    );
    let check = redial::pacer::Pacer::CHECK_AFTER;
    assert!(
        checked >= check && checked <= check + Duration::from_millis(300),
        "{checked:?}"
    );
    assert!(
        opened >= Duration::from_millis(4900) && opened <= Duration::from_millis(5300),
        "{opened:?}"
    );
}

/// The same 429 from a server that fails at random (a brown-out): the check succeeds,
/// and the next 429 saying to wait 5 s holds nothing.
#[tokio::test]
async fn the_presets_check_a_bare_wait_and_let_a_brown_out_through() {
    let p = Presets::against(vec![
        Canned::new(429).header("retry-after", "5"),
        Canned::new(200),
        Canned::new(429).header("retry-after", "5"),
    ])
    .await;
    assert!(!p.call().await);
    let t0 = p.slept();
    assert!(p.call().await, "the check succeeds");
    assert!(p.slept() - t0 >= redial::pacer::Pacer::CHECK_AFTER);
    assert!(!p.call().await);
    let t1 = p.slept();
    assert!(p.call().await);
    assert_eq!(p.slept() - t1, Duration::ZERO, "nothing held");
    assert_eq!(p.server.hits(), 4);
}
