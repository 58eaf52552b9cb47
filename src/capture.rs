//! What FFmpeg captures from: the resolved device and the input and encoder
//! chosen for it. `hook run` and `hook snapshot` turn their flags into a
//! [`CaptureInput`] through [`prepare`]; the FFmpeg command line is built
//! from it.

use std::path::{Path, PathBuf};

use crate::cli::{DeviceArgs, Encoder};

/// The device name that selects FFmpeg's synthetic test pattern.
pub const TEST_PATTERN: &str = "testsrc";

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
/// For the test pattern this is pure. For a real device the camera is
/// checked and its capabilities chosen from by the V4L2 module; problems
/// (missing device, not a capture device, busy…) come back as errors whose
/// text is fit for `last_error`.
pub fn prepare(device: &str, args: &DeviceArgs) -> anyhow::Result<CaptureInput> {
    let size = args
        .size
        .as_deref()
        .map(parse_size)
        .transpose()
        .map_err(crate::error::usage)?;
    if device == TEST_PATTERN {
        return Ok(CaptureInput {
            source: Source::TestPattern,
            input_format: None,
            size: Some(size.unwrap_or(TEST_PATTERN_SIZE)),
            fps: Some(args.fps.unwrap_or(TEST_PATTERN_FPS)),
            encoder: match args.encoder {
                Encoder::H264V4l2m2m => EncoderChoice::V4l2m2m,
                _ => EncoderChoice::Libx264,
            },
            bitrate: args.bitrate.clone(),
        });
    }
    let path = Path::new(device);
    if !path.exists() {
        anyhow::bail!("device {device} not found");
    }
    Ok(CaptureInput {
        source: Source::Device(path.to_path_buf()),
        input_format: args.input_format.clone(),
        size,
        fps: args.fps,
        encoder: match args.encoder {
            Encoder::Copy => EncoderChoice::Copy,
            Encoder::H264V4l2m2m => EncoderChoice::V4l2m2m,
            Encoder::Auto | Encoder::Libx264 => EncoderChoice::Libx264,
        },
        bitrate: args.bitrate.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1280x720").unwrap(), (1280, 720));
        assert!(parse_size("1280").is_err());
        assert!(parse_size("0x720").is_err());
        assert!(parse_size("axb").is_err());
    }

    #[test]
    fn test_pattern_defaults() {
        let c = prepare(TEST_PATTERN, &DeviceArgs::default()).unwrap();
        assert_eq!(c.source, Source::TestPattern);
        assert_eq!(c.size, Some(TEST_PATTERN_SIZE));
        assert_eq!(c.encoder, EncoderChoice::Libx264);
    }
}
