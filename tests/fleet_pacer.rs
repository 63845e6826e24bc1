//! The pacer's rate shared through a real `redis-server` (started by each test on a free
//! loopback port): processes on one fleet key learn one rate and each paces to its share
//! of it; a cut in one reaches the others at once; Redis slow or killed never makes an
//! attempt wait on it, and each pacer goes on alone meanwhile. (Against a real nginx:
//! `tests/nginx.rs`, `paced_fleet_of_4_and_16_processes_on_one_key`.)

#![cfg(feature = "redis")]

mod fleet_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fleet_common::{eventually, RedisServer};
use redial::fleet::{Fleet, FleetConfig};
use redial::pacer::{Acquire, Pacer};

const SYNC: Duration = Duration::from_millis(50);
const LONG: Duration = Duration::from_secs(10);

/// A member of the fleet `key` (a process of its own, as far as Redis can tell: its own
/// connection, exchange and id) with a pacer that has asked for `per_s` attempts a
/// second for a second.
fn member(server: &RedisServer, key: &str, per_s: u64) -> (Fleet, Arc<Pacer>) {
    let fleet = FleetConfig::new(server.url(), key)
        .sync(SYNC)
        .connect()
        .expect("a valid fleet");
    let pacer = Arc::new(Pacer::default());
    let t0 = Instant::now();
    for i in 0..per_s {
        pacer.acquire(t0 + Duration::from_millis(i * 1000 / per_s), None);
    }
    fleet.pace(pacer.clone());
    assert!(eventually(LONG, || fleet.status().connected));
    (fleet, pacer)
}

/// Ten answers a second for two seconds, then a 429: a cut from about ten a second.
fn throttle(pacer: &Pacer) -> Instant {
    let t0 = Instant::now();
    for i in 0..20 {
        pacer.on_response(t0 + Duration::from_millis(100 * i), false, false, None);
    }
    let at = t0 + Duration::from_secs(2);
    pacer.on_response(at, true, false, None);
    at
}

#[test]
fn a_cut_in_one_process_paces_every_process_of_the_fleet() {
    let server = RedisServer::start();
    let (_a, a) = member(&server, "svc", 10);
    let (_b, b) = member(&server, "svc", 10);
    let (_c, c) = member(&server, "other", 10);
    // Both report their demand before the cut.
    std::thread::sleep(SYNC * 4);
    assert!(!a.is_active() && !b.is_active());
    let at = throttle(&a);
    let cut = a.rate(at).expect("a cut itself");
    assert_eq!(a.cuts(), 1);
    // b learns the cut and paces too, at its share of the same fleet rate.
    assert!(eventually(LONG, || b.is_active()));
    assert_eq!(b.cuts(), 0, "taken from the fleet, not cut here");
    let w_max = a.fleet_report(Instant::now()).cut.expect("a's cut").w_max;
    let b_cut = b.fleet_report(Instant::now()).cut.expect("the fleet's cut");
    assert!(
        (b_cut.w_max - w_max).abs() < 0.01,
        "one cut: {} and {w_max}",
        b_cut.w_max
    );
    let both = a.rate(Instant::now()).unwrap() + b.rate(Instant::now()).unwrap();
    assert!(
        both <= w_max * 0.7 * 1.6,
        "together they pace near the fleet's cut rate ({both} for a cut to {cut} of {w_max})"
    );
    // Another key's pacer never hears of it.
    std::thread::sleep(SYNC * 4);
    assert!(!c.is_active());
}

#[test]
fn the_pacer_key_expires_and_a_gone_process_leaves_the_demand() {
    let server = RedisServer::start();
    let (a_fleet, a) = member(&server, "svc", 10);
    let (b_fleet, _b) = member(&server, "svc", 10);
    throttle(&a);
    let key = "redial:{svc}:rate";
    // Every field but the cut's two is a process's demand.
    let members = || {
        server
            .bulk(&["HGET", key, "c"])
            .map_or(0, |_| server.int(&["HLEN", key]) - 2)
    };
    assert!(eventually(LONG, || members() == 2));
    let ttl = server.int(&["PTTL", key]);
    assert!(ttl > 0, "the pacer's hash expires: {ttl}");
    drop(b_fleet);
    // Its demand lapses after four syncs, and is then taken out.
    assert!(eventually(LONG, || members() == 1));
    drop(a_fleet);
}

