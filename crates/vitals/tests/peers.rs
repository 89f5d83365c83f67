//! End-to-end tests against real peers from Debian and PyPI: Prometheus 2.42 remote-writing into
//! vitals (also across a SIGKILL of vitals), vitals scraping a real node exporter and a Python
//! `prometheus_client` app, the OpenTelemetry Python SDK pushing OTLP, and vitals remote-writing
//! into VictoriaMetrics. Each test starts its peers on free loopback ports with temporary
//! directories and kills them in `Drop` guards; a missing peer is SKIPPED locally and fails
//! under `CI=true`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;
use vitals_model::{is_stale_nan, Labels, MatchOp, Matcher, Sample};

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers").join(name)
}

fn re(name: &str, pattern: &str) -> Matcher {
    Matcher::new(MatchOp::Regex, name, pattern).unwrap()
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
fn wait_port(peer: &mut Peer, port: u16, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        peer.assert_running();
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{}: nothing listens on port {port} after {secs} s: {}", peer.name, peer.log_text());
}

// ---------------------------------------------------------------------------------------------
// Peers

/// A Prometheus 2.42 server with `config` on a free port.
struct Prometheus {
    peer: Peer,
    port: u16,
}

impl Prometheus {
    fn start(dir: &Path, config: &str, port: u16) -> Prometheus {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("prom-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-admin-api")
            .arg("--log.level=info");
        let mut peer = Peer::spawn("prometheus", cmd, &dir.join("prometheus.log"));
        peer.wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 60);
        Prometheus { peer, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The sum over all series of `name` in Prometheus' own `/metrics`.
    fn own_metric(&self, name: &str) -> f64 {
        let (code, body) = http_get(&format!("{}/metrics", self.url())).expect("prometheus /metrics");
        assert_eq!(code, 200);
        metric_sum(&body, name)
    }

    /// An instant query; the `data.result` array.
    fn query(&self, expr: &str, at: f64) -> Vec<Value> {
        let url = format!("{}/api/v1/query?query={}&time={at:.3}", self.url(), urlencode(expr));
        let (code, body) = http_get(&url).expect("prometheus query");
        assert_eq!(code, 200, "{expr}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The raw samples of `selector` over the 10 minutes up to `at` (a range-vector instant
    /// query returns the stored samples unchanged), keyed like [`stored_samples`].
    fn raw(&self, selector: &str, at: f64) -> BTreeMap<String, Vec<(i64, f64)>> {
        let mut out = BTreeMap::new();
        for s in self.query(&format!("{selector}[10m]"), at) {
            let labels = labels_of(&s["metric"]);
            let vals = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| ((p[0].as_f64().unwrap() * 1000.0).round() as i64, parse_prom_float(p[1].as_str().unwrap())))
                .collect();
            out.insert(labels, vals);
        }
        out
    }

    /// Waits until remote_write has sent samples stamped at least `t` seconds.
    fn wait_sent_up_to(&mut self, t: f64, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            self.peer.assert_running();
            let sent = self.own_metric("prometheus_remote_storage_queue_highest_sent_timestamp_seconds");
            if sent >= t {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "prometheus sent up to {sent}, not {t}, within {secs} s; pending {}; log: {}",
                    self.own_metric("prometheus_remote_storage_samples_pending"),
                    self.peer.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn parse_prom_float(s: &str) -> f64 {
    match s {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => s.parse().unwrap_or_else(|_| panic!("bad float {s:?}")),
    }
}

/// Prometheus' notation of a JSON `metric` object, as [`Labels`]' `Display` writes it.
fn labels_of(metric: &Value) -> String {
    let pairs: Vec<(String, String)> =
        metric.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    Labels::from_pairs(pairs).to_string()
}

/// Sum of the values of `name` (any labels) in a text exposition.
fn metric_sum(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(name) && (l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' ')))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

fn node_exporter(dir: &Path) -> (Peer, u16) {
    let port = free_port();
    let mut cmd = Command::new("prometheus-node-exporter");
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let mut p = Peer::spawn("node-exporter", cmd, &dir.join("node-exporter.log"));
    p.wait_http_ok(&format!("http://127.0.0.1:{port}/metrics"), 30);
    (p, port)
}

/// Raw samples per series, keyed by the series' labels in Prometheus notation.
type RawSeries = BTreeMap<String, Vec<(i64, f64)>>;

/// Compares `want` with `got`: every sample in `want` (up to `cut_ms`, staleness markers aside)
/// must be in `got` with the same timestamp and the same value (bit for bit). Returns the number
/// of samples checked and a description of each one missing or different.
fn compare_samples(
    want: &BTreeMap<String, Vec<(i64, f64)>>,
    got: &BTreeMap<String, Vec<Sample>>,
    cut_ms: i64,
) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut problems = Vec::new();
    for (series, samples) in want {
        let have: BTreeMap<i64, f64> = got
            .get(series)
            .map(|h| h.iter().filter(|s| !is_stale_nan(s.v)).map(|s| (s.t, s.v)).collect())
            .unwrap_or_default();
        for (t, v) in samples.iter().filter(|(t, v)| *t <= cut_ms && !is_stale_nan(*v)) {
            checked += 1;
            let ok = have.get(t).is_some_and(|h| h.to_bits() == v.to_bits() || (h.is_nan() && v.is_nan()));
            if !ok {
                problems.push(format!("{series} @{t}: want {v}, got {:?}", have.get(t)));
            }
        }
    }
    (checked, problems)
}

/// [`compare_samples`], panicking with the first differences. Returns the number checked.
fn assert_all_present(
    (want_name, want): (&str, &RawSeries),
    (got_name, got): (&str, &BTreeMap<String, Vec<Sample>>),
    cut_ms: i64,
) -> usize {
    let (checked, problems) = compare_samples(want, got, cut_ms);
    let missing_series: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    assert!(
        problems.is_empty(),
        "{} of {} series of {want_name} missing in {got_name} (first: {:?}); {} of {checked} samples \
         missing or different (want = {want_name}, got = {got_name}): {:#?}",
        missing_series.len(),
        want.len(),
        &missing_series[..missing_series.len().min(5)],
        problems.len(),
        &problems[..problems.len().min(10)],
    );
    checked
}

/// VictoriaMetrics' `/api/v1/export` of `selector` after a `/internal/force_flush`.
fn vm_export(vm_url: &str, selector: &str) -> BTreeMap<String, Vec<Sample>> {
    let (code, body) = http_get(&format!("{vm_url}/internal/force_flush")).unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) = http_get(&format!("{vm_url}/api/v1/export?match[]={}", urlencode(selector))).unwrap();
    assert_eq!(code, 200, "{body}");
    let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let ts = v["timestamps"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap());
        let vals = v["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN));
        out.entry(labels_of(&v["metric"])).or_default().extend(ts.zip(vals).map(|(t, v)| Sample { t, v }));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Prometheus remote_write → vitals

#[test]
fn prometheus_remote_write_lands_every_sample() {
    if !have_peer("prometheus") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut vitals = Vitals::start(dir.path(), Some(""), &[]);
    let pport = free_port();
    let cfg = format!(
        r#"
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ["127.0.0.1:{pport}"]}}]
  - job_name: vitals
    static_configs: [{{targets: ["{vaddr}"]}}]
remote_write:
  - url: {vurl}/api/v1/write
    queue_config: {{batch_send_deadline: 1s, min_backoff: 50ms, max_backoff: 500ms}}
"#,
        vaddr = vitals.addr,
        vurl = vitals.url()
    );
    let mut prom = Prometheus::start(dir.path(), &cfg, pport);
    // Prometheus' discovery hands targets to the scrapers only after ~5 s.
    wait_until(30, "prometheus sending samples", || prom.own_metric("prometheus_remote_storage_samples_total") > 0.0);
    let start = now_secs();
    std::thread::sleep(Duration::from_secs(8));
    let cut = now_secs();
    prom.wait_sent_up_to(cut + 2.0, 30);
    let want = prom.raw(r#"{job=~"prometheus|vitals"}"#, cut);
    // Prometheus itself could parse vitals' /metrics at every scrape.
    let up_vitals = &want[r#"up{instance="VADDR", job="vitals"}"#.replace("VADDR", &vitals.addr).as_str()];
    assert!(up_vitals.len() >= 6, "prometheus scraped vitals only {} times", up_vitals.len());
    assert!(up_vitals.iter().all(|(_, v)| *v == 1.0), "prometheus could not scrape vitals: {up_vitals:?}");
    let sent = prom.own_metric("prometheus_remote_storage_samples_total");
    let failed = prom.own_metric("prometheus_remote_storage_samples_failed_total");
    let meta_failed = prom.own_metric("prometheus_remote_storage_metadata_failed_total");
    assert_eq!(prom.peer.stop(), Some(0), "prometheus exit: {}", prom.peer.log_text());
    assert_eq!(vitals.stop(), Some(0), "{}", vitals.log_text());

    let got = stored_samples(&vitals.dir_data(), &[re("job", "prometheus|vitals")]);
    let checked = assert_all_present(("prometheus", &want), ("vitals", &got), (cut * 1000.0) as i64);
    eprintln!(
        "prometheus_remote_write: {} series, {checked} samples compared over {:.1} s; prometheus sent {sent}, failed {failed}, metadata failed {meta_failed}",
        want.len(),
        cut - start
    );
    assert!(want.len() > 100 && checked > 1000, "too little data to compare: {} series, {checked} samples", want.len());
    assert_eq!(failed, 0.0, "prometheus reports samples vitals refused");
    assert_eq!(meta_failed, 0.0, "prometheus reports metadata vitals refused");
}

// ---------------------------------------------------------------------------------------------
// 2. vitals scrapes a real node exporter and a Python prometheus_client app

#[test]
fn vitals_scrapes_node_exporter_and_prometheus_client() {
    if !have_peer("prometheus-node-exporter") {
        return;
    }
    let Some(py) = python_with(&["prometheus_client"]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut node, nport) = node_exporter(dir.path());
    let (om_port, text_port) = (free_port(), free_port());
    let mut cmd = Command::new(&py);
    cmd.arg(script("prom_app.py")).arg(om_port.to_string()).arg(text_port.to_string());
    let mut app = Peer::spawn("prom_app.py", cmd, &dir.path().join("prom_app.log"));
    wait_port(&mut app, om_port, 30);
    wait_port(&mut app, text_port, 30);

    // What the client sends for each Accept header: the negotiated port must offer OpenMetrics.
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (_, om_body) = http("GET", &format!("http://127.0.0.1:{om_port}/metrics"), &[("Accept", accept)], &[]).unwrap();
    assert!(om_body.trim_end().ends_with("# EOF"), "prometheus_client did not answer OpenMetrics: {om_body}");
    let (_, text_body) =
        http("GET", &format!("http://127.0.0.1:{text_port}/metrics"), &[("Accept", accept)], &[]).unwrap();
    assert!(!text_body.contains("# EOF"), "the text-only port answered OpenMetrics");

    let cfg = format!(
        r#"
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{nport}"]}}]
  - job_name: py_openmetrics
    static_configs: [{{targets: ["127.0.0.1:{om_port}"]}}]
  - job_name: py_text
    static_configs: [{{targets: ["127.0.0.1:{text_port}"]}}]
"#
    );
    let mut vitals = Vitals::start(dir.path(), Some(&cfg), &[]);
    let targets_url = format!("{}/api/v1/targets", vitals.url());
    let mut last = String::new();
    let all_up = |last: &mut String| {
        let Ok((200, body)) = http_get(&targets_url) else { return false };
        *last = body.clone();
        let v: Value = serde_json::from_str(&body).unwrap();
        let active = v["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        let up: BTreeSet<String> = active
            .iter()
            .filter(|t| t["health"] == "up")
            .filter_map(|t| t["labels"]["job"].as_str().map(String::from))
            .collect();
        active.len() == 3 && up.len() == 3
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !all_up(&mut last) {
        assert!(Instant::now() < deadline, "targets not all up after 20 s: {last}");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(all_up(&mut last), "a target went down: {last}");
    let node_page = http_get(&format!("http://127.0.0.1:{nport}/metrics")).unwrap().1;
    assert_eq!(vitals.stop(), Some(0), "{}", vitals.log_text());
    node.stop();
    app.stop();

    let data = vitals.dir_data();
    let live = |m: &[Matcher]| -> BTreeMap<String, Vec<Sample>> {
        stored_samples(&data, m)
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().filter(|s| !is_stale_nan(s.v)).collect::<Vec<_>>()))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    };
    let last_value = |series: &BTreeMap<String, Vec<Sample>>, key: &str| -> f64 {
        series.get(key).unwrap_or_else(|| panic!("no series {key} in {:#?}", series.keys())).last().unwrap().v
    };

    // up == 1 at every scrape of every job.
    let up = live(&[Matcher::equal("__name__", "up")]);
    for job in ["node", "py_openmetrics", "py_text"] {
        let s: Vec<_> = up.iter().filter(|(k, _)| k.contains(&format!("job=\"{job}\""))).collect();
        assert_eq!(s.len(), 1, "up series of job {job}: {up:?}");
        assert!(s[0].1.len() >= 3 && s[0].1.iter().all(|x| x.v == 1.0), "up{{job={job}}}: {:?}", s[0].1);
    }

    // node_cpu_seconds_total: one series per line of the exporter's page.
    let cpu = live(&[Matcher::equal("__name__", "node_cpu_seconds_total"), Matcher::equal("job", "node")]);
    let exposed = node_page.lines().filter(|l| l.starts_with("node_cpu_seconds_total{")).count();
    assert!(exposed >= 2, "node exporter page has {exposed} node_cpu_seconds_total lines");
    assert_eq!(cpu.len(), exposed, "vitals has {} node_cpu_seconds_total series, the exporter {exposed}", cpu.len());
    for (k, v) in &cpu {
        assert!(k.contains("cpu=") && k.contains("mode="), "{k}");
        assert!(v.len() >= 3, "{k}: only {} samples", v.len());
        assert!(v.windows(2).all(|w| w[0].t < w[1].t && w[0].v <= w[1].v), "{k}: not an increasing counter: {v:?}");
    }

    // The Python app, in both formats.
    for job in ["py_openmetrics", "py_text"] {
        let inst = if job == "py_text" { text_port } else { om_port };
        let id = format!(r#"instance="127.0.0.1:{inst}", job="{job}""#);
        let app_series = live(&[re("__name__", "myapp_.*"), Matcher::equal("job", job)]);
        assert_eq!(last_value(&app_series, &format!(r#"myapp_requests_total{{{id}, path="/a"}}"#)), 3.0, "{job}");
        assert_eq!(last_value(&app_series, &format!(r#"myapp_requests_total{{{id}, path="/b"}}"#)), 4.5, "{job}");
        assert_eq!(last_value(&app_series, &format!("myapp_temperature_celsius{{{id}}}")), 21.5, "{job}");
        // Histogram: cumulative buckets with `le` labels (any float spelling), _sum and _count.
        let mut buckets = BTreeMap::new();
        for (k, v) in &app_series {
            if let Some(rest) = k.strip_prefix("myapp_latency_seconds_bucket{") {
                assert!(rest.contains("method=\"GET\""), "{k}");
                let le = rest.split("le=\"").nth(1).and_then(|r| r.split('"').next()).expect("le label");
                buckets.insert(format!("{}", parse_prom_float(le)), v.last().unwrap().v);
            }
        }
        let want: BTreeMap<String, f64> =
            [("0.1", 1.0), ("0.5", 2.0), ("1", 3.0), ("inf", 4.0)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(buckets, want, "{job}: buckets of myapp_latency_seconds");
        let hist =
            |suffix: &str| last_value(&app_series, &format!(r#"myapp_latency_seconds_{suffix}{{{id}, method="GET"}}"#));
        assert_eq!(hist("count"), 4.0, "{job}");
        assert!((hist("sum") - 3.05).abs() < 1e-9, "{job}: sum {}", hist("sum"));
    }
}

// ---------------------------------------------------------------------------------------------
// 3. OpenTelemetry Python SDK → OTLP/HTTP → vitals

#[test]
fn opentelemetry_sdk_pushes_otlp() {
    let Some(py) =
        python_with(&["opentelemetry.sdk.metrics", "opentelemetry.exporter.otlp.proto.http.metric_exporter"])
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut vitals = Vitals::start(dir.path(), Some(""), &[]);
    let before = now_secs();
    let out = Command::new(&py)
        .arg(script("otel_push.py"))
        .arg(format!("{}/api/v1/otlp/v1/metrics", vitals.url()))
        .output()
        .expect("running otel_push.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("flushed"),
        "otel_push.py: {stdout}\n{stderr}\nvitals: {}",
        vitals.log_text()
    );
    assert!(!stderr.contains("Failed to export"), "the SDK reports failed exports: {stderr}");
    let after = now_secs();
    assert_eq!(vitals.stop(), Some(0), "{}", vitals.log_text());

    let all = stored_samples(&vitals.dir_data(), &[re("__name__", ".+")]);
    let names: BTreeSet<&str> = all.keys().map(|k| k.split('{').next().unwrap()).collect();
    let get = |key: &str| -> &Vec<Sample> {
        all.get(key).unwrap_or_else(|| panic!("no series {key}; vitals has: {:#?}", all.keys().collect::<Vec<_>>()))
    };
    let last = |key: &str| get(key).last().unwrap().v;
    let id = r#"instance="inst-1", job="otel-test""#;

    // Monotonic sum without unit: `_total`; with unit By: `_bytes_total`.
    assert_eq!(last(&format!(r#"jobs_done_total{{{id}, queue="q1"}}"#)), 7.0);
    assert_eq!(last(&format!(r#"net_io_bytes_total{{direction="rx", {id}}}"#)), 1000.0);
    // Non-monotonic sum: a gauge, no `_total`.
    assert_eq!(last(&format!(r#"queue_size{{{id}, queue="q1"}}"#)), 7.0);
    // Gauge with unit By.
    assert_eq!(last(&format!(r#"memory_usage_bytes{{area="heap", {id}}}"#)), 12345.0);
    // Histogram with unit ms, attribute http.method → http_method.
    let h = |suffix: &str, extra: &str| {
        last(&format!(r#"http_server_duration_milliseconds_{suffix}{{http_method="GET", {id}{extra}}}"#))
    };
    assert_eq!(h("count", ""), 3.0);
    assert_eq!(h("sum", ""), 555.0);
    assert_eq!(h("bucket", r#", le="5""#), 1.0);
    assert_eq!(h("bucket", r#", le="50""#), 2.0);
    assert_eq!(h("bucket", r#", le="500""#), 3.0);
    assert_eq!(h("bucket", r#", le="+Inf""#), 3.0);
    // Resource attributes other than service.name/service.instance.id → target_info.
    let info: Vec<_> = all.iter().filter(|(k, _)| k.starts_with("target_info{")).collect();
    assert_eq!(info.len(), 1, "target_info series: {info:?}");
    let (k, v) = info[0];
    for want in [r#"deployment_environment="ci""#, r#"host_name="h1""#, r#"job="otel-test""#, r#"instance="inst-1""#] {
        assert!(k.contains(want), "target_info lacks {want}: {k}");
    }
    assert!(!k.contains("service_name") && !k.contains("service_instance_id"), "{k}");
    assert_eq!(v.last().unwrap().v, 1.0);
    // Timestamps: the SDK's export times (ns → ms).
    for (k, v) in &all {
        for s in v {
            assert!(
                s.t as f64 >= (before - 5.0) * 1000.0 && s.t as f64 <= (after + 5.0) * 1000.0,
                "{k}: sample at {} not within the run ({before}..{after})",
                s.t
            );
        }
    }
    // No untranslated names (dots) slipped through.
    assert!(names.iter().all(|n| !n.contains('.')), "{names:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. SIGKILL of vitals while Prometheus remote-writes into it

#[test]
fn remote_write_survives_kill9_of_vitals() {
    if !have_peer("prometheus") || !have_peer("prometheus-node-exporter") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vdir = dir.path().join("vitals");
    std::fs::create_dir(&vdir).unwrap();
    let (_node, nport) = node_exporter(dir.path());
    let vport = free_port();
    let mut vitals = Vitals::start_on(&vdir, Some(""), &[], vport);
    let pport = free_port();
    let node_jobs: String = (1..=3)
        .map(|i| format!("  - job_name: node{i}\n    static_configs: [{{targets: [\"127.0.0.1:{nport}\"]}}]\n"))
        .collect();
    let cfg = format!(
        r#"
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ["127.0.0.1:{pport}"]}}]
{node_jobs}
remote_write:
  - url: http://127.0.0.1:{vport}/api/v1/write
    queue_config: {{batch_send_deadline: 1s, min_backoff: 50ms, max_backoff: 500ms, max_samples_per_send: 500}}
"#
    );
    let mut prom = Prometheus::start(dir.path(), &cfg, pport);
    let start = now_secs();
    wait_until(20, "prometheus sending samples", || {
        prom.own_metric("prometheus_remote_storage_samples_total") > 1000.0
    });
    std::thread::sleep(Duration::from_secs(4));
    let sent_before_kill = prom.own_metric("prometheus_remote_storage_samples_total");
    vitals.kill9();
    let killed_at = now_secs();
    std::thread::sleep(Duration::from_secs(3));
    let sent_at_restart = prom.own_metric("prometheus_remote_storage_samples_total");
    let pending_at_restart = prom.own_metric("prometheus_remote_storage_samples_pending");
    let mut vitals = Vitals::start_on(&vdir, Some(""), &[], vport);
    std::thread::sleep(Duration::from_secs(5));
    let cut = now_secs();
    prom.wait_sent_up_to(cut + 2.0, 40);
    let sent_end = prom.own_metric("prometheus_remote_storage_samples_total");
    let retried = prom.own_metric("prometheus_remote_storage_samples_retried_total");
    let failed = prom.own_metric("prometheus_remote_storage_samples_failed_total");
    let want = prom.raw(r#"{job=~"prometheus|node1|node2|node3"}"#, cut);
    assert_eq!(prom.peer.stop(), Some(0), "prometheus exit: {}", prom.peer.log_text());
    assert_eq!(vitals.stop(), Some(0), "{}", vitals.log_text());

    eprintln!(
        "kill9: sent {sent_before_kill} before the kill, {sent_at_restart} at restart (pending {pending_at_restart}), \
         {sent_end} at the end; retried {retried}, failed {failed}"
    );
    assert!(sent_end > sent_at_restart + 1000.0, "prometheus did not resume sending after the restart");
    let got = stored_samples(&vdir.join("data"), &[re("job", "prometheus|node1|node2|node3")]);
    let checked = assert_all_present(("prometheus", &want), ("vitals", &got), (cut * 1000.0) as i64);
    // The window really spans the crash: samples from before, during and after the outage.
    let ts: Vec<i64> = want.values().flatten().map(|(t, _)| *t).collect();
    let (lo, hi) = (*ts.iter().min().unwrap(), *ts.iter().max().unwrap());
    assert!(
        lo < ((killed_at - 3.0) * 1000.0) as i64 && hi > ((killed_at + 6.0) * 1000.0) as i64,
        "{lo}..{hi} vs kill {killed_at}"
    );
    eprintln!("kill9: {} series, {checked} samples compared over {:.1} s", want.len(), cut - start);
    assert!(checked > 10_000, "too little data: {checked} samples");
    assert_eq!(failed, 0.0, "prometheus dropped samples vitals refused (non-retryable errors)");
}

// ---------------------------------------------------------------------------------------------
// 5. vitals remote_write → VictoriaMetrics

#[test]
fn vitals_remote_writes_into_victoriametrics() {
    if !have_peer("victoria-metrics") || !have_peer("prometheus-node-exporter") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_node, nport) = node_exporter(dir.path());
    let vm_port = free_port();
    let mut cmd = Command::new("victoria-metrics");
    cmd.arg(format!("-storageDataPath={}", dir.path().join("vm-data").display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{vm_port}"))
        .arg("-retentionPeriod=100y")
        // Make the newest samples visible to queries at once (default: 30 s later).
        .arg("-search.latencyOffset=0s");
    let mut vm = Peer::spawn("victoria-metrics", cmd, &dir.path().join("vm.log"));
    let vm_url = format!("http://127.0.0.1:{vm_port}");
    vm.wait_http_ok(&format!("{vm_url}/health"), 30);
    let cfg = format!(
        r#"
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{nport}"]}}]
remote_write:
  - url: {vm_url}/api/v1/write
    queue_config: {{batch_send_deadline: 1s}}
"#
    );
    let mut vitals = Vitals::start(dir.path(), Some(&cfg), &[]);
    std::thread::sleep(Duration::from_secs(8));
    // A sample committed (acknowledged) just before SIGTERM: a graceful stop must forward it too.
    let marker_t = (now_secs() * 1000.0) as i64;
    let (code, body) = http(
        "POST",
        &format!("{}/api/v1/import/prometheus", vitals.url()),
        &[("Content-Type", "text/plain")],
        format!("vitals_peer_marker 42 {marker_t}\n").as_bytes(),
    )
    .unwrap();
    assert!(code == 204 || code == 200, "import: {code} {body}");
    assert_eq!(vitals.stop(), Some(0), "{}", vitals.log_text());

    let (code, body) = http_get(&format!("{vm_url}/api/v1/query?query=up")).unwrap();
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let up = v["data"]["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(up.len(), 1, "VictoriaMetrics' up: {body}");
    assert_eq!(up[0]["metric"]["job"], "node");
    assert_eq!(up[0]["value"][1], "1");

    let names = "up|scrape_samples_scraped|node_cpu_seconds_total|vitals_peer_marker";
    let stored: BTreeMap<String, Vec<(i64, f64)>> = stored_samples(&vitals.dir_data(), &[re("__name__", names)])
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().filter(|s| !is_stale_nan(s.v)).map(|s| (s.t, s.v)).collect()))
        .collect();
    assert!(stored.len() > 3, "vitals stored {stored:?}");
    assert!(stored.contains_key("vitals_peer_marker{}"), "vitals lost the imported marker: {:?}", stored.keys());
    // vitals is stopped, so nothing can arrive later; VictoriaMetrics may still need a moment to
    // make a series it just created searchable, so look a few times.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (checked, missing) = loop {
        let in_vm = vm_export(&vm_url, &format!("{{__name__=~\"{names}\"}}"));
        let (checked, missing) = compare_samples(&stored, &in_vm, i64::MAX);
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break (checked, missing);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    if !missing.is_empty() {
        // Diagnose: lost, or only delayed until the sender resumes after a restart?
        let mut again = Vitals::start(dir.path(), Some(&cfg), &[]);
        std::thread::sleep(Duration::from_secs(3));
        again.stop();
        let (_, still) = compare_samples(&stored, &vm_export(&vm_url, &format!("{{__name__=~\"{names}\"}}")), i64::MAX);
        panic!(
            "after a graceful stop, {} of {checked} samples vitals stored were not in VictoriaMetrics \
             (after restarting vitals for 3 s, {} still missing); first: {:#?}; vitals stopped at ~{marker_t} ms",
            missing.len(),
            still.len(),
            &missing[..missing.len().min(5)]
        );
    }
    eprintln!("victoriametrics: {} series, {checked} samples compared", stored.len());
    assert!(checked > 50, "too little data: {checked} samples");
}
