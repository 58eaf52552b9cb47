//! MediaMTX's `record` switch for a path: the fields that switch it on
//! (with an armed path's short segments), and putting it back on when the
//! stream comes back and a live session is held (a restarted MediaMTX
//! forgets a PATCH).

use anyhow::anyhow;

use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::recording::session::{
    hold_running, is_live, stale_reason, start_deadline, starter_gone,
};
use crate::state::SessionStatus;
use crate::state::{now, PathState};

/// The fields to PATCH into a path's configuration entry to switch its
/// recording on: `record`, and for an armed path its short
/// `recordSegmentDuration` (both `record*` settings, so MediaMTX restarts
/// only its recorder; readers stay).
pub(crate) fn record_on_fields(p: Option<&PathState>) -> serde_json::Value {
    match p.and_then(|p| p.armed.as_ref()) {
        Some(a) => {
            serde_json::json!({ "record": true, "recordSegmentDuration": a.segment_duration })
        }
        None => serde_json::json!({ "record": true }),
    }
}

/// For `hook ready`: the stream became available (again); when a session
/// is live on `path` and held, make sure recording is on (a restarted
/// MediaMTX forgot it). MediaMTX's switch is read first and PATCHed only
/// when it is off: any PATCH of the path's configuration makes a publisher
/// that is between ANNOUNCE and RECORD fail. A session whose hold or whose
/// `record start` is gone is never switched back on. True when it switched.
pub(crate) fn reapply_on_ready(ctx: &Context, path: &str) -> anyhow::Result<bool> {
    let state = ctx.store.read()?;
    let Some(p) = state.paths.get(path) else {
        return Ok(false);
    };
    let Some(s) = p.recording.session.as_ref().filter(|s| is_live(s)) else {
        return Ok(false);
    };
    let stopping = p.recording.hold.as_ref().is_some_and(|h| h.stopping);
    let held = match s.status {
        // The start is still under way (its hold may not be recorded yet).
        SessionStatus::Starting => {
            !starter_gone(s, now(), start_deadline(ctx))
                && (s.hold_pid.is_none() || hold_running(s))
        }
        _ => hold_running(s),
    };
    if stopping || !held {
        if !stopping {
            log::info!(
                "the recording session on {path} is stale ({}): recording not switched back on",
                stale_reason(s)
            );
        }
        return Ok(false);
    }
    let api = Api::from_env()?;
    match api
        .record_enabled(path)
        .map_err(|e| anyhow!(e).context("checking MediaMTX's record switch for the active session"))?
    {
        Some(true) => {
            log::info!("stream available again: recording is on for the active session");
            Ok(false)
        }
        Some(false) => {
            let fields = record_on_fields(Some(p));
            api.patch_entry(path, &fields).map_err(|e| {
                anyhow!(e).context("switching recording back on for the active session")
            })?;
            log::info!("stream available again: recording switched back on for the active session");
            Ok(true)
        }
        None => Err(anyhow!(
            "MediaMTX has no path entry named {path:?} to switch recording on; add an explicit entry for it to mediamtx.yml (`hook mediamtx-config` prints one)"
        )),
    }
}
