//! Query results in the exact JSON of Prometheus' HTTP API: `[<seconds>, "<value>"]` points with
//! millisecond timestamps written as Prometheus writes them, values formatted as Go's
//! `strconv.FormatFloat` (shortest representation, `+Inf`, `-Inf`, `NaN`), `stats` and the
//! `warnings`/`infos` lists beside `data`. Written by hand: results can be large, and the number
//! formats must match byte for byte.

use std::fmt::Write as _;

use vitals_model::Labels;
use vitals_promql::{QueryStats, Value};

/// Timings measured around the engine, for `stats`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timings {
    /// Seconds the query waited for a worker thread.
    pub queue_seconds: f64,
    /// Seconds from the request reaching the handler to the engine's answer.
    pub exec_total_seconds: f64,
}

/// A successful query answer: `data` with `resultType`, `result` (at most `limit` series) and,
/// when asked, `stats`; then `warnings` and `infos` when there are any (`truncated` adds Prometheus'
/// "results truncated due to limit" warning).
pub(crate) fn success(
    value: &Value,
    limit: usize,
    stats: Option<(&QueryStats, Timings)>,
    warnings: &[String],
    infos: &[String],
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"status":"success","data":{"resultType":""#);
    out.push_str(value.type_name());
    out.push_str(r#"","result":"#);
    let truncated = result(&mut out, value, limit);
    if let Some((s, t)) = stats {
        out.push_str(r#","stats":"#);
        write_stats(&mut out, s, t);
    }
    out.push('}');
    let mut warnings: Vec<&str> = warnings.iter().map(String::as_str).collect();
    if truncated {
        warnings.push("results truncated due to limit");
    }
    string_list(&mut out, "warnings", &warnings);
    string_list(&mut out, "infos", &infos.iter().map(String::as_str).collect::<Vec<_>>());
    out.push('}');
    out
}

/// Writes `result`; returns whether series were left out because of `limit`.
fn result(out: &mut String, value: &Value, limit: usize) -> bool {
    match value {
        Value::Scalar { t, v } => point(out, *t, *v),
        Value::String { t, v } => {
            out.push('[');
            timestamp(out, *t);
            out.push(',');
            json_string(out, v);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().take(limit).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                metric(out, &s.labels);
                out.push_str(r#","value":"#);
                point(out, s.t, s.v);
                out.push('}');
            }
            out.push(']');
            return samples.len() > limit;
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().take(limit).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                metric(out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, p) in s.floats.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    point(out, p.t, p.v);
                }
                out.push_str("]}");
            }
            out.push(']');
            return series.len() > limit;
        }
    }
    false
}

/// Prometheus' `stats` object (`stats.QueryStats`): timings in seconds and sample counts.
fn write_stats(out: &mut String, s: &QueryStats, t: Timings) {
    let inner = (s.eval_seconds - s.sort_seconds).max(0.0);
    let eval_total = s.prepare_seconds + s.eval_seconds;
    let _ = write!(
        out,
        r#"{{"timings":{{"evalTotalTime":{},"resultSortTime":{},"queryPreparationTime":{},"innerEvalTime":{},"execQueueTime":{},"execTotalTime":{}}},"samples":{{"totalQueryableSamples":{},"peakSamples":{}}}}}"#,
        seconds(eval_total),
        seconds(s.sort_seconds),
        seconds(s.prepare_seconds),
        seconds(inner),
        seconds(t.queue_seconds),
        seconds(t.exec_total_seconds.max(eval_total + t.queue_seconds)),
        s.total_queryable_samples,
        s.peak_samples,
    );
}

/// A duration as a JSON number (finite, non-negative).
fn seconds(s: f64) -> f64 {
    if s.is_finite() {
        s.max(0.0)
    } else {
        0.0
    }
}

/// `,"<key>":[...]` when `list` is not empty.
fn string_list(out: &mut String, key: &str, list: &[&str]) {
    if list.is_empty() {
        return;
    }
    let _ = write!(out, r#","{key}":["#);
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, s);
    }
    out.push(']');
}

/// A label set as a JSON object, in label order.
fn metric(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, l.name.as_str());
        out.push(':');
        json_string(out, l.value.as_str());
    }
    out.push('}');
}

/// `[<seconds>,"<value>"]`.
fn point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    timestamp(out, t);
    out.push_str(",\"");
    format_value(out, v);
    out.push_str("\"]");
}

