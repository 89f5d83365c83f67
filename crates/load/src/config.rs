//! What to load and how: target, request, workload model, limits and thresholds.

use std::time::Duration;

use std::sync::Arc;

use crate::profile::{Profile, Stage};
use crate::threshold::Threshold;
use crate::vars::{DataTable, Extract, PathStep};

/// The default open-model backlog: how many seconds of requests (at the target rate) may wait for a
/// connection before new iterations are dropped.
pub const DEFAULT_BACKLOG: Duration = Duration::from_secs(10);

/// Errors in a load configuration, a rate or a duration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The URL does not start with `http://` or `https://`.
    #[error("unsupported URL {0:?}: only http:// and https:// are supported")]
    UnsupportedScheme(String),
    /// The TLS client could not be set up (a bad `--cacert` file).
    #[error("tls: {0}")]
    Tls(String),
    /// The URL has no usable host or port.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A rate is not `N`, `N/s`, `N/m` or `N/h` with N > 0.
    #[error("invalid rate {0:?}: expected a positive number per time unit, e.g. 500/s, 30000/m")]
    InvalidRate(String),
    /// A duration is not a number followed by a unit (`us`, `ms`, `s`, `m`, `h`).
    #[error("invalid duration {0:?}: expected a number and a unit (us, ms, s, m, h), e.g. 30s, 500ms")]
    InvalidDuration(String),
    /// A model parameter is zero.
    #[error("invalid workload model: {0}")]
    InvalidModel(&'static str),
    /// A threshold names a request the run does not have.
    #[error("threshold {0:?}: no request has that name")]
    UnknownRequest(String),
    /// `--stages` is not a comma-separated list of `DURATION:TARGET`.
    #[error("invalid stages {0:?}: expected DURATION:TARGET pairs separated by commas, e.g. 30s:50,1m:50,10s:0")]
    InvalidStages(String),
    /// A header name or value contains a line break or is not a valid token.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// A request cannot be sent over HTTP/2 (`--http2`): names the method, URL or header.
    #[error("HTTP/2: request {name:?} cannot be sent: {reason}")]
    Http2 {
        /// The request's name.
        name: String,
        /// What HTTP/2 cannot carry.
        reason: String,
    },
}

/// How long a run bounded by `iterations` may last when no duration is given (k6's maxDuration).
pub const ITERATIONS_MAX_DURATION: Duration = Duration::from_secs(600);

/// An `http://` or `https://` URL split into what the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https`: the connection is TLS.
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port (80, or 443 for https, when not given).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

