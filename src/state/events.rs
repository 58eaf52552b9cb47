//! Armed paths and their events, as kept in a path's state: the rolling
//! window of short segments (the ring) an armed path keeps on disk, and the
//! events (`hook record start` on an armed path) that keep a stretch of it.
//! The decisions on these live in `crate::recording`.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// How many events a path keeps in its state (the ledger has them all).
pub(crate) const RECENT_EVENTS: usize = 20;

/// An armed path: its session holds the stream and MediaMTX records it in
/// short segments; segments no event covers are deleted once they ended
/// more than `pre_ms` ago.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Armed {
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// Pre-roll asked for, milliseconds.
    pub pre_ms: u64,
    /// Post-roll after an event's end, milliseconds.
    pub post_ms: u64,
    /// The `recordSegmentDuration` the path records with while armed.
    pub segment_duration: String,
    /// MediaMTX's `recordSegmentDuration` of the entry before arming, put
    /// back by `disarm` (None: not known; the policy's is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_segment_duration: Option<String>,
    /// The finished segments no event covers (yet), oldest first.
    #[serde(default)]
    pub ring: Vec<RingSegment>,
    /// Segments deleted from the ring, and their bytes.
    #[serde(default)]
    pub rolled: u64,
    #[serde(default)]
    pub rolled_bytes: u64,
}

impl Armed {
    pub(crate) fn pre(&self) -> Duration {
        Duration::milliseconds(self.pre_ms as i64)
    }
    pub(crate) fn ring_bytes(&self) -> u64 {
        self.ring.iter().map(|s| s.size).sum()
    }
}

/// A finished segment in an armed path's ring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RingSegment {
    pub file: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub duration: f64,
    pub size: u64,
}

impl RingSegment {
    pub(crate) fn end(&self) -> OffsetDateTime {
        self.start + Duration::seconds_f64(self.duration)
    }
}

/// An event on an armed path: everything from `pre` before `at` to `post`
/// after `until` is kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    /// When `record start` was called.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The event's end (re-triggers move it later).
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    #[serde(default)]
    pub reason: Option<String>,
    pub pre_ms: u64,
    pub post_ms: u64,
    /// The start of the earliest segment kept for it (segments start at key
    /// frames, so this is what was kept, not what was asked); None until a
    /// segment of it is known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub kept_from: Option<OffsetDateTime>,
    #[serde(default)]
    pub retriggers: u64,
}

impl Event {
    /// The first instant the event keeps.
    pub(crate) fn window_start(&self) -> OffsetDateTime {
        self.at - Duration::milliseconds(self.pre_ms as i64)
    }
    /// The last instant the event keeps.
    pub(crate) fn window_end(&self) -> OffsetDateTime {
        self.until + Duration::milliseconds(self.post_ms as i64)
    }
    /// True when `[start, end]` overlaps the event's window.
    pub(crate) fn covers(&self, start: OffsetDateTime, end: OffsetDateTime) -> bool {
        start < self.window_end() && end > self.window_start()
    }
    /// The pre-roll achieved: seconds from the earliest kept segment's
    /// start to the call (None until known).
    pub(crate) fn achieved_pre_seconds(&self) -> Option<f64> {
        self.kept_from
            .map(|k| (self.at - k).as_seconds_f64().max(0.0))
    }
}
