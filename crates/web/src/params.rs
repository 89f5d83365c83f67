//! Request parameters as Prometheus' HTTP API reads them: the query string plus a form-encoded
//! POST body, times (Unix seconds or RFC 3339), durations (seconds or `5m`), and the prelude every
//! endpoint over local data shares (off in agent mode, storage ready).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, Method};
use axum::response::Response;
use vitals_model::PromDuration;

use crate::{api_error, Storage, WebState};

/// The parameters of a request in Go's `Request.Form` order: a form-encoded POST body's first,
/// then the query string's (so a value in the body wins, as in Prometheus).
pub(crate) fn form_pairs(
    query: Option<&str>,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<(String, String)> {
    let owned = |(k, v): (Cow<str>, Cow<str>)| (k.into_owned(), v.into_owned());
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let mut pairs: Vec<(String, String)> = Vec::new();
    if method == Method::POST && form {
        pairs.extend(form_urlencoded::parse(body).map(owned));
    }
    pairs.extend(form_urlencoded::parse(query.unwrap_or("").as_bytes()).map(owned));
    pairs
}

/// The first value of parameter `name`, as Go's `Request.FormValue` (empty when absent).
pub(crate) fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// Endpoints over local data answer 422 in agent mode, as Prometheus' agent does.
pub(crate) fn refuse_in_agent_mode(st: &WebState) -> Result<(), Box<Response>> {
    if st.agent {
        return Err(Box::new(api_error(
            422,
            "execution",
            "unavailable with --agent: vitals keeps no local history to query",
        )));
    }
    Ok(())
}

/// The storage once the WAL is replayed; 503 `unavailable` before.
pub(crate) fn local_storage(st: &WebState) -> Result<Arc<dyn Storage>, Box<Response>> {
    st.storage().ok_or_else(|| Box::new(api_error(503, "unavailable", "storage is not ready yet")))
}

/// A time as Prometheus accepts it: Unix seconds (with fraction) or RFC 3339; in milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() {
            return Ok((secs * 1000.0).round().clamp(i64::MIN as f64, i64::MAX as f64) as i64);
        }
    }
    parse_rfc3339(s).ok_or_else(|| format!("cannot parse {s:?} to a valid timestamp"))
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        let digits = s.get(start..i)?;
        let padded = format!("{:0<3}", &digits[..digits.len().min(3)]);
        frac_ms = padded.parse().ok()?;
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if b.len() == i + 6 && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *c == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = vitals_model::civil::days_from_civil(y, mo as u32, d as u32);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60) * 1000) + frac_ms)
}

/// A duration as Prometheus' API accepts it: seconds as a float (`15`, `0.5`) or `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let nanos = secs * 1e9;
        if !nanos.is_finite() || nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
            return Err(format!("cannot parse {s:?} to a valid duration. It overflows int64"));
        }
        // Negative durations exist for the step check to refuse; they are clamped to zero here.
        return Ok(Duration::from_nanos(nanos.max(0.0) as u64));
    }
    PromDuration::parse(s).map(|d| d.get()).map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("15").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("1e30").unwrap_err().contains("overflows"));
        for bad in ["", "5x", "m5", "1s1m"] {
            assert_eq!(parse_duration(bad).unwrap_err(), format!("cannot parse {bad:?} to a valid duration"));
        }
    }

    #[test]
    fn times_parse_like_prometheus() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time("1700000000.123").unwrap(), 1_700_000_000_123);
        assert_eq!(parse_time("2026-11-23T14:05:00.123Z").unwrap(), 1_795_442_700_123);
        assert_eq!(parse_time("2026-11-23T15:05:00+01:00").unwrap(), 1_795_442_700_000);
        assert_eq!(parse_time("1970-01-01T00:00:00Z").unwrap(), 0);
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-23T14:05:00", "NaN"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
