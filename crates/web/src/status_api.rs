//! `/api/v1/status/{runtimeinfo,flags,config,tsdb}`: Prometheus' status endpoints, in its JSON
//! shapes, filled from what the binary hands over ([`crate::StatusInfo`], the TSDB status source).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use crate::params::{form_value, refuse_in_agent_mode};
use crate::{api_error, WebState};

/// One `{name, value}` entry of the TSDB status lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TsdbStat {
    /// Metric name, label name or `name=value` pair.
    pub name: String,
    /// The count (series, values or bytes).
    pub value: u64,
}

/// `headStats` of `/api/v1/status/tsdb`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TsdbHeadStats {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct label name/value pairs in the head.
    pub num_label_pairs: u64,
    /// Chunks in the head.
    pub chunk_count: i64,
    /// Lowest sample time in ms.
    pub min_time: i64,
    /// Highest sample time in ms.
    pub max_time: i64,
}

/// The data of `/api/v1/status/tsdb`, as Prometheus' `TSDBStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TsdbStatus {
    /// Head totals.
    pub head_stats: TsdbHeadStats,
    /// Series per metric name, largest first.
    pub series_count_by_metric_name: Vec<TsdbStat>,
    /// Distinct values per label name, largest first.
    pub label_value_count_by_label_name: Vec<TsdbStat>,
    /// Bytes of label values per label name, largest first.
    pub memory_in_bytes_by_label_name: Vec<TsdbStat>,
    /// Series per label pair, largest first.
    pub series_count_by_label_value_pair: Vec<TsdbStat>,
}

impl TsdbStat {
    /// Converts `(name, count)` pairs.
    pub fn list(pairs: Vec<(String, u64)>) -> Vec<TsdbStat> {
        pairs.into_iter().map(|(name, value)| TsdbStat { name, value }).collect()
    }
}

/// `GET /api/v1/status/runtimeinfo`.
pub(crate) async fn runtimeinfo(State(st): State<Arc<WebState>>) -> Response {
    let info = st.status.lock().clone();
    let corruptions = st.corruption_count.get().map_or(0, |f| f());
    let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default();
    let procs = std::thread::available_parallelism().map_or(1, |n| n.get());
    Json(json!({"status": "success", "data": {
        "startTime": rfc3339(st.started),
        "CWD": cwd,
        "hostname": hostname,
        "serverTime": rfc3339(SystemTime::now()),
        "reloadConfigSuccess": info.reload_success,
        "lastConfigTime": rfc3339(info.last_config_time),
        "corruptionCount": corruptions,
        "goroutineCount": thread_count(),
        "GOMAXPROCS": procs,
        "GOMEMLIMIT": i64::MAX,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": info.storage_retention,
    }}))
    .into_response()
}

/// `GET /api/v1/status/flags`.
pub(crate) async fn flags(State(st): State<Arc<WebState>>) -> Response {
    let flags = st.status.lock().flags.clone();
    Json(json!({"status": "success", "data": flags})).into_response()
}

/// `GET /api/v1/status/config`.
pub(crate) async fn config(State(st): State<Arc<WebState>>) -> Response {
    let yaml = st.status.lock().config_yaml.clone();
    Json(json!({"status": "success", "data": {"yaml": yaml}})).into_response()
}

/// `GET /api/v1/status/tsdb?limit=N` (default 10).
pub(crate) async fn tsdb(State(st): State<Arc<WebState>>, RawQuery(q): RawQuery) -> Response {
    if let Err(r) = refuse_in_agent_mode(&st) {
        return *r;
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let limit = match form_value(&pairs, "limit") {
        "" => 10,
        s => match s.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return api_error(400, "bad_data", "limit must be a positive number"),
        },
    };
    let Some(source) = st.tsdb_status.get().cloned() else {
        return api_error(503, "unavailable", "storage is not ready yet");
    };
    match tokio::task::spawn_blocking(move || source(limit)).await {
        Ok(status) => Json(json!({"status": "success", "data": status})).into_response(),
        Err(e) => api_error(500, "internal", format!("computing the TSDB status failed: {e}")),
    }
}

/// Threads of this process (what Prometheus reports as its goroutine count).
fn thread_count() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Threads:").and_then(|n| n.trim().parse().ok())))
        .unwrap_or(0)
}

/// A time as Go marshals `time.Time` to JSON (RFC 3339, nanoseconds without trailing zeros), in UTC.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = vitals_model::civil::civil_from_days(days);
    let mut s = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_marshal_like_go() {
        let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(1_795_442_700_123)), "2026-11-23T14:05:00.123Z");
        assert_eq!(rfc3339(at(951_782_400_000)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH + Duration::new(1, 500)), "1970-01-01T00:00:01.0000005Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH - Duration::from_millis(500)), "1969-12-31T23:59:59.5Z");
        assert_eq!(
            crate::params::parse_time(&rfc3339(at(1_795_442_700_123))).unwrap(),
            1_795_442_700_123,
            "round trip"
        );
    }
}
