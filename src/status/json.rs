//! `hook status --json`: the versioned schema below, rendered from what
//! `state::observe` found.
//!
//! # `--json` (schema version 1)
//!
//! One object. Versioning rule: fields are only ever added; `schema_version`
//! changes only when the meaning of an existing field changes. Times are RFC
//! 3339 strings (UTC); a value that is not known or does not apply is `null`.
//!
//! ```text
//! {
//!   "schema_version": 1,                     integer, this schema's version
//!   "generated_at": "2026-11-24T03:43:19Z",  when status looked
//!   "state_dir": "/var/lib/mediamtx-hook",   where the state lives
//!   "paths": { "<path name>": {              one entry per MediaMTX path
//!     "phase": "running",           idle | waiting-for-device | starting | running |
//!                                   backoff | stopping | failed; checked against the
//!                                   living processes (see stale)
//!     "recorded_phase": "running",  the phase as the state file has it
//!     "stale": false,               true when the state names processes that are gone
//!                                   (a hook killed without recording its end); phase
//!                                   and pids then say what is true now
//!     "notes": [],                  strings: why stale, and other findings
//!     "use_cases": ["viewing"],     what holds the path: "viewing" (a publisher is up
//!                                   on demand, for a reader), "recording" (a recording
//!                                   session is active)
//!     "device": "/dev/video0",      string or null
//!     "supervisor_pid": 41200,      the `hook run` process, null when none is alive
//!     "child_pid": 41234,           FFmpeg publishing the camera, null when none is alive
//!     "child_started_at": "…",      when that FFmpeg started, or null
//!     "uptime_seconds": 3720.5,     number: seconds FFmpeg has run, null when none runs
//!     "restarts": 0,                integer: FFmpeg restarts by the supervisor
//!     "next_attempt_at": null,      in backoff: when the next start is due
//!     "last_exit": null,            or {"at", "code" (int|null), "signal" (int|null),
//!                                   "ran_seconds" (number), "reason" (string)}
//!     "last_error": null,           string or null
//!     "last_error_at": null,        when last_error happened
//!     "cause": null,                why the publisher is not working, one of the
//!                                   documented set (docs/reference.md, Causes): camera_missing,
//!                                   unplugged, not_a_camera, busy, permission,
//!                                   usb_bandwidth, unsupported_format, unsupported_size,
//!                                   no_frames, encoder_failed, ffmpeg_failed,
//!                                   mediamtx_unreachable, credentials_refused,
//!                                   disk_full, device_error, other; null while idle,
//!                                   running or stopping
//!     "cause_detail": null,         the evidence (the error, FFmpeg's line, the holder)
//!     "cause_fix": null,            what to do about it
//!     "cause_since": null,          when this cause was first seen
//!     "stderr_tail": [],            strings: FFmpeg's last stderr lines
//!     "demand_at": "…",             when `hook run` last started (MediaMTX's demand)
//!     "ready_at": "…",              when `hook ready` last ran (stream available)
//!     "activation_latency_ms": 420, integer: ready − demand of the last activation
//!     "recording": {
//!       "active": false,            a recording session is active and held
//!       "stale": false,             the session's hold process is gone, or (starting)
//!                                   its `hook record start` is gone
//!       "session": null,            the current session, or {"started_at", "until",
//!                                   "ended_at", "status" (starting|active|ended|failed),
//!                                   "end_reason", "segments" (int), "recorded_seconds"
//!                                   (number), "gaps" (int), "hold_pid", and when known
//!                                   "hold_process", "starter_pid", "starter_process"
//!                                   ({"pid", "start_ticks", "boot_id"}), "reason"
//!                                   (`--reason`), "retriggers" (int), "recent_retriggers"
//!                                   (the last 20: {"at", "reason", "duration_seconds",
//!                                   "until" (null: open-ended), "changed" (bool)})}
//!       "last_session": null        the previous session, same shape
//!     },
//!     "segments": {                 every segment recorded on the path
//!       "count": 12,                integer
//!       "recorded_seconds": 21600.4,number: sum of the segments' durations
//!       "bytes": 1234567,           integer: sum of their sizes
//!       "gaps": 0,                  integer: holes longer than the gap tolerance
//!       "gone": 0,                  integer: segments whose files were found deleted
//!                                   (each has a {"gone": file, "noticed_at"} ledger line)
//!       "last_end": "…",            end of the latest segment, or null
//!       "last": [ {"file", "start", "duration", "size", "start_from"
//!                 ("file-name"|"mtime"), "gap_before" (seconds, absent when none),
//!                 "session" (its session's started_at, absent when none)} ],
//!                                   the latest few, oldest first
//!       "ledger": "/var/lib/mediamtx-hook/ledger/camera0.jsonl"
//!                                   every segment, one JSON line each (same shape)
//!     },
//!     "snapshot": null,             or {"at", "file", "source" (device|stream|still),
//!                                   "bytes", "millis"}
//!     "still": null,                the live still (stills.every), or {"file", "at" (the
//!                                   file's time, null until written), "age_seconds",
//!                                   "bytes", "every_seconds"}; it stays after the
//!                                   stream stops
//!     "stop_reason": null,          why `hook stop` last stopped the path
//!     "armed": null,                an armed path (`hook record arm`): {"since",
//!                                   "pre_seconds", "post_seconds", "segment_duration",
//!                                   "window_from", "window_to", "ring_segments",
//!                                   "ring_bytes", "rolled", "rolled_bytes", "ring"}
//!     "events": [],                 the latest events: {"id", "at", "until",
//!                                   "window_start", "window_end", "reason",
//!                                   "pre_seconds", "post_seconds",
//!                                   "achieved_pre_seconds", "kept_from",
//!                                   "retriggers", "active"}
//!     "updated_at": "…"             when the state of the path last changed
//!   } }
//! }
//! ```
//!

