//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values`: Prometheus' metadata
//! endpoints, GET or form-encoded POST, with `match[]`, `start`, `end` and `limit`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::json;
use vitals_model::{Labels, Matcher};

use crate::params::{form_pairs, local_storage, parse_time, refuse_in_agent_mode};
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
    let pairs = form_pairs(query, method, headers, body);
    let mut p = Params { matchers: Vec::new(), start: i64::MIN, end: i64::MAX, limit: usize::MAX };
    // Backwards, so that for `start`, `end` and `limit` the first value wins, as with Go's `FormValue`.
    for (k, v) in pairs.into_iter().rev() {
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

/// What every metadata request starts with: not in agent mode, valid parameters, storage ready.
/// `Box` keeps the error side small.
fn prepare(
    st: &WebState,
    q: Option<&str>,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, Arc<dyn crate::Storage>), Box<Response>> {
    refuse_in_agent_mode(st)?;
    let p = params(q, method, headers, body).map_err(|msg| Box::new(api_error(400, "bad_data", msg)))?;
    Ok((p, local_storage(st)?))
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
