//! An in-memory storage for tests and small tools: every sample in a sorted vector per series, no
//! retention, no durability. Appends at an existing timestamp replace the sample there and
//! out-of-order appends are inserted in place, so data can be loaded in any order.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use rustc_hash::FxHashMap;

use crate::labels::Labels;
use crate::matcher::Matcher;
use crate::sample::Sample;
use crate::storage::{
    Appendable, Appender, Querier, Queryable, SelectHints, Series, SeriesRef, StorageError, VecSeries,
};

/// A storage that keeps every sample in memory; implements [`Appendable`] and [`Queryable`].
#[derive(Default, Clone)]
pub struct MemStorage {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// Label set to series reference, in label order (so `select` needs no sort).
    index: BTreeMap<Labels, SeriesRef>,
    series: FxHashMap<SeriesRef, MemSeries>,
    /// Never reset, so references from before a `clear` can't alias new series.
    next_ref: SeriesRef,
}

struct MemSeries {
    labels: Labels,
    /// Sorted by time, at most one sample per timestamp.
    samples: Vec<Sample>,
}

impl MemSeries {
    fn insert(&mut self, s: Sample) {
        match self.samples.last() {
            None => self.samples.push(s),
            Some(last) if last.t < s.t => self.samples.push(s),
            _ => match self.samples.binary_search_by_key(&s.t, |x| x.t) {
                Ok(i) => self.samples[i] = s,
                Err(i) => self.samples.insert(i, s),
            },
        }
    }

    fn in_range(&self, mint: i64, maxt: i64) -> &[Sample] {
        let lo = self.samples.partition_point(|s| s.t < mint);
        let hi = self.samples.partition_point(|s| s.t <= maxt);
        &self.samples[lo..hi.max(lo)]
    }

    fn matches(&self, matchers: &[Matcher]) -> bool {
        matchers.iter().all(|m| m.matches(self.labels.get(&m.name).unwrap_or("")))
    }
}

impl Inner {
    fn get_or_create(&mut self, labels: &Labels) -> SeriesRef {
        if let Some(r) = self.index.get(labels) {
            return *r;
        }
        let r = self.next_ref;
        self.next_ref += 1;
        self.index.insert(labels.clone(), r);
        self.series.insert(r, MemSeries { labels: labels.clone(), samples: Vec::new() });
        r
    }

    /// Series matching `matchers` with at least one sample in `[mint, maxt]`, in label order.
    fn visible<'a>(&'a self, matchers: &'a [Matcher], mint: i64, maxt: i64) -> impl Iterator<Item = &'a MemSeries> {
        self.index
            .values()
            .filter_map(|r| self.series.get(r))
            .filter(move |s| s.matches(matchers) && !s.in_range(mint, maxt).is_empty())
    }
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> Self {
        MemStorage::default()
    }

    /// Removes every series and sample; references handed out before stay invalid afterwards.
    pub fn clear(&self) {
        let mut inner = self.inner.write();
        inner.index.clear();
        inner.series.clear();
    }

    /// Number of series (including ones created by an append that was rolled back).
    pub fn num_series(&self) -> usize {
        self.inner.read().series.len()
    }

    /// Number of samples over all series.
    pub fn num_samples(&self) -> usize {
        self.inner.read().series.values().map(|s| s.samples.len()).sum()
    }
}

impl std::fmt::Debug for MemStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemStorage").field("series", &self.num_series()).field("samples", &self.num_samples()).finish()
    }
}

impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(MemAppender { inner: self.inner.clone(), pending: Vec::new() })
    }
}

/// Buffers samples until `commit`; series are created on first `append` so that a reference exists.
struct MemAppender {
    inner: Arc<RwLock<Inner>>,
    pending: Vec<(SeriesRef, Sample)>,
}

