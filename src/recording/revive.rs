//! Bringing a recording session's hold back when it died: SIGKILLed, taken
//! by the OOM killer, crashed. Nothing the hold does can help then, so the
//! hook commands that run beside a session look for it:
//!
//! - `hook run`, the path's publisher, checks every [`KEEPER_EVERY`] while
//!   it publishes (the hold is what keeps it published, so it outlives the
//!   hold by MediaMTX's close-after at least; a viewer keeps it anyway);
//! - `hook segment-complete` and `hook ready`, which MediaMTX runs while
//!   it records and whenever the stream comes (back).
//!
//! Whichever finds the session active, not being stopped, and its hold
//! gone, takes the session lock (busy: someone is changing the session;
//! the next check decides), starts a new hold with the policy the first one
//! had, and logs it as an ERROR. The time in between is an outage with the
//! cause `hold_dead`, so a hole it made is a gap with that cause. A hold that
//! keeps dying ([`MAX_REVIVALS`] within [`REVIVAL_WINDOW`]), or one that
//! cannot be started, ends the session as failed with recording switched
//! off. A hold revived by a command MediaMTX ran takes the Control API and
//! RTSP settings from MediaMTX's environment, as `hook ready` does.

use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::recording::lock::try_lock;
use crate::recording::session::end_stale;
use crate::recording::spawn::{rtsp_port, spawn_hold};
use crate::state::cause::Cause;
use crate::state::identity::{is_running, ProcessId};
use crate::state::outage;
use crate::state::SessionStatus;
use crate::state::{now, HoldState, PathState, Revival, RECENT_REVIVALS};
use std::process::Child;
use std::time::{Duration, SystemTime};

/// How often `hook run` looks at its path's session.
pub(crate) const KEEPER_EVERY: Duration = Duration::from_secs(1);
/// More revivals than this within [`REVIVAL_WINDOW`]: the hold cannot be
/// kept, the session fails.
pub(crate) const MAX_REVIVALS: usize = 8;
pub(crate) const REVIVAL_WINDOW: time::Duration = time::Duration::seconds(60);

/// What a look at the session did.
#[derive(Debug)]
pub(crate) enum Revived {
    /// Nothing to do: no active session, or its hold runs.
    Fine,
    /// Another hook command holds the session lock: look again later.
    Busy,
    /// A new hold runs (the caller may reap it: it is the caller's child).
    Again(Child),
    /// The hold could not be brought back: the session was ended as failed.
    Failed(String),
}

/// True when `p`'s session is active, not being stopped, and its hold gone.
pub(crate) fn hold_is_dead(p: &PathState) -> bool {
    dead_hold(p).is_some()
}

/// The dead hold of an active session not being stopped: its pid.
fn dead_hold(p: &PathState) -> Option<u32> {
    let s = p.recording.session.as_ref()?;
    if s.status != SessionStatus::Active || p.recording.hold.as_ref().is_some_and(|h| h.stopping) {
        return None;
    }
    // Gone by the one rule status uses too (`identity::is_running`): a
    // recorded identity tells a reused pid apart.
    let pid = s.hold_pid?;
    (!is_running(pid, s.hold_process.as_ref())).then_some(pid)
}

