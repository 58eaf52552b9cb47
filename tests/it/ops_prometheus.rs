//! The metrics file as node_exporter's textfile collector and Prometheus
//! read it: a strict checker of the text exposition format (version 0.0.4)
//! applied to what the renderer writes for many kinds of state, and
//! `promtool check metrics` on the same text, and
//! `hook status --prometheus` of a live publisher and recorded segments.

use crate::support::cmd::Cmd;
use crate::support::common;
use crate::support::run as run_support;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::*;
use run_support::{Hook, HookOptions};

use mediamtx_hook::state::{
    PathState, Phase, Publisher, RecordingState, SegmentTotals, SnapshotRecord, SnapshotSource,
    State,
};
use mediamtx_hook::status::prometheus::render;
use time::macros::datetime;

/// Checks `text` against the exposition format as the textfile collector
/// enforces it; returns every problem found, with its line number.
fn check_exposition(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !text.is_empty() && !text.ends_with('\n') {
        problems.push("the text does not end with a line feed".to_string());
    }
    let mut help: HashSet<String> = HashSet::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series: HashSet<String> = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let mut bad = |msg: String| problems.push(format!("line {n}: {msg}: {line:?}"));
        if line.is_empty() {
            bad("empty line".into());
            continue;
        }
        let family_of_line: String;
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest.split_once(' ').unwrap_or((rest, ""));
            if !valid_metric_name(name) {
                bad(format!("invalid metric name {name:?}"));
            }
            if doc.trim().is_empty() {
                bad("empty HELP text".into());
            }
            if !valid_help_escapes(doc) {
                bad("HELP text has an escape other than \\\\ or \\n".into());
            }
            if !help.insert(name.to_string()) {
                bad(format!("second HELP for {name}"));
            }
            if types.contains_key(name) {
                bad("HELP after TYPE (promtool wants HELP first)".into());
            }
            family_of_line = name.to_string();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let Some((name, kind)) = rest.split_once(' ') else {
                bad("TYPE without a type".into());
                continue;
            };
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                bad(format!("unknown type {kind:?}"));
            }
            if kind == "counter" && !name.ends_with("_total") {
                bad(format!("counter {name} does not end in _total"));
            }
            if types.insert(name.to_string(), kind.to_string()).is_some() {
                bad(format!("second TYPE for {name}"));
            }
            if series
                .iter()
                .any(|s| s.starts_with(&format!("{name}{{")) || s == name)
            {
                bad(format!("TYPE for {name} after its samples"));
            }
            family_of_line = name.to_string();
        } else if line.starts_with('#') {
            bad("comment that is neither HELP nor TYPE".into());
            continue;
        } else {
            match parse_sample(line) {
                Ok((name, labels, value_fields)) => {
                    if !types.contains_key(&name) {
                        bad(format!("sample of {name} without a TYPE before it"));
                    }
                    if !help.contains(&name) {
                        bad(format!("sample of {name} without a HELP"));
                    }
                    if value_fields.len() != 1 {
                        bad("timestamps are not allowed in textfile metrics".into());
                    }
                    if !valid_value(&value_fields[0]) {
                        bad(format!("value {:?} is not a float", value_fields[0]));
                    }
                    // Only the path count and the machine-wide disk budget
                    // figures are about no one path.
                    if !labels.iter().any(|(k, _)| k == "path")
                        && name != "mediamtx_hook_paths"
                        && !name.starts_with("mediamtx_hook_storage_")
                    {
                        bad("sample without a path label".into());
                    }
                    let mut seen = HashSet::new();
                    for (k, _) in &labels {
                        if !seen.insert(k.clone()) {
                            bad(format!("label {k} twice"));
                        }
                    }
                    let key = format!("{name}{labels:?}");
                    if !series.insert(key) {
                        bad("duplicate series".into());
                    }
                    family_of_line = name;
                }
                Err(e) => {
                    bad(e);
                    continue;
                }
            }
        }
        if !family_of_line.starts_with("mediamtx_hook_") {
            problems.push(format!(
                "line {n}: {family_of_line} lacks the mediamtx_hook_ prefix"
            ));
        }
        if current.as_deref() != Some(family_of_line.as_str()) {
            if finished.contains(&family_of_line) {
                problems.push(format!(
                    "line {n}: family {family_of_line} is not contiguous"
                ));
            }
            if let Some(prev) = current.take() {
                finished.insert(prev);
            }
            current = Some(family_of_line);
        }
    }
    for name in types.keys() {
        if !help.contains(name) {
            problems.push(format!("{name} has TYPE but no HELP"));
        }
    }
    problems
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

