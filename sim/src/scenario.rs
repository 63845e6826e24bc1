//! What is simulated: the fleet of clients, the server, and what goes wrong with it.
//!
//! A [`Scenario`] is plain data with public fields. Start from one of the named
//! constructors ([`Scenario::outage`], [`Scenario::brownout`], [`Scenario::rate_limit`],
//! [`Scenario::overload`], [`Scenario::contention`]) and change what you need;
//! [`run`](super::run) checks every field and names the one that breaks a rule.
//!
//! ```
//! use std::time::Duration;
//! use redial_sim::{Arrivals, Scenario};
//!
//! let mut s = Scenario::outage();
//! s.clients = 50;
//! s.arrivals = Arrivals::Poisson { rate: 20.0 };
//! s.duration = Duration::from_secs(60);
//! assert_eq!(s.incidents.len(), 1);
//! ```

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

use redial::classify::RequestFacts;
use redial::pacer::PacerConfig;

/// How the clients start their calls. Rates are for the whole fleet: each of the `N`
/// clients starts calls at `rate / N`.
///
/// ```
/// let a = redial_sim::Arrivals::Fixed { rate: 100.0 };
/// assert_eq!(a.rate(), Some(100.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Arrivals {
    /// Each client starts calls as a Poisson process (exponential gaps): the usual model of
    /// independent users. The calls per second of the whole fleet.
    Poisson {
        /// Calls per second, all clients together.
        rate: f64,
    },
    /// Each client starts a call every `N / rate` seconds, from a random phase (a cron job,
    /// a poller).
    Fixed {
        /// Calls per second, all clients together.
        rate: f64,
    },
    /// Every client starts exactly one call at `at`, all at once (the contention
    /// experiment, or a fleet that restarts together).
    Burst {
        /// When the calls start.
        at: Duration,
    },
}

impl Arrivals {
    /// The fleet's calls per second, `None` for a burst.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial_sim::Arrivals;
    /// assert_eq!(Arrivals::Burst { at: Duration::ZERO }.rate(), None);
    /// ```
    pub fn rate(&self) -> Option<f64> {
        match *self {
            Arrivals::Poisson { rate } | Arrivals::Fixed { rate } => Some(rate),
            Arrivals::Burst { .. } => None,
        }
    }
}

/// Who shares a retry budget: each client its own (as a fleet of processes is deployed),
/// every client through Redis, or one object for all.
///
/// ```
/// assert_eq!(redial_sim::BudgetScope::default(), redial_sim::BudgetScope::PerClient);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BudgetScope {
    /// A policy (and a budget) per client: a fleet of separate processes, each with its own
    /// policy, which is what gets deployed.
    #[default]
    PerClient,
    /// A budget per client that shares its counts with the fleet through Redis: every
    /// `sync`, each client hands its counts since the last sync to a store that sums the
    /// fleet's over the budget's window, and from then on decides from those fleet totals
    /// (plus its own counts since), as the `redis` feature's exchange does.
    Redis {
        /// How often each client exchanges its counts (250 ms by default in the exchange).
        sync: Duration,
    },
    /// One policy for the whole fleet, so one budget object: only a model of the ideal
    /// (every call in one process, or a perfectly synchronous store).
    Shared,
}

/// The modelled server when nothing is wrong with it.
///
/// `concurrency` workers each take `concurrency / capacity` seconds per request, so the
/// server completes `capacity` requests per second when busy. A request that finds every
/// worker busy waits in a FIFO queue of at most `queue` requests; one that finds the queue
/// full is shed at once with `shed_status` (529 by default: overloaded).
///
/// ```
/// let s = redial_sim::ServerModel::default();
/// assert_eq!(s.service_time(), std::time::Duration::from_millis(100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ServerModel {
    /// Requests per second the server completes when all its workers are busy.
    pub capacity: f64,
    /// Requests served at once.
    pub concurrency: u32,
    /// Requests that may wait for a worker; more are shed.
    pub queue: u32,
    /// The status of a shed request.
    pub shed_status: u16,
}

