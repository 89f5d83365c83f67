//! Label sets: sorted, immutable, cheap to clone, built from interned symbols so that millions of
//! series share one copy of each distinct name and value.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use rustc_hash::{FxBuildHasher, FxHashSet};

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// An interned string: equal symbols from [`intern`] share one allocation.
#[derive(Clone, Eq, PartialOrd, Ord)]
pub struct Symbol(Arc<str>);

impl Symbol {
    /// The string itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when both symbols share one allocation (a fast pre-check before comparing bytes).
    pub fn ptr_eq(&self, other: &Symbol) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl PartialEq for Symbol {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Hash for Symbol {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl Deref for Symbol {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Symbol {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Symbol {
    fn from(s: &str) -> Self {
        intern(s)
    }
}

const SHARDS: usize = 64;

struct Interner {
    shards: Vec<Mutex<FxHashSet<Arc<str>>>>,
}

static INTERNER: LazyLock<Interner> =
    LazyLock::new(|| Interner { shards: (0..SHARDS).map(|_| Mutex::new(FxHashSet::default())).collect() });

fn shard_of(s: &str) -> usize {
    (FxBuildHasher.hash_one(s) as usize) % SHARDS
}

/// Returns the shared symbol for `s`, creating it on first use.
pub fn intern(s: &str) -> Symbol {
    let mut shard = INTERNER.shards[shard_of(s)].lock();
    if let Some(existing) = shard.get(s) {
        return Symbol(existing.clone());
    }
    let arc: Arc<str> = Arc::from(s);
    shard.insert(arc.clone());
    Symbol(arc)
}

/// Drops interned strings that no label set uses any more; returns how many were dropped.
pub fn collect_unused_symbols() -> usize {
    let mut dropped = 0;
    for shard in &INTERNER.shards {
        let mut shard = shard.lock();
        let before = shard.len();
        shard.retain(|s| Arc::strong_count(s) > 1);
        dropped += before - shard.len();
    }
    dropped
}

/// Number of distinct strings currently interned.
pub fn interned_symbols() -> usize {
    INTERNER.shards.iter().map(|s| s.lock().len()).sum()
}

/// One name/value pair.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label name.
    pub name: Symbol,
    /// The label value (never empty inside a [`Labels`]: an empty value means "absent").
    pub value: Symbol,
}

impl Label {
    /// A label from two strings, interning both.
    pub fn new(name: &str, value: &str) -> Self {
        Label { name: intern(name), value: intern(value) }
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.value.as_str())
    }
}

/// A set of labels sorted by name, without duplicate names or empty values. Cloning is a pointer copy.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Labels(Arc<[Label]>);

static EMPTY: LazyLock<Labels> = LazyLock::new(|| Labels(Arc::from(Vec::new())));

impl Default for Labels {
    fn default() -> Self {
        EMPTY.clone()
    }
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Labels::default()
    }

    /// Builds a label set from pairs in any order; later duplicates win and empty values are dropped.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        let mut b = LabelsBuilder::new();
        for (n, v) in pairs {
            b.set(n.as_ref(), v.as_ref());
        }
        b.build()
    }

    /// Builds from labels that are already sorted by name, unique and non-empty (checked in debug).
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name.as_str() < w[1].name.as_str()));
        Labels(Arc::from(labels))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name)).ok().map(|i| self.0[i].value.as_str())
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// The labels as a slice in name order.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// A builder that starts from these labels.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder { labels: self.0.to_vec() }
    }

    /// A stable 64-bit hash of the names and values (FNV-1a over `name 0xff value 0xff ...`), the same
    /// in every process, so it can be written to disk.
    pub fn stable_hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for l in self.0.iter() {
            for b in l.name.as_bytes().iter().chain([0xffu8].iter()) {
                h ^= *b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            for b in l.value.as_bytes().iter().chain([0xffu8].iter()) {
                h ^= *b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Orders as Prometheus does: label by label, by name then value, a shorter prefix first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            let c = a.name.as_str().cmp(b.name.as_str()).then_with(|| a.value.as_str().cmp(b.value.as_str()));
            if c.is_ne() {
                return c;
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Labels {
    /// Prometheus' notation: `name{a="b", c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.metric_name() {
            f.write_str(n)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name.as_str() != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value.as_str())?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Collects labels in any order and builds a sorted [`Labels`].
#[derive(Default, Clone)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        LabelsBuilder::default()
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.labels.iter().position(|l| l.name.as_str() == name) {
            Some(i) if value.is_empty() => {
                self.labels.remove(i);
            }
            Some(i) => self.labels[i].value = intern(value),
            None if value.is_empty() => {}
            None => self.labels.push(Label::new(name, value)),
        }
        self
    }

    /// Removes `name`.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.labels.retain(|l| l.name.as_str() != name);
        self
    }

    /// Sorts and returns the label set.
    pub fn build(mut self) -> Labels {
        self.labels.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        Labels(Arc::from(self.labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_sorted_and_drops_empty_values() {
        let l = Labels::from_pairs([("job", "api"), ("__name__", "up"), ("env", ""), ("a", "1")]);
        let names: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "job"]);
        assert_eq!(l.get("job"), Some("api"));
        assert_eq!(l.get("env"), None);
        assert_eq!(l.to_string(), "up{a=\"1\", job=\"api\"}");
    }

    #[test]
    fn interning_shares_storage() {
        let a = intern("shared-value-xyz");
        let b = intern("shared-value-xyz");
        assert!(a.ptr_eq(&b));
        assert!(interned_symbols() >= 1);
    }

    #[test]
    fn ordering_is_prometheus_order() {
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs([("a", "2")]);
        assert!(a < b && b < c);
        assert_ne!(a.stable_hash(), b.stable_hash());
        assert_eq!(a.stable_hash(), Labels::from_pairs([("a", "1")]).stable_hash());
    }
}
