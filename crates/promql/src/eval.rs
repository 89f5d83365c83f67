//! The evaluator: walks the expression tree once for the whole query, every node producing its value
//! at every step of the evaluation grid at once (series × steps), as Prometheus' range evaluation
//! does. Work that depends only on a series' labels (grouping keys, matching signatures, output
//! labels) is therefore done once per series rather than once per step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{AtModifier, Expr, Offset, SubqueryExpr, VectorSelector};
use rustc_hash::FxHashMap;
use vitals_model::{is_stale_nan, Labels, MatchOp, Matcher, Querier, Queryable, SelectHints, METRIC_NAME};

use crate::engine::EngineOptions;
use crate::error::{QueryError, Result};
use crate::value::{FPoint, InstantSample, RangeSeries, Value};

/// One series of an instant-vector node: its value at each step of the grid (`None`: no sample).
#[derive(Debug, Clone)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    /// `__name__` is to be removed at the end of evaluation (Prometheus' delayed name removal).
    pub drop_name: bool,
    pub vals: Vec<Option<f64>>,
}

/// One series of a range-vector node: every point any step's window can see, in time order.
#[derive(Debug, Clone)]
pub(crate) struct WindowSeries {
    pub labels: Labels,
    pub drop_name: bool,
    pub pts: Vec<FPoint>,
}

/// A range vector as a function argument: the series and, per step, the window `(end - range, end]`.
#[derive(Debug)]
pub(crate) struct RangeVec {
    pub series: Vec<WindowSeries>,
    pub range: i64,
    /// Window end per step.
    pub ends: Vec<i64>,
}

impl RangeVec {
    /// Calls `f(series, step, window)` for every series and step whose window holds a point; builds
    /// the instant vector of the results (drop_name marks the result's name for removal).
    pub fn map_windows(
        &self,
        ev: &mut Evaluator<'_>,
        keep_name: bool,
        mut f: impl FnMut(usize, usize, &[FPoint]) -> Option<f64>,
    ) -> Result<Vec<StepSeries>> {
        let n = self.ends.len();
        let mut out = Vec::with_capacity(self.series.len());
        for (si, s) in self.series.iter().enumerate() {
            ev.check()?;
            let mut vals = vec![None; n];
            let mut any = false;
            let (mut lo, mut hi) = (0usize, 0usize);
            let mut prev_end = i64::MIN;
            for (i, &end) in self.ends.iter().enumerate() {
                if end < prev_end {
                    lo = 0;
                    hi = 0;
                }
                prev_end = end;
                let start = end - self.range;
                while lo < s.pts.len() && s.pts[lo].t <= start {
                    lo += 1;
                }
                if hi < lo {
                    hi = lo;
                }
                while hi < s.pts.len() && s.pts[hi].t <= end {
                    hi += 1;
                }
                if hi > lo {
                    ev.count_window(hi - lo)?;
                    if let Some(v) = f(si, i, &s.pts[lo..hi]) {
                        vals[i] = Some(v);
                        any = true;
                    }
                }
            }
            if any {
                out.push(StepSeries { labels: s.labels.clone(), drop_name: !keep_name || s.drop_name, vals });
            }
        }
        Ok(out)
    }
}

/// The value of a node.
#[derive(Debug)]
pub(crate) enum EvalValue {
    /// One number per step.
    Scalar(Vec<f64>),
    /// A string literal.
    Str(String),
    /// An instant vector over the grid.
    Vector(Vec<StepSeries>),
    /// A range vector (only as the final value of an instant query, e.g. `x[5m]`).
    Range(RangeVec),
}

/// State of one query's evaluation.
pub(crate) struct Evaluator<'a> {
    storage: &'a dyn Queryable,
    querier: Option<Box<dyn Querier + 'a>>,
    pub(crate) opts: &'a EngineOptions,
    pub(crate) lookback: i64,
    deadline: Instant,
    cancel: Option<Arc<AtomicBool>>,
    /// The query's own start and end (for `@ start()` / `@ end()`).
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    query_step: i64,
    /// Timestamps of the current evaluation grid (changes inside subqueries).
    pub(crate) ts: Vec<i64>,
    checks: u32,
    /// String literals that are not valid UTF-8 in Prometheus' reading of the query.
    pub(crate) invalid_utf8: Vec<String>,
    pub total_samples: u64,
    pub peak_samples: u64,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

