//! `redial simulate`: many clients against a modelled server, in virtual time, to show what
//! a policy does to the server at scale. Prints a table and draws an SVG chart.
//!
//! The engine is the [`redial_sim`] crate; this module turns flags into a
//! [`Scenario`], names into policies ([`policy_named`], the one place that does), and
//! reports into text and a picture ([`chart`]).

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use redial::budget::BudgetConfig;
use redial::classify::RequestFacts;
use redial::pacer::PacerConfig;
use redial::{Policy, Preset};
use redial_sim::{
    Arrivals, BudgetScope, Failure, HintHeader, Incident, IncidentKind, Report, Scenario,
    SeedTable, ServerModel, SimulateError, Table,
};

mod chart;

/// Many clients against a modelled server in virtual time: offered load, amplification,
/// success rates, latency and time to recover, per policy, as a table and an SVG chart.
///
/// Example: `redial simulate --scenario outage --compare default,anthropic,aws-standard`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// What goes wrong with the server.
    #[arg(long, value_enum, default_value_t = ScenarioKind::Outage)]
    pub scenario: ScenarioKind,

    /// Clients in the fleet.
    #[arg(long, default_value_t = 1000)]
    pub clients: u32,

    /// How long clients start calls (e.g. 90s, 5m); the run then goes on until every call ends.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub duration: Duration,

    /// Calls per second started by the whole fleet (each client starts rate / clients).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,

    /// How each client spaces its calls.
    #[arg(long, value_enum, default_value_t = ArrivalKind::Poisson)]
    pub arrivals: ArrivalKind,

    /// Seed for arrivals, the server's coin flips and jitter; every policy gets the same.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Run every policy on each seed of A-B (at most 1,000 seeds) and print, per measure,
    /// the worst seed (the highest load, the lowest success) and the median; the chart
    /// shows seed A.
    #[arg(long, value_name = "A-B", value_parser = parse_seeds, conflicts_with = "seed")]
    pub seeds: Option<RangeInclusive<u64>>,

    /// Policies to run side by side, comma-separated: preset names (default, anthropic,
    /// openai, aws-standard) or policy files, each optionally followed by `@` and a budget
    /// that overrides --budget for it: `@off`, `@aws` (the AWS bucket), `@adaptive`,
    /// `@per-client`, `@redis`, `@shared` (e.g. default@off,default@aws,default,default@redis).
    #[arg(long, value_delimiter = ',', default_value = "default")]
    pub compare: Vec<String>,

    /// A policy file (TOML or JSON) to load-test, run beside --compare's policies.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Where to write the SVG chart.
    #[arg(long, default_value = "simulate.svg")]
    pub chart: PathBuf,

    /// Print the table only; write no chart.
    #[arg(long)]
    pub no_chart: bool,

    /// Who holds a retry budget: each client its own (as processes are deployed), each
    /// client its own sharing counts through Redis every --sync, one object for the whole
    /// fleet (an ideal no deployment reaches), or nobody.
    #[arg(long, value_enum, default_value_t = BudgetKind::PerClient)]
    pub budget: BudgetKind,

    /// --budget redis: how often each client exchanges its counts with the fleet.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub sync: Duration,

    /// The request every call makes: GET is idempotent, POST is not (which failures a
    /// policy retries depends on it).
    #[arg(long, value_enum, default_value_t = MethodKind::Get)]
    pub method: MethodKind,

    /// Requests per second the healthy server completes.
    #[arg(long, default_value_t = 200.0)]
    pub capacity: f64,

    /// Requests the server serves at once.
    #[arg(long, default_value_t = 20)]
    pub concurrency: u32,

    /// Requests that may wait for a worker; more are shed with --shed-status.
    #[arg(long, default_value_t = 200)]
    pub queue: u32,

    /// The status of a shed request (a full queue, as in an overload): 529, or 503 for a
    /// server that sheds with that.
    #[arg(long, default_value_t = 529)]
    pub shed_status: u16,

    /// When the incident begins.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub incident_at: Duration,

    /// How long the incident lasts.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub incident_for: Duration,

    /// outage and brownout: how a failing request fails, in place of --outage-status or
    /// --brownout-status: a status (e.g. 502), `refused` (a refused connection, at once),
    /// `timeout` (no answer: the client gives up after --timeout), or `429+WAIT` (a 429
    /// that says to wait WAIT, e.g. `429+1s`, `429+20ms`).
    #[arg(long, value_name = "STATUS|refused|timeout|429+WAIT", value_parser = parse_failure)]
    pub failure: Option<Failure>,

    /// How long a client waits for an answer before it gives up on the attempt (only
    /// `--failure timeout` answers never come).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// outage: the status every request gets.
    #[arg(long, default_value_t = 503)]
    pub outage_status: u16,

    /// brownout: the fraction of requests that fail.
    #[arg(long, default_value_t = 0.5)]
    pub fail_fraction: f64,

    /// brownout: the status of a failed request.
    #[arg(long, default_value_t = 500)]
    pub brownout_status: u16,

    /// ratelimit: requests let through per window, the whole fleet together.
    #[arg(long, default_value_t = 500)]
    pub limit: u32,

    /// ratelimit: the quota's fixed window.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub window: Duration,

    /// ratelimit: the header sent with each 429.
    #[arg(long, value_enum, default_value_t = HeaderKind::RetryAfter)]
    pub hint_header: HeaderKind,

    /// overload: the fraction of its capacity the server keeps.
    #[arg(long, default_value_t = 0.25)]
    pub capacity_left: f64,

    /// leaky-bucket: requests per second the bucket lets through (nginx `limit_req rate`).
    #[arg(long, default_value_t = 10.0)]
    pub limit_rate: f64,

    /// leaky-bucket: requests let through at once beyond the rate (nginx `burst`).
    #[arg(long, default_value_t = 10)]
    pub burst: u32,

    /// acceleration: requests per second always let through.
    #[arg(long, default_value_t = 5.0)]
    pub floor: f64,

    /// acceleration: how much the rate let through may rise each second, in requests per
    /// second.
    #[arg(long, default_value_t = 1.0)]
    pub slope: f64,

    /// Give each client a pacer engaged by any 429 (a learned-rate token bucket in front
    /// of every attempt, `redial::pacer`, default settings), as a policy's `[rate]` table
    /// does. Without it each client has its policy's own pacer: every preset's is engaged
    /// only by a 429 that says how long to wait.
    #[arg(long)]
    pub pacer: bool,

    /// Network round trip added to every attempt.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    pub rtt: Duration,

    /// Width of the time buckets in the chart and for the time to recover.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub bucket: Duration,
}

