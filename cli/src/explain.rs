//! `redial explain`: what happens after one response (or transport failure), in one sentence
//! a person can act on: retry or not, after how long, and which rule and header decided.
//!
//! The decision is the library's: the outcome is classified by the policy and fed, as a
//! call's first attempt, to a fresh machine. Only the wording is this module's.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use redial::backoff::Jitter;
use redial::budget::rule;
use redial::budget::{BudgetConfig, BudgetKind, Throttle};
use redial::classify::{NonIdempotent, Outcome, RequestFacts, Rule};
use redial::duration::Rounded;
use redial::gate::{Gate, GateConfig};
use redial::hints::{self, HintSource, Parsed};
use redial::machine::{Action, Basis, Retry};
use redial::pacer::{Engage, Pacer, Quota};
use redial::{Cause, ErrorType, Policy, Rng, Stop, Transport, Verdict};

use redial_cli::common::{
    fail, header_map, parse_header, parse_method, parse_wall_clock, show, PolicyArgs,
};

/// The options of `redial explain`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  redial explain --status 429 --header 'retry-after: 30'
  redial explain --status 502 --method POST
  redial explain --preset anthropic --status 200 --error-type overloaded_error --method POST
  redial explain --status 503 --header 'retry-after: Mon, 23 Nov 2026 10:00:30 GMT' --now 2026-11-23T10:00:00Z
  redial explain --transport timeout --method PUT")]
pub struct ExplainArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// The response's status code.
    #[arg(long, value_name = "CODE", value_parser = parse_status,
          required_unless_present = "transport", conflicts_with = "transport")]
    status: Option<StatusCode>,
    /// A response header, as 'name: value' (repeat for more).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = parse_header,
          conflicts_with = "transport")]
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The request's method.
    #[arg(long, default_value = "GET", value_parser = parse_method)]
    method: Method,
    /// A request header, such as 'Idempotency-Key: 7c4a8d09' (repeat for more).
    #[arg(long = "request-header", value_name = "NAME: VALUE", value_parser = parse_header)]
    request_headers: Vec<(HeaderName, HeaderValue)>,
    /// The API error type from the body; with --status 200, an error event in the stream.
    #[arg(long, value_name = "TYPE", conflicts_with = "transport")]
    error_type: Option<String>,
    /// A transport failure instead of a response: connect, timeout, reset or other.
    #[arg(long, value_name = "KIND", value_parser = parse_transport)]
    transport: Option<Transport>,
    /// The wall clock when the response arrived (RFC 3339 or HTTP date) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_wall_clock)]
    now: Option<SystemTime>,
    /// Which attempt this outcome ends (1 is the first call; 3 is the second retry's).
    /// Earlier attempts are taken as connect failures that were retried.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    attempt: u32,
    /// How long the call has run when this outcome arrives, as a duration (`2.5s`)
    /// [default: 0s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    elapsed: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    redial::duration::parse(s.trim()).map_err(|e| e.to_string())
}

fn parse_status(s: &str) -> Result<StatusCode, String> {
    s.trim()
        .parse::<u16>()
        .ok()
        .and_then(|n| StatusCode::from_u16(n).ok())
        .ok_or_else(|| format!("expected a status code from 100 to 999, found {s:?}"))
}

fn parse_transport(s: &str) -> Result<Transport, String> {
    s.parse::<Transport>().map_err(|e| e.to_string())
}

