//! Asking a V4L2 node what it is and what it can capture.
//!
//! The rest of the program sees a camera only as a [`DeviceCaps`] table
//! returned by a [`Probe`]: the real one ([`V4l2Probe`]) uses the `v4l`
//! crate (QUERYCAP, ENUM_FMT, ENUM_FRAMESIZES, ENUM_FRAMEINTERVALS); tests
//! feed tables copied from real cameras. Before opening anything the node's
//! file type is checked, so a wrong `--device` (a file, a directory,
//! `/dev/null`, `/dev/watchdog`…) is reported without being opened: opening
//! some character devices has side effects.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use v4l::capability::Flags;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::video::Capture;

use crate::camera::device_error::{permission_detail, DeviceError};
use crate::camera::formats::FourCc;

/// The character-device major number of every V4L2 node (`VIDEO_MAJOR`).
pub(crate) const V4L2_MAJOR: u32 = 81;

/// Frame rates offered at one size.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum FrameRates {
    /// A list of rates, frames per second.
    Discrete { fps: Vec<f64> },
    /// Any rate in a range; `max_fps` is null when the driver sets no upper
    /// limit (bcm2835-v4l2 reports a shortest interval of 0 s).
    Range { min_fps: f64, max_fps: Option<f64> },
    /// The driver does not enumerate frame rates.
    Unknown,
}

/// Frame sizes offered for one format.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum FrameSize {
    Discrete {
        width: u32,
        height: u32,
        rates: FrameRates,
    },
    /// Any size on a grid (continuous sizes have steps of 1). The rates are
    /// those offered at the largest size.
    Stepwise {
        min_width: u32,
        max_width: u32,
        step_width: u32,
        min_height: u32,
        max_height: u32,
        step_height: u32,
        rates: FrameRates,
    },
}

/// One format a camera offers, with its sizes and rates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct FormatCaps {
    pub fourcc: FourCc,
    pub description: String,
    pub sizes: Vec<FrameSize>,
}

/// What a V4L2 capture device is and offers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct DeviceCaps {
    pub driver: String,
    pub card: String,
    pub bus: String,
    pub formats: Vec<FormatCaps>,
    /// Another program is capturing from it (setting its current format
    /// back returned EBUSY).
    pub busy: bool,
}

/// Reads a device's capabilities. Implemented by [`V4l2Probe`] for real
/// nodes and by capability tables in tests.
pub(crate) trait Probe {
    /// Checks that `path` is a V4L2 video capture device and reads what it
    /// offers.
    fn probe(&self, path: &Path) -> Result<DeviceCaps, DeviceError>;
}

/// The real probe: the `v4l` crate on the device node.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct V4l2Probe;

impl Probe for V4l2Probe {
    fn probe(&self, path: &Path) -> Result<DeviceCaps, DeviceError> {
        check_node(path)?;
        // The `v4l` crate unwraps driver-supplied strings as UTF-8; a driver
        // with odd bytes in its card name must not take the hook down.
        std::panic::catch_unwind(|| probe_node(path)).unwrap_or_else(|_| {
            Err(DeviceError::Io {
                device: path.to_path_buf(),
                action: "reading the capabilities of",
                error: "the driver returned text that is not UTF-8".into(),
            })
        })
    }
}

/// Checks the file type of `path` (following links) without opening it.
pub(crate) fn check_node(path: &Path) -> Result<(), DeviceError> {
    let meta = fs::metadata(path)
        .map_err(|e| DeviceError::from_io(path, "looking at", &e, || permission_detail(path)))?;
    let ft = meta.file_type();
    let what = if ft.is_char_device() {
        let (major, minor) = (libc::major(meta.rdev()), libc::minor(meta.rdev()));
        if major == V4L2_MAJOR {
            return Ok(());
        }
        format!("it is a character device ({major}:{minor}) that is not a V4L2 node")
    } else if ft.is_dir() {
        "it is a directory".to_string()
    } else if ft.is_file() {
        "it is a regular file".to_string()
    } else if ft.is_block_device() {
        "it is a block device".to_string()
    } else if ft.is_fifo() {
        "it is a FIFO".to_string()
    } else if ft.is_socket() {
        "it is a socket".to_string()
    } else {
        "it is not a device node".to_string()
    };
    Err(DeviceError::NotCapture {
        device: path.to_path_buf(),
        what,
    })
}

