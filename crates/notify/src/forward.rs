//! Forwarding alerts to external Alertmanagers (`POST /api/v2/alerts`), as Prometheus does for the
//! `alerting.alertmanagers` section (static_configs only).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vitals_client::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use vitals_model::PromDuration;

use crate::alert::{label_map, Alert};
use crate::error::{NotifyError, SendError};
use crate::time::format;

/// One alert as `POST /api/v2/alerts` expects it (Alertmanager's `PostableAlert`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// End (omitted when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// Start.
    pub starts_at: String,
    /// Generator URL.
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

impl From<&Alert> for PostableAlert {
    fn from(a: &Alert) -> Self {
        PostableAlert {
            annotations: label_map(&a.annotations),
            ends_at: a.ends_at.map(format),
            starts_at: format(a.starts_at),
            generator_url: a.generator_url.clone(),
            labels: label_map(&a.labels),
        }
    }
}

/// POSTs alerts to an Alertmanager's full `.../api/v2/alerts` URL.
pub async fn forward_to_alertmanager(client: &reqwest::Client, url: &str, alerts: &[Alert]) -> Result<(), SendError> {
    forward_with(client, &HttpClientConfig::default(), url, alerts, Duration::from_secs(10)).await
}

async fn forward_with(
    client: &reqwest::Client,
    http: &HttpClientConfig,
    url: &str,
    alerts: &[Alert],
    timeout: Duration,
) -> Result<(), SendError> {
    let body: Vec<PostableAlert> = alerts.iter().map(PostableAlert::from).collect();
    let body = serde_json::to_vec(&body).expect("serialisable");
    crate::receivers::post_json(client, http, url, body, timeout).await
}

/// An `alerting.alertmanagers` entry of a Prometheus configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// `http` (default) or `https`.
    #[serde(default = "http")]
    pub scheme: String,
    /// Prefix before `/api/v2/alerts`.
    #[serde(default)]
    pub path_prefix: String,
    /// Per-request timeout (default 10s).
    #[serde(default = "ten_seconds")]
    pub timeout: PromDuration,
    /// Only `v2` is supported.
    #[serde(default = "v2")]
    pub api_version: String,
    /// Targets.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// An `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Follow redirects (default true).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Allow HTTP/2 (default true).
    #[serde(default = "yes")]
    pub enable_http2: bool,
}

/// `static_configs:` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` of each Alertmanager.
    pub targets: Vec<String>,
    /// Accepted; not used.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn http() -> String {
    "http".into()
}
fn ten_seconds() -> PromDuration {
    PromDuration(Duration::from_secs(10))
}
fn v2() -> String {
    "v2".into()
}
fn yes() -> bool {
    true
}

/// Sends alerts to every Alertmanager of one `alertmanagers` entry.
pub struct AlertmanagerForwarder {
    urls: Vec<String>,
    client: reqwest::Client,
    http: HttpClientConfig,
    timeout: Duration,
    sent: AtomicU64,
    errors: AtomicU64,
}

impl AlertmanagerForwarder {
    /// Validates the entry and builds its client.
    pub fn new(c: &AlertmanagerConfig) -> Result<AlertmanagerForwarder, NotifyError> {
        if c.api_version != "v2" {
            return Err(NotifyError::Config(format!(
                "alertmanager api_version {:?}: only v2 is supported",
                c.api_version
            )));
        }
        if c.scheme != "http" && c.scheme != "https" {
            return Err(NotifyError::Config(format!("alertmanager scheme {:?}: use http or https", c.scheme)));
        }
        let http = HttpClientConfig {
            basic_auth: c.basic_auth.clone(),
            authorization: c.authorization.clone(),
            tls_config: c.tls_config.clone(),
            follow_redirects: c.follow_redirects,
            enable_http2: c.enable_http2,
        };
        let client = http.build(c.timeout.0, concat!("vitals/", env!("CARGO_PKG_VERSION")))?;
        let prefix = c.path_prefix.trim_end_matches('/');
        let prefix =
            if prefix.is_empty() || prefix.starts_with('/') { prefix.to_string() } else { format!("/{prefix}") };
        let urls = c
            .static_configs
            .iter()
            .flat_map(|s| s.targets.iter())
            .map(|t| format!("{}://{t}{prefix}/api/v2/alerts", c.scheme))
            .collect();
        Ok(AlertmanagerForwarder {
            urls,
            client,
            http,
            timeout: c.timeout.0,
            sent: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    }

    /// The URLs alerts are posted to.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Posts the alerts to every Alertmanager at once; returns one result per URL.
    pub async fn send(&self, alerts: &[Alert]) -> Vec<(String, Result<(), SendError>)> {
        if alerts.is_empty() {
            return Vec::new();
        }
        let mut set = tokio::task::JoinSet::new();
        for url in &self.urls {
            let (client, http, url, alerts, timeout) =
                (self.client.clone(), self.http.clone(), url.clone(), alerts.to_vec(), self.timeout);
            set.spawn(async move {
                let r = forward_with(&client, &http, &url, &alerts, timeout).await;
                (url, r)
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok((url, r)) = r {
                match &r {
                    Ok(()) => self.sent.fetch_add(alerts.len() as u64, Ordering::Relaxed),
                    Err(_) => self.errors.fetch_add(alerts.len() as u64, Ordering::Relaxed),
                };
                out.push((url, r));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Alerts sent successfully (counted per Alertmanager), like `prometheus_notifications_sent_total`.
    pub fn sent_total(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Alerts that failed to send, like `prometheus_notifications_errors_total`.
    pub fn errors_total(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}
