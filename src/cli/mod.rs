//! The command line: every flag and subcommand is defined here, once, with
//! its documentation; `--help`, the man page and the shell completions are
//! all generated from this one definition.

pub(crate) mod completions;
pub(crate) mod events;
pub(crate) mod manpage;
pub(crate) mod mtx_args;
pub mod values;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::camera::capture::{Bitrate, CaptureRequest, InputFormat, WantedSize};
use crate::camera::encoder_choice::Encoder;
use crate::mediamtx::env as mtx_env;
use crate::policy::duration::Dur;
pub(crate) use mtx_args::{MtxPathArg, RtspPortArg};

/// Supervises FFmpeg for MediaMTX: V4L2 cameras published on demand,
/// recording sessions that survive segment rotation, snapshots, and a status
/// that tells the truth.
///
/// MediaMTX runs `hook run` from `runOnDemand`, `hook ready` from
/// `runOnAvailable` and `hook segment-complete` from
/// `runOnRecordSegmentComplete`; `hook mediamtx-config` prints that wiring.
/// People run `hook status`, `hook record`, `hook snapshot`, `hook stop` and
/// `hook devices`.
///
/// Exit status: 0 success or a requested stop, 1 a runtime failure, 2 a usage
/// or input error.
#[derive(Debug, Parser)]
#[command(name = "hook", version, max_term_width = 100)]
pub struct Cli {
    /// State directory [default: /var/lib/mediamtx-hook when writable, else
    /// $XDG_STATE_HOME/mediamtx-hook]. It must not be writable by every user;
    /// an empty or blank value is an error
    #[arg(
        long,
        global = true,
        env = "HOOK_STATE_DIR",
        value_name = "DIR",
        value_parser = values::STATE_DIR
    )]
    pub state_dir: Option<PathBuf>,

    /// Optional JSON config overriding the policy values (close-after, start
    /// timeout, restart and backoff, segment length…): a regular file of at
    /// most 1 MiB; an empty or blank value is an error
    #[arg(
        long,
        global = true,
        env = "HOOK_CONFIG",
        value_name = "FILE",
        value_parser = values::CONFIG
    )]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish a camera to MediaMTX and supervise FFmpeg until told to stop
    /// (for runOnDemand or runOnInit)
    ///
    /// Reads MTX_PATH, RTSP_PORT and G1 from MediaMTX. Publishes to
    /// rtsp://127.0.0.1:$RTSP_PORT/$MTX_PATH over TCP. Restarts FFmpeg with
    /// backoff when it exits or stalls; on SIGINT, SIGTERM or SIGHUP stops it
    /// (SIGINT, then SIGKILL after the grace period) and exits 0. With
    /// HOOK_RTSP_USER and HOOK_RTSP_PASS set (the environment only), FFmpeg
    /// publishes through a loopback relay in the hook that adds the login.
    Run(RunArgs),

    /// Record that the stream became available (for runOnAvailable)
    ///
    /// Stores the activation latency (demand to ready) and switches recording
    /// back on for an active recording session.
    Ready(MtxPathArg),

    /// Record a finished segment (for runOnRecordSegmentComplete)
    ///
    /// Reads MTX_PATH, MTX_SEGMENT_PATH and MTX_SEGMENT_DURATION; appends the
    /// segment to the path's ledger, updates totals and detects gaps; marks
    /// the oldest few segments whose files MediaMTX deleted as gone; then
    /// keeps the disk budget (recording.max_size, recording.min_free in
    /// HOOK_CONFIG), deleting the oldest segments, never a path's newest.
    SegmentComplete(SegmentArgs),

    /// Start or stop a manual recording session
    #[command(subcommand)]
    Record(RecordCommand),

    /// Take one JPEG snapshot, from the device or from the live stream
    Snapshot(SnapshotArgs),

    /// Join the kept segments of an event or a stretch of time into one MP4
    ///
    /// No re-encoding (FFmpeg's concat demuxer, -c copy): the clip is made of
    /// whole segments, so it may begin a little before and end a little
    /// after what was asked. Says what it covers and where it has gaps.
    Clip(events::ClipArgs),

    /// Start again what should be running: armed paths and recording
    /// sessions whose reader of the stream is gone (after a reboot or a MediaMTX restart)
    ///
    /// For MediaMTX's runOnInit (see the README): waits for MediaMTX's
    /// Control API, ends timed sessions whose end passed while nothing ran,
    /// and keeps the stream of every other armed path and live session again.
    Resume(RtspPortArg),

    /// Stop everything on a path: holds, recording sessions and the publisher
    Stop(StopArgs),

    /// Show what every path is doing
    Status(StatusArgs),

    /// List V4L2 capture devices and what `hook run` would choose for them
    Devices(DevicesArgs),

    /// Print the `paths:` entries that wire the hook into mediamtx.yml
    MediamtxConfig(MediamtxConfigArgs),

    /// Print a shell completion script
    Completions(CompletionsArgs),

    /// Print the man page (roff)
    Man,

    /// Keep a path's stream alive for a recording session (started by
    /// `hook record start`; not for direct use)
    #[command(hide = true)]
    Hold(HoldArgs),

    /// Read an RTSP stream and discard it, printing FFmpeg-style progress
    /// (the native reader of a hold; not for direct use)
    #[command(hide = true)]
    RtspRead(RtspReadArgs),
}

