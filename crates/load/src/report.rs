//! A self-contained HTML report of a load-test run, rendered from its summary JSON
//! (`vitals.load.summary/v1`, see `docs/format/load-summary.md`), optionally beside a baseline run.
//!
//! The page loads nothing: the CSS is inline, the charts are inline SVG drawn here and their tooltips
//! are SVG `<title>` elements (no JavaScript). It works on the JSON rather than on [`crate::Summary`] so
//! that a saved `--summary-json` file can be rendered again later. Every string taken from the JSON is
//! HTML-escaped, missing keys render as "no data", and no coordinate is ever NaN or infinite.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Appends formatted text to a `String`; writing to a `String` cannot fail.
macro_rules! w {
    ($dst:expr, $($arg:tt)*) => {{
        let _ = write!($dst, $($arg)*);
    }};
}

/// Chart canvas (SVG user units); the SVG scales to the page width.
const W: f64 = 900.0;
const H: f64 = 300.0;
/// Plot area inside the canvas, leaving room for the axes.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 836.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 256.0;
/// Plotted values are clamped to `0..=MAX_PLOT` so that scaling never overflows.
const MAX_PLOT: f64 = 1e15;
/// At most this many hover areas per chart; longer runs group seconds.
const MAX_HOVER: usize = 600;
/// Log-spaced bins per decade of the latency distribution chart.
const BINS_PER_DECADE: f64 = 20.0;
/// Smallest latency (ms) on the log axis: the recording resolution of one microsecond.
const MIN_LATENCY_MS: f64 = 0.001;

const NO_DATA: &str = r#"<span class="nd">no data</span>"#;

