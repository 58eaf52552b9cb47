//! End to end: a MediaMTX runs the hook from a `mediamtx.yml` whose `paths:`
//! are what `hook mediamtx-config` prints, and real FFmpeg readers drive it.
//! Every case runs twice: against the real MediaMTX (`real_*`, ignored unless
//! run with `--ignored` and `MEDIAMTX_BIN` naming a binary; `scripts/test.sh`
//! does that when the variable is set) and against the on-demand stand-in
//! `tests/support/mtx_ondemand.py` (`standin_*`). The policy is short
//! (close-after 3 s, 2 s segments) so each case takes seconds.

use crate::both;
use crate::support::common;
use crate::support::e2e as e2e_support;

use std::time::{Duration, Instant};

use common::*;
use e2e_support::*;

/// A reader watching the path, with frames decoded; the status's pids.
fn watch(m: &Mtx) -> (Reader, u32, u32) {
    let r = Reader::start(&m.url(PATH));
    assert!(
        r.wait_frames(10, START_TIMEOUT + SLACK),
        "no frames for a reader: {}\nMediaMTX:\n{}",
        r.log(),
        m.log_text()
    );
    let mut pids = (0, 0);
    let ok = poll(SLACK, Duration::from_millis(200), || {
        let st = m.status();
        match (st["supervisor_pid"].as_u64(), st["child_pid"].as_u64()) {
            (Some(s), Some(c)) => {
                pids = (s as u32, c as u32);
                true
            }
            _ => false,
        }
    });
    assert!(ok, "status never showed the publisher: {}", m.status());
    (r, pids.0, pids.1)
}

/// Starts a recording session; returns once `hook record start` did.
fn record_start(m: &Mtx) {
    let (code, out, err) = m.run_hook(&["record", "start", PATH], START_TIMEOUT + SLACK * 2);
    assert_eq!(
        code,
        0,
        "hook record start: {out}{err}\nMediaMTX:\n{}",
        m.log_text()
    );
}

fn record_stop(m: &Mtx) {
    let (code, out, err) = m.run_hook(&["record", "stop", PATH], SLACK * 2);
    assert_eq!(code, 0, "hook record stop: {out}{err}");
}

/// Waits until the ledger holds at least `n` segments.
fn wait_segments(m: &Mtx, n: usize, timeout: Duration) {
    let ok = poll(timeout, Duration::from_millis(200), || {
        m.ledger().len() >= n
    });
    assert!(
        ok,
        "the ledger holds {} segments, expected {n} within {timeout:?}; files on disk: {:?}\nMediaMTX:\n{}",
        m.ledger().len(),
        m.segment_files(),
        m.log_text()
    );
}

// a. A reader starts the camera on demand; status shows the activation latency.
fn on_demand_start(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    let (code, idle) = m.api_get(&format!("/v3/paths/get/{PATH}"));
    assert_eq!(code, 200, "a configured idle path answers 200: {idle}");
    assert_eq!(idle["ready"], false, "{idle}");
    assert_eq!(m.api_get("/v3/paths/get/nosuchpath").0, 404);
    assert!(m.hook_runs().is_empty(), "nothing runs before a reader");

    let t0 = Instant::now();
    let (_r, sup, child) = watch(&m);
    let first = t0.elapsed();
    assert_eq!(m.hook_runs().len(), 1, "one hook run: {:?}", m.hook_runs());
    assert!(m.path_ready());
    let mut st = serde_json::Value::Null;
    let ok = poll(SLACK, Duration::from_millis(200), || {
        st = m.status();
        st["activation_latency_ms"].is_u64()
    });
    assert!(ok, "no activation latency in status: {st}");
    assert_eq!(st["phase"], "running", "{st}");
    assert_eq!(st["use_cases"], serde_json::json!(["viewing"]), "{st}");
    assert_eq!(st["supervisor_pid"], sup);
    assert_eq!(st["child_pid"], child);
    let latency = st["activation_latency_ms"].as_u64().unwrap();
    assert!(
        latency > 0 && Duration::from_millis(latency) < first,
        "activation latency {latency} ms, the reader's first frames after {first:?}"
    );
    eprintln!("{b:?}: first frames after {first:?}, activation latency {latency} ms");
    // The publisher's RTP packets fit MediaMTX's 1440 bytes (-pkt_size):
    // MediaMTX does not re-packetize them.
    let log = m.log_text();
    assert!(!log.contains("RTP packets are too big"), "{log}");
}
both!(
    on_demand_start,
    real_on_demand_start,
    standin_on_demand_start
);

