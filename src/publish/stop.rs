//! `hook stop`'s work on a path: its recording session and armed ring
//! ended first (`recording`), then its publisher (`hook run`) stopped
//! through MediaMTX where it can (a recreated path), else with SIGINT, and
//! the reason kept. Domain layer.

use std::time::Duration;

use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::supervise::hook_process::{is_hook, is_hook_process, kill, wait_gone};

/// Stops everything on `path` for `hook stop`: the recording session and
/// an armed ring (recording first, so the publisher is not held alive while
/// it stops), then the publisher; `reason` is kept as the path's stop
/// reason. Each step is tried whatever the others did; `say` gets a line
/// for each thing done, and the error names every step that failed.
pub(crate) fn stop_path(
    ctx: &Context,
    api: &Api,
    path: &str,
    reason: &str,
    mut say: impl FnMut(String),
) -> anyhow::Result<()> {
    let mut failures: Vec<String> = Vec::new();
    match crate::recording::stop::end_session(ctx, api, path, &format!("hook stop: {reason}")) {
        Ok(Some(summary)) => say(format!("{path}: {summary}")),
        Ok(None) => {}
        Err(e) => failures.push(format!("{e:#}")),
    }
    if let Err(e) = crate::recording::events::arm::drop_arm(ctx, api, path, "hook stop") {
        failures.push(format!("{e:#}"));
    }

    let publisher = ctx.store.read().ok().and_then(|s| {
        let p = s.paths.get(path)?;
        Some((
            p.publisher.supervisor_pid?,
            p.publisher.supervisor_process.clone(),
        ))
    });
    let wait = ctx.policy.restart.grace.0 + Duration::from_secs(2);
    match publisher {
        Some((pid, id)) if is_hook(pid, id.as_ref(), "run") => {
            match stop_publisher_of(api, path, pid, wait) {
                Ok(how) => say(format!("{path}: publisher pid {pid} stopped {how}")),
                Err(e) => failures.push(e),
            }
        }
        _ => say(format!("{path}: no publisher running")),
    }

    if let Err(e) = ctx.store.update_path(path, |p| {
        p.stop_reason = Some(reason.to_string());
        Ok(())
    }) {
        failures.push(format!("recording the stop reason: {e:#}"));
    }
    log::info!("stopped: {reason}");
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("stopping {path}: {}", failures.join("; "))
    }
}

/// Asks a publisher (`hook run`) to stop the way MediaMTX does (SIGINT; it
/// stops FFmpeg and exits) and waits up to `wait`. True when it is gone.
pub(crate) fn stop_publisher(pid: u32, wait: Duration) -> bool {
    if !is_hook_process(pid, "run") {
        return true;
    }
    log::info!("stopping publisher pid {pid} (SIGINT)");
    kill(pid as i32, nix::sys::signal::Signal::SIGINT);
    wait_gone(pid, wait)
}

/// Stops the path's publisher (`hook run`, pid `pid`) so that MediaMTX
/// knows of it, and says how.
///
/// Stopping `hook run` behind MediaMTX's back wedges an on-demand path: the
/// vanished publisher leaves MediaMTX's on-demand state as it was (ready or
/// closing), so the next reader starts nothing and is parked until the close
/// timer fires or MediaMTX restarts. So the stop goes through MediaMTX: a
/// change of the entry's `runOnDemand` makes MediaMTX recreate the path,
/// which SIGINTs the command itself and returns the path to its initial
/// state; the next reader starts the camera at once. The change is a
/// trailing space toggled on or off: the same command once MediaMTX splits
/// it into words, and nothing to undo. Where that route does not apply (no
/// Control API, a `runOnInit` publisher, an entry shared by several paths)
/// the publisher is sent SIGINT directly, with a warning saying what that
/// means for readers.
pub(crate) fn stop_publisher_of(
    api: &Api,
    path: &str,
    pid: u32,
    wait: Duration,
) -> Result<String, String> {
    match recreate_on_demand_path(api, path) {
        Ok(entry) => {
            log::info!(
                "asked MediaMTX to stop publisher pid {pid}: entry {entry:?} recreated through the Control API"
            );
            if wait_gone(pid, wait) {
                return Ok("by MediaMTX (path recreated through the Control API; the next reader starts it again)".to_string());
            }
            log::warn!(
                "publisher pid {pid} still runs {wait:?} after MediaMTX recreated the path (not its runOnDemand command?): sending SIGINT"
            );
        }
        Err(why) => log::warn!(
            "stopping publisher pid {pid} directly, not through MediaMTX ({why}); a reader that asks for {path} before the path's close-after passes may then wait without the camera starting, until MediaMTX restarts"
        ),
    }
    if stop_publisher(pid, wait) {
        Ok("(SIGINT)".to_string())
    } else {
        Err(format!(
            "publisher pid {pid} was asked to stop (SIGINT) but is still running after {wait:?}"
        ))
    }
}

/// Makes MediaMTX recreate `path` by toggling a trailing space on its
/// entry's `runOnDemand`. Returns the entry's name, or why this route does
/// not apply.
fn recreate_on_demand_path(api: &Api, path: &str) -> Result<String, String> {
    let info = api
        .path(path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("MediaMTX has no active path named {path:?}"))?;
    let entry = info
        .conf_name
        .ok_or("MediaMTX did not name the path's configuration entry")?;
    if entry != path {
        return Err(format!(
            "the path is served by the entry {entry:?}, which may serve other paths: recreating it would stop them too"
        ));
    }
    let conf = api
        .entry(&entry)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("MediaMTX has no configuration entry named {entry:?}"))?;
    let command = conf
        .get("runOnDemand")
        .and_then(|c| c.as_str())
        .unwrap_or("");
    if command.trim().is_empty() {
        return Err("its entry has no runOnDemand: the publisher was not started on demand".into());
    }
    let fields = serde_json::json!({ "runOnDemand": toggle_trailing_space(command) });
    api.patch_entry(&entry, &fields)
        .map_err(|e| e.to_string())?;
    Ok(entry)
}

/// The same command with one trailing space added, or taken away when it
/// has one: MediaMTX compares entries as text, so the path is recreated,
/// but splits the command into the same words.
fn toggle_trailing_space(command: &str) -> String {
    match command.strip_suffix(' ') {
        Some(without) => without.to_string(),
        None => format!("{command} "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_space_toggles_and_keeps_the_words() {
        let cmd = "hook run --device /dev/video0";
        let once = toggle_trailing_space(cmd);
        assert_eq!(once, "hook run --device /dev/video0 ");
        assert_ne!(once, cmd, "MediaMTX must see a change");
        assert_eq!(
            once.split_whitespace().collect::<Vec<_>>(),
            cmd.split_whitespace().collect::<Vec<_>>()
        );
        assert_eq!(
            toggle_trailing_space(&once),
            cmd,
            "back again: never more than one space"
        );
    }
}
