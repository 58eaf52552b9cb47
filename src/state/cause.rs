//! Why a path is not working: a cause from a small, stable set, with the
//! evidence and the fix, as `hook status` shows it and as a metric labels it.
//!
//! The set only grows; a name never changes meaning. A state file written by
//! a newer version with a cause this one does not know reads as
//! [`Cause::Other`], so the rest of the path is kept.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The documented causes (`snake_case` in JSON and metric labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The device node does not exist (never plugged in, wrong name).
    CameraMissing,
    /// The camera went away while in use (or its node vanished).
    Unplugged,
    /// The node is not a V4L2 video capture device.
    NotACamera,
    /// Another program is streaming from the camera.
    Busy,
    /// The service user may not open the node.
    Permission,
    /// Streaming could not start: the USB bus has no bandwidth left
    /// (`STREAMON` returned `ENOSPC`, "No space left on device").
    UsbBandwidth,
    /// The camera does not offer the format asked for.
    UnsupportedFormat,
    /// The camera offers no frame size within the one asked for.
    UnsupportedSize,
    /// The camera streams no frames (FFmpeg stalled or ended without any).
    NoFrames,
    /// The video encoder could not be opened or failed.
    EncoderFailed,
    /// FFmpeg could not be started, or failed for another reason.
    FfmpegFailed,
    /// MediaMTX's RTSP port or Control API does not answer.
    MediamtxUnreachable,
    /// MediaMTX refused the RTSP or Control API credentials.
    CredentialsRefused,
    /// A file could not be written: no space left on the file system.
    DiskFull,
    /// Any other system error while using the device.
    DeviceError,
    /// The recordings' file system has (almost) no free space left.
    FilesystemLow,
    /// MediaMTX's recorder reported an error.
    RecorderError,
    /// Nothing to record: no stream reaches MediaMTX's recorder.
    NoStream,
    /// A recording session's hold (the reader keeping its stream) died.
    HoldDead,
    /// A cause written by a newer version of the hook.
    #[serde(other)]
    Other,
}

