//! Long runs of `hook run` (ignored by default; run by `scripts/soak.sh`,
//! or `cargo test --test it -- --ignored soak_`): many start/stop cycles with real FFmpeg, and many
//! MediaMTX-style overlaps of an old instance stopping while a new one
//! starts, checking each time that nothing is left and that two FFmpegs never
//! run at once.

use crate::support::common;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{RtspListener, TempDir};
use run_support::{assert_nothing_left, fixture, Hook, HookOptions};

#[test]
#[ignore = "long; run by scripts/soak.sh"]
fn soak_start_and_stop_with_real_ffmpeg_leaves_nothing() {
    let path = "soak0";
    let dir = TempDir::new(path);
    for cycle in 0..15 {
        let listener = RtspListener::start(path);
        let mut hook = Hook::start(&dir, HookOptions::testsrc(path, listener.port));
        assert!(
            common::wait_until(Duration::from_secs(15), || listener.frames() >= 3),
            "cycle {cycle}: no frames; {}",
            hook.log()
        );
        let (status, took) = hook
            .signal_group_and_wait(libc::SIGINT, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("cycle {cycle}: still running: {}", hook.log()));
        assert_eq!(status.code(), Some(0), "cycle {cycle}");
        assert!(took < Duration::from_secs(2), "cycle {cycle}: {took:?}");
        assert_nothing_left(&hook);
        assert_eq!(hook.phase(), "idle", "cycle {cycle}");
    }
}

#[test]
#[ignore = "long; run by scripts/soak.sh"]
fn soak_overlapping_instances_never_run_two_ffmpegs() {
    let path = "soak1";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let fake = fixture("ffmpeg-progress.sh");
    let url = format!("rtsp://127.0.0.1:{port}/{path}");

    let stop = Arc::new(AtomicBool::new(false));
    let max = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, max) = (stop.clone(), max.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let n = common::live_processes_with(&url)
                    .iter()
                    .filter(|p| p.cmdline.contains("ffmpeg-progress.sh"))
                    .count();
                max.fetch_max(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    let mut current = Hook::start(&dir, HookOptions::testsrc(path, port).ffmpeg(&fake));
    assert!(current.wait_phase("running", Duration::from_secs(10)));
    for cycle in 0..30 {
        // MediaMTX: SIGINT to the old instance, and at once a new one.
        common::kill_group(current.pid, libc::SIGINT);
        let next = Hook::start(&dir, HookOptions::testsrc(path, port).ffmpeg(&fake));
        let status = common::wait_timeout(&mut current.child, Duration::from_secs(3))
            .unwrap_or_else(|| panic!("cycle {cycle}: old still running: {}", current.log()));
        assert_eq!(status.code(), Some(0), "cycle {cycle}");
        assert!(
            next.wait_phase("running", Duration::from_secs(5)),
            "cycle {cycle}: new never ran: {} / {}",
            next.state(),
            next.log()
        );
        current = next;
    }
    let (status, _) = current
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(3))
        .expect("last stops");
    assert_eq!(status.code(), Some(0));
    assert_nothing_left(&current);
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    assert_eq!(max.load(Ordering::SeqCst), 1, "two FFmpegs ran at once");
    assert_eq!(current.phase(), "idle");
}
