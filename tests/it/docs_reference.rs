//! `docs/reference.md` against what the hook really writes, both ways: every
//! key of `hook status --json` (recursively), every metric family of `hook
//! status --prometheus`, every key of the policy file and every cause is in
//! the reference's tables, and every key the tables list is written. The status
//! outputs come from the real `hook` binary on a state in which every
//! optional object and list is filled in; the policy keys from the
//! library's own serializer of the policy.

use crate::support::common::*;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use mediamtx_hook::policy::Policy;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn reference() -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md");
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The keys listed in the first column of the tables under the heading
/// `heading` (up to the next heading of the same or a higher level): each
/// backticked name in that cell, without a metric's `{labels}`.
fn listed(doc: &str, heading: &str) -> BTreeSet<String> {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let mut inside = false;
    let mut fenced = false;
    let mut keys = BTreeSet::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with('#') {
            let l = line.chars().take_while(|&c| c == '#').count();
            if line == heading {
                inside = true;
                continue;
            }
            if inside && l <= level {
                break;
            }
        }
        if !inside || !line.starts_with("| `") {
            continue;
        }
        let cell = line[1..].split(" | ").next().unwrap_or("");
        for (i, part) in cell.split('`').enumerate() {
            if i % 2 == 1 {
                let name = part.split('{').next().unwrap().trim();
                keys.insert(name.to_string());
            }
        }
    }
    assert!(
        !keys.is_empty(),
        "no table rows under {heading:?} in docs/reference.md"
    );
    keys
}

/// Every key of a JSON value, as dotted paths from `prefix`; array items
/// add no step (`segments.last.file`).
fn keys_of(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                keys_of(v, &path, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                keys_of(item, prefix, out);
            }
        }
        _ => {}
    }
}

/// Names of the one set missing from the other, for the message.
fn compare(what: &str, real: &BTreeSet<String>, documented: &BTreeSet<String>) {
    let undocumented: Vec<&String> = real.difference(documented).collect();
    let unknown: Vec<&String> = documented.difference(real).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "docs/reference.md and the {what} differ:\n  written but not in the reference: {undocumented:?}\n  in the reference but not written: {unknown:?}"
    );
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// A state in which every optional part of a path is filled in. The
/// processes it names are this test's own (alive, so the status shows
/// them running); the hold's identity does not match, so its session is
/// stale and says why.
fn full_state(dir: &Path) -> serde_json::Value {
    let me = std::process::id();
    let now = OffsetDateTime::now_utc();
    let t = |secs: i64| rfc3339(now - time::Duration::seconds(secs));
    let hour = now.unix_timestamp().div_euclid(3600);
    let identity = serde_json::json!({"pid": me, "start_ticks": 1, "boot_id": "not-this-boot"});
    let session = serde_json::json!({
        "started_at": t(7200), "until": t(-600), "ended_at": null, "status": "active",
        "end_reason": null, "segments": 2, "recorded_seconds": 60.0, "gaps": 1,
        "hold_pid": me, "hold_process": identity, "starter_pid": me,
        "starter_process": identity, "reason": "motion", "retriggers": 1,
        "recent_retriggers": [{"at": t(3600), "reason": "door", "duration_seconds": 60.0,
            "until": t(-600), "changed": true}],
        "revivals": 1,
        "recent_revivals": [{"at": t(3000), "dead_pid": 1, "new_pid": me, "by": "hook run"}]
    });
    serde_json::json!({
        "schema_version": 1,
        "recording_root": dir.join("recordings").display().to_string(),
        "paths": {
            "camera0": {
                "phase": "failed",
                "device": "/dev/video0",
                "child_pid": me,
                "child_started_at": t(60),
                "restarts": 2,
                "next_attempt_at": t(-5),
                "last_exit": {"at": t(70), "code": 1, "signal": null, "ran_seconds": 3.5,
                    "reason": "exited"},
                "last_error": "busy: held by pid 1",
                "last_error_at": t(70),
                "failure": {"cause": "busy", "detail": "held by pid 1", "fix": "stop it",
                    "since": t(70)},
                "stderr_tail": ["Device or resource busy"],
                "demand_at": t(80),
                "ready_at": t(79),
                "activation_latency_ms": 450,
                "recording": {"active": true, "session": session, "last_session": session},
                "segments": {
                    "count": 3, "recorded_seconds": 90.0, "bytes": 3000, "gaps": 1,
                    "last_end": t(3600),
                    "last": [{"file": dir.join("recordings/a.mp4").display().to_string(),
                        "start": t(3630), "duration": 30.0, "size": 1000, "gap_before": 60.0,
                        "gap_cause": "unplugged", "start_from": "file-name", "recovered": true,
                        "session": t(7200)}],
                    "holes": [{"from": t(3700), "to": t(3640), "found_at": t(3600),
                        "cause": "hold_dead"}],
                    "gone": 1,
                    "gone_cursor": {"offset": 0, "file": "/r/a.mp4"},
                    "kept": 2, "kept_bytes": 2000, "recovered": 1, "deleted": 1,
                    "deleted_bytes": 1000,
                    "written": {"hours": [[hour, 5_000_000]], "since": t(7200)}
                },
                "snapshot": {"at": t(30), "file": "/tmp/a.jpg", "source": "device",
                    "bytes": 100, "millis": 70},
                "still": {"file": dir.join("camera0.jpg").display().to_string(),
                    "every_ms": 10000, "at": t(5), "bytes": 100},
                "stop_reason": "maintenance",
                "outages": [{"from": t(3700), "to": null, "cause": "hold_dead",
                    "detail": "the hold was killed"}],
                "armed": {"since": t(600), "pre_ms": 10000, "post_ms": 5000,
                    "segment_duration": "2s",
                    "ring": [{"file": "/r/b.mp4", "start": t(20), "duration": 2.0, "size": 10}],
                    "rolled": 1, "rolled_bytes": 5},
                "events": [{"id": 1, "at": t(40), "until": t(20), "reason": "door",
                    "pre_ms": 10000, "post_ms": 5000, "kept_from": t(48), "retriggers": 1}],
                "event_count": 1,
                "updated_at": t(1)
            }
        }
    })
}

