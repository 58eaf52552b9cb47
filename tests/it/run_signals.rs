//! `hook run` publishing the test pattern with real FFmpeg to a real RTSP
//! listener, and stopping on the signals MediaMTX and people send: one SIGINT
//! to the group (MediaMTX), SIGTERM, SIGHUP, SIGKILL of the hook itself, and
//! an FFmpeg that will not stop on SIGINT.

use crate::support::common;
use crate::support::run as run_support;

use std::time::Duration;

use common::{RtspListener, TempDir};
use run_support::{assert_nothing_left, fixture, Hook, HookOptions};

/// The grace period of `run_support::FAST_POLICY`.
const GRACE: Duration = Duration::from_secs(1);

fn publish_then_stop_with(sig: i32, path: &str) {
    let dir = TempDir::new(path);
    let listener = RtspListener::start(path);
    let mut hook = Hook::start(&dir, HookOptions::testsrc(path, listener.port));

    assert!(
        hook.wait_phase("running", Duration::from_secs(15)),
        "never running; state {} log {}",
        hook.state(),
        hook.log()
    );
    let ffmpeg = hook.child_pid().expect("child pid in state");
    assert!(
        common::wait_until(Duration::from_secs(10), || listener.frames() >= 10),
        "listener decoded {} frames; its log {:?}; hook log {}",
        listener.frames(),
        listener.log(),
        hook.log()
    );
    // FFmpeg runs in its own process group, not the hook's.
    let info = common::processes()
        .into_iter()
        .find(|p| p.pid == ffmpeg)
        .expect("ffmpeg alive");
    assert_eq!(info.pgrp, ffmpeg);
    assert_eq!(info.ppid, hook.pid);

    let (status, took) = hook
        .signal_group_and_wait(sig, GRACE + Duration::from_secs(1))
        .unwrap_or_else(|| panic!("hook still running after signal {sig}: {}", hook.log()));
    assert_eq!(status.code(), Some(0), "log {}", hook.log());
    assert!(took < GRACE + Duration::from_secs(1), "took {took:?}");
    assert!(!common::pid_alive(ffmpeg));
    assert_nothing_left(&hook);

    let state = hook.state();
    assert_eq!(state["phase"], "idle", "{state}");
    assert!(state["child_pid"].is_null(), "{state}");
    assert!(state["supervisor_pid"].is_null(), "{state}");
    assert_eq!(state["last_exit"]["reason"], "stopped", "{state}");
    assert!(state["demand_at"].is_string(), "{state}");
}

#[test]
fn publishes_to_the_listener_and_one_sigint_to_the_group_stops_everything() {
    publish_then_stop_with(libc::SIGINT, "sigint0");
}

#[test]
fn sigterm_stops_everything_likewise() {
    publish_then_stop_with(libc::SIGTERM, "sigterm0");
}

#[test]
fn sighup_stops_everything_likewise() {
    publish_then_stop_with(libc::SIGHUP, "sighup0");
}

#[test]
fn ffmpeg_dies_within_a_second_of_a_sigkilled_hook() {
    let path = "sigkill0";
    let dir = TempDir::new(path);
    let listener = RtspListener::start(path);
    let mut hook = Hook::start(&dir, HookOptions::testsrc(path, listener.port));
    assert!(
        hook.wait_phase("running", Duration::from_secs(15)),
        "{}",
        hook.log()
    );
    let ffmpeg = hook.child_pid().unwrap();
    assert!(common::pid_alive(ffmpeg));
    // FFmpeg holds the device lock too (inherited), and nothing else of
    // the hook's.
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{ffmpeg}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(
        fds.iter()
            .any(|f| f.ends_with("locks/testsrc-sigkill0.lock")),
        "{fds:?}"
    );
    assert!(!fds.iter().any(|f| f.ends_with("state.lock")), "{fds:?}");

    common::kill_pid(hook.pid, libc::SIGKILL);
    hook.child.wait().unwrap();
    assert!(
        common::wait_until(Duration::from_secs(1), || !common::pid_alive(ffmpeg)),
        "ffmpeg {ffmpeg} outlived the SIGKILLed hook by a second"
    );
    assert!(hook.publishers().is_empty(), "{:?}", hook.publishers());
}

