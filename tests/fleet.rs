//! Fleet-shared state against a real `redis-server` (started by each test on a free
//! loopback port): processes that name one key share the gate and the counters; two keys
//! never do; Redis killed, paused, slowed or flushed mid-run never blocks a call, is told
//! once, and the exchange resumes by itself.

#![cfg(feature = "redis")]

mod common;
mod fleet_common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::server::{Canned, Server};
use fleet_common::{env, eventually, finish_worker, spawn_worker, RedisServer, Tally, WORKER};
use redial::fleet::{Fleet, FleetConfig, FleetEvent};
use redial::gate::{Admission, GateConfig};
use redial::ureq::KeepStatus;
use redial::{BlockingRetryable, Policy, StopReason};

const SYNC: Duration = Duration::from_millis(50);

/// A fleet on `server` for `key`, syncing every 50 ms, with a stand-in budget, recording
/// what it tells the hook.
fn join(server: &RedisServer, key: &str) -> (Fleet, Arc<Tally>, Arc<Mutex<Vec<String>>>) {
    join_with(server, key, SYNC, Tally::new())
}

/// A fleet on `server` for `key`, syncing every `sync`, sharing `tally`, recording what it
/// tells the hook.
fn join_with(
    server: &RedisServer,
    key: &str,
    sync: Duration,
    tally: Tally,
) -> (Fleet, Arc<Tally>, Arc<Mutex<Vec<String>>>) {
    let (fleet, events) = connect(FleetConfig::new(server.url(), key).sync(sync));
    let tally = Arc::new(tally);
    fleet.share(tally.clone());
    (fleet, tally, events)
}

/// Connects `config`, recording what the exchange tells the hook.
fn connect(config: FleetConfig) -> (Fleet, Arc<Mutex<Vec<String>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let fleet = config
        .on_event(move |e| {
            let kind = match e {
                FleetEvent::Unreachable { .. } => "unreachable",
                FleetEvent::Resumed { .. } => "resumed",
                _ => "other",
            };
            seen.lock().expect("not poisoned").push(kind.to_string());
        })
        .connect()
        .expect("a valid fleet");
    (fleet, events)
}

fn told(e: &Mutex<Vec<String>>) -> Vec<String> {
    e.lock().expect("not poisoned").clone()
}

const LONG: Duration = Duration::from_secs(10);

/// The worker of `processes_sharing_a_key_share_state`: joins `FLEET_KEY`, adds
/// `FLEET_ADD` to counter 0, learns a reset if `FLEET_LEARN_MS` is set, then waits until
/// its view holds `FLEET_TOTAL` and, if `FLEET_RESET` is set, the fleet's reset; prints
/// what it saw.
#[test]
#[ignore = "a worker process of processes_sharing_a_key_share_state"]
fn sharing_worker() {
    if std::env::var(WORKER).is_err() {
        return;
    }
    let server_url = env("FLEET_URL");
    let fleet = Fleet::connect(&server_url, &env("FLEET_KEY"), SYNC).expect("valid");
    let tally = Arc::new(Tally::new());
    fleet.share(tally.clone());
    let add: u64 = env("FLEET_ADD").parse().expect("a number");
    tally.add(0, add);
    if let Ok(ms) = std::env::var("FLEET_LEARN_MS") {
        let ms: u64 = ms.parse().expect("a number");
        fleet
            .gate()
            .learn(Duration::from_millis(ms), SystemTime::now());
    }
    let total: u64 = env("FLEET_TOTAL").parse().expect("a number");
    let want_reset = std::env::var("FLEET_RESET").is_ok();
    let mut over = false;
    let met = eventually(LONG, || {
        let seen = tally.view().map_or(0, |v| v[0]);
        over |= seen > total;
        seen == total && fleet.gate().reset().is_some() == want_reset
    });
    // Stay a few syncs longer: the total must not grow past the fleet's.
    std::thread::sleep(SYNC * 4);
    let seen = tally.view().map_or(0, |v| v[0]);
    println!(
        "result total={seen} reset={} over={over}",
        fleet.gate().reset_ms()
    );
    assert!(met && !over && seen == total, "saw {seen}, wanted {total}");
}

