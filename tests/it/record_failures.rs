//! A recording session that cannot start leaves nothing behind: no hold, no
//! reader, recording switched off again, the session marked failed with why.

use crate::support::common;
use crate::support::standin;

use std::time::{Duration, Instant};

use common::*;
use standin::{Options, Standin};

const FAST: &str = r#"{
    "viewing": {"start_timeout": "3s"},
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s", "device_lock_wait": "1s"}
}"#;

const FAST_HOLD: &str = r#"{
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"}
}"#;

fn holds_of(path: &str) -> Vec<ProcInfo> {
    live_processes_with(&format!("hold {path}"))
}

#[test]
fn api_unreachable_fails_cleanly_and_says_how_to_fix_it() {
    let dir = TempDir::new("rec-noapi");
    let state = dir.join("state");
    // The stream is there; the API is not.
    let server = Standin::start(
        dir.path(),
        Options {
            api: false,
            ..Options::both("noapi5")
        },
    );
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let mut c = hook_command(&state);
    c.env("HOOK_CONFIG", write_config(dir.path(), FAST))
        .env("HOOK_MTX_API", &nobody)
        .env("RTSP_PORT", server.rtsp_port.to_string())
        .args(["record", "start", "noapi5"]);
    let started = Instant::now();
    let (code, _, err) = run_to_end(c, Duration::from_secs(20));
    assert_eq!(code, 1, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains(&format!("{nobody}/v3/config/paths/patch/noapi5")),
        "{err}"
    );
    assert!(
        err.contains("api: true") && err.contains("apiAddress: 127.0.0.1:9997"),
        "{err}"
    );
    assert!(
        err.contains("record: true") && err.contains("runOnInit"),
        "{err}"
    );
    assert!(holds_of("noapi5").is_empty(), "{:?}", holds_of("noapi5"));
    assert_eq!(server.rtsp_connections(), 0, "no reader was started");
    let rec = path_state(&state, "noapi5")["recording"].clone();
    assert!(rec["session"].is_null(), "{rec}");
    assert_eq!(rec["active"], false);
    assert_eq!(rec["last_session"]["status"], "failed", "{rec}");
    assert!(
        rec["last_session"]["end_reason"]
            .as_str()
            .unwrap()
            .contains("nothing answers"),
        "{rec}"
    );
}

#[test]
fn a_stream_that_never_comes_fails_within_the_start_timeout_and_is_undone() {
    let dir = TempDir::new("rec-nostream");
    let state = dir.join("state");
    // The API answers; nothing serves RTSP.
    let server = Standin::start(
        dir.path(),
        Options {
            rtsp: false,
            ..Options::both("nostream6")
        },
    );
    let mut c = hook_command(&state);
    c.env("HOOK_CONFIG", write_config(dir.path(), FAST))
        .env("HOOK_MTX_API", server.api_url())
        .env("RTSP_PORT", free_port().to_string())
        .args(["record", "start", "nostream6"]);
    let started = Instant::now();
    let (code, _, err) = run_to_end(c, Duration::from_secs(30));
    let took = started.elapsed();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("start timeout"), "{err}");
    // The deadline is MediaMTX's start timeout (3s) + the device lock wait
    // (1s) + 2s, so it never ends while MediaMTX may still start the stream.
    assert!(
        err.contains(
            "start deadline (6s = MediaMTX's start timeout 3s + device lock wait 1s + 2s)"
        ),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_secs(12),
        "{took:?}"
    );
    assert_eq!(server.record_patches("nostream6"), vec![true, false]);
    assert!(
        holds_of("nostream6").is_empty(),
        "{:?}",
        holds_of("nostream6")
    );
    let rec = path_state(&state, "nostream6")["recording"].clone();
    assert_eq!(rec["last_session"]["status"], "failed", "{rec}");
    assert!(rec["session"].is_null());
    server.assert_requests_valid();
}

#[test]
fn a_path_mediamtx_has_no_entry_for_is_refused_by_name() {
    let dir = TempDir::new("rec-noentry");
    let state = dir.join("state");
    let server = Standin::start(
        dir.path(),
        Options {
            entries: Some(vec!["other".into()]),
            ..Options::both("noentry7")
        },
    );
    let mut c = hook_command(&state);
    c.env("HOOK_CONFIG", write_config(dir.path(), FAST))
        .env("HOOK_MTX_API", server.api_url())
        .env("RTSP_PORT", server.rtsp_port.to_string())
        .args(["record", "start", "noentry7"]);
    let (code, _, err) = run_to_end(c, Duration::from_secs(20));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 404"), "{err}");
    assert!(err.contains("no path entry named \"noentry7\""), "{err}");
    assert!(err.contains("hook mediamtx-config"), "{err}");
    assert!(holds_of("noentry7").is_empty());
}

