//! The fleet table of the design ("Retry storms at fleet scale"), computed: every bound it
//! requires of the default policy, measured on a policy you pass, with whether it holds.
//!
//! The table's scenarios are `redial simulate`'s defaults (100 calls a second for the
//! whole fleet, a 200 req/s server, an incident from 1 m for 2 m in a 5-minute run), one
//! budget per client, and every figure is taken over the incident window:
//!
//! | section | runs | measure | bound |
//! |---|---|---|---|
//! | [`Outage`](Section::Outage) | every [`Failure`] × fleets | load during the incident, worst | ≤ 1.3× |
//! | [`Brownout`](Section::Brownout) (50 %) | every failure × fleets, beside no budget | call success during the incident, worst | ≥ no budget − 2 points; for 503 and 529: ≥ 83 % at 100 clients, ≥ 65 % at 1,000 |
//! | [`Overload`](Section::Overload) (25 % capacity) | shedding 529, then 503 × fleets, beside no budget | load; call success, worst | ≤ 1.3×; ≥ no budget − 1 point |
//! | [`LoneScript`](Section::LoneScript) | 1 client, 1 call/s (Poisson), the `anthropic` preset, 30 % 529 for 20 minutes | call success during the incident, median | ≥ 96.5 % |
//! | [`Redis`](Section::Redis) (sync 250 ms) | every failure, 1,000 clients | load during the incident, worst | ≤ 1.15× |
//!
//! "Worst" is over the seeds of [`Settings::seeds`] (the design's 1–10): the highest load,
//! the lowest success. A bound relative to no budget is checked seed by seed, the policy
//! and no budget on the same seed (so on the same failures, see the crate docs): it holds
//! when the policy is within the points of no budget on every seed, and
//! [`Row::gap`] is the worst of those differences.
//!
//! The policy is a function from a [`Preset`] to the policy to measure for it, so that a
//! candidate budget can be measured before it becomes the default; "no budget" is the
//! same policy with its budget switched off.
//!
//! ```
//! use redial::{Policy, Preset};
//! use redial_sim::matrix::{self, Section, Settings};
//! use redial_sim::Failure;
//!
//! // A quick look: outages of 500s at 10 clients, seeds 1 and 2.
//! let settings = Settings {
//!     seeds: 1..=2,
//!     fleets: vec![10],
//!     failures: vec![Failure::Status(500)],
//!     sections: vec![Section::Outage],
//!     ..Settings::default()
//! };
//! let m = matrix::run(&settings, Policy::preset)?;
//! assert_eq!(m.rows.len(), 1);
//! assert!(m.rows[0].value >= 1.0);
//! println!("{m}"); // a markdown table
//! # Ok::<(), redial_sim::SimulateError>(())
//! ```

use core::fmt;
use core::ops::RangeInclusive;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::sync::Mutex;

use redial::{Policy, Preset};

use crate::report::{self, Worse};
use crate::{
    run as run_one, Arrivals, BudgetScope, Failure, IncidentKind, Scenario, SimulateError,
};

/// The design's seeds: 1 to 10.
///
/// ```
/// assert_eq!(redial_sim::matrix::SEEDS.count(), 10);
/// ```
pub const SEEDS: RangeInclusive<u64> = 1..=10;

/// The design's fleets: 10, 100 and 1,000 clients.
///
/// ```
/// assert_eq!(redial_sim::matrix::FLEETS, [10, 100, 1000]);
/// ```
pub const FLEETS: [u32; 3] = [10, 100, 1000];

/// The most seeds a table may be measured on.
const MAX_SEEDS: u64 = 1000;

/// The clients of the Redis-shared fleet.
const REDIS_CLIENTS: u32 = 1000;

/// The Redis-shared fleet's sync interval.
const REDIS_SYNC: Duration = Duration::from_millis(250);

