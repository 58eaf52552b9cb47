//! A finished segment in its path's totals: the count, the latest few,
//! gap detection (a hole longer than the gap tolerance, filled back when a
//! late segment arrives), the cause of the outage over a gap, and the
//! active recording session's counters.

use time::{Duration, OffsetDateTime};

use crate::state::outage;
use crate::state::SessionStatus;
use crate::state::{Hole, PathState, SegmentRecord, SegmentTotals, RECENT_SEGMENTS};

/// How long a hole is remembered so that a late segment can fill it (and
/// take its gap back). Segment hooks that run concurrently finish within
/// seconds of each other; a segment arriving later than this is not
/// expected, and a hole forgotten stays counted.
pub(crate) const HOLE_MEMORY: Duration = Duration::minutes(10);

/// At most this many holes are remembered per path, so that the state stays
/// small whatever happens; the oldest go first.
pub(crate) const REMEMBERED_HOLES: usize = 256;

/// True when `file` is among the latest segments already recorded: the
/// hook was run twice for one segment (by hand, or a replayed event), and
/// counting it again would be wrong. MediaMTX never reuses a file name.
pub(crate) fn already_recorded(totals: &SegmentTotals, file: &str) -> bool {
    totals.last.iter().any(|s| s.file == file)
}

/// What recording one segment did.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Placed {
    /// The segment as written to the ledger (with `gap_before` and
    /// `session` filled in).
    pub record: SegmentRecord,
    /// Change of the path's gap count: +1 for a new hole, -1 when a late
    /// segment filled one, 0 otherwise.
    pub gaps_delta: i64,
}

/// Adds one finished segment to a path: totals, the last few, gap
/// detection, and the active recording session's counters.
///
/// A path's recording restarts its continuity when a recording session is
/// active and the previous segment ended before the session started: the
/// time between two sessions is not a gap. Without a session (MediaMTX
/// configured to record on its own) every hole counts.
pub(crate) fn record_segment(
    p: &mut PathState,
    mut seg: SegmentRecord,
    tolerance: Duration,
    now: OffsetDateTime,
) -> Placed {
    let start = seg.start;
    let end = seg.end();
    let session_start = p
        .recording
        .session
        .as_ref()
        .filter(|s| s.status == SessionStatus::Active)
        .map(|s| s.started_at);
    let totals = &mut p.segments;
    if let (Some(session_start), Some(last_end)) = (session_start, totals.last_end) {
        if last_end < session_start && start + tolerance >= session_start {
            totals.first_start = None;
            totals.last_end = None;
            totals.holes.clear();
        }
    }
    let (gap_before, gaps_delta) = place(totals, start, end, tolerance, now);
    seg.gap_before = gap_before;
    // A new hole takes the cause of what the state knows happened then.
    for h in totals
        .holes
        .iter_mut()
        .filter(|h| h.cause.is_none() && h.found_at == now)
    {
        h.cause = outage::explaining(&p.outages, h.from, h.to).map(|o| o.cause);
        if gap_before.is_some() && h.to == start {
            seg.gap_cause = h.cause;
        }
    }
    totals.gaps = totals.gaps.saturating_add_signed(gaps_delta);
    totals.count += 1;
    totals.recorded_seconds += seg.duration;
    totals.bytes = totals.bytes.saturating_add(seg.size);
    totals.kept += 1;
    totals.kept_bytes = totals.kept_bytes.saturating_add(seg.size);
    totals.written.add(now, seg.size, seg.duration);

    // Counted into the active session when it overlaps it.
    if let Some(session) = p
        .recording
        .session
        .as_mut()
        .filter(|s| s.status == SessionStatus::Active && end > s.started_at)
    {
        session.segments += 1;
        session.recorded_seconds += seg.duration;
        session.gaps = session.gaps.saturating_add_signed(gaps_delta);
        seg.session = Some(session.started_at);
    }

    let last = &mut p.segments.last;
    last.push(seg.clone());
    last.sort_by_key(|s| s.start);
    if last.len() > RECENT_SEGMENTS {
        last.drain(..last.len() - RECENT_SEGMENTS);
    }
    Placed {
        record: seg,
        gaps_delta,
    }
}

