//! Re-triggers: `hook record start PATH [--duration D] [--reason TEXT]` on a
//! path whose session is live (an event script calling it on every motion).
//!
//! It runs under the path's session lock, like every change of a session
//! (a re-trigger on a session still `starting` has waited for that start).
//! The session's end only ever moves later: `--duration D` makes it end no
//! earlier than now + D; no `--duration` makes it open-ended; an open-ended
//! session stays so. The hold reads the end from the state at every tick and
//! decides that the session is over under the same lock, so an extension is
//! never lost to a hold that is ending the session at that moment. Each
//! re-trigger is kept with the session (the last
//! [`RECENT_RETRIGGERS`](crate::state::RECENT_RETRIGGERS) and a count).

use std::time::Duration;

use time::OffsetDateTime;

use crate::context::Context;
use crate::recording::session::is_live;
use crate::recording::text::both_times;
use crate::state::{now, Retrigger, Session, RECENT_RETRIGGERS};

/// What a re-trigger did to the session's end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The end moved from `from` to the later `to`.
    Extended {
        from: OffsetDateTime,
        to: OffsetDateTime,
    },
    /// A timed session (ending at `from`) became open-ended.
    OpenEnded { from: OffsetDateTime },
    /// The session already ends at or after what was asked.
    AlreadyLater { until: OffsetDateTime },
    /// The session is open-ended and stays so.
    StaysOpen,
}

/// Applies a re-trigger at `at` asking for `duration` (none: open-ended)
/// to a live session, and keeps it in the session's history.
pub(crate) fn apply(
    s: &mut Session,
    at: OffsetDateTime,
    duration: Option<Duration>,
    reason: Option<String>,
) -> Applied {
    let wanted = duration.map(|d| at + d);
    let applied = match (s.until, wanted) {
        (None, _) => Applied::StaysOpen,
        (Some(from), None) => Applied::OpenEnded { from },
        (Some(from), Some(to)) if to > from => Applied::Extended { from, to },
        (Some(until), Some(_)) => Applied::AlreadyLater { until },
    };
    s.until = match applied {
        Applied::Extended { to, .. } => Some(to),
        Applied::OpenEnded { .. } | Applied::StaysOpen => None,
        Applied::AlreadyLater { until } => Some(until),
    };
    s.retriggers += 1;
    s.recent_retriggers.push(Retrigger {
        at,
        reason,
        duration_seconds: duration.map(|d| d.as_secs_f64()),
        until: s.until,
        changed: matches!(
            applied,
            Applied::Extended { .. } | Applied::OpenEnded { .. }
        ),
    });
    let excess = s.recent_retriggers.len().saturating_sub(RECENT_RETRIGGERS);
    s.recent_retriggers.drain(..excess);
    applied
}

/// The re-trigger of `path`'s live, held session (the caller holds the
/// session lock): the end moved, the re-trigger kept; what happened, as
/// one line to print.
pub(crate) fn retrigger(
    ctx: &Context,
    path: &str,
    duration: Option<Duration>,
    reason: Option<String>,
) -> anyhow::Result<String> {
    let at = now();
    let (applied, count) = ctx.store.update_path(path, |p| {
        let Some(s) = p.recording.session.as_mut().filter(|s| is_live(s)) else {
            // Under the lock nothing ends a session; a changed state file is
            // the only way here.
            anyhow::bail!("{path}: the recording session ended while it was being re-triggered");
        };
        let applied = apply(s, at, duration, reason.clone());
        Ok((applied, s.retriggers))
    })?;
    let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
    let text = match applied {
        Applied::Extended { from, to } => format!(
            "recording extended until {} (was until {})",
            both_times(to),
            both_times(from)
        ),
        Applied::OpenEnded { from } => format!(
            "recording now until `hook record stop` (was until {})",
            both_times(from)
        ),
        Applied::AlreadyLater { until } => format!(
            "recording already until {}, later than asked: unchanged (a re-trigger never shortens a session)",
            both_times(until)
        ),
        Applied::StaysOpen => {
            "recording already until `hook record stop` (open-ended): unchanged".to_string()
        }
    };
    log::info!("re-trigger {count}{why}: {text}");
    Ok(format!("{text}; re-trigger {count}{why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::session::tests::session;
    use crate::state::SessionStatus;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn the_end_only_moves_later() {
        let mut s = session(
            SessionStatus::Active,
            Some(7),
            Some(T0 + Duration::from_secs(60)),
        );
        let at = T0 + Duration::from_secs(10);
        assert_eq!(
            apply(&mut s, at, secs(30), None),
            Applied::AlreadyLater {
                until: T0 + Duration::from_secs(60)
            }
        );
        assert_eq!(s.until, Some(T0 + Duration::from_secs(60)));
        assert_eq!(
            apply(&mut s, at, secs(120), Some("motion".into())),
            Applied::Extended {
                from: T0 + Duration::from_secs(60),
                to: T0 + Duration::from_secs(130)
            }
        );
        assert_eq!(s.until, Some(T0 + Duration::from_secs(130)));
        assert_eq!(
            apply(&mut s, at, None, None),
            Applied::OpenEnded {
                from: T0 + Duration::from_secs(130)
            }
        );
        assert_eq!(s.until, None);
        assert_eq!(apply(&mut s, at, secs(5), None), Applied::StaysOpen);
        assert_eq!(s.until, None);
        assert_eq!(s.retriggers, 4);
        let kept: Vec<_> = s.recent_retriggers.iter().map(|r| r.changed).collect();
        assert_eq!(kept, [false, true, true, false]);
        assert_eq!(s.recent_retriggers[1].reason.as_deref(), Some("motion"));
        assert_eq!(s.recent_retriggers[1].duration_seconds, Some(120.0));
        assert_eq!(
            s.recent_retriggers[1].until,
            Some(T0 + Duration::from_secs(130))
        );
    }

    #[test]
    fn only_the_last_re_triggers_are_kept_and_all_are_counted() {
        let mut s = session(SessionStatus::Active, Some(7), Some(T0));
        for i in 0..(RECENT_RETRIGGERS as u64 + 5) {
            apply(&mut s, T0 + Duration::from_secs(i), secs(60), None);
        }
        assert_eq!(s.retriggers, RECENT_RETRIGGERS as u64 + 5);
        assert_eq!(s.recent_retriggers.len(), RECENT_RETRIGGERS);
        assert_eq!(s.recent_retriggers[0].at, T0 + Duration::from_secs(5));
        assert_eq!(
            s.until,
            Some(T0 + Duration::from_secs(RECENT_RETRIGGERS as u64 + 4 + 60))
        );
    }
}
