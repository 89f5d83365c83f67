//! `GET /api/v1/live?query=EXPR`: Server-Sent Events that push a query's value to the UI after every
//! storage commit, so charts move as soon as data lands instead of on a polling timer.
//!
//! One watcher task (started with the first subscriber) checks the storage's commit counter every
//! 5 ms and broadcasts changes; each subscriber evaluates its queries at the commit and sends one
//! `event: result` per query with `{"index": I, "initial": false, "commit_ms": M, "t": T, "response":
//! <the /api/v1/query answer>}` (`initial: true` for the first event, sent at once on connect). A slow
//! client skips commits it missed (it gets the newest one) instead of queueing without bound.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::broadcast;
use vitals_promql::QueryOptions;

use crate::params::local_storage;
use crate::query_api::unix_ms;
use crate::{api_error, query_json, WebState};

/// The most queries one live connection may follow.
const MAX_QUERIES: usize = 20;
/// The most live connections at once (each costs an evaluation per query per commit).
pub const MAX_STREAMS: usize = 1000;

/// Counts an open live stream; dropped with the stream.
struct StreamSlot(Arc<WebState>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.live_streams.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The commit counter and the last commit's wall-clock time (ms), from the storage.
pub type CommitSource = Arc<dyn Fn() -> (u64, i64) + Send + Sync>;

/// The broadcast of commits, started on first use.
fn hub(st: &Arc<WebState>) -> Option<broadcast::Receiver<(u64, i64)>> {
    let source = st.commits.get()?.clone();
    let mut hub = st.live.lock();
    if let Some(tx) = hub.as_ref() {
        return Some(tx.subscribe());
    }
    let (tx, rx) = broadcast::channel(16);
    *hub = Some(tx.clone());
    tokio::spawn(async move {
        let mut last = source().0;
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let (seq, at) = source();
            if seq != last {
                last = seq;
                // No receivers left is fine: a new subscriber re-uses the sender.
                let _ = tx.send((seq, at));
            }
        }
    });
    Some(rx)
}

/// `GET /api/v1/live?query=...` (repeatable, up to 20): an SSE stream, one `result` event per query
/// after each commit (and one right away).
pub(crate) async fn live(State(st): State<Arc<WebState>>, RawQuery(q): RawQuery) -> Response {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let queries: Vec<String> = pairs.iter().filter(|(k, _)| k == "query").map(|(_, v)| v.clone()).collect();
    if queries.is_empty() || queries.iter().any(String::is_empty) {
        return api_error(400, "bad_data", "invalid parameter \"query\": at least one non-empty query is needed");
    }
    if queries.len() > MAX_QUERIES {
        return api_error(400, "bad_data", format!("at most {MAX_QUERIES} queries per live connection"));
    }
    for q in &queries {
        if let Err(e) = vitals_promql::parse(q) {
            return api_error(400, "bad_data", format!("invalid parameter \"query\": {e}"));
        }
    }
    let storage = match local_storage(&st) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(rx) = hub(&st) else {
        return api_error(503, "unavailable", "live updates need the local storage");
    };
    if st.live_streams.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= MAX_STREAMS {
        st.live_streams.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        return api_error(503, "unavailable", format!("too many live streams (at most {MAX_STREAMS})"));
    }
    let slot = StreamSlot(st.clone());
    let engine = st.engine.clone();
    let first = Some(unix_ms(std::time::SystemTime::now()));
    let state = (rx, first, queries, storage, engine, slot);
    let stream = futures_util::stream::unfold(
        state,
        |(mut rx, mut first, queries, storage, engine, slot)| async move {
            let initial = first.is_some();
            let commit_ms = match first.take() {
                Some(t) => t,
                None => loop {
                    match rx.recv().await {
                        Ok((_, mut at)) => {
                            // Skip to the newest commit: one evaluation covers everything before it.
                            while let Ok((_, newer)) = rx.try_recv() {
                                at = newer;
                            }
                            break at;
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                },
            };
            // Live evaluations share a few blocking threads, so streams cannot crowd out /api/v1/query.
            let _permit = live_permits().acquire().await.ok()?;
            let (qs, s, e) = (queries.clone(), storage.clone(), engine.clone());
            let t = unix_ms(std::time::SystemTime::now());
            let events = tokio::task::spawn_blocking(move || {
            let mut out = String::new();
            let opts = QueryOptions { timeout: Some(Duration::from_secs(10)), ..QueryOptions::default() };
            for (i, q) in qs.iter().enumerate() {
                let response = match e.instant_query(s.as_queryable(), q, t, &opts) {
                    Ok(r) => query_json::success(&r.value, usize::MAX, None, &r.warnings, &r.infos),
                    Err(err) => {
                        format!(r#"{{"status":"error","errorType":"{}","error":{}}}"#, err.error_type(), json_str(&err.to_string()))
                    }
                };
                out.push_str(&format!(
                    "event: result\ndata: {{\"index\":{i},\"initial\":{initial},\"commit_ms\":{commit_ms},\"t\":{t},\"response\":{response}}}\n\n"
                ));
            }
            out
        })
        .await
        .unwrap_or_default();
            Some((Ok::<Bytes, Infallible>(Bytes::from(events)), (rx, first, queries, storage, engine, slot)))
        },
    );
    let body = axum::body::Body::from_stream(stream);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

/// Live evaluations running at once: twice the cores.
fn live_permits() -> &'static tokio::sync::Semaphore {
    static P: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(cores * 2)
    })
}

fn json_str(s: &str) -> String {
    let mut out = String::new();
    query_json::json_string(&mut out, s);
    out
}
