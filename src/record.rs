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
//! within the start timeout. Stopping (by `record stop`, `hook stop` or the
//! hold at the end of `--duration`) always goes: hold marked stopping, hold
//! gone, recording off, a moment for MediaMTX's last segment to be counted,
//! session ended; so nothing switches recording back on behind the stop.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use time::OffsetDateTime;

use crate::api::{Api, ApiError};
use crate::cli::{Context, HoldArgs, PathArg, RecordStartArgs};
use crate::error::usage;
use crate::mtx_env;
use crate::policy::HoldReader;
use crate::signals::Signals;
use crate::state::{now, HoldState, PathState, Session};
use crate::stop::{is_hook_process, stop_hold};
use crate::supervisor::{self, Event, Job, Launch, Spec, StartError};

/// How long a stop waits for MediaMTX's last segment of the session to be
/// reported (`runOnRecordSegmentComplete` fires right after `record` goes off).
const FINAL_SEGMENT_WAIT: Duration = Duration::from_secs(2);
/// How often `record start` looks at the hold and the API while waiting.
const START_POLL: Duration = Duration::from_millis(100);
/// Longest time between two checks of a hold's session.
const HOLD_TICK_MAX: Duration = Duration::from_secs(1);

/// Session statuses.
const STARTING: &str = "starting";
const ACTIVE: &str = "active";
const ENDED: &str = "ended";
const FAILED: &str = "failed";

fn is_live(session: &Session) -> bool {
    session.status == STARTING || session.status == ACTIVE
}

