//! `hook record start|stop`, and how recording sessions work as a whole:
//! the hold process itself is in `hold`, the ending of a session (shared by
//! every way to stop one) in `session`.
//!
//! MediaMTX's recorder is not a reader: an on-demand path records only while
//! something reads it. A recording session therefore starts a *hold*
//! (`hook hold PATH`), a detached process (its own session, so it outlives
//! the terminal) that reads the stream over RTSP with FFmpeg
//! (`-c copy -f null`) under the generic supervisor: reconnected with backoff
//! when the stream restarts, stopped cleanly on SIGTERM. Every few seconds it
//! checks its session (ended? `--duration` elapsed?) and MediaMTX's `record`
//! switch (a restarted MediaMTX forgets a PATCH) and switches it back on.
//!
//! The session lives in the path's state (`recording.session`, the hold's
//! own report in `recording.hold`). `record start` returns once the hold
//! reads the stream and MediaMTX says it is available, or undoes everything
//! within its deadline (MediaMTX's start timeout plus the device lock wait
//! plus a margin, so it never gives up while MediaMTX may still start the
//! publisher). Stopping (by `record stop`, `hook stop` or the hold at the end
//! of `--duration`) always goes: hold marked stopping, hold gone, recording
//! off, a moment for MediaMTX's last segment to be counted, session ended;
//! so nothing switches recording back on behind the stop.
//!
//! One lock per path (`locks/session-PATH.lock` in the state directory)
//! serialises every change of a session: a start holds it until its session
//! is active or undone, a stop until the session has ended, a hold while it
//! ends its session. So a start never runs inside a stop, two starts never
//! both start holds, and a `starting` session found under the lock has lost
//! its `record start` (killed): it is stale and is cleaned up (recording
//! off) by the next start or stop. Each process is recorded with its
//! identity (`state::identity`), so a reused pid is never taken for it.
//! A start that finds a live, held session under the lock re-triggers it
//! (`record_retrigger`): its end moves later, no second hold starts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use time::OffsetDateTime;

use crate::cli::{PathArg, RecordStartArgs};
use crate::commands::record_retrigger::{both_times, check_reason, retrigger};
use crate::commands::session::*;
use crate::commands::Context;
use crate::error::usage;
use crate::mediamtx::api::{Api, ApiError};
use crate::mediamtx::env as mtx_env;
use crate::process::ChildCommand;
use crate::state::identity::{is_running, ProcessId};
use crate::state::{now, HoldState, Session, SessionStatus};
use crate::supervise::hook_process::{is_hook, stop_hold};

/// How long a stop waits for MediaMTX's last segment of the session to be
/// reported (`runOnRecordSegmentComplete` fires right after `record` goes off).
pub(super) const FINAL_SEGMENT_WAIT: Duration = Duration::from_secs(2);
/// How often `record start` looks at the hold and the API while waiting.
const START_POLL: Duration = Duration::from_millis(100);
/// Longest time between two checks of a hold's session.
pub(super) const HOLD_TICK_MAX: Duration = Duration::from_secs(1);
/// What `record start` waits beyond MediaMTX's start timeout and the
/// device lock wait (see [`start_deadline`]).
const START_MARGIN: Duration = Duration::from_secs(2);
/// The limit for undoing a switch whose answer never came.
const UNDO_TIMEOUT: Duration = Duration::from_secs(4);
/// How often a busy session lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(50);

pub(super) fn is_live(session: &Session) -> bool {
    session.status == SessionStatus::Starting || session.status == SessionStatus::Active
}

/// The session's hold runs (none recorded yet: false).
pub(super) fn hold_running(s: &Session) -> bool {
    s.hold_pid
        .is_some_and(|pid| is_hook(pid, s.hold_process.as_ref(), "hold"))
}

