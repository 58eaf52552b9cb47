//! The use-case policies (viewing, recording, snapshot) and the supervision
//! values, with the SPEC's defaults, optionally overridden by the JSON config
//! named by `HOOK_CONFIG` / `--config`.
//!
//! Unknown keys are refused (a typo must not silently fall back to a default),
//! and so is a `0s` close-after or start timeout: MediaMTX reads `0s` as
//! "at once", never as "never".

pub mod duration;
pub mod events;
pub(crate) mod record_path;
pub(crate) mod size;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::error::usage;
use crate::policy::duration::Dur;
use crate::policy::size::{MinFree, Size};

/// Default of `recording.delete_after`, in days (the shipped
/// `mediamtx/mediamtx.yml` says `recordDeleteAfter: 7d`).
pub(crate) const DEFAULT_DELETE_AFTER_DAYS: u64 = 7;

/// MediaMTX's ceiling of `recordSegmentDuration` (its MP4 header would
/// overflow beyond it).
pub(crate) const MAX_SEGMENT_DURATION: Duration = Duration::from_secs(86400);

/// Largest config file read.
pub(crate) const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The config's text: a regular file (a link to one is fine) of at most
/// [`MAX_CONFIG_BYTES`]. Opened with `O_NONBLOCK`, so a FIFO is refused
/// rather than waited on; a device such as `/dev/zero` is refused too.
fn read_config(file: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)
        .map_err(|e| format!("cannot read it: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot read it: {e}"))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(format!("is {what}: expected a JSON file"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "is larger than {MAX_CONFIG_BYTES} bytes (1 MiB): expected a small JSON file"
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("is not UTF-8 text: {e}"))
}

/// All policy values. Every section and key is optional in the file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub viewing: Viewing,
    pub recording: Recording,
    pub snapshot: Snapshot,
    pub restart: Restart,
    pub stills: Stills,
    pub events: events::Events,
}

/// Viewing: MediaMTX starts the publisher on demand and closes it when idle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Viewing {
    /// `runOnDemandCloseAfter`: how long after the last reader left.
    pub close_after: Dur,
    /// `runOnDemandStartTimeout`: how long readers wait for the publisher.
    pub start_timeout: Dur,
}

/// Recording: sessions hold the stream; MediaMTX cuts segments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Recording {
    /// `recordSegmentDuration`.
    pub segment_duration: Dur,
    /// `recordDeleteAfter`: MediaMTX deletes segments older than this;
    /// `0s` means it never deletes them.
    pub delete_after: Dur,
    /// A segment starting later than this after the previous one ended is a gap.
    pub gap_tolerance: Dur,
    /// `recordPath` written into the generated config.
    pub record_path: String,
    /// How often a recording hold checks its session (end time, stop) and
    /// MediaMTX's `record` switch (forgotten after a MediaMTX restart).
    pub hold_check_interval: Dur,
    /// Disk budget: the most all recorded segments (every path) may take;
    /// `hook segment-complete` deletes the oldest beyond it. Unset: no cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Size>,
    /// Disk budget: free space to keep on the recordings' file system (a
    /// size or a share such as `5%`). Unset: the smaller of 5% and 1 GiB
    /// ([`Recording::min_free_bytes`]); `0` turns it off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_free: Option<MinFree>,
}

impl Recording {
    /// The free space to keep on a file system of `total` bytes.
    pub(crate) fn min_free_bytes(&self, total: u64) -> u64 {
        match self.min_free {
            Some(m) => m.bytes(total),
            None => MinFree::Percent {
                hundredths: size::DEFAULT_MIN_FREE_PERCENT * 100,
            }
            .bytes(total)
            .min(size::DEFAULT_MIN_FREE_BYTES),
        }
    }

    /// `min_free` as written in the ledger and status (`2GiB`, `5%`,
    /// or `default (5%, at most 1GiB)`).
    pub(crate) fn min_free_text(&self) -> String {
        match self.min_free {
            Some(m) => m.to_string(),
            None => "default (5%, at most 1GiB)".into(),
        }
    }
}

/// The key that once chose a hold's reader. Holds always read with the
/// hook's native RTSP reader now; see [`take_obsolete_keys`].
const OBSOLETE_HOLD_READER: &str = "hold_reader";

