//! `redial decide`: the machine-readable form of `explain`, for tests and tooling.
//!
//! JSON Lines in, JSON Lines out: one output line per input line, in order. One policy
//! instance serves the whole run, so its budget carries from line to line, and one random
//! generator (seeded by `--seed`) serves every line, so a seed fixes the whole output.
//!
//! Input line (one call, its attempts in order):
//!
//! ```json
//! {"id": "a", "method": "POST", "now": "2026-11-23T10:00:00Z",
//!  "request_headers": {"idempotency-key": "k1"},
//!  "attempts": [
//!    {"at_ms": 0,    "status": 529, "headers": {"retry-after": "2"}, "error_type": "overloaded_error"},
//!    {"at_ms": 2100, "transport": "timeout"},
//!    {"at_ms": 5000, "stream_error": "overloaded_error"},
//!    {"at_ms": 9000, "status": 200}]}
//! ```
//!
//! - `id`: any JSON value, echoed back; `null` when absent.
//! - `method`: default `GET`; upper-cased.
//! - `now`: the wall clock when the call began (RFC 3339 or HTTP date), for HTTP dates and
//!   reset times in headers; attempt `i` arrives at wall clock `now + at_ms`. Default: the
//!   time `decide` started.
//! - `request_headers`: the request's own headers (`Idempotency-Key`).
//! - an attempt has either `status` (100 to 999, with optional `headers` and `error_type`),
//!   or `stream_error` (an error event after a 200; `status` may then be given as a 2xx),
//!   or `transport` (`connect`, `timeout`, `reset`, `other`). Header values are strings (or
//!   arrays of strings for a repeated header).
//! - `at_ms`: when the attempt's outcome arrived, in whole monotonic milliseconds since the
//!   call began (the machine's instant is `start + at_ms`). Absent, it is when the previous
//!   retry's delay ended (0 for the first attempt), as if attempts took no time. It may not
//!   go back in time.
//!
//! Output line: `{"id": …, "steps": [...]}`, one step per attempt processed:
//! `{"action": "retry", "delay_ms": N, "why": "…"}` (`delay_ms` whole milliseconds, rounded
//! down) or `{"action": "stop", "reason": "…", "why": "…"}`. Processing ends at the first
//! stop; later attempts are ignored. When the attempts run out before a stop, the steps end
//! with the last retry (the call is still in progress).
//! A stop's `why` is the [`Stop`](redial::Stop)'s own words: a retry the adaptive budget (the
//! throttle) refuses is `budget_exhausted` with its numbers, such as `"budget_exhausted:
//! throttled: 2 recent retries already, at most 2 allowed while the server is overloaded or
//! failing"`.
//!
//! Every input line gets one output line, in order, so answers pair with calls by position.
//! A line that is not JSON or not of this shape, a blank one included, gets `{"id": …,
//! "error": "…"}` (`id` null when it cannot be read) and touches neither the budget nor the
//! random generator; the run goes on. The exit status is 0 unless the policy or the input
//! cannot be read.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode};
use redial::classify::{Outcome, RequestFacts};
use redial::machine::Action;
use redial::{ErrorType, Policy, Rng, Transport};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::common::{
    fail, header, parse_method, parse_wall_clock, too_many_headers, PolicyArgs, MAX_HEADERS,
};

/// The longest input line read: 1 MiB. A longer line gets an error line (its bytes are read
/// and dropped, never held), so memory stays bounded whatever the input.
pub const MAX_LINE: usize = 1 << 20;

/// The options of `redial decide`.
#[derive(clap::Args, Debug)]
#[command(after_help = r#"Input, one call per line:
  {"id": "a", "method": "POST", "now": "2026-11-23T10:00:00Z",
   "request_headers": {"idempotency-key": "k1"},
   "attempts": [
     {"at_ms": 0,    "status": 529, "headers": {"retry-after": "2"}, "error_type": "overloaded_error"},
     {"at_ms": 2100, "transport": "timeout"},
     {"at_ms": 5000, "status": 200}]}
An attempt has "status" (with optional "headers", "error_type"), "stream_error" (an error
event after a 200) or "transport" (connect | timeout | reset | other). A missing "at_ms"
is when the previous retry's delay ended.

