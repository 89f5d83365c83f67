//! Compares our `/probe`-style output with the real blackbox_exporter (Debian's
//! `prometheus-blackbox-exporter`) probing the same local servers with the same modules: metric
//! names and label names must be the same (values differ in timing).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vitals_probe::{parse_blackbox_file, probe, render_text};

const BIN: &str = "prometheus-blackbox-exporter";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// metric name → sorted label names, from text exposition.
fn shape(text: &str) -> BTreeMap<String, BTreeSet<Vec<String>>> {
    let mut out: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = line[..name_end].to_string();
        let mut labels = Vec::new();
        if line[name_end..].starts_with('{') {
            let mut rest = &line[name_end + 1..];
            while let Some(eq) = rest.find('=') {
                labels.push(rest[..eq].trim_start_matches(',').to_string());
                // Skip the quoted value.
                let bytes = rest.as_bytes();
                let mut i = eq + 2;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                rest = &rest[i + 1..];
                if rest.starts_with('}') {
                    break;
                }
            }
        }
        labels.sort();
        out.entry(name).or_default().insert(labels);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_names_as_blackbox_exporter() {
    if !common::have_peer(BIN) {
        return;
    }
    let base = common::http_server().await;
    let not_after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + 3 * 86400;
    let cert = common::self_signed(not_after);
    let tls = common::tls_http_server(&cert).await;
    let line = common::line_server().await;
    let dns = common::dns_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert.cert_pem).unwrap();
    let config = format!(
        r#"modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
  http_regex:
    prober: http
    timeout: 5s
    http:
      fail_if_body_not_matches_regexp: ["nowhere to be found"]
  http_redirect:
    prober: http
    http:
      valid_status_codes: [200]
  https:
    prober: http
    http:
      tls_config:
        ca_file: {ca}
  tcp_dialogue:
    prober: tcp
    tcp:
      query_response:
        - expect: "^220"
        - send: "PING x"
        - expect: "^PONG x"
  tls_tcp:
    prober: tcp
    tcp:
      tls: true
      tls_config:
        insecure_skip_verify: true
  dns_a:
    prober: dns
    dns:
      query_name: www.example.test
      query_type: A
      transport_protocol: udp
      preferred_ip_protocol: ip4
"#,
        ca = ca.display()
    );
    let cfg_path = dir.path().join("blackbox.yml");
    std::fs::write(&cfg_path, &config).unwrap();
    let modules = parse_blackbox_file(&config).unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("blackbox.log")).unwrap();
    let child = Command::new(BIN)
        .arg(format!("--config.file={}", cfg_path.display()))
        .arg(format!("--web.listen-address={listen}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let _guard = Killed(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(&listen).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "blackbox_exporter did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let cases = [
        ("http_2xx", format!("{base}/ok")),
        ("http_regex", format!("{base}/ok")),
        ("http_redirect", format!("{base}/redirect")),
        ("http_2xx", format!("{base}/lastmod")),
        ("https", format!("https://localhost:{}/", tls.port())),
        ("tcp_dialogue", line.to_string()),
        ("tls_tcp", format!("127.0.0.1:{}", tls.port())),
        ("dns_a", dns.to_string()),
    ];
    for (module, target) in cases {
        let theirs = common::http_get(&listen, &format!("/probe?module={module}&target={target}")).await;
        let ours_result = probe(&modules[module], &target, Duration::from_secs(5)).await;
        let mut ours = String::new();
        render_text(&ours_result, &mut ours);
        assert_eq!(
            shape(&ours),
            shape(&theirs),
            "module {module} target {target}\n--- ours:\n{ours}\n--- blackbox_exporter:\n{theirs}"
        );
        let success = |t: &str| t.lines().find(|l| l.starts_with("probe_success ")).map(str::to_string);
        assert_eq!(success(&ours), success(&theirs), "module {module}: {:?}\n{theirs}", ours_result.failure);
    }
}
