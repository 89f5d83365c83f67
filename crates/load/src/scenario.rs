//! Scenario files (YAML): the workload plus several named, weighted requests with response checks.
//!
//! ```yaml
//! duration: 30s
//! rate: 200/s            # or vus: 10; the start value when there are stages
//! stages:                # optional ramping (model: open ramps the rate from 0 when no rate is given)
//!   - { duration: 10s, target: 400 }
//!   - { duration: 20s, target: 400 }
//! connections: 50
//! thresholds: [p95<500ms, errors<1%]
//! requests:
//!   - name: list
//!     url: http://127.0.0.1:8080/items
//!     weight: 3
//!     checks: { status: [200], body_contains: '"items"', max_latency: 500ms, json: { page: 1 } }
//!   - name: create
//!     method: POST
//!     url: http://127.0.0.1:8080/items
//!     headers: { Authorization: Bearer x }
//!     body: { name: widget }   # a string is sent as is; any other value as JSON
//! ```
//!
//! A user journey with token chaining and per-user data:
//!
//! ```yaml
//! flow: sequential       # every iteration runs the requests in order, stopping at a failure
//! think_time: 500ms      # pause after each request
//! data: users.csv        # header line = variable names; one row per iteration, in turn
//! requests:
//!   - name: login
//!     method: POST
//!     url: http://127.0.0.1:8080/login
//!     body: { user: "${user}", password: "${password}" }
//!     extract: { token: { json: data.token } }   # or { header: Location } / { regex: 'id=(\d+)' }
//!   - name: orders
//!     url: http://127.0.0.1:8080/orders?user=${user}
//!     headers: { Authorization: "Bearer ${token}" }
//! ```
//!
//! Unknown keys and bad values are rejected with `FILE:LINE: key path: message`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use crate::config::ITERATIONS_MAX_DURATION;
use crate::config::{
    default_connections, parse_duration, parse_rate, Checks, HttpUrl, LoadConfig, Model, RequestSpec, DEFAULT_BACKLOG,
};
use crate::profile::Stage;
use crate::threshold::{Threshold, ThresholdError};
use crate::vars::{parse_json_path, DataTable, Extract, Template};

/// An unreadable or invalid scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file as named.
        file: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A YAML syntax error, an unknown key or a bad value, at a line of the file.
    #[error("{file}:{line}: {message}")]
    At {
        /// The file as named.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong, starting with the key path when known (`requests[1].checks: unknown field ...`).
        message: String,
    },
    /// A problem with the file as a whole (no requests, both `vus` and `rate`, duplicate names).
    #[error("{file}: {message}")]
    Invalid {
        /// The file as named.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// A parsed scenario; [`Scenario::into_config`] turns it into a runnable [`LoadConfig`].
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `duration`, when given.
    pub duration: Option<Duration>,
    /// `vus` or `rate`, when given.
    pub model: Option<Model>,
    /// `connections`, when given.
    pub connections: Option<usize>,
    /// `thresholds`.
    pub thresholds: Vec<Threshold>,
    /// `requests`, at least one, names unique.
    pub requests: Vec<RequestSpec>,
    /// `stages`: ramping from `vus`/`rate` (0 when not given) through these targets.
    pub stages: Vec<Stage>,
    /// The file it came from, as named.
    pub file: String,
    /// `flow: sequential`: every iteration sends all requests in order.
    pub sequential: bool,
    /// `think_time`.
    pub think_time: Option<Duration>,
    /// `data`: the CSV file's rows.
    pub data: Option<Arc<DataTable>>,
    /// `insecure`: accept any https certificate.
    pub insecure: bool,
    /// `http2`: speak HTTP/2.
    pub http2: bool,
    /// `iterations`: stop after this many (the duration defaults to 10 minutes then).
    pub iterations: Option<u64>,
}

