//! `vitals serve`: opens storage, starts scraping and the HTTP server, reloads on SIGHUP or
//! `POST /-/reload`, and shuts down cleanly on SIGTERM or Ctrl-C.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::mpsc;
use vitals_model::PromDuration;
use vitals_promql::{Engine, EngineOptions};
use vitals_scrape::Manager;
use vitals_tsdb::{Db, Options};
use vitals_web::{ComponentHealth, TsdbHeadStats, TsdbStat, TsdbStatus, WebConfig, WebState};

use crate::config::{self, Config};

/// Arguments of `vitals serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Configuration file (Prometheus-compatible); without it vitals scrapes itself.
    #[arg(long = "config", alias = "config.file")]
    pub config: Option<PathBuf>,
    /// Data directory.
    #[arg(long = "storage.path", alias = "storage.tsdb.path", default_value = "data")]
    pub storage_path: PathBuf,
    /// Address to listen on.
    #[arg(long = "listen", alias = "web.listen-address", default_value = "127.0.0.1:9797")]
    pub listen: String,
    /// Web configuration file: TLS, basic_auth_users (bcrypt), bearer_tokens.
    #[arg(long = "web.config.file")]
    pub web_config: Option<PathBuf>,
    /// Scrape and forward only (remote_write); no local queries.
    #[arg(long)]
    pub agent: bool,
    /// How far back an instant selector looks for a sample.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    pub query_lookback_delta: PromDuration,
    /// Longest a query may run (the API's `timeout` parameter may only shorten it).
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: PromDuration,
    /// Most samples a query may hold in memory at once.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: u64,
}

