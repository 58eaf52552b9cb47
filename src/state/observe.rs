//! The state checked against the living processes: a pid recorded with its
//! identity (`identity`) that is gone, or now names another process, is not
//! taken for the hook's. `hook status` and its Prometheus output both show
//! what [`observe`] found, through [`truthful`].

use crate::state::identity::{is_hook, is_running, ProcessId};
use crate::state::{Failure, PathState, Phase, SessionStatus, State};
use time::OffsetDateTime;

/// What kind of process a recorded pid should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProcessKind {
    /// A `hook` process (`identity::is_hook`).
    Hook,
    /// Any process (FFmpeg, a hold).
    Any,
}

/// Checks pids against `/proc`, by the rules of `identity`.
pub(crate) struct ProcProbe;

impl ProcProbe {
    pub(crate) fn new() -> Self {
        ProcProbe
    }

    /// Running by the one rule ([`is_running`]: alive, not a zombie, and the
    /// recorded start time and boot when the state has them); for
    /// [`ProcessKind::Hook`], also a `hook` process ([`is_hook`]).
    pub(crate) fn alive(
        &mut self,
        pid: u32,
        recorded: Option<&ProcessId>,
        kind: ProcessKind,
    ) -> bool {
        match kind {
            ProcessKind::Any => is_running(pid, recorded),
            ProcessKind::Hook => is_hook(pid, recorded, None),
        }
    }
}

/// The command name and state letter of `/proc/<pid>/stat`.
#[cfg(test)]
pub(crate) fn proc_stat(file: &str) -> Option<(String, char)> {
    let st = crate::state::identity::parse_stat(&std::fs::read_to_string(file).ok()?)?;
    Some((st.comm, st.state))
}

/// A path's state checked against the living processes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Observed {
    /// The phase that is true now.
    pub phase: Phase,
    /// The state names processes that are gone.
    pub stale: bool,
    pub notes: Vec<String>,
    /// The `hook run` process, when alive.
    pub supervisor_pid: Option<u32>,
    /// FFmpeg, when alive.
    pub child_pid: Option<u32>,
    pub uptime_seconds: Option<f64>,
    pub recording_active: bool,
    /// The active session's hold is gone.
    pub recording_stale: bool,
    /// Why the live session records nothing now (filled in by `hook
    /// status`, which knows the policy and the file system).
    pub recording_cause: Option<crate::state::Failure>,
    pub use_cases: Vec<&'static str>,
    /// Why the publisher is not working, while the phase says it is not
    /// (waiting for the device, backing off, failed, starting again after
    /// a failure): none when idle, running or stopping.
    pub cause: Option<Failure>,
}

/// Checks one path's state against the living processes (`alive(pid,
/// identity, kind)`): a phase that needs a `hook run` whose process is gone
/// becomes `idle` (stale), pids of processes that are gone (or reused by
/// another process) become none, a session whose hold is gone is not
/// active, a `starting` session whose `record start` is gone is stale.
pub(crate) fn observe(
    p: &PathState,
    now: OffsetDateTime,
    alive: &mut dyn FnMut(u32, Option<&ProcessId>, ProcessKind) -> bool,
) -> Observed {
    let mut notes = Vec::new();
    let mut stale = false;
    let mut phase = p.publisher.phase;
    let wants_publisher = !matches!(p.publisher.phase, Phase::Idle | Phase::Failed);

    let supervisor_pid = p.publisher.supervisor_pid.filter(|&pid| {
        alive(
            pid,
            p.publisher.supervisor_process.as_ref(),
            ProcessKind::Hook,
        )
    });
    let supervisor_gone = p.publisher.supervisor_pid.is_some() && supervisor_pid.is_none();
    let child_pid = p
        .publisher
        .child_pid
        .filter(|&pid| alive(pid, p.publisher.child_process.as_ref(), ProcessKind::Any));
    let child_gone = p.publisher.child_pid.is_some() && child_pid.is_none();

    if supervisor_gone && wants_publisher {
        stale = true;
        match child_pid {
            // The publisher outlived its supervisor: it still publishes.
            Some(child) => notes.push(format!(
                "hook run (pid {}) is gone but FFmpeg (pid {child}) still runs unsupervised",
                p.publisher.supervisor_pid.unwrap_or_default()
            )),
            None => {
                phase = Phase::Idle;
                notes.push(format!(
                    "hook run (pid {}) is gone without recording its end (killed?); the state said {}",
                    p.publisher.supervisor_pid.unwrap_or_default(),
                    p.publisher.phase.as_str()
                ));
            }
        }
    } else if child_gone && p.publisher.phase == Phase::Running {
        notes.push(format!(
            "FFmpeg (pid {}) has exited; hook run has not recorded it yet",
            p.publisher.child_pid.unwrap_or_default()
        ));
    }

    let uptime_seconds = child_pid
        .and(p.publisher.child_started_at)
        .map(|t| (now - t).as_seconds_f64().max(0.0));

    let session_active = p
        .recording
        .session
        .as_ref()
        .is_some_and(|s| s.status == SessionStatus::Active);
    let mut recording_active = p.recording.active || session_active;
    let mut recording_stale = false;
    if let Some(s) = p
        .recording
        .session
        .as_ref()
        .filter(|s| s.status == SessionStatus::Starting)
    {
        // A start under way holds no stream yet; one whose `record start`
        // is gone never will, and may have left MediaMTX recording.
        if let Some(starter) = s
            .starter_pid
            .filter(|&pid| !alive(pid, s.starter_process.as_ref(), ProcessKind::Any))
        {
            recording_stale = true;
            stale = true;
            notes.push(format!(
                "the recording session never started: its `hook record start` (pid {starter}) is gone; MediaMTX may still record, `hook record stop` switches it off"
            ));
        }
    }
    if recording_active {
        if let Some(hold) = p
            .recording
            .session
            .as_ref()
            .filter(|s| {
                s.hold_pid
                    .is_some_and(|pid| !alive(pid, s.hold_process.as_ref(), ProcessKind::Any))
            })
            .and_then(|s| s.hold_pid)
        {
            recording_active = false;
            recording_stale = true;
            stale = true;
            notes.push(format!(
                "the hold (pid {hold}) of the active recording session is gone: nothing keeps the stream for recording"
            ));
        }
    }

    let mut use_cases = Vec::new();
    if !matches!(phase, Phase::Idle | Phase::Failed) {
        use_cases.push("viewing");
    }
    if recording_active {
        use_cases.push("recording");
    }
    let cause = p
        .publisher
        .failure
        .clone()
        .filter(|_| !matches!(phase, Phase::Idle | Phase::Running | Phase::Stopping));
    Observed {
        phase,
        cause,
        stale,
        notes,
        supervisor_pid,
        child_pid,
        uptime_seconds,
        recording_active,
        recording_stale,
        recording_cause: None,
        use_cases,
    }
}

