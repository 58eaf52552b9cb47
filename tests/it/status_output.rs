//! `hook status` read by a person and by a machine, against real processes:
//! a live path, the same path after its processes were SIGKILLed, unknown
//! and invalid path names, an empty state.

use crate::support::cmd::Cmd;
use crate::support::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const LIMIT: Duration = Duration::from_secs(30);

fn status(state: &Path, args: &[&str]) -> (i32, String, String) {
    let mut c = hook_command(state);
    c.arg("status").args(args).env("TZ", "UTC");
    run_to_end(c, LIMIT)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// A long-lived process whose command name is `name` (a symlink to `sleep`:
/// the kernel takes the command name from the name executed), standing in
/// for a `hook run` supervisor or FFmpeg. A symlink, not a copy: a copy can
/// still be open for writing in a sibling test's fork, and exec then fails
/// with ETXTBSY.
fn process_named(dir: &Path, name: &str) -> Child {
    let exe = dir.join(name);
    if !exe.exists() {
        std::os::unix::fs::symlink("/usr/bin/sleep", &exe).unwrap();
    }
    Command::new(&exe)
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()))
}

#[test]
fn a_live_path_then_the_same_path_after_sigkill() {
    let dir = TempDir::new("status");
    let state = dir.join("state");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mut supervisor = process_named(&bin, "hook");
    let mut ffmpeg = process_named(&bin, "ffmpeg");
    let mut hold = process_named(&bin, "ffmpeg");
    let now = OffsetDateTime::now_utc();
    let started = now - time::Duration::seconds(3725);
    let doc = serde_json::json!({
        "schema_version": 1,
        "paths": {
            "camera0": {
                "phase": "running",
                "device": "/dev/video0",
                "supervisor_pid": supervisor.id(),
                "child_pid": ffmpeg.id(),
                "child_started_at": rfc3339(started),
                "restarts": 2,
                "last_error": "ffmpeg exited with code 1: Connection refused",
                "last_error_at": rfc3339(started),
                "stderr_tail": ["[rtsp @ 0x1] Connection refused"],
                "demand_at": rfc3339(started - time::Duration::seconds(1)),
                "ready_at": rfc3339(started - time::Duration::milliseconds(550)),
                "activation_latency_ms": 450,
                "recording": {"active": true, "session": {
                    "started_at": "2026-11-24T09:59:00Z", "until": null, "ended_at": null,
                    "status": "active", "end_reason": null, "segments": 0,
                    "recorded_seconds": 0.0, "gaps": 0, "hold_pid": hold.id()
                }}
            },
            "camera1": {"phase": "idle", "restarts": 0}
        }
    });
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("state.json"), doc.to_string()).unwrap();
    // Two real segments with a hole between them.
    for start in [0.0, 100.0] {
        let f = fake_segment(dir.path(), start, 2048);
        let (code, _, err) = Cmd::segment(&state, "camera0", &f, "60")
            .env("TZ", "UTC")
            .limit(LIMIT)
            .run()
            .parts();
        assert_eq!(code, 0, "{err}");
    }

    // People: one line per path, then the storage line.
    let (code, out, err) = status(&state, &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out
        .lines()
        .take_while(|l| !l.starts_with("storage: "))
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("storage: ") && l.contains(" free of ")),
        "{out}"
    );
    assert!(lines[0].starts_with("PATH"), "{out}");
    let cam0: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cam0[..4],
        [
            "camera0",
            "running",
            // The session's last segment ended days ago: not recording.
            "viewing",
            &ffmpeg.id().to_string()
        ],
        "{out}"
    );
    assert_eq!(cam0[4], "1h02m", "uptime: {out}");
    assert_eq!(cam0[5], "2", "restarts: {out}");
    assert_eq!(
        cam0[6..9],
        ["2", "(2m00s)", "1"],
        "segments and gaps: {out}"
    );
    assert!(
        lines[1].ends_with("ffmpeg exited with code 1: Connection refused"),
        "{out}"
    );
    let cam1: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        cam1,
        ["camera1", "idle", "-", "-", "-", "0", "0", "0", "-"],
        "{out}"
    );

    // People: one path in detail.
    let (code, out, err) = status(&state, &["camera0"]);
    assert_eq!(code, 0, "{err}");
    // Compared with runs of spaces made one (the values are aligned).
    let flat: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for want in [
        "path: camera0".to_string(),
        "phase: running".to_string(),
        "use cases: viewing".to_string(),
        "device: /dev/video0".to_string(),
        format!("ffmpeg pid: {}, up 1h02m (since", ffmpeg.id()),
        format!("hook run pid: {}", supervisor.id()),
        "restarts: 2".to_string(),
        "last error: ffmpeg exited with code 1: Connection refused; at".to_string(),
        "activation: 450 ms from demand to ready".to_string(),
        "recording: NOT RECORDING (no stream): no segment for".to_string(),
        "segments: 2 segments, 2m00s recorded, 4.0 KiB, 1 gap, last ends 2026-11-24 10:02:40 +00:00".to_string(),
        format!("ledger: {}", state.join("ledger/camera0.jsonl").display()),
        "| [rtsp @ 0x1] Connection refused".to_string(),
    ] {
        assert!(
            flat.iter().any(|l| l.starts_with(&want)),
            "missing {want:?} in:\n{out}"
        );
    }

    assert!(
        flat.iter().any(|l| l.ends_with(&format!("active since 2026-11-24 09:59:00 +00:00, 2 segments, 2m00s recorded, 1 gap, hold pid {}", hold.id()))),
        "{out}"
    );

    // Machines: the documented fields.
    let (code, out, err) = status(&state, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["state_dir"], state.display().to_string());
    let c = &v["paths"]["camera0"];
    assert_eq!(c["phase"], "running");
    assert_eq!(c["stale"], false);
    assert_eq!(c["child_pid"], ffmpeg.id());
    assert_eq!(c["supervisor_pid"], supervisor.id());
    assert_eq!(c["restarts"], 2);
    assert_eq!(
        c["last_error"],
        "ffmpeg exited with code 1: Connection refused"
    );
    assert_eq!(c["use_cases"], serde_json::json!(["viewing"]));
    let up = c["uptime_seconds"].as_f64().unwrap();
    assert!((3725.0..3800.0).contains(&up), "{up}");
    assert_eq!(c["activation_latency_ms"], 450);
    assert_eq!(c["recording"]["active"], false, "nothing written for days");
    assert_eq!(c["recording"]["cause"], "no_stream");
    assert_eq!(c["recording"]["session"]["status"], "active");
    assert_eq!(c["recording"]["session"]["segments"], 2);
    assert_eq!(c["segments"]["count"], 2);
    assert_eq!(c["segments"]["recorded_seconds"], 120.0);
    assert_eq!(c["segments"]["gaps"], 1);
    assert_eq!(c["segments"]["bytes"], 4096);
    assert_eq!(c["segments"]["last"][1]["gap_before"], 40.0);
    let idle = &v["paths"]["camera1"];
    assert_eq!(idle["phase"], "idle");
    assert!(idle["child_pid"].is_null());
    assert!(idle["last_error"].is_null());
    assert_eq!(idle["recording"]["active"], false);
    assert_eq!(idle["segments"]["count"], 0);
    assert_eq!(idle["segments"]["recorded_seconds"], 0.0);
    assert_eq!(idle["segments"]["gaps"], 0);

    // One path as JSON: only that path.
    let (code, out, _) = status(&state, &["camera1", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["paths"].as_object().unwrap().len(), 1);
    assert_eq!(v["paths"]["camera1"]["phase"], "idle");

    // The hook and its FFmpeg and the hold are SIGKILLed: nothing could
    // record it. Status must not say running.
    for p in [&mut supervisor, &mut ffmpeg, &mut hold] {
        p.kill().unwrap();
        p.wait().unwrap();
    }
    let (code, out, err) = status(&state, &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let cam0: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cam0[..5], ["camera0", "idle*", "-", "-", "-"], "{out}");
    assert!(
        out.contains(&format!(
            "* camera0: hook run (pid {}) is gone without recording its end",
            supervisor.id()
        )),
        "{out}"
    );
    assert!(out.contains("the hold"), "{out}");
    let (_, out, _) = status(&state, &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v["paths"]["camera0"];
    assert_eq!(c["phase"], "idle");
    assert_eq!(c["recorded_phase"], "running");
    assert_eq!(c["stale"], true);
    assert!(c["child_pid"].is_null());
    assert!(c["supervisor_pid"].is_null());
    assert!(c["uptime_seconds"].is_null());
    assert_eq!(c["recording"]["active"], false);
    assert_eq!(c["recording"]["stale"], true);
    assert_eq!(c["use_cases"], serde_json::json!([]));
    assert_eq!(c["notes"].as_array().unwrap().len(), 2);
    // Status reads; it never rewrites what the hooks wrote.
    assert_eq!(path_state(&state, "camera0")["phase"], "running");
}

#[test]
fn a_pid_reused_by_another_program_is_not_the_hook() {
    let dir = TempDir::new("status-reuse");
    let mut other = process_named(dir.path(), "not-the-hook");
    let doc = serde_json::json!({
        "schema_version": 1,
        "paths": {"cam0": {"phase": "backoff", "supervisor_pid": other.id()}}
    });
    std::fs::write(dir.join("state.json"), doc.to_string()).unwrap();
    let (code, out, err) = status(dir.path(), &["--json"]);
    other.kill().unwrap();
    other.wait().unwrap();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["paths"]["cam0"]["phase"], "idle");
    assert_eq!(v["paths"]["cam0"]["stale"], true);
}

