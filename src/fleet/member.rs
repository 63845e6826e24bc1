//! A process's membership in a fleet (feature `redis`): the handle, the state the
//! exchange's thread shares with it, and how a policy joins.

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;

use crate::gate::Gate;
use crate::pacer::Pacer;
use crate::{Policy, PolicyError};

use super::{exchange, FleetConfig, FleetCounters, FleetError};

impl FleetConfig {
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
        self.validate()?;
        let client = redis::Client::open(self.url.as_str()).map_err(|e| {
            PolicyError::invalid(
                "fleet.url",
                "a Redis URL (redis://[:password@]host[:port][/db])",
                format!("one that does not parse ({})", e.category()),
            )
        })?;
        let shared = Arc::new(Shared {
            gate: Gate::new(self.gate),
            client,
            counters: Mutex::new(None),
            pacer: Mutex::new(None),
            // Names this process's demand in the fleet's hash; a collision between two
            // processes of one fleet (one in 2^64) would count one demand for both.
            id: fastrand::u64(..),
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

pub(super) struct Shared {
    pub(super) config: FleetConfig,
    pub(super) client: redis::Client,
    pub(super) gate: Gate,
    pub(super) counters: Mutex<Option<Arc<dyn FleetCounters>>>,
    pub(super) pacer: Mutex<Option<Arc<Pacer>>>,
    pub(super) id: u64,
    pub(super) stopped: AtomicBool,
    pub(super) connected: AtomicBool,
    pub(super) syncs: AtomicU64,
    pub(super) failures: AtomicU64,
}

impl Shared {
    /// The budget counters the exchange shares, once a budget has joined.
    pub(super) fn counters(&self) -> Option<Arc<dyn FleetCounters>> {
        self.counters.lock().ok().and_then(|c| c.clone())
    }

    /// The pacer whose rate the fleet shares, once one has joined.
    pub(super) fn pacer(&self) -> Option<Arc<Pacer>> {
        self.pacer.lock().ok().and_then(|p| p.clone())
    }
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
    /// # use std::time::{Duration, Instant};
    /// # struct None_;
    /// # impl redial::fleet::FleetCounters for None_ {
    /// #     fn len(&self) -> usize { 0 }
    /// #     fn bucket(&self) -> Duration { Duration::from_secs(1) }
    /// #     fn window(&self) -> u32 { 1 }
    /// #     fn take_local_deltas(&self, _: &mut [u64]) {}
    /// #     fn set_fleet_view(&self, _: &[u64], _: &[u64], _: Instant, _: Duration) {}
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

    /// Shares this pacer's rate with the fleet from the next sync on (replacing any
    /// shared before): every process paces to its share of one rate, learned together
    /// ([`FleetView`](crate::pacer::FleetView)), and a cut here is shared at once.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use redial::pacer::Pacer;
    /// # let fleet = redial::fleet::Fleet::connect("redis://127.0.0.1:1", "svc", std::time::Duration::from_millis(250))?;
    /// fleet.pace(Arc::new(Pacer::default()));
    /// # Ok::<(), redial::fleet::FleetError>(())
    /// ```
    pub fn pace(&self, pacer: Arc<Pacer>) {
        let wake = self.stopper.thread.clone();
        pacer.on_cut(move || wake.unpark());
        if let Ok(mut slot) = self.shared.pacer.lock() {
            *slot = Some(pacer);
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
    /// Joins the fleet this policy names (a policy file's `[fleet]` table): connects it
    /// ([`FleetConfig::connect`], no I/O on this thread) and returns the policy
    /// [`with_fleet`](Self::with_fleet). A policy that names no fleet comes back as it is.
    ///
    /// ```
    /// let policy = redial::Policy::from_toml("[fleet]\nurl = \"redis://127.0.0.1:1\"\nkey = \"svc\"\n")?;
    /// let policy = policy.join_fleet()?;
    /// assert!(policy.gate().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_fleet(self) -> Result<Policy, FleetError> {
        match self.fleet_config() {
            Some(config) => {
                let fleet = config.clone().connect()?;
                Ok(self.with_fleet(&fleet))
            }
            None => Ok(self),
        }
    }

    /// The same policy, in the fleet: its first attempts consult the fleet's shared gate,
    /// its budget's counts are shared with the fleet (replacing a budget shared before;
    /// the `aws` kind has none to share), its pacer, if pacing is on, learns one rate with
    /// the fleet's ([`Fleet::pace`]), and the policy keeps the fleet's exchange
    /// running while any clone of it lives.
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
        if let Some(budget) = self.rules().budget() {
            fleet.share(Arc::new(budget.clone()));
        }
        if let Some(pacer) = self.shared_pacer() {
            fleet.pace(pacer);
        }
        let mut policy = self.with_gate(fleet.gate().clone());
        policy.fleet = Some(fleet.clone());
        policy
    }
}
