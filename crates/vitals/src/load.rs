//! `vitals load`: runs a load test from flags or a scenario file, shows live progress, pushes each
//! second into a running vitals, and writes the text, JSON, JUnit and HTML reports and the baseline
//! comparison.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use tokio::sync::mpsc;
use vitals_load::baseline::{compare, BaselineOptions};
use vitals_load::{
    parse_duration, parse_rate, parse_stages, BusyPoll, LoadConfig, Model, RunHooks, Scenario, Second, Threshold,
};
use vitals_remote::prompb::{encode_snappy, Label, Sample, TimeSeries, WriteRequest};

/// The exit code when a threshold is broken or (with `--fail-on-regression`) the baseline regressed.
const EXIT_BUDGET: i32 = 99;

/// `vitals load` flags.
#[derive(clap::Args)]
pub struct LoadArgs {
    /// The URL to request (http:// or https://); not with --scenario.
    #[arg(required_unless_present = "scenario")]
    url: Option<String>,
    /// A YAML scenario file: workload, thresholds and several weighted requests with checks (instead of
    /// URL and the request and model flags; --timeout and --threshold still apply).
    #[arg(long, conflicts_with_all = ["url", "rate", "vus", "duration", "connections", "method", "headers", "body", "stages", "iterations"])]
    scenario: Option<PathBuf>,
    /// Open model: requests per second (`500/s`, `30000/m`); latency counts from the intended send time.
    /// With --stages, the rate to start from (`--rate 0` ramps from nothing).
    #[arg(long)]
    rate: Option<String>,
    /// Closed model: virtual users, each sending when its previous response arrived (default 1; with
    /// --stages, the VUs to start from, default 0).
    #[arg(long)]
    vus: Option<u32>,
    /// Ramping: `DURATION:TARGET,...` (e.g. `30s:100,1m:100,10s:0`); the target is VUs, or requests per
    /// second with --rate. The run lasts as long as the stages, or --duration when that is longer.
    #[arg(long)]
    stages: Option<String>,
    /// How long to run (`30s`, `2m`; default 10s, or 10m with --iterations).
    #[arg(long)]
    duration: Option<String>,
    /// Stop after this many iterations (requests, or flows of a sequential scenario), or at --duration.
    #[arg(long)]
    iterations: Option<u64>,
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
    /// https: accept any server certificate (self-signed test servers).
    #[arg(long, short = 'k')]
    insecure: bool,
    /// https: trust the CA certificates in this PEM file instead of the built-in roots.
    #[arg(long)]
    cacert: Option<PathBuf>,
    /// Speak HTTP/2: h2c with prior knowledge on http, ALPN `h2` on https; --connections connections,
    /// each carrying up to 100 concurrent streams.
    #[arg(long)]
    http2: bool,
    /// A budget such as `p95<500ms`, `errors<1%`, `rps>100` (repeatable).
    #[arg(long = "threshold")]
    thresholds: Vec<String>,
    /// Threads that send requests (default: one per core); `--threads 1` matches `wrk -t1`.
    #[arg(long)]
    threads: Option<usize>,
    /// Poll for responses instead of sleeping while at least 20,000/s arrive: `auto` (when --threads
    /// is below the machine's cores, or below a container's CPU quota), `on` or `off`. Spares the server the wake-ups of a sleeping client
    /// at the price of a busy core per thread.
    #[arg(long, default_value = "auto")]
    busy_poll: BusyPoll,
    /// Write the summary as JSON (schema vitals.load.summary/v1) to this file.
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Write a JUnit XML report (one test case per threshold, plus one for request errors) to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a self-contained HTML report (percentiles over time, throughput, errors, histogram).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Compare with an earlier run's --summary-json and print which latency quantiles or throughput
    /// regressed (one-sided Mann–Whitney U test on per-second values).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// With --baseline: exit with 99 when a regression is found.
    #[arg(long, requires = "baseline")]
    fail_on_regression: bool,
    /// With --baseline: the significance level (default 0.01).
    #[arg(long, requires = "baseline", default_value_t = 0.01)]
    alpha: f64,
    /// With --baseline: the smallest relative change that counts as a regression (default 0.05 = 5%).
    #[arg(long, requires = "baseline", default_value_t = 0.05)]
    min_change: f64,
    /// Send each second's results to a vitals (or any remote_write receiver) at this base URL, e.g.
    /// `http://127.0.0.1:9797`, as `vitals_load_*` series with a `run` label.
    #[arg(long)]
    push: Option<String>,
    /// The `run` label for --push (default: `load-` and the start time).
    #[arg(long)]
    run: Option<String>,
    /// Print one progress line per second on stderr even when it is not a terminal.
    #[arg(long)]
    progress: bool,
    /// No live progress view.
    #[arg(long, short = 'q', conflicts_with = "progress")]
    quiet: bool,
}

