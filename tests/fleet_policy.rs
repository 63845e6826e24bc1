//! The `[fleet]` table of a policy file: read and checked on any build (the settings need
//! no Redis), every error naming its key, written back (with the URL's password as ***),
//! and left out when a policy names no fleet.

#![cfg(feature = "serde")]

use std::time::Duration;

use redial::fleet::FleetConfig;
use redial::gate::GateConfig;
use redial::Policy;

const FILE: &str = r#"
preset = "anthropic"

[fleet]
url = "redis://:hunter2@10.0.0.7:6379/0"
key = "billing-api"
sync = "100ms"
ramp = "5s"
max_hold = "30s"
"#;

#[test]
fn a_fleet_table_is_read() {
    let policy = Policy::from_toml(FILE).expect("a valid file");
    let want = FleetConfig::new("redis://:hunter2@10.0.0.7:6379/0", "billing-api")
        .sync(Duration::from_millis(100))
        .gate(GateConfig::new(
            Duration::from_secs(5),
            Duration::from_secs(30),
        ));
    assert_eq!(policy.fleet_config(), Some(&want));
    // Settings only: reading a file joins nothing.
    assert!(policy.gate().is_none());
}

#[test]
fn the_defaults_fill_what_the_table_leaves_out() {
    let policy = Policy::from_toml("[fleet]\nurl = \"redis://cache\"\nkey = \"svc\"\n")
        .expect("a valid file");
    let fleet = policy.fleet_config().expect("a fleet");
    assert_eq!(fleet.sync_interval(), Duration::from_millis(250));
    assert_eq!(fleet.gate_config(), GateConfig::default());
}

#[test]
fn each_broken_rule_names_its_key() {
    let error = |table: &str| {
        Policy::from_toml(&format!("[fleet]\n{table}"))
            .expect_err("an invalid table")
            .to_string()
    };
    let ok = "url = \"redis://cache\"\nkey = \"svc\"\n";
    for (extra, start) in [
        (
            "sync = \"1ms\"",
            "fleet.sync: must be from 10ms to 1m, got 1ms",
        ),
        ("ramp = \"11m\"", "fleet.ramp: must be at most 10m"),
        ("max_hold = \"0s\"", "fleet.max_hold: must be from 1s to 1h"),
        ("sync = 5", "fleet.sync"),
        ("password = \"x\"", "fleet.password"),
    ] {
        let message = error(&format!("{ok}{extra}\n"));
        assert!(message.starts_with(start), "{extra}: {message}");
    }
    assert!(error("url = \"redis://cache\"\n").starts_with("fleet.key"));
    assert!(error("key = \"svc\"\n").starts_with("fleet.url"));
    let message = error("url = \"http://:hunter2@cache\"\nkey = \"svc\"\n");
    assert!(message.starts_with("fleet.url"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn the_effective_policy_writes_the_table_without_the_password() {
    let policy = Policy::from_toml(FILE).expect("a valid file");
    let text = policy.to_string();
    assert!(text.contains("\n[fleet]\n"), "{text}");
    assert!(
        text.contains("url = \"redis://:***@10.0.0.7:6379/0\""),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    // It loads back to the same settings, but for the password.
    let back = Policy::from_toml(&text).expect("the written policy loads");
    let fleet = back.fleet_config().expect("a fleet");
    assert_eq!(fleet.url(), "redis://:***@10.0.0.7:6379/0");
    assert_eq!(
        (fleet.key(), fleet.sync_interval(), fleet.gate_config()),
        (
            "billing-api",
            Duration::from_millis(100),
            GateConfig::new(Duration::from_secs(5), Duration::from_secs(30))
        )
    );
}

#[test]
fn a_policy_without_a_fleet_writes_no_table() {
    let text = Policy::default().to_string();
    assert!(!text.contains("[fleet]"), "{text}");
    assert_eq!(Policy::from_toml(&text).expect("loads"), Policy::default());
}