Output, one line per input line, in order (here with --seed 7):
  {"id": "a", "steps": [
     {"action": "retry", "delay_ms": 2154, "why": "529 overloaded_error; server asked 2s (retry-after)"},
     {"action": "retry", "delay_ms": 222, "why": "timeout; backoff 2 of 2"},
     {"action": "stop", "reason": "succeeded", "why": "succeeded: after 3 attempt(s)"}]}
Processing of a call ends at its first stop; steps that end with a retry mean the call
was still going. A malformed line gets {"id": ..., "error": "..."} and the run goes on.
One policy, and so one retry budget, serves the whole run.

Examples:
  redial decide --preset anthropic --seed 7 < calls.jsonl
  redial decide --policy retry.toml calls.jsonl"#)]
pub struct DecideArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Seed for jitter and hint spread [default: random].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Read calls from this file instead of stdin ('-' is stdin).
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
}

/// Runs `redial decide`.
pub fn run(args: DecideArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let input: Box<dyn Read> = match &args.input {
        Some(path) if path.as_os_str() != "-" => match std::fs::File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) => return fail(format!("{}: {e}", path.display())),
        },
        _ => Box::new(io::stdin()),
    };
    let mut rng = match args.seed {
        Some(seed) => Rng::with_seed(seed),
        None => Rng::new(),
    };
    let mut session = Session::new(&policy);
    let mut out = io::stdout().lock();
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        let answer = match read_line(&mut input, &mut line, MAX_LINE) {
            Ok(None) => break,
            Ok(Some(true)) => session.answer(&line, &mut rng),
            Ok(Some(false)) => Session::too_long(),
            Err(e) => return fail(format!("reading input: {e}")),
        };
        if let Err(e) = writeln!(out, "{answer}") {
            // A closed pipe (`| head`) is the reader's choice, not an error.
            if e.kind() == io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
            return fail(format!("writing output: {e}"));
        }
    }
    ExitCode::SUCCESS
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `max` bytes: `None` at
/// the end of the input, `Some(false)` for a line longer than `max` (the rest of it is read
/// and dropped, and `buf` is left empty).
///
/// ```
/// use redial_cli::decide::read_line;
/// let mut input = &b"short\nmuch too long\nlast"[..];
/// let mut buf = Vec::new();
/// assert_eq!(read_line(&mut input, &mut buf, 5)?, Some(true));
/// assert_eq!(buf, b"short");
/// assert_eq!(read_line(&mut input, &mut buf, 5)?, Some(false));
/// assert_eq!(read_line(&mut input, &mut buf, 5)?, Some(true));
/// assert_eq!(buf, b"last");
/// assert_eq!(read_line(&mut input, &mut buf, 5)?, None);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let (mut any, mut fits) = (false, true);
    loop {
        let available = match input.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let end = available.iter().position(|&b| b == b'\n');
        let chunk = available
            .get(..end.unwrap_or(available.len()))
            .unwrap_or(&[]);
        if fits && buf.len() + chunk.len() <= max {
            buf.extend_from_slice(chunk);
        } else {
            fits = false;
            buf.clear();
        }
        let used = end.map_or(available.len(), |i| i + 1);
        input.consume(used);
        if end.is_some() {
            return Ok(Some(fits));
        }
    }
}

/// What every line shares: the policy (and its budget) and the clocks' origins.
#[derive(Debug)]
pub struct Session<'p> {
    policy: &'p Policy,
    /// The monotonic origin of every call: only differences matter to the machine.
    start: Instant,
    /// The wall clock for lines without `now`.
    wall: SystemTime,
}

impl<'p> Session<'p> {
    /// A session on the clocks as they are now.
    pub fn new(policy: &'p Policy) -> Self {
        Session::at(policy, Instant::now(), SystemTime::now())
    }

    /// A session whose calls begin at `start` (monotonic) and, where a line gives no `now`,
    /// at `wall`: with a seeded generator, the same lines then give the same answers.
    ///
    /// ```
    /// use std::time::{Instant, SystemTime};
    /// use redial::{Policy, Rng};
    /// use redial_cli::decide::Session;
    ///
    /// let policy = Policy::default();
    /// let (start, wall) = (Instant::now(), SystemTime::UNIX_EPOCH);
    /// let line = br#"{"attempts": [{"status": 503}]}"#;
    /// let a = Session::at(&policy, start, wall).answer(line, &mut Rng::with_seed(1));
    /// let b = Session::at(&Policy::default(), start, wall).answer(line, &mut Rng::with_seed(1));
    /// assert_eq!(a, b);
    /// ```
    pub fn at(policy: &'p Policy, start: Instant, wall: SystemTime) -> Self {
        Session {
            policy,
            start,
            wall,
        }
    }