#[test]
fn processes_sharing_a_key_share_state() {
    let server = RedisServer::start();
    let url = server.url();
    // Three processes on key "svc" (one of them learns a reset), one on "other".
    let svc = |add: u64, learn: bool| {
        let mut env = vec![
            ("FLEET_URL", url.clone()),
            ("FLEET_KEY", "svc".to_string()),
            ("FLEET_ADD", add.to_string()),
            ("FLEET_TOTAL", "111".to_string()),
            ("FLEET_RESET", "1".to_string()),
        ];
        if learn {
            env.push(("FLEET_LEARN_MS", "20000".to_string()));
        }
        spawn_worker("sharing_worker", &env)
    };
    let workers = vec![
        svc(1, true),
        svc(10, false),
        svc(100, false),
        spawn_worker(
            "sharing_worker",
            &[
                ("FLEET_URL", url.clone()),
                ("FLEET_KEY", "other".to_string()),
                ("FLEET_ADD", "5".to_string()),
                ("FLEET_TOTAL", "5".to_string()),
            ],
        ),
    ];
    let results: Vec<String> = workers
        .into_iter()
        .flat_map(|w| finish_worker(w, Duration::from_secs(30)))
        .collect();
    assert_eq!(results.len(), 4, "{results:?}");
    // The three on "svc" saw one reset, the same instant.
    let resets: Vec<&str> = results[..3]
        .iter()
        .map(|r| {
            r.split(" reset=")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .unwrap_or("")
        })
        .collect();
    assert!(
        resets.iter().all(|r| *r == resets[0] && *r != "0"),
        "{results:?}"
    );
    assert!(results[3].contains("reset=0"), "{results:?}");
}

#[test]
fn two_keys_do_not_interfere() {
    let server = RedisServer::start();
    let (a, ta, _) = join(&server, "tenant-a");
    let (b, tb, _) = join(&server, "tenant-b");
    let (a2, ta2, _) = join(&server, "tenant-a");
    ta.add(0, 7);
    ta2.add(1, 3);
    tb.add(0, 1000);
    a.gate().learn(Duration::from_secs(30), SystemTime::now());
    assert!(eventually(LONG, || ta.view() == Some([7, 3])
        && ta2.view() == Some([7, 3])
        && tb.view() == Some([1000, 0])
        && a2.gate().reset().is_some()));
    std::thread::sleep(SYNC * 4);
    assert_eq!(tb.view(), Some([1000, 0]));
    assert_eq!(
        b.gate().reset(),
        None,
        "tenant-b holds nothing for tenant-a's quota"
    );
    let mut rng = redial::Rng::with_seed(1);
    assert_eq!(
        b.gate().admit(SystemTime::now(), None, &mut rng),
        Admission::Go
    );
    assert!(!a2.gate().admit(SystemTime::now(), None, &mut rng).is_go());
}

/// The sync interval of the never-blocks tests. It is also each round trip's timeout, so
/// while Redis is slowed or stopped every round trip takes this long: a call that waited
/// on one would take about this long, well past [`CALL_BOUND`].
const SLOW_SYNC: Duration = Duration::from_secs(3);

/// What one call may take at most, under load: three attempts on loopback, waits of a few
/// milliseconds (backoff), 20 ms (the 429's hint) and the gate's hold after it (at most
/// twice that). A third of [`SLOW_SYNC`].
const CALL_BOUND: Duration = Duration::from_secs(1);

/// A server that answers, over and over: a 429 asking 20 ms (the gate learns a reset),
/// a 200, two 503s (the budget decides their retries), a 200.
async fn limited_and_busy_server() -> Server {
    Server::repeating(vec![
        Canned::new(429).header("retry-after-ms", "20"),
        Canned::new(200),
        Canned::new(503),
        Canned::new(503),
        Canned::new(200),
    ])
    .await
}

