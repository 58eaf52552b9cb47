//! Tests of the safe-file types: links refused on the way, exclusive
//! creation, atomic replacement, and the lock file.

use super::sys::FileKind;
use super::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn tmp(tag: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("hook-fs-unit-{tag}-"))
        .tempdir()
        .unwrap()
        .keep()
}

#[test]
fn a_link_anywhere_in_the_walked_path_is_refused() {
    let d = tmp("walk");
    let elsewhere = tmp("walk-elsewhere");
    std::fs::create_dir_all(d.join("a/b")).unwrap();
    std::fs::create_dir_all(elsewhere.join("b")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, d.join("link")).unwrap();
    let dir = Dir::open_dir(&d).unwrap();
    assert!(dir.sub("a/b", false).unwrap().path().ends_with("a/b"));
    for rel in ["link", "link/b", "a/../link/b"] {
        let e = dir.sub(rel, true).unwrap_err();
        assert!(
            is_refusal(&e) || e.kind() == std::io::ErrorKind::InvalidInput,
            "{rel}: {e}"
        );
    }
    let e = dir.sub("link/b", true).unwrap_err();
    assert!(e.to_string().contains("is a symbolic link"), "{e}");
    for rel in ["..", "/etc", "a/..", ""] {
        assert!(dir.sub(rel, false).is_err(), "{rel}");
    }
    // Made component by component, nothing through the link.
    assert!(dir.sub("a/c/d", true).unwrap().path().ends_with("a/c/d"));
    assert!(d.join("a/c/d").is_dir());
    assert_eq!(std::fs::read_dir(elsewhere.join("b")).unwrap().count(), 0);
    // A file reached through a linked directory is refused too.
    let e = dir.sub("link", false).unwrap_err();
    assert!(is_refusal(&e), "{e}");
    assert_eq!(dir.kind("link").unwrap(), Some(FileKind::Symlink));
    assert_eq!(dir.kind("a").unwrap(), Some(FileKind::Directory));
    assert_eq!(dir.kind("missing").unwrap(), None);
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

#[test]
fn exclusive_creation_refuses_what_exists() {
    let d = tmp("excl");
    let target = d.join("target");
    std::fs::write(&target, b"keep").unwrap();
    std::os::unix::fs::symlink(&target, d.join("link")).unwrap();
    let dir = Dir::open_dir(&d).unwrap();
    let e = dir.create_new("target", 0o600).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    let e = dir.create_new("link", 0o600).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    let mut f = dir.create_new("new", 0o600).unwrap();
    f.write_all(b"x").unwrap();
    assert_eq!(std::fs::read(d.join("new")).unwrap(), b"x");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("new"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    let (_, a) = dir.create_temp("t.").unwrap();
    let (_, b) = dir.create_temp("t.").unwrap();
    assert_ne!(a, b);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn atomic_replace_leaves_the_old_content_or_the_new() {
    let d = tmp("replace");
    let dir = Dir::open_dir(&d).unwrap();
    dir.replace("f", ".f.", b"old", true).unwrap();
    assert_eq!(std::fs::read(d.join("f")).unwrap(), b"old");
    // A reader sees one whole version or the other, never a mix.
    let old = vec![b'o'; 1 << 16];
    let new = vec![b'n'; 1 << 16];
    dir.replace("f", ".f.", &old, false).unwrap();
    let reader = {
        let (path, old, new) = (d.join("f"), old.clone(), new.clone());
        std::thread::spawn(move || {
            for _ in 0..200 {
                let got = std::fs::read(&path).unwrap();
                assert!(
                    got == old || got == new,
                    "a torn read of {} bytes",
                    got.len()
                );
            }
        })
    };
    for i in 0..50 {
        let bytes = if i % 2 == 0 { &new } else { &old };
        dir.replace("f", ".f.", bytes, i % 10 == 0).unwrap();
    }
    reader.join().unwrap();
    // A link at the name is replaced, never written through.
    let target = d.join("target");
    std::fs::write(&target, b"keep").unwrap();
    std::os::unix::fs::symlink(&target, d.join("link")).unwrap();
    dir.replace("link", ".link.", b"new", true).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert!(std::fs::symlink_metadata(d.join("link")).unwrap().is_file());
    // A rename that fails leaves the name as it was, and no temporary file.
    std::fs::create_dir(d.join("busy")).unwrap();
    std::fs::write(d.join("busy/x"), b"").unwrap();
    assert!(dir.replace("busy", ".busy.", b"new", true).is_err());
    assert!(d.join("busy/x").exists());
    let left: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn free_space_is_that_of_the_nearest_existing_ancestor() {
    let here = space(Path::new("/tmp")).unwrap();
    assert!(here.total > 0 && here.free <= here.total);
    assert_eq!(
        space(Path::new("/tmp/no/such/dir")).unwrap().total,
        here.total
    );
}

#[test]
fn a_lock_held_through_another_open_file_is_not_taken() {
    let d = tmp("lock");
    let path = d.join("locks/x.lock");
    let mut held = LockFile::try_acquire(&path).unwrap().expect("free");
    held.write_owner("pid 42 (hook test)").unwrap();
    // Another open file description (as another process would have).
    assert!(LockFile::try_acquire(&path).unwrap().is_none());
    let other = LockFile::open(&path).unwrap();
    assert!(!other.try_lock().unwrap());
    assert_eq!(
        LockFile::holder(&path).as_deref(),
        Some("pid 42 (hook test)")
    );
    drop(held);
    // Released once every copy of the descriptor is closed: a child that
    // another test thread forks at this instant holds one until its exec.
    let got = other
        .lock_within(
            Instant::now() + Duration::from_secs(2),
            Duration::from_millis(5),
            || Ok::<(), ()>(()),
        )
        .unwrap();
    assert_eq!(got, Waited::Held);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_wait_ends_at_its_deadline_or_when_told() {
    let d = tmp("wait");
    let path = d.join("x.lock");
    let _held = LockFile::try_acquire(&path).unwrap().expect("free");
    let waiter = LockFile::open(&path).unwrap();
    let start = Instant::now();
    let mut tries = 0;
    let got = waiter
        .lock_within(
            start + Duration::from_millis(150),
            Duration::from_millis(20),
            || {
                tries += 1;
                Ok::<(), ()>(())
            },
        )
        .unwrap();
    let took = start.elapsed();
    assert_eq!(got, Waited::TimedOut);
    assert!(took >= Duration::from_millis(150), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(tries >= 3, "{tries}");
    let got = waiter
        .lock_within(
            start + Duration::from_secs(60),
            Duration::from_millis(5),
            || Err("stop"),
        )
        .unwrap();
    assert_eq!(got, Waited::Stopped("stop"));
    // One step: when to try next never passes the deadline.
    let now = Instant::now();
    let mut wait = LockWait::new(now + Duration::from_millis(10), Duration::from_secs(1));
    assert_eq!(
        wait.step(&waiter, now).unwrap(),
        Step::TryAt(now + Duration::from_millis(10))
    );
    assert_eq!(
        wait.step(&waiter, now + Duration::from_millis(10)).unwrap(),
        Step::TimedOut
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_lock_file_planted_as_a_link_or_a_fifo_is_refused() {
    let d = tmp("planted");
    let target = d.join("target");
    std::fs::write(&target, b"keep").unwrap();
    std::os::unix::fs::symlink(&target, d.join("link.lock")).unwrap();
    let e = LockFile::open(&d.join("link.lock")).unwrap_err();
    assert!(e.to_string().contains("is a symbolic link"), "{e}");
    nix::unistd::mkfifo(
        &d.join("fifo.lock"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let e = LockFile::open(&d.join("fifo.lock")).unwrap_err();
    assert!(is_refusal(&e), "{e}");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert_eq!(LockFile::holder(&d.join("missing.lock")), None);
    std::fs::remove_dir_all(&d).unwrap();
}
