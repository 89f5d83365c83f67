//! Dashboards: the built-in ones (host, API performance) and YAML/JSON files in a folder named in the
//! configuration, listed, read, saved and deleted through `/api/v1/dashboards`, so the UI can edit them.
//!
//! A dashboard is `{title, description?, tags?, refresh?, range?, variables: [{name, label?, default?,
//! query?}], panels: [{title, type, expr, unit?, stacked?, wide?, min?, max?, thresholds?, decimals?,
//! legend?}]}` with `type` one of timeseries, stat, gauge, bar, table, heatmap. Saving validates it
//! (errors name the field) and writes the file atomically (temporary file, fsync, rename, fsync of the
//! folder). A file keeps its format: YAML files are written back as YAML.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::{api_error, WebState};

/// The built-in dashboards: (id, JSON).
const BUILTIN: &[(&str, &str)] =
    &[("host", include_str!("dashboards/host.json")), ("api", include_str!("dashboards/api.json"))];

/// Panel types the UI draws.
const PANEL_TYPES: &[&str] = &["timeseries", "stat", "gauge", "bar", "table", "heatmap"];
const DASHBOARD_KEYS: &[&str] = &["title", "description", "tags", "refresh", "range", "variables", "panels"];
const PANEL_KEYS: &[&str] =
    &["title", "type", "expr", "unit", "stacked", "wide", "min", "max", "thresholds", "decimals", "legend"];
const VARIABLE_KEYS: &[&str] = &["name", "label", "default", "query"];
/// The largest dashboard accepted (bytes of JSON).
pub const MAX_DASHBOARD_BYTES: usize = 1024 * 1024;
const MAX_PANELS: usize = 200;
/// The most files the dashboards folder may hold before new dashboards are refused.
const MAX_FILES: usize = 1000;

/// Whether `id` is a usable dashboard id (also its file name without extension).
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a dashboard; the error names the field, e.g. `panels[2].type: unknown panel type "pie"`.
pub fn validate(d: &Value) -> Result<(), String> {
    let obj = d.as_object().ok_or("a dashboard is a JSON object")?;
    unknown_keys(obj, DASHBOARD_KEYS, "")?;
    match obj.get("title") {
        Some(Value::String(t)) if !t.trim().is_empty() && t.len() <= 200 => {}
        _ => return Err("title: a non-empty string of at most 200 characters is required".into()),
    }
    let mut names = Vec::new();
    if let Some(vars) = obj.get("variables") {
        let vars = vars.as_array().ok_or("variables: expected a list")?;
        for (i, v) in vars.iter().enumerate() {
            let o = v.as_object().ok_or_else(|| format!("variables[{i}]: expected an object"))?;
            unknown_keys(o, VARIABLE_KEYS, &format!("variables[{i}]."))?;
            let name = o.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("variables[{i}].name: letters, digits and '_' only"));
            }
            for k in ["label", "default", "query"] {
                if o.get(k).is_some_and(|v| !v.is_string()) {
                    return Err(format!("variables[{i}].{k}: expected a string"));
                }
            }
            names.push(name.to_string());
        }
    }
    let panels = obj.get("panels").and_then(Value::as_array).ok_or("panels: a list of panels is required")?;
    if panels.len() > MAX_PANELS {
        return Err(format!("panels: at most {MAX_PANELS} panels"));
    }
    for (i, p) in panels.iter().enumerate() {
        let at = |k: &str| format!("panels[{i}].{k}");
        let o = p.as_object().ok_or_else(|| format!("panels[{i}]: expected an object"))?;
        unknown_keys(o, PANEL_KEYS, &format!("panels[{i}]."))?;
        if !o.get("title").is_some_and(Value::is_string) {
            return Err(format!("{}: a string is required", at("title")));
        }
        match o.get("type").and_then(Value::as_str) {
            Some(t) if PANEL_TYPES.contains(&t) => {}
            Some(t) => {
                return Err(format!("{}: unknown panel type {t:?} (one of {})", at("type"), PANEL_TYPES.join(", ")))
            }
            None => return Err(format!("{}: one of {} is required", at("type"), PANEL_TYPES.join(", "))),
        }
        let expr = o.get("expr").and_then(Value::as_str).unwrap_or("");
        if expr.trim().is_empty() {
            return Err(format!("{}: a PromQL expression is required", at("expr")));
        }
        check_expr(expr, &names).map_err(|e| format!("{}: {e}", at("expr")))?;
        for k in ["stacked", "wide", "legend"] {
            if o.get(k).is_some_and(|v| !v.is_boolean()) {
                return Err(format!("{}: expected true or false", at(k)));
            }
        }
        for k in ["min", "max", "decimals"] {
            if o.get(k).is_some_and(|v| !v.is_number()) {
                return Err(format!("{}: expected a number", at(k)));
            }
        }
        if let Some(t) = o.get("thresholds") {
            let ok = t.as_array().is_some_and(|a| a.iter().all(Value::is_number));
            if !ok {
                return Err(format!("{}: expected a list of numbers", at("thresholds")));
            }
        }
    }
    Ok(())
}

