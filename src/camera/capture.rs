//! What FFmpeg captures from: the resolved device and the input and encoder
//! chosen for it. `hook run` (before every start attempt) and `hook
//! snapshot` turn their flags into a [`CaptureInput`] through [`prepare`];
//! the FFmpeg command line is built from it. The decisions themselves live in
//! `input_choice` and `encoder_choice`, the device access in `probe`.

use std::path::{Path, PathBuf};

use crate::camera::device_error::DeviceError;
/// The encoder used lives with its choice; named here too because a
/// [`CaptureInput`] carries it.
pub(crate) use crate::camera::encoder_choice::EncoderChoice;
use crate::camera::encoder_choice::{self, choose_encoder, Encoder};
use crate::camera::formats::{self, Kind};
use crate::camera::input_choice::{choose_input, InputRequest};
use crate::camera::probe::{DeviceCaps, Probe, V4l2Probe};

/// The device name that selects FFmpeg's synthetic test pattern.
pub(crate) const TEST_PATTERN: &str = "testsrc";

/// What the device flags ask of a capture (`--input-format`, `--size`,
/// `--fps`, `--encoder`, `--bitrate`, `--ffmpeg`), as given, and where the
/// encoder probe caches its answer (the state directory).
#[derive(Clone, Debug, Default)]
pub struct CaptureRequest {
    /// The input format wanted.
    pub input_format: Option<InputFormat>,
    /// Largest frame size wanted.
    pub size: Option<WantedSize>,
    /// Frame rate wanted.
    pub fps: Option<u32>,
    pub encoder: Encoder,
    /// Target bitrate.
    pub bitrate: Option<Bitrate>,
    /// The FFmpeg binary to run.
    pub ffmpeg: PathBuf,
    /// Where the hardware-encoder probe caches its answer (none: not cached).
    pub cache_dir: Option<PathBuf>,
}

/// Where frames come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// FFmpeg's `testsrc2` lavfi source: no camera needed.
    TestPattern,
    /// A V4L2 device node (as given; may be a by-id symlink).
    Device(PathBuf),
}

/// The resolved capture: source, input format, size, rate and encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CaptureInput {
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
pub(crate) const DEFAULT_SIZE: (u32, u32) = (1280, 720);
/// Default frame rate.
pub(crate) const DEFAULT_FPS: u32 = 30;
/// Frame size and rate of the test pattern (kept small: it is encoded in
/// software on machines as small as a Raspberry Pi).
pub(crate) const TEST_PATTERN_SIZE: (u32, u32) = (640, 480);
pub(crate) const TEST_PATTERN_FPS: u32 = 15;

/// Parses `WxH`.
pub(crate) fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("size {text:?} is not WxH (e.g. 1280x720)");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.parse().map_err(|_| bad())?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    if w == 0 || h == 0 || w > 16384 || h > 16384 {
        return Err(bad());
    }
    Ok((w, h))
}

/// A largest frame size asked for (`--size WxH`): one that FFmpeg's H.264
/// encoders can encode, both sides even (4:2:0 chroma halves them) and at
/// least [`WantedSize::MIN_SIDE`] (the hardware encoders' floor; libx264
/// refuses any odd side such as `1x1`), at most 16384.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WantedSize {
    pub width: u32,
    pub height: u32,
}

impl WantedSize {
    /// Smallest side accepted.
    pub(crate) const MIN_SIDE: u32 = 32;

    /// Parses and checks `WxH`; the error names the value and what is
    /// expected (clap puts it after the flag's name).
    pub fn parse(text: &str) -> Result<WantedSize, String> {
        let (width, height) = parse_size(text)?;
        let min = Self::MIN_SIDE;
        if width < min || height < min || width % 2 == 1 || height % 2 == 1 {
            return Err(format!(
                "size {text:?} cannot be encoded: expected even width and height, at least {min}x{min} (H.264 in 4:2:0 needs even sides), e.g. 640x480 or 1280x720"
            ));
        }
        Ok(WantedSize { width, height })
    }

    /// (width, height).
    pub(crate) fn pair(self) -> (u32, u32) {
        (self.width, self.height)
    }
}

impl std::fmt::Display for WantedSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// A target bitrate (`--bitrate`), checked by
/// [`encoder_choice::parse_bitrate`] and kept as given: FFmpeg reads the
/// same text (`2M`, `800k`, `1500000`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitrate(String);

