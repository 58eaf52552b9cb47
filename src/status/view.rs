//! The status view: the state read and checked against the living
//! processes, the recording's trouble, the disk budget and the live
//! stills' files, rendered for `hook status` as a table or one path's
//! details, JSON, or Prometheus metrics. Status layer.
//!
//! The state file says what the hook processes last wrote; status checks it
//! against the living processes before it says anything, so a `hook run`
//! that was SIGKILLed (and could not record its end) is shown as gone, not
//! as running, and a pid recorded with its start time and boot
//! (`state::identity`) that now names another process is not taken for
//! it. The checks read `/proc/<pid>/stat` only for the pids the state names, so status stays fast however many segments were recorded
//! (the state keeps totals, not segments).
//!
//! The human text is `human`'s, the JSON (its annotated schema) `json`'s,
//! the metrics `prometheus`'s.

use time::UtcOffset;

use crate::context::Context;
use crate::state::observe::{observe, truthful, Observed, ProcProbe};
use crate::state::{now, PathState};
use crate::status::human::{render_details, render_table};
use crate::status::json::render_json_with;

/// What `hook status` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// The table, or one path's details; the storage lines below.
    Human,
    /// `--json`.
    Json,
    /// `--prometheus`.
    Prometheus,
}

/// The status of every path, or of `only` (a path name, checked; an error
/// when the state does not know it), in `format`.
pub fn render(ctx: &Context, only: Option<&str>, format: Format) -> anyhow::Result<String> {
    let mut state = ctx.store.read()?;
    if let Some(name) = only {
        if !state.paths.contains_key(name) {
            let known: Vec<&str> = state.paths.keys().map(String::as_str).collect();
            anyhow::bail!(
                "no path {name:?} in the state ({}): nothing has run for it yet; known paths: {}",
                ctx.store.state_file().display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    // The disk budget is the whole machine's: its figures come from every
    // path, whichever ones are shown.
    let storage = crate::status::storage::Storage::observe(&state, &ctx.policy.recording, now());
    if let Some(name) = only {
        state.paths.retain(|k, _| k == name);
    }
    // A still's time and size are the file's own (FFmpeg writes it).
    for p in state.paths.values_mut() {
        if let Some(still) = &p.still {
            p.still = Some(crate::state::stills::look_at_still(still));
        }
    }
    let now = now();
    let mut probe = ProcProbe::new();
    let space = storage.space();
    let rec = &ctx.policy.recording;
    let segment = time::Duration::try_from(rec.segment_duration.0).unwrap_or(time::Duration::MAX);
    let tolerance = time::Duration::try_from(rec.gap_tolerance.0).unwrap_or_default();
    let observed: Vec<(&str, &PathState, Observed)> = state
        .paths
        .iter()
        .map(|(name, p)| {
            let mut o = observe(p, now, &mut |pid, id, k| probe.alive(pid, id, k));
            // Never "recording" while nothing is written.
            o.recording_cause =
                crate::status::recording::trouble(p, &o, now, segment, tolerance, space);
            if o.recording_cause.is_some() {
                o.recording_active = false;
                o.use_cases.retain(|u| *u != "recording");
            }
            (name.as_str(), p, o)
        })
        .collect();

    let text = if format == Format::Prometheus {
        crate::status::prometheus::render(&truthful(&state, &observed), now)?
    } else if format == Format::Json {
        let mut s = render_json_with(&ctx.store, &observed, now, Some(&storage))?;
        s.push('\n');
        s
    } else {
        let local = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
        match only {
            Some(_) => observed
                .first()
                .map(|(name, p, o)| render_details(&ctx.store, name, p, o, now, local))
                .unwrap_or_default(),
            None if observed.is_empty() => format!(
                "no paths yet: nothing has run through the hook (state directory {})\n",
                ctx.store.dir().display()
            ),
            None => render_table(&observed, now),
        }
    };
    // Below the table or the one path: the storage line, the forecast, the
    // oldest kept segment of each path and, loud, a budget that cannot be met. The
    // metrics get the same figures as gauges.
    let text = if format == Format::Prometheus {
        if observed.is_empty() {
            text
        } else {
            text + &crate::status::prometheus::render_storage(&storage)
        }
    } else if format == Format::Json || observed.is_empty() {
        text
    } else {
        text + &storage.human(&state)
    };
    Ok(text)
}

#[cfg(test)]
mod tests {
    use crate::state::observe::tests::{running, NOW};
    use crate::state::observe::{observe, truthful};
    use crate::state::StateStore;
    use crate::status::human::{human_bytes, human_duration, render_details, render_table};
    use crate::status::json::render_json;

    #[test]
    fn json_has_the_documented_fields() {
        let store = StateStore::new("/var/lib/mediamtx-hook");
        let mut p = running();
        p.publisher.restarts = 2;
        p.segments.count = 3;
        p.segments.recorded_seconds = 90.5;
        p.segments.gaps = 1;
        let o = observe(&p, NOW, &mut |_, _, _| true);
        let json = render_json(&store, &[("cam0", &p, o)], NOW).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["schema_version"], 1);
        let c = &v["paths"]["cam0"];
        assert_eq!(c["phase"], "running");
        assert_eq!(c["child_pid"], 101);
        assert_eq!(c["restarts"], 2);
        assert!(c["last_error"].is_null());
        assert_eq!(c["recording"]["active"], false);
        assert_eq!(c["segments"]["count"], 3);
        assert_eq!(c["segments"]["recorded_seconds"], 90.5);
        assert_eq!(c["segments"]["gaps"], 1);
        assert_eq!(c["uptime_seconds"], 3600.0);
        assert_eq!(c["use_cases"], serde_json::json!(["viewing"]));
        assert_eq!(
            c["segments"]["ledger"],
            "/var/lib/mediamtx-hook/ledger/cam0.jsonl"
        );
    }

    #[test]
    fn table_lines_up_and_marks_stale() {
        let mut a = running();
        a.publisher.last_error = Some("first line\nsecond".into());
        a.segments.count = 12;
        a.segments.recorded_seconds = 21600.0;
        let b = running();
        let oa = observe(&a, NOW, &mut |_, _, _| true);
        let ob = observe(&b, NOW, &mut |_, _, _| false);
        let text = render_table(&[("camera0", &a, oa), ("cam1", &b, ob)], NOW);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("PATH     PHASE"), "{text}");
        assert!(!lines[0].contains("STILL"), "no stills, no column: {text}");
        assert!(lines[1].starts_with("camera0  running  viewing"), "{text}");
        assert!(lines[1].contains("12 (6h00m)"), "{text}");
        assert!(lines[1].ends_with("first line"), "{text}");
        assert!(lines[2].starts_with("cam1     idle*"), "{text}");
        assert!(
            lines[3].starts_with("  * cam1: hook run (pid 100) is gone"),
            "{text}"
        );
        let col = lines[0].find("RESTARTS").unwrap();
        assert_eq!(&lines[1][col..col + 1], "0");
    }

    #[test]
    fn the_still_shows_its_age_everywhere() {
        let store = StateStore::new("/var/lib/mediamtx-hook");
        let mut p = running();
        p.still = Some(crate::state::StillRecord {
            file: "/var/lib/mediamtx-hook/stills/cam0.jpg".into(),
            every_ms: Some(10_000),
            at: Some(NOW - time::Duration::seconds(4)),
            bytes: Some(12_345),
        });
        let o = observe(&p, NOW, &mut |_, _, _| true);
        let json = render_json(&store, &[("cam0", &p, o.clone())], NOW).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let still = &v["paths"]["cam0"]["still"];
        assert_eq!(still["file"], "/var/lib/mediamtx-hook/stills/cam0.jpg");
        assert_eq!(still["at"], "2026-11-24T09:59:56Z");
        assert_eq!(still["age_seconds"], 4.0);
        assert_eq!(still["bytes"], 12_345);
        assert_eq!(still["every_seconds"], 10.0);
        let table = render_table(
            &[("cam0", &p, o.clone()), ("cam1", &running(), o.clone())],
            NOW,
        );
        let col = table.lines().next().unwrap().find("STILL").unwrap();
        assert!(
            table.lines().nth(1).unwrap()[col..].starts_with("4.0s"),
            "{table}"
        );
        let details = render_details(&store, "cam0", &p, &o, NOW, time::UtcOffset::UTC);
        assert!(
            details.contains("still:") && details.contains("cam0.jpg, 12.1 KiB, taken"),
            "{details}"
        );
        let metrics = crate::status::prometheus::render(
            &truthful(
                &crate::state::State {
                    schema_version: 1,
                    paths: [("cam0".to_string(), p.clone())].into(),
                    recording_root: None,
                },
                &[],
            ),
            NOW,
        )
        .unwrap();
        assert!(
            metrics.contains("mediamtx_hook_still_age_seconds{path=\"cam0\"} 4\n"),
            "{metrics}"
        );
        // No still: null, a dash, no sample.
        let q = running();
        let o = observe(&q, NOW, &mut |_, _, _| true);
        let json = render_json(&store, &[("cam1", &q, o)], NOW).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v["paths"]["cam1"]["still"].is_null());
    }

    #[test]
    fn human_units() {
        assert_eq!(human_duration(4.25), "4.2s");
        assert_eq!(human_duration(45.0), "45s");
        assert_eq!(human_duration(725.0), "12m05s");
        assert_eq!(human_duration(3720.0), "1h02m");
        assert_eq!(human_duration(3.0 * 86400.0 + 4.0 * 3600.0), "3d04h");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
