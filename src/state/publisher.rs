//! A path's publisher as the state keeps it: [`Publisher`] (flattened into
//! the path's entry in `state.json`), its [`Phase`], and how its last child
//! ended ([`ExitRecord`]). The state layer; `hook run` writes it through the
//! transitions here (claim, give back, fail, stop).

use crate::state::identity::ProcessId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a path's publisher is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    #[default]
    Idle,
    WaitingForDevice,
    Starting,
    Running,
    Backoff,
    Stopping,
    Failed,
}

words!(Phase {
    Idle => "idle",
    WaitingForDevice => "waiting-for-device",
    Starting => "starting",
    Running => "running",
    Backoff => "backoff",
    Stopping => "stopping",
    Failed => "failed",
});

/// How a child ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExitRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Exit code when it exited.
    pub code: Option<i32>,
    /// Signal number when it was killed.
    pub signal: Option<i32>,
    /// Seconds it ran.
    pub ran_seconds: f64,
    /// Why it ended, as the supervisor saw it.
    pub reason: ExitReason,
}

/// Why a child's run ended, as the supervisor saw it (`exited`, `stalled`,
/// `stopped` in the state file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitReason {
    /// It ended by itself (its exit code or the signal that killed it are in
    /// the exit's status).
    Exited,
    /// The watchdog stopped it: no new frames for the stall timeout.
    Stalled,
    /// A stop (signal, the job, a lost parent) stopped it.
    Stopped,
}

words!(ExitReason {
    Exited => "exited",
    Stalled => "stalled",
    Stopped => "stopped",
});

/// A path's publisher (`hook run` and its FFmpeg) as the state keeps it:
/// who supervises it, its child, its restarts and last failure, and when
/// MediaMTX asked for and got the stream. Flattened into [`PathState`](crate::state::PathState), so
/// these are top-level fields of the path's entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Publisher {
    pub phase: Phase,
    pub device: Option<String>,
    /// The `hook run` process supervising the publisher.
    pub supervisor_pid: Option<u32>,
    /// `supervisor_pid`'s identity (start time, boot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervisor_process: Option<ProcessId>,
    pub child_pid: Option<u32>,
    /// `child_pid`'s identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_process: Option<ProcessId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub child_started_at: Option<OffsetDateTime>,
    pub restarts: u64,
    /// When the next start is due while in backoff.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_exit: Option<ExitRecord>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_error_at: Option<OffsetDateTime>,
    /// Why the publisher is not running, while it is not: the cause of
    /// `last_error`, its evidence and fix. Cleared once frames flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<crate::state::Failure>,
    /// The last lines FFmpeg wrote to stderr.
    pub stderr_tail: Vec<String>,
    /// When MediaMTX last asked for the stream (`hook run` started).
    #[serde(with = "time::serde::rfc3339::option")]
    pub demand_at: Option<OffsetDateTime>,
    /// When MediaMTX last said the stream is available (`hook ready`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub ready_at: Option<OffsetDateTime>,
    /// ready − demand, milliseconds.
    pub activation_latency_ms: Option<u64>,
}

impl Publisher {
    /// A `hook run` instance (`pid`, `process`) takes the entry over for
    /// `device` on MediaMTX's demand at `demand_at`: no child yet, no wait
    /// pending, the restarts counted from 0 (the caller carries the path's
    /// count on). The phase, the last exit and error, the failure, stderr
    /// and readiness stay until the instance reports its own.
    pub(crate) fn claim(
        &mut self,
        device: String,
        pid: u32,
        process: Option<ProcessId>,
        demand_at: OffsetDateTime,
    ) {
        *self = Publisher {
            device: Some(device),
            supervisor_pid: Some(pid),
            supervisor_process: process,
            child_pid: None,
            child_process: None,
            child_started_at: None,
            next_attempt_at: None,
            restarts: 0,
            demand_at: Some(demand_at),
            ..std::mem::take(self)
        };
    }

    /// An instance that never started a child hands the entry back to
    /// `owner`, the instance it took it from, as that one had it (its error
    /// included), with no wait pending; what happened since to the stream
    /// (the last exit, stderr, readiness) stays.
    pub(crate) fn give_back(&mut self, owner: Publisher) {
        *self = Publisher {
            next_attempt_at: None,
            last_exit: self.last_exit.take(),
            stderr_tail: std::mem::take(&mut self.stderr_tail),
            ready_at: self.ready_at,
            activation_latency_ms: self.activation_latency_ms,
            ..owner
        };
    }

    /// The publisher gave up (a fatal error): failed, with nothing
    /// supervising the path and no child.
    pub(crate) fn fail(&mut self) {
        *self = Publisher {
            phase: Phase::Failed,
            supervisor_pid: None,
            supervisor_process: None,
            child_pid: None,
            child_process: None,
            next_attempt_at: None,
            ..std::mem::take(self)
        };
    }

    /// The publisher stopped cleanly: idle, with nothing supervising the
    /// path and no child.
    pub(crate) fn stop(&mut self) {
        *self = Publisher {
            phase: Phase::Idle,
            supervisor_pid: None,
            supervisor_process: None,
            child_pid: None,
            child_process: None,
            child_started_at: None,
            next_attempt_at: None,
            ..std::mem::take(self)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names() {
        let json = serde_json::to_string(&Phase::WaitingForDevice).unwrap();
        assert_eq!(json, "\"waiting-for-device\"");
        assert_eq!(Phase::WaitingForDevice.as_str(), "waiting-for-device");
    }

    #[test]
    fn give_back_restores_the_owner_and_keeps_what_happened_since() {
        let t = time::macros::datetime!(2026-11-24 10:00:00 UTC);
        let owner = Publisher {
            phase: Phase::Running,
            supervisor_pid: Some(1),
            child_pid: Some(2),
            restarts: 4,
            next_attempt_at: Some(t),
            last_error: Some("owner's".into()),
            ..Publisher::default()
        };
        let mut p = owner.clone();
        p.claim("/dev/video0".into(), 3, None, t);
        assert_eq!(
            (p.supervisor_pid, p.child_pid, p.restarts, p.demand_at),
            (Some(3), None, 0, Some(t))
        );
        assert_eq!(p.phase, Phase::Running);
        p.last_error = Some("device busy".into());
        p.stderr_tail = vec!["line".into()];
        p.ready_at = Some(t);
        p.give_back(owner.clone());
        assert_eq!(p.supervisor_pid, Some(1));
        assert_eq!(p.child_pid, Some(2));
        assert_eq!(p.restarts, 4);
        assert_eq!(p.next_attempt_at, None);
        assert_eq!(p.last_error.as_deref(), Some("owner's"));
        assert_eq!(p.stderr_tail, ["line"]);
        assert_eq!(p.ready_at, Some(t));

        let mut stopped = owner.clone();
        stopped.stop();
        assert_eq!(stopped.phase, Phase::Idle);
        assert_eq!((stopped.supervisor_pid, stopped.child_pid), (None, None));
        assert_eq!(stopped.restarts, 4);
        let mut failed = owner;
        failed.fail();
        assert_eq!(failed.phase, Phase::Failed);
        assert_eq!((failed.supervisor_pid, failed.child_pid), (None, None));
        assert_eq!(failed.last_error.as_deref(), Some("owner's"));
    }
}
