//! The state store: `state.json` in the state directory.
//!
//! Every change happens under an exclusive lock on `state.lock` (a separate
//! file, because `state.json` itself is replaced by rename), is written to a
//! temporary file, fsynced, renamed over `state.json`, and the directory is
//! fsynced: a crash at any instant leaves the old or the new state, never a
//! torn one. A file that does not parse is moved aside (kept, with a
//! timestamp) and a fresh state is started, with a warning.
//!
//! The state grows with paths, not segments: segments go to the per-path
//! ledger (`ledger/<path>.jsonl`); the state keeps totals and the last few.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Version of the state file and of `hook status --json`. Fields are only
/// ever added; the version changes when a meaning changes.
pub const SCHEMA_VERSION: u32 = 1;

/// How many recent segments the state keeps per path.
pub const RECENT_SEGMENTS: usize = 5;

/// How many lines of a child's stderr the state keeps.
pub const STDERR_TAIL_LINES: usize = 20;

/// The whole state file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub schema_version: u32,
    pub paths: BTreeMap<String, PathState>,
}

/// What a path's publisher is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    #[default]
    Idle,
    WaitingForDevice,
    Starting,
    Running,
    Backoff,
    Stopping,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::WaitingForDevice => "waiting-for-device",
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Backoff => "backoff",
            Phase::Stopping => "stopping",
            Phase::Failed => "failed",
        }
    }
}

/// How a child ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExitRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Exit code when it exited.
    pub code: Option<i32>,
    /// Signal number when it was killed.
    pub signal: Option<i32>,
    /// Seconds it ran.
    pub ran_seconds: f64,
    /// Why it ended, as the supervisor saw it (`exited`, `stalled`, `stopped`…).
    pub reason: String,
}

/// One finished segment, as kept in the ledger and in `segments.last`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentRecord {
    pub file: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub duration: f64,
    pub size: u64,
    /// Seconds of hole before this segment, when one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_before: Option<f64>,
}

/// Totals over every segment recorded for a path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentTotals {
    pub count: u64,
    pub recorded_seconds: f64,
    pub bytes: u64,
    pub gaps: u64,
    /// End of the latest segment (start + duration), for gap detection.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_end: Option<OffsetDateTime>,
    /// The last few segments, newest last.
    pub last: Vec<SegmentRecord>,
}

/// A manual recording session (`hook record start`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When a `--duration` session ends by itself.
    #[serde(with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// `starting`, `active`, `ended`, `failed`.
    pub status: String,
    /// Why it ended (`stopped`, `duration elapsed`, an error…).
    pub end_reason: Option<String>,
    pub segments: u64,
    pub recorded_seconds: f64,
    pub gaps: u64,
    /// The hold process keeping the stream alive for this session.
    pub hold_pid: Option<u32>,
}

/// Recording as status shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordingState {
    pub active: bool,
    pub session: Option<Session>,
    pub last_session: Option<Session>,
}

/// The last snapshot taken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub file: String,
    /// `device` or `stream`.
    pub source: String,
    pub bytes: u64,
    pub millis: u64,
}

/// Everything known about one MediaMTX path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathState {
    pub phase: Phase,
    pub device: Option<String>,
    /// The `hook run` process supervising the publisher.
    pub supervisor_pid: Option<u32>,
    pub child_pid: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub child_started_at: Option<OffsetDateTime>,
    pub restarts: u64,
    /// When the next start is due while in backoff.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_exit: Option<ExitRecord>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_error_at: Option<OffsetDateTime>,
    /// The last lines FFmpeg wrote to stderr.
    pub stderr_tail: Vec<String>,
    /// When MediaMTX last asked for the stream (`hook run` started).
    #[serde(with = "time::serde::rfc3339::option")]
    pub demand_at: Option<OffsetDateTime>,
    /// When MediaMTX last said the stream is available (`hook ready`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub ready_at: Option<OffsetDateTime>,
    /// ready − demand, milliseconds.
    pub activation_latency_ms: Option<u64>,
    pub recording: RecordingState,
    pub segments: SegmentTotals,
    pub snapshot: Option<SnapshotRecord>,
    /// Why the path was last stopped by `hook stop`.
    pub stop_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// The state directory and its files.
#[derive(Clone, Debug)]
pub struct StateStore {
    dir: PathBuf,
}

/// The state directory to use: the flag / `HOOK_STATE_DIR` when given, else
/// `/var/lib/mediamtx-hook` when writable, else `$XDG_STATE_HOME/mediamtx-hook`
/// (`~/.local/state/mediamtx-hook`).
pub fn default_state_dir() -> PathBuf {
    let system = PathBuf::from("/var/lib/mediamtx-hook");
    if dir_is_writable(&system) {
        return system;
    }
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("mediamtx-hook");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".local/state/mediamtx-hook");
    }
    std::env::temp_dir().join("mediamtx-hook")
}

