//! The state store: `state.json` in the state directory.
//!
//! Every change happens under an exclusive lock on `state.lock` (a separate
//! file, because `state.json` itself is replaced by rename), is written to a
//! temporary file, fsynced, renamed over `state.json`, and the directory is
//! fsynced: a crash at any instant leaves the old or the new state, never a
//! torn one. Every file is opened through `state_files` (no link followed,
//! regular files only, handed to the directory's owner only when created).
//!
//! Readers never write: a file that does not parse reads as an empty state,
//! a path entry that does not parse is left out, each with a warning. Writers
//! (under the lock) move a corrupt file aside (`state.json.corrupt-<time>`)
//! and set bad entries aside (`state.json.bad-<time>`), keeping the others;
//! they check entries with the same schema as readers.
//!
//! The state grows with paths, not segments: segments go to the per-path
//! ledger (`ledger/<stem>.jsonl`, append-only, one JSON line per segment,
//! appended under the same lock); the state keeps totals and the last few.
//!
//! A state file written by a newer hook (a higher schema version) is left
//! alone: reading or changing it is an error, so a downgrade never destroys
//! what the newer version wrote.
//!
//! The file is compact JSON (`hook status --json` is the readable view).
//! [`StateStore::update_path`], used by the hooks that run per event,
//! serializes only the entry it changes.

pub mod files;
pub mod identity;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::state::identity::ProcessId;
use files::{name_stem, Access, Dir};

/// Version of the state file. Fields are only ever added; the version
/// changes when a meaning changes. (`hook status --json` has its own,
/// `status::SCHEMA_VERSION`.)
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
    /// Where `start` was read from.
    #[serde(default)]
    pub start_from: StartSource,
    /// `started_at` of the recording session the segment was counted into.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub session: Option<OffsetDateTime>,
}

impl SegmentRecord {
    /// start + duration. Total for any record read back from a file: a
    /// duration that is not a usable number of seconds counts as none, and
    /// an end beyond the calendar's (a start named 9999-12-31) is the start.
    pub fn end(&self) -> OffsetDateTime {
        let secs = if self.duration.is_finite() {
            self.duration.clamp(0.0, 1e12)
        } else {
            0.0
        };
        self.start
            .checked_add(time::Duration::seconds_f64(secs))
            .unwrap_or(self.start)
    }
}

/// Where a segment's start time comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartSource {
    /// MediaMTX's file name (`%Y-%m-%d_%H-%M-%S-%f`, its local time).
    #[default]
    FileName,
    /// The file's modification time minus the duration.
    Mtime,
}

/// A stretch of time between recorded segments with nothing recorded,
/// longer than the gap tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hole {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// When the hole was found (wall clock), to forget it after a while.
    #[serde(with = "time::serde::rfc3339")]
    pub found_at: OffsetDateTime,
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
    /// Start of the earliest segment of the current continuous run, so that
    /// a segment arriving late (hooks run concurrently) is placed correctly.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_start: Option<OffsetDateTime>,
    /// The holes counted as gaps lately (in time order): a late segment
    /// that fills one takes its gap back.
    pub holes: Vec<Hole>,
    /// Length of the ledger file once the latest segment was committed.
    pub ledger_bytes: Option<u64>,
    /// Segments whose files were found gone (deleted by MediaMTX's
    /// `recordDeleteAfter` or by hand); each has a `gone` ledger line.
    pub gone: u64,
    /// Where the search for gone files goes on: the oldest ledger entry
    /// not known gone.
    pub gone_cursor: Option<LedgerCursor>,
}

/// A place in a path's ledger: the byte offset of a line, and the file of
/// the segment on it (to notice a ledger replaced under the cursor).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerCursor {
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
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
    /// `hold_pid`'s identity (start time, boot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_process: Option<ProcessId>,
    /// The `hook record start` that created the session (it holds the
    /// path's session lock until the session is active or undone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starter_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starter_process: Option<ProcessId>,
}

/// Recording as status shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordingState {
    pub active: bool,
    pub session: Option<Session>,
    pub last_session: Option<Session>,
    /// The hold of the current session, as it reports itself.
    pub hold: Option<HoldState>,
}