/// The incident to simulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScenarioKind {
    /// The server answers every request with an error at once.
    Outage,
    /// The server serves requests but fails a fraction of them.
    Brownout,
    /// A fixed-window quota answers the excess with 429 and a reset header.
    Ratelimit,
    /// The server loses most of its capacity, fills its queue and sheds with --shed-status.
    Overload,
    /// A leaky bucket (nginx `limit_req` with `nodelay`) answers the excess with 429 and
    /// `Retry-After: 1`.
    LeakyBucket,
    /// An acceleration limit answers a rise faster than --slope with 429, `Retry-After: 1`
    /// and the quota it is far under (`x-ratelimit-*`), as an API states it on a surge.
    Acceleration,
}

/// How clients space their calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ArrivalKind {
    /// Exponential gaps (independent users).
    Poisson,
    /// A fixed period from a random phase (pollers, cron jobs).
    Fixed,
}

/// Who holds a retry budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BudgetKind {
    /// One budget per client: a fleet of processes, each with its own policy.
    PerClient,
    /// One budget per client, sharing its counts with the fleet through Redis every --sync.
    Redis,
    /// One budget object for the whole fleet.
    Shared,
    /// No budget at all (every policy's budget switched off).
    Off,
}

/// The request's method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodKind {
    /// Idempotent.
    Get,
    /// Not idempotent, no Idempotency-Key.
    Post,
}

/// The header a rate-limited server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HeaderKind {
    /// `retry-after: N`.
    RetryAfter,
    /// `RateLimit: "default";r=0;t=N`.
    Ratelimit,
    /// A bare 429.
    None,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    redial::duration::parse(s).map_err(|e| e.to_string())
}

/// The most seeds `--seeds` may name.
const MAX_SEEDS: u64 = 1000;

