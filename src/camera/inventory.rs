//! What `hook devices` finds and reports: every V4L2 video node probed,
//! the capture devices with their names, formats and what `hook run` would
//! choose with the same flags, and the nodes skipped with the reason; the
//! report as JSON and as the human listing. Camera layer.
//!
//! Nodes that cannot be captured from (a UVC camera's metadata node, codec
//! nodes, nodes this user may not open) are listed as skipped with the
//! reason, so "why is my camera not here" has an answer.
//!
//! The JSON (schema version [`SCHEMA_VERSION`]):
//! `{"schema_version": 1, "devices": [...], "skipped": [{"path", "kind",
//! "reason"}]}` (`kind`: `not-capture`, `not-found`, `permission-denied`,
//! `busy` or `error`);
//! each device has `path`, `by_id`, `by_path` (the first such link, null
//! when udev made none), `names` (every name: the node, then every by-id
//! and by-path link to it), `stable_name` with `stable_name_kind` (`by-id`,
//! `by-path` or `node`) and `stable_name_why` (what `hook mediamtx-config`
//! wires it by, and why: see `camera::names`), `ambiguous` (null, or which
//! cameras share its by-id name),
//! `driver`, `card`, `bus`, `busy`, `formats` (`fourcc`, `description`,
//! `ffmpeg_format` or null, `sizes`: `{"type": "discrete", "width",
//! "height", "rates"}` or `{"type": "stepwise", "min_width", "max_width",
//! "step_width", "min_height", "max_height", "step_height", "rates"}`, rates
//! being `{"type": "discrete", "fps": [...]}`, `{"type": "range", "min_fps",
//! "max_fps"}` or `{"type": "unknown"}`), and `choice` (`input_format`,
//! `width`, `height`, `fps`, `encoder`, `bitrate`) or, when nothing fits,
//! `choice_error`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::camera::capture::CaptureRequest;
use crate::camera::capture::{self, CaptureInput, TEST_PATTERN};
use crate::camera::device_error::DeviceError;
use crate::camera::encoder_choice;
use crate::camera::formats::{self, FourCc};
use crate::camera::probe::{self, DeviceCaps, FrameRates, FrameSize, Probe, V4l2Probe};

/// Version of `hook devices --json`; fields are only ever added.
pub const SCHEMA_VERSION: u32 = 1;

use crate::camera::names::{self, NameKind, Seen, LINKS_ROOT};

/// Everything `hook devices` prints.
#[derive(Debug, Serialize)]
pub(crate) struct DevicesReport {
    pub schema_version: u32,
    pub devices: Vec<DeviceReport>,
    pub skipped: Vec<Skipped>,
}

/// One capture device.
#[derive(Debug, Serialize)]
pub(crate) struct DeviceReport {
    pub path: String,
    pub by_id: Option<String>,
    pub by_path: Option<String>,
    pub names: Vec<String>,
    pub stable_name: String,
    pub stable_name_kind: NameKind,
    pub stable_name_why: String,
    pub ambiguous: Option<String>,
    pub driver: String,
    pub card: String,
    pub bus: String,
    pub busy: bool,
    pub formats: Vec<FormatReport>,
    pub choice: Option<ChoiceReport>,
    pub choice_error: Option<String>,
    #[serde(skip)]
    pub all_names: names::Names,
}

/// One format of a device.
#[derive(Debug, Serialize)]
pub(crate) struct FormatReport {
    pub fourcc: FourCc,
    pub description: String,
    /// FFmpeg's `-input_format` name; null when FFmpeg cannot capture it.
    pub ffmpeg_format: Option<&'static str>,
    pub sizes: Vec<FrameSize>,
}

/// What `hook run` would use.
#[derive(Debug, Serialize)]
pub(crate) struct ChoiceReport {
    pub input_format: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<u32>,
    pub encoder: &'static str,
    pub bitrate: Option<String>,
}

