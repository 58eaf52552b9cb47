//! Durations as people and MediaMTX write them: `300s`, `1.5s`, `500ms`,
//! `30m`, `1h`, `7d`, or a combination such as `1h30m`. A bare number is
//! refused: a unit is required so that `300` is never read as milliseconds by
//! mistake.
//!
//! One exact representation: a duration is a whole number of milliseconds.
//! The text is read with exact decimal arithmetic (no floating point), and a
//! value that is not a whole number of milliseconds (`0.4ms`, `1.0005s`) is
//! refused rather than rounded, so that nothing silently becomes `0s`.
//! [`format_mediamtx`] writes a form that both this parser and MediaMTX (Go's
//! `time.ParseDuration`) read back as exactly the same value.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The units accepted, in nanoseconds. `d` is MediaMTX's own extension.
const UNITS: [(&str, u128); 9] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// The longest duration accepted: a year.
pub(crate) const MAX: Duration = Duration::from_secs(365 * 86400);

/// Parses a duration with units (`ms`, `s`, `m`, `h`, `d`; also `us`, `ns`);
/// decimals allowed. The result must be a whole number of milliseconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let expected = "expected a number with a unit (ms, s, m, h, d), e.g. 500ms, 1.5s, 30m, 1h, 7d, or a sum such as 1h30m";
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("empty duration: {expected}"));
    }
    if s.len() > 64 {
        return Err(format!("duration {text:?} is too long: {expected}"));
    }
    let max_ns = MAX.as_nanos();
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("duration {text:?}: {expected}"));
        }
        let (num, tail) = rest.split_at(num_len);
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(format!(
                "duration {text:?}: {num:?} is not a number; {expected}"
            ));
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale = match UNITS.iter().find(|(name, _)| *name == unit) {
            Some(&(_, scale)) => scale,
            None if unit.is_empty() => {
                return Err(format!("duration {text:?} has no unit: {expected}"))
            }
            None => {
                return Err(format!(
                    "duration {text:?} has unknown unit {unit:?}: {expected}"
                ))
            }
        };
        // Exact: integer part times the unit, plus the fraction's digits
        // scaled down, with any remainder refused below.
        let out_of_range = || format!("duration {text:?} is out of range (at most a year, 365d)");
        let mut ns: u128 = 0;
        for d in int.bytes() {
            ns = ns
                .checked_mul(10)
                .and_then(|n| n.checked_add(u128::from(d - b'0')))
                .filter(|&n| n <= max_ns)
                .ok_or_else(out_of_range)?;
        }
        ns = ns.checked_mul(scale).ok_or_else(out_of_range)?;
        let mut place = scale;
        for d in frac.bytes() {
            let digit = u128::from(d - b'0');
            if !place.is_multiple_of(10) {
                if digit != 0 {
                    return Err(not_whole_ms(text));
                }
                continue;
            }
            place /= 10;
            ns += digit * place;
        }
        total = total.checked_add(ns).ok_or_else(out_of_range)?;
        if total > max_ns {
            return Err(out_of_range());
        }
        rest = next;
    }
    if !total.is_multiple_of(1_000_000) {
        return Err(not_whole_ms(text));
    }
    Ok(Duration::from_nanos(total as u64))
}

fn not_whole_ms(text: &str) -> String {
    format!(
        "duration {text:?} is not a whole number of milliseconds: durations are kept in milliseconds, and a value is refused rather than rounded (give e.g. 1ms, 1500ms, 1.5s)"
    )
}

/// Formats a duration exactly, in a form this module's [`parse`] and
/// MediaMTX (Go's `time.ParseDuration`) both read back as the same value:
/// `300s`, `1500ms` (`Nns` for a value that is not whole milliseconds, which
/// [`parse`] never gives).
pub fn format_mediamtx(d: Duration) -> String {
    let ns = d.as_nanos();
    if !ns.is_multiple_of(1_000_000) {
        return format!("{ns}ns");
    }
    let ms = ns / 1_000_000;
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A duration that (de)serializes as text with units, for the JSON config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn secs(s: u64) -> Self {
        Dur(Duration::from_secs(s))
    }
    pub(crate) const fn millis(ms: u64) -> Self {
        Dur(Duration::from_millis(ms))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_mediamtx(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map(Dur).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(Dur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("300s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse("7d").unwrap(), Duration::from_secs(7 * 86400));
        assert!(parse("1500us").is_err());
        assert_eq!(parse("2000us").unwrap(), Duration::from_millis(2));
        assert_eq!(parse("1000000ns").unwrap(), Duration::from_millis(1));
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("0.001s").unwrap(), Duration::from_millis(1));
        assert_eq!(parse("0.1h").unwrap(), Duration::from_secs(360));
        assert_eq!(parse("1.0000000s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse("365d").unwrap(), MAX);
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "", "300", "s", "5x", "1..2s", "-1s", "1e9h", "9999999h", ".s", "366d", "1y",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_what_is_not_whole_milliseconds() {
        for bad in [
            "0.4ms",
            "0.5ms",
            "1.0005s",
            "999999ns",
            "1ns",
            "1.5us",
            "0.0000001h",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("whole number of milliseconds"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_for_mediamtx() {
        assert_eq!(format_mediamtx(Duration::from_secs(300)), "300s");
        assert_eq!(format_mediamtx(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_mediamtx(Duration::from_nanos(400_000)), "400000ns");
    }

    #[test]
    fn formatting_round_trips_exactly() {
        for ms in [
            0u64,
            1,
            999,
            1000,
            1001,
            59_999,
            60_000,
            3_600_000,
            86_400_000,
            31_536_000_000,
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse(&format_mediamtx(d)).unwrap(), d, "{ms}ms");
        }
    }
}
