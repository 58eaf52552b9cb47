//! `hook snapshot PATH -o FILE`: one JPEG, written atomically.
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

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::camera::capture::{CaptureInput, Source as Capture, TEST_PATTERN};
use crate::camera::device_lock::{lock_file_for, DeviceLock};
use crate::cli::SnapshotArgs;
use crate::commands::Context;
use crate::error::usage;
use crate::mediamtx::api::{Api, ApiError, PathInfo};
use crate::process::{run_bounded, BoundedEnd, ChildCommand};
use crate::state::{now, SnapshotRecord, SnapshotSource};

mod output;

pub use output::*;

/// The largest JPEG a snapshot accepts from FFmpeg (an 8K frame at the
/// quality used here is well below it).
pub const MAX_JPEG: usize = 32 * 1024 * 1024;

/// Where the frame comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// MediaMTX's stream of the path, on loopback.
    Stream,
    /// The device itself (no stream runs).
    Device,
}

impl Source {
    /// How the state records a snapshot taken from it.
    pub fn recorded(&self) -> SnapshotSource {
        match self {
            Source::Stream => SnapshotSource::Stream,
            Source::Device => SnapshotSource::Device,
        }
    }
}

/// Decides the source from what the Control API said and, when it could not
/// be asked, from whether a publisher is recorded as running.
pub fn choose_source(api: &Result<Option<PathInfo>, ApiError>, publisher_running: bool) -> Source {
    match api {
        Ok(Some(info)) if info.available => Source::Stream,
        Ok(_) => Source::Device,
        Err(_) if publisher_running => Source::Stream,
        Err(_) => Source::Device,
    }
}

/// FFmpeg's arguments for one JPEG from `input` (`None`: from `stream_url`)
/// to its stdout. From a camera, the first `warmup` frames are dropped (a
/// live stream is warm already).
pub fn snapshot_args(input: Option<&CaptureInput>, stream_url: &str, warmup: u32) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .iter()
        .map(OsString::from)
        .collect();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    match input.map(|i| (&i.source, i)) {
        None => push(&["-rtsp_transport", "tcp", "-i", stream_url]),
        Some((Capture::TestPattern, i)) => {
            let (w, h) = i.size.unwrap_or(crate::camera::capture::TEST_PATTERN_SIZE);
            let fps = i
                .fps
                .unwrap_or(crate::camera::capture::TEST_PATTERN_FPS)
                .max(1);
            push(&[
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=size={w}x{h}:rate={fps}"),
            ]);
        }
        Some((Capture::Device(dev), i)) => {
            push(&["-f", "v4l2"]);
            if let Some(f) = &i.input_format {
                push(&["-input_format", f]);
            }
            if let Some((w, h)) = i.size {
                push(&["-video_size", &format!("{w}x{h}")]);
            }
            if let Some(fps) = i.fps {
                push(&["-framerate", &fps.to_string()]);
            }
            push(&["-i"]);
            args.push(dev.as_os_str().to_os_string());
            if warmup > 0 {
                args.push("-vf".into());
                args.push(format!("trim=start_frame={warmup}").into());
            }
        }
    }
    // One frame, JPEG quality ~ 90 %, raw MJPEG muxer (one frame of it is a
    // JPEG file), to stdout: FFmpeg opens no file.
    for a in [
        "-an",
        "-frames:v",
        "1",
        "-c:v",
        "mjpeg",
        "-q:v",
        "3",
        "-f",
        "mjpeg",
        "pipe:1",
    ] {
        args.push(a.into());
    }
    args
}

