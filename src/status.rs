//! `hook status`: what every path is doing, for people and machines.

use std::process::ExitCode;

use crate::cli::{Context, StatusArgs};

pub fn main(_ctx: &Context, _args: &StatusArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook status is not implemented yet")
}
