//! Which H.264 encoder FFmpeg uses, and at what bitrate.
//!
//! `auto` copies a camera's H.264; otherwise it uses the hardware encoder
//! `h264_v4l2m2m` (Raspberry Pi) where FFmpeg has it and a one-second probe
//! encode succeeds, else `libx264`. The choice is a pure function; the probe
//! runs FFmpeg, so its result is cached in the state directory
//! (`encoder-probe.json`) keyed by the FFmpeg binary (path, size, mtime) and
//! the boot (a kernel module may be loaded after a reboot). A failed probe is
//! tried again after [`NEGATIVE_TTL`]: the encoder may only have been busy.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long a failed probe is believed.
pub(crate) const NEGATIVE_TTL: Duration = Duration::from_secs(3600);

/// How long the probe encode may take before it counts as failed.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The encoder actually used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EncoderChoice {
    /// `-c:v copy` of the camera's H.264.
    Copy,
    /// `libx264 -preset ultrafast -tune zerolatency`.
    Libx264,
    /// `h264_v4l2m2m` with `-pix_fmt yuv420p`.
    V4l2m2m,
}

impl EncoderChoice {
    /// The name FFmpeg's `-c:v` takes.
    pub(crate) fn ffmpeg_name(self) -> &'static str {
        match self {
            EncoderChoice::Copy => "copy",
            EncoderChoice::Libx264 => "libx264",
            EncoderChoice::V4l2m2m => "h264_v4l2m2m",
        }
    }
}

/// The encoder asked for (`--encoder`); [`choose_encoder`] turns it into
/// the one used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoder {
    /// Copy H.264 from the camera, else the hardware encoder when it works,
    /// else libx264
    #[default]
    Auto,
    /// Copy the camera's H.264 as it is
    Copy,
    /// Software H.264 (ultrafast, zerolatency)
    Libx264,
    /// Hardware H.264 through V4L2 M2M (Raspberry Pi)
    #[value(name = "h264_v4l2m2m")]
    H264V4l2m2m,
}

/// The file the probe result is cached in, inside the state directory.
pub(crate) const CACHE_FILE: &str = "encoder-probe.json";

/// Bits per pixel per frame for the hardware encoder's default bitrate.
const V4L2M2M_BITS_PER_PIXEL: f64 = 0.1;
/// The Raspberry Pi encoder fails at low bitrates (MediaMTX issue #5381,
/// below about 1 Mbit/s), so the default never goes below this.
pub(crate) const V4L2M2M_MIN_BITRATE: u64 = 2_000_000;
/// Above about 20 Mbit/s it refuses to start (raspberrypi/linux #4938).
pub(crate) const V4L2M2M_MAX_BITRATE: u64 = 20_000_000;

/// Chooses the encoder. `input_is_h264`: the camera sends H.264.
/// `v4l2m2m_works` is asked only when the answer matters.
pub(crate) fn choose_encoder(
    requested: Encoder,
    input_is_h264: bool,
    v4l2m2m_works: impl FnOnce() -> bool,
) -> EncoderChoice {
    match requested {
        Encoder::Copy => EncoderChoice::Copy,
        Encoder::Libx264 => EncoderChoice::Libx264,
        Encoder::H264V4l2m2m => EncoderChoice::V4l2m2m,
        Encoder::Auto if input_is_h264 => EncoderChoice::Copy,
        Encoder::Auto if v4l2m2m_works() => EncoderChoice::V4l2m2m,
        Encoder::Auto => EncoderChoice::Libx264,
    }
}

/// The bitrate to give the encoder: `--bitrate` when given; for
/// `h264_v4l2m2m` otherwise a default from size and rate (0.1 bit per pixel,
/// 2 to 20 Mbit/s); none for the others (copy has none, libx264 uses its
/// constant-quality default).
pub(crate) fn bitrate(
    encoder: EncoderChoice,
    given: Option<&str>,
    size: (u32, u32),
    fps: u32,
) -> Option<String> {
    if let Some(b) = given {
        return Some(b.to_string());
    }
    if encoder != EncoderChoice::V4l2m2m {
        return None;
    }
    let bits = f64::from(size.0) * f64::from(size.1) * f64::from(fps) * V4L2M2M_BITS_PER_PIXEL;
    let bits = (bits as u64).clamp(V4L2M2M_MIN_BITRATE, V4L2M2M_MAX_BITRATE);
    Some(format!("{}k", bits / 1000))
}

