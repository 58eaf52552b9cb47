//! Stopping recording on a path, for `hook record stop`, `hook record
//! disarm` and `hook stop`. Stopping always goes: hold marked stopping,
//! hold gone, recording off, a moment for MediaMTX's last segment to be
//! counted, session ended; so nothing switches recording back on behind
//! the stop. Whatever state the path was in, recording is off afterwards.

use anyhow::anyhow;

use crate::context::Context;
use crate::mediamtx::api::{Api, ApiError};
use crate::recording::lock::lock_within;
use crate::recording::session::{
    change_wait, end_stale, is_live, mark_stopping, stale_reason, switch_off_and_end,
};
use crate::state::SessionStatus;
use crate::supervise::hook_process::stop_hold;

/// What a stop did.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// The live session ended: its summary.
    Ended(String),
    /// A stale session (its start or its hold died) was cleaned up.
    Cleaned(String),
    /// No session, but MediaMTX still recorded: switched off.
    SwitchedOff(String),
    /// Nothing to do; the API error when the switch could not be checked.
    Nothing(Option<ApiError>),
}

/// For `hook stop`: [`stop_recording`] as one line, `None` when there was
/// nothing to stop; an error when MediaMTX's switch could not be checked.
pub(crate) fn end_session(
    ctx: &Context,
    api: &Api,
    path: &str,
    reason: &str,
) -> anyhow::Result<Option<String>> {
    match stop_recording(ctx, api, path, reason)? {
        Stopped::Ended(t) | Stopped::Cleaned(t) | Stopped::SwitchedOff(t) => Ok(Some(t)),
        Stopped::Nothing(None) => Ok(None),
        // Whether MediaMTX still records is unknown: a failure, not a note.
        Stopped::Nothing(Some(e)) => Err(anyhow!(e).context(
            "no recording session, but whether MediaMTX's record switch is off could not be checked",
        )),
    }
}

/// Stops recording on `path`, under its session lock (waiting for a start
/// in progress to finish): the live session ended (hold stopped, recording
/// off, MediaMTX's last segment waited for); a stale one cleaned up; with
/// no session, MediaMTX's `record` switched off when it is still on. So
/// recording is off afterwards whatever state the path was in. An API
/// failure on a live session is reported after the session is ended (the
/// hold is gone either way).
pub(crate) fn stop_recording(
    ctx: &Context,
    api: &Api,
    path: &str,
    reason: &str,
) -> anyhow::Result<Stopped> {
    let mut told = false;
    let _lock = lock_within(ctx, path, change_wait(ctx), || {
        if !told {
            told = true;
            log::info!("another hook command is changing the recording session (a start in progress?): waiting for it");
        }
        Ok(())
    })?;
    let state = ctx.store.read()?;
    let session = state
        .paths
        .get(path)
        .and_then(|p| p.recording.session.clone())
        .filter(is_live);
    let Some(session) = session else {
        return Ok(match api.record_enabled(path) {
            Ok(Some(true)) => {
                api.set_record(path, false).map_err(|e| {
                    anyhow!(e).context(format!(
                        "{path} has no recording session but MediaMTX records it; switching that off"
                    ))
                })?;
                log::info!(
                    "no recording session, but MediaMTX's record switch was on: switched it off"
                );
                Stopped::SwitchedOff(
                    "no recording session, but MediaMTX's record switch was on: switched it off"
                        .into(),
                )
            }
            Ok(_) => Stopped::Nothing(None),
            Err(e) => Stopped::Nothing(Some(e)),
        });
    };
    if session.status == SessionStatus::Starting {
        // Under the lock: its `record start` is gone.
        let why = stale_reason(&session);
        log::warn!("cleaning up a recording session that never started: {why}");
        let text =
            format!("cleaned up a session that never started ({why}); recording switched off");
        return match end_stale(ctx, Some(api), path, &session, &why) {
            None => Ok(Stopped::Cleaned(text)),
            Some(e) => Err(anyhow!(e).context(format!(
                "cleaned up a session that never started ({why}), but recording could not be switched off"
            ))),
        };
    }
    mark_stopping(ctx, path);
    if let Some(pid) = session.hold_pid {
        if !stop_hold(
            pid,
            session.hold_process.as_ref(),
            ctx.policy.restart.grace.0,
        ) {
            log::error!("hold pid {pid} could not be stopped");
        }
    }
    let (summary, switched) = switch_off_and_end(ctx, api, path, SessionStatus::Ended, reason)?;
    log::info!("recording session ended ({reason}): {summary}");
    match switched {
        Ok(()) => Ok(Stopped::Ended(summary)),
        Err(e) => Err(anyhow!(e).context(format!(
            "session ended ({summary}), but recording could not be switched off"
        ))),
    }
}
