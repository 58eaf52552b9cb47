//! `hook mediamtx-config` and the shipped `mediamtx/mediamtx.yml`: every key
//! exists in MediaMTX's reference configuration (with the same kind of
//! value), and the shipped file carries exactly what the command prints.

use crate::support::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(file)
}

fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mediamtx/mediamtx.yml")
}

/// Runs the key checker on `yaml`; returns its complaints (empty when none).
fn unknown_keys(yaml: &str) -> String {
    let mut child = Command::new("/usr/bin/python3")
        .arg(support("mtx_keys.py"))
        .arg(support("reference/mediamtx.yml"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with PyYAML (scripts/deps.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.success(),
        text.trim().is_empty(),
        "checker status and output disagree: {text}"
    );
    text
}

fn generate(dir: &Path, config: Option<&Path>, devices: &[&str]) -> (i32, String, String) {
    let mut c = hook_command(dir);
    if let Some(cfg) = config {
        c.env("HOOK_CONFIG", cfg);
    }
    c.arg("mediamtx-config");
    for d in devices {
        c.args(["--device", d]);
    }
    run_to_end(c, Duration::from_secs(10))
}

/// The `paths:` section of a generated text, from `paths:` to the end.
fn paths_section(text: &str) -> &str {
    let at = text.find("\npaths:\n").expect("a paths: section") + 1;
    &text[at..]
}

#[test]
fn generated_entries_use_only_reference_keys() {
    let dir = TempDir::new("cfg-keys");
    let (code, out, err) = generate(dir.path(), None, &["/dev/video0", "/dev/video2", "testsrc"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(unknown_keys(&out), "", "generated:\n{out}");
    // The checker does find a key MediaMTX does not know.
    let bad = out.replace("runOnAvailable:", "runOnAvailible:");
    assert!(unknown_keys(&bad).contains("runOnAvailible"));
}

#[test]
fn generated_entries_wire_every_hook_with_the_policy_values() {
    let dir = TempDir::new("cfg-policy");
    let (code, out, err) = generate(dir.path(), None, &["/dev/video0", "testsrc"]);
    assert_eq!(code, 0, "{err}");
    let paths = paths_section(&out);
    let camera0 = "  camera0:
    runOnDemand: hook run --device /dev/video0
    runOnDemandStartTimeout: 10s
    runOnDemandCloseAfter: 300s
    runOnAvailable: hook ready
    runOnRecordSegmentComplete: hook segment-complete
    record: false
    recordPath: ./recordings/%path/%Y-%m-%d_%H-%M-%S-%f
    recordSegmentDuration: 30m
    recordDeleteAfter: 7d
";
    assert!(paths.contains(camera0), "{paths}");
    assert!(paths.contains("  testsrc:\n    runOnDemand: hook run --device testsrc\n"));
    assert!(
        !paths.contains("\n  ~"),
        "one explicit entry per camera, no regex entry"
    );
    assert!(
        out.contains("api: true"),
        "notes the global settings: {out}"
    );
    assert!(out.contains("apiAddress: 127.0.0.1:9997"), "{out}");

    let cfg = write_config(
        dir.path(),
        r#"{"viewing":{"close_after":"45s","start_timeout":"15s"},
            "recording":{"segment_duration":"10m","record_path":"/srv/rec/%path/%Y-%m-%d_%H-%M-%S-%f"}}"#,
    );
    let (code, out, err) = generate(dir.path(), Some(&cfg), &["/dev/video0"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "runOnDemandStartTimeout: 15s",
        "runOnDemandCloseAfter: 45s",
        "recordSegmentDuration: 10m",
        "recordPath: /srv/rec/%path/%Y-%m-%d_%H-%M-%S-%f",
    ] {
        assert!(out.contains(&format!("    {line}\n")), "{line} in {out}");
    }
    assert_eq!(unknown_keys(&out), "");
}

#[test]
fn devices_mediamtx_would_split_or_expand_are_refused() {
    let dir = TempDir::new("cfg-bad");
    for bad in ["/dev/video 0", "/dev/$HOME", "video0", "/dev/x'y"] {
        let (code, out, err) = generate(dir.path(), None, &[bad]);
        assert_eq!(code, 2, "{bad:?}: {out}{err}");
        assert!(err.contains("--device"), "{err}");
        assert!(out.is_empty(), "nothing printed for {bad:?}: {out}");
    }
    let (code, _, err) = generate(dir.path(), None, &["/dev/video0", "/dev/video0"]);
    assert_eq!(code, 2);
    assert!(err.contains("camera0"), "{err}");
}

#[test]
fn shipped_mediamtx_yml_uses_only_reference_keys() {
    let text = std::fs::read_to_string(shipped_config()).unwrap();
    assert_eq!(unknown_keys(&text), "");
    for line in [
        "api: true",
        "apiAddress: 127.0.0.1:9997",
        "  recordSegmentDuration: 30m",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in mediamtx.yml");
    }
}

#[test]
fn shipped_mediamtx_yml_carries_what_mediamtx_config_prints() {
    let dir = TempDir::new("cfg-step");
    let (code, out, err) = generate(dir.path(), None, &["/dev/video0", "/dev/video1"]);
    assert_eq!(code, 0, "{err}");
    let shipped = std::fs::read_to_string(shipped_config()).unwrap();
    assert_eq!(
        paths_section(&shipped),
        paths_section(&out),
        "mediamtx/mediamtx.yml's paths: section must be exactly `hook mediamtx-config --device /dev/video0 --device /dev/video1` (regenerate it)"
    );
}

#[test]
fn entries_keep_recordings_as_the_policy_says() {
    let dir = TempDir::new("cfg-delete");
    let (code, out, err) = generate(dir.path(), None, &["/dev/video0"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("    recordDeleteAfter: 7d\n"), "{out}");
    for (value, printed) in [("0s", "0s"), ("36h", "36h"), ("90m", "90m")] {
        let cfg = write_config(
            dir.path(),
            &format!(r#"{{"recording":{{"segment_duration":"10m","delete_after":"{value}"}}}}"#),
        );
        let (code, out, err) = generate(dir.path(), Some(&cfg), &["/dev/video0"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("    recordDeleteAfter: {printed}\n")),
            "{out}"
        );
        assert_eq!(unknown_keys(&out), "");
    }
}

/// Every string the hook writes into YAML reads back as exactly what was
/// configured, whatever characters it holds.
#[test]
fn strings_in_generated_yaml_read_back_unchanged() {
    let dir = TempDir::new("cfg-yaml");
    let record_path = r#"/srv/rec "a" #b: c\d 'e' é 😀/%path/%s-%f"#;
    let cfg = write_config(
        dir.path(),
        &serde_json::json!({ "recording": { "record_path": record_path } }).to_string(),
    );
    let (code, out, err) = generate(dir.path(), Some(&cfg), &["/dev/video0", "testsrc"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        paths_section(&out).is_ascii(),
        "every non-ASCII character is escaped: {out}"
    );
    assert_eq!(unknown_keys(&out), "");
    let mut child = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with PyYAML");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(out.as_bytes())
        .unwrap();
    let parsed = child.wait_with_output().unwrap();
    assert!(parsed.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
    for cam in ["camera0", "testsrc"] {
        assert_eq!(doc["paths"][cam]["recordPath"], record_path, "{out}");
        assert_eq!(doc["paths"][cam]["recordDeleteAfter"], "7d");
    }
    assert_eq!(
        doc["paths"]["camera0"]["runOnDemand"],
        "hook run --device /dev/video0"
    );
}
