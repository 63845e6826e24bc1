//! Server hints through whole header maps: each family, its precedence, the condition
//! under which the rate-limit families apply, and hostile values.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use redial::hints::{inspect, parse_ratelimit, read, server_wait, Hint, HintSource, Parsed};

/// 2026-11-23T10:00:00Z, the fixtures' day.
fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_428_000)
}

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    m
}

fn wait(status: u16, pairs: &[(&str, &str)]) -> Option<(Duration, HintSource)> {
    server_wait(&map(pairs), status, wall()).map(|h| (h.wait, h.source))
}

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

/// `family!(name: status, [headers] => expected)`: one named test per case.
macro_rules! family {
    ($name:ident: $status:literal, [$(($k:literal, $v:literal)),*] => $want:expr) => {
        #[test]
        fn $name() {
            assert_eq!(wait($status, &[$(($k, $v)),*]), $want);
        }
    };
}

use HintSource::*;

// retry-after-ms
family!(retry_after_ms_whole: 503, [("retry-after-ms", "1500")] => Some((MS(1500), RetryAfterMs)));
family!(retry_after_ms_fraction: 503, [("retry-after-ms", "0.5")] => Some((Duration::from_micros(500), RetryAfterMs)));
family!(retry_after_ms_beats_retry_after: 429, [("retry-after", "30"), ("retry-after-ms", "200")] => Some((MS(200), RetryAfterMs)));
family!(retry_after_ms_invalid_falls_through: 429, [("retry-after", "30"), ("retry-after-ms", "soon")] => Some((S(30), RetryAfter)));

// retry-after: delay-seconds and the three date forms of RFC 9110 §5.6.7
family!(retry_after_seconds: 503, [("retry-after", "120")] => Some((S(120), RetryAfter)));
family!(retry_after_imf_fixdate: 503, [("retry-after", "Mon, 23 Nov 2026 10:00:30 GMT")] => Some((S(30), RetryAfter)));
family!(retry_after_rfc850: 503, [("retry-after", "Monday, 23-Nov-26 10:00:30 GMT")] => Some((S(30), RetryAfter)));
family!(retry_after_asctime: 503, [("retry-after", "Mon Nov 23 10:00:30 2026")] => Some((S(30), RetryAfter)));
family!(retry_after_past_date_is_zero: 503, [("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")] => Some((Duration::ZERO, RetryAfter)));
family!(retry_after_applies_to_any_status: 500, [("retry-after", "3")] => Some((S(3), RetryAfter)));

// IETF RateLimit and the older RateLimit-Reset
family!(ietf_ratelimit_exhausted: 503, [("ratelimit", "\"default\";r=0;t=30")] => Some((S(30), RateLimit)));
family!(ietf_ratelimit_on_429: 429, [("ratelimit", "\"default\";r=3;t=12")] => Some((S(12), RateLimit)));
family!(ietf_ratelimit_with_quota_left_is_ignored: 503, [("ratelimit", "\"default\";r=3;t=12")] => None);
family!(ietf_ratelimit_multiple_lines: 429, [("ratelimit", "\"a\";r=0;t=5"), ("ratelimit", "\"b\";r=0;t=50")] => Some((S(50), RateLimit)));
family!(ietf_ratelimit_reset_old_draft: 429, [("ratelimit-reset", "7")] => Some((S(7), RateLimitReset)));
family!(ietf_ratelimit_reset_needs_zero_remaining: 503, [("ratelimit-reset", "7"), ("ratelimit-remaining", "1")] => None);
family!(ietf_ratelimit_reset_remaining_zero: 503, [("ratelimit-reset", "7"), ("ratelimit-remaining", "0")] => Some((S(7), RateLimitReset)));

// The `RateLimit` field, strictly as the RFC 9651 List it is. Each row is checked three
// ways: the value the row states (from the draft and the RFC, by hand), on a 429 and off
// one; and agreement with `sfv`, a full RFC 9651 parser, through the fuzz oracle.
#[path = "../fuzz/checks.rs"]
#[allow(dead_code)] // the fuzz checks; only the `RateLimit` oracle is used here
mod checks;

