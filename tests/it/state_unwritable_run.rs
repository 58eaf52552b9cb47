//! `hook run` with a state directory that cannot be written: the stream
//! matters more than the record of it, so it publishes anyway and says why
//! nothing is recorded.

use crate::support::common;
use crate::support::run as run_support;

use std::process::Stdio;
use std::time::Duration;

use common::{RtspListener, TempDir};

#[test]
fn hook_run_keeps_streaming_with_an_unwritable_state_dir() {
    let path = "nostate0";
    let dir = TempDir::new(path);
    // Root writes through permission bits, but not through a regular file
    // standing where a directory should be.
    let blocker = dir.join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let state = blocker.join("state");
    let listener = RtspListener::start(path);
    let cfg = dir.join("policy.json");
    std::fs::write(&cfg, run_support::FAST_POLICY).unwrap();
    let log = dir.join("hook.log");
    let mut cmd = common::mediamtx_command(&state, path, listener.port);
    cmd.args([
        "run", "--device", "testsrc", "--size", "320x240", "--fps", "10",
    ])
    .env("HOOK_CONFIG", &cfg)
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap());
    let mut hook = cmd.spawn().unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();

    let streamed = common::wait_until(Duration::from_secs(20), || listener.frames() >= 20);
    let still_running = hook.try_wait().unwrap().is_none();
    common::kill_group(hook.id(), libc::SIGINT);
    let status = common::wait_timeout(&mut hook, Duration::from_secs(10));
    if status.is_none() {
        common::kill_group(hook.id(), libc::SIGKILL);
        let _ = hook.wait();
    }
    let text = read_log();
    assert!(
        streamed,
        "the listener decoded {} frames; hook log:\n{text}",
        listener.frames()
    );
    assert!(still_running, "hook run exited while streaming:\n{text}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{text}");
    assert!(
        text.contains(&state.display().to_string()),
        "the log names the state directory it cannot write:\n{text}"
    );
    assert!(!state.exists());
}
