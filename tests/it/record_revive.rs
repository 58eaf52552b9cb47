//! A recording session outlives the death of its hold: SIGKILL the `hook
//! hold` (alone, with its reader, with a viewer watching, five times in a
//! row) and a new hold reads the stream again within 5 s with nobody
//! acting, an ERROR line says so, the session counts the revivals, and any
//! hole it left is a gap with the cause `hold_dead`. A hold that keeps
//! dying ends the session as failed with MediaMTX's `record` off. Against
//! the on-demand stand-in (`standin_*`) and a real MediaMTX (`real_*`,
//! with MEDIAMTX_BIN).

use crate::both;
use crate::support::common;
use crate::support::e2e as e2e_support;

use std::time::{Duration, Instant};

use common::*;
use e2e_support::*;

/// What the hook promises: recording again within this after a kill.
const COME_BACK: Duration = Duration::from_secs(5);

fn state_path(m: &Mtx) -> serde_json::Value {
    let text = std::fs::read_to_string(m.state.join("state.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    v["paths"][PATH].clone()
}

/// The session's hold pid and whether its reader receives the stream.
fn hold_now(m: &Mtx) -> (Option<u32>, bool) {
    let p = state_path(m);
    (
        p["recording"]["session"]["hold_pid"]
            .as_u64()
            .map(|p| p as u32),
        p["recording"]["hold"]["reading"] == true,
    )
}

fn record_start(m: &Mtx) -> u32 {
    let (code, out, err) = m.run_hook(&["record", "start", PATH], START_TIMEOUT + SLACK * 2);
    assert_eq!(code, 0, "hook record start: {out}{err}\n{}", m.log_text());
    hold_now(m).0.expect("a hold pid after record start")
}

/// SIGKILLs `hold` (and `also`), then waits for another hold that reads
/// the stream, with MediaMTX recording; returns it and how long it took.
fn kill_and_wait(m: &Mtx, hold: u32, also: &[u32]) -> (u32, Duration) {
    let killed = Instant::now();
    kill_pid(hold, libc::SIGKILL);
    for &pid in also {
        kill_pid(pid, libc::SIGKILL);
    }
    let mut new = 0;
    let back = poll(
        COME_BACK + SLACK,
        Duration::from_millis(50),
        || match hold_now(m) {
            (Some(pid), true) if pid != hold && pid_alive(pid) => {
                new = pid;
                m.record_switch() == Some(true) && m.path_ready()
            }
            _ => false,
        },
    );
    let took = killed.elapsed();
    assert!(
        back,
        "no new hold read the stream within {:?} of killing hold {hold}: {}\n{}",
        COME_BACK + SLACK,
        state_path(m),
        m.log_text()
    );
    (new, took)
}

fn reader_of(m: &Mtx, hold: u32) -> u32 {
    let mut found = 0;
    let ok = poll(SLACK, Duration::from_millis(50), || {
        found = m
            .hook_processes("rtsp-read")
            .iter()
            .find(|p| p.ppid == hold)
            .map_or(0, |p| p.pid);
        found != 0
    });
    assert!(ok, "hold {hold} has no reader");
    found
}

/// Every gap the session's segments show carries a cause, `hold_dead`.
fn gaps_have_causes(m: &Mtx, kills: usize) {
    let gaps: Vec<_> = m
        .ledger()
        .into_iter()
        .filter(|l| l["gap_before"].is_number())
        .collect();
    assert!(gaps.len() <= kills, "{gaps:?}");
    for g in &gaps {
        assert_eq!(g["gap_cause"], "hold_dead", "a gap without its cause: {g}");
    }
    eprintln!("{} gaps after {kills} kills: {gaps:?}", gaps.len());
}

// Five kills in one session with no viewer, the last one with its reader.
fn five_kills(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    let mut hold = record_start(&m);
    let mut took = Vec::new();
    for i in 0..5 {
        let also = if i == 4 {
            vec![reader_of(&m, hold)]
        } else {
            vec![]
        };
        let (new, t) = kill_and_wait(&m, hold, &also);
        took.push(t);
        hold = new;
    }
    eprintln!("{b:?}: recording again after {took:?}");
    for t in &took {
        assert!(*t <= COME_BACK, "recording came back after {t:?}: {took:?}");
    }
    // Segments keep coming after the last kill.
    let before = m.ledger().len();
    let more = poll(SEGMENT * 3 + SLACK, Duration::from_millis(200), || {
        m.ledger().len() >= before + 2
    });
    assert!(more, "no new segments after the kills\n{}", m.log_text());
    let errors = m.log_count("ERROR");
    let lines = m.log_count("died (killed?); started a new hold");
    assert!(
        lines >= 5 && errors >= 5,
        "{lines} revival lines:\n{}",
        m.log_text()
    );
    let s = state_path(&m);
    assert_eq!(s["recording"]["session"]["revivals"], 5, "{s}");
    assert_eq!(s["recording"]["session"]["status"], "active", "{s}");
    let (code, text, err) = m.run_hook(&["status", "--prometheus"], SLACK);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("mediamtx_hook_session_stale{{path=\"{PATH}\"}} 0")),
        "{text}"
    );
    // Coverage counts every hole, however short.
    let cov = m.status()["recording"]["coverage"].clone();
    let (elapsed, recorded, missing) = (
        cov["elapsed_seconds"].as_f64().unwrap(),
        cov["recorded_seconds"].as_f64().unwrap(),
        cov["missing_seconds"].as_f64().unwrap(),
    );
    assert!(
        elapsed > 0.0 && (elapsed - recorded - missing).abs() < 1e-6 || recorded > elapsed,
        "{cov}"
    );
    eprintln!("{b:?}: coverage {cov}");
    let (code, out, err) = m.run_hook(&["record", "stop", PATH], SLACK * 2);
    assert_eq!(code, 0, "{out}{err}");
    gaps_have_causes(&m, 5);
    assert!(
        m.holds().is_empty(),
        "a hold outlived the stop: {:?}",
        m.holds()
    );
}
both!(
    five_kills,
    real_hold_killed_five_times,
    standin_hold_killed_five_times
);

