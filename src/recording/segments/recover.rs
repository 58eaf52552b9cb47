//! Segments MediaMTX wrote but never reported: the file being written when
//! MediaMTX was killed or the machine lost power is on disk, playable, and
//! has no `segment-complete`. It lies in the hole between the ledger's
//! last segment and the next one reported, so the directory is read only
//! when a segment arrives after such a hole (never on the common path):
//! MediaMTX's files there that started in the hole and were last written
//! well before the new segment began (so not one whose own hook is merely
//! late) are recorded, flagged `recovered`, their duration taken from the
//! file's times.

use crate::recording::segments::start_time::segment_start;
use crate::recording::segments::totals::already_recorded;
use crate::state::{SegmentRecord, SegmentTotals};
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// How much before the ledger's last end a recovered file may start (the
/// recorder cuts at a key frame, file names have milliseconds).
const START_SLACK: Duration = Duration::milliseconds(500);

/// A file last written this close to the new segment's start was cut by
/// the recorder for it (its own hook is merely late, and brings it in): the
/// recorder closes a segment at the key frame that opens the next one. A
/// file left by a crash was last written at least a restart earlier (which
/// may take less than the gap tolerance: the margin is not the tolerance).
const LATE_HOOK_SLACK: Duration = Duration::milliseconds(500);

/// MediaMTX's segment files in `dir` that started in the hole
/// `[after, before)` and that the ledger does not hold, oldest first.
/// `current` (the segment being recorded) is never among them.
pub(super) fn unledgered(
    dir: &Path,
    after: OffsetDateTime,
    before: OffsetDateTime,
    current: &str,
    totals: &SegmentTotals,
) -> Vec<SegmentRecord> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let file = entry.path();
        let text = file.to_string_lossy().into_owned();
        let named = file.extension().is_some_and(|e| e == "mp4" || e == "ts");
        if !named || text == current || already_recorded(totals, &text) {
            continue;
        }
        // Never through a link; only regular files.
        let Ok(meta) = std::fs::symlink_metadata(&file) else {
            continue;
        };
        let Some(mtime) = meta.modified().ok().map(OffsetDateTime::from) else {
            continue;
        };
        if !meta.is_file() || mtime + LATE_HOOK_SLACK >= before {
            continue;
        }
        let (start, start_from) = segment_start(&file, &meta, 0.0);
        if start_from != crate::state::StartSource::FileName
            || start + START_SLACK < after
            || start >= before
        {
            continue;
        }
        found.push(SegmentRecord {
            file: text,
            start,
            duration: (mtime - start).as_seconds_f64().max(0.0),
            size: meta.len(),
            gap_before: None,
            gap_cause: None,
            start_from,
            recovered: true,
            session: None,
        });
    }
    found.sort_by_key(|s| s.start);
    found
}
