//! Baseline comparison: decide whether a load-test run regressed against an earlier run.
//!
//! Both runs are summary JSON values (schema `vitals.load.summary/v1`, see
//! `docs/format/load-summary.md`), so a `--summary-json` file saved by an earlier run can serve as the
//! baseline. [`compare`] returns one [`MetricComparison`] per metric: `p50`, `p95`, `p99`, `rps`,
//! `error_rate`, and `dropped` for the open model.
//!
//! # Method
//!
//! A single overall p95 per run cannot say whether a difference is noise: it is one number. The
//! `timeline` (one entry per second of the run) gives *per-second samples* instead: per-second p50,
//! p95 and p99 latency and per-second throughput. From it:
//!
//! - the first interval is dropped (warm-up: connection set-up, cold caches), and so is any interval
//!   shorter than 1 s (the partial last one), whose quantiles and rate rest on fewer requests;
//! - intervals without responses are dropped for the latency metrics (they have no latency; for
//!   throughput such a second is a real sample of 0 and is kept).
//!
//! The current samples are compared with the baseline samples by a one-sided **Mann–Whitney U test**
//! ([`mann_whitney_u`]; normal approximation with tie and continuity correction, which is accurate
//! enough from 8 samples per side). A rank test rather than a t-test because per-second latency
//! quantiles are skewed and heavy-tailed, far from normal, so a t-test's assumptions fail; and ranks
//! are robust to a few outlier seconds (a GC pause, a noisy neighbour) that would dominate a mean.
//!
//! A metric is a **regression** when the test is significant in the worse direction (`p < alpha`,
//! default 0.01) **and** the relative change of the medians of the per-second samples is worse by more
//! than `min_change` (default 5%): with long runs, a statistically significant 0.3% shift is real but
//! not worth failing CI over. The symmetric case in the better direction is an **improvement**.
//! Latency regresses when it goes up. Throughput regresses when it goes down, but only in the closed
//! model: in the open model throughput is set by the configured arrival rate, so `rps` is shown for
//! information only (never tested) and the server falling behind is judged by `dropped`, the share of
//! scheduled iterations dropped, and by the error rate.
//!
//! The error rate (`errors.total / requests`) and the open model's dropped share
//! (`dropped_iterations / (requests + dropped_iterations)`) are proportions over the whole run, so they
//! use a one-sided two-proportion z-test; they regress when `p < alpha` and the proportion rose by more
//! than `max(min_change × baseline proportion, 0.001)` (the absolute floor keeps a baseline of 0
//! errors from turning one stray error into a regression).
//!
//! When either run has fewer than 8 usable per-second samples (short run, or no `timeline` in an older
//! summary) the metric is reported as [`Verdict::InsufficientData`], never as a regression, with the
//! runs' overall values (e.g. the whole-run `latency_ms.p95`) shown instead of medians.
//!
//! The reported `p_value` is the smaller of the two one-sided p-values, i.e. the one for the
//! direction the data lean to; it is the one a regression or improvement verdict rests on.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::summary::SCHEMA;

/// Fewest usable per-second samples per run for a per-second metric to be tested.
pub const MIN_SAMPLES: usize = 8;

/// Smallest absolute rise of the error rate or dropped share that can count as a regression.
const MIN_ABS_RATE_CHANGE: f64 = 0.001;

/// Significance level and smallest relevant change for [`compare`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineOptions {
    /// Significance level of the one-sided tests (default 0.01).
    pub alpha: f64,
    /// Smallest relative change of a metric that counts (default 0.05 = 5%).
    pub min_change: f64,
}

impl Default for BaselineOptions {
    fn default() -> Self {
        BaselineOptions { alpha: 0.01, min_change: 0.05 }
    }
}

/// Outcome for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Significantly and relevantly worse than the baseline.
    Regression,
    /// Significantly and relevantly better than the baseline.
    Improvement,
    /// Not significant, or a change below `min_change` (or not tested, like `rps` in the open model).
    NoChange,
    /// Fewer than [`MIN_SAMPLES`] usable samples in either run (or no requests): not tested.
    InsufficientData,
}

impl Verdict {
    /// The verdict as used in JSON: `regression`, `improvement`, `no_change`, `insufficient_data`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoChange => "no_change",
            Verdict::InsufficientData => "insufficient_data",
        }
    }
}

/// Comparison of one metric between the current run and the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricComparison {
    /// Metric name: `p50`, `p95`, `p99` (ms), `rps`, `error_rate`, `dropped` (open model only).
    pub metric: String,
    /// Baseline value: median of the per-second samples, or the overall value (rates, insufficient data).
    pub baseline: f64,
    /// Current value, computed like `baseline`.
    pub current: f64,
    /// Relative change `(current - baseline) / baseline`, e.g. 0.12 = +12% (infinite when baseline is 0).
    pub change: f64,
    /// One-sided p-value in the direction the data lean to; `None` when not tested.
    pub p_value: Option<f64>,
    /// The outcome.
    pub verdict: Verdict,
    /// Sample sizes `(current, baseline)`: usable seconds, or requests (scheduled iterations for `dropped`).
    pub samples: (usize, usize),
}

/// Result of [`compare`]: one entry per metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Per-metric results, in the order `p50`, `p95`, `p99`, `rps`, `error_rate`[, `dropped`].
    pub metrics: Vec<MetricComparison>,
    alpha: f64,
    min_change: f64,
}