/// The policy of the never-blocks tests, in `fleet`: three attempts, backoff of 1 to 5 ms,
/// and the presets' rate pacer, which the server's 429s never engage: they state no quota
/// and say to wait 20 ms, as a brown-out's may. (Engaged by any hint, it was cut at every
/// fifth answer and a call once waited 1.5 s for its slot: the server's pacing, not
/// Redis, which this bound is for.) A pacer with Redis slow or gone is
/// `tests/fleet_pacer.rs`'s.
fn fast_policy_in(fleet: &Fleet) -> Policy {
    Policy::builder()
        .max_attempts(3)
        .base(Duration::from_millis(1))
        .cap(Duration::from_millis(5))
        .build()
        .expect("valid")
        .with_fleet(fleet)
}

/// What the calls made while `during` ran did.
#[derive(Debug, Default)]
struct Calls {
    made: u64,
    /// Attempts in all, the retries included.
    attempts: u64,
    /// Calls stopped by the budget.
    budget_stops: u64,
    longest: Duration,
}

/// Real retried calls, one after another on a thread of their own, while `during` runs:
/// GETs to `url` through ureq and the blocking adapter under `policy` (the gate holds
/// their first attempts and learns from the 429s, the budget decides the 503s' retries),
/// each one timed.
fn real_calls_meanwhile(policy: &Policy, url: &str, during: impl FnOnce()) -> Calls {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let agent = ureq::Agent::new_with_defaults();
            let mut calls = Calls::default();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut retries = 0;
                let result = (|| agent.get(url).keep_status().call())
                    .retry(policy)
                    .notify(|_| retries += 1)
                    .call();
                calls.longest = calls.longest.max(t.elapsed());
                calls.made += 1;
                calls.attempts += 1 + retries;
                if let Err(e) = result {
                    assert_eq!(u64::from(e.attempts()), 1 + retries, "{e}");
                    if e.reason() == StopReason::BudgetExhausted {
                        calls.budget_stops += 1;
                    }
                }
            }
            calls
        });
        during();
        stop.store(true, Ordering::Relaxed);
        worker.join().expect("the caller thread")
    })
}

/// Runs `outage` (which makes Redis slow or unreachable, then brings it back) while real
/// calls go on through a policy in a fleet on `server`: not one call waits on Redis.
fn calls_never_wait_on_redis(server: &RedisServer, outage: impl FnOnce(&Fleet)) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let http = runtime.block_on(limited_and_busy_server());
    let (fleet, events) = connect(FleetConfig::new(server.url(), "svc").sync(SLOW_SYNC));
    assert!(eventually(LONG, || fleet.status().connected));
    let policy = fast_policy_in(&fleet);
    let calls = real_calls_meanwhile(&policy, &http.url("/"), || outage(&fleet));
    assert!(
        calls.longest < CALL_BOUND,
        "a call waited {:?} ({calls:?})",
        calls.longest
    );
    assert!(calls.made > 20, "calls went on meanwhile ({calls:?})");
    // They were retried calls: the 429s taught the gate, the 503s went to the budget.
    assert!(calls.attempts > calls.made, "{calls:?}");
    assert_eq!(http.hits() as u64, calls.attempts, "{calls:?}");
    assert!(fleet.gate().reset().is_some(), "the gate learned the 429s");
    assert_eq!(told(&events), ["unreachable", "resumed"]);
}

#[test]
fn slow_redis_debug_sleep_never_blocks_calls() {
    let server = RedisServer::start();
    calls_never_wait_on_redis(&server, |fleet| {
        // Redis answers nothing for five seconds: every round trip meanwhile waits its
        // whole timeout, a sync interval, and fails.
        let _asleep = server.send(&["DEBUG", "SLEEP", "5"]);
        assert!(eventually(LONG, || !fleet.status().connected));
        assert!(eventually(LONG, || fleet.status().connected));
    });
}

