//! Armed paths and resumption end to end: a MediaMTX (the real one with
//! `MEDIAMTX_BIN`, `real_*`; else the on-demand stand-in, `standin_*`)
//! records an armed path in one-second segments; the ring rolls, an event
//! keeps its pre-roll and post-roll (and, with real MediaMTX, `hook clip`
//! joins its MP4 segments into one ffprobe reads whole); after everything
//! is SIGKILLed (a power loss) and MediaMTX is started again, `hook resume`
//! (its `runOnInit`) brings the armed path back within 10 s with one gap,
//! and ends a timed session whose end passed meanwhile.

use crate::both;
use crate::support::common;
use crate::support::e2e as e2e_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use e2e_support::*;
use time::OffsetDateTime;

/// The fixture's policy with the armed segment length at 1 s (replaced
/// whole by a rename: a hook reading it never sees half a file).
fn one_second_segments(m: &Mtx) {
    let file = m.dir.join("hook-config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    v["events"] = serde_json::json!({"segment_duration": "1s"});
    let tmp = m.dir.join("hook-config.json.new");
    std::fs::write(&tmp, v.to_string()).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
}

fn time_of(v: &serde_json::Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("a time: {v}")),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

fn entry(m: &Mtx) -> serde_json::Value {
    m.api_get(&format!("/v3/config/paths/get/{PATH}")).1
}

fn arm(m: &Mtx, pre: &str, post: &str) {
    let (code, out, err) = m.run_hook(
        &["record", "arm", PATH, "--pre", pre, "--post", post],
        Duration::from_secs(40),
    );
    assert_eq!(code, 0, "{err}\nMediaMTX:\n{}", m.log_text());
    assert!(out.contains("armed: pre-roll"), "{out}");
    let e = entry(m);
    assert_eq!(e["record"], true, "{e}");
    assert_eq!(e["recordSegmentDuration"], "1s", "{e}");
}

fn ffprobe_seconds(file: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn armed_window_and_event(b: Backend) {
    let m = Mtx::start(b, Setup::default());
    one_second_segments(&m);
    arm(&m, "3s", "2s");
    // Let the ring fill and roll.
    let rolled = poll(Duration::from_secs(40), Duration::from_millis(300), || {
        m.status()["armed"]["rolled"].as_u64().unwrap_or(0) >= 5
    });
    assert!(rolled, "{}\nMediaMTX:\n{}", m.status(), m.log_text());
    let s = m.status();
    let ring = s["armed"]["ring"].as_array().unwrap().clone();
    let span = time_of(&s["armed"]["window_to"]) - time_of(&s["armed"]["window_from"]);
    // Pre-roll 3 s plus one segment (cut at the key frame after 1 s).
    assert!(
        span.as_seconds_f64() <= 3.0 + 2.2,
        "ring spans {span}: {}",
        s["armed"]
    );
    // On disk: the ring and the segment being written.
    assert!(
        m.segment_files().len() <= ring.len() + 1,
        "{:?} vs {ring:?}",
        m.segment_files()
    );
    assert_eq!(s["segments"]["gone"], 0, "{s}");

    let called = Instant::now();
    let (code, out, err) = m.run_hook(
        &[
            "record",
            "start",
            PATH,
            "--duration",
            "2s",
            "--reason",
            "motion",
        ],
        Duration::from_secs(20),
    );
    let took = called.elapsed();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("event 1 until"), "{out}");
    assert!(
        took < Duration::from_secs(2),
        "an event on an armed path is immediate: {took:?}"
    );
    let e = m.status()["events"][0].clone();
    let achieved = e["achieved_pre_seconds"].as_f64().expect("pre-roll known");
    // Within one segment of what was asked.
    assert!(
        (2.0..=5.2).contains(&achieved),
        "achieved pre-roll {achieved}s: {e}"
    );

    // After the window (2 s + 2 s post-roll) and the segment that closes it.
    let end = time_of(&e["window_end"]);
    let done = poll(Duration::from_secs(30), Duration::from_millis(300), || {
        m.ledger()
            .iter()
            .filter(|l| l.get("file").is_some())
            .any(|l| time_of(&l["start"]) > end)
    });
    assert!(done, "no segment after the event's window");
    let kept: Vec<_> = m
        .ledger()
        .into_iter()
        .filter(|l| l.get("file").is_some())
        .filter(|l| {
            let s = time_of(&l["start"]);
            let d = time::Duration::seconds_f64(l["duration"].as_f64().unwrap());
            s < end && s + d > time_of(&e["window_start"])
        })
        .collect();
    let kept_seconds: f64 = kept.iter().map(|l| l["duration"].as_f64().unwrap()).sum();
    assert!(
        kept_seconds >= 3.0 + 2.0 + 2.0 - 1.0,
        "{kept_seconds}s kept: {kept:?}"
    );
    for l in &kept {
        assert!(Path::new(l["file"].as_str().unwrap()).exists(), "{l}");
    }
    if b == Backend::Real {
        // The stand-in's segments are raw RTP, not MP4: only MediaMTX's
        // are joined.
        let clip = m.dir.join("event1.mp4");
        let (code, out, err) = m.run_hook(
            &["clip", PATH, "--event", "1", "-o", clip.to_str().unwrap()],
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("{} segments covering", kept.len())),
            "{out}"
        );
        let d = ffprobe_seconds(&clip);
        assert!(
            (d - kept_seconds).abs() < 0.6,
            "clip of {d}s, segments {kept_seconds}s"
        );
    }

    let (code, out, err) = m.run_hook(&["record", "disarm", PATH], Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("disarmed"), "{out}");
    let e = entry(&m);
    assert_eq!(e["record"], false, "{e}");
    assert_eq!(e["recordSegmentDuration"], "2s", "put back: {e}");
    assert!(m.status()["armed"].is_null());
    for l in &kept {
        assert!(
            Path::new(l["file"].as_str().unwrap()).exists(),
            "the event's segments stay: {l}"
        );
    }
}
both!(
    armed_window_and_event,
    real_armed_window_and_event,
    standin_armed_window_and_event
);