impl Comparison {
    /// Whether any metric regressed.
    pub fn regressed(&self) -> bool {
        self.metrics.iter().any(|m| m.verdict == Verdict::Regression)
    }

    /// The metric named `name`, if it was compared.
    pub fn metric(&self, name: &str) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.metric == name)
    }

    /// A human-readable report, one line per metric, e.g.
    /// `p95          12.30 ms →    15.10 ms  +22.8%  p=0.0001  REGRESSION`.
    pub fn to_text(&self) -> String {
        let width = self.metrics.iter().map(|m| m.metric.len()).max().unwrap_or(0);
        let mut out = String::new();
        for m in &self.metrics {
            let p = match m.p_value {
                Some(p) if p >= 0.0001 => format!("p={p:.4}"),
                // Beyond the precision of the normal approximation anyway.
                Some(p) if p < 1e-16 => "p<1e-16".to_string(),
                Some(p) => format!("p={p:.1e}"),
                None => "p=n/a".to_string(),
            };
            let verdict = match m.verdict {
                Verdict::Regression => "REGRESSION".to_string(),
                Verdict::Improvement => "improvement".to_string(),
                Verdict::NoChange if m.p_value.is_none() => "not tested (open model)".to_string(),
                Verdict::NoChange => "no change".to_string(),
                Verdict::InsufficientData => {
                    format!("insufficient data ({} vs {} samples, need {MIN_SAMPLES})", m.samples.0, m.samples.1)
                }
            };
            let _ = writeln!(
                out,
                "{:<width$}  {:>12} → {:>12}  {:>8}  {:<10}  {}",
                m.metric,
                format_value(&m.metric, m.baseline),
                format_value(&m.metric, m.current),
                format_change(m.change),
                p,
                verdict,
            );
        }
        out
    }

    /// The comparison as JSON: `{alpha, min_change, regressed, metrics: [{metric, baseline, current,
    /// change, p_value, verdict, samples: [n_current, n_baseline]}]}` (an infinite `change` is `null`).
    pub fn to_json(&self) -> Value {
        let metrics: Vec<Value> = self
            .metrics
            .iter()
            .map(|m| {
                json!({
                    "metric": m.metric,
                    "baseline": m.baseline,
                    "current": m.current,
                    "change": m.change,
                    "p_value": m.p_value,
                    "verdict": m.verdict.as_str(),
                    "samples": [m.samples.0, m.samples.1],
                })
            })
            .collect();
        json!({
            "alpha": self.alpha,
            "min_change": self.min_change,
            "regressed": self.regressed(),
            "metrics": metrics,
        })
    }
}

fn format_value(metric: &str, v: f64) -> String {
    match metric {
        "rps" => format!("{v:.1}/s"),
        "error_rate" | "dropped" => format!("{:.3}%", v * 100.0),
        _ => format!("{v:.2} ms"),
    }
}

fn format_change(change: f64) -> String {
    if change.is_infinite() {
        if change > 0.0 { "+inf%" } else { "-inf%" }.to_string()
    } else {
        format!("{:+.1}%", change * 100.0)
    }
}

/// Why two summaries cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BaselineError {
    /// The summary is not a JSON object.
    #[error("{side} summary is not a JSON object")]
    NotAnObject {
        /// `current` or `baseline`.
        side: &'static str,
    },
    /// The `schema` key is missing or not `vitals.load.summary/v1`.
    #[error("{side} summary has schema {found:?}, expected {SCHEMA:?}")]
    WrongSchema {
        /// `current` or `baseline`.
        side: &'static str,
        /// The schema found, `None` when the key is missing or not a string.
        found: Option<String>,
    },
    /// A key that every `v1` summary has is missing or has the wrong type.
    #[error("{side} summary: missing or invalid `{key}`")]
    Missing {
        /// `current` or `baseline`.
        side: &'static str,
        /// The key path, e.g. `latency_ms.p95`.
        key: &'static str,
    },
    /// The runs used different workload models, whose latencies are not comparable.
    #[error(
        "the current run uses the {current} model but the baseline the {baseline} model; latencies are not comparable"
    )]
    ModelMismatch {
        /// Current run's `model.type`.
        current: String,
        /// Baseline's `model.type`.
        baseline: String,
    },
}

/// Result of [`mann_whitney_u`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample: pairs `(a_i, b_j)` with `a_i > b_j`, ties counting 1/2.
    pub u: f64,
    /// Standardized statistic `(u - n1·n2/2) / sigma` (tie-corrected sigma, no continuity correction).
    pub z: f64,
    /// One-sided p-value for "a is stochastically greater than b".
    pub p_greater: f64,
    /// One-sided p-value for "a is stochastically less than b".
    pub p_less: f64,
}

/// Mann–Whitney U test of `a` against `b` (normal approximation, tie and continuity corrections).
///
/// Matches scipy's `mannwhitneyu(a, b, method="asymptotic")` with `alternative="greater"` /
/// `"less"`. When the variance is zero (an empty sample, or all values equal) both p-values are 1.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> MannWhitney {
    let (n1, n2) = (a.len(), b.len());
    let n = n1 + n2;
    let mut all: Vec<(f64, bool)> = a.iter().map(|&v| (v, true)).chain(b.iter().map(|&v| (v, false))).collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Mid-ranks (1-based) over runs of equal values; accumulate a's rank sum and the tie term.
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid_rank = (i + 1 + j) as f64 / 2.0;
        let in_a = all[i..j].iter().filter(|x| x.1).count();
        rank_sum_a += mid_rank * in_a as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u = rank_sum_a - n1f * (n1f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    let variance = if n < 2 { 0.0 } else { n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0))) };
    if variance <= 0.0 || n1 == 0 || n2 == 0 {
        return MannWhitney { u, z: 0.0, p_greater: 1.0, p_less: 1.0 };
    }
    let sigma = variance.sqrt();
    MannWhitney {
        u,
        z: (u - mean) / sigma,
        p_greater: normal_sf((u - mean - 0.5) / sigma),
        p_less: normal_cdf((u - mean + 0.5) / sigma),
    }
}

