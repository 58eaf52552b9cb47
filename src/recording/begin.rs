//! Beginning a recording session on a path, for `record start` and
//! `record arm`: under the session lock, recording switched on, the hold
//! started and waited for until it reads the stream and MediaMTX says it is
//! available, the session active; or, within the start's deadline
//! ([`start_deadline`]), everything undone (hold stopped, recording off,
//! session failed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use time::OffsetDateTime;

use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::recording::lock::{lock_within, SessionLock};
use crate::recording::session::{change_wait, describe_deadline, mark_stopping, start_deadline};
use crate::recording::spawn::spawn_hold;
use crate::recording::switch::record_on_fields;
use crate::state::identity::ProcessId;
use crate::state::SessionStatus;
use crate::state::{now, HoldState, Session};
use crate::supervise::hook_process::stop_hold;

/// How often `record start` looks at the hold and the API while waiting.
const START_POLL: Duration = Duration::from_millis(100);
/// The limit for undoing a switch whose answer never came.
const UNDO_TIMEOUT: Duration = Duration::from_secs(4);

/// A flag set by Ctrl-C (or SIGTERM): a start waiting is undone like a timeout.
pub(crate) fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in crate::supervise::signals::STOP_SIGNALS {
        signal_hook::flag::register(sig, interrupted.clone())
            .context("installing signal handlers")?;
    }
    Ok(interrupted)
}

/// Takes the path's session lock for a start or an arm: under it no other
/// start, re-trigger, stop or hold hand-over runs; a start in progress, a
/// stop or a hold ending its session is waited for (as long as a start and
/// a stop may take).
pub(crate) fn lock_for_change(
    ctx: &Context,
    path: &str,
    interrupted: &AtomicBool,
) -> anyhow::Result<SessionLock> {
    let mut told = false;
    lock_within(ctx, path, change_wait(ctx), || {
        if interrupted.load(Ordering::SeqCst) {
            anyhow::bail!(
                "{path}: interrupted while waiting for another hook command on this path"
            );
        }
        if !told {
            told = true;
            log::info!("another hook command is changing the recording session (a start in progress?): waiting for it");
        }
        Ok(())
    })
}

/// Starts a new session on `path` (the caller holds its session lock and
/// has ended any stale one): recording switched on (with an armed path's
/// short segments when the path is armed), the hold started and waited
/// for, the session active. Returns the session's end and the hold's pid;
/// on failure everything is undone.
pub(crate) fn begin(
    ctx: &Context,
    api: &Api,
    path: &str,
    port: u16,
    reason: Option<String>,
    duration: Option<Duration>,
    interrupted: &AtomicBool,
) -> anyhow::Result<(Option<OffsetDateTime>, u32)> {
    let path = path.to_string();
    let started_at = now();
    let starter = ProcessId::me();
    ctx.store.update_path(&path, |p| {
        p.recording.session = Some(Session {
            starter_pid: Some(std::process::id()),
            starter_process: starter,
            reason: reason.clone(),
            ..Session::fresh(started_at, SessionStatus::Starting)
        });
        p.recording.hold = None;
        p.recording.active = false;
        Ok(())
    })?;
    let deadline_len = start_deadline(ctx);

    let fields = record_on_fields(ctx.store.read()?.paths.get(&path));
    if let Err(e) = api.patch_entry(&path, &fields) {
        // No answer in time: MediaMTX may have applied it all the same.
        let unknown = e.outcome_unknown();
        let why = format!("switching recording on: {e}");
        fail_start(ctx, api, &path, None, &why, false);
        let e = anyhow!(e).context(format!("starting a recording session on {path}"));
        if !unknown {
            return Err(e);
        }
        // Undone with a shorter limit: the API is known to be slow now.
        let undo = api.clone().with_timeout(UNDO_TIMEOUT);
        if let Err(off) = undo.set_record(&path, false) {
            return Err(e.context(format!(
                "the answer never came, and recording could not be switched off either ({off}): `hook record stop` switches it off"
            )));
        }
        return Err(match undo.record_enabled(&path) {
            Ok(Some(false)) => e.context("the answer never came; recording is switched off"),
            Ok(_) => e.context("the answer never came, and MediaMTX's record switch is still on: `hook record stop` switches it off"),
            Err(check) => e.context(format!(
                "the answer never came, and whether MediaMTX records could not be checked ({check}): `hook record stop` switches it off"
            )),
        });
    }

    let mut hold = match spawn_hold(ctx, &path, port, false) {
        Ok(child) => child,
        Err(e) => {
            let why = format!("starting the hold: {e:#}");
            fail_start(ctx, api, &path, None, &why, true);
            return Err(e.context(format!("starting a recording session on {path}")));
        }
    };
    let hold_pid = hold.id();
    let hold_process = ProcessId::of(hold_pid);
    let recorded = ctx.store.update_path(&path, |p| {
        if let Some(s) = p.recording.session.as_mut() {
            s.hold_pid = Some(hold_pid);
            s.hold_process = hold_process.clone();
        }
        // The hold may already have reported (it starts at once): keep that.
        let h = p.recording.hold.get_or_insert_with(HoldState::default);
        h.pid = Some(hold_pid);
        h.process = hold_process.clone();
        Ok(())
    });
    let hold_id = (hold_pid, hold_process.clone());
    if let Err(e) = recorded {
        let why = format!("recording the hold in the state: {e:#}");
        fail_start(ctx, api, &path, Some(&hold_id), &why, true);
        let _ = hold.wait();
        return Err(e.context(format!("starting a recording session on {path}")));
    }
    log::info!(
        "recording session starting: hold pid {hold_pid} reads rtsp://127.0.0.1:{port}/{path}"
    );

    // The deadline counts from the moment the hold runs.
    let deadline = Instant::now() + deadline_len;
    match wait_until_recording(ctx, api, &path, &mut hold, deadline, interrupted) {
        Ok(()) => {}
        Err(why) => {
            let why = if interrupted.load(Ordering::SeqCst) {
                format!("interrupted while starting: {why}")
            } else {
                format!(
                    "not recording within the start deadline ({}): {why}",
                    describe_deadline(ctx)
                )
            };
            fail_start(ctx, api, &path, Some(&hold_id), &why, true);
            let _ = hold.wait();
            return Err(anyhow!(
                "{path}: {why}; recording switched off and the hold stopped"
            ));
        }
    }
    // A `--duration` counts from the moment recording really runs.
    let until = duration.map(|d| now() + d);
    ctx.store.update_path(&path, |p| {
        if let Some(s) = p.recording.session.as_mut() {
            s.status = SessionStatus::Active;
            s.until = until;
        }
        p.recording.active = true;
        Ok(())
    })?;
    // The hold lives on: the Child is dropped without waiting.
    Ok((until, hold_pid))
}

