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

/// One request as the test servers see it.
struct Request {
    /// The request line, e.g. `GET /path HTTP/1.1`.
    line: String,
    /// Header names (lower case) and values.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }
}

/// Reads the next request (head, then a Content-Length body); `None` when the client is gone.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut BufReader<S>) -> Option<Request> {
    let mut line = String::new();
    let mut req = Request { line: String::new(), headers: Vec::new(), body: Vec::new() };
    loop {
        line.clear();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return None;
        }
        if line.trim().is_empty() {
            break;
        }
        if req.line.is_empty() {
            req.line = line.trim_end().to_string();
        } else if let Some((k, v)) = line.split_once(':') {
            req.headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = req.header("content-length").parse().unwrap_or(0);
    req.body = vec![0; len];
    stream.read_exact(&mut req.body).await.ok()?;
    Some(req)
}

async fn serve_conn(stream: TcpStream, behavior: Behavior, state: Arc<(AtomicU64, Mutex<Option<Instant>>)>) {
    let mut stream = BufReader::new(stream);
    loop {
        let Some(Request { line: request_line, body, .. }) = read_request(&mut stream).await else { return };
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
    let e = LoadConfig::new("ftp://example.com/").unwrap_err();
    assert!(e.to_string().contains("only http:// and https:// are supported"), "{e}");
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

/// Every second of a run is in the timeline, the seconds add up to the totals, a server that sleeps
/// 20 ms shows it in every second's percentiles, and the connect and TTFB phases are measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_covers_every_second_and_adds_up() {
    let url = server(Behavior::Sleep(Duration::from_millis(20))).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = config(&url, Model::Open { rate_per_sec: 100.0 }, Duration::from_millis(3500));
    let s = vitals_load::run_with(cfg, vitals_load::RunHooks { cancel: None, seconds: Some(tx) }).await.unwrap();
    let mut live = Vec::new();
    while let Ok(sec) = rx.try_recv() {
        live.push(sec);
    }
    assert_eq!(live, s.timeline, "the live seconds are the summary's timeline");
    let ends: Vec<f64> = s.timeline.iter().map(|x| (x.t * 10.0).round() / 10.0).collect();
    assert_eq!(ends, [1.0, 2.0, 3.0, 3.5], "{ends:?}");
    assert_eq!(s.timeline.iter().map(|x| x.requests).sum::<u64>(), s.requests);
    for sec in &s.timeline[..3] {
        assert!((95..=105).contains(&sec.requests), "{sec:?}");
        assert!(sec.p50 >= 20.0 && sec.p50 < 40.0, "{sec:?}");
        assert!(sec.p99 >= sec.p50 && sec.max >= sec.p99, "{sec:?}");
        assert_eq!(sec.target, 100.0);
    }
    let p = s.phases.clone().expect("phases measured");
    let (connect, ttfb) = (p.connect, p.ttfb);
    assert!(p.tls.is_none(), "no TLS on http");
    assert!(connect.count >= 1 && connect.max < 100.0, "{connect:?}");
    assert_eq!(ttfb.count, s.latency.count);
    assert!(ttfb.p50 >= 20.0 && ttfb.p50 <= s.latency.p50 + 0.01, "ttfb {ttfb:?} vs {:?}", s.latency);
    let j = s.to_json();
    assert_eq!(j["timeline"].as_array().map(Vec::len), Some(4));
    assert_eq!(j["target"], url.as_str());
    assert!(j["phases_ms"]["ttfb"]["p95"].is_number());
    let hist: u64 = j["latency_histogram_ms"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(hist, s.latency.count, "the histogram holds every response");
    assert!(j["started_at_unix_ms"].as_i64().unwrap() > 1_700_000_000_000);
}

/// Closed model with stages: the VUs ramp 0 → 4 over 2 s and hold; with a 50 ms server each VU does
/// about 20 requests per second, so throughput follows the ramp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_stages_ramp_the_vus() {
    let url = server(Behavior::Sleep(Duration::from_millis(50))).await;
    let st = |ms, target| vitals_load::Stage { duration: Duration::from_millis(ms), target };
    let cfg = config(&url, Model::Closed { vus: 0 }, Duration::ZERO).with_stages(vec![st(2000, 4.0), st(1000, 4.0)]);
    assert_eq!((cfg.duration, cfg.connections, cfg.max_vus()), (Duration::from_secs(3), 4, 4));
    let s = run(cfg, None).await.unwrap();
    let targets: Vec<f64> = s.timeline.iter().map(|x| x.target).collect();
    assert_eq!(targets[..3], [1.0, 3.0, 4.0], "{targets:?}");
    let reqs: Vec<u64> = s.timeline.iter().map(|x| x.requests).collect();
    assert!(reqs[0] < reqs[1] && reqs[1] < reqs[2], "{reqs:?}");
    assert!((8..=30).contains(&reqs[0]) && (65..=85).contains(&reqs[2]), "{reqs:?}");
}

/// Open model with stages: the rate ramps 0 → 200/s over 2 s (200 arrivals), then holds 200/s for 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_stages_ramp_the_arrival_rate() {
    let url = server(Behavior::Fast).await;
    let st = |ms, target| vitals_load::Stage { duration: Duration::from_millis(ms), target };
    let cfg = config(&url, Model::Open { rate_per_sec: 0.0 }, Duration::ZERO)
        .with_stages(vec![st(2000, 200.0), st(1000, 200.0)]);
    let s = run(cfg, None).await.unwrap();
    assert!((390..=410).contains(&s.requests), "{}", s.requests);
    let reqs: Vec<u64> = s.timeline.iter().map(|x| x.requests).collect();
    assert!(
        (45..=55).contains(&reqs[0]) && (145..=155).contains(&reqs[1]) && (195..=205).contains(&reqs[2]),
        "{reqs:?}"
    );
    assert_eq!(s.dropped_iterations, 0);
}

