//! The `events` section of the policy: what `hook record arm` uses when its
//! flags are left out.

use serde::{Deserialize, Serialize};

use super::duration::Dur;

/// Armed paths and events (`hook record arm`, `record start` on an armed path).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Events {
    /// Pre-roll: how much before an event is kept (`--pre`).
    pub pre: Dur,
    /// Post-roll: how much after an event's end is kept (`--post`).
    pub post: Dur,
    /// The `recordSegmentDuration` an armed path records with: the ring
    /// keeps at most the pre-roll plus one segment of this length.
    pub segment_duration: Dur,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            pre: Dur::secs(10),
            post: Dur::secs(5),
            segment_duration: Dur::secs(2),
        }
    }
}

impl Events {
    /// Checks the values; a message naming the key when one is wrong.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.segment_duration.0.is_zero() {
            return Err("events.segment_duration is 0s: expected a positive duration such as 2s (armed paths record in segments this long)".into());
        }
        if self.segment_duration.0 > std::time::Duration::from_secs(60) {
            return Err(format!(
                "events.segment_duration {}: expected at most 60s (the ring keeps the pre-roll plus one segment)",
                self.segment_duration
            ));
        }
        Ok(())
    }
}