/// `A-B`: seeds from A to B, A ≤ B, at most [`MAX_SEEDS`] of them.
fn parse_seeds(s: &str) -> Result<RangeInclusive<u64>, String> {
    let bad = || format!("expected A-B, two seeds with A ≤ B (e.g. 1-10), got {s:?}");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let number = |v: &str| {
        let v = v.trim();
        (!v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()))
            .then(|| v.parse::<u64>().ok())
            .flatten()
    };
    let (a, b) = (number(a).ok_or_else(bad)?, number(b).ok_or_else(bad)?);
    if a > b {
        return Err(bad());
    }
    if b - a >= MAX_SEEDS {
        return Err(format!("at most {MAX_SEEDS} seeds, got {a}-{b}"));
    }
    Ok(a..=b)
}

fn parse_failure(s: &str) -> Result<Failure, String> {
    s.parse::<Failure>().map_err(|e| e.to_string())
}

/// Runs `redial simulate`: prints the table to stdout and writes the chart. Errors go to
/// stderr, with exit code 1.
pub fn run(args: SimulateArgs) -> ExitCode {
    match simulate(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("redial simulate: {message}");
            ExitCode::FAILURE
        }
    }
}

fn simulate(args: &SimulateArgs) -> Result<(), String> {
    let scenario = scenario(args);
    let mut runs = Vec::with_capacity(args.compare.len() + 1);
    let file = args.policy.as_ref().map(|p| p.display().to_string());
    for item in args.compare.iter().chain(&file) {
        runs.push(run_named(item.trim(), args)?);
    }
    if runs.is_empty() {
        return Err("--compare: name at least one policy".to_owned());
    }

    let started = Instant::now();
    let seeds = args.seeds.clone().unwrap_or(args.seed..=args.seed);
    // One list of reports per policy, one report per seed.
    let mut per_policy: Vec<Vec<Report>> = Vec::with_capacity(runs.len());
    for (label, policy, budget) in &runs {
        let mut reports = Vec::new();
        for seed in seeds.clone() {
            let mut s = scenario.clone();
            s.budget = *budget;
            s.seed = seed;
            reports.push(redial_sim::run(&s, label, policy).map_err(|e| match e {
                SimulateError::Invalid { field, rule, got } => {
                    format!("{}: must be {rule}, got {got}", flag_for(args, &field))
                }
                other => other.to_string(),
            })?);
        }
        per_policy.push(reports);
    }
    let elapsed = started.elapsed();

    println!("{}", describe(args, &scenario));
    println!();
    if args.seeds.is_some() {
        print!("{}", SeedTable::new(&per_policy));
    } else {
        let firsts: Vec<Report> = per_policy
            .iter()
            .filter_map(|r| r.first().cloned())
            .collect();
        print!("{}", Table::new(&firsts));
    }
    let events: u64 = per_policy.iter().flatten().map(|r| r.events).sum();
    eprintln!(
        "simulated {} run(s), {} events, in {:.3}s",
        per_policy.iter().map(Vec::len).sum::<usize>(),
        events,
        elapsed.as_secs_f64()
    );
    // The chart shows the first seed.
    let reports: Vec<Report> = per_policy
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    if !args.no_chart {
        let title = format!("redial simulate: {}", describe_short(args));
        chart::draw(&args.chart, &title, &scenario, &reports)
            .map_err(|e| format!("chart {}: {e}", args.chart.display()))?;
        println!("\nchart: {}", args.chart.display());
    }
    Ok(())
}

/// An item of `--compare` (`NAME[@BUDGET]…`): its label, its policy and who holds its
/// budget.
fn run_named(item: &str, args: &SimulateArgs) -> Result<(String, Policy, BudgetScope), String> {
    let mut parts = item.split('@');
    let name = parts.next().unwrap_or_default();
    let mut policy = policy_named(name)?;
    let mut kind = args.budget;
    let mut config = None;
    for part in parts {
        match part {
            "off" => kind = BudgetKind::Off,
            "per-client" => kind = BudgetKind::PerClient,
            "redis" => kind = BudgetKind::Redis,
            "shared" => kind = BudgetKind::Shared,
            "aws" => config = Some(BudgetConfig::aws()),
            "adaptive" => config = Some(BudgetConfig::adaptive()),
            other => {
                return Err(format!(
                    "--compare: unknown budget {other:?} in {item:?} (expected one of off, aws, \
                     adaptive, per-client, redis, shared)"
                ))
            }
        }
    }
    if kind == BudgetKind::Off || config.is_some() {
        let b = policy.to_builder();
        let b = match config {
            Some(c) if kind != BudgetKind::Off => b.budget(c),
            _ => b.no_budget(),
        };
        policy = b.build().map_err(|e| format!("{item}: {e}"))?;
    }
    Ok((item.to_owned(), policy, scope(args, kind)))
}