/// What a recording session's hold (`hook hold`) is doing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HoldState {
    /// The hold process (also `session.hold_pid`).
    pub pid: Option<u32>,
    /// `pid`'s identity (start time, boot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessId>,
    /// Its FFmpeg reader, while one runs.
    pub reader_pid: Option<u32>,
    /// `reader_pid`'s identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader_process: Option<ProcessId>,
    /// The reader receives frames now.
    pub reading: bool,
    /// How many times a reader was started (1 + reconnections).
    pub starts: u64,
    /// The last problem (reader ended, API unreachable), for status.
    pub last_error: Option<String>,
    /// How many times the hold switched MediaMTX's `record` back on after
    /// finding it off (MediaMTX restarted).
    pub record_reapplied: u64,
    /// A stop is under way: nothing may switch recording back on.
    pub stopping: bool,
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
    /// `supervisor_pid`'s identity (start time, boot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervisor_process: Option<ProcessId>,
    pub child_pid: Option<u32>,
    /// `child_pid`'s identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_process: Option<ProcessId>,
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

/// `<tmp>/mediamtx-hook-<uid>/locks`, when that directory is this user's
/// own (mode 0700, not a symlink): in a shared temporary directory nobody
/// else may choose where the lock files go. Err says why it cannot be used
/// and how to fix it.
fn private_locks_dir(tmp: &Path) -> std::result::Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: geteuid(2) cannot fail.
    let uid = unsafe { libc::geteuid() };
    let base = tmp.join(format!("mediamtx-hook-{uid}"));
    match fs::DirBuilder::new().mode(0o700).create(&base) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", base.display())),
    }
    let meta = fs::symlink_metadata(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(format!(
            "{} is not a directory of this user's (it is a link or a file): remove it",
            base.display()
        ));
    }
    if meta.uid() != uid {
        return Err(format!(
            "{} belongs to uid {}, not to this user (uid {uid}): another user made it first; remove it (as root: rm -r {}) or set TMPDIR to a directory of this user's",
            base.display(),
            meta.uid(),
            base.display()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is open to other users (mode {:04o}): run `chmod 700 {}`",
            base.display(),
            meta.mode() & 0o7777,
            base.display()
        ));
    }
    let locks = base.join("locks");
    Dir::open_nofollow(&locks, true).map_err(|e| format!("{}: {e}", locks.display()))?;
    Ok(locks)
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

/// The state lock, held, with the state directory open.
struct Locked {
    dir: Dir,
    _file: File,
}

/// A path's entry that does not parse, set aside by a writer.
struct Bad {
    path: String,
    raw: String,
    error: String,
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

    /// The per-path append-only segment ledger:
    /// `ledger/<stem>.jsonl`, the stem made by [`files::name_stem`]
    /// (`site1/camera0` → `site1%2Fcamera0`).
    pub fn ledger_file(&self, path: &str) -> PathBuf {
        self.ledger_dir().join(ledger_name(path))
    }

    fn ledger_dir(&self) -> PathBuf {
        self.dir.join("ledger")
    }

    /// The log of `path`'s recording hold (`holds/<stem>.log`).
    pub fn hold_log_file(&self, path: &str) -> PathBuf {
        self.dir
            .join("holds")
            .join(format!("{}.log", name_stem(path)))
    }

    /// The policy `path`'s recording hold runs with (`holds/<stem>.policy.json`).
    pub fn hold_policy_file(&self, path: &str) -> PathBuf {
        self.dir
            .join("holds")
            .join(format!("{}.policy.json", name_stem(path)))
    }

    /// Creates (or empties) the hold's log and writes the policy it runs
    /// with, never through a link (see `state_files`); returns the log.
    pub fn create_hold_files(&self, path: &str, policy: &[u8]) -> Result<File> {
        let stem = name_stem(path);
        let holds = self
            .open_dir_creating()?
            .sub("holds", true)
            .with_context(|| format!("creating {}", self.dir.join("holds").display()))?;
        let log_name = format!("{stem}.log");
        let log = holds
            // Appended to: never truncate the log of a hold that may still write.
            .open(&log_name, Access::Append, true)
            .with_context(|| format!("opening hold log {}", holds.join(&log_name).display()))?;
        let policy_name = format!("{stem}.policy.json");
        holds
            .open(&policy_name, Access::Truncate, true)
            .and_then(|mut f| f.write_all(policy))
            .with_context(|| format!("writing {}", holds.join(&policy_name).display()))?;
        Ok(log)
    }

