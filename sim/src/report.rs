//! What a run measured, and the table that sets runs side by side.
//!
//! ```
//! use std::time::Duration;
//! use redial_sim::{run, Arrivals, Scenario, Table};
//! use redial::{Policy, Preset};
//!
//! let mut s = Scenario::outage();
//! s.clients = 20;
//! s.arrivals = Arrivals::Poisson { rate: 20.0 };
//! s.duration = Duration::from_secs(30);
//! s.incidents[0].start = Duration::from_secs(10);
//! s.incidents[0].duration = Duration::from_secs(10);
//! let report = run(&s, "default", &Policy::preset(Preset::Default))?;
//! assert!(report.amplification() >= 1.0);
//! println!("{}", Table::new(&[report]));
//! # Ok::<(), redial_sim::SimulateError>(())
//! ```

use core::fmt;
use core::time::Duration;

use redial::StopReason;

/// Counts for one time bucket. Attempts are counted when they reach the server, answers
/// when the server gives them (an attempt that is never answered, as a failure, half a
/// round trip before its client gives up on it).
///
/// ```
/// let b = redial_sim::Bucket::default();
/// assert_eq!(b.attempts(), 0);
/// assert_eq!(b.success_rate(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bucket {
    /// First attempts of calls (the load the fleet would send without retries).
    pub first_attempts: u64,
    /// Retries.
    pub retries: u64,
    /// Answers that were successes.
    pub successes: u64,
    /// Answers that were failures (errors, 429s, shed requests, refused connections,
    /// timeouts).
    pub failures: u64,
}

impl Bucket {
    /// First attempts and retries.
    ///
    /// ```
    /// let mut b = redial_sim::Bucket::default();
    /// b.first_attempts = 3;
    /// b.retries = 2;
    /// assert_eq!(b.attempts(), 5);
    /// ```
    pub fn attempts(&self) -> u64 {
        self.first_attempts.saturating_add(self.retries)
    }

    /// Successes among the answers, `None` when the server answered nothing.
    ///
    /// ```
    /// let mut b = redial_sim::Bucket::default();
    /// b.successes = 3;
    /// b.failures = 1;
    /// assert_eq!(b.success_rate(), Some(0.75));
    /// ```
    pub fn success_rate(&self) -> Option<f64> {
        let answered = self.successes.saturating_add(self.failures);
        (answered > 0).then(|| self.successes as f64 / answered as f64)
    }
}

/// How long after the last incident ended the server was healthy again: the first bucket
/// from which on every bucket's answers are at least [`RECOVERED`] successes.
///
/// ```
/// use redial_sim::Recovery;
/// assert_eq!(Recovery::NoIncident.to_string(), "-");
/// assert_eq!(Recovery::After(std::time::Duration::from_secs(3)).to_string(), "3.00s");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recovery {
    /// The scenario has no incident.
    NoIncident,
    /// Healthy this long after the incident's end (zero when at once).
    After(Duration),
    /// Still failing when the run ended.
    NotInRun,
    /// The server answered nothing after the incident.
    NoTraffic,
}

/// The share of successful answers in a bucket that counts as recovered.
///
/// ```
/// assert_eq!(redial_sim::RECOVERED, 0.95);
/// ```
pub const RECOVERED: f64 = 0.95;

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Recovery::NoIncident => f.write_str("-"),
            Recovery::After(d) => write!(f, "{}", Short(d)),
            Recovery::NotInRun => f.write_str("not in run"),
            Recovery::NoTraffic => f.write_str("no traffic"),
        }
    }
}

/// Call latencies (from the call's start to its final answer, successful or not), kept
/// in a log-linear histogram: fixed memory whatever the number of calls, and quantiles
/// within 1 % of the exact value.
///
/// ```
/// use std::time::Duration;
/// let mut l = redial_sim::Latency::default();
/// l.record(Duration::from_millis(100));
/// l.record(Duration::from_millis(300));
/// assert_eq!(l.count(), 2);
/// let p99 = l.quantile(0.99).unwrap();
/// assert!(p99 > Duration::from_millis(297) && p99 < Duration::from_millis(303));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latency {
    counts: Vec<u64>,
    count: u64,
    max: Duration,
}

