//! How the recording wing writes times and lengths in what it prints and
//! logs: RFC 3339, local time with UTC beside it, milliseconds as a
//! duration.

use time::{OffsetDateTime, UtcOffset};

/// `2026-11-24T03:43:19Z`.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// `2026-11-24 04:43:19 +01:00 (2026-11-24T03:43:19Z)`.
pub(crate) fn both_times(t: OffsetDateTime) -> String {
    let local = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    format!(
        "{} ({})",
        crate::status::human::local_time(t, local),
        rfc3339(t)
    )
}

/// `10s` for a number of milliseconds.
pub(crate) fn ms_text(ms: u64) -> String {
    crate::policy::duration::Dur::millis(ms).to_string()
}
