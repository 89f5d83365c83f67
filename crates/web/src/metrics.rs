//! The server's own metrics: HTTP request counts and durations per handler, and the standard
//! `process_*` metrics read from `/proc/self`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use parking_lot::Mutex;

/// Upper bounds (seconds) of the request duration histogram.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0];

#[derive(Default)]
struct Hist {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counters and duration histograms, keyed by route pattern and status code.
#[derive(Default)]
pub struct HttpMetrics {
    durations: Mutex<BTreeMap<String, Hist>>,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

impl HttpMetrics {
    /// Records one request to `handler` that answered `code` after `took`.
    pub fn observe(&self, handler: &str, code: u16, took: Duration) {
        let secs = took.as_secs_f64();
        {
            let mut d = self.durations.lock();
            let h = match d.get_mut(handler) {
                Some(h) => h,
                None => d.entry(handler.to_string()).or_default(),
            };
            if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
                h.buckets[i] += 1;
            }
            h.count += 1;
            h.sum += secs;
        }
        *self.requests.lock().entry((handler.to_string(), code)).or_default() += 1;
    }

    /// Appends the metrics in text format 0.0.4.
    pub fn render(&self, out: &mut String) {
        let name = "vitals_http_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Duration of HTTP requests by handler.\n# TYPE {name} histogram");
        for (handler, h) in self.durations.lock().iter() {
            let handler = escape(handler);
            let mut cum = 0;
            for (b, c) in BUCKETS.iter().zip(h.buckets) {
                cum += c;
                let _ = writeln!(out, "{name}_bucket{{handler=\"{handler}\",le=\"{b}\"}} {cum}");
            }
            let _ = writeln!(out, "{name}_bucket{{handler=\"{handler}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{{handler=\"{handler}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{handler=\"{handler}\"}} {}", h.count);
        }
        let name = "vitals_http_requests_total";
        let _ = writeln!(out, "# HELP {name} HTTP requests by handler and status code.\n# TYPE {name} counter");
        for ((handler, code), n) in self.requests.lock().iter() {
            let _ = writeln!(out, "{name}{{code=\"{code}\",handler=\"{}\"}} {n}", escape(handler));
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Appends `process_*` metrics as Prometheus' client libraries name them (Linux only; elsewhere none).
pub fn render_process(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    // Fields after the parenthesised command name, which may itself hold spaces.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return };
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Indexes are field numbers from proc(5) minus 3 (pid and comm are cut off).
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let cpu = (num(11) + num(12)) / ticks;
    let start_ticks = num(19);
    let vsize = num(20);
    let rss = num(21) * rustix::param::page_size() as f64;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok())))
        .unwrap_or(0.0);
    let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_ascii_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(0.0);
    let metrics: [(&str, &str, &str, f64); 6] = [
        ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpu),
        ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss),
        ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            boot + start_ticks / ticks,
        ),
        ("process_open_fds", "gauge", "Number of open file descriptors.", fds as f64),
        ("process_max_fds", "gauge", "Maximum number of open file descriptors.", max_fds),
    ];
    for (name, kind, help, v) in metrics {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = HttpMetrics::default();
        m.observe("/a", 200, Duration::from_millis(3));
        m.observe("/a", 500, Duration::from_millis(300));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("vitals_http_request_duration_seconds_bucket{handler=\"/a\",le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("vitals_http_request_duration_seconds_bucket{handler=\"/a\",le=\"0.5\"} 2"));
        assert!(out.contains("vitals_http_request_duration_seconds_count{handler=\"/a\"} 2"));
        assert!(out.contains("vitals_http_requests_total{code=\"500\",handler=\"/a\"} 1"));
    }

    #[test]
    fn process_metrics_are_plausible() {
        let mut out = String::new();
        render_process(&mut out);
        let rss: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(rss > 1e5, "{out}");
        let start: f64 =
            out.lines().find_map(|l| l.strip_prefix("process_start_time_seconds ")).unwrap().parse().unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!(start <= now + 1.0 && start > now - 3600.0, "start {start} now {now}");
    }
}
