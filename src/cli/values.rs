//! Value parsers: every value a person or MediaMTX hands the hook on the
//! command line or in a variable is checked here, while clap reads the
//! command line, so that a bad one is refused before any command runs
//! (exit 2). Part of the command-line layer; the checks themselves that are
//! MediaMTX's rules live in `mediamtx::env`.
//!
//! The parsers of this file refuse with [`refusal`], a message of its own
//! (naming the flag, the argument or the variable): `main` logs it like
//! every other usage error, so that under MediaMTX it reaches the journal
//! with its priority and its `hook[-]` tag.

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::parser::ValueSource;

use crate::mediamtx::env as mtx_env;
use crate::policy::duration::Dur;

/// A refusal by one of the parsers below: exit 2 with `message`.
pub(crate) fn refusal(cmd: &clap::Command, message: impl std::fmt::Display) -> clap::Error {
    clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).with_cmd(cmd)
}

/// The message of a refusal made by [`refusal`] (clap's own errors, which
/// name the flag and its value in their own words, give `None`).
pub fn refusal_message(err: &clap::Error) -> Option<String> {
    if err.kind() != ErrorKind::ValueValidation || err.context().next().is_some() {
        return None;
    }
    let text = err.to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    Some(text.trim_end().to_string())
}

/// A value `check` accepts; `what` names it in the refusal (`PATH`,
/// `MTX_PATH`, `RTSP_PORT`…).
pub(crate) struct Checked<T> {
    what: &'static str,
    check: fn(&OsStr, &'static str) -> anyhow::Result<T>,
}

impl<T> Clone for Checked<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Checked<T> {}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Checked<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        (self.check)(value, self.what).map_err(|e| refusal(cmd, e))
    }
}

/// A MediaMTX path name (`mediamtx::env::validate_path_name`).
pub(crate) const fn path_name(what: &'static str) -> Checked<String> {
    Checked {
        what,
        check: |value, what| mtx_env::validate_path_name(Some(value), what),
    }
}

/// A TCP port, 1-65535 (`mediamtx::env::validate_port`).
pub(crate) const fn port(what: &'static str) -> Checked<u16> {
    Checked {
        what,
        check: |value, what| mtx_env::validate_port(Some(value), what),
    }
}

/// `MTX_SEGMENT_PATH`: the segment file MediaMTX finished.
pub(crate) const SEGMENT_PATH: Checked<PathBuf> = Checked {
    what: "MTX_SEGMENT_PATH",
    check: |value, _| mtx_env::validate_segment_path(Some(value)),
};

/// `MTX_SEGMENT_DURATION`: the segment's length in seconds.
pub(crate) const SEGMENT_DURATION: Checked<f64> = Checked {
    what: "MTX_SEGMENT_DURATION",
    check: |value, _| mtx_env::validate_segment_duration(Some(value)),
};

/// A file or directory named by a flag or its variable (`--state-dir` /
/// `HOOK_STATE_DIR`, `--config` / `HOOK_CONFIG`): taken as given, but an
/// empty or blank (whitespace only) value is refused, naming the flag when
/// the value came from the command line, else the variable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NonBlankPath {
    flag: &'static str,
    var: &'static str,
    /// What was expected, for the message.
    expected: &'static str,
}

impl TypedValueParser for NonBlankPath {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<PathBuf, clap::Error> {
        self.parse_ref_(cmd, arg, value, ValueSource::CommandLine)
    }

    fn parse_ref_(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
        source: ValueSource,
    ) -> Result<PathBuf, clap::Error> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = value.as_bytes();
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(PathBuf::from(value));
        }
        let named = match source {
            ValueSource::EnvVariable => self.var,
            _ => self.flag,
        };
        let what = if bytes.is_empty() {
            "is empty".to_string()
        } else {
            format!("is blank ({value:?})")
        };
        Err(refusal(
            cmd,
            format!("{named} {what}: expected {}", self.expected),
        ))
    }
}

/// `--state-dir` / `HOOK_STATE_DIR`.
pub(crate) const STATE_DIR: NonBlankPath = NonBlankPath {
    flag: "--state-dir",
    var: "HOOK_STATE_DIR",
    expected: "a state directory (unset HOOK_STATE_DIR and leave out --state-dir for the default, /var/lib/mediamtx-hook when writable)",
};

/// `--config` / `HOOK_CONFIG`.
pub(crate) const CONFIG: NonBlankPath = NonBlankPath {
    flag: "--config",
    var: "HOOK_CONFIG",
    expected:
        "a JSON config file (unset HOOK_CONFIG and leave out --config for the built-in policy)",
};

/// Longest `record start --reason`, in bytes.
pub(crate) const MAX_REASON_BYTES: usize = 200;

/// Longest `stop --reason`, in bytes.
pub(crate) const MAX_STOP_REASON_BYTES: usize = 500;

