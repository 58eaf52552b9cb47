//! Event re-triggers against the real `hook`, a real RTSP server
//! (GStreamer's) and MediaMTX's Control API stand-in: `record start` on a
//! live session extends it (never shortens it), makes a timed one
//! open-ended, leaves an open-ended one alone; concurrent re-triggers make
//! one hold and the latest end wins; the hold ends the session at the
//! extended time; `--reason` is kept and shown, and checked.

use crate::support::common;
use crate::support::standin;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use standin::{Options, Standin};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const FAST: &str = r#"{
    "viewing": {"start_timeout": "3s"},
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s", "device_lock_wait": "1s"}
}"#;

fn hook(dir: &TempDir, server: &Standin) -> Command {
    server.hook(dir, FAST)
}

fn run(mut c: Command, args: &[&str]) -> (i32, String, String) {
    c.args(args);
    run_to_end(c, Duration::from_secs(60))
}

fn holds_of(path: &str) -> Vec<ProcInfo> {
    live_processes_with(&format!("hold {path}"))
        .into_iter()
        .filter(|p| p.cmdline.contains("hook"))
        .collect()
}

fn time_of(v: &serde_json::Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("a time: {v}")),
        &Rfc3339,
    )
    .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// The RFC 3339 time in the first parentheses after the first "until " of a
