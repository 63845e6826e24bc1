//! `cargo run --example demo`: a local server that behaves like an LLM API under stress,
//! and a client that calls it through redial, printing a timeline of every call: each
//! attempt, its status, the decision, the wait and why.
//!
//! The server listens on a free loopback port and answers, per route:
//! - `/rate-limited`: a 429 with `retry-after` and `anthropic-ratelimit-*` headers, then 200;
//! - `/overloaded`: a 529 `overloaded_error` JSON body twice, then 200;
//! - `/stream`: a 200 event stream that fails with an `overloaded_error` event after
//!   `message_start` and `ping`, then a good stream;
//! - `/bad-request`: a 400 `invalid_request_error`, which must not be retried;
//! - `/shedding`: a 503 asking to come back in an hour, more than any client should wait;
//! - `/bad-gateway`: a proxy's HTML 502, which a POST may not retry under `default`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_core::Stream;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use redial::reqwest::read_error_type;
use redial::retry_stream;
use redial::sleep::TokioSleeper;
use redial::stream::ErrorEvent;
use redial::stream::StreamError;
use redial::{Event, Last, RetryError, Retryable};
use redial::{Policy, Preset};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve(listener));
    println!("A stressed LLM API is listening on {base}; calling it through redial.\n");

    let client = reqwest::Client::new();
    // Each scenario gets a policy of its own, as if it were its own service: a policy's
    // budget is shared by all its calls, and this demo's handful of calls, most of them
    // failing on purpose, would spend it (the default budget allows retries as a share of
    // recent calls, strictly while the server says it is overloaded).
    let anthropic = || Policy::preset(Preset::Anthropic);
    let default = Policy::preset(Preset::Default);

    call(
        &client,
        &anthropic(),
        "anthropic",
        &base,
        "/rate-limited",
        "rate limited",
    )
    .await;
    call(
        &client,
        &anthropic(),
        "anthropic",
        &base,
        "/overloaded",
        "overloaded twice",
    )
    .await;
    stream(&client, &anthropic(), &base).await;
    call(
        &client,
        &anthropic(),
        "anthropic",
        &base,
        "/bad-request",
        "a request the API rejects",
    )
    .await;
    call(
        &client,
        &anthropic(),
        "anthropic",
        &base,
        "/shedding",
        "a server asking for an hour",
    )
    .await;
    call(
        &client,
        &default,
        "default",
        &base,
        "/bad-gateway",
        "a proxy's 502 for a POST",
    )
    .await;
    Ok(())
}

