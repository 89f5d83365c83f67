//! `vitals serve` as a process: the default configuration, reload, shutdown, ingest errors,
//! authentication and TLS.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{http, http_get, wait_until, Vitals};
use vitals_model::{Matcher, Queryable};

/// Series (as text) and their samples stored under `data` for `name`.
fn stored(data: &std::path::Path, name: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let db = vitals_tsdb::Db::open(data, vitals_tsdb::Options::default()).unwrap();
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut out = Vec::new();
    for s in q.select(&[Matcher::equal("__name__", name)], None).unwrap() {
        let mut it = s.iter();
        let mut v = Vec::new();
        while let Some(x) = it.next() {
            v.push((x.t, x.v));
        }
        out.push((s.labels().to_string(), v));
    }
    out
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn default_config_scrapes_itself_and_serves_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    // A 1 s interval keeps the test short; the default job is the same except for the interval.
    let mut v = Vitals::start(dir.path(), None, &[]);
    let (code, body) = http_get(&format!("{}/-/healthy", v.url())).unwrap();
    assert_eq!(code, 200, "{body}");
    wait_until(20, "the self-scrape and host targets are up", || {
        let (_, body) = http_get(&format!("{}/api/v1/targets", v.url())).unwrap();
        let t = json(&body)["data"]["activeTargets"].clone();
        t.as_array().is_some_and(|a| a.len() == 2 && a.iter().all(|t| t["health"] == "up"))
    });
    let (_, body) = http_get(&format!("{}/api/v1/targets", v.url())).unwrap();
    let targets = json(&body)["data"]["activeTargets"].clone();
    let node = targets.as_array().unwrap().iter().find(|t| t["labels"]["job"] == "node").expect("a node job").clone();
    assert_eq!(node["scrapeUrl"], format!("{}/host/metrics", v.url()), "host metrics are on by default");
    let t = targets.as_array().unwrap().iter().find(|t| t["labels"]["job"] == "vitals").expect("a vitals job");
    assert_eq!(t["labels"]["job"], "vitals");
    assert_eq!(t["scrapeUrl"], format!("{}/metrics", v.url()));
    assert_eq!(t["scrapeInterval"], "15s");

    let (code, body) = http_get(&format!("{}/health", v.url())).unwrap();
    assert_eq!(code, 200);
    let h = json(&body);
    assert_eq!(h["status"], "ok");
    assert!(h["components"]["storage"]["free_bytes"].as_u64().unwrap() > 0);
    assert!(h["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));

    let (_, metrics) = http_get(&format!("{}/metrics", v.url())).unwrap();
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "vitals_http_request_duration_seconds_bucket{handler=\"/metrics\"",
        "vitals_tsdb_head_series",
        "vitals_scrape_targets{health=\"up\"} 2",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let (code, body) = http_get(&format!("{}/api/v1/nope", v.url())).unwrap();
    assert_eq!(code, 404);
    assert_eq!(json(&body)["status"], "error");

    assert_eq!(v.stop(), Some(0), "SIGTERM exits 0: {}", v.log_text());
    assert!(v.log_text().contains("vitals is up"), "one log line says where the API is");
    let up = stored(&v.dir_data(), "up");
    assert_eq!(up.len(), 2, "vitals and node: {up:?}");
    assert!(up.iter().any(|u| u.0.contains("job=\"vitals\"")), "{up:?}");
    assert!(up.iter().all(|u| u.1.iter().all(|s| s.1 == 1.0)), "{up:?}");
    assert!(!stored(&v.dir_data(), "vitals_http_request_duration_seconds_bucket").is_empty());
    let cpu = stored(&v.dir_data(), "node_cpu_seconds_total");
    assert!(cpu.iter().any(|(l, _)| l.contains("job=\"node\"") && l.contains("mode=\"idle\"")), "{cpu:?}");
}

fn scrape_config(jobs: &[(&str, &str)]) -> String {
    let mut s =
        String::from("global: {scrape_interval: 1s, scrape_timeout: 500ms}\nhost_metrics: false\nscrape_configs:\n");
    for (job, target) in jobs {
        s.push_str(&format!("  - job_name: {job}\n    static_configs: [{{targets: ['{target}']}}]\n"));
    }
    s
}

/// Jobs with an active target, and whether all of them have been scraped successfully.
fn jobs(v: &Vitals) -> Vec<String> {
    let (_, body) = http_get(&format!("{}/api/v1/targets", v.url())).unwrap();
    let mut j: Vec<String> = json(&body)["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scrapePool"].as_str().unwrap().to_string())
        .collect();
    j.sort();
    j
}

fn all_up(v: &Vitals) -> bool {
    let (_, body) = http_get(&format!("{}/api/v1/targets", v.url())).unwrap();
    json(&body)["data"]["activeTargets"].as_array().unwrap().iter().all(|t| t["health"] == "up")
}

#[test]
fn reload_by_sighup_and_http_keeps_data_and_rejects_bad_configs() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let me = format!("127.0.0.1:{port}");
    let mut v = Vitals::start_on(dir.path(), Some(&scrape_config(&[("a", &me)])), &[], port);
    wait_until(10, "job a scraped", || jobs(&v) == ["a"] && all_up(&v));
    let cfg = v.config.clone().unwrap();

    // SIGHUP: job b added, a removed.
    std::fs::write(&cfg, scrape_config(&[("b", &me)])).unwrap();
    v.signal("HUP");
    wait_until(10, "job b replaces a after SIGHUP", || jobs(&v) == ["b"] && all_up(&v));

    // POST /-/reload: both.
    std::fs::write(&cfg, scrape_config(&[("a", &me), ("b", &me)])).unwrap();
    let (code, body) = http("POST", &format!("{}/-/reload", v.url()), &[], b"").unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(jobs(&v), ["a", "b"]);

    // A bad config is refused with its error, and the old one keeps running.
    std::fs::write(&cfg, "scrape_configs:\n  - job_name: c\n    scrape_intervl: 1s\n").unwrap();
    let (code, body) = http("POST", &format!("{}/-/reload", v.url()), &[], b"").unwrap();
    assert_eq!(code, 500);
    assert!(body.contains("scrape_intervl") && body.contains("line 3"), "{body}");
    v.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(jobs(&v), ["a", "b"]);
    wait_until(10, "both jobs scraped at least twice", || {
        let (_, m) = http_get(&format!("{}/metrics", v.url())).unwrap();
        m.contains("vitals_scrape_targets{health=\"up\"} 2")
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(v.stop(), Some(0));

    let up = stored(&v.dir_data(), "up");
    let find = |job: &str| up.iter().find(|(l, _)| l.contains(&format!("job=\"{job}\""))).map(|(_, s)| s.clone());
    let a = find("a").expect("job a's up series");
    let b = find("b").expect("job b's up series");
    // Job a ran, was removed (staleness marker), and came back: data from both periods is kept.
    assert!(a.iter().any(|s| s.1.is_nan()), "a stale marker when job a was removed: {a:?}");
    assert!(a.iter().filter(|s| s.1 == 1.0).count() >= 3, "{a:?}");
    assert!(b.iter().filter(|s| s.1 == 1.0).count() >= 2, "{b:?}");
}

#[test]
fn check_config_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, scrape_config(&[("a", "localhost:1")])).unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "global:\n  scrape_interval: 15s\n  bogus_key: 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vitals")).args(["check", "config"]).arg(&good).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS"));
    let out = Command::new(env!("CARGO_BIN_EXE_vitals")).args(["check", "config"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yml") && err.contains("line 3") && err.contains("bogus_key"), "{err}");
    // serve refuses to start with it, naming the same problem.
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&bad)
        .arg("--storage.path")
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus_key"));
    // --agent without a remote_write entry has nowhere to send: refused.
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["serve", "--agent", "--listen", "127.0.0.1:0", "--config"])
        .arg(&good)
        .arg("--storage.path")
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("remote_write"), "{}", String::from_utf8_lossy(&out.stderr));
}

