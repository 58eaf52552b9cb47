//! Outages: stretches of time in which a path could not be recorded for a
//! reason someone saw (its hold was killed, its camera unplugged), kept in
//! the path's state (`PathState::outages`). Whoever sees the trouble begins
//! one and ends it when it is over; `segment-complete`, when it finds a
//! hole between two segments, gives the gap the cause of the outage that
//! overlaps it. So a gap says why, whichever side of the hook saw it.

use crate::state::cause::Cause;
use crate::state::{Outage, PathState, RECENT_OUTAGES};
use time::{Duration, OffsetDateTime};

/// How far apart a hole and an outage may be and still belong together:
/// a hole's ends are the neighbouring segments' file times, an outage's
/// are when a hook command noticed, and MediaMTX closes and opens segments
/// a key frame and a recorder start away from either.
pub(crate) const MATCH_SLACK: Duration = Duration::seconds(5);

/// Begins an outage of `cause` at `from` (an open one of the same cause is
/// kept as it is: the trouble goes on).
pub(crate) fn begin(p: &mut PathState, from: OffsetDateTime, cause: Cause, detail: String) {
    if p.outages.iter().any(|o| o.to.is_none() && o.cause == cause) {
        return;
    }
    p.outages.push(Outage {
        from,
        to: None,
        cause,
        detail,
    });
    if p.outages.len() > RECENT_OUTAGES {
        let excess = p.outages.len() - RECENT_OUTAGES;
        p.outages.drain(..excess);
    }
}

/// Ends every open outage of `cause` at `to`.
pub(crate) fn end(p: &mut PathState, cause: Cause, to: OffsetDateTime) {
    for o in p.outages.iter_mut() {
        if o.to.is_none() && o.cause == cause {
            o.to = Some(to.max(o.from));
        }
    }
}

/// The outage that explains a hole `[from, to]`: the latest one that
/// overlaps it (within [`MATCH_SLACK`]).
pub(crate) fn explaining(
    outages: &[Outage],
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Option<&Outage> {
    outages
        .iter()
        .rev()
        .find(|o| o.from <= to + MATCH_SLACK && o.to.is_none_or(|end| end + MATCH_SLACK >= from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2026-12-01 10:00:00 UTC);

    #[test]
    fn a_hole_takes_the_cause_of_the_outage_over_it() {
        let mut p = PathState::default();
        begin(&mut p, T, Cause::HoldDead, "hold pid 7 died".into());
        begin(
            &mut p,
            T + Duration::seconds(1),
            Cause::HoldDead,
            "again".into(),
        );
        assert_eq!(p.outages.len(), 1, "an open outage goes on");
        end(&mut p, Cause::HoldDead, T + Duration::seconds(2));
        let s = |n| T + Duration::seconds(n);
        // The stream closed a few seconds after the hold died.
        assert_eq!(
            explaining(&p.outages, s(4), s(9)).map(|o| o.cause),
            Some(Cause::HoldDead)
        );
        assert!(explaining(&p.outages, s(30), s(40)).is_none());
        assert!(explaining(&p.outages, s(-40), s(-30)).is_none());
        begin(&mut p, s(30), Cause::Unplugged, String::new());
        assert_eq!(
            explaining(&p.outages, s(31), s(60)).map(|o| o.cause),
            Some(Cause::Unplugged),
            "an open outage covers everything after its start"
        );
        for i in 0..40 {
            begin(
                &mut p,
                s(100 + i),
                Cause::ALL[i as usize % 4],
                String::new(),
            );
            end(&mut p, Cause::ALL[i as usize % 4], s(100 + i));
        }
        assert_eq!(p.outages.len(), RECENT_OUTAGES);
    }
}