impl ServeArgs {
    /// The flags as `/api/v1/status/flags` shows them, under Prometheus' names.
    fn flags(&self) -> BTreeMap<String, String> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        [
            ("config.file", path(&self.config)),
            ("storage.tsdb.path", self.storage_path.display().to_string()),
            ("web.listen-address", self.listen.clone()),
            ("web.config.file", path(&self.web_config)),
            ("agent", self.agent.to_string()),
            ("query.lookback-delta", self.query_lookback_delta.to_string()),
            ("query.timeout", self.query_timeout.to_string()),
            ("query.max-samples", self.query_max_samples.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The query engine these flags ask for.
    fn engine(&self) -> Engine {
        Engine::new(EngineOptions {
            lookback_delta: self.query_lookback_delta.get(),
            timeout: self.query_timeout.get(),
            max_samples: self.query_max_samples,
            ..EngineOptions::default()
        })
    }
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("vitals").build()?;
    rt.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = args.listen.parse().with_context(|| format!("--listen {:?}: not host:port", args.listen))?;
    let self_target = if addr.ip().is_unspecified() { format!("127.0.0.1:{}", addr.port()) } else { addr.to_string() };
    let (cfg, cfg_text) = match &args.config {
        Some(p) => config::load_with_text(p)?,
        None => (config::default_config(&self_target), config::default_config_text(&self_target)),
    };
    if args.agent && cfg.remote_write.is_empty() {
        anyhow::bail!("--agent needs a configuration with at least one remote_write entry");
    }
    for w in cfg.warnings() {
        tracing::warn!("{w}");
    }
    let web_cfg = match &args.web_config {
        Some(p) => WebConfig::load(p).map_err(anyhow::Error::msg)?,
        None => WebConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    let addr = listener.local_addr()?;
    let (reload_tx, mut reload_rx) = mpsc::channel(4);
    let mut state = WebState::new(cfg.limits.clone(), vitals_web::AuthConfig::new(&web_cfg));
    state.reload = Some(reload_tx);
    state.agent = args.agent;
    state.engine = args.engine();
    {
        let mut status = state.status.lock();
        status.config_yaml = config::redacted_yaml(&cfg_text);
        status.flags = args.flags();
    }
    *state.slos.lock() = cfg.slos.clone();
    *state.dashboards_dir.lock() = Some(match (&cfg.dashboards, &args.config) {
        (Some(d), Some(file)) => {
            config::resolve(file.parent().unwrap_or(std::path::Path::new(".")), &d.path.to_string_lossy())
        }
        (Some(d), None) => d.path.clone(),
        (None, _) => args.storage_path.join("dashboards"),
    });
    let state = Arc::new(state);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server =
        tokio::spawn(vitals_web::server::serve(listener, state.clone(), web_cfg.tls_server_config.clone(), stop_rx));
    let scheme = if web_cfg.tls_server_config.is_some() { "https" } else { "http" };

    // Host metrics with node_exporter's names at /host/metrics (scraped as job `node`).
    if cfg.host_metrics.unwrap_or(true) {
        match vitals_host::HostCollector::new(vitals_host::HostOptions::default()) {
            Ok(c) => {
                let c = Arc::new(c);
                let _ = state.host_metrics.set(Arc::new(move |out: &mut String| c.render_text(out)));
            }
            Err(e) => tracing::warn!(error = %e, "host metrics are off"),
        }
    }
    // The built-in Alertmanager needs no storage: its API answers while the WAL is replayed.
    let alerting = crate::alerting::Alerting::start(&cfg, &args.storage_path, format!("{scheme}://{addr}"))?;
    let alert_sink = alerting.sink();
    let _ = state.notifier.set(alerting.notifier.clone());
    {
        let a = alerting.clone();
        state.metric_sources.lock().push(Arc::new(move |out: &mut String| a.render_metrics(out)));
    }

    // Storage: replaying the WAL may take a while; the server answers /-/ready with 503 meanwhile.
    let dir = args.storage_path.clone();
    let mut opts = db_options(&cfg);
    if args.agent {
        // An agent keeps only what the senders may still need: the head and its WAL.
        opts.retention_ms = opts.head.block_range;
    }
    state.status.lock().storage_retention = retention_text(opts.retention_ms, opts.retention_bytes);
    let db = tokio::task::spawn_blocking(move || Db::open(&dir, opts))
        .await?
        .with_context(|| format!("opening storage in {}", args.storage_path.display()))?;
    let maintenance = db.spawn_maintenance(Duration::from_secs(60));
    // Scrape commits do not wait for an fsync; this makes them durable within a second.
    let syncer = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let d = db.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || d.sync()).await {
                    tracing::error!(error = %e, "syncing the WAL failed");
                }
            }
        })
    };
    let storage: Arc<dyn vitals_web::Storage> = db.clone();
    let _ = state.storage.set(storage);
    {
        let d = db.clone();
        state.metric_sources.lock().push(Arc::new(move |out: &mut String| d.render_metrics(out)));
        let d = db.clone();
        state.health_sources.lock().push(("storage".into(), Arc::new(move || storage_health(&d))));
        let d = db.clone();
        let _ = state.tsdb_status.set(Arc::new(move |limit| tsdb_status(&d, limit)));
        let d = db.clone();
        let _ = state.corruption_count.set(Arc::new(move || d.metrics().wal_corruptions_total.get()));
        let d = db.clone();
        let _ = state.commits.set(Arc::new(move || d.head().commit_seq()));
    }

    let manager = Arc::new(Manager::new(db.clone(), &format!("vitals/{}", env!("CARGO_PKG_VERSION"))));
    manager.apply(&cfg.global, &cfg.effective_scrape_configs(&self_target))?;
    let _ = state.scrape.set(manager.clone());
    let senders = crate::forward::Forwarders::start(&cfg, &args.storage_path).await?;
    {
        let s = senders.clone();
        state.metric_sources.lock().push(Arc::new(move |out: &mut String| s.render_metrics(out)));
    }

    // Probes: synthetic checks appended like scrapes, with an up/down history for uptime.
    let (probe_modules, probe_checks) = cfg.probe_setup()?;
    let probes = Arc::new(
        vitals_probe::ProbeManager::new(db.clone())
            .with_data_dir(&args.storage_path)
            .context("reading the probe history")?,
    );
    probes.apply(&probe_modules, probe_checks)?;
    *state.probe_modules.lock() = probe_modules;
    let _ = state.probes.set(probes.clone());

    // Rules: not in agent mode (an agent keeps no history to evaluate them on).
    let rule_manager = if args.agent {
        None
    } else {
        let m = vitals_rules::RuleManager::new(vitals_rules::ManagerOptions {
            engine: args.engine(),
            storage: db.clone(),
            appendable: db.clone(),
            state_dir: args.storage_path.join("rules-state"),
            external_labels: cfg.global.external_labels.clone(),
            external_url: format!("{scheme}://{addr}"),
            default_interval: cfg.global.evaluation_interval.0,
            resend_delay: Duration::from_secs(60),
            sink: Some(alert_sink.clone()),
        });
        let files = crate::rules::load(&cfg, args.config.as_deref())?;
        m.apply(&files).await.map_err(anyhow::Error::msg)?;
        let _ = state.rules.set(m.clone());
        Some(m)
    };

    tracing::info!(
        "vitals is up: UI and API on {scheme}://{addr}/ , data in {}, {} scrape job(s){}",
        args.storage_path.display(),
        cfg.scrape_configs.len(),
        if args.config.is_none() { " (default: vitals scrapes itself; pass --config to change)" } else { "" }
    );

    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let reply = tokio::select! {
            _ = hup.recv() => None,
            r = reload_rx.recv() => r,
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let result = match &args.config {
            Some(path) => {
                let parts = Parts {
                    scrape: &manager,
                    rules: rule_manager.as_ref(),
                    alerting: &alerting,
                    senders: &senders,
                    probes: &probes,
                    state: &state,
                };
                reload(path, &parts, args.agent, &args.storage_path, &self_target).await.map(Some)
            }
            None => Ok(None),
        };
        let result = {
            let mut status = state.status.lock();
            status.reload_success = result.is_ok();
            match result {
                Ok(text) => {
                    tracing::info!("configuration reloaded");
                    status.last_config_time = SystemTime::now();
                    if let Some((text, slos)) = text {
                        status.config_yaml = config::redacted_yaml(&text);
                        *state.slos.lock() = slos;
                    }
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload failed; the previous configuration keeps running");
                    Err(e)
                }
            }
        };
        if let Some(r) = reply {
            let _ = r.send(result.map_err(|e| format!("{e:#}")));
        }
    }

    tracing::info!("shutting down: finishing scrapes, then requests and commits");
    // Rules and scrapes stop first: a target that is vitals itself must not see its server gone (up = 0).
    if let Some(r) = &rule_manager {
        r.shutdown().await;
    }
    manager.shutdown().await;
    probes.shutdown().await;
    alerting.shutdown().await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    senders.shutdown().await;
    syncer.abort();
    drop(maintenance);
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || db2.sync()).await?.context("syncing storage")?;
    tracing::info!("stopped");
    Ok(())
}