/// A `starting` session whose `record start` is gone: nothing will ever
/// finish or undo it. Without a recorded starter (an older state) it is
/// stale once the start's deadline has passed twice over.
pub fn starter_gone(s: &Session, at: OffsetDateTime, deadline: Duration) -> bool {
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
pub fn start_deadline(ctx: &Context) -> Duration {
    ctx.policy.viewing.start_timeout.0 + ctx.policy.restart.device_lock_wait.0 + START_MARGIN
}

fn describe_deadline(ctx: &Context) -> String {
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
pub(super) fn stop_budget(ctx: &Context) -> Duration {
    ctx.policy.restart.grace.0
        + Duration::from_secs(4)
        + FINAL_SEGMENT_WAIT
        + Duration::from_secs(10)
}

/// The path's session lock file, in the state directory's `locks/`.
pub fn session_lock_file(ctx: &Context, path: &str) -> PathBuf {
    ctx.store.locks_dir().join(format!(
        "session-{}.lock",
        crate::state::files::name_stem(path)
    ))
}

/// The held session lock of one path; released when dropped (or when its
/// holder dies: it is a `flock`).
#[derive(Debug)]
pub struct SessionLock {
    _file: std::fs::File,
}

/// Takes `path`'s session lock, waiting up to `limit` while another hook
/// command holds it. `busy` is asked between tries; its error ends the wait
/// (a start that is refused, a hold told to stop).
pub fn lock_session(
    ctx: &Context,
    path: &str,
    limit: Duration,
    mut busy: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<SessionLock> {
    let file_name = session_lock_file(ctx, path);
    let file = crate::camera::device_lock::open_lock_file(&file_name, true)
        .with_context(|| format!("opening session lock {}", file_name.display()))?;
    let end = Instant::now() + limit;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", file_name.display()))
            }
        }
        busy()?;
        if Instant::now() >= end {
            let holder = crate::camera::device_lock::open_lock_file(&file_name, false)
                .and_then(std::io::read_to_string)
                .unwrap_or_default();
            anyhow::bail!(
                "{path}: another hook command ({}) has been changing its recording session for more than {}; try again, or see `hook status {path}`",
                match holder.trim() {
                    "" => "pid unknown".to_string(),
                    h => h.to_string(),
                },
                crate::policy::duration::Dur(limit)
            );
        }
        std::thread::sleep(LOCK_POLL);
    }
    Ok(claim(file))
}

/// Takes `path`'s session lock when it is free at once; `None` when another
/// hook command holds it.
pub fn try_lock_session(ctx: &Context, path: &str) -> anyhow::Result<Option<SessionLock>> {
    let file_name = session_lock_file(ctx, path);
    let file = crate::camera::device_lock::open_lock_file(&file_name, true)
        .with_context(|| format!("opening session lock {}", file_name.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(claim(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", file_name.display()))
        }
    }
}

/// The lock just taken on `file`, with who holds it written in it (for the
/// message of a wait that gives up; the lock works without it).
fn claim(mut file: std::fs::File) -> SessionLock {
    use std::io::{Seek, Write};
    let me = std::env::args().nth(1).unwrap_or_default();
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "pid {} (hook {me})", std::process::id()));
    SessionLock { _file: file }
}

pub(super) fn rtsp_port() -> anyhow::Result<u16> {
    mtx_env::validate_port(mtx_env::var("RTSP_PORT").as_deref(), "RTSP_PORT")
}