use crate::state::observe::*;
use crate::state::{
    ExitRecord, Hole, Outage, PathState, SegmentRecord, Session, SnapshotRecord, StateStore,
    StillRecord,
};
use anyhow::Context as _;
use serde::Serialize;
use time::OffsetDateTime;

/// Version of the `hook status --json` schema.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
pub(crate) struct JsonStatus<'a> {
    schema_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    generated_at: OffsetDateTime,
    state_dir: String,
    paths: std::collections::BTreeMap<&'a str, JsonPath<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<&'a crate::status::storage::Storage>,
}

#[derive(Serialize)]
pub(crate) struct JsonPath<'a> {
    phase: &'static str,
    recorded_phase: &'static str,
    stale: bool,
    notes: &'a [String],
    use_cases: &'a [&'static str],
    device: &'a Option<String>,
    supervisor_pid: Option<u32>,
    child_pid: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    child_started_at: Option<OffsetDateTime>,
    uptime_seconds: Option<f64>,
    restarts: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    next_attempt_at: Option<OffsetDateTime>,
    last_exit: &'a Option<ExitRecord>,
    last_error: &'a Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_error_at: Option<OffsetDateTime>,
    cause: Option<&'static str>,
    cause_detail: Option<&'a str>,
    cause_fix: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    cause_since: Option<OffsetDateTime>,
    stderr_tail: &'a [String],
    #[serde(with = "time::serde::rfc3339::option")]
    demand_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    ready_at: Option<OffsetDateTime>,
    activation_latency_ms: Option<u64>,
    recording: JsonRecording<'a>,
    segments: JsonSegments<'a>,
    snapshot: &'a Option<SnapshotRecord>,
    still: Option<JsonStill<'a>>,
    stop_reason: &'a Option<String>,
    /// Stretches of time a known cause kept the path from being recorded.
    outages: &'a [Outage],
    /// An armed path's rolling window (`hook record arm`); null when not armed.
    armed: Option<crate::status::events::JsonArmed<'a>>,
    /// The latest events on the path, oldest first.
    events: Vec<crate::status::events::JsonEvent<'a>>,
    #[serde(with = "time::serde::rfc3339::option")]
    updated_at: Option<OffsetDateTime>,
}

#[derive(Serialize)]
pub(crate) struct JsonStill<'a> {
    file: &'a str,
    #[serde(with = "time::serde::rfc3339::option")]
    at: Option<OffsetDateTime>,
    age_seconds: Option<f64>,
    bytes: Option<u64>,
    every_seconds: Option<f64>,
}

