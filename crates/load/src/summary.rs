//! The result of a run: counts, latency quantiles, threshold outcomes; as text and as JSON
//! (schema in `docs/format/load-summary.md`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::config::{LoadConfig, Model};
use crate::timeline::Second;

/// The JSON schema identifier written in `Summary::to_json`.
pub const SCHEMA: &str = "vitals.load.summary/v1";

/// Failed requests by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// The TCP connection could not be established.
    pub connect: u64,
    /// No complete response within the timeout.
    pub timeout: u64,
    /// A complete response with status >= 400.
    pub status: u64,
    /// A complete response (status < 400) that failed a scenario request's checks.
    pub check: u64,
    /// Anything else (connection reset, malformed response, ...).
    pub other: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.status + self.check + self.other
    }
}

/// Latency statistics over all complete responses, in milliseconds (microsecond resolution).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Latency {
    /// Number of recorded latencies (complete responses, any status).
    pub count: u64,
    /// Smallest latency.
    pub min: f64,
    /// Mean latency.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest latency.
    pub max: f64,
    quantiles: Vec<(f64, f64)>,
}

impl Latency {
    fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1e3;
        let q = |q: f64| ms(h.value_at_quantile(q));
        let quantiles = [0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999].iter().map(|&p| (p, q(p))).collect();
        Latency {
            count: h.len(),
            min: ms(h.min()),
            mean: h.mean() / 1e3,
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: ms(h.max()),
            quantiles,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "count": self.count, "min": self.min, "mean": self.mean, "p50": self.p50, "p90": self.p90,
            "p95": self.p95, "p99": self.p99, "p99.9": self.p999, "max": self.max,
        })
    }

    /// The latency at quantile `q` (0..=1); exact for the quantiles kept, else the next kept one above.
    pub fn quantile(&self, q: f64) -> f64 {
        self.quantiles.iter().find(|(p, _)| *p >= q - 1e-12).map_or(self.max, |(_, v)| *v)
    }
}

/// One threshold's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdResult {
    /// The expression as written.
    pub expr: String,
    /// Whether it held.
    pub ok: bool,
    /// The measured value (ms for latencies), or `None` when there was no data.
    pub actual: Option<f64>,
    /// How far past the bound the value is, in its unit (positive: broken by that much).
    pub excess: Option<f64>,
    /// The metric's unit (`ms`, `/s` or empty), for reports.
    pub unit: &'static str,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The workload model that ran.
    pub model: Model,
    /// Requests that finished (with a response or an error); abandoned in-flight ones excluded.
    pub requests: u64,
    /// Failed requests by class.
    pub errors: ErrorCounts,
    /// Responses by status code.
    pub status_codes: BTreeMap<u16, u64>,
    /// Wall time from start to stop (deadline or cancel).
    pub duration: Duration,
    /// Finished requests per second.
    pub rps: f64,
    /// Latency statistics in milliseconds.
    pub latency: Latency,
    /// Open model: iterations not sent because the backlog was full.
    pub dropped_iterations: u64,
    /// `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
    /// Iterations that ran to their end: one request each in a weighted mix; all steps of a sequential
    /// flow, or those up to the step that failed.
    pub iterations: u64,
    /// Bytes of responses read (heads and bodies).
    pub bytes_received: u64,
    /// Whether the run was stopped by the cancel channel before its configured duration.
    pub cancelled: bool,
    /// Outcome of each configured threshold, in order.
    pub thresholds: Vec<ThresholdResult>,
    /// Scenario runs: tallies and latency per request name (empty for a single-URL run).
    pub requests_by_name: BTreeMap<String, RequestSummary>,
    /// What the run was aimed at (URL or scenario file).
    pub target: String,
    /// The iteration bound, when the run had one.
    pub iterations_limit: Option<u64>,
    /// The ramping stages, when the load ramped (the model then holds the start value).
    pub stages: Vec<crate::profile::Stage>,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_at_unix_ms: i64,
    /// One entry per second of the run.
    pub timeline: Vec<Second>,
    /// The overall latency distribution: (upper bound in ms, responses in the bucket), non-empty
    /// log-spaced buckets only.
    pub histogram: Vec<(f64, u64)>,
    /// Time to connect and to finish the TLS handshake (new connections only), and time to first
    /// byte, in milliseconds.
    pub phases: Option<PhaseLatency>,
}