/// Turns a name from `--compare` into a policy: the one place that does.
///
/// A name ending in `.toml` or `.json` is a policy file; anything else is a preset.
pub fn policy_named(name: &str) -> Result<Policy, String> {
    if name.ends_with(".toml") || name.ends_with(".json") {
        return Policy::from_path(name).map_err(|e| format!("--compare: {e}"));
    }
    name.parse::<Preset>().map(Policy::preset).map_err(|_| {
        format!(
            "--compare: unknown policy {name:?} (expected a policy file ending in .toml or \
             .json, or one of {})",
            Preset::ALL.map(|p| p.name()).join(", ")
        )
    })
}

/// The flag that sets a scenario field, so that an error names what the user typed.
fn flag_for<'a>(args: &SimulateArgs, field: &'a str) -> &'a str {
    match field {
        "incidents.outage.status" | "incidents.brownout.status" if args.failure.is_some() => {
            "--failure"
        }
        "timeout" => "--timeout",
        "server.shed_status" => "--shed-status",
        "clients" => "--clients",
        "duration" => "--duration",
        "arrivals.rate" => "--rate",
        "bucket" => "--bucket",
        "server.capacity" => "--capacity",
        "server.concurrency" => "--concurrency",
        "incidents.outage.status" => "--outage-status",
        "incidents.brownout.status" => "--brownout-status",
        "incidents.brownout.fail_fraction" => "--fail-fraction",
        "incidents.overload.capacity_factor" => "--capacity-left",
        "incidents.ratelimit.window" => "--window",
        "incidents.leaky-bucket.rate" => "--limit-rate",
        "incidents.acceleration.floor" => "--floor",
        "incidents.acceleration.slope" => "--slope",
        "budget.sync" => "--sync",
        other => other,
    }
}

/// The scenario the flags describe. Validation is the library's: it names the field, and
/// [`flag_for`] the flag.
fn scenario(args: &SimulateArgs) -> Scenario {
    let kind = match args.scenario {
        ScenarioKind::Outage => IncidentKind::Outage {
            failure: args.failure.unwrap_or(Failure::Status(args.outage_status)),
        },
        ScenarioKind::Brownout => IncidentKind::Brownout {
            fail_fraction: args.fail_fraction,
            failure: args
                .failure
                .unwrap_or(Failure::Status(args.brownout_status)),
        },
        ScenarioKind::Ratelimit => IncidentKind::RateLimit {
            limit: args.limit,
            window: args.window,
            header: match args.hint_header {
                HeaderKind::RetryAfter => HintHeader::RetryAfter,
                HeaderKind::Ratelimit => HintHeader::RateLimit,
                HeaderKind::None => HintHeader::None,
            },
        },
        ScenarioKind::Overload => IncidentKind::Overload {
            capacity_factor: args.capacity_left,
        },
        ScenarioKind::LeakyBucket => IncidentKind::LeakyBucket {
            rate: args.limit_rate,
            burst: args.burst,
        },
        ScenarioKind::Acceleration => IncidentKind::Acceleration {
            floor: args.floor,
            slope: args.slope,
        },
    };
    let mut s = Scenario::healthy();
    s.clients = args.clients;
    s.arrivals = match args.arrivals {
        ArrivalKind::Poisson => Arrivals::Poisson { rate: args.rate },
        ArrivalKind::Fixed => Arrivals::Fixed { rate: args.rate },
    };
    s.duration = args.duration;
    s.server = ServerModel::new(args.capacity, args.concurrency, args.queue);
    s.server.shed_status = args.shed_status;
    s.incidents = vec![Incident::new(args.incident_at, args.incident_for, kind)];
    s.request = RequestFacts::idempotent(args.method == MethodKind::Get);
    s.rtt = args.rtt;
    s.timeout = args.timeout;
    s.bucket = args.bucket;
    s.budget = scope(args, args.budget);
    s.seed = args.seed;
    s.pacer = args.pacer.then(PacerConfig::default);
    s
}

