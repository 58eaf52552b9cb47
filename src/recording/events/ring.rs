//! The ring of an armed path: a finished segment that no event covers goes
//! into it; a ring segment that ended more than the pre-roll ago is rolled
//! (deleted); an event takes the ring segments inside its window out of it
//! (they are kept from then on, like any recorded segment).
//!
//! So the ring never holds more than the pre-roll plus one segment: every
//! segment in it ended less than the pre-roll ago when the last segment
//! finished.

use time::OffsetDateTime;

use crate::state::events::{Event, RingSegment};
use crate::state::{PathState, SegmentRecord};

/// Where a finished segment of `p` goes. `Ring`: into the ring (not a kept
/// segment, not in the disk budget's order); `Kept`: an event covers it (the
/// events' `kept_from` updated), or the path is not armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    Ring,
    Kept,
}

/// Decides where `seg` goes and applies it to `p` (its kept totals, which
/// `record_segment` counted, are taken back for a ring segment).
pub(crate) fn place_segment(p: &mut PathState, seg: &SegmentRecord) -> Placement {
    if p.armed.is_none() {
        return Placement::Kept;
    }
    let (start, end) = (seg.start, seg.end());
    let mut covered = false;
    for e in p.events.iter_mut().filter(|e| e.covers(start, end)) {
        covered = true;
        note_kept(e, start);
    }
    if covered {
        return Placement::Kept;
    }
    let armed = p.armed.as_mut().expect("checked above");
    armed.ring.push(RingSegment {
        file: seg.file.clone(),
        start,
        duration: seg.duration,
        size: seg.size,
    });
    armed.ring.sort_by_key(|s| s.start);
    p.segments.kept = p.segments.kept.saturating_sub(1);
    p.segments.kept_bytes = p.segments.kept_bytes.saturating_sub(seg.size);
    Placement::Ring
}

fn note_kept(e: &mut Event, start: OffsetDateTime) {
    if e.kept_from.is_none_or(|k| start < k) {
        e.kept_from = Some(start);
    }
}

/// Takes out of the ring (and returns) the segments that ended more than
/// the pre-roll before `now` and that no event covers: the ones to delete.
pub(crate) fn due_to_roll(p: &mut PathState, now: OffsetDateTime) -> Vec<RingSegment> {
    let events = &p.events;
    let Some(armed) = p.armed.as_mut() else {
        return Vec::new();
    };
    let horizon = now - armed.pre();
    let (due, stay): (Vec<_>, Vec<_>) = armed
        .ring
        .drain(..)
        .partition(|s| s.end() < horizon && !events.iter().any(|e| e.covers(s.start, s.end())));
    armed.ring = stay;
    due
}

/// Takes out of the ring (and returns) the segments the event `id` covers:
/// they are kept from now on (counted back into the kept totals).
pub(crate) fn keep_for_event(p: &mut PathState, id: u64) -> Vec<RingSegment> {
    let Some(idx) = p.events.iter().position(|e| e.id == id) else {
        return Vec::new();
    };
    let Some(armed) = p.armed.as_mut() else {
        return Vec::new();
    };
    let event = &mut p.events[idx];
    let (kept, stay): (Vec<_>, Vec<_>) = armed
        .ring
        .drain(..)
        .partition(|s| event.covers(s.start, s.end()));
    armed.ring = stay;
    for s in &kept {
        note_kept(event, s.start);
        p.segments.kept += 1;
        p.segments.kept_bytes = p.segments.kept_bytes.saturating_add(s.size);
    }
    kept
}

/// Removes the oldest ring segment of all paths (for the disk budget,
/// which deletes ring segments before any kept one): its path and segment.
pub(crate) fn take_oldest(
    paths: &mut std::collections::BTreeMap<String, PathState>,
) -> Option<(String, RingSegment)> {
    let (name, _) = paths
        .iter()
        .filter_map(|(n, p)| Some((n, p.armed.as_ref()?.ring.first()?.start)))
        .min_by_key(|(_, start)| *start)?;
    let name = name.clone();
    let armed = paths.get_mut(&name)?.armed.as_mut()?;
    Some((name, armed.ring.remove(0)))
}

/// The bytes of every ring (they count in `recording.max_size`).
pub(crate) fn ring_bytes(paths: &std::collections::BTreeMap<String, PathState>) -> u64 {
    paths
        .values()
        .filter_map(|p| p.armed.as_ref())
        .map(|a| a.ring_bytes())
        .sum()
}

/// A ledger line: a ring segment deleted.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RolledRecord {
    pub rolled: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub size: u64,
    /// `pre-roll 10s`, `disarmed`, or the disk budget's reason.
    pub reason: String,
}