/// A part of the table.
///
/// ```
/// use redial_sim::matrix::Section;
/// assert_eq!(Section::ALL.len(), 5);
/// assert_eq!(Section::LoneScript.to_string(), "one script");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// Every request fails with the failure kind.
    Outage,
    /// Half the requests fail at random with the failure kind.
    Brownout,
    /// The server keeps a quarter of its capacity and sheds with 529, or with 503.
    Overload,
    /// One client, one call a second, the `anthropic` preset, 30 % of requests 529 for
    /// 20 minutes.
    LoneScript,
    /// An outage of every failure kind for 1,000 clients sharing their budgets' counts
    /// through Redis every 250 ms.
    Redis,
}

impl Section {
    /// Every section, in the table's order.
    pub const ALL: [Section; 5] = [
        Section::Outage,
        Section::Brownout,
        Section::Overload,
        Section::LoneScript,
        Section::Redis,
    ];
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Outage => "outage",
            Section::Brownout => "brown-out 50 %",
            Section::Overload => "overload 25 %",
            Section::LoneScript => "one script",
            Section::Redis => "Redis-shared 250 ms",
        })
    }
}

/// What a row measures, over the incident window.
///
/// ```
/// use redial_sim::matrix::Measure;
/// assert_eq!(Measure::Load.to_string(), "load during incident");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Measure {
    /// Attempts per first attempt that reached the server during the incident
    /// ([`Report::incident_amplification`](crate::Report::incident_amplification)).
    Load,
    /// The share of the calls started during the incident that succeeded
    /// ([`Report::incident_call_success_rate`](crate::Report::incident_call_success_rate)).
    CallSuccess,
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Measure::Load => "load during incident",
            Measure::CallSuccess => "call success during incident",
        })
    }
}

/// How a row's seeds are summed up.
///
/// ```
/// assert_eq!(redial_sim::matrix::Statistic::Worst.to_string(), "worst");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Statistic {
    /// The highest load, the lowest call success.
    Worst,
    /// The median (of an even number of seeds, the mean of the middle two).
    Median,
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Statistic::Worst => "worst",
            Statistic::Median => "median",
        })
    }
}

/// What the design requires of a row.
///
/// ```
/// use redial_sim::matrix::Bound;
/// assert_eq!(Bound::AtMost(1.3).to_string(), "≤ 1.30×");
/// assert_eq!(Bound::AtLeast(0.965).to_string(), "≥ 96.5 %");
/// assert_eq!(Bound::BelowNoBudget { points: 2.0 }.to_string(), "≥ no budget − 2 pts");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Bound {
    /// The value is at most this (a load, as attempts per first attempt).
    AtMost(f64),
    /// The value is at least this (a call success, 0 to 1).
    AtLeast(f64),
    /// On every seed, the call success is at most this many percentage points below the
    /// same fleet's with no budget.
    BelowNoBudget {
        /// Percentage points.
        points: f64,
    },
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Bound::AtMost(v) => write!(f, "≤ {v:.2}×"),
            Bound::AtLeast(v) => write!(f, "≥ {:.1} %", v * 100.0),
            Bound::BelowNoBudget { points } => write!(f, "≥ no budget − {points} pts"),
        }
    }
}

/// Slack for comparing a measure with its bound: a bound met to the last bit holds.
const EPSILON: f64 = 1e-9;

impl Bound {
    /// Whether a value (and, for [`BelowNoBudget`](Bound::BelowNoBudget), the worst gap
    /// to no budget, as a fraction) meets the bound. A missing or NaN figure does not.
    ///
    /// ```
    /// use redial_sim::matrix::Bound;
    /// assert!(Bound::AtMost(1.3).holds(1.3, None));
    /// assert!(!Bound::AtLeast(0.965).holds(0.96, None));
    /// assert!(Bound::BelowNoBudget { points: 2.0 }.holds(0.5, Some(-0.019)));
    /// assert!(!Bound::BelowNoBudget { points: 2.0 }.holds(0.5, None));
    /// ```
    pub fn holds(&self, value: f64, gap: Option<f64>) -> bool {
        match *self {
            Bound::AtMost(b) => value <= b + EPSILON,
            Bound::AtLeast(b) => value >= b - EPSILON,
            Bound::BelowNoBudget { points } => gap.is_some_and(|g| g >= -points / 100.0 - EPSILON),
        }
    }
}