/// A video node that is not a usable capture device, and why.
#[derive(Debug, Serialize)]
pub(crate) struct Skipped {
    pub path: String,
    pub kind: &'static str,
    pub reason: String,
    /// For `not-capture`: what the node is instead (grouped when listed).
    #[serde(skip)]
    pub what: Option<String>,
}

impl Skipped {
    fn new(path: &Path, e: &DeviceError) -> Skipped {
        let (kind, what) = match e {
            DeviceError::NotCapture { what, .. } => ("not-capture", Some(what.clone())),
            DeviceError::NotFound { .. } | DeviceError::Gone { .. } => ("not-found", None),
            DeviceError::PermissionDenied { .. } => ("permission-denied", None),
            DeviceError::Busy { .. } => ("busy", None),
            DeviceError::Unsupported { .. } | DeviceError::Io { .. } => ("error", None),
        };
        Skipped {
            path: path.display().to_string(),
            kind,
            reason: e.to_string(),
            what,
        }
    }
}

/// What `hook devices` found: the test pattern's choice, or the report.
#[derive(Debug)]
pub(crate) enum Found {
    /// `--device testsrc`: what `hook run` would use.
    TestPattern(CaptureInput),
    Report(DevicesReport),
}

/// Looks at `device` alone (its problem is the error), or at every
/// `/dev/videoN` when none is given; `request` is the checked capture
/// request, `cache_dir` where the hardware encoder's probe is cached.
pub(crate) fn look(
    device: Option<&str>,
    request: &CaptureRequest,
    cache_dir: &Path,
) -> anyhow::Result<Found> {
    let m2m = |ffmpeg: &Path| encoder_choice::v4l2m2m_works_cached(ffmpeg, Some(cache_dir));
    Ok(Found::Report(match device {
        Some(TEST_PATTERN) => {
            return Ok(Found::TestPattern(capture::prepare(TEST_PATTERN, request)?));
        }
        Some(device) => {
            let path = Path::new(device);
            let caps = V4l2Probe.probe(path)?;
            DevicesReport {
                schema_version: SCHEMA_VERSION,
                devices: with_stable_names(vec![device_report(
                    path,
                    caps,
                    request,
                    &m2m,
                    Path::new(LINKS_ROOT),
                )]),
                skipped: Vec::new(),
            }
        }
        None => scan(
            &V4l2Probe,
            &probe::video_nodes(Path::new("/dev")),
            request,
            &m2m,
            Path::new(LINKS_ROOT),
        ),
    }))
}

/// Probes every node; capture devices are reported, the rest skipped.
pub(crate) fn scan(
    probe: &dyn Probe,
    nodes: &[std::path::PathBuf],
    args: &CaptureRequest,
    v4l2m2m_works: &dyn Fn(&Path) -> bool,
    links_root: &Path,
) -> DevicesReport {
    let mut report = DevicesReport {
        schema_version: SCHEMA_VERSION,
        devices: Vec::new(),
        skipped: Vec::new(),
    };
    for node in nodes {
        match probe.probe(node) {
            Ok(caps) => {
                report
                    .devices
                    .push(device_report(node, caps, args, v4l2m2m_works, links_root))
            }
            Err(e) => report.skipped.push(Skipped::new(node, &e)),
        }
    }
    report.devices = with_stable_names(report.devices);
    report
}

/// Fills in each device's stable name, chosen among all of them (two
/// cameras of one model can only be told apart together).
fn with_stable_names(mut devices: Vec<DeviceReport>) -> Vec<DeviceReport> {
    let seen: Vec<Seen> = devices
        .iter()
        .map(|d| Seen {
            names: d.all_names.clone(),
            card: d.card.clone(),
        })
        .collect();
    for (d, stable) in devices.iter_mut().zip(names::choose(&seen)) {
        d.stable_name = stable.name.display().to_string();
        d.stable_name_kind = stable.kind;
        d.stable_name_why = stable.why;
        d.ambiguous = stable.ambiguous;
    }
    devices
}

