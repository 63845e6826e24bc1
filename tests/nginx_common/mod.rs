//! A real nginx `limit_req` on loopback for the pacer's tests (issue 18): [`Nginx`] starts
//! one on a free port, as `fleet_common`'s `RedisServer` starts redis-server, and
//! [`Nginx::measure`] runs open-loop demand against it through the `ureq` adapter, in one
//! process or several, and counts what came back ([`Figures`]).
//!
//! A test binary that measures with more than one process must have the worker test:
//!
//! ```ignore
//! #[test]
//! #[ignore = "a worker process of Nginx::measure, which runs it"]
//! fn nginx_worker() {
//!     nginx_common::worker();
//! }
//! ```

#![allow(dead_code)]

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// Every redial path this rig names, in one place: the crate's public paths are being
// reorganised. `Policy::to_toml` and `from_toml` carry a policy to the worker processes.
use redial::BlockingRetryable;
pub use redial::Policy;

#[path = "../process_common/mod.rs"]
mod process_common;

use process_common::{env, finish_worker, on_a_free_port, spawn_server, spawn_worker, WORKER};

/// What to say when nginx cannot be found or run.
const MISSING: &str =
    "nginx is not installed (neither on PATH nor in /usr/sbin): run scripts/test.sh, which installs it";

/// The name of the worker test [`Nginx::measure`] runs in each worker process.
const WORKER_TEST: &str = "nginx_worker";

/// An nginx started by the test, killed when dropped: one server on a loopback port whose
/// every path is limited by one `limit_req` zone (`nodelay`). A request let through gets
/// 200 with the body `ok\n`; the excess gets 429 at once with `Retry-After: 1`, and does
/// not fill the bucket. `/pid` (not limited) answers the server's pid.
///
/// nginx counts in milliseconds: each request let through adds 1000 / rate ms of excess,
/// which drains at 1 ms a millisecond; a request is refused when the excess would exceed
/// `burst` requests' worth. So at 1 r/s with no burst, two requests 999 ms apart collide
/// and two 1000 ms apart do not.
pub struct Nginx {
    pub port: u16,
    /// The `limit_req_zone` rate, requests a second.
    pub rate_per_s: f64,
    /// The `limit_req` burst: requests let through at once beyond the rate.
    pub burst: u32,
    dir: PathBuf,
    child: Option<Child>,
}

