//! The `[rate]` table of a policy file (issue 18): read into the policy's pacer, checked
//! with errors that name the key, written back, and left out for the presets' own pacer.

#![cfg(feature = "serde")]

use std::time::Duration;

use redial::pacer::{Engage, PacerConfig};
use redial::Policy;

#[test]
fn a_rate_table_turns_pacing_on_with_its_settings() {
    let policy = Policy::from_toml("[rate]\nmax_wait = \"2s\"\nburst = 4\nsettle = \"100ms\"\n")
        .expect("a valid file");
    let config = policy.pacer().expect("pacing on").config();
    assert_eq!(config.max_wait, Duration::from_secs(2));
    assert_eq!(config.burst, 4);
    assert_eq!(config.settle, Duration::from_millis(100));
}

#[test]
fn enabled_alone_means_the_defaults_and_false_means_off() {
    let on = Policy::from_toml("[rate]\nenabled = true\n").expect("valid");
    assert_eq!(
        on.pacer().map(|p| *p.config()),
        Some(PacerConfig::default())
    );
    let off = Policy::from_toml("[rate]\nenabled = false\nburst = 3\n").expect("valid");
    assert!(off.pacer().is_none());
    // No table: the presets' pacer, which only a 429 that states a quota (or a wait it
    // checks) engages.
    let preset = Policy::from_toml("").expect("valid");
    assert_eq!(
        preset.pacer().map(|p| *p.config()),
        Some(PacerConfig::on_quota())
    );
}

#[test]
fn engage_says_what_starts_the_pacer_and_a_table_means_any_429() {
    for (file, engage) in [
        ("[rate]\nburst = 2\n", Engage::Throttle),
        ("[rate]\nengage = \"hint\"\n", Engage::Hint),
        ("[rate]\nengage = \"hint\"\nburst = 2\n", Engage::Hint),
        ("[rate]\nengage = \"quota\"\n", Engage::Quota),
        (
            "[rate]\nburst = 2\nengage = \"throttle\"\n",
            Engage::Throttle,
        ),
        (
            "preset = \"anthropic\"\n[rate]\nmax_wait = \"3s\"\n",
            Engage::Throttle,
        ),
        ("preset = \"anthropic\"\n", Engage::Quota),
    ] {
        let policy = Policy::from_toml(file).expect(file);
        assert_eq!(
            policy.pacer().map(|p| p.config().engage),
            Some(engage),
            "{file}"
        );
    }
    let err = Policy::from_toml("[rate]\nengage = \"always\"\n").expect_err("unknown");
    assert_eq!(err.key(), "rate.engage");
    assert!(err.to_string().contains("hint, quota, throttle"), "{err}");
}

#[test]
fn a_bad_rate_setting_is_named_by_its_key() {
    for (file, key) in [
        ("[rate]\nburst = 0\n", "rate.burst"),
        ("[rate]\nmax_wait = \"0s\"\n", "rate.max_wait"),
        ("[rate]\nmax_wait = \"2h\"\n", "rate.max_wait"),
        ("[rate]\nsettle = \"2m\"\n", "rate.settle"),
        ("[rate]\nburst = \"many\"\n", "rate.burst"),
        ("[rate]\npace = true\n", "rate.pace"),
    ] {
        let err = Policy::from_toml(file).expect_err(file);
        assert_eq!(err.key(), key, "{file}: {err}");
    }
}

#[test]
fn the_rate_table_is_written_back_and_left_out_when_off() {
    let mut rate = PacerConfig::default();
    rate.max_wait = Duration::from_millis(1500);
    let policy = Policy::builder().pace(rate).build().expect("valid");
    let text = policy.to_toml();
    assert!(
        text.contains("[rate]\nenabled = true\nengage = \"throttle\"\nmax_wait = \"1.5s\""),
        "{text}"
    );
    assert_eq!(Policy::from_toml(&text).expect("reads back"), policy);
    // The presets' own pacer is what a file without the table gets: nothing to write.
    let preset = Policy::default().to_toml();
    assert!(!preset.contains("[rate]"), "{preset}");
    assert_eq!(
        Policy::from_toml(&preset).expect("reads back"),
        Policy::default()
    );
    // Off is written, since no table would read back as the presets' pacer.
    let off = Policy::builder().no_pacing().build().expect("valid");
    let text = off.to_toml();
    assert!(text.contains("[rate]\nenabled = false"), "{text}");
    assert!(Policy::from_toml(&text)
        .expect("reads back")
        .pacer()
        .is_none());
}