/// Checks that `data` is one whole baseline or progressive JPEG: SOI first,
/// then well-formed marker segments (each length inside the data), a frame
/// header with a size, at least one scan, and EOI as its last two bytes.
/// Returns the picture's width and height.
pub fn check_jpeg(data: &[u8]) -> Result<(u16, u16), String> {
    if data.len() < 4 || data[..2] != [0xFF, 0xD8] {
        return Err("it does not start with a JPEG start-of-image marker".into());
    }
    let mut i = 2;
    let mut size = None;
    let mut scans = 0;
    loop {
        // Marker: 0xFF, optional 0xFF fill bytes, the code.
        if i >= data.len() || data[i] != 0xFF {
            return Err(format!("no marker at byte {i} (torn or not a JPEG)"));
        }
        while i < data.len() && data[i] == 0xFF {
            i += 1;
        }
        let Some(&code) = data.get(i) else {
            return Err("it ends inside a marker (torn)".into());
        };
        i += 1;
        match code {
            0xD9 => break,
            0x01 | 0xD0..=0xD7 => continue,
            0x00 | 0xD8 => return Err(format!("unexpected marker 0x{code:02X} at byte {}", i - 1)),
            _ => {}
        }
        let Some(len) = data
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        else {
            return Err("it ends inside a segment header (torn)".into());
        };
        if len < 2 || i + len > data.len() {
            return Err(format!(
                "segment 0x{code:02X} at byte {} runs past the end (torn)",
                i - 2
            ));
        }
        let body = &data[i + 2..i + len];
        i += len;
        match code {
            0xC0..=0xCF if !matches!(code, 0xC4 | 0xC8 | 0xCC) => {
                if body.len() < 5 {
                    return Err("frame header too short".into());
                }
                let h = u16::from_be_bytes([body[1], body[2]]);
                let w = u16::from_be_bytes([body[3], body[4]]);
                if w == 0 || h == 0 {
                    return Err(format!("frame header says {w}x{h}"));
                }
                size = Some((w, h));
            }
            0xDA => {
                if size.is_none() {
                    return Err("a scan before any frame header".into());
                }
                scans += 1;
                // Entropy-coded data: up to the next marker that is neither
                // a stuffed 0xFF00 nor a restart marker.
                loop {
                    match data.get(i..i + 2) {
                        None => return Err("it ends inside the image data (torn)".into()),
                        Some([0xFF, 0x00]) | Some([0xFF, 0xD0..=0xD7]) => i += 2,
                        Some([0xFF, 0xFF]) => i += 1,
                        Some([0xFF, _]) => break,
                        Some(_) => i += 1,
                    }
                }
            }
            _ => {}
        }
    }
    if scans == 0 {
        return Err("it has no image data".into());
    }
    if i != data.len() {
        return Err(format!(
            "{} bytes follow its end-of-image marker",
            data.len() - i
        ));
    }
    size.ok_or_else(|| "it has no frame header".into())
}

/// The device a snapshot opens: `--device`, else the one `hook run` last
/// used for the path, else `/dev/videoN` from the path name's number.
fn device_for(args: &SnapshotArgs, path: &str, recorded: Option<&str>) -> anyhow::Result<String> {
    if let Some(d) = &args.device.device {
        return Ok(d.clone());
    }
    if let Some(d) = recorded {
        return Ok(d.to_string());
    }
    match crate::mediamtx::env::trailing_number(path) {
        Some(n) => Ok(format!("/dev/video{n}")),
        None => Err(usage(format!(
            "path {path:?} has no number at its end and no device is recorded for it: give --device /dev/videoN (or --device {TEST_PATTERN})"
        ))),
    }
}

