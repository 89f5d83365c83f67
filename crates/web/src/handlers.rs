//! Request handlers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;
use vitals_remote::{IngestStats, RemoteError};

use crate::{api_error, WebState};

pub(crate) async fn healthy() -> &'static str {
    "vitals is Healthy.\n"
}

pub(crate) async fn ready(State(st): State<Arc<WebState>>) -> Response {
    if st.storage.get().is_some() {
        "vitals is Ready.\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable: replaying the WAL\n").into_response()
    }
}

pub(crate) async fn reload(State(st): State<Arc<WebState>>) -> Response {
    let Some(tx) = &st.reload else {
        return (StatusCode::FORBIDDEN, "reload is disabled\n").into_response();
    };
    let (reply, answer) = oneshot::channel();
    if tx.send(reply).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match answer.await {
        Ok(Ok(())) => "configuration reloaded\n".into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

pub(crate) async fn health(State(st): State<Arc<WebState>>) -> Response {
    let mut components = serde_json::Map::new();
    let ready = st.storage.get().is_some();
    let mut worst = if ready { "ok" } else { "starting" };
    let sources = st.health_sources.lock().clone();
    for (name, f) in sources {
        let h = f();
        if h.status == "failing" {
            worst = "failing";
        } else if h.status == "starting" && worst == "ok" {
            worst = "starting";
        }
        components.insert(name, serde_json::to_value(h).unwrap_or_default());
    }
    let (up, down, unknown) = st.scrape.get().map_or((0, 0, 0), |m| m.health_counts());
    components.insert(
        "scrape".into(),
        json!({"status": "ok", "targets_up": up, "targets_down": down, "targets_unknown": unknown}),
    );
    let uptime = SystemTime::now().duration_since(st.started).unwrap_or_default().as_secs_f64();
    let body = json!({
        "status": worst,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": uptime,
        "agent": st.agent,
        "components": components,
    });
    let code = if worst == "failing" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (code, Json(body)).into_response()
}

pub(crate) async fn metrics(State(st): State<Arc<WebState>>) -> Response {
    let mut out = String::with_capacity(16 << 10);
    crate::metrics::render_process(&mut out);
    st.http_metrics.render(&mut out);
    st.ingest.render(&mut out);
    let (up, down, unknown) = st.scrape.get().map_or((0, 0, 0), |m| m.health_counts());
    let n = "vitals_scrape_targets";
    out.push_str(&format!(
        "# HELP {n} Scrape targets by health.\n# TYPE {n} gauge\n{n}{{health=\"up\"}} {up}\n{n}{{health=\"down\"}} {down}\n{n}{{health=\"unknown\"}} {unknown}\n"
    ));
    crate::live::render_metrics(&st, &mut out);
    let sources = st.metric_sources.lock().clone();
    for f in sources {
        f(&mut out);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

/// `GET /host/metrics`: host metrics as node_exporter's `/metrics` shows them.
pub(crate) async fn host_metrics(State(st): State<Arc<WebState>>) -> Response {
    let Some(source) = st.host_metrics.get().cloned() else {
        return (StatusCode::NOT_FOUND, "host metrics are off (host_metrics: false)\n").into_response();
    };
    match tokio::task::spawn_blocking(move || {
        let mut out = String::with_capacity(64 << 10);
        source(&mut out);
        out
    })
    .await
    {
        Ok(out) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("collecting host metrics failed: {e}\n")).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct TargetsParams {
    state: Option<String>,
    #[serde(rename = "scrapePool")]
    scrape_pool: Option<String>,
}

pub(crate) async fn targets(State(st): State<Arc<WebState>>, Query(p): Query<TargetsParams>) -> Response {
    let mut view = st.scrape.get().map(|m| m.targets()).unwrap_or_default();
    if let Some(pool) = &p.scrape_pool {
        view.active_targets.retain(|t| &t.scrape_pool == pool);
        view.dropped_targets.retain(|t| t.discovered_labels.get("job") == Some(pool));
    }
    match p.state.as_deref().unwrap_or("any") {
        "active" => view.dropped_targets.clear(),
        "dropped" => view.active_targets.clear(),
        "any" | "" => {}
        other => return api_error(400, "bad_data", format!("invalid state {other:?}: use active, dropped or any")),
    }
    Json(json!({"status": "success", "data": view})).into_response()
}

#[derive(Deserialize)]
pub(crate) struct MetadataParams {
    metric: Option<String>,
    limit: Option<i64>,
}

pub(crate) async fn metadata(State(st): State<Arc<WebState>>, Query(p): Query<MetadataParams>) -> Response {
    let all = st.scrape.get().map(|m| m.metadata()).unwrap_or_default();
    let limit = p.limit.filter(|l| *l > 0).map_or(usize::MAX, |l| l as usize);
    let mut data = BTreeMap::new();
    for (name, list) in all {
        if p.metric.as_ref().is_some_and(|m| m != &name) {
            continue;
        }
        if data.len() >= limit {
            break;
        }
        let list: Vec<_> = list
            .into_iter()
            .map(|m| json!({"type": if m.kind.is_empty() { "unknown".to_string() } else { m.kind }, "help": m.help, "unit": m.unit}))
            .collect();
        data.insert(name, list);
    }
    Json(json!({"status": "success", "data": data})).into_response()
}

pub(crate) async fn buildinfo() -> Response {
    Json(json!({"status": "success", "data": {
        "version": env!("CARGO_PKG_VERSION"),
        "revision": option_env!("VITALS_GIT_REVISION").unwrap_or("unknown"),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }}))
    .into_response()
}

pub(crate) async fn index() -> Response {
    if let Some(r) = crate::ui::serve(&axum::http::Method::GET, "/index.html") {
        return r;
    }
    let body = "<!doctype html><title>vitals</title><h1>vitals</h1>\
        <p>The UI is not built yet. API: <a href=\"/api/v1/targets\">/api/v1/targets</a>, \
        <a href=\"/metrics\">/metrics</a>, <a href=\"/health\">/health</a>.</p>";
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

pub(crate) async fn not_found() -> Response {
    api_error(404, "not_found", "no such endpoint")
}

/// Runs a blocking ingest step on the storage once it is ready and maps the outcome to a response.
async fn ingest(
    st: &Arc<WebState>,
    path: &'static str,
    body: Result<Bytes, BytesRejection>,
    f: impl FnOnce(&[u8], &mut dyn vitals_model::Appender) -> Result<IngestStats, RemoteError> + Send + 'static,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let status = e.status().as_u16();
            st.ingest.failed(path, status);
            return api_error(status, "bad_data", format!("reading the request body: {}", e.body_text()));
        }
    };
    let Some(storage) = st.storage() else {
        st.ingest.failed(path, 503);
        return api_error(503, "unavailable", "storage is not ready yet (replaying the WAL)");
    };
    let res = tokio::task::spawn_blocking(move || {
        let mut app = storage.appender();
        f(&body, app.as_mut())
    })
    .await;
    match res {
        Ok(Ok(stats)) => {
            st.ingest.stored(path, stats.samples, stats.samples_rejected);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(e)) => {
            if let RemoteError::SamplesRejected { rejected, total, .. } = &e {
                st.ingest.stored(path, total - rejected, *rejected);
            }
            st.ingest.failed(path, e.status());
            if e.status() >= 500 {
                tracing::warn!(path, error = %e, "ingest failed");
            }
            api_error(e.status(), e.error_type(), e.to_string())
        }
        Err(e) => {
            st.ingest.failed(path, 500);
            api_error(500, "internal", format!("ingest task failed: {e}"))
        }
    }
}

pub(crate) async fn remote_write(
    State(st): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Some(enc) = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
        if !enc.eq_ignore_ascii_case("snappy") {
            return api_error(
                415,
                "bad_data",
                format!("unsupported Content-Encoding {enc:?}: remote_write needs snappy"),
            );
        }
    }
    let limits = st.limits.clone();
    ingest(&st, "/api/v1/write", body, move |body, app| vitals_remote::ingest_write(body, app, &limits)).await
}

pub(crate) async fn import(
    State(st): State<Arc<WebState>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    let mut extra = Vec::new();
    for (k, v) in params {
        if k == "extra_label" {
            match v.split_once('=') {
                Some((name, value)) if !name.is_empty() => extra.push((name.to_string(), value.to_string())),
                _ => return api_error(400, "bad_data", format!("extra_label {v:?}: expected name=value")),
            }
        }
    }
    let limits = st.limits.clone();
    let now = vitals_scrape::scrape_loop::unix_ms(SystemTime::now());
    ingest(&st, "/api/v1/import/prometheus", body, move |body, app| {
        let text = if gzip { vitals_remote::import::gunzip(body, &limits)? } else { body.to_vec() };
        vitals_remote::import::append_text(&text, now, &extra, app, &limits)
    })
    .await
}

pub(crate) async fn otlp(
    State(st): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/x-protobuf").to_string();
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    let limits = st.limits.clone();
    ingest(&st, "/api/v1/otlp/v1/metrics", body, move |body, app| {
        let raw = if gzip { vitals_remote::import::gunzip(body, &limits)? } else { body.to_vec() };
        let req = vitals_remote::otlp::decode_otlp(&raw, &content_type)?;
        vitals_remote::otlp::append_otlp(&req, app, &limits, &Default::default())
    })
    .await
}