fn valid_help_escapes(doc: &str) -> bool {
    let mut chars = doc.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && !matches!(chars.next(), Some('\\') | Some('n')) {
            return false;
        }
    }
    true
}

fn valid_value(v: &str) -> bool {
    matches!(v, "NaN" | "+Inf" | "-Inf") || (v.parse::<f64>().is_ok() && !v.contains("inf"))
}

/// Splits a sample line into name, labels (unescaped) and the fields after them.
#[allow(clippy::type_complexity)]
fn parse_sample(line: &str) -> Result<(String, Vec<(String, String)>, Vec<String>), String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| "sample without a value".to_string())?;
    let name = &line[..name_end];
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        loop {
            // label name
            let start = chars.peek().map(|(i, _)| *i).ok_or("unterminated labels")?;
            if body[start..].starts_with('}') {
                chars.next();
                break;
            }
            let eq = body[start..].find('=').ok_or("label without =")? + start;
            let lname = &body[start..eq];
            if !valid_label_name(lname) {
                return Err(format!("invalid label name {lname:?}"));
            }
            while chars.peek().map(|(i, _)| *i) != Some(eq) {
                chars.next();
            }
            chars.next(); // '='
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated label value".into()),
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape in label value: {other:?}")),
                    },
                    Some((_, '\n')) => return Err("raw line feed in label value".into()),
                    Some((_, c)) => value.push(c),
                }
            }
            labels.push((lname.to_string(), value));
            match chars.next() {
                Some((_, ',')) => continue,
                Some((i, '}')) => {
                    rest = &body[i + 1..];
                    break;
                }
                other => return Err(format!("expected , or }} after a label, got {other:?}")),
            }
        }
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected one space before the value")?;
    let fields: Vec<String> = rest.split(' ').map(str::to_string).collect();
    if fields.iter().any(|f| f.is_empty()) {
        return Err("extra spaces".into());
    }
    Ok((name.to_string(), labels, fields))
}

