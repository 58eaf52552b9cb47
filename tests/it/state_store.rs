//! The state store under abuse: writers SIGKILLed at random moments, corrupt
//! files, a state directory that cannot be written; and `hook ready`.

use crate::support::cmd::Cmd;
use crate::support::common;

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

fn corrupt_files(state_dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(state_dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("state.json.corrupt-")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A small xorshift: random enough for kill timings, no dependency.
fn next_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn sigkill_at_random_moments_never_tears_the_state() {
    let dir = TempDir::new("kill9");
    let state = dir.join("state");
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    // One first segment per path, left to finish: from then on the state
    // knows the ledger's committed length (before that, a line left by a
    // killed writer cannot be told from a ledger kept across a fresh state).
    for (k, p) in ["cam0", "cam1"].into_iter().enumerate() {
        let f = fake_segment(&rec, 85_000.0 + k as f64, 10);
        let (code, _, err) = run_to_end(segment_command(&state, p, &f, "2"), LIMIT);
        assert_eq!(code, 0, "{err}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let spawned = Arc::new(AtomicU64::new(2));
    let succeeded = Arc::new(AtomicU64::new(2));

    // A reader checking every version of state.json it can catch.
    let reader = {
        let (state, stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::SeqCst) {
                if let Ok(bytes) = std::fs::read(state.join("state.json")) {
                    serde_json::from_slice::<serde_json::Value>(&bytes)
                        .unwrap_or_else(|e| panic!("torn state.json ({e}): {bytes:?}"));
                    reads += 1;
                }
            }
            reads
        })
    };

    // Four writers on two paths, each process killed after a random delay
    // (0 to 6 ms: before, during or after its write) or left to finish.
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let (state, rec) = (state.clone(), rec.clone());
            let (spawned, succeeded) = (spawned.clone(), succeeded.clone());
            std::thread::spawn(move || {
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (w + 1) ^ std::process::id() as u64;
                let end = Instant::now() + Duration::from_secs(4);
                let mut i = 0u64;
                while Instant::now() < end {
                    // A name of its own for every segment (a name seen
                    // twice is one segment reported twice, counted once).
                    let secs = (w * 10_000 + i) as f64 * 2.0 % 80_000.0;
                    let file = fake_segment(&rec, secs, 10);
                    i += 1;
                    let mut c = segment_command(&state, &format!("cam{}", w % 2), &file, "2");
                    c.stdout(Stdio::null()).stderr(Stdio::null());
                    let mut child = c.spawn().unwrap();
                    spawned.fetch_add(1, Ordering::SeqCst);
                    let r = next_random(&mut seed);
                    if !r.is_multiple_of(4) {
                        std::thread::sleep(Duration::from_micros(r % 6000));
                        kill_pid(child.id(), libc::SIGKILL);
                    }
                    let status = wait_timeout(&mut child, LIMIT).expect("writer ends");
                    if status.success() {
                        succeeded.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().unwrap();
    // One last writer per path, left to finish.
    for (k, p) in ["cam0", "cam1"].into_iter().enumerate() {
        let f = fake_segment(&rec, 86_000.0 + k as f64, 10);
        let (code, _, err) = run_to_end(segment_command(&state, p, &f, "2"), LIMIT);
        assert_eq!(code, 0, "{err}");
    }

    let spawned = spawned.load(Ordering::SeqCst) + 2;
    let succeeded = succeeded.load(Ordering::SeqCst) + 2;
    eprintln!("{spawned} writers, {succeeded} finished, {reads} reads of state.json");
    assert!(
        succeeded > 0 && spawned > succeeded,
        "{succeeded}/{spawned}"
    );
    assert!(reads > 0);
    let doc = read_state(&state);
    let counted: u64 = ["cam0", "cam1"]
        .iter()
        .map(|p| doc["paths"][p]["segments"]["count"].as_u64().unwrap_or(0))
        .sum();
    let ledger: u64 = ["cam0", "cam1"]
        .iter()
        .map(|p| {
            std::fs::read_to_string(state.join("ledger").join(format!("{p}.jsonl")))
                .unwrap_or_default()
                .lines()
                .inspect(|l| {
                    serde_json::from_str::<serde_json::Value>(l).expect("whole ledger lines");
                })
                .count() as u64
        })
        .sum();
    // Every process that finished was counted, none twice; the ledger has a
    // line for every count (a line whose writer was killed before writing
    // the state is dropped by the next writer on the path).
    assert!(
        counted >= succeeded,
        "counted {counted} < succeeded {succeeded}"
    );
    assert!(counted <= spawned);
    assert_eq!(ledger, counted);
    eprintln!("{counted} counted, {ledger} ledger lines");
    assert!(
        corrupt_files(&state).is_empty(),
        "the state was never corrupt"
    );
}

#[test]
fn corrupt_state_is_left_by_status_and_quarantined_by_a_writer() {
    let valid = r#"{"schema_version":1,"paths":{"cam0":{"phase":"idle","restarts":3}}}"#;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"this is not json at all".to_vec()),
        ("truncated", valid.as_bytes()[..valid.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("binary", vec![0xff, 0x00, 0xfe, 0x7b]),
        ("wrong-shape", br#"{"paths": [1, 2, 3]}"#.to_vec()),
    ];
    for (what, bytes) in cases {
        let dir = TempDir::new("corrupt");
        std::fs::write(dir.join("state.json"), &bytes).unwrap();
        let (code, out, err) = Cmd::hook(dir.path())
            .args(["status", "--json"])
            .limit(LIMIT)
            .run()
            .parts();
        assert_eq!(code, 0, "{what}: {err}");
        assert!(err.contains("corrupt"), "{what}: warned: {err}");
        let doc: serde_json::Value = serde_json::from_str(&out).expect("status answers JSON");
        assert_eq!(doc["paths"], serde_json::json!({}), "{what}");
        // A reader writes nothing: the file stays where it is, as it was.
        assert!(corrupt_files(dir.path()).is_empty(), "{what}");
        assert_eq!(
            std::fs::read(dir.join("state.json")).unwrap(),
            bytes,
            "{what}"
        );

        // A writer meeting a corrupt file moves it aside and starts afresh.
        let f = fake_segment(dir.path(), 0.0, 10);
        let (code, _, err) = run_to_end(segment_command(dir.path(), "cam0", &f, "1"), LIMIT);
        assert_eq!(code, 0, "{what}: {err}");
        assert!(err.contains("corrupt"), "{what}: {err}");
        let aside = corrupt_files(dir.path());
        assert_eq!(aside.len(), 1, "{what}");
        assert!(
            err.contains(&aside[0].display().to_string()),
            "{what}: {err}"
        );
        assert_eq!(
            std::fs::read(&aside[0]).unwrap(),
            bytes,
            "{what}: kept as it was"
        );
        assert_eq!(path_state(dir.path(), "cam0")["segments"]["count"], 1);
    }
}

#[test]
fn a_bad_entry_in_one_path_keeps_the_others_and_a_reader_moves_nothing() {
    let dir = TempDir::new("badentry");
    let state = dir.path();
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    for (k, p) in ["cam0", "cam1"].into_iter().enumerate() {
        let f = fake_segment(&rec, 1000.0 + k as f64, 10);
        let (code, _, err) = run_to_end(segment_command(state, p, &f, "2"), LIMIT);
        assert_eq!(code, 0, "{err}");
    }
    // One unknown value in one path's entry (as a newer or broken writer
    // might leave).
    let mut doc = read_state(state);
    doc["paths"]["cam1"]["phase"] = serde_json::json!("hibernating");
    let text = doc.to_string();
    std::fs::write(state.join("state.json"), &text).unwrap();

    let (code, out, err) = Cmd::hook(state)
        .args(["status", "--json"])
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("cam1") && err.contains("hibernating"),
        "warned: {err}"
    );
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["paths"]["cam0"]["segments"]["count"], 1, "{out}");
    assert!(shown["paths"].get("cam1").is_none(), "{out}");
    // The reader moved and rewrote nothing.
    assert_eq!(
        std::fs::read_to_string(state.join("state.json")).unwrap(),
        text
    );
    let names: Vec<String> = std::fs::read_dir(state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state.json."))
        .collect();
    assert!(names.is_empty(), "{names:?}");

    // The next writer (another path) sets the entry aside, keeps cam0.
    let f = fake_segment(&rec, 1004.0, 10);
    let (code, _, err) = run_to_end(segment_command(state, "cam0", &f, "2"), LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(path_state(state, "cam0")["segments"]["count"], 2);
    assert!(read_state(state)["paths"].get("cam1").is_none());
    let aside: Vec<_> = std::fs::read_dir(state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("state.json.bad-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(err.contains(&aside[0].display().to_string()), "{err}");
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&aside[0]).unwrap()).unwrap();
    assert_eq!(kept["paths"]["cam1"], doc["paths"]["cam1"]);
    assert!(corrupt_files(state).is_empty());
}

#[test]
fn unwritable_state_dir_is_a_clear_error() {
    let dir = TempDir::new("unwritable");
    // Root writes through permission bits, but not through a regular file
    // standing where a directory should be.
    let blocker = dir.join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let state = blocker.join("state");
    let seg = fake_segment(dir.path(), 0.0, 10);

    let (code, _, err) = run_to_end(segment_command(&state, "cam0", &seg, "1"), LIMIT);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "state directory {} cannot be written",
            state.display()
        )),
        "{err}"
    );

    let (code, _, err) = Cmd::mediamtx(&state, "cam0", free_port())
        .arg("ready")
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&state.display().to_string()), "{err}");
    assert!(err.contains("cannot be written"), "{err}");

    let (code, _, err) = Cmd::hook(&state).arg("status").limit(LIMIT).run().parts();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&state.display().to_string()), "{err}");
}

#[test]
fn ready_records_the_activation_latency() {
    let dir = TempDir::new("ready");
    let demand = time::OffsetDateTime::now_utc() - time::Duration::milliseconds(1500);
    let demand_text = demand
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let doc = serde_json::json!({
        "schema_version": 1,
        "paths": {"cam0": {"phase": "starting", "demand_at": demand_text}}
    });
    std::fs::write(dir.join("state.json"), doc.to_string()).unwrap();

    let (code, _, err) = Cmd::mediamtx(dir.path(), "cam0", free_port())
        .arg("ready")
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    let p = path_state(dir.path(), "cam0");
    let latency = p["activation_latency_ms"]
        .as_u64()
        .expect("latency recorded");
    assert!((1500..15_000).contains(&latency), "{latency}");
    assert!(
        err.contains(&format!("activation latency {latency} ms")),
        "{err}"
    );
    assert!(p["ready_at"].is_string());
    assert_eq!(p["phase"], "starting", "ready leaves the phase to hook run");

    // A second ready (the publisher restarted) is no new activation.
    let (code, _, _) = Cmd::mediamtx(dir.path(), "cam0", free_port())
        .arg("ready")
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 0);
    assert_eq!(
        path_state(dir.path(), "cam0")["activation_latency_ms"],
        latency
    );

    // Its input is checked like every hook's.
    for bad in ["", "../x", "a//b", "cam\t0"] {
        let (code, _, err) = Cmd::mediamtx(dir.path(), bad, free_port())
            .arg("ready")
            .limit(LIMIT)
            .run()
            .parts();
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("MTX_PATH"), "{err}");
    }
    let (code, _, err) = Cmd::mediamtx(dir.path(), "x", free_port())
        .arg("ready")
        .env_remove("MTX_PATH")
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("MTX_PATH is not set"), "{err}");
}