/// Complementary error function, Numerical Recipes' `erfcc` (Chebyshev fit; relative error below
/// 1.2e-7 everywhere, including the far tails, so small p-values keep their precision).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * (-z * z + poly).exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Standard normal cumulative distribution function Φ(x).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal survival function 1 − Φ(x), accurate in the upper tail.
fn normal_sf(x: f64) -> f64 {
    0.5 * erfc(x / std::f64::consts::SQRT_2)
}

/// The parts of one summary that [`compare`] uses.
struct RunData {
    open: bool,
    model: String,
    requests: u64,
    errors: u64,
    dropped: u64,
    /// Iterations finished (`None` in summaries from before `iterations` existed).
    iterations: Option<u64>,
    rps: f64,
    /// Overall p50, p95, p99.
    latency: [f64; 3],
    /// Per-second p50, p95, p99 samples.
    latency_samples: [Vec<f64>; 3],
    rps_samples: Vec<f64>,
}

const LATENCY_KEYS: [&str; 3] = ["p50", "p95", "p99"];

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64().filter(|x| x.is_finite())
}

fn parse_run(v: &Value, side: &'static str) -> Result<RunData, BaselineError> {
    if !v.is_object() {
        return Err(BaselineError::NotAnObject { side });
    }
    match v.get("schema").and_then(Value::as_str) {
        Some(s) if s == SCHEMA => {}
        other => return Err(BaselineError::WrongSchema { side, found: other.map(str::to_string) }),
    }
    let missing = |key| BaselineError::Missing { side, key };
    let model = v.get("model").and_then(|m| m.get("type")).and_then(Value::as_str).ok_or(missing("model.type"))?;
    let open = match model {
        "open" => true,
        "closed" => false,
        _ => return Err(missing("model.type")),
    };
    let count = |key: &'static str, path: &[&str]| {
        path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_u64).ok_or(missing(key))
    };
    let requests = count("requests", &["requests"])?;
    let errors = count("errors.total", &["errors", "total"])?;
    let dropped = count("dropped_iterations", &["dropped_iterations"])?;
    // A sequential flow's iteration is several requests, and dropped ones are iterations.
    let iterations = v.get("iterations").and_then(Value::as_u64);
    let rps = num(v, &["rps"]).ok_or(missing("rps"))?;
    let latency = [
        num(v, &["latency_ms", "p50"]).ok_or(missing("latency_ms.p50"))?,
        num(v, &["latency_ms", "p95"]).ok_or(missing("latency_ms.p95"))?,
        num(v, &["latency_ms", "p99"]).ok_or(missing("latency_ms.p99"))?,
    ];

    let mut latency_samples: [Vec<f64>; 3] = Default::default();
    let mut rps_samples = Vec::new();
    // A missing (or non-array) timeline, as in summaries from before it existed, gives no samples.
    if let Some(timeline) = v.get("timeline").and_then(Value::as_array) {
        let mut prev_t = 0.0;
        for (i, entry) in timeline.iter().enumerate() {
            let t = num(entry, &["t"]).ok_or(missing("timeline[].t"))?;
            let dur = t - prev_t;
            prev_t = t;
            // Warm-up interval, and partial intervals (the last one).
            if i == 0 || dur < 1.0 - 1e-6 {
                continue;
            }
            let reqs = num(entry, &["requests"]);
            if let Some(r) = num(entry, &["rps"]).or(reqs.map(|r| r / dur)) {
                rps_samples.push(r);
            }
            if !has_responses(entry, reqs) {
                continue;
            }
            for (samples, key) in latency_samples.iter_mut().zip(LATENCY_KEYS) {
                if let Some(x) = num(entry, &["latency_ms", key]) {
                    samples.push(x);
                }
            }
        }
    }
    Ok(RunData {
        open,
        model: model.to_string(),
        requests,
        errors,
        dropped,
        iterations,
        rps,
        latency,
        latency_samples,
        rps_samples,
    })
}

/// Whether a timeline interval recorded any latency: its `latency_ms.count` when present, otherwise
/// some requests and a non-zero `latency_ms.max` (all latency fields are 0 without responses).
fn has_responses(entry: &Value, requests: Option<f64>) -> bool {
    if let Some(count) = num(entry, &["latency_ms", "count"]) {
        return count > 0.0;
    }
    if requests == Some(0.0) {
        return false;
    }
    num(entry, &["latency_ms", "max"]).is_none_or(|m| m > 0.0)
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn relative_change(baseline: f64, current: f64) -> f64 {
    if baseline == 0.0 {
        if current == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(current)
        }
    } else {
        (current - baseline) / baseline.abs()
    }
}

/// Which way a metric gets worse.
#[derive(Clone, Copy, PartialEq)]
enum Worse {
    Up,
    Down,
}

