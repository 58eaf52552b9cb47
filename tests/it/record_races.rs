//! Recording sessions under concurrency and crashes, against the real `hook`
//! and MediaMTX's stand-in (a real RTSP server, a Control API that logs
//! every request): a start during a stop's wait for the last segment, a
//! `record start` SIGKILLed after switching recording on, many starts at
//! once, recording switched on with no session, and the record switch
//! PATCHed only when it is really off.

use crate::support::common;
use crate::support::standin;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use standin::{Options, Standin};

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

/// Starts `hook ARGS` in the background, in its own process group, with
/// its output kept in files under `dir` (named by `tag`).
fn spawn(mut c: Command, dir: &TempDir, tag: &str, args: &[&str]) -> Child {
    let out = std::fs::File::create(dir.join(format!("{tag}.out"))).unwrap();
    let err = std::fs::File::create(dir.join(format!("{tag}.err"))).unwrap();
    c.args(args)
        .process_group(0)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    c.spawn().unwrap()
}

fn output(dir: &TempDir, tag: &str) -> (String, String) {
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{tag}.{ext}"))).unwrap();
    (read("out"), read("err"))
}

fn holds_of(path: &str) -> Vec<ProcInfo> {
    live_processes_with(&format!("hold {path}"))
        .into_iter()
        .filter(|p| p.cmdline.contains("hook"))
        .collect()
}

/// PATCHes `record` of `entry` straight at the stand-in's API, as an
/// operator (or an earlier hook) could have.
fn patch_record(server: &Standin, entry: &str, on: bool) {
    let body = format!("{{\"record\":{on}}}");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.api_port)).unwrap();
    write!(
        s,
        "PATCH /v3/config/paths/patch/{entry} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

fn config_gets(server: &Standin, entry: &str) -> usize {
    let path = format!("/v3/config/paths/get/{entry}");
    server
        .requests()
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"] == path.as_str())
        .count()
}

#[test]
fn a_start_while_a_stop_waits_for_the_last_segment_waits_for_the_stop() {
    let dir = TempDir::new("race-stop-start");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("race1"));
    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "race1"]);
    assert_eq!(code, 0, "{out}{err}");
    let first_hold = recording(&state, "race1")["session"]["hold_pid"]
        .as_u64()
        .unwrap() as u32;

    // The stop switches recording off, then waits (2 s here: no segment
    // comes) for MediaMTX's last segment. A start arrives in that wait.
    let mut stop = spawn(
        hook(&dir, &server),
        &dir,
        "stop",
        &["record", "stop", "race1"],
    );
    assert!(
        wait_until(Duration::from_secs(20), || server.record_patches("race1")
            == vec![true, false]),
        "the stop switched recording off: {:?}",
        server.requests()
    );
    let stop_switched_off = Instant::now();
    let mut start = spawn(
        hook(&dir, &server),
        &dir,
        "start",
        &["record", "start", "race1"],
    );
    let stop_status = wait_timeout(&mut stop, Duration::from_secs(30)).expect("stop ends");
    let stop_ended = Instant::now();
    let start_status = wait_timeout(&mut start, Duration::from_secs(30)).expect("start ends");
    let (stop_out, stop_err) = output(&dir, "stop");
    let (start_out, start_err) = output(&dir, "start");
    assert_eq!(stop_status.code(), Some(0), "{stop_out}{stop_err}");
    assert!(stop_out.contains("session ended after"), "{stop_out}");
    assert_eq!(start_status.code(), Some(0), "{start_out}{start_err}");
    assert!(
        stop_ended - stop_switched_off >= Duration::from_millis(1500),
        "the stop was still in its final-segment wait when the start came"
    );

    // The stop ended the first session only; the second records.
    assert!(!pid_alive(first_hold), "the first hold is gone");
    let rec = recording(&state, "race1");
    assert_eq!(rec["last_session"]["status"], "ended", "{rec}");
    assert_eq!(rec["session"]["status"], "active", "{rec}");
    assert_eq!(rec["active"], true, "{rec}");
    let second_hold = rec["session"]["hold_pid"].as_u64().unwrap() as u32;
    assert_ne!(second_hold, first_hold);
    std::thread::sleep(Duration::from_secs(1));
    assert!(pid_alive(second_hold), "the new session's hold stays");
    assert_eq!(server.record_patches("race1"), vec![true, false, true]);
    let (code, json, err) = run(hook(&dir, &server), &["status", "race1", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["paths"]["race1"]["recording"]["active"], true, "{json}");
    assert_eq!(v["paths"]["race1"]["recording"]["stale"], false, "{json}");

    // And it can be stopped: recording off, hold gone.
    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "race1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        server.record_patches("race1"),
        vec![true, false, true, false]
    );
    assert!(!pid_alive(second_hold));
    assert!(holds_of("race1").is_empty(), "{:?}", holds_of("race1"));
    server.assert_requests_valid();
}

