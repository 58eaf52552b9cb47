//! Segments whose files MediaMTX deleted (`recordDeleteAfter`): a few of
//! the oldest ledger entries are checked per finished segment, from a cursor
//! kept in the state, and marked gone in the ledger.

use crate::state::{LedgerCursor, SegmentTotals};
use std::path::Path;
use time::OffsetDateTime;

/// At most this many ledger entries are checked (one `stat` each) per
/// finished segment: the work per call stays constant however long the
/// ledger is, and deletions (one segment per segment, once MediaMTX's
/// `recordDeleteAfter` is reached) are still kept up with.
pub const GONE_CHECKS: usize = 4;

/// At most this many ledger bytes are read per finished segment.
pub(super) const GONE_READ: u64 = 64 * 1024;

/// A ledger line saying that a segment's file was found gone.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct GoneRecord {
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
pub(crate) fn notice_gone(
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
    cursor.start = None;
    cursor.size = None;
    while let Some(len) = chunk[at..].iter().position(|&b| b == b'\n') {
        // A gone, deleted or skipped line, or one that is not a segment:
        // passed over.
        if let Some(e) = entry(&chunk[at..at + len]) {
            if checks == GONE_CHECKS {
                cursor.set(e);
                break;
            }
            checks += 1;
            match std::fs::symlink_metadata(&e.file) {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    totals.kept = totals.kept.saturating_sub(1);
                    totals.kept_bytes = totals.kept_bytes.saturating_sub(e.size);
                    gone.push(GoneRecord {
                        gone: e.file,
                        noticed_at: now,
                    })
                }
                // There, or not known to be gone: the oldest not known gone.
                _ => {
                    cursor.set(e);
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

/// A segment's line in the ledger: what the cursor needs of it.
#[derive(serde::Deserialize)]
pub(super) struct Entry {
    /// `file` on a segment's line; `requeued` on the line that moved a
    /// kept segment to the ledger's end (see `budget`).
    #[serde(alias = "requeued")]
    pub(super) file: String,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) start: OffsetDateTime,
    #[serde(default)]
    pub(super) size: u64,
    /// A segment in an armed path's ring (not kept: rolled or kept later).
    #[serde(default)]
    pub(super) ring: bool,
}

/// The kept segment on a ledger line; `None` for any other line (a ring
/// segment's line included: it is not kept until an event keeps it, which
/// writes a `requeued` line for it).
pub(super) fn entry(line: &[u8]) -> Option<Entry> {
    serde_json::from_slice::<Entry>(line)
        .ok()
        .filter(|e| !e.ring)
}

trait SetEntry {
    fn set(&mut self, e: Entry);
}

impl SetEntry for LedgerCursor {
    fn set(&mut self, e: Entry) {
        self.file = Some(e.file);
        self.start = Some(e.start);
        self.size = Some(e.size);
    }
}

/// Moves the cursor onto the next segment line of the ledger (past the
/// one it is on when `skip` is set), filling in its file, start and size.
/// False when no segment line follows within the committed part (the
/// cursor then rests at the end of what was read, with no file).
pub(super) fn seek_entry(
    ledger: &Path,
    committed: u64,
    cursor: &mut LedgerCursor,
    mut skip: bool,
) -> bool {
    // A stretch of non-segment lines longer than this is walked over in
    // later calls.
    for _ in 0..16 {
        let Some(chunk) = read_from(ledger, cursor.offset, committed) else {
            return false;
        };
        let mut at = 0usize;
        while let Some(len) = chunk[at..].iter().position(|&b| b == b'\n') {
            if let Some(e) = entry(&chunk[at..at + len]) {
                if !skip {
                    cursor.set(e);
                    return true;
                }
                skip = false;
            }
            at += len + 1;
            cursor.offset += len as u64 + 1;
        }
        cursor.file = None;
        cursor.start = None;
        cursor.size = None;
        if at == 0 {
            return false;
        }
    }
    false
}

/// Up to [`GONE_READ`] bytes of the ledger from `offset`, not beyond
/// `committed`.
pub(super) fn read_from(ledger: &Path, offset: u64, committed: u64) -> Option<Vec<u8>> {
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
pub(super) fn cursor_holds(cursor: &LedgerCursor, chunk: &[u8]) -> bool {
    let Some(file) = &cursor.file else {
        return true;
    };
    let line = chunk.split(|&b| b == b'\n').next().unwrap_or(&[]);
    entry(line).is_some_and(|e| &e.file == file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::segments::totals::tests::{at, seg, T0};

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
        tempfile::Builder::new()
            .prefix(&format!("hook-segment-unit-{tag}-"))
            .tempdir()
            .unwrap()
            .keep()
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
                    ..LedgerCursor::default()
                },
                "beyond the end",
            ),
            (
                LedgerCursor {
                    offset: 5,
                    file: None,
                    ..LedgerCursor::default()
                },
                "inside a line",
            ),
            (
                LedgerCursor {
                    offset: 0,
                    file: Some("/elsewhere.mp4".into()),
                    ..LedgerCursor::default()
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
