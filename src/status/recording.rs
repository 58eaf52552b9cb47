//! Whether a live recording session really records: status never says
//! "recording" while nothing is written. A session whose newest segment (or,
//! before the first, whose start) is more than a segment duration plus the
//! gap tolerance (plus [`STALL_MARGIN`]) old records nothing; so does one
//! whose hold is gone. Either gets a cause from the documented set (the
//! recordings' file system full, its hold dead, no stream read, else
//! MediaMTX's recorder), with the evidence and the fix. And the recordings'
//! file system with (almost) no free space is flagged whatever the budget.

use crate::state::cause::{Cause, Failure};
use crate::state::observe::Observed;
use crate::state::storage::Space;
use crate::state::{PathState, SessionStatus};
use time::{Duration, OffsetDateTime};

/// Beyond the segment duration and the tolerance: MediaMTX cuts at the
/// first key frame after the duration and runs the hook after closing.
pub(crate) const STALL_MARGIN: Duration = Duration::seconds(3);

/// Free space below this is "full": a segment cannot be written.
pub(crate) const FULL_BELOW: u64 = 1 << 20;

/// The recordings' file system is (almost) full: under 1% or 64 MiB free,
/// whichever is less (so a small file system is not always "low").
pub(crate) fn filesystem_low(space: Option<Space>) -> bool {
    space.is_some_and(|s| s.free < (s.total / 100).clamp(FULL_BELOW, 64 << 20))
}

/// Why the path's live session records nothing now, if it does not.
/// `segment` and `tolerance` are the policy's; `space` the recordings'
/// file system.
pub(crate) fn trouble(
    p: &PathState,
    o: &Observed,
    now: OffsetDateTime,
    segment: Duration,
    tolerance: Duration,
    space: Option<Space>,
) -> Option<Failure> {
    let s = p
        .recording
        .session
        .as_ref()
        .filter(|s| s.status == SessionStatus::Active)?;
    if o.recording_stale {
        let pid = s.hold_pid.unwrap_or_default();
        return Some(Failure::new(
            Cause::HoldDead,
            format!(
                "the session's hold (pid {pid}) is gone: nothing reads the stream for recording"
            ),
        ));
    }
    let since = p
        .segments
        .last_end
        .map_or(s.started_at, |e| e.max(s.started_at));
    let late = now - since - segment - tolerance;
    if late <= STALL_MARGIN {
        return None;
    }
    let quiet = format!(
        "no segment for {:.0} s (one is due every {:.0} s)",
        (now - since).as_seconds_f64(),
        segment.as_seconds_f64()
    );
    let reading = p.recording.hold.as_ref().is_some_and(|h| h.reading);
    Some(match space {
        Some(sp) if sp.free < FULL_BELOW => Failure::new(
            Cause::DiskFull,
            format!("{quiet}; the recordings' file system has {} bytes free", sp.free),
        ),
        _ if !reading => Failure::new(
            Cause::NoStream,
            format!(
                "{quiet}; the hold does not receive the stream{}",
                p.recording
                    .hold
                    .as_ref()
                    .and_then(|h| h.last_error.as_deref())
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
        ),
        _ => Failure::new(
            Cause::RecorderError,
            format!("{quiet} although the hold reads the stream: MediaMTX's recorder writes nothing (its log says why)"),
        ),
    })
}

/// A session's coverage: seconds from its start to its newest segment's
/// end (or its own end), the seconds recorded in them, and the rest, which
/// is every hole however short (so "0 gaps" after crashes shorter than the
/// gap tolerance still shows the seconds lost).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub(crate) struct Coverage {
    pub elapsed_seconds: f64,
    pub recorded_seconds: f64,
    pub missing_seconds: f64,
}

pub(crate) fn coverage(
    s: &crate::state::Session,
    last_end: Option<OffsetDateTime>,
) -> Option<Coverage> {
    let end = match s.ended_at {
        Some(e) => last_end.map_or(e, |l| l.min(e)),
        None => last_end?,
    };
    let elapsed = (end - s.started_at).as_seconds_f64();
    (elapsed > 0.0 && s.segments > 0).then(|| Coverage {
        elapsed_seconds: elapsed,
        recorded_seconds: s.recorded_seconds,
        missing_seconds: (elapsed - s.recorded_seconds).max(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::observe::observe;
    use crate::state::{HoldState, Session};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-01 10:00:00 UTC);
    const SEG: Duration = Duration::seconds(60);
    const TOL: Duration = Duration::milliseconds(1500);

    fn active(reading: bool) -> PathState {
        let mut p = PathState::default();
        p.recording.session = Some(Session {
            hold_pid: Some(std::process::id()),
            ..Session::fresh(T0, SessionStatus::Active)
        });
        p.recording.active = true;
        p.recording.hold = Some(HoldState {
            reading,
            ..HoldState::default()
        });
        p
    }

    fn cause_at(p: &PathState, secs: i64, space: Option<Space>) -> Option<Cause> {
        let now = T0 + Duration::seconds(secs);
        let o = observe(p, now, &mut |_, _, _| true);
        trouble(p, &o, now, SEG, TOL, space).map(|f| f.cause)
    }

    #[test]
    fn a_session_is_stalled_only_after_a_segment_and_the_tolerance() {
        let roomy = Some(Space {
            free: 10 << 30,
            total: 100 << 30,
        });
        let p = active(true);
        assert_eq!(cause_at(&p, 60, roomy), None);
        assert_eq!(cause_at(&p, 64, roomy), None);
        assert_eq!(cause_at(&p, 66, roomy), Some(Cause::RecorderError));
        let full = Some(Space {
            free: 4096,
            total: 100 << 30,
        });
        assert_eq!(cause_at(&p, 66, full), Some(Cause::DiskFull));
        assert_eq!(cause_at(&active(false), 66, roomy), Some(Cause::NoStream));
        let mut recent = active(true);
        recent.segments.last_end = Some(T0 + Duration::seconds(600));
        assert_eq!(cause_at(&recent, 620, roomy), None);
        assert_eq!(cause_at(&recent, 700, roomy), Some(Cause::RecorderError));
        let o = observe(&p, T0, &mut |_, _, _| false);
        assert_eq!(
            trouble(&p, &o, T0, SEG, TOL, roomy).map(|f| f.cause),
            Some(Cause::HoldDead)
        );
    }

    #[test]
    fn coverage_counts_every_hole() {
        let mut p = active(true);
        let s = p.recording.session.as_mut().unwrap();
        assert_eq!(coverage(s, None), None);
        s.segments = 3;
        s.recorded_seconds = 177.0;
        let c = coverage(s, Some(T0 + Duration::seconds(180))).unwrap();
        assert_eq!(c.elapsed_seconds, 180.0);
        assert_eq!(c.missing_seconds, 3.0);
    }

    #[test]
    fn low_means_almost_no_space_whatever_the_size() {
        let gib = 1u64 << 30;
        assert!(!filesystem_low(None));
        assert!(!filesystem_low(Some(Space {
            free: 5 * gib,
            total: 100 * gib
        })));
        assert!(filesystem_low(Some(Space {
            free: 60 << 20,
            total: 100 * gib
        })));
        assert!(!filesystem_low(Some(Space {
            free: 20 << 20,
            total: 100 << 20
        })));
        assert!(filesystem_low(Some(Space {
            free: 512 << 10,
            total: 100 << 20
        })));
    }
}
