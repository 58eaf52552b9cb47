//! `hook ready`: MediaMTX says the stream is available (runOnAvailable, or
//! runOnReady before MediaMTX 1.19.3).
//!
//! Records when, and the activation latency: ready − demand, where demand
//! is the moment `hook run` started (`demand_at`, written by `hook run`).
//! Then, when a recording session is live on the path and held, makes sure
//! MediaMTX's `record` is on (`record::reapply_on_ready`): a MediaMTX that
//! restarted has forgotten it. The switch is read first and PATCHed only
//! when off; a session whose hold or `record start` is gone is left alone.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::MtxPathArg;
use crate::commands::Context;
use crate::publish::ready::mark_ready;
use crate::state::now;

pub(crate) fn main(ctx: &Context, args: &MtxPathArg) -> anyhow::Result<ExitCode> {
    let path = args.name()?;
    crate::logging::set_path(&path);
    let readiness = ctx
        .store
        .update_path(&path, |p| Ok(mark_ready(p, now())))
        .with_context(|| format!("recording that {path} is available"))?;
    match readiness.latency_ms {
        Some(ms) => log::info!("stream available; activation latency {ms} ms (demand to ready)"),
        None => log::info!("stream available (no pending demand from hook run to measure)"),
    }
    // A session whose hold died is given a new one first.
    crate::recording::revive::revive_once(ctx, &path, "hook ready");
    // A stream that became available again may belong to a MediaMTX that
    // restarted and forgot the session's `record` switch: switch it back on.
    if let Err(e) = crate::recording::switch::reapply_on_ready(ctx, &path) {
        let text = format!("{e:#}");
        let _ = ctx.store.update_path(&path, |p| {
            p.publisher.last_error = Some(text);
            p.publisher.last_error_at = Some(now());
            Ok(())
        });
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}