/// A ledger line: a ring segment kept for an event from now on (read as a
/// kept segment by the ledger's cursor, like a requeued one).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct KeptRecord {
    pub requeued: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub size: u64,
    pub duration: f64,
    pub event: u64,
}

/// A segment's ledger line marked as a ring segment (`"ring": true`):
/// the ledger's cursor (gone files, disk budget) passes over it.
pub(crate) fn ring_line(seg: &SegmentRecord) -> serde_json::Value {
    let mut v = serde_json::to_value(seg).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("ring".into(), serde_json::Value::Bool(true));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::events::Armed;
    use crate::state::StartSource;
    use time::macros::datetime;
    use time::Duration;

    const T0: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);

    fn at(s: f64) -> OffsetDateTime {
        T0 + Duration::seconds_f64(s)
    }

    fn seg(start: f64, d: f64) -> SegmentRecord {
        SegmentRecord {
            file: format!("/rec/{start}.mp4"),
            start: at(start),
            duration: d,
            size: 100,
            gap_before: None,
            gap_cause: None,
            start_from: StartSource::FileName,
            recovered: false,
            session: None,
        }
    }

    fn armed(pre: u64) -> PathState {
        PathState {
            armed: Some(Armed {
                since: T0,
                pre_ms: pre * 1000,
                post_ms: 5000,
                segment_duration: "1s".into(),
                previous_segment_duration: None,
                ring: Vec::new(),
                rolled: 0,
                rolled_bytes: 0,
            }),
            ..PathState::default()
        }
    }

    /// Segments as `segment-complete` sees them: counted kept, then placed.
    fn finish(p: &mut PathState, s: &SegmentRecord) -> Placement {
        p.segments.kept += 1;
        p.segments.kept_bytes += s.size;
        place_segment(p, s)
    }

    #[test]
    fn the_ring_stays_within_pre_roll_plus_one_segment_over_a_long_run() {
        let mut p = armed(10);
        let mut rolled = 0;
        for i in 0..1000 {
            let s = seg(i as f64, 1.0);
            assert_eq!(finish(&mut p, &s), Placement::Ring);
            rolled += due_to_roll(&mut p, s.end()).len();
            let ring = &p.armed.as_ref().unwrap().ring;
            let span = (ring.last().unwrap().end() - ring[0].start).as_seconds_f64();
            assert!(span <= 11.0 + 1e-9, "ring spans {span}s at segment {i}");
        }
        assert_eq!(rolled, 1000 - p.armed.as_ref().unwrap().ring.len());
        assert_eq!(p.segments.kept, 0);
        assert_eq!(p.segments.kept_bytes, 0);
    }

    #[test]
    fn an_event_keeps_its_pre_roll_and_post_roll() {
        let mut p = armed(10);
        for i in 0..30 {
            let s = seg(i as f64, 1.0);
            finish(&mut p, &s);
            due_to_roll(&mut p, s.end());
        }
        // The event at 30.2 s: 20.2 s .. 40.2 + 5 s.
        p.events.push(Event {
            id: 1,
            at: at(30.2),
            until: at(40.2),
            reason: None,
            pre_ms: 10_000,
            post_ms: 5_000,
            kept_from: None,
            retriggers: 0,
        });
        let kept = keep_for_event(&mut p, 1);
        assert_eq!(kept.first().unwrap().start, at(20.0));
        assert_eq!(kept.len(), 10);
        let e = &p.events[0];
        assert!((e.achieved_pre_seconds().unwrap() - 10.2).abs() < 1e-6);
        for i in 30..60 {
            let s = seg(i as f64, 1.0);
            let placed = finish(&mut p, &s);
            let within = (s.start < at(45.2)) && (s.end() > at(20.2));
            assert_eq!(placed == Placement::Kept, within, "segment {i}");
            due_to_roll(&mut p, s.end());
        }
        assert_eq!(p.segments.kept, 26, "20..46 kept");
    }

    #[test]
    fn the_oldest_ring_segment_of_all_paths_goes_first() {
        let mut paths = std::collections::BTreeMap::new();
        let mut a = armed(10);
        let mut b = armed(10);
        finish(&mut a, &seg(5.0, 1.0));
        finish(&mut b, &seg(3.0, 1.0));
        finish(&mut b, &seg(4.0, 1.0));
        paths.insert("a".to_string(), a);
        paths.insert("b".to_string(), b);
        assert_eq!(ring_bytes(&paths), 300);
        let (name, s) = take_oldest(&mut paths).unwrap();
        assert_eq!((name.as_str(), s.start), ("b", at(3.0)));
        assert_eq!(ring_bytes(&paths), 200);
    }
}
