//! The head's appender: buffers samples, then logs them to the WAL and applies them on commit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use vitals_model::{Appender, Labels, SeriesRef, StorageError};

use super::series::{MemSeries, Reject};
use super::{Head, Tally};
use crate::wal::record::{self, RefSample, RefSeries};

/// Appends to the head; nothing is visible or durable until [`Appender::commit`].
pub struct HeadAppender {
    head: Arc<Head>,
    pending: Vec<(Arc<MemSeries>, i64, f64)>,
    buf_series: Vec<u8>,
    buf_samples: Vec<u8>,
    refs: Vec<RefSample>,
    /// Commits wait for the WAL fsync (see [`Appender::set_durable`]).
    durable: bool,
}

impl HeadAppender {
    pub(crate) fn new(head: Arc<Head>) -> Self {
        HeadAppender {
            head,
            pending: Vec::new(),
            buf_series: Vec::new(),
            buf_samples: Vec::new(),
            refs: Vec::new(),
            durable: true,
        }
    }

    /// Checks the sample now so the caller gets a typed error at once (a scrape counts them); the
    /// commit checks again, since other appenders may commit to the same series in between.
    fn add(&mut self, s: Arc<MemSeries>, t: i64, v: f64) -> Result<(), StorageError> {
        let bounds = self.head.bounds();
        if let Err(r) = s.data.lock().check(t, v, &bounds) {
            self.head.count_reject(r);
            return Err(reject_error(r, &s.labels, t));
        }
        s.pending.fetch_add(1, Ordering::AcqRel);
        self.pending.push((s, t, v));
        Ok(())
    }

    fn release(&mut self) {
        for (s, _, _) in self.pending.drain(..) {
            s.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Number of samples waiting for commit.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// The typed error for a refused sample.
pub(crate) fn reject_error(r: Reject, labels: &Labels, t: i64) -> StorageError {
    let series = labels.to_string();
    match r {
        Reject::OutOfBounds => StorageError::OutOfBounds { series, t },
        Reject::OutOfOrder => StorageError::OutOfOrder { series, t },
        Reject::Duplicate => StorageError::DuplicateSample { series, t },
    }
}

impl Appender for HeadAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, StorageError> {
        let (s, _) = self.head.get_or_create(labels, None)?;
        let r = s.r;
        self.add(s, t, v)?;
        Ok(r)
    }

    fn append_ref(&mut self, series: SeriesRef, t: i64, v: f64) -> Result<(), StorageError> {
        let s = self.head.get_by_ref(series).ok_or(StorageError::UnknownRef(series))?;
        self.add(s, t, v)
    }

    fn commit(&mut self) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let head = self.head.clone();
        let _apply = head.wal_apply.read();
        if let Some(wal) = head.wal.get() {
            let new_series: Vec<RefSeries> = self
                .pending
                .iter()
                .filter(|(s, _, _)| !s.logged.load(Ordering::Acquire))
                .map(|(s, _, _)| RefSeries { r: s.r, labels: s.labels.clone() })
                .collect();
            self.refs.clear();
            self.refs.extend(self.pending.iter().map(|(s, t, v)| RefSample { r: s.r, t: *t, v: *v }));
            self.buf_samples.clear();
            record::encode_samples(&self.refs, &mut self.buf_samples);
            let durable = self.durable;
            let log = |records: &[&[u8]]| if durable { wal.log(records) } else { wal.log_unsynced(records) };
            let res = if new_series.is_empty() {
                log(&[&self.buf_samples])
            } else {
                let mut buf_series = std::mem::take(&mut self.buf_series);
                buf_series.clear();
                record::encode(&record::Record::Series(new_series), &mut buf_series);
                let res = log(&[&buf_series, &self.buf_samples]);
                self.buf_series = buf_series;
                res
            };
            if let Err(e) = res {
                head.metrics.wal_write_failures_total.inc();
                self.release();
                return Err(StorageError::Other(format!("WAL write failed, commit rolled back: {e}")));
            }
            for (s, _, _) in &self.pending {
                s.logged.store(true, Ordering::Release);
            }
        }
        let id = head.iso.begin_commit();
        {
            let mut tally = Tally::default();
            let _iso = head.isolation_read();
            // Bounds are read under the lock, so a block being persisted sees no late samples.
            let bounds = head.bounds();
            let tx = Some((id, head.iso.low()));
            for (s, t, v) in &self.pending {
                // A refusal here means another appender got in first since `append`; it is counted.
                let _ = head.apply_tallied(s, *t, *v, &bounds, tx, &mut tally);
            }
            head.flush_tally(&tally);
        }
        head.iso.end_commit(id);
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        head.last_commit_ms.store(now, Ordering::Release);
        head.commits.fetch_add(1, Ordering::AcqRel);
        self.release();
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StorageError> {
        self.release();
        Ok(())
    }

    fn set_durable(&mut self, durable: bool) {
        self.durable = durable;
    }
}

impl Drop for HeadAppender {
    fn drop(&mut self) {
        self.release();
    }
}
