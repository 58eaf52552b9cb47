//! What FFmpeg captures from: the resolved device and the input and encoder
//! chosen for it. `hook run` (before every start attempt) and `hook
//! snapshot` turn their flags into a [`CaptureInput`] through [`prepare`];
//! the FFmpeg command line is built from it. The decisions themselves live in
//! `input_choice` and `encoder_choice`, the device access in `probe`.

use std::path::{Path, PathBuf};

use crate::camera::device_error::DeviceError;
use crate::camera::encoder_choice::{self, choose_encoder, Encoder};
use crate::camera::formats::{self, Kind};
use crate::camera::input_choice::{choose_input, InputRequest};
use crate::camera::probe::{DeviceCaps, Probe, V4l2Probe};

/// The device name that selects FFmpeg's synthetic test pattern.
pub const TEST_PATTERN: &str = "testsrc";

/// What the device flags ask of a capture (`--input-format`, `--size`,
/// `--fps`, `--encoder`, `--bitrate`, `--ffmpeg`), as given, and where the
/// encoder probe caches its answer (the state directory).
#[derive(Clone, Debug, Default)]
pub struct CaptureRequest {
    /// FFmpeg name or V4L2 code of the input format wanted.
    pub input_format: Option<String>,
    /// Largest frame size wanted, `WxH`.
    pub size: Option<String>,
    /// Frame rate wanted.
    pub fps: Option<u32>,
    pub encoder: Encoder,
    /// Target bitrate, as FFmpeg reads it (`2M`, `800k`).
    pub bitrate: Option<String>,
    /// The FFmpeg binary to run.
    pub ffmpeg: PathBuf,
    /// Where the hardware-encoder probe caches its answer (none: not cached).
    pub cache_dir: Option<PathBuf>,
}

/// Where frames come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// FFmpeg's `testsrc2` lavfi source: no camera needed.
    TestPattern,
    /// A V4L2 device node (as given; may be a by-id symlink).
    Device(PathBuf),
}

/// The encoder actually used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncoderChoice {
    /// `-c:v copy` of the camera's H.264.
    Copy,
    /// `libx264 -preset ultrafast -tune zerolatency`.
    Libx264,
    /// `h264_v4l2m2m` with `-pix_fmt yuv420p`.
    V4l2m2m,
}

/// The resolved capture: source, input format, size, rate and encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureInput {
    pub source: Source,
    /// FFmpeg's `-input_format` name (`mjpeg`, `yuyv422`, `h264`…), if chosen.
    pub input_format: Option<String>,
    /// Frame size (width, height), if chosen.
    pub size: Option<(u32, u32)>,
    /// Frame rate, if chosen.
    pub fps: Option<u32>,
    pub encoder: EncoderChoice,
    /// Target bitrate for the encoder (`2M`, `800k`), if given.
    pub bitrate: Option<String>,
}

/// Default frame size asked of a camera and of the test pattern.
pub const DEFAULT_SIZE: (u32, u32) = (1280, 720);
/// Default frame rate.
pub const DEFAULT_FPS: u32 = 30;
/// Frame size and rate of the test pattern (kept small: it is encoded in
/// software on machines as small as a Raspberry Pi).
pub const TEST_PATTERN_SIZE: (u32, u32) = (640, 480);
pub const TEST_PATTERN_FPS: u32 = 15;

/// Parses `WxH`.
pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("size {text:?} is not WxH (e.g. 1280x720)");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.parse().map_err(|_| bad())?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    if w == 0 || h == 0 || w > 16384 || h > 16384 {
        return Err(bad());
    }
    Ok((w, h))
}

/// Turns the device flags into a capture input for `device`.
///
/// For the test pattern this is pure. For a real device the node is checked
/// and probed ([`V4l2Probe`]) and its input and encoder chosen
/// ([`choose_input`], [`choose_encoder`]). A problem with the device (not
/// found, not a capture device, permission denied, busy, size or format not
/// offered) comes back as a [`DeviceError`] inside the `anyhow::Error`
/// (find it with [`DeviceError::find`]): its text is fit for `last_error`,
/// and the caller waits for the device and tries again. Bad flags are usage
/// errors (`crate::error::is_usage`), which no retry can fix.
pub fn prepare(device: &str, args: &CaptureRequest) -> anyhow::Result<CaptureInput> {
    let cache_dir = args.cache_dir.as_deref();
    let v4l2m2m_works = |ffmpeg: &Path| encoder_choice::v4l2m2m_works_cached(ffmpeg, cache_dir);
    prepare_with(&V4l2Probe, &v4l2m2m_works, device, args)
}

