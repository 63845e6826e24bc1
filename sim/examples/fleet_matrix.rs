//! The fleet matrix of `docs/FLEET.md`: scenario × fleet shape × budget, seeds 1–5, medians.
//!
//! ```sh
//! cargo run --release -p redial-sim --example fleet_matrix
//! ```
//!
//! The scenarios are `redial simulate`'s defaults (100 calls/s for the whole fleet, a
//! 200 req/s server, the incident from 1m for 2m, a 5m run). Arguments, all optional:
//! `sweep` prints the adaptive budget's trade-off over its ratios instead; `single` one ratio
//! for every failure (no overload signal); `signals` an outage of 500s and a brown-out of
//! 503s; `sync` the Redis-shared budget against the sync interval.
//! The adaptive budget's numbers can be overridden for a study with the environment
//! variables `WINDOW` (`30s`), `OVERLOAD_RATIO`, `RETRY_RATIO` and `MIN_RETRIES`.

use std::time::Duration;

use redial::{BudgetConfig, Policy, Preset};
use redial_sim::{run, BudgetScope, Failure, IncidentKind, Scenario};

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

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

/// Median over the seeds of (incident load, call success, 429s during the incident).
fn measure(name: &str, clients: u32, scope: BudgetScope, p: &Policy) -> (f64, f64, f64) {
    let (mut load, mut ok, mut limited) = (Vec::new(), Vec::new(), Vec::new());
    for seed in SEEDS {
        let r =
            run(&scenario(name, clients, scope, seed), "x", p).unwrap_or_else(|e| panic!("{e}"));
        load.push(r.incident_amplification().unwrap_or(f64::NAN));
        ok.push(r.call_success_rate().unwrap_or(f64::NAN));
        let answered: u64 = r.buckets.iter().map(|b| b.failures).sum();
        limited.push(answered as f64);
    }
    (median(load), median(ok), median(limited))
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let (o, r, m) = (
        env_f64("OVERLOAD_RATIO", BudgetConfig::adaptive().overload_ratio),
        env_f64("RETRY_RATIO", BudgetConfig::adaptive().retry_ratio),
        env_f64("MIN_RETRIES", BudgetConfig::adaptive().min_retries),
    );
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
        "signals" => {
            // The same incidents with the other status: an outage of 500s (no overload
            // signal: only the "most attempts fail" rule protects) and a brown-out of 503s
            // (a signal where retries would help).
            let p = policy(Some(adaptive(o, r, m)));
            for (name, status) in [("outage", 500u16), ("brownout", 503)] {
                let mut line = format!("{name} of {status}s |");
                for clients in FLEETS {
                    let (mut load, mut ok) = (Vec::new(), Vec::new());
                    for seed in SEEDS {
                        let mut s = scenario(name, clients, BudgetScope::PerClient, seed);
                        for i in &mut s.incidents {
                            i.kind = match i.kind {
                                IncidentKind::Outage { .. } => IncidentKind::Outage {
                                    failure: Failure::Status(status),
                                },
                                IncidentKind::Brownout { fail_fraction, .. } => {
                                    IncidentKind::Brownout {
                                        fail_fraction,
                                        failure: Failure::Status(status),
                                    }
                                }
                                other => other,
                            };
                        }
                        let rep = run(&s, "x", &p).unwrap_or_else(|e| panic!("{e}"));
                        load.push(rep.incident_amplification().unwrap_or(f64::NAN));
                        ok.push(rep.call_success_rate().unwrap_or(f64::NAN));
                    }
                    line += &format!(
                        " {clients}: {:.2}x {:.1}% |",
                        median(load),
                        median(ok) * 100.0
                    );
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
        _ => {
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
            println!("| scenario | clients | budget | load during incident | call success | failed answers |");
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
    }
}
