//! remote_write load generator for `bench/ingest.sh` (phase `rw`): sends Prometheus remote_write 1.0
//! requests (snappy-compressed protobuf `WriteRequest`s) of the synth-target series mix to one URL over
//! `--concurrency` keep-alive HTTP/1.1 connections for `--duration`, and prints one JSON line
//! `{"samples": N, "requests": R, "failed": F, "failed_samples": FS, "seconds": S, "bytes": B, ...}`
//! where `samples` counts samples of acknowledged (2xx) requests only.
//!
//! ```text
//! rw-load --url http://127.0.0.1:9797/api/v1/write [--series 100000] [--series-per-target 2000]
//!         [--concurrency 4] [--duration 60s] [--samples-per-request 2000] [--interval 1s]
//!         [--start-ms MS] [--seed 1]
//! ```
//!
//! Series are those of `synth-target` (one page of `--series-per-target` series per target) with
//! `job="rw"` and `instance="synth-<i>"`; values follow the same model. Connection `c` owns targets
//! `c, c + C, ...` and sends their samples round after round (one sample per series per round, round
//! timestamps `--interval` apart starting at `--start-ms`, default one hour ago), one request at a time,
//! so every series' timestamps increase across requests and no receiver sees out-of-order samples.
//! Requests hold `--samples-per-request` series with one sample each, like Prometheus' shards with
//! `max_samples_per_send: 2000`. Each request is encoded just before it is sent (label bytes are encoded
//! once up front, so that costs about one protobuf copy plus snappy); the tool's own CPU is in the JSON
//! (`client_cpu_seconds`). The first request is checked by decoding it with vitals' own `prompb`
//! messages.

#![allow(clippy::print_stdout)] // the JSON line on stdout is this tool's output

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vitals_bench::{jittered_ts_ms, now_ms, parse_duration_ms, parse_flags, Page};

use vitals_remote::prompb;

const SEED: u64 = 0x5eed;
const JITTER_MS: u64 = 25;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rw-load: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Config {
    host: String,
    path: String,
    series: usize,
    series_per_target: usize,
    concurrency: usize,
    duration: Duration,
    per_request: usize,
    interval_ms: u64,
    start_ms: u64,
    seed: u64,
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let known = [
        "url",
        "series",
        "series-per-target",
        "concurrency",
        "duration",
        "samples-per-request",
        "interval",
        "start-ms",
        "seed",
        "help",
    ];
    let f = parse_flags(args, &known)?;
    if f.contains_key("help") {
        return Err("usage: see the header of bench/tools/src/bin/rw-load.rs".into());
    }
    let num = |name: &str, def: u64| -> Result<u64, String> {
        f.get(name).map_or(Ok(def), |v| v.parse().map_err(|_| format!("--{name}: bad number {v:?}")))
    };
    let url = f.get("url").ok_or("--url URL is required")?;
    let rest = url.strip_prefix("http://").ok_or("--url must start with http://")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let interval_ms = parse_duration_ms(f.get("interval").map_or("1s", String::as_str))?.max(1);
    let c = Config {
        host: host.to_string(),
        path: if path.is_empty() { "/api/v1/write".into() } else { path.into() },
        series: num("series", 100_000)? as usize,
        series_per_target: num("series-per-target", 2000)? as usize,
        concurrency: num("concurrency", 4)?.max(1) as usize,
        duration: Duration::from_millis(parse_duration_ms(f.get("duration").map_or("60s", String::as_str))?),
        per_request: num("samples-per-request", 2000)?.max(1) as usize,
        interval_ms,
        start_ms: num("start-ms", now_ms().saturating_sub(3_600_000))?,
        seed: num("seed", SEED)?,
    };
    if c.series == 0 || c.series_per_target == 0 {
        return Err("--series and --series-per-target must be positive".into());
    }
    Ok(c)
}