/// Looks at `path`'s session and starts its hold again when it died
/// (`by` names the looking command in the log and the state).
pub(crate) fn revive(ctx: &Context, path: &str, port: u16, by: &str) -> anyhow::Result<Revived> {
    let state = ctx.store.read()?;
    if state.paths.get(path).and_then(dead_hold).is_none() {
        return Ok(Revived::Fine);
    }
    let Some(_lock) = try_lock(ctx, path)? else {
        return Ok(Revived::Busy);
    };
    // Under the lock, from the state as it is now.
    let state = ctx.store.read()?;
    let Some(p) = state.paths.get(path) else {
        return Ok(Revived::Fine);
    };
    let Some(dead) = dead_hold(p) else {
        return Ok(Revived::Fine);
    };
    let session = p
        .recording
        .session
        .clone()
        .expect("dead_hold saw a session");
    let at = now();
    let recent = session
        .recent_revivals
        .iter()
        .filter(|r| at - r.at <= REVIVAL_WINDOW)
        .count();
    if recent >= MAX_REVIVALS {
        let why = format!(
            "its hold died {} times within {} s (last pid {dead}); it cannot be kept",
            recent + 1,
            REVIVAL_WINDOW.whole_seconds()
        );
        return Ok(Revived::Failed(give_up(ctx, path, &session, &why)));
    }
    let detail = format!("the hold (pid {dead}) died (killed?)");
    ctx.store.update_path(path, |p| {
        if let Some(s) = p.recording.session.as_mut() {
            s.hold_pid = None;
            s.hold_process = None;
        }
        p.recording.hold = None;
        outage::begin(
            p,
            at - time::Duration::try_from(KEEPER_EVERY).unwrap_or_default(),
            Cause::HoldDead,
            detail.clone(),
        );
        Ok(())
    })?;
    let child = match spawn_hold(ctx, path, port, true) {
        Ok(child) => child,
        Err(e) => {
            let why =
                format!("its hold (pid {dead}) died and a new one could not be started: {e:#}");
            return Ok(Revived::Failed(give_up(ctx, path, &session, &why)));
        }
    };
    let pid = child.id();
    let process = ProcessId::of(pid);
    let count = session.revivals + 1;
    ctx.store.update_path(path, |p| {
        if let Some(s) = p.recording.session.as_mut() {
            s.hold_pid = Some(pid);
            s.hold_process = process.clone();
            s.revivals += 1;
            s.recent_revivals.push(Revival {
                at,
                dead_pid: dead,
                new_pid: Some(pid),
                by: by.to_string(),
            });
            let n = s.recent_revivals.len();
            if n > RECENT_REVIVALS {
                s.recent_revivals.drain(..n - RECENT_REVIVALS);
            }
        }
        let h = p.recording.hold.get_or_insert_with(HoldState::default);
        h.pid = Some(pid);
        h.process = process.clone();
        outage::end(p, Cause::HoldDead, now());
        Ok(())
    })?;
    log::error!(
        "the recording session's hold (pid {dead}) died (killed?); started a new hold, pid {pid} (revival {count}, by {by})"
    );
    Ok(Revived::Again(child))
}

/// Ends the session as failed with recording off, after an ERROR line.
fn give_up(ctx: &Context, path: &str, session: &crate::state::Session, why: &str) -> String {
    log::error!("the recording session cannot go on: {why}; ending it as failed and switching recording off");
    let api = Api::from_env()
        .map_err(|e| log::error!("switching recording off: {e:#}"))
        .ok();
    if let Some(e) = end_stale(ctx, api.as_ref(), path, session, why) {
        log::error!("recording could not be switched off: {e}");
    }
    let r = ctx.store.update_path(path, |p| {
        outage::end(p, Cause::HoldDead, now());
        p.publisher.last_error = Some(format!("recording session failed: {why}"));
        p.publisher.last_error_at = Some(now());
        Ok(())
    });
    if let Err(e) = r {
        log::error!("recording the failed session: {e:#}");
    }
    why.to_string()
}

/// `hook run`'s side: a look every [`KEEPER_EVERY`]. The state is read
/// only when its file changed; in between, the hold it names is looked at
/// in `/proc`. The holds it started are reaped.
#[derive(Default)]
pub(crate) struct Keeper {
    seen: Option<(SystemTime, u64)>,
    /// The active session's hold, as last read.
    hold: Option<(u32, Option<ProcessId>)>,
    started: Vec<Child>,
}

impl Keeper {
    pub(crate) fn check(&mut self, ctx: &Context, path: &str, port: u16) {
        self.started
            .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        let seen = std::fs::metadata(ctx.store.state_file())
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        if seen != self.seen {
            self.seen = seen;
            self.hold = ctx
                .store
                .read()
                .ok()
                .and_then(|s| s.paths.get(path).and_then(|p| p.recording.session.clone()))
                .filter(|s| s.status == SessionStatus::Active)
                .and_then(|s| s.hold_pid.map(|pid| (pid, s.hold_process)));
        }
        let Some((pid, process)) = &self.hold else {
            return;
        };
        if is_running(*pid, process.as_ref()) {
            return;
        }
        match revive(ctx, path, port, "hook run") {
            Ok(Revived::Again(child)) => self.started.push(child),
            Ok(Revived::Failed(_)) => self.hold = None,
            Ok(Revived::Fine | Revived::Busy) => {}
            Err(e) => log::warn!("looking at the recording session's hold: {e:#}"),
        }
        // Read the state again at the next look.
        self.seen = None;
    }
}

/// For `hook segment-complete` and `hook ready`: [`revive`] once, never
/// failing the command (the new hold is left to run on its own).
pub(crate) fn revive_once(ctx: &Context, path: &str, by: &str) {
    let Ok(port) = rtsp_port() else {
        return;
    };
    match revive(ctx, path, port, by) {
        Ok(_) => {}
        Err(e) => log::warn!("looking at the recording session's hold: {e:#}"),
    }
}
