//! The Control API client as the commands use it: Basic credentials from the
//! environment (never on a command line), the time limits (2 s to connect,
//! 6 s for the answer), and base URLs that are refused with exit 2 without
//! showing a password.

use crate::support::common;
use crate::support::standin;

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
    // The answer gets 6 s (MediaMTX may hold a refused login back 4 s).
    assert!(took >= Duration::from_secs(5), "{took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
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

/// MediaMTX waits a random 0-4 s before refusing a login; a 401 after 3 s
/// still comes out as advice about the credentials, not as a time-out.
#[test]
fn a_late_401_is_reported_as_a_credentials_problem() {
    use std::io::{Read, Write};
    let dir = TempDir::new("api-late401");
    let port = free_port();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // The whole request, body included: a socket closed with unread
        // bytes sends a reset, which may destroy the answer before the
        // client reads it.
        while !request_complete(&request) {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "request cut short");
            request.extend_from_slice(&buf[..n]);
        }
        std::thread::sleep(Duration::from_secs(3));
        let body = r#"{"status":"error","error":"authentication error"}"#;
        let _ = write!(
            conn,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        String::from_utf8_lossy(&request).into_owned()
    });
    let mut c = hook_command(&dir.join("state"));
    c.env("HOOK_MTX_API", format!("http://127.0.0.1:{port}"))
        .env("HOOK_MTX_API_USER", "admin")
        .env("HOOK_MTX_API_PASS", "wrong-pw")
        .env("RUST_LOG", "trace")
        .args(["record", "start", "late401"]);
    let started = Instant::now();
    let (code, _, err) = run_to_end(c, Duration::from_secs(30));
    let took = started.elapsed();
    let request = server.join().unwrap();
    assert!(
        request.starts_with("PATCH /v3/config/paths/patch/late401 "),
        "{request}"
    );
    // Header names are case-insensitive (ureq writes them in lower case).
    assert!(
        request
            .to_ascii_lowercase()
            .contains("\r\nauthorization: basic "),
        "{request}"
    );
    assert!(
        request.contains(" Basic YWRtaW46d3JvbmctcHc=\r\n"),
        "admin:wrong-pw as Basic credentials: {request}"
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(err.contains("authentication error"), "{err}");
    assert!(err.contains("HOOK_MTX_API_USER"), "{err}");
    assert!(!err.contains("time limit"), "{err}");
    assert!(!err.contains("wrong-pw"), "{err}");
    // Not even encoded, at the most verbose log level.
    assert!(!err.to_ascii_lowercase().contains("authorization"), "{err}");
    assert!(!err.contains("YWRtaW46"), "{err}");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(live_processes_with("hold late401").is_empty());
}

/// Whether `raw` holds a request's head and its `Content-Length` body.
fn request_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    raw.len() >= end + 4 + length
}

#[test]
fn a_password_in_the_url_is_never_shown() {
    let dir = TempDir::new("api-redact");
    for url in [
        "http://admin:hunter2@127.0.0.1:9997",
        "https://admin:hunter2@127.0.0.1:9997",
        "admin:hunter2@127.0.0.1:9997",
        "http://admin:hunter2@127.0.0.1:99999",
    ] {
        for args in [
            &["record", "start", "cam0"][..],
            &["record", "stop", "cam0"][..],
        ] {
            let mut c = hook_command(&dir.join("state"));
            c.env("HOOK_MTX_API", url)
                .env("RUST_LOG", "debug")
                .args(args);
            let (code, out, err) = run_to_end(c, Duration::from_secs(10));
            assert_eq!(code, 2, "{url}: {err}");
            assert!(
                !out.contains("hunter2") && !err.contains("hunter2"),
                "{url}: {out}{err}"
            );
            assert!(err.contains("admin:***@127.0.0.1"), "{url}: {err}");
        }
    }
}
