//! `hook run`: publish a camera for MediaMTX and supervise FFmpeg.
//!
//! MediaMTX runs this from `runOnDemand` with `MTX_PATH`, `RTSP_PORT` and, for
//! regex paths, `G1`. The device is `--device`, else `/dev/video$G1`, else the
//! number at the end of the path name. Each start attempt re-checks the device
//! (`capture::prepare`), builds FFmpeg's command line (`ffmpeg`) and hands it
//! to the supervisor (`supervise`), which restarts it with backoff and stops
//! it on SIGINT. What happens is written to the path's entry in the state,
//! on transitions only; a state that cannot be written is logged and the
//! stream goes on.
//!
//! With `stills.every` / `--still-every`, FFmpeg also writes a JPEG of the
//! live picture at that interval to the stills directory (made before each
//! start; when it cannot be, the stream starts without the still and says
//! why), and the path's entry names the file.
//!
//! Several instances for one path may overlap (MediaMTX starts a new one
//! while the old one is still stopping). Each instance claims the entry by
//! writing its pid as `supervisor_pid` when it starts and writes nothing once
//! a newer instance has claimed it, so the old one never clobbers the new
//! one's state. An instance that stops without ever having started FFmpeg
//! (it was still waiting for the device) hands the entry back to the
//! instance it took it from, if that one still runs.

mod failure;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use time::OffsetDateTime;

use crate::camera::capture::CaptureRequest;
use crate::camera::capture::{self, TEST_PATTERN};
use crate::camera::device_error::DeviceError;
use crate::camera::holders::Holder;
use crate::cli::{RunArgs, StillEvery};
use crate::commands::Context;
use crate::error::{is_usage, usage};
use crate::ffmpeg::Chroma;
use crate::mediamtx::env as mtx_env;
use crate::state::identity::{is_running, ProcessId};
use crate::state::ExitRecord;
use crate::state::{now, Failure, PathState, Phase, StillRecord};
use crate::supervise::signals::Signals;
use crate::supervise::{self, ChildExit, Event, FatalKind, Job, Launch, Spec, StartError};

/// Entry point of `hook run`.
pub fn main(ctx: &Context, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let demand_at = now();
    let path = mtx_env::validate_path_name(mtx_env::var("MTX_PATH").as_deref(), "MTX_PATH")?;
    crate::logging::set_path(&path);
    let port = mtx_env::validate_port(mtx_env::var("RTSP_PORT").as_deref(), "RTSP_PORT")?;
    let device = resolve_device(
        args.device.device.as_deref(),
        mtx_env::var("G1").as_deref(),
        &path,
    )?;
    // Bad flags are refused before anything starts (exit 2); for the test
    // pattern the whole choice is pure, so its conflicts are found here too.
    let request = ctx.capture_request(args.device.capture_request())?;
    if device == TEST_PATTERN {
        capture::prepare(&device, &request)?;
    }
    // HOOK_RTSP_USER without HOOK_RTSP_PASS (or the reverse) is refused now.
    crate::mediamtx::rtsp_auth::Credentials::from_env()?;
    let signals = Signals::install().context("installing signal handlers")?;
    let every = match args.still_every {
        Some(StillEvery::Off) => None,
        Some(StillEvery::Every(d)) => Some(d.0),
        None => ctx.policy.stills.every.map(|d| d.0),
    };
    let still = every.map(|every| crate::ffmpeg::Still {
        file: ctx.store.still_file(&ctx.policy.stills.dir, &path),
        every,
    });

    let mut job = Publisher {
        ctx,
        flags: &request,
        path: path.clone(),
        port,
        device: device.clone(),
        me: std::process::id(),
        write_failed: false,
        pending_error: None,
        pending_failure: None,
        exit_failure: None,
        busy_holders: Vec::new(),
        busy_unseen: false,
        claimed: false,
        demand_at,
        previous: None,
        spawned: false,
        still,
        still_on: false,
        still_failed: false,
        still_paused_until: None,
        keeper: crate::recording::revive::Keeper::default(),
        restarts_base: 0,
    };
    log::info!(
        "publishing {device} to rtsp://127.0.0.1:{port}/{path} with {}",
        args.device.ffmpeg.display()
    );

    let spec = Spec {
        rtsp_port: Some(port),
        subreaper: true,
        stop_when_orphaned: true,
        // A look at the path's recording session (its hold alive?).
        tick_every: Some(crate::recording::revive::KEEPER_EVERY),
        ..Spec::new(ctx.policy.restart.clone())
    };
    match supervise::supervise(&mut job, &spec, &signals) {
        Ok(outcome) => {
            let why = match outcome {
                supervise::Outcome::Signal(sig) => crate::process::signal_name(sig),
                supervise::Outcome::Finished => "finished",
                supervise::Outcome::Orphaned => "parent gone",
            };
            log::info!("stopped cleanly ({why}); exiting 0");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if job.pending_error.is_none() {
                job.pending_error = Some(e.message.clone());
            }
            // An instance that never ran leaves a running owner's entry
            // as it was; its error is in its log and exit status.
            if !job.give_back() {
                job.write_failed_attempt(|p| p.publisher.fail());
            }
            match e.kind {
                supervise::StartErrorKind::Fatal(FatalKind::Usage) => Err(usage(e.message)),
                _ => Err(anyhow::anyhow!(e.message)),
            }
        }
    }
}