fn write_request(series: &[(&str, i64, f64)]) -> Vec<u8> {
    use prost::Message;
    #[derive(Clone, PartialEq, prost::Message)]
    struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        timeseries: Vec<TimeSeries>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        samples: Vec<Sample>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Label {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(string, tag = "2")]
        value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Sample {
        #[prost(double, tag = "1")]
        value: f64,
        #[prost(int64, tag = "2")]
        timestamp: i64,
    }
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|(name, t, v)| TimeSeries {
                labels: vec![
                    Label { name: "__name__".into(), value: name.to_string() },
                    Label { name: "job".into(), value: "rw".into() },
                ],
                samples: vec![Sample { value: *v, timestamp: *t }],
            })
            .collect(),
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
}

#[test]
fn ingest_endpoints_store_after_commit_and_reject_bad_input_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let limits = "limits: {max_compressed_bytes: 4096, max_series_per_request: 5}\n";
    let mut v = Vitals::start(dir.path(), Some(limits), &[]);
    let rw = [("Content-Encoding", "snappy"), ("Content-Type", "application/x-protobuf")];
    let write = format!("{}/api/v1/write", v.url());
    let (code, body) = http("POST", &write, &rw, &write_request(&[("rw_a", 1000, 1.5), ("rw_b", 1000, 2.0)])).unwrap();
    assert_eq!(code, 204, "{body}");

    let bad = [
        (write_request(&[("x", 1, 1.0); 6]), 400, "limit"),
        (b"garbage that is not snappy".to_vec(), 400, "snappy"),
        (vec![0u8; 5000], 413, ""),
    ];
    for (body, want, text) in bad {
        let (code, resp) = http("POST", &write, &rw, &body).unwrap();
        assert_eq!(code, want, "{resp}");
        if want == 400 {
            let j = json(&resp);
            assert_eq!(j["status"], "error");
            assert_eq!(j["errorType"], "bad_data");
            assert!(j["error"].as_str().unwrap().contains(text), "{resp}");
        }
    }

    let import = format!("{}/api/v1/import/prometheus?extra_label=src=imp", v.url());
    let (code, body) = http("POST", &import, &[], b"imp_x{a=\"1\"} 3 2000\nimp_x{a=\"1\"} 4 3000\n").unwrap();
    assert_eq!(code, 204, "{body}");
    let (code, body) = http("POST", &import, &[], b"imp_y 1\nimp_y{ 2\n").unwrap();
    assert_eq!(code, 400);
    assert!(json(&body)["error"].as_str().unwrap().contains("line 2"), "{body}");

    // Acknowledged writes survive a kill -9.
    v.kill9();
    assert_eq!(stored(&v.dir_data(), "rw_a"), [("rw_a{job=\"rw\"}".to_string(), vec![(1000, 1.5)])]);
    assert_eq!(
        stored(&v.dir_data(), "imp_x"),
        [("imp_x{a=\"1\", src=\"imp\"}".to_string(), vec![(2000, 3.0), (3000, 4.0)])]
    );
    assert!(stored(&v.dir_data(), "imp_y").is_empty(), "a request with a bad line stores nothing");
    assert!(stored(&v.dir_data(), "x").is_empty());
}