/// Runs `redial explain`.
pub fn run(args: ExplainArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    // Read before the budget is dropped below: a rebuilt policy keeps `[fleet]` but not a
    // gate set in code.
    let gate = gate_of(&policy);
    let budget = *policy.rules().budget_config();
    // A later attempt is explained without the retry budget: its level depends on the whole
    // process's traffic, which one command line cannot know (`redial simulate` shows it).
    let policy = if args.attempt > 1 {
        match policy.to_builder().no_budget().build() {
            Ok(p) => p,
            Err(e) => return fail(e),
        }
    } else {
        policy
    };
    let (headers, request) = match (
        header_map(args.headers.iter().cloned()),
        header_map(args.request_headers.iter().cloned()),
    ) {
        (Ok(h), Ok(r)) => (h, r),
        (Err(e), _) => return fail(format!("--header: {e}")),
        (_, Err(e)) => return fail(format!("--request-header: {e}")),
    };
    let wall = args.now.unwrap_or_else(SystemTime::now);
    let error_type = args.error_type.as_deref().map(ErrorType::from_name);
    let outcome = match (args.transport, args.status) {
        (Some(kind), _) => Outcome::Transport(kind),
        (None, Some(status)) => {
            let o = Outcome::response(status, &headers);
            match error_type {
                Some(t) => o.with_error_type(t),
                None => o,
            }
        }
        (None, None) => return fail("give --status or --transport"),
    };
    let input = Input {
        policy: &policy,
        method: &args.method,
        idempotency_key: request.contains_key("idempotency-key"),
        headers: &headers,
        status: args.status.map(|s| s.as_u16()),
        wall,
    };
    let facts = RequestFacts::from_parts(&args.method, &request);
    let verdict = policy.classify(&facts, &outcome, wall);
    let start = Instant::now();
    let now = start + args.elapsed.unwrap_or_default();
    let mut call = policy.start(start);
    // The seed does not matter: the sentence gives the delay's whole range.
    let mut rng = Rng::with_seed(0);
    // Earlier attempts: connect failures (retryable for every method and status table),
    // made at the call's start so that they use none of `max_elapsed`.
    let earlier = policy.classify(&facts, &Outcome::Transport(Transport::Connect), wall);
    for attempt in 1..args.attempt {
        if let Action::Stop(stop) = call.on_outcome(&earlier, start, &mut rng) {
            println!(
                "The call never reaches attempt {}: attempt {attempt} ends it ({stop}).",
                args.attempt
            );
            return ExitCode::SUCCESS;
        }
    }
    let action = call.on_outcome(&verdict, now, &mut rng);
    if args.attempt > 1 || args.elapsed.is_some() {
        println!(
            "Attempt {} of at most {}, {} into the call:",
            args.attempt,
            policy.rules().max_attempts(),
            Rounded(args.elapsed.unwrap_or_default())
        );
    }
    println!("{}", explain(&input, &verdict, &action));
    if let Some(sentence) = gate.and_then(|g| gate_sentence(&input, &g)) {
        println!("{sentence}");
    }
    if let Some(sentence) = pacer_sentence(&input, &verdict) {
        println!("{sentence}");
    }
    for note in notes(&input, &verdict) {
        println!("Note: {note}");
    }
    if args.attempt > 1 {
        println!(
            "Note: the retry budget is left out: it depends on the whole process's traffic \
             (see redial simulate){}.",
            throttle_rule(&budget)
        );
    }
    ExitCode::SUCCESS
}

struct Input<'a> {
    policy: &'a Policy,
    method: &'a Method,
    idempotency_key: bool,
    headers: &'a HeaderMap,
    status: Option<u16>,
    wall: SystemTime,
}

/// The sentence.
fn explain(input: &Input<'_>, verdict: &Verdict, action: &Action) -> String {
    match action {
        Action::Retry(retry) => retry_sentence(input, retry),
        Action::Stop(stop) => stop_sentence(input, verdict, stop),
    }
}

