//! `hook devices` as a person runs it on a machine without cameras, and its
//! errors for device paths that are not cameras: a missing path, /dev/null,
//! a regular file, a directory, a V4L2 node with no driver behind it, and a
//! node this user may not open.

use crate::support::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(20);

fn devices(dir: &Path, args: &[&str]) -> Command {
    let mut c = hook_command(dir);
    c.arg("devices").args(args);
    c
}

fn has_video_nodes() -> bool {
    std::fs::read_dir("/dev").unwrap().flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| n.starts_with("video"))
    })
}

#[test]
fn no_cameras_is_an_empty_list_and_success() {
    let dir = TempDir::new("devices-none");
    let (code, out, err) = run_to_end(devices(dir.path(), &["--json"]), T);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert!(json["devices"].is_array());
    assert!(json["skipped"].is_array());
    let (code, text, err) = run_to_end(devices(dir.path(), &[]), T);
    assert_eq!(code, 0, "{err}");
    if !has_video_nodes() {
        assert_eq!(json["devices"], serde_json::json!([]));
        assert!(
            text.starts_with("No V4L2 capture devices found (looked at /dev/video*)."),
            "{text}"
        );
        assert!(text.contains("--device testsrc"), "{text}");
    }
}

#[test]
fn test_pattern_choice() {
    let dir = TempDir::new("devices-testsrc");
    let (code, out, err) = run_to_end(devices(dir.path(), &["--device", "testsrc"]), T);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "testsrc: FFmpeg's test pattern; hook run would use 640x480 at 15 fps, encoder libx264"
    );
}

#[test]
fn bad_flags_exit_2() {
    let dir = TempDir::new("devices-flags");
    for args in [
        &["--size", "big"][..],
        &["--input-format", "h265"],
        &["--fps", "0"],
        &["--bitrate", "fast"],
    ] {
        let (code, _, err) = run_to_end(devices(dir.path(), args), T);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}

/// Each wrong `--device` is an error (exit 1) that says what the path is.
#[test]
fn paths_that_are_not_cameras() {
    let dir = TempDir::new("devices-paths");
    let file = dir.join("video0");
    std::fs::write(&file, b"not a camera").unwrap();
    let sub = dir.join("dir");
    std::fs::create_dir(&sub).unwrap();
    let missing = dir.join("video9");
    let cases = [
        (
            missing.display().to_string(),
            format!(
                "device {} not found: no such file (is the camera plugged in?)",
                missing.display()
            ),
        ),
        (
            "/dev/null".to_string(),
            "/dev/null is not a video capture device: it is a character device (1:3) that is not a V4L2 node".to_string(),
        ),
        (
            file.display().to_string(),
            format!(
                "{} is not a video capture device: it is a regular file",
                file.display()
            ),
        ),
        (
            sub.display().to_string(),
            format!(
                "{} is not a video capture device: it is a directory",
                sub.display()
            ),
        ),
    ];
    for (device, text) in cases {
        let (code, out, err) = run_to_end(devices(dir.path(), &["--device", &device]), T);
        assert_eq!(code, 1, "{device}: {out} {err}");
        assert!(err.contains(&text), "{device}: {err}");
    }
}

/// A V4L2 node whose camera is gone, and one this user may not open.
#[test]
#[ignore = "needs root to create device nodes: scripts/test.sh runs it as root"]
fn root_stale_and_forbidden_nodes() {
    assert!(is_root(), "needs root to create device nodes");
    let dir = TempDir::new("devices-nodes");
    let video = nix::unistd::Group::from_name("video")
        .unwrap()
        .expect("group video exists (Debian's base-passwd)");
    let stale = dir.join("video0");
    make_v4l2_node(&stale, 0, 0o660, video.gid.as_raw());
    let (code, _, err) = run_to_end(
        devices(dir.path(), &["--device", stale.to_str().unwrap()]),
        T,
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "device {} not found: the node exists but no driver answers (camera unplugged?)",
            stale.display()
        )),
        "{err}"
    );

    // Group video, mode 0660: nobody is not in the group.
    let mut cmd = devices(dir.path(), &["--device", stale.to_str().unwrap()]);
    as_nobody(&mut cmd);
    let (code, _, err) = run_to_end(cmd, T);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "permission denied opening {}: the node is mode 0660, owner root, group video; the hook runs as nobody: add nobody to group video",
            stale.display()
        )),
        "{err}"
    );

    // Mode 0000: no group would help.
    let locked = dir.join("video1");
    make_v4l2_node(&locked, 1, 0o000, 0);
    let mut cmd = devices(dir.path(), &["--device", locked.to_str().unwrap()]);
    as_nobody(&mut cmd);
    let (code, _, err) = run_to_end(cmd, T);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the node is mode 0000, owner root, group root; the hook runs as nobody: give the node's group read and write access"),
        "{err}"
    );
}
