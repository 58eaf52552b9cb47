//! The hold: the process (`hook hold PATH`) that `record start` leaves
//! behind to keep a path's stream alive for a recording session.
//!
//! MediaMTX's recorder is not a reader: an on-demand path records only while
//! something reads it. The hold is a detached process (its own session, so
//! it outlives the terminal) that reads the stream with the hook's native
//! RTSP reader (`hook rtsp-read`) under the generic supervisor: reconnected
//! with backoff when the stream restarts, stopped cleanly on SIGTERM. Every
//! few seconds it checks its session (ended? `--duration` elapsed?) and
//! MediaMTX's `record` switch (a restarted MediaMTX forgets a PATCH) and
//! switches it back on. It ends the session when it runs out
//! (`--duration`), when the session is ended elsewhere, or when its reader
//! cannot be kept.

use crate::context::Context;
use crate::mediamtx::api::{Api, ApiError};
use crate::recording::lock::{lock_within, try_lock, SessionLock};
use crate::recording::session::{
    is_live, mark_stopping, start_deadline, starter_gone, stop_budget, switch_off_and_end,
};
use crate::recording::switch::record_on_fields;
use crate::state::identity::{is_running, ProcessId};
use crate::state::SessionStatus;
use crate::state::{now, Cause, HoldState, PathState};
use crate::supervise::signals::Signals;
use crate::supervise::{self, Event, Job, Launch, Spec, StartError};
use anyhow::{anyhow, Context as _};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How often a hold asks for the stream while the camera is away.
const CAMERA_AWAY_RETRY: Duration = Duration::from_secs(1);
/// Longest time between two checks of a hold's session.
const HOLD_TICK_MAX: Duration = Duration::from_secs(1);

/// Holds `path`'s stream (MediaMTX's RTSP server on `port`) for its
/// recording session until the session ends or a stop signal comes.
pub(crate) fn run(ctx: &Context, path: &str, port: u16, api: Api) -> anyhow::Result<()> {
    let path = path.to_string();
    let signals = Signals::install().context("installing signal handlers")?;
    let check_every = ctx.policy.recording.hold_check_interval.0;
    let mut job = Hold {
        ctx,
        path: path.clone(),
        port,
        api,
        me: std::process::id(),
        check_every,
        next_api_check: Instant::now(),
        finish: None,
        finish_lock: None,
        api_trouble: false,
    };
    let spec = Spec {
        rtsp_port: Some(port),
        subreaper: true,
        stop_when_orphaned: false,
        tick_every: Some(check_every.min(HOLD_TICK_MAX)),
        ..Spec::new(ctx.policy.restart.clone())
    };
    log::info!("holding rtsp://127.0.0.1:{port}/{path} for a recording session");
    let outcome = supervise::supervise(&mut job, &spec, &signals);
    if let Some((status, reason)) = job.finish.take() {
        // The session ran its course (or was abandoned): this hold ends it.
        let api = job.api.clone();
        let lock = job.finish_lock.take();
        match end_session_from_hold(ctx, &api, &path, job.me, &signals, status, &reason, lock) {
            Ok(Some(summary)) => log::info!("recording session ended ({reason}): {summary}"),
            Ok(None) => log::info!("the session was ended by another hook command meanwhile"),
            Err(e) => log::error!("ending the recording session: {e:#}"),
        }
    }
    match outcome {
        Ok(o) => {
            let why = match o {
                supervise::Outcome::Signal(sig) => crate::process::signal_name(sig),
                supervise::Outcome::Finished => "finished",
                supervise::Outcome::Orphaned => "parent gone",
            };
            log::info!("hold stopped ({why})");
            Ok(())
        }
        Err(e) => Err(anyhow!(e.message).context("holding the stream")),
    }
}