/// Where holds keep their log and the policy they run with.
fn holds_dir(ctx: &Context) -> PathBuf {
    ctx.store.dir().join("holds")
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
    for sig in crate::signals::STOP_SIGNALS {
        signal_hook::flag::register(sig, interrupted.clone())
            .context("installing signal handlers")?;
    }
    let start_timeout = ctx.policy.viewing.start_timeout.0;
    let deadline = Instant::now() + start_timeout;
    let started_at = now();

    ctx.store.update_path(&path, |p| {
        if let Some(old) = &p.recording.session {
            if is_live(old) && old.hold_pid.is_some_and(|pid| is_hook_process(pid, "hold")) {
                return Err(anyhow!(
                    "{path} is already recording (session started {}, hold pid {}); `hook record stop {path}` ends it",
                    rfc3339(old.started_at),
                    old.hold_pid.unwrap_or(0)
                ));
            }
            // A session whose hold is gone (killed, machine restarted).
            let mut stale = old.clone();
            if is_live(&stale) {
                stale.status = FAILED.into();
                stale.ended_at = Some(started_at);
                stale.end_reason = Some("its hold was no longer running".into());
            }
            p.recording.last_session = Some(stale);
        }
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
        });
        p.recording.hold = None;
        p.recording.active = false;
        Ok(())
    })?;

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
    let recorded = ctx.store.update_path(&path, |p| {
        if let Some(s) = p.recording.session.as_mut() {
            s.hold_pid = Some(hold_pid);
        }
        // The hold may already have reported (it starts at once): keep that.
        p.recording.hold.get_or_insert_with(HoldState::default).pid = Some(hold_pid);
        Ok(())
    });
    if let Err(e) = recorded {
        let why = format!("recording the hold in the state: {e:#}");
        fail_start(ctx, &api, &path, Some(hold_pid), &why, true);
        let _ = hold.wait();
        return Err(e.context(format!("starting a recording session on {path}")));
    }
    log::info!(
        "recording session starting: hold pid {hold_pid} reads rtsp://127.0.0.1:{port}/{path}"
    );

    match wait_until_recording(ctx, &api, &path, &mut hold, deadline, &interrupted) {
        Ok(()) => {}
        Err(why) => {
            let why = if interrupted.load(Ordering::SeqCst) {
                format!("interrupted while starting: {why}")
            } else {
                format!(
                    "not recording within the start timeout ({}): {why}",
                    ctx.policy.viewing.start_timeout
                )
            };
            fail_start(ctx, &api, &path, Some(hold_pid), &why, true);
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
                holds_dir(ctx).join(format!("{path}.log")).display()
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
    hold_pid: Option<u32>,
    why: &str,
    switch_off: bool,
) {
    // The error itself is printed once, by the caller's exit path.
    log::info!("undoing the recording start: hold stopped, recording off, session marked failed");
    mark_stopping(ctx, path);
    if let Some(pid) = hold_pid {
        stop_hold(pid, ctx.policy.restart.grace.0);
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
/// terminal's SIGHUP reaches it), stdin from /dev/null, output to
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

/// Entry point of `hook record stop PATH`.
pub fn stop(ctx: &Context, args: &PathArg) -> anyhow::Result<ExitCode> {
    let path = mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    let api = Api::from_env()?;
    match end_session(ctx, &api, &path, "stopped with hook record stop")? {
        Some(summary) => {
            println!("{path}: {summary}");
            Ok(ExitCode::SUCCESS)
        }
        None => Err(anyhow!(
            "{path} has no recording session to stop (`hook status {path}` shows its last one)"
        )),
    }
}

/// Ends the live session on `path`, if any: hold stopped, recording off,
/// MediaMTX's last segment waited for, session ended with `reason`. Returns
/// a one-line summary. An API failure is reported after the session is ended
/// (the hold is gone either way).
pub fn end_session(
    ctx: &Context,
    api: &Api,
    path: &str,
    reason: &str,
) -> anyhow::Result<Option<String>> {
    let state = ctx.store.read()?;
    let Some(session) = state
        .paths
        .get(path)
        .and_then(|p| p.recording.session.clone())
        .filter(is_live)
    else {
        return Ok(None);
    };
    mark_stopping(ctx, path);
    if let Some(pid) = session.hold_pid {
        if !stop_hold(pid, ctx.policy.restart.grace.0) {
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
        Ok(()) => Ok(Some(summary)),
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
/// is live on `path`, switch recording on (a restarted MediaMTX forgot it).
/// True when it did.
pub fn reapply_on_ready(ctx: &Context, path: &str) -> anyhow::Result<bool> {
    let state = ctx.store.read()?;
    let Some(p) = state.paths.get(path) else {
        return Ok(false);
    };
    let live = p.recording.session.as_ref().is_some_and(is_live);
    let stopping = p.recording.hold.as_ref().is_some_and(|h| h.stopping);
    if !live || stopping {
        return Ok(false);
    }
    Api::from_env()?
        .set_record(path, true)
        .map_err(|e| anyhow!(e).context("switching recording back on for the active session"))?;
    log::info!("stream available again: recording switched back on for the active session");
    Ok(true)
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
    let outcome = supervisor::supervise(&mut job, &spec, &signals);
    if let Some((status, reason)) = job.finish.take() {
        // The session ran its course (or was abandoned): this hold ends it.
        let api = job.api.clone();
        match end_session_from_hold(ctx, &api, &path, status, &reason) {
            Ok(summary) => log::info!("recording session ended ({reason}): {summary}"),
            Err(e) => log::error!("ending the recording session: {e:#}"),
        }
    }
    match outcome {
        Ok(o) => {
            let why = match o {
                supervisor::Outcome::Signal(sig) => crate::process::signal_name(sig),
                supervisor::Outcome::Finished => "finished",
                supervisor::Outcome::Orphaned => "parent gone",
            };
            log::info!("hold stopped ({why})");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(anyhow!(e.message).context("holding the stream")),
    }
}

/// The end of a `--duration` session, done by its hold once its reader is
/// stopped: recording off, last segment waited for, session ended.
fn end_session_from_hold(
    ctx: &Context,
    api: &Api,
    path: &str,
    status: &str,
    reason: &str,
) -> anyhow::Result<String> {
    mark_stopping(ctx, path);
    let before = segment_count(ctx, path);
    let switched = api.set_record(path, false);
    if switched.is_ok() {
        wait_for_final_segment(ctx, path, before);
    }
    let ended = finish_session(ctx, path, status, reason)?;
    let summary = ended.as_ref().map(summarize).unwrap_or_default();
    switched
        .map(|()| summary.clone())
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

fn verdict(p: Option<&PathState>, me: u32, at: OffsetDateTime, start_timeout: Duration) -> Verdict {
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
    if s.status == STARTING && at - s.started_at > start_timeout * 2 {
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
                h.pid = Some(me);
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
        match self.ctx.policy.recording.hold_reader {
            HoldReader::Ffmpeg => Ok(Launch {
                program: self.ffmpeg.clone(),
                args: crate::ffmpeg::reader_args(self.port, &self.path),
            }),
            HoldReader::Native => {
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
        let start_timeout = self.ctx.policy.viewing.start_timeout.0;
        match verdict(state.paths.get(&self.path), self.me, now(), start_timeout) {
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
