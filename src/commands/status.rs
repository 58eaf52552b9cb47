//! `hook status [PATH] [--json | --prometheus]`: what every path is doing,
//! for people and for machines.
//!
//! The state file says what the hook processes last wrote; status checks it
//! against the living processes before it says anything, so a `hook run`
//! that was SIGKILLed (and could not record its end) is shown as gone, not
//! as running, and a pid recorded with its start time and boot
//! (`state::identity`) that now names another process is not taken for
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
//!     "cause": null,                why the publisher is not working, one of the
//!                                   documented set (README, Causes): camera_missing,
//!                                   unplugged, not_a_camera, busy, permission,
//!                                   usb_bandwidth, unsupported_format, unsupported_size,
//!                                   no_frames, encoder_failed, ffmpeg_failed,
//!                                   mediamtx_unreachable, credentials_refused,
//!                                   disk_full, device_error, other; null while idle,
//!                                   running or stopping
//!     "cause_detail": null,         the evidence (the error, FFmpeg's line, the holder)
//!     "cause_fix": null,            what to do about it
//!     "cause_since": null,          when this cause was first seen
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
//!                                   ({"pid", "start_ticks", "boot_id"}), "reason"
//!                                   (`--reason`), "retriggers" (int), "recent_retriggers"
//!                                   (the last 20: {"at", "reason", "duration_seconds",
//!                                   "until" (null: open-ended), "changed" (bool)})}
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
//!     "snapshot": null,             or {"at", "file", "source" (device|stream|still),
//!                                   "bytes", "millis"}
//!     "still": null,                the live still (stills.every), or {"file", "at" (the
//!                                   file's time, null until written), "age_seconds",
//!                                   "bytes", "every_seconds"}; it stays after the
//!                                   stream stops
//!     "stop_reason": null,          why `hook stop` last stopped the path
//!     "armed": null,                an armed path (`hook record arm`): {"since",
//!                                   "pre_seconds", "post_seconds", "segment_duration",
//!                                   "window_from", "window_to", "ring_segments",
//!                                   "ring_bytes", "rolled", "rolled_bytes", "ring"}
//!     "events": [],                 the latest events: {"id", "at", "until",
//!                                   "window_start", "window_end", "reason",
//!                                   "pre_seconds", "post_seconds",
//!                                   "achieved_pre_seconds", "kept_from",
//!                                   "retriggers", "active"}
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
use time::UtcOffset;