impl Scenario {
    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: file.clone(), source })?;
        Scenario::parse(&text, &file)
    }

    /// Parses scenario YAML; `file` names it in errors.
    pub fn parse(yaml: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = serde_norway::from_str(yaml).map_err(|e| {
            let message = e.to_string();
            match e.location() {
                Some(loc) => {
                    let message = match message.rfind(" at line ") {
                        Some(i) => message[..i].to_string(),
                        None => message,
                    };
                    ScenarioError::At { file: file.to_string(), line: loc.line(), message }
                }
                None => ScenarioError::Invalid { file: file.to_string(), message },
            }
        })?;
        let invalid = |message: String| ScenarioError::Invalid { file: file.to_string(), message };
        let model = match (raw.vus, raw.rate) {
            (Some(_), Some(_)) => {
                return Err(invalid("set either vus (closed model) or rate (open model), not both".into()))
            }
            (Some(vus), None) => Some(Model::Closed { vus }),
            (None, Some(rate_per_sec)) => Some(Model::Open { rate_per_sec }),
            (None, None) if raw.model.as_deref() == Some("open") => Some(Model::Open { rate_per_sec: 0.0 }),
            (None, None) if !raw.stages.is_empty() => Some(Model::Closed { vus: 0 }),
            (None, None) => None,
        };
        match (raw.model.as_deref(), model) {
            (None, _) | (Some("open"), Some(Model::Open { .. })) | (Some("closed"), Some(Model::Closed { .. })) => {}
            (Some("closed"), None) => {}
            (Some(m @ ("open" | "closed")), _) => {
                return Err(invalid(format!("model: {m} contradicts the vus/rate given")));
            }
            (Some(m), _) => return Err(invalid(format!("model: unknown model {m:?}: expected open or closed"))),
        }
        if raw.model.as_deref() == Some("open") && raw.stages.is_empty() && raw.rate.is_none() {
            return Err(invalid("model: open needs a rate or stages".into()));
        }
        let stages: Vec<Stage> = raw.stages.iter().map(|s| Stage { duration: s.duration, target: s.target }).collect();
        if raw.requests.is_empty() {
            return Err(invalid("requests: at least one request is needed".into()));
        }
        let mut names = BTreeSet::new();
        let mut requests = Vec::with_capacity(raw.requests.len());
        for (i, r) in raw.requests.into_iter().enumerate() {
            let method = r.method.to_uppercase();
            let name = r.name.unwrap_or_else(|| format!("{method} {}", r.url.path_and_query));
            if !names.insert(name.clone()) {
                return Err(invalid(format!("requests[{i}]: duplicate request name {name:?}")));
            }
            if r.weight == 0 {
                return Err(invalid(format!("requests[{i}] ({name}): weight must be at least 1")));
            }
            let mut headers: Vec<(String, String)> = r.headers.into_iter().collect();
            let body = match r.body {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(serde_json::Value::String(s)) => s.into_bytes(),
                Some(v) => {
                    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
                        headers.push(("Content-Type".to_string(), "application/json".to_string()));
                    }
                    serde_json::to_vec(&v).unwrap_or_default()
                }
            };
            let mut json = Vec::new();
            for (path, want) in r.checks.json {
                let steps =
                    parse_json_path(&path).map_err(|e| invalid(format!("requests[{i}] ({name}): checks.json: {e}")))?;
                json.push((path, steps, want));
            }
            let checks = Checks {
                status: r.checks.status,
                body_contains: r.checks.body_contains,
                max_latency: r.checks.max_latency,
                json,
            };
            let mut extract = Vec::new();
            for (var, how) in r.extract {
                let ex = match (how.json, how.header, how.regex) {
                    (Some(p), None, None) => Extract::Json(
                        parse_json_path(&p)
                            .map_err(|e| invalid(format!("requests[{i}] ({name}): extract.{var}: {e}")))?,
                    ),
                    (None, Some(h), None) => Extract::Header(h),
                    (None, None, Some(re)) => Extract::Regex(
                        regex::Regex::new(&re)
                            .map_err(|e| invalid(format!("requests[{i}] ({name}): extract.{var}: bad regex: {e}")))?,
                    ),
                    _ => {
                        return Err(invalid(format!(
                            "requests[{i}] ({name}): extract.{var}: give exactly one of json, header, regex"
                        )))
                    }
                };
                extract.push((var, ex));
            }
            requests.push(RequestSpec { name, url: r.url, method, headers, body, checks, weight: r.weight, extract });
        }
        let sequential = match raw.flow.as_deref() {
            None | Some("weighted") => false,
            Some("sequential") => true,
            Some(other) => {
                return Err(invalid(format!("flow: unknown flow {other:?}: expected weighted or sequential")))
            }
        };
        let data = match &raw.data {
            Some(f) => {
                let base = Path::new(file).parent().unwrap_or(Path::new(""));
                let table = DataTable::load(&base.join(f)).map_err(|e| invalid(format!("data: {e}")))?;
                Some(Arc::new(table))
            }
            None => None,
        };
        // In the open model each arrival is a new user with no variables, so in a weighted mix a value
        // extracted by one request can never reach another.
        let open = matches!(model, Some(Model::Open { .. }));
        let extracted: BTreeSet<&str> =
            requests.iter().flat_map(|r| r.extract.iter().map(|(n, _)| n.as_str())).collect();
        // Every ${name} must come from the data file or from some request's extract.
        let mut known: BTreeSet<&str> =
            requests.iter().flat_map(|r| r.extract.iter().map(|(n, _)| n.as_str())).collect();
        if let Some(d) = &data {
            known.extend(d.columns.iter().map(String::as_str));
        }
        for (i, r) in requests.iter().enumerate() {
            let body = String::from_utf8_lossy(&r.body);
            let texts = std::iter::once(("url", r.url.path_and_query.as_str()))
                .chain(r.headers.iter().map(|(_, v)| ("headers", v.as_str())))
                .chain(std::iter::once(("body", body.as_ref())));
            for (key, text) in texts {
                let t =
                    Template::parse(text).map_err(|e| invalid(format!("requests[{i}] ({}): {key}: {e}", r.name)))?;
                let unknown = t.vars().find(|v| !known.contains(v)).map(str::to_string);
                if let Some(v) = unknown {
                    return Err(invalid(format!(
                        "requests[{i}] ({}): {key}: ${{{v}}} is never set (not a data column, not extracted by any request)",
                        r.name
                    )));
                }
                let from_data = |v: &str| data.as_ref().is_some_and(|d| d.columns.iter().any(|c| c == v));
                let lost = t
                    .vars()
                    .find(|v| open && !sequential && extracted.contains(v) && !from_data(v))
                    .map(str::to_string);
                if let Some(v) = lost {
                    return Err(invalid(format!(
                        "requests[{i}] ({}): {key}: ${{{v}}} is extracted by a request, but in the open model each arrival of a weighted mix starts without variables: use flow: sequential",
                        r.name
                    )));
                }
            }
        }
        Ok(Scenario {
            iterations: raw.iterations,
            insecure: raw.insecure,
            http2: raw.http2,
            sequential,
            think_time: raw.think_time,
            data,
            duration: raw.duration,
            model,
            connections: raw.connections,
            thresholds: raw.thresholds.0,
            requests,
            stages,
            file: file.to_string(),
        })
    }

    /// A config running this scenario; what the file leaves out gets `LoadConfig::new`'s defaults
    /// (closed model with 1 VU, 10 s, pool sized for the model, 10 s timeout).
    pub fn into_config(self) -> LoadConfig {
        let model = self.model.unwrap_or(Model::Closed { vus: 1 });
        let first = &self.requests[0];
        let cfg = LoadConfig {
            target_name: self.file.clone(),
            stages: Vec::new(),
            sequential: self.sequential,
            think_time: self.think_time,
            data: self.data.clone(),
            insecure: self.insecure,
            ca_file: None,
            busy_poll: crate::config::BusyPoll::Auto,
            http2: self.http2,
            iterations: self.iterations,
            url: first.url.clone(),
            method: first.method.clone(),
            headers: first.headers.clone(),
            body: first.body.clone(),
            model,
            duration: self.duration.unwrap_or(if self.iterations.is_some() {
                ITERATIONS_MAX_DURATION
            } else {
                Duration::from_secs(10)
            }),
            connections: self.connections.unwrap_or_else(|| default_connections(model)),
            timeout: Duration::from_secs(10),
            backlog: DEFAULT_BACKLOG,
            thresholds: self.thresholds,
            requests: self.requests,
        };
        if self.stages.is_empty() {
            return cfg;
        }
        let duration = self.duration;
        let mut cfg = cfg.with_stages(self.stages);
        if let Some(d) = duration {
            cfg.duration = cfg.duration.max(d);
        }
        cfg
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    model: Option<String>,
    flow: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    http2: bool,
    iterations: Option<u64>,
    #[serde(default, deserialize_with = "de_think_time")]
    think_time: Option<Duration>,
    data: Option<String>,
    #[serde(default, deserialize_with = "de_duration")]
    duration: Option<Duration>,
    vus: Option<u32>,
    #[serde(default, deserialize_with = "de_rate")]
    rate: Option<f64>,
    connections: Option<usize>,
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(default)]
    requests: Vec<RawRequest>,
    #[serde(default)]
    stages: Vec<RawStage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    #[serde(deserialize_with = "de_stage_duration")]
    duration: Duration,
    #[serde(deserialize_with = "de_target")]
    target: f64,
}

