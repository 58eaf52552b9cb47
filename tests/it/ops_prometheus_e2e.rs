//! The fleet view end to end, on a real Prometheus: node_exporter's
//! textfile collector reads what the real `hook status --prometheus`
//! writes (rewritten atomically every half second, as the metrics timer
//! does every 15 s), a Prometheus server scrapes it and evaluates the
//! shipped alert rules (a copy with only the `for:` durations shortened).
//! A camera that fails (`hook run` on a device that does not exist) makes
//! the camera-down alert go pending, then firing, through Prometheus's
//! HTTP API; the camera recovering (the test pattern published) clears it.
//! Then every query of the shipped Grafana dashboard runs against that
//! Prometheus and must return data.

use crate::support::common::*;
use crate::support::prom::{dashboard_queries, node_exporter, shipped, Prometheus};

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shipped rules with every `for:` set to `for_` and nothing else
/// changed (checked line by line).
fn with_short_durations(rules: &str, for_: &str) -> String {
    let out: Vec<String> = rules
        .lines()
        .map(|l| match l.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: {for_}", &l[..l.len() - l.trim_start().len()]),
            None => l.to_string(),
        })
        .collect();
    let changed = rules
        .lines()
        .zip(&out)
        .filter(|(a, b)| a != &b.as_str())
        .inspect(|(a, _)| assert!(a.trim_start().starts_with("for: "), "{a}"))
        .count();
    assert!(
        changed >= 5,
        "only {changed} for: lines in the shipped rules"
    );
    out.join("\n") + "\n"
}