/// Device and encoding flags shared by `run`, `snapshot`, `devices` and `mediamtx-config`.
#[derive(Debug, Clone, Default, Args)]
pub struct DeviceArgs {
    /// Capture device: /dev/videoN, a /dev/v4l/by-id/… link, or `testsrc` for
    /// FFmpeg's synthetic test pattern [default: /dev/video$G1, else the
    /// number at the end of the path name]
    #[arg(long, value_name = "DEV")]
    pub device: Option<String>,

    /// Input format to ask the camera for: an FFmpeg name below, or a V4L2
    /// code such as MJPG or YUYV [default: the camera's H.264, else MJPEG,
    /// else raw]
    #[arg(long, value_name = "FORMAT", value_parser = InputFormatParser, hide_possible_values = false)]
    pub input_format: Option<InputFormat>,

    /// Largest frame size wanted, WxH: even numbers from 32x32 to
    /// 16384x16384 [default: 1280x720]
    #[arg(long, value_name = "WxH", value_parser = WantedSize::parse)]
    pub size: Option<WantedSize>,

    /// Frame rate wanted, 1 to 1000 [default: 30, or the nearest the camera
    /// offers]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub fps: Option<u32>,

    /// Video encoder
    #[arg(long, value_enum, default_value_t = Encoder::Auto)]
    pub encoder: Encoder,

    /// Target bitrate for encoders that take one: bits per second, with k
    /// or M, from 1k to 1000M (e.g. 2M, 800k, 1500000)
    #[arg(long, value_name = "B", value_parser = Bitrate::parse)]
    pub bitrate: Option<Bitrate>,

    /// FFmpeg binary to run
    #[arg(
        long,
        env = "HOOK_FFMPEG",
        value_name = "PATH",
        default_value = "ffmpeg"
    )]
    pub ffmpeg: PathBuf,
}

impl DeviceArgs {
    /// What `camera` needs to choose the input and the encoder, from these
    /// flags (each value was checked while the command line was read).
    pub(crate) fn capture_request(&self) -> CaptureRequest {
        CaptureRequest {
            input_format: self.input_format.clone(),
            size: self.size,
            fps: self.fps,
            encoder: self.encoder,
            bitrate: self.bitrate.clone(),
            ffmpeg: self.ffmpeg.clone(),
            cache_dir: None,
        }
    }
}

/// `--input-format`: a format FFmpeg can capture, by FFmpeg name (listed
/// in `--help` and the completions) or by V4L2 code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InputFormatParser;

impl clap::builder::TypedValueParser for InputFormatParser {
    type Value = InputFormat;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<InputFormat, clap::Error> {
        let text = value.to_string_lossy();
        if let Some(format) = value.to_str().and_then(|t| InputFormat::parse(t).ok()) {
            return Ok(format);
        }
        let flag = arg.map_or("--input-format".to_string(), |a| {
            format!("--{}", a.get_long().unwrap_or("input-format"))
        });
        Err(values::refusal(
            cmd,
            format!(
                "{flag} {text:?} is not a format FFmpeg can capture; expected one of {} (or a V4L2 code such as MJPG or YUYV)",
                crate::camera::formats::known_names().join(", ")
            ),
        ))
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            crate::camera::formats::known_names()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub device: DeviceArgs,

    #[command(flatten)]
    pub mtx: MtxPathArg,

    #[command(flatten)]
    pub rtsp: RtspPortArg,

    /// MediaMTX's first regex group (G1): the device number when the path
    /// is a regex such as `~^camera(\d+)$`; checked only without --device
    #[arg(long = "g1", env = "G1", hide = true, value_name = "N")]
    pub g1: Option<OsString>,

    /// Write a JPEG of the live picture this often (at least 100ms, e.g.
    /// 10s), atomically, to the stills directory as <path>.jpg; `off` for
    /// none [default: stills.every, off]
    #[arg(long, value_name = "D", value_parser = still_every_value)]
    pub still_every: Option<StillEvery>,
}

/// `--still-every`: an interval, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StillEvery {
    Off,
    Every(Dur),
}

