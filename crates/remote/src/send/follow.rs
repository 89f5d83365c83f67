//! The task that feeds one [`QueueManager`] from the TSDB's WAL and saves how far it got, so a
//! restarted vitals resumes where it stopped.
//!
//! Delivery is at least once: the saved position is that of the last WAL record all of whose
//! samples were sent (or dropped for good), so samples after it may be sent again after a crash,
//! but none is skipped while the WAL still holds it. Without a progress file (first start), only
//! samples with a timestamp at or after the start time are sent, as Prometheus does.
//!
//! The progress file `<data>/remote/<queue name>/progress` is described in `docs/format/remote.md`.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vitals_tsdb::wal::{TailRecord, WalPosition, WalTail};

use super::config::RemoteWriteConfig;
use super::queue::{QueueManager, QueueOptions};
use crate::error::RemoteError;

/// Timing of a [`RemoteWriteTask`].
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Queue settings not in the configuration entry.
    pub queue: QueueOptions,
    /// How often the WAL is polled for new records when caught up (default 200ms).
    pub poll_interval: Duration,
    /// Least time between two writes of the progress file (default 5s).
    pub persist_interval: Duration,
    /// How long `stop` waits for queued samples to be sent (default 10s).
    pub flush_deadline: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            queue: QueueOptions::default(),
            poll_interval: Duration::from_millis(200),
            persist_interval: Duration::from_secs(5),
            flush_deadline: Duration::from_secs(10),
        }
    }
}

/// The contents of the progress file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// Format version, 1.
    pub version: u32,
    /// WAL segment of the position.
    pub segment: u64,
    /// Byte offset in that segment.
    pub offset: u64,
}

/// One running remote_write destination: a [`QueueManager`] fed from the WAL.
pub struct RemoteWriteTask {
    queue: Arc<QueueManager>,
    stop: watch::Sender<bool>,
    handle: JoinHandle<Result<(), RemoteError>>,
}

/// The progress file of `cfg` under the data directory.
pub fn progress_path(data_dir: &Path, cfg: &RemoteWriteConfig) -> PathBuf {
    data_dir.join("remote").join(cfg.queue_name()).join("progress")
}

impl RemoteWriteTask {
    /// Starts sending what the WAL under `data_dir/wal` holds, from the saved progress on.
    pub fn start(cfg: &RemoteWriteConfig, data_dir: &Path, opts: FollowOptions) -> Result<Self, RemoteError> {
        let queue = Arc::new(QueueManager::new(cfg, opts.queue.clone())?);
        let path = progress_path(data_dir, cfg);
        let saved = load_progress(&path)?;
        let start = saved.map_or(WalPosition::default(), |p| WalPosition { segment: p.segment, offset: p.offset });
        let min_t = if saved.is_some() { i64::MIN } else { now_ms() };
        let tail = WalTail::open(&data_dir.join("wal"), start).map_err(|e| RemoteError::Wal(e.to_string()))?;
        let (stop, stop_rx) = watch::channel(false);
        let f = Follower {
            queue: queue.clone(),
            tail,
            path,
            saved: start,
            min_t,
            opts,
            marks: VecDeque::new(),
            series_segment: FxHashMap::default(),
            pending_prune: None,
        };
        let handle = tokio::spawn(f.run(stop_rx));
        Ok(RemoteWriteTask { queue, stop, handle })
    }

    /// The queue (for metrics).
    pub fn queue(&self) -> &Arc<QueueManager> {
        &self.queue
    }

    /// Stops reading, sends what is queued (up to the flush deadline) and saves the progress.
    pub async fn stop(self) -> Result<(), RemoteError> {
        let _ = self.stop.send(true);
        match self.handle.await {
            Ok(r) => r,
            Err(e) => Err(RemoteError::Wal(format!("remote_write task failed: {e}"))),
        }
    }
}

struct Follower {
    queue: Arc<QueueManager>,
    tail: WalTail,
    path: PathBuf,
    saved: WalPosition,
    min_t: i64,
    opts: FollowOptions,
    /// (sequence number of the last sample queued up to a record, position after that record).
    marks: VecDeque<(u64, WalPosition)>,
    /// WAL segment in which each known series was defined (the checkpoint's series count as
    /// defined where reading resumed after it).
    series_segment: FxHashMap<u64, u64>,
    /// A newer checkpoint's number and series, applied once reading is past its segment.
    pending_prune: Option<(u64, Vec<u64>)>,
}

