//! The engine's self-metrics, lock-free to update and rendered in Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1)
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed)
    }
    /// Adds `d` (may be negative).
    pub fn add(&self, d: i64) {
        self.0.fetch_add(d, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram of durations in seconds with fixed buckets.
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// Buckets for fsync durations (seconds).
pub const FSYNC_BUCKETS: &[f64] = &[0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
/// Buckets for compaction durations (seconds).
pub const COMPACTION_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];

impl Histogram {
    /// A histogram with the given upper bounds (ascending; +Inf is implied).
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: (0..bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cum = 0;
        for (b, c) in self.bounds.iter().zip(&self.buckets) {
            cum += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cum}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Every metric the engine exports, shared by its parts.
pub struct TsdbMetrics {
    /// Series in the head.
    pub head_series: Gauge,
    /// Series created in the head since start.
    pub head_series_created_total: Counter,
    /// Series removed from the head by garbage collection.
    pub head_series_removed_total: Counter,
    /// Chunks in the head (closed and open).
    pub head_chunks: Gauge,
    /// Head chunks created since start.
    pub head_chunks_created_total: Counter,
    /// Samples committed.
    pub samples_appended_total: Counter,
    /// Out-of-order samples accepted into the out-of-order window.
    pub out_of_order_samples_appended_total: Counter,
    /// Out-of-order samples rejected (outside the window, or the window is 0).
    pub out_of_order_samples_total: Counter,
    /// Samples older than what the head still accepts.
    pub out_of_bounds_samples_total: Counter,
    /// Samples rejected because another value exists at the same timestamp.
    pub duplicate_samples_total: Counter,
    /// Appends refused by the active-series limit.
    pub series_limit_rejections_total: Counter,
    /// Commits that failed to write the WAL.
    pub wal_write_failures_total: Counter,
    /// WAL corruptions repaired at start.
    pub wal_corruptions_total: Counter,
    /// Duration of WAL fsyncs.
    pub wal_fsync_duration: Histogram,
    /// Persisted blocks currently loaded.
    pub blocks_loaded: Gauge,
    /// Bytes of all persisted blocks.
    pub storage_blocks_bytes: Gauge,
    /// Compactions run (head persistence and block merges).
    pub compactions_total: Counter,
    /// Compactions that failed.
    pub compactions_failed_total: Counter,
    /// Duration of compactions.
    pub compaction_duration: Histogram,
    /// Blocks deleted by retention.
    pub retention_deletions_total: Counter,
    /// Head minimum time (ms).
    pub head_min_time: Gauge,
    /// Head maximum time (ms).
    pub head_max_time: Gauge,
}

impl Default for TsdbMetrics {
    fn default() -> Self {
        TsdbMetrics {
            head_series: Gauge::default(),
            head_series_created_total: Counter::default(),
            head_series_removed_total: Counter::default(),
            head_chunks: Gauge::default(),
            head_chunks_created_total: Counter::default(),
            samples_appended_total: Counter::default(),
            out_of_order_samples_appended_total: Counter::default(),
            out_of_order_samples_total: Counter::default(),
            out_of_bounds_samples_total: Counter::default(),
            duplicate_samples_total: Counter::default(),
            series_limit_rejections_total: Counter::default(),
            wal_write_failures_total: Counter::default(),
            wal_corruptions_total: Counter::default(),
            wal_fsync_duration: Histogram::new(FSYNC_BUCKETS),
            blocks_loaded: Gauge::default(),
            storage_blocks_bytes: Gauge::default(),
            compactions_total: Counter::default(),
            compactions_failed_total: Counter::default(),
            compaction_duration: Histogram::new(COMPACTION_BUCKETS),
            retention_deletions_total: Counter::default(),
            head_min_time: Gauge::default(),
            head_max_time: Gauge::default(),
        }
    }
}

impl TsdbMetrics {
    /// Appends all metrics in Prometheus text format 0.0.4 to `out`.
    pub fn render(&self, out: &mut String) {
        let gauges: [(&str, &str, &Gauge); 6] = [
            ("vitals_tsdb_head_series", "Series in the head block.", &self.head_series),
            ("vitals_tsdb_head_chunks", "Chunks in the head block.", &self.head_chunks),
            ("vitals_tsdb_blocks_loaded", "Persisted blocks loaded.", &self.blocks_loaded),
            ("vitals_tsdb_storage_blocks_bytes", "Bytes of all persisted blocks.", &self.storage_blocks_bytes),
            ("vitals_tsdb_head_min_time", "Lowest timestamp in the head (ms).", &self.head_min_time),
            ("vitals_tsdb_head_max_time", "Highest timestamp in the head (ms).", &self.head_max_time),
        ];
        for (name, help, g) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}", g.get());
        }
        let counters: [(&str, &str, &Counter); 14] = [
            ("vitals_tsdb_head_series_created_total", "Series created in the head.", &self.head_series_created_total),
            ("vitals_tsdb_head_series_removed_total", "Series removed from the head.", &self.head_series_removed_total),
            ("vitals_tsdb_head_chunks_created_total", "Head chunks created.", &self.head_chunks_created_total),
            ("vitals_tsdb_samples_appended_total", "Samples committed.", &self.samples_appended_total),
            (
                "vitals_tsdb_out_of_order_samples_appended_total",
                "Out-of-order samples accepted inside the window.",
                &self.out_of_order_samples_appended_total,
            ),
            (
                "vitals_tsdb_out_of_order_samples_total",
                "Out-of-order samples rejected.",
                &self.out_of_order_samples_total,
            ),
            (
                "vitals_tsdb_out_of_bounds_samples_total",
                "Samples too old for the head.",
                &self.out_of_bounds_samples_total,
            ),
            (
                "vitals_tsdb_duplicate_samples_total",
                "Samples rejected for a different value at an existing timestamp.",
                &self.duplicate_samples_total,
            ),
            (
                "vitals_tsdb_series_limit_rejections_total",
                "Appends refused by the active series limit.",
                &self.series_limit_rejections_total,
            ),
            ("vitals_tsdb_wal_write_failures_total", "Commits whose WAL write failed.", &self.wal_write_failures_total),
            ("vitals_tsdb_wal_corruptions_total", "WAL corruptions repaired at start.", &self.wal_corruptions_total),
            ("vitals_tsdb_compactions_total", "Compactions run.", &self.compactions_total),
            ("vitals_tsdb_compactions_failed_total", "Compactions that failed.", &self.compactions_failed_total),
            ("vitals_tsdb_retention_deletions_total", "Blocks deleted by retention.", &self.retention_deletions_total),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", c.get());
        }
        self.wal_fsync_duration.render(out, "vitals_tsdb_wal_fsync_duration_seconds", "Duration of WAL fsyncs.");
        self.compaction_duration.render(out, "vitals_tsdb_compaction_duration_seconds", "Duration of compactions.");
    }
}