fn unknown_keys(o: &Map<String, Value>, known: &[&str], prefix: &str) -> Result<(), String> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("{prefix}{k}: unknown field (expected one of {})", known.join(", "))),
        None => Ok(()),
    }
}

/// Parses `expr` with each `$var`/`${var}` replaced by a stand-in (a value inside strings, a duration
/// elsewhere), so a typo in the PromQL is caught when the dashboard is saved.
fn check_expr(expr: &str, vars: &[String]) -> Result<(), String> {
    // Every `$name` (inside strings too, where `{job="$job"}` puts them) must be a variable.
    let bytes = expr.as_bytes();
    for (i, _) in expr.match_indices('$') {
        let rest = &expr[i + 1..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && !vars.contains(&name) && !name.starts_with("__") && bytes.get(i + 1) != Some(&b'$') {
            return Err(format!("${name} is not a variable of this dashboard"));
        }
    }
    let mut out = String::with_capacity(expr.len());
    let (mut in_str, mut quote) = (false, ' ');
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == quote {
                in_str = false;
            }
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            in_str = true;
            quote = c;
            out.push(c);
            continue;
        }
        if c == '$' {
            let braced = chars.peek() == Some(&'{');
            if braced {
                chars.next();
            }
            let mut name = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            if braced && chars.next() != Some('}') {
                return Err("unterminated ${...}".into());
            }
            if !vars.contains(&name) && !name.starts_with("__") {
                return Err(format!("${name} is not a variable of this dashboard"));
            }
            out.push_str("5m");
            continue;
        }
        out.push(c);
    }
    vitals_promql::parse(&out).map(|_| ()).map_err(|e| e.to_string())
}

fn dir(st: &WebState) -> Option<PathBuf> {
    st.dashboards_dir.lock().clone()
}

/// The file of dashboard `id` in `dir`, if there is one (`.json`, `.yaml` or `.yml`).
fn file_of(dir: &Path, id: &str) -> Option<PathBuf> {
    ["json", "yaml", "yml"].iter().map(|ext| dir.join(format!("{id}.{ext}"))).find(|p| p.is_file())
}

/// Reads a dashboard file; errors name the file (and the line for YAML).
fn read_file(path: &Path) -> Result<Value, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let v: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("{name}:{}: {e}", e.line()))?
    } else {
        serde_norway::from_str(&text).map_err(|e| match e.location() {
            Some(l) => format!("{name}:{}: {e}", l.line()),
            None => format!("{name}: {e}"),
        })?
    };
    validate(&v).map_err(|e| format!("{name}: {e}"))?;
    Ok(v)
}

fn ok(data: Value) -> Response {
    (StatusCode::OK, axum::Json(json!({"status": "success", "data": data}))).into_response()
}

/// `GET /api/v1/dashboards`: every dashboard, built-in first: `{id, title, source, file?, error?}`.
pub(crate) async fn list(State(st): State<Arc<WebState>>) -> Response {
    let mut out: Vec<Value> = BUILTIN
        .iter()
        .map(|(id, text)| {
            let title = serde_json::from_str::<Value>(text).ok().and_then(|v| v["title"].as_str().map(str::to_string));
            json!({"id": id, "title": title, "source": "builtin", "readonly": true})
        })
        .collect();
    if let Some(dir) = dir(&st) {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&dir).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        files.sort();
        for p in files {
            let (Some(stem), Some(ext)) =
                (p.file_stem().and_then(|s| s.to_str()), p.extension().and_then(|s| s.to_str()))
            else {
                continue;
            };
            if !matches!(ext, "json" | "yaml" | "yml") || !valid_id(stem) {
                continue;
            }
            let mut entry = json!({"id": stem, "source": "file", "file": p.display().to_string(), "readonly": false});
            match read_file(&p) {
                Ok(v) => entry["title"] = v["title"].clone(),
                Err(e) => entry["error"] = json!(e),
            }
            out.push(entry);
        }
    }
    ok(Value::Array(out))
}

/// `GET /api/v1/dashboards/{id}`: the dashboard, with `id`, `source` and `readonly` added.
pub(crate) async fn get_one(State(st): State<Arc<WebState>>, UrlPath(id): UrlPath<String>) -> Response {
    let (mut v, source) = if let Some((_, text)) = BUILTIN.iter().find(|(b, _)| *b == id) {
        (serde_json::from_str::<Value>(text).unwrap_or_default(), "builtin")
    } else {
        let Some(path) = dir(&st).filter(|_| valid_id(&id)).and_then(|d| file_of(&d, &id)) else {
            return api_error(404, "not_found", format!("no dashboard {id:?}"));
        };
        match read_file(&path) {
            Ok(v) => (v, "file"),
            Err(e) => return api_error(422, "execution", e),
        }
    };
    v["id"] = json!(id);
    v["source"] = json!(source);
    v["readonly"] = json!(source == "builtin");
    ok(v)
}

