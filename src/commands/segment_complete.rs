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

use std::fs::Metadata;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::cli::SegmentArgs;
use crate::commands::Context;
use crate::mediamtx::env::{
    validate_path_name, validate_segment_duration, validate_segment_path, var,
};
use crate::state::{
    now, Hole, LedgerCursor, PathState, SegmentRecord, SegmentTotals, StartSource, RECENT_SEGMENTS,
};

/// How long a hole is remembered so that a late segment can fill it (and
/// take its gap back). Segment hooks that run concurrently finish within
/// seconds of each other; a segment arriving later than this is not
/// expected, and a hole forgotten stays counted.
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
        start_from,
        session: None,
    };

    let store = &ctx.store;
    let record = || {
        store.update_path(&path, |entry| {
            if already_recorded(&entry.segments, &segment.file) {
                return Ok(None);
            }
            let placed = record_segment(entry, segment.clone(), tolerance, now());
            let committed =
                store.append_ledger(&path, entry.segments.ledger_bytes, &placed.record)?;
            entry.segments.ledger_bytes = Some(committed);
            let gone = notice_gone(
                &store.ledger_file(&path),
                committed,
                &mut entry.segments,
                now(),
            );
            for line in &gone {
                entry.segments.ledger_bytes =
                    Some(store.append_ledger(&path, entry.segments.ledger_bytes, line)?);
                entry.segments.gone += 1;
            }
            Ok(Some((placed, gone)))
        })
    };
    let placed = with_retries(record).map_err(|e| {
        e.context(format!(
            "segment {} of {path} was NOT recorded (its totals and ledger line are missing, and the next segment may count a false gap); once the state directory can be written, record it by hand: {}",
            segment.file,
            by_hand(store, &path, &segment.file, duration)
        ))
    })?;
    let Some((placed, gone)) = placed else {
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
    if let Some(gap) = rec.gap_before {
        log::warn!("gap of {gap:.3}s in the recording before {}", rec.file);
    }
    for g in &gone {
        log::info!("segment {} is gone (deleted); marked in the ledger", g.gone);
    }
    if placed.gaps_delta < 0 {
        log::info!(
            "segment {} filled a hole counted earlier as a gap",
            rec.file
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// At most this many ledger entries are checked (one `stat` each) per
/// finished segment: the work per call stays constant however long the
/// ledger is, and deletions (one segment per segment, once MediaMTX's
/// `recordDeleteAfter` is reached) are still kept up with.
pub const GONE_CHECKS: usize = 4;

/// At most this many ledger bytes are read per finished segment.
const GONE_READ: u64 = 64 * 1024;

/// A ledger line saying that a segment's file was found gone.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GoneRecord {
    /// The segment's file, as on its ledger line.
    pub gone: String,
    /// When the hook noticed.
    #[serde(with = "time::serde::rfc3339")]
    pub noticed_at: OffsetDateTime,
}

/// Looks for segment files that are gone, from the ledger cursor on: up to
/// [`GONE_CHECKS`] entries, oldest first, stopping at the first whose file
/// still exists (MediaMTX deletes the oldest first). Returns a
/// [`GoneRecord`] for each missing file and moves the cursor past them.
/// Only the committed part of the ledger (`committed` bytes) is read. A
/// cursor that no longer points at the line it named (a ledger replaced
/// or cut) starts again from the beginning. Read errors leave the cursor
/// where it is: finding gone files is best effort and never fails a segment.
pub fn notice_gone(
    ledger: &Path,
    committed: u64,
    totals: &mut SegmentTotals,
    now: OffsetDateTime,
) -> Vec<GoneRecord> {
    let mut cursor = totals.gone_cursor.clone().unwrap_or_default();
    let chunk = match read_from(ledger, cursor.offset, committed) {
        Some(chunk) if cursor_holds(&cursor, &chunk) => chunk,
        _ => {
            cursor = LedgerCursor::default();
            match read_from(ledger, 0, committed) {
                Some(chunk) => chunk,
                None => return Vec::new(),
            }
        }
    };
    let mut gone = Vec::new();
    let mut checks = 0;
    let mut at = 0usize;
    cursor.file = None;
    while let Some(len) = chunk[at..].iter().position(|&b| b == b'\n') {
        let line = &chunk[at..at + len];
        let file = match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(v) if v.get("gone").is_none() => {
                v.get("file").and_then(|f| f.as_str()).map(str::to_string)
            }
            // A gone line, or a line that is not a segment: passed over.
            _ => None,
        };
        if let Some(file) = file {
            if checks == GONE_CHECKS {
                cursor.file = Some(file);
                break;
            }
            checks += 1;
            match std::fs::symlink_metadata(&file) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => gone.push(GoneRecord {
                    gone: file,
                    noticed_at: now,
                }),
                // There, or not known to be gone: the oldest not known gone.
                _ => {
                    cursor.file = Some(file);
                    break;
                }
            }
        }
        at += len + 1;
        cursor.offset += len as u64 + 1;
    }
    totals.gone_cursor = Some(cursor);
    gone
}

