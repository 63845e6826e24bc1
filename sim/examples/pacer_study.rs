//! The pacer's study (issue 18): today's default (no pacer) against a pacer per client,
//! on the leaky-bucket and acceleration-limited servers. `docs/PACER.md` holds the figures.
//!
//! ```sh
//! cargo run --release -p redial-sim --example pacer_study
//! cargo run --release -p redial-sim --example pacer_study -- --seeds 1-10
//! cargo run --release -p redial-sim --example pacer_study -- --fleet-table --seeds 1-5
//! cargo run --release -p redial-sim --example pacer_study -- --fleet-table --cut-on-shed
//! cargo run --release -p redial-sim --example pacer_study -- --per-seed --seeds 11-60
//! FROM=0 TO=20 ROWS=leaky cargo run --release -p redial-sim --example pacer_study
//! ```
//!
//! `FROM` and `TO` set the window measured, in seconds (20 to 140 by default).
//!
//! Every row is one scenario and fleet, run on each seed; a cell is the median of the
//! seeds, with the worst in brackets. Measured over the run's steady part, from 20 s to
//! 140 s (the issue's "first 20 s left out"; the acceleration limits from 0 s, as they
//! bite while the rate rises), from the report's one-second buckets: every
//! failure in these scenarios is a 429 (the server's 200 requests per second are never
//! short), so a bucket's failures are its 429s.

use std::time::Duration;

use redial::pacer::PacerConfig;
use redial::{Policy, StopReason};
use redial_sim::matrix::{self, Section};
use redial_sim::{acceleration, run, Arrivals, Failure, IncidentKind, Report, Scenario};

const FROM: usize = 20;
const TO: usize = 140;

struct Row {
    per_served: f64,
    served: f64,
    succeeded: f64,
    rate_limited: u64,
    p99: Duration,
}

fn measure(r: &Report, from: usize) -> Row {
    let to: usize = std::env::var("TO")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TO);
    let from: usize = std::env::var("FROM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(from);
    let window = r.buckets.get(from..to.min(r.buckets.len())).unwrap_or(&[]);
    let served: u64 = window.iter().map(|b| b.successes).sum();
    let throttled: u64 = window.iter().map(|b| b.failures).sum();
    Row {
        per_served: throttled as f64 / served.max(1) as f64,
        served: served as f64 / (to - from) as f64,
        succeeded: r.stopped(StopReason::Succeeded) as f64 / r.calls.max(1) as f64,
        rate_limited: r.rate_limited,
        p99: r.latency.p99().unwrap_or_default(),
    }
}

