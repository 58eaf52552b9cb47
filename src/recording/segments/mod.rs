//! Segment accounting, for `hook segment-complete`: MediaMTX finished a
//! recording segment (runOnRecordSegmentComplete).
//!
//! The segment (file, start, duration, size) goes to the path's ledger and
//! its totals into the state, under one lock; a hole longer than the gap
//! tolerance before it counts as a gap; an active recording session counts
//! it too. This runs once per segment, possibly hundreds at once, so it does
//! the least it can: validate, one `stat`, one locked read-modify-write. In
//! that write it also looks for segments MediaMTX deleted (`recordDeleteAfter`):
//! at most [`GONE_CHECKS`] `stat`s from a cursor kept in the state
//! (`gone::notice_gone`), so the cost stays the same however long the ledger is.
//!
//! Start time: MediaMTX names segments `%Y-%m-%d_%H-%M-%S-%f` (+ `.mp4` or
//! `.ts`) from the segment's start in *its* local time (Go's `time.Local`).
//! The hook is MediaMTX's child and inherits its environment (`TZ`) and
//! `/etc/localtime`, so the hook's local offset *at that wall-clock time* is
//! MediaMTX's: DST is honoured, and the one ambiguous hour of a DST
//! fall-back is settled by the file's mtime. Any other name, or an unknown
//! local offset, falls back to the file's mtime minus the duration.
//!
//! The files: `complete` records one finished segment (the flow, under one
//! lock of the state); `totals` places it in the path's totals (gaps, holes
//! filled late, the session's counters); `start_time` finds its start;
//! `recover` finds a segment a crash left unreported; `gone` notices
//! segments MediaMTX deleted; `budget` deletes the oldest when the disk
//! budget is exceeded.

mod budget;
mod complete;
mod gone;
mod recover;
mod start_time;
mod totals;

pub(crate) use complete::{complete, Finished};
pub use gone::GONE_CHECKS;
pub use start_time::{resolve_local, start_from_file_name};
