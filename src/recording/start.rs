//! `record start` as a whole: under the path's session lock, an event on an
//! armed path, a re-trigger of a live, held session (its end moves later,
//! no second hold), or a new session (a stale one ended first).
//!
//! A `starting` session found under the lock has lost its `record start`
//! (killed), and an active one whose hold is gone records nothing: both are
//! stale, ended before the new session begins.

use std::time::Duration;

use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::recording::begin::{begin, interrupt_flag, lock_for_change};
use crate::recording::events::trigger::trigger;
use crate::recording::retrigger::retrigger;
use crate::recording::session::{end_stale, hold_running, is_live, stale_reason};
use crate::recording::text::both_times;
use crate::state::SessionStatus;

/// What `record start` asks for, checked.
#[derive(Debug, Clone)]
pub(crate) struct StartRequest {
    pub path: String,
    /// MediaMTX's RTSP port, which the hold reads from.
    pub port: u16,
    /// How long the session lasts (none: until `record stop`).
    pub duration: Option<Duration>,
    pub reason: Option<String>,
}

/// Starts a session on `req.path`, or re-triggers the live one, or starts
/// an event on an armed path. What happened, as one line to print.
pub(crate) fn start(ctx: &Context, api: &Api, req: StartRequest) -> anyhow::Result<String> {
    let StartRequest {
        path,
        port,
        duration,
        reason,
    } = req;
    let interrupted = interrupt_flag()?;
    let _lock = lock_for_change(ctx, &path, &interrupted)?;
    let recorded = ctx.store.read()?.paths.remove(&path).unwrap_or_default();
    let stopping = recorded.recording.hold.as_ref().is_some_and(|h| h.stopping);
    if recorded.armed.is_some() {
        // On an armed path a start is an event (its hold, if gone, is
        // `hook resume`'s or the next segment's to bring back).
        return trigger(ctx, &path, duration, reason);
    }
    if let Some(old) = recorded.recording.session.filter(is_live) {
        if old.status == SessionStatus::Active && hold_running(&old) && !stopping {
            return retrigger(ctx, &path, duration, reason);
        }
        // Under the lock a `starting` session has lost its `record start`,
        // and an active one whose hold is gone records nothing: end it.
        let why = stale_reason(&old);
        log::warn!("a stale recording session was left on {path}: {why}; ending it first");
        end_stale(ctx, None, &path, &old, &why);
    }
    let until = begin(
        ctx,
        api,
        &path,
        port,
        reason.clone(),
        duration,
        &interrupted,
    )?;
    let (ends, hold_pid) = match until {
        (Some(u), pid) => (format!("until {}", both_times(u)), pid),
        (None, pid) => ("until `hook record stop`".to_string(), pid),
    };
    match &reason {
        Some(r) => log::info!("recording session started ({ends}; {r})"),
        None => log::info!("recording session started ({ends})"),
    }
    // The hold lives on: it is re-parented when this process exits.
    Ok(format!("recording {ends} (hold pid {hold_pid})"))
}
