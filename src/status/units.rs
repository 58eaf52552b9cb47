//! The units `hook status` writes for people: one-line texts, durations
//! (`12m05s`), sizes (`1.5 MiB`), local times and ages. Rendering layer,
//! shared by the table, the single-path view, the events and the storage
//! line.

use time::{OffsetDateTime, UtcOffset};

/// First line of `s`, at most `max` characters.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > max {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// `45s`, `12m05s`, `1h02m`, `3d04h`.
pub(crate) fn human_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    if secs < 10.0 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `512 B`, `1.5 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// `2026-11-24 04:43:19 +01:00`.
pub(crate) fn local_time(t: OffsetDateTime, local: UtcOffset) -> String {
    const LOCAL: &[time::format_description::FormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
    );
    t.to_offset(local)
        .format(LOCAL)
        .expect("a date, time and offset always format")
}

pub(crate) fn ago(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (now - t).as_seconds_f64();
    if secs >= 0.0 {
        format!("{} ago", human_duration(secs))
    } else {
        format!("in {}", human_duration(-secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_name_their_offset() {
        let t = time::macros::datetime!(2026-11-24 03:43:19.987 UTC);
        let at = |h, m| local_time(t, UtcOffset::from_hms(h, m, 0).unwrap());
        assert_eq!(at(1, 0), "2026-11-24 04:43:19 +01:00");
        assert_eq!(at(0, 0), "2026-11-24 03:43:19 +00:00");
        assert_eq!(at(-5, 0), "2026-11-23 22:43:19 -05:00");
        assert_eq!(at(0, -30), "2026-11-24 03:13:19 -00:30");
        assert_eq!(at(5, 45), "2026-11-24 09:28:19 +05:45");
    }
}
