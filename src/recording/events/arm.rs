//! Arming and disarming a path for events (`hook record arm|disarm`).
//!
//! An armed path is held like a recording session (the session, open-ended,
//! is the arm's; its hold keeps the stream and MediaMTX's `record` on) and
//! recorded in short segments: arming PATCHes `record` together with
//! `recordSegmentDuration` (`events.segment_duration`, 2 s), both `record*`
//! settings, so MediaMTX restarts only its recorder and readers stay.
//! Disarming ends the session, deletes the ring and puts the entry's
//! previous `recordSegmentDuration` back.

use anyhow::anyhow;

use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::policy::duration::{format_mediamtx, Dur};
use crate::recording::begin::{begin, interrupt_flag, lock_for_change};
use crate::recording::events::roll;
use crate::recording::session::{end_stale, hold_running, is_live, stale_reason};
use crate::recording::stop::stop_recording;
use crate::recording::text::rfc3339;
use crate::state::events::Armed;
use crate::state::now;
use crate::state::SessionStatus;

/// What `record arm` asks for, checked: the pre-roll and post-roll (the
/// policy's when not given).
#[derive(Debug, Clone)]
pub(crate) struct ArmRequest {
    pub path: String,
    /// MediaMTX's RTSP port, which the hold reads from.
    pub port: u16,
    pub pre: Option<Dur>,
    pub post: Option<Dur>,
}

/// The reason an arm's session carries (shown by `hook status`).
pub(crate) const ARMED_REASON: &str = "armed for events";

/// Arms `req.path` (or, when it is armed and held, changes its pre-roll and
/// post-roll): what happened, as one line to print.
pub(crate) fn arm(ctx: &Context, api: &Api, req: ArmRequest) -> anyhow::Result<String> {
    let path = req.path;
    let port = req.port;
    let pre = req.pre.unwrap_or(ctx.policy.events.pre);
    let post = req.post.unwrap_or(ctx.policy.events.post);
    let segment = format_mediamtx(ctx.policy.events.segment_duration.0);
    let interrupted = interrupt_flag()?;
    let _lock = lock_for_change(ctx, &path, &interrupted)?;
    let recorded = ctx.store.read()?.paths.remove(&path).unwrap_or_default();
    let window = format!("pre-roll {pre}, post-roll {post}, segments of {segment}");
    if let Some(old) = recorded.recording.session.clone().filter(is_live) {
        let stopping = recorded.recording.hold.as_ref().is_some_and(|h| h.stopping);
        let held = old.status == SessionStatus::Active && hold_running(&old) && !stopping;
        match (&recorded.armed, held) {
            (Some(_), true) => {
                ctx.store.update_path(&path, |p| {
                    if let Some(a) = p.armed.as_mut() {
                        a.pre_ms = pre.0.as_millis() as u64;
                        a.post_ms = post.0.as_millis() as u64;
                    }
                    Ok(())
                })?;
                return Ok(format!("already armed; now {window}"));
            }
            (None, true) => {
                return Err(anyhow!(
                    "{path} records a session (since {}): arming would change how it is kept; `hook record stop {path}` first, then arm",
                    rfc3339(old.started_at)
                ))
            }
            _ => {
                let why = stale_reason(&old);
                log::warn!("a stale recording session was left on {path}: {why}; ending it first");
                end_stale(ctx, None, &path, &old, &why);
            }
        }
    }
    // The entry's own segment length, put back by `disarm`.
    let previous = match &recorded.armed {
        Some(a) => a.previous_segment_duration.clone(),
        None => api
            .entry(&path)
            .map_err(|e| anyhow!(e).context(format!("arming {path}")))?
            .and_then(|v| {
                v.get("recordSegmentDuration")
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
            }),
    };
    ctx.store.update_path(&path, |p| {
        let ring = p.armed.take().map(|a| a.ring).unwrap_or_default();
        p.armed = Some(Armed {
            since: now(),
            pre_ms: pre.0.as_millis() as u64,
            post_ms: post.0.as_millis() as u64,
            segment_duration: segment.clone(),
            previous_segment_duration: previous.clone(),
            ring,
            rolled: 0,
            rolled_bytes: 0,
        });
        Ok(())
    })?;
    let started = begin(
        ctx,
        api,
        &path,
        port,
        Some(ARMED_REASON.into()),
        None,
        &interrupted,
    );
    match started {
        Ok((_, hold_pid)) => {
            log::info!("armed: {window}");
            Ok(format!("armed: {window} (hold pid {hold_pid})"))
        }
        Err(e) => {
            let _ = ctx.store.update_path(&path, |p| {
                p.armed = None;
                Ok(())
            });
            restore_segment_duration(ctx, api, &path, previous.as_deref());
            Err(e.context(format!("arming {path}")))
        }
    }
}

