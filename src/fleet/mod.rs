//! Fleet-shared state on Redis (feature `redis`): processes that name one key share the
//! rate-limit [gate](crate::gate) and the budget's counters.
//!
//! A budget or a gate kept per process protects one process; a fleet of a thousand
//! processes, each making a call every few seconds, never learns anything alone. Naming
//! one key (a service, or one API key) makes them one fleet:
//!
//! - decisions never wait on the network: they read a local view;
//! - a background thread exchanges that view with Redis once per sync interval (default
//!   250 ms), in one round trip (a Lua script): it sends the counts added here since the
//!   last sync and the latest reset this process learned, and reads back the fleet's
//!   totals over the budget's window and the fleet's latest reset. Counts live in
//!   time-bucketed hashes and every key expires, so nothing outlives the fleet;
//! - a process that learns a new reset shares it at once (at most 5 syncs per interval),
//!   not at its next tick;
//! - Redis down, slow, flushed or unreachable: each sync has a timeout of one interval; a
//!   failure makes decisions fall back to local state at once, is told once to the
//!   [`FleetConfig::on_event`] hook (and again when the exchange resumes), and is retried
//!   at the next tick. Nothing blocks a call and nothing panics. Counts taken for a sync
//!   that failed are not sent again (the reply may have been lost after Redis applied
//!   them, and counting twice would be worse);
//! - two keys never share state: every Redis key is `redial:{KEY}:…` (the braces keep a
//!   fleet's keys in one Redis Cluster slot).
//!
//! Processes exchange wall-clock instants (the gate's reset), so their clocks should agree
//! to well under the sync interval (NTP does).
//!
//! ```no_run
//! use std::time::Duration;
//! use redial::fleet::Fleet;
//! use redial::Policy;
//!
//! let fleet = Fleet::connect("redis://127.0.0.1:6379", "billing-api", Duration::from_millis(250))?;
//! let policy = Policy::default().with_fleet(&fleet);
//! # let _ = policy;
//! # Ok::<(), redial::fleet::FleetError>(())
//! ```

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::SystemTime;

use crate::duration::Human;
use crate::gate::{Gate, GateConfig};
use crate::policy::{Policy, PolicyError};

mod exchange;

/// Additive counters over time buckets that a fleet sums: what a budget shares.
///
/// The exchange calls these from its thread, once per sync. A fixed number of `u64`
/// counters, each a count added since the last sync (`take_local_deltas`); the fleet's
/// totals over the last `window` buckets of `bucket` each, this process's included, come
/// back as the view the budget decides from (`set_fleet_view`).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::{Duration, SystemTime};
/// use redial::fleet::FleetCounters;
///
/// /// Attempts made and refused: the smallest budget a fleet can share.
/// #[derive(Default)]
/// struct Tally { local: [AtomicU64; 2], fleet: [AtomicU64; 2] }
///
/// impl FleetCounters for Tally {
///     fn len(&self) -> usize { 2 }
///     fn bucket(&self) -> Duration { Duration::from_secs(1) }
///     fn window(&self) -> u32 { 10 }
///     fn take_local_deltas(&self, out: &mut [u64]) {
///         for (o, c) in out.iter_mut().zip(&self.local) { *o = c.swap(0, Ordering::Relaxed); }
///     }
///     fn set_fleet_view(&self, totals: &[u64], _at: SystemTime) {
///         for (t, f) in totals.iter().zip(&self.fleet) { f.store(*t, Ordering::Relaxed); }
///     }
///     fn fall_back_to_local(&self) {
///         for f in &self.fleet { f.store(0, Ordering::Relaxed); }
///     }
/// }
/// # let _ = Tally::default();
/// ```
pub trait FleetCounters: Send + Sync + 'static {
    /// How many counters (the same for the life of the value).
    fn len(&self) -> usize;
    /// Whether there are no counters (then only the gate is shared).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The length of one time bucket.
    fn bucket(&self) -> Duration;
    /// How many of the latest buckets the fleet's totals sum (the current one included).
    fn window(&self) -> u32;
    /// Writes the counts added here since the last call into `out` (`len()` entries) and
    /// starts counting afresh.
    fn take_local_deltas(&self, out: &mut [u64]);
    /// The fleet's totals over the window, this process's counts included, read at `at`.
    fn set_fleet_view(&self, totals: &[u64], at: SystemTime);
    /// Redis is out of reach: decide from local counts alone until the next view.
    fn fall_back_to_local(&self);
}