/// Starts `hook record start PATH` in the background against an API with no
/// stream behind it (so it keeps waiting), in its own process group.
fn waiting_start(dir: &TempDir, server: &Standin, path: &str, policy: &str) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let mut c = hook_command(&dir.join("state"));
    c.env("HOOK_CONFIG", write_config(dir.path(), policy))
        .env("HOOK_MTX_API", server.api_url())
        .env("RTSP_PORT", free_port().to_string())
        .args(["record", "start", path])
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c.spawn().unwrap()
}

#[test]
fn ctrl_c_during_start_undoes_it() {
    let dir = TempDir::new("rec-int");
    let state = dir.join("state");
    let server = Standin::start(
        dir.path(),
        Options {
            rtsp: false,
            ..Options::both("int8")
        },
    );
    let mut start = waiting_start(&dir, &server, "int8", FAST);
    assert!(wait_until(Duration::from_secs(5), || !holds_of("int8").is_empty()));
    kill_group(start.id(), libc::SIGINT);
    let status = wait_timeout(&mut start, Duration::from_secs(8)).expect("record start ends");
    assert_eq!(status.code(), Some(1));
    assert!(holds_of("int8").is_empty(), "{:?}", holds_of("int8"));
    assert_eq!(server.record_patches("int8"), vec![true, false]);
    let last = path_state(&state, "int8")["recording"]["last_session"].clone();
    assert_eq!(last["status"], "failed", "{last}");
    assert!(
        last["end_reason"].as_str().unwrap().contains("interrupted"),
        "{last}"
    );
}

#[test]
fn a_hold_whose_start_was_killed_gives_up_and_switches_recording_off() {
    let dir = TempDir::new("rec-abandon");
    let state = dir.join("state");
    let server = Standin::start(
        dir.path(),
        Options {
            rtsp: false,
            ..Options::both("aband9")
        },
    );
    let policy = r#"{
        "viewing": {"start_timeout": "1500ms"},
        "recording": {"hold_check_interval": "300ms"},
        "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s", "device_lock_wait": "1s"}
    }"#;
    let mut start = waiting_start(&dir, &server, "aband9", policy);
    assert!(wait_until(Duration::from_secs(5), || !holds_of("aband9").is_empty()));
    kill_group(start.id(), libc::SIGKILL);
    let _ = start.wait();
    let hold_log = || std::fs::read_to_string(state.join("holds/aband9.log")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(20), || holds_of("aband9").is_empty()),
        "the orphaned hold gave up: {}\n{}",
        path_state(&state, "aband9"),
        hold_log()
    );
    assert!(
        wait_until(Duration::from_secs(5), || {
            path_state(&state, "aband9")["recording"]["last_session"]["status"] == "failed"
        }),
        "{}\n{}",
        path_state(&state, "aband9"),
        hold_log()
    );
    assert_eq!(server.record_patches("aband9"), vec![true, false]);
    assert!(path_state(&state, "aband9")["recording"]["session"].is_null());
}

#[test]
fn stop_with_mediamtx_gone_still_ends_the_session_and_says_so() {
    let dir = TempDir::new("rec-stop-down");
    let state = dir.join("state");
    let mut server = Standin::start(dir.path(), Options::both("down10"));
    let command = |args: &[&str], api: &str, port: u16| {
        let mut c = hook_command(&state);
        // The default start timeout: this test needs the start to succeed.
        c.env("HOOK_CONFIG", write_config(dir.path(), FAST_HOLD))
            .env("HOOK_MTX_API", api)
            .env("RTSP_PORT", port.to_string())
            .args(args);
        run_to_end(c, Duration::from_secs(30))
    };
    let (api, port) = (server.api_url(), server.rtsp_port);
    let (code, _, err) = command(&["record", "start", "down10"], &api, port);
    assert_eq!(code, 0, "{err}");
    let hold = path_state(&state, "down10")["recording"]["session"]["hold_pid"]
        .as_u64()
        .unwrap() as u32;
    server.kill();
    let (code, out, err) = command(&["record", "stop", "down10"], &api, port);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("session ended"), "{err}");
    assert!(err.contains("could not be switched off"), "{err}");
    assert!(err.contains("api: true"), "{err}");
    assert!(!pid_alive(hold), "hold gone");
    let rec = path_state(&state, "down10")["recording"].clone();
    assert!(rec["session"].is_null(), "{rec}");
    assert_eq!(rec["last_session"]["status"], "ended", "{rec}");
}
