//! Snapshot capture (`hook snapshot PATH -o FILE`): one JPEG, written
//! atomically. Domain layer, below the commands.
//!
//! A snapshot never starts a stream. When MediaMTX says the path is
//! available (or, with the API unreachable, when a publisher is recorded in
//! the state), the frame comes from the live stream on loopback; otherwise
//! straight from the device, under the device lock, so a snapshot and a
//! publisher that MediaMTX is starting never open the camera at once.
//!
//! FFmpeg opens no output file: it writes the JPEG to its stdout, which the
//! hook reads (at most [`MAX_JPEG`] bytes) through `process::run_bounded`, so
//! on the time limit FFmpeg's whole process group is killed and reaped. The
//! picture is checked to be one whole JPEG, then written to a new temporary
//! file beside the target (created exclusively, never through a link, with an
//! unpredictable name), synced, and renamed over the target; the directory is
//! synced last. Any failure leaves the old picture as it was and removes the
//! temporary file. `-o` must be a new name or an existing regular file:
//! anything else (a link, a device, a FIFO, a socket, a directory) is refused
//! before anything is captured.
//!
//! With `--max-age T`, the path's live still (`stills.every`, written by the
//! publisher's FFmpeg) is returned at once when it is younger than T: read
//! without following a link, checked to be a whole JPEG and written to `-o`
//! the same atomic way. Otherwise a snapshot is taken as above.
//!
//! - `source`: where the frame comes from (stream, device, live still);
//! - `capture`: FFmpeg's command line, the camera's warm-up, the device
//!   lock, the bounded run;
//! - `jpeg`: the check that the picture is one whole JPEG;
//! - `output`: the `-o` file, checked first and replaced atomically.

mod capture;
mod jpeg;
mod output;
mod source;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::camera::capture::CaptureRequest;
use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::state::{now, PathState, SnapshotRecord, SnapshotSource};
use capture::{capture, lock_device, named_capture_error, named_device_error, snapshot_args};
use source::{choose_source, device_for, fresh_still, Source};

pub use jpeg::{check_jpeg, MAX_JPEG};
pub use output::{check_output, check_output_for, Target};

/// What one snapshot is asked for: the values `hook snapshot` was given.
#[derive(Debug)]
pub struct Request<'a> {
    /// The MediaMTX path.
    pub path: &'a str,
    /// `-o`, checked ([`check_output`]).
    pub output: &'a Target,
    /// The time limit of the whole snapshot (positive).
    pub timeout: Duration,
    /// `--max-age`: the live still is taken when younger than this.
    pub max_age: Option<Duration>,
    /// `--device`.
    pub device: Option<&'a str>,
    /// The capture flags, checked only when the frame comes from the device.
    pub capture: CaptureRequest,
    /// MediaMTX's RTSP port (`RTSP_PORT`), where the live stream is read.
    pub rtsp_port: u16,
    /// `--warmup-frames`, else the policy's.
    pub warmup_frames: Option<u32>,
}

/// What a snapshot wrote.
#[derive(Debug)]
pub(crate) struct Taken {
    pub bytes: u64,
    pub source: SnapshotSource,
    pub millis: u64,
    /// The live still's age, when it was the source.
    pub still_age: Option<Duration>,
}

