//! `hook mediamtx-config`: the `paths:` entries that wire the hook into
//! `mediamtx.yml`, with the policy's values: one explicit entry per camera
//! given with `--device`, else per camera found (`mediamtx::cameras`),
//! rendered by `mediamtx::config`.

use std::process::ExitCode;

use crate::cli::MediamtxConfigArgs;
use crate::commands::Context;
use crate::mediamtx::cameras::{cameras, found_cameras, given_name_note};
use crate::mediamtx::config::render;

/// Prints the entries for the devices given, or for the cameras found.
pub(crate) fn main(ctx: &Context, args: &MediamtxConfigArgs) -> anyhow::Result<ExitCode> {
    let cameras = if args.device.is_empty() {
        let request = ctx.capture_request(crate::cli::DeviceArgs::default().capture_request())?;
        found_cameras(&request)?
    } else {
        let mut cameras = cameras(&args.device)?;
        for cam in &mut cameras {
            cam.notes = given_name_note(&cam.device);
        }
        cameras
    };
    print!("{}", render(&ctx.policy, &cameras));
    Ok(ExitCode::SUCCESS)
}
