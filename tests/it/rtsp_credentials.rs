//! RTSP credentials from HOOK_RTSP_USER/HOOK_RTSP_PASS against a loopback
//! RTSP server that demands Basic or Digest (`support/auth_server.rs`): the
//! native reader logs in itself, `hook run`'s FFmpeg publishes through the
//! credential relay, and the password shows in no command line and no log.

use crate::support::auth_server;
use crate::support::common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use auth_server::{AuthServer, Demand};
use common::*;

const USER: &str = "camuser";
const PASS: &str = "S3cret-pa55word";
/// What `Session` SETUP answers with: a timeout no Instant can hold.
const HUGE_TIMEOUT: &str = "f00d;timeout=18446744073709551615";

fn no_process_shows_the_password() {
    let shown: Vec<ProcInfo> = processes()
        .into_iter()
        .filter(|p| p.cmdline.contains(PASS))
        .collect();
    assert!(shown.is_empty(), "password in a command line: {shown:?}");
}

fn reader(port: u16, user: Option<&str>, pass: Option<&str>) -> Command {
    let mut c = Command::new(hook_bin());
    c.arg("rtsp-read")
        .arg(format!("rtsp://127.0.0.1:{port}/cam"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("HOOK_RTSP_USER")
        .env_remove("HOOK_RTSP_PASS")
        .env("RUST_LOG", "debug");
    if let Some(u) = user {
        c.env("HOOK_RTSP_USER", u);
    }
    if let Some(p) = pass {
        c.env("HOOK_RTSP_PASS", p);
    }
    c
}

fn native_reader_logs_in(demand: Demand) {
    let server = AuthServer::start(free_port(), demand, USER, PASS, HUGE_TIMEOUT);
    let mut child = reader(server.port, Some(USER), Some(PASS)).spawn().unwrap();
    let pid = child.id();
    assert!(
        wait_until(Duration::from_secs(15), || !server
            .with_method("PLAY")
            .is_empty()),
        "never played; requests {:?}",
        server.requests()
    );
    // Packets flow for a while; the keep-alive of an absurd timeout is sane.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(pid_alive(pid), "the reader died");
    no_process_shows_the_password();
    kill_pid(pid, libc::SIGINT);
    let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("reader stops on SIGINT");
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status:?} {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out.contains(PASS) && !err.contains(PASS),
        "password in the output"
    );
    let frames: Vec<u64> = out
        .lines()
        .filter_map(|l| l.strip_prefix("frame="))
        .filter_map(|v| v.parse().ok())
        .collect();
    assert!(
        frames.last().copied().unwrap_or(0) >= 10,
        "frames {frames:?}; {out}"
    );
    assert!(out.trim_end().ends_with("progress=end"), "{out}");

    // The first DESCRIBE went without a login and was challenged; every
    // request after the challenge carried the right one.
    let describes = server.with_method("DESCRIBE");
    assert_eq!(describes.len(), 2, "{describes:?}");
    assert!(!describes[0].contains("Authorization"));
    let scheme = match demand {
        Demand::Basic => "Authorization: Basic ",
        Demand::Digest => "Authorization: Digest ",
    };
    assert!(describes[1].contains(scheme), "{}", describes[1]);
    for m in ["SETUP", "PLAY"] {
        let r = server.with_method(m);
        assert!(
            !r.is_empty() && r.iter().all(|h| h.contains(scheme)),
            "{m}: {r:?}"
        );
    }
    assert_eq!(server.refused.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(server.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 3);
}

#[test]
fn native_reader_answers_a_basic_challenge() {
    native_reader_logs_in(Demand::Basic);
}

#[test]
fn native_reader_answers_a_digest_challenge() {
    native_reader_logs_in(Demand::Digest);
}

#[test]
fn native_reader_reports_refused_and_missing_credentials() {
    for demand in [Demand::Basic, Demand::Digest] {
        let server = AuthServer::start(free_port(), demand, USER, PASS, "s1");
        let (code, out, err) = run_to_end(
            reader(server.port, Some(USER), Some("wrong-password")),
            Duration::from_secs(20),
        );
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            err.contains("MediaMTX refused the credentials in HOOK_RTSP_USER/HOOK_RTSP_PASS"),
            "{err}"
        );
        assert!(!err.contains("wrong-password"), "{err}");
        assert_eq!(server.refused.load(std::sync::atomic::Ordering::SeqCst), 1);

        let (code, _, err) = run_to_end(reader(server.port, None, None), Duration::from_secs(20));
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("set HOOK_RTSP_USER and HOOK_RTSP_PASS"),
            "{err}"
        );
    }
    // One without the other: a usage error naming the missing one, before
    // any connection.
    for (user, pass, missing) in [
        (Some(USER), None, "but HOOK_RTSP_PASS is not"),
        (None, Some(PASS), "but HOOK_RTSP_USER is not"),
    ] {
        let (code, _, err) = run_to_end(reader(1, user, pass), Duration::from_secs(10));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(missing), "{err}");
        assert!(!err.contains(PASS), "{err}");
    }
}

