//! `hook record start|stop` and the hold that keeps a recorded stream alive.
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
//! identity (`process_identity`), so a reused pid is never taken for it.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use time::OffsetDateTime;

use crate::cli::{HoldArgs, PathArg, RecordStartArgs};
use crate::commands::Context;
use crate::error::usage;
use crate::mediamtx::api::{Api, ApiError};
use crate::mediamtx::env as mtx_env;
use crate::policy::HoldReader;
use crate::state::identity::{is_running, ProcessId};
use crate::state::{now, HoldState, PathState, Session};
use crate::supervise::hook_process::{is_hook, stop_hold};
use crate::supervise::signals::Signals;
use crate::supervise::{self, Event, Job, Launch, Spec, StartError};

/// How long a stop waits for MediaMTX's last segment of the session to be
/// reported (`runOnRecordSegmentComplete` fires right after `record` goes off).
const FINAL_SEGMENT_WAIT: Duration = Duration::from_secs(2);
/// How often `record start` looks at the hold and the API while waiting.
const START_POLL: Duration = Duration::from_millis(100);
/// Longest time between two checks of a hold's session.
const HOLD_TICK_MAX: Duration = Duration::from_secs(1);
/// What `record start` waits beyond MediaMTX's start timeout and the
/// device lock wait (see [`start_deadline`]).
const START_MARGIN: Duration = Duration::from_secs(2);
/// How often a busy session lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// Session statuses.
const STARTING: &str = "starting";
const ACTIVE: &str = "active";
const ENDED: &str = "ended";
const FAILED: &str = "failed";

fn is_live(session: &Session) -> bool {
    session.status == STARTING || session.status == ACTIVE
}

/// The session's hold runs (none recorded yet: false).
fn hold_running(s: &Session) -> bool {
    s.hold_pid
        .is_some_and(|pid| is_hook(pid, s.hold_process.as_ref(), "hold"))
}

/// A `starting` session whose `record start` is gone: nothing will ever
/// finish or undo it. Without a recorded starter (an older state) it is
/// stale once the start's deadline has passed twice over.
pub fn starter_gone(s: &Session, at: OffsetDateTime, deadline: Duration) -> bool {
    if s.status != STARTING {
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
fn stop_budget(ctx: &Context) -> Duration {
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
    use std::io::{Seek, Write};
    let file_name = session_lock_file(ctx, path);
    let mut file = crate::camera::device_lock::open_lock_file(&file_name, true)
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
    // Who holds it, for the message above; the lock works without it.
    let me = std::env::args().nth(1).unwrap_or_default();
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "pid {} (hook {me})", std::process::id()));
    Ok(SessionLock { _file: file })
}

fn rtsp_port() -> anyhow::Result<u16> {
    mtx_env::validate_port(mtx_env::var("RTSP_PORT").as_deref(), "RTSP_PORT")
}