impl ServerModel {
    /// A server with these numbers, shedding with 529.
    ///
    /// ```
    /// let s = redial_sim::ServerModel::new(1000.0, 50, 500);
    /// assert_eq!(s.shed_status, 529);
    /// ```
    pub fn new(capacity: f64, concurrency: u32, queue: u32) -> ServerModel {
        ServerModel {
            capacity,
            concurrency,
            queue,
            shed_status: 529,
        }
    }

    /// How long one worker takes over one request: `concurrency / capacity`.
    ///
    /// ```
    /// let s = redial_sim::ServerModel::new(10.0, 1, 0);
    /// assert_eq!(s.service_time(), std::time::Duration::from_millis(100));
    /// ```
    pub fn service_time(&self) -> Duration {
        let secs = f64::from(self.concurrency) / self.capacity;
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

impl Default for ServerModel {
    /// 200 requests per second from 20 workers (100 ms each), a queue of 200.
    fn default() -> Self {
        ServerModel::new(200.0, 20, 200)
    }
}

/// Which header a rate-limited server sends with its 429.
///
/// ```
/// assert_eq!(redial_sim::HintHeader::RetryAfter.name(), "retry-after");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HintHeader {
    /// `retry-after: N`, whole seconds until the window resets (RFC 9110 §10.2.3).
    #[default]
    RetryAfter,
    /// The IETF draft's `RateLimit: "default";r=0;t=N`.
    RateLimit,
    /// No header: a bare 429.
    None,
}

impl HintHeader {
    /// The name used on the command line.
    ///
    /// ```
    /// assert_eq!(redial_sim::HintHeader::RateLimit.name(), "ratelimit");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            HintHeader::RetryAfter => "retry-after",
            HintHeader::RateLimit => "ratelimit",
            HintHeader::None => "none",
        }
    }
}

/// How a failing request fails, as its client sees it: the failure kinds a real incident
/// produces.
///
/// ```
/// use redial_sim::Failure;
/// assert_eq!("502".parse::<Failure>(), Ok(Failure::Status(502)));
/// assert_eq!("refused".parse::<Failure>(), Ok(Failure::Refused));
/// assert_eq!(Failure::Timeout.to_string(), "timeout");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// An answer with this status and no headers (so a 429 carries no hint).
    Status(u16),
    /// The connection is refused: the client reads a connect failure
    /// ([`Transport::Connect`](redial::Transport::Connect)) one round trip after it sent
    /// the attempt. The request never reaches a worker, so it uses no capacity.
    Refused,
    /// No answer ever comes: the client gives up [`Scenario::timeout`] after it sent the
    /// attempt and reads [`Transport::Timeout`](redial::Transport::Timeout).
    Timeout,
    /// A 429 that says how long to wait: `Retry-After-Ms` with this many milliseconds
    /// (`Retry-After` in seconds when they are whole). A server that throttles at random,
    /// whatever the client's rate (a shared quota, a surge elsewhere), answers so.
    Throttled {
        /// The wait the 429 states, in milliseconds.
        wait_ms: u32,
    },
}

impl Failure {
    /// The failure kinds of the design's fleet table, in its order: the statuses 500,
    /// 502, 503, 504, 529 and a 429 without a hint, a refused connection, a timeout.
    ///
    /// ```
    /// assert_eq!(redial_sim::Failure::ALL.len(), 8);
    /// ```
    pub const ALL: [Failure; 8] = [
        Failure::Status(500),
        Failure::Status(502),
        Failure::Status(503),
        Failure::Status(504),
        Failure::Status(529),
        Failure::Status(429),
        Failure::Refused,
        Failure::Timeout,
    ];
}

impl fmt::Display for Failure {
    /// The status number, `refused`, `timeout` or `429+<ms>ms`: the command line's spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status(code) => write!(f, "{code}"),
            Failure::Refused => f.write_str("refused"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Throttled { wait_ms } => write!(f, "429+{wait_ms}ms"),
        }
    }
}

