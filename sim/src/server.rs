//! The modelled server: workers, a FIFO queue, and the scripted incidents.
//!
//! Times are virtual nanoseconds since the start of the run. The server never schedules
//! anything itself: [`Server::arrive`] and [`Server::complete`] say what happens and when,
//! and the engine puts it on its event queue.

use std::collections::VecDeque;

use http::{HeaderMap, HeaderValue, StatusCode};

use super::scenario::{Failure, HintHeader, IncidentKind, Scenario};
use super::SimulateError;
use crate::{mix, nanos};

const SECOND: u64 = 1_000_000_000;

/// What the server answers, as the client will read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reply {
    /// A status and one of the prebuilt header maps (so answering allocates nothing).
    Response {
        status: StatusCode,
        /// Index into [`Server::headers`]; 0 is the empty map.
        headers: u32,
    },
    /// The connection was refused: the client reads a connect failure.
    Refused,
    /// No answer ever reaches the client: it times out.
    Lost,
}

impl Reply {
    pub(super) const OK: Reply = Reply::status(StatusCode::OK);

    /// A status with no headers.
    const fn status(status: StatusCode) -> Reply {
        Reply::Response { status, headers: 0 }
    }

    pub(super) fn is_success(&self) -> bool {
        matches!(self, Reply::Response { status, .. } if status.is_success())
    }
}

/// What happens to a request that reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Answered at once, without using a worker ([`Reply::Lost`]: never answered).
    Reply(Reply),
    /// A worker took it; it completes at `done_at` with `reply`.
    Serve { done_at: u64, reply: Reply },
    /// Every worker is busy; it waits in the queue, to be answered with `reply`.
    Queued(Reply),
}

#[derive(Clone, Copy, Debug)]
struct Window {
    /// Which window of the incident the count is for.
    index: u64,
    count: u32,
}

#[derive(Clone, Copy, Debug)]
struct Active {
    start: u64,
    end: u64,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Outage {
        reply: Reply,
    },
    Brownout {
        fail_fraction: f64,
        reply: Reply,
    },
    RateLimit {
        limit: u32,
        window: u64,
        /// The header map for "0 seconds"; `secs` seconds is at `first_header + secs`.
        first_header: u32,
        /// The largest number of seconds with a map of its own.
        most_secs: u64,
        /// Index into `Server::windows`.
        slot: usize,
    },
    Overload {
        factor: f64,
    },
    LeakyBucket {
        /// Requests drained per nanosecond.
        per_ns: f64,
        /// The most the bucket holds before the request being let through.
        burst: f64,
        /// The map with `Retry-After: 1`.
        header: u32,
        /// Index into `Server::levels`.
        slot: usize,
    },
    Acceleration {
        floor: f64,
        slope: f64,
        /// The map with `Retry-After: 1`.
        header: u32,
        /// Index into `Server::windows` (this window) and `Server::previous`.
        slot: usize,
    },
}

/// A leaky bucket's level (requests) when it was last filled, and when.
#[derive(Clone, Copy, Debug, Default)]
struct Level {
    level: f64,
    at: u64,
}

/// Which attempt reaches the server: the fleet's call `call` (0 for the first call to
/// start, in arrival order), its attempt `attempt` (0 for the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Attempt {
    pub(super) call: u64,
    pub(super) attempt: u32,
}

/// The generator stream of the server's coin (see [`coin`]).
const COIN: u64 = 3;