fn probe_node(path: &Path) -> Result<DeviceCaps, DeviceError> {
    let io_err = |action: &'static str, e: &io::Error| {
        DeviceError::from_io(path, action, e, || permission_detail(path))
    };
    let dev = v4l::Device::with_path(path).map_err(|e| io_err("opening", &e))?;
    let caps = dev.query_caps().map_err(|e| io_err("querying", &e))?;
    check_capture(path, caps.capabilities)?;
    let mut formats = Vec::new();
    for desc in dev
        .enum_formats()
        .map_err(|e| io_err("listing formats of", &e))?
    {
        // Drivers without ENUM_FRAMESIZES: sizes stay unknown and the choice
        // leaves the size to the driver.
        let sizes = match dev.enum_framesizes(desc.fourcc) {
            Ok(sizes) => sizes,
            Err(e) if is_gone(&e) => return Err(io_err("listing sizes of", &e)),
            Err(_) => Vec::new(),
        };
        let mut out = Vec::new();
        for size in sizes {
            out.push(match size.size {
                FrameSizeEnum::Discrete(d) => FrameSize::Discrete {
                    width: d.width,
                    height: d.height,
                    rates: rates_at(&dev, desc.fourcc, d.width, d.height),
                },
                FrameSizeEnum::Stepwise(s) => FrameSize::Stepwise {
                    min_width: s.min_width,
                    max_width: s.max_width,
                    step_width: s.step_width,
                    min_height: s.min_height,
                    max_height: s.max_height,
                    step_height: s.step_height,
                    rates: rates_at(&dev, desc.fourcc, s.max_width, s.max_height),
                },
            });
        }
        formats.push(FormatCaps {
            fourcc: FourCc(desc.fourcc.repr),
            description: desc.description,
            sizes: out,
        });
    }
    let busy = is_busy(&dev);
    Ok(DeviceCaps {
        driver: caps.driver,
        card: caps.card,
        bus: caps.bus,
        formats,
        busy,
    })
}

/// The device vanished under us (unplugged while probing).
fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::ENXIO))
}

/// Accepts single-planar video capture nodes, which is what FFmpeg's `v4l2`
/// input reads; a UVC camera's second node (metadata) and codec nodes
/// (memory-to-memory) are refused with a hint.
fn check_capture(path: &Path, flags: Flags) -> Result<(), DeviceError> {
    let m2m = flags.intersects(Flags::VIDEO_M2M | Flags::VIDEO_M2M_MPLANE);
    if flags.contains(Flags::VIDEO_CAPTURE) && !m2m {
        return Ok(());
    }
    Err(DeviceError::NotCapture {
        device: path.to_path_buf(),
        what: capability_words(flags),
    })
}

/// Explains a V4L2 node that cannot be captured from.
pub(crate) fn capability_words(flags: Flags) -> String {
    if flags.intersects(Flags::VIDEO_M2M | Flags::VIDEO_M2M_MPLANE) {
        "it is a memory-to-memory codec, not a camera".into()
    } else if flags.contains(Flags::META_CAPTURE) {
        "it is a metadata node (a camera's video node is usually the one numbered just before)"
            .into()
    } else if flags.contains(Flags::VIDEO_CAPTURE_MPLANE) {
        "it only offers multi-planar capture, which FFmpeg's v4l2 input does not read".into()
    } else if flags.intersects(Flags::VIDEO_OUTPUT | Flags::VIDEO_OUTPUT_MPLANE) {
        "it is a video output device".into()
    } else {
        format!("it has no video capture capability ({flags:?})")
    }
}