/// The design's bound for a row: the table of "Retry storms at fleet scale" in one place.
/// `failure` is the failure kind (for an overload, the status it sheds with).
///
/// ```
/// use redial_sim::matrix::{bound, Bound, Measure, Section};
/// use redial_sim::Failure;
/// assert_eq!(bound(Section::Outage, Failure::Refused, 1000, Measure::Load), Some(Bound::AtMost(1.3)));
/// assert_eq!(
///     bound(Section::Brownout, Failure::Status(529), 1000, Measure::CallSuccess),
///     Some(Bound::AtLeast(0.65)),
/// );
/// assert_eq!(
///     bound(Section::Brownout, Failure::Status(529), 10, Measure::CallSuccess),
///     Some(Bound::BelowNoBudget { points: 2.0 }),
/// );
/// assert_eq!(bound(Section::Outage, Failure::Refused, 1000, Measure::CallSuccess), None);
/// ```
pub fn bound(section: Section, failure: Failure, clients: u32, measure: Measure) -> Option<Bound> {
    let shed = matches!(failure, Failure::Status(503 | 529));
    match (section, measure) {
        (Section::Outage, Measure::Load) => Some(Bound::AtMost(1.3)),
        (Section::Brownout, Measure::CallSuccess) => Some(match clients {
            // A shed status at random looks like overload until ~90 attempts tell them
            // apart (see the design): bounds of their own for the fleets that see fewer.
            100 if shed => Bound::AtLeast(0.83),
            1000 if shed => Bound::AtLeast(0.65),
            _ => Bound::BelowNoBudget { points: 2.0 },
        }),
        (Section::Overload, Measure::Load) => Some(Bound::AtMost(1.3)),
        (Section::Overload, Measure::CallSuccess) => Some(Bound::BelowNoBudget { points: 1.0 }),
        (Section::LoneScript, Measure::CallSuccess) => Some(Bound::AtLeast(0.965)),
        (Section::Redis, Measure::Load) => Some(Bound::AtMost(1.15)),
        _ => None,
    }
}

/// The preset a section runs: `anthropic` for the lone script, `default` for the rest.
///
/// ```
/// use redial_sim::matrix::{preset, Section};
/// assert_eq!(preset(Section::LoneScript), redial::Preset::Anthropic);
/// ```
pub fn preset(section: Section) -> Preset {
    match section {
        Section::LoneScript => Preset::Anthropic,
        _ => Preset::Default,
    }
}