    /// The output line for one input line (without its `\n`): one JSON object, on one
    /// line: the call's steps, or its error.
    pub fn answer(&mut self, line: &[u8], rng: &mut Rng) -> String {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let answer = match self.parse(line) {
            Ok(call) => {
                let steps = self.run(&call, rng);
                serde_json::to_string(&Steps { id: call.id, steps })
            }
            Err((id, error)) => serde_json::to_string(&Failed { id, error }),
        };
        // Serializing these plain structs cannot fail; keep the protocol even if it did.
        answer.unwrap_or_else(|e| {
            format!("{{\"id\":null,\"error\":{}}}", Value::String(e.to_string()))
        })
    }

    /// The answer to a line longer than [`MAX_LINE`].
    pub fn too_long() -> String {
        format!(
            "{{\"id\":null,\"error\":\"line longer than {} MiB, the most decide reads; split the call or drop what it does not need\"}}",
            MAX_LINE >> 20
        )
    }

    fn parse(&self, line: &[u8]) -> Result<Call, (Value, String)> {
        let text = std::str::from_utf8(line).map_err(|_| (Value::Null, "not UTF-8".to_string()))?;
        if text.trim().is_empty() {
            // JSON Lines has no blank lines; answering keeps answers paired with lines.
            return Err((
                Value::Null,
                "empty line: expected a JSON object".to_string(),
            ));
        }
        let value: Value = serde_json::from_str::<Unique>(text)
            .map(|u| u.0)
            .map_err(|e| (Value::Null, format!("not JSON: {}", without_line(&e))))?;
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        let bad = |msg: String| (id.clone(), msg);
        if !value.is_object() {
            return Err(bad("expected an object with \"attempts\"".into()));
        }
        let raw: RawCall =
            serde_json::from_value(value.clone()).map_err(|e| bad(without_line(&e)))?;
        let method = match &raw.method {
            Some(m) => parse_method(m).map_err(|e| bad(format!("method: {e}")))?,
            None => Method::GET,
        };
        let wall = match &raw.now {
            Some(now) => parse_wall_clock(now).map_err(|e| bad(format!("now: {e}")))?,
            None => self.wall,
        };
        let request_headers = match &raw.request_headers {
            Some(map) => headers(map).map_err(|e| bad(format!("request_headers: {e}")))?,
            None => HeaderMap::new(),
        };
        let mut attempts = Vec::with_capacity(raw.attempts.len());
        let mut last_at: Option<u64> = None;
        for (i, value) in raw.attempts.into_iter().enumerate() {
            let attempt =
                attempt(value, &mut last_at).map_err(|e| bad(format!("attempts[{i}]: {e}")))?;
            attempts.push(attempt);
        }
        Ok(Call {
            id,
            facts: RequestFacts::from_parts(&method, &request_headers),
            wall,
            attempts,
        })
    }

    fn run(&self, call: &Call, rng: &mut Rng) -> Vec<Step> {
        let mut machine = self.policy.start(self.start);
        let mut steps = Vec::with_capacity(call.attempts.len());
        // When the previous retry's delay ended: the default for a missing `at_ms`.
        let mut due = Duration::ZERO;
        for attempt in &call.attempts {
            let at = attempt.at.unwrap_or(due);
            let now = self.start.checked_add(at).unwrap_or(self.start);
            let wall = call.wall.checked_add(at).unwrap_or(call.wall);
            let outcome = match &attempt.kind {
                Kind::Transport(kind) => Outcome::Transport(*kind),
                Kind::Response {
                    status,
                    headers,
                    error_type,
                } => {
                    let o = Outcome::response(*status, headers);
                    match error_type {
                        Some(t) => o.with_error_type(*t),
                        None => o,
                    }
                }
            };
            let verdict = self.policy.classify(&call.facts, &outcome, wall);
            match machine.on_outcome(&verdict, now, rng) {
                Action::Retry(retry) => {
                    due = at.saturating_add(retry.delay);
                    steps.push(Step::Retry {
                        delay_ms: u64::try_from(retry.delay.as_millis()).unwrap_or(u64::MAX),
                        why: retry.to_string(),
                    });
                }
                Action::Stop(stop) => {
                    steps.push(Step::Stop {
                        reason: stop.reason().as_str(),
                        why: stop.to_string(),
                    });
                    break;
                }
            }
        }
        steps
    }
}