// b. The last reader leaves: MediaMTX stops the hook after close-after; the
// hook exits 0 and leaves nothing; status idle.
fn last_reader_leaves(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    let (r, sup, child) = watch(&m);
    let left = Instant::now();
    r.stop();
    let gone = wait_until(CLOSE_AFTER + SLACK * 2, || !pid_alive(sup));
    let after = left.elapsed();
    assert!(gone, "hook run {sup} still runs:\n{}", m.log_text());
    assert!(
        after + Duration::from_millis(300) >= CLOSE_AFTER,
        "hook run stopped {after:?} after the reader left, before close-after {CLOSE_AFTER:?}"
    );
    assert!(!pid_alive(child), "ffmpeg {child} outlived its hook");
    let log = m.log_text();
    assert!(
        log.contains(&format!("pid={sup} stopped cleanly")) && log.contains("exiting 0"),
        "the hook did not say it exited 0:\n{log}"
    );
    assert_eq!(m.log_count("runOnDemand command stopped"), 1, "{log}");
    assert!(m.hook_runs().is_empty(), "{:?}", m.hook_runs());
    assert!(m.path_processes().is_empty(), "{:?}", m.path_processes());
    let st = m.status();
    assert_eq!(st["phase"], "idle", "{st}");
    assert_eq!(st["child_pid"], serde_json::Value::Null, "{st}");
    assert!(!m.path_ready());
    eprintln!("{b:?}: hook run gone {after:?} after the last reader left");
}
both!(
    last_reader_leaves,
    real_last_reader_leaves,
    standin_last_reader_leaves
);

// c. A reader arriving right after that close gets the stream within the
// start timeout (never "device busy").
fn reader_right_after_close(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    let (r, _sup, _child) = watch(&m);
    r.stop();
    let closed = wait_until(CLOSE_AFTER + SLACK * 2, || {
        m.log_count("runOnDemand command stopped") > 0
    });
    assert!(closed, "MediaMTX never closed the path:\n{}", m.log_text());
    let mark = m.log_len();
    let took = frames_within(&m.url(PATH), 5, START_TIMEOUT);
    let since = m.log_since(mark);
    assert!(
        took.is_ok(),
        "{}\nMediaMTX since the close:\n{since}",
        took.unwrap_err()
    );
    assert!(
        !since.to_lowercase().contains("busy"),
        "a new instance met a busy device:\n{since}"
    );
    eprintln!("{b:?}: frames {:?} after the close", took.unwrap());
}
both!(
    reader_right_after_close,
    real_reader_right_after_close,
    standin_reader_right_after_close
);

