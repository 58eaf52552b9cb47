//! The optional JSON config (`HOOK_CONFIG`): what is refused, with exit 2 and
//! a message that says which key and why.

use crate::support::cmd::Cmd;
use crate::support::common;

use common::*;

fn with_config(json: &str) -> (i32, String) {
    let dir = TempDir::new("policy");
    let cfg = write_config(dir.path(), json);
    let (code, out, err) = Cmd::hook(dir.path())
        .env("HOOK_CONFIG", &cfg)
        .args(["mediamtx-config", "--device", "/dev/video0"])
        .run()
        .parts();
    (code, format!("{out}{err}"))
}

#[test]
fn unknown_keys_are_refused_naming_the_key() {
    for (json, key) in [
        (r#"{"viewing":{"close_afterr":"60s"}}"#, "close_afterr"),
        (r#"{"recordings":{}}"#, "recordings"),
        (r#"{"restart":{"grace":"5s","jitter":"1s"}}"#, "jitter"),
    ] {
        let (code, text) = with_config(json);
        assert_eq!(code, 2, "{json}: {text}");
        assert!(text.contains(key), "{json}: {text}");
        assert!(text.contains("typo"), "says why: {text}");
    }
}

#[test]
fn zero_close_after_is_refused_because_it_means_at_once() {
    let (code, text) = with_config(r#"{"viewing":{"close_after":"0s"}}"#);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("viewing.close_after"), "{text}");
    assert!(text.contains("not \"never\""), "{text}");
    let (code, text) = with_config(r#"{"viewing":{"start_timeout":"0s"}}"#);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("viewing.start_timeout"), "{text}");
}

#[test]
fn malformed_values_and_files_are_usage_errors() {
    for (json, needle) in [
        ("{not json", "not valid JSON"),
        ("[1,2]", "expected a JSON object"),
        (r#"{"viewing":{"close_after":"300"}}"#, "no unit"),
        (r#"{"viewing":{"close_after":300}}"#, "close_after"),
        (
            r#"{"restart":{"initial_delay":"10s","max_delay":"5s"}}"#,
            "restart.max_delay",
        ),
        (
            r#"{"restart":{"device_lock_wait":"20s"}}"#,
            "device_lock_wait",
        ),
    ] {
        let (code, text) = with_config(json);
        assert_eq!(code, 2, "{json}: {text}");
        assert!(text.contains(needle), "{json}: {text}");
    }
    let dir = TempDir::new("policy-missing");
    let (code, _, err) = Cmd::hook(dir.path())
        .env("HOOK_CONFIG", dir.join("nope.json"))
        .args(["mediamtx-config"])
        .run()
        .parts();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope.json"), "{err}");
}

#[test]
fn a_valid_partial_config_keeps_the_other_defaults() {
    let (code, text) = with_config(r#"{"viewing":{"close_after":"2m"}}"#);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("runOnDemandCloseAfter: 120s"), "{text}");
    assert!(text.contains("runOnDemandStartTimeout: 10s"), "{text}");
    assert!(text.contains("recordSegmentDuration: 30m"), "{text}");
}

#[test]
fn durations_below_a_millisecond_are_refused_not_rounded_to_zero() {
    for (json, key) in [
        (
            r#"{"viewing":{"close_after":"0.4ms"}}"#,
            "viewing.close_after",
        ),
        (r#"{"restart":{"grace":"0.5ms"}}"#, "restart.grace"),
        (
            r#"{"viewing":{"start_timeout":"999us"}}"#,
            "viewing.start_timeout",
        ),
        (
            r#"{"recording":{"delete_after":"7.0000001d"}}"#,
            "recording.delete_after",
        ),
    ] {
        let (code, text) = with_config(json);
        assert_eq!(code, 2, "{json}: {text}");
        assert!(text.contains(key), "{json}: {text}");
        assert!(text.contains("whole number of milliseconds"), "{text}");
        assert!(!text.contains("CloseAfter: 0s"), "{text}");
    }
    // What is exact is printed exactly.
    let (code, text) =
        with_config(r#"{"viewing":{"close_after":"1.5s","start_timeout":"12500ms"}}"#);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("runOnDemandCloseAfter: 1500ms\n"), "{text}");
    assert!(
        text.contains("runOnDemandStartTimeout: 12500ms\n"),
        "{text}"
    );
}

#[test]
fn mediamtx_rules_for_generated_values_are_checked() {
    for (json, key, why) in [
        (
            r#"{"recording":{"record_path":"./rec/%Y-%m-%d_%H-%M-%S-%f"}}"#,
            "recording.record_path",
            "%path",
        ),
        (
            r#"{"recording":{"record_path":"./rec/%path/%Y-%m-%d-%f"}}"#,
            "recording.record_path",
            "%s or all of %Y %m %d %H %M %S",
        ),
        (
            r#"{"recording":{"record_path":"./rec/%path/%s"}}"#,
            "recording.record_path",
            "%f",
        ),
        (
            r#"{"recording":{"record_path":"./rec\n/%path/%s-%f"}}"#,
            "recording.record_path",
            "U+000A",
        ),
        (
            r#"{"recording":{"segment_duration":"2h","delete_after":"1h"}}"#,
            "recording.delete_after",
            "recordSegmentDuration",
        ),
        (
            r#"{"recording":{"segment_duration":"2d","delete_after":"0s"}}"#,
            "recording.segment_duration",
            "1 day",
        ),
    ] {
        let (code, text) = with_config(json);
        assert_eq!(code, 2, "{json}: {text}");
        assert!(text.contains(key), "{json}: {text}");
        assert!(text.contains(why), "{json}: {text}");
    }
    let (code, text) =
        with_config(r#"{"recording":{"segment_duration":"1d","delete_after":"0s"}}"#);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("recordSegmentDuration: 1d\n"), "{text}");
    assert!(text.contains("recordDeleteAfter: 0s\n"), "{text}");
}