    /// Appends one segment to `path`'s ledger as a JSON line, durably, and
    /// returns the ledger's new length. Call it inside [`StateStore::update`]
    /// and keep the length in the state (`SegmentTotals::ledger_bytes`):
    /// ledger lines and totals then change under the same lock, and a line
    /// left by a writer killed before its state was written (beyond the
    /// committed length) is dropped before the next one is appended, so the
    /// ledger holds exactly the segments the totals count. With no committed
    /// length known (a fresh state) nothing is dropped.
    ///
    /// The file name comes from [`files::name_stem`], so whatever the
    /// path name nothing is written outside the ledger directory, and the
    /// ledger is never opened through a link.
    pub fn append_ledger(
        &self,
        path: &str,
        committed: Option<u64>,
        record: &impl Serialize,
    ) -> Result<u64> {
        let file = self.ledger_file(path);
        let mut line = serde_json::to_vec(record).context("serializing a ledger line")?;
        line.push(b'\n');
        let append = || -> std::io::Result<u64> {
            let dir = self.open_state_dir(true)?.sub("ledger", true)?;
            let mut f = dir.open(&ledger_name(path), Access::Append, true)?;
            let mut len = f.metadata()?.len();
            if let Some(committed) = committed.filter(|&c| c < len) {
                f.set_len(committed)?;
                len = committed;
            }
            // One write(2) of the whole line: O_APPEND keeps lines whole.
            f.write_all(&line)?;
            f.sync_data()?;
            Ok(len + line.len() as u64)
        };
        append().with_context(|| format!("appending to segment ledger {}", file.display()))
    }

