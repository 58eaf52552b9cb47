//! The recording session and its rules: its statuses, when it is live, held
//! or stale, how long a start and a stop may take, and how a session ends
//! (moved to `last_session` with its status and reason, summarized). Every
//! way to start, stop, extend or end a session (`begin`, `stop`,
//! `retrigger`, `hold`, `revive`) goes through these; none of them decides
//! alone what a session's state means.
//!
//! The session lives in the path's state (`recording.session`, the hold's
//! own report in `recording.hold`). Each process is recorded with its
//! identity (`state::identity`), so a reused pid is never taken for it.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::context::Context;
use crate::mediamtx::api::{Api, ApiError};
use crate::state::identity::is_running;
use crate::state::SessionStatus;
use crate::state::{now, Session};
use crate::supervise::hook_process::{is_hook, stop_hold};

/// How long a stop waits for MediaMTX's last segment of the session to be
/// reported (`runOnRecordSegmentComplete` fires right after `record` goes off).
pub(crate) const FINAL_SEGMENT_WAIT: Duration = Duration::from_secs(2);
/// What `record start` waits beyond MediaMTX's start timeout and the
/// device lock wait (see [`start_deadline`]).
const START_MARGIN: Duration = Duration::from_secs(2);

pub(crate) fn is_live(session: &Session) -> bool {
    session.status == SessionStatus::Starting || session.status == SessionStatus::Active
}

/// The session's hold runs (none recorded yet: false).
pub(crate) fn hold_running(s: &Session) -> bool {
    s.hold_pid
        .is_some_and(|pid| is_hook(pid, s.hold_process.as_ref(), "hold"))
}

/// A `starting` session whose `record start` is gone: nothing will ever
/// finish or undo it. Without a recorded starter (an older state) it is
/// stale once the start's deadline has passed twice over.
pub(crate) fn starter_gone(s: &Session, at: OffsetDateTime, deadline: Duration) -> bool {
    if s.status != SessionStatus::Starting {
        return false;
    }
    match s.starter_pid {
        Some(pid) => !is_running(pid, s.starter_process.as_ref()),
        None => at - s.started_at > deadline * 2,
    }
}

/// How long `record start` waits for recording to run: MediaMTX's start
/// timeout (its budget for the publisher, which includes the wait for the
/// device lock), plus the device lock wait again (a publisher that got the
/// lock late is still starting when MediaMTX's timer ends, and the hold's
/// reader asks again), plus a margin for the reader's reconnection. So the
/// start never gives up while MediaMTX may still bring the stream up.
pub(crate) fn start_deadline(ctx: &Context) -> Duration {
    ctx.policy.viewing.start_timeout.0 + ctx.policy.restart.device_lock_wait.0 + START_MARGIN
}

/// [`start_deadline`] with how it is made up, for messages.
pub(crate) fn describe_deadline(ctx: &Context) -> String {
    format!(
        "{} = MediaMTX's start timeout {} + device lock wait {} + {}s",
        crate::policy::duration::Dur(start_deadline(ctx)),
        ctx.policy.viewing.start_timeout,
        ctx.policy.restart.device_lock_wait,
        START_MARGIN.as_secs()
    )
}

/// How long a stop may take once it holds the lock (hold stopped, recording
/// off, last segment), with room for slow API answers.
pub(crate) fn stop_budget(ctx: &Context) -> Duration {
    ctx.policy.restart.grace.0
        + Duration::from_secs(4)
        + FINAL_SEGMENT_WAIT
        + Duration::from_secs(10)
}

/// How long a start or a stop waits for the session lock: as long as
/// another start and a stop may take.
pub(crate) fn change_wait(ctx: &Context) -> Duration {
    start_deadline(ctx) + ctx.policy.restart.grace.0 + stop_budget(ctx)
}

/// Marks the path's hold as stopping, so that nothing switches recording
/// back on behind a stop (never fails: logged).
pub(crate) fn mark_stopping(ctx: &Context, path: &str) {
    let r = ctx.store.update_path(path, |p| {
        if let Some(h) = p.recording.hold.as_mut() {
            h.stopping = true;
        }
        Ok(())
    });
    if let Err(e) = r {
        log::warn!("could not mark the hold as stopping: {e:#}");
    }
}

