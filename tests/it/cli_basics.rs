//! The command line as a user first meets it: help, version, bad flags.

use crate::support::cmd::Cmd;
use crate::support::common;

use common::*;

#[test]
fn help_and_version() {
    let dir = TempDir::new("help");
    let (code, out, _) = Cmd::hook(dir.path()).arg("--help").run().parts();
    assert_eq!(code, 0);
    for sub in [
        "run",
        "ready",
        "segment-complete",
        "record",
        "snapshot",
        "stop",
        "status",
        "devices",
        "mediamtx-config",
    ] {
        assert!(out.contains(sub), "--help lists {sub}: {out}");
    }
    let (code, out, _) = Cmd::hook(dir.path()).arg("--version").run().parts();
    assert_eq!(code, 0);
    assert!(out.starts_with("hook "), "{out}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let dir = TempDir::new("badflag");
    let (code, _, err) = Cmd::hook(dir.path())
        .args(["status", "--no-such-flag"])
        .run()
        .parts();
    assert_eq!(code, 2);
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn bad_config_is_a_usage_error() {
    let dir = TempDir::new("badconfig");
    let cfg = write_config(dir.path(), r#"{"viewing":{"close_after":"0s"}}"#);
    let (code, _, err) = Cmd::hook(dir.path())
        .env("HOOK_CONFIG", &cfg)
        .args(["status"])
        .run()
        .parts();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("close_after"), "{err}");
}

#[test]
fn flag_values_are_refused_while_parsing_and_listed_in_help() {
    let dir = TempDir::new("flagvalues");
    for (args, needle) in [
        (
            &["run", "--device", "testsrc", "--size", "1x1"][..],
            "at least 32x32",
        ),
        (
            &["run", "--device", "testsrc", "--size", "641x480"][..],
            "even",
        ),
        (
            &["snapshot", "cam0", "-o", "x.jpg", "--size", "2x2"][..],
            "at least 32x32",
        ),
        (&["devices", "--bitrate", "fast"][..], "2M, 800k"),
        (&["run", "--input-format", "h265"][..], "yuyv422"),
        (&["run", "--fps", "0"][..], "1..=1000"),
    ] {
        let (code, _, err) = Cmd::hook(dir.path()).args(args).run().parts();
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // Nothing ran: no state was written.
    assert!(!dir.join("state.json").exists());
    let (code, out, _) = Cmd::hook(dir.path()).args(["run", "--help"]).run().parts();
    assert_eq!(code, 0);
    for needle in ["32x32", "mjpeg", "yuyv422", "1k to 1000M", "1 to 1000"] {
        assert!(out.contains(needle), "--help shows {needle}: {out}");
    }
}

#[test]
fn an_api_password_never_shows_in_a_usage_error() {
    let dir = TempDir::new("redact");
    let (code, out, err) = Cmd::hook(dir.path())
        .env("HOOK_MTX_API", "http://admin:pw-1234@127.0.0.1:9997/")
        .args(["stop", "cam0"])
        .run()
        .parts();
    assert_eq!(code, 2, "{err}");
    assert!(!format!("{out}{err}").contains("pw-1234"), "{out}{err}");
    assert!(err.contains("http://admin:***@127.0.0.1:9997"), "{err}");
}