/// Entry point of `hook record start PATH [--duration D] [--reason TEXT]`:
/// a new session, or a re-trigger of the live one (`record_retrigger`).
pub fn start(ctx: &Context, args: &RecordStartArgs) -> anyhow::Result<ExitCode> {
    let path = mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    let port = rtsp_port()?;
    if args.duration.is_some_and(|d| d.0.is_zero()) {
        return Err(usage(
            "--duration 0s: expected a positive duration (e.g. 90m), or no --duration to record until `hook record stop`",
        ));
    }
    let reason = check_reason(args.reason.as_deref())?;
    // HOOK_RTSP_USER without HOOK_RTSP_PASS (or the reverse) would make the
    // hold fail: refused (exit 2) before anything is switched on.
    crate::mediamtx::rtsp_auth::Credentials::from_env()?;
    let api = Api::from_env()?;
    let interrupted = interrupt_flag()?;
    let _lock = lock_for_change(ctx, &path, &interrupted)?;
    let recorded = ctx.store.read()?.paths.remove(&path).unwrap_or_default();
    let stopping = recorded.recording.hold.as_ref().is_some_and(|h| h.stopping);
    if recorded.armed.is_some() {
        // On an armed path a start is an event (its hold, if gone, is
        // `hook resume`'s or the next segment's to bring back).
        return crate::commands::events::trigger(ctx, &path, args.duration.map(|d| d.0), reason);
    }
    if let Some(old) = recorded.recording.session.filter(is_live) {
        if old.status == SessionStatus::Active && hold_running(&old) && !stopping {
            return retrigger(ctx, &path, args.duration.map(|d| d.0), reason);
        }
        // Under the lock a `starting` session has lost its `record start`,
        // and an active one whose hold is gone records nothing: end it.
        let why = stale_reason(&old);
        log::warn!("a stale recording session was left on {path}: {why}; ending it first");
        end_stale(ctx, None, &path, &old, &why);
    }
    let until = begin(
        ctx,
        &api,
        &path,
        port,
        reason.clone(),
        args.duration.map(|d| d.0),
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
    println!("{path}: recording {ends} (hold pid {hold_pid})");
    // The hold lives on: it is re-parented when this process exits.
    Ok(ExitCode::SUCCESS)
}

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
    let limit = start_deadline(ctx) + ctx.policy.restart.grace.0 + stop_budget(ctx);
    lock_session(ctx, path, limit, || {
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
            started_at,
            until: None,
            ended_at: None,
            status: SessionStatus::Starting,
            end_reason: None,
            segments: 0,
            recorded_seconds: 0.0,
            gaps: 0,
            hold_pid: None,
            hold_process: None,
            starter_pid: Some(std::process::id()),
            starter_process: starter,
            reason: reason.clone(),
            retriggers: 0,
            recent_retriggers: Vec::new(),
            revivals: 0,
            recent_revivals: Vec::new(),
        });
        p.recording.hold = None;
        p.recording.active = false;
        Ok(())
    })?;
    let deadline_len = start_deadline(ctx);

    let fields = crate::recording::record_on_fields(ctx.store.read()?.paths.get(&path));
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