impl HttpUrl {
    /// Parses `http[s]://host[:port][/path][?query]`.
    pub fn parse(url: &str) -> Result<HttpUrl, ConfigError> {
        let invalid = |reason| ConfigError::InvalidUrl { url: url.to_string(), reason };
        let (tls, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some(_) => return Err(ConfigError::UnsupportedScheme(url.to_string())),
            None => return Err(invalid("missing http:// prefix")),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path_and_query = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
        if authority.contains('@') {
            return Err(invalid("user info in URLs is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| invalid("unterminated IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(invalid("garbage after IPv6 address")),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("empty host"));
        }
        if tls && tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string()).is_err() {
            return Err(invalid("not a valid TLS server name"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| invalid("bad port"))?,
            None if tls => 443,
            None => 80,
        };
        Ok(HttpUrl { tls, host: host.to_string(), port, path_and_query })
    }

    /// The value of the `Host` header: the host, with the port when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// The workload model: who decides when the next request starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// `vus` virtual users, each sending its next request as soon as the previous response arrives.
    Closed {
        /// Number of concurrent virtual users.
        vus: u32,
    },
    /// Requests start at a fixed rate regardless of how fast responses come (latency counted from
    /// the intended start, correcting coordinated omission).
    Open {
        /// Requests per second.
        rate_per_sec: f64,
    },
}

/// A load test: one request (or a scenario's weighted mix of requests) sent repeatedly under a workload
/// model for a duration.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Target URL.
    pub url: HttpUrl,
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Extra request headers (`Host`, `Content-Length` and `Connection` are set by the client).
    pub headers: Vec<(String, String)>,
    /// Request body; empty means none.
    pub body: Vec<u8>,
    /// Open or closed workload model.
    pub model: Model,
    /// How long the run lasts.
    pub duration: Duration,
    /// Size of the connection pool (keep-alive connections).
    pub connections: usize,
    /// Per-request timeout, from the moment the request gets a connection.
    pub timeout: Duration,
    /// Open model: the longest queue of waiting requests, in time at the target rate (default 10 s);
    /// beyond it iterations are dropped.
    pub backlog: Duration,
    /// Thresholds checked against the summary.
    pub thresholds: Vec<Threshold>,
    /// A scenario's requests, each iteration picking one by weight; when empty, every iteration sends
    /// the single request described by `url`, `method`, `headers` and `body`.
    pub requests: Vec<RequestSpec>,
    /// Ramping: the target (VUs or rate) moves linearly through these from the model's start value;
    /// empty for a constant load.
    pub stages: Vec<Stage>,
    /// What the run is aimed at, for reports (the URL, or the scenario file).
    pub target_name: String,
    /// Every iteration sends all `requests` in order (a user journey) instead of one by weight.
    pub sequential: bool,
    /// Pause after each request (closed model) or between the steps of a sequential flow.
    pub think_time: Option<Duration>,
    /// CSV rows handed to iterations in turn; the columns become `${name}` variables.
    pub data: Option<Arc<DataTable>>,
    /// Stop after this many iterations (or at `duration`, whichever comes first).
    pub iterations: Option<u64>,
    /// https: accept any server certificate (self-signed test servers).
    pub insecure: bool,
    /// https: trust the CA certificates in this PEM file instead of the built-in roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Whether the runtime's threads poll for responses instead of sleeping while they keep coming.
    pub busy_poll: BusyPoll,
    /// Speak HTTP/2 (h2c with prior knowledge on http, ALPN `h2` on https): `connections` connections,
    /// each carrying up to 100 concurrent streams.
    pub http2: bool,
}

/// When the load generator's threads busy-poll (`--busy-poll`).
///
/// A thread that sleeps between responses has to be woken by the kernel for the next one, and on
/// loopback that wake-up is paid on the core of the server under test (a cross-core interrupt, costly
/// in a virtual machine). Polling while responses keep arriving spares the server that work, at the
/// price of a busy core per thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusyPoll {
    /// Poll while at least 20,000 responses per second arrive, when the runtime has fewer threads than
    /// the machine has cores (`--threads 1` on a multi-core machine), so a core stays for the rest; under
    /// a CPU quota (a container's `--cpus`), fewer threads than the quota.
    #[default]
    Auto,
    /// Poll while at least 20,000 responses per second arrive, whatever the thread count.
    On,
    /// Never: threads sleep whenever they have nothing to do.
    Off,
}

impl std::str::FromStr for BusyPoll {
    type Err = String;
    fn from_str(s: &str) -> Result<BusyPoll, String> {
        match s {
            "auto" => Ok(BusyPoll::Auto),
            "on" => Ok(BusyPoll::On),
            "off" => Ok(BusyPoll::Off),
            other => Err(format!("busy poll must be auto, on or off, not {other:?}")),
        }
    }
}

/// One named request of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// Name, unique in the scenario; keys `requests_by_name` in the summary.
    pub name: String,
    /// Target URL.
    pub url: HttpUrl,
    /// HTTP method.
    pub method: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Request body; empty means none.
    pub body: Vec<u8>,
    /// Conditions on the response; a failing one counts as a `check` error.
    pub checks: Checks,
    /// Relative share of iterations (at least 1).
    pub weight: u32,
    /// Variables to take from the response, for later requests' `${name}` placeholders.
    pub extract: Vec<(String, Extract)>,
}

/// Conditions a scenario request's response must meet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks {
    /// Accepted status codes; when empty, any status below 400 (and >= 400 counts as a `status` error).
    /// When given, a listed status is fine even if >= 400, and an unlisted one is a `check` error.
    pub status: Vec<u16>,
    /// A substring the response body must contain (bodies are read up to 1 MiB for this).
    pub body_contains: Option<String>,
    /// The longest acceptable latency (measured as for the summary).
    pub max_latency: Option<Duration>,
    /// Values the JSON body must have at these paths (`data.status: ok`).
    pub json: Vec<(String, Vec<PathStep>, serde_json::Value)>,
}

impl LoadConfig {
    /// A GET of `url` with defaults: closed model with 1 VU, 10 s, 1 connection, 10 s timeout.
    pub fn new(url: &str) -> Result<LoadConfig, ConfigError> {
        Ok(LoadConfig {
            target_name: url.to_string(),
            stages: Vec::new(),
            sequential: false,
            think_time: None,
            data: None,
            iterations: None,
            insecure: false,
            ca_file: None,
            busy_poll: BusyPoll::Auto,
            http2: false,
            url: HttpUrl::parse(url)?,
            method: "GET".to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            model: Model::Closed { vus: 1 },
            duration: Duration::from_secs(10),
            connections: 1,
            timeout: Duration::from_secs(10),
            backlog: DEFAULT_BACKLOG,
            thresholds: Vec::new(),
            requests: Vec::new(),
        })
    }