// ---------------------------------------------------------------------------------------------------------
// Protobuf encoding by hand: label bytes per series are encoded once; a request is then the series' label
// bytes plus one sample each, framed as `WriteRequest.timeseries` entries.

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_bytes(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    out.push(tag);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// `TimeSeries.labels` entries (field 1) for the sorted label pairs.
fn encode_labels(pairs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut label = Vec::new();
    for (k, v) in pairs {
        label.clear();
        put_bytes(&mut label, 0x0a, k.as_bytes());
        put_bytes(&mut label, 0x12, v.as_bytes());
        put_bytes(&mut out, 0x0a, &label);
    }
    out
}

/// Appends one `WriteRequest.timeseries` entry: the labels and one sample.
fn put_series(out: &mut Vec<u8>, labels: &[u8], value: f64, ts: i64) {
    let sample_len = 1 + 8 + 1 + varint_len(ts as u64);
    let series_len = labels.len() + 1 + varint_len(sample_len as u64) + sample_len;
    out.push(0x0a);
    put_varint(out, series_len as u64);
    out.extend_from_slice(labels);
    out.push(0x12);
    put_varint(out, sample_len as u64);
    out.push(0x09);
    out.extend_from_slice(&value.to_le_bytes());
    out.push(0x10);
    put_varint(out, ts as u64);
}

/// Parses `name{k="v",...}` as the synth pages write it (no escapes) into label pairs.
fn parse_series(s: &str) -> Result<Vec<(String, String)>, String> {
    let (name, rest) = match s.find('{') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let mut pairs = vec![("__name__".to_string(), name.to_string())];
    let mut rest = rest.strip_suffix('}').unwrap_or(rest);
    while !rest.is_empty() {
        let eq = rest.find("=\"").ok_or_else(|| format!("bad series {s:?}"))?;
        let key = &rest[..eq];
        let after = &rest[eq + 2..];
        let end = after.find('"').ok_or_else(|| format!("bad series {s:?}"))?;
        pairs.push((key.to_string(), after[..end].to_string()));
        rest = after[end + 1..].strip_prefix(',').unwrap_or(&after[end + 1..]);
    }
    Ok(pairs)
}

// ---------------------------------------------------------------------------------------------------------

/// One synthetic target owned by a connection: label bytes of its series and their current values.
struct TargetGen {
    target: u64,
    labels: Vec<Vec<u8>>,
    vals: Vec<i64>,
}

struct Totals {
    samples: AtomicU64,
    requests: AtomicU64,
    failed: AtomicU64,
    failed_samples: AtomicU64,
    bytes: AtomicU64,
    raw_bytes: AtomicU64,
    last_ts: AtomicU64,
    errors_logged: AtomicU64,
}

fn run(args: &[String]) -> Result<(), String> {
    let cfg = Arc::new(parse_args(args)?);
    let targets = cfg.series.div_ceil(cfg.series_per_target);
    let page = Arc::new(Page::build(cfg.series_per_target, &[]));
    let texts: Vec<Vec<(String, String)>> =
        (0..page.len()).map(|i| parse_series(page.series_text(i))).collect::<Result<_, _>>()?;
    let conns = cfg.concurrency.min(targets);
    let mut owned: Vec<Vec<TargetGen>> = (0..conns).map(|_| Vec::new()).collect();
    for t in 0..targets {
        let instance = format!("synth-{t}");
        let labels = texts
            .iter()
            .map(|pairs| {
                let mut all = pairs.clone();
                all.push(("instance".into(), instance.clone()));
                all.push(("job".into(), "rw".into()));
                all.sort();
                encode_labels(&all)
            })
            .collect();
        let vals = page.init(cfg.seed, t as u64, 0, cfg.interval_ms);
        owned[t % conns].push(TargetGen { target: t as u64, labels, vals });
    }
    let totals = Arc::new(Totals {
        samples: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        failed_samples: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        raw_bytes: AtomicU64::new(0),
        last_ts: AtomicU64::new(0),
        errors_logged: AtomicU64::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = owned
        .into_iter()
        .enumerate()
        .map(|(c, gens)| {
            let (cfg, page, totals, stop) = (cfg.clone(), page.clone(), totals.clone(), stop.clone());
            std::thread::spawn(move || worker(c, &cfg, &page, gens, &totals, &stop))
        })
        .collect();
    eprintln!(
        "rw-load: sending {} series ({targets} targets x {}) over {conns} connection(s), {} samples per request, \
         to {} for {:?}",
        targets * page.len(),
        page.len(),
        cfg.per_request,
        cfg.path,
        cfg.duration
    );
    while start.elapsed() < cfg.duration {
        std::thread::sleep(Duration::from_millis(50).min(cfg.duration.saturating_sub(start.elapsed())));
    }
    stop.store(true, Ordering::Relaxed);
    let mut err = None;
    for h in handles {
        if let Err(e) = h.join().map_err(|_| "worker panicked".to_string()).and_then(|r| r) {
            err = Some(e);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if let Some(e) = err {
        return Err(e);
    }
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "{{\"samples\": {}, \"requests\": {}, \"failed\": {}, \"failed_samples\": {}, \"seconds\": {secs:.3}, \
         \"bytes\": {}, \"raw_bytes\": {}, \"series\": {}, \"connections\": {conns}, \"first_ts_ms\": {}, \
         \"last_ts_ms\": {}, \"client_cpu_seconds\": {:.3}}}",
        g(&totals.samples),
        g(&totals.requests),
        g(&totals.failed),
        g(&totals.failed_samples),
        g(&totals.bytes),
        g(&totals.raw_bytes),
        targets * page.len(),
        cfg.start_ms,
        g(&totals.last_ts),
        self_cpu_seconds()
    );
    Ok(())
}

/// utime + stime of this process from /proc/self/stat (0 where unavailable).
fn self_cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let Some(rest) = s.rsplit_once(") ").map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0 // USER_HZ is 100 on Linux
}

fn worker(
    c: usize,
    cfg: &Config,
    page: &Page,
    mut gens: Vec<TargetGen>,
    totals: &Totals,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut raw = Vec::with_capacity(cfg.per_request * 256);
    let mut packed = Vec::new();
    let mut encoder = snap::raw::Encoder::new();
    let mut in_req = 0usize;
    let mut checked = c != 0;
    let mut resp = Vec::new();
    let mut step = 0u64;
    'rounds: loop {
        for g in &mut gens {
            if step > 0 {
                page.advance(&mut g.vals, cfg.seed, g.target, step, cfg.interval_ms);
            }
            let ts = cfg.start_ms + jittered_ts_ms(cfg.seed, g.target, step, cfg.interval_ms, JITTER_MS);
            for (i, labels) in g.labels.iter().enumerate() {
                put_series(&mut raw, labels, page.value_f64(i, g.vals[i]), ts as i64);
                in_req += 1;
                if in_req == cfg.per_request {
                    if stop.load(Ordering::Relaxed) {
                        break 'rounds;
                    }
                    if !checked {
                        check_request(&raw, in_req)?;
                        checked = true;
                    }
                    packed.resize(snap::raw::max_compress_len(raw.len()), 0);
                    let n = encoder.compress(&raw, &mut packed).map_err(|e| format!("snappy: {e}"))?;
                    match post(&mut conn, cfg, &packed[..n], &mut resp) {
                        Ok(status) if (200..300).contains(&status) => {
                            totals.samples.fetch_add(in_req as u64, Ordering::Relaxed);
                            totals.last_ts.fetch_max(ts, Ordering::Relaxed);
                        }
                        Ok(status) => {
                            fail(totals, in_req, &format!("HTTP {status}: {}", String::from_utf8_lossy(&resp)));
                        }
                        Err(e) => {
                            conn = None;
                            fail(totals, in_req, &e);
                        }
                    }
                    totals.requests.fetch_add(1, Ordering::Relaxed);
                    totals.bytes.fetch_add(n as u64, Ordering::Relaxed);
                    totals.raw_bytes.fetch_add(raw.len() as u64, Ordering::Relaxed);
                    raw.clear();
                    in_req = 0;
                }
            }
        }
        step += 1;
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(())
}

fn fail(totals: &Totals, samples: usize, msg: &str) {
    totals.failed.fetch_add(1, Ordering::Relaxed);
    totals.failed_samples.fetch_add(samples as u64, Ordering::Relaxed);
    if totals.errors_logged.fetch_add(1, Ordering::Relaxed) < 10 {
        eprintln!("rw-load: request failed: {}", msg.chars().take(300).collect::<String>());
    }
}

/// Decodes the first request with the prost messages: catches an encoding mistake before any load.
fn check_request(raw: &[u8], samples: usize) -> Result<(), String> {
    let req: prompb::WriteRequest = prost::Message::decode(raw).map_err(|e| format!("self-check: {e}"))?;
    let n: usize = req.timeseries.iter().map(|s| s.samples.len()).sum();
    let ok = n == samples
        && req.timeseries.iter().all(|s| {
            s.labels.first().is_some_and(|l| l.name == "__name__" && !l.value.is_empty())
                && s.labels.windows(2).all(|w| w[0].name < w[1].name)
                && s.samples.iter().all(|x| x.timestamp > 0)
        });
    if !ok {
        return Err(format!("self-check: decoded {n} samples of {samples}, or bad labels/timestamps"));
    }
    Ok(())
}

/// One keep-alive HTTP/1.1 POST of a snappy remote_write body; returns the status (body in `resp`).
fn post(conn: &mut Option<BufReader<TcpStream>>, cfg: &Config, body: &[u8], resp: &mut Vec<u8>) -> Result<u16, String> {
    if conn.is_none() {
        let s = TcpStream::connect(&cfg.host).map_err(|e| format!("connect {}: {e}", cfg.host))?;
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        s.set_nodelay(true).ok();
        *conn = Some(BufReader::with_capacity(1 << 14, s));
    }
    let r = conn.as_mut().ok_or("no connection")?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rw-load\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\n\r\n",
        cfg.path,
        cfg.host,
        body.len()
    );
    let s = r.get_mut();
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut line = String::new();
    let (mut status, mut len, mut chunked, mut close, mut first) = (0u16, None::<usize>, false, false, true);
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("connection closed".into());
        }
        let l = line.trim_end();
        if first {
            status =
                l.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad status {l:?}"))?;
            first = false;
            continue;
        }
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                len = v.parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                close = true;
            }
        }
    }
    resp.clear();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).map_err(|e| e.to_string())?;
            let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| format!("bad chunk size {line:?}"))?;
            let at = resp.len();
            resp.resize(at + n + 2, 0);
            r.read_exact(&mut resp[at..]).map_err(|e| e.to_string())?;
            resp.truncate(at + n);
            if n == 0 {
                break;
            }
        }
    } else if let Some(n) = len {
        resp.resize(n, 0);
        r.read_exact(resp).map_err(|e| e.to_string())?;
    } else if status != 204 && status != 304 && !(100..200).contains(&status) {
        r.read_to_end(resp).map_err(|e| e.to_string())?;
        close = true;
    }
    if close {
        *conn = None;
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_encoding_decodes_with_prost() {
        let pairs = parse_series(r#"http_requests_total{handler="/a",code="200"}"#).unwrap();
        let mut all = pairs;
        all.push(("job".into(), "rw".into()));
        all.sort();
        let labels = encode_labels(&all);
        let mut raw = Vec::new();
        put_series(&mut raw, &labels, 1.5, 1_700_000_000_123);
        put_series(&mut raw, &labels, f64::MAX, 1);
        let req: prompb::WriteRequest = prost::Message::decode(raw.as_slice()).unwrap();
        assert_eq!(req.timeseries.len(), 2);
        let names: Vec<_> = req.timeseries[0].labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
        assert_eq!(names, [("__name__", "http_requests_total"), ("code", "200"), ("handler", "/a"), ("job", "rw")]);
        assert_eq!(req.timeseries[0].samples, [prompb::Sample { value: 1.5, timestamp: 1_700_000_000_123 }]);
        assert_eq!(req.timeseries[1].samples[0].value, f64::MAX);
        check_request(&raw, 2).unwrap();
    }
}
