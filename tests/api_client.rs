//! The Control API client as the commands use it: Basic credentials from the
//! environment (never on a command line), the 2 s time limit, and base URLs
//! that are refused with exit 2.

mod common;
#[path = "support/standin.rs"]
mod standin;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use standin::{Options, Standin};

const FAST: &str = r#"{
    "recording": {"hold_check_interval": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"}
}"#;

#[test]
fn credentials_come_from_the_environment() {
    let dir = TempDir::new("api-auth");
    let state = dir.join("state");
    let cfg = write_config(dir.path(), FAST);
    let server = Standin::start(
        dir.path(),
        Options {
            credentials: Some(("admin".into(), "s3cret-pw".into())),
            ..Options::both("auth1")
        },
    );
    let command = |user: &str, pass: &str, args: &[&str]| {
        let mut c = hook_command(&state);
        c.env("HOOK_CONFIG", &cfg)
            .env("HOOK_MTX_API", server.api_url())
            .env("HOOK_MTX_API_USER", user)
            .env("HOOK_MTX_API_PASS", pass)
            .env("RTSP_PORT", server.rtsp_port.to_string())
            .args(args);
        run_to_end(c, Duration::from_secs(30))
    };

    let (code, _, err) = command("admin", "wrong", &["record", "start", "auth1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(err.contains("HOOK_MTX_API_USER"), "{err}");
    assert!(live_processes_with("hold auth1").is_empty());

    let (code, _, err) = command("admin", "s3cret-pw", &["record", "start", "auth1"]);
    assert_eq!(code, 0, "{err}");
    let hold = path_state(&state, "auth1")["recording"]["session"]["hold_pid"]
        .as_u64()
        .unwrap() as u32;
    let cmdline = std::fs::read(format!("/proc/{hold}/cmdline")).unwrap();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("s3cret"),
        "no password on the hold's command line"
    );
    let (code, _, err) = command("admin", "s3cret-pw", &["record", "stop", "auth1"]);
    assert_eq!(code, 0, "{err}");
    let statuses: Vec<u64> = server
        .requests()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&401), "{statuses:?}");
    assert_eq!(server.record_patches("auth1"), vec![true, true, false]);
    server.assert_requests_valid();
}

#[test]
fn an_api_that_never_answers_fails_within_the_time_limit() {
    let dir = TempDir::new("api-silent");
    // Accepts connections, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().take(4) {
            held.push(conn);
        }
        std::thread::sleep(Duration::from_secs(10));
    });
    let mut c = hook_command(&dir.join("state"));
    c.env("HOOK_MTX_API", format!("http://127.0.0.1:{port}"))
        .args(["record", "start", "silent2"]);
    let started = Instant::now();
    let (code, _, err) = run_to_end(c, Duration::from_secs(20));
    let took = started.elapsed();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("time limit"), "{err}");
    assert!(
        err.contains(&format!(
            "http://127.0.0.1:{port}/v3/config/paths/patch/silent2"
        )),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(live_processes_with("hold silent2").is_empty());
    drop(keep);
}

#[test]
fn base_urls_that_cannot_work_are_usage_errors() {
    let dir = TempDir::new("api-url");
    for (url, needle) in [
        ("https://127.0.0.1:9997", "https is not supported"),
        ("http://admin:pw@127.0.0.1:9997", "HOOK_MTX_API_USER"),
        ("127.0.0.1:9997", "expected http://HOST:PORT"),
        ("http://127.0.0.1:70000", "not 1-65535"),
    ] {
        let mut c = hook_command(&dir.join("state"));
        c.env("HOOK_MTX_API", url).args(["record", "start", "cam0"]);
        let (code, _, err) = run_to_end(c, Duration::from_secs(10));
        assert_eq!(code, 2, "{url}: {err}");
        assert!(err.contains(needle), "{url}: {err}");
        assert!(err.contains("HOOK_MTX_API"), "{url}: {err}");
    }
}
