//! `hook status [PATH] [--json | --prometheus]`: what every path is doing,
//! for people and for machines.
//!
//! The state file says what the hook processes last wrote; status checks it
//! against the living processes before it says anything, so a `hook run`
//! that was SIGKILLed (and could not record its end) is shown as gone, not
//! as running, and a pid recorded with its start time and boot
//! (`process_identity`) that now names another process is not taken for
//! it. The checks read `/proc/<pid>/stat` only for the pids the state names, so status stays fast however many segments were recorded
//! (the state keeps totals, not segments).
//!
//! # Human output
//!
//! Without PATH, one line per path, a header first:
//!
//! ```text
//! PATH     PHASE    USE                PID    UPTIME  RESTARTS  SEGMENTS     GAPS  LAST ERROR
//! camera0  running  viewing,recording  41234  1h02m   0         12 (6h00m)   0     -
//! camera1  idle*    -                  -      -       3         0            0     device /dev/video1 not found
//!   * camera1: hook run (pid 40321) is gone without recording its end (killed?); the state said running
//! ```
//!
//! PHASE carries a `*` when the state was stale; the notes follow the table.
//! PID and UPTIME are FFmpeg's (the publisher). SEGMENTS is the count and the
//! recorded time over every segment of the path. With PATH, every field, one
//! per line (phase, use cases, device, pids, uptime, restarts, next attempt,
//! last exit, last error, activation latency, recording session, last
//! session, segments, ledger file, snapshot, stop reason, stderr tail).
//! Times are shown in local time.
//!
//! # `--json` (schema version 1)
//!
//! One object. Versioning rule: fields are only ever added; `schema_version`
//! changes only when the meaning of an existing field changes. Times are RFC
//! 3339 strings (UTC); a value that is not known or does not apply is `null`.
//!
//! ```text
//! {
//!   "schema_version": 1,                     integer, this schema's version
//!   "generated_at": "2026-11-24T03:43:19Z",  when status looked
//!   "state_dir": "/var/lib/mediamtx-hook",   where the state lives
//!   "paths": { "<path name>": {              one entry per MediaMTX path
//!     "phase": "running",           idle | waiting-for-device | starting | running |
//!                                   backoff | stopping | failed; checked against the
//!                                   living processes (see stale)
//!     "recorded_phase": "running",  the phase as the state file has it
//!     "stale": false,               true when the state names processes that are gone
//!                                   (a hook killed without recording its end); phase
//!                                   and pids then say what is true now
//!     "notes": [],                  strings: why stale, and other findings
//!     "use_cases": ["viewing"],     what holds the path: "viewing" (a publisher is up
//!                                   on demand, for a reader), "recording" (a recording
//!                                   session is active)
//!     "device": "/dev/video0",      string or null
//!     "supervisor_pid": 41200,      the `hook run` process, null when none is alive
//!     "child_pid": 41234,           FFmpeg publishing the camera, null when none is alive
//!     "child_started_at": "…",      when that FFmpeg started, or null
//!     "uptime_seconds": 3720.5,     number: seconds FFmpeg has run, null when none runs
//!     "restarts": 0,                integer: FFmpeg restarts by the supervisor
//!     "next_attempt_at": null,      in backoff: when the next start is due
//!     "last_exit": null,            or {"at", "code" (int|null), "signal" (int|null),
//!                                   "ran_seconds" (number), "reason" (string)}
//!     "last_error": null,           string or null
//!     "last_error_at": null,        when last_error happened
//!     "stderr_tail": [],            strings: FFmpeg's last stderr lines
//!     "demand_at": "…",             when `hook run` last started (MediaMTX's demand)
//!     "ready_at": "…",              when `hook ready` last ran (stream available)
//!     "activation_latency_ms": 420, integer: ready − demand of the last activation
//!     "recording": {
//!       "active": false,            a recording session is active and held
//!       "stale": false,             the session's hold process is gone, or (starting)
//!                                   its `hook record start` is gone
//!       "session": null,            the current session, or {"started_at", "until",
//!                                   "ended_at", "status" (starting|active|ended|failed),
//!                                   "end_reason", "segments" (int), "recorded_seconds"
//!                                   (number), "gaps" (int), "hold_pid", and when known
//!                                   "hold_process", "starter_pid", "starter_process"
//!                                   ({"pid", "start_ticks", "boot_id"})}
//!       "last_session": null        the previous session, same shape
//!     },
//!     "segments": {                 every segment recorded on the path
//!       "count": 12,                integer
//!       "recorded_seconds": 21600.4,number: sum of the segments' durations
//!       "bytes": 1234567,           integer: sum of their sizes
//!       "gaps": 0,                  integer: holes longer than the gap tolerance
//!       "gone": 0,                  integer: segments whose files were found deleted
//!                                   (each has a {"gone": file, "noticed_at"} ledger line)
//!       "last_end": "…",            end of the latest segment, or null
//!       "last": [ {"file", "start", "duration", "size", "start_from"
//!                 ("file-name"|"mtime"), "gap_before" (seconds, absent when none),
//!                 "session" (its session's started_at, absent when none)} ],
//!                                   the latest few, oldest first
//!       "ledger": "/var/lib/mediamtx-hook/ledger/camera0.jsonl"
//!                                   every segment, one JSON line each (same shape)
//!     },
//!     "snapshot": null,             or {"at", "file", "source" (device|stream),
//!                                   "bytes", "millis"}
//!     "stop_reason": null,          why `hook stop` last stopped the path
//!     "updated_at": "…"             when the state of the path last changed
//!   } }
//! }
//! ```
//!
//! # Exit status
//!
//! 0 with an answer (also when no path is known yet); 1 when PATH is not in
//! the state (nothing has run for it) or the state cannot be read; 2 when
//! PATH is not a valid path name. A corrupt state file is moved aside with a
//! warning and status answers from a fresh state.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};

