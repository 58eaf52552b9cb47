//! Why a camera cannot be used right now, in words fit for `last_error`.
//!
//! `capture::prepare` returns these inside `anyhow::Error`, so the supervisor
//! can tell a device problem (record it, wait for the device, back off, try
//! again: cameras come back) from any other failure with
//! [`DeviceError::find`]. The errno mapping is a plain function because the
//! interesting errors (EBUSY, ENODEV on unplug) cannot be produced on a
//! machine without cameras.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::state::{Cause, Failure};

/// What is wrong with a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceError {
    /// No such node, a dangling by-id link, or a node no driver answers for
    /// (the camera was unplugged).
    NotFound { device: PathBuf, detail: String },
    /// The node exists but no driver answers for it (`ENODEV`, `ENXIO`): the
    /// camera was unplugged and the node not yet removed.
    Gone { device: PathBuf, detail: String },
    /// A file, directory or device that is not a V4L2 video capture node.
    NotCapture { device: PathBuf, what: String },
    /// The node exists but this user may not open it.
    PermissionDenied { device: PathBuf, detail: String },
    /// Another program is capturing from the camera.
    Busy { device: PathBuf },
    /// The camera does not offer what was asked for.
    Unsupported {
        device: PathBuf,
        problem: Unsupported,
    },
    /// Any other system error while probing.
    Io {
        device: PathBuf,
        action: &'static str,
        error: String,
    },
}

/// A request the camera cannot satisfy; the texts list what it does offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unsupported {
    /// `--input-format` names a format the camera does not offer.
    Format { asked: String, offered: Vec<String> },
    /// No frame size within an explicit `--size`.
    Size {
        asked: (u32, u32),
        format: String,
        offered: Vec<String>,
    },
    /// None of the camera's formats is one FFmpeg can read.
    NoUsableFormat { offered: Vec<String> },
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Format { asked, offered } => write!(
                f,
                "the camera does not offer input format {asked:?}; it offers {}",
                list_or_nothing(offered)
            ),
            Unsupported::Size {
                asked: (w, h),
                format,
                offered,
            } => write!(
                f,
                "no frame size within {w}x{h} for {format}; it offers {}",
                list_or_nothing(offered)
            ),
            Unsupported::NoUsableFormat { offered } => write!(
                f,
                "none of the camera's formats can be read by FFmpeg; it offers {}",
                list_or_nothing(offered)
            ),
        }
    }
}

fn list_or_nothing(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_string()
    } else {
        items.join(", ")
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::NotFound { device, detail } | DeviceError::Gone { device, detail } => {
                write!(f, "device {} not found: {detail}", device.display())
            }
            DeviceError::NotCapture { device, what } => write!(
                f,
                "{} is not a video capture device: {what}",
                device.display()
            ),
            DeviceError::PermissionDenied { device, detail } => {
                write!(
                    f,
                    "permission denied opening {}: {detail}",
                    device.display()
                )
            }
            DeviceError::Busy { device } => write!(
                f,
                "device {} is busy: another program is capturing from it",
                device.display()
            ),
            DeviceError::Unsupported { device, problem } => {
                write!(f, "device {}: {problem}", device.display())
            }
            DeviceError::Io {
                device,
                action,
                error,
            } => write!(f, "{action} {}: {error}", device.display()),
        }
    }
}

impl std::error::Error for DeviceError {}

impl DeviceError {
    /// The device error inside `err`, if it is one (anywhere in its chain).
    pub(crate) fn find(err: &anyhow::Error) -> Option<&DeviceError> {
        err.chain().find_map(|e| e.downcast_ref::<DeviceError>())
    }

    /// The device the error is about.
    #[cfg(test)]
    pub(crate) fn device(&self) -> &Path {
        match self {
            DeviceError::NotFound { device, .. }
            | DeviceError::Gone { device, .. }
            | DeviceError::NotCapture { device, .. }
            | DeviceError::PermissionDenied { device, .. }
            | DeviceError::Busy { device }
            | DeviceError::Unsupported { device, .. }
            | DeviceError::Io { device, .. } => device,
        }
    }

    /// The cause for status, with this error as the evidence. `ENOSPC` from
    /// `STREAMON` is the USB bus, not the disk.
    pub(crate) fn failure(&self) -> Failure {
        let cause = match self {
            DeviceError::NotFound { .. } => Cause::CameraMissing,
            DeviceError::Gone { .. } => Cause::Unplugged,
            DeviceError::NotCapture { .. } => Cause::NotACamera,
            DeviceError::PermissionDenied { .. } => Cause::Permission,
            DeviceError::Busy { .. } => Cause::Busy,
            DeviceError::Unsupported {
                problem: Unsupported::Size { .. },
                ..
            } => Cause::UnsupportedSize,
            DeviceError::Unsupported { .. } => Cause::UnsupportedFormat,
            DeviceError::Io { .. } => Cause::DeviceError,
        };
        let failure = Failure::new(cause, self.to_string());
        match self {
            DeviceError::PermissionDenied { device, .. } => {
                failure.with_fix(permission_fix(device))
            }
            _ => failure,
        }
    }

