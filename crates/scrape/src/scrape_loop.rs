//! One target's scrape loop: fetch on a fixed phase of the interval, parse, relabel, append, and
//! write the `up`/`scrape_*` series and staleness markers, all in one commit per scrape.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::watch;
use vitals_client::HttpClientConfig;
use vitals_model::exposition::{content_type_format, parse_series, Entry, Format, Parser};
use vitals_model::relabel::{process, RelabelConfig};
use vitals_model::{Appendable, Appender, Labels, SeriesRef, StorageError, STALE_NAN};

use crate::target::Target;

/// The Accept header Prometheus sends: OpenMetrics preferred, text 0.0.4 accepted.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// What every loop of one job shares.
pub struct JobSettings {
    /// The job name (scrape pool).
    pub name: String,
    /// Scrape interval.
    pub interval: Duration,
    /// Scrape timeout.
    pub timeout: Duration,
    /// Page labels win over target labels.
    pub honor_labels: bool,
    /// Page timestamps are kept.
    pub honor_timestamps: bool,
    /// Maximum samples per scrape after relabeling (0 = none).
    pub sample_limit: usize,
    /// Maximum labels per series (0 = none).
    pub label_limit: usize,
    /// Maximum label name length (0 = none).
    pub label_name_length_limit: usize,
    /// Maximum label value length (0 = none).
    pub label_value_length_limit: usize,
    /// Maximum uncompressed body size (0 = none).
    pub body_size_limit: u64,
    /// Rules applied to each scraped series.
    pub metric_relabel: Vec<RelabelConfig>,
    /// Credentials.
    pub http: HttpClientConfig,
    /// The job's HTTP client.
    pub client: reqwest::Client,
}

/// Health of a target as the targets API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `up`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// Metadata of one metric family, from `# TYPE`, `# HELP` and `# UNIT`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    /// counter, gauge, histogram, summary, unknown, …
    pub kind: String,
    /// The help text.
    pub help: String,
    /// The unit (OpenMetrics).
    pub unit: String,
}

/// One field of [`Metadata`].
#[derive(Clone, Copy)]
enum Field {
    Help,
    Kind,
    Unit,
}

impl Field {
    fn get(self, m: &Metadata) -> &str {
        match self {
            Field::Help => &m.help,
            Field::Kind => &m.kind,
            Field::Unit => &m.unit,
        }
    }

    fn get_mut(self, m: &mut Metadata) -> &mut String {
        match self {
            Field::Help => &mut m.help,
            Field::Kind => &mut m.kind,
            Field::Unit => &mut m.unit,
        }
    }
}

/// What the last scrape of a target did.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    /// Health.
    pub health: Health,
    /// Error of the last scrape, empty if it succeeded.
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long it took.
    pub last_duration: Duration,
    /// Samples the last scrape stored.
    pub last_samples: usize,
    /// Metric metadata from the last page that carried any.
    pub metadata: Arc<FxHashMap<String, Metadata>>,
}

impl Default for TargetStatus {
    fn default() -> Self {
        TargetStatus {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_duration: Duration::ZERO,
            last_samples: 0,
            metadata: Arc::default(),
        }
    }
}

/// Why a loop stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep running.
    Run,
    /// The target went away: its series are marked stale.
    Removed,
    /// A reload restarts the loop with new settings: nothing is marked.
    Reload,
    /// The server shuts down: nothing is marked.
    Shutdown,
}

struct CacheEntry {
    /// Labels after merging and relabeling; `None` when metric relabeling dropped the series.
    labels: Option<Labels>,
    sref: Option<SeriesRef>,
    /// Iteration in which the series was last seen.
    seen: u64,
    /// The page gave a timestamp: no staleness marker when the series disappears.
    explicit_ts: bool,
}

/// The parsed-series cache and staleness state of one target (moved into the blocking pool and back).
pub struct Cache {
    /// Kept between scrapes so its buffers are reused.
    app: Option<Box<dyn Appender>>,
    entries: FxHashMap<Box<str>, CacheEntry>,
    iteration: u64,
    metadata: Arc<FxHashMap<String, Metadata>>,
    report_refs: [Option<SeriesRef>; 5],
}