/// Entry point of `hook record start PATH [--duration D]`.
pub fn start(ctx: &Context, args: &RecordStartArgs) -> anyhow::Result<ExitCode> {
    let path = mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    let port = rtsp_port()?;
    if args.duration.is_some_and(|d| d.0.is_zero()) {
        return Err(usage(
            "--duration 0s: expected a positive duration (e.g. 90m), or no --duration to record until `hook record stop`",
        ));
    }
    let api = Api::from_env()?;
    // Ctrl-C (or SIGTERM) while waiting undoes the start like a timeout.
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in crate::supervise::signals::STOP_SIGNALS {
        signal_hook::flag::register(sig, interrupted.clone())
            .context("installing signal handlers")?;
    }
    // Under the path's session lock no other start, stop or hold hand-over
    // runs: a start waits for a stop to finish, and is refused at once
    // when another start is under way or a session is recording.
    let _lock = lock_session(ctx, &path, stop_budget(ctx), || {
        if interrupted.load(Ordering::SeqCst) {
            anyhow::bail!(
                "{path}: interrupted while waiting for another hook command on this path"
            );
        }
        refuse_if_taken(ctx, &path)
    })?;
    let recorded = ctx.store.read()?.paths.remove(&path).unwrap_or_default();
    let stopping = recorded.recording.hold.as_ref().is_some_and(|h| h.stopping);
    if let Some(old) = recorded.recording.session.filter(is_live) {
        if old.status == ACTIVE && hold_running(&old) && !stopping {
            return Err(already_recording(&path, &old));
        }
        // Under the lock a `starting` session has lost its `record start`,
        // and an active one whose hold is gone records nothing: end it.
        let why = stale_reason(&old);
        log::warn!("a stale recording session was left on {path}: {why}; ending it first");
        end_stale(ctx, None, &path, &old, &why);
    }
    let started_at = now();
    let starter = ProcessId::me();
    ctx.store.update_path(&path, |p| {
        p.recording.session = Some(Session {
            started_at,
            until: None,
            ended_at: None,
            status: STARTING.into(),
            end_reason: None,
            segments: 0,
            recorded_seconds: 0.0,
            gaps: 0,
            hold_pid: None,
            hold_process: None,
            starter_pid: Some(std::process::id()),
            starter_process: starter,
        });
        p.recording.hold = None;
        p.recording.active = false;
        Ok(())
    })?;
    let deadline_len = start_deadline(ctx);

    if let Err(e) = api.set_record(&path, true) {
        let why = format!("switching recording on: {e}");
        fail_start(ctx, &api, &path, None, &why, false);
        return Err(anyhow!(e).context(format!("starting a recording session on {path}")));
    }

    let mut hold = match spawn_hold(ctx, &path, port) {
        Ok(child) => child,
        Err(e) => {
            let why = format!("starting the hold: {e:#}");
            fail_start(ctx, &api, &path, None, &why, true);
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
        fail_start(ctx, &api, &path, Some(&hold_id), &why, true);
        let _ = hold.wait();
        return Err(e.context(format!("starting a recording session on {path}")));
    }
    log::info!(
        "recording session starting: hold pid {hold_pid} reads rtsp://127.0.0.1:{port}/{path}"
    );

    // The deadline counts from the moment the hold runs.
    let deadline = Instant::now() + deadline_len;
    match wait_until_recording(ctx, &api, &path, &mut hold, deadline, &interrupted) {
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
            fail_start(ctx, &api, &path, Some(&hold_id), &why, true);
            let _ = hold.wait();
            return Err(anyhow!(
                "{path}: {why}; recording switched off and the hold stopped"
            ));
        }
    }
    // A `--duration` counts from the moment recording really runs.
    let until = args.duration.map(|d| now() + d.0);
    ctx.store.update_path(&path, |p| {
        if let Some(s) = p.recording.session.as_mut() {
            s.status = ACTIVE.into();
            s.until = until;
        }
        p.recording.active = true;
        Ok(())
    })?;
    let ends = match until {
        Some(u) => format!("until {}", rfc3339(u)),
        None => "until `hook record stop`".to_string(),
    };
    log::info!("recording session started ({ends})");
    println!("{path}: recording {ends} (hold pid {hold_pid})");
    // The hold lives on: the Child is dropped without waiting; it is
    // re-parented when this process exits.
    Ok(ExitCode::SUCCESS)
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
            s.status = FAILED.into();
            s.ended_at = Some(now());
            s.end_reason = Some(why.to_string());
            p.recording.last_session = Some(s);
        }
        p.recording.active = false;
        p.recording.hold = None;
        p.last_error = Some(format!("recording session failed: {why}"));
        p.last_error_at = Some(now());
        Ok(())
    });
    if let Err(e) = failed {
        log::error!("could not record the failed session in the state: {e:#}");
    }
}