/// `Retry after 30s to 31s: <why retryable> <why safe>; <where the wait comes from>.`
fn retry_sentence(input: &Input<'_>, retry: &Retry) -> String {
    let rules = input.policy.rules();
    let why = format!(
        "{} {}",
        why_retryable(&retry.cause),
        why_safe(input, &retry.cause)
    );
    match retry.basis {
        Basis::Hint(hint) | Basis::ClampedHint { hint, .. } => {
            let asked = hint.wait.min(rules.max_hint());
            let spread = (asked / 10).min(Duration::from_secs(1));
            let wait = if hint.wait > rules.max_hint() {
                format!(
                    "the server asked for {} in {}, more than max_hint {}, so the wait is \
                     clamped to {} (on_long_hint = \"clamp\")",
                    Rounded(hint.wait),
                    hint.source,
                    Rounded(rules.max_hint()),
                    Rounded(rules.max_hint())
                )
            } else if hint.wait.is_zero() && gave_a_date(input.headers, hint.source) {
                format!(
                    "the server asked to wait until a date in {}, and that date has passed, \
                     so the retry is made at once",
                    hint.source
                )
            } else {
                format!(
                    "the wait is the {} the server asked for in {}",
                    show(hint.wait),
                    hint.source
                )
            };
            let spread_text = if spread.is_zero() {
                String::new()
            } else {
                format!(
                    ", plus up to {} so that clients told the same time do not all return at once",
                    show(spread)
                )
            };
            format!(
                "Retry after {}: {why}; {wait}{spread_text}.",
                range(asked, asked + spread)
            )
        }
        _ => {
            let backoff = rules.backoff();
            let raw = backoff.raw(retry.retry);
            let curve = format!("{} backoff's {}", backoff.curve(), show(raw));
            let (low, high, wait) = match backoff.jitter() {
                Jitter::None => (raw, raw, format!("the {curve} (no jitter")),
                Jitter::Full => (
                    Duration::ZERO,
                    raw,
                    format!("a random part of the {curve} (full jitter"),
                ),
                Jitter::Equal => (
                    raw / 2,
                    raw,
                    format!("between half and all of the {curve} (equal jitter"),
                ),
                Jitter::Proportional(r) => (
                    raw.mul_f64((1.0 - r).clamp(0.0, 1.0)),
                    raw,
                    format!(
                        "the {curve} less up to {}% (proportional jitter",
                        (r * 10_000.0).round() / 100.0
                    ),
                ),
                _ => {
                    // Decorrelated: the first retry's "previous delay" is base.
                    let (base, cap) = (backoff.base(), backoff.cap());
                    let high = base.saturating_mul(3).min(cap).max(base);
                    (
                        base,
                        high,
                        format!(
                            "a random delay from base {} to {} (decorrelated jitter",
                            show(base),
                            show(high)
                        ),
                    )
                }
            };
            format!(
                "Retry after {}: {why}; the server gave no usable wait, so the wait is {wait}, \
                 retry {} of {}).",
                range(low, high),
                retry.retry,
                retry.max_retries,
            )
        }
    }
}

fn stop_sentence(input: &Input<'_>, verdict: &Verdict, stop: &Stop) -> String {
    let rules = input.policy.rules();
    let reason = stop.reason();
    match *stop {
        Stop::Succeeded { .. } => match input.status {
            Some(status) => format!("Nothing to retry ({reason}): {status} is a success."),
            None => format!("Nothing to retry ({reason}): the attempt succeeded."),
        },
        Stop::NotRetryable { cause } => {
            format!("Do not retry ({reason}): {}.", why_fatal(input, &cause))
        }
        Stop::AttemptsExhausted { cause, .. } => format!(
            "Do not retry ({reason}): {} {}, but max_attempts is {}, so no retry is left.",
            why_retryable(&cause),
            why_safe(input, &cause),
            rules.max_attempts()
        ),
        Stop::HintTooLong { asked, max } => {
            let source = verdict
                .hint()
                .map_or_else(|| "a header".to_string(), |h| h.source.to_string());
            format!(
                "Do not retry ({reason}): the server asked for {} in {source}, more than \
                 max_hint {}, so the call fails now rather than hold its caller that long \
                 (on_long_hint = \"clamp\" would wait {} instead).",
                Rounded(asked),
                Rounded(max),
                Rounded(max)
            )
        }
        Stop::DeadlineExceeded { wait, limit, .. } => format!(
            "Do not retry ({reason}): {} {}, but its wait of {} would end past max_elapsed {}.",
            verdict
                .cause()
                .map_or_else(|| "the failure is retryable".to_string(), why_retryable),
            verdict
                .cause()
                .map_or_else(String::new, |c| why_safe(input, c)),
            show(wait),
            Rounded(limit)
        ),
        Stop::BudgetExhausted { cost, available } => format!(
            "Do not retry ({reason}): the retry budget holds {available} tokens and a retry \
             costs {cost}."
        ),
        Stop::Throttled { why, .. } => {
            let display = stop.to_string();
            let numbers = display
                .strip_prefix(&format!("{reason}: throttled: "))
                .unwrap_or(&display);
            let budget = rules.budget_config();
            let window = Rounded(budget.window);
            let rule = match why {
                Throttle::Failing { .. } => format!(
                    "overload_ratio {} per recent first attempt over a {window} window, while \
                     nothing succeeds",
                    budget.overload_ratio
                ),
                Throttle::Shedding => format!(
                    "the shed ratio, down to overload_ratio {} per recent first attempt as more \
                     of the attempts since the failures began fail, over a {window} window",
                    budget.overload_ratio
                ),
                _ => format!(
                    "retry_ratio {} per recent first attempt, plus min_retries {}, over a \
                     {window} window",
                    budget.retry_ratio, budget.min_retries
                ),
            };
            format!(
                "Do not retry ({reason}): the throttle (the adaptive retry budget) refuses it: \
                 {numbers} ({rule})."
            )
        }
        _ => format!("Do not retry: {stop}."),
    }
}