/// `record start`'s output.
fn until_in(out: &str) -> OffsetDateTime {
    let after = &out[out.find("until ").unwrap_or_else(|| panic!("{out}")) + 6..];
    // The first "(" that opens a time (not "(was until …").
    let open = after
        .match_indices('(')
        .map(|(i, _)| i)
        .find(|&i| after[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("{out}"));
    let close = open + after[open..].find(')').unwrap();
    OffsetDateTime::parse(&after[open + 1..close], &Rfc3339)
        .unwrap_or_else(|e| panic!("{out}: {e}"))
}

fn session_until(state: &Path, path: &str) -> OffsetDateTime {
    time_of(&recording(state, path)["session"]["until"])
}

fn status_json(dir: &TempDir, server: &Standin, path: &str) -> serde_json::Value {
    let (code, json, err) = run(hook(dir, server), &["status", path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["paths"][path].clone()
}

fn stop(dir: &TempDir, server: &Standin, path: &str) {
    let (code, out, err) = run(hook(dir, server), &["record", "stop", path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        wait_until(Duration::from_secs(10), || holds_of(path).is_empty()),
        "{:?}",
        holds_of(path)
    );
}

#[test]
fn a_second_start_extends_and_a_shorter_one_never_shortens() {
    let dir = TempDir::new("retrig-extend");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("ext1"));
    let (code, out, err) = run(
        hook(&dir, &server),
        &[
            "record",
            "start",
            "ext1",
            "--duration",
            "30s",
            "--reason",
            "motion",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let first_until = session_until(&state, "ext1");
    assert_eq!(until_in(&out), first_until, "{out}");
    let hold = recording(&state, "ext1")["session"]["hold_pid"].clone();

    // Extended: ends no earlier than now + 60 s; said in local time and RFC 3339.
    let before = OffsetDateTime::now_utc();
    let (code, out, err) = run(
        hook(&dir, &server),
        &[
            "record",
            "start",
            "ext1",
            "--duration",
            "60s",
            "--reason",
            "door",
        ],
    );
    let after = OffsetDateTime::now_utc();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("recording extended until "), "{out}");
    assert!(out.contains("re-trigger 1 (door)"), "{out}");
    let extended = session_until(&state, "ext1");
    assert_eq!(until_in(&out), extended, "{out}");
    assert!(
        extended >= before + Duration::from_secs(60) && extended <= after + Duration::from_secs(60),
        "{extended} not 60 s after the re-trigger ({before} .. {after})"
    );
    assert!(extended > first_until);

    // Shorter: unchanged, exit 0, kept as a re-trigger that changed nothing.
    let (code, out, err) = run(
        hook(&dir, &server),
        &["record", "start", "ext1", "--duration", "5s"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unchanged"), "{out}");
    assert_eq!(until_in(&out), extended, "{out}");
    assert_eq!(session_until(&state, "ext1"), extended);

    // One session, one hold, recording switched on once.
    assert_eq!(recording(&state, "ext1")["session"]["hold_pid"], hold);
    assert_eq!(holds_of("ext1").len(), 1, "{:?}", holds_of("ext1"));
    assert_eq!(server.record_patches("ext1"), vec![true]);

    // Status shows the reason and the re-triggers.
    let p = status_json(&dir, &server, "ext1");
    let s = &p["recording"]["session"];
    assert_eq!(s["reason"], "motion", "{s}");
    assert_eq!(s["retriggers"], 2, "{s}");
    let recent = s["recent_retriggers"].as_array().unwrap();
    assert_eq!(recent.len(), 2, "{s}");
    assert_eq!(recent[0]["reason"], "door", "{s}");
    assert_eq!(recent[0]["duration_seconds"], 60.0, "{s}");
    assert_eq!(recent[0]["changed"], true, "{s}");
    assert_eq!(time_of(&recent[0]["until"]), extended, "{s}");
    assert!(recent[1]["reason"].is_null(), "{s}");
    assert_eq!(recent[1]["changed"], false, "{s}");
    assert_eq!(time_of(&recent[1]["until"]), extended, "{s}");
    assert!(time_of(&recent[0]["at"]) <= time_of(&recent[1]["at"]));
    let (code, human, err) = run(hook(&dir, &server), &["status", "ext1"]);
    assert_eq!(code, 0, "{err}");
    assert!(human.contains("started for: motion"), "{human}");
    assert_eq!(human.matches("re-trigger:").count(), 2, "{human}");
    assert!(human.contains("(door)"), "{human}");
    assert!(human.contains("unchanged, until"), "{human}");

    stop(&dir, &server, "ext1");
    let last = &recording(&state, "ext1")["last_session"];
    assert_eq!(last["retriggers"], 2, "kept with the ended session: {last}");
    server.assert_requests_valid();
}

#[test]
fn open_ended_stays_open_ended_and_a_start_without_duration_opens_a_timed_one() {
    let dir = TempDir::new("retrig-open");
    let state = dir.join("state");
    let server = Standin::start(
        dir.path(),
        Options {
            paths: vec!["open2".into(), "timed2".into()],
            ..Options::both("open2")
        },
    );

    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "open2"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(
        hook(&dir, &server),
        &["record", "start", "open2", "--duration", "10s"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("already until `hook record stop` (open-ended): unchanged"),
        "{out}"
    );
    let rec = recording(&state, "open2");
    assert!(rec["session"]["until"].is_null(), "{rec}");
    assert_eq!(rec["session"]["retriggers"], 1, "{rec}");
    assert_eq!(rec["session"]["recent_retriggers"][0]["changed"], false);
    // Again without --duration: still open-ended, still exit 0.
    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "open2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unchanged"), "{out}");

    let (code, out, err) = run(
        hook(&dir, &server),
        &["record", "start", "timed2", "--duration", "3s"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let was = session_until(&state, "timed2");
    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "timed2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("recording now until `hook record stop`"),
        "{out}"
    );
    assert_eq!(until_in(&out), was, "says what it was: {out}");
    let rec = recording(&state, "timed2");
    assert!(rec["session"]["until"].is_null(), "{rec}");
    assert_eq!(rec["session"]["recent_retriggers"][0]["changed"], true);
    assert!(rec["session"]["recent_retriggers"][0]["until"].is_null());
    // It outlives its former end.
    let hold = rec["session"]["hold_pid"].as_u64().unwrap() as u32;
    let wait = (was - OffsetDateTime::now_utc())
        .whole_milliseconds()
        .max(0) as u64
        + 2000;
    std::thread::sleep(Duration::from_millis(wait));
    let rec = recording(&state, "timed2");
    assert_eq!(rec["session"]["status"], "active", "{rec}");
    assert!(pid_alive(hold));

    stop(&dir, &server, "open2");
    stop(&dir, &server, "timed2");
    assert_eq!(server.record_patches("open2"), vec![true, false]);
    assert_eq!(server.record_patches("timed2"), vec![true, false]);
    server.assert_requests_valid();
}

#[test]
fn the_session_ends_at_the_extended_time() {
    let dir = TempDir::new("retrig-ends");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("end3"));
    let (code, out, err) = run(
        hook(&dir, &server),
        &["record", "start", "end3", "--duration", "2s"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let first_until = session_until(&state, "end3");
    let started_at = recording(&state, "end3")["session"]["started_at"].clone();
    let hold = recording(&state, "end3")["session"]["hold_pid"]
        .as_u64()
        .unwrap() as u32;
    let (code, out, err) = run(
        hook(&dir, &server),
        &["record", "start", "end3", "--duration", "4s"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("recording extended until"),
        "re-triggered before the first end: {out}"
    );
    let extended = until_in(&out);
    assert!(extended > first_until);

    // It ends by itself, not at its first end but after the extended one,
    // and not long after it; one session: recording switched on once.
    assert!(
        wait_until(Duration::from_secs(20), || recording(&state, "end3")
            ["last_session"]["status"]
            == "ended"),
        "{}",
        recording(&state, "end3")
    );
    let rec = recording(&state, "end3");
    let last = &rec["last_session"];
    assert_eq!(last["end_reason"], "duration elapsed", "{rec}");
    assert_eq!(time_of(&last["until"]), extended, "{rec}");
    assert_eq!(last["started_at"], started_at, "the same session: {rec}");
    let ended = time_of(&last["ended_at"]);
    assert!(ended >= extended, "ended {ended}, before {extended}");
    assert!(
        ended - extended < time::Duration::seconds(8),
        "ended {ended}, long after {extended}"
    );
    assert!(rec["session"].is_null(), "{rec}");
    assert!(
        wait_until(Duration::from_secs(10), || !pid_alive(hold)),
        "hold gone"
    );
    assert_eq!(server.record_patches("end3"), vec![true, false]);
    server.assert_requests_valid();
}

fn spawn(mut c: Command, dir: &TempDir, tag: &str, args: &[&str]) -> Child {
    let out = std::fs::File::create(dir.join(format!("{tag}.out"))).unwrap();
    let err = std::fs::File::create(dir.join(format!("{tag}.err"))).unwrap();
    c.args(args)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    c.spawn().unwrap()
}

#[test]
fn ten_concurrent_re_triggers_keep_one_hold_and_the_latest_end_wins() {
    let dir = TempDir::new("retrig-many");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("many4"));
    let (code, out, err) = run(
        hook(&dir, &server),
        &["record", "start", "many4", "--duration", "20s"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let hold = recording(&state, "many4")["session"]["hold_pid"].clone();

    const N: usize = 10;
    // Durations in a shuffled order, so the latest end is not the last call.
    let durations: Vec<String> = (0..N).map(|i| format!("{}s", 30 + (i * 7) % N)).collect();
    let started = Instant::now();
    let mut children: Vec<Child> = (0..N)
        .map(|i| {
            let reason = format!("event {i}");
            spawn(
                hook(&dir, &server),
                &dir,
                &format!("re{i}"),
                &[
                    "record",
                    "start",
                    "many4",
                    "--duration",
                    &durations[i],
                    "--reason",
                    &reason,
                ],
            )
        })
        .collect();
    let mut ends = Vec::new();
    for (i, child) in children.iter_mut().enumerate() {
        let status = wait_timeout(child, Duration::from_secs(60)).expect("re-trigger ends");
        let read = |ext: &str| std::fs::read_to_string(dir.join(format!("re{i}.{ext}"))).unwrap();
        let (out, err) = (read("out"), read("err"));
        assert_eq!(status.code(), Some(0), "re-trigger {i}: {out}{err}");
        assert!(out.contains("re-trigger "), "re-trigger {i}: {out}");
        ends.push(until_in(&out));
    }
    eprintln!("{N} re-triggers took {:?}", started.elapsed());

    // One hold, the same one; recording switched on once.
    let holds = holds_of("many4");
    assert_eq!(holds.len(), 1, "{holds:?}");
    let rec = recording(&state, "many4");
    assert_eq!(rec["session"]["hold_pid"], hold, "{rec}");
    assert_eq!(rec["session"]["hold_pid"], holds[0].pid, "{rec}");
    assert_eq!(server.record_patches("many4"), vec![true]);

    // The latest end wins; in the order they were applied, the end never
    // moved earlier.
    let latest = *ends.iter().max().unwrap();
    assert_eq!(session_until(&state, "many4"), latest, "{rec}");
    let s = &rec["session"];
    assert_eq!(s["retriggers"], N, "{s}");
    let applied: Vec<OffsetDateTime> = s["recent_retriggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| time_of(&r["until"]))
        .collect();
    assert_eq!(applied.len(), N, "{s}");
    assert!(applied.windows(2).all(|w| w[0] <= w[1]), "{applied:?}");
    assert_eq!(applied.last(), Some(&latest));
    let mut reasons: Vec<String> = s["recent_retriggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    reasons.sort();
    let mut expected: Vec<String> = (0..N).map(|i| format!("event {i}")).collect();
    expected.sort();
    assert_eq!(reasons, expected);

    stop(&dir, &server, "many4");
    server.assert_requests_valid();
}

#[test]
fn bad_reasons_are_usage_errors() {
    let dir = TempDir::new("retrig-bad");
    let server = Standin::start(
        dir.path(),
        Options {
            rtsp: false,
            ..Options::both("bad5")
        },
    );
    let long = "x".repeat(201);
    for bad in ["line\nbreak", "tab\tin it", "\u{1b}[2J", long.as_str()] {
        let (code, _, err) = run(
            hook(&dir, &server),
            &["record", "start", "bad5", "--reason", bad],
        );
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("--reason"), "{bad:?}: {err}");
    }
    // Not UTF-8.
    let mut c = hook(&dir, &server);
    c.args(["record", "start", "bad5", "--reason"])
        .arg(OsStr::from_bytes(b"caf\xe9"));
    let (code, _, err) = run_to_end(c, Duration::from_secs(30));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--reason"), "{err}");
    assert!(server.requests().is_empty(), "nothing reached the API");
}
