//! Alertmanager's API v2 on the router: served without storage and in agent mode (it reads no
//! local data), 503 until the notifier is set, and behind the same authentication as the rest.
//! Answers compared with a real Alertmanager: crates/vitals/tests/alerting.rs.

use std::sync::Arc;

use vitals_notify::{Notifier, NotifyConfig};
use vitals_remote::IngestLimits;
use vitals_web::{AuthConfig, WebConfig, WebState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_in_agent_mode_without_storage_behind_auth() {
    let web = WebConfig { bearer_tokens: vec!["tok".into()], ..Default::default() };
    let mut state = WebState::new(IngestLimits::default(), AuthConfig::new(&web));
    state.agent = true;
    let state = Arc::new(state);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v2", l.local_addr().unwrap());
    let (_stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(vitals_web::server::serve(l, state.clone(), None, rx));
    let c = reqwest::Client::new();
    let get = |path: &str| c.get(format!("{url}{path}")).bearer_auth("tok").send();

    assert_eq!(c.get(format!("{url}/status")).send().await.unwrap().status(), 401);
    let r = get("/alerts").await.unwrap();
    assert_eq!(r.status(), 503, "no notifier yet");
    assert_eq!(r.text().await.unwrap(), "\"the notifier is not running yet\"\n");

    let dir = tempfile::tempdir().unwrap();
    let cfg =
        NotifyConfig::from_yaml("route: {receiver: team, group_by: [alertname]}\nreceivers: [{name: team}]\n").unwrap();
    let _ = state.notifier.set(Arc::new(Notifier::start(cfg, dir.path(), "http://vitals".into()).unwrap()));

    let s: serde_json::Value = get("/status").await.unwrap().json().await.unwrap();
    assert_eq!(s["cluster"], serde_json::json!({"peers": [], "status": "disabled"}));
    assert!(s["uptime"].as_str().unwrap().ends_with('Z'));
    let r: serde_json::Value = get("/receivers").await.unwrap().json().await.unwrap();
    assert_eq!(r, serde_json::json!([{"name": "team"}]));

    let post = c
        .post(format!("{url}/alerts"))
        .bearer_auth("tok")
        .body(r#"[{"labels":{"alertname":"A","job":"x"},"annotations":{"summary":"s"}}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(post.text().await.unwrap(), "");
    let a: serde_json::Value = get("/alerts?filter=job%3D%22x%22").await.unwrap().json().await.unwrap();
    assert_eq!(a[0]["labels"], serde_json::json!({"alertname": "A", "job": "x"}));
    assert_eq!(a[0]["status"]["state"], "active", "active at once, as Alertmanager 0.25 answers");
    assert_eq!(a[0]["receivers"], serde_json::json!([{"name": "team"}]));
    assert!(a[0].get("generatorURL").is_none(), "omitted when empty, as Alertmanager does");
    let g: serde_json::Value = get("/alerts/groups").await.unwrap().json().await.unwrap();
    assert_eq!(g[0]["labels"], serde_json::json!({"alertname": "A"}));
    assert_eq!(g[0]["receiver"]["name"], "team");
    let active: serde_json::Value = get("/alerts?unprocessed=false").await.unwrap().json().await.unwrap();
    assert_eq!(active.as_array().unwrap().len(), 1, "amtool's default filter shows new alerts");
    let none: serde_json::Value = get("/alerts?active=false").await.unwrap().json().await.unwrap();
    assert_eq!(none, serde_json::json!([]));
}
