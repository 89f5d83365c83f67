//! The configuration, with Alertmanager's own YAML schema (`route`, `receivers`, `inhibit_rules`,
//! `time_intervals`), so sections of an `alertmanager.yml` paste in unchanged, and its validation.
//!
//! Custom template strings (`title`, `text`, `html`, ...) are accepted but not evaluated: a string
//! without `{{` is used as written, one with `{{` is replaced by vitals' fixed default text.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vitals_client::{Authorization, BasicAuth, HttpClientConfig, Secret, TlsConfig};
use vitals_model::{MatchOp, Matcher, PromDuration};

use crate::error::NotifyError;
use crate::timeinterval::TimeIntervalSpec;

/// Alertmanager's default `group_wait`.
pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
/// Alertmanager's default `group_interval`.
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Alertmanager's default `repeat_interval`.
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// The value under vitals' `notify:` key: the parts of an `alertmanager.yml` vitals uses.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The routing tree.
    pub route: RouteConfig,
    /// Named receivers.
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    /// Inhibition rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Named time intervals routes refer to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub time_intervals: Vec<TimeIntervalConfig>,
    /// The deprecated name of `time_intervals` (both may be used; names share one namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<TimeIntervalConfig>,
}

/// One node of the routing tree (`route:` and each of `routes:`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The receiver of alerts ending at this node (inherited when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Labels to group by; `['...']` groups by all labels (inherited when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// Matchers in Alertmanager's syntax: `a="b"`, `c=~"x|y"`, `d!=e`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    /// Deprecated equality matchers.
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub match_eq: BTreeMap<String, String>,
    /// Deprecated regex matchers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_re: BTreeMap<String, String>,
    /// Keep looking for matching siblings after this node matched.
    #[serde(default, rename = "continue", skip_serializing_if = "std::ops::Not::not")]
    pub continue_matching: bool,
    /// How long a new group waits before its first notification (inherited; 30s at the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<PromDuration>,
    /// How long between notifications of a changed group (inherited; 5m at the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<PromDuration>,
    /// How long before an unchanged firing group is sent again (inherited; 4h at the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<PromDuration>,
    /// Time intervals during which this route's notifications are muted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<String>,
    /// Time intervals outside which this route's notifications are muted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<String>,
    /// Child routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
}

/// `http_config:` of a receiver (Prometheus' common HTTP client settings).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
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

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            basic_auth: None,
            authorization: None,
            tls_config: None,
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

impl HttpConfig {
    /// The `vitals-client` settings these stand for.
    pub fn client_config(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            tls_config: self.tls_config.clone(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A named receiver and its integrations.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// The unique name routes refer to.
    pub name: String,
    /// Generic webhooks (Alertmanager payload version 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
    /// Slack-compatible incoming webhooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    /// Email over SMTP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
}

/// `webhook_configs:` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Send resolved notifications too (default true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// The URL to POST to (treated as a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// A file holding the URL (read at each notification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// At most this many alerts per payload (0: all); the rest are counted in `truncatedAlerts`.
    #[serde(default)]
    pub max_alerts: u64,
    /// Request timeout (0 or absent: the group interval bounds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// HTTP client settings.
    #[serde(default)]
    pub http_config: HttpConfig,
}

/// `slack_configs:` entry (Slack incoming-webhook JSON; also Mattermost, Rocket.Chat).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Send resolved notifications too (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// The incoming-webhook URL (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Secret>,
    /// A file holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url_file: Option<PathBuf>,
    /// The channel or user to send to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The sender's name (default `Alertmanager`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Attachment colour (default `danger` when firing, `good` when resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Attachment title (default `[FIRING:n] group labels (common labels)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Title link (default the external URL's alert list for this receiver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_link: Option<String>,
    /// Text above the attachment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretext: Option<String>,
    /// Attachment text (default: one line per alert with its summary or description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Plain-text fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Attachment footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// Callback id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_id: Option<String>,
    /// Emoji for the sender's icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_emoji: Option<String>,
    /// Image URL for the sender's icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Image URL of the attachment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Thumbnail URL of the attachment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_url: Option<String>,
    /// Link channel names and user names.
    #[serde(default)]
    pub link_names: bool,
    /// Fields formatted as Markdown (default `fallback`, `pretext`, `text`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mrkdwn_in: Vec<String>,
    /// Accepted for compatibility; not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Value>,
    /// Accepted for compatibility; not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<serde_json::Value>,
    /// Accepted for compatibility; not sent.
    #[serde(default)]
    pub short_fields: bool,
    /// HTTP client settings.
    #[serde(default)]
    pub http_config: HttpConfig,
}

