//! `hook status [PATH] [--json | --prometheus]`: what every path is doing,
//! for people and for machines (`status::view`; the human text in
//! `status::human`, the JSON schema in `status::json`).
//!
//! # Exit status
//!
//! 0 with an answer (also when no path is known yet); 1 when PATH is not in
//! the state (nothing has run for it) or the state cannot be read; 2 when
//! PATH is not a valid path name. A corrupt state file is moved aside with a
//! warning and status answers from a fresh state.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::StatusArgs;
use crate::commands::Context;
use crate::status::view::{self, Format};

pub(crate) fn main(ctx: &Context, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let only = args.path.clone();
    let format = if args.prometheus {
        Format::Prometheus
    } else if args.json {
        Format::Json
    } else {
        Format::Human
    };
    let text = view::render(ctx, only.as_deref(), format)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // The reader went away (`hook status | head`): nothing left to say.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("writing status to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}