/// [`prepare`] with the probe and the hardware-encoder check given, so
/// tests can feed capability tables.
pub fn prepare_with(
    probe: &dyn Probe,
    v4l2m2m_works: &dyn Fn(&Path) -> bool,
    device: &str,
    args: &CaptureRequest,
) -> anyhow::Result<CaptureInput> {
    let flags = check_flags(args)?;
    if device == TEST_PATTERN {
        if args.encoder == Encoder::Copy {
            return Err(crate::error::usage(
                "--encoder copy copies a camera's H.264; the test pattern has none \
                 (use auto, libx264 or h264_v4l2m2m)",
            ));
        }
        if let Some(f) = &args.input_format {
            log::warn!("--input-format {f} is ignored for the test pattern");
        }
        let size = flags.size.unwrap_or(TEST_PATTERN_SIZE);
        let fps = args.fps.unwrap_or(TEST_PATTERN_FPS);
        // The test pattern starts with libx264 under `auto`: no probe, so
        // the start stays fast and the same on every machine.
        let encoder = match args.encoder {
            Encoder::H264V4l2m2m => EncoderChoice::V4l2m2m,
            _ => EncoderChoice::Libx264,
        };
        return Ok(CaptureInput {
            source: Source::TestPattern,
            input_format: None,
            size: Some(size),
            fps: Some(fps),
            encoder,
            bitrate: encoder_choice::bitrate(encoder, args.bitrate.as_deref(), size, fps),
        });
    }
    let path = Path::new(device);
    let caps = probe.probe(path)?;
    if caps.busy {
        return Err(DeviceError::Busy {
            device: path.to_path_buf(),
        }
        .into());
    }
    let input = choose(path, &caps, args, v4l2m2m_works)?;
    log::info!("{} ({}): {}", path.display(), caps.card, describe(&input));
    Ok(input)
}

/// The flags, checked before any device is touched: a bad value is a
/// usage error.
pub(crate) struct Flags {
    pub size: Option<(u32, u32)>,
}

pub(crate) fn check_flags(args: &CaptureRequest) -> anyhow::Result<Flags> {
    use crate::error::usage;
    let size = args
        .size
        .as_deref()
        .map(parse_size)
        .transpose()
        .map_err(usage)?;
    if let Some(fps) = args.fps {
        if !(1..=1000).contains(&fps) {
            return Err(usage(format!(
                "--fps {fps} is out of range; expected 1 to 1000"
            )));
        }
    }
    if let Some(b) = &args.bitrate {
        encoder_choice::parse_bitrate(b).map_err(usage)?;
    }
    if let Some(f) = &args.input_format {
        if !formats::is_known_name(f) {
            return Err(usage(format!(
                "--input-format {f:?} is not a format FFmpeg can capture; expected one of {} \
                 (or a V4L2 code such as MJPG or YUYV)",
                formats::known_names().join(", ")
            )));
        }
        if args.encoder == Encoder::Copy && !formats::matches(f, formats::FourCc::new("H264")) {
            return Err(usage(format!(
                "--encoder copy copies the camera's H.264 and cannot be used with \
                 --input-format {f}"
            )));
        }
    }
    Ok(Flags { size })
}

/// Chooses input and encoder for a probed device (also what `hook devices`
/// shows). Errors are [`DeviceError::Unsupported`] or usage errors.
pub fn choose(
    path: &Path,
    caps: &DeviceCaps,
    args: &CaptureRequest,
    v4l2m2m_works: &dyn Fn(&Path) -> bool,
) -> anyhow::Result<CaptureInput> {
    let flags = check_flags(args)?;
    let request = InputRequest {
        format: args.input_format.as_deref(),
        size: flags.size.unwrap_or(DEFAULT_SIZE),
        size_explicit: flags.size.is_some(),
        fps: args.fps.unwrap_or(DEFAULT_FPS),
        h264_only: args.encoder == Encoder::Copy,
    };
    let choice =
        choose_input(&caps.formats, &request).map_err(|problem| DeviceError::Unsupported {
            device: path.to_path_buf(),
            problem,
        })?;
    let encoder = choose_encoder(args.encoder, choice.kind == Kind::H264, || {
        v4l2m2m_works(&args.ffmpeg)
    });
    let size = choice.size.unwrap_or(request.size);
    if let (EncoderChoice::V4l2m2m, Some(given)) = (encoder, args.bitrate.as_deref()) {
        if encoder_choice::parse_bitrate(given).is_ok_and(|b| b < 1_000_000) {
            log::warn!(
                "--bitrate {given} is below 1M: the Raspberry Pi's h264_v4l2m2m is known to \
                 fail at low bitrates"
            );
        }
    }
    Ok(CaptureInput {
        source: Source::Device(path.to_path_buf()),
        input_format: Some(choice.ffmpeg_format.to_string()),
        size: Some(size),
        fps: Some(choice.fps),
        encoder,
        bitrate: encoder_choice::bitrate(encoder, args.bitrate.as_deref(), size, choice.fps),
    })
}