/// `email_configs:` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Send resolved notifications too (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// Recipients, comma-separated.
    pub to: String,
    /// The sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The name to greet the server with (default `localhost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hello: Option<String>,
    /// `host:port` of the SMTP server; port 465 means implicit TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smarthost: Option<String>,
    /// User name for SMTP AUTH (PLAIN or LOGIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    /// Password for SMTP AUTH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<Secret>,
    /// A file holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password_file: Option<PathBuf>,
    /// Accepted for compatibility (CRAM-MD5 secret); not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret: Option<Secret>,
    /// Accepted for compatibility (PLAIN identity); not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_identity: Option<String>,
    /// Insist on STARTTLS (default true); when false, STARTTLS is used if the server offers it.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub require_tls: bool,
    /// TLS settings (`insecure_skip_verify`, `server_name`, `ca_file` are honoured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Extra headers; `Subject`, `To`, `From` override the defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// HTML body (default: none; a fixed text body is always sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Text body (default: a fixed summary of the alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One `inhibit_rules:` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Matchers a firing source alert must satisfy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_matchers: Vec<String>,
    /// Matchers a muted target alert must satisfy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_matchers: Vec<String>,
    /// Deprecated equality source matchers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match: BTreeMap<String, String>,
    /// Deprecated regex source matchers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match_re: BTreeMap<String, String>,
    /// Deprecated equality target matchers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match: BTreeMap<String, String>,
    /// Deprecated regex target matchers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match_re: BTreeMap<String, String>,
    /// Labels whose values must be equal in source and target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

/// A named list of time intervals (`time_intervals:` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    /// The name routes refer to.
    pub name: String,
    /// The intervals; the named interval is active when any of them contains the time.
    #[serde(default)]
    pub time_intervals: Vec<TimeIntervalSpec>,
}

/// A route with every setting resolved (inherited values filled in, matchers compiled).
#[derive(Debug, Clone)]
pub struct Route {
    /// Alertmanager's route key: the parent's key, `/`, this node's sorted matchers.
    pub key: String,
    /// This node's own matchers (an alert must also match all ancestors').
    pub matchers: Vec<Matcher>,
    /// The receiver.
    pub receiver: String,
    /// The labels to group by.
    pub group_by: GroupBy,
    /// Group wait.
    pub group_wait: Duration,
    /// Group interval.
    pub group_interval: Duration,
    /// Repeat interval.
    pub repeat_interval: Duration,
    /// Continue to siblings after a match.
    pub continue_matching: bool,
    /// Muting time interval names.
    pub mute_time_intervals: Vec<String>,
    /// Active time interval names.
    pub active_time_intervals: Vec<String>,
    /// Indices of the child routes in [`Routes::nodes`].
    pub children: Vec<usize>,
}

/// How a route forms groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// By these label names.
    Labels(Vec<String>),
    /// By all labels (`...`).
    All,
}

/// The routing tree, flattened; node 0 is the root.
#[derive(Debug, Clone)]
pub struct Routes {
    /// All nodes, parents before children.
    pub nodes: Vec<Route>,
}

impl Routes {
    /// The routes an alert with these labels goes to: depth-first, first match unless `continue`.
    pub fn match_labels(&self, labels: &vitals_model::Labels) -> Vec<usize> {
        let mut out = Vec::new();
        self.match_node(0, labels, &mut out);
        out
    }

