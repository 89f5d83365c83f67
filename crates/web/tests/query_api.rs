//! The PromQL endpoints and status pages over HTTP, on a real loopback listener and a real TSDB:
//! result shapes byte for byte as Prometheus writes them, parameter errors with Prometheus'
//! messages and status codes, form POSTs, agent mode, and the requests Grafana sends.

use std::sync::Arc;

use serde_json::{json, Value as Json};
use vitals_remote::IngestLimits;
use vitals_web::{AuthConfig, StatusInfo, TsdbHeadStats, TsdbStat, TsdbStatus, WebState};

/// 2023-11-14T22:13:20Z in seconds: every sample of the test data is near it.
const T0: i64 = 1_700_000_000;

async fn start(state: Arc<WebState>) -> (String, tokio::sync::watch::Sender<bool>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(vitals_web::server::serve(l, state, None, rx));
    (url, tx)
}

/// A state over a fresh TSDB (kept alive by the returned tempdir) holding the test data:
/// `up` for two targets every 15 s over the minute before T0, and the counter `x_total` growing
/// by 1 per second from T0-600s to T0+600s.
async fn with_data(agent: bool) -> (Arc<WebState>, String, tokio::sync::watch::Sender<bool>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = vitals_tsdb::Db::open(dir.path(), vitals_tsdb::Options::default()).unwrap();
    let mut state = WebState::new(IngestLimits::default(), AuthConfig::default());
    state.agent = agent;
    *state.status.lock() = StatusInfo {
        config_yaml: "global:\n  scrape_interval: 15s\n".into(),
        flags: [("query.lookback-delta".to_string(), "5m".to_string())].into(),
        storage_retention: "15d".into(),
        ..StatusInfo::default()
    };
    let storage: Arc<dyn vitals_web::Storage> = db.clone();
    let _ = state.storage.set(storage);
    let d = db.clone();
    let _ = state.tsdb_status.set(Arc::new(move |limit| {
        let h = d.head_stats(limit);
        TsdbStatus {
            head_stats: TsdbHeadStats {
                num_series: h.num_series,
                num_label_pairs: h.num_label_pairs,
                chunk_count: h.chunk_count,
                min_time: h.min_time,
                max_time: h.max_time,
            },
            series_count_by_metric_name: TsdbStat::list(h.series_count_by_metric_name),
            label_value_count_by_label_name: TsdbStat::list(h.label_value_count_by_label_name),
            memory_in_bytes_by_label_name: TsdbStat::list(h.memory_in_bytes_by_label_name),
            series_count_by_label_value_pair: TsdbStat::list(h.series_count_by_label_value_pair),
        }
    }));
    let state = Arc::new(state);
    let (url, stop) = start(state.clone()).await;
    let mut body = String::new();
    for i in 0..=4 {
        let t = (T0 - 60 + i * 15) * 1000;
        body.push_str(&format!("up{{job=\"api\",instance=\"a\"}} 1 {t}\nup{{job=\"db\",instance=\"b\"}} 0 {t}\n"));
    }
    for i in 0..=80 {
        let t = T0 - 600 + i * 15;
        body.push_str(&format!("x_total{{job=\"api\"}} {} {}\n", i * 15, t * 1000));
    }
    let r = reqwest::Client::new().post(format!("{url}/api/v1/import/prometheus")).body(body).send().await.unwrap();
    if !agent {
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }
    (state, url, stop, dir)
}

