//! `probe_modules:` — blackbox_exporter's module schema (a `blackbox.yml` `modules:` section pastes in
//! unchanged), plus vitals' own `tls` and `journey` probers.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use vitals_client::{Authorization, BasicAuth, Secret, TlsConfig};
use vitals_model::PromDuration;

use crate::journey::JsonPath;

/// Why a module is not acceptable; every variant names the module.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The YAML does not match the schema (unknown key, wrong type, bad regexp).
    #[error("probe module {module:?}: {message}")]
    Parse {
        /// The module.
        module: String,
        /// What serde said.
        message: String,
    },
    /// The prober exists in blackbox_exporter but not in vitals.
    #[error(
        "probe module {module:?}: prober {prober:?} is not supported by vitals (use http, tcp, tls, dns or journey)"
    )]
    NotSupported {
        /// The module.
        module: String,
        /// The prober name.
        prober: String,
    },
    /// A setting is out of range or contradicts another.
    #[error("probe module {module:?}: {message}")]
    Invalid {
        /// The module.
        module: String,
        /// What is wrong.
        message: String,
    },
}

/// All modules by name, as under `probe_modules:` (or blackbox.yml's `modules:`).
pub type Modules = BTreeMap<String, Module>;

/// Parses a `modules:` map (YAML mapping of name → module) and validates every module.
pub fn parse_modules(yaml: &str) -> Result<Modules, ConfigError> {
    let raw: BTreeMap<String, serde_norway::Value> = serde_norway::from_str(yaml)
        .map_err(|e| ConfigError::Parse { module: String::new(), message: e.to_string() })?;
    let mut out = Modules::new();
    for (name, value) in raw {
        let module: Module = serde_norway::from_value(value)
            .map_err(|e| ConfigError::Parse { module: name.clone(), message: e.to_string() })?;
        module.validate(&name)?;
        out.insert(name, module);
    }
    Ok(out)
}

/// Parses a whole blackbox_exporter configuration file (`modules:` at the top).
pub fn parse_blackbox_file(yaml: &str) -> Result<Modules, ConfigError> {
    let mut raw: BTreeMap<String, serde_norway::Value> = serde_norway::from_str(yaml)
        .map_err(|e| ConfigError::Parse { module: String::new(), message: e.to_string() })?;
    let modules = raw.remove("modules").unwrap_or(serde_norway::Value::Null);
    if let Some(k) = raw.keys().next() {
        return Err(ConfigError::Parse { module: String::new(), message: format!("unknown top-level key {k:?}") });
    }
    let text = serde_norway::to_string(&modules).unwrap_or_default();
    if modules.is_null() {
        return Ok(Modules::new());
    }
    parse_modules(&text)
}

/// Which prober a module uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProberKind {
    /// An HTTP(S) request.
    Http,
    /// A TCP connection with optional query/response dialogue and TLS.
    Tcp,
    /// vitals: a TLS connection (tcp with `tls: true`), for certificate checks.
    Tls,
    /// A DNS query to the target server.
    Dns,
    /// vitals: several HTTP steps, passing values from one response to the next request.
    Journey,
    /// blackbox_exporter's ICMP prober (rejected: needs raw sockets).
    Icmp,
    /// blackbox_exporter's gRPC health prober (rejected).
    Grpc,
}

impl fmt::Display for ProberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ProberKind::Http => "http",
            ProberKind::Tcp => "tcp",
            ProberKind::Tls => "tls",
            ProberKind::Dns => "dns",
            ProberKind::Journey => "journey",
            ProberKind::Icmp => "icmp",
            ProberKind::Grpc => "grpc",
        };
        f.write_str(s)
    }
}

/// One probe module.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// The prober.
    pub prober: ProberKind,
    /// Upper bound for one probe (the caller's timeout applies too).
    #[serde(default)]
    pub timeout: Option<PromDuration>,
    /// Settings of the http prober.
    #[serde(default)]
    pub http: HttpProbe,
    /// Settings of the tcp and tls probers.
    #[serde(default)]
    pub tcp: TcpProbe,
    /// Settings of the dns prober.
    #[serde(default)]
    pub dns: DnsProbe,
    /// Settings of the journey prober.
    #[serde(default)]
    pub journey: JourneyProbe,
    /// blackbox_exporter's icmp settings: accepted so a file pastes in, never used.
    #[serde(default)]
    pub icmp: Option<serde_norway::Value>,
    /// blackbox_exporter's grpc settings: accepted so a file pastes in, never used.
    #[serde(default)]
    pub grpc: Option<serde_norway::Value>,
}