/// `--still-every`: `off`, or a duration of at least 100ms.
pub(crate) fn still_every_value(text: &str) -> Result<StillEvery, String> {
    if text == "off" {
        return Ok(StillEvery::Off);
    }
    let every: Dur = text
        .parse()
        .map_err(|e: String| format!("{e}; or off for no stills"))?;
    crate::policy::check_still_every(every, "--still-every")?;
    Ok(StillEvery::Every(every))
}

#[derive(Debug, Clone, Args)]
pub struct SegmentArgs {
    /// A segment starting later than this after the previous one ended
    /// counts as a gap [default: recording.gap_tolerance, 1.5s]
    #[arg(long, value_name = "DURATION")]
    pub gap_tolerance: Option<Dur>,

    #[command(flatten)]
    pub mtx: MtxPathArg,

    /// The finished segment file (MTX_SEGMENT_PATH, set by MediaMTX)
    #[arg(long = "mtx-segment-path", env = "MTX_SEGMENT_PATH", hide = true,
          value_name = "FILE", value_parser = values::SEGMENT_PATH)]
    pub segment_path: Option<PathBuf>,

    /// Its duration in seconds (MTX_SEGMENT_DURATION, set by MediaMTX)
    #[arg(long = "mtx-segment-duration", env = "MTX_SEGMENT_DURATION", hide = true,
          value_name = "SECONDS", value_parser = values::SEGMENT_DURATION)]
    pub segment_duration: Option<f64>,
}

impl SegmentArgs {
    /// `MTX_SEGMENT_PATH`, which must be set.
    pub(crate) fn segment_path(&self) -> anyhow::Result<PathBuf> {
        self.segment_path
            .clone()
            .map_or_else(|| mtx_env::validate_segment_path(None), Ok)
    }

    /// `MTX_SEGMENT_DURATION`, which must be set.
    pub(crate) fn segment_duration(&self) -> anyhow::Result<f64> {
        self.segment_duration
            .map_or_else(|| mtx_env::validate_segment_duration(None), Ok)
    }
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Start a recording session, or extend the live one; returns once
    /// MediaMTX is recording
    ///
    /// Waits for recording up to MediaMTX's start timeout plus
    /// restart.device_lock_wait plus 2 s (20 s by default), then undoes
    /// everything. On a path that already records it is a re-trigger (exit
    /// 0): with --duration D the session ends no earlier than now + D (never
    /// sooner than it would have); without --duration it records until
    /// `hook record stop`. A start or stop in progress on the path is waited
    /// for first.
    Start(RecordStartArgs),
    /// Stop the recording session and print what it recorded
    ///
    /// Leaves MediaMTX's record switch off: ends a live session, cleans up
    /// one whose record start was killed, and switches recording off when
    /// it is on with no session. Exits 1 only when there was nothing to do.
    Stop(PathArg),
    /// Arm a path for events: keep its stream and a rolling window of short
    /// segments (the pre-roll), so that `record start` keeps what came before
    ///
    /// Holds the stream like a recording session and switches MediaMTX's
    /// recording on with recordSegmentDuration events.segment_duration (2s).
    /// Segments no event covers are deleted once they ended more than the
    /// pre-roll ago. `record start PATH --duration D` on an armed path is an
    /// event: everything from the pre-roll before it to the post-roll after
    /// its end is kept. On an armed path, arming again changes --pre/--post.
    Arm(events::ArmArgs),
    /// Disarm a path: the stream no longer kept, recording off, the rolling
    /// window deleted, recordSegmentDuration put back
    Disarm(PathArg),
}

#[derive(Debug, Clone, Args)]
pub struct RecordStartArgs {
    /// MediaMTX path name (e.g. camera0)
    #[arg(value_parser = values::path_name("PATH"))]
    pub path: String,
    /// End the session by itself after this long (e.g. 90m); on a live
    /// session: end it no earlier than this long from now
    #[arg(long, value_name = "DURATION", value_parser = values::positive_dur(
        "--duration",
        "a positive duration (e.g. 90m), or no --duration to record until `hook record stop`",
    ))]
    pub duration: Option<Dur>,
    /// Why (e.g. motion), kept with the session or the re-trigger and shown
    /// by `hook status` (one line, at most 200 bytes)
    #[arg(long, value_name = "TEXT", value_parser = values::REASON)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub rtsp: RtspPortArg,
}

impl RecordStartArgs {
    /// `--reason`, unless absent or blank.
    pub(crate) fn reason(&self) -> Option<String> {
        self.reason.clone().filter(|r| !r.is_empty())
    }
}

