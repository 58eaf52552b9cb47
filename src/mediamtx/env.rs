//! MediaMTX's hook variables (`MTX_PATH`, `RTSP_PORT`, `G1`, `MTX_SEGMENT_*`)
//! and their validation. Everything MediaMTX hands us is untrusted: each value
//! is checked here, in pure functions, before anything else sees it. The
//! command line reads the variables (hidden `env` arguments of the commands
//! MediaMTX runs, `cli::values` parsers over these checks), so a bad value
//! is refused while the command line is read.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use crate::error::usage;

/// Longest path name accepted (bytes). MediaMTX has no limit of its own; ours
/// keeps state keys and file names sane.
pub const MAX_PATH_NAME: usize = 128;

/// Default RTSP port when neither MediaMTX nor the user gives one.
pub const DEFAULT_RTSP_PORT: u16 = 8554;

/// Reads one variable from the process environment.
pub(crate) fn var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// What a path name may be, for messages: MediaMTX's own rule
/// (`internal/conf/path.go`) minus what is unsafe as a file name.
pub(crate) const PATH_NAME_RULE: &str = "expected a MediaMTX path name: 1-128 characters, each an ASCII letter, digit, '_', '-', '.' or '/'; '/' only between segments (not first, not last, not doubled); no segment '.' or '..' or starting with '.'";

/// Validates a MediaMTX path name. MediaMTX accepts `^[0-9a-zA-Z_\-/\.]+$`
/// not starting or ending with `/` and with no `.` or `..` segment; the
/// hook accepts exactly that, minus empty segments (`a//b`) and segments
/// starting with `.` (hidden files), at most [`MAX_PATH_NAME`] bytes. No
/// space, quote, `?`, `#`, `~`, backslash, non-ASCII, zero-width or
/// bidirectional character gets through. `what` names the source in
/// messages (`MTX_PATH` or `PATH argument`).
pub fn validate_path_name(value: Option<&OsStr>, what: &str) -> anyhow::Result<String> {
    let Some(raw) = value else {
        return Err(usage(format!(
            "{what} is not set: expected the MediaMTX path name (MediaMTX sets it for the hooks it runs)"
        )));
    };
    let Some(s) = raw.to_str() else {
        return Err(usage(format!(
            "{what} is not valid UTF-8 ({raw:?}): {PATH_NAME_RULE}"
        )));
    };
    let shown = || s.escape_default().to_string();
    if s.is_empty() {
        return Err(usage(format!("{what} is empty: {PATH_NAME_RULE}")));
    }
    if s.len() > MAX_PATH_NAME {
        return Err(usage(format!(
            "{what} is {} bytes long: {PATH_NAME_RULE}",
            s.len()
        )));
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')))
    {
        return Err(usage(format!(
            "{what} \"{}\" contains {:?} (U+{:04X}): {PATH_NAME_RULE}",
            shown(),
            c,
            c as u32
        )));
    }
    if s.starts_with('/') || s.ends_with('/') {
        return Err(usage(format!(
            "{what} {s:?} starts or ends with '/': {PATH_NAME_RULE}"
        )));
    }
    for segment in s.split('/') {
        if segment.is_empty() {
            return Err(usage(format!(
                "{what} {s:?} has an empty segment ('//'): {PATH_NAME_RULE}"
            )));
        }
        if segment.starts_with('.') {
            return Err(usage(format!(
                "{what} {s:?} has a segment {segment:?} starting with '.': {PATH_NAME_RULE}"
            )));
        }
    }
    Ok(s.to_string())
}

/// Validates a TCP port given as text (`RTSP_PORT`); `None` gives the default.
pub fn validate_port(value: Option<&OsStr>, what: &str) -> anyhow::Result<u16> {
    let Some(raw) = value else {
        return Ok(DEFAULT_RTSP_PORT);
    };
    let s = raw.to_str().ok_or_else(|| {
        usage(format!(
            "{what} is not valid UTF-8: expected a port number 1-65535"
        ))
    })?;
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage(format!(
            "{what} {s:?} is not a port number: expected an integer 1-65535"
        )));
    }
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(usage(format!(
            "{what} {s:?} is out of range: expected an integer 1-65535"
        ))),
    }
}

/// Validates a regex group used as a device number (`G1`): 1-3 ASCII digits.
pub(crate) fn validate_device_number(value: &OsStr, what: &str) -> anyhow::Result<u32> {
    let s = value.to_str().unwrap_or("");
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage(format!(
            "{what} {value:?} is not a device number: expected 0-999 (the N of /dev/videoN)"
        )));
    }
    Ok(s.parse().expect("checked digits"))
}

/// The number at the end of a path name (`camera0` → 0), if any.
pub(crate) fn trailing_number(path_name: &str) -> Option<u32> {
    let digits: String = path_name
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if digits.is_empty() || digits.len() > 3 {
        return None;
    }
    digits.parse().ok()
}

/// Validates `MTX_SEGMENT_DURATION`: seconds as a non-negative decimal
/// (`1800.032`), finite, at most a week.
pub fn validate_segment_duration(value: Option<&OsStr>) -> anyhow::Result<f64> {
    const WHAT: &str = "MTX_SEGMENT_DURATION";
    let Some(raw) = value else {
        return Err(usage(format!(
            "{WHAT} is not set: expected the segment's duration in seconds (e.g. 1800.032)"
        )));
    };
    let s = raw.to_str().unwrap_or("");
    let well_formed = !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|&b| b == b'.').count() <= 1
        && s.bytes().any(|b| b.is_ascii_digit());
    let parsed = if well_formed {
        s.parse::<f64>().ok()
    } else {
        None
    };
    match parsed {
        Some(d) if d.is_finite() && d <= 7.0 * 86400.0 => Ok(d),
        _ => Err(usage(format!(
            "{WHAT} {raw:?} is not a duration: expected seconds as a decimal number, e.g. 1800.032"
        ))),
    }
}

