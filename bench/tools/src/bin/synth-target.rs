//! `synth-target`: a minimal HTTP/1.1 server (keep-alive, Content-Length) serving `--targets` synthetic scrape
//! targets at `/metrics/<i>`, each a realistic application + node_exporter page of `--series-per-target` series
//! whose values advance once per `--interval` from `--seed`. Also serves `/targets` (one path per line) and
//! `/stats` (requests and samples served so far). Prints `listening on http://ADDR` and the series total on stdout.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use vitals_bench::{now_ms, parse_duration_ms, parse_flags, Page};

const USAGE: &str = "usage: synth-target [--listen 127.0.0.1:PORT] [--targets 50] [--series-per-target 2000] \
[--interval 5s] [--seed N]";
const MAX_CONNECTIONS: usize = 1024;

/// Values and the cached page of one target.
struct Slot {
    step: u64,
    vals: Vec<i64>,
    body: Arc<Vec<u8>>,
}

struct Shared {
    page: Page,
    seed: u64,
    interval_ms: u64,
    slots: Vec<Mutex<Slot>>,
    requests: AtomicU64,
    samples: AtomicU64,
    connections: AtomicUsize,
}

impl Shared {
    /// The page of target `t` at the current step, advancing and re-rendering it if time moved on.
    fn body(&self, t: usize) -> Arc<Vec<u8>> {
        let step = now_ms() / self.interval_ms;
        let mut slot = self.slots[t].lock().unwrap_or_else(|e| e.into_inner());
        if slot.step < step || slot.body.is_empty() {
            while slot.step < step {
                slot.step += 1;
                let s = slot.step;
                self.page.advance(&mut slot.vals, self.seed, t as u64, s, self.interval_ms);
            }
            let mut out = Vec::with_capacity(slot.body.len().max(1 << 16));
            self.page.render_scrape(&slot.vals, &mut out);
            slot.body = Arc::new(out);
        }
        slot.body.clone()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match parse_flags(&args, &["listen", "targets", "series-per-target", "interval", "seed", "help"]) {
        Ok(f) => f,
        Err(e) => fail(&e),
    };
    if flags.contains_key("help") {
        let _ = writeln!(io::stdout(), "{USAGE}");
        return;
    }
    let listen = flags.get("listen").map_or("127.0.0.1:0", String::as_str);
    let targets: usize = num(&flags, "targets", 50);
    let per_target: usize = num(&flags, "series-per-target", vitals_bench::DEFAULT_SERIES_PER_TARGET as u64) as usize;
    let seed = num(&flags, "seed", vitals_bench::DEFAULT_SEED);
    let interval_ms = match flags.get("interval").map(|s| parse_duration_ms(s)) {
        None => vitals_bench::DEFAULT_INTERVAL_MS,
        Some(Ok(ms)) if ms > 0 => ms,
        Some(_) => fail("bad --interval"),
    };
    let page = Page::build(per_target, &[]);
    let step = now_ms() / interval_ms;
    let slots = (0..targets)
        .map(|t| {
            Mutex::new(Slot { step, vals: page.init(seed, t as u64, step, interval_ms), body: Arc::new(Vec::new()) })
        })
        .collect();
    let shared = Arc::new(Shared {
        page,
        seed,
        interval_ms,
        slots,
        requests: AtomicU64::new(0),
        samples: AtomicU64::new(0),
        connections: AtomicUsize::new(0),
    });
    let listener = TcpListener::bind(listen).unwrap_or_else(|e| fail(&format!("bind {listen}: {e}")));
    let addr = listener.local_addr().unwrap_or_else(|e| fail(&e.to_string()));
    {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = writeln!(
            out,
            "targets {targets} series_per_target {} series_total {}",
            shared.page.len(),
            shared.page.len() * targets
        );
        let _ = out.flush();
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if shared.connections.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            continue;
        }
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let sh = shared.clone();
        let spawned = thread::Builder::new().stack_size(256 * 1024).spawn(move || {
            let _ = serve(stream, &sh);
            sh.connections.fetch_sub(1, Ordering::Relaxed);
        });
        if spawned.is_err() {
            shared.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn num<T: std::str::FromStr>(flags: &std::collections::HashMap<String, String>, name: &str, default: T) -> T {
    match flags.get(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| fail(&format!("bad --{name} {v:?}"))),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("synth-target: {msg}\n{USAGE}");
    std::process::exit(2)
}

/// Serves requests on one connection until the peer closes it, asks for `Connection: close`, or idles out.
fn serve(stream: TcpStream, sh: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let request = line.trim_end().to_string();
        if request.is_empty() {
            continue;
        }
        let mut parts = request.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("/").to_string();
        let version = parts.next().unwrap_or("HTTP/1.0").to_string();
        let mut keep_alive = version == "HTTP/1.1";
        let mut content_length = 0u64;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                let value = value.trim();
                match name.trim().to_ascii_lowercase().as_str() {
                    "connection" if value.eq_ignore_ascii_case("close") => keep_alive = false,
                    "connection" if value.eq_ignore_ascii_case("keep-alive") => keep_alive = true,
                    "content-length" => content_length = value.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        if content_length > 0 {
            io::copy(&mut (&mut reader).take(content_length), &mut io::sink())?;
        }
        let (status, ctype, body) = route(sh, &method, &path);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        writer.write_all(head.as_bytes())?;
        if method != "HEAD" {
            writer.write_all(&body)?;
        }
        writer.flush()?;
        if !keep_alive {
            return Ok(());
        }
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

fn route(sh: &Shared, method: &str, path: &str) -> (&'static str, &'static str, Arc<Vec<u8>>) {
    if method != "GET" && method != "HEAD" {
        return ("405 Method Not Allowed", TEXT, Arc::new(b"only GET\n".to_vec()));
    }
    let path = path.split('?').next().unwrap_or("");
    if let Some(i) = path.strip_prefix("/metrics/").and_then(|s| s.parse::<usize>().ok()) {
        if i < sh.slots.len() {
            let body = sh.body(i);
            sh.requests.fetch_add(1, Ordering::Relaxed);
            sh.samples.fetch_add(sh.page.len() as u64, Ordering::Relaxed);
            return ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
        }
    }
    match path {
        "/targets" => {
            let list: String = (0..sh.slots.len()).map(|i| format!("/metrics/{i}\n")).collect();
            ("200 OK", TEXT, Arc::new(list.into_bytes()))
        }
        "/stats" => {
            let s = format!(
                "requests {}\nsamples {}\ntargets {}\nseries_per_target {}\nseries_total {}\n",
                sh.requests.load(Ordering::Relaxed),
                sh.samples.load(Ordering::Relaxed),
                sh.slots.len(),
                sh.page.len(),
                sh.page.len() * sh.slots.len()
            );
            ("200 OK", TEXT, Arc::new(s.into_bytes()))
        }
        "/" => ("200 OK", TEXT, Arc::new(b"synth-target: /metrics/<i>, /targets, /stats\n".to_vec())),
        _ => ("404 Not Found", TEXT, Arc::new(b"not found\n".to_vec())),
    }
}
