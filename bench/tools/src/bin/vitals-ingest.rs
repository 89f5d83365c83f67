//! The vitals side of `bench/ingest.sh`: scrapes targets over HTTP into the storage engine (the way
//! the scraper will once it exists), or imports a text exposition with timestamps and persists it.
//!
//! ```text
//! vitals-ingest scrape --data DIR --targets-file FILE [--interval 5s] [--duration 180s]
//! vitals-ingest import --data DIR FILE [--keep-head]
//! ```
//! Both print one JSON line with what was ingested.

#![allow(clippy::print_stdout)] // the JSON line on stdout is this tool's output

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustc_hash::FxHashMap;
use vitals_model::exposition::{parse_series, Entry, TextParser};
use vitals_model::{Appender, Labels, SeriesRef, StorageError};
use vitals_tsdb::{Db, HeadAppender, Options};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("scrape") => scrape(&args[1..]),
        Some("import") => import(&args[1..]),
        _ => Err("usage: vitals-ingest scrape|import ... (see the source's header)".to_string()),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vitals-ingest: {e}");
            ExitCode::FAILURE
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("bad duration {s:?}")),
    })
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn open_db(dir: &str) -> Result<Arc<Db>, String> {
    Db::open(dir, Options::default()).map_err(|e| format!("opening {dir}: {e}"))
}

/// Appends by cached series reference, creating the reference from the series text on a miss.
struct SeriesCache {
    refs: FxHashMap<Box<str>, SeriesRef>,
    extra: Vec<(String, String)>,
}

impl SeriesCache {
    fn new(extra: Vec<(String, String)>) -> Self {
        SeriesCache { refs: FxHashMap::default(), extra }
    }

    fn labels(&self, series: &str) -> Result<Labels, String> {
        let parsed = parse_series(series)?;
        if self.extra.is_empty() {
            return Ok(parsed);
        }
        let mut b = parsed.builder();
        for (n, v) in &self.extra {
            b.set(n, v);
        }
        Ok(b.build())
    }

    /// Appends one sample; returns whether a new series reference was created.
    fn append(&mut self, app: &mut HeadAppender, series: &str, t: i64, v: f64) -> Result<bool, String> {
        if let Some(r) = self.refs.get(series) {
            match app.append_ref(*r, t, v) {
                Ok(()) => return Ok(false),
                Err(StorageError::UnknownRef(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let labels = self.labels(series)?;
        let r = app.append(&labels, t, v).map_err(|e| e.to_string())?;
        self.refs.insert(series.into(), r);
        Ok(true)
    }
}

struct Target {
    host: String,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("only http:// targets: {url}"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Ok(Target { host: host.to_string(), path: if path.is_empty() { "/metrics".into() } else { path.into() } })
}

/// A keep-alive HTTP/1.1 GET with a Content-Length response body.
fn http_get(conn: &mut Option<BufReader<TcpStream>>, t: &Target, body: &mut Vec<u8>) -> Result<(), String> {
    if conn.is_none() {
        let s = TcpStream::connect(&t.host).map_err(|e| format!("connect {}: {e}", t.host))?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        s.set_nodelay(true).ok();
        *conn = Some(BufReader::with_capacity(1 << 16, s));
    }
    let r = conn.as_mut().ok_or("no connection")?;
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/plain;version=0.0.4\r\nUser-Agent: vitals-ingest\r\n\r\n",
        t.path, t.host
    );
    r.get_mut().write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut line = String::new();
    let mut len: Option<usize> = None;
    let mut status_ok = false;
    let mut first = true;
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("connection closed".into());
        }
        let l = line.trim_end();
        if first {
            status_ok = l.split_whitespace().nth(1) == Some("200");
            first = false;
            continue;
        }
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok();
            }
        }
    }
    let len = len.ok_or("response without Content-Length")?;
    body.resize(len, 0);
    r.read_exact(body).map_err(|e| e.to_string())?;
    if !status_ok {
        return Err("non-200 response".into());
    }
    Ok(())
}

struct Totals {
    scrapes: AtomicU64,
    errors: AtomicU64,
    scraped: AtomicU64,
}