/// Who holds the budgets, for `--budget` (or an item's `@…`).
fn scope(args: &SimulateArgs, kind: BudgetKind) -> BudgetScope {
    match kind {
        BudgetKind::PerClient | BudgetKind::Off => BudgetScope::PerClient,
        BudgetKind::Redis => BudgetScope::Redis { sync: args.sync },
        BudgetKind::Shared => BudgetScope::Shared,
    }
}

fn human(d: Duration) -> String {
    redial::duration::Exact(d).to_string()
}

/// One line for a chart title.
fn describe_short(args: &SimulateArgs) -> String {
    let name = args
        .scenario
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    format!(
        "{name} from {} for {}, {} clients, {} calls/s, server {} req/s",
        human(args.incident_at),
        human(args.incident_for),
        args.clients,
        args.rate,
        args.capacity
    )
}

/// How requests fail, after "every request" (`many` false) or "50% of requests".
fn fails_with(failure: Failure, timeout: Duration, many: bool) -> String {
    let (gets, is, fail) = if many {
        ("get", "are", "fail")
    } else {
        ("gets", "is", "fails")
    };
    match failure {
        Failure::Status(code) if many => format!("fail with {code}"),
        Failure::Status(code) => format!("gets {code}"),
        Failure::Refused => format!("{is} refused (a connect failure, at once)"),
        Failure::Timeout => format!(
            "{gets} no answer (the client times out after {})",
            human(timeout)
        ),
        Failure::Throttled { wait_ms } => format!(
            "{gets} 429 saying to wait {}",
            human(Duration::from_millis(u64::from(wait_ms)))
        ),
        other => format!("{fail} with {other}"),
    }
}