/// Values below this many microseconds have a bucket each.
const EXACT: u64 = 128;
/// Sub-buckets per power of two above that: 64, so a bucket is at most 1/64 of its value.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (EXACT + (64 - 7) * SUB) as usize;

impl Default for Latency {
    fn default() -> Self {
        Latency {
            counts: vec![0; BUCKETS],
            count: 0,
            max: Duration::ZERO,
        }
    }
}

impl Latency {
    /// Adds one call's latency.
    ///
    /// ```
    /// let mut l = redial_sim::Latency::default();
    /// l.record(std::time::Duration::from_secs(1));
    /// assert_eq!(l.max(), std::time::Duration::from_secs(1));
    /// ```
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if let Some(c) = self.counts.get_mut(index(micros)) {
            *c = c.saturating_add(1);
        }
        self.count = self.count.saturating_add(1);
        self.max = self.max.max(latency);
    }

    /// Latencies recorded.
    ///
    /// ```
    /// assert_eq!(redial_sim::Latency::default().count(), 0);
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The longest latency recorded.
    ///
    /// ```
    /// assert_eq!(redial_sim::Latency::default().max(), std::time::Duration::ZERO);
    /// ```
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The latency below which a fraction `q` (0 to 1) of the calls fall, `None` when
    /// nothing was recorded.
    ///
    /// ```
    /// assert_eq!(redial_sim::Latency::default().quantile(0.5), None);
    /// ```
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // The rank of the wanted value, 1-based: the smallest that covers q of the calls.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(c);
            if seen >= rank {
                if rank == self.count {
                    // The top rank is the largest value, known exactly.
                    return Some(self.max);
                }
                let value = Duration::from_micros(middle(i));
                return Some(value.min(self.max));
            }
        }
        Some(self.max)
    }

    /// The median.
    ///
    /// ```
    /// let mut l = redial_sim::Latency::default();
    /// l.record(std::time::Duration::from_micros(40));
    /// assert_eq!(l.p50(), Some(std::time::Duration::from_micros(40)));
    /// ```
    pub fn p50(&self) -> Option<Duration> {
        self.quantile(0.5)
    }

    /// The 99th percentile.
    ///
    /// ```
    /// assert_eq!(redial_sim::Latency::default().p99(), None);
    /// ```
    pub fn p99(&self) -> Option<Duration> {
        self.quantile(0.99)
    }
}

/// The histogram bucket of a value in microseconds.
fn index(v: u64) -> usize {
    if v < EXACT {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // at least 7
    let shift = msb - SUB_BITS;
    let sub = (v >> shift) - SUB; // 0..64
    (EXACT + u64::from(msb - 7) * SUB + sub) as usize
}

/// The middle of a bucket, in microseconds.
fn middle(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i;
    }
    let msb = (i - EXACT) / SUB + 7;
    let sub = (i - EXACT) % SUB;
    let shift = msb - u64::from(SUB_BITS);
    let low = (SUB + sub) << shift;
    low + (1u64 << shift) / 2
}

