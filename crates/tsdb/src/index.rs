//! Inverted index: label name → value → sorted series references, and the evaluation of label
//! matchers over any such index (the head's in-memory one or a block's on disk).

use rustc_hash::FxHashMap;
use vitals_model::{Matcher, Symbol};

/// What matcher evaluation needs from an index.
pub(crate) trait PostingsSource {
    /// Sorted references of series with `name="value"`.
    fn postings(&self, name: &str, value: &str) -> Vec<u64>;
    /// Sorted references of all series.
    fn all_postings(&self) -> Vec<u64>;
    /// All values of `name`, sorted.
    fn values(&self, name: &str) -> Vec<Symbol>;
}

/// Sorted references of the series that satisfy every matcher.
pub(crate) fn postings_for_matchers(ix: &dyn PostingsSource, matchers: &[Matcher]) -> Vec<u64> {
    let mut include: Vec<Vec<u64>> = Vec::new();
    let mut exclude: Vec<Vec<u64>> = Vec::new();
    for m in matchers {
        if m.matches_empty() {
            // Series without the label pass; exclude those whose value fails the matcher.
            let failing: Vec<Vec<u64>> =
                matching_values(ix, m, false).iter().map(|v| ix.postings(&m.name, v)).collect();
            if !failing.is_empty() {
                exclude.push(merge(failing));
            }
        } else {
            let passing: Vec<Vec<u64>> = matching_values(ix, m, true).iter().map(|v| ix.postings(&m.name, v)).collect();
            include.push(merge(passing));
        }
    }
    let mut result = if include.is_empty() {
        ix.all_postings()
    } else {
        include.sort_by_key(|p| p.len());
        let mut it = include.into_iter();
        let mut acc = it.next().unwrap_or_default();
        for p in it {
            if acc.is_empty() {
                break;
            }
            acc = intersect(&acc, &p);
        }
        acc
    };
    for ex in exclude {
        result = subtract(&result, &ex);
    }
    result
}

/// Values of `m.name` that satisfy the matcher (`want = true`) or fail it (`want = false`).
fn matching_values(ix: &dyn PostingsSource, m: &Matcher, want: bool) -> Vec<String> {
    if want {
        if let Some(set) = m.set_matches() {
            return set.into_iter().filter(|v| !v.is_empty()).map(str::to_string).collect();
        }
    }
    let prefix = if want { m.prefix() } else { "" };
    ix.values(&m.name)
        .into_iter()
        .filter(|v| v.starts_with(prefix) && m.matches(v) == want)
        .map(|v| v.to_string())
        .collect()
}

