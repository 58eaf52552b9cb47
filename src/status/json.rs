//! `hook status --json`: the versioned schema documented in `hook status`'s
//! module (`commands::status`), rendered from what `state::observe` found.

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
pub fn render_json(
    store: &StateStore,
    observed: &[(&str, &PathState, Observed)],
    now: OffsetDateTime,
) -> anyhow::Result<String> {
    render_json_with(store, observed, now, None)
}

/// `--json` with the top-level `storage` object.
pub fn render_json_with(
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