/// Ramping scenarios parse, and bad stages name the file, line and key.
#[test]
fn scenario_stages_parse_and_errors_name_the_line() {
    let s = Scenario::parse("model: open\nstages:\n  - {duration: 1s, target: 50}\n  - {duration: 2s, target: 50/s}\nrequests: [{url: 'http://h/'}]\n", "r.yaml")
        .unwrap();
    let cfg = s.into_config();
    assert_eq!(
        (cfg.model, cfg.duration, cfg.stages.len()),
        (Model::Open { rate_per_sec: 0.0 }, Duration::from_secs(3), 2)
    );
    cfg.validate().unwrap();
    let e = Scenario::parse("stages:\n  - {duration: 1s, target: lots}\nrequests: [{url: 'http://h/'}]\n", "r.yaml")
        .unwrap_err();
    assert!(e.to_string().starts_with("r.yaml:2: stages[0]: target: invalid target \"lots\""), "{e}");
    let e = Scenario::parse("model: open\nrequests: [{url: 'http://h/'}]\n", "r.yaml").unwrap_err();
    assert!(e.to_string().contains("model: open needs a rate or stages"), "{e}");
    let e = Scenario::parse("model: closed\nrate: 5\nrequests: [{url: 'http://h/'}]\n", "r.yaml").unwrap_err();
    assert!(e.to_string().contains("contradicts"), "{e}");
}

/// A log-in service: `POST /login` with `{"user": U}` answers `{"data":{"token":"tok-U"}}`;
/// `GET /orders?user=U` answers 200 only with `Authorization: Bearer tok-U`, else 401. Counts the
/// authorized order requests per user.
async fn journey_server() -> (String, Arc<Mutex<std::collections::BTreeMap<String, u64>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let Some(req) = read_request(&mut stream).await else { return };
                    let (auth, body) = (req.header("authorization").to_string(), &req.body);
                    let target = req.line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let (status, out) = if target == "/login" {
                        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                        let user = v["user"].as_str().unwrap_or("?");
                        ("200 OK", format!(r#"{{"data":{{"token":"tok-{user}"}}}}"#))
                    } else if let Some(user) = target.strip_prefix("/orders?user=") {
                        if auth == format!("Bearer tok-{user}") {
                            *seen.lock().unwrap().entry(user.to_string()).or_insert(0) += 1;
                            ("200 OK", "[]".to_string())
                        } else {
                            ("401 Unauthorized", String::new())
                        }
                    } else {
                        ("404 Not Found", String::new())
                    };
                    let resp = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{out}", out.len());
                    if stream.get_mut().write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), counts)
}

