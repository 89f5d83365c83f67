//! Runs a load test: the open-model scheduler, the workers, the connection pool and the stop signal.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, watch, Mutex, Semaphore};
use tokio::time::{sleep_until, Instant};

use crate::config::{weighted_order, Checks, ConfigError, LoadConfig, Model};
use crate::http::{Conn, HttpError, PreparedRequest, Response};
use crate::summary::{ErrorCounts, Summary};

/// Largest latency the histograms track (1 hour, in microseconds); larger values are clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Runs `cfg` until its duration has passed or `cancel` becomes `true`, and summarizes the run.
///
/// Requests still in flight when the run stops are abandoned and not counted. In the open model,
/// latency is measured from each request's intended start time (`t0 + i / rate`), so time spent
/// queued behind a slow server counts (wrk2's coordinated-omission correction); when more than
/// `cfg.backlog` (10 s by default) of requests are queued, new iterations are dropped and counted in `dropped_iterations`.
pub async fn run(cfg: LoadConfig, cancel: Option<watch::Receiver<bool>>) -> Result<Summary, ConfigError> {
    cfg.validate()?;
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopper = tokio::spawn(async move {
        let was_cancelled = tokio::select! {
            _ = sleep_until(deadline) => false,
            _ = cancelled(cancel) => true,
        };
        let _ = stop_tx.send(true);
        (Instant::now(), was_cancelled)
    });

    let specs = cfg.request_specs();
    let weights: Vec<u32> = specs.iter().map(|r| r.weight).collect();
    // Requests to the same host and port share idle keep-alive connections.
    let mut addrs: Vec<(&str, u16)> = Vec::new();
    let mut targets = Vec::with_capacity(specs.len());
    for r in &specs {
        let addr = (r.url.host.as_str(), r.url.port);
        let pool = addrs.iter().position(|a| *a == addr).unwrap_or_else(|| {
            addrs.push(addr);
            addrs.len() - 1
        });
        targets.push(Target { req: PreparedRequest::new(r), checks: r.checks.clone(), pool });
    }
    let shared = Arc::new(Shared {
        targets,
        idle: addrs.iter().map(|_| StdMutex::new(Vec::with_capacity(cfg.connections))).collect(),
        order: weighted_order(&weights),
        next: AtomicUsize::new(0),
        timeout: cfg.timeout,
        permits: Semaphore::new(cfg.connections),
    });
    let n_targets = specs.len();
    let mut workers = Vec::new();
    let mut dropped = 0;
    match cfg.model {
        Model::Closed { vus } => {
            for _ in 0..vus {
                let (shared, stop) = (shared.clone(), stop_rx.clone());
                workers.push(tokio::spawn(closed_worker(shared, stop, n_targets)));
            }
        }
        Model::Open { rate_per_sec } => {
            let backlog = (rate_per_sec * cfg.backlog.as_secs_f64()).clamp(1.0, 1_000_000.0) as usize;
            let (tx, rx) = mpsc::channel::<Instant>(backlog);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..cfg.connections {
                let (shared, stop, rx) = (shared.clone(), stop_rx.clone(), rx.clone());
                workers.push(tokio::spawn(open_worker(shared, stop, rx, n_targets)));
            }
            dropped = schedule(rate_per_sec, start, deadline, tx, stop_rx.clone()).await;
        }
    }

    let mut total = Stats::new(n_targets);
    for w in workers {
        if let Ok(stats) = w.await {
            total.merge(stats);
        }
    }
    let (stopped_at, was_cancelled) = stopper.await.unwrap_or_else(|_| (Instant::now(), false));
    let hist = std::mem::replace(&mut total.hist, Histogram::new(1).expect("valid"));
    let duration = stopped_at.duration_since(start);
    let by_name = if cfg.requests.is_empty() {
        Vec::new()
    } else {
        specs.iter().map(|r| r.name.clone()).zip(std::mem::take(&mut total.by_request)).collect()
    };
    Ok(Summary::build(&cfg, duration, was_cancelled, &hist, total.counts(dropped), by_name))
}

