//! The design's fleet table ("Retry storms at fleet scale"), measured: every bound it sets
//! for the default policy, with whether it holds. Exits with 1 when a bound fails.
//!
//! ```sh
//! cargo run --release -p redial-sim --example fleet_matrix
//! cargo run --release -p redial-sim --example fleet_matrix -- --seeds 11-20
//! cargo run --release -p redial-sim --example fleet_matrix -- --sections outage,redis --fleets 1000
//! ```
//!
//! Flags of the table: `--seeds A-B` (1-10), `--sections` (outage, brownout, overload,
//! script, redis; all by default), `--fleets` (10,100,1000), `--failures` (500, 502, 503,
//! 504, 529, 429, refused, timeout by default), `--threads N` (one per core). The table is
//! [`redial_sim::matrix`]'s; see its docs for what each row runs.
//!
//! Other modes, as a first argument, print the adaptive budget's studies (medians of seeds
//! 1–5): `budgets` the scenarios × fleets × budget kinds (off, aws, adaptive, redis);
//! `sweep` its trade-off over its ratios; `single` one ratio for every failure (no
//! overload signal); `sync` the Redis-shared budget against the sync interval. (The former
//! `signals` mode, outages and brown-outs of other statuses, is the table's failure kinds.)
//!
//! The adaptive budget's numbers can be overridden for a study with the environment
//! variables `WINDOW` (`30s`), `OVERLOAD_RATIO`, `RETRY_RATIO` and `MIN_RETRIES`; when
//! any is set, the table measures that budget on each preset in place of the preset's own.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use redial::budget::BudgetConfig;
use redial::{Policy, Preset};
use redial_sim::matrix::{self, Section, Settings};
use redial_sim::{run, BudgetScope, Failure, Scenario};

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
const FLEETS: [u32; 3] = [10, 100, 1000];

fn scenario(name: &str, clients: u32, budget: BudgetScope, seed: u64) -> Scenario {
    let mut s = match name {
        "outage" => Scenario::outage(),
        "brownout" => Scenario::brownout(),
        "overload" => Scenario::overload(),
        _ => Scenario::rate_limit(),
    };
    s.clients = clients;
    s.duration = Duration::from_secs(300);
    s.budget = budget;
    s.seed = seed;
    s
}

fn env_f64(name: &str) -> Option<f64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The adaptive budget with the environment's overrides.
fn adaptive(overload_ratio: f64, retry_ratio: f64, min_retries: f64) -> BudgetConfig {
    let mut c = BudgetConfig::adaptive();
    if let Some(w) = std::env::var("WINDOW")
        .ok()
        .and_then(|w| redial::duration::parse(&w).ok())
    {
        c.window = w;
    }
    c.overload_ratio = overload_ratio;
    c.retry_ratio = retry_ratio;
    c.min_retries = min_retries;
    c
}

/// The adaptive budget's three numbers, from the environment or the library's defaults,
/// and whether the environment set any.
fn knobs() -> ((f64, f64, f64), bool) {
    let d = BudgetConfig::adaptive();
    let (o, r, m) = (
        env_f64("OVERLOAD_RATIO"),
        env_f64("RETRY_RATIO"),
        env_f64("MIN_RETRIES"),
    );
    let set = o.is_some() || r.is_some() || m.is_some() || std::env::var("WINDOW").is_ok();
    (
        (
            o.unwrap_or(d.overload_ratio),
            r.unwrap_or(d.retry_ratio),
            m.unwrap_or(d.min_retries),
        ),
        set,
    )
}