/// A sequential flow logs each user (from a CSV file) in, takes the token from the JSON answer and
/// sends it with the next request; think time paces the VUs; a variable nobody sets is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_flow_chains_tokens_with_csv_users_and_think_time() {
    let (base, seen) = journey_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "user,password\nann,a1\nbob,b2\ncid,c3\n").unwrap();
    let file = dir.path().join("journey.yaml");
    let yaml = format!(
        r#"
duration: 1s
vus: 3
flow: sequential
think_time: 50ms
data: users.csv
thresholds: ["errors<1%"]
requests:
  - name: login
    method: POST
    url: {base}/login
    body: {{ user: "${{user}}", password: "${{password}}" }}
    extract: {{ token: {{ json: data.token }} }}
  - name: orders
    url: {base}/orders?user=${{user}}
    headers: {{ Authorization: "Bearer ${{token}}" }}
    checks: {{ status: [200] }}
"#
    );
    std::fs::write(&file, &yaml).unwrap();
    let s = run(Scenario::load(&file).unwrap().into_config(), None).await.unwrap();
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    let (login, orders) = (&s.requests_by_name["login"], &s.requests_by_name["orders"]);
    // Every login is followed by its order request, but for flows cut short by the end of the run.
    assert!(orders.requests <= login.requests && login.requests - orders.requests <= 3, "{}", s.to_text());
    // 3 VUs, two requests and two 50 ms pauses per iteration: about 10 iterations each in 1 s.
    assert!((15..=33).contains(&orders.requests), "think time paces the VUs: {}", s.to_text());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), ["ann", "bob", "cid"], "every CSV row is used");
    assert_eq!(seen.values().sum::<u64>(), orders.requests);
    assert_eq!(s.iterations, orders.requests, "an iteration is a whole journey: {}", s.to_text());
    assert_eq!(s.to_json()["iterations"], orders.requests);

    // Without the extract the token is empty: every order is a 401 check error and the flow still logs in.
    let broken = yaml
        .replace("    extract: { token: { json: data.token } }\n", "    extract: { token: { json: data.missing } }\n");
    std::fs::write(&file, &broken).unwrap();
    let s = run(Scenario::load(&file).unwrap().into_config(), None).await.unwrap();
    assert_eq!(
        s.requests_by_name["login"].errors, s.requests_by_name["login"].requests,
        "a failed extract is a check error"
    );
    assert_eq!(s.requests_by_name.get("orders").map_or(0, |o| o.requests), 0, "the flow stops at the failed step");
    assert_eq!(s.iterations, s.requests_by_name["login"].requests, "a journey ended by a failed step still counts");

    let undefined = yaml.replace("Bearer ${token}", "Bearer ${tokn}");
    std::fs::write(&file, &undefined).unwrap();
    let e = Scenario::load(&file).unwrap_err().to_string();
    assert!(e.contains("requests[1] (orders): headers: ${tokn} is never set"), "{e}");
    std::fs::write(&file, yaml.replace("data: users.csv", "data: nobody.csv")).unwrap();
    let e = Scenario::load(&file).unwrap_err().to_string();
    assert!(e.contains("data: ") && e.contains("nobody.csv"), "{e}");
}

/// An https server with a self-signed certificate for 127.0.0.1 answering every request on a
/// keep-alive connection with 200 "ok"; returns its base URL and the certificate's PEM.
async fn tls_server() -> (String, String) {
    let (acceptor, pem) = tls_acceptor(Vec::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(sock).await else { return };
                let mut rd = BufReader::new(tls);
                while read_request(&mut rd).await.is_some() {
                    if rd.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("https://{addr}/"), pem)
}

/// A TLS acceptor with a self-signed certificate for 127.0.0.1 offering the `alpn` protocols, and the
/// certificate's PEM.
fn tls_acceptor(alpn: Vec<Vec<u8>>) -> (tokio_rustls::TlsAcceptor, String) {
    use tokio_rustls::rustls;
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let certs = vec![rustls::pki_types::CertificateDer::from(cert.der().to_vec())];
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .unwrap();
    let mut config = config;
    config.alpn_protocols = alpn;
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), cert.pem())
}

