//! The `global` and `scrape_configs` sections, with Prometheus' keys and defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use vitals_client::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use vitals_model::relabel::RelabelConfig;
use vitals_model::PromDuration;

use crate::ScrapeError;

/// `global:` — defaults for every job, and labels added to data leaving this server.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// How often to scrape a target unless its job says otherwise.
    pub scrape_interval: PromDuration,
    /// How long a scrape may take unless its job says otherwise.
    pub scrape_timeout: PromDuration,
    /// How often rules are evaluated.
    pub evaluation_interval: PromDuration,
    /// Labels added to series and alerts sent to external systems (remote_write, Alertmanager).
    pub external_labels: BTreeMap<String, String>,
    /// Prometheus' query log file (accepted for compatibility; vitals logs queries through its own log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_log_file: Option<PathBuf>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration::from_secs(60),
            scrape_timeout: PromDuration::from_secs(10),
            evaluation_interval: PromDuration::from_secs(60),
            external_labels: BTreeMap::new(),
            query_log_file: None,
        }
    }
}

/// One entry of `scrape_configs:` — a job and how to find and scrape its targets.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The job name; also the default `job` label.
    pub job_name: String,
    /// How often to scrape (defaults to the global value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<PromDuration>,
    /// Scrape timeout (defaults to the global value, at most the interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    /// HTTP path to scrape.
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// URL query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Labels in the page win over target labels on conflict.
    #[serde(default)]
    pub honor_labels: bool,
    /// Timestamps in the page are kept (otherwise the scrape time is used).
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// More samples than this (after metric relabeling) fail the scrape; 0 = no limit.
    #[serde(default)]
    pub sample_limit: usize,
    /// More targets than this (after relabeling) fail the whole job; 0 = no limit.
    #[serde(default)]
    pub target_limit: usize,
    /// More labels per series than this fail the scrape; 0 = no limit.
    #[serde(default)]
    pub label_limit: usize,
    /// A longer label name fails the scrape; 0 = no limit.
    #[serde(default)]
    pub label_name_length_limit: usize,
    /// A longer label value fails the scrape; 0 = no limit.
    #[serde(default)]
    pub label_value_length_limit: usize,
    /// A larger (uncompressed) body fails the scrape, e.g. `10MB`; absent = no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<ByteSize>,
    /// Fixed target lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    /// Target lists read from JSON or YAML files, re-read when they change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Rewrites target labels before scraping (may drop targets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rewrites each scraped series before storing (may drop series).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Authorization header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS client settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Follow redirects.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// Allow HTTP/2.
    #[serde(default = "default_true")]
    pub enable_http2: bool,
}

fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_scheme() -> String {
    "http".into()
}
fn default_true() -> bool {
    true
}

/// `static_configs:` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels given to every target of the group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs:` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Files to read; the last path component may hold `*` patterns.
    pub files: Vec<PathBuf>,
    /// Re-read every so often even without a change being seen.
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
}

fn default_refresh() -> PromDuration {
    PromDuration::from_secs(300)
}

/// A byte count written as Prometheus does (`512`, `10KB`, `64MiB`, `1GB`; units are powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `10MB`-style text.
    pub fn parse(s: &str) -> Option<ByteSize> {
        let s = s.trim();
        let digits = s.bytes().take_while(|b| b.is_ascii_digit()).count();
        let n: u64 = s[..digits].parse().ok()?;
        let mult: u64 = match s[digits..].trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "KB" | "KIB" => 1 << 10,
            "MB" | "MIB" => 1 << 20,
            "GB" | "GIB" => 1 << 30,
            "TB" | "TIB" => 1 << 40,
            _ => return None,
        };
        n.checked_mul(mult).map(ByteSize)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}B", self.0))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => ByteSize::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid size {s:?}"))),
        }
    }
}

impl ScrapeConfig {
    /// A job with Prometheus' defaults and the given static targets.
    pub fn with_targets(job: &str, targets: Vec<String>) -> Self {
        let yaml = format!("job_name: {job:?}\n");
        let mut c: ScrapeConfig = serde_norway::from_str(&yaml).expect("a job name alone is a valid scrape config");
        c.static_configs.push(StaticConfig { targets, labels: BTreeMap::new() });
        c
    }

    /// The effective interval, given the global defaults.
    pub fn interval(&self, g: &GlobalConfig) -> PromDuration {
        self.scrape_interval.unwrap_or(g.scrape_interval)
    }

    /// The effective timeout: the job's, else the global one capped at the interval.
    pub fn timeout(&self, g: &GlobalConfig) -> PromDuration {
        match self.scrape_timeout {
            Some(t) => t,
            None => g.scrape_timeout.min(self.interval(g)),
        }
    }

    /// The client settings of this job.
    pub fn http(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            tls_config: self.tls_config.clone(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
        }
    }

    /// Checks what serde cannot: names, schemes, durations and relabel rules.
    pub fn validate(&self, g: &GlobalConfig) -> Result<(), ScrapeError> {
        let bad = |msg: String| Err(ScrapeError::Config(format!("scrape_configs job {:?}: {msg}", self.job_name)));
        if self.job_name.is_empty() {
            return Err(ScrapeError::Config("scrape_configs: job_name is empty".into()));
        }
        if self.scheme != "http" && self.scheme != "https" {
            return bad(format!("scheme {:?}: use http or https", self.scheme));
        }
        if !self.metrics_path.starts_with('/') {
            return bad(format!("metrics_path {:?} must start with /", self.metrics_path));
        }
        let (interval, timeout) = (self.interval(g), self.timeout(g));
        if interval.as_millis() <= 0 {
            return bad("scrape_interval must be greater than 0".into());
        }
        if timeout > interval {
            return bad(format!("scrape_timeout {timeout} greater than scrape_interval {interval}"));
        }
        if let Err(e) = self.http().validate() {
            return bad(e.to_string());
        }
        for (section, rules) in
            [("relabel_configs", &self.relabel_configs), ("metric_relabel_configs", &self.metric_relabel_configs)]
        {
            for (i, r) in rules.iter().enumerate() {
                if let Err(e) = r.validate() {
                    return bad(format!("{section}[{i}]: {e}"));
                }
            }
        }
        for sc in &self.static_configs {
            for t in &sc.targets {
                if t.contains('/') {
                    return bad(format!("target {t:?} is not a valid host:port (no scheme or path)"));
                }
            }
        }
        Ok(())
    }
}

/// Checks a whole `scrape_configs` list: each job, and job names unique.
pub fn validate_all(g: &GlobalConfig, jobs: &[ScrapeConfig]) -> Result<(), ScrapeError> {
    let mut seen = std::collections::HashSet::new();
    for j in jobs {
        j.validate(g)?;
        if !seen.insert(&j.job_name) {
            return Err(ScrapeError::Config(format!("scrape_configs: job_name {:?} is used twice", j.job_name)));
        }
    }
    Ok(())
}
