//! What a retry policy does to a server at fleet scale, in virtual time: the engine behind
//! `redial simulate`, kept out of the `redial` library so that it is no part of its API.
//!
//! ```
//! use std::time::Duration;
//! use redial_sim::{run, Arrivals, Scenario, Table};
//! use redial::{Policy, Preset};
//!
//! // 100 clients, 50 calls a second in all, and the server is down from 10 s to 40 s.
//! let mut s = Scenario::outage();
//! s.clients = 100;
//! s.arrivals = Arrivals::Poisson { rate: 50.0 };
//! s.duration = Duration::from_secs(60);
//! s.incidents[0].start = Duration::from_secs(10);
//! s.incidents[0].duration = Duration::from_secs(30);
//!
//! let budget = run(&s, "default", &Policy::preset(Preset::Default))?;
//! let none = run(&s, "no budget", &Policy::builder().no_budget().build()?)?;
//! assert!(none.incident_amplification() > budget.incident_amplification());
//! println!("{}", Table::new(&[budget, none]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What runs
//!
//! A discrete-event simulation: one queue of timed events, a clock that jumps from
//! one event to the next, no sleeping and no thread per client, so ten minutes of a
//! thousand clients take a fraction of a second. Each call is driven by its own copy of
//! the real [`Machine`] (not a model of it), classified by the policy's real
//! [`Classifier`](redial::classify::Classifier) from the modelled server's status and headers, so a
//! run shows what the library would do: the presets' retryable statuses, hint reading,
//! spread, jitter, limits and budget all come from the same code as in production.
//! Classifying costs a little more than building verdicts by hand, but it is what lets a
//! POST's 500 be retried by `anthropic` and not by `default`, and a `retry-after` be read;
//! the server's header maps are built once before the run, so an attempt allocates nothing.
//!
//! Time is virtual nanoseconds since the start of the run. The machine takes
//! [`Instant`]s, so a run reads the clock once for a base instant and hands it
//! `base + offset`: the machine only ever compares instants, so the base changes nothing.
//! HTTP dates are read against a fixed wall clock.
//!
//! # The model
//!
//! **Clients.** [`Scenario::clients`] clients each start calls on their own schedule
//! ([`Arrivals`]): a Poisson process, a fixed period from a random phase, or one call
//! each at the same instant. The fleet's calls are drawn as one stream (N Poisson
//! processes of rate `r / N` are one Poisson process of rate `r` whose calls fall to
//! clients drawn uniformly), which keeps the cost of a run independent of the number of
//! clients. Arrivals are open-loop: a client starts its next call on
//! time even while earlier ones are still retrying, as independent users of a service do.
//! Every call makes the same [request](Scenario::request) (idempotent by default) and runs
//! its policy to the end: attempt, answer, [`Machine::on_outcome`], wait the delay, again,
//! until a [`Stop`](redial::Stop). Calls start during [`Scenario::duration`]; the run then
//! goes on until every call has ended, so every attempt is counted.
//!
//! **Budget.** With [`BudgetScope::PerClient`] (the default) each client has a policy, and
//! a budget, of its own, as a fleet of processes is deployed. With [`BudgetScope::Redis`]
//! each client also exchanges its budget's [`Counts`] every `sync` with a
//! modelled store through the budget's own API
//! ([`take_local_deltas`](redial::budget::Budget::take_local_deltas), then
//! [`set_fleet_view`](redial::budget::Budget::set_fleet_view) with the fleet's counts over the
//! budget's window and over its latest bucket, fresh for
//! `FleetConfig::VIEW_FRESH_SYNCS` sync intervals as in the library), so each client
//! decides from the fleet's totals as they were at the last sync: what sharing through Redis can do at best, with
//! no network delay beyond the interval. With [`BudgetScope::Shared`] the whole fleet draws
//! on one budget object (one policy, cloned into every call). Either way a run starts from fresh buckets built from
//! the policy's settings, never from the caller's, so runs repeat exactly and never drain
//! a budget in use.
//!
//! **Pacer.** Each client has a [`Pacer`] of its own (one host), with the settings of
//! [`Scenario::pacer`] or else the policy's (every preset's is engaged only by a 429 that
//! says how long to wait; a policy built with `no_pacing` has none): every attempt, first or retry,
//! asks it when it would reach the server, and goes, waits for its slot (an event when
//! the wait ends, which asks [`ready`](redial::pacer::Pacer::ready) again), or ends the
//! call as rate limited ([`Report::rate_limited`]); every answer tells it, read as the
//! library's driver reads it ([`learn`](redial::pacer::Pacer::learn): a 429 as a
//! throttle, its hint and the quota headers as [`Quota`](redial::pacer::Quota) reads
//! them). The model has no evidence of overload to give it, so a 503 or 529 never cuts
//! its rate here (but for the study of `Scenario::pacer_cuts_on_shed`).
//!
//! **Network.** Every attempt takes half of [`Scenario::rtt`] to reach the server and
//! half to come back. A refused connection comes back the same way: the client reads a
//! connect failure ([`Transport::Connect`]) one round trip after it sent the attempt. An
//! attempt that is never answered ends when its client gives up, [`Scenario::timeout`]
//! (10 s) after sending it, with [`Transport::Timeout`]; the policy classifies both as it
//! would in production (a timeout is retried only where a retry is safe).
//!
//! **Server.** [`ServerModel`]: `concurrency` workers of `concurrency / capacity` seconds
//! each, a FIFO queue of `queue` requests, and a shed answer (`shed_status`, 529 by
//! default) when the queue is full. The [`IncidentKind`]s change that for a while: an
//! outage fails every request at once, using no capacity; a brown-out fails a fraction of
//! them; a rate limit lets `limit` requests through per fixed window and answers the rest
//! with 429 and a header saying when the window ends; an overload leaves the server a
//! fraction of its capacity, so its queue fills and it sheds; a leaky bucket (nginx's
//! `limit_req` with `nodelay`) lets `rate` requests a second through with a `burst`, and
//! an acceleration limit lets the rate rise by at most `slope` per second, both answering
//! the excess with 429 and `Retry-After: 1`. How an outage or a brown-out
//! fails is a [`Failure`]: a status (with no headers), a refused connection, or a timeout.
//! In a brown-out a failing status or timeout is served first, using capacity as a
//! success would (a timeout holds its worker for the service time, and its answer is
//! lost); a refused connection uses none.
//!
//! **Randomness.** From [`Scenario::seed`]. The arrivals and the clients' jitter each have
//! their own generator. The server has none: whether a brown-out fails attempt `k` of the
//! fleet's call `i` (the `i`-th call to start, in arrival order) is a coin drawn from the
//! seed, `i`, `k` and the incident alone. So two policies run on the same seed see the same
//! calls arrive at the same instants and the same attempts fail, and the difference
//! between two columns of a [`Table`] is the policies', not the dice's.
//!
//! **Left out.** Closed-loop clients that wait for one call before the next, retry-after
//! on 503 and 529 answers, connection resets, randomness in service times, and a client
//! timeout on answers that do come: the model's answers come within a few seconds (a full
//! queue is shed at once), so only a [`Failure::Timeout`] meets the timeout, and a slow
//! answer is never cut off. A server in this model is never kept down by its own retry
//! storm (the "metastable" failure): its queue is bounded, so excess load is shed at once
//! instead of timing out after using capacity.
//!
//! # What is measured
//!
//! [`Report`]: attempts per time bucket (first attempts and retries apart, counted when
//! they reach the server) and answers per bucket; the server's success rate; attempts per
//! call (amplification) overall and during the incident; the call success rate, overall
//! and over the calls that started during the incident; call latency percentiles; how
//! long after the incident the server's answers were healthy again ([`Recovery`]); and
//! how calls stopped, budget denials included. [`Table`] sets runs side by side, and
//! [`SeedTable`] the same runs on several seeds, by their worst seed and their median.
//!
//! # The design's table
//!
//! [`matrix`] computes the table of bounds the design sets for the default budget ("Retry
//! storms at fleet scale"): every failure kind × fleets of 10, 100 and 1,000 clients ×
//! outage, brown-out and overload, the lone script and the Redis-shared fleet, the worst
//! (or median) of seeds 1–10, for any policy you pass, with whether each bound holds.
//! `cargo run --release -p redial-sim --example fleet_matrix` prints it.
//!
//! # The contention experiment
//!
//! [`Scenario::contention`] models the AWS Architecture Blog's "Exponential Backoff and
//! Jitter": clients that all want to write the same item with
//! optimistic concurrency, where of several writes that overlap only one can win and the
//! others must try again. Here the item is a server with a single worker, no queue and a
//! fixed 10 ms per request: a request that arrives while another is being served is
//! rejected at once. All clients start together; with no jitter, the losers of a round
//! all compute the same delay and return at the same instant, where again one wins, so the
//! fleet advances one client per round and does about `N²/2` attempts. Jitter scatters
//! the returns over the backoff window, so many clients win per round. The published
//! result (full jitter takes less than half the calls of no jitter at 100 clients) comes
//! out of this model with the blog's premise: clients retry until they succeed, with no
//! budget. The model keeps only what causes the effect: overlapping attempts conflict,
//! and a delay computed from the same inputs is the same delay.
//!
//! # Cost
//!
//! A run costs about 100 ns per event, and an attempt is one event (reach the server and
//! be answered at once) or two (wait for a worker, be served; or be left unanswered, then
//! time out), three for a served request whose answer is lost, so the cost grows with
//! the number of attempts: linearly with the call rate and the duration, and not with
//! the number of clients. Ten minutes of 1,000 clients at 100 calls a second in all
//! (60,000 calls) take about 20 ms in a release build, and the design's whole table
//! ([`matrix`], about 1,000 runs) about 6 s on two cores. Memory is bounded by the calls
//! in flight and the number of buckets.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod acceleration;
pub mod matrix;
mod queue;
mod report;
mod scenario;
mod server;

