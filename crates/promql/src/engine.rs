//! The query engine's entry points: parse, open one querier over the time the expression needs,
//! evaluate, and turn the evaluator's step-aligned series into a [`Value`].

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use promql_parser::parser::{self, Expr};
use vitals_model::Queryable;

use crate::error::{QueryError, Result};
use crate::eval::Evaluator;
use crate::value::{QueryResult, QueryStats};

/// Engine-wide settings (Prometheus' `--query.*` flags).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`, 5m).
    pub lookback_delta: Duration,
    /// Most samples a query may hold in memory at once (`--query.max-samples`, 50 000 000).
    pub max_samples: u64,
    /// Longest a query may run (`--query.timeout`, 2m).
    pub timeout: Duration,
    /// Step of a subquery written without one (`[1h:]`), 1m as in Prometheus.
    pub default_subquery_step: Duration,
    /// Most points per series a range query may produce (11 000, as Prometheus' API).
    pub max_points_per_series: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: Duration::from_secs(60),
            max_points_per_series: 11_000,
        }
    }
}

/// Per-query settings.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Overrides the engine's lookback delta (the API's `lookback_delta` parameter).
    pub lookback_delta: Option<Duration>,
    /// Overrides the engine's timeout when shorter (the API's `timeout` parameter).
    pub timeout: Option<Duration>,
    /// Set to `true` by the caller to stop the query (client went away).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Evaluates PromQL over a [`Queryable`].
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with these settings.
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// The engine's settings.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at time `t` (ms).
    pub fn instant_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        t: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult> {
        self.run(storage, query, t, t, 0, qopts)
    }

    /// Evaluates `query` at every `step` (ms, > 0) from `start` to `end` (ms, inclusive); the
    /// result is always a matrix.
    pub fn range_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult> {
        if step <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(QueryError::BadData("end timestamp must not be before start time".into()));
        }
        if (end - start) / step > self.opts.max_points_per_series as i64 {
            return Err(QueryError::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                    .into(),
            ));
        }
        self.run(storage, query, start, end, step, qopts)
    }

    fn run(
        &self,
        storage: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult> {
        let began = Instant::now();
        let expr = parse(query)?;
        if step > 0 && !matches!(expr.value_type(), parser::value::ValueType::Scalar | parser::value::ValueType::Vector)
        {
            return Err(QueryError::BadData(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_word(&expr)
            )));
        }
        let timeout = match qopts.timeout {
            Some(t) if t < self.opts.timeout => t,
            _ => self.opts.timeout,
        };
        let lookback = qopts.lookback_delta.unwrap_or(self.opts.lookback_delta);
        let mut stats = QueryStats { prepare_seconds: began.elapsed().as_secs_f64(), ..QueryStats::default() };
        let eval_began = Instant::now();
        let mut ev = Evaluator::new(
            storage,
            &self.opts,
            lookback.as_millis() as i64,
            began + timeout,
            qopts.cancel.clone(),
            start,
            end,
            step,
        );
        ev.invalid_utf8 = invalid_utf8_literals(query);
        let out = ev.run(&expr);
        stats.eval_seconds = eval_began.elapsed().as_secs_f64();
        let (value, sort_seconds) = out?;
        stats.sort_seconds = sort_seconds;
        stats.total_queryable_samples = ev.total_samples;
        stats.peak_samples = ev.peak_samples;
        Ok(QueryResult { value, warnings: ev.warnings, infos: ev.infos, stats })
    }
}

/// String literals of the query that Go would decode to invalid UTF-8 (`"\xff"`), as the parser
/// decodes them (each `\xNN` becomes U+00NN). Prometheus refuses such strings as label names.
pub(crate) fn invalid_utf8_literals(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            for d in chars.by_ref() {
                if d == '`' {
                    break;
                }
            }
            continue;
        }
        if c != '"' && c != '\'' {
            continue;
        }
        let quote = c;
        let (mut go, mut ours) = (Vec::<u8>::new(), String::new());
        while let Some(d) = chars.next() {
            if d == quote {
                break;
            }
            if d != '\\' {
                let mut buf = [0u8; 4];
                go.extend_from_slice(d.encode_utf8(&mut buf).as_bytes());
                ours.push(d);
                continue;
            }
            let Some(e) = chars.next() else { break };
            let digits =
                |n: usize, radix: u32, first: Option<char>, it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut v = 0u32;
                    let mut taken = 0;
                    if let Some(f) = first {
                        v = f.to_digit(radix).unwrap_or(0);
                        taken = 1;
                    }
                    while taken < n {
                        match it.peek().and_then(|c| c.to_digit(radix)) {
                            Some(x) => {
                                v = v * radix + x;
                                it.next();
                                taken += 1;
                            }
                            None => break,
                        }
                    }
                    v
                };
            match e {
                'x' | '0'..='7' => {
                    let v = if e == 'x' { digits(2, 16, None, &mut chars) } else { digits(3, 8, Some(e), &mut chars) };
                    go.push(v as u8);
                    ours.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
                'u' | 'U' => {
                    let v = digits(if e == 'u' { 4 } else { 8 }, 16, None, &mut chars);
                    let ch = char::from_u32(v).unwrap_or('\u{fffd}');
                    let mut buf = [0u8; 4];
                    go.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    ours.push(ch);
                }
                other => {
                    let ch = match other {
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\u{b}',
                        x => x,
                    };
                    go.push(ch as u8);
                    ours.push(ch);
                }
            }
        }
        if std::str::from_utf8(&go).is_err() {
            out.push(ours);
        }
    }
    out
}

/// Parses an expression, with Prometheus' `bad_data` error text.
pub fn parse(query: &str) -> Result<Expr> {
    parser::parse(query).map_err(|e| QueryError::BadData(format!("1:1: parse error: {}", e.trim())))
}

/// Formats an expression the way `/api/v1/format_query` does.
pub fn format_query(query: &str) -> Result<String> {
    Ok(parse(query)?.prettify())
}

fn type_word(expr: &Expr) -> &'static str {
    match expr.value_type() {
        parser::value::ValueType::Scalar => "scalar",
        parser::value::ValueType::String => "string",
        parser::value::ValueType::Vector => "instant vector",
        parser::value::ValueType::Matrix => "range vector",
    }
}