/// A [`Failure`] could not be read from text.
///
/// ```
/// let err = "nope".parse::<redial_sim::Failure>().unwrap_err();
/// assert!(err.to_string().contains("refused"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown failure {0:?} (expected a status from 100 to 599, refused, timeout, or 429+<wait> such as 429+1s or 429+20ms)")]
pub struct UnknownFailure(pub String);

impl FromStr for Failure {
    type Err = UnknownFailure;

    /// A status from 100 to 599 (ASCII digits), `refused`, `timeout`, or `429+` and a
    /// wait of at most an hour (`429+1s`, `429+20ms`: a 429 that says to wait it).
    fn from_str(s: &str) -> Result<Failure, UnknownFailure> {
        let unknown = || UnknownFailure(s.to_owned());
        if let Some(wait) = s.trim().strip_prefix("429+") {
            return redial::duration::parse(wait)
                .ok()
                .filter(|d| *d <= Duration::from_secs(3600))
                .and_then(|d| u32::try_from(d.as_millis()).ok())
                .map(|wait_ms| Failure::Throttled { wait_ms })
                .ok_or_else(unknown);
        }
        match s.trim() {
            "refused" => Ok(Failure::Refused),
            "timeout" => Ok(Failure::Timeout),
            t if !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()) => {
                match t.parse::<u16>() {
                    Ok(code) if (100..600).contains(&code) => Ok(Failure::Status(code)),
                    _ => Err(unknown()),
                }
            }
            _ => Err(unknown()),
        }
    }
}

/// What goes wrong, and for how long.
///
/// ```
/// use std::time::Duration;
/// use redial_sim::{Failure, Incident, IncidentKind};
/// let i = Incident::new(Duration::from_secs(10), Duration::from_secs(30), IncidentKind::Outage { failure: Failure::Status(503) });
/// assert_eq!(i.end(), Duration::from_secs(40));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Incident {
    /// When it begins, from the start of the run.
    pub start: Duration,
    /// How long it lasts.
    pub duration: Duration,
    /// What happens.
    pub kind: IncidentKind,
}

impl Incident {
    /// An incident over `[start, start + duration)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial_sim::{Incident, IncidentKind};
    /// let i = Incident::new(Duration::ZERO, Duration::from_secs(1), IncidentKind::Overload { capacity_factor: 0.5 });
    /// assert_eq!(i.start, Duration::ZERO);
    /// ```
    pub fn new(start: Duration, duration: Duration, kind: IncidentKind) -> Incident {
        Incident {
            start,
            duration,
            kind,
        }
    }

    /// When it ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial_sim::{Failure, Incident, IncidentKind};
    /// let i = Incident::new(Duration::from_secs(5), Duration::from_secs(5), IncidentKind::Outage { failure: Failure::Status(503) });
    /// assert_eq!(i.end(), Duration::from_secs(10));
    /// ```
    pub fn end(&self) -> Duration {
        self.start.saturating_add(self.duration)
    }
}

