//! Recording sessions against a real RTSP server (GStreamer's) and a Control
//! API stand-in that checks every request against MediaMTX's openapi.yaml:
//! start switches recording on and holds the stream with a reader; the hold
//! survives a MediaMTX restart and switches recording back on; stop undoes
//! it all; a timed session ends by itself.

use crate::support::common;
use crate::support::standin;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use standin::{Options, Standin};

/// Short timers so the scenarios run in seconds.
const FAST: &str = r#"{
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"}
}"#;

fn hook(dir: &TempDir, server: &Standin) -> Command {
    server.hook(dir, FAST)
}

fn run(mut c: Command, args: &[&str]) -> (i32, String, String) {
    c.args(args);
    run_to_end(c, Duration::from_secs(30))
}

fn hold_pid(state: &Path, path: &str) -> u32 {
    recording(state, path)["session"]["hold_pid"]
        .as_u64()
        .expect("a hold pid in the session") as u32
}

/// The session id (field 6 of /proc/PID/stat).
fn session_id(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split_whitespace().nth(3).unwrap().parse().unwrap()
}

/// The hold's readers of a path: the hook's native reader (`hook rtsp-read URL`).
fn readers_of(path: &str, port: u16) -> Vec<ProcInfo> {
    live_processes_with(&format!("rtsp-read rtsp://127.0.0.1:{port}/{path}"))
}

#[test]
fn start_holds_and_records_then_stop_releases_everything() {
    let dir = TempDir::new("rec-start");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("cam0"));

    let started = Instant::now();
    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "cam0"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("recording until `hook record stop`"), "{out}");
    eprintln!("record start returned after {:?}", started.elapsed());

    // Recording switched on, a reader connected, the session in the state.
    assert_eq!(server.record_patches("cam0"), vec![true]);
    assert!(server.rtsp_clients() >= 1, "{:?}", server.events());
    let rec = recording(&state, "cam0");
    assert_eq!(rec["active"], true, "{rec}");
    assert_eq!(rec["session"]["status"], "active", "{rec}");
    assert_eq!(rec["hold"]["reading"], true, "{rec}");
    let hold = hold_pid(&state, "cam0");
    assert!(pid_alive(hold));
    assert_eq!(session_id(hold), hold, "the hold leads its own session");
    let readers = readers_of("cam0", server.rtsp_port);
    assert_eq!(readers.len(), 1, "{readers:?}");
    assert_eq!(readers[0].ppid, hold, "the reader is the hold's child");

    // `hook status` shows the session and what holds the path.
    let (code, json, err) = run(hook(&dir, &server), &["status", "cam0", "--json"]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cam = &status["paths"]["cam0"];
    assert_eq!(cam["recording"]["active"], true, "{cam}");
    assert_eq!(cam["recording"]["session"]["hold_pid"], hold, "{cam}");
    assert!(
        cam["use_cases"]
            .as_array()
            .unwrap()
            .contains(&"recording".into()),
        "{cam}"
    );
    let (code, human, err) = run(hook(&dir, &server), &["status", "cam0"]);
    assert_eq!(code, 0, "{err}");
    assert!(human.contains("recording"), "{human}");

    // Still held a while later (nothing idles it out).
    std::thread::sleep(Duration::from_secs(1));
    assert!(pid_alive(hold) && pid_alive(readers[0].pid));

    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "cam0"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("session ended after"), "{out}");
    assert!(out.contains("0 segments, 0.0 s recorded, 0 gaps"), "{out}");
    assert_eq!(server.record_patches("cam0"), vec![true, false]);
    assert!(!pid_alive(hold), "hold gone");
    assert!(
        wait_until(Duration::from_secs(3), || readers_of(
            "cam0",
            server.rtsp_port
        )
        .is_empty()),
        "reader gone"
    );
    assert!(
        wait_until(Duration::from_secs(10), || server.rtsp_clients() == 0),
        "the RTSP server saw the reader leave"
    );
    let rec = recording(&state, "cam0");
    assert_eq!(rec["active"], false, "{rec}");
    assert!(rec["session"].is_null(), "{rec}");
    assert_eq!(rec["last_session"]["status"], "ended", "{rec}");
    server.assert_requests_valid();

    // Nothing left to stop.
    let (code, _, err) = run(hook(&dir, &server), &["record", "stop", "cam0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no recording session"), "{err}");
}

