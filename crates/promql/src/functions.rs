//! PromQL functions: per-element math, functions over range vectors (`rate`, `*_over_time`, ...),
//! label manipulation, `histogram_quantile` over classic buckets, sorting and date functions.

use promql_parser::parser::{Call, Expr};
use regex::Regex;
use rustc_hash::FxHashMap;
use vitals_model::{Labels, METRIC_NAME};

use crate::aggregate::kahan_inc;
use crate::error::{QueryError, Result};
use crate::eval::{selector_matchers, EvalValue, Evaluator, RangeVec, StepSeries};
use crate::value::FPoint;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, no exponent.
pub fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Prometheus' `quantile`: linear interpolation between the closest ranks; sorts `values`.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Go's `math.Max`/`math.Min`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn unwrap_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unwrap_parens(&p.expr),
        other => other,
    }
}

/// Labels `absent()` gives its output: the selector's equality matchers (a label matched twice is
/// left out), without the name.
fn absent_labels(e: &Expr) -> Labels {
    let vs = match unwrap_parens(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let Ok(ms) = selector_matchers(vs) else { return Labels::empty() };
    let mut b = Labels::empty().builder();
    let mut has: Vec<&str> = Vec::new();
    for m in &ms {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == vitals_model::MatchOp::Equal && !has.contains(&m.name.as_str()) {
            b.set(&m.name, &m.value);
            has.push(&m.name);
        } else {
            b.del(&m.name);
        }
    }
    b.build()
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

fn date_part(name: &str, v: f64) -> f64 {
    let secs = v as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = vitals_model::civil::civil_from_days(days);
    match name {
        "year" => y as f64,
        "month" => m as f64,
        "day_of_month" => d as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => {
            let mut doy = d;
            for mm in 1..m {
                doy += days_in_month(y, mm);
            }
            doy as f64
        }
        "days_in_month" => days_in_month(y, m) as f64,
        "hour" => (sod / 3600) as f64,
        "minute" => ((sod % 3600) / 60) as f64,
        _ => f64::NAN,
    }
}

/// Linear regression of the points against time (seconds relative to `intercept_t`), as Prometheus.
fn linear_regression(pts: &[FPoint], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = pts[0].v;
    let mut const_y = true;
    for (i, p) in pts.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// `rate`, `increase` and `delta` with Prometheus' extrapolation to the window's edges.
/// `resets` are the indices `j` in `pts` where `pts[j] < pts[j-1]` (counter resets), in order.
fn extrapolated_rate(
    pts: &[FPoint],
    resets: impl Iterator<Item = usize>,
    start: i64,
    end: i64,
    range: i64,
    counter: bool,
    rate: bool,
) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let last = pts.len() - 1;
    let (first_t, last_t) = (pts[0].t, pts[last].t);
    let mut result = pts[last].v - pts[0].v;
    if counter {
        for j in resets {
            result += pts[j - 1].v;
        }
    }
    let mut to_start = (first_t - start) as f64 / 1000.0;
    let mut to_end = (end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / last as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if counter {
        let mut to_zero = to_start;
        if result > 0.0 && pts[0].v >= 0.0 {
            to_zero = sampled * (pts[0].v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

fn avg_over(pts: &[FPoint]) -> f64 {
    let (mut sum, mut count) = (pts[0].v, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, p) in pts[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

fn variance_over(pts: &[FPoint]) -> f64 {
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in pts {
        count += 1.0;
        let delta = p.v - (mean + cmean);
        (mean, cmean) = kahan_inc(delta / count, mean, cmean);
        (aux, caux) = kahan_inc(delta * (p.v - (mean + cmean)), aux, caux);
    }
    (aux + caux) / count
}

/// `(value, keep)` of one classic-histogram group, as Prometheus' `BucketQuantile`.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        return (f64::NAN, false);
    }
    // Coalesce buckets with the same bound.
    let mut co: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(ub, c) in buckets.iter() {
        match co.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => co.push((ub, c)),
        }
    }
    // Monotonicity: ignore tiny deltas, flatten decreases.
    let mut forced = false;
    let mut prev = co[0].1;
    for b in co.iter_mut().skip(1) {
        let cur = b.1;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, 1e-12) {
            b.1 = prev;
            continue;
        }
        if cur < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    if co.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = co[co.len() - 1].1;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = co[..co.len() - 1].partition_point(|x| x.1 < rank);
    if b == co.len() - 1 {
        return (co[co.len() - 2].0, forced);
    }
    if b == 0 && co[0].0 <= 0.0 {
        return (co[0].0, forced);
    }
    let mut start = 0.0;
    let end = co[b].0;
    let mut count = co[b].1;
    if b > 0 {
        start = co[b - 1].0;
        count -= co[b - 1].1;
        rank -= co[b - 1].1;
    }
    (start + (end - start) * (rank / count), forced)
}

fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < eps * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

/// Go regexp `Expand`-like replacement: `$1`, `${1}`, `$name`, `${name}`, `$$`.
fn expand(caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    caps.expand(template, &mut out);
    out
}

impl Evaluator<'_> {
    fn range_arg(&mut self, c: &Call, i: usize) -> Result<RangeVec> {
        let e = &c.args.args[i];
        self.eval_range(e)
    }

    fn scalar_arg(&mut self, c: &Call, i: usize) -> Result<Vec<f64>> {
        let e = &c.args.args[i];
        self.eval_scalar(e)
    }

    fn string_arg(&mut self, c: &Call, i: usize) -> Result<String> {
        let e = &c.args.args[i];
        self.eval_string(e)
    }

    /// Applies `f` to every value of the vector argument; the name is dropped.
    fn map_values(&mut self, c: &Call, mut f: impl FnMut(usize, f64) -> Option<f64>) -> Result<EvalValue> {
        let mut v = self.eval_vector(&c.args.args[0])?;
        for s in &mut v {
            s.drop_name = true;
            for (i, slot) in s.vals.iter_mut().enumerate() {
                if let Some(x) = *slot {
                    *slot = f(i, x);
                }
            }
        }
        v.retain(|s| s.vals.iter().any(|x| x.is_some()));
        Ok(EvalValue::Vector(v))
    }

    pub(crate) fn eval_call(&mut self, c: &Call) -> Result<EvalValue> {
        let name = c.func.name;
        let n = self.nsteps();
        let math1 = |f: fn(f64) -> f64| f;
        let simple: Option<fn(f64) -> f64> = match name {
            "abs" => Some(math1(f64::abs)),
            "ceil" => Some(f64::ceil),
            "floor" => Some(f64::floor),
            "exp" => Some(f64::exp),
            "sqrt" => Some(f64::sqrt),
            "ln" => Some(f64::ln),
            "log2" => Some(f64::log2),
            "log10" => Some(f64::log10),
            "sin" => Some(f64::sin),
            "cos" => Some(f64::cos),
            "tan" => Some(f64::tan),
            "asin" => Some(f64::asin),
            "acos" => Some(f64::acos),
            "atan" => Some(f64::atan),
            "sinh" => Some(f64::sinh),
            "cosh" => Some(f64::cosh),
            "tanh" => Some(f64::tanh),
            "asinh" => Some(f64::asinh),
            "acosh" => Some(f64::acosh),
            "atanh" => Some(f64::atanh),
            "deg" => Some(|x| x * 180.0 / std::f64::consts::PI),
            "rad" => Some(|x| x * std::f64::consts::PI / 180.0),
            "sgn" => Some(|x: f64| {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    x
                }
            }),
            _ => None,
        };
        if let Some(f) = simple {
            return self.map_values(c, |_, x| Some(f(x)));
        }
        match name {
            "time" => Ok(EvalValue::Scalar(self.ts.iter().map(|&t| t as f64 / 1000.0).collect())),
            "pi" => Ok(EvalValue::Scalar(vec![std::f64::consts::PI; n])),
            "round" => {
                let to = if c.args.args.len() > 1 { self.scalar_arg(c, 1)? } else { vec![1.0; n] };
                self.map_values(c, |i, x| {
                    let inv = 1.0 / to[i];
                    Some((x * inv + 0.5).floor() / inv)
                })
            }
            "clamp" => {
                let lo = self.scalar_arg(c, 1)?;
                let hi = self.scalar_arg(c, 2)?;
                self.map_values(c, |i, x| if hi[i] < lo[i] { None } else { Some(go_max(lo[i], go_min(hi[i], x))) })
            }
            "clamp_min" => {
                let lo = self.scalar_arg(c, 1)?;
                self.map_values(c, |i, x| Some(go_max(lo[i], x)))
            }
            "clamp_max" => {
                let hi = self.scalar_arg(c, 1)?;
                self.map_values(c, |i, x| Some(go_min(hi[i], x)))
            }
            "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" => {
                if c.args.args.is_empty() {
                    let vals = self.ts.iter().map(|&t| Some(date_part(name, t as f64 / 1000.0))).collect();
                    return Ok(EvalValue::Vector(vec![StepSeries { labels: Labels::empty(), drop_name: false, vals }]));
                }
                self.map_values(c, |_, x| if x.is_finite() { Some(date_part(name, x)) } else { Some(f64::NAN) })
            }
            "timestamp" => {
                if let Expr::VectorSelector(vs) = unwrap_parens(&c.args.args[0]) {
                    let mut v = self.eval_selector(vs, true)?;
                    for s in &mut v {
                        s.drop_name = true;
                    }
                    return Ok(EvalValue::Vector(v));
                }
                let ts = self.ts.clone();
                self.map_values(c, |i, _| Some(ts[i] as f64 / 1000.0))
            }
            "vector" => {
                let v = self.scalar_arg(c, 0)?;
                Ok(EvalValue::Vector(vec![StepSeries {
                    labels: Labels::empty(),
                    drop_name: false,
                    vals: v.into_iter().map(Some).collect(),
                }]))
            }
            "scalar" => {
                let v = self.eval_vector(&c.args.args[0])?;
                let mut out = vec![f64::NAN; n];
                let mut counts = vec![0u32; n];
                for s in &v {
                    for (i, x) in s.vals.iter().enumerate() {
                        if let Some(x) = x {
                            counts[i] += 1;
                            out[i] = *x;
                        }
                    }
                }
                for (o, c) in out.iter_mut().zip(counts) {
                    if c != 1 {
                        *o = f64::NAN;
                    }
                }
                Ok(EvalValue::Scalar(out))
            }
            "absent" => {
                let v = self.eval_vector(&c.args.args[0])?;
                let mut vals = vec![Some(1.0); n];
                for s in &v {
                    for (i, x) in s.vals.iter().enumerate() {
                        if x.is_some() {
                            vals[i] = None;
                        }
                    }
                }
                let labels = absent_labels(&c.args.args[0]);
                let out = if vals.iter().any(|v| v.is_some()) {
                    vec![StepSeries { labels, drop_name: false, vals }]
                } else {
                    Vec::new()
                };
                Ok(EvalValue::Vector(out))
            }
            "absent_over_time" => {
                let rv = self.range_arg(c, 0)?;
                let present = rv.map_windows(self, false, |_, _, _| Some(1.0))?;
                let mut vals = vec![Some(1.0); n];
                for s in &present {
                    for (i, x) in s.vals.iter().enumerate() {
                        if x.is_some() {
                            vals[i] = None;
                        }
                    }
                }
                let labels = absent_labels(&c.args.args[0]);
                let out = if vals.iter().any(|v| v.is_some()) {
                    vec![StepSeries { labels, drop_name: false, vals }]
                } else {
                    Vec::new()
                };
                Ok(EvalValue::Vector(out))
            }
            "label_replace" => self.label_replace(c),
            "label_join" => self.label_join(c),
            "sort" | "sort_desc" => {
                self.sort_warning();
                let mut v = self.eval_vector(&c.args.args[0])?;
                if n == 1 {
                    let desc = name == "sort_desc";
                    v.sort_by(|a, b| {
                        let (x, y) = (a.vals[0].unwrap_or(f64::NAN), b.vals[0].unwrap_or(f64::NAN));
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ => {
                                let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                                if desc {
                                    o.reverse()
                                } else {
                                    o
                                }
                            }
                        }
                    });
                }
                Ok(EvalValue::Vector(v))
            }
            "sort_by_label" | "sort_by_label_desc" => {
                self.sort_warning();
                let mut v = self.eval_vector(&c.args.args[0])?;
                let mut names = Vec::new();
                for i in 1..c.args.args.len() {
                    names.push(self.string_arg(c, i)?);
                }
                let desc = name == "sort_by_label_desc";
                v.sort_by(|a, b| {
                    for nm in &names {
                        let o = natural_cmp(a.labels.get(nm).unwrap_or(""), b.labels.get(nm).unwrap_or(""));
                        if o.is_ne() {
                            return if desc { o.reverse() } else { o };
                        }
                    }
                    let o = a.labels.cmp(&b.labels);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                });
                Ok(EvalValue::Vector(v))
            }
            "histogram_quantile" => self.histogram_quantile(c),
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar"
            | "histogram_fraction" => {
                // These read native histograms only; float samples give no result.
                for (i, a) in c.args.args.iter().enumerate() {
                    if i + 1 < c.args.args.len() {
                        self.eval(a)?;
                    }
                }
                let _ = self.eval_vector(c.args.args.last().expect("parser checked arity"))?;
                Ok(EvalValue::Vector(Vec::new()))
            }
            _ => self.eval_range_function(c),
        }
    }

    fn eval_range_function(&mut self, c: &Call) -> Result<EvalValue> {
        let name = c.func.name;
        let n = self.nsteps();
        let out = match name {
            "rate" | "increase" | "delta" => {
                let rv = self.range_arg(c, 0)?;
                let (counter, rate) = (name != "delta", name == "rate");
                let range = rv.range;
                if counter {
                    for s in &rv.series {
                        if let Some(mn) = s.labels.metric_name() {
                            if !["_total", "_sum", "_count", "_bucket"].iter().any(|suf| mn.ends_with(suf))
                                && !s.drop_name
                            {
                                let msg = format!(
                                    "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {mn:?}"
                                );
                                if !self.infos.contains(&msg) {
                                    self.infos.push(msg);
                                }
                            }
                        }
                    }
                }
                let ends = rv.ends.clone();
                // Counter resets of each series, found once: a window then adds only its own.
                let resets: Vec<Vec<u32>> = rv
                    .series
                    .iter()
                    .map(|s| {
                        if !counter {
                            return Vec::new();
                        }
                        (1..s.pts.len()).filter(|&j| s.pts[j].v < s.pts[j - 1].v).map(|j| j as u32).collect()
                    })
                    .collect();
                let bases: Vec<usize> = rv.series.iter().map(|s| s.pts.as_ptr() as usize).collect();
                rv.map_windows(self, false, |si, i, w| {
                    let lo = (w.as_ptr() as usize - bases[si]) / std::mem::size_of::<FPoint>();
                    let r = &resets[si];
                    let from = r.partition_point(|&j| (j as usize) <= lo);
                    let within = r[from..].iter().take_while(|&&j| (j as usize) < lo + w.len());
                    extrapolated_rate(
                        w,
                        within.map(|&j| j as usize - lo),
                        ends[i] - range,
                        ends[i],
                        range,
                        counter,
                        rate,
                    )
                })?
            }
            "irate" | "idelta" => {
                let rv = self.range_arg(c, 0)?;
                let is_rate = name == "irate";
                rv.map_windows(self, false, |_, _, w| {
                    if w.len() < 2 {
                        return None;
                    }
                    let (prev, last) = (w[w.len() - 2], w[w.len() - 1]);
                    let mut d = last.v - prev.v;
                    if is_rate {
                        if last.v < prev.v {
                            d = last.v;
                        }
                        let dt = last.t - prev.t;
                        if dt == 0 {
                            return None;
                        }
                        d /= dt as f64 / 1000.0;
                    }
                    Some(d)
                })?
            }
            "deriv" => {
                let rv = self.range_arg(c, 0)?;
                rv.map_windows(self, false, |_, _, w| {
                    if w.len() < 2 {
                        return None;
                    }
                    Some(linear_regression(w, w[0].t).0)
                })?
            }
            "predict_linear" => {
                let rv = self.range_arg(c, 0)?;
                let d = self.scalar_arg(c, 1)?;
                let ts = self.ts.clone();
                rv.map_windows(self, false, |_, i, w| {
                    if w.len() < 2 {
                        return None;
                    }
                    let (slope, intercept) = linear_regression(w, ts[i]);
                    Some(slope * d[i] + intercept)
                })?
            }
            "changes" | "resets" => {
                let rv = self.range_arg(c, 0)?;
                let changes = name == "changes";
                rv.map_windows(self, false, |_, _, w| {
                    let mut k = 0.0;
                    for p in w.windows(2) {
                        let (a, b) = (p[0].v, p[1].v);
                        if changes {
                            if !(a == b || (a.is_nan() && b.is_nan())) {
                                k += 1.0;
                            }
                        } else if b < a {
                            k += 1.0;
                        }
                    }
                    Some(k)
                })?
            }
            "avg_over_time" => self.range_arg(c, 0)?.map_windows(self, false, |_, _, w| Some(avg_over(w)))?,
            "sum_over_time" => self.range_arg(c, 0)?.map_windows(self, false, |_, _, w| {
                let (mut s, mut k) = (0.0, 0.0);
                for p in w {
                    (s, k) = kahan_inc(p.v, s, k);
                }
                Some(if s.is_infinite() { s } else { s + k })
            })?,
            "count_over_time" => self.range_arg(c, 0)?.map_windows(self, false, |_, _, w| Some(w.len() as f64))?,
            "present_over_time" => self.range_arg(c, 0)?.map_windows(self, false, |_, _, _| Some(1.0))?,
            "min_over_time" | "max_over_time" => {
                let max = name == "max_over_time";
                self.range_arg(c, 0)?.map_windows(self, false, |_, _, w| {
                    let mut m = w[0].v;
                    for p in &w[1..] {
                        if (max && p.v > m) || (!max && p.v < m) || m.is_nan() {
                            m = p.v;
                        }
                    }
                    Some(m)
                })?
            }
            "stddev_over_time" => {
                self.range_arg(c, 0)?.map_windows(self, false, |_, _, w| Some(variance_over(w).sqrt()))?
            }
            "stdvar_over_time" => self.range_arg(c, 0)?.map_windows(self, false, |_, _, w| Some(variance_over(w)))?,
            "last_over_time" => self.range_arg(c, 0)?.map_windows(self, true, |_, _, w| Some(w[w.len() - 1].v))?,
            "first_over_time" => self.range_arg(c, 0)?.map_windows(self, true, |_, _, w| Some(w[0].v))?,
            "quantile_over_time" => {
                let q = self.scalar_arg(c, 0)?;
                let rv = self.range_arg(c, 1)?;
                let mut buf = Vec::new();
                let mut bad = None;
                let out = rv.map_windows(self, false, |_, i, w| {
                    if !(0.0..=1.0).contains(&q[i]) {
                        bad = Some(q[i]);
                    }
                    buf.clear();
                    buf.extend(w.iter().map(|p| p.v));
                    Some(quantile(q[i], &mut buf))
                })?;
                if let Some(b) = bad {
                    self.warnings.push(format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        format_go_float(b)
                    ));
                }
                out
            }
            "mad_over_time" => {
                let mut buf = Vec::new();
                self.range_arg(c, 0)?.map_windows(self, false, |_, _, w| {
                    if w.iter().any(|p| p.v.is_nan()) {
                        return Some(f64::NAN);
                    }
                    buf.clear();
                    buf.extend(w.iter().map(|p| p.v));
                    let med = quantile(0.5, &mut buf);
                    for x in buf.iter_mut() {
                        *x = (*x - med).abs();
                    }
                    Some(quantile(0.5, &mut buf))
                })?
            }
            "double_exponential_smoothing" => {
                let rv = self.range_arg(c, 0)?;
                let sf = self.scalar_arg(c, 1)?;
                let tf = self.scalar_arg(c, 2)?;
                for i in 0..n {
                    if sf[i] <= 0.0 || sf[i] >= 1.0 {
                        return Err(QueryError::Execution(format!(
                            "invalid smoothing factor. Expected: 0 < sf < 1, got: {:.6}",
                            sf[i]
                        )));
                    }
                    if tf[i] <= 0.0 || tf[i] >= 1.0 {
                        return Err(QueryError::Execution(format!(
                            "invalid trend factor. Expected: 0 < tf < 1, got: {:.6}",
                            tf[i]
                        )));
                    }
                }
                rv.map_windows(self, false, |_, i, w| {
                    if w.len() < 2 {
                        return None;
                    }
                    let (sf, tf) = (sf[i], tf[i]);
                    let (mut s0, mut s1) = (0.0, w[0].v);
                    let mut b = w[1].v - w[0].v;
                    for (j, p) in w.iter().enumerate().skip(1) {
                        let x = sf * p.v;
                        if j > 1 {
                            b = tf * (s1 - s0) + (1.0 - tf) * b;
                        }
                        let y = (1.0 - sf) * (s1 + b);
                        s0 = s1;
                        s1 = x + y;
                    }
                    Some(s1)
                })?
            }
            other => {
                return Err(QueryError::BadData(format!("function {other:?} is not supported by vitals yet")));
            }
        };
        self.count_output(&out)?;
        Ok(EvalValue::Vector(out))
    }

    fn sort_warning(&mut self) {
        if self.is_range_query() {
            let msg =
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels"
                    .to_string();
            if !self.warnings.contains(&msg) {
                self.warnings.push(msg);
            }
        }
    }

    fn label_replace(&mut self, c: &Call) -> Result<EvalValue> {
        let v = self.eval_vector(&c.args.args[0])?;
        let dst = self.string_arg(c, 1)?;
        let repl = self.string_arg(c, 2)?;
        let src = self.string_arg(c, 3)?;
        let re_text = self.string_arg(c, 4)?;
        let re = Regex::new(&format!("^(?s:{re_text})$")).map_err(|e| {
            QueryError::Execution(format!("invalid regular expression in label_replace(): {re_text}: {e}"))
        })?;
        if dst.is_empty() || self.invalid_utf8.contains(&dst) {
            return Err(QueryError::Execution(format!("invalid destination label name in label_replace(): {dst}")));
        }
        let mut out = Vec::with_capacity(v.len());
        for mut s in v {
            let sv = s.labels.get(&src).unwrap_or("");
            if let Some(caps) = re.captures(sv) {
                let res = expand(&caps, &repl);
                let mut b = s.labels.builder();
                b.set(&dst, &res);
                s.labels = b.build();
                if dst == METRIC_NAME {
                    s.drop_name = false;
                }
            }
            out.push(s);
        }
        Ok(EvalValue::Vector(crate::eval::merge_same_labels(out, false)?))
    }

    fn label_join(&mut self, c: &Call) -> Result<EvalValue> {
        let v = self.eval_vector(&c.args.args[0])?;
        let dst = self.string_arg(c, 1)?;
        let sep = self.string_arg(c, 2)?;
        let mut srcs = Vec::new();
        for i in 3..c.args.args.len() {
            srcs.push(self.string_arg(c, i)?);
        }
        if dst.is_empty() || self.invalid_utf8.contains(&dst) {
            return Err(QueryError::Execution(format!("invalid destination label name in label_join(): {dst}")));
        }
        if let Some(bad) = srcs.iter().find(|s| self.invalid_utf8.contains(s)) {
            return Err(QueryError::Execution(format!("invalid source label name in label_join(): {bad}")));
        }
        let mut out = Vec::with_capacity(v.len());
        for mut s in v {
            let joined: Vec<&str> = srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
            let val = joined.join(&sep);
            let mut b = s.labels.builder();
            b.set(&dst, &val);
            s.labels = b.build();
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
            out.push(s);
        }
        Ok(EvalValue::Vector(crate::eval::merge_same_labels(out, false)?))
    }

    fn histogram_quantile(&mut self, c: &Call) -> Result<EvalValue> {
        let n = self.nsteps();
        let q = self.scalar_arg(c, 0)?;
        let v = self.eval_vector(&c.args.args[1])?;
        if let Some(bad) = q.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            self.warnings.push(format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}",
                format_go_float(*bad)
            ));
        }
        let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
        let mut groups: Vec<(Labels, Vec<(usize, f64)>)> = Vec::new();
        for (si, s) in v.iter().enumerate() {
            let le = s.labels.get("le").unwrap_or("");
            let Some(ub) = parse_go_float(le) else {
                let msg = format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                    le,
                    s.labels.metric_name().unwrap_or("")
                );
                if !self.warnings.contains(&msg) {
                    self.warnings.push(msg);
                }
                continue;
            };
            let mut b = s.labels.builder();
            b.del("le");
            let key = b.build();
            let next = groups.len();
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                next
            });
            groups[g].1.push((si, ub));
        }
        let mut out = Vec::with_capacity(groups.len());
        let mut buckets = Vec::new();
        let mut forced_names: Vec<String> = Vec::new();
        for (labels, members) in groups {
            self.check()?;
            let mut vals = vec![None; n];
            for (i, slot) in vals.iter_mut().enumerate() {
                buckets.clear();
                for &(si, ub) in &members {
                    if let Some(c) = v[si].vals[i] {
                        buckets.push((ub, c));
                    }
                }
                if buckets.is_empty() {
                    continue;
                }
                let (val, forced) = bucket_quantile(q[i], &mut buckets);
                if forced {
                    let nm = labels.metric_name().unwrap_or("").to_string();
                    if !forced_names.contains(&nm) {
                        forced_names.push(nm);
                    }
                }
                *slot = Some(val);
            }
            if vals.iter().any(|v| v.is_some()) {
                out.push(StepSeries { labels, drop_name: true, vals });
            }
        }
        for nm in forced_names {
            self.infos.push(format!(
                "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {nm:?}"
            ));
        }
        self.count_output(&out)?;
        Ok(EvalValue::Vector(out))
    }
}

/// Natural order: runs of digits compare by their number, everything else byte by byte.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let x = std::str::from_utf8(&a[si..i]).unwrap_or("").trim_start_matches('0');
            let y = std::str::from_utf8(&b[sj..j]).unwrap_or("").trim_start_matches('0');
            let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if o != Ordering::Equal {
                return o;
            }
            continue;
        }
        let o = a[i].cmp(&b[j]);
        if o != Ordering::Equal {
            return o;
        }
        i += 1;
        j += 1;
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// Go's `strconv.ParseFloat` for bucket bounds (`+Inf`, `Inf`, `inf`, `NaN`, decimal, hex-free).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    match t.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if t != s {
        return None;
    }
    t.parse::<f64>().ok()
}
