//! Prometheus rule files: the YAML model and the checks `promtool check rules` makes, with errors
//! that name the file, line, group and rule.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vitals_model::PromDuration;

use crate::template::Template;

/// A rule file: a list of groups.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The groups, evaluated independently.
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
}

/// One group: rules evaluated in order at the group's interval.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Unique name within the file.
    #[serde(default)]
    pub name: String,
    /// Evaluation interval (default: the global `evaluation_interval`).
    #[serde(default)]
    pub interval: Option<PromDuration>,
    /// Evaluate this much in the past (lets late samples arrive).
    #[serde(default)]
    pub query_offset: Option<PromDuration>,
    /// Most series a rule may produce (0: no limit).
    #[serde(default)]
    pub limit: usize,
    /// Labels added to every rule's output.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// One recording or alerting rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Name of the series a recording rule writes.
    #[serde(default)]
    pub record: Option<String>,
    /// Name of the alert an alerting rule raises.
    #[serde(default)]
    pub alert: Option<String>,
    /// The PromQL expression.
    #[serde(default)]
    pub expr: String,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for")]
    pub for_: Option<PromDuration>,
    /// How long a firing alert keeps firing after its condition cleared.
    #[serde(default)]
    pub keep_firing_for: Option<PromDuration>,
    /// Labels added (templated for alerts).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations of alerts (templated).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl RuleConfig {
    /// The rule's name: the alert or the recorded series.
    pub fn name(&self) -> &str {
        self.alert.as_deref().filter(|s| !s.is_empty()).or(self.record.as_deref()).unwrap_or("")
    }
}

