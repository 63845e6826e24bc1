//! Fleet-shared state against a real `redis-server` (started by each test on a free
//! loopback port): processes that name one key share the gate and the counters; two keys
//! never do; Redis killed, paused, slowed or flushed mid-run never blocks a call, is told
//! once, and the exchange resumes by itself.

#![cfg(feature = "redis")]

mod fleet_common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use fleet_common::{env, eventually, finish_worker, spawn_worker, RedisServer, Tally, WORKER};
use redial::fleet::{Fleet, FleetConfig, FleetEvent};
use redial::gate::Admission;

const SYNC: Duration = Duration::from_millis(50);

/// A fleet on `server` for `key`, syncing every 50 ms, with a stand-in budget, recording
/// what it tells the hook.
fn join(server: &RedisServer, key: &str) -> (Fleet, Arc<Tally>, Arc<Mutex<Vec<String>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let fleet = FleetConfig::new(server.url(), key)
        .sync(SYNC)
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
    let tally = Arc::new(Tally::new());
    fleet.share(tally.clone());
    (fleet, tally, events)
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

/// Calls (here: the gate's decisions and the budget's counting, what a call does before
/// and after each attempt) go on while `during` runs, and each returns at once: the
/// longest one is reported.
fn calls_meanwhile(fleet: &Fleet, tally: &Tally, during: impl FnOnce()) -> (u64, Duration) {
    let stop = Arc::new(AtomicU64::new(0));
    let made = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let mut rng = redial::Rng::with_seed(9);
            let (mut n, mut longest) = (0u64, Duration::ZERO);
            while stop.load(Ordering::Relaxed) == 0 {
                let t = Instant::now();
                let _ = fleet.gate().admit(SystemTime::now(), None, &mut rng);
                tally.add(0, 1);
                let _ = fleet.status();
                longest = longest.max(t.elapsed());
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (n, longest)
        });
        during();
        stop.store(1, Ordering::Relaxed);
        worker.join().expect("the caller thread")
    });
    made
}

#[test]
fn redis_killed_mid_run_then_restarted_resumes() {
    let mut server = RedisServer::start();
    let (fleet, tally, events) = join(&server, "svc");
    assert!(eventually(LONG, || fleet.status().connected));
    fleet
        .gate()
        .learn(Duration::from_secs(30), SystemTime::now());
    let reset = fleet.gate().reset_ms();

    let (made, longest) = calls_meanwhile(&fleet, &tally, || {
        server.kill();
        assert!(eventually(LONG, || !fleet.status().connected));
        // Many failed syncs, one word about it.
        let failures = fleet.status().failures;
        assert!(eventually(LONG, || fleet.status().failures >= failures + 5));
    });
    assert!(made > 10, "calls went on while Redis was down ({made})");
    assert!(
        longest < Duration::from_secs(1),
        "a call waited {longest:?}"
    );
    assert_eq!(told(&events), ["unreachable"]);
    assert!(tally.fallbacks.load(Ordering::Relaxed) >= 1);
    assert_eq!(tally.view(), None, "decisions fell back to local state");
    assert_eq!(fleet.gate().reset_ms(), reset, "the learned reset is kept");

    // Back, empty, on the same port: the exchange resumes by itself, and the process
    // shares its reset and its new counts again.
    server.restart();
    assert!(eventually(LONG, || fleet.status().connected));
    assert!(eventually(LONG, || told(&events) == ["unreachable", "resumed"]));
    tally.add(1, 4);
    assert!(eventually(LONG, || tally.view().is_some_and(|v| v[1] == 4)));
    let (newcomer, _, _) = join(&server, "svc");
    assert!(eventually(LONG, || newcomer.gate().reset_ms() == reset));
}

#[test]
fn paused_redis_never_blocks_calls() {
    let server = RedisServer::start();
    let (fleet, tally, events) = join(&server, "svc");
    assert!(eventually(LONG, || fleet.status().connected));
    let (made, longest) = calls_meanwhile(&fleet, &tally, || {
        server.signal("STOP");
        assert!(eventually(LONG, || !fleet.status().connected));
        std::thread::sleep(Duration::from_millis(500));
        server.signal("CONT");
        assert!(eventually(LONG, || fleet.status().connected));
    });
    assert!(made > 10, "calls went on while Redis was paused ({made})");
    assert!(
        longest < Duration::from_secs(1),
        "a call waited {longest:?}"
    );
    assert_eq!(told(&events), ["unreachable", "resumed"]);
    // Dropping the last handle while Redis is paused does not wait for it either.
    server.signal("STOP");
    let t = Instant::now();
    drop(fleet);
    assert!(t.elapsed() < Duration::from_secs(1));
    server.signal("CONT");
}

#[test]
fn slow_redis_debug_sleep_never_blocks_calls() {
    let server = RedisServer::start();
    let (fleet, tally, events) = join(&server, "svc");
    assert!(eventually(LONG, || fleet.status().connected));
    let (made, longest) = calls_meanwhile(&fleet, &tally, || {
        // The server answers nothing for a second: every sync meanwhile times out.
        assert_eq!(server.cmd(&["DEBUG", "SLEEP", "1"]), "+OK");
        assert!(eventually(LONG, || fleet.status().connected));
    });
    assert!(made > 10, "calls went on while Redis was slow ({made})");
    assert!(
        longest < Duration::from_secs(1),
        "a call waited {longest:?}"
    );
    assert_eq!(told(&events), ["unreachable", "resumed"]);
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
    let port = fleet_common::free_port();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let fleet = FleetConfig::new(format!("redis://127.0.0.1:{port}"), "svc")
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
    let mut call = redial::Machine::new(policy, Instant::now());
    let mut retries = 0;
    while retries < 1_000 {
        match call.on_outcome(&busy, Instant::now(), &mut rng) {
            redial::Action::Retry(_) => retries += 1,
            redial::Action::Stop(_) => break,
        }
    }
    retries
}

#[test]
fn a_policy_in_a_fleet_shares_its_budget() {
    let server = RedisServer::start();
    let many = redial::Policy::builder()
        .max_attempts(1_000)
        .build()
        .expect("valid");
    let fleet = |key: &str| Fleet::connect(&server.url(), key, SYNC).expect("a valid fleet");
    let (a, b, c) = (fleet("svc"), fleet("svc"), fleet("other"));
    let pa = many.to_builder().build().expect("valid").with_fleet(&a);
    let pb = many.to_builder().build().expect("valid").with_fleet(&b);
    let pc = many.to_builder().build().expect("valid").with_fleet(&c);
    // Process A: a thousand calls that succeed at once.
    for _ in 0..1_000 {
        let _ = redial::Machine::new(&pa, Instant::now()).on_success();
    }
    assert!(eventually(LONG, || b.status().syncs >= 3 && a.status().syncs >= 3));
    std::thread::sleep(SYNC * 3);
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
