use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, summary_data_point::ValueAtQuantile, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use vitals_model::{is_stale_nan, Labels};

use super::*;
use crate::testutil::MemAppender;

const T0: u64 = 1_700_000_000_000_000_000; // ns
const T0_MS: i64 = 1_700_000_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }) }
}

fn number(attrs: Vec<KeyValue>, t: u64, v: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint { attributes: attrs, time_unix_nano: t, value: Some(v), ..Default::default() }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric { name: name.into(), unit: unit.into(), data: Some(data), ..Default::default() }
}

fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: resource, ..Default::default() }),
            scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn service() -> Vec<KeyValue> {
    vec![kv("service.name", "api"), kv("service.namespace", "shop"), kv("service.instance.id", "pod-1")]
}

fn ingest(req: &ExportMetricsServiceRequest) -> (MemAppender, IngestStats) {
    let mut app = MemAppender::default();
    let stats = append_otlp(req, &mut app, &IngestLimits::default(), &OtlpOptions::default()).unwrap();
    (app, stats)
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn sample_of(app: &MemAppender, labels: &Labels) -> Vec<(i64, f64)> {
    app.committed.get(labels).cloned().unwrap_or_else(|| panic!("no series {labels}; have {:?}", app.committed.keys()))
}

#[test]
fn gauge_and_counter_protobuf() {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let req = request(
        service(),
        vec![
            metric(
                "memory.usage",
                "By",
                Data::Gauge(Gauge {
                    data_points: vec![number(vec![kv("host.name", "h1")], T0, number_data_point::Value::AsInt(42))],
                }),
            ),
            metric(
                "http.requests",
                "{request}",
                Data::Sum(Sum {
                    data_points: vec![
                        number(vec![kv("http.method", "GET")], T0, number_data_point::Value::AsDouble(1.5)),
                        number(
                            vec![kv("http.method", "GET")],
                            T0 + 1_000_000_000,
                            number_data_point::Value::AsDouble(2.5),
                        ),
                    ],
                    aggregation_temporality: cumulative,
                    is_monotonic: true,
                }),
            ),
        ],
    );
    let body = prost::Message::encode_to_vec(&req);
    let decoded = decode_otlp(&body, "application/x-protobuf").unwrap();
    assert_eq!(decoded, req);
    let (app, stats) = ingest(&decoded);
    let job = ("job", "shop/api");
    let inst = ("instance", "pod-1");
    assert_eq!(
        sample_of(&app, &l(&[("__name__", "memory_usage_bytes"), ("host_name", "h1"), job, inst])),
        vec![(T0_MS, 42.0)]
    );
    assert_eq!(
        sample_of(&app, &l(&[("__name__", "http_requests_total"), ("http_method", "GET"), job, inst])),
        vec![(T0_MS, 1.5), (T0_MS + 1000, 2.5)]
    );
    assert_eq!(stats.samples, 3);
    assert!(app.samples("target_info").is_empty(), "only identifying attributes: no target_info");
}

#[test]
fn json_body_is_decoded() {
    let json = r#"{"resourceMetrics":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"svc"}}]},
      "scopeMetrics":[{"metrics":[{"name":"queue.depth","unit":"1","gauge":{"dataPoints":[
        {"attributes":[{"key":"queue","value":{"stringValue":"q1"}}],
         "timeUnixNano":"1700000000000000000","asDouble":7}]}}]}]}]}"#;
    let req = decode_otlp(json.as_bytes(), "application/json; charset=utf-8").unwrap();
    let (app, _) = ingest(&req);
    assert_eq!(
        sample_of(&app, &l(&[("__name__", "queue_depth_ratio"), ("queue", "q1"), ("job", "svc")])),
        vec![(T0_MS, 7.0)]
    );
    // And the crate's own JSON serialisation round-trips.
    let again = decode_otlp(&serde_json::to_vec(&req).unwrap(), "application/json").unwrap();
    assert_eq!(again, req);
}

#[test]
fn bad_bodies_and_content_types() {
    assert_eq!(decode_otlp(b"{}", "text/plain").unwrap_err().status(), 415);
    assert_eq!(decode_otlp(b"{not json", "application/json").unwrap_err().status(), 400);
    assert_eq!(decode_otlp(&[0xff, 0xff, 0xff], "application/x-protobuf").unwrap_err().status(), 400);
}

#[test]
fn histogram_expands_to_classic_series() {
    let req = request(
        vec![kv("service.name", "api")],
        vec![metric(
            "http.server.duration",
            "s",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: vec![kv("route", "/a")],
                    time_unix_nano: T0,
                    count: 10,
                    sum: Some(4.5),
                    bucket_counts: vec![2, 3, 4, 1],
                    explicit_bounds: vec![0.1, 0.5, 1.0],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        )],
    );
    let (app, _) = ingest(&req);
    let base = [("route", "/a"), ("job", "api")];
    let with = |extra: &[(&str, &str)]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        l(&v)
    };
    let name = "http_server_duration_seconds";
    assert_eq!(sample_of(&app, &with(&[("__name__", &format!("{name}_sum"))])), vec![(T0_MS, 4.5)]);
    assert_eq!(sample_of(&app, &with(&[("__name__", &format!("{name}_count"))])), vec![(T0_MS, 10.0)]);
    for (le, want) in [("0.1", 2.0), ("0.5", 5.0), ("1", 9.0), ("+Inf", 10.0)] {
        let b = with(&[("__name__", &format!("{name}_bucket")), ("le", le)]);
        assert_eq!(sample_of(&app, &b), vec![(T0_MS, want)], "le={le}");
    }
    assert_eq!(app.total(), 6);
}