fn mark_stopping(ctx: &Context, path: &str) {
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
fn spawn_hold(ctx: &Context, path: &str, port: u16) -> anyhow::Result<std::process::Child> {
    let policy = serde_json::to_vec_pretty(&ctx.policy).context("serializing the policy")?;
    let log = ctx.store.create_hold_files(path, &policy)?;
    let policy_file = ctx.store.hold_policy_file(path);
    let exe = std::env::current_exe().context("finding the hook executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("hold")
        .arg(path)
        .env("HOOK_STATE_DIR", ctx.store.dir())
        .env("HOOK_CONFIG", &policy_file)
        .env("RTSP_PORT", port.to_string())
        .env("HOOK_LOG_STYLE", "never")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid(2) is async-signal-safe; it only detaches the child
    // from this process's session and terminal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().context("starting `hook hold`")
}

/// The error of a start on a path that records.
fn already_recording(path: &str, s: &Session) -> anyhow::Error {
    anyhow!(
        "{path} is already recording (session started {}, hold pid {}); `hook record stop {path}` ends it",
        rfc3339(s.started_at),
        s.hold_pid.unwrap_or(0)
    )
}

/// Asked by a start while the session lock is busy: refuses at once when
/// another start is under way or a session records; waits otherwise (a
/// stop or a hold ending its session finishes soon).
fn refuse_if_taken(ctx: &Context, path: &str) -> anyhow::Result<()> {
    let Ok(state) = ctx.store.read() else {
        return Ok(());
    };
    let Some(p) = state.paths.get(path) else {
        return Ok(());
    };
    let stopping = p.recording.hold.as_ref().is_some_and(|h| h.stopping);
    match p.recording.session.as_ref() {
        Some(s)
            if s.status == STARTING
                && s.starter_pid.is_some()
                && !starter_gone(s, now(), start_deadline(ctx)) =>
        {
            anyhow::bail!(
                "{path}: a start is in progress (`hook record start` pid {}, since {}); it returns once recording runs or is undone",
                s.starter_pid.unwrap_or(0),
                rfc3339(s.started_at)
            )
        }
        Some(s) if s.status == ACTIVE && hold_running(s) && !stopping => {
            Err(already_recording(path, s))
        }
        _ => Ok(()),
    }
}

/// Why a live session found under the session lock is stale.
fn stale_reason(s: &Session) -> String {
    if s.status == STARTING {
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
fn end_stale(
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
    if let Err(e) = finish_session(ctx, path, FAILED, why) {
        log::error!("could not record the stale session as failed: {e:#}");
    }
    switched.and_then(Result::err)
}

/// Entry point of `hook record stop PATH`.
pub fn stop(ctx: &Context, args: &PathArg) -> anyhow::Result<ExitCode> {
    let path = mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
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
/// nothing to stop (an API that could not be asked is then only logged).
pub fn end_session(
    ctx: &Context,
    api: &Api,
    path: &str,
    reason: &str,
) -> anyhow::Result<Option<String>> {
    match stop_recording(ctx, api, path, reason)? {
        Stopped::Ended(t) | Stopped::Cleaned(t) | Stopped::SwitchedOff(t) => Ok(Some(t)),
        Stopped::Nothing(None) => Ok(None),
        Stopped::Nothing(Some(e)) => {
            log::warn!("no recording session; could not check MediaMTX's record switch: {e}");
            Ok(None)
        }
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
    if session.status == STARTING {
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
    let ended = finish_session(ctx, path, ENDED, reason)?;
    let summary = ended.as_ref().map(summarize).unwrap_or_default();
    log::info!("recording session ended ({reason}): {summary}");
    match switched {
        Ok(()) => Ok(Stopped::Ended(summary)),
        Err(e) => Err(anyhow!(e).context(format!(
            "session ended ({summary}), but recording could not be switched off"
        ))),
    }
}

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
fn finish_session(
    ctx: &Context,
    path: &str,
    status: &str,
    reason: &str,
) -> anyhow::Result<Option<Session>> {
    ctx.store.update_path(path, |p| {
        let ended = p.recording.session.take().map(|mut s| {
            s.status = status.into();
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

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
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
    let held = match s.status.as_str() {
        // The start is still under way (its hold may not be recorded yet).
        STARTING => {
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
            api.set_record(path, true).map_err(|e| {
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

/// Entry point of `hook hold PATH` (started by `record start`).
pub fn hold(ctx: &Context, args: &HoldArgs) -> anyhow::Result<ExitCode> {
    let path = mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    let port = rtsp_port()?;
    let api = Api::from_env()?;
    let signals = Signals::install().context("installing signal handlers")?;
    let ffmpeg = std::env::var_os("HOOK_FFMPEG")
        .filter(|f| !f.is_empty())
        .map_or_else(|| PathBuf::from("ffmpeg"), PathBuf::from);
    let check_every = ctx.policy.recording.hold_check_interval.0;
    let mut job = Hold {
        ctx,
        path: path.clone(),
        port,
        api,
        ffmpeg,
        me: std::process::id(),
        check_every,
        next_api_check: Instant::now(),
        finish: None,
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
        match end_session_from_hold(ctx, &api, &path, job.me, &signals, status, &reason) {
            Ok(Some(summary)) => log::info!("recording session ended ({reason}): {summary}"),
            Ok(None) => log::info!("the session was ended by another hook command meanwhile"),
            Err(e) => log::error!("ending the recording session: {e:#}"),
        }
    }
    match outcome {
        Ok(o) => {
            let why = match o {
                supervise::Outcome::Signal(sig) => crate::supervise::process::signal_name(sig),
                supervise::Outcome::Finished => "finished",
                supervise::Outcome::Orphaned => "parent gone",
            };
            log::info!("hold stopped ({why})");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(anyhow!(e.message).context("holding the stream")),
    }
}

/// The end of a `--duration` session (or of one whose start died), done
/// by its hold once its reader is stopped, under the session lock: recording
/// off, last segment waited for, session ended. A session that is no longer
/// this hold's once the lock is taken (a stop or a start cleaned it up) is
/// left alone. A stop signal while waiting for the lock ends the wait.
fn end_session_from_hold(
    ctx: &Context,
    api: &Api,
    path: &str,
    me: u32,
    signals: &Signals,
    status: &str,
    reason: &str,
) -> anyhow::Result<Option<String>> {
    let stops = signals.stop_count();
    let _lock = lock_session(ctx, path, stop_budget(ctx), || {
        if signals.stop_count() > stops {
            anyhow::bail!("stopped while waiting for the session lock");
        }
        Ok(())
    })?;
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
    let before = segment_count(ctx, path);
    let switched = api.set_record(path, false);
    if switched.is_ok() {
        wait_for_final_segment(ctx, path, before);
    }
    let ended = finish_session(ctx, path, status, reason)?;
    let summary = ended.as_ref().map(summarize).unwrap_or_default();
    switched
        .map(|()| Some(summary.clone()))
        .map_err(|e| anyhow!(e).context(format!("{summary}; recording could not be switched off")))
}

/// The hold's job for the supervisor: an FFmpeg reader of the path.
struct Hold<'a> {
    ctx: &'a Context,
    path: String,
    port: u16,
    api: Api,
    ffmpeg: PathBuf,
    me: u32,
    check_every: Duration,
    next_api_check: Instant,
    /// Set when the hold itself ends the session: the status and why.
    finish: Option<(&'static str, String)>,
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
                match self.api.set_record(&self.path, true) {
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
        // RTSP credentials (HOOK_RTSP_USER/PASS): FFmpeg reads through the
        // credential relay; the native reader logs in itself with what it
        // inherits from the environment. Half-set ones are fatal.
        let fatal = crate::mediamtx::rtsp_relay::start_error;
        match self.ctx.policy.recording.hold_reader {
            HoldReader::Ffmpeg => Ok(Launch {
                program: self.ffmpeg.clone(),
                args: crate::ffmpeg::reader_args(
                    crate::mediamtx::rtsp_relay::ffmpeg_port(self.port).map_err(fatal)?,
                    &self.path,
                ),
            }),
            HoldReader::Native => {
                crate::mediamtx::rtsp_auth::Credentials::from_env().map_err(fatal)?;
                let exe = std::env::current_exe()
                    .map_err(|e| StartError::retry(format!("finding the hook executable: {e}")))?;
                Ok(Launch {
                    program: exe,
                    args: vec![
                        "rtsp-read".into(),
                        crate::ffmpeg::rtsp_url(self.port, &self.path).into(),
                    ],
                })
            }
        }
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
            Event::Exited { record, .. } => {
                let why = format!(
                    "reader ended ({}) after {:.1} s",
                    record.reason, record.ran_seconds
                );
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
        match verdict(state.paths.get(&self.path), self.me, now(), deadline) {
            Verdict::Leave => {
                log::info!("the recording session is over or no longer ours: stopping");
                false
            }
            Verdict::Finish => {
                self.finish = Some((ENDED, "duration elapsed".into()));
                log::info!("the session's duration elapsed: stopping");
                false
            }
            Verdict::Abandoned => {
                let why = "`hook record start` did not finish starting the session (killed?)";
                log::warn!("{why}: stopping");
                self.finish = Some((FAILED, why.into()));
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
    use time::macros::datetime;

    fn session(status: &str, hold: Option<u32>, until: Option<OffsetDateTime>) -> Session {
        Session {
            started_at: datetime!(2026-01-01 00:00:00 UTC),
            until,
            ended_at: None,
            status: status.into(),
            end_reason: None,
            segments: 2,
            recorded_seconds: 3600.25,
            gaps: 1,
            hold_pid: hold,
            hold_process: None,
            starter_pid: None,
            starter_process: None,
        }
    }

    fn path_with(s: Option<Session>) -> PathState {
        let mut p = PathState::default();
        p.recording.session = s;
        p
    }

    const ST: Duration = Duration::from_secs(10);

    #[test]
    fn hold_verdicts() {
        let t = datetime!(2026-01-01 00:10:00 UTC);
        let until = Some(datetime!(2026-01-01 00:05:00 UTC));
        assert_eq!(verdict(None, 7, t, ST), Verdict::Leave);
        assert_eq!(verdict(Some(&path_with(None)), 7, t, ST), Verdict::Leave);
        let mine = path_with(Some(session(ACTIVE, Some(7), None)));
        assert_eq!(verdict(Some(&mine), 7, t, ST), Verdict::Hold);
        assert_eq!(
            verdict(Some(&mine), 8, t, ST),
            Verdict::Leave,
            "another hold's session"
        );
        let starting = path_with(Some(session(STARTING, None, None)));
        let early_on = datetime!(2026-01-01 00:00:03 UTC);
        assert_eq!(verdict(Some(&starting), 7, early_on, ST), Verdict::Hold);
        let ended = path_with(Some(session(ENDED, Some(7), None)));
        assert_eq!(verdict(Some(&ended), 7, t, ST), Verdict::Leave);
        let timed = path_with(Some(session(ACTIVE, Some(7), until)));
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
        let mut stuck = path_with(Some(session(STARTING, Some(7), None)));
        assert_eq!(verdict(Some(&stuck), 7, t, ST), Verdict::Abandoned);
        let soon = datetime!(2026-01-01 00:00:15 UTC);
        assert_eq!(verdict(Some(&stuck), 7, soon, ST), Verdict::Hold);
        stuck.recording.session.as_mut().unwrap().status = ACTIVE.into();
        assert_eq!(verdict(Some(&stuck), 7, t, ST), Verdict::Hold);
        // A recorded starter decides at once: running, the start goes on;
        // gone (or its pid reused), the session is abandoned.
        let mut starting = path_with(Some(session(STARTING, Some(7), None)));
        let s = starting.recording.session.as_mut().unwrap();
        s.starter_pid = Some(std::process::id());
        s.starter_process = ProcessId::me();
        assert_eq!(verdict(Some(&starting), 7, t, ST), Verdict::Hold);
        let s = starting.recording.session.as_mut().unwrap();
        s.starter_process.as_mut().unwrap().start_ticks += 1;
        assert_eq!(verdict(Some(&starting), 7, soon, ST), Verdict::Abandoned);
    }

    #[test]
    fn session_lock_names_keep_inside_their_directory() {
        use crate::state::files::name_stem;
        assert_eq!(name_stem("cam0"), "cam0");
        assert_eq!(name_stem("a/b"), "a%2Fb");
        assert_eq!(name_stem("a%2Fb"), "a%252Fb");
        assert_ne!(name_stem("a/b"), name_stem("a%2Fb"));
    }

    #[test]
    fn summaries() {
        let mut s = session(ENDED, None, None);
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