pub(super) fn mark_stopping(ctx: &Context, path: &str) {
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

/// Starts `hook hold PATH` detached: its own session and process group (no
/// terminal's SIGHUP reaches it), stdin from /dev/null, output appended to
/// `holds/PATH.log`, the state directory and this command's policy passed on.
/// `again`: the session's hold is started anew, with the policy its first
/// hold was given.
pub(super) fn spawn_hold(
    ctx: &Context,
    path: &str,
    port: u16,
    again: bool,
) -> anyhow::Result<std::process::Child> {
    let policy = serde_json::to_vec_pretty(&ctx.policy).context("serializing the policy")?;
    let log = if again {
        ctx.store.reopen_hold_files(path, &policy)?
    } else {
        ctx.store.create_hold_files(path, &policy)?
    };
    let policy_file = ctx.store.hold_policy_file(path);
    let exe = std::env::current_exe().context("finding the hook executable")?;
    ChildCommand::detached_hook(&exe, &["hold".into(), path.into()])
        .env("HOOK_STATE_DIR", ctx.store.dir())
        .env("HOOK_CONFIG", &policy_file)
        .env("RTSP_PORT", port.to_string())
        .env("HOOK_LOG_STYLE", "never")
        .output_to(log)
        .spawn_detached()
        .context("starting `hook hold`")
}

/// Why a live session found under the session lock is stale.
pub(super) fn stale_reason(s: &Session) -> String {
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
pub(super) fn end_stale(
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

/// Entry point of `hook record stop PATH`.
pub fn stop(ctx: &Context, args: &PathArg) -> anyhow::Result<ExitCode> {
    let path = mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    crate::commands::events::refuse_when_armed(ctx, &path)?;
    let api = Api::from_env()?;
    match stop_recording(ctx, &api, &path, "stopped with hook record stop")? {
        Stopped::Ended(text) | Stopped::Cleaned(text) | Stopped::SwitchedOff(text) => {
            println!("{path}: {text}");
            Ok(ExitCode::SUCCESS)
        }
        Stopped::Nothing(None) => Err(anyhow!(
            "{path} has no recording session to stop and MediaMTX's record switch is off (`hook status {path}` shows its last session)"
        )),
        Stopped::Nothing(Some(e)) => Err(anyhow!(e).context(format!(
            "{path} has no recording session to stop, and whether MediaMTX still records could not be checked"
        ))),
    }
}

/// For `hook ready`: the stream became available (again); when a session
/// is live on `path` and held, make sure recording is on (a restarted
/// MediaMTX forgot it). MediaMTX's switch is read first and PATCHed only
/// when it is off: any PATCH of the path's configuration makes a publisher
/// that is between ANNOUNCE and RECORD fail. A session whose hold or whose
/// `record start` is gone is never switched back on. True when it switched.
pub fn reapply_on_ready(ctx: &Context, path: &str) -> anyhow::Result<bool> {
    let state = ctx.store.read()?;
    let Some(p) = state.paths.get(path) else {
        return Ok(false);
    };
    let Some(s) = p.recording.session.as_ref().filter(|s| is_live(s)) else {
        return Ok(false);
    };
    let stopping = p.recording.hold.as_ref().is_some_and(|h| h.stopping);
    let held = match s.status {
        // The start is still under way (its hold may not be recorded yet).
        SessionStatus::Starting => {
            !starter_gone(s, now(), start_deadline(ctx))
                && (s.hold_pid.is_none() || hold_running(s))
        }
        _ => hold_running(s),
    };
    if stopping || !held {
        if !stopping {
            log::info!(
                "the recording session on {path} is stale ({}): recording not switched back on",
                stale_reason(s)
            );
        }
        return Ok(false);
    }
    let api = Api::from_env()?;
    match api
        .record_enabled(path)
        .map_err(|e| anyhow!(e).context("checking MediaMTX's record switch for the active session"))?
    {
        Some(true) => {
            log::info!("stream available again: recording is on for the active session");
            Ok(false)
        }
        Some(false) => {
            let fields = crate::recording::record_on_fields(Some(p));
            api.patch_entry(path, &fields).map_err(|e| {
                anyhow!(e).context("switching recording back on for the active session")
            })?;
            log::info!("stream available again: recording switched back on for the active session");
            Ok(true)
        }
        None => Err(anyhow!(
            "MediaMTX has no path entry named {path:?} to switch recording on; add an explicit entry for it to mediamtx.yml (`hook mediamtx-config` prints one)"
        )),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::state::PathState;
    use time::macros::datetime;

    pub(crate) fn session(
        status: SessionStatus,
        hold: Option<u32>,
        until: Option<OffsetDateTime>,
    ) -> Session {
        Session {
            started_at: datetime!(2026-01-01 00:00:00 UTC),
            until,
            ended_at: None,
            status,
            end_reason: None,
            segments: 2,
            recorded_seconds: 3600.25,
            gaps: 1,
            hold_pid: hold,
            hold_process: None,
            starter_pid: None,
            starter_process: None,
            reason: None,
            retriggers: 0,
            recent_retriggers: Vec::new(),
            revivals: 0,
            recent_revivals: Vec::new(),
        }
    }

    pub(crate) fn path_with(s: Option<Session>) -> PathState {
        let mut p = PathState::default();
        p.recording.session = s;
        p
    }

    pub(crate) const ST: Duration = Duration::from_secs(10);

    #[test]
    fn session_lock_names_keep_inside_their_directory() {
        use crate::state::files::name_stem;
        assert_eq!(name_stem("cam0"), "cam0");
        assert_eq!(name_stem("a/b"), "a%2Fb");
        assert_eq!(name_stem("a%2Fb"), "a%252Fb");
        assert_ne!(name_stem("a/b"), name_stem("a%2Fb"));
    }
}
