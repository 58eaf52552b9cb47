//! Ending a recording session: stopping its hold, switching MediaMTX's
//! recording off, waiting for the last segment and keeping the summary.
//! Shared by `hook record stop`, `hook stop` and the hold itself.

use super::record::*;
use crate::commands::Context;
use crate::mediamtx::api::{Api, ApiError};
use crate::state::{now, Session, SessionStatus};
use crate::supervise::hook_process::stop_hold;
use anyhow::anyhow;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// What a stop did.
#[derive(Debug)]
pub enum Stopped {
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
pub fn end_session(
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
pub fn stop_recording(
    ctx: &Context,
    api: &Api,
    path: &str,
    reason: &str,
) -> anyhow::Result<Stopped> {
    let mut told = false;
    let limit = start_deadline(ctx) + ctx.policy.restart.grace.0 + stop_budget(ctx);
    let _lock = lock_session(ctx, path, limit, || {
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
    let before = segment_count(ctx, path);
    let switched = api.set_record(path, false);
    if switched.is_ok() {
        wait_for_final_segment(ctx, path, before);
    }
    let ended = finish_session(ctx, path, SessionStatus::Ended, reason)?;
    let summary = ended.as_ref().map(summarize).unwrap_or_default();
    log::info!("recording session ended ({reason}): {summary}");
    match switched {
        Ok(()) => Ok(Stopped::Ended(summary)),
        Err(e) => Err(anyhow!(e).context(format!(
            "session ended ({summary}), but recording could not be switched off"
        ))),
    }
}

pub(super) fn segment_count(ctx: &Context, path: &str) -> u64 {
    ctx.store
        .read()
        .ok()
        .and_then(|s| s.paths.get(path).map(|p| p.segments.count))
        .unwrap_or(0)
}

/// MediaMTX closes the open segment when `record` goes off and runs
/// `hook segment-complete` for it; give that a moment to land in the
/// session (which stays active until then).
pub(super) fn wait_for_final_segment(ctx: &Context, path: &str, before: u64) {
    let end = Instant::now() + FINAL_SEGMENT_WAIT;
    while Instant::now() < end {
        if segment_count(ctx, path) > before {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Moves the live session to `last_session` with `status` and `reason`.
pub(super) fn finish_session(
    ctx: &Context,
    path: &str,
    status: SessionStatus,
    reason: &str,
) -> anyhow::Result<Option<Session>> {
    ctx.store.update_path(path, |p| {
        let ended = p.recording.session.take().map(|mut s| {
            s.status = status;
            s.ended_at = Some(now());
            s.end_reason = Some(reason.to_string());
            s
        });
        if let Some(s) = &ended {
            p.recording.last_session = Some(s.clone());
        }
        p.recording.active = false;
        p.recording.hold = None;
        Ok(ended)
    })
}

/// `ended after 1h30m: 3 segments, 5400.2 s recorded, 0 gaps`.
pub fn summarize(s: &Session) -> String {
    let ran = s
        .ended_at
        .map(|e| (e - s.started_at).whole_seconds().max(0) as u64)
        .unwrap_or(0);
    format!(
        "session {} after {}: {} segment{}, {:.1} s recorded, {} gap{}",
        s.status,
        human_seconds(ran),
        s.segments,
        if s.segments == 1 { "" } else { "s" },
        s.recorded_seconds,
        s.gaps,
        if s.gaps == 1 { "" } else { "s" },
    )
}

fn human_seconds(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

pub(super) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::record::tests::session;
    use time::macros::datetime;

    #[test]
    fn summaries() {
        let mut s = session(SessionStatus::Ended, None, None);
        s.ended_at = Some(datetime!(2026-01-01 01:30:05 UTC));
        assert_eq!(
            summarize(&s),
            "session ended after 1h30m05s: 2 segments, 3600.2 s recorded, 1 gap"
        );
        s.ended_at = Some(datetime!(2026-01-01 00:00:42 UTC));
        s.segments = 1;
        s.gaps = 0;
        assert!(summarize(&s).starts_with("session ended after 42s: 1 segment, "));
        assert_eq!(human_seconds(61), "1m01s");
    }
}
