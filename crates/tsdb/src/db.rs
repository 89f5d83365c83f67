//! The database: a data directory holding the WAL and persisted blocks, the head in memory, and the
//! maintenance that cuts the head into blocks, merges blocks and applies retention.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use rustc_hash::FxHashMap;
use vitals_model::{Appendable, Appender, Labels, Matcher, Querier, Queryable, Sample, StorageError};

use crate::block::meta::BlockCompaction;
use crate::block::writer::{sync_dir, BlockWriter};
use crate::block::Block;
use crate::chunkenc::HeadChunk;
use crate::encoding::{put_uvarint, Reader};
use crate::error::{Error, IoContext, Result};
use crate::head::chunk::ClosedChunk;
use crate::head::series::MemSeries;
use crate::head::{Head, HeadAppender, HeadOptions, HeadStats};
use crate::metrics::TsdbMetrics;
use crate::querier::{DbQuerier, ReaderGate};
use crate::wal::record::{self, Record, RefSeries};
use crate::wal::{SyncMode, Wal, WalOptions};

/// Record type byte of the head-chunks records that checkpoints hold (beside the WAL's own types).
pub(crate) const HEAD_CHUNKS_RECORD: u8 = 0x80;
/// In a head-chunks record: a closed chunk (cold column encoding).
const CHUNK_CLOSED: u8 = 1;
/// In a head-chunks record: the open chunk (head chunk stream).
const CHUNK_OPEN: u8 = 0;

/// Settings of a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Head settings (series limit, out-of-order window, block range).
    pub head: HeadOptions,
    /// `fsync` before every commit returns (with group commit), or every interval.
    pub wal_sync: WalSync,
    /// Size of one WAL segment file.
    pub wal_segment_size: u64,
    /// Blocks entirely older than this (ms) behind the newest sample are deleted (0 = keep).
    pub retention_ms: i64,
    /// Oldest blocks are deleted while blocks take more bytes than this (0 = no limit).
    pub retention_bytes: u64,
    /// Largest block a merge may produce (ms).
    pub max_block_duration: i64,
}

/// When the WAL is synced to disk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WalSync {
    /// Every commit is fsynced before it returns; concurrent commits share an fsync.
    Commit,
    /// A background fsync every interval; a crash may lose up to that much acknowledged data.
    Interval(Duration),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            head: HeadOptions::default(),
            wal_sync: WalSync::Commit,
            wal_segment_size: 128 << 20,
            retention_ms: 15 * 24 * 3600 * 1000,
            retention_bytes: 0,
            max_block_duration: 31 * 24 * 3600 * 1000,
        }
    }
}

/// An open data directory.
pub struct Db {
    dir: PathBuf,
    opts: Options,
    head: Arc<Head>,
    blocks: RwLock<Vec<Arc<Block>>>,
    wal: Arc<Wal>,
    metrics: Arc<TsdbMetrics>,
    compact_lock: Mutex<()>,
    /// Queriers hold it shared; truncating the head takes it exclusively, so a querier never
    /// misses data that moved from the head into a block it does not know.
    readers_gate: Arc<ReaderGate>,
    _lock: File,
}