use core::fmt;
use core::time::Duration;
use std::time::{Instant, SystemTime};

use fastrand::Rng;

use http::StatusCode;
use redial::budget::Counts;
use redial::classify::Outcome;
use redial::fleet::FleetConfig;
use redial::machine::{Action, Machine};
use redial::pacer::{Acquire, Answer, Pacer, Ticket};
use redial::StopReason;
use redial::Transport;
use redial::{Policy, PolicyError};

pub use report::{Bucket, Latency, Recovery, Report, SeedTable, Table, RECOVERED};
pub use scenario::{
    Arrivals, BudgetScope, Failure, HintHeader, Incident, IncidentKind, Scenario, ServerModel,
    UnknownFailure, DEFAULT_TIMEOUT,
};

use queue::EventQueue;
use server::{Admit, Attempt, Reply, Server};

/// Why a run could not be made.
///
/// ```
/// let mut s = redial_sim::Scenario::outage();
/// s.clients = 0;
/// let err = redial_sim::run(&s, "x", &redial::Policy::default()).unwrap_err();
/// assert_eq!(err.to_string(), "clients: must be at least 1, got 0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulateError {
    /// A scenario field breaks a rule.
    #[error("{field}: must be {rule}, got {got}")]
    Invalid {
        /// The field, as a path (`server.capacity`).
        field: String,
        /// What was expected.
        rule: String,
        /// What was found.
        got: String,
    },
    /// The policy's settings could not be rebuilt into a fresh policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The run processed [`Scenario::max_events`] events without ending.
    #[error("the run did not end within {limit} events (max_events)")]
    TooManyEvents {
        /// The limit.
        limit: u64,
    },
}