impl Nginx {
    /// Starts one limiting to `rate_per_s` (a whole number a second, or of a minute: 0.5 is
    /// written `30r/m`) with `burst`, on a free loopback port, and waits until it answers
    /// as this child. Its config, pid file, logs and temp paths are in a temp dir of its
    /// own, so it runs as any user. Another port is tried when the port was taken.
    pub fn start(rate_per_s: f64, burst: u32) -> Nginx {
        let program = program();
        let dir = temp_dir();
        std::fs::create_dir_all(dir.join("www")).expect("nginx's temp dir");
        std::fs::write(dir.join("www/ok"), "ok\n").expect("nginx's body");
        let rate = rate_directive(rate_per_s);
        let log = dir.join("error.log");
        let (port, child) = on_a_free_port("nginx", |port| {
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, config(&dir, port, &rate, burst)).expect("nginx's config");
            let _ = std::fs::remove_file(&log);
            let mut command = Command::new(&program);
            command
                .arg("-p")
                .arg(&dir)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(&log);
            let Some(child) = spawn_server(command, "nginx", MISSING, || answering_pid(port))
            else {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(
                    said.contains("Address already in use") || said.is_empty(),
                    "nginx did not start:\n{said}"
                );
                return None;
            };
            Some((port, child))
        });
        Nginx {
            port,
            rate_per_s,
            burst,
            dir,
            child: Some(child),
        }
    }

    /// The URL of a limited path.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/messages", self.port)
    }

    /// Runs `demand_per_s` calls a second for `seconds`, spread evenly over `processes`
    /// (this one alone for 1, else worker processes of this test binary that start
    /// together), each call `GET` through the `ureq` adapter under `policy` with one
    /// `Policy` and one agent per process, arrivals evenly spaced (open loop: a call
    /// starts on time however long the others take). Returns once every call has ended.
    pub fn measure(
        &self,
        processes: usize,
        demand_per_s: f64,
        seconds: u32,
        policy: &Policy,
    ) -> Figures {
        assert!(processes >= 1 && demand_per_s > 0.0 && seconds >= 1);
        let share = demand_per_s / processes as f64;
        let mut figures = if processes == 1 {
            drive(&self.url(), share, seconds, policy, SystemTime::now())
        } else {
            // Time for every worker to start before the first call is due.
            let epoch = SystemTime::now() + Duration::from_millis(300 + 60 * processes as u64);
            let epoch_ms = epoch
                .duration_since(UNIX_EPOCH)
                .expect("after 1970")
                .as_millis();
            let env = [
                ("NGINX_URL", self.url()),
                ("NGINX_DEMAND", share.to_string()),
                ("NGINX_SECONDS", seconds.to_string()),
                ("NGINX_EPOCH_MS", epoch_ms.to_string()),
                ("NGINX_POLICY", policy.to_toml()),
            ];
            let workers: Vec<Child> = (0..processes)
                .map(|_| spawn_worker(WORKER_TEST, &env))
                .collect();
            let limit = Duration::from_secs(u64::from(seconds) + 60);
            let mut total = Figures::default();
            for line in workers.into_iter().flat_map(|w| finish_worker(w, limit)) {
                total.add(&line.parse().expect("a worker's figures"));
            }
            total
        };
        figures.processes = processes;
        figures.demand_per_s = demand_per_s;
        figures.limit_per_s = self.rate_per_s;
        figures
    }

    /// Kills it (SIGKILL) and waits for it to go.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The worker test's body: measures its share of the demand that [`Nginx::measure`] put
/// in its environment, from the common start, and prints its figures. Does nothing
/// outside a worker process.
pub fn worker() {
    if std::env::var(WORKER).is_err() {
        return;
    }
    let policy = Policy::from_toml(&env("NGINX_POLICY")).expect("the policy loads back");
    let number = |name| env(name).parse::<f64>().expect("a number");
    let epoch = UNIX_EPOCH + Duration::from_millis(number("NGINX_EPOCH_MS") as u64);
    let seconds = number("NGINX_SECONDS") as u32;
    let figures = drive(
        &env("NGINX_URL"),
        number("NGINX_DEMAND"),
        seconds,
        &policy,
        epoch,
    );
    println!("result {}", figures.to_line());
}

/// One process's part of a run: `demand_per_s` calls a second from `epoch` for
/// `seconds`, each on a thread of its own, all joined.
fn drive(
    url: &str,
    demand_per_s: f64,
    seconds: u32,
    policy: &Policy,
    epoch: SystemTime,
) -> Figures {
    // A policy that names a fleet (`[fleet]`) joins it: its pacer then learns one rate
    // with every process of the fleet.
    #[cfg(feature = "redis")]
    let policy = &policy
        .clone()
        .join_fleet()
        .expect("the fleet's settings are valid");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let start = match epoch.duration_since(SystemTime::now()) {
        Ok(ahead) => Instant::now() + ahead,
        Err(late) => Instant::now() - late.duration(),
    };
    let calls = (demand_per_s * f64::from(seconds)).round() as u64;
    let tally = Mutex::new(Figures {
        seconds,
        calls,
        ..Figures::default()
    });
    let second = |at: Instant| at.saturating_duration_since(start).as_secs() as usize;
    std::thread::scope(|scope| {
        for i in 0..calls {
            let due = start + Duration::from_secs_f64(i as f64 / demand_per_s);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let (agent, tally) = (&agent, &tally);
            scope.spawn(move || {
                let began = Instant::now();
                let attempt = || {
                    let answer = agent.get(url).call();
                    let status = answer.as_ref().map(|r| r.status().as_u16()).ok();
                    tally
                        .lock()
                        .expect("not poisoned")
                        .answer(status, second(Instant::now()));
                    answer
                };
                let result = attempt.retry(policy).call();
                if let Ok(mut response) = result {
                    let _ = response.body_mut().read_to_string();
                    tally.lock().expect("not poisoned").served += 1;
                }
                let took = began.elapsed();
                let mut tally = tally.lock().expect("not poisoned");
                tally.slowest = tally.slowest.max(took);
            });
        }
    });
    tally.into_inner().expect("not poisoned")
}

