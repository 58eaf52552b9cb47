//! V4L2 pixel formats: their four-character codes, the name FFmpeg's `v4l2`
//! input takes for each (`-input_format`), and the order `hook run` prefers
//! them in.
//!
//! The table follows FFmpeg's own fourcc ↔ pixel-format table
//! (libavdevice/v4l2-common.c): a format missing from it cannot be captured by
//! FFmpeg at all (NV21, YVYU, packed Bayer…), so it is shown by `hook
//! devices` but never chosen.

use std::fmt;

use serde::{Serialize, Serializer};

/// A V4L2 pixel format code (`MJPG`, `YUYV`, `H264`, `Y16 `).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FourCc(pub [u8; 4]);

impl FourCc {
    /// From text; shorter codes are padded with spaces as V4L2 does (`Y16`).
    pub(crate) const fn new(code: &str) -> FourCc {
        let b = code.as_bytes();
        let mut out = [b' '; 4];
        let mut i = 0;
        while i < 4 && i < b.len() {
            out[i] = b[i];
            i += 1;
        }
        FourCc(out)
    }

    /// From the 32-bit little-endian value the kernel uses.
    #[cfg(test)]
    pub(crate) fn from_u32(code: u32) -> FourCc {
        FourCc(code.to_le_bytes())
    }

    /// The code as text, trailing spaces trimmed, non-printable bytes as `?`.
    pub(crate) fn name(&self) -> String {
        let text: String = self
            .0
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '?'
                }
            })
            .collect();
        text.trim_end().to_string()
    }
}

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc({})", self.name())
    }
}

impl Serialize for FourCc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// What kind of data a format carries; decides preference and encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// H.264 from the camera: published as it is (copied).
    H264,
    /// Motion-JPEG: small over USB, decoded and encoded.
    Jpeg,
    /// Uncompressed frames.
    Raw,
}

/// One format FFmpeg's `v4l2` input can capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KnownFormat {
    pub fourcc: FourCc,
    /// FFmpeg's `-input_format` value.
    pub ffmpeg: &'static str,
    pub kind: Kind,
    /// Lower is preferred.
    pub rank: u16,
}

const fn known(code: &str, ffmpeg: &'static str, kind: Kind, rank: u16) -> KnownFormat {
    KnownFormat {
        fourcc: FourCc::new(code),
        ffmpeg,
        kind,
        rank,
    }
}

/// Every format FFmpeg can capture, in the order `hook run` prefers them.
///
/// H.264 first (no encoding at all), then JPEG (far more frames per second
/// over USB than raw), then raw: planar/semi-planar 4:2:0 first because the
/// encoders take yuv420p and need no chroma conversion, then the packed
/// 4:2:2 formats every UVC camera has, then RGB, grey and Bayer. YV12 is
/// late because FFmpeg reads it as yuv420p without swapping its chroma
/// planes (wrong colours).
pub(crate) const KNOWN_FORMATS: &[KnownFormat] = &[
    known("H264", "h264", Kind::H264, 0),
    known("MJPG", "mjpeg", Kind::Jpeg, 10),
    known("JPEG", "mjpeg", Kind::Jpeg, 11),
    known("YU12", "yuv420p", Kind::Raw, 20),
    known("NV12", "nv12", Kind::Raw, 21),
    known("YUYV", "yuyv422", Kind::Raw, 22),
    known("UYVY", "uyvy422", Kind::Raw, 23),
    known("422P", "yuv422p", Kind::Raw, 24),
    known("411P", "yuv411p", Kind::Raw, 25),
    known("YUV9", "yuv410p", Kind::Raw, 26),
    known("RGB3", "rgb24", Kind::Raw, 30),
    known("BGR3", "bgr24", Kind::Raw, 31),
    known("XR24", "bgr0", Kind::Raw, 32),
    known("BX24", "0rgb", Kind::Raw, 33),
    known("AR24", "bgra", Kind::Raw, 34),
    known("BA24", "argb", Kind::Raw, 35),
    known("BGR4", "bgr0", Kind::Raw, 36),
    known("RGB4", "0rgb", Kind::Raw, 37),
    known("RGBP", "rgb565le", Kind::Raw, 38),
    known("RGBR", "rgb565be", Kind::Raw, 39),
    known("RGBO", "rgb555le", Kind::Raw, 40),
    known("RGBQ", "rgb555be", Kind::Raw, 41),
    known("YV12", "yuv420p", Kind::Raw, 45),
    known("YVU9", "yuv410p", Kind::Raw, 46),
    known("GREY", "gray", Kind::Raw, 50),
    known("Y16", "gray16le", Kind::Raw, 51),
    known("Z16", "gray16le", Kind::Raw, 52),
    known("BA81", "bayer_bggr8", Kind::Raw, 60),
    known("GBRG", "bayer_gbrg8", Kind::Raw, 61),
    known("GRBG", "bayer_grbg8", Kind::Raw, 62),
    known("RGGB", "bayer_rggb8", Kind::Raw, 63),
];

