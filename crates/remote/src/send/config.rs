//! `remote_write` configuration with Prometheus' keys and defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vitals_client::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use vitals_model::{PromDuration, RelabelConfig};

use crate::error::RemoteError;

/// One `remote_write` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The endpoint, `http://` or `https://`.
    pub url: String,
    /// A name for metrics and the progress directory; unique among remote_write entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Timeout of one request (default 30s).
    #[serde(default = "default_remote_timeout")]
    pub remote_timeout: PromDuration,
    /// Extra HTTP headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Relabeling applied to every series before it is sent (dropped series are not sent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// HTTP basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Follow HTTP 3xx redirects (default true).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Allow HTTP/2 (default true).
    #[serde(default = "yes")]
    pub enable_http2: bool,
    /// Queue tuning.
    #[serde(default)]
    pub queue_config: QueueConfig,
    /// Metadata sending (accepted for compatibility; vitals' WAL carries no metadata, so none is sent).
    #[serde(default)]
    pub metadata_config: MetadataConfig,
}

/// `queue_config`, with Prometheus' current defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Samples buffered per shard before appending waits (default 10000).
    pub capacity: usize,
    /// Upper bound of shards (default 50).
    pub max_shards: usize,
    /// Lower bound of shards (default 1).
    pub min_shards: usize,
    /// Samples per request (default 2000).
    pub max_samples_per_send: usize,
    /// Longest a sample waits in a shard before a partial batch is sent (default 5s).
    pub batch_send_deadline: PromDuration,
    /// First retry delay (default 30ms); doubled per retry.
    pub min_backoff: PromDuration,
    /// Largest retry delay (default 5s).
    pub max_backoff: PromDuration,
    /// Retry on HTTP 429 like on 5xx (default true).
    pub retry_on_http_429: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: PromDuration::from_secs(5),
            min_backoff: PromDuration(std::time::Duration::from_millis(30)),
            max_backoff: PromDuration::from_secs(5),
            retry_on_http_429: true,
        }
    }
}

/// `metadata_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataConfig {
    /// Send metadata (default true).
    pub send: bool,
    /// How often (default 1m).
    pub send_interval: PromDuration,
    /// Entries per request (default 2000).
    pub max_samples_per_send: usize,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig { send: true, send_interval: PromDuration::from_secs(60), max_samples_per_send: 2000 }
    }
}

fn default_remote_timeout() -> PromDuration {
    PromDuration::from_secs(30)
}

fn yes() -> bool {
    true
}

/// Headers a configuration may not set (Prometheus' list: they are part of the protocol).
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
];