impl Appender for MemAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, StorageError> {
        if labels.is_empty() {
            return Err(StorageError::InvalidLabels("empty label set".into()));
        }
        let r = self.inner.write().get_or_create(labels);
        self.pending.push((r, Sample::new(t, v)));
        Ok(r)
    }

    fn append_ref(&mut self, series: SeriesRef, t: i64, v: f64) -> Result<(), StorageError> {
        if !self.inner.read().series.contains_key(&series) {
            return Err(StorageError::UnknownRef(series));
        }
        self.pending.push((series, Sample::new(t, v)));
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StorageError> {
        let mut inner = self.inner.write();
        // Check first so that a failing commit applies nothing (a `clear` may have removed a series).
        if let Some((r, _)) = self.pending.iter().find(|(r, _)| !inner.series.contains_key(r)) {
            let r = *r;
            self.pending.clear();
            return Err(StorageError::UnknownRef(r));
        }
        for (r, s) in self.pending.drain(..) {
            if let Some(series) = inner.series.get_mut(&r) {
                series.insert(s);
            }
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StorageError> {
        self.pending.clear();
        Ok(())
    }
}

impl Queryable for MemStorage {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        Ok(Box::new(MemQuerier { inner: &self.inner, mint, maxt }))
    }
}

struct MemQuerier<'a> {
    inner: &'a RwLock<Inner>,
    mint: i64,
    maxt: i64,
}

