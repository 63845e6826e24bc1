//! `redial schedule`: the delay before each retry of a call whose every attempt fails.
//!
//! The schedule is the machine's own: each failure is fed to a fresh call of the policy (with
//! a fresh budget per run) at the instant its retry was due, as if attempts took no time, so
//! `max_elapsed` and the budget cut it where they would.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use redial::backoff::Jitter;
use redial::machine::Action;
use redial::{Cause, Policy, Rng, Stop, StopReason, Verdict};

use redial_cli::common::{fail, show, table, PolicyArgs};

/// At most this many retries are listed; a policy with more says how many it left out.
const MAX_ROWS: usize = 100;

/// The options of `redial schedule`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Columns: the retry, its raw backoff (before jitter), the jittered delay, and the total
wait so far. With --samples K, each retry's delay over K seeds (SEED, SEED+1, …):
min / p50 / p99 / max. The last line says how the call stops if every attempt fails.

Examples:
  redial schedule
  redial schedule --preset aws-standard --seed 7
  redial schedule --policy retry.toml --samples 10000")]
pub struct ScheduleArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Seed for the jitter [default: random, and printed so the run can be repeated].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Runs K seeds and shows min / p50 / p99 / max of each retry's delay.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    samples: Option<u32>,
}

/// One call in which every attempt fails.
pub(crate) struct Run {
    pub(crate) delays: Vec<Duration>,
    /// How it stopped; `None` when it was cut at [`MAX_ROWS`].
    pub(crate) stop: Option<Stop>,
}

pub(crate) fn run_once(policy: &Policy, seed: u64) -> Result<Run, String> {
    // A fresh budget for every run: runs are separate calls, not a fleet.
    let policy = policy.to_builder().build().map_err(|e| e.to_string())?;
    let mut rng = Rng::with_seed(seed);
    let start = Instant::now();
    let mut now = start;
    let mut call = policy.start(start);
    let failure = Verdict::retryable(Cause::caller());
    let mut delays = Vec::new();
    while delays.len() < MAX_ROWS {
        match call.on_outcome(&failure, now, &mut rng) {
            Action::Retry(retry) => {
                delays.push(retry.delay);
                now = now.checked_add(retry.delay).unwrap_or(now);
            }
            Action::Stop(stop) => {
                return Ok(Run {
                    delays,
                    stop: Some(stop),
                })
            }
        }
    }
    Ok(Run { delays, stop: None })
}

/// Runs `redial schedule`.
pub fn run(args: ScheduleArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let seed = args.seed.unwrap_or_else(|| Rng::new().u64(..));
    let text = match args.samples {
        None => single(&policy, &args.policy.source(), seed),
        Some(k) => sampled(&policy, &args.policy.source(), seed, k),
    };
    match text {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn raw(policy: &Policy, n: usize) -> String {
    let backoff = policy.rules().backoff();
    if backoff.jitter() == Jitter::Decorrelated {
        // Decorrelated jitter ignores the curve.
        return "-".into();
    }
    show(backoff.raw(u32::try_from(n).unwrap_or(u32::MAX)))
}

fn single(policy: &Policy, source: &str, seed: u64) -> Result<String, String> {
    let run = run_once(policy, seed)?;
    let mut total = Duration::ZERO;
    let rows: Vec<Vec<String>> = run
        .delays
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            total = total.saturating_add(d);
            vec![
                (i + 1).to_string(),
                raw(policy, i + 1),
                show(d),
                show(total),
            ]
        })
        .collect();
    let mut out =
        format!("# {source}, seed {seed}: the delay before each retry if every attempt fails\n");
    out.push_str(&table(&["retry", "raw", "delay", "total"], &rows));
    out.push_str(&ending(policy, run.stop.as_ref()));
    out.push('\n');
    Ok(out)
}

fn sampled(policy: &Policy, source: &str, seed: u64, k: u32) -> Result<String, String> {
    let mut per_retry: Vec<Vec<Duration>> = Vec::new();
    let mut totals = Vec::with_capacity(k as usize);
    let mut endings: BTreeMap<StopReason, u32> = BTreeMap::new();
    let mut cut = 0u32;
    for i in 0..k {
        let run = run_once(policy, seed.wrapping_add(u64::from(i)))?;
        for (n, &d) in run.delays.iter().enumerate() {
            if per_retry.len() <= n {
                per_retry.push(Vec::new());
            }
            if let Some(samples) = per_retry.get_mut(n) {
                samples.push(d);
            }
        }
        totals.push(
            run.delays
                .iter()
                .fold(Duration::ZERO, |a, &d| a.saturating_add(d)),
        );
        match run.stop {
            Some(stop) => *endings.entry(stop.reason()).or_default() += 1,
            None => cut += 1,
        }
    }
    let uneven = per_retry.iter().any(|s| s.len() != k as usize);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (n, samples) in per_retry.iter_mut().enumerate() {
        let mut row = vec![(n + 1).to_string(), raw(policy, n + 1)];
        row.extend(quantiles(samples));
        if uneven {
            row.push(samples.len().to_string());
        }
        rows.push(row);
    }
    let mut row = vec!["total".to_string(), String::new()];
    row.extend(quantiles(&mut totals));
    if uneven {
        row.push(k.to_string());
    }
    rows.push(row);
    let mut header = vec!["retry", "raw", "min", "p50", "p99", "max"];
    if uneven {
        header.push("runs");
    }
    let last = seed.wrapping_add(u64::from(k - 1));
    let mut out = format!(
        "# {source}, {k} runs (seeds {seed}..={last}): each retry's delay if every attempt fails\n"
    );
    out.push_str(&table(&header, &rows));
    let mut ends: Vec<String> = endings
        .iter()
        .map(|(reason, n)| format!("{reason} in {n} of {k} runs"))
        .collect();
    if cut > 0 {
        ends.push(format!(
            "more than {MAX_ROWS} retries in {cut} of {k} runs (not shown)"
        ));
    }
    out.push_str(&format!("then: {}\n", ends.join(", ")));
    Ok(out)
}

/// min, p50, p99 and max, nearest-rank.
fn quantiles(samples: &mut [Duration]) -> Vec<String> {
    samples.sort_unstable();
    let pick = |q: f64| -> String {
        if samples.is_empty() {
            return "-".into();
        }
        let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples
            .get(rank - 1)
            .map_or_else(|| "-".into(), |d| show(*d))
    };
    vec![pick(0.0), pick(0.5), pick(0.99), pick(1.0)]
}

/// The last line: how a call whose every attempt fails stops.
fn ending(policy: &Policy, stop: Option<&Stop>) -> String {
    match stop {
        Some(Stop::AttemptsExhausted { attempts, .. }) => format!(
            "then: attempts_exhausted (attempt {attempts} of max_attempts {} fails too)",
            policy.rules().max_attempts()
        ),
        Some(stop) => format!("then: {stop}"),
        None => format!(
            "then: {} more retries, not shown",
            policy
                .rules()
                .max_attempts()
                .saturating_sub(1)
                .saturating_sub(MAX_ROWS as u32)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantiles(&mut s), ["1ms", "50ms", "99ms", "100ms"]);
        assert_eq!(quantiles(&mut []), ["-", "-", "-", "-"]);
    }

    #[test]
    fn a_run_stops_where_the_machine_stops() {
        let run = run_once(&Policy::default(), 1).unwrap();
        assert_eq!(run.delays.len(), 2);
        assert_eq!(
            run.stop.map(|s| s.reason()),
            Some(StopReason::AttemptsExhausted)
        );
    }
}