/// `record start --reason`: one line of at most [`MAX_REASON_BYTES`] bytes,
/// trimmed (empty means none).
pub(crate) const REASON: Checked<String> = Checked {
    what: "--reason",
    check: |value, _| check_reason(value).map_err(anyhow::Error::msg),
};

/// The check of [`REASON`].
fn check_reason(reason: &OsStr) -> Result<String, String> {
    let r = trimmed_text(reason)?;
    if let Some((at, c)) = r.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "--reason {:?}: contains the control character {:?} at byte {at}; expected one line of text",
            shorten(r),
            c
        ));
    }
    if r.len() > MAX_REASON_BYTES {
        return Err(format!(
            "--reason {:?}: {} bytes long; expected at most {MAX_REASON_BYTES} bytes of text",
            shorten(r),
            r.len()
        ));
    }
    Ok(r.to_string())
}

/// `stop --reason`: one line of at most [`MAX_STOP_REASON_BYTES`] bytes,
/// trimmed (empty means none).
pub(crate) const STOP_REASON: Checked<String> = Checked {
    what: "--reason",
    check: |value, _| check_stop_reason(value).map_err(anyhow::Error::msg),
};

/// The check of [`STOP_REASON`].
fn check_stop_reason(reason: &OsStr) -> Result<String, String> {
    let r = trimmed_text(reason)?;
    if r.chars().any(char::is_control) {
        return Err("--reason contains control characters: expected one line of text".into());
    }
    if r.len() > MAX_STOP_REASON_BYTES {
        return Err(format!(
            "--reason is longer than {MAX_STOP_REASON_BYTES} bytes: expected a short line of text"
        ));
    }
    Ok(r.to_string())
}

/// A `--reason` as text, trimmed.
fn trimmed_text(reason: &OsStr) -> Result<&str, String> {
    reason.to_str().map(str::trim).ok_or_else(|| {
        format!(
            "--reason {}: not UTF-8; expected one line of text",
            reason.to_string_lossy()
        )
    })
}

/// The first 40 characters, for messages.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A duration flag that must be positive: `0s` is refused with
/// "`flag` 0s: expected `hint`".
pub(crate) fn positive_dur(
    flag: &'static str,
    hint: &'static str,
) -> impl Fn(&str) -> Result<Dur, String> + Clone + Send + Sync + 'static {
    move |text| {
        let d: Dur = text.parse()?;
        if d.0.is_zero() {
            return Err(format!("{flag} 0s: expected {hint}"));
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_checked() {
        let check = |s: &str| check_reason(OsStr::new(s));
        assert_eq!(check("  ").unwrap(), "");
        assert_eq!(check(" door open ").unwrap(), "door open");
        let max = "é".repeat(MAX_REASON_BYTES / 2);
        assert_eq!(check(&max).unwrap(), max);
        for bad in [
            "a\nb",
            "tab\there",
            "\u{1b}[31m",
            &"x".repeat(MAX_REASON_BYTES + 1),
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.starts_with("--reason "), "{e}");
        }
    }

    #[test]
    fn refusals_are_told_in_their_own_words() {
        use clap::Parser as _;
        let refused = |argv: &[&str]| {
            let err = crate::cli::Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{argv:?}");
            refusal_message(&err)
        };
        assert_eq!(
            refused(&["hook", "--state-dir", "", "status"]).unwrap(),
            format!("--state-dir is empty: expected {}", STATE_DIR.expected)
        );
        let blank = refused(&["hook", "--config=  ", "status"]).unwrap();
        assert!(blank.starts_with("--config is blank (\"  \")"), "{blank}");
        let path = refused(&["hook", "record", "stop", "a//b"]).unwrap();
        assert!(
            path.starts_with("PATH \"a//b\" has an empty segment"),
            "{path}"
        );
        let port = refused(&["hook", "hold", "cam0", "--rtsp-port", "0"]).unwrap();
        assert!(
            port.starts_with("RTSP_PORT \"0\" is out of range"),
            "{port}"
        );
        let reason = refused(&["hook", "stop", "cam0", "--reason", "a\tb"]).unwrap();
        assert!(reason.starts_with("--reason contains control"), "{reason}");
        // clap's own errors are clap's to print.
        assert_eq!(refused(&["hook", "status", "--no-such-flag"]), None);
        assert_eq!(
            refused(&["hook", "record", "start", "c0", "--duration", "0s"]),
            None
        );
    }

    #[test]
    fn positive_durations() {
        let p = positive_dur("--timeout", "a positive time limit, e.g. 5s");
        assert_eq!(p("5s").unwrap(), Dur::secs(5));
        assert_eq!(
            p("0s").unwrap_err(),
            "--timeout 0s: expected a positive time limit, e.g. 5s"
        );
        assert!(p("5").is_err());
    }
}