/// Takes the obsolete `recording.hold_reader` out of a config before it is
/// read. Its two old values are accepted with a warning that says to delete
/// the key: `"native"` (what every hold does now) and `"ffmpeg"` (the old
/// shipped default, kept in configs an operator edited: holding the stream
/// with the native reader instead changes nothing a user relies on, so an
/// upgrade does not stop every command). Anything else is refused, naming
/// the key.
fn take_obsolete_keys(
    value: &mut serde_json::Value,
    origin: &str,
) -> anyhow::Result<Option<String>> {
    let Some(recording) = value.get_mut("recording").and_then(|r| r.as_object_mut()) else {
        return Ok(None);
    };
    let Some(given) = recording.remove(OBSOLETE_HOLD_READER) else {
        return Ok(None);
    };
    if given == "native" {
        return Ok(Some(format!(
            "config {origin}: recording.hold_reader is obsolete (holds always use the hook's native RTSP reader); delete the key"
        )));
    }
    if given == "ffmpeg" {
        return Ok(Some(format!(
            "config {origin}: recording.hold_reader: \"ffmpeg\" is obsolete: the FFmpeg hold reader was removed and holds use the hook's native RTSP reader (same stream, a fraction of the memory); delete the key"
        )));
    }
    Err(usage(format!(
        "config {origin}: recording.hold_reader: {given} is no longer available; holds always use the hook's native RTSP reader (the FFmpeg hold reader was removed): delete the key"
    )))
}

/// Snapshot: one JPEG, at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Snapshot {
    /// How long a snapshot may take before it is abandoned.
    pub timeout: Dur,
    /// Frames dropped before the one kept when a snapshot opens the camera
    /// itself: a cold camera's first frames are dark, off-colour (auto
    /// exposure and white balance still settling) or torn.
    pub warmup_frames: u32,
}

/// Live stills: a JPEG of the running camera, rewritten by the publisher's
/// FFmpeg every `every`, for Home Assistant's `local_file` camera or any web
/// server. Off unless `every` is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stills {
    /// How often the still is rewritten; absent (null): no stills.
    pub every: Option<Dur>,
    /// Where the stills go (`<dir>/<path file name>.jpg`); a relative
    /// directory is taken in the state directory.
    pub dir: String,
}

/// The shortest still interval accepted (10 pictures a second).
pub(crate) const MIN_STILL_EVERY: Duration = Duration::from_millis(100);

impl Default for Stills {
    fn default() -> Self {
        Stills {
            every: None,
            dir: "stills".to_string(),
        }
    }
}

/// Checks a still interval; `key` names it (`stills.every`, `--still-every`).
pub(crate) fn check_still_every(every: Dur, key: &str) -> Result<(), String> {
    if every.0 < MIN_STILL_EVERY {
        return Err(format!(
            "{key} is {every}: expected an interval of at least 100ms, e.g. 10s (leave stills.every out for no stills)"
        ));
    }
    Ok(())
}

/// Checks `stills.dir`: not empty, printable, no `..` component (a relative
/// directory stays inside the state directory).
pub(crate) fn check_stills_dir(dir: &str) -> Result<(), String> {
    const KEY: &str = "stills.dir";
    if dir.trim().is_empty() {
        return Err(format!(
            "{KEY} is empty: expected a directory such as stills (in the state directory) or /var/www/stills"
        ));
    }
    if let Some(c) = dir.chars().find(|&c| is_unsafe_char(c)) {
        return Err(format!(
            "{KEY} {:?} contains the control or invisible character U+{:04X}: expected printable characters only",
            dir.escape_debug().to_string(),
            c as u32
        ));
    }
    if Path::new(dir)
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "{KEY} {dir:?} has a `..` component: expected a directory without `..`"
        ));
    }
    Ok(())
}

/// Supervision of every child (publisher and holds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Restart {
    /// First restart delay; doubles per consecutive failure.
    pub initial_delay: Dur,
    /// Ceiling of the restart delay.
    pub max_delay: Dur,
    /// A run at least this long resets the delay to `initial_delay`.
    pub stable_after: Dur,
    /// Time between SIGINT and SIGKILL when stopping a child.
    pub grace: Dur,
    /// A child with no new frames for this long is restarted.
    pub stall_timeout: Dur,
    /// How long a new instance waits for the previous owner of its device.
    pub device_lock_wait: Dur,
}

impl Default for Viewing {
    fn default() -> Self {
        Viewing {
            close_after: Dur::secs(300),
            start_timeout: Dur::secs(10),
        }
    }
}