// d. Recording with no viewer: segments across at least 5 rotations, each
// one in the ledger, 0 gaps; stop switches recording off and ends the hold.
fn recording_without_viewer(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    record_start(&m);
    assert_eq!(
        m.record_switch(),
        Some(true),
        "record is on after record start"
    );
    let st = m.status();
    assert_eq!(st["recording"]["active"], true, "{st}");
    wait_segments(&m, 5, SEGMENT * 5 + SLACK * 3);
    record_stop(&m);
    assert_eq!(
        m.record_switch(),
        Some(false),
        "record is off after record stop"
    );
    // The last segment closes when recording goes off; its hook runs after.
    let settled = poll(SLACK, Duration::from_millis(200), || {
        let files = m.segment_files().len();
        files >= 6
            && m.ledger().len() == files
            && m.log_count("runOnRecordSegmentComplete command launched") == files
    });
    let files = m.segment_files();
    let ledger = m.ledger();
    assert!(
        settled,
        "files on disk {}, ledger {}, segment hooks launched {}\nMediaMTX:\n{}",
        files.len(),
        ledger.len(),
        m.log_count("runOnRecordSegmentComplete command launched"),
        m.log_text()
    );
    for f in &files {
        let canon = std::fs::canonicalize(f).unwrap();
        assert!(
            ledger.iter().any(|e| e["file"]
                .as_str()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .is_some_and(|p| p == canon)),
            "{} is not in the ledger: {ledger:?}",
            f.display()
        );
    }
    let st = m.status();
    assert_eq!(st["segments"]["count"], files.len() as u64, "{st}");
    assert_eq!(st["segments"]["gaps"], 0, "{st}");
    assert_eq!(st["recording"]["active"], false, "{st}");
    let held = wait_until(SLACK, || m.holds().is_empty());
    assert!(held, "the hold is still there: {:?}", m.holds());
    let durations: Vec<String> = m
        .ledger()
        .iter()
        .map(|e| format!("{:.2}", e["duration"].as_f64().unwrap_or(0.0)))
        .collect();
    eprintln!(
        "{b:?}: {} segments, {} s recorded, durations {durations:?}",
        files.len(),
        st["segments"]["recorded_seconds"]
    );
}
both!(
    recording_without_viewer,
    real_recording_without_viewer,
    standin_recording_without_viewer
);

// e. `hook stop PATH` while a viewer watches: the path opens again at once.
fn stop_while_watching(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    let (_r, sup, _child) = watch(&m);
    let (code, out, err) = m.run_hook(&["stop", PATH, "--reason", "e2e"], SLACK * 2);
    assert_eq!(code, 0, "hook stop: {out}{err}");
    let mark = m.log_len();
    let took = frames_within(&m.url(PATH), 5, START_TIMEOUT);
    assert!(
        took.is_ok(),
        "{}\nthe first hook run was {sup}; MediaMTX since hook stop returned:\n{}",
        took.unwrap_err(),
        m.log_since(mark)
    );
    let st = m.status();
    assert_eq!(st["stop_reason"], "e2e", "{st}");
    eprintln!("{b:?}: frames {:?} after hook stop returned", took.unwrap());
}
both!(
    stop_while_watching,
    real_stop_while_watching,
    standin_stop_while_watching
);

// f. MediaMTX restarted during a recording session: recording comes back on
// by itself and the gap is reported with its true length.
fn restart_during_recording(b: Backend) {
    let mut m = Mtx::start(b, Setup::default());
    record_start(&m);
    wait_segments(&m, 2, SEGMENT * 2 + SLACK * 3);
    let wall_stop = std::time::SystemTime::now();
    // Long enough to be a gap (the tolerance is 1.5 s).
    let exited = m.restart(Duration::from_secs(3));
    let down = exited.elapsed();
    let up = Instant::now();
    assert!(
        m.record_switch().is_some(),
        "the API answers after the restart"
    );
    let before = m.ledger().len();
    let back = poll(
        START_TIMEOUT + SLACK * 2,
        Duration::from_millis(200),
        || m.record_switch() == Some(true),
    );
    assert!(back, "recording did not come back on:\n{}", m.log_text());
    let reapplied = up.elapsed();
    wait_segments(&m, before + 2, SEGMENT * 2 + START_TIMEOUT + SLACK * 3);
    let ledger = m.ledger();
    let gapped: Vec<usize> = (1..ledger.len())
        .filter(|&i| ledger[i]["gap_before"].is_number())
        .collect();
    assert_eq!(gapped.len(), 1, "one gap expected: {ledger:#?}");
    let i = gapped[0];
    let (prev, seg) = (&ledger[i - 1], &ledger[i]);
    let reported = seg["gap_before"].as_f64().unwrap();
    let from_times =
        epoch(&seg["start"]) - (epoch(&prev["start"]) + prev["duration"].as_f64().unwrap());
    assert!(
        (reported - from_times).abs() < 0.05,
        "gap reported {reported} s, the segments' times say {from_times} s"
    );
    let stop_epoch = wall_stop
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // The hole covers the time no MediaMTX ran and ends when the first new
    // segment started.
    assert!(
        reported + 0.5 >= down.as_secs_f64(),
        "gap {reported} s is shorter than the {down:?} MediaMTX was down"
    );
    assert!(
        epoch(&prev["start"]) + prev["duration"].as_f64().unwrap() <= stop_epoch + 1.0,
        "the segment before the gap ends after the stop: {prev}"
    );
    let st = m.status();
    assert_eq!(st["segments"]["gaps"], 1, "{st}");
    record_stop(&m);
    eprintln!(
        "{b:?}: down {down:?}, record re-applied {reapplied:?} after the restart, gap reported {reported:.3} s"
    );
}
both!(
    restart_during_recording,
    real_restart_during_recording,
    standin_restart_during_recording
);

