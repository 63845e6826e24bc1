//! What the fleet tests share: a real `redis-server` on a free loopback port, a tiny RESP
//! client to poke it (FLUSHALL, DEBUG SLEEP), a stand-in for the budget's counters, and a
//! way to run a test function in worker processes of its own.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redial::fleet::FleetCounters;

/// A `redis-server` started by the test, killed when dropped. No config file, no
/// persistence: `--save '' --appendonly no`.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free loopback port and waits until it answers PING.
    pub fn start() -> RedisServer {
        let port = free_port();
        let mut server = RedisServer { port, child: None };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not on PATH: run scripts/test.sh, which installs it");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.try_cmd(&["PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL) and waits for it to go.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Sends a signal to the process (`STOP`, `CONT`).
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{name} {pid}");
    }

    /// One command; the reply's first line (`+OK`, `:3`, `$5` …), or None if unreachable.
    pub fn try_cmd(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(req.as_bytes()).ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        Some(line.trim_end().to_string())
    }

    pub fn cmd(&self, args: &[&str]) -> String {
        self.try_cmd(args)
            .unwrap_or_else(|| panic!("redis {args:?}"))
    }

    /// The keys the fleet put in Redis.
    pub fn key_count(&self) -> usize {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.write_all(b"*1\r\n$6\r\nDBSIZE\r\n").expect("write");
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).expect("read");
        let reply = String::from_utf8_lossy(&buf[..n]);
        reply
            .trim()
            .trim_start_matches(':')
            .parse()
            .expect("an integer reply")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused server must be woken to die promptly on some systems.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
    }
}

/// A port nothing listens on now (the OS picks it; the listener is closed at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A stand-in for the budget's counters: `N` additive counters, the local counts since the
/// last sync, and the last fleet view (None: local state only).
pub struct Tally {
    local: [AtomicU64; 2],
    pub view: Mutex<Option<[u64; 2]>>,
    pub fallbacks: AtomicU64,
    pub bucket: Duration,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            local: Default::default(),
            view: Mutex::new(None),
            fallbacks: AtomicU64::new(0),
            bucket: Duration::from_secs(1),
        }
    }

    pub fn add(&self, i: usize, n: u64) {
        self.local[i].fetch_add(n, Ordering::Relaxed);
    }

    pub fn view(&self) -> Option<[u64; 2]> {
        *self.view.lock().expect("not poisoned")
    }
}

impl FleetCounters for Tally {
    fn len(&self) -> usize {
        2
    }
    fn bucket(&self) -> Duration {
        self.bucket
    }
    fn window(&self) -> u32 {
        30
    }
    fn take_local_deltas(&self, out: &mut [u64]) {
        for (o, c) in out.iter_mut().zip(&self.local) {
            *o = c.swap(0, Ordering::Relaxed);
        }
    }
    fn set_fleet_view(&self, totals: &[u64], _latest: &[u64], _at: Instant, _fresh_for: Duration) {
        let mut v = [0; 2];
        v.copy_from_slice(&totals[..2]);
        *self.view.lock().expect("not poisoned") = Some(v);
    }
    fn fall_back_to_local(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        *self.view.lock().expect("not poisoned") = None;
    }
}

/// Polls `check` every 10 ms until it holds or `limit` passes; true if it held.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The environment variable that makes a test binary's `worker` test act as a worker.
pub const WORKER: &str = "REDIAL_FLEET_WORKER";

/// Runs the ignored test `name` of this test binary in a process of its own, with `env`.
pub fn spawn_worker(name: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(WORKER, "1")
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn a worker")
}

/// Waits for a worker (killing it past `limit`) and returns what follows `result ` on the
/// lines it printed (libtest may print its own words before it). Panics if it failed.
pub fn finish_worker(mut child: Child, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().expect("wait on a worker") {
            Some(_) => break,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("a worker ran past {limit:?}");
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    let status = child.wait().expect("status");
    assert!(status.success(), "a worker failed:\n{out}");
    out.lines()
        .filter_map(|l| l.find("result ").map(|at| l[at + 7..].to_string()))
        .collect()
}

/// An environment variable a worker needs.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("worker: {name} is not set"))
}
