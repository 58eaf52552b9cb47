//! The command line: every flag and subcommand is defined here, once, with
//! its documentation; `--help`, the man page and the shell completions are
//! all generated from this one definition.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::duration::Dur;
use crate::error::{is_usage, EXIT_FAILURE, EXIT_USAGE};
use crate::policy::Policy;
use crate::state::{default_state_dir, StateStore};

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
        value_parser = any_path()
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
        value_parser = any_path()
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
    /// (SIGINT, then SIGKILL after the grace period) and exits 0.
    Run(RunArgs),

    /// Record that the stream became available (for runOnAvailable)
    ///
    /// Stores the activation latency (demand to ready) and switches recording
    /// back on for an active recording session.
    Ready,

    /// Record a finished segment (for runOnRecordSegmentComplete)
    ///
    /// Reads MTX_PATH, MTX_SEGMENT_PATH and MTX_SEGMENT_DURATION; appends the
    /// segment to the path's ledger, updates totals and detects gaps.
    SegmentComplete(SegmentArgs),

    /// Start or stop a manual recording session
    #[command(subcommand)]
    Record(RecordCommand),

    /// Take one JPEG snapshot, from the device or from the live stream
    Snapshot(SnapshotArgs),

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

    /// Input format to ask the camera for (mjpeg, yuyv, h264, …)
    /// [default: the camera's H.264, else MJPEG, else raw]
    #[arg(long, value_name = "FORMAT")]
    pub input_format: Option<String>,

    /// Largest frame size wanted, WxH [default: 1280x720]
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,

    /// Frame rate wanted [default: 30, or the nearest the camera offers]
    #[arg(long, value_name = "N")]
    pub fps: Option<u32>,

    /// Video encoder
    #[arg(long, value_enum, default_value_t = Encoder::Auto)]
    pub encoder: Encoder,

    /// Target bitrate for encoders that take one (e.g. 2M, 800k)
    #[arg(long, value_name = "B")]
    pub bitrate: Option<String>,

    /// FFmpeg binary to run
    #[arg(
        long,
        env = "HOOK_FFMPEG",
        value_name = "PATH",
        default_value = "ffmpeg"
    )]
    pub ffmpeg: PathBuf,
}

/// Encoder choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Encoder {
    /// Copy H.264 from the camera, else the hardware encoder when it works,
    /// else libx264
    #[default]
    Auto,
    /// Copy the camera's H.264 as it is
    Copy,
    /// Software H.264 (ultrafast, zerolatency)
    Libx264,
    /// Hardware H.264 through V4L2 M2M (Raspberry Pi)
    #[value(name = "h264_v4l2m2m")]
    H264V4l2m2m,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SegmentArgs {
    /// A segment starting later than this after the previous one ended
    /// counts as a gap [default: recording.gap_tolerance, 1.5s]
    #[arg(long, value_name = "DURATION")]
    pub gap_tolerance: Option<Dur>,
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Start a recording session; returns once MediaMTX is recording
    Start(RecordStartArgs),
    /// Stop the recording session and print what it recorded
    Stop(PathArg),
}

#[derive(Debug, Clone, Args)]
pub struct RecordStartArgs {
    /// MediaMTX path name (e.g. camera0)
    pub path: OsString,
    /// End the session by itself after this long (e.g. 90m)
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<Dur>,
}

#[derive(Debug, Clone, Args)]
pub struct PathArg {
    /// MediaMTX path name (e.g. camera0)
    pub path: OsString,
}

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// MediaMTX path name (e.g. camera0)
    pub path: OsString,
    /// Where to write the JPEG (written atomically)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Give up after this long [default: snapshot.timeout, 5s]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<Dur>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// MediaMTX path name (e.g. camera0)
    pub path: OsString,
    /// Why, kept in the state and shown by `hook status`
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Only this path
    pub path: Option<OsString>,
    /// Print JSON (versioned schema, see README)
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
    pub path: OsString,
}

/// What every command gets: where the state lives and the policy values.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: StateStore,
    pub policy: Policy,
}

impl Cli {
    /// The state store from `--state-dir` / `HOOK_STATE_DIR` or the default.
    pub fn store(&self) -> StateStore {
        StateStore::new(self.state_dir.clone().unwrap_or_else(default_state_dir))
    }
}

/// A path taken as given, empty included (so that an empty value reaches
/// [`check_path_value`], which names the variable when it came from one).
fn any_path() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser as _;
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}

/// Refuses an empty or blank (whitespace only) `--state-dir` / `--config`,
/// naming the flag when it is on the command line, else the variable.
fn check_path_value(
    value: Option<&std::path::Path>,
    flag: &str,
    var: &str,
    expected: &str,
) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let Some(value) = value else {
        return Ok(());
    };
    let bytes = value.as_os_str().as_bytes();
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let with_value = format!("{flag}=");
    let on_command_line =
        std::env::args_os().any(|a| a == flag || a.as_bytes().starts_with(with_value.as_bytes()));
    let source = if on_command_line { flag } else { var };
    let what = if bytes.is_empty() {
        "is empty".to_string()
    } else {
        format!("is blank ({:?})", value.as_os_str())
    };
    Err(crate::error::usage(format!(
        "{source} {what}: expected {expected}"
    )))
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    crate::logging::init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            log::error!("{err:#}");
            ExitCode::from(if is_usage(&err) {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            })
        }
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands that need neither state nor policy.
    match &cli.command {
        Command::Completions(args) => {
            crate::completions::render(args.shell, &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            crate::manpage::render(&mut std::io::stdout())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    check_path_value(
        cli.state_dir.as_deref(),
        "--state-dir",
        "HOOK_STATE_DIR",
        "a state directory (unset HOOK_STATE_DIR and leave out --state-dir for the default, /var/lib/mediamtx-hook when writable)",
    )?;
    check_path_value(
        cli.config.as_deref(),
        "--config",
        "HOOK_CONFIG",
        "a JSON config file (unset HOOK_CONFIG and leave out --config for the built-in policy)",
    )?;
    let ctx = Context {
        store: cli.store(),
        policy: Policy::load(cli.config.as_deref())?,
    };
    crate::encoder_choice::set_cache_dir(ctx.store.dir());
    match cli.command {
        Command::Run(args) => crate::run::main(&ctx, &args),
        Command::Ready => crate::ready::main(&ctx),
        Command::SegmentComplete(args) => crate::segment::main(&ctx, &args),
        Command::Record(RecordCommand::Start(args)) => crate::record::start(&ctx, &args),
        Command::Record(RecordCommand::Stop(args)) => crate::record::stop(&ctx, &args),
        Command::Snapshot(args) => crate::snapshot::main(&ctx, &args),
        Command::Stop(args) => crate::stop::main(&ctx, &args),
        Command::Status(args) => crate::status::main(&ctx, &args),
        Command::Devices(args) => crate::devices::main(&ctx, &args),
        Command::MediamtxConfig(args) => crate::mediamtx_config::main(&ctx, &args),
        Command::Hold(args) => crate::record::hold(&ctx, &args),
        Command::RtspRead(args) => crate::rtsp_reader::main(&args.url),
        Command::Completions(_) | Command::Man => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