    /// Directory of the per-device lock files: `locks/` in the state
    /// directory, created here. When it cannot be created (a state directory
    /// that cannot be written) the locks go to this user's private directory
    /// under the system's temporary directory instead: streaming needs the
    /// device lock, not the state, and every instance falls back alike.
    ///
    /// A `locks` that is refused (a link, a state directory writable by
    /// everyone) is returned as it is: taking a lock in it fails with the
    /// reason. A fallback directory that cannot be used either (another
    /// user made it first) is logged as an error saying how to fix it.
    pub fn locks_dir(&self) -> PathBuf {
        let dir = self.dir.join("locks");
        let made = self.open_state_dir(true).and_then(|d| d.sub("locks", true));
        match made {
            Ok(_) => return dir,
            Err(e) if files::is_refusal(&e) => return dir,
            Err(_) => {}
        }
        match private_locks_dir(&std::env::temp_dir()) {
            Ok(fallback) => {
                log::debug!(
                    "cannot create {}; device locks go to {}",
                    dir.display(),
                    fallback.display()
                );
                fallback
            }
            Err(why) => {
                static SAID: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    log::error!(
                        "cannot create the device lock directory {} and cannot use the fallback: {why}",
                        dir.display()
                    );
                }
                dir
            }
        }
    }

    /// Opens the state directory (`create`: making it when missing).
    fn open_state_dir(&self, create: bool) -> std::io::Result<Dir> {
        match Dir::open_state(&self.dir) {
            Err(e) if create && e.kind() == ErrorKind::NotFound => {
                fs::create_dir_all(&self.dir)?;
                Dir::open_state(&self.dir)
            }
            other => other,
        }
    }

    /// The state directory, made when missing, for a writer.
    fn open_dir_creating(&self) -> Result<Dir> {
        self.open_state_dir(true).map_err(|e| {
            if files::is_refusal(&e) {
                anyhow::Error::new(e)
            } else {
                anyhow::Error::new(e).context(format!(
                    "state directory {} cannot be written (give a writable one with --state-dir or HOOK_STATE_DIR)",
                    self.dir.display()
                ))
            }
        })
    }

    /// Takes the exclusive state lock; released when the returned value
    /// drops. Creates the state directory on first use.
    fn lock(&self) -> Result<Locked> {
        let dir = self.open_dir_creating()?;
        let path = dir.join("state.lock");
        let file = dir
            .open("state.lock", Access::ReadWrite, true)
            .map_err(|e| {
                let refusal = files::is_refusal(&e);
                let err =
                    anyhow::Error::new(e).context(format!("opening state lock {}", path.display()));
                if refusal {
                    err
                } else {
                    err.context(format!(
                        "state directory {} cannot be written (give a writable one with --state-dir or HOOK_STATE_DIR)",
                        self.dir.display()
                    ))
                }
            })?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(Locked { dir, _file: file })
    }

    /// Reads the state without taking the lock (the file is only ever
    /// replaced whole), and without ever writing: a missing file or
    /// directory is an empty state; a file that does not parse is shown as
    /// an empty state and a path entry that does not parse is left out,
    /// each with a warning. The next change (under the lock) moves a
    /// corrupt file aside, or sets such entries aside in
    /// `state.json.bad-<time>`.
    pub fn read(&self) -> Result<State> {
        let dir = match Dir::open_state(&self.dir) {
            Ok(dir) => dir,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(State::empty()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("opening state directory {}", self.dir.display()))
            }
        };
        let Some(bytes) = self.read_bytes(&dir)? else {
            return Ok(State::empty());
        };
        match split(&bytes) {
            Ok(doc) => {
                let (state, bad) = doc.into_state();
                for b in &bad {
                    log::warn!(
                        "state file {}: the entry of path {:?} does not parse ({}); leaving it out (the next change to the state sets it aside in a state.json.bad-<time> file)",
                        self.state_file().display(),
                        b.path,
                        b.error
                    );
                }
                Ok(state)
            }
            Err(Split::Newer(version)) => Err(self.newer_error(version)),
            Err(Split::Corrupt(why)) => {
                log::warn!(
                    "state file {} is corrupt ({why}); showing an empty state (the next change to the state moves it aside as state.json.corrupt-<time>)",
                    self.state_file().display()
                );
                Ok(State::empty())
            }
        }
    }

    /// Applies `change` to the state under the exclusive lock and replaces
    /// the file atomically. Returns what `change` returned.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let locked = self.lock()?;
        let mut state = self.load_locked(&locked.dir)?;
        let out = change(&mut state)?;
        state.schema_version = SCHEMA_VERSION;
        self.write_locked(&locked.dir, &state)?;
        Ok(out)
    }

    /// Applies `change` to one path's entry (created when missing) and stamps
    /// its `updated_at`, under the lock, replacing the file atomically.
    ///
    /// Only that entry is serialized: the other paths are copied through
    /// as the JSON text they were (checked to parse as an entry, like a
    /// reader would; one that does not is set aside), so the hooks that run
    /// once per segment stay fast however many paths the state holds.
    pub fn update_path<T>(
        &self,
        path: &str,
        change: impl FnOnce(&mut PathState) -> Result<T>,
    ) -> Result<T> {
        let locked = self.lock()?;
        let bytes = self.read_bytes(&locked.dir)?;
        let mut doc = match bytes.as_deref().map(split) {
            None => RawDoc::default(),
            Some(Ok(doc)) => doc,
            Some(Err(Split::Newer(version))) => return Err(self.newer_error(version)),
            Some(Err(Split::Corrupt(why))) => {
                self.quarantine(&locked.dir, &why)?;
                RawDoc::default()
            }
        };
        let mut entry = PathState::default();
        let mut bad = Vec::new();
        doc.paths.retain(
            |name, raw| match serde_json::from_str::<PathState>(raw.get()) {
                Ok(parsed) => {
                    if name == path {
                        entry = parsed;
                    }
                    true
                }
                Err(e) => {
                    bad.push(Bad {
                        path: name.clone(),
                        raw: raw.get().to_string(),
                        error: e.to_string(),
                    });
                    false
                }
            },
        );
        self.set_aside(&locked.dir, &bad)?;
        let out = change(&mut entry)?;
        entry.updated_at = Some(now());
        let rendered = doc.render(path, &entry)?;
        self.write_bytes_locked(&locked.dir, &rendered)?;
        Ok(out)
    }

    /// Runs `f` while holding the state lock, for work that must be ordered
    /// with state changes. (A ledger line is appended inside
    /// [`StateStore::update_path`] instead, with the totals it goes with.)
    pub fn with_lock<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _lock = self.lock()?;
        f()
    }

    /// The bytes of `state.json`, `None` when there is none.
    fn read_bytes(&self, dir: &Dir) -> Result<Option<Vec<u8>>> {
        use std::io::Read;
        let file = match dir.open("state.json", Access::Read, false) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading state file {}", self.state_file().display()))
            }
        };
        let mut bytes = Vec::new();
        (&file)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading state file {}", self.state_file().display()))?;
        Ok(Some(bytes))
    }

    fn newer_error(&self, version: u32) -> anyhow::Error {
        anyhow::anyhow!(
            "state file {} has schema version {version}, newer than this hook's {SCHEMA_VERSION}: it was written by a newer hook; leaving it untouched (run the newer hook, or move the file away to start afresh)",
            self.state_file().display()
        )
    }

    /// Loads the state; the caller holds the lock. A corrupt file is moved
    /// aside, entries that do not parse are set aside.
    fn load_locked(&self, dir: &Dir) -> Result<State> {
        let Some(bytes) = self.read_bytes(dir)? else {
            return Ok(State::empty());
        };
        match split(&bytes) {
            Ok(doc) => {
                let (state, bad) = doc.into_state();
                self.set_aside(dir, &bad)?;
                Ok(state)
            }
            Err(Split::Newer(version)) => Err(self.newer_error(version)),
            Err(Split::Corrupt(why)) => {
                self.quarantine(dir, &why)?;
                Ok(State::empty())
            }
        }
    }

    /// A name `state.json.<what>-<time>` not taken yet.
    fn aside_name(dir: &Dir, what: &str) -> String {
        let stamp = file_stamp(now());
        let mut name = format!("state.json.{what}-{stamp}");
        let mut n = 1;
        while dir.exists(&name) {
            name = format!("state.json.{what}-{stamp}-{n}");
            n += 1;
        }
        name
    }

    /// Moves a corrupt `state.json` aside; the caller holds the lock.
    fn quarantine(&self, dir: &Dir, why: &str) -> Result<()> {
        let path = self.state_file();
        let aside = dir.join(&Self::aside_name(dir, "corrupt"));
        let name = aside.file_name().and_then(|n| n.to_str()).unwrap_or("");
        dir.rename("state.json", name).with_context(|| {
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
        Ok(())
    }

    /// Writes entries that do not parse to a new `state.json.bad-<time>`
    /// (`{"set_aside_at", "errors": {path: why}, "paths": {path: entry}}`),
    /// durably, before the state is written without them; the caller holds
    /// the lock.
    fn set_aside(&self, dir: &Dir, bad: &[Bad]) -> Result<()> {
        if bad.is_empty() {
            return Ok(());
        }
        let name = Self::aside_name(dir, "bad");
        let file = dir.join(&name);
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"set_aside_at\":");
        serde_json::to_writer(&mut out, &now().unix_timestamp())?;
        out.extend_from_slice(b",\"errors\":");
        let errors: BTreeMap<&str, &str> = bad
            .iter()
            .map(|b| (b.path.as_str(), b.error.as_str()))
            .collect();
        serde_json::to_writer(&mut out, &errors)?;
        out.extend_from_slice(b",\"paths\":{");
        for (i, b) in bad.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, &b.path)?;
            out.push(b':');
            out.extend_from_slice(b.raw.as_bytes());
        }
        out.extend_from_slice(b"}}\n");
        dir.open(&name, Access::Append, true)
            .and_then(|mut f| {
                f.write_all(&out)?;
                f.sync_all()
            })
            .with_context(|| format!("setting bad state entries aside in {}", file.display()))?;
        for b in bad {
            log::warn!(
                "state file {}: the entry of path {:?} did not parse ({}); set it aside in {} and started that path afresh",
                self.state_file().display(),
                b.path,
                b.error,
                file.display()
            );
        }
        Ok(())
    }

    /// Writes the state atomically; the caller holds the lock.
    fn write_locked(&self, dir: &Dir, state: &State) -> Result<()> {
        let mut bytes = serde_json::to_vec(state).context("serializing state")?;
        bytes.push(b'\n');
        self.write_bytes_locked(dir, &bytes)
    }

    /// Replaces `state.json` with `bytes`: a new temporary file (`O_EXCL`,
    /// unpredictable name), fsync, rename, directory fsync. The caller
    /// holds the lock. (A writer killed half-way leaves its
    /// `state.json.tmp-…`; nothing reads it, and it may be deleted.)
    fn write_bytes_locked(&self, dir: &Dir, bytes: &[u8]) -> Result<()> {
        let path = self.state_file();
        let (mut f, tmp) = dir
            .create_temp("state.json.tmp-")
            .with_context(|| format!("writing state file {}", path.display()))?;
        let result = (|| -> std::io::Result<()> {
            f.write_all(bytes)?;
            f.sync_all()?;
            dir.rename(&tmp, "state.json")?;
            dir.sync()
        })();
        if let Err(e) = result {
            let _ = dir.unlink(&tmp);
            return Err(e).with_context(|| format!("writing state file {}", path.display()));
        }
        Ok(())
    }
}

