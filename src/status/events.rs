//! How `hook status` shows an armed path and its events (human lines and
//! the JSON objects; the metrics are among the Prometheus families).

use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};

use crate::state::events::{Armed, Event, RingSegment};
use crate::state::PathState;
use crate::status::units::{human_bytes, local_time, one_line};

/// How many events the single-path view lists (JSON has all the state keeps).
const EVENTS_SHOWN: usize = 5;

/// `armed` in `hook status --json`.
#[derive(Serialize)]
pub(crate) struct JsonArmed<'a> {
    #[serde(with = "time::serde::rfc3339")]
    since: OffsetDateTime,
    pre_seconds: f64,
    post_seconds: f64,
    segment_duration: &'a str,
    /// The ring's stretch: its oldest segment's start, its newest's end.
    #[serde(with = "time::serde::rfc3339::option")]
    window_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    window_to: Option<OffsetDateTime>,
    ring_segments: usize,
    ring_bytes: u64,
    rolled: u64,
    rolled_bytes: u64,
    ring: &'a [RingSegment],
}

impl<'a> JsonArmed<'a> {
    pub(crate) fn of(a: &'a Armed) -> Self {
        JsonArmed {
            since: a.since,
            pre_seconds: a.pre_ms as f64 / 1000.0,
            post_seconds: a.post_ms as f64 / 1000.0,
            segment_duration: &a.segment_duration,
            window_from: a.ring.first().map(|s| s.start),
            window_to: a.ring.iter().map(RingSegment::end).max(),
            ring_segments: a.ring.len(),
            ring_bytes: a.ring_bytes(),
            rolled: a.rolled,
            rolled_bytes: a.rolled_bytes,
            ring: &a.ring,
        }
    }
}

/// One of `events` in `hook status --json`.
#[derive(Serialize)]
pub(crate) struct JsonEvent<'a> {
    id: u64,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    until: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    window_start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    window_end: OffsetDateTime,
    reason: Option<&'a str>,
    pre_seconds: f64,
    post_seconds: f64,
    achieved_pre_seconds: Option<f64>,
    #[serde(with = "time::serde::rfc3339::option")]
    kept_from: Option<OffsetDateTime>,
    retriggers: u64,
    /// Its window has not ended yet.
    active: bool,
}

impl<'a> JsonEvent<'a> {
    pub(crate) fn of(e: &'a Event, now: OffsetDateTime) -> Self {
        JsonEvent {
            id: e.id,
            at: e.at,
            until: e.until,
            window_start: e.window_start(),
            window_end: e.window_end(),
            reason: e.reason.as_deref(),
            pre_seconds: e.pre_ms as f64 / 1000.0,
            post_seconds: e.post_ms as f64 / 1000.0,
            achieved_pre_seconds: e.achieved_pre_seconds(),
            kept_from: e.kept_from,
            retriggers: e.retriggers,
            active: e.window_end() > now,
        }
    }
}

/// The events of `p` for JSON, oldest first.
pub(crate) fn json_events(p: &PathState, now: OffsetDateTime) -> Vec<JsonEvent<'_>> {
    p.events.iter().map(|e| JsonEvent::of(e, now)).collect()
}

/// The single-path view's `armed:` and `event N:` lines.
pub(crate) fn human_lines(
    p: &PathState,
    now: OffsetDateTime,
    local: UtcOffset,
) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let Some(a) = &p.armed {
        let window = match (a.ring.first(), a.ring.iter().map(RingSegment::end).max()) {
            (Some(first), Some(end)) => format!(
                "{} to {}",
                local_time(first.start, local),
                local_time(end, local)
            ),
            _ => "empty".to_string(),
        };
        lines.push((
            "armed",
            format!(
                "since {}, pre-roll {}, post-roll {}, segments of {}; ring {} ({} segments, {}), {} rolled",
                local_time(a.since, local),
                crate::policy::duration::Dur::millis(a.pre_ms),
                crate::policy::duration::Dur::millis(a.post_ms),
                a.segment_duration,
                window,
                a.ring.len(),
                human_bytes(a.ring_bytes()),
                a.rolled
            ),
        ));
    }
    for e in p.events.iter().rev().take(EVENTS_SHOWN) {
        let pre = match e.achieved_pre_seconds() {
            Some(s) => format!(
                "{s:.1}s kept of {} asked",
                crate::policy::duration::Dur::millis(e.pre_ms)
            ),
            None => format!(
                "{} asked, none kept yet",
                crate::policy::duration::Dur::millis(e.pre_ms)
            ),
        };
        lines.push((
            "event",
            format!(
                "{}: {} to {}{}; pre-roll {pre}{}{}",
                e.id,
                local_time(e.window_start(), local),
                local_time(e.window_end(), local),
                if e.window_end() > now {
                    " (recording)"
                } else {
                    ""
                },
                if e.retriggers > 0 {
                    format!(", {} re-triggers", e.retriggers)
                } else {
                    String::new()
                },
                e.reason
                    .as_deref()
                    .map_or(String::new(), |r| format!(" ({})", one_line(r, 200)))
            ),
        ));
    }
    lines
}
