//! `hook resume`: after a reboot, a power loss or a MediaMTX restart, start
//! again what should be running (`recording::events::resume`). Run by
//! MediaMTX itself (`runOnInit` of a small always-on entry, see the
//! README), with MediaMTX's environment. Fails when a path could not be
//! resumed.

use std::process::ExitCode;

use crate::cli::RtspPortArg;
use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::recording::events::resume::resume;

/// `hook resume`.
pub(crate) fn main(ctx: &Context, args: &RtspPortArg) -> anyhow::Result<ExitCode> {
    let port = args.rtsp_port;
    let api = Api::from_env()?;
    let failed = resume(ctx, &api, port, |path, text| println!("{path}: {text}"))?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