/// https: a self-signed server is refused (a connect-class error) unless its CA is given or
/// `insecure` is set; then connections are reused and the TLS handshakes are timed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_are_verified_and_their_handshakes_timed() {
    let (url, pem) = tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();

    let s = run(config(&url, Model::Closed { vus: 2 }, Duration::from_millis(500)), None).await.unwrap();
    assert!(s.requests > 0 && s.errors.connect == s.requests, "unknown issuer is refused: {}", s.to_text());

    let mut cfg = config(&url, Model::Closed { vus: 2 }, Duration::from_millis(500));
    cfg.ca_file = Some(ca.clone());
    let s = run(cfg, None).await.unwrap();
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert!(s.requests > 50, "{}", s.to_text());
    let p = s.phases.clone().unwrap();
    let tls = p.tls.expect("handshakes timed");
    assert_eq!((tls.count, p.connect.count), (2, 2), "one handshake per pooled connection");
    assert!(s.to_json()["phases_ms"]["tls"]["p50"].as_f64().unwrap() > 0.0);

    let mut cfg = config(&url, Model::Closed { vus: 1 }, Duration::from_millis(300));
    cfg.insecure = true;
    let s = run(cfg, None).await.unwrap();
    assert!(s.requests > 10 && s.errors.total() == 0, "{}", s.to_text());

    let mut cfg = config(&url, Model::Closed { vus: 1 }, Duration::from_millis(300));
    cfg.ca_file = Some(dir.path().join("missing.pem"));
    let e = run(cfg, None).await.unwrap_err().to_string();
    assert!(e.starts_with("tls: reading ") && e.contains("missing.pem"), "{e}");
}

/// An iteration bound ends the run as soon as the last iteration is done, in both models.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iteration_bounds_end_the_run() {
    let url = server(Behavior::Sleep(Duration::from_millis(2))).await;
    let mut cfg = config(&url, Model::Closed { vus: 4 }, Duration::from_secs(60));
    cfg.iterations = Some(37);
    let started = Instant::now();
    let s = run(cfg, None).await.unwrap();
    assert_eq!((s.requests, s.errors.total(), s.cancelled), (37, 0, false), "{}", s.to_text());
    assert!(started.elapsed() < Duration::from_secs(5) && s.duration < Duration::from_secs(5), "{:?}", s.duration);
    assert_eq!(s.to_json()["iterations_limit"], 37);

    let mut cfg = config(&url, Model::Open { rate_per_sec: 200.0 }, Duration::from_secs(60));
    cfg.iterations = Some(50);
    let s = run(cfg, None).await.unwrap();
    assert_eq!((s.requests, s.dropped_iterations), (50, 0), "{}", s.to_text());
    // 50 arrivals at 200/s: the last is sent at 245 ms.
    assert!(s.duration >= Duration::from_millis(245) && s.duration < Duration::from_secs(2), "{:?}", s.duration);

    let mut cfg = config(&url, Model::Closed { vus: 1 }, Duration::from_secs(1));
    cfg.iterations = Some(0);
    assert!(run(cfg, None).await.is_err());
}

/// JSON-path checks and per-request thresholds: a request whose JSON answer has the wrong value is a
/// check error; `p95{name=slow}` looks at that request's latencies only and the summary says by how
/// much a threshold was broken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_checks_and_per_request_thresholds() {
    let url = server(Behavior::Routes).await;
    let base = url.trim_end_matches("/path?x=1");
    let yaml = format!(
        r#"
duration: 600ms
vus: 2
thresholds:
  - p95{{name=slow}}<5ms
  - p95{{name=good}}<25ms
  - errors{{name=good}}<1%
requests:
  - name: good
    method: POST
    url: {base}/echo
    body: {{ status: ok, n: 7, items: [{{id: 3}}] }}
    checks: {{ json: {{ status: ok, n: 7, "items[0].id": "3" }} }}
  - name: wrong
    method: POST
    url: {base}/echo
    body: {{ status: degraded }}
    checks: {{ json: {{ status: ok }} }}
  - name: slow
    url: {base}/slow
"#
    );
    let s = run(Scenario::parse(&yaml, "j.yaml").unwrap().into_config(), None).await.unwrap();
    let (good, wrong) = (&s.requests_by_name["good"], &s.requests_by_name["wrong"]);
    assert!(good.requests > 5 && good.errors == 0, "{}", s.to_text());
    assert_eq!(wrong.errors, wrong.requests, "{}", s.to_text());
    assert_eq!(s.errors.check, wrong.requests);
    let oks: Vec<bool> = s.thresholds.iter().map(|t| t.ok).collect();
    assert_eq!(oks, [false, true, true], "{}", s.to_text());
    let slow = &s.thresholds[0];
    assert!(slow.actual.unwrap() >= 30.0 && slow.excess.unwrap() >= 25.0, "{slow:?}");
    assert!(s.to_text().contains("FAIL p95{name=slow}<5ms (actual"), "{}", s.to_text());
    assert!(s.to_text().contains("ms, broken by "), "{}", s.to_text());
}