/// The rate-limit gate's settings and whom it holds: the `[fleet]` table's (every process
/// naming the key), else a gate set in code (this policy's calls); `None` without a gate.
fn gate_of(policy: &Policy) -> Option<(GateConfig, String)> {
    match (policy.fleet_config(), policy.gate()) {
        (Some(fleet), _) => Some((
            fleet.gate_config(),
            format!("of every process naming fleet key {:?}", fleet.key()),
        )),
        (None, Some(gate)) => Some((*gate.config(), "through this policy".to_string())),
        (None, None) => None,
    }
}

/// What the rate pacer learns from this response, if anything: a 429 cuts its rate (for
/// a pacer engaged by a hint or a quota, once a 429 that engages it has come), a stated
/// quota is paced to. Only the wording is here; the numbers are the library's
/// (the policy's CUBIC cut, `Pacer::MEASURE_FIRST`, `Pacer::THROTTLE_HOLD`,
/// `Quota::from_headers`).
fn pacer_sentence(input: &Input<'_>, verdict: &Verdict) -> Option<String> {
    let config = input.policy.pacer()?.config();
    let limit = format!(
        "a slot further than max_wait {} past any hold the server stated (or past the \
         call's deadline) stops the call with rate_limited, before it is sent",
        Rounded(config.max_wait)
    );
    let cut = config.cubic.beta * 100.0;
    let held = held(input, verdict);
    if config.engage == Engage::Quota {
        // Stateless, as below: only a 429 engages it.
        return (input.status == Some(429)).then(|| quota_engaged(input, verdict, &limit, cut));
    }
    if config.engage == Engage::Hint {
        // Stateless: what this answer does to a pacer no earlier answer engaged.
        return match (input.status, verdict.hint()) {
            (Some(429), Some(_)) => Some(format!(
                "This 429 says how long to wait, which engages the rate pacer (engage = \
                 \"hint\"): {held}it measures the rate the calls send for {}, then each 429 \
                 cuts it to {cut:.0} % of that and holds the next send for {}, successes \
                 grow it back, and every attempt of this policy's calls to the host waits \
                 for its slot; {limit}.",
                Rounded(Pacer::MEASURE_FIRST),
                Rounded(Pacer::THROTTLE_HOLD)
            )),
            (Some(429), None) => Some(
                "The rate pacer is not engaged by a 429 that does not say how long to wait \
                 (engage = \"hint\"): such a 429 cuts its rate only once one that does has \
                 engaged it."
                    .to_string(),
            ),
            _ => None,
        };
    }
    if input.status == Some(429) {
        return Some(format!(
            "The rate pacer learns a throttle: {held}its rate is cut to {:.0} % of what the \
             calls were sending and the next send is held for {}, then the rate grows back \
             on successes, and every attempt of this policy's calls waits for its slot; \
             {limit}.",
            cut,
            Rounded(Pacer::THROTTLE_HOLD)
        ));
    }
    let quota = Quota::from_headers(input.headers, input.wall)?;
    let rate = quota
        .rate()
        .map_or(String::new(), |r| format!(", about {r:.1} requests/s"));
    Some(format!(
        "The rate pacer reads the quota: {} requests remain for {}{rate}; once spending them \
         at the rate sent would run out before the reset, attempts are paced to it; {limit}.",
        quota.remaining,
        Rounded(quota.reset)
    ))
}

