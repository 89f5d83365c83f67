//! UTC times as Go's `time.Time` prints and formats them (`String`, `Format` with reference layouts).

use std::fmt;
use std::fmt::Write as _;
use vitals_model::civil::{civil_from_days, days_from_civil};

/// An instant in UTC: seconds since the Unix epoch plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GoTime {
    pub(super) secs: i64,
    pub(super) nanos: u32,
}

/// Calendar fields of a [`GoTime`].
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Day of the year, 1-based.
    yday: u32,
    /// 0 = Sunday.
    weekday: u32,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

impl GoTime {
    /// The instant `ms` milliseconds after the epoch.
    pub(super) fn from_unix_millis(ms: i64) -> GoTime {
        GoTime { secs: ms.div_euclid(1000), nanos: (ms.rem_euclid(1000) * 1_000_000) as u32 }
    }

    /// Milliseconds since the epoch.
    pub(super) fn unix_millis(&self) -> i64 {
        self.secs.saturating_mul(1000).saturating_add(i64::from(self.nanos / 1_000_000))
    }

    fn civil(&self) -> Civil {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            yday: (days - days_from_civil(year, 1, 1) + 1) as u32,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    /// Calendar fields as Go's accessor methods return them, by method name.
    pub(super) fn field(&self, method: &str) -> Option<FieldValue> {
        let c = self.civil();
        Some(match method {
            "Year" => FieldValue::Int(c.year),
            "Month" => FieldValue::Name(MONTHS[c.month as usize - 1]),
            "Day" => FieldValue::Int(c.day.into()),
            "Hour" => FieldValue::Int(c.hour.into()),
            "Minute" => FieldValue::Int(c.minute.into()),
            "Second" => FieldValue::Int(c.second.into()),
            "Nanosecond" => FieldValue::Int(self.nanos.into()),
            "YearDay" => FieldValue::Int(c.yday.into()),
            "Weekday" => FieldValue::Name(DAYS[c.weekday as usize]),
            _ => return None,
        })
    }

    /// Formats with a Go reference layout such as `2006-01-02T15:04:05Z07:00`.
    pub(super) fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, std, suffix) = next_std_chunk(rest);
            out.push_str(prefix);
            let Some(std) = std else { break };
            self.write_std(&mut out, &c, std);
            rest = suffix;
        }
        out
    }

    fn write_std(&self, out: &mut String, c: &Civil, std: Std) {
        let hour12 = match c.hour % 12 {
            0 => 12,
            h => h,
        };
        let _ = match std {
            Std::LongYear => write_year(out, c.year),
            Std::Year => write!(out, "{:02}", c.year.rem_euclid(100)),
            Std::LongMonth => write!(out, "{}", MONTHS[c.month as usize - 1]),
            Std::Month => write!(out, "{}", &MONTHS[c.month as usize - 1][..3]),
            Std::NumMonth => write!(out, "{}", c.month),
            Std::ZeroMonth => write!(out, "{:02}", c.month),
            Std::LongWeekDay => write!(out, "{}", DAYS[c.weekday as usize]),
            Std::WeekDay => write!(out, "{}", &DAYS[c.weekday as usize][..3]),
            Std::Day => write!(out, "{}", c.day),
            Std::UnderDay => write!(out, "{:>2}", c.day),
            Std::ZeroDay => write!(out, "{:02}", c.day),
            Std::UnderYearDay => write!(out, "{:>3}", c.yday),
            Std::ZeroYearDay => write!(out, "{:03}", c.yday),
            Std::Hour => write!(out, "{:02}", c.hour),
            Std::Hour12 => write!(out, "{hour12}"),
            Std::ZeroHour12 => write!(out, "{hour12:02}"),
            Std::Minute => write!(out, "{}", c.minute),
            Std::ZeroMinute => write!(out, "{:02}", c.minute),
            Std::Second => write!(out, "{}", c.second),
            Std::ZeroSecond => write!(out, "{:02}", c.second),
            Std::PM => write!(out, "{}", if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => write!(out, "{}", if c.hour >= 12 { "pm" } else { "am" }),
            Std::Tz => write!(out, "UTC"),
            Std::Iso8601 => write!(out, "Z"),
            Std::NumTz(text) => write!(out, "{}", text.replace("-07", "+00")),
            Std::Frac { sep, digits, trim } => {
                let all = format!("{:09}", self.nanos);
                let mut n = digits.min(9);
                if trim {
                    while n > 0 && all.as_bytes()[n - 1] == b'0' {
                        n -= 1;
                    }
                    if n == 0 {
                        return;
                    }
                }
                write!(out, "{sep}{}", &all[..n])
            }
        };
    }
}

/// Result of a calendar accessor: a number, or a name (`Month` and `Weekday` print as names).
pub(super) enum FieldValue {
    Int(i64),
    Name(&'static str),
}

impl fmt::Display for GoTime {
    /// As Go's `Time.String` for a UTC time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format("2006-01-02 15:04:05.999999999 -0700 MST"))
    }
}

