//! The engine's limits and errors through its public API: sample limit, timeout, cancellation,
//! resolution limit, Prometheus' error types, result shapes of instant and range queries.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use vitals_model::{Appendable, Labels, MemStorage};
use vitals_promql::{Engine, EngineOptions, QueryError, QueryOptions, Value};

fn storage(series: usize, points: i64) -> MemStorage {
    let db = MemStorage::new();
    let mut app = db.appender();
    for s in 0..series {
        let l = Labels::from_pairs([("__name__", "req_total"), ("i", &s.to_string())]);
        for p in 0..points {
            app.append(&l, p * 15_000, (p * 10) as f64).unwrap();
        }
    }
    app.commit().unwrap();
    db
}

#[test]
fn instant_and_range_shapes() {
    let db = storage(3, 100);
    let e = Engine::default();
    let q = QueryOptions::default();
    let r = e.instant_query(&db, "sum(rate(req_total[1m]))", 600_000, &q).unwrap();
    match r.value {
        Value::Vector(v) => {
            assert_eq!(v.len(), 1);
            assert!((v[0].v - 2.0).abs() < 1e-9, "3 series x 10 per 15 s = 2/s, got {}", v[0].v);
            assert_eq!(v[0].t, 600_000);
        }
        other => panic!("want vector, got {other:?}"),
    }
    let r = e.range_query(&db, "req_total{i=\"1\"} * 2", 0, 300_000, 60_000, &q).unwrap();
    let Value::Matrix(m) = r.value else { panic!("range queries give matrices") };
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].labels, Labels::from_pairs([("i", "1")]), "arithmetic drops the name");
    assert_eq!(
        m[0].floats.iter().map(|p| p.t).collect::<Vec<_>>(),
        vec![0, 60_000, 120_000, 180_000, 240_000, 300_000]
    );
    assert_eq!(m[0].floats[1].v, 80.0);
    let r = e.instant_query(&db, "1 + 2", 1000, &q).unwrap();
    assert_eq!(r.value, Value::Scalar { t: 1000, v: 3.0 });
    let r = e.instant_query(&db, "\"text\"", 1000, &q).unwrap();
    assert_eq!(r.value, Value::String { t: 1000, v: "text".into() });
    let r = e.instant_query(&db, "req_total{i=\"2\"}[1m]", 60_000, &q).unwrap();
    let Value::Matrix(m) = r.value else { panic!("range selector gives a matrix") };
    assert_eq!(m[0].floats.len(), 4, "left-open window (0, 60s] holds 15, 30, 45, 60 s");
}

#[test]
fn errors_have_prometheus_types() {
    let db = storage(2, 10);
    let e = Engine::default();
    let q = QueryOptions::default();
    let err = e.instant_query(&db, "sum(", 0, &q).unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
    let err = e.instant_query(&db, "req_total + on() req_total", 60_000, &q).unwrap_err();
    assert_eq!(err.error_type(), "execution");
    assert!(err.to_string().contains("many-to-many matching not allowed"), "{err}");
    let err = e.range_query(&db, "req_total", 0, 10, 0, &q).unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
    let err = e.range_query(&db, "req_total", 0, 20_000_000, 1, &q).unwrap_err();
    assert!(err.to_string().contains("11,000 points"), "{err}");
    let err = e.range_query(&db, "req_total[5m]", 0, 60_000, 15_000, &q).unwrap_err();
    assert!(err.to_string().contains("range query"), "{err}");
}

#[test]
fn sample_limit_is_enforced() {
    let db = storage(50, 200);
    let e = Engine::new(EngineOptions { max_samples: 1000, ..EngineOptions::default() });
    let q = QueryOptions::default();
    let err = e.range_query(&db, "req_total", 0, 2_985_000, 15_000, &q).unwrap_err();
    assert!(matches!(err, QueryError::Execution(ref m) if m.contains("too many samples")), "{err}");
    // A small query under the limit still works.
    assert!(e.instant_query(&db, "req_total{i=\"3\"}", 60_000, &q).is_ok());
}

#[test]
fn timeout_and_cancel_stop_a_query() {
    let db = storage(200, 400);
    let e = Engine::default();
    let q = QueryOptions { timeout: Some(Duration::from_nanos(1)), ..QueryOptions::default() };
    let expensive = "sum by (i) (rate(req_total[10m])) / on(i) group_left count by (i) (req_total)";
    let err = e.range_query(&db, expensive, 0, 5_985_000, 15_000, &q).unwrap_err();
    assert_eq!(err.error_type(), "timeout", "{err}");
    let cancel = Arc::new(AtomicBool::new(true));
    let q = QueryOptions { cancel: Some(cancel), ..QueryOptions::default() };
    let err = e.range_query(&db, expensive, 0, 5_985_000, 15_000, &q).unwrap_err();
    assert_eq!(err.error_type(), "canceled", "{err}");
}

#[test]
fn lookback_delta_is_configurable() {
    let db = storage(1, 2); // samples at 0 and 15 s
    let e = Engine::default();
    let short = QueryOptions { lookback_delta: Some(Duration::from_secs(30)), ..QueryOptions::default() };
    let long = QueryOptions::default();
    let at = 60_000;
    let got = |q: &QueryOptions| match e.instant_query(&db, "req_total", at, q).unwrap().value {
        Value::Vector(v) => v.len(),
        _ => usize::MAX,
    };
    assert_eq!(got(&short), 0, "15 s sample is older than a 30 s lookback at 60 s");
    assert_eq!(got(&long), 1);
}
