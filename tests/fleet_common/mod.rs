//! What the fleet tests share: a real `redis-server` on a free loopback port, a tiny RESP
//! client to poke it (FLUSHALL, DEBUG SLEEP), a stand-in for the budget's counters, and a
//! way to run a test function in worker processes of its own.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redial::fleet::FleetCounters;

#[path = "../process_common/mod.rs"]
mod process_common;

// For the tests that run workers; not every test binary that starts a Redis does.
#[allow(unused_imports)]
pub use process_common::{env, finish_worker, spawn_worker, WORKER};
use process_common::{on_a_free_port, spawn_server};

/// A `redis-server` started by the test, killed when dropped. No config file, no
/// persistence: `--save '' --appendonly no`.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free loopback port and waits until it answers PING as this child
    /// (see `process_common::spawn_server`).
    pub fn start() -> RedisServer {
        on_a_free_port("redis-server", |port| {
            let mut server = RedisServer { port, child: None };
            server.spawn().then_some(server)
        })
    }

    /// Starts the process on `self.port`; true once it answers PING as this child.
    fn spawn(&mut self) -> bool {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local"]);
        let probe = RedisServer {
            port: self.port,
            child: None,
        };
        self.child = spawn_server(
            command,
            "redis-server",
            "redis-server is not on PATH: run scripts/test.sh, which installs it",
            || probe.answering_pid(),
        );
        self.child.is_some()
    }

    /// The pid of the server answering PING on the port, if one does.
    fn answering_pid(&self) -> Option<u32> {
        if self.try_cmd(&["PING"]).as_deref() != Some("+PONG") {
            return None;
        }
        self.pid()
    }

    /// The pid of the server answering on the port (`INFO server`'s `process_id`).
    fn pid(&self) -> Option<u32> {
        let info = self.bulk(&["INFO", "server"])?;
        info.lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|p| p.trim().parse().ok())
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
        assert!(
            self.spawn(),
            "redis-server did not start again on {}",
            self.port
        );
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
        stream.write_all(&request(args)).ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        Some(line.trim_end().to_string())
    }

    /// One command whose reply is a bulk string (`INFO`, `HGET`), read whole; None if
    /// unreachable or nil.
    pub fn bulk(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(&request(args)).ok()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let len: usize = line.trim_end().strip_prefix('$')?.parse().ok()?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).ok()?;
        String::from_utf8(body).ok()
    }

    /// Sends a command and does not wait for its reply (`DEBUG SLEEP 5`): the connection
    /// comes back, to be dropped when the caller is done with it.
    pub fn send(&self, args: &[&str]) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.write_all(&request(args)).expect("write");
        stream
    }

    /// The keys that match `pattern` (`KEYS`), sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a timeout");
        (&stream)
            .write_all(&request(&["KEYS", pattern]))
            .expect("write");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        let n: usize = line
            .trim_end()
            .strip_prefix('*')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("KEYS replied {line}"));
        let mut keys: Vec<String> = (0..n)
            .map(|_| {
                let mut len = String::new();
                reader.read_line(&mut len).expect("read");
                let mut key = String::new();
                reader.read_line(&mut key).expect("read");
                key.trim_end().to_string()
            })
            .collect();
        keys.sort();
        keys
    }

    /// The integer a command replies (`:42`), e.g. `PTTL`, `EXISTS`.
    pub fn int(&self, args: &[&str]) -> i64 {
        let reply = self.cmd(args);
        reply
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("redis {args:?}: {reply}"))
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

/// A command in RESP, as redis-cli sends it.
fn request(args: &[&str]) -> Vec<u8> {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    req.into_bytes()
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

/// A stand-in for the budget's counters: `N` additive counters, the local counts since the
/// last sync, and the last fleet view (None: local state only), with every view the
/// exchange handed over (when it stood, the totals, how long it is good for).
pub struct Tally {
    local: [AtomicU64; 2],
    pub view: Mutex<Option<[u64; 2]>>,
    pub views: Mutex<Vec<View>>,
    pub fallbacks: AtomicU64,
    pub bucket: Duration,
    pub window: u32,
}

/// One view the exchange handed to a [`Tally`].
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub at: Instant,
    pub totals: [u64; 2],
    pub fresh_for: Duration,
}

impl Tally {
    /// Buckets of a second, summed over 30.
    pub fn new() -> Tally {
        Tally::windowed(Duration::from_secs(1), 30)
    }

    /// Buckets of `bucket`, the fleet's totals summed over the latest `window` of them.
    pub fn windowed(bucket: Duration, window: u32) -> Tally {
        Tally {
            local: Default::default(),
            view: Mutex::new(None),
            views: Mutex::new(Vec::new()),
            fallbacks: AtomicU64::new(0),
            bucket,
            window,
        }
    }

    pub fn add(&self, i: usize, n: u64) {
        self.local[i].fetch_add(n, Ordering::Relaxed);
    }

    pub fn view(&self) -> Option<[u64; 2]> {
        *self.view.lock().expect("not poisoned")
    }

    /// Every view handed over so far, in order.
    pub fn views(&self) -> Vec<View> {
        self.views.lock().expect("not poisoned").clone()
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
        self.window
    }
    fn take_local_deltas(&self, out: &mut [u64]) {
        for (o, c) in out.iter_mut().zip(&self.local) {
            *o = c.swap(0, Ordering::Relaxed);
        }
    }
    fn set_fleet_view(&self, totals: &[u64], _latest: &[u64], at: Instant, fresh_for: Duration) {
        let mut v = [0; 2];
        v.copy_from_slice(&totals[..2]);
        *self.view.lock().expect("not poisoned") = Some(v);
        self.views.lock().expect("not poisoned").push(View {
            at,
            totals: v,
            fresh_for,
        });
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
