//! The segment being written when MediaMTX is killed never gets its
//! `segment-complete`; the next segment reported after the hole records it
//! from disk, flagged `recovered`, so the ledger, the totals and the disk
//! budget know every file. Against the on-demand stand-in (`standin_*`) and
//! a real MediaMTX (`real_*`, with MEDIAMTX_BIN).

use crate::both;
use crate::support::common;
use crate::support::e2e as e2e_support;

use std::time::Duration;

use common::*;
use e2e_support::*;

fn ledgered(m: &Mtx) -> Vec<String> {
    m.ledger()
        .iter()
        .filter_map(|l| l["file"].as_str().map(str::to_string))
        .collect()
}

fn crash_mid_segment(b: Backend) {
    let mut m = Mtx::start(b, Setup::default());
    let (code, out, err) = m.run_hook(&["record", "start", PATH], START_TIMEOUT + SLACK * 2);
    assert_eq!(code, 0, "{out}{err}\n{}", m.log_text());
    let ok = poll(SEGMENT * 3 + SLACK, Duration::from_millis(100), || {
        m.ledger().len() >= 2
    });
    assert!(ok, "no segments\n{}", m.log_text());
    // Part way through a segment: its file has video in it.
    let mut orphan = String::new();
    let writing = poll(SEGMENT * 2 + SLACK, Duration::from_millis(50), || {
        let done = ledgered(&m);
        m.segment_files().iter().any(|f| {
            orphan = f.to_string_lossy().into_owned();
            !done.contains(&orphan) && std::fs::metadata(f).is_ok_and(|md| md.len() > 10_000)
        })
    });
    assert!(writing, "no segment being written: {:?}", m.segment_files());
    std::thread::sleep(Duration::from_millis(500));
    m.crash_and_start(Duration::from_millis(500));
    assert!(
        !ledgered(&m).contains(&orphan),
        "{orphan} was reported after all"
    );
    // Recording comes back (the hold reconnects, recording is re-applied);
    // the first segment after the hole brings the orphan in.
    let ok = poll(
        START_TIMEOUT + SEGMENT * 4 + SLACK * 2,
        Duration::from_millis(200),
        || ledgered(&m).contains(&orphan),
    );
    assert!(
        ok,
        "{orphan} never entered the ledger: {:?}\n{}",
        ledgered(&m),
        m.log_text()
    );
    let entry = m
        .ledger()
        .into_iter()
        .find(|l| l["file"] == orphan.as_str())
        .unwrap();
    assert_eq!(entry["recovered"], true, "{entry}");
    let d = entry["duration"].as_f64().unwrap();
    assert!(d > 0.0 && d < SEGMENT.as_secs_f64() * 3.0, "{entry}");
    // The totals agree with the ledger once no segment is in flight.
    let stop = m.run_hook(&["record", "stop", PATH], SLACK * 2);
    assert_eq!(stop.0, 0, "{stop:?}");
    std::thread::sleep(Duration::from_secs(1));
    let st = m.status();
    assert_eq!(
        st["segments"]["count"].as_u64().unwrap() as usize,
        m.ledger().len(),
        "{st}"
    );
    assert!(
        st["segments"]["recovered"].as_u64().unwrap_or(0) >= 1,
        "{st}"
    );
    // No file recorded twice.
    let mut files = ledgered(&m);
    let n = files.len();
    files.sort();
    files.dedup();
    assert_eq!(files.len(), n, "a file recorded twice");
    eprintln!("{b:?}: recovered {entry}");
}
both!(
    crash_mid_segment,
    real_segment_written_at_a_crash_is_recovered,
    standin_segment_written_at_a_crash_is_recovered
);
