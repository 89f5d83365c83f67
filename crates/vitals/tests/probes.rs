//! Probes end to end: `probe_modules:`/`probes:` run checks against a local HTTP server, the
//! `probe_*` series are stored, `/api/v1/probes` reports results, uptime and incidents, and a real
//! Prometheus uses vitals' `/probe` endpoint as it would use blackbox_exporter (compared with a
//! real blackbox_exporter when installed).

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use common::{have_peer, http_get, wait_until, Peer, Vitals};

/// A tiny HTTP server: `/ok` answers 200 "healthy", anything else 500.
fn serve_http() -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let n = c.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let (status, body) =
                    if req.starts_with("GET /ok ") { ("200 OK", "healthy") } else { ("500 Oops", "broken") };
                let _ = write!(
                    c,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    (url, h)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

#[test]
fn probes_run_store_and_serve_blackbox_results() {
    let (site, _server) = serve_http();
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let cfg = format!(
        r#"
global: {{scrape_interval: 1s}}
host_metrics: false
default_rules: false
probe_modules:
  http_2xx:
    prober: http
    timeout: 2s
    http:
      valid_status_codes: [200]
      fail_if_body_not_matches_regexp: [healthy]
probes:
  - name: site
    module: http_2xx
    targets: ['{site}/ok', '{site}/down']
    interval: 1s
    labels: {{team: web}}
"#
    );
    let v = Vitals::start_on(dir.path(), Some(&cfg), &[], port);
    wait_until(20, "both targets probed", || {
        let (_, body) = http_get(&format!("{}/api/v1/probes", v.url())).unwrap();
        let p = json(&body)["data"]["probes"].clone();
        p.as_array().is_some_and(|a| a.len() == 2 && a.iter().all(|t| !t["last"].is_null()))
    });
    let (_, body) = http_get(&format!("{}/api/v1/probes", v.url())).unwrap();
    let list = json(&body)["data"]["probes"].clone();
    let ok = list.as_array().unwrap().iter().find(|t| t["target"].as_str().unwrap().ends_with("/ok")).unwrap();
    let down = list.as_array().unwrap().iter().find(|t| t["target"].as_str().unwrap().ends_with("/down")).unwrap();
    assert_eq!(ok["check"], "site");
    assert_eq!(ok["last"]["success"], true, "{ok}");
    assert_eq!(ok["uptime"]["1h"], 100.0, "{ok}");
    assert_eq!(down["last"]["success"], false, "{down}");
    assert!(!down["last"]["failure"].as_str().unwrap().is_empty(), "a failure reason: {down}");
    assert_eq!(down["uptime"]["1h"], 0.0, "{down}");
    assert_eq!(down["incidents"].as_array().unwrap().len(), 1, "{down}");
    assert!(down["incidents"][0]["end"].is_null(), "still down: {down}");

    // The probe series are stored with job, instance and the check's labels.
    let q = |expr: &str| {
        let url = format!(
            "{}/api/v1/query?query={}",
            v.url(),
            expr.replace('{', "%7B").replace('}', "%7D").replace('"', "%22")
        );
        json(&http_get(&url).unwrap().1)["data"]["result"].clone()
    };
    let r = q(r#"probe_success{job="site",team="web"}"#);
    assert_eq!(r.as_array().unwrap().len(), 2, "{r}");
    let r = q(r#"probe_http_status_code{job="site"}"#);
    let codes: BTreeSet<String> =
        r.as_array().unwrap().iter().map(|s| s["value"][1].as_str().unwrap().to_string()).collect();
    assert_eq!(codes, BTreeSet::from(["200".to_string(), "500".to_string()]));

    // /probe as blackbox_exporter answers it.
    let (code, text) = http_get(&format!("{}/probe?module=http_2xx&target={site}/ok", v.url())).unwrap();
    assert_eq!(code, 200);
    assert!(text.contains("probe_success 1"), "{text}");
    assert!(text.contains("probe_http_duration_seconds{phase=\"connect\"}"), "{text}");
    let (code, _) = http_get(&format!("{}/probe?module=nope&target={site}/ok", v.url())).unwrap();
    assert_eq!(code, 400);

    // The same check through a real blackbox_exporter gives the same metric names.
    if have_peer("prometheus-blackbox-exporter") {
        let bport = common::free_port();
        let bcfg = dir.path().join("blackbox.yml");
        std::fs::write(
            &bcfg,
            "modules:\n  http_2xx:\n    prober: http\n    timeout: 2s\n    http:\n      valid_status_codes: [200]\n      fail_if_body_not_matches_regexp: [healthy]\n",
        )
        .unwrap();
        let mut cmd = Command::new("prometheus-blackbox-exporter");
        cmd.arg(format!("--config.file={}", bcfg.display())).arg(format!("--web.listen-address=127.0.0.1:{bport}"));
        let mut bb = Peer::spawn("blackbox", cmd, &dir.path().join("blackbox.log"));
        bb.wait_http_ok(&format!("http://127.0.0.1:{bport}/metrics"), 30);
        let (_, theirs) =
            http_get(&format!("http://127.0.0.1:{bport}/probe?module=http_2xx&target={site}/ok")).unwrap();
        assert_eq!(names(&text), names(&theirs), "vitals:\n{text}\nblackbox_exporter:\n{theirs}");
    }

    // A real Prometheus uses vitals as its prober, with blackbox_exporter's relabeling recipe.
    if have_peer("prometheus") {
        let pport = common::free_port();
        let pcfg = format!(
            r#"
global: {{scrape_interval: 1s, scrape_timeout: 900ms}}
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {{module: [http_2xx]}}
    static_configs: [{{targets: ['{site}/ok']}}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{port}
"#
        );
        let pdir = dir.path().join("prom");
        std::fs::create_dir_all(&pdir).unwrap();
        std::fs::write(pdir.join("prometheus.yml"), pcfg).unwrap();
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", pdir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", pdir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"));
        let mut prom = Peer::spawn("prometheus", cmd, &pdir.join("prometheus.log"));
        prom.wait_http_ok(&format!("http://127.0.0.1:{pport}/-/ready"), 60);
        wait_until(30, "prometheus stored vitals' probe results", || {
            let url = format!("http://127.0.0.1:{pport}/api/v1/query?query=probe_success%7Bjob%3D%22blackbox%22%7D");
            let r = json(&http_get(&url).unwrap().1)["data"]["result"].clone();
            r.as_array().is_some_and(|a| a.len() == 1 && a[0]["value"][1] == "1")
        });
        let url =
            format!("http://127.0.0.1:{pport}/api/v1/query?query=probe_http_status_code%7Bjob%3D%22blackbox%22%7D");
        let r = json(&http_get(&url).unwrap().1)["data"]["result"].clone();
        assert_eq!(r[0]["value"][1], "200", "{r}");
        assert_eq!(r[0]["metric"]["instance"], format!("{site}/ok"));
        assert_eq!(prom.stop(), Some(0));
    }
}
