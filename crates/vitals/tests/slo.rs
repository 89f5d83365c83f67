//! `slos:` end to end: the generated rules are loaded and evaluated, `/api/v1/slos` reports the
//! error budget, and `vitals check config` prints the rules it would generate.

mod common;

use std::process::Command;

use common::{http_get, wait_until, Vitals};

const CONFIG: &str = r#"
global: {scrape_interval: 1s, evaluation_interval: 1s}
default_rules: false
scrape_configs:
  - job_name: vitals
    static_configs: [{targets: ['TARGET']}]
slos:
  - name: api-requests
    objective: 99.5
    window: 1d
    sli:
      events:
        good: 'sum(rate(vitals_http_requests_total{code!~"5.."}[$window]))'
        total: 'sum(rate(vitals_http_requests_total[$window]))'
    labels: {team: platform}
"#;

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn slos_generate_rules_and_report_their_budget() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let cfg = CONFIG.replace("TARGET", &format!("127.0.0.1:{port}"));
    let path = dir.path().join("vitals.yml");
    std::fs::write(&path, &cfg).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vitals")).args(["check", "config"]).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("record: \"slo:sli_error:ratio_rate1h\""), "{text}");
    assert!(text.contains("alert: \"SLOBurnRatePage\""), "{text}");

    let v = Vitals::start_on(dir.path(), Some(&cfg), &[], port);
    // Requests to vitals' own API are the SLI's events.
    wait_until(30, "the SLO's ratio is recorded", || {
        let _ = http_get(&format!("{}/api/v1/status/buildinfo", v.url()));
        let (_, body) = http_get(&format!("{}/api/v1/query?query=slo:sli_error:ratio_rate5m", v.url())).unwrap();
        json(&body)["data"]["result"].as_array().is_some_and(|r| !r.is_empty())
    });
    let (_, body) = http_get(&format!("{}/api/v1/rules?type=alert", v.url())).unwrap();
    let groups = json(&body)["data"]["groups"].clone();
    assert_eq!(groups[0]["name"], "slo:api-requests:alerts", "{groups}");
    assert_eq!(groups[0]["rules"].as_array().unwrap().len(), 4);
    assert_eq!(groups[0]["rules"][0]["health"], "ok", "{groups}");

    let (code, body) = http_get(&format!("{}/api/v1/slos", v.url())).unwrap();
    assert_eq!(code, 200, "{body}");
    let s = &json(&body)["data"]["slos"][0];
    assert_eq!(s["name"], "api-requests");
    assert_eq!(s["objective"], 99.5);
    assert_eq!(s["window"], "1d");
    assert!((s["errorBudget"].as_f64().unwrap() - 0.005).abs() < 1e-12);
    assert_eq!(s["errorRatio"]["5m"], 0.0, "no request failed: {s}");
    assert_eq!(s["burnRate"]["1h"], 0.0, "{s}");
    assert_eq!(s["errorBudgetRemaining"], 1.0, "{s}");
    assert_eq!(s["labels"]["team"], "platform");
}
