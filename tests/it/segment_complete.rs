//! `hook segment-complete` as MediaMTX runs it: real processes, real files,
//! hundreds at once, and every untrusted input refused.

use crate::support::cmd::Cmd;
use crate::support::common;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

fn ledger_lines(state_dir: &Path, path: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(state_dir.join("ledger").join(format!("{path}.jsonl")))
        .unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("ledger line parses"))
        .collect()
}

#[test]
fn two_hundred_at_once_on_one_path_are_all_counted() {
    let dir = TempDir::new("seg200");
    let state = dir.join("state");
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    // Contiguous 2 s segments, all started at once: they finish in any order.
    let files: Vec<_> = (0..200)
        .map(|i| fake_segment(&rec, i as f64 * 2.0, 100 + i))
        .collect();
    let mut children: Vec<_> = files
        .iter()
        .map(|f| {
            let mut c = segment_command(&state, "cam0", f, "2.000");
            c.env("TZ", "UTC")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    for c in &mut children {
        let status = wait_timeout(c, Duration::from_secs(120)).expect("segment-complete ends");
        assert!(status.success(), "{status:?}");
    }
    let seg = &path_state(&state, "cam0")["segments"];
    assert_eq!(seg["count"], 200);
    assert_eq!(seg["recorded_seconds"], 400.0);
    assert_eq!(seg["bytes"], (0..200u64).map(|i| 100 + i).sum::<u64>());
    assert_eq!(seg["gaps"], 0, "out-of-order arrival is no gap: {seg}");
    assert_eq!(seg["last_end"], "2026-11-24T10:06:40Z");
    let lines = ledger_lines(&state, "cam0");
    assert_eq!(lines.len(), 200);
    let named: HashSet<String> = lines
        .iter()
        .map(|l| l["file"].as_str().unwrap().to_string())
        .collect();
    let expected: HashSet<String> = files.iter().map(|f| f.display().to_string()).collect();
    assert_eq!(named, expected);
}

#[test]
fn ordered_series_with_one_hole_counts_one_gap() {
    let dir = TempDir::new("seggap");
    let state = dir.join("state");
    // 10 s segments 0.3 s apart (within the 1.5 s tolerance), and one 20 s
    // hole after the sixth.
    let mut start = 0.0;
    for i in 0..10 {
        let f = fake_segment(dir.path(), start, 1000);
        let (code, _, err) = run_to_end(segment_command(&state, "cam0", &f, "10.0"), LIMIT);
        assert_eq!(code, 0, "{err}");
        if i == 6 {
            assert!(err.contains("gap of 20.300s"), "{err}");
        } else {
            assert!(!err.contains("gap of"), "{err}");
        }
        start += 10.3;
        if i == 5 {
            start += 20.0;
        }
    }
    let seg = &path_state(&state, "cam0")["segments"];
    assert_eq!(seg["count"], 10);
    assert_eq!(seg["gaps"], 1);
    let lines = ledger_lines(&state, "cam0");
    let with_gap: Vec<_> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.get("gap_before").is_some())
        .collect();
    assert_eq!(with_gap.len(), 1);
    assert_eq!(with_gap[0].0, 6);
    let gap = with_gap[0].1["gap_before"].as_f64().unwrap();
    assert!((gap - 20.3).abs() < 1e-3, "{gap}");
}

#[test]
fn the_same_segment_reported_twice_is_counted_once() {
    let dir = TempDir::new("segtwice");
    let state = dir.join("state");
    let f = fake_segment(dir.path(), 0.0, 10);
    for _ in 0..2 {
        let (code, _, err) = run_to_end(segment_command(&state, "cam0", &f, "10"), LIMIT);
        assert_eq!(code, 0, "{err}");
    }
    let (_, _, err) = run_to_end(segment_command(&state, "cam0", &f, "10"), LIMIT);
    assert!(err.contains("already recorded"), "{err}");
    assert_eq!(path_state(&state, "cam0")["segments"]["count"], 1);
    assert_eq!(ledger_lines(&state, "cam0").len(), 1);
}

#[test]
fn gap_tolerance_from_flag_and_config() {
    let dir = TempDir::new("segtol");
    let series = |state: &Path, extra: &dyn Fn(&mut std::process::Command)| {
        // A 1 s hole: no gap at the default 1.5 s tolerance.
        for start in [0.0, 11.0] {
            let f = fake_segment(dir.path(), start, 10);
            let mut c = segment_command(state, "cam0", &f, "10");
            extra(&mut c);
            let (code, _, err) = run_to_end(c, LIMIT);
            assert_eq!(code, 0, "{err}");
        }
        path_state(state, "cam0")["segments"]["gaps"].clone()
    };
    assert_eq!(series(&dir.join("default"), &|_| {}), 0);
    assert_eq!(
        series(&dir.join("flag"), &|c| {
            c.arg("--gap-tolerance").arg("500ms");
        }),
        1
    );
    let cfg = write_config(dir.path(), r#"{"recording":{"gap_tolerance":"0.5s"}}"#);
    assert_eq!(
        series(&dir.join("config"), &|c| {
            c.env("HOOK_CONFIG", &cfg);
        }),
        1
    );
}

#[test]
fn file_name_is_read_in_mediamtx_local_time() {
    let dir = TempDir::new("segtz");
    // 2026-11-24 10:00 local: winter time in Paris (+1) and New York (-5).
    for (tz, utc) in [
        ("Europe/Paris", "2026-11-24T09:00:00Z"),
        ("America/New_York", "2026-11-24T15:00:00Z"),
        ("UTC", "2026-11-24T10:00:00Z"),
    ] {
        let state = dir.join(tz.replace('/', "-"));
        let f = fake_segment(dir.path(), 0.0, 10);
        let (code, _, err) = Cmd::segment(&state, "cam0", &f, "60")
            .env("TZ", tz)
            .limit(LIMIT)
            .run()
            .parts();
        assert_eq!(code, 0, "{err}");
        let last = &path_state(&state, "cam0")["segments"]["last"][0];
        assert_eq!(last["start"], utc, "TZ={tz}");
        assert_eq!(last["start_from"], "file-name");
    }
}

#[test]
fn start_falls_back_to_mtime_minus_duration() {
    let dir = TempDir::new("segmtime");
    let state = dir.join("state");
    let f = dir.join("clip.mp4");
    std::fs::write(&f, b"data").unwrap();
    // 2026-11-24T10:00:30Z
    let mtime = std::time::UNIX_EPOCH + Duration::from_secs(1_795_514_430);
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let (code, _, err) = run_to_end(segment_command(&state, "cam0", &f, "30.5"), LIMIT);
    assert_eq!(code, 0, "{err}");
    let last = &path_state(&state, "cam0")["segments"]["last"][0];
    assert_eq!(last["start"], "2026-11-24T09:59:59.5Z");
    assert_eq!(last["start_from"], "mtime");
    assert_eq!(last["size"], 4);
    assert_eq!(last["duration"], 30.5);
}

#[test]
fn an_active_session_counts_the_segment() {
    let dir = TempDir::new("segsession");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let session = serde_json::json!({
        "started_at": "2026-11-24T09:59:00Z", "until": null, "ended_at": null,
        "status": "active", "end_reason": null, "segments": 0,
        "recorded_seconds": 0.0, "gaps": 0, "hold_pid": null
    });
    let doc = serde_json::json!({
        "schema_version": 1,
        "paths": {"cam0": {"recording": {"active": true, "session": session}}}
    });
    std::fs::write(state.join("state.json"), doc.to_string()).unwrap();
    for start in [0.0, 10.0, 40.0] {
        let f = fake_segment(dir.path(), start, 10);
        let (code, _, err) = Cmd::segment(&state, "cam0", &f, "10")
            .env("TZ", "UTC")
            .limit(LIMIT)
            .run()
            .parts();
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("counted into the recording session"), "{err}");
    }
    let p = path_state(&state, "cam0");
    let s = &p["recording"]["session"];
    assert_eq!(s["segments"], 3);
    assert_eq!(s["recorded_seconds"], 30.0);
    assert_eq!(s["gaps"], 1);
    assert_eq!(s["status"], "active");
    assert_eq!(p["segments"]["count"], 3);
    for line in ledger_lines(&state, "cam0") {
        assert_eq!(line["session"], "2026-11-24T09:59:00Z");
    }
}

/// Runs segment-complete with `vars` (None: unset) and returns (code, stderr).
fn run_with(state: &Path, vars: &[(&str, Option<&OsStr>)]) -> (i32, String) {
    let mut c = std::process::Command::new(hook_bin());
    c.arg("segment-complete")
        .env("HOOK_STATE_DIR", state)
        .env_remove("HOOK_CONFIG")
        .stdin(Stdio::null());
    for (k, v) in vars {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let (code, _, err) = run_to_end(c, LIMIT);
    (code, err)
}

#[test]
fn every_untrusted_input_is_refused_with_exit_2() {
    let dir = TempDir::new("segbad");
    let state = dir.join("state");
    let good_file = fake_segment(dir.path(), 0.0, 10);
    let good = |name: &str| -> Option<&OsStr> {
        match name {
            "MTX_PATH" => Some(OsStr::new("cam0")),
            "MTX_SEGMENT_PATH" => Some(good_file.as_os_str()),
            _ => Some(OsStr::new("10.5")),
        }
    };
    let long = "a".repeat(300);
    let missing = dir.join("no-such-segment.mp4");
    let cases: Vec<(&str, Option<&OsStr>)> = vec![
        ("MTX_PATH", None),
        ("MTX_PATH", Some(OsStr::new(""))),
        ("MTX_PATH", Some(OsStr::new(&long))),
        ("MTX_PATH", Some(OsStr::from_bytes(b"cam\xff0"))),
        // MediaMTX allows `a/b`; an empty, dot or hidden segment is refused.
        ("MTX_PATH", Some(OsStr::new("a//b"))),
        ("MTX_PATH", Some(OsStr::new("a/"))),
        ("MTX_PATH", Some(OsStr::new("a/./b"))),
        ("MTX_PATH", Some(OsStr::new("a/.b"))),
        ("MTX_PATH", Some(OsStr::new("cam 0"))),
        ("MTX_PATH", Some(OsStr::new("cam?0"))),
        ("MTX_PATH", Some(OsStr::new("cam#0"))),
        ("MTX_PATH", Some(OsStr::new("cam\u{200B}0"))),
        ("MTX_PATH", Some(OsStr::new("cam\u{202E}0"))),
        ("MTX_PATH", Some(OsStr::new("/etc/passwd"))),
        ("MTX_PATH", Some(OsStr::new(".."))),
        ("MTX_PATH", Some(OsStr::new("../escape"))),
        ("MTX_PATH", Some(OsStr::new("cam\n0"))),
        ("MTX_PATH", Some(OsStr::new("cam\x1b[31m"))),
        ("MTX_SEGMENT_DURATION", None),
        ("MTX_SEGMENT_DURATION", Some(OsStr::new(""))),
        ("MTX_SEGMENT_DURATION", Some(OsStr::new("abc"))),
        ("MTX_SEGMENT_DURATION", Some(OsStr::new("-5"))),
        ("MTX_SEGMENT_DURATION", Some(OsStr::new("1e3"))),
        ("MTX_SEGMENT_DURATION", Some(OsStr::new("10s"))),
        ("MTX_SEGMENT_PATH", None),
        ("MTX_SEGMENT_PATH", Some(OsStr::new(""))),
        ("MTX_SEGMENT_PATH", Some(missing.as_os_str())),
        ("MTX_SEGMENT_PATH", Some(dir.path().as_os_str())),
    ];
    for (bad_var, bad_value) in &cases {
        let vars: Vec<(&str, Option<&OsStr>)> =
            ["MTX_PATH", "MTX_SEGMENT_PATH", "MTX_SEGMENT_DURATION"]
                .into_iter()
                .map(|k| (k, if k == *bad_var { *bad_value } else { good(k) }))
                .collect();
        let (code, err) = run_with(&state, &vars);
        assert_eq!(code, 2, "{bad_var}={bad_value:?}: {err}");
        assert!(
            err.contains(bad_var),
            "{bad_var}={bad_value:?}: message names the variable: {err}"
        );
        assert!(err.contains("expected"), "{bad_var}={bad_value:?}: {err}");
    }
    // Nothing was written: no state directory, nothing beside it.
    assert!(!state.exists(), "state directory created by refused input");
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, vec![good_file.file_name().unwrap().to_owned()]);
    // The same inputs, valid, are recorded.
    let vars: Vec<_> = ["MTX_PATH", "MTX_SEGMENT_PATH", "MTX_SEGMENT_DURATION"]
        .into_iter()
        .map(|k| (k, good(k)))
        .collect();
    let (code, err) = run_with(&state, &vars);
    assert_eq!(code, 0, "{err}");
    assert_eq!(path_state(&state, "cam0")["segments"]["count"], 1);
}

/// Segments MediaMTX deleted (recordDeleteAfter) are marked in the ledger
/// by later segment-complete runs, a few per run, oldest first, and counted
/// in the state and in `hook status`.
#[test]
fn deleted_segments_are_marked_gone_a_few_per_run() {
    let dir = TempDir::new("seg-gone");
    let state = dir.join("state");
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let run = |secs: f64| {
        let file = fake_segment(&rec, secs, 100);
        let (code, _, err) = Cmd::segment(&state, "cam0", &file, "60.000")
            .env("TZ", "UTC")
            .limit(LIMIT)
            .run()
            .parts();
        assert_eq!(code, 0, "{err}");
        (file, err)
    };
    let files: Vec<_> = (0..8).map(|i| run(i as f64 * 60.0).0).collect();
    assert_eq!(path_state(&state, "cam0")["segments"]["gone"], 0);
    assert_eq!(ledger_lines(&state, "cam0").len(), 8);

    // MediaMTX deletes the six oldest.
    for f in &files[..6] {
        std::fs::remove_file(f).unwrap();
    }
    let (_, log) = run(8.0 * 60.0);
    assert!(log.contains("is gone"), "{log}");
    let seg = &path_state(&state, "cam0")["segments"];
    assert_eq!(seg["gone"], 4, "four checked per run: {seg}");
    assert_eq!(seg["count"], 9, "totals keep what was recorded");
    run(9.0 * 60.0);
    assert_eq!(path_state(&state, "cam0")["segments"]["gone"], 6);
    run(10.0 * 60.0);
    assert_eq!(
        path_state(&state, "cam0")["segments"]["gone"],
        6,
        "files still there are not gone"
    );

    let lines = ledger_lines(&state, "cam0");
    let gone: Vec<&str> = lines.iter().filter_map(|l| l["gone"].as_str()).collect();
    let expected: Vec<String> = files[..6].iter().map(|f| f.display().to_string()).collect();
    assert_eq!(gone, expected, "each deleted file once, oldest first");
    for l in lines.iter().filter(|l| l.get("gone").is_some()) {
        let at = l["noticed_at"].as_str().expect("noticed_at");
        assert!(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
            "{l}"
        );
    }
    assert_eq!(lines.len(), 11 + 6, "11 segments, 6 gone lines");

    let (code, out, err) = Cmd::hook(&state)
        .args(["status", "--json"])
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["paths"]["cam0"]["segments"]["gone"], 6, "{out}");
    let (code, out, err) = Cmd::hook(&state)
        .args(["status", "cam0"])
        .env("TZ", "UTC")
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(", 6 gone (files deleted)"), "{out}");
}

