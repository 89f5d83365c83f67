//! OTLP/HTTP metrics receive: decode an `ExportMetricsServiceRequest` (protobuf or JSON) and append
//! it following Prometheus' OTLP translation (`storage/remote/otlptranslator/prometheusremotewrite`):
//!
//! * names: see [`naming`]; monotonic cumulative sums get `_total`, unit `1` gauges `_ratio`;
//! * gauges and cumulative sums: one sample per data point (int or double);
//! * histograms: cumulative `_bucket{le=…}` series ending with `le="+Inf"`, `_sum` (when set),
//!   `_count`; summaries: `{quantile=…}` series, `_sum`, `_count`;
//! * delta temporality, exponential histograms and data points without a value are skipped and
//!   counted in [`IngestStats`] (Prometheus drops delta metrics unless told otherwise);
//! * resource: `service.namespace`/`service.name` → `job` (`ns/name`), `service.instance.id` →
//!   `instance`; the other resource attributes go to a `target_info` gauge (value 1, with job and
//!   instance) sampled from the resource's earliest to latest timestamp every 2.5 minutes (half
//!   the default lookback delta) and at the latest one;
//! * data point attributes become labels (names sanitised; attributes whose names collide after
//!   sanitising are joined with `;` in key order); timestamps ns → ms; the NoRecordedValue flag
//!   becomes the staleness NaN.
//!
//! Request bodies compressed with `Content-Encoding: gzip` must be decompressed by the HTTP layer.

pub mod naming;

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, DataPointFlags, Metric, NumberDataPoint,
};
use prost::Message;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use vitals_model::{Appender, STALE_NAN};

use crate::error::RemoteError;
use crate::receive::{validate_labels, Batch, IngestLimits, IngestStats};
use naming::NameType;

/// How OTLP metric names are translated (Prometheus' `otlp.translation_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TranslationStrategy {
    /// Invalid characters become `_`; unit and type suffixes are added (Prometheus' default).
    #[default]
    UnderscoreEscapingWithSuffixes,
    /// Invalid characters become `_`; no suffixes.
    UnderscoreEscapingWithoutSuffixes,
}

/// Options of the OTLP receiver, with Prometheus' `otlp:` configuration keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpOptions {
    /// Resource attributes copied onto every series of the resource as labels.
    pub promote_resource_attributes: Vec<String>,
    /// Name translation.
    pub translation_strategy: TranslationStrategy,
    /// Keep `service.name`, `service.namespace`, `service.instance.id` on `target_info` too.
    pub keep_identifying_resource_attributes: bool,
}

const NANOS_PER_MS: u64 = 1_000_000;
const TARGET_INFO_INTERVAL_MS: i64 = 150_000;
const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// Decodes an OTLP metrics export body by its `Content-Type` (`application/x-protobuf` or
/// `application/json`, parameters ignored).
pub fn decode_otlp(body: &[u8], content_type: &str) -> Result<ExportMetricsServiceRequest, RemoteError> {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/x-protobuf" | "application/protobuf" => {
            ExportMetricsServiceRequest::decode(body).map_err(|e| RemoteError::Decode(format!("OTLP protobuf: {e}")))
        }
        "application/json" => serde_json::from_slice(body).map_err(|e| RemoteError::Decode(format!("OTLP JSON: {e}"))),
        _ => Err(RemoteError::UnsupportedMediaType(content_type.to_string())),
    }
}

/// Translates and appends an OTLP export request, committing once (same outcome rules as
/// [`crate::append_write_request`]).
pub fn append_otlp(
    req: &ExportMetricsServiceRequest,
    app: &mut dyn Appender,
    limits: &IngestLimits,
    opts: &OtlpOptions,
) -> Result<IngestStats, RemoteError> {
    let mut conv = Converter { opts, series: Vec::new(), index: FxHashMap::default(), stats: IngestStats::default() };
    for rm in &req.resource_metrics {
        let attrs: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| r.attributes.as_slice());
        let res = ResourceCtx::new(attrs, opts);
        let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                if let Some((lo, hi)) = conv.metric(m, &res) {
                    min_t = min_t.min(lo);
                    max_t = max_t.max(hi);
                }
            }
        }
        if min_t <= max_t {
            conv.target_info(attrs, &res, min_t, max_t);
        }
    }
    if conv.series.len() > limits.max_series_per_request {
        return Err(RemoteError::Limit(format!(
            "{} series in one request, limit {}",
            conv.series.len(),
            limits.max_series_per_request
        )));
    }
    let mut labels = Vec::with_capacity(conv.series.len());
    for (pairs, _) in &conv.series {
        labels.push(validate_labels(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())), limits)?);
    }
    let mut stats = conv.stats;
    let mut batch = Batch::new(app);
    for ((_, samples), ls) in conv.series.iter().zip(&labels) {
        stats.series += 1;
        let mut r = None;
        for &(t, v) in samples {
            batch.add(ls, &mut r, t, v)?;
        }
    }
    batch.finish(stats)
}