/// What a run measured, summed over its processes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub processes: usize,
    /// Calls started a second, over all processes.
    pub demand_per_s: f64,
    /// How long calls were started for.
    pub seconds: u32,
    /// The server's rate.
    pub limit_per_s: f64,
    /// Calls started; every one has ended when the figures are handed back.
    pub calls: u64,
    /// Calls that ended in success (a 200).
    pub served: u64,
    /// 200 answers by the second of the run they came in (0: the first call's second); a
    /// call's retries may come in after `seconds`.
    pub ok_by_second: Vec<u64>,
    /// 429 answers, likewise.
    pub throttled_by_second: Vec<u64>,
    /// Attempts that got neither 200 nor 429 (transport failures included).
    pub other: u64,
    /// The longest call, from its first attempt to its end, waits included.
    pub slowest: Duration,
}

impl Figures {
    /// 429 answers over the whole run.
    pub fn throttled(&self) -> u64 {
        self.throttled_by_second.iter().sum()
    }

    /// 429 answers per call served, over the whole run.
    pub fn throttled_per_served(&self) -> f64 {
        self.throttled() as f64 / self.served.max(1) as f64
    }

    /// 429 answers per 200 answer, over seconds `from..seconds` (a bound leaves the first
    /// seconds out, where the burst is spent).
    pub fn throttled_per_served_from(&self, from: usize) -> f64 {
        let window = |by: &[u64]| -> u64 { by.iter().skip(from).take(self.window_len(from)).sum() };
        window(&self.throttled_by_second) as f64 / window(&self.ok_by_second).max(1) as f64
    }

    /// 200 answers a second over seconds `from..seconds`, as a share of the limit.
    pub fn share_of_limit_from(&self, from: usize) -> f64 {
        let len = self.window_len(from);
        let ok: u64 = self.ok_by_second.iter().skip(from).take(len).sum();
        ok as f64 / len.max(1) as f64 / self.limit_per_s
    }

    /// The first second of the steady part: a sixth of the run is left out, at least the
    /// first second (issue 18 leaves out 20 s of 120).
    pub fn steady_from(&self) -> usize {
        (self.seconds as usize / 6).max(1)
    }

    fn window_len(&self, from: usize) -> usize {
        (self.seconds as usize).saturating_sub(from)
    }

    /// Counts one attempt's answer (its status, None for a transport failure) in `second`.
    fn answer(&mut self, status: Option<u16>, second: usize) {
        let by = match status {
            Some(200) => &mut self.ok_by_second,
            Some(429) => &mut self.throttled_by_second,
            _ => {
                self.other += 1;
                return;
            }
        };
        if by.len() <= second {
            by.resize(second + 1, 0);
        }
        by[second] += 1;
    }

    /// Adds another process's figures to these.
    fn add(&mut self, other: &Figures) {
        self.seconds = self.seconds.max(other.seconds);
        self.calls += other.calls;
        self.served += other.served;
        self.other += other.other;
        self.slowest = self.slowest.max(other.slowest);
        for (mine, theirs) in [
            (&mut self.ok_by_second, &other.ok_by_second),
            (&mut self.throttled_by_second, &other.throttled_by_second),
        ] {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
    }

    /// A worker's figures on one line, as [`str::parse`] reads them back.
    fn to_line(&self) -> String {
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        format!(
            "{} {} {} {} {} ok={} throttled={}",
            self.seconds,
            self.calls,
            self.served,
            self.other,
            self.slowest.as_micros(),
            list(&self.ok_by_second),
            list(&self.throttled_by_second),
        )
    }
}

impl std::str::FromStr for Figures {
    type Err = String;