/// The kinds of incident.
///
/// ```
/// use redial_sim::{Failure, IncidentKind};
/// let kind = IncidentKind::Brownout { fail_fraction: 0.5, failure: Failure::Status(500) };
/// assert_eq!(kind.name(), "brownout");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum IncidentKind {
    /// Every request fails with `failure`, using no capacity: a status at once (a load
    /// balancer with no healthy backend), a refused connection at once (nothing listens),
    /// or no answer at all (a black hole: the client times out).
    Outage {
        /// How every request fails, a 503 in the named scenario.
        failure: Failure,
    },
    /// A fraction of the requests fail with `failure` (a bad deploy on some hosts, a sick
    /// dependency), chosen by the server's coin for each attempt (see the crate docs).
    /// A failing status or timeout is served as usual first, using capacity (a timeout's
    /// answer never reaches its client); a refused connection fails at once, using none.
    Brownout {
        /// The fraction that fails, 0 to 1.
        fail_fraction: f64,
        /// How a failing request fails.
        failure: Failure,
    },
    /// A fixed-window quota: at most `limit` requests are let through per `window` (the
    /// windows are aligned on the incident's start); the others get 429 at once, with a
    /// [`HintHeader`] saying when the current window ends (rounded up to the second).
    RateLimit {
        /// Requests let through per window.
        limit: u32,
        /// The window.
        window: Duration,
        /// The header sent with each 429.
        header: HintHeader,
    },
    /// The server keeps `capacity_factor` of its capacity (requests take longer), so its
    /// queue fills and it sheds with its [`shed_status`](ServerModel::shed_status) (529 by
    /// default; 503 for a server that sheds with that).
    Overload {
        /// The capacity left, more than 0.
        capacity_factor: f64,
    },
    /// A leaky bucket, as nginx's `limit_req` with `nodelay` enforces one: it drains at
    /// `rate` requests per second and holds `burst` requests beyond the one being let
    /// through; a request that would overflow it gets 429 at once with `Retry-After: 1`
    /// (and does not fill it). The bucket refills continuously, so a client that waits out
    /// a 429 and resends at full speed meets it again a second later.
    LeakyBucket {
        /// Requests per second let through in the long run.
        rate: f64,
        /// Requests let through at once beyond the rate (nginx's `burst`).
        burst: u32,
    },
    /// An acceleration limit: the rate let through may rise by at most `slope` requests
    /// per second in each second. Counted in one-second windows from the incident's start,
    /// window `k` lets through `max(floor, let_through(k − 1) + slope)` requests; the
    /// others get 429 with `Retry-After: 1` and the quota they are well under
    /// (`x-ratelimit-*`, far from spent), as the Anthropic API states it on a sudden
    /// surge. A client that jumps from nothing to its full rate is throttled until the
    /// allowance has climbed.
    Acceleration {
        /// Requests per second always let through.
        floor: f64,
        /// How much the allowance may grow from one second to the next, in requests per
        /// second.
        slope: f64,
    },
}

impl IncidentKind {
    /// The kind's name, as the command line spells the scenario.
    ///
    /// ```
    /// use redial_sim::IncidentKind;
    /// assert_eq!(IncidentKind::Overload { capacity_factor: 0.3 }.name(), "overload");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            IncidentKind::Outage { .. } => "outage",
            IncidentKind::Brownout { .. } => "brownout",
            IncidentKind::RateLimit { .. } => "ratelimit",
            IncidentKind::Overload { .. } => "overload",
            IncidentKind::LeakyBucket { .. } => "leaky-bucket",
            IncidentKind::Acceleration { .. } => "acceleration",
        }
    }
}

/// How long a client of the named scenarios waits for an answer: 10 s.
///
/// ```
/// assert_eq!(redial_sim::Scenario::outage().timeout, redial_sim::DEFAULT_TIMEOUT);
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything one run needs, but the policy.
///
/// Plain data with public fields: start from one of the named constructors
/// ([`outage`](Self::outage), [`brownout`](Self::brownout), [`rate_limit`](Self::rate_limit),
/// [`overload`](Self::overload), [`contention`](Self::contention), [`healthy`](Self::healthy))
/// and change what you need; [`run`](super::run) checks every field and names the one that
/// breaks a rule. The [`simulate`](super) module docs describe the model.
///
/// ```
/// use redial_sim::Scenario;
/// let s = Scenario::brownout();
/// assert_eq!(s.incidents[0].kind.name(), "brownout");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Scenario {
    /// Clients in the fleet.
    pub clients: u32,
    /// How they start calls.
    pub arrivals: Arrivals,
    /// Calls start during `[0, duration)`; the run then goes on until every call has ended.
    pub duration: Duration,
    /// The server when healthy.
    pub server: ServerModel,
    /// What goes wrong, and when.
    pub incidents: Vec<Incident>,
    /// The request each call makes: whether it is idempotent decides which failures the
    /// policy retries (RFC 9110 §9.2.2).
    pub request: RequestFacts,
    /// Network round trip, half each way, added to every attempt.
    pub rtt: Duration,
    /// How long a client waits for an answer before it gives up on the attempt and reads
    /// [`Transport::Timeout`](redial::Transport::Timeout): 10 s in the named scenarios.
    /// Only an answer that never comes ([`Failure::Timeout`]) reaches it: every other
    /// answer of the model comes back within a few seconds.
    pub timeout: Duration,
    /// The width of the time buckets that load and successes are counted in.
    pub bucket: Duration,
    /// One budget for the fleet, or one per client.
    pub budget: BudgetScope,
    /// The seed for arrivals, the server's coin flips and the clients' jitter.
    pub seed: u64,
    /// A [`Pacer`](redial::pacer::Pacer) per client, with these settings, that every
    /// attempt asks before it goes and every answer is told (`None`, the default: the
    /// policy's own, as the library's adapters have it; none if the policy paces not).
    pub pacer: Option<PacerConfig>,
    /// Whether a 503 or 529 cuts the pacer's rate as a 429 does (`false`, the default, as
    /// the library's adapters do: measured, cutting on them collapses a brown-out's calls,
    /// docs/PACER.md).
    pub pacer_cuts_on_shed: bool,
    /// The most events a run may process before it gives up with
    /// [`SimulateError::TooManyEvents`](super::SimulateError::TooManyEvents): a bug
    /// fails fast instead of hanging.
    pub max_events: u64,
}