/// How a run went, beyond the counts: handed from the engine to the summary.
pub(crate) struct RunInfo {
    pub duration: Duration,
    pub cancelled: bool,
    pub started_at: std::time::SystemTime,
    pub timeline: Vec<Second>,
    pub phases: Phases,
}

/// Phase histograms (microseconds).
pub(crate) struct Phases {
    pub connect: Histogram<u64>,
    pub tls: Histogram<u64>,
    pub ttfb: Histogram<u64>,
}

/// Latency of the phases of a request, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseLatency {
    /// TCP connect of new connections.
    pub connect: Latency,
    /// TLS handshakes of new https connections (`None` without https).
    pub tls: Option<Latency>,
    /// From writing a request to reading its status line.
    pub ttfb: Latency,
}

/// One scenario request's share of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSummary {
    /// Finished requests with this name.
    pub requests: u64,
    /// Of those, failed ones (any error class).
    pub errors: u64,
    /// Latency statistics of its complete responses, in milliseconds.
    pub latency: Latency,
}

/// Tallies handed from the engine to the summary.
pub(crate) struct Counts {
    pub requests: u64,
    pub errors: ErrorCounts,
    pub bytes_received: u64,
    pub status_codes: BTreeMap<u16, u64>,
    pub dropped_iterations: u64,
    pub iterations: u64,
}

impl Summary {
    pub(crate) fn build(
        cfg: &LoadConfig,
        run: RunInfo,
        hist: &Histogram<u64>,
        c: Counts,
        by_name: Vec<(String, crate::engine::RequestStats)>,
    ) -> Summary {
        let RunInfo { duration, cancelled, started_at, timeline, phases } = run;
        let secs = duration.as_secs_f64();
        let started_at_unix_ms = started_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let phases = (!phases.ttfb.is_empty()).then(|| PhaseLatency {
            connect: Latency::from_histogram(&phases.connect),
            tls: (!phases.tls.is_empty()).then(|| Latency::from_histogram(&phases.tls)),
            ttfb: Latency::from_histogram(&phases.ttfb),
        });
        let mut s = Summary {
            model: cfg.model,
            requests: c.requests,
            errors: c.errors,
            status_codes: c.status_codes,
            duration,
            rps: if secs > 0.0 { c.requests as f64 / secs } else { 0.0 },
            latency: Latency::from_histogram(hist),
            dropped_iterations: c.dropped_iterations,
            iterations: c.iterations,
            protocol: if cfg.http2 { "HTTP/2" } else { "HTTP/1.1" },
            bytes_received: c.bytes_received,
            cancelled,
            thresholds: Vec::new(),
            requests_by_name: by_name
                .into_iter()
                .map(|(name, r)| {
                    let latency = Latency::from_histogram(&r.hist);
                    (name, RequestSummary { requests: r.requests, errors: r.errors, latency })
                })
                .collect(),
            target: cfg.target_name.clone(),
            iterations_limit: cfg.iterations,
            stages: cfg.stages.clone(),
            started_at_unix_ms,
            timeline,
            histogram: log_buckets(hist),
            phases,
        };
        s.thresholds = cfg
            .thresholds
            .iter()
            .map(|t| {
                let actual = t.actual(&s);
                let excess = actual.map(|a| t.excess(a));
                ThresholdResult { expr: t.expr.clone(), ok: t.holds(actual), actual, excess, unit: t.unit() }
            })
            .collect();
        s
    }

