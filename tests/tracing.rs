//! The `tracing` feature: a span per call that failed once, an event per retry and one at
//! the end, with OpenTelemetry's field names, seen by a subscriber that keeps everything.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redial::BlockingRetryable;
use redial::{ErrorType, Policy, Preset, StopReason, Transport};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Fields = BTreeMap<String, String>;

/// A span or an event as the subscriber saw it.
#[derive(Clone, Debug, Default)]
struct Seen {
    name: String,
    fields: Fields,
    /// The span an event was emitted in, by id.
    parent: Option<u64>,
}

impl Seen {
    fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

/// Keeps every span (with the fields recorded on it later) and every event.
#[derive(Clone, Default)]
struct Collect {
    spans: Arc<Mutex<BTreeMap<u64, Seen>>>,
    events: Arc<Mutex<Vec<Seen>>>,
    next: Arc<AtomicU64>,
}

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut seen = Seen {
            name: span.metadata().name().to_string(),
            ..Seen::default()
        };
        span.record(&mut Visitor(&mut seen.fields));
        self.spans.lock().unwrap().insert(id, seen);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(seen) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Visitor(&mut seen.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut seen = Seen {
            name: event.metadata().name().to_string(),
            parent: event.parent().map(Id::into_u64),
            ..Seen::default()
        };
        event.record(&mut Visitor(&mut seen.fields));
        self.events.lock().unwrap().push(seen);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Runs `f` with `subscriber` as this thread's default.
///
/// tracing caches each callsite's interest for the whole process, asked of the dispatchers
/// registered when a thread first reaches it: a test on another thread, between two
/// subscribers, could leave a callsite cached "never", and a capture then saw too little
/// (seen in CI: two events of three). One dispatcher interested in everything, alive for
/// the whole binary, keeps every callsite's interest "sometimes", so each thread's own
/// subscriber is asked.
fn listening<S, T>(subscriber: S, f: impl FnOnce() -> T) -> T
where
    S: Subscriber + Send + Sync + 'static,
{
    static ANCHOR: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    ANCHOR.get_or_init(|| {
        let anchor = tracing::Dispatch::new(Collect::default());
        tracing::callsite::rebuild_interest_cache();
        anchor
    });
    tracing::subscriber::with_default(subscriber, f)
}

/// One scripted attempt's result.
fn response(
    status: u16,
    headers: &[(&str, &str)],
    error_type: Option<ErrorType>,
) -> Result<http::Response<()>, Transport> {
    let mut builder = http::Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let mut response = builder.body(()).map_err(|_| Transport::Other)?;
    if let Some(t) = error_type {
        response.extensions_mut().insert(t);
    }
    Ok(response)
}

/// Runs a blocking call through these results under the Anthropic preset, with `collect`
/// as the subscriber; the waits are recorded, not slept.
fn run(
    collect: &Collect,
    script: Vec<Result<http::Response<()>, Transport>>,
) -> Result<(), StopReason> {
    let policy = Policy::preset(Preset::Anthropic);
    let mut script = script.into_iter();
    listening(collect.clone(), || {
        (|| script.next().unwrap_or(Err(Transport::Other)))
            .retry(&policy)
            .sleeper(|_: Duration| {})
            .call()
            .map(drop)
            .map_err(|e| e.reason())
    })
}

#[test]
fn a_failed_call_has_a_span_an_event_per_retry_and_a_closing_event() {
    let collect = Collect::default();
    let result = run(
        &collect,
        vec![
            response(
                529,
                &[("retry-after", "2"), ("request-id", "req_1")],
                Some(ErrorType::Overloaded),
            ),
            Err(Transport::Timeout),
            response(503, &[("request-id", "req_3")], None),
        ],
    );
    assert_eq!(result, Err(StopReason::AttemptsExhausted));

    let spans = collect.spans.lock().unwrap().clone();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let (&span_id, span) = spans.iter().next().unwrap();
    assert_eq!(span.name, "redial.call");
    assert_eq!(span.get("http.request.resend_count"), Some("2"));
    assert_eq!(span.get("redial.attempts"), Some("3"));
    assert_eq!(span.get("redial.stop_reason"), Some("attempts_exhausted"));

    let events = collect.events.lock().unwrap().clone();
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(
        events.iter().all(|e| e.parent == Some(span_id)),
        "{events:#?}"
    );

    let first = &events[0];
    assert_eq!(first.get("http.request.resend_count"), Some("1"));
    assert_eq!(first.get("http.response.status_code"), Some("529"));
    assert_eq!(first.get("error.type"), Some("overloaded_error"));
    assert_eq!(first.get("redial.request_id"), Some("req_1"));
    let wait_ms: u64 = first.get("redial.wait_ms").unwrap().parse().unwrap();
    assert!((2000..=2200).contains(&wait_ms), "{first:?}");
    assert!(
        first.get("redial.wait").unwrap().ends_with('s'),
        "{first:?}"
    );
    let message = first.get("message").unwrap();
    assert!(
        message.starts_with("attempt 1 failed: 529 overloaded_error"),
        "{message}"
    );
    assert!(message.ends_with("(request id req_1)"), "{message}");

    let second = &events[1];
    assert_eq!(second.get("http.request.resend_count"), Some("2"));
    assert_eq!(second.get("http.response.status_code"), None);
    assert_eq!(second.get("error.type"), Some("timeout"));
    assert_eq!(second.get("redial.request_id"), None);

    let last = &events[2];
    assert_eq!(last.get("redial.stop_reason"), Some("attempts_exhausted"));
    assert_eq!(last.get("redial.attempts"), Some("3"));
    assert_eq!(last.get("http.response.status_code"), Some("503"));
    assert_eq!(last.get("error.type"), Some("503"));
    assert_eq!(last.get("redial.request_id"), Some("req_3"));
    assert!(
        last.get("message")
            .unwrap()
            .starts_with("attempts_exhausted: 503"),
        "{last:?}"
    );
}

#[test]
fn a_call_that_succeeds_after_a_retry_closes_its_span_as_succeeded() {
    let collect = Collect::default();
    let result = run(
        &collect,
        vec![
            response(429, &[("retry-after", "1")], None),
            response(200, &[], None),
        ],
    );
    assert_eq!(result, Ok(()));
    let spans = collect.spans.lock().unwrap().clone();
    let span = spans.values().next().expect("a span");
    assert_eq!(span.get("redial.stop_reason"), Some("succeeded"));
    assert_eq!(span.get("redial.attempts"), Some("2"));
    assert_eq!(span.get("http.request.resend_count"), Some("1"));
    let events = collect.events.lock().unwrap().clone();
    assert_eq!(
        events.len(),
        1,
        "one retry, and no event for the success: {events:#?}"
    );
    assert_eq!(events[0].get("error.type"), Some("429"));
}

#[test]
fn a_call_that_succeeds_at_once_says_nothing() {
    let collect = Collect::default();
    assert_eq!(run(&collect, vec![response(200, &[], None)]), Ok(()));
    assert!(collect.spans.lock().unwrap().is_empty());
    assert!(collect.events.lock().unwrap().is_empty());
}

#[test]
fn a_request_that_is_not_retried_gets_its_closing_event() {
    let collect = Collect::default();
    let result = run(
        &collect,
        vec![response(
            400,
            &[("request-id", "req_400")],
            Some(ErrorType::InvalidRequest),
        )],
    );
    assert_eq!(result, Err(StopReason::NotRetryable));
    let events = collect.events.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].get("redial.stop_reason"), Some("not_retryable"));
    assert_eq!(events[0].get("error.type"), Some("invalid_request_error"));
    assert_eq!(events[0].get("redial.attempts"), Some("1"));
}

