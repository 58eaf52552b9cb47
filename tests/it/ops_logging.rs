//! The hook's log as an operator reads it, from the real binary: every line
//! names its path, no colour codes unless stderr is a terminal, `RUST_LOG`
//! honoured, syslog priorities when stderr is the journal, and a publisher's
//! lifecycle told once per event.

use crate::support::common;
use crate::support::run as run_support;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use run_support::{Hook, HookOptions};

const LIMIT: Duration = Duration::from_secs(20);

/// A segment file named the way MediaMTX names them, `secs` long.
fn segment_file(dir: &Path, name: &str) -> PathBuf {
    let f = dir.join(name);
    std::fs::write(&f, vec![0u8; 1000]).unwrap();
    f
}

/// `hook segment-complete` as MediaMTX runs it for `path`.
fn segment_command(state: &Path, path: &str, file: &Path) -> Command {
    let mut c = mediamtx_command(state, path, free_port());
    c.arg("segment-complete")
        .env("MTX_SEGMENT_PATH", file)
        .env("MTX_SEGMENT_DURATION", "10.0");
    c
}

#[test]
fn every_line_names_its_path_and_a_pipe_gets_no_colour() {
    let dir = TempDir::new("log-lines");
    let state = dir.join("state");
    let first = segment_file(dir.path(), "2026-01-02_03-04-05-000000.mp4");
    let after_hole = segment_file(dir.path(), "2026-01-02_03-05-05-000000.mp4");
    let mut all = String::new();
    for f in [&first, &after_hole] {
        let (code, _, err) = run_to_end(segment_command(&state, "cam7", f), LIMIT);
        assert_eq!(code, 0, "{err}");
        all.push_str(&err);
    }
    // A usage error before the path is known still names "-", and the
    // refused value.
    let mut c = mediamtx_command(&state, "bad//path", free_port());
    c.arg("ready");
    let (code, _, err) = run_to_end(c, LIMIT);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("hook[-]"), "{err}");
    all.push_str(&err);

    assert!(all.contains("INFO  hook[cam7]"), "{all}");
    assert!(
        all.contains("WARN  hook[cam7]") && all.contains("gap of"),
        "{all}"
    );
    for line in all.lines() {
        assert!(
            line.contains(" hook[cam7] pid=") || line.contains(" hook[-] pid="),
            "line without its path: {line:?}\n{all}"
        );
    }
    assert!(!all.contains('\x1b'), "colour codes in a pipe:\n{all:?}");
}

#[test]
fn rust_log_is_honoured() {
    let dir = TempDir::new("log-level");
    let state = dir.join("state");
    let f = segment_file(dir.path(), "2026-01-02_03-04-05-000000.mp4");
    let mut c = segment_command(&state, "cam1", &f);
    c.env("RUST_LOG", "error");
    let (code, _, err) = run_to_end(c, LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "", "RUST_LOG=error hides info lines");
    // The segment was recorded all the same.
    assert_eq!(path_state(&state, "cam1")["segments"]["count"], 1);

    let g = segment_file(dir.path(), "2026-01-02_03-04-15-000000.mp4");
    let mut c = segment_command(&state, "cam1", &g);
    c.env_remove("RUST_LOG");
    let (code, _, err) = run_to_end(c, LIMIT);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("INFO  hook[cam1]"),
        "info is the default: {err}"
    );
    assert!(!err.contains("DEBUG"), "{err}");
}

