//! The data every notification is made from (Alertmanager's `template.Data`) and vitals' fixed
//! default texts, which mirror Alertmanager's default templates.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;
use vitals_model::Labels;

use crate::alert::{fingerprint_hex, label_map, Alert};
use crate::time::{format, ZERO_TIME};

/// Alertmanager's `template.Data`, field for field and in its JSON order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Data {
    /// The receiver's name, regex-quoted as Alertmanager does.
    pub receiver: String,
    /// `firing` if any alert fires, else `resolved`.
    pub status: String,
    /// The alerts.
    pub alerts: Vec<DataAlert>,
    /// The group's labels.
    pub group_labels: BTreeMap<String, String>,
    /// Labels all alerts share.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations all alerts share.
    pub common_annotations: BTreeMap<String, String>,
    /// Link back to vitals.
    #[serde(rename = "externalURL")]
    pub external_url: String,
}

/// One alert inside [`Data`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Start.
    pub starts_at: String,
    /// End, or Go's zero time while firing.
    pub ends_at: String,
    /// Generator URL.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Fingerprint, hex.
    pub fingerprint: String,
}

impl Data {
    /// Builds the data for a group's alerts at `now`.
    pub fn new(receiver: &str, group_labels: &Labels, alerts: &[Alert], external_url: &str, now: SystemTime) -> Data {
        let mut firing = false;
        let list: Vec<DataAlert> = alerts
            .iter()
            .map(|a| {
                let resolved = a.resolved_at(now);
                firing |= !resolved;
                DataAlert {
                    status: if resolved { "resolved" } else { "firing" }.into(),
                    labels: label_map(&a.labels),
                    annotations: label_map(&a.annotations),
                    starts_at: format(a.starts_at),
                    ends_at: match a.ends_at {
                        Some(e) if resolved => format(e),
                        _ => ZERO_TIME.into(),
                    },
                    generator_url: a.generator_url.clone(),
                    fingerprint: fingerprint_hex(a.fingerprint()),
                }
            })
            .collect();
        Data {
            receiver: quote_meta(receiver),
            status: if firing { "firing" } else { "resolved" }.into(),
            common_labels: common(alerts.iter().map(|a| &a.labels)),
            common_annotations: common(alerts.iter().map(|a| &a.annotations)),
            alerts: list,
            group_labels: label_map(group_labels),
            external_url: external_url.to_string(),
        }
    }

    /// Number of firing alerts.
    pub fn firing(&self) -> usize {
        self.alerts.iter().filter(|a| a.status == "firing").count()
    }

    /// Alertmanager's `__subject`: `[FIRING:2] group values (other common values)`.
    pub fn subject(&self) -> String {
        let mut s = format!("[{}", self.status.to_uppercase());
        if self.status == "firing" {
            s.push_str(&format!(":{}", self.firing()));
        }
        s.push_str("] ");
        s.push_str(&self.group_labels.values().cloned().collect::<Vec<_>>().join(" "));
        s.push(' ');
        if self.common_labels.len() > self.group_labels.len() {
            let rest: Vec<&str> = self
                .common_labels
                .iter()
                .filter(|(k, _)| !self.group_labels.contains_key(*k))
                .map(|(_, v)| v.as_str())
                .collect();
            s.push_str(&format!("({})", rest.join(" ")));
        }
        s
    }

    /// Alertmanager's `__alertmanagerURL`: the alert list filtered by this receiver.
    pub fn alertmanager_url(&self) -> String {
        format!("{}/#/alerts?receiver={}", self.external_url, query_escape(&self.receiver))
    }

    /// vitals' default body: one block per alert with its labels and annotations.
    pub fn default_text(&self) -> String {
        let mut out = String::new();
        for (title, status) in [("Firing", "firing"), ("Resolved", "resolved")] {
            let alerts: Vec<&DataAlert> = self.alerts.iter().filter(|a| a.status == status).collect();
            if alerts.is_empty() {
                continue;
            }
            out.push_str(&format!("{title} alerts: {}\n", alerts.len()));
            for a in alerts {
                let name = a.labels.get("alertname").map(String::as_str).unwrap_or("");
                let what = a.annotations.get("summary").or_else(|| a.annotations.get("description"));
                match what {
                    Some(w) => out.push_str(&format!("- {name}: {w}\n")),
                    None => out.push_str(&format!("- {name}\n")),
                }
                let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("  Labels: {}\n", labels.join(", ")));
                if !a.generator_url.is_empty() {
                    out.push_str(&format!("  Source: {}\n", a.generator_url));
                }
            }
        }
        out
    }
}

/// A configured text unless it is a Go template (contains `{{`), which vitals does not evaluate.
pub fn literal_or(configured: Option<&str>, default: impl FnOnce() -> String) -> String {
    match configured {
        Some(s) if !s.contains("{{") => s.to_string(),
        _ => default(),
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a Labels>) -> BTreeMap<String, String> {
    let Some(first) = sets.next() else { return BTreeMap::new() };
    let mut out = label_map(first);
    for s in sets {
        out.retain(|k, v| s.get(k) == Some(v.as_str()));
    }
    out
}

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// JSON as Go's `json.Encoder` writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped, newline at the end.
pub fn go_json<T: Serialize>(v: &T) -> Vec<u8> {
    let s = serde_json::to_string(v).expect("serialisable");
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn subject_like_alertmanager() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = |inst: &str| Alert {
            labels: Labels::from_pairs([("alertname", "Down"), ("job", "api"), ("instance", inst)]),
            annotations: Labels::from_pairs([("summary", "down")]),
            starts_at: t,
            ends_at: None,
            generator_url: String::new(),
        };
        let d = Data::new("web.hook", &Labels::from_pairs([("alertname", "Down")]), &[a("a"), a("b")], "http://x", t);
        assert_eq!(d.subject(), "[FIRING:2] Down (api)");
        assert_eq!(d.receiver, "web\\.hook");
        assert_eq!(d.alertmanager_url(), "http://x/#/alerts?receiver=web%5C.hook");
    }

    #[test]
    fn go_json_escapes_html() {
        assert_eq!(go_json(&"a<b>&c"), b"\"a\\u003cb\\u003e\\u0026c\"\n".to_vec());
    }
}
