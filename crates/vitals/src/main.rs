//! The `vitals` command line.
// The command line prints its results on stdout by design.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod alerting;
mod config;
mod forward;
mod rules;
mod serve;

#[derive(Parser)]
#[command(name = "vitals", version, about = "How fast and how healthy is your backend?")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server: scraping, storage, ingest endpoints and the HTTP API (default 127.0.0.1:9797).
    Serve(serve::ServeArgs),
    /// Validates files without starting anything.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Storage tools.
    #[command(subcommand)]
    Tsdb(TsdbCommand),
    /// Runs unit tests.
    #[command(subcommand)]
    Test(TestCommand),
    /// Load-tests an HTTP endpoint; exit code 99 when a threshold is broken.
    Load(LoadArgs),
}

#[derive(clap::Args)]
struct LoadArgs {
    /// The URL to request (http://); not with --scenario.
    #[arg(required_unless_present = "scenario")]
    url: Option<String>,
    /// A YAML scenario file: workload, thresholds and several weighted requests with checks (instead of
    /// URL and the request and model flags; --timeout and --threshold still apply).
    #[arg(long, conflicts_with_all = ["url", "rate", "vus", "duration", "connections", "method", "headers", "body"])]
    scenario: Option<PathBuf>,
    /// Open model: requests per second (`500/s`, `30000/m`); latency counts from the intended send time.
    #[arg(long)]
    rate: Option<String>,
    /// Closed model: virtual users, each sending when its previous response arrived (default 1).
    #[arg(long, default_value_t = 1)]
    vus: u32,
    /// How long to run (`30s`, `2m`).
    #[arg(long, default_value = "10s")]
    duration: String,
    /// Connections in the pool (default: VUs, or 100 in the open model).
    #[arg(long)]
    connections: Option<usize>,
    /// HTTP method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// A request header `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// Request body.
    #[arg(long)]
    body: Option<String>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s")]
    timeout: String,
    /// A budget such as `p95<500ms`, `errors<1%`, `rps>100` (repeatable).
    #[arg(long = "threshold")]
    thresholds: Vec<String>,
    /// Threads that send requests (default: one per core); `--threads 1` matches `wrk -t1`.
    #[arg(long)]
    threads: Option<usize>,
    /// Write the summary as JSON (schema vitals.load.summary/v1) to this file.
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Write a JUnit XML report (one test case per threshold, plus one for request errors) to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
}

