//! Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat): one attachment per
//! notification, with Alertmanager's default title, link, colour and fallback.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{post_json, read_url_file, NotifyContext};
use crate::alert::Alert;
use crate::config::SlackConfig;
use crate::error::{NotifyError, SendError};
use crate::template::{literal_or, Data};

/// A configured Slack integration.
pub struct Slack {
    /// Its configuration.
    pub config: SlackConfig,
    client: reqwest::Client,
    http: vitals_client::HttpClientConfig,
}

/// The request body.
#[derive(Debug, Serialize)]
pub struct Request {
    /// Channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Sender name.
    pub username: String,
    /// Sender icon emoji.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_emoji: Option<String>,
    /// Sender icon URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Link names.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub link_names: bool,
    /// The single attachment.
    pub attachments: Vec<Attachment>,
}

/// One attachment.
#[derive(Debug, Serialize)]
pub struct Attachment {
    /// Title.
    pub title: String,
    /// Title link.
    pub title_link: String,
    /// Pretext.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    /// Text.
    pub text: String,
    /// Fallback.
    pub fallback: String,
    /// Callback id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub callback_id: String,
    /// Footer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub footer: String,
    /// Colour.
    pub color: String,
    /// Image URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Thumbnail URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumb_url: Option<String>,
    /// Markdown fields.
    pub mrkdwn_in: Vec<String>,
}

/// The request body for these alerts.
pub fn request(c: &SlackConfig, ctx: &NotifyContext, alerts: &[Alert], now: SystemTime) -> Request {
    let data = Data::new(&ctx.receiver, &ctx.group_labels, alerts, &ctx.external_url, now);
    let title = literal_or(c.title.as_deref(), || data.subject());
    let title_link = literal_or(c.title_link.as_deref(), || data.alertmanager_url());
    let color = literal_or(c.color.as_deref(), || if data.status == "firing" { "danger" } else { "good" }.into());
    let fallback = literal_or(c.fallback.as_deref(), || format!("{} | {}", data.subject(), data.alertmanager_url()));
    Request {
        channel: c.channel.clone(),
        username: literal_or(c.username.as_deref(), || "Alertmanager".into()),
        icon_emoji: c.icon_emoji.clone(),
        icon_url: c.icon_url.clone(),
        link_names: c.link_names,
        attachments: vec![Attachment {
            title,
            title_link,
            pretext: literal_or(c.pretext.as_deref(), String::new),
            text: literal_or(c.text.as_deref(), || data.default_text()),
            fallback,
            callback_id: literal_or(c.callback_id.as_deref(), String::new),
            footer: literal_or(c.footer.as_deref(), String::new),
            color,
            image_url: c.image_url.clone(),
            thumb_url: c.thumb_url.clone(),
            mrkdwn_in: if c.mrkdwn_in.is_empty() {
                vec!["fallback".into(), "pretext".into(), "text".into()]
            } else {
                c.mrkdwn_in.clone()
            },
        }],
    }
}

impl Slack {
    /// Builds the HTTP client.
    pub fn new(config: SlackConfig) -> Result<Slack, NotifyError> {
        let http = config.http_config.client_config();
        let client = http.build(Duration::from_secs(300), concat!("vitals/", env!("CARGO_PKG_VERSION")))?;
        Ok(Slack { config, client, http })
    }

    /// Sends one notification.
    pub async fn notify(&self, ctx: &NotifyContext, alerts: &[Alert], timeout: Duration) -> Result<(), SendError> {
        let url = match (&self.config.api_url, &self.config.api_url_file) {
            (Some(u), _) => u.expose().to_string(),
            (None, Some(f)) => read_url_file(f)?,
            (None, None) => return Err(SendError::fatal("slack without api_url")),
        };
        let body = serde_json::to_vec(&request(&self.config, ctx, alerts, SystemTime::now())).expect("serialisable");
        post_json(&self.client, &self.http, &url, body, timeout).await
    }
}