/// Disarms `path`: its session ended (recording off), its ring deleted,
/// its segment length put back. What happened, as one line to print.
pub(crate) fn disarm(ctx: &Context, api: &Api, path: &str) -> anyhow::Result<String> {
    let state = ctx.store.read()?;
    if state
        .paths
        .get(path)
        .and_then(|p| p.armed.as_ref())
        .is_none()
    {
        return Err(anyhow!(
            "{path} is not armed (`hook record arm {path}` arms it)"
        ));
    }
    let ended = stop_recording(ctx, api, path, "disarmed with hook record disarm");
    let dropped = drop_arm(ctx, api, path, "disarmed");
    ended?;
    let rolled = dropped?;
    Ok(format!(
        "disarmed; recording off, {rolled} segments of the window deleted"
    ))
}

/// Ends `path`'s arm once its session has ended: the ring deleted (`rolled`
/// lines with `why`), `recordSegmentDuration` put back. The number of ring
/// segments deleted (0 when the path was not armed).
pub(crate) fn drop_arm(ctx: &Context, api: &Api, path: &str, why: &str) -> anyhow::Result<usize> {
    let store = &ctx.store;
    let (armed, rolled) = store.update(|state| {
        let Some(p) = state.paths.get_mut(path) else {
            return Ok((None, roll::Rolled::default()));
        };
        let Some(mut armed) = p.armed.take() else {
            return Ok((None, roll::Rolled::default()));
        };
        let mut done = roll::Rolled::default();
        // Counted on the arm being dropped: `delete` counts into the arm.
        let ring = std::mem::take(&mut armed.ring);
        p.armed = Some(armed);
        for s in ring {
            roll::delete(store, path, p, s, why, now(), &mut done)?;
        }
        Ok((p.armed.take(), done))
    })?;
    let Some(armed) = armed else {
        return Ok(0);
    };
    roll::log(&rolled);
    restore_segment_duration(ctx, api, path, armed.previous_segment_duration.as_deref());
    Ok(rolled.deleted.len())
}

fn restore_segment_duration(ctx: &Context, api: &Api, path: &str, previous: Option<&str>) {
    let back = previous
        .map(str::to_string)
        .unwrap_or_else(|| format_mediamtx(ctx.policy.recording.segment_duration.0));
    let fields = serde_json::json!({ "recordSegmentDuration": back });
    if let Err(e) = api.patch_entry(path, &fields) {
        log::warn!("could not put recordSegmentDuration {back} back: {e}");
    }
}

/// For `hook record stop`: an armed path's session is the arm's.
pub(crate) fn refuse_when_armed(ctx: &Context, path: &str) -> anyhow::Result<()> {
    let state = ctx.store.read()?;
    if state.paths.get(path).is_some_and(|p| p.armed.is_some()) {
        return Err(anyhow!(
            "{path} is armed: its events end by themselves (--duration, then the post-roll); `hook record disarm {path}` ends the arm"
        ));
    }
    Ok(())
}
