//! `hook snapshot PATH -o FILE`: one JPEG, written atomically.
//!
//! A snapshot never starts a stream. When MediaMTX says the path is
//! available (or, with the API unreachable, when a publisher is recorded in
//! the state), the frame comes from the live stream on loopback; otherwise
//! straight from the device, under the device lock, so a snapshot and a
//! publisher that MediaMTX is starting never open the camera at once.
//!
//! FFmpeg writes to a temporary file beside the target, which is renamed
//! into place only once it holds a whole JPEG. The time limit covers
//! everything; on expiry FFmpeg's process group is killed.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::api::{Api, ApiError, PathInfo};
use crate::capture::{CaptureInput, Source as Capture, TEST_PATTERN};
use crate::cli::{Context, SnapshotArgs};
use crate::device_lock::{lock_file_for, DeviceLock};
use crate::error::usage;
use crate::state::{now, SnapshotRecord};

/// Where the frame comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// MediaMTX's stream of the path, on loopback.
    Stream,
    /// The device itself (no stream runs).
    Device,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Stream => "stream",
            Source::Device => "device",
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
/// into `tmp`.
pub fn snapshot_args(input: Option<&CaptureInput>, stream_url: &str, tmp: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .iter()
        .map(OsString::from)
        .collect();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    match input.map(|i| (&i.source, i)) {
        None => push(&["-rtsp_transport", "tcp", "-i", stream_url]),
        Some((Capture::TestPattern, i)) => {
            let (w, h) = i.size.unwrap_or(crate::capture::TEST_PATTERN_SIZE);
            let fps = i.fps.unwrap_or(crate::capture::TEST_PATTERN_FPS).max(1);
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
        }
    }
    // One frame, JPEG quality ~ 90 %, raw MJPEG muxer (one frame of it is a
    // JPEG file); `file:` so a name with ':' is never read as a protocol.
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
    ] {
        args.push(a.into());
    }
    let mut target = OsString::from("file:");
    target.push(tmp.as_os_str());
    args.push(target);
    args
}

/// The temporary file FFmpeg writes, beside the target (same file system,
/// so the rename is atomic).
fn temp_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Checks `-o FILE`: a file name in an existing directory.
fn check_output(output: &Path) -> anyhow::Result<PathBuf> {
    if output.as_os_str().is_empty() || output.file_name().is_none() || output.is_dir() {
        return Err(usage(format!(
            "-o {:?}: expected the name of the JPEG file to write",
            output.display().to_string()
        )));
    }
    let abs = if output.is_absolute() {
        output.to_path_buf()
    } else {
        std::env::current_dir()
            .context("reading the current directory")?
            .join(output)
    };
    let dir = abs.parent().unwrap_or(Path::new("/"));
    if !dir.is_dir() {
        return Err(usage(format!(
            "-o {}: directory {} does not exist",
            output.display(),
            dir.display()
        )));
    }
    Ok(abs)
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
    match crate::mtx_env::trailing_number(path) {
        Some(n) => Ok(format!("/dev/video{n}")),
        None => Err(usage(format!(
            "path {path:?} has no number at its end and no device is recorded for it: give --device /dev/videoN (or --device {TEST_PATTERN})"
        ))),
    }
}