impl Module {
    /// A module of `prober` with every setting at its default.
    pub fn new(prober: ProberKind) -> Module {
        Module {
            prober,
            timeout: None,
            http: HttpProbe::default(),
            tcp: TcpProbe::default(),
            dns: DnsProbe::default(),
            journey: JourneyProbe::default(),
            icmp: None,
            grpc: None,
        }
    }

    /// The timeout of one probe: the module's, bounded by the caller's.
    pub fn effective_timeout(&self, caller: Duration) -> Duration {
        match self.timeout {
            Some(t) if !t.0.is_zero() => t.0.min(caller),
            _ => caller,
        }
    }

    /// Checks the module; errors name it.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { module: name.to_string(), message };
        match self.prober {
            ProberKind::Icmp | ProberKind::Grpc => {
                return Err(ConfigError::NotSupported { module: name.to_string(), prober: self.prober.to_string() })
            }
            ProberKind::Http => {
                let h = &self.http;
                check_ip_protocol(&h.preferred_ip_protocol).map_err(invalid)?;
                if !matches!(h.compression.as_str(), "" | "identity" | "gzip" | "deflate") {
                    return Err(invalid(format!(
                        "http compression {:?}: use gzip, deflate or identity",
                        h.compression
                    )));
                }
                for v in &h.valid_http_versions {
                    if !v.starts_with("HTTP/") {
                        return Err(invalid(format!("valid_http_versions {v:?}: write versions as HTTP/1.1")));
                    }
                }
                let auths = [
                    h.basic_auth.is_some(),
                    h.bearer_token.is_some(),
                    h.bearer_token_file.is_some(),
                    h.authorization.is_some(),
                ];
                if auths.iter().filter(|b| **b).count() > 1 {
                    return Err(invalid(
                        "at most one of basic_auth, bearer_token, bearer_token_file and authorization".into(),
                    ));
                }
                if h.fail_if_ssl && h.fail_if_not_ssl {
                    return Err(invalid("fail_if_ssl and fail_if_not_ssl together always fail".into()));
                }
                if h.body.is_some() && h.body_file.is_some() {
                    return Err(invalid("at most one of body and body_file".into()));
                }
                check_tls(&h.tls_config).map_err(invalid)?;
            }
            ProberKind::Tcp | ProberKind::Tls => {
                check_ip_protocol(&self.tcp.preferred_ip_protocol).map_err(invalid)?;
                check_tls(&self.tcp.tls_config).map_err(invalid)?;
                for (i, q) in self.tcp.query_response.iter().enumerate() {
                    if q.expect.is_none() && q.send.is_none() && !q.starttls {
                        return Err(invalid(format!("query_response[{i}] has none of expect, send, starttls")));
                    }
                }
            }
            ProberKind::Dns => {
                let d = &self.dns;
                check_ip_protocol(&d.preferred_ip_protocol).map_err(invalid)?;
                if d.query_name.is_empty() {
                    return Err(invalid("dns query_name is required".into()));
                }
                crate::dns::record_type(&d.query_type).map_err(invalid)?;
                if !matches!(d.transport_protocol.as_str(), "" | "udp" | "tcp") {
                    return Err(invalid(format!("dns transport_protocol {:?}: use udp or tcp", d.transport_protocol)));
                }
                for r in &d.valid_rcodes {
                    crate::dns::rcode(r).map_err(invalid)?;
                }
            }
            ProberKind::Journey => {
                if self.journey.steps.is_empty() {
                    return Err(invalid("journey needs at least one step".into()));
                }
                let mut seen = HashSet::new();
                for s in &self.journey.steps {
                    if !seen.insert(s.name.as_str()) {
                        return Err(invalid(format!("journey step name {:?} is used twice", s.name)));
                    }
                    if s.url.is_empty() {
                        return Err(invalid(format!("journey step {:?} needs a url", s.name)));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_ip_protocol(p: &str) -> Result<(), String> {
    match p {
        "" | "ip4" | "ip6" => Ok(()),
        other => Err(format!("preferred_ip_protocol {other:?}: use ip4 or ip6")),
    }
}

fn check_tls(t: &TlsConfig) -> Result<(), String> {
    if t.cert_file.is_some() != t.key_file.is_some() {
        return Err("tls_config needs both cert_file and key_file, or neither".into());
    }
    if let Some(v) = &t.min_version {
        if !matches!(v.as_str(), "TLS12" | "TLS13") {
            return Err(format!("tls_config min_version {v:?}: use TLS12 or TLS13"));
        }
    }
    Ok(())
}

fn yes() -> bool {
    true
}

/// A compiled regular expression that deserialises from its source text.
#[derive(Clone)]
pub struct Regexp(pub regex::Regex);

impl fmt::Debug for Regexp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Regexp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        regex::Regex::new(&s).map(Regexp).map_err(|e| serde::de::Error::custom(format!("regexp {s:?}: {e}")))
    }
}

/// `fail_if_header_matches` / `fail_if_header_not_matches` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    /// Header name (case-insensitive).
    pub header: String,
    /// Pattern tried against each value.
    pub regexp: Regexp,
    /// A missing header is not a failure.
    #[serde(default)]
    pub allow_missing: bool,
}

/// `http:` — blackbox_exporter's HTTP prober settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    /// Accepted status codes (default: any 2xx).
    #[serde(default)]
    pub valid_status_codes: Vec<u16>,
    /// Accepted versions, e.g. `HTTP/1.1` (default: any).
    #[serde(default)]
    pub valid_http_versions: Vec<String>,
    /// Request method (default GET).
    #[serde(default)]
    pub method: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// File holding the request body.
    #[serde(default)]
    pub body_file: Option<std::path::PathBuf>,
    /// Ask for and decode this content encoding: `gzip`, `deflate` or `identity`.
    #[serde(default)]
    pub compression: String,
    /// Follow redirects (at most 10).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Deprecated blackbox spelling of `follow_redirects: false`.
    #[serde(default)]
    pub no_follow_redirects: bool,
    /// Fail when the final response came over TLS.
    #[serde(default)]
    pub fail_if_ssl: bool,
    /// Fail when the final response did not come over TLS.
    #[serde(default)]
    pub fail_if_not_ssl: bool,
    /// Fail when the body matches any of these.
    #[serde(default)]
    pub fail_if_body_matches_regexp: Vec<Regexp>,
    /// Fail unless the body matches every one of these.
    #[serde(default)]
    pub fail_if_body_not_matches_regexp: Vec<Regexp>,
    /// Fail when a header value matches.
    #[serde(default)]
    pub fail_if_header_matches: Vec<HeaderMatch>,
    /// Fail when no value of a header matches.
    #[serde(default)]
    pub fail_if_header_not_matches: Vec<HeaderMatch>,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// A file holding a bearer token.
    #[serde(default)]
    pub bearer_token_file: Option<std::path::PathBuf>,
    /// An `Authorization` header.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// `ip4` or `ip6` (default, as blackbox_exporter).
    #[serde(default)]
    pub preferred_ip_protocol: String,
    /// Use the other family when the preferred one has no address (default true).
    #[serde(default = "yes")]
    pub ip_protocol_fallback: bool,
    /// Accepted for compatibility; this prober speaks HTTP/1.1.
    #[serde(default = "yes")]
    pub enable_http2: bool,
}

impl Default for HttpProbe {
    fn default() -> Self {
        serde_norway::from_str("{}").expect("defaults")
    }
}

impl HttpProbe {
    /// Whether redirects are followed.
    pub fn follows_redirects(&self) -> bool {
        self.follow_redirects && !self.no_follow_redirects
    }
}

/// One step of a TCP dialogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryResponse {
    /// Read lines until one matches (`${1}` style groups may be used in the next `send`).
    #[serde(default)]
    pub expect: Option<Regexp>,
    /// Write this (a newline is appended).
    #[serde(default)]
    pub send: Option<String>,
    /// Upgrade the connection to TLS here.
    #[serde(default)]
    pub starttls: bool,
}

