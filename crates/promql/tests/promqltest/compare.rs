//! Checking a query's outcome against an eval's expectations (conformance README §3), with the
//! same rules and, where useful, the same error texts as upstream's runner.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;
use vitals_model::is_stale_nan;
use vitals_promql::{InstantSample, QueryError, QueryResult, RangeSeries, Value};

use crate::script::{Eval, Item, TextMatch};

/// Relative error allowed between expected and actual floats.
const EPSILON: f64 = 1e-6;

/// The timestamps an expected matrix's positions stand for: `start + i * step`, up to `end`
/// (`None`: an instant eval without `expect range vector`, which can't expect any point).
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub start: i64,
    pub end: Option<i64>,
    pub step: i64,
}

/// Upstream's `almost.Equal`: identical, both NaN, or relative difference below `EPSILON`; with
/// a zero on either side the difference must be below `EPSILON * f64::MIN_POSITIVE`. A stale
/// marker only equals a stale marker.
pub fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

static TRAILING_POSITION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s*\(\d+:\d+\)$").unwrap());
static PATTERN_TRAILING_POSITION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s*\\\([0-9\[\]:+*\-]+\\\)$").unwrap());
static LEADING_POSITION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d+:\d+: ").unwrap());

/// `text` without a trailing ` (L:C)` position.
pub fn strip_position(text: &str) -> &str {
    match TRAILING_POSITION.find(text) {
        Some(m) => &text[..m.start()],
        None => text,
    }
}

impl TextMatch {
    /// Matches an annotation or error text. Positions are not compared: our engine may not add
    /// them, so a trailing ` (L:C)` (or a leading `L:C: `) is ignored on both sides.
    pub fn matches(&self, actual: &str) -> bool {
        match self {
            // Upstream uses `^.*$`, which fails on multi-line texts; "any" is what is meant.
            TextMatch::Any => true,
            TextMatch::Msg(want) => {
                let norm = |s: &str| -> String {
                    let s = strip_position(s);
                    match LEADING_POSITION.find(s) {
                        Some(m) => s[m.end()..].to_string(),
                        None => s.to_string(),
                    }
                };
                want == actual || norm(want) == norm(actual)
            }
            TextMatch::Regex(re) => {
                if re.is_match(actual) {
                    return true;
                }
                // A pattern ending in a position (`\(1:21\)`) against a text without one.
                let pat = re.as_str();
                if strip_position(actual) != actual || !PATTERN_TRAILING_POSITION.is_match(pat) {
                    return false;
                }
                let shorter = PATTERN_TRAILING_POSITION.replace(pat, "");
                Regex::new(&shorter).is_ok_and(|re| re.is_match(actual))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            TextMatch::Any => "anything".into(),
            TextMatch::Msg(m) => format!("message {m:?}"),
            TextMatch::Regex(re) => format!("pattern {:?}", re.as_str()),
        }
    }
}

/// Checks one query outcome against `ev`: failure expectations, annotations, then the value.
pub fn check_outcome(ev: &Eval, outcome: &Result<QueryResult, QueryError>, grid: Grid) -> Result<(), String> {
    match outcome {
        Err(e) => {
            if !ev.fail {
                return Err(format!("error: {e}"));
            }
            let text = e.to_string();
            for m in &ev.fail_matches {
                if !m.matches(&text) {
                    return Err(format!("expected error matching {}, but got: {text}", m.describe()));
                }
            }
            Ok(())
        }
        Ok(res) => {
            if ev.fail {
                return Err(format!("expected an error but got none; result {}", fmt_value(&res.value)));
            }
            check_annotations(ev, res)?;
            compare_value(ev, &res.value, grid)
        }
    }
}

fn check_annotations(ev: &Eval, res: &QueryResult) -> Result<(), String> {
    if ev.any_warn && res.warnings.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if ev.any_info && res.infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    check_annotations_of_kind("warn", &ev.warn, &res.warnings)?;
    check_annotations_of_kind("info", &ev.info, &res.infos)?;
    if ev.no_warn && !res.warnings.is_empty() {
        return Err(format!("unexpected warning annotations: {:?}", res.warnings));
    }
    if ev.no_info && !res.infos.is_empty() {
        return Err(format!("unexpected info annotations: {:?}", res.infos));
    }
    Ok(())
}

/// Every expectation must match some annotation and every annotation some expectation.
fn check_annotations_of_kind(kind: &str, expected: &[TextMatch], actual: &[String]) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {kind} annotations but none were found"));
    }
    for e in expected {
        if !actual.iter().any(|a| e.matches(a)) {
            return Err(format!("expected {kind} annotation matching {} but found only {actual:?}", e.describe()));
        }
    }
    for a in actual {
        if !expected.iter().any(|e| e.matches(a)) {
            return Err(format!("unexpected {kind} annotation {a:?}"));
        }
    }
    Ok(())
}