/// Parses `--bitrate` (`2M`, `800k`, `1500000`) to bits per second.
pub(crate) fn parse_bitrate(text: &str) -> Result<u64, String> {
    let bad =
        || format!("bitrate {text:?} is not a number of bits per second like 2M, 800k or 1500000");
    let t = text.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1_000),
        Some((i, 'm' | 'M')) => (&t[..i], 1_000_000),
        _ => (t, 1),
    };
    let value: f64 = digits.parse().map_err(|_| bad())?;
    if !value.is_finite() || value <= 0.0 {
        return Err(bad());
    }
    let bits = value * mult as f64;
    if !(1_000.0..=1_000_000_000.0).contains(&bits) {
        return Err(format!(
            "bitrate {text:?} is out of range; expected 1k to 1000M"
        ));
    }
    Ok(bits as u64)
}

/// The cached probe result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProbeRecord {
    /// The FFmpeg binary, resolved through PATH and links.
    pub ffmpeg: PathBuf,
    pub ffmpeg_size: u64,
    pub ffmpeg_mtime_ns: i128,
    /// `/proc/sys/kernel/random/boot_id` at the time of the probe.
    pub boot_id: String,
    pub h264_v4l2m2m: bool,
    /// Why it failed, when it did.
    pub detail: Option<String>,
    /// Unix seconds.
    pub probed_at: u64,
}

/// The identity of an FFmpeg binary, for the cache key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FfmpegId {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i128,
}