/// The labels every series of one resource gets.
struct ResourceCtx {
    /// job, instance and promoted attributes (already sanitised).
    labels: Vec<(String, String)>,
}

impl ResourceCtx {
    fn new(attrs: &[KeyValue], opts: &OtlpOptions) -> Self {
        let mut labels = Vec::new();
        for key in &opts.promote_resource_attributes {
            if let Some(v) = find(attrs, key) {
                labels.push((naming::label_name(key), v));
            }
        }
        if let Some(name) = find(attrs, SERVICE_NAME) {
            let job = match find(attrs, SERVICE_NAMESPACE) {
                Some(ns) => format!("{ns}/{name}"),
                None => name,
            };
            labels.push(("job".into(), job));
        }
        if let Some(id) = find(attrs, SERVICE_INSTANCE_ID) {
            labels.push(("instance".into(), id));
        }
        ResourceCtx { labels }
    }
}

type Pairs = Vec<(String, String)>;

struct Converter<'a> {
    opts: &'a OtlpOptions,
    series: Vec<(Pairs, Vec<(i64, f64)>)>,
    index: FxHashMap<Pairs, usize>,
    stats: IngestStats,
}

impl Converter<'_> {
    /// Converts one metric; returns its (min, max) timestamp in ms if any sample was produced.
    fn metric(&mut self, m: &Metric, res: &ResourceCtx) -> Option<(i64, i64)> {
        let with_suffixes = self.opts.translation_strategy == TranslationStrategy::UnderscoreEscapingWithSuffixes;
        let cumulative = AggregationTemporality::Cumulative as i32;
        let (typ, points) = match &m.data {
            Some(Data::Gauge(g)) => (NameType::Gauge, g.data_points.len()),
            Some(Data::Sum(s)) if s.aggregation_temporality != cumulative => {
                self.stats.otlp_delta_skipped += s.data_points.len() as u64;
                return None;
            }
            Some(Data::Sum(s)) if s.is_monotonic => (NameType::Counter, s.data_points.len()),
            Some(Data::Sum(s)) => (NameType::NonMonotonicCounter, s.data_points.len()),
            Some(Data::Histogram(h)) if h.aggregation_temporality != cumulative => {
                self.stats.otlp_delta_skipped += h.data_points.len() as u64;
                return None;
            }
            Some(Data::Histogram(h)) => (NameType::Histogram, h.data_points.len()),
            Some(Data::ExponentialHistogram(h)) => {
                self.stats.otlp_exponential_histograms_skipped += h.data_points.len() as u64;
                return None;
            }
            Some(Data::Summary(s)) => (NameType::Summary, s.data_points.len()),
            None => {
                self.stats.otlp_other_skipped += 1;
                return None;
            }
        };
        let Some(name) = naming::metric_name(&m.name, &m.unit, typ, with_suffixes) else {
            self.stats.otlp_other_skipped += points as u64;
            return None;
        };
        let mut range = (i64::MAX, i64::MIN);
        let mut seen = |t: i64| range = (range.0.min(t), range.1.max(t));
        match &m.data {
            Some(Data::Gauge(g)) => self.numbers(&name, &g.data_points, res, &mut seen),
            Some(Data::Sum(s)) => self.numbers(&name, &s.data_points, res, &mut seen),
            Some(Data::Histogram(h)) => {
                for p in &h.data_points {
                    let t = ms(p.time_unix_nano);
                    seen(t);
                    let stale = no_value(p.flags);
                    let val = |v: f64| if stale { STALE_NAN } else { v };
                    let base = self.base_labels(&p.attributes, res);
                    if let Some(sum) = p.sum {
                        self.add(&base, &format!("{name}_sum"), None, t, val(sum));
                    }
                    self.add(&base, &format!("{name}_count"), None, t, val(p.count as f64));
                    let mut cumulative = 0u64;
                    for (bound, count) in p.explicit_bounds.iter().zip(&p.bucket_counts) {
                        cumulative = cumulative.saturating_add(*count);
                        let le = format_float(*bound);
                        self.add(&base, &format!("{name}_bucket"), Some(("le", &le)), t, val(cumulative as f64));
                    }
                    self.add(&base, &format!("{name}_bucket"), Some(("le", "+Inf")), t, val(p.count as f64));
                }
            }
            Some(Data::Summary(s)) => {
                for p in &s.data_points {
                    let t = ms(p.time_unix_nano);
                    seen(t);
                    let stale = no_value(p.flags);
                    let val = |v: f64| if stale { STALE_NAN } else { v };
                    let base = self.base_labels(&p.attributes, res);
                    self.add(&base, &format!("{name}_sum"), None, t, val(p.sum));
                    self.add(&base, &format!("{name}_count"), None, t, val(p.count as f64));
                    for q in &p.quantile_values {
                        let qs = format_float(q.quantile);
                        self.add(&base, &name, Some(("quantile", &qs)), t, val(q.value));
                    }
                }
            }
            _ => {}
        }
        (range.0 <= range.1).then_some(range)
    }

    fn numbers(&mut self, name: &str, points: &[NumberDataPoint], res: &ResourceCtx, seen: &mut impl FnMut(i64)) {
        for p in points {
            let v = match p.value {
                _ if no_value(p.flags) => STALE_NAN,
                Some(number_data_point::Value::AsDouble(v)) => v,
                Some(number_data_point::Value::AsInt(v)) => v as f64,
                None => {
                    self.stats.otlp_other_skipped += 1;
                    continue;
                }
            };
            let t = ms(p.time_unix_nano);
            seen(t);
            let base = self.base_labels(&p.attributes, res);
            self.add(&base, name, None, t, v);
        }
    }

    /// Data point attributes (sanitised, colliding names joined with `;` in key order), then the
    /// resource's promoted attributes where not already set, then job and instance (which win).
    fn base_labels(&self, attrs: &[KeyValue], res: &ResourceCtx) -> BTreeMap<String, String> {
        let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for kv in sorted {
            let v = any_to_string(kv.value.as_ref());
            out.entry(naming::label_name(&kv.key))
                .and_modify(|e| {
                    e.push(';');
                    e.push_str(&v);
                })
                .or_insert(v);
        }
        for (k, v) in &res.labels {
            if k == "job" || k == "instance" {
                out.insert(k.clone(), v.clone());
            } else {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        out
    }

    fn add(&mut self, base: &BTreeMap<String, String>, name: &str, extra: Option<(&str, &str)>, t: i64, v: f64) {
        let mut m = base.clone();
        if let Some((k, val)) = extra {
            m.insert(k.to_string(), val.to_string());
        }
        m.insert(vitals_model::METRIC_NAME.to_string(), name.to_string());
        let pairs: Pairs = m.into_iter().collect();
        match self.index.get(&pairs) {
            Some(&i) => self.series[i].1.push((t, v)),
            None => {
                self.index.insert(pairs.clone(), self.series.len());
                self.series.push((pairs, vec![(t, v)]));
            }
        }
    }

    /// Adds `target_info` for a resource that has attributes beyond the identifying ones.
    fn target_info(&mut self, attrs: &[KeyValue], res: &ResourceCtx, min_t: i64, max_t: i64) {
        let identifying = [SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE_ID];
        if !attrs.iter().any(|kv| !identifying.contains(&kv.key.as_str())) {
            return;
        }
        if !res.labels.iter().any(|(k, _)| k == "job" || k == "instance") {
            return;
        }
        let kept: Vec<KeyValue> = attrs
            .iter()
            .filter(|kv| self.opts.keep_identifying_resource_attributes || !identifying.contains(&kv.key.as_str()))
            .cloned()
            .collect();
        let idents =
            ResourceCtx { labels: res.labels.iter().filter(|(k, _)| k == "job" || k == "instance").cloned().collect() };
        let base = self.base_labels(&kept, &idents);
        let mut t = min_t;
        while t < max_t {
            self.add(&base, "target_info", None, t, 1.0);
            t = t.saturating_add(TARGET_INFO_INTERVAL_MS);
        }
        self.add(&base, "target_info", None, max_t, 1.0);
    }
}

fn ms(ns: u64) -> i64 {
    (ns / NANOS_PER_MS) as i64
}

fn no_value(flags: u32) -> bool {
    flags & DataPointFlags::NoRecordedValueMask as u32 != 0
}

fn find(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).map(|kv| any_to_string(kv.value.as_ref()))
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest exact decimal, no exponent, `+Inf`.
fn format_float(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f.is_nan() {
        return "NaN".into();
    }
    format!("{f}")
}

/// An attribute value as text, as the OpenTelemetry collector's `AsString` renders it.
fn any_to_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => format_float(*d),
        Some(any_value::Value::BytesValue(b)) => base64(b),
        Some(other) => any_to_json(Some(other)).to_string(),
    }
}

fn any_to_json(v: Option<&any_value::Value>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        None => J::Null,
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Some(any_value::Value::BytesValue(b)) => J::String(base64(b)),
        Some(any_value::Value::ArrayValue(a)) => {
            J::Array(a.values.iter().map(|v| any_to_json(v.value.as_ref())).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => J::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), any_to_json(kv.value.as_ref().and_then(|v| v.value.as_ref()))))
                .collect(),
        ),
    }
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
