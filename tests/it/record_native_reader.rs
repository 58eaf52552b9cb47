//! A recording hold with its native RTSP reader (`hook rtsp-read`) against
//! GStreamer's RTSP server: it holds the stream, comes back
//! after a MediaMTX restart, and is gone after stop.

use crate::support::common;
use crate::support::standin;

use std::time::Duration;

use common::*;
use standin::{Options, Standin};

const NATIVE: &str = r#"{
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"}
}"#;

fn native_readers(path: &str, port: u16) -> Vec<ProcInfo> {
    live_processes_with(&format!("rtsp-read rtsp://127.0.0.1:{port}/{path}"))
}

#[test]
fn the_native_reader_holds_reconnects_and_leaves() {
    let dir = TempDir::new("rec-native");
    let state = dir.join("state");
    let mut server = Standin::start(dir.path(), Options::both("native1"));
    let cfg = write_config(dir.path(), NATIVE);
    let run = |args: &[&str], server: &Standin| {
        let mut c = hook_command(&state);
        c.env("HOOK_CONFIG", &cfg)
            .env("HOOK_MTX_API", server.api_url())
            .env("RTSP_PORT", server.rtsp_port.to_string())
            .args(args);
        run_to_end(c, Duration::from_secs(30))
    };

    let (code, _, err) = run(&["record", "start", "native1"], &server);
    assert_eq!(code, 0, "{err}");
    let rec = path_state(&state, "native1")["recording"].clone();
    assert_eq!(rec["hold"]["reading"], true, "{rec}");
    let hold = rec["session"]["hold_pid"].as_u64().unwrap() as u32;
    let readers = native_readers("native1", server.rtsp_port);
    assert_eq!(readers.len(), 1, "{readers:?}");
    assert_eq!(readers[0].ppid, hold);
    assert_eq!(server.rtsp_clients(), 1);
    assert!(
        live_processes_with(&format!("127.0.0.1:{}/native1", server.rtsp_port))
            .iter()
            .all(|p| !p.cmdline.starts_with("ffmpeg")),
        "no FFmpeg involved"
    );

    server.restart();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let rec = path_state(&state, "native1")["recording"].clone();
            rec["hold"]["reading"] == true && rec["hold"]["starts"].as_u64() >= Some(2)
        }),
        "reads again after the restart: {}",
        path_state(&state, "native1")
    );
    assert!(
        wait_until(Duration::from_secs(10), || server.record_patches("native1")
            == vec![true, true]),
        "recording switched back on: {:?}",
        server.record_patches("native1")
    );

    let (code, out, err) = run(&["record", "stop", "native1"], &server);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!pid_alive(hold));
    assert!(wait_until(Duration::from_secs(3), || native_readers(
        "native1",
        server.rtsp_port
    )
    .is_empty()));
    assert!(
        wait_until(Duration::from_secs(10), || server
            .events()
            .iter()
            .filter(|e| e["event"] == "client-closed")
            .count()
            >= 1),
        "the server saw the reader leave"
    );
    server.assert_requests_valid();
}

/// The key that once chose the hold's reader: `native` (what every hold
/// runs now) is accepted with a warning to delete it; `ffmpeg` is refused
/// with exit 2 naming the key, since that reader is gone.
#[test]
fn the_obsolete_hold_reader_key() {
    let dir = TempDir::new("rec-obsolete-key");
    let state = dir.join("state");
    let status = |value: &str| {
        let cfg = write_config(
            dir.path(),
            &format!(r#"{{"recording": {{"hold_reader": "{value}"}}}}"#),
        );
        let mut c = hook_command(&state);
        c.env("HOOK_CONFIG", &cfg).args(["status", "--json"]);
        run_to_end(c, Duration::from_secs(10))
    };
    let (code, out, err) = status("native");
    assert_eq!(code, 0, "{err}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
        "{out}"
    );
    assert!(
        err.contains("recording.hold_reader is obsolete") && err.contains("delete the key"),
        "{err}"
    );
    // The old shipped default, still in configs an operator edited: loads,
    // with a warning.
    let (code, _, err) = status("ffmpeg");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("FFmpeg hold reader was removed"), "{err}");
    assert!(err.contains("delete the key"), "{err}");
    let (code, _, err) = status("gstreamer");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("recording.hold_reader"), "{err}");
}
