//! The generic webhook: Alertmanager's payload version 4, byte for byte.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{post_json, read_url_file, NotifyContext};
use crate::alert::Alert;
use crate::config::WebhookConfig;
use crate::error::{NotifyError, SendError};
use crate::template::{go_json, Data};

/// A configured webhook.
pub struct Webhook {
    /// Its configuration.
    pub config: WebhookConfig,
    client: reqwest::Client,
    http: vitals_client::HttpClientConfig,
}

/// Alertmanager's webhook `Message`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// The template data.
    #[serde(flatten)]
    pub data: Data,
    /// Always `"4"`.
    pub version: &'static str,
    /// The group key.
    pub group_key: String,
    /// Alerts left out because of `max_alerts`.
    pub truncated_alerts: u64,
}

/// The exact bytes Alertmanager would POST for these alerts.
pub fn payload(ctx: &NotifyContext, alerts: &[Alert], max_alerts: u64, now: SystemTime) -> Vec<u8> {
    let (alerts, truncated) = if max_alerts != 0 && alerts.len() as u64 > max_alerts {
        (&alerts[..max_alerts as usize], alerts.len() as u64 - max_alerts)
    } else {
        (alerts, 0)
    };
    let msg = Message {
        data: Data::new(&ctx.receiver, &ctx.group_labels, alerts, &ctx.external_url, now),
        version: "4",
        group_key: ctx.group_key.clone(),
        truncated_alerts: truncated,
    };
    go_json(&msg)
}

impl Webhook {
    /// Builds the HTTP client for a webhook.
    pub fn new(config: WebhookConfig) -> Result<Webhook, NotifyError> {
        let http = config.http_config.client_config();
        let client = http.build(Duration::from_secs(300), concat!("vitals/", env!("CARGO_PKG_VERSION")))?;
        Ok(Webhook { config, client, http })
    }

    /// Sends one notification.
    pub async fn notify(&self, ctx: &NotifyContext, alerts: &[Alert], timeout: Duration) -> Result<(), SendError> {
        let url = match (&self.config.url, &self.config.url_file) {
            (Some(u), _) => u.expose().to_string(),
            (None, Some(f)) => read_url_file(f)?,
            (None, None) => return Err(SendError::fatal("webhook without url")),
        };
        let timeout = match self.config.timeout {
            Some(t) if !t.0.is_zero() => t.0.min(timeout),
            _ => timeout,
        };
        let body = payload(ctx, alerts, self.config.max_alerts, SystemTime::now());
        post_json(&self.client, &self.http, &url, body, timeout).await
    }
}