/// `h264 1280x720 at 30 fps, encoder copy`.
pub fn describe(input: &CaptureInput) -> String {
    let mut text = String::new();
    if let Some(f) = &input.input_format {
        text.push_str(f);
        text.push(' ');
    }
    if let Some((w, h)) = input.size {
        text.push_str(&format!("{w}x{h} "));
    }
    if let Some(fps) = input.fps {
        text.push_str(&format!("at {fps} fps, "));
    }
    text.push_str(&format!("encoder {}", input.encoder.ffmpeg_name()));
    if let Some(b) = &input.bitrate {
        text.push_str(&format!(" at {b}"));
    }
    text
}

impl EncoderChoice {
    /// The name FFmpeg's `-c:v` takes.
    pub fn ffmpeg_name(self) -> &'static str {
        match self {
            EncoderChoice::Copy => "copy",
            EncoderChoice::Libx264 => "libx264",
            EncoderChoice::V4l2m2m => "h264_v4l2m2m",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::tables::*;
    use crate::error::is_usage;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1280x720").unwrap(), (1280, 720));
        assert!(parse_size("1280").is_err());
        assert!(parse_size("0x720").is_err());
        assert!(parse_size("axb").is_err());
    }

    #[test]
    fn test_pattern_defaults() {
        let c = prepare(TEST_PATTERN, &CaptureRequest::default()).unwrap();
        assert_eq!(c.source, Source::TestPattern);
        assert_eq!(c.size, Some(TEST_PATTERN_SIZE));
        assert_eq!(c.encoder, EncoderChoice::Libx264);
        assert_eq!(c.bitrate, None);
    }

    fn one_camera(caps: DeviceCaps) -> TableProbe {
        TableProbe(vec![(PathBuf::from("/dev/video0"), Ok(caps))])
    }

    fn args(f: impl FnOnce(&mut CaptureRequest)) -> CaptureRequest {
        let mut a = CaptureRequest::default();
        f(&mut a);
        a
    }

    /// Camera table × flags × hardware encoder → the whole capture input.
    #[test]
    fn prepare_table() {
        type Row = (
            &'static str,
            Vec<crate::camera::probe::FormatCaps>,
            CaptureRequest,
            bool,
            &'static str,
        );
        let rows: Vec<Row> = vec![
            (
                "c920",
                c920(),
                CaptureRequest::default(),
                true,
                "h264 1280x720 at 30 fps, encoder copy",
            ),
            (
                "c920 --encoder libx264",
                c920(),
                args(|a| a.encoder = Encoder::Libx264),
                true,
                "h264 1280x720 at 30 fps, encoder libx264",
            ),
            (
                "c920 --input-format mjpeg",
                c920(),
                args(|a| a.input_format = Some("mjpeg".into())),
                true,
                "mjpeg 1280x720 at 30 fps, encoder h264_v4l2m2m at 2764k",
            ),
            (
                "c270 with hardware encoder",
                c270(),
                CaptureRequest::default(),
                true,
                "mjpeg 1280x720 at 30 fps, encoder h264_v4l2m2m at 2764k",
            ),
            (
                "c270 without",
                c270(),
                CaptureRequest::default(),
                false,
                "mjpeg 1280x720 at 30 fps, encoder libx264",
            ),
            (
                "c270 --bitrate 900k",
                c270(),
                args(|a| a.bitrate = Some("900k".into())),
                true,
                "mjpeg 1280x720 at 30 fps, encoder h264_v4l2m2m at 900k",
            ),
            (
                "cheap --encoder h264_v4l2m2m",
                cheap_uvc(),
                args(|a| a.encoder = Encoder::H264V4l2m2m),
                false,
                "yuyv422 640x480 at 30 fps, encoder h264_v4l2m2m at 2000k",
            ),
            (
                "pi --size 1920x1080 --fps 25",
                pi_bcm2835(),
                args(|a| {
                    a.size = Some("1920x1080".into());
                    a.fps = Some(25)
                }),
                false,
                "h264 1920x1080 at 25 fps, encoder copy",
            ),
            (
                "unicam",
                pi_unicam(),
                CaptureRequest::default(),
                false,
                "bayer_rggb8 1280x720 at 30 fps, encoder libx264",
            ),
            (
                "no sizes listed",
                vec![fmt("YUYV", vec![])],
                args(|a| a.size = Some("800x600".into())),
                false,
                "yuyv422 800x600 at 30 fps, encoder libx264",
            ),
        ];
        for (name, table, a, m2m, want) in rows {
            let probe = one_camera(device("cam", "uvcvideo", table));
            let got = prepare_with(&probe, &|_| m2m, "/dev/video0", &a).unwrap();
            assert_eq!(got.source, Source::Device("/dev/video0".into()), "{name}");
            assert_eq!(describe(&got), want, "{name}");
        }
    }