/// Compares a query value with the expected output (upstream's `compareResult`).
pub fn compare_value(ev: &Eval, value: &Value, grid: Grid) -> Result<(), String> {
    match value {
        Value::Matrix(m) => compare_matrix(ev, m, grid),
        Value::Vector(v) => compare_vector(ev, v),
        Value::Scalar { v, .. } => {
            let Some(want) = ev.scalar else {
                return Err(format!("expected vector or matrix result, but got scalar {}", fmt_f(*v)));
            };
            match want {
                Item::Float(w) if almost_equal(w, *v) => Ok(()),
                Item::Float(w) => Err(format!("expected scalar {} but got {}", fmt_f(w), fmt_f(*v))),
                Item::Histogram => Err(format!("expected histogram but got scalar {}", fmt_f(*v))),
                Item::Omitted => Err("expected nothing but got a scalar".into()),
            }
        }
        Value::String { v, .. } => {
            let want = ev.expected_string.as_deref().unwrap_or("");
            if want == v {
                Ok(())
            } else {
                Err(format!("expected string {want:?} but got {v:?}"))
            }
        }
    }
}

fn compare_vector(ev: &Eval, vector: &[InstantSample]) -> Result<(), String> {
    if ev.scalar.is_some() {
        return Err(format!("expected scalar result, but got vector {}", fmt_vector(vector)));
    }
    let mut seen = vec![false; ev.series.len()];
    for (pos, s) in vector.iter().enumerate() {
        let Some(i) = ev.series.iter().position(|e| e.labels == s.labels) else {
            return Err(format!("unexpected metric {} in result, has value {}", s.labels, fmt_f(s.v)));
        };
        let exp = &ev.series[i];
        if ev.ordered && exp.pos != pos + 1 {
            return Err(format!("expected metric {} at position {} but was at {}", s.labels, exp.pos, pos + 1));
        }
        let want = match exp.values.first() {
            Some(Item::Float(w)) => *w,
            Some(Item::Omitted) => 0.0,
            Some(Item::Histogram) => return Err(format!("expected histogram for {} but got float", s.labels)),
            None => return Err(format!("expected metric {} has no value", s.labels)),
        };
        if !almost_equal(want, s.v) {
            return Err(format!("expected {} for {} but got {}", fmt_f(want), s.labels, fmt_f(s.v)));
        }
        seen[i] = true;
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(format!("expected metric {} not found; got {}", ev.series[i].labels, fmt_vector(vector)));
    }
    Ok(())
}