impl Default for Scenario {
    /// [`Scenario::outage`].
    fn default() -> Self {
        Scenario::outage()
    }
}

impl Scenario {
    /// A healthy fleet with no incident: 1,000 clients start 100 calls per second in all
    /// (Poisson) for 10 minutes against the [default server](ServerModel::default)
    /// (200 requests per second), idempotent requests, 20 ms round trip, a 10 s attempt
    /// timeout, 1 s buckets, a shared budget, seed 1.
    ///
    /// ```
    /// let s = redial_sim::Scenario::healthy();
    /// assert!(s.incidents.is_empty());
    /// assert_eq!(s.clients, 1000);
    /// ```
    pub fn healthy() -> Scenario {
        Scenario {
            clients: 1000,
            arrivals: Arrivals::Poisson { rate: 100.0 },
            duration: Duration::from_secs(600),
            server: ServerModel::default(),
            incidents: Vec::new(),
            request: RequestFacts::idempotent(true),
            rtt: Duration::from_millis(20),
            timeout: DEFAULT_TIMEOUT,
            bucket: Duration::from_secs(1),
            budget: BudgetScope::Shared,
            seed: 1,
            pacer: None,
            pacer_cuts_on_shed: false,
            max_events: 2_000_000_000,
        }
    }

    /// [`healthy`](Self::healthy), with one incident from minute 1 to minute 3.
    fn with_incident(kind: IncidentKind) -> Scenario {
        let mut s = Scenario::healthy();
        s.incidents.push(Incident::new(
            Duration::from_secs(60),
            Duration::from_secs(120),
            kind,
        ));
        s
    }

    /// The server is down from minute 1 to minute 3: every request gets 503 at once.
    ///
    /// ```
    /// use redial_sim::{Failure, IncidentKind, Scenario};
    /// assert_eq!(Scenario::outage().incidents[0].kind, IncidentKind::Outage { failure: Failure::Status(503) });
    /// ```
    pub fn outage() -> Scenario {
        Scenario::with_incident(IncidentKind::Outage {
            failure: Failure::Status(503),
        })
    }

    /// From minute 1 to minute 3, half the requests fail with 500 after being served.
    ///
    /// ```
    /// let s = redial_sim::Scenario::brownout();
    /// assert_eq!(s.incidents[0].kind.name(), "brownout");
    /// ```
    pub fn brownout() -> Scenario {
        Scenario::with_incident(IncidentKind::Brownout {
            fail_fraction: 0.5,
            failure: Failure::Status(500),
        })
    }

    /// From minute 1 to minute 3 the fleet's quota is 500 requests per 10 s window (half
    /// its demand); the others get 429 with `retry-after`.
    ///
    /// ```
    /// let s = redial_sim::Scenario::rate_limit();
    /// assert_eq!(s.incidents[0].kind.name(), "ratelimit");
    /// ```
    pub fn rate_limit() -> Scenario {
        Scenario::with_incident(IncidentKind::RateLimit {
            limit: 500,
            window: Duration::from_secs(10),
            header: HintHeader::RetryAfter,
        })
    }

