//! Pass/fail conditions on a run's summary: `p95<500ms`, `p99<=1s`, `errors<0.01`, `rps>100`.

use std::fmt;

use crate::config::parse_duration;
use crate::summary::Summary;

/// Errors in a threshold expression.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThresholdError {
    /// No comparison operator (`<`, `<=`, `>`, `>=`) was found.
    #[error("threshold {0:?}: expected METRIC OP VALUE with OP one of <, <=, >, >= (e.g. p95<500ms)")]
    MissingOperator(String),
    /// The metric name is not known.
    #[error("threshold {expr:?}: unknown metric {metric:?}; known: p50, p90, p95, p99, p99.9, max, mean, errors, rps, dropped")]
    UnknownMetric {
        /// The whole expression.
        expr: String,
        /// The metric as written.
        metric: String,
    },
    /// The value does not fit the metric (a duration for latencies, a number otherwise).
    #[error("threshold {expr:?}: invalid value {value:?}: {expected}")]
    InvalidValue {
        /// The whole expression.
        expr: String,
        /// The value as written.
        value: String,
        /// What the metric expects.
        expected: &'static str,
    },
}

/// A metric of the summary that a threshold can test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A latency quantile in milliseconds (0.5, 0.9, 0.95, 0.99, 0.999).
    Quantile(f64),
    /// The largest latency in milliseconds.
    Max,
    /// The mean latency in milliseconds.
    Mean,
    /// The error rate: errors / requests (0 when no requests were made).
    Errors,
    /// Completed requests per second.
    Rps,
    /// Dropped iterations of the open model (a count).
    Dropped,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A parsed threshold: `metric op value`, the value in the metric's unit (ms for latencies).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written (trimmed).
    pub expr: String,
    /// What is tested.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// The bound, in milliseconds for latency metrics.
    pub value: f64,
}

impl Threshold {
    /// Parses `p95<500ms`, `p99<=1s`, `max<2s`, `errors<0.01` (or `errors<1%`), `rps>100`, `dropped<=0`.
    pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
        let expr = expr.trim();
        let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
        let pos = compact.find(['<', '>']).ok_or_else(|| ThresholdError::MissingOperator(expr.to_string()))?;
        let (metric, rest) = compact.split_at(pos);
        let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            (Op::Gt, &rest[1..])
        };
        let metric = parse_metric(metric)
            .ok_or_else(|| ThresholdError::UnknownMetric { expr: expr.to_string(), metric: metric.to_string() })?;
        let invalid =
            |expected| ThresholdError::InvalidValue { expr: expr.to_string(), value: value.to_string(), expected };
        let value = match metric {
            Metric::Quantile(_) | Metric::Max | Metric::Mean => match parse_duration(value) {
                Ok(d) => d.as_secs_f64() * 1e3,
                Err(_) => return Err(invalid("a duration such as 500ms or 1s")),
            },
            Metric::Errors => match value.strip_suffix('%') {
                Some(p) => p.parse::<f64>().map(|p| p / 100.0),
                None => value.parse::<f64>(),
            }
            .ok()
            .filter(|v| (0.0..=1.0).contains(v))
            .ok_or_else(|| invalid("a rate between 0 and 1, or a percentage such as 1%"))?,
            Metric::Rps | Metric::Dropped => value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| invalid("a non-negative number"))?,
        };
        Ok(Threshold { expr: expr.to_string(), metric, op, value })
    }

    /// The metric's value in `summary`, or `None` when there is no data (no responses for latencies).
    pub fn actual(&self, summary: &Summary) -> Option<f64> {
        let responses = summary.latency.count > 0;
        let l = &summary.latency;
        match self.metric {
            Metric::Quantile(q) => responses.then(|| l.quantile(q)),
            Metric::Max => responses.then_some(l.max),
            Metric::Mean => responses.then_some(l.mean),
            Metric::Errors => Some(summary.error_rate()),
            Metric::Rps => Some(summary.rps),
            Metric::Dropped => Some(summary.dropped_iterations as f64),
        }
    }

    /// Whether `actual` satisfies the threshold; no data never does.
    pub fn holds(&self, actual: Option<f64>) -> bool {
        let Some(a) = actual else { return false };
        match self.op {
            Op::Lt => a < self.value,
            Op::Le => a <= self.value,
            Op::Gt => a > self.value,
            Op::Ge => a >= self.value,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

impl std::str::FromStr for Threshold {
    type Err = ThresholdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Threshold::parse(s)
    }
}

fn parse_metric(m: &str) -> Option<Metric> {
    Some(match m.to_ascii_lowercase().as_str() {
        "p50" | "median" => Metric::Quantile(0.5),
        "p90" => Metric::Quantile(0.9),
        "p95" => Metric::Quantile(0.95),
        "p99" => Metric::Quantile(0.99),
        "p99.9" | "p999" => Metric::Quantile(0.999),
        "max" => Metric::Max,
        "mean" | "avg" => Metric::Mean,
        "errors" | "error_rate" => Metric::Errors,
        "rps" => Metric::Rps,
        "dropped" => Metric::Dropped,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table() {
        let cases: &[(&str, Metric, Op, f64)] = &[
            ("p95<500ms", Metric::Quantile(0.95), Op::Lt, 500.0),
            ("p99<=1s", Metric::Quantile(0.99), Op::Le, 1000.0),
            ("p99.9 < 250us", Metric::Quantile(0.999), Op::Lt, 0.25),
            ("max<2s", Metric::Max, Op::Lt, 2000.0),
            ("errors<0.01", Metric::Errors, Op::Lt, 0.01),
            ("errors<=5%", Metric::Errors, Op::Le, 0.05),
            ("rps>100", Metric::Rps, Op::Gt, 100.0),
            ("rps >= 99.5", Metric::Rps, Op::Ge, 99.5),
            ("dropped<=0", Metric::Dropped, Op::Le, 0.0),
        ];
        for (expr, metric, op, value) in cases {
            let t = Threshold::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert_eq!((t.metric, t.op), (*metric, *op), "{expr}");
            assert!((t.value - value).abs() < 1e-9, "{expr}: {}", t.value);
        }
    }

    #[test]
    fn rejects_with_clear_errors() {
        let cases: &[(&str, &str)] = &[
            ("p95 500ms", "expected METRIC OP VALUE"),
            ("p42<1s", "unknown metric \"p42\""),
            ("p95<500", "a duration such as 500ms"),
            ("p95<fast", "a duration"),
            ("errors<2", "between 0 and 1"),
            ("rps>-3", "non-negative number"),
            ("<5", "unknown metric \"\""),
        ];
        for (expr, want) in cases {
            let e = Threshold::parse(expr).expect_err(expr).to_string();
            assert!(e.contains(want), "{expr}: {e}");
        }
    }
}
