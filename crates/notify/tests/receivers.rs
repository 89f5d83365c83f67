//! Receivers against real peers on loopback: exact webhook bytes, Slack JSON, SMTP, forwarding,
//! retries and failure accounting.

mod common;

use std::time::{Duration, SystemTime};

use common::{alert, config, HttpReceiver, SmtpServer};
use vitals_notify::{forward_to_alertmanager, AlertmanagerConfig, AlertmanagerForwarder, Notifier};

fn fnv_fingerprint(pairs: &[(&str, &str)]) -> String {
    let mut pairs = pairs.to_vec();
    pairs.sort();
    let mut h: u64 = 0xcbf29ce484222325;
    for (n, v) in pairs {
        for b in n.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

fn at(s: &str) -> SystemTime {
    vitals_notify::time::parse(s).unwrap()
}

const FAST: &str = "
route:
  receiver: web.hook
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: web.hook
    webhook_configs:
      - url: {url}/hook
";

#[tokio::test]
async fn webhook_payload_is_alertmanagers_byte_for_byte() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let n = Notifier::start(config(FAST, &rx.url), dir.path(), "http://vitals.example:9797/".into()).unwrap();
    n.put_alerts(vec![alert(&[("alertname", "Down"), ("job", "api")], at("2024-05-06T10:00:00.123Z"))]);
    let got = rx.wait_for("/hook", 1, Duration::from_secs(5)).await;
    let fp = fnv_fingerprint(&[("alertname", "Down"), ("job", "api")]);
    let want = format!(
        concat!(
            r#"{{"receiver":"web\\.hook","status":"firing","alerts":[{{"status":"firing","labels":{{"alertname":"Down","job":"api"}},"#,
            r#""annotations":{{"summary":"it broke"}},"startsAt":"2024-05-06T10:00:00.123Z","endsAt":"0001-01-01T00:00:00Z","#,
            r#""generatorURL":"http://vitals/graph?g0.expr=up\u0026g0.tab=1","fingerprint":"{fp}"}}],"#,
            r#""groupLabels":{{"alertname":"Down"}},"commonLabels":{{"alertname":"Down","job":"api"}},"#,
            r#""commonAnnotations":{{"summary":"it broke"}},"externalURL":"http://vitals.example:9797","version":"4","#,
            r#""groupKey":"{{}}:{{alertname=\"Down\"}}","truncatedAlerts":0}}"#,
            "\n"
        ),
        fp = fp
    );
    assert_eq!(got[0].body, want);
    assert!(got[0].headers.iter().any(|(k, v)| k == "content-type" && v == "application/json"));
    assert_eq!(n.metrics().notifications_total["webhook"], 1);
    n.shutdown().await;
}

#[tokio::test]
async fn webhook_max_alerts_truncates_and_http_config_authenticates() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = FAST.replace(
        "      - url: {url}/hook",
        "      - url: {url}/hook\n        max_alerts: 2\n        http_config: {basic_auth: {username: u, password: p}}",
    );
    let n = Notifier::start(config(&yaml, &rx.url), dir.path(), "http://v".into()).unwrap();
    let old = at("2024-05-06T10:00:00Z");
    n.put_alerts(["a", "b", "c"].iter().map(|i| alert(&[("alertname", "X"), ("instance", i)], old)).collect());
    let got = rx.wait_for("/hook", 1, Duration::from_secs(5)).await;
    let j = got[0].json();
    assert_eq!(j["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(j["truncatedAlerts"], 1);
    assert!(got[0].headers.iter().any(|(k, v)| k == "authorization" && v == "Basic dTpw"));
    n.shutdown().await;
}

#[tokio::test]
async fn slack_payload_has_alertmanagers_default_title_and_colour() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = "
route: {receiver: chat, group_by: [alertname], group_wait: 100ms, group_interval: 300ms}
receivers:
  - name: chat
    slack_configs:
      - api_url: {url}/slack
        channel: '#ops'
        text: '{{ .CommonAnnotations.description }}'
";
    let n = Notifier::start(config(yaml, &rx.url), dir.path(), "http://vitals:9797".into()).unwrap();
    let old = at("2024-05-06T10:00:00Z");
    n.put_alerts(vec![
        alert(&[("alertname", "Down"), ("job", "api"), ("instance", "a")], old),
        alert(&[("alertname", "Down"), ("job", "api"), ("instance", "b")], old),
    ]);
    let got = rx.wait_for("/slack", 1, Duration::from_secs(5)).await;
    let j = got[0].json();
    assert_eq!(j["channel"], "#ops");
    assert_eq!(j["username"], "Alertmanager");
    let a = &j["attachments"][0];
    assert_eq!(a["title"], "[FIRING:2] Down (api)");
    assert_eq!(a["title_link"], "http://vitals:9797/#/alerts?receiver=chat");
    assert_eq!(a["color"], "danger");
    assert_eq!(a["fallback"], "[FIRING:2] Down (api) | http://vitals:9797/#/alerts?receiver=chat");
    let text = a["text"].as_str().unwrap();
    assert!(text.starts_with("Firing alerts: 2\n- Down: it broke\n"), "{text}");
    n.shutdown().await;
}

#[tokio::test]
async fn email_goes_through_a_real_smtp_conversation() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "
route: {{receiver: mail, group_by: [alertname], group_wait: 100ms, group_interval: 300ms}}
receivers:
  - name: mail
    email_configs:
      - to: 'ops@example.org, oncall@example.org'
        from: vitals@example.org
        smarthost: {}
        hello: vitals.test
        auth_username: alice
        auth_password: s3cret
        require_tls: false
        headers: {{X-Team: core}}
",
        smtp.addr
    );
    let n = Notifier::start(config(&yaml, ""), dir.path(), "http://vitals:9797".into()).unwrap();
    n.put_alerts(vec![alert(&[("alertname", "DiskFull"), ("instance", "db1")], at("2024-05-06T10:00:00Z"))]);
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    let m = &mails[0];
    assert_eq!(m.helo, "vitals.test");
    assert_eq!(m.from, "<vitals@example.org>");
    assert_eq!(m.to, ["<ops@example.org>", "<oncall@example.org>"]);
    // AUTH PLAIN: base64("\0alice\0s3cret").
    assert_eq!(m.auth.as_deref(), Some("AGFsaWNlAHMzY3JldA=="));
    assert!(m.data.contains("Subject: [FIRING:1] DiskFull (db1)\r\n"), "{}", m.data);
    assert!(m.data.contains("X-Team: core\r\n"), "{}", m.data);
    assert!(m.data.contains("- DiskFull: it broke"), "{}", m.data);
    assert_eq!(n.metrics().notifications_total["email"], 1);
    n.shutdown().await;
}

