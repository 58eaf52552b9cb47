//! `hook snapshot` failing cleanly: the time limit kills FFmpeg's whole
//! group and leaves no file behind; bad input is exit 2.

use crate::support::cmd::Cmd;
use crate::support::common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn time_limit_kills_ffmpeg_and_leaves_nothing() {
    let dir = TempDir::new("snap-timeout");
    // An "FFmpeg" that never produces a frame, with a child of its own.
    let fake = dir.join("stuck-ffmpeg");
    write_script(&fake, "#!/bin/sh\nsleep 917.25 &\nexec sleep 917.5\n");
    let out = dir.join("never.jpg");
    let mut c = hook_command(&dir.join("state"));
    c.env("HOOK_MTX_API", format!("http://127.0.0.1:{}", free_port()))
        .args([
            "snapshot",
            "cam0",
            "--device",
            "testsrc",
            "--timeout",
            "700ms",
            "--ffmpeg",
        ])
        .arg(&fake)
        .arg("-o")
        .arg(&out);
    let started = Instant::now();
    let (code, _, err) = run_to_end(c, Duration::from_secs(20));
    let took = started.elapsed();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("time limit"), "{err}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(
        wait_until(Duration::from_secs(2), || live_processes_with("917.")
            .is_empty()),
        "FFmpeg's group is gone: {:?}",
        live_processes_with("917.")
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_input_is_a_usage_error() {
    let dir = TempDir::new("snap-bad");
    let ok_out = dir.join("x.jpg");
    let missing_dir = dir.join("no/such/dir/x.jpg");
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec!["a//b".into(), "-o".into(), ok_out.clone().into()],
            "PATH",
        ),
        (
            vec!["..".into(), "-o".into(), ok_out.clone().into()],
            "PATH",
        ),
        (
            vec!["cam0".into(), "-o".into(), missing_dir.into()],
            "does not exist",
        ),
        (vec!["cam0".into(), "-o".into(), dir.path().into()], "-o"),
        (
            vec![
                "cam0".into(),
                "-o".into(),
                ok_out.clone().into(),
                "--timeout".into(),
                "0s".into(),
            ],
            "--timeout",
        ),
        (
            vec!["cam".into(), "-o".into(), ok_out.clone().into()],
            "--device",
        ),
    ];
    for (args, needle) in cases {
        let (code, _, err) = Cmd::hook(&dir.join("state"))
            .env("HOOK_MTX_API", format!("http://127.0.0.1:{}", free_port()))
            .arg("snapshot")
            .args(&args)
            .run()
            .parts();
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!ok_out.exists());
}

#[test]
fn the_device_lock_is_waited_for_and_never_raced() {
    use mediamtx_hook::camera::device_lock::{lock_file_for, DeviceLock};
    let dir = TempDir::new("snap-lock");
    let state = dir.join("state");
    let out = dir.join("locked.jpg");
    let lock_file = lock_file_for(&state.join("locks"), "testsrc", "cam0");
    let snapshot = |timeout: &str| {
        let mut c = hook_command(&state);
        c.env("HOOK_MTX_API", format!("http://127.0.0.1:{}", free_port()))
            .args([
                "snapshot",
                "cam0",
                "--device",
                "testsrc",
                "--timeout",
                timeout,
                "-o",
            ])
            .arg(&out);
        c
    };

    // A publisher holds the device for longer than the snapshot may wait.
    let lock = DeviceLock::try_acquire(&lock_file).unwrap().unwrap();
    let (code, _, err) = run_to_end(snapshot("800ms"), Duration::from_secs(10));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("busy"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(!out.exists());

    // It lets go while the snapshot waits: the snapshot goes ahead then.
    let mut cmd = snapshot("10s");
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(!out.exists(), "no frame while the device is locked");
    drop(lock);
    let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("snapshot ends");
    assert!(status.success());
    assert!(out.exists());
}

#[test]
fn device_problems_are_named() {
    let dir = TempDir::new("snap-dev-err");
    let out = dir.join("x.jpg");
    for (device, needle) in [
        ("/dev/null", "not a video capture device"),
        ("/dev/video917", "not found"),
    ] {
        let (code, _, err) = Cmd::hook(&dir.join("state"))
            .env("HOOK_MTX_API", format!("http://127.0.0.1:{}", free_port()))
            .args(["snapshot", "cam0", "--device", device, "-o"])
            .arg(&out)
            .run()
            .parts();
        assert_eq!(code, 1, "{device}: {err}");
        assert!(
            err.contains(device) && err.contains(needle),
            "{device}: {err}"
        );
        assert!(!out.exists());
    }
}