/// serde_json's message without its " at line 1 column N" (every input is one line).
fn without_line(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(at) => format!(
            "{} (column {})",
            message.get(..at).unwrap_or(&message),
            e.column()
        ),
        None => message,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    #[serde(default)]
    #[allow(dead_code)] // Read before the shape is checked, so it survives a bad shape.
    id: Value,
    method: Option<String>,
    now: Option<String>,
    request_headers: Option<Map<String, Value>>,
    attempts: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttempt {
    at_ms: Option<u64>,
    status: Option<u16>,
    headers: Option<Map<String, Value>>,
    error_type: Option<String>,
    stream_error: Option<String>,
    transport: Option<String>,
}

struct Call {
    id: Value,
    facts: RequestFacts,
    wall: SystemTime,
    attempts: Vec<Attempt>,
}

struct Attempt {
    at: Option<Duration>,
    kind: Kind,
}

enum Kind {
    Response {
        status: StatusCode,
        headers: HeaderMap,
        error_type: Option<ErrorType>,
    },
    Transport(Transport),
}

fn attempt(value: Value, last_at: &mut Option<u64>) -> Result<Attempt, String> {
    if !value.is_object() {
        return Err("expected an object".into());
    }
    let raw: RawAttempt = serde_json::from_value(value).map_err(|e| without_line(&e))?;
    if let Some(at) = raw.at_ms {
        if let Some(before) = *last_at {
            if at < before {
                return Err(format!(
                    "at_ms {at} is earlier than the attempt before ({before})"
                ));
            }
        }
        *last_at = Some(at);
    }
    let at = raw.at_ms.map(Duration::from_millis);
    if let Some(kind) = &raw.transport {
        if raw.status.is_some()
            || raw.headers.is_some()
            || raw.error_type.is_some()
            || raw.stream_error.is_some()
        {
            return Err(
                "\"transport\" means no response arrived: give it without \"status\", \"headers\", \"error_type\" or \"stream_error\""
                    .into(),
            );
        }
        let kind = kind
            .parse::<Transport>()
            .map_err(|e| format!("transport: {e}, found {kind:?}"))?;
        return Ok(Attempt {
            at,
            kind: Kind::Transport(kind),
        });
    }
    let status = match (raw.status, &raw.stream_error) {
        (Some(code), _) => StatusCode::from_u16(code)
            .map_err(|_| format!("status: expected 100 to 999, found {code}"))?,
        (None, Some(_)) => StatusCode::OK,
        (None, None) => return Err("expected \"status\", \"stream_error\" or \"transport\"".into()),
    };
    let error_type = match (&raw.error_type, &raw.stream_error) {
        (Some(_), Some(_)) => {
            return Err("give \"error_type\" or \"stream_error\", not both".into())
        }
        (Some(t), None) => Some(ErrorType::from_name(t)),
        (None, Some(t)) => {
            if !status.is_success() {
                return Err(format!(
                    "\"stream_error\" is an error event after a 2xx; for a {status} give \"error_type\""
                ));
            }
            Some(ErrorType::from_name(t))
        }
        (None, None) => None,
    };
    let headers = match &raw.headers {
        Some(map) => headers(map).map_err(|e| format!("headers: {e}"))?,
        None => HeaderMap::new(),
    };
    Ok(Attempt {
        at,
        kind: Kind::Response {
            status,
            headers,
            error_type,
        },
    })
}

/// A header object: each value a string, or an array of strings for a repeated header;
/// at most [`MAX_HEADERS`] values in all.
fn headers(map: &Map<String, Value>) -> Result<HeaderMap, String> {
    let mut out = HeaderMap::new();
    let mut count = 0usize;
    for (name, value) in map {
        let values: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| format!("{name}: expected strings"))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(format!("{name}: expected a string")),
        };
        for v in values {
            count += 1;
            if count > MAX_HEADERS {
                return Err(too_many_headers());
            }
            let (name, value) = header(name, v)?;
            out.append(name, value);
        }
    }
    Ok(out)
}