use crate::cli::StatusArgs;
use crate::commands::Context;
use crate::mediamtx::env::validate_path_name;
use crate::state::identity::{is_running, stat, ProcessId};
use crate::state::{
    now, ExitRecord, PathState, Phase, SegmentRecord, Session, SnapshotRecord, State, StateStore,
};

/// Version of the `hook status --json` schema.
pub const SCHEMA_VERSION: u32 = 1;

pub fn main(ctx: &Context, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let only = match &args.path {
        Some(p) => Some(validate_path_name(Some(p), "PATH argument")?),
        None => None,
    };
    let mut state = ctx.store.read()?;
    if let Some(name) = &only {
        if !state.paths.contains_key(name) {
            let known: Vec<&str> = state.paths.keys().map(String::as_str).collect();
            anyhow::bail!(
                "no path {name:?} in the state ({}): nothing has run for it yet; known paths: {}",
                ctx.store.state_file().display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
        state.paths.retain(|k, _| k == name);
    }
    let now = now();
    let mut probe = ProcProbe::new();
    let observed: Vec<(&str, &PathState, Observed)> = state
        .paths
        .iter()
        .map(|(name, p)| {
            (
                name.as_str(),
                p,
                observe(p, now, &mut |pid, id, k| probe.alive(pid, id, k)),
            )
        })
        .collect();

    let text = if args.prometheus {
        crate::status::prometheus::render(&truthful(&state, &observed), now)?
    } else if args.json {
        let mut s = render_json(&ctx.store, &observed, now)?;
        s.push('\n');
        s
    } else {
        let local = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
        match &only {
            Some(_) => observed
                .first()
                .map(|(name, p, o)| render_details(&ctx.store, name, p, o, now, local))
                .unwrap_or_default(),
            None if observed.is_empty() => format!(
                "no paths yet: nothing has run through the hook (state directory {})\n",
                ctx.store.dir().display()
            ),
            None => render_table(&observed),
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // The reader went away (`hook status | head`): nothing left to say.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("writing status to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What kind of process a recorded pid should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessKind {
    /// A `hook` process (same executable name as this one).
    Hook,
    /// Any process (FFmpeg, a hold).
    Any,
}

/// Checks pids against `/proc`.
struct ProcProbe {
    own_comm: Option<Option<String>>,
}

impl ProcProbe {
    fn new() -> Self {
        ProcProbe { own_comm: None }
    }

    /// Running by the one rule ([`is_running`]: alive, not a zombie, and the
    /// recorded start time and boot when the state has them); for
    /// [`ProcessKind::Hook`], also this executable's name.
    fn alive(&mut self, pid: u32, recorded: Option<&ProcessId>, kind: ProcessKind) -> bool {
        if !is_running(pid, recorded) {
            return false;
        }
        match kind {
            ProcessKind::Any => true,
            ProcessKind::Hook => {
                let Some(st) = stat(pid) else {
                    return false;
                };
                let own = self
                    .own_comm
                    .get_or_insert_with(|| stat(std::process::id()).map(|s| s.comm));
                own.as_deref().is_none_or(|own| own == st.comm)
            }
        }
    }
}

/// The command name and state letter of `/proc/<pid>/stat`.
#[cfg(test)]
fn proc_stat(file: &str) -> Option<(String, char)> {
    let st = crate::state::identity::parse_stat(&std::fs::read_to_string(file).ok()?)?;
    Some((st.comm, st.state))
}

/// A path's state checked against the living processes.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
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
    pub use_cases: Vec<&'static str>,
}

/// Checks one path's state against the living processes (`alive(pid,
/// identity, kind)`): a phase that needs a `hook run` whose process is gone
/// becomes `idle` (stale), pids of processes that are gone (or reused by
/// another process) become none, a session whose hold is gone is not
/// active, a `starting` session whose `record start` is gone is stale.
pub fn observe(
    p: &PathState,
    now: OffsetDateTime,
    alive: &mut dyn FnMut(u32, Option<&ProcessId>, ProcessKind) -> bool,
) -> Observed {
    let mut notes = Vec::new();
    let mut stale = false;
    let mut phase = p.phase;
    let wants_publisher = !matches!(p.phase, Phase::Idle | Phase::Failed);

    let supervisor_pid = p
        .supervisor_pid
        .filter(|&pid| alive(pid, p.supervisor_process.as_ref(), ProcessKind::Hook));
    let supervisor_gone = p.supervisor_pid.is_some() && supervisor_pid.is_none();
    let child_pid = p
        .child_pid
        .filter(|&pid| alive(pid, p.child_process.as_ref(), ProcessKind::Any));
    let child_gone = p.child_pid.is_some() && child_pid.is_none();

    if supervisor_gone && wants_publisher {
        stale = true;
        match child_pid {
            // The publisher outlived its supervisor: it still publishes.
            Some(child) => notes.push(format!(
                "hook run (pid {}) is gone but FFmpeg (pid {child}) still runs unsupervised",
                p.supervisor_pid.unwrap_or_default()
            )),
            None => {
                phase = Phase::Idle;
                notes.push(format!(
                    "hook run (pid {}) is gone without recording its end (killed?); the state said {}",
                    p.supervisor_pid.unwrap_or_default(),
                    p.phase.as_str()
                ));
            }
        }
    } else if child_gone && p.phase == Phase::Running {
        notes.push(format!(
            "FFmpeg (pid {}) has exited; hook run has not recorded it yet",
            p.child_pid.unwrap_or_default()
        ));
    }

    let uptime_seconds = child_pid
        .and(p.child_started_at)
        .map(|t| (now - t).as_seconds_f64().max(0.0));

    let session_active = p
        .recording
        .session
        .as_ref()
        .is_some_and(|s| s.status == "active");
    let mut recording_active = p.recording.active || session_active;
    let mut recording_stale = false;
    if let Some(s) = p
        .recording
        .session
        .as_ref()
        .filter(|s| s.status == "starting")
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
    Observed {
        phase,
        stale,
        notes,
        supervisor_pid,
        child_pid,
        uptime_seconds,
        recording_active,
        recording_stale,
        use_cases,
    }
}

/// The state with what `observe` found applied (phase, pids, recording),
/// for renderers that read the state itself (`--prometheus`).
pub fn truthful(state: &State, observed: &[(&str, &PathState, Observed)]) -> State {
    let mut out = state.clone();
    for (name, _, o) in observed {
        if let Some(p) = out.paths.get_mut(*name) {
            p.phase = o.phase;
            p.supervisor_pid = o.supervisor_pid;
            p.child_pid = o.child_pid;
            p.recording.active = o.recording_active;
        }
    }
    out
}

#[derive(Serialize)]
struct JsonStatus<'a> {
    schema_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    generated_at: OffsetDateTime,
    state_dir: String,
    paths: std::collections::BTreeMap<&'a str, JsonPath<'a>>,
}

#[derive(Serialize)]
struct JsonPath<'a> {
    phase: &'static str,
    recorded_phase: &'static str,
    stale: bool,
    notes: &'a [String],
    use_cases: &'a [&'static str],
    device: &'a Option<String>,
    supervisor_pid: Option<u32>,
    child_pid: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    child_started_at: Option<OffsetDateTime>,
    uptime_seconds: Option<f64>,
    restarts: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    next_attempt_at: Option<OffsetDateTime>,
    last_exit: &'a Option<ExitRecord>,
    last_error: &'a Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_error_at: Option<OffsetDateTime>,
    stderr_tail: &'a [String],
    #[serde(with = "time::serde::rfc3339::option")]
    demand_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    ready_at: Option<OffsetDateTime>,
    activation_latency_ms: Option<u64>,
    recording: JsonRecording<'a>,
    segments: JsonSegments<'a>,
    snapshot: &'a Option<SnapshotRecord>,
    stop_reason: &'a Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    updated_at: Option<OffsetDateTime>,
}

