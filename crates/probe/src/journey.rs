//! vitals' `journey` prober: HTTP steps run in order, each checked (status, latency, body pattern,
//! a JSON value) and each able to extract values (a JSONPath subset: `$.a.b[0].c`, `$["a b"]`)
//! that later steps use as `{{ name }}` in their url, headers and body.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::config::JourneyProbe;
use crate::http::{round_trip, Request, Url};
use crate::resolve::choose_address;
use crate::result::Gauges;

/// A JSONPath of the supported subset: `$`, then `.name`, `["name"]` or `[index]` segments.
#[derive(Clone, PartialEq)]
pub struct JsonPath {
    source: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl JsonPath {
    /// Parses a path such as `$.data.items[0].id`.
    pub fn parse(s: &str) -> Result<JsonPath, String> {
        let rest = s.trim().strip_prefix('$').ok_or_else(|| format!("JSONPath {s:?} must start with $"))?;
        let b = rest.as_bytes();
        let mut i = 0;
        let mut segments = Vec::new();
        while i < b.len() {
            match b[i] {
                b'.' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                        j += 1;
                    }
                    if j == start {
                        return Err(format!("JSONPath {s:?}: empty name after '.'"));
                    }
                    segments.push(Segment::Key(rest[start..j].to_string()));
                    i = j;
                }
                b'[' => {
                    let end =
                        rest[i..].find(']').map(|k| i + k).ok_or_else(|| format!("JSONPath {s:?}: missing ']'"))?;
                    let inner = rest[i + 1..end].trim();
                    if let Some(q) = inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                        segments.push(Segment::Key(q.to_string()));
                    } else if let Some(q) = inner.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                        segments.push(Segment::Key(q.to_string()));
                    } else {
                        let n = inner.parse().map_err(|_| format!("JSONPath {s:?}: bad index {inner:?}"))?;
                        segments.push(Segment::Index(n));
                    }
                    i = end + 1;
                }
                _ => return Err(format!("JSONPath {s:?}: unexpected {:?}", b[i] as char)),
            }
        }
        Ok(JsonPath { source: s.to_string(), segments })
    }

    /// The value at this path, if present.
    pub fn select<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        let mut cur = v;
        for s in &self.segments {
            cur = match s {
                Segment::Key(k) => cur.get(k)?,
                Segment::Index(n) => cur.get(*n)?,
            };
        }
        Some(cur)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JsonPath::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Replaces every `{{ name }}` with its value; an unknown name is an error.
pub fn expand(template: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("unclosed '{{{{' in {template:?}"))?;
        let name = after[..end].trim();
        let value = vars.get(name).ok_or_else(|| format!("unknown variable {{{{ {name} }}}}"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Runs the journey against `target` (available to steps as `{{ target }}`).
pub(crate) async fn probe_journey(j: &JourneyProbe, target: &str, g: &mut Gauges) -> Result<(), String> {
    let mut vars = BTreeMap::new();
    vars.insert("target".to_string(), target.trim_end_matches('/').to_string());
    for step in &j.steps {
        let start = Instant::now();
        let labels = || vec![("step", step.name.clone())];
        g.set_with("probe_journey_step_success", labels(), 0.0);
        let r = run_step(j, step, &mut vars, g).await;
        g.set_with("probe_journey_step_duration_seconds", labels(), start.elapsed().as_secs_f64());
        match r {
            Ok(()) => g.set_with("probe_journey_step_success", labels(), 1.0),
            Err(e) => return Err(format!("step {:?}: {e}", step.name)),
        }
    }
    Ok(())
}

async fn run_step(
    j: &JourneyProbe,
    step: &crate::config::JourneyStep,
    vars: &mut BTreeMap<String, String>,
    g: &mut Gauges,
) -> Result<(), String> {
    let start = Instant::now();
    let url = Url::parse(&expand(&step.url, vars)?)?;
    let headers: Vec<(String, String)> =
        step.headers.iter().map(|(k, v)| Ok((k.clone(), expand(v, vars)?))).collect::<Result<_, String>>()?;
    let body = step.body.as_deref().map(|b| expand(b, vars)).transpose()?;
    let method = if step.method.is_empty() { "GET".to_string() } else { step.method.to_ascii_uppercase() };
    let (ip, _) = choose_address(&url.host, "", true, &mut Gauges::default()).await?;
    let req = Request {
        method: &method,
        url: &url,
        headers: &headers,
        body: body.as_deref().map(str::as_bytes),
        tls_config: &j.tls_config,
        compression: "",
        read_body: true,
    };
    let resp = round_trip(&req, ip, &mut Gauges::default()).await?;
    let latency = start.elapsed();
    g.set_with("probe_journey_step_status_code", vec![("step", step.name.clone())], resp.status as f64);
    let e = &step.expect;
    let ok = if e.status.is_empty() { (200..300).contains(&resp.status) } else { e.status.contains(&resp.status) };
    if !ok {
        return Err(format!("status {} not accepted", resp.status));
    }
    if let Some(max) = e.max_latency {
        if latency > max.0 {
            return Err(format!("took {} ms, more than max_latency {} ms", latency.as_millis(), max.0.as_millis()));
        }
    }
    let text = String::from_utf8_lossy(&resp.body);
    if let Some(re) = &e.body_regexp {
        if !re.0.is_match(&text) {
            return Err(format!("body did not match {:?}", re.0.as_str()));
        }
    }
    if e.json.is_none() && step.extract.is_empty() {
        return Ok(());
    }
    let json: Value = serde_json::from_str(&text).map_err(|err| format!("body is not JSON: {err}"))?;
    if let Some(je) = &e.json {
        let found = je.path.select(&json).ok_or_else(|| format!("JSON has no {:?}", je.path.source))?;
        if let Some(want) = &je.equals {
            if found != want {
                return Err(format!("JSON {:?} is {found}, expected {want}", je.path.source));
            }
        }
    }
    for (name, path) in &step.extract {
        let v = path.select(&json).ok_or_else(|| format!("cannot extract {name}: JSON has no {:?}", path.source))?;
        let s = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vars.insert(name.clone(), s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let v: Value = serde_json::from_str(r#"{"a":{"b":[{"c":1},{"c":"x"}]},"k y":true}"#).unwrap();
        assert_eq!(JsonPath::parse("$.a.b[1].c").unwrap().select(&v), Some(&Value::from("x")));
        assert_eq!(JsonPath::parse("$['k y']").unwrap().select(&v), Some(&Value::Bool(true)));
        assert_eq!(JsonPath::parse("$").unwrap().select(&v), Some(&v));
        assert!(JsonPath::parse("$.a.zz").unwrap().select(&v).is_none());
        assert!(JsonPath::parse("a.b").is_err());
        assert!(JsonPath::parse("$.a[").is_err());
    }

    #[test]
    fn templates() {
        let mut vars = BTreeMap::new();
        vars.insert("token".to_string(), "abc".to_string());
        assert_eq!(expand("Bearer {{ token }}!{{token}}", &vars).unwrap(), "Bearer abc!abc");
        assert!(expand("{{ nope }}", &vars).is_err());
        assert!(expand("{{ token", &vars).is_err());
    }
}
