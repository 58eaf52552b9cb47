//! `hook snapshot` never harms what `-o` names or what sits beside it:
//! anything but a regular file is refused before FFmpeg runs; links planted
//! in a shared directory are never written through; on a full file system
//! the error says so and the old picture stays whole.

use crate::support::common;
use crate::support::standin;

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use standin::jpeg_size;

const NOBODY: u32 = 65534;

/// `hook snapshot cam0 --device testsrc -o OUT` with nothing answering the
/// Control API (so the frame comes from the test pattern).
fn snapshot_cmd(state: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = hook_command(state);
    c.env("HOOK_MTX_API", format!("http://127.0.0.1:{}", free_port()))
        .args(["snapshot", "cam0", "--device", "testsrc", "-o"])
        .arg(out)
        .args(extra);
    c
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn what_is_not_a_regular_file_is_refused_before_anything_is_captured() {
    let dir = TempDir::new("snap-kinds");
    let state = dir.join("state");
    // An "FFmpeg" that leaves a mark if it is ever started.
    let marker = dir.join("ffmpeg-ran");
    let fake = dir.join("marking-ffmpeg");
    write_script(
        &fake,
        &format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.display()),
    );
    let victim = dir.join("victim.jpg");
    std::fs::write(&victim, b"not to be touched").unwrap();
    let fifo = dir.join("fifo.jpg");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let socket = dir.join("socket.jpg");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let subdir = dir.join("dir.jpg");
    std::fs::create_dir(&subdir).unwrap();
    let link = dir.join("link.jpg");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let dangling = dir.join("dangling.jpg");
    std::os::unix::fs::symlink(dir.join("nowhere.jpg"), &dangling).unwrap();
    let dir_link = dir.join("dirlink.jpg");
    std::os::unix::fs::symlink(&subdir, &dir_link).unwrap();

    let cases: [(PathBuf, &str); 7] = [
        (PathBuf::from("/dev/null"), "is a character device"),
        (fifo.clone(), "is a FIFO"),
        (socket.clone(), "is a socket"),
        (subdir.clone(), "is a directory"),
        (link.clone(), "is a symbolic link"),
        (dangling.clone(), "is a symbolic link"),
        (dir_link.clone(), "is a symbolic link"),
    ];
    for (target, what) in &cases {
        let before = std::fs::symlink_metadata(target).unwrap();
        let mut c = snapshot_cmd(&state, target, &["--ffmpeg"]);
        c.arg(&fake);
        let (code, _, err) = run_to_end(c, Duration::from_secs(10));
        assert_eq!(code, 2, "{}: {err}", target.display());
        assert!(
            err.contains(&target.display().to_string()) && err.contains(what),
            "{}: {err}",
            target.display()
        );
        assert!(err.contains("-o"), "{err}");
        if *target == link {
            assert!(err.contains(&format!("to {}", victim.display())), "{err}");
        }
        assert!(!marker.exists(), "FFmpeg ran for {}", target.display());
        let after = std::fs::symlink_metadata(target).unwrap();
        assert_eq!(
            (after.file_type(), after.ino(), after.mode()),
            (before.file_type(), before.ino(), before.mode()),
            "{} changed",
            target.display()
        );
    }
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(std::fs::read(&victim).unwrap(), b"not to be touched");
    assert!(!dir.join("nowhere.jpg").exists());
    assert_eq!(names(&subdir), Vec::<String>::new());
    // No temporary file was made anywhere.
    assert!(
        !names(dir.path()).iter().any(|n| n.contains(".tmp-")),
        "{:?}",
        names(dir.path())
    );
}

/// A regular file is replaced whole, with its permissions kept; a new one
/// gets 0644.
#[test]
fn a_regular_file_is_replaced_with_its_mode_and_a_new_one_is_0644() {
    let dir = TempDir::new("snap-mode");
    let state = dir.join("state");
    let old = dir.join("old.jpg");
    std::fs::write(&old, b"old picture").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, _, err) = run_to_end(snapshot_cmd(&state, &old, &[]), Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    assert_eq!(jpeg_size(&std::fs::read(&old).unwrap()), Some((640, 480)));
    let mode = std::fs::metadata(&old).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o640, "{mode:o}");

    let new = dir.join("new.jpg");
    // The hook sets the mode itself, whatever its umask.
    let (code, _, err) = run_to_end(snapshot_cmd(&state, &new, &[]), Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    let mode = std::fs::metadata(&new).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o644, "{mode:o}");
    assert_eq!(names(dir.path()), vec!["new.jpg", "old.jpg", "state"]);
}

