//! `hook snapshot PATH -o FILE`: one JPEG, written atomically
//! (`snapshot`). This reads the arguments, checks `-o` before anything is
//! captured, takes the snapshot and says where it came from.

use std::process::ExitCode;

use crate::cli::SnapshotArgs;
use crate::commands::Context;
use crate::snapshot::{self, check_output, Request};

pub(crate) fn main(ctx: &Context, args: &SnapshotArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    let output = check_output(&args.output)?;
    let timeout = args.timeout.map_or(ctx.policy.snapshot.timeout.0, |d| d.0);
    let request = Request {
        path: &path,
        output: &output,
        timeout,
        max_age: args.max_age.map(|d| d.0),
        device: args.device.device.as_deref(),
        capture: args.device.capture_request(),
        rtsp_port: args.rtsp.rtsp_port,
        warmup_frames: args.warmup_frames,
    };
    let taken = snapshot::take(ctx, &request)?;
    let age = taken.still_age.map_or(String::new(), |age| {
        format!(" (taken {:.1}s ago)", age.as_secs_f64())
    });
    println!(
        "{}: {} bytes from the {}{age} in {} ms",
        output.path().display(),
        taken.bytes,
        taken.source,
        taken.millis
    );
    Ok(ExitCode::SUCCESS)
}