/// What was simulated, in a sentence or two above the table.
fn describe(args: &SimulateArgs, s: &Scenario) -> String {
    let incident = match s.incidents.first().map(|i| i.kind) {
        Some(IncidentKind::Outage { failure }) => {
            format!("every request {}", fails_with(failure, s.timeout, false))
        }
        Some(IncidentKind::Brownout {
            fail_fraction,
            failure,
        }) => format!(
            "{:.0}% of requests {}",
            fail_fraction * 100.0,
            fails_with(failure, s.timeout, true)
        ),
        Some(IncidentKind::RateLimit {
            limit,
            window,
            header,
        }) => format!(
            "quota of {limit} requests per {} window, 429 with {}",
            human(window),
            header.name()
        ),
        Some(IncidentKind::Overload { capacity_factor }) => format!(
            "the server keeps {:.0}% of its capacity and sheds with {}",
            capacity_factor * 100.0,
            s.server.shed_status
        ),
        Some(IncidentKind::LeakyBucket { rate, burst }) => format!(
            "a leaky bucket of {rate} requests/s with a burst of {burst}, 429 with retry-after: 1"
        ),
        Some(IncidentKind::Acceleration { floor, slope }) => format!(
            "an acceleration limit ({floor} requests/s, rising by at most {slope} each second), 429 with retry-after: 1 and a quota far from spent"
        ),
        _ => "nothing".to_owned(),
    };
    let budget = match args.budget {
        BudgetKind::Shared => "one budget object for the fleet".to_owned(),
        BudgetKind::PerClient => "a budget per client".to_owned(),
        BudgetKind::Redis => format!(
            "a budget per client, shared through Redis every {}",
            human(args.sync)
        ),
        BudgetKind::Off => "no budget".to_owned(),
    };
    let arrivals = match args.arrivals {
        ArrivalKind::Poisson => "Poisson",
        ArrivalKind::Fixed => "fixed",
    };
    let method = match args.method {
        MethodKind::Get => "idempotent",
        MethodKind::Post => "non-idempotent",
    };
    let seeds = match &args.seeds {
        Some(r) => format!("seeds {}-{}", r.start(), r.end()),
        None => format!("seed {}", s.seed),
    };
    format!(
        "{} clients start {} calls/s ({arrivals}) for {}, {method} requests, {budget}, {seeds}.\n\
         Server: {} req/s, {} workers, queue {}. From {} for {}: {incident}.",
        s.clients,
        args.rate,
        human(s.duration),
        s.server.capacity,
        s.server.concurrency,
        s.server.queue,
        human(args.incident_at),
        human(args.incident_for),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn parse(argv: &[&str]) -> SimulateArgs {
        Cli::try_parse_from([&["simulate"], argv].concat())
            .map(|c| c.args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn flags_become_a_scenario() {
        let args = parse(&[
            "--scenario",
            "ratelimit",
            "--clients",
            "10",
            "--duration",
            "90s",
            "--limit",
            "7",
            "--hint-header",
            "ratelimit",
            "--method",
            "post",
            "--compare",
            "default,aws-standard",
        ]);
        assert_eq!(args.compare, ["default", "aws-standard"]);
        let s = scenario(&args);
        assert_eq!(s.clients, 10);
        assert_eq!(s.duration, Duration::from_secs(90));
        assert!(!s.request.is_idempotent());
        assert_eq!(
            s.incidents[0].kind,
            IncidentKind::RateLimit {
                limit: 7,
                window: Duration::from_secs(10),
                header: HintHeader::RateLimit
            }
        );
    }

    #[test]
    fn failure_timeout_and_shed_status_reach_the_scenario() {
        let s = scenario(&parse(&[
            "--failure",
            "refused",
            "--outage-status",
            "502",
            "--timeout",
            "3s",
            "--shed-status",
            "503",
        ]));
        assert_eq!(
            s.incidents[0].kind,
            IncidentKind::Outage {
                failure: Failure::Refused
            }
        );
        assert_eq!(s.timeout, Duration::from_secs(3));
        assert_eq!(s.server.shed_status, 503);
        let s = scenario(&parse(&["--scenario", "brownout", "--failure", "timeout"]));
        assert_eq!(
            s.incidents[0].kind,
            IncidentKind::Brownout {
                fail_fraction: 0.5,
                failure: Failure::Timeout
            }
        );
        // Without --failure, the scenario's own status.
        let s = scenario(&parse(&[
            "--scenario",
            "brownout",
            "--brownout-status",
            "504",
        ]));
        assert_eq!(
            s.incidents[0].kind,
            IncidentKind::Brownout {
                fail_fraction: 0.5,
                failure: Failure::Status(504)
            }
        );
        assert_eq!(s.timeout, redial_sim::DEFAULT_TIMEOUT);
        assert_eq!(s.server.shed_status, 529);
        let s = scenario(&parse(&["--scenario", "brownout", "--failure", "429+1s"]));
        assert_eq!(
            s.incidents[0].kind,
            IncidentKind::Brownout {
                fail_fraction: 0.5,
                failure: Failure::Throttled { wait_ms: 1000 }
            }
        );
    }

    #[test]
    fn seeds_are_a_range() {
        assert_eq!(parse_seeds("1-10"), Ok(1..=10));
        assert_eq!(parse_seeds("7-7"), Ok(7..=7));
        for bad in [
            "", "1", "-", "1-", "-3", "3-1", "a-b", "+1-2", "1-2-3", "0-1000",
        ] {
            assert!(parse_seeds(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_seeds("0-999"), Ok(0..=999));
        let max = u64::MAX;
        assert_eq!(parse_seeds(&format!("{max}-{max}")), Ok(max..=max));
    }

    #[test]
    fn names_become_presets_or_a_clear_error() {
        assert!(policy_named("aws-standard").is_ok());
        let err = policy_named("nope").unwrap_err();
        assert!(
            err.contains("default, anthropic, openai, aws-standard"),
            "{err}"
        );
    }

    #[test]
    fn a_small_run_prints_and_draws() {
        let dir = std::env::temp_dir().join(format!("redial-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = dir.join("c.svg");
        let chart_arg = chart.to_str().unwrap();
        let args = parse(&[
            "--clients",
            "20",
            "--rate",
            "20",
            "--duration",
            "40s",
            "--incident-at",
            "10s",
            "--incident-for",
            "10s",
            "--compare",
            "default,anthropic",
            "--chart",
            chart_arg,
        ]);
        assert_eq!(run(args), ExitCode::SUCCESS);
        let svg = std::fs::read_to_string(&chart).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("anthropic"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_invalid_scenario_fails_with_the_flag() {
        let args = parse(&["--clients", "0", "--no-chart"]);
        assert_eq!(
            simulate(&args).unwrap_err(),
            "--clients: must be at least 1, got 0"
        );
        let args = parse(&["--rate", "0", "--no-chart"]);
        assert_eq!(
            simulate(&args).unwrap_err(),
            "--rate: must be a finite number > 0, got 0"
        );
    }
}
