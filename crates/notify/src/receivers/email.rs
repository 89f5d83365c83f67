//! Email over SMTP (lettre): STARTTLS when the server offers it (required unless `require_tls:
//! false`), implicit TLS on port 465, PLAIN or LOGIN authentication when a user name is set.

use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::NotifyContext;
use crate::alert::Alert;
use crate::config::EmailConfig;
use crate::error::SendError;
use crate::template::{literal_or, Data};

/// A configured email integration.
pub struct Email {
    /// Its configuration.
    pub config: EmailConfig,
}

/// Splits `host:port` (IPv6 hosts in brackets).
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

impl Email {
    /// Wraps a configuration.
    pub fn new(config: EmailConfig) -> Email {
        Email { config }
    }

    /// The message these alerts produce.
    pub fn message(&self, ctx: &NotifyContext, alerts: &[Alert], now: SystemTime) -> Result<Message, SendError> {
        let c = &self.config;
        let data = Data::new(&ctx.receiver, &ctx.group_labels, alerts, &ctx.external_url, now);
        let header = |name: &str| c.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let subject = literal_or(header("Subject"), || data.subject().trim_end().to_string());
        let to = literal_or(header("To"), || c.to.clone());
        let from = literal_or(header("From"), || c.from.clone().unwrap_or_default());
        let mailbox =
            |s: &str| s.trim().parse::<Mailbox>().map_err(|e| SendError::fatal(format!("address {s:?}: {e}")));
        let mut b = Message::builder().from(mailbox(&from)?).subject(subject);
        for addr in to.split(',').filter(|a| !a.trim().is_empty()) {
            b = b.to(mailbox(addr)?);
        }
        for (k, v) in &c.headers {
            if ["subject", "to", "from"].contains(&k.to_ascii_lowercase().as_str()) {
                continue;
            }
            let name =
                HeaderName::new_from_ascii(k.clone()).map_err(|_| SendError::fatal(format!("header name {k:?}")))?;
            b = b.raw_header(HeaderValue::new(name, literal_or(Some(v), String::new)));
        }
        let text = literal_or(c.text.as_deref(), || {
            format!("{}\n\n{}\n{}\n", data.subject(), data.default_text(), data.alertmanager_url())
        });
        let html = c.html.as_deref().filter(|h| !h.contains("{{"));
        let msg = match html {
            Some(h) => b.multipart(MultiPart::alternative_plain_html(text, h.to_string())),
            None => b.singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text)),
        };
        msg.map_err(|e| SendError::fatal(format!("building email: {e}")))
    }

    /// Sends one email.
    pub async fn notify(&self, ctx: &NotifyContext, alerts: &[Alert], timeout: Duration) -> Result<(), SendError> {
        let msg = self.message(ctx, alerts, SystemTime::now())?;
        let transport = self.transport(timeout)?;
        transport.send(msg).await.map(|_| ()).map_err(|e| {
            let text = format!("sending email: {e}");
            if e.is_permanent() {
                SendError::fatal(text)
            } else {
                SendError::retry(text)
            }
        })
    }

    fn transport(&self, timeout: Duration) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let c = &self.config;
        let smarthost = c.smarthost.as_deref().unwrap_or_default();
        let (host, port) =
            split_host_port(smarthost).ok_or_else(|| SendError::fatal(format!("smarthost {smarthost:?}")))?;
        let mut tls = TlsParameters::builder(
            c.tls_config.as_ref().and_then(|t| t.server_name.clone()).unwrap_or_else(|| host.clone()),
        );
        if let Some(t) = &c.tls_config {
            tls = tls.dangerous_accept_invalid_certs(t.insecure_skip_verify);
            if let Some(ca) = &t.ca_file {
                let pem = std::fs::read(ca).map_err(|e| SendError::fatal(format!("reading {}: {e}", ca.display())))?;
                let cert = lettre::transport::smtp::client::Certificate::from_pem(&pem)
                    .map_err(|e| SendError::fatal(format!("ca_file: {e}")))?;
                tls = tls.add_root_certificate(cert);
            }
        }
        let params = tls.build_rustls().map_err(|e| SendError::fatal(format!("tls: {e}")))?;
        let tls = if port == 465 {
            Tls::Wrapper(params)
        } else if c.require_tls {
            Tls::Required(params)
        } else {
            Tls::Opportunistic(params)
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(timeout))
            .hello_name(ClientId::Domain(c.hello.clone().unwrap_or_else(|| "localhost".into())));
        if let Some(user) = c.auth_username.as_deref().filter(|u| !u.is_empty()) {
            let password = match (&c.auth_password, &c.auth_password_file) {
                (Some(p), _) => p.expose().to_string(),
                (None, Some(f)) => std::fs::read_to_string(f)
                    .map_err(|e| SendError::fatal(format!("reading {}: {e}", f.display())))?
                    .trim()
                    .to_string(),
                (None, None) => String::new(),
            };
            b = b.credentials(Credentials::new(user.to_string(), password));
        }
        Ok(b.build())
    }
}