/// Counts of one scrape.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScrapeStats {
    /// Samples on the page.
    pub scraped: usize,
    /// Samples left after metric relabeling.
    pub post_relabel: usize,
    /// Series new to this target's cache.
    pub added: usize,
    /// Samples the storage refused (out of order, duplicate, limit) or duplicates on the page.
    pub rejected: usize,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}

impl Cache {
    /// An empty cache (a new target).
    pub fn new() -> Self {
        Cache {
            app: None,
            entries: FxHashMap::default(),
            iteration: 0,
            metadata: Arc::default(),
            report_refs: [None; 5],
        }
    }

    /// Appends one page and commits. On a parse or limit error nothing of the page is stored,
    /// the previous series are marked stale and the error is returned; `up` is written either way.
    pub fn append_page(
        &mut self,
        storage: &dyn Appendable,
        job: &JobSettings,
        target: &Labels,
        page: Result<(&str, Format), String>,
        t: i64,
        took: Duration,
    ) -> Result<ScrapeStats, String> {
        self.iteration += 1;
        let mut app = self.app.take().unwrap_or_else(|| {
            let mut app = storage.appender();
            // Nobody waits on a scrape: its commit need not wait for the fsync (the server syncs
            // every second), as Prometheus does not fsync scraped data either.
            app.set_durable(false);
            app
        });
        // Nothing is left over from a scrape that failed half way, but make sure of it.
        let _ = app.rollback();
        let result = self.append_with(app.as_mut(), job, target, page, t, took);
        self.app = Some(app);
        result
    }

    fn append_with(
        &mut self,
        app: &mut dyn Appender,
        job: &JobSettings,
        target: &Labels,
        page: Result<(&str, Format), String>,
        t: i64,
        took: Duration,
    ) -> Result<ScrapeStats, String> {
        let result = match page {
            Ok((body, format)) => self.append_samples(&mut *app, job, target, body, format, t),
            Err(e) => Err(e),
        };
        let stats = match &result {
            Ok(stats) => {
                self.mark_disappeared(&mut *app, t).map_err(|e| e.to_string())?;
                *stats
            }
            Err(_) => {
                app.rollback().map_err(|e| e.to_string())?;
                // The page is gone as a whole: everything it had before is stale now.
                for e in self.entries.values_mut() {
                    if e.seen + 1 == self.iteration && !e.explicit_ts {
                        if let (Some(l), Some(r)) = (&e.labels, e.sref) {
                            append_ref_or_labels(&mut *app, r, l, t, STALE_NAN).map_err(|e| e.to_string())?;
                        }
                    }
                }
                self.entries.clear();
                ScrapeStats::default()
            }
        };
        let up = if result.is_ok() { 1.0 } else { 0.0 };
        self.append_report(&mut *app, target, t, up, took, stats).map_err(|e| e.to_string())?;
        app.commit().map_err(|e| format!("storing the scrape: {e}"))?;
        result
    }

    /// Marks every series of this target stale (the target went away).
    pub(crate) fn append_gone(
        &mut self,
        storage: &dyn Appendable,
        target: &Labels,
        t: i64,
    ) -> Result<(), StorageError> {
        let mut app = storage.appender();
        for e in self.entries.values() {
            if e.seen == self.iteration && !e.explicit_ts {
                if let (Some(l), Some(r)) = (&e.labels, e.sref) {
                    append_ref_or_labels(app.as_mut(), r, l, t, STALE_NAN)?;
                }
            }
        }
        for (name, r) in REPORT_NAMES.iter().zip(self.report_refs) {
            if r.is_some() {
                app.append(&report_labels(target, name), t, STALE_NAN)?;
            }
        }
        self.entries.clear();
        app.commit()
    }

