//! Every prober against real servers on loopback.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vitals_probe::{parse_modules, probe, render_text, Module};

const T: Duration = Duration::from_secs(5);

fn module(yaml: &str) -> Module {
    let m = parse_modules(&format!("m:\n{}", indent(yaml))).unwrap();
    m["m"].clone()
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

#[tokio::test]
async fn http_healthy() {
    let base = common::http_server().await;
    let r = probe(&module("prober: http"), &format!("{base}/ok"), T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_http_status_code"), Some(200.0));
    assert_eq!(r.get("probe_http_content_length"), Some(27.0));
    assert_eq!(r.get("probe_http_uncompressed_body_length"), Some(27.0));
    assert_eq!(r.get("probe_http_version"), Some(1.1));
    assert_eq!(r.get("probe_http_ssl"), Some(0.0));
    assert_eq!(r.get("probe_ip_protocol"), Some(4.0));
    assert_eq!(r.get("probe_http_redirects"), Some(0.0));
    for phase in ["resolve", "connect", "tls", "processing", "transfer"] {
        assert!(r.get_with("probe_http_duration_seconds", "phase", phase).is_some(), "{phase}");
    }
    assert!(r.get_with("probe_http_duration_seconds", "phase", "connect").unwrap() > 0.0);
    assert!(r.get_with("probe_http_duration_seconds", "phase", "processing").unwrap() > 0.0);
    let mut text = String::new();
    render_text(&r, &mut text);
    assert!(text.contains("probe_success 1\n"), "{text}");
    assert!(text.contains("# HELP probe_http_status_code Response HTTP status code\n"), "{text}");
    // A target without scheme gets http://.
    let r = probe(&module("prober: http"), &format!("{}/ok", base.trim_start_matches("http://")), T).await;
    assert!(r.success, "{:?}", r.failure);
}

#[tokio::test]
async fn http_slow_times_out() {
    let base = common::http_server().await;
    let r = probe(&module("prober: http\ntimeout: 500ms"), &format!("{base}/slow"), T).await;
    assert!(!r.success);
    assert!(r.failure.as_deref().unwrap().contains("timed out"), "{:?}", r.failure);
    let d = r.duration.as_secs_f64();
    assert!((0.5..1.5).contains(&d), "{d}");
    // Phases that ended before the timeout are still reported.
    assert!(r.get_with("probe_http_duration_seconds", "phase", "connect").unwrap() > 0.0);
    assert_eq!(r.get("probe_http_status_code"), Some(0.0));
    // The caller's timeout bounds the module's.
    let r = probe(&module("prober: http\ntimeout: 10s"), &format!("{base}/slow"), Duration::from_millis(300)).await;
    assert!(!r.success && r.duration < Duration::from_secs(1));
}

#[tokio::test]
async fn http_failing_status() {
    let base = common::http_server().await;
    let r = probe(&module("prober: http"), &format!("{base}/fail"), T).await;
    assert!(!r.success);
    assert_eq!(r.get("probe_http_status_code"), Some(500.0));
    assert!(r.failure.unwrap().contains("500"));
    let r = probe(&module("prober: http\nhttp:\n  valid_status_codes: [500]"), &format!("{base}/fail"), T).await;
    assert!(r.success, "{:?}", r.failure);
    // Nothing listening.
    let r = probe(&module("prober: http"), "http://127.0.0.1:1/", T).await;
    assert!(!r.success && r.failure.unwrap().contains("connecting"));
}

#[tokio::test]
async fn http_body_and_header_regexps() {
    let base = common::http_server().await;
    let m = module("prober: http\nhttp:\n  fail_if_body_not_matches_regexp: ['systems go']");
    let r = probe(&m, &format!("{base}/ok"), T).await;
    assert!(r.success);
    assert_eq!(r.get("probe_failed_due_to_regex"), Some(0.0));
    let m = module("prober: http\nhttp:\n  fail_if_body_not_matches_regexp: ['everything is on fire']");
    let r = probe(&m, &format!("{base}/ok"), T).await;
    assert!(!r.success);
    assert_eq!(r.get("probe_failed_due_to_regex"), Some(1.0));
    let m = module("prober: http\nhttp:\n  fail_if_body_matches_regexp: ['hello']");
    assert_eq!(probe(&m, &format!("{base}/ok"), T).await.get("probe_failed_due_to_regex"), Some(1.0));
    let m = module(
        "prober: http\nhttp:\n  fail_if_header_not_matches:\n    - header: Content-Type\n      regexp: 'text/plain'",
    );
    assert!(probe(&m, &format!("{base}/ok"), T).await.success);
    let m = module("prober: http\nhttp:\n  fail_if_header_matches:\n    - header: X-Missing\n      regexp: '.*'");
    let r = probe(&m, &format!("{base}/ok"), T).await;
    assert!(!r.success && r.failure.unwrap().contains("missing"));
}

#[tokio::test]
async fn http_redirects() {
    let base = common::http_server().await;
    let r = probe(&module("prober: http"), &format!("{base}/redirect"), T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_http_redirects"), Some(1.0));
    assert_eq!(r.get("probe_http_status_code"), Some(200.0));
    let r = probe(&module("prober: http"), &format!("{base}/redirect3"), T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_http_redirects"), Some(3.0));
    // Not followed: the 302 itself is judged (and counted, as Go's client does).
    let r = probe(&module("prober: http\nhttp:\n  follow_redirects: false"), &format!("{base}/redirect"), T).await;
    assert!(!r.success);
    assert_eq!(r.get("probe_http_status_code"), Some(302.0));
    assert_eq!(r.get("probe_http_redirects"), Some(1.0));
    let m = module("prober: http\nhttp:\n  no_follow_redirects: true\n  valid_status_codes: [302]");
    assert!(probe(&m, &format!("{base}/redirect"), T).await.success);
    // A loop stops after 10.
    let r = probe(&module("prober: http"), &format!("{base}/loop"), T).await;
    assert!(!r.success);
    assert_eq!(r.get("probe_http_redirects"), Some(11.0));
}

#[tokio::test]
async fn http_compression_and_last_modified() {
    let base = common::http_server().await;
    let r = probe(&module("prober: http\nhttp:\n  compression: gzip"), &format!("{base}/gzip"), T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_http_uncompressed_body_length"), Some(1700.0));
    assert!(r.get("probe_http_content_length").unwrap() < 1700.0);
    let r = probe(&module("prober: http"), &format!("{base}/lastmod"), T).await;
    assert_eq!(r.get("probe_http_last_modified_timestamp_seconds"), Some(1445412480.0));
    let r = probe(&module("prober: http"), &format!("{base}/ok"), T).await;
    assert_eq!(r.get("probe_http_last_modified_timestamp_seconds"), None);
}

#[tokio::test]
async fn https_self_signed_and_expiry() {
    let not_after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + 3 * 86400;
    let cert = common::self_signed(not_after);
    let addr = common::tls_http_server(&cert).await;
    let url = format!("https://127.0.0.1:{}/", addr.port());
    let r = probe(&module("prober: http"), &url, T).await;
    assert!(!r.success);
    assert!(r.failure.as_deref().unwrap().contains("tls"), "{:?}", r.failure);

    let r = probe(&module("prober: http\nhttp:\n  tls_config:\n    insecure_skip_verify: true"), &url, T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_http_ssl"), Some(1.0));
    assert_eq!(r.get("probe_ssl_earliest_cert_expiry"), Some(not_after as f64));
    assert!(r.get_with("probe_tls_version_info", "version", "TLS 1.3").is_some());
    assert!(r.get_with("probe_http_duration_seconds", "phase", "tls").unwrap() > 0.0);

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert.cert_pem).unwrap();
    let m = module(&format!("prober: http\nhttp:\n  tls_config:\n    ca_file: {}", ca.display()));
    let r = probe(&m, &url, T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_ssl_last_chain_expiry_timestamp_seconds"), Some(not_after as f64));
    let info = r.metrics.iter().find(|m| m.name == "probe_ssl_last_chain_info").unwrap();
    let label = |k: &str| info.labels.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    assert_eq!(label("subject"), "CN=vitals test,O=vitals");
    assert_eq!(label("subjectalternative"), "localhost");
    assert_eq!(label("fingerprint_sha256").len(), 64);
    // fail_if_ssl
    let m = module(&format!("prober: http\nhttp:\n  fail_if_ssl: true\n  tls_config:\n    ca_file: {}", ca.display()));
    assert!(!probe(&m, &url, T).await.success);

    // The tls prober (certificate check) and tcp with tls: true.
    let target = format!("localhost:{}", addr.port());
    let m = module(&format!(
        "prober: tls\ntcp:\n  preferred_ip_protocol: ip4\n  tls_config:\n    ca_file: {}",
        ca.display()
    ));
    let r = probe(&m, &target, T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_ssl_earliest_cert_expiry"), Some(not_after as f64));
    let r = probe(&module("prober: tls"), &target, T).await;
    assert!(!r.success, "untrusted certificate must fail");
}

#[tokio::test]
async fn tcp_send_expect() {
    let addr = common::line_server().await;
    let m = module(
        "prober: tcp\ntcp:\n  query_response:\n    - expect: '^220 (\\w+)'\n    - send: 'PING ${1}'\n    - expect: '^PONG ready$'\n    - send: QUIT\n    - expect: '^221'",
    );
    let r = probe(&m, &addr.to_string(), T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_failed_due_to_regex"), Some(0.0));
    let m = module("prober: tcp\ntcp:\n  query_response:\n    - send: QUIT\n    - expect: '^250'");
    let r = probe(&m, &addr.to_string(), T).await;
    assert!(!r.success);
    assert_eq!(r.get("probe_failed_due_to_regex"), Some(1.0));
    // Plain connect check, and a closed port.
    assert!(probe(&module("prober: tcp"), &addr.to_string(), T).await.success);
    assert!(!probe(&module("prober: tcp"), "127.0.0.1:1", T).await.success);
    assert!(!probe(&module("prober: tcp"), "127.0.0.1", T).await.success);
}

#[tokio::test]
async fn dns_queries() {
    let addr = common::dns_server().await;
    let target = addr.to_string();
    let m = module("prober: dns\ndns:\n  query_name: www.example.test\n  query_type: A");
    let r = probe(&m, &target, T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_dns_answer_rrs"), Some(1.0));
    assert_eq!(r.get("probe_dns_query_succeeded"), Some(1.0));
    assert!(r.get_with("probe_dns_duration_seconds", "phase", "request").unwrap() > 0.0);

    let m = module(
        "prober: dns\ndns:\n  query_name: www.example.test\n  query_type: A\n  validate_answer_rrs:\n    fail_if_not_matches_regexp: ['www.example.test.\\t300\\tIN\\tA\\t192.0.2.10']",
    );
    assert!(probe(&m, &target, T).await.success);
    let m = module(
        "prober: dns\ndns:\n  query_name: multi.example.test\n  query_type: A\n  validate_answer_rrs:\n    fail_if_all_match_regexp: ['192\\.0\\.2\\.']",
    );
    let r = probe(&m, &target, T).await;
    assert!(!r.success);
    assert_eq!(r.get("probe_dns_answer_rrs"), Some(2.0));

    // Absent name: NXDOMAIN, with the SOA in the authority section.
    let m = module("prober: dns\ndns:\n  query_name: nope.example.test\n  query_type: A");
    let r = probe(&m, &target, T).await;
    assert!(!r.success && r.failure.as_deref().unwrap().contains("NXDOMAIN"), "{:?}", r.failure);
    assert_eq!(r.get("probe_dns_answer_rrs"), Some(0.0));
    assert_eq!(r.get("probe_dns_authority_rrs"), Some(1.0));
    let m = module("prober: dns\ndns:\n  query_name: nope.example.test\n  query_type: A\n  valid_rcodes: [NXDOMAIN]");
    assert!(probe(&m, &target, T).await.success);

    // Over TCP.
    let m = module("prober: dns\ndns:\n  query_name: www.example.test\n  query_type: A\n  transport_protocol: tcp");
    let r = probe(&m, &target, T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_dns_answer_rrs"), Some(1.0));
}

#[tokio::test]
async fn journey_login_then_me() {
    let base = common::http_server().await;
    let yaml = r#"prober: journey
journey:
  steps:
    - name: login
      method: POST
      url: "{{ target }}/login"
      body: '{"user":"alice"}'
      expect: {status: [200], max_latency: 500ms, json: {path: "$.user.roles[0]", equals: "admin"}}
      extract: {token: "$.token"}
    - name: me
      url: "{{ target }}/me"
      headers: {Authorization: "Bearer {{ token }}"}
      expect: {status: [200], body_regexp: "alice", max_latency: 500ms}
"#;
    let r = probe(&module(yaml), &base, T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get_with("probe_journey_step_success", "step", "me"), Some(1.0));
    assert_eq!(r.get_with("probe_journey_step_status_code", "step", "login"), Some(200.0));

    // Wrong credentials: the login step fails and the journey stops there.
    let bad = yaml.replace("alice\"}'", "mallory\"}'");
    let r = probe(&module(&bad), &base, T).await;
    assert!(!r.success);
    assert!(r.failure.as_deref().unwrap().contains("\"login\""), "{:?}", r.failure);
    assert_eq!(r.get_with("probe_journey_step_success", "step", "me"), None);

    // A latency budget that cannot be met.
    let slow = r#"prober: journey
journey:
  steps:
    - name: slow
      url: "{{ target }}/slow"
      expect: {max_latency: 100ms}
"#;
    let r = probe(&module(slow), &base, T).await;
    assert!(!r.success && r.failure.as_deref().unwrap().contains("max_latency"), "{:?}", r.failure);
}

/// Serves one canned response per connection, after reading the request head.
async fn raw_server(response: &'static [u8]) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut rd = BufReader::new(sock);
                let mut line = String::new();
                while rd.read_line(&mut line).await.unwrap_or(0) > 0 && line != "\r\n" {
                    line.clear();
                }
                let _ = rd.get_mut().write_all(response).await;
                let _ = rd.get_mut().shutdown().await;
            });
        }
    });
    format!("http://{addr}/")
}

#[tokio::test]
async fn http_chunked_and_close_delimited_bodies() {
    let url =
        raw_server(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
            .await;
    let m = module("prober: http\nhttp:\n  fail_if_body_not_matches_regexp: ['hello, world']");
    let r = probe(&m, &url, T).await;
    assert!(r.success, "{:?}", r.failure);
    assert_eq!(r.get("probe_http_content_length"), Some(-1.0));
    assert_eq!(r.get("probe_http_uncompressed_body_length"), Some(12.0));
    let url = raw_server(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end").await;
    let r = probe(&module("prober: http\nhttp:\n  valid_http_versions: [HTTP/1.1]"), &url, T).await;
    assert!(!r.success && r.failure.as_deref().unwrap().contains("version"), "{:?}", r.failure);
    assert_eq!(r.get("probe_http_version"), Some(1.0));
    assert_eq!(r.get("probe_http_uncompressed_body_length"), Some(13.0));
    let url = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort").await;
    let r = probe(&module("prober: http"), &url, T).await;
    assert!(!r.success && r.failure.as_deref().unwrap().contains("body ended"), "{:?}", r.failure);
}
