//! The write-ahead log: a directory of numbered segment files holding framed, checksummed records,
//! plus at most one checkpoint that replaces the segments it covers. See `docs/format/wal.md` for
//! the on-disk format and the recovery rules.
//!
//! Writers append whole batches of records under one lock into a userspace buffer. With
//! [`SyncMode::Always`] a caller returns only once its records are written and fsynced; concurrent
//! callers share fsyncs (group commit): the first waiter becomes the leader, writes the buffer and
//! fsyncs on behalf of everyone who appended before, while later callers queue up for the next
//! round. With [`SyncMode::Interval`] the buffer is written before `log` returns and a background
//! thread fsyncs periodically.
//!
//! Any failed write or fsync poisons the log: the state of the file is then unknown (a failed fsync
//! may have dropped dirty pages), so every later call fails with [`WalError::Poisoned`] and the log
//! must be reopened, which replays and truncates whatever reached the disk.

pub mod record;
mod segment;
mod tail;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

pub use record::{Record, RecordType, RefSample, RefSeries, Tombstone};
pub use segment::MAX_RECORD_LEN;
use segment::{Frame, FrameReader, FILE_HEADER_LEN};
pub use tail::{TailEvent, TailRecord, WalPosition, WalTail};

/// Default segment size limit: 128 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;

/// The buffer is written out once it holds this much, even before a sync is due.
const BUFFER_FLUSH_BYTES: usize = 1 << 20;

/// When `log` returns, and who fsyncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// `log` returns after the records are written and fsynced; concurrent callers share one fsync.
    Always,
    /// `log` returns after `write()`; a background thread fsyncs at this interval.
    Interval(Duration),
}

/// Options for [`Wal::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// A new segment is started when the next batch would make the current one exceed this size.
    pub segment_size: u64,
    /// Durability of `log`.
    pub sync: SyncMode,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions { segment_size: DEFAULT_SEGMENT_SIZE, sync: SyncMode::Always }
    }
}

/// What [`Wal::open`] found while replaying.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records passed to the callback (checkpoint and segments).
    pub records: u64,
    /// Segment files replayed (the checkpoint not counted).
    pub segments: u64,
    /// Bytes cut off a damaged segment plus the sizes of the later segments removed.
    pub truncated_bytes: u64,
    /// Description of the damage that was cut off, if any.
    pub corruption: Option<String>,
    /// The `upto` number of the checkpoint that was replayed, if any.
    pub checkpoint: Option<u64>,
}

/// Errors of the write-ahead log and its record codecs.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O operation on a file or directory failed.
    #[error("WAL {op} {}: {source}", path.display())]
    Io {
        /// The operation that failed.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file that must be intact (a checkpoint) is damaged.
    #[error("WAL file {} corrupt at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Offset of the first bad byte.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A file was written by an unknown format version.
    #[error("WAL file {} has unsupported format version {version}", file.display())]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version byte found.
        version: u8,
    },
    /// A record payload could not be decoded.
    #[error("malformed WAL record at byte {offset}: {reason}")]
    Decode {
        /// Offset inside the record.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The replay callback returned an error.
    #[error("WAL replay of {} failed at offset {offset}: {source}", file.display())]
    Replay {
        /// The file being replayed.
        file: PathBuf,
        /// Offset of the record the callback rejected.
        offset: u64,
        /// The callback's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A record is larger than [`MAX_RECORD_LEN`].
    #[error("WAL record of {len} bytes exceeds the maximum of {max}")]
    RecordTooLarge {
        /// The record's length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The options are unusable.
    #[error("invalid WAL options: {0}")]
    InvalidOptions(String),
    /// `checkpoint` was called with an unusable `upto`.
    #[error("invalid WAL checkpoint: {0}")]
    InvalidCheckpoint(String),
    /// An earlier write or fsync failed; the log accepts nothing more until reopened.
    #[error("WAL unusable after an earlier failure: {0}")]
    Poisoned(String),
}

type Observer = Box<dyn Fn(Duration) + Send + Sync>;

/// State of the file being appended to, guarded by `Shared::writer`.
struct Writer {
    file: Arc<File>,
    path: PathBuf,
    seg: u64,
    /// Bytes of the current segment, buffered ones included.
    seg_len: u64,
    buf: Vec<u8>,
    /// Logical bytes appended since open (a position that only grows; used for group commit).
    appended: u64,
    first_seg: u64,
    /// Bytes on disk in closed segments and the checkpoint.
    closed_bytes: u64,
    /// The current checkpoint's `upto` and size.
    checkpoint: Option<(u64, u64)>,
}

/// Group commit bookkeeping, guarded by `Shared::sync`.
struct SyncState {
    /// Everything appended up to this position is durable.
    synced: u64,
    /// A leader is writing and fsyncing.
    syncing: bool,
    failed: Option<String>,
}

struct Shared {
    dir: PathBuf,
    opts: WalOptions,
    writer: Mutex<Writer>,
    sync: Mutex<SyncState>,
    sync_cv: Condvar,
    poisoned: AtomicBool,
    observer: RwLock<Option<Observer>>,
    checkpoint_lock: Mutex<()>,
    stop: Mutex<bool>,
    stop_cv: Condvar,
}

/// A write-ahead log open for appending. `Send + Sync`; share it behind an `Arc`.
pub struct Wal {
    shared: Arc<Shared>,
    syncer: Option<JoinHandle<()>>,
    closed: bool,
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, last) = self.segments();
        f.debug_struct("Wal").field("dir", &self.shared.dir).field("segments", &(first..=last)).finish()
    }
}

