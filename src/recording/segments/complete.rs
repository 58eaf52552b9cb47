//! Recording one finished segment, for `hook segment-complete`: validated,
//! one `stat`, one locked read-modify-write of the state (its ledger line,
//! a segment a crash left unreported, the ring roll, gone segments, the
//! disk budget), retried while the state cannot be written for a reason
//! that may pass; then what it did is logged, and a session's dead hold is
//! revived.

use std::path::PathBuf;

use anyhow::Context as _;
use time::Duration;

use crate::context::Context;
use crate::recording::events::{ring, roll};
use crate::recording::revive::{hold_is_dead, revive_once};
use crate::recording::segments::budget;
use crate::recording::segments::gone::notice_gone;
use crate::recording::segments::recover;
use crate::recording::segments::start_time::{plausible_duration, segment_start};
use crate::recording::segments::totals::{already_recorded, record_segment};
use crate::state::{now, SegmentRecord, StartSource};

/// A finished segment as MediaMTX reports it, checked.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub path: String,
    pub file: PathBuf,
    /// The duration MediaMTX gives, in seconds.
    pub duration: f64,
    /// The longest hole that is not a gap.
    pub gap_tolerance: std::time::Duration,
}

/// Records a finished segment: its ledger line and totals, recovered and
/// gone segments, the ring roll and the disk budget, all under one lock of
/// the state; then what it did is logged, and a session's dead hold is
/// revived.
pub(crate) fn complete(ctx: &Context, done: Finished) -> anyhow::Result<()> {
    let Finished {
        path,
        file,
        duration,
        gap_tolerance,
    } = done;
    let meta = std::fs::metadata(&file)
        .with_context(|| format!("reading segment file {}", file.display()))?;
    let tolerance = Duration::try_from(gap_tolerance).context("gap tolerance out of range")?;

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
        return Ok(());
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
    Ok(())
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