/// The end of a `--duration` session (or of one whose start died), done
/// by its hold once its reader is stopped, under the session lock: recording
/// off, last segment waited for, session ended. A session that is no longer
/// this hold's once the lock is taken (a stop or a start cleaned it up) is
/// left alone. A stop signal while waiting for the lock ends the wait. The
/// end of a `--duration` comes with the lock already held (`held`): it was
/// decided under it, so no re-trigger can have extended the session since.
#[allow(clippy::too_many_arguments)]
fn end_session_from_hold(
    ctx: &Context,
    api: &Api,
    path: &str,
    me: u32,
    signals: &Signals,
    status: SessionStatus,
    reason: &str,
    held: Option<SessionLock>,
) -> anyhow::Result<Option<String>> {
    let stops = signals.stop_count();
    let _lock = match held {
        Some(lock) => lock,
        None => lock_within(ctx, path, stop_budget(ctx), || {
            if signals.stop_count() > stops {
                anyhow::bail!("stopped while waiting for the session lock");
            }
            Ok(())
        })?,
    };
    let state = ctx.store.read()?;
    let mine = state
        .paths
        .get(path)
        .and_then(|p| p.recording.session.as_ref())
        .is_some_and(|s| is_live(s) && s.hold_pid.is_none_or(|pid| pid == me));
    if !mine {
        return Ok(None);
    }
    mark_stopping(ctx, path);
    let (summary, switched) = switch_off_and_end(ctx, api, path, status, reason)?;
    switched
        .map(|()| Some(summary.clone()))
        .map_err(|e| anyhow!(e).context(format!("{summary}; recording could not be switched off")))
}

/// The hold's job for the supervisor: a native RTSP reader of the path.
struct Hold<'a> {
    ctx: &'a Context,
    path: String,
    port: u16,
    api: Api,
    me: u32,
    check_every: Duration,
    next_api_check: Instant,
    /// Set when the hold itself ends the session: the status and why.
    finish: Option<(SessionStatus, String)>,
    /// The session lock, held from the moment the hold found the session's
    /// `--duration` over until it has ended the session (a re-trigger
    /// waits for it, then starts a new session).
    finish_lock: Option<SessionLock>,
    /// The API failed at the last check (logged once per outage).
    api_trouble: bool,
}

/// What a hold should do, from its session as the state shows it.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Keep holding.
    Hold,
    /// The session is gone, ended or someone else's: stop quietly.
    Leave,
    /// The session's `--duration` is over: stop and end it.
    Finish,
    /// The session never left `starting` (its `record start` died): stop
    /// and mark it failed.
    Abandoned,
}

fn verdict(p: Option<&PathState>, me: u32, at: OffsetDateTime, deadline: Duration) -> Verdict {
    let Some(p) = p else {
        return Verdict::Leave;
    };
    let Some(s) = p.recording.session.as_ref() else {
        return Verdict::Leave;
    };
    if !is_live(s)
        || s.hold_pid.is_some_and(|pid| pid != me)
        || p.recording.hold.as_ref().is_some_and(|h| h.stopping)
    {
        return Verdict::Leave;
    }
    if starter_gone(s, at, deadline) {
        return Verdict::Abandoned;
    }
    match s.until {
        Some(until) if at >= until => Verdict::Finish,
        _ => Verdict::Hold,
    }
}

impl Hold<'_> {
    /// Updates this hold's report in the state; never fails the hold.
    fn write(&self, change: impl FnOnce(&mut HoldState)) {
        let me = self.me;
        let r = self.ctx.store.update_path(&self.path, |p| {
            let mine = p
                .recording
                .session
                .as_ref()
                .is_some_and(|s| s.hold_pid.is_none_or(|pid| pid == me));
            if mine {
                let h = p.recording.hold.get_or_insert_with(HoldState::default);
                if h.pid != Some(me) || h.process.is_none() {
                    h.pid = Some(me);
                    h.process = ProcessId::me();
                }
                change(h);
            }
            Ok(())
        });
        if let Err(e) = r {
            log::warn!("could not record the hold's state: {e:#}");
        }
    }

    /// Re-applies MediaMTX's record switch when it is off.
    fn check_record_switch(&mut self) {
        match self.api.record_enabled(&self.path) {
            Ok(Some(true)) => self.api_trouble = false,
            Ok(Some(false)) => {
                self.api_trouble = false;
                let state = self.ctx.store.read().ok();
                let p = state.as_ref().and_then(|s| s.paths.get(&self.path));
                match self.api.patch_entry(&self.path, &record_on_fields(p)) {
                    Ok(()) => {
                        log::info!(
                            "MediaMTX's record switch was off (MediaMTX restarted?): switched it back on"
                        );
                        self.write(|h| h.record_reapplied += 1);
                    }
                    Err(e) => self.api_failed(e),
                }
            }
            Ok(None) => self.api_failed_text(format!(
                "MediaMTX has no path entry named {:?} to switch recording on",
                self.path
            )),
            Err(e) => self.api_failed(e),
        }
    }

    fn api_failed(&mut self, e: ApiError) {
        self.api_failed_text(e.to_string());
    }

    fn api_failed_text(&mut self, text: String) {
        if !self.api_trouble {
            log::warn!("{text}; will retry");
            self.api_trouble = true;
            self.write(|h| h.last_error = Some(text));
        }
    }
}

