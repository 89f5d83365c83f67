//! Relabeling with Prometheus semantics: `relabel_configs` / `metric_relabel_configs` rules applied in
//! order to a label set, which they may rewrite or drop.
//!
//! Label names are validated with the legacy scheme (`[a-zA-Z_][a-zA-Z0-9_]*`), as Prometheus does
//! for `target_label`. Regexes are anchored as `^(?s:...)$` like label matchers.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::labels::{intern, Label, Labels, Symbol};

/// A relabeling rule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    /// The regex does not compile.
    #[error("invalid regex {regex:?}: {msg}")]
    BadRegex {
        /// The regex as written.
        regex: String,
        /// The compiler's message.
        msg: String,
    },
    /// The action name is unknown.
    #[error("unknown relabel action {0:?}")]
    UnknownAction(String),
    /// `hashmod` with `modulus: 0`.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// The action writes a label but `target_label` is empty.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(Action),
    /// `target_label` is not a label name (or, for replace, not a name template).
    #[error("{label:?} is invalid 'target_label' for {action} action")]
    InvalidTargetLabel {
        /// The target label as written.
        label: String,
        /// The action.
        action: Action,
    },
    /// `replacement` is not a label name template (labelmap).
    #[error("{replacement:?} is invalid 'replacement' for {action} action")]
    InvalidReplacement {
        /// The replacement as written.
        replacement: String,
        /// The action.
        action: Action,
    },
    /// The action does not take a `replacement`.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(Action),
    /// keepequal/dropequal with fields other than `source_labels` and `target_label`.
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    OnlySourceAndTarget(Action),
    /// labeldrop/labelkeep with fields other than `regex`.
    #[error("{0} action requires only 'regex', and no other fields")]
    OnlyRegex(Action),
}

/// What a relabeling rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Writes the expanded `replacement` to the expanded `target_label` when `regex` matches.
    #[default]
    Replace,
    /// Drops the series unless `regex` matches the joined source values.
    Keep,
    /// Drops the series when `regex` matches the joined source values.
    Drop,
    /// Drops the series unless the joined source values equal the value of `target_label`.
    KeepEqual,
    /// Drops the series when the joined source values equal the value of `target_label`.
    DropEqual,
    /// Sets `target_label` to the md5 of the joined source values modulo `modulus`.
    HashMod,
    /// Copies every label whose name matches `regex` to the name given by `replacement`.
    LabelMap,
    /// Removes every label whose name matches `regex`.
    LabelDrop,
    /// Removes every label whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the joined source values in lower case.
    Lowercase,
    /// Sets `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The configuration name (`replace`, `keep`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = RelabelError;

    /// Parses an action name case-insensitively, as Prometheus does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| RelabelError::UnknownAction(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The default regex of a rule: matches anything and captures it as `$1`.
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default separator between source label values.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default replacement: the first capture group.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// A fully anchored regex (`^(?s:...)$`) that remembers and serialises as the text it was written as.
#[derive(Clone)]
pub struct Regex {
    original: String,
    re: regex::Regex,
}

impl Regex {
    /// Compiles `s` anchored at both ends, with `.` matching newlines.
    pub fn new(s: &str) -> Result<Self, RelabelError> {
        let re = regex::Regex::new(&format!("^(?s:{s})$"))
            .map_err(|e| RelabelError::BadRegex { regex: s.to_string(), msg: e.to_string() })?;
        Ok(Regex { original: s.to_string(), re })
    }

    /// The regex as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// True when the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// The compiled, anchored regex.
    pub fn compiled(&self) -> &regex::Regex {
        &self.re
    }
}

impl Default for Regex {
    fn default() -> Self {
        static DEFAULT: LazyLock<Regex> =
            LazyLock::new(|| Regex { original: DEFAULT_REGEX.to_string(), re: anchored_const(DEFAULT_REGEX) });
        DEFAULT.clone()
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.original == other.original
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.original, f)
    }
}

impl fmt::Display for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl Serialize for Regex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.original)
    }
}

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        Regex::new(&s).map_err(serde::de::Error::custom)
    }
}

