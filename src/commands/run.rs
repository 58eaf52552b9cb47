//! `hook run`: publish a camera for MediaMTX and supervise FFmpeg
//! (`publish`). MediaMTX runs it from `runOnDemand` with `MTX_PATH`,
//! `RTSP_PORT` and, for regex paths, `G1`; this reads them and the flags,
//! refuses bad ones before anything starts (exit 2), and publishes until
//! stopped.

use std::process::ExitCode;

use crate::cli::{RunArgs, StillEvery};
use crate::commands::Context;
use crate::mediamtx::env as mtx_env;
use crate::publish::{self, Publish};
use crate::state::now;

/// Entry point of `hook run`.
pub fn main(ctx: &Context, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let demand_at = now();
    let path = mtx_env::validate_path_name(mtx_env::var("MTX_PATH").as_deref(), "MTX_PATH")?;
    crate::logging::set_path(&path);
    let port = mtx_env::validate_port(mtx_env::var("RTSP_PORT").as_deref(), "RTSP_PORT")?;
    let device = publish::resolve_device(
        args.device.device.as_deref(),
        mtx_env::var("G1").as_deref(),
        &path,
    )?;
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
