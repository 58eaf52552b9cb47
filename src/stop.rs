//! `hook stop`: end holds, sessions and the publisher of a path.

use std::process::ExitCode;

use crate::cli::{Context, StopArgs};

pub fn main(_ctx: &Context, _args: &StopArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook stop is not implemented yet")
}
