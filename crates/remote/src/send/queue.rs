//! The remote_write queue: series definitions and samples come in by series reference (as the WAL
//! holds them), samples are hashed by series onto shards, batched, encoded and sent with retries.
//!
//! * Order: all samples of a series go to one shard, and a shard sends one batch at a time, in
//!   order, so every series arrives in the order it was appended.
//! * Memory: each shard buffers at most `capacity` samples; [`QueueManager::append`] waits when a
//!   shard is full (backpressure towards the WAL reader, never unbounded growth).
//! * Retries: transport errors, 5xx and (with `retry_on_http_429`) 429 are retried forever with
//!   exponential backoff from `min_backoff` to `max_backoff`, or after `Retry-After` (seconds) when
//!   the server sends it; any other status drops the batch (`samples_failed_total`).
//! * Progress: every sample gets a sequence number; [`QueueManager::sent_through`] tells up to
//!   which number everything was sent (or dropped for good), which the WAL follower maps back to a
//!   WAL position.
//! * Shards: a fixed number, `max(min_shards, min(max_shards, 4))`; no dynamic resharding.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use vitals_client::HttpClientConfig;
use vitals_model::{relabel, Labels, RelabelConfig};

use super::config::RemoteWriteConfig;
use super::metrics::QueueMetrics;
use crate::error::RemoteError;
use crate::prompb::{self, WriteRequest};

/// Shards used when `min_shards` asks for fewer (and `max_shards` allows it).
const DEFAULT_SHARDS: usize = 4;

/// Process-level settings of a queue that are not part of its `remote_write` entry.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// `User-Agent` header.
    pub user_agent: String,
    /// Labels added to every series that does not have them (`global.external_labels`), before
    /// `write_relabel_configs`.
    pub external_labels: Labels,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions { user_agent: format!("vitals/{}", env!("CARGO_PKG_VERSION")), external_labels: Labels::empty() }
    }
}

struct SeriesEntry {
    id: u64,
    labels: Vec<prompb::Label>,
    shard: usize,
}

enum SeriesState {
    Send(Arc<SeriesEntry>),
    Dropped,
}

struct Item {
    seq: u64,
    series: Arc<SeriesEntry>,
    t: i64,
    v: f64,
}

struct Shard {
    tx: mpsc::Sender<Item>,
    /// Per `append` call that gave this shard samples: the first and last sequence number of them.
    ranges: Mutex<std::collections::VecDeque<(u64, u64)>>,
    /// Sequence number of the last item this shard finished (sent or dropped for good).
    done: Arc<AtomicU64>,
}

/// One remote_write destination: its series table, shards and metrics.
pub struct QueueManager {
    name: String,
    url: String,
    relabel: Vec<RelabelConfig>,
    external_labels: Labels,
    series: RwLock<FxHashMap<u64, SeriesState>>,
    shards: Vec<Shard>,
    metrics: Arc<QueueMetrics>,
    next_seq: AtomicU64,
    enqueued_seq: AtomicU64,
    append_lock: tokio::sync::Mutex<()>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Everything a shard task needs to send.
struct Sender {
    client: reqwest::Client,
    http: HttpClientConfig,
    url: String,
    headers: Vec<(String, String)>,
    max_samples: usize,
    deadline: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    retry_429: bool,
    metrics: Arc<QueueMetrics>,
    name: String,
}

impl QueueManager {
    /// Validates `cfg`, builds the HTTP client and starts the shard tasks on the current tokio runtime.
    pub fn new(cfg: &RemoteWriteConfig, opts: QueueOptions) -> Result<Self, RemoteError> {
        cfg.validate()?;
        let http = cfg.http_client_config();
        let client =
            http.build(cfg.remote_timeout.get(), &opts.user_agent).map_err(|e| RemoteError::Client(e.to_string()))?;
        let q = &cfg.queue_config;
        let n = q.min_shards.max(q.max_shards.min(DEFAULT_SHARDS)).max(1);
        let metrics = Arc::new(QueueMetrics::default());
        metrics.shards.store(n as u64, Ordering::Relaxed);
        let (stop, stop_rx) = watch::channel(false);
        let sender = Arc::new(Sender {
            client,
            http,
            url: cfg.url.clone(),
            headers: cfg.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            max_samples: q.max_samples_per_send,
            deadline: q.batch_send_deadline.get(),
            min_backoff: q.min_backoff.get(),
            max_backoff: q.max_backoff.get(),
            retry_429: q.retry_on_http_429,
            metrics: metrics.clone(),
            name: cfg.queue_name(),
        });
        let mut shards = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel(q.capacity);
            let done = Arc::new(AtomicU64::new(0));
            tasks.push(tokio::spawn(run_shard(rx, sender.clone(), done.clone(), stop_rx.clone())));
            shards.push(Shard { tx, ranges: Mutex::new(Default::default()), done });
        }
        Ok(QueueManager {
            name: cfg.queue_name(),
            url: cfg.url.clone(),
            relabel: cfg.write_relabel_configs.clone(),
            external_labels: opts.external_labels,
            series: RwLock::new(FxHashMap::default()),
            shards,
            metrics,
            next_seq: AtomicU64::new(0),
            enqueued_seq: AtomicU64::new(0),
            append_lock: tokio::sync::Mutex::new(()),
            stop,
            tasks: Mutex::new(tasks),
        })
    }