#[tokio::test]
async fn email_with_require_tls_fails_without_starttls() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "
route: {{receiver: mail, group_wait: 50ms, group_interval: 200ms}}
receivers:
  - name: mail
    email_configs:
      - {{to: ops@example.org, from: vitals@example.org, smarthost: '{}'}}
",
        smtp.addr
    );
    let n = Notifier::start(config(&yaml, ""), dir.path(), "http://v".into()).unwrap();
    n.put_alerts(vec![alert(&[("alertname", "X")], at("2024-05-06T10:00:00Z"))]);
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while n.metrics().notifications_failed_total["email"] == 0 {
        assert!(std::time::Instant::now() < end, "no failure recorded");
        common::sleep_ms(20).await;
    }
    assert!(smtp.mails().is_empty());
    assert!(n.metrics().last_errors.contains_key("mail"));
    n.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_and_client_errors_are_not() {
    let rx = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = "
route: {receiver: r, group_by: [alertname], group_wait: 50ms, group_interval: 5s, repeat_interval: 1h}
receivers:
  - name: r
    webhook_configs: [{url: '{url}/hook'}]
";
    let n = Notifier::start(config(yaml, &rx.url), dir.path(), "http://v".into()).unwrap();
    rx.queue_statuses(&[500, 503]);
    n.put_alerts(vec![alert(&[("alertname", "A")], at("2024-05-06T10:00:00Z"))]);
    rx.wait_for("/hook", 3, Duration::from_secs(5)).await;
    common::sleep_ms(100).await;
    let m = n.metrics();
    assert_eq!((m.notifications_total["webhook"], m.notifications_failed_total["webhook"]), (1, 0));

    rx.queue_statuses(&[400]);
    n.put_alerts(vec![alert(&[("alertname", "B")], at("2024-05-06T10:00:00Z"))]);
    rx.wait_for("/hook", 4, Duration::from_secs(5)).await;
    common::sleep_ms(300).await;
    assert_eq!(rx.on("/hook").len(), 4, "a 400 is not retried");
    let m = n.metrics();
    assert_eq!((m.notifications_total["webhook"], m.notifications_failed_total["webhook"]), (2, 1));
    assert!(m.last_errors["r"].contains("400"), "{:?}", m.last_errors);
    assert!(m.render().contains("vitals_notifications_failed_total{integration=\"webhook\"} 1\n"));
    n.shutdown().await;
}

#[tokio::test]
async fn alerts_forward_to_external_alertmanagers() {
    let rx = HttpReceiver::start().await;
    let client = reqwest::Client::new();
    let mut a = alert(&[("alertname", "Up"), ("job", "x")], at("2024-05-06T10:00:00Z"));
    a.ends_at = Some(at("2024-05-06T10:04:00Z"));
    forward_to_alertmanager(&client, &format!("{}/api/v2/alerts", rx.url), &[a.clone()]).await.unwrap();
    let got = rx.wait_for("/api/v2/alerts", 1, Duration::from_secs(5)).await;
    assert_eq!(
        got[0].body,
        r#"[{"annotations":{"summary":"it broke"},"endsAt":"2024-05-06T10:04:00Z","startsAt":"2024-05-06T10:00:00Z","generatorURL":"http://vitals/graph?g0.expr=up&g0.tab=1","labels":{"alertname":"Up","job":"x"}}]"#
    );

    let host = rx.url.trim_start_matches("http://");
    let yaml = format!("path_prefix: /am\ntimeout: 5s\nstatic_configs:\n  - targets: ['{host}']\n");
    let cfg: AlertmanagerConfig = serde_norway::from_str(&yaml).unwrap();
    let fwd = AlertmanagerForwarder::new(&cfg).unwrap();
    assert_eq!(fwd.urls(), [format!("http://{host}/am/api/v2/alerts")]);
    let results = fwd.send(&[a]).await;
    assert!(results[0].1.is_ok());
    assert_eq!(rx.on("/am/api/v2/alerts").len(), 1);
    assert_eq!(fwd.sent_total(), 1);
    let bad: Result<AlertmanagerConfig, _> = serde_norway::from_str("api_version: v1\n");
    assert!(AlertmanagerForwarder::new(&bad.unwrap()).is_err());
}