impl Default for Recording {
    fn default() -> Self {
        Recording {
            segment_duration: Dur::secs(30 * 60),
            delete_after: Dur::secs(DEFAULT_DELETE_AFTER_DAYS * 86400),
            gap_tolerance: Dur::millis(1500),
            record_path: "./recordings/%path/%Y-%m-%d_%H-%M-%S-%f".to_string(),
            hold_check_interval: Dur::secs(5),
            max_size: None,
            min_free: None,
        }
    }
}

/// `snapshot.warmup_frames`: a third of a second at 30 fps.
pub(crate) const DEFAULT_WARMUP_FRAMES: u32 = 10;

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            timeout: Dur::secs(5),
            warmup_frames: DEFAULT_WARMUP_FRAMES,
        }
    }
}

impl Default for Restart {
    fn default() -> Self {
        Restart {
            initial_delay: Dur::secs(1),
            max_delay: Dur::secs(30),
            stable_after: Dur::secs(60),
            grace: Dur::secs(5),
            stall_timeout: Dur::secs(15),
            device_lock_wait: Dur::secs(8),
        }
    }
}

impl Policy {
    /// Parses and validates a JSON config text. `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> anyhow::Result<Policy> {
        let mut value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| usage(format!("config {origin}: not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(usage(format!(
                "config {origin}: expected a JSON object with sections viewing, recording, snapshot, restart, stills, events"
            )));
        }
        if let Some(warning) = take_obsolete_keys(&mut value, origin)? {
            log::warn!("{warning}");
        }
        let policy: Policy = serde_json::from_value(value.clone()).map_err(|e| {
            let text = e.to_string();
            if text.starts_with("unknown field") {
                usage(format!(
                    "config {origin}: {text} (unknown keys are refused so that a typo never silently falls back to a default)"
                ))
            } else {
                match offending_key(&value) {
                    Some(key) => usage(format!("config {origin}: {key}: {text}")),
                    None => usage(format!("config {origin}: {text}")),
                }
            }
        })?;
        policy
            .validate()
            .map_err(|e| usage(format!("config {origin}: {e}")))?;
        Ok(policy)
    }

    /// Loads the config file when one is named, else the defaults.
    pub(crate) fn load(file: Option<&Path>) -> anyhow::Result<Policy> {
        let Some(file) = file else {
            return Ok(Policy::default());
        };
        let text = read_config(file)
            .map_err(|e| usage(format!("config {}: {e}", file.display())))
            .context("loading the JSON config (HOOK_CONFIG / --config)")?;
        Policy::from_json(&text, &file.display().to_string())
    }

    /// Checks the relations between values; returns a message saying why not.
    pub fn validate(&self) -> Result<(), String> {
        self.events.validate()?;
        let zero = Duration::ZERO;
        if self.viewing.close_after.0 == zero {
            return Err("viewing.close_after is 0s, which MediaMTX reads as \"close at once when the last reader leaves\", not \"never\"; give a positive duration (the default is 300s) or use a recording session to keep the stream".into());
        }
        if self.viewing.start_timeout.0 == zero {
            return Err("viewing.start_timeout is 0s, which MediaMTX reads as \"fail readers at once\"; give a positive duration (the default is 10s)".into());
        }
        if self.recording.segment_duration.0 == zero {
            return Err("recording.segment_duration must be positive (the default is 30m)".into());
        }
        let seg = self.recording.segment_duration;
        if seg.0 > MAX_SEGMENT_DURATION {
            return Err(format!(
                "recording.segment_duration is {seg}: MediaMTX's maximum segment duration is 1 day (24h)"
            ));
        }
        let delete_after = self.recording.delete_after;
        if delete_after.0 != zero && delete_after < seg {
            return Err(format!(
                "recording.delete_after ({delete_after}) is below recording.segment_duration ({seg}): MediaMTX refuses a recordDeleteAfter lower than recordSegmentDuration; give at least {seg}, or 0s to never delete"
            ));
        }
        check_record_path(&self.recording.record_path)?;
        if self.recording.hold_check_interval.0 < Duration::from_millis(100) {
            return Err(
                "recording.hold_check_interval must be at least 100ms (the default is 5s)".into(),
            );
        }
        if let Some(every) = self.stills.every {
            check_still_every(every, "stills.every")?;
        }
        check_stills_dir(&self.stills.dir)?;
        if self.snapshot.timeout.0 == zero {
            return Err("snapshot.timeout must be positive (the default is 5s)".into());
        }
        let r = &self.restart;
        if r.initial_delay.0 == zero || r.grace.0 == zero || r.stall_timeout.0 == zero {
            return Err(
                "restart.initial_delay, restart.grace and restart.stall_timeout must be positive"
                    .into(),
            );
        }
        if r.max_delay < r.initial_delay {
            return Err(format!(
                "restart.max_delay ({}) is below restart.initial_delay ({})",
                r.max_delay, r.initial_delay
            ));
        }
        if r.device_lock_wait >= self.viewing.start_timeout {
            return Err(format!(
                "restart.device_lock_wait ({}) must be below viewing.start_timeout ({}) so a waiting instance still publishes in time",
                r.device_lock_wait, self.viewing.start_timeout
            ));
        }
        Ok(())
    }
}