#[test]
fn stopped_redis_sigstop_never_blocks_calls() {
    let server = RedisServer::start();
    calls_never_wait_on_redis(&server, |fleet| {
        // A stopped Redis still accepts connections (the kernel does) and never answers.
        server.signal("STOP");
        assert!(eventually(LONG, || !fleet.status().connected));
        // And the next round trip times out too.
        let failures = fleet.status().failures;
        assert!(eventually(LONG, || fleet.status().failures > failures));
        server.signal("CONT");
        assert!(eventually(LONG, || fleet.status().connected));
    });
}

#[test]
fn dropping_the_fleet_while_redis_is_stopped_does_not_wait() {
    let server = RedisServer::start();
    let (fleet, _, _) = join(&server, "svc");
    assert!(eventually(LONG, || fleet.status().connected));
    server.signal("STOP");
    // Mid round trip, most likely: the exchange's thread is stuck in it, the caller not.
    std::thread::sleep(SYNC * 2);
    let t = Instant::now();
    drop(fleet);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    server.signal("CONT");
}

#[test]
fn redis_killed_mid_run_then_restarted_resumes_with_the_counts_made_meanwhile() {
    let mut server = RedisServer::start();
    let (fleet, tally, events) = join(&server, "svc");
    assert!(eventually(LONG, || fleet.status().connected));
    fleet
        .gate()
        .learn(Duration::from_secs(30), SystemTime::now());
    let reset = fleet.gate().reset_ms();

    server.kill();
    assert!(eventually(LONG, || !fleet.status().connected));
    // Counts made while Redis is down, on every counter; many failed syncs go by, and one
    // word about it.
    tally.add(0, 7);
    tally.add(1, 4);
    let failures = fleet.status().failures;
    assert!(eventually(LONG, || fleet.status().failures >= failures + 5));
    assert_eq!(told(&events), ["unreachable"]);
    assert!(tally.fallbacks.load(Ordering::Relaxed) >= 1);
    assert_eq!(tally.view(), None, "decisions fell back to local state");
    assert_eq!(fleet.gate().reset_ms(), reset, "the learned reset is kept");

    // Back, empty, on the same port: the exchange resumes by itself, and the process
    // shares its reset and what it counted meanwhile, each count once.
    server.restart();
    assert!(eventually(LONG, || fleet.status().connected));
    assert!(eventually(LONG, || told(&events) == ["unreachable", "resumed"]));
    assert!(eventually(LONG, || tally.view() == Some([7, 4])));
    let syncs = fleet.status().syncs;
    assert!(eventually(LONG, || fleet.status().syncs >= syncs + 4));
    assert_eq!(tally.view(), Some([7, 4]), "sent once, not at every sync");
    let (newcomer, seen, _) = join(&server, "svc");
    assert!(eventually(LONG, || newcomer.gate().reset_ms() == reset
        && seen.view() == Some([7, 4])));
}

#[test]
fn the_fleet_view_is_fresh_for_the_configured_number_of_syncs() {
    let server = RedisServer::start();
    let (_fleet, tally, _) = join(&server, "svc");
    assert!(eventually(LONG, || tally.views().len() >= 2));
    let fresh = SYNC * FleetConfig::VIEW_FRESH_SYNCS;
    assert!(
        tally.views().iter().all(|v| v.fresh_for == fresh),
        "{:?}",
        tally.views()
    );
}