/// `tcp:` — blackbox_exporter's TCP prober settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    /// The dialogue.
    #[serde(default)]
    pub query_response: Vec<QueryResponse>,
    /// Speak TLS from the start.
    #[serde(default)]
    pub tls: bool,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// `ip4` or `ip6` (default).
    #[serde(default)]
    pub preferred_ip_protocol: String,
    /// Use the other family when the preferred one has no address (default true).
    #[serde(default = "yes")]
    pub ip_protocol_fallback: bool,
    /// Accepted for compatibility; not used.
    #[serde(default)]
    pub source_ip_address: Option<String>,
}

impl Default for TcpProbe {
    fn default() -> Self {
        serde_norway::from_str("{}").expect("defaults")
    }
}

/// `validate_*_rrs:` — patterns over the records of one section (each in zone-file text form).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RrValidator {
    /// Fail if any record matches any of these.
    #[serde(default)]
    pub fail_if_matches_regexp: Vec<Regexp>,
    /// Fail if some pattern matches no record.
    #[serde(default)]
    pub fail_if_not_matches_regexp: Vec<Regexp>,
    /// Fail if every record matches one of these.
    #[serde(default)]
    pub fail_if_all_match_regexp: Vec<Regexp>,
    /// Fail if some pattern matches no record (blackbox's newer spelling).
    #[serde(default)]
    pub fail_if_none_matches_regexp: Vec<Regexp>,
}

