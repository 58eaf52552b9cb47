//! `hook ready`'s record of the stream being available: when, and the
//! activation latency (ready − demand, where demand is the moment `hook
//! run` started, `demand_at`). Domain layer.

use time::OffsetDateTime;

use crate::state::{PathState, SessionStatus};

/// What `hook ready` found when it recorded the stream as available.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Readiness {
    /// ready − demand in milliseconds, when a demand was waiting for it.
    pub(crate) latency_ms: Option<u64>,
    /// A recording session is active on the path.
    pub(crate) recording_active: bool,
}

/// Stamps `ready_at` and, when `hook run` recorded a demand that no earlier
/// ready answered (a publisher restarted by the supervisor, or one not
/// started by the hook, is no new activation), the activation latency.
pub(crate) fn mark_ready(p: &mut PathState, now: OffsetDateTime) -> Readiness {
    let pending = p
        .publisher
        .demand_at
        .filter(|&demand| demand <= now && p.publisher.ready_at.is_none_or(|ready| ready < demand));
    let latency_ms = pending.map(|demand| {
        let ms = (now - demand).whole_milliseconds();
        u64::try_from(ms).unwrap_or(0)
    });
    if latency_ms.is_some() {
        p.publisher.activation_latency_ms = latency_ms;
    }
    p.publisher.ready_at = Some(now);
    Readiness {
        latency_ms,
        recording_active: p.recording.active
            || p.recording
                .session
                .as_ref()
                .is_some_and(|s| s.status == SessionStatus::Active),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Publisher;
    use time::macros::datetime;

    #[test]
    fn latency_from_demand_to_ready() {
        let mut p = PathState {
            publisher: Publisher {
                demand_at: Some(datetime!(2026-11-24 10:00:00 UTC)),
                ..Default::default()
            },
            ..PathState::default()
        };
        let r = mark_ready(&mut p, datetime!(2026-11-24 10:00:00.420 UTC));
        assert_eq!(r.latency_ms, Some(420));
        assert_eq!(p.publisher.activation_latency_ms, Some(420));
        assert_eq!(
            p.publisher.ready_at,
            Some(datetime!(2026-11-24 10:00:00.420 UTC))
        );
        assert!(!r.recording_active);
    }

    #[test]
    fn a_second_ready_for_the_same_demand_keeps_the_first_latency() {
        let mut p = PathState {
            publisher: Publisher {
                demand_at: Some(datetime!(2026-11-24 10:00:00 UTC)),
                ..Default::default()
            },
            ..PathState::default()
        };
        mark_ready(&mut p, datetime!(2026-11-24 10:00:00.400 UTC));
        let r = mark_ready(&mut p, datetime!(2026-11-24 10:05:00 UTC));
        assert_eq!(r.latency_ms, None);
        assert_eq!(p.publisher.activation_latency_ms, Some(400));
        assert_eq!(
            p.publisher.ready_at,
            Some(datetime!(2026-11-24 10:05:00 UTC))
        );
    }

    #[test]
    fn no_demand_no_latency() {
        let mut p = PathState::default();
        let r = mark_ready(&mut p, datetime!(2026-11-24 10:00:00 UTC));
        assert_eq!(r.latency_ms, None);
        assert_eq!(p.publisher.activation_latency_ms, None);
        // A demand stamped in the future (clock step) is not measured.
        p.publisher.demand_at = Some(datetime!(2026-11-24 11:00:00 UTC));
        p.publisher.ready_at = None;
        assert_eq!(
            mark_ready(&mut p, datetime!(2026-11-24 10:00:01 UTC)).latency_ms,
            None
        );
    }
}
