//! Against a real nginx `limit_req` on loopback (issue 18's rig): the rig answers as
//! documented, and today's default policy measured against it as issue 18's table has it
//! (`docs/PACER.md`, "Against a real nginx"). The figures are printed, not bounded: the
//! pacer's bounds are for when it is on. Run with `scripts/test.sh --test nginx -- --nocapture`
//! to see them.

mod nginx_common;
// The redis-server for the fleet's run; the rest of the fleet rig is for other tests. It
// brings its own copy of the process rig, as nginx_common does: two copies, no conflict.
#[cfg(feature = "redis")]
#[allow(clippy::duplicate_mod)]
mod fleet_common;

use std::sync::Barrier;
use std::time::Duration;

use nginx_common::{Figures, Nginx, Policy};
use redial::pacer::PacerConfig;

#[test]
#[ignore = "a worker process of Nginx::measure, which runs it"]
fn nginx_worker() {
    nginx_common::worker();
}

/// One GET: the status, the `Retry-After` header if any, the body.
fn get(agent: &ureq::Agent, url: &str) -> (u16, Option<String>, String) {
    let mut response = agent.get(url).call().expect("nginx answers");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ASCII").to_string());
    let body = response.body_mut().read_to_string().expect("a body");
    (response.status().as_u16(), retry_after, body)
}

#[test]
fn at_1_per_second_without_burst_two_at_once_get_one_200_and_one_429() {
    let nginx = Nginx::start(1.0, 0);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = nginx.url();
    let both = Barrier::new(2);
    let mut answers: Vec<_> = std::thread::scope(|s| {
        let ask = || {
            both.wait();
            get(&agent, &url)
        };
        let (a, b) = (s.spawn(ask), s.spawn(ask));
        [a, b].map(|t| t.join().expect("no panic")).to_vec()
    });
    answers.sort();
    assert_eq!(answers[0], (200, None, "ok\n".to_string()), "{answers:?}");
    let (status, retry_after, _) = &answers[1];
    assert_eq!(
        (*status, retry_after.as_deref()),
        (429, Some("1")),
        "{answers:?}"
    );
    // The excess the 200 added has drained a second later; the 429 added none.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(get(&agent, &url), (200, None, "ok\n".to_string()));
}

/// What holds of any run with the default policy, today and with a pacer: every call
/// ended (the run joined them, none panicked), a 200 ends its call and every served call
/// got one, nginx served no more than its rate and burst allow, and demand far over the
/// limit drew 429s, counted (a pacer learns the rate from them).
fn check(figures: &Figures, nginx: &Nginx) {
    eprintln!("nginx baseline: {figures}");
    let ok: u64 = figures.ok_by_second.iter().sum();
    assert_eq!(ok, figures.served, "{figures:?}");
    assert!(figures.served <= figures.calls, "{figures:?}");
    let answered_for = figures.ok_by_second.len() as f64;
    assert!(
        ok as f64 <= nginx.rate_per_s * answered_for + f64::from(nginx.burst) + 1.0,
        "more 200s than nginx lets through: {figures:?}"
    );
    assert!(figures.throttled() > 0, "{figures:?}");
    assert_eq!(figures.other, 0, "only 200s and 429s: {figures:?}");
}

/// One measurement at a time: a run's threads wake on time only on a machine the other
/// runs (16 worker processes among them) do not crowd; a late wake-up reads as the
/// client's pause.
fn measuring() -> std::sync::MutexGuard<'static, ()> {
    static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long each run starts calls for: 4 s, so the file runs in about fifteen seconds
