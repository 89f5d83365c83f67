//! The HTTP server of vitals (axum): health and readiness, self-metrics, the Prometheus HTTP API
//! (PromQL queries, series and labels, targets, metadata, status pages, rules and alerts), the ingest
//! endpoints (remote_write, text import, OTLP) and Alertmanager's API v2 over the built-in notifier.
//! It holds no data itself: storage, the query engine, scraping, reloading, the notifier and the
//! status figures are handed to it by the binary.

mod am_api;
pub mod auth;
mod dashboards;
mod handlers;
mod live;
mod meta_api;
pub mod metrics;
mod params;
mod probe_api;
mod query_api;
mod query_json;
mod rules_api;
pub mod server;
mod slo_api;
mod status_api;
pub mod ui;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tower_http::compression::CompressionLayer;
use vitals_model::{Appendable, Queryable};
use vitals_promql::Engine;
use vitals_remote::IngestLimits;
use vitals_scrape::Manager;

pub use auth::{AuthConfig, WebConfig};
pub use live::CommitSource;
pub use metrics::HttpMetrics;
pub use status_api::{TsdbHeadStats, TsdbStat, TsdbStatus};

/// A storage the server can write to and read from.
pub trait Storage: Appendable + Queryable {
    /// The storage as the query engine reads it.
    fn as_queryable(&self) -> &dyn Queryable;
}
impl<T: Appendable + Queryable> Storage for T {
    fn as_queryable(&self) -> &dyn Queryable {
        self
    }
}

/// A request to reload the configuration; the answer says whether the new one was applied.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// The status of one component for `/health`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentHealth {
    /// `ok`, `starting` or `failing`.
    pub status: &'static str,
    /// Details (figures, last error).
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// Renders a component's metrics into the `/metrics` page.
pub type MetricsSource = Arc<dyn Fn(&mut String) + Send + Sync>;
/// Reports a component's health for `/health`.
pub type HealthSource = Arc<dyn Fn() -> ComponentHealth + Send + Sync>;
/// Computes `/api/v1/status/tsdb` with each list cut to the given length.
pub type TsdbStatusSource = Arc<dyn Fn(usize) -> TsdbStatus + Send + Sync>;
/// Reads a counter (such as the storage's repaired WAL corruptions).
pub type CountSource = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The running configuration as the status endpoints show it; the binary sets it on start and
/// after every reload attempt.
#[derive(Debug, Clone)]
pub struct StatusInfo {
    /// The loaded configuration as YAML, secrets shown as `<secret>` (`/api/v1/status/config`).
    pub config_yaml: String,
    /// Command-line flags and their values, Prometheus' names (`/api/v1/status/flags`).
    pub flags: BTreeMap<String, String>,
    /// Whether the last reload succeeded.
    pub reload_success: bool,
    /// When the configuration was last loaded successfully.
    pub last_config_time: SystemTime,
    /// Retention as Prometheus shows it (`15d`, `15d or 50GiB`).
    pub storage_retention: String,
}

impl Default for StatusInfo {
    fn default() -> Self {
        StatusInfo {
            config_yaml: String::new(),
            flags: BTreeMap::new(),
            reload_success: true,
            last_config_time: SystemTime::now(),
            storage_retention: String::new(),
        }
    }
}