fn dir_is_writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) with a valid NUL-terminated string.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// Current time in UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl StateStore {
    /// A store rooted at `dir`; nothing is created until the first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn lock_file(&self) -> PathBuf {
        self.dir.join("state.lock")
    }

    /// The per-path append-only segment ledger.
    pub fn ledger_file(&self, path: &str) -> PathBuf {
        self.dir.join("ledger").join(format!("{path}.jsonl"))
    }

    /// Directory of the per-device lock files.
    pub fn locks_dir(&self) -> PathBuf {
        self.dir.join("locks")
    }

    fn ensure_dir(&self) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating state directory {}", self.dir.display()))
    }

    /// Takes the exclusive state lock; released when the returned file drops.
    fn lock(&self) -> Result<File> {
        self.ensure_dir()?;
        let path = self.lock_file();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening state lock {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(file)
    }

    /// Reads the state without taking the lock (the file is only ever
    /// replaced whole). A missing file is an empty state; a corrupt one is
    /// quarantined under the lock and an empty state returned.
    pub fn read(&self) -> Result<State> {
        match self.read_file()? {
            Parsed::Ok(state) => Ok(state),
            Parsed::Missing => Ok(State::empty()),
            Parsed::Corrupt(_) => {
                let _lock = self.lock()?;
                self.load_locked()
            }
        }
    }

    /// Applies `change` to the state under the exclusive lock and replaces
    /// the file atomically. Returns what `change` returned.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let _lock = self.lock()?;
        let mut state = self.load_locked()?;
        let out = change(&mut state)?;
        state.schema_version = SCHEMA_VERSION;
        self.write_locked(&state)?;
        Ok(out)
    }

    /// Applies `change` to one path's entry (created when missing) and stamps
    /// its `updated_at`.
    pub fn update_path<T>(
        &self,
        path: &str,
        change: impl FnOnce(&mut PathState) -> Result<T>,
    ) -> Result<T> {
        self.update(|state| {
            let entry = state.paths.entry(path.to_string()).or_default();
            let out = change(entry)?;
            entry.updated_at = Some(now());
            Ok(out)
        })
    }

    /// Runs `f` while holding the state lock, for work that must be ordered
    /// with state changes (appending to a ledger).
    pub fn with_lock<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _lock = self.lock()?;
        f()
    }

    fn read_file(&self) -> Result<Parsed> {
        let path = self.state_file();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Parsed::Missing),
            Err(e) => {
                return Err(e).with_context(|| format!("reading state file {}", path.display()))
            }
        };
        Ok(match serde_json::from_slice::<State>(&bytes) {
            Ok(state) if state.schema_version <= SCHEMA_VERSION => Parsed::Ok(state),
            Ok(state) => Parsed::Corrupt(format!(
                "schema version {} is newer than this hook's {SCHEMA_VERSION}",
                state.schema_version
            )),
            Err(e) => Parsed::Corrupt(e.to_string()),
        })
    }

    /// Loads the state; the caller holds the lock.
    fn load_locked(&self) -> Result<State> {
        match self.read_file()? {
            Parsed::Ok(state) => Ok(state),
            Parsed::Missing => Ok(State::empty()),
            Parsed::Corrupt(why) => {
                let path = self.state_file();
                let stamp = now().unix_timestamp_nanos() / 1_000_000;
                let aside = self.dir.join(format!("state.json.corrupt-{stamp}"));
                fs::rename(&path, &aside).with_context(|| {
                    format!(
                        "moving corrupt state file {} aside to {}",
                        path.display(),
                        aside.display()
                    )
                })?;
                log::warn!(
                    "state file {} was corrupt ({why}); kept it as {} and started a fresh state",
                    path.display(),
                    aside.display()
                );
                Ok(State::empty())
            }
        }
    }

    /// Writes the state atomically; the caller holds the lock.
    fn write_locked(&self, state: &State) -> Result<()> {
        let path = self.state_file();
        let tmp = self
            .dir
            .join(format!("state.json.tmp-{}", std::process::id()));
        let mut bytes = serde_json::to_vec_pretty(state).context("serializing state")?;
        bytes.push(b'\n');
        let result = (|| -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("writing state file {}", path.display()));
        }
        Ok(())
    }
}

impl State {
    pub fn empty() -> State {
        State {
            schema_version: SCHEMA_VERSION,
            paths: BTreeMap::new(),
        }
    }
}

enum Parsed {
    Ok(State),
    Missing,
    Corrupt(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hook-state-unit-{}-{}",
            std::process::id(),
            now().unix_timestamp_nanos()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn update_round_trips() {
        let store = StateStore::new(tmp());
        store
            .update_path("cam0", |p| {
                p.phase = Phase::Running;
                p.restarts = 3;
                Ok(())
            })
            .unwrap();
        let s = store.read().unwrap();
        assert_eq!(s.schema_version, SCHEMA_VERSION);
        assert_eq!(s.paths["cam0"].phase, Phase::Running);
        assert_eq!(s.paths["cam0"].restarts, 3);
    }

    #[test]
    fn corrupt_file_is_quarantined() {
        let dir = tmp();
        fs::write(dir.join("state.json"), b"{\"paths\": {\"x\": [").unwrap();
        let store = StateStore::new(&dir);
        let s = store.read().unwrap();
        assert!(s.paths.is_empty());
        let aside: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("state.json.corrupt-")
            })
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(fs::read(aside[0].path()).unwrap(), b"{\"paths\": {\"x\": [");
    }

    #[test]
    fn phase_names() {
        let json = serde_json::to_string(&Phase::WaitingForDevice).unwrap();
        assert_eq!(json, "\"waiting-for-device\"");
        assert_eq!(Phase::WaitingForDevice.as_str(), "waiting-for-device");
    }
}
