//! The command line as a user first meets it: help, version, bad flags.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn help_and_version() {
    let dir = TempDir::new("help");
    let (code, out, _) = run_to_end(
        {
            let mut c = hook_command(dir.path());
            c.arg("--help");
            c
        },
        Duration::from_secs(10),
    );
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
    let (code, out, _) = run_to_end(
        {
            let mut c = hook_command(dir.path());
            c.arg("--version");
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("hook "), "{out}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let dir = TempDir::new("badflag");
    let mut c = hook_command(dir.path());
    c.args(["status", "--no-such-flag"]);
    let (code, _, err) = run_to_end(c, Duration::from_secs(10));
    assert_eq!(code, 2);
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn bad_config_is_a_usage_error() {
    let dir = TempDir::new("badconfig");
    let cfg = write_config(dir.path(), r#"{"viewing":{"close_after":"0s"}}"#);
    let mut c = hook_command(dir.path());
    c.env("HOOK_CONFIG", &cfg).args(["status"]);
    let (code, _, err) = run_to_end(c, Duration::from_secs(10));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("close_after"), "{err}");
}