/// `dns:` — blackbox_exporter's DNS prober settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsProbe {
    /// The name asked for.
    #[serde(default)]
    pub query_name: String,
    /// The record type (default ANY).
    #[serde(default = "any")]
    pub query_type: String,
    /// The class (only IN).
    #[serde(default)]
    pub query_class: Option<String>,
    /// Accepted response codes (default NOERROR).
    #[serde(default)]
    pub valid_rcodes: Vec<String>,
    /// Checks on the answer section.
    #[serde(default)]
    pub validate_answer_rrs: RrValidator,
    /// Checks on the authority section.
    #[serde(default)]
    pub validate_authority_rrs: RrValidator,
    /// Checks on the additional section.
    #[serde(default)]
    pub validate_additional_rrs: RrValidator,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub transport_protocol: String,
    /// `ip4` or `ip6` (default).
    #[serde(default)]
    pub preferred_ip_protocol: String,
    /// Use the other family when the preferred one has no address (default true).
    #[serde(default = "yes")]
    pub ip_protocol_fallback: bool,
    /// Set the RD bit (default true).
    #[serde(default = "yes")]
    pub recursion_desired: bool,
    /// Accepted for compatibility; not used.
    #[serde(default)]
    pub source_ip_address: Option<String>,
}

fn any() -> String {
    "ANY".into()
}

impl Default for DnsProbe {
    fn default() -> Self {
        serde_norway::from_str("{}").expect("defaults")
    }
}

/// `journey:` — vitals' multi-step HTTP check.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JourneyProbe {
    /// The steps, run in order; the journey stops at the first failing step.
    #[serde(default)]
    pub steps: Vec<JourneyStep>,
    /// TLS settings for every step.
    #[serde(default)]
    pub tls_config: TlsConfig,
}

/// One request of a journey. `{{ name }}` in url, headers and body is replaced by an extracted value
/// (or by the target, for `{{ target }}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyStep {
    /// The step's name (in failure reasons).
    pub name: String,
    /// Method (default GET).
    #[serde(default)]
    pub method: String,
    /// URL (may start with `{{ target }}`).
    #[serde(default)]
    pub url: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// What the response must be.
    #[serde(default)]
    pub expect: StepExpect,
    /// Values to keep for later steps: name → JSONPath into the response body.
    #[serde(default)]
    pub extract: BTreeMap<String, JsonPath>,
}

/// `expect:` of a journey step.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StepExpect {
    /// Accepted status codes (default any 2xx).
    #[serde(default)]
    pub status: Vec<u16>,
    /// Slowest acceptable response (request sent to body read).
    #[serde(default)]
    pub max_latency: Option<PromDuration>,
    /// The body must match this.
    #[serde(default)]
    pub body_regexp: Option<Regexp>,
    /// A JSON value that must exist (and equal `equals` when given).
    #[serde(default)]
    pub json: Option<JsonExpect>,
}

