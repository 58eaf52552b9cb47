//! MediaMTX's event hooks during a recording session, run as MediaMTX runs
//! them: `hook ready` (runOnAvailable) switches recording back on for a live
//! session after a MediaMTX restart, and `hook segment-complete`
//! (runOnRecordSegmentComplete) counts segments into the session.

use crate::support::common;
use crate::support::standin;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use standin::{Options, Standin};
use time::OffsetDateTime;

/// The hold checks the switch only once an hour here, so what switches it
/// back on in these tests is `hook ready`.
const SLOW_HOLD: &str = r#"{
    "recording": {"hold_check_interval": "1h"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"}
}"#;

fn person(dir: &TempDir, server: &Standin) -> Command {
    let mut c = hook_command(&dir.join("state"));
    c.env("HOOK_CONFIG", write_config(dir.path(), SLOW_HOLD))
        .env("HOOK_MTX_API", server.api_url())
        .env("RTSP_PORT", server.rtsp_port.to_string());
    c
}

fn mediamtx(dir: &TempDir, server: &Standin, path: &str) -> Command {
    let mut c = mediamtx_command(&dir.join("state"), path, server.rtsp_port);
    c.env("HOOK_CONFIG", write_config(dir.path(), SLOW_HOLD))
        .env("HOOK_MTX_API", server.api_url())
        .env("TZ", "UTC");
    c
}

#[test]
fn ready_switches_recording_back_on_for_a_live_session_only() {
    let dir = TempDir::new("rec-ready");
    let mut server = Standin::start(dir.path(), Options::both("ready1"));

    // No session: ready changes nothing at the API.
    let mut ready = mediamtx(&dir, &server, "ready1");
    ready.arg("ready");
    let (code, _, err) = run_to_end(ready, Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    assert!(server.record_patches("ready1").is_empty());

    let mut start = person(&dir, &server);
    start.args(["record", "start", "ready1"]);
    let (code, _, err) = run_to_end(start, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.record_patches("ready1"), vec![true]);

    // MediaMTX restarts (forgetting the PATCH); its stream becomes available
    // and it runs runOnAvailable.
    server.restart();
    assert!(
        server.record_patches("ready1").len() == 1,
        "the hold did not do it"
    );
    let mut ready = mediamtx(&dir, &server, "ready1");
    ready.arg("ready");
    let (code, _, err) = run_to_end(ready, Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("recording switched back on"), "{err}");
    assert_eq!(server.record_patches("ready1"), vec![true, true]);

    let mut stop = person(&dir, &server);
    stop.args(["record", "stop", "ready1"]);
    let (code, _, err) = run_to_end(stop, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    server.assert_requests_valid();
}

/// Writes a segment file named as MediaMTX names it (UTC here).
fn segment_file(dir: &Path, start: OffsetDateTime) -> std::path::PathBuf {
    let name = segment_name(time::PrimitiveDateTime::new(start.date(), start.time()));
    let file = dir.join(name);
    std::fs::write(&file, vec![0u8; 4096]).unwrap();
    file
}

#[test]
fn segments_completed_during_a_session_count_into_it() {
    let dir = TempDir::new("rec-segs");
    let state = dir.join("state");
    let recordings = dir.join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    let server = Standin::start(dir.path(), Options::both("segs2"));

    // A segment from before the session: not the session's.
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(600);
    let old = segment_file(&recordings, before);

    let mut start = person(&dir, &server);
    start.args(["record", "start", "segs2"]);
    let (code, _, err) = run_to_end(start, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    let started: OffsetDateTime = time::OffsetDateTime::parse(
        path_state(&state, "segs2")["recording"]["session"]["started_at"]
            .as_str()
            .unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();

    let complete = |file: &Path, duration: &str| {
        let mut c = mediamtx(&dir, &server, "segs2");
        c.env("MTX_SEGMENT_PATH", file)
            .env("MTX_SEGMENT_DURATION", duration)
            .arg("segment-complete");
        let (code, _, err) = run_to_end(c, Duration::from_secs(10));
        assert_eq!(code, 0, "{err}");
    };
    complete(&old, "10.0");
    // Two segments in the session, the second 5 s after the first ended.
    let first = segment_file(&recordings, started + time::Duration::milliseconds(200));
    complete(&first, "2.5");
    let second = segment_file(&recordings, started + time::Duration::milliseconds(7700));
    complete(&second, "1.25");

    let session = path_state(&state, "segs2")["recording"]["session"].clone();
    assert_eq!(session["segments"], 2, "{session}");
    assert_eq!(session["recorded_seconds"], 3.75, "{session}");
    assert_eq!(session["gaps"], 1, "{session}");

    let mut stop = person(&dir, &server);
    stop.args(["record", "stop", "segs2"]);
    let (code, out, err) = run_to_end(stop, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 segments, 3.8 s recorded, 1 gap"), "{out}");
    let last = path_state(&state, "segs2")["recording"]["last_session"].clone();
    assert_eq!(last["segments"], 2, "{last}");
    assert_eq!(last["status"], "ended");
}
