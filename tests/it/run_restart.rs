//! `hook run` restarting FFmpeg: after it is killed (with delays that grow,
//! then start over after a stable run), and after it stalls.

use crate::support::common;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::time::Duration;

use common::{RtspListener, TempDir};
use run_support::{assert_nothing_left, fixture, Hook, HookOptions};

#[test]
fn killed_ffmpeg_is_restarted_with_growing_delays_then_reset_after_a_stable_run() {
    let path = "restart0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fixture("ffmpeg-progress.sh"));
    opts.policy = Some(
        r#"{"restart": {"initial_delay": "300ms", "max_delay": "5s", "stable_after": "2s",
            "grace": "1s", "stall_timeout": "5s"}}"#,
    );
    let mut hook = Hook::start(&dir, opts);

    // Three quick deaths in a row: each delay longer than the one before.
    let mut last = None;
    for _ in 0..3 {
        let pid = hook
            .wait_running_child(last, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no new child; {}", hook.log()));
        common::kill_pid(pid, libc::SIGKILL);
        last = Some(pid);
    }
    // A run longer than stable_after, then a death: back to the first delay.
    let pid = hook
        .wait_running_child(last, Duration::from_secs(10))
        .unwrap();
    std::thread::sleep(Duration::from_millis(2300));
    common::kill_pid(pid, libc::SIGKILL);
    let fifth = hook
        .wait_running_child(Some(pid), Duration::from_secs(10))
        .unwrap();

    let delays = hook.logged_delays();
    assert_eq!(delays.len(), 4, "{delays:?}\n{}", hook.log());
    assert!(
        delays[0] < delays[1] && delays[1] < delays[2],
        "delays do not grow: {delays:?}"
    );
    for (d, base) in delays.iter().zip([300, 600, 1200, 300]) {
        // Jitter shortens by at most a fifth, never lengthens.
        assert!(
            *d <= base && *d >= base * 8 / 10 - 1,
            "{d} for {base}: {delays:?}"
        );
    }
    let state = hook.state();
    assert_eq!(state["restarts"], 4, "{state}");
    assert_eq!(state["child_pid"], fifth, "{state}");
    assert_eq!(state["last_exit"]["signal"], libc::SIGKILL, "{state}");
    assert_eq!(state["last_exit"]["reason"], "exited", "{state}");
    assert!(
        state["last_error"].as_str().unwrap().contains("exited"),
        "{state}"
    );
    assert!(
        state["stderr_tail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "fake ffmpeg starting"),
        "{state}"
    );

    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(2))
        .expect("hook stops");
    assert_eq!(status.code(), Some(0));
    assert_nothing_left(&hook);
}

#[test]
fn real_ffmpeg_killed_is_restarted_and_publishes_again() {
    let path = "restart1";
    let dir = TempDir::new(path);
    let first = RtspListener::start(path);
    let port = first.port;
    let mut opts = HookOptions::testsrc(path, port);
    // Long enough for the test to put a new listener up before the retry.
    opts.policy = Some(r#"{"restart": {"initial_delay": "1s", "grace": "1s"}}"#);
    let mut hook = Hook::start(&dir, opts);
    let ffmpeg = hook
        .wait_running_child(None, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    assert!(common::wait_until(Duration::from_secs(10), || first
        .frames()
        >= 5));

    // FFmpeg's listener serves one publisher: when ours dies it quits too,
    // and a new one takes the port, as a restarted MediaMTX would.
    common::kill_pid(ffmpeg, libc::SIGKILL);
    assert!(common::wait_until(Duration::from_secs(5), || {
        !mediamtx_hook::supervise::port_listening(port)
    }));
    drop(first);
    let second = RtspListener::start_on(port, path);
    let again = hook
        .wait_running_child(Some(ffmpeg), Duration::from_secs(15))
        .unwrap_or_else(|| panic!("not restarted: {}", hook.log()));
    assert!(
        common::wait_until(Duration::from_secs(10), || second.frames() >= 5),
        "second listener got {} frames; {}",
        second.frames(),
        hook.log()
    );
    assert!(!common::pid_alive(ffmpeg));
    assert!(common::pid_alive(again));
    let restarts = hook.state()["restarts"].as_u64().unwrap();
    assert!(restarts >= 1);

    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(2))
        .expect("hook stops");
    assert_eq!(status.code(), Some(0));
    assert_nothing_left(&hook);

    // MediaMTX starts a new `hook run` for the next demand: the path's
    // restart count goes on (a counter never goes back).
    drop(second);
    let _third = RtspListener::start_on(port, path);
    let mut next = Hook::start(&dir, HookOptions::testsrc(path, port));
    next.wait_running_child(None, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("{}", next.log()));
    assert_eq!(
        next.state()["restarts"].as_u64(),
        Some(restarts),
        "{}",
        next.state()
    );
    let _ = next.signal_group_and_wait(libc::SIGINT, Duration::from_secs(2));
}

#[test]
fn stalled_ffmpeg_is_restarted() {
    let path = "stall0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fixture("ffmpeg-stalls.sh"));
    opts.policy =
        Some(r#"{"restart": {"initial_delay": "200ms", "grace": "1s", "stall_timeout": "1s"}}"#);
    let mut hook = Hook::start(&dir, opts);

    let first = hook
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    let second = hook
        .wait_running_child(Some(first), Duration::from_secs(10))
        .unwrap_or_else(|| panic!("stalled child not restarted: {}", hook.log()));
    assert!(!common::pid_alive(first));
    assert_ne!(first, second);
    let state = hook.state();
    assert_eq!(state["last_exit"]["reason"], "stalled", "{state}");
    // Stopped by SIGINT (sleep's default action), not left to the SIGKILL.
    assert_eq!(state["last_exit"]["signal"], libc::SIGINT, "{state}");
    assert!(
        state["last_error"].as_str().unwrap().contains("stalled"),
        "{state}"
    );
    assert!(
        state["stderr_tail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "stalled after 3 frames"),
        "{state}"
    );

    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(2))
        .expect("hook stops");
    assert_eq!(status.code(), Some(0));
    assert_nothing_left(&hook);
}