fn sample_state() -> State {
    let mut s = State::empty();
    let now_minus = |secs: i64| datetime!(2026-01-02 03:04:05 UTC) - time::Duration::seconds(secs);
    s.paths.insert("camera0".into(), PathState::default());
    s.paths.insert(
        "camera1".into(),
        PathState {
            publisher: Publisher {
                phase: Phase::Running,
                child_pid: Some(77),
                child_started_at: Some(now_minus(90)),
                restarts: 2,
                activation_latency_ms: Some(840),
                ..Default::default()
            },
            recording: RecordingState {
                active: true,
                ..Default::default()
            },
            segments: SegmentTotals {
                count: 48,
                recorded_seconds: 86_399.25,
                bytes: 9_876_543_210,
                gaps: 2,
                ..Default::default()
            },
            snapshot: Some(SnapshotRecord {
                at: now_minus(30),
                file: "/srv/snap.jpg".into(),
                source: SnapshotSource::Device,
                bytes: 40_000,
                millis: 120,
            }),
            ..Default::default()
        },
    );
    s.paths.insert(
        "odd \"name\" \\ here".into(),
        PathState {
            publisher: Publisher {
                phase: Phase::Backoff,
                restarts: 9,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    s
}

#[test]
fn checker_catches_what_the_collector_refuses() {
    // The checker itself must reject the mistakes it is there to catch.
    let good =
        "# HELP mediamtx_hook_x X.\n# TYPE mediamtx_hook_x gauge\nmediamtx_hook_x{path=\"a\"} 1\n";
    assert!(
        check_exposition(good).is_empty(),
        "{:?}",
        check_exposition(good)
    );
    for bad in [
        // no TYPE
        "# HELP mediamtx_hook_x X.\nmediamtx_hook_x{path=\"a\"} 1\n",
        // timestamp
        "# HELP mediamtx_hook_x X.\n# TYPE mediamtx_hook_x gauge\nmediamtx_hook_x{path=\"a\"} 1 1700000000000\n",
        // bad escape
        "# HELP mediamtx_hook_x X.\n# TYPE mediamtx_hook_x gauge\nmediamtx_hook_x{path=\"a\\q\"} 1\n",
        // family split in two
        "# HELP mediamtx_hook_x X.\n# TYPE mediamtx_hook_x gauge\nmediamtx_hook_x{path=\"a\"} 1\n# HELP mediamtx_hook_y Y.\n# TYPE mediamtx_hook_y gauge\nmediamtx_hook_y{path=\"a\"} 1\nmediamtx_hook_x{path=\"b\"} 1\n",
        // counter without _total
        "# HELP mediamtx_hook_x X.\n# TYPE mediamtx_hook_x counter\nmediamtx_hook_x{path=\"a\"} 1\n",
        // duplicate series
        "# HELP mediamtx_hook_x X.\n# TYPE mediamtx_hook_x gauge\nmediamtx_hook_x{path=\"a\"} 1\nmediamtx_hook_x{path=\"a\"} 2\n",
        // not a number
        "# HELP mediamtx_hook_x X.\n# TYPE mediamtx_hook_x gauge\nmediamtx_hook_x{path=\"a\"} one\n",
        // no trailing newline
        "# HELP mediamtx_hook_x X.\n# TYPE mediamtx_hook_x gauge\nmediamtx_hook_x{path=\"a\"} 1",
        // wrong prefix
        "# HELP other_x X.\n# TYPE other_x gauge\nother_x{path=\"a\"} 1\n",
    ] {
        assert!(!check_exposition(bad).is_empty(), "checker accepted:\n{bad}");
    }
}

#[test]
fn rendered_metrics_pass_the_strict_checker() {
    let now = datetime!(2026-01-02 03:04:05 UTC);
    for state in [State::empty(), sample_state()] {
        let text = render(&state, now).unwrap();
        let problems = check_exposition(&text);
        assert!(problems.is_empty(), "{problems:#?}\n{text}");
    }
    let text = render(&sample_state(), now).unwrap();
    // The odd path name survives escaping and unescaping.
    let odd = text
        .lines()
        .find(|l| l.starts_with("mediamtx_hook_restarts_total{") && l.ends_with(" 9"))
        .expect("restarts of the odd path");
    let (_, labels, _) = parse_sample(odd).unwrap();
    assert_eq!(
        labels,
        vec![("path".to_string(), "odd \"name\" \\ here".to_string())]
    );
}

#[test]
fn promtool_accepts_the_metrics() {
    let text = render(&sample_state(), datetime!(2026-01-02 03:04:05 UTC)).unwrap();
    if let Some(e) = promtool(&text) {
        panic!("promtool refused it: {e}\n{text}");
    }
}

/// `promtool check metrics` on `text`; Some(error) when it refuses it.
/// promtool comes from scripts/deps.sh: without it, this panics.
fn promtool(text: &str) -> Option<String> {
    let (ok, out) = crate::support::prom::run_promtool(
        std::path::Path::new("."),
        &["check", "metrics"],
        Some(text),
    );
    (!ok).then_some(out)
}

#[test]
fn status_prometheus_of_a_live_publisher_and_a_recording() {
    let dir = TempDir::new("prom-live");
    let state = dir.join("state");
    let listener = RtspListener::start("camera0");
    let mut hook = Hook::start(&dir, HookOptions::testsrc("camera0", listener.port));
    assert!(
        hook.wait_phase("running", Duration::from_secs(15)),
        "{}",
        hook.log()
    );
    // MediaMTX says the stream is available: activation latency.
    let (code, _, err) = Cmd::mediamtx(&state, "camera0", listener.port)
        .arg("ready")
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    // Two segments with a hole between them on another path.
    for name in [
        "2026-01-02_03-04-05-000000.mp4",
        "2026-01-02_03-05-05-000000.mp4",
    ] {
        let f = dir.join(name);
        std::fs::write(&f, vec![0u8; 2048]).unwrap();
        let (code, _, err) = Cmd::mediamtx(&state, "camera1", free_port())
            .arg("segment-complete")
            .env("MTX_SEGMENT_PATH", &f)
            .env("MTX_SEGMENT_DURATION", "10.0")
            .run()
            .parts();
        assert_eq!(code, 0, "{err}");
    }

    let (code, text, err) = Cmd::hook(&state)
        .args(["status", "--prometheus"])
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    let problems = check_exposition(&text);
    assert!(problems.is_empty(), "{problems:#?}\n{text}");
    if let Some(e) = promtool(&text) {
        panic!("promtool refused it: {e}\n{text}");
    }
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(has("mediamtx_hook_paths 2"), "{text}");
    // The disk budget's machine-wide gauges, with no path label.
    for gauge in [
        "mediamtx_hook_storage_recordings_bytes ",
        "mediamtx_hook_storage_budget_met ",
        "mediamtx_hook_storage_min_free_bytes ",
        "mediamtx_hook_storage_free_bytes ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(gauge)),
            "{gauge}\n{text}"
        );
    }
    assert!(
        !text.contains("mediamtx_hook_storage_max_size_bytes"),
        "no max_size, no gauge: {text}"
    );
    assert!(
        has("mediamtx_hook_phase{path=\"camera0\",phase=\"running\"} 1"),
        "{text}"
    );
    assert!(
        has("mediamtx_hook_phase{path=\"camera1\",phase=\"idle\"} 1"),
        "{text}"
    );
    assert!(
        has("mediamtx_hook_child_running{path=\"camera0\"} 1"),
        "{text}"
    );
    assert!(
        has("mediamtx_hook_segments_total{path=\"camera1\"} 2"),
        "{text}"
    );
    assert!(
        has("mediamtx_hook_recorded_seconds_total{path=\"camera1\"} 20"),
        "{text}"
    );
    assert!(
        has("mediamtx_hook_recorded_bytes_total{path=\"camera1\"} 4096"),
        "{text}"
    );
    assert!(
        has("mediamtx_hook_gaps_total{path=\"camera1\"} 1"),
        "{text}"
    );
    assert!(
        has("mediamtx_hook_recording_active{path=\"camera1\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("mediamtx_hook_child_uptime_seconds{path=\"camera0\"} "),
        "{text}"
    );
    assert!(
        text.contains("mediamtx_hook_activation_latency_seconds{path=\"camera0\"} "),
        "{text}"
    );

    // One path asked for: only its samples.
    let (code, one, err) = Cmd::hook(&state)
        .args(["status", "camera1", "--prometheus"])
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    assert!(check_exposition(&one).is_empty(), "{one}");
    assert!(one.contains("mediamtx_hook_paths 1\n"), "{one}");
    assert!(!one.contains("camera0"), "{one}");

    // Once the publisher is gone, status says so in the metrics too.
    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(5))
        .expect("stops on SIGINT");
    assert!(status.success());
    let (code, text, err) = Cmd::hook(&state)
        .args(["status", "--prometheus"])
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    assert!(
        has_line(&text, "mediamtx_hook_child_running{path=\"camera0\"} 0"),
        "{text}"
    );
    assert!(
        !text.contains("mediamtx_hook_child_uptime_seconds{path=\"camera0\"}"),
        "{text}"
    );
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn status_prometheus_on_a_fresh_machine_is_valid_and_creates_nothing() {
    // The metrics timer may run before anything else on a new box.
    let dir = TempDir::new("prom-fresh");
    let state = dir.join("never-created");
    let (code, text, err) = Cmd::hook(&state)
        .args(["status", "--prometheus"])
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        text,
        "# HELP mediamtx_hook_paths MediaMTX paths the hook has state for.\n\
         # TYPE mediamtx_hook_paths gauge\n\
         mediamtx_hook_paths 0\n"
    );
    assert!(check_exposition(&text).is_empty());
    assert!(!state.exists(), "status only reads");
}
