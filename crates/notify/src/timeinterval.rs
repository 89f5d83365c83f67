//! Alertmanager's time intervals: `times`, `weekdays`, `days_of_month`, `months`, `years` and
//! `location`. Each list empty means "any"; an interval contains a moment when every list does.
//! Locations: `UTC` (the default) and `Local` are supported; IANA zone names are rejected.

use std::time::SystemTime;

use chrono::{DateTime, Datelike, FixedOffset, Local, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// One entry of a named interval's `time_intervals:` list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalSpec {
    /// Times of day, `HH:MM` to `HH:MM` (end exclusive; `24:00` allowed as an end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<TimeRange>,
    /// Days of the week or ranges of them: `monday`, `monday:friday`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<RangeText>,
    /// Days of the month or ranges; negative counts from the month's end: `1:5`, `-3:-1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days_of_month: Vec<RangeText>,
    /// Months by name or number, or ranges: `january:march`, `7`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub months: Vec<RangeText>,
    /// Years or ranges: `2024:2026`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub years: Vec<RangeText>,
    /// `UTC` (default) or `Local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// `start_time`/`end_time` pair.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// Start, `HH:MM`, inclusive.
    pub start_time: String,
    /// End, `HH:MM`, exclusive.
    pub end_time: String,
}

/// A single value or `a:b` range, written as a string or a number in YAML.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct RangeText(pub String);

impl<'de> Deserialize<'de> for RangeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
        }
        Ok(RangeText(match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::I(i) => i.to_string(),
        }))
    }
}

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn parse_minutes(s: &str) -> Result<u32, String> {
    let (h, m) = s.split_once(':').ok_or_else(|| format!("invalid time {s:?}"))?;
    let (h, m): (u32, u32) =
        (h.parse().map_err(|_| format!("invalid time {s:?}"))?, m.parse().map_err(|_| format!("invalid time {s:?}"))?);
    if m > 59 || h > 24 || (h == 24 && m != 0) || m.to_string().len() > 2 {
        return Err(format!("invalid time {s:?}"));
    }
    Ok(h * 60 + m)
}

fn parse_range(s: &str, one: impl Fn(&str) -> Result<i64, String>) -> Result<(i64, i64), String> {
    let s = s.trim();
    match s.split_once(':') {
        Some((a, b)) => {
            let (a, b) = (one(a.trim())?, one(b.trim())?);
            Ok((a, b))
        }
        None => {
            let a = one(s)?;
            Ok((a, a))
        }
    }
}

fn named(names: &'static [&'static str], base: i64) -> impl Fn(&str) -> Result<i64, String> {
    move |s: &str| {
        let l = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == l) {
            return Ok(i as i64 + base);
        }
        if base == 1 {
            if let Ok(n) = l.parse::<i64>() {
                if (1..=12).contains(&n) {
                    return Ok(n);
                }
            }
        }
        Err(format!("{s:?} is not a valid value"))
    }
}

fn number(s: &str) -> Result<i64, String> {
    s.parse().map_err(|_| format!("{s:?} is not a number"))
}