impl Follower {
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), RemoteError> {
        let mut last_persist = Instant::now();
        let mut drain_until: Option<tokio::time::Instant> = None;
        let result = loop {
            if drain_until.is_none() && *stop.borrow() {
                // Stopping: what was committed before the stop is still read and queued (for at
                // most the flush deadline), so a clean shutdown leaves nothing behind unsent.
                drain_until = Some(tokio::time::Instant::now() + self.opts.flush_deadline);
            }
            let read = match drain_until {
                None => self.read_batch().await,
                Some(deadline) => match tokio::time::timeout_at(deadline, self.read_batch()).await {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::warn!(remote = %self.queue.name(), "stopping before the WAL was read to its end (flush deadline)");
                        break Ok(());
                    }
                },
            };
            let read = match read {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if drain_until.is_some() && read == 0 {
                break Ok(());
            }
            if last_persist.elapsed() >= self.opts.persist_interval {
                self.persist()?;
                self.prune()?;
                last_persist = Instant::now();
            }
            if read == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.opts.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        };
        self.queue.stop(self.opts.flush_deadline).await;
        self.persist()?;
        result
    }

    /// Reads and queues up to 1000 WAL records; returns how many were read (0: caught up).
    async fn read_batch(&mut self) -> Result<usize, RemoteError> {
        let mut read = 0;
        while read < 1000 {
            match self.tail.next_event() {
                Ok(Some(ev)) => {
                    read += 1;
                    let seq = match ev.record {
                        TailRecord::Series(s) => {
                            for x in &s {
                                self.series_segment.insert(x.r, ev.position.segment);
                            }
                            self.queue.store_series(s.into_iter().map(|s| (s.r, s.labels)));
                            self.queue.append(std::iter::empty()).await
                        }
                        TailRecord::Samples(s) => {
                            let min_t = self.min_t;
                            self.queue.append(s.into_iter().filter(|s| s.t >= min_t).map(|s| (s.r, s.t, s.v))).await
                        }
                    };
                    match self.marks.back_mut() {
                        Some(last) if last.0 == seq => last.1 = ev.position,
                        _ => self.marks.push_back((seq, ev.position)),
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(RemoteError::Wal(e.to_string())),
            }
        }
        Ok(read)
    }

    /// Forgets the series the head dropped, so the queue's series table does not grow with churn:
    /// once reading is past a new checkpoint's segment, every series neither in that checkpoint
    /// nor defined after it is gone for good.
    fn prune(&mut self) -> Result<(), RemoteError> {
        if self.pending_prune.is_none() {
            self.pending_prune = self.tail.new_checkpoint_series().map_err(|e| RemoteError::Wal(e.to_string()))?;
        }
        match &self.pending_prune {
            Some((n, _)) if self.tail.position().segment > *n => {}
            _ => return Ok(()),
        }
        let Some((n, refs)) = self.pending_prune.take() else { return Ok(()) };
        let live: rustc_hash::FxHashSet<u64> = refs.into_iter().collect();
        let dead: Vec<u64> =
            self.series_segment.iter().filter(|(r, seg)| **seg <= n && !live.contains(*r)).map(|(r, _)| *r).collect();
        if !dead.is_empty() {
            for r in &dead {
                self.series_segment.remove(r);
            }
            tracing::debug!(remote = %self.queue.name(), series = dead.len(), checkpoint = n, "remote_write forgets series the head dropped");
            self.queue.remove_series(dead);
        }
        Ok(())
    }

    /// Saves the position after the last record whose samples were all sent, if it moved.
    fn persist(&mut self) -> Result<(), RemoteError> {
        let done = self.queue.sent_through();
        let mut pos = None;
        while let Some(&(seq, p)) = self.marks.front() {
            if seq > done {
                break;
            }
            pos = Some(p);
            self.marks.pop_front();
        }
        match pos {
            Some(p) if p > self.saved => {
                save_progress(&self.path, &Progress { version: 1, segment: p.segment, offset: p.offset })?;
                self.saved = p;
            }
            _ => {}
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Reads a progress file; `None` if there is none. A damaged file is an error (not silently reset).
pub fn load_progress(path: &Path) -> Result<Option<Progress>, RemoteError> {
    let io = |op, source| RemoteError::Io { op, path: path.display().to_string(), source };
    match std::fs::read(path) {
        Ok(b) => {
            let p: Progress = serde_json::from_slice(&b).map_err(|e| io("parse", std::io::Error::other(e)))?;
            if p.version != 1 {
                return Err(io("parse", std::io::Error::other(format!("unsupported version {}", p.version))));
            }
            Ok(Some(p))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", e)),
    }
}

/// Writes a progress file atomically: temporary file, fsync, rename, fsync of the directory.
pub fn save_progress(path: &Path, p: &Progress) -> Result<(), RemoteError> {
    let io = |op, source| RemoteError::Io { op, path: path.display().to_string(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io("create directory", e))?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
    let mut body = serde_json::to_vec(p).map_err(|e| io("encode", std::io::Error::other(e)))?;
    body.push(b'\n');
    f.write_all(&body).map_err(|e| io("write", e))?;
    f.sync_all().map_err(|e| io("fsync", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io("rename", e))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("fsync directory", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("remote/x/progress");
        assert_eq!(load_progress(&path).unwrap(), None);
        let p = Progress { version: 1, segment: 7, offset: 4242 };
        save_progress(&path, &p).unwrap();
        assert_eq!(load_progress(&path).unwrap(), Some(p));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"version\":1,\"segment\":7,\"offset\":4242}\n");
        std::fs::write(&path, "garbage").unwrap();
        assert!(load_progress(&path).is_err());
    }
}