fn publisher_logs_in_through_the_relay(demand: Demand, path: &str) {
    let dir = TempDir::new(path);
    let server = AuthServer::start(free_port(), demand, USER, PASS, "pub1;timeout=60");
    let log = dir.join("hook.log");
    let mut cmd = mediamtx_command(&dir.join("state"), path, server.port);
    cmd.args(["run", "--device", "testsrc"])
        .env("HOOK_RTSP_USER", USER)
        .env("HOOK_RTSP_PASS", PASS)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut hook = cmd.spawn().unwrap();
    let pid = hook.id();
    let published = || server.published.load(std::sync::atomic::Ordering::SeqCst);
    let ok = wait_until(Duration::from_secs(30), || published() > 20_000);
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        ok,
        "published {} bytes; requests {:?}; log {}",
        published(),
        server.requests(),
        text()
    );

    // FFmpeg's URL is the relay's, without credentials.
    let ffmpeg: Vec<ProcInfo> = children_of(pid)
        .into_iter()
        .filter(|p| p.cmdline.contains("ffmpeg"))
        .collect();
    assert_eq!(ffmpeg.len(), 1, "{ffmpeg:?}");
    let url = ffmpeg[0]
        .cmdline
        .split(' ')
        .find(|a| a.starts_with("rtsp://"))
        .expect("an rtsp URL")
        .to_string();
    assert!(url.starts_with("rtsp://127.0.0.1:"), "{url}");
    assert!(!url.contains('@'), "{url}");
    assert!(
        !url.contains(&format!(":{}/", server.port)),
        "FFmpeg goes through the relay, not straight to the server: {url}"
    );
    no_process_shows_the_password();

    // ANNOUNCE was challenged once, then every request carried the login.
    let scheme = match demand {
        Demand::Basic => "Authorization: Basic ",
        Demand::Digest => "Authorization: Digest ",
    };
    let announces = server.with_method("ANNOUNCE");
    assert_eq!(announces.len(), 2, "{announces:?}");
    assert!(!announces[0].contains("Authorization"));
    assert!(announces[1].contains(scheme));
    for m in ["SETUP", "RECORD"] {
        let r = server.with_method(m);
        assert!(
            !r.is_empty() && r.iter().all(|h| h.contains(scheme)),
            "{m}: {r:?}"
        );
    }
    assert_eq!(server.refused.load(std::sync::atomic::Ordering::SeqCst), 0);

    kill_group(pid, libc::SIGINT);
    let status = wait_timeout(&mut hook, Duration::from_secs(15)).expect("hook stops");
    assert!(status.success(), "{status:?}: {}", text());
    let text = text();
    assert!(text.contains("credential relay"), "{text}");
    assert!(!text.contains(PASS), "password in the log: {text}");
    assert!(
        !text.contains(auth_server::NONCE),
        "a login header in the log: {text}"
    );
}

#[test]
fn publisher_answers_a_basic_challenge_through_the_relay() {
    publisher_logs_in_through_the_relay(Demand::Basic, "relay-basic");
}

#[test]
fn publisher_answers_a_digest_challenge_through_the_relay() {
    publisher_logs_in_through_the_relay(Demand::Digest, "relay-digest");
}

#[test]
fn publisher_with_half_credentials_is_a_usage_error() {
    let dir = TempDir::new("relay-half");
    let mut cmd = mediamtx_command(&dir.join("state"), "cam0", 1);
    cmd.args(["run", "--device", "testsrc"])
        .env("HOOK_RTSP_USER", USER)
        .env_remove("HOOK_RTSP_PASS");
    let (code, _, err) = run_to_end(cmd, Duration::from_secs(10));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("but HOOK_RTSP_PASS is not"), "{err}");
}