/// Runs `vitals load`.
pub fn main(a: LoadArgs) -> anyhow::Result<()> {
    let (mut cfg, suite) = config(&a)?;
    cfg.timeout = parse_duration(&a.timeout)?;
    cfg.insecure |= a.insecure;
    cfg.busy_poll = a.busy_poll;
    cfg.http2 |= a.http2;
    if a.cacert.is_some() {
        cfg.ca_file = a.cacert.clone();
    }
    for t in &a.thresholds {
        cfg.thresholds.push(Threshold::parse(t).with_context(|| format!("--threshold {t:?}"))?);
    }
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        anyhow::bail!("--alpha {}: expected a significance level between 0 and 1 (e.g. 0.01)", a.alpha);
    }
    if !(a.min_change >= 0.0 && a.min_change.is_finite()) {
        anyhow::bail!("--min-change {}: expected a relative change >= 0 (e.g. 0.05 for 5%)", a.min_change);
    }
    let baseline = match &a.baseline {
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("reading --baseline {}", f.display()))?;
            let v: Value =
                serde_json::from_str(&text).with_context(|| format!("--baseline {}: not JSON", f.display()))?;
            // Refuse a baseline that cannot be compared before spending the run on it.
            let opts = BaselineOptions::default();
            compare(&v, &v, &opts).with_context(|| format!("--baseline {}", f.display()))?;
            let want = match cfg.model {
                Model::Open { .. } => "open",
                Model::Closed { .. } => "closed",
            };
            if v["model"]["type"].as_str() != Some(want) {
                anyhow::bail!(
                    "--baseline {}: it ran the {} model, this run uses the {want} model; latencies are not comparable",
                    f.display(),
                    v["model"]["type"].as_str().unwrap_or("unknown")
                );
            }
            Some(v)
        }
        None => None,
    };
    let run_name = a.run.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        format!("load-{secs}")
    });
    let view = if a.quiet {
        View::None
    } else if std::io::stderr().is_terminal() {
        View::Bar
    } else if a.progress {
        View::Lines
    } else {
        View::None
    };

    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = a.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build()?;
    let duration = cfg.duration;
    let push = a.push.clone();
    let (summary, pushed) = rt.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
        let (sec_tx, sec_rx) = mpsc::unbounded_channel();
        let started_ms = now_ms();
        let observer = tokio::spawn(observe(sec_rx, view, duration, push, run_name, started_ms));
        let summary = vitals_load::run_with(cfg, RunHooks { cancel: Some(rx), seconds: Some(sec_tx) }).await;
        let pushed = observer.await.unwrap_or_default();
        summary.map(|s| (s, pushed))
    })?;
    if let Some(p) = &pushed {
        if p.failed > 0 {
            eprintln!("push: {} of {} writes failed; last error: {}", p.failed, p.sent, p.last_error);
        }
    }
    print!("{}", summary.to_text());
    let mut json = summary.to_json();
    let mut regressed = false;
    if let Some(b) = &baseline {
        let opts = BaselineOptions { alpha: a.alpha, min_change: a.min_change };
        let cmp = compare(&json, b, &opts).context("--baseline")?;
        print!(
            "baseline comparison (one-sided Mann–Whitney U on per-second values, alpha {}):\n{}",
            a.alpha,
            cmp.to_text()
        );
        regressed = cmp.regressed();
        if let Some(obj) = json.as_object_mut() {
            obj.insert("baseline".into(), cmp.to_json());
        }
    }
    if let Some(f) = &a.summary_json {
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        std::fs::write(f, text).with_context(|| format!("writing {}", f.display()))?;
    }
    if let Some(f) = &a.junit {
        std::fs::write(f, summary.to_junit(&format!("vitals load {suite}")))
            .with_context(|| format!("writing {}", f.display()))?;
    }
    if let Some(f) = &a.html {
        let page = vitals_load::report::html(&json, baseline.as_ref(), &format!("vitals load {suite}"));
        std::fs::write(f, page).with_context(|| format!("writing {}", f.display()))?;
    }
    if !summary.passed() || (regressed && a.fail_on_regression) {
        std::process::exit(EXIT_BUDGET);
    }
    Ok(())
}

