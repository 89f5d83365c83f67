//! Timestamps as Go's `encoding/json` writes `time.Time` (RFC 3339, nanoseconds with trailing zeros
//! trimmed, `Z` for UTC), so payloads are byte-identical to Alertmanager's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

/// Go's zero `time.Time` as JSON: what Alertmanager writes for `endsAt` of a firing alert.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Formats a time as Go's `time.RFC3339Nano` in UTC.
pub fn format(t: SystemTime) -> String {
    let dt: DateTime<Utc> = t.into();
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = dt.timestamp_subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Parses an RFC 3339 timestamp (any offset); Go's zero time and times before 1970 give `None`.
pub fn parse(s: &str) -> Option<SystemTime> {
    let dt = DateTime::parse_from_rfc3339(s).ok()?;
    let nanos = dt.timestamp_nanos_opt()?;
    if nanos < 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_nanos(nanos as u64))
}

/// Serde helpers for a `SystemTime` field written as RFC 3339.
pub mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the time.
    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*t))
    }

    /// Reads the time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_rfc3339nano() {
        let t = UNIX_EPOCH + Duration::from_millis(1_600_000_000_500);
        assert_eq!(format(t), "2020-09-13T12:26:40.5Z");
        assert_eq!(format(UNIX_EPOCH + Duration::from_secs(1_600_000_000)), "2020-09-13T12:26:40Z");
        assert_eq!(parse("2020-09-13T12:26:40.5Z"), Some(t));
        assert_eq!(parse(ZERO_TIME), None);
    }
}