/// The device to publish: the flag, else `/dev/video$G1`, else the number
/// at the end of the path name. An empty `G1` (an optional regex group that
/// matched nothing) counts as absent.
pub fn resolve_device(
    flag: Option<&str>,
    g1: Option<&OsStr>,
    path: &str,
) -> anyhow::Result<String> {
    if let Some(device) = flag {
        if device.is_empty() {
            return Err(usage(
                "--device is empty: expected /dev/videoN, a /dev/v4l/by-id/… link, or testsrc",
            ));
        }
        return Ok(device.to_string());
    }
    if let Some(g1) = g1.filter(|g| !g.is_empty()) {
        let n = mtx_env::validate_device_number(g1, "G1")?;
        return Ok(format!("/dev/video{n}"));
    }
    if let Some(n) = mtx_env::trailing_number(path) {
        return Ok(format!("/dev/video{n}"));
    }
    Err(usage(format!(
        "no device for path {path:?}: give --device (/dev/videoN, a by-id link, or {TEST_PATTERN}), \
         use a regex path whose group G1 is the device number, or end the path name with it (camera0)"
    )))
}

/// The publisher job: the device's FFmpeg, reporting into the state.
struct Publisher<'a> {
    ctx: &'a Context,
    flags: &'a CaptureRequest,
    path: String,
    port: u16,
    device: String,
    me: u32,
    write_failed: bool,
    /// An attempt's error, written with the event that follows it.
    pending_error: Option<String>,
    /// Its cause, written with it.
    pending_failure: Option<Failure>,
    /// The cause the last exit of FFmpeg showed (its stderr, the node).
    exit_failure: Option<Failure>,
    /// Who held the camera when it was last found busy.
    busy_holders: Vec<Holder>,
    /// The last failure was a busy camera with no holder to be seen.
    busy_unseen: bool,
    /// Whether this instance has claimed the path's entry yet. The claim
    /// goes with the first event (normally FFmpeg started), so no state
    /// write (with its fsyncs) delays the first start.
    claimed: bool,
    /// When this instance started: MediaMTX's demand.
    demand_at: OffsetDateTime,
    /// The entry's owner before this instance claimed it, as it was then.
    previous: Option<crate::state::Publisher>,
    /// Whether this instance has started FFmpeg at least once.
    spawned: bool,
    /// The live still asked for (`stills.every` / `--still-every`).
    still: Option<crate::ffmpeg::Still>,
    /// Whether the current attempt writes the still.
    still_on: bool,
    /// The stills directory could not be made (said once per run of failures).
    still_failed: bool,
    /// Stills are left out of the attempts started before this instant: an
    /// attempt with the still ended on a write error (a full disk), and
    /// FFmpeg ends every output when one fails, so the stream goes first.
    still_paused_until: Option<Instant>,
    /// Brings the path's recording hold back when it dies.
    keeper: crate::recording::revive::Keeper,
    /// The path's restarts before this instance (the count goes on).
    restarts_base: u64,
}

