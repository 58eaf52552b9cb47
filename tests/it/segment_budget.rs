//! The disk budget (`recording.max_size`, `recording.min_free`) as
//! `hook segment-complete` enforces it: real hooks, real files, hundreds
//! at once, links planted in the recordings, files removed by hand, and a
//! small real file system filled up.

use crate::support::cmd::Cmd;
use crate::support::common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(60);

fn ledger_lines(state_dir: &Path, path: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(state_dir.join("ledger").join(format!("{path}.jsonl")))
        .unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("ledger line parses"))
        .collect()
}

/// A policy recording under `rec` with the given budget keys.
fn budget_config(dir: &Path, rec: &Path, keys: &str) -> PathBuf {
    write_config(
        dir,
        &format!(
            r#"{{"recording":{{"record_path":"{}/%path/%Y-%m-%d_%H-%M-%S-%f",{keys}}}}}"#,
            rec.display()
        ),
    )
}

fn segment(state: &Path, config: &Path, path: &str, file: &Path) -> std::process::Command {
    let mut c = segment_command(state, path, file, "2.000");
    c.env("TZ", "UTC").env("HOOK_CONFIG", config);
    c
}

fn num(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a number: {v}"))
}

#[test]
fn two_hundred_at_once_over_max_size_keep_the_budget_and_every_count() {
    let dir = TempDir::new("budget200");
    let state = dir.join("state");
    let rec = dir.join("rec");
    let config = budget_config(dir.path(), &rec, r#""max_size":"20kB","min_free":"0""#);
    let mut files = Vec::new();
    for (p, path) in ["cam0", "cam1"].iter().enumerate() {
        std::fs::create_dir_all(rec.join(path)).unwrap();
        for i in 0..100 {
            // Interleaved starts so that the oldest alternate between paths.
            let f = fake_segment(&rec.join(path), (i * 2 + p) as f64, 1000);
            files.push((path.to_string(), f));
        }
    }
    let mut children: Vec<_> = files
        .iter()
        .map(|(path, f)| {
            let mut c = segment(&state, &config, path, f);
            c.stdout(Stdio::null()).stderr(Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    for c in &mut children {
        let status = wait_timeout(c, Duration::from_secs(180)).expect("segment-complete ends");
        assert!(status.success(), "{status:?}");
    }
    let mut total_kept = 0;
    let mut all_deleted = HashSet::new();
    for path in ["cam0", "cam1"] {
        let seg = &path_state(&state, path)["segments"];
        assert_eq!(seg["count"], 100, "every segment counted: {seg}");
        assert_eq!(seg["gone"], 0, "{seg}");
        assert_eq!(seg["skipped"], 0, "{seg}");
        let kept = num(&seg["kept"]);
        let deleted = num(&seg["deleted"]);
        assert_eq!(kept + deleted, 100, "{seg}");
        assert_eq!(num(&seg["kept_bytes"]), kept * 1000, "{seg}");
        assert_eq!(num(&seg["deleted_bytes"]), deleted * 1000, "{seg}");
        total_kept += num(&seg["kept_bytes"]);

        let lines = ledger_lines(&state, path);
        let recorded: Vec<&str> = lines.iter().filter_map(|l| l["file"].as_str()).collect();
        assert_eq!(recorded.len(), 100);
        let deleted_lines: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l.get("deleted").is_some())
            .collect();
        assert_eq!(deleted_lines.len() as u64, deleted);
        for l in &deleted_lines {
            let f = l["deleted"].as_str().unwrap();
            assert!(all_deleted.insert(f.to_string()), "deleted twice: {f}");
            assert_eq!(l["reason"], "max_size 20kB", "{l}");
            assert!(l["at"].is_string(), "{l}");
            assert!(!Path::new(f).exists(), "{f} is deleted");
        }
        // What is left on disk is exactly what is kept, and the newest
        // segment of the path is among it.
        let on_disk: Vec<_> = std::fs::read_dir(rec.join(path)).unwrap().collect();
        assert_eq!(on_disk.len() as u64, kept);
        let newest = files
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, f)| f)
            .max()
            .unwrap();
        assert!(newest.exists(), "the newest of {path} is never deleted");
    }
    assert!(total_kept <= 20_000, "within the budget: {total_kept}");
    assert!(
        total_kept >= 19_000,
        "no more deleted than needed: {total_kept}"
    );
}

#[test]
fn a_symlink_in_the_ledger_is_never_followed_or_deleted() {
    let dir = TempDir::new("budgetlink");
    let state = dir.join("state");
    let rec = dir.join("rec");
    let cam = rec.join("cam0");
    std::fs::create_dir_all(&cam).unwrap();
    let elsewhere = dir.join("precious.bin");
    std::fs::write(&elsewhere, vec![7u8; 3000]).unwrap();
    let config = budget_config(dir.path(), &rec, r#""max_size":"2500B","min_free":"0""#);
    // The oldest segment, once recorded, is replaced by a link (segment-
    // complete itself refuses a link), named the way MediaMTX names them.
    let real = fake_segment(&cam, 0.0, 3000);
    let (code, _, err) = run_to_end(segment(&state, &config, "cam0", &real), LIMIT);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(&real).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &real).unwrap();
    let mut all = vec![real.clone()];
    for i in 1..4 {
        all.push(fake_segment(&cam, i as f64 * 2.0, 1000));
    }
    for f in &all[1..] {
        let (code, _, err) = run_to_end(segment(&state, &config, "cam0", f), LIMIT);
        assert_eq!(code, 0, "{err}");
    }
    // 3000 (the link's target, as recorded) + 3 × 1000: over 2500. The link
    // is skipped, then the oldest real segment deleted: 2000 kept.
    assert!(std::fs::symlink_metadata(&real)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        vec![7u8; 3000],
        "target intact"
    );
    let seg = &path_state(&state, "cam0")["segments"];
    assert_eq!(seg["skipped"], 1, "{seg}");
    assert_eq!(seg["deleted"], 1, "{seg}");
    assert_eq!(seg["kept"], 2, "{seg}");
    assert_eq!(seg["kept_bytes"], 2000, "{seg}");
    assert!(!all[1].exists());
    assert!(all[2].exists() && all[3].exists());
    let lines = ledger_lines(&state, "cam0");
    let skipped: Vec<_> = lines
        .iter()
        .filter(|l| l.get("skipped").is_some())
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["skipped"], real.display().to_string());
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("symbolic link"),
        "{}",
        skipped[0]
    );
}