    /// Errors / requests, 0 when there were no requests.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors.total() as f64 / self.requests as f64
        }
    }

    /// Whether every threshold held (true when there are none).
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.ok)
    }

    /// The summary as JSON, following `docs/format/load-summary.md`.
    pub fn to_json(&self) -> Value {
        let mut model = match self.model {
            Model::Closed { vus } => json!({"type": "closed", "vus": vus}),
            Model::Open { rate_per_sec } => json!({"type": "open", "rate_per_sec": rate_per_sec}),
        };
        if !self.stages.is_empty() {
            model["stages"] = self
                .stages
                .iter()
                .map(|s| json!({"duration_seconds": s.duration.as_secs_f64(), "target": s.target}))
                .collect();
            model["peak"] = json!(self.stages.iter().map(|s| s.target).fold(0.0, f64::max));
        }
        let by_name: serde_json::Map<String, Value> = self
            .requests_by_name
            .iter()
            .map(|(name, r)| {
                let v = json!({"requests": r.requests, "errors": r.errors, "latency_ms": r.latency.to_json()});
                (name.clone(), v)
            })
            .collect();
        let codes: serde_json::Map<String, Value> =
            self.status_codes.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        json!({
            "schema": SCHEMA,
            "model": model,
            "duration_seconds": self.duration.as_secs_f64(),
            "cancelled": self.cancelled,
            "requests": self.requests,
            "rps": self.rps,
            "errors": {
                "total": self.errors.total(),
                "rate": self.error_rate(),
                "connect": self.errors.connect,
                "timeout": self.errors.timeout,
                "status": self.errors.status,
                "check": self.errors.check,
                "other": self.errors.other,
            },
            "status_codes": codes,
            "latency_ms": self.latency.to_json(),
            "requests_by_name": by_name,
            "dropped_iterations": self.dropped_iterations,
            "iterations": self.iterations,
            "protocol": self.protocol,
            "bytes_received": self.bytes_received,
            "thresholds": self.thresholds.iter().map(|t| json!({"expr": t.expr, "ok": t.ok, "actual": t.actual, "excess": t.excess, "unit": t.unit})).collect::<Vec<_>>(),
            "passed": self.passed(),
            "target": self.target,
            "iterations_limit": self.iterations_limit,
            "started_at_unix_ms": self.started_at_unix_ms,
            "phases_ms": self.phases.as_ref().map(|p| {
                let mut v = json!({"connect": p.connect.to_json(), "ttfb": p.ttfb.to_json()});
                if let Some(tls) = &p.tls {
                    v["tls"] = tls.to_json();
                }
                v
            }),
            "latency_histogram_ms": self.histogram.iter().map(|(le, n)| json!({"le": le, "count": n})).collect::<Vec<_>>(),
            "timeline": self.timeline.iter().map(Second::to_json).collect::<Vec<_>>(),
        })
    }

    /// The JSON summary, pretty-printed (what `--summary-json FILE` should write).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_json()).unwrap_or_default()
    }

    /// The summary as a JUnit XML report for CI: a `<testsuite>` named `suite_name` with one
    /// `<testcase>` per threshold (a `<failure>` carrying the actual value when it is broken) and one
    /// `errors` testcase that fails when any request failed. The text report is in `<system-out>`.
    pub fn to_junit(&self, suite_name: &str) -> String {
        let mut cases = String::new();
        let mut failures = 0;
        let class = xml_escape(suite_name);
        for t in &self.thresholds {
            let _ = write!(
                cases,
                "    <testcase classname=\"{class}.thresholds\" name=\"{}\" time=\"0\"",
                xml_escape(&t.expr)
            );
            if t.ok {
                cases.push_str("/>\n");
            } else {
                failures += 1;
                let actual = t.actual.map_or("no data".to_string(), |a| format!("{a}"));
                let u = if matches!(t.unit, "ms" | "/s") { t.unit } else { "" };
                let by = t.excess.map_or(String::new(), |x| format!(", broken by {x}{u}"));
                let msg = xml_escape(&format!("threshold {} broken: actual {actual}{by}", t.expr));
                let _ = write!(
                    cases,
                    ">\n      <failure type=\"threshold\" message=\"{msg}\">{msg}</failure>\n    </testcase>\n"
                );
            }
        }
        let e = &self.errors;
        let _ = write!(
            cases,
            "    <testcase classname=\"{class}\" name=\"errors\" time=\"{:.3}\"",
            self.duration.as_secs_f64()
        );
        if e.total() == 0 {
            cases.push_str("/>\n");
        } else {
            failures += 1;
            let msg = format!(
                "{} of {} requests failed ({:.2}%): connect {}, timeout {}, status {}, check {}, other {}",
                e.total(),
                self.requests,
                self.error_rate() * 100.0,
                e.connect,
                e.timeout,
                e.status,
                e.check,
                e.other
            );
            let msg = xml_escape(&msg);
            let _ =
                write!(cases, ">\n      <failure type=\"errors\" message=\"{msg}\">{msg}</failure>\n    </testcase>\n");
        }
        let tests = self.thresholds.len() + 1;
        let name = xml_escape(suite_name);
        let time = self.duration.as_secs_f64();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">\n  \
             <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">\n\
             {cases}    <system-out>{}</system-out>\n  </testsuite>\n</testsuites>\n",
            xml_escape(&self.to_text())
        )
    }

    /// A human-readable report of a few lines.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut model = match self.model {
            Model::Closed { vus } => format!("closed model, {vus} VU{}", if vus == 1 { "" } else { "s" }),
            Model::Open { rate_per_sec } => format!("open model, {rate_per_sec}/s"),
        };
        if !self.stages.is_empty() {
            let peak = self.stages.iter().map(|s| s.target).fold(0.0, f64::max);
            model.push_str(&format!(" at the start, ramping through {} stages (peak {peak})", self.stages.len()));
        }
        let stop = match (self.cancelled, self.iterations_limit) {
            (true, _) => " (cancelled)".to_string(),
            (false, Some(n)) => format!(" (at most {n} iterations)"),
            (false, None) => String::new(),
        };
        let http2 = if self.protocol == "HTTP/2" { ", HTTP/2" } else { "" };
        let _ = writeln!(out, "{model}{http2}, {:.1}s{stop}", self.duration.as_secs_f64());
        let _ =
            writeln!(out, "requests    {} ({:.1}/s), {} bytes received", self.requests, self.rps, self.bytes_received);
        let e = &self.errors;
        let _ = writeln!(
            out,
            "errors      {} ({:.2}%): connect {}, timeout {}, status {}, check {}, other {}",
            e.total(),
            self.error_rate() * 100.0,
            e.connect,
            e.timeout,
            e.status,
            e.check,
            e.other
        );
        if !self.status_codes.is_empty() {
            let codes: Vec<String> = self.status_codes.iter().map(|(c, n)| format!("{c}: {n}")).collect();
            let _ = writeln!(out, "status      {}", codes.join(", "));
        }
        let l = &self.latency;
        let _ = writeln!(
            out,
            "latency ms  p50 {:.2}  p90 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (mean {:.2})",
            l.p50, l.p90, l.p95, l.p99, l.p999, l.max, l.mean
        );
        for (name, r) in &self.requests_by_name {
            let l = &r.latency;
            let _ = writeln!(
                out,
                "  {name}: {} requests, {} errors, p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
                r.requests, r.errors, l.p50, l.p95, l.p99, l.max
            );
        }
        if matches!(self.model, Model::Open { .. }) {
            let _ = writeln!(out, "dropped     {} iterations", self.dropped_iterations);
        }
        for t in &self.thresholds {
            let u = if matches!(t.unit, "ms" | "/s") { t.unit } else { "" };
            let actual = t.actual.map_or("no data".to_string(), |a| format!("{a:.3}{u}"));
            let by = match (t.ok, t.excess) {
                (false, Some(x)) => format!(", broken by {x:.3}{u}"),
                _ => String::new(),
            };
            let _ =
                writeln!(out, "threshold   {} {} (actual {actual}{by})", if t.ok { "PASS" } else { "FAIL" }, t.expr);
        }
        out
    }
}