/// `ratelimit!(name: "value" => on a 429, on another status)`.
macro_rules! ratelimit {
    ($name:ident: $value:literal => $on_429:expr, $off_429:expr) => {
        #[test]
        fn $name() {
            let value: &str = $value;
            assert_eq!(parse_ratelimit(value, true), $on_429, "{value:?} on a 429");
            assert_eq!(
                parse_ratelimit(value, false),
                $off_429,
                "{value:?} on a 503"
            );
            for on_429 in [true, false] {
                assert_eq!(
                    parse_ratelimit(value, on_429),
                    checks::ratelimit_sf_oracle(&[value.as_bytes()], on_429),
                    "{value:?}: redial and sfv disagree"
                );
            }
        }
    };
}

const INVALID: Parsed<Duration> = Parsed::Invalid;
const ABSENT: Parsed<Duration> = Parsed::Absent;
fn secs(n: u64) -> Parsed<Duration> {
    Parsed::Valid(S(n))
}

// The draft's own examples (draft-ietf-httpapi-ratelimit-headers-10 §4, §4.2, §6, §7).
ratelimit!(draft_remaining_50: r#""default";r=50;t=30"# => secs(30), ABSENT);
ratelimit!(draft_no_reset_with_partition_key: r#""default";r=999;pk=:dHJpYWwxMjEzMjM=:"# => ABSENT, ABSENT);
ratelimit!(draft_300mb_with_partition_key: r#""default";r=300000000;t=60;pk=:QXBwLTk5OQ==:"# => secs(60), ABSENT);
ratelimit!(draft_problem_policy_exhausted: r#""problemPolicy";r=0;t=10"# => secs(10), secs(10));
ratelimit!(draft_client_behaviour: r#""default";r=1;t=7"# => secs(7), ABSENT);
// Valid fields the hand-written scan threw away: other parameters, bare ones included.
ratelimit!(bare_parameter_at_the_end: r#""default";r=0;t=30;burst"# => secs(30), secs(30));
ratelimit!(bare_parameter_in_the_middle: r#""default";r=0;burst;t=30"# => secs(30), secs(30));
ratelimit!(bare_parameter_then_another_item: r#""a";r=0;t=30;burst, "b";r=0;t=5"# => secs(30), secs(30));
ratelimit!(vendor_parameter_is_a_comment: r#""a";r=0;t=9;acme-policy="x";w=?1"# => secs(9), secs(9));
ratelimit!(later_duplicate_parameter_wins: r#""a";t=99;r=0;t=4"# => secs(4), secs(4));
ratelimit!(token_policy_name: "default;r=0;t=7" => secs(7), secs(7));
ratelimit!(quoted_name_with_separators: r#""a,b;c";r=0;t=5"# => secs(5), secs(5));
ratelimit!(fifteen_digits_is_an_integer: r#""a";r=0;t=999999999999999"# => secs(999_999_999_999_999), secs(999_999_999_999_999));
ratelimit!(ows_around_the_comma: "\"a\";r=1;t=3 ,\t\"b\";r=0;t=2" => secs(2), secs(2));
ratelimit!(exhausted_quota_wins_over_a_later_one: r#""a";r=1;t=30, "b";r=0;t=10"# => secs(10), secs(10));
ratelimit!(item_without_reset_is_skipped: r#""a";r=0"# => ABSENT, ABSENT);
ratelimit!(empty_field_is_an_empty_list: "" => ABSENT, ABSENT);
// Malformed fields the scan honoured: RFC 9651 rejects each, so the field is ignored.
ratelimit!(trailing_comma: r#""default";r=0;t=30,"# => INVALID, INVALID);
ratelimit!(empty_member: r#""a";r=0;t=30, , "b";r=0;t=5"# => INVALID, INVALID);
ratelimit!(leading_comma: r#", "a";r=0;t=30"# => INVALID, INVALID);
ratelimit!(space_before_equals: r#""a";r=0;t =30"# => INVALID, INVALID);
ratelimit!(space_after_equals: r#""a";r=0;t= 30"# => INVALID, INVALID);
ratelimit!(space_before_semicolon: r#""a" ;r=0;t=30"# => INVALID, INVALID);
ratelimit!(empty_key: r#""2";=10;t=36"# => INVALID, INVALID);
ratelimit!(empty_key_alone: r#""a";r=0;t=3;=1"# => INVALID, INVALID);
ratelimit!(upper_case_key: r#""a";r=0;T=5;t=30"# => INVALID, INVALID);
ratelimit!(sixteen_digit_integer: r#""a";r=0;t=1234567890123456"# => INVALID, INVALID);
ratelimit!(seventeen_digit_integer: "*a;t=99999999999994999" => INVALID, INVALID);
ratelimit!(unterminated_string: r#""a;r=0;t=3"# => INVALID, INVALID);
ratelimit!(bad_base64: r#""a";r=0;t=3;pk=:a-b:"# => INVALID, INVALID);
ratelimit!(old_dictionary_form: "limit=10, remaining=0, reset=30" => INVALID, INVALID);
// Valid Structured Fields that break the draft's rules for a service limit item.
ratelimit!(negative_reset: r#""a";r=0;t=-30"# => INVALID, INVALID);
ratelimit!(decimal_reset: r#""a";r=0;t=1.5"# => INVALID, INVALID);
ratelimit!(bare_reset: r#""a";r=0;t"# => INVALID, INVALID);
ratelimit!(token_remaining: r#""a";r=x;t=3"# => INVALID, INVALID);
ratelimit!(integer_item: "5;r=0;t=3" => INVALID, INVALID);
ratelimit!(inner_list_member: r#"("a" "b");r=0;t=3"# => INVALID, INVALID);

/// Fragments of RFC 9651 and of the `RateLimit` field, and the characters that break
/// them: joined at random, they reach the corners of the grammar far more often than
/// random bytes do.
fn sf_fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "\"default\"",
        "\"a,b\"",
        "\"",
        "\\",
        "default",
        "*",
        "A",
        "r",
        "t",
        "pk",
        "burst",
        "T",
        "_",
        "-",
        ".",
        "=",
        ";",
        ",",
        " ",
        "\t",
        "0",
        "7",
        "30",
        "-1",
        "1.5",
        "1.2345",
        "999999999999999",
        "1234567890123456",
        "1234567890123.5",
        ":",
        "YQ",
        "YQ==",
        "Y",
        "=",
        "(",
        ")",
        "?1",
        "?2",
        "@5",
        "@1.5",
        "%\"",
        "%c3%bc",
        "%C3",
        "%ff",
        "\u{e9}",
        "\x7f",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The reader accepts exactly what `sfv` accepts, with the same `r` and `t`.
    #[test]
    fn prop_ratelimit_agrees_with_sfv(parts in prop::collection::vec(sf_fragment(), 0..16)) {
        let value = parts.concat();
        for on_429 in [true, false] {
            prop_assert_eq!(
                parse_ratelimit(&value, on_429),
                checks::ratelimit_sf_oracle(&[value.as_bytes()], on_429),
                "{:?}", value
            );
        }
    }

    /// Several lines are the one List RFC 9651 makes of them by joining with commas.
    #[test]
    fn prop_ratelimit_lines_agree_with_sfv(
        lines in prop::collection::vec(prop::collection::vec(sf_fragment(), 0..8), 1..4),
        status in prop::sample::select(vec![429u16, 503]),
    ) {
        let lines: Vec<String> = lines.into_iter().map(|l| l.concat()).collect();
        let mut m = HeaderMap::new();
        let mut sent: Vec<&[u8]> = Vec::new();
        for line in &lines {
            if let Ok(v) = HeaderValue::from_bytes(line.as_bytes()) {
                m.append("ratelimit", v);
                sent.push(line.as_bytes());
            }
        }
        prop_assume!(!sent.is_empty());
        prop_assert_eq!(
            read(RateLimit, &m, status, wall()),
            checks::ratelimit_sf_oracle(&sent, status == 429),
            "{:?}", lines
        );
    }
}

/// Every byte sequence up to seven characters over an alphabet that covers each base64
/// case (a symbol, padding, a character outside the alphabet): accepted exactly when `sfv`
/// accepts it.
#[test]
fn byte_sequences_agree_with_sfv_exhaustively() {
    let alphabet = [b'Y', b'Q', b'=', b'-'];
    for len in 0..=7u32 {
        for n in 0..4usize.pow(len) {
            let mut body = Vec::new();
            let mut k = n;
            for _ in 0..len {
                body.push(alphabet[k % 4]);
                k /= 4;
            }
            let value = format!("\"a\";r=0;t=1;pk=:{}:", String::from_utf8(body).unwrap());
            assert_eq!(
                parse_ratelimit(&value, true),
                checks::ratelimit_sf_oracle(&[value.as_bytes()], true),
                "{value:?}"
            );
        }
    }
}

#[test]
fn ratelimit_lines_are_one_list() {
    let at = |lines: &[&str], status| {
        read(
            RateLimit,
            &map(&lines.iter().map(|l| ("ratelimit", *l)).collect::<Vec<_>>()),
            status,
            wall(),
        )
    };
    assert_eq!(at(&[r#""a";r=0;t=5"#, r#""b";r=0;t=50"#], 503), secs(50));
    assert_eq!(
        at(&[r#""a";r=0;t=5"#, r#""b";r=0;t=50;burst"#], 503),
        secs(50)
    );
    assert_eq!(
        at(&[r#""a";r=0;t=5"#, r#""b";r=0;t=5,"#], 429),
        INVALID,
        "one malformed line spoils the field"
    );
    assert_eq!(
        at(&[r#""a";r=0;t=5"#, ""], 429),
        INVALID,
        "an empty line is an empty member"
    );
    assert_eq!(
        at(&[r#""a;r=0;t=5"#, r#"b";r=0;t=6"#], 429),
        secs(6),
        "a string can span lines"
    );
}

#[test]
fn malformed_ratelimit_falls_through_to_the_next_family() {
    let m = map(&[
        ("ratelimit", r#""default";r=0;t=30,"#),
        ("ratelimit-remaining", "0"),
        ("ratelimit-reset", "12"),
    ]);
    assert_eq!(
        wait(
            429,
            &[
                ("ratelimit", r#""default";r=0;t=30,"#),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "12")
            ]
        ),
        Some((S(12), RateLimitReset))
    );
    assert_eq!(read(RateLimit, &m, 429, wall()), INVALID);
}

// anthropic-ratelimit-*-reset
family!(anthropic_latest_exhausted_bucket: 429, [
    ("anthropic-ratelimit-requests-remaining", "0"),
    ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:17Z"),
    ("anthropic-ratelimit-tokens-remaining", "0"),
    ("anthropic-ratelimit-tokens-reset", "2026-11-23T10:00:40Z"),
    ("anthropic-ratelimit-input-tokens-remaining", "900"),
    ("anthropic-ratelimit-input-tokens-reset", "2026-11-23T10:05:00Z")
] => Some((S(40), AnthropicReset)));
family!(anthropic_on_429_without_zero_takes_latest_of_all: 429, [
    ("anthropic-ratelimit-requests-remaining", "3"),
    ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:17Z"),
    ("anthropic-ratelimit-output-tokens-remaining", "10"),
    ("anthropic-ratelimit-output-tokens-reset", "2026-11-23T10:00:20Z")
] => Some((S(20), AnthropicReset)));
family!(anthropic_quota_left_on_529_is_ignored: 529, [
    ("anthropic-ratelimit-requests-remaining", "3"),
    ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:17Z")
] => None);
family!(anthropic_exhausted_on_529_applies: 529, [
    ("anthropic-ratelimit-tokens-remaining", "0"),
    ("anthropic-ratelimit-tokens-reset", "2026-11-23T10:00:09Z")
] => Some((S(9), AnthropicReset)));
family!(anthropic_garbage_reset_is_skipped: 429, [
    ("anthropic-ratelimit-requests-remaining", "0"),
    ("anthropic-ratelimit-requests-reset", "next tuesday"),
    ("anthropic-ratelimit-tokens-remaining", "0"),
    ("anthropic-ratelimit-tokens-reset", "2026-11-23T10:00:09Z")
] => Some((S(9), AnthropicReset)));

// x-ratelimit-reset-requests / -tokens (Go durations)
family!(openai_durations: 429, [("x-ratelimit-reset-requests", "1s"), ("x-ratelimit-reset-tokens", "6m0s")] => Some((S(360), OpenAiReset)));
family!(openai_exhausted_bucket_only: 503, [
    ("x-ratelimit-remaining-requests", "0"),
    ("x-ratelimit-reset-requests", "20ms"),
    ("x-ratelimit-remaining-tokens", "5000"),
    ("x-ratelimit-reset-tokens", "6m0s")
] => Some((MS(20), OpenAiReset)));

// x-ratelimit-reset (delta, or a Unix timestamp ≥ 1e9)
family!(x_ratelimit_reset_delta: 429, [("x-ratelimit-reset", "30")] => Some((S(30), XRateLimitReset)));
family!(x_ratelimit_reset_timestamp: 403, [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1795428045")] => Some((S(45), XRateLimitReset)));
family!(x_ratelimit_reset_past_timestamp_is_zero: 429, [("x-ratelimit-reset", "1700000000")] => Some((Duration::ZERO, XRateLimitReset)));
family!(x_ratelimit_reset_with_quota_left_is_ignored: 503, [("x-ratelimit-remaining", "4"), ("x-ratelimit-reset", "30")] => None);

// Precedence across families: the first present and valid wins.
family!(retry_after_beats_rate_limit_families: 429, [
    ("retry-after", "17"),
    ("anthropic-ratelimit-requests-remaining", "0"),
    ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:50Z"),
    ("x-ratelimit-reset", "99")
] => Some((S(17), RetryAfter)));
family!(invalid_retry_after_falls_to_rate_limit: 429, [
    ("retry-after", "-17"),
    ("x-ratelimit-reset", "9")
] => Some((S(9), XRateLimitReset)));
family!(ietf_beats_anthropic: 429, [
    ("ratelimit", "\"d\";r=0;t=3"),
    ("anthropic-ratelimit-requests-remaining", "0"),
    ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:50Z")
] => Some((S(3), RateLimit)));
family!(nothing_means_none: 503, [("content-type", "application/json")] => None);

#[test]
fn hostile_values_are_ignored_as_if_absent() {
    let long = "9".repeat(10 * 1024);
    let long_date = format!("Mon, 23 Nov 2026 10:00:30 GMT{}", "x".repeat(10 * 1024));
    let hostile: &[&str] = &[
        "",
        " ",
        "-1",
        "-0",
        "+5",
        "1e9",
        "0x1f",
        "nan",
        "NaN",
        "inf",
        "Infinity",
        "1.5e3",
        "18446744073709551616",
        &long,
        "٣٠",
        "３０",
        "30s",
        "30 ",
        "Sun, 31 Feb 2026 10:00:00 GMT",
        "Mon, 23 Nov 2026 25:00:30 GMT",
        &long_date,
        "\"30\"",
        "30,30",
    ];
    for v in hostile {
        let Ok(value) = HeaderValue::from_bytes(v.as_bytes()) else {
            continue;
        };
        for name in [
            "retry-after",
            "retry-after-ms",
            "ratelimit",
            "ratelimit-reset",
            "x-ratelimit-reset",
            "x-ratelimit-reset-requests",
            "anthropic-ratelimit-requests-reset",
        ] {
            let mut m = HeaderMap::new();
            m.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.clone(),
            );
            m.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            let hint = server_wait(&m, 429, wall());
            // The only hostile values a parser may accept are the ones of its grammar.
            let accepted = matches!(
                (name, *v),
                (
                    "retry-after" | "retry-after-ms" | "x-ratelimit-reset" | "ratelimit-reset",
                    "30 "
                ) | ("x-ratelimit-reset-requests", "30s")
            );
            assert_eq!(hint.is_some(), accepted, "{name}: {v:?} gave {hint:?}");
        }
    }
}

#[test]
fn non_ascii_bytes_are_invalid_not_a_panic() {
    let mut m = HeaderMap::new();
    m.insert(
        "retry-after",
        HeaderValue::from_bytes(b"\xd9\xa3\xd9\xa0").unwrap(),
    );
    m.insert(
        "retry-after-ms",
        HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
    );
    assert_eq!(server_wait(&m, 429, wall()), None);
    assert_eq!(read(RetryAfter, &m, 429, wall()), Parsed::Invalid);
    assert_eq!(read(RetryAfterMs, &m, 429, wall()), Parsed::Invalid);
}

#[test]
fn inspect_tells_absent_from_invalid() {
    let m = map(&[("retry-after", "later"), ("x-ratelimit-reset", "5")]);
    let all = inspect(&m, 429, wall());
    assert_eq!(all[0], (RetryAfterMs, Parsed::Absent));
    assert_eq!(all[1], (RetryAfter, Parsed::Invalid));
    assert_eq!(all[6], (XRateLimitReset, Parsed::Valid(S(5))));
}

#[test]
fn a_wall_clock_before_the_epoch_does_not_panic() {
    let before = UNIX_EPOCH - Duration::from_secs(1_000);
    let m = map(&[
        ("retry-after", "Mon, 23 Nov 2026 10:00:30 GMT"),
        ("x-ratelimit-reset", "1795428045"),
        ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:17Z"),
    ]);
    for source in HintSource::ALL {
        let _ = read(source, &m, 429, before);
    }
    assert!(server_wait(&m, 429, before).is_some());
}

/// What `explain` and the errors print: a hint names its wait and its header family, and
/// each family the header it reads, in the design's order.
#[test]
fn a_hint_and_each_family_print_the_header_they_come_from() {
    let hint = Hint {
        wait: Duration::from_secs(2),
        source: HintSource::RetryAfterMs,
    };
    assert_eq!(hint.to_string(), "server asked 2s (retry-after-ms)");
    let headers = HintSource::ALL.map(|s| s.header());
    assert_eq!(
        headers,
        [
            "retry-after-ms",
            "retry-after",
            "ratelimit",
            "ratelimit-reset",
            "anthropic-ratelimit-*-reset",
            "x-ratelimit-reset-{requests,tokens}",
            "x-ratelimit-reset",
        ]
    );
    for source in HintSource::ALL {
        assert_eq!(source.to_string(), source.header());
    }
}

/// A header's value: arbitrary bytes, or something close to what a family accepts (so that
/// valid ones, several families at once, are common).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        "[0-9]{1,3}(\\.[0-9]{1,2})?(ms|s)?".prop_map(String::into_bytes),
        Just(b"0".to_vec()),
        Just(b"\"default\";r=0;t=7".to_vec()),
        Just(b"2026-11-23T10:00:30Z".to_vec()),
    ]
}

/// The headers that carry a family's value (not its `remaining` companions): the design's
/// list, written out here rather than taken from the code under test.
fn family_value_headers(source: HintSource) -> &'static [&'static str] {
    match source {
        HintSource::RetryAfterMs => &["retry-after-ms"],
        HintSource::RetryAfter => &["retry-after"],
        HintSource::RateLimit => &["ratelimit"],
        HintSource::RateLimitReset => &["ratelimit-reset"],
        HintSource::AnthropicReset => &[
            "anthropic-ratelimit-requests-reset",
            "anthropic-ratelimit-tokens-reset",
            "anthropic-ratelimit-input-tokens-reset",
            "anthropic-ratelimit-output-tokens-reset",
        ],
        HintSource::OpenAiReset => &["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"],
        HintSource::XRateLimitReset => &["x-ratelimit-reset"],
        _ => &[],
    }
}

fn header_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "retry-after",
        "retry-after-ms",
        "ratelimit",
        "ratelimit-reset",
        "ratelimit-remaining",
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-tokens-remaining",
        "x-ratelimit-reset-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset",
        "x-ratelimit-remaining",
        "x-should-retry",
    ])
}

/// What one family says in a generated response.
#[derive(Clone, Copy, Debug)]
enum Says {
    Nothing,
    Garbage,
    Seconds(u64),
}

fn says() -> impl Strategy<Value = Says> {
    prop_oneof![
        Just(Says::Nothing),
        Just(Says::Garbage),
        (0u64..100_000).prop_map(Says::Seconds),
    ]
}

/// The design's order of the hint families ("Server hints"), written out by hand rather
/// than taken from `HintSource::ALL`, with how each says `n` seconds (its quota marked
/// exhausted, so that each applies on any status).
/// How a family says `n` seconds: the header lines to send.
type Writes = fn(u64) -> Vec<(&'static str, String)>;

const PRECEDENCE: [(HintSource, Writes); 7] = [
    (RetryAfterMs, |n| {
        vec![("retry-after-ms", format!("{}", n * 1000))]
    }),
    (RetryAfter, |n| vec![("retry-after", n.to_string())]),
    (RateLimit, |n| {
        vec![("ratelimit", format!("\"q\";r=0;t={n}"))]
    }),
    (RateLimitReset, |n| {
        vec![
            ("ratelimit-remaining", "0".into()),
            ("ratelimit-reset", n.to_string()),
        ]
    }),
    (AnthropicReset, |n| {
        // 2026-11-23T10:00:00Z plus n seconds, n under two days.
        let t = 36_000 + n;
        let (day, t) = (23 + t / 86_400, t % 86_400);
        let at = format!(
            "2026-11-{day:02}T{:02}:{:02}:{:02}Z",
            t / 3600,
            t / 60 % 60,
            t % 60
        );
        vec![
            ("anthropic-ratelimit-tokens-remaining", "0".into()),
            ("anthropic-ratelimit-tokens-reset", at),
        ]
    }),
    (OpenAiReset, |n| {
        vec![
            ("x-ratelimit-remaining-requests", "0".into()),
            ("x-ratelimit-reset-requests", format!("{n}s")),
        ]
    }),
    (XRateLimitReset, |n| {
        vec![
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", n.to_string()),
        ]
    }),
];

proptest! {
    /// Arbitrary bytes in every hint header: no panic; `inspect` agrees with `read`, family
    /// by family, and `server_wait` with the first valid one; a family none of whose
    /// headers is sent is absent.
    #[test]
    fn prop_arbitrary_header_bytes_never_panic(
        pairs in prop::collection::vec((header_name(), header_bytes()), 0..12),
        status in 100u16..600,
        wall_secs in any::<u64>(),
    ) {
        let wall = UNIX_EPOCH.checked_add(Duration::from_secs(wall_secs)).unwrap_or(UNIX_EPOCH);
        let mut m = HeaderMap::new();
        for (name, bytes) in pairs {
            if let Ok(v) = HeaderValue::from_bytes(&bytes) {
                m.append(name, v);
            }
        }
        let wait = server_wait(&m, status, wall);
        let all = inspect(&m, status, wall);
        // Every family, in the design's order, each as `read` says it.
        for ((source, parsed), want) in all.iter().zip(HintSource::ALL) {
            prop_assert_eq!(*source, want);
            prop_assert_eq!(*parsed, read(want, &m, status, wall));
            // A family whose value headers are all absent is absent, whatever else the
            // response carries.
            if !family_value_headers(want).iter().any(|h| m.contains_key(*h)) {
                prop_assert_eq!(*parsed, Parsed::Absent, "{:?}", want);
            }
            // Off a 429, a reset family speaks only with a `remaining` header beside it.
            if want.is_rate_limit_reset() && want != HintSource::RateLimit && status != 429 {
                if let Parsed::Valid(_) = parsed {
                    prop_assert!(m.keys().any(|k| k.as_str().contains("remaining")), "{:?}", want);
                }
            }
        }
        // The wait the server asks for is the first valid family's, from that family.
        let first = all
            .iter()
            .find_map(|(source, parsed)| parsed.valid().map(|w| (w, *source)));
        prop_assert_eq!(wait.map(|h| (h.wait, h.source)), first);
    }

    /// The winner is the first family, in the design's order, that sends a valid value;
    /// garbage in a family is skipped as if absent.
    #[test]
    fn prop_first_valid_family_in_the_designs_order_wins(
        said in prop::array::uniform7(says()),
        status in prop::sample::select(vec![429u16, 503, 529]),
    ) {
        let mut m = HeaderMap::new();
        for ((_, write), says) in PRECEDENCE.iter().zip(said) {
            let pairs = match says {
                Says::Nothing => vec![],
                Says::Garbage => write(0)
                    .into_iter()
                    .map(|(k, v)| (k, if k.contains("remaining") { v } else { "soon".into() }))
                    .collect(),
                Says::Seconds(n) => write(n),
            };
            for (k, v) in pairs {
                m.append(k, HeaderValue::from_str(&v).unwrap());
            }
        }
        let expected = PRECEDENCE.iter().zip(said).find_map(|((source, _), says)| match says {
            Says::Seconds(n) => Some((S(n), *source)),
            _ => None,
        });
        prop_assert_eq!(server_wait(&m, status, wall()).map(|h| (h.wait, h.source)), expected);
    }

    #[test]
    fn prop_delay_seconds_reads_back(n in any::<u32>()) {
        let m = map(&[("retry-after", &n.to_string())]);
        prop_assert_eq!(server_wait(&m, 503, wall()).map(|h| h.wait), Some(S(u64::from(n))));
    }

    #[test]
    fn prop_http_dates_read_back(offset in 0u64..10_000_000) {
        let at = wall() + S(offset);
        let m = map(&[("retry-after", &httpdate::fmt_http_date(at))]);
        prop_assert_eq!(server_wait(&m, 503, wall()).map(|h| h.wait), Some(S(offset)));
    }
}

#[test]
fn a_wall_clock_before_1970_still_measures_resets_from_now() {
    // A machine whose clock was never set can read before the epoch: a reset date is then
    // further away, not nearer (the clock's offset counts negative).
    use redial::hints::{parse_rfc3339_reset, parse_x_ratelimit_reset};
    let before = UNIX_EPOCH - Duration::from_secs(5);
    assert_eq!(
        parse_rfc3339_reset("1970-01-01T00:00:05Z", before),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        parse_x_ratelimit_reset("1000000000", before),
        Some(Duration::from_secs(1_000_000_005))
    );
}