/// Up to [`GONE_READ`] bytes of the ledger from `offset`, not beyond
/// `committed`.
fn read_from(ledger: &Path, offset: u64, committed: u64) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    if offset > committed {
        return None;
    }
    // From the byte before, which must end a line: a cursor never points
    // into the middle of one.
    let start = offset.saturating_sub(1);
    // Never through a link planted in the state directory.
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(ledger)
            .ok()?
    };
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut chunk = Vec::new();
    f.take(GONE_READ.min(committed - start))
        .read_to_end(&mut chunk)
        .ok()?;
    if offset > 0 {
        if chunk.first() != Some(&b'\n') {
            return None;
        }
        chunk.remove(0);
    }
    Some(chunk)
}

/// True when the ledger text at the cursor is the line the cursor names.
fn cursor_holds(cursor: &LedgerCursor, chunk: &[u8]) -> bool {
    let Some(file) = &cursor.file else {
        return true;
    };
    let line = chunk.split(|&b| b == b'\n').next().unwrap_or(&[]);
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("file").and_then(|f| f.as_str()).map(|f| f == file))
        .unwrap_or(false)
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

/// The segment's start and where it was read from.
fn segment_start(file: &Path, meta: &Metadata, duration: f64) -> (OffsetDateTime, StartSource) {
    let mtime = meta.modified().ok().map(OffsetDateTime::from);
    let named = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(start_from_file_name)
        .and_then(|local| {
            resolve_local(local, duration, mtime, |t| {
                UtcOffset::local_offset_at(t).ok()
            })
        });
    let utc = |t: OffsetDateTime| t.to_offset(UtcOffset::UTC);
    match (named, mtime) {
        (Some(start), _) => (utc(start), StartSource::FileName),
        (None, Some(m)) => (
            m.checked_sub(Duration::seconds_f64(duration)).unwrap_or(m),
            StartSource::Mtime,
        ),
        // No mtime on this filesystem: the best left is "it just ended".
        (None, None) => (now() - Duration::seconds_f64(duration), StartSource::Mtime),
    }
}

