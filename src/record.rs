//! `hook record start|stop` and the hold that keeps a recorded stream alive.

use std::process::ExitCode;

use crate::cli::{Context, HoldArgs, PathArg, RecordStartArgs};

pub fn start(_ctx: &Context, _args: &RecordStartArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook record start is not implemented yet")
}

pub fn stop(_ctx: &Context, _args: &PathArg) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook record stop is not implemented yet")
}

pub fn hold(_ctx: &Context, _args: &HoldArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook hold is not implemented yet")
}