pub fn main(ctx: &Context, args: &SnapshotArgs) -> anyhow::Result<ExitCode> {
    let path = crate::mtx_env::validate_path_name(Some(&args.path), "PATH")?;
    crate::logging::set_path(&path);
    let output = check_output(&args.output)?;
    let timeout = args.timeout.map_or(ctx.policy.snapshot.timeout.0, |d| d.0);
    if timeout.is_zero() {
        return Err(usage(
            "--timeout 0s: expected a positive time limit, e.g. 5s",
        ));
    }
    let port =
        crate::mtx_env::validate_port(crate::mtx_env::var("RTSP_PORT").as_deref(), "RTSP_PORT")?;
    let started = Instant::now();
    let deadline = started + timeout;

    let recorded = ctx
        .store
        .read()
        .ok()
        .and_then(|s| s.paths.get(&path).cloned());
    let publisher_running = recorded.as_ref().is_some_and(|p| {
        p.supervisor_pid.is_some_and(|pid| {
            crate::process_identity::is_running(pid, p.supervisor_process.as_ref())
        })
    });
    let api = Api::from_env()?.with_timeout(timeout.min(crate::api::DEFAULT_TIMEOUT));
    let answer = api.path(&path);
    if let Err(e) = &answer {
        // The API is optional for snapshots: say so briefly, not as a failure.
        log::info!(
            "Control API at {} did not answer ({}); a publisher is {}recorded as running",
            api.base_url(),
            match &e.kind {
                crate::api::ApiErrorKind::Unreachable(io) => io.to_string(),
                _ => "error".to_string(),
            },
            if publisher_running { "" } else { "not " }
        );
    }
    let source = choose_source(&answer, publisher_running);
    let stream_url = format!("rtsp://127.0.0.1:{port}/{path}");

    let tmp = temp_path(&output);
    let result = match source {
        Source::Stream => {
            log::info!("snapshot from the live stream {stream_url}");
            capture(
                &args.device.ffmpeg,
                &snapshot_args(None, &stream_url, &tmp),
                deadline,
            )
        }
        Source::Device => {
            let device = device_for(
                args,
                &path,
                recorded.as_ref().and_then(|p| p.device.as_deref()),
            )?;
            let input = crate::capture::prepare(&device, &args.device)
                .with_context(|| format!("preparing device {device} for a snapshot"))?;
            log::info!("snapshot straight from {device} (no stream runs)");
            let _lock = lock_device(ctx, &path, &device, deadline)?;
            capture(
                &args.device.ffmpeg,
                &snapshot_args(Some(&input), &stream_url, &tmp),
                deadline,
            )
        }
    };
    let bytes = match result.and_then(|()| finish(&tmp, &output)) {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e.context(format!("snapshot of {path} into {}", output.display())));
        }
    };
    let millis = started.elapsed().as_millis() as u64;
    let record = SnapshotRecord {
        at: now(),
        file: output.display().to_string(),
        source: source.as_str().to_string(),
        bytes,
        millis,
    };
    if let Err(e) = ctx.store.update_path(&path, |p| {
        p.snapshot = Some(record);
        Ok(())
    }) {
        log::warn!("snapshot written, but the state could not record it: {e:#}");
    }
    println!(
        "{}: {bytes} bytes from the {} in {millis} ms",
        output.display(),
        source.as_str()
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
                let holder = crate::device_lock::holder(&file)
                    .map_or_else(String::new, |pid| format!(" by pid {pid}"));
                bail!("device {device} stayed busy (its lock is held{holder}) until the time limit")
            }
        }
    }
}

/// Runs FFmpeg in its own process group until it exits or `deadline`
/// passes (then kills the group).
fn capture(ffmpeg: &Path, args: &[OsString], deadline: Instant) -> anyhow::Result<()> {
    let mut cmd = Command::new(ffmpeg);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill
    // FFmpeg if this process dies first.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", ffmpeg.display()))?;
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for FFmpeg")? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let Some(status) = status else {
        // SAFETY: kill(2) on FFmpeg's own process group.
        unsafe {
            libc::kill(-(child.id() as i32), libc::SIGKILL);
        }
        let _ = child.wait();
        let _ = reader.join();
        bail!("FFmpeg gave no frame within the time limit (killed it)");
    };
    let text = reader.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("FFmpeg failed ({status}): {}", tail.join(" | "));
    }
    Ok(())
}

/// Checks the temporary file holds a JPEG, syncs it and renames it into
/// place. Returns its size.
fn finish(tmp: &Path, output: &Path) -> anyhow::Result<u64> {
    let mut file =
        fs::File::open(tmp).with_context(|| format!("FFmpeg wrote no file {}", tmp.display()))?;
    let mut magic = [0u8; 2];
    if file.read_exact(&mut magic).is_err() || magic != [0xFF, 0xD8] {
        bail!("FFmpeg's output {} is not a JPEG", tmp.display());
    }
    file.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    let bytes = file.metadata()?.len();
    fs::rename(tmp, output)
        .with_context(|| format!("renaming {} to {}", tmp.display(), output.display()))?;
    if let Some(dir) = output.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiErrorKind;

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
        let tmp = Path::new("/snaps/.a:b.jpg.tmp-1");
        let input = crate::capture::prepare(TEST_PATTERN, &Default::default()).unwrap();
        let a: Vec<String> = snapshot_args(Some(&input), "rtsp://x", tmp)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        let text = a.join(" ");
        assert!(
            text.contains("-f lavfi -i testsrc2=size=640x480:rate=15"),
            "{text}"
        );
        assert!(text.ends_with("-frames:v 1 -c:v mjpeg -q:v 3 -f mjpeg file:/snaps/.a:b.jpg.tmp-1"));
        assert!(!text.contains("rtsp://"));
        let s: Vec<String> = snapshot_args(None, "rtsp://127.0.0.1:8554/cam0", tmp)
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
            encoder: crate::capture::EncoderChoice::Copy,
            bitrate: None,
        };
        let d: Vec<String> = snapshot_args(Some(&dev), "", tmp)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert!(d.join(" ").contains(
            "-f v4l2 -input_format mjpeg -video_size 1280x720 -framerate 30 -i /dev/video0"
        ));
    }

    #[test]
    fn temp_file_is_hidden_beside_the_target() {
        let t = temp_path(Path::new("/x/y/snap.jpg"));
        assert_eq!(t.parent(), Some(Path::new("/x/y")));
        assert!(t
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".snap.jpg.tmp-"));
    }
}
