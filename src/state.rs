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
//! ledger (`ledger/<path>.jsonl`, append-only, one JSON line per segment,
//! appended under the same lock); the state keeps totals and the last few.
//!
//! A state file written by a newer hook (a higher schema version) is left
//! alone: reading or changing it is an error, so a downgrade never destroys
//! what the newer version wrote.
//!
//! The file is compact JSON (`hook status --json` is the readable view).
//! [`StateStore::update_path`], used by the hooks that run per event,
//! parses and rewrites only the entry it changes.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::process_identity::ProcessId;

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
/// else may choose where the lock files go.
fn private_locks_dir(tmp: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: geteuid(2) cannot fail.
    let uid = unsafe { libc::geteuid() };
    let base = tmp.join(format!("mediamtx-hook-{uid}"));
    match fs::DirBuilder::new().mode(0o700).create(&base) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    let meta = fs::symlink_metadata(&base).ok()?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return None;
    }
    let locks = base.join("locks");
    fs::create_dir_all(&locks).ok()?;
    Some(locks)
}

/// Hands a file or directory just created in the state directory to the
/// owner of the directory it is in, when this process runs as root and that
/// owner is not root. The state directory belongs to the user MediaMTX runs
/// as; an operator's `sudo hook record start …` must not leave behind a
/// lock, ledger or state file that this user can no longer open. Failures
/// are ignored: the file is still usable by root.
pub fn give_to_dir_owner(created: &Path) {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let Some(parent) = created.parent() else {
        return;
    };
    let Ok(meta) = fs::metadata(parent) else {
        return;
    };
    if meta.uid() != 0 {
        let _ = std::os::unix::fs::chown(created, Some(meta.uid()), Some(meta.gid()));
    }
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

    /// The per-path append-only segment ledger. `path` must be a validated
    /// path name (`mtx_env::validate_path_name`): it becomes a file name.
    pub fn ledger_file(&self, path: &str) -> PathBuf {
        self.ledger_dir().join(format!("{path}.jsonl"))
    }

    fn ledger_dir(&self) -> PathBuf {
        self.dir.join("ledger")
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
    /// A path name that is not a valid MediaMTX path name is refused, so
    /// nothing is ever written outside the ledger directory.
    pub fn append_ledger(
        &self,
        path: &str,
        committed: Option<u64>,
        record: &impl Serialize,
    ) -> Result<u64> {
        crate::mtx_env::validate_path_name(Some(std::ffi::OsStr::new(path)), "path name")?;
        let dir = self.ledger_dir();
        let file = self.ledger_file(path);
        let mut line = serde_json::to_vec(record).context("serializing a ledger line")?;
        line.push(b'\n');
        let append = || -> std::io::Result<u64> {
            let mut f = match OpenOptions::new().append(true).create(true).open(&file) {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    fs::create_dir_all(&dir)?;
                    OpenOptions::new().append(true).create(true).open(&file)?
                }
                other => other?,
            };
            give_to_dir_owner(&dir);
            give_to_dir_owner(&file);
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
    pub fn locks_dir(&self) -> PathBuf {
        let dir = self.dir.join("locks");
        if fs::create_dir_all(&dir).is_ok() {
            give_to_dir_owner(&dir);
            return dir;
        }
        match private_locks_dir(&std::env::temp_dir()) {
            Some(fallback) => {
                log::debug!(
                    "cannot create {}; device locks go to {}",
                    dir.display(),
                    fallback.display()
                );
                fallback
            }
            None => dir,
        }
    }

    /// Takes the exclusive state lock; released when the returned file drops.
    /// Creates the state directory on first use.
    fn lock(&self) -> Result<File> {
        let path = self.lock_file();
        let open = || {
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
        };
        let file = match open() {
            Err(e) if e.kind() == ErrorKind::NotFound => fs::create_dir_all(&self.dir)
                .with_context(|| format!("creating state directory {}", self.dir.display()))
                .and_then(|()| {
                    open().with_context(|| format!("opening state lock {}", path.display()))
                }),
            other => other.with_context(|| format!("opening state lock {}", path.display())),
        }
        .with_context(|| {
            format!(
                "state directory {} cannot be written (give a writable one with --state-dir or HOOK_STATE_DIR)",
                self.dir.display()
            )
        })?;
        give_to_dir_owner(&path);
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(file)
    }

    /// Reads the state without taking the lock (the file is only ever
    /// replaced whole). A missing file is an empty state; a corrupt one is
    /// quarantined under the lock and an empty state returned.
    ///
    /// When the directory cannot be written the corrupt file stays where it
    /// is and an empty state is returned with a warning: readers (`hook
    /// status`) still answer.
    pub fn read(&self) -> Result<State> {
        match self.read_file()? {
            Parsed::Ok(state) => Ok(state),
            Parsed::Missing => Ok(State::empty()),
            Parsed::Newer(version) => Err(self.newer_error(version)),
            Parsed::Corrupt(why) => match self.lock() {
                Ok(_lock) => self.load_locked(),
                Err(e) => {
                    log::warn!(
                        "state file {} is corrupt ({why}) and cannot be moved aside ({e:#}); showing an empty state",
                        self.state_file().display()
                    );
                    Ok(State::empty())
                }
            },
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
    /// its `updated_at`, under the lock, replacing the file atomically.
    ///
    /// Only that entry is parsed and serialized: the other paths are copied
    /// through as the JSON text they were, so the hooks that run once per
    /// segment stay fast however many paths the state holds. A file that is
    /// missing, corrupt or newer takes the route of [`StateStore::update`].
    pub fn update_path<T>(
        &self,
        path: &str,
        change: impl FnOnce(&mut PathState) -> Result<T>,
    ) -> Result<T> {
        let _lock = self.lock()?;
        let file = self.state_file();
        let bytes = match fs::read(&file) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("reading state file {}", file.display()))
            }
        };
        if let Some(mut doc) = bytes.as_deref().and_then(|b| RawDoc::parse(b, path)) {
            let out = change(&mut doc.entry)?;
            doc.entry.updated_at = Some(now());
            let rendered = doc.render(path)?;
            self.write_bytes_locked(&rendered)?;
            return Ok(out);
        }
        let mut state = self.load_locked()?;
        let entry = state.paths.entry(path.to_string()).or_default();
        let out = change(entry)?;
        entry.updated_at = Some(now());
        state.schema_version = SCHEMA_VERSION;
        self.write_locked(&state)?;
        Ok(out)
    }

    /// Runs `f` while holding the state lock, for work that must be ordered
    /// with state changes. (A ledger line is appended inside
    /// [`StateStore::update_path`] instead, with the totals it goes with.)
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
            Ok(state) => Parsed::Newer(state.schema_version),
            Err(e) => Parsed::Corrupt(e.to_string()),
        })
    }

    fn newer_error(&self, version: u32) -> anyhow::Error {
        anyhow::anyhow!(
            "state file {} has schema version {version}, newer than this hook's {SCHEMA_VERSION}: it was written by a newer hook; leaving it untouched (run the newer hook, or move the file away to start afresh)",
            self.state_file().display()
        )
    }

    /// Loads the state; the caller holds the lock.
    fn load_locked(&self) -> Result<State> {
        match self.read_file()? {
            Parsed::Ok(state) => Ok(state),
            Parsed::Missing => Ok(State::empty()),
            Parsed::Newer(version) => Err(self.newer_error(version)),
            Parsed::Corrupt(why) => {
                let path = self.state_file();
                let stamp = file_stamp(now());
                let mut aside = self.dir.join(format!("state.json.corrupt-{stamp}"));
                let mut n = 1;
                while aside.exists() {
                    aside = self.dir.join(format!("state.json.corrupt-{stamp}-{n}"));
                    n += 1;
                }
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
        let mut bytes = serde_json::to_vec(state).context("serializing state")?;
        bytes.push(b'\n');
        self.write_bytes_locked(&bytes)
    }

    /// Replaces `state.json` with `bytes`: temporary file, fsync, rename,
    /// directory fsync. The caller holds the lock.
    fn write_bytes_locked(&self, bytes: &[u8]) -> Result<()> {
        let path = self.state_file();
        // One name for every writer: only the lock holder writes it, and a
        // writer killed half-way leaves a file the next one truncates.
        let tmp = self.dir.join("state.json.tmp");
        let result = (|| -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&tmp)?;
            give_to_dir_owner(&tmp);
            f.write_all(bytes)?;
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

/// `state.json` split into its top-level fields and its paths, each kept as
/// the JSON text it was, with one path's entry parsed: what
/// [`StateStore::update_path`] needs to change one path without parsing or
/// re-serializing the others.
struct RawDoc<'a> {
    top: BTreeMap<String, &'a RawValue>,
    paths: BTreeMap<String, &'a RawValue>,
    entry: PathState,
}

impl<'a> RawDoc<'a> {
    /// `None` when the text is not a state file of this schema whose entry
    /// for `path` parses (the caller then takes the full route).
    fn parse(bytes: &'a [u8], path: &str) -> Option<RawDoc<'a>> {
        let top: BTreeMap<String, &'a RawValue> = serde_json::from_slice(bytes).ok()?;
        let version: u32 = match top.get("schema_version") {
            Some(v) => serde_json::from_str(v.get()).ok()?,
            None => 0,
        };
        if version > SCHEMA_VERSION {
            return None;
        }
        let paths: BTreeMap<String, &'a RawValue> = match top.get("paths") {
            Some(v) => serde_json::from_str(v.get()).ok()?,
            None => BTreeMap::new(),
        };
        let entry = match paths.get(path) {
            Some(v) => serde_json::from_str(v.get()).ok()?,
            None => PathState::default(),
        };
        Some(RawDoc { top, paths, entry })
    }

    /// The whole file again, with the entry of `path` replaced.
    fn render(&self, path: &str) -> Result<Vec<u8>> {
        let entry = serde_json::to_string(&self.entry).context("serializing state")?;
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

enum Parsed {
    Ok(State),
    Missing,
    /// Written by a newer hook: never touched.
    Newer(u32),
    Corrupt(String),
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

    #[test]
    fn update_path_on_a_corrupt_entry_quarantines_the_file() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        let bad = r#"{"schema_version":1,"paths":{"a":{"restarts":"many"}}}"#;
        fs::write(dir.join("state.json"), bad).unwrap();
        store
            .update_path("a", |p| {
                p.restarts = 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(store.read().unwrap().paths["a"].restarts, 1);
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
    fn ledger_refuses_unsafe_names() {
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
        for bad in ["../x", "a/b", "", ".hidden"] {
            assert!(store.append_ledger(bad, None, &rec).is_err(), "{bad:?}");
        }
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

        // Somebody else's (or a too open) directory is never used.
        let shared = tmp();
        let uid = unsafe { libc::geteuid() };
        let base = shared.join(format!("mediamtx-hook-{uid}"));
        fs::create_dir(&base).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&base, fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(private_locks_dir(&shared), None);
        fs::remove_dir(&base).unwrap();
        std::os::unix::fs::symlink(&dir, &base).unwrap();
        assert_eq!(private_locks_dir(&shared), None);
    }

    #[test]
    fn phase_names() {
        let json = serde_json::to_string(&Phase::WaitingForDevice).unwrap();
        assert_eq!(json, "\"waiting-for-device\"");
        assert_eq!(Phase::WaitingForDevice.as_str(), "waiting-for-device");
    }
}