/// Milliseconds as seconds, the way Prometheus' `marshalTimestamp` writes them: the whole
/// seconds, then `.` and the three millisecond digits unless they are all zero (`1.5` is `1.500`).
pub(crate) fn timestamp(out: &mut String, t: i64) {
    let abs = t.unsigned_abs();
    if t < 0 {
        out.push('-');
    }
    let _ = write!(out, "{}", abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// A float as Prometheus formats sample values: Go's `strconv.FormatFloat(v, 'f', -1, 64)`, or
/// `'e'` below 1e-6 and from 1e21 on (magnitude), and `+Inf`, `-Inf`, `NaN`.
pub(crate) fn format_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let abs = v.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            // Rust writes `1.5e21` / `1e-7`; Go writes `1.5e+21` / `1e-07`.
            let s = format!("{v:e}");
            let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let exp: i32 = exp.parse().unwrap_or(0);
            let sign = if exp < 0 { '-' } else { '+' };
            let _ = write!(out, "{mantissa}e{sign}{:02}", exp.unsigned_abs());
        } else {
            // Rust's `Display` for f64 is the shortest text that reads back the same, never with
            // an exponent: the same digits as Go's 'f' with precision -1.
            let _ = write!(out, "{v}");
        }
    }
}

/// A JSON string literal.
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitals_promql::{FPoint, InstantSample, RangeSeries};

    fn value(v: f64) -> String {
        let mut s = String::new();
        format_value(&mut s, v);
        s
    }

    fn ts(t: i64) -> String {
        let mut s = String::new();
        timestamp(&mut s, t);
        s
    }

    #[test]
    fn values_format_like_go() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-07"),
            (-2.5e-10, "-2.5e-10"),
            (123456789.125, "123456789.125"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (v, want) in cases {
            assert_eq!(value(*v), *want, "{v:?}");
        }
    }

    #[test]
    fn timestamps_format_like_prometheus() {
        assert_eq!(ts(1_700_000_000_123), "1700000000.123");
        assert_eq!(ts(1_700_000_000_000), "1700000000");
        assert_eq!(ts(1_700_000_000_050), "1700000000.050");
        assert_eq!(ts(1_500), "1.500");
        assert_eq!(ts(-1_500), "-1.500");
        assert_eq!(ts(0), "0");
    }

    #[test]
    fn shapes() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]);
        let v = Value::Vector(vec![
            InstantSample { labels: l.clone(), t: 1_000, v: 1.0 },
            InstantSample { labels: Labels::default(), t: 1_000, v: f64::NAN },
        ]);
        assert_eq!(
            success(&v, usize::MAX, None, &[], &[]),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1,"1"]},{"metric":{},"value":[1,"NaN"]}]}}"#
        );
        assert_eq!(
            success(&v, 1, None, &["w".into()], &["i".into()]),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1,"1"]}]},"warnings":["w","results truncated due to limit"],"infos":["i"]}"#
        );
        let m = Value::Matrix(vec![RangeSeries {
            labels: l,
            floats: vec![FPoint { t: 0, v: 1.0 }, FPoint { t: 15_001, v: 2.5 }],
        }]);
        assert_eq!(
            success(&m, usize::MAX, None, &[], &[]),
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\"b"},"values":[[0,"1"],[15.001,"2.5"]]}]}}"#
        );
        let s = Value::Scalar { t: 1_700_000_000_123, v: 2.0 };
        assert_eq!(
            success(&s, 0, None, &[], &[]),
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"2"]}}"#
        );
        let s = Value::String { t: 5, v: "a\nb".into() };
        assert_eq!(
            success(&s, 0, None, &[], &[]),
            r#"{"status":"success","data":{"resultType":"string","result":[0.005,"a\nb"]}}"#
        );
        let stats = QueryStats { prepare_seconds: 0.25, eval_seconds: 0.5, sort_seconds: 0.125, ..Default::default() };
        let j: serde_json::Value = serde_json::from_str(&success(
            &s,
            0,
            Some((&stats, Timings { queue_seconds: 0.0625, exec_total_seconds: 1.0 })),
            &[],
            &[],
        ))
        .unwrap();
        let t = &j["data"]["stats"]["timings"];
        assert_eq!(t["evalTotalTime"], 0.75);
        assert_eq!(t["innerEvalTime"], 0.375);
        assert_eq!(t["execQueueTime"], 0.0625);
        assert_eq!(t["execTotalTime"], 1.0);
        assert_eq!(j["data"]["stats"]["samples"]["peakSamples"], 0);
    }
}