impl Db {
    /// Opens (creating if needed) the data directory: loads blocks, replays the WAL.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Arc<Db>> {
        let dir = dir.as_ref().to_path_buf();
        let blocks_dir = dir.join("blocks");
        std::fs::create_dir_all(&blocks_dir).at(&blocks_dir)?;
        let lock_path = dir.join("lock");
        let lock = File::create(&lock_path).at(&lock_path)?;
        if lock.try_lock().is_err() {
            return Err(Error::Locked(dir));
        }
        let metrics = Arc::new(TsdbMetrics::default());
        let blocks = load_blocks(&blocks_dir)?;
        let head = Arc::new(Head::new(opts.head.clone(), metrics.clone()));
        if let Some(max) = blocks.iter().map(|b| b.meta().max_time).max() {
            head.set_min_valid_time(max);
        }
        let started = Instant::now();
        let mut replay = Replay { head: &head, refs: FxHashMap::default(), unknown: 0 };
        let wal_opts = WalOptions {
            segment_size: opts.wal_segment_size,
            sync: match opts.wal_sync {
                WalSync::Commit => SyncMode::Always,
                WalSync::Interval(d) => SyncMode::Interval(d),
            },
        };
        let (wal, stats) = Wal::open(&dir.join("wal"), wal_opts, |rec: &[u8]| replay.record(rec))?;
        if stats.corruption.is_some() {
            metrics.wal_corruptions_total.inc();
        }
        let unknown = replay.unknown;
        let wal = Arc::new(wal);
        let m = metrics.clone();
        wal.set_fsync_observer(Box::new(move |d| m.wal_fsync_duration.observe(d)));
        let _ = head.wal.set(wal.clone());
        for s in head.all_series() {
            s.logged.store(true, Ordering::Release);
        }
        tracing::info!(
            dir = %dir.display(),
            blocks = blocks.len(),
            series = head.num_series(),
            wal_records = stats.records,
            unknown_refs = unknown,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "storage opened"
        );
        let db = Arc::new(Db {
            dir,
            opts,
            head,
            blocks: RwLock::new(blocks),
            wal,
            metrics,
            compact_lock: Mutex::new(()),
            readers_gate: Arc::new(ReaderGate::default()),
            _lock: lock,
        });
        db.update_block_metrics();
        Ok(db)
    }

    /// A new appender.
    pub fn appender(&self) -> HeadAppender {
        self.head.appender()
    }

    /// A querier over `[mint, maxt]` (concrete type; also available through [`Queryable`]).
    pub fn db_querier(&self, mint: i64, maxt: i64) -> DbQuerier {
        // Taken before the block list is read: the head is not truncated under a querier.
        let pass = self.readers_gate.enter();
        let blocks = self.blocks.read().iter().filter(|b| b.meta().overlaps(mint, maxt)).cloned().collect();
        DbQuerier { view: self.head.begin_read(), head: self.head.clone(), blocks, mint, maxt, _pass: pass }
    }

    /// The head.
    pub fn head(&self) -> &Arc<Head> {
        &self.head
    }

    /// Cardinality of the head, each list cut to its `limit` largest entries.
    pub fn head_stats(&self, limit: usize) -> HeadStats {
        self.head.stats(limit)
    }

    /// The engine's metrics.
    pub fn metrics(&self) -> &TsdbMetrics {
        &self.metrics
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Persisted blocks, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.read().clone()
    }

    /// Bytes of all persisted blocks.
    pub fn blocks_bytes(&self) -> u64 {
        self.blocks.read().iter().map(|b| b.size()).sum()
    }

    /// Bytes of the WAL on disk.
    pub fn wal_bytes(&self) -> u64 {
        self.wal.size_bytes()
    }

    /// Syncs the WAL (everything committed so far is on disk when this returns).
    pub fn sync(&self) -> Result<()> {
        Ok(self.wal.sync()?)
    }

    /// Runs one round of maintenance: cuts the head into blocks while it spans more than 1.5 block
    /// ranges, merges blocks, applies retention.
    ///
    /// Truncating the head waits for open queriers, so the calling thread must not hold one.
    pub fn compact(&self) -> Result<()> {
        let _g = self.compact_lock.lock();
        self.persist_head(false)?;
        self.compact_blocks_inner(false)?;
        self.apply_retention()
    }

    /// Persists everything in the head into blocks (one per block range) and empties the head.
    /// Samples older than the newest persisted time are refused afterwards.
    pub fn flush_head(&self) -> Result<()> {
        let _g = self.compact_lock.lock();
        self.persist_head(true)?;
        self.compact_blocks_inner(true)?;
        self.apply_retention()
    }

    /// Cuts block-range windows off the head, oldest first: all of them, or only while the head
    /// spans more than 1.5 block ranges (so the newest data stays in memory).
    fn persist_head(&self, all: bool) -> Result<()> {
        let r = self.opts.head.block_range;
        loop {
            let (hmin, hmax) = (self.head.min_time(), self.head.max_time());
            if hmin > hmax {
                return Ok(());
            }
            let start = hmin.div_euclid(r) * r;
            if !all && hmax - start < r * 3 / 2 {
                return Ok(());
            }
            self.persist_head_range(start, start + r)?;
        }
    }

    fn persist_head_range(&self, mint: i64, maxt: i64) -> Result<()> {
        let started = Instant::now();
        self.head.close_range_before(maxt);
        let mut series: Vec<Arc<MemSeries>> = self
            .head
            .all_series()
            .into_iter()
            .filter(|s| {
                let d = s.data.lock();
                matches!((d.min_time(), d.max_time()), (Some(a), Some(b)) if a < maxt && b.max(a) >= mint)
                    || d.ooo.iter().any(|x| x.t >= mint && x.t < maxt)
            })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let written = if series.is_empty() {
            None
        } else {
            let mut w = BlockWriter::new(
                &self.dir.join("blocks"),
                mint,
                maxt,
                BlockCompaction { level: 1, sources: Vec::new() },
                series.iter().map(|s| &s.labels),
            )?;
            for s in &series {
                let samples = self.head.series_samples(s, mint, maxt - 1);
                w.add_series(&s.labels, &samples)?;
            }
            let (_, dir) = w.finish()?;
            Some(Block::open(&dir)?)
        };
        if let Some(b) = written {
            let mut blocks = self.blocks.write();
            blocks.push(b);
            blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
        }
        let removed = {
            let _no_readers = self.readers_gate.close();
            self.head.truncate(maxt)
        };
        if removed > 0 {
            vitals_model::labels::collect_unused_symbols();
        }
        self.checkpoint()?;
        self.metrics.compactions_total.inc();
        self.metrics.compaction_duration.observe(started.elapsed());
        self.update_block_metrics();
        tracing::info!(mint, maxt, elapsed_ms = started.elapsed().as_millis() as u64, "head persisted to block");
        Ok(())
    }

    /// Folds the WAL into a checkpoint holding the head's current state, deleting older segments.
    fn checkpoint(&self) -> Result<()> {
        let upto = {
            let _quiet = self.head.wal_apply.write();
            self.wal.cut_segment()? - 1
        };
        let series = self.head.all_series();
        let mut batches = series.chunks(1000).flat_map(|batch| {
            let mut rs = Vec::new();
            record::encode(
                &Record::Series(batch.iter().map(|s| RefSeries { r: s.r, labels: s.labels.clone() }).collect()),
                &mut rs,
            );
            let mut cs = vec![HEAD_CHUNKS_RECORD];
            let mut ooo = Vec::new();
            put_uvarint(&mut cs, batch.len() as u64);
            for s in batch {
                let d = s.data.lock();
                put_uvarint(&mut cs, s.r);
                put_uvarint(&mut cs, (d.closed.len() + usize::from(!d.open.is_empty())) as u64);
                for c in &d.closed {
                    cs.push(CHUNK_CLOSED);
                    put_uvarint(&mut cs, c.len() as u64);
                    put_uvarint(&mut cs, c.encoded_len() as u64);
                    c.write_to(&mut cs);
                }
                if !d.open.is_empty() {
                    cs.push(CHUNK_OPEN);
                    put_uvarint(&mut cs, d.open.len() as u64);
                    put_uvarint(&mut cs, d.open.bytes().len() as u64);
                    cs.extend_from_slice(d.open.bytes());
                }
                ooo.extend(d.ooo.iter().map(|x| record::RefSample { r: s.r, t: x.t, v: x.v }));
            }
            let mut out = vec![rs, cs];
            if !ooo.is_empty() {
                let mut os = Vec::new();
                record::encode_samples(&ooo, &mut os);
                out.push(os);
            }
            out
        });
        self.wal.checkpoint(upto, &mut batches)?;
        Ok(())
    }

    fn compact_blocks_inner(&self, all_complete: bool) -> Result<()> {
        loop {
            let plan = self.plan_compaction(all_complete);
            let Some(group) = plan else { break };
            let started = Instant::now();
            match self.merge_blocks(&group) {
                Ok(()) => {
                    self.metrics.compactions_total.inc();
                    self.metrics.compaction_duration.observe(started.elapsed());
                }
                Err(e) => {
                    self.metrics.compactions_failed_total.inc();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Picks blocks to merge: overlapping blocks first, then complete aligned windows of 3×, 9×,
    /// ... the block range holding more than one block.
    fn plan_compaction(&self, all_complete: bool) -> Option<Vec<Arc<Block>>> {
        let blocks = self.blocks.read().clone();
        if blocks.len() < 2 {
            return None;
        }
        for w in blocks.windows(2) {
            if w[1].meta().min_time < w[0].meta().max_time {
                let lo = w[0].meta().min_time;
                let hi = w[0].meta().max_time.max(w[1].meta().max_time);
                return Some(
                    blocks.iter().filter(|b| b.meta().min_time < hi && b.meta().max_time > lo).cloned().collect(),
                );
            }
        }
        let persisted_until = self.head.min_valid_time();
        let mut range = self.opts.head.block_range * 3;
        while range <= self.opts.max_block_duration {
            let mut groups: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
            for b in &blocks {
                let w = b.meta().min_time.div_euclid(range);
                if b.meta().max_time <= (w + 1) * range {
                    groups.entry(w).or_default().push(b.clone());
                }
            }
            for (w, g) in groups {
                let complete = all_complete || (w + 1) * range <= persisted_until;
                if g.len() > 1 && complete {
                    return Some(g);
                }
            }
            range *= 3;
        }
        None
    }

    fn merge_blocks(&self, group: &[Arc<Block>]) -> Result<()> {
        let mint = group.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
        let mut index: BTreeMap<Labels, Vec<(usize, u64)>> = BTreeMap::new();
        for (i, b) in group.iter().enumerate() {
            for r in b.all_refs() {
                let (labels, _) = b.series(r)?;
                index.entry(labels).or_default().push((i, r));
            }
        }
        let level = group.iter().map(|b| b.meta().compaction.level).max().unwrap_or(1) + 1;
        let sources: BTreeSet<String> =
            group.iter().flat_map(|b| b.meta().compaction.sources.iter().cloned()).collect();
        let mut w = BlockWriter::new(
            &self.dir.join("blocks"),
            mint,
            maxt,
            BlockCompaction { level, sources: sources.into_iter().collect() },
            index.keys(),
        )?;
        for (labels, places) in &index {
            let mut samples: Vec<Sample> = Vec::new();
            let mut sorted = true;
            for (i, r) in places {
                let b = &group[*i];
                let (_, chunks) = b.series(*r)?;
                let del = b.select_tombstones(*r);
                let part = b.samples(&chunks, &del, i64::MIN, i64::MAX)?;
                if let (Some(l), Some(f)) = (samples.last(), part.first()) {
                    sorted &= f.t > l.t;
                }
                samples.extend(part);
            }
            if !sorted {
                samples.sort_by_key(|s| s.t);
                samples.dedup_by_key(|s| s.t);
            }
            w.add_series(labels, &samples)?;
        }
        let (_, dir) = w.finish()?;
        let merged = Block::open(&dir)?;
        {
            let mut blocks = self.blocks.write();
            blocks.retain(|b| !group.iter().any(|g| Arc::ptr_eq(g, b)));
            blocks.push(merged);
            blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
        }
        for b in group {
            remove_block_dir(b.dir())?;
        }
        self.update_block_metrics();
        tracing::info!(blocks = group.len(), mint, maxt, level, "blocks merged");
        Ok(())
    }

    fn apply_retention(&self) -> Result<()> {
        let blocks = self.blocks.read().clone();
        let mut doomed: Vec<Arc<Block>> = Vec::new();
        if self.opts.retention_ms > 0 {
            let newest = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(i64::MIN).max(self.head.max_time());
            let cutoff = newest.saturating_sub(self.opts.retention_ms);
            doomed.extend(blocks.iter().filter(|b| b.meta().max_time <= cutoff).cloned());
        }
        if self.opts.retention_bytes > 0 {
            let mut total: u64 =
                blocks.iter().filter(|b| !doomed.iter().any(|d| Arc::ptr_eq(d, b))).map(|b| b.size()).sum();
            for b in &blocks {
                if total <= self.opts.retention_bytes {
                    break;
                }
                if !doomed.iter().any(|d| Arc::ptr_eq(d, b)) {
                    total -= b.size();
                    doomed.push(b.clone());
                }
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        self.blocks.write().retain(|b| !doomed.iter().any(|d| Arc::ptr_eq(d, b)));
        for b in &doomed {
            remove_block_dir(b.dir())?;
            self.metrics.retention_deletions_total.inc();
            tracing::info!(block = %b.meta().ulid, "block deleted by retention");
        }
        self.update_block_metrics();
        Ok(())
    }

    /// Deletes samples in `[mint, maxt]` of series matching `matchers`, durably (WAL tombstones for
    /// the head, tombstone files for blocks). Returns the number of series touched.
    pub fn delete(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<usize> {
        let mut touched = 0;
        for b in self.blocks.read().iter().filter(|b| b.meta().overlaps(mint, maxt)) {
            touched += b.delete(matchers, mint, maxt)?;
        }
        let refs = crate::index::postings_for_matchers(&*self.head, matchers);
        if !refs.is_empty() {
            let _apply = self.head.wal_apply.read();
            let mut rec = Vec::new();
            record::encode(
                &Record::Tombstones(refs.iter().map(|r| record::Tombstone { r: *r, mint, maxt }).collect()),
                &mut rec,
            );
            self.wal.log(&[&rec])?;
            touched += self.head.delete(&refs, mint, maxt);
        }
        Ok(touched)
    }

    /// Writes every block and the head as persisted blocks into `snapshots/<name>/`; returns the path.
    pub fn snapshot(&self, name: &str, with_head: bool) -> Result<PathBuf> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::BadSnapshotName(name.to_string()));
        }
        let target = self.dir.join("snapshots").join(name);
        if target.exists() {
            return Err(Error::Io { path: target, source: std::io::Error::from(std::io::ErrorKind::AlreadyExists) });
        }
        std::fs::create_dir_all(&target).at(&target)?;
        let _g = self.compact_lock.lock();
        for b in self.blocks.read().iter() {
            let dst = target.join(&b.meta().ulid);
            std::fs::create_dir_all(&dst).at(&dst)?;
            for e in std::fs::read_dir(b.dir()).at(b.dir())? {
                let e = e.at(b.dir())?;
                let to = dst.join(e.file_name());
                if std::fs::hard_link(e.path(), &to).is_err() {
                    std::fs::copy(e.path(), &to).at(&to)?;
                }
            }
        }
        if with_head && self.head.min_time() <= self.head.max_time() {
            let (mint, maxt) = (self.head.min_time(), self.head.max_time());
            let mut series = self.head.all_series();
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            let mut w = BlockWriter::new(
                &target,
                mint,
                maxt + 1,
                BlockCompaction { level: 1, sources: Vec::new() },
                series.iter().map(|s| &s.labels),
            )?;
            for s in &series {
                let samples = self.head.series_samples(s, mint, maxt);
                w.add_series(&s.labels, &samples)?;
            }
            w.finish()?;
        }
        sync_dir(&target)?;
        Ok(target)
    }

    /// Starts a thread that runs [`Db::compact`] every `every` until the handle is dropped.
    pub fn spawn_maintenance(self: &Arc<Self>, every: Duration) -> Maintenance {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let db = Arc::downgrade(self);
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("tsdb-maintenance".into())
            .spawn(move || loop {
                {
                    let mut stopped = s.0.lock();
                    if !*stopped {
                        s.1.wait_for(&mut stopped, every);
                    }
                    if *stopped {
                        return;
                    }
                }
                let Some(db) = db.upgrade() else { return };
                if let Err(e) = db.compact() {
                    tracing::error!(error = %e, "storage maintenance failed");
                }
            })
            .ok();
        Maintenance { stop, handle }
    }

    /// Renders the engine's metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        self.metrics.render(out)
    }

    fn update_block_metrics(&self) {
        let blocks = self.blocks.read();
        self.metrics.blocks_loaded.set(blocks.len() as i64);
        self.metrics.storage_blocks_bytes.set(blocks.iter().map(|b| b.size() as i64).sum());
    }
}

/// Stops the maintenance thread when dropped.
pub struct Maintenance {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(self.head.appender())
    }
}

impl Queryable for Db {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        Ok(Box::new(self.db_querier(mint, maxt)))
    }
}