/// True when FFmpeg's last words say an output could not be written (the
/// still's JPEG on a full disk ends the whole FFmpeg, stream included).
fn still_write_failed(stderr_tail: &[String], still: &crate::ffmpeg::Still) -> bool {
    let file = still.file.to_string_lossy();
    stderr_tail.iter().any(|l| {
        l.contains("No space left on device")
            || l.contains("Disk quota exceeded")
            || l.contains("av_interleaved_write_frame")
            || l.contains(file.as_ref())
    })
}

impl Publisher<'_> {
    /// Applies `change` to the entry while this instance owns it. The first
    /// write claims the entry: this instance becomes its `supervisor_pid`.
    fn write(&mut self, change: impl FnOnce(&mut PathState)) {
        let (me, path, demand_at) = (self.me, self.path.as_str(), self.demand_at);
        let claim = (!self.claimed).then(|| self.device.clone());
        let me_process = if self.claimed { None } else { ProcessId::me() };
        // update_path touches only this path's entry (others are copied
        // through), so many cameras in one state stay cheap.
        let result = self.ctx.store.update_path(path, |p| {
            let mut previous = None;
            let mut base = None;
            if let Some(device) = claim {
                // The path's count goes on across instances (MediaMTX
                // starts a new `hook run` for each demand): a counter.
                base = Some(p.publisher.restarts);
                previous = p
                    .publisher
                    .supervisor_pid
                    .filter(|&pid| pid != me)
                    .map(|_| p.publisher.clone());
                p.publisher.claim(device, me, me_process, demand_at);
            }
            // A newer instance owns the entry: leave it alone.
            if p.publisher.supervisor_pid == Some(me) {
                change(p);
            }
            if let Some(base) = base {
                p.publisher.restarts = p.publisher.restarts.saturating_add(base);
            }
            Ok((previous, base))
        });
        let result = result.map(|(previous, base)| {
            if !self.claimed {
                self.claimed = true;
                self.previous = previous;
                self.restarts_base = base.unwrap_or(0);
            }
        });
        self.note_write(result);
    }

    /// When this instance never started FFmpeg and the instance it took the
    /// entry from still runs, gives the entry back as it was, that owner's
    /// error included (a waiting instance's "device busy" is not the
    /// owner's), and returns true.
    fn give_back(&mut self) -> bool {
        let spawned = self.spawned;
        let Some(prev) = self.previous.take().filter(|prev| {
            !spawned
                && prev
                    .supervisor_pid
                    .is_some_and(|pid| is_running(pid, prev.supervisor_process.as_ref()))
        }) else {
            return false;
        };
        self.write(|p| p.publisher.give_back(prev));
        true
    }

    /// A failed state write is logged once per run of failures and otherwise
    /// ignored: the stream matters more than the record of it.
    fn note_write(&mut self, result: anyhow::Result<()>) {
        match result {
            Ok(()) => self.write_failed = false,
            Err(e) if !self.write_failed => {
                self.write_failed = true;
                log::warn!("cannot record state (streaming goes on): {e:#}");
            }
            Err(e) => log::debug!("cannot record state: {e:#}"),
        }
    }
}

/// The state's record of a child's end (the hold's reader's too).
pub(super) fn exit_record(exit: &ChildExit) -> ExitRecord {
    ExitRecord {
        at: exit.at,
        code: exit.status.code(),
        signal: exit.status.signal(),
        ran_seconds: (exit.ran.as_secs_f64() * 1000.0).round() / 1000.0,
        reason: exit.reason,
    }
}