// g. MediaMTX SIGKILLed while streaming: hook and FFmpeg gone within 2 s.
fn mediamtx_killed(b: Backend) {
    let mut m = Mtx::start(b, Setup::default());
    let (_r, sup, child) = watch(&m);
    m.sigkill();
    let t = Instant::now();
    let gone = wait_until(Duration::from_secs(2), || {
        !pid_alive(sup) && !pid_alive(child)
    });
    let took = t.elapsed();
    assert!(
        gone,
        "after MediaMTX's SIGKILL: hook run {sup} alive {}, ffmpeg {child} alive {}",
        pid_alive(sup),
        pid_alive(child)
    );
    assert!(m.path_processes().is_empty(), "{:?}", m.path_processes());
    eprintln!("{b:?}: hook and ffmpeg gone {took:?} after MediaMTX's SIGKILL");
}
both!(
    mediamtx_killed,
    real_mediamtx_killed,
    standin_mediamtx_killed
);

// h. A snapshot of an idle path never starts the on-demand publisher; while
// the path streams, the frame comes from the stream.
fn snapshot_sources(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    let snapshot = |shot: &std::path::Path| {
        m.run_hook(
            &[
                "snapshot",
                PATH,
                "-o",
                shot.to_str().unwrap(),
                "--device",
                "testsrc",
            ],
            SLACK * 2,
        )
    };
    let shot = m.dir.join("idle.jpg");
    let (code, out, err) = snapshot(&shot);
    assert_eq!(code, 0, "hook snapshot (idle): {out}{err}");
    assert!(jpeg_size(&std::fs::read(&shot).unwrap()).is_some());
    assert_eq!(m.status()["snapshot"]["source"], "device");
    assert_eq!(
        m.log_count("runOnDemand command started"),
        0,
        "{}",
        m.log_text()
    );
    assert!(m.hook_runs().is_empty() && !m.path_ready());

    let (_r, sup, _child) = watch(&m);
    let shot = m.dir.join("live.jpg");
    let (code, out, err) = snapshot(&shot);
    assert_eq!(code, 0, "hook snapshot (streaming): {out}{err}");
    assert!(jpeg_size(&std::fs::read(&shot).unwrap()).is_some());
    let st = m.status();
    assert_eq!(st["snapshot"]["source"], "stream", "{st}");
    assert_eq!(st["supervisor_pid"], sup, "the publisher was not disturbed");
    assert_eq!(m.log_count("runOnDemand command started"), 1);
}
both!(
    snapshot_sources,
    real_snapshot_sources,
    standin_snapshot_sources
);