    /// Defines (or redefines) series by reference; external labels and `write_relabel_configs` are
    /// applied here, once per series.
    pub fn store_series(&self, series: impl IntoIterator<Item = (u64, Labels)>) {
        let mut table = self.series.write();
        for (id, labels) in series {
            let labels = if self.external_labels.is_empty() {
                labels
            } else {
                let mut b = labels.builder();
                for l in self.external_labels.iter() {
                    if labels.get(&l.name).is_none() {
                        b.set(&l.name, &l.value);
                    }
                }
                b.build()
            };
            let state = match relabel::process(&labels, &self.relabel) {
                Some(l) if !l.is_empty() => SeriesState::Send(Arc::new(SeriesEntry {
                    id,
                    shard: (l.stable_hash() % self.shards.len() as u64) as usize,
                    labels: crate::receive::labels_to_proto(&l),
                })),
                _ => SeriesState::Dropped,
            };
            table.insert(id, state);
        }
    }

    /// Forgets series (for example those no longer in the WAL after a checkpoint).
    pub fn remove_series(&self, ids: impl IntoIterator<Item = u64>) {
        let mut table = self.series.write();
        for id in ids {
            table.remove(&id);
        }
    }

    /// Number of series defined.
    pub fn series_count(&self) -> usize {
        self.series.read().len()
    }

    /// Queues samples `(series ref, t ms, value)`; waits while a shard is full. Samples of unknown or
    /// relabel-dropped series are counted and dropped. Returns the sequence number of the last
    /// sample queued so far (see [`QueueManager::sent_through`]).
    pub async fn append(&self, samples: impl IntoIterator<Item = (u64, i64, f64)>) -> u64 {
        let _one_at_a_time = self.append_lock.lock().await;
        let mut items: Vec<Item> = Vec::new();
        {
            let table = self.series.read();
            for (id, t, v) in samples {
                match table.get(&id) {
                    Some(SeriesState::Send(s)) => items.push(Item { seq: 0, series: s.clone(), t, v }),
                    Some(SeriesState::Dropped) => {
                        self.metrics.samples_dropped_relabel.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        self.metrics.samples_dropped_unknown_series.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        // Number the samples and register, per shard, the range of numbers it receives before any
        // of them is queued, so `sent_through` never passes a sample that is still pending.
        let mut per_shard: FxHashMap<usize, (u64, u64)> = FxHashMap::default();
        for item in &mut items {
            item.seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
            per_shard.entry(item.series.shard).and_modify(|r| r.1 = item.seq).or_insert((item.seq, item.seq));
        }
        for (shard, range) in per_shard {
            self.shards[shard].ranges.lock().push_back(range);
        }
        for item in items {
            let seq = item.seq;
            QueueMetrics::raise(&self.metrics.highest_timestamp_ms, item.t);
            self.metrics.samples_pending.fetch_add(1, Ordering::Relaxed);
            if self.shards[item.series.shard].tx.send(item).await.is_err() {
                // The shard stopped (shutdown); the sample stays unsent and progress will not pass it.
                self.metrics.samples_pending.fetch_sub(1, Ordering::Relaxed);
                return self.enqueued_seq.load(Ordering::Acquire);
            }
            self.enqueued_seq.store(seq, Ordering::Release);
        }
        self.enqueued_seq.load(Ordering::Acquire)
    }

    /// The highest sequence number `s` such that every sample with a number `<= s` was sent
    /// successfully or dropped for good (non-retryable answer).
    pub fn sent_through(&self) -> u64 {
        let mut safe = self.enqueued_seq.load(Ordering::Acquire);
        for s in &self.shards {
            let done = s.done.load(Ordering::Acquire);
            let mut ranges = s.ranges.lock();
            while ranges.front().is_some_and(|r| r.1 <= done) {
                ranges.pop_front();
            }
            if let Some(&(first, _)) = ranges.front() {
                // Everything of this shard up to `done` is finished; its next pending sample is
                // after `done` and not before `first`.
                safe = safe.min(if done >= first { done } else { first - 1 });
            }
        }
        safe
    }

    /// Samples queued and not yet finished.
    pub fn pending(&self) -> u64 {
        self.metrics.samples_pending.load(Ordering::Relaxed)
    }

    /// The queue's metrics.
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }

    /// The name used in metrics and for the progress directory.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends this queue's metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        self.metrics.render(&self.name, &vitals_client::redact_url(&self.url), out);
    }

    /// Sends what is queued and stops the shards; after `flush_deadline` whatever is still
    /// unsent (for example behind an unreachable endpoint) is abandoned.
    pub async fn stop(&self, flush_deadline: Duration) {
        let _ = self.stop.send(true);
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock());
        let end = tokio::time::Instant::now() + flush_deadline;
        for mut t in tasks {
            if tokio::time::timeout_at(end, &mut t).await.is_err() {
                t.abort();
            }
        }
    }
}

impl Drop for QueueManager {
    fn drop(&mut self) {
        for t in self.tasks.lock().iter() {
            t.abort();
        }
    }
}

async fn run_shard(
    mut rx: mpsc::Receiver<Item>,
    s: Arc<Sender>,
    done: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    let mut batch: Vec<Item> = Vec::with_capacity(s.max_samples);
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let room = s.max_samples - batch.len();
        tokio::select! {
            n = rx.recv_many(&mut batch, room) => {
                if n == 0 {
                    s.send(&mut batch, &done).await;
                    return;
                }
                if batch.len() >= s.max_samples {
                    s.send(&mut batch, &done).await;
                    deadline = None;
                } else if deadline.is_none() {
                    deadline = Some(tokio::time::Instant::now() + s.deadline);
                }
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                s.send(&mut batch, &done).await;
                deadline = None;
            }
            _ = stop.changed() => {
                while let Ok(item) = rx.try_recv() {
                    batch.push(item);
                    if batch.len() >= s.max_samples {
                        s.send(&mut batch, &done).await;
                    }
                }
                s.send(&mut batch, &done).await;
                return;
            }
        }
    }
}

