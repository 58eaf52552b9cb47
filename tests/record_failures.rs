//! A recording session that cannot start leaves nothing behind: no hold, no
//! reader, recording switched off again, the session marked failed with why.

mod common;
#[path = "support/standin.rs"]
mod standin;

use std::time::{Duration, Instant};

use common::*;
use standin::{Options, Standin};

const FAST: &str = r#"{
    "viewing": {"start_timeout": "3s"},
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s", "device_lock_wait": "1s"}
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
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(8),
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