#[test]
fn ffmpeg_ignoring_sigint_is_killed_after_the_grace_period() {
    let path = "stubborn0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    // Something must listen on the RTSP port; the fake FFmpeg never connects.
    let _rtsp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut hook = Hook::start(
        &dir,
        HookOptions::testsrc(path, port).ffmpeg(&fixture("ffmpeg-ignores-sigint.sh")),
    );
    assert!(
        hook.wait_phase("running", Duration::from_secs(10)),
        "{}",
        hook.log()
    );
    let fake = hook.child_pid().unwrap();

    let (status, took) = hook
        .signal_group_and_wait(libc::SIGINT, GRACE + Duration::from_secs(1))
        .unwrap_or_else(|| panic!("hook still running: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
    assert!(
        took >= GRACE,
        "stopped after {took:?}, before the grace ran out"
    );
    assert!(!common::pid_alive(fake));
    assert_nothing_left(&hook);
    assert!(hook.log().contains("SIGKILL"), "{}", hook.log());
    let state = hook.state();
    assert_eq!(state["last_exit"]["signal"], libc::SIGKILL, "{state}");
    assert!(
        state["stderr_tail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "fake ffmpeg ignoring SIGINT"),
        "{state}"
    );
}

#[test]
fn a_process_ffmpeg_started_is_stopped_and_reaped_with_it() {
    let path = "forks0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut hook = Hook::start(
        &dir,
        HookOptions::testsrc(path, port).ffmpeg(&fixture("ffmpeg-forks.sh")),
    );
    let fake = hook
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    let helper = || {
        common::live_processes_with("sleep 6001")
            .into_iter()
            .filter(|p| p.pgrp == fake)
            .collect::<Vec<_>>()
    };
    assert!(common::wait_until(Duration::from_secs(5), || !helper().is_empty()));

    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, GRACE + Duration::from_secs(1))
        .unwrap_or_else(|| panic!("hook still running: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
    assert!(
        common::wait_until(Duration::from_secs(1), || helper().is_empty()),
        "helper survived: {:?}",
        helper()
    );
    assert_nothing_left(&hook);
}

#[test]
fn a_second_stop_signal_skips_the_rest_of_the_grace_period() {
    let path = "hurry0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fixture("ffmpeg-ignores-sigint.sh"));
    opts.policy = Some(r#"{"restart": {"grace": "8s"}}"#);
    let mut hook = Hook::start(&dir, opts);
    let fake = hook
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    common::kill_group(hook.pid, libc::SIGINT);
    assert!(hook.wait_phase("stopping", Duration::from_secs(2)));
    let (status, took) = hook
        .signal_group_and_wait(libc::SIGTERM, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("second signal did not hurry: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(!common::pid_alive(fake));
    assert_nothing_left(&hook);
}

#[test]
fn the_hook_stops_when_its_parent_dies_without_signalling_it() {
    // MediaMTX SIGKILLed: nobody will send SIGINT. Here a shell plays
    // MediaMTX: it starts the hook, prints its pid, and is killed.
    let path = "orphan0";
    let dir = TempDir::new(path);
    let state_dir = dir.join("state");
    let listener = RtspListener::start(path);
    let mut parent = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("\"$0\" run --device testsrc --size 320x240 --fps 10 2>/dev/null & echo $!; wait")
        .arg(common::hook_bin())
        .env("MTX_PATH", path)
        .env("RTSP_PORT", listener.port.to_string())
        .env("HOOK_STATE_DIR", &state_dir)
        .env_remove("HOOK_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(parent.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let hook: u32 = line.trim().parse().unwrap();
    assert!(common::wait_until(Duration::from_secs(15), || {
        common::path_state(&state_dir, path)["phase"] == "running"
    }));
    let ffmpeg = common::path_state(&state_dir, path)["child_pid"]
        .as_u64()
        .unwrap() as u32;

    parent.kill().unwrap();
    parent.wait().unwrap();
    assert!(
        common::wait_until(Duration::from_secs(3), || !common::pid_alive(hook)
            && !common::pid_alive(ffmpeg)),
        "hook {hook} or ffmpeg {ffmpeg} outlived its parent"
    );
    let state = common::path_state(&state_dir, path);
    assert_eq!(state["phase"], "idle", "{state}");
}
