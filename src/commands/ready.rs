//! `hook ready`: MediaMTX says the stream is available (runOnAvailable, or
//! runOnReady before MediaMTX 1.19.3).
//!
//! Records when, and the activation latency: ready − demand, where demand
//! is the moment `hook run` started (`demand_at`, written by `hook run`).
//! Then, when a recording session is live on the path and held, makes sure
//! MediaMTX's `record` is on (`record::reapply_on_ready`): a MediaMTX that
//! restarted has forgotten it. The switch is read first and PATCHed only
//! when off; a session whose hold or `record start` is gone is left alone.

use std::process::ExitCode;

use anyhow::Context as _;
use time::OffsetDateTime;

use crate::commands::Context;
use crate::mediamtx::env::{validate_path_name, var};
use crate::state::{now, PathState, SessionStatus};

pub fn main(ctx: &Context) -> anyhow::Result<ExitCode> {
    let path = validate_path_name(var("MTX_PATH").as_deref(), "MTX_PATH")?;
    crate::logging::set_path(&path);
    let readiness = ctx
        .store
        .update_path(&path, |p| Ok(mark_ready(p, now())))
        .with_context(|| format!("recording that {path} is available"))?;
    match readiness.latency_ms {
        Some(ms) => log::info!("stream available; activation latency {ms} ms (demand to ready)"),
        None => log::info!("stream available (no pending demand from hook run to measure)"),
    }
    // A session whose hold died is given a new one first.
    crate::recording::revive::revive_once(ctx, &path, "hook ready");
    // A stream that became available again may belong to a MediaMTX that
    // restarted and forgot the session's `record` switch: switch it back on.
    if let Err(e) = crate::recording::switch::reapply_on_ready(ctx, &path) {
        let text = format!("{e:#}");
        let _ = ctx.store.update_path(&path, |p| {
            p.publisher.last_error = Some(text);
            p.publisher.last_error_at = Some(now());
            Ok(())
        });
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}

/// What `hook ready` found when it recorded the stream as available.
#[derive(Clone, Debug, PartialEq)]
pub struct Readiness {
    /// ready − demand in milliseconds, when a demand was waiting for it.
    pub latency_ms: Option<u64>,
    /// A recording session is active on the path.
    pub recording_active: bool,
}

/// Stamps `ready_at` and, when `hook run` recorded a demand that no earlier
/// ready answered (a publisher restarted by the supervisor, or one not
/// started by the hook, is no new activation), the activation latency.
pub fn mark_ready(p: &mut PathState, now: OffsetDateTime) -> Readiness {
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