    /// Sets the model and the default pool size for it (`vus` for closed, 100 for open).
    pub fn with_model(mut self, model: Model) -> LoadConfig {
        self.model = model;
        self.connections = default_connections(model);
        self
    }

    /// Checks the model, pool size, method and headers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ramps = !self.stages.is_empty();
        match self.model {
            Model::Closed { vus: 0 } if !ramps => return Err(ConfigError::InvalidModel("vus must be at least 1")),
            Model::Open { rate_per_sec }
                if !ramps && (rate_per_sec.is_nan() || rate_per_sec <= 0.0 || rate_per_sec.is_infinite()) =>
            {
                return Err(ConfigError::InvalidModel("rate must be a positive number"))
            }
            Model::Open { rate_per_sec } if !(rate_per_sec >= 0.0 && rate_per_sec.is_finite()) => {
                return Err(ConfigError::InvalidModel("the start rate must be a number >= 0"))
            }
            _ => {}
        }
        if self.duration.as_secs_f64() > MAX_DURATION_SECS {
            return Err(ConfigError::InvalidModel("a run lasts at most a year"));
        }
        if self.iterations == Some(0) {
            return Err(ConfigError::InvalidModel("iterations must be at least 1"));
        }
        if ramps && self.profile().max() <= 0.0 {
            return Err(ConfigError::InvalidModel("the stages never go above 0"));
        }
        if self.max_vus() > 100_000 {
            return Err(ConfigError::InvalidModel("at most 100000 VUs"));
        }
        if self.connections == 0 {
            return Err(ConfigError::InvalidModel("connections must be at least 1"));
        }
        let is_token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        let mut names = std::collections::BTreeSet::new();
        let mut total_weight = 0u64;
        for r in self.request_specs() {
            if !is_token(&r.method) {
                return Err(ConfigError::InvalidHeader(format!("method {}", r.method)));
            }
            for (name, value) in &r.headers {
                if !is_token(name) || value.contains(['\r', '\n']) {
                    return Err(ConfigError::InvalidHeader(format!("{name}: {value}")));
                }
            }
            if r.weight == 0 {
                return Err(ConfigError::InvalidModel("request weights must be at least 1"));
            }
            total_weight += u64::from(r.weight);
            if !names.insert(r.name) {
                return Err(ConfigError::InvalidModel("request names must be unique"));
            }
        }
        for t in &self.thresholds {
            if let Some(name) = &t.scope {
                if !self.request_specs().iter().any(|r| &r.name == name) {
                    return Err(ConfigError::UnknownRequest(t.expr.clone()));
                }
            }
        }
        if total_weight > MAX_TOTAL_WEIGHT {
            return Err(ConfigError::InvalidModel("request weights must add up to at most 10000"));
        }
        Ok(())
    }

    /// The load over time: the model's start value, through the stages.
    pub(crate) fn profile(&self) -> Profile {
        let start = match self.model {
            Model::Closed { vus } => f64::from(vus),
            Model::Open { rate_per_sec } => rate_per_sec,
        };
        Profile::new(start, self.duration, &self.stages)
    }

    /// Closed model: the most VUs running at once (0 for the open model).
    pub fn max_vus(&self) -> u32 {
        match self.model {
            Model::Closed { .. } => self.profile().max().ceil().min(f64::from(u32::MAX)) as u32,
            Model::Open { .. } => 0,
        }
    }

    /// Sets ramping stages; the duration becomes their total (set a longer one afterwards to hold the
    /// last target), and the closed model's pool grows to the most VUs.
    pub fn with_stages(mut self, stages: Vec<Stage>) -> LoadConfig {
        let total = stages.iter().fold(Duration::ZERO, |a, s| a.saturating_add(s.duration));
        self.duration = total;
        self.stages = stages;
        if let Model::Closed { .. } = self.model {
            self.connections = self.connections.max(self.max_vus() as usize);
        }
        self
    }

    /// The requests iterations choose from: the scenario's, or the single one of `url`, `method`,
    /// `headers` and `body` (named `default`, without checks).
    pub(crate) fn request_specs(&self) -> Vec<RequestSpec> {
        if !self.requests.is_empty() {
            return self.requests.clone();
        }
        vec![RequestSpec {
            name: "default".to_string(),
            url: self.url.clone(),
            method: self.method.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            checks: Checks::default(),
            weight: 1,
            extract: Vec::new(),
        }]
    }
}

