//! `vitals serve`: opens storage, starts scraping and the HTTP server, reloads on SIGHUP or
//! `POST /-/reload`, and shuts down cleanly on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use vitals_scrape::Manager;
use vitals_tsdb::{Db, Options};
use vitals_web::{ComponentHealth, WebConfig, WebState};

use crate::config::{self, Config};

/// Arguments of `vitals serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Configuration file (Prometheus-compatible); without it vitals scrapes itself.
    #[arg(long = "config", alias = "config.file")]
    pub config: Option<PathBuf>,
    /// Data directory.
    #[arg(long = "storage.path", default_value = "data")]
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
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("vitals").build()?;
    rt.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = args.listen.parse().with_context(|| format!("--listen {:?}: not host:port", args.listen))?;
    let self_target = if addr.ip().is_unspecified() { format!("127.0.0.1:{}", addr.port()) } else { addr.to_string() };
    let cfg = match &args.config {
        Some(p) => config::load(p)?,
        None => config::default_config(&self_target),
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
    let state = Arc::new(state);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server =
        tokio::spawn(vitals_web::server::serve(listener, state.clone(), web_cfg.tls_server_config.clone(), stop_rx));
    let scheme = if web_cfg.tls_server_config.is_some() { "https" } else { "http" };

    // Storage: replaying the WAL may take a while; the server answers /-/ready with 503 meanwhile.
    let dir = args.storage_path.clone();
    let mut opts = db_options(&cfg);
    if args.agent {
        // An agent keeps only what the senders may still need: the head and its WAL.
        opts.retention_ms = opts.head.block_range;
    }
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
        let db = db.clone();
        state.health_sources.lock().push(("storage".into(), Arc::new(move || storage_health(&db))));
    }

    let manager = Arc::new(Manager::new(db.clone(), &format!("vitals/{}", env!("CARGO_PKG_VERSION"))));
    manager.apply(&cfg.global, &cfg.scrape_configs)?;
    let _ = state.scrape.set(manager.clone());
    let senders = crate::forward::Forwarders::start(&cfg, &args.storage_path).await?;
    {
        let s = senders.clone();
        state.metric_sources.lock().push(Arc::new(move |out: &mut String| s.render_metrics(out)));
    }

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
            Some(path) => reload(path, &manager, &senders, args.agent, &args.storage_path).await,
            None => Ok(()),
        };
        match &result {
            Ok(()) => tracing::info!("configuration reloaded"),
            Err(e) => tracing::error!(error = %e, "reload failed; the previous configuration keeps running"),
        }
        if let Some(r) = reply {
            let _ = r.send(result.map_err(|e| format!("{e:#}")));
        }
    }

    tracing::info!("shutting down: no new requests, finishing scrapes and commits");
    let _ = stop_tx.send(true);
    let _ = server.await;
    manager.shutdown().await;
    senders.shutdown().await;
    syncer.abort();
    drop(maintenance);
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || db2.sync()).await?.context("syncing storage")?;
    tracing::info!("stopped");
    Ok(())
}

async fn reload(
    path: &std::path::Path,
    manager: &Manager,
    senders: &crate::forward::Forwarders,
    agent: bool,
    data: &std::path::Path,
) -> anyhow::Result<()> {
    let cfg = config::load(path)?;
    if agent && cfg.remote_write.is_empty() {
        anyhow::bail!("{}: --agent needs at least one remote_write entry", path.display());
    }
    for w in cfg.warnings() {
        tracing::warn!("{w}");
    }
    manager.apply(&cfg.global, &cfg.scrape_configs)?;
    senders.apply(&cfg, data).await?;
    Ok(())
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
