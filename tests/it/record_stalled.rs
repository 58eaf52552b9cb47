//! Status never says "recording" while nothing is written: a session whose
//! segments stop coming (MediaMTX's recorder cannot create its files; the
//! recordings' file system is full) shows `recording.active: false` with a
//! `recording.cause` from the documented set, its detail and fix, and the
//! metric `mediamtx_hook_recording_stalled` at 1; a full file system is
//! also `mediamtx_hook_storage_filesystem_low 1`. Against the on-demand
//! stand-in and a real MediaMTX (with MEDIAMTX_BIN); the full file system
//! needs root (a tiny tmpfs).

use crate::both;
use crate::support::common;
use crate::support::e2e as e2e_support;

use std::time::Duration;

use common::*;
use e2e_support::*;

/// A segment (2 s) + the gap tolerance (1.5 s) + the stall margin (3 s).
const STALL_AFTER: Duration = Duration::from_millis(6500);

fn metric(m: &Mtx, line_start: &str) -> Option<String> {
    let (code, text, err) = m.run_hook(&["status", "--prometheus"], SLACK);
    assert_eq!(code, 0, "{err}");
    text.lines()
        .find(|l| l.starts_with(line_start))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
}

fn stalled_metric(m: &Mtx) -> Option<String> {
    metric(
        m,
        &format!("mediamtx_hook_recording_stalled{{path=\"{PATH}\"}}"),
    )
}

fn start_and_wait_segment(m: &Mtx) {
    let (code, out, err) = m.run_hook(&["record", "start", PATH], START_TIMEOUT + SLACK * 2);
    assert_eq!(code, 0, "{out}{err}\n{}", m.log_text());
}

/// Waits until status shows `cause` for the session; returns the recording object.
fn wait_cause(m: &Mtx, cause: &str) -> serde_json::Value {
    let mut rec = serde_json::Value::Null;
    let ok = poll(STALL_AFTER + SLACK * 2, Duration::from_millis(250), || {
        rec = m.status()["recording"].clone();
        rec["cause"] == cause
    });
    assert!(ok, "status never showed {cause}: {rec}\n{}", m.log_text());
    rec
}

// MediaMTX's recorder cannot create the next file (its directory replaced
// by a plain file: refused even to root); then it can again.
fn recorder_fails(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    start_and_wait_segment(&m);
    let ok = poll(SEGMENT * 3 + SLACK, Duration::from_millis(100), || {
        !m.ledger().is_empty()
    });
    assert!(ok, "no first segment\n{}", m.log_text());
    assert_eq!(m.status()["recording"]["cause"], serde_json::Value::Null);
    assert_eq!(stalled_metric(&m).as_deref(), Some("0"));
    let dir = m.recordings.join(PATH);
    let aside = m.recordings.join("moved-aside");
    std::fs::rename(&dir, &aside).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();

    let rec = wait_cause(&m, "recorder_error");
    assert_eq!(rec["active"], false, "{rec}");
    assert!(
        rec["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no segment")),
        "{rec}"
    );
    assert!(rec["fix"].as_str().is_some_and(|f| !f.is_empty()), "{rec}");
    assert_eq!(
        rec["session"]["status"], "active",
        "the session itself goes on"
    );
    assert_eq!(stalled_metric(&m).as_deref(), Some("1"));
    let (code, text, _) = m.run_hook(&["status", PATH], SLACK);
    assert_eq!(code, 0);
    assert!(text.contains("NOT RECORDING (recorder error)"), "{text}");

    // The directory back: segments again, the cause gone.
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&aside, &dir).unwrap();
    let ok = poll(STALL_AFTER + SLACK * 2, Duration::from_millis(250), || {
        m.status()["recording"]["cause"].is_null()
    });
    assert!(ok, "{}\n{}", m.status()["recording"], m.log_text());
    assert_eq!(stalled_metric(&m).as_deref(), Some("0"));
}
both!(
    recorder_fails,
    real_recorder_that_writes_nothing_is_not_recording,
    standin_recorder_that_writes_nothing_is_not_recording
);

// The recordings' file system full: disk_full, and flagged low whatever the budget.
fn disk_full(b: Backend) {
    assert!(is_root(), "mounting a small tmpfs needs root");
    let m = Mtx::start(b, Setup::default());
    let fs = SmallFs::mount(&m.recordings).expect("a tmpfs for the recordings");
    fs.fill();
    start_and_wait_segment(&m);
    let rec = wait_cause(&m, "disk_full");
    assert_eq!(rec["active"], false, "{rec}");
    assert_eq!(stalled_metric(&m).as_deref(), Some("1"));
    assert_eq!(
        metric(&m, "mediamtx_hook_storage_filesystem_low ").as_deref(),
        Some("1")
    );
    let (code, text, _) = m.run_hook(&["status"], SLACK);
    assert_eq!(code, 0);
    assert!(text.contains("(ALMOST) FULL"), "{text}");
    let _ = m.run_hook(&["record", "stop", PATH], SLACK * 2);
    drop(m);
    drop(fs);
}

#[test]
#[ignore = "mounts a small tmpfs, needs root: scripts/test.sh runs it as root"]
fn root_full_recordings_disk_is_not_recording() {
    disk_full(Backend::Standin)
}

#[test]
#[ignore = "needs MEDIAMTX_BIN and root (a small tmpfs)"]
fn real_full_recordings_disk_is_not_recording() {
    disk_full(Backend::Real)
}