/// Everything one run measured.
///
/// Totals count every attempt and call of the run, including the calls still running
/// when arrivals stopped (the run goes on until they end). [`buckets`](Self::buckets)
/// hold the same counts over time.
///
/// ```
/// use std::time::Duration;
/// use redial_sim::{run, Arrivals, Scenario};
/// use redial::Policy;
///
/// let mut s = Scenario::healthy();
/// s.clients = 10;
/// s.arrivals = Arrivals::Fixed { rate: 10.0 };
/// s.duration = Duration::from_secs(10);
/// let r = run(&s, "default", &Policy::default())?;
/// assert_eq!(r.calls, 100);
/// assert_eq!(r.call_success_rate(), Some(1.0));
/// # Ok::<(), redial_sim::SimulateError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// The name the run was given (the policy's, usually).
    pub label: String,
    /// The width of each bucket.
    pub bucket: Duration,
    /// Counts per bucket; bucket `i` covers `[i × bucket, (i + 1) × bucket)`.
    pub buckets: Vec<Bucket>,
    /// Calls made (all ended).
    pub calls: u64,
    /// First attempts (one per call).
    pub first_attempts: u64,
    /// Retries.
    pub retries: u64,
    /// Answers that were successes.
    pub server_successes: u64,
    /// How calls ended, in the order of [`StopReason::ALL`].
    pub stops: [u64; StopReason::ALL.len()],
    /// Call latencies.
    pub latency: Latency,
    /// The span from the first incident's start to the last one's end.
    pub incident: Option<(Duration, Duration)>,
    /// First attempts that reached the server during the incident.
    pub incident_first_attempts: u64,
    /// Retries that reached the server during the incident.
    pub incident_retries: u64,
    /// Calls that started during the incident.
    pub incident_calls: u64,
    /// Calls that started during the incident and succeeded.
    pub incident_call_successes: u64,
    /// How long the server took to be healthy after the incident.
    pub recovery: Recovery,
    /// Events the engine processed (a measure of the run's cost).
    pub events: u64,
    /// When the last call ended, in virtual time.
    pub end: Duration,
    /// Answers that were 429.
    pub throttled: u64,
    /// Attempts that waited for their pacer's slot ([`Scenario::pacer`](crate::Scenario::pacer)).
    pub paced: u64,
    /// Calls that the pacer stopped (`rate_limited`: the slot was further than its
    /// `max_wait`); counted here and not in [`stops`](Report::stops), whose reasons are
    /// the machine's.
    pub rate_limited: u64,
    /// Of those, the calls stopped before their first attempt was sent.
    pub rate_limited_unsent: u64,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl Report {
    /// An empty report.
    pub(super) fn new(label: &str, bucket: Duration) -> Report {
        Report {
            label: label.to_owned(),
            bucket,
            buckets: Vec::new(),
            calls: 0,
            first_attempts: 0,
            retries: 0,
            server_successes: 0,
            stops: [0; StopReason::ALL.len()],
            latency: Latency::default(),
            incident: None,
            incident_first_attempts: 0,
            incident_retries: 0,
            incident_calls: 0,
            incident_call_successes: 0,
            recovery: Recovery::NoIncident,
            events: 0,
            end: Duration::ZERO,
            throttled: 0,
            paced: 0,
            rate_limited: 0,
            rate_limited_unsent: 0,
        }
    }

    /// First attempts and retries.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert_eq!(r.attempts(), r.first_attempts + r.retries);
    /// ```
    pub fn attempts(&self) -> u64 {
        self.first_attempts.saturating_add(self.retries)
    }

    /// Attempts per call: 1 when nothing was retried, 3 when every call of a 3-attempt
    /// policy failed to the end.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert!(r.amplification() >= 1.0);
    /// ```
    pub fn amplification(&self) -> f64 {
        ratio(self.attempts(), self.calls).unwrap_or(0.0)
    }

    /// Attempts per first attempt while the incident lasted: how much the fleet multiplied
    /// its load when the server could least take it. `None` without an incident.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert!(r.incident_amplification().is_some_and(|a| a >= 1.0));
    /// ```
    pub fn incident_amplification(&self) -> Option<f64> {
        self.incident?;
        ratio(
            self.incident_first_attempts
                .saturating_add(self.incident_retries),
            self.incident_first_attempts,
        )
    }

    /// Successful answers per attempt.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert!(r.server_success_rate().is_some_and(|s| s < 1.0));
    /// ```
    pub fn server_success_rate(&self) -> Option<f64> {
        ratio(self.server_successes, self.attempts())
    }

    /// Calls that succeeded, per call.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert!(r.call_success_rate().is_some_and(|s| s < 1.0));
    /// ```
    pub fn call_success_rate(&self) -> Option<f64> {
        ratio(self.stopped(StopReason::Succeeded), self.calls)
    }

    /// Calls that succeeded, per call, among the calls that started during the incident:
    /// what the users of a service saw while it failed. `None` without an incident, or
    /// when no call started during it.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// let during = r.incident_call_success_rate().unwrap();
    /// assert!(during < r.call_success_rate().unwrap(), "the healthy minutes hide it");
    /// ```
    pub fn incident_call_success_rate(&self) -> Option<f64> {
        self.incident?;
        ratio(self.incident_call_successes, self.incident_calls)
    }

    /// Calls that ended for this reason.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// use redial::StopReason;
    /// let all: u64 = StopReason::ALL.iter().map(|&s| r.stopped(s)).sum();
    /// assert_eq!(all, r.calls);
    /// ```
    pub fn stopped(&self, reason: StopReason) -> u64 {
        StopReason::ALL
            .iter()
            .position(|&r| r == reason)
            .and_then(|i| self.stops.get(i).copied())
            .unwrap_or(0)
    }

    /// Retries the budget refused (calls that stopped with `budget_exhausted`).
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert_eq!(r.budget_denials(), r.stopped(redial::StopReason::BudgetExhausted));
    /// ```
    pub fn budget_denials(&self) -> u64 {
        self.stopped(StopReason::BudgetExhausted)
    }

    /// The most attempts in one bucket, per second.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert!(r.peak_load() > 0.0);
    /// ```
    pub fn peak_load(&self) -> f64 {
        let most = self.buckets.iter().map(Bucket::attempts).max().unwrap_or(0);
        most as f64 / self.bucket.as_secs_f64()
    }

    /// The most retries in one bucket (not per second): how sharply retries bunch up.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert!(r.peak_retries() <= r.retries);
    /// ```
    pub fn peak_retries(&self) -> u64 {
        self.buckets.iter().map(|b| b.retries).max().unwrap_or(0)
    }

    /// When bucket `i` starts.
    ///
    /// ```
    /// # let r = redial_sim::doc_report();
    /// assert_eq!(r.bucket_start(2), r.bucket * 2);
    /// ```
    pub fn bucket_start(&self, i: usize) -> Duration {
        self.bucket
            .saturating_mul(u32::try_from(i).unwrap_or(u32::MAX))
    }

    /// Works out [`recovery`](Self::recovery) from the buckets.
    pub(super) fn find_recovery(&mut self) {
        let Some((_, end)) = self.incident else {
            self.recovery = Recovery::NoIncident;
            return;
        };
        let width = self.bucket.as_nanos().max(1);
        // The first bucket that starts at or after the end.
        let first = usize::try_from(end.as_nanos().div_ceil(width)).unwrap_or(usize::MAX);
        let after = self.buckets.get(first..).unwrap_or(&[]);
        if after.iter().all(|b| b.success_rate().is_none()) {
            self.recovery = Recovery::NoTraffic;
            return;
        }
        // Walk back from the end of the run to the first of the healthy buckets at its tail.
        let mut healthy_from = None;
        for (i, b) in after.iter().enumerate().rev() {
            match b.success_rate() {
                Some(rate) if rate < RECOVERED => break,
                _ => healthy_from = Some(i),
            }
        }
        self.recovery = match healthy_from {
            Some(i) => Recovery::After(
                self.bucket_start(first.saturating_add(i))
                    .saturating_sub(end),
            ),
            None => Recovery::NotInRun,
        };
    }
}

