//! A recording session as an operator watches it: its start and end told
//! once each in the log, naming the path, and `hook status --prometheus`
//! showing it active while it runs and inactive after, against a real RTSP
//! server (GStreamer's) and the Control API stand-in.

use crate::support::common;
use crate::support::standin;

use std::process::Command;
use std::time::Duration;

use common::*;
use standin::{Options, Standin};

const FAST: &str = r#"{
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"}
}"#;

fn hook(dir: &TempDir, server: &Standin, args: &[&str]) -> Command {
    let mut c = server.hook(dir, FAST);
    c.args(args);
    c
}

fn metric(text: &str, line_start: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
}

#[test]
fn session_start_and_end_are_logged_once_and_seen_in_the_metrics() {
    let dir = TempDir::new("ops-session");
    let server = Standin::start(dir.path(), Options::both("cam0"));
    let limit = Duration::from_secs(30);

    let (code, out, err) = run_to_end(hook(&dir, &server, &["record", "start", "cam0"]), limit);
    assert_eq!(code, 0, "{out}{err}");
    let started = err
        .lines()
        .filter(|l| l.contains("recording session started"))
        .collect::<Vec<_>>();
    assert_eq!(started.len(), 1, "{err}");
    assert!(started[0].contains("INFO  hook[cam0] pid="), "{err}");
    for line in err.lines() {
        assert!(
            line.contains(" hook[cam0] pid="),
            "line without its path: {line:?}"
        );
    }

    let (code, text, err) = run_to_end(hook(&dir, &server, &["status", "--prometheus"]), limit);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        metric(&text, "mediamtx_hook_recording_active{path=\"cam0\"}").as_deref(),
        Some("1"),
        "{text}"
    );

    let (code, out, err) = run_to_end(hook(&dir, &server, &["record", "stop", "cam0"]), limit);
    assert_eq!(code, 0, "{out}{err}");
    let ended = err
        .lines()
        .filter(|l| l.contains("recording session ended"))
        .count();
    assert_eq!(ended, 1, "{err}");
    for line in err.lines() {
        assert!(
            line.contains(" hook[cam0] pid="),
            "line without its path: {line:?}"
        );
    }

    let (code, text, err) = run_to_end(hook(&dir, &server, &["status", "--prometheus"]), limit);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        metric(&text, "mediamtx_hook_recording_active{path=\"cam0\"}").as_deref(),
        Some("0"),
        "{text}"
    );
}