fn ledger_name(path: &str) -> String {
    format!("{}.jsonl", name_stem(path))
}

/// `state.json` split into its top-level fields and its paths, each kept as
/// the JSON text it was: what [`StateStore::update_path`] needs to change
/// one path without re-serializing the others, and what the reader parses
/// entry by entry.
#[derive(Default)]
struct RawDoc<'a> {
    version: u32,
    top: BTreeMap<String, &'a RawValue>,
    paths: BTreeMap<String, &'a RawValue>,
}

enum Split {
    /// Written by a newer hook: never touched.
    Newer(u32),
    Corrupt(String),
}

/// Splits the file's text; a file that is not a JSON object with a numeric
/// `schema_version` (or none) and an object `paths` (or none) is corrupt.
fn split(bytes: &[u8]) -> std::result::Result<RawDoc<'_>, Split> {
    let corrupt = |e: serde_json::Error| Split::Corrupt(e.to_string());
    let top: BTreeMap<String, &RawValue> = serde_json::from_slice(bytes).map_err(corrupt)?;
    let version: u32 = match top.get("schema_version") {
        Some(v) => serde_json::from_str(v.get()).map_err(corrupt)?,
        None => 0,
    };
    if version > SCHEMA_VERSION {
        return Err(Split::Newer(version));
    }
    let paths: BTreeMap<String, &RawValue> = match top.get("paths") {
        Some(v) => serde_json::from_str(v.get()).map_err(corrupt)?,
        None => BTreeMap::new(),
    };
    Ok(RawDoc {
        version,
        top,
        paths,
    })
}