/// Takes one snapshot into `req.output` and records it in the path's
/// entry.
pub(crate) fn take(ctx: &Context, req: &Request<'_>) -> anyhow::Result<Taken> {
    let (path, output) = (req.path, req.output);
    let started = Instant::now();
    let recorded = ctx
        .store
        .read()
        .ok()
        .and_then(|s| s.paths.get(path).cloned());
    if let Some(max_age) = req.max_age {
        let file = recorded
            .as_ref()
            .and_then(|p| p.still.as_ref())
            .map(|s| PathBuf::from(&s.file))
            .unwrap_or_else(|| ctx.store.still_file(&ctx.policy.stills.dir, path));
        match fresh_still(&file, max_age) {
            Ok((jpeg, age)) => {
                return finish(
                    ctx,
                    path,
                    output,
                    &jpeg,
                    SnapshotSource::Still,
                    started,
                    Some(age),
                )
            }
            Err(why) => log::info!(
                "not using the still {}: {why}; taking a snapshot",
                file.display()
            ),
        }
    }
    let port = req.rtsp_port;
    let deadline = started + req.timeout;
    let source = ask_source(req.timeout, path, recorded.as_ref())?;
    let stream_url = format!("rtsp://127.0.0.1:{port}/{path}");

    let result = match source {
        Source::Stream => {
            log::info!("snapshot from the live stream {stream_url}");
            // With RTSP credentials FFmpeg reads through this process's
            // credential relay (a password never goes on its command line).
            let via = crate::mediamtx::rtsp_relay::ffmpeg_port(port)?;
            capture(
                &req.capture.ffmpeg,
                &snapshot_args(None, &format!("rtsp://127.0.0.1:{via}/{path}"), 0),
                None,
                deadline,
            )
        }
        Source::Device => {
            let device = device_for(
                req.device,
                path,
                recorded
                    .as_ref()
                    .and_then(|p| p.publisher.device.as_deref()),
            )?;
            let input = crate::camera::capture::prepare(
                &device,
                &ctx.capture_request(req.capture.clone())?,
            )
            .map_err(|e| named_device_error(e, &device))
            .with_context(|| format!("preparing device {device} for a snapshot"))?;
            log::info!("snapshot straight from {device} (no stream runs)");
            let lock = lock_device(&ctx.store, path, &device, deadline)?;
            let warmup = req
                .warmup_frames
                .unwrap_or(ctx.policy.snapshot.warmup_frames);
            // FFmpeg holds the lock too, until it is really gone.
            capture(
                &req.capture.ffmpeg,
                &snapshot_args(Some(&input), &stream_url, warmup),
                Some(lock.fd()),
                deadline,
            )
            .map_err(|e| named_capture_error(e, &device))
        }
    };
    match result {
        Ok(jpeg) => finish(ctx, path, output, &jpeg, source.recorded(), started, None),
        Err(e) => Err(e.context(format!(
            "snapshot of {path} into {}",
            output.path().display()
        ))),
    }
}

/// The source, from the Control API (asked within `timeout`) and, when it
/// does not answer, from whether a publisher is recorded as running.
fn ask_source(
    timeout: Duration,
    path: &str,
    recorded: Option<&PathState>,
) -> anyhow::Result<Source> {
    let publisher_running = recorded.is_some_and(|p| {
        p.publisher.supervisor_pid.is_some_and(|pid| {
            crate::state::identity::is_running(pid, p.publisher.supervisor_process.as_ref())
        })
    });
    let api = Api::from_env()?.with_timeout(timeout.min(crate::mediamtx::api::DEFAULT_TIMEOUT));
    let answer = api.path(path);
    if let Err(e) = &answer {
        // The API is optional for snapshots: say so briefly, not as a failure.
        log::info!(
            "Control API at {} did not answer ({}); a publisher is {}recorded as running",
            api.base_url(),
            match &e.kind {
                crate::mediamtx::api::ApiErrorKind::Unreachable(io) => io.to_string(),
                _ => "error".to_string(),
            },
            if publisher_running { "" } else { "not " }
        );
    }
    Ok(choose_source(&answer, publisher_running))
}

/// Writes `jpeg` to `-o` atomically and records the snapshot in the state.
fn finish(
    ctx: &Context,
    path: &str,
    output: &Target,
    jpeg: &[u8],
    source: SnapshotSource,
    started: Instant,
    still_age: Option<Duration>,
) -> anyhow::Result<Taken> {
    output
        .replace_with(jpeg)
        .with_context(|| format!("snapshot of {path} into {}", output.path().display()))?;
    let bytes = jpeg.len() as u64;
    let millis = started.elapsed().as_millis() as u64;
    let record = SnapshotRecord {
        at: now(),
        file: output.path().display().to_string(),
        source,
        bytes,
        millis,
    };
    if let Err(e) = ctx.store.update_path(path, |p| {
        p.snapshot = Some(record);
        Ok(())
    }) {
        log::warn!("snapshot written, but the state could not record it: {e:#}");
    }
    Ok(Taken {
        bytes,
        source,
        millis,
        still_age,
    })
}
