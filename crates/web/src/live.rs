//! `GET /api/v1/live?query=EXPR`: Server-Sent Events that push a query's value to the UI after every
//! storage commit, so charts move as soon as data lands instead of on a polling timer.
//!
//! One watcher task (started with the first subscriber) checks the storage's commit counter every
//! 5 ms and broadcasts changes; each subscriber gets its queries' answers at the commit (streams that
//! follow the same query share one evaluation per commit) and sends one `event: result` per query with `{"index": I, "initial": false, "commit_ms": M, "t": T, "response":
//! <the /api/v1/query answer>}` (`initial: true` for the first event, sent at once on connect). A slow
//! client skips commits it missed (it gets the newest one) instead of queueing without bound.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
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

/// The newest commit's live answers by query: the first stream to need a query's answer evaluates
/// it, the others that follow the same query wait for that evaluation and send its answer.
#[derive(Default)]
pub(crate) struct LiveMemo {
    /// The commit the answers are for.
    seq: u64,
    /// Its wall-clock time (ms).
    commit_ms: i64,
    /// When its answers are evaluated (ms).
    t: i64,
    answers: HashMap<String, Arc<OnceLock<String>>>,
}

impl LiveMemo {
    /// The answer cells of `queries` at commit `seq` (made at `commit_ms`), starting a new commit's when
    /// `seq` is newer; a stream that is behind gets the newest commit's. Returns the cells, the commit
    /// they are for, its time and the evaluation time.
    fn cells(&mut self, seq: u64, commit_ms: i64, queries: &[String]) -> (Vec<Arc<OnceLock<String>>>, u64, i64, i64) {
        if seq > self.seq {
            *self = LiveMemo { seq, commit_ms, t: unix_ms(std::time::SystemTime::now()), answers: HashMap::new() };
        }
        let cells = queries.iter().map(|q| self.answers.entry(q.clone()).or_default().clone()).collect();
        (cells, self.seq, self.commit_ms, self.t)
    }
}

/// Appends the live streams' gauge and evaluation counter to `/metrics`.
pub(crate) fn render_metrics(st: &WebState, out: &mut String) {
    let streams = st.live_streams.load(Ordering::Relaxed);
    let evals = st.live_evaluations.load(Ordering::Relaxed);
    out.push_str(&format!(
        "# HELP vitals_live_streams Open /api/v1/live streams.\n# TYPE vitals_live_streams gauge\nvitals_live_streams {streams}\n\
         # HELP vitals_live_evaluations_total Query evaluations for /api/v1/live (one per distinct query and commit, plus one per query when a stream opens).\n\
         # TYPE vitals_live_evaluations_total counter\nvitals_live_evaluations_total {evals}\n"
    ));
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
    // The newest commit this stream sent answers for (a stream that was behind may have sent a later
    // commit's answers already; it does not send them twice).
    let sent_seq = 0u64;
    let state = (rx, first, queries, storage, engine, slot, sent_seq);
    let stream = futures_util::stream::unfold(
        state,
        |(mut rx, mut first, queries, storage, engine, slot, mut sent_seq)| async move {
            let initial = first.is_some();
            let (cells, commit_ms, t) = match first.take() {
                // The first answers are this stream's own, evaluated now.
                Some(now) => (queries.iter().map(|_| Arc::new(OnceLock::new())).collect(), now, now),
                None => loop {
                    match rx.recv().await {
                        Ok((mut seq, mut at)) => {
                            // Skip to the newest commit: one evaluation covers everything before it.
                            while let Ok((newer_seq, newer)) = rx.try_recv() {
                                (seq, at) = (newer_seq, newer);
                            }
                            let (cells, memo_seq, commit_ms, t) = slot.0.live_memo.lock().cells(seq, at, &queries);
                            if memo_seq <= sent_seq {
                                continue;
                            }
                            sent_seq = memo_seq;
                            break (cells, commit_ms, t);
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                },
            };
            // Live evaluations share a few blocking threads, so streams cannot crowd out /api/v1/query.
            let _permit = live_permits().acquire().await.ok()?;
            let (qs, s, e, st) = (queries.clone(), storage.clone(), engine.clone(), slot.0.clone());
            let events = tokio::task::spawn_blocking(move || {
                let mut out = String::new();
                let opts = QueryOptions { timeout: Some(Duration::from_secs(10)), ..QueryOptions::default() };
                for (i, (q, cell)) in qs.iter().zip(&cells).enumerate() {
                    // Another stream following the same query may be evaluating it: then this waits for its answer.
                    let response = cell.get_or_init(|| {
                        st.live_evaluations.fetch_add(1, Ordering::Relaxed);
                        match e.instant_query(s.as_queryable(), q, t, &opts) {
                            Ok(r) => query_json::success(&r.value, usize::MAX, None, &r.warnings, &r.infos),
                            Err(err) => format!(
                                r#"{{"status":"error","errorType":"{}","error":{}}}"#,
                                err.error_type(),
                                json_str(&err.to_string())
                            ),
                        }
                    });
                    out.push_str(&format!(
                        "event: result\ndata: {{\"index\":{i},\"initial\":{initial},\"commit_ms\":{commit_ms},\"t\":{t},\"response\":{response}}}\n\n"
                    ));
                }
                out
            })
            .await
            .unwrap_or_default();
            Some((Ok::<Bytes, Infallible>(Bytes::from(events)), (rx, first, queries, storage, engine, slot, sent_seq)))
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
