//! The head: the newest data, in memory, indexed for matcher evaluation, written through the WAL.

mod appender;
pub(crate) mod chunk;
pub(crate) mod isolation;
pub(crate) mod series;

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use rustc_hash::{FxBuildHasher, FxHashMap};
use vitals_model::{Labels, Matcher, Sample, StorageError, Symbol};

pub use appender::HeadAppender;
use isolation::{IsoView, Isolation};
use series::{Accept, AppendBounds, MemSeries, Reject, SeriesSnapshot};

use crate::index::{postings_for_matchers, MemPostings, PostingsSource};
use crate::metrics::TsdbMetrics;
use crate::wal::Wal;

const STRIPES: usize = 256;

/// What a batch of applied samples did, published to the metrics once per batch.
pub(crate) struct Tally {
    appended: u64,
    ooo_appended: u64,
    chunks_cut: u64,
    out_of_bounds: u64,
    out_of_order: u64,
    duplicate: u64,
    min_t: i64,
    max_t: i64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            appended: 0,
            ooo_appended: 0,
            chunks_cut: 0,
            out_of_bounds: 0,
            out_of_order: 0,
            duplicate: 0,
            min_t: i64::MAX,
            max_t: i64::MIN,
        }
    }
}

/// Settings of the head.
#[derive(Debug, Clone)]
pub struct HeadOptions {
    /// Maximum number of series in the head; creating one more fails with `SeriesLimit` (0 = none).
    pub max_series: usize,
    /// Out-of-order samples up to this far (ms) behind a series' newest sample are accepted.
    pub ooo_window: i64,
    /// Length (ms) of the blocks the head is cut into; chunks never straddle a multiple of it.
    pub block_range: i64,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions { max_series: 0, ooo_window: 0, block_range: 2 * 3600 * 1000 }
    }
}

/// Cardinality figures of the head (Prometheus' TSDB status page). Lists are `(name, count)`,
/// largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct label name/value pairs.
    pub num_label_pairs: u64,
    /// Chunks in the head.
    pub chunk_count: i64,
    /// Lowest sample time (`i64::MAX` when empty).
    pub min_time: i64,
    /// Highest sample time (`i64::MIN` when empty).
    pub max_time: i64,
    /// Series per metric name.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Distinct values per label name.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Bytes of label values per label name (value length times series using it).
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Series per `name=value` pair.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

#[derive(Default)]
struct Stripe {
    /// One series per label hash; the rare second series with the same hash goes to `collisions`.
    by_hash: FxHashMap<u64, Arc<MemSeries>>,
    collisions: FxHashMap<u64, Vec<Arc<MemSeries>>>,
    by_ref: FxHashMap<u64, Arc<MemSeries>>,
}

/// In-memory series, their chunks and their index.
pub struct Head {
    opts: HeadOptions,
    stripes: Box<[RwLock<Stripe>]>,
    postings: RwLock<MemPostings>,
    next_ref: AtomicU64,
    num_series: AtomicUsize,
    min_time: AtomicI64,
    max_time: AtomicI64,
    min_valid_time: AtomicI64,
    /// Commits hold it shared while applying; persisting a block takes it exclusively as a barrier
    /// after raising the minimum valid time, so no commit applies samples to the persisted range.
    isolation: RwLock<()>,
    /// Append IDs of commits and the readers that must not see open ones.
    pub(crate) iso: Arc<Isolation>,
    /// Commits applied so far, and the wall-clock time (ms) of the last; for live views.
    pub(crate) commits: AtomicU64,
    pub(crate) last_commit_ms: AtomicI64,
    /// Commits hold it shared from WAL write to apply; a checkpoint takes it exclusively to cut
    /// the WAL at a point where everything logged is also applied.
    pub(crate) wal_apply: RwLock<()>,
    pub(crate) wal: OnceLock<Arc<Wal>>,
    pub(crate) metrics: Arc<TsdbMetrics>,
}

impl Stripe {
    fn find(&self, h: u64, labels: &Labels) -> Option<Arc<MemSeries>> {
        match self.by_hash.get(&h) {
            Some(s) if s.labels == *labels => Some(s.clone()),
            Some(_) => self.collisions.get(&h)?.iter().find(|s| s.labels == *labels).cloned(),
            None => None,
        }
    }