    /// From minute 1 to minute 3 the server keeps a quarter of its capacity (50 requests
    /// per second for a demand of 100), fills its queue and sheds with 529.
    ///
    /// ```
    /// let s = redial_sim::Scenario::overload();
    /// assert_eq!(s.incidents[0].kind.name(), "overload");
    /// ```
    pub fn overload() -> Scenario {
        Scenario::with_incident(IncidentKind::Overload {
            capacity_factor: 0.25,
        })
    }

    /// A leaky-bucket limiter (nginx `limit_req rate=10r/s burst=10`, 429 with
    /// `Retry-After: 1`) for the whole run, and one client that wants 30 calls a second
    /// (Poisson) for 140 s: three times the limit.
    ///
    /// ```
    /// let s = redial_sim::Scenario::leaky_bucket();
    /// assert_eq!(s.incidents[0].kind.name(), "leaky-bucket");
    /// ```
    pub fn leaky_bucket() -> Scenario {
        Scenario::whole_run(IncidentKind::LeakyBucket {
            rate: 10.0,
            burst: 10,
        })
    }

    /// An acceleration-limited server (5 requests per second at first, the allowance
    /// growing by 1 request per second each second) for the whole run, and one client
    /// that wants 30 calls a second (Poisson) for 140 s.
    ///
    /// ```
    /// let s = redial_sim::Scenario::acceleration();
    /// assert_eq!(s.incidents[0].kind.name(), "acceleration");
    /// ```
    pub fn acceleration() -> Scenario {
        Scenario::whole_run(IncidentKind::Acceleration {
            floor: 5.0,
            slope: 1.0,
        })
    }

    /// One client, 30 calls a second for 140 s, and `kind` for the whole run.
    fn whole_run(kind: IncidentKind) -> Scenario {
        let mut s = Scenario::healthy();
        s.clients = 1;
        s.arrivals = Arrivals::Poisson { rate: 30.0 };
        s.duration = Duration::from_secs(140);
        s.budget = BudgetScope::PerClient;
        // Until the last retry has ended, so that no call is cut off.
        s.incidents.push(Incident::new(
            Duration::ZERO,
            Duration::from_secs(3600),
            kind,
        ));
        s
    }

    /// The AWS Architecture Blog's contention experiment ("Exponential Backoff and
    /// Jitter"): `clients` clients each make one call at the same instant against a
    /// resource that admits one request at a time (one worker, no queue, 10 ms per
    /// request) and rejects the others (529): only one of a set of simultaneous attempts
    /// can win. The blog's clients retry until they succeed, so use a policy with many
    /// attempts and no budget. No network delay, 10 ms buckets.
    ///
    /// ```
    /// let s = redial_sim::Scenario::contention(100);
    /// assert_eq!(s.server.concurrency, 1);
    /// assert_eq!(s.server.queue, 0);
    /// ```
    pub fn contention(clients: u32) -> Scenario {
        Scenario {
            clients,
            arrivals: Arrivals::Burst { at: Duration::ZERO },
            duration: Duration::from_millis(1),
            server: ServerModel::new(100.0, 1, 0),
            incidents: Vec::new(),
            request: RequestFacts::idempotent(true),
            rtt: Duration::ZERO,
            timeout: DEFAULT_TIMEOUT,
            bucket: Duration::from_millis(10),
            budget: BudgetScope::Shared,
            seed: 1,
            pacer: None,
            pacer_cuts_on_shed: false,
            max_events: 100_000_000,
        }
    }

    /// When the last incident ends, `None` without incidents.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(redial_sim::Scenario::outage().incident_end(), Some(Duration::from_secs(180)));
    /// ```
    pub fn incident_end(&self) -> Option<Duration> {
        self.incidents.iter().map(Incident::end).max()
    }

    /// When the first incident begins, `None` without incidents.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(redial_sim::Scenario::outage().incident_start(), Some(Duration::from_secs(60)));
    /// ```
    pub fn incident_start(&self) -> Option<Duration> {
        self.incidents.iter().map(|i| i.start).min()
    }
}