/// The scenario of one run of the table: `section` with `failure` (for an overload, the
/// status it sheds with), `clients` clients (the lone script has one, whatever this says)
/// and `seed`.
///
/// ```
/// use redial_sim::matrix::{scenario, Section};
/// use redial_sim::{Failure, IncidentKind};
/// let s = scenario(Section::Brownout, Failure::Timeout, 100, 3);
/// assert_eq!(s.incidents[0].kind, IncidentKind::Brownout { fail_fraction: 0.5, failure: Failure::Timeout });
/// assert_eq!((s.clients, s.seed), (100, 3));
/// let s = scenario(Section::Overload, Failure::Status(503), 10, 1);
/// assert_eq!(s.server.shed_status, 503);
/// ```
pub fn scenario(section: Section, failure: Failure, clients: u32, seed: u64) -> Scenario {
    let mut s = match section {
        Section::Outage | Section::Redis => Scenario::outage(),
        Section::Brownout | Section::LoneScript => Scenario::brownout(),
        Section::Overload => Scenario::overload(),
    };
    s.clients = clients;
    s.duration = Duration::from_secs(300);
    s.budget = BudgetScope::PerClient;
    s.seed = seed;
    for incident in &mut s.incidents {
        match &mut incident.kind {
            IncidentKind::Outage { failure: f } | IncidentKind::Brownout { failure: f, .. } => {
                *f = failure;
            }
            _ => {}
        }
    }
    match section {
        Section::Overload => {
            if let Failure::Status(code) = failure {
                s.server.shed_status = code;
            }
        }
        Section::LoneScript => {
            s.clients = 1;
            s.arrivals = Arrivals::Poisson { rate: 1.0 };
            s.incidents[0].duration = Duration::from_secs(20 * 60);
            s.incidents[0].kind = IncidentKind::Brownout {
                fail_fraction: 0.3,
                failure: Failure::Status(529),
            };
            s.duration = s.incidents[0].end() + Duration::from_secs(60);
        }
        Section::Redis => s.budget = BudgetScope::Redis { sync: REDIS_SYNC },
        Section::Outage | Section::Brownout => {}
    }
    s
}

/// What to compute.
///
/// ```
/// let s = redial_sim::matrix::Settings::default();
/// assert_eq!(s.seeds, 1..=10);
/// assert_eq!(s.failures.len(), 8);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The seeds each figure is the worst (or median) of (at most 1,000); the design's are
    /// 1 to 10.
    pub seeds: RangeInclusive<u64>,
    /// The fleets of the outage, brown-out and overload sections.
    pub fleets: Vec<u32>,
    /// The failure kinds of the outage, brown-out and Redis sections.
    pub failures: Vec<Failure>,
    /// The statuses the overload sheds with.
    pub shed: Vec<u16>,
    /// The sections to compute, in the table's order whatever the order here.
    pub sections: Vec<Section>,
    /// Runs at once (at least 1).
    pub threads: usize,
}

impl Default for Settings {
    /// The whole table: seeds 1–10, [`FLEETS`], [`Failure::ALL`], overloads shedding 529
    /// and 503, every section, a thread per core.
    fn default() -> Settings {
        Settings {
            seeds: SEEDS,
            fleets: FLEETS.to_vec(),
            failures: Failure::ALL.to_vec(),
            shed: vec![529, 503],
            sections: Section::ALL.to_vec(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Row {
    /// The scenario.
    pub section: Section,
    /// The failure kind (for an overload, the status it sheds with).
    pub failure: Failure,
    /// Clients in the fleet.
    pub clients: u32,
    /// What is measured.
    pub measure: Measure,
    /// How the seeds are summed up.
    pub statistic: Statistic,
    /// The policy's figure: a load (attempts per first attempt) or a call success (0 to
    /// 1); NaN when a run had no figure (no call started during the incident).
    pub value: f64,
    /// The same statistic for the same fleet with no budget, where the row has one.
    pub no_budget: Option<f64>,
    /// For a call success beside no budget: the worst over the seeds of the policy's
    /// figure minus no budget's on the same seed (negative: below no budget).
    pub gap: Option<f64>,
    /// What the design requires.
    pub bound: Bound,
    /// Whether the bound holds.
    pub holds: bool,
}

/// The table: the rows, in the design's order, and the seeds they were measured on.
/// Displays as a markdown table.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// The seeds.
    pub seeds: RangeInclusive<u64>,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Matrix {
    /// Whether every row's bound holds.
    ///
    /// ```
    /// let m = redial_sim::matrix::Matrix { seeds: 1..=10, rows: vec![] };
    /// assert!(m.holds());
    /// ```
    pub fn holds(&self) -> bool {
        self.rows.iter().all(|r| r.holds)
    }

    /// The row for this section, failure kind, fleet and measure, if the table has it.
    ///
    /// ```
    /// use redial::Policy;
    /// use redial_sim::matrix::{self, Measure, Section, Settings};
    /// use redial_sim::Failure;
    ///
    /// let settings = Settings {
    ///     seeds: 1..=1,
    ///     fleets: vec![10],
    ///     sections: vec![Section::Overload],
    ///     ..Settings::default()
    /// };
    /// let m = matrix::run(&settings, Policy::preset)?;
    /// let row = m.row(Section::Overload, Failure::Status(503), 10, Measure::Load).unwrap();
    /// assert!(row.no_budget.is_some_and(|none| none > row.value));
    /// # Ok::<(), redial_sim::SimulateError>(())
    /// ```
    pub fn row(
        &self,
        section: Section,
        failure: Failure,
        clients: u32,
        measure: Measure,
    ) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.section == section
                && r.failure == failure
                && r.clients == clients
                && r.measure == measure
        })
    }

    /// The rows whose bound fails.
    ///
    /// ```
    /// let m = redial_sim::matrix::Matrix { seeds: 1..=10, rows: vec![] };
    /// assert_eq!(m.failing().count(), 0);
    /// ```
    pub fn failing(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| !r.holds)
    }
}