/// Validates `MTX_SEGMENT_PATH`: set, UTF-8 or not, and naming an existing
/// regular file.
pub(crate) fn validate_segment_path(value: Option<&OsStr>) -> anyhow::Result<PathBuf> {
    const WHAT: &str = "MTX_SEGMENT_PATH";
    let Some(raw) = value else {
        return Err(usage(format!(
            "{WHAT} is not set: expected the path of the finished segment file"
        )));
    };
    if raw.is_empty() {
        return Err(usage(format!(
            "{WHAT} is empty: expected the path of the finished segment file"
        )));
    }
    if raw.len() > 4096 {
        return Err(usage(format!("{WHAT} is longer than 4096 bytes")));
    }
    let path = PathBuf::from(raw);
    // MediaMTX names the file it wrote: a link is never that file.
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        Ok(m) if m.file_type().is_symlink() => Err(usage(format!(
            "{WHAT} {} is a symbolic link: expected the segment file MediaMTX wrote itself",
            path.display()
        ))),
        Ok(_) => Err(usage(format!(
            "{WHAT} {} is not a regular file: expected the finished segment file",
            path.display()
        ))),
        Err(e) => Err(usage(format!(
            "{WHAT} {} does not exist or cannot be read ({e}): expected the finished segment file",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<&OsStr> {
        Some(OsStr::new(s))
    }

    #[test]
    fn path_names() {
        assert_eq!(
            validate_path_name(os("camera0"), "MTX_PATH").unwrap(),
            "camera0"
        );
        assert_eq!(
            validate_path_name(os("cam-1.main_2"), "MTX_PATH").unwrap(),
            "cam-1.main_2"
        );
        for good in ["site1/camera0", "a/b/c", "a..b", "a/b.c/d", "A-Z_0.9"] {
            assert_eq!(validate_path_name(os(good), "MTX_PATH").unwrap(), good);
        }
        for bad in [
            "",
            "..",
            ".",
            "a/../b",
            "a/./b",
            "a\nb",
            ".hidden",
            "a/.hidden",
            "~regex",
            "a\\b",
            "/a",
            "a/",
            "a//b",
            "/",
            "cam 0",
            "cam\"0",
            "cam'0",
            "cam?0",
            "cam#0",
            "cam%0",
            "cam:0",
            "cam\u{200B}0",
            "cam\u{202E}0",
            "cam\u{00E9}",
            "caméra",
        ] {
            let err = validate_path_name(os(bad), "MTX_PATH").unwrap_err();
            assert!(crate::error::is_usage(&err), "{bad:?}");
            assert!(err.to_string().contains("MTX_PATH"), "{err}");
        }
        assert!(validate_path_name(None, "MTX_PATH").is_err());
        assert!(validate_path_name(os(&"x".repeat(MAX_PATH_NAME + 1)), "MTX_PATH").is_err());
        assert!(validate_path_name(os(&"x".repeat(MAX_PATH_NAME)), "MTX_PATH").is_ok());
        let err = validate_path_name(os("cam\u{200B}0"), "MTX_PATH").unwrap_err();
        assert!(err.to_string().contains("U+200B"), "{err}");
        assert!(err.to_string().contains(PATH_NAME_RULE), "{err}");
    }

    #[test]
    fn non_utf8_path_name() {
        use std::os::unix::ffi::OsStrExt;
        let raw = OsStr::from_bytes(b"cam\xff");
        assert!(validate_path_name(Some(raw), "MTX_PATH").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(validate_port(None, "RTSP_PORT").unwrap(), 8554);
        assert_eq!(validate_port(os("554"), "RTSP_PORT").unwrap(), 554);
        for bad in ["", "0", "65536", "12a", "-1", " 80", "8554 ", "999999"] {
            assert!(validate_port(os(bad), "RTSP_PORT").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn device_numbers() {
        assert_eq!(trailing_number("camera0"), Some(0));
        assert_eq!(trailing_number("cam12"), Some(12));
        assert_eq!(trailing_number("cam"), None);
        assert_eq!(trailing_number("cam12345"), None);
        assert_eq!(trailing_number("site1/camera3"), Some(3));
        assert_eq!(trailing_number("site1/cam"), None);
        assert_eq!(validate_device_number(OsStr::new("2"), "G1").unwrap(), 2);
        assert!(validate_device_number(OsStr::new("x"), "G1").is_err());
        assert!(validate_device_number(OsStr::new(""), "G1").is_err());
    }

    #[test]
    fn segment_durations() {
        assert_eq!(validate_segment_duration(os("1800.032")).unwrap(), 1800.032);
        assert_eq!(validate_segment_duration(os("5")).unwrap(), 5.0);
        for bad in [
            "", "abc", "1e3", "-1", "1.2.3", "NaN", "inf", ".", "99999999",
        ] {
            assert!(validate_segment_duration(os(bad)).is_err(), "{bad:?}");
        }
        assert!(validate_segment_duration(None).is_err());
    }
}
