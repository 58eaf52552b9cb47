//! `hook run` when things are wrong: MediaMTX's RTSP port closed, a missing
//! device (both retried with backoff, recorded in the state, and still a
//! prompt exit on SIGINT), and bad variables from MediaMTX (exit 2 naming the
//! variable).

use crate::support::common;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::time::Duration;

use common::TempDir;
use run_support::{assert_nothing_left, Hook, HookOptions};

#[test]
fn closed_rtsp_port_backs_off_records_the_error_and_sigint_exits_within_a_second() {
    let path = "noport0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let mut opts = HookOptions::testsrc(path, port);
    opts.policy = Some(r#"{"restart": {"initial_delay": "100ms", "max_delay": "3s"}}"#);
    let mut hook = Hook::start(&dir, opts);

    assert!(
        common::wait_until(Duration::from_secs(5), || {
            let s = hook.state();
            s["phase"] == "backoff" && s["restarts"].as_u64().unwrap_or(0) >= 3
        }),
        "{} / {}",
        hook.state(),
        hook.log()
    );
    let state = hook.state();
    let error = state["last_error"].as_str().unwrap();
    assert!(
        error.contains(&format!("MediaMTX RTSP port {port} unreachable")),
        "{error}"
    );
    assert!(state["last_error_at"].is_string());
    assert!(state["next_attempt_at"].is_string());
    assert_eq!(state["failure"]["cause"], "mediamtx_unreachable", "{state}");
    assert!(state["child_pid"].is_null());
    assert!(hook.publishers().is_empty(), "no FFmpeg without a server");
    let delays = hook.logged_delays();
    assert!(delays.windows(2).all(|w| w[0] < w[1]), "{delays:?}");

    // Let the backoff grow past a second, then stop it mid-wait.
    assert!(common::wait_until(Duration::from_secs(5), || hook
        .logged_delays()
        .last()
        .is_some_and(|&d| d >= 1000)));
    let (status, took) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("still running a second after SIGINT: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(hook.phase(), "idle");
    assert_nothing_left(&hook);
}

/// A camera that is not there is waited for, not retried on a timer: the
/// phase says so with its cause and fix, no attempt follows while nothing
/// appears, and SIGINT still ends the wait at once.
#[test]
fn missing_device_is_waited_for_without_retries() {
    let path = "camera97";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let device = dir.join("video97");
    let mut opts = HookOptions::testsrc(path, port);
    opts.args = vec!["--device".into(), device.to_string_lossy().into_owned()];
    opts.policy = Some(r#"{"restart": {"initial_delay": "100ms", "max_delay": "200ms"}}"#);
    let mut hook = Hook::start(&dir, opts);

    assert!(
        common::wait_until(Duration::from_secs(5), || {
            hook.state()["phase"] == "waiting-for-device"
        }),
        "{} / {}",
        hook.state(),
        hook.log()
    );
    // With a 100 ms backoff, a retry loop would have made ten attempts.
    std::thread::sleep(Duration::from_millis(1500));
    let state = hook.state();
    assert_eq!(state["phase"], "waiting-for-device", "{state}");
    assert_eq!(
        state["restarts"], 0,
        "no attempt while nothing is there: {state}"
    );
    assert!(state["next_attempt_at"].is_null(), "{state}");
    assert_eq!(state["device"], device.to_string_lossy().as_ref());
    assert_eq!(state["failure"]["cause"], "camera_missing", "{state}");
    let error = state["last_error"].as_str().unwrap();
    assert!(error.contains(device.to_str().unwrap()), "{error}");
    assert!(hook.publishers().is_empty());
    assert_eq!(
        hook.log()
            .matches("waiting for the device to come back")
            .count(),
        1,
        "{}",
        hook.log()
    );

    let (status, took) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("still running: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1));
}

/// Runs `hook run --device testsrc` with MediaMTX's variables replaced.
fn run_with_env(vars: &[(&str, Option<&str>)]) -> (i32, String) {
    let dir = TempDir::new("badenv");
    let mut cmd = common::mediamtx_command(dir.path(), "camera0", common::free_port());
    cmd.args(["run", "--device", "testsrc"]);
    for (k, v) in vars {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let (code, _, stderr) = common::run_to_end(cmd, Duration::from_secs(10));
    (code, stderr)
}

#[test]
fn bad_mtx_path_rtsp_port_or_g1_exit_2_naming_the_variable() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("MTX_PATH", None, "MTX_PATH is not set"),
        ("MTX_PATH", Some(""), "MTX_PATH is empty"),
        ("MTX_PATH", Some("../etc"), "MTX_PATH"),
        ("MTX_PATH", Some("a//b"), "MTX_PATH"),
        ("MTX_PATH", Some("cam\u{7}"), "MTX_PATH"),
        ("RTSP_PORT", Some("abc"), "RTSP_PORT \"abc\""),
        ("RTSP_PORT", Some("0"), "RTSP_PORT"),
        ("RTSP_PORT", Some("70000"), "RTSP_PORT"),
    ];
    for (var, value, message) in cases {
        let (code, stderr) = run_with_env(&[(var, *value)]);
        assert_eq!(code, 2, "{var}={value:?}: {stderr}");
        assert!(stderr.contains(message), "{var}={value:?}: {stderr}");
    }

    // G1 matters only without --device.
    let dir = TempDir::new("badg1");
    let mut cmd = common::mediamtx_command(dir.path(), "camera0", common::free_port());
    cmd.arg("run").env("G1", "x");
    let (code, _, stderr) = common::run_to_end(cmd, Duration::from_secs(10));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("G1"), "{stderr}");

    // No device at all: a path name without a number and no --device.
    let mut cmd = common::mediamtx_command(dir.path(), "garage", common::free_port());
    cmd.arg("run");
    let (code, _, stderr) = common::run_to_end(cmd, Duration::from_secs(10));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--device"), "{stderr}");

    // A bad flag value is refused before anything starts.
    let mut cmd = common::mediamtx_command(dir.path(), "camera0", common::free_port());
    cmd.args(["run", "--device", "testsrc", "--size", "big"]);
    let (code, _, stderr) = common::run_to_end(cmd, Duration::from_secs(10));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("big"), "{stderr}");
    // The test pattern cannot be copied: refused at once too.
    let mut cmd = common::mediamtx_command(dir.path(), "camera0", common::free_port());
    cmd.args(["run", "--device", "testsrc", "--encoder", "copy"]);
    let (code, _, stderr) = common::run_to_end(cmd, Duration::from_secs(10));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--encoder copy"), "{stderr}");
    // Nothing was written for a refused start.
    assert!(common::read_state(dir.path()).is_null());
}

#[test]
fn an_ffmpeg_that_cannot_be_run_is_reported_and_retried() {
    let path = "noffmpeg0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let missing = dir.join("no-such-ffmpeg");
    let mut hook = Hook::start(&dir, HookOptions::testsrc(path, port).ffmpeg(&missing));
    assert!(
        common::wait_until(Duration::from_secs(5), || {
            let s = hook.state();
            s["phase"] == "backoff" && s["restarts"].as_u64().unwrap_or(0) >= 2
        }),
        "{} / {}",
        hook.state(),
        hook.log()
    );
    let error = hook.state()["last_error"].as_str().unwrap().to_string();
    assert!(
        error.contains(&format!("cannot start {}", missing.display())),
        "{error}"
    );
    let (status, took) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(1))
        .expect("stops");
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1));
}

#[test]
fn sigint_while_ffmpeg_is_still_connecting_exits_within_a_second() {
    // A server that accepts the connection and never answers: real FFmpeg
    // waits in the RTSP handshake and does not act on SIGINT there.
    let path = "silent0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _silent = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut opts = HookOptions::testsrc(path, port);
    opts.policy = Some(r#"{"restart": {"grace": "5s"}}"#);
    let mut hook = Hook::start(&dir, opts);
    assert!(
        common::wait_until(Duration::from_secs(10), || hook.phase() == "starting"
            && hook.child_pid().is_some()),
        "{} / {}",
        hook.state(),
        hook.log()
    );
    let ffmpeg = hook.child_pid().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hook.phase(), "starting", "no frames can flow");

    let (status, took) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("still running a second after SIGINT: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(!common::pid_alive(ffmpeg));
    assert_nothing_left(&hook);
}
