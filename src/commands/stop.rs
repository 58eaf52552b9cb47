//! `hook stop PATH [--reason TEXT]`: end every hold and recording session on
//! a path (recording switched off), stop its publisher, keep the reason
//! (`publish::stop`).

use std::process::ExitCode;

use crate::cli::StopArgs;
use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::publish::stop::stop_path;

/// Entry point of `hook stop`.
pub(crate) fn main(ctx: &Context, args: &StopArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    let reason = match args.reason.as_deref() {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => "stopped with hook stop".to_string(),
    };
    let api = Api::from_env()?;
    stop_path(ctx, &api, &path, &reason, |line| println!("{line}"))?;
    Ok(ExitCode::SUCCESS)
}
