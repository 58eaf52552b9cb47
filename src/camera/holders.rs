//! Which processes have a camera open: the programs behind "device busy".
//!
//! A V4L2 node is a character device; every open file of it, in any process
//! and any mount namespace, is a descriptor in `/proc/PID/fd` whose target
//! `stat`s as that device number. Comparing the device number (not the
//! path) finds holders that opened the camera through a by-id link or
//! another node name.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// A process with the camera open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Holder {
    pub pid: u32,
    /// Its command line (URL credentials redacted), or its name.
    pub command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({})", self.pid, self.command)
    }
}

/// The device number of a character node, following links.
pub(crate) fn device_number(node: &Path) -> Option<u64> {
    let meta = fs::metadata(node).ok()?;
    meta.file_type().is_char_device().then(|| meta.rdev())
}

/// Every other process with `node`'s device open (this process excluded),
/// by pid. Processes whose descriptors this user may not read are skipped.
pub(crate) fn holders(node: &Path) -> Vec<Holder> {
    let Some(rdev) = device_number(node) else {
        return Vec::new();
    };
    let me = std::process::id();
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<Holder> = procs
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && holds(pid, rdev))
        .map(|pid| Holder {
            pid,
            command: command_of(pid),
        })
        .collect();
    found.sort_by_key(|h| h.pid);
    found
}

/// Whether process `pid` has a descriptor on device `rdev`.
pub(crate) fn holds(pid: u32, rdev: u64) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        fs::metadata(fd.path()).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == rdev)
    })
}

/// `/proc/PID/cmdline` as one line (at most 200 characters, credentials in
/// URLs redacted), else the process name.
fn command_of(pid: u32) -> String {
    let words: Vec<String> = fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| crate::redact::redact_url(&String::from_utf8_lossy(w)))
        .collect();
    let line = if words.is_empty() {
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into())
    } else {
        words.join(" ")
    };
    if line.chars().count() > 200 {
        let cut: String = line.chars().take(199).collect();
        format!("{cut}…")
    } else {
        line
    }
}

/// "held by pid 42 (ffmpeg -f v4l2 …), pid 43 (…)".
pub(crate) fn describe(holders: &[Holder]) -> String {
    if holders.is_empty() {
        return "held by a program this user cannot see".into();
    }
    let list: Vec<String> = holders.iter().map(Holder::to_string).collect();
    format!("held by {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_process_holding_a_character_device_is_found_by_its_number() {
        // /dev/null is a character device every machine has: a child that
        // keeps it open is a holder; this process (excluded) holds it too.
        let null = fs::File::open("/dev/null").unwrap();
        let rdev = device_number(Path::new("/dev/null")).unwrap();
        assert!(holds(std::process::id(), rdev));
        assert!(null.as_raw_fd() > 2);
        assert!(!holders(Path::new("/dev/null"))
            .iter()
            .any(|h| h.pid == std::process::id()));
        assert!(device_number(Path::new("/proc/self/status")).is_none());
        assert!(holders(Path::new("/nonexistent/video9")).is_empty());
    }

    #[test]
    fn the_description_names_pid_and_command() {
        let h = [Holder {
            pid: 42,
            command: "ffmpeg -f v4l2 -i /dev/video0".into(),
        }];
        assert_eq!(
            describe(&h),
            "held by pid 42 (ffmpeg -f v4l2 -i /dev/video0)"
        );
        assert_eq!(describe(&[]), "held by a program this user cannot see");
    }
}