/// GET `url`: status and body text.
async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A form-encoded POST, as Grafana and promtool send queries.
async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let r = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn parse(body: &str) -> Json {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `/api/v1/query?query=<q>&<extra>` answered 200; the parsed body.
async fn ok(url: &str, path: &str) -> (Json, String) {
    let (code, body) = get(&format!("{url}{path}")).await;
    assert_eq!(code, 200, "{path}: {body}");
    let j = parse(&body);
    assert_eq!(j["status"], "success", "{body}");
    (j, body)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_have_prometheus_shapes() {
    let (_st, url, stop, _dir) = with_data(false).await;

    // Vector: the evaluation time as a JSON number with milliseconds, the value as a string.
    let (j, body) = ok(&url, &format!("/api/v1/query?query=up&time={T0}.123")).await;
    assert_eq!(j["data"]["resultType"], "vector");
    let mut result = j["data"]["result"].as_array().unwrap().clone();
    result.sort_by_key(|r| r["metric"]["instance"].as_str().unwrap().to_string());
    assert_eq!(
        Json::Array(result),
        json!([
            {"metric": {"__name__": "up", "instance": "a", "job": "api"}, "value": [1700000000.123, "1"]},
            {"metric": {"__name__": "up", "instance": "b", "job": "db"}, "value": [1700000000.123, "0"]},
        ])
    );
    assert!(body.contains(r#""value":[1700000000.123,"1"]"#), "{body}");
    assert!(!body.contains("warnings") && !body.contains("infos") && !body.contains("stats"), "{body}");

    // Scalar and string: `[t, "v"]`.
    let (j, _) = ok(&url, &format!("/api/v1/query?query={}&time={T0}", enc("1+1"))).await;
    assert_eq!(j["data"], json!({"resultType": "scalar", "result": [1700000000, "2"]}));
    let (_, body) = ok(&url, &format!("/api/v1/query?query={}&time={T0}.5", enc("time()"))).await;
    assert!(body.contains(r#""result":[1700000000.500,"1700000000.5"]"#), "{body}");
    let (j, _) = ok(&url, &format!("/api/v1/query?query={}&time={T0}", enc("\"hello\""))).await;
    assert_eq!(j["data"], json!({"resultType": "string", "result": [1700000000, "hello"]}));
    // Special values as Prometheus writes them.
    for (q, want) in [("1/0", "+Inf"), ("-1/0", "-Inf"), ("0/0", "NaN"), ("0.1+0.2", "0.30000000000000004")] {
        let (j, _) = ok(&url, &format!("/api/v1/query?query={}&time={T0}", enc(q))).await;
        assert_eq!(j["data"]["result"][1], want, "{q}");
    }

    // An instant query of a range selector answers a matrix of raw samples.
    let (j, _) = ok(&url, &format!("/api/v1/query?query={}&time={T0}", enc("up{instance=\"a\"}[1m]"))).await;
    assert_eq!(j["data"]["resultType"], "matrix");
    let values = j["data"]["result"][0]["values"].as_array().unwrap();
    assert!(values.len() >= 4, "{j}");
    assert_eq!(values.last().unwrap(), &json!([1700000000, "1"]));

    // Range queries: always a matrix, one point per step.
    let path = format!("/api/v1/query_range?query={}&start={}&end={T0}&step=15", enc("sum(x_total)"), T0 - 60);
    let (j, body) = ok(&url, &path).await;
    assert_eq!(
        j["data"],
        json!({"resultType": "matrix", "result": [{"metric": {}, "values": [
            [1699999940, "540"], [1699999955, "555"], [1699999970, "570"], [1699999985, "585"], [1700000000, "600"]
        ]}]}),
        "{body}"
    );
    let path = format!("/api/v1/query_range?query={}&start={}&end={T0}&step=1m", enc("rate(x_total[5m])"), T0 - 120);
    let (j, _) = ok(&url, &path).await;
    let values = j["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 3, "{j}");
    for v in values {
        let rate: f64 = v[1].as_str().unwrap().parse().unwrap();
        assert!((rate - 1.0).abs() < 1e-9, "{j}");
    }

    // stats: Prometheus' timings and sample counts.
    let (j, _) = ok(&url, &format!("/api/v1/query?query=up&time={T0}&stats=all")).await;
    let stats = &j["data"]["stats"];
    for k in
        ["evalTotalTime", "resultSortTime", "queryPreparationTime", "innerEvalTime", "execQueueTime", "execTotalTime"]
    {
        assert!(stats["timings"][k].as_f64().is_some_and(|s| s >= 0.0), "{k}: {stats}");
    }
    assert!(stats["samples"]["totalQueryableSamples"].as_u64().is_some_and(|n| n >= 2), "{stats}");
    assert!(stats["samples"]["peakSamples"].as_u64().is_some(), "{stats}");

    // limit cuts the series and says so.
    let (j, _) = ok(&url, &format!("/api/v1/query?query=up&time={T0}&limit=1")).await;
    assert_eq!(j["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(j["warnings"], json!(["results truncated due to limit"]));

    // lookback_delta: two minutes after the last sample, a 1m lookback finds nothing.
    let later = T0 + 120;
    let (j, _) = ok(&url, &format!("/api/v1/query?query=up&time={later}")).await;
    assert_eq!(j["data"]["result"].as_array().unwrap().len(), 2, "{j}");
    let (j, _) = ok(&url, &format!("/api/v1/query?query=up&time={later}&lookback_delta=1m")).await;
    assert_eq!(j["data"]["result"], json!([]), "{j}");
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_posts_are_queries_too() {
    let (_st, url, stop, _dir) = with_data(false).await;
    let t0 = T0.to_string();
    let (code, body) = post_form(&format!("{url}/api/v1/query"), &[("query", "sum(up)"), ("time", &t0)]).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        parse(&body)["data"],
        json!({"resultType": "vector", "result": [
            {"metric": {}, "value": [1700000000, "1"]}
        ]})
    );
    // A parameter in both the body and the URL: the body's wins, as with Go's `FormValue`.
    let (code, body) = post_form(&format!("{url}/api/v1/query?time=1"), &[("query", "time()"), ("time", &t0)]).await;
    assert_eq!((code, parse(&body)["data"]["result"][0].clone()), (200, json!(1700000000)), "{body}");
    // Parameters may be split between the URL and the body.
    let (code, body) = post_form(
        &format!("{url}/api/v1/query_range?step=30"),
        &[("query", "up{job=\"db\"}"), ("start", &(T0 - 30).to_string()), ("end", &t0)],
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(parse(&body)["data"]["result"][0]["values"], json!([[1699999970, "0"], [1700000000, "0"]]));
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_prometheus_json_with_its_status_codes() {
    let (_st, url, stop, _dir) = with_data(false).await;
    // Exactly Prometheus' body for a missing query.
    let (code, body) = get(&format!("{url}/api/v1/query")).await;
    assert_eq!(code, 400);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: parse error: no expression found in input"}"#
    );
    let cases: &[(&str, &str)] = &[
        ("query?query=up(", "invalid parameter \"query\": 1:1: parse error"),
        ("query?query=up&time=yesterday", "invalid parameter \"time\": Invalid time value for 'time': cannot parse"),
        ("query?query=up&timeout=soon", "invalid parameter \"timeout\": cannot parse \"soon\" to a valid duration"),
        ("query?query=up&limit=-1", "invalid parameter \"limit\": limit must be non-negative"),
        ("query?query=up&lookback_delta=x", "error parsing lookback delta duration"),
        ("query_range?query=up&end=2&step=1", "invalid parameter \"start\": cannot parse \"\" to a valid timestamp"),
        ("query_range?query=up&start=2&end=1&step=1", "invalid parameter \"end\": end timestamp must not be before"),
        ("query_range?query=up&start=1&end=2", "invalid parameter \"step\": cannot parse \"\" to a valid duration"),
        ("query_range?query=up&start=1&end=2&step=0", "invalid parameter \"step\": zero or negative query resolution"),
        (
            "query_range?query=up&start=1&end=2&step=-15",
            "invalid parameter \"step\": zero or negative query resolution",
        ),
        (
            "query_range?query=up&start=0&end=86400&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries",
        ),
        ("query_range?start=1&end=2&step=1", "invalid parameter \"query\": 1:1: parse error: no expression found"),
        ("query_range?query=up%5B5m%5D&start=1&end=2&step=1", "invalid parameter \"query\": invalid expression type"),
        ("format_query?query=sum(", "invalid parameter \"query\": 1:1: parse error"),
        ("query_exemplars?query=up&start=2&end=1", "end timestamp must not be before start timestamp"),
        ("status/tsdb?limit=0", "limit must be a positive number"),
    ];
    for (path, want) in cases {
        let (code, body) = get(&format!("{url}/api/v1/{path}")).await;
        assert_eq!(code, 400, "{path}: {body}");
        let j = parse(&body);
        assert_eq!((j["status"].as_str(), j["errorType"].as_str()), (Some("error"), Some("bad_data")), "{path}");
        assert!(j["error"].as_str().unwrap().starts_with(want), "{path}: {body}");
    }
    // A query over its `timeout`: 503 with Prometheus' errorType and text.
    let slow = enc("count_over_time((vector(1)+vector(1))[1d:10ms])");
    let (code, body) = get(&format!("{url}/api/v1/query?query={slow}&time={T0}&timeout=50ms")).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body, r#"{"status":"error","errorType":"timeout","error":"query timed out in query execution"}"#);
    // Evaluation errors: 422 execution.
    let (code, body) = get(&format!("{url}/api/v1/query?query={}&time={T0}", enc("up + on() x_total"))).await;
    assert_eq!((code, parse(&body)["errorType"].as_str()), (422, Some("execution")), "{body}");
    // The same checks on a form POST.
    let (code, body) = post_form(
        &format!("{url}/api/v1/query_range"),
        &[("query", "up"), ("start", "1"), ("end", "2"), ("step", "0")],
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("zero or negative"), "{body}");
    let _ = stop.send(true);

    // Before storage is ready: 503 unavailable.
    let state = Arc::new(WebState::new(IngestLimits::default(), AuthConfig::default()));
    let (url, stop) = start(state).await;
    let (code, body) = get(&format!("{url}/api/v1/query?query=up")).await;
    assert_eq!((code, parse(&body)["errorType"].as_str()), (503, Some("unavailable")), "{body}");
    let (code, _) = get(&format!("{url}/api/v1/status/tsdb")).await;
    assert_eq!(code, 503);
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn format_query_and_exemplars() {
    let (_st, url, stop, _dir) = with_data(false).await;
    let (j, _) = ok(&url, &format!("/api/v1/format_query?query={}", enc("sum(rate(x[5m]))by(job)"))).await;
    assert_eq!(j["data"], "sum by (job) (rate(x[5m]))");
    let (code, body) = post_form(&format!("{url}/api/v1/format_query"), &[("query", "up  +  1")]).await;
    assert_eq!((code, parse(&body)["data"].as_str()), (200, Some("up + 1")), "{body}");
    let (j, _) = ok(&url, &format!("/api/v1/query_exemplars?query=up&start={}&end={T0}", T0 - 60)).await;
    assert_eq!(j["data"], json!([]));
    let (code, body) = get(&format!("{url}/api/v1/query_exemplars?query=up(")).await;
    assert_eq!((code, parse(&body)["errorType"].as_str()), (400, Some("bad_data")), "{body}");
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_endpoints() {
    let (_st, url, stop, _dir) = with_data(false).await;
    let (j, _) = ok(&url, "/api/v1/status/runtimeinfo").await;
    let d = &j["data"];
    for k in [
        "startTime",
        "CWD",
        "reloadConfigSuccess",
        "lastConfigTime",
        "corruptionCount",
        "goroutineCount",
        "GOMAXPROCS",
        "GOMEMLIMIT",
        "GOGC",
        "GODEBUG",
        "storageRetention",
    ] {
        assert!(!d[k].is_null(), "{k} missing: {d}");
    }
    assert_eq!(d["storageRetention"], "15d");
    assert_eq!(d["reloadConfigSuccess"], true);
    assert!(d["goroutineCount"].as_u64().unwrap() >= 1 && d["GOMAXPROCS"].as_u64().unwrap() >= 1, "{d}");
    assert!(d["startTime"].as_str().unwrap().ends_with('Z'), "{d}");
    let (j, _) = ok(&url, "/api/v1/status/flags").await;
    assert_eq!(j["data"], json!({"query.lookback-delta": "5m"}));
    let (j, _) = ok(&url, "/api/v1/status/config").await;
    assert_eq!(j["data"], json!({"yaml": "global:\n  scrape_interval: 15s\n"}));

    let (j, _) = ok(&url, "/api/v1/status/tsdb").await;
    let d = &j["data"];
    assert_eq!(d["headStats"]["numSeries"], 3, "{d}");
    // __name__ (up, x_total), instance (a, b), job (api, db).
    assert_eq!(d["headStats"]["numLabelPairs"], 6, "{d}");
    assert_eq!(d["headStats"]["minTime"], (T0 - 600) * 1000);
    assert_eq!(d["headStats"]["maxTime"], (T0 + 600) * 1000);
    assert!(d["headStats"]["chunkCount"].as_i64().unwrap() >= 3, "{d}");
    assert_eq!(d["seriesCountByMetricName"], json!([{"name": "up", "value": 2}, {"name": "x_total", "value": 1}]));
    assert_eq!(d["labelValueCountByLabelName"][0]["value"], 2);
    // Ties are ordered by name.
    assert_eq!(
        d["seriesCountByLabelValuePair"],
        json!([
            {"name": "__name__=up", "value": 2},
            {"name": "job=api", "value": 2},
            {"name": "__name__=x_total", "value": 1},
            {"name": "instance=a", "value": 1},
            {"name": "instance=b", "value": 1},
            {"name": "job=db", "value": 1},
        ])
    );
    assert_eq!(
        d["memoryInBytesByLabelName"],
        json!([{"name": "__name__", "value": 11}, {"name": "job", "value": 8}, {"name": "instance", "value": 2}])
    );
    let (j, _) = ok(&url, "/api/v1/status/tsdb?limit=1").await;
    assert_eq!(j["data"]["seriesCountByMetricName"], json!([{"name": "up", "value": 2}]));
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_mode_turns_the_query_endpoints_off() {
    let (_st, url, stop, _dir) = with_data(true).await;
    for path in [
        "query?query=up",
        "query_range?query=up&start=1&end=2&step=1",
        "format_query?query=up",
        "query_exemplars?query=up",
        "status/tsdb",
        "series?match[]=up",
    ] {
        let (code, body) = get(&format!("{url}/api/v1/{path}")).await;
        assert_eq!(code, 422, "{path}: {body}");
        assert_eq!(parse(&body)["errorType"], "execution", "{path}");
    }
    let (code, body) = post_form(&format!("{url}/api/v1/query"), &[("query", "up")]).await;
    assert_eq!(code, 422, "{body}");
    for path in ["status/runtimeinfo", "status/flags", "status/config", "status/buildinfo"] {
        assert_eq!(get(&format!("{url}/api/v1/{path}")).await.0, 200, "{path}");
    }
    let _ = stop.send(true);
}

/// The requests Grafana's Prometheus data source makes: the "Save & test" health check, a
/// dashboard panel's form-encoded range query (start/end in float seconds, step in whole seconds),
/// label pickers with `match[]` and a time range, metadata for the query builder, buildinfo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_request_shapes() {
    let (_st, url, stop, _dir) = with_data(false).await;
    let grafana = |req: reqwest::RequestBuilder| {
        req.header("User-Agent", "Grafana/11.3.0")
            .header("X-Grafana-Org-Id", "1")
            .header("Accept", "application/json, text/plain, */*")
    };
    let c = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder| async move {
        let r = req.send().await.unwrap();
        let code = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(code, 200, "{body}");
        parse(&body)
    };

    // Save & test: an instant `1+1` as a form POST.
    let form = format!("query=1%2B1&time={T0}.000");
    let j = send(
        grafana(c.post(format!("{url}/api/v1/query")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form),
    )
    .await;
    assert_eq!(j["data"], json!({"resultType": "scalar", "result": [1700000000, "2"]}));

    // A panel: rate over the last five minutes at a 15 s step.
    let form = format!("query={}&start={}.5&end={T0}.5&step=15", enc("sum by (job) (rate(x_total[5m]))"), T0 - 300);
    let j = send(
        grafana(c.post(format!("{url}/api/v1/query_range")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form),
    )
    .await;
    assert_eq!(j["data"]["resultType"], "matrix");
    let series = j["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{j}");
    assert_eq!(series[0]["metric"], json!({"job": "api"}));
    let values = series[0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 21, "{j}");
    assert_eq!(values[0][0], json!(1699999700.5));
    assert!(values.iter().all(|v| (v[1].as_str().unwrap().parse::<f64>().unwrap() - 1.0).abs() < 1e-9), "{j}");

    // Label pickers.
    let j =
        send(grafana(c.get(format!("{url}/api/v1/labels?start={}&end={T0}&match[]={}", T0 - 3600, enc("up"))))).await;
    assert_eq!(j["data"], json!(["__name__", "instance", "job"]));
    let j = send(grafana(c.get(format!("{url}/api/v1/label/__name__/values?start={}&end={T0}", T0 - 3600)))).await;
    assert_eq!(j["data"], json!(["up", "x_total"]));
    // The query builder's metadata and the data source's version probe.
    let j = send(grafana(c.get(format!("{url}/api/v1/metadata")))).await;
    assert!(j["data"].is_object(), "{j}");
    let j = send(grafana(c.get(format!("{url}/api/v1/status/buildinfo")))).await;
    assert!(j["data"]["version"].is_string(), "{j}");
    let _ = stop.send(true);
}
