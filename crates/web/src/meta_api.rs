//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values`: Prometheus' metadata
//! endpoints, GET or form-encoded POST, with `match[]`, `start`, `end` and `limit`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::json;
use vitals_model::{Labels, Matcher};

use crate::{api_error, WebState};

/// The parameters common to the three endpoints.
struct Params {
    matchers: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
    limit: usize,
}

/// The parameters, or the `bad_data` message explaining which one is wrong.
fn params(query: Option<&str>, method: &Method, headers: &HeaderMap, body: &[u8]) -> Result<Params, String> {
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if method == Method::POST && form {
        pairs.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    let mut p = Params { matchers: Vec::new(), start: i64::MIN, end: i64::MAX, limit: usize::MAX };
    for (k, v) in pairs {
        match k.as_str() {
            "match[]" => p
                .matchers
                .push(vitals_promql::parse_selector(&v).map_err(|e| format!("invalid parameter \"match[]\": {e}"))?),
            "start" => p.start = parse_time(&v).map_err(|e| format!("invalid parameter \"start\": {e}"))?,
            "end" => p.end = parse_time(&v).map_err(|e| format!("invalid parameter \"end\": {e}"))?,
            "limit" => {
                let n: i64 = v.parse().map_err(|_| format!("invalid parameter \"limit\": {v:?}"))?;
                if n > 0 {
                    p.limit = n as usize;
                }
            }
            _ => {}
        }
    }
    if p.end < p.start {
        return Err("invalid parameter \"end\": end timestamp must not be before start time".into());
    }
    Ok(p)
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
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y2, m2) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60) * 1000) + frac_ms)
}

/// What every metadata request starts with: not in agent mode, valid parameters, storage ready.
/// `Box` keeps the error side small.
fn prepare(
    st: &WebState,
    q: Option<&str>,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, Arc<dyn crate::Storage>), Box<Response>> {
    if st.agent {
        return Err(Box::new(api_error(
            422,
            "execution",
            "unavailable with --agent: vitals keeps no local history to query",
        )));
    }
    let p = params(q, method, headers, body).map_err(|msg| Box::new(api_error(400, "bad_data", msg)))?;
    let storage = st.storage().ok_or_else(|| Box::new(api_error(503, "unavailable", "storage is not ready yet")))?;
    Ok((p, storage))
}

/// `GET|POST /api/v1/series`.
pub(crate) async fn series(
    State(st): State<Arc<WebState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let (p, storage) = match prepare(&st, q.as_deref(), &method, &headers, &body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if p.matchers.is_empty() {
        return api_error(400, "bad_data", "no match[] parameter provided");
    }
    let res = tokio::task::spawn_blocking(move || -> Result<Vec<Labels>, String> {
        let q = storage.querier(p.start, p.end).map_err(|e| e.to_string())?;
        let mut all = BTreeSet::new();
        for m in &p.matchers {
            for s in q.select(m, None).map_err(|e| e.to_string())? {
                all.insert(s.labels().clone());
            }
        }
        Ok(all.into_iter().take(p.limit).collect())
    })
    .await;
    match res {
        Ok(Ok(list)) => {
            let data: Vec<serde_json::Map<String, serde_json::Value>> = list
                .iter()
                .map(|l| l.iter().map(|l| (l.name.to_string(), serde_json::Value::from(l.value.as_str()))).collect())
                .collect();
            Json(json!({"status": "success", "data": data})).into_response()
        }
        Ok(Err(e)) => api_error(422, "execution", e),
        Err(e) => api_error(500, "internal", e.to_string()),
    }
}

/// `GET|POST /api/v1/labels`.
pub(crate) async fn labels(
    State(st): State<Arc<WebState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    names_or_values(st, method, headers, q, body, None).await
}

/// `GET /api/v1/label/<name>/values`.
pub(crate) async fn label_values(
    State(st): State<Arc<WebState>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    names_or_values(st, method, headers, q, body, Some(name)).await
}

async fn names_or_values(
    st: Arc<WebState>,
    method: Method,
    headers: HeaderMap,
    q: Option<String>,
    body: Bytes,
    name: Option<String>,
) -> Response {
    let (p, storage) = match prepare(&st, q.as_deref(), &method, &headers, &body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let res = tokio::task::spawn_blocking(move || -> Result<Vec<String>, String> {
        let q = storage.querier(p.start, p.end).map_err(|e| e.to_string())?;
        let sets: Vec<&[Matcher]> =
            if p.matchers.is_empty() { vec![&[]] } else { p.matchers.iter().map(|m| m.as_slice()).collect() };
        let mut all = BTreeSet::new();
        for m in sets {
            let got = match &name {
                Some(n) => q.label_values(n, m),
                None => q.label_names(m),
            };
            all.extend(got.map_err(|e| e.to_string())?);
        }
        Ok(all.into_iter().take(p.limit).collect())
    })
    .await;
    match res {
        Ok(Ok(list)) => Json(json!({"status": "success", "data": list})).into_response(),
        Ok(Err(e)) => api_error(422, "execution", e),
        Err(e) => api_error(500, "internal", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
