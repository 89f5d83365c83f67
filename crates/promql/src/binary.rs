//! Binary operators: arithmetic, comparisons (filtering or `bool`), `atan2` and the set operators,
//! between scalars and instant vectors, with `on`/`ignoring` and `group_left`/`group_right`
//! matching. Matching signatures and result labels are computed once per series (or pair of
//! series); only the presence of values is checked step by step.

use promql_parser::parser::token::TokenType;
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD, T_MUL, T_NEQ, T_POW,
    T_SUB,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use rustc_hash::FxHashMap;
use vitals_model::{Labels, METRIC_NAME};

use crate::error::{QueryError, Result};
use crate::eval::{EvalValue, Evaluator, StepSeries};

/// The operator applied to two floats: `(value, keep)`; `keep` is false for a comparison that fails.
pub(crate) fn apply(op: TokenType, l: f64, r: f64) -> (f64, bool) {
    match op.id() {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        T_POW => (go_pow(l, r), true),
        T_MOD => (l % r, true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        T_LTE => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

/// `math.Pow` of Go, which differs from C's `pow` in a few special cases.
fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    x.powf(y)
}

fn is_comparison(op: TokenType) -> bool {
    matches!(op.id(), T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

fn drops_name(op: TokenType) -> bool {
    matches!(op.id(), T_ADD | T_SUB | T_MUL | T_DIV | T_POW | T_MOD | T_ATAN2)
}

/// How series are matched: `on` (only these labels) or `ignoring` (all but these and the name).
struct Matching {
    on: bool,
    labels: Vec<String>,
}

impl Matching {
    fn signature(&self, l: &Labels) -> String {
        let mut key = String::new();
        if self.on {
            let mut names: Vec<&str> = self.labels.iter().map(|s| s.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for n in names {
                if let Some(v) = l.get(n) {
                    key.push_str(n);
                    key.push('\u{ff}');
                    key.push_str(v);
                    key.push('\u{fe}');
                }
            }
        } else {
            for lab in l.iter() {
                let n = lab.name.as_str();
                if n == METRIC_NAME || self.labels.iter().any(|x| x == n) {
                    continue;
                }
                key.push_str(n);
                key.push('\u{ff}');
                key.push_str(lab.value.as_str());
                key.push('\u{fe}');
            }
        }
        key
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(&mut self, b: &BinaryExpr) -> Result<EvalValue> {
        let op = b.op;
        let return_bool = b.return_bool();
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        match (lhs, rhs) {
            (EvalValue::Scalar(l), EvalValue::Scalar(r)) => Ok(EvalValue::Scalar(
                l.into_iter()
                    .zip(r)
                    .map(|(l, r)| {
                        let (v, keep) = apply(op, l, r);
                        if is_comparison(op) {
                            if keep {
                                1.0
                            } else {
                                0.0
                            }
                        } else {
                            v
                        }
                    })
                    .collect(),
            )),
            (EvalValue::Vector(l), EvalValue::Scalar(r)) => {
                Ok(EvalValue::Vector(vector_scalar(op, l, &r, false, return_bool)))
            }
            (EvalValue::Scalar(l), EvalValue::Vector(r)) => {
                Ok(EvalValue::Vector(vector_scalar(op, r, &l, true, return_bool)))
            }
            (EvalValue::Vector(l), EvalValue::Vector(r)) => {
                let matching = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                    Some(LabelModifier::Include(ls)) => Matching { on: true, labels: ls.labels.clone() },
                    Some(LabelModifier::Exclude(ls)) => Matching { on: false, labels: ls.labels.clone() },
                    None => Matching { on: false, labels: Vec::new() },
                };
                let out = match op.id() {
                    T_LAND | T_LOR | T_LUNLESS => self.set_op(op, l, r, &matching)?,
                    _ => {
                        let card =
                            b.modifier.as_ref().map(|m| m.card.clone()).unwrap_or(VectorMatchCardinality::OneToOne);
                        self.vector_binop(op, l, r, &matching, card, return_bool)?
                    }
                };
                self.count_output(&out)?;
                Ok(EvalValue::Vector(out))
            }
            _ => Err(QueryError::BadData("binary expressions need scalars or instant vectors".into())),
        }
    }

    fn set_op(
        &mut self,
        op: TokenType,
        l: Vec<StepSeries>,
        r: Vec<StepSeries>,
        m: &Matching,
    ) -> Result<Vec<StepSeries>> {
        let n = self.nsteps();
        let mut ids: FxHashMap<String, usize> = FxHashMap::default();
        let mut sig_of = |s: &StepSeries| {
            let k = m.signature(&s.labels);
            let next = ids.len();
            *ids.entry(k).or_insert(next)
        };
        let lsig: Vec<usize> = l.iter().map(&mut sig_of).collect();
        let rsig: Vec<usize> = r.iter().map(&mut sig_of).collect();
        let nsig = ids.len();
        // present[step * nsig + sig]
        let mark = |series: &[StepSeries], sigs: &[usize]| {
            let mut p = vec![false; n * nsig];
            for (s, &g) in series.iter().zip(sigs) {
                for (i, v) in s.vals.iter().enumerate() {
                    if v.is_some() {
                        p[i * nsig + g] = true;
                    }
                }
            }
            p
        };
        let mut out = Vec::new();
        match op.id() {
            T_LAND | T_LUNLESS => {
                let want = op.id() == T_LAND;
                let rp = mark(&r, &rsig);
                for (mut s, g) in l.into_iter().zip(lsig) {
                    let mut any = false;
                    for (i, v) in s.vals.iter_mut().enumerate() {
                        if v.is_some() && rp[i * nsig + g] != want {
                            *v = None;
                        }
                        any |= v.is_some();
                    }
                    if any {
                        out.push(s);
                    }
                }
            }
            _ => {
                let lp = mark(&l, &lsig);
                out.extend(l);
                for (mut s, g) in r.into_iter().zip(rsig) {
                    let mut any = false;
                    for (i, v) in s.vals.iter_mut().enumerate() {
                        if v.is_some() && lp[i * nsig + g] {
                            *v = None;
                        }
                        any |= v.is_some();
                    }
                    if any {
                        out.push(s);
                    }
                }
            }
        }
        Ok(out)
    }

    fn vector_binop(
        &mut self,
        op: TokenType,
        mut l: Vec<StepSeries>,
        mut r: Vec<StepSeries>,
        m: &Matching,
        card: VectorMatchCardinality,
        return_bool: bool,
    ) -> Result<Vec<StepSeries>> {
        let n = self.nsteps();
        let (swapped, include) = match &card {
            VectorMatchCardinality::OneToMany(ls) => (true, ls.labels.clone()),
            VectorMatchCardinality::ManyToOne(ls) => (false, ls.labels.clone()),
            _ => (false, Vec::new()),
        };
        let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
        if swapped {
            std::mem::swap(&mut l, &mut r);
        }
        let mut ids: FxHashMap<String, usize> = FxHashMap::default();
        let rsig: Vec<usize> = r
            .iter()
            .map(|s| {
                let k = m.signature(&s.labels);
                let next = ids.len();
                *ids.entry(k).or_insert(next)
            })
            .collect();
        let lsig: Vec<Option<usize>> = l.iter().map(|s| ids.get(&m.signature(&s.labels)).copied()).collect();
        let nsig = ids.len();
        // The "one" side at each step: sig -> rhs series index.
        let mut one: Vec<u32> = vec![u32::MAX; nsig];
        let mut touched: Vec<usize> = Vec::new();
        let mut matched: Vec<bool> = vec![false; nsig];
        let mut out: Vec<StepSeries> = Vec::new();
        let mut out_index: FxHashMap<(Labels, bool), usize> = FxHashMap::default();
        let mut pair_out: FxHashMap<(u32, u32), usize> = FxHashMap::default();
        let mut written: Vec<usize> = Vec::new(); // output series written at this step (for resetting)
        let mut written_flag: Vec<bool> = Vec::new();
        for i in 0..n {
            self.check()?;
            for &g in &touched {
                one[g] = u32::MAX;
                matched[g] = false;
            }
            touched.clear();
            for (ri, s) in r.iter().enumerate() {
                if s.vals[i].is_none() {
                    continue;
                }
                let g = rsig[ri];
                if one[g] != u32::MAX {
                    let other = &r[one[g] as usize];
                    let side = if swapped { "left hand-side" } else { "right hand-side" };
                    let group = go_labels(&match_labels(&s.labels, m));
                    return Err(QueryError::Execution(format!(
                        "found duplicate series for the match group {group} on the {side} of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        go_labels(&other.labels),
                        go_labels(&s.labels)
                    )));
                }
                one[g] = ri as u32;
                touched.push(g);
            }
            for &o in &written {
                written_flag[o] = false;
            }
            written.clear();
            for (li, s) in l.iter().enumerate() {
                let Some(lv) = s.vals[i] else { continue };
                let Some(g) = lsig[li] else { continue };
                let ri = one[g];
                if ri == u32::MAX {
                    continue;
                }
                let rs = &r[ri as usize];
                let rv = rs.vals[i].unwrap_or(f64::NAN);
                let (fl, fr) = if swapped { (rv, lv) } else { (lv, rv) };
                if one_to_one {
                    if matched[g] {
                        return Err(QueryError::Execution(
                            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                                .into(),
                        ));
                    }
                    matched[g] = true;
                }
                let (mut v, keep) = apply(op, fl, fr);
                if return_bool {
                    v = if keep { 1.0 } else { 0.0 };
                } else if !keep {
                    continue;
                }
                let oi = match pair_out.get(&(li as u32, ri)) {
                    Some(&o) => o,
                    None => {
                        // Arithmetic removes the name at once, even with delayed name removal
                        // (Prometheus' resultMetric); `group_x(__name__)` can then copy the other
                        // side's name, which stays.
                        let arith = drops_name(op);
                        let labels = result_labels(&s.labels, &rs.labels, m, one_to_one, &include, arith);
                        let drop = return_bool || (!arith && s.drop_name);
                        let o = *out_index.entry((labels.clone(), drop)).or_insert_with(|| {
                            out.push(StepSeries { labels, drop_name: drop, vals: vec![None; n] });
                            written_flag.push(false);
                            out.len() - 1
                        });
                        pair_out.insert((li as u32, ri), o);
                        o
                    }
                };
                if written_flag[oi] {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches".into(),
                    ));
                }
                written_flag[oi] = true;
                written.push(oi);
                out[oi].vals[i] = Some(v);
            }
        }
        Ok(out)
    }
}

/// Labels as Go's `labels.Labels.String()` prints them: `{__name__="x", a="b"}`.
pub(crate) fn go_labels(l: &Labels) -> String {
    let parts: Vec<String> = l.iter().map(|x| format!("{}={:?}", x.name, x.value.as_str())).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The matching labels of a series, for error messages.
fn match_labels(l: &Labels, m: &Matching) -> Labels {
    let mut b = Labels::empty().builder();
    for lab in l.iter() {
        let n = lab.name.as_str();
        let inside = m.labels.iter().any(|x| x == n);
        if (m.on && inside) || (!m.on && !inside && n != METRIC_NAME) {
            b.set(n, lab.value.as_str());
        }
    }
    b.build()
}

/// Labels of a binary operation's result: the "many" side's labels (without the name for
/// arithmetic), reduced to the `on` labels (or without the `ignoring` ones) for one-to-one matching,
/// plus `group_x` labels from the "one" side.
fn result_labels(l: &Labels, r: &Labels, m: &Matching, one_to_one: bool, include: &[String], arith: bool) -> Labels {
    let mut b = l.builder();
    if arith {
        b.del(METRIC_NAME);
    }
    if one_to_one {
        if m.on {
            b = Labels::empty().builder();
            for lab in l.iter() {
                if m.labels.iter().any(|x| x == lab.name.as_str()) && !(arith && lab.name.as_str() == METRIC_NAME) {
                    b.set(lab.name.as_str(), lab.value.as_str());
                }
            }
        } else {
            for n in &m.labels {
                b.del(n);
            }
        }
    }
    for n in include {
        match r.get(n) {
            Some(v) => {
                b.set(n, v);
            }
            None => {
                b.del(n);
            }
        }
    }
    b.build()
}

/// A vector against a scalar; `swap` when the scalar was on the left.
fn vector_scalar(op: TokenType, mut v: Vec<StepSeries>, s: &[f64], swap: bool, return_bool: bool) -> Vec<StepSeries> {
    let cmp = is_comparison(op);
    for series in &mut v {
        for (i, slot) in series.vals.iter_mut().enumerate() {
            let Some(x) = *slot else { continue };
            let (l, r) = if swap { (s[i], x) } else { (x, s[i]) };
            let (mut val, keep) = apply(op, l, r);
            if cmp && swap {
                val = x;
            }
            if return_bool {
                *slot = Some(if keep { 1.0 } else { 0.0 });
            } else if keep {
                *slot = Some(val);
            } else {
                *slot = None;
            }
        }
        if drops_name(op) || return_bool {
            series.drop_name = true;
        }
    }
    v.retain(|s| s.vals.iter().any(|v| v.is_some()));
    v
}