/// One relabeling rule, as written under `relabel_configs` or `metric_relabel_configs`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    pub source_labels: Vec<String>,
    /// String placed between source values.
    pub separator: String,
    /// Regex matched against the whole input (or, for labelmap/labeldrop/labelkeep, each label name).
    pub regex: Regex,
    /// Modulus for `hashmod`.
    pub modulus: u64,
    /// Label written by replace, hashmod, lowercase, uppercase; compared by keepequal/dropequal.
    pub target_label: String,
    /// Template written by replace and labelmap (`$1`, `${1}`, `$name`, `$$`).
    pub replacement: String,
    /// What the rule does.
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            regex: Regex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: Action::Replace,
        }
    }
}

impl RelabelConfig {
    /// Checks the rule as Prometheus does when it loads a configuration.
    pub fn validate(&self) -> Result<(), RelabelError> {
        use Action::*;
        let a = self.action;
        if a == HashMod && self.modulus == 0 {
            return Err(RelabelError::ZeroModulus);
        }
        if matches!(a, Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual)
            && self.target_label.is_empty()
        {
            return Err(RelabelError::MissingTargetLabel(a));
        }
        let invalid_target = || RelabelError::InvalidTargetLabel { label: self.target_label.clone(), action: a };
        if a == Replace {
            let ok = if self.target_label.contains('$') {
                is_name_template(&self.target_label)
            } else {
                is_label_name(&self.target_label)
            };
            if !ok {
                return Err(invalid_target());
            }
        }
        if matches!(a, Lowercase | Uppercase | KeepEqual | DropEqual | HashMod) && !is_label_name(&self.target_label) {
            return Err(invalid_target());
        }
        if matches!(a, Lowercase | Uppercase | KeepEqual | DropEqual) && self.replacement != DEFAULT_REPLACEMENT {
            return Err(RelabelError::ReplacementNotAllowed(a));
        }
        if a == LabelMap && !is_name_template(&self.replacement) {
            return Err(RelabelError::InvalidReplacement { replacement: self.replacement.clone(), action: a });
        }
        if matches!(a, KeepEqual | DropEqual)
            && (self.regex.as_str() != DEFAULT_REGEX || self.modulus != 0 || self.separator != DEFAULT_SEPARATOR)
        {
            return Err(RelabelError::OnlySourceAndTarget(a));
        }
        if matches!(a, LabelDrop | LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::OnlyRegex(a));
        }
        Ok(())
    }
}

/// Applies `configs` in order; `None` when a rule drops the series or no label is left.
///
/// When no rule changes anything the result shares the input's storage (no allocation).
pub fn process(labels: &Labels, configs: &[RelabelConfig]) -> Option<Labels> {
    let mut work = Work::Borrowed(labels.as_slice());
    let mut scratch = String::new();
    for cfg in configs {
        if !apply(cfg, &mut work, &mut scratch) {
            return None;
        }
    }
    match work {
        Work::Borrowed([]) => None,
        Work::Borrowed(_) => Some(labels.clone()),
        Work::Owned(v) if v.is_empty() => None,
        Work::Owned(v) => Some(Labels::from_sorted(v)),
    }
}

/// Like [`process`], over labels the caller owns, sorted by name and unique; rewritten in place.
///
/// Returns false when the series is dropped (the vector's contents are then unspecified).
pub fn process_vec(labels: &mut Vec<Label>, configs: &[RelabelConfig]) -> bool {
    let mut work = Work::Owned(std::mem::take(labels));
    let mut scratch = String::new();
    let mut keep = true;
    for cfg in configs {
        if !apply(cfg, &mut work, &mut scratch) {
            keep = false;
            break;
        }
    }
    *labels = match work {
        Work::Owned(v) => v,
        Work::Borrowed(s) => s.to_vec(),
    };
    keep && !labels.is_empty()
}

/// A label list that is copied only when a rule first changes it; always sorted by name.
enum Work<'a> {
    Borrowed(&'a [Label]),
    Owned(Vec<Label>),
}