/// One device's report: its capabilities and the choice for `args`.
pub(crate) fn device_report(
    path: &Path,
    caps: DeviceCaps,
    args: &CaptureRequest,
    v4l2m2m_works: &dyn Fn(&Path) -> bool,
    links_root: &Path,
) -> DeviceReport {
    let (choice, choice_error) = match capture::choose(path, &caps, args, v4l2m2m_works) {
        Ok(input) => (Some(choice_report(&input)), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let link = |dir: &str| {
        probe::stable_name(path, &links_root.join(dir)).map(|p| p.display().to_string())
    };
    let all_names = names::names_of(path, links_root);
    DeviceReport {
        path: path.display().to_string(),
        by_id: link("by-id"),
        by_path: link("by-path"),
        names: std::iter::once(&all_names.node)
            .chain(&all_names.by_id)
            .chain(&all_names.by_path)
            .map(|p| p.display().to_string())
            .collect(),
        stable_name: path.display().to_string(),
        stable_name_kind: NameKind::Node,
        stable_name_why: String::new(),
        ambiguous: None,
        all_names,
        driver: caps.driver,
        card: caps.card,
        bus: caps.bus,
        busy: caps.busy,
        formats: caps
            .formats
            .into_iter()
            .map(|f| FormatReport {
                ffmpeg_format: formats::lookup(f.fourcc).map(|k| k.ffmpeg),
                fourcc: f.fourcc,
                description: f.description,
                sizes: f.sizes,
            })
            .collect(),
        choice,
        choice_error,
    }
}

fn choice_report(input: &CaptureInput) -> ChoiceReport {
    ChoiceReport {
        input_format: input.input_format.clone(),
        width: input.size.map(|s| s.0),
        height: input.size.map(|s| s.1),
        fps: input.fps,
        encoder: input.encoder.ffmpeg_name(),
        bitrate: input.bitrate.clone(),
    }
}

/// The human-readable listing.
pub fn render(report: &DevicesReport) -> String {
    let mut out = String::new();
    if report.devices.is_empty() {
        out.push_str(
            "No V4L2 capture devices found (looked at /dev/video*).\n\
             Is the camera plugged in, and may this user open it (group video)?\n\
             `hook run --device testsrc` publishes FFmpeg's test pattern without a camera.\n",
        );
    }
    for d in &report.devices {
        let _ = writeln!(out, "{}: {} ({}, {})", d.path, d.card, d.driver, d.bus);
        for link in &d.all_names.by_id {
            let _ = writeln!(out, "  by-id: {}", link.display());
        }
        for link in &d.all_names.by_path {
            let _ = writeln!(out, "  by-path: {}", link.display());
        }
        let _ = writeln!(
            out,
            "  wire it by: {} ({})",
            d.stable_name, d.stable_name_why
        );
        if let Some(why) = &d.ambiguous {
            let _ = writeln!(out, "  ambiguous: {why}");
        }
        if d.busy {
            out.push_str("  busy: another program is capturing from it\n");
        }
        for f in &d.formats {
            let name = f.ffmpeg_format.unwrap_or("(FFmpeg cannot read it)");
            let _ = writeln!(
                out,
                "  {:<4} {:<12} {}",
                f.fourcc,
                name,
                sizes_line(&f.sizes)
            );
        }
        match (&d.choice, &d.choice_error) {
            (Some(c), _) => {
                let _ = writeln!(out, "  hook run would use: {}", choice_line(c));
            }
            (None, Some(e)) => {
                let _ = writeln!(out, "  hook run cannot use it: {e}");
            }
            (None, None) => {}
        }
    }
    // Nodes that are something else (a UVC camera's metadata node, the
    // codecs of a Raspberry Pi) are grouped: a Pi has a dozen of them.
    let mut others: Vec<(&str, Vec<&str>)> = Vec::new();
    for s in &report.skipped {
        if let Some(what) = &s.what {
            match others.iter_mut().find(|(w, _)| w == what) {
                Some((_, paths)) => paths.push(&s.path),
                None => others.push((what, vec![&s.path])),
            }
        }
    }
    if !others.is_empty() {
        out.push_str("Not video capture devices:\n");
        for (what, paths) in others {
            let _ = writeln!(out, "  {}: {what}", paths.join(", "));
        }
    }
    let problems: Vec<&Skipped> = report.skipped.iter().filter(|s| s.what.is_none()).collect();
    if !problems.is_empty() {
        out.push_str("Skipped:\n");
        // Every reason already names its node.
        for s in problems {
            let _ = writeln!(out, "  {}", s.reason);
        }
    }
    out
}

fn choice_line(c: &ChoiceReport) -> String {
    let mut text = c.input_format.clone().unwrap_or_default();
    if let (Some(w), Some(h)) = (c.width, c.height) {
        let _ = write!(text, " {w}x{h}");
    }
    if let Some(fps) = c.fps {
        let _ = write!(text, " at {fps} fps");
    }
    let _ = write!(text, ", encoder {}", c.encoder);
    if let Some(b) = &c.bitrate {
        let _ = write!(text, " at {b}");
    }
    text
}

/// Sizes with their rates; consecutive sizes with the same rates share them:
/// `640x480, 1280x720 @ 30, 15 fps; 1920x1080 @ 5 fps`.
fn sizes_line(sizes: &[FrameSize]) -> String {
    if sizes.is_empty() {
        return "(sizes not listed by the driver)".into();
    }
    let mut groups: Vec<(Vec<String>, &FrameRates)> = Vec::new();
    for s in sizes {
        let rates = match s {
            FrameSize::Discrete { rates, .. } | FrameSize::Stepwise { rates, .. } => rates,
        };
        let text = crate::camera::input_choice::describe_size(s);
        match groups.last_mut() {
            Some((names, r)) if *r == rates => names.push(text),
            _ => groups.push((vec![text], rates)),
        }
    }
    groups
        .iter()
        .map(|(names, rates)| match rates_text(rates) {
            Some(r) => format!("{} @ {r}", names.join(", ")),
            None => names.join(", "),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn rates_text(rates: &FrameRates) -> Option<String> {
    match rates {
        FrameRates::Discrete { fps } => Some(format!(
            "{} fps",
            fps.iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        FrameRates::Range {
            min_fps,
            max_fps: Some(max),
        } => Some(format!("{min_fps}-{max} fps")),
        FrameRates::Range {
            min_fps,
            max_fps: None,
        } => Some(format!("{min_fps} fps and up")),
        FrameRates::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::device_error::DeviceError;
    use crate::camera::tables::*;
    use std::path::PathBuf;

    fn no_m2m(_: &Path) -> bool {
        false
    }

    fn table_probe() -> TableProbe {
        TableProbe(vec![
            (
                PathBuf::from("/dev/video0"),
                Ok(device("HD Pro Webcam C920", "uvcvideo", c920())),
            ),
            (
                PathBuf::from("/dev/video1"),
                Err(DeviceError::NotCapture {
                    device: "/dev/video1".into(),
                    what: "it is a metadata node (a camera's video node is usually the one numbered just before)".into(),
                }),
            ),
            (
                PathBuf::from("/dev/video2"),
                Ok(device("USB Video: USB Video", "uvcvideo", ms2109())),
            ),
            (
                PathBuf::from("/dev/video4"),
                Ok(device("1080p cam", "uvcvideo", only_1080p_mjpeg())),
            ),
        ])
    }

    fn nodes() -> Vec<PathBuf> {
        ["/dev/video0", "/dev/video1", "/dev/video2", "/dev/video4"]
            .iter()
            .map(PathBuf::from)
            .collect()
    }

    #[test]
    fn scan_reports_choices_and_skips() {
        let args = CaptureRequest::default();
        let report = scan(
            &table_probe(),
            &nodes(),
            &args,
            &no_m2m,
            Path::new("/nonexistent"),
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["schema_version"], 1);
        let devices = json["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 3);
        let c920 = &devices[0];
        assert_eq!(c920["path"], "/dev/video0");
        assert_eq!(c920["card"], "HD Pro Webcam C920");
        assert_eq!(c920["by_id"], serde_json::Value::Null);
        assert_eq!(c920["formats"][1]["fourcc"], "H264");
        assert_eq!(c920["formats"][1]["ffmpeg_format"], "h264");
        assert_eq!(c920["formats"][0]["sizes"][0]["type"], "discrete");
        assert_eq!(c920["formats"][0]["sizes"][0]["rates"]["fps"][0], 30.0);
        assert_eq!(c920["choice"]["input_format"], "h264");
        assert_eq!(c920["choice"]["width"], 1280);
        assert_eq!(c920["choice"]["encoder"], "copy");
        assert_eq!(devices[1]["choice"]["input_format"], "mjpeg");
        assert_eq!(devices[1]["choice"]["encoder"], "libx264");
        assert_eq!(devices[2]["choice"]["width"], 1920);
        assert_eq!(json["skipped"][0]["path"], "/dev/video1");
        assert_eq!(json["skipped"][0]["kind"], "not-capture");
        assert!(json["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("metadata node"));
    }

    #[test]
    fn flags_change_the_choice_and_errors_are_shown() {
        let args = CaptureRequest {
            size: Some(crate::camera::capture::WantedSize::parse("1280x720").unwrap()),
            encoder: crate::camera::encoder_choice::Encoder::Auto,
            ..CaptureRequest::default()
        };
        let m2m = |_: &Path| true;
        let report = scan(
            &table_probe(),
            &nodes(),
            &args,
            &m2m,
            Path::new("/nonexistent"),
        );
        // The MS2109 has no H.264: the hardware encoder, with its bitrate.
        let ms = &report.devices[1];
        let c = ms.choice.as_ref().unwrap();
        assert_eq!(
            (c.encoder, c.bitrate.as_deref()),
            ("h264_v4l2m2m", Some("2764k"))
        );
        // An explicit --size the 1080p-only camera cannot meet.
        let only = &report.devices[2];
        assert!(only.choice.is_none());
        assert_eq!(
            only.choice_error.as_deref(),
            Some(
                "device /dev/video4: no frame size within 1280x720 for mjpeg; it offers 1920x1080"
            )
        );
        let text = render(&report);
        assert!(
            text.contains(
                "  hook run cannot use it: device /dev/video4: no frame size within 1280x720"
            ),
            "{text}"
        );
    }

    #[test]
    fn human_listing() {
        let report = scan(
            &table_probe(),
            &nodes()[..2],
            &CaptureRequest::default(),
            &no_m2m,
            Path::new("/nonexistent"),
        );
        let text = render(&report);
        let want = "\
/dev/video0: HD Pro Webcam C920 (uvcvideo, usb-0000:00:14.0-1)
  wire it by: /dev/video0 (udev made no stable name for it: the node number may change after a replug or a reboot)
  YUYV yuyv422      640x480 @ 30, 24, 20, 15, 10, 7.5, 5 fps; 800x600 @ 24, 20, 15, 10, 7.5, 5 fps; 1280x720 @ 10, 7.5, 5 fps; 1920x1080 @ 5 fps; 2304x1536 @ 2 fps
  H264 h264         640x480, 160x90, 320x240, 800x600, 960x720, 1280x720, 1600x896, 1920x1080 @ 30, 24, 20, 15, 10, 7.5, 5 fps
  MJPG mjpeg        640x480, 160x90, 320x240, 800x600, 960x720, 1280x720, 1600x896, 1920x1080 @ 30, 24, 20, 15, 10, 7.5, 5 fps
  hook run would use: h264 1280x720 at 30 fps, encoder copy
Not video capture devices:
  /dev/video1: it is a metadata node (a camera's video node is usually the one numbered just before)
";
        assert_eq!(text, want);
    }

    #[test]
    fn stepwise_listing() {
        let caps = device("mmal service 16.1", "bcm2835 mmal", pi_bcm2835());
        let probe = TableProbe(vec![(PathBuf::from("/dev/video0"), Ok(caps))]);
        let report = scan(
            &probe,
            &[PathBuf::from("/dev/video0")],
            &CaptureRequest::default(),
            &no_m2m,
            Path::new("/nonexistent"),
        );
        let text = render(&report);
        assert!(
            text.contains("  YU12 yuv420p      32x32-2592x1944 step 2x2 @ 1 fps and up\n"),
            "{text}"
        );
        assert!(
            text.contains("  NV21 (FFmpeg cannot read it) 32x32"),
            "{text}"
        );
        assert!(text.contains("hook run would use: h264 1280x720 at 30 fps, encoder copy"));
        let json = serde_json::to_value(&report).unwrap();
        let size = &json["devices"][0]["formats"][0]["sizes"][0];
        assert_eq!(size["type"], "stepwise");
        assert_eq!(size["max_width"], 2592);
        assert_eq!(size["rates"]["type"], "range");
        assert_eq!(size["rates"]["max_fps"], serde_json::Value::Null);
    }

    /// A Raspberry Pi: one camera, a dozen codec nodes (grouped on one
    /// line) and a node this user may not open (listed with its reason).
    #[test]
    fn raspberry_pi_listing_groups_codec_nodes() {
        let codec = |n: u32| {
            let path = PathBuf::from(format!("/dev/video{n}"));
            let err = DeviceError::NotCapture {
                device: path.clone(),
                what: "it is a memory-to-memory codec, not a camera".into(),
            };
            (path, Err(err))
        };
        let mut table = vec![(
            PathBuf::from("/dev/video0"),
            Ok(device("mmal service 16.1", "bcm2835 mmal", pi_bcm2835())),
        )];
        table.extend([10, 11, 12].map(codec));
        table.push((
            PathBuf::from("/dev/video13"),
            Err(DeviceError::PermissionDenied {
                device: "/dev/video13".into(),
                detail: "the node is mode 0660, owner root, group video; the hook runs as pi: add pi to group video".into(),
            }),
        ));
        let nodes: Vec<PathBuf> = table.iter().map(|(p, _)| p.clone()).collect();
        let report = scan(
            &TableProbe(table),
            &nodes,
            &CaptureRequest::default(),
            &no_m2m,
            Path::new("/nonexistent"),
        );
        let text = render(&report);
        assert!(
            text.ends_with(
                "Not video capture devices:\n  /dev/video10, /dev/video11, /dev/video12: it is a memory-to-memory codec, not a camera\n\
                 Skipped:\n  permission denied opening /dev/video13: the node is mode 0660, owner root, group video; the hook runs as pi: add pi to group video\n"
            ),
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["skipped"].as_array().unwrap().len(), 4);
        assert_eq!(json["skipped"][3]["kind"], "permission-denied");
        assert!(json["skipped"][0].get("what").is_none());
    }

    #[test]
    fn nothing_found() {
        let report = scan(
            &table_probe(),
            &[],
            &CaptureRequest::default(),
            &no_m2m,
            Path::new("/nonexistent"),
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["devices"], serde_json::json!([]));
        assert!(render(&report).starts_with("No V4L2 capture devices found"));
    }

    #[test]
    fn stable_names_are_reported() {
        let dir = tempfile::Builder::new()
            .prefix("hook-devices-links-")
            .tempdir()
            .unwrap()
            .keep();
        std::fs::create_dir_all(dir.join("v4l/by-id")).unwrap();
        let node = dir.join("video0");
        std::fs::write(&node, b"").unwrap();
        let link = dir.join("v4l/by-id/usb-046d_HD_Pro_Webcam_C920_A1B2C3D4-video-index0");
        std::os::unix::fs::symlink(&node, &link).unwrap();
        let report = device_report(
            &node,
            device("HD Pro Webcam C920", "uvcvideo", c920()),
            &CaptureRequest::default(),
            &no_m2m,
            &dir.join("v4l"),
        );
        assert_eq!(report.by_id, Some(link.display().to_string()));
        assert_eq!(report.by_path, None);
        let text = render(&DevicesReport {
            schema_version: SCHEMA_VERSION,
            devices: vec![report],
            skipped: vec![],
        });
        assert!(
            text.contains(&format!("  by-id: {}\n", link.display())),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