fn times(v: f64) -> String {
    format!("{v:.2}×")
}

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

impl fmt::Display for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = (self.seeds.start(), self.seeds.end());
        writeln!(
            f,
            "| scenario | failure | clients | measure (seeds {a}–{b}) | policy | no budget | worst gap | required | holds |"
        )?;
        writeln!(f, "|---|---|---:|---|---:|---:|---:|---|---|")?;
        for r in &self.rows {
            let show = |v: f64| match r.measure {
                Measure::Load => times(v),
                Measure::CallSuccess => pct(v),
            };
            let failure = match (r.section, r.failure) {
                (Section::Overload, Failure::Status(code)) => format!("sheds {code}"),
                (_, Failure::Status(429)) => "429 (no hint)".to_owned(),
                (_, other) => other.to_string(),
            };
            writeln!(
                f,
                "| {} | {failure} | {} | {}, {} | {} | {} | {} | {} | {} |",
                r.section,
                r.clients,
                r.measure,
                r.statistic,
                show(r.value),
                r.no_budget.map_or(String::new(), show),
                r.gap
                    .map_or(String::new(), |g| format!("{:+.1} pts", g * 100.0)),
                r.bound,
                if r.holds { "yes" } else { "**no**" },
            )?;
        }
        Ok(())
    }
}

/// A row to compute: which runs, and how to sum them up.
#[derive(Clone, Copy, Debug)]
struct Plan {
    section: Section,
    failure: Failure,
    clients: u32,
    measure: Measure,
    statistic: Statistic,
    bound: Bound,
    /// Whether no budget is run beside it.
    beside: bool,
}

impl Settings {
    /// The rows to compute, in the design's order.
    fn plans(&self) -> Vec<Plan> {
        let mut plans = Vec::new();
        let mut add = |section, failure, clients, measure, statistic| {
            if let Some(bound) = bound(section, failure, clients, measure) {
                // The outages' figures need no comparison (and no budget's are about 3×).
                let beside = !matches!(section, Section::Outage | Section::Redis);
                plans.push(Plan {
                    section,
                    failure,
                    clients,
                    measure,
                    statistic,
                    bound,
                    beside,
                });
            }
        };
        for section in Section::ALL {
            if !self.sections.contains(&section) {
                continue;
            }
            match section {
                Section::Outage | Section::Brownout => {
                    let measure = match section {
                        Section::Outage => Measure::Load,
                        _ => Measure::CallSuccess,
                    };
                    for &failure in &self.failures {
                        for &clients in &self.fleets {
                            add(section, failure, clients, measure, Statistic::Worst);
                        }
                    }
                }
                Section::Overload => {
                    for &code in &self.shed {
                        for &clients in &self.fleets {
                            for measure in [Measure::Load, Measure::CallSuccess] {
                                let failure = Failure::Status(code);
                                add(section, failure, clients, measure, Statistic::Worst);
                            }
                        }
                    }
                }
                Section::LoneScript => add(
                    section,
                    Failure::Status(529),
                    1,
                    Measure::CallSuccess,
                    Statistic::Median,
                ),
                Section::Redis => {
                    for &failure in &self.failures {
                        add(
                            section,
                            failure,
                            REDIS_CLIENTS,
                            Measure::Load,
                            Statistic::Worst,
                        );
                    }
                }
            }
        }
        plans
    }
}

