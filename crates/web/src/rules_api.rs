//! `/api/v1/rules` and `/api/v1/alerts`: rule groups and active alerts in Prometheus' JSON shapes.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vitals_rules::{AlertStatus, RuleManager};

use crate::status_api::rfc3339;
use crate::{api_error, WebState};

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`, which Prometheus uses for alert values.
pub(crate) fn go_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let s = format!("{v:e}"); // Rust: 1e0, 2.5e-1, 1.234e5
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.abs())
}

fn time_of(ms: i64) -> String {
    if ms <= 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    rfc3339(UNIX_EPOCH + Duration::from_millis(ms as u64))
}

fn alert_json(a: &AlertStatus) -> Value {
    let mut v = json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": time_of(a.active_at),
        "value": go_float_e(a.value),
    });
    if let Some(k) = a.keep_firing_since {
        v["keepFiringSince"] = json!(time_of(k));
    }
    v
}

fn manager(st: &WebState) -> Result<Arc<RuleManager>, Box<Response>> {
    st.rules.get().cloned().ok_or_else(|| Box::new(api_error(503, "unavailable", "rules are not loaded yet")))
}

/// `GET /api/v1/rules` (`type=alert|record`, `rule_name[]`, `rule_group[]`, `file[]`).
pub(crate) async fn rules(State(st): State<Arc<WebState>>, RawQuery(q): RawQuery) -> Response {
    let m = match manager(&st) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let all = |k: &str| -> Vec<&str> { pairs.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect() };
    let kind = match pairs.iter().find(|(k, _)| k == "type").map(|(_, v)| v.as_str()) {
        None | Some("") => None,
        Some("alert") => Some("alerting"),
        Some("record") => Some("recording"),
        Some(other) => return api_error(400, "bad_data", format!("invalid rule type {other:?}")),
    };
    let (names, groups, files) = (all("rule_name[]"), all("rule_group[]"), all("file[]"));
    let mut out = Vec::new();
    for g in m.groups() {
        if (!groups.is_empty() && !groups.contains(&g.name.as_str()))
            || (!files.is_empty() && !files.contains(&g.file.as_str()))
        {
            continue;
        }
        let rules: Vec<Value> = g
            .rules
            .iter()
            .filter(|r| kind.is_none_or(|k| k == r.kind) && (names.is_empty() || names.contains(&r.name.as_str())))
            .map(|r| {
                let mut v = json!({
                    "name": r.name,
                    "query": r.query,
                    "labels": r.labels,
                    "health": r.health,
                    "lastError": r.last_error,
                    "evaluationTime": r.evaluation_seconds,
                    "lastEvaluation": time_of(r.last_evaluation),
                    "type": r.kind,
                });
                if r.kind == "alerting" {
                    v["state"] = json!(r.state);
                    v["duration"] = json!(r.duration);
                    v["keepFiringFor"] = json!(r.keep_firing_for);
                    v["annotations"] = json!(r.annotations);
                    v["alerts"] = Value::Array(r.alerts.iter().map(alert_json).collect());
                }
                v
            })
            .collect();
        if rules.is_empty() && (kind.is_some() || !names.is_empty()) {
            continue;
        }
        out.push(json!({
            "name": g.name,
            "file": g.file,
            "rules": rules,
            "interval": g.interval,
            "limit": g.limit,
            "evaluationTime": g.evaluation_seconds,
            "lastEvaluation": time_of(g.last_evaluation),
        }));
    }
    Json(json!({"status": "success", "data": {"groups": out}})).into_response()
}

/// `GET /api/v1/alerts`.
pub(crate) async fn alerts(State(st): State<Arc<WebState>>) -> Response {
    let m = match manager(&st) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let list: Vec<Value> = m.alerts().iter().map(alert_json).collect();
    Json(json!({"status": "success", "data": {"alerts": list}})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_values_format_like_go() {
        assert_eq!(go_float_e(1.0), "1e+00");
        assert_eq!(go_float_e(0.25), "2.5e-01");
        assert_eq!(go_float_e(123456.0), "1.23456e+05");
        assert_eq!(go_float_e(1e100), "1e+100");
        assert_eq!(go_float_e(f64::NAN), "NaN");
    }
}