/// Outcome of replaying one file.
struct FileReplay {
    len: u64,
    damage: Option<(u64, String)>,
}

fn replay_file<E>(
    path: &Path,
    f: &mut impl FnMut(&[u8]) -> Result<(), E>,
    records: &mut u64,
) -> Result<FileReplay, WalError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut r = FrameReader::open(path)?;
    let len = r.len();
    loop {
        let offset = r.offset();
        match r.next_frame()? {
            Frame::Record(payload) => {
                f(payload).map_err(|e| WalError::Replay { file: path.to_path_buf(), offset, source: e.into() })?;
                *records += 1;
            }
            Frame::End => return Ok(FileReplay { len, damage: None }),
            Frame::Damaged { offset, reason } => return Ok(FileReplay { len, damage: Some((offset, reason)) }),
        }
    }
}

fn remove_file(path: &Path) -> Result<(), WalError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(WalError::Io { op: "remove", path: path.to_path_buf(), source: e }),
    }
}

impl Wal {
    /// Replays the newest checkpoint and then the segments after it in order, calling `f` for each
    /// record. A torn or damaged tail is cut off (logged with `tracing::warn!` naming file and
    /// offset): that segment is truncated there and all later segments are removed. Then opens a
    /// new segment after the last one for writing. A damaged checkpoint is an error.
    pub fn open<E>(
        dir: &Path,
        opts: WalOptions,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(Wal, ReplayStats), WalError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if opts.segment_size <= FILE_HEADER_LEN {
            return Err(WalError::InvalidOptions(format!("segment_size {} is too small", opts.segment_size)));
        }
        if opts.sync == SyncMode::Interval(Duration::ZERO) {
            return Err(WalError::InvalidOptions("sync interval must be positive".to_string()));
        }
        fs::create_dir_all(dir).map_err(segment::io_err(dir, "create directory"))?;
        let listing = segment::list_dir(dir)?;
        let mut stats = ReplayStats::default();
        let mut dir_changed = false;

        let mut closed_bytes = 0;
        let mut checkpoint = None;
        if let Some((upto, path)) = listing.checkpoints.last() {
            let res = replay_file(path, &mut f, &mut stats.records)?;
            if let Some((offset, reason)) = res.damage {
                return Err(WalError::Corrupt { file: path.clone(), offset, reason });
            }
            if res.len < FILE_HEADER_LEN {
                return Err(WalError::Corrupt {
                    file: path.clone(),
                    offset: 0,
                    reason: "empty checkpoint".to_string(),
                });
            }
            checkpoint = Some((*upto, res.len));
            closed_bytes += res.len;
            stats.checkpoint = Some(*upto);
        }
        let base = checkpoint.map(|c| c.0);

        let covered = |n: u64| base.is_some_and(|b| n <= b);

        let segs: Vec<&(u64, PathBuf)> = listing.segments.iter().filter(|s| !covered(s.0)).collect();
        let mut expected = base.map(|b| b + 1);
        let mut first = None;
        let mut last = base;
        let mut last_path = None;
        let mut cut_from = None;
        for (i, (n, path)) in segs.iter().enumerate() {
            if let Some(e) = expected.filter(|e| e != n) {
                let reason = format!("segment {} is missing before {}", segment::segment_name(e), path.display());
                tracing::warn!(file = %path.display(), offset = 0u64, reason = %reason, "WAL damaged; dropping the rest");
                stats.corruption = Some(reason);
                cut_from = Some(i);
                break;
            }
            expected = Some(n + 1);
            first.get_or_insert(*n);
            last = Some(*n);
            last_path = Some(path);
            stats.segments += 1;
            let res = replay_file(path, &mut f, &mut stats.records)?;
            let Some((offset, reason)) = res.damage else {
                closed_bytes += res.len;
                continue;
            };
            tracing::warn!(
                file = %path.display(),
                offset,
                reason = %reason,
                "WAL damaged; truncating the segment and dropping later ones"
            );
            let keep = if offset < FILE_HEADER_LEN { 0 } else { offset };
            let file = OpenOptions::new().write(true).open(path).map_err(segment::io_err(path, "open"))?;
            file.set_len(keep).map_err(segment::io_err(path, "truncate"))?;
            file.sync_all().map_err(segment::io_err(path, "fsync"))?;
            stats.truncated_bytes += res.len - keep;
            stats.corruption = Some(format!("{} at offset {offset}: {reason}", path.display()));
            closed_bytes += keep;
            cut_from = Some(i + 1);
            break;
        }
        // Files are changed only once the replay callback has accepted everything.
        for tmp in &listing.temps {
            tracing::info!(file = %tmp.display(), "removing leftover temporary WAL file");
            remove_file(tmp)?;
            dir_changed = true;
        }
        // Leftovers of a checkpoint whose clean-up was interrupted.
        for (_, path) in
            listing.checkpoints.iter().rev().skip(1).chain(listing.segments.iter().filter(|s| covered(s.0)))
        {
            tracing::info!(file = %path.display(), "removing WAL file covered by the checkpoint");
            remove_file(path)?;
            dir_changed = true;
        }
        if let Some(i) = cut_from {
            for (_, path) in &segs[i..] {
                let len = segment::file_len(path)?;
                tracing::warn!(file = %path.display(), bytes = len, "removing WAL segment after the damage");
                remove_file(path)?;
                stats.truncated_bytes += len;
                dir_changed = true;
            }
        }
        if dir_changed {
            segment::fsync_dir(dir)?;
        }
        // The last segment may hold written but never fsynced bytes (a process crash in Interval
        // mode). Make them durable before newer segments get records, or an OS crash could tear
        // this segment's tail and recovery would then drop the newer, acknowledged segments.
        if let Some(path) = last_path {
            File::open(path).and_then(|f| f.sync_all()).map_err(segment::io_err(path, "fsync"))?;
        }

        let seg = last.map_or(1, |l| l + 1);
        let (file, path) = segment::create_segment(dir, seg)?;
        let writer = Writer {
            file: Arc::new(file),
            path,
            seg,
            seg_len: FILE_HEADER_LEN,
            buf: Vec::new(),
            appended: 0,
            first_seg: first.unwrap_or(seg),
            closed_bytes,
            checkpoint,
        };
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            opts: opts.clone(),
            writer: Mutex::new(writer),
            sync: Mutex::new(SyncState { synced: 0, syncing: false, failed: None }),
            sync_cv: Condvar::new(),
            poisoned: AtomicBool::new(false),
            observer: RwLock::new(None),
            checkpoint_lock: Mutex::new(()),
            stop: Mutex::new(false),
            stop_cv: Condvar::new(),
        });
        let syncer = match opts.sync {
            SyncMode::Always => None,
            SyncMode::Interval(every) => {
                let shared = shared.clone();
                let handle = std::thread::Builder::new()
                    .name("wal-sync".to_string())
                    .spawn(move || shared.run_syncer(every))
                    .map_err(|e| WalError::Io { op: "spawn sync thread", path: dir.to_path_buf(), source: e })?;
                Some(handle)
            }
        };
        Ok((Wal { shared, syncer, closed: false }, stats))
    }

    /// Appends `records` contiguously (never split across segments) and returns once they are
    /// durable as the [`SyncMode`] promises. A crash may keep a prefix of the batch.
    pub fn log(&self, records: &[&[u8]]) -> Result<(), WalError> {
        self.log_with(records, true)
    }

    /// Appends `records` like [`Wal::log`] and writes them to the file, but returns without waiting
    /// for an fsync: they survive a crash of the process, not of the machine, until the next
    /// [`Wal::sync`] or synced commit. For data nobody waits on (scrapes); the caller syncs soon.
    pub fn log_unsynced(&self, records: &[&[u8]]) -> Result<(), WalError> {
        self.log_with(records, false)
    }

    fn log_with(&self, records: &[&[u8]], durable: bool) -> Result<(), WalError> {
        self.shared.check_poisoned()?;
        if records.is_empty() {
            return Ok(());
        }
        let mut size = 0;
        for r in records {
            if r.len() > MAX_RECORD_LEN {
                return Err(WalError::RecordTooLarge { len: r.len(), max: MAX_RECORD_LEN });
            }
            size += segment::framed_len(r.len());
        }
        let end = {
            let mut w = self.shared.writer.lock();
            let mut res = self.shared.append(&mut w, records, size);
            if let (Ok(end), false) = (&res, durable) {
                let end = *end;
                res = self.shared.flush(&mut w).map(|()| end);
            }
            if let Err(e) = &res {
                self.shared.poison(e);
            }
            res?
        };
        match self.shared.opts.sync {
            SyncMode::Always if durable => self.shared.sync_to(end),
            _ => Ok(()),
        }
    }

    /// Closes the current segment (written and fsynced) and starts the next; returns its number.
    pub fn cut_segment(&self) -> Result<u64, WalError> {
        self.shared.check_poisoned()?;
        let mut w = self.shared.writer.lock();
        let res = self.shared.rotate(&mut w);
        if let Err(e) = &res {
            self.shared.poison(e);
        }
        res?;
        Ok(w.seg)
    }

    /// The first and last segment numbers on disk (the last one is being written).
    pub fn segments(&self) -> (u64, u64) {
        let w = self.shared.writer.lock();
        (w.first_seg, w.seg)
    }

    /// Writes `checkpoint.<upto>` holding `records` (framed like segments) atomically, then deletes
    /// segments `<= upto` and older checkpoints. `upto` must be below the segment being written and
    /// not below the current checkpoint. Appends continue while the checkpoint is written.
    pub fn checkpoint(&self, upto: u64, records: &mut dyn Iterator<Item = Vec<u8>>) -> Result<(), WalError> {
        let _one_at_a_time = self.shared.checkpoint_lock.lock();
        let (current, old) = {
            let w = self.shared.writer.lock();
            (w.seg, w.checkpoint)
        };
        if upto >= current {
            return Err(WalError::InvalidCheckpoint(format!(
                "upto {upto} must be below the segment being written ({current}); cut a segment first"
            )));
        }
        if let Some((prev, _)) = old.filter(|(prev, _)| upto < *prev) {
            return Err(WalError::InvalidCheckpoint(format!("upto {upto} is older than the checkpoint at {prev}")));
        }
        let dir = &self.shared.dir;
        let path = dir.join(segment::checkpoint_name(upto));
        let tmp = dir.join(format!("{}{}", segment::checkpoint_name(upto), segment::TMP_SUFFIX));
        let size = match self.write_checkpoint_file(&tmp, records) {
            Ok(size) => size,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        fs::rename(&tmp, &path).map_err(segment::io_err(&tmp, "rename checkpoint"))?;
        segment::fsync_dir(dir)?;

        // The checkpoint is durable; what it covers can go.
        let first = self.shared.writer.lock().first_seg;
        let mut freed = 0;
        for n in first..=upto {
            let seg = dir.join(segment::segment_name(n));
            if let Ok(len) = segment::file_len(&seg) {
                remove_file(&seg)?;
                freed += len;
            }
        }
        if let Some((prev, prev_size)) = old.filter(|(prev, _)| *prev != upto) {
            remove_file(&dir.join(segment::checkpoint_name(prev)))?;
            freed += prev_size;
        } else if let Some((_, prev_size)) = old {
            freed += prev_size; // replaced in place by the rename
        }
        segment::fsync_dir(dir)?;
        let mut w = self.shared.writer.lock();
        w.first_seg = w.first_seg.max(upto + 1);
        w.closed_bytes = (w.closed_bytes + size).saturating_sub(freed);
        w.checkpoint = Some((upto, size));
        Ok(())
    }

    fn write_checkpoint_file(&self, tmp: &Path, records: &mut dyn Iterator<Item = Vec<u8>>) -> Result<u64, WalError> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)
            .map_err(segment::io_err(tmp, "create checkpoint"))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut size = FILE_HEADER_LEN;
        out.write_all(&segment::file_header()).map_err(segment::io_err(tmp, "write"))?;
        let mut frame = Vec::new();
        for rec in records {
            if rec.len() > MAX_RECORD_LEN {
                return Err(WalError::RecordTooLarge { len: rec.len(), max: MAX_RECORD_LEN });
            }
            frame.clear();
            segment::append_frame(&mut frame, &rec);
            out.write_all(&frame).map_err(segment::io_err(tmp, "write"))?;
            size += frame.len() as u64;
        }
        let file = out.into_inner().map_err(|e| WalError::Io {
            op: "write",
            path: tmp.to_path_buf(),
            source: e.into_error(),
        })?;
        let start = Instant::now();
        file.sync_all().map_err(segment::io_err(tmp, "fsync"))?;
        self.shared.observe(start.elapsed());
        Ok(size)
    }

    /// Writes out the buffer and fsyncs now (returns at once if everything appended is durable).
    pub fn sync(&self) -> Result<(), WalError> {
        let target = self.shared.writer.lock().appended;
        self.shared.sync_to(target)
    }

    /// Stops the background syncer, writes out and fsyncs everything, and closes the log.
    pub fn close(mut self) -> Result<(), WalError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), WalError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        *self.shared.stop.lock() = true;
        self.shared.stop_cv.notify_all();
        if let Some(handle) = self.syncer.take() {
            let _ = handle.join();
        }
        self.sync()
    }

    /// Sets a function called with the duration of every fsync (e.g. to feed a histogram).
    pub fn set_fsync_observer(&self, f: Box<dyn Fn(Duration) + Send + Sync>) {
        *self.shared.observer.write() = Some(f);
    }

    /// Bytes of the log on disk: segments (buffered bytes included) and the checkpoint.
    pub fn size_bytes(&self) -> u64 {
        let w = self.shared.writer.lock();
        w.closed_bytes + w.seg_len
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(dir = %self.shared.dir.display(), error = %e, "WAL close on drop failed");
        }
    }
}

