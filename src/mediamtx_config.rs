//! `hook mediamtx-config`: the `paths:` entries wiring the hook into MediaMTX.

use std::process::ExitCode;

use crate::cli::{Context, MediamtxConfigArgs};

pub fn main(_ctx: &Context, _args: &MediamtxConfigArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook mediamtx-config is not implemented yet")
}