#[test]
fn auth_and_tls_protect_the_api() {
    if !common::have_peer("openssl") || !common::have_peer("curl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) = (dir.path().join("cert.pem"), dir.path().join("key.pem"), dir.path().join("ca.pem"));
    let ext = dir.path().join("leaf.ext");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    let d = dir.path().display().to_string();
    let openssl = |args: &str| {
        let out = Command::new("sh").arg("-c").arg(format!("cd {d} && openssl {args}")).output().unwrap();
        assert!(out.status.success(), "openssl {args}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // A test CA and a server certificate it signed.
    openssl("req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=vitals-test-ca -keyout ca.key -out ca.pem");
    openssl("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out leaf.csr");
    openssl("x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile leaf.ext -out cert.pem");
    // bcrypt hash of "secret" (cost 4).
    let hash = "$2b$04$BmY4w..ZwNR9y3w1t6xMGu.6wplFpDPYfVkA/7orbLyA4h.bBAGfK";
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config: {{cert_file: {}, key_file: {}}}\nbasic_auth_users: {{alice: '{hash}'}}\nbearer_tokens: [tok-123]\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let port = common::free_port();
    // vitals scrapes itself over TLS (trusting the test CA) with a bearer token.
    let cfg = format!(
        "scrape_configs:\n  - job_name: self\n    scrape_interval: 1s\n    scheme: https\n    tls_config: {{ca_file: {}}}\n    authorization: {{credentials: tok-123}}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n",
        ca.display()
    );
    let child = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--web.config.file"])
        .arg(&web)
        .arg("--storage.path")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg({
            let p = dir.path().join("vitals.yml");
            std::fs::write(&p, &cfg).unwrap();
            p
        })
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child);
    let curl = |args: &[&str]| -> String {
        let out = Command::new("curl")
            .args(["-s", "-k", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let base = format!("https://127.0.0.1:{port}");
    wait_until(20, "TLS server ready", || curl(&[&format!("{base}/-/ready")]) == "200");
    assert_eq!(curl(&[&format!("{base}/metrics")]), "401");
    assert_eq!(curl(&["-u", "alice:wrong", &format!("{base}/metrics")]), "401");
    assert_eq!(curl(&["-u", "alice:secret", &format!("{base}/metrics")]), "200");
    assert_eq!(curl(&["-H", "Authorization: Bearer tok-123", &format!("{base}/api/v1/targets")]), "200");
    assert_eq!(curl(&["-H", "Authorization: Bearer nope", &format!("{base}/api/v1/targets")]), "401");
    wait_until(20, "the https self-scrape with a bearer token is up", || {
        let out = Command::new("curl")
            .args(["-s", "-k", "-H", "Authorization: Bearer tok-123", &format!("{base}/api/v1/targets")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("\"health\":\"up\"")
    });
    // Plain HTTP on the TLS port gets nothing useful.
    assert_ne!(curl(&[&format!("http://127.0.0.1:{port}/-/healthy")]), "200");
}

/// Kills a child process when the test ends, passing or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn promtool_lists_series_labels_and_values() {
    if !common::have_peer("promtool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = Vitals::start(dir.path(), Some(""), &[]);
    let body = b"req_total{job=\"api\",code=\"200\"} 1\nreq_total{job=\"api\",code=\"500\"} 2\n";
    let (code, resp) = http("POST", &format!("{}/api/v1/import/prometheus", v.url()), &[], body).unwrap();
    assert_eq!(code, 204, "{resp}");
    let promtool = |args: &[&str]| {
        let out = Command::new("promtool").arg("query").args(args).output().unwrap();
        assert!(out.status.success(), "promtool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let series = promtool(&["series", &v.url(), "--match=req_total{code=\"500\"}"]);
    assert!(series.contains("code=\"500\"") && !series.contains("code=\"200\""), "{series}");
    let values = promtool(&["labels", &v.url(), "code"]);
    assert_eq!(values.split_whitespace().collect::<Vec<_>>(), ["200", "500"], "{values}");
}

/// promtool, Prometheus' own client, against vitals' query API: what it prints for instant and
/// range queries, series and label values must be what vitals' API answers when asked directly.
#[test]
fn promtool_queries_agree_with_the_api() {
    if !common::have_peer("promtool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = Vitals::start(dir.path(), Some(""), &[]);
    // Two minutes of a counter per job every 15 s, ending at t0.
    let t0: i64 = 1_700_000_000;
    let mut body = String::new();
    for i in 0..=8 {
        let t = (t0 - 120 + i * 15) * 1000;
        body.push_str(&format!("req_total{{job=\"api\",code=\"200\"}} {} {t}\n", i * 30));
        body.push_str(&format!("req_total{{job=\"api\",code=\"500\"}} {} {t}\n", i * 3));
        body.push_str(&format!("up{{job=\"api\"}} 1 {t}\nup{{job=\"db\"}} 0 {t}\n"));
    }
    let (code, resp) = http("POST", &format!("{}/api/v1/import/prometheus", v.url()), &[], body.as_bytes()).unwrap();
    assert_eq!(code, 204, "{resp}");
    let promtool = |args: &[&str]| {
        let out = Command::new("promtool").arg("query").args(args).output().unwrap();
        assert!(out.status.success(), "promtool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let api = |path: String| {
        let (code, body) = http_get(&format!("{}{path}", v.url())).unwrap();
        assert_eq!(code, 200, "{path}: {body}");
        json(&body)["data"].clone()
    };
    let enc = common::urlencode;
    let (t, start, end) = (t0.to_string(), (t0 - 60).to_string(), t0.to_string());

    // Instant query: promtool's JSON output is the API's `result`; its text output says the same.
    let expr = "sum by (code) (rate(req_total[1m]))";
    let ours = api(format!("/api/v1/query?query={}&time={t}", enc(expr)));
    assert_eq!(ours["resultType"], "vector", "{ours}");
    let theirs = json(&promtool(&["instant", "-o", "json", "--time", &t, &v.url(), expr]));
    assert_eq!(sorted(&theirs), sorted(&ours["result"]));
    let text = promtool(&["instant", "--time", &t, &v.url(), expr]);
    let mut printed: Vec<(String, f64, String)> = text.lines().map(promtool_line).collect();
    printed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(printed.len(), 2, "{text}");
    assert_eq!(printed[0].0, "{code=\"200\"}");
    assert!((printed[0].1 - 2.0).abs() < 1e-9 && (printed[1].1 - 0.2).abs() < 1e-9, "{text}");
    assert!(printed.iter().all(|p| p.2 == t), "{text}");

    // Range query.
    let expr = "up";
    let ours = api(format!("/api/v1/query_range?query={expr}&start={start}&end={end}&step=30"));
    let theirs =
        json(&promtool(&["range", "-o", "json", "--start", &start, "--end", &end, "--step", "30s", &v.url(), expr]));
    assert_eq!(sorted(&theirs), sorted(&ours["result"]));
    assert_eq!(ours["result"].as_array().map(Vec::len), Some(2), "{ours}");
    assert_eq!(ours["result"][0]["values"].as_array().map(Vec::len), Some(3), "{ours}");

    // Series and label values over the same time range.
    let (s, e) = ((t0 - 3600).to_string(), (t0 + 3600).to_string());
    let ours = api(format!("/api/v1/series?match[]={}&start={s}&end={e}", enc("req_total{code=\"500\"}")));
    let text = promtool(&["series", "--match=req_total{code=\"500\"}", "--start", &s, "--end", &e, &v.url()]);
    let printed: Vec<String> = text.lines().map(str::to_string).collect();
    let ours_text: Vec<String> = ours
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let pairs: Vec<String> =
                m.as_object().unwrap().iter().map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap())).collect();
            format!("{{{}}}", pairs.join(", "))
        })
        .collect();
    assert_eq!(printed, ours_text);
    let ours = api(format!("/api/v1/label/job/values?start={s}&end={e}"));
    let text = promtool(&["labels", "--start", &s, "--end", &e, &v.url(), "job"]);
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        ours.as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect::<Vec<_>>()
    );
    assert_eq!(ours, serde_json::json!(["api", "db"]));
}

/// A vector or matrix with its series in label order (PromQL does not promise one).
fn sorted(result: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut v = result.as_array().cloned().unwrap_or_default();
    v.sort_by_key(|s| s["metric"].to_string());
    v
}

/// One line of promtool's text output for a vector: `{labels} => value @[time]`.
fn promtool_line(line: &str) -> (String, f64, String) {
    let (labels, rest) = line.split_once(" => ").unwrap_or_else(|| panic!("not a promtool sample line: {line}"));
    let (value, at) = rest.split_once(" @[").unwrap_or_else(|| panic!("no time in {line}"));
    (labels.to_string(), value.parse().unwrap(), at.trim_end_matches(']').to_string())
}

/// `/api/v1/live` pushes a query's new value right after a commit: an imported sample shows up in the
/// stream within a second, stamped with a commit time no later than its arrival; bad queries get a
/// JSON 400 before any stream starts.
#[test]
fn live_stream_pushes_after_each_commit() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let v = Vitals::start(dir.path(), None, &[]);
    let mut conn = std::net::TcpStream::connect(&v.addr).unwrap();
    let q = common::urlencode("sum(live_test_metric)");
    write!(conn, "GET /api/v1/live?query={q} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(conn);
    let mut events = Vec::new();
    let mut line = String::new();
    // The head, then the initial event (no data yet: an empty vector).
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(data) = line.strip_prefix("data: ") {
            let mut v: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
            v["received_ms"] = serde_json::json!(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64);
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(5)).expect("an initial event at once");
    assert_eq!(first["initial"], true);
    assert_eq!(first["response"]["data"]["result"], serde_json::json!([]), "{first}");
    let (code, body) =
        http("POST", &format!("{}/api/v1/import/prometheus", v.url()), &[], b"live_test_metric{a=\"1\"} 42\n").unwrap();
    assert_eq!(code, 204, "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let hit = loop {
        let e = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("an event after the import");
        events.push(e.clone());
        if e["response"]["data"]["result"][0]["value"][1] == "42" {
            break e;
        }
    };
    assert_eq!(hit["initial"], false);
    let (commit, received) = (hit["commit_ms"].as_i64().unwrap(), hit["received_ms"].as_i64().unwrap());
    assert!(commit <= received && received - commit < 1000, "pushed {} ms after the commit", received - commit);

    for bad in ["/api/v1/live", "/api/v1/live?query=sum(", "/api/v1/live?query="] {
        let (code, body) = http_get(&format!("{}{bad}", v.url())).unwrap();
        assert_eq!(code, 400, "{bad}: {body}");
        assert_eq!(json(&body)["errorType"], "bad_data", "{body}");
    }
}

/// Live streams that follow the same query share one evaluation per commit: six streams, one import,
/// and `vitals_live_evaluations_total` grows by the six initial answers plus one per commit (not six),
/// every stream getting the same evaluation time.
#[test]
fn live_streams_share_one_evaluation_per_commit() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let v = Vitals::start(dir.path(), None, &[]);
    let evaluations = || {
        let (code, body) = http_get(&format!("{}/metrics", v.url())).unwrap();
        assert_eq!(code, 200);
        let line = body.lines().find_map(|l| l.strip_prefix("vitals_live_evaluations_total ")).expect("the counter");
        line.trim().parse::<u64>().unwrap()
    };
    let before = evaluations();
    let q = common::urlencode("sum(shared_live_metric)");
    let (tx, rx) = std::sync::mpsc::channel::<(usize, serde_json::Value)>();
    for i in 0..6 {
        let mut conn = std::net::TcpStream::connect(&v.addr).unwrap();
        write!(conn, "GET /api/v1/live?query={q} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(conn);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(data) = line.strip_prefix("data: ") {
                    if tx.send((i, serde_json::from_str(data.trim()).unwrap())).is_err() {
                        return;
                    }
                }
                line.clear();
            }
        });
    }
    let mut initial = 0;
    while initial < 6 {
        let (_, e) = rx.recv_timeout(Duration::from_secs(5)).expect("initial events");
        assert_eq!(e["initial"], true);
        initial += 1;
    }
    let (code, body) =
        http("POST", &format!("{}/api/v1/import/prometheus", v.url()), &[], b"shared_live_metric{a=\"1\"} 7\n")
            .unwrap();
    assert_eq!(code, 204, "{body}");
    let mut hits = std::collections::BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while hits.len() < 6 {
        let (i, e) = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("every stream gets the import");
        if e["response"]["data"]["result"][0]["value"][1] == "7" {
            hits.entry(i).or_insert(e);
        }
    }
    let after = evaluations();
    let per_commit = after - before - 6;
    assert!(
        (1..=3).contains(&per_commit),
        "{per_commit} evaluations for the commits since the streams opened (6 streams)"
    );
    let times: std::collections::BTreeSet<String> = hits.values().map(|e| e["t"].to_string()).collect();
    assert!(times.len() as u64 <= per_commit, "streams that got the same commit share its evaluation time: {times:?}");
}

/// Dashboards: built-ins and the files of the configured folder are listed (a broken file with its
/// file:line error); saving validates and writes the file (YAML stays YAML), survives kill -9, and
/// built-ins are read-only.
#[test]
fn dashboards_are_listed_saved_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    let dash = dir.path().join("dash");
    std::fs::create_dir_all(&dash).unwrap();
    std::fs::write(dash.join("team.yaml"), "title: Team\npanels:\n  - {title: Up, type: stat, expr: up}\n").unwrap();
    std::fs::write(dash.join("broken.yaml"), "title: Broken\npanels:\n  - {title: x, type: pie, expr: up}\n").unwrap();
    let cfg = "dashboards:\n  path: dash\n";
    let mut v = Vitals::start(dir.path(), Some(cfg), &[]);
    let list = |v: &Vitals| {
        let (code, body) = http_get(&format!("{}/api/v1/dashboards", v.url())).unwrap();
        assert_eq!(code, 200, "{body}");
        json(&body)["data"].as_array().unwrap().clone()
    };
    let l = list(&v);
    let ids: Vec<&str> = l.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["host", "api", "broken", "team"], "{l:?}");
    assert_eq!(l[3]["title"], "Team");
    let err = l[2]["error"].as_str().unwrap();
    assert!(err.contains("broken.yaml") && err.contains("panels[0].type: unknown panel type \"pie\""), "{err}");

    let base = v.url();
    let url = |id: &str| format!("{base}/api/v1/dashboards/{id}");
    let (code, body) = http_get(&url("api")).unwrap();
    assert_eq!((code, json(&body)["data"]["readonly"].clone()), (200, serde_json::json!(true)), "{body}");
    assert!(json(&body)["data"]["panels"].as_array().unwrap().len() >= 4);

    let new = br#"{"title":"Checkout","variables":[{"name":"job","default":"api"}],"panels":[{"title":"p95","type":"heatmap","expr":"sum by (le) (rate(http_request_duration_seconds_bucket{job=\"$job\"}[5m]))"}]}"#;
    let (code, body) = http("PUT", &url("checkout"), &[("Content-Type", "application/json")], new).unwrap();
    assert_eq!(code, 200, "{body}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dash.join("checkout.json")).unwrap()).unwrap();
    assert_eq!(saved["panels"][0]["type"], "heatmap");
    // YAML files are written back as YAML.
    let team = br#"{"title":"Team 2","panels":[{"title":"Up","type":"gauge","expr":"avg(up)","min":0,"max":1}]}"#;
    assert_eq!(http("PUT", &url("team"), &[], team).unwrap().0, 200);
    let yaml = std::fs::read_to_string(dash.join("team.yaml")).unwrap();
    assert!(yaml.contains("title: Team 2") && !dash.join("team.json").exists(), "{yaml}");

    for (id, body, want) in [
        ("bad", &br#"{"title":"x","panels":[{"title":"a","type":"stat","expr":"sum("}]}"#[..], "panels[0].expr"),
        (
            "bad",
            &br#"{"title":"x","panels":[{"title":"a","type":"stat","expr":"up{job=\"$nope\"}"}]}"#[..],
            "$nope is not a variable",
        ),
        ("bad", &b"{not json"[..], "invalid JSON"),
        ("host", &new[..], "built in and read-only"),
        ("../x", &new[..], "dashboard ids are"),
    ] {
        let (code, body) = http("PUT", &url(id), &[], body).unwrap();
        assert!(code == 400 || code == 404, "{id}: {code} {body}");
        if code == 400 {
            assert!(json(&body)["error"].as_str().unwrap().contains(want), "{body}");
        }
    }
    assert!(!dash.join("bad.json").exists());

    // Acknowledged saves survive kill -9.
    let port: u16 = v.addr.rsplit(':').next().unwrap().parse().unwrap();
    v.kill9();
    let v = Vitals::start_on(dir.path(), Some(cfg), &[], port);
    let (code, body) = http_get(&url("checkout")).unwrap();
    assert_eq!((code, json(&body)["data"]["title"].clone()), (200, serde_json::json!("Checkout")), "{body}");
    let (code, _) = http("DELETE", &url("checkout"), &[], b"").unwrap();
    assert_eq!(code, 200);
    assert_eq!(http_get(&url("checkout")).unwrap().0, 404);
    assert_eq!(http("DELETE", &url("host"), &[], b"").unwrap().0, 400);
    assert_eq!(list(&v).len(), 4);
}