#[derive(Subcommand)]
enum TestCommand {
    /// Runs rule unit tests in `promtool test rules`' format; exit code 1 if any fails.
    Rules {
        /// The test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CheckCommand {
    /// Checks a configuration file (YAML syntax, unknown keys, values); exit code 1 if invalid.
    Config {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Checks a web configuration file (TLS, basic_auth_users, bearer_tokens).
    WebConfig {
        /// The file.
        file: PathBuf,
    },
    /// Checks Prometheus rule files as `promtool check rules` does; exit code 1 if any is invalid.
    Rules {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TsdbCommand {
    /// Opens a data directory (replaying its WAL) and prints what it holds as JSON.
    Inspect {
        /// The data directory.
        #[arg(default_value = "data")]
        dir: PathBuf,
    },
    /// Prints where the bytes of each persisted block go (per encoding and per metric).
    Analyze {
        /// The data directory.
        #[arg(default_value = "data")]
        dir: PathBuf,
    },
    /// Persists the head into blocks, merges blocks and applies retention, then exits.
    Compact {
        /// The data directory.
        #[arg(default_value = "data")]
        dir: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve::run(args),
        Command::Check(CheckCommand::Config { files }) => check_config(&files),
        Command::Check(CheckCommand::WebConfig { file }) => {
            vitals_web::WebConfig::load(&file).map_err(anyhow::Error::msg)?;
            println!("SUCCESS: {} is valid", file.display());
            Ok(())
        }
        Command::Check(CheckCommand::Rules { files }) => {
            if !rules::check(&files) {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Load(args) => load(args),
        Command::Test(TestCommand::Rules { files }) => {
            let mut ok = true;
            for f in &files {
                let (report, passed) = vitals_rules::unittest::run_file(f);
                print!("{report}");
                ok &= passed;
            }
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Tsdb(TsdbCommand::Inspect { dir }) => inspect(&dir),
        Command::Tsdb(TsdbCommand::Analyze { dir }) => analyze(&dir),
        Command::Tsdb(TsdbCommand::Compact { dir }) => {
            let db = vitals_tsdb::Db::open(&dir, vitals_tsdb::Options::default())
                .with_context(|| format!("opening {}", dir.display()))?;
            db.flush_head().context("compacting")?;
            inspect_db(&db)
        }
    }
}

fn load(a: LoadArgs) -> anyhow::Result<()> {
    use vitals_load::{parse_duration, parse_rate, LoadConfig, Model, Scenario, Threshold};
    let (mut cfg, suite) = if let Some(file) = &a.scenario {
        (Scenario::load(file)?.into_config(), file.display().to_string())
    } else {
        let url = a.url.as_deref().context("a URL or --scenario is needed")?;
        let model = match &a.rate {
            Some(r) => Model::Open { rate_per_sec: parse_rate(r)? },
            None => Model::Closed { vus: a.vus },
        };
        let mut cfg = LoadConfig::new(url)?.with_model(model);
        cfg.duration = parse_duration(&a.duration)?;
        cfg.method = a.method.to_uppercase();
        if let Some(c) = a.connections {
            cfg.connections = c;
        }
        for h in &a.headers {
            let (n, v) = h.split_once(':').with_context(|| format!("--header {h:?}: expected `Name: value`"))?;
            cfg.headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        if let Some(b) = a.body {
            cfg.body = b.into_bytes();
        }
        (cfg, url.to_string())
    };
    cfg.timeout = parse_duration(&a.timeout)?;
    for t in &a.thresholds {
        cfg.thresholds.push(Threshold::parse(t).with_context(|| format!("--threshold {t:?}"))?);
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = a.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build()?;
    let summary = rt.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
        vitals_load::run(cfg, Some(rx)).await
    })?;
    print!("{}", summary.to_text());
    if let Some(f) = &a.summary_json {
        std::fs::write(f, summary.to_json_pretty()).with_context(|| format!("writing {}", f.display()))?;
    }
    if let Some(f) = &a.junit {
        std::fs::write(f, summary.to_junit(&format!("vitals load {suite}")))
            .with_context(|| format!("writing {}", f.display()))?;
    }
    if !summary.passed() {
        std::process::exit(99);
    }
    Ok(())
}

fn check_config(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for f in files {
        match config::load(f) {
            Ok(cfg) => {
                println!(
                    "SUCCESS: {} is valid ({} scrape job(s), {} remote_write, {} SLO(s))",
                    f.display(),
                    cfg.scrape_configs.len(),
                    cfg.remote_write.len(),
                    cfg.slos.len()
                );
                if !cfg.slos.is_empty() {
                    println!("\n# Rules generated for slos:\n{}", vitals_rules::slo::rules_yaml(&cfg.slos));
                }
            }
            Err(e) => {
                eprintln!("FAILED: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn inspect(dir: &std::path::Path) -> anyhow::Result<()> {
    let db = vitals_tsdb::Db::open(dir, vitals_tsdb::Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    inspect_db(&db)
}

fn inspect_db(db: &vitals_tsdb::Db) -> anyhow::Result<()> {
    use std::io::Write;
    let head = db.head();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{{\"head\":{{\"series\":{},\"minTime\":{},\"maxTime\":{}}},\"walBytes\":{},\"blocksBytes\":{},\"blocks\":[",
        head.num_series(),
        head.min_time(),
        head.max_time(),
        db.wal_bytes(),
        db.blocks_bytes()
    )?;
    let blocks = db.blocks();
    for (i, b) in blocks.iter().enumerate() {
        let m = b.meta();
        let sep = if i + 1 < blocks.len() { "," } else { "" };
        writeln!(
            out,
            "  {{\"ulid\":\"{}\",\"minTime\":{},\"maxTime\":{},\"series\":{},\"samples\":{},\"chunks\":{},\"level\":{},\"bytes\":{}}}{sep}",
            m.ulid, m.min_time, m.max_time, m.stats.num_series, m.stats.num_samples, m.stats.num_chunks, m.compaction.level, b.size()
        )?;
    }
    writeln!(out, "]}}")?;
    Ok(())
}

fn analyze(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let db = vitals_tsdb::Db::open(dir, vitals_tsdb::Options::default())
        .with_context(|| format!("opening {}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    for b in db.blocks() {
        let a = b.analyze().with_context(|| format!("reading block {}", b.meta().ulid))?;
        let per = |bytes: u64| bytes as f64 / a.samples.max(1) as f64;
        writeln!(out, "block {} samples {} bytes/sample {:.3}", b.meta().ulid, a.samples, per(b.size()))?;
        writeln!(out, "  index {:.3} B/sample, chunks file {:.3} B/sample", per(a.index_bytes), per(a.chunks_bytes))?;
        for (t, bytes) in &a.ts_bytes_by_type {
            writeln!(out, "  timestamps type {t}: {:.4} B/sample", per(*bytes))?;
        }
        for (t, (bytes, n)) in &a.value_bytes_by_type {
            writeln!(
                out,
                "  values type {t}: {n} samples, {:.3} bits/sample own, {:.4} B/sample of all",
                *bytes as f64 * 8.0 / *n as f64,
                per(*bytes)
            )?;
        }
        let mut metrics: Vec<_> = a.value_bytes_by_metric.iter().collect();
        metrics.sort_by_key(|m| std::cmp::Reverse(m.1 .0));
        for (name, (bytes, n)) in metrics.into_iter().take(25) {
            writeln!(
                out,
                "  {name}: {:.2} bits/sample, {:.4} B/sample of all",
                *bytes as f64 * 8.0 / *n as f64,
                per(*bytes)
            )?;
        }
    }
    Ok(())
}