/// A ledger whose last line was torn (cut short by a crash, or shorter
/// than the state says): the next segment starts a line of its own, the
/// torn one is logged and skipped, so one torn line never costs a second.
#[test]
fn a_torn_last_ledger_line_costs_no_second_line() {
    let dir = TempDir::new("seg-torn");
    let state = dir.join("state");
    let ledger = state.join("ledger").join("cam0.jsonl");
    let segment = |secs: f64| {
        let f = fake_segment(dir.path(), secs, 500);
        let (code, _, err) = run_to_end(segment_command(&state, "cam0", &f, "10"), LIMIT);
        assert_eq!(code, 0, "{err}");
        err
    };
    segment(0.0);
    segment(10.0);
    // The tail lost: shorter than committed, the last line without its end.
    let bytes = std::fs::read(&ledger).unwrap();
    std::fs::write(&ledger, &bytes[..bytes.len() - 15]).unwrap();
    let err = segment(20.0);
    assert!(err.contains("torn line"), "{err}");
    // Written without a state (committed length unknown): no newline at the end.
    let mut torn = std::fs::read(&ledger).unwrap();
    torn.extend_from_slice(br#"{"file":"/half"#);
    std::fs::write(&ledger, &torn).unwrap();
    std::fs::remove_file(state.join("state.json")).unwrap();
    let err = segment(30.0);
    assert!(err.contains("torn line"), "{err}");

    let text = std::fs::read_to_string(&ledger).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(parsed.len(), 3, "only the two torn lines are lost: {text}");
    for (secs, line) in [(20, lines[2]), (30, lines[4])] {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!("the segment at {secs} s is not a line of its own ({e}): {text}")
        });
        assert!(
            v["file"]
                .as_str()
                .unwrap()
                .contains(&format!("10-00-{secs}")),
            "{v}"
        );
    }
    assert!(text.ends_with('\n'));
}

