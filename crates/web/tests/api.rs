//! The router on a real loopback listener: readiness before and after storage, ingest errors in
//! Prometheus' JSON format, OTLP JSON, gzip import, request metrics.

use std::io::Write;
use std::sync::Arc;

use vitals_model::{Matcher, Queryable};
use vitals_remote::IngestLimits;
use vitals_web::{AuthConfig, WebState};

async fn start(state: Arc<WebState>) -> (String, tokio::sync::watch::Sender<bool>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(vitals_web::server::serve(l, state, None, rx));
    (url, tx)
}

fn count(db: &vitals_tsdb::Db, name: &str) -> Vec<(String, Vec<f64>)> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    q.select(&[Matcher::equal("__name__", name)], None)
        .unwrap()
        .iter()
        .map(|s| {
            let mut it = s.iter();
            let mut v = Vec::new();
            while let Some(x) = it.next() {
                v.push(x.v);
            }
            (s.labels().to_string(), v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_storage_then_ingests() {
    let limits = IngestLimits { max_labels_per_series: 4, ..Default::default() };
    let state = Arc::new(WebState::new(limits, AuthConfig::default()));
    let (url, stop) = start(state.clone()).await;
    let c = reqwest::Client::new();

    assert_eq!(c.get(format!("{url}/-/healthy")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(format!("{url}/-/ready")).send().await.unwrap().status(), 503);
    let r = c.post(format!("{url}/api/v1/import/prometheus")).body("a 1\n").send().await.unwrap();
    assert_eq!(r.status(), 503);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["errorType"], "unavailable");
    let h: serde_json::Value = c.get(format!("{url}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(h["status"], "starting");

    let dir = tempfile::tempdir().unwrap();
    let db = vitals_tsdb::Db::open(dir.path(), vitals_tsdb::Options::default()).unwrap();
    let storage: Arc<dyn vitals_web::Storage> = db.clone();
    let _ = state.storage.set(storage);
    assert_eq!(c.get(format!("{url}/-/ready")).send().await.unwrap().status(), 200);

    // gzip import.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"gz_metric{a=\"1\"} 7 1000\n").unwrap();
    let r = c
        .post(format!("{url}/api/v1/import/prometheus"))
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(count(&db, "gz_metric"), [("gz_metric{a=\"1\"}".to_string(), vec![7.0])]);

    // Label limit: 400 with the error JSON, nothing stored.
    let r = c
        .post(format!("{url}/api/v1/import/prometheus"))
        .body("ok_metric 1 1000\nwide{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1 1000\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!((j["status"].as_str(), j["errorType"].as_str()), (Some("error"), Some("bad_data")));
    assert!(count(&db, "ok_metric").is_empty());

    // OTLP JSON: a gauge from service "checkout".
    let otlp = serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "checkout"}},
            {"key": "host.name", "value": {"stringValue": "h1"}}]},
        "scopeMetrics": [{"metrics": [{
            "name": "queue.depth", "unit": "{item}",
            "gauge": {"dataPoints": [{"asDouble": 3.5, "timeUnixNano": "1000000000",
                "attributes": [{"key": "queue", "value": {"stringValue": "q1"}}]}]}}]}]}]});
    let r = c.post(format!("{url}/api/v1/otlp/v1/metrics")).json(&otlp).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let got = count(&db, "queue_depth");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].0.contains("job=\"checkout\"") && got[0].0.contains("queue=\"q1\""), "{got:?}");
    assert!(!count(&db, "target_info").is_empty());
    let r = c
        .post(format!("{url}/api/v1/otlp/v1/metrics"))
        .header("Content-Type", "text/csv")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    // remote_write with a foreign Content-Encoding.
    let r = c.post(format!("{url}/api/v1/write")).header("Content-Encoding", "zstd").body("x").send().await.unwrap();
    assert_eq!(r.status(), 415);

    let m = c.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("vitals_http_requests_total{code=\"204\",handler=\"/api/v1/import/prometheus\"} 1"), "{m}");
    assert!(m.contains("vitals_ingest_samples_total{path=\"/api/v1/otlp/v1/metrics\"}"), "{m}");
    assert!(m.contains("vitals_ingest_errors_total{code=\"400\",path=\"/api/v1/import/prometheus\"} 1"), "{m}");
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_labels_and_values_answer_like_prometheus() {
    let state = Arc::new(WebState::new(IngestLimits::default(), AuthConfig::default()));
    let dir = tempfile::tempdir().unwrap();
    let db = vitals_tsdb::Db::open(dir.path(), vitals_tsdb::Options::default()).unwrap();
    let storage: Arc<dyn vitals_web::Storage> = db.clone();
    let _ = state.storage.set(storage);
    let (url, stop) = start(state).await;
    let c = reqwest::Client::new();
    let body = "req_total{job=\"api\",code=\"200\"} 1 1000\nreq_total{job=\"api\",code=\"500\"} 1 1000\nup{job=\"db\"} 1 5000\n";
    assert_eq!(c.post(format!("{url}/api/v1/import/prometheus")).body(body).send().await.unwrap().status(), 204);

    let get = |path: String| {
        let c = c.clone();
        async move { c.get(path).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let j = get(format!("{url}/api/v1/series?match[]=req_total{{code=~\"5..\"}}&match[]=up")).await;
    assert_eq!(j["status"], "success");
    assert_eq!(
        j["data"],
        serde_json::json!([{"__name__": "req_total", "code": "500", "job": "api"}, {"__name__": "up", "job": "db"}])
    );
    // Time range: only `up` has a sample at or after 4 s.
    let j = get(format!("{url}/api/v1/series?match[]={{job=~\".%2B\"}}&start=4&end=6")).await;
    assert_eq!(j["data"].as_array().unwrap().len(), 1, "{j}");
    let j = get(format!("{url}/api/v1/labels")).await;
    assert_eq!(j["data"], serde_json::json!(["__name__", "code", "job"]));
    let j = get(format!("{url}/api/v1/label/job/values?match[]=req_total")).await;
    assert_eq!(j["data"], serde_json::json!(["api"]));
    let j = get(format!("{url}/api/v1/label/__name__/values?limit=1")).await;
    assert_eq!(j["data"], serde_json::json!(["req_total"]));
    // Grafana posts forms.
    let r = c
        .post(format!("{url}/api/v1/labels"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("match%5B%5D=up&start=2026-11-23T00%3A00%3A00Z")
        .send()
        .await
        .unwrap();
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["data"], serde_json::json!([]), "up's only sample is in 1970: {j}");
    // Errors in Prometheus' shape.
    for bad in
        ["series", "series?match[]=rate(x[5m])", "series?match[]=up&start=yesterday", "labels?match[]={a=~\".*\"}"]
    {
        let r = c.get(format!("{url}/api/v1/{bad}")).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let j: serde_json::Value = r.json().await.unwrap();
        assert_eq!(j["errorType"], "bad_data", "{bad}");
    }
    let _ = stop.send(true);
}