impl Work<'_> {
    fn slice(&self) -> &[Label] {
        match self {
            Work::Borrowed(s) => s,
            Work::Owned(v) => v,
        }
    }

    fn owned(&mut self) -> &mut Vec<Label> {
        if let Work::Borrowed(s) = self {
            *self = Work::Owned(s.to_vec());
        }
        match self {
            Work::Owned(v) => v,
            Work::Borrowed(_) => unreachable!("converted above"),
        }
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.slice().binary_search_by(|l| l.name.as_str().cmp(name))
    }

    fn get(&self, name: &str) -> &str {
        match self.find(name) {
            Ok(i) => self.slice()[i].value.as_str(),
            Err(_) => "",
        }
    }

    /// Sets `name` to `value`; an empty value deletes. Copies nothing when the value is unchanged.
    fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return self.del(name);
        }
        match self.find(name) {
            Ok(i) if self.slice()[i].value.as_str() == value => {}
            Ok(i) => self.owned()[i].value = intern(value),
            Err(_) if name.is_empty() => {}
            Err(i) => self.owned().insert(i, Label::new(name, value)),
        }
    }

    /// Sets `name` to an already interned, non-empty value.
    fn set_symbol(&mut self, name: &str, value: Symbol) {
        match self.find(name) {
            Ok(i) if self.slice()[i].value == value => {}
            Ok(i) => self.owned()[i].value = value,
            Err(i) => self.owned().insert(i, Label { name: intern(name), value }),
        }
    }

    fn del(&mut self, name: &str) {
        if let Ok(i) = self.find(name) {
            self.owned().remove(i);
        }
    }

    /// Keeps the labels whose name passes `f`.
    fn retain_names(&mut self, f: impl Fn(&str) -> bool) {
        if self.slice().iter().all(|l| f(&l.name)) {
            return;
        }
        self.owned().retain(|l| f(&l.name));
    }
}

/// Applies one rule; false when it drops the series.
fn apply(cfg: &RelabelConfig, work: &mut Work<'_>, scratch: &mut String) -> bool {
    if let Some(source) = plain_copy(cfg) {
        // The common `target_label: x, source_labels: [y]` copy: share the value, skip the regex.
        match work.find(source) {
            Ok(i) => {
                let value = work.slice()[i].value.clone();
                work.set_symbol(&cfg.target_label, value);
            }
            Err(_) => work.del(&cfg.target_label),
        }
        return true;
    }
    let val: Cow<'_, str> = match cfg.source_labels.as_slice() {
        [] => Cow::Borrowed(""),
        [one] => Cow::Borrowed(work.get(one)),
        many => {
            scratch.clear();
            for (i, name) in many.iter().enumerate() {
                if i > 0 {
                    scratch.push_str(&cfg.separator);
                }
                scratch.push_str(work.get(name));
            }
            Cow::Borrowed(scratch.as_str())
        }
    };
    match cfg.action {
        Action::Drop => return !cfg.regex.is_match(&val),
        Action::Keep => return cfg.regex.is_match(&val),
        Action::DropEqual => return work.get(&cfg.target_label) != val,
        Action::KeepEqual => return work.get(&cfg.target_label) == val,
        Action::Replace => {
            if let Some((target, value)) = replace(cfg, &val) {
                work.set(&target, &value);
            }
        }
        Action::Lowercase => {
            let v = val.to_lowercase();
            work.set(&cfg.target_label, &v);
        }
        Action::Uppercase => {
            let v = val.to_uppercase();
            work.set(&cfg.target_label, &v);
        }
        Action::HashMod => {
            let v = hashmod(&val, cfg.modulus).to_string();
            work.set(&cfg.target_label, &v);
        }
        Action::LabelMap => {
            let re = cfg.regex.compiled();
            let mapped: Vec<(String, Label)> = work
                .slice()
                .iter()
                .filter(|l| re.is_match(&l.name))
                .map(|l| (re.replace_all(&l.name, cfg.replacement.as_str()).into_owned(), l.clone()))
                .collect();
            for (name, l) in mapped {
                work.set(&name, &l.value);
            }
        }
        Action::LabelDrop => work.retain_names(|n| !cfg.regex.is_match(n)),
        Action::LabelKeep => work.retain_names(|n| cfg.regex.is_match(n)),
    }
    true
}

