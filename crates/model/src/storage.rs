//! The two traits storage is reached through: [`Appender`] to write, [`Queryable`]/[`Querier`] to
//! read. The embedded TSDB implements both; so can a remote store or a merge of several.

use crate::labels::Labels;
use crate::matcher::Matcher;
use crate::sample::{Sample, STALE_NAN};

/// An opaque, storage-assigned handle for a series, valid for the life of one storage instance.
/// Passing it back to [`Appender::append_ref`] skips the label lookup.
pub type SeriesRef = u64;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The sample is older than the out-of-order window allows.
    #[error("out of bounds: sample at {t} is older than the out-of-order window (series {series})")]
    OutOfBounds {
        /// The series, in Prometheus notation.
        series: String,
        /// The rejected timestamp.
        t: i64,
    },
    /// The sample is older than the newest one and out-of-order ingestion is off.
    #[error("out of order sample at {t} (series {series})")]
    OutOfOrder {
        /// The series, in Prometheus notation.
        series: String,
        /// The rejected timestamp.
        t: i64,
    },
    /// A sample exists at this timestamp with another value.
    #[error("duplicate sample for timestamp {t} with a different value (series {series})")]
    DuplicateSample {
        /// The series, in Prometheus notation.
        series: String,
        /// The rejected timestamp.
        t: i64,
    },
    /// Creating the series would exceed the configured maximum of active series.
    #[error("limit exceeded: {limit} active series (storage.max_active_series)")]
    SeriesLimit {
        /// The configured limit.
        limit: usize,
    },
    /// The label set is not valid (empty, or a duplicate name).
    #[error("invalid labels: {0}")]
    InvalidLabels(String),
    /// An unknown series reference was passed to `append_ref`.
    #[error("unknown series reference {0}")]
    UnknownRef(SeriesRef),
    /// The storage has been closed.
    #[error("storage is closed")]
    Closed,
    /// Writing or reading failed; the operation did not take effect.
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else the implementation reports.
    #[error("{0}")]
    Other(String),
}

/// Collects samples for many series and makes them visible together on [`Appender::commit`].
pub trait Appender: Send {
    /// Adds a float sample for the series `labels`; returns the series reference for later appends.
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, StorageError>;

    /// Adds a sample for a series already returned by `append` of this storage.
    fn append_ref(&mut self, series: SeriesRef, t: i64, v: f64) -> Result<(), StorageError>;

    /// Marks the series stale at `t` (it disappeared from its source).
    fn append_stale(&mut self, labels: &Labels, t: i64) -> Result<SeriesRef, StorageError> {
        self.append(labels, t, STALE_NAN)
    }

    /// Makes every sample appended since the last commit durable and visible, all at once.
    fn commit(&mut self) -> Result<(), StorageError>;

    /// Discards every sample appended since the last commit.
    fn rollback(&mut self) -> Result<(), StorageError>;

    /// `false`: later commits return once their data survives a crash of the process but not yet
    /// of the machine; the storage makes it durable soon after (within a second in `vitals serve`).
    /// For data nobody is waiting on, such as scrapes. Default and `true`: commits are durable
    /// when they return, which is what acknowledging a write needs.
    fn set_durable(&mut self, durable: bool) {
        let _ = durable;
    }
}

/// Something that can be written: hands out [`Appender`]s (each used by one writer at a time).
pub trait Appendable: Send + Sync {
    /// A new appender.
    fn appender(&self) -> Box<dyn Appender>;
}

/// Optional hints a reader passes to `select` (for example the step of a range query).
#[derive(Debug, Clone, Default)]
pub struct SelectHints {
    /// Start of the range the caller will read, in ms.
    pub start: i64,
    /// End of the range the caller will read, in ms.
    pub end: i64,
    /// Query step in ms, 0 for an instant query.
    pub step: i64,
    /// The PromQL function that will consume the series, if any.
    pub func: Option<String>,
}

/// Something that can be read: opens a [`Querier`] over `[mint, maxt]` (both inclusive, in ms).
pub trait Queryable: Send + Sync {
    /// Opens a reader over the time range.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError>;
}

/// Reads series, label names and label values over the time range it was opened for.
pub trait Querier: Send {
    /// Series matching all `matchers` that have samples in range, sorted by labels.
    fn select(&self, matchers: &[Matcher], hints: Option<&SelectHints>) -> Result<Vec<Box<dyn Series>>, StorageError>;

    /// Sorted label names of series matching `matchers` (all series when empty).
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Sorted values of label `name` over series matching `matchers` (all series when empty).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;
}

/// One selected series: its labels and its samples in the querier's range.
pub trait Series: Send {
    /// The series' labels.
    fn labels(&self) -> &Labels;
    /// Samples in increasing time order, restricted to the querier's range.
    fn iter(&self) -> Box<dyn SampleIter + '_>;

    /// The samples with `mint <= t <= maxt` (within the querier's range), in time order. Storages
    /// override it to decode only that part.
    fn samples_between(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut it = self.iter();
        let mut out = Vec::new();
        let mut next = it.seek(mint);
        while let Some(s) = next {
            if s.t > maxt {
                break;
            }
            out.push(s);
            next = it.next();
        }
        out
    }
}

/// Iterates samples in increasing time order.
pub trait SampleIter {
    /// The next sample, or `None` at the end.
    fn next(&mut self) -> Option<Sample>;

    /// Advances to the first sample with time ≥ `t` and returns it (consuming it), or `None`.
    fn seek(&mut self, t: i64) -> Option<Sample> {
        loop {
            let s = self.next()?;
            if s.t >= t {
                return Some(s);
            }
        }
    }
}

/// A series held in memory: used by tests, merges and remote readers.
#[derive(Debug, Clone)]
pub struct VecSeries {
    /// The labels.
    pub labels: Labels,
    /// Samples in increasing time order.
    pub samples: Vec<Sample>,
}

struct VecIter<'a> {
    samples: &'a [Sample],
    pos: usize,
}

impl SampleIter for VecIter<'_> {
    fn next(&mut self) -> Option<Sample> {
        let s = self.samples.get(self.pos).copied();
        self.pos += 1;
        s
    }
    fn seek(&mut self, t: i64) -> Option<Sample> {
        let rest = &self.samples[self.pos.min(self.samples.len())..];
        self.pos += rest.partition_point(|s| s.t < t);
        self.next()
    }
}

impl Series for VecSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iter(&self) -> Box<dyn SampleIter + '_> {
        Box::new(VecIter { samples: &self.samples, pos: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_series_seek() {
        let s = VecSeries {
            labels: Labels::from_pairs([("a", "b")]),
            samples: (0..10).map(|i| Sample::new(i * 10, i as f64)).collect(),
        };
        let mut it = s.iter();
        assert_eq!(it.seek(35).unwrap().t, 40);
        assert_eq!(it.next().unwrap().t, 50);
        assert!(it.seek(1000).is_none());
    }
}
