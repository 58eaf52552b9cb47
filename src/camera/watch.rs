//! Waiting for a camera to come back: the node to reappear after an
//! unplug, or the program that holds it to let go.
//!
//! A camera that is away is not retried on the backoff schedule (which may
//! have grown to half a minute): [`DeviceWait`] says when to try again.
//! Reappearing is watched with inotify on the node's directory and every
//! existing directory above it up to `/dev` (udev creates `/dev/videoN`
//! first, then `/dev/v4l/by-id/…`, whose directories may not exist while no
//! camera is plugged in), and checked with one `stat` a second in case a
//! watch could not be set. A holder is checked every
//! [`RELEASE_CHECK`]: one directory listing of its descriptors.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::camera::holders::{self, Holder};

/// How often a holder is looked at.
pub(crate) const RELEASE_CHECK: Duration = Duration::from_millis(100);
/// How often a missing node is looked for besides inotify's word.
pub(crate) const PRESENT_CHECK: Duration = Duration::from_secs(1);

/// What the wait is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// The node (or link, followed) exists.
    Present,
    /// None of these processes has the camera open any more.
    Released { holders: Vec<Holder>, rdev: u64 },
    /// One more look after [`RELEASE_CHECK`]: the camera was busy but no
    /// holder is to be seen (it let go in between).
    Moment,
}

/// A wait for one camera; see the module doc.
#[derive(Debug)]
pub(crate) struct DeviceWait {
    device: PathBuf,
    until: Until,
    inotify: Option<Inotify>,
    next_check: Instant,
}

/// Whether something is at `device` now (following links). What it is,
/// the next attempt finds out and reports.
pub(crate) fn present(device: &Path) -> bool {
    std::fs::metadata(device).is_ok()
}

impl DeviceWait {
    /// A wait for `device` to appear; none when it is there already.
    pub(crate) fn present(device: &Path) -> Option<DeviceWait> {
        if present(device) {
            return None;
        }
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok();
        let mut wait = DeviceWait {
            device: device.to_path_buf(),
            until: Until::Present,
            inotify,
            next_check: Instant::now() + PRESENT_CHECK,
        };
        wait.watch_directories();
        Some(wait)
    }

    /// A wait for `holders` to let go of `device`; none when there are none
    /// (or the node is gone: then there is nothing to hold).
    pub(crate) fn released(device: &Path, holders: Vec<Holder>) -> Option<DeviceWait> {
        let rdev = holders::device_number(device)?;
        if holders.is_empty() {
            return None;
        }
        Some(DeviceWait {
            device: device.to_path_buf(),
            until: Until::Released { holders, rdev },
            inotify: None,
            next_check: Instant::now() + RELEASE_CHECK,
        })
    }

    /// A wait of one [`RELEASE_CHECK`]: for a camera found busy whose
    /// holder was gone by the time it was looked for.
    pub(crate) fn moment(device: &Path) -> DeviceWait {
        DeviceWait {
            device: device.to_path_buf(),
            until: Until::Moment,
            inotify: None,
            next_check: Instant::now() + RELEASE_CHECK,
        }
    }

    /// What is waited for, for the log.
    pub(crate) fn what(&self) -> String {
        match &self.until {
            Until::Present => "the device to come back".into(),
            Until::Released { holders, .. } => format!(
                "the camera to be let go ({})",
                crate::camera::holders::describe(holders)
            ),
            Until::Moment => "a moment: the camera was let go meanwhile".into(),
        }
    }

    /// Inotify's descriptor, to poll with the rest.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inotify.as_ref().map(|i| i.as_fd())
    }

    /// When [`ready`](Self::ready) must be asked next even without an event.
    pub(crate) fn next_check(&self) -> Instant {
        self.next_check
    }

    /// Whether to try the camera now. Reads pending inotify events; cheap.
    pub(crate) fn ready(&mut self) -> bool {
        let woken = match &self.inotify {
            Some(i) => i.read_events().is_ok_and(|events| !events.is_empty()),
            None => false,
        };
        let now = Instant::now();
        if !woken && now < self.next_check {
            return false;
        }
        match &self.until {
            Until::Present => {
                self.next_check = now + PRESENT_CHECK;
                if present(&self.device) {
                    return true;
                }
                // A directory on the way may have been made: watch it too.
                self.watch_directories();
                false
            }
            Until::Moment => true,
            Until::Released { holders, rdev } => {
                self.next_check = now + RELEASE_CHECK;
                let rdev = *rdev;
                // A node that vanished is held by nobody: try (and learn
                // it is unplugged).
                holders::device_number(&self.device) != Some(rdev)
                    || !holders.iter().any(|h| holders::holds(h.pid, rdev))
            }
        }
    }

    /// Watches the node's directory and each existing one above it, up to
    /// the root, for entries made, moved in or changed.
    fn watch_directories(&mut self) {
        let Some(inotify) = &self.inotify else {
            return;
        };
        let flags = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_ONLYDIR;
        let mut dir = self.device.parent();
        while let Some(d) = dir {
            if d.as_os_str().is_empty() {
                break;
            }
            if d.is_dir() {
                let _ = inotify.add_watch(d, flags);
            }
            if d == Path::new("/dev") {
                break;
            }
            dir = d.parent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_node_is_waited_for_until_something_is_there() {
        assert!(present(Path::new("/dev/null")));
        assert!(DeviceWait::present(Path::new("/dev/null")).is_none());
        let tmp = tempfile::Builder::new()
            .prefix("hook-watch-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let node = dir.join("by-id").join("usb-cam-video-index0");
        let mut wait = DeviceWait::present(&node).expect("absent node is waited for");
        assert!(wait.fd().is_some());
        assert!(!wait.ready());
        // The directory appears: the watch on its parent fires, and the
        // new directory is watched from then on.
        std::fs::create_dir(dir.join("by-id")).unwrap();
        assert!(!wait.ready());
        std::fs::write(&node, b"").unwrap();
        // Something is there (what, the attempt will say).
        assert!(wait.ready());
    }

    #[test]
    fn nobody_to_wait_for_is_no_wait() {
        assert!(DeviceWait::released(Path::new("/dev/null"), Vec::new()).is_none());
        assert!(DeviceWait::released(Path::new("/nonexistent/video9"), Vec::new()).is_none());
        let holder = Holder {
            pid: u32::MAX,
            command: "gone".into(),
        };
        let mut wait = DeviceWait::released(Path::new("/dev/null"), vec![holder]).unwrap();
        std::thread::sleep(RELEASE_CHECK);
        assert!(wait.ready(), "a holder that does not exist holds nothing");
    }
}
