//! What a query returns: the four PromQL value types, in the shapes the HTTP API serialises.
//!
//! Float samples only today. Native histograms will add a `histograms` list next to `floats` in
//! [`RangeSeries`] and an optional histogram in [`InstantSample`], as Prometheus' own types do, so
//! code that matches on [`Value`] keeps working.

use vitals_model::Labels;

/// One point of a float series: a millisecond timestamp and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FPoint {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// The evaluation time (or the sample's own time for a raw selector), in ms.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One series of a range vector (matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Points in increasing time order.
    pub floats: Vec<FPoint>,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A single number at time `t` (ms).
    Scalar {
        /// Evaluation time in ms.
        t: i64,
        /// The number.
        v: f64,
    },
    /// A string at time `t` (ms).
    String {
        /// Evaluation time in ms.
        t: i64,
        /// The string.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<InstantSample>),
    /// A range vector: the result of every range query, or of an instant query for `x[5m]`.
    Matrix(Vec<RangeSeries>),
}

impl Value {
    /// Prometheus' name for the type: `scalar`, `string`, `vector` or `matrix`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Counters and timings of one query, for `stats=all`.
#[derive(Debug, Clone, Default)]
pub struct QueryStats {
    /// Seconds spent parsing and preparing.
    pub prepare_seconds: f64,
    /// Seconds spent evaluating (including reading storage).
    pub eval_seconds: f64,
    /// Seconds spent sorting the result.
    pub sort_seconds: f64,
    /// Samples read from storage.
    pub total_queryable_samples: u64,
    /// The most samples held in memory at once (approximately: the largest intermediate result).
    pub peak_samples: u64,
}

/// A query's result with its annotations.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings (the result may be incomplete or surprising), Prometheus' wording.
    pub warnings: Vec<String>,
    /// Informational notes, Prometheus' wording.
    pub infos: Vec<String>,
    /// Counters and timings.
    pub stats: QueryStats,
}