fn de_stage_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    keyed(d, "duration", parse_duration)
}

fn de_target<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    keyed(d, "target", |s: &str| match s.trim_end_matches("/s").trim().parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("invalid target {s:?}: expected a number >= 0 (VUs, or requests per second)")),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    name: Option<String>,
    #[serde(default = "get")]
    method: String,
    #[serde(deserialize_with = "de_url")]
    url: HttpUrl,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<serde_json::Value>,
    #[serde(default)]
    checks: RawChecks,
    #[serde(default = "one")]
    weight: u32,
    #[serde(default)]
    extract: BTreeMap<String, RawExtract>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtract {
    json: Option<String>,
    header: Option<String>,
    regex: Option<String>,
}

fn de_think_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    keyed(d, "think_time", parse_duration).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    #[serde(default)]
    status: Vec<u16>,
    body_contains: Option<String>,
    #[serde(default, deserialize_with = "de_max_latency")]
    max_latency: Option<Duration>,
    #[serde(default)]
    json: BTreeMap<String, serde_json::Value>,
}

fn get() -> String {
    "GET".to_string()
}

fn one() -> u32 {
    1
}

/// A string or number, as YAML gives it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Num(f64),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::Num(n) => n.to_string(),
        }
    }
}

/// Parses a scalar while deserializing, so that its error carries the line; `key` completes the
/// key path (serde_norway's path names the enclosing mapping).
fn keyed<'de, D: Deserializer<'de>, T, E: std::fmt::Display>(
    d: D,
    key: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, D::Error> {
    let s = Scalar::deserialize(d)?.into_string();
    parse(&s).map_err(|e| D::Error::custom(format_args!("{key}: {e}")))
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    keyed(d, "duration", parse_duration).map(Some)
}

fn de_max_latency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    keyed(d, "max_latency", parse_duration).map(Some)
}