/// The histogram in buckets growing by half each (10 µs, 15 µs, 22.5 µs, ...), non-empty ones only,
/// upper bounds in milliseconds.
fn log_buckets(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_log(10, 1.5)
        .filter(|v| v.count_since_last_iteration() > 0)
        .map(|v| ((v.value_iterated_to() as f64 / 1e3 * 1e3).round() / 1e3, v.count_since_last_iteration()))
        .collect()
}

/// Escapes text for XML attributes and character data; drops characters XML 1.0 cannot carry.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(thresholds: Vec<ThresholdResult>, errors: ErrorCounts) -> Summary {
        Summary {
            model: Model::Closed { vus: 1 },
            requests: 10,
            errors,
            status_codes: BTreeMap::new(),
            duration: Duration::from_millis(1500),
            rps: 6.7,
            latency: Latency::default(),
            dropped_iterations: 0,
            iterations: 10,
            protocol: "HTTP/1.1",
            bytes_received: 0,
            cancelled: false,
            thresholds,
            requests_by_name: BTreeMap::new(),
            target: "http://h/".into(),
            iterations_limit: None,
            stages: Vec::new(),
            started_at_unix_ms: 0,
            timeline: Vec::new(),
            histogram: Vec::new(),
            phases: None,
        }
    }

    #[test]
    fn junit_has_one_case_per_threshold_and_an_errors_case() {
        let t = |expr: &str, ok, actual| ThresholdResult { expr: expr.into(), ok, actual, excess: None, unit: "ms" };
        let s = summary(
            vec![t("p95<500ms", true, Some(12.5)), t("p99<1ms", false, Some(3.25)), t("p50<1s", false, None)],
            ErrorCounts { status: 2, check: 1, ..ErrorCounts::default() },
        );
        let x = s.to_junit("api & <load>");
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "), "{x}");
        assert!(
            x.contains(r#"<testsuite name="api &amp; &lt;load&gt;" tests="4" failures="3" errors="0" skipped="0" time="1.500">"#),
            "{x}"
        );
        assert_eq!(x.matches("<testcase ").count(), 4, "{x}");
        assert_eq!(x.matches("<failure ").count(), 3, "{x}");
        assert_eq!(x.matches("</failure>").count(), 3, "{x}");
        assert!(x.contains(r#"name="p95&lt;500ms" time="0"/>"#), "{x}");
        assert!(x.contains(r#"message="threshold p99&lt;1ms broken: actual 3.25""#), "{x}");
        assert!(x.contains("actual no data"), "{x}");
        assert!(x.contains(r#"name="errors""#) && x.contains("3 of 10 requests failed"), "{x}");
        assert!(x.contains("status 2, check 1"), "{x}");
        assert!(x.trim_end().ends_with("</testsuite>\n</testsuites>"), "{x}");
        assert_eq!(x.matches("<testsuite ").count(), x.matches("</testsuite>").count());
        assert_eq!(x.matches("<testcase ").count(), x.matches("/>").count() + x.matches("</testcase>").count());

        let ok = summary(vec![t("rps>1", true, Some(6.7))], ErrorCounts::default()).to_junit("s");
        let broken = ThresholdResult {
            expr: "p95<500ms".into(),
            ok: false,
            actual: Some(612.5),
            excess: Some(112.5),
            unit: "ms",
        };
        let text = summary(vec![broken], ErrorCounts::default()).to_text();
        assert!(text.contains("threshold   FAIL p95<500ms (actual 612.500ms, broken by 112.500ms)"), "{text}");
        assert!(ok.contains(r#"tests="2" failures="0""#), "{ok}");
        assert!(!ok.contains("<failure"), "{ok}");
    }
}
