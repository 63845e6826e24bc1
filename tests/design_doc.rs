//! `docs/DESIGN.md` states the code's numbers: each check below writes a sentence part from
//! the value the code holds, and the doc must contain it. A default, a limit, a ratio or a
//! preset that changes in the code fails here until the doc says the new number.

use std::time::Duration;

use redial::backoff::Jitter;
use redial::budget::rule;
use redial::budget::BudgetConfig;
use redial::fleet::FleetConfig;
use redial::gate::GateConfig;
use redial::{Policy, Preset};

fn design() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/DESIGN.md");
    std::fs::read_to_string(path)
        .expect("docs/DESIGN.md")
        // The doc wraps its lines: compare as one line.
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A duration as the doc writes it: `500 ms`, `8 s`, `120 s`.
fn spoken(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs())
    }
}

/// A share as the doc writes it: `57 %`.
fn percent(x: f64) -> String {
    format!("{} %", (x * 100.0).round())
}

#[track_caller]
fn says(doc: &str, part: &str) {
    assert!(doc.contains(part), "docs/DESIGN.md does not say `{part}`");
}

#[test]
fn the_budget_numbers_are_the_codes() {
    let doc = design();
    let b = BudgetConfig::default();
    says(&doc, &format!("`window` ({};", spoken(b.window)));
    says(&doc, &format!("`overload_ratio` ({})", b.overload_ratio));
    says(&doc, &format!("`retry_ratio` ({:.1})", b.retry_ratio));
    says(&doc, &format!("`min_retries` ({})", b.min_retries));
    says(&doc, &format!("`RUN_CLEAN` ({}) retries", rule::RUN_CLEAN));
    says(&doc, &format!("(`RUN_FLAKY`, {},", rule::RUN_FLAKY));
    says(
        &doc,
        &format!("fading over {} windows", rule::EPISODE_WINDOWS),
    );
    says(&doc, "`min(1, retry_ratio)`");
    assert_eq!(rule::SHED_MAX, 1.0, "the doc says min(1, retry_ratio)");
    says(
        &doc,
        &format!("fewer than {} of the attempts", percent(rule::SHED_EASY)),
    );
    says(
        &doc,
        &format!("`overload_ratio` from {}", percent(rule::SHED_HARD)),
    );
    let (weight, share) = rule::SHED_PRIOR;
    says(
        &doc,
        &format!("starting from {weight} attempts at {}", percent(share)),
    );
    says(
        &doc,
        &format!(
            "({} at {} failed, {} per point of share around it) until {} attempts say more",
            rule::SHED_UNSURE,
            percent(rule::SHED_UNSURE_AT),
            rule::SHED_UNSURE_SLOPE / 100.0,
            rule::SHED_EVIDENCE
        ),
    );
    says(&doc, &format!("credit of {} retries", rule::NEW_RETRIES));
    says(&doc, &format!("at most {} first attempts", rule::UNTIMED));
    let aws = BudgetConfig::aws();
    says(
        &doc,
        &format!(
            "({} tokens, {} a retry, {} after a timeout, {} back",
            aws.capacity, aws.retry_cost, aws.timeout_cost, aws.success_refund
        ),
    );
}

#[test]
fn the_gate_and_fleet_numbers_are_the_codes() {
    let doc = design();
    let gate = GateConfig::default();
    says(&doc, &format!("up to `ramp` ({})", spoken(gate.ramp)));
    says(
        &doc,
        &format!("further than `max_hold` ({})", spoken(gate.max_hold)),
    );
    says(
        &doc,
        &format!(
            "sync interval ({}; 10 ms to 1 min)",
            spoken(FleetConfig::DEFAULT_SYNC)
        ),
    );
    says(
        &doc,
        &format!("good for {} sync intervals", FleetConfig::VIEW_FRESH_SYNCS),
    );
    says(
        &doc,
        &format!(
            "the budget's window in {} buckets",
            FleetConfig::BUDGET_BUCKETS
        ),
    );
}

