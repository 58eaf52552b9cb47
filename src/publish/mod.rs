//! The publisher (`hook run`): one camera published to MediaMTX, FFmpeg
//! supervised. Domain layer, below the commands.
//!
//! MediaMTX runs `hook run` from `runOnDemand` with `MTX_PATH`, `RTSP_PORT`
//! and, for regex paths, `G1`. The device is `--device`, else `/dev/video$G1`,
//! else the number at the end of the path name ([`resolve_device`]). Each
//! start attempt re-checks the device (`capture::prepare`), builds FFmpeg's
//! command line (`ffmpeg`) and hands it to the supervisor (`supervise`),
//! which restarts it with backoff and stops it on SIGINT. What happens is
//! written to the path's entry in the state, on transitions only; a state
//! that cannot be written is logged and the stream goes on.
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
//!
//! - `job`: the [`supervise::Job`] of the publisher: FFmpeg's command line,
//!   the live still, the events written to the state;
//! - `claim`: the claim of the path's entry and its give-back;
//! - `failure`: why an attempt failed, and what to wait for instead of the
//!   backoff (the camera's return, its holder letting go);
//! - [`ready`]: `hook ready`'s record of the stream being available;
//! - [`stop`]: stopping a path's publisher, through MediaMTX where it can.

mod claim;
mod failure;
mod job;
pub(crate) mod ready;
pub(crate) mod stop;

use std::ffi::OsStr;
use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;

use crate::camera::capture::{self, CaptureRequest, TEST_PATTERN};
use crate::context::Context;
use crate::error::usage;
use crate::mediamtx::env as mtx_env;
use crate::supervise::signals::Signals;
use crate::supervise::{self, FatalKind, Spec};
use job::Publisher;

/// What one publisher publishes: the values `hook run` was given.
#[derive(Debug)]
pub(crate) struct Publish<'a> {
    /// The MediaMTX path (`MTX_PATH`).
    pub path: String,
    /// MediaMTX's RTSP port (`RTSP_PORT`).
    pub port: u16,
    /// The device ([`resolve_device`]) or the test pattern.
    pub device: String,
    /// The capture flags, checked (`Context::capture_request`).
    pub request: &'a CaptureRequest,
    /// How often FFmpeg writes the live still; none: no still.
    pub still_every: Option<Duration>,
    /// When `hook run` started: MediaMTX's demand.
    pub demand_at: OffsetDateTime,
}

/// Publishes until stopped (a signal, the parent gone), supervising FFmpeg.
/// Bad flags are refused before anything starts (a usage error); a fatal
/// start error is written to the path's entry and returned.
pub(crate) fn publish(ctx: &Context, publish: Publish<'_>) -> anyhow::Result<()> {
    let Publish {
        path,
        port,
        device,
        request,
        still_every,
        demand_at,
    } = publish;
    // For the test pattern the whole choice is pure, so its conflicts are
    // found before anything starts too.
    if device == TEST_PATTERN {
        capture::prepare(&device, request)?;
    }
    // HOOK_RTSP_USER without HOOK_RTSP_PASS (or the reverse) is refused now.
    crate::mediamtx::rtsp_auth::Credentials::from_env()?;
    let signals = Signals::install().context("installing signal handlers")?;
    let still = still_every.map(|every| crate::ffmpeg::Still {
        file: ctx.store.still_file(&ctx.policy.stills.dir, &path),
        every,
    });

    let mut job = Publisher::new(
        ctx,
        request,
        path.clone(),
        port,
        device.clone(),
        still,
        demand_at,
    );
    log::info!(
        "publishing {device} to rtsp://127.0.0.1:{port}/{path} with {}",
        request.ffmpeg.display()
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
            Ok(())
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
pub(crate) fn resolve_device(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::is_usage;

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
