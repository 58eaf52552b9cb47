//! What `state.json` holds: the state of every path (publisher, recording
//! session, hold, snapshot), as plain serde structs. Fields are only ever
//! added; readers keep what they do not know.

use crate::state::cause::Cause;
use crate::state::identity::ProcessId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Version of the state file. Fields are only ever added; the version
/// changes when a meaning changes. (`hook status --json` has its own,
/// `status::json::SCHEMA_VERSION`.)
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
    /// The recording root as MediaMTX resolved a relative `record_path`
    /// (`segment-complete` runs in MediaMTX's working directory), so that
    /// every reader uses the same one whatever its own directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_root: Option<String>,
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
    /// Why it ended, as the supervisor saw it.
    pub reason: ExitReason,
}

/// Why a child's run ended, as the supervisor saw it (`exited`, `stalled`,
/// `stopped` in the state file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitReason {
    /// It ended by itself (its exit code or the signal that killed it are in
    /// the exit's status).
    Exited,
    /// The watchdog stopped it: no new frames for the stall timeout.
    Stalled,
    /// A stop (signal, the job, a lost parent) stopped it.
    Stopped,
}

impl ExitReason {
    /// The word the state file and the messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Exited => "exited",
            ExitReason::Stalled => "stalled",
            ExitReason::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Why nothing was recorded in the hole before this segment, when the
    /// state knew (an [`Outage`] overlapping it): a cause word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_cause: Option<Cause>,
    /// Where `start` was read from.
    #[serde(default)]
    pub start_from: StartSource,
    /// Found on disk without its `segment-complete` (the one being written
    /// when MediaMTX or the machine went down): its duration is its file's
    /// modification time minus its start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hole {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// When the hole was found (wall clock), to forget it after a while.
    #[serde(with = "time::serde::rfc3339")]
    pub found_at: OffsetDateTime,
    /// Why nothing was recorded (see [`SegmentRecord::gap_cause`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
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
    /// Segments recorded and neither deleted, gone nor skipped (the disk
    /// budget never deletes a path's last one).
    pub kept: u64,
    /// Their bytes (as recorded): the path's share of the disk budget.
    pub kept_bytes: u64,
    /// Segments recorded from disk without their `segment-complete`
    /// (`SegmentRecord::recovered`).
    pub recovered: u64,
    /// Segments the disk budget deleted; each has a `deleted` ledger line.
    pub deleted: u64,
    pub deleted_bytes: u64,
    /// Oldest segments the disk budget would have deleted but left alone
    /// (a symbolic link, not MediaMTX's name, not removable); each has a
    /// `skipped` ledger line and no longer counts in `kept_bytes`.
    pub skipped: u64,
    /// Bytes recorded per hour lately: the write rate of the disk forecast.
    #[serde(skip_serializing_if = "crate::state::write_window::WriteWindow::is_empty")]
    pub written: crate::state::write_window::WriteWindow,
}

/// A place in a path's ledger: the byte offset of a line, and the file of
/// the segment on it (to notice a ledger replaced under the cursor).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerCursor {
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// That segment's start and size (the oldest kept segment of the path,
    /// for the disk budget).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub start: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
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
    pub status: SessionStatus,
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
    /// `record start --reason`: why the session was started.
    #[serde(default)]
    pub reason: Option<String>,
    /// How many `record start`s found the session live and extended it (or
    /// left it as it was): re-triggers.
    #[serde(default)]
    pub retriggers: u64,
    /// The last [`RECENT_RETRIGGERS`] re-triggers, oldest first.
    #[serde(default)]
    pub recent_retriggers: Vec<Retrigger>,
    /// How many times the session's hold was found dead and started again.
    #[serde(default)]
    pub revivals: u64,
    /// The last [`RECENT_REVIVALS`] of them, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_revivals: Vec<Revival>,
}

/// Where a recording session is in its life (`starting`, `active`,
/// `ended`, `failed` in the state file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Created by `record start`, its hold not yet confirmed.
    Starting,
    /// Held and recording.
    Active,
    /// Stopped, or its duration elapsed.
    Ended,
    /// It could not be started or kept.
    Failed,
}

impl SessionStatus {
    /// The word the state file and status use.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Starting => "starting",
            SessionStatus::Active => "active",
            SessionStatus::Ended => "ended",
            SessionStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many revivals a session keeps (`Session::recent_revivals`).
pub const RECENT_REVIVALS: usize = 10;

/// One hold of a session found dead and replaced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revival {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The dead hold.
    pub dead_pid: u32,
    /// The hold started in its place (none when it could not be started).
    #[serde(default)]
    pub new_pid: Option<u32>,
    /// Which hook command found it (`hook run`, `hook segment-complete`…).
    #[serde(default)]
    pub by: String,
}