#[test]
fn the_presets_table_is_the_codes() {
    let doc = design();
    for preset in Preset::ALL {
        let policy = Policy::preset(preset);
        let rules = policy.rules();
        let backoff = rules.backoff();
        let jitter = match backoff.jitter() {
            Jitter::Proportional(r) => format!("proportional {r}"),
            j => j.name().to_string(),
        };
        let row = format!(
            "| `{}` | {} | {} | {} | {} |",
            preset.name(),
            rules.max_attempts(),
            spoken(backoff.base()),
            spoken(backoff.cap()),
            jitter
        );
        says(&doc, &row);
        let budget = rules.budget_config().kind.as_str();
        assert!(
            doc.contains(&format!("| {budget} |")),
            "{}: budget {budget}",
            preset.name()
        );
    }
    let max_hint = Policy::preset(Preset::Default).rules().max_hint();
    let openai = Policy::preset(Preset::OpenAi).rules().max_hint();
    says(
        &doc,
        &format!(
            "Hints honoured up to {} (`openai` {})",
            spoken(max_hint),
            spoken(openai)
        ),
    );
    says(&doc, &format!("`max_hint` ({})", spoken(max_hint)));
}

#[test]
fn the_pacer_numbers_are_the_codes() {
    let doc = design();
    let p = redial::pacer::PacerConfig::default();
    says(
        &doc,
        &format!("A 429 cuts the rate to `β` ({}) × `W_max`", p.cubic.beta),
    );
    says(
        &doc,
        &format!("at most once per `settle` ({})", spoken(p.settle)),
    );
    says(
        &doc,
        &format!("never above {} × `W_max`", redial::pacer::Pacer::MAX_KEPT),
    );
    says(
        &doc,
        &format!(
            "{} or more after the last cut (`Pacer::SERVED_AFTER`",
            spoken(redial::pacer::Pacer::SERVED_AFTER)
        ),
    );
    says(
        &doc,
        &format!(
            "at most {} at a time (`Pacer::RECHECK`)",
            spoken(redial::pacer::Pacer::RECHECK)
        ),
    );
    says(
        &doc,
        &format!(
            "at least {} × `W_max` a second (`CubicConfig::linear`)",
            redial::pacer::CubicConfig::default().linear
        ),
    );
    says(
        &doc,
        &format!(
            "**A 429 holds the next send for {}** (`Pacer::THROTTLE_HOLD`)",
            spoken(redial::pacer::Pacer::THROTTLE_HOLD)
        ),
    );
    says(
        &doc,
        &format!(
            "the rate sent for `Pacer::MEASURE_FIRST` ({}",
            spoken(redial::pacer::Pacer::MEASURE_FIRST)
        ),
    );
    assert_eq!(redial::pacer::Quota::WINDOW_AFTER, Duration::from_secs(1));
    says(
        &doc,
        "**A 429's wait longer than a second is a window's reset**",
    );
    // What engages each: the presets' pacer a stated quota, a `[rate]` table's any 429.
    let preset = redial::Policy::default();
    assert_eq!(
        preset.pacer().map(|p| p.config().engage),
        Some(redial::pacer::Engage::Quota)
    );
    says(&doc, "(`Engage::Quota`, `PacerConfig::on_quota`)");
    // The check of a wait that states no quota: each constant as the doc says it.
    use redial::pacer::Pacer;
    for (before, d, after) in [
        (
            "`Pacer::CHECK_AFTER` (",
            Pacer::CHECK_AFTER,
            "), then one attempt goes",
        ),
        ("(within `Pacer::CHECK_SLACK`, ", Pacer::CHECK_SLACK, ")"),
        (
            "for `Pacer::CHECKED_FOR` (",
            Pacer::CHECKED_FOR,
            ") such 429s",
        ),
    ] {
        says(&doc, &format!("{before}{}{after}", spoken(d)));
    }
    assert_eq!(p.engage, redial::pacer::Engage::Throttle);
    says(&doc, "engages it from any 429 (`Engage::Throttle`)");
    says(&doc, &format!("CUBIC curve (`C` = {})", p.cubic.scale));
    says(
        &doc,
        &format!(
            "faster than `max_growth` ({} of itself a second)",
            p.cubic.max_growth
        ),
    );
    says(
        &doc,
        &format!("further than `max_wait` ({})", spoken(p.max_wait)),
    );
    says(
        &doc,
        &format!(
            "for {} sync intervals, then is deleted",
            2 * FleetConfig::VIEW_FRESH_SYNCS
        ),
    );
}