    fn append_samples(
        &mut self,
        app: &mut dyn Appender,
        job: &JobSettings,
        target: &Labels,
        body: &str,
        format: Format,
        t: i64,
    ) -> Result<ScrapeStats, String> {
        let mut stats = ScrapeStats::default();
        // A copy of the metadata, made only when the page changes something.
        let mut metadata: Option<FxHashMap<String, Metadata>> = None;
        for entry in Parser::new(body, format) {
            let entry = entry.map_err(|e| format!("parsing the page: {e}"))?;
            let (series, value, ts) = match entry {
                Entry::Sample { series, value, timestamp } => (series, value, timestamp),
                Entry::Help { name, text } => {
                    self.note_metadata(&mut metadata, name, text, Field::Help);
                    continue;
                }
                Entry::Type { name, kind } => {
                    self.note_metadata(&mut metadata, name, kind, Field::Kind);
                    continue;
                }
                Entry::Unit { name, unit } => {
                    self.note_metadata(&mut metadata, name, unit, Field::Unit);
                    continue;
                }
            };
            stats.scraped += 1;
            let iteration = self.iteration;
            let entry = match self.entries.get_mut(series) {
                Some(e) => e,
                None => {
                    let labels = series_labels(job, target, series)?;
                    if labels.is_some() {
                        stats.added += 1;
                    }
                    self.entries.entry(series.into()).or_insert(CacheEntry {
                        labels,
                        sref: None,
                        seen: 0,
                        explicit_ts: false,
                    })
                }
            };
            let Some(labels) = &entry.labels else { continue };
            if entry.seen == iteration {
                // The same series twice in one page: Prometheus keeps the first.
                stats.rejected += 1;
                continue;
            }
            entry.seen = iteration;
            stats.post_relabel += 1;
            if job.sample_limit > 0 && stats.post_relabel > job.sample_limit {
                return Err(format!("sample limit exceeded: more than {} samples", job.sample_limit));
            }
            let ts = match ts {
                Some(ts) if job.honor_timestamps => {
                    entry.explicit_ts = true;
                    ts
                }
                _ => {
                    entry.explicit_ts = false;
                    t
                }
            };
            let res = match entry.sref {
                Some(r) => append_ref_or_labels(app, r, labels, ts, value),
                None => app.append(labels, ts, value),
            };
            match res {
                Ok(r) => entry.sref = Some(r),
                Err(
                    StorageError::OutOfOrder { .. }
                    | StorageError::OutOfBounds { .. }
                    | StorageError::DuplicateSample { .. }
                    | StorageError::SeriesLimit { .. },
                ) => stats.rejected += 1,
                Err(e) => return Err(format!("storing: {e}")),
            }
        }
        if format == Format::OpenMetrics && stats.scraped == 0 && body.is_empty() {
            return Err("empty OpenMetrics page (no # EOF)".into());
        }
        if let Some(m) = metadata {
            self.metadata = Arc::new(m);
        }
        Ok(stats)
    }

    /// Records one metadata field; copies the map the first time a page changes anything.
    fn note_metadata(&self, copy: &mut Option<FxHashMap<String, Metadata>>, name: &str, value: &str, field: Field) {
        let map = copy.as_ref().unwrap_or(&self.metadata);
        if map.get(name).is_some_and(|m| field.get(m) == value) {
            return;
        }
        let m = copy.get_or_insert_with(|| (*self.metadata).clone());
        *field.get_mut(m.entry(name.to_string()).or_default()) = value.to_string();
    }

    /// Staleness markers for series seen in the previous scrape but not in this one.
    fn mark_disappeared(&mut self, app: &mut dyn Appender, t: i64) -> Result<(), StorageError> {
        let (now, prev) = (self.iteration, self.iteration - 1);
        let mut err = None;
        self.entries.retain(|_, e| {
            if e.seen == now {
                return true;
            }
            if e.seen == prev && !e.explicit_ts && err.is_none() {
                if let (Some(l), Some(r)) = (&e.labels, e.sref) {
                    if let Err(x) = append_ref_or_labels(app, r, l, t, STALE_NAN) {
                        err = Some(x);
                    }
                }
            }
            // Entries for series dropped by relabeling are kept a while so they stay cheap.
            e.labels.is_none() && e.seen + 10 > now
        });
        err.map_or(Ok(()), Err)
    }