fn policy(budget: Option<BudgetConfig>) -> Policy {
    let b = Preset::Default.builder();
    match budget {
        Some(c) => b.budget(c),
        None => b.no_budget(),
    }
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Median over the seeds of (incident load, call success during the incident, failed
/// answers).
fn measure(name: &str, clients: u32, scope: BudgetScope, p: &Policy) -> (f64, f64, f64) {
    let (mut load, mut ok, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for seed in SEEDS {
        let r =
            run(&scenario(name, clients, scope, seed), "x", p).unwrap_or_else(|e| panic!("{e}"));
        load.push(r.incident_amplification().unwrap_or(f64::NAN));
        ok.push(r.incident_call_success_rate().unwrap_or(f64::NAN));
        let answered: u64 = r.buckets.iter().map(|b| b.failures).sum();
        failed.push(answered as f64);
    }
    (median(load), median(ok), median(failed))
}

/// A comma-separated list of `T`, or the flag's error.
fn list<T>(flag: &str, v: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    v.split(',')
        .map(|item| parse(item.trim()).ok_or_else(|| format!("{flag}: cannot read {item:?}")))
        .collect()
}

/// `A-B`, or a single seed.
fn seeds(v: &str) -> Option<std::ops::RangeInclusive<u64>> {
    let (a, b) = v.split_once('-').unwrap_or((v, v));
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some(a..=b)
}

fn section(v: &str) -> Option<Section> {
    Some(match v {
        "outage" => Section::Outage,
        "brownout" => Section::Brownout,
        "overload" => Section::Overload,
        "script" => Section::LoneScript,
        "redis" => Section::Redis,
        _ => return None,
    })
}

fn settings(args: &[String]) -> Result<Settings, String> {
    let mut s = Settings::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag}: needs a value"))?;
        match flag.as_str() {
            "--seeds" => s.seeds = seeds(value).ok_or("--seeds: expected A-B, A ≤ B")?,
            "--sections" => s.sections = list(flag, value, section)?,
            "--fleets" => s.fleets = list(flag, value, |v| v.parse().ok())?,
            "--failures" => s.failures = list(flag, value, |v| v.parse::<Failure>().ok())?,
            "--threads" => s.threads = value.parse().map_err(|_| "--threads: a number")?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(s)
}

/// The design's table, for the presets or the environment's budget on them.
fn table(args: &[String], knobs: (f64, f64, f64), set: bool) -> ExitCode {
    let settings = match settings(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fleet_matrix: {e}");
            return ExitCode::from(2);
        }
    };
    let (o, r, m) = knobs;
    let candidate = |preset: Preset| {
        if set {
            preset
                .builder()
                .budget(adaptive(o, r, m))
                .build()
                .unwrap_or_else(|e| panic!("{e}"))
        } else {
            Policy::preset(preset)
        }
    };
    let started = Instant::now();
    let m = match matrix::run(&settings, candidate) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("fleet_matrix: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{m}");
    let failing = m.failing().count();
    eprintln!(
        "{} rows, {failing} failing, in {:.1}s",
        m.rows.len(),
        started.elapsed().as_secs_f64()
    );
    if failing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_default();
    let ((o, r, m), set) = knobs();
    let sync = Duration::from_millis(250);
    match mode.as_str() {
        "sweep" => {
            println!("overload_ratio min_retries | outage load 10/100/1000 | overload load | overload success | brownout success");
            for o in [0.05, 0.1, 0.2, 0.3] {
                for m in [0.0, 0.5, 1.0] {
                    let p = policy(Some(adaptive(o, r, m)));
                    let mut line = format!("{o:>4} {m:>4} |");
                    for name in ["outage", "overload"] {
                        for clients in FLEETS {
                            let (load, ok, _) = measure(name, clients, BudgetScope::PerClient, &p);
                            if name == "outage" {
                                line += &format!(" {load:.2}");
                            } else {
                                line += &format!(" {load:.2}/{:.1}%", ok * 100.0);
                            }
                        }
                        line += " |";
                    }
                    for clients in FLEETS {
                        let (_, ok, _) = measure("brownout", clients, BudgetScope::PerClient, &p);
                        line += &format!(" {:.1}%", ok * 100.0);
                    }
                    println!("{line}");
                }
            }
        }
        "single" => {
            // One ratio for every failure, as Finagle's RetryBudget (percentCanRetry plus a
            // small minimum) and tower's TpsBudget do: no overload signal.
            println!("ratio | outage load 10/100/1000 | brownout success 10/100/1000");
            for ratio in [0.1, 0.2, 0.3, 0.5, 1.0, 2.0] {
                let p = policy(Some(adaptive(ratio, ratio, m)));
                let mut line = format!("{ratio} |");
                for clients in FLEETS {
                    let (load, _, _) = measure("outage", clients, BudgetScope::PerClient, &p);
                    line += &format!(" {load:.2}");
                }
                line += " |";
                for clients in FLEETS {
                    let (_, ok, _) = measure("brownout", clients, BudgetScope::PerClient, &p);
                    line += &format!(" {:.1}%", ok * 100.0);
                }
                println!("{line}");
            }
        }
        "sync" => {
            let p = policy(Some(adaptive(o, r, m)));
            println!("sync | outage load 10/100/1000 | overload load 10/100/1000");
            for ms in [50u64, 250, 1000, 5000, 15000] {
                let scope = BudgetScope::Redis {
                    sync: Duration::from_millis(ms),
                };
                let mut line = format!("{ms}ms |");
                for name in ["outage", "overload"] {
                    for clients in FLEETS {
                        line += &format!(" {:.2}", measure(name, clients, scope, &p).0);
                    }
                    line += " |";
                }
                println!("{line}");
            }
        }
        "budgets" => {
            let runs: [(&str, Option<BudgetConfig>, BudgetScope); 4] = [
                ("off", None, BudgetScope::PerClient),
                ("aws", Some(BudgetConfig::aws()), BudgetScope::PerClient),
                ("adaptive", Some(adaptive(o, r, m)), BudgetScope::PerClient),
                (
                    "redis 250ms",
                    Some(adaptive(o, r, m)),
                    BudgetScope::Redis { sync },
                ),
            ];
            println!("| scenario | clients | budget | load during incident | call success during incident | failed answers |");
            println!("|---|---:|---|---:|---:|---:|");
            for name in ["outage", "brownout", "overload", "ratelimit"] {
                for clients in FLEETS {
                    for (label, budget, scope) in runs {
                        let p = policy(budget);
                        let (load, ok, failed) = measure(name, clients, scope, &p);
                        println!(
                            "| {name} | {clients} | {label} | {load:.2}× | {:.1} % | {failed:.0} |",
                            ok * 100.0
                        );
                    }
                }
            }
        }
        "" => return table(&args, (o, r, m), set),
        other => {
            eprintln!(
                "fleet_matrix: unknown mode {other:?} (expected flags of the table, or one of \
                 budgets, sweep, single, sync)"
            );
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