#[test]
fn summary_expands_to_quantiles() {
    let req = request(
        vec![kv("service.name", "api")],
        vec![metric(
            "rpc.latency",
            "ms",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T0,
                    count: 4,
                    sum: 100.0,
                    quantile_values: vec![
                        ValueAtQuantile { quantile: 0.5, value: 20.0 },
                        ValueAtQuantile { quantile: 0.99, value: 60.0 },
                    ],
                    ..Default::default()
                }],
            }),
        )],
    );
    let (app, _) = ingest(&req);
    let n = "rpc_latency_milliseconds";
    assert_eq!(sample_of(&app, &l(&[("__name__", n), ("quantile", "0.5"), ("job", "api")])), vec![(T0_MS, 20.0)]);
    assert_eq!(sample_of(&app, &l(&[("__name__", n), ("quantile", "0.99"), ("job", "api")])), vec![(T0_MS, 60.0)]);
    assert_eq!(sample_of(&app, &l(&[("__name__", &format!("{n}_sum")), ("job", "api")])), vec![(T0_MS, 100.0)]);
    assert_eq!(sample_of(&app, &l(&[("__name__", &format!("{n}_count")), ("job", "api")])), vec![(T0_MS, 4.0)]);
}

#[test]
fn target_info_carries_non_identifying_resource_attributes() {
    let mut res = service();
    res.push(kv("host.name", "node-7"));
    res.push(kv("k8s.pod.name", "p"));
    let points = vec![
        number(vec![], T0, number_data_point::Value::AsDouble(1.0)),
        number(vec![], T0 + 400_000_000_000, number_data_point::Value::AsDouble(2.0)),
    ];
    let req = request(res, vec![metric("up", "", Data::Gauge(Gauge { data_points: points }))]);
    let (app, _) = ingest(&req);
    let ti = l(&[
        ("__name__", "target_info"),
        ("job", "shop/api"),
        ("instance", "pod-1"),
        ("host_name", "node-7"),
        ("k8s_pod_name", "p"),
    ]);
    // Every 150 s from the earliest to the latest timestamp, plus the latest.
    assert_eq!(
        sample_of(&app, &ti),
        vec![(T0_MS, 1.0), (T0_MS + 150_000, 1.0), (T0_MS + 300_000, 1.0), (T0_MS + 400_000, 1.0)]
    );
    // Resource attributes are not copied onto series unless promoted.
    assert!(app.samples("up").iter().all(|(l, _)| l.get("host_name").is_none()));

    let opts = OtlpOptions { promote_resource_attributes: vec!["host.name".into()], ..Default::default() };
    let mut app = MemAppender::default();
    append_otlp(&req, &mut app, &IngestLimits::default(), &opts).unwrap();
    assert!(app.samples("up").iter().all(|(l, _)| l.get("host_name") == Some("node-7")));
}

#[test]
fn skipped_kinds_are_counted_and_stale_flag_is_honoured() {
    let delta = AggregationTemporality::Delta as i32;
    let p = || number(vec![], T0, number_data_point::Value::AsDouble(1.0));
    let req = request(
        vec![kv("service.name", "api")],
        vec![
            metric(
                "d",
                "",
                Data::Sum(Sum { data_points: vec![p(), p()], aggregation_temporality: delta, is_monotonic: true }),
            ),
            metric(
                "e",
                "",
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint::default()],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            ),
            Metric { name: "nodata".into(), ..Default::default() },
            metric(
                "gone",
                "",
                Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        time_unix_nano: T0,
                        flags: DataPointFlags::NoRecordedValueMask as u32,
                        ..Default::default()
                    }],
                }),
            ),
        ],
    );
    let (app, stats) = ingest(&req);
    assert_eq!(stats.otlp_delta_skipped, 2);
    assert_eq!(stats.otlp_exponential_histograms_skipped, 1);
    assert_eq!(stats.otlp_other_skipped, 1);
    let gone = sample_of(&app, &l(&[("__name__", "gone"), ("job", "api")]));
    assert!(is_stale_nan(gone[0].1));
    assert_eq!(app.total(), 1);
}

#[test]
fn colliding_attribute_names_are_joined() {
    let req = request(
        vec![],
        vec![metric(
            "m",
            "",
            Data::Gauge(Gauge {
                data_points: vec![number(
                    vec![kv("a.b", "2"), kv("a_b", "1")],
                    T0,
                    number_data_point::Value::AsDouble(1.0),
                )],
            }),
        )],
    );
    let (app, _) = ingest(&req);
    assert_eq!(sample_of(&app, &l(&[("__name__", "m"), ("a_b", "2;1")])), vec![(T0_MS, 1.0)]);
}

#[test]
fn limits_apply_to_translated_series() {
    let attrs = (0..70).map(|i| kv(&format!("a{i}"), "v")).collect();
    let req = request(
        vec![],
        vec![metric(
            "m",
            "",
            Data::Gauge(Gauge { data_points: vec![number(attrs, T0, number_data_point::Value::AsInt(1))] }),
        )],
    );
    let mut app = MemAppender::default();
    let err = append_otlp(&req, &mut app, &IngestLimits::default(), &OtlpOptions::default()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(app.total(), 0);
}
