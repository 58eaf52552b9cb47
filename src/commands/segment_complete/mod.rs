//! `hook segment-complete`: MediaMTX finished a recording segment
//! (runOnRecordSegmentComplete).
//!
//! The segment (file, start, duration, size) goes to the path's ledger and
//! its totals into the state, under one lock; a hole longer than the gap
//! tolerance before it counts as a gap; an active recording session counts
//! it too. This runs once per segment, possibly hundreds at once, so it does
//! the least it can: validate, one `stat`, one locked read-modify-write. In
//! that write it also looks for segments MediaMTX deleted (`recordDeleteAfter`):
//! at most [`GONE_CHECKS`] `stat`s from a cursor kept in the state
//! ([`notice_gone`]), so the cost stays the same however long the ledger is.
//!
//! Start time: MediaMTX names segments `%Y-%m-%d_%H-%M-%S-%f` (+ `.mp4` or
//! `.ts`) from the segment's start in *its* local time (Go's `time.Local`).
//! The hook is MediaMTX's child and inherits its environment (`TZ`) and
//! `/etc/localtime`, so the hook's local offset *at that wall-clock time* is
//! MediaMTX's: DST is honoured, and the one ambiguous hour of a DST
//! fall-back is settled by the file's mtime. Any other name, or an unknown
//! local offset, falls back to the file's mtime minus the duration.

use std::process::ExitCode;

use anyhow::Context as _;
use time::{Duration, OffsetDateTime};

use crate::cli::SegmentArgs;
use crate::commands::revive::{hold_is_dead, revive_once};
use crate::commands::Context;
use crate::mediamtx::env::{
    validate_path_name, validate_segment_duration, validate_segment_path, var,
};
use crate::recording::ring;
use crate::state::outage;
use crate::state::{
    now, Hole, PathState, SegmentRecord, SegmentTotals, SessionStatus, StartSource, RECENT_SEGMENTS,
};

/// How long a hole is remembered so that a late segment can fill it (and
/// take its gap back). Segment hooks that run concurrently finish within
/// seconds of each other; a segment arriving later than this is not
/// expected, and a hole forgotten stays counted.
mod budget;
mod gone;
mod recover;
pub mod roll;
mod start_time;

pub use gone::*;
use start_time::{plausible_duration, segment_start};
pub use start_time::{resolve_local, start_from_file_name};

pub const HOLE_MEMORY: Duration = Duration::minutes(10);

/// At most this many holes are remembered per path, so that the state stays
/// small whatever happens; the oldest go first.
pub const REMEMBERED_HOLES: usize = 256;