/// The parts a reload reconfigures.
struct Parts<'a> {
    probes: &'a vitals_probe::ProbeManager,
    state: &'a WebState,
    scrape: &'a Manager,
    rules: Option<&'a Arc<vitals_rules::RuleManager>>,
    alerting: &'a crate::alerting::Alerting,
    senders: &'a crate::forward::Forwarders,
}

async fn reload(
    path: &std::path::Path,
    parts: &Parts<'_>,
    agent: bool,
    data: &std::path::Path,
    self_target: &str,
) -> anyhow::Result<(String, Vec<vitals_rules::slo::SloConfig>)> {
    let (cfg, text) = config::load_with_text(path)?;
    if agent && cfg.remote_write.is_empty() {
        anyhow::bail!("{}: --agent needs at least one remote_write entry", path.display());
    }
    for w in cfg.warnings() {
        tracing::warn!("{w}");
    }
    // Rule files are checked before anything changes, so a bad one leaves the old configuration running.
    let Parts { scrape: manager, rules, alerting, senders, probes, state } = *parts;
    let (probe_modules, probe_checks) = cfg.probe_setup()?;
    let rule_files = match rules {
        Some(_) => Some(crate::rules::load(&cfg, Some(path))?),
        None => None,
    };
    manager.apply(&cfg.global, &cfg.effective_scrape_configs(self_target))?;
    probes.apply(&probe_modules, probe_checks)?;
    *state.probe_modules.lock() = probe_modules;
    senders.apply(&cfg, data).await?;
    alerting.apply(&cfg)?;
    if let (Some(r), Some(files)) = (rules, rule_files) {
        r.apply(&files).await.map_err(anyhow::Error::msg)?;
    }
    Ok((text, cfg.slos))
}