#[test]
fn a_start_killed_after_switching_recording_on_is_cleaned_up_and_never_reapplied() {
    let dir = TempDir::new("race-killed-start");
    let state = dir.join("state");
    let server = Standin::start(
        dir.path(),
        Options {
            // Below the hook's API timeout (2 s): the later PATCHes are answered.
            patch_delay: Some(Duration::from_millis(1200)),
            ..Options::both("kill2")
        },
    );
    // SIGKILLed while MediaMTX applies its PATCH: recording is on, no hold
    // has started yet.
    let mut start = spawn(
        hook(&dir, &server),
        &dir,
        "start",
        &["record", "start", "kill2"],
    );
    assert!(
        wait_until(Duration::from_secs(20), || server.patches_received() == 1),
        "{:?}",
        server.events()
    );
    let starter = start.id();
    kill_group(starter, libc::SIGKILL);
    let _ = start.wait();
    assert!(
        wait_until(Duration::from_secs(10), || server.record_patches("kill2")
            == vec![true]),
        "MediaMTX applied the PATCH"
    );
    let rec = recording(&state, "kill2");
    assert_eq!(rec["session"]["status"], "starting", "{rec}");
    assert_eq!(rec["session"]["starter_pid"], starter, "{rec}");
    assert!(rec["session"]["hold_pid"].is_null(), "{rec}");
    assert!(holds_of("kill2").is_empty());

    // Status says so, not "starting" for ever.
    let (code, json, err) = run(hook(&dir, &server), &["status", "kill2", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let p = &v["paths"]["kill2"];
    assert_eq!(p["recording"]["stale"], true, "{p}");
    assert_eq!(p["stale"], true, "{p}");
    assert!(
        p["notes"][0]
            .as_str()
            .unwrap()
            .contains(&format!("`hook record start` (pid {starter}) is gone")),
        "{p}"
    );
    let (code, human, err) = run(hook(&dir, &server), &["status", "kill2"]);
    assert_eq!(code, 0, "{err}");
    assert!(human.contains("NEVER STARTED"), "{human}");

    // MediaMTX's runOnAvailable does not switch it back on.
    let mut ready = mediamtx_command(&state, "kill2", server.rtsp_port);
    ready
        .env("HOOK_CONFIG", write_config(dir.path(), FAST))
        .env("HOOK_MTX_API", server.api_url())
        .arg("ready");
    let (code, _, err) = run_to_end(ready, Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("not switched back on"), "{err}");
    assert_eq!(server.patches_received(), 1, "ready sent no PATCH");

    // `record stop` cleans it up and switches recording off.
    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "kill2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("cleaned up a session that never started"),
        "{out}"
    );
    assert!(out.contains("recording switched off"), "{out}");
    assert_eq!(server.record_patches("kill2"), vec![true, false]);
    let rec = recording(&state, "kill2");
    assert!(rec["session"].is_null(), "{rec}");
    assert_eq!(rec["last_session"]["status"], "failed", "{rec}");
    assert!(
        rec["last_session"]["end_reason"]
            .as_str()
            .unwrap()
            .contains(&format!("`hook record start` (pid {starter}) ended")),
        "{rec}"
    );
    // Idempotent: nothing left, recording off, nothing sent.
    let (code, _, err) = run(hook(&dir, &server), &["record", "stop", "kill2"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no recording session"), "{err}");
    assert_eq!(server.patches_received(), 2);
    server.assert_requests_valid();
}

#[test]
fn a_new_start_cleans_up_after_a_killed_start() {
    let dir = TempDir::new("race-restart");
    let state = dir.join("state");
    let server = Standin::start(
        dir.path(),
        Options {
            patch_delay: Some(Duration::from_millis(1500)),
            ..Options::both("kill3")
        },
    );
    let mut start = spawn(
        hook(&dir, &server),
        &dir,
        "start",
        &["record", "start", "kill3"],
    );
    assert!(wait_until(Duration::from_secs(20), || server
        .patches_received()
        == 1));
    kill_group(start.id(), libc::SIGKILL);
    let _ = start.wait();
    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "kill3"]);
    assert_eq!(code, 0, "{out}{err}");
    let rec = recording(&state, "kill3");
    assert_eq!(rec["session"]["status"], "active", "{rec}");
    assert_eq!(rec["last_session"]["status"], "failed", "{rec}");
    assert_eq!(holds_of("kill3").len(), 1, "{:?}", holds_of("kill3"));
    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "kill3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.record_patches("kill3").last(), Some(&false));
    assert!(holds_of("kill3").is_empty());
}

#[test]
fn many_concurrent_starts_make_exactly_one_hold() {
    let dir = TempDir::new("race-many");
    let state = dir.join("state");
    // A slow API widens the window in which the starts overlap.
    let server = Standin::start(
        dir.path(),
        Options {
            patch_delay: Some(Duration::from_millis(500)),
            ..Options::both("many4")
        },
    );
    const N: usize = 8;
    let mut starts: Vec<Child> = (0..N)
        .map(|i| {
            spawn(
                hook(&dir, &server),
                &dir,
                &format!("start{i}"),
                &["record", "start", "many4"],
            )
        })
        .collect();
    // One starts the session; the others wait for it, then re-trigger it.
    let mut succeeded = Vec::new();
    let mut retriggered = 0;
    for (i, child) in starts.iter_mut().enumerate() {
        let status = wait_timeout(child, Duration::from_secs(60)).expect("start ends");
        let (out, err) = output(&dir, &format!("start{i}"));
        assert_eq!(status.code(), Some(0), "start {i}: {out}{err}");
        if out.contains("re-trigger ") {
            retriggered += 1;
        } else {
            succeeded.push(out);
        }
        assert!(!err.contains("start deadline"), "start {i}: {err}");
    }
    assert_eq!(succeeded.len(), 1, "{succeeded:?}");
    assert_eq!(retriggered, N - 1);
    let holds = holds_of("many4");
    assert_eq!(holds.len(), 1, "{holds:?}");
    let rec = recording(&state, "many4");
    assert_eq!(rec["session"]["hold_pid"], holds[0].pid, "{rec}");
    assert_eq!(rec["session"]["status"], "active", "{rec}");
    assert_eq!(rec["session"]["retriggers"], N - 1, "{rec}");
    assert!(
        rec["last_session"].is_null(),
        "no session was wrongly failed: {rec}"
    );
    assert_eq!(server.record_patches("many4"), vec![true]);
    let log = std::fs::read_to_string(state.join("holds/many4.log")).unwrap();
    assert!(log.contains("holding rtsp://"), "{log}");

    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "many4"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(holds_of("many4").is_empty());
    server.assert_requests_valid();
}

#[test]
fn record_stop_with_no_session_still_switches_recording_off() {
    let dir = TempDir::new("race-nosession");
    let server = Standin::start(
        dir.path(),
        Options {
            rtsp: false,
            ..Options::both("left5")
        },
    );
    patch_record(&server, "left5", true);
    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "left5"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("no recording session, but MediaMTX's record switch was on: switched it off"),
        "{out}"
    );
    assert_eq!(server.record_patches("left5"), vec![true, false]);
    // `hook stop` too leaves it off.
    patch_record(&server, "left5", true);
    let (code, out, err) = run(hook(&dir, &server), &["stop", "left5"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("switched it off"), "{out}");
    assert_eq!(
        server.record_patches("left5"),
        vec![true, false, true, false]
    );
    let (code, _, err) = run(hook(&dir, &server), &["record", "stop", "left5"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("record switch is off"), "{err}");
    assert_eq!(server.record_patches("left5").len(), 4);
}

#[test]
fn the_record_switch_is_patched_only_when_it_is_off() {
    let dir = TempDir::new("race-getfirst");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("get6"));
    let (code, out, err) = run(hook(&dir, &server), &["record", "start", "get6"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.record_patches("get6"), vec![true]);

    // The hold checks every 300 ms: it reads, and sends nothing while on.
    let gets = config_gets(&server, "get6");
    assert!(
        wait_until(Duration::from_secs(10), || config_gets(&server, "get6")
            >= gets + 3),
        "the hold reads the switch: {:?}",
        server.requests()
    );
    assert_eq!(server.record_patches("get6"), vec![true]);

    // runOnAvailable while recording is on: read, not PATCHed.
    let ready = || {
        let mut c = mediamtx_command(&state, "get6", server.rtsp_port);
        c.env("HOOK_CONFIG", write_config(dir.path(), FAST))
            .env("HOOK_MTX_API", server.api_url())
            .arg("ready");
        run_to_end(c, Duration::from_secs(20))
    };
    let before = config_gets(&server, "get6");
    let (code, _, err) = ready();
    assert_eq!(code, 0, "{err}");
    assert!(config_gets(&server, "get6") > before);
    assert!(err.contains("recording is on"), "{err}");
    assert_eq!(server.record_patches("get6"), vec![true]);

    // Switched off behind the hook's back: switched on again, once.
    patch_record(&server, "get6", false);
    assert!(
        wait_until(Duration::from_secs(10), || server.record_patches("get6")
            == vec![true, false, true]),
        "{:?}",
        server.record_patches("get6")
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(server.record_patches("get6"), vec![true, false, true]);

    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "get6"]);
    assert_eq!(code, 0, "{out}{err}");
    server.assert_requests_valid();
}

/// A TCP proxy in front of the stand-in's RTSP port that refuses readers
/// (accepts, then closes) until `open_after` has passed, as MediaMTX fails
/// readers until its on-demand publisher is up; then it forwards.
fn late_stream_proxy(target: u16, open_after: Duration) -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", free_port())).unwrap();
    let port = listener.local_addr().unwrap().port();
    let opens = Instant::now() + open_after;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(client) = conn else { continue };
            if Instant::now() < opens {
                drop(client);
                continue;
            }
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    port
}

#[test]
fn a_stream_later_than_mediamtx_start_timeout_is_still_waited_for() {
    let dir = TempDir::new("race-late");
    let state = dir.join("state");
    let server = Standin::start(dir.path(), Options::both("late7"));
    // The stream comes 4 s after the reader first asks: later than the
    // start timeout (3 s), within the deadline (3 s + 1 s lock wait + 2 s).
    let proxy = late_stream_proxy(server.rtsp_port, Duration::from_secs(4));
    let mut c = hook(&dir, &server);
    c.env("RTSP_PORT", proxy.to_string());
    let started = Instant::now();
    let (code, out, err) = run(c, &["record", "start", "late7"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("recording until"), "{out}");
    assert!(took >= Duration::from_secs(4), "{took:?}");
    assert_eq!(recording(&state, "late7")["session"]["status"], "active");
    let (code, out, err) = run(hook(&dir, &server), &["record", "stop", "late7"]);
    assert_eq!(code, 0, "{out}{err}");
}
