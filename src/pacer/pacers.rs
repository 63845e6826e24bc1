//! One pacer per scope (a host by default), in a table made once.
//!
//! Why a fixed table of slots claimed by compare-and-swap, rather than a map behind a
//! lock: finding the pacer is on every attempt's path, so it must take no lock and
//! allocate nothing, and a process talks to few hosts. A key is hashed to a slot and
//! probed linearly; an empty slot is claimed once and never given back, so a key's pacer
//! (and what it learned) lives as long as the table. When every slot is taken, the keys
//! that find none share one overflow pacer: a throttle on one of them then slows the
//! others, so size the table for the hosts a process calls (64 by default).
//!
//! ```
//! use redial::pacer::{PacerKey, Pacers};
//!
//! let pacers = Pacers::new(Default::default(), 8);
//! let a = pacers.get(PacerKey::host("api.example.com"));
//! let b = pacers.get(PacerKey::host("API.example.com"));
//! assert!(std::ptr::eq(a, b), "hosts compare without case");
//! assert!(!std::ptr::eq(a, pacers.get(PacerKey::host("other.example.com"))));
//! ```

use core::fmt;
use core::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::{Pacer, PacerConfig};

/// What a pacer is for: a host's hash, or a number the caller names. Never 0 (the table's
/// mark for an empty slot).
///
/// ```
/// use redial::pacer::PacerKey;
/// assert_eq!(PacerKey::host("a.test"), PacerKey::host("A.TEST"));
/// assert_ne!(PacerKey::new(0), PacerKey::new(1) , "0 is kept apart");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacerKey(NonZeroU64);

impl PacerKey {
    /// A key the caller names (a service, an API key's hash).
    ///
    /// ```
    /// assert_eq!(redial::pacer::PacerKey::new(7).get(), 7);
    /// ```
    pub const fn new(key: u64) -> PacerKey {
        // 0 marks an empty slot; the top value stands in for it.
        match NonZeroU64::new(key) {
            Some(key) => PacerKey(key),
            None => PacerKey(NonZeroU64::MAX),
        }
    }

    /// The key of a host, compared without case (FNV-1a over its lower-cased bytes: no
    /// allocation, and the same in every process, so a fleet can name it too).
    ///
    /// ```
    /// let k = redial::pacer::PacerKey::host("api.anthropic.com");
    /// assert_ne!(k.get(), 0);
    /// ```
    pub fn host(host: &str) -> PacerKey {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in host.bytes() {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        PacerKey::new(h)
    }

    /// The number.
    ///
    /// ```
    /// assert_eq!(redial::pacer::PacerKey::new(3).get(), 3);
    /// ```
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

struct Slot {
    key: AtomicU64,
    /// Shared, so that a call waiting for its slot can hold the pacer it will give the
    /// place back to. Made when a key first claims the slot: a policy (every preset has
    /// a table) costs one pacer, not 65, until it calls many hosts.
    pacer: OnceLock<Arc<Pacer>>,
}

/// A fixed table of pacers by [`PacerKey`] (see the module docs).
///
/// ```
/// use redial::pacer::{PacerKey, Pacers};
/// let pacers = Pacers::new(Default::default(), 1);
/// let a = pacers.get(PacerKey::new(1));
/// let b = pacers.get(PacerKey::new(2)); // no slot left: the overflow pacer
/// assert!(std::ptr::eq(b, pacers.get(PacerKey::new(3))));
/// assert!(!std::ptr::eq(a, b));
/// ```
pub struct Pacers {
    slots: Box<[Slot]>,
    /// Also the model each slot's pacer is made from: the same settings, the same flag.
    overflow: Arc<Pacer>,
}

impl fmt::Debug for Pacers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let used = self
            .slots
            .iter()
            .filter(|s| s.key.load(Ordering::Relaxed) != 0)
            .count();
        f.debug_struct("Pacers")
            .field("slots", &self.slots.len())
            .field("used", &used)
            .finish_non_exhaustive()
    }
}

impl Default for Pacers {
    fn default() -> Self {
        Pacers::new(PacerConfig::default(), Pacers::DEFAULT_SLOTS)
    }
}

impl Pacers {
    /// The slots of [`Pacers::default`].
    pub const DEFAULT_SLOTS: usize = 64;

    /// A table of `slots` pacers (at least one), each with `config`, each made when a key
    /// first claims its slot.
    ///
    /// ```
    /// let _ = redial::pacer::Pacers::new(Default::default(), 16);
    /// ```
    pub fn new(config: PacerConfig, slots: usize) -> Pacers {
        Pacers::sharing(config, slots, None)
    }

    /// A table whose pacers set `engaged` once one of them listens.
    pub(crate) fn sharing(
        config: PacerConfig,
        slots: usize,
        engaged: Option<Arc<AtomicBool>>,
    ) -> Pacers {
        Pacers {
            slots: (0..slots.max(1))
                .map(|_| Slot {
                    key: AtomicU64::new(0),
                    pacer: OnceLock::new(),
                })
                .collect(),
            overflow: Arc::new(Pacer::sharing(config, engaged)),
        }
    }

    /// The pacer of a claimed slot, made at its first use.
    fn made<'a>(&self, slot: &'a Slot) -> &'a Arc<Pacer> {
        slot.pacer.get_or_init(|| {
            let model = &self.overflow;
            Arc::new(Pacer::sharing(model.config, model.engaged.clone()))
        })
    }

    /// The pacer of `key`, claiming a slot for it the first time (and then making its
    /// pacer: the one allocation, once per key). No lock.
    ///
    /// ```
    /// use redial::pacer::{PacerKey, Pacers};
    /// let pacers = Pacers::default();
    /// assert!(!pacers.get(PacerKey::host("a.test")).is_active());
    /// ```
    pub fn get(&self, key: PacerKey) -> &Pacer {
        self.shared(key)
    }

    /// [`get`](Self::get), shared: what a waiting call holds.
    pub(crate) fn shared(&self, key: PacerKey) -> &Arc<Pacer> {
        let key = key.get();
        let len = self.slots.len();
        let start = (key % len as u64) as usize;
        for i in 0..len {
            let Some(slot) = self.slots.get((start + i) % len) else {
                break;
            };
            let seen = slot.key.load(Ordering::Acquire);
            if seen == key {
                return self.made(slot);
            }
            if seen == 0 {
                match slot
                    .key
                    .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return self.made(slot),
                    Err(other) if other == key => return self.made(slot),
                    Err(_) => {}
                }
            }
        }
        &self.overflow
    }
}