/// A segment path that is a symbolic link is refused (exit 2); a duration
/// the file's own times cannot hold (hours for a file written in a minute)
/// is counted as the file's span.
#[test]
fn a_linked_segment_is_refused_and_an_impossible_duration_is_not_counted() {
    let dir = TempDir::new("seg-link");
    let state = dir.join("state");
    let real = fake_segment(dir.path(), 0.0, 500);
    let link = dir.join("link.mp4");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, _, err) = run_to_end(segment_command(&state, "cam0", &link, "10"), LIMIT);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(ledger_lines(&state, "cam0").is_empty());

    // Named as started now, written now, claiming three hours.
    let now = time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let t = now - time::Duration::seconds(60);
    let file = dir.join(segment_name(time::PrimitiveDateTime::new(
        t.date(),
        t.time(),
    )));
    std::fs::write(&file, vec![0u8; 500]).unwrap();
    let (code, _, err) = run_to_end(segment_command(&state, "cam0", &file, "10800.0"), LIMIT);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("timestamp jump"), "{err}");
    let lines = ledger_lines(&state, "cam0");
    let d = lines[0]["duration"].as_f64().unwrap();
    assert!((55.0..70.0).contains(&d), "counted {d} s: {lines:?}");
    let st = path_state(&state, "cam0");
    assert!(
        st["segments"]["recorded_seconds"].as_f64().unwrap() < 70.0,
        "{st}"
    );
}
