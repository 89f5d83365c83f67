//! A loopback remote_write receiver for the sender tests: decodes every request, answers from a
//! script of statuses first, then 200.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use vitals_remote::{decode_write_request, IngestLimits};

#[derive(Default)]
pub struct Receiver {
    /// Statuses (and Retry-After seconds) to answer before answering 200.
    pub script: Mutex<VecDeque<(u16, Option<u64>)>>,
    /// Samples accepted, per series (labels rendered as `name{a="b",...}`), in arrival order.
    pub series: Mutex<BTreeMap<String, Vec<(i64, f64)>>>,
    pub requests: Mutex<u64>,
    pub bad_headers: Mutex<Vec<String>>,
}

impl Receiver {
    pub fn total(&self) -> usize {
        self.series.lock().values().map(|v| v.len()).sum()
    }
}

async fn write(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    *r.requests.lock() += 1;
    for (h, want) in [
        ("content-encoding", "snappy"),
        ("content-type", "application/x-protobuf"),
        ("x-prometheus-remote-write-version", "0.1.0"),
    ] {
        if headers.get(h).and_then(|v| v.to_str().ok()) != Some(want) {
            r.bad_headers.lock().push(h.to_string());
        }
    }
    if !headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").starts_with("vitals/") {
        r.bad_headers.lock().push("user-agent".into());
    }
    let next = r.script.lock().pop_front();
    if let Some((status, retry_after)) = next {
        let mut resp = (StatusCode::from_u16(status).unwrap(), "scripted").into_response();
        if let Some(s) = retry_after {
            resp.headers_mut().insert("Retry-After", s.to_string().parse().unwrap());
        }
        return resp;
    }
    let req = match decode_write_request(&body, &IngestLimits::default()) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut series = r.series.lock();
    for ts in req.timeseries {
        let mut labels: Vec<String> = ts.labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
        labels.sort();
        let key = labels.join(",");
        let e = series.entry(key).or_default();
        e.extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Starts the receiver on 127.0.0.1:0; returns its URL.
pub async fn start(r: Arc<Receiver>) -> String {
    let app = axum::Router::new().route("/api/v1/write", axum::routing::post(write)).with_state(r);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}/api/v1/write")
}

/// Polls `f` every 10 ms until it holds or `timeout` passes.
pub async fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}