/// The metrics timer's job, faster: `hook status --prometheus` into the
/// textfile directory every half second, replaced atomically (written
/// beside it, renamed over it). The latest text is kept for the test.
struct MetricsWriter {
    stop: Arc<AtomicBool>,
    last: Arc<Mutex<String>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsWriter {
    fn start(state: &Path, config: &Path, textfile: &Path) -> MetricsWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let last = Arc::new(Mutex::new(String::new()));
        let (s, l) = (stop.clone(), last.clone());
        let (state, config, textfile) = (state.to_owned(), config.to_owned(), textfile.to_owned());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let out = hook_command(&state)
                    .env("HOOK_CONFIG", &config)
                    .args(["status", "--prometheus"])
                    .output()
                    .expect("running hook status");
                assert!(
                    out.status.success(),
                    "hook status --prometheus: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let tmp = textfile.join("mediamtx_hook.prom.tmp");
                std::fs::write(&tmp, &out.stdout).unwrap();
                std::fs::rename(&tmp, textfile.join("mediamtx_hook.prom")).unwrap();
                *l.lock().unwrap() = String::from_utf8_lossy(&out.stdout).into_owned();
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        MetricsWriter {
            stop,
            last,
            thread: Some(thread),
        }
    }

    fn text(&self) -> String {
        self.last.lock().unwrap().clone()
    }
}

impl Drop for MetricsWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `hook run` started as MediaMTX starts it, stopped (SIGTERM to its
/// group, then SIGKILL) when dropped.
struct Publisher(Child);

impl Publisher {
    fn start(state: &Path, config: &Path, port: u16, device: &str, log: PathBuf) -> Publisher {
        let log = std::fs::File::create(log).unwrap();
        let child = mediamtx_command(state, "camera9", port)
            .env("HOOK_CONFIG", config)
            .args(["run", "--device", device])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting hook run");
        Publisher(child)
    }

    fn stop(&mut self) {
        kill_group(self.0.id(), libc::SIGTERM);
        if wait_timeout(&mut self.0, Duration::from_secs(10)).is_none() {
            kill_group(self.0.id(), libc::SIGKILL);
            let _ = self.0.wait();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// The camera-down alert of camera9, if Prometheus has one.
fn camera_down(prom: &Prometheus) -> Option<serde_json::Value> {
    prom.alerts().into_iter().find(|a| {
        a["labels"]["alertname"] == "MediamtxHookCameraDown" && a["labels"]["path"] == "camera9"
    })
}

/// The cause the hook's metrics give camera9, when they have one.
fn cause_in(metrics: &str) -> Option<String> {
    metrics
        .lines()
        .find(|l| l.starts_with("mediamtx_hook_cause{path=\"camera9\"") && l.ends_with(" 1"))
        .and_then(|l| l.split("cause=\"").nth(1))
        .and_then(|r| r.split('"').next())
        .map(str::to_string)
        .filter(|c| c != "none")
}

/// Records camera8's segments: three 10 s segments of 1 MB, a hole
/// before the third (a gap), and a snapshot from the test pattern.
fn record_camera8(dir: &Path, state: &Path, config: &Path) {
    let segs = dir.join("recordings/camera8");
    std::fs::create_dir_all(&segs).unwrap();
    for start in [0.0, 10.0, 40.0] {
        let file = fake_segment(&segs, start, 1_000_000);
        let mut cmd = segment_command(state, "camera8", &file, "10");
        cmd.env("HOOK_CONFIG", config);
        let (code, _, err) = run_to_end(cmd, Duration::from_secs(10));
        assert_eq!(code, 0, "segment-complete: {err}");
    }
    // No stream runs, and no Control API answers (a free port): straight
    // from the device.
    let mut snap = hook_command(state);
    snap.env("HOOK_CONFIG", config)
        .env("HOOK_MTX_API", format!("http://127.0.0.1:{}", free_port()))
        .args(["snapshot", "camera8", "--device", "testsrc", "-o"])
        .arg(dir.join("camera8.jpg"));
    let (code, _, err) = run_to_end(snap, Duration::from_secs(15));
    assert_eq!(code, 0, "snapshot: {err}");
}

#[test]
fn a_failing_camera_fires_the_alert_on_a_real_prometheus_and_recovery_clears_it() {
    let began = Instant::now();
    let dir = TempDir::new("prom-e2e");
    let state = dir.join("state");
    let textfile = dir.join("textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"{{"stills": {{"every": "1s"}},
                "recording": {{"max_size": "10GiB",
                               "record_path": "{}/recordings/%path/%Y-%m-%d_%H-%M-%S-%f"}}}}"#,
            dir.path().display()
        ),
    );
    let rules = dir.join("alerts.yml");
    let shipped_rules = std::fs::read_to_string(shipped("alerts.yml")).unwrap();
    std::fs::write(&rules, with_short_durations(&shipped_rules, "2s")).unwrap();

    record_camera8(dir.path(), &state, &config);
    let listener = RtspListener::start("camera9");
    let node = node_exporter(dir.path(), &textfile);
    let prom = Prometheus::start(dir.path(), node.port, &rules);
    let rules_loaded = prom.api("/api/v1/rules", &[]);
    let loaded = rules_loaded["groups"][0]["rules"]
        .as_array()
        .map_or(0, |r| r.len());
    assert_eq!(
        loaded,
        crate::ops_alerts::alert_names(&shipped_rules).len(),
        "{rules_loaded}"
    );

    // The camera fails: its device does not exist.
    let mut failing = Publisher::start(
        &state,
        &config,
        listener.port,
        "/dev/nonexistent-video9",
        dir.join("failing.log"),
    );
    let writer = MetricsWriter::start(&state, &config, &textfile);
    let mut states = Vec::new();
    let fired = poll(Duration::from_secs(30), Duration::from_millis(200), || {
        let alert = camera_down(&prom);
        if let Some(a) = &alert {
            let s = a["state"].as_str().unwrap_or("?").to_string();
            if states.last() != Some(&s) {
                states.push(s);
            }
        }
        states.last().is_some_and(|s| s == "firing")
    });
    assert!(
        fired,
        "no firing camera-down alert in 30 s (states seen {states:?}); metrics:\n{}\nhook run:\n{}",
        writer.text(),
        std::fs::read_to_string(dir.join("failing.log")).unwrap_or_default()
    );
    assert_eq!(
        states.first().map(String::as_str),
        Some("pending"),
        "{states:?}"
    );
    let alert = camera_down(&prom).expect("the alert, firing");
    let labels = &alert["labels"];
    assert_eq!(labels["severity"], "critical", "{alert}");
    assert_eq!(labels["job"], "node", "{alert}");
    assert_eq!(
        labels["instance"],
        format!("127.0.0.1:{}", node.port),
        "{alert}"
    );
    let metrics = writer.text();
    assert!(
        metrics.contains("mediamtx_hook_phase{path=\"camera9\",phase=\"waiting-for-device\"} 1")
            || metrics.contains("mediamtx_hook_phase{path=\"camera9\",phase=\"backoff\"} 1"),
        "{metrics}"
    );
    // The alert says why: the hook's cause for the missing camera.
    assert_eq!(
        cause_in(&metrics).as_deref(),
        Some("camera_missing"),
        "{metrics}"
    );
    assert_eq!(labels["cause"], "camera_missing", "{alert}");
    let down_at = began.elapsed();

    // The camera recovers: the test pattern is published on the path.
    failing.stop();
    let _publishing = Publisher::start(
        &state,
        &config,
        listener.port,
        "testsrc",
        dir.join("testsrc.log"),
    );
    let running = wait_until(Duration::from_secs(15), || {
        writer
            .text()
            .contains("mediamtx_hook_phase{path=\"camera9\",phase=\"running\"} 1")
    });
    assert!(running, "camera9 not running:\n{}", writer.text());
    let mut ready = mediamtx_command(&state, "camera9", listener.port);
    ready.env("HOOK_CONFIG", &config).arg("ready");
    let (code, _, err) = run_to_end(ready, Duration::from_secs(10));
    assert_eq!(code, 0, "hook ready: {err}");
    let cleared = poll(Duration::from_secs(30), Duration::from_millis(200), || {
        camera_down(&prom).is_none()
    });
    assert!(cleared, "the alert did not clear: {:?}", camera_down(&prom));
    let cleared_at = began.elapsed();

    // Every dashboard query returns data, once the metrics it reads exist:
    // the still and the activation latency of camera9 are scraped.
    let scraped = poll(Duration::from_secs(15), Duration::from_millis(250), || {
        !prom
            .query("mediamtx_hook_still_age_seconds{path=\"camera9\"}")
            .is_empty()
            && !prom
                .query("mediamtx_hook_activation_latency_seconds{path=\"camera9\"}")
                .is_empty()
    });
    assert!(
        scraped,
        "camera9's still and latency never reached Prometheus:\n{}",
        writer.text()
    );
    let metrics = writer.text();
    for (at, expr) in dashboard_queries() {
        assert!(
            !prom.query(&expr).is_empty(),
            "{at}: `{expr}` returned no data from Prometheus (metrics written:\n{metrics})"
        );
    }
    // The forecast made it through: camera8 recorded 3 MB lately.
    let forecast = prom.query("mediamtx_hook_storage_forecast_seconds{limit=\"budget\"}");
    assert_eq!(forecast.len(), 1, "{forecast:?}");
    eprintln!(
        "alert firing after {down_at:?}, cleared after {cleared_at:?}, all done after {:?}",
        began.elapsed()
    );
}

/// node_exporter's view of the file: what it exposes from the textfile
/// directory is what `hook status --prometheus` wrote, and it never reads
/// a half-written file (the `.tmp` name is ignored).
#[test]
fn node_exporter_serves_the_hook_s_metrics_and_ignores_the_temporary_file() {
    let dir = TempDir::new("node-exporter");
    let state = dir.join("state");
    let textfile = dir.join("textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    let config = write_config(dir.path(), r#"{"recording": {"max_size": "1GiB"}}"#);
    record_camera8(dir.path(), &state, &config);
    let out = hook_command(&state)
        .env("HOOK_CONFIG", &config)
        .args(["status", "--prometheus"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(textfile.join("mediamtx_hook.prom"), &out.stdout).unwrap();
    std::fs::write(textfile.join("mediamtx_hook.prom.tmp"), b"half a line").unwrap();
    let node = node_exporter(dir.path(), &textfile);
    let (code, body) = crate::support::prom::get(node.port, "/metrics", &[]).unwrap();
    assert_eq!(code, 200);
    for line in [
        "mediamtx_hook_segments_total{path=\"camera8\"} 3",
        "mediamtx_hook_gaps_total{path=\"camera8\"} 1",
        "mediamtx_hook_storage_max_size_bytes 1.073741824e+09",
        "node_textfile_scrape_error 0",
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line:?}:\n{body}");
    }
    assert!(
        body.lines().any(|l| l.starts_with("mediamtx_hook_storage_forecast_seconds{limit=\"filesystem\"} ")),
        "{body}"
    );
    assert!(!body.contains("half a line"), "{body}");
}
