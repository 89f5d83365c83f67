//! One in-memory series: closed chunks, the open chunk, and a small buffer of out-of-order samples.

use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::Arc;

use parking_lot::Mutex;
use vitals_model::{Labels, Sample};

use super::chunk::{ChunkRef, ClosedChunk};
use super::isolation::IsoView;
use crate::chunkenc::HeadChunk;

/// Samples per head chunk before it is closed.
pub(crate) const SAMPLES_PER_CHUNK: usize = 120;

/// A series living in the head.
pub(crate) struct MemSeries {
    /// The reference the head assigned.
    pub r: u64,
    /// The series' labels.
    pub labels: Labels,
    /// True once a WAL record for this series exists (in a segment or checkpoint).
    pub logged: AtomicBool,
    /// Appenders holding uncommitted samples for this series (it must not be collected).
    pub pending: AtomicU32,
    /// Samples, guarded.
    pub data: Mutex<SeriesData>,
}

/// Why a sample was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Older than the head accepts.
    OutOfBounds,
    /// Older than the newest sample and outside the out-of-order window.
    OutOfOrder,
    /// Another value at the same timestamp.
    Duplicate,
}

/// What happened to an accepted sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Appended in order.
    InOrder,
    /// Stored in the out-of-order buffer.
    OutOfOrder,
    /// The same sample already exists; nothing changed.
    Duplicate,
}

/// Limits an append is checked against.
#[derive(Clone, Copy)]
pub(crate) struct AppendBounds {
    /// Samples before this time are out of bounds (already persisted).
    pub min_valid: i64,
    /// How far behind the newest sample an out-of-order sample may be (ms; 0 = none).
    pub ooo_window: i64,
    /// Chunks never straddle a multiple of this (ms), so blocks cut cleanly.
    pub block_range: i64,
}

/// Mutable state of a series.
pub(crate) struct SeriesData {
    /// Closed chunks in time order.
    pub closed: Vec<Arc<ClosedChunk>>,
    /// The chunk being appended to (readers copy it).
    pub open: HeadChunk,
    /// Out-of-order samples, sorted by time, none equal to an in-order sample's time.
    pub ooo: Vec<Sample>,
    /// (append ID, timestamp) of recent samples whose commit some reader may not see yet.
    pub txs: TxLog,
}

/// Append IDs of a series' recent samples. Almost always at most one entry is live, so the first
/// is kept inline and only further ones allocate.
#[derive(Default)]
pub(crate) struct TxLog {
    first: (u64, i64),
    more: Vec<(u64, i64)>,
}

impl TxLog {
    /// Forgets entries below the isolation low watermark.
    fn trim(&mut self, low: u64) {
        if self.first.0 != 0 && self.first.0 < low {
            self.first = (0, 0);
        }
        if !self.more.is_empty() {
            self.more.retain(|(i, _)| *i >= low);
            if self.first.0 == 0 && !self.more.is_empty() {
                self.first = self.more.remove(0);
            }
        }
    }

    fn push(&mut self, id: u64, t: i64) {
        if self.first.0 == 0 {
            self.first = (id, t);
        } else {
            self.more.push((id, t));
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u64, i64)> + '_ {
        (self.first.0 != 0).then_some(self.first).into_iter().chain(self.more.iter().copied())
    }
}

/// The samples of one series as a reader saw them at one instant.
#[derive(Clone, Default)]
pub(crate) struct SeriesSnapshot {
    /// Closed and open chunks, in time order.
    pub chunks: Vec<ChunkRef>,
    /// Out-of-order samples in range.
    pub ooo: Vec<Sample>,
    /// Timestamps of samples from commits the reader must not see.
    pub hidden: Vec<i64>,
}

impl MemSeries {
    pub(crate) fn new(r: u64, labels: Labels) -> Self {
        MemSeries {
            r,
            labels,
            logged: AtomicBool::new(false),
            pending: AtomicU32::new(0),
            data: Mutex::new(SeriesData {
                closed: Vec::new(),
                open: HeadChunk::new(),
                ooo: Vec::new(),
                txs: TxLog::default(),
            }),
        }
    }
}

