//! The disk budget (`recording.max_size`, `recording.min_free`): after a
//! segment is recorded, while the recordings are over budget, the oldest
//! ring segment of an armed path goes first (never an event's or a
//! session's while one is left), then the oldest
//! kept segment across all paths is deleted, oldest first, never the newest
//! of a path. Only a file the ledger holds, named by MediaMTX's
//! `recordPath` under the recording root, and a regular file (never a link,
//! never followed) is deleted; anything else at the head of a path's ledger
//! is skipped (logged, a `skipped` ledger line) and no longer counted.
//!
//! Cheap whatever the ledger's length: the state keeps the kept bytes per
//! path and each path's oldest kept segment (the ledger cursor), so a call
//! costs one `statvfs` and, per deletion, one `unlink` and ledger line. All
//! of it runs under the state lock, so concurrent hooks never delete one
//! file twice or lose a count.

use crate::policy::record_path::RecordPattern;
use crate::policy::size::Size;
use crate::policy::Recording;
use crate::recording::segments::gone::{seek_entry, GoneRecord};
use crate::state::storage::space;
use crate::state::{State, StateStore};
use time::OffsetDateTime;

/// At most this many segments are deleted per finished segment, so that
/// the state lock is never held long; the next segment goes on.
pub(crate) const DELETE_MAX: usize = 256;

/// A ledger line: a segment the disk budget deleted.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeletedRecord {
    pub deleted: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `max_size 50GiB` or `min_free 2GiB`.
    pub reason: String,
    pub size: u64,
}

/// A ledger line: a kept segment moved to the ledger's end (the newest of
/// its path found at the head of the ledger, behind older ones).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RequeuedRecord {
    pub requeued: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub size: u64,
}

/// A ledger line: the oldest segment of a path, left alone.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SkippedRecord {
    pub skipped: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub reason: String,
}

/// What one enforcement did, for the log.
#[derive(Debug, Default)]
pub(crate) struct Enforced {
    /// (path, file, bytes, reason)
    pub deleted: Vec<(String, String, u64, String)>,
    /// (path, file, why)
    pub skipped: Vec<(String, String, String)>,
    /// (path, file): found gone on the way.
    pub gone: Vec<(String, String)>,
    /// Still over budget with nothing left to delete: the reason.
    pub unmet: Option<String>,
}

impl Enforced {
    /// One log line per deletion, skip and gone file; a warning when the
    /// budget cannot be met.
    pub(crate) fn log(&self) {
        for (path, file, size, reason) in &self.deleted {
            log::info!(
                "deleted segment {file} of {path} ({}) to keep the disk budget: {reason}",
                size_text(*size)
            );
        }
        for (path, file, why) in &self.skipped {
            log::warn!("left segment {file} of {path} alone: {why}; it no longer counts in the disk budget");
        }
        for (path, file) in &self.gone {
            log::info!("segment {file} of {path} is gone (deleted); marked in the ledger");
        }
        if let Some(reason) = &self.unmet {
            let why = if reason.starts_with("min_free") {
                "other files fill the recordings' file system"
            } else {
                "the newest segments alone exceed it"
            };
            log::warn!(
                "DISK BUDGET CANNOT BE MET ({reason}): nothing left to delete but the newest segment of each path; {why}"
            );
        }
    }
}

/// The budget's reason to delete now, if over it.
pub(crate) fn over_budget(
    state: &State,
    rec: &Recording,
    root: &std::path::Path,
) -> Option<String> {
    if let Some(max) = rec.max_size {
        let total: u64 = state
            .paths
            .values()
            .map(|p| p.segments.kept_bytes)
            .sum::<u64>()
            + crate::recording::events::ring::ring_bytes(&state.paths);
        if total > max.0 {
            return Some(format!("max_size {max}"));
        }
    }
    let sp = space(root).ok()?;
    (sp.free < rec.min_free_bytes(sp.total)).then(|| format!("min_free {}", rec.min_free_text()))
}