#[derive(Debug, Clone, Args)]
pub struct PathArg {
    /// MediaMTX path name (e.g. camera0)
    #[arg(value_parser = values::path_name("PATH"))]
    pub path: String,
}

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// MediaMTX path name (e.g. camera0)
    #[arg(value_parser = values::path_name("PATH"))]
    pub path: String,
    /// Where to write the JPEG: a new name or a regular file to replace,
    /// written whole and atomically (a symbolic link, device, FIFO, socket or
    /// directory is refused, exit 2)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Give up after this long [default: snapshot.timeout, 5s]
    #[arg(long, value_name = "DURATION",
          value_parser = values::positive_dur("--timeout", "a positive time limit, e.g. 5s"))]
    pub timeout: Option<Dur>,
    /// Return the path's live still at once when it is younger than this
    /// (e.g. 30s; see stills.every), else take a snapshot as usual
    #[arg(long, value_name = "DURATION",
          value_parser = values::positive_dur("--max-age", "a positive age, e.g. 30s"))]
    pub max_age: Option<Dur>,
    /// Frames to drop before the one kept when the camera itself is opened
    /// (no stream runs): a cold camera's first frames are dark or torn
    /// [default: snapshot.warmup_frames, 10]
    #[arg(long, value_name = "N")]
    pub warmup_frames: Option<u32>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub rtsp: RtspPortArg,
}

#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// MediaMTX path name (e.g. camera0)
    #[arg(value_parser = values::path_name("PATH"))]
    pub path: String,
    /// Why, kept in the state and shown by `hook status`
    #[arg(long, value_name = "TEXT", value_parser = values::STOP_REASON)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Only this path
    #[arg(value_parser = values::path_name("PATH argument"))]
    pub path: Option<String>,
    /// Print JSON (versioned schema, see docs/reference.md)
    #[arg(long, conflicts_with = "prometheus")]
    pub json: bool,
    /// Print node_exporter textfile-collector metrics
    #[arg(long)]
    pub prometheus: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DevicesArgs {
    /// Print JSON (`{"schema_version": 1, "devices": [...], "skipped": [...]}`)
    #[arg(long)]
    pub json: bool,
    // The same flags as `hook run`: `--device` shows that device only, the
    // others change what `hook run` would choose.
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MediamtxConfigArgs {
    /// Cameras to wire, one path entry each (repeatable) [default: every
    /// capture device found, else /dev/video0]
    #[arg(long, value_name = "DEV")]
    pub device: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// Shell to generate for
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct RtspReadArgs {
    /// rtsp://host:port/path
    pub url: String,
}

#[derive(Debug, Clone, Args)]
pub struct HoldArgs {
    /// MediaMTX path name to hold
    #[arg(value_parser = values::path_name("PATH"))]
    pub path: String,
    #[command(flatten)]
    pub rtsp: RtspPortArg,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_ffmpeg_cannot_encode_are_refused() {
        for ok in ["1280x720", "32x32", "640X480", "16384x16384"] {
            let size = WantedSize::parse(ok).unwrap();
            assert_eq!(size.to_string(), ok.to_lowercase());
        }
        for bad in [
            "1x1",
            "31x32",
            "33x34",
            "640x481",
            "16x16",
            "0x720",
            "big",
            "16386x16386",
        ] {
            assert!(WantedSize::parse(bad).is_err(), "{bad}");
        }
        assert!(WantedSize::parse("1x1")
            .unwrap_err()
            .contains("at least 32x32"));
    }

    #[test]
    fn flag_values_are_checked_while_parsing() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(["hook", "run"].iter().chain(args).copied());
        assert!(parse(&[
            "--size",
            "640x480",
            "--bitrate",
            "2M",
            "--input-format",
            "mjpeg"
        ])
        .is_ok());
        assert!(parse(&["--input-format", "MJPG"]).is_ok());
        assert!(parse(&["--still-every", "10s"]).is_ok());
        assert!(parse(&["--still-every", "off"]).is_ok());
        let err = parse(&["--still-every", "50ms"]).unwrap_err().to_string();
        assert!(err.contains("--still-every"), "{err}");
        let snap = |age: &str| {
            Cli::try_parse_from(["hook", "snapshot", "c0", "-o", "x.jpg", "--max-age", age])
        };
        assert!(snap("30s").is_ok());
        for bad in ["0s", "30", "soon"] {
            let err = snap(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.to_string().contains("--max-age"), "{bad}: {err}");
        }
        for bad in [
            &["--size", "1x1"][..],
            &["--bitrate", "fast"][..],
            &["--bitrate", "0"][..],
            &["--input-format", "h265"][..],
            &["--fps", "0"][..],
            &["--fps", "1001"][..],
            &["--still-every", "0s"][..],
            &["--still-every", "50ms"][..],
            &["--still-every", "10"][..],
            &["--still-every", "never"][..],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        let help = Cli::command()
            .find_subcommand_mut("run")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("yuyv422"), "{help}");
        assert!(help.contains("32x32"), "{help}");
    }
}