/// Why a live session found under the session lock is stale.
pub(crate) fn stale_reason(s: &Session) -> String {
    if s.status == SessionStatus::Starting {
        match s.starter_pid {
            Some(pid) => format!(
                "its `hook record start` (pid {pid}) ended before the session started (killed?)"
            ),
            None => "its `hook record start` ended before the session started (killed?)".into(),
        }
    } else if let Some(pid) = s.hold_pid.filter(|_| !hold_running(s)) {
        format!("its hold (pid {pid}) was no longer running")
    } else {
        "it was left half-stopped by a stop that did not finish".into()
    }
}

/// Ends a stale session (the caller holds the session lock): its hold
/// stopped if it still runs, recording switched off when `api` is given,
/// the session kept as failed with `why`. The switch-off's error, if any.
pub(crate) fn end_stale(
    ctx: &Context,
    api: Option<&Api>,
    path: &str,
    s: &Session,
    why: &str,
) -> Option<ApiError> {
    mark_stopping(ctx, path);
    if let Some(pid) = s.hold_pid {
        if !stop_hold(pid, s.hold_process.as_ref(), ctx.policy.restart.grace.0) {
            log::error!("hold pid {pid} could not be stopped");
        }
    }
    let switched = api.map(|api| api.set_record(path, false));
    if let Err(e) = finish_session(ctx, path, SessionStatus::Failed, why) {
        log::error!("could not record the stale session as failed: {e:#}");
    }
    switched.and_then(Result::err)
}

/// The number of segments counted on `path` so far (0 when unreadable).
fn segment_count(ctx: &Context, path: &str) -> u64 {
    ctx.store
        .read()
        .ok()
        .and_then(|s| s.paths.get(path).map(|p| p.segments.count))
        .unwrap_or(0)
}

/// MediaMTX closes the open segment when `record` goes off and runs
/// `hook segment-complete` for it; give that a moment to land in the
/// session (which stays active until then).
fn wait_for_final_segment(ctx: &Context, path: &str, before: u64) {
    let end = Instant::now() + FINAL_SEGMENT_WAIT;
    while Instant::now() < end {
        if segment_count(ctx, path) > before {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Moves the live session to `last_session` with `status` and `reason`.
pub(crate) fn finish_session(
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

/// Ends the live session once its hold is gone: recording switched off,
/// MediaMTX's last segment waited for, the session moved to
/// `last_session` with `status` and `reason`. Its summary, and how the
/// switch-off went (the session is ended either way).
pub(crate) fn switch_off_and_end(
    ctx: &Context,
    api: &Api,
    path: &str,
    status: SessionStatus,
    reason: &str,
) -> anyhow::Result<(String, Result<(), ApiError>)> {
    let before = segment_count(ctx, path);
    let switched = api.set_record(path, false);
    if switched.is_ok() {
        wait_for_final_segment(ctx, path, before);
    }
    let ended = finish_session(ctx, path, status, reason)?;
    let summary = ended.as_ref().map(summarize).unwrap_or_default();
    Ok((summary, switched))
}

/// `ended after 1h30m: 3 segments, 5400.2 s recorded, 0 gaps`.
pub(crate) fn summarize(s: &Session) -> String {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::state::PathState;
    use time::macros::datetime;

    pub(crate) fn session(
        status: SessionStatus,
        hold: Option<u32>,
        until: Option<OffsetDateTime>,
    ) -> Session {
        Session {
            until,
            segments: 2,
            recorded_seconds: 3600.25,
            gaps: 1,
            hold_pid: hold,
            ..Session::fresh(datetime!(2026-01-01 00:00:00 UTC), status)
        }
    }

    pub(crate) fn path_with(s: Option<Session>) -> PathState {
        let mut p = PathState::default();
        p.recording.session = s;
        p
    }

    pub(crate) const ST: Duration = Duration::from_secs(10);

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