fn scrape(args: &[String]) -> Result<(), String> {
    let dir = flag(args, "--data").ok_or("--data DIR is required")?;
    let file = flag(args, "--targets-file").ok_or("--targets-file FILE is required")?;
    let interval = duration(&flag(args, "--interval").unwrap_or_else(|| "5s".into()))?;
    let total = duration(&flag(args, "--duration").unwrap_or_else(|| "180s".into()))?;
    let urls: Vec<String> = std::fs::read_to_string(&file)
        .map_err(|e| format!("{file}: {e}"))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let db = open_db(&dir)?;
    let _maintenance = db.spawn_maintenance(Duration::from_secs(60));
    let stop = Arc::new(AtomicBool::new(false));
    let totals = Arc::new(Totals { scrapes: AtomicU64::new(0), errors: AtomicU64::new(0), scraped: AtomicU64::new(0) });
    let start = Instant::now();
    let n = urls.len().max(1) as u32;
    // A small pool of workers (one per core) scrapes all targets, each at its own offset in the
    // interval, so buffers and threads do not grow with the number of targets.
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(urls.len().max(1));
    let mut pools: Vec<Vec<TargetState>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, url) in urls.iter().enumerate() {
        let target = parse_url(url)?;
        let extra = vec![
            ("job".to_string(), "synth".to_string()),
            ("instance".to_string(), format!("{}{}", target.host, target.path)),
        ];
        pools[i % workers].push(TargetState {
            cache: SeriesCache::new(extra),
            target,
            conn: None,
            next: start + interval * i as u32 / n,
        });
    }
    let mut handles = Vec::new();
    for pool in pools {
        let db = db.clone();
        let stop = stop.clone();
        let totals = totals.clone();
        handles.push(std::thread::spawn(move || worker(db, pool, interval, stop, totals)));
    }
    while start.elapsed() < total {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    println!(
        "{{\"samples\":{},\"series\":{},\"scrapes\":{},\"errors\":{},\"scraped\":{},\"seconds\":{:.3}}}",
        db.metrics().samples_appended_total.get(),
        db.head().num_series(),
        totals.scrapes.load(Ordering::Relaxed),
        totals.errors.load(Ordering::Relaxed),
        totals.scraped.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    // Everything committed is already durable; skip freeing the head's memory piece by piece.
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// One target and what its scrapes keep between runs.
struct TargetState {
    target: Target,
    cache: SeriesCache,
    conn: Option<BufReader<TcpStream>>,
    next: Instant,
}

fn worker(db: Arc<Db>, mut targets: Vec<TargetState>, interval: Duration, stop: Arc<AtomicBool>, totals: Arc<Totals>) {
    let mut body = Vec::new();
    let mut app = db.appender();
    while !stop.load(Ordering::Relaxed) {
        let Some(ts) = targets.iter_mut().min_by_key(|t| t.next) else { return };
        let now = Instant::now();
        if now < ts.next {
            std::thread::sleep((ts.next - now).min(Duration::from_secs(1)));
            continue;
        }
        ts.next += interval;
        scrape_once(ts, &mut app, &mut body, &totals);
    }
}

fn scrape_once(ts: &mut TargetState, app: &mut HeadAppender, body: &mut Vec<u8>, totals: &Totals) {
    let t = now_ms();
    let began = Instant::now();
    let res = http_get(&mut ts.conn, &ts.target, body);
    let mut scraped = 0u64;
    let mut added = 0u64;
    let ok = match res.and_then(|_| std::str::from_utf8(body).map_err(|e| e.to_string())) {
        Ok(text) => {
            let mut failed = None;
            for e in TextParser::new(text) {
                match e {
                    Ok(Entry::Sample { series, value, .. }) => {
                        scraped += 1;
                        match ts.cache.append(app, series, t, value) {
                            Ok(new) => added += u64::from(new),
                            Err(e) => failed = Some(e),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                }
            }
            failed.is_none()
        }
        Err(_) => {
            ts.conn = None;
            false
        }
    };
    if !ok {
        let _ = app.rollback();
        totals.errors.fetch_add(1, Ordering::Relaxed);
        scraped = 0;
    }
    let took = began.elapsed().as_secs_f64();
    for (name, v) in [
        ("up", if ok { 1.0 } else { 0.0 }),
        ("scrape_duration_seconds", took),
        ("scrape_samples_scraped", scraped as f64),
        ("scrape_samples_post_metric_relabeling", scraped as f64),
        ("scrape_series_added", added as f64),
    ] {
        let _ = ts.cache.append(app, name, t, v);
    }
    if let Err(e) = app.commit() {
        eprintln!("commit failed: {e}");
        totals.errors.fetch_add(1, Ordering::Relaxed);
    }
    totals.scrapes.fetch_add(1, Ordering::Relaxed);
    totals.scraped.fetch_add(scraped, Ordering::Relaxed);
}

fn import(args: &[String]) -> Result<(), String> {
    let dir = flag(args, "--data").ok_or("--data DIR is required")?;
    let file = args.iter().skip(1).filter(|a| !a.starts_with("--")).find(|a| **a != dir).ok_or("FILE is required")?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let db = open_db(&dir)?;
    let started = Instant::now();
    let mut app = db.appender();
    let mut cache = SeriesCache::new(Vec::new());
    let mut n: u64 = 0;
    for e in TextParser::new(&text) {
        match e.map_err(|e| format!("{file}: {e}"))? {
            Entry::Sample { series, value, timestamp } => {
                let t = timestamp.ok_or_else(|| format!("{file}: sample without timestamp: {series}"))?;
                cache.append(&mut app, series, t, value).map_err(|e| format!("{file}: {series}: {e}"))?;
                n += 1;
                if n.is_multiple_of(100_000) {
                    app.commit().map_err(|e| e.to_string())?;
                }
                if n.is_multiple_of(5_000_000) {
                    db.compact().map_err(|e| e.to_string())?;
                }
            }
            _ => continue,
        }
    }
    app.commit().map_err(|e| e.to_string())?;
    drop(app);
    if args.iter().any(|a| a == "--keep-head") {
        // Report what the head holds in memory instead of persisting it.
        println!(
            "{{\"samples\":{n},\"head_series\":{},\"head_chunk_bytes\":{}}}",
            db.head().num_series(),
            db.head().chunk_bytes()
        );
        return Ok(());
    }
    db.flush_head().map_err(|e| e.to_string())?;
    let chunks: u64 = db.blocks().iter().map(|b| b.meta().stats.num_chunks).sum();
    println!(
        "{{\"samples\":{n},\"bytes\":{},\"blocks\":{},\"chunks\":{chunks},\"seconds\":{:.3}}}",
        db.blocks_bytes(),
        db.blocks().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
