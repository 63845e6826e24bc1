//! What the tests that run real processes share (`fleet_common`'s redis-server and
//! `nginx_common`'s nginx each include it with `#[path]`): a server process started on a
//! free loopback port and checked to be the one answering there, and a test function run
//! in worker processes of its own.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on now (the OS picks it; the listener is closed at once):
/// something else may bind it before the caller does, which [`spawn_server`] checks.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Calls `start` with free ports until it starts a server (up to 20). A port is free when
/// the OS hands it out, not when the server binds it: another test may take it meanwhile,
/// and `start` then answers None (see [`spawn_server`]).
pub fn on_a_free_port<T>(what: &str, mut start: impl FnMut(u16) -> Option<T>) -> T {
    for _ in 0..20 {
        if let Some(server) = start(free_port()) {
            return server;
        }
    }
    panic!("{what} did not start on any of 20 free ports");
}

/// Spawns `command` (a server told to listen on a loopback port) and waits until it
/// answers: `answering_pid` polls the port and gives the pid of the server answering
/// there, None while nothing does. The child once it answers as itself; None when it
/// exited first (its port was taken, say) or another process answers on its port (another
/// test's server: ours cannot bind it, and is killed). `missing` is the panic message when
/// the program cannot be run at all.
pub fn spawn_server(
    mut command: Command,
    what: &str,
    missing: &str,
    mut answering_pid: impl FnMut() -> Option<u32>,
) -> Option<Child> {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{missing} ({e})"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return None;
        }
        if let Some(pid) = answering_pid() {
            if pid == child.id() {
                return Some(child);
            }
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The environment variable that makes a test binary's worker test act as a worker.
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
/// A worker prints a few lines: its output is read once it has exited.
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