/// (two runs at a time, each against its own nginx); `NGINX_BASELINE_SECONDS` sets another (issue
/// 18's runs are 120 s).
fn seconds() -> u32 {
    std::env::var("NGINX_BASELINE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4)
}

/// One row of issue 18's table: today's default policy, `processes` sharing
/// `demand_per_s` against `limit_req rate=10r/s` with `burst`.
fn baseline(processes: usize, demand_per_s: u32, burst: u32) {
    let _alone = measuring();
    let nginx = Nginx::start(10.0, burst);
    let figures = nginx.measure(
        processes,
        f64::from(demand_per_s),
        seconds(),
        &Policy::default(),
    );
    assert_eq!(figures.calls, u64::from(demand_per_s * seconds()));
    check(&figures, &nginx);
}

#[test]
fn baseline_one_process_demand_3x_the_limit() {
    baseline(1, 30, 10);
}

#[test]
fn baseline_4_processes_demand_4x_the_limit() {
    baseline(4, 40, 20);
}

#[test]
fn baseline_16_processes_demand_4x_the_limit() {
    baseline(16, 40, 20);
}

/// Issue 18, one process: with the pacer on, demand 3× what `limit_req` allows draws at
/// most 0.1 429 per served call, the server is kept at 90 % of its limit or more, and no
/// call takes longer than its deadline (the pacer stops a call whose slot would come
/// after it, or after `max_wait`, with `rate_limited`). The deadline is longer than
/// `max_wait` (10 s) here; with one shorter (8 s), 88 % of the limit was served.
#[test]
fn paced_one_process_demand_3x_the_limit() {
    let deadline = Duration::from_secs(15);
    let policy = Policy::builder()
        .pace(PacerConfig::default())
        .max_elapsed(deadline)
        .build()
        .expect("a valid policy");
    paced_one(&policy, deadline);
}

/// The presets' own pacer is not engaged by nginx's 429s: they say `Retry-After: 1` and
/// state no quota, as a brown-out's 429s may (PACER.md, "Engaged by a stated quota"), so
/// the presets send as a policy with no pacer would: the pacer never listens, and no call
/// waits for it. A `[rate]` table paces nginx (above).
#[test]
fn the_presets_pacer_is_not_engaged_by_nginxs_bare_retry_after() {
    let _alone = measuring();
    let nginx = Nginx::start(10.0, 10);
    let policy = Policy::default();
    assert_eq!(
        policy.pacer().map(|p| p.config().engage),
        Some(redial::pacer::Engage::Quota)
    );
    let figures = nginx.measure(1, 30.0, seconds(), &policy);
    eprintln!("nginx, the presets' pacer: {figures}");
    check(&figures, &nginx);
    assert!(figures.throttled() > 0, "nginx throttled: {figures:?}");
    let pacer = policy.pacer().expect("every preset paces");
    assert!(!pacer.listens() && !pacer.is_active(), "{figures:?}");
}

/// One process, demand 3× the limit: 429s per served call over the whole run.
fn paced_one(policy: &Policy, deadline: Duration) {
    let _alone = measuring();
    let nginx = Nginx::start(10.0, 10);
    let seconds = seconds().max(20);
    let figures = nginx.measure(1, 30.0, seconds, policy);
    eprintln!("nginx paced (a [rate] table): {figures}");
    check(&figures, &nginx);
    let per_served = figures.throttled_per_served();
    assert!(
        per_served <= 0.1,
        "429s per served call {per_served:.3}: {figures:?}"
    );
    let share = figures.share_of_limit_from(figures.steady_from());
    assert!(share >= 0.9, "served {share:.2} of the limit: {figures:?}");
    // A call's last attempt may start just before the deadline and take a moment.
    assert!(
        figures.slowest <= deadline + Duration::from_millis(500),
        "slowest call {:?}: {figures:?}",
        figures.slowest
    );
}

/// Issue 18's fleet rows measured with one pacer per process and nothing shared (the
/// fleet-shared rate is not built yet): printed, not bounded. A measurement, not a check:
/// `scripts/test.sh --test nginx -- --ignored --nocapture paced_fleet`.
#[test]
#[ignore = "a measurement (docs/PACER.md): run it with --ignored"]
fn paced_fleet_of_4_and_16_processes_each_alone() {
    let _alone = measuring();
    let policy = Policy::builder()
        .pace(PacerConfig::default())
        .max_elapsed(Duration::from_secs(15))
        .build()
        .expect("a valid policy");
    for processes in [4, 16] {
        let nginx = Nginx::start(10.0, 20);
        let figures = nginx.measure(processes, 40.0, seconds().max(20), &policy);
        eprintln!("nginx paced, each process alone: {figures}");
        check(&figures, &nginx);
    }
}

/// Issue 18, the fleet: 4 and 16 processes on one fleet key (a real redis-server), 40
/// calls a second in all against `limit_req rate=10r/s burst=20`, each process with the
/// pacer on. Together they learn one rate and each paces to its share: at most 0.2 429s
/// per served call, and the server kept at 90 % of its limit or more, over the steady
/// part of a 60 s run (the design leaves out the first 20 s of 120: the first sixth,
/// where the burst is spent and the fleet learns the rate; the whole run is printed).
/// Sixty seconds, not the design's 120, to keep CI short; long enough that one probe of
/// the rate weighs little (30 s runs measured 93–99 % of the limit for 16 processes).
#[cfg(feature = "redis")]
#[test]
fn paced_fleet_of_4_and_16_processes_on_one_key() {
    let _alone = measuring();
    let redis = fleet_common::RedisServer::start();
    let deadline = Duration::from_secs(15);
    // `NGINX_FLEET=16` runs one size alone.
    let only: Option<usize> = std::env::var("NGINX_FLEET")
        .ok()
        .and_then(|s| s.parse().ok());
    for (processes, key) in [(4, "nginx-4"), (16, "nginx-16")] {
        if only.is_some_and(|n| n != processes) {
            continue;
        }
        let policy = Policy::builder()
            .pace(PacerConfig::default())
            .max_elapsed(deadline)
            .fleet(redial::fleet::FleetConfig::new(redis.url(), key))
            .build()
            .expect("a valid policy");
        let nginx = Nginx::start(10.0, 20);
        let figures = nginx.measure(processes, 40.0, seconds().max(60), &policy);
        eprintln!("nginx paced, one fleet key: {figures}");
        check(&figures, &nginx);
        let steady = figures.steady_from();
        let per_served = figures.throttled_per_served_from(steady);
        assert!(
            per_served <= 0.2,
            "{processes} processes: 429s per served call {per_served:.3}: {figures:?}"
        );
        let share = figures.share_of_limit_from(steady);
        assert!(
            share >= 0.9,
            "{processes} processes: served {share:.2} of the limit: {figures:?}"
        );
        assert!(
            figures.slowest <= deadline + Duration::from_millis(500),
            "{processes} processes: slowest call {:?}: {figures:?}",
            figures.slowest
        );
    }
}
