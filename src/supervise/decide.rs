//! The supervisor's decisions about a running child, as pure functions of
//! the clock and what it saw: has it stalled, how long may it take to stop,
//! does another stop signal end the grace, how long to sleep.

use std::time::{Duration, Instant};

/// Where a child is: before or after its first advancing frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildPhase {
    /// Started, no frame yet (connecting, probing the camera).
    Starting,
    /// Frames flowing.
    Running,
}

/// What the stall watchdog thinks of a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StallVerdict {
    /// Progress is recent enough; look again at `check_at`.
    Progressing { check_at: Instant },
    /// No progress for `quiet` (at least the timeout).
    Stalled { quiet: Duration },
}

/// Stalled when the last progress is `timeout` or more before `now`.
pub(crate) fn stall_verdict(
    last_progress: Instant,
    now: Instant,
    timeout: Duration,
) -> StallVerdict {
    let quiet = now.saturating_duration_since(last_progress);
    if quiet >= timeout {
        StallVerdict::Stalled { quiet }
    } else {
        StallVerdict::Progressing {
            check_at: last_progress + timeout,
        }
    }
}

/// How long after SIGINT the child gets before SIGKILL: `grace` once it
/// runs; a child still starting has nothing to close and may be stuck in a
/// handshake that ignores SIGINT, so at most `handshake`.
pub(crate) fn stop_deadline(phase: ChildPhase, grace: Duration, handshake: Duration) -> Duration {
    match phase {
        ChildPhase::Running => grace,
        ChildPhase::Starting => grace.min(handshake),
    }
}

/// Whether the stop signals counted so far end the grace of a stop under
/// way (SIGKILL at once). `at_begin` is the count when the stop began. A stop
/// begun by a signal is hurried by any signal after it; one begun otherwise
/// (the job asked, the parent is gone) by the second, so a single signal
/// does not cut short a stop already under way.
pub(crate) fn on_second_signal(begun_by_signal: bool, at_begin: usize, now: usize) -> bool {
    let tolerated = usize::from(!begun_by_signal);
    now.saturating_sub(at_begin) > tolerated
}

/// The poll timeout in milliseconds to wake at `deadline`, rounded up so a
/// deadline is never missed by a fraction and spun on; at most `max`.
pub(crate) fn poll_millis(now: Instant, deadline: Instant, max: Duration) -> u16 {
    let wait = deadline.saturating_duration_since(now).min(max);
    wait.as_micros().div_ceil(1000).min(u128::from(u16::MAX)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn stall_table() {
        let t0 = Instant::now();
        let cases = [
            // (since last progress, timeout, stalled?)
            (0, 3000, false),
            (2999, 3000, false),
            (3000, 3000, true),
            (9000, 3000, true),
            (0, 0, true),
        ];
        for (quiet, timeout, stalled) in cases {
            let v = stall_verdict(t0, t0 + MS(quiet), MS(timeout));
            match v {
                StallVerdict::Stalled { quiet: q } => {
                    assert!(stalled, "{quiet} {timeout}: {v:?}");
                    assert_eq!(q, MS(quiet));
                }
                StallVerdict::Progressing { check_at } => {
                    assert!(!stalled, "{quiet} {timeout}: {v:?}");
                    assert_eq!(check_at, t0 + MS(timeout));
                }
            }
        }
        // A clock read before the progress was seen is not a stall.
        assert!(matches!(
            stall_verdict(t0 + MS(10), t0, MS(5)),
            StallVerdict::Progressing { .. }
        ));
    }

    #[test]
    fn stop_deadline_table() {
        use ChildPhase::*;
        let cases = [
            (Running, 5000, 500, 5000),
            (Starting, 5000, 500, 500),
            (Starting, 200, 500, 200),
            (Running, 200, 500, 200),
            (Starting, 0, 500, 0),
        ];
        for (phase, grace, handshake, want) in cases {
            assert_eq!(
                stop_deadline(phase, MS(grace), MS(handshake)),
                MS(want),
                "{phase:?} {grace} {handshake}"
            );
        }
    }

    #[test]
    fn second_signal_table() {
        let cases = [
            // (begun by a signal, count at begin, count now, kill now?)
            (true, 1, 1, false),
            (true, 1, 2, true),
            (true, 2, 2, false),
            (true, 1, 5, true),
            (false, 0, 0, false),
            (false, 0, 1, false),
            (false, 0, 2, true),
            (false, 3, 4, false),
            (false, 3, 5, true),
            (true, 3, 1, false),
        ];
        for (by_signal, at_begin, now, want) in cases {
            assert_eq!(
                on_second_signal(by_signal, at_begin, now),
                want,
                "{by_signal} {at_begin} {now}"
            );
        }
    }

    #[test]
    fn poll_timeout_rounds_up_and_is_capped() {
        let t0 = Instant::now();
        let max = Duration::from_secs(1);
        assert_eq!(poll_millis(t0, t0, max), 0);
        assert_eq!(poll_millis(t0 + MS(5), t0, max), 0, "deadline passed");
        assert_eq!(poll_millis(t0, t0 + Duration::from_micros(1), max), 1);
        assert_eq!(poll_millis(t0, t0 + Duration::from_micros(1500), max), 2);
        assert_eq!(poll_millis(t0, t0 + MS(250), max), 250);
        assert_eq!(poll_millis(t0, t0 + MS(5000), max), 1000);
    }
}
