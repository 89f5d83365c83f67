//! The sender's self-metrics, rendered in Prometheus text format under `vitals_remote_storage_*`
//! (the names of Prometheus' `prometheus_remote_storage_*` metrics).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of `sent_batch_duration_seconds` (Prometheus' default buckets plus 25s…300s).
const BUCKETS: [f64; 15] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0];

/// Counters and gauges of one queue.
#[derive(Debug, Default)]
pub struct QueueMetrics {
    /// Samples sent successfully.
    pub samples: AtomicU64,
    /// Samples dropped after a non-recoverable error (4xx other than a retried 429).
    pub samples_failed: AtomicU64,
    /// Samples in requests that were retried (counted once per retry).
    pub samples_retried: AtomicU64,
    /// Samples dropped before sending because their series was dropped by relabeling.
    pub samples_dropped_relabel: AtomicU64,
    /// Samples dropped before sending because their series was never defined.
    pub samples_dropped_unknown_series: AtomicU64,
    /// Samples queued and not yet sent or dropped.
    pub samples_pending: AtomicU64,
    /// Highest sample timestamp (ms) handed to the queue.
    pub highest_timestamp_ms: AtomicU64,
    /// Highest sample timestamp (ms) sent successfully.
    pub highest_sent_timestamp_ms: AtomicU64,
    /// Number of shards.
    pub shards: AtomicU64,
    /// Requests answered with an error status or failed in transport, by outcome.
    pub requests_failed: AtomicU64,
    batch_buckets: [AtomicU64; BUCKETS.len()],
    batch_count: AtomicU64,
    batch_sum_micros: AtomicU64,
}

impl QueueMetrics {
    /// Records the duration of one request (including failed ones).
    pub fn observe_batch(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.batch_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.batch_count.fetch_add(1, Relaxed);
        self.batch_sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    /// Raises a "highest timestamp" gauge to `t` if it is higher.
    pub fn raise(gauge: &AtomicU64, t: i64) {
        if t > 0 {
            gauge.fetch_max(t as u64, Relaxed);
        }
    }

    /// Appends the metrics in Prometheus text format, labelled with `remote_name` and `url`.
    pub fn render(&self, remote_name: &str, url: &str, out: &mut String) {
        let lbl = format!("remote_name=\"{}\",url=\"{}\"", escape(remote_name), escape(url));
        let p = "vitals_remote_storage";
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} counter\n{p}_{name}{{{lbl}}} {v}");
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = writeln!(out, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} gauge\n{p}_{name}{{{lbl}}} {v}");
        };
        counter(out, "samples_total", "Samples sent successfully.", self.samples.load(Relaxed));
        counter(
            out,
            "samples_failed_total",
            "Samples dropped after a non-recoverable send error.",
            self.samples_failed.load(Relaxed),
        );
        counter(
            out,
            "samples_retried_total",
            "Samples in requests that were retried.",
            self.samples_retried.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP {p}_samples_dropped_total Samples dropped before sending.\n# TYPE {p}_samples_dropped_total counter\n\
             {p}_samples_dropped_total{{{lbl},reason=\"relabel\"}} {}\n\
             {p}_samples_dropped_total{{{lbl},reason=\"unknown_series\"}} {}",
            self.samples_dropped_relabel.load(Relaxed),
            self.samples_dropped_unknown_series.load(Relaxed)
        );
        counter(
            out,
            "requests_failed_total",
            "Requests that failed (error status or transport).",
            self.requests_failed.load(Relaxed),
        );
        gauge(out, "samples_pending", "Samples queued and not yet sent.", self.samples_pending.load(Relaxed) as f64);
        gauge(
            out,
            "highest_timestamp_in_seconds",
            "Highest sample timestamp handed to the queue.",
            self.highest_timestamp_ms.load(Relaxed) as f64 / 1000.0,
        );
        gauge(
            out,
            "queue_highest_sent_timestamp_seconds",
            "Highest sample timestamp sent successfully.",
            self.highest_sent_timestamp_ms.load(Relaxed) as f64 / 1000.0,
        );
        gauge(out, "shards", "Number of shards sending in parallel.", self.shards.load(Relaxed) as f64);
        let name = format!("{p}_sent_batch_duration_seconds");
        let _ = writeln!(out, "# HELP {name} Duration of send requests.\n# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{lbl},le=\"{b}\"}} {}", self.batch_buckets[i].load(Relaxed));
        }
        let count = self.batch_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{lbl},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{lbl}}} {}", self.batch_sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{lbl}}} {count}");
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