/// What the exchange tells the [`FleetConfig::on_event`] hook: once when Redis goes out
/// of reach, once when it is back.
///
/// ```
/// use std::time::Duration;
/// use redial::fleet::FleetEvent;
/// let back = FleetEvent::Resumed { key: "svc", failures: 3, after: Duration::from_millis(750) };
/// assert_eq!(back.to_string(), "fleet key \"svc\": Redis is back after 3 failed syncs (750ms); sharing again");
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum FleetEvent<'a> {
    /// A sync failed (connection refused, timeout, an error reply): decisions use local
    /// state until one succeeds. Told once per outage.
    Unreachable {
        /// The fleet key.
        key: &'a str,
        /// What failed.
        error: &'a (dyn std::error::Error + 'static),
    },
    /// A sync succeeded after an outage: decisions read the fleet's view again.
    Resumed {
        /// The fleet key.
        key: &'a str,
        /// Syncs that failed in the outage.
        failures: u64,
        /// How long the outage lasted.
        after: Duration,
    },
}

impl fmt::Display for FleetEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetEvent::Unreachable { key, error } => write!(
                f,
                "fleet key {key:?}: Redis is out of reach ({error}); deciding from local state"
            ),
            FleetEvent::Resumed {
                key,
                failures,
                after,
            } => write!(
                f,
                "fleet key {key:?}: Redis is back after {failures} failed syncs ({}); sharing again",
                Human(*after)
            ),
        }
    }
}

/// Why a fleet could not start.
///
/// ```
/// let err = redial::fleet::Fleet::connect("redis://127.0.0.1", "", std::time::Duration::from_millis(250)).unwrap_err();
/// assert_eq!(err.to_string(), "fleet.key: must be 1 to 128 printable ASCII characters without braces, got \"\"");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// A setting breaks a rule (the error names the key of the `[fleet]` table).
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// The exchange's thread could not be started.
    #[error("fleet: cannot start the exchange thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// The settings of a fleet (the `[fleet]` table of a policy file).
///
/// ```
/// use std::time::Duration;
/// use redial::fleet::FleetConfig;
/// let config = FleetConfig::new("redis://127.0.0.1:6379", "billing-api").sync(Duration::from_millis(100));
/// assert_eq!(config.key(), "billing-api");
/// ```
#[derive(Clone)]
#[must_use]
pub struct FleetConfig {
    url: String,
    key: String,
    sync: Duration,
    gate: GateConfig,
    on_event: Option<EventHook>,
}