/// Everything the handlers share.
pub struct WebState {
    /// Set once the WAL is replayed; until then the server is not ready.
    pub storage: OnceLock<Arc<dyn Storage>>,
    /// The scrape manager, once storage is open.
    pub scrape: OnceLock<Arc<Manager>>,
    /// Where `POST /-/reload` sends its request (none: reload disabled).
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    /// Limits of the ingest endpoints.
    pub limits: IngestLimits,
    /// When the server started.
    pub started: SystemTime,
    /// Request metrics.
    pub http_metrics: HttpMetrics,
    /// Ingest counters.
    pub ingest: IngestMetrics,
    /// Other components' metrics, rendered into `/metrics`.
    pub metric_sources: Mutex<Vec<MetricsSource>>,
    /// Other components' health, for `/health`.
    pub health_sources: Mutex<Vec<(String, HealthSource)>>,
    /// Authentication of API requests.
    pub auth: Arc<AuthConfig>,
    /// `--agent`: no local queries.
    pub agent: bool,
    /// The PromQL engine of `/api/v1/query` and `/api/v1/query_range`.
    pub engine: Engine,
    /// Configuration, flags and reload status for the status endpoints.
    pub status: Mutex<StatusInfo>,
    /// Cardinality of the storage for `/api/v1/status/tsdb`, once storage is open.
    pub tsdb_status: OnceLock<TsdbStatusSource>,
    /// WAL corruptions repaired at start, for `/api/v1/status/runtimeinfo`.
    pub corruption_count: OnceLock<CountSource>,
    /// The rule manager, for `/api/v1/rules` and `/api/v1/alerts`.
    pub rules: OnceLock<Arc<vitals_rules::RuleManager>>,
    /// The built-in Alertmanager, for `/api/v2/*`.
    pub notifier: OnceLock<Arc<vitals_notify::Notifier>>,
    /// Probe modules for `/probe` (blackbox_exporter's endpoint).
    pub probe_modules: Mutex<vitals_probe::Modules>,
    /// The probe manager, for `/api/v1/probes`.
    pub probes: OnceLock<Arc<vitals_probe::ProbeManager>>,
    /// The folder of dashboard files, for `/api/v1/dashboards`.
    pub dashboards_dir: Mutex<Option<std::path::PathBuf>>,
    /// The storage's commit counter, for `/api/v1/live`.
    pub commits: OnceLock<CommitSource>,
    /// Live streams open now (at most `live::MAX_STREAMS`).
    live_streams: std::sync::atomic::AtomicUsize,
    /// The broadcast of commits to live subscribers, once one subscribed.
    live: Mutex<Option<tokio::sync::broadcast::Sender<(u64, i64)>>>,
    /// The newest commit's live answers, shared by the streams that follow the same query.
    live_memo: Mutex<live::LiveMemo>,
    /// Query evaluations done for live streams.
    live_evaluations: std::sync::atomic::AtomicU64,
    /// Host metrics in node_exporter's format, for `/host/metrics`.
    pub host_metrics: OnceLock<MetricsSource>,
    /// The configured service level objectives, for `/api/v1/slos`.
    pub slos: Mutex<Vec<vitals_rules::slo::SloConfig>>,
}

impl WebState {
    /// A state with no storage and no scrape manager yet (not ready).
    pub fn new(limits: IngestLimits, auth: AuthConfig) -> Self {
        WebState {
            storage: OnceLock::new(),
            scrape: OnceLock::new(),
            reload: None,
            limits,
            started: SystemTime::now(),
            http_metrics: HttpMetrics::default(),
            ingest: IngestMetrics::default(),
            metric_sources: Mutex::new(Vec::new()),
            health_sources: Mutex::new(Vec::new()),
            auth: Arc::new(auth),
            agent: false,
            engine: Engine::default(),
            status: Mutex::new(StatusInfo::default()),
            tsdb_status: OnceLock::new(),
            corruption_count: OnceLock::new(),
            rules: OnceLock::new(),
            notifier: OnceLock::new(),
            slos: Mutex::new(Vec::new()),
            host_metrics: OnceLock::new(),
            commits: OnceLock::new(),
            dashboards_dir: Mutex::new(None),
            live: Mutex::new(None),
            live_memo: Mutex::new(live::LiveMemo::default()),
            live_evaluations: std::sync::atomic::AtomicU64::new(0),
            live_streams: std::sync::atomic::AtomicUsize::new(0),
            probe_modules: Mutex::new(Default::default()),
            probes: OnceLock::new(),
        }
    }

    /// The storage, once ready.
    pub fn storage(&self) -> Option<Arc<dyn Storage>> {
        self.storage.get().cloned()
    }
}

/// Ingest counters per endpoint.
#[derive(Default)]
pub struct IngestMetrics {
    samples: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    rejected: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    errors: Mutex<std::collections::BTreeMap<(&'static str, u16), u64>>,
}

impl IngestMetrics {
    /// Counts samples stored (and rejected one by one) by `path`.
    pub fn stored(&self, path: &'static str, samples: u64, rejected: u64) {
        *self.samples.lock().entry(path).or_default() += samples;
        *self.rejected.lock().entry(path).or_default() += rejected;
    }

    /// Counts a failed request.
    pub fn failed(&self, path: &'static str, status: u16) {
        *self.errors.lock().entry((path, status)).or_default() += 1;
    }

    /// Appends the counters in text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let n = "vitals_ingest_samples_total";
        let _ = writeln!(out, "# HELP {n} Samples stored by ingest endpoint.\n# TYPE {n} counter");
        for (p, v) in self.samples.lock().iter() {
            let _ = writeln!(out, "{n}{{path=\"{p}\"}} {v}");
        }
        let n = "vitals_ingest_samples_rejected_total";
        let _ = writeln!(
            out,
            "# HELP {n} Samples the storage rejected (out of order, duplicate, limit).\n# TYPE {n} counter"
        );
        for (p, v) in self.rejected.lock().iter() {
            let _ = writeln!(out, "{n}{{path=\"{p}\"}} {v}");
        }
        let n = "vitals_ingest_errors_total";
        let _ = writeln!(out, "# HELP {n} Ingest requests that failed, by status code.\n# TYPE {n} counter");
        for ((p, c), v) in self.errors.lock().iter() {
            let _ = writeln!(out, "{n}{{code=\"{c}\",path=\"{p}\"}} {v}");
        }
    }
}

