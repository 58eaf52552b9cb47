//! The Home Assistant example of `docs/fleet.md`, run as Home Assistant
//! runs it: `tests/support/home_assistant.py` takes the YAML block from the
//! docs file (so the docs and this test cannot drift apart), runs each
//! `command_line` command through a shell (Home Assistant's way, not the
//! hook's) with the built `hook` first on PATH and the state directory
//! replaced by the test's, and renders each template with Jinja2. Checked
//! for a camera whose device is missing, then for the test pattern
//! publishing with stills on.

use crate::support::common::*;
use std::path::Path;
use std::time::Duration;

fn docs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fleet.md")
}

/// What Home Assistant would show: the script's JSON.
fn home_assistant(state: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/home_assistant.py");
    let bin_dir = hook_bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(docs())
        .arg(state)
        .env("PATH", path)
        .env_remove("HOOK_CONFIG")
        .env_remove("HOOK_STATE_DIR")
        .output()
        .expect("python3 with PyYAML and Jinja2 (scripts/deps.sh)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn entity<'a>(ha: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    ha["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no entity {name:?} in the example: {ha}"))
}

fn phase(state: &Path) -> String {
    let out = hook_command(state)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["paths"]["camera0"]["phase"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn the_documented_home_assistant_sensors_show_a_missing_camera_then_a_running_one() {
    let dir = TempDir::new("home-assistant");
    let state = dir.join("state");
    let config = write_config(dir.path(), r#"{"stills": {"every": "1s"}}"#);
    let listener = RtspListener::start("camera0");
    let hook = |device: &str| {
        let mut cmd = mediamtx_command(&state, "camera0", listener.port);
        cmd.env("HOOK_CONFIG", &config)
            .args(["run", "--device", device])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().expect("starting hook run")
    };

    // Before anything ran for camera0 the command fails: unavailable.
    let ha = home_assistant(&state);
    assert_eq!(entity(&ha, "camera0 down")["exit"], 1, "{ha}");

    let mut failing = hook("/dev/nonexistent-video0");
    let down = ["waiting-for-device", "backoff"];
    assert!(
        wait_until(Duration::from_secs(15), || down
            .contains(&phase(&state).as_str())),
        "camera0 never waited for its device: {}",
        phase(&state)
    );
    let ha = home_assistant(&state);
    let sensor = entity(&ha, "camera0 down");
    assert_eq!(sensor["kind"], "binary_sensor", "{ha}");
    assert_eq!(sensor["exit"], 0, "{ha}");
    assert!(
        sensor["command"]
            .as_str()
            .unwrap()
            .ends_with(" hook status camera0 --json"),
        "{ha}"
    );
    assert_eq!(sensor["state"], "ON", "{ha}");
    let phase_sensor = entity(&ha, "camera0 phase");
    assert!(
        down.contains(&phase_sensor["state"].as_str().unwrap()),
        "{ha}"
    );
    let error = phase_sensor["attributes"]["last_error"]
        .as_str()
        .unwrap_or("");
    assert!(
        error.contains("/dev/nonexistent-video0") && error.contains("not found"),
        "{ha}"
    );
    assert!(phase_sensor["attributes"]["restarts"].is_u64(), "{ha}");
    kill_group(failing.id(), libc::SIGTERM);
    assert!(wait_timeout(&mut failing, Duration::from_secs(10)).is_some());

    // The test pattern publishes, with a still every second.
    let mut running = hook("testsrc");
    let still = state.join("stills/camera0.jpg");
    assert!(
        wait_until(Duration::from_secs(20), || phase(&state) == "running"
            && std::fs::metadata(&still).is_ok_and(|m| m.len() > 0)),
        "camera0 not running with a still: {}",
        phase(&state)
    );
    let ha = home_assistant(&state);
    assert_eq!(entity(&ha, "camera0 down")["state"], "OFF", "{ha}");
    let phase_sensor = entity(&ha, "camera0 phase");
    assert_eq!(phase_sensor["state"], "running", "{ha}");
    assert_eq!(
        phase_sensor["attributes"]["use_cases"],
        serde_json::json!(["viewing"]),
        "{ha}"
    );
    assert!(
        phase_sensor["attributes"]["uptime_seconds"].is_number(),
        "{ha}"
    );
    let cameras = ha["cameras"].as_array().unwrap();
    assert_eq!(cameras.len(), 1, "{ha}");
    assert_eq!(cameras[0]["name"], "camera0", "{ha}");
    assert_eq!(cameras[0]["file"], still.display().to_string(), "{ha}");
    assert_eq!(cameras[0]["jpeg"], true, "{ha}");
    kill_group(running.id(), libc::SIGTERM);
    assert!(wait_timeout(&mut running, Duration::from_secs(10)).is_some());
}