/// Resolves when `cancel` becomes `true`; never when there is no cancel channel or its sender is gone.
async fn cancelled(cancel: Option<watch::Receiver<bool>>) {
    if let Some(mut c) = cancel {
        if c.wait_for(|v| *v).await.is_ok() {
            return;
        }
    }
    std::future::pending::<()>().await
}

/// Resolves when the run is told to stop.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|v| *v).await;
}

/// Emits intended start times at `rate` into the workers' queue until the deadline; returns the number
/// of iterations dropped because the queue was full. The pacing runs on its own OS thread with
/// `std::thread::sleep`: tokio's timer rounds every wake-up up to the next millisecond, and since
/// latency counts from the intended time, that rounding would show up as up to 1 ms of latency.
async fn schedule(
    rate: f64,
    t0: Instant,
    deadline: Instant,
    tx: mpsc::Sender<Instant>,
    stop: watch::Receiver<bool>,
) -> u64 {
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stopping.clone();
    let pacer = std::thread::Builder::new().name("vitals-load-pacer".into()).spawn(move || {
        let mut dropped = 0u64;
        for i in 0u64.. {
            let intended = t0 + Duration::from_secs_f64(i as f64 / rate);
            if intended >= deadline || flag.load(Ordering::Relaxed) {
                break;
            }
            let now = Instant::now();
            if intended > now {
                std::thread::sleep(intended - now);
            }
            match tx.try_send(intended) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => dropped += 1,
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
        }
        dropped
    });
    let Ok(pacer) = pacer else { return 0 };
    stopped(stop).await;
    stopping.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || pacer.join().unwrap_or(0)).await.unwrap_or(0)
}

/// What every worker shares: the requests, the timeout and the connection pool.
struct Shared {
    targets: Vec<Target>,
    /// One weighted round-robin cycle of indexes into `targets`.
    order: Vec<usize>,
    /// The iteration counter, position in `order`.
    next: AtomicUsize,
    timeout: Duration,
    /// One permit per pooled connection (shared by all requests).
    permits: Semaphore,
    /// Idle keep-alive connections, one list per distinct target address.
    idle: Vec<StdMutex<Vec<Conn>>>,
}

/// One request of the run.
struct Target {
    req: PreparedRequest,
    checks: Checks,
    /// Index into `Shared::idle`.
    pool: usize,
}

/// A virtual user: sends the next request as soon as the previous one is done.
async fn closed_worker(shared: Arc<Shared>, stop: watch::Receiver<bool>, n_targets: usize) -> Stats {
    let mut stats = Stats::new(n_targets);
    let stop = stopped(stop);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = iteration(&shared, None, &mut stats) => {}
        }
    }
    stats
}

/// A connection's worker in the open model: takes the next intended start time from the queue.
async fn open_worker(
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    rx: Arc<Mutex<mpsc::Receiver<Instant>>>,
    n_targets: usize,
) -> Stats {
    let mut stats = Stats::new(n_targets);
    let stop = stopped(stop);
    tokio::pin!(stop);
    loop {
        let next = async { rx.lock().await.recv().await };
        let intended = tokio::select! {
            biased;
            _ = &mut stop => break,
            next = next => match next {
                Some(t) => t,
                None => break,
            },
        };
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = iteration(&shared, Some(intended), &mut stats) => {}
        }
    }
    stats
}

