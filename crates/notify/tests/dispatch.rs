//! The dispatcher against a real webhook receiver on loopback: grouping, the group_wait /
//! group_interval / repeat_interval schedule, resolve, silences, inhibition, routing, time
//! intervals, and the notification log across restarts and reloads.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{alert, config, sleep_ms, HttpReceiver};
use vitals_notify::{AlertFilter, Notifier, Silence, SilenceMatcher, SilenceState};

const FAST: &str = "
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 500ms
  repeat_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {url}/hook
";

fn old() -> SystemTime {
    SystemTime::now() - Duration::from_secs(3600)
}

fn names(r: &common::Request) -> Vec<String> {
    r.json()["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["instance"].as_str().unwrap_or("").to_string())
        .collect()
}

fn secs(t0: Instant, r: &common::Request) -> f64 {
    r.at.duration_since(t0).as_secs_f64()
}

#[tokio::test]
async fn two_alerts_of_one_group_make_one_notification() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let n = Notifier::start(config(FAST, &rx.url), dir.path(), "http://v".into()).unwrap();
    n.put_alerts(vec![
        alert(&[("alertname", "Down"), ("instance", "a")], SystemTime::now()),
        alert(&[("alertname", "Down"), ("instance", "b")], SystemTime::now()),
        alert(&[("alertname", "Other"), ("instance", "c")], SystemTime::now()),
    ]);
    let got = rx.wait_for("/hook", 2, Duration::from_secs(5)).await;
    sleep_ms(100).await;
    assert_eq!(rx.on("/hook").len(), 2, "one notification per group");
    let down = got.iter().find(|r| r.json()["groupLabels"]["alertname"] == "Down").unwrap();
    assert_eq!(names(down), ["a", "b"]);
    n.shutdown().await;
}

#[tokio::test]
async fn group_wait_then_group_interval_then_repeat_interval() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let n = Notifier::start(config(FAST, &rx.url), dir.path(), "http://v".into()).unwrap();
    let t0 = Instant::now();
    n.put_alerts(vec![alert(&[("alertname", "Down"), ("instance", "a")], SystemTime::now())]);
    assert_eq!(
        n.alerts(&AlertFilter::default())[0].status.state,
        "active",
        "active at once, as Alertmanager 0.25 answers"
    );
    let got = rx.wait_for("/hook", 1, Duration::from_secs(5)).await;
    let first = secs(t0, &got[0]);
    assert!((0.19..0.45).contains(&first), "first notification after group_wait: {first}");
    assert_eq!(n.alerts(&AlertFilter::default())[0].status.state, "active");

    sleep_ms(100).await; // ~0.3 s: a new alert joins; it is sent at the next group_interval tick
    n.put_alerts(vec![alert(&[("alertname", "Down"), ("instance", "b")], SystemTime::now())]);
    let got = rx.wait_for("/hook", 2, Duration::from_secs(5)).await;
    let second = secs(t0, &got[1]);
    assert!((0.6..1.0).contains(&second), "changed group waits for group_interval: {second}");
    assert_eq!(names(&got[1]), ["a", "b"]);

    // Unchanged: nothing until repeat_interval (1 s) has passed, at a group_interval tick.
    let got = rx.wait_for("/hook", 3, Duration::from_secs(5)).await;
    let third = secs(t0, &got[2]);
    assert!(third - second >= 0.95, "repeat after repeat_interval: {second} then {third}");
    assert!(third - second < 1.8, "repeat not much later than repeat_interval: {second} then {third}");
    assert_eq!(names(&got[2]), ["a", "b"]);
    n.shutdown().await;
}

