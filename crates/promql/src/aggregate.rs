//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`,
//! `quantile`, `topk`, `bottomk`, `count_values`) with `by`/`without`. Each input series' group is
//! found once; values are then folded step by step.

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_MAX, T_MIN, T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use rustc_hash::FxHashMap;
use vitals_model::{Labels, METRIC_NAME};

use crate::error::{QueryError, Result};
use crate::eval::{EvalValue, Evaluator, StepSeries};
use crate::functions::{format_go_float, quantile};

/// Neumaier-compensated summation step, as Prometheus' `kahanSumInc`.
#[inline]
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

#[derive(Clone, Copy, Default)]
struct Acc {
    seen: bool,
    count: f64,
    value: f64,
    c: f64,
    mean: f64,
    incremental: bool,
}

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&mut self, a: &AggregateExpr) -> Result<EvalValue> {
        let op = a.op.id();
        let n = self.nsteps();
        // Parameters are evaluated before the vector, as in Prometheus.
        let mut param: Option<Vec<f64>> = None;
        let mut label_param: Option<String> = None;
        if let Some(p) = &a.param {
            if op == T_COUNT_VALUES {
                label_param = Some(self.eval_string(p)?);
            } else {
                param = Some(self.eval_scalar(p)?);
            }
        }
        let input = self.eval_vector(&a.expr)?;
        if op == T_COUNT_VALUES {
            let lp = label_param.clone().unwrap_or_default();
            if !valid_label_name(&lp) {
                return Err(QueryError::Execution(format!("invalid label name {lp:?}")));
            }
        }
        // Group of each input series.
        let mut group_index: FxHashMap<Labels, usize> = FxHashMap::default();
        let mut groups: Vec<(Labels, bool)> = Vec::new();
        let mut gid: Vec<usize> = Vec::with_capacity(input.len());
        for s in &input {
            let key = group_labels(&s.labels, &a.modifier);
            let next = groups.len();
            let g = *group_index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, false));
                next
            });
            // A group keeps `__name__` only if grouping asked for it; it is then dropped at the end
            // if any member's name was to be dropped.
            if s.drop_name {
                groups[g].1 = true;
            }
            gid.push(g);
        }
        let ng = groups.len();
        let out = match op {
            T_TOPK | T_BOTTOMK => self.topk(op == T_TOPK, input, &gid, ng, &param.unwrap_or_default())?,
            T_COUNT_VALUES => {
                let label = label_param.unwrap_or_default();
                let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
                let mut out: Vec<StepSeries> = Vec::new();
                let mut counts: FxHashMap<(usize, u64), f64> = FxHashMap::default();
                for i in 0..n {
                    counts.clear();
                    let mut order: Vec<(usize, u64, f64)> = Vec::new();
                    for (s, &g) in input.iter().zip(&gid) {
                        if let Some(v) = s.vals[i] {
                            let key = (g, v.to_bits());
                            let e = counts.entry(key).or_insert(0.0);
                            if *e == 0.0 {
                                order.push((g, v.to_bits(), v));
                            }
                            *e += 1.0;
                        }
                    }
                    for (g, bits, v) in order {
                        let mut b = groups[g].0.builder();
                        b.set(&label, &format_go_float(v));
                        let labels = b.build();
                        let oi = *index.entry(labels.clone()).or_insert_with(|| {
                            out.push(StepSeries { labels, drop_name: false, vals: vec![None; n] });
                            out.len() - 1
                        });
                        out[oi].vals[i] = Some(counts[&(g, bits)]);
                    }
                }
                out
            }
            T_QUANTILE => {
                let q = param.unwrap_or_default();
                let mut out: Vec<StepSeries> = groups
                    .iter()
                    .map(|(l, d)| StepSeries { labels: l.clone(), drop_name: *d, vals: vec![None; n] })
                    .collect();
                let mut buf: Vec<Vec<f64>> = vec![Vec::new(); ng];
                let mut warned = false;
                for (i, &qi) in q.iter().enumerate().take(n) {
                    for b in &mut buf {
                        b.clear();
                    }
                    for (s, &g) in input.iter().zip(&gid) {
                        if let Some(v) = s.vals[i] {
                            buf[g].push(v);
                        }
                    }
                    if !(0.0..=1.0).contains(&qi) && !warned && buf.iter().any(|b| !b.is_empty()) {
                        warned = true;
                        self.warnings.push(format!(
                            "PromQL warning: quantile value should be between 0 and 1, got {}",
                            format_go_float(qi)
                        ));
                    }
                    for (g, b) in buf.iter_mut().enumerate() {
                        if !b.is_empty() {
                            out[g].vals[i] = Some(quantile(qi, b));
                        }
                    }
                }
                out
            }
            _ => {
                let mut out: Vec<StepSeries> = groups
                    .iter()
                    .map(|(l, d)| StepSeries { labels: l.clone(), drop_name: *d, vals: vec![None; n] })
                    .collect();
                let mut acc = vec![Acc::default(); ng];
                for i in 0..n {
                    self.check()?;
                    acc.iter_mut().for_each(|a| *a = Acc::default());
                    for (s, &g) in input.iter().zip(&gid) {
                        let Some(v) = s.vals[i] else { continue };
                        let a = &mut acc[g];
                        if !a.seen {
                            *a = Acc { seen: true, count: 1.0, value: v, c: 0.0, mean: v, incremental: false };
                            if matches!(op, T_STDDEV | T_STDVAR) {
                                a.value = if v.is_finite() { 0.0 } else { f64::NAN };
                            }
                            continue;
                        }
                        a.count += 1.0;
                        match op {
                            T_SUM => (a.value, a.c) = kahan_inc(v, a.value, a.c),
                            T_AVG => {
                                if !a.incremental {
                                    let (nv, nc) = kahan_inc(v, a.value, a.c);
                                    if !nv.is_infinite() {
                                        a.value = nv;
                                        a.c = nc;
                                        continue;
                                    }
                                    a.incremental = true;
                                    a.mean = a.value / (a.count - 1.0);
                                    a.c /= a.count - 1.0;
                                }
                                if a.mean.is_infinite() {
                                    if v.is_infinite() && (a.mean > 0.0) == (v > 0.0) {
                                        continue;
                                    }
                                    if !v.is_infinite() && !v.is_nan() {
                                        continue;
                                    }
                                }
                                let current = a.mean + a.c;
                                (a.mean, a.c) = kahan_inc(v / a.count - current / a.count, a.mean, a.c);
                            }
                            T_MIN if a.value > v || a.value.is_nan() => a.value = v,
                            T_MAX if a.value < v || a.value.is_nan() => a.value = v,
                            T_STDDEV | T_STDVAR => {
                                let delta = v - a.mean;
                                a.mean += delta / a.count;
                                a.value += delta * (v - a.mean);
                            }
                            _ => {}
                        }
                    }
                    for (g, st) in acc.iter().enumerate() {
                        if !st.seen {
                            continue;
                        }
                        let v = match op {
                            T_SUM => st.value + st.c,
                            T_AVG => {
                                if st.incremental {
                                    st.mean + st.c
                                } else {
                                    (st.value + st.c) / st.count
                                }
                            }
                            T_COUNT => st.count,
                            T_GROUP => 1.0,
                            T_MIN | T_MAX => st.value,
                            T_STDVAR => st.value / st.count,
                            T_STDDEV => (st.value / st.count).sqrt(),
                            _ => return Err(QueryError::BadData(format!("aggregation {} is not supported", a.op))),
                        };
                        out[g].vals[i] = Some(v);
                    }
                }
                out.retain(|s| s.vals.iter().any(|v| v.is_some()));
                out
            }
        };
        self.count_output(&out)?;
        Ok(EvalValue::Vector(out))
    }

    /// `topk`/`bottomk`: the k largest/smallest per group and step, keeping the input series.
    fn topk(
        &mut self,
        top: bool,
        input: Vec<StepSeries>,
        gid: &[usize],
        ng: usize,
        k: &[f64],
    ) -> Result<Vec<StepSeries>> {
        let n = self.nsteps();
        let mut keep: Vec<Vec<bool>> = vec![vec![false; n]; input.len()];
        let mut per_group: Vec<Vec<(f64, usize)>> = vec![Vec::new(); ng];
        let mut order: Vec<usize> = Vec::new(); // for instant queries: output order
        #[allow(clippy::needless_range_loop)]
        for i in 0..n {
            self.check()?;
            let kf = k.get(i).copied().unwrap_or(0.0);
            if kf.is_nan() {
                return Err(QueryError::Execution("Parameter value is NaN".into()));
            }
            if !(-9.223372036854776e18..9.223372036854776e18).contains(&kf) {
                return Err(QueryError::Execution(format!("Scalar value {} overflows int64", format_go_float(kf))));
            }
            let kk = kf as i64;
            if kk < 1 {
                continue;
            }
            for g in &mut per_group {
                g.clear();
            }
            for (si, (s, &g)) in input.iter().zip(gid).enumerate() {
                if let Some(v) = s.vals[i] {
                    per_group[g].push((v, si));
                }
            }
            for g in &mut per_group {
                // NaN sorts as the smallest for topk and the largest for bottomk: it is chosen last.
                g.sort_by(|a, b| {
                    let ord = if top { cmp_nan_low(b.0, a.0) } else { cmp_nan_low_rev(a.0, b.0) };
                    ord.then(a.1.cmp(&b.1))
                });
                for &(_, si) in g.iter().take(kk as usize) {
                    keep[si][i] = true;
                    if n == 1 {
                        order.push(si);
                    }
                }
            }
        }
        let mut input: Vec<Option<StepSeries>> = input.into_iter().map(Some).collect();
        let mut out = Vec::new();
        if n == 1 {
            for si in order {
                if let Some(s) = input[si].take() {
                    out.push(s);
                }
            }
        } else {
            for (si, slot) in input.iter_mut().enumerate() {
                let Some(mut s) = slot.take() else { continue };
                for (i, v) in s.vals.iter_mut().enumerate() {
                    if !keep[si][i] {
                        *v = None;
                    }
                }
                if s.vals.iter().any(|v| v.is_some()) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }
}

/// Descending order with NaN last.
fn cmp_nan_low(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Ascending order with NaN last.
fn cmp_nan_low_rev(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// The group of a series: `by` keeps the listed labels, `without` drops them and the name.
fn group_labels(l: &Labels, m: &Option<LabelModifier>) -> Labels {
    match m {
        None => Labels::empty(),
        Some(LabelModifier::Include(ls)) => {
            let mut b = Labels::empty().builder();
            for n in &ls.labels {
                if let Some(v) = l.get(n) {
                    b.set(n, v);
                }
            }
            b.build()
        }
        Some(LabelModifier::Exclude(ls)) => {
            let mut b = l.builder();
            b.del(METRIC_NAME);
            for n in &ls.labels {
                b.del(n);
            }
            b.build()
        }
    }
}

/// A valid label name (UTF-8 names are allowed in Prometheus 3, but not empty ones).
pub(crate) fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
}
