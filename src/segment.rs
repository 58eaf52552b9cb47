//! `hook segment-complete`: a finished segment (runOnRecordSegmentComplete).

use std::process::ExitCode;

use crate::cli::{Context, SegmentArgs};

pub fn main(_ctx: &Context, _args: &SegmentArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hook segment-complete is not implemented yet")
}
