//! `hook devices`: V4L2 capture devices and what `hook run` would choose.

use std::process::ExitCode;

use crate::cli::{Context, DevicesArgs};

pub fn main(_ctx: &Context, _args: &DevicesArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook devices is not implemented yet")
}