/// What one run gave: its load and call success over the incident (NaN when none).
#[derive(Clone, Copy, Debug)]
struct Figures {
    load: f64,
    success: f64,
}

impl Figures {
    const NONE: Figures = Figures {
        load: f64::NAN,
        success: f64::NAN,
    };
}

/// One run to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Job {
    section: Section,
    failure: Failure,
    clients: u32,
    seed: u64,
    /// Without a budget.
    none: bool,
}

/// The policies a table runs: for each preset, the policy and the same with no budget.
struct Policies {
    default: [Policy; 2],
    anthropic: [Policy; 2],
}

impl Policies {
    fn get(&self, preset: Preset, none: bool) -> Option<&Policy> {
        let pair = match preset {
            Preset::Anthropic => &self.anthropic,
            _ => &self.default,
        };
        pair.get(usize::from(none))
    }
}

fn pair(policy: Policy) -> Result<[Policy; 2], SimulateError> {
    let none = policy.to_builder().no_budget().build()?;
    Ok([policy, none])
}

/// Computes the table for `policy`: a function from a preset to the policy to measure
/// for it (`Policy::preset` for the library's own; a candidate budget on the preset's
/// builder to measure that). "No budget" is the same policy with its budget switched off.
/// Runs are spread over [`Settings::threads`] threads; the result does not depend on how
/// many.
///
/// ```
/// use redial::Preset;
/// use redial::budget::BudgetConfig;
/// use redial_sim::matrix::{self, Section, Settings};
///
/// // A candidate: the AWS bucket in place of the default budget.
/// let candidate = |preset: Preset| preset.builder().budget(BudgetConfig::aws()).build().unwrap();
/// let settings = Settings {
///     seeds: 1..=1,
///     fleets: vec![1000],
///     failures: vec![redial_sim::Failure::Status(502)],
///     sections: vec![Section::Outage],
///     ..Settings::default()
/// };
/// let m = matrix::run(&settings, candidate)?;
/// assert!(!m.holds(), "a bucket per process does not protect 1,000 of them");
/// # Ok::<(), redial_sim::SimulateError>(())
/// ```
pub fn run(
    settings: &Settings,
    policy: impl Fn(Preset) -> Policy,
) -> Result<Matrix, SimulateError> {
    let (first, last) = (*settings.seeds.start(), *settings.seeds.end());
    if settings.seeds.is_empty() || last - first >= MAX_SEEDS {
        return Err(SimulateError::invalid(
            "seeds",
            "a range of 1 to 1,000 seeds",
            format!("{first}-{last}"),
        ));
    }
    let policies = Policies {
        default: pair(policy(Preset::Default))?,
        anthropic: pair(policy(Preset::Anthropic))?,
    };
    let plans = settings.plans();
    // Every run the rows need, each once (a load row and a success row share theirs).
    let mut jobs: Vec<Job> = Vec::new();
    let mut index: HashMap<Job, usize> = HashMap::new();
    for p in &plans {
        for seed in settings.seeds.clone() {
            for none in [false, true] {
                if none && !p.beside {
                    continue;
                }
                let job = Job {
                    section: p.section,
                    failure: p.failure,
                    clients: p.clients,
                    seed,
                    none,
                };
                index.entry(job).or_insert_with(|| {
                    jobs.push(job);
                    jobs.len() - 1
                });
            }
        }
    }
    let figures = run_jobs(&jobs, &policies, settings.threads.max(1))?;
    let find = |job: &Job| -> Figures {
        index
            .get(job)
            .and_then(|&i| figures.get(i).copied())
            .unwrap_or(Figures::NONE)
    };
    let rows = plans
        .iter()
        .map(|p| {
            let pick = |f: Figures| match p.measure {
                Measure::Load => f.load,
                Measure::CallSuccess => f.success,
            };
            let of = |none: bool| -> Vec<f64> {
                settings
                    .seeds
                    .clone()
                    .map(|seed| {
                        pick(find(&Job {
                            section: p.section,
                            failure: p.failure,
                            clients: p.clients,
                            seed,
                            none,
                        }))
                    })
                    .collect()
            };
            let values = of(false);
            let sum_up = |v: &[f64]| match p.statistic {
                Statistic::Median => median(v),
                Statistic::Worst => worst(v, p.measure),
            };
            let value = sum_up(&values);
            let (no_budget, gap) = if p.beside {
                let none = of(true);
                let gaps: Vec<f64> = values.iter().zip(&none).map(|(a, b)| a - b).collect();
                let gap = (p.measure == Measure::CallSuccess).then(|| worst(&gaps, p.measure));
                (Some(sum_up(&none)), gap)
            } else {
                (None, None)
            };
            Row {
                section: p.section,
                failure: p.failure,
                clients: p.clients,
                measure: p.measure,
                statistic: p.statistic,
                value,
                no_budget,
                gap,
                bound: p.bound,
                holds: p.bound.holds(value, gap),
            }
        })
        .collect();
    Ok(Matrix {
        seeds: settings.seeds.clone(),
        rows,
    })
}