#[test]
fn counts_leave_the_fleet_view_once_older_than_the_window() {
    // Buckets of 200 ms, the view sums the latest 3: a count is in the view from the sync
    // that sends it until its bucket is three buckets old.
    let (bucket, window) = (Duration::from_millis(200), 3);
    let server = RedisServer::start();
    let (fleet, tally, _) = join_with(&server, "svc", SYNC, Tally::windowed(bucket, window));
    assert!(eventually(LONG, || fleet.status().connected));
    tally.add(0, 5);
    tally.add(1, 2);
    assert!(eventually(LONG, || tally.view() == Some([5, 2])));
    assert!(eventually(LONG, || tally.view() == Some([0, 0])));
    // The views, by the instant each sync read them (not when this thread looked): the
    // count was in every view from the first that held it to the last, over at least
    // (window − 1) buckets and less than window buckets, and in none after.
    let views = tally.views();
    let first = views
        .iter()
        .position(|v| v.totals == [5, 2])
        .expect("a view with the counts");
    let gone = first
        + views[first..]
            .iter()
            .position(|v| v.totals == [0, 0])
            .expect("a view without them");
    assert!(views[first..gone].iter().all(|v| v.totals == [5, 2]));
    let last = views[gone - 1].at;
    let (first, gone) = (views[first].at, views[gone].at);
    let held = last.duration_since(first);
    assert!(held < bucket * window, "held {held:?}: {views:?}");
    assert!(
        gone.duration_since(first) > bucket * (window - 1),
        "gone after {:?}: {views:?}",
        gone.duration_since(first)
    );
}

#[test]
fn every_key_expires() {
    let (bucket, window) = (Duration::from_millis(100), 3);
    let server = RedisServer::start();
    let (fleet, tally, _) = join_with(&server, "svc", SYNC, Tally::windowed(bucket, window));
    tally.add(0, 1);
    fleet
        .gate()
        .learn(Duration::from_secs(2), SystemTime::now());
    assert!(eventually(LONG, || tally.view() == Some([1, 0])
        && server.key_count() >= 2));
    // The gate lives until its reset and ramp are over, plus a minute; a counter bucket
    // as long as the window that sums it, and one more bucket.
    let gate_ttl = server.int(&["PTTL", "redial:{svc}:gate"]);
    assert!(
        (60_000..=2_000 + 2_000 + 60_000).contains(&gate_ttl),
        "gate PTTL {gate_ttl}"
    );
    // One bucket per sync that sent counts, here one or two.
    let buckets = server.keys("redial:{svc}:n:*");
    assert!(!buckets.is_empty(), "counter buckets in Redis");
    let most = (bucket * (window + 1)).as_millis() as i64;
    for b in &buckets {
        let ttl = server.int(&["PTTL", b]);
        assert!(ttl > 0 && ttl <= most, "{b} PTTL {ttl}");
    }
    drop(fleet);
    // With the fleet gone, the buckets expire by themselves, and the gate is all that is
    // left (for its minute).
    assert!(eventually(LONG, || server
        .keys("redial:{svc}:n:*")
        .is_empty()));
    assert_eq!(server.keys("*"), ["redial:{svc}:gate"]);
}

#[test]
fn a_reset_in_redis_further_than_max_hold_is_held_max_hold() {
    // Garbage in Redis (or a process with another max_hold) cannot park the fleet: a reset
    // a day ahead is held for max_hold (5 s) at most, its ramp for the longest ramp.
    let server = RedisServer::start();
    let now_ms = || {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as u64
    };
    let day = now_ms() + 86_400_000;
    let reply = server.cmd(&[
        "HSET",
        "redial:{svc}:gate",
        "r",
        &day.to_string(),
        "p",
        "3600000",
    ]);
    assert_eq!(reply, ":2");
    let (max_hold, ramp) = (Duration::from_secs(5), Duration::from_secs(2));
    let before = now_ms();
    let (fleet, _) = connect(
        FleetConfig::new(server.url(), "svc")
            .sync(SYNC)
            .gate(GateConfig::new(ramp, max_hold)),
    );
    assert!(eventually(LONG, || fleet.gate().reset_ms() != 0));
    let after = now_ms();
    let reset = fleet.gate().reset_ms();
    assert!(
        reset >= before + 5_000 && reset <= after + 5_000,
        "held until {reset}, {}ms from now",
        reset.saturating_sub(after)
    );
    assert_eq!(fleet.gate().ramp_ms(), 2_000);
}