/// Compares per-second samples with the Mann–Whitney U test, or reports insufficient data with the
/// overall values.
fn compare_samples(
    metric: &str,
    (cur, base): (&[f64], &[f64]),
    (cur_overall, base_overall): (f64, f64),
    worse: Worse,
    opts: &BaselineOptions,
) -> MetricComparison {
    let samples = (cur.len(), base.len());
    if cur.len() < MIN_SAMPLES || base.len() < MIN_SAMPLES {
        return MetricComparison {
            metric: metric.to_string(),
            baseline: base_overall,
            current: cur_overall,
            change: relative_change(base_overall, cur_overall),
            p_value: None,
            verdict: Verdict::InsufficientData,
            samples,
        };
    }
    let (baseline, current) = (median(base), median(cur));
    let change = relative_change(baseline, current);
    let test = mann_whitney_u(cur, base);
    let (p_worse, p_better, worse_change) = match worse {
        Worse::Up => (test.p_greater, test.p_less, change),
        Worse::Down => (test.p_less, test.p_greater, -change),
    };
    let verdict = decide(p_worse, p_better, worse_change, opts.min_change, opts.alpha);
    MetricComparison {
        metric: metric.to_string(),
        baseline,
        current,
        change,
        p_value: Some(p_worse.min(p_better)),
        verdict,
        samples,
    }
}

/// The verdict of a one-sided test pair: a regression when the bad direction is significant and moved
/// by more than `threshold` (`worse_by` is positive when worse), an improvement the other way round.
fn decide(p_worse: f64, p_better: f64, worse_by: f64, threshold: f64, alpha: f64) -> Verdict {
    if p_worse < alpha && worse_by > threshold {
        Verdict::Regression
    } else if p_better < alpha && -worse_by > threshold {
        Verdict::Improvement
    } else {
        Verdict::NoChange
    }
}

/// Compares two proportions `x/n` with a one-sided two-proportion z-test (pooled variance); a rise
/// is worse.
fn compare_proportions(
    metric: &str,
    (x_cur, n_cur): (u64, u64),
    (x_base, n_base): (u64, u64),
    opts: &BaselineOptions,
) -> MetricComparison {
    let samples = (usize::try_from(n_cur).unwrap_or(usize::MAX), usize::try_from(n_base).unwrap_or(usize::MAX));
    let rate = |x: u64, n: u64| if n == 0 { 0.0 } else { x as f64 / n as f64 };
    let (current, baseline) = (rate(x_cur, n_cur), rate(x_base, n_base));
    let change = relative_change(baseline, current);
    if n_cur == 0 || n_base == 0 {
        return MetricComparison {
            metric: metric.to_string(),
            baseline,
            current,
            change,
            p_value: None,
            verdict: Verdict::InsufficientData,
            samples,
        };
    }
    let (nc, nb) = (n_cur as f64, n_base as f64);
    let pooled = (x_cur + x_base) as f64 / (nc + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nb)).sqrt();
    let (p_up, p_down) = if se > 0.0 {
        let z = (current - baseline) / se;
        (normal_sf(z), normal_cdf(z))
    } else {
        // Both runs all-success (or all-failure): no evidence either way.
        (1.0, 1.0)
    };
    let threshold = (opts.min_change * baseline).max(MIN_ABS_RATE_CHANGE);
    let verdict = decide(p_up, p_down, current - baseline, threshold, opts.alpha);
    MetricComparison {
        metric: metric.to_string(),
        baseline,
        current,
        change,
        p_value: Some(p_up.min(p_down)),
        verdict,
        samples,
    }
}

