//! `hook stop PATH --reason TEXT`: the recording session and its hold end
//! (recording switched off), the publisher (`hook run`) stops as on
//! MediaMTX's SIGINT, and the reason is kept in the state.

use crate::support::common;
use crate::support::standin;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use standin::{Options, Standin};

const FAST: &str = r#"{
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"}
}"#;

#[test]
fn stop_ends_the_session_and_the_publisher_and_keeps_the_reason() {
    let dir = TempDir::new("hook-stop");
    let state = dir.join("state");
    let cfg = write_config(dir.path(), FAST);
    // MediaMTX's two faces: the API plus the stream the hold reads, and the
    // port the publisher publishes to.
    let server = Standin::start(dir.path(), Options::both("cam8"));
    let listener = RtspListener::start("cam8");

    let mut publisher = mediamtx_command(&state, "cam8", listener.port)
        .env("HOOK_CONFIG", &cfg)
        .args([
            "run", "--device", "testsrc", "--size", "320x240", "--fps", "10",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || listener.frames() > 0),
        "the publisher publishes"
    );
    assert!(wait_until(Duration::from_secs(5), || {
        path_state(&state, "cam8")["supervisor_pid"].as_u64() == Some(u64::from(publisher.id()))
    }));

    let mut start = hook_command(&state);
    start
        .env("HOOK_CONFIG", &cfg)
        .env("HOOK_MTX_API", server.api_url())
        .env("RTSP_PORT", server.rtsp_port.to_string())
        .args(["record", "start", "cam8"]);
    let (code, _, err) = run_to_end(start, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    let hold = path_state(&state, "cam8")["recording"]["session"]["hold_pid"]
        .as_u64()
        .unwrap() as u32;

    let mut stop = hook_command(&state);
    stop.env("HOOK_CONFIG", &cfg)
        .env("HOOK_MTX_API", server.api_url())
        .args(["stop", "cam8", "--reason", "lens cleaning"]);
    let (code, out, err) = run_to_end(stop, Duration::from_secs(30));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("session ended"), "{out}");
    assert!(out.contains("publisher pid"), "{out}");

    let status = wait_timeout(&mut publisher, Duration::from_secs(5)).expect("publisher exited");
    assert!(status.success(), "a requested stop exits 0: {status:?}");
    assert!(!pid_alive(hold), "hold gone");
    assert_eq!(server.record_patches("cam8"), vec![true, false]);
    let p = path_state(&state, "cam8");
    assert_eq!(p["stop_reason"], "lens cleaning", "{p}");
    assert!(p["recording"]["session"].is_null(), "{p}");
    assert_eq!(p["recording"]["active"], false);
    assert_eq!(
        p["recording"]["last_session"]["end_reason"],
        "hook stop: lens cleaning"
    );
    assert!(
        wait_until(Duration::from_secs(3), || live_processes_with(&format!(
            "127.0.0.1:{}/cam8",
            listener.port
        ))
        .iter()
        .all(|p| p.pid == listener.pid())),
        "the publisher's FFmpeg is gone"
    );

    // Stopping an idle path is fine and still keeps the reason.
    let mut again = hook_command(&state);
    again
        .env("HOOK_MTX_API", server.api_url())
        .args(["stop", "cam8"]);
    let (code, out, err) = run_to_end(again, Duration::from_secs(10));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no publisher running"), "{out}");
    assert_eq!(
        path_state(&state, "cam8")["stop_reason"],
        "stopped with hook stop"
    );
}

#[test]
fn bad_reasons_are_usage_errors() {
    let dir = TempDir::new("hook-stop-bad");
    for args in [
        vec!["stop", "cam9", "--reason", "two\nlines"],
        vec!["stop", "a//b"],
    ] {
        let mut c = hook_command(dir.path());
        c.env("HOOK_MTX_API", format!("http://127.0.0.1:{}", free_port()))
            .args(&args);
        let (code, _, err) = run_to_end(c, Duration::from_secs(10));
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}
