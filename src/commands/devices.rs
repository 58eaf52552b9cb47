//! `hook devices`: the V4L2 capture devices found and, for each, what `hook
//! run` would choose with the same flags (`camera::inventory`).
//!
//! Every `/dev/videoN` is probed; nodes that cannot be captured from are
//! listed as skipped with the reason. With `--device` only that device is
//! shown, and its problem is the command's error (exit 1). No devices at
//! all is not an error: an empty list and exit 0. `--json` prints the
//! report as one object (its schema: `camera::inventory`).

use std::process::ExitCode;

use crate::camera::capture;
use crate::camera::inventory::{self, Found};
use crate::cli::DevicesArgs;
use crate::commands::Context;

pub(crate) fn main(ctx: &Context, args: &DevicesArgs) -> anyhow::Result<ExitCode> {
    let request = ctx.capture_request(args.device.capture_request())?;
    match inventory::look(args.device.device.as_deref(), &request, &ctx.cache_dir)? {
        Found::TestPattern(input) => println!(
            "testsrc: FFmpeg's test pattern; hook run would use {}",
            capture::describe(&input)
        ),
        Found::Report(report) if args.json => {
            println!("{}", serde_json::to_string_pretty(&report)?)
        }
        Found::Report(report) => print!("{}", inventory::render(&report)),
    }
    Ok(ExitCode::SUCCESS)
}
