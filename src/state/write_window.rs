//! A path's recent write rate, for the disk forecast of `hook status`: the
//! bytes of the segments completed in each of the last
//! [`WINDOW_HOURS`] hours, kept in the state by `hook segment-complete`.
//! A few numbers per path however many segments were recorded, so status
//! never reads a ledger to know the rate.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How far back the write rate looks, in hours (the current hour included).
pub(crate) const WINDOW_HOURS: i64 = 24;

/// The shortest time a rate is taken over, in seconds: a first segment of
/// a second's duration does not make a rate of its size per second.
pub(crate) const MIN_SPAN_SECONDS: f64 = 60.0;

/// Bytes written per hour lately (see the module).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteWindow {
    /// `[hour, bytes]`, oldest first: the hour (Unix time / 3600) in which
    /// segments completed, and the sum of their sizes. Only hours inside
    /// the window are kept.
    pub hours: Vec<(i64, u64)>,
    /// Start of the earliest segment counted since the window was last
    /// empty (its completion minus its duration): while recording began
    /// less than a window ago, the rate is over the time since then.
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
}

fn hour_of(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(3600)
}

impl WriteWindow {
    /// Nothing counted yet (left out of the state file).
    pub(crate) fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.since.is_none()
    }

    /// Counts a segment of `bytes` and `duration` seconds completed at `now`.
    pub fn add(&mut self, now: OffsetDateTime, bytes: u64, duration: f64) {
        let hour = hour_of(now);
        self.expire(hour);
        if self.hours.is_empty() {
            let secs = if duration.is_finite() {
                duration.clamp(0.0, 86400.0 * 365.0)
            } else {
                0.0
            };
            self.since = Some(now - time::Duration::seconds_f64(secs));
        }
        match self.hours.last_mut() {
            Some((h, b)) if *h == hour => *b = b.saturating_add(bytes),
            _ => self.hours.push((hour, bytes)),
        }
    }

    /// Forgets the hours that left the window; also hours after `hour`
    /// (the clock was set back), which would otherwise count for a day.
    fn expire(&mut self, hour: i64) {
        self.hours
            .retain(|&(h, _)| h > hour - WINDOW_HOURS && h <= hour);
    }

    /// Bytes per second written over the window as of `now`: the bytes of
    /// the hours in the window over the time from the window's start (or
    /// `since`, when later) to `now`, at least [`MIN_SPAN_SECONDS`]. None
    /// when nothing was written in the window.
    pub(crate) fn rate(&self, now: OffsetDateTime) -> Option<f64> {
        let hour = hour_of(now);
        let first = hour - WINDOW_HOURS + 1;
        let bytes: u64 = self
            .hours
            .iter()
            .filter(|&&(h, _)| h >= first && h <= hour)
            .map(|&(_, b)| b)
            .sum();
        if bytes == 0 {
            return None;
        }
        let window_start = (first * 3600) as f64;
        let from = self.since.map_or(window_start, |s| {
            (s.unix_timestamp_nanos() as f64 / 1e9).max(window_start)
        });
        let now_secs = now.unix_timestamp_nanos() as f64 / 1e9;
        let span = (now_secs - from).max(MIN_SPAN_SECONDS);
        Some(bytes as f64 / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    const T0: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);

    #[test]
    fn nothing_written_is_no_rate() {
        assert_eq!(WriteWindow::default().rate(T0), None);
        let mut w = WriteWindow::default();
        w.add(T0, 0, 10.0);
        assert_eq!(w.rate(T0), None);
    }

    #[test]
    fn a_first_segment_is_its_own_rate() {
        // A 30-minute segment of 1.8 GB completed just now: 1 MB/s.
        let mut w = WriteWindow::default();
        w.add(T0 + Duration::minutes(30), 1_800_000_000, 1800.0);
        let r = w.rate(T0 + Duration::minutes(30)).unwrap();
        assert!((r - 1_000_000.0).abs() < 1.0, "{r}");
        // Half an hour later with nothing new, the rate halves.
        let r = w.rate(T0 + Duration::minutes(60)).unwrap();
        assert!((r - 500_000.0).abs() < 1.0, "{r}");
    }

    #[test]
    fn continuous_recording_over_more_than_a_window() {
        // 1 MB/s in 60 s segments for 30 hours: the rate stays 1 MB/s
        // within the bucket granularity, and only 24 hours are kept.
        let mut w = WriteWindow::default();
        let mut t = T0;
        for _ in 0..(30 * 60) {
            t += Duration::seconds(60);
            w.add(t, 60_000_000, 60.0);
        }
        assert_eq!(w.hours.len(), WINDOW_HOURS as usize);
        let r = w.rate(t).unwrap();
        assert!((r - 1_000_000.0).abs() < 1_000.0, "{r}");
    }

    #[test]
    fn an_idle_day_forgets_and_starts_over() {
        let mut w = WriteWindow::default();
        w.add(T0, 1_000_000, 10.0);
        let later = T0 + Duration::hours(WINDOW_HOURS + 1);
        assert_eq!(w.rate(later), None, "outside the window");
        w.add(later, 600_000, 600.0);
        assert_eq!(w.hours.len(), 1);
        assert_eq!(w.since, Some(later - Duration::seconds(600)));
        let r = w.rate(later).unwrap();
        assert!((r - 1000.0).abs() < 1e-6, "{r}");
    }

    #[test]
    fn intermittent_recording_is_averaged_over_the_window() {
        // Two 10-minute events, 12 hours apart, 600 MB each.
        let mut w = WriteWindow::default();
        w.add(T0 + Duration::minutes(10), 600_000_000, 600.0);
        let t = T0 + Duration::hours(12) + Duration::minutes(10);
        w.add(t, 600_000_000, 600.0);
        let r = w.rate(t).unwrap();
        // 1.2 GB over the 12 h since the first event began.
        let expected = 1_200_000_000.0 / (12.0 * 3600.0 + 600.0);
        assert!((r - expected).abs() < 1.0, "{r} vs {expected}");
    }

    #[test]
    fn a_tiny_first_segment_is_taken_over_a_minute() {
        let mut w = WriteWindow::default();
        w.add(T0, 6_000, 0.0);
        assert_eq!(w.rate(T0), Some(100.0));
    }

    #[test]
    fn the_clock_set_back_drops_future_hours() {
        let mut w = WriteWindow::default();
        w.add(T0 + Duration::hours(5), 1_000, 10.0);
        w.add(T0, 2_000, 10.0);
        assert_eq!(w.hours, vec![(hour_of(T0), 2_000)]);
    }

    #[test]
    fn serializes_compactly() {
        let mut w = WriteWindow::default();
        w.add(T0, 5, 1.0);
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(
            json,
            r#"{"hours":[[498754,5]],"since":"2026-11-24T09:59:59Z"}"#
        );
    }
}