#[derive(Serialize)]
struct JsonRecording<'a> {
    active: bool,
    stale: bool,
    session: &'a Option<Session>,
    last_session: &'a Option<Session>,
}

#[derive(Serialize)]
struct JsonSegments<'a> {
    count: u64,
    recorded_seconds: f64,
    bytes: u64,
    gaps: u64,
    gone: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    last_end: Option<OffsetDateTime>,
    last: &'a [SegmentRecord],
    ledger: String,
}

/// `--json`: the documented object (see the module documentation).
pub fn render_json(
    store: &StateStore,
    observed: &[(&str, &PathState, Observed)],
    now: OffsetDateTime,
) -> anyhow::Result<String> {
    let mut paths = std::collections::BTreeMap::new();
    for (name, p, o) in observed {
        let entry = JsonPath {
            phase: o.phase.as_str(),
            recorded_phase: p.phase.as_str(),
            stale: o.stale,
            notes: &o.notes,
            use_cases: &o.use_cases,
            device: &p.device,
            supervisor_pid: o.supervisor_pid,
            child_pid: o.child_pid,
            child_started_at: p.child_started_at,
            uptime_seconds: o.uptime_seconds,
            restarts: p.restarts,
            next_attempt_at: p.next_attempt_at,
            last_exit: &p.last_exit,
            last_error: &p.last_error,
            last_error_at: p.last_error_at,
            stderr_tail: &p.stderr_tail,
            demand_at: p.demand_at,
            ready_at: p.ready_at,
            activation_latency_ms: p.activation_latency_ms,
            recording: JsonRecording {
                active: o.recording_active,
                stale: o.recording_stale,
                session: &p.recording.session,
                last_session: &p.recording.last_session,
            },
            segments: JsonSegments {
                count: p.segments.count,
                recorded_seconds: p.segments.recorded_seconds,
                bytes: p.segments.bytes,
                gaps: p.segments.gaps,
                gone: p.segments.gone,
                last_end: p.segments.last_end,
                last: &p.segments.last,
                ledger: store.ledger_file(name).display().to_string(),
            },
            snapshot: &p.snapshot,
            stop_reason: &p.stop_reason,
            updated_at: p.updated_at,
        };
        paths.insert(*name, entry);
    }
    let doc = JsonStatus {
        schema_version: SCHEMA_VERSION,
        generated_at: now,
        state_dir: store.dir().display().to_string(),
        paths,
    };
    serde_json::to_string_pretty(&doc).context("serializing status")
}