/// Reads the wall-clock start from MediaMTX's default segment file name
/// `YYYY-MM-DD_HH-MM-SS-ffffff` (`%f` is microseconds, six digits),
/// optionally followed by `~N` (MediaMTX's suffix for a name already taken),
/// then `.mp4` or `.ts`. Anything else is `None`.
pub fn start_from_file_name(name: &str) -> Option<PrimitiveDateTime> {
    let stem = name
        .strip_suffix(".mp4")
        .or_else(|| name.strip_suffix(".ts"))?;
    let stem = match stem.rsplit_once('~') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => stem,
    };
    let b = stem.as_bytes();
    if b.len() != 26 {
        return None;
    }
    // Separators at fixed places, digits everywhere else.
    for (i, &c) in b.iter().enumerate() {
        let sep = match i {
            4 | 7 | 13 | 16 | 19 => Some(b'-'),
            10 => Some(b'_'),
            _ => None,
        };
        match sep {
            Some(s) if c != s => return None,
            None if !c.is_ascii_digit() => return None,
            _ => {}
        }
    }
    let num = |from: usize, to: usize| -> u32 {
        b[from..to]
            .iter()
            .fold(0, |n, &d| n * 10 + u32::from(d - b'0'))
    };
    let date = Date::from_calendar_date(
        num(0, 4) as i32,
        Month::try_from(num(5, 7) as u8).ok()?,
        num(8, 10) as u8,
    )
    .ok()?;
    let time = Time::from_hms_micro(
        num(11, 13) as u8,
        num(14, 16) as u8,
        num(17, 19) as u8,
        num(20, 26),
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

/// Turns a local wall-clock time into an instant with the offset in force
/// at that time (`offset_at` gives the local offset at an instant). Around a
/// DST fall-back two instants fit: the one whose segment end lies closest to
/// the file's mtime wins. `None` when no local offset is known.
pub fn resolve_local(
    local: PrimitiveDateTime,
    duration: f64,
    mtime: Option<OffsetDateTime>,
    offset_at: impl Fn(OffsetDateTime) -> Option<UtcOffset>,
) -> Option<OffsetDateTime> {
    // Offsets change at most once within a day, so the offsets a day before
    // and a day after (and the one between) are every offset that may fit;
    // an offset fits when it is the one in force at the instant it gives.
    // A day either side saturates at the ends of the calendar (a file named
    // for 9999-12-31 must not panic the hook).
    let near = local.assume_utc();
    let offsets = [
        offset_at(near)?,
        offset_at(near.checked_sub(Duration::DAY).unwrap_or(near))?,
        offset_at(near.checked_add(Duration::DAY).unwrap_or(near))?,
    ];
    let mut fits: Vec<OffsetDateTime> = Vec::with_capacity(2);
    for &o in &offsets {
        let t = local.assume_offset(o);
        if offset_at(t) == Some(o) && !fits.contains(&t) {
            fits.push(t);
        }
    }
    match (fits.as_slice(), mtime) {
        // Two fit (DST fall-back): the mtime says which.
        ([a, b, ..], Some(mtime)) if duration.is_finite() => {
            let len = Duration::seconds_f64(duration);
            let miss = |t: OffsetDateTime| {
                t.checked_add(len)
                    .map_or(Duration::MAX, |end| (mtime - end).abs())
            };
            Some(if miss(*a) <= miss(*b) { *a } else { *b })
        }
        ([a, ..], _) => Some(*a),
        // None fits: a wall-clock time skipped by a DST spring-forward,
        // which MediaMTX does not write; read it with the earlier offset.
        ([], _) => Some(local.assume_offset(offsets[1])),
    }
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
        .filter(|s| s.status == "active")
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
    totals.gaps = totals.gaps.saturating_add_signed(gaps_delta);
    totals.count += 1;
    totals.recorded_seconds += seg.duration;
    totals.bytes = totals.bytes.saturating_add(seg.size);

    // Counted into the active session when it overlaps it.
    if let Some(session) = p
        .recording
        .session
        .as_mut()
        .filter(|s| s.status == "active" && end > s.started_at)
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
                kept.push(Hole { to: start, ..h });
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
mod tests {
    use super::*;
    use crate::state::Session;
    use time::macros::{datetime, offset};

    fn seg(start: OffsetDateTime, duration: f64) -> SegmentRecord {
        SegmentRecord {
            file: format!("/rec/{}.mp4", start.unix_timestamp()),
            start,
            duration,
            size: 1000,
            gap_before: None,
            start_from: StartSource::FileName,
            session: None,
        }
    }

    const T0: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);
    const TOL: Duration = Duration::milliseconds(1500);

    fn at(secs: f64) -> OffsetDateTime {
        T0 + Duration::seconds_f64(secs)
    }

    #[test]
    fn file_names_from_mediamtx() {
        assert_eq!(
            start_from_file_name("2026-11-24_03-43-19-123456.mp4"),
            Some(datetime!(2026-11-24 03:43:19.123456))
        );
        assert_eq!(
            start_from_file_name("2026-01-02_00-00-00-000001.ts"),
            Some(datetime!(2026-01-02 00:00:00.000001))
        );
        assert_eq!(
            start_from_file_name("2026-11-24_03-43-19-123456~2.mp4"),
            Some(datetime!(2026-11-24 03:43:19.123456))
        );
        for bad in [
            "2026-11-24_03-43-19-123456",
            "2026-11-24_03-43-19-123456.mkv",
            "2026-11-24_03-43-19-12345.mp4",
            "2026-11-24_03-43-19-1234567.mp4",
            "2026-13-24_03-43-19-123456.mp4",
            "2026-02-30_03-43-19-123456.mp4",
            "2026-11-24_24-43-19-123456.mp4",
            "2026-11-24 03-43-19-123456.mp4",
            "2026-11-24_03:43:19-123456.mp4",
            "2026-11-24_03-43-19-12345a.mp4",
            "x2026-11-24_03-43-19-123456.mp4",
            "2026-11-24_03-43-19-123456~.mp4",
            "segment.mp4",
            "",
        ] {
            assert_eq!(start_from_file_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn local_time_uses_the_offset_in_force_then() {
        let local = datetime!(2026-07-01 12:00:00);
        let fixed = |_| Some(offset!(+2));
        assert_eq!(
            resolve_local(local, 10.0, None, fixed),
            Some(datetime!(2026-07-01 12:00:00 +2))
        );
        assert_eq!(resolve_local(local, 10.0, None, |_| None), None);
    }

    /// Central Europe: +1 in winter, +2 in summer; summer time ends at
    /// 2026-10-25 01:00 UTC (03:00 local becomes 02:00).
    fn europe(t: OffsetDateTime) -> Option<UtcOffset> {
        let switch_back = datetime!(2026-10-25 01:00 UTC);
        let switch_on = datetime!(2026-03-29 01:00 UTC);
        Some(if t >= switch_on && t < switch_back {
            offset!(+2)
        } else {
            offset!(+1)
        })
    }

    #[test]
    fn dst_ambiguity_settled_by_mtime() {
        // 02:30 local happens twice on 2026-10-25: at 00:30 UTC (+2) and
        // 01:30 UTC (+1).
        let local = datetime!(2026-10-25 02:30:00);
        let first = datetime!(2026-10-25 00:30 UTC);
        let second = datetime!(2026-10-25 01:30 UTC);
        let end_of = |t: OffsetDateTime| Some(t + Duration::seconds(60));
        assert_eq!(
            resolve_local(local, 60.0, end_of(first), europe),
            Some(first)
        );
        assert_eq!(
            resolve_local(local, 60.0, end_of(second), europe),
            Some(second)
        );
        // Not ambiguous in summer or winter.
        assert_eq!(
            resolve_local(datetime!(2026-07-01 12:00), 60.0, None, europe),
            Some(datetime!(2026-07-01 10:00 UTC))
        );
        assert_eq!(
            resolve_local(datetime!(2026-12-01 12:00), 60.0, None, europe),
            Some(datetime!(2026-12-01 11:00 UTC))
        );
    }

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
            status: "active".into(),
            end_reason: None,
            segments: 0,
            recorded_seconds: 0.0,
            gaps: 0,
            hold_pid: None,
            hold_process: None,
            starter_pid: None,
            starter_process: None,
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
    fn without_a_session_nothing_is_counted_into_one() {
        let mut p = PathState::default();
        let mut ended = session(at(-100.0));
        ended.status = "ended".into();
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

    /// A ledger of `n` segments whose files live in `dir` (created), and
    /// totals that committed it.
    fn ledger_with(dir: &std::path::Path, n: usize) -> (std::path::PathBuf, Vec<String>, u64) {
        std::fs::create_dir_all(dir).unwrap();
        let ledger = dir.join("cam0.jsonl");
        let mut text = Vec::new();
        let mut files = Vec::new();
        for i in 0..n {
            let mut rec = seg(at(i as f64 * 60.0), 60.0);
            rec.file = dir.join(format!("seg{i}.mp4")).display().to_string();
            std::fs::write(&rec.file, b"x").unwrap();
            files.push(rec.file.clone());
            serde_json::to_writer(&mut text, &rec).unwrap();
            text.push(b'\n');
        }
        std::fs::write(&ledger, &text).unwrap();
        (ledger, files, text.len() as u64)
    }

    fn unit_dir(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "hook-segment-unit-{tag}-{}-{}",
            std::process::id(),
            now().unix_timestamp_nanos()
        ))
    }

    #[test]
    fn gone_files_are_found_oldest_first_a_few_at_a_time() {
        let dir = unit_dir("gone");
        let (ledger, files, len) = ledger_with(&dir, 8);
        let mut totals = SegmentTotals::default();
        // Nothing gone: one stat, the cursor stays on the first entry.
        assert!(notice_gone(&ledger, len, &mut totals, T0).is_empty());
        let c = totals.gone_cursor.clone().unwrap();
        assert_eq!((c.offset, c.file.as_deref()), (0, Some(files[0].as_str())));
        // Six gone: four per call, then the rest, then the cursor rests on
        // the oldest file that is still there.
        for f in &files[..6] {
            std::fs::remove_file(f).unwrap();
        }
        let first = notice_gone(&ledger, len, &mut totals, T0);
        assert_eq!(
            first.iter().map(|g| g.gone.as_str()).collect::<Vec<_>>(),
            files[..GONE_CHECKS]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        assert_eq!(first[0].noticed_at, T0);
        let second = notice_gone(&ledger, len, &mut totals, T0);
        assert_eq!(
            second.iter().map(|g| g.gone.as_str()).collect::<Vec<_>>(),
            files[GONE_CHECKS..6]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        let c = totals.gone_cursor.clone().unwrap();
        assert_eq!(c.file.as_deref(), Some(files[6].as_str()));
        let text = std::fs::read(&ledger).unwrap();
        assert_eq!(&text[c.offset as usize - 1], &b'\n');
        assert!(text[c.offset as usize..].starts_with(b"{\"file\":"));
        assert!(notice_gone(&ledger, len, &mut totals, T0).is_empty());

        // Gone lines appended to the ledger are passed over.
        let mut more = text.clone();
        for g in &second {
            serde_json::to_writer(&mut more, g).unwrap();
            more.push(b'\n');
        }
        std::fs::write(&ledger, &more).unwrap();
        std::fs::remove_file(&files[6]).unwrap();
        std::fs::remove_file(&files[7]).unwrap();
        let last = notice_gone(&ledger, more.len() as u64, &mut totals, T0);
        assert_eq!(last.len(), 2);
        assert_eq!(
            totals.gone_cursor.as_ref().unwrap().offset,
            more.len() as u64,
            "at the end, past the gone lines"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cursor_that_no_longer_fits_the_ledger_starts_again() {
        let dir = unit_dir("cursor");
        let (ledger, files, len) = ledger_with(&dir, 3);
        for (cursor, why) in [
            (
                LedgerCursor {
                    offset: len + 10,
                    file: None,
                },
                "beyond the end",
            ),
            (
                LedgerCursor {
                    offset: 5,
                    file: None,
                },
                "inside a line",
            ),
            (
                LedgerCursor {
                    offset: 0,
                    file: Some("/elsewhere.mp4".into()),
                },
                "another file",
            ),
        ] {
            let mut totals = SegmentTotals {
                gone_cursor: Some(cursor),
                ..SegmentTotals::default()
            };
            assert!(
                notice_gone(&ledger, len, &mut totals, T0).is_empty(),
                "{why}"
            );
            let c = totals.gone_cursor.unwrap();
            assert_eq!(
                (c.offset, c.file.as_deref()),
                (0, Some(files[0].as_str())),
                "{why}"
            );
        }
        // No ledger at all: nothing found, nothing fails.
        let mut totals = SegmentTotals::default();
        assert!(notice_gone(&dir.join("none.jsonl"), 0, &mut totals, T0).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
