//! `hook stop PATH [--reason TEXT]`: end every hold and recording session on
//! a path (recording switched off), stop its publisher
//! (`publish::stop`), keep the reason.

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::StopArgs;
use crate::commands::Context;
use crate::mediamtx::api::Api;
use crate::publish::stop::stop_publisher_of;
use crate::supervise::hook_process::is_hook;

/// Entry point of `hook stop`.
pub(crate) fn main(ctx: &Context, args: &StopArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    let reason = match args.reason.as_deref() {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => "stopped with hook stop".to_string(),
    };
    let api = Api::from_env()?;
    let mut failures: Vec<String> = Vec::new();

    // Recording first, so the publisher is not held alive while it stops.
    match crate::recording::stop::end_session(ctx, &api, &path, &format!("hook stop: {reason}")) {
        Ok(Some(summary)) => println!("{path}: {summary}"),
        Ok(None) => {}
        Err(e) => failures.push(format!("{e:#}")),
    }
    if let Err(e) = crate::recording::events::arm::drop_arm(ctx, &api, &path, "hook stop") {
        failures.push(format!("{e:#}"));
    }

    let publisher = ctx.store.read().ok().and_then(|s| {
        let p = s.paths.get(&path)?;
        Some((
            p.publisher.supervisor_pid?,
            p.publisher.supervisor_process.clone(),
        ))
    });
    let wait = ctx.policy.restart.grace.0 + Duration::from_secs(2);
    match publisher {
        Some((pid, id)) if is_hook(pid, id.as_ref(), "run") => {
            match stop_publisher_of(&api, &path, pid, wait) {
                Ok(how) => println!("{path}: publisher pid {pid} stopped {how}"),
                Err(e) => failures.push(e),
            }
        }
        _ => println!("{path}: no publisher running"),
    }

    if let Err(e) = ctx.store.update_path(&path, |p| {
        p.stop_reason = Some(reason.clone());
        Ok(())
    }) {
        failures.push(format!("recording the stop reason: {e:#}"));
    }
    log::info!("stopped: {reason}");
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        anyhow::bail!("stopping {path}: {}", failures.join("; "))
    }
}
