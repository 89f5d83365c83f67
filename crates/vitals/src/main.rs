//! The `vitals` command line.
// The command line prints its results on stdout by design.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod alerting;
mod config;
mod forward;
mod load;
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
    Load(Box<load::LoadArgs>),
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
        Command::Load(args) => load::main(*args),
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