// i. The hold's (native) reader holds the path across its close-after and
// across a publisher restart (FFmpeg killed, the supervisor restarts it).
fn hold_across_close_and_restart(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    record_start(&m);
    let mut pids = (0, 0);
    let ok = poll(SLACK, Duration::from_millis(200), || {
        let st = m.status();
        match (st["supervisor_pid"].as_u64(), st["child_pid"].as_u64()) {
            (Some(s), Some(c)) => {
                pids = (s as u32, c as u32);
                true
            }
            _ => false,
        }
    });
    assert!(ok, "no publisher in status: {}", m.status());
    let (sup, child) = pids;
    let closed = wait_until(CLOSE_AFTER * 2, || !pid_alive(sup));
    assert!(!closed, "MediaMTX closed the held path:\n{}", m.log_text());
    assert!(m.path_ready());

    kill_pid(child, libc::SIGKILL);
    let mut new_child = 0;
    let restarted = poll(SLACK * 2, Duration::from_millis(200), || {
        match m.status()["child_pid"].as_u64() {
            Some(c) if c as u32 != child => {
                new_child = c as u32;
                true
            }
            _ => false,
        }
    });
    assert!(
        restarted,
        "the supervisor did not restart ffmpeg: {}",
        m.status()
    );
    let held = poll(SLACK * 2, Duration::from_millis(200), || {
        let (_, p) = m.api_get(&format!("/v3/paths/get/{PATH}"));
        p["ready"] == true && p["readers"].as_array().is_some_and(|r| !r.is_empty())
    });
    assert!(held, "the hold did not read again:\n{}", m.log_text());
    let before = m.ledger().len();
    let closed = wait_until(CLOSE_AFTER * 2, || !pid_alive(sup));
    assert!(
        !closed,
        "MediaMTX closed the path after the publisher restart:\n{}",
        m.log_text()
    );
    assert!(pid_alive(new_child));
    wait_segments(&m, before + 1, SEGMENT * 2 + SLACK * 2);
    assert_eq!(
        m.log_count("runOnDemand command started"),
        1,
        "{}",
        m.log_text()
    );
    record_stop(&m);
}

#[test]
#[ignore = "needs MEDIAMTX_BIN (a MediaMTX binary)"]
fn real_native_hold_across_close_and_restart() {
    hold_across_close_and_restart(Backend::Real)
}
#[test]
fn standin_native_hold_across_close_and_restart() {
    hold_across_close_and_restart(Backend::Standin)
}

// j. RTSP with credentials: publish and hold read with HOOK_RTSP_USER /
// HOOK_RTSP_PASS; the password never shows in argv, logs or status.
fn rtsp_credentials(b: Backend) {
    let secret = "e2e-Secr3t-pw";
    let m = Mtx::start(
        b,
        Setup {
            credentials: Some(("camuser".to_string(), secret.to_string())),
            ..Setup::default()
        },
    );
    record_start(&m);
    let held = poll(START_TIMEOUT + SLACK, Duration::from_millis(200), || {
        let (_, p) = m.api_get(&format!("/v3/paths/get/{PATH}"));
        p["ready"] == true && p["readers"].as_array().is_some_and(|r| !r.is_empty())
    });
    assert!(held, "not published and held:\n{}", m.log_text());
    wait_segments(&m, 1, SEGMENT * 2 + SLACK * 2);
    // A snapshot of the live stream reads through the credential relay.
    let jpeg = m.dir.join("snap.jpg");
    let (code, out, err) = m.run_hook(&["snapshot", PATH, "-o", jpeg.to_str().unwrap()], SLACK * 2);
    assert_eq!(code, 0, "hook snapshot: {out}{err}");
    assert!(err.contains("from the live stream"), "{err}");
    assert!(std::fs::read(&jpeg).unwrap().starts_with(&[0xFF, 0xD8]));
    let leaking: Vec<ProcInfo> = processes()
        .into_iter()
        .filter(|p| p.cmdline.contains(secret))
        .collect();
    assert!(leaking.is_empty(), "the password in argv: {leaking:?}");
    let (code, json, _) = m.run_hook(&["status", "--json"], SLACK);
    assert_eq!(code, 0);
    assert!(!json.contains(secret), "the password in status: {json}");
    record_stop(&m);
    let log = m.log_text();
    assert!(!log.contains(secret), "the password in a log line:\n{log}");
    assert!(
        !log.to_lowercase().contains("authentication failed"),
        "{log}"
    );
}
both!(
    rtsp_credentials,
    real_rtsp_credentials,
    standin_rtsp_credentials
);
