//! Rule groups evaluated step by step over an in-memory storage: recorded series, alert states,
//! `ALERTS`/`ALERTS_FOR_STATE`, staleness, notifications and state restored after a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vitals_model::{Appendable, Labels, MemStorage, Queryable};
use vitals_promql::{Engine, QueryOptions, Value};
use vitals_rules::{parse_rule_file, AlertState, Group, ManagerOptions, RuleFile};

const RULES: &str = r#"
groups:
  - name: api
    interval: 15s
    rules:
      - record: job:errors:rate1m
        expr: sum by (job) (rate(errors_total[1m]))
      - alert: ErrorsHigh
        expr: job:errors:rate1m > 1
        for: 30s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} has {{ $value | humanize }} errors/s"
"#;

fn opts(db: &Arc<MemStorage>, dir: &Path) -> ManagerOptions {
    ManagerOptions {
        engine: Engine::default(),
        storage: db.clone() as Arc<dyn Queryable>,
        appendable: db.clone() as Arc<dyn Appendable>,
        state_dir: dir.to_path_buf(),
        external_labels: Default::default(),
        external_url: "http://vitals.example:9797".into(),
        default_interval: Duration::from_secs(60),
        resend_delay: Duration::from_secs(60),
        sink: None,
    }
}

fn files() -> Vec<(PathBuf, RuleFile)> {
    let p = PathBuf::from("rules.yml");
    vec![(p.clone(), parse_rule_file(&p, RULES).unwrap())]
}

/// Errors grow by `per_step` every 15 s from t=0 to `until` (ms).
fn load(db: &MemStorage, per_step: f64, until: i64) {
    let mut app = db.appender();
    let l = Labels::from_pairs([("__name__", "errors_total"), ("job", "api")]);
    let mut v = 0.0;
    let mut t = 0;
    while t <= until {
        app.append(&l, t, v).unwrap();
        v += per_step;
        t += 15_000;
    }
    app.commit().unwrap();
}

fn instant(db: &MemStorage, q: &str, t: i64) -> Vec<(Labels, f64)> {
    match Engine::default().instant_query(db, q, t, &QueryOptions::default()).unwrap().value {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.v)).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn recording_and_alerting_rules_follow_prometheus_states() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(MemStorage::new());
    load(&db, 60.0, 300_000); // 4 errors/s
    let o = opts(&db, dir.path());
    let mut g = Group::from_files(&files(), o.default_interval).unwrap().remove(0);
    assert_eq!(g.interval, Duration::from_secs(15));

    let sent = g.eval(&o, 60_000);
    assert!(sent.is_empty(), "pending alerts are not sent");
    let rec = instant(&db, "job:errors:rate1m", 60_000);
    assert_eq!(rec.len(), 1);
    assert!((rec[0].1 - 4.0).abs() < 1e-9, "{rec:?}");
    let alerts = instant(&db, "ALERTS", 60_000);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0.get("alertstate"), Some("pending"));
    assert_eq!(alerts[0].0.get("severity"), Some("page"));
    assert_eq!(instant(&db, "ALERTS_FOR_STATE", 60_000)[0].1, 60.0);

    g.eval(&o, 75_000);
    let sent = g.eval(&o, 90_000); // held for 30 s: fires
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].labels["alertname"], "ErrorsHigh");
    assert_eq!(sent[0].annotations["summary"], "api has 4 errors/s");
    assert_eq!(sent[0].starts_at, 90_000);
    assert!(sent[0].ends_at > 90_000, "valid for a while");
    assert!(sent[0].generator_url.starts_with("http://vitals.example:9797/graph?g0.expr="));
    assert_eq!(instant(&db, "ALERTS{alertstate=\"firing\"}", 90_000).len(), 1);
    assert!(instant(&db, "ALERTS{alertstate=\"pending\"}", 90_000).is_empty(), "pending series went stale");
    assert!(g.eval(&o, 105_000).is_empty(), "not re-sent within the resend delay");

    // Errors stop: the alert resolves and the resolution is sent once.
    let mut app = db.appender();
    let l = Labels::from_pairs([("__name__", "errors_total"), ("job", "api")]);
    for t in (315_000..=600_000).step_by(15_000) {
        app.append(&l, t, 1200.0).unwrap();
    }
    app.commit().unwrap();
    let sent = g.eval(&o, 420_000);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at, 420_000, "resolved at this evaluation");
    assert!(instant(&db, "ALERTS", 420_000).is_empty());
    assert!(g.eval(&o, 435_000).is_empty());
}

#[test]
fn a_restart_keeps_a_firing_alert_firing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(MemStorage::new());
    load(&db, 60.0, 600_000);
    let o = opts(&db, dir.path());
    let mut g = Group::from_files(&files(), o.default_interval).unwrap().remove(0);
    for t in [60_000, 75_000, 90_000] {
        g.eval(&o, t);
    }
    drop(g);
    // A new process: the group is built again and restores its saved state.
    let m = vitals_rules::RuleManager::new(o.clone());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(m.apply(&files())).unwrap();
    let alerts = m.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].state, AlertState::Firing, "restored as firing, not pending");
    assert_eq!(alerts[0].active_at, 60_000);
    rt.block_on(m.shutdown());
}

#[test]
fn infinite_values_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(MemStorage::new());
    let rules = "groups:\n  - name: ratio\n    rules:\n      - alert: Ratio\n        expr: vector(1) / vector(0) > 0\n";
    let p = PathBuf::from("ratio.yml");
    let files = vec![(p.clone(), parse_rule_file(&p, rules).unwrap())];
    let o = opts(&db, dir.path());
    let mut g = Group::from_files(&files, o.default_interval).unwrap().remove(0);
    assert_eq!(g.eval(&o, 60_000).len(), 1, "fires at once with for: 0");
    let m = vitals_rules::RuleManager::new(o.clone());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(m.apply(&files)).unwrap();
    let alerts = m.alerts();
    assert_eq!(alerts.len(), 1, "the saved state with a +Inf value was read back");
    assert!(alerts[0].value.is_infinite());
    rt.block_on(m.shutdown());
}