/// What hears the exchange's news.
type EventHook = Arc<dyn Fn(&FleetEvent<'_>) + Send + Sync>;

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: it is not printed.
        f.debug_struct("FleetConfig")
            .field("key", &self.key)
            .field("sync", &self.sync)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl FleetConfig {
    /// The default sync interval, 250 ms: a new reset reaches every process within about
    /// that, while a thousand processes make 4,000 small round trips a second in all.
    pub const DEFAULT_SYNC: Duration = Duration::from_millis(250);

    /// A fleet on the Redis at `url` (`redis://[:password@]host[:port][/db]`), for `key`,
    /// syncing every 250 ms.
    ///
    /// ```
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc");
    /// assert_eq!(c.sync_interval(), std::time::Duration::from_millis(250));
    /// ```
    pub fn new(url: impl Into<String>, key: impl Into<String>) -> Self {
        FleetConfig {
            url: url.into(),
            key: key.into(),
            sync: Self::DEFAULT_SYNC,
            gate: GateConfig::default(),
            on_event: None,
        }
    }

    /// The sync interval, from 10 ms to 1 minute. It is also each round trip's timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc").sync(Duration::from_secs(1));
    /// assert_eq!(c.sync_interval(), Duration::from_secs(1));
    /// ```
    pub fn sync(mut self, interval: Duration) -> Self {
        self.sync = interval;
        self
    }

    /// The gate's ramp and longest hold.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial::gate::GateConfig;
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc")
    ///     .gate(GateConfig::new(Duration::from_secs(2), Duration::from_secs(30)));
    /// # let _ = c;
    /// ```
    pub fn gate(mut self, gate: GateConfig) -> Self {
        self.gate = gate;
        self
    }

    /// Who hears that Redis went out of reach, and that it is back: once each.
    ///
    /// ```
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc")
    ///     .on_event(|event| eprintln!("{event}"));
    /// # let _ = c;
    /// ```
    pub fn on_event(mut self, hook: impl Fn(&FleetEvent<'_>) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// The fleet key.
    ///
    /// ```
    /// assert_eq!(redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc").key(), "svc");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The sync interval.
    ///
    /// ```
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc");
    /// assert_eq!(c.sync_interval().as_millis(), 250);
    /// ```
    pub fn sync_interval(&self) -> Duration {
        self.sync
    }

    /// Checks every setting, without any I/O: the errors name the `[fleet]` key.
    ///
    /// ```
    /// use std::time::Duration;
    /// let err = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc")
    ///     .sync(Duration::from_millis(1))
    ///     .validate()
    ///     .unwrap_err();
    /// assert_eq!(err.key(), "fleet.sync");
    /// ```
    pub fn validate(&self) -> Result<(), PolicyError> {
        self.client().map(drop)
    }

    fn client(&self) -> Result<redis::Client, PolicyError> {
        let key_ok = (1..=128).contains(&self.key.len())
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}');
        if !key_ok {
            return Err(PolicyError::invalid(
                "fleet.key",
                "1 to 128 printable ASCII characters without braces",
                format!("{:?}", self.key),
            ));
        }
        if !(Duration::from_millis(10)..=Duration::from_secs(60)).contains(&self.sync) {
            return Err(PolicyError::invalid(
                "fleet.sync",
                "from 10ms to 1m",
                Human(self.sync).to_string(),
            ));
        }
        // The URL is not echoed: it may hold a password.
        redis::Client::open(self.url.as_str()).map_err(|e| {
            PolicyError::invalid(
                "fleet.url",
                "a Redis URL (redis://[:password@]host[:port][/db])",
                format!("one that does not parse ({})", e.category()),
            )
        })
    }

    /// Validates, then starts the exchange's thread. Does no I/O here: the first sync runs
    /// on that thread, at once; until it succeeds, decisions use local state.
    ///
    /// ```
    /// use std::time::Duration;
    /// // Nothing listens on port 1: the fleet starts anyway and decides locally.
    /// let fleet = redial::fleet::FleetConfig::new("redis://127.0.0.1:1", "svc").connect()?;
    /// assert!(!fleet.status().connected);
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn connect(self) -> Result<Fleet, FleetError> {
        let client = self.client()?;
        let shared = Arc::new(Shared {
            gate: Gate::new(self.gate),
            client,
            counters: Mutex::new(None),
            stopped: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            config: self,
        });
        let run = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("redial-fleet {}", shared.config.key))
            .spawn(move || exchange::run(&run))
            .map_err(FleetError::Thread)?;
        let wake = thread.thread().clone();
        shared.gate.on_learn(move || wake.unpark());
        Ok(Fleet {
            stopper: Arc::new(Stopper {
                shared: shared.clone(),
                thread: thread.thread().clone(),
            }),
            shared,
        })
    }
}

/// A process's membership in a fleet: the shared gate, and the exchange that keeps it and
/// the shared counters in step with Redis. Clones share it; the exchange stops within one
/// sync interval of the last clone's drop.
///
/// ```
/// use std::time::Duration;
/// use redial::fleet::Fleet;
/// let fleet = Fleet::connect("redis://127.0.0.1:1", "svc", Duration::from_millis(250))?;
/// assert_eq!(fleet.key(), "svc");
/// # Ok::<(), redial::fleet::FleetError>(())
/// ```
#[derive(Clone)]
pub struct Fleet {
    shared: Arc<Shared>,
    stopper: Arc<Stopper>,
}

struct Shared {
    config: FleetConfig,
    client: redis::Client,
    gate: Gate,
    counters: Mutex<Option<Arc<dyn FleetCounters>>>,
    stopped: AtomicBool,
    connected: AtomicBool,
    syncs: AtomicU64,
    failures: AtomicU64,
}

/// Stops the exchange when the last [`Fleet`] clone goes.
struct Stopper {
    shared: Arc<Shared>,
    thread: Thread,
}

impl Drop for Stopper {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
        self.thread.unpark();
    }
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("key", &self.key())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// Joins the fleet `key` on the Redis at `url`, syncing every `sync`: the short form
    /// of [`FleetConfig::connect`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let fleet = redial::fleet::Fleet::connect("redis://127.0.0.1:1", "svc", Duration::from_millis(250))?;
    /// # let _ = fleet;
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn connect(url: &str, key: &str, sync: Duration) -> Result<Fleet, FleetError> {
        FleetConfig::new(url, key).sync(sync).connect()
    }

    /// The fleet key.
    ///
    /// ```
    /// # let fleet = redial::fleet::Fleet::connect("redis://127.0.0.1:1", "svc", std::time::Duration::from_millis(250))?;
    /// assert_eq!(fleet.key(), "svc");
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn key(&self) -> &str {
        &self.shared.config.key
    }

    /// The fleet's rate-limit gate: what this process learns, every process of the fleet
    /// holds for.
    ///
    /// ```
    /// # let fleet = redial::fleet::Fleet::connect("redis://127.0.0.1:1", "svc", std::time::Duration::from_millis(250))?;
    /// assert_eq!(fleet.gate().reset(), None);
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn gate(&self) -> &Gate {
        &self.shared.gate
    }

    /// Shares these counters with the fleet from the next sync on (replacing any shared
    /// before).
    ///
    /// ```
    /// # use std::time::{Duration, SystemTime};
    /// # struct None_;
    /// # impl redial::fleet::FleetCounters for None_ {
    /// #     fn len(&self) -> usize { 0 }
    /// #     fn bucket(&self) -> Duration { Duration::from_secs(1) }
    /// #     fn window(&self) -> u32 { 1 }
    /// #     fn take_local_deltas(&self, _: &mut [u64]) {}
    /// #     fn set_fleet_view(&self, _: &[u64], _: SystemTime) {}
    /// #     fn fall_back_to_local(&self) {}
    /// # }
    /// # let fleet = redial::fleet::Fleet::connect("redis://127.0.0.1:1", "svc", Duration::from_millis(250))?;
    /// fleet.share(std::sync::Arc::new(None_));
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn share(&self, counters: Arc<dyn FleetCounters>) {
        if let Ok(mut slot) = self.shared.counters.lock() {
            *slot = Some(counters);
        }
    }

    /// How the exchange is doing.
    ///
    /// ```
    /// # let fleet = redial::fleet::Fleet::connect("redis://127.0.0.1:1", "svc", std::time::Duration::from_millis(250))?;
    /// let status = fleet.status();
    /// assert!(!status.connected);
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn status(&self) -> FleetStatus {
        let s = &self.shared;
        FleetStatus {
            connected: s.connected.load(Ordering::Relaxed),
            syncs: s.syncs.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
        }
    }

    /// Whether two handles are one membership.
    ///
    /// ```
    /// # let fleet = redial::fleet::Fleet::connect("redis://127.0.0.1:1", "svc", std::time::Duration::from_millis(250))?;
    /// assert!(fleet.same(&fleet.clone()));
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn same(&self, other: &Fleet) -> bool {
        Arc::ptr_eq(&self.stopper, &other.stopper)
    }
}

/// How the exchange is doing: [`Fleet::status`].
///
/// ```
/// let s = redial::fleet::FleetStatus::default();
/// assert_eq!((s.connected, s.syncs, s.failures), (false, 0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetStatus {
    /// Whether the last sync succeeded.
    pub connected: bool,
    /// Syncs that succeeded.
    pub syncs: u64,
    /// Syncs that failed.
    pub failures: u64,
}

impl Policy {
    /// The same policy, in the fleet: its first attempts consult the fleet's shared gate,
    /// and the policy keeps the fleet's exchange running while any clone of it lives.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial::fleet::Fleet;
    /// let fleet = Fleet::connect("redis://127.0.0.1:1", "svc", Duration::from_millis(250))?;
    /// let policy = redial::Policy::default().with_fleet(&fleet);
    /// assert!(policy.gate().is_some_and(|g| g.same(fleet.gate())));
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn with_fleet(self, fleet: &Fleet) -> Policy {
        let mut policy = self.with_gate(fleet.gate().clone());
        policy.fleet = Some(fleet.clone());
        policy
    }
}