/// Finds `ffmpeg` (a path, or a name looked up in PATH) and identifies it.
pub(crate) fn identify(ffmpeg: &Path) -> Option<FfmpegId> {
    let found = if ffmpeg.components().count() > 1 {
        ffmpeg.to_path_buf()
    } else {
        let name = if ffmpeg.as_os_str().is_empty() {
            Path::new("ffmpeg")
        } else {
            ffmpeg
        };
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())?
    };
    let path = std::fs::canonicalize(found).ok()?;
    let meta = std::fs::metadata(&path).ok()?;
    Some(FfmpegId {
        path,
        size: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether a cached record still answers for this FFmpeg, boot and time.
pub(crate) fn record_is_valid(record: &ProbeRecord, id: &FfmpegId, boot: &str, now: u64) -> bool {
    record.ffmpeg == id.path
        && record.ffmpeg_size == id.size
        && record.ffmpeg_mtime_ns == id.mtime_ns
        && record.boot_id == boot
        && (record.h264_v4l2m2m || now.saturating_sub(record.probed_at) < NEGATIVE_TTL.as_secs())
}

/// True when `ffmpeg` has a working `h264_v4l2m2m`: from the cache in
/// `cache_dir` when it still holds, else by probing (and caching the result).
pub(crate) fn v4l2m2m_works_cached(ffmpeg: &Path, cache_dir: Option<&Path>) -> bool {
    let Some(id) = identify(ffmpeg) else {
        return false;
    };
    let boot = boot_id();
    let now = unix_now();
    let cache = cache_dir.map(|d| d.join(CACHE_FILE));
    if let Some(dir) = cache_dir {
        if let Some(record) = crate::state::files::read_regular(dir, CACHE_FILE, 1 << 20)
            .ok()
            .and_then(|b| serde_json::from_slice::<ProbeRecord>(&b).ok())
        {
            if record_is_valid(&record, &id, &boot, now) {
                return record.h264_v4l2m2m;
            }
        }
    }
    let (works, detail) = match probe_v4l2m2m(&id.path) {
        Ok(()) => (true, None),
        Err(why) => (false, Some(why)),
    };
    match &detail {
        None => log::info!("h264_v4l2m2m works with {}", id.path.display()),
        Some(why) => log::info!("not using h264_v4l2m2m: {why}"),
    }
    if let Some(file) = &cache {
        let record = ProbeRecord {
            ffmpeg: id.path.clone(),
            ffmpeg_size: id.size,
            ffmpeg_mtime_ns: id.mtime_ns,
            boot_id: boot,
            h264_v4l2m2m: works,
            detail,
            probed_at: now,
        };
        if let Err(e) = write_atomically(file, &record) {
            log::warn!(
                "could not cache the encoder probe in {}: {e:#}",
                file.display()
            );
        }
    }
    works
}

fn write_atomically(file: &Path, record: &ProbeRecord) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = file.parent().context("cache file has no directory")?;
    let bytes = serde_json::to_vec_pretty(record)?;
    crate::state::files::replace_file(dir, CACHE_FILE, &bytes)
        .with_context(|| format!("writing {}", file.display()))
}

/// Asks FFmpeg whether it has `h264_v4l2m2m`, then encodes one second of
/// test pattern with it. Err says why it cannot be used.
pub(crate) fn probe_v4l2m2m(ffmpeg: &Path) -> Result<(), String> {
    let encoders = run_bounded(ffmpeg, &["-hide_banner", "-nostdin", "-encoders"])?;
    if !encoders
        .stdout
        .split_whitespace()
        .any(|w| w == "h264_v4l2m2m")
    {
        return Err(format!("{} has no h264_v4l2m2m encoder", ffmpeg.display()));
    }
    let probe = run_bounded(
        ffmpeg,
        &[
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x480:rate=30",
            "-t",
            "1",
            "-c:v",
            "h264_v4l2m2m",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            "2M",
            "-f",
            "null",
            "-",
        ],
    )?;
    if probe.success {
        Ok(())
    } else {
        let last = probe
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no error output")
            .to_string();
        Err(format!("the h264_v4l2m2m probe encode failed: {last}"))
    }
}

pub(crate) struct Finished {
    pub(crate) success: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Most output kept from one probe run (`-encoders` lists a few hundred).
const PROBE_MAX_OUTPUT: usize = 1 << 20;

/// Runs FFmpeg with `args` through [`crate::process::run_bounded`]: the
/// pre-exec every child gets, and its whole process group killed and reaped
/// after [`PROBE_TIMEOUT`].
pub(crate) fn run_bounded(ffmpeg: &Path, args: &[&str]) -> Result<Finished, String> {
    use crate::process::{run_bounded, BoundedEnd, ChildCommand};
    let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let run = run_bounded(
        ChildCommand::tool(ffmpeg, &args),
        Instant::now() + PROBE_TIMEOUT,
        PROBE_MAX_OUTPUT,
    )
    .map_err(|e| format!("cannot run {}: {e}", ffmpeg.display()))?;
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    match run.end {
        BoundedEnd::Exited(status) => Ok(Finished {
            success: status.code() == Some(0),
            stdout,
            stderr,
        }),
        BoundedEnd::TimedOut => Err(format!(
            "{} did not finish within {}s",
            ffmpeg.display(),
            PROBE_TIMEOUT.as_secs()
        )),
        BoundedEnd::TooMuchOutput => Err(format!(
            "{} wrote more than {PROBE_MAX_OUTPUT} bytes",
            ffmpeg.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (requested, camera sends H.264, hardware encoder works) → encoder.
    #[test]
    fn encoder_table() {
        use EncoderChoice::*;
        let cases = [
            (Encoder::Auto, true, true, Copy),
            (Encoder::Auto, true, false, Copy),
            (Encoder::Auto, false, true, V4l2m2m),
            (Encoder::Auto, false, false, Libx264),
            (Encoder::Libx264, true, true, Libx264),
            (Encoder::Libx264, false, true, Libx264),
            (Encoder::H264V4l2m2m, false, false, V4l2m2m),
            (Encoder::H264V4l2m2m, true, false, V4l2m2m),
            (Encoder::Copy, true, true, Copy),
        ];
        for (requested, h264, works, want) in cases {
            assert_eq!(
                choose_encoder(requested, h264, || works),
                want,
                "{requested:?} h264={h264} m2m={works}"
            );
        }
    }

    #[test]
    fn probe_only_when_it_matters() {
        let asked = std::cell::Cell::new(0);
        let works = || {
            asked.set(asked.get() + 1);
            true
        };
        choose_encoder(Encoder::Auto, true, works);
        choose_encoder(Encoder::Libx264, false, works);
        choose_encoder(Encoder::H264V4l2m2m, false, works);
        assert_eq!(asked.get(), 0);
        choose_encoder(Encoder::Auto, false, works);
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn bitrates() {
        use EncoderChoice::*;
        // Small frames still get at least 2 Mbit/s from the Pi encoder.
        assert_eq!(
            bitrate(V4l2m2m, None, (640, 480), 30).as_deref(),
            Some("2000k")
        );
        assert_eq!(
            bitrate(V4l2m2m, None, (1280, 720), 30).as_deref(),
            Some("2764k")
        );
        assert_eq!(
            bitrate(V4l2m2m, None, (1920, 1080), 30).as_deref(),
            Some("6220k")
        );
        assert_eq!(
            bitrate(V4l2m2m, None, (4096, 3040), 60).as_deref(),
            Some("20000k")
        );
        assert_eq!(
            bitrate(V4l2m2m, Some("800k"), (640, 480), 30).as_deref(),
            Some("800k")
        );
        assert_eq!(bitrate(Libx264, None, (1280, 720), 30), None);
        assert_eq!(
            bitrate(Libx264, Some("3M"), (1280, 720), 30).as_deref(),
            Some("3M")
        );
        assert_eq!(bitrate(Copy, None, (1280, 720), 30), None);
    }

    #[test]
    fn bitrate_text() {
        assert_eq!(parse_bitrate("2M"), Ok(2_000_000));
        assert_eq!(parse_bitrate("800k"), Ok(800_000));
        assert_eq!(parse_bitrate("1.5M"), Ok(1_500_000));
        assert_eq!(parse_bitrate("1500000"), Ok(1_500_000));
        for bad in ["", "M", "fast", "-2M", "0", "2G", "5"] {
            assert!(parse_bitrate(bad).is_err(), "{bad}");
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        tempfile::Builder::new()
            .prefix(&format!("hook-enc-{tag}-"))
            .tempdir()
            .unwrap()
            .keep()
    }

    /// A stand-in FFmpeg that lists h264_v4l2m2m, counts its probe encodes
    /// in `probes`, and succeeds or fails as told.
    fn fake_ffmpeg(dir: &Path, encode_ok: bool) -> PathBuf {
        let script = dir.join("ffmpeg");
        let count = dir.join("probes");
        let body = format!(
            "#!/bin/sh\n\
             case \"$*\" in *-encoders*) echo ' V..... h264_v4l2m2m  V4L2 mem2mem H.264 encoder wrapper'; exit 0;; esac\n\
             echo x >> '{}'\n\
             {}\n",
            count.display(),
            if encode_ok {
                "exit 0"
            } else {
                "echo '[h264_v4l2m2m] Could not find a valid device' >&2; exit 1"
            }
        );
        // Written through install(1), a child process, so this process never
        // holds the script open for writing: a sibling test forking then
        // would make its exec fail with ETXTBSY.
        let side = dir.join("ffmpeg.src");
        std::fs::write(&side, body).unwrap();
        let ok = std::process::Command::new("install")
            .args(["-m", "0755"])
            .arg(&side)
            .arg(&script)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        script
    }

    fn probes(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("probes"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn probe_result_is_cached_per_binary() {
        let dir = temp_dir("cache");
        let state = dir.join("state");
        let ffmpeg = fake_ffmpeg(&dir, true);
        assert!(v4l2m2m_works_cached(&ffmpeg, Some(&state)));
        assert!(v4l2m2m_works_cached(&ffmpeg, Some(&state)));
        assert_eq!(probes(&dir), 1, "second answer came from the cache");
        let record: ProbeRecord =
            serde_json::from_slice(&std::fs::read(state.join(CACHE_FILE)).unwrap()).unwrap();
        assert!(record.h264_v4l2m2m);
        assert_eq!(record.ffmpeg, std::fs::canonicalize(&ffmpeg).unwrap());

        // A new FFmpeg (rewritten: new size and mtime) is probed again.
        std::thread::sleep(Duration::from_millis(20));
        fake_ffmpeg(&dir, false);
        assert!(!v4l2m2m_works_cached(&ffmpeg, Some(&state)));
        assert_eq!(probes(&dir), 2);
        let record: ProbeRecord =
            serde_json::from_slice(&std::fs::read(state.join(CACHE_FILE)).unwrap()).unwrap();
        assert!(!record.h264_v4l2m2m);
        assert!(record
            .detail
            .unwrap()
            .contains("Could not find a valid device"));
        assert!(!v4l2m2m_works_cached(&ffmpeg, Some(&state)));
        assert_eq!(probes(&dir), 2, "a fresh failure is cached too");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cache_validity() {
        let id = FfmpegId {
            path: "/usr/bin/ffmpeg".into(),
            size: 10,
            mtime_ns: 5,
        };
        let good = ProbeRecord {
            ffmpeg: id.path.clone(),
            ffmpeg_size: 10,
            ffmpeg_mtime_ns: 5,
            boot_id: "b1".into(),
            h264_v4l2m2m: true,
            detail: None,
            probed_at: 1000,
        };
        assert!(record_is_valid(&good, &id, "b1", 1_000_000));
        assert!(!record_is_valid(&good, &id, "b2", 1000), "new boot");
        let moved = FfmpegId {
            mtime_ns: 6,
            ..id.clone()
        };
        assert!(!record_is_valid(&good, &moved, "b1", 1000), "new binary");
        let failed = ProbeRecord {
            h264_v4l2m2m: false,
            ..good.clone()
        };
        assert!(record_is_valid(&failed, &id, "b1", 1000 + 3599));
        assert!(
            !record_is_valid(&failed, &id, "b1", 1000 + 3600),
            "failure expired"
        );
    }

    #[test]
    fn missing_ffmpeg_has_no_hardware_encoder() {
        assert!(!v4l2m2m_works_cached(
            Path::new("/nonexistent/ffmpeg"),
            None
        ));
        assert!(identify(Path::new("no-such-ffmpeg-binary")).is_none());
    }

    /// The FFmpeg on this machine lists h264_v4l2m2m but has no device for
    /// it: the probe encode must fail, quickly.
    #[test]
    fn real_ffmpeg_without_hardware() {
        let id = identify(Path::new("ffmpeg")).expect("ffmpeg on PATH");
        let started = Instant::now();
        let result = probe_v4l2m2m(&id.path);
        assert!(started.elapsed() < PROBE_TIMEOUT);
        if std::path::Path::new("/dev/video11").exists() {
            return; // a machine with a real codec may pass
        }
        assert!(result.is_err(), "{result:?}");
    }
}