    /// Device problems are `DeviceError`s with the text for `last_error`.
    #[test]
    fn device_problems() {
        let busy = DeviceCaps {
            busy: true,
            ..device("cam", "uvcvideo", c270())
        };
        let err = prepare_with(
            &one_camera(busy),
            &|_| false,
            "/dev/video0",
            &CaptureRequest::default(),
        )
        .unwrap_err();
        assert!(matches!(
            DeviceError::find(&err),
            Some(DeviceError::Busy { .. })
        ));
        assert_eq!(
            err.to_string(),
            "device /dev/video0 is busy: another program is capturing from it"
        );

        let probe = one_camera(device("cam", "uvcvideo", c270()));
        let err = prepare_with(
            &probe,
            &|_| false,
            "/dev/video7",
            &CaptureRequest::default(),
        )
        .unwrap_err();
        assert!(matches!(
            DeviceError::find(&err),
            Some(DeviceError::NotFound { .. })
        ));

        let err = prepare_with(
            &probe,
            &|_| false,
            "/dev/video0",
            &args(|a| a.encoder = Encoder::Copy),
        )
        .unwrap_err();
        assert!(!is_usage(&err));
        assert_eq!(
            err.to_string(),
            "device /dev/video0: the camera does not offer input format \"h264\"; it offers yuyv422 (YUYV), mjpeg (MJPG)"
        );
        let probe = one_camera(device("cam", "uvcvideo", only_1080p_mjpeg()));
        let err = prepare_with(
            &probe,
            &|_| false,
            "/dev/video0",
            &args(|a| a.size = Some("640x480".into())),
        )
        .unwrap_err();
        assert!(matches!(
            DeviceError::find(&err),
            Some(DeviceError::Unsupported { .. })
        ));
        assert!(err
            .to_string()
            .ends_with("no frame size within 640x480 for mjpeg; it offers 1920x1080"));
    }

    /// Bad flags are usage errors, found before any device is touched.
    #[test]
    fn bad_flags_are_usage_errors() {
        let probe = TableProbe(vec![]);
        let cases: Vec<(CaptureRequest, &str)> = vec![
            (args(|a| a.size = Some("big".into())), "size \"big\" is not WxH"),
            (args(|a| a.fps = Some(0)), "--fps 0 is out of range"),
            (args(|a| a.bitrate = Some("fast".into())), "bitrate \"fast\" is not a number"),
            (args(|a| a.input_format = Some("h265".into())), "--input-format \"h265\" is not a format FFmpeg can capture; expected one of h264, mjpeg, yuv420p"),
            (args(|a| { a.encoder = Encoder::Copy; a.input_format = Some("mjpeg".into()) }), "--encoder copy copies the camera's H.264 and cannot be used with --input-format mjpeg"),
        ];
        for (a, text) in cases {
            let err = prepare_with(&probe, &|_| false, "/dev/video0", &a).unwrap_err();
            assert!(is_usage(&err), "{err}");
            assert!(err.to_string().contains(text), "{err}");
        }
        let err = prepare_with(
            &probe,
            &|_| false,
            TEST_PATTERN,
            &args(|a| a.encoder = Encoder::Copy),
        )
        .unwrap_err();
        assert!(is_usage(&err), "{err}");
    }

    /// The real prepare on real nodes that are not cameras.
    #[test]
    fn real_nodes() {
        let err = prepare("/dev/null", &CaptureRequest::default()).unwrap_err();
        assert!(matches!(
            DeviceError::find(&err),
            Some(DeviceError::NotCapture { .. })
        ));
        let err = prepare("/nonexistent/video0", &CaptureRequest::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "device /nonexistent/video0 not found: no such file (is the camera plugged in?)"
        );
    }
}