/// The single source label of a replace rule that copies it unchanged to a fixed target.
fn plain_copy(cfg: &RelabelConfig) -> Option<&str> {
    match cfg.source_labels.as_slice() {
        [one]
            if cfg.action == Action::Replace
                && matches!(cfg.replacement.as_str(), "$1" | "${1}")
                && cfg.regex.as_str() == DEFAULT_REGEX
                && is_label_name(&cfg.target_label) =>
        {
            Some(one)
        }
        _ => None,
    }
}

/// The target label and value a replace rule writes, or `None` when it writes nothing.
fn replace<'c>(cfg: &'c RelabelConfig, val: &str) -> Option<(Cow<'c, str>, Cow<'c, str>)> {
    let target_tpl = cfg.target_label.contains('$');
    let repl_tpl = cfg.replacement.contains('$');
    // Prometheus' fast path: an empty input with the default regex sets the literal replacement.
    if val.is_empty() && cfg.regex.as_str() == DEFAULT_REGEX && !target_tpl && !repl_tpl {
        return Some((Cow::Borrowed(&cfg.target_label), Cow::Borrowed(&cfg.replacement)));
    }
    if !target_tpl && !repl_tpl {
        return cfg
            .regex
            .is_match(val)
            .then_some((Cow::Borrowed(cfg.target_label.as_str()), Cow::Borrowed(cfg.replacement.as_str())));
    }
    let caps = cfg.regex.compiled().captures(val)?;
    let target = if target_tpl {
        let mut t = String::new();
        caps.expand(&cfg.target_label, &mut t);
        if !is_label_name(&t) {
            return None;
        }
        Cow::Owned(t)
    } else {
        Cow::Borrowed(cfg.target_label.as_str())
    };
    let value = if repl_tpl {
        let mut v = String::new();
        caps.expand(&cfg.replacement, &mut v);
        Cow::Owned(v)
    } else {
        Cow::Borrowed(cfg.replacement.as_str())
    };
    Some((target, value))
}

/// `hashmod`: the last 8 bytes of md5(`val`) as a big-endian integer, modulo `modulus` (as Prometheus).
pub fn hashmod(val: &str, modulus: u64) -> u64 {
    let sum = Md5::digest(val.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&sum[8..16]);
    u64::from_be_bytes(tail).checked_rem(modulus).unwrap_or(0)
}

/// A legacy label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// A label name template such as `foo_${1}` or `$name`, as Prometheus accepts for targets.
pub fn is_name_template(s: &str) -> bool {
    static TEMPLATE: LazyLock<regex::Regex> =
        LazyLock::new(|| anchored_const(r"(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+"));
    TEMPLATE.is_match(s)
}

/// Compiles a regex that is a constant of this module.
fn anchored_const(s: &str) -> regex::Regex {
    match regex::Regex::new(&format!("^(?s:{s})$")) {
        Ok(re) => re,
        Err(e) => panic!("constant regex {s:?} does not compile: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashmod_matches_prometheus() {
        assert_eq!(hashmod("baz", 1000), 976);
        assert_eq!(hashmod("foo\nbar", 1000), 734);
    }

    #[test]
    fn unchanged_labels_share_storage() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "api")]);
        let cfgs = [RelabelConfig {
            source_labels: vec!["job".into()],
            regex: Regex::new("api").unwrap(),
            action: Action::Keep,
            ..Default::default()
        }];
        let out = process(&l, &cfgs).unwrap();
        assert!(std::ptr::eq(out.as_slice().as_ptr(), l.as_slice().as_ptr()));
    }

    #[test]
    fn name_templates() {
        for (s, ok) in [
            ("-label", false),
            ("label", true),
            ("label${1}", true),
            ("${1}label", true),
            ("${1}", true),
            ("${", false),
            ("$", false),
            ("${}", false),
            ("foo${", false),
            ("$1", true),
            ("asd$2asd", true),
            ("-foo${1}bar-", false),
            ("_${1}_", true),
            ("foo${bar}foo", true),
        ] {
            assert_eq!(is_name_template(s), ok, "{s}");
        }
    }

    #[test]
    fn actions_parse_case_insensitively() {
        assert_eq!("LabelMap".parse::<Action>(), Ok(Action::LabelMap));
        assert_eq!("KEEPEQUAL".parse::<Action>(), Ok(Action::KeepEqual));
        assert!("nope".parse::<Action>().is_err());
    }
}
