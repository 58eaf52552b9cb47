//! Why the publisher failed, and what to wait for instead of the backoff:
//! a failed attempt's cause (the device's error, FFmpeg's last words, where
//! the supervisor saw it fail), how it is written to the state (with the
//! outage it makes while a session records), and the camera's wait.

use std::time::Instant;

use super::job::Publisher;
use crate::camera::capture::TEST_PATTERN;
use crate::camera::device_error::DeviceError;
use crate::camera::holders;
use crate::camera::watch::{self, DeviceWait};
use crate::state::{now, outage, Cause, Failure, PathState, Phase};
use crate::supervise::{self, ChildExit, ErrorOrigin, ExitReason};

impl Publisher<'_> {
    /// A wait for the camera instead of the backoff: until it is there
    /// again (unplugged, missing), or until its holder lets go (busy).
    pub(super) fn device_wait(&mut self) -> Option<DeviceWait> {
        if self.device == TEST_PATTERN {
            return None;
        }
        let device = std::path::Path::new(&self.device);
        let unseen_before = std::mem::take(&mut self.busy_unseen);
        match self.pending_failure.as_ref()?.cause {
            Cause::Unplugged | Cause::CameraMissing => DeviceWait::present(device),
            Cause::Busy => {
                let holders = std::mem::take(&mut self.busy_holders);
                // Busy, yet nobody holds it: it was let go in between. One
                // quick look again, once; after that the backoff.
                let moment = holders.is_empty() && !unseen_before;
                self.busy_unseen = holders.is_empty();
                DeviceWait::released(device, holders)
                    .or_else(|| moment.then(|| DeviceWait::moment(device)))
            }
            _ => None,
        }
    }

    /// The cause of a device error, with who holds a busy camera, and
    /// "unplugged" for a camera this instance has streamed from.
    pub(super) fn device_failure(&mut self, e: &DeviceError) -> Failure {
        let failure = e.failure();
        match failure.cause {
            Cause::Busy => self.busy(failure.detail),
            Cause::CameraMissing if self.spawned => Failure::new(Cause::Unplugged, failure.detail),
            _ => failure,
        }
    }

    /// What follows a failed attempt (the wait), written with the attempt's
    /// error and cause, so no reader sees one without the other.
    pub(super) fn write_failed_attempt(&mut self, then: impl FnOnce(&mut PathState)) {
        let error = self.pending_error.take();
        let failure = self.pending_failure.clone();
        self.write(|p| {
            if let Some(error) = error {
                p.publisher.last_error = Some(error);
                p.publisher.last_error_at = Some(now());
            }
            if let Some(f) = failure {
                let f = still_unplugged(f, p.publisher.failure.as_ref())
                    .after(p.publisher.failure.as_ref());
                // While a session records, the camera's trouble is an
                // outage: the gap it leaves in the ledger gets its cause.
                if p.recording.session.is_some() && f.cause != Cause::Other {
                    outage::begin(p, f.since, f.cause, f.detail.clone());
                }
                p.publisher.failure = Some(f);
            }
            then(p);
        })
    }

    /// Frames flow: the failure is over.
    pub(super) fn write_running(&mut self) {
        self.busy_unseen = false;
        self.write(|p| {
            p.publisher.phase = Phase::Running;
            // Every outage the publisher began is over (its cause may
            // have changed on the way: unplugged, then busy).
            let at = now();
            for o in p.outages.iter_mut().filter(|o| o.to.is_none()) {
                if !matches!(
                    o.cause,
                    Cause::HoldDead | Cause::NoStream | Cause::RecorderError | Cause::FilesystemLow
                ) {
                    o.to = Some(at.max(o.from));
                }
            }
            p.publisher.failure = None;
        })
    }

    /// A busy camera's failure naming its holders (remembered for the wait).
    pub(super) fn busy(&mut self, detail: String) -> Failure {
        self.busy_holders = holders::holders(std::path::Path::new(&self.device));
        Failure::new(
            Cause::Busy,
            format!("{detail}; {}", holders::describe(&self.busy_holders)),
        )
    }

    /// What FFmpeg's end says: its stderr, else a camera whose node is
    /// gone (FFmpeg 5.1 exits 0 after `ENODEV`: an unplug looks like a
    /// clean end), else a plain failure.
    pub(super) fn exit_cause(&mut self, exit: &ChildExit, tail: &[String]) -> Option<Failure> {
        let real = self.device != TEST_PATTERN;
        let gone = real && !watch::present(std::path::Path::new(&self.device));
        match exit.reason {
            ExitReason::Stopped => None,
            ExitReason::Stalled => Some(Failure::new(
                Cause::NoFrames,
                format!(
                    "no new frames for {} (FFmpeg stalled and was restarted)",
                    crate::policy::duration::Dur(self.ctx.policy.restart.stall_timeout.0)
                ),
            )),
            ExitReason::Exited if gone => Some(Failure::new(
                Cause::Unplugged,
                format!(
                    "{} disappeared while FFmpeg was capturing (FFmpeg exited: {})",
                    self.device, exit.status
                ),
            )),
            ExitReason::Exited => match crate::ffmpeg::diagnose::diagnose(tail) {
                Some(f) if f.cause == Cause::Busy => Some(self.busy(f.detail)),
                Some(f) => Some(f),
                None => Some(Failure::new(
                    Cause::FfmpegFailed,
                    format!(
                        "FFmpeg exited ({}) after {:.1} s",
                        exit.status,
                        exit.ran.as_secs_f64()
                    ),
                )),
            },
        }
    }

    /// The cause of a failed attempt, by where it came from.
    pub(super) fn failure_of(&mut self, origin: ErrorOrigin, message: &str) -> Option<Failure> {
        Some(match origin {
            ErrorOrigin::PortUnreachable => Failure::new(Cause::MediamtxUnreachable, message),
            ErrorOrigin::LockHeld { .. } => Failure::new(Cause::Busy, message).with_fix(
                "another hook instance still has this camera; it hands it over when it stops",
            ),
            ErrorOrigin::Lock => Failure::new(Cause::DeviceError, message),
            ErrorOrigin::Command => self
                .pending_failure
                .take()
                .unwrap_or_else(|| Failure::new(Cause::Other, message)),
            ErrorOrigin::Spawn => Failure::new(Cause::FfmpegFailed, message)
                .with_fix("install FFmpeg (apt install ffmpeg) or point --ffmpeg at it"),
            ErrorOrigin::Exited | ErrorOrigin::Stalled => self.exit_failure.take()?,
        })
    }
}

/// The supervisor waits on a camera as on anything else.
impl supervise::Wait for DeviceWait {
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        DeviceWait::fd(self)
    }
    fn next_check(&self) -> Instant {
        DeviceWait::next_check(self)
    }
    fn ready(&mut self) -> bool {
        DeviceWait::ready(self)
    }
    fn what(&self) -> String {
        DeviceWait::what(self)
    }
}

/// A camera missing since it was unplugged (no run since, by this
/// instance or a newer one MediaMTX started) is still unplugged.
fn still_unplugged(f: Failure, previous: Option<&Failure>) -> Failure {
    match previous {
        Some(prev) if prev.cause == Cause::Unplugged && f.cause == Cause::CameraMissing => {
            Failure::new(Cause::Unplugged, f.detail)
        }
        _ => f,
    }
}
