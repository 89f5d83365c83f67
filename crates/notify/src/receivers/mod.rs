//! Receiver integrations: each turns a group's alerts into one message and delivers it.

pub mod email;
pub mod slack;
pub mod webhook;

use std::time::Duration;

use vitals_model::Labels;

use crate::alert::Alert;
use crate::config::ReceiverConfig;
use crate::error::{NotifyError, SendError};

/// What every integration needs to know about the notification besides the alerts.
#[derive(Debug, Clone)]
pub struct NotifyContext {
    /// The receiver's name.
    pub receiver: String,
    /// The group key (Alertmanager's `route key:group labels`).
    pub group_key: String,
    /// The group's labels.
    pub group_labels: Labels,
    /// vitals' external URL.
    pub external_url: String,
}

/// A receiver's integrations, each with its kind (`webhook`, `slack`, `email`) and index.
pub type IntegrationList = Vec<(Integration, &'static str, u32)>;

/// One configured integration of a receiver.
pub enum Integration {
    /// A generic webhook.
    Webhook(Box<webhook::Webhook>),
    /// A Slack-compatible incoming webhook.
    Slack(Box<slack::Slack>),
    /// Email over SMTP.
    Email(Box<email::Email>),
}

impl Integration {
    /// Builds every integration of a receiver, with its kind and index.
    pub fn build_all(r: &ReceiverConfig) -> Result<IntegrationList, NotifyError> {
        let mut out = Vec::new();
        for (i, c) in r.webhook_configs.iter().enumerate() {
            out.push((Integration::Webhook(Box::new(webhook::Webhook::new(c.clone())?)), "webhook", i as u32));
        }
        for (i, c) in r.slack_configs.iter().enumerate() {
            out.push((Integration::Slack(Box::new(slack::Slack::new(c.clone())?)), "slack", i as u32));
        }
        for (i, c) in r.email_configs.iter().enumerate() {
            out.push((Integration::Email(Box::new(email::Email::new(c.clone()))), "email", i as u32));
        }
        Ok(out)
    }

    /// Whether resolved alerts are sent.
    pub fn send_resolved(&self) -> bool {
        match self {
            Integration::Webhook(w) => w.config.send_resolved,
            Integration::Slack(s) => s.config.send_resolved,
            Integration::Email(e) => e.config.send_resolved,
        }
    }

    /// The integration's name in metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Integration::Webhook(_) => "webhook",
            Integration::Slack(_) => "slack",
            Integration::Email(_) => "email",
        }
    }

    /// One delivery attempt.
    pub async fn notify(&self, ctx: &NotifyContext, alerts: &[Alert], timeout: Duration) -> Result<(), SendError> {
        match self {
            Integration::Webhook(w) => w.notify(ctx, alerts, timeout).await,
            Integration::Slack(s) => s.notify(ctx, alerts, timeout).await,
            Integration::Email(e) => e.notify(ctx, alerts, timeout).await,
        }
    }
}

/// Reads a URL from a file (trimmed), for `url_file`/`api_url_file`.
pub(crate) fn read_url_file(path: &std::path::Path) -> Result<String, SendError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| SendError::fatal(format!("reading {}: {e}", path.display())))
}

/// POSTs a JSON body and classifies the answer as Alertmanager's retrier does.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    http: &vitals_client::HttpClientConfig,
    url: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(), SendError> {
    let req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, concat!("vitals/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .body(body);
    let req = http.authorize(req).map_err(|e| SendError::fatal(e.to_string()))?;
    let shown = vitals_client::redact_url(url);
    let resp = req.send().await.map_err(|e| SendError::retry(format!("POST {shown}: {}", without_url(e))))?;
    check_status(resp.status(), &shown)
}

/// 2xx is success, 5xx and 429 may be retried, anything else is final.
pub(crate) fn check_status(status: reqwest::StatusCode, url: &str) -> Result<(), SendError> {
    if status.is_success() {
        return Ok(());
    }
    let msg = format!("POST {url}: unexpected status code {}", status.as_u16());
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(SendError::retry(msg))
    } else {
        Err(SendError::fatal(msg))
    }
}

fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}
