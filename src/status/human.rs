//! `hook status` for people: one line per path, then the details of each
//! path (recording, last exit, snapshot), in local time and human units.
//!
//! # The table and the details
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
//! PID and UPTIME are FFmpeg's (the publisher). When a path has a live still
//! (`stills.every`), a STILL column before LAST ERROR shows its age. SEGMENTS is the count and the
//! recorded time over every segment of the path. With PATH, every field, one
//! per line (phase, use cases, device, pids, uptime, restarts, next attempt,
//! last exit, last error, activation latency, recording session, last
//! session, segments, ledger file, snapshot, still, stop reason, stderr tail).
//! Times are shown in local time. Below either, the machine's disk budget
//! (storage line), the disk forecast (hours of recording left at the last
//! day's write rate, `status::forecast`) and each path's oldest kept segment.
//!

use crate::state::observe::*;
use crate::state::{PathState, Session, SessionStatus, StateStore};
use time::{OffsetDateTime, UtcOffset};

pub(crate) use crate::status::units::{ago, local_time, one_line};
pub(crate) use crate::status::units::{human_bytes, human_duration};

/// How many re-triggers of a session the details list (the state keeps
/// more, shown by `--json`).
const RETRIGGERS_SHOWN: usize = 5;

/// The STILL column: the live still's age, `-` when there is none.
fn still_age(p: &PathState, now: OffsetDateTime) -> String {
    match p.still.as_ref().and_then(|s| s.at) {
        Some(at) => human_duration((now - at).as_seconds_f64().max(0.0)),
        None => "-".into(),
    }
}