fn status(state: &Path, config: &Path, arg: &str) -> String {
    let mut c = hook_command(state);
    c.args(["status", arg])
        .env("HOOK_CONFIG", config)
        .env("TZ", "UTC");
    let (code, out, err) = run_to_end(c, Duration::from_secs(30));
    assert_eq!(code, 0, "hook status {arg}: {err}");
    out
}

fn prepared() -> (TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = TempDir::new("docs-reference");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(dir.join("recordings")).unwrap();
    // The still's time and size are its file's.
    std::fs::write(dir.join("camera0.jpg"), b"\xff\xd8\xff\xd9").unwrap();
    std::fs::write(state.join("state.json"), full_state(dir.path()).to_string()).unwrap();
    let config = write_config(dir.path(), r#"{"recording": {"max_size": "50GiB"}}"#);
    (dir, state, config)
}

#[test]
fn the_reference_lists_every_key_of_status_json() {
    let (_dir, state, config) = prepared();
    let out = status(&state, &config, "--json");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut top = BTreeSet::new();
    let mut per_path = BTreeSet::new();
    for (k, v) in doc.as_object().unwrap() {
        top.insert(k.clone());
        if k == "paths" {
            for path in v.as_object().unwrap().values() {
                keys_of(path, "", &mut per_path);
            }
        } else {
            keys_of(v, k, &mut top);
        }
    }
    // The previous session has the live one's keys; the reference says so
    // once.
    let per_path: BTreeSet<String> = per_path
        .into_iter()
        .map(|k| match k.strip_prefix("recording.last_session.") {
            Some(rest) => format!("recording.session.{rest}"),
            None => k,
        })
        .collect();
    assert!(
        per_path.contains("events.achieved_pre_seconds"),
        "{per_path:?}"
    );
    let text = reference();
    compare(
        "top level of `hook status --json`",
        &top,
        &listed(&text, "### Top level"),
    );
    compare(
        "paths of `hook status --json`",
        &per_path,
        &listed(&text, "### Per path (`paths.<name>`)"),
    );
}

#[test]
fn the_reference_lists_every_metric() {
    let (_dir, state, config) = prepared();
    let out = status(&state, &config, "--prometheus");
    let real: BTreeSet<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert!(
        real.iter().all(|m| m.starts_with("mediamtx_hook_")),
        "{real:?}"
    );
    assert!(real.len() > 30, "only {} families: {out}", real.len());
    compare(
        "families of `hook status --prometheus`",
        &real,
        &listed(&reference(), "## Metrics (`hook status --prometheus`)"),
    );
}

#[test]
fn the_reference_lists_every_config_key() {
    // Every key set, so that the optional ones are serialized too.
    let policy = Policy::from_json(
        r#"{"recording": {"max_size": "50GiB", "min_free": "5%"}, "stills": {"every": "10s"}}"#,
        "test",
    )
    .unwrap();
    let value = serde_json::to_value(&policy).unwrap();
    let mut real = BTreeSet::new();
    for (section, keys) in value.as_object().unwrap() {
        for key in keys.as_object().unwrap().keys() {
            real.insert(format!("{section}.{key}"));
        }
    }
    assert!(real.contains("recording.max_size") && real.contains("events.pre"));
    compare(
        "keys of the policy file",
        &real,
        &listed(&reference(), "### Keys"),
    );
}

#[test]
fn the_reference_lists_every_cause() {
    let real: BTreeSet<String> = mediamtx_hook::state::Cause::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let text = reference();
    compare("causes (`Cause::ALL`)", &real, &listed(&text, "## Causes"));
    let recording = listed(&text, "## Recording causes");
    let unknown: Vec<&String> = recording.difference(&real).collect();
    assert!(
        unknown.is_empty(),
        "recording causes that are no causes: {unknown:?}"
    );
}