/// Intersection of two sorted lists.
pub(crate) fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    if small.len() * 16 < large.len() {
        let mut rest = large;
        for &x in small {
            let i = rest.partition_point(|&y| y < x);
            if i < rest.len() && rest[i] == x {
                out.push(x);
            }
            rest = &rest[i..];
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Elements of sorted `a` not in sorted `b`.
pub(crate) fn subtract(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

/// Union of sorted lists, sorted and without duplicates.
pub(crate) fn merge(mut lists: Vec<Vec<u64>>) -> Vec<u64> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().unwrap_or_default(),
        _ => {
            let mut all: Vec<u64> = lists.concat();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// The head's inverted index, kept in memory.
#[derive(Default)]
pub(crate) struct MemPostings {
    by_name: FxHashMap<Symbol, FxHashMap<Symbol, Vec<u64>>>,
    all: Vec<u64>,
}

fn insert_sorted(list: &mut Vec<u64>, r: u64) {
    match list.last() {
        Some(&last) if last >= r => {
            if let Err(i) = list.binary_search(&r) {
                list.insert(i, r);
            }
        }
        _ => list.push(r),
    }
}

fn remove_sorted(list: &mut Vec<u64>, r: u64) {
    if let Ok(i) = list.binary_search(&r) {
        list.remove(i);
    }
}

impl MemPostings {
    /// Indexes series `r` under each of its labels.
    pub(crate) fn add(&mut self, r: u64, labels: &vitals_model::Labels) {
        for l in labels {
            let values = self.by_name.entry(l.name.clone()).or_default();
            insert_sorted(values.entry(l.value.clone()).or_default(), r);
        }
        insert_sorted(&mut self.all, r);
    }

    /// Removes series `r` from the lists of its labels.
    pub(crate) fn delete(&mut self, r: u64, labels: &vitals_model::Labels) {
        for l in labels {
            if let Some(values) = self.by_name.get_mut(l.name.as_str()) {
                if let Some(list) = values.get_mut(l.value.as_str()) {
                    remove_sorted(list, r);
                    if list.is_empty() {
                        values.remove(l.value.as_str());
                    }
                }
                if values.is_empty() {
                    self.by_name.remove(l.name.as_str());
                }
            }
        }
        remove_sorted(&mut self.all, r);
    }

    /// All label names, sorted.
    pub(crate) fn names(&self) -> Vec<Symbol> {
        let mut v: Vec<Symbol> = self.by_name.keys().cloned().collect();
        v.sort();
        v
    }

    /// Cardinality figures of the index, each list the `limit` largest (Prometheus' `PostingsStats`):
    /// series per value of `metric_label`, values per label name, bytes of values per label name
    /// (value length times series), and series per label pair.
    pub(crate) fn stats(&self, metric_label: &str, limit: usize) -> PostingsStats {
        let mut out = PostingsStats::default();
        let (mut metrics, mut names, mut bytes, mut pairs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (name, values) in &self.by_name {
            if name.is_empty() {
                continue;
            }
            names.push((name.to_string(), values.len() as u64));
            out.num_label_pairs += values.len();
            let mut size = 0u64;
            for (value, refs) in values {
                let series = refs.len() as u64;
                if name.as_str() == metric_label {
                    metrics.push((value.to_string(), series));
                }
                pairs.push((format!("{}={}", name.as_str(), value.as_str()), series));
                size += value.len() as u64 * series;
            }
            bytes.push((name.to_string(), size));
        }
        out.series_count_by_metric_name = top(metrics, limit);
        out.label_value_count_by_label_name = top(names, limit);
        out.memory_in_bytes_by_label_name = top(bytes, limit);
        out.series_count_by_label_value_pair = top(pairs, limit);
        out
    }

    /// Returns spare capacity of the lists to the allocator (after series were removed).
    pub(crate) fn shrink(&mut self) {
        for values in self.by_name.values_mut() {
            for list in values.values_mut() {
                list.shrink_to_fit();
            }
        }
    }
}

/// What [`MemPostings::stats`] reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct PostingsStats {
    pub num_label_pairs: usize,
    pub series_count_by_metric_name: Vec<(String, u64)>,
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

/// The `limit` entries with the largest counts, largest first (ties by name, for stable output).
fn top(mut v: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
    let by_count = |a: &(String, u64), b: &(String, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    if v.len() > limit {
        v.select_nth_unstable_by(limit, by_count);
        v.truncate(limit);
    }
    v.sort_unstable_by(by_count);
    v
}

impl PostingsSource for MemPostings {
    fn postings(&self, name: &str, value: &str) -> Vec<u64> {
        self.by_name.get(name).and_then(|v| v.get(value)).cloned().unwrap_or_default()
    }
    fn all_postings(&self) -> Vec<u64> {
        self.all.clone()
    }
    fn values(&self, name: &str) -> Vec<Symbol> {
        let mut v: Vec<Symbol> = self.by_name.get(name).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitals_model::{Labels, MatchOp};

    fn ix() -> MemPostings {
        let mut p = MemPostings::default();
        p.add(1, &Labels::from_pairs([("__name__", "up"), ("job", "api"), ("env", "prod")]));
        p.add(2, &Labels::from_pairs([("__name__", "up"), ("job", "web")]));
        p.add(3, &Labels::from_pairs([("__name__", "up"), ("job", "db"), ("env", "dev")]));
        p.add(4, &Labels::from_pairs([("__name__", "errors"), ("job", "api")]));
        p
    }

    fn sel(p: &MemPostings, ms: &[(MatchOp, &str, &str)]) -> Vec<u64> {
        let ms: Vec<Matcher> = ms.iter().map(|(op, n, v)| Matcher::new(*op, *n, *v).unwrap()).collect();
        postings_for_matchers(p, &ms)
    }

    #[test]
    fn matcher_table() {
        use MatchOp::*;
        let p = ix();
        assert_eq!(sel(&p, &[(Equal, "__name__", "up")]), [1, 2, 3]);
        assert_eq!(sel(&p, &[(Equal, "__name__", "up"), (Equal, "env", "")]), [2]);
        assert_eq!(sel(&p, &[(Equal, "__name__", "up"), (NotEqual, "env", "prod")]), [2, 3]);
        assert_eq!(sel(&p, &[(Equal, "__name__", "up"), (NotEqual, "env", "")]), [1, 3]);
        assert_eq!(sel(&p, &[(Regex, "job", "a.*|d.*")]), [1, 3, 4]);
        assert_eq!(sel(&p, &[(NotRegex, "job", "a.*")]), [2, 3]);
        assert_eq!(sel(&p, &[(Regex, "env", ".*")]), [1, 2, 3, 4]);
        assert_eq!(sel(&p, &[(Regex, "env", ".+")]), [1, 3]);
        assert_eq!(sel(&p, &[(Regex, "env", "|dev")]), [2, 3, 4]);
        assert_eq!(sel(&p, &[(Equal, "nope", "x")]), Vec::<u64>::new());
        assert_eq!(sel(&p, &[(Regex, "job", "api|web"), (Equal, "__name__", "up")]), [1, 2]);
    }

    #[test]
    fn delete_removes_from_every_list() {
        let mut p = ix();
        p.delete(1, &Labels::from_pairs([("__name__", "up"), ("job", "api"), ("env", "prod")]));
        assert_eq!(sel(&p, &[(MatchOp::Equal, "__name__", "up")]), [2, 3]);
        assert!(p.values("env").iter().all(|v| v.as_str() != "prod"));
    }

    proptest::proptest! {
        /// The index answers exactly what filtering every series with the matchers answers.
        #[test]
        fn postings_agree_with_brute_force(
            sets in proptest::collection::vec(proptest::collection::vec((0usize..3, 0usize..4), 0..4), 1..40),
            ms in proptest::collection::vec((0usize..3, 0usize..4, 0usize..6), 1..4),
        ) {
            let names = ["a", "b", "c"];
            let values = ["x", "y", "xy", "z"];
            let patterns = ["x", "", "x.*", "y|z", ".+", ".*"];
            let mut p = MemPostings::default();
            let mut all = Vec::new();
            for (i, pairs) in sets.iter().enumerate() {
                let l = Labels::from_pairs(pairs.iter().map(|(n, v)| (names[*n], values[*v])).chain([("__name__", "m")]));
                p.add(i as u64, &l);
                all.push(l);
            }
            let ops = [MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex];
            let matchers: Vec<Matcher> =
                ms.iter().map(|(n, op, pat)| Matcher::new(ops[*op], names[*n], patterns[*pat]).unwrap()).collect();
            let want: Vec<u64> = all
                .iter()
                .enumerate()
                .filter(|(_, l)| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
                .map(|(i, _)| i as u64)
                .collect();
            proptest::prop_assert_eq!(postings_for_matchers(&p, &matchers), want);
        }
    }

    #[test]
    fn stats_count_like_prometheus() {
        let p = ix();
        let s = p.stats("__name__", 2);
        assert_eq!(s.num_label_pairs, 2 + 3 + 2);
        assert_eq!(s.series_count_by_metric_name, [("up".to_string(), 3), ("errors".to_string(), 1)]);
        assert_eq!(s.label_value_count_by_label_name, [("job".to_string(), 3), ("__name__".to_string(), 2)]);
        // __name__: "up" x3 + "errors" x1 = 6 + 6; job: 3+3+3+2 = 11.
        assert_eq!(s.memory_in_bytes_by_label_name, [("__name__".to_string(), 12), ("job".to_string(), 11)]);
        assert_eq!(s.series_count_by_label_value_pair, [("__name__=up".to_string(), 3), ("job=api".to_string(), 2)]);
        assert_eq!(p.stats("__name__", 0).series_count_by_metric_name, []);
    }

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5]), [3, 5]);
        let big: Vec<u64> = (0..1000).collect();
        assert_eq!(intersect(&[5, 999, 2000], &big), [5, 999]);
        assert_eq!(subtract(&[1, 2, 3, 4], &[2, 4, 6]), [1, 3]);
        assert_eq!(merge(vec![vec![1, 4], vec![2, 4]]), [1, 2, 4]);
    }
}