    fn insert(&mut self, h: u64, s: Arc<MemSeries>) {
        match self.by_hash.entry(h) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(s);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.collisions.entry(h).or_default().push(s),
        }
    }

    fn remove(&mut self, h: u64, r: u64) {
        if self.by_hash.get(&h).is_some_and(|s| s.r == r) {
            self.by_hash.remove(&h);
            if let Some(list) = self.collisions.get_mut(&h) {
                if let Some(next) = list.pop() {
                    self.by_hash.insert(h, next);
                }
                if list.is_empty() {
                    self.collisions.remove(&h);
                }
            }
        } else if let Some(list) = self.collisions.get_mut(&h) {
            list.retain(|s| s.r != r);
            if list.is_empty() {
                self.collisions.remove(&h);
            }
        }
    }
}

fn stripe_of(x: u64) -> usize {
    (x as usize) & (STRIPES - 1)
}

fn hash_labels(l: &Labels) -> u64 {
    FxBuildHasher.hash_one(l)
}

impl Head {
    /// The number of commits that made samples visible so far and the wall-clock time (ms since the
    /// epoch) of the last one: a live view re-reads when the number changes.
    pub fn commit_seq(&self) -> (u64, i64) {
        let at = self.last_commit_ms.load(Ordering::Acquire);
        (self.commits.load(Ordering::Acquire), at)
    }

    /// An empty head.
    pub fn new(opts: HeadOptions, metrics: Arc<TsdbMetrics>) -> Self {
        Head {
            opts,
            stripes: (0..STRIPES).map(|_| RwLock::new(Stripe::default())).collect(),
            postings: RwLock::new(MemPostings::default()),
            next_ref: AtomicU64::new(1),
            num_series: AtomicUsize::new(0),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(i64::MIN),
            isolation: RwLock::new(()),
            iso: Arc::new(Isolation::default()),
            commits: AtomicU64::new(0),
            last_commit_ms: AtomicI64::new(0),
            wal_apply: RwLock::new(()),
            wal: OnceLock::new(),
            metrics,
        }
    }

    /// A new appender; its samples become visible on commit.
    pub fn appender(self: &Arc<Self>) -> HeadAppender {
        HeadAppender::new(self.clone())
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.num_series.load(Ordering::Relaxed)
    }

