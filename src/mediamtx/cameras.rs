//! The cameras `hook mediamtx-config` wires into `mediamtx.yml`: the
//! devices given or found, each with the path name it gets and a note on
//! which name it is wired by. Rendered by `config`. MediaMTX layer.
//!
//! One explicit entry per camera, never a regex entry: recording sessions
//! switch `record` with a Control API PATCH of the entry, and a PATCH of a
//! regex entry would switch recording for every camera it matches. MediaMTX
//! splits each command shell-style and expands `$VARS` with no shell and no
//! escape for `$`, so device names that would be split or expanded are
//! refused rather than quoted.

use std::path::Path;

use crate::camera::capture::{CaptureRequest, TEST_PATTERN};
use crate::error::usage;
use crate::mediamtx::config::Camera;

/// The capture devices found (metadata and codec nodes left out), each
/// named by its most stable name (`camera::names`), else `/dev/video0` so
/// the output is a usable template anywhere. `request`: the capture
/// request of `hook run` without flags, checked.
pub(crate) fn found_cameras(request: &CaptureRequest) -> anyhow::Result<Vec<Camera>> {
    let no_m2m = |_: &Path| false;
    let report = crate::camera::inventory::scan(
        &crate::camera::probe::V4l2Probe,
        &crate::camera::probe::video_nodes(Path::new("/dev")),
        request,
        &no_m2m,
        Path::new(crate::camera::names::LINKS_ROOT),
    );
    if report.devices.is_empty() {
        let mut cams = cameras(&["/dev/video0".to_string()])?;
        cams[0].notes = vec![
            "no camera found: a template for /dev/video0 (prefer its /dev/v4l/by-id/… name)".into(),
        ];
        return Ok(cams);
    }
    let devices: Vec<String> = report
        .devices
        .iter()
        .map(|d| d.stable_name.clone())
        .collect();
    let mut cams = cameras(&devices)?;
    for (cam, d) in cams.iter_mut().zip(&report.devices) {
        cam.path = path_name_for(&d.path);
        cam.notes = vec![format!(
            "{} ({}), wired by {}: {}",
            d.path,
            d.card,
            d.stable_name_kind.as_str(),
            d.stable_name_why
        )];
        if let Some(why) = &d.ambiguous {
            cam.notes.push(format!("ambiguous by-id name: {why}"));
        }
    }
    Ok(cams)
}

/// For a device given by hand: what kind of name it is, and a steadier
/// one when it has one.
pub(crate) fn given_name_note(device: &str) -> Vec<String> {
    if device == TEST_PATTERN {
        return Vec::new();
    }
    let path = Path::new(device);
    let root = Path::new(crate::camera::names::LINKS_ROOT);
    if path.starts_with(root.join("by-id")) || path.starts_with(root.join("by-path")) {
        return Vec::new();
    }
    let names = crate::camera::names::names_of(path, root);
    match names.by_id.first().or(names.by_path.first()) {
        Some(stable) => vec![format!(
            "{device} is a node number, which may change after a replug; {} names this camera steadily",
            stable.display()
        )],
        None => Vec::new(),
    }
}

/// Names a path for each device and checks that MediaMTX can carry the
/// device through its command splitting unchanged.
pub(crate) fn cameras(devices: &[String]) -> anyhow::Result<Vec<Camera>> {
    let mut out: Vec<Camera> = Vec::new();
    for device in devices {
        check_device_word(device)?;
        let path = path_name_for(device);
        crate::mediamtx::env::validate_path_name(
            Some(path.as_ref()),
            "path name derived from --device",
        )?;
        if let Some(other) = out.iter().find(|c| c.path == path) {
            return Err(usage(format!(
                "--device {device} and --device {} would both be path {path:?}: give each camera once",
                other.device
            )));
        }
        out.push(Camera {
            path,
            device: device.clone(),
            notes: Vec::new(),
        });
    }
    Ok(out)
}