fn write_year(out: &mut String, year: i64) -> fmt::Result {
    if year < 0 {
        write!(out, "-{:04}", -year)
    } else {
        write!(out, "{year:04}")
    }
}

/// A layout element.
#[derive(Debug, Clone, Copy)]
enum Std {
    LongYear,
    Year,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    PM,
    Pm,
    Tz,
    /// `Z07:00` and friends: `Z` in UTC.
    Iso8601,
    /// `-07:00` and friends, with the layout text to turn into a zero offset.
    NumTz(&'static str),
    Frac {
        sep: char,
        digits: usize,
        trim: bool,
    },
}

/// Splits `layout` at its first layout element, as Go's `nextStdChunk`.
fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    let lower_after = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    for i in 0..b.len() {
        let found: Option<(Std, usize, usize)> = match b[i] {
            b'J' if at(i, "January") => Some((Std::LongMonth, i, 7)),
            b'J' if at(i, "Jan") && !lower_after(i + 3) => Some((Std::Month, i, 3)),
            b'M' if at(i, "Monday") => Some((Std::LongWeekDay, i, 6)),
            b'M' if at(i, "Mon") && !lower_after(i + 3) => Some((Std::WeekDay, i, 3)),
            b'M' if at(i, "MST") => Some((Std::Tz, i, 3)),
            b'0' if b.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => {
                let std = [Std::ZeroMonth, Std::ZeroDay, Std::ZeroHour12, Std::ZeroMinute, Std::ZeroSecond, Std::Year]
                    [(b[i + 1] - b'1') as usize];
                Some((std, i, 2))
            }
            b'0' if at(i, "002") => Some((Std::ZeroYearDay, i, 3)),
            b'1' if at(i, "15") => Some((Std::Hour, i, 2)),
            b'1' => Some((Std::NumMonth, i, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, i, 4)),
            b'2' => Some((Std::Day, i, 1)),
            b'_' if at(i, "_2006") => Some((Std::LongYear, i + 1, 4)),
            b'_' if at(i, "_2") => Some((Std::UnderDay, i, 2)),
            b'_' if at(i, "__2") => Some((Std::UnderYearDay, i, 3)),
            b'3' => Some((Std::Hour12, i, 1)),
            b'4' => Some((Std::Minute, i, 1)),
            b'5' => Some((Std::Second, i, 1)),
            b'P' if at(i, "PM") => Some((Std::PM, i, 2)),
            b'p' if at(i, "pm") => Some((Std::Pm, i, 2)),
            b'-' => ["-070000", "-07:00:00", "-0700", "-07:00", "-07"]
                .into_iter()
                .find(|s| at(i, s))
                .map(|s| (Std::NumTz(s), i, s.len())),
            b'Z' => ["Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07"]
                .into_iter()
                .find(|s| at(i, s))
                .map(|s| (Std::Iso8601, i, s.len())),
            c @ (b'.' | b',') if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    Some((Std::Frac { sep: c as char, digits: j - i - 1, trim: ch == b'9' }, i, j - i))
                }
            }
            _ => None,
        };
        if let Some((std, start, len)) = found {
            return (&layout[..start], Some(std), &layout[start + len..]);
        }
    }
    (layout, None, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_like_go() {
        assert_eq!(GoTime::from_unix_millis(0).to_string(), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(GoTime::from_unix_millis(1_435_065_584_128).to_string(), "2015-06-23 13:19:44.128 +0000 UTC");
        assert_eq!(GoTime::from_unix_millis(-1500).to_string(), "1969-12-31 23:59:58.5 +0000 UTC");
        assert_eq!(GoTime::from_unix_millis(951_782_400_000).to_string(), "2000-02-29 00:00:00 +0000 UTC");
    }

    #[test]
    fn layouts() {
        let t = GoTime::from_unix_millis(1_435_065_584_128); // Tuesday 2015-06-23 13:19:44.128
        assert_eq!(t.format("2006-01-02T15:04:05Z07:00"), "2015-06-23T13:19:44Z");
        assert_eq!(t.format("Mon Jan _2 3:04PM 2006"), "Tue Jun 23 1:19PM 2015");
        assert_eq!(
            t.format("Monday, January 2 06 .000 .999999 ,00 -07:00 MST"),
            "Tuesday, June 23 15 .128 .128 ,12 +00:00 UTC"
        );
        assert_eq!(t.format("002 __2 pm Z0700 -0700"), "174 174 pm Z +0000");
        assert_eq!(t.format("literal"), "literal");
        assert!(matches!(t.field("Weekday"), Some(FieldValue::Name("Tuesday"))));
        assert!(matches!(t.field("Year"), Some(FieldValue::Int(2015))));
    }
}