/// Waits until the hold reads the stream and MediaMTX says it is available.
fn wait_until_recording(
    ctx: &Context,
    api: &Api,
    path: &str,
    hold: &mut std::process::Child,
    deadline: Instant,
    interrupted: &AtomicBool,
) -> Result<(), String> {
    let mut last = "the hold has not received the stream yet".to_string();
    loop {
        if let Ok(Some(status)) = hold.try_wait() {
            return Err(format!(
                "the hold exited ({status}); see {}",
                ctx.store.hold_log_file(path).display()
            ));
        }
        let hold_state = ctx
            .store
            .read()
            .ok()
            .and_then(|s| s.paths.get(path).and_then(|p| p.recording.hold.clone()))
            .unwrap_or_default();
        if hold_state.reading {
            match api.path(path) {
                Ok(Some(info)) if info.available => return Ok(()),
                Ok(Some(_)) => last = "MediaMTX says the stream is not available yet".into(),
                Ok(None) => last = "MediaMTX says the path is not active".into(),
                Err(e) => last = e.to_string(),
            }
        } else if let Some(err) = hold_state.last_error {
            last = format!("the hold has not received the stream yet ({err})");
        }
        if Instant::now() >= deadline || interrupted.load(Ordering::SeqCst) {
            return Err(last);
        }
        std::thread::sleep(START_POLL);
    }
}

/// Undoes a start: hold stopped, recording off (unless it never went on or
/// the API is known unreachable), session failed.
fn fail_start(
    ctx: &Context,
    api: &Api,
    path: &str,
    hold: Option<&(u32, Option<ProcessId>)>,
    why: &str,
    switch_off: bool,
) {
    // The error itself is printed once, by the caller's exit path.
    log::info!("undoing the recording start: hold stopped, recording off, session marked failed");
    mark_stopping(ctx, path);
    if let Some((pid, id)) = hold {
        stop_hold(*pid, id.as_ref(), ctx.policy.restart.grace.0);
    }
    if switch_off {
        if let Err(e) = api.set_record(path, false) {
            log::warn!("could not switch recording off again: {e}");
        }
    }
    let failed = ctx.store.update_path(path, |p| {
        if let Some(mut s) = p.recording.session.take() {
            s.status = SessionStatus::Failed;
            s.ended_at = Some(now());
            s.end_reason = Some(why.to_string());
            p.recording.last_session = Some(s);
        }
        p.recording.active = false;
        p.recording.hold = None;
        p.publisher.last_error = Some(format!("recording session failed: {why}"));
        p.publisher.last_error_at = Some(now());
        Ok(())
    });
    if let Err(e) = failed {
        log::error!("could not record the failed session in the state: {e:#}");
    }
}