fn db_options(cfg: &Config) -> Options {
    let mut o = Options::default();
    if let Some(r) = cfg.storage.retention {
        o.retention_ms = r.as_millis();
    }
    if let Some(s) = cfg.storage.retention_size {
        o.retention_bytes = s.0;
    }
    if let Some(w) = cfg.storage.tsdb.as_ref().and_then(|t| t.out_of_order_time_window) {
        o.head.ooo_window = w.as_millis();
    }
    o.head.max_series = cfg.storage.max_active_series;
    o
}

/// Retention as Prometheus' runtime information shows it: `15d`, `50GiB` or `15d or 50GiB`.
fn retention_text(ms: i64, bytes: u64) -> String {
    let mut parts = Vec::new();
    if ms > 0 {
        parts.push(PromDuration(Duration::from_millis(ms as u64)).to_string());
    }
    if bytes > 0 {
        let units = [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        let (unit, size) = units.into_iter().find(|(_, size)| bytes.is_multiple_of(*size)).unwrap_or(("B", 1));
        parts.push(format!("{}{unit}", bytes / size));
    }
    parts.join(" or ")
}

/// `/api/v1/status/tsdb` from the head's cardinality figures.
fn tsdb_status(db: &Db, limit: usize) -> TsdbStatus {
    let h = db.head_stats(limit);
    TsdbStatus {
        head_stats: TsdbHeadStats {
            num_series: h.num_series,
            num_label_pairs: h.num_label_pairs,
            chunk_count: h.chunk_count,
            min_time: h.min_time,
            max_time: h.max_time,
        },
        series_count_by_metric_name: TsdbStat::list(h.series_count_by_metric_name),
        label_value_count_by_label_name: TsdbStat::list(h.label_value_count_by_label_name),
        memory_in_bytes_by_label_name: TsdbStat::list(h.memory_in_bytes_by_label_name),
        series_count_by_label_value_pair: TsdbStat::list(h.series_count_by_label_value_pair),
    }
}

fn storage_health(db: &Db) -> ComponentHealth {
    let mut d = serde_json::Map::new();
    d.insert("path".into(), db.dir().display().to_string().into());
    d.insert("head_series".into(), db.head().num_series().into());
    d.insert("blocks".into(), db.blocks().len().into());
    d.insert("blocks_bytes".into(), db.blocks_bytes().into());
    d.insert("wal_bytes".into(), db.wal_bytes().into());
    let mut status = "ok";
    match rustix::fs::statvfs(db.dir()) {
        Ok(s) => {
            let free = s.f_bavail * s.f_frsize;
            d.insert("free_bytes".into(), free.into());
            d.insert("total_bytes".into(), (s.f_blocks * s.f_frsize).into());
            if free < 64 << 20 {
                status = "failing";
                d.insert("error".into(), "less than 64 MiB free on the storage volume".into());
            }
        }
        Err(e) => {
            d.insert("error".into(), format!("statvfs: {e}").into());
        }
    }
    ComponentHealth { status, details: d }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_reads_like_prometheus() {
        assert_eq!(retention_text(15 * 24 * 3600 * 1000, 0), "15d");
        assert_eq!(retention_text(0, 50 << 30), "50GiB");
        assert_eq!(retention_text(2 * 3600 * 1000, 1536 << 20), "2h or 1536MiB");
        assert_eq!(retention_text(0, 1000), "1000B");
    }
}