impl RawDoc<'_> {
    /// Every entry parsed; those that do not parse are returned apart.
    fn into_state(self) -> (State, Vec<Bad>) {
        let mut state = State {
            schema_version: self.version,
            paths: BTreeMap::new(),
        };
        let mut bad = Vec::new();
        for (name, raw) in self.paths {
            match serde_json::from_str::<PathState>(raw.get()) {
                Ok(entry) => {
                    state.paths.insert(name, entry);
                }
                Err(e) => bad.push(Bad {
                    path: name,
                    raw: raw.get().to_string(),
                    error: e.to_string(),
                }),
            }
        }
        (state, bad)
    }

    /// The whole file again, with the entry of `path` replaced by `entry`.
    fn render(&self, path: &str, entry: &PathState) -> Result<Vec<u8>> {
        let entry = serde_json::to_string(entry).context("serializing state")?;
        let mut paths: BTreeMap<&str, &str> = self
            .paths
            .iter()
            .map(|(k, v)| (k.as_str(), v.get()))
            .collect();
        paths.insert(path, &entry);
        let size = paths
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>()
            + 64;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(format!("{{\"schema_version\":{SCHEMA_VERSION}").as_bytes());
        for (k, v) in &self.top {
            if k != "schema_version" && k != "paths" {
                out.push(b',');
                serde_json::to_writer(&mut out, k)?;
                out.push(b':');
                out.extend_from_slice(v.get().as_bytes());
            }
        }
        out.extend_from_slice(b",\"paths\":{");
        for (i, (k, v)) in paths.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, k)?;
            out.push(b':');
            out.extend_from_slice(v.as_bytes());
        }
        out.extend_from_slice(b"}}\n");
        Ok(out)
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