    /// Lowest sample time in the head (`i64::MAX` when empty).
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// Highest sample time in the head (`i64::MIN` when empty).
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    /// Samples before this time are refused (they belong to persisted blocks).
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_time.load(Ordering::Acquire)
    }

    pub(crate) fn set_min_valid_time(&self, t: i64) {
        self.min_valid_time.fetch_max(t, Ordering::AcqRel);
    }

    pub(crate) fn bounds(&self) -> AppendBounds {
        AppendBounds {
            min_valid: self.min_valid_time(),
            ooo_window: self.opts.ooo_window,
            block_range: self.opts.block_range,
        }
    }

    /// The series for `labels`, if it exists.
    pub(crate) fn get_by_labels(&self, labels: &Labels) -> Option<Arc<MemSeries>> {
        let h = hash_labels(labels);
        let stripe = self.stripes[stripe_of(h)].read();
        stripe.find(h, labels)
    }

    /// The series with reference `r`, if it exists.
    pub(crate) fn get_by_ref(&self, r: u64) -> Option<Arc<MemSeries>> {
        self.stripes[stripe_of(r)].read().by_ref.get(&r).cloned()
    }

    /// The series for `labels`, created (with a fresh or given reference) when missing.
    /// Returns the series and whether it was created.
    pub(crate) fn get_or_create(
        &self,
        labels: &Labels,
        with_ref: Option<u64>,
    ) -> Result<(Arc<MemSeries>, bool), StorageError> {
        if let Some(s) = self.get_by_labels(labels) {
            return Ok((s, false));
        }
        validate_labels(labels)?;
        let max = self.opts.max_series;
        if max > 0 && with_ref.is_none() && self.num_series() >= max {
            self.metrics.series_limit_rejections_total.inc();
            return Err(StorageError::SeriesLimit { limit: max });
        }
        let h = hash_labels(labels);
        let series = {
            let mut stripe = self.stripes[stripe_of(h)].write();
            if let Some(s) = stripe.find(h, labels) {
                return Ok((s, false));
            }
            let r = match with_ref {
                Some(r) => {
                    self.next_ref.fetch_max(r + 1, Ordering::AcqRel);
                    r
                }
                None => self.next_ref.fetch_add(1, Ordering::AcqRel),
            };
            let series = Arc::new(MemSeries::new(r, labels.clone()));
            stripe.insert(h, series.clone());
            series
        };
        self.stripes[stripe_of(series.r)].write().by_ref.insert(series.r, series.clone());
        self.postings.write().add(series.r, &series.labels);
        self.num_series.fetch_add(1, Ordering::Relaxed);
        self.metrics.head_series.add(1);
        self.metrics.head_series_created_total.inc();
        Ok((series, true))
    }

    /// Applies one sample to a series, counting rejections. Used by commit and WAL replay.
    pub(crate) fn apply(&self, s: &MemSeries, t: i64, v: f64, bounds: &AppendBounds) -> Result<Accept, Reject> {
        let mut tally = Tally::default();
        let res = self.apply_tallied(s, t, v, bounds, None, &mut tally);
        self.flush_tally(&tally);
        res
    }

    /// Applies one sample, recording what happened in `tally` (published by [`Head::flush_tally`]),
    /// so a commit touches the shared counters once instead of once per sample.
    pub(crate) fn apply_tallied(
        &self,
        s: &MemSeries,
        t: i64,
        v: f64,
        bounds: &AppendBounds,
        tx: Option<(u64, u64)>,
        tally: &mut Tally,
    ) -> Result<Accept, Reject> {
        let res = s.data.lock().append(t, v, bounds, tx);
        match res {
            Ok((accept, cut)) => {
                tally.chunks_cut += u64::from(cut);
                match accept {
                    Accept::InOrder => tally.appended += 1,
                    Accept::OutOfOrder => {
                        tally.appended += 1;
                        tally.ooo_appended += 1;
                    }
                    Accept::Duplicate => {}
                }
                if accept != Accept::Duplicate {
                    tally.min_t = tally.min_t.min(t);
                    tally.max_t = tally.max_t.max(t);
                }
                Ok(accept)
            }
            Err(r) => {
                match r {
                    Reject::OutOfBounds => tally.out_of_bounds += 1,
                    Reject::OutOfOrder => tally.out_of_order += 1,
                    Reject::Duplicate => tally.duplicate += 1,
                }
                Err(r)
            }
        }
    }

    /// Publishes a tally to the metrics and the head's time range.
    pub(crate) fn flush_tally(&self, t: &Tally) {
        let m = &self.metrics;
        for (c, n) in [
            (&m.samples_appended_total, t.appended),
            (&m.out_of_order_samples_appended_total, t.ooo_appended),
            (&m.head_chunks_created_total, t.chunks_cut),
            (&m.out_of_bounds_samples_total, t.out_of_bounds),
            (&m.out_of_order_samples_total, t.out_of_order),
            (&m.duplicate_samples_total, t.duplicate),
        ] {
            if n > 0 {
                c.add(n);
            }
        }
        if t.chunks_cut > 0 {
            m.head_chunks.add(t.chunks_cut as i64);
        }
        if t.min_t <= t.max_t {
            self.update_time_range(t.min_t);
            self.update_time_range(t.max_t);
        }
    }

    /// Accounts for a whole chunk restored from a checkpoint.
    pub(crate) fn note_chunk_loaded(&self, mint: i64, maxt: i64) {
        self.update_time_range(mint);
        self.update_time_range(maxt);
        self.metrics.head_chunks.add(1);
    }

    pub(crate) fn count_reject(&self, r: Reject) {
        match r {
            Reject::OutOfBounds => self.metrics.out_of_bounds_samples_total.inc(),
            Reject::OutOfOrder => self.metrics.out_of_order_samples_total.inc(),
            Reject::Duplicate => self.metrics.duplicate_samples_total.inc(),
        }
    }

    fn update_time_range(&self, t: i64) {
        if t < self.min_time.load(Ordering::Relaxed) {
            let prev = self.min_time.fetch_min(t, Ordering::AcqRel);
            if t < prev {
                self.metrics.head_min_time.set(t);
            }
        }
        if t > self.max_time.load(Ordering::Relaxed) {
            let prev = self.max_time.fetch_max(t, Ordering::AcqRel);
            if t > prev {
                self.metrics.head_max_time.set(t);
            }
        }
    }

    /// Series matching `matchers` with samples in `[mint, maxt]`, snapshotted atomically with
    /// respect to commits, sorted by labels.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        view: &IsoView,
    ) -> Vec<(Labels, SeriesSnapshot)> {
        let refs = postings_for_matchers(&*self.postings.read(), matchers);
        let series: Vec<Arc<MemSeries>> = refs.iter().filter_map(|r| self.get_by_ref(*r)).collect();
        let mut out = Vec::with_capacity(series.len());
        for s in &series {
            let snap = s.data.lock().snapshot(mint, maxt, Some(view));
            let has_data = !snap.chunks.is_empty() || !snap.ooo.is_empty();
            // A series whose only samples come from commits this reader must not see is not there.
            if has_data && (snap.hidden.is_empty() || !snap.samples(mint, maxt).is_empty()) {
                out.push((s.labels.clone(), snap));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Sorted label names of series matching `matchers` with data in range.
    pub(crate) fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Symbol> {
        if matchers.is_empty() && self.covers(mint, maxt) {
            return self.postings.read().names();
        }
        let mut names: Vec<Symbol> = Vec::new();
        for (l, _) in self.select(matchers, mint, maxt, &self.iso.begin_read()) {
            names.extend(l.iter().map(|l| l.name.clone()));
        }
        names.sort();
        names.dedup();
        names
    }

    /// Sorted values of `name` over series matching `matchers` with data in range.
    pub(crate) fn label_values(&self, name: &str, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Symbol> {
        if matchers.is_empty() && self.covers(mint, maxt) {
            return self.postings.read().values(name);
        }
        let mut values: Vec<Symbol> = Vec::new();
        for (l, _) in self.select(matchers, mint, maxt, &self.iso.begin_read()) {
            if let Some(v) = l.iter().find(|l| l.name.as_str() == name) {
                values.push(v.value.clone());
            }
        }
        values.sort();
        values.dedup();
        values
    }

    fn covers(&self, mint: i64, maxt: i64) -> bool {
        mint <= self.min_time() && maxt >= self.max_time()
    }

    /// Every series (for checkpoints, block writing and GC).
    pub(crate) fn all_series(&self) -> Vec<Arc<MemSeries>> {
        let mut v: Vec<Arc<MemSeries>> =
            self.stripes.iter().flat_map(|s| s.read().by_ref.values().cloned().collect::<Vec<_>>()).collect();
        v.sort_by_key(|s| s.r);
        v
    }

    /// Deletes samples in `[mint, maxt]` from the series `refs`; returns how many of them were found.
    pub(crate) fn delete(&self, refs: &[u64], mint: i64, maxt: i64) -> usize {
        let mut found = 0;
        for s in refs.iter().filter_map(|r| self.get_by_ref(*r)) {
            s.data.lock().delete_range(mint, maxt);
            found += 1;
        }
        found
    }

    /// Drops samples before `mint` and series left empty; called after a block covering them is
    /// persisted. Returns the number of series removed.
    pub(crate) fn truncate(&self, mint: i64) -> usize {
        self.set_min_valid_time(mint);
        let mut removed = 0;
        let mut new_min = i64::MAX;
        for s in self.all_series() {
            let (empty, dropped, smin) = {
                let mut d = s.data.lock();
                let dropped = d.truncate_before(mint);
                (d.is_empty(), dropped, d.min_time())
            };
            self.metrics.head_chunks.add(-(dropped as i64));
            if let Some(m) = smin {
                new_min = new_min.min(m);
            }
            if empty && s.pending.load(Ordering::Acquire) == 0 {
                self.remove_series(&s);
                removed += 1;
            }
        }
        self.min_time.store(new_min, Ordering::Release);
        if new_min == i64::MAX {
            self.max_time.store(i64::MIN, Ordering::Release);
        }
        self.metrics.head_min_time.set(if new_min == i64::MAX { 0 } else { new_min });
        self.postings.write().shrink();
        removed
    }

    fn remove_series(&self, s: &Arc<MemSeries>) {
        let h = hash_labels(&s.labels);
        {
            let mut stripe = self.stripes[stripe_of(h)].write();
            stripe.remove(h, s.r);
        }
        self.stripes[stripe_of(s.r)].write().by_ref.remove(&s.r);
        self.postings.write().delete(s.r, &s.labels);
        self.num_series.fetch_sub(1, Ordering::Relaxed);
        self.metrics.head_series.add(-1);
        self.metrics.head_series_removed_total.inc();
    }

    /// Cardinality of the head for `/api/v1/status/tsdb`: totals and the `limit` largest entries
    /// of each list.
    pub fn stats(&self, limit: usize) -> HeadStats {
        let p = self.postings.read().stats(vitals_model::METRIC_NAME, limit);
        HeadStats {
            num_series: self.num_series() as u64,
            num_label_pairs: p.num_label_pairs as u64,
            chunk_count: self.metrics.head_chunks.get(),
            min_time: self.min_time(),
            max_time: self.max_time(),
            series_count_by_metric_name: p.series_count_by_metric_name,
            label_value_count_by_label_name: p.label_value_count_by_label_name,
            memory_in_bytes_by_label_name: p.memory_in_bytes_by_label_name,
            series_count_by_label_value_pair: p.series_count_by_label_value_pair,
        }
    }

    /// Estimated bytes of sample data held (chunks and out-of-order buffers).
    pub fn chunk_bytes(&self) -> usize {
        self.all_series()
            .iter()
            .map(|s| {
                let d = s.data.lock();
                d.closed.iter().map(|c| c.mem_size()).sum::<usize>() + d.open.mem_size() + d.ooo.len() * 16
            })
            .sum()
    }

    /// All samples of series `s` in range, in order (for block writing).
    /// Everything applied is included: callers wanting only complete commits use a view first.
    pub(crate) fn series_samples(&self, s: &MemSeries, mint: i64, maxt: i64) -> Vec<Sample> {
        let snap = s.data.lock().snapshot(mint, maxt, None);
        snap.samples(mint, maxt)
    }

    /// Raises the minimum valid time to `t` and waits until no commit that may have been checked
    /// against the old bound is still applying.
    pub(crate) fn close_range_before(&self, t: i64) {
        self.set_min_valid_time(t);
        drop(self.isolation.write());
    }

    /// A reader's view: commits finished by now are visible, later or unfinished ones are not.
    pub(crate) fn begin_read(&self) -> IsoView {
        self.iso.begin_read()
    }

    pub(crate) fn isolation_read(&self) -> parking_lot::RwLockReadGuard<'_, ()> {
        self.isolation.read()
    }
}

fn validate_labels(labels: &Labels) -> Result<(), StorageError> {
    if labels.is_empty() {
        return Err(StorageError::InvalidLabels("empty label set".into()));
    }
    for w in labels.as_slice().windows(2) {
        if w[0].name == w[1].name {
            return Err(StorageError::InvalidLabels(format!("duplicate label name {:?}", w[0].name.as_str())));
        }
    }
    Ok(())
}

impl PostingsSource for Head {
    fn postings(&self, name: &str, value: &str) -> Vec<u64> {
        self.postings.read().postings(name, value)
    }
    fn all_postings(&self) -> Vec<u64> {
        self.postings.read().all_postings()
    }
    fn values(&self, name: &str) -> Vec<Symbol> {
        self.postings.read().values(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_keeps_series_whose_hashes_collide() {
        let mut st = Stripe::default();
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("b", "2")]);
        let c = Labels::from_pairs([("c", "3")]);
        for (r, l) in [(1, &a), (2, &b), (3, &c)] {
            st.insert(7, Arc::new(MemSeries::new(r, l.clone())));
        }
        assert_eq!(st.find(7, &b).unwrap().r, 2);
        st.remove(7, 1);
        assert!(st.find(7, &a).is_none());
        assert_eq!(st.find(7, &b).unwrap().r, 2);
        assert_eq!(st.find(7, &c).unwrap().r, 3);
        st.remove(7, 3);
        st.remove(7, 2);
        assert!(st.by_hash.is_empty() && st.collisions.is_empty());
    }
}