/// How many re-triggers a session keeps (`Session::recent_retriggers`).
pub const RECENT_RETRIGGERS: usize = 20;

/// One `record start` on a live session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retrigger {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Its `--reason`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Its `--duration` in seconds; none: it asked for an open-ended session.
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    /// The session's end once it was applied (none: open-ended).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// It moved the end (later, or to open-ended); false when the session
    /// already lasted at least as long.
    #[serde(default)]
    pub changed: bool,
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
    /// Not kept in the file: set by `observe::truthful` for renderers when
    /// the live session's hold (or its `record start`) is gone.
    #[serde(skip)]
    pub stale: bool,
    /// Not kept in the file: set by `observe::truthful` when the live
    /// session records nothing now (`status::recording`).
    #[serde(skip)]
    pub stalled: bool,
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
    /// Its reader (`hook rtsp-read`), while one runs.
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
    pub source: SnapshotSource,
    pub bytes: u64,
    pub millis: u64,
}

/// Where a snapshot was taken from (`stream`, `device` or `still` in the
/// state file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotSource {
    /// MediaMTX's stream of the path, on loopback.
    Stream,
    /// The device itself (no stream runs).
    Device,
    /// The live still `hook run` keeps (`snapshot --max-age`).
    Still,
}

impl SnapshotSource {
    /// The word the state file and status use.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotSource::Stream => "stream",
            SnapshotSource::Device => "device",
            SnapshotSource::Still => "still",
        }
    }
}

impl std::fmt::Display for SnapshotSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The live still of a path (`stills.every`): the file `hook run` has
/// FFmpeg rewrite, and, as last looked at, the file's time and size (the
/// state file keeps only `file` and `every_ms`; `hook status` fills in the
/// rest from the file itself).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StillRecord {
    pub file: String,
    /// The interval it is rewritten at, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<u64>,
    /// The file's modification time: when the picture was taken.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
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
    /// Why the publisher is not running, while it is not: the cause of
    /// `last_error`, its evidence and fix. Cleared once frames flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<crate::state::Failure>,
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
    /// The live still, when `hook run` has written one with stills on; it
    /// stays after the stream stops (the last picture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub still: Option<StillRecord>,
    /// Why the path was last stopped by `hook stop`.
    pub stop_reason: Option<String>,
    /// Stretches of time in which something known kept the path from
    /// being recorded (a hold killed, a camera unplugged), newest last, at
    /// most [`RECENT_OUTAGES`]: a gap that overlaps one takes its cause.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<Outage>,
    /// The rolling window of an armed path (`hook record arm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub armed: Option<crate::state::events::Armed>,
    /// The latest events on the path, oldest first, at most
    /// [`crate::state::events::RECENT_EVENTS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<crate::state::events::Event>,
    /// Events ever started on the path (the next one's id is this + 1).
    #[serde(skip_serializing_if = "is_zero")]
    pub event_count: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How many outages a path keeps (`PathState::outages`).
pub const RECENT_OUTAGES: usize = 16;

/// A stretch of time in which a path could not be recorded, for a known
/// reason; written by whoever saw it happen, read by `segment-complete`
/// when it finds a hole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// None while it lasts.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
    /// Why (`hold_dead`, `unplugged`…).
    pub cause: Cause,
    /// What happened, for a person.
    #[serde(default)]
    pub detail: String,
}

/// Current time in UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl State {
    pub fn empty() -> State {
        State {
            schema_version: SCHEMA_VERSION,
            paths: BTreeMap::new(),
            recording_root: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names() {
        let json = serde_json::to_string(&Phase::WaitingForDevice).unwrap();
        assert_eq!(json, "\"waiting-for-device\"");
        assert_eq!(Phase::WaitingForDevice.as_str(), "waiting-for-device");
    }

    /// Each word is written as the state file always had it, and read back.
    fn same_word<T>(value: T, word: &str)
    where
        T: Serialize
            + serde::de::DeserializeOwned
            + PartialEq
            + std::fmt::Debug
            + std::fmt::Display,
    {
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, format!("\"{word}\""));
        assert_eq!(value.to_string(), word);
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
    }

    #[test]
    fn session_status_exit_reason_and_snapshot_source_words() {
        same_word(SessionStatus::Starting, "starting");
        same_word(SessionStatus::Active, "active");
        same_word(SessionStatus::Ended, "ended");
        same_word(SessionStatus::Failed, "failed");
        same_word(ExitReason::Exited, "exited");
        same_word(ExitReason::Stalled, "stalled");
        same_word(ExitReason::Stopped, "stopped");
        same_word(SnapshotSource::Stream, "stream");
        same_word(SnapshotSource::Device, "device");
        same_word(SnapshotSource::Still, "still");
    }
}