#[tokio::test]
async fn resolved_alerts_are_sent_once_then_dropped() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = FAST.replace(
        "      - url: {url}/hook",
        "      - url: {url}/hook\n      - url: {url}/quiet\n        send_resolved: false",
    );
    let n = Notifier::start(config(&yaml, &rx.url), dir.path(), "http://v".into()).unwrap();
    let mut a = alert(&[("alertname", "Down"), ("instance", "a")], old());
    n.put_alerts(vec![a.clone()]);
    rx.wait_for("/hook", 1, Duration::from_secs(5)).await;
    a.ends_at = Some(SystemTime::now());
    n.put_alerts(vec![a]);
    let got = rx.wait_for("/hook", 2, Duration::from_secs(5)).await;
    let j = got[1].json();
    assert_eq!(j["status"], "resolved");
    assert_eq!(j["alerts"][0]["status"], "resolved");
    assert_ne!(j["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    sleep_ms(1600).await; // longer than repeat_interval: nothing more
    assert_eq!(rx.on("/hook").len(), 2);
    assert_eq!(rx.on("/quiet").len(), 1, "send_resolved: false gets only the firing notification");
    assert!(n.alerts(&AlertFilter::default()).is_empty());
    n.shutdown().await;
}

fn silence(name: &str, value: &str) -> Silence {
    Silence {
        id: None,
        matchers: vec![SilenceMatcher { name: name.into(), value: value.into(), is_regex: false, is_equal: true }],
        starts_at: SystemTime::now(),
        ends_at: SystemTime::now() + Duration::from_secs(3600),
        created_by: "test".into(),
        comment: "maintenance".into(),
    }
}

#[tokio::test]
async fn silences_mute_and_expiry_unmutes() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let n = Notifier::start(config(FAST, &rx.url), dir.path(), "http://v".into()).unwrap();
    let id = n.add_silence(silence("alertname", "Down")).unwrap();
    n.put_alerts(vec![alert(&[("alertname", "Down"), ("instance", "a")], old())]);
    sleep_ms(800).await;
    assert!(rx.on("/hook").is_empty(), "silenced");
    let st = &n.alerts(&AlertFilter::default())[0];
    assert_eq!(st.status.state, "suppressed");
    assert_eq!(st.status.silenced_by, std::slice::from_ref(&id));
    let only_unsilenced = AlertFilter { silenced: false, ..Default::default() };
    assert!(n.alerts(&only_unsilenced).is_empty());

    n.expire_silence(&id).unwrap();
    let t = Instant::now();
    rx.wait_for("/hook", 1, Duration::from_secs(5)).await;
    assert!(t.elapsed() < Duration::from_millis(800), "sent at the next group_interval tick");
    assert_eq!(n.alerts(&AlertFilter::default())[0].status.state, "active");
    let s = n.silences();
    assert_eq!((s.len(), s[0].status.state), (1, SilenceState::Expired));
    assert_eq!(n.metrics().silences["expired"], 1);
    n.shutdown().await;
}

#[tokio::test]
async fn inhibition_mutes_targets_with_equal_labels_while_the_source_fires() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "{FAST}inhibit_rules:\n  - source_matchers: [severity=\"critical\"]\n    target_matchers: [severity=\"warning\"]\n    equal: [cluster]\n"
    );
    let n = Notifier::start(config(&yaml, &rx.url), dir.path(), "http://v".into()).unwrap();
    let mut src = alert(&[("alertname", "NodeDown"), ("severity", "critical"), ("cluster", "c1")], old());
    n.put_alerts(vec![
        src.clone(),
        alert(&[("alertname", "Slow"), ("severity", "warning"), ("cluster", "c1")], old()),
        alert(&[("alertname", "Slow2"), ("severity", "warning"), ("cluster", "c2")], old()),
    ]);
    rx.wait_for("/hook", 2, Duration::from_secs(5)).await;
    sleep_ms(700).await;
    let groups: Vec<String> =
        rx.on("/hook").iter().map(|r| r.json()["groupLabels"]["alertname"].as_str().unwrap().to_string()).collect();
    assert!(groups.contains(&"NodeDown".to_string()) && groups.contains(&"Slow2".to_string()), "{groups:?}");
    assert!(!groups.contains(&"Slow".to_string()), "{groups:?}");
    let slow = n.alerts(&AlertFilter::default()).into_iter().find(|a| a.labels["alertname"] == "Slow").unwrap();
    assert_eq!(slow.status.inhibited_by, [format!("{:016x}", src.fingerprint())]);
    assert_eq!(slow.status.state, "suppressed");

    src.ends_at = Some(SystemTime::now());
    n.put_alerts(vec![src]);
    let end = Instant::now() + Duration::from_secs(5);
    while !rx.on("/hook").iter().any(|r| r.json()["groupLabels"]["alertname"] == "Slow") {
        assert!(Instant::now() < end, "target not notified after the source resolved");
        sleep_ms(20).await;
    }
    n.shutdown().await;
}

