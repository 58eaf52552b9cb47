//! Fault drill: twenty `hook run` instances of one path, each started while
//! the one before is still running or stopping, and each stopped the way
//! MediaMTX stops a hook (one SIGINT to its process group). A sampler
//! watching /proc the whole time never sees two FFmpegs for the device at
//! once; every instance exits 0 and nothing of any of them is left.

use crate::support::common;
use crate::support::drill as drill_support;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TempDir;
use drill_support::{fake_ffmpeg, Rng};
use run_support::{assert_nothing_left, Hook, HookOptions};

#[test]
fn twenty_overlapping_instances_of_one_path_never_run_two_ffmpegs() {
    const INSTANCES: usize = 20;
    let path = "drilloverlap0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    // Like FFmpeg, it takes a moment to close its output after SIGINT, so
    // the next instance really has to wait for it.
    let fake = fake_ffmpeg(
        dir.path(),
        "ffmpeg-slow-stop.sh",
        "trap 'echo closing >&2; sleep 0.3; exit 0' INT\n\
         i=0\n\
         while :; do\n\
           i=$((i + 1))\n\
           printf 'frame=%d\\nprogress=continue\\n' $i\n\
           sleep 0.1\n\
         done",
    );
    let url = format!("rtsp://127.0.0.1:{port}/{path}");

    let stop = Arc::new(AtomicBool::new(false));
    let (max_seen, samples) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let sampler = {
        let (stop, max_seen, samples, url) =
            (stop.clone(), max_seen.clone(), samples.clone(), url.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                // Group leaders only: the hook starts FFmpeg as the leader of
                // its own group, and the fake's shell forks carry its command
                // line until they exec `sleep`.
                let n = common::live_processes_with(&url)
                    .iter()
                    .filter(|p| p.cmdline.contains("ffmpeg-slow-stop.sh") && p.pid == p.pgrp)
                    .count();
                max_seen.fetch_max(n, Ordering::SeqCst);
                samples.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    let mut rng = Rng::from_env("twenty_overlapping_instances");
    let policy = r#"{"restart": {"initial_delay": "200ms", "grace": "2s",
        "stall_timeout": "3s", "device_lock_wait": "5s"}}"#;
    let mut hooks: Vec<Hook> = Vec::new();
    let mut stop_times = Vec::new();
    for i in 0..INSTANCES {
        let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fake);
        opts.policy = Some(policy);
        hooks.push(Hook::start(&dir, opts));
        // The next demand comes anywhere from at once to after the previous
        // instance is well into its run.
        std::thread::sleep(Duration::from_millis(rng.below(600)));
        if i > 0 {
            common::kill_group(hooks[i - 1].pid, libc::SIGINT);
            stop_times.push((i - 1, Instant::now()));
        }
    }
    // The last one gets the device once everyone before it is gone.
    let last = hooks.last().unwrap();
    let child = last
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the last instance never ran: {}", last.log()));
    assert!(common::pid_alive(child));
    common::kill_group(last.pid, libc::SIGINT);
    stop_times.push((INSTANCES - 1, Instant::now()));

    for (i, at) in stop_times {
        let hook = &mut hooks[i];
        // Within the grace (2 s) plus the fake's own 0.3 s close and slack,
        // counted from that instance's SIGINT.
        let left = (at + Duration::from_secs(4)).saturating_duration_since(Instant::now());
        let status = common::wait_timeout(&mut hook.child, left)
            .unwrap_or_else(|| panic!("instance {i} running 4 s after SIGINT: {}", hook.log()));
        assert_eq!(status.code(), Some(0), "instance {i}: {}", hook.log());
    }
    for hook in &hooks {
        assert_nothing_left(hook);
    }
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();

    let ran = hooks
        .iter()
        .filter(|h| h.log().contains("started ffmpeg"))
        .count();
    eprintln!(
        "{ran} of {INSTANCES} instances ran FFmpeg; {} /proc samples, at most {} FFmpeg at once",
        samples.load(Ordering::SeqCst),
        max_seen.load(Ordering::SeqCst)
    );
    assert_eq!(
        max_seen.load(Ordering::SeqCst),
        1,
        "two FFmpegs ran at once"
    );
    assert!(ran >= 2, "only {ran} instances ever ran FFmpeg");
    assert!(common::live_processes_with(&url).is_empty());
    let state = common::path_state(&dir.join("state"), path);
    assert_eq!(state["phase"], "idle", "{state}");
    assert!(state["child_pid"].is_null(), "{state}");
}
