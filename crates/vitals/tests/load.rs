//! `vitals load` as a command: a run against a local server, its JSON summary, and exit code 99
//! when a threshold is broken.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

mod common;
use common::{http_get, urlencode, Vitals};

/// A keep-alive HTTP server answering every request with 200 "ok".
fn serve() -> String {
    serve_with(Duration::ZERO)
}

/// Like [`serve`], answering each request after `delay`.
fn serve_with(delay: Duration) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut pending = Vec::new();
                loop {
                    let n = match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if !delay.is_zero() {
                            std::thread::sleep(delay);
                        }
                        if c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

#[test]
fn load_runs_reports_and_fails_ci_on_a_broken_budget() {
    let url = serve();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("summary.json");
    let bin = env!("CARGO_BIN_EXE_vitals");
    let out = Command::new(bin)
        .args(["load", &url, "--vus", "2", "--duration", "1s", "--threshold", "p99<1s", "--threshold", "errors<1%"])
        .arg("--summary-json")
        .arg(&json)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(s["requests"].as_u64().unwrap() > 100, "{s}");
    assert_eq!(s["schema"], "vitals.load.summary/v1", "{s}");

    let out = Command::new(bin)
        .args(["load", &url, "--rate", "200/s", "--duration", "1s", "--threshold", "p50<1us"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(99), "a broken threshold fails CI: {}", String::from_utf8_lossy(&out.stdout));

    // An iteration bound: exactly that many requests, and the run ends as soon as they are done.
    let started = std::time::Instant::now();
    let out = Command::new(bin)
        .args(["load", &url, "--vus", "3", "--iterations", "25"])
        .arg("--summary-json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!((s["requests"].as_u64(), s["iterations_limit"].as_u64()), (Some(25), Some(25)), "{s}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let out = Command::new(bin).args(["load", &url, "--threshold", "p95<fast"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("p95<fast"), "the error names the threshold");
}

#[test]
fn load_runs_a_scenario_and_writes_junit() {
    let url = serve();
    let dir = tempfile::tempdir().unwrap();
    let (scenario, json, junit) =
        (dir.path().join("mix.yaml"), dir.path().join("summary.json"), dir.path().join("junit.xml"));
    std::fs::write(
        &scenario,
        format!(
            "duration: 500ms\nvus: 2\nthresholds: [p99<1s]\nrequests:\n  - name: good\n    url: {url}\n    weight: 2\n    checks: {{ status: [200], body_contains: ok }}\n  - name: bad\n    url: {url}bad\n    method: POST\n    body: {{ a: 1 }}\n    checks: {{ body_contains: nope }}\n"
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_vitals");
    let out = Command::new(bin)
        .args(["load", "--threshold", "errors<1%", "--scenario"])
        .arg(&scenario)
        .arg("--summary-json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(99),
        "check errors break errors<1%: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let bad = s["requests_by_name"]["bad"]["requests"].as_u64().unwrap();
    assert!(bad > 10, "{s}");
    assert_eq!(s["errors"]["check"].as_u64(), Some(bad), "{s}");
    assert_eq!(s["requests_by_name"]["good"]["errors"], 0, "{s}");
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(x.contains(r#"tests="3" failures="2""#), "{x}");
    assert!(x.contains("errors&lt;1%") && x.contains(r#"name="p99&lt;1s" time="0"/>"#), "{x}");

    std::fs::write(&scenario, "duration: 1s\nrequests:\n  - url: http://127.0.0.1:1/\n    wait: 1s\n").unwrap();
    let out = Command::new(bin).arg("load").arg("--scenario").arg(&scenario).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{}:4: requests[0]: unknown field `wait`", scenario.display())), "{err}");

    let out = Command::new(bin).args(["load", &url, "--scenario"]).arg(&scenario).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a URL and --scenario conflict");
}

/// `--push` sends each second into a running vitals over remote_write: the run's series are queryable
/// there with its `run` label, and their totals match the summary. `--progress` prints a line a second.
#[test]
fn load_pushes_live_results_into_vitals() {
    let url = serve_with(Duration::from_millis(5));
    let dir = tempfile::tempdir().unwrap();
    let mut vitals = Vitals::start(dir.path(), None, &[]);
    let json = dir.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["load", &url, "--rate", "100/s", "--duration", "3s", "--progress", "--run", "ci-42"])
        .args(["--push", &vitals.url()])
        .arg("--summary-json")
        .arg(&json)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}{err}", String::from_utf8_lossy(&out.stdout));
    assert!(!err.contains("push"), "no push errors: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("req/s") && l.contains("p95")).collect();
    assert!(lines.len() >= 3, "one progress line per second: {err}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let requests = s["requests"].as_f64().unwrap();

    let query = |q: &str| {
        let (code, body) = http_get(&format!("{}/api/v1/query?query={}", vitals.url(), urlencode(q))).unwrap();
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    };
    let total = query("max_over_time(vitals_load_requests_total{run=\"ci-42\"}[5m])");
    assert_eq!(total.len(), 1, "{total:?}");
    assert_eq!(total[0]["metric"]["job"], "vitals_load");
    let pushed: f64 = total[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(pushed, requests, "the pushed counter ends at the summary's total");
    let p95 = query("max_over_time(vitals_load_latency_seconds{run=\"ci-42\",quantile=\"0.95\"}[5m])");
    let p95: f64 = p95[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((0.005..0.5).contains(&p95), "p95 {p95}s includes the server's 5 ms");
    let points = query("count_over_time(vitals_load_target{run=\"ci-42\"}[5m])");
    assert_eq!(points[0]["value"][1], "3", "one sample per second: {points:?}");
    vitals.stop();

    // A push target that is down does not fail the run; it is reported once.
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["load", &url, "--rate", "50/s", "--duration", "1s", "--push", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("push to http://127.0.0.1:1/api/v1/write failed").count(), 1, "{err}");
    assert!(err.contains("writes failed"), "{err}");
}

/// The HTML report is written and self-contained; `--baseline` compares with an earlier run, and with
/// `--fail-on-regression` a server that got 50% slower fails CI with exit code 99.
#[test]
fn load_html_report_and_baseline_regression() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_vitals");
    let (base, cur, html) = (dir.path().join("base.json"), dir.path().join("cur.json"), dir.path().join("r.html"));
    // 20 ms against 30 ms: big enough that machine noise between runs (a few 0.1 ms) stays under 5%.
    let fast = serve_with(Duration::from_millis(20));
    let run = |url: &str, out: &std::path::Path, extra: &[&str]| {
        let o = Command::new(bin)
            .args(["load", url, "--vus", "4", "--duration", "10s", "--quiet"])
            .arg("--summary-json")
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
    };
    let (code, text) = run(&fast, &base, &["--html", html.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..100.min(page.len())]);
    assert!(page.contains("<svg") && page.contains("<polyline"), "charts are inline SVG");
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"), "no external resources");

    // Same server again: no regression (with a 15% tolerance: other tests share the 2 cores).
    let (code, text) =
        run(&fast, &cur, &["--baseline", base.to_str().unwrap(), "--fail-on-regression", "--min-change", "0.15"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("baseline comparison") && !text.contains("REGRESSION"), "{text}");

    let slow = serve_with(Duration::from_millis(30));
    let (code, text) =
        run(&slow, &cur, &["--baseline", base.to_str().unwrap(), "--fail-on-regression", "--min-change", "0.15"]);
    assert_eq!(code, Some(99), "{text}");
    assert!(text.contains("REGRESSION"), "{text}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cur).unwrap()).unwrap();
    assert_eq!(s["baseline"]["regressed"], true, "{s}");
    // Without --fail-on-regression it is reported, not failed.
    let (code, text) = run(&slow, &cur, &["--baseline", base.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");

    // A baseline from the other workload model is refused before the run starts.
    let started = std::time::Instant::now();
    let o = Command::new(bin)
        .args(["load", &fast, "--rate", "10/s", "--duration", "30s", "--baseline", base.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("closed model, this run uses the open model"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "refused before running");
}