/// MediaMTX's rules for `recordPath` (`internal/conf/path.go`): it must
/// contain `%path`, and either `%s` or all of `%Y %m %d %H %M %S`; `%f` is
/// required by MediaMTX when its playback server is on, and by the hook
/// always (two segments started within one second keep distinct names, and
/// the file stays valid whatever `playback` says). No control characters or
/// line separators: the value goes into a YAML file and into file names.
pub(crate) fn check_record_path(path: &str) -> Result<(), String> {
    const KEY: &str = "recording.record_path";
    if path.trim().is_empty() {
        return Err(format!(
            "{KEY} is empty: expected a path such as ./recordings/%path/%Y-%m-%d_%H-%M-%S-%f"
        ));
    }
    if let Some(c) = path.chars().find(|&c| is_unsafe_char(c)) {
        return Err(format!(
            "{KEY} {:?} contains the control or invisible character U+{:04X}: expected printable characters only",
            path.escape_debug().to_string(),
            c as u32
        ));
    }
    let missing: Vec<&str> = {
        let mut m = Vec::new();
        if !path.contains("%path") {
            m.push("%path");
        }
        let dated = path.contains("%s")
            || ["%Y", "%m", "%d", "%H", "%M", "%S"]
                .iter()
                .all(|f| path.contains(f));
        if !dated {
            m.push("%s or all of %Y %m %d %H %M %S");
        }
        if !path.contains("%f") {
            m.push("%f");
        }
        m
    };
    if !missing.is_empty() {
        return Err(format!(
            "{KEY} {path:?} lacks {}: MediaMTX requires %path and either %s or all of %Y %m %d %H %M %S (and %f when its playback server is on; the hook always requires %f), e.g. ./recordings/%path/%Y-%m-%d_%H-%M-%S-%f",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Control characters, line and paragraph separators, and invisible
/// formatting characters (zero-width, bidirectional overrides, BOM).
pub(crate) fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{FFFE}'
            | '\u{FFFF}')
}

/// The `section.key` whose value does not deserialize, found by trying each
/// key alone (serde's own message names the type, not the key).
fn offending_key(value: &serde_json::Value) -> Option<String> {
    let sections = value.as_object()?;
    for (section, body) in sections {
        let Some(keys) = body.as_object() else {
            return Some(section.clone());
        };
        for (key, v) in keys {
            let alone = serde_json::json!({ section.as_str(): { key.as_str(): v } });
            if serde_json::from_value::<Policy>(alone).is_err() {
                return Some(format!("{section}.{key}"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let p = Policy::default();
        assert_eq!(p.viewing.close_after.0, Duration::from_secs(300));
        assert_eq!(p.viewing.start_timeout.0, Duration::from_secs(10));
        assert_eq!(p.recording.segment_duration.0, Duration::from_secs(1800));
        assert_eq!(p.restart.initial_delay.0, Duration::from_secs(1));
        assert_eq!(p.restart.max_delay.0, Duration::from_secs(30));
        assert_eq!(p.restart.stable_after.0, Duration::from_secs(60));
        assert_eq!(p.restart.grace.0, Duration::from_secs(5));
        assert!(p.validate().is_ok());
    }

    #[test]
    fn the_obsolete_hold_reader_key() {
        let p = Policy::from_json(r#"{"recording":{"hold_reader":"native"}}"#, "t").unwrap();
        assert_eq!(p, Policy::default());
        let mut v = serde_json::json!({"recording": {"hold_reader": "native"}});
        let warning = take_obsolete_keys(&mut v, "t").unwrap().unwrap();
        assert!(
            warning.contains("recording.hold_reader is obsolete"),
            "{warning}"
        );
        let p = Policy::from_json(r#"{"recording":{"hold_reader":"ffmpeg"}}"#, "t").unwrap();
        assert_eq!(p, Policy::default(), "the old default still loads");
        let mut v = serde_json::json!({"recording": {"hold_reader": "ffmpeg"}});
        let warning = take_obsolete_keys(&mut v, "t").unwrap().unwrap();
        assert!(
            warning.contains("FFmpeg hold reader was removed"),
            "{warning}"
        );
        for bad in [r#""fast""#, "1"] {
            let text = format!(r#"{{"recording":{{"hold_reader":{bad}}}}}"#);
            let err = Policy::from_json(&text, "t").unwrap_err();
            assert!(crate::error::is_usage(&err), "{err}");
            let msg = err.to_string();
            assert!(msg.contains("recording.hold_reader"), "{msg}");
            assert!(msg.contains(bad), "{msg}");
            assert!(msg.contains("delete the key"), "{msg}");
        }
    }

    #[test]
    fn partial_override() {
        let p = Policy::from_json(r#"{"viewing":{"close_after":"60s"}}"#, "t").unwrap();
        assert_eq!(p.viewing.close_after.0, Duration::from_secs(60));
        assert_eq!(p.viewing.start_timeout.0, Duration::from_secs(10));
    }

    #[test]
    fn refuses_unknown_keys_and_zero_close_after() {
        let err = Policy::from_json(r#"{"viewing":{"close_afterr":"60s"}}"#, "t").unwrap_err();
        assert!(err.to_string().contains("close_afterr"), "{err}");
        assert!(err.to_string().contains("typo"), "{err}");
        assert!(Policy::from_json(r#"{"viewnig":{}}"#, "t").is_err());
        let err = Policy::from_json(r#"{"viewing":{"close_after":"0s"}}"#, "t").unwrap_err();
        assert!(err.to_string().contains("not \"never\""), "{err}");
        assert!(crate::error::is_usage(&err));
        let err = Policy::from_json(r#"{"restart":{"grace":"5"}}"#, "t").unwrap_err();
        assert!(err.to_string().contains("restart.grace"), "{err}");
        let err = Policy::from_json(r#"{"viewing":{"close_after":300}}"#, "t").unwrap_err();
        assert!(err.to_string().contains("viewing.close_after"), "{err}");
        assert!(Policy::from_json("[]", "t").is_err());
    }

    #[test]
    fn sub_millisecond_durations_are_refused_naming_the_key() {
        for (json, key) in [
            (
                r#"{"viewing":{"close_after":"0.4ms"}}"#,
                "viewing.close_after",
            ),
            (r#"{"restart":{"grace":"0.5ms"}}"#, "restart.grace"),
            (
                r#"{"recording":{"delete_after":"1.0005s"}}"#,
                "recording.delete_after",
            ),
        ] {
            let err = Policy::from_json(json, "t").unwrap_err();
            assert!(crate::error::is_usage(&err), "{json}");
            let text = err.to_string();
            assert!(text.contains(key), "{json}: {text}");
            assert!(text.contains("whole number of milliseconds"), "{text}");
        }
        let p = Policy::from_json(r#"{"restart":{"grace":"1ms"}}"#, "t").unwrap();
        assert_eq!(p.restart.grace.0, Duration::from_millis(1));
    }

    #[test]
    fn delete_after_defaults_to_seven_days_and_zero_means_never() {
        assert_eq!(
            Policy::default().recording.delete_after.0,
            Duration::from_secs(7 * 86400)
        );
        let p = Policy::from_json(r#"{"recording":{"delete_after":"0s"}}"#, "t").unwrap();
        assert_eq!(p.recording.delete_after.0, Duration::ZERO);
        let err = Policy::from_json(
            r#"{"recording":{"segment_duration":"1h","delete_after":"30m"}}"#,
            "t",
        )
        .unwrap_err();
        assert!(crate::error::is_usage(&err));
        assert!(err.to_string().contains("recording.delete_after"), "{err}");
        assert!(Policy::from_json(
            r#"{"recording":{"segment_duration":"1h","delete_after":"1h"}}"#,
            "t"
        )
        .is_ok());
        let err = Policy::from_json(
            r#"{"recording":{"segment_duration":"25h","delete_after":"0s"}}"#,
            "t",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("recording.segment_duration"),
            "{err}"
        );
        assert!(err.to_string().contains("1 day"), "{err}");
    }

    #[test]
    fn record_path_follows_mediamtx_rules() {
        for ok in [
            "./recordings/%path/%Y-%m-%d_%H-%M-%S-%f",
            "/srv/rec/%path/%s-%f",
            "/srv/rec/%path/%Y/%m/%d/%H-%M-%S-%f",
        ] {
            assert!(check_record_path(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("./recordings/%Y-%m-%d_%H-%M-%S-%f", "%path"),
            ("./recordings/%path/%Y-%m-%d_%H-%M-%f", "%s or all of"),
            ("./recordings/%path/%Y-%m-%d_%H-%M-%S", "%f"),
            ("./rec\n/%path/%s-%f", "U+000A"),
            ("./rec/%path/%s-%f\u{202E}", "U+202E"),
            ("./rec/\u{200B}%path/%s-%f", "U+200B"),
        ] {
            let err = check_record_path(bad).unwrap_err();
            assert!(err.contains("recording.record_path"), "{bad:?}: {err}");
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let err =
            Policy::from_json(r#"{"recording":{"record_path":"x/%path\n%s%f"}}"#, "t").unwrap_err();
        assert!(crate::error::is_usage(&err));
    }

    #[test]
    fn disk_budget_keys() {
        let p = Policy::from_json(
            r#"{"recording":{"max_size":"50GiB","min_free":"2GiB"}}"#,
            "t",
        )
        .unwrap();
        assert_eq!(p.recording.max_size, Some(size::Size(50 << 30)));
        assert_eq!(p.recording.min_free_bytes(u64::MAX), 2 << 30);
        let d = Recording::default();
        assert_eq!(d.max_size, None);
        // The smaller of 5% and 1 GiB.
        assert_eq!(d.min_free_bytes(32_000_000_000), 1 << 30);
        assert_eq!(d.min_free_bytes(8_000_000_000), 400_000_000);
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(Policy::from_json(&text, "again").unwrap(), p, "{text}");
        for (json, key) in [
            (r#"{"recording":{"max_size":"50G"}}"#, "recording.max_size"),
            (r#"{"recording":{"max_size":50}}"#, "recording.max_size"),
            (r#"{"recording":{"min_free":"120%"}}"#, "recording.min_free"),
        ] {
            let err = Policy::from_json(json, "t").unwrap_err();
            assert!(crate::error::is_usage(&err), "{json}");
            assert!(err.to_string().contains(key), "{json}: {err}");
        }
    }

    #[test]
    fn stills_are_off_by_default_and_checked_naming_the_key() {
        assert_eq!(Policy::default().stills.every, None);
        assert_eq!(Policy::default().stills.dir, "stills");
        let p =
            Policy::from_json(r#"{"stills":{"every":"10s","dir":"/srv/stills"}}"#, "t").unwrap();
        assert_eq!(p.stills.every, Some(Dur::secs(10)));
        for (json, why) in [
            (r#"{"stills":{"every":"0s"}}"#, "at least 100ms"),
            (r#"{"stills":{"every":"50ms"}}"#, "at least 100ms"),
            (r#"{"stills":{"every":"10"}}"#, "no unit"),
            (r#"{"stills":{"every":10}}"#, ""),
            (r#"{"stills":{"dir":""}}"#, "empty"),
            (r#"{"stills":{"dir":"../www"}}"#, ".."),
            (r#"{"stills":{"dir":"a\nb"}}"#, "U+000A"),
        ] {
            let err = Policy::from_json(json, "t").unwrap_err();
            assert!(crate::error::is_usage(&err), "{json}");
            let text = err.to_string();
            assert!(text.contains("stills."), "{json}: {text}");
            assert!(text.contains(why), "{json}: {text}");
        }
        let err = Policy::from_json(r#"{"stills":{"evry":"1s"}}"#, "t").unwrap_err();
        assert!(err.to_string().contains("evry"), "{err}");
    }

    /// A hold is handed the policy as JSON: what is written reads back as
    /// exactly the same values.
    #[test]
    fn a_policy_written_as_json_reads_back_the_same() {
        let p = Policy::from_json(
            r#"{"viewing":{"close_after":"1.5s","start_timeout":"12001ms"},
                "recording":{"gap_tolerance":"1ms","delete_after":"0s","hold_check_interval":"100ms"},
                "restart":{"grace":"1ms","initial_delay":"0.25s","stall_timeout":"1h0m0.001s","device_lock_wait":"0s"},
                "stills":{"every":"2500ms","dir":"/srv/stills"}}"#,
            "t",
        )
        .unwrap();
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(Policy::from_json(&text, "again").unwrap(), p, "{text}");
        let defaults = serde_json::to_string(&Policy::default()).unwrap();
        assert_eq!(
            Policy::from_json(&defaults, "d").unwrap(),
            Policy::default()
        );
    }
}