    fn append_report(
        &mut self,
        app: &mut dyn Appender,
        target: &Labels,
        t: i64,
        up: f64,
        took: Duration,
        s: ScrapeStats,
    ) -> Result<(), StorageError> {
        let values = [up, took.as_secs_f64(), s.scraped as f64, s.post_relabel as f64, s.added as f64];
        for (i, (name, v)) in REPORT_NAMES.iter().zip(values).enumerate() {
            // The label set is built only when the storage does not know the reference (first scrape).
            let known = match self.report_refs[i] {
                Some(r) => match app.append_ref(r, t, v) {
                    Ok(()) => Some(r),
                    Err(StorageError::UnknownRef(_)) => None,
                    Err(e) => return Err(e),
                },
                None => None,
            };
            let r = match known {
                Some(r) => r,
                None => app.append(&report_labels(target, name), t, v)?,
            };
            self.report_refs[i] = Some(r);
        }
        Ok(())
    }

    pub(crate) fn metadata(&self) -> Arc<FxHashMap<String, Metadata>> {
        self.metadata.clone()
    }
}

const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

fn report_labels(target: &Labels, name: &str) -> Labels {
    let mut b = target.builder();
    b.set(vitals_model::METRIC_NAME, name);
    b.build()
}

/// Appends by reference, falling back to labels when the storage forgot the reference.
fn append_ref_or_labels(
    app: &mut dyn Appender,
    r: SeriesRef,
    labels: &Labels,
    t: i64,
    v: f64,
) -> Result<SeriesRef, StorageError> {
    match app.append_ref(r, t, v) {
        Ok(()) => Ok(r),
        Err(StorageError::UnknownRef(_)) => app.append(labels, t, v),
        Err(e) => Err(e),
    }
}

/// The stored labels of a page series: target labels merged in, metric relabeling applied,
/// limits checked. `Ok(None)` when relabeling drops it.
fn series_labels(job: &JobSettings, target: &Labels, series: &str) -> Result<Option<Labels>, String> {
    let page = parse_series(series).map_err(|e| format!("parsing series {series:?}: {e}"))?;
    let mut b = page.builder();
    for l in target.iter() {
        let existing = page.get(&l.name);
        if job.honor_labels {
            if existing.is_none() {
                b.set(&l.name, &l.value);
            }
            continue;
        }
        if let Some(v) = existing {
            // The target's label wins; the page's value moves to exported_<name> (repeatedly prefixed).
            let mut name = format!("exported_{}", l.name.as_str());
            while page.get(&name).is_some() {
                name = format!("exported_{name}");
            }
            b.set(&name, v);
        }
        b.set(&l.name, &l.value);
    }
    let merged = b.build();
    let Some(labels) =
        (if job.metric_relabel.is_empty() { Some(merged) } else { process(&merged, &job.metric_relabel) })
    else {
        return Ok(None);
    };
    if job.label_limit > 0 && labels.len() > job.label_limit {
        return Err(format!("label_limit exceeded: {labels} has {} labels (limit {})", labels.len(), job.label_limit));
    }
    for l in labels.iter() {
        if job.label_name_length_limit > 0 && l.name.len() > job.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded: {:?} (limit {})",
                l.name.as_str(),
                job.label_name_length_limit
            ));
        }
        if job.label_value_length_limit > 0 && l.value.len() > job.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded: {}={:?}… (limit {})",
                l.name,
                l.value.chars().take(32).collect::<String>(),
                job.label_value_length_limit
            ));
        }
    }
    Ok(Some(labels))
}

