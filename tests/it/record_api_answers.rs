//! Control API answers that are not what they seem: a PATCH that MediaMTX
//! applied but never answered leaves recording off (switched off and
//! checked) and `record start` failing; a web page answering 200 on the API
//! address is an error at once; `hook stop` that cannot check MediaMTX's
//! record switch exits non-zero; half-set RTSP credentials are refused
//! before the API is asked. A scripted HTTP server plays the API (a
//! real MediaMTX always answers, so these have no `real_` variant).

use crate::support::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// What the server does with a request: an answer, or silence.
type Script = dyn Fn(&str, &str, &str) -> Option<(u16, &'static str, String)> + Send + Sync;

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(script: Arc<Script>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let script = script.clone();
                let log = log.clone();
                std::thread::spawn(move || serve(conn, &*script, &log));
            }
        });
        Server { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(conn: TcpStream, script: &Script, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut length = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let body = String::from_utf8_lossy(&body).into_owned();
    log.lock()
        .unwrap()
        .push(format!("{method} {target} {body}"));
    match script(&method, &target, &body) {
        Some((code, kind, text)) => {
            let mut conn = conn;
            let _ = write!(
                conn,
                "HTTP/1.1 {code} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
        // The request was applied; the answer never comes.
        None => std::thread::sleep(Duration::from_secs(15)),
    }
}

fn hook(dir: &TempDir, api: &str, args: &[&str]) -> (i32, String, String, Duration) {
    let mut c = hook_command(&dir.join("state"));
    c.env("HOOK_MTX_API", api)
        .env("RTSP_PORT", free_port().to_string())
        .args(args);
    let t = Instant::now();
    let (code, out, err) = run_to_end(c, Duration::from_secs(40));
    (code, out, err, t.elapsed())
}

#[test]
fn a_web_page_at_the_api_address_is_an_error_at_once() {
    let dir = TempDir::new("api-html");
    let page = "<!doctype html><html><body>Router login</body></html>".to_string();
    let server = Server::start(Arc::new(move |_, _, _| {
        Some((200, "text/html; charset=utf-8", page.clone()))
    }));
    let (code, out, err, took) = hook(&dir, &server.url, &["record", "start", "cam0"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("web page") && err.contains("HOOK_MTX_API"),
        "{err}"
    );
    assert!(took < Duration::from_secs(3), "it took {took:?}");
    assert!(live_processes_with("hook hold cam0").is_empty());
}

#[test]
fn a_patch_answered_late_is_switched_off_and_checked() {
    let dir = TempDir::new("api-late");
    let record = Arc::new(Mutex::new(false));
    let r = record.clone();
    let server = Server::start(Arc::new(move |method, target, body| {
        let entry = "/v3/config/paths/patch/cam0";
        match (method, target) {
            ("PATCH", t) if t == entry && body.contains("true") => {
                // Applied, never answered.
                *r.lock().unwrap() = true;
                None
            }
            ("PATCH", t) if t == entry => {
                *r.lock().unwrap() = false;
                Some((200, "application/json", String::new()))
            }
            ("GET", "/v3/config/paths/get/cam0") => Some((
                200,
                "application/json",
                format!("{{\"name\":\"cam0\",\"record\":{}}}", *r.lock().unwrap()),
            )),
            _ => Some((404, "application/json", "{\"error\":\"not found\"}".into())),
        }
    }));
    let (code, out, err, took) = hook(&dir, &server.url, &["record", "start", "cam0"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("the answer never came; recording is switched off"),
        "{err}"
    );
    assert!(
        !*record.lock().unwrap(),
        "recording left on: {:?}",
        server.seen()
    );
    let seen = server.seen();
    let off = seen
        .iter()
        .position(|l| l.starts_with("PATCH") && l.contains("false"));
    let check = seen
        .iter()
        .rposition(|l| l.starts_with("GET /v3/config/paths/get/cam0"));
    assert!(
        matches!((off, check), (Some(o), Some(c)) if c > o),
        "switched off, then checked: {seen:?}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(live_processes_with("hook hold cam0").is_empty());
    let st = path_state(&dir.join("state"), "cam0");
    assert_eq!(st["recording"]["last_session"]["status"], "failed", "{st}");
}

#[test]
fn hook_stop_that_cannot_check_the_record_switch_exits_non_zero() {
    let dir = TempDir::new("api-stop");
    // Nothing listens there.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, out, err, _) = hook(&dir, &format!("http://127.0.0.1:{port}"), &["stop", "cam0"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("could not be checked"), "{err}");
}

#[test]
fn half_set_rtsp_credentials_are_refused_before_the_api_is_touched() {
    let dir = TempDir::new("api-halfcred");
    let server = Server::start(Arc::new(|_, _, _| {
        Some((200, "application/json", "{\"record\":false}".into()))
    }));
    for (set, missing) in [
        ("HOOK_RTSP_USER", "HOOK_RTSP_PASS"),
        ("HOOK_RTSP_PASS", "HOOK_RTSP_USER"),
    ] {
        let mut c = hook_command(&dir.join("state"));
        c.env("HOOK_MTX_API", &server.url)
            .env("RTSP_PORT", free_port().to_string())
            .env_remove("HOOK_RTSP_USER")
            .env_remove("HOOK_RTSP_PASS")
            .env(set, "viewer")
            .args(["record", "start", "cam0"]);
        let (code, out, err) = run_to_end(c, Duration::from_secs(20));
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains(&format!("{missing} is not")), "{err}");
    }
    assert!(
        server.seen().is_empty(),
        "the API was asked: {:?}",
        server.seen()
    );
    assert!(live_processes_with("hook hold cam0").is_empty());
}