impl Publisher<'_> {
    /// The still for the attempt being started: its directory is made (or
    /// checked) first; when that fails the stream starts without it.
    fn still_for_this_attempt(&mut self) -> Option<&crate::ffmpeg::Still> {
        self.still_on = false;
        let still = self.still.as_ref()?;
        if self.still_paused_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        match self
            .ctx
            .store
            .create_stills_dir(&self.ctx.policy.stills.dir)
        {
            Ok(_) => {
                self.still_failed = false;
                self.still_on = true;
                Some(still)
            }
            Err(e) => {
                if !self.still_failed {
                    log::warn!("publishing without the live still: {e:#}");
                }
                self.still_failed = true;
                None
            }
        }
    }

    /// What the state says of the still of the attempt just started.
    fn still_record(&self) -> Option<StillRecord> {
        let still = self.still.as_ref().filter(|_| self.still_on)?;
        Some(StillRecord {
            file: still.file.display().to_string(),
            every_ms: Some(still.every.as_millis() as u64),
            at: None,
            bytes: None,
        })
    }
}

/// How an encoded MJPEG camera's picture becomes 4:2:0: through `zscale`
/// where this FFmpeg has it (asked once per binary, cached in the state
/// directory), else libswscale. Nothing is asked for other inputs.
fn chroma_for(input: &capture::CaptureInput, flags: &capture::CaptureRequest) -> Chroma {
    let encoded_mjpeg = input.encoder != capture::EncoderChoice::Copy
        && input.input_format.as_deref() == Some("mjpeg");
    if encoded_mjpeg
        && crate::camera::filter_probe::has_zscale_cached(&flags.ffmpeg, flags.cache_dir.as_deref())
    {
        Chroma::Zscale
    } else {
        Chroma::Swscale
    }
}