/// FFmpeg's view of a camera format, if FFmpeg can capture it.
pub(crate) fn lookup(fourcc: FourCc) -> Option<&'static KnownFormat> {
    KNOWN_FORMATS.iter().find(|k| k.fourcc == fourcc)
}

/// Short names people type for `--input-format`, mapped to FFmpeg's names.
const ALIASES: &[(&str, &str)] = &[
    ("yuyv", "yuyv422"),
    ("yuy2", "yuyv422"),
    ("uyvy", "uyvy422"),
    ("mjpg", "mjpeg"),
    ("jpeg", "mjpeg"),
    ("i420", "yuv420p"),
    ("grey", "gray"),
];

/// True when `--input-format` text `asked` means camera format `fourcc`:
/// its FFmpeg name (`yuyv422`), a common short name (`yuyv`) or the fourcc
/// itself (`YUYV`), in any case.
pub(crate) fn matches(asked: &str, fourcc: FourCc) -> bool {
    let asked = asked.trim().to_ascii_lowercase();
    if asked == fourcc.name().to_ascii_lowercase() {
        return true;
    }
    let Some(known) = lookup(fourcc) else {
        return false;
    };
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == asked)
        .map(|(_, name)| *name)
        .unwrap_or(asked.as_str());
    canonical == known.ffmpeg
}

/// True when `asked` names some format FFmpeg can capture (used to reject a
/// typo as a usage error before any camera is asked).
pub(crate) fn is_known_name(asked: &str) -> bool {
    KNOWN_FORMATS.iter().any(|k| matches(asked, k.fourcc))
}

/// The FFmpeg names `--input-format` accepts, for error messages.
pub(crate) fn known_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for k in KNOWN_FORMATS {
        if !names.contains(&k.ffmpeg) {
            names.push(k.ffmpeg);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_text_round_trip() {
        assert_eq!(FourCc::new("MJPG").name(), "MJPG");
        assert_eq!(FourCc::new("Y16").0, *b"Y16 ");
        assert_eq!(FourCc::new("Y16").name(), "Y16");
        // V4L2_PIX_FMT_YUYV as the kernel stores it.
        assert_eq!(FourCc::from_u32(0x5659_5559), FourCc::new("YUYV"));
        assert_eq!(FourCc([b'a', 0, 1, b'b']).name(), "a??b");
    }

    /// Every V4L2 code maps to the `-input_format` name FFmpeg expects.
    #[test]
    fn ffmpeg_names() {
        let table = [
            ("MJPG", Some("mjpeg")),
            ("JPEG", Some("mjpeg")),
            ("YUYV", Some("yuyv422")),
            ("H264", Some("h264")),
            ("NV12", Some("nv12")),
            ("YU12", Some("yuv420p")),
            ("UYVY", Some("uyvy422")),
            ("RGB3", Some("rgb24")),
            ("GREY", Some("gray")),
            ("RGGB", Some("bayer_rggb8")),
            // FFmpeg's v4l2 input has no entry for these.
            ("NV21", None),
            ("YVYU", None),
            ("pRAA", None),
            ("RX24", None),
        ];
        for (code, name) in table {
            assert_eq!(lookup(FourCc::new(code)).map(|k| k.ffmpeg), name, "{code}");
        }
    }

    #[test]
    fn input_format_spellings() {
        let yuyv = FourCc::new("YUYV");
        for asked in ["yuyv", "YUYV", "yuyv422", "Yuy2"] {
            assert!(matches(asked, yuyv), "{asked}");
        }
        assert!(!matches("mjpeg", yuyv));
        let mjpg = FourCc::new("MJPG");
        for asked in ["mjpeg", "MJPG", "mjpg", "jpeg"] {
            assert!(matches(asked, mjpg), "{asked}");
        }
        assert!(matches("jpeg", FourCc::new("JPEG")));
        assert!(matches("h264", FourCc::new("H264")));
        // A format FFmpeg cannot read still matches its own code.
        assert!(matches("nv21", FourCc::new("NV21")));
        assert!(is_known_name("yuyv"));
        assert!(!is_known_name("h265"));
        assert!(!is_known_name("nv21"));
    }

    #[test]
    fn preference_order() {
        let rank = |c: &str| lookup(FourCc::new(c)).unwrap().rank;
        assert!(rank("H264") < rank("MJPG"));
        assert!(rank("MJPG") < rank("JPEG"));
        assert!(rank("JPEG") < rank("YU12"));
        assert!(rank("YUYV") < rank("RGB3"));
        assert!(rank("RGB3") < rank("YV12"));
        assert!(rank("GREY") < rank("BA81"));
        let mut ranks: Vec<u16> = KNOWN_FORMATS.iter().map(|k| k.rank).collect();
        let sorted = {
            let mut s = ranks.clone();
            s.sort();
            s
        };
        assert_eq!(ranks, sorted, "table is in preference order");
        ranks.dedup();
        assert_eq!(ranks.len(), KNOWN_FORMATS.len(), "ranks are unique");
    }
}