impl SimulateError {
    pub(crate) fn invalid(field: &str, rule: &str, got: impl fmt::Display) -> SimulateError {
        SimulateError::Invalid {
            field: field.to_owned(),
            rule: rule.to_owned(),
            got: got.to_string(),
        }
    }
}

/// The most buckets a run may be cut into over its arrival period (and the run as a
/// whole, twice as many).
const MAX_BUCKETS: u64 = 1_000_000;

fn validate(s: &Scenario) -> Result<(), SimulateError> {
    if s.clients == 0 {
        return Err(SimulateError::invalid("clients", "at least 1", 0));
    }
    if let Some(rate) = s.arrivals.rate() {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(SimulateError::invalid(
                "arrivals.rate",
                "a finite number > 0",
                rate,
            ));
        }
        if s.duration.is_zero() {
            return Err(SimulateError::invalid("duration", "more than 0s", "0s"));
        }
    }
    if let BudgetScope::Redis { sync } = s.budget {
        if sync < Duration::from_millis(1) || sync > Duration::from_secs(3600) {
            return Err(SimulateError::invalid(
                "budget.sync",
                "from 1ms to 1h",
                redial::duration::Exact(sync),
            ));
        }
    }
    if s.timeout.is_zero() || s.timeout > Duration::from_secs(3600) {
        return Err(SimulateError::invalid(
            "timeout",
            "more than 0s and at most 1h",
            redial::duration::Exact(s.timeout),
        ));
    }
    if s.bucket.is_zero() {
        return Err(SimulateError::invalid("bucket", "more than 0s", "0s"));
    }
    let buckets = s.duration.as_nanos() / s.bucket.as_nanos();
    if buckets > u128::from(MAX_BUCKETS) {
        return Err(SimulateError::invalid(
            "bucket",
            "at least duration / 1,000,000",
            format!("{} buckets", buckets),
        ));
    }
    let capacity = s.server.capacity;
    if !(capacity.is_finite() && capacity > 0.0) {
        return Err(SimulateError::invalid(
            "server.capacity",
            "a finite number > 0",
            capacity,
        ));
    }
    if s.server.concurrency == 0 {
        return Err(SimulateError::invalid(
            "server.concurrency",
            "at least 1",
            0,
        ));
    }
    for incident in &s.incidents {
        match incident.kind {
            IncidentKind::Brownout { fail_fraction, .. } => {
                if !(0.0..=1.0).contains(&fail_fraction) {
                    return Err(SimulateError::invalid(
                        "incidents.brownout.fail_fraction",
                        "between 0 and 1",
                        fail_fraction,
                    ));
                }
            }
            IncidentKind::Overload { capacity_factor } => {
                if !(capacity_factor > 0.0 && capacity_factor <= 1.0) {
                    return Err(SimulateError::invalid(
                        "incidents.overload.capacity_factor",
                        "more than 0 and at most 1",
                        capacity_factor,
                    ));
                }
            }
            IncidentKind::RateLimit { window, .. } => {
                if window.is_zero() || window > Duration::from_secs(3600) {
                    return Err(SimulateError::invalid(
                        "incidents.ratelimit.window",
                        "more than 0s and at most 1h",
                        redial::duration::Exact(window),
                    ));
                }
            }
            IncidentKind::LeakyBucket { rate, .. } => {
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(SimulateError::invalid(
                        "incidents.leaky-bucket.rate",
                        "a finite number > 0",
                        rate,
                    ));
                }
            }
            IncidentKind::Acceleration { floor, slope } => {
                if !(floor.is_finite() && floor >= 1.0) {
                    return Err(SimulateError::invalid(
                        "incidents.acceleration.floor",
                        "a finite number >= 1",
                        floor,
                    ));
                }
                if !(slope.is_finite() && slope >= 0.0) {
                    return Err(SimulateError::invalid(
                        "incidents.acceleration.slope",
                        "a finite number >= 0",
                        slope,
                    ));
                }
            }
            IncidentKind::Outage { .. } => {}
        }
    }
    Ok(())
}