/// `20261124T034319.123Z`: a UTC time for file names, sortable, no colons.
fn file_stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
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
    fn update_path_keeps_the_other_paths_as_they_were() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        let other =
            r#"{"phase":"running","restarts":7,"field_of_a_newer_hook":[1,{"a":"\u00e9"}]}"#;
        fs::write(
            dir.join("state.json"),
            format!(r#"{{"schema_version":1,"extra":{{"k":true}},"paths":{{"b":{other},"a":{{"restarts":1}}}}}}"#),
        )
        .unwrap();
        store
            .update_path("a", |p| {
                assert_eq!(p.restarts, 1);
                p.restarts = 2;
                Ok(())
            })
            .unwrap();
        store
            .update_path("new", |p| {
                p.restarts = 5;
                Ok(())
            })
            .unwrap();
        let text = fs::read_to_string(dir.join("state.json")).unwrap();
        assert!(text.contains(&format!(r#""b":{other}"#)), "{text}");
        assert!(text.contains(r#""extra":{"k":true}"#), "{text}");
        let s = store.read().unwrap();
        assert_eq!(s.paths["a"].restarts, 2);
        assert!(s.paths["a"].updated_at.is_some());
        assert_eq!(s.paths["b"].restarts, 7);
        assert_eq!(s.paths["new"].restarts, 5);
        assert_eq!(s.paths.keys().collect::<Vec<_>>(), ["a", "b", "new"]);
    }

    fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
        fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path())
            .collect()
    }

    #[test]
    fn a_bad_entry_is_left_out_by_readers_and_set_aside_by_writers() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        let bad = r#"{"schema_version":1,"paths":{"a":{"restarts":"many"},"b":{"restarts":7},"c":{"phase":"sleeping"}}}"#;
        fs::write(dir.join("state.json"), bad).unwrap();
        // A reader keeps what parses and writes nothing.
        let s = store.read().unwrap();
        assert_eq!(s.paths.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(s.paths["b"].restarts, 7);
        assert_eq!(fs::read_to_string(dir.join("state.json")).unwrap(), bad);
        assert!(files_starting(&dir, "state.json.").is_empty());

        // A writer sets the bad entries aside and keeps the others.
        store
            .update_path("a", |p| {
                assert_eq!(p.restarts, 0, "started afresh");
                p.restarts = 1;
                Ok(())
            })
            .unwrap();
        let s = store.read().unwrap();
        assert_eq!(s.paths["a"].restarts, 1);
        assert_eq!(s.paths["b"].restarts, 7);
        assert!(!s.paths.contains_key("c"));
        let aside = files_starting(&dir, "state.json.bad-");
        assert_eq!(aside.len(), 1);
        let kept: serde_json::Value =
            serde_json::from_slice(&fs::read(&aside[0]).unwrap()).unwrap();
        assert_eq!(kept["paths"]["a"]["restarts"], "many");
        assert_eq!(kept["paths"]["c"]["phase"], "sleeping");
        assert!(kept["errors"]["c"].as_str().unwrap().contains("sleeping"));
        assert!(files_starting(&dir, "state.json.corrupt-").is_empty());

        // The full route does the same.
        let text = fs::read_to_string(dir.join("state.json")).unwrap();
        let text = text.replacen(r#""b":{"#, r#""b":{"child_pid":-1,"#, 1);
        fs::write(dir.join("state.json"), text).unwrap();
        store.update(|_| Ok(())).unwrap();
        let s = store.read().unwrap();
        assert_eq!(s.paths.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(files_starting(&dir, "state.json.bad-").len(), 2);
    }

    #[test]
    fn corrupt_file_is_left_by_readers_and_quarantined_by_writers() {
        let dir = tmp();
        fs::write(dir.join("state.json"), b"{\"paths\": {\"x\": [").unwrap();
        let store = StateStore::new(&dir);
        let s = store.read().unwrap();
        assert!(s.paths.is_empty());
        assert!(files_starting(&dir, "state.json.corrupt-").is_empty());
        store.update(|_| Ok(())).unwrap();
        let aside = files_starting(&dir, "state.json.corrupt-");
        assert_eq!(aside.len(), 1);
        assert_eq!(fs::read(&aside[0]).unwrap(), b"{\"paths\": {\"x\": [");
        assert!(store.read().unwrap().paths.is_empty());
    }

    #[test]
    fn state_files_are_never_written_through_links() {
        let dir = tmp();
        let outside = tmp();
        let target = outside.join("target");
        fs::write(&target, b"precious").unwrap();
        let store = StateStore::new(&dir);
        store.update_path("a", |_| Ok(())).unwrap();
        for name in ["state.lock", "state.json"] {
            let link = dir.join(name);
            fs::rename(&link, dir.join("moved")).unwrap();
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let err = store.update_path("a", |_| Ok(())).unwrap_err();
            assert!(format!("{err:#}").contains("is a symbolic link"), "{err:#}");
            fs::remove_file(&link).unwrap();
            fs::rename(dir.join("moved"), &link).unwrap();
        }
        fs::remove_file(dir.join("state.json")).unwrap();
        std::os::unix::fs::symlink(&target, dir.join("state.json")).unwrap();
        let err = store.read().unwrap_err();
        assert!(format!("{err:#}").contains("is a symbolic link"), "{err:#}");
        assert_eq!(fs::read(&target).unwrap(), b"precious");
    }

    #[test]
    fn newer_schema_is_left_untouched() {
        let dir = tmp();
        let newer = format!(
            "{{\"schema_version\": {}, \"paths\": {{}}}}",
            SCHEMA_VERSION + 1
        );
        fs::write(dir.join("state.json"), &newer).unwrap();
        let store = StateStore::new(&dir);
        let err = store.read().unwrap_err();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
        assert!(store.update(|_| Ok(())).is_err());
        assert_eq!(fs::read_to_string(dir.join("state.json")).unwrap(), newer);
    }

    #[test]
    fn ledger_names_stay_inside_the_ledger_directory() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        let rec = SegmentRecord {
            file: "x.mp4".into(),
            start: now(),
            duration: 1.0,
            size: 1,
            gap_before: None,
            start_from: StartSource::Mtime,
            session: None,
        };
        for (name, file) in [
            ("site1/camera0", "site1%2Fcamera0.jsonl"),
            ("../x", "%2E.%2Fx.jsonl"),
            ("a/../../x", "a%2F..%2F..%2Fx.jsonl"),
            ("", "%.jsonl"),
            (".hidden", "%2Ehidden.jsonl"),
        ] {
            assert_eq!(store.ledger_file(name), dir.join("ledger").join(file));
            store.append_ledger(name, None, &rec).unwrap();
            assert!(dir.join("ledger").join(file).is_file(), "{name:?}");
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "only ledger/");
        let one = store.append_ledger("cam0", None, &rec).unwrap();
        let two = store.append_ledger("cam0", Some(one), &rec).unwrap();
        let text = fs::read_to_string(store.ledger_file("cam0")).unwrap();
        assert_eq!(text.len() as u64, two);
        assert_eq!(text.lines().count(), 2);
        let back: SegmentRecord = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back, rec);
        // A line beyond the committed length (its writer died before the
        // state was written) is dropped; with no length known, none is.
        let three = store.append_ledger("cam0", Some(one), &rec).unwrap();
        assert_eq!(three, two);
        let four = store.append_ledger("cam0", None, &rec).unwrap();
        assert_eq!(
            fs::read_to_string(store.ledger_file("cam0"))
                .unwrap()
                .lines()
                .count(),
            3
        );
        assert_eq!(four, three + (two - one));
    }

    #[test]
    fn file_stamps_sort_and_have_no_colons() {
        let t = time::macros::datetime!(2026-11-24 03:43:19.123 +01:00);
        assert_eq!(file_stamp(t), "20261124T024319.123Z");
    }

    #[test]
    fn locks_fall_back_to_a_private_directory() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        assert_eq!(store.locks_dir(), dir.join("locks"));
        assert!(dir.join("locks").is_dir());

        let blocker = dir.join("file");
        fs::write(&blocker, b"").unwrap();
        let unwritable = StateStore::new(blocker.join("state"));
        let fallback = unwritable.locks_dir();
        assert!(fallback.is_dir(), "{}", fallback.display());
        assert!(!fallback.starts_with(&blocker));
        assert_eq!(fallback, private_locks_dir(&std::env::temp_dir()).unwrap());
        // A locks directory planted as a link is returned as it is (taking a
        // lock in it is refused: see `camera::device_lock`'s tests).
        let planted = tmp();
        let elsewhere = tmp();
        std::os::unix::fs::symlink(&elsewhere, planted.join("locks")).unwrap();
        let store = StateStore::new(&planted);
        assert_eq!(store.locks_dir(), planted.join("locks"));

        // Somebody else's (or a too open) directory is never used.
        let shared = tmp();
        let uid = unsafe { libc::geteuid() };
        let base = shared.join(format!("mediamtx-hook-{uid}"));
        fs::create_dir(&base).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&base, fs::Permissions::from_mode(0o777)).unwrap();
        let why = private_locks_dir(&shared).unwrap_err();
        assert!(
            why.contains(&format!("chmod 700 {}", base.display())),
            "{why}"
        );
        fs::remove_dir(&base).unwrap();
        std::os::unix::fs::symlink(&dir, &base).unwrap();
        let why = private_locks_dir(&shared).unwrap_err();
        assert!(why.contains("is not a directory of this user's"), "{why}");
    }

    #[test]
    fn phase_names() {
        let json = serde_json::to_string(&Phase::WaitingForDevice).unwrap();
        assert_eq!(json, "\"waiting-for-device\"");
        assert_eq!(Phase::WaitingForDevice.as_str(), "waiting-for-device");
    }
}