/// Everything SIGKILLed at once, as at a power loss: MediaMTX, the hooks it
/// ran, the holds, every FFmpeg.
fn power_loss(m: &mut Mtx) {
    m.sigkill();
    for p in m
        .hook_runs()
        .into_iter()
        .chain(m.holds())
        .chain(m.path_processes())
    {
        kill_pid(p.pid, libc::SIGKILL);
    }
    let gone = wait_until(Duration::from_secs(10), || {
        m.holds().is_empty() && m.hook_runs().is_empty()
    });
    assert!(gone, "processes outlived the power loss");
}

/// mediamtx.yml with the entry that runs `hook resume` whenever MediaMTX
/// starts (what the README wires).
fn wire_resume(m: &Mtx) {
    let mut text = std::fs::read_to_string(&m.config).unwrap();
    text.push_str("  hook-resume:\n    runOnInit: hook resume\n");
    std::fs::write(&m.config, text).unwrap();
}

fn reboot_resumes_an_armed_path(b: Backend) {
    let mut m = Mtx::start(b, Setup::default());
    one_second_segments(&m);
    arm(&m, "3s", "1s");
    let ok = poll(Duration::from_secs(30), Duration::from_millis(300), || {
        m.status()["segments"]["count"].as_u64().unwrap_or(0) >= 3
    });
    assert!(ok, "{}", m.log_text());
    let gaps_before = m.status()["segments"]["gaps"].as_u64().unwrap();
    power_loss(&mut m);
    wire_resume(&m);
    m.crash_and_start(Duration::from_secs(2));
    let up = Instant::now();
    let count_at_restart = m.ledger().len();
    // Recording again within 10 s of MediaMTX answering: a new segment
    // (one second long) is reported within 10 s + 1 s + slack.
    let resumed = poll(Duration::from_secs(20), Duration::from_millis(200), || {
        m.ledger().len() > count_at_restart && entry(&m)["record"] == true
    });
    let took = up.elapsed();
    assert!(resumed, "not resumed:\n{}", m.log_text());
    assert!(took < Duration::from_secs(13), "resumed after {took:?}");
    eprintln!("{b:?}: a new segment reported {took:?} after MediaMTX answered");
    assert!(
        m.log_text().contains("armed path resumed") || m.log_count("resumed") > 0,
        "{}",
        m.log_text()
    );
    assert_eq!(entry(&m)["recordSegmentDuration"], "1s");
    // A few segments on: the outage is exactly one gap.
    let n = m.status()["segments"]["count"].as_u64().unwrap();
    let more = poll(Duration::from_secs(20), Duration::from_millis(300), || {
        m.status()["segments"]["count"].as_u64().unwrap_or(0) >= n + 3
    });
    assert!(more, "{}", m.log_text());
    let s = m.status();
    assert_eq!(
        s["segments"]["gaps"].as_u64().unwrap(),
        gaps_before + 1,
        "{}",
        s["segments"]
    );
    assert_eq!(s["recording"]["active"], true, "{s}");
    assert!(!m.holds().is_empty(), "a hold runs again");
}
both!(
    reboot_resumes_an_armed_path,
    real_reboot_resumes_an_armed_path,
    standin_reboot_resumes_an_armed_path
);

