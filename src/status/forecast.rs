//! The disk forecast of `hook status`: how many hours of recording are
//! left at the recent write rate, within the disk budget and on the file
//! system.
//!
//! The rate is the sum over the paths of each path's bytes recorded in the
//! last 24 hours (the segments completed in the current hour and the 23
//! before it, from the state's `segments.written`) over the time they
//! cover (the window, or less when the path began recording more recently;
//! at least a minute). The budget's room is the smaller of `max_size`
//! minus what the kept segments take and the free space minus `min_free`
//! (0 once reached: from then on the hook deletes the oldest segments);
//! the file system's room is its free space, as if nothing were deleted.
//! Hours = room / rate. No rate (nothing recorded in the last 24 hours):
//! no forecast.

use serde::Serialize;

/// The forecast, in `--json`'s `storage.forecast`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Forecast {
    /// Bytes per second recorded lately, all paths; null: nothing recorded
    /// in the last 24 hours.
    pub write_bytes_per_second: Option<f64>,
    /// Hours until the recordings reach the disk budget.
    pub budget_hours: Option<f64>,
    /// Hours until the file system is full, if nothing were deleted.
    pub filesystem_hours: Option<f64>,
}

/// What the forecast is computed from (see the module).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Inputs {
    pub rate: Option<f64>,
    pub recordings_bytes: u64,
    pub max_size_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    pub min_free_bytes: Option<u64>,
}

impl Forecast {
    pub(crate) fn of(i: Inputs) -> Forecast {
        let rate = i.rate.filter(|r| r.is_finite() && *r > 0.0);
        let hours = |room: Option<u64>| Some(room? as f64 / rate? / 3600.0);
        let over_max = i
            .max_size_bytes
            .map(|m| m.saturating_sub(i.recordings_bytes));
        let over_min_free = match (i.free_bytes, i.min_free_bytes) {
            (Some(f), Some(m)) => Some(f.saturating_sub(m)),
            _ => None,
        };
        let budget_room = match (over_max, over_min_free) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Forecast {
            write_bytes_per_second: rate,
            budget_hours: hours(budget_room),
            filesystem_hours: hours(i.free_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1_000_000_000;

    fn inputs() -> Inputs {
        Inputs {
            rate: Some(1_000_000.0),
            recordings_bytes: 10 * GB,
            max_size_bytes: Some(46 * GB),
            free_bytes: Some(100 * GB),
            min_free_bytes: Some(28 * GB),
        }
    }

    #[test]
    fn hours_of_room_at_the_rate() {
        // 1 MB/s is 3.6 GB an hour: 36 GB left under max_size is 10 h,
        // 72 GB above min_free 20 h, so the budget says 10 h; the free
        // 100 GB last 27.8 h.
        let f = Forecast::of(inputs());
        assert_eq!(f.write_bytes_per_second, Some(1_000_000.0));
        assert_eq!(f.budget_hours, Some(10.0));
        let fs = f.filesystem_hours.unwrap();
        assert!((fs - 100.0 / 3.6).abs() < 1e-9, "{fs}");
    }

    #[test]
    fn min_free_when_it_comes_first_or_alone() {
        let f = Forecast::of(Inputs {
            max_size_bytes: Some(500 * GB),
            ..inputs()
        });
        assert_eq!(f.budget_hours, Some(20.0));
        let f = Forecast::of(Inputs {
            max_size_bytes: None,
            ..inputs()
        });
        assert_eq!(f.budget_hours, Some(20.0));
    }

    #[test]
    fn a_budget_already_reached_is_zero_hours() {
        let f = Forecast::of(Inputs {
            recordings_bytes: 50 * GB,
            ..inputs()
        });
        assert_eq!(f.budget_hours, Some(0.0));
        let f = Forecast::of(Inputs {
            free_bytes: Some(GB),
            ..inputs()
        });
        assert_eq!(f.budget_hours, Some(0.0));
    }

    #[test]
    fn no_rate_no_forecast() {
        for rate in [None, Some(0.0), Some(f64::NAN), Some(-1.0)] {
            let f = Forecast::of(Inputs { rate, ..inputs() });
            assert_eq!(f, Forecast::default(), "{rate:?}");
        }
    }

    #[test]
    fn an_unreadable_file_system_leaves_max_size_alone() {
        let f = Forecast::of(Inputs {
            free_bytes: None,
            min_free_bytes: None,
            ..inputs()
        });
        assert_eq!(f.budget_hours, Some(10.0));
        assert_eq!(f.filesystem_hours, None);
        let f = Forecast::of(Inputs {
            free_bytes: None,
            min_free_bytes: None,
            max_size_bytes: None,
            ..inputs()
        });
        assert_eq!(f.budget_hours, None);
    }
}
