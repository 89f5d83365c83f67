//! The evaluator (being written).
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use promql_parser::parser::Expr;
use vitals_model::Queryable;

use crate::engine::EngineOptions;
use crate::error::{QueryError, Result};
use crate::value::Value;

pub(crate) struct Evaluator<'a> {
    pub total_samples: u64,
    pub peak_samples: u64,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    _s: &'a dyn Queryable,
}

impl<'a> Evaluator<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        storage: &'a dyn Queryable,
        _opts: &'a EngineOptions,
        _lookback: i64,
        _deadline: Instant,
        _cancel: Option<Arc<AtomicBool>>,
        _start: i64,
        _end: i64,
        _step: i64,
    ) -> Self {
        Evaluator { total_samples: 0, peak_samples: 0, warnings: vec![], infos: vec![], _s: storage }
    }
    pub fn run(&mut self, _expr: &Expr) -> Result<(Value, f64)> {
        Err(QueryError::Execution("not yet".into()))
    }
}