/// Review fixes: an iteration bound ends a ramping closed run even while VUs are parked; a cancel
/// stops an open run at a very low rate at once; an open weighted mix cannot chain extracted values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounds_and_cancel_end_runs_promptly() {
    let url = server(Behavior::Fast).await;
    let st = |ms, target| vitals_load::Stage { duration: Duration::from_millis(ms), target };
    let mut cfg = config(&url, Model::Closed { vus: 1 }, Duration::ZERO).with_stages(vec![st(20_000, 50.0)]);
    cfg.iterations = Some(20);
    let s = run(cfg, None).await.unwrap();
    assert_eq!(s.requests, 20);
    assert!(s.duration < Duration::from_secs(3), "parked VUs do not keep the run alive: {:?}", s.duration);

    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let h =
        tokio::spawn(run(config(&url, Model::Open { rate_per_sec: 1.0 / 60.0 }, Duration::from_secs(600)), Some(rx)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(true).unwrap();
    let s = h.await.unwrap().unwrap();
    assert!(s.cancelled && started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

    let yaml = "rate: 10/s\nrequests:\n  - {name: login, url: 'http://h/login', extract: {t: {json: token}}}\n  - {name: use, url: 'http://h/x?t=${t}'}\n";
    let e = Scenario::parse(yaml, "o.yaml").unwrap_err().to_string();
    assert!(e.contains("use flow: sequential"), "{e}");
    assert!(Scenario::parse(&format!("flow: sequential\n{yaml}"), "o.yaml").is_ok());
    assert!(LoadConfig::new("https://bad_name!/").is_err(), "an https host that is no TLS name is refused");
}

/// Each worker's request timer is armed once and moved forward when it fires early: requests that
/// finish within the timeout never count as timeouts, however long the run, and late ones still do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_timer_only_times_out_late_requests() {
    // 200 ms answers under a 300 ms timeout: the timer armed at the start fires during the second
    // request (at 300 ms, while that request is due at 500 ms) and must be moved, not taken as a timeout.
    let url = server(Behavior::Sleep(Duration::from_millis(200))).await;
    let mut cfg = config(&url, Model::Closed { vus: 2 }, Duration::from_millis(1300));
    cfg.timeout = Duration::from_millis(300);
    let s = run(cfg, None).await.unwrap();
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert!((10..=14).contains(&s.requests), "{}", s.to_text());

    // A stall of 1 s at the 4th request: it times out after 300 ms, not earlier and not later.
    let url = server(Behavior::StallOnce { at: 3, len: Duration::from_secs(1) }).await;
    let mut cfg = config(&url, Model::Closed { vus: 1 }, Duration::from_millis(1500));
    cfg.timeout = Duration::from_millis(300);
    cfg.iterations = Some(4);
    let started = Instant::now();
    let s = run(cfg, None).await.unwrap();
    let took = started.elapsed();
    assert_eq!((s.requests, s.errors.timeout), (4, 1), "{}", s.to_text());
    assert!(took >= Duration::from_millis(290) && took < Duration::from_millis(800), "{took:?}");
}

/// Busy polling (forced on) changes how threads wait, not what is measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_polling_runs_measure_the_same() {
    let url = server(Behavior::Sleep(Duration::from_millis(5))).await;
    for mode in [vitals_load::BusyPoll::On, vitals_load::BusyPoll::Off] {
        let mut cfg = config(&url, Model::Closed { vus: 8 }, Duration::from_millis(800));
        cfg.busy_poll = mode;
        let started = Instant::now();
        let s = run(cfg, None).await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(1200), "{mode:?} ends on time");
        assert_eq!(s.errors.total(), 0, "{mode:?}: {}", s.to_text());
        assert!(s.requests >= 500, "{mode:?}: {}", s.to_text());
        assert!(s.latency.p50 >= 5.0 && s.latency.p50 < 20.0, "{mode:?}: {:?}", s.latency);
    }
    assert_eq!("auto".parse(), Ok(vitals_load::BusyPoll::Auto));
    assert!("always".parse::<vitals_load::BusyPoll>().unwrap_err().contains("auto, on or off"));
}

