//! Sizes as people write them: `500MB`, `50GiB`, `1.5GB`, `0`. Units: `B`,
//! `kB`/`MB`/`GB`/`TB` (powers of 1000) and `KiB`/`MiB`/`GiB`/`TiB` (powers
//! of 1024); `K`, `M`, `G`, `T` alone are refused as ambiguous. A bare number
//! other than `0` is refused too. `recording.min_free` also takes a share of
//! the file system, `5%`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const UNITS: [(&str, u64); 10] = [
    ("B", 1),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    // The common spelling of kB with a capital K.
    ("KB", 1_000),
];

const EXPECTED: &str = "expected a number with a unit (B, kB, MB, GB, TB for powers of 1000; KiB, MiB, GiB, TiB for powers of 1024), e.g. 500MB, 50GiB, 1.5GB";

/// Parses a size into bytes (a fraction of a byte is rounded down).
pub fn parse(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(0);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit = unit.trim_start();
    if num.is_empty() || num.len() > 24 {
        return Err(format!("size {text:?}: {EXPECTED}"));
    }
    let scale = match UNITS.iter().find(|(name, _)| *name == unit) {
        Some(&(_, scale)) => scale,
        None if unit.is_empty() => return Err(format!("size {text:?} has no unit: {EXPECTED}")),
        None => {
            return Err(format!(
                "size {text:?} has unknown unit {unit:?}: {EXPECTED}"
            ))
        }
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(format!(
            "size {text:?}: {num:?} is not a number; {EXPECTED}"
        ));
    }
    let too_big = || format!("size {text:?} is too large: at most 16 EiB");
    let mut bytes: u128 = 0;
    for d in int.bytes() {
        bytes = bytes * 10 + u128::from(d - b'0');
        if bytes > u128::from(u64::MAX) {
            return Err(too_big());
        }
    }
    bytes *= u128::from(scale);
    let mut part: u128 = 0;
    let mut denom: u128 = 1;
    for d in frac.bytes().take(18) {
        part = part * 10 + u128::from(d - b'0');
        denom *= 10;
    }
    bytes += part * u128::from(scale) / denom;
    u64::try_from(bytes).map_err(|_| too_big())
}

/// Formats bytes in the largest binary unit that divides them exactly
/// (`50GiB`, `1500B`), which [`parse`] reads back as the same value.
pub(crate) fn format(bytes: u64) -> String {
    if bytes == 0 {
        return "0".into();
    }
    for (name, scale) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes.is_multiple_of(scale) {
            return format!("{}{name}", bytes / scale);
        }
    }
    for (name, scale) in [
        ("TB", 1_000_000_000_000u64),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("kB", 1_000),
    ] {
        if bytes.is_multiple_of(scale) {
            return format!("{}{name}", bytes / scale);
        }
    }
    format!("{bytes}B")
}

/// A size in bytes that (de)serializes as text with a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0))
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(self.0))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map(Size).map_err(serde::de::Error::custom)
    }
}

/// Free space to keep: a size, or a share of the file system's size
/// (in hundredths of a percent, so that `0.5%` is exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinFree {
    Bytes(u64),
    Percent { hundredths: u32 },
}

/// The default `recording.min_free`: the smaller of 5% and 1 GiB.
pub(crate) const DEFAULT_MIN_FREE_PERCENT: u32 = 5;
pub(crate) const DEFAULT_MIN_FREE_BYTES: u64 = 1 << 30;

impl MinFree {
    /// The bytes to keep free on a file system of `total` bytes.
    pub(crate) fn bytes(self, total: u64) -> u64 {
        match self {
            MinFree::Bytes(b) => b,
            MinFree::Percent { hundredths } => {
                (u128::from(total) * u128::from(hundredths) / 10_000) as u64
            }
        }
    }

    pub fn parse(text: &str) -> Result<MinFree, String> {
        let Some(pct) = text.trim().strip_suffix('%') else {
            return parse(text)
                .map(MinFree::Bytes)
                .map_err(|e| format!("{e}; or a share of the file system such as 5%"));
        };
        let bad = || {
            format!("share {text:?}: expected a percentage from 0% to 100%, at most two decimals, e.g. 5% or 0.5%")
        };
        let (int, frac) = pct.trim().split_once('.').unwrap_or((pct.trim(), ""));
        if int.is_empty()
            || int.len() > 3
            || frac.len() > 2
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let mut hundredths: u32 = int.parse::<u32>().map_err(|_| bad())? * 100;
        let f = format!("{frac:0<2}");
        hundredths += f.parse::<u32>().map_err(|_| bad())?;
        if hundredths > 10_000 {
            return Err(bad());
        }
        Ok(MinFree::Percent { hundredths })
    }
}

impl fmt::Display for MinFree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MinFree::Bytes(b) => f.write_str(&format(b)),
            MinFree::Percent { hundredths } if hundredths % 100 == 0 => {
                write!(f, "{}%", hundredths / 100)
            }
            MinFree::Percent { hundredths } => {
                write!(f, "{}.{:02}%", hundredths / 100, hundredths % 100)
            }
        }
    }
}

impl Serialize for MinFree {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for MinFree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        MinFree::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_both_kinds_of_units() {
        for (text, bytes) in [
            ("0", 0),
            ("1B", 1),
            ("1kB", 1000),
            ("1KB", 1000),
            ("2MB", 2_000_000),
            ("1.5GB", 1_500_000_000),
            ("1KiB", 1024),
            ("50GiB", 50 << 30),
            ("0.5MiB", 512 << 10),
            ("2 TiB", 2 << 40),
        ] {
            assert_eq!(parse(text), Ok(bytes), "{text}");
            assert_eq!(parse(&format(bytes)), Ok(bytes), "{text}");
        }
        for bad in [
            "",
            "5",
            "5G",
            "5gb",
            "GiB",
            "1.2.3GB",
            "-1GB",
            "99999999999TiB",
            "5 GiBs",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse("5G").unwrap_err().contains("GiB"), "names the units");
    }

    #[test]
    fn min_free_as_size_or_share() {
        assert_eq!(MinFree::parse("2GiB"), Ok(MinFree::Bytes(2 << 30)));
        assert_eq!(
            MinFree::parse("5%"),
            Ok(MinFree::Percent { hundredths: 500 })
        );
        assert_eq!(
            MinFree::parse("0.5%"),
            Ok(MinFree::Percent { hundredths: 50 })
        );
        assert_eq!(MinFree::parse("5%").unwrap().bytes(1000), 50);
        assert_eq!(MinFree::parse("0.5%").unwrap().to_string(), "0.50%");
        for bad in ["101%", "%", "5.555%", "-5%", "x%", "5"] {
            assert!(MinFree::parse(bad).is_err(), "{bad:?}");
        }
    }
}