impl Bitrate {
    pub fn parse(text: &str) -> Result<Bitrate, String> {
        encoder_choice::parse_bitrate(text).map(|_| Bitrate(text.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// An input format to ask the camera for (`--input-format`): a format FFmpeg
/// can capture, by FFmpeg name or by V4L2 code (`MJPG`, `YUYV`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFormat(String);

impl InputFormat {
    pub fn parse(text: &str) -> Result<InputFormat, String> {
        if formats::is_known_name(text) {
            Ok(InputFormat(text.to_string()))
        } else {
            Err(format!(
                "{text:?} is not a format FFmpeg can capture; expected one of {} (or a V4L2 code such as MJPG or YUYV)",
                formats::known_names().join(", ")
            ))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl CaptureRequest {
    /// The one check the flags' own parsers cannot make, because it takes two
    /// of them: `--encoder copy` copies the camera's H.264, so an
    /// `--input-format` other than H.264 contradicts it. A usage error.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        if let Some(f) = &self.input_format {
            if self.encoder == Encoder::Copy
                && !formats::matches(f.as_str(), formats::FourCc::new("H264"))
            {
                return Err(crate::error::usage(format!(
                    "--encoder copy copies the camera's H.264 and cannot be used with \
                     --input-format {f}"
                )));
            }
        }
        Ok(())
    }
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
pub(crate) fn prepare(device: &str, args: &CaptureRequest) -> anyhow::Result<CaptureInput> {
    let cache_dir = args.cache_dir.as_deref();
    let v4l2m2m_works = |ffmpeg: &Path| encoder_choice::v4l2m2m_works_cached(ffmpeg, cache_dir);
    prepare_with(&V4l2Probe, &v4l2m2m_works, device, args)
}

/// [`prepare`] with the probe and the hardware-encoder check given, so
/// tests can feed capability tables.
pub(crate) fn prepare_with(
    probe: &dyn Probe,
    v4l2m2m_works: &dyn Fn(&Path) -> bool,
    device: &str,
    args: &CaptureRequest,
) -> anyhow::Result<CaptureInput> {
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
        let size = args.size.map_or(TEST_PATTERN_SIZE, WantedSize::pair);
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
            bitrate: encoder_choice::bitrate(
                encoder,
                args.bitrate.as_ref().map(Bitrate::as_str),
                size,
                fps,
            ),
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

/// Chooses input and encoder for a probed device (also what `hook devices`
/// shows). Errors are [`DeviceError::Unsupported`] or usage errors.
pub(crate) fn choose(
    path: &Path,
    caps: &DeviceCaps,
    args: &CaptureRequest,
    v4l2m2m_works: &dyn Fn(&Path) -> bool,
) -> anyhow::Result<CaptureInput> {
    let request = InputRequest {
        format: args.input_format.as_ref().map(InputFormat::as_str),
        size: args.size.map_or(DEFAULT_SIZE, WantedSize::pair),
        size_explicit: args.size.is_some(),
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
    if let (EncoderChoice::V4l2m2m, Some(given)) =
        (encoder, args.bitrate.as_ref().map(Bitrate::as_str))
    {
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
        bitrate: encoder_choice::bitrate(
            encoder,
            args.bitrate.as_ref().map(Bitrate::as_str),
            size,
            choice.fps,
        ),
    })
}

/// `h264 1280x720 at 30 fps, encoder copy`.
pub(crate) fn describe(input: &CaptureInput) -> String {
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
                args(|a| a.input_format = Some(InputFormat::parse("mjpeg").unwrap())),
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
                args(|a| a.bitrate = Some(Bitrate::parse("900k").unwrap())),
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
                    a.size = Some(WantedSize::parse("1920x1080").unwrap());
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
                args(|a| a.size = Some(WantedSize::parse("800x600").unwrap())),
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
            &args(|a| a.size = Some(WantedSize::parse("640x480").unwrap())),
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

    /// Bad flag values are refused by their own parsers (clap calls them
    /// while reading the command line, before anything starts); the one
    /// check that takes two flags is a usage error of the request.
    #[test]
    fn bad_flags_are_refused() {
        let e = WantedSize::parse("big").unwrap_err();
        assert!(e.contains("size \"big\" is not WxH"), "{e}");
        let e = Bitrate::parse("fast").unwrap_err();
        assert!(e.contains("bitrate \"fast\" is not a number"), "{e}");
        let e = InputFormat::parse("h265").unwrap_err();
        assert!(
            e.contains(
                "\"h265\" is not a format FFmpeg can capture; expected one of h264, mjpeg, yuv420p"
            ),
            "{e}"
        );
        let a = args(|a| {
            a.encoder = Encoder::Copy;
            a.input_format = Some(InputFormat::parse("mjpeg").unwrap())
        });
        let err = a.check().unwrap_err();
        assert!(is_usage(&err), "{err}");
        assert!(
            err.to_string().contains(
                "--encoder copy copies the camera's H.264 and cannot be used with --input-format mjpeg"
            ),
            "{err}"
        );
        assert!(args(|a| a.encoder = Encoder::Copy).check().is_ok());
        let probe = TableProbe(vec![]);
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
