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
    /// Only the requests of this scenario request name (`p95{name=login}<300ms`); `None` for all.
    pub scope: Option<String>,
    /// What is tested.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// The bound, in milliseconds for latency metrics.
    pub value: f64,
}

impl Threshold {
    /// Parses `p95<500ms`, `p99<=1s`, `max<2s`, `errors<0.01` (or `errors<1%`), `rps>100`, `dropped<=0`;
    /// `METRIC{name=NAME}` (or `{name:NAME}`) limits it to one scenario request.
    pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
        let expr = expr.trim();
        let (scope, rest) = split_scope(expr).map_err(|_| ThresholdError::MissingOperator(expr.to_string()))?;
        let mut t = Threshold::parse_unscoped(&rest, expr)?;
        t.scope = scope;
        Ok(t)
    }

    /// Parses one of k6's threshold expressions for a k6 metric key, as a scenario's `thresholds:` map
    /// has them: `http_req_duration: [p(95)<500, avg<200, med<100, max<2000]` (ms, or with a unit),
    /// `http_req_failed` / `errors: [rate<0.01]`, `http_reqs: [rate>100]`, `dropped_iterations:
    /// [count<=0]`; the key may carry `{name:NAME}`.
    pub fn parse_k6(key: &str, expr: &str) -> Result<Threshold, ThresholdError> {
        let whole = format!("{key}: {expr}");
        let (scope, metric_key) =
            split_scope(key.trim()).map_err(|_| ThresholdError::MissingOperator(whole.clone()))?;
        let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
        let pos = compact.find(['<', '>']).ok_or_else(|| ThresholdError::MissingOperator(whole.clone()))?;
        let (agg, cmp) = compact.split_at(pos);
        let unknown = || ThresholdError::UnknownMetric { expr: whole.clone(), metric: format!("{metric_key} {agg}") };
        let ours = match (metric_key.as_str(), agg) {
            ("http_req_duration", a) => {
                let m = if let Some(p) = a.strip_prefix("p(").and_then(|p| p.strip_suffix(')')) {
                    let q: f64 = p.parse().map_err(|_| unknown())?;
                    match q {
                        50.0 => "p50",
                        90.0 => "p90",
                        95.0 => "p95",
                        99.0 => "p99",
                        99.9 => "p99.9",
                        _ => return Err(unknown()),
                    }
                } else {
                    match a {
                        "avg" => "mean",
                        "med" => "p50",
                        "max" => "max",
                        _ => return Err(unknown()),
                    }
                };
                // k6 writes durations as plain milliseconds.
                let value = cmp.trim_start_matches(['<', '>', '=']);
                let unit = if value.chars().all(|c| c.is_ascii_digit() || c == '.') { "ms" } else { "" };
                format!("{m}{cmp}{unit}")
            }
            ("http_req_failed" | "errors", "rate") => format!("errors{cmp}"),
            ("http_reqs", "rate") => format!("rps{cmp}"),
            ("dropped_iterations", "count") => format!("dropped{cmp}"),
            _ => return Err(unknown()),
        };
        let mut t = Threshold::parse_unscoped(&ours, &whole)?;
        t.scope = scope;
        Ok(t)
    }

    fn parse_unscoped(expr: &str, whole: &str) -> Result<Threshold, ThresholdError> {
        let expr_text = whole;
        let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
        let expr = expr_text;
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
        Ok(Threshold { expr: expr.to_string(), scope: None, metric, op, value })
    }

    /// The metric's value in `summary` (or in its request `scope`), or `None` when there is no data
    /// (no responses for latencies, no requests of that name).
    pub fn actual(&self, summary: &Summary) -> Option<f64> {
        let (l, requests, errors) = match &self.scope {
            None => (&summary.latency, summary.requests, summary.errors.total()),
            Some(name) => {
                let r = summary.requests_by_name.get(name)?;
                (&r.latency, r.requests, r.errors)
            }
        };
        let responses = l.count > 0;
        let secs = summary.duration.as_secs_f64();
        match self.metric {
            Metric::Quantile(q) => responses.then(|| l.quantile(q)),
            Metric::Max => responses.then_some(l.max),
            Metric::Mean => responses.then_some(l.mean),
            Metric::Errors => Some(if requests == 0 { 0.0 } else { errors as f64 / requests as f64 }),
            Metric::Rps if self.scope.is_none() => Some(summary.rps),
            Metric::Rps => Some(if secs > 0.0 { requests as f64 / secs } else { 0.0 }),
            Metric::Dropped => Some(summary.dropped_iterations as f64),
        }
    }

    /// How far `actual` is past the bound, in the metric's unit (positive when broken), for reports.
    pub fn excess(&self, actual: f64) -> f64 {
        match self.op {
            Op::Lt | Op::Le => actual - self.value,
            Op::Gt | Op::Ge => self.value - actual,
        }
    }

    /// The unit the metric's values are in, for reports: `ms`, `/s`, `ratio` (0..1) or `count`.
    pub fn unit(&self) -> &'static str {
        match self.metric {
            Metric::Quantile(_) | Metric::Max | Metric::Mean => "ms",
            Metric::Rps => "/s",
            Metric::Errors => "ratio",
            Metric::Dropped => "count",
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

/// Splits `p95{name=login}<300ms` into the scope (`login`) and `p95<300ms`.
fn split_scope(expr: &str) -> Result<(Option<String>, String), ()> {
    let Some(open) = expr.find('{') else { return Ok((None, expr.to_string())) };
    let close = expr[open..].find('}').ok_or(())? + open;
    let inner = expr[open + 1..close].trim();
    let name = inner
        .strip_prefix("name")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('=').or_else(|| r.strip_prefix(':')))
        .map(|n| n.trim().trim_matches('"').to_string())
        .filter(|n| !n.is_empty())
        .ok_or(())?;
    Ok((Some(name), format!("{}{}", &expr[..open], &expr[close + 1..])))
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
    fn scopes_and_k6_syntax() {
        let t = Threshold::parse("p95{name=GET /items}<300ms").unwrap();
        assert_eq!((t.scope.as_deref(), t.metric, t.value), (Some("GET /items"), Metric::Quantile(0.95), 300.0));
        assert_eq!(t.expr, "p95{name=GET /items}<300ms");
        let t = Threshold::parse("errors{name:login} < 1%").unwrap();
        assert_eq!((t.scope.as_deref(), t.metric, t.value), (Some("login"), Metric::Errors, 0.01));
        type Case<'a> = (&'a str, &'a str, Metric, Op, f64, Option<&'a str>);
        let k6: &[Case] = &[
            ("http_req_duration", "p(95)<500", Metric::Quantile(0.95), Op::Lt, 500.0, None),
            ("http_req_duration", "p(99.9) <= 2s", Metric::Quantile(0.999), Op::Le, 2000.0, None),
            ("http_req_duration{name:login}", "avg<200", Metric::Mean, Op::Lt, 200.0, Some("login")),
            ("http_req_duration", "med<100", Metric::Quantile(0.5), Op::Lt, 100.0, None),
            ("http_req_failed", "rate<0.01", Metric::Errors, Op::Lt, 0.01, None),
            ("http_reqs", "rate>100", Metric::Rps, Op::Gt, 100.0, None),
            ("dropped_iterations", "count<=0", Metric::Dropped, Op::Le, 0.0, None),
        ];
        for (key, expr, metric, op, value, scope) in k6 {
            let t = Threshold::parse_k6(key, expr).unwrap_or_else(|e| panic!("{key}: {expr}: {e}"));
            assert_eq!((t.metric, t.op, t.scope.as_deref()), (*metric, *op, *scope), "{key}: {expr}");
            assert!((t.value - value).abs() < 1e-9, "{key}: {expr}: {}", t.value);
            assert_eq!(t.expr, format!("{key}: {expr}"));
        }
        assert!(Threshold::parse_k6("http_req_duration", "p(42)<1")
            .unwrap_err()
            .to_string()
            .contains("unknown metric"));
        assert!(Threshold::parse_k6("vus", "value>1").is_err());
        assert_eq!(Threshold::parse("p95<500ms").unwrap().excess(612.5), 112.5);
        assert_eq!(Threshold::parse("rps>100").unwrap().excess(80.0), 20.0);
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
            ("p95{job=x}<1s", "expected METRIC OP VALUE"),
        ];
        for (expr, want) in cases {
            let e = Threshold::parse(expr).expect_err(expr).to_string();
            assert!(e.contains(want), "{expr}: {e}");
        }
    }
}