struct Replay<'a> {
    head: &'a Arc<Head>,
    refs: FxHashMap<u64, Arc<MemSeries>>,
    unknown: u64,
}

impl Replay<'_> {
    fn record(&mut self, rec: &[u8]) -> std::result::Result<(), Error> {
        if rec.first() == Some(&HEAD_CHUNKS_RECORD) {
            return self.head_chunks(&rec[1..]);
        }
        let bounds = self.head.bounds();
        match record::decode(rec)? {
            Record::Series(list) => {
                for s in list {
                    let (series, _) = self.head.get_or_create(&s.labels, Some(s.r))?;
                    self.refs.insert(s.r, series);
                }
            }
            Record::Samples(list) => {
                for s in list {
                    match self.refs.get(&s.r) {
                        Some(series) => {
                            let _ = self.head.apply(series, s.t, s.v, &bounds);
                        }
                        None => self.unknown += 1,
                    }
                }
            }
            Record::Tombstones(list) => {
                for t in list {
                    if let Some(series) = self.refs.get(&t.r) {
                        series.data.lock().delete_range(t.mint, t.maxt);
                    }
                }
            }
        }
        Ok(())
    }

    fn head_chunks(&mut self, body: &[u8]) -> std::result::Result<(), Error> {
        let bad = |_| Error::Storage(StorageError::Other("checkpoint: damaged head-chunks record".into()));
        let mut r = Reader::new(body, 0);
        let n = r.len(body.len()).map_err(bad)?;
        let min_valid = self.head.min_valid_time();
        for _ in 0..n {
            let sref = r.uvarint().map_err(bad)?;
            let nchunks = r.len(body.len()).map_err(bad)?;
            let series = self.refs.get(&sref).cloned();
            for _ in 0..nchunks {
                let kind = r.u8().map_err(bad)?;
                let samples = r.len(1 << 20).map_err(bad)?;
                let len = r.len(body.len()).map_err(bad)?;
                let bytes = r.bytes(len).map_err(bad)?;
                let Some(series) = &series else {
                    self.unknown += 1;
                    continue;
                };
                let chunk = match kind {
                    CHUNK_OPEN => {
                        let open = HeadChunk::from_bytes(bytes.to_vec(), samples)?;
                        if open.is_empty() {
                            continue;
                        }
                        ClosedChunk::from_head(&open)
                    }
                    CHUNK_CLOSED => ClosedChunk::from_encoded(bytes.to_vec(), samples)?,
                    _ => return Err(bad(crate::encoding::Short)),
                };
                if chunk.max_time() < min_valid {
                    continue;
                }
                let mut d = series.data.lock();
                if d.max_time().is_some_and(|m| m >= chunk.min_time()) {
                    // Overlaps what is already there: re-append sample by sample.
                    drop(d);
                    let bounds = self.head.bounds();
                    for (t, v) in chunk.samples() {
                        let _ = self.head.apply(series, t, v, &bounds);
                    }
                    continue;
                }
                let (cmin, cmax) = (chunk.min_time(), chunk.max_time());
                let open = std::mem::take(&mut d.open);
                if !open.is_empty() {
                    d.closed.push(Arc::new(ClosedChunk::from_head(&open)));
                }
                d.closed.push(Arc::new(chunk));
                drop(d);
                self.head.note_chunk_loaded(cmin, cmax);
            }
        }
        Ok(())
    }
}