/// What a 429 does to the presets' pacer ([`Engage::Quota`]), which no earlier answer
/// engaged: a stated quota engages it, a wait that states none is checked first, and a
/// 429 with neither teaches it nothing.
fn quota_engaged(input: &Input<'_>, verdict: &Verdict, limit: &str, cut: f64) -> String {
    let stated = Quota::from_headers(input.headers, input.wall).is_some();
    if stated {
        return format!(
            "This 429 states the server's quota, which engages the rate pacer (engage = \
             \"quota\"): {}it measures the rate the calls send for {}, then each 429 that \
             states a quota cuts it to {cut:.0} % of that and holds the next send for {}, \
             successes grow it back, and every attempt of this policy's calls to the host \
             waits for its slot; {limit}.",
            held(input, verdict),
            Rounded(Pacer::MEASURE_FIRST),
            Rounded(Pacer::THROTTLE_HOLD)
        );
    }
    let wait = verdict.hint().map(|h| h.wait);
    let checkable = Pacer::CHECK_AFTER + Pacer::CHECK_SLACK;
    match wait {
        Some(w) if w > checkable => format!(
            "This 429 says to wait {} but states no quota, as a brown-out's 429s may \
             (engage = \"quota\"): the rate pacer holds every attempt of this policy's \
             calls to the host for {}, then lets one go to check. Refused with the same \
             end, the window is spent: the hold lasts until it ends, and for {} such 429s \
             hold unchecked and cut the pacer's rate to {cut:.0} % of what the calls send; \
             succeeding, waits that state no quota hold nothing for {}. {}.",
            Rounded(w),
            Rounded(Pacer::CHECK_AFTER),
            Rounded(Pacer::CHECKED_FOR),
            Rounded(Pacer::CHECKED_FOR),
            capitalised(limit)
        ),
        Some(w) if w > Quota::WINDOW_AFTER => format!(
            "The rate pacer does not hold for this 429's wait of {}, which states no quota \
             and ends too soon to check (engage = \"quota\"); it would, once a longer wait \
             had been checked and found a window's.",
            Rounded(w)
        ),
        _ => "The rate pacer learns nothing from a 429 that states no quota (engage = \
              \"quota\"): a brown-out's 429s look the same; a [rate] table paces a limiter \
              that only says Retry-After."
            .to_string(),
    }
}

/// `s` with its first letter upper-case.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

/// `it holds … first; ` when a 429 holds the pacer until a reset: a spent quota the
/// headers state, or a wait longer than `Quota::WINDOW_AFTER` (a window's reset). The
/// hold is the library's own reading (`Quota::of_answer`, as `Pacer::learn` reads it).
fn held(input: &Input<'_>, verdict: &Verdict) -> String {
    if input.status != Some(429) {
        return String::new();
    }
    let wait = verdict.hint().map(|h| h.wait);
    let max_hint = input.policy.rules().max_hint();
    let stated = Quota::from_headers(input.headers, input.wall).is_some();
    match Quota::of_answer(input.headers, input.wall, true, wait, max_hint) {
        Some(q) if q.remaining == 0 && !q.reset.is_zero() => {
            let why = if stated {
                "the quota it states is spent"
            } else {
                "a wait longer than a second is a window's reset"
            };
            format!(
                "it holds every attempt of this policy's calls to the host for {} first \
                 ({why}), then ",
                Rounded(q.reset)
            )
        }
        _ => String::new(),
    }
}