impl RemoteWriteConfig {
    /// A configuration for `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        RemoteWriteConfig {
            url: url.into(),
            name: None,
            remote_timeout: default_remote_timeout(),
            headers: BTreeMap::new(),
            write_relabel_configs: Vec::new(),
            basic_auth: None,
            authorization: None,
            tls_config: None,
            follow_redirects: true,
            enable_http2: true,
            queue_config: QueueConfig::default(),
            metadata_config: MetadataConfig::default(),
        }
    }

    /// Checks the entry as Prometheus does when loading a configuration.
    pub fn validate(&self) -> Result<(), RemoteError> {
        let bad = |m: String| Err(RemoteError::Config(m));
        let lower = self.url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) || self.url.len() < 9 {
            return bad(format!("url {:?}: must be an http:// or https:// URL", self.url));
        }
        if reqwest::Url::parse(&self.url).is_err() {
            return bad(format!("url {:?} does not parse", self.url));
        }
        if let Some(n) = &self.name {
            if n.is_empty() || n.contains(['/', '\\']) || n == "." || n == ".." {
                return bad(format!("name {n:?}: must be non-empty and usable as a directory name"));
            }
        }
        if self.remote_timeout.get().is_zero() {
            return bad("remote_timeout must be positive".into());
        }
        for h in self.headers.keys() {
            if RESERVED_HEADERS.contains(&h.to_ascii_lowercase().as_str()) {
                return bad(format!("header {h:?} is reserved and may not be set"));
            }
        }
        for (i, r) in self.write_relabel_configs.iter().enumerate() {
            r.validate().map_err(|e| RemoteError::Config(format!("write_relabel_configs[{i}]: {e}")))?;
        }
        let q = &self.queue_config;
        if q.capacity == 0 || q.max_samples_per_send == 0 {
            return bad("queue_config capacity and max_samples_per_send must be positive".into());
        }
        if q.min_shards == 0 || q.max_shards < q.min_shards {
            return bad(format!(
                "queue_config: need 1 <= min_shards ({}) <= max_shards ({})",
                q.min_shards, q.max_shards
            ));
        }
        if q.batch_send_deadline.get().is_zero() || q.min_backoff.get().is_zero() || q.max_backoff < q.min_backoff {
            return bad(
                "queue_config: batch_send_deadline and min_backoff must be positive, max_backoff >= min_backoff".into(),
            );
        }
        self.http_client_config().validate().map_err(|e| RemoteError::Config(e.to_string()))
    }

    /// The client half of this configuration.
    pub fn http_client_config(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            tls_config: self.tls_config.clone(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
        }
    }

    /// The name used in metrics and for the progress directory: `name`, or a hash of the URL
    /// (16 hex digits of the FNV-1a hash, stable across versions).
    pub fn queue_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in self.url.as_bytes() {
                    h ^= *b as u64;
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
                format!("{h:016x}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_yaml_with_defaults() {
        let yaml = r#"
url: https://mimir.example/api/v1/push
name: mimir
remote_timeout: 10s
headers: {X-Scope-OrgID: tenant-1}
write_relabel_configs:
  - source_labels: [__name__]
    regex: go_.*
    action: drop
basic_auth: {username: u, password: p}
queue_config: {max_samples_per_send: 500, batch_send_deadline: 1s}
metadata_config: {send: false}
"#;
        let c: RemoteWriteConfig = serde_norway::from_str(yaml).unwrap();
        c.validate().unwrap();
        assert_eq!(c.remote_timeout, PromDuration::from_secs(10));
        assert_eq!(c.queue_config.max_samples_per_send, 500);
        assert_eq!(c.queue_config.capacity, 10_000);
        assert_eq!(c.queue_config.min_backoff.as_millis(), 30);
        assert!(c.follow_redirects && c.enable_http2 && c.queue_config.retry_on_http_429);
        assert_eq!(c.queue_name(), "mimir");
        assert!(!c.metadata_config.send);

        let d: RemoteWriteConfig = serde_norway::from_str("url: http://x/y\n").unwrap();
        assert_eq!(d, RemoteWriteConfig::new("http://x/y"));
        assert_eq!(d.queue_name().len(), 16);
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(serde_norway::from_str::<RemoteWriteConfig>("url: http://x\nproxy_urll: y\n").is_err());
        assert!(serde_norway::from_str::<RemoteWriteConfig>("url: http://x\nqueue_config: {shards: 3}\n").is_err());
        type Edit = Box<dyn Fn(&mut RemoteWriteConfig)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("url", Box::new(|c| c.url = "ftp://x".into())),
            (
                "reserved",
                Box::new(|c| {
                    c.headers.insert("Content-Type".into(), "x".into());
                }),
            ),
            ("min_shards", Box::new(|c| c.queue_config.min_shards = 0)),
            ("max_backoff", Box::new(|c| c.queue_config.max_backoff = PromDuration::from_secs(0))),
            ("name", Box::new(|c| c.name = Some("a/b".into()))),
            (
                "basic_auth",
                Box::new(|c| {
                    c.basic_auth = Some(serde_norway::from_str("username: u").unwrap());
                    c.authorization = Some(serde_norway::from_str("credentials: x").unwrap());
                }),
            ),
        ];
        for (what, f) in cases {
            let mut c = RemoteWriteConfig::new("http://localhost:9090/api/v1/write");
            f(&mut c);
            assert!(c.validate().is_err(), "{what} should be rejected");
        }
    }
}
