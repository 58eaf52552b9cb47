//! Capability tables of real cameras, as `v4l2-ctl --list-formats-ext`
//! shows them (frame rates trimmed to what matters), for the tests of the
//! input and encoder choice and of `hook devices`: this machine has no
//! camera, so these tables stand in for them.

use crate::camera::formats::FourCc;
use crate::camera::probe::{DeviceCaps, FormatCaps, FrameRates, FrameSize};

use FrameRates::{Discrete as Rates, Range};

pub(crate) fn disc(width: u32, height: u32, fps: &[f64]) -> FrameSize {
    FrameSize::Discrete {
        width,
        height,
        rates: Rates { fps: fps.to_vec() },
    }
}

pub(crate) fn fmt(code: &str, sizes: Vec<FrameSize>) -> FormatCaps {
    FormatCaps {
        fourcc: FourCc::new(code),
        description: code.to_string(),
        sizes,
    }
}

/// Logitech HD Pro Webcam C920 (046d:082d, uvcvideo): H264, MJPG, YUYV.
pub(crate) fn c920() -> Vec<FormatCaps> {
    let all = [30.0, 24.0, 20.0, 15.0, 10.0, 7.5, 5.0];
    let compressed = || {
        vec![
            disc(640, 480, &all),
            disc(160, 90, &all),
            disc(320, 240, &all),
            disc(800, 600, &all),
            disc(960, 720, &all),
            disc(1280, 720, &all),
            disc(1600, 896, &all),
            disc(1920, 1080, &all),
        ]
    };
    vec![
        fmt("YUYV", {
            vec![
                disc(640, 480, &all),
                disc(800, 600, &[24.0, 20.0, 15.0, 10.0, 7.5, 5.0]),
                disc(1280, 720, &[10.0, 7.5, 5.0]),
                disc(1920, 1080, &[5.0]),
                disc(2304, 1536, &[2.0]),
            ]
        }),
        fmt("H264", compressed()),
        fmt("MJPG", compressed()),
    ]
}

/// Logitech C270 (046d:0825): MJPG and YUYV; raw 1280x720 only at 7.5 fps.
pub(crate) fn c270() -> Vec<FormatCaps> {
    let all = [30.0, 25.0, 20.0, 15.0, 10.0, 5.0];
    vec![
        fmt(
            "YUYV",
            vec![
                disc(640, 480, &all),
                disc(160, 120, &all),
                disc(352, 288, &all),
                disc(800, 600, &[20.0, 15.0, 10.0, 5.0]),
                disc(1280, 720, &[7.5, 5.0]),
            ],
        ),
        fmt(
            "MJPG",
            vec![
                disc(640, 480, &all),
                disc(160, 120, &all),
                disc(800, 600, &all),
                disc(1280, 720, &all),
                disc(960, 720, &all),
            ],
        ),
    ]
}

/// Raspberry Pi camera v1 through bcm2835-v4l2 (legacy stack): many
/// formats, stepwise sizes, continuous intervals from 0 s (no limit) to
/// 1 s.
pub(crate) fn pi_bcm2835() -> Vec<FormatCaps> {
    let step = || {
        vec![FrameSize::Stepwise {
            min_width: 32,
            max_width: 2592,
            step_width: 2,
            min_height: 32,
            max_height: 1944,
            step_height: 2,
            rates: Range {
                min_fps: 1.0,
                max_fps: None,
            },
        }]
    };
    [
        "YU12", "YUYV", "RGB3", "JPEG", "H264", "MJPG", "YVYU", "VYUY", "UYVY", "NV12", "BGR3",
        "YV12", "NV21", "RX24",
    ]
    .iter()
    .map(|c| fmt(c, step()))
    .collect()
}

/// Raspberry Pi camera v2 (imx219) on unicam, raw sensor formats only:
/// packed 10-bit Bayer (which FFmpeg cannot read) and 8-bit Bayer.
pub(crate) fn pi_unicam() -> Vec<FormatCaps> {
    let step = || {
        vec![FrameSize::Stepwise {
            min_width: 16,
            max_width: 16376,
            step_width: 1,
            min_height: 16,
            max_height: 16376,
            step_height: 1,
            rates: FrameRates::Unknown,
        }]
    };
    vec![
        fmt("pRAA", step()),
        fmt("RG10", step()),
        fmt("RGGB", step()),
    ]
}

/// A no-name UVC camera: YUYV 640x480 only.
pub(crate) fn cheap_uvc() -> Vec<FormatCaps> {
    vec![fmt("YUYV", vec![disc(640, 480, &[30.0, 15.0])])]
}

/// MacroSilicon MS2109 HDMI capture dongle (534d:2109): MJPG up to
/// 1920x1080 at 30, YUYV only at small sizes for full rate.
pub(crate) fn ms2109() -> Vec<FormatCaps> {
    vec![
        fmt(
            "MJPG",
            vec![
                disc(1920, 1080, &[30.0, 25.0, 20.0, 10.0, 5.0]),
                disc(1600, 1200, &[30.0, 25.0, 20.0, 10.0, 5.0]),
                disc(1360, 768, &[30.0, 25.0, 20.0, 10.0, 5.0]),
                disc(1280, 1024, &[30.0, 25.0, 20.0, 10.0, 5.0]),
                disc(1280, 960, &[50.0, 30.0, 20.0, 10.0, 5.0]),
                disc(1280, 720, &[60.0, 50.0, 30.0, 20.0, 10.0, 5.0]),
                disc(1024, 768, &[60.0, 50.0, 30.0, 20.0, 10.0, 5.0]),
                disc(800, 600, &[60.0, 50.0, 30.0, 20.0, 10.0, 5.0]),
                disc(720, 576, &[60.0, 50.0, 30.0, 20.0, 10.0, 5.0]),
                disc(720, 480, &[60.0, 50.0, 30.0, 20.0, 10.0, 5.0]),
                disc(640, 480, &[60.0, 50.0, 30.0, 20.0, 10.0, 5.0]),
            ],
        ),
        fmt(
            "YUYV",
            vec![
                disc(1920, 1080, &[5.0]),
                disc(1280, 720, &[10.0]),
                disc(720, 480, &[30.0]),
                disc(640, 480, &[30.0]),
            ],
        ),
    ]
}

/// A camera offering only 1920x1080 MJPEG at 30000/1001 fps.
pub(crate) fn only_1080p_mjpeg() -> Vec<FormatCaps> {
    vec![fmt("MJPG", vec![disc(1920, 1080, &[29.97])])]
}

/// A whole device around a table.
pub(crate) fn device(card: &str, driver: &str, formats: Vec<FormatCaps>) -> DeviceCaps {
    DeviceCaps {
        driver: driver.to_string(),
        card: card.to_string(),
        bus: "usb-0000:00:14.0-1".to_string(),
        formats,
        busy: false,
    }
}

/// A probe answering from tables: each path gets its capabilities or error.
pub(crate) struct TableProbe(
    pub  Vec<(
        std::path::PathBuf,
        Result<DeviceCaps, crate::camera::device_error::DeviceError>,
    )>,
);

impl crate::camera::probe::Probe for TableProbe {
    fn probe(
        &self,
        path: &std::path::Path,
    ) -> Result<DeviceCaps, crate::camera::device_error::DeviceError> {
        self.0
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| {
                Err(crate::camera::device_error::DeviceError::NotFound {
                    device: path.to_path_buf(),
                    detail: "no such file (is the camera plugged in?)".into(),
                })
            })
    }
}