impl Querier for MemQuerier<'_> {
    fn select(&self, matchers: &[Matcher], _hints: Option<&SelectHints>) -> Result<Vec<Box<dyn Series>>, StorageError> {
        let inner = self.inner.read();
        Ok(inner
            .visible(matchers, self.mint, self.maxt)
            .map(|s| {
                Box::new(VecSeries { labels: s.labels.clone(), samples: s.in_range(self.mint, self.maxt).to_vec() })
                    as Box<dyn Series>
            })
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let inner = self.inner.read();
        let mut names: Vec<String> = Vec::new();
        for s in inner.visible(matchers, self.mint, self.maxt) {
            names.extend(s.labels.iter().map(|l| l.name.to_string()));
        }
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let inner = self.inner.read();
        let mut values: Vec<String> = inner
            .visible(matchers, self.mint, self.maxt)
            .filter_map(|s| s.labels.get(name).map(str::to_string))
            .collect();
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::MatchOp;
    use crate::sample::{is_stale_nan, STALE_NAN};

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    fn samples(q: &dyn Querier, matchers: &[Matcher]) -> Vec<(Labels, Vec<Sample>)> {
        q.select(matchers, None)
            .unwrap()
            .iter()
            .map(|s| {
                let mut it = s.iter();
                let mut v = Vec::new();
                while let Some(x) = it.next() {
                    v.push(x);
                }
                (s.labels().clone(), v)
            })
            .collect()
    }

    fn load(st: &MemStorage, rows: &[(Labels, i64, f64)]) {
        let mut app = st.appender();
        for (labels, t, v) in rows {
            app.append(labels, *t, *v).unwrap();
        }
        app.commit().unwrap();
    }

    #[test]
    fn select_sorts_by_labels_and_restricts_to_the_range() {
        let st = MemStorage::new();
        let b = l(&[("__name__", "m"), ("job", "b")]);
        let a = l(&[("__name__", "m"), ("job", "a")]);
        let other = l(&[("__name__", "other")]);
        load(&st, &[(b.clone(), 0, 1.0), (b.clone(), 10, 2.0), (a.clone(), 20, 3.0), (other.clone(), 5, 4.0)]);

        let q = st.querier(0, 100).unwrap();
        let got = samples(q.as_ref(), &[Matcher::equal("__name__", "m")]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, a);
        assert_eq!(got[1].0, b);
        assert_eq!(got[1].1, vec![Sample::new(0, 1.0), Sample::new(10, 2.0)]);

        // Only samples inside [mint, maxt] (both inclusive); series without any are left out.
        let q = st.querier(10, 19).unwrap();
        let got = samples(q.as_ref(), &[Matcher::equal("__name__", "m")]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, vec![Sample::new(10, 2.0)]);

        // Regex and negative matchers, a missing label matching as "".
        let q = st.querier(0, 100).unwrap();
        let re = Matcher::new(MatchOp::Regex, "__name__", "m|other").unwrap();
        assert_eq!(samples(q.as_ref(), &[re]).len(), 3);
        let no_job = Matcher::equal("job", "");
        let got = samples(q.as_ref(), &[no_job]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, other);
        let not_a = Matcher::new(MatchOp::NotEqual, "job", "a").unwrap();
        assert_eq!(samples(q.as_ref(), &[Matcher::equal("__name__", "m"), not_a]).len(), 1);
    }

    #[test]
    fn seek_on_selected_series() {
        let st = MemStorage::new();
        let s = l(&[("__name__", "m")]);
        load(&st, &(0..10).map(|i| (s.clone(), i * 10, i as f64)).collect::<Vec<_>>());
        let q = st.querier(15, 75).unwrap();
        let sel = q.select(&[Matcher::equal("__name__", "m")], None).unwrap();
        let mut it = sel[0].iter();
        assert_eq!(it.next().unwrap().t, 20);
        assert_eq!(it.seek(45).unwrap().t, 50);
        assert_eq!(it.next().unwrap().t, 60);
        assert_eq!(it.next().unwrap().t, 70);
        assert!(it.next().is_none(), "80 is past maxt");
    }

    #[test]
    fn out_of_order_appends_are_inserted_and_equal_timestamps_replace() {
        let st = MemStorage::new();
        let s = l(&[("__name__", "m")]);
        load(&st, &[(s.clone(), 30, 3.0), (s.clone(), 10, 1.0)]);
        load(&st, &[(s.clone(), 20, 2.0), (s.clone(), 10, 10.0), (s.clone(), 40, 4.0)]);
        let q = st.querier(i64::MIN, i64::MAX).unwrap();
        let got = samples(q.as_ref(), &[]);
        let want: Vec<Sample> =
            [(10, 10.0), (20, 2.0), (30, 3.0), (40, 4.0)].iter().map(|&(t, v)| Sample::new(t, v)).collect();
        assert_eq!(got[0].1, want);
        assert_eq!(st.num_samples(), 4);
    }

    #[test]
    fn stale_markers_are_kept_bit_exact() {
        let st = MemStorage::new();
        let s = l(&[("__name__", "m")]);
        let mut app = st.appender();
        let r = app.append(&s, 0, f64::NAN).unwrap();
        app.append_ref(r, 10, STALE_NAN).unwrap();
        app.append_stale(&s, 20).unwrap();
        app.commit().unwrap();
        let q = st.querier(0, 20).unwrap();
        let got = samples(q.as_ref(), &[]);
        let v: Vec<f64> = got[0].1.iter().map(|s| s.v).collect();
        assert!(v[0].is_nan() && !is_stale_nan(v[0]));
        assert!(is_stale_nan(v[1]) && is_stale_nan(v[2]));
    }

    #[test]
    fn rollback_discards_and_commit_publishes() {
        let st = MemStorage::new();
        let s = l(&[("__name__", "m")]);
        let mut app = st.appender();
        app.append(&s, 0, 1.0).unwrap();
        let q = st.querier(0, 10).unwrap();
        assert!(q.select(&[], None).unwrap().is_empty(), "nothing visible before commit");
        app.rollback().unwrap();
        app.commit().unwrap();
        assert!(q.select(&[], None).unwrap().is_empty());
        assert!(app.append(&Labels::empty(), 0, 1.0).is_err());
        assert!(matches!(app.append_ref(999, 0, 1.0), Err(StorageError::UnknownRef(999))));
    }

    #[test]
    fn label_names_and_values_honour_matchers_and_range() {
        let st = MemStorage::new();
        load(
            &st,
            &[
                (l(&[("__name__", "a"), ("job", "x"), ("zone", "1")]), 0, 1.0),
                (l(&[("__name__", "b"), ("job", "y")]), 0, 1.0),
                (l(&[("__name__", "c"), ("late", "1")]), 100, 1.0),
            ],
        );
        let q = st.querier(0, 50).unwrap();
        assert_eq!(q.label_names(&[]).unwrap(), ["__name__", "job", "zone"]);
        assert_eq!(q.label_names(&[Matcher::equal("job", "y")]).unwrap(), ["__name__", "job"]);
        assert_eq!(q.label_values("job", &[]).unwrap(), ["x", "y"]);
        assert_eq!(q.label_values("__name__", &[Matcher::equal("zone", "1")]).unwrap(), ["a"]);
        assert!(q.label_values("late", &[]).unwrap().is_empty(), "series c has no sample in range");
    }

    #[test]
    fn clear_empties_and_invalidates_references() {
        let st = MemStorage::new();
        let s = l(&[("__name__", "m")]);
        let mut app = st.appender();
        let r = app.append(&s, 0, 1.0).unwrap();
        app.commit().unwrap();
        st.clear();
        assert_eq!(st.num_series(), 0);
        assert!(st.querier(0, 10).unwrap().select(&[], None).unwrap().is_empty());
        assert!(app.append_ref(r, 1, 1.0).is_err());
        let r2 = app.append(&s, 5, 2.0).unwrap();
        assert_ne!(r, r2, "references are not reused");
        app.commit().unwrap();
        assert_eq!(st.num_samples(), 1);
    }
}