const C_P50: &str = "#1c7ed6";
const C_P95: &str = "#f08c00";
const C_P99: &str = "#e03131";
const C_MAX: &str = "#868e96";
const C_BASE: &str = "#7048e8";
const C_RPS: &str = "#1c7ed6";
const C_ERR: &str = "#e03131";
const C_TARGET: &str = "#495057";
const C_BAR: &str = "#4dabf7";

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:#212529;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1000px;margin:0 auto;padding:24px 16px 40px}
header,section{background:#fff;border:1px solid #e3e7eb;border-radius:8px;padding:16px 20px;margin:0 0 16px}
h1{font-size:22px;margin:0;overflow-wrap:anywhere}
h2{font-size:16px;margin:0 0 12px}
.title-row{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
.badge{display:inline-block;padding:2px 12px;border-radius:999px;font-weight:700;font-size:13px;letter-spacing:.05em}
.badge.pass{background:#2f9e44;color:#fff}.badge.fail{background:#e03131;color:#fff}.badge.unknown{background:#868e96;color:#fff}
.tag{display:inline-block;padding:0 8px;border-radius:4px;background:#fff3bf;color:#8a6d00;font-size:12px;margin-left:6px}
.meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:8px 24px;margin:12px 0 0}
.meta div{min-width:0}
.meta dt,.card .label{font-size:12px;color:#6c757d;text-transform:uppercase;letter-spacing:.04em}
.meta dd{margin:0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px;margin:0 0 16px}
.card{background:#fff;border:1px solid #e3e7eb;border-radius:8px;padding:12px 14px;min-width:0}
.card .value{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.card .sub{font-size:12px;color:#6c757d}
.card.alert{border-color:#ffc9c9}.card.alert .value{color:#c92a2a}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;text-align:right;border-bottom:1px solid #e9ecef;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{font-size:12px;color:#495057;background:#f1f3f5;font-weight:600}
tbody tr:nth-child(even){background:#f8f9fa}
td.name{white-space:normal;overflow-wrap:anywhere;max-width:420px}
tr.total td{font-weight:600}
.ok{color:#2b8a3e;font-weight:700}.fail{color:#c92a2a;font-weight:700}
.better{color:#2b8a3e}.worse{color:#c92a2a}.same{color:#6c757d}
.c2{color:#2b8a3e}.c3{color:#1971c2}.c4{color:#e8590c}.c5{color:#c92a2a}
.nd{color:#adb5bd;font-style:italic}
.empty{color:#868e96;font-style:italic;margin:0}
.note{font-size:12px;color:#6c757d;margin:6px 0 0}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;font-size:12px;color:#495057;margin:0 0 6px}
.legend i{display:inline-block;width:22px;height:0;border-top:2px solid;vertical-align:middle;margin-right:6px}
.legend i.dash{border-top-style:dashed}
.legend i.bar{height:10px;border:none}
.chart{display:block;width:100%;height:auto}
.chart text{font-size:11px;fill:#495057}
.chart .hov{fill:#000;fill-opacity:0}
.chart .hov:hover{fill-opacity:.06}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px;margin:0 0 16px}
.grid2 section{margin:0}
footer{text-align:center;color:#868e96;font-size:12px}
"#;

/// Renders a run's summary JSON as one self-contained HTML page; `baseline`, when given, is an earlier
/// run's summary drawn beside it.
pub fn html(summary: &Value, baseline: Option<&Value>, title: &str) -> String {
    let title = if title.trim().is_empty() { "Load test report" } else { title };
    let mut o = String::with_capacity(64 * 1024);
    w!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(title)
    );
    header(&mut o, summary, baseline, title);
    key_figures(&mut o, summary);
    thresholds(&mut o, summary);
    if let Some(base) = baseline {
        comparison(&mut o, summary, base);
    }
    let tl = timeline(summary);
    let base_tl = baseline.map(timeline).unwrap_or_default();
    latency_chart(&mut o, &tl, &base_tl);
    throughput_chart(&mut o, &tl, model_type(summary) == Some("closed"));
    histogram_chart(&mut o, summary);
    by_name_table(&mut o, summary);
    o.push_str("<div class=\"grid2\">\n");
    status_table(&mut o, summary);
    error_table(&mut o, summary);
    o.push_str("</div>\n");
    latency_table(&mut o, summary);
    let schema = text(summary, &["schema"]).map_or_else(|| "unknown schema".to_string(), esc);
    w!(o, "<footer>Generated by vitals load &middot; {schema}</footer>\n</main>\n</body>\n</html>\n");
    o
}

// ---------------------------------------------------------------------------------------------------
// JSON access and formatting

/// The value at `path` (object keys), if every step exists.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// A finite number at `path`.
fn num(v: &Value, path: &[&str]) -> Option<f64> {
    at(v, path).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// A string at `path`.
fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

/// A value made safe to plot: finite and within `0..=MAX_PLOT`.
fn clean(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, MAX_PLOT)
    } else {
        0.0
    }
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An SVG coordinate with one decimal; never NaN or infinite.
fn c(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.1}");
    match s.strip_suffix(".0") {
        Some(int) if int != "-0" => int.to_string(),
        Some(_) => "0".to_string(),
        None => s,
    }
}

/// Digits of a whole number with thousands separators.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let parts: Vec<&str> = digits.as_bytes().rchunks(3).rev().map(|d| std::str::from_utf8(d).unwrap_or("")).collect();
    parts.join(",")
}

/// A count, rounded, with thousands separators.
fn fmt_count(x: f64) -> String {
    if !x.is_finite() {
        return "no data".to_string();
    }
    if x.abs() >= 1e15 {
        return format!("{x:.3e}");
    }
    let n = group(x.abs().round() as u64);
    if x.round() < 0.0 {
        format!("-{n}")
    } else {
        n
    }
}

/// A plain decimal number: more decimals for small ones, separators for big ones.
fn fmt_dec(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "no data".to_string()
    } else if a < 10.0 {
        format!("{x:.2}")
    } else if a < 1000.0 {
        format!("{x:.1}")
    } else {
        fmt_count(x)
    }
}

/// A latency in milliseconds (seconds from ten seconds up).
fn fmt_ms(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "no data".to_string()
    } else if a < 1.0 {
        format!("{x:.3} ms")
    } else if a < 10.0 {
        format!("{x:.2} ms")
    } else if a < 1000.0 {
        format!("{x:.1} ms")
    } else if a < 10_000.0 {
        format!("{x:.0} ms")
    } else if a < 1e6 {
        format!("{:.2} s", x / 1000.0)
    } else {
        format!("{} s", fmt_count(x / 1000.0))
    }
}

/// A ratio (0..1) as a percentage.
fn fmt_pct(ratio: f64) -> String {
    let p = ratio * 100.0;
    if !p.is_finite() {
        "no data".to_string()
    } else if p > 0.0 && p < 0.01 {
        "&lt;0.01%".to_string()
    } else {
        format!("{p:.2}%")
    }
}

/// A byte count with binary units.
fn fmt_bytes(x: f64) -> String {
    if !x.is_finite() {
        return "no data".to_string();
    }
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = x;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{} B", fmt_count(v))
    } else if v.abs() >= 10_000.0 {
        format!("{} {}", fmt_count(v), UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A duration in seconds, e.g. `3.0 s`, `2 min 5 s`, `1 h 20 min`.
fn fmt_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "no data".to_string();
    }
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    let total = secs.round().min(1e15) as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    if h == 0 {
        format!("{m} min {s} s")
    } else {
        format!("{} h {m} min", group(h))
    }
}

/// A point in time (seconds since the start) with up to three decimals.
fn fmt_t(t: f64) -> String {
    trim_decimals(&format!("{:.3}", clean(t)))
}

/// Drops trailing zeros (and a trailing point) of a formatted decimal.
fn trim_decimals(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// A latency for a log-axis tick: `0.005 ms`, `20 ms`, `2 s`.
fn fmt_ms_short(v: f64) -> String {
    if v >= 1000.0 {
        format!("{} s", trim_decimals(&format!("{:.3}", v / 1000.0)))
    } else {
        format!("{} ms", trim_decimals(&format!("{v:.3}")))
    }
}

/// A tick label on a linear axis from 0 to `top` in steps of `step` (with k/M/G/T suffixes).
fn fmt_tick(v: f64, step: f64, top: f64) -> String {
    let (unit, suffix) = if top >= 1e13 {
        (1e12, "T")
    } else if top >= 1e10 {
        (1e9, "G")
    } else if top >= 1e7 {
        (1e6, "M")
    } else if top >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let rel = step / unit;
    let decimals = if rel >= 1.0 || rel <= 0.0 { 0 } else { ((-rel.log10()) - 1e-9).ceil().clamp(0.0, 9.0) as usize };
    if v == 0.0 {
        return "0".to_string();
    }
    format!("{:.*}{suffix}", decimals, v / unit)
}

/// A Unix time in milliseconds as `YYYY-MM-DD hh:mm:ss UTC`.
fn fmt_utc(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = vitals_model::civil::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// The run's start time, formatted, from `started_at_unix_ms`.
fn started(s: &Value) -> Option<String> {
    let v = s.get("started_at_unix_ms")?;
    let ms = v.as_i64().or_else(|| v.as_f64().filter(|x| x.is_finite() && x.abs() < 8.64e15).map(|x| x as i64))?;
    Some(fmt_utc(ms))
}

/// `model.type`.
fn model_type(s: &Value) -> Option<&str> {
    text(s, &["model", "type"])
}

/// The workload model as HTML, e.g. `open, 200.0 req/s`.
fn model_html(s: &Value) -> String {
    match model_type(s) {
        Some("open") => match num(s, &["model", "rate_per_sec"]) {
            Some(r) => format!("open, {} req/s", fmt_dec(r)),
            None => "open".to_string(),
        },
        Some("closed") => match num(s, &["model", "vus"]) {
            Some(v) => format!("closed, {} VUs", fmt_count(v)),
            None => "closed".to_string(),
        },
        Some(other) => esc(other),
        None => NO_DATA.to_string(),
    }
}

/// A formatted number at `path`, or "no data".
fn cell(s: &Value, path: &[&str], fmt: fn(f64) -> String) -> String {
    num(s, path).map_or_else(|| NO_DATA.to_string(), fmt)
}

// ---------------------------------------------------------------------------------------------------
// Sections

fn header(o: &mut String, s: &Value, baseline: Option<&Value>, title: &str) {
    let badge = match s.get("passed").and_then(Value::as_bool) {
        Some(true) => r#"<span class="badge pass">PASS</span>"#,
        Some(false) => r#"<span class="badge fail">FAIL</span>"#,
        None => r#"<span class="badge unknown">NO DATA</span>"#,
    };
    w!(o, "<header>\n<div class=\"title-row\"><h1>{}</h1>{badge}</div>\n<dl class=\"meta\">\n", esc(title));
    let target = text(s, &["target"]).map_or_else(|| NO_DATA.to_string(), esc);
    w!(o, "<div><dt>Target</dt><dd>{target}</dd></div>\n");
    let start = started(s).unwrap_or_else(|| NO_DATA.to_string());
    w!(o, "<div><dt>Started</dt><dd>{start}</dd></div>\n");
    w!(o, "<div><dt>Model</dt><dd>{}</dd></div>\n", model_html(s));
    let mut duration = cell(s, &["duration_seconds"], fmt_duration);
    if s.get("cancelled").and_then(Value::as_bool) == Some(true) {
        duration.push_str("<span class=\"tag\">cancelled</span>");
    }
    w!(o, "<div><dt>Duration</dt><dd>{duration}</dd></div>\n");
    if let Some(b) = baseline {
        let mut parts = Vec::new();
        if let Some(t) = text(b, &["target"]) {
            parts.push(esc(t));
        }
        if let Some(st) = started(b) {
            parts.push(st);
        }
        if model_type(b).is_some() {
            parts.push(model_html(b));
        }
        let desc = if parts.is_empty() { "given".to_string() } else { parts.join(" &middot; ") };
        w!(o, "<div><dt>Baseline</dt><dd>{desc}</dd></div>\n");
    }
    o.push_str("</dl>\n</header>\n");
}

fn card(o: &mut String, label: &str, value: &str, sub: &str, alert: bool) {
    let class = if alert { "card alert" } else { "card" };
    w!(
        o,
        "<div class=\"{class}\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div>\
         <div class=\"sub\">{sub}</div></div>\n"
    );
}

fn key_figures(o: &mut String, s: &Value) {
    o.push_str("<div class=\"cards\">\n");
    let duration = num(s, &["duration_seconds"]);
    let sub = duration.map_or_else(String::new, |d| format!("in {}", fmt_duration(d)));
    card(o, "Requests", &cell(s, &["requests"], fmt_count), &sub, false);
    let sub = match model_type(s) {
        Some("open") => num(s, &["model", "rate_per_sec"]).map(|r| format!("target {} req/s", fmt_dec(r))),
        Some("closed") => num(s, &["model", "vus"]).map(|v| format!("{} VUs", fmt_count(v))),
        _ => None,
    };
    let rps = num(s, &["rps"]).map_or_else(|| NO_DATA.to_string(), |r| format!("{}/s", fmt_dec(r)));
    card(o, "Throughput", &rps, &sub.unwrap_or_default(), false);
    let rate = num(s, &["errors", "rate"]);
    let sub = num(s, &["errors", "total"]).map_or_else(String::new, |t| format!("{} errors", fmt_count(t)));
    card(o, "Error rate", &cell(s, &["errors", "rate"], fmt_pct), &sub, rate.is_some_and(|r| r > 0.0));
    for (label, key) in [("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("max", "max")] {
        card(o, &format!("Latency {label}"), &cell(s, &["latency_ms", key], fmt_ms), "", false);
    }
    let dropped = num(s, &["dropped_iterations"]);
    card(
        o,
        "Dropped iterations",
        &cell(s, &["dropped_iterations"], fmt_count),
        "backlog full",
        dropped.is_some_and(|d| d > 0.0),
    );
    let bytes = num(s, &["bytes_received"]);
    let sub = match (bytes, duration) {
        (Some(b), Some(d)) if d > 0.0 => format!("{}/s", fmt_bytes(b / d)),
        _ => String::new(),
    };
    card(o, "Data received", &cell(s, &["bytes_received"], fmt_bytes), &sub, false);
    o.push_str("</div>\n");
}

/// `actual` of a threshold in the unit of the expression's metric.
fn fmt_actual(expr: &str, v: f64) -> String {
    let metric: String =
        expr.chars().filter(|c| !c.is_whitespace()).take_while(|c| !matches!(c, '<' | '>' | '=')).collect();
    match metric.to_ascii_lowercase().as_str() {
        "p50" | "p90" | "p95" | "p99" | "p99.9" | "max" | "mean" | "min" => fmt_ms(v),
        "errors" => fmt_pct(v),
        "rps" => format!("{}/s", fmt_dec(v)),
        "dropped" => fmt_count(v),
        _ => fmt_dec(v),
    }
}

fn thresholds(o: &mut String, s: &Value) {
    o.push_str("<section>\n<h2>Thresholds</h2>\n");
    match s.get("thresholds").and_then(Value::as_array) {
        None => w!(o, "<p class=\"empty\">{NO_DATA}</p>\n"),
        Some(list) if list.is_empty() => o.push_str("<p class=\"empty\">No thresholds were set.</p>\n"),
        Some(list) => {
            o.push_str(
                "<div class=\"table-wrap\"><table>\n<thead><tr><th>Threshold</th><th>Actual</th><th>Result</th></tr>\
                 </thead>\n<tbody>\n",
            );
            for t in list {
                let expr = text(t, &["expr"]);
                let expr_html = expr.map_or_else(|| NO_DATA.to_string(), esc);
                let unit = text(t, &["unit"]);
                let actual = num(t, &["actual"]).map_or_else(
                    || NO_DATA.to_string(),
                    |v| match unit {
                        // The summary names the unit; older summaries without it are guessed from the text.
                        Some("ms") => fmt_ms(v),
                        Some("/s") => format!("{}/s", fmt_dec(v)),
                        Some("ratio") => fmt_pct(v),
                        Some("count") => fmt_count(v),
                        _ => fmt_actual(expr.unwrap_or(""), v),
                    },
                );
                let result = match t.get("ok").and_then(Value::as_bool) {
                    Some(true) => "<span class=\"ok\">PASS</span>",
                    Some(false) => "<span class=\"fail\">FAIL</span>",
                    None => NO_DATA,
                };
                w!(o, "<tr><td class=\"name\">{expr_html}</td><td>{actual}</td><td>{result}</td></tr>\n");
            }
            o.push_str("</tbody>\n</table></div>\n");
        }
    }
    o.push_str("</section>\n");
}

/// Which direction of change is an improvement.
#[derive(Clone, Copy, PartialEq)]
enum Better {
    Lower,
    Higher,
    Neither,
}

/// The change from `base` to `cur` as HTML, colored by whether it is an improvement.
fn change(base: f64, cur: f64, better: Better) -> String {
    if base == cur {
        return "<span class=\"same\">0.0%</span>".to_string();
    }
    let up = cur > base;
    let (text, significant) = if base == 0.0 {
        ("new".to_string(), true)
    } else {
        let pct = (cur - base) / base.abs() * 100.0;
        let text = if pct.abs() >= 1e6 { format!("{pct:+.2e}%") } else { format!("{pct:+.1}%") };
        (text, pct.abs() >= 5.0)
    };
    let class = match better {
        _ if !significant => "same",
        Better::Neither => "same",
        Better::Lower if up => "worse",
        Better::Higher if !up => "worse",
        _ => "better",
    };
    format!("<span class=\"{class}\">{text}</span>")
}

fn comparison(o: &mut String, s: &Value, base: &Value) {
    type Row = (&'static str, &'static [&'static str], fn(f64) -> String, Better);
    const ROWS: [Row; 14] = [
        ("Requests", &["requests"], fmt_count, Better::Neither),
        ("Throughput (req/s)", &["rps"], fmt_dec, Better::Higher),
        ("Error rate", &["errors", "rate"], fmt_pct, Better::Lower),
        ("Errors", &["errors", "total"], fmt_count, Better::Lower),
        ("Latency mean", &["latency_ms", "mean"], fmt_ms, Better::Lower),
        ("Latency p50", &["latency_ms", "p50"], fmt_ms, Better::Lower),
        ("Latency p90", &["latency_ms", "p90"], fmt_ms, Better::Lower),
        ("Latency p95", &["latency_ms", "p95"], fmt_ms, Better::Lower),
        ("Latency p99", &["latency_ms", "p99"], fmt_ms, Better::Lower),
        ("Latency p99.9", &["latency_ms", "p99.9"], fmt_ms, Better::Lower),
        ("Latency max", &["latency_ms", "max"], fmt_ms, Better::Lower),
        ("Dropped iterations", &["dropped_iterations"], fmt_count, Better::Lower),
        ("Data received", &["bytes_received"], fmt_bytes, Better::Neither),
        ("Duration", &["duration_seconds"], fmt_duration, Better::Neither),
    ];
    o.push_str(
        "<section>\n<h2>Comparison with baseline</h2>\n<div class=\"table-wrap\"><table class=\"comparison\">\n\
         <thead><tr><th>Metric</th><th>Baseline</th><th>This run</th><th>Change</th></tr></thead>\n<tbody>\n",
    );
    for (label, path, fmt, better) in ROWS {
        let (b, cur) = (num(base, path), num(s, path));
        let delta = match (b, cur) {
            (Some(b), Some(cur)) => change(b, cur, better),
            _ => NO_DATA.to_string(),
        };
        w!(
            o,
            "<tr><td>{label}</td><td>{}</td><td>{}</td><td>{delta}</td></tr>\n",
            b.map_or_else(|| NO_DATA.to_string(), fmt),
            cur.map_or_else(|| NO_DATA.to_string(), fmt)
        );
    }
    o.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn by_name_table(o: &mut String, s: &Value) {
    o.push_str("<section>\n<h2>Requests by name</h2>\n");
    match s.get("requests_by_name").and_then(Value::as_object) {
        None => w!(o, "<p class=\"empty\">{NO_DATA}</p>\n"),
        Some(m) if m.is_empty() => o.push_str("<p class=\"empty\">Single-URL run: no named requests.</p>\n"),
        Some(m) => {
            o.push_str(
                "<div class=\"table-wrap\"><table>\n<thead><tr><th>Name</th><th>Requests</th><th>Errors</th>\
                 <th>Error rate</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr></thead>\n<tbody>\n",
            );
            for (name, r) in m {
                let rate = match (num(r, &["requests"]), num(r, &["errors"])) {
                    (Some(n), Some(e)) if n > 0.0 => fmt_pct(e / n),
                    (Some(_), Some(_)) => fmt_pct(0.0),
                    _ => NO_DATA.to_string(),
                };
                w!(
                    o,
                    "<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{rate}</td><td>{}</td><td>{}</td>\
                     <td>{}</td><td>{}</td></tr>\n",
                    esc(name),
                    cell(r, &["requests"], fmt_count),
                    cell(r, &["errors"], fmt_count),
                    cell(r, &["latency_ms", "p50"], fmt_ms),
                    cell(r, &["latency_ms", "p95"], fmt_ms),
                    cell(r, &["latency_ms", "p99"], fmt_ms),
                    cell(r, &["latency_ms", "max"], fmt_ms),
                );
            }
            o.push_str("</tbody>\n</table></div>\n");
        }
    }
    o.push_str("</section>\n");
}

fn status_table(o: &mut String, s: &Value) {
    o.push_str("<section>\n<h2>Status codes</h2>\n");
    match s.get("status_codes").and_then(Value::as_object) {
        None => w!(o, "<p class=\"empty\">{NO_DATA}</p>\n"),
        Some(m) if m.is_empty() => o.push_str("<p class=\"empty\">No responses.</p>\n"),
        Some(m) => {
            let total: f64 = m.values().filter_map(Value::as_f64).filter(|x| x.is_finite()).sum();
            o.push_str("<table>\n<thead><tr><th>Status</th><th>Responses</th><th>Share</th></tr></thead>\n<tbody>\n");
            for (code, n) in m {
                let class = match code.chars().next() {
                    Some('2') => "c2",
                    Some('3') => "c3",
                    Some('4') => "c4",
                    Some('5') => "c5",
                    _ => "",
                };
                let count = n.as_f64().filter(|x| x.is_finite());
                let share = match count {
                    Some(x) if total > 0.0 => fmt_pct(x / total),
                    _ => NO_DATA.to_string(),
                };
                w!(
                    o,
                    "<tr><td class=\"{class}\">{}</td><td>{}</td><td>{share}</td></tr>\n",
                    esc(code),
                    count.map_or_else(|| NO_DATA.to_string(), fmt_count)
                );
            }
            o.push_str("</tbody>\n</table>\n");
        }
    }
    o.push_str("</section>\n");
}

fn error_table(o: &mut String, s: &Value) {
    const CLASSES: [(&str, &str); 5] = [
        ("connect", "connection could not be established"),
        ("timeout", "no complete response in time"),
        ("status", "status 400 or above"),
        ("check", "scenario check failed"),
        ("other", "reset, malformed response, ..."),
    ];
    o.push_str("<section>\n<h2>Errors by class</h2>\n");
    let Some(errors) = s.get("errors").filter(|e| e.is_object()) else {
        w!(o, "<p class=\"empty\">{NO_DATA}</p>\n</section>\n");
        return;
    };
    let requests = num(s, &["requests"]);
    let share = |n: Option<f64>| match (n, requests) {
        (Some(n), Some(r)) if r > 0.0 => fmt_pct(n / r),
        (Some(_), Some(_)) => fmt_pct(0.0),
        _ => NO_DATA.to_string(),
    };
    o.push_str("<table>\n<thead><tr><th>Class</th><th>Errors</th><th>Of requests</th></tr></thead>\n<tbody>\n");
    for (key, desc) in CLASSES {
        let n = num(errors, &[key]);
        let count = n.map_or_else(|| NO_DATA.to_string(), fmt_count);
        let class = if n.is_some_and(|n| n > 0.0) { " class=\"fail\"" } else { "" };
        w!(o, "<tr><td title=\"{desc}\">{key}</td><td{class}>{count}</td><td>{}</td></tr>\n", share(n));
    }
    let total = num(errors, &["total"]);
    w!(
        o,
        "<tr class=\"total\"><td>total</td><td>{}</td><td>{}</td></tr>\n</tbody>\n</table>\n</section>\n",
        total.map_or_else(|| NO_DATA.to_string(), fmt_count),
        share(total)
    );
}

fn latency_table(o: &mut String, s: &Value) {
    const KEYS: [&str; 9] = ["count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"];
    o.push_str("<section>\n<h2>Latency statistics</h2>\n<div class=\"table-wrap\"><table>\n<thead><tr><th>Phase</th>");
    for k in KEYS {
        w!(o, "<th>{k}</th>");
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    let mut rows: Vec<(&str, Option<&Value>)> = vec![("response (total)", s.get("latency_ms"))];
    for (label, key) in [("connect", "connect"), ("time to first byte", "ttfb")] {
        if let Some(p) = at(s, &["phases_ms", key]).filter(|p| p.is_object()) {
            rows.push((label, Some(p)));
        }
    }
    for (label, stats) in rows {
        w!(o, "<tr><td>{label}</td>");
        for k in KEYS {
            let fmt: fn(f64) -> String = if k == "count" { fmt_count } else { fmt_ms };
            let v = stats.map_or_else(|| NO_DATA.to_string(), |st| cell(st, &[k], fmt));
            w!(o, "<td>{v}</td>");
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody>\n</table></div>\n");
    if s.get("phases_ms").is_none() {
        o.push_str("<p class=\"note\">Connect and time-to-first-byte phases were not recorded for this run.</p>\n");
    }
    o.push_str("</section>\n");
}

// ---------------------------------------------------------------------------------------------------
// Charts

/// One second of the timeline, sanitized for plotting.
#[derive(Debug, Clone, Copy, Default)]
struct Sec {
    /// End of the interval, seconds since the start.
    t: f64,
    /// Length of the interval in seconds (> 0).
    dt: f64,
    requests: f64,
    errors: f64,
    rps: f64,
    /// Errors per second.
    eps: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    target: Option<f64>,
}

/// The `timeline` array of a summary; empty when absent.
fn timeline(s: &Value) -> Vec<Sec> {
    let Some(entries) = s.get("timeline").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut prev = 0.0_f64;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let t = num(e, &["t"]).map_or((prev + 1.0).min(MAX_PLOT), clean);
        let dt = if t > prev { t - prev } else { 1.0 };
        let requests = num(e, &["requests"]).map_or(0.0, clean);
        let errors = num(e, &["errors"]).map_or(0.0, clean);
        let rps = clean(num(e, &["rps"]).unwrap_or(requests / dt));
        // Errors per second on the same footing as the interval's rps.
        let eps = clean(if requests > 0.0 && rps > 0.0 { errors * (rps / requests) } else { errors / dt });
        let lat = |k: &str| num(e, &["latency_ms", k]).map_or(0.0, clean);
        out.push(Sec {
            t,
            dt,
            requests,
            errors,
            rps,
            eps,
            p50: lat("p50"),
            p95: lat("p95"),
            p99: lat("p99"),
            max: lat("max"),
            target: num(e, &["target"]).map(clean),
        });
        prev = t;
    }
    out
}

/// A "nice" axis for values in `0..=max`: the top of the axis and a 1-2-5 step, about five ticks.
fn nice_axis(max: f64) -> (f64, f64) {
    if !max.is_finite() || max < 1e-6 {
        return (1.0, 0.2);
    }
    let raw = max.min(MAX_PLOT * 10.0) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm <= 1.0 {
            1.0
        } else if norm <= 2.0 {
            2.0
        } else if norm <= 5.0 {
            5.0
        } else {
            10.0
        };
    let top = (max / step - 1e-9).ceil().max(1.0) * step;
    (top, step)
}

/// Tick values `0, step, 2 step, ...` up to `top`.
fn ticks(top: f64, step: f64) -> Vec<f64> {
    let n = (top / step + 1e-9).floor().clamp(0.0, 50.0) as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// Pixel position of `v` on a linear vertical axis from 0 (bottom) to `top`.
fn y_of(v: f64, top: f64) -> f64 {
    let r = if top > 0.0 { (v / top).clamp(0.0, 1.0) } else { 0.0 };
    let y = BOTTOM - r * (BOTTOM - TOP);
    if y.is_finite() {
        y
    } else {
        BOTTOM
    }
}

/// Pixel position of `t` on the time axis from 0 to `tmax`.
fn x_of(t: f64, tmax: f64) -> f64 {
    let r = if tmax > 0.0 { (t / tmax).clamp(0.0, 1.0) } else { 0.0 };
    let x = LEFT + r * (RIGHT - LEFT);
    if x.is_finite() {
        x
    } else {
        LEFT
    }
}

/// Which side of the plot an axis is drawn on.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

fn section_open(o: &mut String, title: &str) {
    w!(o, "<section>\n<h2>{title}</h2>\n");
}

fn svg_open(o: &mut String, label: &str) {
    w!(
        o,
        "<svg class=\"chart\" viewBox=\"0 0 {} {}\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" \
         aria-label=\"{}\">\n",
        c(W),
        c(H),
        esc(label)
    );
}

/// Legend entries: (label, color, style) with style `line`, `dash`, `faint` or `bar`.
fn legend(o: &mut String, items: &[(&str, &str, &str)]) {
    o.push_str("<div class=\"legend\">");
    for (label, color, style) in items {
        match *style {
            "bar" => w!(o, "<span><i class=\"bar\" style=\"background:{color}\"></i>{label}</span>"),
            "dash" => w!(o, "<span><i class=\"dash\" style=\"border-color:{color}\"></i>{label}</span>"),
            "faint" => w!(o, "<span><i style=\"border-color:{color};opacity:.5\"></i>{label}</span>"),
            _ => w!(o, "<span><i style=\"border-color:{color}\"></i>{label}</span>"),
        }
    }
    o.push_str("</div>\n");
}

/// A linear value axis (grid lines for the left one) with its title.
fn y_axis(o: &mut String, top: f64, step: f64, side: Side, title: &str) {
    for v in ticks(top, step) {
        let y = c(y_of(v, top));
        let label = fmt_tick(v, step, top);
        match side {
            Side::Left => {
                w!(o, "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#e9ecef\"/>", c(LEFT), c(RIGHT));
                w!(o, "<text x=\"{}\" y=\"{y}\" dy=\"4\" text-anchor=\"end\">{label}</text>\n", c(LEFT - 6.0));
            }
            Side::Right => {
                w!(o, "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#adb5bd\"/>", c(RIGHT), c(RIGHT + 4.0));
                w!(o, "<text x=\"{}\" y=\"{y}\" dy=\"4\" text-anchor=\"start\">{label}</text>\n", c(RIGHT + 6.0));
            }
        }
    }
    let mid = c((TOP + BOTTOM) / 2.0);
    match side {
        Side::Left => w!(
            o,
            "<text x=\"14\" y=\"{mid}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {mid})\">{title}</text>\n"
        ),
        Side::Right => {
            let x = c(W - 12.0);
            w!(o, "<text x=\"{x}\" y=\"{mid}\" text-anchor=\"middle\" transform=\"rotate(90 {x} {mid})\">{title}</text>\n");
        }
    }
}

/// The time axis (seconds since the start) from 0 to `tmax`, and the frame's left and bottom lines.
fn time_axis(o: &mut String, tmax: f64) {
    let (_, step) = nice_axis(tmax);
    for v in ticks(tmax, step) {
        let x = c(x_of(v, tmax));
        w!(o, "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#adb5bd\"/>", c(BOTTOM), c(BOTTOM + 5.0));
        w!(o, "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", c(BOTTOM + 18.0), fmt_tick(v, step, tmax));
    }
    frame_lines(o);
    w!(
        o,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">seconds since start</text>\n",
        c((LEFT + RIGHT) / 2.0),
        c(H - 6.0)
    );
}

/// The left and bottom lines of the plot area.
fn frame_lines(o: &mut String) {
    w!(
        o,
        "<path d=\"M{l} {t}V{b}H{r}\" fill=\"none\" stroke=\"#adb5bd\"/>\n",
        l = c(LEFT),
        t = c(TOP),
        b = c(BOTTOM),
        r = c(RIGHT)
    );
}

/// A data line; `class` names the series (`line {class}`), a single point also gets a dot.
fn polyline(
    o: &mut String,
    class: &str,
    color: &str,
    width: f64,
    dash: Option<&str>,
    opacity: f64,
    pts: &[(f64, f64)],
) {
    if pts.is_empty() {
        return;
    }
    let points: Vec<String> = pts.iter().map(|&(x, y)| format!("{},{}", c(x), c(y))).collect();
    let dash = dash.map_or_else(String::new, |d| format!(" stroke-dasharray=\"{d}\""));
    let opacity = if opacity < 1.0 { format!(" stroke-opacity=\"{opacity}\"") } else { String::new() };
    w!(
        o,
        "<polyline class=\"line {class}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\" \
         stroke-linejoin=\"round\"{dash}{opacity} points=\"{}\"/>\n",
        points.join(" ")
    );
    if let [(x, y)] = pts {
        w!(o, "<circle class=\"dot {class}\" cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{color}\"/>\n", c(*x), c(*y));
    }
}

/// Invisible hover areas with a tooltip per second (or per group of seconds in long runs).
fn hover(o: &mut String, tl: &[Sec], tmax: f64, body: impl Fn(&[Sec]) -> String) {
    let per = tl.len().div_ceil(MAX_HOVER).max(1);
    for chunk in tl.chunks(per) {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else { continue };
        let a = (first.t - first.dt).max(0.0);
        let b = last.t;
        let x0 = x_of(a, tmax);
        let width = (x_of(b, tmax) - x0).max(1.0);
        let head = if chunk.len() == 1 {
            format!("t = {} s", fmt_t(b))
        } else {
            format!("t = {}\u{2013}{} s", fmt_t(a), fmt_t(b))
        };
        w!(
            o,
            "<rect class=\"hov\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>\n",
            c(x0),
            c(TOP),
            c(width),
            c(BOTTOM - TOP),
            esc(&format!("{head}\n{}", body(chunk)))
        );
    }
}

/// Largest value of `f` over `secs` (0 when empty).
fn peak(secs: &[Sec], f: impl Fn(&Sec) -> f64) -> f64 {
    secs.iter().map(f).fold(0.0, f64::max)
}

/// Right end of the time axis: the last `t` of either run.
fn time_max(tl: &[Sec], base: &[Sec]) -> f64 {
    let t = peak(tl, |s| s.t).max(peak(base, |s| s.t));
    if t > 0.0 {
        t
    } else {
        1.0
    }
}

fn latency_chart(o: &mut String, tl: &[Sec], base: &[Sec]) {
    section_open(o, "Latency percentiles over time");
    if tl.is_empty() {
        o.push_str("<p class=\"empty\">no per-second data</p>\n</section>\n");
        return;
    }
    let tmax = time_max(tl, base);
    let highest = peak(tl, |s| s.max);
    // The percentiles set the scale; the max line gets up to twice their room and is cut off above,
    // so that one outlier does not flatten everything else.
    let percentiles = peak(tl, |s| s.p50.max(s.p95).max(s.p99)).max(peak(base, |s| s.p95));
    let scale = if percentiles > 0.0 { percentiles.max(highest.min(2.0 * percentiles)) } else { highest };
    let (top, step) = nice_axis(scale);
    let mut items =
        vec![("p50", C_P50, "line"), ("p95", C_P95, "line"), ("p99", C_P99, "line"), ("max", C_MAX, "faint")];
    if !base.is_empty() {
        items.push(("baseline p95", C_BASE, "dash"));
    }
    legend(o, &items);
    svg_open(o, "Latency percentiles over time");
    y_axis(o, top, step, Side::Left, "latency (ms)");
    time_axis(o, tmax);
    let pts = |secs: &[Sec], f: fn(&Sec) -> f64| -> Vec<(f64, f64)> {
        secs.iter().map(|s| (x_of(s.t, tmax), y_of(f(s), top))).collect()
    };
    polyline(o, "max", C_MAX, 1.0, None, 0.5, &pts(tl, |s| s.max));
    if !base.is_empty() {
        polyline(o, "base-p95", C_BASE, 1.5, Some("6 4"), 0.9, &pts(base, |s| s.p95));
    }
    polyline(o, "p50", C_P50, 1.8, None, 1.0, &pts(tl, |s| s.p50));
    polyline(o, "p95", C_P95, 1.8, None, 1.0, &pts(tl, |s| s.p95));
    polyline(o, "p99", C_P99, 1.8, None, 1.0, &pts(tl, |s| s.p99));
    hover(o, tl, tmax, |g| {
        let pre = if g.len() > 1 { "peak " } else { "" };
        format!(
            "{pre}p50 {}\n{pre}p95 {}\n{pre}p99 {}\n{pre}max {}",
            fmt_ms(peak(g, |s| s.p50)),
            fmt_ms(peak(g, |s| s.p95)),
            fmt_ms(peak(g, |s| s.p99)),
            fmt_ms(peak(g, |s| s.max))
        )
    });
    o.push_str("</svg>\n");
    if highest > top {
        w!(
            o,
            "<p class=\"note\">The max line is cut off at the top of the chart; it peaks at {}.</p>\n",
            fmt_ms(highest)
        );
    }
    o.push_str("</section>\n");
}

fn throughput_chart(o: &mut String, tl: &[Sec], closed: bool) {
    section_open(o, "Throughput and errors over time");
    if tl.is_empty() {
        o.push_str("<p class=\"empty\">no per-second data</p>\n</section>\n");
        return;
    }
    let tmax = time_max(tl, &[]);
    let has_target = tl.iter().any(|s| s.target.is_some());
    // A closed model's target is a number of VUs: it gets its own axis on the right.
    let right = closed && has_target;
    let target_max = peak(tl, |s| s.target.unwrap_or(0.0));
    let mut scale = peak(tl, |s| s.rps.max(s.eps));
    if has_target && !right {
        scale = scale.max(target_max);
    }
    let (top, step) = nice_axis(scale);
    let (vtop, vstep) = nice_axis(target_max);
    let target_label = if right { "target VUs (right axis)" } else { "target rate" };
    let mut items = vec![("requests/s", C_RPS, "line"), ("errors/s", C_ERR, "bar")];
    if has_target {
        items.push((target_label, C_TARGET, "dash"));
    }
    legend(o, &items);
    svg_open(o, "Throughput and errors over time");
    y_axis(o, top, step, Side::Left, "per second");
    if right {
        y_axis(o, vtop, vstep, Side::Right, "VUs");
    }
    time_axis(o, tmax);
    for s in tl.iter().filter(|s| s.eps > 0.0) {
        let x0 = x_of(s.t - s.dt, tmax);
        let x1 = x_of(s.t, tmax);
        let y = y_of(s.eps, top);
        w!(
            o,
            "<rect class=\"err\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{C_ERR}\" fill-opacity=\"0.6\"/>\n",
            c(x0 + 0.5),
            c(y),
            c((x1 - x0 - 1.0).max(0.8)),
            c((BOTTOM - y).max(0.0))
        );
    }
    let rps: Vec<(f64, f64)> = tl.iter().map(|s| (x_of(s.t, tmax), y_of(s.rps, top))).collect();
    polyline(o, "rps", C_RPS, 1.8, None, 1.0, &rps);
    if has_target {
        let axis_top = if right { vtop } else { top };
        let pts: Vec<(f64, f64)> =
            tl.iter().filter_map(|s| s.target.map(|v| (x_of(s.t, tmax), y_of(v, axis_top)))).collect();
        polyline(o, "target", C_TARGET, 1.5, Some("6 4"), 0.9, &pts);
    }
    let unit = if right { " VUs" } else { "/s" };
    hover(o, tl, tmax, |g| {
        let target = g.iter().filter_map(|s| s.target).reduce(f64::max);
        let target = target.map_or_else(String::new, |t| format!("\ntarget {}{unit}", fmt_dec(t)));
        if let [s] = g {
            format!(
                "requests {}\nerrors {}\nrequests/s {}{target}",
                fmt_count(s.requests),
                fmt_count(s.errors),
                fmt_dec(s.rps)
            )
        } else {
            let requests: f64 = g.iter().map(|s| s.requests).sum();
            let errors: f64 = g.iter().map(|s| s.errors).sum();
            format!(
                "requests {}\nerrors {}\npeak requests/s {}{target}",
                fmt_count(requests),
                fmt_count(errors),
                fmt_dec(peak(g, |s| s.rps))
            )
        }
    });
    o.push_str("</svg>\n</section>\n");
}

/// `latency_histogram_ms` regrouped into log-spaced display bins: bin `k` holds latencies in
/// `(10^((k-1)/BINS_PER_DECADE), 10^(k/BINS_PER_DECADE)]` ms.
fn histogram_bins(s: &Value) -> BTreeMap<i64, f64> {
    let mut bins = BTreeMap::new();
    for b in s.get("latency_histogram_ms").and_then(Value::as_array).into_iter().flatten() {
        let (Some(le), Some(count)) = (num(b, &["le"]), num(b, &["count"])) else { continue };
        let count = clean(count);
        if count <= 0.0 {
            continue;
        }
        let le = le.clamp(MIN_LATENCY_MS, MAX_PLOT);
        let k = (le.log10() * BINS_PER_DECADE - 1e-9).ceil() as i64;
        *bins.entry(k).or_insert(0.0) += count;
    }
    bins
}

fn histogram_chart(o: &mut String, s: &Value) {
    section_open(o, "Latency distribution");
    let bins = histogram_bins(s);
    let (Some((&kmin, _)), Some((&kmax, _))) = (bins.first_key_value(), bins.last_key_value()) else {
        o.push_str("<p class=\"empty\">no latency distribution data</p>\n</section>\n");
        return;
    };
    let dmin = ((kmin - 1) as f64 / BINS_PER_DECADE).floor();
    let mut dmax = (kmax as f64 / BINS_PER_DECADE).ceil();
    if dmax <= dmin {
        dmax = dmin + 1.0;
    }
    let fx = |v: f64| -> f64 {
        let r = ((v.log10() - dmin) / (dmax - dmin)).clamp(0.0, 1.0);
        let x = LEFT + r * (RIGHT - LEFT);
        if x.is_finite() {
            x
        } else {
            LEFT
        }
    };
    let total: f64 = bins.values().sum();
    let (top, step) = nice_axis(bins.values().copied().fold(0.0, f64::max));
    let marks: Vec<(&str, &str, f64)> = [("p50", C_P50), ("p95", C_P95), ("p99", C_P99)]
        .into_iter()
        .filter_map(|(k, color)| num(s, &["latency_ms", k]).filter(|v| *v > 0.0).map(|v| (k, color, v)))
        .collect();
    let mut items = vec![("responses per latency bucket", C_BAR, "bar")];
    items.extend(marks.iter().map(|&(k, color, _)| (k, color, "dash")));
    legend(o, &items);
    svg_open(o, "Latency distribution");
    y_axis(o, top, step, Side::Left, "responses");
    let mults: &[f64] = if dmax - dmin <= 4.0 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut d = dmin;
    while d <= dmax {
        for &m in mults {
            let v = m * 10f64.powf(d);
            if v.log10() > dmax + 1e-9 {
                continue;
            }
            let x = c(fx(v));
            w!(o, "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#adb5bd\"/>", c(BOTTOM), c(BOTTOM + 5.0));
            w!(o, "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", c(BOTTOM + 18.0), fmt_ms_short(v));
        }
        d += 1.0;
    }
    frame_lines(o);
    w!(
        o,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">latency (log scale)</text>\n",
        c((LEFT + RIGHT) / 2.0),
        c(H - 6.0)
    );
    for (&k, &count) in &bins {
        let lo = 10f64.powf((k - 1) as f64 / BINS_PER_DECADE);
        let hi = 10f64.powf(k as f64 / BINS_PER_DECADE);
        let (x0, x1) = (fx(lo), fx(hi));
        let y = y_of(count, top);
        let share = if total > 0.0 { fmt_pct(count / total) } else { fmt_pct(0.0) };
        w!(
            o,
            "<rect class=\"bin\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{C_BAR}\"><title>{}</title></rect>\n",
            c(x0 + 0.5),
            c(y),
            c((x1 - x0 - 1.0).max(0.8)),
            c((BOTTOM - y).max(0.0)),
            // All parts are formatted numbers (`share` may hold `&lt;`), so no escaping is needed.
            format_args!("{} \u{2013} {}: {} responses ({share})", fmt_ms(lo), fmt_ms(hi), fmt_count(count))
        );
    }
    for (i, &(label, color, v)) in marks.iter().enumerate() {
        let x = fx(v.clamp(MIN_LATENCY_MS, MAX_PLOT));
        w!(
            o,
            "<line class=\"mark\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"{color}\" stroke-dasharray=\"4 3\"/>",
            c(TOP),
            c(BOTTOM),
            x = c(x)
        );
        let (tx, anchor) = if x > RIGHT - 90.0 { (x - 4.0, "end") } else { (x + 4.0, "start") };
        w!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" stroke=\"#fff\" stroke-width=\"3\" \
             paint-order=\"stroke\" style=\"fill:{color}\">{label} {}</text>\n",
            c(tx),
            c(TOP + 10.0 + 12.0 * i as f64),
            fmt_ms(v)
        );
    }
    o.push_str("</svg>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TARGET: &str = "http://example.com/items?a=1&b=<2>";
    const EVIL: &str = "<script>alert(1)</script>";

    fn second(t: f64, requests: u64, errors: u64, p: [f64; 4], target: f64) -> Value {
        json!({
            "t": t, "requests": requests, "errors": errors, "bytes": requests.saturating_mul(100), "rps": requests as f64,
            "latency_ms": {"p50": p[0], "p90": p[1] * 0.9, "p95": p[1], "p99": p[2], "max": p[3], "mean": p[0]},
            "target": target,
        })
    }

    fn sample() -> Value {
        json!({
            "schema": "vitals.load.summary/v1",
            "target": TARGET,
            "started_at_unix_ms": 1_700_000_000_000_i64,
            "model": {"type": "open", "rate_per_sec": 200.0},
            "duration_seconds": 4.5,
            "cancelled": false,
            "requests": 900,
            "rps": 200.0,
            "errors": {"total": 9, "rate": 0.01, "connect": 1, "timeout": 2, "status": 6, "check": 0, "other": 0},
            "status_codes": {"200": 885, "503": 6},
            "latency_ms": {"count": 891, "min": 0.4, "mean": 12.0, "p50": 8.0, "p90": 20.0, "p95": 30.0,
                           "p99": 80.0, "p99.9": 120.0, "max": 150.0},
            "requests_by_name": {
                EVIL: {"requests": 600, "errors": 3, "latency_ms": {"p50": 7.0, "p95": 25.0, "p99": 70.0, "max": 140.0}},
                "create": {"requests": 300, "errors": 6, "latency_ms": {"p50": 9.0, "p95": 35.0, "p99": 90.0, "max": 150.0}},
            },
            "dropped_iterations": 0,
            "bytes_received": 90_000,
            "thresholds": [
                {"expr": "p95<500ms", "ok": true, "actual": 30.0},
                {"expr": "p99<50ms", "ok": false, "actual": 80.0},
                {"expr": "errors<1%", "ok": false, "actual": 0.01},
            ],
            "passed": false,
            "timeline": [
                second(1.0, 200, 0, [7.0, 25.0, 60.0, 100.0], 200.0),
                second(2.0, 200, 3, [8.0, 30.0, 80.0, 150.0], 200.0),
                second(3.0, 200, 6, [9.0, 35.0, 90.0, 140.0], 200.0),
                second(4.0, 200, 0, [8.0, 28.0, 70.0, 120.0], 200.0),
                second(4.5, 100, 0, [8.0, 29.0, 75.0, 110.0], 200.0),
            ],
            "latency_histogram_ms": [
                {"le": 0.5, "count": 10}, {"le": 8.0, "count": 500}, {"le": 8.2, "count": 100},
                {"le": 30.0, "count": 200}, {"le": 150.0, "count": 81},
            ],
            "phases_ms": {
                "connect": {"count": 50, "min": 0.1, "mean": 0.3, "p50": 0.2, "p90": 0.5, "p95": 0.6, "p99": 0.9,
                            "p99.9": 1.0, "max": 1.1},
                "ttfb": {"count": 891, "min": 0.3, "mean": 11.0, "p50": 7.5, "p90": 19.0, "p95": 29.0, "p99": 79.0,
                         "p99.9": 119.0, "max": 149.0},
            },
        })
    }

    /// The `points` of the polyline of series `class`, parsed; None when there is no such line.
    fn polyline_points(page: &str, class: &str) -> Option<Vec<(f64, f64)>> {
        let start = page.find(&format!("<polyline class=\"line {class}\""))?;
        let rest = &page[start..];
        let rest = &rest[rest.find("points=\"")? + 8..];
        let pts = &rest[..rest.find('"')?];
        Some(
            pts.split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').expect("x,y");
                    (x.parse().expect("x"), y.parse().expect("y"))
                })
                .collect(),
        )
    }

    /// Every polyline point lies inside the canvas.
    fn assert_points_in_canvas(page: &str) {
        for class in ["p50", "p95", "p99", "max", "base-p95", "rps", "target"] {
            for (x, y) in polyline_points(page, class).unwrap_or_default() {
                assert!((0.0..=W).contains(&x) && (0.0..=H).contains(&y), "{class}: ({x}, {y}) outside canvas");
            }
        }
    }

    fn assert_finite(page: &str) {
        assert!(!page.contains("NaN"), "NaN in output");
        assert!(!page.contains("inf"), "inf in output");
        assert_points_in_canvas(page);
    }

    #[test]
    fn is_a_complete_html_document() {
        let page = html(&sample(), None, "Nightly <run>");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        assert!(page.contains("<title>Nightly &lt;run&gt;</title>"));
        assert!(page.contains("<h1>Nightly &lt;run&gt;</h1>"));
        assert!(page.contains("2023-11-14 22:13:20 UTC"));
        assert!(page.contains("open, 200.0 req/s"));
        for heading in [
            "Thresholds",
            "Latency percentiles over time",
            "Throughput and errors over time",
            "Latency distribution",
            "Requests by name",
            "Status codes",
            "Errors by class",
            "Latency statistics",
        ] {
            assert!(page.contains(&format!("<h2>{heading}</h2>")), "missing section {heading}");
        }
        assert!(page.contains("time to first byte"));
        assert_eq!(page.matches("<svg").count(), 3);
        assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
        assert_finite(&page);
    }

    #[test]
    fn loads_no_external_resources() {
        let page = html(&sample(), Some(&sample()), "run");
        for needle in ["src=", "href=", "url(", "@import", "<link", "<script", "<iframe", "<img"] {
            assert!(!page.contains(needle), "found {needle}");
        }
        let escaped_target = esc(TARGET);
        assert_eq!(escaped_target, "http://example.com/items?a=1&amp;b=&lt;2&gt;");
        assert!(page.contains(&escaped_target));
        assert!(!page.contains(TARGET), "target not escaped");
        let rest = page.replace(&escaped_target, "");
        assert!(!rest.contains("http://") && !rest.contains("https://"), "URL other than the target text");
    }

    #[test]
    fn names_from_the_json_are_escaped() {
        let page = html(&sample(), None, "run");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains(EVIL));
        assert!(!page.contains("<script"));
    }

    #[test]
    fn one_polyline_point_per_timeline_entry() {
        let summary = sample();
        let page = html(&summary, None, "run");
        let n = summary["timeline"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(n, 5);
        for class in ["p50", "p95", "p99", "max", "rps", "target"] {
            let pts = polyline_points(&page, class).unwrap_or_else(|| panic!("no {class} line"));
            assert_eq!(pts.len(), n, "{class}");
        }
        // Time increases left to right and p99 is drawn above (smaller y than) p50.
        let p95 = polyline_points(&page, "p95").unwrap_or_default();
        assert!(p95.windows(2).all(|w| w[0].0 < w[1].0));
        let (p50, p99) =
            (polyline_points(&page, "p50").unwrap_or_default(), polyline_points(&page, "p99").unwrap_or_default());
        assert!(p50.iter().zip(&p99).all(|(a, b)| b.1 < a.1));
        // The last point is at the right edge of the plot, the first at 1/4.5 of its width.
        assert_eq!(p95.last().map(|p| p.0), Some(RIGHT));
        assert!((p95[0].0 - (LEFT + (RIGHT - LEFT) / 4.5)).abs() < 0.1);
        assert_points_in_canvas(&page);
    }

    #[test]
    fn all_zero_and_empty_timelines_have_no_nan_or_inf() {
        let mut zero = sample();
        zero["timeline"] = json!((1..=4).map(|t| second(f64::from(t), 0, 0, [0.0; 4], 0.0)).collect::<Vec<_>>());
        zero["latency_histogram_ms"] = json!([]);
        let page = html(&zero, None, "zero");
        assert_finite(&page);
        assert_eq!(polyline_points(&page, "p95").map(|p| p.len()), Some(4));
        assert!(page.contains("no latency distribution data"));

        let mut empty = sample();
        empty["timeline"] = json!([]);
        let page = html(&empty, Some(&zero), "empty");
        assert_finite(&page);
        assert_eq!(page.matches("no per-second data").count(), 2);
        assert!(polyline_points(&page, "p95").is_none());
    }

    #[test]
    fn a_single_point_is_drawn_as_a_dot() {
        let mut one = sample();
        one["timeline"] = json!([second(0.4, 10, 0, [1.0, 2.0, 3.0, 4.0], 5.0)]);
        let page = html(&one, None, "one");
        assert_finite(&page);
        assert_eq!(polyline_points(&page, "p95").map(|p| p.len()), Some(1));
        assert!(page.contains("<circle class=\"dot p95\""));
    }

    #[test]
    fn missing_keys_render_no_data() {
        for summary in [json!({}), json!(null), json!([1, 2]), json!({"latency_ms": "x", "timeline": {"t": 1}})] {
            let page = html(&summary, Some(&json!({})), "");
            assert!(page.starts_with("<!DOCTYPE html>"));
            assert!(page.contains("no data"));
            assert!(page.contains("no per-second data"));
            assert!(page.contains("Load test report"));
            assert!(page.contains("NO DATA"));
            assert_finite(&page);
        }
        // Entries with missing keys still give one point each.
        let partial = json!({"timeline": [{}, {"t": 2}, {"latency_ms": {}}]});
        let page = html(&partial, None, "partial");
        assert_eq!(polyline_points(&page, "p95").map(|p| p.len()), Some(3));
        assert_finite(&page);
    }

    #[test]
    fn very_large_values_stay_in_the_canvas() {
        let mut big = sample();
        big["requests"] = json!(u64::MAX);
        big["rps"] = json!(1e300);
        big["bytes_received"] = json!(1e300);
        big["duration_seconds"] = json!(1e300);
        big["started_at_unix_ms"] = json!(i64::MAX);
        big["latency_ms"]["max"] = json!(f64::MAX);
        big["timeline"] = json!([
            second(1.0, u64::MAX, u64::MAX, [1e300, f64::MAX, f64::MAX, f64::MAX], 1e300),
            second(1e300, 1, 0, [1.0, 2.0, 3.0, 4.0], 1.0),
        ]);
        big["latency_histogram_ms"] =
            json!([{"le": 1e300, "count": u64::MAX}, {"le": 0.0, "count": 1}, {"le": -5, "count": 2}]);
        let page = html(&big, Some(&big), "big");
        assert_finite(&page);
        assert_eq!(polyline_points(&page, "p95").map(|p| p.len()), Some(2));
    }

    #[test]
    fn baseline_adds_comparison_and_dashed_line() {
        let summary = sample();
        let without = html(&summary, None, "run");
        assert!(!without.contains("Comparison with baseline"));
        assert!(polyline_points(&without, "base-p95").is_none());

        let mut base = sample();
        base["latency_ms"]["p95"] = json!(20.0);
        base["timeline"] = json!([
            second(1.0, 200, 0, [5.0, 20.0, 40.0, 60.0], 200.0),
            second(2.0, 200, 0, [5.0, 21.0, 40.0, 60.0], 200.0),
            second(3.0, 200, 0, [5.0, 19.0, 40.0, 60.0], 200.0),
        ]);
        let with = html(&summary, Some(&base), "run");
        assert!(with.contains("<h2>Comparison with baseline</h2>"));
        assert!(with.contains("<table class=\"comparison\">"));
        // p95 went from 20 to 30 ms: +50%, a regression.
        assert!(with.contains(
            "<td>Latency p95</td><td>20.0 ms</td><td>30.0 ms</td><td><span class=\"worse\">+50.0%</span></td>"
        ));
        let start = with.find("<polyline class=\"line base-p95\"").expect("baseline line");
        let tag = &with[start..start + with[start..].find("/>").expect("end of tag")];
        assert!(tag.contains("stroke-dasharray"));
        assert_eq!(polyline_points(&with, "base-p95").map(|p| p.len()), Some(3));
        assert!(with.contains("baseline p95"));
        assert_finite(&with);
    }

    #[test]
    fn thresholds_show_pass_and_fail() {
        let page = html(&sample(), None, "run");
        assert!(page.contains("<span class=\"badge fail\">FAIL</span>"));
        assert!(page.contains(
            "<tr><td class=\"name\">p99&lt;50ms</td><td>80.0 ms</td><td><span class=\"fail\">FAIL</span></td></tr>"
        ));
        assert!(page.contains(
            "<tr><td class=\"name\">p95&lt;500ms</td><td>30.0 ms</td><td><span class=\"ok\">PASS</span></td></tr>"
        ));
        assert!(page.contains("<td class=\"name\">errors&lt;1%</td><td>1.00%</td>"));

        let mut ok = sample();
        ok["passed"] = json!(true);
        ok["thresholds"] = json!([{"expr": "p95<500ms", "ok": true, "actual": null}]);
        let page = html(&ok, None, "run");
        assert!(page.contains("<span class=\"badge pass\">PASS</span>"));
        assert!(!page.contains("FAIL"));
        assert!(page.contains("<td class=\"name\">p95&lt;500ms</td><td><span class=\"nd\">no data</span></td>"));
    }

    #[test]
    fn histogram_bars_are_log_spaced() {
        let page = html(&sample(), None, "run");
        // 8.0 and 8.2 ms fall into the same display bin.
        assert_eq!(page.matches("<rect class=\"bin\"").count(), 4);
        assert!(page.contains(">1 ms</text>") && page.contains(">10 ms</text>") && page.contains(">100 ms</text>"));
        assert!(page.contains("<line class=\"mark\""));
        let bins = histogram_bins(&sample());
        assert_eq!(bins.values().sum::<f64>(), 891.0);
    }

    #[test]
    fn a_max_outlier_is_cut_off_with_a_note() {
        let page = html(&sample(), None, "run");
        assert!(!page.contains("The max line is cut off"));
        let mut spike = sample();
        spike["timeline"][2]["latency_ms"]["max"] = json!(5000.0);
        let page = html(&spike, None, "run");
        assert!(page.contains("The max line is cut off at the top of the chart; it peaks at 5000 ms."));
        // p99 peaks at 90 ms: the axis goes to 200 ms, the spike is drawn at the top of the plot.
        let max = polyline_points(&page, "max").unwrap_or_default();
        assert_eq!(max.len(), 5);
        assert_eq!(max[2].1, TOP);
        assert!(page.contains(">200</text>") && !page.contains(">250</text>"));
    }

    #[test]
    fn closed_model_target_gets_a_right_axis() {
        let mut closed = sample();
        closed["model"] = json!({"type": "closed", "vus": 10});
        let page = html(&closed, None, "run");
        assert!(page.contains("closed, 10 VUs"));
        assert!(page.contains("target VUs (right axis)"));
        assert!(page.contains("rotate(90 "));
        assert_finite(&page);
    }

    #[test]
    fn nice_axis_uses_1_2_5_steps() {
        assert_eq!(nice_axis(0.0), (1.0, 0.2));
        assert_eq!(nice_axis(f64::NAN), (1.0, 0.2));
        assert_eq!(nice_axis(7.3), (8.0, 2.0));
        assert_eq!(nice_axis(1234.0), (1500.0, 500.0));
        assert_eq!(nice_axis(100.0), (100.0, 20.0));
        for max in [0.003, 0.7, 3.0, 42.0, 999.0, 12_345.0, 7e9, 1e15] {
            let (top, step) = nice_axis(max);
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6), "{max}: step {step}");
            assert!(top >= max * (1.0 - 1e-9) && top < max + step * (1.0 + 1e-9), "{max}: top {top}");
            assert!((2..=7).contains(&ticks(top, step).len()), "{max}");
        }
        assert_eq!(fmt_tick(0.6000000000000001, 0.2, 1.0), "0.6");
        assert_eq!(fmt_tick(15_000.0, 5000.0, 20_000.0), "15k");
    }

    #[test]
    fn formats_dates_and_numbers() {
        assert_eq!(fmt_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_utc(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(fmt_utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(fmt_utc(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(vitals_model::civil::civil_from_days(-719_468), (0, 3, 1));
        assert_eq!(fmt_count(1_234_567.0), "1,234,567");
        assert_eq!(fmt_count(999.0), "999");
        assert_eq!(fmt_ms(0.412), "0.412 ms");
        assert_eq!(fmt_ms(853.5), "853.5 ms");
        assert_eq!(fmt_ms(12_345.0), "12.35 s");
        assert_eq!(fmt_bytes(24_000.0), "23.4 KiB");
        assert_eq!(fmt_duration(3.0004), "3.0 s");
        assert_eq!(fmt_duration(125.0), "2 min 5 s");
        assert_eq!(fmt_pct(0.0002), "0.02%");
        assert_eq!(fmt_pct(0.00001), "&lt;0.01%");
        assert_eq!(c(f64::NAN), "0");
        assert_eq!(c(-0.01), "0");
        assert_eq!(c(12.26), "12.3");
        assert_eq!(esc("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
    }
}