/// gzip for API answers when the client asks for it, at the fastest level: on the networks
/// dashboards use, compressing at level 6 costs more time than the smaller answer saves.
fn compression() -> CompressionLayer {
    CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest)
}

/// The router with every endpoint, request metrics and authentication.
pub fn router(state: Arc<WebState>) -> Router {
    let ingest_limit = DefaultBodyLimit::max(state.limits.max_compressed_bytes as usize);
    Router::new()
        .route("/-/healthy", get(handlers::healthy).head(handlers::healthy))
        .route("/-/ready", get(handlers::ready).head(handlers::ready))
        .route("/-/reload", post(handlers::reload).put(handlers::reload))
        .route("/health", get(handlers::health))
        .route("/metrics", get(handlers::metrics))
        .route("/host/metrics", get(handlers::host_metrics))
        .route("/probe", get(probe_api::probe))
        .route("/api/v1/probes", get(probe_api::probes))
        .route("/api/v1/targets", get(handlers::targets))
        .route("/api/v1/metadata", get(handlers::metadata))
        .route("/api/v1/series", get(meta_api::series).post(meta_api::series).layer(compression()))
        .route("/api/v1/labels", get(meta_api::labels).post(meta_api::labels).layer(compression()))
        .route("/api/v1/label/{name}/values", get(meta_api::label_values).layer(compression()))
        .route("/api/v1/query", get(query_api::query).post(query_api::query).layer(compression()))
        .route("/api/v1/query_range", get(query_api::query_range).post(query_api::query_range).layer(compression()))
        .route("/api/v1/format_query", get(query_api::format_query).post(query_api::format_query))
        .route("/api/v1/query_exemplars", get(query_api::query_exemplars).post(query_api::query_exemplars))
        .route("/api/v1/status/buildinfo", get(handlers::buildinfo))
        .route("/api/v1/rules", get(rules_api::rules))
        .route("/api/v1/alerts", get(rules_api::alerts))
        .route("/api/v1/slos", get(slo_api::slos))
        .route("/api/v1/live", get(live::live))
        .route("/api/v1/dashboards", get(dashboards::list))
        .route("/api/v1/dashboards/{id}", get(dashboards::get_one).put(dashboards::put).delete(dashboards::delete))
        .route("/api/v2/alerts", get(am_api::get_alerts).post(am_api::post_alerts))
        .route("/api/v2/alerts/groups", get(am_api::get_alert_groups))
        .route("/api/v2/silences", get(am_api::get_silences).post(am_api::post_silences))
        .route("/api/v2/silence/{id}", get(am_api::get_silence).delete(am_api::delete_silence))
        .route("/api/v2/status", get(am_api::status))
        .route("/api/v2/receivers", get(am_api::receivers))
        .route("/api/v1/status/runtimeinfo", get(status_api::runtimeinfo))
        .route("/api/v1/status/flags", get(status_api::flags))
        .route("/api/v1/status/config", get(status_api::config))
        .route("/api/v1/status/tsdb", get(status_api::tsdb))
        .route("/api/v1/write", post(handlers::remote_write).layer(ingest_limit))
        .route("/api/v1/import/prometheus", post(handlers::import).layer(ingest_limit))
        .route("/api/v1/otlp/v1/metrics", post(handlers::otlp).layer(ingest_limit))
        .route("/", get(handlers::index))
        .fallback(ui::fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::check))
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Records the duration and status of every request under its route pattern.
async fn track(State(state): State<Arc<WebState>>, req: Request, next: Next) -> Response {
    let handler = req.extensions().get::<MatchedPath>().map_or("other", |p| p.as_str()).to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    state.http_metrics.observe(&handler, resp.status().as_u16(), started.elapsed());
    resp
}

/// An error in Prometheus' API format and key order: `{"status":"error","errorType":…,"error":…}`.
pub fn api_error(status: u16, error_type: &str, msg: impl Into<String>) -> Response {
    let mut body = String::from(r#"{"status":"error","errorType":"#);
    query_json::json_string(&mut body, error_type);
    body.push_str(r#","error":"#);
    query_json::json_string(&mut body, &msg.into());
    body.push('}');
    let code = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (code, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}