fn rates_at(dev: &v4l::Device, fourcc: v4l::FourCC, width: u32, height: u32) -> FrameRates {
    let Ok(intervals) = dev.enum_frameintervals(fourcc, width, height) else {
        return FrameRates::Unknown;
    };
    let mut fps = Vec::new();
    for interval in intervals {
        match interval.interval {
            FrameIntervalEnum::Discrete(f) => {
                if let Some(rate) = fps_of_interval(f.numerator, f.denominator) {
                    fps.push(rate);
                }
            }
            FrameIntervalEnum::Stepwise(s) => {
                // Longest interval = lowest rate, and the other way round.
                return FrameRates::Range {
                    min_fps: fps_of_interval(s.max.numerator, s.max.denominator).unwrap_or(0.0),
                    max_fps: fps_of_interval(s.min.numerator, s.min.denominator),
                };
            }
        }
    }
    if fps.is_empty() {
        FrameRates::Unknown
    } else {
        FrameRates::Discrete { fps }
    }
}

/// Frames per second for a frame interval of `num/den` seconds, rounded to
/// 1/1000 (30000/1001 → 29.97); `None` for a zero interval.
pub(crate) fn fps_of_interval(num: u32, den: u32) -> Option<f64> {
    if num == 0 || den == 0 {
        return None;
    }
    Some((f64::from(den) / f64::from(num) * 1000.0).round() / 1000.0)
}

/// Sets the device's current format back unchanged: drivers refuse any
/// format change with EBUSY while another program streams, and the
/// unchanged format is what the device already has, so nothing changes.
fn is_busy(dev: &v4l::Device) -> bool {
    use v4l::v4l_sys::v4l2_format;
    let fd = dev.handle().fd();
    // SAFETY: v4l2_format is plain data; G_FMT and S_FMT read and write
    // exactly one of it. The raw ioctls because v4l's safe `set_format`
    // rebuilds the format from its own reduced struct: only the kernel's
    // own bytes sent back are sure to change nothing.
    unsafe {
        let mut fmt: v4l2_format = std::mem::zeroed();
        fmt.type_ = v4l::buffer::Type::VideoCapture as u32;
        let arg = &mut fmt as *mut v4l2_format as *mut std::os::raw::c_void;
        if v4l::v4l2::ioctl(fd, v4l::v4l2::vidioc::VIDIOC_G_FMT, arg).is_err() {
            return false;
        }
        matches!(
            v4l::v4l2::ioctl(fd, v4l::v4l2::vidioc::VIDIOC_S_FMT, arg),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY)
        )
    }
}

/// The `videoN` nodes in `dev_dir`, in numeric order.
pub(crate) fn video_nodes(dev_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dev_dir) else {
        return Vec::new();
    };
    let mut nodes: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name.to_str()?.strip_prefix("video")?.parse::<u32>().ok()?;
            Some((n, e.path()))
        })
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

/// The `videoN` nodes in `dev_dir` that may be cameras: every node except
/// those that are certainly something else (a UVC camera's metadata node,
/// codec and ISP nodes, a non-V4L2 file). A node this user may not open, or
/// that is busy, still counts: `hook run` may run as another user, later.
#[cfg(test)]
pub(crate) fn camera_nodes(probe: &dyn Probe, dev_dir: &Path) -> Vec<PathBuf> {
    video_nodes(dev_dir)
        .into_iter()
        .filter(|node| !matches!(probe.probe(node), Err(DeviceError::NotCapture { .. })))
        .collect()
}

