//! The disk forecast of `hook status`, from the real binary: segments
//! recorded by `hook segment-complete` give the write rate, and status
//! (human, JSON, metrics) gives the hours of recording left within the
//! disk budget and on the file system at that rate; nothing recorded
//! lately gives no forecast.

use crate::support::common::*;
use std::time::Duration;

fn status(state: &std::path::Path, config: &std::path::Path, args: &[&str]) -> String {
    let mut cmd = hook_command(state);
    cmd.env("HOOK_CONFIG", config).arg("status").args(args);
    let (code, out, err) = run_to_end(cmd, Duration::from_secs(10));
    assert_eq!(code, 0, "hook status {args:?}: {err}");
    out
}

#[test]
fn recorded_segments_give_the_hours_left_within_the_budget_and_on_the_file_system() {
    let dir = TempDir::new("forecast");
    let state = dir.join("state");
    let segs = dir.join("recordings/cam");
    std::fs::create_dir_all(&segs).unwrap();
    std::fs::create_dir_all(dir.join("recordings/other")).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"{{"recording": {{"max_size": "100MB", "record_path": "{}/recordings/%path/%Y-%m-%d_%H-%M-%S-%f"}}}}"#,
            dir.path().display()
        ),
    );
    // Nothing recorded yet: no forecast, anywhere.
    for (i, path) in ["cam", "other"].iter().enumerate() {
        let file = fake_segment(&segs, 1000.0 * i as f64, 0);
        let mut cmd = segment_command(&state, path, &file, "10");
        cmd.env("HOOK_CONFIG", &config);
        assert_eq!(run_to_end(cmd, Duration::from_secs(10)).0, 0);
    }
    let json: serde_json::Value =
        serde_json::from_str(&status(&state, &config, &["--json"])).unwrap();
    let f = &json["storage"]["forecast"];
    assert!(f["write_bytes_per_second"].is_null(), "{f}");
    assert!(
        f["budget_hours"].is_null() && f["filesystem_hours"].is_null(),
        "{f}"
    );
    let human = status(&state, &config, &[]);
    assert!(
        human.contains("\nforecast: - (nothing recorded in the last 24 h)\n"),
        "{human}"
    );
    let metrics = status(&state, &config, &["--prometheus"]);
    assert!(
        !metrics.contains("forecast") && !metrics.contains("write_bytes"),
        "{metrics}"
    );

    // Three 10 s segments of 1 MB on one path, one of 2 MB on another:
    // 5 MB over (at least) the minute the rate is taken over.
    let started = std::time::Instant::now();
    for (path, start, bytes) in [
        ("cam", 0.0, 1_000_000),
        ("cam", 10.0, 1_000_000),
        ("cam", 20.0, 1_000_000),
        ("other", 0.0, 2_000_000),
    ] {
        let file = fake_segment(
            &dir.join(format!("recordings/{path}")),
            start + 5000.0,
            bytes,
        );
        let mut cmd = segment_command(&state, path, &file, "10");
        cmd.env("HOOK_CONFIG", &config);
        let (code, _, err) = run_to_end(cmd, Duration::from_secs(10));
        assert_eq!(code, 0, "{err}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&status(&state, &config, &["--json"])).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let s = &json["storage"];
    let f = &s["forecast"];
    let rate = f["write_bytes_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("{s}"));
    // Each path's bytes over the time since its first segment began (10 s
    // before it completed), at least a minute.
    let slowest = 5_000_000.0 / (60.0f64.max(elapsed + 10.0));
    assert!(
        rate <= 5_000_000.0 / 60.0 + 1e-6 && rate >= slowest - 1e-6,
        "{rate} {s}"
    );
    let recordings = s["recordings_bytes"].as_f64().unwrap();
    assert_eq!(recordings, 5_000_000.0, "{s}");
    let free = s["free_bytes"].as_f64().unwrap();
    let min_free = s["min_free_bytes"].as_f64().unwrap();
    let room = (100e6 - recordings).min(free - min_free).max(0.0);
    let budget = f["budget_hours"].as_f64().unwrap();
    assert!(
        (budget - room / rate / 3600.0).abs() < 1e-6 * budget.max(1.0),
        "{f}"
    );
    let fs = f["filesystem_hours"].as_f64().unwrap();
    assert!((fs - free / rate / 3600.0).abs() < 1e-3 * fs, "{f}");

    // The same figures for people and for Prometheus.
    let human = status(&state, &config, &[]);
    let line = human
        .lines()
        .find(|l| l.starts_with("forecast: "))
        .unwrap_or_else(|| panic!("{human}"));
    assert!(
        line.contains(" of recording left within the budget, ")
            && line.contains(" on the file system, at ")
            && line.ends_with("/s (last 24 h)"),
        "{line}"
    );
    let details = status(&state, &config, &["cam"]);
    assert!(
        details.contains("\nforecast: "),
        "the machine's forecast also under one path:\n{details}"
    );
    let metrics = status(&state, &config, &["--prometheus"]);
    let value = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix}:\n{metrics}"))
            .trim()
            .parse()
            .unwrap()
    };
    let budget_s = value("mediamtx_hook_storage_forecast_seconds{limit=\"budget\"} ");
    assert!(
        (budget_s / 3600.0 - budget).abs() < 0.01 * budget.max(0.01),
        "{budget_s} vs {budget} h"
    );
    let rate_m = value("mediamtx_hook_storage_write_bytes_per_second ");
    assert!((rate_m - rate).abs() < 0.05 * rate, "{rate_m} vs {rate}");
    assert!(
        metrics.contains("mediamtx_hook_storage_forecast_seconds{limit=\"filesystem\"} "),
        "{metrics}"
    );
}
