//! `/probe?target=&module=` (blackbox_exporter's endpoint, so a Prometheus can use vitals as its
//! prober) and `/api/v1/probes` (each check's targets with their last result, uptime over 1 h,
//! 24 h, 7 d and 30 d, and incidents — the data of a status page).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::status_api::rfc3339;
use crate::{api_error, WebState};

fn time_of(ms: i64) -> String {
    rfc3339(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

/// `GET /probe?target=…&module=…`: runs the module once and answers in the text format, as
/// blackbox_exporter does; the timeout is Prometheus' scrape timeout header minus 0.5 s.
pub(crate) async fn probe(State(st): State<Arc<WebState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let target = get("target");
    if target.is_empty() {
        return (StatusCode::BAD_REQUEST, "Target parameter is missing\n").into_response();
    }
    let module_name = match get("module") {
        m if m.is_empty() => "http_2xx".to_string(),
        m => m,
    };
    let Some(module) = st.probe_modules.lock().get(&module_name).cloned() else {
        return (StatusCode::BAD_REQUEST, format!("Unknown module \"{module_name}\"\n")).into_response();
    };
    let timeout = headers
        .get("X-Prometheus-Scrape-Timeout-Seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|s| Duration::from_secs_f64((s - 0.5).max(0.1)))
        .unwrap_or(Duration::from_secs(120));
    let result = vitals_probe::probe(&module, &target, timeout).await;
    let mut out = String::with_capacity(4096);
    vitals_probe::render_text(&result, &mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

/// `GET /api/v1/probes`.
pub(crate) async fn probes(State(st): State<Arc<WebState>>) -> Response {
    let Some(m) = st.probes.get().cloned() else {
        return api_error(503, "unavailable", "probes are not running yet");
    };
    let mut list: Vec<Value> = Vec::new();
    for s in m.results() {
        let up = m.uptime(&s.check, &s.target);
        let last = s.last.as_ref().map(|r| {
            json!({
                "success": r.success,
                "durationSeconds": r.duration.as_secs_f64(),
                "time": rfc3339(r.started),
                "failure": r.failure,
            })
        });
        let uptime = up.as_ref().map(|u| json!({"1h": u.h1, "24h": u.h24, "7d": u.d7, "30d": u.d30}));
        let incidents: Vec<Value> = up
            .map(|u| {
                u.incidents
                    .iter()
                    .map(|i| json!({"start": time_of(i.start), "end": i.end.map(time_of), "cause": i.cause}))
                    .collect()
            })
            .unwrap_or_default();
        list.push(json!({
            "check": s.check,
            "target": s.target,
            "module": s.module,
            "last": last,
            "uptime": uptime,
            "incidents": incidents,
        }));
    }
    Json(json!({"status": "success", "data": {"probes": list}})).into_response()
}