#[test]
fn a_ureq_status_that_arrives_as_an_error_warns_once() {
    use redial::HttpOutcome;

    let collect = Collect::default();
    listening(collect.clone(), || {
        for _ in 0..3 {
            let _ = ureq::Error::StatusCode(429).outcome();
        }
    });
    let events = collect.events.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "once per process: {events:#?}");
    assert_eq!(events[0].get("http.response.status_code"), Some("429"));
    let message = events[0].get("message").unwrap();
    assert!(message.contains("status 429 as an error"), "{message}");
    assert!(message.contains(".keep_status()"), "{message}");
}

/// What a `tracing-subscriber` formatter wrote, line by line.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Written {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Written {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Three attempts (529, timeout, 503) under the Anthropic preset, as `subscriber` prints
/// them.
fn three_failed_attempts(subscriber: impl Subscriber + Send + Sync + 'static) {
    let policy = Policy::preset(Preset::Anthropic);
    let mut script = vec![
        response(529, &[], Some(ErrorType::Overloaded)),
        Err(Transport::Timeout),
        response(503, &[], None),
    ]
    .into_iter();
    listening(subscriber, || {
        let result = (|| script.next().unwrap_or(Err(Transport::Other)))
            .retry(&policy)
            .sleeper(|_: Duration| {})
            .call();
        assert!(result.is_err());
    });
}