fn reboot_ends_a_session_whose_end_passed(b: Backend) {
    let mut m = Mtx::start(b, Setup::default());
    let (code, _, err) = m.run_hook(
        &["record", "start", PATH, "--duration", "4s"],
        Duration::from_secs(40),
    );
    assert_eq!(code, 0, "{err}");
    power_loss(&mut m);
    wire_resume(&m);
    m.crash_and_start(Duration::from_secs(5));
    let ended = poll(Duration::from_secs(15), Duration::from_millis(200), || {
        m.status()["recording"]["last_session"]["end_reason"]
            .as_str()
            .is_some_and(|r| r.contains("passed while the hook was not running"))
    });
    assert!(ended, "{}\n{}", m.status()["recording"], m.log_text());
    assert_eq!(m.status()["recording"]["active"], false);
    assert!(m.holds().is_empty(), "no hold for an ended session");
    assert_ne!(entry(&m)["record"], true);
}
both!(
    reboot_ends_a_session_whose_end_passed,
    real_reboot_ends_a_session_whose_end_passed,
    standin_reboot_ends_a_session_whose_end_passed
);

fn mediamtx_restart_keeps_an_armed_path(b: Backend) {
    let mut m = Mtx::start(b, Setup::default());
    one_second_segments(&m);
    arm(&m, "3s", "1s");
    let ok = poll(Duration::from_secs(30), Duration::from_millis(300), || {
        m.status()["segments"]["count"].as_u64().unwrap_or(0) >= 2
    });
    assert!(ok, "{}", m.log_text());
    // MediaMTX alone restarts (every API change forgotten); the hold
    // outlives it and puts both record settings back.
    m.restart(Duration::from_secs(1));
    let up = Instant::now();
    let count = m.ledger().len();
    let back = poll(Duration::from_secs(20), Duration::from_millis(200), || {
        let e = entry(&m);
        e["record"] == true && e["recordSegmentDuration"] == "1s" && m.ledger().len() > count
    });
    assert!(back, "{}\n{}", entry(&m), m.log_text());
    assert!(
        up.elapsed() < Duration::from_secs(13),
        "after {:?}",
        up.elapsed()
    );
    assert!(m.status()["armed"]["ring_segments"].as_u64().is_some());
}
both!(
    mediamtx_restart_keeps_an_armed_path,
    real_mediamtx_restart_keeps_an_armed_path,
    standin_mediamtx_restart_keeps_an_armed_path
);
