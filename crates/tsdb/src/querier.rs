//! Reading across the head and persisted blocks: one `Querier` merges both by labels.

use std::collections::BTreeMap;
use std::sync::Arc;

use vitals_model::{Labels, Matcher, Querier, Sample, SampleIter, SelectHints, Series, StorageError, Symbol};

use crate::block::{Block, ChunkMeta, Intervals};
use crate::head::isolation::IsoView;
use crate::head::series::SeriesSnapshot;
use crate::head::Head;

/// Reads the head and the blocks overlapping `[mint, maxt]`.
pub struct DbQuerier {
    pub(crate) head: Arc<Head>,
    /// Which commits this querier sees (all selects share it).
    pub(crate) view: IsoView,
    pub(crate) blocks: Vec<Arc<Block>>,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    pub(crate) _pass: GatePass,
}

/// Lets queriers in while the head is not being truncated, and lets truncation wait for them.
#[derive(Default)]
pub(crate) struct ReaderGate {
    state: parking_lot::Mutex<(usize, bool)>,
    cv: parking_lot::Condvar,
}

/// A querier's admission; leaving on drop.
pub(crate) struct GatePass(Arc<ReaderGate>);

/// Held while the head is truncated; no querier is open meanwhile.
pub(crate) struct GateClosed<'a>(&'a ReaderGate);

impl ReaderGate {
    /// Admits a reader, waiting while the gate is closed.
    pub(crate) fn enter(self: &Arc<Self>) -> GatePass {
        let mut st = self.state.lock();
        while st.1 {
            self.cv.wait(&mut st);
        }
        st.0 += 1;
        GatePass(self.clone())
    }

    /// Closes the gate and waits until every admitted reader has left.
    pub(crate) fn close(&self) -> GateClosed<'_> {
        let mut st = self.state.lock();
        while st.1 {
            self.cv.wait(&mut st);
        }
        st.1 = true;
        while st.0 > 0 {
            self.cv.wait(&mut st);
        }
        GateClosed(self)
    }
}

impl Drop for GatePass {
    fn drop(&mut self) {
        self.0.state.lock().0 -= 1;
        self.0.cv.notify_all();
    }
}

impl Drop for GateClosed<'_> {
    fn drop(&mut self) {
        self.0.state.lock().1 = false;
        self.0.cv.notify_all();
    }
}

enum Part {
    Head(SeriesSnapshot),
    Block(Arc<Block>, Vec<ChunkMeta>, Intervals),
}

/// A series whose samples come from one or more sources.
pub struct MergedSeries {
    labels: Labels,
    parts: Vec<Part>,
    mint: i64,
    maxt: i64,
}

impl MergedSeries {
    /// All samples in range, in time order, without duplicates.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples_in(self.mint, self.maxt)
    }

    /// The samples in `[mint, maxt]` (clamped to the querier's range), in time order, without
    /// duplicates; only chunks overlapping that range are decoded.
    fn samples_in(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        let (mint, maxt) = (mint.max(self.mint), maxt.min(self.maxt));
        let mut out: Vec<Sample> = Vec::new();
        if mint > maxt {
            return out;
        }
        let mut ordered = true;
        for p in &self.parts {
            let part = match p {
                Part::Head(s) => s.samples(mint, maxt),
                Part::Block(b, chunks, del) => match b.samples(chunks, del, mint, maxt) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(block = %b.dir().display(), error = %e, "skipping unreadable chunk");
                        Vec::new()
                    }
                },
            };
            if let (Some(last), Some(first)) = (out.last(), part.first()) {
                if first.t <= last.t {
                    ordered = false;
                }
            }
            out.extend(part);
        }
        if !ordered {
            out.sort_by_key(|s| s.t);
            out.dedup_by_key(|s| s.t);
        }
        out
    }
}

struct OwnedIter {
    samples: Vec<Sample>,
    pos: usize,
}

impl SampleIter for OwnedIter {
    fn next(&mut self) -> Option<Sample> {
        let s = self.samples.get(self.pos).copied();
        self.pos += 1;
        s
    }
    fn seek(&mut self, t: i64) -> Option<Sample> {
        let start = self.pos.min(self.samples.len());
        self.pos = start + self.samples[start..].partition_point(|s| s.t < t);
        self.next()
    }
}

impl Series for MergedSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iter(&self) -> Box<dyn SampleIter + '_> {
        Box::new(OwnedIter { samples: self.samples(), pos: 0 })
    }
    fn samples_between(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        self.samples_in(mint, maxt)
    }
}

impl DbQuerier {
    /// The merged series (concrete type), sorted by labels.
    pub fn select_merged(&self, matchers: &[Matcher]) -> Result<Vec<MergedSeries>, StorageError> {
        let mut by_labels: BTreeMap<Labels, Vec<Part>> = BTreeMap::new();
        for b in &self.blocks {
            for (labels, chunks, del) in b.select(matchers, self.mint, self.maxt)? {
                by_labels.entry(labels).or_default().push(Part::Block(b.clone(), chunks, del));
            }
        }
        if self.head.max_time() >= self.mint && self.head.min_time() <= self.maxt {
            for (labels, snap) in self.head.select(matchers, self.mint, self.maxt, &self.view) {
                by_labels.entry(labels).or_default().push(Part::Head(snap));
            }
        }
        Ok(by_labels
            .into_iter()
            .map(|(labels, parts)| MergedSeries { labels, parts, mint: self.mint, maxt: self.maxt })
            // Deletions can leave a series with chunks but no samples; such series are not returned.
            .filter(|s| {
                !s.parts.iter().any(|p| matches!(p, Part::Block(_, _, del) if !del.is_empty()))
                    || !s.samples().is_empty()
            })
            .collect())
    }
}

impl Querier for DbQuerier {
    fn select(&self, matchers: &[Matcher], _hints: Option<&SelectHints>) -> Result<Vec<Box<dyn Series>>, StorageError> {
        Ok(self.select_merged(matchers)?.into_iter().map(|s| Box::new(s) as Box<dyn Series>).collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<Symbol> = Vec::new();
        if matchers.is_empty() {
            for b in &self.blocks {
                names.extend(b.label_names());
            }
            names.extend(self.head.label_names(matchers, self.mint, self.maxt));
        } else {
            for s in self.select_merged(matchers)? {
                names.extend(s.labels.iter().map(|l| l.name.clone()));
            }
        }
        names.sort();
        names.dedup();
        Ok(names.into_iter().map(|s| s.to_string()).collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut values: Vec<Symbol> = Vec::new();
        if matchers.is_empty() {
            for b in &self.blocks {
                values.extend(crate::index::PostingsSource::values(&**b, name));
            }
            values.extend(self.head.label_values(name, matchers, self.mint, self.maxt));
        } else {
            for s in self.select_merged(matchers)? {
                if let Some(v) = s.labels.iter().find(|l| l.name.as_str() == name) {
                    values.push(v.value.clone());
                }
            }
        }
        values.sort();
        values.dedup();
        Ok(values.into_iter().map(|s| s.to_string()).collect())
    }
}
