//! Edge cases the upstream promqltest files do not reach, each checked against Prometheus' own
//! engine (the source of current Prometheus 3.x, and a Prometheus 2.42 run where both agree).

use std::time::Duration;

use vitals_model::{Appendable, Labels, MemStorage};
use vitals_promql::{Engine, QueryOptions, Value};

/// One series: its labels and its `(seconds, value)` samples.
type SeriesData<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

/// Storage holding these series.
fn load(data: &[SeriesData<'_>]) -> MemStorage {
    let db = MemStorage::new();
    let mut app = db.appender();
    for (labels, samples) in data {
        let l = Labels::from_pairs(labels.iter().copied());
        for &(t, v) in samples.iter() {
            app.append(&l, t * 1000, v).unwrap();
        }
    }
    app.commit().unwrap();
    db
}

/// An instant query's vector, as `(labels, value)` sorted by labels.
fn instant(db: &MemStorage, q: &str, t_secs: i64, qopts: &QueryOptions) -> Vec<(Labels, f64)> {
    let r = Engine::default().instant_query(db, q, t_secs * 1000, qopts).unwrap_or_else(|e| panic!("{q}: {e}"));
    let Value::Vector(v) = r.value else { panic!("{q}: want a vector, got {:?}", r.value) };
    let mut out: Vec<(Labels, f64)> = v.into_iter().map(|s| (s.labels, s.v)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Vector-vector arithmetic removes `__name__` when it builds the result (Prometheus'
/// `resultMetric` deletes the metadata labels for arithmetic operators), also with delayed name
/// removal; only vector-scalar arithmetic, unary minus, `bool` comparisons and functions mark the
/// name for removal at the end. Prometheus 2.42 gives the same answers.
#[test]
fn vector_arithmetic_drops_the_name_at_once() {
    let db = load(&[
        (&[("__name__", "gauge"), ("instance", "a")], &[(0, 10.0)]),
        (&[("__name__", "other"), ("instance", "b")], &[(0, 20.0)]),
        (&[("__name__", "info"), ("instance", "a"), ("version", "1")], &[(0, 1.0)]),
        (&[("__name__", "info"), ("instance", "b"), ("version", "2")], &[(0, 1.0)]),
    ]);
    let q = QueryOptions::default();
    // label_replace sees no name to copy.
    assert_eq!(
        instant(&db, r#"label_replace(gauge + gauge, "n", "$1", "__name__", "(.+)")"#, 60, &q),
        vec![(labels(&[("instance", "a")]), 20.0)]
    );
    // The name copied from the "one" side by group_left(__name__) stays.
    assert_eq!(
        instant(&db, "gauge * on(instance) group_left(__name__) info", 60, &q),
        vec![(labels(&[("__name__", "info"), ("instance", "a")]), 10.0)]
    );
    // Grouping by the (already removed) name gives one group, not a duplicate labelset error.
    assert_eq!(
        instant(&db, "count by (__name__) ((gauge or other) * on(instance) group_left info)", 60, &q),
        vec![(Labels::empty(), 2.0)]
    );
    // on(__name__) keeps no name either.
    assert_eq!(instant(&db, "gauge - on(__name__) gauge", 60, &q), vec![(Labels::empty(), 0.0)]);
    // Comparisons still keep it; `bool` still drops it at the end.
    assert_eq!(
        instant(&db, "gauge > on(instance) group_left info", 60, &q),
        vec![(labels(&[("__name__", "gauge"), ("instance", "a")]), 10.0)]
    );
    assert_eq!(
        instant(&db, r#"label_replace(gauge >= bool gauge, "n", "$1", "__name__", "(.+)")"#, 60, &q),
        vec![(labels(&[("instance", "a"), ("n", "gauge")]), 1.0)]
    );
}

/// A subquery's first inner step is the first multiple of its step *after* `start - offset - range`
/// (Prometheus' engine: `if newEv.startTimestamp <= ev.startTimestamp - offset - range`): a step
/// exactly on the window's excluded left edge is not evaluated, so an error that only that step
/// would raise does not fail the query.
#[test]
fn subquery_does_not_evaluate_the_excluded_left_edge() {
    // With a 1m lookback, m1 and m2 are both visible at 300 s only; m1 again at 540 s.
    let db = load(&[(&[("__name__", "m1")], &[(290, 1.0), (500, 7.0)]), (&[("__name__", "m2")], &[(295, 2.0)])]);
    let q = QueryOptions { lookback_delta: Some(Duration::from_secs(60)), ..QueryOptions::default() };
    // At 600 s the [5m:1m] window is (300 s, 600 s]: inner steps 360 … 600. Renaming both series to
    // x{} collides only at 300 s, which is outside the window.
    let expr = r#"max_over_time(label_replace({__name__=~"m1|m2"}, "__name__", "x", "", "")[5m:1m])"#;
    assert_eq!(instant(&db, expr, 600, &q), vec![(Labels::empty(), 7.0)]);
    // Same through a range query whose first step puts an inner step on the edge.
    let r = Engine::default().range_query(&db, expr, 600_000, 660_000, 60_000, &q).unwrap();
    let Value::Matrix(m) = r.value else { panic!("want a matrix") };
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].floats.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>(), vec![(600_000, 7.0), (660_000, 7.0)]);
}