fn grid(start: i64, end: i64, step: i64) -> Vec<i64> {
    if step <= 0 || end <= start {
        return vec![start];
    }
    let n = (end - start) / step + 1;
    (0..n).map(|i| start + i * step).collect()
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The label matchers of a selector, with the metric name first.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>> {
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::equal(METRIC_NAME, name.as_str()));
    }
    for m in &vs.matchers.matchers {
        let op = match &m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::Regex,
            PMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        out.push(Matcher::new(op, m.name.as_str(), m.value.as_str()).map_err(|e| QueryError::BadData(e.to_string()))?);
    }
    Ok(out)
}

/// Removes `__name__` from series marked for it, then merges series that now share a label set;
/// two values at one step for one label set is Prometheus' "same labelset" error.
pub(crate) fn merge_same_labels(series: Vec<StepSeries>, drop_names: bool) -> Result<Vec<StepSeries>> {
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    for mut s in series {
        if drop_names && s.drop_name {
            if s.labels.get(METRIC_NAME).is_some() {
                let mut b = s.labels.builder();
                b.del(METRIC_NAME);
                s.labels = b.build();
            }
            s.drop_name = false;
        }
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let o = &mut out[i];
                for (a, b) in o.vals.iter_mut().zip(s.vals) {
                    if b.is_some() {
                        if a.is_some() {
                            return Err(QueryError::Execution(
                                "vector cannot contain metrics with the same labelset".into(),
                            ));
                        }
                        *a = b;
                    }
                }
                o.drop_name |= s.drop_name;
            }
        }
    }
    Ok(out)
}