/// The fields a text line prints for the span: what lies between `redial.call{` and `}`.
fn span_fields(line: &str) -> Option<&str> {
    let from = line.find("redial.call{")? + "redial.call{".len();
    let len = line[from..].find('}')?;
    Some(&line[from..from + len])
}

#[test]
fn the_default_text_format_prints_each_span_field_once() {
    use tracing_subscriber::fmt::format::FmtSpan;

    let written = Written::default();
    let out = written.clone();
    three_failed_attempts(
        tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_span_events(FmtSpan::CLOSE)
            .finish(),
    );
    let lines = written.lines();
    // Two retries, the closing event, the span's close.
    assert_eq!(lines.len(), 4, "{lines:#?}");
    // The retries: each event carries its own resend count; the span has none yet.
    for (line, n) in lines[..2].iter().zip(1..) {
        assert_eq!(span_fields(line), None, "{line}");
        assert!(line.contains("redial.call: "), "{line}");
        let count = format!("http.request.resend_count={n}");
        assert_eq!(
            line.matches("http.request.resend_count=").count(),
            1,
            "{line}"
        );
        assert!(line.contains(&count), "{line}");
    }
    // The end: the span's fields, each once, with their final values.
    let fields = "http.request.resend_count=2 redial.attempts=3 \
                  redial.stop_reason=\"attempts_exhausted\"";
    for line in &lines[2..] {
        assert_eq!(span_fields(line), Some(fields), "{line}");
    }
    assert!(lines[2].contains("attempts_exhausted: 503"), "{}", lines[2]);
    assert!(lines[3].contains("close"), "{}", lines[3]);
}

#[test]
fn json_prints_the_span_fields_with_their_final_values() {
    let written = Written::default();
    let out = written.clone();
    three_failed_attempts(
        tracing_subscriber::fmt()
            .json()
            .with_writer(move || out.clone())
            .finish(),
    );
    let lines = written.lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let json: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    for (event, n) in json[..2].iter().zip(1..) {
        assert_eq!(event["fields"]["http.request.resend_count"], n, "{event}");
        assert_eq!(event["span"]["name"], "redial.call", "{event}");
        assert_eq!(
            event["span"].get("http.request.resend_count"),
            None,
            "{event}"
        );
    }
    let last = &json[2];
    let span = &last["span"];
    assert_eq!(span["name"], "redial.call", "{last}");
    assert_eq!(span["http.request.resend_count"], 2, "{last}");
    assert_eq!(span["redial.attempts"], 3, "{last}");
    assert_eq!(span["redial.stop_reason"], "attempts_exhausted", "{last}");
}