/// Runs `cmd` with stderr on a fresh pseudo-terminal; returns what it wrote.
fn stderr_on_a_terminal(mut cmd: Command) -> String {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: openpty fills two descriptors, owned below.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: fresh descriptors from openpty, each owned once.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    cmd.stdout(Stdio::null()).stderr(Stdio::from(slave));
    let mut child = cmd.spawn().unwrap();
    // The parent's copy of the slave went with the Command; reading the
    // master ends with EIO once the child has exited.
    drop(cmd);
    let status = wait_timeout(&mut child, LIMIT).expect("finished");
    assert!(status.success());
    let mut out = Vec::new();
    let mut master = std::fs::File::from(master);
    let _ = master.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn colour_only_on_a_terminal_and_never_when_told() {
    let dir = TempDir::new("log-tty");
    let state = dir.join("state");
    let f = segment_file(dir.path(), "2026-01-02_03-04-05-000000.mp4");
    let mut c = segment_command(&state, "cam2", &f);
    c.env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    let out = stderr_on_a_terminal(c);
    assert!(out.contains("hook[cam2]"), "{out:?}");
    assert!(out.contains('\x1b'), "a terminal gets colour: {out:?}");

    let g = segment_file(dir.path(), "2026-01-02_03-04-15-000000.mp4");
    let mut c = segment_command(&state, "cam2", &g);
    c.env("RUST_LOG", "info")
        .env("HOOK_LOG_STYLE", "never")
        .env("TERM", "xterm");
    let out = stderr_on_a_terminal(c);
    assert!(out.contains("hook[cam2]"), "{out:?}");
    assert!(!out.contains('\x1b'), "HOOK_LOG_STYLE=never: {out:?}");

    let h = segment_file(dir.path(), "2026-01-02_03-04-25-000000.mp4");
    let mut c = segment_command(&state, "cam2", &h);
    c.env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("HOOK_LOG_STYLE")
        .env("TERM", "xterm");
    let out = stderr_on_a_terminal(c);
    assert!(out.contains("hook[cam2]"), "{out:?}");
    assert!(!out.contains('\x1b'), "NO_COLOR: {out:?}");
}

#[test]
fn journal_gets_priorities_and_no_timestamps() {
    use std::os::unix::fs::MetadataExt;
    let dir = TempDir::new("log-journal");
    let state = dir.join("state");
    let first = segment_file(dir.path(), "2026-01-02_03-04-05-000000.mp4");
    let after_hole = segment_file(dir.path(), "2026-01-02_03-05-05-000000.mp4");
    let log = dir.join("journal.log");
    let file = std::fs::File::create(&log).unwrap();
    let meta = file.metadata().unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    for f in [&first, &after_hole] {
        let mut c = segment_command(&state, "cam3", f);
        c.env("JOURNAL_STREAM", &stream)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file.try_clone().unwrap());
        let status = c.status().unwrap();
        assert!(status.success());
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("<6>INFO  hook[cam3] pid="), "{text}");
    assert!(
        text.contains("<4>WARN  hook[cam3] pid=") && text.contains("gap of"),
        "{text}"
    );
    for line in text.lines() {
        assert!(line.starts_with('<'), "every line has a priority: {line:?}");
    }

    // A JOURNAL_STREAM inherited but naming another file: plain lines.
    let other = dir.join("other.log");
    let file = std::fs::File::create(&other).unwrap();
    let g = segment_file(dir.path(), "2026-01-02_03-05-15-000000.mp4");
    let mut c = segment_command(&state, "cam3", &g);
    c.env("JOURNAL_STREAM", &stream)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file);
    assert!(c.status().unwrap().success());
    let text = std::fs::read_to_string(&other).unwrap();
    assert!(!text.starts_with('<'), "{text}");
    assert!(text.contains("INFO  hook[cam3]"), "{text}");
}

#[test]
fn a_publisher_tells_each_lifecycle_event_once() {
    let dir = TempDir::new("log-lifecycle");
    let listener = RtspListener::start("camera0");
    let mut hook = Hook::start(&dir, HookOptions::testsrc("camera0", listener.port));
    assert!(
        hook.wait_phase("running", Duration::from_secs(15)),
        "{}",
        hook.log()
    );
    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(5))
        .expect("stops on SIGINT");
    assert!(status.success());
    let log = hook.log();
    for event in [
        "INFO  hook[camera0] pid=",
        "publishing testsrc to rtsp://127.0.0.1:",
        "running: frames flowing after",
        "SIGINT received: stopping",
        "stopped cleanly",
    ] {
        let n = log.lines().filter(|l| l.contains(event)).count();
        assert!(n >= 1, "{event:?} logged:\n{log}");
        if event != "INFO  hook[camera0] pid=" {
            assert_eq!(n, 1, "{event:?} logged once:\n{log}");
        }
    }
    let started = log
        .lines()
        .filter(|l| l.contains("INFO") && l.contains(" started ") && l.contains("(pid "))
        .count();
    assert_eq!(started, 1, "one child start:\n{log}");
    for line in log.lines() {
        assert!(
            line.contains(" hook[camera0] pid="),
            "line without its path: {line:?}"
        );
    }
    assert!(!log.contains('\x1b'), "no colour in a file");
}

#[test]
fn a_restart_is_told_once_with_its_delay() {
    let path = "camrestart";
    let dir = TempDir::new(path);
    let port = free_port();
    let _rtsp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let opts = HookOptions::testsrc(path, port).ffmpeg(&run_support::fixture("ffmpeg-progress.sh"));
    let mut hook = Hook::start(&dir, opts);
    let first = hook
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    kill_pid(first, libc::SIGKILL);
    let second = hook
        .wait_running_child(Some(first), Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(5))
        .expect("stops on SIGINT");
    assert!(status.success());
    let log = hook.log();
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count(&format!("(pid {first}) exited")), 1, "{log}");
    assert_eq!(
        count("next attempt in "),
        1,
        "the restart delay, once:\n{log}"
    );
    assert_eq!(
        count(&format!("started ffmpeg (pid {second}), restart 1")),
        1,
        "{log}"
    );
    assert_eq!(count("stopped cleanly"), 1, "{log}");
    for line in log.lines() {
        assert!(line.contains(" hook[camrestart] pid="), "{line:?}");
    }
}
