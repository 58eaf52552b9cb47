//! One device, one owner: a lock file per capture device.
//!
//! MediaMTX may start a new `hook run` for a path while the previous one is
//! still stopping its FFmpeg; without a lock the new FFmpeg fails with
//! "device busy". The lock lives in the state directory (`locks/`), keyed by
//! the device's canonical path, so `/dev/v4l/by-id/…` and the `/dev/videoN`
//! it points to share one lock. The test pattern has no device; it is keyed
//! per MediaMTX path instead.
//!
//! The lock is a [`LockFile`] (`flock`): the kernel drops it when the last
//! descriptor of the open file goes away, which makes a crashed owner
//! harmless. The supervisor lets FFmpeg inherit the descriptor, so the
//! device stays locked until FFmpeg is really gone, even when the hook was
//! SIGKILLed. The owner writes its pid into the file for "device busy: held
//! by pid N".

use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::camera::capture::TEST_PATTERN;
use crate::fs::{LockFile, Waited};
use crate::state::files::name_stem;

/// The lock file for `device` (as given on the command line) serving
/// MediaMTX path `mtx_path`. Names become file names through
/// [`name_stem`], so two names never share a file and none escapes the
/// directory (`site1/camera0` → `testsrc-site1%2Fcamera0.lock`).
pub fn lock_file_for(locks_dir: &Path, device: &str, mtx_path: &str) -> PathBuf {
    if device == TEST_PATTERN {
        return locks_dir.join(format!("testsrc-{}.lock", name_stem(mtx_path)));
    }
    // A device that does not exist (yet) keeps its own name; the attempt
    // fails on it anyway and canonicalizes once it is back.
    let canonical = std::fs::canonicalize(device).unwrap_or_else(|_| PathBuf::from(device));
    locks_dir.join(format!(
        "device-{}.lock",
        name_stem(&canonical.to_string_lossy())
    ))
}

/// A held device lock; released when dropped (and when every process that
/// inherited it is gone).
#[derive(Debug)]
pub struct DeviceLock {
    lock: LockFile,
}

impl DeviceLock {
    /// Takes the lock if it is free; `Ok(None)` when someone holds it.
    pub fn try_acquire(path: &Path) -> io::Result<Option<DeviceLock>> {
        Ok(LockFile::try_acquire(path)?.map(DeviceLock::claim))
    }

    /// Takes the lock, trying every `poll` until `deadline`; `Ok(None)` when
    /// it is still held by someone else then.
    pub(crate) fn acquire_within(
        path: &Path,
        deadline: Instant,
        poll: Duration,
    ) -> io::Result<Option<DeviceLock>> {
        let lock = LockFile::open(path)?;
        Ok(
            match lock.lock_within(deadline, poll, || Ok::<(), ()>(()))? {
                Waited::Held => Some(DeviceLock::claim(lock)),
                Waited::TimedOut | Waited::Stopped(()) => None,
            },
        )
    }

    /// The lock just taken, with this process's pid written in it.
    pub(crate) fn claim(mut lock: LockFile) -> DeviceLock {
        // The pid only serves "held by pid N" messages: a lock whose pid
        // cannot be written (the state directory's disk is full) still
        // guards the device, and the stream must not wait for disk space.
        if let Err(e) = lock.write_owner(&std::process::id().to_string()) {
            log::warn!(
                "device lock {} taken, but its owner pid could not be written: {e}",
                lock.path().display()
            );
        }
        DeviceLock { lock }
    }

    /// The descriptor a child must inherit to share the lock.
    pub(crate) fn fd(&self) -> RawFd {
        self.lock.fd()
    }
}

/// The pid written by the current (or last) owner of a lock file.
pub(crate) fn holder(path: &Path) -> Option<u32> {
    LockFile::holder(path)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        tempfile::Builder::new()
            .prefix(&format!("hook-lock-unit-{tag}-"))
            .tempdir()
            .unwrap()
            .keep()
    }

    #[test]
    fn a_locks_directory_planted_as_a_link_is_refused() {
        let planted = tmp("planted");
        let elsewhere = tmp("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, planted.join("locks")).unwrap();
        let store = crate::state::StateStore::new(&planted);
        let locks = store.locks_dir();
        assert_eq!(locks, planted.join("locks"));
        let err = DeviceLock::try_acquire(&locks.join("x.lock")).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn names_are_escaped_and_distinct() {
        let dir = Path::new("/locks");
        let a = lock_file_for(dir, TEST_PATTERN, "cam_1");
        let b = lock_file_for(dir, TEST_PATTERN, "cam%5F1");
        assert_ne!(a, b);
        assert_eq!(a, Path::new("/locks/testsrc-cam_1.lock"));
        assert_eq!(b, Path::new("/locks/testsrc-cam%255F1.lock"));
        let site = lock_file_for(dir, TEST_PATTERN, "site1/camera0");
        assert_eq!(site, Path::new("/locks/testsrc-site1%2Fcamera0.lock"));
        for hostile in ["..", "a/../../x", "../../etc/passwd"] {
            let f = lock_file_for(dir, TEST_PATTERN, hostile);
            assert_eq!(f.parent().unwrap(), dir, "{hostile:?}");
        }
        let d = lock_file_for(dir, "/nonexistent/video0", "camera0");
        assert_eq!(d, Path::new("/locks/device-%2Fnonexistent%2Fvideo0.lock"));
        assert_eq!(name_stem(".."), "%2E.");
        assert_eq!(d.parent().unwrap(), dir);
    }

    #[test]
    fn a_symlink_shares_the_lock_of_its_target() {
        let dir = tmp("link");
        let node = dir.join("video7");
        std::fs::write(&node, b"").unwrap();
        let link = dir.join("by-id-cam");
        std::os::unix::fs::symlink(&node, &link).unwrap();
        let locks = dir.join("locks");
        let a = lock_file_for(&locks, node.to_str().unwrap(), "x");
        let b = lock_file_for(&locks, link.to_str().unwrap(), "y");
        assert_eq!(a, b);
        let held = DeviceLock::try_acquire(&a).unwrap().expect("free");
        assert!(DeviceLock::try_acquire(&b).unwrap().is_none());
        assert_eq!(holder(&b), Some(std::process::id()));
        drop(held);
        // Released once every copy of the descriptor is closed: a child that
        // another test thread forks at this instant holds one until its exec.
        let end = Instant::now() + Duration::from_secs(2);
        let again = DeviceLock::acquire_within(&b, end, Duration::from_millis(5)).unwrap();
        assert!(again.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