/// Thousands of VUs share a few shards of tallies (memory does not grow with the VUs); nothing is
/// lost in the merge: the histogram, the status codes and the per-second timeline all hold every response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_vus_share_tallies_and_nothing_is_lost() {
    let url = server(Behavior::Sleep(Duration::from_millis(20))).await;
    let mut cfg = config(&url, Model::Closed { vus: 2000 }, Duration::from_millis(1500));
    cfg.connections = 200;
    let s = run(cfg, None).await.unwrap();
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert!(s.requests > 2000, "{}", s.to_text());
    assert_eq!(s.latency.count, s.requests);
    assert_eq!(s.status_codes.get(&200).copied(), Some(s.requests));
    assert_eq!(s.timeline.iter().map(|x| x.requests).sum::<u64>(), s.requests);
}

/// What an HTTP/2 test server saw.
#[derive(Default)]
struct H2Seen {
    connections: AtomicU64,
    streams: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// The `user-agent`, `:authority` and body of the last request.
    last: Mutex<(String, String, Vec<u8>)>,
}

/// An HTTP/2 server (h2c, or TLS with ALPN `h2` when `tls` is given) answering every stream after
/// `delay` with 200 and the request's body, or "ok" when it had none; returns its base URL.
async fn h2_server(delay: Duration, tls: Option<tokio_rustls::TlsAcceptor>) -> (String, Arc<H2Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(H2Seen::default());
    let scheme = if tls.is_some() { "https" } else { "http" };
    let state = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            state.connections.fetch_add(1, Ordering::SeqCst);
            let (state, tls) = (state.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        let Ok(sock) = acceptor.accept(sock).await else { return };
                        serve_h2(sock, delay, state).await;
                    }
                    None => serve_h2(sock, delay, state).await,
                }
            });
        }
    });
    (format!("{scheme}://{addr}/h2?x=1"), seen)
}

async fn serve_h2<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    sock: S,
    delay: Duration,
    seen: Arc<H2Seen>,
) {
    let Ok(mut conn) = h2::server::handshake(sock).await else { return };
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        let seen = seen.clone();
        tokio::spawn(async move {
            seen.streams.fetch_add(1, Ordering::SeqCst);
            let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let ua = req.headers().get("user-agent").map(|v| v.to_str().unwrap_or("").to_string()).unwrap_or_default();
            let authority = req.uri().authority().map(|a| a.to_string()).unwrap_or_default();
            let mut body = req.into_body();
            let mut got = Vec::new();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                got.extend_from_slice(&chunk);
            }
            tokio::time::sleep(delay).await;
            let answer = if got.is_empty() { b"ok".to_vec() } else { got.clone() };
            *seen.last.lock().unwrap() = (ua, authority, got);
            seen.in_flight.fetch_sub(1, Ordering::SeqCst);
            let response = http::Response::builder().status(200).body(()).unwrap();
            if let Ok(mut stream) = respond.send_response(response, false) {
                let _ = stream.send_data(answer.into(), true);
            }
        });
    }
}

/// HTTP/2 over h2c: the VUs' requests are streams multiplexed over exactly `connections` connections,
/// concurrently; latencies, bytes and bodies are measured as for HTTP/1.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_multiplexes_streams_over_few_connections() {
    let (url, seen) = h2_server(Duration::from_millis(20), None).await;
    let mut cfg = config(&url, Model::Closed { vus: 40 }, Duration::from_millis(1000));
    cfg.connections = 2;
    cfg.http2 = true;
    let s = run(cfg, None).await.unwrap();
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert_eq!(s.protocol, "HTTP/2");
    assert!(s.to_text().contains("40 VUs, HTTP/2"), "{}", s.to_text());
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2, "two connections for 40 VUs");
    let max = seen.max_in_flight.load(Ordering::SeqCst);
    assert!(max >= 30, "streams run concurrently: at most {max} at once");
    // 40 VUs at ~20 ms each: ~2000 requests in 1 s.
    assert!((1000..=2100).contains(&s.requests), "{}", s.to_text());
    assert!(seen.streams.load(Ordering::SeqCst) >= s.requests);
    assert!(s.latency.p50 >= 20.0 && s.latency.p50 < 60.0, "{:?}", s.latency);
    let p = s.phases.clone().unwrap();
    assert_eq!(p.connect.count, 2, "one connect per connection");
    assert_eq!(p.ttfb.count, s.latency.count);
    assert!(s.bytes_received >= s.requests * 2, "bodies counted: {}", s.bytes_received);
    let (ua, authority, _) = seen.last.lock().unwrap().clone();
    assert!(ua.starts_with("vitals-load/"), "{ua}");
    assert_eq!(authority, url.trim_start_matches("http://").split('/').next().unwrap());
    assert_eq!(s.to_json()["protocol"], "HTTP/2");

    // The open model keeps its rate over one connection.
    let (url, seen) = h2_server(Duration::from_millis(5), None).await;
    let mut cfg = config(&url, Model::Open { rate_per_sec: 300.0 }, Duration::from_millis(1000));
    cfg.connections = 1;
    cfg.http2 = true;
    let s = run(cfg, None).await.unwrap();
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert!((290..=301).contains(&s.requests), "{}", s.to_text());
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
}