fn median_worst(mut v: Vec<f64>, higher_is_worse: bool) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    let worst = if higher_is_worse {
        v[v.len() - 1]
    } else {
        v[0]
    };
    (median, worst)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let seeds: Vec<u64> = match args.iter().position(|a| a == "--seeds") {
        Some(i) => {
            let spec = args.get(i + 1).ok_or("--seeds A-B")?;
            let (a, b) = spec.split_once('-').ok_or("--seeds A-B")?;
            (a.parse()?..=b.parse()?).collect()
        }
        None => (1..=5).collect(),
    };
    // Every preset paces, engaged by a 429 that states a quota; "off" is the library
    // before that.
    let policy = Policy::default();
    let off = Policy::builder().no_pacing().build()?;
    // Overrides for a study of the pacer's settings.
    let mut config = PacerConfig::default();
    if let Some(v) = std::env::var("PACER_GROWTH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.cubic.max_growth = v;
    }
    if let Some(v) = std::env::var("PACER_BETA")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.cubic.beta = v;
    }
    if let Some(v) = std::env::var("PACER_SETTLE")
        .ok()
        .and_then(|v| redial::duration::parse(&v).ok())
    {
        config.settle = v;
    }
    let only = std::env::var("ROWS").unwrap_or_default();
    if args.iter().any(|a| a == "--per-seed") {
        return per_seed(&seeds, &policy, &off, config);
    }
    if args.iter().any(|a| a == "--fleet-table") {
        // A 503 or 529 cutting the rate as a 429 does (not what the library does).
        let cut_on_shed = args.iter().any(|a| a == "--cut-on-shed");
        return fleet_table(&seeds, &policy, config, cut_on_shed);
    }
    // (name, limit in requests per second if any, clients, total demand, kind)
    let leaky = |rate, burst| IncidentKind::LeakyBucket { rate, burst };
    let accel = |floor, slope| IncidentKind::Acceleration { floor, slope };
    let rows: [(&str, Option<f64>, u32, f64, IncidentKind); 8] = [
        ("leaky 10r/s burst=10", Some(10.0), 1, 30.0, leaky(10.0, 10)),
        ("leaky 10r/s burst=20", Some(10.0), 4, 40.0, leaky(10.0, 20)),
        (
            "leaky 10r/s burst=20",
            Some(10.0),
            16,
            40.0,
            leaky(10.0, 20),
        ),
        ("leaky 1r/s burst=0", Some(1.0), 1, 3.0, leaky(1.0, 0)),
        ("leaky 1r/s burst=0", Some(1.0), 4, 8.0, leaky(1.0, 0)),
        ("accel 5r/s +1/s", None, 1, 30.0, accel(5.0, 1.0)),
        ("accel 5r/s +1/s", None, 4, 30.0, accel(5.0, 1.0)),
        ("accel 5r/s +5/s", None, 1, 30.0, accel(5.0, 5.0)),
    ];
    println!(
        "| server | clients | demand | pacer | 429s per served call | served/s | of the limit | calls succeeded | rate_limited | p99 latency |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|");
    for (name, limit, clients, demand, kind) in rows {
        if !only.is_empty() && !name.starts_with(only.as_str()) {
            continue;
        }
        // No pacer; the presets' (these limiters' 429s state no quota, so it is never
        // engaged, and equals "off"); one engaged by any 429, with the settings studied.
        for (mode, policy, pacer) in [
            ("off", &off, None),
            ("default", &policy, None),
            ("on", &policy, Some(config)),
        ] {
            let mut measured = Vec::new();
            for &seed in &seeds {
                let mut s = if matches!(kind, IncidentKind::Acceleration { .. }) {
                    Scenario::acceleration()
                } else {
                    Scenario::leaky_bucket()
                };
                s.incidents[0].kind = kind;
                s.clients = clients;
                s.arrivals = Arrivals::Poisson { rate: demand };
                s.seed = seed;
                s.pacer = pacer;
                // An acceleration limit bites when the rate rises: from the start.
                let from = if limit.is_some() { FROM } else { 0 };
                measured.push(measure(&run(&s, "x", policy)?, from));
            }
            let (ps, ps_w) = median_worst(measured.iter().map(|m| m.per_served).collect(), true);
            let (sv, sv_w) = median_worst(measured.iter().map(|m| m.served).collect(), false);
            let (ok, ok_w) = median_worst(measured.iter().map(|m| m.succeeded).collect(), false);
            let (rl, _) = median_worst(
                measured.iter().map(|m| m.rate_limited as f64).collect(),
                true,
            );
            let (p99, p99_w) =
                median_worst(measured.iter().map(|m| m.p99.as_secs_f64()).collect(), true);
            let of_limit = limit.map_or("-".to_owned(), |l| {
                format!("{:.0} % [{:.0} %]", sv / l * 100.0, sv_w / l * 100.0)
            });
            println!(
                "| {name} | {clients} | {demand}/s | {mode} | {ps:.3} [{ps_w:.3}] | {sv:.2} [{sv_w:.2}] | {of_limit} | {:.1} % [{:.1} %] | {rl:.0} | {p99:.2}s [{p99_w:.2}s] |",
                ok * 100.0,
                ok_w * 100.0,
            );
        }
    }
    Ok(())
}