/// One POST through the retry future, with a line per attempt.
async fn call(
    client: &reqwest::Client,
    policy: &Policy,
    preset: &str,
    base: &str,
    path: &str,
    what: &str,
) {
    println!("▶ POST {path} — {what} (preset {preset})");
    let start = Instant::now();
    let url = format!("{base}{path}");
    let result = (|| async {
        // Reading an error body lets its error type count (overloaded_error, …).
        read_error_type(
            client
                .post(&url)
                .body(r#"{"model":"claude","max_tokens":64}"#)
                .send()
                .await?,
        )
        .await
    })
    .retry(policy)
    .sleeper(TokioSleeper)
    .notify(|event| print_retry(start, event))
    .await;
    match result {
        Ok(response) => {
            let attempt = attempts_so_far(&response);
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            println!(
                "  {}  attempt {attempt}  {status}  → done: succeeded  {}",
                stamp(start),
                ellipsis(&body, 48)
            );
        }
        Err(err) => print_failure(start, err).await,
    }
    println!();
}

/// The streamed call: re-opened while nothing committed (a content delta) has arrived.
async fn stream(client: &reqwest::Client, policy: &Policy, base: &str) {
    println!("▶ POST /stream — a 200 stream that fails with an error event (preset anthropic)");
    let start = Instant::now();
    let url = format!("{base}/stream");
    let events = retry_stream(
        policy,
        || {
            let send = client.post(&url).body(r#"{"stream":true}"#).send();
            async move { send.await.map_err(StreamError::Call) }
        },
        Sse::new,
    )
    .commit_when(|event: &SseEvent| event.name == "content_block_delta")
    .sleeper(TokioSleeper)
    .notify(|event| print_retry(start, event));
    let mut events = Box::pin(events);
    let mut text = String::new();
    while let Some(item) = std::future::poll_fn(|cx| events.as_mut().poll_next(cx)).await {
        match item {
            Ok(event) => {
                println!("  {}             event: {}", stamp(start), event.name);
                if let Some(t) = event.text() {
                    text.push_str(&t);
                }
            }
            Err(err) => {
                print_failure(start, err).await;
                return;
            }
        }
    }
    println!(
        "  {}  → done: the stream ended cleanly; the user saw {text:?} once\n",
        stamp(start)
    );
}

fn print_retry(start: Instant, event: &Event<'_>) {
    let what = event
        .verdict()
        .cause()
        .map(ToString::to_string)
        .unwrap_or_default();
    println!(
        "  {}  attempt {}  {what:<24} → retry in {:>6}  why: {}{}",
        stamp(start),
        event.attempt(),
        format!("{:.3}s", event.delay().as_secs_f64()),
        event.retry(),
        event
            .request_id()
            .map(|id| format!("  [{id}]"))
            .unwrap_or_default(),
    );
}

async fn print_failure<E: std::fmt::Display>(
    start: Instant,
    err: RetryError<E, reqwest::Response>,
) {
    let attempts = err.attempts();
    let stop = err.stop().to_string();
    let ids: Vec<String> = err.request_ids().iter().map(str::to_owned).collect();
    println!("  {}  attempt {attempts}  → stop: {stop}", stamp(start));
    match err.into_last() {
        Last::Response(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            println!(
                "             the caller gets the {status} response back: {}",
                ellipsis(&body, 60)
            );
        }
        Last::Error(e) => println!("             the caller gets the last error back: {e}"),
        Last::TimedOut(limit) => {
            println!("             the last attempt timed out after {limit:?}")
        }
        _ => {}
    }
    if !ids.is_empty() {
        println!("             request ids seen: {}", ids.join(", "));
    }
}

/// The server numbers its answers in a header, so the success line can say which attempt.
fn attempts_so_far(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-demo-attempt")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_string()
}

fn stamp(start: Instant) -> String {
    format!("t+{:.3}s", start.elapsed().as_secs_f64())
}

fn ellipsis(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// The server: an LLM API under stress.

async fn serve(listener: TcpListener) {
    let attempts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let attempts = attempts.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let attempts = attempts.clone();
                async move { Ok::<_, Infallible>(answer(req.uri().path(), &attempts)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn answer(path: &str, attempts: &Mutex<HashMap<String, u32>>) -> hyper::Response<Full<Bytes>> {
    let n = {
        let mut seen = attempts.lock().unwrap_or_else(|p| p.into_inner());
        let n = seen.entry(path.to_string()).or_insert(0);
        *n += 1;
        *n
    };
    let id = format!("req_011CSHoEeqs5C35K2UUqR7{n:02}");
    let builder = hyper::Response::builder()
        .header("request-id", &id)
        .header("x-demo-attempt", n.to_string());
    let error = |status: u16, kind: &str, message: &str| {
        let body = format!(
            r#"{{"type":"error","error":{{"type":"{kind}","message":"{message}"}},"request_id":"{id}"}}"#
        );
        (status, "application/json", body)
    };
    let ok = || (200, "application/json", MESSAGE.to_string());
    let (status, content_type, body) = match (path, n) {
        ("/rate-limited", 1) => {
            let reset = rfc3339(SystemTime::now() + Duration::from_secs(1));
            let builder = builder
                .status(429)
                .header("content-type", "application/json")
                .header("retry-after", "1")
                .header("anthropic-ratelimit-requests-limit", "50")
                .header("anthropic-ratelimit-requests-remaining", "0")
                .header("anthropic-ratelimit-requests-reset", reset)
                .header("anthropic-ratelimit-tokens-limit", "30000")
                .header("anthropic-ratelimit-tokens-remaining", "12000");
            let (_, _, body) = error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            );
            return builder
                .body(Full::new(Bytes::from(body)))
                .unwrap_or_default();
        }
        ("/overloaded", 1 | 2) => error(529, "overloaded_error", "Overloaded"),
        ("/stream", 1) => (200, "text/event-stream", OVERLOADED_STREAM.to_string()),
        ("/stream", _) => (200, "text/event-stream", GOOD_STREAM.to_string()),
        ("/bad-request", _) => error(400, "invalid_request_error", "max_tokens: field required"),
        ("/bad-gateway", _) => (
            502,
            "text/html",
            "<html><body>502 Bad Gateway</body></html>".to_string(),
        ),
        ("/shedding", _) => {
            let (_, _, body) = error(503, "api_error", "Down for maintenance");
            return builder
                .status(503)
                .header("retry-after", "3600")
                .body(Full::new(Bytes::from(body)))
                .unwrap_or_default();
        }
        _ => ok(),
    };
    builder
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

const MESSAGE: &str = r#"{"id":"msg_01","type":"message","role":"assistant","content":[{"type":"text","text":"Hello, world"}]}"#;

/// As in the shared fixture: `message_start`, `ping`, then an `overloaded_error` event.
const OVERLOADED_STREAM: &str = "event: message_start\n\
data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_01\", \"type\": \"message\", \"role\": \"assistant\", \"content\": []}}\n\n\
event: ping\ndata: {\"type\": \"ping\"}\n\n\
event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";

const GOOD_STREAM: &str = "event: message_start\n\
data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_02\", \"type\": \"message\", \"role\": \"assistant\", \"content\": []}}\n\n\
event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"Hello, \"}}\n\n\
event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"world\"}}\n\n\
event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n";

/// A UTC timestamp in RFC 3339, as the `anthropic-ratelimit-*-reset` headers carry.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------------------
// A small server-sent-events reader: events out, an `event: error` out as an error.

struct SseEvent {
    name: String,
    data: String,
}

impl SseEvent {
    /// The text of a content delta.
    fn text(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(&self.data).ok()?;
        Some(value.get("delta")?.get("text")?.as_str()?.to_string())
    }
}

struct Sse {
    bytes: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: String,
    done: bool,
}

impl Sse {
    fn new(response: reqwest::Response) -> Self {
        Sse {
            bytes: Box::pin(response.bytes_stream()),
            buf: String::new(),
            done: false,
        }
    }
}

impl Stream for Sse {
    type Item = Result<SseEvent, StreamError<reqwest::Error>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = SseEvent {
                    name: "message".into(),
                    data: String::new(),
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim());
                    }
                }
                if event.name == "error" {
                    let error = ErrorEvent::read(event.data.as_bytes());
                    return Poll::Ready(Some(Err(StreamError::Event(error))));
                }
                return Poll::Ready(Some(Ok(event)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match ready!(self.bytes.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Some(Err(e)) => return Poll::Ready(Some(Err(StreamError::Call(e)))),
                None => self.done = true,
            }
        }
    }
}