/// What the engine does next; every variant names the call (or client) it is for.
///
/// There is no event for an answer reaching its client. Every answer takes the same half
/// round trip, so clients read answers in the order the server gives them, and a client's
/// decision touches nothing but its own machine, the budget and the jitter generator,
/// which only such decisions touch: the engine makes the decision when the server answers,
/// at the time the client will read it, with the same results and one event fewer per
/// attempt. Likewise a call's first attempt is one event, when it reaches the server.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A client's call begins, and its first attempt reaches the server.
    Arrival { client: u32 },
    /// A retry reaches the server (it asks the client's pacer first, if any).
    Retry { call: u32 },
    /// An attempt that waited for its pacer's slot reaches the server.
    Paced {
        call: u32,
        first: bool,
        ticket: Ticket,
    },
    /// A worker finishes the request of `call`, which gets `reply` ([`Reply::Lost`]: a
    /// request whose client times out, which only frees the worker).
    Served { call: u32, reply: Reply },
    /// The client of `call` gives up on an attempt that will never be answered, half a
    /// round trip from now (the same shift as an answer's, see above).
    TimedOut { call: u32 },
    /// Every client exchanges its budget's counts with the modelled store
    /// ([`BudgetScope::Redis`]).
    Sync,
}

/// One call in flight.
#[derive(Debug)]
struct Call<'p> {
    policy: &'p Policy,
    /// The client, for its pacer.
    client: u32,
    machine: Machine<&'p Policy>,
    start: u64,
    /// The fleet's calls started before this one: its index for the server's coin.
    index: u64,
    /// Attempts that have reached the server so far.
    attempts: u32,
    /// Whether the call started during the incident.
    in_incident: bool,
}