/// What to do after one attempt.
enum Outcome {
    Sent,
    Retry(Option<Duration>),
    Drop(String),
}

impl Sender {
    /// Sends `batch` (retrying as configured), then marks it done and clears it.
    async fn send(&self, batch: &mut Vec<Item>, done: &AtomicU64) {
        let Some(last_seq) = batch.last().map(|i| i.seq) else {
            return;
        };
        let n = batch.len() as u64;
        let max_t = batch.iter().map(|i| i.t).max().unwrap_or(0);
        let body = Bytes::from(prompb::encode_snappy(&build_request(batch)));
        let mut backoff = self.min_backoff;
        loop {
            let start = Instant::now();
            let outcome = self.attempt(body.clone()).await;
            self.metrics.observe_batch(start.elapsed());
            match outcome {
                Outcome::Sent => {
                    self.metrics.samples.fetch_add(n, Ordering::Relaxed);
                    QueueMetrics::raise(&self.metrics.highest_sent_timestamp_ms, max_t);
                    break;
                }
                Outcome::Drop(why) => {
                    self.metrics.requests_failed.fetch_add(1, Ordering::Relaxed);
                    self.metrics.samples_failed.fetch_add(n, Ordering::Relaxed);
                    tracing::warn!(remote = %self.name, samples = n, "remote_write batch dropped: {why}");
                    break;
                }
                Outcome::Retry(after) => {
                    self.metrics.requests_failed.fetch_add(1, Ordering::Relaxed);
                    self.metrics.samples_retried.fetch_add(n, Ordering::Relaxed);
                    tokio::time::sleep(after.unwrap_or(backoff)).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
        self.metrics.samples_pending.fetch_sub(n, Ordering::Relaxed);
        done.store(last_seq, Ordering::Release);
        batch.clear();
    }

    async fn attempt(&self, body: Bytes) -> Outcome {
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = match self.http.authorize(req) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(remote = %self.name, "remote_write credentials: {e}");
                return Outcome::Retry(None);
            }
        };
        let resp = match req.body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(remote = %self.name, "remote_write request failed: {e}");
                return Outcome::Retry(None);
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match status {
            200..=299 => Outcome::Sent,
            429 if self.retry_429 => Outcome::Retry(retry_after),
            500..=599 => Outcome::Retry(retry_after),
            _ => {
                let text = resp.text().await.unwrap_or_default();
                let text: String = text.chars().take(256).collect();
                Outcome::Drop(format!("HTTP {status}: {}", text.trim()))
            }
        }
    }
}

/// Groups a batch into one `TimeSeries` per series, samples in queue order.
fn build_request(batch: &[Item]) -> WriteRequest {
    let mut index: FxHashMap<u64, usize> = FxHashMap::default();
    let mut timeseries: Vec<prompb::TimeSeries> = Vec::new();
    for item in batch {
        let i = *index.entry(item.series.id).or_insert_with(|| {
            timeseries.push(prompb::TimeSeries { labels: item.series.labels.clone(), ..Default::default() });
            timeseries.len() - 1
        });
        timeseries[i].samples.push(prompb::Sample { value: item.v, timestamp: item.t });
    }
    WriteRequest { timeseries, metadata: Vec::new() }
}
