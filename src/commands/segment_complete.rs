//! `hook segment-complete`: MediaMTX finished a recording segment
//! (runOnRecordSegmentComplete). Reads MediaMTX's variables (`MTX_PATH`,
//! `MTX_SEGMENT_PATH`, `MTX_SEGMENT_DURATION`) and `--gap-tolerance`; the
//! accounting is `recording::segments`.

use std::process::ExitCode;

use crate::cli::SegmentArgs;
use crate::context::Context;
use crate::recording::segments::{complete, Finished};

/// `hook segment-complete [--gap-tolerance D]`.
pub(crate) fn main(ctx: &Context, args: &SegmentArgs) -> anyhow::Result<ExitCode> {
    let path = args.mtx.name()?;
    crate::logging::set_path(&path);
    let file = args.segment_path()?;
    let duration = args.segment_duration()?;
    let gap_tolerance = args
        .gap_tolerance
        .unwrap_or(ctx.policy.recording.gap_tolerance)
        .0;
    complete(
        ctx,
        Finished {
            path,
            file,
            duration,
            gap_tolerance,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
