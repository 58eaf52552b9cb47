//! Fault drill: the state directory's filesystem fills up (a 64 KiB tmpfs
//! mounted over it) while `hook run` streams. Every state write then fails:
//! the hook says so once, clearly, and keeps streaming (FFmpeg restarted
//! after a crash, a new path started); the old state stays intact (it parses
//! and is byte for byte what it was); `segment-complete` fails with a clear
//! error; `status` still answers. Once space is back, writes resume.
//!
//! Mounting needs root; without it the test says so and checks nothing.

use crate::support::common;
use crate::support::run as run_support;

use std::net::TcpListener;

use std::time::Duration;

use common::{fake_segment, hook_command, run_to_end, segment_command, SmallFs, TempDir};
use run_support::{assert_nothing_left, fixture, Hook, HookOptions};

#[test]
#[ignore = "mounts a small tmpfs, needs root: scripts/test.sh runs it as root"]
fn root_full_state_disk_is_a_clear_error_keeps_the_old_state_and_the_stream() {
    let path = "drilldisk0";
    let dir = TempDir::new(path);
    let state_dir = dir.join("state");
    assert!(common::is_root(), "mounting a small tmpfs needs root");
    let fs = SmallFs::mount(&state_dir)
        .unwrap_or_else(|e| panic!("cannot mount a tmpfs on {}: {e}", state_dir.display()));
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let fake = fixture("ffmpeg-progress.sh");
    let mut hook = Hook::start(&dir, HookOptions::testsrc(path, port).ffmpeg(&fake));
    let first = hook
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    let seg = fake_segment(dir.path(), 0.0, 100);
    let (code, _, err) = run_to_end(
        segment_command(&state_dir, path, &seg, "1"),
        Duration::from_secs(10),
    );
    assert_eq!(code, 0, "{err}");

    let before = std::fs::read(state_dir.join("state.json")).unwrap();
    let ledger = std::fs::read(state_dir.join(format!("ledger/{path}.jsonl"))).unwrap();
    let filler = fs.fill();

    // FFmpeg crashes: the hook restarts it although nothing can be recorded.
    common::kill_pid(first, libc::SIGKILL);
    let restarted = common::wait_until(Duration::from_secs(10), || {
        hook.publishers()
            .iter()
            .any(|p| p.pid != first && p.pid == p.pgrp)
    });
    assert!(restarted, "not restarted on a full disk: {}", hook.log());
    let log = hook.log();
    assert!(
        log.contains("cannot record state (streaming goes on)"),
        "{log}"
    );
    assert!(log.contains("No space left on device"), "{log}");
    assert!(
        log.contains(&state_dir.join("state.json").display().to_string()),
        "{log}"
    );
    assert_eq!(
        log.matches("cannot record state (streaming goes on)")
            .count(),
        1,
        "{log}"
    );

    // A new path starts streaming too, on the full disk.
    let other = "drilldisk1";
    let port2 = common::free_port();
    let _rtsp2 = TcpListener::bind(("127.0.0.1", port2)).unwrap();
    let mut hook2 = Hook::start(&dir, HookOptions::testsrc(other, port2).ffmpeg(&fake));
    let started = common::wait_until(Duration::from_secs(10), || !hook2.publishers().is_empty());
    assert!(
        started,
        "a new path did not start on a full disk: {}",
        hook2.log()
    );

    // segment-complete fails, clearly; nothing is half-written.
    let seg2 = fake_segment(dir.path(), 1.0, 100);
    let (code, _, err) = run_to_end(
        segment_command(&state_dir, path, &seg2, "1"),
        Duration::from_secs(10),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains(&state_dir.display().to_string()), "{err}");
    // Tried again briefly, then says how to record the segment by hand.
    assert!(err.contains("trying again"), "{err}");
    assert!(err.contains(&seg2.display().to_string()), "{err}");
    assert!(err.contains("record it by hand"), "{err}");

    // The old state is intact: the same bytes, and they parse.
    let now = std::fs::read(state_dir.join("state.json")).unwrap();
    assert_eq!(now, before, "state.json changed on a full disk");
    serde_json::from_slice::<serde_json::Value>(&now).expect("state parses");
    let ledger_now = std::fs::read(state_dir.join(format!("ledger/{path}.jsonl"))).unwrap();
    assert!(ledger_now.starts_with(&ledger), "ledger lost lines");
    assert!(
        !state_dir.join("state.json.tmp").exists(),
        "temporary file left"
    );
    let temporaries: Vec<_> = std::fs::read_dir(&state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("state.json.tmp"))
        .collect();
    assert!(
        temporaries.is_empty(),
        "temporary files left: {temporaries:?}"
    );
    let mut status = hook_command(&state_dir);
    status.args(["status", "--json"]);
    let (code, out, err) = run_to_end(status, Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["paths"][path]["segments"]["count"], 1, "{out}");

    // Space is back: the next transition is recorded again.
    std::fs::remove_file(filler).unwrap();
    let second = hook
        .publishers()
        .into_iter()
        .find(|p| p.pid == p.pgrp)
        .unwrap()
        .pid;
    common::kill_pid(second, libc::SIGKILL);
    // The state still names the first FFmpeg (the second was never
    // recorded) until a write succeeds again.
    let recorded = common::wait_until(Duration::from_secs(10), || {
        let pid = hook.child_pid();
        hook.phase() == "running" && pid.is_some() && pid != Some(first) && pid != Some(second)
    });
    assert!(
        recorded,
        "state not written again: {} {}",
        hook.state(),
        hook.log()
    );
    assert!(
        hook.state()["restarts"].as_u64().unwrap() >= 2,
        "{}",
        hook.state()
    );

    for h in [&mut hook, &mut hook2] {
        let (status, _) = h
            .signal_group_and_wait(libc::SIGINT, Duration::from_secs(3))
            .expect("hook stops");
        assert_eq!(status.code(), Some(0), "{}", h.log());
        assert_nothing_left(h);
    }
}