/// Fetches one page into `body` (cleared first; its capacity is reused from scrape to scrape) and
/// returns its format, or an error text.
pub(crate) async fn fetch(job: &JobSettings, url: &str, body: &mut Vec<u8>) -> Result<Format, String> {
    body.clear();
    let req = job
        .client
        .get(url)
        .header(reqwest::header::ACCEPT, ACCEPT)
        .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", job.timeout.as_secs_f64()))
        .timeout(job.timeout);
    let req = job.http.authorize(req).map_err(|e| e.to_string())?;
    let mut resp = req.send().await.map_err(|e| describe(&e))?;
    if !resp.status().is_success() {
        return Err(format!("server returned HTTP status {}", resp.status()));
    }
    let format = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(content_type_format)
        .unwrap_or_default();
    let limit = job.body_size_limit;
    body.reserve(resp.content_length().unwrap_or(0).min(64 << 20) as usize);
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        body.extend_from_slice(&chunk);
        if limit > 0 && body.len() as u64 > limit {
            return Err(format!("body size limit exceeded: more than {limit} bytes"));
        }
    }
    Ok(format)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "context deadline exceeded (scrape timeout)".into();
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Runs the loop of one target until `stop` changes.
pub(crate) async fn run(
    job: Arc<JobSettings>,
    target: Target,
    storage: Arc<dyn Appendable>,
    status: Arc<Mutex<TargetStatus>>,
    mut stop: watch::Receiver<Stop>,
) {
    let interval = job.interval;
    // Spread targets over the interval by a stable hash of their URL and labels.
    let phase = (target.labels.stable_hash() ^ fxhash(&target.url)) % (interval.as_millis().max(1) as u64);
    let first = tokio::time::Instant::now() + Duration::from_millis(phase);
    let mut ticker = tokio::time::interval_at(first, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut cache = Some(Cache::new());
    let mut body: Vec<u8> = Vec::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let started = SystemTime::now();
        let t = unix_ms(started);
        let clock = Instant::now();
        let mut buf = std::mem::take(&mut body);
        let format = fetch(&job, &target.url, &mut buf).await;
        let took = clock.elapsed();
        let (j, s, labels) = (job.clone(), storage.clone(), target.labels.clone());
        let mut c = cache.take().unwrap_or_default();
        // Parsing and appending run on this worker thread (its caches hold the page just read);
        // `block_in_place` lets the runtime move other tasks away meanwhile.
        let joined: Result<_, std::convert::Infallible> = tokio::task::block_in_place(move || {
            let page = match format {
                Ok(f) => std::str::from_utf8(&buf)
                    .map(|text| (text, f))
                    .map_err(|e| format!("the page is not valid UTF-8 (at byte {})", e.valid_up_to())),
                Err(e) => Err(e),
            };
            let res = c.append_page(s.as_ref(), &j, &labels, page, t, took);
            Ok((c, res, buf))
        });
        let (c, res) = match joined {
            Ok((c, res, buf)) => {
                // Keep a small page's buffer for the next scrape; a large one is freed so idle
                // targets do not pin their page's memory (it is what RSS per series is made of).
                if buf.capacity() <= 64 << 10 {
                    body = buf;
                }
                (c, res)
            }
            Err(never) => match never {},
        };
        let mut st = status.lock();
        st.last_scrape = Some(started);
        st.last_duration = took;
        match res {
            Ok(stats) => {
                st.health = Health::Up;
                st.last_error.clear();
                st.last_samples = stats.post_relabel;
            }
            Err(e) => {
                st.health = Health::Down;
                st.last_error = e;
                st.last_samples = 0;
            }
        }
        st.metadata = c.metadata();
        drop(st);
        cache = Some(c);
    }
    if *stop.borrow() == Stop::Removed {
        if let Some(mut c) = cache {
            let t = unix_ms(SystemTime::now());
            let labels = target.labels.clone();
            let res = tokio::task::spawn_blocking(move || c.append_gone(storage.as_ref(), &labels, t)).await;
            if let Ok(Err(e)) = res {
                tracing::warn!(target = %target.url, error = %e, "writing staleness markers failed");
            }
        }
    }
}

fn fxhash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