/// A duration for a table cell: `850ms`, `2.35s`, `3m05s`.
#[derive(Clone, Copy, Debug)]
struct Short(Duration);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            write!(f, "{}ms", d.as_millis())
        } else if d < Duration::from_secs(60) {
            write!(f, "{:.2}s", d.as_secs_f64())
        } else {
            let s = d.as_secs();
            write!(f, "{}m{:02}s", s / 60, s % 60)
        }
    }
}

/// Runs side by side as an aligned text table: one row per measure, one column per run.
/// Measures are left-aligned, numbers right-aligned, columns two spaces apart.
///
/// ```
/// # let r = redial_sim::doc_report();
/// let text = redial_sim::Table::new(&[r]).to_string();
/// assert!(text.lines().next().unwrap().trim_end().ends_with("default"));
/// assert!(text.contains("amplification"));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    reports: &'a [Report],
}

impl<'a> Table<'a> {
    /// A table of these runs, in this order.
    ///
    /// ```
    /// let t = redial_sim::Table::new(&[]);
    /// assert!(t.to_string().starts_with("measure"));
    /// ```
    pub fn new(reports: &'a [Report]) -> Table<'a> {
        Table { reports }
    }

    /// The rows: a measure's name and its cell for each run.
    fn rows(&self) -> Vec<(&'static str, Vec<String>)> {
        let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1}%", v * 100.0));
        let times = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}x"));
        let dur = |v: Option<Duration>| v.map_or("-".to_owned(), |d| Short(d).to_string());
        let cells = |f: &dyn Fn(&Report) -> String| self.reports.iter().map(f).collect();
        let mut rows = vec![
            ("calls", cells(&|r| r.calls.to_string())),
            ("attempts", cells(&|r| r.attempts().to_string())),
            (
                "amplification (attempts/call)",
                cells(&|r| times(Some(r.amplification()))),
            ),
            (
                "load during incident",
                cells(&|r| times(r.incident_amplification())),
            ),
            (
                "peak load (attempts/s)",
                cells(&|r| format!("{:.0}", r.peak_load())),
            ),
            ("server success", cells(&|r| pct(r.server_success_rate()))),
            ("call success", cells(&|r| pct(r.call_success_rate()))),
            (
                "call success during incident",
                cells(&|r| pct(r.incident_call_success_rate())),
            ),
            ("call latency p50", cells(&|r| dur(r.latency.p50()))),
            ("call latency p99", cells(&|r| dur(r.latency.p99()))),
            (
                "recovery after incident",
                cells(&|r| r.recovery.to_string()),
            ),
            ("budget denials", cells(&|r| r.budget_denials().to_string())),
            (
                "gave up (attempts_exhausted)",
                cells(&|r| r.stopped(StopReason::AttemptsExhausted).to_string()),
            ),
        ];
        // Only where a pacer ran (`--pacer`), so that the other tables read as before.
        if self
            .reports
            .iter()
            .any(|r| r.paced > 0 || r.rate_limited > 0)
        {
            rows.push(("429 answers", cells(&|r| r.throttled.to_string())));
            rows.push((
                "429s per success",
                cells(&|r| {
                    format!(
                        "{:.3}",
                        r.throttled as f64 / r.server_successes.max(1) as f64
                    )
                }),
            ));
            rows.push((
                "rate_limited (pacer)",
                cells(&|r| r.rate_limited.to_string()),
            ));
        }
        rows
    }
}

