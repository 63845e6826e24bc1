use core::time::Duration;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use proptest::prelude::*;

use super::*;

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// Equal but for floating-point rounding.
fn near(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// A pacer that has seen `rate` answers a second for two seconds, then a 429.
fn throttled(rate: u64) -> (Pacer, Instant) {
    throttled_with(PacerConfig::default(), rate)
}

/// [`throttled`], with `config`.
fn throttled_with(config: PacerConfig, rate: u64) -> (Pacer, Instant) {
    let p = Pacer::new(config);
    let t0 = Instant::now();
    let gap = 1000 / rate.max(1);
    let mut t = 0;
    while t < 2000 {
        p.on_response(at(t0, t), false, false, None);
        t += gap;
    }
    p.on_response(at(t0, 2000), true, false, None);
    (p, t0)
}

#[test]
fn inactive_until_a_throttle() {
    let p = Pacer::default();
    let t0 = Instant::now();
    for i in 0..1000 {
        p.on_response(at(t0, i), false, false, None);
        assert_eq!(p.acquire(at(t0, i), None), Acquire::Go);
    }
    assert!(!p.is_active());
    assert_eq!(p.rate(t0), None);
}

#[test]
fn a_pacer_engaged_by_a_hint_learns_nothing_until_one() {
    let p = Pacer::new(PacerConfig::on_hint());
    let t0 = Instant::now();
    let spent = Quota {
        remaining: 0,
        reset: Duration::from_secs(5),
        limit: Some(10),
    };
    for i in 0..1000 {
        p.on_response(
            at(t0, i),
            i % 2 == 0,
            i % 3 == 0,
            (i % 5 == 0).then_some(spent),
        );
        assert_eq!(p.acquire(at(t0, i), None), Acquire::Go);
    }
    assert!(!p.listens() && !p.is_active());
    assert_eq!(p.rate(t0), None);
}

#[test]
fn a_hint_engages_it_and_the_first_cut_waits_for_a_measured_rate() {
    let p = Pacer::new(PacerConfig::on_hint());
    let t0 = Instant::now();
    // Ten answers a second, then a hint at 2 s; throttles until 3 s do not cut.
    for i in 0..20 {
        p.on_response(at(t0, 100 * i), false, false, None);
    }
    p.hear_hint(at(t0, 2000));
    for i in 0..10 {
        p.on_response(at(t0, 2000 + 100 * i), true, false, None);
        assert!(!p.is_active(), "cut {i} within a second of the hint");
    }
    p.on_response(at(t0, 3000), true, false, None);
    let rate = p.rate(at(t0, 3000)).expect("cut");
    assert!(
        (5.0..9.0).contains(&rate),
        "about 70 % of ten a second: {rate}"
    );
    // A later hint changes nothing: the pacer already listens.
    p.hear_hint(at(t0, 3100));
    assert_eq!(p.rate(at(t0, 3100)), Some(rate));
}

#[test]
fn a_spent_quota_holds_at_once_even_while_measuring() {
    let p = Pacer::new(PacerConfig::on_hint());
    let t0 = Instant::now();
    let spent = Quota {
        remaining: 0,
        reset: Duration::from_secs(3),
        limit: Some(10),
    };
    p.hear_hint(t0);
    p.on_response(t0, true, false, Some(spent));
    assert!(matches!(
        p.acquire(t0, Some(at(t0, 2000))),
        Acquire::RateLimited { wait } if wait >= Duration::from_secs(3)
    ));
}

#[test]
fn max_wait_counts_from_the_end_of_a_stated_hold() {
    let p = Pacer::default();
    let t0 = Instant::now();
    let spent = Quota {
        remaining: 0,
        reset: Duration::from_secs(15),
        limit: None,
    };
    p.on_response(t0, true, false, Some(spent));
    // 15 s to the reset, past `max_wait` (10 s): the call waits, the server said when.
    let Acquire::Wait { ticket, .. } = p.acquire(t0, None) else {
        panic!("a hold the server stated is waited for");
    };
    assert_eq!(p.ready(at(t0, 15_000), ticket, None), Acquire::Go);
    // A deadline still bounds it.
    let soon = Some(at(t0, 5_000));
    assert!(matches!(p.acquire(t0, soon), Acquire::RateLimited { .. }));
}

#[test]
fn the_curve_is_cubics_from_the_cut() {
    // A cut at 5 s from 10 requests/s: W(t) = C (t - K)^3 + W_max, K = cbrt(W_max (1 - b) / C),
    // with t counted from the cut.
    let mut c = Cubic::new(CubicConfig::default());
    c.on_throttle(5.0, 10.0);
    let k = (10.0f64 * 0.3 / 0.4).cbrt();
    assert!(
        near(c.curve(5.0), 7.0),
        "b W_max at the cut: {}",
        c.curve(5.0)
    );
    assert!(near(c.curve(5.0 + k), 10.0), "W_max after K");
    assert!(near(c.curve(6.0 + k), 10.4), "C above it a second later");
    assert!(near(c.curve(4.0 + k), 9.6), "C below it a second before");
    assert!(
        near(c.floor(7.0), 7.0 + 0.02 * 10.0 * 2.0),
        "the floor counts from the cut"
    );
    // A success follows the curve where it is above the floor.
    assert!(near(c.on_success(5.0 + k, 10.0), 10.0));
}

#[test]
fn growth_is_bounded_by_max_growth_and_twice_the_measured_rate() {
    let cut = || {
        let mut c = Cubic::new(CubicConfig::default());
        c.on_throttle(5.0, 10.0);
        c
    };
    // A tenth of a second after the cut the curve is at 7.44, max_growth allows 7 x 1.05.
    let mut c = cut();
    assert!(c.curve(5.1) > 7.4);
    assert!(near(c.on_success(5.1, 100.0), 7.35));
    // Long after, the curve is far above: twice the measured 4 requests/s binds.
    let mut c = cut();
    assert!(near(c.on_success(20.0, 4.0), 8.0));
}

#[test]
fn an_infinite_rate_counts_as_none() {
    let mut c = Cubic::new(CubicConfig::default());
    c.on_throttle(0.0, f64::INFINITY);
    assert_eq!(c.w_max(), CubicConfig::default().min_rate);
}

#[test]
fn the_linear_floor_climbs_through_the_curves_plateau() {
    let mut c = Cubic::new(CubicConfig::default());
    c.on_throttle(0.0, 10.0);
    c.not_below(9.9);
    // 1.5 s after the cut the curve is still below W_max (K is about 2 s): 9.96.
    assert!(c.curve(1.5) < 10.0);
    let r = c.on_success(1.5, 10.0);
    assert!(near(r, 9.9 + 0.02 * 10.0 * 1.5), "{r}");
    // Never past twice the rate measured.
    let mut d = Cubic::new(CubicConfig::default());
    d.on_throttle(0.0, 10.0);
    assert_eq!(
        d.on_success(100.0, 1.0),
        7.0,
        "the floor does not outrun the demand"
    );
    // None before a cut: nothing learned.
    assert_eq!(Cubic::new(CubicConfig::default()).floor(5.0), 0.0);
}

#[test]
fn a_throttles_hold_is_the_pacers_own_and_counts_within_max_wait() {
    let config = PacerConfig {
        max_wait: Duration::from_millis(20),
        ..PacerConfig::default()
    };
    let (p, t0) = throttled_with(config, 10);
    let now = at(t0, 2000);
    // The hold (70 ms) is past max_wait (20 ms): the call stops instead of waiting.
    assert!(
        matches!(p.acquire(now, None), Acquire::RateLimited { wait } if wait >= Pacer::THROTTLE_HOLD),
        "{:?}",
        p.acquire(now, None)
    );
    // Once it is over, the next call goes.
    assert_eq!(p.acquire(now + Pacer::THROTTLE_HOLD, None), Acquire::Go);
    // Each throttle holds again, from its own answer.
    let later = at(t0, 2500);
    p.on_response(later, true, false, None);
    assert!(matches!(
        p.acquire(later, None),
        Acquire::RateLimited { .. }
    ));
}

#[test]
fn a_fleet_cut_engages_a_pacer_that_waits_for_a_hint() {
    let p = Pacer::new(PacerConfig::on_hint());
    let t0 = Instant::now();
    for i in 0..20 {
        p.on_response(at(t0, 100 * i), false, false, None);
    }
    assert!(
        p.fleet_report(at(t0, 2000)).demand > 0.0,
        "counted before any hint"
    );
    let cut = FleetCut {
        at: at(t0, 2000),
        w_max: 40.0,
    };
    p.set_fleet_view(at(t0, 2000), view(Some(cut), 40.0, 4));
    assert!(
        p.is_active() && p.listens(),
        "the fleet's cut is this one's too"
    );
}

#[test]
fn a_503_alone_does_not_cut_but_overload_does() {
    let p = Pacer::default();
    let t0 = Instant::now();
    p.on_response(t0, false, false, None);
    assert!(!p.is_active());
    p.on_response(t0, false, true, None);
    assert!(p.is_active());
}

#[test]
fn throttles_within_settle_cut_once() {
    let (p, t0) = throttled(10);
    let r = p.rate(at(t0, 2000)).unwrap();
    p.on_response(at(t0, 2100), true, false, None);
    assert_eq!(p.rate(at(t0, 2100)), Some(r));
    p.on_response(at(t0, 2400), true, false, None);
    assert!(p.rate(at(t0, 2400)).unwrap() < r);
}

#[test]
fn the_learned_rate_persists_across_calls_and_stays_in_scope() {
    let pacers = Pacers::new(PacerConfig::default(), 4);
    let (a, b) = (PacerKey::host("a.test"), PacerKey::host("b.test"));
    let t0 = Instant::now();
    pacers.get(a).on_response(t0, true, false, None);
    assert!(
        pacers.get(a).is_active(),
        "a later call finds what an earlier one learned"
    );
    assert!(!pacers.get(b).is_active(), "another host is not slowed");
    assert_eq!(pacers.get(b).acquire(t0, None), Acquire::Go);
}

#[test]
fn a_binding_quota_paces_one_that_does_not_bind_is_ignored() {
    let p = Pacer::default();
    let t0 = Instant::now();
    let plenty = Quota {
        remaining: 1000,
        reset: Duration::from_secs(10),
        limit: Some(1000),
    };
    p.on_response(t0, false, false, Some(plenty));
    assert!(!p.is_active(), "1,000 left for 10 s at one call: no pacing");
    // Fifty answers a second, and 20 left for 10 s: would run out in under a second.
    for i in 0..100 {
        p.on_response(at(t0, i * 20), false, false, None);
    }
    let scarce = Quota {
        remaining: 20,
        reset: Duration::from_secs(10),
        limit: Some(1000),
    };
    p.on_response(at(t0, 2000), false, false, Some(scarce));
    assert_eq!(p.rate(at(t0, 2000)), Some(2.0));
    p.on_response(at(t0, 12_001), false, false, None);
    assert_eq!(
        p.rate(at(t0, 12_001)),
        None,
        "after the reset the quota says nothing"
    );
}

#[test]
fn fifo_waits_and_release_reuse() {
    let p = Pacer::default();
    let t0 = Instant::now();
    p.set_fleet_rate(10.0, t0, Duration::from_secs(600));
    let answers: Vec<_> = (0..20).map(|_| p.acquire(t0, None)).collect();
    let places: Vec<f64> = answers
        .iter()
        .filter_map(|a| match a {
            Acquire::Wait { ticket, .. } => Some(ticket.place()),
            _ => None,
        })
        .collect();
    assert_eq!(places.len(), 19, "the first goes at once: {answers:?}");
    assert!(places.windows(2).all(|w| w[0] < w[1]), "{places:?}");
    // Each waits until its slot, but no longer than RECHECK at a time.
    let waits: Vec<_> = answers.iter().map(Acquire::wait).collect();
    assert_eq!(waits[1], Duration::from_millis(100));
    assert_eq!(waits[2], Duration::from_millis(200));
    assert!(waits[3..].iter().all(|&w| w == Pacer::RECHECK), "{waits:?}");
    p.release(t0);
    assert_eq!(p.acquire(t0, None), answers[19], "the same slot, reused");
}

/// A waiter's slot comes sooner when the rate grows while it sleeps; it asks again within
/// RECHECK and takes it then, instead of sleeping until the time first given.
#[test]
fn a_waiter_takes_a_slot_the_rate_brought_nearer() {
    let p = Pacer::default();
    let t0 = Instant::now();
    p.set_fleet_rate(1.0, t0, Duration::from_secs(600));
    assert_eq!(p.acquire(t0, None), Acquire::Go);
    let answers: Vec<_> = (0..5).map(|_| p.acquire(t0, None)).collect();
    // The fifth waiter's slot is five seconds away at 1/s; at once the rate doubles.
    p.set_fleet_rate(2.0, t0, Duration::from_secs(600));
    let mut answer = answers[4];
    let mut now = t0;
    while let Acquire::Wait { wait, ticket } = answer {
        now += wait;
        answer = p.ready(now, ticket, None);
    }
    assert_eq!(answer, Acquire::Go);
    let waited = now - t0;
    assert!(
        waited <= Duration::from_millis(2750),
        "sent {waited:?} after asking; its slot came after 2.5 s"
    );
}

#[test]
fn max_wait_stops_without_reserving() {
    let p = Pacer::default();
    let t0 = Instant::now();
    p.set_fleet_rate(1.0, t0, Duration::from_secs(600));
    for _ in 0..11 {
        assert!(!matches!(p.acquire(t0, None), Acquire::RateLimited { .. }));
    }
    let stop = p.acquire(t0, None);
    assert_eq!(
        stop,
        Acquire::RateLimited {
            wait: Duration::from_secs(11)
        }
    );
    assert_eq!(p.acquire(t0, None), stop, "nothing was reserved");
}

/// Quota header tables: (headers, expected).
#[test]
fn quota_headers() {
    let wall = UNIX_EPOCH + Duration::from_secs(1_795_428_000); // 2026-11-23T10:00:00Z
    let q = |r, s, l| {
        Some(Quota {
            remaining: r,
            reset: Duration::from_secs(s),
            limit: l,
        })
    };
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<Quota>);
    let cases: &[Case<'_>] = &[
        (&[], None),
        (&[("ratelimit", r#""default";r=5;t=10"#)], q(5, 10, None)),
        (
            &[("ratelimit", r#""a";r=50;t=10, "b";r=10;t=100"#)],
            q(10, 100, None),
        ),
        (&[("ratelimit", r#""a";r=5;t=10,"#)], None),
        (&[("ratelimit", r#""a";r=-1;t=10"#)], None),
        (
            &[
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "7"),
                ("ratelimit-reset", "30"),
            ],
            q(7, 30, Some(100)),
        ),
        (
            &[
                ("anthropic-ratelimit-requests-limit", "50"),
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:17Z"),
            ],
            q(0, 17, Some(50)),
        ),
        (
            &[
                ("anthropic-ratelimit-tokens-remaining", "0"),
                ("anthropic-ratelimit-tokens-reset", "2026-11-23T10:00:17Z"),
            ],
            None,
        ),
        (
            &[
                ("x-ratelimit-limit-requests", "60"),
                ("x-ratelimit-remaining-requests", "59"),
                ("x-ratelimit-reset-requests", "1s"),
            ],
            q(59, 1, Some(60)),
        ),
        (
            &[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "4999"),
                ("x-ratelimit-reset", "1795428045"),
            ],
            q(4999, 45, Some(5000)),
        ),
        (
            &[("x-ratelimit-remaining", "abc"), ("x-ratelimit-reset", "3")],
            None,
        ),
        (
            &[
                ("x-ratelimit-remaining", " 3 "),
                ("x-ratelimit-reset", "soon"),
            ],
            None,
        ),
        (
            &[
                ("x-ratelimit-remaining", "99999999999999999999999"),
                ("x-ratelimit-reset", "3"),
            ],
            None,
        ),
    ];
    for (headers, want) in cases {
        let mut map = HeaderMap::new();
        for (k, v) in *headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        assert_eq!(Quota::from_headers(&map, wall), *want, "{headers:?}");
    }
}

proptest! {
    #[test]
    fn never_above_a_binding_quota(
        remaining in 1u64..10_000,
        reset_ms in 1u64..600_000,
        answers in 0u64..200,
        throttle in any::<bool>(),
    ) {
        let p = Pacer::default();
        let t0 = Instant::now();
        for i in 0..answers {
            p.on_response(at(t0, i * 5), false, false, None);
        }
        let now = at(t0, answers * 5);
        p.on_response(now, throttle, false, None);
        let q = Quota { remaining, reset: Duration::from_millis(reset_ms), limit: None };
        p.on_response(now, false, false, Some(q));
        if let Some(r) = p.rate(now) {
            prop_assert!(r <= q.rate().unwrap() * 1.000_001, "{r} > {:?}", q.rate());
        }
    }

    #[test]
    fn a_throttle_leaves_the_rate_below_where_it_was(
        rate in 1u64..500,
        successes in 0u64..100,
    ) {
        let (p, t0) = throttled(rate);
        for i in 0..successes {
            p.on_response(at(t0, 2000 + 10 * i), false, false, None);
        }
        let now = at(t0, 3000 + 10 * successes);
        let before = p.rate(now).unwrap();
        p.on_response(now, true, false, None);
        prop_assert!(p.rate(now).unwrap() < before || before <= 0.5 / 0.7);
    }

    #[test]
    fn growth_is_monotone_and_under_the_curve(
        w in 0.5f64..10_000.0,
        steps in proptest::collection::vec((0.0f64..2.0, 0.0f64..20_000.0), 1..50),
    ) {
        let mut c = Cubic::new(CubicConfig::default());
        let mut t = 1.0;
        let cut = c.on_throttle(t, w);
        let mut last = cut;
        for (dt, measured) in steps {
            t += dt;
            let r = c.on_success(t, measured);
            prop_assert!(r >= last, "monotone: {r} < {last}");
            let above = c.curve(t).max(c.floor(t)).max(cut);
            prop_assert!(r <= above * 1.000_001, "under the curve or the linear floor");
            last = r;
        }
    }

    #[test]
    fn cubic_takes_any_input(a in any::<f64>(), b in any::<f64>(), c in any::<f64>(), d in any::<f64>()) {
        let cfg = CubicConfig { beta: a, scale: b, min_rate: c, max_growth: d, linear: a };
        let mut x = Cubic::new(cfg);
        for r in [x.on_throttle(a, b), x.on_success(c, d), x.on_success(b, a), x.curve(d)] {
            prop_assert!(r.is_finite() && r > 0.0);
        }
    }

    #[test]
    fn no_panic_on_any_input(
        ops in proptest::collection::vec((0u8..9, any::<u64>(), any::<u64>(), any::<f64>()), 0..60),
        burst in any::<u32>(),
        max_wait in any::<u64>(),
        engage in proptest::sample::select(Engage::ALL.to_vec()),
    ) {
        let cfg = PacerConfig { burst, max_wait: Duration::from_nanos(max_wait), engage, ..Default::default() };
        let p = Pacer::new(cfg);
        let t0 = Instant::now();
        for (op, a, b, f) in ops {
            let now = t0.checked_add(Duration::from_nanos(a >> 8)).unwrap_or(t0);
            match op {
                0 => { let _ = p.acquire(now, now.checked_add(Duration::from_nanos(b))); }
                1 => p.release(now),
                2 => p.on_response(now, a % 2 == 0, b % 3 == 0, None),
                3 => p.on_response(now, false, false, Some(Quota {
                    remaining: b, reset: Duration::from_nanos(a), limit: None,
                })),
                4 => p.set_fleet_rate(f, now, Duration::from_nanos(b)),
                5 => {
                    let _ = p.fleet_report(now);
                }
                7 => p.hear_hint(now),
                8 => {
                    // An answer as a driver reads it: any status, wait and stated quota.
                    let mut headers = HeaderMap::new();
                    if b % 2 == 0 {
                        headers.insert("x-ratelimit-remaining", (a % 7).into());
                        headers.insert("x-ratelimit-reset", (b % 100).into());
                    }
                    let answer = Answer {
                        status: if a % 3 == 0 { 200 } else { 429 },
                        headers: &headers,
                        wait: (b % 5 != 0).then(|| Duration::from_nanos(b >> 20)),
                        wall: UNIX_EPOCH,
                        max_hint: Duration::from_nanos(a),
                    };
                    p.learn(now, answer, a % 5 == 0);
                }
                _ => {
                    let cut = (a % 3 != 0).then(|| FleetCut {
                        at: t0.checked_add(Duration::from_nanos(b >> 8)).unwrap_or(t0),
                        w_max: f,
                    });
                    let view = FleetView {
                        cut,
                        demand: f64::from_bits(b),
                        answered: f,
                        members: a as u32,
                        lag: Duration::from_nanos(b),
                    };
                    p.set_fleet_view(now, view);
                }
            }
            if let Some(r) = p.rate(now) {
                prop_assert!(r.is_finite() && r > 0.0);
            }
        }
    }

    /// Whatever it is told, a pacer engaged by a hint that heard none and has no fleet
    /// never paces: a brown-out of bare 429s cannot slow a preset's calls.
    #[test]
    fn a_pacer_that_heard_no_hint_never_paces(
        ops in proptest::collection::vec((0u8..4, any::<u64>(), any::<u64>()), 0..200),
    ) {
        let p = Pacer::new(PacerConfig::on_hint());
        let t0 = Instant::now();
        for (op, a, b) in ops {
            let now = t0.checked_add(Duration::from_nanos(a >> 8)).unwrap_or(t0);
            match op {
                0 => prop_assert_eq!(p.acquire(now, None), Acquire::Go),
                1 => p.release(now),
                2 => p.on_response(now, a % 2 == 0, b % 3 == 0, None),
                _ => p.on_response(now, a % 2 == 0, false, Some(Quota {
                    remaining: b % 4, reset: Duration::from_nanos(a), limit: None,
                })),
            }
            prop_assert!(!p.listens() && !p.is_active() && p.rate(now).is_none());
        }
    }

    /// Whatever 429s that state no quota tell it (any wait up to a second, or none) among
    /// any successes, a pacer engaged by a quota never paces: a brown-out whose 429s say
    /// `Retry-After: 1` cannot slow a preset's calls, nor can nginx's, which a `[rate]`
    /// table paces.
    #[test]
    fn a_pacer_engaged_by_a_quota_never_paces_for_bare_short_waits(
        ops in proptest::collection::vec((0u8..3, any::<u64>(), 0u64..=1_000_000_000), 0..200),
    ) {
        let p = Pacer::new(PacerConfig::on_quota());
        let headers = HeaderMap::new();
        let t0 = Instant::now();
        for (op, a, wait) in ops {
            let now = t0.checked_add(Duration::from_nanos(a >> 8)).unwrap_or(t0);
            let answer = |status| Answer {
                status,
                headers: &headers,
                wait: (a % 4 != 0).then(|| Duration::from_nanos(wait)),
                wall: UNIX_EPOCH,
                max_hint: Duration::from_secs(60),
            };
            match op {
                0 => prop_assert_eq!(p.acquire(now, None), Acquire::Go),
                1 => p.learn(now, answer(429), false),
                _ => p.learn(now, answer(200), false),
            }
            prop_assert!(!p.listens() && !p.is_active() && p.rate(now).is_none());
        }
    }

    /// A pacer engaged by a quota, told only 429s that state none and successes, in time
    /// order: an attempt never waits past the check of the last window a 429 began
    /// (`CHECK_AFTER` after it, and one step of those queued behind the check), until a
    /// check is refused with the window's own end (within `CHECK_SLACK`).
    #[test]
    fn a_bare_wait_holds_no_longer_than_its_check_unless_the_check_is_refused(
        ops in proptest::collection::vec((0u8..3, 1u64..3_000_000_000, 0u64..40), 0..120),
    ) {
        let p = Pacer::new(PacerConfig::on_quota());
        let headers = HeaderMap::new();
        let t0 = Instant::now();
        let mut now = t0;
        // The window a 429 began (when, and when it ends), until when a check that showed
        // a brown-out makes such waits hold nothing, and whether a check found a window
        // spent: from then on the pacer may trust such waits.
        let mut window: Option<(Instant, Instant)> = None;
        let mut ignore_until = t0;
        let mut spent_seen = false;
        let answer = |status, wait| Answer {
            status,
            headers: &headers,
            wait,
            wall: UNIX_EPOCH,
            max_hint: Duration::from_secs(60),
        };
        for (op, step, secs) in ops {
            now += Duration::from_nanos(step);
            match op {
                0 => {
                    let wait = p.acquire(now, None).wait();
                    if !spent_seen {
                        let check = window.map_or(now, |(start, _)| start + Pacer::CHECK_AFTER);
                        let most = check.saturating_duration_since(now) + Duration::from_millis(100);
                        prop_assert!(wait <= most, "waited {wait:?}, at most {most:?}");
                    }
                    p.release(now);
                }
                1 => {
                    let wait = Duration::from_secs(secs);
                    let end = now + wait;
                    if wait > Quota::WINDOW_AFTER && now >= ignore_until {
                        match window {
                            Some((start, w)) if now < start + Pacer::CHECK_AFTER && now < w => {}
                            Some((_, w)) if now < w
                                && end.max(w) - end.min(w) <= Pacer::CHECK_SLACK => spent_seen = true,
                            Some((_, w)) if now < w && end > w + Pacer::CHECK_SLACK => {
                                window = None;
                                ignore_until = now + Pacer::CHECKED_FOR;
                            }
                            _ => {
                                let checkable = end > now + Pacer::CHECK_AFTER + Pacer::CHECK_SLACK;
                                window = checkable.then_some((now, end));
                            }
                        }
                    }
                    p.learn(now, answer(429, Some(wait)), false);
                }
                _ => {
                    if let Some((start, w)) = window {
                        if now >= w {
                            window = None;
                        } else if now >= start + Pacer::CHECK_AFTER && now + Pacer::CHECK_SLACK < w {
                            window = None;
                            ignore_until = now + Pacer::CHECKED_FOR;
                        }
                    }
                    p.learn(now, answer(200, None), false);
                }
            }
        }
    }

    #[test]
    fn waits_are_served_in_arrival_order(rate in 0.5f64..1000.0, n in 1usize..200, burst in 1u32..20) {
        let cfg = PacerConfig { burst, max_wait: Duration::from_secs(3600), ..Default::default() };
        let p = Pacer::new(cfg);
        let t0 = Instant::now();
        p.set_fleet_rate(rate, t0, Duration::from_secs(100_000));
        let mut last = Duration::ZERO;
        for i in 0..n {
            let now = at(t0, i as u64);
            let due = (now - t0) + p.acquire(now, None).wait();
            prop_assert!(due >= last, "FIFO: slot {due:?} before {last:?}");
            last = due;
        }
    }

    #[test]
    fn a_cut_moves_waiting_slots_later_in_order(rate in 1.0f64..1000.0, n in 2usize..50) {
        let cfg = PacerConfig { max_wait: Duration::from_secs(3600), ..Default::default() };
        let p = Pacer::new(cfg);
        let t0 = Instant::now();
        p.on_response(t0, true, false, None);
        p.set_fleet_rate(rate, t0, Duration::from_secs(100_000));
        let tickets: Vec<_> = (0..n)
            .filter_map(|_| match p.acquire(t0, None) {
                Acquire::Wait { wait, ticket } => Some((wait, ticket)),
                _ => None,
            })
            .collect();
        p.set_fleet_rate(rate / 2.0, t0, Duration::from_secs(100_000));
        let mut last = Duration::ZERO;
        for (before, ticket) in tickets {
            let after = p.ready(t0, ticket, None).wait();
            prop_assert!(after >= before, "a cut never brings a slot sooner");
            prop_assert!(after >= last, "FIFO after the cut");
            last = after;
        }
    }

    #[test]
    fn a_released_slot_is_reused(rate in 0.5f64..1000.0, n in 2usize..50) {
        let p = Pacer::default();
        let t0 = Instant::now();
        p.set_fleet_rate(rate, t0, Duration::from_secs(100_000));
        let mut last = Acquire::Go;
        for _ in 0..n {
            last = p.acquire(t0, None);
        }
        if matches!(last, Acquire::Wait { .. }) {
            p.release(t0);
            prop_assert_eq!(p.acquire(t0, None), last);
        }
    }

    #[test]
    fn quota_headers_never_panic(name in 0usize..13, value in ".*") {
        const NAMES: [&str; 13] = [
            "ratelimit", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
            "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
            "anthropic-ratelimit-requests-reset", "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
            "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
        ];
        let mut map = HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            map.insert(NAMES[name], v.clone());
            map.insert("x-ratelimit-remaining", "0".parse().unwrap());
            map.insert("x-ratelimit-reset", v);
            let _ = Quota::from_headers(&map, SystemTime::now());
        }
    }
}

/// A fleet of `members` equal processes, as one of them sees it.
fn view(cut: Option<FleetCut>, demand: f64, members: u32) -> FleetView {
    FleetView {
        cut,
        demand,
        answered: 0.0,
        members,
        lag: Duration::from_millis(250),
    }
}

/// A pacer, not pacing yet, whose process sent `per_s` attempts a second for two seconds,
/// each answered, and reported it.
fn asking(per_s: u64) -> (Pacer, Instant, f64) {
    let p = Pacer::default();
    let t0 = Instant::now();
    p.fleet_report(t0);
    for i in 0..2 * per_s {
        let now = at(t0, i * 1000 / per_s);
        p.acquire(now, None);
        p.on_response(now, false, false, None);
    }
    let demand = p.fleet_report(at(t0, 2000)).demand;
    (p, t0, demand)
}

#[test]
fn while_nothing_paces_the_answers_are_the_demand() {
    // The driver asks the pacer for slots only once it paces: before that, the demand
    // a process reports is what it sends, as its answers measure it. (It decayed to 0
    // while inactive, and fleets split their first cut equally whatever each asked.)
    let p = Pacer::default();
    let t0 = Instant::now();
    for i in 0..40 {
        p.on_response(at(t0, i * 100), false, false, None);
        if i % 10 == 9 {
            let demand = p.fleet_report(at(t0, i * 100 + 50)).demand;
            assert!((demand - 10.0).abs() < 1.0, "second {}: {demand}", i / 10);
        }
    }
    assert_eq!(p.acquire(at(t0, 4000), None), Acquire::Go);
    assert_eq!(
        p.asked.load(Ordering::Relaxed),
        0,
        "not counted while inactive"
    );
    // Once it paces, the attempts asked are the demand, smoothed on from the answers'.
    p.on_response(at(t0, 4000), true, false, None);
    for i in 0..10 {
        p.acquire(at(t0, 4000 + i * 100), None);
    }
    assert_eq!(p.asked.load(Ordering::Relaxed), 10);
    let demand = p.fleet_report(at(t0, 5000)).demand;
    assert!((demand - 10.0).abs() < 1.0, "after the cut: {demand}");
}

#[test]
fn demand_is_the_attempts_asked_a_second() {
    let p = Pacer::default();
    let t0 = Instant::now();
    // Pacing, at a rate that lets every attempt go.
    p.set_fleet_rate(1e6, t0, Duration::from_secs(3600));
    p.fleet_report(t0);
    for i in 0..20 {
        p.acquire(at(t0, i * 100), None);
    }
    let demand = p.fleet_report(at(t0, 2000)).demand;
    // Smoothed from 0 over about two seconds: half-way after two.
    assert!((demand - 5.0).abs() < 0.01, "{demand}");
    for i in 0..40 {
        p.acquire(at(t0, 2000 + i * 100), None);
    }
    let later = p.fleet_report(at(t0, 6000)).demand;
    // Four seconds at ten a second: two thirds of the way from 5 to 10.
    assert!(
        (later - 25.0 / 3.0).abs() < 0.01,
        "moving to ten a second: {later}"
    );
}

#[test]
fn a_fleet_without_a_cut_leaves_the_pacer_inactive() {
    let (p, t0, demand) = asking(10);
    p.set_fleet_view(at(t0, 2000), view(None, 4.0 * demand, 4));
    assert!(!p.is_active());
    assert_eq!(p.acquire(at(t0, 2000), None), Acquire::Go);
}

#[test]
fn a_fleet_cut_paces_to_this_process_share_of_it() {
    let (p, t0, demand) = asking(10);
    let now = at(t0, 2000);
    let cut = FleetCut {
        at: now,
        w_max: 40.0,
    };
    p.set_fleet_view(now, view(Some(cut), 4.0 * demand, 4));
    let rate = p.rate(now).expect("paced");
    assert!((rate - 40.0 * 0.7 / 4.0).abs() < 0.01, "{rate}");
    // Twice the others' demand: twice the share.
    p.set_fleet_view(now, view(Some(cut), 1.5 * demand, 4));
    let rate = p.rate(now).expect("paced");
    assert!((rate - 40.0 * 0.7 / 1.5).abs() < 0.01, "{rate}");
}

#[test]
fn the_share_is_bounded() {
    let (p, t0, demand) = asking(10);
    let now = at(t0, 2000);
    let cut = FleetCut {
        at: now,
        w_max: 100.0,
    };
    // Asking for nothing still leaves a quarter of an equal share.
    p.set_fleet_view(now, view(Some(cut), 1_000.0 * demand, 10));
    assert!((p.rate(now).unwrap() - 70.0 / 40.0).abs() < 0.01);
    // More than the fleet's demand (the others' reports lapsed): all of it.
    p.set_fleet_view(now, view(Some(cut), demand / 2.0, 1));
    assert!((p.rate(now).unwrap() - 70.0).abs() < 0.01);
    // Nothing known of the demand: an equal share.
    for total in [0.0, f64::NAN, f64::INFINITY, -3.0] {
        p.set_fleet_view(now, view(Some(cut), total, 5));
        assert!((p.rate(now).unwrap() - 14.0).abs() < 0.01, "{total}");
    }
}

#[test]
fn a_fleet_cut_is_taken_once_and_only_if_newer() {
    let (p, t0, demand) = asking(10);
    let cut = FleetCut {
        at: at(t0, 2000),
        w_max: 40.0,
    };
    p.set_fleet_view(at(t0, 2000), view(Some(cut), 4.0 * demand, 4));
    for i in 1..=20 {
        p.on_response(at(t0, 2000 + 100 * i), false, false, None);
    }
    let grown = p.rate(at(t0, 4000)).unwrap();
    assert!(grown > 7.0, "grew back after the cut: {grown}");
    // The same cut again, within the millisecond an exchange rounds to: no new cut.
    let again = FleetCut {
        at: at(t0, 2000) + Duration::from_micros(900),
        ..cut
    };
    p.set_fleet_view(at(t0, 4000), view(Some(again), 4.0 * demand, 4));
    assert_eq!(p.rate(at(t0, 4000)), Some(grown));
    // A later one restarts the curve from it.
    let later = FleetCut {
        at: at(t0, 4000),
        w_max: 20.0,
    };
    p.set_fleet_view(at(t0, 4000), view(Some(later), 4.0 * demand, 4));
    assert!((p.rate(at(t0, 4000)).unwrap() - 20.0 * 0.7 / 4.0).abs() < 0.01);
    // An older one does not.
    p.set_fleet_view(at(t0, 4000), view(Some(cut), 4.0 * demand, 4));
    assert!((p.rate(at(t0, 4000)).unwrap() - 20.0 * 0.7 / 4.0).abs() < 0.01);
    assert_eq!(p.cuts(), 0, "none of them was cut here");
}

#[test]
fn a_throttle_soon_after_a_fleet_cut_does_not_cut_again() {
    let (p, t0, demand) = asking(10);
    let cut = FleetCut {
        at: at(t0, 2000),
        w_max: 40.0,
    };
    p.set_fleet_view(at(t0, 2000), view(Some(cut), 4.0 * demand, 4));
    let rate = p.rate(at(t0, 2000)).unwrap();
    // Within settle (250 ms) plus the fleet's lag (250 ms): an answer to an attempt sent
    // before the cut reached this process.
    p.on_response(at(t0, 2450), true, false, None);
    assert_eq!(p.rate(at(t0, 2450)), Some(rate));
    assert_eq!(p.cuts(), 0);
    p.on_response(at(t0, 2550), true, false, None);
    assert!(p.rate(at(t0, 2550)).unwrap() < rate);
    assert_eq!(p.cuts(), 1);
}

#[test]
fn a_cut_here_is_reported_in_the_fleet_units_and_wakes_the_exchange() {
    let (p, t0, demand) = asking(10);
    let woken = std::sync::Arc::new(AtomicU64::new(0));
    let seen = woken.clone();
    assert!(p.on_cut(move || {
        seen.fetch_add(1, Ordering::Relaxed);
    }));
    // One of four equal processes: its share is a quarter.
    p.set_fleet_view(at(t0, 2000), view(None, 4.0 * demand, 4));
    for i in 0..20 {
        p.on_response(at(t0, 2000 + 100 * i), false, false, None);
    }
    p.on_response(at(t0, 4000), true, false, None);
    assert_eq!(woken.load(Ordering::Relaxed), 1);
    let report = p.fleet_report(at(t0, 4000));
    let cut = report.cut.expect("cut here");
    assert_eq!(cut.at, at(t0, 4000));
    // This process measured about ten answers a second: the fleet, about forty.
    assert!((cut.w_max - 40.0).abs() < 8.0, "{}", cut.w_max);
    let rate = p.rate(at(t0, 4000)).unwrap();
    assert!((rate - cut.w_max * 0.7 / 4.0).abs() < 0.01, "{rate}");
}

#[test]
fn a_cut_here_reads_the_fleet_measured_rate_while_it_is_fresh() {
    let (p, t0, demand) = asking(10);
    let mut fleet = view(None, 16.0 * demand, 16);
    fleet.answered = 30.0;
    p.set_fleet_view(at(t0, 2000), fleet);
    p.on_response(at(t0, 2100), true, false, None);
    let cut = p.fleet_report(at(t0, 2100)).cut.expect("cut here");
    assert_eq!(
        cut.w_max, 30.0,
        "the fleet's 30 a second, not this process's share"
    );
    // Two syncs later, with no word from the fleet, the process's own measure again.
    let (q, t0, _) = asking(10);
    q.set_fleet_view(at(t0, 2000), fleet);
    q.on_response(at(t0, 2600), true, false, None);
    let cut = q.fleet_report(at(t0, 2600)).cut.expect("cut here");
    assert_ne!(cut.w_max, 30.0);
}

proptest! {
    /// Whatever a fleet reports, this process paces to a share of the fleet's cut rate
    /// between a quarter of an equal share and all of it.
    #[test]
    fn a_fleet_share_is_bounded(
        w_max in 0.5f64..1e6,
        total in any::<f64>(),
        members in any::<u32>(),
        asked in 0u64..200,
    ) {
        let p = Pacer::default();
        let t0 = Instant::now();
        p.fleet_report(t0);
        for i in 0..asked {
            p.acquire(at(t0, i * 10), None);
        }
        let now = at(t0, 2000);
        p.fleet_report(now);
        let cut = FleetCut { at: now, w_max };
        p.set_fleet_view(now, view(Some(cut), total, members));
        let fleet = (w_max * 0.7).max(0.5);
        let rate = p.rate(now).expect("a cut paces");
        let floor = fleet * 0.25 / f64::from(members.max(1));
        prop_assert!(rate <= fleet * 1.000_001, "{rate} above the fleet's {fleet}");
        prop_assert!(rate >= floor * 0.999_999, "{rate} below the floor {floor}");
    }
}

#[test]
fn a_hold_never_moves_the_queue_back() {
    let p = Pacer::default();
    let now = Instant::now();
    p.set_fleet_rate(10.0, now, Duration::from_secs(60));
    // Five calls take the next half second's places; a 429 then holds 70 ms, less than
    // the queue already reaches: the next call still waits behind the five.
    for _ in 0..5 {
        p.acquire(now, None);
    }
    p.on_response(now, true, false, None);
    let (mut t, mut next) = (now, p.acquire(now, None));
    while let Acquire::Wait { wait, ticket } = next {
        t += wait;
        next = p.ready(t, ticket, None);
    }
    assert_eq!(next, Acquire::Go);
    assert!(t - now >= Duration::from_millis(500), "{:?}", t - now);
}

#[test]
fn a_cut_keeps_no_more_than_the_server_served() {
    // As below, but one answer in ten between the cuts is a 429 (a settle of 2 s keeps
    // them from cutting): the second cut keeps nine tenths of twenty a second, what the
    // server served, not the rate sent, nor the 0.7 cut alone.
    let config = PacerConfig {
        settle: Duration::from_secs(2),
        ..PacerConfig::default()
    };
    let (p, t0) = throttled_with(config, 20);
    for i in 1..=40 {
        p.on_response(at(t0, 2000 + i * 50), i % 10 == 5, false, None);
    }
    let before = p.rate(at(t0, 4000)).expect("pacing");
    p.on_response(at(t0, 4050), true, false, None);
    let rate = p.rate(at(t0, 4050)).expect("cut");
    assert!(before > 19.0, "{before}");
    assert!(
        (16.5..19.0).contains(&rate),
        "nine tenths of twenty a second: {rate} from {before}"
    );
}

#[test]
fn a_cut_keeps_the_rate_the_server_served() {
    // Twenty answers a second, a 429 (the first cut: 0.7 of twenty), twenty a second again
    // for two seconds, and a 429: the server served nearly all of them, so the second cut
    // keeps that, not 0.7 of it (an acceleration limit would lower its next allowance to
    // whatever is sent).
    let p = Pacer::default();
    let t0 = Instant::now();
    let answers = |from: u64| {
        for i in 0..40 {
            p.on_response(at(t0, from + i * 50), false, false, None);
        }
    };
    answers(0);
    p.on_response(at(t0, 2000), true, false, None);
    let first = p.rate(at(t0, 2000)).expect("cut");
    assert!(
        (first - 20.0 * 0.7).abs() < 1.0,
        "the first cut is 0.7's: {first}"
    );
    answers(2050);
    let before = p.rate(at(t0, 4000)).expect("pacing");
    p.on_response(at(t0, 4050), true, false, None);
    let rate = p.rate(at(t0, 4050)).expect("cut");
    assert!(
        rate > before * 0.7 + 2.0,
        "cut below the served rate: {rate} from {before}"
    );
    assert!(rate < before, "still a cut: {rate} from {before}");
    // A cut within SERVED_AFTER of the last reads meters that still show the rate before
    // it: the cut is 0.7's alone.
    p.on_response(at(t0, 4050 + 300), true, false, None);
    let again = p.rate(at(t0, 4350)).expect("pacing");
    assert!(again <= rate * 0.7 + 0.01, "{again} after {rate}");
}
