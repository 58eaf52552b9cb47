//! `hook snapshot`: one JPEG from the device or the live stream.

use std::process::ExitCode;

use crate::cli::{Context, SnapshotArgs};

pub fn main(_ctx: &Context, _args: &SnapshotArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook snapshot is not implemented yet")
}