fn compare_matrix(ev: &Eval, matrix: &[RangeSeries], grid: Grid) -> Result<(), String> {
    if ev.ordered {
        return Err("expected ordered result, but query returned a matrix".into());
    }
    if ev.scalar.is_some() {
        return Err(format!("expected scalar result, but got matrix {}", fmt_matrix(matrix)));
    }
    for (i, w) in matrix.windows(2).enumerate() {
        if w[0].labels > w[1].labels {
            return Err(format!(
                "matrix results should always be sorted by labels, but series {} ({}) sorts after series {} ({})",
                i,
                w[0].labels,
                i + 1,
                w[1].labels
            ));
        }
    }
    let mut seen = vec![false; ev.series.len()];
    for s in matrix {
        let Some(i) = ev.series.iter().position(|e| e.labels == s.labels) else {
            return Err(format!("unexpected metric {} in result, has {}", s.labels, fmt_points(s)));
        };
        seen[i] = true;
        let exp = &ev.series[i];
        let mut want: Vec<(i64, f64)> = Vec::new();
        for (k, item) in exp.values.iter().enumerate() {
            let t = grid.start + k as i64 * grid.step;
            if grid.end.is_none_or(|end| t > end) {
                return Err(format!(
                    "expected {} points for {}, but query time range cannot return this many points",
                    exp.values.len(),
                    exp.labels
                ));
            }
            match item {
                Item::Float(v) => want.push((t, *v)),
                Item::Omitted => {}
                Item::Histogram => return Err(format!("expected histogram points for {}", exp.labels)),
            }
        }
        if want.len() != s.floats.len() {
            return Err(format!("expected {} float points for {}, but got {}", want.len(), exp.labels, fmt_points(s)));
        }
        for (k, ((t, v), p)) in want.iter().zip(&s.floats).enumerate() {
            if *t != p.t {
                return Err(format!(
                    "expected float value at index {k} for {} to have timestamp {t}, but it had {} (result has {})",
                    exp.labels,
                    p.t,
                    fmt_points(s)
                ));
            }
            if !almost_equal(*v, p.v) {
                return Err(format!(
                    "expected float value at index {k} (t={t}) for {} to be {}, but got {} (result has {})",
                    exp.labels,
                    fmt_f(*v),
                    fmt_f(p.v),
                    fmt_points(s)
                ));
            }
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(format!("expected metric {} not found; got {}", ev.series[i].labels, fmt_matrix(matrix)));
    }
    Ok(())
}

/// A float as Prometheus prints it (`+Inf`, `NaN`, `stale`).
pub fn fmt_f(v: f64) -> String {
    if is_stale_nan(v) {
        "stale".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

const MAX_SHOWN: usize = 8;

fn fmt_vector(v: &[InstantSample]) -> String {
    let mut out = String::from("[");
    for (i, s) in v.iter().take(MAX_SHOWN).enumerate() {
        let sep = if i > 0 { ", " } else { "" };
        let _ = write!(out, "{sep}{} {}", s.labels, fmt_f(s.v));
    }
    if v.len() > MAX_SHOWN {
        let _ = write!(out, ", … {} more", v.len() - MAX_SHOWN);
    }
    out.push(']');
    out
}

fn fmt_points(s: &RangeSeries) -> String {
    let mut out = format!("{} point(s) [", s.floats.len());
    for (i, p) in s.floats.iter().take(4 * MAX_SHOWN).enumerate() {
        let sep = if i > 0 { " " } else { "" };
        let _ = write!(out, "{sep}{}@{}", fmt_f(p.v), p.t);
    }
    if s.floats.len() > 4 * MAX_SHOWN {
        out.push_str(" …");
    }
    out.push(']');
    out
}

fn fmt_matrix(m: &[RangeSeries]) -> String {
    let mut out = String::from("[");
    for (i, s) in m.iter().take(MAX_SHOWN).enumerate() {
        let sep = if i > 0 { ", " } else { "" };
        let _ = write!(out, "{sep}{} {}", s.labels, fmt_points(s));
    }
    if m.len() > MAX_SHOWN {
        let _ = write!(out, ", … {} more", m.len() - MAX_SHOWN);
    }
    out.push(']');
    out
}

/// A compact rendering of any value, for messages.
pub fn fmt_value(v: &Value) -> String {
    match v {
        Value::Scalar { v, .. } => format!("scalar {}", fmt_f(*v)),
        Value::String { v, .. } => format!("string {v:?}"),
        Value::Vector(vec) => format!("vector {}", fmt_vector(vec)),
        Value::Matrix(m) => format!("matrix {}", fmt_matrix(m)),
    }
}

/// A compact rendering of what an eval expects, for messages.
pub fn fmt_expected(ev: &Eval) -> String {
    if ev.fail {
        let what: Vec<String> = ev.fail_matches.iter().map(TextMatch::describe).collect();
        return format!("failure ({})", if what.is_empty() { "any".into() } else { what.join(", ") });
    }
    if let Some(s) = &ev.expected_string {
        return format!("string {s:?}");
    }
    if let Some(item) = ev.scalar {
        return format!("scalar {}", fmt_item(item));
    }
    if ev.series.is_empty() {
        return "empty result".into();
    }
    let mut out = String::from("[");
    for (i, s) in ev.series.iter().take(MAX_SHOWN).enumerate() {
        let sep = if i > 0 { ", " } else { "" };
        let vals: Vec<String> = s.values.iter().take(4 * MAX_SHOWN).map(|v| fmt_item(*v)).collect();
        let _ = write!(out, "{sep}{} {}", s.labels, vals.join(" "));
    }
    if ev.series.len() > MAX_SHOWN {
        let _ = write!(out, ", … {} more", ev.series.len() - MAX_SHOWN);
    }
    out.push(']');
    out
}

fn fmt_item(i: Item) -> String {
    match i {
        Item::Omitted => "_".into(),
        Item::Float(v) => fmt_f(v),
        Item::Histogram => "{{…}}".into(),
    }
}