use crate::cli::StatusArgs;
use crate::commands::Context;
use crate::mediamtx::env::validate_path_name;
use crate::state::observe::*;
use crate::state::{now, PathState};
use crate::status::human::*;
use crate::status::json::*;

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
    }
    // The disk budget is the whole machine's: its figures come from every
    // path, whichever ones are shown.
    let storage = crate::status::storage::Storage::observe(&state, &ctx.policy.recording, now());
    if let Some(name) = &only {
        state.paths.retain(|k, _| k == name);
    }
    // A still's time and size are the file's own (FFmpeg writes it).
    for p in state.paths.values_mut() {
        if let Some(still) = &p.still {
            p.still = Some(crate::state::stills::look_at_still(still));
        }
    }
    let now = now();
    let mut probe = ProcProbe::new();
    let space = storage.space();
    let rec = &ctx.policy.recording;
    let segment = time::Duration::try_from(rec.segment_duration.0).unwrap_or(time::Duration::MAX);
    let tolerance = time::Duration::try_from(rec.gap_tolerance.0).unwrap_or_default();
    let observed: Vec<(&str, &PathState, Observed)> = state
        .paths
        .iter()
        .map(|(name, p)| {
            let mut o = observe(p, now, &mut |pid, id, k| probe.alive(pid, id, k));
            // Never "recording" while nothing is written.
            o.recording_cause =
                crate::status::recording::trouble(p, &o, now, segment, tolerance, space);
            if o.recording_cause.is_some() {
                o.recording_active = false;
                o.use_cases.retain(|u| *u != "recording");
            }
            (name.as_str(), p, o)
        })
        .collect();

    let text = if args.prometheus {
        crate::status::prometheus::render(&truthful(&state, &observed), now)?
    } else if args.json {
        let mut s = render_json_with(&ctx.store, &observed, now, Some(&storage))?;
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
            None => render_table(&observed, now),
        }
    };
    // Below the table or the one path: the storage line, the forecast, the
    // oldest kept segment of each path and, loud, a budget that cannot be met. The
    // metrics get the same figures as gauges.
    let text = if args.prometheus {
        if observed.is_empty() {
            text
        } else {
            text + &crate::status::prometheus::render_storage(&storage)
        }
    } else if args.json || observed.is_empty() {
        text
    } else {
        text + &storage.human(&state)
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // The reader went away (`hook status | head`): nothing left to say.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("writing status to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::observe::tests::{running, NOW};
    use crate::state::StateStore;

    #[test]
    fn json_has_the_documented_fields() {
        let store = StateStore::new("/var/lib/mediamtx-hook");
        let mut p = running();
        p.publisher.restarts = 2;
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
        a.publisher.last_error = Some("first line\nsecond".into());
        a.segments.count = 12;
        a.segments.recorded_seconds = 21600.0;
        let b = running();
        let oa = observe(&a, NOW, &mut |_, _, _| true);
        let ob = observe(&b, NOW, &mut |_, _, _| false);
        let text = render_table(&[("camera0", &a, oa), ("cam1", &b, ob)], NOW);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("PATH     PHASE"), "{text}");
        assert!(!lines[0].contains("STILL"), "no stills, no column: {text}");
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
    fn the_still_shows_its_age_everywhere() {
        let store = StateStore::new("/var/lib/mediamtx-hook");
        let mut p = running();
        p.still = Some(crate::state::StillRecord {
            file: "/var/lib/mediamtx-hook/stills/cam0.jpg".into(),
            every_ms: Some(10_000),
            at: Some(NOW - time::Duration::seconds(4)),
            bytes: Some(12_345),
        });
        let o = observe(&p, NOW, &mut |_, _, _| true);
        let json = render_json(&store, &[("cam0", &p, o.clone())], NOW).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let still = &v["paths"]["cam0"]["still"];
        assert_eq!(still["file"], "/var/lib/mediamtx-hook/stills/cam0.jpg");
        assert_eq!(still["at"], "2026-11-24T09:59:56Z");
        assert_eq!(still["age_seconds"], 4.0);
        assert_eq!(still["bytes"], 12_345);
        assert_eq!(still["every_seconds"], 10.0);
        let table = render_table(
            &[("cam0", &p, o.clone()), ("cam1", &running(), o.clone())],
            NOW,
        );
        let col = table.lines().next().unwrap().find("STILL").unwrap();
        assert!(
            table.lines().nth(1).unwrap()[col..].starts_with("4.0s"),
            "{table}"
        );
        let details = render_details(&store, "cam0", &p, &o, NOW, time::UtcOffset::UTC);
        assert!(
            details.contains("still:") && details.contains("cam0.jpg, 12.1 KiB, taken"),
            "{details}"
        );
        let metrics = crate::status::prometheus::render(
            &truthful(
                &crate::state::State {
                    schema_version: 1,
                    paths: [("cam0".to_string(), p.clone())].into(),
                    recording_root: None,
                },
                &[],
            ),
            NOW,
        )
        .unwrap();
        assert!(
            metrics.contains("mediamtx_hook_still_age_seconds{path=\"cam0\"} 4\n"),
            "{metrics}"
        );
        // No still: null, a dash, no sample.
        let q = running();
        let o = observe(&q, NOW, &mut |_, _, _| true);
        let json = render_json(&store, &[("cam1", &q, o)], NOW).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v["paths"]["cam1"]["still"].is_null());
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
}