fn de_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    keyed(d, "rate", parse_rate).map(Some)
}

fn de_url<'de, D: Deserializer<'de>>(d: D) -> Result<HttpUrl, D::Error> {
    keyed(d, "url", HttpUrl::parse)
}

/// `thresholds:` as a list (`[p95<500ms, "p95{name=login}<300ms"]`) or as k6's map
/// (`{http_req_duration: ["p(95)<500"], "http_req_duration{name:login}": ["p(95)<300"]}`).
#[derive(Default)]
struct Thresholds(Vec<Threshold>);

impl<'de> Deserialize<'de> for Thresholds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Thresholds;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of threshold expressions, or a map of k6 metric to a list of expressions")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Thresholds, A::Error> {
                let mut out = Vec::new();
                // Each element is parsed where it is, so its error carries its line.
                while let Some(t) = seq.next_element::<Threshold>()? {
                    out.push(t);
                }
                Ok(Thresholds(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Thresholds, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    out.extend(map.next_value_seed(K6Seed(key))?);
                }
                Ok(Thresholds(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The expressions of one k6 metric key in a `thresholds:` map.
struct K6Seed(String);

impl<'de> serde::de::DeserializeSeed<'de> for K6Seed {
    type Value = Vec<Threshold>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Threshold>, D::Error> {
        let exprs = Vec::<String>::deserialize(d)?;
        exprs
            .iter()
            .map(|e| Threshold::parse_k6(&self.0, e))
            .collect::<Result<Vec<_>, ThresholdError>>()
            .map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Threshold::parse(&s).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
duration: 2s
rate: 50/s
connections: 4
thresholds: [p95<500ms, errors<1%]
requests:
  - name: list
    url: http://127.0.0.1:8080/items?page=1
    weight: 3
    checks: { status: [200, 404], body_contains: items, max_latency: 250ms }
  - method: post
    url: http://127.0.0.1:8080/items
    headers: { X-Token: abc }
    body: { name: widget, n: 2 }
  - name: raw
    method: PUT
    url: http://127.0.0.1:8080/raw
    headers: { content-type: text/plain }
    body: "hello"
"#;

    #[test]
    fn parses_a_full_scenario() {
        let s = Scenario::parse(FULL, "s.yaml").unwrap();
        assert_eq!(s.duration, Some(Duration::from_secs(2)));
        assert_eq!(s.model, Some(Model::Open { rate_per_sec: 50.0 }));
        assert_eq!(s.thresholds.len(), 2);
        let names: Vec<&str> = s.requests.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["list", "POST /items", "raw"]);
        let list = &s.requests[0];
        assert_eq!((list.weight, list.url.path_and_query.as_str()), (3, "/items?page=1"));
        assert_eq!(list.checks.status, [200, 404]);
        assert_eq!(list.checks.body_contains.as_deref(), Some("items"));
        assert_eq!(list.checks.max_latency, Some(Duration::from_millis(250)));
        let post = &s.requests[1];
        assert_eq!(post.body, br#"{"n":2,"name":"widget"}"#.to_vec());
        assert!(post.headers.contains(&("Content-Type".into(), "application/json".into())));
        let raw = &s.requests[2];
        assert_eq!((raw.body.as_slice(), raw.headers.len()), (&b"hello"[..], 1));
        let cfg = s.into_config();
        assert_eq!((cfg.connections, cfg.requests.len()), (4, 3));
        cfg.validate().unwrap();

        let s = Scenario::parse("requests: [{url: 'http://h/'}]\nvus: 3\n", "m.yaml").unwrap().into_config();
        assert_eq!((s.model, s.connections, s.duration), (Model::Closed { vus: 3 }, 3, Duration::from_secs(10)));
        let s = Scenario::parse("rate: 20\nrequests: [{url: 'http://h/'}]\n", "m.yaml").unwrap();
        assert_eq!(s.model, Some(Model::Open { rate_per_sec: 20.0 }));
    }

    #[test]
    fn k6_threshold_maps() {
        let yaml = "thresholds:\n  http_req_duration: ['p(95)<500', 'avg<200']\n  'http_req_duration{name:list}': ['p(99)<1s']\n  http_req_failed: ['rate<0.01']\nrequests: [{name: list, url: 'http://h/'}]\n";
        let s = Scenario::parse(yaml, "k.yaml").unwrap();
        let exprs: Vec<&str> = s.thresholds.iter().map(|t| t.expr.as_str()).collect();
        assert_eq!(
            exprs,
            [
                "http_req_duration: p(95)<500",
                "http_req_duration: avg<200",
                "http_req_duration{name:list}: p(99)<1s",
                "http_req_failed: rate<0.01"
            ]
        );
        s.into_config().validate().unwrap();
        let bad = "thresholds:\n  http_req_duration:\n    - 'p(42)<5'\nrequests: [{url: 'http://h/'}]\n";
        let e = Scenario::parse(bad, "k.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("k.yaml:2: thresholds: threshold \"http_req_duration: p(42)<5\"")
                && e.contains("unknown metric"),
            "{e}"
        );
        let unknown_name = "thresholds: ['p95{name=nope}<1s']\nrequests: [{url: 'http://h/'}]\n";
        let cfg = Scenario::parse(unknown_name, "k.yaml").unwrap().into_config();
        assert!(cfg.validate().unwrap_err().to_string().contains("no request has that name"));
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let cases: &[(&str, &str)] = &[
            ("duration: 1s\nvu: 3\n", "s.yaml:2: unknown field `vu`"),
            (
                "requests:\n  - url: http://h/\n    checks:\n      status: [200]\n      body_has: x\n",
                "s.yaml:5: requests[0].checks: unknown field `body_has`",
            ),
            ("requests:\n  - url: http://h/\n    wieght: 2\n", "s.yaml:3: requests[0]: unknown field `wieght`"),
            (
                "requests:\n  - url: http://h/\n    checks: {max_latency: 5}\n",
                "s.yaml:3: requests[0].checks: max_latency: invalid",
            ),
            ("rate: fast\n", "s.yaml:1: rate: invalid rate \"fast\""),
            ("duration: soon\n", "s.yaml:1: duration: invalid duration \"soon\""),
            ("requests:\n  - url: ftp://h/\n", "s.yaml:2: requests[0]: url: unsupported URL"),
            (
                "thresholds:\n  - p42<1s\nrequests: [{url: 'http://h/'}]\n",
                "s.yaml:2: thresholds: threshold \"p42<1s\": unknown metric",
            ),
            ("requests: [\n", "s.yaml:2: "),
            ("vus: 1\nrate: 5/s\nrequests: [{url: 'http://h/'}]\n", "s.yaml: set either vus"),
            ("duration: 1s\n", "s.yaml: requests: at least one"),
            (
                "requests: [{url: 'http://h/a'}, {url: 'http://h/a'}]\n",
                "s.yaml: requests[1]: duplicate request name \"GET /a\"",
            ),
            ("requests: [{url: 'http://h/a', weight: 0}]\n", "s.yaml: requests[0] (GET /a): weight must be at least 1"),
        ];
        let mut bad = Vec::new();
        for (yaml, want) in cases {
            let e = Scenario::parse(yaml, "s.yaml").expect_err(yaml).to_string();
            if !e.starts_with(want) {
                bad.push(format!("{yaml:?}:\n got  {e}\n want {want}"));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}
