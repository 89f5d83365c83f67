//! The notification log: per (group key, receiver integration), which alerts were firing and
//! resolved at the last successful notification, so restarts and reloads neither repeat nor
//! forget notifications. Kept in `nflog.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::NotifyError;
use crate::time::rfc3339;

/// How long an entry is kept after its last notification (Alertmanager's default retention).
pub const RETENTION: Duration = Duration::from_secs(120 * 3600);

/// One entry: the last notification of a group to one integration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The group key.
    pub group_key: String,
    /// The receiver's name.
    pub receiver: String,
    /// The integration (`webhook`, `slack`, `email`).
    pub integration: String,
    /// The integration's index within the receiver's list of that kind.
    pub idx: u32,
    /// When the notification was sent.
    #[serde(with = "rfc3339")]
    pub timestamp: SystemTime,
    /// Fingerprints (hex) of the alerts firing then.
    pub firing_alerts: BTreeSet<String>,
    /// Fingerprints (hex) of the alerts resolved then.
    pub resolved_alerts: BTreeSet<String>,
    /// When the entry may be forgotten.
    #[serde(with = "rfc3339")]
    pub expires_at: SystemTime,
}

#[derive(Debug, Deserialize, Serialize)]
struct File {
    version: u32,
    entries: Vec<Entry>,
}

/// The log, keyed by `group key` + receiver + integration + index.
pub(crate) struct NfLog {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
}

/// The map key of an entry.
pub(crate) fn key(group_key: &str, receiver: &str, integration: &str, idx: u32) -> String {
    format!("{group_key}\u{0}{receiver}\u{0}{integration}\u{0}{idx}")
}

impl NfLog {
    /// Loads `path` (a missing file is an empty log).
    pub fn load(path: PathBuf) -> Result<NfLog, NotifyError> {
        let file: Option<File> = crate::store::read(&path)?;
        let entries = file
            .map(|f| f.entries)
            .unwrap_or_default()
            .into_iter()
            .map(|e| (key(&e.group_key, &e.receiver, &e.integration, e.idx), e))
            .collect();
        Ok(NfLog { path, entries })
    }

    /// The entry for a key.
    pub fn get(&self, k: &str) -> Option<&Entry> {
        self.entries.get(k)
    }

    /// Records a notification and writes the log.
    pub fn log(&mut self, e: Entry, now: SystemTime) -> Result<(), NotifyError> {
        self.entries.insert(key(&e.group_key, &e.receiver, &e.integration, e.idx), e);
        self.entries.retain(|_, e| e.expires_at > now);
        self.save()
    }

    /// Writes the log.
    pub fn save(&self) -> Result<(), NotifyError> {
        let file = File { version: 1, entries: self.entries.values().cloned().collect() };
        crate::store::write_atomic(&self.path, &file)
    }
}

/// Alertmanager's `DedupStage.needsUpdate`: should this group be sent to this integration now?
pub(crate) fn needs_update(
    entry: Option<&Entry>,
    firing: &BTreeSet<String>,
    resolved: &BTreeSet<String>,
    send_resolved: bool,
    repeat: Duration,
    now: SystemTime,
) -> bool {
    let Some(e) = entry else { return !firing.is_empty() };
    if !firing.is_subset(&e.firing_alerts) {
        return true;
    }
    if firing.is_empty() {
        // All resolved: tell the receiver only if it was told something fired.
        return !e.firing_alerts.is_empty();
    }
    if send_resolved && !resolved.is_subset(&e.resolved_alerts) {
        return true;
    }
    e.timestamp + repeat <= now
}
