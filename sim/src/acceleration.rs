//! The acceleration bound of issue 18, as it reads: on one seed, each pacer against no
//! pacer, 429s per served call and calls served, over the whole run of
//! [`Scenario::acceleration`] with the given slope. The simulator's test asserts it on
//! held-out seeds; `pacer_study --per-seed` prints it for a range.

use redial::pacer::PacerConfig;
use redial::Policy;

use crate::{run, IncidentKind, Report, Scenario, SimulateError};

/// How a pacer did against no pacer on the same seed.
///
/// ```
/// use redial_sim::acceleration::Versus;
/// // The issue's bound: 5× fewer 429s than no pacer, at (nearly) the same throughput.
/// let holds = |v: Versus| v.fewer_429s >= 5.0 && v.served >= 0.9;
/// assert!(!holds(Versus { fewer_429s: 4.9, served: 0.99 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Versus {
    /// No pacer's 429s per served call over the pacer's: how many times fewer.
    pub fewer_429s: f64,
    /// The pacer's calls served as a share of no pacer's.
    pub served: f64,
}

/// Runs the acceleration scenario with `slope` (requests per second, each second) on
/// `seed` three times: with `unpaced`, with `policy` (its presets' pacer), and with
/// `policy` and a `[rate]` table's pacer (`table`); returns the last two against the
/// first, in that order. The limiter's 429s state the quota it is far under, which
/// engages the presets' pacer.
///
/// ```
/// use redial::Policy;
/// use redial::pacer::PacerConfig;
///
/// let unpaced = Policy::builder().no_pacing().build()?;
/// let [preset, table] =
///     redial_sim::acceleration::versus(5.0, 21, &Policy::default(), &unpaced, PacerConfig::default())?;
/// assert!(preset.fewer_429s > 1.0 && table.fewer_429s > 1.0);
/// assert!(preset.served > 0.9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn versus(
    slope: f64,
    seed: u64,
    policy: &Policy,
    unpaced: &Policy,
    table: PacerConfig,
) -> Result<[Versus; 2], SimulateError> {
    let mut s = Scenario::acceleration();
    s.incidents[0].kind = IncidentKind::Acceleration { floor: 5.0, slope };
    s.seed = seed;
    let none = run(&s, "off", unpaced)?;
    let preset = run(&s, "default", policy)?;
    s.pacer = Some(table);
    let paced = run(&s, "on", policy)?;
    let per_served = |r: &Report| r.throttled as f64 / r.server_successes.max(1) as f64;
    let against = |r: &Report| Versus {
        fewer_429s: per_served(&none) / per_served(r).max(1e-9),
        served: r.server_successes as f64 / none.server_successes.max(1) as f64,
    };
    Ok([against(&preset), against(&paced)])
}
