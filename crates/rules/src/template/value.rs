//! Values a template computes with, standing in for the Go types Prometheus' templates see.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::gotime::GoTime;
use super::TemplateData;

/// Label set shared between values without copying.
pub(super) type Labels = Rc<BTreeMap<String, String>>;

/// A Go value; the variant is its dynamic type.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// An untyped nil or a missing value (`<no value>` when printed).
    Nil,
    /// `bool`.
    Bool(bool),
    /// `int` (integer literals, `len`, indexes).
    Int(i64),
    /// `float64` (sample values, float literals).
    Float(f64),
    /// `string`.
    Str(String),
    /// `map[string]string` (label sets).
    StrMap(Labels),
    /// `map[string]interface {}` (the result of `args`).
    AnyMap(Rc<BTreeMap<String, Value>>),
    /// `template.queryResult` (the result of `query`).
    Samples(Rc<Vec<Rc<Sample>>>),
    /// `*template.sample`.
    Sample(Rc<Sample>),
    /// `*time.Time` (the result of `toTime`), always UTC.
    Time(GoTime),
    /// The data a template is executed on.
    Data(Rc<RootData>),
}

/// One sample of a query result.
#[derive(Debug)]
pub(super) struct Sample {
    pub(super) labels: Labels,
    pub(super) value: f64,
}

/// The struct Prometheus passes as `.` to alert templates.
#[derive(Debug)]
pub(super) struct RootData {
    pub(super) labels: Labels,
    pub(super) external_labels: Labels,
    pub(super) external_url: String,
    pub(super) value: f64,
}

impl RootData {
    pub(super) fn new(data: &TemplateData) -> RootData {
        RootData {
            labels: Rc::new(data.labels.clone()),
            external_labels: Rc::new(data.external_labels.clone()),
            external_url: data.external_url.clone(),
            value: data.value,
        }
    }
}

/// Go's name of the root data type in error messages.
const DATA_TYPE: &str =
    "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }";

impl Value {
    /// Go's name for the value's type, as `%T` prints it.
    pub(super) fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::StrMap(_) => "map[string]string",
            Value::AnyMap(_) => "map[string]interface {}",
            Value::Samples(_) => "template.queryResult",
            Value::Sample(_) => "*template.sample",
            Value::Time(_) => "*time.Time",
            Value::Data(_) => DATA_TYPE,
        }
    }

    /// Go template truth: false for nil, false, zero, and empty strings, maps and lists.
    pub(super) fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::StrMap(m) => !m.is_empty(),
            Value::AnyMap(m) => !m.is_empty(),
            Value::Samples(s) => !s.is_empty(),
            Value::Sample(_) | Value::Time(_) | Value::Data(_) => true,
        }
    }

    /// An empty query result (what a nil `queryResult` behaves like).
    pub(super) fn no_samples() -> Value {
        Value::Samples(Rc::new(Vec::new()))
    }
}