impl TimeIntervalSpec {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), String> {
        for t in &self.times {
            let (a, b) = (parse_minutes(&t.start_time)?, parse_minutes(&t.end_time)?);
            if a >= b {
                return Err(format!("start time {:?} must be before end time {:?}", t.start_time, t.end_time));
            }
        }
        for w in &self.weekdays {
            let (a, b) = parse_range(&w.0, named(&WEEKDAYS, 0))?;
            if a > b {
                return Err(format!("start day cannot be before end day in {:?}", w.0));
            }
        }
        for d in &self.days_of_month {
            let (a, b) = parse_range(&d.0, number)?;
            for v in [a, b] {
                if v == 0 || !(-31..=31).contains(&v) {
                    return Err(format!("{v} is not a valid day of the month"));
                }
            }
            if a.signum() == b.signum() && a > b {
                return Err(format!("end day must be after start day in {:?}", d.0));
            }
        }
        for m in &self.months {
            let (a, b) = parse_range(&m.0, named(&MONTHS, 1))?;
            if a > b {
                return Err(format!("end month must be after start month in {:?}", m.0));
            }
        }
        for y in &self.years {
            let (a, b) = parse_range(&y.0, number)?;
            if a > b {
                return Err(format!("end year must be after start year in {:?}", y.0));
            }
        }
        match self.location.as_deref() {
            None | Some("UTC") | Some("Local") => Ok(()),
            Some(other) => Err(format!("location {other:?} is not supported (use UTC or Local)")),
        }
    }

    /// True when the moment `t` lies in this interval (invalid fields never match).
    pub fn contains(&self, t: SystemTime) -> bool {
        let utc: DateTime<Utc> = t.into();
        let dt: DateTime<FixedOffset> = match self.location.as_deref() {
            Some("Local") => DateTime::<Local>::from(t).fixed_offset(),
            _ => utc.fixed_offset(),
        };
        let minute = dt.hour() * 60 + dt.minute();
        let times = self.times.is_empty()
            || self.times.iter().any(|r| match (parse_minutes(&r.start_time), parse_minutes(&r.end_time)) {
                (Ok(a), Ok(b)) => a <= minute && minute < b,
                _ => false,
            });
        let wd = dt.weekday().num_days_from_sunday() as i64;
        let weekdays =
            self.weekdays.is_empty() || in_any(&self.weekdays, named(&WEEKDAYS, 0), |a, b| a <= wd && wd <= b);
        let days_in_month = days_in_month(dt.year(), dt.month());
        let day = dt.day() as i64;
        let dom = self.days_of_month.is_empty()
            || in_any(&self.days_of_month, number, |a, b| {
                let fix = |v: i64| if v < 0 { days_in_month + v + 1 } else { v };
                let (a, b) = (fix(a).max(1), fix(b).min(days_in_month));
                a <= day && day <= b
            });
        let month = dt.month() as i64;
        let months = self.months.is_empty() || in_any(&self.months, named(&MONTHS, 1), |a, b| a <= month && month <= b);
        let year = dt.year() as i64;
        let years = self.years.is_empty() || in_any(&self.years, number, |a, b| a <= year && year <= b);
        times && weekdays && dom && months && years
    }
}

fn in_any(list: &[RangeText], one: impl Fn(&str) -> Result<i64, String>, test: impl Fn(i64, i64) -> bool) -> bool {
    list.iter().any(|r| parse_range(&r.0, &one).is_ok_and(|(a, b)| test(a, b)))
}

fn days_in_month(year: i32, month: u32) -> i64 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    let first_next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid date");
    first_next.pred_opt().expect("valid date").day() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        crate::time::parse(s).unwrap()
    }

    #[test]
    fn weekday_hours_and_negative_days() {
        let spec: TimeIntervalSpec =
            serde_norway::from_str("times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']\n")
                .unwrap();
        spec.validate().unwrap();
        assert!(spec.contains(at("2024-05-06T10:00:00Z"))); // Monday
        assert!(!spec.contains(at("2024-05-06T17:00:00Z")));
        assert!(!spec.contains(at("2024-05-05T10:00:00Z"))); // Sunday
        let last: TimeIntervalSpec =
            serde_norway::from_str("days_of_month: ['-1']\nmonths: [february]\nyears: [2024]\n").unwrap();
        last.validate().unwrap();
        assert!(last.contains(at("2024-02-29T00:00:00Z")));
        assert!(!last.contains(at("2024-02-28T00:00:00Z")));
    }

    #[test]
    fn invalid_fields_are_rejected() {
        for y in [
            "times: [{start_time: '10:00', end_time: '09:00'}]",
            "weekdays: [funday]",
            "days_of_month: [0]",
            "location: Europe/Berlin",
        ] {
            let spec: TimeIntervalSpec = serde_norway::from_str(y).unwrap();
            assert!(spec.validate().is_err(), "{y}");
        }
    }
}
