//! `hook run`: publish a camera for MediaMTX and supervise FFmpeg.

use std::process::ExitCode;

use crate::cli::{Context, RunArgs};

pub fn main(_ctx: &Context, _args: &RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook run is not implemented yet")
}
