//! `/api/v1/slos`: each service level objective with its error ratio and burn rate per window and
//! the share of its error budget left, evaluated now.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use vitals_promql::{QueryOptions, Value as PValue};
use vitals_rules::slo::{ratio_series, SloConfig, WINDOWS};

use crate::params::local_storage;
use crate::{api_error, WebState};

/// A float for JSON: finite numbers as numbers, the rest as `null`.
fn num(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!(x),
        _ => Value::Null,
    }
}

/// `GET /api/v1/slos`.
pub(crate) async fn slos(State(st): State<Arc<WebState>>) -> Response {
    let storage = match local_storage(&st) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let slos: Vec<SloConfig> = st.slos.lock().clone();
    let engine = st.engine.clone();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let res = tokio::task::spawn_blocking(move || {
        let q = storage.as_queryable();
        let ratio = |slo: &SloConfig, w: &str| -> Option<f64> {
            // The recorded series when the rules have run; the SLI itself otherwise.
            for expr in [format!("{}{{slo={:?}}}", ratio_series(w), slo.name), slo.error_ratio_expr(w)] {
                if let Ok(r) = engine.instant_query(q, &expr, now, &QueryOptions::default()) {
                    if let PValue::Vector(v) = r.value {
                        if let Some(s) = v.first() {
                            return Some(s.v);
                        }
                    }
                }
            }
            None
        };
        let mut out = Vec::new();
        for slo in &slos {
            let budget = slo.error_budget();
            let win = slo.window_text();
            let mut ratios = Map::new();
            let mut burns = Map::new();
            let mut windows: Vec<String> = WINDOWS.iter().map(|w| w.to_string()).collect();
            if !windows.contains(&win) {
                windows.push(win.clone());
            }
            let mut window_ratio = None;
            for w in &windows {
                let r = ratio(slo, w);
                if *w == win {
                    window_ratio = r;
                }
                ratios.insert(w.clone(), num(r));
                burns.insert(w.clone(), num(r.map(|x| x / budget)));
            }
            let remaining = window_ratio.map(|r| 1.0 - r / budget);
            out.push(json!({
                "name": slo.name,
                "objective": slo.objective,
                "window": win,
                "labels": slo.labels,
                "errorBudget": budget,
                "errorRatio": ratios,
                "burnRate": burns,
                "errorBudgetRemaining": num(remaining),
            }));
        }
        out
    })
    .await;
    match res {
        Ok(list) => Json(json!({"status": "success", "data": {"slos": list}})).into_response(),
        Err(e) => api_error(500, "internal", format!("evaluating SLOs failed: {e}")),
    }
}