/// `PUT /api/v1/dashboards/{id}`: validates and saves the dashboard (JSON body) as a file.
pub(crate) async fn put(State(st): State<Arc<WebState>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    if !valid_id(&id) {
        return api_error(400, "bad_data", "dashboard ids are 1 to 64 letters, digits, '-' or '_'");
    }
    if BUILTIN.iter().any(|(b, _)| *b == id) {
        return api_error(400, "bad_data", format!("{id:?} is built in and read-only: save it under another id"));
    }
    let Some(dir) = dir(&st) else {
        return api_error(503, "unavailable", "no dashboards folder is configured");
    };
    if body.len() > MAX_DASHBOARD_BYTES {
        return api_error(413, "bad_data", format!("dashboard larger than {MAX_DASHBOARD_BYTES} bytes"));
    }
    let mut v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return api_error(400, "bad_data", format!("invalid JSON at line {}: {e}", e.line())),
    };
    if let Some(o) = v.as_object_mut() {
        // Fields the GET answer adds.
        for k in ["id", "source", "readonly"] {
            o.remove(k);
        }
    }
    if let Err(e) = validate(&v) {
        return api_error(400, "bad_data", e);
    }
    let existing = file_of(&dir, &id);
    if existing.is_none() {
        let count = std::fs::read_dir(&dir).map(|rd| rd.count()).unwrap_or(0);
        if count >= MAX_FILES {
            return api_error(400, "bad_data", format!("the dashboards folder holds at most {MAX_FILES} files"));
        }
    }
    let yaml = existing.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e != "json"));
    let path = existing.unwrap_or_else(|| dir.join(format!("{id}.json")));
    let text = if yaml {
        serde_norway::to_string(&v).unwrap_or_default()
    } else {
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    };
    let res = tokio::task::spawn_blocking(move || vitals_model::fsutil::write_atomic(&path, text.as_bytes())).await;
    match res {
        Ok(Ok(())) => ok(json!({"id": id})),
        Ok(Err(e)) => api_error(500, "internal", format!("saving dashboard {id}: {e}")),
        Err(e) => api_error(500, "internal", e.to_string()),
    }
}

/// `DELETE /api/v1/dashboards/{id}`: removes the dashboard's file.
pub(crate) async fn delete(State(st): State<Arc<WebState>>, UrlPath(id): UrlPath<String>) -> Response {
    if BUILTIN.iter().any(|(b, _)| *b == id) {
        return api_error(400, "bad_data", format!("{id:?} is built in and cannot be deleted"));
    }
    let Some(path) = dir(&st).filter(|_| valid_id(&id)).and_then(|d| file_of(&d, &id)) else {
        return api_error(404, "not_found", format!("no dashboard {id:?}"));
    };
    match std::fs::remove_file(&path) {
        Ok(()) => ok(json!({"id": id})),
        Err(e) => api_error(500, "internal", format!("deleting {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_valid() {
        for (id, text) in BUILTIN {
            let v: Value = serde_json::from_str(text).unwrap();
            validate(&v).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }

    #[test]
    fn validation_names_the_field() {
        let ok = json!({"title": "t", "variables": [{"name": "job"}], "panels": [
            {"title": "a", "type": "gauge", "expr": "up{job=~\"$job\"}", "min": 0, "max": 1, "thresholds": [0.5]},
            {"title": "b", "type": "heatmap", "expr": "sum by (le) (rate(x_bucket[$interval]))"}]});
        assert_eq!(validate(&ok), Err("panels[1].expr: $interval is not a variable of this dashboard".into()));
        let mut good = ok.clone();
        good["variables"] = json!([{"name": "job"}, {"name": "interval", "default": "5m"}]);
        validate(&good).unwrap();
        let cases = [
            (json!([]), "a dashboard is a JSON object"),
            (json!({"panels": []}), "title: a non-empty string"),
            (json!({"title": "t"}), "panels: a list of panels is required"),
            (json!({"title": "t", "panel": []}), "panel: unknown field"),
            (
                json!({"title": "t", "panels": [{"title": "a", "type": "pie", "expr": "up"}]}),
                "panels[0].type: unknown panel type \"pie\"",
            ),
            (json!({"title": "t", "panels": [{"title": "a", "type": "stat", "expr": "sum("}]}), "panels[0].expr: "),
            (
                json!({"title": "t", "panels": [{"title": "a", "type": "stat", "expr": "up", "min": "0"}]}),
                "panels[0].min: expected a number",
            ),
            (
                json!({"title": "t", "panels": [{"title": "a", "type": "stat", "expr": "up", "colour": 1}]}),
                "panels[0].colour: unknown field",
            ),
            (json!({"title": "t", "variables": [{"name": "a b"}], "panels": []}), "variables[0].name: letters"),
        ];
        for (v, want) in cases {
            let e = validate(&v).unwrap_err();
            assert!(e.starts_with(want), "{v}: {e}");
        }
    }
}
