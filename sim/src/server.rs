//! The modelled server: workers, a FIFO queue, and the scripted incidents.
//!
//! Times are virtual nanoseconds since the start of the run. The server never schedules
//! anything itself: [`Server::arrive`] and [`Server::complete`] say what happens and when,
//! and the engine puts it on its event queue.

use std::collections::VecDeque;

use fastrand::Rng;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::scenario::{HintHeader, IncidentKind, Scenario};
use super::SimulateError;
use crate::nanos;

const SECOND: u64 = 1_000_000_000;

/// What the server answers, as the client will read it: a status and one of the
/// prebuilt header maps (so answering allocates nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Reply {
    pub(super) status: StatusCode,
    /// Index into [`Server::headers`]; 0 is the empty map.
    pub(super) headers: u32,
}

impl Reply {
    pub(super) const OK: Reply = Reply {
        status: StatusCode::OK,
        headers: 0,
    };

    pub(super) fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

/// What happens to a request that reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Answered at once, without using a worker.
    Reply(Reply),
    /// A worker took it; it completes at this time.
    Serve { done_at: u64 },
    /// Every worker is busy; it waits in the queue.
    Queued,
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
        reply: StatusCode,
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
}

/// The server's state during a run.
#[derive(Debug)]
pub(super) struct Server {
    service: u64,
    concurrency: u32,
    queue_limit: usize,
    shed: Reply,
    busy: u32,
    queue: VecDeque<u32>,
    incidents: Vec<Active>,
    windows: Vec<Window>,
    /// The header maps replies point into, built once before the run.
    pub(super) headers: Vec<HeaderMap>,
    rng: Rng,
}

fn status(code: u16, field: &'static str) -> Result<StatusCode, SimulateError> {
    StatusCode::from_u16(code)
        .ok()
        .filter(|_| (100..600).contains(&code))
        .ok_or_else(|| SimulateError::invalid(field, "a status from 100 to 599", code))
}

impl Server {
    /// A healthy server with the scenario's incidents compiled in. `rng` decides which
    /// requests fail in a brown-out.
    pub(super) fn new(scenario: &Scenario, rng: Rng) -> Result<Server, SimulateError> {
        let model = &scenario.server;
        let mut headers = vec![HeaderMap::new()];
        let mut incidents = Vec::with_capacity(scenario.incidents.len());
        let mut windows = Vec::new();
        for incident in &scenario.incidents {
            let kind = match incident.kind {
                IncidentKind::Outage { status: code } => Kind::Outage {
                    reply: Reply {
                        status: status(code, "incidents.outage.status")?,
                        headers: 0,
                    },
                },
                IncidentKind::Brownout {
                    fail_fraction,
                    status: code,
                } => Kind::Brownout {
                    fail_fraction,
                    reply: status(code, "incidents.brownout.status")?,
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
            shed: Reply {
                status: status(model.shed_status, "server.shed_status")?,
                headers: 0,
            },
            busy: 0,
            queue: VecDeque::new(),
            incidents,
            windows,
            headers,
            rng,
        })
    }

    /// A request for `call` reaches the server at `now`.
    pub(super) fn arrive(&mut self, call: u32, now: u64) -> Admit {
        // A request meets the incidents in the order a real stack would: a dead backend
        // answers before anything else, a quota is checked at the edge, then the request
        // waits for a worker (and a brown-out decides its fate when it is served).
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
                        return Admit::Reply(Reply {
                            status: StatusCode::TOO_MANY_REQUESTS,
                            headers: first_header.saturating_add(offset),
                        });
                    }
                    w.count += 1;
                }
                Kind::Brownout { .. } | Kind::Overload { .. } => {}
            }
        }
        if self.busy < self.concurrency {
            self.busy += 1;
            Admit::Serve {
                done_at: now.saturating_add(self.service_time(now)),
            }
        } else if self.queue.len() < self.queue_limit {
            self.queue.push_back(call);
            Admit::Queued
        } else {
            Admit::Reply(self.shed)
        }
    }

    /// A worker finishes a request at `now`. Returns its answer and, if a request was
    /// waiting, that request's call and when it will complete.
    pub(super) fn complete(&mut self, now: u64) -> (Reply, Option<(u32, u64)>) {
        let reply = self.served_reply(now);
        let next = match self.queue.pop_front() {
            Some(call) => Some((call, now.saturating_add(self.service_time(now)))),
            None => {
                self.busy = self.busy.saturating_sub(1);
                None
            }
        };
        (reply, next)
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

    /// The answer for a request that was served: a success, unless a brown-out fails it.
    fn served_reply(&mut self, now: u64) -> Reply {
        for active in &self.incidents {
            if now < active.start || now >= active.end {
                continue;
            }
            if let Kind::Brownout {
                fail_fraction,
                reply,
            } = active.kind
            {
                if self.rng.f64() < fail_fraction {
                    return Reply {
                        status: reply,
                        headers: 0,
                    };
                }
            }
        }
        Reply::OK
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

    fn scenario(server: ServerModel, incidents: Vec<Incident>) -> Scenario {
        let mut s = Scenario::healthy();
        s.server = server;
        s.incidents = incidents;
        s
    }

    #[test]
    fn workers_then_queue_then_shed() {
        let s = scenario(ServerModel::new(10.0, 1, 1), vec![]);
        let mut server = Server::new(&s, Rng::with_seed(1)).unwrap();
        assert_eq!(
            server.arrive(0, 0),
            Admit::Serve {
                done_at: SECOND / 10
            }
        );
        assert_eq!(server.arrive(1, 0), Admit::Queued);
        let Admit::Reply(shed) = server.arrive(2, 0) else {
            panic!("a full queue sheds");
        };
        assert_eq!(shed.status.as_u16(), 529);
        let (reply, next) = server.complete(SECOND / 10);
        assert_eq!(reply, Reply::OK);
        assert_eq!(next, Some((1, 2 * SECOND / 10)));
        let (_, next) = server.complete(2 * SECOND / 10);
        assert_eq!(next, None);
        assert!(matches!(server.arrive(3, SECOND), Admit::Serve { .. }));
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
        let mut server = Server::new(&s, Rng::with_seed(1)).unwrap();
        let t = 12 * SECOND + 1;
        assert!(matches!(server.arrive(0, t), Admit::Serve { .. }));
        let Admit::Reply(reply) = server.arrive(1, t) else {
            panic!("over the limit");
        };
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        let headers = &server.headers[reply.headers as usize];
        assert_eq!(headers["retry-after"], "8");
        // The next window lets one through again.
        assert!(matches!(server.arrive(2, 20 * SECOND), Admit::Serve { .. }));
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
                IncidentKind::Outage { status: 503 },
            ),
        ];
        let s = scenario(ServerModel::new(10.0, 1, 0), incidents);
        let mut server = Server::new(&s, Rng::with_seed(1)).unwrap();
        assert_eq!(
            server.arrive(0, SECOND),
            Admit::Serve {
                done_at: SECOND + SECOND / 5
            }
        );
        let Admit::Reply(reply) = server.arrive(1, 3 * SECOND) else {
            panic!("down");
        };
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
