//! `hook hold PATH`: the process `hook record start` leaves behind to keep
//! a path's stream alive for its recording session (`recording::hold`).

use std::process::ExitCode;

use crate::cli::HoldArgs;
use crate::context::Context;
use crate::mediamtx::api::Api;

/// `hook hold PATH` (started by `record start`, `record arm` or a revival).
pub(crate) fn main(ctx: &Context, args: &HoldArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    let port = args.rtsp.rtsp_port;
    let api = Api::from_env()?;
    crate::recording::hold::run(ctx, &path, port, api)?;
    Ok(ExitCode::SUCCESS)
}
