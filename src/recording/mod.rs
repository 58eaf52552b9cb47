//! Event recording on armed paths: which finished segments go to the ring
//! and which are kept for an event, when the ring rolls, what MediaMTX must
//! be told to record an armed path, and which segments make a clip. Plain
//! decisions on the state (`crate::state::events`) and the ledger; the
//! commands (`commands::events`, `segment-complete`) do the file work.

pub mod clip_plan;
pub mod ring;

use crate::state::PathState;

/// The fields to PATCH into a path's configuration entry to switch its
/// recording on: `record`, and for an armed path its short
/// `recordSegmentDuration` (both `record*` settings, so MediaMTX restarts
/// only its recorder; readers stay).
pub fn record_on_fields(p: Option<&PathState>) -> serde_json::Value {
    match p.and_then(|p| p.armed.as_ref()) {
        Some(a) => {
            serde_json::json!({ "record": true, "recordSegmentDuration": a.segment_duration })
        }
        None => serde_json::json!({ "record": true }),
    }
}
