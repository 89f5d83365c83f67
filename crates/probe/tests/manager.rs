//! The ProbeManager: scheduled probes land in storage with job/instance labels, removed targets
//! get staleness markers, results and uptime are kept, and the history survives a restart.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use vitals_model::{is_stale_nan, Matcher, MemStorage, Queryable, Sample};
use vitals_probe::{parse_modules, ProbeCheck, ProbeManager};

fn samples(db: &MemStorage, name: &str, instance: &str) -> Vec<Sample> {
    let q = db.querier(0, i64::MAX).unwrap();
    let ms = [Matcher::equal("__name__", name), Matcher::equal("instance", instance)];
    let series = q.select(&ms, None).unwrap();
    series.iter().flat_map(|s| s.samples_between(0, i64::MAX)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_probes_append_and_go_stale() {
    let base = common::http_server().await;
    let db = MemStorage::new();
    let dir = tempfile::tempdir().unwrap();
    let mgr = ProbeManager::new(Arc::new(db.clone())).with_data_dir(dir.path()).unwrap();
    let modules = parse_modules("web:\n  prober: http\n  timeout: 2s\n").unwrap();
    let ok = format!("{base}/ok");
    let bad = format!("{base}/fail");
    let check = |targets: Vec<String>| ProbeCheck {
        name: "site".into(),
        module: "web".into(),
        targets,
        interval: Duration::from_millis(200),
        labels: BTreeMap::from([("team".to_string(), "web".to_string())]),
    };
    mgr.apply(&modules, vec![check(vec![ok.clone(), bad.clone()])]).unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;

    let up = samples(&db, "probe_success", &ok);
    assert!(up.len() >= 3, "{up:?}");
    assert!(up.iter().all(|s| s.v == 1.0));
    let down = samples(&db, "probe_success", &bad);
    assert!(!down.is_empty() && down.iter().all(|s| s.v == 0.0));
    let q = db.querier(0, i64::MAX).unwrap();
    let s = q
        .select(&[Matcher::equal("__name__", "probe_http_status_code"), Matcher::equal("instance", &bad)], None)
        .unwrap();
    assert_eq!(s[0].labels().get("job"), Some("site"));
    assert_eq!(s[0].labels().get("team"), Some("web"));

    let results = mgr.results();
    assert_eq!(results.len(), 2);
    let bad_status = results.iter().find(|r| r.target == bad).unwrap();
    assert!(bad_status.last.as_ref().unwrap().failure.as_deref().unwrap().contains("500"));
    let u = mgr.uptime("site", &bad).unwrap();
    assert_eq!(u.h1, 0.0);
    assert_eq!(u.incidents.len(), 1);
    assert!(u.incidents[0].cause.contains("500") && u.incidents[0].end.is_none());
    assert_eq!(mgr.uptime("site", &ok).unwrap().h24, 100.0);

    // Removing a target marks its series stale; the other keeps running.
    mgr.apply(&modules, vec![check(vec![ok.clone()])]).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let down = samples(&db, "probe_success", &bad);
    assert!(is_stale_nan(down.last().unwrap().v), "{down:?}");
    let n = down.len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(samples(&db, "probe_success", &bad).len(), n, "no samples after removal");
    assert_eq!(mgr.results().len(), 1);
    let before = samples(&db, "probe_success", &ok).len();
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(samples(&db, "probe_success", &ok).len() > before);

    // Unknown modules are refused.
    let mut c = check(vec![ok.clone()]);
    c.module = "nope".into();
    assert!(mgr.apply(&modules, vec![c]).unwrap_err().to_string().contains("unknown module"));

    // The history is saved on shutdown and read back by the next manager.
    mgr.apply(&modules, vec![check(vec![ok.clone(), bad.clone()])]).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    mgr.shutdown().await;
    let path = dir.path().join("probes/history.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"version\": 1") && text.contains("site"), "{text}");
    let mgr2 = ProbeManager::new(Arc::new(MemStorage::new())).with_data_dir(dir.path()).unwrap();
    let u = mgr2.uptime("site", &bad).unwrap();
    assert_eq!(u.incidents.len(), 1);
    assert!(mgr2.uptime("site", &ok).unwrap().incidents.is_empty());
}