#[test]
fn unknown_path_exits_1_and_invalid_name_exits_2() {
    let dir = TempDir::new("status-unknown");
    let f = fake_segment(dir.path(), 0.0, 10);
    let (code, _, err) = run_to_end(segment_command(dir.path(), "cam0", &f, "1"), LIMIT);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = status(dir.path(), &["cam9"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("no path \"cam9\""), "{err}");
    assert!(err.contains("known paths: cam0"), "{err}");
    let (code, _, _) = status(dir.path(), &["cam9", "--json"]);
    assert_eq!(code, 1);

    // `a/b` is a valid MediaMTX path name (unknown here: exit 1).
    for bad in ["../cam0", "a//b", "/a", "", "cam\n0"] {
        let (code, _, err) = status(dir.path(), &[bad]);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("PATH argument"), "{err}");
    }
}

#[test]
fn an_empty_state_answers() {
    let dir = TempDir::new("status-empty");
    let state = dir.join("never-written");
    let (code, out, err) = status(&state, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("no paths yet"), "{out}");
    let (code, out, _) = status(&state, &["--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["paths"], serde_json::json!({}));
    assert!(!state.exists(), "status never creates the state directory");
}

#[test]
fn a_large_state_answers_for_every_path() {
    // 64 paths and 100,000 recorded segments: the state keeps totals and the
    // last few, so status reads 64 entries, not 100,000 segments.
    let dir = TempDir::new("status-large");
    let mut paths = serde_json::Map::new();
    let mut total = 0u64;
    for i in 0..64u64 {
        let count = 100_000 / 64 + u64::from(i < 100_000 % 64);
        total += count;
        let last: Vec<_> = (0..5)
            .map(|k| {
                serde_json::json!({
                    "file": format!("/rec/cam{i}/2026-11-24_0{k}-00-00-000000.mp4"),
                    "start": format!("2026-11-24T0{k}:00:00Z"), "duration": 1800.032,
                    "size": 450_000_000u64, "start_from": "file-name"
                })
            })
            .collect();
        paths.insert(
            format!("cam{i}"),
            serde_json::json!({
                "phase": "idle", "device": format!("/dev/video{i}"), "restarts": i,
                "stderr_tail": vec!["x".repeat(100); 20],
                "segments": {"count": count, "recorded_seconds": count as f64 * 1800.0,
                             "bytes": count * 450_000_000, "gaps": 1, "last": last}
            }),
        );
    }
    assert_eq!(total, 100_000);
    let doc = serde_json::json!({"schema_version": 1, "paths": paths});
    std::fs::write(dir.join("state.json"), doc.to_string()).unwrap();

    let t0 = std::time::Instant::now();
    let (code, out, err) = status(dir.path(), &["--json"]);
    eprintln!(
        "status --json with 64 paths, 100,000 segments: {:?}",
        t0.elapsed()
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let paths = v["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 64);
    let counted: u64 = paths
        .values()
        .map(|p| p["segments"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 100_000);
    assert_eq!(paths["cam63"]["restarts"], 63);

    let (code, out, _) = status(dir.path(), &[]);
    assert_eq!(code, 0);
    let table = out
        .lines()
        .take_while(|l| !l.starts_with("storage: "))
        .count();
    assert_eq!(
        table, 65,
        "a header and a line per path, then storage:\n{out}"
    );
    assert!(out.contains("\nstorage: "), "{out}");
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot).
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn pids_reused_by_unrelated_processes_are_not_running() {
    // After a power loss the state still names a supervisor and its FFmpeg;
    // their pids now belong to unrelated processes (named like them, too).
    let dir = TempDir::new("status-identity");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mut supervisor = process_named(&bin, "hook");
    let mut ffmpeg = process_named(&bin, "ffmpeg");
    let nine_days_ago = OffsetDateTime::now_utc() - time::Duration::days(9);
    let identity = |pid: u32, ticks: u64, boot: &str| serde_json::json!({"pid": pid, "start_ticks": ticks, "boot_id": boot});
    let write = |sup: serde_json::Value, child: serde_json::Value| {
        let doc = serde_json::json!({
            "schema_version": 1,
            "paths": {"cam0": {
                "phase": "running",
                "supervisor_pid": supervisor.id(),
                "supervisor_process": sup,
                "child_pid": ffmpeg.id(),
                "child_process": child,
                "child_started_at": rfc3339(nine_days_ago),
            }}
        });
        std::fs::write(dir.join("state.json"), doc.to_string()).unwrap();
    };
    let (sup_ticks, ff_ticks) = (start_ticks(supervisor.id()), start_ticks(ffmpeg.id()));
    let json = |args: &[&str]| {
        let (code, out, err) = status(dir.path(), args);
        assert_eq!(code, 0, "{err}");
        out
    };

    // Recorded with other start times: not them.
    write(
        identity(supervisor.id(), sup_ticks + 1, &boot_id()),
        identity(ffmpeg.id(), ff_ticks.saturating_sub(1), &boot_id()),
    );
    let v: serde_json::Value = serde_json::from_str(&json(&["--json"])).unwrap();
    let c = &v["paths"]["cam0"];
    assert_eq!(c["phase"], "idle", "{c}");
    assert_eq!(c["stale"], true, "{c}");
    assert!(c["supervisor_pid"].is_null(), "{c}");
    assert!(c["child_pid"].is_null(), "{c}");
    assert!(c["uptime_seconds"].is_null(), "{c}");
    let table = json(&[]);
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("cam0  idle*  -    -    -"), "{table}");
    assert!(!row.contains("9d"), "no uptime: {table}");

    // The same start times in another boot: not them either.
    let other_boot = "00000000-0000-4000-8000-000000000000";
    write(
        identity(supervisor.id(), sup_ticks, other_boot),
        identity(ffmpeg.id(), ff_ticks, other_boot),
    );
    let v: serde_json::Value = serde_json::from_str(&json(&["--json"])).unwrap();
    assert_eq!(v["paths"]["cam0"]["phase"], "idle");
    assert!(v["paths"]["cam0"]["child_pid"].is_null());

    // Their true identities: running.
    write(
        identity(supervisor.id(), sup_ticks, &boot_id()),
        identity(ffmpeg.id(), ff_ticks, &boot_id()),
    );
    let v: serde_json::Value = serde_json::from_str(&json(&["--json"])).unwrap();
    let c = &v["paths"]["cam0"];
    assert_eq!(c["phase"], "running", "{c}");
    assert_eq!(c["stale"], false, "{c}");
    assert_eq!(c["child_pid"], ffmpeg.id(), "{c}");

    for p in [&mut supervisor, &mut ffmpeg] {
        p.kill().unwrap();
        p.wait().unwrap();
    }
}

/// The disk budget is the whole machine's: `hook status PATH` (human and
/// `--json`) shows the recordings of every path, not only that path's.
#[test]
fn one_path_shows_the_storage_of_every_path() {
    let dir = TempDir::new("status-storage");
    let state = dir.join("state");
    for (path, secs, bytes) in [("stora", 0.0, 3000), ("storb", 60.0, 5000)] {
        let f = fake_segment(dir.path(), secs, bytes);
        let (code, _, err) = Cmd::segment(&state, path, &f, "60").run().parts();
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = status(&state, &["--json", "stora"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["storage"]["recordings_bytes"], 8000, "{out}");
    assert!(v["paths"].get("storb").is_none(), "{out}");
    let (code, out, err) = status(&state, &["stora"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("storage: ") && l.contains("recordings 7.8 KiB")),
        "{out}"
    );
}