/// The one-line-per-path table, notes below it. STILL is the age of the
/// path's live still (`stills.every`), shown when any path has one.
pub(crate) fn render_table(
    observed: &[(&str, &PathState, Observed)],
    now: OffsetDateTime,
) -> String {
    let header = [
        "PATH",
        "PHASE",
        "USE",
        "PID",
        "UPTIME",
        "RESTARTS",
        "SEGMENTS",
        "GAPS",
        "STILL",
        "LAST ERROR",
    ];
    let mut rows: Vec<[String; 10]> = vec![header.map(String::from)];
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
            p.publisher.restarts.to_string(),
            segments,
            p.segments.gaps.to_string(),
            still_age(p, now),
            match (&o.cause, p.publisher.last_error.as_deref()) {
                (Some(f), _) => one_line(&format!("{}: {}", f.cause, f.detail), 72),
                (None, Some(e)) => one_line(e, 60),
                (None, None) => "-".into(),
            },
        ]);
        for note in &o.notes {
            notes.push(format!("  * {name}: {note}"));
        }
    }
    // STILL only when some path has a still: without stills the table is
    // as it always was.
    const STILL: usize = 8;
    let any_still = observed.iter().any(|(_, p, _)| p.still.is_some());
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .enumerate()
                .filter(|&(i, _)| any_still || i != STILL)
                .map(|(_, cell)| cell)
                .collect()
        })
        .collect();
    let mut widths = [0usize; 10];
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
pub(crate) fn render_details(
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
    let phase = if o.phase != p.publisher.phase {
        format!(
            "{} (the state said {})",
            o.phase.as_str(),
            p.publisher.phase.as_str()
        )
    } else {
        o.phase.as_str().to_string()
    };
    lines.push(("phase", phase));
    for note in &o.notes {
        lines.push(("note", note.clone()));
    }
    lines.push(("use cases", dash_if_empty(o.use_cases.join(", "))));
    lines.push((
        "device",
        p.publisher.device.clone().unwrap_or_else(|| "-".into()),
    ));
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
                p.publisher
                    .child_started_at
                    .map_or("-".into(), |t| local_time(t, local))
            ),
            (Some(pid), None) => pid.to_string(),
            (None, _) => "-".into(),
        },
    ));
    lines.push(("restarts", p.publisher.restarts.to_string()));
    if p.publisher.next_attempt_at.is_some() {
        lines.push(("next attempt", at(p.publisher.next_attempt_at)));
    }
    lines.push((
        "last exit",
        p.publisher.last_exit.as_ref().map_or("-".into(), |e| {
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
        match &p.publisher.last_error {
            Some(e) => format!("{}; at {}", one_line(e, 200), at(p.publisher.last_error_at)),
            None => "-".into(),
        },
    ));
    if let Some(f) = &o.cause {
        lines.push((
            "cause",
            format!(
                "{} ({}), since {}",
                f.cause,
                f.cause.summary(),
                at(Some(f.since))
            ),
        ));
        lines.push(("evidence", one_line(&f.detail, 300)));
        lines.push(("fix", f.fix.clone()));
    }
    lines.push((
        "activation",
        match p.publisher.activation_latency_ms {
            Some(ms) => format!(
                "{ms} ms from demand to ready; ready at {}",
                at(p.publisher.ready_at)
            ),
            None => format!(
                "demand at {}; ready at {}",
                at(p.publisher.demand_at),
                at(p.publisher.ready_at)
            ),
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
        if let Some(why) = &s.reason {
            t.push_str(&format!(", started for: {}", one_line(why, 200)));
        }
        t
    };
    // The latest re-triggers of a session, newest first, then how many more.
    let retrigger_lines = |s: &Session, lines: &mut Vec<(&str, String)>| {
        if s.retriggers == 0 {
            return;
        }
        let shown = s.recent_retriggers.iter().rev().take(RETRIGGERS_SHOWN);
        let mut listed = 0u64;
        for r in shown {
            listed += 1;
            let ends = match r.until {
                Some(u) => format!("until {}", local_time(u, local)),
                None => "until `hook record stop`".to_string(),
            };
            lines.push((
                "re-trigger",
                format!(
                    "{}: {}{}{}",
                    local_time(r.at, local),
                    if r.changed { "" } else { "unchanged, " },
                    ends,
                    r.reason
                        .as_deref()
                        .map_or(String::new(), |w| format!(" ({})", one_line(w, 200)))
                ),
            ));
        }
        if s.retriggers > listed {
            lines.push((
                "re-trigger",
                format!(
                    "{} earlier (see --json for the last {})",
                    s.retriggers - listed,
                    crate::state::RECENT_RETRIGGERS
                ),
            ));
        }
    };
    lines.push((
        "recording",
        match &p.recording.session {
            Some(s) => format!(
                "{}{}{}",
                match (o.recording_stale, s.status) {
                    (true, SessionStatus::Starting) => "NEVER STARTED, its record start is gone: ",
                    (true, _) => "NOT held, its hold is gone: ",
                    _ => "",
                },
                match &o.recording_cause {
                    Some(f) => format!(
                        "NOT RECORDING ({}): {}; fix: {}; ",
                        f.cause.summary(),
                        f.detail,
                        f.fix
                    ),
                    None => String::new(),
                },
                session_text(s)
            ),
            None => "no session".into(),
        },
    ));
    if let Some(s) = &p.recording.session {
        if let Some(c) = crate::status::recording::coverage(s, p.segments.last_end) {
            lines.push((
                "coverage",
                format!(
                    "{:.1} s recorded of {:.1} s, {:.1} s missing",
                    c.recorded_seconds, c.elapsed_seconds, c.missing_seconds
                ),
            ));
        }
        retrigger_lines(s, &mut lines);
    }
    if let Some(s) = &p.recording.last_session {
        lines.push(("last session", session_text(s)));
        retrigger_lines(s, &mut lines);
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
    lines.extend(crate::status::events::human_lines(p, now, local));
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
    if let Some(s) = &p.still {
        let every = s.every_ms.map_or(String::new(), |ms| {
            format!(", every {}", human_duration(ms as f64 / 1000.0))
        });
        lines.push((
            "still",
            match (s.at, s.bytes) {
                (Some(t), Some(bytes)) => format!(
                    "{}, {}, taken {}{every}",
                    s.file,
                    human_bytes(bytes),
                    at(Some(t))
                ),
                _ => format!("{} (not written yet{every})", s.file),
            },
        ));
    }
    if let Some(why) = &p.stop_reason {
        lines.push(("stop reason", why.clone()));
    }
    lines.push(("updated", at(p.updated_at)));

    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (k, v) in &lines {
        out.push_str(&format!("{:<width$} {v}\n", format!("{k}:")));
    }
    if !p.publisher.stderr_tail.is_empty() {
        out.push_str("ffmpeg stderr (last lines):\n");
        for l in &p.publisher.stderr_tail {
            out.push_str("  | ");
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// `1 gap`, `3 gaps`.
pub(crate) fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub(crate) fn dash_if_empty(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}