impl fmt::Display for Table<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<&str> = self.reports.iter().map(|r| r.label.as_str()).collect();
        layout(f, &labels, &self.rows())
    }
}

/// Writes an aligned text table: a `measure` column, then one column per label.
/// Measures are left-aligned, cells right-aligned, columns two spaces apart.
fn layout(
    f: &mut fmt::Formatter<'_>,
    labels: &[&str],
    rows: &[(&'static str, Vec<String>)],
) -> fmt::Result {
    const HEAD: &str = "measure";
    let width = |s: &str| s.chars().count();
    let first = rows
        .iter()
        .map(|(name, _)| width(name))
        .chain([width(HEAD)])
        .max()
        .unwrap_or(0);
    let columns: Vec<usize> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            rows.iter()
                .filter_map(|(_, cells)| cells.get(i).map(|c| width(c)))
                .chain([width(label)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    write!(f, "{HEAD:<first$}")?;
    for (label, w) in labels.iter().zip(&columns) {
        write!(f, "  {label:>w$}")?;
    }
    writeln!(f)?;
    for (name, cells) in rows {
        write!(f, "{name:<first$}")?;
        for (cell, w) in cells.iter().zip(&columns) {
            write!(f, "  {cell:>w$}")?;
        }
        writeln!(f)?;
    }
    Ok(())
}

/// The median of some figures (of an even number, the mean of the middle two), `None` of
/// none.
pub(crate) fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let (a, b) = (v.get(n.checked_sub(1)? / 2)?, v.get(n / 2)?);
    Some((a + b) / 2.0)
}

/// Which way a measure gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Worse {
    /// A higher figure is worse (a load, a latency).
    Higher,
    /// A lower figure is worse (a success rate).
    Lower,
}

/// The worst of some figures, `None` of none.
pub(crate) fn worst(v: &[f64], worse: Worse) -> Option<f64> {
    let it = v.iter().copied();
    match worse {
        Worse::Higher => it.max_by(f64::total_cmp),
        Worse::Lower => it.min_by(f64::total_cmp),
    }
}

/// One row of a [`SeedTable`]: a measure's name, which way it gets worse (`None`: it has
/// no worse, only a median), its figure in a report and how a figure is written.
type SeedRow = (
    &'static str,
    Option<Worse>,
    fn(&Report) -> Option<f64>,
    fn(f64) -> String,
);

/// The same policies run on several seeds, side by side: for each measure and policy,
/// the worst seed's figure (the highest load or latency, the lowest success) and the
/// median. Laid out as [`Table`] is, with two columns per policy.
///
/// ```
/// use std::time::Duration;
/// use redial_sim::{run, Arrivals, Scenario, SeedTable};
///
/// let mut runs = Vec::new();
/// for seed in 1..=3 {
///     let mut s = Scenario::brownout();
///     s.clients = 10;
///     s.arrivals = Arrivals::Poisson { rate: 20.0 };
///     s.duration = Duration::from_secs(30);
///     s.incidents[0].start = Duration::from_secs(5);
///     s.incidents[0].duration = Duration::from_secs(10);
///     s.seed = seed;
///     runs.push(run(&s, "default", &redial::Policy::default())?);
/// }
/// let text = SeedTable::new(&[runs]).to_string();
/// assert!(text.lines().next().unwrap().ends_with("default worst  default median"));
/// # Ok::<(), redial_sim::SimulateError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SeedTable<'a> {
    runs: &'a [Vec<Report>],
}

impl<'a> SeedTable<'a> {
    /// A table of these policies: each item holds one policy's reports, one per seed; the
    /// first report's label names the policy.
    ///
    /// ```
    /// let t = redial_sim::SeedTable::new(&[]);
    /// assert!(t.to_string().starts_with("measure"));
    /// ```
    pub fn new(runs: &'a [Vec<Report>]) -> SeedTable<'a> {
        SeedTable { runs }
    }

    fn rows(&self) -> Vec<(&'static str, Vec<String>)> {
        let count = |v: f64| format!("{v:.0}");
        let times = |v: f64| format!("{v:.2}x");
        let pct = |v: f64| format!("{:.1}%", v * 100.0);
        let secs = |v: f64| match Duration::try_from_secs_f64(v) {
            Ok(d) => Short(d).to_string(),
            Err(_) => "not in run".to_owned(),
        };
        fn n(v: u64) -> Option<f64> {
            Some(v as f64)
        }
        fn latency(r: &Report, q: f64) -> Option<f64> {
            r.latency.quantile(q).map(|d| d.as_secs_f64())
        }
        use Worse::{Higher, Lower};
        let measures: [SeedRow; 13] = [
            ("calls", None, |r| n(r.calls), count),
            ("attempts", Some(Higher), |r| n(r.attempts()), count),
            (
                "amplification (attempts/call)",
                Some(Higher),
                |r| Some(r.amplification()),
                times,
            ),
            (
                "load during incident",
                Some(Higher),
                Report::incident_amplification,
                times,
            ),
            (
                "peak load (attempts/s)",
                Some(Higher),
                |r| Some(r.peak_load()),
                count,
            ),
            (
                "server success",
                Some(Lower),
                Report::server_success_rate,
                pct,
            ),
            ("call success", Some(Lower), Report::call_success_rate, pct),
            (
                "call success during incident",
                Some(Lower),
                Report::incident_call_success_rate,
                pct,
            ),
            ("call latency p50", Some(Higher), |r| latency(r, 0.5), secs),
            ("call latency p99", Some(Higher), |r| latency(r, 0.99), secs),
            (
                "recovery after incident",
                Some(Higher),
                |r| match r.recovery {
                    Recovery::After(d) => Some(d.as_secs_f64()),
                    Recovery::NotInRun => Some(f64::INFINITY),
                    Recovery::NoIncident | Recovery::NoTraffic => None,
                },
                secs,
            ),
            (
                "budget denials",
                Some(Higher),
                |r| n(r.budget_denials()),
                count,
            ),
            (
                "gave up (attempts_exhausted)",
                Some(Higher),
                |r| n(r.stopped(StopReason::AttemptsExhausted)),
                count,
            ),
        ];
        let cell = |v: Option<f64>, show: fn(f64) -> String| v.map_or("-".to_owned(), show);
        measures
            .iter()
            .map(|&(name, worse, figure, show)| {
                let mut cells = Vec::with_capacity(self.runs.len() * 2);
                for reports in self.runs {
                    let figures: Vec<f64> = reports.iter().filter_map(figure).collect();
                    cells.push(cell(worse.and_then(|w| worst(&figures, w)), show));
                    cells.push(cell(median(&figures), show));
                }
                (name, cells)
            })
            .collect()
    }
}

impl fmt::Display for SeedTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut labels = Vec::with_capacity(self.runs.len() * 2);
        for reports in self.runs {
            let label = reports.first().map_or("", |r| r.label.as_str());
            labels.push(format!("{label} worst"));
            labels.push(format!("{label} median"));
        }
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        layout(f, &labels, &self.rows())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_tight_and_ordered() {
        let mut last = 0;
        for v in (0..5_000_000u64)
            .step_by(997)
            .chain([u64::MAX / 2, u64::MAX])
        {
            let i = index(v);
            assert!(i < BUCKETS, "{v}");
            assert!(i >= last, "monotonic at {v}");
            last = i;
            let m = middle(i);
            let err = m.abs_diff(v) as f64 / v.max(1) as f64;
            assert!(err <= 1.0 / 64.0, "{v} -> {m}");
        }
    }

    #[test]
    fn quantiles_pick_the_right_rank() {
        let mut l = Latency::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let p50 = l.p50().unwrap().as_secs_f64();
        let p99 = l.p99().unwrap().as_secs_f64();
        assert!((p50 - 0.050).abs() < 0.001, "{p50}");
        assert!((p99 - 0.099).abs() < 0.002, "{p99}");
        assert_eq!(l.quantile(1.0), Some(Duration::from_millis(100)));
    }

    #[test]
    fn short_durations() {
        assert_eq!(Short(Duration::from_millis(850)).to_string(), "850ms");
        assert_eq!(Short(Duration::from_millis(2346)).to_string(), "2.35s");
        assert_eq!(Short(Duration::from_secs(185)).to_string(), "3m05s");
    }

    fn report(label: &str, healthy_tail: bool) -> Report {
        let mut r = Report::new(label, Duration::from_secs(1));
        for i in 0..10u64 {
            let failing = (3..6).contains(&i) || (!healthy_tail && i >= 6);
            r.buckets.push(Bucket {
                first_attempts: 10,
                retries: if failing { 20 } else { 0 },
                successes: if failing { 0 } else { 10 },
                failures: if failing { 30 } else { 0 },
            });
        }
        r.incident = Some((Duration::from_secs(3), Duration::from_millis(5500)));
        r
    }

    #[test]
    fn recovery_is_measured_from_the_incident_end() {
        let mut r = report("a", true);
        r.find_recovery();
        // Bucket 5 (5 s to 6 s) still fails; bucket 6 is the first healthy one.
        assert_eq!(r.recovery, Recovery::After(Duration::from_millis(500)));
        let mut r = report("b", false);
        r.find_recovery();
        assert_eq!(r.recovery, Recovery::NotInRun);
    }
}