/// The state with what `observe` found applied (phase, pids, recording),
/// for renderers that read the state itself (`--prometheus`).
pub(crate) fn truthful(state: &State, observed: &[(&str, &PathState, Observed)]) -> State {
    let mut out = state.clone();
    for (name, _, o) in observed {
        if let Some(p) = out.paths.get_mut(*name) {
            p.publisher.phase = o.phase;
            p.publisher.supervisor_pid = o.supervisor_pid;
            p.publisher.child_pid = o.child_pid;
            p.recording.active = o.recording_active;
            p.recording.stale = o.recording_stale;
            p.recording.stalled = o.recording_cause.is_some();
            p.publisher.failure = o.cause.clone();
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::state::{Publisher, Session};
    use time::macros::datetime;

    pub(crate) const NOW: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);

    pub(crate) fn running() -> PathState {
        PathState {
            publisher: Publisher {
                phase: Phase::Running,
                supervisor_pid: Some(100),
                child_pid: Some(101),
                child_started_at: Some(datetime!(2026-11-24 09:00:00 UTC)),
                ..Default::default()
            },
            ..PathState::default()
        }
    }

    pub(crate) fn session(hold: Option<u32>) -> Session {
        Session {
            segments: 2,
            recorded_seconds: 60.0,
            hold_pid: hold,
            ..Session::fresh(datetime!(2026-11-24 09:30:00 UTC), SessionStatus::Active)
        }
    }

    #[test]
    fn live_processes_are_believed() {
        let mut p = running();
        p.recording.session = Some(session(Some(102)));
        let o = observe(&p, NOW, &mut |_, _, _| true);
        assert_eq!(o.phase, Phase::Running);
        assert!(!o.stale);
        assert!(o.notes.is_empty());
        assert_eq!(o.child_pid, Some(101));
        assert_eq!(o.uptime_seconds, Some(3600.0));
        assert!(o.recording_active);
        assert_eq!(o.use_cases, vec!["viewing", "recording"]);
    }

    #[test]
    fn a_killed_hook_is_not_shown_running() {
        let p = running();
        let o = observe(&p, NOW, &mut |_, _, _| false);
        assert_eq!(o.phase, Phase::Idle);
        assert!(o.stale);
        assert_eq!(o.supervisor_pid, None);
        assert_eq!(o.child_pid, None);
        assert_eq!(o.uptime_seconds, None);
        assert!(o.use_cases.is_empty());
        assert!(o.notes[0].contains("pid 100"), "{:?}", o.notes);
    }

    #[test]
    fn a_reused_pid_of_another_program_is_not_the_hook() {
        let p = running();
        let o = observe(&p, NOW, &mut |_, _, kind| kind == ProcessKind::Any);
        assert!(o.stale);
        // FFmpeg still there without its hook: said, and still publishing.
        assert_eq!(o.phase, Phase::Running);
        assert_eq!(o.child_pid, Some(101));
        assert!(o.notes[0].contains("unsupervised"), "{:?}", o.notes);
    }

    #[test]
    fn child_gone_under_a_live_supervisor_is_noted_not_stale() {
        let p = running();
        let o = observe(&p, NOW, &mut |pid, _, _| pid == 100);
        assert_eq!(o.phase, Phase::Running);
        assert!(!o.stale);
        assert_eq!(o.child_pid, None);
        assert!(o.notes[0].contains("FFmpeg (pid 101)"), "{:?}", o.notes);
    }

    #[test]
    fn a_session_without_its_hold_is_not_recording() {
        let mut p = PathState::default();
        p.recording.active = true;
        p.recording.session = Some(session(Some(102)));
        let o = observe(&p, NOW, &mut |_, _, _| false);
        assert!(!o.recording_active);
        assert!(o.recording_stale);
        assert!(o.stale);
        assert!(o.use_cases.is_empty());
    }

    #[test]
    fn idle_and_failed_are_kept() {
        for phase in [Phase::Idle, Phase::Failed] {
            let p = PathState {
                publisher: Publisher {
                    phase,
                    supervisor_pid: Some(5),
                    ..Default::default()
                },
                ..PathState::default()
            };
            let o = observe(&p, NOW, &mut |_, _, _| false);
            assert_eq!(o.phase, phase);
            assert!(!o.stale);
        }
    }

    #[test]
    fn proc_stat_parses_odd_names() {
        let me = proc_stat("/proc/thread-self/stat").unwrap();
        assert_eq!(me.1, 'R');
        assert!(!me.0.is_empty());
        assert!(proc_stat("/proc/0/stat").is_none());
    }
}
