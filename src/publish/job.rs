//! The publisher's job: what the supervisor runs for `hook run` (FFmpeg
//! publishing the device, with the live still when asked for) and how each
//! event it reports is written to the path's entry. Domain layer.

use std::path::PathBuf;
use std::time::Instant;

use time::OffsetDateTime;

use crate::camera::capture::{self, CaptureRequest};
use crate::camera::device_error::DeviceError;
use crate::camera::holders::Holder;
use crate::context::Context;
use crate::error::is_usage;
use crate::ffmpeg::Chroma;
use crate::recording::revive::Keeper;
use crate::state::identity::ProcessId;
use crate::state::{Failure, Phase, StillRecord};
use crate::supervise::{self, Event, FatalKind, Job, Launch, StartError};

/// The publisher job: the device's FFmpeg, reporting into the state.
pub(super) struct Publisher<'a> {
    pub(super) ctx: &'a Context,
    pub(super) flags: &'a CaptureRequest,
    pub(super) path: String,
    pub(super) port: u16,
    pub(super) device: String,
    pub(super) me: u32,
    pub(super) write_failed: bool,
    /// An attempt's error, written with the event that follows it.
    pub(super) pending_error: Option<String>,
    /// Its cause, written with it.
    pub(super) pending_failure: Option<Failure>,
    /// The cause the last exit of FFmpeg showed (its stderr, the node).
    pub(super) exit_failure: Option<Failure>,
    /// Who held the camera when it was last found busy.
    pub(super) busy_holders: Vec<Holder>,
    /// The last failure was a busy camera with no holder to be seen.
    pub(super) busy_unseen: bool,
    /// Whether this instance has claimed the path's entry yet. The claim
    /// goes with the first event (normally FFmpeg started), so no state
    /// write (with its fsyncs) delays the first start.
    pub(super) claimed: bool,
    /// When this instance started: MediaMTX's demand.
    pub(super) demand_at: OffsetDateTime,
    /// The entry's owner before this instance claimed it, as it was then.
    pub(super) previous: Option<crate::state::Publisher>,
    /// Whether this instance has started FFmpeg at least once.
    pub(super) spawned: bool,
    /// The live still asked for (`stills.every` / `--still-every`).
    pub(super) still: Option<crate::ffmpeg::Still>,
    /// Whether the current attempt writes the still.
    pub(super) still_on: bool,
    /// The stills directory could not be made (said once per run of failures).
    pub(super) still_failed: bool,
    /// Stills are left out of the attempts started before this instant: an
    /// attempt with the still ended on a write error (a full disk), and
    /// FFmpeg ends every output when one fails, so the stream goes first.
    pub(super) still_paused_until: Option<Instant>,
    /// Brings the path's recording hold back when it dies.
    pub(super) keeper: Keeper,
    /// The path's restarts before this instance (the count goes on).
    pub(super) restarts_base: u64,
}

impl<'a> Publisher<'a> {
    /// A publisher that has not claimed the path's entry yet.
    pub(super) fn new(
        ctx: &'a Context,
        flags: &'a CaptureRequest,
        path: String,
        port: u16,
        device: String,
        still: Option<crate::ffmpeg::Still>,
        demand_at: OffsetDateTime,
    ) -> Publisher<'a> {
        Publisher {
            ctx,
            flags,
            path,
            port,
            device,
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
            keeper: Keeper::default(),
            restarts_base: 0,
        }
    }
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
                    p.publisher.last_exit = Some(exit.record());
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
    use super::*;

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
}