/// Compares the `current` run's summary JSON with the `baseline` run's (see the module docs).
///
/// Errors when either is not a `vitals.load.summary/v1` object, lacks a key every `v1` summary has,
/// or the runs used different workload models. A missing `timeline` is not an error: the per-second
/// metrics are then [`Verdict::InsufficientData`].
pub fn compare(current: &Value, baseline: &Value, opts: &BaselineOptions) -> Result<Comparison, BaselineError> {
    let cur = parse_run(current, "current")?;
    let base = parse_run(baseline, "baseline")?;
    if cur.open != base.open {
        return Err(BaselineError::ModelMismatch { current: cur.model, baseline: base.model });
    }
    let mut metrics = Vec::new();
    for (i, key) in LATENCY_KEYS.iter().enumerate() {
        metrics.push(compare_samples(
            key,
            (&cur.latency_samples[i], &base.latency_samples[i]),
            (cur.latency[i], base.latency[i]),
            Worse::Up,
            opts,
        ));
    }
    let mut rps = compare_samples("rps", (&cur.rps_samples, &base.rps_samples), (cur.rps, base.rps), Worse::Down, opts);
    if cur.open && rps.verdict != Verdict::InsufficientData {
        // Set by the arrival rate: shown, not tested.
        rps.p_value = None;
        rps.verdict = Verdict::NoChange;
    }
    metrics.push(rps);
    metrics.push(compare_proportions("error_rate", (cur.errors, cur.requests), (base.errors, base.requests), opts));
    if cur.open {
        // Dropped iterations as a share of scheduled ones; when a summary predates `iterations`, both
        // sides count requests instead, so the shares stay comparable.
        let (cur_n, base_n) = match (cur.iterations, base.iterations) {
            (Some(c), Some(b)) => (c, b),
            _ => (cur.requests, base.requests),
        };
        metrics.push(compare_proportions(
            "dropped",
            (cur.dropped, cur_n + cur.dropped),
            (base.dropped, base_n + base.dropped),
            opts,
        ));
    }
    Ok(Comparison { metrics, alpha: opts.alpha, min_change: opts.min_change })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    /// xorshift64* generator: deterministic test data without the `rand` crate.
    struct Rng(u64);

    impl Rng {
        fn new(seed: u64) -> Self {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        /// Uniform in [0, 1).
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Uniform in [-1, 1).
        fn sym(&mut self) -> f64 {
            2.0 * self.next() - 1.0
        }
    }

    /// Shape of a synthetic run.
    #[derive(Clone, Copy)]
    struct Run {
        seed: u64,
        secs: usize,
        p50: f64,
        p95: f64,
        p99: f64,
        rps: f64,
        /// Relative per-second jitter (uniform ±jitter).
        jitter: f64,
        open: bool,
        errors: u64,
        dropped: u64,
        /// Requests per iteration (a sequential flow's steps).
        steps: u64,
    }

    impl Default for Run {
        fn default() -> Self {
            Run {
                seed: 1,
                secs: 30,
                p50: 4.0,
                p95: 10.0,
                p99: 20.0,
                rps: 1000.0,
                jitter: 0.15,
                open: false,
                errors: 0,
                dropped: 0,
                steps: 1,
            }
        }
    }

    /// A summary JSON with a timeline of `secs` full seconds plus a partial 0.4 s one; the first
    /// (warm-up) second has 10× the latency, the partial one 5×; about one second in ten is an outlier
    /// (a GC pause: 4× the tail latency).
    fn summary(r: Run) -> Value {
        let mut rng = Rng::new(r.seed);
        let mut timeline = Vec::new();
        let mut total = 0.0;
        for i in 0..=r.secs {
            let partial = i == r.secs;
            let t = if partial { r.secs as f64 + 0.4 } else { (i + 1) as f64 };
            let mut f = 1.0 + r.jitter * rng.sym();
            let mut tail = f;
            if i == 0 {
                f = 10.0;
                tail = 10.0;
            } else if partial {
                f = 5.0;
                tail = 5.0;
            } else if rng.next() < 0.1 {
                tail *= 4.0;
            }
            let rps = r.rps * (1.0 + 0.05 * rng.sym());
            let requests = if partial { (rps * 0.4).round() } else { rps.round() };
            total += requests;
            timeline.push(json!({
                "t": t, "requests": requests, "errors": 0, "bytes": requests * 100.0, "rps": rps,
                "latency_ms": {"p50": r.p50 * f, "p90": r.p95 * 0.8 * tail, "p95": r.p95 * tail, "p99": r.p99 * tail,
                               "max": r.p99 * 2.0 * tail, "mean": r.p50 * 1.2 * f},
                "target": if r.open { json!(r.rps) } else { Value::Null },
            }));
        }
        let requests = total as u64;
        let duration = r.secs as f64 + 0.4;
        json!({
            "schema": SCHEMA,
            "model": if r.open { json!({"type": "open", "rate_per_sec": r.rps}) } else { json!({"type": "closed", "vus": 10}) },
            "duration_seconds": duration,
            "cancelled": false,
            "requests": requests,
            "rps": total / duration,
            "errors": {"total": r.errors, "rate": r.errors as f64 / total, "connect": 0, "timeout": 0,
                       "status": r.errors, "check": 0, "other": 0},
            "latency_ms": {"count": requests, "min": 0.5, "mean": r.p50 * 1.2, "p50": r.p50, "p90": r.p95 * 0.8,
                           "p95": r.p95, "p99": r.p99, "p99.9": r.p99 * 1.5, "max": r.p99 * 2.0},
            "dropped_iterations": r.dropped,
            "iterations": requests / r.steps,
            "bytes_received": requests * 100,
            "timeline": timeline,
        })
    }

    fn cmp(current: Run, baseline: Run) -> Comparison {
        compare(&summary(current), &summary(baseline), &BaselineOptions::default()).unwrap()
    }

    fn verdict(c: &Comparison, metric: &str) -> Verdict {
        c.metric(metric).unwrap_or_else(|| panic!("no metric {metric}")).verdict
    }

    #[test]
    fn normal_cdf_known_values() {
        // erfc's relative error is below 1.2e-7.
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!(close(normal_cdf(1.96), 0.975_002_104_851_779_5, 1e-7));
        assert!(close(normal_cdf(-3.0), 0.001_349_898_031_630_095_7, 1e-6));
        // The far tail keeps its relative precision.
        assert!(close(normal_cdf(-8.0), 6.220_960_574_271_819e-16, 1e-6));
        assert!(close(normal_sf(3.0), normal_cdf(-3.0), 1e-12));
        assert!((normal_cdf(1.0) + normal_cdf(-1.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mann_whitney_separated_samples() {
        let a: Vec<f64> = (1..=10).map(f64::from).collect();
        let b: Vec<f64> = (11..=20).map(f64::from).collect();
        let t = mann_whitney_u(&a, &b);
        assert_eq!(t.u, 0.0);
        // mu = 50, sigma = sqrt(10*10*21/12); P(less) = Phi((0 - 50 + 0.5) / sigma), as scipy gives.
        assert!(close(t.p_less, 9.133_589_555_477_52e-5, 1e-5), "{t:?}");
        assert!(close(t.p_greater, 0.999_932_578_538_822_8, 1e-6), "{t:?}");
        assert!(t.z < -3.7);
        let r = mann_whitney_u(&b, &a);
        assert_eq!(r.u, 100.0);
        assert!(r.p_greater < 1e-4);
    }

    #[test]
    fn mann_whitney_identical_samples() {
        let a: Vec<f64> = (1..=10).map(f64::from).collect();
        let t = mann_whitney_u(&a, &a);
        assert_eq!(t.u, 50.0);
        assert_eq!(t.z, 0.0);
        // Every value tied in pairs: sigma² = 100/12 * (21 - 10*6/380); continuity correction 0.5.
        assert!(close(t.p_greater, 0.515_131_978_789_979_6, 1e-6), "{t:?}");
        assert!(close(t.p_less, t.p_greater, 1e-12));
        // All values equal: zero variance, no evidence either way.
        let c = mann_whitney_u(&[3.0; 9], &[3.0; 9]);
        assert_eq!((c.p_greater, c.p_less), (1.0, 1.0));
        let e = mann_whitney_u(&[], &[1.0, 2.0]);
        assert_eq!((e.u, e.p_greater, e.p_less), (0.0, 1.0, 1.0));
    }

    #[test]
    fn mann_whitney_ties_by_hand() {
        // Ranks of [1,2,2,3,5] in [1,2,2,2,3,3,4,4,5,6,7]: 1, 3, 3, 5.5, 9 -> R = 21.5, U = 21.5 - 15 = 6.5.
        // Pair count: 1 -> 0; 2 -> 0.5 (tie with 2) twice; 3 -> 1 + 0.5; 5 -> 4. Sum 6.5.
        // Ties: one run of 3, two of 2 -> sum(t³-t) = 24+6+6 = 36; sigma² = 30/12 * (12 - 36/110).
        let a = [1.0, 2.0, 2.0, 3.0, 5.0];
        let b = [2.0, 3.0, 4.0, 4.0, 6.0, 7.0];
        let t = mann_whitney_u(&a, &b);
        assert_eq!(t.u, 6.5);
        assert!(close(t.z, -1.573_485_525_138_161_2, 1e-9), "{t:?}");
        assert!(close(t.p_less, 0.069_312_939_939_463_86, 1e-6), "{t:?}");
        assert!(close(t.p_greater, 0.952_147_624_412_559_3, 1e-6), "{t:?}");
    }

    #[test]
    fn mann_whitney_u_sums_and_symmetry() {
        let mut rng = Rng::new(7);
        for round in 0..20 {
            let n1 = 3 + round % 7;
            let n2 = 5 + round % 11;
            // Rounded values so that there are ties across and within samples.
            let a: Vec<f64> = (0..n1).map(|_| (rng.next() * 10.0).round()).collect();
            let b: Vec<f64> = (0..n2).map(|_| (rng.next() * 10.0 + 1.0).round()).collect();
            let ab = mann_whitney_u(&a, &b);
            let ba = mann_whitney_u(&b, &a);
            assert_eq!(ab.u + ba.u, (n1 * n2) as f64);
            // U equals the brute-force pair count.
            let pairs: f64 = a
                .iter()
                .flat_map(|x| {
                    b.iter().map(move |y| {
                        if x > y {
                            1.0
                        } else if x == y {
                            0.5
                        } else {
                            0.0
                        }
                    })
                })
                .sum();
            assert_eq!(ab.u, pairs);
            assert!(close(ab.p_greater, ba.p_less, 1e-12), "{ab:?} {ba:?}");
            assert!(close(ab.p_less, ba.p_greater, 1e-12), "{ab:?} {ba:?}");
            assert!(close(ab.z, -ba.z, 1e-12) || ab.z == 0.0);
        }
    }

    #[test]
    fn p95_regression_detected() {
        let baseline = Run { seed: 11, ..Run::default() };
        let current = Run { seed: 12, p95: 13.0, p99: 26.0, ..Run::default() };
        let c = cmp(current, baseline);
        let p95 = c.metric("p95").unwrap();
        assert_eq!(p95.verdict, Verdict::Regression, "{}", c.to_text());
        assert!(p95.p_value.unwrap() < 0.001);
        assert!(p95.change > 0.15 && p95.change < 0.45, "{p95:?}");
        // Warm-up and the partial last interval are dropped: 30 full seconds -> 29 samples.
        assert_eq!(p95.samples, (29, 29));
        assert_eq!(verdict(&c, "p99"), Verdict::Regression);
        // The median did not move.
        assert_eq!(verdict(&c, "p50"), Verdict::NoChange, "{}", c.to_text());
        assert_eq!(verdict(&c, "rps"), Verdict::NoChange);
        assert!(c.regressed());
        let text = c.to_text();
        assert!(text.lines().any(|l| l.starts_with("p95") && l.ends_with("REGRESSION")), "{text}");
    }

    #[test]
    fn same_distribution_is_no_change() {
        for seed in 0..10 {
            let c = cmp(Run { seed: 100 + seed, ..Run::default() }, Run { seed: 200 + seed, ..Run::default() });
            assert!(!c.regressed(), "seed {seed}:\n{}", c.to_text());
            for m in &c.metrics {
                assert_ne!(m.verdict, Verdict::InsufficientData, "{m:?}");
                assert!(m.p_value.is_some(), "{m:?}");
            }
        }
    }

    #[test]
    fn improvement_detected() {
        let c =
            cmp(Run { seed: 3, p50: 3.0, p95: 7.0, p99: 14.0, ..Run::default() }, Run { seed: 4, ..Run::default() });
        for m in ["p50", "p95", "p99"] {
            assert_eq!(verdict(&c, m), Verdict::Improvement, "{}", c.to_text());
        }
        assert!(!c.regressed());
    }

    #[test]
    fn small_shift_below_min_change_is_no_change() {
        // 10 minutes at ±3% jitter: a 1% shift is highly significant but below the 5% min_change.
        let base = Run { seed: 5, secs: 600, jitter: 0.03, ..Run::default() };
        let cur = Run { seed: 6, p50: 4.04, p95: 10.1, p99: 20.2, ..base };
        let c = cmp(cur, base);
        let p50 = c.metric("p50").unwrap();
        assert!(p50.p_value.unwrap() < 0.01, "{p50:?}");
        assert!(p50.change > 0.0 && p50.change < 0.02, "{p50:?}");
        assert_eq!(p50.verdict, Verdict::NoChange);
        assert!(!c.regressed(), "{}", c.to_text());
        // With min_change 0 the same data is a regression.
        let strict = BaselineOptions { min_change: 0.0, ..BaselineOptions::default() };
        let c = compare(&summary(cur), &summary(base), &strict).unwrap();
        assert_eq!(verdict(&c, "p50"), Verdict::Regression);
    }

    #[test]
    fn closed_model_throughput_drop_is_regression() {
        let c = cmp(Run { seed: 8, rps: 800.0, ..Run::default() }, Run { seed: 9, ..Run::default() });
        let rps = c.metric("rps").unwrap();
        assert_eq!(rps.verdict, Verdict::Regression, "{}", c.to_text());
        assert!(close(rps.change, -0.2, 0.1), "{rps:?}");
        assert!(rps.p_value.unwrap() < 0.001);
        assert!(c.regressed());
        assert!(c.metric("dropped").is_none());
    }

    #[test]
    fn open_model_throughput_not_tested() {
        let open = Run { open: true, ..Run::default() };
        let c = cmp(Run { seed: 8, rps: 800.0, ..open }, Run { seed: 9, ..open });
        let rps = c.metric("rps").unwrap();
        assert_eq!(rps.verdict, Verdict::NoChange, "{}", c.to_text());
        assert_eq!(rps.p_value, None);
        assert!(rps.change < -0.15);
        assert!(!c.regressed(), "{}", c.to_text());
        assert_eq!(verdict(&c, "dropped"), Verdict::NoChange);
        assert!(c.to_text().contains("not tested"));
    }

    #[test]
    fn open_model_dropped_iterations_regress() {
        let open = Run { open: true, ..Run::default() };
        let c = cmp(Run { seed: 8, dropped: 1500, ..open }, Run { seed: 9, ..open });
        let d = c.metric("dropped").unwrap();
        assert_eq!(d.verdict, Verdict::Regression, "{}", c.to_text());
        assert_eq!(d.baseline, 0.0);
        assert!(d.change.is_infinite());
        assert!(c.regressed());
        // JSON has no infinity: the change is null.
        let j = c.to_json();
        let dj = j["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == "dropped").unwrap();
        assert_eq!(dj["change"], Value::Null);
    }

    #[test]
    fn dropped_share_counts_iterations_not_requests() {
        // A five-step journey: ~30k requests are ~6k iterations, so 1,500 dropped is a fifth of them.
        let open = Run { open: true, steps: 5, ..Run::default() };
        let cur = summary(Run { seed: 8, dropped: 1500, ..open });
        let iterations = cur["iterations"].as_f64().unwrap();
        let c = compare(&cur, &summary(Run { seed: 9, ..open }), &BaselineOptions::default()).unwrap();
        let d = c.metric("dropped").unwrap();
        assert!((d.current - 1500.0 / (iterations + 1500.0)).abs() < 1e-9, "{}", c.to_text());
        assert!(d.current > 0.19, "{}", c.to_text());
        // A baseline from before `iterations` existed: both sides count requests, so the same drops
        // are no regression.
        let mut old = summary(Run { seed: 9, dropped: 1500, ..open });
        old.as_object_mut().unwrap().remove("iterations");
        let c = compare(&cur, &old, &BaselineOptions::default()).unwrap();
        let requests = cur["requests"].as_f64().unwrap();
        let d = c.metric("dropped").unwrap();
        assert!((d.current - 1500.0 / (requests + 1500.0)).abs() < 1e-9, "{}", c.to_text());
        assert_eq!(d.verdict, Verdict::NoChange, "{}", c.to_text());
    }

    #[test]
    fn error_rate_regression_needs_significance_and_size() {
        let base = Run { seed: 1, errors: 30, ..Run::default() }; // ~0.1% of ~30k requests
        let c = cmp(Run { seed: 2, errors: 300, ..Run::default() }, base);
        let e = c.metric("error_rate").unwrap();
        assert_eq!(e.verdict, Verdict::Regression, "{}", c.to_text());
        assert!(e.p_value.unwrap() < 1e-10);
        // 30 -> 40 errors: neither significant at 1% nor above the 0.1% absolute floor.
        let c = cmp(Run { seed: 2, errors: 40, ..Run::default() }, base);
        assert_eq!(verdict(&c, "error_rate"), Verdict::NoChange, "{}", c.to_text());
        // 0 -> 0 errors.
        let c = cmp(Run { seed: 2, ..Run::default() }, Run { seed: 1, ..Run::default() });
        let e = c.metric("error_rate").unwrap();
        assert_eq!((e.verdict, e.change, e.p_value), (Verdict::NoChange, 0.0, Some(1.0)));
        // A significant but tiny absolute rise from 0 (10 of 30k = 0.033%) is below the floor.
        let c = cmp(Run { seed: 2, errors: 10, ..Run::default() }, Run { seed: 1, ..Run::default() });
        assert_eq!(verdict(&c, "error_rate"), Verdict::NoChange, "{}", c.to_text());
    }

    #[test]
    fn short_runs_are_insufficient_data() {
        // 8 seconds -> 7 usable after dropping warm-up.
        let c = cmp(Run { seed: 1, secs: 8, p95: 30.0, ..Run::default() }, Run { seed: 2, ..Run::default() });
        let p95 = c.metric("p95").unwrap();
        assert_eq!(p95.verdict, Verdict::InsufficientData, "{}", c.to_text());
        assert_eq!(p95.samples, (7, 29));
        assert_eq!(p95.p_value, None);
        // Overall values are shown.
        assert_eq!((p95.current, p95.baseline), (30.0, 10.0));
        assert!(close(p95.change, 2.0, 1e-12));
        assert_eq!(verdict(&c, "rps"), Verdict::InsufficientData);
        assert!(!c.regressed());
        assert!(c.to_text().contains("insufficient data (7 vs 29 samples"));
        // 9 seconds -> 8 usable: tested.
        let c = cmp(Run { seed: 1, secs: 9, p95: 30.0, ..Run::default() }, Run { seed: 2, ..Run::default() });
        assert_eq!(verdict(&c, "p95"), Verdict::Regression, "{}", c.to_text());
    }

    #[test]
    fn missing_timeline_is_insufficient_data() {
        let mut old = summary(Run { seed: 1, ..Run::default() });
        old.as_object_mut().unwrap().remove("timeline");
        let c = compare(&summary(Run::default()), &old, &BaselineOptions::default()).unwrap();
        for m in ["p50", "p95", "p99", "rps"] {
            assert_eq!(verdict(&c, m), Verdict::InsufficientData);
            assert_eq!(c.metric(m).unwrap().samples, (29, 0));
        }
        // The error rate comes from the overall counts and is still tested.
        assert_eq!(verdict(&c, "error_rate"), Verdict::NoChange);
    }

    #[test]
    fn seconds_without_responses_are_skipped_for_latency() {
        let mut s = summary(Run { seed: 1, ..Run::default() });
        let timeline = s["timeline"].as_array_mut().unwrap();
        for entry in timeline.iter_mut().skip(1).take(5) {
            entry["requests"] = json!(0);
            entry["rps"] = json!(0.0);
            entry["latency_ms"] = json!({"p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0});
        }
        let c = compare(&s, &summary(Run { seed: 2, ..Run::default() }), &BaselineOptions::default()).unwrap();
        assert_eq!(c.metric("p95").unwrap().samples, (24, 29));
        // Stalled seconds are real throughput samples.
        assert_eq!(c.metric("rps").unwrap().samples, (29, 29));
        assert_eq!(verdict(&c, "p50"), Verdict::NoChange, "{}", c.to_text());
    }

    #[test]
    fn wrong_schema_and_malformed_input_are_errors() {
        let good = summary(Run::default());
        let mut bad = good.clone();
        bad["schema"] = json!("vitals.load.summary/v2");
        let err = compare(&good, &bad, &BaselineOptions::default()).unwrap_err();
        assert_eq!(err, BaselineError::WrongSchema { side: "baseline", found: Some("vitals.load.summary/v2".into()) });
        assert!(err.to_string().contains("vitals.load.summary/v1"));
        let mut none = good.clone();
        none.as_object_mut().unwrap().remove("schema");
        assert_eq!(
            compare(&none, &good, &BaselineOptions::default()).unwrap_err(),
            BaselineError::WrongSchema { side: "current", found: None }
        );
        assert_eq!(
            compare(&json!([1, 2]), &good, &BaselineOptions::default()).unwrap_err(),
            BaselineError::NotAnObject { side: "current" }
        );
        let mut no_p95 = good.clone();
        no_p95["latency_ms"].as_object_mut().unwrap().remove("p95");
        assert_eq!(
            compare(&good, &no_p95, &BaselineOptions::default()).unwrap_err(),
            BaselineError::Missing { side: "baseline", key: "latency_ms.p95" }
        );
        let open = summary(Run { open: true, ..Run::default() });
        assert!(matches!(compare(&open, &good, &BaselineOptions::default()), Err(BaselineError::ModelMismatch { .. })));
    }

    #[test]
    fn json_output_shape() {
        let c = cmp(Run { seed: 12, p95: 13.0, ..Run::default() }, Run { seed: 11, ..Run::default() });
        let j = c.to_json();
        assert_eq!(j["alpha"], json!(0.01));
        assert_eq!(j["min_change"], json!(0.05));
        assert_eq!(j["regressed"], json!(true));
        let metrics = j["metrics"].as_array().unwrap();
        let names: Vec<&str> = metrics.iter().map(|m| m["metric"].as_str().unwrap()).collect();
        assert_eq!(names, ["p50", "p95", "p99", "rps", "error_rate"]);
        let p95 = &metrics[1];
        assert_eq!(p95["verdict"], json!("regression"));
        assert_eq!(p95["samples"], json!([29, 29]));
        assert!(p95["p_value"].as_f64().unwrap() < 0.01);
        assert!(p95["change"].as_f64().unwrap() > 0.05);
        assert_eq!(metrics[0]["verdict"], json!("no_change"));
        assert_eq!(c.to_text().lines().count(), 5);
    }
}