    fn from_str(line: &str) -> Result<Figures, String> {
        let bad = || format!("not a worker's figures: {line}");
        let words: Vec<&str> = line.split_whitespace().collect();
        let [seconds, calls, served, other, slowest, ok, throttled] = words[..] else {
            return Err(bad());
        };
        let int = |w: &str| w.parse::<u64>().map_err(|_| bad());
        let list = |w: &str, key: &str| -> Result<Vec<u64>, String> {
            let w = w.strip_prefix(key).ok_or_else(bad)?;
            w.split(',').filter(|s| !s.is_empty()).map(int).collect()
        };
        Ok(Figures {
            seconds: int(seconds)? as u32,
            calls: int(calls)?,
            served: int(served)?,
            other: int(other)?,
            slowest: Duration::from_micros(int(slowest)?),
            ok_by_second: list(ok, "ok=")?,
            throttled_by_second: list(throttled, "throttled=")?,
            ..Figures::default()
        })
    }
}

/// One row of issue 18's table: the whole run, then its steady part.
impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self.steady_from();
        write!(
            f,
            "{} process(es), demand {}/s for {} s against {} r/s: {} calls, {} served, \
             {} 429s ({:.2} per served call), {} other answers, slowest call {:.2} s; \
             seconds {from}-{}: {:.2} 429s per 200, {:.0} % of the limit served",
            self.processes,
            self.demand_per_s,
            self.seconds,
            self.limit_per_s,
            self.calls,
            self.served,
            self.throttled(),
            self.throttled_per_served(),
            self.other,
            self.slowest.as_secs_f64(),
            self.seconds,
            self.throttled_per_served_from(from),
            100.0 * self.share_of_limit_from(from),
        )
    }
}

/// nginx's program: on PATH, or in /usr/sbin where Debian puts it (off a normal user's
/// PATH).
fn program() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{MISSING}"))
}

/// A fresh temp dir for one nginx.
fn temp_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("redial-nginx-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `rate=`'s value: whole requests a second, else a minute (nginx takes no fraction).
fn rate_directive(rate_per_s: f64) -> String {
    let per_minute = rate_per_s * 60.0;
    if rate_per_s >= 1.0 && rate_per_s.fract() == 0.0 {
        format!("{rate_per_s}r/s")
    } else if per_minute >= 1.0 && per_minute.fract() == 0.0 {
        format!("{per_minute}r/m")
    } else {
        panic!("nginx's rate is whole requests a second or a minute, not {rate_per_s}/s")
    }
}

/// The whole config: one process in the foreground, everything it writes in `dir`.
fn config(dir: &Path, port: u16, rate: &str, burst: u32) -> String {
    let dir = dir.display();
    // nginx refuses `burst=0`: no burst is no `burst`.
    let burst = match burst {
        0 => String::new(),
        n => format!(" burst={n}"),
    };
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type text/plain;
    # One bucket for the server. An empty key is not counted, so the server has a name.
    limit_req_zone $server_name zone=one:1m rate={rate};
    limit_req_status 429;
    # add_header leaves out a header whose value is empty: Retry-After on 429s only.
    map $status $retry_after {{ 429 1; default ""; }}
    server {{
        listen 127.0.0.1:{port};
        server_name redial-test;
        root {dir}/www;
        location / {{
            limit_req zone=one{burst} nodelay;
            add_header Retry-After $retry_after always;
            # A file, not `return`: `return` answers in the rewrite phase, before
            # limit_req counts anything.
            try_files /ok =404;
        }}
        location = /pid {{ return 200 "$pid\n"; }}
    }}
}}
"#
    )
}

/// The pid of the nginx answering `/pid` on `port`, if one does.
fn answering_pid(port: u16) -> Option<u32> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /pid HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    body.trim().parse().ok()
}