pub fn main(ctx: &Context, args: &SegmentArgs) -> anyhow::Result<ExitCode> {
    let path = validate_path_name(var("MTX_PATH").as_deref(), "MTX_PATH")?;
    crate::logging::set_path(&path);
    let file = validate_segment_path(var("MTX_SEGMENT_PATH").as_deref())?;
    let duration = validate_segment_duration(var("MTX_SEGMENT_DURATION").as_deref())?;
    let meta = std::fs::metadata(&file)
        .with_context(|| format!("reading segment file {}", file.display()))?;
    let tolerance = Duration::try_from(
        args.gap_tolerance
            .unwrap_or(ctx.policy.recording.gap_tolerance)
            .0,
    )
    .context("gap tolerance out of range")?;

    let (start, start_from) = segment_start(&file, &meta, duration);
    let duration = plausible_duration(duration, start, start_from, &meta, &file);
    let file_text = std::path::absolute(&file)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned();
    let segment = SegmentRecord {
        file: file_text,
        start,
        duration,
        size: meta.len(),
        gap_before: None,
        gap_cause: None,
        start_from,
        recovered: false,
        session: None,
    };

    let store = &ctx.store;
    let record = || {
        store.update(|state| {
            let entry = state.paths.entry(path.clone()).or_default();
            if already_recorded(&entry.segments, &segment.file) {
                return Ok(None);
            }
            entry.updated_at = Some(now());
            // After a hole: the file being written at a crash, unreported.
            let mut recovered = Vec::new();
            if let Some(last_end) = entry.segments.last_end {
                if segment.start > last_end + tolerance {
                    let dir = std::path::Path::new(&segment.file).parent();
                    let found = dir.map(|d| {
                        recover::unledgered(
                            d,
                            last_end,
                            segment.start,
                            &segment.file,
                            &entry.segments,
                        )
                    });
                    for rec in found.unwrap_or_default() {
                        let placed = record_segment(entry, rec, tolerance, now());
                        entry.segments.ledger_bytes = Some(store.append_ledger(
                            &path,
                            entry.segments.ledger_bytes,
                            &placed.record,
                        )?);
                        entry.segments.recovered += 1;
                        recovered.push(placed.record);
                    }
                }
            }
            let placed = record_segment(entry, segment.clone(), tolerance, now());
            // One flush for the segment's line and the lines after it.
            let committed = match ring::place_segment(entry, &placed.record) {
                ring::Placement::Kept => store.append_ledger_then(
                    &path,
                    entry.segments.ledger_bytes,
                    &placed.record,
                    false,
                )?,
                ring::Placement::Ring => store.append_ledger_then(
                    &path,
                    entry.segments.ledger_bytes,
                    &ring::ring_line(&placed.record),
                    false,
                )?,
            };
            entry.segments.ledger_bytes = Some(committed);
            let rolled = roll::roll(store, &path, entry, now())?;
            let gone = notice_gone(
                &store.ledger_file(&path),
                committed,
                &mut entry.segments,
                now(),
            );
            for (i, line) in gone.iter().enumerate() {
                entry.segments.ledger_bytes = Some(store.append_ledger_then(
                    &path,
                    entry.segments.ledger_bytes,
                    line,
                    i + 1 == gone.len(),
                )?);
                entry.segments.gone += 1;
            }
            if gone.is_empty() {
                store.sync_ledger(&path)?;
            }
            let enforced = budget::enforce(store, state, &ctx.policy.recording, now())?;
            let dead_hold = state.paths.get(&path).is_some_and(hold_is_dead);
            Ok(Some((placed, gone, enforced, dead_hold, recovered, rolled)))
        })
    };
    let placed = with_retries(record).map_err(|e| {
        e.context(format!(
            "segment {} of {path} was NOT recorded (its totals and ledger line are missing, and the next segment may count a false gap); once the state directory can be written, record it by hand: {}",
            segment.file,
            by_hand(store, &path, &segment.file, duration)
        ))
    })?;
    let Some((placed, gone, enforced, dead_hold, recovered, rolled)) = placed else {
        log::info!(
            "segment {} was already recorded; not counted again",
            segment.file
        );
        return Ok(ExitCode::SUCCESS);
    };

    let rec = &placed.record;
    log::info!(
        "segment {} recorded: {:.3}s, {} bytes, starting {} (from its {}){}",
        rec.file,
        rec.duration,
        rec.size,
        rec.start
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        match rec.start_from {
            StartSource::FileName => "file name",
            StartSource::Mtime => "mtime",
        },
        if rec.session.is_some() {
            ", counted into the recording session"
        } else {
            ""
        }
    );
    for r in &recovered {
        log::warn!(
            "segment {} was on disk without its segment-complete (written when MediaMTX or the machine went down?): recorded as recovered, {:.3}s from its file times",
            r.file,
            r.duration
        );
    }
    if let Some(gap) = rec.gap_before {
        match &rec.gap_cause {
            Some(cause) => log::warn!(
                "gap of {gap:.3}s in the recording before {} ({cause})",
                rec.file
            ),
            None => log::warn!("gap of {gap:.3}s in the recording before {}", rec.file),
        }
    }
    for g in &gone {
        log::info!("segment {} is gone (deleted); marked in the ledger", g.gone);
    }
    roll::log(&rolled);
    enforced.log();
    if placed.gaps_delta < 0 {
        log::info!(
            "segment {} filled a hole counted earlier as a gap",
            rec.file
        );
    }
    if dead_hold {
        revive_once(ctx, &path, "hook segment-complete");
    }
    Ok(ExitCode::SUCCESS)
}

/// How long to wait before each new attempt when the state cannot be
/// written for a reason that may pass (full disk, I/O error, no memory).
const RETRY_DELAYS: [std::time::Duration; 2] = [
    std::time::Duration::from_millis(100),
    std::time::Duration::from_millis(400),
];

/// Runs `attempt`, again after [`RETRY_DELAYS`] while it fails for a
/// reason that may pass.
fn with_retries<T>(mut attempt: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let mut delays = RETRY_DELAYS.iter();
    loop {
        match attempt() {
            Err(e) if transient(&e) => match delays.next() {
                Some(delay) => {
                    log::warn!("{e:#}; trying again in {} ms", delay.as_millis());
                    std::thread::sleep(*delay);
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// An error that may pass by itself: the disk full, a failing write, the
/// kernel short of memory, an interrupted or busy call.
fn transient(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| {
            matches!(
                e.raw_os_error(),
                Some(
                    libc::ENOSPC
                        | libc::EDQUOT
                        | libc::EIO
                        | libc::ENOMEM
                        | libc::EAGAIN
                        | libc::EINTR
                        | libc::EBUSY
                )
            )
        })
}

/// The command line that records the segment by hand, quoted for a shell.
fn by_hand(store: &crate::state::StateStore, path: &str, file: &str, duration: f64) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    format!(
        "HOOK_STATE_DIR={} MTX_PATH={} MTX_SEGMENT_PATH={} MTX_SEGMENT_DURATION={duration} hook segment-complete",
        quote(&store.dir().to_string_lossy()),
        quote(path),
        quote(file)
    )
}

/// True when `file` is among the latest segments already recorded: the
/// hook was run twice for one segment (by hand, or a replayed event), and
/// counting it again would be wrong. MediaMTX never reuses a file name.
pub fn already_recorded(totals: &SegmentTotals, file: &str) -> bool {
    totals.last.iter().any(|s| s.file == file)
}

/// What recording one segment did.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
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
pub fn record_segment(
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
pub fn place(
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
pub(super) mod tests {
    use super::*;
    use crate::state::cause::Cause;
    use crate::state::Session;
    use time::macros::datetime;

    pub(super) fn at(secs: f64) -> OffsetDateTime {
        T0 + Duration::seconds_f64(secs)
    }

    pub(super) fn seg(start: OffsetDateTime, duration: f64) -> SegmentRecord {
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

    pub(super) const T0: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);
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
        Session {
            started_at,
            until: None,
            ended_at: None,
            status: SessionStatus::Active,
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
