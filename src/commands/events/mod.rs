//! `hook record arm|disarm`, events (`record start` on an armed path),
//! `hook clip` and `hook resume`: event recording with a pre-roll.
//!
//! An armed path is held like a recording session (the session, open-ended,
//! is the arm's; its hold keeps the stream and MediaMTX's `record` on) and
//! recorded in short segments: `arm` PATCHes `record` together with
//! `recordSegmentDuration` (`events.segment_duration`, 2 s), both `record*`
//! settings, so MediaMTX restarts only its recorder and readers stay. A hold
//! or `hook ready` that finds `record` forgotten (MediaMTX restarted) puts
//! both back. `disarm` puts the entry's previous `recordSegmentDuration`
//! back. What goes to the ring and what an event keeps is decided in
//! `crate::recording::ring`; `segment-complete` rolls the ring.

pub mod clip;
pub mod resume;
mod trigger;

use std::process::ExitCode;

use anyhow::anyhow;

pub use trigger::trigger;

use crate::cli::events::ArmArgs;
use crate::cli::PathArg;
use crate::commands::record::{
    begin, end_stale, hold_running, interrupt_flag, is_live, lock_for_change, rtsp_port,
    stale_reason,
};
use crate::commands::segment_complete::roll;
use crate::commands::Context;
use crate::mediamtx::api::Api;
use crate::mediamtx::env as mtx_env;
use crate::policy::duration::{format_mediamtx, Dur};
use crate::state::events::Armed;
use crate::state::{now, SessionStatus};

/// The reason an arm's session carries (shown by `hook status`).
pub const ARMED_REASON: &str = "armed for events";

/// Entry point of `hook record arm PATH [--pre D] [--post D]`.
pub fn arm(ctx: &Context, args: &ArmArgs) -> anyhow::Result<ExitCode> {
    let path = mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    let port = rtsp_port()?;
    let pre = args.pre.unwrap_or(ctx.policy.events.pre);
    let post = args.post.unwrap_or(ctx.policy.events.post);
    let segment = format_mediamtx(ctx.policy.events.segment_duration.0);
    let api = Api::from_env()?;
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
                println!("{path}: already armed; now {window}");
                return Ok(ExitCode::SUCCESS);
            }
            (None, true) => {
                return Err(anyhow!(
                    "{path} records a session (since {}): arming would change how it is kept; `hook record stop {path}` first, then arm",
                    crate::commands::session::rfc3339(old.started_at)
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
        &api,
        &path,
        port,
        Some(ARMED_REASON.into()),
        None,
        &interrupted,
    );
    match started {
        Ok((_, hold_pid)) => {
            log::info!("armed: {window}");
            println!("{path}: armed: {window} (hold pid {hold_pid})");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = ctx.store.update_path(&path, |p| {
                p.armed = None;
                Ok(())
            });
            restore_segment_duration(ctx, &api, &path, previous.as_deref());
            Err(e.context(format!("arming {path}")))
        }
    }
}

/// Entry point of `hook record disarm PATH`.
pub fn disarm(ctx: &Context, args: &PathArg) -> anyhow::Result<ExitCode> {
    let path = mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    let api = Api::from_env()?;
    let state = ctx.store.read()?;
    if state
        .paths
        .get(&path)
        .and_then(|p| p.armed.as_ref())
        .is_none()
    {
        return Err(anyhow!(
            "{path} is not armed (`hook record arm {path}` arms it)"
        ));
    }
    let ended = crate::commands::session::stop_recording(
        ctx,
        &api,
        &path,
        "disarmed with hook record disarm",
    );
    let dropped = drop_arm(ctx, &api, &path, "disarmed");
    ended?;
    let rolled = dropped?;
    println!("{path}: disarmed; recording off, {rolled} segments of the window deleted");
    Ok(ExitCode::SUCCESS)
}

/// Ends `path`'s arm once its session has ended: the ring deleted (`rolled`
/// lines with `why`), `recordSegmentDuration` put back. The number of ring
/// segments deleted (0 when the path was not armed).
pub fn drop_arm(ctx: &Context, api: &Api, path: &str, why: &str) -> anyhow::Result<usize> {
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
pub fn refuse_when_armed(ctx: &Context, path: &str) -> anyhow::Result<()> {
    let state = ctx.store.read()?;
    if state.paths.get(path).is_some_and(|p| p.armed.is_some()) {
        return Err(anyhow!(
            "{path} is armed: its events end by themselves (--duration, then the post-roll); `hook record disarm {path}` ends the arm"
        ));
    }
    Ok(())
}

/// `10s` for a number of milliseconds.
pub(crate) fn ms_text(ms: u64) -> String {
    Dur::millis(ms).to_string()
}
