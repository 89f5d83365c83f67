//! Alerts as the notifier receives them (Alertmanager's postable alert) and as it reports them
//! (Alertmanager's gettable alert).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use vitals_model::{Labels, Matcher};

/// How long an alert received without `ends_at` stays firing (Alertmanager's `resolve_timeout`).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// One alert, as `POST /api/v2/alerts` carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Identifying labels.
    pub labels: Labels,
    /// Descriptive annotations.
    pub annotations: Labels,
    /// When it started firing.
    pub starts_at: SystemTime,
    /// When it ends (resolved once this is reached); `None` means "now + resolve_timeout".
    pub ends_at: Option<SystemTime>,
    /// Link to the expression that produced it.
    pub generator_url: String,
}

impl Alert {
    /// Alertmanager's fingerprint: FNV-1a 64 over sorted `name 0xff value 0xff`.
    pub fn fingerprint(&self) -> u64 {
        self.labels.stable_hash()
    }

    /// True when `ends_at` is at or before `now`.
    pub fn resolved_at(&self, now: SystemTime) -> bool {
        self.ends_at.is_some_and(|e| e <= now)
    }
}

/// A fingerprint as Alertmanager prints it: 16 lower-case hex digits.
pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

/// Labels as a sorted JSON object.
pub(crate) fn label_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

/// An alert with its state, the data `GET /api/v2/alerts` returns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// End time (RFC 3339).
    pub ends_at: String,
    /// Fingerprint, hex.
    pub fingerprint: String,
    /// Receivers of the routes the alert goes to.
    pub receivers: Vec<ReceiverName>,
    /// Start time (RFC 3339).
    pub starts_at: String,
    /// State and muting.
    pub status: AlertState,
    /// Last update (RFC 3339).
    pub updated_at: String,
    /// Generator URL.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// `{"name": ...}` of a receiver in the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiverName {
    /// The receiver's name.
    pub name: String,
}

/// `status` of an API alert.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    /// `active`, `suppressed` or `unprocessed`.
    pub state: String,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
    /// Names of the time intervals muting it (on every route it goes to).
    pub muted_by: Vec<String>,
}

/// Which alerts `Notifier::alerts` lists (the query parameters of `GET /api/v2/alerts`).
#[derive(Debug, Clone)]
pub struct AlertFilter {
    /// Only alerts matching all of these.
    pub matchers: Vec<Matcher>,
    /// Include active alerts.
    pub active: bool,
    /// Include silenced alerts.
    pub silenced: bool,
    /// Include inhibited alerts.
    pub inhibited: bool,
    /// Include unprocessed alerts.
    pub unprocessed: bool,
    /// Only alerts routed to a receiver whose name matches this anchored regex.
    pub receiver: Option<regex::Regex>,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            matchers: Vec::new(),
            active: true,
            silenced: true,
            inhibited: true,
            unprocessed: true,
            receiver: None,
        }
    }
}