/// A duration in whole nanoseconds, saturating (about 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// splitmix64: seeds for independent generators from one seed.
pub(crate) fn mix(seed: u64, stream: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(index.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn secs_to_nanos(secs: f64) -> u64 {
    // `as` saturates, and maps NaN to 0.
    (secs * 1e9) as u64
}

/// A wall clock for HTTP dates: 2026-01-01T00:00:00Z, fixed so that runs repeat.
const WALL_BASE: Duration = Duration::from_secs(1_767_225_600);

/// Where the fleet's calls come from: one stream for all clients, so that the event queue
/// holds one pending arrival, not one per client.
#[derive(Debug)]
enum ArrivalStream {
    /// N independent Poisson processes of rate `r / N` are together one Poisson process of
    /// rate `r` whose every arrival belongs to a client drawn uniformly: the same
    /// distribution, drawn from one generator.
    Poisson {
        rng: Rng,
        /// Mean gap between the fleet's calls, in seconds.
        mean_gap: f64,
        clients: u32,
    },
    /// Each client calls every `period` from its own random phase: the phases, sorted,
    /// repeat every period.
    Fixed {
        /// `(phase, client)`, by phase.
        phases: Vec<(u64, u32)>,
        period: u64,
        /// Calls started so far.
        k: u64,
    },
    /// Every client once, at `at`, in order.
    Burst { at: u64, next: u32, clients: u32 },
}

impl ArrivalStream {
    fn new(s: &Scenario, mut rng: Rng) -> ArrivalStream {
        match s.arrivals {
            Arrivals::Poisson { rate } => ArrivalStream::Poisson {
                rng,
                mean_gap: 1.0 / rate,
                clients: s.clients,
            },
            Arrivals::Fixed { rate } => {
                let period = f64::from(s.clients) / rate;
                let mut phases: Vec<(u64, u32)> = (0..s.clients)
                    .map(|c| (secs_to_nanos(rng.f64() * period), c))
                    .collect();
                phases.sort_unstable();
                ArrivalStream::Fixed {
                    phases,
                    period: secs_to_nanos(period).max(1),
                    k: 0,
                }
            }
            Arrivals::Burst { at } => ArrivalStream::Burst {
                at: nanos(at),
                next: 0,
                clients: s.clients,
            },
        }
    }

    /// The next call after `now`: when, and whose. Rate-driven arrivals stop at `end`.
    fn next(&mut self, now: u64, end: u64) -> Option<(u64, u32)> {
        match self {
            ArrivalStream::Poisson {
                rng,
                mean_gap,
                clients,
            } => {
                // Inverse transform: -ln(U) is exponential for U uniform in (0, 1].
                let gap = -(1.0 - rng.f64()).ln() * *mean_gap;
                let at = now.saturating_add(secs_to_nanos(gap));
                let client = rng.u32(..*clients);
                (at < end).then_some((at, client))
            }
            ArrivalStream::Fixed { phases, period, k } => {
                let n = phases.len() as u64;
                let (phase, client) = phases.get(usize::try_from(*k % n.max(1)).ok()?)?;
                let at = phase.saturating_add((*k / n).saturating_mul(*period));
                *k += 1;
                (at < end).then_some((at, *client))
            }
            ArrivalStream::Burst { at, next, clients } => {
                let client = *next;
                *next = next.saturating_add(1);
                (client < *clients).then_some((*at, client))
            }
        }
    }
}

/// The event queue's lanes: the fleet's calls (one stream, in order), and requests being
/// served (a constant service time, but for an overload's changes).
const LANES: usize = 2;
const ARRIVING: usize = 0;
const SERVING: usize = 1;

struct Engine<'p> {
    scenario: &'p Scenario,
    policies: &'p [Policy],
    server: Server,
    /// Events keyed by `(time << 64) | sequence`: by time, then first in first out, so a
    /// run never depends on how ties are broken.
    events: EventQueue<Kind, LANES>,
    seq: u64,
    calls: Vec<Option<Call<'p>>>,
    free: Vec<u32>,
    arrivals: ArrivalStream,
    jitter: Rng,
    base: Instant,
    duration: u64,
    half_rtt: u64,
    /// How long after it sends an attempt a client gives up on an answer.
    timeout: u64,
    bucket: u64,
    max_bucket: u64,
    incident: Option<(u64, u64)>,
    /// The modelled store of [`BudgetScope::Redis`]: the fleet's deltas per sync, the last
    /// window's worth.
    store: std::collections::VecDeque<(u64, Counts)>,
    /// One pacer per client ([`Scenario::pacer`]), or none.
    pacers: Vec<Pacer>,
    report: Report,
}

impl<'p> Engine<'p> {
    fn key(&mut self, at: u64) -> u128 {
        self.seq += 1;
        (u128::from(at) << 64) | u128::from(self.seq)
    }

    /// Schedules an event with a random delay (an arrival, a retry).
    fn push(&mut self, at: u64, kind: Kind) {
        let key = self.key(at);
        self.events.push(key, kind);
    }

    /// Schedules an event a constant time ahead, in its lane (see [`queue`]).
    fn push_lane(&mut self, lane: usize, at: u64, kind: Kind) {
        let key = self.key(at);
        self.events.push_lane(lane, key, kind);
    }

    fn bucket_mut(&mut self, at: u64) -> Option<&mut Bucket> {
        let i = at / self.bucket;
        if i > self.max_bucket {
            return None;
        }
        let i = usize::try_from(i).ok()?;
        if i >= self.report.buckets.len() {
            self.report.buckets.resize(i + 1, Bucket::default());
        }
        self.report.buckets.get_mut(i)
    }

    fn in_incident(&self, at: u64) -> bool {
        self.incident
            .is_some_and(|(start, end)| at >= start && at < end)
    }

    /// Schedules the fleet's next call after the one that started at `start`, for when
    /// its first attempt reaches the server.
    fn schedule_arrival(&mut self, start: u64) {
        if let Some((at, client)) = self.arrivals.next(start, self.duration) {
            let reach = at.saturating_add(self.half_rtt);
            self.push_lane(ARRIVING, reach, Kind::Arrival { client });
        }
    }

    /// A call of `client` that began at `start` makes its first attempt, which reaches
    /// the server at `now`.
    fn start_call(&mut self, client: u32, start: u64, now: u64) -> Result<(), SimulateError> {
        let index = match self.scenario.budget {
            BudgetScope::Shared => 0,
            _ => client as usize,
        };
        let Some(policy) = self.policies.get(index) else {
            return Ok(());
        };
        let in_incident = self.in_incident(start);
        let call = Call {
            policy,
            client,
            machine: Machine::new(policy, self.base + Duration::from_nanos(start)),
            start,
            index: self.report.calls,
            attempts: 0,
            in_incident,
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.calls.get_mut(id as usize) {
                    *slot = Some(call);
                }
                id
            }
            None => {
                let id = u32::try_from(self.calls.len()).map_err(|_| {
                    SimulateError::invalid("calls in flight", "fewer than 2^32", "more")
                })?;
                self.calls.push(Some(call));
                id
            }
        };
        self.report.calls += 1;
        self.report.incident_calls += u64::from(in_incident);
        self.send(id, true, now);
        Ok(())
    }

    /// An attempt of `call` would reach the server at `now`: it asks the client's pacer
    /// first (if any), and goes, waits for its slot, or ends the call as rate limited.
    fn send(&mut self, call: u32, first: bool, now: u64) {
        let Some(Some(c)) = self.calls.get(call as usize) else {
            return;
        };
        let Some(pacer) = self.pacers.get(c.client as usize) else {
            return self.at_server(call, first, now);
        };
        match pacer.acquire(self.base + Duration::from_nanos(now), None) {
            Acquire::Go => self.at_server(call, first, now),
            Acquire::Wait { wait, ticket } => {
                self.report.paced += 1;
                self.push(
                    now.saturating_add(nanos(wait)),
                    Kind::Paced {
                        call,
                        first,
                        ticket,
                    },
                );
            }
            Acquire::RateLimited { .. } => self.rate_limited(call, first, now),
        }
    }

    /// The pacer stops `call` at `now`: its slot was further than `max_wait`. `first`:
    /// the call had sent no attempt yet.
    fn rate_limited(&mut self, call: u32, first: bool, now: u64) {
        let Some(Some(c)) = self.calls.get(call as usize) else {
            return;
        };
        self.report.rate_limited += 1;
        self.report.rate_limited_unsent += u64::from(first);
        let latency = Duration::from_nanos(now.saturating_sub(c.start));
        self.report.latency.record(latency);
        self.end_call(call, now);
    }

    /// A paced attempt wakes at `now`: its slot has come, or moved later (a cut).
    ///
    /// The model's calls have no deadline, so a waiter is never stopped here: `max_wait`
    /// bounds the wait as [`Pacer::acquire`] reckons it, and a cut meanwhile lengthens
    /// it (measured: stopping waiters at `max_wait` from their first ask leaves their
    /// places unused and serves 94 % of a leaky bucket's rate instead of 100 %).
    fn paced(&mut self, call: u32, first: bool, ticket: Ticket, now: u64) {
        let client = match self.calls.get(call as usize) {
            Some(Some(c)) => c.client,
            _ => return,
        };
        let Some(pacer) = self.pacers.get(client as usize) else {
            return self.at_server(call, first, now);
        };
        let at = self.base + Duration::from_nanos(now);
        match pacer.ready(at, ticket, None) {
            Acquire::Wait { wait, ticket } => self.push(
                now.saturating_add(nanos(wait).max(1)),
                Kind::Paced {
                    call,
                    first,
                    ticket,
                },
            ),
            Acquire::RateLimited { .. } => {
                pacer.release(at);
                self.rate_limited(call, first, now);
            }
            Acquire::Go => self.at_server(call, first, now),
        }
    }

    fn end_call(&mut self, call: u32, now: u64) {
        if let Some(slot) = self.calls.get_mut(call as usize) {
            *slot = None;
        }
        self.free.push(call);
        self.report.end = self.report.end.max(Duration::from_nanos(now));
    }

    fn at_server(&mut self, call: u32, first: bool, now: u64) {
        let incident = self.in_incident(now);
        if first {
            self.report.first_attempts += 1;
            self.report.incident_first_attempts += u64::from(incident);
        } else {
            self.report.retries += 1;
            self.report.incident_retries += u64::from(incident);
        }
        if let Some(b) = self.bucket_mut(now) {
            if first {
                b.first_attempts += 1;
            } else {
                b.retries += 1;
            }
        }
        let Some(Some(c)) = self.calls.get_mut(call as usize) else {
            return;
        };
        let attempt = Attempt {
            call: c.index,
            attempt: c.attempts,
        };
        c.attempts = c.attempts.saturating_add(1);
        let admit = self.server.arrive(call, attempt, now);
        if let Admit::Reply(Reply::Lost)
        | Admit::Serve {
            reply: Reply::Lost, ..
        }
        | Admit::Queued(Reply::Lost) = admit
        {
            // The client gives up `timeout` after it sent the attempt, which is half a
            // round trip ago; its event is half a round trip earlier still (see [`Kind`]).
            let gives_up = now
                .saturating_add(self.timeout)
                .saturating_sub(self.half_rtt.saturating_mul(2))
                .max(now);
            self.push(gives_up, Kind::TimedOut { call });
        }
        match admit {
            Admit::Reply(Reply::Lost) | Admit::Queued(_) => {}
            Admit::Reply(reply) => self.answer(call, reply, now),
            Admit::Serve { done_at, reply } => {
                self.push_lane(SERVING, done_at, Kind::Served { call, reply })
            }
        }
    }

    /// The server answers `call` at `now`, or ([`Reply::Lost`]) its client gives up on
    /// the attempt half a round trip later: a failed answer all the same.
    fn answer(&mut self, call: u32, reply: Reply, now: u64) {
        let ok = reply.is_success();
        self.report.server_successes += u64::from(ok);
        if let Some(b) = self.bucket_mut(now) {
            if ok {
                b.successes += 1;
            } else {
                b.failures += 1;
            }
        }
        // The client reads it half a round trip later (see [`Kind`]).
        self.on_answer(call, reply, now.saturating_add(self.half_rtt));
    }

    /// The client of `call` reads the answer at `now` and asks its machine what next. (The
    /// engine's clock may still be half a round trip earlier: see [`Kind`].)
    fn on_answer(&mut self, call: u32, reply: Reply, now: u64) {
        let Some(Some(c)) = self.calls.get_mut(call as usize) else {
            return;
        };
        let outcome = match reply {
            Reply::Response { status, headers } => {
                // Map 0 is the empty one, which every server has.
                let Some(headers) = (self.server.headers.get(headers as usize))
                    .or_else(|| self.server.headers.first())
                else {
                    return;
                };
                let throttled = status == StatusCode::TOO_MANY_REQUESTS;
                self.report.throttled += u64::from(throttled);
                Outcome::response(status, headers)
            }
            Reply::Refused => Outcome::Transport(Transport::Connect),
            Reply::Lost => Outcome::Transport(Transport::Timeout),
        };
        let wall = SystemTime::UNIX_EPOCH + WALL_BASE + Duration::from_nanos(now);
        let verdict = c.policy.classify(&self.scenario.request, &outcome, wall);
        let instant = self.base + Duration::from_nanos(now);
        if let (
            Outcome::Response {
                status, headers, ..
            },
            Some(pacer),
        ) = (&outcome, self.pacers.get(c.client as usize))
        {
            // As the library's driver (`Pacer::learn`), but for the study of a shed answer
            // cutting the rate too.
            let shed = matches!(status.as_u16(), 503 | 529);
            let answer = Answer {
                status: status.as_u16(),
                headers,
                wait: verdict.hint().map(|h| h.wait),
                wall,
                max_hint: c.policy.rules().max_hint(),
            };
            pacer.learn(instant, answer, self.scenario.pacer_cuts_on_shed && shed);
        }
        match c.machine.on_outcome(&verdict, instant, &mut self.jitter) {
            Action::Retry(retry) => {
                let at = now
                    .saturating_add(nanos(retry.delay))
                    .saturating_add(self.half_rtt);
                self.push(at, Kind::Retry { call });
            }
            Action::Stop(stop) => {
                let latency = Duration::from_nanos(now.saturating_sub(c.start));
                self.report.latency.record(latency);
                let reason = stop.reason();
                if c.in_incident && reason == StopReason::Succeeded {
                    self.report.incident_call_successes += 1;
                }
                if let Some(i) = StopReason::ALL.iter().position(|&r| r == reason) {
                    if let Some(n) = self.report.stops.get_mut(i) {
                        *n += 1;
                    }
                }
                self.end_call(call, now);
            }
        }
    }

    /// [`BudgetScope::Redis`]: every client hands its counts since the last sync to the
    /// store, which sums the fleet's over the budget's window and hands the totals back to
    /// every client (in one step: a round trip takes no time here).
    fn sync(&mut self, now: u64, every: u64) {
        let budgets = || self.policies.iter().filter_map(|p| p.rules().budget());
        let mut deltas = Counts::default();
        for b in budgets() {
            deltas = deltas.saturating_add(b.take_local_deltas());
        }
        let window = self
            .policies
            .first()
            .map_or(0, |p| nanos(p.rules().budget_config().window));
        self.store.push_back((now, deltas));
        while self
            .store
            .front()
            .is_some_and(|(at, _)| at.saturating_add(window) <= now)
        {
            self.store.pop_front();
        }
        let fleet = self
            .store
            .iter()
            .fold(Counts::default(), |sum, (_, c)| sum.saturating_add(*c));
        // The latest bucket, as Redis cuts time: buckets a tenth of the window long, at a
        // phase of the seed's (a real fleet's buckets fall where the wall clock puts them).
        let bucket = (window / u64::from(FleetConfig::BUDGET_BUCKETS)).max(100_000_000);
        let phase = mix(self.scenario.seed, 4, 0) % bucket;
        let current = now.saturating_add(phase) / bucket;
        let latest = self
            .store
            .iter()
            .filter(|(at, _)| at.saturating_add(phase) / bucket == current)
            .fold(Counts::default(), |sum, (_, c)| sum.saturating_add(*c));
        let at = self.base + Duration::from_nanos(now);
        let fresh_for = Duration::from_nanos(every).saturating_mul(FleetConfig::VIEW_FRESH_SYNCS);
        for b in budgets() {
            b.set_fleet_view(fleet, latest, at, fresh_for);
        }
        // Only while anything else is left to happen, so that the run ends.
        if !self.events.is_empty() {
            self.push(now.saturating_add(every), Kind::Sync);
        }
    }

    fn run(mut self) -> Result<Report, SimulateError> {
        self.schedule_arrival(0);
        if let BudgetScope::Redis { sync } = self.scenario.budget {
            self.push(nanos(sync).max(1), Kind::Sync);
        }
        let limit = self.scenario.max_events;
        while let Some((key, kind)) = self.events.pop() {
            self.report.events += 1;
            if self.report.events > limit {
                return Err(SimulateError::TooManyEvents { limit });
            }
            let now = (key >> 64) as u64;
            match kind {
                Kind::Arrival { client } => {
                    let start = now.saturating_sub(self.half_rtt);
                    self.start_call(client, start, now)?;
                    self.schedule_arrival(start);
                }
                Kind::Retry { call } => self.send(call, false, now),
                Kind::Paced {
                    call,
                    first,
                    ticket,
                } => self.paced(call, first, ticket, now),
                Kind::Sync => {
                    if let BudgetScope::Redis { sync } = self.scenario.budget {
                        self.sync(now, nanos(sync).max(1));
                    }
                }
                Kind::Served { call, reply } => {
                    // The worker that served `call` takes the next waiting request, if any.
                    let next = self.server.complete(now);
                    if reply != Reply::Lost {
                        self.answer(call, reply, now);
                    }
                    if let Some((next, reply, done_at)) = next {
                        self.push_lane(SERVING, done_at, Kind::Served { call: next, reply });
                    }
                }
                Kind::TimedOut { call } => self.answer(call, Reply::Lost, now),
            }
        }
        let mut report = self.report;
        report.find_recovery();
        Ok(report)
    }
}