/// HTTP/2 scenario requests carry their bodies and headers, and checks read the response body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_scenarios_send_bodies_and_check_responses() {
    let (url, seen) = h2_server(Duration::ZERO, None).await;
    let yaml = format!(
        r#"
http2: true
duration: 400ms
vus: 2
connections: 1
requests:
  - name: echo
    method: POST
    url: {url}
    headers: {{ User-Agent: probe/1, Connection: keep-alive }}
    body: {{ hello: world }}
    checks: {{ status: [200], json: {{ hello: world }} }}
"#
    );
    let s = Scenario::parse(&yaml, "h2.yaml").unwrap().into_config();
    assert!(s.http2);
    let s = run(s, None).await.unwrap();
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert!(s.requests > 20, "{}", s.to_text());
    let (ua, _, body) = seen.last.lock().unwrap().clone();
    assert_eq!(ua, "probe/1", "the request's own User-Agent, and Connection is left out (not allowed in HTTP/2)");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), serde_json::json!({"hello": "world"}));
}

/// https with ALPN: HTTP/2 is used when the server agrees to `h2`, and refused (a connect-class error)
/// when it only speaks HTTP/1.1; h2c against an HTTP/1.1 server fails fast instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_needs_alpn_h2() {
    let (acceptor, _) = tls_acceptor(vec![b"h2".to_vec()]);
    let (url, seen) = h2_server(Duration::ZERO, Some(acceptor)).await;
    let mut cfg = config(&url, Model::Closed { vus: 4 }, Duration::from_millis(400));
    cfg.connections = 1;
    cfg.http2 = true;
    cfg.insecure = true;
    let s = run(cfg, None).await.unwrap();
    assert_eq!(s.errors.total(), 0, "{}", s.to_text());
    assert!(s.requests > 20, "{}", s.to_text());
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(s.phases.clone().unwrap().tls.map(|t| t.count), Some(1), "one handshake");

    let (url, _) = tls_server().await;
    let mut cfg = config(&url, Model::Closed { vus: 2 }, Duration::from_millis(300));
    cfg.http2 = true;
    cfg.insecure = true;
    let s = run(cfg, None).await.unwrap();
    assert!(s.requests > 0 && s.errors.connect == s.requests, "no h2 in ALPN: {}", s.to_text());

    let url = server(Behavior::Fast).await;
    let mut cfg = config(&url, Model::Closed { vus: 2 }, Duration::from_millis(300));
    cfg.http2 = true;
    let started = Instant::now();
    let s = run(cfg, None).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(s.requests > 0 && s.errors.total() == s.requests, "h2c to an HTTP/1.1 server: {}", s.to_text());

    // What HTTP/2 cannot carry is refused before the run starts; UTF-8 header values are fine.
    let (url, seen) = h2_server(Duration::ZERO, None).await;
    let mut cfg = config(&url, Model::Closed { vus: 1 }, Duration::from_millis(200));
    cfg.http2 = true;
    cfg.headers = vec![("X-Bad".into(), "a\u{1}b".into())];
    let e = run(cfg, None).await.unwrap_err().to_string();
    assert!(e.starts_with("HTTP/2: request") && e.contains("x-bad"), "{e}");
    let mut cfg = config(&url, Model::Closed { vus: 1 }, Duration::from_millis(200));
    cfg.http2 = true;
    cfg.headers = vec![("User-Agent".into(), "café/1".into())];
    let s = run(cfg, None).await.unwrap();
    assert!(s.requests > 0 && s.errors.total() == 0, "{}", s.to_text());
    assert_eq!(
        seen.last.lock().unwrap().0,
        "",
        "a non-ASCII value is sent as bytes (the test server reads it as no text)"
    );
}
