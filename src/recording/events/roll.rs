//! Rolling an armed path's ring: after a segment is recorded, the ring
//! segments that ended more than the pre-roll ago and that no event covers
//! are deleted, each with a `rolled` ledger line (not gone, not deleted by
//! the budget: the ring is meant to forget them).

use time::OffsetDateTime;

use crate::recording::events::ring::{self, RolledRecord};
use crate::state::events::RingSegment;
use crate::state::{PathState, StateStore};

/// What a roll did: (file, bytes) deleted, (file, why) left alone.
#[derive(Debug, Default)]
pub(crate) struct Rolled {
    pub deleted: Vec<(String, u64)>,
    pub left: Vec<(String, String)>,
}

/// Deletes `p`'s ring segments that are due (see [`ring::due_to_roll`]).
pub(crate) fn roll(
    store: &StateStore,
    path: &str,
    p: &mut PathState,
    now: OffsetDateTime,
) -> anyhow::Result<Rolled> {
    let due = ring::due_to_roll(p, now);
    let reason = match &p.armed {
        Some(a) => format!(
            "pre-roll {}",
            crate::policy::duration::Dur::millis(a.pre_ms)
        ),
        None => return Ok(Rolled::default()),
    };
    let mut done = Rolled::default();
    for s in due {
        delete(store, path, p, s, &reason, now, &mut done)?;
    }
    Ok(done)
}

/// Deletes one ring segment taken out of `p`'s ring: the file (a regular
/// file only, never through a link), a `rolled` ledger line, the counts.
pub(crate) fn delete(
    store: &StateStore,
    path: &str,
    p: &mut PathState,
    s: RingSegment,
    reason: &str,
    now: OffsetDateTime,
    done: &mut Rolled,
) -> anyhow::Result<()> {
    let removed = match std::fs::symlink_metadata(&s.file) {
        Ok(m) if m.is_file() => std::fs::remove_file(&s.file).map_err(|e| e.to_string()),
        Ok(_) => Err("not a regular file (never deleted)".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(why) = removed {
        done.left.push((s.file, why));
        return Ok(());
    }
    let line = RolledRecord {
        rolled: s.file.clone(),
        at: now,
        start: s.start,
        size: s.size,
        reason: reason.to_string(),
    };
    p.segments.ledger_bytes = Some(store.append_ledger(path, p.segments.ledger_bytes, &line)?);
    if let Some(a) = p.armed.as_mut() {
        a.rolled += 1;
        a.rolled_bytes = a.rolled_bytes.saturating_add(s.size);
    }
    done.deleted.push((s.file, s.size));
    Ok(())
}

/// One log line per rolled segment (debug: there is one per segment).
pub(crate) fn log(rolled: &Rolled) {
    for (file, size) in &rolled.deleted {
        log::debug!("rolled segment {file} ({size} bytes) out of the armed window");
    }
    for (file, why) in &rolled.left {
        log::warn!("left ring segment {file} alone: {why}");
    }
}