/// The server's coin for `attempt` and incident `incident`: uniform in `[0, 1)`, drawn
/// from the seed, the call's index, the attempt's number and the incident's alone, so that
/// two policies run on the same seed see the same attempts fail, whatever else differs.
pub(crate) fn coin(seed: u64, attempt: Attempt, incident: usize) -> f64 {
    let call = mix(seed, COIN, attempt.call);
    let stream = (incident as u64).saturating_add(1);
    let x = mix(call, stream, u64::from(attempt.attempt));
    // The top 53 bits, as fastrand's f64 does.
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The server's state during a run.
#[derive(Debug)]
pub(super) struct Server {
    service: u64,
    concurrency: u32,
    queue_limit: usize,
    shed: Reply,
    busy: u32,
    /// Waiting requests: their call and the answer they will get.
    queue: VecDeque<(u32, Reply)>,
    incidents: Vec<Active>,
    windows: Vec<Window>,
    /// What the previous window let through, per acceleration limit (by `slot`, as
    /// `windows`).
    previous: Vec<u32>,
    levels: Vec<Level>,
    /// The header maps replies point into, built once before the run.
    pub(super) headers: Vec<HeaderMap>,
    seed: u64,
}

fn status(code: u16, field: &'static str) -> Result<StatusCode, SimulateError> {
    StatusCode::from_u16(code)
        .ok()
        .filter(|_| (100..600).contains(&code))
        .ok_or_else(|| SimulateError::invalid(field, "a status from 100 to 599", code))
}

/// The reply of a failure; `field` names the incident's status for an error. A 429 that
/// states a wait adds its header map to `headers`.
fn failure(
    f: Failure,
    field: &'static str,
    headers: &mut Vec<HeaderMap>,
) -> Result<Reply, SimulateError> {
    Ok(match f {
        Failure::Status(code) => Reply::status(status(code, field)?),
        Failure::Refused => Reply::Refused,
        Failure::Timeout => Reply::Lost,
        Failure::Throttled { wait_ms } => {
            let map = if wait_ms % 1000 == 0 {
                hint_headers(HintHeader::RetryAfter, u64::from(wait_ms / 1000))?
            } else {
                let mut map = HeaderMap::new();
                map.insert("retry-after-ms", HeaderValue::from(wait_ms));
                map
            };
            Reply::Response {
                status: StatusCode::TOO_MANY_REQUESTS,
                headers: push(headers, map),
            }
        }
    })
}

/// What an acceleration limit's 429 says: `Retry-After: 1`, and the quota it is far
/// under (`x-ratelimit-*`: 90,000 of 100,000 requests left for a minute), as the API
/// whose surges it models states it on every answer. The quota engages the presets'
/// pacer, and never binds.
fn under_quota() -> Result<HeaderMap, SimulateError> {
    let mut map = hint_headers(HintHeader::RetryAfter, 1)?;
    map.insert("x-ratelimit-limit", HeaderValue::from_static("100000"));
    map.insert("x-ratelimit-remaining", HeaderValue::from_static("90000"));
    map.insert("x-ratelimit-reset", HeaderValue::from_static("60"));
    Ok(map)
}

/// Adds a prebuilt header map; returns its index, as a reply names it.
fn push(headers: &mut Vec<HeaderMap>, map: HeaderMap) -> u32 {
    headers.push(map);
    u32::try_from(headers.len() - 1).unwrap_or(u32::MAX)
}

impl Server {
    /// A healthy server with the scenario's incidents compiled in. The scenario's seed
    /// decides which requests fail in a brown-out (see [`coin`]).
    pub(super) fn new(scenario: &Scenario) -> Result<Server, SimulateError> {
        let model = &scenario.server;
        let mut headers = vec![HeaderMap::new()];
        let mut incidents = Vec::with_capacity(scenario.incidents.len());
        let mut windows = Vec::new();
        let mut previous = Vec::new();
        let mut levels = Vec::new();
        // `Retry-After: 1`, for the limiters that say it, built once.
        let mut one_second = None;
        let mut retry_in_one = |headers: &mut Vec<HeaderMap>| -> Result<u32, SimulateError> {
            if let Some(i) = one_second {
                return Ok(i);
            }
            let i = push(headers, hint_headers(HintHeader::RetryAfter, 1)?);
            one_second = Some(i);
            Ok(i)
        };
        for incident in &scenario.incidents {
            let kind = match incident.kind {
                IncidentKind::Outage { failure: f } => Kind::Outage {
                    reply: failure(f, "incidents.outage.status", &mut headers)?,
                },
                IncidentKind::Brownout {
                    fail_fraction,
                    failure: f,
                } => Kind::Brownout {
                    fail_fraction,
                    reply: failure(f, "incidents.brownout.status", &mut headers)?,
                },
                IncidentKind::RateLimit {
                    limit,
                    window,
                    header,
                } => {
                    let window = nanos(window);
                    let first_header = u32::try_from(headers.len()).unwrap_or(u32::MAX);
                    // A 429 says how many whole seconds are left in the window: from 0 to
                    // the window's length rounded up. One map per value, built here, so
                    // that answering a 429 in the run allocates nothing.
                    let most_secs = window.div_ceil(SECOND);
                    for secs in 0..=most_secs {
                        headers.push(hint_headers(header, secs)?);
                    }
                    windows.push(Window { index: 0, count: 0 });
                    Kind::RateLimit {
                        limit,
                        window,
                        first_header,
                        most_secs,
                        slot: windows.len() - 1,
                    }
                }
                IncidentKind::Overload { capacity_factor } => Kind::Overload {
                    factor: capacity_factor,
                },
                IncidentKind::LeakyBucket { rate, burst } => {
                    levels.push(Level::default());
                    Kind::LeakyBucket {
                        per_ns: rate / 1e9,
                        burst: f64::from(burst),
                        header: retry_in_one(&mut headers)?,
                        slot: levels.len() - 1,
                    }
                }
                IncidentKind::Acceleration { floor, slope } => {
                    windows.push(Window { index: 0, count: 0 });
                    previous.push(0);
                    Kind::Acceleration {
                        floor,
                        slope,
                        header: push(&mut headers, under_quota()?),
                        slot: windows.len() - 1,
                    }
                }
            };
            incidents.push(Active {
                start: nanos(incident.start),
                end: nanos(incident.end()),
                kind,
            });
        }
        Ok(Server {
            service: nanos(model.service_time()).max(1),
            concurrency: model.concurrency,
            queue_limit: usize::try_from(model.queue).unwrap_or(usize::MAX),
            shed: Reply::status(status(model.shed_status, "server.shed_status")?),
            busy: 0,
            queue: VecDeque::new(),
            incidents,
            windows,
            previous,
            levels,
            headers,
            seed: scenario.seed,
        })
    }

    /// `attempt` of the engine's `call` reaches the server at `now`.
    pub(super) fn arrive(&mut self, call: u32, attempt: Attempt, now: u64) -> Admit {
        // A request meets the incidents in the order a real stack would: a dead backend
        // answers before anything else, a quota is checked at the edge, then the request
        // waits for a worker. A brown-out decides its fate here, from the coin, and a
        // refused connection fails at once.
        let mut reply = Reply::OK;
        for i in 0..self.incidents.len() {
            let Some(active) = self.incidents.get(i).copied() else {
                continue;
            };
            if now < active.start || now >= active.end {
                continue;
            }
            match active.kind {
                Kind::Outage { reply } => return Admit::Reply(reply),
                Kind::RateLimit {
                    limit,
                    window,
                    first_header,
                    most_secs,
                    slot,
                } => {
                    let since = now - active.start;
                    let index = since / window;
                    let Some(w) = self.windows.get_mut(slot) else {
                        continue;
                    };
                    if w.index != index {
                        *w = Window { index, count: 0 };
                    }
                    if w.count >= limit {
                        let window_end = active
                            .start
                            .saturating_add(index.saturating_add(1).saturating_mul(window));
                        let secs = window_end
                            .saturating_sub(now)
                            .div_ceil(SECOND)
                            .min(most_secs);
                        let offset = u32::try_from(secs).unwrap_or(u32::MAX);
                        return Admit::Reply(Reply::Response {
                            status: StatusCode::TOO_MANY_REQUESTS,
                            headers: first_header.saturating_add(offset),
                        });
                    }
                    w.count += 1;
                }
                Kind::Brownout {
                    fail_fraction,
                    reply: fail,
                } => {
                    if reply == Reply::OK && coin(self.seed, attempt, i) < fail_fraction {
                        if fail == Reply::Refused {
                            return Admit::Reply(fail);
                        }
                        reply = fail;
                    }
                }
                Kind::Overload { .. } => {}
                Kind::LeakyBucket {
                    per_ns,
                    burst,
                    header,
                    slot,
                } => {
                    let Some(l) = self.levels.get_mut(slot) else {
                        continue;
                    };
                    // As nginx: drain since the last request let through; a request that
                    // finds more than `burst` waiting is refused and leaves no trace.
                    let drained = (l.level - per_ns * now.saturating_sub(l.at) as f64).max(0.0);
                    if drained > burst {
                        return Admit::Reply(Reply::Response {
                            status: StatusCode::TOO_MANY_REQUESTS,
                            headers: header,
                        });
                    }
                    *l = Level {
                        level: drained + 1.0,
                        at: now,
                    };
                }
                Kind::Acceleration {
                    floor,
                    slope,
                    header,
                    slot,
                } => {
                    let index = (now - active.start) / SECOND;
                    let (Some(w), Some(prev)) =
                        (self.windows.get_mut(slot), self.previous.get_mut(slot))
                    else {
                        continue;
                    };
                    if w.index != index {
                        // An idle second in between lets nothing through.
                        *prev = if index == w.index + 1 { w.count } else { 0 };
                        *w = Window { index, count: 0 };
                    }
                    let allowed = floor.max(f64::from(*prev) + slope);
                    if f64::from(w.count) + 1.0 > allowed {
                        return Admit::Reply(Reply::Response {
                            status: StatusCode::TOO_MANY_REQUESTS,
                            headers: header,
                        });
                    }
                    w.count += 1;
                }
            }
        }
        if self.busy < self.concurrency {
            self.busy += 1;
            Admit::Serve {
                done_at: now.saturating_add(self.service_time(now)),
                reply,
            }
        } else if self.queue.len() < self.queue_limit {
            self.queue.push_back((call, reply));
            Admit::Queued(reply)
        } else {
            Admit::Reply(self.shed)
        }
    }

    /// A worker finishes a request at `now`. If a request was waiting, returns its call,
    /// the answer it will get and when it will complete.
    pub(super) fn complete(&mut self, now: u64) -> Option<(u32, Reply, u64)> {
        match self.queue.pop_front() {
            Some((call, reply)) => Some((call, reply, now.saturating_add(self.service_time(now)))),
            None => {
                self.busy = self.busy.saturating_sub(1);
                None
            }
        }
    }

    /// How long a request that starts being served at `now` takes: longer while an
    /// overload leaves the server a fraction of its capacity.
    fn service_time(&self, now: u64) -> u64 {
        let factor = self
            .incidents
            .iter()
            .filter(|a| now >= a.start && now < a.end)
            .fold(1.0_f64, |f, a| match a.kind {
                Kind::Overload { factor } => f * factor,
                _ => f,
            });
        if factor >= 1.0 {
            return self.service;
        }
        // `factor` is more than 0 (checked by validation), so this is finite; `as`
        // saturates at u64::MAX.
        (self.service as f64 / factor) as u64
    }
}

/// The headers of a 429 whose window ends in `secs` seconds.
fn hint_headers(header: HintHeader, secs: u64) -> Result<HeaderMap, SimulateError> {
    let mut map = HeaderMap::new();
    let bad = |_| SimulateError::invalid("incidents.ratelimit.window", "at most 1h", secs);
    match header {
        HintHeader::RetryAfter => {
            map.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        HintHeader::RateLimit => {
            let value = format!("\"default\";r=0;t={secs}");
            map.insert("ratelimit", HeaderValue::from_str(&value).map_err(bad)?);
        }
        HintHeader::None => {}
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Incident, ServerModel};
    use core::time::Duration;

    fn at(call: u64) -> Attempt {
        Attempt { call, attempt: 0 }
    }

    fn scenario(server: ServerModel, incidents: Vec<Incident>) -> Scenario {
        let mut s = Scenario::healthy();
        s.server = server;
        s.incidents = incidents;
        s
    }

    #[test]
    fn workers_then_queue_then_shed() {
        let s = scenario(ServerModel::new(10.0, 1, 1), vec![]);
        let mut server = Server::new(&s).unwrap();
        assert_eq!(
            server.arrive(0, at(0), 0),
            Admit::Serve {
                done_at: SECOND / 10,
                reply: Reply::OK,
            }
        );
        assert_eq!(server.arrive(1, at(1), 0), Admit::Queued(Reply::OK));
        let Admit::Reply(shed) = server.arrive(2, at(2), 0) else {
            panic!("a full queue sheds");
        };
        assert_eq!(shed, Reply::status(StatusCode::from_u16(529).unwrap()));
        let next = server.complete(SECOND / 10);
        assert_eq!(next, Some((1, Reply::OK, 2 * SECOND / 10)));
        assert_eq!(server.complete(2 * SECOND / 10), None);
        assert!(matches!(
            server.arrive(3, at(3), SECOND),
            Admit::Serve { .. }
        ));
    }

    #[test]
    fn rate_limit_says_when_the_window_ends() {
        let incident = Incident::new(
            Duration::from_secs(10),
            Duration::from_secs(100),
            IncidentKind::RateLimit {
                limit: 1,
                window: Duration::from_secs(10),
                header: HintHeader::RetryAfter,
            },
        );
        let s = scenario(ServerModel::new(1000.0, 10, 10), vec![incident]);
        let mut server = Server::new(&s).unwrap();
        let t = 12 * SECOND + 1;
        assert!(matches!(server.arrive(0, at(0), t), Admit::Serve { .. }));
        let Admit::Reply(reply) = server.arrive(1, at(1), t) else {
            panic!("over the limit");
        };
        let Reply::Response { status, headers } = reply else {
            panic!("{reply:?}");
        };
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let headers = &server.headers[headers as usize];
        assert_eq!(headers["retry-after"], "8");
        // The next window lets one through again.
        assert!(matches!(
            server.arrive(2, at(2), 20 * SECOND),
            Admit::Serve { .. }
        ));
    }

    fn is_429(admit: Admit) -> bool {
        matches!(
            admit,
            Admit::Reply(Reply::Response { status, .. }) if status == StatusCode::TOO_MANY_REQUESTS
        )
    }

    #[test]
    fn leaky_bucket_lets_the_rate_and_the_burst_through() {
        let incident = Incident::new(
            Duration::ZERO,
            Duration::from_secs(100),
            IncidentKind::LeakyBucket {
                rate: 10.0,
                burst: 2,
            },
        );
        let s = scenario(ServerModel::new(1000.0, 100, 100), vec![incident]);
        let mut server = Server::new(&s).unwrap();
        // One plus the burst at once, then the fourth is refused.
        for i in 0..3 {
            assert!(!is_429(server.arrive(i, at(u64::from(i)), SECOND)));
        }
        let refused = server.arrive(3, at(3), SECOND);
        assert!(is_429(refused));
        let Admit::Reply(Reply::Response { headers, .. }) = refused else {
            unreachable!()
        };
        assert_eq!(server.headers[headers as usize]["retry-after"], "1");
        // A tenth of a second drains one.
        assert!(!is_429(server.arrive(4, at(4), SECOND + SECOND / 10)));
        assert!(is_429(server.arrive(5, at(5), SECOND + SECOND / 10)));
        // Ten a second, evenly, go through forever.
        for i in 0..100u64 {
            let t = 3 * SECOND + i * SECOND / 10;
            assert!(!is_429(server.arrive(6, at(6 + i), t)), "{i}");
        }
    }

    #[test]
    fn acceleration_limits_the_rise_not_the_rate() {
        let incident = Incident::new(
            Duration::ZERO,
            Duration::from_secs(100),
            IncidentKind::Acceleration {
                floor: 2.0,
                slope: 1.0,
            },
        );
        let s = scenario(ServerModel::new(1000.0, 100, 100), vec![incident]);
        let mut server = Server::new(&s).unwrap();
        let mut let_through = |second: u64, n: u64| {
            (0..n)
                .filter(|&i| !is_429(server.arrive(0, at(i), second * SECOND + i)))
                .count()
        };
        assert_eq!(let_through(0, 10), 2, "the floor");
        assert_eq!(let_through(1, 10), 3, "the floor plus the slope");
        assert_eq!(let_through(2, 10), 4);
        assert_eq!(let_through(3, 4), 4, "a steady rate is never throttled");
        assert_eq!(let_through(4, 4), 4);
        assert_eq!(let_through(6, 10), 2, "an idle second resets it");
    }

    #[test]
    fn a_throttled_failure_says_its_wait_in_the_header_that_fits_it() {
        for (wait_ms, header, value) in [(20, "retry-after-ms", "20"), (2000, "retry-after", "2")] {
            let incidents = vec![Incident::new(
                Duration::ZERO,
                Duration::from_secs(1),
                IncidentKind::Outage {
                    failure: Failure::Throttled { wait_ms },
                },
            )];
            let s = scenario(ServerModel::new(10.0, 1, 0), incidents);
            let mut server = Server::new(&s).unwrap();
            let Admit::Reply(Reply::Response { status, headers }) = server.arrive(0, at(0), 0)
            else {
                panic!("throttled");
            };
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
            let map = &server.headers[headers as usize];
            assert_eq!(map.len(), 1, "{map:?}");
            assert_eq!(map.get(header).map(|v| v.to_str().unwrap()), Some(value));
        }
    }

    #[test]
    fn overload_slows_service_and_outage_answers_at_once() {
        let incidents = vec![
            Incident::new(
                Duration::from_secs(1),
                Duration::from_secs(1),
                IncidentKind::Overload {
                    capacity_factor: 0.5,
                },
            ),
            Incident::new(
                Duration::from_secs(3),
                Duration::from_secs(1),
                IncidentKind::Outage {
                    failure: Failure::Status(503),
                },
            ),
        ];
        let s = scenario(ServerModel::new(10.0, 1, 0), incidents);
        let mut server = Server::new(&s).unwrap();
        assert_eq!(
            server.arrive(0, at(0), SECOND),
            Admit::Serve {
                done_at: SECOND + SECOND / 5,
                reply: Reply::OK,
            }
        );
        let Admit::Reply(reply) = server.arrive(1, at(1), 3 * SECOND) else {
            panic!("down");
        };
        assert_eq!(reply, Reply::status(StatusCode::SERVICE_UNAVAILABLE));
    }
}