impl Shared {
    fn check_poisoned(&self) -> Result<(), WalError> {
        if !self.poisoned.load(Ordering::Acquire) {
            return Ok(());
        }
        let msg = self.sync.lock().failed.clone().unwrap_or_default();
        Err(WalError::Poisoned(msg))
    }

    fn poison(&self, e: &WalError) {
        tracing::error!(dir = %self.dir.display(), error = %e, "WAL failed; refusing further writes");
        let mut st = self.sync.lock();
        st.failed.get_or_insert_with(|| e.to_string());
        self.poisoned.store(true, Ordering::Release);
        self.sync_cv.notify_all();
    }

    fn observe(&self, d: Duration) {
        if let Some(f) = self.observer.read().as_ref() {
            f(d);
        }
    }

    /// Frames `records` into the buffer, starting a new segment first if they would not fit.
    fn append(&self, w: &mut Writer, records: &[&[u8]], size: u64) -> Result<u64, WalError> {
        if w.seg_len > FILE_HEADER_LEN && w.seg_len + size > self.opts.segment_size {
            self.rotate(w)?;
        }
        for r in records {
            segment::append_frame(&mut w.buf, r);
        }
        w.seg_len += size;
        w.appended += size;
        if matches!(self.opts.sync, SyncMode::Interval(_)) || w.buf.len() >= BUFFER_FLUSH_BYTES {
            self.flush(w)?;
        }
        Ok(w.appended)
    }