/// Plants symbolic links to `victim` as `nobody`, in `dir`, under `names`.
fn plant_links_as_nobody(dir: &Path, victim: &Path, names: &[String]) {
    let mut c = Command::new("/usr/bin/python3");
    c.current_dir(dir)
        .arg("-c")
        .arg("import os, sys\nfor n in sys.argv[2:]:\n    os.symlink(sys.argv[1], n)\n")
        .arg(victim)
        .args(names)
        .stdin(Stdio::null());
    as_nobody(&mut c);
    let out = c.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "planting links: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs root: scripts/test.sh runs it as root"]
fn root_links_planted_in_a_shared_directory_are_never_written_through() {
    assert!(
        is_root(),
        "needs root: a root snapshot into a directory where nobody plants links (CI runs as root)"
    );
    use mediamtx_hook::camera::device_lock::{lock_file_for, DeviceLock};
    let dir = TempDir::new("snap-links");
    let state = dir.join("state");
    // Another user's file the attacker wants overwritten.
    let private = dir.join("private");
    std::fs::create_dir(&private).unwrap();
    let victim = private.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = shared.join("snap.jpg");
    let late = shared.join("late.jpg");

    // The snapshot waits for the device lock, so its pid is known before it
    // writes anything: the links are planted for exactly that process.
    let lock_file = lock_file_for(&state.join("locks"), "testsrc", "cam0");
    let lock = DeviceLock::try_acquire(&lock_file).unwrap().unwrap();
    let mut cmd = snapshot_cmd(&state, &out, &["--timeout", "15s"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let mut late_cmd = snapshot_cmd(&state, &late, &["--timeout", "15s"]);
    late_cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let late_child = late_cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(pid_alive(child.id()) && pid_alive(late_child.id()));

    let mut planted: Vec<String> = Vec::new();
    for pid in [child.id(), late_child.id()] {
        // The name the old code used (`.NAME.tmp-PID`, opened by FFmpeg),
        // for these pids and their neighbours (FFmpeg's own pid).
        for p in pid.saturating_sub(5)..pid + 20 {
            for name in ["snap.jpg", "late.jpg"] {
                planted.push(format!(".{name}.tmp-{p}"));
            }
        }
    }
    for name in ["snap.jpg", "late.jpg"] {
        for pattern in [
            ".{}.tmp",
            "{}.tmp",
            ".{}.tmp-0",
            "{}~",
            ".{}.swp",
            "{}.part",
            ".{}.part",
            "{}.new",
        ] {
            planted.push(pattern.replace("{}", name));
        }
    }
    planted.sort();
    planted.dedup();
    plant_links_as_nobody(&shared, &victim, &planted);
    // And the target name of the second snapshot itself, after its check.
    plant_links_as_nobody(&shared, &victim, &["late.jpg".to_string()]);
    drop(lock);

    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{err}");
    let late_done = late_child.wait_with_output().unwrap();
    let late_err = String::from_utf8_lossy(&late_done.stderr);
    assert_eq!(late_done.status.code(), Some(1), "{late_err}");
    assert!(
        late_err.contains("became a symbolic link") && late_err.contains("late.jpg"),
        "{late_err}"
    );

    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "victim written"
    );
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o644));
    assert_eq!(jpeg_size(&std::fs::read(&out).unwrap()), Some((640, 480)));
    // Every planted link is still there, still a link, still to the victim.
    for name in planted.iter().chain(["late.jpg".to_string()].iter()) {
        let m = std::fs::symlink_metadata(shared.join(name)).unwrap();
        assert!(m.file_type().is_symlink(), "{name}");
        assert_eq!(m.uid(), NOBODY, "{name}");
        assert_eq!(std::fs::read_link(shared.join(name)).unwrap(), victim);
    }
    let mut expected: Vec<String> = planted.clone();
    expected.push("late.jpg".into());
    expected.push("snap.jpg".into());
    expected.sort();
    assert_eq!(names(&shared), expected, "a temporary file was left");
}