/// What the rate-limit gate learns from this response, if anything: the reset it holds
/// first attempts until, and the ramp after it. The numbers are the library's own (a fresh
/// gate learns the response); only the wording is here.
fn gate_sentence(input: &Input<'_>, (config, who): &(GateConfig, String)) -> Option<String> {
    let status = input.status?;
    let gate = Gate::new(*config);
    gate.learn_from_response(status, input.headers, input.wall);
    gate.reset()?;
    // In whole milliseconds, as the gate keeps it.
    let now_ms = input
        .wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let hold = Duration::from_millis(gate.reset_ms().saturating_sub(now_ms));
    let clamped = if hold >= config.max_hold {
        format!(
            " (max_hold {}: the server's reset is later)",
            Rounded(config.max_hold)
        )
    } else {
        String::new()
    };
    let ramp = Duration::from_millis(gate.ramp_ms());
    let after = if ramp.is_zero() {
        format!(
            "then go with a spread of up to {} (ramp = \"0s\")",
            show((hold / 10).min(Duration::from_secs(1)))
        )
    } else {
        format!("then ramp back up over {}", Rounded(ramp))
    };
    Some(format!(
        "The rate-limit gate learns that the quota is spent: first attempts {who} are held \
         {}{clamped} until it resets, {after}.",
        Rounded(hold)
    ))
}

/// `, and its throttle …`: the adaptive budget's rule with its numbers; nothing for `aws`.
fn throttle_rule(budget: &BudgetConfig) -> String {
    if !budget.enabled || budget.kind != BudgetKind::Adaptive {
        return String::new();
    }
    format!(
        "; its throttle refuses a retry (budget_exhausted) when recent retries would pass {} \
         per recent first attempt plus {} for failures that look like bad luck, {} down to {} \
         as more of the attempts fail while the server sheds load, and {} once {} retries \
         since the last success found nothing working, over a {} window",
        budget.retry_ratio,
        budget.min_retries,
        rule::SHED_MAX.min(budget.retry_ratio),
        budget.overload_ratio,
        budget.overload_ratio,
        rule::RUN_CLEAN,
        Rounded(budget.window)
    )
}

/// Why a failure is retryable: the rule that said so.
fn why_retryable(cause: &Cause) -> String {
    match cause.rule {
        Rule::ShouldRetryHeader => {
            format!("{cause} is retryable because the server sent x-should-retry: true")
        }
        Rule::ErrorType => match (cause.status, cause.error_type) {
            (Some(s), Some(t)) if (200..400).contains(&s) => {
                format!("an {t} event after a {s} is retryable by its error type")
            }
            _ => format!("{cause} is retryable by its error type"),
        },
        Rule::RateLimit403 => {
            "a 403 with x-ratelimit-remaining: 0 is a rate limit, which is retryable".into()
        }
        Rule::Transport => match cause.transport {
            Some(Transport::Connect) => {
                "a connect failure is retryable (the request never reached the server)".into()
            }
            Some(kind) => format!("a {kind} is retryable"),
            None => "the transport failure is retryable".into(),
        },
        _ => match cause.status {
            Some(s) => format!("{s} is retryable (it is in classify.retry_status)"),
            None => format!("{cause} is retryable"),
        },
    }
}

/// Why retrying this request is safe: the method, an Idempotency-Key, or the policy.
fn why_safe(input: &Input<'_>, cause: &Cause) -> String {
    let method = input.method;
    if RequestFacts::new(method).is_idempotent() {
        return format!("and {method} is idempotent");
    }
    if input.idempotency_key {
        return format!("and this {method} has an Idempotency-Key");
    }
    match input.policy.classifier().non_idempotent() {
        NonIdempotent::Always => {
            format!(
                "and the policy retries a {method} like any request (non_idempotent = \"always\")"
            )
        }
        _ if cause.rule == Rule::ShouldRetryHeader => {
            format!("and so vouches that the {method} is safe to repeat")
        }
        _ => format!("even for a {method}, as the server cannot have acted on it"),
    }
}