/// A JSON value whose objects have no key twice: serde_json keeps the last of a repeated
/// key silently, so `{"id": "a", "id": "b"}` answered as `b` (issue 13).
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key `{key}`: give each key once"
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[derive(Serialize)]
struct Steps {
    id: Value,
    steps: Vec<Step>,
}

#[derive(Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum Step {
    Retry { delay_ms: u64, why: String },
    Stop { reason: &'static str, why: String },
}

#[derive(Serialize)]
struct Failed {
    id: Value,
    error: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop_assert, proptest};
    use redial::Rng;

    fn answer(policy: &Policy, line: &str) -> Value {
        let mut session = Session::new(policy);
        let out = session.answer(line.as_bytes(), &mut Rng::with_seed(1));
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn a_missing_at_ms_is_when_the_retry_was_due() {
        // With max_elapsed 1s, the third attempt arrives after two backoffs that end past
        // it only if at_ms follows the delays.
        let policy = Policy::builder()
            .max_attempts(5)
            .jitter(redial::backoff::Jitter::None)
            .base(Duration::from_millis(400))
            .max_elapsed(Duration::from_millis(1500))
            .build()
            .unwrap();
        let out = answer(
            &policy,
            r#"{"attempts": [{"status": 503}, {"status": 503}, {"status": 503}]}"#,
        );
        // 400 ms, then 800 ms (ends at 1200), then 1600 ms would end at 2800 > 1500.
        assert_eq!(out["steps"][0]["delay_ms"], 400);
        assert_eq!(out["steps"][1]["delay_ms"], 800);
        assert_eq!(out["steps"][2]["reason"], "deadline_exceeded");
    }

    #[test]
    fn ids_survive_a_bad_shape() {
        let out = answer(
            &Policy::default(),
            r#"{"id": 7, "attempts": [{"statu": 503}]}"#,
        );
        assert_eq!(out["id"], 7);
        assert!(out["error"]
            .as_str()
            .unwrap()
            .starts_with("attempts[0]: unknown field `statu`"));
    }

    /// The default float parser read `1.5e-030` one unit in the last place off, so the
    /// answer carried another id (found by the `decide_line` fuzz target).
    #[test]
    fn issue_5_a_float_id_is_echoed_exactly() {
        let policy = Policy::default();
        for (id, echoed) in [
            ("1.5e-030", "1.5e-30"),
            ("0.1", "0.1"),
            ("2.2250738585072011e-308", "2.225073858507201e-308"),
        ] {
            let line = format!(r#"{{"id": {id}, "attempts": [{{"status": 200}}]}}"#);
            let mut session = Session::new(&policy);
            let out = session.answer(line.as_bytes(), &mut Rng::with_seed(1));
            assert!(
                out.starts_with(&format!(r#"{{"id":{echoed},"#)),
                "{id}: {out}"
            );
        }
    }

    proptest! {
        #[test]
        fn prop_any_line_gets_one_json_answer(line in "\\PC{0,200}") {
            let policy = Policy::default();
            let mut session = Session::new(&policy);
            let out = session.answer(line.as_bytes(), &mut Rng::with_seed(0));
            let v: Value = serde_json::from_str(&out).unwrap();
            prop_assert!(v.get("steps").is_some() || v.get("error").is_some());
            prop_assert!(!out.contains('\n'));
        }

        #[test]
        fn prop_shaped_lines_never_panic(
            statuses in proptest::collection::vec(0u16..1100, 0..6),
            at in proptest::collection::vec(proptest::option::of(any::<u64>()), 6),
            retry_after in "[0-9a-zA-Z ,:]{0,12}",
        ) {
            let attempts: Vec<Value> = statuses.iter().zip(&at).map(|(s, at)| {
                let mut a = serde_json::json!({"status": s, "headers": {"retry-after": retry_after}});
                if let Some(at) = at { a["at_ms"] = (*at).into(); }
                a
            }).collect();
            let line = serde_json::json!({"id": "p", "attempts": attempts}).to_string();
            let policy = Policy::default();
            let mut session = Session::new(&policy);
            let out = session.answer(line.as_bytes(), &mut Rng::with_seed(0));
            let _: Value = serde_json::from_str(&out).unwrap();
        }
    }
}