/// The run's configuration from the flags or the scenario file, and its name for reports.
fn config(a: &LoadArgs) -> anyhow::Result<(LoadConfig, String)> {
    if let Some(file) = &a.scenario {
        return Ok((Scenario::load(file)?.into_config(), file.display().to_string()));
    }
    let url = a.url.as_deref().context("a URL or --scenario is needed")?;
    let ramps = a.stages.is_some();
    let model = match &a.rate {
        Some(r) if ramps && r.trim_start_matches('0').trim_start_matches('.').trim_start_matches('0').is_empty() => {
            Model::Open { rate_per_sec: 0.0 }
        }
        Some(r) => Model::Open { rate_per_sec: parse_rate(r)? },
        None => Model::Closed { vus: a.vus.unwrap_or(if ramps { 0 } else { 1 }) },
    };
    let mut cfg = LoadConfig::new(url)?.with_model(model);
    if let Some(s) = &a.stages {
        cfg = cfg.with_stages(parse_stages(s)?);
    }
    cfg.iterations = a.iterations;
    if a.iterations.is_some() && !ramps {
        cfg.duration = vitals_load::ITERATIONS_MAX_DURATION;
    }
    if let Some(d) = &a.duration {
        let d = parse_duration(d)?;
        cfg.duration = if ramps { cfg.duration.max(d) } else { d };
    }
    cfg.method = a.method.to_uppercase();
    if let Some(c) = a.connections {
        cfg.connections = c;
    }
    for h in &a.headers {
        let (n, v) = h.split_once(':').with_context(|| format!("--header {h:?}: expected `Name: value`"))?;
        cfg.headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    if let Some(b) = &a.body {
        cfg.body = b.clone().into_bytes();
    }
    Ok((cfg, url.to_string()))
}

/// How progress is shown while the run goes on.
#[derive(Clone, Copy, PartialEq)]
enum View {
    None,
    /// A live line on a terminal (indicatif).
    Bar,
    /// One plain line per second.
    Lines,
}

/// What `--push` achieved.
#[derive(Default)]
struct Pushed {
    sent: u64,
    failed: u64,
    last_error: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Consumes the per-second results: updates the progress view and pushes them.
async fn observe(
    mut rx: mpsc::UnboundedReceiver<Second>,
    view: View,
    duration: Duration,
    push: Option<String>,
    run: String,
    started_ms: i64,
) -> Option<Pushed> {
    let bar = (view == View::Bar).then(|| {
        let bar = indicatif::ProgressBar::new(duration.as_secs().max(1));
        let style = indicatif::ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len}s  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar
    });
    // Pushing runs on its own task behind a bounded queue, so a slow receiver neither delays the
    // progress view nor holds the summary back for long.
    let (push_tx, pusher) = match push.as_deref() {
        Some(p) => {
            let (tx, rx) = mpsc::channel::<Vec<u8>>(PUSH_QUEUE);
            let url = format!("{}/api/v1/write", p.trim_end_matches('/'));
            (Some(tx), Some(tokio::spawn(pusher(rx, url))))
        }
        None => (None, None),
    };
    let mut queue_full = 0u64;
    let mut totals = Totals::default();
    while let Some(s) = rx.recv().await {
        totals.add(&s);
        let line = format!(
            "{:.0}s  {:.0} req/s  p95 {:.2} ms  p99 {:.2} ms  errors {} ({} total)  target {}",
            s.t,
            s.rps(),
            s.p95,
            s.p99,
            s.errors,
            totals.errors,
            s.target
        );
        match (&bar, view) {
            (Some(bar), _) => {
                bar.set_position(s.t as u64);
                bar.set_message(line);
            }
            (None, View::Lines) => eprintln!("{line}"),
            _ => {}
        }
        if let Some(tx) = &push_tx {
            if tx.try_send(encode_snappy(&write_request(&s, &totals, &run, started_ms))).is_err() {
                queue_full += 1;
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    drop(push_tx);
    let pusher = pusher?;
    // What is still queued gets a few seconds at the end.
    let mut pushed = match tokio::time::timeout(Duration::from_secs(10), pusher).await {
        Ok(Ok(p)) => p,
        _ => Pushed {
            failed: 1,
            last_error: "gave up waiting for the receiver at the end of the run".into(),
            ..Pushed::default()
        },
    };
    if queue_full > 0 {
        pushed.failed += queue_full;
        pushed.sent += queue_full;
        pushed.last_error = format!("{queue_full} seconds dropped: the receiver did not keep up");
    }
    Some(pushed)
}

/// Seconds waiting to be pushed before new ones are dropped.
const PUSH_QUEUE: usize = 60;
/// Consecutive failed pushes after which pushing stops for the rest of the run.
const PUSH_GIVE_UP: u64 = 5;

/// Sends each queued remote_write body to `url`; stops after `PUSH_GIVE_UP` failures in a row.
async fn pusher(mut rx: mpsc::Receiver<Vec<u8>>, url: String) -> Pushed {
    let mut p = Pushed::default();
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
        Ok(c) => c,
        Err(e) => {
            p.failed = 1;
            p.last_error = e.to_string();
            return p;
        }
    };
    let mut in_a_row = 0;
    while let Some(body) = rx.recv().await {
        p.sent += 1;
        if in_a_row >= PUSH_GIVE_UP {
            p.failed += 1;
            continue;
        }
        let res = client
            .post(&url)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .await;
        let err = match res {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("HTTP {}", r.status())),
            Err(e) => Some(e.to_string()),
        };
        match err {
            None => in_a_row = 0,
            Some(e) => {
                if p.failed == 0 {
                    eprintln!("push to {url} failed: {e} (the run goes on)");
                }
                p.failed += 1;
                in_a_row += 1;
                if in_a_row == PUSH_GIVE_UP {
                    eprintln!("push to {url}: {PUSH_GIVE_UP} failures in a row, no more pushes in this run");
                }
                p.last_error = e;
            }
        }
    }
    p
}

/// Running totals for the pushed counters.
#[derive(Default)]
struct Totals {
    requests: u64,
    errors: u64,
    bytes: u64,
}

impl Totals {
    fn add(&mut self, s: &Second) {
        self.requests += s.requests;
        self.errors += s.errors;
        self.bytes += s.bytes;
    }
}

/// One second as remote_write series (names in docs/format/load-summary.md, "Pushed series").
fn write_request(s: &Second, totals: &Totals, run: &str, started_ms: i64) -> WriteRequest {
    let ts = started_ms + (s.t * 1000.0).round() as i64;
    let series = |name: &str, extra: Option<(&str, &str)>, value: f64| {
        let mut labels = vec![Label { name: "__name__".into(), value: name.into() }];
        labels.push(Label { name: "job".into(), value: "vitals_load".into() });
        if let Some((n, v)) = extra {
            labels.push(Label { name: n.into(), value: v.into() });
        }
        labels.push(Label { name: "run".into(), value: run.into() });
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        TimeSeries { labels, samples: vec![Sample { value, timestamp: ts }], ..Default::default() }
    };
    let mut timeseries = vec![
        series("vitals_load_requests_total", None, totals.requests as f64),
        series("vitals_load_errors_total", None, totals.errors as f64),
        series("vitals_load_bytes_received_total", None, totals.bytes as f64),
        series("vitals_load_requests_per_second", None, s.rps()),
        series("vitals_load_target", None, s.target),
    ];
    if s.responses > 0 {
        for (q, v) in [("0.5", s.p50), ("0.9", s.p90), ("0.95", s.p95), ("0.99", s.p99), ("1", s.max)] {
            timeseries.push(series("vitals_load_latency_seconds", Some(("quantile", q)), v / 1e3));
        }
    }
    WriteRequest { timeseries, metadata: Vec::new() }
}