/// Why a failure is not retryable: the rule that said so, and what would change it.
fn why_fatal(input: &Input<'_>, cause: &Cause) -> String {
    let method = input.method;
    match cause.rule {
        Rule::ShouldRetryHeader => match cause.status {
            Some(s) => format!("the server sent x-should-retry: false with its {s}"),
            None => "the server sent x-should-retry: false".into(),
        },
        Rule::ErrorType => {
            match (cause.status, cause.error_type) {
                (Some(s), Some(ErrorType::Unknown)) => {
                    format!("an error event of an unknown type after a {s} is a failure no status explains")
                }
                (Some(s), Some(t)) if (200..400).contains(&s) => {
                    format!("an {t} event after a {s} is not retryable")
                }
                (_, Some(t)) => format!(
                    "{cause} is not retryable: {t} is a mistake in the request that no retry fixes"
                ),
                _ => format!("{cause} is not retryable"),
            }
        }
        Rule::NotIdempotent => {
            let what = match (cause.transport, cause.status, cause.error_type) {
                (Some(kind), _, _) => format!("a {kind}"),
                (None, Some(s), Some(t)) if (200..400).contains(&s) => {
                    format!("an {t} event after a {s}")
                }
                _ => format!("a {cause}"),
            };
            match input.policy.classifier().non_idempotent() {
                NonIdempotent::Never => format!(
                    "{what} would be retryable, but {method} is not idempotent and the policy \
                     never retries such requests (non_idempotent = \"never\")"
                ),
                _ => format!(
                    "{what} would be retryable, but {method} is not idempotent and the server \
                     may already have acted on it (non_idempotent = \"when_safe\" retries a \
                     {method} only after a connect failure, 425, 429, 503 or 529); send an \
                     Idempotency-Key to make it safe to retry"
                ),
            }
        }
        _ => match cause.status {
            Some(s) => format!("{s} is not in classify.retry_status"),
            None => format!("{cause} is not retryable"),
        },
    }
}

/// Headers that were there but did not decide: invalid ones (ignored as if absent), valid
/// ones outranked by the one that decided, and hints not read at all.
fn notes(input: &Input<'_>, verdict: &Verdict) -> Vec<String> {
    let Some(status) = input.status else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    let decided = verdict.hint().map(|h| h.source);
    for (source, parsed) in hints::inspect(input.headers, status, input.wall) {
        match parsed {
            Parsed::Invalid => notes.push(format!(
                "{} is present but not valid{}, so it was ignored.",
                source.header(),
                raw_value(input.headers, source)
            )),
            Parsed::Valid(wait) if decided.is_some() && decided != Some(source) => {
                if let Some(by) = decided {
                    notes.push(format!(
                        "{} asks for {}, but {} comes first.",
                        source.header(),
                        Rounded(wait),
                        by.header()
                    ));
                }
            }
            Parsed::Valid(wait)
                if verdict.is_retryable() && !input.policy.classifier().honor_hints() =>
            {
                notes.push(format!(
                    "{} asks for {}, but the policy does not read hints (hints.honor = false).",
                    source.header(),
                    Rounded(wait)
                ));
            }
            _ => {}
        }
    }
    notes
}

/// Whether the header that gave this hint holds a date or a timestamp rather than a
/// delay: a `retry-after` HTTP date, an RFC 3339 reset, or an `x-ratelimit-reset` Unix
/// time (which a zero wait then means has passed).
fn gave_a_date(headers: &HeaderMap, source: HintSource) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match source {
        HintSource::RetryAfter => {
            value("retry-after").is_some_and(|v| v.trim().bytes().any(|b| b.is_ascii_alphabetic()))
        }
        HintSource::XRateLimitReset => value("x-ratelimit-reset")
            .and_then(|v| v.trim().split('.').next()?.parse::<u64>().ok())
            .is_some_and(|n| n >= 1_000_000_000),
        HintSource::AnthropicReset => true,
        _ => false,
    }
}

/// ` ("soon")` for a family that is one header; nothing for a family of several.
fn raw_value(headers: &HeaderMap, source: HintSource) -> String {
    let name = match source {
        HintSource::RetryAfterMs => "retry-after-ms",
        HintSource::RetryAfter => "retry-after",
        HintSource::RateLimit => "ratelimit",
        HintSource::RateLimitReset => "ratelimit-reset",
        HintSource::XRateLimitReset => "x-ratelimit-reset",
        _ => return String::new(),
    };
    match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(v) => format!(" ({v:?})"),
        None => String::new(),
    }
}

/// `30s to 31s`, or `500ms` when both ends are the same.
fn range(low: Duration, high: Duration) -> String {
    if show(low) == show(high) {
        show(low)
    } else {
        format!("{} to {}", show(low), show(high))
    }
}