fn load_blocks(dir: &Path) -> Result<Vec<Arc<Block>>> {
    let mut blocks = Vec::new();
    for e in std::fs::read_dir(dir).at(dir)? {
        let e = e.at(dir)?;
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".tmp") {
            tracing::warn!(dir = %path.display(), "removing unfinished block");
            remove_block_dir(&path)?;
            continue;
        }
        blocks.push(Block::open(&path)?);
    }
    // A merge that crashed before deleting its inputs leaves blocks whose sources another block
    // covers entirely; drop those.
    let mut keep: Vec<Arc<Block>> = Vec::new();
    for b in &blocks {
        let covered = blocks.iter().any(|o| {
            !Arc::ptr_eq(o, b)
                && o.meta().compaction.level > b.meta().compaction.level
                && b.meta().compaction.sources.iter().all(|s| o.meta().compaction.sources.contains(s))
        });
        if covered {
            tracing::warn!(block = %b.meta().ulid, "removing block already merged into another");
            remove_block_dir(b.dir())?;
        } else {
            keep.push(b.clone());
        }
    }
    keep.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
    Ok(keep)
}

fn remove_block_dir(dir: &Path) -> Result<()> {
    // Rename first so a crash mid-delete never leaves a half block that looks complete.
    let doomed = dir.with_extension("tmp");
    std::fs::rename(dir, &doomed).at(dir)?;
    std::fs::remove_dir_all(&doomed).at(&doomed)
}
