//! Durations as people and MediaMTX write them: `300s`, `1.5s`, `500ms`,
//! `30m`, `1h`, or a combination such as `1h30m`. A bare number is refused:
//! a unit is required so that `300` is never read as milliseconds by mistake.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses a duration with units (`ms`, `s`, `m`, `h`); decimals allowed.
pub fn parse(text: &str) -> Result<Duration, String> {
    let expected = "expected a number with a unit, e.g. 500ms, 1.5s, 30m, 1h";
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("empty duration: {expected}"));
    }
    if s.len() > 64 {
        return Err(format!("duration {text:?} is too long: {expected}"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("duration {text:?}: {expected}"));
        }
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("duration {text:?}: {num:?} is not a number; {expected}"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("duration {text:?} has no unit: {expected}")),
            other => {
                return Err(format!(
                    "duration {text:?} has unknown unit {other:?}: {expected}"
                ))
            }
        };
        total += value * scale;
        rest = next;
    }
    if !total.is_finite() || total > 365.0 * 86400.0 {
        return Err(format!(
            "duration {text:?} is out of range (at most a year)"
        ));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way MediaMTX's config reads it (`300s`, `1500ms`).
pub fn format_mediamtx(d: Duration) -> String {
    let ms = d.as_millis();
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
    pub const fn millis(ms: u64) -> Self {
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
    }

    #[test]
    fn refuses_nonsense() {
        for bad in ["", "300", "s", "5x", "1..2s", "-1s", "1e9h", "9999999h"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formats_for_mediamtx() {
        assert_eq!(format_mediamtx(Duration::from_secs(300)), "300s");
        assert_eq!(format_mediamtx(Duration::from_millis(1500)), "1500ms");
    }
}
