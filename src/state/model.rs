//! What `state.json` holds: the state of every path (publisher, recording
//! session, hold, snapshot), as plain serde structs. Fields are only ever
//! added; readers keep what they do not know.

use crate::state::cause::Cause;
use crate::state::identity::ProcessId;
use crate::state::publisher::Publisher;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Version of the state file. Fields are only ever added; the version
/// changes when a meaning changes. (`hook status --json` has its own,
/// `status::json::SCHEMA_VERSION`.)
pub const SCHEMA_VERSION: u32 = 1;

/// How many recent segments the state keeps per path.
pub const RECENT_SEGMENTS: usize = 5;

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

impl Session {
    /// A session in `status` since `started_at`, with nothing counted yet and
    /// no process recorded.
    pub(crate) fn fresh(started_at: OffsetDateTime, status: SessionStatus) -> Session {
        Session {
            started_at,
            until: None,
            ended_at: None,
            status,
            end_reason: None,
            segments: 0,
            recorded_seconds: 0.0,
            gaps: 0,
            hold_pid: None,
            hold_process: None,
            starter_pid: None,
            starter_process: None,
            reason: None,
            retriggers: 0,
            recent_retriggers: Vec::new(),
            revivals: 0,
            recent_revivals: Vec::new(),
        }
    }
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

words!(SessionStatus {
    Starting => "starting",
    Active => "active",
    Ended => "ended",
    Failed => "failed",
});

/// How many revivals a session keeps (`Session::recent_revivals`).
pub(crate) const RECENT_REVIVALS: usize = 10;

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
pub(crate) const RECENT_RETRIGGERS: usize = 20;

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

words!(SnapshotSource {
    Stream => "stream",
    Device => "device",
    Still => "still",
});

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
    /// The publisher (`hook run`): its fields sit at the top of the
    /// path's entry, as they always have.
    #[serde(flatten)]
    pub publisher: Publisher,
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
pub(crate) const RECENT_OUTAGES: usize = 16;

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
pub(crate) fn now() -> OffsetDateTime {
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
    use crate::state::{ExitReason, Phase};

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

    /// A path's entry as written before the publisher's fields were grouped
    /// (every publisher field set, and the fields after them): it reads
    /// back and is written again byte for byte.
    const ENTRY_BEFORE_GROUPING: &str = r#"{"phase":"backoff","device":"/dev/video0","supervisor_pid":100,"supervisor_process":{"pid":100,"start_ticks":7,"boot_id":"b"},"child_pid":101,"child_process":{"pid":101,"start_ticks":8,"boot_id":"b"},"child_started_at":"2026-11-24T10:00:00Z","restarts":3,"next_attempt_at":"2026-11-24T10:00:00Z","last_exit":{"at":"2026-11-24T10:00:00Z","code":1,"signal":null,"ran_seconds":2.5,"reason":"stalled"},"last_error":"ffmpeg exited","last_error_at":"2026-11-24T10:00:00Z","failure":{"cause":"busy","detail":"held","fix":"free it","since":"2026-11-24T10:00:00Z"},"stderr_tail":["a","b"],"demand_at":"2026-11-24T10:00:00Z","ready_at":"2026-11-24T10:00:00Z","activation_latency_ms":450,"recording":{"active":true,"session":null,"last_session":null,"hold":null},"segments":{"count":0,"recorded_seconds":0.0,"bytes":0,"gaps":0,"last_end":null,"last":[],"first_start":null,"holes":[],"ledger_bytes":null,"gone":0,"gone_cursor":null,"kept":0,"kept_bytes":0,"recovered":0,"deleted":0,"deleted_bytes":0,"skipped":0},"snapshot":{"at":"2026-11-24T10:00:00Z","file":"/tmp/s.jpg","source":"still","bytes":10,"millis":5},"still":{"file":"/tmp/still.jpg","every_ms":1000},"stop_reason":"maintenance","outages":[{"from":"2026-11-24T10:00:00Z","to":null,"cause":"unplugged","detail":"gone"}],"event_count":2,"updated_at":"2026-11-24T10:00:00Z"}"#;

    /// The default entry as written before the grouping.
    const DEFAULT_BEFORE_GROUPING: &str = r#"{"phase":"idle","device":null,"supervisor_pid":null,"child_pid":null,"child_started_at":null,"restarts":0,"next_attempt_at":null,"last_exit":null,"last_error":null,"last_error_at":null,"stderr_tail":[],"demand_at":null,"ready_at":null,"activation_latency_ms":null,"recording":{"active":false,"session":null,"last_session":null,"hold":null},"segments":{"count":0,"recorded_seconds":0.0,"bytes":0,"gaps":0,"last_end":null,"last":[],"first_start":null,"holes":[],"ledger_bytes":null,"gone":0,"gone_cursor":null,"kept":0,"kept_bytes":0,"recovered":0,"deleted":0,"deleted_bytes":0,"skipped":0},"snapshot":null,"stop_reason":null,"updated_at":null}"#;

    #[test]
    fn an_entry_written_before_the_publisher_was_grouped_round_trips() {
        for json in [ENTRY_BEFORE_GROUPING, DEFAULT_BEFORE_GROUPING] {
            let p: PathState = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&p).unwrap(), json);
        }
        let p: PathState = serde_json::from_str(ENTRY_BEFORE_GROUPING).unwrap();
        assert_eq!(p.publisher.phase, Phase::Backoff);
        assert_eq!(p.publisher.supervisor_pid, Some(100));
        assert_eq!(p.publisher.activation_latency_ms, Some(450));
        assert_eq!(p.stop_reason.as_deref(), Some("maintenance"));
        assert_eq!(
            serde_json::to_string(&PathState::default()).unwrap(),
            DEFAULT_BEFORE_GROUPING
        );
    }

    #[test]
    fn a_sparse_entry_with_unknown_fields_loads() {
        let p: PathState = serde_json::from_str(
            r#"{"phase":"running","child_pid":7,"from_a_newer_hook":1,"segments":{"count":2}}"#,
        )
        .unwrap();
        assert_eq!(p.publisher.phase, Phase::Running);
        assert_eq!(p.publisher.child_pid, Some(7));
        assert_eq!(p.publisher.restarts, 0);
        assert_eq!(p.segments.count, 2);
    }
}
