//! `hook clip PATH (--event ID | --since T --until T) -o FILE.mp4`: the
//! kept segments of an event or a stretch of time joined into one MP4
//! (`recording::events::clip`), copied to `-o` with the snapshot's checks:
//! `-o` must be a new name or a regular file; it is written to a hidden
//! temporary file beside it and renamed over it, so a reader never sees a
//! half-written clip.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::events::ClipArgs;
use crate::context::Context;
use crate::error::usage;
use crate::recording::events::clip::{make, Window};
use crate::snapshot::check_output_for;

/// How long FFmpeg may take to join the segments, without `--timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// `hook clip`.
pub(crate) fn main(ctx: &Context, args: &ClipArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    let target = check_output_for(&args.output, "MP4")?;
    let window = match (args.event, args.since, args.until) {
        (Some(id), _, _) => Window::Event(id),
        (None, Some(since), Some(until)) => Window::Stretch { since, until },
        _ => return Err(usage("expected --event ID, or --since T and --until T")),
    };
    let timeout = args.timeout.map(|t| t.0).unwrap_or(DEFAULT_TIMEOUT);
    let clip = make(ctx, &path, window, &args.ffmpeg, timeout)?;
    let joined = clip.file();
    let file = std::fs::File::open(joined)
        .with_context(|| format!("opening the joined clip {}", joined.display()))?;
    target.replace_from(file)?;
    let text = clip.done(target.path());
    println!("{path}: {text}");
    Ok(ExitCode::SUCCESS)
}
