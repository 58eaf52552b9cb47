//! The state directory and config as given by flag or variable: empty,
//! blank, a device, a FIFO, too large; and a segment that cannot be
//! recorded says how to record it by hand.

use crate::support::cmd::Cmd;
use crate::support::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(10);

fn status_in(cwd: &Path) -> std::process::Command {
    let mut c = hook_command(cwd);
    c.env_remove("HOOK_STATE_DIR")
        .current_dir(cwd)
        .args(["status", "--json"]);
    c
}

#[test]
fn empty_or_blank_state_dir_and_config_are_usage_errors_naming_their_source() {
    let dir = TempDir::new("blank");
    for value in ["", "   "] {
        let what = if value.is_empty() {
            "is empty"
        } else {
            "is blank"
        };
        type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, Vec<String>);
        let cases: [Case; 4] = [
            ("HOOK_STATE_DIR", Some(("HOOK_STATE_DIR", value)), vec![]),
            ("HOOK_CONFIG", Some(("HOOK_CONFIG", value)), vec![]),
            (
                "--state-dir",
                None,
                vec!["--state-dir".into(), value.into()],
            ),
            ("--config", None, vec![format!("--config={value}")]),
        ];
        for (source, env, args) in cases {
            let mut c = status_in(dir.path());
            if let Some((k, v)) = env {
                c.env(k, v);
            }
            c.args(&args);
            let (code, _, err) = run_to_end(c, LIMIT);
            assert_eq!(code, 2, "{source} {value:?}: {err}");
            assert!(
                err.contains(&format!("{source} {what}")),
                "{source} {value:?} is named: {err}"
            );
        }
    }
    // No directory of spaces (nor anything else) was made.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_config_that_is_not_a_small_regular_file_is_refused_at_once() {
    let dir = TempDir::new("badconfig");
    let fifo = dir.join("fifo.json");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let big = dir.join("big.json");
    std::fs::write(&big, vec![b' '; (1 << 20) + 1]).unwrap();
    for (file, says) in [
        (Path::new("/dev/zero"), "is a device"),
        (fifo.as_path(), "is a FIFO"),
        (dir.path(), "is a directory"),
        (big.as_path(), "is larger than 1048576 bytes"),
    ] {
        let mut c = hook_command(&dir.join("state"));
        c.env("HOOK_CONFIG", file).args(["status", "--json"]);
        let t0 = Instant::now();
        let (code, _, err) = run_to_end(c, LIMIT);
        assert_eq!(code, 2, "{}: {err}", file.display());
        assert!(
            err.contains(&format!("config {}: {says}", file.display())),
            "{err}"
        );
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }
    // A config of exactly 1 MiB of JSON is still read.
    let mut text = b"{}".to_vec();
    text.resize(1 << 20, b' ');
    std::fs::write(&big, text).unwrap();
    let (code, _, err) = Cmd::hook(&dir.join("state"))
        .env("HOOK_CONFIG", &big)
        .args(["status", "--json"])
        .limit(LIMIT)
        .run()
        .parts();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_segment_that_cannot_be_recorded_says_how_to_record_it_by_hand() {
    let dir = TempDir::new("byhand");
    let blocker = dir.join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let state = blocker.join("state");
    let seg = fake_segment(dir.path(), 0.0, 10);
    let (code, _, err) = run_to_end(segment_command(&state, "cam0", &seg, "2"), LIMIT);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("was NOT recorded"), "{err}");
    let by_hand = format!(
        "record it by hand: HOOK_STATE_DIR='{}' MTX_PATH='cam0' MTX_SEGMENT_PATH='{}' MTX_SEGMENT_DURATION=2 hook segment-complete",
        state.display(),
        seg.display()
    );
    assert!(err.contains(&by_hand), "{err}");
    // Not a failure that may pass: no retries.
    assert!(!err.contains("trying again"), "{err}");

    // The command it gives works once the state directory is there.
    std::fs::remove_file(&blocker).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg(by_hand.trim_start_matches("record it by hand: "))
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", hook_bin().parent().unwrap().display()),
        );
    let (code, _, err) = run_to_end(c, LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(path_state(&state, "cam0")["segments"]["count"], 1);
}