/// One request: wait for a pooled connection, send, record. Latency starts at `intended` when given
/// (open model), else at the actual send.
async fn iteration(shared: &Shared, intended: Option<Instant>, stats: &mut Stats) {
    let i = shared.order[shared.next.fetch_add(1, Ordering::Relaxed) % shared.order.len()];
    let target = &shared.targets[i];
    let Ok(_permit) = shared.permits.acquire().await else { return };
    let sent = Instant::now();
    let pool = &shared.idle[target.pool];
    let idle = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let result = tokio::time::timeout(shared.timeout, exchange(&target.req, idle)).await;
    let done = Instant::now();
    stats.requests += 1;
    stats.by_request[i].requests += 1;
    let failed = match result {
        Ok(Ok((resp, conn))) => {
            if resp.keep_alive {
                pool.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            }
            let latency = done.saturating_duration_since(intended.unwrap_or(sent));
            stats.record(i, resp, latency, &target.checks)
        }
        Ok(Err(HttpError::Connect(_))) => {
            stats.errors.connect += 1;
            true
        }
        Ok(Err(_)) => {
            stats.errors.other += 1;
            true
        }
        Err(_elapsed) => {
            stats.errors.timeout += 1;
            true
        }
    };
    if failed {
        stats.by_request[i].errors += 1;
    }
}

/// Sends the request on `conn` (or a new connection), retrying once on a fresh connection when a
/// reused one turns out to have been closed by the server.
async fn exchange(req: &PreparedRequest, conn: Option<Conn>) -> Result<(Response, Conn), HttpError> {
    if let Some(mut conn) = conn {
        match conn.send(req).await {
            Ok(resp) => return Ok((resp, conn)),
            Err(HttpError::ClosedEarly) => {}
            Err(e) => return Err(e),
        }
    }
    let mut conn = Conn::connect(req).await?;
    let resp = conn.send(req).await?;
    Ok((resp, conn))
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

/// One request's tallies (for `requests_by_name`).
pub(crate) struct RequestStats {
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub errors: u64,
}

/// One worker's tallies, merged at the end of the run.
struct Stats {
    hist: Histogram<u64>,
    requests: u64,
    errors: ErrorCounts,
    bytes: u64,
    status_codes: BTreeMap<u16, u64>,
    /// Indexed like `Shared::targets`.
    by_request: Vec<RequestStats>,
}

impl Stats {
    fn new(n_targets: usize) -> Stats {
        Stats {
            hist: new_histogram(),
            requests: 0,
            errors: ErrorCounts::default(),
            bytes: 0,
            status_codes: BTreeMap::new(),
            by_request: (0..n_targets)
                .map(|_| RequestStats { hist: new_histogram(), requests: 0, errors: 0 })
                .collect(),
        }
    }

    /// Records a complete response to request `i`; returns whether it counts as an error.
    fn record(&mut self, i: usize, resp: Response, latency: Duration, checks: &Checks) -> bool {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        self.hist.saturating_record(us);
        self.by_request[i].hist.saturating_record(us);
        self.bytes += resp.bytes;
        *self.status_codes.entry(resp.status).or_default() += 1;
        if checks.status.is_empty() && resp.status >= 400 {
            self.errors.status += 1;
            return true;
        }
        let status_ok = checks.status.is_empty() || checks.status.contains(&resp.status);
        let body_ok = checks.body_contains.as_ref().is_none_or(|needle| contains(&resp.body, needle.as_bytes()));
        let latency_ok = checks.max_latency.is_none_or(|max| latency <= max);
        if status_ok && body_ok && latency_ok {
            return false;
        }
        self.errors.check += 1;
        true
    }

    fn merge(&mut self, other: Stats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        for (mine, theirs) in self.by_request.iter_mut().zip(other.by_request) {
            let _ = mine.hist.add(&theirs.hist);
            mine.requests += theirs.requests;
            mine.errors += theirs.errors;
        }
        self.requests += other.requests;
        self.errors.connect += other.errors.connect;
        self.errors.timeout += other.errors.timeout;
        self.errors.status += other.errors.status;
        self.errors.check += other.errors.check;
        self.errors.other += other.errors.other;
        self.bytes += other.bytes;
        for (code, n) in other.status_codes {
            *self.status_codes.entry(code).or_default() += n;
        }
    }

    fn counts(self, dropped: u64) -> crate::summary::Counts {
        crate::summary::Counts {
            requests: self.requests,
            errors: self.errors,
            bytes_received: self.bytes,
            status_codes: self.status_codes,
            dropped_iterations: dropped,
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