    fn match_node(&self, i: usize, labels: &vitals_model::Labels, out: &mut Vec<usize>) -> bool {
        let node = &self.nodes[i];
        if !node.matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or(""))) {
            return false;
        }
        let before = out.len();
        for &c in &node.children {
            if self.match_node(c, labels, out) && !self.nodes[c].continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(i);
        }
        true
    }
}

impl NotifyConfig {
    /// Parses the YAML of a `notify:` section (or an `alertmanager.yml` with only these keys).
    pub fn from_yaml(yaml: &str) -> Result<NotifyConfig, NotifyError> {
        let cfg: NotifyConfig = serde_norway::from_str(yaml).map_err(|e| NotifyError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the configuration as Alertmanager does.
    pub fn validate(&self) -> Result<(), NotifyError> {
        self.compile_routes()?;
        self.compile_inhibit_rules()?;
        Ok(())
    }

    /// All named time intervals (`time_intervals` and the deprecated `mute_time_intervals`).
    pub fn all_time_intervals(&self) -> impl Iterator<Item = &TimeIntervalConfig> {
        self.time_intervals.iter().chain(self.mute_time_intervals.iter())
    }

    /// Validates and flattens the routing tree.
    pub fn compile_routes(&self) -> Result<Routes, NotifyError> {
        let err = |m: String| Err(NotifyError::Config(m));
        let mut receivers = HashSet::new();
        for r in &self.receivers {
            if r.name.is_empty() {
                return err("missing name in receiver".into());
            }
            if !receivers.insert(r.name.as_str()) {
                return err(format!("notification config name {:?} is not unique", r.name));
            }
            r.validate()?;
        }
        let mut intervals = HashSet::new();
        for ti in self.all_time_intervals() {
            if ti.name.is_empty() {
                return err("missing name in time interval".into());
            }
            if !intervals.insert(ti.name.as_str()) {
                return err(format!("time interval {:?} is not unique", ti.name));
            }
            for spec in &ti.time_intervals {
                spec.validate().map_err(|e| NotifyError::Config(format!("time interval {:?}: {e}", ti.name)))?;
            }
        }
        let root = &self.route;
        if root.receiver.as_deref().unwrap_or("").is_empty() {
            return err("root route must specify a default receiver".into());
        }
        if !root.matchers.is_empty() || !root.match_eq.is_empty() || !root.match_re.is_empty() {
            return err("root route must not have any matchers".into());
        }
        if root.continue_matching {
            return err("cannot have continue in root route".into());
        }
        if !root.mute_time_intervals.is_empty() {
            return err("root route must not have any mute time intervals".into());
        }
        if !root.active_time_intervals.is_empty() {
            return err("root route must not have any active time intervals".into());
        }
        let defaults = Route {
            key: String::new(),
            matchers: Vec::new(),
            receiver: String::new(),
            group_by: GroupBy::Labels(Vec::new()),
            group_wait: DEFAULT_GROUP_WAIT,
            group_interval: DEFAULT_GROUP_INTERVAL,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
            continue_matching: false,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
            children: Vec::new(),
        };
        let mut nodes = Vec::new();
        compile_route(root, &defaults, None, &mut nodes, &receivers, &intervals)?;
        Ok(Routes { nodes })
    }

    /// Validates and compiles the inhibition rules.
    pub fn compile_inhibit_rules(&self) -> Result<Vec<InhibitRule>, NotifyError> {
        self.inhibit_rules
            .iter()
            .map(|r| {
                let source = combine(&r.source_matchers, &r.source_match, &r.source_match_re)?;
                let target = combine(&r.target_matchers, &r.target_match, &r.target_match_re)?;
                Ok(InhibitRule { source, target, equal: r.equal.clone() })
            })
            .collect()
    }
}

/// A compiled inhibition rule.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// Source matchers.
    pub source: Vec<Matcher>,
    /// Target matchers.
    pub target: Vec<Matcher>,
    /// Labels that must be equal.
    pub equal: Vec<String>,
}

impl ReceiverConfig {
    fn validate(&self) -> Result<(), NotifyError> {
        let err = |m: String| Err(NotifyError::Config(format!("receiver {:?}: {m}", self.name)));
        for w in &self.webhook_configs {
            match (&w.url, &w.url_file) {
                (None, None) => return err("one of url or url_file must be configured".into()),
                (Some(_), Some(_)) => return err("at most one of url & url_file must be configured".into()),
                (Some(u), None) if !is_http_url(u.expose()) => return err("webhook url must be http(s)".into()),
                _ => {}
            }
            w.http_config.client_config().validate().map_err(|e| NotifyError::Config(e.to_string()))?;
        }
        for s in &self.slack_configs {
            match (&s.api_url, &s.api_url_file) {
                (None, None) => return err("no Slack API URL nor Slack API URL file set".into()),
                (Some(_), Some(_)) => return err("at most one of api_url & api_url_file must be configured".into()),
                (Some(u), None) if !is_http_url(u.expose()) => return err("slack api_url must be http(s)".into()),
                _ => {}
            }
            s.http_config.client_config().validate().map_err(|e| NotifyError::Config(e.to_string()))?;
        }
        for e in &self.email_configs {
            if e.to.trim().is_empty() {
                return err("missing to address in email config".into());
            }
            if e.from.as_deref().unwrap_or("").is_empty() {
                return err("no global SMTP from set: email config needs from".into());
            }
            let Some(host) = e.smarthost.as_deref() else {
                return err("no global SMTP smarthost set: email config needs smarthost".into());
            };
            if crate::receivers::email::split_host_port(host).is_none() {
                return err(format!("smarthost {host:?} is not host:port"));
            }
            if e.auth_password.is_some() && e.auth_password_file.is_some() {
                return err("at most one of auth_password & auth_password_file must be configured".into());
            }
        }
        Ok(())
    }
}

fn is_http_url(u: &str) -> bool {
    u.starts_with("http://") || u.starts_with("https://")
}

fn compile_route(
    cfg: &RouteConfig,
    parent: &Route,
    parent_key: Option<&str>,
    nodes: &mut Vec<Route>,
    receivers: &HashSet<&str>,
    intervals: &HashSet<&str>,
) -> Result<usize, NotifyError> {
    let err = |m: String| Err(NotifyError::Config(m));
    let receiver = cfg.receiver.clone().unwrap_or_else(|| parent.receiver.clone());
    if !receivers.contains(receiver.as_str()) {
        return err(format!("undefined receiver {receiver:?} used in route"));
    }
    for name in cfg.mute_time_intervals.iter().chain(&cfg.active_time_intervals) {
        if !intervals.contains(name.as_str()) {
            return err(format!("undefined time interval {name:?} used in route"));
        }
    }
    let group_by = match &cfg.group_by {
        None => parent.group_by.clone(),
        Some(names) => {
            let mut seen = HashSet::new();
            for n in names {
                if n == "..." && names.len() > 1 {
                    return err("cannot have wildcard group_by (`...`) and other labels at the same time".into());
                }
                if n != "..." && !valid_label_name(n) {
                    return err(format!("invalid label name {n:?} in group_by list"));
                }
                if !seen.insert(n) {
                    return err(format!("duplicated label {n:?} in group_by"));
                }
            }
            if names.len() == 1 && names[0] == "..." {
                GroupBy::All
            } else {
                let mut v = names.clone();
                v.sort();
                GroupBy::Labels(v)
            }
        }
    };
    let group_interval = cfg.group_interval.map_or(parent.group_interval, |d| d.0);
    let repeat_interval = cfg.repeat_interval.map_or(parent.repeat_interval, |d| d.0);
    if group_interval.is_zero() {
        return err("group_interval cannot be zero".into());
    }
    if repeat_interval.is_zero() {
        return err("repeat_interval cannot be zero".into());
    }
    let mut matchers = combine(&cfg.matchers, &cfg.match_eq, &cfg.match_re)?;
    matchers.sort_by(|a, b| (&a.name, &a.value, op_rank(a.op)).cmp(&(&b.name, &b.value, op_rank(b.op))));
    let own = format!(
        "{{{}}}",
        matchers.iter().map(|m| format!("{}{}{}", m.name, m.op, go_quote(&m.value))).collect::<Vec<_>>().join(",")
    );
    let key = match parent_key {
        Some(p) => format!("{p}/{own}"),
        None => own,
    };
    let node = Route {
        key: key.clone(),
        matchers,
        receiver,
        group_by,
        group_wait: cfg.group_wait.map_or(parent.group_wait, |d| d.0),
        group_interval,
        repeat_interval,
        continue_matching: cfg.continue_matching,
        mute_time_intervals: cfg.mute_time_intervals.clone(),
        active_time_intervals: cfg.active_time_intervals.clone(),
        children: Vec::new(),
    };
    let index = nodes.len();
    nodes.push(node);
    let mut children = Vec::new();
    for child in &cfg.routes {
        let parent = nodes[index].clone();
        children.push(compile_route(child, &parent, Some(&key), nodes, receivers, intervals)?);
    }
    nodes[index].children = children;
    Ok(index)
}

fn op_rank(op: MatchOp) -> u8 {
    match op {
        MatchOp::Equal => 0,
        MatchOp::NotEqual => 1,
        MatchOp::Regex => 2,
        MatchOp::NotRegex => 3,
    }
}

fn valid_label_name(n: &str) -> bool {
    !n.is_empty() && !n.chars().any(char::is_control)
}

/// Joins new-style matchers with the deprecated `match`/`match_re` maps.
fn combine(
    matchers: &[String],
    eq: &BTreeMap<String, String>,
    re: &BTreeMap<String, String>,
) -> Result<Vec<Matcher>, NotifyError> {
    let mut out = Vec::new();
    for (k, v) in eq {
        out.push(Matcher::equal(k.clone(), v.clone()));
    }
    for (k, v) in re {
        out.push(Matcher::new(MatchOp::Regex, k.clone(), v.clone()).map_err(|e| NotifyError::Config(e.to_string()))?);
    }
    for m in matchers {
        out.push(parse_matcher(m)?);
    }
    Ok(out)
}

/// Parses one matcher in Alertmanager's syntax: `name="value"`, `name=~"re"`, `name!=value`, `name!~re`
/// (braces around a single matcher are allowed).
pub fn parse_matcher(s: &str) -> Result<Matcher, NotifyError> {
    let bad = |why: &str| NotifyError::Config(format!("bad matcher {s:?}: {why}"));
    let mut t = s.trim();
    if let Some(inner) = t.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
        t = inner.trim();
    }
    let name_end = t.find(['=', '!', '~']).ok_or_else(|| bad("no operator"))?;
    let name = t[..name_end].trim();
    let name = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(name);
    if name.is_empty() {
        return Err(bad("empty label name"));
    }
    let rest = &t[name_end..];
    let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchOp::Regex, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchOp::Equal, r)
    } else {
        return Err(bad("unknown operator"));
    };
    let rest = rest.trim();
    let value = if let Some(q) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = q.chars();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(o) => out.push(o),
                    None => return Err(bad("unterminated escape")),
                },
                '"' => {
                    closed = true;
                    break;
                }
                c => out.push(c),
            }
        }
        if !closed || !chars.as_str().trim().is_empty() {
            return Err(bad("unterminated or trailing text after quoted value"));
        }
        out
    } else {
        rest.to_string()
    };
    Matcher::new(op, name, value).map_err(|e| NotifyError::Config(e.to_string()))
}

/// Quotes a string as Go's `%q` does for printable text.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