impl<'a> Evaluator<'a> {
    /// A new evaluation of one query over `[start, end]` every `step` ms (`step` 0: instant).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        storage: &'a dyn Queryable,
        opts: &'a EngineOptions,
        lookback: i64,
        deadline: Instant,
        cancel: Option<Arc<AtomicBool>>,
        start: i64,
        end: i64,
        step: i64,
    ) -> Self {
        Evaluator {
            storage,
            querier: None,
            opts,
            lookback,
            deadline,
            cancel,
            query_start: start,
            query_end: end,
            query_step: step,
            ts: grid(start, end, step),
            checks: 0,
            invalid_utf8: Vec::new(),
            total_samples: 0,
            peak_samples: 0,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    /// Evaluates the expression; returns the value and the seconds spent sorting it.
    pub fn run(&mut self, expr: &Expr) -> Result<(Value, f64)> {
        let (mint, maxt) = self.time_range(expr, self.query_start, self.query_end, None);
        if mint <= maxt {
            let q = self.storage.querier(mint, maxt).map_err(|e| QueryError::Execution(e.to_string()))?;
            self.querier = Some(q);
        }
        let v = self.eval(expr)?;
        let sort_began = Instant::now();
        let instant = self.query_step == 0;
        let t0 = self.query_start;
        let out = match v {
            EvalValue::Scalar(vals) => {
                if instant {
                    Value::Scalar { t: t0, v: vals[0] }
                } else {
                    let floats = self.ts.iter().zip(vals).map(|(&t, v)| FPoint { t, v }).collect();
                    Value::Matrix(vec![RangeSeries { labels: Labels::empty(), floats }])
                }
            }
            EvalValue::Str(s) => Value::String { t: t0, v: s },
            EvalValue::Vector(series) => {
                let series = merge_same_labels(series, true)?;
                if instant {
                    Value::Vector(
                        series
                            .into_iter()
                            .filter_map(|s| s.vals[0].map(|v| InstantSample { labels: s.labels, t: t0, v }))
                            .collect(),
                    )
                } else {
                    let mut m: Vec<RangeSeries> = series
                        .into_iter()
                        .map(|s| RangeSeries {
                            labels: s.labels,
                            floats: self
                                .ts
                                .iter()
                                .zip(s.vals)
                                .filter_map(|(&t, v)| v.map(|v| FPoint { t, v }))
                                .collect(),
                        })
                        .filter(|s| !s.floats.is_empty())
                        .collect();
                    m.sort_by(|a, b| a.labels.cmp(&b.labels));
                    Value::Matrix(m)
                }
            }
            EvalValue::Range(rv) => {
                let end = rv.ends[0];
                let start = end - rv.range;
                let mut m: Vec<RangeSeries> = rv
                    .series
                    .into_iter()
                    .map(|s| {
                        let labels = if s.drop_name { drop_name(&s.labels) } else { s.labels };
                        RangeSeries {
                            labels,
                            floats: s.pts.into_iter().filter(|p| p.t > start && p.t <= end).collect(),
                        }
                    })
                    .filter(|s| !s.floats.is_empty())
                    .collect();
                m.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(m)
            }
        };
        Ok((out, sort_began.elapsed().as_secs_f64()))
    }

    /// The time range `[mint, maxt]` the expression reads when evaluated over `[start, end]`.
    fn time_range(&self, expr: &Expr, start: i64, end: i64, range: Option<i64>) -> (i64, i64) {
        match expr {
            Expr::VectorSelector(vs) => {
                let (s, e) = self.ref_span(&vs.at, &vs.offset, start, end);
                (s - range.unwrap_or(self.lookback), e)
            }
            Expr::MatrixSelector(ms) => {
                let (s, e) = self.ref_span(&ms.vs.at, &ms.vs.offset, start, end);
                (s - ms.range.as_millis() as i64, e)
            }
            Expr::Subquery(sq) => {
                let (s, e) = self.ref_span(&sq.at, &sq.offset, start, end);
                self.time_range(&sq.expr, s - sq.range.as_millis() as i64, e, None)
            }
            Expr::Aggregate(a) => {
                let mut r = self.time_range(&a.expr, start, end, None);
                if let Some(p) = &a.param {
                    r = union(r, self.time_range(p, start, end, None));
                }
                r
            }
            Expr::Unary(u) => self.time_range(&u.expr, start, end, range),
            Expr::Binary(b) => {
                union(self.time_range(&b.lhs, start, end, None), self.time_range(&b.rhs, start, end, None))
            }
            Expr::Paren(p) => self.time_range(&p.expr, start, end, range),
            Expr::Call(c) => {
                let mut r = (i64::MAX, i64::MIN);
                for a in &c.args.args {
                    r = union(r, self.time_range(a, start, end, None));
                }
                r
            }
            _ => (i64::MAX, i64::MIN),
        }
    }

    /// First and last reference time of a selector with these modifiers over `[start, end]`.
    fn ref_span(&self, at: &Option<AtModifier>, offset: &Option<Offset>, start: i64, end: i64) -> (i64, i64) {
        let off = offset_ms(offset);
        match self.at_ms(at) {
            Some(t) => (t - off, t - off),
            None => (start - off, end - off),
        }
    }

    pub(crate) fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(system_time_ms(t)),
        }
    }

    /// Reference time per step of the grid for a selector with these modifiers.
    fn refs(&self, at: &Option<AtModifier>, offset: &Option<Offset>) -> Vec<i64> {
        let off = offset_ms(offset);
        match self.at_ms(at) {
            Some(t) => vec![t - off; self.ts.len()],
            None => self.ts.iter().map(|t| t - off).collect(),
        }
    }

    /// Fails when the query ran out of time or was canceled.
    pub(crate) fn check(&mut self) -> Result<()> {
        self.checks = self.checks.wrapping_add(1);
        if let Some(c) = &self.cancel {
            if c.load(Ordering::Relaxed) {
                return Err(QueryError::Canceled("query execution"));
            }
        }
        if self.checks.is_multiple_of(16) && Instant::now() > self.deadline {
            return Err(QueryError::Timeout("query execution"));
        }
        Ok(())
    }

    /// Accounts for `n` samples held at once; fails past the limit.
    pub(crate) fn count_window(&mut self, n: usize) -> Result<()> {
        self.note_samples(n as u64)
    }

    fn note_samples(&mut self, n: u64) -> Result<()> {
        if n > self.peak_samples {
            self.peak_samples = n;
        }
        if n > self.opts.max_samples {
            return Err(QueryError::Execution(
                "query processing would load too many samples into memory in query execution".into(),
            ));
        }
        Ok(())
    }

    /// Accounts for a node's output.
    pub(crate) fn count_output(&mut self, series: &[StepSeries]) -> Result<()> {
        let n: usize = series.iter().map(|s| s.vals.iter().filter(|v| v.is_some()).count()).sum();
        self.note_samples(n as u64)
    }

    /// True for a range query (even inside a subquery of one).
    pub(crate) fn is_range_query(&self) -> bool {
        self.query_step > 0
    }

    pub(crate) fn nsteps(&self) -> usize {
        self.ts.len()
    }

    /// Evaluates a node.
    pub(crate) fn eval(&mut self, expr: &Expr) -> Result<EvalValue> {
        self.check()?;
        match expr {
            Expr::NumberLiteral(n) => Ok(EvalValue::Scalar(vec![n.val; self.nsteps()])),
            Expr::StringLiteral(s) => Ok(EvalValue::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                EvalValue::Scalar(v) => Ok(EvalValue::Scalar(v.into_iter().map(|x| -x).collect())),
                EvalValue::Vector(mut vs) => {
                    for s in &mut vs {
                        s.drop_name = true;
                        for v in s.vals.iter_mut().flatten() {
                            *v = -*v;
                        }
                    }
                    Ok(EvalValue::Vector(vs))
                }
                _ => Err(QueryError::BadData("unary expression only allowed on scalars and instant vectors".into())),
            },
            Expr::VectorSelector(vs) => Ok(EvalValue::Vector(self.eval_selector(vs, false)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => Ok(EvalValue::Range(self.eval_range(expr)?)),
            Expr::Binary(b) => self.eval_binary(b),
            Expr::Aggregate(a) => self.eval_aggregate(a),
            Expr::Call(c) => self.eval_call(c),
            Expr::Extension(_) => Err(QueryError::BadData("extension expressions are not supported".into())),
        }
    }

    /// Evaluates to an instant vector (or fails with the type found).
    pub(crate) fn eval_vector(&mut self, expr: &Expr) -> Result<Vec<StepSeries>> {
        match self.eval(expr)? {
            EvalValue::Vector(v) => Ok(v),
            other => Err(QueryError::BadData(format!("expected instant vector, got {}", kind(&other)))),
        }
    }

    /// Evaluates to a scalar per step.
    pub(crate) fn eval_scalar(&mut self, expr: &Expr) -> Result<Vec<f64>> {
        match self.eval(expr)? {
            EvalValue::Scalar(v) => Ok(v),
            other => Err(QueryError::BadData(format!("expected scalar, got {}", kind(&other)))),
        }
    }

    /// Evaluates to a string.
    pub(crate) fn eval_string(&mut self, expr: &Expr) -> Result<String> {
        match self.eval(expr)? {
            EvalValue::Str(s) => Ok(s),
            other => Err(QueryError::BadData(format!("expected string, got {}", kind(&other)))),
        }
    }

    /// Reads the samples of every series matching the selector within `[mint, maxt]` (stale markers
    /// included), normalising NaN payloads so that only the staleness marker is special.
    fn select(&mut self, vs: &VectorSelector, mint: i64, maxt: i64) -> Result<Vec<WindowSeries>> {
        let matchers = selector_matchers(vs)?;
        let Some(q) = self.querier.as_ref() else { return Ok(Vec::new()) };
        let hints = SelectHints { start: mint, end: maxt, step: self.query_step, func: None };
        let series = q.select(&matchers, Some(&hints)).map_err(|e| QueryError::Execution(e.to_string()))?;
        let mut out = Vec::with_capacity(series.len());
        let mut total = 0u64;
        for s in &series {
            // Same layout: the collect reuses the storage's buffer.
            let pts: Vec<FPoint> = s
                .samples_between(mint, maxt)
                .into_iter()
                .map(|smp| FPoint {
                    t: smp.t,
                    v: if smp.v.is_nan() && !is_stale_nan(smp.v) { f64::NAN } else { smp.v },
                })
                .collect();
            if !pts.is_empty() {
                total += pts.len() as u64;
                out.push(WindowSeries { labels: s.labels().clone(), drop_name: false, pts });
            }
        }
        self.total_samples += total;
        self.check()?;
        Ok(out)
    }

    /// An instant-vector selector over the grid: per step the newest sample in
    /// `(ref - lookback, ref]`, unless it is a staleness marker. With `timestamps`, the value is the
    /// sample's own time in seconds (for `timestamp()`).
    pub(crate) fn eval_selector(&mut self, vs: &VectorSelector, timestamps: bool) -> Result<Vec<StepSeries>> {
        let refs = self.refs(&vs.at, &vs.offset);
        let (lo, hi) = (refs.iter().copied().min().unwrap_or(0), refs.iter().copied().max().unwrap_or(0));
        let raw = self.select(vs, lo - self.lookback + 1, hi)?;
        let mut out = Vec::with_capacity(raw.len());
        for s in raw {
            self.check()?;
            let mut vals = vec![None; refs.len()];
            let mut any = false;
            let mut j = 0usize; // points[..j] have t <= ref
            let mut prev_ref = i64::MIN;
            for (i, &r) in refs.iter().enumerate() {
                if r < prev_ref {
                    j = 0;
                }
                prev_ref = r;
                while j < s.pts.len() && s.pts[j].t <= r {
                    j += 1;
                }
                if j == 0 {
                    continue;
                }
                let p = s.pts[j - 1];
                if p.t <= r - self.lookback || is_stale_nan(p.v) {
                    continue;
                }
                vals[i] = Some(if timestamps { p.t as f64 / 1000.0 } else { p.v });
                any = true;
            }
            if any {
                out.push(StepSeries { labels: s.labels, drop_name: false, vals });
            }
        }
        self.count_output(&out)?;
        Ok(out)
    }

    /// A range-vector argument (matrix selector or subquery) with its window per step.
    pub(crate) fn eval_range(&mut self, expr: &Expr) -> Result<RangeVec> {
        match expr {
            Expr::Paren(p) => self.eval_range(&p.expr),
            Expr::MatrixSelector(ms) => {
                let range = ms.range.as_millis() as i64;
                let ends = self.refs(&ms.vs.at, &ms.vs.offset);
                let (lo, hi) = (ends.iter().copied().min().unwrap_or(0), ends.iter().copied().max().unwrap_or(0));
                let mut series = self.select(&ms.vs, lo - range + 1, hi)?;
                for s in &mut series {
                    s.pts.retain(|p| !is_stale_nan(p.v));
                }
                series.retain(|s| !s.pts.is_empty());
                Ok(RangeVec { series, range, ends })
            }
            Expr::Subquery(sq) => self.eval_subquery(sq),
            _ => Err(QueryError::BadData(format!("expected range vector, got {}", expr))),
        }
    }

    fn eval_subquery(&mut self, sq: &SubqueryExpr) -> Result<RangeVec> {
        let range = sq.range.as_millis() as i64;
        let step = match sq.step {
            Some(s) if !s.is_zero() => s.as_millis() as i64,
            _ => self.opts.default_subquery_step.as_millis() as i64,
        };
        let ends = self.refs(&sq.at, &sq.offset);
        let (lo, hi) = (ends.iter().copied().min().unwrap_or(0), ends.iter().copied().max().unwrap_or(0));
        // Inner steps are aligned to multiples of the subquery step (Go's truncating division); the
        // first one is after `lo - range`, which no left-open window includes.
        let mut start = step * ((lo - range) / step);
        if start <= lo - range {
            start += step;
        }
        let inner_steps = if hi < start { 0 } else { (hi - start) / step + 1 };
        self.note_samples(inner_steps as u64)?;
        self.check()?;
        let saved = std::mem::replace(&mut self.ts, grid(start, hi, step));
        if hi < start {
            self.ts = Vec::new();
        }
        let inner = if self.ts.is_empty() { Ok(EvalValue::Vector(Vec::new())) } else { self.eval(&sq.expr) };
        let inner_ts = std::mem::replace(&mut self.ts, saved);
        let series = match inner? {
            EvalValue::Vector(v) => v
                .into_iter()
                .map(|s| WindowSeries {
                    labels: s.labels,
                    drop_name: s.drop_name,
                    pts: inner_ts.iter().zip(s.vals).filter_map(|(&t, v)| v.map(|v| FPoint { t, v })).collect(),
                })
                .filter(|s| !s.pts.is_empty())
                .collect(),
            EvalValue::Scalar(v) => vec![WindowSeries {
                labels: Labels::empty(),
                drop_name: false,
                pts: inner_ts.iter().zip(v).map(|(&t, v)| FPoint { t, v }).collect(),
            }],
            other => {
                return Err(QueryError::BadData(format!(
                    "subquery is only allowed on instant vector, got {} instead",
                    kind(&other)
                )))
            }
        };
        Ok(RangeVec { series, range, ends })
    }
}

fn union(a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
    (a.0.min(b.0), a.1.max(b.1))
}

/// The labels without `__name__`.
pub(crate) fn drop_name(l: &Labels) -> Labels {
    if l.get(METRIC_NAME).is_none() {
        return l.clone();
    }
    let mut b = l.builder();
    b.del(METRIC_NAME);
    b.build()
}

pub(crate) fn kind(v: &EvalValue) -> &'static str {
    match v {
        EvalValue::Scalar(_) => "scalar",
        EvalValue::Str(_) => "string",
        EvalValue::Vector(_) => "instant vector",
        EvalValue::Range(_) => "range vector",
    }
}
