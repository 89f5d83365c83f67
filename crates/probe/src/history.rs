//! Up/down history of each (check, target): incidents with start, end and cause, uptime over
//! 1 h, 24 h, 7 d and 30 d computed from them, and the file they are kept in
//! (`data/probes/history.json`, see docs/format/probes.md).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Incidents that ended longer ago than this are forgotten.
const KEEP_MS: i64 = 31 * DAY_MS;
/// Format version written in the file.
const VERSION: u32 = 1;

/// A period during which a target was down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// First failed probe, ms since the epoch.
    pub start: i64,
    /// First successful probe after it (None: still down).
    pub end: Option<i64>,
    /// The failure reason of the first failed probe.
    pub cause: String,
}

/// Uptime percentages (0–100) over the last hour, day, week and 30 days, and the incidents of the
/// last 30 days (newest last).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    /// Last hour.
    pub h1: f64,
    /// Last 24 hours.
    pub h24: f64,
    /// Last 7 days.
    pub d7: f64,
    /// Last 30 days.
    pub d30: f64,
    /// Incidents that overlap the last 30 days.
    pub incidents: Vec<Incident>,
}

/// The history of one (check, target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetHistory {
    /// Check name.
    pub check: String,
    /// Target.
    pub target: String,
    /// First probe ever recorded, ms (time before it is not counted in uptime).
    pub first_seen: i64,
    /// Latest probe, ms.
    pub last_seen: i64,
    /// Whether the latest probe succeeded.
    pub up: bool,
    /// Incidents, oldest first.
    pub incidents: Vec<Incident>,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    saved_at: i64,
    targets: Vec<TargetHistory>,
}

/// Why the history file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Reading or writing failed.
    #[error("probe history {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("probe history {path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Every (check, target)'s history.
#[derive(Debug, Default, Clone)]
pub struct History {
    targets: BTreeMap<(String, String), TargetHistory>,
}

impl History {
    /// Records one probe at `t` (ms).
    pub fn record(&mut self, check: &str, target: &str, t: i64, success: bool, cause: &str) {
        let h = self.targets.entry((check.to_string(), target.to_string())).or_insert_with(|| TargetHistory {
            check: check.to_string(),
            target: target.to_string(),
            first_seen: t,
            last_seen: t,
            up: true,
            incidents: Vec::new(),
        });
        h.last_seen = h.last_seen.max(t);
        let open = h.incidents.last().is_some_and(|i| i.end.is_none());
        match (success, open) {
            (false, false) => h.incidents.push(Incident { start: t, end: None, cause: cause.to_string() }),
            (true, true) => {
                if let Some(i) = h.incidents.last_mut() {
                    i.end = Some(t);
                }
            }
            _ => {}
        }
        h.up = success;
        let horizon = t - KEEP_MS;
        h.incidents.retain(|i| i.end.is_none_or(|e| e >= horizon));
    }

    /// Forgets the (check, target)s not in `keep`.
    pub fn retain(&mut self, keep: impl Fn(&str, &str) -> bool) {
        self.targets.retain(|(c, t), _| keep(c, t));
    }

    /// The history of one (check, target).
    pub fn get(&self, check: &str, target: &str) -> Option<&TargetHistory> {
        self.targets.get(&(check.to_string(), target.to_string()))
    }

    /// Uptime of one (check, target) as of `now` (ms); None when it was never probed.
    pub fn uptime(&self, check: &str, target: &str, now: i64) -> Option<Uptime> {
        let h = self.get(check, target)?;
        let pct = |window: i64| -> f64 {
            let from = (now - window).max(h.first_seen);
            let span = now - from;
            if span <= 0 {
                return if h.up { 100.0 } else { 0.0 };
            }
            let down: i64 = h
                .incidents
                .iter()
                .map(|i| {
                    let s = i.start.max(from);
                    let e = i.end.unwrap_or(now).min(now);
                    (e - s).max(0)
                })
                .sum();
            100.0 * (span - down.min(span)) as f64 / span as f64
        };
        Some(Uptime {
            h1: pct(HOUR_MS),
            h24: pct(DAY_MS),
            d7: pct(7 * DAY_MS),
            d30: pct(30 * DAY_MS),
            incidents: h.incidents.iter().filter(|i| i.end.is_none_or(|e| e >= now - 30 * DAY_MS)).cloned().collect(),
        })
    }

    /// Writes the history to `path` atomically (temporary file, fsync, rename, fsync of the directory).
    pub fn save(&self, path: &Path, now: i64) -> Result<(), HistoryError> {
        let io = |source| HistoryError::Io { path: path.display().to_string(), source };
        let file = File { version: VERSION, saved_at: now, targets: self.targets.values().cloned().collect() };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| HistoryError::Format { path: path.display().to_string(), message: e.to_string() })?;
        vitals_model::fsutil::write_atomic(path, &bytes).map_err(io)
    }

    /// Reads a history file; a missing file is an empty history.
    pub fn load(path: &Path) -> Result<History, HistoryError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::default()),
            Err(source) => return Err(HistoryError::Io { path: path.display().to_string(), source }),
        };
        let file: File = serde_json::from_slice(&bytes)
            .map_err(|e| HistoryError::Format { path: path.display().to_string(), message: e.to_string() })?;
        if file.version != VERSION {
            return Err(HistoryError::Format {
                path: path.display().to_string(),
                message: format!("unknown version {}", file.version),
            });
        }
        let targets = file.targets.into_iter().map(|t| ((t.check.clone(), t.target.clone()), t)).collect();
        Ok(History { targets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incidents_and_uptime() {
        let mut h = History::default();
        let t0 = 1_000_000_000_000;
        h.record("c", "t", t0, true, "");
        h.record("c", "t", t0 + 60_000, false, "boom");
        h.record("c", "t", t0 + 120_000, false, "other");
        h.record("c", "t", t0 + 360_000, true, "");
        let now = t0 + HOUR_MS;
        let u = h.uptime("c", "t", now).unwrap();
        assert_eq!(u.incidents, vec![Incident { start: t0 + 60_000, end: Some(t0 + 360_000), cause: "boom".into() }]);
        // 5 minutes down out of 60.
        assert!((u.h1 - 100.0 * 55.0 / 60.0).abs() < 1e-9, "{}", u.h1);
        // Longer windows start at first_seen, so they show the same figure.
        assert_eq!(u.d30, u.h1);
        // An open incident counts up to now.
        h.record("c", "t", now, false, "again");
        let u = h.uptime("c", "t", now + 60_000).unwrap();
        assert_eq!(u.incidents.last().unwrap().end, None);
        assert!(u.h1 < 100.0 * 55.0 / 60.0);
        assert!(h.uptime("c", "nope", now).is_none());
    }

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probes/history.json");
        let mut h = History::default();
        h.record("c", "t", 5, false, "x");
        h.save(&path, 10).unwrap();
        let back = History::load(&path).unwrap();
        assert_eq!(back.get("c", "t"), h.get("c", "t"));
        assert!(History::load(&dir.path().join("missing.json")).unwrap().targets.is_empty());
        std::fs::write(&path, "{").unwrap();
        assert!(History::load(&path).is_err());
    }
}