#[tokio::test]
async fn routing_follows_nested_routes_and_continue() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = "
route:
  receiver: default
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 300ms
  routes:
    - matchers: [team=\"a\"]
      receiver: a
      continue: true
    - matchers: ['team=~\"a|b\"']
      receiver: b
      routes:
        - match: {severity: critical}
          receiver: bcrit
          group_by: [alertname, severity]
receivers:
  - {name: default, webhook_configs: [{url: '{url}/default'}]}
  - {name: a, webhook_configs: [{url: '{url}/a'}]}
  - {name: b, webhook_configs: [{url: '{url}/b'}]}
  - {name: bcrit, webhook_configs: [{url: '{url}/bcrit'}]}
";
    let n = Notifier::start(config(yaml, &rx.url), dir.path(), "http://v".into()).unwrap();
    n.put_alerts(vec![
        alert(&[("alertname", "X"), ("team", "a"), ("severity", "critical")], old()),
        alert(&[("alertname", "Y"), ("team", "z")], old()),
    ]);
    let crit = rx.wait_for("/bcrit", 1, Duration::from_secs(5)).await;
    rx.wait_for("/a", 1, Duration::from_secs(5)).await;
    rx.wait_for("/default", 1, Duration::from_secs(5)).await;
    sleep_ms(200).await;
    assert!(rx.on("/b").is_empty(), "a matching child route replaces its parent");
    assert_eq!(
        crit[0].json()["groupKey"],
        "{}/{team=~\"a|b\"}/{severity=\"critical\"}:{alertname=\"X\", severity=\"critical\"}"
    );
    assert_eq!(crit[0].json()["receiver"], "bcrit");
    let x = n.alerts(&AlertFilter::default()).into_iter().find(|a| a.labels["alertname"] == "X").unwrap();
    let receivers: Vec<&str> = x.receivers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(receivers, ["a", "bcrit"]);
    n.shutdown().await;
}