#[test]
fn flushed_redis_is_refilled() {
    let server = RedisServer::start();
    let (a, ta, events) = join(&server, "svc");
    let (_b, tb, _) = join(&server, "svc");
    ta.add(0, 5);
    a.gate().learn(Duration::from_secs(30), SystemTime::now());
    assert!(eventually(LONG, || tb.view() == Some([5, 0])));
    assert!(server.key_count() >= 2);

    assert_eq!(server.cmd(&["FLUSHALL"]), "+OK");
    // The counts are gone with the flush; what is counted next is shared again.
    tb.add(0, 2);
    assert!(eventually(LONG, || ta.view() == Some([2, 0])
        && tb.view() == Some([2, 0])));
    // The reset, still ahead, is put back by the process that knows it: a process that
    // joins after the flush learns it.
    let (c, _, _) = join(&server, "svc");
    assert!(eventually(LONG, || c.gate().reset_ms() == a.gate().reset_ms()));
    assert!(told(&events).is_empty(), "a flush is no outage");
}

#[test]
fn unreachable_redis_from_the_start_is_told_once() {
    // A privileged port no test binds (a free port could be taken by another test's
    // Redis meanwhile).
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let fleet = FleetConfig::new("redis://127.0.0.1:1", "svc")
        .sync(SYNC)
        .on_event(move |_| {
            s.fetch_add(1, Ordering::Relaxed);
        })
        .connect()
        .expect("valid");
    assert!(eventually(LONG, || fleet.status().failures >= 5));
    assert_eq!(seen.load(Ordering::Relaxed), 1);
    assert!(!fleet.status().connected);
}