/// Deletes oldest segments while over budget (see the module).
pub(crate) fn enforce(
    store: &StateStore,
    state: &mut State,
    rec: &Recording,
    now: OffsetDateTime,
) -> anyhow::Result<Enforced> {
    let mut done = Enforced::default();
    let Some(pattern) = RecordPattern::new(&rec.record_path) else {
        return Ok(done);
    };
    // A relative record_path is MediaMTX's working directory's, which is ours.
    if !rec.record_path.starts_with('/') {
        let root = pattern.root.to_string_lossy();
        if state.recording_root.as_deref() != Some(&*root) {
            state.recording_root = Some(root.into_owned());
        }
    }
    for _ in 0..DELETE_MAX {
        let Some(reason) = over_budget(state, rec, &pattern.root) else {
            break;
        };
        // An armed path's ring goes before any kept segment (an event's or
        // a session's).
        if let Some((name, seg)) = crate::recording::events::ring::take_oldest(&mut state.paths) {
            let p = state.paths.get_mut(&name).expect("taken from the paths");
            let mut rolled = crate::recording::events::roll::Rolled::default();
            crate::recording::events::roll::delete(
                store,
                &name,
                p,
                seg,
                &reason,
                now,
                &mut rolled,
            )?;
            for (file, size) in rolled.deleted {
                done.deleted
                    .push((name.clone(), file, size, reason.clone()));
            }
            for (file, why) in rolled.left {
                done.skipped.push((name.clone(), file, why));
            }
            continue;
        }
        // The path whose oldest kept segment is the oldest.
        let mut best: Option<(String, OffsetDateTime)> = None;
        for (name, p) in state.paths.iter_mut() {
            let t = &mut p.segments;
            if t.kept < 2 {
                continue;
            }
            let committed = t.ledger_bytes.unwrap_or(0);
            let cursor = t.gone_cursor.get_or_insert_with(Default::default);
            if cursor.file.is_none() || cursor.start.is_none() {
                seek_entry(&store.ledger_file(name), committed, cursor, false);
            }
            let newest = t
                .last
                .iter()
                .max_by_key(|s| s.start)
                .map(|s| s.file.clone());
            if cursor.file.is_some() && cursor.file == newest {
                // Segments finished out of order put the path's newest at
                // the head of its ledger: it moves to the end (a
                // `requeued` line) so the older ones behind it go first.
                let line = RequeuedRecord {
                    requeued: cursor.file.clone().unwrap_or_default(),
                    start: cursor.start.unwrap_or(now),
                    size: cursor.size.unwrap_or(0),
                };
                let committed = store.append_ledger(name, t.ledger_bytes, &line)?;
                t.ledger_bytes = Some(committed);
                let cursor = t.gone_cursor.as_mut().expect("set above");
                seek_entry(&store.ledger_file(name), committed, cursor, true);
            }
            let cursor = t.gone_cursor.as_mut().expect("set above");
            let (Some(file), Some(start)) = (&cursor.file, cursor.start) else {
                continue;
            };
            if newest.as_ref() == Some(file) {
                continue;
            }
            if best.as_ref().is_none_or(|(_, s)| start < *s) {
                best = Some((name.clone(), start));
            }
        }
        let Some((name, _)) = best else {
            done.unmet = Some(reason);
            break;
        };
        let p = state.paths.get_mut(&name).expect("chosen from the paths");
        let t = &mut p.segments;
        let cursor = t.gone_cursor.as_mut().expect("chosen with a cursor");
        let file = cursor.file.clone().expect("chosen with a file");
        let size = cursor.size.unwrap_or(0);
        let line = match verdict(&pattern, &name, &file) {
            Verdict::Delete => match std::fs::remove_file(&file) {
                Ok(()) => {
                    t.deleted += 1;
                    t.deleted_bytes = t.deleted_bytes.saturating_add(size);
                    done.deleted
                        .push((name.clone(), file.clone(), size, reason.clone()));
                    serde_json::to_value(DeletedRecord {
                        deleted: file,
                        at: now,
                        reason,
                        size,
                    })?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    gone(t, &mut done, &name, file, now)?
                }
                Err(e) => skip(
                    t,
                    &mut done,
                    &name,
                    file,
                    format!("cannot be deleted: {e}"),
                    now,
                )?,
            },
            Verdict::Gone => gone(t, &mut done, &name, file, now)?,
            Verdict::Skip(why) => skip(t, &mut done, &name, file, why, now)?,
        };
        t.kept = t.kept.saturating_sub(1);
        t.kept_bytes = t.kept_bytes.saturating_sub(size);
        let committed = store.append_ledger(&name, t.ledger_bytes, &line)?;
        t.ledger_bytes = Some(committed);
        let cursor = t.gone_cursor.as_mut().expect("chosen with a cursor");
        seek_entry(&store.ledger_file(&name), committed, cursor, true);
    }
    Ok(done)
}

fn gone(
    t: &mut crate::state::SegmentTotals,
    done: &mut Enforced,
    name: &str,
    file: String,
    now: OffsetDateTime,
) -> anyhow::Result<serde_json::Value> {
    t.gone += 1;
    done.gone.push((name.to_string(), file.clone()));
    Ok(serde_json::to_value(GoneRecord {
        gone: file,
        noticed_at: now,
    })?)
}

fn skip(
    t: &mut crate::state::SegmentTotals,
    done: &mut Enforced,
    name: &str,
    file: String,
    why: String,
    now: OffsetDateTime,
) -> anyhow::Result<serde_json::Value> {
    t.skipped += 1;
    done.skipped
        .push((name.to_string(), file.clone(), why.clone()));
    Ok(serde_json::to_value(SkippedRecord {
        skipped: file,
        at: now,
        reason: why,
    })?)
}

enum Verdict {
    Delete,
    Gone,
    Skip(String),
}

/// May the budget delete `file`, a segment of `path` from its ledger?
fn verdict(pattern: &RecordPattern, path: &str, file: &str) -> Verdict {
    if !pattern.names(path, file) {
        return Verdict::Skip(format!(
            "not named by recordPath under {} (never deleted)",
            pattern.root.display()
        ));
    }
    match std::fs::symlink_metadata(file) {
        Ok(m) if m.file_type().is_symlink() => {
            Verdict::Skip("a symbolic link (never followed or deleted)".into())
        }
        Ok(m) if m.is_file() => Verdict::Delete,
        Ok(_) => Verdict::Skip("not a regular file (never deleted)".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Verdict::Gone,
        Err(e) => Verdict::Skip(format!("cannot be examined: {e}")),
    }
}

/// A size for messages.
pub(crate) fn size_text(bytes: u64) -> String {
    Size(bytes).to_string()
}