/// While Redis is made slow or unreachable by `outage`, a member's pacer answers every
/// ask at once (it never waits on Redis), cuts alone on a 429, and shares the cut once
/// Redis is back.
fn the_pacer_goes_on_alone(
    server: &mut RedisServer,
    outage: impl FnOnce(&mut RedisServer, &Fleet, &Pacer),
) {
    let (a_fleet, a) = member(server, "svc", 10);
    let (_b_fleet, b) = member(server, "svc", 10);
    outage(server, &a_fleet, &a);
    assert!(
        eventually(LONG, || b.is_active()),
        "the cut made during the outage reached b once Redis was back"
    );
}

/// Asks and answers for a second and a half while the outage lasts: none takes longer
/// than a few milliseconds; a 429 among them cuts here.
fn ask_meanwhile(pacer: &Pacer) {
    let t0 = Instant::now();
    let mut longest = Duration::ZERO;
    let mut i = 0u64;
    while t0.elapsed() < Duration::from_millis(1500) {
        let now = Instant::now();
        let asked = pacer.acquire(now, Some(now + Duration::from_millis(100)));
        pacer.on_response(Instant::now(), i == 10, false, None);
        longest = longest.max(now.elapsed());
        if let Acquire::Wait { wait, ticket } = asked {
            std::thread::sleep(wait);
            let _ = pacer.ready(Instant::now(), ticket, None);
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        longest < Duration::from_millis(50),
        "an ask took {longest:?}"
    );
    assert!(pacer.cuts() >= 1 && pacer.is_active(), "cut alone");
}

#[test]
fn slow_redis_never_holds_an_attempt_and_the_cut_is_shared_after() {
    let mut server = RedisServer::start();
    the_pacer_goes_on_alone(&mut server, |server, fleet, pacer| {
        let _asleep = server.send(&["DEBUG", "SLEEP", "3"]);
        assert!(eventually(LONG, || !fleet.status().connected));
        ask_meanwhile(pacer);
        assert!(eventually(LONG, || fleet.status().connected));
    });
}

#[test]
fn killed_redis_never_holds_an_attempt_and_the_cut_is_shared_once_restarted() {
    let mut server = RedisServer::start();
    the_pacer_goes_on_alone(&mut server, |server, fleet, pacer| {
        server.kill();
        assert!(eventually(LONG, || !fleet.status().connected));
        ask_meanwhile(pacer);
        server.restart();
        assert!(eventually(LONG, || fleet.status().connected));
    });
}

#[test]
fn a_policy_in_a_fleet_shares_its_pacer() {
    let server = RedisServer::start();
    let policy = redial::Policy::builder()
        .pace(redial::pacer::PacerConfig::default())
        .fleet(FleetConfig::new(server.url(), "svc").sync(SYNC))
        .build()
        .expect("a valid policy")
        .join_fleet()
        .expect("joins");
    let (_b_fleet, b) = member(&server, "svc", 10);
    // In a fleet, the fleet key is every call's scope: a host's calls use the fleet's pacer.
    let host = Some(redial::pacer::PacerKey::host("api.example.com"));
    let pacer = policy.pacer().expect("pacing is on");
    assert!(std::ptr::eq(policy.pacer_for(host).expect("on"), pacer));
    throttle(pacer);
    assert!(eventually(LONG, || b.is_active()));
}

#[test]
fn a_fleet_cut_is_taken_once_and_every_process_grows_back_from_it() {
    let server = RedisServer::start();
    let (_a, a) = member(&server, "svc", 10);
    let (_b, b) = member(&server, "svc", 10);
    throttle(&a);
    assert!(eventually(LONG, || b.is_active()));
    let after_cut = b.rate(Instant::now()).expect("paced");
    // Successes for two seconds while the exchange syncs every 50 ms: the rate climbs
    // along the curve; a cut taken again at a sync would put it back each time.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        a.on_response(Instant::now(), false, false, None);
        b.on_response(Instant::now(), false, false, None);
        std::thread::sleep(Duration::from_millis(20));
    }
    let grown = b.rate(Instant::now()).expect("paced");
    assert!(
        grown > after_cut * 1.2,
        "grew from {after_cut} to {grown} only"
    );
    assert_eq!(a.cuts() + b.cuts(), 1, "one cut in all");
}

#[test]
fn a_garbage_cut_in_redis_hides_no_real_one() {
    let server = RedisServer::start();
    let key = "redial:{svc}:rate";
    // A cut in the year 5138, and a rate that is not a number.
    server.cmd(&["HSET", key, "c", "99999999999999", "w", "x"]);
    let (_a, a) = member(&server, "svc", 10);
    let (_b, b) = member(&server, "svc", 10);
    std::thread::sleep(SYNC * 4);
    assert!(!a.is_active() && !b.is_active(), "garbage is no cut");
    throttle(&a);
    assert!(eventually(LONG, || b.is_active()), "a's cut reached b");
}