/// Makes the runs on `threads` threads, each taking the next job as it finishes one.
fn run_jobs(
    jobs: &[Job],
    policies: &Policies,
    threads: usize,
) -> Result<Vec<Figures>, SimulateError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Figures, SimulateError>>>> =
        Mutex::new(vec![None; jobs.len()]);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(i) else {
            break;
        };
        let result = measure(job, policies);
        let failed = result.is_err();
        if let Ok(mut all) = results.lock() {
            if let Some(slot) = all.get_mut(i) {
                *slot = Some(result);
            }
        }
        if failed {
            // No more jobs: the first error is the answer.
            next.store(jobs.len(), Ordering::Relaxed);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.min(jobs.len()) {
            scope.spawn(work);
        }
        work();
    });
    let results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Jobs are taken in order, and every job taken is finished, so a job left undone
    // comes after the failed one that stopped the others: the first error is met first.
    let mut figures = Vec::with_capacity(jobs.len());
    for r in results {
        match r {
            Some(Ok(f)) => figures.push(f),
            Some(Err(e)) => return Err(e),
            None => figures.push(Figures::NONE),
        }
    }
    Ok(figures)
}

fn measure(job: &Job, policies: &Policies) -> Result<Figures, SimulateError> {
    let s = scenario(job.section, job.failure, job.clients, job.seed);
    let Some(policy) = policies.get(preset(job.section), job.none) else {
        return Ok(Figures::NONE);
    };
    let r = run_one(&s, "", policy)?;
    Ok(Figures {
        load: r.incident_amplification().unwrap_or(f64::NAN),
        success: r.incident_call_success_rate().unwrap_or(f64::NAN),
    })
}

/// The highest load or the lowest success; NaN if any value is, or of none.
fn worst(v: &[f64], measure: Measure) -> f64 {
    let worse = match measure {
        Measure::Load => Worse::Higher,
        Measure::CallSuccess => Worse::Lower,
    };
    if v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    report::worst(v, worse).unwrap_or(f64::NAN)
}

/// The median (of an even count, the mean of the middle two); NaN if any value is, or of
/// none.
fn median(v: &[f64]) -> f64 {
    if v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    report::median(v).unwrap_or(f64::NAN)
}