/// `expect.json:` of a journey step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExpect {
    /// Where.
    pub path: JsonPath,
    /// The expected value (any JSON); absent: the path must merely exist.
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blackbox_example_pastes_in() {
        let yaml = r#"
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      valid_http_versions: ["HTTP/1.1", "HTTP/2.0"]
      valid_status_codes: []
      method: GET
      headers:
        Host: vhost.example.com
        Accept-Language: en-US
      no_follow_redirects: false
      fail_if_ssl: false
      fail_if_not_ssl: false
      fail_if_body_matches_regexp: ["Could not connect to database"]
      fail_if_body_not_matches_regexp: ["Download the latest version here"]
      fail_if_header_matches:
        - header: Set-Cookie
          allow_missing: true
          regexp: '.*'
      fail_if_header_not_matches:
        - header: Access-Control-Allow-Origin
          regexp: '(\*|example\.com)'
      tls_config:
        insecure_skip_verify: false
      preferred_ip_protocol: "ip4"
      ip_protocol_fallback: false
  http_post_2xx:
    prober: http
    http:
      method: POST
      basic_auth:
        username: "username"
        password: "mysecret"
  tcp_connect:
    prober: tcp
  smtp_starttls:
    prober: tcp
    timeout: 5s
    tcp:
      query_response:
        - expect: "^220 ([^ ]+) ESMTP (.+)$"
        - send: "EHLO prober\r"
        - expect: "^250-STARTTLS"
        - send: "STARTTLS\r"
        - expect: "^220"
        - starttls: true
        - send: "EHLO prober\r"
        - expect: "^250-AUTH"
        - send: "QUIT\r"
  dns_udp:
    prober: dns
    timeout: 5s
    dns:
      query_name: "www.prometheus.io"
      query_type: "A"
      valid_rcodes:
        - NOERROR
      validate_answer_rrs:
        fail_if_matches_regexp:
          - ".*127.0.0.1"
        fail_if_all_match_regexp:
          - ".*127.0.0.1"
        fail_if_not_matches_regexp:
          - "www.prometheus.io.\t300\tIN\tA\t127.0.0.1"
      validate_authority_rrs:
        fail_if_matches_regexp:
          - ".*127.0.0.1"
      validate_additional_rrs:
        fail_if_matches_regexp:
          - ".*127.0.0.1"
"#;
        let m = parse_blackbox_file(yaml).unwrap();
        assert_eq!(m.len(), 5);
        assert_eq!(m["http_2xx"].http.headers["Host"], "vhost.example.com");
        assert_eq!(m["smtp_starttls"].tcp.query_response.len(), 9);
        assert!(m["smtp_starttls"].tcp.query_response[5].starttls);
        assert_eq!(m["dns_udp"].dns.query_type, "A");
        assert!(m["dns_udp"].dns.recursion_desired);
        assert!(m["tcp_connect"].http.follows_redirects());
    }

    #[test]
    fn errors_name_the_module() {
        let e = parse_modules("m1:\n  prober: http\n  http:\n    bogus: 1\n").unwrap_err().to_string();
        assert!(e.contains("\"m1\"") && e.contains("bogus"), "{e}");
        let e = parse_modules("pinger:\n  prober: icmp\n").unwrap_err().to_string();
        assert!(e.contains("\"pinger\"") && e.contains("not supported"), "{e}");
        let e = parse_modules("g:\n  prober: grpc\n").unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
        let e = parse_modules("d:\n  prober: dns\n").unwrap_err().to_string();
        assert!(e.contains("\"d\"") && e.contains("query_name"), "{e}");
        let e = parse_modules("r:\n  prober: http\n  http:\n    fail_if_body_matches_regexp: ['(']\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"r\"") && e.contains("regexp"), "{e}");
        let e = parse_modules("c:\n  prober: http\n  http:\n    compression: br\n").unwrap_err().to_string();
        assert!(e.contains("compression"), "{e}");
    }

    #[test]
    fn journey_parses() {
        let yaml = r#"
login:
  prober: journey
  journey:
    steps:
      - name: login
        method: POST
        url: "{{ target }}/login"
        body: '{"user":"a"}'
        expect: {status: [200], max_latency: 500ms, json: {path: "$.token"}}
        extract: {token: "$.token"}
      - name: me
        url: "{{ target }}/me"
        headers: {Authorization: "Bearer {{ token }}"}
        expect: {body_regexp: "alice"}
"#;
        let m = parse_modules(yaml).unwrap();
        let j = &m["login"].journey;
        assert_eq!(j.steps.len(), 2);
        assert_eq!(j.steps[0].expect.max_latency.unwrap().0, Duration::from_millis(500));
        let e = parse_modules("j:\n  prober: journey\n").unwrap_err().to_string();
        assert!(e.contains("at least one step"), "{e}");
    }
}
