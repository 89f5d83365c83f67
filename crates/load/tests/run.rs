//! End-to-end runs of the load generator against real local HTTP/1.1 servers started in each test.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use vitals_load::{run, LoadConfig, Model, Scenario, Summary, Threshold};

/// How the test server answers.
#[derive(Clone, Copy)]
enum Behavior {
    /// 200 at once.
    Fast,
    /// 200 after a sleep.
    Sleep(Duration),
    /// This status at once.
    Status(u16),
    /// 200 at once, except that request number `at` starts a stall of `len` during which every
    /// request (including those already waiting) is held.
    StallOnce { at: u64, len: Duration },
    /// 200 with a chunked body.
    Chunked,
    /// 200 with `Connection: close`, then closes.
    CloseEach,
    /// By path: `/slow` answers "ok" after 30 ms, `/missing` 404, `/echo` 200 with the request body,
    /// anything else 200 "ok".
    Routes,
}

/// Starts a server on 127.0.0.1 and returns its base URL.
async fn server(behavior: Behavior) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new((AtomicU64::new(0), Mutex::new(None::<Instant>)));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_conn(stream, behavior, state.clone()));
        }
    });
    format!("http://{addr}/path?x=1")
}

async fn serve_conn(stream: TcpStream, behavior: Behavior, state: Arc<(AtomicU64, Mutex<Option<Instant>>)>) {
    let mut stream = BufReader::new(stream);
    loop {
        // Request head, then body by Content-Length.
        let mut len = 0usize;
        let mut line = String::new();
        let mut request_line = String::new();
        loop {
            line.clear();
            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if line.trim().is_empty() {
                break;
            }
            if request_line.is_empty() {
                request_line = line.clone();
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; len];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let n = state.0.fetch_add(1, Ordering::SeqCst);
        if let Behavior::Routes = behavior {
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = match path {
                "/slow" => {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    ("200 OK", b"ok".to_vec())
                }
                "/missing" => ("404 Not Found", b"no".to_vec()),
                "/echo" => ("200 OK", body),
                _ => ("200 OK", b"ok".to_vec()),
            };
            let mut response = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            response.extend_from_slice(&body);
            if stream.get_mut().write_all(&response).await.is_err() {
                return;
            }
            continue;
        }
        let response: &[u8] = match behavior {
            Behavior::Fast => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            Behavior::Sleep(d) => {
                tokio::time::sleep(d).await;
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            }
            Behavior::Status(500) => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail",
            Behavior::Status(_) => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            Behavior::StallOnce { at, len } => {
                let until = {
                    let mut until = state.1.lock().unwrap();
                    if n == at {
                        *until = Some(Instant::now() + len);
                    }
                    *until
                };
                if let Some(until) = until {
                    tokio::time::sleep_until(until).await;
                }
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            }
            Behavior::Chunked => {
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
            }
            Behavior::CloseEach => b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            Behavior::Routes => unreachable!("answered above"),
        };
        if stream.get_mut().write_all(response).await.is_err() {
            return;
        }
        if matches!(behavior, Behavior::CloseEach) {
            return;
        }
    }
}

fn config(url: &str, model: Model, duration: Duration) -> LoadConfig {
    let mut cfg = LoadConfig::new(url).unwrap().with_model(model);
    cfg.duration = duration;
    cfg
}

async fn closed(url: &str, vus: u32, duration: Duration) -> Summary {
    run(config(url, Model::Closed { vus }, duration), None).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_server_has_no_errors_and_small_latency() {
    let url = server(Behavior::Fast).await;
    let mut cfg = config(&url, Model::Closed { vus: 4 }, Duration::from_millis(800));
    cfg.thresholds = vec![Threshold::parse("p99<100ms").unwrap(), Threshold::parse("errors<0.01").unwrap()];
    let s = run(cfg, None).await.unwrap();
    assert!(s.requests > 100, "{}", s.to_text());
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert_eq!(s.status_codes.get(&200), Some(&s.requests));
    assert!(s.latency.p99 < 100.0, "{}", s.to_text());
    assert_eq!(s.bytes_received, s.requests * 40, "38-byte head + 2-byte body");
    assert!(s.passed(), "{}", s.to_text());
    assert!((s.duration.as_secs_f64() - 0.8).abs() < 0.1, "{:?}", s.duration);
    assert!(!s.cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeping_server_shows_its_latency() {
    let url = server(Behavior::Sleep(Duration::from_millis(50))).await;
    let s = closed(&url, 4, Duration::from_millis(1200)).await;
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert!(s.requests >= 60, "{}", s.to_text());
    assert!((49.0..58.0).contains(&s.latency.p50), "{}", s.to_text());
    assert!(s.latency.min >= 49.0, "{}", s.to_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_errors_are_classified_and_break_thresholds() {
    let url = server(Behavior::Status(500)).await;
    let mut cfg = config(&url, Model::Closed { vus: 2 }, Duration::from_millis(400));
    cfg.thresholds = vec![Threshold::parse("errors<0.01").unwrap(), Threshold::parse("p99<1s").unwrap()];
    let s = run(cfg, None).await.unwrap();
    assert!(s.requests > 0);
    assert_eq!(s.errors.status, s.requests, "{}", s.to_text());
    assert_eq!(s.errors.connect + s.errors.timeout + s.errors.other, 0);
    assert!(!s.passed());
    assert_eq!((s.thresholds[0].ok, s.thresholds[0].actual), (false, Some(1.0)));
    assert!(s.thresholds[1].ok, "latency of error responses is still recorded");
    let json = s.to_json();
    assert_eq!(json["errors"]["status"], s.requests);
    assert_eq!(json["status_codes"]["500"], s.requests);
    assert_eq!(json["passed"], false);
    assert!(s.to_text().contains("FAIL errors<0.01"), "{}", s.to_text());
}

/// The coordinated-omission demonstration: one 1 s stall of the server. At a fixed arrival rate every
/// request scheduled during the stall is late, so p99 is hundreds of ms; a single closed-loop VU simply
/// stops sending during the stall and records one slow request, so its p99 stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_shows_in_open_model_but_hides_in_closed_model() {
    let stall = Behavior::StallOnce { at: 100, len: Duration::from_secs(1) };
    let (open_url, closed_url) = (server(stall).await, server(stall).await);
    let open_cfg = config(&open_url, Model::Open { rate_per_sec: 200.0 }, Duration::from_secs(3));
    let (open, closed) = tokio::join!(run(open_cfg, None), closed(&closed_url, 1, Duration::from_secs(3)));
    let open = open.unwrap();
    eprintln!("open model, 200/s:\n{}\nclosed model, 1 VU:\n{}", open.to_text(), closed.to_text());

    assert_eq!(open.errors.total(), 0, "{}", open.to_text());
    assert_eq!(open.dropped_iterations, 0);
    assert!((560..=600).contains(&open.requests), "{}", open.to_text());
    assert!(open.latency.p99 > 500.0, "open p99 must show the stall: {}", open.to_text());
    assert!(open.latency.p90 > 200.0, "~a third of requests were delayed: {}", open.to_text());
    assert!(open.latency.max >= 950.0, "{}", open.to_text());

    assert_eq!(closed.errors.total(), 0, "{}", closed.to_text());
    assert!(closed.requests > 200, "{}", closed.to_text());
    assert!(closed.latency.p99 < 50.0, "closed p99 hides the stall: {}", closed.to_text());
    assert!(closed.latency.max >= 950.0, "the one slow request: {}", closed.to_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_keeps_its_rate_and_drops_beyond_the_backlog() {
    let url = server(Behavior::Fast).await;
    let s = run(config(&url, Model::Open { rate_per_sec: 100.0 }, Duration::from_secs(1)), None).await.unwrap();
    assert!((95..=100).contains(&s.requests), "{}", s.to_text());
    assert_eq!((s.errors.total(), s.dropped_iterations), (0, 0), "{}", s.to_text());

    // One connection, a server that takes 2 s, a backlog of 100 ms (20 requests at 200/s).
    let url = server(Behavior::Sleep(Duration::from_secs(2))).await;
    let mut cfg = config(&url, Model::Open { rate_per_sec: 200.0 }, Duration::from_secs(1));
    cfg.connections = 1;
    cfg.backlog = Duration::from_millis(100);
    cfg.thresholds = vec![Threshold::parse("dropped<=0").unwrap()];
    let s = run(cfg, None).await.unwrap();
    assert!((170..=181).contains(&s.dropped_iterations), "{}", s.to_text());
    assert_eq!(s.requests, 0, "the only request in flight is abandoned at the end");
    assert!(!s.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_run_early_with_a_summary() {
    let url = server(Behavior::Sleep(Duration::from_millis(10))).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let handle = tokio::spawn(run(config(&url, Model::Open { rate_per_sec: 50.0 }, Duration::from_secs(30)), Some(rx)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    tx.send(true).unwrap();
    let s = handle.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(s.cancelled);
    assert!(s.duration < Duration::from_secs(1), "{:?}", s.duration);
    assert!((20..=26).contains(&s.requests), "{}", s.to_text());
    assert!(s.to_text().contains("(cancelled)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_timeout_errors_are_classified() {
    let addr: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let s = closed(&format!("http://{addr}/"), 1, Duration::from_millis(200)).await;
    assert!(s.errors.connect > 0 && s.errors.connect == s.requests, "{}", s.to_text());
    assert_eq!(s.latency.count, 0);

    let url = server(Behavior::Sleep(Duration::from_millis(500))).await;
    let mut cfg = config(&url, Model::Closed { vus: 2 }, Duration::from_millis(700));
    cfg.timeout = Duration::from_millis(100);
    cfg.thresholds = vec![Threshold::parse("p50<1s").unwrap()];
    let s = run(cfg, None).await.unwrap();
    assert!(s.errors.timeout >= 10 && s.errors.timeout == s.requests, "{}", s.to_text());
    assert_eq!((s.thresholds[0].ok, s.thresholds[0].actual), (false, None), "no data fails a latency threshold");
    assert_eq!(s.to_json()["thresholds"][0]["actual"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_and_closed_connections_are_read() {
    let s = closed(&server(Behavior::Chunked).await, 2, Duration::from_millis(300)).await;
    assert!(s.requests > 10 && s.errors.total() == 0, "{}", s.to_text());
    let s = closed(&server(Behavior::CloseEach).await, 2, Duration::from_millis(300)).await;
    assert!(s.requests > 10 && s.errors.total() == 0, "{}", s.to_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_bodies_are_sent() {
    let url = server(Behavior::Fast).await;
    let mut cfg = config(&url, Model::Closed { vus: 1 }, Duration::from_millis(200));
    cfg.method = "POST".into();
    cfg.headers = vec![("Content-Type".into(), "application/json".into())];
    cfg.body = br#"{"a":1}"#.to_vec();
    let s = run(cfg, None).await.unwrap();
    assert!(s.requests > 10 && s.errors.total() == 0, "{}", s.to_text());
}

#[tokio::test]
async fn invalid_configs_are_refused() {
    let cfg = LoadConfig::new("http://127.0.0.1:1/").unwrap().with_model(Model::Closed { vus: 0 });
    assert!(run(cfg, None).await.unwrap_err().to_string().contains("vus must be at least 1"));
    let e = LoadConfig::new("https://example.com/").unwrap_err();
    assert!(e.to_string().contains("only http:// is supported"), "{e}");
}

#[test]
fn summary_json_follows_the_documented_schema() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(async {
        let url = server(Behavior::Fast).await;
        closed(&url, 1, Duration::from_millis(100)).await
    });
    let j = s.to_json();
    assert_eq!(j["schema"], "vitals.load.summary/v1");
    assert_eq!(j["model"]["type"], "closed");
    for key in ["count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"] {
        assert!(j["latency_ms"][key].is_number(), "{key}");
    }
    assert_eq!(j["requests_by_name"], serde_json::json!({}), "empty for a single-URL run");
    for key in ["total", "rate", "connect", "timeout", "status", "check", "other"] {
        assert!(j["errors"][key].is_number(), "{key}");
    }
    for key in ["duration_seconds", "requests", "rps", "dropped_iterations", "bytes_received"] {
        assert!(j[key].is_number(), "{key}");
    }
    assert!(j["thresholds"].is_array() && j["passed"].is_boolean() && j["cancelled"].is_boolean());
}

/// A scenario mixing five weighted requests: weights are honoured, failing checks are `check` errors,
/// an expected 404 is no error, and latency is reported per request name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_mixes_requests_by_weight_with_checks_and_per_name_latency() {
    let url = server(Behavior::Routes).await;
    let base = url.trim_end_matches("/path?x=1");
    let yaml = format!(
        r#"
duration: 800ms
vus: 2
thresholds: ["errors<1%"]
requests:
  - name: fast
    url: {base}/fast
    weight: 4
    checks: {{ status: [200], body_contains: ok, max_latency: 1s }}
  - name: wrong-body
    url: {base}/fast
    checks: {{ body_contains: nope }}
  - name: missing
    url: {base}/missing
    checks: {{ status: [404] }}
  - name: slow
    url: {base}/slow
    checks: {{ max_latency: 5ms }}
  - name: echo
    method: POST
    url: {base}/echo
    body: {{ a: 1, tags: [x] }}
    checks: {{ body_contains: '"a":1' }}
"#
    );
    let cfg = Scenario::parse(&yaml, "mix.yaml").unwrap().into_config();
    let s = run(cfg, None).await.unwrap();
    let by = &s.requests_by_name;
    let names: Vec<&str> = by.keys().map(String::as_str).collect();
    assert_eq!(names, ["echo", "fast", "missing", "slow", "wrong-body"], "{}", s.to_text());
    let (fast, wrong, missing, slow, echo) = (&by["fast"], &by["wrong-body"], &by["missing"], &by["slow"], &by["echo"]);
    assert!(slow.requests >= 5, "{}", s.to_text());
    // Weighted round robin: 4 of every 8 picks are `fast`; at most a couple abandoned at the end.
    assert!(fast.requests + 8 >= 4 * wrong.requests && fast.requests <= 4 * wrong.requests + 8, "{}", s.to_text());
    assert_eq!(s.requests, by.values().map(|r| r.requests).sum::<u64>());
    assert_eq!((fast.errors, missing.errors, echo.errors), (0, 0, 0), "{}", s.to_text());
    assert_eq!((wrong.errors, slow.errors), (wrong.requests, slow.requests), "{}", s.to_text());
    assert_eq!(s.errors.check, wrong.requests + slow.requests, "{}", s.to_text());
    assert_eq!((s.errors.status, s.errors.total()), (0, s.errors.check), "an expected 404 is not an error");
    assert_eq!(s.status_codes.get(&404), Some(&missing.requests));
    assert!(slow.latency.p50 >= 29.0 && fast.latency.p50 < 20.0, "{}", s.to_text());
    assert!(!s.passed());
    assert!(s.to_text().contains("check "), "{}", s.to_text());

    let j = s.to_json();
    assert_eq!(j["errors"]["check"], s.errors.check);
    assert_eq!(j["requests_by_name"]["slow"]["requests"], slow.requests);
    assert_eq!(j["requests_by_name"]["slow"]["errors"], slow.errors);
    for key in ["count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"] {
        assert!(j["requests_by_name"]["fast"]["latency_ms"][key].is_number(), "{key}");
    }
    let junit = s.to_junit("mix");
    assert!(junit.contains(r#"tests="2" failures="2""#), "{junit}");
}
