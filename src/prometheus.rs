//! `hook status --prometheus`: the state as node_exporter textfile-collector
//! metrics, prefixed `mediamtx_hook_`, one `path` label per MediaMTX path.

use time::OffsetDateTime;

use crate::state::State;

/// Renders the metrics for every path in `state` (already filtered by the
/// caller when one path was asked for).
pub fn render(_state: &State, _now: OffsetDateTime) -> anyhow::Result<String> {
    anyhow::bail!("--prometheus is not implemented yet")
}