/// The acceleration limits seed by seed, as the issue's bound reads: each pacer against no
/// pacer on the same seed, 429s per served call and calls served over the whole run, and
/// the worst of the seeds for each (the worst ratio and the worst throughput may come from
/// different seeds).
fn per_seed(
    seeds: &[u64],
    policy: &Policy,
    off: &Policy,
    config: PacerConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("| slope | seed | presets' pacer: fewer 429s | served | `[rate]` pacer: fewer 429s | served |");
    println!("|---|---:|---:|---:|---:|---:|");
    for slope in [1.0, 5.0] {
        let mut worst = [f64::MAX; 4];
        for &seed in seeds {
            let [preset, table] = acceleration::versus(slope, seed, policy, off, config)?;
            let row = [
                preset.fewer_429s,
                preset.served,
                table.fewer_429s,
                table.served,
            ];
            for (w, r) in worst.iter_mut().zip(row) {
                *w = w.min(r);
            }
            println!(
                "| +{slope}/s | {seed} | {:.1}× | {:.1} % | {:.1}× | {:.1} % |",
                row[0],
                row[1] * 100.0,
                row[2],
                row[3] * 100.0
            );
        }
        println!(
            "| +{slope}/s | worst | {:.1}× | {:.1} % | {:.1}× | {:.1} % |",
            worst[0],
            worst[1] * 100.0,
            worst[2],
            worst[3] * 100.0
        );
    }
    Ok(())
}

/// The design's fleet table rows where a pacer can change something: outages and
/// brown-outs of hintless 429s (a 429 always cuts the rate), of 503 and 529 (which cut
/// only once the budget reads overload), the overloads that shed them and the lone
/// script, with 500 beside them as a control (it never cuts). Load during the incident and
/// call success over the calls started in it, worst of the seeds (the lone script: its
/// median, as the design has it), pacer off and on.
fn fleet_table(
    seeds: &[u64],
    policy: &Policy,
    config: PacerConfig,
    cut_on_shed: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("| section | failure | clients | load off | load default | load on | success off | success default | success on |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let all = [429, 500, 503, 529].map(Failure::Status);
    let shed = [503, 529].map(Failure::Status);
    let rows: [(Section, &[Failure], &[u32]); 4] = [
        (Section::Outage, &all, &[10, 100, 1000]),
        (Section::Brownout, &all, &[10, 100, 1000]),
        (Section::Overload, &shed, &[10, 100, 1000]),
        (Section::LoneScript, &[Failure::Status(529)], &[1]),
    ];
    for (section, failures, sizes) in rows {
        for &failure in failures {
            for &clients in sizes {
                let mut cells = Vec::new();
                // No pacer, the presets', one engaged by any 429.
                for (paces, pacer) in [(false, None), (true, None), (true, Some(config))] {
                    let (mut load, mut successes) = (0.0_f64, Vec::new());
                    for &seed in seeds {
                        let mut s = matrix::scenario(section, failure, clients, seed);
                        s.pacer = pacer;
                        s.pacer_cuts_on_shed = cut_on_shed;
                        let policy = match matrix::preset(section) {
                            redial::Preset::Default => policy.clone(),
                            preset => Policy::preset(preset),
                        };
                        let policy = if paces {
                            policy
                        } else {
                            policy.to_builder().no_pacing().build()?
                        };
                        let r = run(&s, "x", &policy)?;
                        load = load.max(r.incident_amplification().unwrap_or(0.0));
                        successes.push(r.incident_call_success_rate().unwrap_or(0.0));
                    }
                    successes.sort_by(f64::total_cmp);
                    let success = match section {
                        Section::LoneScript => successes[successes.len() / 2],
                        _ => successes.first().copied().unwrap_or(0.0),
                    };
                    cells.push((load, success));
                }
                println!(
                    "| {section:?} | {failure} | {clients} | {:.2}x | {:.2}x | {:.2}x | {:.1} % | {:.1} % | {:.1} % |",
                    cells[0].0,
                    cells[1].0,
                    cells[2].0,
                    cells[0].1 * 100.0,
                    cells[1].1 * 100.0,
                    cells[2].1 * 100.0,
                );
            }
        }
    }
    Ok(())
}