impl<'a> JsonStill<'a> {
    fn of(s: &'a StillRecord, now: OffsetDateTime) -> Self {
        JsonStill {
            file: &s.file,
            at: s.at,
            age_seconds: s.at.map(|at| (now - at).as_seconds_f64().max(0.0)),
            bytes: s.bytes,
            every_seconds: s.every_ms.map(|ms| ms as f64 / 1000.0),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct JsonRecording<'a> {
    active: bool,
    stale: bool,
    /// Why the live session records nothing now (null when it records or
    /// there is none): a cause word, its evidence and fix.
    cause: Option<crate::state::Cause>,
    detail: Option<&'a str>,
    fix: Option<&'a str>,
    /// The live session's recorded seconds against its elapsed seconds.
    coverage: Option<crate::status::recording::Coverage>,
    session: &'a Option<Session>,
    last_session: &'a Option<Session>,
}

#[derive(Serialize)]
pub(crate) struct JsonSegments<'a> {
    count: u64,
    recorded_seconds: f64,
    bytes: u64,
    gaps: u64,
    gone: u64,
    deleted: u64,
    /// Segments recorded from disk without their `segment-complete`.
    recovered: u64,
    kept_bytes: u64,
    /// The path's oldest kept segment (its file), when known.
    oldest_kept: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_end: Option<OffsetDateTime>,
    last: &'a [SegmentRecord],
    /// The holes found lately, each with its `cause` when known.
    holes: &'a [Hole],
    ledger: String,
}

/// `--json`: the documented object (see the module documentation).
#[cfg(test)]
pub(crate) fn render_json(
    store: &StateStore,
    observed: &[(&str, &PathState, Observed)],
    now: OffsetDateTime,
) -> anyhow::Result<String> {
    render_json_with(store, observed, now, None)
}

/// `--json` with the top-level `storage` object.
pub(crate) fn render_json_with(
    store: &StateStore,
    observed: &[(&str, &PathState, Observed)],
    now: OffsetDateTime,
    storage: Option<&crate::status::storage::Storage>,
) -> anyhow::Result<String> {
    let mut paths = std::collections::BTreeMap::new();
    for (name, p, o) in observed {
        let entry = JsonPath {
            phase: o.phase.as_str(),
            recorded_phase: p.publisher.phase.as_str(),
            stale: o.stale,
            notes: &o.notes,
            use_cases: &o.use_cases,
            device: &p.publisher.device,
            supervisor_pid: o.supervisor_pid,
            child_pid: o.child_pid,
            child_started_at: p.publisher.child_started_at,
            uptime_seconds: o.uptime_seconds,
            restarts: p.publisher.restarts,
            next_attempt_at: p.publisher.next_attempt_at,
            last_exit: &p.publisher.last_exit,
            last_error: &p.publisher.last_error,
            last_error_at: p.publisher.last_error_at,
            cause: o.cause.as_ref().map(|f| f.cause.as_str()),
            cause_detail: o.cause.as_ref().map(|f| f.detail.as_str()),
            cause_fix: o.cause.as_ref().map(|f| f.fix.as_str()),
            cause_since: o.cause.as_ref().map(|f| f.since),
            stderr_tail: &p.publisher.stderr_tail,
            demand_at: p.publisher.demand_at,
            ready_at: p.publisher.ready_at,
            activation_latency_ms: p.publisher.activation_latency_ms,
            recording: JsonRecording {
                active: o.recording_active,
                stale: o.recording_stale,
                cause: o.recording_cause.as_ref().map(|f| f.cause),
                detail: o.recording_cause.as_ref().map(|f| f.detail.as_str()),
                fix: o.recording_cause.as_ref().map(|f| f.fix.as_str()),
                coverage: p
                    .recording
                    .session
                    .as_ref()
                    .and_then(|s| crate::status::recording::coverage(s, p.segments.last_end)),
                session: &p.recording.session,
                last_session: &p.recording.last_session,
            },
            segments: JsonSegments {
                count: p.segments.count,
                recorded_seconds: p.segments.recorded_seconds,
                bytes: p.segments.bytes,
                gaps: p.segments.gaps,
                gone: p.segments.gone,
                deleted: p.segments.deleted,
                recovered: p.segments.recovered,
                kept_bytes: p.segments.kept_bytes,
                oldest_kept: p
                    .segments
                    .gone_cursor
                    .as_ref()
                    .and_then(|c| c.file.as_deref()),
                last_end: p.segments.last_end,
                last: &p.segments.last,
                holes: &p.segments.holes,
                ledger: store.ledger_file(name).display().to_string(),
            },
            snapshot: &p.snapshot,
            still: p.still.as_ref().map(|s| JsonStill::of(s, now)),
            stop_reason: &p.stop_reason,
            outages: &p.outages,
            armed: p.armed.as_ref().map(crate::status::events::JsonArmed::of),
            events: crate::status::events::json_events(p, now),
            updated_at: p.updated_at,
        };
        paths.insert(*name, entry);
    }
    let doc = JsonStatus {
        schema_version: SCHEMA_VERSION,
        generated_at: now,
        state_dir: store.dir().display().to_string(),
        paths,
        storage,
    };
    serde_json::to_string_pretty(&doc).context("serializing status")
}
