//! The disk budget as `hook status` shows it: the recordings' file system
//! (free, total), what the recordings take, the budget, and whether it can
//! be met, and the disk forecast (`status::forecast`).

use crate::policy::record_path::RecordPattern;
use crate::policy::size::Size;
use crate::policy::Recording;
use crate::state::storage::{space, Space};
use crate::state::State;
use serde::Serialize;
use std::fmt::Write as _;

/// `--json`'s top-level `storage` object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Storage {
    /// The recording root (the part of `recordPath` before its fields).
    pub root: String,
    pub free_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    /// Kept segments of every path, as recorded.
    pub recordings_bytes: u64,
    pub max_size_bytes: Option<u64>,
    pub min_free_bytes: Option<u64>,
    /// False when the recordings are over budget (only the newest segment
    /// of each path can be left, or other files fill the file system).
    pub budget_met: bool,
    /// Hours of recording left at the recent write rate.
    pub forecast: crate::status::forecast::Forecast,
    /// The file system has (almost) no free space, whatever the budget
    /// (`status::recording::filesystem_low`).
    pub filesystem_low: bool,
}

impl Storage {
    pub(crate) fn observe(state: &State, rec: &Recording, now: time::OffsetDateTime) -> Storage {
        // A relative record_path is MediaMTX's directory's, not ours: the
        // root segment-complete resolved there, once it has run.
        let recorded = state
            .recording_root
            .as_ref()
            .filter(|_| !rec.record_path.starts_with('/'))
            .map(std::path::PathBuf::from);
        let root = recorded
            .or_else(|| RecordPattern::new(&rec.record_path).map(|p| p.root))
            .unwrap_or_default();
        let sp = space(&root).ok();
        let recordings_bytes = state.paths.values().map(|p| p.segments.kept_bytes).sum();
        let max_size_bytes = rec.max_size.map(|s| s.0);
        let min_free_bytes = sp.map(|s| rec.min_free_bytes(s.total));
        let budget_met = max_size_bytes.is_none_or(|m| recordings_bytes <= m)
            && match (sp, min_free_bytes) {
                (Some(s), Some(m)) => s.free >= m,
                _ => true,
            };
        let rates: Vec<f64> = state
            .paths
            .values()
            .filter_map(|p| p.segments.written.rate(now))
            .collect();
        let forecast = crate::status::forecast::Forecast::of(crate::status::forecast::Inputs {
            rate: (!rates.is_empty()).then(|| rates.iter().sum()),
            recordings_bytes,
            max_size_bytes,
            free_bytes: sp.map(|s| s.free),
            min_free_bytes,
        });
        Storage {
            root: root.display().to_string(),
            free_bytes: sp.map(|s| s.free),
            total_bytes: sp.map(|s| s.total),
            recordings_bytes,
            max_size_bytes,
            min_free_bytes,
            budget_met,
            forecast,
            filesystem_low: crate::status::recording::filesystem_low(sp),
        }
    }

    /// The file system's figures, when they could be read.
    pub(crate) fn space(&self) -> Option<Space> {
        Some(Space {
            free: self.free_bytes?,
            total: self.total_bytes?,
        })
    }

    /// The human lines: storage, the forecast, oldest kept segment per
    /// path, and a loud warning when the budget is not met.
    pub(crate) fn human(&self, state: &State) -> String {
        let b = |n: Option<u64>| n.map_or("?".into(), |n| Size(n).to_string());
        let h = |n: Option<u64>| n.map_or("?".into(), crate::status::human::human_bytes);
        let mut out = format!(
            "storage: {} free of {} on {}; recordings {}; budget: max_size {}, min_free {}\n",
            h(self.free_bytes),
            h(self.total_bytes),
            self.root,
            crate::status::human::human_bytes(self.recordings_bytes),
            self.max_size_bytes
                .map_or("none".into(), |m| Size(m).to_string()),
            b(self.min_free_bytes),
        );
        out.push_str(&self.forecast_line());
        for (name, p) in &state.paths {
            let c = p.segments.gone_cursor.as_ref();
            if let (Some(file), Some(_)) = (c.and_then(|c| c.file.as_ref()), c) {
                let _ = writeln!(
                    out,
                    "  {name}: oldest kept segment {file}; {} kept, {} deleted",
                    p.segments.kept, p.segments.deleted
                );
            }
        }
        out + &self.warning()
    }

    /// `forecast: 10h00m of recording left within the budget, 1d03h on the
    /// file system, at 1.0 MiB/s (last 24 h)`.
    pub(crate) fn forecast_line(&self) -> String {
        let f = &self.forecast;
        let Some(rate) = f.write_bytes_per_second else {
            return "forecast: - (nothing recorded in the last 24 h)\n".into();
        };
        let h = |hours: Option<f64>| {
            hours.map_or("?".into(), |h| {
                crate::status::human::human_duration(h * 3600.0)
            })
        };
        format!(
            "forecast: {} of recording left within the budget, {} on the file system, at {}/s (last 24 h)\n",
            h(f.budget_hours),
            h(f.filesystem_hours),
            crate::status::human::human_bytes(rate.round() as u64)
        )
    }

    /// The loud warning when the budget cannot be met, or the file system
    /// is (almost) full; empty when neither.
    pub(crate) fn warning(&self) -> String {
        let mut out = String::new();
        if self.filesystem_low {
            let _ = writeln!(
                out,
                "WARNING: THE RECORDINGS' FILE SYSTEM IS (ALMOST) FULL: {} free on {}; recording stops when it is full ({})",
                self.free_bytes.map_or("?".into(), crate::status::human::human_bytes),
                self.root,
                crate::state::Cause::FilesystemLow.fix()
            );
        }
        if !self.budget_met {
            let why = match (self.max_size_bytes, self.free_bytes, self.min_free_bytes) {
                (Some(m), _, _) if self.recordings_bytes > m => {
                    "the recordings exceed max_size".to_string()
                }
                _ => "free space is below min_free: other files fill the recordings' file system"
                    .to_string(),
            };
            let _ = writeln!(
                out,
                "WARNING: DISK BUDGET CANNOT BE MET: {why}; segment-complete deletes old segments down to the newest of each path"
            );
        }
        out
    }
}