impl Cause {
    /// Every cause, in documentation order.
    pub const ALL: &'static [Cause] = &[
        Cause::CameraMissing,
        Cause::Unplugged,
        Cause::NotACamera,
        Cause::Busy,
        Cause::Permission,
        Cause::UsbBandwidth,
        Cause::UnsupportedFormat,
        Cause::UnsupportedSize,
        Cause::NoFrames,
        Cause::EncoderFailed,
        Cause::FfmpegFailed,
        Cause::MediamtxUnreachable,
        Cause::CredentialsRefused,
        Cause::DiskFull,
        Cause::DeviceError,
        Cause::FilesystemLow,
        Cause::RecorderError,
        Cause::NoStream,
        Cause::HoldDead,
        Cause::Other,
    ];

    /// The name in JSON and in the metric's `cause` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::CameraMissing => "camera_missing",
            Cause::Unplugged => "unplugged",
            Cause::NotACamera => "not_a_camera",
            Cause::Busy => "busy",
            Cause::Permission => "permission",
            Cause::UsbBandwidth => "usb_bandwidth",
            Cause::UnsupportedFormat => "unsupported_format",
            Cause::UnsupportedSize => "unsupported_size",
            Cause::NoFrames => "no_frames",
            Cause::EncoderFailed => "encoder_failed",
            Cause::FfmpegFailed => "ffmpeg_failed",
            Cause::MediamtxUnreachable => "mediamtx_unreachable",
            Cause::CredentialsRefused => "credentials_refused",
            Cause::DiskFull => "disk_full",
            Cause::DeviceError => "device_error",
            Cause::FilesystemLow => "filesystem_low",
            Cause::RecorderError => "recorder_error",
            Cause::NoStream => "no_stream",
            Cause::HoldDead => "hold_dead",
            Cause::Other => "other",
        }
    }

    /// A few words for the human view and for a gap's cause.
    pub(crate) fn summary(self) -> &'static str {
        match self {
            Cause::CameraMissing => "camera missing",
            Cause::Unplugged => "camera unplugged",
            Cause::NotACamera => "not a camera",
            Cause::Busy => "camera busy",
            Cause::Permission => "permission denied",
            Cause::UsbBandwidth => "USB bandwidth",
            Cause::UnsupportedFormat => "format not offered",
            Cause::UnsupportedSize => "size not offered",
            Cause::NoFrames => "no frames",
            Cause::EncoderFailed => "encoder failed",
            Cause::FfmpegFailed => "FFmpeg failed",
            Cause::MediamtxUnreachable => "MediaMTX unreachable",
            Cause::CredentialsRefused => "credentials refused",
            Cause::DiskFull => "disk full",
            Cause::DeviceError => "device error",
            Cause::FilesystemLow => "file system (almost) full",
            Cause::RecorderError => "recorder error",
            Cause::NoStream => "no stream",
            Cause::HoldDead => "hold killed",
            Cause::Other => "other",
        }
    }

    /// What to do about it, when nothing more specific is known.
    pub(crate) fn fix(self) -> &'static str {
        match self {
            Cause::CameraMissing => {
                "plug the camera in, or check --device (hook devices lists the cameras)"
            }
            Cause::Unplugged => {
                "plug the camera back in: the hook publishes again as soon as it is back"
            }
            Cause::NotACamera => "point --device at a capture node (hook devices lists them)",
            Cause::Busy => {
                "stop the other program: the hook takes the camera as soon as it is free"
            }
            Cause::Permission => {
                "add the service user to the node's group (usermod -aG video USER) and restart it"
            }
            Cause::UsbBandwidth => {
                "use MJPEG or a smaller size or rate, or move the camera to another USB \
                 controller: this is not the disk"
            }
            Cause::UnsupportedFormat => {
                "choose a format the camera offers (hook devices), or drop --input-format"
            }
            Cause::UnsupportedSize => "choose a size the camera offers (hook devices)",
            Cause::NoFrames => "check the camera's cable and light; replug it",
            Cause::EncoderFailed => "try --encoder libx264, or a lower --size or --bitrate",
            Cause::FfmpegFailed => "read stderr_tail; check that FFmpeg is installed",
            Cause::MediamtxUnreachable => {
                "start MediaMTX, and check RTSP_PORT / HOOK_MTX_API against its configuration"
            }
            Cause::CredentialsRefused => {
                "set HOOK_RTSP_USER / HOOK_RTSP_PASS (or HOOK_MTX_API_USER / HOOK_MTX_API_PASS) \
                 to a user MediaMTX accepts"
            }
            Cause::DiskFull => "free space on the file system, or set a disk budget",
            Cause::DeviceError => "read the detail; replug the camera",
            Cause::FilesystemLow => {
                "free space on the recordings' file system, or set recording.min_free"
            }
            Cause::RecorderError => "read MediaMTX's log for the recorder's error",
            Cause::NoStream => {
                "check the publisher (hook status PATH shows its cause) and the hold's log"
            }
            Cause::HoldDead => {
                "nothing, when it came back: the hook starts a new hold; if the session \
                 failed, start it again with hook record start"
            }
            Cause::Other => "read the detail",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cause with its evidence and fix, and since when it holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub cause: Cause,
    /// The evidence: what was seen (an error, FFmpeg's line, the holder).
    pub detail: String,
    /// What to do about it.
    pub fix: String,
    /// When this cause was first seen (a repeat of the same cause keeps it).
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

impl Failure {
    /// `cause` with `detail` and the cause's own fix.
    pub(crate) fn new(cause: Cause, detail: impl Into<String>) -> Failure {
        Failure {
            cause,
            detail: detail.into(),
            fix: cause.fix().to_string(),
            since: time::OffsetDateTime::now_utc(),
        }
    }

    /// With a more specific fix than the cause's own.
    pub(crate) fn with_fix(mut self, fix: impl Into<String>) -> Failure {
        self.fix = fix.into();
        self
    }

    /// This failure, keeping `previous.since` when it is the same cause.
    pub(crate) fn after(mut self, previous: Option<&Failure>) -> Failure {
        if let Some(p) = previous.filter(|p| p.cause == self.cause) {
            self.since = p.since;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serialized_names() {
        for c in Cause::ALL {
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            let back: Cause = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *c);
            assert!(!c.fix().is_empty() && !c.summary().is_empty());
        }
    }

    #[test]
    fn an_unknown_cause_reads_as_other() {
        let c: Cause = serde_json::from_str("\"flux_capacitor\"").unwrap();
        assert_eq!(c, Cause::Other);
    }

    #[test]
    fn a_repeated_cause_keeps_its_start() {
        let first = Failure::new(Cause::Unplugged, "a");
        let mut later = Failure::new(Cause::Unplugged, "b");
        later.since += time::Duration::seconds(5);
        assert_eq!(later.clone().after(Some(&first)).since, first.since);
        let other = Failure::new(Cause::Busy, "c");
        assert_eq!(other.clone().after(Some(&first)).since, other.since);
    }
}