/// Runs `policy` on `scenario` and measures what it did. `label` names the run in tables
/// and charts.
///
/// ```
/// use std::time::Duration;
/// use redial_sim::{run, Arrivals, Scenario};
///
/// let mut s = Scenario::brownout();
/// s.clients = 10;
/// s.arrivals = Arrivals::Poisson { rate: 20.0 };
/// s.duration = Duration::from_secs(30);
/// s.incidents[0].start = Duration::from_secs(5);
/// s.incidents[0].duration = Duration::from_secs(10);
/// let r = run(&s, "default", &redial::Policy::default())?;
/// assert!(r.retries > 0);
/// assert!(r.call_success_rate() > r.server_success_rate(), "retries rescue calls");
/// # Ok::<(), redial_sim::SimulateError>(())
/// ```
pub fn run(scenario: &Scenario, label: &str, policy: &Policy) -> Result<Report, SimulateError> {
    validate(scenario)?;
    // Fresh buckets, built from the policy's settings: a run never drains the caller's
    // budget, and the same seed gives the same report every time.
    let copies = match scenario.budget {
        BudgetScope::Shared => 1,
        _ => scenario.clients as usize,
    };
    let mut policies = Vec::with_capacity(copies);
    for _ in 0..copies {
        policies.push(policy.to_builder().build()?);
    }
    let seed = scenario.seed;
    let server = Server::new(scenario)?;
    let bucket = nanos(scenario.bucket).max(1);
    let duration = nanos(scenario.duration);
    let incident = scenario
        .incident_start()
        .zip(scenario.incident_end())
        .map(|(s, e)| (nanos(s), nanos(e)));
    let mut report = Report::new(label, scenario.bucket);
    report.incident = scenario.incident_start().zip(scenario.incident_end());
    let engine = Engine {
        scenario,
        policies: &policies,
        server,
        events: EventQueue::new(),
        seq: 0,
        calls: Vec::new(),
        free: Vec::new(),
        arrivals: ArrivalStream::new(scenario, Rng::with_seed(mix(seed, 1, 0))),
        jitter: Rng::with_seed(mix(seed, 2, 0)),
        // The only clock read: a base for the machine's instants (see the module docs).
        base: Instant::now(),
        duration,
        half_rtt: nanos(scenario.rtt) / 2,
        timeout: nanos(scenario.timeout),
        bucket,
        // Bounds the memory a long tail of retries after the arrivals can take.
        max_bucket: 2 * MAX_BUCKETS,
        incident,
        store: std::collections::VecDeque::new(),
        // The scenario's pacer, else the policy's own (every preset's waits for a hint).
        pacers: match scenario
            .pacer
            .or_else(|| policy.pacer().map(|p| *p.config()))
        {
            Some(config) => (0..scenario.clients).map(|_| Pacer::new(config)).collect(),
            None => Vec::new(),
        },
        report,
    };
    engine.run()
}