/// A small tmpfs mounted at a directory, unmounted on drop.
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(at: &Path, size: &str) -> SmallFs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mounting a tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallFs(at.to_path_buf())
    }

    /// Fills the file system to the last byte, then frees `leave` bytes.
    fn fill_leaving(&self, leave: u64) -> PathBuf {
        let filler = self.0.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        for chunk in [4096usize, 1] {
            let buf = vec![b'x'; chunk];
            while f.write_all(&buf).is_ok() {}
        }
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(leave)).unwrap();
        filler
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root: scripts/test.sh runs it as root"]
fn root_a_full_file_system_is_named_and_the_old_picture_stays_whole() {
    assert!(
        is_root(),
        "needs root to mount a small tmpfs (CI runs as root)"
    );
    let dir = TempDir::new("snap-full");
    let state = dir.join("state");
    let fs = SmallFs::mount(&dir.join("out"), "256k");
    let out = dir.join("out/snap.jpg");

    let (code, _, err) = run_to_end(snapshot_cmd(&state, &out, &[]), Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    let good = std::fs::read(&out).unwrap();
    assert_eq!(jpeg_size(&good), Some((640, 480)));
    assert!(good.len() > 12 * 1024, "{} bytes", good.len());
    let recorded = path_state(&state, "cam0")["snapshot"].clone();

    // 8 KiB left: the new picture (over 12 KiB) is written in part, then
    // the file system is full. Then no byte left at all.
    for leave in [8 * 1024, 0] {
        let filler = fs.fill_leaving(leave);
        let started = Instant::now();
        let (code, _, err) = run_to_end(snapshot_cmd(&state, &out, &[]), Duration::from_secs(20));
        assert_eq!(code, 1, "{leave} bytes free: {err}");
        assert!(err.contains("No space left on device"), "{err}");
        assert!(err.contains(&out.display().to_string()), "{err}");
        assert!(!err.contains("not a JPEG"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(std::fs::read(&out).unwrap(), good, "old picture changed");
        assert_eq!(names(&dir.join("out")), vec!["filler", "snap.jpg"]);
        // The failed snapshot is not recorded as the last one.
        assert_eq!(path_state(&state, "cam0")["snapshot"], recorded);
        std::fs::remove_file(filler).unwrap();
    }

    // Space is back: snapshots work again.
    let (code, _, err) = run_to_end(
        snapshot_cmd(&state, &out, &["--size", "320x240"]),
        Duration::from_secs(20),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(jpeg_size(&std::fs::read(&out).unwrap()), Some((320, 240)));
    assert_eq!(names(&dir.join("out")), vec!["snap.jpg"]);
}

/// A drop directory (0733: writable, not listable) still takes a snapshot
/// from a user who may not list it.
#[test]
#[ignore = "needs root: scripts/test.sh runs it as root"]
fn root_a_directory_that_cannot_be_listed_still_takes_a_snapshot() {
    assert!(
        is_root(),
        "needs root to run the snapshot as nobody (CI runs as root)"
    );
    let dir = TempDir::new("snap-drop");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = dir.join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(NOBODY), Some(NOBODY)).unwrap();
    let drop_dir = dir.join("drop");
    std::fs::create_dir(&drop_dir).unwrap();
    std::fs::set_permissions(&drop_dir, std::fs::Permissions::from_mode(0o733)).unwrap();
    let out = drop_dir.join("snap.jpg");
    let mut c = snapshot_cmd(&state, &out, &[]);
    as_nobody(&mut c);
    let (code, _, err) = run_to_end(c, Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (NOBODY, 0o644));
    assert_eq!(jpeg_size(&std::fs::read(&out).unwrap()), Some((640, 480)));
    assert_eq!(names(&drop_dir), vec!["snap.jpg"]);
}