/// The one-line-per-path table, notes below it.
pub fn render_table(observed: &[(&str, &PathState, Observed)]) -> String {
    let header = [
        "PATH",
        "PHASE",
        "USE",
        "PID",
        "UPTIME",
        "RESTARTS",
        "SEGMENTS",
        "GAPS",
        "LAST ERROR",
    ];
    let mut rows: Vec<[String; 9]> = vec![header.map(String::from)];
    let mut notes = Vec::new();
    for (name, p, o) in observed {
        let phase = format!("{}{}", o.phase.as_str(), if o.stale { "*" } else { "" });
        let segments = if p.segments.count == 0 {
            "0".to_string()
        } else {
            format!(
                "{} ({})",
                p.segments.count,
                human_duration(p.segments.recorded_seconds)
            )
        };
        rows.push([
            name.to_string(),
            phase,
            dash_if_empty(o.use_cases.join(",")),
            o.child_pid.map_or("-".into(), |pid| pid.to_string()),
            o.uptime_seconds.map_or("-".into(), human_duration),
            p.restarts.to_string(),
            segments,
            p.segments.gaps.to_string(),
            p.last_error
                .as_deref()
                .map_or("-".into(), |e| one_line(e, 60)),
        ]);
        for note in &o.notes {
            notes.push(format!("  * {name}: {note}"));
        }
    }
    let mut widths = [0usize; 9];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for note in notes {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// Every field of one path, one per line.
pub fn render_details(
    store: &StateStore,
    name: &str,
    p: &PathState,
    o: &Observed,
    now: OffsetDateTime,
    local: UtcOffset,
) -> String {
    let at = |t: Option<OffsetDateTime>| match t {
        Some(t) => format!("{} ({})", local_time(t, local), ago(t, now)),
        None => "-".to_string(),
    };
    let mut lines: Vec<(&str, String)> = Vec::new();
    lines.push(("path", name.to_string()));
    let phase = if o.phase != p.phase {
        format!("{} (the state said {})", o.phase.as_str(), p.phase.as_str())
    } else {
        o.phase.as_str().to_string()
    };
    lines.push(("phase", phase));
    for note in &o.notes {
        lines.push(("note", note.clone()));
    }
    lines.push(("use cases", dash_if_empty(o.use_cases.join(", "))));
    lines.push(("device", p.device.clone().unwrap_or_else(|| "-".into())));
    lines.push((
        "hook run pid",
        o.supervisor_pid.map_or("-".into(), |pid| pid.to_string()),
    ));
    lines.push((
        "ffmpeg pid",
        match (o.child_pid, o.uptime_seconds) {
            (Some(pid), Some(up)) => format!(
                "{pid}, up {} (since {})",
                human_duration(up),
                p.child_started_at
                    .map_or("-".into(), |t| local_time(t, local))
            ),
            (Some(pid), None) => pid.to_string(),
            (None, _) => "-".into(),
        },
    ));
    lines.push(("restarts", p.restarts.to_string()));
    if p.next_attempt_at.is_some() {
        lines.push(("next attempt", at(p.next_attempt_at)));
    }
    lines.push((
        "last exit",
        p.last_exit.as_ref().map_or("-".into(), |e| {
            let how = match (e.code, e.signal) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(sig)) => format!("signal {sig}"),
                (None, None) => "unknown status".into(),
            };
            format!(
                "{how} after {} ({}), {}",
                human_duration(e.ran_seconds),
                e.reason,
                at(Some(e.at))
            )
        }),
    ));
    lines.push((
        "last error",
        match &p.last_error {
            Some(e) => format!("{}; at {}", one_line(e, 200), at(p.last_error_at)),
            None => "-".into(),
        },
    ));
    lines.push((
        "activation",
        match p.activation_latency_ms {
            Some(ms) => format!("{ms} ms from demand to ready; ready at {}", at(p.ready_at)),
            None => format!("demand at {}; ready at {}", at(p.demand_at), at(p.ready_at)),
        },
    ));
    let session_text = |s: &Session| {
        let mut t = format!(
            "{} since {}, {}, {} recorded, {}",
            s.status,
            local_time(s.started_at, local),
            count(s.segments, "segment"),
            human_duration(s.recorded_seconds),
            count(s.gaps, "gap")
        );
        if let Some(until) = s.until {
            t.push_str(&format!(", until {}", local_time(until, local)));
        }
        if let Some(end) = s.ended_at {
            t.push_str(&format!(", ended {}", local_time(end, local)));
        }
        if let Some(why) = &s.end_reason {
            t.push_str(&format!(" ({why})"));
        }
        if let Some(hold) = s.hold_pid {
            t.push_str(&format!(", hold pid {hold}"));
        }
        t
    };
    lines.push((
        "recording",
        match &p.recording.session {
            Some(s) => format!(
                "{}{}",
                match (o.recording_stale, s.status.as_str()) {
                    (true, "starting") => "NEVER STARTED, its record start is gone: ",
                    (true, _) => "NOT held, its hold is gone: ",
                    _ => "",
                },
                session_text(s)
            ),
            None => "no session".into(),
        },
    ));
    if let Some(s) = &p.recording.last_session {
        lines.push(("last session", session_text(s)));
    }
    let seg = &p.segments;
    lines.push((
        "segments",
        format!(
            "{}, {} recorded, {}, {}{}{}",
            count(seg.count, "segment"),
            human_duration(seg.recorded_seconds),
            human_bytes(seg.bytes),
            count(seg.gaps, "gap"),
            if seg.gone > 0 {
                format!(", {} gone (files deleted)", seg.gone)
            } else {
                String::new()
            },
            seg.last_end.map_or(String::new(), |t| format!(
                ", last ends {}",
                local_time(t, local)
            ))
        ),
    ));
    if let Some(last) = seg.last.last() {
        lines.push((
            "last segment",
            format!(
                "{} ({}, {})",
                last.file,
                human_duration(last.duration),
                human_bytes(last.size)
            ),
        ));
    }
    lines.push(("ledger", store.ledger_file(name).display().to_string()));
    lines.push((
        "snapshot",
        p.snapshot.as_ref().map_or("-".into(), |s| {
            format!(
                "{} from {}, {}, {} ms, {}",
                s.file,
                s.source,
                human_bytes(s.bytes),
                s.millis,
                at(Some(s.at))
            )
        }),
    ));
    if let Some(why) = &p.stop_reason {
        lines.push(("stop reason", why.clone()));
    }
    lines.push(("updated", at(p.updated_at)));

    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (k, v) in &lines {
        out.push_str(&format!("{:<width$} {v}\n", format!("{k}:")));
    }
    if !p.stderr_tail.is_empty() {
        out.push_str("ffmpeg stderr (last lines):\n");
        for l in &p.stderr_tail {
            out.push_str("  | ");
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// `1 gap`, `3 gaps`.
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn dash_if_empty(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

/// First line of `s`, at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > max {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// `45s`, `12m05s`, `1h02m`, `3d04h`.
pub fn human_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    if secs < 10.0 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `512 B`, `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// `2026-11-24 04:43:19 +01:00`.
fn local_time(t: OffsetDateTime, local: UtcOffset) -> String {
    let t = t.to_offset(local);
    let (h, m, _) = local.as_hms();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        if local.is_negative() { '-' } else { '+' },
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

fn ago(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (now - t).as_seconds_f64();
    if secs >= 0.0 {
        format!("{} ago", human_duration(secs))
    } else {
        format!("in {}", human_duration(-secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);

    fn running() -> PathState {
        PathState {
            phase: Phase::Running,
            supervisor_pid: Some(100),
            child_pid: Some(101),
            child_started_at: Some(datetime!(2026-11-24 09:00:00 UTC)),
            ..PathState::default()
        }
    }

    fn session(hold: Option<u32>) -> Session {
        Session {
            started_at: datetime!(2026-11-24 09:30:00 UTC),
            until: None,
            ended_at: None,
            status: "active".into(),
            end_reason: None,
            segments: 2,
            recorded_seconds: 60.0,
            gaps: 0,
            hold_pid: hold,
            hold_process: None,
            starter_pid: None,
            starter_process: None,
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
                phase,
                supervisor_pid: Some(5),
                ..PathState::default()
            };
            let o = observe(&p, NOW, &mut |_, _, _| false);
            assert_eq!(o.phase, phase);
            assert!(!o.stale);
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let store = StateStore::new("/var/lib/mediamtx-hook");
        let mut p = running();
        p.restarts = 2;
        p.segments.count = 3;
        p.segments.recorded_seconds = 90.5;
        p.segments.gaps = 1;
        let o = observe(&p, NOW, &mut |_, _, _| true);
        let json = render_json(&store, &[("cam0", &p, o)], NOW).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["schema_version"], 1);
        let c = &v["paths"]["cam0"];
        assert_eq!(c["phase"], "running");
        assert_eq!(c["child_pid"], 101);
        assert_eq!(c["restarts"], 2);
        assert!(c["last_error"].is_null());
        assert_eq!(c["recording"]["active"], false);
        assert_eq!(c["segments"]["count"], 3);
        assert_eq!(c["segments"]["recorded_seconds"], 90.5);
        assert_eq!(c["segments"]["gaps"], 1);
        assert_eq!(c["uptime_seconds"], 3600.0);
        assert_eq!(c["use_cases"], serde_json::json!(["viewing"]));
        assert_eq!(
            c["segments"]["ledger"],
            "/var/lib/mediamtx-hook/ledger/cam0.jsonl"
        );
    }

    #[test]
    fn table_lines_up_and_marks_stale() {
        let mut a = running();
        a.last_error = Some("first line\nsecond".into());
        a.segments.count = 12;
        a.segments.recorded_seconds = 21600.0;
        let b = running();
        let oa = observe(&a, NOW, &mut |_, _, _| true);
        let ob = observe(&b, NOW, &mut |_, _, _| false);
        let text = render_table(&[("camera0", &a, oa), ("cam1", &b, ob)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("PATH     PHASE"), "{text}");
        assert!(lines[1].starts_with("camera0  running  viewing"), "{text}");
        assert!(lines[1].contains("12 (6h00m)"), "{text}");
        assert!(lines[1].ends_with("first line"), "{text}");
        assert!(lines[2].starts_with("cam1     idle*"), "{text}");
        assert!(
            lines[3].starts_with("  * cam1: hook run (pid 100) is gone"),
            "{text}"
        );
        let col = lines[0].find("RESTARTS").unwrap();
        assert_eq!(&lines[1][col..col + 1], "0");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_duration(4.25), "4.2s");
        assert_eq!(human_duration(45.0), "45s");
        assert_eq!(human_duration(725.0), "12m05s");
        assert_eq!(human_duration(3720.0), "1h02m");
        assert_eq!(human_duration(3.0 * 86400.0 + 4.0 * 3600.0), "3d04h");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn proc_stat_parses_odd_names() {
        let me = proc_stat("/proc/thread-self/stat").unwrap();
        assert_eq!(me.1, 'R');
        assert!(!me.0.is_empty());
        assert!(proc_stat("/proc/0/stat").is_none());
    }
}