#[test]
fn a_mediamtx_restart_is_survived_and_recording_switched_back_on() {
    let dir = TempDir::new("rec-restart");
    let state = dir.join("state");
    let mut server = Standin::start(dir.path(), Options::both("cam1"));
    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "cam1"]);
    assert_eq!(code, 0, "{out}{err}");
    let hold = hold_pid(&state, "cam1");
    let first_reader = readers_of("cam1", server.rtsp_port)[0].pid;

    // MediaMTX goes away and comes back: the stream restarts, the API has
    // forgotten the PATCH.
    server.restart();
    assert!(
        wait_until(Duration::from_secs(20), || server.record_patches("cam1")
            == vec![true, true]),
        "recording switched back on: {:?}",
        server.requests()
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            let rec = recording(&state, "cam1");
            rec["hold"]["reading"] == true && rec["hold"]["starts"].as_u64() >= Some(2)
        }),
        "the hold reads again: {}",
        recording(&state, "cam1")
    );
    assert!(server.rtsp_connections() >= 2);
    assert!(pid_alive(hold), "the same hold");
    let readers = readers_of("cam1", server.rtsp_port);
    assert_eq!(readers.len(), 1, "{readers:?}");
    assert_ne!(readers[0].pid, first_reader, "a new reader");
    // The hold counts the switch once MediaMTX has answered its PATCH, which
    // the stand-in logs before answering: wait for the count, not just the
    // request.
    assert!(
        wait_until(Duration::from_secs(5), || recording(&state, "cam1")["hold"]
            ["record_reapplied"]
            .as_u64()
            >= Some(1)),
        "{}",
        recording(&state, "cam1")
    );

    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "cam1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.record_patches("cam1").last(), Some(&false));
    assert!(!pid_alive(hold));
    server.assert_requests_valid();
}

#[test]
fn a_timed_session_ends_by_itself() {
    let dir = TempDir::new("rec-timed");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("cam2"));
    let (code, out, err) = run(
        hook(&dir, &server),
        &["record", "start", "cam2", "--duration", "2s"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("until 20"), "{out}");
    let hold = hold_pid(&state, "cam2");
    let ended = wait_until(Duration::from_secs(15), || {
        recording(&state, "cam2")["last_session"]["status"] == "ended"
    });
    assert!(ended, "{}", recording(&state, "cam2"));
    let rec = recording(&state, "cam2");
    assert_eq!(rec["last_session"]["end_reason"], "duration elapsed");
    assert!(rec["session"].is_null());
    assert_eq!(rec["active"], false);
    assert!(
        wait_until(Duration::from_secs(5), || !pid_alive(hold)),
        "hold gone"
    );
    assert_eq!(server.record_patches("cam2"), vec![true, false]);
    assert!(readers_of("cam2", server.rtsp_port).is_empty());
    server.assert_requests_valid();
}

#[test]
fn a_second_start_while_recording_re_triggers_the_same_session() {
    let dir = TempDir::new("rec-twice");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("cam3"));
    let (code, _, err) = run(hook(&dir, &server), &["record", "start", "cam3"]);
    assert_eq!(code, 0, "{err}");
    let hold = hold_pid(&state, "cam3");
    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "cam3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("recording already until `hook record stop`"),
        "{out}"
    );
    assert_eq!(
        server.record_patches("cam3"),
        vec![true],
        "nothing started again"
    );
    assert_eq!(
        hold_pid(&state, "cam3"),
        hold,
        "the first session is untouched"
    );
    assert!(pid_alive(hold));
    let (code, _, err) = run(hook(&dir, &server), &["record", "stop", "cam3"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_input_is_a_usage_error() {
    let dir = TempDir::new("rec-bad");
    let server = Standin::start(
        dir.path(),
        Options {
            rtsp: false,
            ..Options::both("cam4")
        },
    );
    for args in [
        vec!["record", "start", "a//b"],
        vec!["record", "start", ""],
        vec!["record", "start", "cam4", "--duration", "0s"],
        vec!["record", "start", "cam4", "--duration", "90"],
        vec!["record", "stop", "../x"],
    ] {
        let (code, _, err) = run(hook(&dir, &server), &args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    assert!(server.requests().is_empty(), "nothing reached the API");
}