/// A problem in a rule file.
#[derive(Debug, Clone)]
pub struct RuleFileError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Group name, when the problem is inside a group.
    pub group: Option<String>,
    /// 1-based rule index and rule name, when the problem is inside a rule.
    pub rule: Option<(usize, String)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": ")?;
        if let Some(g) = &self.group {
            write!(f, "group {g:?}, ")?;
        }
        if let Some((i, n)) = &self.rule {
            write!(f, "rule {i}, {n:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleFileError {}

/// A valid metric name in Prometheus' classic character set.
pub fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A valid label name in Prometheus' classic character set.
pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Lines where keys start, by key, in file order (used to point errors at a line).
struct KeyLines {
    names: Vec<usize>,
    rule_names: Vec<usize>,
    exprs: Vec<usize>,
}

impl KeyLines {
    fn scan(text: &str) -> Self {
        let mut k = KeyLines { names: Vec::new(), rule_names: Vec::new(), exprs: Vec::new() };
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start().trim_start_matches('-').trim_start();
            let key = t.split(':').next().unwrap_or("").trim();
            if !t.contains(':') {
                continue;
            }
            match key {
                "name" if line.trim_start().starts_with('-') => k.names.push(i + 1),
                "record" | "alert" => k.rule_names.push(i + 1),
                "expr" => k.exprs.push(i + 1),
                _ => {}
            }
        }
        k
    }
}

/// Parses and checks one rule file's text. All problems are returned, not just the first.
pub fn parse_rule_file(path: &Path, text: &str) -> Result<RuleFile, Vec<RuleFileError>> {
    let err = |line: Option<usize>, group: Option<&str>, rule: Option<(usize, &str)>, message: String| RuleFileError {
        file: path.to_path_buf(),
        line,
        group: group.map(str::to_string),
        rule: rule.map(|(i, n)| (i, n.to_string())),
        message,
    };
    let file: RuleFile = if text.trim().is_empty() {
        RuleFile::default()
    } else {
        match serde_norway::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                let line = e.location().map(|l| l.line());
                let msg = e.to_string();
                let msg = match msg.find(" at line ") {
                    Some(i) => msg[..i].to_string(),
                    None => msg,
                };
                return Err(vec![err(line, None, None, msg)]);
            }
        }
    };
    let lines = KeyLines::scan(text);
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut rule_no = 0usize;
    for (gi, g) in file.groups.iter().enumerate() {
        let gline = lines.names.get(gi).copied();
        if g.name.is_empty() {
            errors.push(err(gline, None, None, "Groupname must not be empty".into()));
        }
        if !seen.insert(g.name.clone()) {
            errors.push(err(gline, None, None, format!("groupname: \"{}\" is repeated in the same file", g.name)));
        }
        for k in g.labels.keys() {
            if !valid_label_name(k) || k == "__name__" {
                errors.push(err(gline, Some(&g.name), None, format!("invalid label name: {k}")));
            }
        }
        for (ri, r) in g.rules.iter().enumerate() {
            let name_line = lines.rule_names.get(rule_no).copied();
            let expr_line = lines.exprs.get(rule_no).copied();
            rule_no += 1;
            let here = Some((ri + 1, r.name()));
            let mut e = |line: Option<usize>, m: String| errors.push(err(line, Some(&g.name), here, m));
            let record = r.record.as_deref().unwrap_or("");
            let alert = r.alert.as_deref().unwrap_or("");
            if !record.is_empty() && !alert.is_empty() {
                e(name_line, "only one of 'record' and 'alert' must be set".into());
            }
            if record.is_empty() && alert.is_empty() {
                e(name_line.or(expr_line), "one of 'record' or 'alert' must be set".into());
            }
            if r.expr.is_empty() {
                e(name_line, "field 'expr' must be set in rule".into());
            } else if let Err(pe) = promql_parser::parser::parse(&r.expr) {
                e(expr_line, format!("could not parse expression: {}", pe.trim()));
            }
            if !record.is_empty() {
                if !r.annotations.is_empty() {
                    e(name_line, "invalid field 'annotations' in recording rule".into());
                }
                if r.for_.is_some_and(|d| !d.0.is_zero()) {
                    e(name_line, "invalid field 'for' in recording rule".into());
                }
                if r.keep_firing_for.is_some_and(|d| !d.0.is_zero()) {
                    e(name_line, "invalid field 'keep_firing_for' in recording rule".into());
                }
                if !valid_metric_name(record) {
                    e(name_line, format!("invalid recording rule name: {record}"));
                }
            }
            for k in r.labels.keys() {
                if !valid_label_name(k) || k == "__name__" {
                    e(name_line, format!("invalid label name: {k}"));
                }
            }
            for k in r.annotations.keys() {
                if !valid_label_name(k) {
                    e(name_line, format!("invalid annotation name: {k}"));
                }
            }
            if !alert.is_empty() {
                let tname = format!("__alert_{alert}");
                for (kind, map) in [("label", &r.labels), ("annotation", &r.annotations)] {
                    for (k, v) in map {
                        if let Err(te) = Template::parse(&tname, v) {
                            e(name_line, format!("{kind} {k:?}: {te}"));
                        }
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// The files matched by `rule_files` patterns (relative ones against `base`), sorted and unique.
pub fn expand_globs(patterns: &[String], base: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in patterns {
        let full = if Path::new(p).is_absolute() { PathBuf::from(p) } else { base.join(p) };
        let text = full.to_string_lossy().to_string();
        let paths = glob::glob(&text).map_err(|e| format!("rule_files: invalid pattern {p:?}: {e}"))?;
        for entry in paths {
            let path = entry.map_err(|e| format!("rule_files: {e}"))?;
            if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Reads and checks every file; returns all groups with their file, or every problem found.
pub fn load_files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, RuleFile)>, Vec<RuleFileError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::read_to_string(p) {
            Ok(text) => match parse_rule_file(p, &text) {
                Ok(f) => out.push((p.clone(), f)),
                Err(mut e) => errors.append(&mut e),
            },
            Err(e) => errors.push(RuleFileError {
                file: p.clone(),
                line: None,
                group: None,
                rule: None,
                message: e.to_string(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Vec<String> {
        match parse_rule_file(Path::new("r.yml"), text) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn good_file_parses() {
        let text = "groups:\n- name: g\n  interval: 30s\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    labels: {severity: page}\n    annotations:\n      summary: '{{ $labels.instance }} is down'\n";
        assert!(check(text).is_empty(), "{:?}", check(text));
        let f = parse_rule_file(Path::new("r.yml"), text).unwrap();
        assert_eq!(f.groups[0].rules.len(), 2);
        assert_eq!(f.groups[0].rules[1].for_.unwrap().0.as_secs(), 300);
    }

    #[test]
    fn errors_name_file_line_group_and_rule() {
        let text = "groups:\n- name: g\n  rules:\n  - record: ok:rule\n    expr: up\n  - alert: Bad\n    expr: sum(\n";
        let e = check(text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("r.yml:7: group \"g\", rule 2, \"Bad\": could not parse expression"), "{}", e[0]);
        let e = check("groups:\n- name: g\n  rules:\n  - record: 'a{b}'\n    expr: up\n    for: 1m\n");
        assert!(e.iter().any(|m| m.contains("invalid field 'for' in recording rule")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("invalid recording rule name: a{b}")), "{e:?}");
        let e = check("groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n");
        assert!(e[0].contains("r.yml:4: groupname: \"g\" is repeated in the same file"), "{e:?}");
        let e = check("groups:\n- name: g\n  rulez: []\n");
        assert!(e[0].starts_with("r.yml:3: ") && e[0].contains("unknown field `rulez`"), "{e:?}");
        let e = check("groups:\n- name: g\n  rules:\n  - expr: up\n");
        assert!(e[0].contains("one of 'record' or 'alert' must be set"), "{e:?}");
    }
}