    /// Maps a failed system call on `device` to what it means for a camera.
    /// `action` says what was being done (`opening`, `querying`…) and
    /// `permission_detail` explains the node's ownership for EACCES.
    pub(crate) fn from_io(
        device: &Path,
        action: &'static str,
        error: &io::Error,
        permission_detail: impl FnOnce() -> String,
    ) -> DeviceError {
        let device = device.to_path_buf();
        match error.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => DeviceError::NotFound {
                device,
                detail: "no such file (is the camera plugged in?)".into(),
            },
            // The node is there but its driver is gone: unplugged, or the
            // module is not loaded.
            Some(libc::ENODEV) | Some(libc::ENXIO) => DeviceError::Gone {
                device,
                detail: "the node exists but no driver answers (camera unplugged?)".into(),
            },
            Some(libc::EACCES) | Some(libc::EPERM) => DeviceError::PermissionDenied {
                device,
                detail: permission_detail(),
            },
            Some(libc::EBUSY) => DeviceError::Busy { device },
            // Not a V4L2 node at all: the ioctl is unknown to its driver.
            Some(libc::ENOTTY) => DeviceError::NotCapture {
                device,
                what: "it does not answer V4L2 queries".into(),
            },
            _ => DeviceError::Io {
                device,
                action,
                error: error.to_string(),
            },
        }
    }
}

/// Explains who may open `path`, for a permission-denied error.
pub(crate) fn permission_detail(path: &Path) -> String {
    let me = service_user();
    let Ok(meta) = fs::metadata(path) else {
        return format!("the hook runs as {me} and may not look at it");
    };
    let owner = nix::unistd::User::from_uid(meta.uid().into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| meta.uid().to_string());
    let group = group_name(meta.gid());
    let mode = meta.mode() & 0o7777;
    let hint = if mode & 0o060 == 0o060 && meta.gid() != 0 {
        format!("add {me} to group {group}")
    } else {
        "give the node's group read and write access (a udev rule) and add the user to it"
            .to_string()
    };
    format!(
        "the node is mode {mode:04o}, owner {owner}, group {group}; the hook runs as {me}: {hint}"
    )
}

/// The command that fixes a permission problem on `path`: adding the
/// service user to the node's group (then restarting the service, since a
/// process keeps the groups it started with).
pub(crate) fn permission_fix(path: &Path) -> String {
    let me = service_user();
    match fs::metadata(path) {
        Ok(meta) if meta.mode() & 0o060 == 0o060 && meta.gid() != 0 => format!(
            "usermod -aG {} {me}, then restart MediaMTX (groups are read at login)",
            group_name(meta.gid())
        ),
        _ => format!(
            "give {} a group with read and write access (a udev rule such as \
             SUBSYSTEM==\"video4linux\", GROUP=\"video\", MODE=\"0660\"), then usermod -aG video {me}",
            path.display()
        ),
    }
}

fn service_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("uid {}", nix::unistd::geteuid()))
}

fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| gid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno_case(errno: i32) -> DeviceError {
        DeviceError::from_io(
            Path::new("/dev/video0"),
            "opening",
            &io::Error::from_raw_os_error(errno),
            || "mode 0660, owner root, group video".to_string(),
        )
    }

    #[test]
    fn errno_table() {
        let cases: &[(i32, &str)] = &[
            (
                libc::ENOENT,
                "device /dev/video0 not found: no such file (is the camera plugged in?)",
            ),
            (
                libc::ENODEV,
                "device /dev/video0 not found: the node exists but no driver answers (camera unplugged?)",
            ),
            (
                libc::ENXIO,
                "device /dev/video0 not found: the node exists but no driver answers (camera unplugged?)",
            ),
            (
                libc::EACCES,
                "permission denied opening /dev/video0: mode 0660, owner root, group video",
            ),
            (
                libc::EPERM,
                "permission denied opening /dev/video0: mode 0660, owner root, group video",
            ),
            (
                libc::EBUSY,
                "device /dev/video0 is busy: another program is capturing from it",
            ),
            (
                libc::ENOTTY,
                "/dev/video0 is not a video capture device: it does not answer V4L2 queries",
            ),
        ];
        for (errno, text) in cases {
            assert_eq!(errno_case(*errno).to_string(), *text, "errno {errno}");
        }
        let other = errno_case(libc::EIO);
        assert!(matches!(other, DeviceError::Io { .. }));
        assert!(other.to_string().starts_with("opening /dev/video0: "));
    }

    #[test]
    fn busy_is_found_through_context() {
        let err = anyhow::Error::new(errno_case(libc::EBUSY)).context("starting camera0");
        let found = DeviceError::find(&err).expect("device error in chain");
        assert!(matches!(found, DeviceError::Busy { .. }));
        assert_eq!(found.device(), Path::new("/dev/video0"));
        assert!(DeviceError::find(&anyhow::anyhow!("other")).is_none());
    }

    #[test]
    fn unsupported_texts_list_what_is_offered() {
        let e = DeviceError::Unsupported {
            device: "/dev/video2".into(),
            problem: Unsupported::Format {
                asked: "h264".into(),
                offered: vec!["mjpeg (MJPG)".into(), "yuyv422 (YUYV)".into()],
            },
        };
        assert_eq!(
            e.to_string(),
            "device /dev/video2: the camera does not offer input format \"h264\"; it offers mjpeg (MJPG), yuyv422 (YUYV)"
        );
        let e = DeviceError::Unsupported {
            device: "/dev/video2".into(),
            problem: Unsupported::Size {
                asked: (640, 480),
                format: "mjpeg".into(),
                offered: vec!["1920x1080".into()],
            },
        };
        assert_eq!(
            e.to_string(),
            "device /dev/video2: no frame size within 640x480 for mjpeg; it offers 1920x1080"
        );
    }
}