// The hold killed while a viewer watches: the viewer never notices.
fn kill_while_watching(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    let viewer = Reader::start(&m.url(PATH));
    assert!(
        viewer.wait_frames(10, START_TIMEOUT + SLACK),
        "{}",
        viewer.log()
    );
    let hold = record_start(&m);
    let frames = viewer.frames();
    let (_, took) = kill_and_wait(&m, hold, &[]);
    assert!(took <= COME_BACK, "{took:?}");
    assert!(
        viewer.wait_frames(frames + 25, SLACK),
        "the viewer stalled: {}",
        viewer.log()
    );
    let (code, out, err) = m.run_hook(&["record", "stop", PATH], SLACK * 2);
    assert_eq!(code, 0, "{out}{err}");
    gaps_have_causes(&m, 1);
}
both!(
    kill_while_watching,
    real_hold_killed_while_watched,
    standin_hold_killed_while_watched
);

// A hold that dies again and again ends the session as failed, recording off.
fn keeps_dying(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    let mut hold = record_start(&m);
    // MAX_REVIVALS (8) within a minute are brought back; the next is not.
    for _ in 0..8 {
        hold = kill_and_wait(&m, hold, &[]).0;
    }
    kill_pid(hold, libc::SIGKILL);
    let failed = poll(COME_BACK + SLACK, Duration::from_millis(100), || {
        state_path(&m)["recording"]["last_session"]["status"] == "failed"
    });
    assert!(failed, "{}\n{}", state_path(&m), m.log_text());
    assert_eq!(m.record_switch(), Some(false), "record left on");
    assert!(m.holds().is_empty(), "{:?}", m.holds());
    assert!(
        m.log_count("cannot go on") >= 1,
        "no line says why:\n{}",
        m.log_text()
    );
    let s = state_path(&m);
    assert!(s["recording"]["session"].is_null(), "{s}");
}
both!(
    keeps_dying,
    real_hold_that_keeps_dying_fails_the_session,
    standin_hold_that_keeps_dying_fails_the_session
);
