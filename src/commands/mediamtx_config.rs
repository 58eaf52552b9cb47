//! `hook mediamtx-config`: the `paths:` entries that wire the hook into
//! `mediamtx.yml`, with the policy's values.
//!
//! One explicit entry per camera, never a regex entry: recording sessions
//! switch `record` with a Control API PATCH of the entry, and a PATCH of a
//! regex entry would switch recording for every camera it matches. MediaMTX
//! splits each command shell-style and expands `$VARS` with no shell and no
//! escape for `$`, so device names that would be split or expanded are
//! refused rather than quoted.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::camera::capture::TEST_PATTERN;
use crate::cli::MediamtxConfigArgs;
use crate::commands::Context;
use crate::error::usage;
use crate::policy::Policy;

/// Prints the entries for the devices given, or for the cameras found.
pub fn main(ctx: &Context, args: &MediamtxConfigArgs) -> anyhow::Result<ExitCode> {
    let devices = if args.device.is_empty() {
        default_devices()
    } else {
        args.device.clone()
    };
    let cameras = cameras(&devices)?;
    print!("{}", render(&ctx.policy, &cameras));
    Ok(ExitCode::SUCCESS)
}

/// One camera: the MediaMTX path name and the device `hook run` opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Camera {
    pub path: String,
    pub device: String,
}

/// The video nodes that may be cameras (metadata and codec nodes left
/// out), else `/dev/video0` so the output is a usable template anywhere.
fn default_devices() -> Vec<String> {
    let found =
        crate::camera::probe::camera_nodes(&crate::camera::probe::V4l2Probe, Path::new("/dev"));
    if found.is_empty() {
        return vec!["/dev/video0".to_string()];
    }
    found.into_iter().map(|d| d.display().to_string()).collect()
}

/// Names a path for each device and checks that MediaMTX can carry the
/// device through its command splitting unchanged.
pub fn cameras(devices: &[String]) -> anyhow::Result<Vec<Camera>> {
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
pub fn path_name_for(device: &str) -> String {
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

/// A duration as MediaMTX reads it, in the largest whole unit (`d` is
/// MediaMTX's own; the rest are Go's).
pub fn mediamtx_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !d.as_nanos().is_multiple_of(1_000_000) {
        crate::policy::duration::format_mediamtx(d)
    } else if ms > 0 && ms.is_multiple_of(86_400_000) {
        format!("{}d", ms / 86_400_000)
    } else if ms > 0 && ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms > 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else {
        crate::policy::duration::format_mediamtx(d)
    }
}

/// A YAML scalar that any YAML reader (MediaMTX's included) reads back as
/// exactly `s`: plain when it consists only of characters that carry no
/// meaning in YAML and cannot be misread, else double-quoted with every
/// character outside printable ASCII escaped (`\n`, `\uXXXX`,
/// `\UXXXXXXXX`), so that no newline, tab, separator or invisible
/// character is ever written raw.
pub fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    ' ' | '/' | '.' | '_' | '-' | '%' | '+' | '=' | ',' | '~' | ':' | '@'
                )
        })
        && !s.starts_with(|c: char| "-?:,~%@=+ ".contains(c) || c.is_ascii_digit())
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | ".inf" | ".nan"
        );
    if plain {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// The text printed by `hook mediamtx-config`: a comment with the global
/// settings the hook relies on, then the `paths:` section.
pub fn render(policy: &Policy, cameras: &[Camera]) -> String {
    let mut out = String::new();
    let v = &policy.viewing;
    let r = &policy.recording;
    let _ = writeln!(
        out,
        "# Generated by `hook mediamtx-config` (mediamtx-hook {}).",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str(
        "#
# Global settings the hook relies on (top level of mediamtx.yml):
#   api: true                   # `hook record` switches `record` per path through the Control API
#   apiAddress: 127.0.0.1:9997  # loopback only; the hook finds it through HOOK_MTX_API
# `hook` must be on MediaMTX's PATH; MediaMTX's environment passes HOOK_STATE_DIR
# (and HOOK_CONFIG, HOOK_MTX_API_USER/PASS when used) on to every hook.
# Without the API, record a camera all the time instead: set `record: true` on
# its entry and start it with `runOnInit: hook run --device …` (not runOnDemand).
",
    );
    let _ = writeln!(out, "paths:");
    for cam in cameras {
        let _ = writeln!(
            out,
            "  # {}: viewing starts on demand and closes {} after the last reader;",
            cam.device, v.close_after
        );
        let _ = writeln!(
            out,
            "  # `hook record start {}` holds it and switches recording on.",
            cam.path
        );
        let _ = writeln!(out, "  {}:", yaml_scalar(&cam.path));
        let run = format!("hook run --device {}", cam.device);
        let entries: [(&str, String); 9] = [
            ("runOnDemand", yaml_scalar(&run)),
            // Timers in seconds, as the policy table states them.
            ("runOnDemandStartTimeout", v.start_timeout.to_string()),
            ("runOnDemandCloseAfter", v.close_after.to_string()),
            ("runOnAvailable", "hook ready".to_string()),
            (
                "runOnRecordSegmentComplete",
                "hook segment-complete".to_string(),
            ),
            ("record", "false".to_string()),
            ("recordPath", yaml_scalar(&r.record_path)),
            (
                "recordSegmentDuration",
                mediamtx_duration(r.segment_duration.0),
            ),
            // 0s: MediaMTX never deletes.
            ("recordDeleteAfter", mediamtx_duration(r.delete_after.0)),
        ];
        for (key, value) in entries {
            let _ = writeln!(out, "    {key}: {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn durations_in_largest_unit() {
        assert_eq!(mediamtx_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(mediamtx_duration(Duration::from_secs(300)), "5m");
        assert_eq!(mediamtx_duration(Duration::from_secs(10)), "10s");
        assert_eq!(mediamtx_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(mediamtx_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(mediamtx_duration(Duration::from_secs(7 * 86400)), "7d");
        assert_eq!(mediamtx_duration(Duration::from_secs(90000)), "25h");
        assert_eq!(mediamtx_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn yaml_scalars() {
        assert_eq!(yaml_scalar("hook ready"), "hook ready");
        assert_eq!(
            yaml_scalar("./recordings/%path/%Y"),
            "./recordings/%path/%Y"
        );
        assert_eq!(yaml_scalar("%path/x"), "\"%path/x\"");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar(""), "\"\"");
        assert_eq!(yaml_scalar("site1/camera0"), "site1/camera0");
        assert_eq!(yaml_scalar("a\nb"), "\"a\\nb\"");
        assert_eq!(yaml_scalar("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(yaml_scalar("x\u{2028}y"), "\"x\\u2028y\"");
        assert_eq!(yaml_scalar("é"), "\"\\u00E9\"");
        assert_eq!(yaml_scalar("\u{1F600}"), "\"\\U0001F600\"");
        for special in [
            "yes", "No", "true", "null", ".inf", "123", "1e3", "12:30", "a #b", "x: y", "end:",
        ] {
            assert!(yaml_scalar(special).starts_with('"'), "{special}");
        }
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