impl Job for Publisher<'_> {
    fn name(&self) -> &str {
        "ffmpeg"
    }

    fn wait_instead(&mut self) -> Option<Box<dyn supervise::Wait>> {
        self.device_wait()
            .map(|w| Box::new(w) as Box<dyn supervise::Wait>)
    }

    fn tick(&mut self) -> bool {
        self.keeper.check(self.ctx, &self.path, self.port);
        true
    }

    fn lock_file(&mut self) -> Option<PathBuf> {
        Some(crate::camera::device_lock::lock_file_for(
            &self.ctx.store.locks_dir(),
            &self.device,
            &self.path,
        ))
    }

    fn command(&mut self) -> Result<Launch, StartError> {
        // With RTSP credentials FFmpeg publishes through the credential relay.
        let port = crate::mediamtx::rtsp_relay::ffmpeg_port(self.port)
            .map_err(crate::mediamtx::rtsp_relay::start_error)?;
        match capture::prepare(&self.device, self.flags) {
            Ok(input) => {
                self.pending_failure = None;
                let still = self.still_for_this_attempt().cloned();
                let chroma = chroma_for(&input, self.flags);
                Ok(Launch::tool(
                    self.flags.ffmpeg.clone(),
                    crate::ffmpeg::publish_args(&input, port, &self.path, still.as_ref(), chroma),
                ))
            }
            Err(e) if is_usage(&e) => Err(StartError::fatal(format!("{e:#}"), FatalKind::Usage)),
            Err(e) => {
                self.pending_failure = DeviceError::find(&e).map(|d| self.device_failure(d));
                Err(StartError::device(format!("{e:#}")))
            }
        }
    }

    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::WaitingForLock { .. } => {
                self.write(|p| p.publisher.phase = Phase::WaitingForDevice)
            }
            Event::Started {
                pid, at, restarts, ..
            } => {
                self.spawned = true;
                let still = self.still_record();
                let base = self.restarts_base;
                self.write(|p| {
                    if still.is_some() {
                        p.still = still;
                    }
                    p.publisher.phase = Phase::Starting;
                    p.publisher.child_pid = Some(pid);
                    p.publisher.child_process = ProcessId::of(pid);
                    p.publisher.child_started_at = Some(at);
                    p.publisher.restarts = base.saturating_add(restarts);
                    p.publisher.next_attempt_at = None;
                })
            }
            Event::Running { .. } => self.write_running(),
            Event::Exited {
                exit, stderr_tail, ..
            } => {
                self.exit_failure = self.exit_cause(exit, stderr_tail);
                if let Some(still) = self.still.as_ref().filter(|_| self.still_on) {
                    if still_write_failed(stderr_tail, still) {
                        let pause = self.ctx.policy.restart.stable_after.0;
                        log::warn!(
                            "FFmpeg could not write (the live still {}, a full disk?): the stream restarts without the still for {}",
                            still.file.display(),
                            crate::policy::duration::Dur(pause)
                        );
                        self.still_paused_until = Some(Instant::now() + pause);
                    }
                }
                self.write(|p| {
                    p.publisher.child_pid = None;
                    p.publisher.child_process = None;
                    p.publisher.child_started_at = None;
                    p.publisher.last_exit = Some(exit_record(exit));
                    p.publisher.stderr_tail = stderr_tail.to_vec();
                })
            }
            // The error is written together with what follows it (the
            // wait, or the failure): see `write_failed_attempt`.
            Event::Error {
                message, origin, ..
            } => {
                self.pending_error = Some(message.to_string());
                let failure = self.failure_of(origin, message);
                self.pending_failure = failure;
            }
            Event::AwaitingDevice => self.write_failed_attempt(|p| {
                p.publisher.phase = Phase::WaitingForDevice;
                p.publisher.next_attempt_at = None;
            }),
            Event::Backoff {
                until,
                restarts,
                device,
                ..
            } => {
                let base = self.restarts_base;
                self.write_failed_attempt(|p| {
                    p.publisher.phase = if device {
                        Phase::WaitingForDevice
                    } else {
                        Phase::Backoff
                    };
                    p.publisher.next_attempt_at = Some(until);
                    p.publisher.restarts = base.saturating_add(restarts);
                })
            }
            Event::Stopping { .. } => self.write(|p| p.publisher.phase = Phase::Stopping),
            Event::Stopped => {
                if !self.give_back() {
                    self.write(|p| p.publisher.stop())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_still_that_cannot_be_written_is_recognised() {
        let still = crate::ffmpeg::Still {
            file: PathBuf::from("/var/lib/mediamtx-hook/stills/cam0.jpg"),
            every: std::time::Duration::from_secs(10),
        };
        let said = |l: &str| still_write_failed(&[l.to_string()], &still);
        assert!(said(
            "av_interleaved_write_frame(): No space left on device"
        ));
        assert!(said(
            "[image2 @ 0x55] Could not open file : /var/lib/mediamtx-hook/stills/cam0.jpg.tmp"
        ));
        assert!(said("Error writing trailer: Disk quota exceeded"));
        assert!(!said("[rtsp @ 0x55] Connection refused"));
        assert!(!still_write_failed(&[], &still));
    }

    use super::*;

    #[test]
    fn device_comes_from_the_flag_then_g1_then_the_path_name() {
        let g = |s: &'static str| Some(OsStr::new(s));
        assert_eq!(
            resolve_device(Some("testsrc"), g("3"), "camera0").unwrap(),
            "testsrc"
        );
        assert_eq!(
            resolve_device(None, g("3"), "camera0").unwrap(),
            "/dev/video3"
        );
        assert_eq!(
            resolve_device(None, None, "camera12").unwrap(),
            "/dev/video12"
        );
        assert_eq!(
            resolve_device(None, g(""), "camera1").unwrap(),
            "/dev/video1"
        );
        let err = resolve_device(None, g("x1"), "camera0").unwrap_err();
        assert!(is_usage(&err) && err.to_string().contains("G1"), "{err}");
        let err = resolve_device(None, None, "garage").unwrap_err();
        assert!(
            is_usage(&err) && err.to_string().contains("--device"),
            "{err}"
        );
        assert!(resolve_device(Some(""), None, "camera0").is_err());
    }
}
