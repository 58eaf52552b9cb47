//! The systemd units in mediamtx/: `systemd-analyze verify` accepts them (when
//! systemd is installed), they agree with what scripts/install.sh installs and
//! with each other, and the shipped policy config is the defaults.

use crate::support::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use mediamtx_hook::policy::Policy;

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mediamtx")
        .join(name)
}

/// `key=value` settings of a unit file, in order, comments dropped.
fn settings(unit: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(shipped(unit))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("key=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn values(s: &[(String, String)], key: &str) -> Vec<String> {
    s.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

fn value(s: &[(String, String)], key: &str) -> String {
    let v = values(s, key);
    assert_eq!(v.len(), 1, "{key} set once: {v:?}");
    v[0].clone()
}

/// The `Environment=` assignments of a unit, as (name, value).
fn environment(s: &[(String, String)]) -> Vec<(String, String)> {
    values(s, "Environment")
        .iter()
        .map(|v| {
            let (k, v) = v.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn env_of(s: &[(String, String)], name: &str) -> String {
    environment(s)
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("Environment={name}=… missing"))
        .1
}

#[test]
fn mediamtx_unit_gives_the_hook_what_it_needs() {
    let s = settings("mediamtx.service");
    // Stopping: MediaMTX stops its hooks itself; systemd cleans up after it.
    assert_eq!(value(&s, "KillMode"), "mixed");
    let timeout = value(&s, "TimeoutStopSec");
    let secs: u64 = timeout.trim_end_matches('s').parse().unwrap();
    let grace = Policy::default().restart.grace.0.as_secs();
    assert!(
        secs > grace + 5,
        "TimeoutStopSec {timeout} leaves the hooks' {grace}s grace room"
    );
    assert_eq!(value(&s, "Restart"), "on-failure");
    assert_eq!(value(&s, "SupplementaryGroups"), "video");
    let state_dirs = value(&s, "StateDirectory");
    assert!(
        state_dirs.split(' ').any(|d| d == "mediamtx-hook"),
        "{state_dirs}"
    );
    assert_eq!(env_of(&s, "HOOK_STATE_DIR"), "/var/lib/mediamtx-hook");
    assert_eq!(env_of(&s, "HOOK_MTX_API"), "http://127.0.0.1:9997");
    assert_eq!(env_of(&s, "HOOK_CONFIG"), "/etc/mediamtx-hook/hook.json");
    assert!(env_of(&s, "PATH").split(':').any(|d| d == "/usr/local/bin"));
    // Recordings go where MediaMTX's relative recordPath points: a state dir.
    let wd = value(&s, "WorkingDirectory");
    let wd_name = wd
        .strip_prefix("/var/lib/")
        .expect("working dir in /var/lib");
    assert!(
        state_dirs.split(' ').any(|d| d == wd_name),
        "{wd} is created by StateDirectory"
    );
    // The API address in the environment is the one mediamtx.yml opens.
    let yml = std::fs::read_to_string(shipped("mediamtx.yml")).unwrap();
    assert!(
        yml.contains("apiAddress: 127.0.0.1:9997"),
        "mediamtx.yml api address"
    );
    assert!(yml.contains("api: true"));
}

#[test]
fn metrics_unit_writes_the_textfile_atomically() {
    let s = settings("mediamtx-hook-metrics.service");
    assert_eq!(value(&s, "Type"), "oneshot");
    assert_eq!(
        value(&s, "ExecStart"),
        "/usr/local/bin/hook status --prometheus"
    );
    let out = value(&s, "StandardOutput");
    let tmp = out
        .strip_prefix("truncate:")
        .expect("StandardOutput=truncate:FILE");
    let post = value(&s, "ExecStartPost");
    let argv: Vec<&str> = post.split(' ').collect();
    assert_eq!(&argv[..3], &["+/bin/mv", "-f", tmp], "{post}");
    let dest = argv[3];
    assert_eq!(argv.len(), 4);
    assert!(dest.ends_with(".prom"), "{dest}");
    assert!(
        !tmp.ends_with(".prom"),
        "node_exporter must ignore the temporary file"
    );
    assert_eq!(
        Path::new(tmp).parent(),
        Path::new(dest).parent(),
        "rename within one directory is atomic"
    );
    // Same state as the service's hooks.
    let mtx = settings("mediamtx.service");
    assert_eq!(env_of(&s, "HOOK_STATE_DIR"), env_of(&mtx, "HOOK_STATE_DIR"));
    assert_eq!(value(&s, "User"), value(&mtx, "User"));
    let timer = settings("mediamtx-hook-metrics.timer");
    assert!(!values(&timer, "OnUnitActiveSec").is_empty());
    assert_eq!(value(&timer, "WantedBy"), "timers.target");
}

#[test]
fn shipped_policy_config_is_the_defaults() {
    let text = std::fs::read_to_string(shipped("hook.json")).unwrap();
    let policy = Policy::from_json(&text, "mediamtx/hook.json").unwrap();
    assert_eq!(
        policy,
        Policy::default(),
        "mediamtx/hook.json lists every policy value with its default; keep it in step with src/policy/mod.rs"
    );
    // Every key is written out, so the file documents them all.
    let written: serde_json::Value = serde_json::from_str(&text).unwrap();
    let defaults = serde_json::to_value(Policy::default()).unwrap();
    for (section, keys) in defaults.as_object().unwrap() {
        for key in keys.as_object().unwrap().keys() {
            assert!(
                written[section].get(key).is_some(),
                "mediamtx/hook.json lacks {section}.{key}"
            );
        }
    }
}

/// Runs `systemd-analyze verify` on copies of the units whose programs point
/// into `root`; returns None when systemd-analyze is not installed.
fn verify(dir: &Path, root: &Path, units: &[(&str, String)]) -> Option<(bool, String)> {
    let mut paths = Vec::new();
    for (name, text) in units {
        let text = text.replace(
            "/usr/local/bin/",
            &format!("{}/usr/local/bin/", root.display()),
        );
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Unknown keys and bad values are only warnings: any line about our
    // files counts as a failure.
    let clean = out.status.success()
        && !stderr
            .lines()
            .any(|l| units.iter().any(|(n, _)| l.contains(n)));
    Some((clean, stderr))
}

#[test]
fn systemd_analyze_verifies_the_installed_units() {
    let dir = TempDir::new("units");
    let root = dir.join("root");
    let mut cmd = Command::new("bash");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh"))
        .arg("--destdir")
        .arg(&root)
        .arg("--binary")
        .arg(hook_bin());
    let (code, out, err) = run_to_end(cmd, Duration::from_secs(60));
    assert_eq!(code, 0, "{out}{err}");
    // MediaMTX itself is not ours to install: a stand-in executable.
    let mtx = root.join("usr/local/bin/mediamtx");
    std::fs::write(&mtx, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&mtx, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The configs the unit names are the ones the script installed.
    let s = settings("mediamtx.service");
    let exec = value(&s, "ExecStart");
    let config = exec.split(' ').nth(1).unwrap();
    assert!(
        root.join(config.trim_start_matches('/')).is_file(),
        "{config} installed"
    );
    let hook_config = env_of(&s, "HOOK_CONFIG");
    assert!(root.join(hook_config.trim_start_matches('/')).is_file());

    let unit_dir = root.join("usr/local/lib/systemd/system");
    let units: Vec<(&str, String)> = [
        "mediamtx.service",
        "mediamtx-hook-metrics.service",
        "mediamtx-hook-metrics.timer",
    ]
    .into_iter()
    .map(|n| (n, std::fs::read_to_string(unit_dir.join(n)).unwrap()))
    .collect();
    let check_dir = dir.join("check");
    std::fs::create_dir_all(&check_dir).unwrap();
    let (clean, stderr) = verify(&check_dir, &root, &units)
        .expect("systemd-analyze is installed (scripts/deps.sh: systemd)");
    assert!(clean, "systemd-analyze verify:\n{stderr}");

    // The check itself notices a mistake.
    let bad_dir = dir.join("bad");
    std::fs::create_dir_all(&bad_dir).unwrap();
    let broken = units[0].1.replace("KillMode=mixed", "KilMode=mixed");
    let (clean, stderr) = verify(&bad_dir, &root, &[("mediamtx.service", broken)]).unwrap();
    assert!(!clean, "a misspelt key must be reported: {stderr}");
}
