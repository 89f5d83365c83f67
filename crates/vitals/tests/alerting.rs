//! Alerting end to end with real peers: rules forwarding to a real Alertmanager 0.25, `amtool` as a
//! client of vitals' own Alertmanager API v2, webhook notifications (firing and resolved) in
//! Alertmanager's payload shape, and a SIGKILL in the middle of a firing alert. A missing peer is
//! SKIPPED locally and fails under `CI=true`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn get_json(url: &str) -> Value {
    let (code, body) = http_get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(code, 200, "GET {url}: {body}");
    json(&body)
}

/// A rule file with one group evaluated every second.
fn rules(alerts: &str) -> String {
    format!("groups:\n  - name: test\n    interval: 1s\n    rules:\n{alerts}")
}

/// `alertname` fires as long as `expr` has a result, with `severity: page` and a summary.
fn alert_rule(alertname: &str, expr: &str) -> String {
    format!(
        "      - alert: {alertname}\n        expr: {expr}\n        for: 0s\n        labels:\n          severity: page\n        \
         annotations:\n          summary: \"{alertname} is firing\"\n"
    )
}

/// A vitals configuration: rules in `rules.yml` next to it, no default rule pack, no scraping,
/// plus `extra` top-level sections.
fn vitals_config(extra: &str) -> String {
    format!("global:\n  evaluation_interval: 1s\ndefault_rules: false\nrule_files: [rules.yml]\n{extra}")
}

/// A `notify:` section with fast grouping and one receiver, `hook`, posting to `url` (or none).
fn notify_section(url: Option<&str>) -> String {
    let receiver = match url {
        Some(u) => {
            format!("    - name: hook\n      webhook_configs:\n        - url: {u}\n          send_resolved: true\n")
        }
        None => "    - name: hook\n".to_string(),
    };
    format!(
        "notify:\n  route:\n    receiver: hook\n    group_by: [alertname]\n    group_wait: 1s\n    group_interval: 2s\n    \
         repeat_interval: 1h\n  receivers:\n{receiver}"
    )
}

fn start_vitals(dir: &Path, config: &str, rule_file: &str) -> Vitals {
    std::fs::write(dir.join("rules.yml"), rule_file).unwrap();
    Vitals::start(dir, Some(config), &[])
}

