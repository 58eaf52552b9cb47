//! `hook ready`: MediaMTX says the stream is available (runOnAvailable).

use std::process::ExitCode;

use crate::cli::Context;

pub fn main(_ctx: &Context) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook ready is not implemented yet")
}