/// Places the segment `[start, end]` on the path's recorded time line:
/// returns the hole before it (seconds, when longer than `tolerance`) and
/// the change of the gap count.
///
/// Segment hooks run concurrently, so segments may arrive out of order. The
/// time line is kept as the span `[first_start, last_end]` minus the holes
/// found in it. A segment after the span opens a hole (a gap) when it starts
/// more than `tolerance` after `last_end`; a segment before the span opens
/// one after itself; a segment inside the span never counts a gap, and takes
/// a gap back when it fills a hole (down to no piece longer than
/// `tolerance`). Holes are remembered for [`HOLE_MEMORY`] after they were
/// found (`now` is the wall clock).
pub(crate) fn place(
    t: &mut SegmentTotals,
    start: OffsetDateTime,
    end: OffsetDateTime,
    tolerance: Duration,
    now: OffsetDateTime,
) -> (Option<f64>, i64) {
    let (Some(first_start), Some(last_end)) = (t.first_start, t.last_end) else {
        t.first_start = Some(start);
        t.last_end = Some(end);
        return (None, 0);
    };
    // Forgotten holes stay counted.
    t.holes.retain(|h| now - h.found_at <= HOLE_MEMORY);
    let before = t.holes.len() as i64;
    let mut gap_before = None;
    if start > last_end {
        let hole = start - last_end;
        if hole > tolerance {
            t.holes.push(Hole {
                from: last_end,
                to: start,
                found_at: now,
                cause: None,
            });
            gap_before = Some(hole.as_seconds_f64());
        }
        t.last_end = Some(end);
    } else if end < first_start {
        if first_start - end > tolerance {
            t.holes.insert(
                0,
                Hole {
                    from: end,
                    to: first_start,
                    found_at: now,
                    cause: None,
                },
            );
        }
        t.first_start = Some(start);
    } else {
        t.first_start = Some(first_start.min(start));
        t.last_end = Some(last_end.max(end));
        let mut kept = Vec::with_capacity(t.holes.len() + 1);
        for h in t.holes.drain(..) {
            if end <= h.from || start >= h.to {
                kept.push(h);
                continue;
            }
            if start - h.from > tolerance {
                kept.push(Hole {
                    to: start,
                    ..h.clone()
                });
            }
            if h.to - end > tolerance {
                kept.push(Hole { from: end, ..h });
            }
        }
        t.holes = kept;
    }
    let delta = t.holes.len() as i64 - before;
    if t.holes.len() > REMEMBERED_HOLES {
        let excess = t.holes.len() - REMEMBERED_HOLES;
        t.holes.drain(..excess);
    }
    (gap_before, delta)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::state::cause::Cause;
    use crate::state::Session;
    use crate::state::StartSource;
    use time::macros::datetime;

    pub(crate) fn at(secs: f64) -> OffsetDateTime {
        T0 + Duration::seconds_f64(secs)
    }

    pub(crate) fn seg(start: OffsetDateTime, duration: f64) -> SegmentRecord {
        SegmentRecord {
            file: format!("/rec/{}.mp4", start.unix_timestamp()),
            start,
            duration,
            size: 1000,
            gap_before: None,
            gap_cause: None,
            start_from: StartSource::FileName,
            recovered: false,
            session: None,
        }
    }

    pub(crate) const T0: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);
    const TOL: Duration = Duration::milliseconds(1500);

    fn run_series(order: &[(f64, f64)]) -> (SegmentTotals, Vec<Option<f64>>) {
        let mut t = SegmentTotals::default();
        let mut gaps_before = Vec::new();
        for &(s, d) in order {
            let (gap, delta) = place(&mut t, at(s), at(s + d), TOL, at(1e6));
            t.gaps = t.gaps.saturating_add_signed(delta);
            gaps_before.push(gap);
        }
        (t, gaps_before)
    }

    #[test]
    fn ordered_series_with_one_hole() {
        // 10 s segments, 0.2 s apart (within tolerance), one 20 s hole.
        let mut series = Vec::new();
        let mut s = 0.0;
        for i in 0..10 {
            series.push((s, 10.0));
            s += 10.2;
            if i == 5 {
                s += 20.0;
            }
        }
        let (t, gaps) = run_series(&series);
        assert_eq!(t.gaps, 1);
        assert_eq!(t.holes.len(), 1);
        let found: Vec<_> = gaps
            .iter()
            .enumerate()
            .filter(|(_, g)| g.is_some())
            .collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 6);
        assert!((found[0].1.unwrap() - 20.2).abs() < 1e-6, "{found:?}");
    }

    #[test]
    fn tolerance_is_exclusive_and_overlap_is_no_gap() {
        let (t, _) = run_series(&[(0.0, 10.0), (11.5, 10.0), (21.0, 10.0)]);
        assert_eq!(t.gaps, 0, "exactly the tolerance and overlaps are no gap");
        let (t, _) = run_series(&[(0.0, 10.0), (11.6, 10.0)]);
        assert_eq!(t.gaps, 1);
    }

    #[test]
    fn out_of_order_arrival_counts_no_false_gap() {
        // Contiguous segments arriving in a scrambled order.
        let order = [3, 0, 7, 1, 9, 2, 8, 5, 4, 6];
        let series: Vec<_> = order.iter().map(|&i| (i as f64 * 10.0, 10.0)).collect();
        let (t, _) = run_series(&series);
        assert_eq!(t.gaps, 0);
        assert!(t.holes.is_empty());
        assert_eq!(t.first_start, Some(at(0.0)));
        assert_eq!(t.last_end, Some(at(100.0)));
    }

    #[test]
    fn out_of_order_arrival_keeps_a_real_hole() {
        // Segments 0..10 except 4, scrambled: exactly one gap remains.
        let order = [9, 0, 7, 1, 3, 2, 8, 5, 6];
        let series: Vec<_> = order.iter().map(|&i| (i as f64 * 10.0, 10.0)).collect();
        let (t, _) = run_series(&series);
        assert_eq!(t.gaps, 1);
        assert_eq!(
            t.holes,
            vec![Hole {
                from: at(40.0),
                to: at(50.0),
                found_at: at(1e6),
                cause: None,
            }]
        );
    }

    #[test]
    fn a_late_segment_splitting_a_hole_adds_a_gap() {
        let (t, _) = run_series(&[(0.0, 10.0), (100.0, 10.0), (50.0, 10.0)]);
        assert_eq!(t.gaps, 2);
        assert_eq!(t.holes.len(), 2);
    }

    #[test]
    fn forgotten_holes_stay_counted() {
        let series: Vec<_> = (0..300).map(|i| (i as f64 * 20.0, 10.0)).collect();
        let (t, _) = run_series(&series);
        assert_eq!(t.gaps, 299);
        assert_eq!(t.holes.len(), REMEMBERED_HOLES);

        // A hole found long ago is forgotten: filling it late takes no gap back.
        let mut t = SegmentTotals::default();
        place(&mut t, at(0.0), at(10.0), TOL, at(0.0));
        let (_, d) = place(&mut t, at(20.0), at(30.0), TOL, at(1.0));
        assert_eq!(d, 1);
        let (_, d) = place(&mut t, at(10.0), at(20.0), TOL, at(2.0) + HOLE_MEMORY);
        assert_eq!(d, 0);
        assert!(t.holes.is_empty());
    }

    fn session(started_at: OffsetDateTime) -> Session {
        Session::fresh(started_at, SessionStatus::Active)
    }

    #[test]
    fn session_counts_and_time_between_sessions_is_no_gap() {
        let mut p = PathState::default();
        record_segment(&mut p, seg(at(0.0), 10.0), TOL, at(1e6));
        p.recording.session = Some(session(at(1000.0)));
        let placed = record_segment(&mut p, seg(at(1000.5), 10.0), TOL, at(1e6));
        assert_eq!(placed.gaps_delta, 0);
        assert_eq!(placed.record.session, Some(at(1000.0)));
        let placed = record_segment(&mut p, seg(at(1030.0), 10.0), TOL, at(1e6));
        assert_eq!(placed.gaps_delta, 1);
        let s = p.recording.session.as_ref().unwrap();
        assert_eq!(s.segments, 2);
        assert_eq!(s.recorded_seconds, 20.0);
        assert_eq!(s.gaps, 1);
        assert_eq!(p.segments.count, 3);
        assert_eq!(p.segments.gaps, 1);
        assert_eq!(p.segments.recorded_seconds, 30.0);
        assert_eq!(p.segments.bytes, 3000);
    }

    #[test]
    fn a_gap_takes_the_cause_of_the_outage_over_it() {
        let mut p = PathState::default();
        record_segment(&mut p, seg(at(0.0), 10.0), TOL, at(1e6));
        crate::state::outage::begin(&mut p, at(9.0), Cause::HoldDead, "hold pid 7 died".into());
        crate::state::outage::end(&mut p, Cause::HoldDead, at(11.0));
        let placed = record_segment(&mut p, seg(at(20.0), 10.0), TOL, at(1e6));
        assert_eq!(placed.gaps_delta, 1);
        assert_eq!(placed.record.gap_cause, Some(Cause::HoldDead));
        assert_eq!(p.segments.holes[0].cause, Some(Cause::HoldDead));
        // A later hole nothing explains has no cause.
        let placed = record_segment(&mut p, seg(at(100.0), 10.0), TOL, at(1e6));
        assert_eq!(placed.gaps_delta, 1);
        assert_eq!(placed.record.gap_cause, None);
    }

    #[test]
    fn without_a_session_nothing_is_counted_into_one() {
        let mut p = PathState::default();
        let mut ended = session(at(-100.0));
        ended.status = SessionStatus::Ended;
        p.recording.last_session = Some(ended.clone());
        p.recording.session = Some(ended);
        let placed = record_segment(&mut p, seg(at(0.0), 10.0), TOL, at(1e6));
        assert_eq!(placed.record.session, None);
        assert_eq!(p.recording.session.as_ref().unwrap().segments, 0);
    }

    #[test]
    fn a_segment_recorded_twice_is_seen() {
        let mut p = PathState::default();
        let s = seg(at(0.0), 10.0);
        assert!(!already_recorded(&p.segments, &s.file));
        record_segment(&mut p, s.clone(), TOL, at(1e6));
        assert!(already_recorded(&p.segments, &s.file));
        assert!(!already_recorded(&p.segments, "/rec/other.mp4"));
    }

    #[test]
    fn keeps_the_latest_few_in_time_order() {
        let mut p = PathState::default();
        for i in [5, 1, 9, 3, 7, 2, 8, 0, 6, 4] {
            record_segment(&mut p, seg(at(i as f64 * 10.0), 10.0), TOL, at(1e6));
        }
        let starts: Vec<_> = p.segments.last.iter().map(|s| s.start).collect();
        assert_eq!(
            starts,
            (5..10).map(|i| at(i as f64 * 10.0)).collect::<Vec<_>>()
        );
        assert_eq!(p.segments.count, 10);
        assert_eq!(p.segments.gaps, 0);
    }
}
