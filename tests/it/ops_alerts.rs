//! The shipped alert rules (`mediamtx/alerts.yml`) and Grafana dashboard
//! (`mediamtx/grafana-dashboard.json`) as promtool reads them: the rules
//! load, their unit tests (`mediamtx/alerts.test.yml`) pass, every rule has
//! a case where it fires, and every dashboard query parses. promtool comes
//! from `scripts/deps.sh`; without it these fail.

use crate::support::common::TempDir;
use crate::support::prom::{dashboard_queries, metric_names, run_promtool, shipped};

/// The alert names of the shipped rules, in order.
pub fn alert_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn shipped_alert_rules_load_and_pass_their_unit_tests() {
    let dir = shipped("");
    let (ok, out) = run_promtool(&dir, &["check", "rules", "alerts.yml"], None);
    assert!(ok, "promtool check rules alerts.yml:\n{out}");
    let names = alert_names(&std::fs::read_to_string(shipped("alerts.yml")).unwrap());
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", names.len())),
        "{out}"
    );
    let (ok, out) = run_promtool(&dir, &["test", "rules", "alerts.test.yml"], None);
    assert!(ok, "promtool test rules alerts.test.yml:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_rule_has_a_unit_test_where_it_fires_and_one_where_it_does_not() {
    let rules = std::fs::read_to_string(shipped("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(shipped("alerts.test.yml")).unwrap();
    let names = alert_names(&rules);
    assert!(names.len() >= 8, "{names:?}");
    for want in [
        "MediamtxHookCameraDown",
        "MediamtxHookRecordingStalled",
        "MediamtxHookRecordingGaps",
        "MediamtxHookDiskBudgetNotMet",
        "MediamtxHookDiskFullSoon",
        "MediamtxHookMetricsStale",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    let lines: Vec<&str> = tests.lines().collect();
    for name in &names {
        let (mut fires, mut quiet) = (false, false);
        for (i, l) in lines.iter().enumerate() {
            if l.trim() != format!("alertname: {name}") {
                continue;
            }
            match lines.get(i + 1).map(|l| l.trim()) {
                Some("exp_alerts: []") => quiet = true,
                Some("exp_alerts:") => fires = true,
                other => panic!("{name}: unexpected line after alertname: {other:?}"),
            }
        }
        assert!(fires, "{name}: no unit test where it fires");
        assert!(quiet, "{name}: no unit test where it stays quiet");
    }
}

#[test]
fn the_camera_down_alert_carries_the_cause_label() {
    // The rule joins mediamtx_hook_cause in; the unit tests expect the cause
    // among the alert's labels, and a path without one alerts all the same.
    let rules = std::fs::read_to_string(shipped("alerts.yml")).unwrap();
    assert!(
        rules.contains("group_left (cause)")
            && rules.contains("mediamtx_hook_cause{cause!=\"none\"}"),
        "{rules}"
    );
    let tests = std::fs::read_to_string(shipped("alerts.test.yml")).unwrap();
    assert!(tests.contains("cause: unplugged"), "{tests}");
}

#[test]
fn every_dashboard_query_parses() {
    let queries = dashboard_queries();
    assert!(queries.len() >= 20, "{queries:?}");
    // Each query as a recording rule: `promtool check rules` parses it.
    let dir = TempDir::new("dashboard-parse");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, expr)) in queries.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard_query_{i}\n        expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    std::fs::write(dir.join("dashboard.yml"), &rules).unwrap();
    let (ok, out) = run_promtool(dir.path(), &["check", "rules", "dashboard.yml"], None);
    assert!(ok, "promtool refused a dashboard query:\n{out}\n{rules}");
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{out}"
    );
    // Every query reads the hook's metrics or node_exporter's.
    for (at, expr) in &queries {
        assert!(!metric_names(expr).is_empty(), "{at}: {expr}");
    }
}

#[test]
fn the_dashboard_covers_what_a_fleet_watches() {
    let all: Vec<String> = dashboard_queries()
        .into_iter()
        .flat_map(|(_, e)| metric_names(&e))
        .collect();
    for want in [
        "mediamtx_hook_phase",
        "mediamtx_hook_cause",
        "mediamtx_hook_restarts_total",
        "mediamtx_hook_activation_latency_seconds",
        "mediamtx_hook_recording_active",
        "mediamtx_hook_gaps_total",
        "mediamtx_hook_still_age_seconds",
        "mediamtx_hook_storage_free_bytes",
        "mediamtx_hook_storage_forecast_seconds",
    ] {
        assert!(all.iter().any(|n| n == want), "{want} not on the dashboard");
    }
}