/// The largest sum of request weights (the length of the weighted round-robin cycle).
const MAX_TOTAL_WEIGHT: u64 = 10_000;

/// The order in which requests of the given weights are sent, one cycle long (sum of the weights):
/// smooth weighted round robin, so `[3, 1]` gives `0 0 1 0`-like interleavings rather than bursts.
pub(crate) fn weighted_order(weights: &[u32]) -> Vec<usize> {
    let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut order = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        for (c, w) in current.iter_mut().zip(weights) {
            *c += i64::from(*w);
        }
        let Some(best) = (0..weights.len()).max_by_key(|&i| (current[i], std::cmp::Reverse(i))) else { break };
        current[best] -= total;
        order.push(best);
    }
    order
}

/// The default pool size for a model: one connection per VU, or 100 for the open model.
pub fn default_connections(model: Model) -> usize {
    match model {
        Model::Closed { vus } => vus.max(1) as usize,
        Model::Open { .. } => 100,
    }
}

/// Parses a rate: `500`, `500/s`, `30000/m`, `100/h` → requests per second.
pub fn parse_rate(s: &str) -> Result<f64, ConfigError> {
    let err = || ConfigError::InvalidRate(s.to_string());
    let (num, per) = match s.trim().split_once('/') {
        Some((n, u)) => {
            let per = match u.trim() {
                "s" | "1s" | "sec" => 1.0,
                "m" | "1m" | "min" => 60.0,
                "h" | "1h" => 3600.0,
                _ => return Err(err()),
            };
            (n.trim(), per)
        }
        None => (s.trim(), 1.0),
    };
    let n: f64 = num.parse().map_err(|_| err())?;
    if !(n > 0.0 && n.is_finite()) {
        return Err(err());
    }
    Ok(n / per)
}

/// Parses a duration: a non-negative number followed by `us`, `ms`, `s`, `m` or `h` (`1.5s`, `500ms`).
pub fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let err = || ConfigError::InvalidDuration(s.to_string());
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| err())?;
    let secs = match unit {
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err()),
    };
    // At most a year: longer ones are typos, and they would overflow clock arithmetic.
    if !(0.0..=MAX_DURATION_SECS).contains(&secs) {
        return Err(err());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| err())
}

/// The longest duration accepted anywhere (a year).
const MAX_DURATION_SECS: f64 = 366.0 * 86400.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/a/b?x=1").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path_and_query.as_str()), ("127.0.0.1", 8080, "/a/b?x=1"));
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        let u = HttpUrl::parse("http://example.com").unwrap();
        assert_eq!((u.port, u.path_and_query.as_str(), u.host_header()), (80, "/", "example.com".into()));
        let u = HttpUrl::parse("http://[::1]:9/?q").unwrap();
        assert_eq!((u.host.as_str(), u.path_and_query.as_str(), u.host_header()), ("::1", "/?q", "[::1]:9".into()));
        let u = HttpUrl::parse("https://x").unwrap();
        assert_eq!((u.tls, u.port, u.host_header()), (true, 443, "x".into()));
        let u = HttpUrl::parse("https://x:8443/a").unwrap();
        assert_eq!((u.tls, u.port, u.host_header()), (true, 8443, "x:8443".into()));
        assert!(matches!(HttpUrl::parse("ftp://x"), Err(ConfigError::UnsupportedScheme(_))));
        assert!(HttpUrl::parse("x.com").is_err());
        assert!(HttpUrl::parse("http://:80/").is_err());
        assert!(HttpUrl::parse("http://h:99999/").is_err());
    }

    #[test]
    fn parses_rates_and_durations() {
        assert_eq!(parse_rate("500/s").unwrap(), 500.0);
        assert_eq!(parse_rate("600/m").unwrap(), 10.0);
        assert_eq!(parse_rate("7").unwrap(), 7.0);
        for bad in ["0/s", "-1", "x/s", "5/d", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        for bad in ["30", "s", "1x", "-1s", "", "9000h", "999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weighted_order_is_smooth_and_exact() {
        assert_eq!(weighted_order(&[1]), vec![0]);
        assert_eq!(weighted_order(&[1, 1]), vec![0, 1]);
        assert_eq!(weighted_order(&[5, 1, 1]), vec![0, 0, 1, 0, 2, 0, 0]);
        let o = weighted_order(&[3, 2]);
        assert_eq!((o.len(), o.iter().filter(|&&i| i == 0).count()), (5, 3));
    }
}
