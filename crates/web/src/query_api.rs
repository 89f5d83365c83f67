//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query` and `/api/v1/query_exemplars`:
//! Prometheus' query endpoints, GET or form-encoded POST, with Prometheus' parameter checks, error
//! messages and status codes. Queries run on the blocking pool; a client that goes away cancels
//! its query.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::json;
use vitals_promql::{QueryError, QueryOptions, QueryResult};

use crate::params::{form_pairs, form_value, local_storage, parse_duration, parse_time, refuse_in_agent_mode};
use crate::query_json::{self, Timings};
use crate::{api_error, Storage, WebState};

/// Prometheus' most points per series of a range query.
const MAX_POINTS: i64 = 11_000;

/// The parameters both query endpoints share.
struct Common {
    query: String,
    timeout: Option<Duration>,
    lookback_delta: Option<Duration>,
    stats: bool,
    limit: usize,
}

/// What to evaluate: at one time, or at every step of a range (all in ms).
#[derive(Clone, Copy)]
enum Span {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

/// `GET|POST /api/v1/query`: `query`, `time` (default now), `timeout`, `lookback_delta`, `stats`,
/// `limit`.
pub(crate) async fn query(
    State(st): State<Arc<WebState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    if let Err(r) = refuse_in_agent_mode(&st) {
        return *r;
    }
    let pairs = form_pairs(q.as_deref(), &method, &headers, &body);
    let parsed = (|| {
        let t = match form_value(&pairs, "time") {
            "" => unix_ms(SystemTime::now()),
            s => {
                parse_time(s).map_err(|e| format!("invalid parameter \"time\": Invalid time value for 'time': {e}"))?
            }
        };
        Ok::<_, String>((Span::Instant(t), common(&pairs)?))
    })();
    match parsed {
        Ok((span, c)) => evaluate(&st, span, c, received).await,
        Err(msg) => api_error(400, "bad_data", msg),
    }
}

/// `GET|POST /api/v1/query_range`: `query`, `start`, `end`, `step` (seconds or a duration),
/// `timeout`, `lookback_delta`, `stats`, `limit`.
pub(crate) async fn query_range(
    State(st): State<Arc<WebState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    if let Err(r) = refuse_in_agent_mode(&st) {
        return *r;
    }
    let pairs = form_pairs(q.as_deref(), &method, &headers, &body);
    match range_params(&pairs) {
        Ok((span, c)) => evaluate(&st, span, c, received).await,
        Err(msg) => api_error(400, "bad_data", msg),
    }
}

/// The checks of Prometheus' `queryRange`, in its order and with its messages.
fn range_params(pairs: &[(String, String)]) -> Result<(Span, Common), String> {
    let start = parse_time(form_value(pairs, "start")).map_err(|e| format!("invalid parameter \"start\": {e}"))?;
    let end = parse_time(form_value(pairs, "end")).map_err(|e| format!("invalid parameter \"end\": {e}"))?;
    if end < start {
        return Err("invalid parameter \"end\": end timestamp must not be before start time".into());
    }
    let step_text = form_value(pairs, "step");
    let step = parse_duration(step_text).map_err(|e| format!("invalid parameter \"step\": {e}"))?;
    let step = step.as_millis() as i64;
    // Sub-millisecond steps round to 0 ms and are refused like negative ones.
    if step <= 0 {
        return Err("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".into());
    }
    if (end - start) / step > MAX_POINTS {
        return Err("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into());
    }
    Ok((Span::Range { start, end, step }, common(pairs)?))
}

/// `timeout`, `limit`, `lookback_delta`, `stats` and `query`, checked as Prometheus does.
fn common(pairs: &[(String, String)]) -> Result<Common, String> {
    let timeout = match form_value(pairs, "timeout") {
        "" => None,
        s => Some(parse_duration(s).map_err(|e| format!("invalid parameter \"timeout\": {e}"))?),
    };
    let limit = match form_value(pairs, "limit") {
        "" => usize::MAX,
        s => match s.parse::<i64>() {
            Ok(n) if n < 0 => return Err("invalid parameter \"limit\": limit must be non-negative".into()),
            Ok(0) => usize::MAX,
            Ok(n) => n as usize,
            Err(_) => return Err(format!("invalid parameter \"limit\": strconv.Atoi: parsing {s:?}: invalid syntax")),
        },
    };
    let lookback_delta = match form_value(pairs, "lookback_delta") {
        "" => None,
        s => Some(parse_duration(s).map_err(|e| format!("error parsing lookback delta duration: {e}"))?),
    }
    .filter(|d| !d.is_zero());
    let query = form_value(pairs, "query").to_string();
    if query.is_empty() {
        return Err("invalid parameter \"query\": 1:1: parse error: no expression found in input".into());
    }
    Ok(Common { query, timeout, lookback_delta, stats: !form_value(pairs, "stats").is_empty(), limit })
}

/// Sets the query's cancel flag when dropped: axum drops the handler's future when the client
/// disconnects, and the engine, running on the blocking pool, stops at its next check.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs the query on the blocking pool and writes Prometheus' answer.
async fn evaluate(st: &Arc<WebState>, span: Span, c: Common, received: Instant) -> Response {
    let storage = match local_storage(st) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let qopts = QueryOptions { lookback_delta: c.lookback_delta, timeout: c.timeout, cancel: Some(cancel) };
    let engine = st.engine.clone();
    let query = c.query;
    let queued = Instant::now();
    let task = tokio::task::spawn_blocking(move || {
        let queue = queued.elapsed();
        let res = run(&engine, storage.as_ref(), &query, span, &qopts);
        (res, queue)
    });
    let (res, queue) = match task.await {
        Ok(v) => v,
        Err(e) => return api_error(500, "internal", format!("query task failed: {e}")),
    };
    match res {
        Ok(r) => {
            let timings =
                Timings { queue_seconds: queue.as_secs_f64(), exec_total_seconds: received.elapsed().as_secs_f64() };
            let stats = c.stats.then_some((&r.stats, timings));
            let body = query_json::success(&r.value, c.limit, stats, &r.warnings, &r.infos);
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => query_error(&e),
    }
}

fn run(
    engine: &vitals_promql::Engine,
    storage: &dyn Storage,
    query: &str,
    span: Span,
    qopts: &QueryOptions,
) -> Result<QueryResult, QueryError> {
    match span {
        Span::Instant(t) => engine.instant_query(storage.as_queryable(), query, t, qopts),
        Span::Range { start, end, step } => engine.range_query(storage.as_queryable(), query, start, end, step, qopts),
    }
}

/// An engine error in Prometheus' shape.
fn query_error(e: &QueryError) -> Response {
    let (status, msg) = error_status_and_message(e);
    api_error(status, e.error_type(), msg)
}

/// `bad_data` 400 (about the query, so named as the `query` parameter unless it is about the
/// range), `execution` 422, `timeout`/`canceled` 503.
fn error_status_and_message(e: &QueryError) -> (u16, String) {
    match e {
        QueryError::BadData(m) => {
            let about_range = ["zero or negative", "end timestamp", "exceeded maximum resolution", "invalid parameter"];
            if about_range.iter().any(|p| m.starts_with(p)) {
                (400, m.clone())
            } else {
                (400, format!("invalid parameter \"query\": {m}"))
            }
        }
        QueryError::Execution(m) => (422, m.clone()),
        QueryError::Timeout(_) | QueryError::Canceled(_) => (503, e.to_string()),
    }
}

/// `GET|POST /api/v1/format_query`: the expression pretty-printed.
pub(crate) async fn format_query(
    State(st): State<Arc<WebState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(r) = refuse_in_agent_mode(&st) {
        return *r;
    }
    let pairs = form_pairs(q.as_deref(), &method, &headers, &body);
    let query = form_value(&pairs, "query");
    if query.is_empty() {
        return api_error(
            400,
            "bad_data",
            "invalid parameter \"query\": 1:1: parse error: no expression found in input",
        );
    }
    match vitals_promql::format_query(query) {
        Ok(f) => Json(json!({"status": "success", "data": f})).into_response(),
        Err(e) => api_error(400, "bad_data", format!("invalid parameter \"query\": {e}")),
    }
}

/// `GET|POST /api/v1/query_exemplars`: parameters are checked as Prometheus does; vitals keeps no
/// exemplars, so the answer is always empty.
pub(crate) async fn query_exemplars(
    State(st): State<Arc<WebState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(r) = refuse_in_agent_mode(&st) {
        return *r;
    }
    let pairs = form_pairs(q.as_deref(), &method, &headers, &body);
    let time = |name: &str, default: i64| match form_value(&pairs, name) {
        "" => Ok(default),
        s => parse_time(s).map_err(|e| format!("invalid parameter \"{name}\": Invalid time value for '{name}': {e}")),
    };
    let (start, end) = match (time("start", i64::MIN), time("end", i64::MAX)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(m), _) | (_, Err(m)) => return api_error(400, "bad_data", m),
    };
    if end < start {
        return api_error(400, "bad_data", "end timestamp must not be before start timestamp");
    }
    let query = form_value(&pairs, "query");
    if query.is_empty() {
        return api_error(400, "bad_data", "1:1: parse error: no expression found in input");
    }
    if let Err(e) = vitals_promql::parse(query) {
        return api_error(400, "bad_data", e.to_string());
    }
    Json(json!({"status": "success", "data": []})).into_response()
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(s.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }

    fn range_err(s: &str) -> String {
        range_params(&pairs(s)).err().unwrap_or_default()
    }

    #[test]
    fn range_parameters_are_checked_in_prometheus_order() {
        assert_eq!(
            range_err("query=up&end=2&step=1"),
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp"
        );
        assert_eq!(
            range_err("query=up&start=2&end=1&step=1"),
            "invalid parameter \"end\": end timestamp must not be before start time"
        );
        assert_eq!(
            range_err("query=up&start=1&end=2&step=x"),
            "invalid parameter \"step\": cannot parse \"x\" to a valid duration"
        );
        assert!(range_err("query=up&start=1&end=2&step=0").starts_with("invalid parameter \"step\": zero or negative"));
        assert!(range_err("query=up&start=1&end=2&step=-5").starts_with("invalid parameter \"step\": zero or negative"));
        assert!(range_err("query=up&start=0&end=11001&step=1").starts_with("exceeded maximum resolution of 11,000"));
        assert_eq!(range_err("query=up&start=0&end=11000&step=1"), "", "11 001 points are allowed, as in Prometheus");
        assert_eq!(
            range_err("start=0&end=1&step=1"),
            "invalid parameter \"query\": 1:1: parse error: no expression found in input"
        );
        assert_eq!(
            range_err("query=up&start=0&end=1&step=1&limit=-1"),
            "invalid parameter \"limit\": limit must be non-negative"
        );
        assert!(range_err("query=up&start=0&end=1&step=1&timeout=soon").starts_with("invalid parameter \"timeout\""));
        assert!(range_err("query=up&start=0&end=1&step=1&lookback_delta=x").starts_with("error parsing lookback delta"));
        let (span, c) = range_params(&pairs("query=up&start=1.5&end=61.5&step=15s&limit=0&stats=all")).unwrap();
        assert!(matches!(span, Span::Range { start: 1500, end: 61500, step: 15000 }));
        assert!(c.stats && c.limit == usize::MAX);
        let (_, c) = range_params(&pairs("query=up&start=1&end=2&step=1&lookback_delta=1m&limit=3")).unwrap();
        assert_eq!((c.lookback_delta, c.limit), (Some(Duration::from_secs(60)), 3));
    }

    #[test]
    fn engine_errors_map_to_prometheus_statuses() {
        let cases = [
            (
                QueryError::BadData("1:1: parse error: x".into()),
                400,
                "invalid parameter \"query\": 1:1: parse error: x",
            ),
            (
                QueryError::BadData("exceeded maximum resolution of 11,000 points".into()),
                400,
                "exceeded maximum resolution of 11,000 points",
            ),
            (QueryError::Execution("many-to-many".into()), 422, "many-to-many"),
            (QueryError::Timeout("query execution"), 503, "query timed out in query execution"),
            (QueryError::Canceled("query execution"), 503, "query was canceled in query execution"),
        ];
        for (e, status, msg) in cases {
            assert_eq!(error_status_and_message(&e), (status, msg.to_string()), "{e:?}");
        }
    }
}
