//! Two `hook run` instances for one device, as when MediaMTX starts a new one
//! while the previous one is still stopping: never two FFmpegs at once; the
//! new one takes over as soon as the old one's FFmpeg is gone, or gives up
//! after the lock wait with "device busy", and still stops at once on SIGINT.

use crate::support::common;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TempDir;
use run_support::{assert_nothing_left, fixture, Hook, HookOptions};

/// Samples, every few milliseconds until stopped, how many publishers for
/// `url` are alive at once; returns the largest number seen.
fn watch_concurrency(url: String) -> (Arc<AtomicBool>, std::thread::JoinHandle<usize>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let handle = std::thread::spawn(move || {
        let max = AtomicUsize::new(0);
        while !s.load(Ordering::SeqCst) {
            // Group leaders only: the fake's shell forks carry its command
            // line until they exec `sleep`, and are not second FFmpegs.
            let n = common::live_processes_with(&url)
                .iter()
                .filter(|p| p.cmdline.contains("ffmpeg-progress.sh") && p.pid == p.pgrp)
                .count();
            max.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
        }
        max.load(Ordering::SeqCst)
    });
    (stop, handle)
}

#[test]
fn a_second_instance_waits_for_the_first_and_never_runs_ffmpeg_alongside_it() {
    let path = "lock0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let fake = fixture("ffmpeg-progress.sh");
    let (stop, sampler) = watch_concurrency(format!("rtsp://127.0.0.1:{port}/{path}"));

    let mut first = Hook::start(&dir, HookOptions::testsrc(path, port).ffmpeg(&fake));
    let first_child = first
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", first.log()));

    let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fake);
    opts.policy = Some(r#"{"restart": {"grace": "1s", "device_lock_wait": "8s"}}"#);
    let second = Hook::start(&dir, opts);
    assert!(
        second.wait_phase("waiting-for-device", Duration::from_secs(5)),
        "{} / {}",
        second.state(),
        second.log()
    );
    // The first keeps streaming while the second waits.
    std::thread::sleep(Duration::from_millis(300));
    assert!(common::pid_alive(first_child));
    assert!(second.child_pid().is_none());

    // MediaMTX stops the first (one SIGINT to its group); the second takes
    // over as soon as the first FFmpeg is gone.
    let t0 = Instant::now();
    let (status, _) = first
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(3))
        .expect("first stops");
    assert_eq!(status.code(), Some(0));
    let second_child = second
        .wait_running_child(None, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("second never ran: {}", second.log()));
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_ne!(first_child, second_child);

    stop.store(true, Ordering::SeqCst);
    assert_eq!(sampler.join().unwrap(), 1, "two FFmpegs ran at once");
    // The old instance did not clobber the new one's state when it stopped.
    let state = second.state();
    assert_eq!(state["supervisor_pid"], second.pid, "{state}");
    assert_eq!(state["phase"], "running", "{state}");
    assert_eq!(state["child_pid"], second_child, "{state}");
    drop(second);
    assert_nothing_left(&first);
}

#[test]
fn lock_wait_gives_up_with_device_busy_and_sigint_ends_the_wait_at_once() {
    let path = "lock1";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let fake = fixture("ffmpeg-progress.sh");

    let mut first = Hook::start(&dir, HookOptions::testsrc(path, port).ffmpeg(&fake));
    let first_child = first
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", first.log()));

    let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fake);
    opts.policy = Some(r#"{"restart": {"initial_delay": "5s", "device_lock_wait": "1s"}}"#);
    let mut second = Hook::start(&dir, opts);
    let busy = format!("device busy: held by pid {}", first.pid);
    assert!(
        // The error and the backoff that follows are two state writes.
        common::wait_until(Duration::from_secs(5), || {
            let s = second.state();
            s["last_error"].as_str().is_some_and(|e| e.contains(&busy))
                && s["next_attempt_at"].is_string()
        }),
        "{} / {}",
        second.state(),
        second.log()
    );
    assert_eq!(second.phase(), "waiting-for-device");
    assert!(second.state()["next_attempt_at"].is_string());

    // Waiting in backoff (5 s): SIGINT ends it within a second.
    let (status, took) = second
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("second still running: {}", second.log()));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1));

    // A third one, stopped while it waits for the lock itself.
    let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fake);
    opts.policy = Some(r#"{"restart": {"device_lock_wait": "8s"}}"#);
    let mut third = Hook::start(&dir, opts);
    assert!(third.wait_phase("waiting-for-device", Duration::from_secs(5)));
    let (status, took) = third
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("third still running: {}", third.log()));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1));

    // The first never noticed, and the waiting instances that never ran
    // handed the state back to it.
    assert_eq!(first.child_pid(), Some(first_child), "{}", first.state());
    assert_eq!(first.phase(), "running");
    assert_eq!(first.publishers().len(), 1);
    // Nor was the waiting instances' "device busy" left on its entry.
    assert_eq!(
        first.state()["last_error"],
        serde_json::Value::Null,
        "{}",
        first.state()
    );
    assert_eq!(first.state()["last_error_at"], serde_json::Value::Null);
    let (status, _) = first
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(3))
        .expect("first stops");
    assert_eq!(status.code(), Some(0));
    assert_nothing_left(&first);
}
