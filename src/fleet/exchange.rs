//! The exchange's thread: one sync per interval (four while the gate ramps back up, and
//! one at once when this process learns a new reset or its pacer cuts the rate), each one
//! round trip through `sync.lua`, with a timeout of one interval.
//!
//! It is a plain thread with the blocking Redis client, so it needs no async runtime and
//! runs the same under tokio, smol or none. It holds no policy: it moves counts, the
//! reset and the pacer's cut and demand between the local state and Redis, and nothing
//! else.

use core::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::gate::millis;
use crate::pacer::{FleetCut, FleetView};

use super::{FleetConfig, FleetEvent, Shared};

/// A count larger than this is sent as this: Lua's numbers are doubles, exact below 2^53,
/// and Redis's hash counters are `i64`.
const MAX_DELTA: u64 = 1 << 50;

/// At most this many buckets are summed, whatever the counters ask: a round trip stays
/// small.
const MAX_WINDOW: u64 = 600;

/// A cut read from Redis further ahead of this clock than this is garbage.
const MAX_AHEAD_MS: u64 = 60_000;

fn millis_of(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs syncs until the last [`Fleet`](super::Fleet) handle is dropped.
pub(super) fn run(shared: &Arc<Shared>) {
    let script = redis::Script::new(include_str!("sync.lua"));
    let prefix = format!("redial:{{{}}}:", shared.config.key);
    let interval = shared.config.sync;
    // A new reset is shared at once, but no more often than this.
    let min_gap = interval / 5;
    let mut link = Link {
        conn: None,
        deltas: Vec::new(),
        prefix,
        cuts: Cuts::default(),
    };
    let mut next = Instant::now();
    let mut last: Option<Instant> = None;
    // The reset the gate held after the last sync: a later one was learned here since, and
    // is shared before the next tick.
    let mut known = 0u64;
    // Likewise the pacer's cuts made here.
    let mut known_cuts = 0u64;
    let mut outage: Option<(Instant, u64)> = None;
    loop {
        if shared.stopped.load(Ordering::Relaxed) {
            return;
        }
        let cuts = shared.pacer().map_or(0, |p| p.cuts());
        let due = match last {
            Some(last) if shared.gate.reset_ms() > known || cuts > known_cuts => {
                next.min(last + min_gap)
            }
            _ => next,
        };
        let now = Instant::now();
        if now < due {
            // Woken early by a new reset, by the last handle's drop, or spuriously: the
            // loop looks again.
            std::thread::park_timeout(due - now);
            continue;
        }
        last = Some(now);
        // While the gate ramps, the held calls come back and spend the quota again: the
        // fleet syncs four times as often then, so that the next reset reaches every
        // process before many of them have sent into it.
        let ramping = {
            let (reset, wall) = (shared.gate.reset_ms(), millis(SystemTime::now()));
            reset <= wall && wall < reset.saturating_add(shared.gate.ramp_ms())
        };
        next = now + if ramping { interval / 4 } else { interval };
        let result = link.sync(shared, &script, interval);
        known = shared.gate.reset_ms();
        known_cuts = cuts;
        match result {
            Ok(()) => {
                shared.syncs.fetch_add(1, Ordering::Relaxed);
                shared.connected.store(true, Ordering::Relaxed);
                if let Some((since, failures)) = outage.take() {
                    tell(
                        shared,
                        &FleetEvent::Resumed {
                            key: &shared.config.key,
                            failures,
                            after: since.elapsed(),
                        },
                    );
                }
            }
            Err(error) => {
                // The connection may hold a late reply: a fresh one is made next tick.
                link.conn = None;
                if let Some(counters) = shared.counters() {
                    counters.fall_back_to_local();
                }
                shared.failures.fetch_add(1, Ordering::Relaxed);
                shared.connected.store(false, Ordering::Relaxed);
                match &mut outage {
                    Some((_, failures)) => *failures += 1,
                    None => {
                        outage = Some((now, 1));
                        tell(
                            shared,
                            &FleetEvent::Unreachable {
                                key: &shared.config.key,
                                error: &error,
                            },
                        );
                    }
                }
            }
        }
    }
}

/// Tells the hook, and with the `tracing` feature a `WARN` event (out of reach) or an
/// `INFO` event (back), with the fleet key in `redial.fleet_key`.
fn tell(shared: &Shared, event: &FleetEvent<'_>) {
    #[cfg(feature = "tracing")]
    match event {
        FleetEvent::Unreachable { key, .. } => {
            tracing::warn!(redial.fleet_key = *key, "{event}");
        }
        FleetEvent::Resumed { key, .. } => {
            tracing::info!(redial.fleet_key = *key, "{event}");
        }
    }
    if let Some(hook) = &shared.config.on_event {
        hook(event);
    }
}

/// The connection and the buffers a sync reuses.
struct Link {
    conn: Option<redis::Connection>,
    deltas: Vec<u64>,
    prefix: String,
    cuts: Cuts,
}

/// The pacer's cuts as the fleet names them: wall-clock milliseconds, reckoned once per
/// cut. Reckoned again at each sync, one cut would come out a millisecond or more apart
/// (two clocks read one after the other, on a busy machine several apart) and read as a
/// new cut, restarting every process's curve at each sync (seen against nginx: sixteen
/// processes held at the cut rate for the whole run).
#[derive(Default)]
struct Cuts {
    /// `Pacer::cuts` when this process's cut was last named.
    made: u64,
    /// This process's latest cut (0: none).
    mine: u64,
    /// The latest cut of the fleet handed to the pacer.
    taken: u64,
}

impl Link {
    /// One round trip: send this process's counts and reset, read the fleet's.
    fn sync(
        &mut self,
        shared: &Shared,
        script: &redis::Script,
        timeout: Duration,
    ) -> Result<(), SyncError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let conn = shared.client.get_connection_with_timeout(timeout)?;
                conn.set_read_timeout(Some(timeout))?;
                conn.set_write_timeout(Some(timeout))?;
                self.conn.insert(conn)
            }
        };
        let (at, now) = (Instant::now(), millis(SystemTime::now()));
        let (reset, ramp) = match shared.gate.reset_ms() {
            r if r > now => (r, shared.gate.ramp_ms()),
            _ => (0, 0),
        };
        let counters = shared.counters();
        let pacer = shared.pacer();
        let mut call = script.prepare_invoke();
        call.key(format!("{}gate", self.prefix));
        call.key(format!("{}rate", self.prefix));
        let mut ttl = 0u64;
        self.deltas.clear();
        if let Some(c) = counters.as_ref().filter(|c| !c.is_empty()) {
            let bucket = u64::try_from(c.bucket().as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let window = u64::from(c.window()).clamp(1, MAX_WINDOW);
            let current = now / bucket;
            for age in (0..window).rev() {
                call.key(format!("{}n:{}", self.prefix, current.saturating_sub(age)));
            }
            // A bucket lives as long as the window that sums it, and one more bucket.
            ttl = bucket.saturating_mul(window + 1);
            self.deltas.resize(c.len(), 0);
            c.take_local_deltas(&mut self.deltas);
        }
        call.arg(reset).arg(ramp).arg(now).arg(ttl);
        // The pacer's cut and demand, rates in thousandths.
        let milli = |rate: f64| ((rate * 1000.0).max(0.0) as u64).min(MAX_DELTA);
        let to_ms =
            |then: Instant| now.saturating_sub(millis_of(at.saturating_duration_since(then)));
        match &pacer {
            Some(p) => {
                let made = p.cuts();
                let report = p.fleet_report(at);
                if made != self.cuts.made {
                    self.cuts.made = made;
                    self.cuts.mine = report.cut.map_or(0, |c| to_ms(c.at).max(1));
                }
                let w_max = report.cut.map_or(0, |c| milli(c.w_max));
                call.arg(self.cuts.mine)
                    .arg(w_max)
                    .arg(shared.id)
                    .arg(milli(report.demand))
                    .arg(milli(report.answered))
                    .arg(millis_of(
                        timeout.saturating_mul(FleetConfig::VIEW_FRESH_SYNCS * 2),
                    ));
            }
            None => {
                call.arg(0).arg(0).arg("").arg(0).arg(0).arg(0);
            }
        }
        for d in &self.deltas {
            call.arg((*d).min(MAX_DELTA));
        }
        let reply: Vec<i64> = call.invoke(conn)?;
        let [fleet, fleet_ramp, cut, w_max, demand, answered, members, totals @ ..] =
            reply.as_slice()
        else {
            return Err(SyncError::Reply("a reply too short"));
        };
        if let Some(p) = &pacer {
            // Only a cut not seen before, and not this process's own. One a little in the
            // future is a clock that disagrees: taken as now; one more than a minute
            // ahead is garbage, and not taken (it would hide every later cut).
            let cut = u64::try_from(*cut).unwrap_or(0);
            let new = cut > self.cuts.taken.max(self.cuts.mine)
                && cut <= now.saturating_add(MAX_AHEAD_MS);
            if new {
                self.cuts.taken = cut;
            }
            let cut = new.then(|| FleetCut {
                at: at
                    .checked_sub(Duration::from_millis(now.saturating_sub(cut)))
                    .unwrap_or(at),
                w_max: *w_max as f64 / 1000.0,
            });
            p.set_fleet_view(
                at,
                FleetView {
                    cut,
                    demand: *demand as f64 / 1000.0,
                    answered: *answered as f64 / 1000.0,
                    members: u32::try_from(*members).unwrap_or(u32::MAX),
                    lag: timeout,
                },
            );
        }
        // A reset further than the gate would hold is held no longer: garbage in Redis
        // cannot park the fleet.
        let config = shared.gate.config();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let fleet = u64::try_from(*fleet).unwrap_or(0);
        let fleet_ramp = u64::try_from(*fleet_ramp).unwrap_or(0);
        shared.gate.merge(
            fleet.min(now.saturating_add(ms(config.max_hold))),
            fleet_ramp.min(ms(config.ramp)),
        );
        if let Some(c) = counters.filter(|c| !c.is_empty()) {
            // The totals over the window, then the latest bucket's.
            let n = self.deltas.len();
            if totals.len() != 2 * n {
                return Err(SyncError::Reply("a reply of the wrong length"));
            }
            self.deltas.clear();
            self.deltas
                .extend(totals.iter().map(|&t| u64::try_from(t).unwrap_or(0)));
            let (window, latest) = self.deltas.split_at(n);
            // Good for two intervals: one missed tick is no outage.
            let fresh_for = timeout.saturating_mul(FleetConfig::VIEW_FRESH_SYNCS);
            c.set_fleet_view(window, latest, at, fresh_for);
        }
        Ok(())
    }
}

/// Why a sync failed.
#[derive(Debug)]
enum SyncError {
    Redis(redis::RedisError),
    Reply(&'static str),
}

impl From<redis::RedisError> for SyncError {
    fn from(e: redis::RedisError) -> Self {
        SyncError::Redis(e)
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Redis(e) => write!(f, "{e}"),
            SyncError::Reply(what) => write!(f, "the sync script returned {what}"),
        }
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SyncError::Redis(e) => Some(e),
            SyncError::Reply(_) => None,
        }
    }
}