impl Job for Hold<'_> {
    fn name(&self) -> &str {
        "hold reader"
    }

    fn command(&mut self) -> Result<Launch, StartError> {
        // RTSP credentials (HOOK_RTSP_USER/PASS): the native reader logs in
        // itself with what it inherits from the environment (the credential
        // relay is the publisher's). Half-set ones are fatal.
        crate::mediamtx::rtsp_auth::Credentials::from_env()
            .map_err(crate::mediamtx::rtsp_relay::start_error)?;
        let exe = std::env::current_exe()
            .map_err(|e| StartError::retry(format!("finding the hook executable: {e}")))?;
        // The reader is the hook itself: it keeps the credentials of the
        // environment (an FFmpeg child would not get them).
        Ok(Launch::hook(
            exe,
            vec![
                "rtsp-read".into(),
                crate::ffmpeg::rtsp_url(self.port, &self.path).into(),
            ],
        ))
    }

    /// While the path's publisher is alive (its `hook run`, which restarts
    /// FFmpeg or waits for its camera) or its camera is away (unplugged,
    /// missing, busy), the reader asks for the stream again every
    /// [`CAMERA_AWAY_RETRY`] instead of backing off: MediaMTX holds such a
    /// reader until the publisher is back (and, when none runs, starts one
    /// that waits for the camera), so the stream and the recording resume as
    /// soon as the camera does, not after a backoff grown during the outage.
    fn wait_instead(&mut self) -> Option<Box<dyn supervise::Wait>> {
        let state = self.ctx.store.read().ok()?;
        let p = state.paths.get(&self.path)?;
        let publisher_alive = p
            .publisher
            .supervisor_pid
            .is_some_and(|pid| is_running(pid, p.publisher.supervisor_process.as_ref()));
        let camera_away = p.publisher.failure.as_ref().is_some_and(|f| {
            matches!(
                f.cause,
                Cause::Unplugged | Cause::CameraMissing | Cause::Busy
            )
        });
        (publisher_alive || camera_away)
            .then(|| Box::new(supervise::Pause::new(CAMERA_AWAY_RETRY)) as Box<dyn supervise::Wait>)
    }

    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Started { pid, .. } => self.write(|h| {
                h.reader_pid = Some(pid);
                h.reader_process = ProcessId::of(pid);
                h.starts += 1;
                h.reading = false;
            }),
            Event::Running { pid } => {
                log::info!("reader pid {pid} receives the stream");
                self.write(|h| {
                    h.reading = true;
                    h.last_error = None;
                });
            }
            Event::Exited { exit, .. } => {
                // Rounded to the millisecond first, as an exit record is.
                let ran = (exit.ran.as_secs_f64() * 1000.0).round() / 1000.0;
                let why = format!("reader ended ({}) after {ran:.1} s", exit.reason);
                self.write(|h| {
                    h.reading = false;
                    h.reader_pid = None;
                    h.reader_process = None;
                    h.last_error = Some(why);
                });
            }
            Event::Error { message, .. } => {
                let message = message.to_string();
                self.write(|h| h.last_error = Some(message));
            }
            _ => {}
        }
    }

    fn tick(&mut self) -> bool {
        let state = match self.ctx.store.read() {
            Ok(s) => s,
            Err(e) => {
                log::warn!("reading the state: {e:#}; holding on");
                return true;
            }
        };
        let deadline = start_deadline(self.ctx);
        let mut decided = verdict(state.paths.get(&self.path), self.me, now(), deadline);
        if decided == Verdict::Finish {
            // A re-trigger moves the end under the session lock: decide the
            // end under it too, from the state read with it held. Busy (a
            // re-trigger, a stop): decide at the next tick.
            match try_lock(self.ctx, &self.path) {
                Ok(Some(lock)) => {
                    let state = match self.ctx.store.read() {
                        Ok(s) => s,
                        Err(e) => {
                            log::warn!("reading the state: {e:#}; holding on");
                            return true;
                        }
                    };
                    decided = verdict(state.paths.get(&self.path), self.me, now(), deadline);
                    if decided == Verdict::Finish {
                        self.finish_lock = Some(lock);
                    }
                }
                Ok(None) => {
                    log::debug!("the session lock is busy (a re-trigger?): deciding the end at the next check");
                    return true;
                }
                Err(e) => {
                    log::warn!("{e:#}; holding on");
                    return true;
                }
            }
        }
        match decided {
            Verdict::Leave => {
                log::info!("the recording session is over or no longer ours: stopping");
                false
            }
            Verdict::Finish => {
                self.finish = Some((SessionStatus::Ended, "duration elapsed".into()));
                log::info!("the session's duration elapsed: stopping");
                false
            }
            Verdict::Abandoned => {
                let why = "`hook record start` did not finish starting the session (killed?)";
                log::warn!("{why}: stopping");
                self.finish = Some((SessionStatus::Failed, why.into()));
                false
            }
            Verdict::Hold => {
                if Instant::now() >= self.next_api_check {
                    self.next_api_check = Instant::now() + self.check_every;
                    self.check_record_switch();
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::session::tests::{path_with, session, ST};
    use time::macros::datetime;

    #[test]
    fn hold_verdicts() {
        let t = datetime!(2026-01-01 00:10:00 UTC);
        let until = Some(datetime!(2026-01-01 00:05:00 UTC));
        assert_eq!(verdict(None, 7, t, ST), Verdict::Leave);
        assert_eq!(verdict(Some(&path_with(None)), 7, t, ST), Verdict::Leave);
        let mine = path_with(Some(session(SessionStatus::Active, Some(7), None)));
        assert_eq!(verdict(Some(&mine), 7, t, ST), Verdict::Hold);
        assert_eq!(
            verdict(Some(&mine), 8, t, ST),
            Verdict::Leave,
            "another hold's session"
        );
        let starting = path_with(Some(session(SessionStatus::Starting, None, None)));
        let early_on = datetime!(2026-01-01 00:00:03 UTC);
        assert_eq!(verdict(Some(&starting), 7, early_on, ST), Verdict::Hold);
        let ended = path_with(Some(session(SessionStatus::Ended, Some(7), None)));
        assert_eq!(verdict(Some(&ended), 7, t, ST), Verdict::Leave);
        let timed = path_with(Some(session(SessionStatus::Active, Some(7), until)));
        assert_eq!(verdict(Some(&timed), 7, t, ST), Verdict::Finish);
        let early = datetime!(2026-01-01 00:04:59 UTC);
        assert_eq!(verdict(Some(&timed), 7, early, ST), Verdict::Hold);
        let mut stopping = mine.clone();
        stopping.recording.hold = Some(HoldState {
            stopping: true,
            ..HoldState::default()
        });
        assert_eq!(verdict(Some(&stopping), 7, t, ST), Verdict::Leave);
        // Started at 00:00, still starting at 00:10: its `record start` died.
        let mut stuck = path_with(Some(session(SessionStatus::Starting, Some(7), None)));
        assert_eq!(verdict(Some(&stuck), 7, t, ST), Verdict::Abandoned);
        let soon = datetime!(2026-01-01 00:00:15 UTC);
        assert_eq!(verdict(Some(&stuck), 7, soon, ST), Verdict::Hold);
        stuck.recording.session.as_mut().unwrap().status = SessionStatus::Active;
        assert_eq!(verdict(Some(&stuck), 7, t, ST), Verdict::Hold);
        // A recorded starter decides at once: running, the start goes on;
        // gone (or its pid reused), the session is abandoned.
        let mut starting = path_with(Some(session(SessionStatus::Starting, Some(7), None)));
        let s = starting.recording.session.as_mut().unwrap();
        s.starter_pid = Some(std::process::id());
        s.starter_process = ProcessId::me();
        assert_eq!(verdict(Some(&starting), 7, t, ST), Verdict::Hold);
        let s = starting.recording.session.as_mut().unwrap();
        s.starter_process.as_mut().unwrap().start_ticks += 1;
        assert_eq!(verdict(Some(&starting), 7, soon, ST), Verdict::Abandoned);
    }
}
