//! `hook snapshot`: straight from the device when no stream runs, from the
//! live stream when one does (asked of the Control API, else judged from the
//! state), one JPEG written atomically and recorded in the state.

use crate::support::common;
use crate::support::standin;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use standin::{jpeg_size, Options, Standin};

fn snapshot(dir: &Path, api: &str, rtsp_port: u16, out: &Path, extra: &[&str]) -> (i32, String) {
    let mut c: Command = hook_command(dir);
    c.env("HOOK_MTX_API", api)
        .env("RTSP_PORT", rtsp_port.to_string())
        .args(["snapshot", "cam0", "-o"])
        .arg(out)
        .args(extra);
    let (code, stdout, stderr) = run_to_end(c, Duration::from_secs(20));
    (code, format!("{stdout}{stderr}"))
}

/// Only the target remains in the output directory: no temporary file.
fn only_file(dir: &Path, name: &str) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![name.to_string()], "{names:?}");
}

#[test]
fn from_the_test_pattern_when_no_stream_runs() {
    let dir = TempDir::new("snap-dev");
    let state = dir.join("state");
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("snap.jpg");
    // Nothing answers the API and no publisher is recorded: the device.
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let (code, text) = snapshot(&state, &nobody, free_port(), &out, &["--device", "testsrc"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{text}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        jpeg_size(&bytes),
        Some((640, 480)),
        "the test pattern's size"
    );
    only_file(&out_dir, "snap.jpg");
    let snap = &path_state(&state, "cam0")["snapshot"];
    assert_eq!(snap["source"], "device", "{snap}");
    assert_eq!(snap["bytes"], bytes.len() as u64);
    assert_eq!(snap["file"], out.display().to_string());
    let millis = snap["millis"].as_u64().unwrap();
    eprintln!(
        "snapshot from the test pattern: {millis} ms in the hook, {took:?} for the whole command"
    );
    assert!(millis < 5000, "{millis} ms");

    // Again over the same file: replaced whole.
    let (code, text) = snapshot(
        &state,
        &nobody,
        free_port(),
        &out,
        &["--device", "testsrc", "--size", "320x240"],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(jpeg_size(&std::fs::read(&out).unwrap()), Some((320, 240)));
    only_file(&out_dir, "snap.jpg");
}

#[test]
fn from_the_live_stream_when_mediamtx_says_it_is_available() {
    let dir = TempDir::new("snap-live");
    let server = Standin::start(dir.path(), Options::both("cam0"));
    let state = dir.join("state");
    let out = dir.join("live.jpg");
    // --device testsrc would give 640x480; the stream is 320x240.
    let (code, text) = snapshot(
        &state,
        &server.api_url(),
        server.rtsp_port,
        &out,
        &["--device", "testsrc"],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        jpeg_size(&std::fs::read(&out).unwrap()),
        Some((320, 240)),
        "{text}"
    );
    assert_eq!(path_state(&state, "cam0")["snapshot"]["source"], "stream");
    assert!(server.rtsp_connections() >= 1, "read over RTSP");
    let gets: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "GET" && r["path"] == "/v3/paths/get/cam0")
        .collect();
    assert_eq!(gets.len(), 1, "asked MediaMTX once: {gets:?}");
    server.assert_requests_valid();
}

#[test]
fn from_the_stream_when_the_api_is_off_but_a_publisher_runs() {
    let dir = TempDir::new("snap-fallback");
    let server = Standin::start(
        dir.path(),
        Options {
            api: false,
            ..Options::both("cam0")
        },
    );
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    // A publisher recorded as running: this test process stands for it.
    let doc = serde_json::json!({
        "schema_version": 1,
        "paths": {"cam0": {"phase": "running", "supervisor_pid": std::process::id()}}
    });
    std::fs::write(state.join("state.json"), doc.to_string()).unwrap();
    let out = dir.join("fallback.jpg");
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let (code, text) = snapshot(
        &state,
        &nobody,
        server.rtsp_port,
        &out,
        &["--device", "testsrc"],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(jpeg_size(&std::fs::read(&out).unwrap()), Some((320, 240)));
    assert_eq!(path_state(&state, "cam0")["snapshot"]["source"], "stream");
}
