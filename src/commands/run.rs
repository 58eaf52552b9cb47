//! `hook run`: publish a camera for MediaMTX and supervise FFmpeg
//! (`publish`). MediaMTX runs it from `runOnDemand` with `MTX_PATH`,
//! `RTSP_PORT` and, for regex paths, `G1`; this reads them and the flags,
//! refuses bad ones before anything starts (exit 2), and publishes until
//! stopped.

use std::process::ExitCode;

use crate::cli::{RunArgs, StillEvery};
use crate::commands::Context;
use crate::publish::{self, Publish};
use crate::state::now;

/// Entry point of `hook run`.
pub(crate) fn main(ctx: &Context, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let demand_at = now();
    let path = args.mtx.name()?;
    crate::logging::set_path(&path);
    let port = args.rtsp.rtsp_port;
    let device = publish::resolve_device(args.device.device.as_deref(), args.g1.as_deref(), &path)?;
    let request = ctx.capture_request(args.device.capture_request())?;
    let still_every = match args.still_every {
        Some(StillEvery::Off) => None,
        Some(StillEvery::Every(d)) => Some(d.0),
        None => ctx.policy.stills.every.map(|d| d.0),
    };
    publish::publish(
        ctx,
        Publish {
            path,
            port,
            device,
            request: &request,
            still_every,
            demand_at,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