#[test]
fn files_removed_by_hand_are_marked_gone_not_deleted_again() {
    let dir = TempDir::new("budgetgone");
    let state = dir.join("state");
    let rec = dir.join("rec");
    let cam = rec.join("cam0");
    std::fs::create_dir_all(&cam).unwrap();
    let config = budget_config(dir.path(), &rec, r#""max_size":"4kB","min_free":"0""#);
    let mut files = Vec::new();
    for i in 0..4 {
        let f = fake_segment(&cam, i as f64 * 2.0, 1000);
        let (code, _, err) = run_to_end(segment(&state, &config, "cam0", &f), LIMIT);
        assert_eq!(code, 0, "{err}");
        files.push(f);
    }
    assert_eq!(path_state(&state, "cam0")["segments"]["deleted"], 0);
    // Someone removes the two oldest by hand.
    std::fs::remove_file(&files[0]).unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    for i in 4..7 {
        let f = fake_segment(&cam, i as f64 * 2.0, 1000);
        let (code, _, err) = run_to_end(segment(&state, &config, "cam0", &f), LIMIT);
        assert_eq!(code, 0, "{err}");
        files.push(f);
    }
    let seg = &path_state(&state, "cam0")["segments"];
    assert_eq!(seg["count"], 7, "{seg}");
    assert_eq!(seg["gone"], 2, "{seg}");
    // 7 recorded, 2 gone: 5000 B against 4 kB, one deleted.
    assert_eq!(seg["deleted"], 1, "{seg}");
    assert_eq!(seg["kept"], 4, "{seg}");
    assert_eq!(seg["kept_bytes"], 4000, "{seg}");
    let lines = ledger_lines(&state, "cam0");
    let gone: Vec<&str> = lines.iter().filter_map(|l| l["gone"].as_str()).collect();
    let deleted: Vec<&str> = lines.iter().filter_map(|l| l["deleted"].as_str()).collect();
    assert_eq!(gone.len(), 2);
    assert_eq!(deleted, vec![files[2].display().to_string().as_str()]);
    for g in &gone {
        assert!(!deleted.contains(g), "{g} gone and deleted");
    }
    assert!(!files[2].exists());
    assert!(files[3..].iter().all(|f| f.exists()));
}

/// A 4 MiB tmpfs: recordings and other files share it; `min_free` keeps
/// 1 MiB free by deleting the oldest segments, and `hook status` says so
/// loudly once other files leave nothing it can delete.
#[test]
#[ignore = "mounts a tmpfs, needs root (Linux): scripts/test.sh runs it as root"]
fn root_a_full_small_file_system_keeps_min_free() {
    assert!(
        is_root(),
        "this test mounts a tmpfs and must run as root (CI does)"
    );
    let dir = TempDir::new("budgetfs");
    let state = dir.join("state");
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&rec)
        .status()
        .unwrap();
    assert!(status.success(), "mount tmpfs");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(rec.clone());
    let cam = rec.join("cam0");
    std::fs::create_dir_all(&cam).unwrap();
    let config = budget_config(dir.path(), &rec, r#""min_free":"1MiB""#);
    let mut files = Vec::new();
    for i in 0..12 {
        let f = fake_segment(&cam, i as f64 * 2.0, 400 * 1024);
        let (code, _, err) = run_to_end(segment(&state, &config, "cam0", &f), LIMIT);
        assert_eq!(code, 0, "{err}");
        files.push(f);
    }
    let free = free_bytes(&rec);
    assert!(free >= 1 << 20, "min_free kept: {free} free");
    let seg = &path_state(&state, "cam0")["segments"];
    assert!(num(&seg["deleted"]) >= 5, "{seg}");
    assert!(files.last().unwrap().exists());
    let lines = ledger_lines(&state, "cam0");
    assert!(lines
        .iter()
        .filter(|l| l.get("deleted").is_some())
        .all(|l| l["reason"] == "min_free 1MiB"));

    // Other files fill the disk and the budget asks for more than can be
    // freed: nothing but the newest is left, and status warns.
    let config = budget_config(dir.path(), &rec, r#""min_free":"3MiB""#);
    let other = free_bytes(&rec) as usize - 64 * 1024;
    std::fs::write(rec.join("other.bin"), vec![1u8; other]).unwrap();
    let f = fake_segment(&cam, 100.0, 1024);
    let (code, _, err) = run_to_end(segment(&state, &config, "cam0", &f), LIMIT);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DISK BUDGET CANNOT BE MET"), "{err}");
    let seg = &path_state(&state, "cam0")["segments"];
    assert_eq!(seg["kept"], 1, "only the newest is left: {seg}");
    assert!(f.exists());
    let (code, out, err) = Cmd::hook(&state)
        .arg("status")
        .env("HOOK_CONFIG", &config)
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("DISK BUDGET CANNOT BE MET"), "{out}");
    let (code, out, err) = Cmd::hook(&state)
        .args(["status", "--json"])
        .env("HOOK_CONFIG", &config)
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let storage = &v["storage"];
    assert_eq!(storage["min_free_bytes"], 3 << 20, "{storage}");
    assert_eq!(
        storage["max_size_bytes"],
        serde_json::Value::Null,
        "{storage}"
    );
    assert!(num(&storage["free_bytes"]) < 3 << 20, "{storage}");
    assert_eq!(num(&storage["total_bytes"]), 4 << 20, "{storage}");
    assert_eq!(storage["recordings_bytes"], 1024, "{storage}");
    assert_eq!(storage["budget_met"], false, "{storage}");
}

fn free_bytes(dir: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// With a relative `record_path`, the storage figures are those of the
/// recording root MediaMTX resolved (segment-complete runs in its working
/// directory), whatever directory `hook status` is run from.
#[test]
fn storage_root_of_a_relative_record_path_is_mediamtx_s_whatever_the_cwd() {
    let dir = TempDir::new("seg-relroot");
    let state = dir.join("state");
    let mtx_cwd = dir.join("mediamtx-home");
    let seg_dir = mtx_cwd.join("recordings").join("cam0");
    std::fs::create_dir_all(&seg_dir).unwrap();
    let config = write_config(
        dir.path(),
        r#"{"recording": {"record_path": "./recordings/%path/%Y-%m-%d_%H-%M-%S-%f"}}"#,
    );
    let seg = fake_segment(&seg_dir, 0.0, 1000);
    let mut c = segment_command(&state, "cam0", &seg, "2");
    c.env("HOOK_CONFIG", &config).current_dir(&mtx_cwd);
    let (code, _, err) = run_to_end(c, Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    for cwd in ["/", dir.path().to_str().unwrap()] {
        let mut s = hook_command(&state);
        s.args(["status", "--json"])
            .env("HOOK_CONFIG", &config)
            .current_dir(cwd);
        let (code, out, err) = run_to_end(s, Duration::from_secs(10));
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["storage"]["root"]
                .as_str()
                .map(|r| r.trim_end_matches('/')),
            mtx_cwd.join("recordings").to_str(),
            "from {cwd}: {}",
            v["storage"]
        );
    }
}
