//! `hook run` on devices that cannot be used: each problem is the path's
//! `last_error` in `hook status`, the phase is `waiting-for-device`, the hook
//! keeps trying on the backoff schedule (so a camera that comes back is
//! picked up without anyone acting) and still stops at once on SIGINT. Also:
//! a camera's two names (node and by-id link) share one device lock.

use crate::support::common;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::TempDir;
use mediamtx_hook::camera::device_lock::{lock_file_for, DeviceLock};
use mediamtx_hook::state::StateStore;
use run_support::{assert_nothing_left, Hook, HookOptions, FAST_POLICY};

const WAIT: Duration = Duration::from_secs(10);

/// `hook run --device DEV` with the fast policy.
fn run_on(dir: &TempDir, path: &str, port: u16, device: &Path) -> Hook {
    let mut opts = HookOptions::testsrc(path, port);
    opts.args = vec!["--device".into(), device.to_string_lossy().into_owned()];
    Hook::start(dir, opts)
}

/// `hook status --json` for one path, as an operator would read it.
fn status_of(state_dir: &Path, path: &str) -> serde_json::Value {
    let mut cmd = common::hook_command(state_dir);
    cmd.args(["status", "--json"]);
    let (code, out, err) = common::run_to_end(cmd, Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    json["paths"][path].clone()
}

/// Waits until the hook records `error` while waiting for the device, then
/// checks `hook status` says the same, that no FFmpeg runs, and that one
/// SIGINT ends the hook within a second with exit 0.
fn assert_waits_with_error_then_stops(mut hook: Hook, state_dir: &Path, error: &str) {
    assert!(
        common::wait_until(WAIT, || {
            let s = hook.state();
            s["phase"] == "waiting-for-device" && s["last_error"] == error
        }),
        "want {error:?}; state {} / log {}",
        hook.state(),
        hook.log()
    );
    let status = status_of(state_dir, &hook.path);
    assert_eq!(status["phase"], "waiting-for-device", "{status}");
    assert_eq!(status["last_error"], error, "{status}");
    assert!(status["child_pid"].is_null(), "{status}");
    assert!(
        hook.child.try_wait().unwrap().is_none(),
        "the hook keeps running"
    );
    assert!(hook.publishers().is_empty());
    assert!(
        hook.log().contains(error),
        "the error is logged too: {}",
        hook.log()
    );
    let (status, took) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("still running a second after SIGINT: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_nothing_left(&hook);
}

/// /dev/null, a regular file, a directory, and (as root) a V4L2 node with no
/// driver behind it, each under its own `hook run` at the same time.
#[test]
fn device_errors_show_in_status_while_the_hook_waits() {
    let dir = TempDir::new("devrun-kinds");
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let file = dir.join("video0");
    std::fs::write(&file, b"not a camera").unwrap();
    let sub = dir.join("video1");
    std::fs::create_dir(&sub).unwrap();
    let mut cases: Vec<(PathBuf, String)> = vec![
        (
            PathBuf::from("/dev/null"),
            "/dev/null is not a video capture device: it is a character device (1:3) that is not a V4L2 node".into(),
        ),
        (
            file.clone(),
            format!("{} is not a video capture device: it is a regular file", file.display()),
        ),
        (
            sub.clone(),
            format!("{} is not a video capture device: it is a directory", sub.display()),
        ),
    ];
    if common::is_root() {
        let stale = dir.join("video2");
        common::make_v4l2_node(&stale, 2, 0o660, 0);
        cases.push((
            stale.clone(),
            format!(
                "device {} not found: the node exists but no driver answers (camera unplugged?)",
                stale.display()
            ),
        ));
    }
    let hooks: Vec<(Hook, String)> = cases
        .iter()
        .enumerate()
        .map(|(i, (device, error))| {
            (
                run_on(&dir, &format!("camera{}", 90 + i), port, device),
                error.clone(),
            )
        })
        .collect();
    for (hook, error) in hooks {
        assert_waits_with_error_then_stops(hook, &dir.join("state"), &error);
    }
}

/// A node the hook's user may not open. Root opens anything, so the hook
/// runs as `nobody`, on a node of group video, mode 0660.
#[test]
#[ignore = "needs root to create a device node and drop to nobody: scripts/test.sh runs it as root"]
fn root_permission_denied_shows_in_status() {
    assert!(
        common::is_root(),
        "needs root to create a device node and drop to nobody"
    );
    let dir = TempDir::new("devrun-perm");
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let video = nix::unistd::Group::from_name("video").unwrap().unwrap();
    let node = dir.join("video0");
    common::make_v4l2_node(&node, 0, 0o660, video.gid.as_raw());
    let state_dir = dir.join("state");
    std::fs::create_dir(&state_dir).unwrap();
    nix::unistd::chown(&state_dir, Some(65534.into()), Some(65534.into())).unwrap();
    let policy = common::write_config(dir.path(), FAST_POLICY);
    let log = dir.join("hook.log");
    let mut cmd = common::mediamtx_command(&state_dir, "camera0", port);
    cmd.args(["run", "--device", node.to_str().unwrap()])
        .env("HOOK_CONFIG", &policy)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    common::as_nobody(&mut cmd);
    let mut child: Child = cmd.spawn().unwrap();
    let error = format!(
        "permission denied opening {}: the node is mode 0660, owner root, group video; the hook runs as nobody: add nobody to group video",
        node.display()
    );
    let seen = common::wait_until(WAIT, || {
        let s = common::path_state(&state_dir, "camera0");
        s["phase"] == "waiting-for-device" && s["last_error"] == error.as_str()
    });
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    if !seen {
        common::kill_group(child.id(), libc::SIGKILL);
        let _ = child.wait();
        panic!(
            "state {} / log {}",
            common::path_state(&state_dir, "camera0"),
            log_text()
        );
    }
    let status = status_of(&state_dir, "camera0");
    assert_eq!(status["last_error"], error.as_str());
    // The cause names the node's owner and group, the user, and the fix.
    assert_eq!(status["cause"], "permission", "{status}");
    assert!(
        status["cause_detail"]
            .as_str()
            .unwrap()
            .contains("owner root, group video; the hook runs as nobody"),
        "{status}"
    );
    assert!(
        status["cause_fix"]
            .as_str()
            .unwrap()
            .starts_with("usermod -aG video nobody"),
        "{status}"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the hook keeps running"
    );
    common::kill_group(child.id(), libc::SIGINT);
    let status = common::wait_timeout(&mut child, Duration::from_secs(1));
    if status.is_none() {
        common::kill_group(child.id(), libc::SIGKILL);
        let _ = child.wait();
        panic!("still running a second after SIGINT: {}", log_text());
    }
    assert_eq!(status.unwrap().code(), Some(0));
}

/// A missing camera is waited for, not retried on a timer (the backoff
/// may have grown to half a minute by the time it is plugged in): the hook
/// watches the by-id directory and tries the moment something appears
/// there, reporting what it found. Here the link points at a file (no
/// V4L2 on this machine), so the attempt reports that: proof it probed the
/// device afresh as soon as it appeared.
#[test]
fn missing_device_is_tried_as_soon_as_it_appears() {
    let dir = TempDir::new("devrun-missing");
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let by_id = dir.join("by-id");
    std::fs::create_dir(&by_id).unwrap();
    let link = by_id.join("usb-046d_HD_Pro_Webcam_C920_A1B2C3D4-video-index0");
    let mut opts = HookOptions::testsrc("camera5", port);
    opts.args = vec!["--device".into(), link.to_string_lossy().into_owned()];
    // A long backoff: the device's return must not wait for it.
    opts.policy = Some(r#"{"restart": {"initial_delay": "20s", "max_delay": "30s"}}"#);
    let mut hook = Hook::start(&dir, opts);

    let missing = format!(
        "device {} not found: no such file (is the camera plugged in?)",
        link.display()
    );
    assert!(
        common::wait_until(WAIT, || {
            let s = hook.state();
            s["phase"] == "waiting-for-device" && s["last_error"] == missing.as_str()
        }),
        "{} / {}",
        hook.state(),
        hook.log()
    );
    let status = status_of(&dir.join("state"), "camera5");
    assert_eq!(status["cause"], "camera_missing", "{status}");
    assert!(
        status["cause_fix"]
            .as_str()
            .unwrap()
            .contains("hook devices"),
        "{status}"
    );
    assert!(status["next_attempt_at"].is_null(), "{status}");

    // The by-id link appears (udev makes it when the camera is plugged in).
    let target = dir.join("video5");
    std::fs::write(&target, b"").unwrap();
    let appeared_at = std::time::Instant::now();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let appeared = format!(
        "{} is not a video capture device: it is a regular file",
        link.display()
    );
    assert!(
        common::wait_until(Duration::from_secs(3), || hook.state()["last_error"]
            == appeared.as_str()),
        "{} / {}",
        hook.state(),
        hook.log()
    );
    let took = appeared_at.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "tried {took:?} after it appeared"
    );
    let status = status_of(&dir.join("state"), "camera5");
    assert_eq!(status["cause"], "not_a_camera", "{status}");
    let (status, took) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("still running: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1));
    assert_nothing_left(&hook);
}

/// `/dev/videoN` and its by-id link are one camera: while the lock is held
/// under the node's name, `hook run` on the link waits for it ("device
/// busy: held by pid …"); once it is free the hook goes on to the device.
#[test]
fn node_and_by_id_link_share_one_device_lock() {
    let dir = TempDir::new("devrun-lock");
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let node = dir.join("video3");
    std::fs::write(&node, b"").unwrap();
    let by_id = dir.join("by-id");
    std::fs::create_dir(&by_id).unwrap();
    let link = by_id.join("usb-534d_USB_Video-video-index0");
    std::os::unix::fs::symlink("../video3", &link).unwrap();

    // Another instance owns the camera under its /dev/videoN name.
    let locks = StateStore::new(dir.join("state")).locks_dir();
    let held = DeviceLock::try_acquire(&lock_file_for(&locks, node.to_str().unwrap(), "other"))
        .unwrap()
        .expect("lock is free");

    let mut opts = HookOptions::testsrc("camera3", port);
    opts.args = vec!["--device".into(), link.to_string_lossy().into_owned()];
    opts.policy = Some(r#"{"restart": {"initial_delay": "200ms", "device_lock_wait": "300ms"}}"#);
    let hook = Hook::start(&dir, opts);
    let busy = format!("device busy: held by pid {}", std::process::id());
    assert!(
        common::wait_until(WAIT, || hook.state()["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(&busy))),
        "{} / {}",
        hook.state(),
        hook.log()
    );
    assert_eq!(hook.phase(), "waiting-for-device");

    // The owner lets go: the next attempt gets the lock and probes the link.
    drop(held);
    assert_waits_with_error_then_stops(
        hook,
        &dir.join("state"),
        &format!(
            "{} is not a video capture device: it is a regular file",
            link.display()
        ),
    );
}