    fn flush(&self, w: &mut Writer) -> Result<(), WalError> {
        if w.buf.is_empty() {
            return Ok(());
        }
        (&*w.file).write_all(&w.buf).map_err(segment::io_err(&w.path, "write"))?;
        w.buf.clear();
        if w.buf.capacity() > 4 * BUFFER_FLUSH_BYTES {
            w.buf.shrink_to(BUFFER_FLUSH_BYTES);
        }
        Ok(())
    }

    /// Writes out and fsyncs the current segment, then starts the next one.
    fn rotate(&self, w: &mut Writer) -> Result<(), WalError> {
        self.flush(w)?;
        let start = Instant::now();
        w.file.sync_data().map_err(segment::io_err(&w.path, "fsync"))?;
        self.observe(start.elapsed());
        let next = w.seg + 1;
        let (file, path) = segment::create_segment(&self.dir, next)?;
        w.closed_bytes += w.seg_len;
        w.file = Arc::new(file);
        w.path = path;
        w.seg = next;
        w.seg_len = FILE_HEADER_LEN;
        // Everything appended so far is in fsynced segments now.
        let mut st = self.sync.lock();
        st.synced = st.synced.max(w.appended);
        Ok(())
    }

    /// Returns once everything appended up to `target` is durable. Leader/follower group commit:
    /// if no one is syncing, this caller writes the buffer and fsyncs for everyone who appended
    /// before it took the buffer; otherwise it waits for that round and checks again.
    fn sync_to(&self, target: u64) -> Result<(), WalError> {
        let mut st = self.sync.lock();
        loop {
            if let Some(msg) = &st.failed {
                return Err(WalError::Poisoned(msg.clone()));
            }
            if st.synced >= target {
                return Ok(());
            }
            if st.syncing {
                self.sync_cv.wait(&mut st);
                continue;
            }
            st.syncing = true;
            let res = parking_lot::MutexGuard::unlocked(&mut st, || self.write_and_fsync());
            st.syncing = false;
            match res {
                Ok(upto) => {
                    st.synced = st.synced.max(upto);
                    self.sync_cv.notify_all();
                }
                Err(e) => {
                    drop(st);
                    self.poison(&e);
                    return Err(e);
                }
            }
        }
    }

    /// Writes the buffer out under the writer lock, then fsyncs outside it so that appends go on.
    fn write_and_fsync(&self) -> Result<u64, WalError> {
        let (file, path, upto) = {
            let mut w = self.writer.lock();
            self.flush(&mut w)?;
            (w.file.clone(), w.path.clone(), w.appended)
        };
        let start = Instant::now();
        file.sync_data().map_err(segment::io_err(&path, "fsync"))?;
        self.observe(start.elapsed());
        Ok(upto)
    }

    fn run_syncer(&self, every: Duration) {
        loop {
            {
                let mut stop = self.stop.lock();
                if !*stop {
                    self.stop_cv.wait_for(&mut stop, every);
                }
                if *stop {
                    return;
                }
            }
            let target = self.writer.lock().appended;
            if let Err(e) = self.sync_to(target) {
                tracing::error!(dir = %self.dir.display(), error = %e, "WAL background fsync failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
