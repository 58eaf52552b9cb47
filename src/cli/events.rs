//! The flags of the event commands: `hook record arm`, `hook clip`.

use std::path::PathBuf;

use clap::Args;

use crate::policy::duration::Dur;

#[derive(Debug, Clone, Args)]
pub struct ArmArgs {
    /// MediaMTX path name (e.g. camera0)
    #[arg(value_parser = crate::cli::values::path_name("PATH"))]
    pub path: String,
    /// Pre-roll: how much before each event is kept [default: events.pre, 10s]
    #[arg(long, value_name = "DURATION")]
    pub pre: Option<Dur>,
    /// Post-roll: how much after each event's end is kept [default:
    /// events.post, 5s]
    #[arg(long, value_name = "DURATION")]
    pub post: Option<Dur>,
    #[command(flatten)]
    pub rtsp: super::mtx_args::RtspPortArg,
}

#[derive(Debug, Clone, Args)]
pub struct ClipArgs {
    /// MediaMTX path name (e.g. camera0)
    #[arg(value_parser = crate::cli::values::path_name("PATH"))]
    pub path: String,
    /// The event to clip (its id, as `hook status PATH` shows it)
    #[arg(long, value_name = "ID", conflicts_with_all = ["since", "until"], required_unless_present = "since")]
    pub event: Option<u64>,
    /// Start of the stretch to clip, RFC 3339 (e.g. 2026-11-29T15:42:10Z)
    #[arg(long, value_name = "TIME", requires = "until", value_parser = rfc3339_value)]
    pub since: Option<time::OffsetDateTime>,
    /// End of the stretch to clip, RFC 3339
    #[arg(long, value_name = "TIME", requires = "since", value_parser = rfc3339_value)]
    pub until: Option<time::OffsetDateTime>,
    /// Where to write the MP4: a new name or a regular file to replace,
    /// written whole and atomically (a symbolic link, device, FIFO, socket or
    /// directory is refused, exit 2)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Give up after this long [default: 60s]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<Dur>,
    /// FFmpeg binary to run
    #[arg(
        long,
        env = "HOOK_FFMPEG",
        value_name = "PATH",
        default_value = "ffmpeg"
    )]
    pub ffmpeg: PathBuf,
}

/// A time as `hook status` prints it (RFC 3339).
pub(crate) fn rfc3339_value(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).map_err(|e| {
        format!("{text:?}: expected an RFC 3339 time such as 2026-11-29T15:42:10Z ({e})")
    })
}