/// The alerts of an Alertmanager API v2 (vitals' or a real one) whose `alertname` is `name`.
fn v2_alerts(base: &str, name: &str) -> Vec<Value> {
    let url = format!("{base}/api/v2/alerts?filter={}", urlencode(&format!("alertname=\"{name}\"")));
    get_json(&url).as_array().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Peers

/// An Alertmanager configuration (also a valid `notify:` section) with receivers that send nothing.
const BLACKHOLE: &str = "route:
  receiver: blackhole
  group_by: [alertname]
  group_wait: 1s
receivers:
  - name: blackhole
  - name: other
";

/// A real Alertmanager 0.25.
struct Alertmanager {
    _peer: Peer,
    port: u16,
}

impl Alertmanager {
    /// Starts Alertmanager with `config` (alertmanager.yml) on a free port.
    fn start(dir: &Path, config: &str) -> Alertmanager {
        let cfg = dir.join("alertmanager.yml");
        std::fs::write(&cfg, config).unwrap();
        let port = free_port();
        let mut cmd = Command::new("prometheus-alertmanager");
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=");
        let mut peer = Peer::spawn("alertmanager", cmd, &dir.join("alertmanager.log"));
        peer.wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 60);
        Alertmanager { _peer: peer, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// One request a [`Webhook`] received.
#[derive(Clone, Debug)]
struct Delivery {
    at: Instant,
    body: Value,
}

/// A tiny HTTP server that answers 200 to everything and records the JSON bodies it receives.
struct Webhook {
    port: u16,
    got: Arc<Mutex<Vec<Delivery>>>,
}

impl Webhook {
    fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
                if let Some(body) = read_request(&mut conn) {
                    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    sink.lock().unwrap().push(Delivery { at: Instant::now(), body: value });
                }
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Webhook { port, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request with a `Content-Length` body; returns the body.
fn read_request(conn: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut r = BufReader::new(conn);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(body)
}

/// Runs `amtool --alertmanager.url=URL ARGS…`; stdout, or a panic with stderr.
fn amtool(url: &str, args: &[&str]) -> String {
    let out =
        Command::new("amtool").arg(format!("--alertmanager.url={url}")).args(args).output().expect("running amtool");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "amtool {args:?} failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn rule_alerts_reach_a_real_alertmanager() {
    if !have_peer("prometheus-alertmanager") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(dir.path(), BLACKHOLE);
    let cfg = vitals_config(&format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{}']\n",
        am.port
    ));
    let v = start_vitals(dir.path(), &cfg, &rules(&alert_rule("AlwaysFiring", "vector(1)")));

    wait_until(30, "AlwaysFiring in Alertmanager's /api/v2/alerts", || {
        !v2_alerts(&am.url(), "AlwaysFiring").is_empty()
    });
    let alerts = v2_alerts(&am.url(), "AlwaysFiring");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["labels"], serde_json::json!({"alertname": "AlwaysFiring", "severity": "page"}));
    assert_eq!(a["annotations"]["summary"], "AlwaysFiring is firing");
    assert_eq!(a["status"]["state"], "active");
    assert_eq!(a["receivers"], serde_json::json!([{"name": "blackhole"}]));
    let gen = a["generatorURL"].as_str().unwrap();
    assert!(gen.starts_with(&format!("{}/graph?g0.expr=", v.url())), "{gen}");
    // Prometheus sends an end in the future while the alert fires (4 × max(resend delay, interval)).
    let ends = a["endsAt"].as_str().unwrap();
    assert!(ends > a["startsAt"].as_str().unwrap(), "{a}");
    // vitals' own notifier got the same alert, with the same fingerprint.
    wait_until(10, "AlwaysFiring in vitals' /api/v2/alerts", || !v2_alerts(&v.url(), "AlwaysFiring").is_empty());
    assert_eq!(v2_alerts(&v.url(), "AlwaysFiring")[0]["fingerprint"], a["fingerprint"]);
}

#[test]
fn amtool_queries_and_silences_vitals() {
    if !have_peer("amtool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = vitals_config(&notify_section(None));
    let v = start_vitals(dir.path(), &cfg, &rules(&alert_rule("AlwaysFiring", "vector(1)")));
    let url = v.url();

    // amtool shows active alerts only; an alert is active once its group has been flushed.
    wait_until(30, "amtool lists AlwaysFiring", || {
        json(&amtool(&url, &["alert", "query", "-o", "json"]))
            .as_array()
            .is_some_and(|l| l.iter().any(|a| a["labels"]["alertname"] == "AlwaysFiring"))
    });
    let listed = json(&amtool(&url, &["alert", "query", "-o", "json", "alertname=AlwaysFiring"]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["labels"]["severity"], "page");
    assert_eq!(listed[0]["receivers"][0]["name"], "hook");

    // A silence through amtool mutes the alert.
    let id = amtool(&url, &["silence", "add", "alertname=AlwaysFiring", "--comment=c", "--author=a", "--duration=1h"]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id:?}");
    let a = &v2_alerts(&url, "AlwaysFiring")[0];
    assert_eq!(a["status"]["state"], "suppressed", "{a}");
    assert_eq!(a["status"]["silencedBy"], serde_json::json!([id]));
    let active = json(&amtool(&url, &["alert", "query", "-o", "json"]));
    assert!(active.as_array().unwrap().iter().all(|a| a["labels"]["alertname"] != "AlwaysFiring"), "{active}");

    let silences = json(&amtool(&url, &["silence", "query", "-o", "json"]));
    let s = silences.as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).expect("the silence is listed");
    assert_eq!(s["status"]["state"], "active");
    assert_eq!(s["createdBy"], "a");
    assert_eq!(s["comment"], "c");
    assert_eq!(
        s["matchers"],
        serde_json::json!([{"isEqual": true, "isRegex": false, "name": "alertname", "value": "AlwaysFiring"}])
    );
    let quiet = amtool(&url, &["silence", "query", "-q"]);
    assert_eq!(quiet.trim(), id);

    amtool(&url, &["silence", "expire", &id]);
    let s = get_json(&format!("{url}/api/v2/silence/{id}"));
    assert_eq!(s["status"]["state"], "expired", "{s}");
    assert_eq!(v2_alerts(&url, "AlwaysFiring")[0]["status"]["state"], "active");
    assert!(amtool(&url, &["silence", "query", "-q"]).trim().is_empty());
    assert!(amtool(&url, &["silence", "query", "-q", "--expired"]).contains(&id));

    // amtool's own alerts go through POST /api/v2/alerts.
    amtool(&url, &["alert", "add", "alertname=Manual", "team=db", "--annotation=summary=by hand"]);
    let m = v2_alerts(&url, "Manual");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["labels"]["team"], "db");
    assert_eq!(m[0]["annotations"]["summary"], "by hand");

    // `amtool config show` prints the configuration from GET /api/v2/status.
    let shown = amtool(&url, &["config", "show"]);
    assert!(shown.contains("receiver: hook"), "{shown}");
}

#[test]
fn webhook_receives_firing_then_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Webhook::start();
    let cfg = vitals_config(&notify_section(Some(&hook.url())));
    let v = start_vitals(dir.path(), &cfg, &rules(&alert_rule("SwitchOn", "vitals_test_switch > 0")));
    let import = |value: u32| {
        let body = format!("vitals_test_switch{{env=\"test\"}} {value}\n");
        let (code, text) =
            http("POST", &format!("{}/api/v1/import/prometheus", v.url()), &[], body.as_bytes()).unwrap();
        assert!(code == 204 || code == 200, "import: {code} {text}");
    };

    import(1);
    wait_until(30, "a firing notification", || !hook.deliveries().is_empty());
    let first = hook.deliveries()[0].body.clone();
    assert_eq!(first["version"], "4", "{first}");
    assert_eq!(first["status"], "firing");
    assert_eq!(first["receiver"], "hook");
    assert_eq!(first["groupKey"], "{}:{alertname=\"SwitchOn\"}");
    assert_eq!(first["truncatedAlerts"], 0);
    assert_eq!(first["groupLabels"], serde_json::json!({"alertname": "SwitchOn"}));
    assert_eq!(first["commonLabels"], serde_json::json!({"alertname": "SwitchOn", "env": "test", "severity": "page"}));
    assert_eq!(first["commonAnnotations"]["summary"], "SwitchOn is firing");
    assert_eq!(first["externalURL"], v.url());
    let alerts = first["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["status"], "firing");
    assert_eq!(alerts[0]["labels"]["alertname"], "SwitchOn");
    assert_eq!(alerts[0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(alerts[0]["fingerprint"], v2_alerts(&v.url(), "SwitchOn")[0]["fingerprint"]);
    assert!(alerts[0]["generatorURL"].as_str().unwrap().contains("/graph?g0.expr="));

    import(0);
    wait_until(30, "a resolved notification", || hook.deliveries().iter().any(|d| d.body["status"] == "resolved"));
    let all = hook.deliveries();
    let resolved_delivery = all.iter().find(|d| d.body["status"] == "resolved").unwrap();
    assert!(resolved_delivery.at > all[0].at);
    let resolved = &resolved_delivery.body;
    assert_eq!(resolved["groupKey"], first["groupKey"]);
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(resolved["alerts"][0]["startsAt"], alerts[0]["startsAt"]);
    // Nothing else was sent: one firing and one resolved notification.
    assert_eq!(all.iter().filter(|d| d.body["status"] == "firing").count(), 1, "{all:?}");
}

#[test]
fn restart_keeps_a_firing_alert_firing_without_renotifying() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Webhook::start();
    let cfg = vitals_config(&notify_section(Some(&hook.url())));
    let mut v = start_vitals(dir.path(), &cfg, &rules(&alert_rule("AlwaysFiring", "vector(1)")));
    let port: u16 = v.addr.rsplit(':').next().unwrap().parse().unwrap();

    wait_until(30, "the first notification", || !hook.deliveries().is_empty());
    let nflog = dir.path().join("data/notify/nflog.json");
    wait_until(10, "the notification log on disk", || {
        std::fs::read_to_string(&nflog).is_ok_and(|t| t.contains("AlwaysFiring"))
    });
    let before = get_json(&format!("{}/api/v1/alerts", v.url()));
    let before = before["data"]["alerts"][0].clone();
    assert_eq!(before["state"], "firing", "{before}");
    v.kill9();

    let v = Vitals::start_on(dir.path(), Some(&cfg), &[], port);
    let after = get_json(&format!("{}/api/v1/alerts", v.url()));
    let after = &after["data"]["alerts"][0];
    assert_eq!(after["state"], "firing", "firing right after the restart: {after}");
    assert_eq!(after["activeAt"], before["activeAt"]);
    assert_eq!(after["labels"], before["labels"]);

    // The notifier lost its alerts with the process: the first evaluations must hand the restored
    // alert to it again (as Prometheus resends restored alerts at once, not after resend_delay).
    // Then its group is flushed several times (group_wait 1s, group_interval 2s) and the
    // notification log says the receiver already knows.
    wait_until(10, "the restored alert back in the notifier (sent on the first evaluations)", || {
        !v2_alerts(&v.url(), "AlwaysFiring").is_empty()
    });
    std::thread::sleep(Duration::from_secs(6));
    let all = hook.deliveries();
    assert_eq!(all.len(), 1, "no duplicate notification before repeat_interval: {all:?}");
    let again = get_json(&format!("{}/api/v1/alerts", v.url()));
    assert_eq!(again["data"]["alerts"][0]["activeAt"], before["activeAt"]);
}

/// The object keys of a JSON text in the order they are written.
fn keys_in_order(text: &str) -> Vec<String> {
    let (mut keys, mut cur, mut in_str, mut esc) = (Vec::new(), String::new(), false, false);
    let mut last_string = None;
    for c in text.chars() {
        if in_str {
            if esc {
                esc = false;
                cur.push(c);
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
                last_string = Some(std::mem::take(&mut cur));
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            ':' => keys.extend(last_string.take()),
            c if c.is_whitespace() => {}
            _ => last_string = None,
        }
    }
    keys
}

/// Replaces the values of `fields` (anywhere in `v`) by a placeholder.
fn blank(mut v: Value, fields: &[&str]) -> Value {
    fn walk(v: &mut Value, fields: &[&str]) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if fields.contains(&k.as_str()) {
                        *x = Value::String("…".into());
                    } else {
                        walk(x, fields);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, fields)),
            _ => {}
        }
    }
    walk(&mut v, fields);
    v
}

/// The same requests to a real Alertmanager 0.25 and to vitals (same routing configuration) get
/// the same answers: JSON values and key order, status codes, and error texts where they do not
/// come from Go's or Rust's JSON and regex libraries.
#[test]
fn v2_api_answers_like_alertmanager() {
    if !have_peer("prometheus-alertmanager") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(dir.path(), BLACKHOLE);
    let notify: String = BLACKHOLE.lines().map(|l| format!("  {l}\n")).collect();
    let v = start_vitals(dir.path(), &vitals_config(&format!("notify:\n{notify}")), "groups: []\n");
    let bases = [am.url(), v.url()];
    let call = |method: &str, path: &str, body: &str| -> [(u16, String); 2] {
        bases.clone().map(|b| {
            let hdr = [("Content-Type", "application/json")];
            http(method, &format!("{b}/api/v2{path}"), &hdr, body.as_bytes()).unwrap_or_else(|e| panic!("{b}: {e}"))
        })
    };
    let same = |what: &str, [a, b]: &[(u16, String); 2]| assert_eq!(a, b, "{what}: Alertmanager vs vitals");

    // Alerts with fixed times, so every field but updatedAt is deterministic.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let t = |secs: u64| {
        let out = Command::new("date").args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S.250Z"]).output();
        String::from_utf8(out.unwrap().stdout).unwrap().trim().to_string()
    };
    let alerts = format!(
        r#"[{{"labels":{{"alertname":"Disk","instance":"b","job":"node","empty":""}},"annotations":{{"summary":"full"}},
             "startsAt":"{s}","endsAt":"{e}","generatorURL":"http://prom/graph?g0.expr=x"}},
            {{"labels":{{"alertname":"Disk","instance":"a","job":"node"}},"startsAt":"{s}","endsAt":"{e}"}},
            {{"labels":{{"alertname":"Cpu","severity":"page"}},"startsAt":"{s}","endsAt":"{e}"}}]"#,
        s = t(now - 60),
        e = t(now + 3600)
    );
    same("POST /alerts", &call("POST", "/alerts", &alerts));
    // vitals reports an alert as active once its group has been flushed (group_wait 1s).
    wait_until(10, "vitals' alerts processed", || {
        let (_, body) = http_get(&format!("{}/api/v2/alerts", v.url())).unwrap();
        json(&body).as_array().is_some_and(|l| l.len() == 3 && l.iter().all(|a| a["status"]["state"] == "active"))
    });
    for query in [
        "",
        "?filter=alertname%3D%22Disk%22",
        "?filter=instance%3D~%22a%7Cc%22&filter=job%3Dnode",
        "?filter=severity%3D",
        "?filter=severity!%3D%22%22",
        "?receiver=black.*",
        "?receiver=other",
        "?active=false",
    ] {
        for path in ["/alerts", "/alerts/groups"] {
            let [(ca, a), (cv, b)] = call("GET", &format!("{path}{query}"), "");
            assert_eq!((ca, cv), (200, 200), "GET {path}{query}: {a} / {b}");
            assert_eq!(blank(json(&a), &["updatedAt"]), blank(json(&b), &["updatedAt"]), "GET {path}{query}");
            assert_eq!(keys_in_order(&a), keys_in_order(&b), "key order of GET {path}{query}");
        }
    }

    // Silences: created alike, listed alike, and they mute alike.
    let silence = format!(
        r#"{{"matchers":[{{"name":"alertname","value":"Disk","isRegex":false}},{{"name":"job","value":"no.*","isRegex":true,"isEqual":true}}],
             "startsAt":"{}","endsAt":"{}","createdBy":"me","comment":"maintenance"}}"#,
        t(now - 10),
        t(now + 7200)
    );
    let [(ca, a), (cv, b)] = call("POST", "/silences", &silence);
    assert_eq!((ca, cv), (200, 200), "{a} / {b}");
    let ids =
        [json(&a)["silenceID"].as_str().unwrap().to_string(), json(&b)["silenceID"].as_str().unwrap().to_string()];
    assert_eq!(keys_in_order(&a), keys_in_order(&b));
    let volatile = ["id", "updatedAt", "startsAt", "silencedBy"];
    let [(_, a), (_, b)] = call("GET", "/silences", "");
    assert_eq!(blank(json(&a), &volatile), blank(json(&b), &volatile), "GET /silences");
    assert_eq!(keys_in_order(&a), keys_in_order(&b));
    let [(_, a), (_, b)] = call("GET", "/alerts?filter=alertname%3DDisk", "");
    assert_eq!(blank(json(&a), &volatile), blank(json(&b), &volatile), "silenced alerts");
    assert_eq!(json(&b)[0]["status"]["state"], "suppressed");
    assert_eq!(json(&b)[0]["status"]["silencedBy"][0], ids[1].as_str());
    let [(_, a), (_, b)] = call("GET", "/alerts?silenced=false", "");
    assert_eq!(blank(json(&a), &volatile), blank(json(&b), &volatile), "without silenced alerts");
    for q in ["?filter=alertname%3DDisk", "?filter=job%3D~%22no.*%22", "?filter=job%3Dno.*", "?filter=other%3Dx"] {
        let [(_, a), (_, b)] = call("GET", &format!("/silences{q}"), "");
        assert_eq!(blank(json(&a), &volatile), blank(json(&b), &volatile), "GET /silences{q}");
    }
    let one =
        bases.clone().map(|b| http_get(&format!("{b}/api/v2/silence/{}", ids[(b != bases[0]) as usize])).unwrap());
    assert_eq!((one[0].0, one[1].0), (200, 200));
    assert_eq!(blank(json(&one[0].1), &volatile), blank(json(&one[1].1), &volatile), "GET /silence/{{id}}");
    let gone = bases
        .clone()
        .map(|b| http("DELETE", &format!("{b}/api/v2/silence/{}", ids[(b != bases[0]) as usize]), &[], b"").unwrap());
    same("DELETE /silence/{id}", &gone);
    let again = bases
        .clone()
        .map(|b| http("DELETE", &format!("{b}/api/v2/silence/{}", ids[(b != bases[0]) as usize]), &[], b"").unwrap());
    same("DELETE of an expired silence", &again);
    let [(_, a), (_, b)] = call("GET", "/silences", "");
    assert_eq!(json(&b)[0]["status"]["state"], "expired");
    assert_eq!(
        blank(json(&a), &["id", "updatedAt", "startsAt", "endsAt"]),
        blank(json(&b), &["id", "updatedAt", "startsAt", "endsAt"])
    );

    same("GET /receivers", &call("GET", "/receivers", ""));
    let [(ca, a), (cv, b)] = call("GET", "/status", "");
    assert_eq!((ca, cv), (200, 200));
    let (a, b) = (json(&a), json(&b));
    assert_eq!(a["cluster"], b["cluster"], "cluster status");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(keys(&a["versionInfo"]), keys(&b["versionInfo"]));
    assert!(b["config"]["original"].as_str().unwrap().contains("receiver: blackhole"), "{b}");

    // Refusals: status and text alike (texts from Go's or Rust's JSON/regex parsers: status only).
    let cases: &[(&str, &str, &str, bool)] = &[
        ("POST", "/alerts", r#"[{"labels":{}}]"#, true),
        ("POST", "/alerts", r#"[{"labels":{"a":""}}]"#, true),
        ("POST", "/alerts", r#"[{"labels":{"0bad":"x"}}]"#, true),
        ("POST", "/alerts", r#"[{"labels":{"a":"x"},"annotations":{"bad-name":"x"}}]"#, true),
        (
            "POST",
            "/alerts",
            r#"[{"labels":{"a":"x"},"startsAt":"2020-01-01T00:00:00Z","endsAt":"2019-01-01T00:00:00Z"}]"#,
            true,
        ),
        ("POST", "/alerts", r#"[{"labels":{"a":"x"}},{"labels":{}},{"labels":{"0b":"x"}}]"#, true),
        ("POST", "/alerts", r#"[{}]"#, true),
        ("POST", "/alerts", r#"[{"labels":{"a":"x"},"generatorURL":"not a url"}]"#, true),
        ("POST", "/alerts", "", true),
        ("POST", "/alerts", "notjson", false),
        ("POST", "/alerts", "{}", false),
        ("POST", "/alerts", r#"[{"labels":{"a":1}}]"#, false),
        ("POST", "/alerts", r#"[{"labels":{"a":"x"},"startsAt":"yesterday"}]"#, false),
        ("GET", "/alerts?filter=bad%20matcher", "", true),
        ("GET", "/alerts?filter=a%3D%22b", "", true),
        ("GET", "/alerts/groups?filter=x", "", true),
        ("GET", "/silences?filter=x", "", true),
        ("GET", "/alerts?receiver=(", "", false),
        ("GET", "/silence/notauuid", "", true),
        ("GET", "/silence/00000000-12df-4788-be46-5f7d00200178", "", true),
        ("POST", "/silences", "xx", false),
        ("POST", "/silences", "", true),
        (
            "POST",
            "/silences",
            r#"{"matchers":[],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"x"}"#,
            true,
        ),
        (
            "POST",
            "/silences",
            r#"{"matchers":[{"name":"a","value":"b"}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"x"}"#,
            true,
        ),
        (
            "POST",
            "/silences",
            r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"x"}"#,
            true,
        ),
        (
            "POST",
            "/silences",
            r#"{"matchers":[{"name":"a","value":"","isRegex":false}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"x"}"#,
            true,
        ),
        (
            "POST",
            "/silences",
            r#"{"matchers":[{"name":"0a","value":"b","isRegex":false}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"x"}"#,
            true,
        ),
        (
            "POST",
            "/silences",
            r#"{"matchers":[{"name":"a","value":"(","isRegex":true}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"x"}"#,
            false,
        ),
        (
            "POST",
            "/silences",
            r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2030-01-02T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","createdBy":"a","comment":"x"}"#,
            true,
        ),
        (
            "POST",
            "/silences",
            r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2020-01-02T00:00:00Z","createdBy":"a","comment":"x"}"#,
            true,
        ),
        (
            "POST",
            "/silences",
            r#"{"id":"00000000-12df-4788-be46-5f7d00200178","matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"x"}"#,
            true,
        ),
    ];
    for (method, path, body, same_text) in cases {
        let [(ca, a), (cv, b)] = call(method, path, body);
        let what = format!("{method} {path} {body}");
        assert_eq!(ca, cv, "status of {what}: Alertmanager {a} / vitals {b}");
        if *same_text {
            assert_eq!(a, b, "answer to {what}");
        } else {
            assert_eq!(json(&a).is_string(), json(&b).is_string(), "answer to {what}: {a} / {b}");
        }
    }
}
