//! Silences: matchers that mute alerts between `starts_at` and `ends_at`, with Alertmanager's
//! rules for creating, updating and expiring them; kept in `silences.json`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use rand::Rng;
use serde::{Deserialize, Serialize};
use vitals_model::{Labels, MatchOp, Matcher};

use crate::error::NotifyError;
use crate::time::rfc3339;

/// How long expired silences are kept (Alertmanager's default `--data.retention`).
pub const RETENTION: Duration = Duration::from_secs(120 * 3600);

/// One matcher of a silence, in API v2's shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    /// Label name.
    pub name: String,
    /// Value or regex.
    pub value: String,
    /// Regex match.
    pub is_regex: bool,
    /// Equality (`true`, default) or negation.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    /// The matcher as a `vitals-model` matcher.
    pub fn to_matcher(&self) -> Result<Matcher, NotifyError> {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher::new(op, self.name.clone(), self.value.clone()).map_err(|e| NotifyError::InvalidSilence(e.to_string()))
    }
}

/// A silence as posted (`id` set to update an existing one).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    /// The id (`None` to create a new silence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Alerts matching all of these are muted.
    pub matchers: Vec<SilenceMatcher>,
    /// Start.
    #[serde(with = "rfc3339")]
    pub starts_at: SystemTime,
    /// End.
    #[serde(with = "rfc3339")]
    pub ends_at: SystemTime,
    /// Author.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

/// `active`, `pending` or `expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Muting now.
    Active,
    /// Starts later.
    Pending,
    /// Ended.
    Expired,
}

impl SilenceState {
    /// The state's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }
}

/// A stored silence with its state, the data `GET /api/v2/silences` returns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceInfo {
    /// The silence (its `id` is always set).
    #[serde(flatten)]
    pub silence: Silence,
    /// Its state now.
    pub status: SilenceStatus,
    /// Last change.
    #[serde(with = "rfc3339")]
    pub updated_at: SystemTime,
}

/// `{"state": ...}`.
#[derive(Debug, Clone, Serialize)]
pub struct SilenceStatus {
    /// The state.
    pub state: SilenceState,
}

/// A silence as stored in `silences.json`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stored {
    #[serde(flatten)]
    pub silence: Silence,
    #[serde(with = "rfc3339")]
    pub updated_at: SystemTime,
}

/// The file's top-level object.
#[derive(Debug, Deserialize, Serialize)]
struct File {
    version: u32,
    silences: Vec<Stored>,
}

/// All silences, with their compiled matchers.
pub(crate) struct Silences {
    path: PathBuf,
    list: Vec<(Stored, Vec<Matcher>)>,
}

/// The state of a silence at `now`.
pub fn state_at(s: &Silence, now: SystemTime) -> SilenceState {
    if s.ends_at <= now {
        SilenceState::Expired
    } else if s.starts_at > now {
        SilenceState::Pending
    } else {
        SilenceState::Active
    }
}

fn compile(s: &Silence) -> Result<Vec<Matcher>, NotifyError> {
    s.matchers.iter().map(SilenceMatcher::to_matcher).collect()
}

fn new_id() -> String {
    let b: [u8; 16] = rand::thread_rng().gen();
    let h: String = b.iter().map(|b| format!("{b:02x}")).collect();
    // UUID v4 layout, as Alertmanager's ids.
    format!("{}-{}-4{}-{:x}{}-{}", &h[0..8], &h[8..12], &h[13..16], 8 | (b[8] & 3), &h[17..20], &h[20..32])
}

impl Silences {
    /// Loads `path` (a missing file is an empty store).
    pub fn load(path: PathBuf) -> Result<Silences, NotifyError> {
        let file: Option<File> = crate::store::read(&path)?;
        let mut list = Vec::new();
        for s in file.map(|f| f.silences).unwrap_or_default() {
            let m = compile(&s.silence)?;
            list.push((s, m));
        }
        Ok(Silences { path, list })
    }

    /// Writes the store, dropping silences expired longer than [`RETENTION`].
    pub fn save(&mut self, now: SystemTime) -> Result<(), NotifyError> {
        self.list.retain(|(s, _)| s.silence.ends_at + RETENTION > now);
        let file = File { version: 1, silences: self.list.iter().map(|(s, _)| s.clone()).collect() };
        crate::store::write_atomic(&self.path, &file)
    }

    /// Creates or updates a silence; returns its id (a new one when an update had to replace it).
    pub fn set(&mut self, mut s: Silence, now: SystemTime) -> Result<String, NotifyError> {
        let bad = |m: &str| Err(NotifyError::InvalidSilence(m.to_string()));
        if s.matchers.is_empty() {
            return bad("at least one matcher required");
        }
        let matchers = compile(&s)?;
        if matchers.iter().all(Matcher::matches_empty) {
            return bad("at least one matcher must not match the empty string");
        }
        if s.ends_at < s.starts_at {
            return bad("end time can't be before start time");
        }
        if s.ends_at < now {
            return bad("end time can't be in the past");
        }
        if let Some(id) = s.id.clone() {
            let i = self
                .list
                .iter()
                .position(|(x, _)| x.silence.id.as_deref() == Some(id.as_str()))
                .ok_or_else(|| NotifyError::SilenceNotFound(id.clone()))?;
            let old = &self.list[i].0.silence;
            let can_update = match state_at(old, now) {
                SilenceState::Expired => false,
                SilenceState::Active => s.starts_at == old.starts_at && old.matchers == s.matchers,
                SilenceState::Pending => s.starts_at >= now,
            };
            if can_update {
                self.list[i] = (Stored { silence: s, updated_at: now }, matchers);
                return Ok(id);
            }
            self.expire_index(i, now);
        }
        if s.starts_at < now {
            s.starts_at = now;
        }
        let id = new_id();
        s.id = Some(id.clone());
        self.list.push((Stored { silence: s, updated_at: now }, matchers));
        Ok(id)
    }

    /// Expires a silence now (a pending one gets start = end = now).
    pub fn expire(&mut self, id: &str, now: SystemTime) -> Result<(), NotifyError> {
        let i = self
            .list
            .iter()
            .position(|(x, _)| x.silence.id.as_deref() == Some(id))
            .ok_or_else(|| NotifyError::SilenceNotFound(id.to_string()))?;
        if state_at(&self.list[i].0.silence, now) == SilenceState::Expired {
            return Err(NotifyError::InvalidSilence(format!("silence {id} already expired")));
        }
        self.expire_index(i, now);
        Ok(())
    }

    fn expire_index(&mut self, i: usize, now: SystemTime) {
        let s = &mut self.list[i].0;
        if s.silence.starts_at > now {
            s.silence.starts_at = now;
        }
        s.silence.ends_at = now;
        s.updated_at = now;
    }

    /// Ids of the active silences muting these labels.
    pub fn muting(&self, labels: &Labels, now: SystemTime) -> Vec<String> {
        self.list
            .iter()
            .filter(|(s, m)| {
                state_at(&s.silence, now) == SilenceState::Active
                    && m.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
            })
            .filter_map(|(s, _)| s.silence.id.clone())
            .collect()
    }

    /// Every silence with its state.
    pub fn list(&self, now: SystemTime) -> Vec<SilenceInfo> {
        self.list
            .iter()
            .map(|(s, _)| SilenceInfo {
                silence: s.silence.clone(),
                status: SilenceStatus { state: state_at(&s.silence, now) },
                updated_at: s.updated_at,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_uuids() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
