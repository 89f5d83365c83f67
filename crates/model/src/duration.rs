//! Durations written as Prometheus writes them in configuration files and API parameters:
//! `1y2w3d4h5m6s7ms`, units in that order, each at most once, or `0`.

use std::fmt;
use std::time::Duration;

/// A duration in Prometheus notation (`15s`, `1h30m`, `0`); serialises back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub Duration);

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid duration string: {0:?}")]
pub struct DurationError(pub String);

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

impl PromDuration {
    /// Parses `1h30m`-style text; units must appear in decreasing order and at most once.
    pub fn parse(s: &str) -> Result<Self, DurationError> {
        let err = || DurationError(s.to_string());
        if s == "0" {
            return Ok(PromDuration(Duration::ZERO));
        }
        if s.is_empty() {
            return Err(err());
        }
        let mut rest = s.as_bytes();
        let mut total: u64 = 0;
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return Err(err());
            }
            let n: u64 = std::str::from_utf8(&rest[..digits]).ok().and_then(|d| d.parse().ok()).ok_or_else(err)?;
            rest = &rest[digits..];
            let unit_len = if rest.starts_with(b"ms") { 2 } else { rest.iter().take(1).count() };
            let unit = std::str::from_utf8(&rest[..unit_len]).map_err(|_| err())?;
            let pos = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(err)?;
            if pos < next_unit {
                return Err(err());
            }
            next_unit = pos + 1;
            total = n.checked_mul(UNITS[pos].1).and_then(|v| total.checked_add(v)).ok_or_else(err)?;
            rest = &rest[unit_len..];
        }
        if total > i64::MAX as u64 {
            return Err(err());
        }
        Ok(PromDuration(Duration::from_millis(total)))
    }

    /// Milliseconds.
    pub fn as_millis(&self) -> i64 {
        self.0.as_millis() as i64
    }

    /// The standard-library duration.
    pub fn get(&self) -> Duration {
        self.0
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        PromDuration(Duration::from_secs(secs))
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis() as u64;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in UNITS {
            // Like Prometheus, weeks and years are only used when they divide the whole duration.
            if (unit == "y" || unit == "w") && !ms.is_multiple_of(size) {
                continue;
            }
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for PromDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PromDuration::parse(s)
    }
}

impl serde::Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PromDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_prometheus_durations() {
        for (text, ms, back) in [
            ("0", 0, "0s"),
            ("15s", 15_000, "15s"),
            ("1m30s", 90_000, "1m30s"),
            ("90s", 90_000, "1m30s"),
            ("1h", 3_600_000, "1h"),
            ("2w", 14 * 86_400_000, "2w"),
            ("1y", 365 * 86_400_000, "1y"),
            ("1d12h", 36 * 3_600_000, "1d12h"),
            ("500ms", 500, "500ms"),
            ("1s500ms", 1500, "1s500ms"),
        ] {
            let d = PromDuration::parse(text).unwrap();
            assert_eq!(d.as_millis(), ms, "{text}");
            assert_eq!(d.to_string(), back, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "s", "15", "1.5s", "1s1m", "1m1m", "-1s", "1x", "1h 2m", "99999999999999999999y"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad:?} should fail");
        }
    }
}