/// A device must survive MediaMTX's shell-style split and `$VAR` expansion
/// as one unchanged word.
fn check_device_word(device: &str) -> anyhow::Result<()> {
    let bad = device.is_empty()
        || device.len() > 256
        || device.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '$' | '\'' | '"' | '\\' | '`' | '#')
        });
    if bad {
        return Err(usage(format!(
            "--device {device:?}: expected a device path without spaces, quotes, '$', '#' or backslashes (MediaMTX splits commands shell-style and expands $VARS), or `{TEST_PATTERN}`"
        )));
    }
    if device != TEST_PATTERN && !device.starts_with('/') {
        return Err(usage(format!(
            "--device {device:?}: expected an absolute device path such as /dev/video0 or /dev/v4l/by-id/…, or `{TEST_PATTERN}`"
        )));
    }
    Ok(())
}

/// `/dev/videoN` → `cameraN`; a link to one (by-id, by-path) → the same name
/// as its target; the test pattern → `testsrc`; anything else → its file name.
pub(crate) fn path_name_for(device: &str) -> String {
    if device == TEST_PATTERN {
        return TEST_PATTERN.to_string();
    }
    let resolved = std::fs::canonicalize(device)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| device.to_string());
    for candidate in [resolved.as_str(), device] {
        if let Some(n) = candidate
            .strip_prefix("/dev/video")
            .and_then(|n| n.parse::<u32>().ok())
        {
            return format!("camera{n}");
        }
    }
    let name = Path::new(device)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches(['.', '~'])
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mediamtx::config::render;
    use crate::policy::Policy;

    #[test]
    fn path_names() {
        assert_eq!(path_name_for("/dev/video0"), "camera0");
        assert_eq!(path_name_for("/dev/video12"), "camera12");
        assert_eq!(path_name_for("testsrc"), "testsrc");
        assert_eq!(
            path_name_for("/dev/v4l/by-id/usb-Cam_C920:1-video-index0"),
            "usb-Cam_C920_1-video-index0"
        );
    }

    #[test]
    fn refuses_devices_mediamtx_would_split_or_expand() {
        for bad in [
            "",
            "/dev/video 0",
            "/dev/$HOME",
            "/dev/'x'",
            "video0",
            "/dev/x\\y",
            "/dev/x#y",
        ] {
            assert!(cameras(&[bad.to_string()]).is_err(), "{bad:?}");
        }
        let dup = cameras(&["/dev/video0".into(), "/dev/video0".into()]).unwrap_err();
        assert!(dup.to_string().contains("camera0"), "{dup}");
    }

    #[test]
    fn renders_one_explicit_entry_per_camera_with_policy_values() {
        let policy = Policy::from_json(
            r#"{"viewing":{"close_after":"90s","start_timeout":"12s"},"recording":{"segment_duration":"10m"}}"#,
            "t",
        )
        .unwrap();
        let cams = cameras(&["/dev/video0".into(), "testsrc".into()]).unwrap();
        let text = render(&policy, &cams);
        let paths = &text[text.find("\npaths:\n").unwrap() + 1..];
        assert!(paths.contains("\n  camera0:\n    runOnDemand: hook run --device /dev/video0\n"));
        assert!(paths.contains("\n  testsrc:\n    runOnDemand: hook run --device testsrc\n"));
        assert_eq!(paths.matches("runOnDemandCloseAfter: 90s").count(), 2);
        assert_eq!(paths.matches("runOnDemandStartTimeout: 12s").count(), 2);
        assert_eq!(paths.matches("recordSegmentDuration: 10m").count(), 2);
        assert_eq!(paths.matches("runOnAvailable: hook ready").count(), 2);
        assert_eq!(
            paths
                .matches("runOnRecordSegmentComplete: hook segment-complete")
                .count(),
            2
        );
        assert_eq!(paths.matches("    record: false").count(), 2);
        assert!(!paths.contains('~'), "no regex entries");
    }
}