impl SeriesData {
    /// Newest in-order timestamp, if any.
    pub(crate) fn max_time(&self) -> Option<i64> {
        if !self.open.is_empty() {
            Some(self.open.max_time())
        } else {
            self.closed.last().map(|c| c.max_time())
        }
    }

    /// Oldest timestamp held, if any.
    pub(crate) fn min_time(&self) -> Option<i64> {
        let chunk_min =
            self.closed.first().map(|c| c.min_time()).or_else(|| (!self.open.is_empty()).then(|| self.open.min_time()));
        match (chunk_min, self.ooo.first()) {
            (Some(a), Some(b)) => Some(a.min(b.t)),
            (a, b) => a.or(b.map(|s| s.t)),
        }
    }

    /// True when the series holds no samples.
    pub(crate) fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.is_empty() && self.ooo.is_empty()
    }

    /// Checks a sample without applying it.
    pub(crate) fn check(&self, t: i64, v: f64, b: &AppendBounds) -> Result<Accept, Reject> {
        if t < b.min_valid {
            return Err(Reject::OutOfBounds);
        }
        let Some(max) = self.max_time() else { return Ok(Accept::InOrder) };
        if t > max {
            return Ok(Accept::InOrder);
        }
        if t == max {
            let last = self.open.last().or_else(|| self.closed.last().map(|c| c.last()));
            return match last {
                Some((_, lv)) if lv.to_bits() == v.to_bits() => Ok(Accept::Duplicate),
                _ => Err(Reject::Duplicate),
            };
        }
        if b.ooo_window <= 0 || t < max - b.ooo_window {
            return Err(Reject::OutOfOrder);
        }
        match self.value_at(t) {
            Some(old) if old.to_bits() == v.to_bits() => Ok(Accept::Duplicate),
            Some(_) => Err(Reject::Duplicate),
            None => Ok(Accept::OutOfOrder),
        }
    }

    /// Checks and applies a sample; returns whether a new head chunk was started.
    /// `tx` is the commit's append ID and the isolation low watermark (`None` during replay).
    pub(crate) fn append(
        &mut self,
        t: i64,
        v: f64,
        b: &AppendBounds,
        tx: Option<(u64, u64)>,
    ) -> Result<(Accept, bool), Reject> {
        let accept = self.check(t, v, b)?;
        if let Some((id, low)) = tx {
            self.txs.trim(low);
            if accept != Accept::Duplicate && id >= low {
                self.txs.push(id, t);
            }
        }
        let mut cut = false;
        match accept {
            Accept::Duplicate => {}
            Accept::InOrder => {
                if self.should_cut(t, b.block_range) {
                    let full = std::mem::take(&mut self.open);
                    self.closed.push(Arc::new(ClosedChunk::from_head(&full)));
                    cut = true;
                } else if self.open.is_empty() {
                    cut = true;
                }
                self.open.append(t, v);
            }
            Accept::OutOfOrder => {
                let i = self.ooo.partition_point(|s| s.t < t);
                self.ooo.insert(i, Sample::new(t, v));
            }
        }
        Ok((accept, cut))
    }

    fn should_cut(&self, t: i64, block_range: i64) -> bool {
        if self.open.is_empty() {
            return false;
        }
        if self.open.len() >= SAMPLES_PER_CHUNK {
            return true;
        }
        let start = self.open.min_time();
        block_range > 0 && t.div_euclid(block_range) != start.div_euclid(block_range)
    }

    /// The value stored at exactly `t`, if any (slow path: decodes chunks).
    fn value_at(&self, t: i64) -> Option<f64> {
        if let Ok(i) = self.ooo.binary_search_by_key(&t, |s| s.t) {
            return Some(self.ooo[i].v);
        }
        for c in &self.closed {
            if t >= c.min_time() && t <= c.max_time() {
                return c.samples().into_iter().find(|(ct, _)| *ct == t).map(|(_, v)| v);
            }
        }
        if !self.open.is_empty() && t >= self.open.min_time() && t <= self.open.max_time() {
            return self.open.iter().find(|(ct, _)| *ct == t).map(|(_, v)| v);
        }
        None
    }

    /// A consistent copy of the samples overlapping `[mint, maxt]` (chunks are shared, not copied).
    pub(crate) fn snapshot(&self, mint: i64, maxt: i64, view: Option<&IsoView>) -> SeriesSnapshot {
        let mut chunks: Vec<ChunkRef> = self
            .closed
            .iter()
            .filter(|c| c.max_time() >= mint && c.min_time() <= maxt)
            .map(|c| ChunkRef::Closed(c.clone()))
            .collect();
        if !self.open.is_empty() && self.open.max_time() >= mint && self.open.min_time() <= maxt {
            chunks.push(ChunkRef::Open(Arc::new(self.open.clone())));
        }
        let ooo = self.ooo.iter().filter(|s| s.t >= mint && s.t <= maxt).copied().collect();
        let hidden = match view {
            Some(view) => self.txs.iter().filter(|(id, _)| !view.visible(*id)).map(|(_, t)| t).collect(),
            None => Vec::new(),
        };
        SeriesSnapshot { chunks, ooo, hidden }
    }

    /// Drops every sample before `mint`; returns the number of chunks dropped.
    pub(crate) fn truncate_before(&mut self, mint: i64) -> usize {
        let before = self.closed.len();
        self.closed.retain(|c| c.max_time() >= mint);
        let mut dropped = before - self.closed.len();
        if !self.open.is_empty() && self.open.max_time() < mint {
            self.open = HeadChunk::new();
            dropped += 1;
        }
        // Chunks are cut at block boundaries, so a kept chunk holds nothing before `mint` unless
        // it was filled by replay across a boundary; rewrite such a chunk.
        if let Some(first) = self.closed.first() {
            if first.min_time() < mint {
                self.closed[0] =
                    Arc::new(ClosedChunk::from_samples(first.samples().into_iter().filter(|(t, _)| *t >= mint)));
            }
        } else if !self.open.is_empty() && self.open.min_time() < mint {
            self.open = rebuild(self.open.iter().filter(|(t, _)| *t >= mint));
        }
        self.ooo.retain(|s| s.t >= mint);
        dropped
    }

    /// Removes samples in `[mint, maxt]` (a tombstone); returns how many were removed.
    pub(crate) fn delete_range(&mut self, mint: i64, maxt: i64) -> usize {
        let mut removed = 0;
        let touched = self.closed.iter().any(|c| c.max_time() >= mint && c.min_time() <= maxt)
            || (!self.open.is_empty() && self.open.max_time() >= mint && self.open.min_time() <= maxt);
        if touched {
            let all: Vec<(i64, f64)> = self.closed.iter().flat_map(|c| c.samples()).chain(self.open.iter()).collect();
            let kept: Vec<(i64, f64)> = all.iter().copied().filter(|(t, _)| *t < mint || *t > maxt).collect();
            removed += all.len() - kept.len();
            let mut groups: Vec<&[(i64, f64)]> = kept.chunks(SAMPLES_PER_CHUNK).collect();
            let last = groups.pop().unwrap_or(&[]);
            self.closed = groups.into_iter().map(|g| Arc::new(ClosedChunk::from_samples(g.iter().copied()))).collect();
            self.open = rebuild(last.iter().copied());
        }
        let before = self.ooo.len();
        self.ooo.retain(|s| s.t < mint || s.t > maxt);
        removed + before - self.ooo.len()
    }
}

fn rebuild(samples: impl Iterator<Item = (i64, f64)>) -> HeadChunk {
    let mut c = HeadChunk::new();
    for (t, v) in samples {
        c.append(t, v);
    }
    c
}

impl SeriesSnapshot {
    /// All samples in `[mint, maxt]` in time order, out-of-order ones merged in.
    pub(crate) fn samples(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut out: Vec<Sample> = Vec::new();
        for c in &self.chunks {
            out.extend(
                c.samples().into_iter().filter(|(t, _)| *t >= mint && *t <= maxt).map(|(t, v)| Sample::new(t, v)),
            );
        }
        if !self.ooo.is_empty() {
            out.extend(self.ooo.iter().copied());
            out.sort_by_key(|s| s.t);
            out.dedup_by_key(|s| s.t);
        }
        if !self.hidden.is_empty() {
            out.retain(|s| !self.hidden.contains(&s.t));
        }
        out
    }
}