pub fn main(ctx: &Context, args: &SnapshotArgs) -> anyhow::Result<ExitCode> {
    let path = crate::mediamtx::env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    let output = check_output(&args.output)?;
    let timeout = args.timeout.map_or(ctx.policy.snapshot.timeout.0, |d| d.0);
    if timeout.is_zero() {
        return Err(usage(
            "--timeout 0s: expected a positive time limit, e.g. 5s",
        ));
    }
    let started = Instant::now();
    let recorded = ctx
        .store
        .read()
        .ok()
        .and_then(|s| s.paths.get(&path).cloned());
    if let Some(max_age) = args.max_age {
        let file = recorded
            .as_ref()
            .and_then(|p| p.still.as_ref())
            .map(|s| std::path::PathBuf::from(&s.file))
            .unwrap_or_else(|| ctx.store.still_file(&ctx.policy.stills.dir, &path));
        match fresh_still(&file, max_age.0) {
            Ok((jpeg, age)) => {
                return finish(
                    ctx,
                    &path,
                    &output,
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
    let port = crate::mediamtx::env::validate_port(
        crate::mediamtx::env::var("RTSP_PORT").as_deref(),
        "RTSP_PORT",
    )?;
    let deadline = started + timeout;

    let publisher_running = recorded.as_ref().is_some_and(|p| {
        p.publisher.supervisor_pid.is_some_and(|pid| {
            crate::state::identity::is_running(pid, p.publisher.supervisor_process.as_ref())
        })
    });
    let api = Api::from_env()?.with_timeout(timeout.min(crate::mediamtx::api::DEFAULT_TIMEOUT));
    let answer = api.path(&path);
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
    let source = choose_source(&answer, publisher_running);
    let stream_url = format!("rtsp://127.0.0.1:{port}/{path}");

    let result = match source {
        Source::Stream => {
            log::info!("snapshot from the live stream {stream_url}");
            // With RTSP credentials FFmpeg reads through this process's
            // credential relay (a password never goes on its command line).
            let via = crate::mediamtx::rtsp_relay::ffmpeg_port(port)?;
            capture(
                &args.device.ffmpeg,
                &snapshot_args(None, &format!("rtsp://127.0.0.1:{via}/{path}"), 0),
                None,
                deadline,
            )
        }
        Source::Device => {
            let device = device_for(
                args,
                &path,
                recorded
                    .as_ref()
                    .and_then(|p| p.publisher.device.as_deref()),
            )?;
            let input = crate::camera::capture::prepare(
                &device,
                &ctx.capture_request(args.device.capture_request())?,
            )
            .map_err(|e| named_device_error(e, &device))
            .with_context(|| format!("preparing device {device} for a snapshot"))?;
            log::info!("snapshot straight from {device} (no stream runs)");
            let lock = lock_device(ctx, &path, &device, deadline)?;
            let warmup = args
                .warmup_frames
                .unwrap_or(ctx.policy.snapshot.warmup_frames);
            // FFmpeg holds the lock too, until it is really gone.
            capture(
                &args.device.ffmpeg,
                &snapshot_args(Some(&input), &stream_url, warmup),
                Some(lock.fd()),
                deadline,
            )
            .map_err(|e| named_capture_error(e, &device))
        }
    };
    match result {
        Ok(jpeg) => finish(ctx, &path, &output, &jpeg, source.recorded(), started, None),
        Err(e) => Err(e.context(format!(
            "snapshot of {path} into {}",
            output.path().display()
        ))),
    }
}

/// A device error with its cause in front ("busy: … held by pid 42 (…)").
fn named_device_error(e: anyhow::Error, device: &str) -> anyhow::Error {
    let Some(found) = crate::camera::device_error::DeviceError::find(&e) else {
        return e;
    };
    let failure = found.failure();
    let holders = match failure.cause {
        crate::state::Cause::Busy => format!(
            "; {}",
            crate::camera::holders::describe(&crate::camera::holders::holders(Path::new(device)))
        ),
        _ => String::new(),
    };
    anyhow::anyhow!("{}: {}{holders}", failure.cause, failure.detail).context(failure.fix)
}

/// A capture that failed, named by what FFmpeg's stderr says (a camera
/// unplugged or taken by another program while opening).
fn named_capture_error(e: anyhow::Error, device: &str) -> anyhow::Error {
    let text = format!("{e:#}");
    let lines: Vec<String> = text.split(" | ").map(str::to_string).collect();
    match crate::ffmpeg::diagnose::diagnose(&lines) {
        Some(f) if f.cause == crate::state::Cause::Busy => anyhow::anyhow!(
            "busy: {text}; {}",
            crate::camera::holders::describe(&crate::camera::holders::holders(Path::new(device)))
        ),
        Some(f) => anyhow::anyhow!("{}: {text}", f.cause),
        None => e,
    }
}

/// The live still at `file` when it is younger than `max_age` and one whole
/// JPEG: its bytes and age. Err says why not.
fn fresh_still(file: &Path, max_age: Duration) -> Result<(Vec<u8>, Duration), String> {
    let (jpeg, at) =
        crate::state::stills::read_still(file, MAX_JPEG as u64).map_err(|e| e.to_string())?;
    let age = (now() - at).max(time::Duration::ZERO);
    let age = Duration::from_secs_f64(age.as_seconds_f64());
    if age >= max_age {
        return Err(format!(
            "it is {:.1}s old, not younger than --max-age {}",
            age.as_secs_f64(),
            crate::policy::duration::Dur(max_age)
        ));
    }
    check_jpeg(&jpeg).map_err(|why| format!("it is not one whole JPEG: {why}"))?;
    Ok((jpeg, age))
}

/// Writes `jpeg` to `-o` atomically, records the snapshot in the state and
/// says where it came from.
fn finish(
    ctx: &Context,
    path: &str,
    output: &Target,
    jpeg: &[u8],
    source: SnapshotSource,
    started: Instant,
    still_age: Option<Duration>,
) -> anyhow::Result<ExitCode> {
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
    let age = still_age.map_or(String::new(), |age| {
        format!(" (taken {:.1}s ago)", age.as_secs_f64())
    });
    println!(
        "{}: {bytes} bytes from the {}{age} in {millis} ms",
        output.path().display(),
        source
    );
    Ok(ExitCode::SUCCESS)
}

/// Takes the device's lock (the one `hook run` takes, see `device_lock`),
/// waiting at most until `deadline`.
fn lock_device(
    ctx: &Context,
    path: &str,
    device: &str,
    deadline: Instant,
) -> anyhow::Result<DeviceLock> {
    let file = lock_file_for(&ctx.store.locks_dir(), device, path);
    loop {
        match DeviceLock::try_acquire(&file)
            .with_context(|| format!("taking device lock {}", file.display()))?
        {
            Some(lock) => return Ok(lock),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => {
                let holder = crate::camera::device_lock::holder(&file)
                    .map_or_else(String::new, |pid| format!(" by pid {pid}"));
                bail!("device {device} stayed busy (its lock is held{holder}) until the time limit")
            }
        }
    }
}

/// Runs FFmpeg through `process::run_bounded` (own process group, killed
/// and reaped on `deadline`) and returns the JPEG it wrote to its stdout,
/// checked to be whole.
fn capture(
    ffmpeg: &Path,
    args: &[OsString],
    keep_fd: Option<RawFd>,
    deadline: Instant,
) -> anyhow::Result<Vec<u8>> {
    let mut child = ChildCommand::tool(ffmpeg, args);
    if let Some(fd) = keep_fd {
        child = child.keep_fd(fd);
    }
    let run = run_bounded(child, deadline, MAX_JPEG)
        .with_context(|| format!("starting {}", ffmpeg.display()))?;
    let text = String::from_utf8_lossy(&run.stderr);
    let tail: Vec<&str> = text.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let tail = tail.join(" | ");
    match run.end {
        BoundedEnd::TimedOut => {
            bail!("FFmpeg gave no frame within the time limit (killed its process group)")
        }
        BoundedEnd::TooMuchOutput => {
            bail!("FFmpeg wrote more than {MAX_JPEG} bytes for one frame (killed it)")
        }
        BoundedEnd::Exited(status) if status.code() != Some(0) => {
            bail!("FFmpeg failed ({status}): {tail}")
        }
        BoundedEnd::Exited(_) => {}
    }
    if run.stdout.is_empty() {
        bail!("FFmpeg exited without writing a frame: {tail}");
    }
    match check_jpeg(&run.stdout) {
        Ok((w, h)) => log::debug!("a whole {w}x{h} JPEG, {} bytes", run.stdout.len()),
        Err(why) => bail!(
            "FFmpeg's output ({} bytes) is not one whole JPEG: {why}",
            run.stdout.len()
        ),
    }
    Ok(run.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mediamtx::api::ApiErrorKind;

    fn unreachable() -> Result<Option<PathInfo>, ApiError> {
        Err(ApiError {
            method: "GET",
            url: "http://127.0.0.1:9997/v3/paths/get/cam0".into(),
            kind: ApiErrorKind::Unreachable(std::io::ErrorKind::ConnectionRefused.into()),
        })
    }

    #[test]
    fn source_follows_the_api_then_the_state() {
        let live = Ok(Some(PathInfo {
            available: true,
            ..Default::default()
        }));
        let idle = Ok(Some(PathInfo::default()));
        assert_eq!(choose_source(&live, false), Source::Stream);
        assert_eq!(choose_source(&idle, true), Source::Device);
        assert_eq!(choose_source(&Ok(None), true), Source::Device);
        assert_eq!(choose_source(&unreachable(), true), Source::Stream);
        assert_eq!(choose_source(&unreachable(), false), Source::Device);
    }

    #[test]
    fn arguments() {
        let input = crate::camera::capture::prepare(TEST_PATTERN, &Default::default()).unwrap();
        let a: Vec<String> = snapshot_args(Some(&input), "rtsp://x", 10)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        let text = a.join(" ");
        assert!(
            text.contains("-f lavfi -i testsrc2=size=640x480:rate=15"),
            "{text}"
        );
        // To stdout: FFmpeg opens no output file, so it follows no link.
        assert!(
            text.ends_with("-frames:v 1 -c:v mjpeg -q:v 3 -f mjpeg pipe:1"),
            "{text}"
        );
        assert!(!text.contains("file:") && !text.contains("-y"), "{text}");
        assert!(!text.contains("rtsp://"));
        let s: Vec<String> = snapshot_args(None, "rtsp://127.0.0.1:8554/cam0", 0)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert!(s
            .join(" ")
            .contains("-rtsp_transport tcp -i rtsp://127.0.0.1:8554/cam0"));
        let dev = CaptureInput {
            source: Capture::Device("/dev/video0".into()),
            input_format: Some("mjpeg".into()),
            size: Some((1280, 720)),
            fps: Some(30),
            encoder: crate::camera::capture::EncoderChoice::Copy,
            bitrate: None,
        };
        let d: Vec<String> = snapshot_args(Some(&dev), "", 10)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        // A cold camera's first frames are dropped; the test pattern's and a
        // live stream's are not.
        assert!(d.join(" ").contains(
            "-f v4l2 -input_format mjpeg -video_size 1280x720 -framerate 30 -i /dev/video0 -vf trim=start_frame=10 -an"
        ));
        assert!(!text.contains("trim"), "{text}");
        let cold: Vec<String> = snapshot_args(Some(&dev), "", 0)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert!(!cold.join(" ").contains("trim"));
    }

    /// A small real JPEG from FFmpeg's encoder, as a snapshot gets it.
    fn ffmpeg_jpeg() -> Vec<u8> {
        let out = std::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=64x48:rate=1",
                "-frames:v",
                "1",
                "-c:v",
                "mjpeg",
                "-q:v",
                "3",
                "-f",
                "mjpeg",
                "pipe:1",
            ])
            .output()
            .expect("ffmpeg runs");
        assert!(out.status.success());
        out.stdout
    }

    #[test]
    fn only_a_whole_jpeg_passes() {
        let jpeg = ffmpeg_jpeg();
        assert_eq!(check_jpeg(&jpeg), Ok((64, 48)));
        // Torn anywhere: refused, whichever byte it stops at.
        for cut in 0..jpeg.len() {
            assert!(check_jpeg(&jpeg[..cut]).is_err(), "torn at {cut} accepted");
        }
        // A full-length file whose end is zeros (a short write on a full
        // disk that kept the size) is refused too.
        let mut zeroed = jpeg.clone();
        let n = zeroed.len();
        zeroed[n / 2..].fill(0);
        assert!(check_jpeg(&zeroed).is_err());
        let mut trailing = jpeg.clone();
        trailing.extend_from_slice(b"junk");
        assert!(check_jpeg(&trailing).unwrap_err().contains("follow"));
        assert!(
            check_jpeg(b"\xFF\xD8\xFF\xD9").is_err(),
            "no frame, no scan"
        );
        assert!(check_jpeg(b"GIF89a....").is_err());
    }
}
