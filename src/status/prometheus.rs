//! `hook status --prometheus`: the state as node_exporter textfile-collector
//! metrics, prefixed `mediamtx_hook_`, one `path` label per MediaMTX path.
//!
//! The textfile collector refuses a file where a metric family's samples are
//! not contiguous, where HELP or TYPE appears twice, or where samples carry
//! timestamps, so the output is built family by family (all paths inside
//! each), with HELP and TYPE once each and no timestamps. A value that is not
//! known (no child running, never activated, no snapshot yet) is left out
//! rather than reported as a made-up 0: absent is what PromQL expects.
//!
//! Ages and uptimes are as of `now`, i.e. when the file was written; the
//! matching `*_timestamp_seconds` metrics stay exact however stale the file
//! is, and are what alerts should prefer (`time() - …`).

use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::state::{PathState, Phase, State};

/// Every phase a path can be in, in the order the phase gauge lists them.
pub(crate) const PHASES: [Phase; 7] = [
    Phase::Idle,
    Phase::WaitingForDevice,
    Phase::Starting,
    Phase::Running,
    Phase::Backoff,
    Phase::Stopping,
    Phase::Failed,
];

/// Prometheus metric types used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// One path's samples of a family: (extra labels besides `path`, value).
type Samples = Vec<(Vec<(&'static str, String)>, f64)>;

/// One metric family: name (without prefix), type, help text, and how to get
/// each path's samples as (extra labels, value).
struct Family {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    samples: fn(&PathState, OffsetDateTime) -> Samples,
}

/// The families, in output order. docs/reference.md's metric table lists
/// them (tests/it/docs_reference.rs keeps the two equal).
const FAMILIES: &[Family] = &[
    Family {
        name: "phase",
        kind: Kind::Gauge,
        help: "Phase of the path's publisher: 1 for the current phase, 0 for the others.",
        samples: |p, _| {
            PHASES
                .iter()
                .map(|&ph| {
                    (
                        vec![("phase", ph.as_str().to_string())],
                        f64::from(u8::from(p.publisher.phase == ph)),
                    )
                })
                .collect()
        },
    },
    Family {
        name: "cause",
        kind: Kind::Gauge,
        help: "Why the path's publisher is not working: 1 on one series per path, labelled with the cause (none when nothing is wrong; the set is documented).",
        samples: |p, _| {
            let cause = p.publisher.failure.as_ref().map_or("none", |f| f.cause.as_str());
            vec![(vec![("cause", cause.to_string())], 1.0)]
        },
    },
    Family {
        name: "restarts_total",
        kind: Kind::Counter,
        help: "Times the supervisor restarted the path's FFmpeg after it exited or stalled.",
        samples: |p, _| one(p.publisher.restarts as f64),
    },
    Family {
        name: "child_running",
        kind: Kind::Gauge,
        help: "1 when an FFmpeg child is publishing the path, else 0.",
        samples: |p, _| one(f64::from(u8::from(p.publisher.child_pid.is_some()))),
    },
    Family {
        name: "child_uptime_seconds",
        kind: Kind::Gauge,
        help: "Seconds the current FFmpeg child had been running when the metrics were written; absent when none runs.",
        samples: |p, now| match (p.publisher.child_pid, p.publisher.child_started_at) {
            (Some(_), Some(at)) => one(seconds_between(at, now)),
            _ => vec![],
        },
    },
    Family {
        name: "child_start_timestamp_seconds",
        kind: Kind::Gauge,
        help: "Unix time the current FFmpeg child started; absent when none runs.",
        samples: |p, _| match (p.publisher.child_pid, p.publisher.child_started_at) {
            (Some(_), Some(at)) => one(unix_seconds(at)),
            _ => vec![],
        },
    },
    Family {
        name: "activation_latency_seconds",
        kind: Kind::Gauge,
        help: "Seconds from demand (hook run started) to the stream being available (hook ready), last activation.",
        samples: |p, _| match p.publisher.activation_latency_ms {
            Some(ms) => one(ms as f64 / 1000.0),
            None => vec![],
        },
    },
    Family {
        name: "segments_deleted_total",
        kind: Kind::Counter,
        help: "Recording segments the disk budget deleted on the path.",
        samples: |p, _| one(p.segments.deleted as f64),
    },
    Family {
        name: "segments_kept_bytes",
        kind: Kind::Gauge,
        help: "Bytes of the path's kept recording segments (its share of the disk budget).",
        samples: |p, _| one(p.segments.kept_bytes as f64),
    },
    Family {
        name: "segments_total",
        kind: Kind::Counter,
        help: "Recording segments completed on the path.",
        samples: |p, _| one(p.segments.count as f64),
    },
    Family {
        name: "recorded_seconds_total",
        kind: Kind::Counter,
        help: "Seconds of video in the completed segments.",
        samples: |p, _| one(p.segments.recorded_seconds),
    },
    Family {
        name: "recorded_bytes_total",
        kind: Kind::Counter,
        help: "Bytes in the completed segments.",
        samples: |p, _| one(p.segments.bytes as f64),
    },
    Family {
        name: "gaps_total",
        kind: Kind::Counter,
        help: "Holes found between consecutive segments (a segment starting later than the tolerance after the previous one ended).",
        samples: |p, _| one(p.segments.gaps as f64),
    },
    Family {
        name: "recording_active",
        kind: Kind::Gauge,
        help: "1 while a recording session is active on the path, else 0.",
        samples: |p, _| one(f64::from(u8::from(p.recording.active))),
    },
    Family {
        name: "recording_stalled",
        kind: Kind::Gauge,
        help: "1 while the path's live recording session records nothing (no segment for longer than a segment duration plus the gap tolerance, or its hold gone); hook status shows the cause. Else 0.",
        samples: |p, _| one(f64::from(u8::from(p.recording.stalled))),
    },
    Family {
        name: "session_stale",
        kind: Kind::Gauge,
        help: "1 while the path's live recording session has lost the process keeping it (its hold, or its `hook record start`), so nothing is recorded for it; else 0. The hook starts a dead hold again within seconds; a value that stays 1 needs a person.",
        samples: |p, _| one(f64::from(u8::from(p.recording.stale))),
    },
    Family {
        name: "last_snapshot_timestamp_seconds",
        kind: Kind::Gauge,
        help: "Unix time of the last snapshot; absent when none was taken.",
        samples: |p, _| match &p.snapshot {
            Some(s) => one(unix_seconds(s.at)),
            None => vec![],
        },
    },
    Family {
        name: "last_snapshot_age_seconds",
        kind: Kind::Gauge,
        help: "Seconds since the last snapshot when the metrics were written; absent when none was taken.",
        samples: |p, now| match &p.snapshot {
            Some(s) => one(seconds_between(s.at, now)),
            None => vec![],
        },
    },
    Family {
        name: "still_timestamp_seconds",
        kind: Kind::Gauge,
        help: "Unix time the path's live still was written (stills.every); absent when there is none.",
        samples: |p, _| match p.still.as_ref().and_then(|s| s.at) {
            Some(at) => one(unix_seconds(at)),
            None => vec![],
        },
    },
    Family {
        name: "still_age_seconds",
        kind: Kind::Gauge,
        help: "Age of the path's live still when the metrics were written; absent when there is none.",
        samples: |p, now| match p.still.as_ref().and_then(|s| s.at) {
            Some(at) => one(seconds_between(at, now)),
            None => vec![],
        },
    },
    Family {
        name: "armed",
        kind: Kind::Gauge,
        help: "1 when the path is armed for events (hook record arm), else 0.",
        samples: |p, _| one(f64::from(u8::from(p.armed.is_some()))),
    },
    Family {
        name: "ring_segments",
        kind: Kind::Gauge,
        help: "Segments in an armed path's rolling window; absent when not armed.",
        samples: |p, _| match &p.armed {
            Some(a) => one(a.ring.len() as f64),
            None => vec![],
        },
    },
    Family {
        name: "ring_bytes",
        kind: Kind::Gauge,
        help: "Bytes of an armed path's rolling window on disk; absent when not armed.",
        samples: |p, _| match &p.armed {
            Some(a) => one(a.ring_bytes() as f64),
            None => vec![],
        },
    },
    Family {
        name: "rolled_segments_total",
        kind: Kind::Counter,
        help: "Segments deleted from an armed path's rolling window since it was armed; absent when not armed.",
        samples: |p, _| match &p.armed {
            Some(a) => one(a.rolled as f64),
            None => vec![],
        },
    },
    Family {
        name: "events_total",
        kind: Kind::Counter,
        help: "Events started on the path (record start on an armed path).",
        samples: |p, _| one(p.event_count as f64),
    },
    Family {
        name: "event_pre_roll_seconds",
        kind: Kind::Gauge,
        help: "Pre-roll the latest event achieved (segments start at key frames); absent when not known.",
        samples: |p, _| match p.events.last().and_then(|e| e.achieved_pre_seconds()) {
            Some(s) => one(s),
            None => vec![],
        },
    },
    Family {
        name: "event_active",
        kind: Kind::Gauge,
        help: "1 while the latest event's window (to its post-roll) has not ended; absent without events.",
        samples: |p, now| match p.events.last() {
            Some(e) => one(f64::from(u8::from(e.window_end() > now))),
            None => vec![],
        },
    },
];

fn one(v: f64) -> Samples {
    vec![(vec![], v)]
}

fn unix_seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// `now - then` in seconds, never negative (clocks of different processes
/// may disagree by a little).
fn seconds_between(then: OffsetDateTime, now: OffsetDateTime) -> f64 {
    (now - then).as_seconds_f64().max(0.0)
}

/// Metric name prefix.
pub(crate) const PREFIX: &str = "mediamtx_hook_";

/// Renders the metrics for every path in `state` (already filtered by the
/// caller when one path was asked for).
pub fn render(state: &State, now: OffsetDateTime) -> anyhow::Result<String> {
    let mut out = String::new();
    // Always present, so an empty state still yields a non-empty, valid file
    // and "no paths" can be told apart from "the collector broke".
    header(
        &mut out,
        "paths",
        Kind::Gauge,
        "MediaMTX paths the hook has state for.",
    );
    writeln!(out, "{PREFIX}paths {}", state.paths.len())?;
    for family in FAMILIES {
        let mut rows = Vec::new();
        for (path, ps) in &state.paths {
            for (labels, value) in (family.samples)(ps, now) {
                rows.push(sample_line(family.name, path, &labels, value));
            }
        }
        if rows.is_empty() {
            continue;
        }
        header(&mut out, family.name, family.kind, family.help);
        for row in rows {
            out.push_str(&row);
        }
    }
    Ok(out)
}

/// The disk budget's figures, machine-wide (no path label): the
/// recordings' file system, what the kept segments take, the budget and
/// whether it is met. Left out while the state has no path, so a fresh
/// machine's file stays `paths` alone.
pub(crate) fn render_storage(s: &crate::status::storage::Storage) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: Option<u64>| {
        if let Some(v) = value {
            header(&mut out, name, Kind::Gauge, help);
            let _ = writeln!(out, "{PREFIX}{name} {v}");
        }
    };
    gauge(
        "storage_free_bytes",
        "Free bytes on the recordings' file system.",
        s.free_bytes,
    );
    gauge(
        "storage_total_bytes",
        "Size of the recordings' file system in bytes.",
        s.total_bytes,
    );
    gauge(
        "storage_recordings_bytes",
        "Bytes the kept segments of every path take.",
        Some(s.recordings_bytes),
    );
    gauge(
        "storage_max_size_bytes",
        "recording.max_size: the most the kept segments may take (absent: no cap).",
        s.max_size_bytes,
    );
    gauge(
        "storage_min_free_bytes",
        "recording.min_free: free bytes to keep on the recordings' file system.",
        s.min_free_bytes,
    );
    gauge(
        "storage_budget_met",
        "1 when the recordings are within the disk budget, 0 when it cannot be met.",
        Some(u64::from(s.budget_met)),
    );
    gauge(
        "storage_filesystem_low",
        "1 when the recordings' file system has (almost) no free space left (under 1% or 64 MiB, whichever is less), whatever the budget; else 0.",
        Some(u64::from(s.filesystem_low)),
    );
    let f = &s.forecast;
    if let Some(rate) = f.write_bytes_per_second {
        header(
            &mut out,
            "storage_write_bytes_per_second",
            Kind::Gauge,
            "Bytes per second recorded over the last 24 hours, all paths; absent when nothing was recorded then.",
        );
        let _ = writeln!(
            out,
            "{PREFIX}storage_write_bytes_per_second {}",
            format_value(rate)
        );
    }
    let hours = [
        ("budget", f.budget_hours),
        ("filesystem", f.filesystem_hours),
    ];
    if hours.iter().any(|(_, h)| h.is_some()) {
        header(
            &mut out,
            "storage_forecast_seconds",
            Kind::Gauge,
            "Recording time left at that rate, in seconds: limit=budget until the disk budget is reached (then old segments are deleted), limit=filesystem until the file system is full if nothing were deleted.",
        );
        for (limit, h) in hours {
            if let Some(h) = h {
                let _ = writeln!(
                    out,
                    "{PREFIX}storage_forecast_seconds{{limit=\"{limit}\"}} {}",
                    format_value(h * 3600.0)
                );
            }
        }
    }
    out
}

fn header(out: &mut String, name: &str, kind: Kind, help: &str) {
    let _ = writeln!(out, "# HELP {PREFIX}{name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {PREFIX}{name} {}", kind.as_str());
}

fn sample_line(name: &str, path: &str, extra: &[(&str, String)], value: f64) -> String {
    let mut line = format!("{PREFIX}{name}{{path=\"{}\"", escape_label(path));
    for (k, v) in extra {
        let _ = write!(line, ",{k}=\"{}\"", escape_label(v));
    }
    let _ = writeln!(line, "}} {}", format_value(value));
    line
}

/// Escapes a label value per the text exposition format: backslash, double
/// quote and line feed.
pub(crate) fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Escapes HELP text: backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Formats a sample value the way Prometheus parses it (`+Inf`, `-Inf`,
/// `NaN`; integers without a fraction).
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Publisher, RecordingState, SegmentTotals, SnapshotRecord, SnapshotSource};
    use time::macros::datetime;

    fn now() -> OffsetDateTime {
        datetime!(2026-01-02 03:04:05 UTC)
    }

    fn busy_path() -> PathState {
        PathState {
            publisher: Publisher {
                phase: Phase::Running,
                child_pid: Some(4242),
                child_started_at: Some(datetime!(2026-01-02 03:03:05 UTC)),
                restarts: 3,
                activation_latency_ms: Some(1250),
                ..Default::default()
            },
            recording: RecordingState {
                active: true,
                ..Default::default()
            },
            segments: SegmentTotals {
                count: 12,
                recorded_seconds: 21600.5,
                bytes: 123_456_789,
                gaps: 1,
                ..Default::default()
            },
            snapshot: Some(SnapshotRecord {
                at: datetime!(2026-01-02 03:00:05 UTC),
                file: "/tmp/x.jpg".into(),
                source: SnapshotSource::Stream,
                bytes: 1000,
                millis: 80,
            }),
            ..Default::default()
        }
    }

    fn state(paths: Vec<(&str, PathState)>) -> State {
        let mut s = State::empty();
        for (k, v) in paths {
            s.paths.insert(k.to_string(), v);
        }
        s
    }

    #[test]
    fn empty_state_has_only_the_path_count() {
        let out = render(&State::empty(), now()).unwrap();
        assert_eq!(
            out,
            "# HELP mediamtx_hook_paths MediaMTX paths the hook has state for.\n\
             # TYPE mediamtx_hook_paths gauge\n\
             mediamtx_hook_paths 0\n"
        );
    }

    #[test]
    fn busy_path_values() {
        let out = render(&state(vec![("camera0", busy_path())]), now()).unwrap();
        for line in [
            "mediamtx_hook_paths 1",
            "mediamtx_hook_phase{path=\"camera0\",phase=\"running\"} 1",
            "mediamtx_hook_phase{path=\"camera0\",phase=\"idle\"} 0",
            "mediamtx_hook_phase{path=\"camera0\",phase=\"waiting-for-device\"} 0",
            "mediamtx_hook_restarts_total{path=\"camera0\"} 3",
            "mediamtx_hook_child_running{path=\"camera0\"} 1",
            "mediamtx_hook_child_uptime_seconds{path=\"camera0\"} 60",
            "mediamtx_hook_child_start_timestamp_seconds{path=\"camera0\"} 1767322985",
            "mediamtx_hook_activation_latency_seconds{path=\"camera0\"} 1.25",
            "mediamtx_hook_segments_total{path=\"camera0\"} 12",
            "mediamtx_hook_recorded_seconds_total{path=\"camera0\"} 21600.5",
            "mediamtx_hook_recorded_bytes_total{path=\"camera0\"} 123456789",
            "mediamtx_hook_gaps_total{path=\"camera0\"} 1",
            "mediamtx_hook_recording_active{path=\"camera0\"} 1",
            "mediamtx_hook_last_snapshot_timestamp_seconds{path=\"camera0\"} 1767322805",
            "mediamtx_hook_last_snapshot_age_seconds{path=\"camera0\"} 240",
        ] {
            assert!(
                out.lines().any(|l| l == line),
                "missing {line:?} in:\n{out}"
            );
        }
        let phase_lines = out
            .lines()
            .filter(|l| l.starts_with("mediamtx_hook_phase{"))
            .count();
        assert_eq!(phase_lines, PHASES.len());
        let current = out
            .lines()
            .filter(|l| l.starts_with("mediamtx_hook_phase{") && l.ends_with(" 1"))
            .count();
        assert_eq!(current, 1, "exactly one current phase:\n{out}");
    }

    #[test]
    fn one_cause_series_per_path_none_when_well() {
        let mut down = PathState {
            publisher: Publisher {
                phase: Phase::WaitingForDevice,
                ..Default::default()
            },
            ..PathState::default()
        };
        down.publisher.failure = Some(crate::state::Failure::new(
            crate::state::Cause::Unplugged,
            "gone",
        ));
        let out = render(&state(vec![("a", busy_path()), ("b", down)]), now()).unwrap();
        let causes: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("mediamtx_hook_cause{"))
            .collect();
        assert_eq!(
            causes,
            [
                "mediamtx_hook_cause{path=\"a\",cause=\"none\"} 1",
                "mediamtx_hook_cause{path=\"b\",cause=\"unplugged\"} 1",
            ],
            "{out}"
        );
    }

    #[test]
    fn unknown_values_are_absent_not_zero() {
        let out = render(&state(vec![("cam", PathState::default())]), now()).unwrap();
        for name in [
            "child_uptime_seconds",
            "child_start_timestamp_seconds",
            "activation_latency_seconds",
            "last_snapshot_timestamp_seconds",
            "last_snapshot_age_seconds",
        ] {
            assert!(!out.contains(name), "{name} must be absent:\n{out}");
        }
        assert!(out.contains("mediamtx_hook_child_running{path=\"cam\"} 0\n"));
        assert!(out.contains("mediamtx_hook_phase{path=\"cam\",phase=\"idle\"} 1\n"));
    }

    #[test]
    fn families_are_contiguous_with_one_help_and_type() {
        let out = render(
            &state(vec![("a", busy_path()), ("b", PathState::default())]),
            now(),
        )
        .unwrap();
        let mut seen: Vec<String> = Vec::new();
        for line in out.lines() {
            let name = if let Some(rest) = line.strip_prefix("# HELP ") {
                rest.split(' ').next().unwrap().to_string()
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                rest.split(' ').next().unwrap().to_string()
            } else {
                line.split(['{', ' ']).next().unwrap().to_string()
            };
            if seen.last() != Some(&name) {
                assert!(!seen.contains(&name), "{name} appears twice apart:\n{out}");
                seen.push(name);
            }
        }
        assert_eq!(
            out.matches("# HELP mediamtx_hook_restarts_total ").count(),
            1
        );
        assert_eq!(
            out.matches("# TYPE mediamtx_hook_restarts_total ").count(),
            1
        );
        assert_eq!(out.matches("mediamtx_hook_restarts_total{").count(), 2);
        // Uptime only for the path with a child.
        assert_eq!(
            out.matches("mediamtx_hook_child_uptime_seconds{").count(),
            1
        );
    }

    #[test]
    fn counters_end_in_total() {
        for f in FAMILIES {
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("a\nb"), "a\\nb");
        let out = render(&state(vec![("we\"ird\\", PathState::default())]), now()).unwrap();
        assert!(
            out.contains("mediamtx_hook_restarts_total{path=\"we\\\"ird\\\\\"} 0\n"),
            "{out}"
        );
    }

    #[test]
    fn values_format_as_prometheus_reads_them() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(1.25), "1.25");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(1e20), "100000000000000000000");
    }

    #[test]
    fn storage_has_the_forecast_when_there_is_a_rate() {
        use crate::status::forecast::Forecast;
        let mut s = crate::status::storage::Storage {
            root: "/rec/".into(),
            free_bytes: Some(100),
            total_bytes: Some(200),
            recordings_bytes: 10,
            max_size_bytes: None,
            min_free_bytes: Some(5),
            budget_met: true,
            filesystem_low: false,
            forecast: Forecast {
                write_bytes_per_second: Some(2.5),
                budget_hours: Some(0.5),
                filesystem_hours: None,
            },
        };
        let out = render_storage(&s);
        for line in [
            "# TYPE mediamtx_hook_storage_write_bytes_per_second gauge",
            "mediamtx_hook_storage_write_bytes_per_second 2.5",
            "# TYPE mediamtx_hook_storage_forecast_seconds gauge",
            "mediamtx_hook_storage_forecast_seconds{limit=\"budget\"} 1800",
        ] {
            assert!(
                out.lines().any(|l| l == line),
                "missing {line:?} in:\n{out}"
            );
        }
        assert!(!out.contains("limit=\"filesystem\""), "{out}");
        s.forecast = Forecast::default();
        let out = render_storage(&s);
        assert!(
            !out.contains("forecast") && !out.contains("write_bytes"),
            "{out}"
        );
    }

    #[test]
    fn clock_skew_never_gives_negative_ages() {
        let mut p = busy_path();
        p.publisher.child_started_at = Some(now() + time::Duration::seconds(2));
        let out = render(&state(vec![("c", p)]), now()).unwrap();
        assert!(out.contains("mediamtx_hook_child_uptime_seconds{path=\"c\"} 0\n"));
    }
}
