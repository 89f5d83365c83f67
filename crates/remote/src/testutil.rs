//! An in-memory `Appender` for unit tests: rejects out-of-order samples like the TSDB (without an
//! out-of-order window) and can be told to fail.

use std::collections::BTreeMap;

use vitals_model::{Appender, Labels, SeriesRef, StorageError};

#[derive(Default)]
pub struct MemAppender {
    pub committed: BTreeMap<Labels, Vec<(i64, f64)>>,
    pub pending: Vec<(Labels, i64, f64)>,
    pub refs: Vec<Labels>,
    pub commits: usize,
    pub rollbacks: usize,
    pub fail_commit: bool,
    pub fail_append_at: Option<usize>,
    pub appends: usize,
}

impl MemAppender {
    pub fn samples(&self, name: &str) -> Vec<(Labels, Vec<(i64, f64)>)> {
        self.committed
            .iter()
            .filter(|(l, _)| l.metric_name() == Some(name))
            .map(|(l, s)| (l.clone(), s.clone()))
            .collect()
    }

    pub fn total(&self) -> usize {
        self.committed.values().map(|v| v.len()).sum()
    }

    fn last(&self, l: &Labels) -> Option<i64> {
        let pending = self.pending.iter().rev().find(|(pl, _, _)| pl == l).map(|p| p.1);
        pending.or_else(|| self.committed.get(l).and_then(|v| v.last()).map(|s| s.0))
    }
}

impl Appender for MemAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, StorageError> {
        self.appends += 1;
        if self.fail_append_at == Some(self.appends) {
            return Err(StorageError::Io(std::io::Error::other("injected")));
        }
        if let Some(last) = self.last(labels) {
            if t < last {
                return Err(StorageError::OutOfOrder { series: labels.to_string(), t });
            }
            if t == last {
                return Err(StorageError::DuplicateSample { series: labels.to_string(), t });
            }
        }
        self.pending.push((labels.clone(), t, v));
        let r = match self.refs.iter().position(|l| l == labels) {
            Some(i) => i,
            None => {
                self.refs.push(labels.clone());
                self.refs.len() - 1
            }
        };
        Ok(r as SeriesRef)
    }

    fn append_ref(&mut self, series: SeriesRef, t: i64, v: f64) -> Result<(), StorageError> {
        let l = self.refs.get(series as usize).cloned().ok_or(StorageError::UnknownRef(series))?;
        self.append(&l, t, v).map(|_| ())
    }

    fn commit(&mut self) -> Result<(), StorageError> {
        if self.fail_commit {
            return Err(StorageError::Io(std::io::Error::other("injected commit failure")));
        }
        self.commits += 1;
        for (l, t, v) in self.pending.drain(..) {
            self.committed.entry(l).or_default().push((t, v));
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StorageError> {
        self.rollbacks += 1;
        self.pending.clear();
        Ok(())
    }
}