#[test]
fn a_call_the_pacer_stops_closes_its_span_as_rate_limited() {
    let mut rate = redial::pacer::PacerConfig::default();
    rate.max_wait = Duration::from_millis(1);
    let policy = Policy::builder()
        .pace(rate)
        .max_attempts(1)
        .build()
        .expect("valid");
    // A 429 teaches the pacer; the calls after it, at once, find their slot too far.
    let _ = (|| response(429, &[], None))
        .retry(&policy)
        .sleeper(|_: Duration| {})
        .call();
    let collect = Collect::default();
    let reasons: Vec<StopReason> = listening(collect.clone(), || {
        (0..10)
            .filter_map(|_| {
                (|| response(200, &[], None))
                    .retry(&policy)
                    .sleeper(|_: Duration| {})
                    .call()
                    .err()
                    .map(|e| e.reason())
            })
            .collect()
    });
    assert!(reasons.contains(&StopReason::RateLimited), "{reasons:?}");
    let spans = collect.spans.lock().unwrap().clone();
    let limited: Vec<_> = spans
        .values()
        .filter(|s| s.get("redial.stop_reason") == Some("rate_limited"))
        .collect();
    assert!(!limited.is_empty(), "{spans:#?}");
    assert_eq!(limited[0].get("redial.attempts"), Some("0"));
    let events = collect.events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| e.get("redial.stop_reason") == Some("rate_limited")),
        "{events:#?}"
    );
}

/// A clock that moves only when the call sleeps.
#[derive(Clone)]
struct Virtual(std::rc::Rc<std::cell::Cell<std::time::Instant>>);

impl redial::sleep::BlockingSleeper for Virtual {
    fn sleep(&mut self, duration: Duration) {
        self.0.set(self.0.get() + duration);
    }

    fn now(&self) -> std::time::Instant {
        self.0.get()
    }

    fn wall(&self) -> std::time::SystemTime {
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }
}

#[test]
fn the_span_says_how_long_the_call_waited_for_the_pacer() {
    let policy = Policy::builder()
        .pace(redial::pacer::PacerConfig::default())
        .max_attempts(2)
        .build()
        .expect("a valid policy");
    let clock = Virtual(std::rc::Rc::new(std::cell::Cell::new(
        std::time::Instant::now(),
    )));
    let once = |status: u16| {
        let mut script = vec![response(status, &[], None), response(500, &[], None)].into_iter();
        (|| script.next().unwrap_or(Err(Transport::Other)))
            .retry(&policy)
            .sleeper(clock.clone())
            .call()
            .map(drop)
    };
    // A 429 and its retry teach the pacer; the next call takes the free slot. (Under a
    // subscriber too: a callsite first reached with none is cached as uninteresting for
    // every test of this binary.)
    let warm = Collect::default();
    listening(warm, || {
        assert!(once(429).is_err());
        let _ = once(200);
    });
    let collect = Collect::default();
    let before = clock.0.get();
    let result = listening(collect.clone(), || once(503));
    assert!(result.is_err());
    let spans = collect.spans.lock().unwrap().clone();
    let span = spans.values().next().expect("a span");
    let ms: u64 = span
        .get("redial.paced_ms")
        .expect("recorded: the call waited")
        .parse()
        .expect("milliseconds");
    // The clock moved by the pacer's waits and the one retry's backoff.
    let moved = clock.0.get() - before;
    assert!(
        ms > 0 && Duration::from_millis(ms) <= moved + Duration::from_millis(10),
        "{ms} ms recorded for {moved:?}"
    );
    // A call that never waited records nothing for it.
    let unpaced = Collect::default();
    let _ = run(&unpaced, vec![response(503, &[], None)]);
    let spans = unpaced.spans.lock().unwrap().clone();
    let span = spans.values().next().expect("a span");
    assert_eq!(span.get("redial.paced_ms"), None);
}
