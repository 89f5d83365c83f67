//! Target discovery: static lists and `file_sd` files (JSON or YAML), watched for changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use serde::Deserialize;

use crate::config::{FileSdConfig, ScrapeConfig};

/// A set of targets sharing labels, as discovered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels of every target of the group.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Where the group came from (`static/0`, a file name and index).
    #[serde(skip)]
    pub source: String,
}

/// Discovers the target groups of one job; `poll` says whether they changed.
pub struct Discoverer {
    statics: Vec<TargetGroup>,
    files: Vec<FileSdConfig>,
    /// Modification times of every file read last time.
    seen: BTreeMap<PathBuf, Option<(SystemTime, u64)>>,
    last_full: Option<Instant>,
    file_groups: Vec<TargetGroup>,
    /// The last error reading a file, kept so it is logged once.
    pub last_error: Option<String>,
}

impl Discoverer {
    /// A discoverer for the job's static and file configurations.
    pub fn new(job: &ScrapeConfig) -> Self {
        let statics = job
            .static_configs
            .iter()
            .enumerate()
            .map(|(i, s)| TargetGroup { targets: s.targets.clone(), labels: s.labels.clone(), source: format!("{i}") })
            .collect();
        Discoverer {
            statics,
            files: job.file_sd_configs.clone(),
            seen: BTreeMap::new(),
            last_full: None,
            file_groups: Vec::new(),
            last_error: None,
        }
    }

    /// True when the job has files to watch.
    pub fn watches_files(&self) -> bool {
        !self.files.is_empty()
    }

    /// All groups as of now.
    pub fn groups(&self) -> Vec<TargetGroup> {
        self.statics.iter().chain(&self.file_groups).cloned().collect()
    }

    /// Re-reads files when one was added, removed or modified, or the refresh interval passed.
    /// Returns true when the groups changed.
    pub fn poll(&mut self) -> bool {
        if self.files.is_empty() {
            return false;
        }
        let paths: Vec<PathBuf> = self.files.iter().flat_map(|f| expand(&f.files)).collect();
        let stamps: BTreeMap<PathBuf, Option<(SystemTime, u64)>> = paths
            .iter()
            .map(|p| (p.clone(), std::fs::metadata(p).and_then(|m| Ok((m.modified()?, m.len()))).ok()))
            .collect();
        let refresh = self.files.iter().map(|f| f.refresh_interval.get()).min().unwrap_or_default();
        let due = self.last_full.is_none_or(|t| t.elapsed() >= refresh);
        if stamps == self.seen && !due {
            return false;
        }
        self.seen = stamps;
        self.last_full = Some(Instant::now());
        let mut groups = Vec::new();
        let mut error = None;
        for p in &paths {
            match read_file(p) {
                Ok(gs) => groups.extend(gs),
                Err(e) => {
                    // Like Prometheus, a file that fails to parse keeps its previous targets.
                    error = Some(e);
                    let key = p.display().to_string();
                    groups.extend(self.file_groups.iter().filter(|g| g.source.starts_with(&key)).cloned());
                }
            }
        }
        if let Some(e) = &error {
            if self.last_error.as_ref() != Some(e) {
                tracing::warn!(error = %e, "file_sd: keeping the previous targets of a file that failed to load");
            }
        }
        self.last_error = error;
        if groups == self.file_groups {
            return false;
        }
        self.file_groups = groups;
        true
    }
}

/// Reads one file_sd file: a JSON or YAML list of `{targets, labels}`.
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut groups: Vec<TargetGroup> = match ext {
        "json" => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        "yml" | "yaml" => serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        _ => return Err(format!("{}: file_sd files must end in .json, .yml or .yaml", path.display())),
    };
    for (i, g) in groups.iter_mut().enumerate() {
        g.source = format!("{}:{i}", path.display());
    }
    Ok(groups)
}

/// Expands `*` and `?` in the last path component of each pattern (sorted, existing files only).
fn expand(patterns: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in patterns {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.contains(['*', '?']) {
            out.push(p.clone());
            continue;
        }
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(|n| glob_match(name.as_bytes(), n.as_bytes())))
            .map(|e| e.path())
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_match(&pat[1..], s) || (!s.is_empty() && glob_match(pat, &s[1..])),
        (Some(b'?'), Some(_)) => glob_match(&pat[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&pat[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*.json", b"a.json"));
        assert!(glob_match(b"t?.yml", b"t1.yml"));
        assert!(!glob_match(b"*.json", b"a.yml"));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn reads_json_and_yaml_and_sees_changes() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("a.json");
        std::fs::write(&j, r#"[{"targets":["h:1","h:2"],"labels":{"env":"prod"}}]"#).unwrap();
        std::fs::write(dir.path().join("b.yml"), "- targets: [\"h:3\"]\n").unwrap();
        let mut job = ScrapeConfig::with_targets("j", vec![]);
        job.static_configs.clear();
        job.file_sd_configs.push(FileSdConfig {
            files: vec![dir.path().join("*.json"), dir.path().join("b.yml")],
            refresh_interval: vitals_model::PromDuration::from_secs(300),
        });
        let mut d = Discoverer::new(&job);
        assert!(d.poll());
        let targets: Vec<String> = d.groups().into_iter().flat_map(|g| g.targets).collect();
        assert_eq!(targets, ["h:1", "h:2", "h:3"]);
        assert!(!d.poll(), "nothing changed");
        std::fs::write(&j, "not json").unwrap();
        // A broken file keeps its previous targets.
        let _ = d.poll();
        assert!(d.last_error.is_some());
        assert_eq!(d.groups().iter().map(|g| g.targets.len()).sum::<usize>(), 3);
        std::fs::write(&j, r#"[{"targets":["h:9"]}]"#).unwrap();
        // Make sure the modification time moves even on coarse clocks.
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options().write(true).open(&j).unwrap().set_modified(later).unwrap();
        assert!(d.poll());
        let targets: Vec<String> = d.groups().into_iter().flat_map(|g| g.targets).collect();
        assert_eq!(targets, ["h:9", "h:3"]);
    }
}
