//! A snapshot's capture: FFmpeg's command line for one JPEG (from a
//! camera, after its warm-up frames; from the live stream), the device lock
//! it is taken under, the bounded run that reads the JPEG from FFmpeg's
//! stdout, and the errors named by their cause. Domain layer.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::jpeg::{check_jpeg, MAX_JPEG};
use crate::camera::capture::{CaptureInput, Source as Capture};
use crate::camera::device_lock::{lock_file_for, DeviceLock};
use crate::process::{run_bounded, BoundedEnd, ChildCommand};
use crate::state::StateStore;

/// FFmpeg's arguments for one JPEG from `input` (`None`: from `stream_url`)
/// to its stdout. From a camera, the first `warmup` frames are dropped (a
/// live stream is warm already).
pub(crate) fn snapshot_args(
    input: Option<&CaptureInput>,
    stream_url: &str,
    warmup: u32,
) -> Vec<OsString> {
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

/// A device error with its cause in front ("busy: … held by pid 42 (…)").
pub(super) fn named_device_error(e: anyhow::Error, device: &str) -> anyhow::Error {
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
pub(super) fn named_capture_error(e: anyhow::Error, device: &str) -> anyhow::Error {
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

/// Takes the device's lock (the one `hook run` takes, see `device_lock`),
/// waiting at most until `deadline`.
pub(super) fn lock_device(
    store: &StateStore,
    path: &str,
    device: &str,
    deadline: Instant,
) -> anyhow::Result<DeviceLock> {
    let file = lock_file_for(&store.locks_dir(), device, path);
    DeviceLock::acquire_within(&file, deadline, Duration::from_millis(20))
        .with_context(|| format!("taking device lock {}", file.display()))?
        .ok_or_else(|| {
            let holder = crate::camera::device_lock::holder(&file)
                .map_or_else(String::new, |pid| format!(" by pid {pid}"));
            anyhow::anyhow!(
                "device {device} stayed busy (its lock is held{holder}) until the time limit"
            )
        })
}

/// Runs FFmpeg through `process::run_bounded` (own process group, killed
/// and reaped on `deadline`) and returns the JPEG it wrote to its stdout,
/// checked to be whole.
pub(super) fn capture(
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
    use crate::camera::capture::TEST_PATTERN;

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
}