/// Runs each `(label, policy)` on the same scenario and seed, in order.
///
/// ```
/// use std::time::Duration;
/// use redial_sim::{compare, Arrivals, Scenario};
/// use redial::{Policy, Preset};
///
/// let mut s = Scenario::overload();
/// s.clients = 10;
/// s.arrivals = Arrivals::Poisson { rate: 20.0 };
/// s.duration = Duration::from_secs(20);
/// s.server.capacity = 25.0;
/// s.incidents[0].start = Duration::from_secs(5);
/// s.incidents[0].duration = Duration::from_secs(5);
/// let (a, b) = (Policy::preset(Preset::Default), Policy::preset(Preset::AwsStandard));
/// let reports = compare(&s, [("default", &a), ("aws-standard", &b)])?;
/// assert_eq!(reports[0].calls, reports[1].calls, "same seed, same calls");
/// # Ok::<(), redial_sim::SimulateError>(())
/// ```
pub fn compare<'a>(
    scenario: &Scenario,
    runs: impl IntoIterator<Item = (&'a str, &'a Policy)>,
) -> Result<Vec<Report>, SimulateError> {
    runs.into_iter()
        .map(|(label, policy)| run(scenario, label, policy))
        .collect()
}

/// A small outage run (the `default` preset), for the examples in these docs.
///
/// ```
/// assert!(redial_sim::doc_report().calls > 0);
/// ```
#[doc(hidden)]
pub fn doc_report() -> Report {
    let mut s = Scenario::outage();
    s.clients = 20;
    s.arrivals = Arrivals::Poisson { rate: 20.0 };
    s.duration = Duration::from_secs(40);
    s.incidents = vec![Incident::new(
        Duration::from_secs(10),
        Duration::from_secs(10),
        IncidentKind::Outage {
            failure: Failure::Status(503),
        },
    )];
    match run(&s, "default", &Policy::default()) {
        Ok(r) => r,
        // The scenario above is valid; this arm is unreachable.
        Err(_) => Report::new("default", s.bucket),
    }
}

#[cfg(test)]
mod tests;