#[tokio::test]
async fn time_intervals_mute_routes() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = "
route:
  receiver: default
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 200ms
  routes:
    - {matchers: [k=\"muted\"], mute_time_intervals: [always]}
    - {matchers: [k=\"inactive\"], active_time_intervals: [never]}
receivers:
  - {name: default, webhook_configs: [{url: '{url}/hook'}]}
time_intervals:
  - {name: always, time_intervals: [{}]}
  - {name: never, time_intervals: [{years: ['1999']}]}
";
    let n = Notifier::start(config(yaml, &rx.url), dir.path(), "http://v".into()).unwrap();
    n.put_alerts(vec![
        alert(&[("alertname", "A"), ("k", "muted")], old()),
        alert(&[("alertname", "B"), ("k", "inactive")], old()),
        alert(&[("alertname", "C"), ("k", "open")], old()),
    ]);
    rx.wait_for("/hook", 1, Duration::from_secs(5)).await;
    sleep_ms(500).await;
    let got = rx.on("/hook");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["groupLabels"]["alertname"], "C");
    let muted: Vec<Vec<String>> = n.alerts(&AlertFilter::default()).into_iter().map(|a| a.status.muted_by).collect();
    assert!(muted.contains(&vec!["always".to_string()]) && muted.contains(&vec!["never".to_string()]), "{muted:?}");
    n.shutdown().await;
}

#[tokio::test]
async fn the_notification_log_survives_a_restart() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = FAST.replace("repeat_interval: 1s", "repeat_interval: 1h");
    let a = alert(&[("alertname", "Down"), ("instance", "a")], old());
    let n = Notifier::start(config(&yaml, &rx.url), dir.path(), "http://v".into()).unwrap();
    n.put_alerts(vec![a.clone()]);
    rx.wait_for("/hook", 1, Duration::from_secs(5)).await;
    n.shutdown().await;
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("notify/nflog.json")).unwrap()).unwrap();
    assert_eq!(log["version"], 1);
    assert_eq!(log["entries"][0]["groupKey"], "{}:{alertname=\"Down\"}");

    // The rules re-send the firing alert to the restarted notifier: no duplicate notification.
    let n = Notifier::start(config(&yaml, &rx.url), dir.path(), "http://v".into()).unwrap();
    n.put_alerts(vec![a.clone()]);
    sleep_ms(1000).await;
    assert_eq!(rx.on("/hook").len(), 1, "no duplicate after restart");
    // A change is still sent.
    n.put_alerts(vec![a, alert(&[("alertname", "Down"), ("instance", "b")], old())]);
    let got = rx.wait_for("/hook", 2, Duration::from_secs(5)).await;
    assert_eq!(names(&got[1]), ["a", "b"]);

    // A reload keeps alerts and the log: no duplicate either.
    n.apply(config(&yaml.replace("group_interval: 500ms", "group_interval: 400ms"), &rx.url)).unwrap();
    sleep_ms(900).await;
    assert_eq!(rx.on("/hook").len(), 2, "no duplicate after reload");
    assert_eq!(n.alerts(&AlertFilter::default()).len(), 2);
    assert!(n.status().config.original.contains("group_interval: 400ms"));
    n.shutdown().await;
}

#[tokio::test]
async fn silences_persist_and_follow_alertmanagers_update_rules() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = || config("route: {receiver: r}\nreceivers: [{name: r}]\n", "");
    let n = Notifier::start(cfg(), dir.path(), "http://v".into()).unwrap();
    let id = n.add_silence(silence("job", "api")).unwrap();
    // Changing only the end and comment of an active silence keeps its id.
    let mut s = n.silences()[0].silence.clone();
    s.comment = "longer".into();
    s.ends_at += Duration::from_secs(60);
    assert_eq!(n.add_silence(s.clone()).unwrap(), id);
    // Changing its matchers replaces it: the old one expires.
    s.matchers[0].value = "web".into();
    let new_id = n.add_silence(s).unwrap();
    assert_ne!(new_id, id);
    // Invalid silences are refused.
    let mut bad = silence("job", "");
    assert!(n.add_silence(bad.clone()).is_err(), "matches everything");
    bad = silence("job", "x");
    bad.ends_at = SystemTime::now() - Duration::from_secs(1);
    assert!(n.add_silence(bad).is_err(), "ends in the past");
    assert!(n.expire_silence("nope").is_err());
    n.shutdown().await;

    let n = Notifier::start(cfg(), dir.path(), "http://v".into()).unwrap();
    let mut s = n.silences();
    s.sort_by_key(|s| s.status.state.as_str());
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].silence.id.as_deref(), s[0].status.state), (Some(new_id.as_str()), SilenceState::Active));
    assert_eq!((s[1].silence.id.as_deref(), s[1].status.state), (Some(id.as_str()), SilenceState::Expired));
    assert_eq!(s[1].silence.comment, "longer");
    let json = serde_json::to_value(&s[0]).unwrap();
    assert_eq!(json["status"]["state"], "active");
    assert_eq!(json["matchers"][0]["isRegex"], false);
    assert!(json["updatedAt"].is_string() && json["createdBy"] == "test");
    // An invalid configuration is refused and the one in force stays.
    assert!(n.apply(vitals_notify::NotifyConfig::default()).is_err());
    assert!(n.status().config.original.contains("receiver: r"));
    let st = serde_json::to_value(n.status()).unwrap();
    assert_eq!(st["cluster"]["status"], "disabled");
    assert!(st["versionInfo"]["version"].is_string() && st["uptime"].is_string());
    n.shutdown().await;
}
