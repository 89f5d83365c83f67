//! `vitals load` as a command: a run against a local server, its JSON summary, and exit code 99
//! when a threshold is broken.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

/// A keep-alive HTTP server answering every request with 200 "ok".
fn serve() -> String {
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
