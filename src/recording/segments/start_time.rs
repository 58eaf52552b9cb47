//! When a segment started: from its file name (MediaMTX's
//! `recordPath` time, in the local time in force then), else from its
//! modification time less its duration.

use crate::state::{now, StartSource};
use std::fs::Metadata;
use std::path::Path;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The segment's start and where it was read from.
pub(super) fn segment_start(
    file: &Path,
    meta: &Metadata,
    duration: f64,
) -> (OffsetDateTime, StartSource) {
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

/// How much longer than its own file times say a segment may claim to be
/// (MediaMTX closes a file a moment after its last sample).
const DURATION_SLACK: f64 = 5.0;

/// `MTX_SEGMENT_DURATION`, unless it cannot be true: MediaMTX has reported
/// hours for a one-minute file after an RTP timestamp jump. A segment whose
/// start comes from its name cannot last longer than from that start to
/// its file's last write; such a claim is replaced by the file's own span
/// (logged), so it never enters the totals.
pub(super) fn plausible_duration(
    claimed: f64,
    start: OffsetDateTime,
    from: StartSource,
    meta: &Metadata,
    file: &Path,
) -> f64 {
    let Some(mtime) = meta.modified().ok().map(OffsetDateTime::from) else {
        return claimed;
    };
    let span = (mtime - start).as_seconds_f64();
    if from != StartSource::FileName || span < 0.0 || claimed <= span * 1.1 + DURATION_SLACK {
        return claimed;
    }
    log::warn!(
        "segment {}: MediaMTX says it lasts {claimed:.3}s, but its file spans {span:.3}s from its start to its last write (a timestamp jump?): counted as {span:.3}s",
        file.display()
    );
    span
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

#[cfg(test)]
mod tests {
    use super::*;

    use time::macros::{datetime, offset};

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
}