#[test]
fn settings_are_checked_and_errors_name_the_key() {
    let bad = |c: FleetConfig| c.validate().expect_err("invalid").key().to_string();
    let ok = || FleetConfig::new("redis://127.0.0.1:6379", "svc");
    assert!(ok().validate().is_ok());
    assert_eq!(
        bad(FleetConfig::new("redis://127.0.0.1", "a{b}")),
        "fleet.key"
    );
    assert_eq!(
        bad(FleetConfig::new("redis://127.0.0.1", "x".repeat(129))),
        "fleet.key"
    );
    assert_eq!(
        bad(FleetConfig::new("redis://127.0.0.1", "a b")),
        "fleet.key"
    );
    assert_eq!(
        bad(FleetConfig::new("http://127.0.0.1", "svc")),
        "fleet.url"
    );
    assert_eq!(bad(ok().sync(Duration::from_millis(9))), "fleet.sync");
    assert_eq!(bad(ok().sync(Duration::from_secs(61))), "fleet.sync");
    let gate = |ramp, hold| ok().gate(redial::gate::GateConfig::new(ramp, hold));
    assert_eq!(
        bad(gate(Duration::from_secs(601), Duration::from_secs(60))),
        "fleet.ramp"
    );
    assert_eq!(
        bad(gate(Duration::from_secs(1), Duration::ZERO)),
        "fleet.max_hold"
    );
    assert!(gate(Duration::ZERO, Duration::from_secs(3_600))
        .validate()
        .is_ok());
    assert_eq!(
        bad(FleetConfig::new("redis:// 127.0.0.1", "svc")),
        "fleet.url"
    );
    assert_eq!(bad(FleetConfig::new("redis://", "svc")), "fleet.url");
    // A URL that breaks the rule, with a password in it: the message never echoes it.
    let err = FleetConfig::new("redis://:hunter2@ho st", "svc")
        .validate()
        .expect_err("a space breaks the URL rule");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// Retries a call that keeps failing with 503 (the server is overloaded) allows under
/// `policy`, at most 1,000.
fn overloaded_retries(policy: &redial::Policy) -> u32 {
    let busy = redial::Verdict::retryable(redial::Cause::status(503));
    let mut rng = redial::Rng::with_seed(5);
    let mut call = redial::machine::Machine::new(policy, Instant::now());
    let mut retries = 0;
    while retries < 1_000 {
        match call.on_outcome(&busy, Instant::now(), &mut rng) {
            redial::machine::Action::Retry(_) => retries += 1,
            redial::machine::Action::Stop(_) => break,
        }
    }
    retries
}

#[test]
fn a_policy_in_a_fleet_shares_its_budget() {
    // A view is good for two sync intervals from the sync that read it, and the next comes
    // one interval later: with 1 s syncs, B's view goes stale only if its exchange is
    // starved for a whole second (with 50 ms, a loaded machine's 100 ms did it).
    let sync = Duration::from_secs(1);
    let server = RedisServer::start();
    let many = redial::Policy::builder()
        .max_attempts(1_000)
        .build()
        .expect("valid");
    let fleet = |key: &str| Fleet::connect(&server.url(), key, sync).expect("a valid fleet");
    let (a, b, c) = (fleet("svc"), fleet("svc"), fleet("other"));
    let pa = many.to_builder().build().expect("valid").with_fleet(&a);
    let pb = many.to_builder().build().expect("valid").with_fleet(&b);
    let pc = many.to_builder().build().expect("valid").with_fleet(&c);
    // Process A: a thousand calls that succeed at once.
    for _ in 0..1_000 {
        let _ = redial::machine::Machine::new(&pa, Instant::now()).on_success();
    }
    // A sync of A that began after the calls (the second to end from now), then one of
    // B after that.
    let synced = |f: &Fleet| {
        let n = f.status().syncs;
        assert!(eventually(LONG, || f.status().syncs >= n + 2));
    };
    synced(&a);
    synced(&b);
    // B has made no call of its own, but its fleet made a thousand: the budget lets it
    // retry an overloaded server in proportion. C, on another key, has only its own.
    let (with_fleet, alone) = (overloaded_retries(&pb), overloaded_retries(&pc));
    assert!(with_fleet >= 20, "B retried {with_fleet} times");
    assert!(alone <= 3, "C retried {alone} times");
}

#[test]
fn syncs_once_an_interval_once_the_reset_has_passed() {
    // A new reset is shared before the next tick, but a reset already past (here, from
    // another process) must not keep the exchange syncing early.
    let server = RedisServer::start();
    let (a, _, _) = join(&server, "svc");
    let (b, _, _) = join(&server, "svc");
    a.gate()
        .learn(Duration::from_millis(100), SystemTime::now());
    assert!(eventually(LONG, || b.gate().reset().is_some()));
    std::thread::sleep(Duration::from_millis(300));
    let before = b.status().syncs;
    std::thread::sleep(SYNC * 20);
    let syncs = b.status().syncs - before;
    assert!(syncs <= 24, "{syncs} syncs in 20 intervals");
}

#[cfg(feature = "serde")]
#[test]
fn policies_from_a_file_with_a_fleet_table_share_the_gate() {
    let server = RedisServer::start();
    let file = format!(
        "preset = \"openai\"\n\n[fleet]\nurl = \"{}\"\nkey = \"svc\"\nsync = \"50ms\"\n",
        server.url()
    );
    let load = || {
        redial::Policy::from_toml(&file)
            .expect("a valid file")
            .join_fleet()
            .expect("joins")
    };
    let (a, b) = (load(), load());
    let gate = |p: &redial::Policy| p.gate().expect("a gate").clone();
    assert!(!gate(&a).same(&gate(&b)), "two processes' gates");
    gate(&a).learn(Duration::from_secs(30), SystemTime::now());
    assert!(eventually(LONG, || gate(&b).reset_ms() == gate(&a).reset_ms()));
    // A policy that names no fleet joins nothing.
    let alone = redial::Policy::default()
        .join_fleet()
        .expect("nothing to join");
    assert!(alone.gate().is_none());
}