/// The first link in `links_dir` (such as `/dev/v4l/by-id`) that resolves
/// to the same node as `device`; `device` itself when it is such a link.
pub(crate) fn stable_name(device: &Path, links_dir: &Path) -> Option<PathBuf> {
    if device.starts_with(links_dir) && device.exists() {
        return Some(device.to_path_buf());
    }
    let target = fs::canonicalize(device).ok()?;
    let mut links: Vec<PathBuf> = fs::read_dir(links_dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    links.sort();
    links
        .into_iter()
        .find(|link| fs::canonicalize(link).is_ok_and(|t| t == target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn temp_dir(tag: &str) -> PathBuf {
        tempfile::Builder::new()
            .prefix(&format!("hook-probe-{tag}-"))
            .tempdir()
            .unwrap()
            .keep()
    }

    #[test]
    fn interval_to_fps() {
        assert_eq!(fps_of_interval(1, 30), Some(30.0));
        assert_eq!(fps_of_interval(1001, 30000), Some(29.97));
        assert_eq!(fps_of_interval(2, 15), Some(7.5));
        assert_eq!(fps_of_interval(0, 1), None);
    }

    /// Real nodes that are not cameras, each refused without being opened.
    #[test]
    fn node_types_that_are_not_cameras() {
        let dir = temp_dir("types");
        let file = dir.join("video0");
        fs::write(&file, b"").unwrap();
        let cases: Vec<(PathBuf, &str)> = vec![
            (
                PathBuf::from("/dev/null"),
                "/dev/null is not a video capture device: it is a character device (1:3) that is not a V4L2 node",
            ),
            (
                file.clone(),
                "is not a video capture device: it is a regular file",
            ),
            (dir.clone(), "is not a video capture device: it is a directory"),
        ];
        for (path, text) in cases {
            let err = V4l2Probe.probe(&path).unwrap_err();
            assert!(matches!(err, DeviceError::NotCapture { .. }), "{err}");
            assert!(err.to_string().contains(text), "{err}");
        }
        let missing = dir.join("video9");
        let err = V4l2Probe.probe(&missing).unwrap_err();
        assert!(matches!(err, DeviceError::NotFound { .. }), "{err}");
        // A by-id link whose camera is gone dangles.
        let dangling = dir.join("usb-cam-video-index0");
        symlink(&missing, &dangling).unwrap();
        let err = V4l2Probe.probe(&dangling).unwrap_err();
        assert!(matches!(err, DeviceError::NotFound { .. }), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn capture_capability() {
        let p = Path::new("/dev/video1");
        assert!(check_capture(p, Flags::VIDEO_CAPTURE | Flags::STREAMING).is_ok());
        let meta = check_capture(p, Flags::META_CAPTURE | Flags::STREAMING).unwrap_err();
        assert!(meta.to_string().contains("metadata node"), "{meta}");
        let m2m = check_capture(p, Flags::VIDEO_M2M_MPLANE).unwrap_err();
        assert!(m2m.to_string().contains("memory-to-memory"), "{m2m}");
        let mplane = check_capture(p, Flags::VIDEO_CAPTURE_MPLANE).unwrap_err();
        assert!(mplane.to_string().contains("multi-planar"), "{mplane}");
    }

    #[test]
    fn scan_and_stable_names() {
        let dir = temp_dir("scan");
        for name in ["video10", "video2", "video0", "videox", "vbi0", "video1"] {
            fs::write(dir.join(name), b"").unwrap();
        }
        let names: Vec<String> = video_nodes(&dir)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["video0", "video1", "video2", "video10"]);
        assert!(video_nodes(&dir.join("absent")).is_empty());
        // Regular files are not cameras; a missing or forbidden node may be.
        assert!(camera_nodes(&V4l2Probe, &dir).is_empty());
        let table = crate::camera::tables::TableProbe(vec![
            (
                dir.join("video0"),
                Ok(crate::camera::tables::device(
                    "C270",
                    "uvcvideo",
                    crate::camera::tables::c270(),
                )),
            ),
            (
                dir.join("video1"),
                Err(DeviceError::NotCapture {
                    device: dir.join("video1"),
                    what: "it is a metadata node".into(),
                }),
            ),
            (
                dir.join("video2"),
                Err(DeviceError::PermissionDenied {
                    device: dir.join("video2"),
                    detail: String::new(),
                }),
            ),
        ]);
        // video10 is not in the table: the table probe says not found.
        assert_eq!(
            camera_nodes(&table, &dir),
            [dir.join("video0"), dir.join("video2"), dir.join("video10")]
        );

        let by_id = dir.join("by-id");
        fs::create_dir(&by_id).unwrap();
        let link = by_id.join("usb-046d_HD_Pro_Webcam_C920_A1B2C3D4-video-index0");
        symlink("../video2", &link).unwrap();
        assert_eq!(stable_name(&dir.join("video2"), &by_id), Some(link.clone()));
        assert_eq!(stable_name(&link, &by_id), Some(link.clone()));
        assert_eq!(stable_name(&dir.join("video0"), &by_id), None);
        assert_eq!(stable_name(&dir.join("video2"), &dir.join("none")), None);
        let _ = fs::remove_dir_all(&dir);
    }
}
