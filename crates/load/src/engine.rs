//! Runs a load test: the open-model scheduler, the workers, the connection pool and the stop signal.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, watch, Mutex, Semaphore};
use tokio::time::{sleep_until, Instant};
use tokio_rustls::TlsConnector;

use crate::config::{weighted_order, BusyPoll, Checks, ConfigError, LoadConfig, Model, RequestSpec};
use crate::http::{tls_connector, Conn, HttpError, PreparedRequest, Response};
use crate::http2::{H2Pool, Setup, STREAMS_PER_CONN};
use crate::profile::Profile;
use crate::summary::{ErrorCounts, Phases, RunInfo, Summary};
use crate::timeline::{Second, Timeline};
use crate::vars::{json_at, DataTable, Extract, Template};

/// Largest latency the histograms track (1 hour, in microseconds); larger values are clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Tallies are kept in this many shards per runtime thread (workers share them, so memory does not
/// grow with the number of VUs).
const SHARDS_PER_THREAD: usize = 4;

/// Busy polling runs while at least this many responses arrive per `BUSY_WINDOW` (20,000/s).
const BUSY_MIN_RESPONSES: u64 = 20;
/// How often busy polling re-checks the response rate.
const BUSY_WINDOW: Duration = Duration::from_millis(1);
/// How often an idle busy poller checks whether responses come fast enough to start polling.
const BUSY_IDLE_CHECK: Duration = Duration::from_millis(10);

/// Hooks into a running load test.
#[derive(Default)]
pub struct RunHooks {
    /// When it becomes `true` the run stops early (Ctrl-C), with a summary.
    pub cancel: Option<watch::Receiver<bool>>,
    /// Receives each second's results shortly after the second ends (for a live view or `--push`).
    pub seconds: Option<mpsc::UnboundedSender<Second>>,
}

/// Runs `cfg` until its duration has passed or `cancel` becomes `true`, and summarizes the run.
pub async fn run(cfg: LoadConfig, cancel: Option<watch::Receiver<bool>>) -> Result<Summary, ConfigError> {
    run_with(cfg, RunHooks { cancel, seconds: None }).await
}

/// Runs `cfg` like [`run`], reporting each second to `hooks.seconds`.
///
/// Requests still in flight when the run stops are abandoned and not counted. In the open model,
/// latency is measured from each request's intended start time (`t0 + i / rate`), so time spent
/// queued behind a slow server counts (wrk2's coordinated-omission correction); when more than
/// `cfg.backlog` (10 s by default) of requests are queued, new iterations are dropped and counted in `dropped_iterations`.
pub async fn run_with(cfg: LoadConfig, hooks: RunHooks) -> Result<Summary, ConfigError> {
    cfg.validate()?;
    let started_at = std::time::SystemTime::now();
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let (stop_tx, stop_rx) = watch::channel(false);
    // Set when every iteration of an `iterations` bound has run.
    let (finished_tx, finished_rx) = watch::channel(false);
    let cancel = hooks.cancel;
    let stopper = tokio::spawn(async move {
        let was_cancelled = tokio::select! {
            _ = sleep_until(deadline) => false,
            _ = cancelled(Some(finished_rx)) => false,
            _ = cancelled(cancel) => true,
        };
        let _ = stop_tx.send(true);
        (Instant::now(), was_cancelled)
    });

    let profile = cfg.profile();
    let specs = cfg.request_specs();
    let tls = if specs.iter().any(|r| r.url.tls) {
        Some(tls_connector(cfg.insecure, cfg.ca_file.as_deref(), cfg.http2).map_err(ConfigError::Tls)?)
    } else {
        None
    };
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
        targets.push(Target {
            req: PreparedRequest::new(r, tls.as_ref(), cfg.http2),
            // Placeholders are a scenario feature; a command-line request is sent as given.
            dynamic: if cfg.requests.is_empty() { None } else { Dynamic::new(r, tls.clone(), cfg.http2) },
            extract: r.extract.clone(),
            checks: r.checks.clone(),
            pool,
        });
    }
    let threads = tokio::runtime::Handle::current().metrics().num_workers().max(1);
    // HTTP/1.1 sends one request per connection at a time; HTTP/2 multiplexes streams on each.
    let concurrency = if cfg.http2 { cfg.connections.saturating_mul(STREAMS_PER_CONN) } else { cfg.connections };
    let workers_max = match cfg.model {
        Model::Closed { .. } => cfg.max_vus() as usize,
        Model::Open { .. } => concurrency,
    };
    let shards = workers_max.clamp(1, SHARDS_PER_THREAD * threads);
    if cfg.http2 {
        // Requests with placeholders are checked when rendered (a bad value fails that request).
        for (t, r) in targets.iter().zip(&specs) {
            if let Some(Err(reason)) = t.req.h2().filter(|_| t.dynamic.is_none()) {
                return Err(ConfigError::Http2 { name: r.name.clone(), reason: reason.clone() });
            }
        }
    }
    let shared = Arc::new(Shared {
        targets,
        idle: addrs.iter().map(|_| StdMutex::new(Vec::with_capacity(cfg.connections))).collect(),
        order: weighted_order(&weights),
        next: AtomicUsize::new(0),
        timeout: cfg.timeout,
        permits: Semaphore::new(concurrency.min(Semaphore::MAX_PERMITS)),
        h2: if cfg.http2 { addrs.iter().map(|_| H2Pool::new(cfg.connections)).collect() } else { Vec::new() },
        start,
        timeline: Timeline::new(),
        iterations: cfg.iterations,
        claimed: AtomicU64::new(0),
        exhausted: tokio::sync::Notify::new(),
        sequential: cfg.sequential,
        think_time: cfg.think_time,
        data: cfg.data.clone(),
        stats: (0..shards).map(|_| StdMutex::new(Stats::new(specs.len()))).collect(),
        completed: AtomicU64::new(0),
        busy_poll: busy_poll_enabled(cfg.busy_poll, threads),
    });
    if shared.busy_poll {
        for _ in 0..threads {
            tokio::spawn(busy_poll(shared.clone(), stop_rx.clone()));
        }
    }
    let ticker = {
        let (shared, stop, profile, tx) = (shared.clone(), stop_rx.clone(), profile.clone(), hooks.seconds.clone());
        tokio::spawn(tick(shared, stop, profile, tx))
    };
    let n_targets = specs.len();
    let mut workers = Vec::new();
    let mut dropped = 0;
    match cfg.model {
        Model::Closed { .. } => {
            let (vus_tx, vus_rx) = watch::channel(profile.target_at(0.0).round() as u32);
            for idx in 0..cfg.max_vus() {
                let (shared, stop, vus) = (shared.clone(), stop_rx.clone(), vus_rx.clone());
                workers.push(tokio::spawn(closed_worker(shared, stop, vus, idx)));
            }
            if !cfg.stages.is_empty() {
                tokio::spawn(ramp_vus(profile.clone(), start, vus_tx, stop_rx.clone()));
            }
        }
        Model::Open { .. } => {
            let backlog = (profile.max() * cfg.backlog.as_secs_f64()).clamp(1.0, 1_000_000.0) as usize;
            let (tx, rx) = mpsc::channel::<Instant>(backlog);
            let rx = Arc::new(Mutex::new(rx));
            for idx in 0..concurrency {
                let (shared, stop, rx) = (shared.clone(), stop_rx.clone(), rx.clone());
                workers.push(tokio::spawn(open_worker(shared, stop, rx, idx)));
            }
            dropped = schedule(profile.clone(), start, deadline, cfg.iterations, tx, stop_rx.clone()).await;
        }
    }

    for w in workers {
        let _ = w.await;
    }
    let mut total = Stats::new(n_targets);
    for shard in &shared.stats {
        let stats = std::mem::replace(&mut *lock(shard), Stats::new(0));
        total.merge(stats);
    }
    // Workers only end on their own when the iteration bound is used up.
    let _ = finished_tx.send(true);
    let (stopped_at, was_cancelled) = stopper.await.unwrap_or_else(|_| (Instant::now(), false));
    let duration = stopped_at.duration_since(start);
    let (mut seconds, next) = ticker.await.unwrap_or_default();
    // The seconds the ticker did not get to; a tail shorter than 0.1 s joins the second before it.
    let end = duration.as_secs_f64();
    let mut sec = next;
    while (sec as f64) < end {
        let upto = if end - ((sec + 1) as f64) < 0.1 { end.ceil().max(sec as f64 + 1.0) as u64 } else { sec + 1 };
        let s = shared.timeline.drain(sec..upto, end.min(upto as f64), profile.target_at(sec as f64 + 0.5));
        if let Some(tx) = &hooks.seconds {
            let _ = tx.send(s.clone());
        }
        seconds.push(s);
        sec = upto;
    }
    let hist = std::mem::replace(&mut total.hist, Histogram::new(1).expect("valid"));
    let by_name = if cfg.requests.is_empty() {
        Vec::new()
    } else {
        let mut by = std::mem::take(&mut total.by_request);
        if let [only] = by.as_mut_slice() {
            // One request: its latencies are all the latencies (not recorded twice).
            only.hist = hist.clone();
        }
        specs.iter().map(|r| r.name.clone()).zip(by).collect()
    };
    let phases = Phases {
        connect: std::mem::replace(&mut total.connect, phase_histogram()),
        tls: std::mem::replace(&mut total.tls, phase_histogram()),
        ttfb: std::mem::replace(&mut total.ttfb, phase_histogram()),
    };
    let run = RunInfo { duration, cancelled: was_cancelled, started_at, timeline: seconds, phases };
    Ok(Summary::build(&cfg, run, &hist, total.counts(dropped), by_name))
}

/// Drains each second from the timeline a quarter second after it ends, until the run stops; returns
/// the seconds drained and the first one it did not drain.
async fn tick(
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    profile: Profile,
    tx: Option<mpsc::UnboundedSender<Second>>,
) -> (Vec<Second>, u64) {
    let stop = stopped(stop);
    tokio::pin!(stop);
    let mut seconds = Vec::new();
    for k in 1u64.. {
        let due = shared.start + Duration::from_secs(k) + Duration::from_millis(250);
        tokio::select! {
            biased;
            _ = &mut stop => return (seconds, k - 1),
            _ = sleep_until(due) => {}
        }
        let s = shared.timeline.drain(k - 1..k, k as f64, profile.target_at(k as f64 - 0.5));
        if let Some(tx) = &tx {
            let _ = tx.send(s.clone());
        }
        seconds.push(s);
    }
    (seconds, 0)
}

/// Closed model with stages: moves the number of active VUs along the profile, every 50 ms.
async fn ramp_vus(profile: Profile, start: Instant, vus: watch::Sender<u32>, stop: watch::Receiver<bool>) {
    let stop = stopped(stop);
    tokio::pin!(stop);
    let mut every = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => return,
            _ = every.tick() => {}
        }
        let want = profile.target_at(start.elapsed().as_secs_f64()).round() as u32;
        vus.send_if_modified(|v| std::mem::replace(v, want) != want);
    }
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

/// Emits intended start times along the profile into the workers' queue until the deadline; returns
/// the number of iterations dropped because the queue was full. The pacing runs on its own OS thread
/// with `std::thread::sleep`: tokio's timer rounds every wake-up up to the next millisecond, and since
/// latency counts from the intended time, that rounding would show up as up to 1 ms of latency.
async fn schedule(
    profile: Profile,
    t0: Instant,
    deadline: Instant,
    iterations: Option<u64>,
    tx: mpsc::Sender<Instant>,
    stop: watch::Receiver<bool>,
) -> u64 {
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stopping.clone();
    let pacer = std::thread::Builder::new().name("vitals-load-pacer".into()).spawn(move || {
        let mut dropped = 0u64;
        for i in 0..iterations.unwrap_or(u64::MAX) {
            let Some(at) = profile.arrival(i) else { break };
            let intended = t0 + Duration::from_secs_f64(at);
            if intended >= deadline || flag.load(Ordering::Relaxed) {
                break;
            }
            // Sleep in slices of at most 50 ms so a stop (Ctrl-C) is seen soon at low rates.
            loop {
                let now = Instant::now();
                if intended <= now || flag.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep((intended - now).min(Duration::from_millis(50)));
            }
            if flag.load(Ordering::Relaxed) {
                break;
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
    // The pacer ends at the deadline, after the last of `iterations`, or when told to stop; its
    // queue's sender goes with it, so the workers end once the queue is drained.
    let joined = tokio::task::spawn_blocking(move || pacer.join().unwrap_or(0));
    tokio::pin!(joined);
    tokio::select! {
        dropped = &mut joined => return dropped.unwrap_or(0),
        _ = stopped(stop) => stopping.store(true, Ordering::Relaxed),
    }
    joined.await.unwrap_or(0)
}

/// What every worker shares: the requests, the timeout and the connection pool.
struct Shared {
    targets: Vec<Target>,
    /// One weighted round-robin cycle of indexes into `targets`.
    order: Vec<usize>,
    /// The iteration counter, position in `order`.
    next: AtomicUsize,
    timeout: Duration,
    /// One permit per request that may be in flight: per pooled connection (HTTP/1.1), per stream
    /// the connections may carry (HTTP/2).
    permits: Semaphore,
    /// Idle keep-alive connections, one list per distinct target address (HTTP/1.1).
    idle: Vec<StdMutex<Vec<Conn>>>,
    /// HTTP/2 connections, one pool per distinct target address; empty for HTTP/1.1.
    h2: Vec<H2Pool>,
    /// When the run started.
    start: Instant,
    /// Per-second results.
    timeline: Timeline,
    /// The most iterations to run (closed model; the open model's pacer stops by itself).
    iterations: Option<u64>,
    /// Iterations started so far (closed model with a bound).
    claimed: AtomicU64,
    /// Signalled when the bound is used up, for VUs parked by stages.
    exhausted: tokio::sync::Notify,
    /// Every iteration runs all requests in order (a flow) instead of one from the weighted mix.
    sequential: bool,
    /// Pause after each request (closed model) or between the steps of a flow.
    think_time: Option<Duration>,
    /// Rows handed to iterations as variables.
    data: Option<Arc<DataTable>>,
    /// The tallies, in shards; worker `i` records into shard `i % len`.
    stats: Vec<StdMutex<Stats>>,
    /// Whether busy pollers run (only then is `completed` counted).
    busy_poll: bool,
    /// Responses and failures so far (what the busy pollers watch).
    completed: AtomicU64,
}

/// A worker's variables.
type Vars = HashMap<String, String>;

/// A request with `${var}` placeholders in its path, header values or body.
struct Dynamic {
    spec: RequestSpec,
    tls: Option<TlsConnector>,
    http2: bool,
    path: Template,
    headers: Vec<(String, Template)>,
    body: Template,
}

impl Dynamic {
    /// `None` when the request has no placeholders.
    fn new(r: &RequestSpec, tls: Option<TlsConnector>, http2: bool) -> Option<Dynamic> {
        let parse = |s: &str| Template::parse(s).ok();
        let path = parse(&r.url.path_and_query)?;
        let headers: Option<Vec<(String, Template)>> =
            r.headers.iter().map(|(n, v)| parse(v).map(|t| (n.clone(), t))).collect();
        let headers = headers?;
        let body = parse(&String::from_utf8_lossy(&r.body))?;
        // `$$` (a literal `$`) needs rendering too, so every part with a `$` is rendered per send.
        let has_dollar = |s: &str| s.contains('$');
        let dynamic =
            has_dollar(&r.url.path_and_query) || r.headers.iter().any(|(_, v)| has_dollar(v)) || r.body.contains(&b'$');
        dynamic.then(|| Dynamic { spec: r.clone(), tls, http2, path, headers, body })
    }

    /// The request with the worker's current values (values with line breaks are cut at the break so
    /// they cannot inject headers).
    fn render(&self, vars: &Vars) -> PreparedRequest {
        let one_line = |s: String| s.split(['\r', '\n']).next().unwrap_or("").to_string();
        let mut spec = self.spec.clone();
        spec.url.path_and_query = one_line(self.path.render(vars)).replace(' ', "%20");
        spec.headers = self.headers.iter().map(|(n, t)| (n.clone(), one_line(t.render(vars)))).collect();
        if self.spec.body.contains(&b'$') {
            spec.body = self.body.render(vars).into_bytes();
        }
        PreparedRequest::new(&spec, self.tls.as_ref(), self.http2)
    }
}

/// One request of the run.
struct Target {
    req: PreparedRequest,
    /// Set when the request has `${var}` placeholders: it is rendered per send.
    dynamic: Option<Dynamic>,
    /// Variables to take from its response.
    extract: Vec<(String, Extract)>,
    checks: Checks,
    /// Index into `Shared::idle`.
    pool: usize,
}

/// A virtual user: sends the next request as soon as the previous one is done, while its index is
/// below the number of active VUs.
async fn closed_worker(shared: Arc<Shared>, stop: watch::Receiver<bool>, mut vus: watch::Receiver<u32>, idx: u32) {
    let mut worker = Worker::new(&shared, idx as usize);
    // A VU keeps its variables from one iteration to the next (a token from a log-in step).
    let mut vars = Vars::new();
    let stop = stopped(stop);
    tokio::pin!(stop);
    loop {
        if *vus.borrow_and_update() <= idx {
            let exhausted = shared.exhausted.notified();
            tokio::pin!(exhausted);
            // Registered before the check, so a bound used up in between still wakes this VU.
            exhausted.as_mut().enable();
            if shared.iterations.is_some_and(|n| shared.claimed.load(Ordering::Relaxed) >= n) {
                break;
            }
            tokio::select! {
                biased;
                _ = &mut stop => break,
                _ = exhausted => break,
                _ = vus.changed() => continue,
            }
        }
        if shared.iterations.is_some_and(|n| shared.claimed.fetch_add(1, Ordering::Relaxed) >= n) {
            // Wake parked VUs (stages) so the run ends with the last iteration.
            shared.exhausted.notify_waiters();
            break;
        }
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = iteration(&shared, None, &mut worker, &mut vars) => {}
        }
    }
    worker.finish(&shared);
}

/// A connection's worker in the open model: takes the next intended start time from the queue.
async fn open_worker(
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    rx: Arc<Mutex<mpsc::Receiver<Instant>>>,
    idx: usize,
) {
    let mut worker = Worker::new(&shared, idx);
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
        // Each arrival is a new user: variables start empty.
        let mut vars = Vars::new();
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = iteration(&shared, Some(intended), &mut worker, &mut vars) => {}
        }
    }
    worker.finish(&shared);
}

/// What a worker keeps between requests: which shard of the tallies it records into, its request
/// timer and the iterations it finished (added to its shard when it ends).
struct Worker {
    /// The worker's index: its HTTP/2 connection is `idx % connections`.
    idx: usize,
    shard: usize,
    timer: RequestTimer,
    iterations: u64,
}

impl Worker {
    fn new(shared: &Shared, idx: usize) -> Worker {
        let timer = RequestTimer::new(Instant::now() + shared.timeout);
        Worker { idx, shard: idx % shared.stats.len(), timer, iterations: 0 }
    }

    /// Adds what only the worker counted to its shard.
    fn finish(self, shared: &Shared) {
        lock(&shared.stats[self.shard]).iterations += self.iterations;
    }
}

/// A worker's request timeout: one `Sleep` that is re-armed only when it fires, instead of a timer
/// registered and cancelled around every request (`tokio::time::timeout`), which costs two timer-wheel
/// updates per request. The sleep's deadline is never later than the running request's, since every
/// request gets the same timeout and starts after the one before: when it fires early, it is moved to
/// the running request's deadline.
struct RequestTimer {
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl RequestTimer {
    /// A timer whose first deadline is `first` (no later than the first request's deadline).
    fn new(first: Instant) -> RequestTimer {
        RequestTimer { sleep: Box::pin(tokio::time::sleep_until(first)) }
    }

    /// Runs `fut` to completion, or gives up at `deadline` (`None`).
    async fn run<F: Future>(&mut self, deadline: Instant, fut: F) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return Some(out),
                () = &mut self.sleep => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    self.sleep.as_mut().reset(deadline);
                }
            }
        }
    }
}

/// Whether `threads` runtime threads should busy-poll under `mode`. Auto: when a core is left for the
/// rest of the machine: fewer threads than the machine's online cores, or, when a CPU quota (a
/// container's `--cpus`) allows this process fewer cores than it may run on, fewer threads than the
/// quota (spinning would use up the share the server under test may be sharing). Pinning with `taskset`
/// is not a quota: the other cores stay for the rest.
fn busy_poll_enabled(mode: BusyPoll, threads: usize) -> bool {
    match mode {
        BusyPoll::Off => false,
        BusyPoll::On => true,
        BusyPoll::Auto => {
            let usable = std::thread::available_parallelism().map_or(1, |n| n.get());
            auto_busy_poll(threads, online_cpus(), allowed_cpus(), usable)
        }
    }
}

/// The auto rule of [`busy_poll_enabled`]: `online` cores on the machine, `allowed` by the affinity
/// mask, `usable` by the affinity mask and any CPU quota.
fn auto_busy_poll(threads: usize, online: usize, allowed: Option<usize>, usable: usize) -> bool {
    let quota_limited = allowed.is_some_and(|a| usable < a);
    if quota_limited {
        threads < usable
    } else {
        threads < online
    }
}

/// The machine's online cores (not only those this process may run on: `taskset` leaves the others to
/// the rest of the machine); the cores available to this process where that is unknown.
fn online_cpus() -> usize {
    let from_sysfs = std::fs::read_to_string("/sys/devices/system/cpu/online").ok().and_then(|s| count_cpu_list(&s));
    from_sysfs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The cores this process may run on (its affinity mask, `Cpus_allowed_list` in `/proc/self/status`),
/// where that is known.
fn allowed_cpus() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).and_then(count_cpu_list)
}

/// Counts the CPUs of a kernel CPU list such as `0-3,6,8-9`.
fn count_cpu_list(list: &str) -> Option<usize> {
    let mut n = 0;
    for part in list.trim().split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().ok()?.checked_sub(a.parse::<usize>().ok()?)? + 1,
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

/// Keeps one runtime thread polling for I/O (yielding in a loop, so the scheduler polls the kernel
/// without blocking) while at least `BUSY_MIN_RESPONSES` responses arrive per `BUSY_WINDOW`; below that
/// it sleeps and re-checks every `BUSY_IDLE_CHECK`. See [`BusyPoll`] for why.
async fn busy_poll(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut busy = false;
    while !*stop.borrow() {
        let before = shared.completed.load(Ordering::Relaxed);
        let started = Instant::now();
        if busy {
            let until = started + BUSY_WINDOW;
            let mut spins = 0u32;
            loop {
                tokio::task::yield_now().await;
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(16) && Instant::now() >= until {
                    break;
                }
            }
        } else {
            tokio::time::sleep(BUSY_IDLE_CHECK).await;
        }
        let n = shared.completed.load(Ordering::Relaxed).wrapping_sub(before);
        let windows = (started.elapsed().as_secs_f64() / BUSY_WINDOW.as_secs_f64()).max(1.0);
        busy = n as f64 / windows >= BUSY_MIN_RESPONSES as f64;
    }
}

/// One iteration: the next request of the weighted mix, or every request in order for a
/// sequential flow (stopping at the first failure, since later steps usually need what earlier ones
/// extracted). A CSV data file gives the iteration its next row first. Latency starts at `intended`
/// for the first request when given (open model), else at the actual send.
async fn iteration(shared: &Shared, intended: Option<Instant>, worker: &mut Worker, vars: &mut Vars) {
    if let Some(data) = &shared.data {
        data.next_row(vars);
    }
    let open = intended.is_some();
    if shared.sequential {
        let mut intended = intended;
        for i in 0..shared.targets.len() {
            let ok = send_one(shared, i, intended.take(), worker, vars).await;
            let last = i + 1 == shared.targets.len();
            if !ok || last {
                // Counted before the closing think time, so a run stopped during it still counts it.
                worker.iterations += 1;
            }
            if !ok {
                break;
            }
            think(shared, open && last).await;
        }
    } else {
        let i = shared.order[shared.next.fetch_add(1, Ordering::Relaxed) % shared.order.len()];
        send_one(shared, i, intended, worker, vars).await;
        worker.iterations += 1;
        think(shared, open).await;
    }
}

/// Pauses for the think time, unless `skip` (the end of an open-model iteration: arrivals, not
/// users, set the pace there).
async fn think(shared: &Shared, skip: bool) {
    if let (Some(t), false) = (shared.think_time, skip) {
        tokio::time::sleep(t).await;
    }
}

/// Sends request `i`: waits for a pooled connection, sends, records, extracts variables; returns
/// whether it succeeded.
async fn send_one(shared: &Shared, i: usize, intended: Option<Instant>, worker: &mut Worker, vars: &mut Vars) -> bool {
    let target = &shared.targets[i];
    let rendered;
    let req = match &target.dynamic {
        Some(d) => {
            rendered = d.render(vars);
            &rendered
        }
        None => &target.req,
    };
    let Ok(_permit) = shared.permits.acquire().await else { return false };
    let sent = Instant::now();
    let pool = &shared.idle[target.pool];
    let result = if let Some(h2) = shared.h2.get(target.pool) {
        let reply = |(resp, setup): (Response, Option<Setup>)| Reply {
            resp,
            connect: setup.map(|s| s.0),
            tls: setup.and_then(|s| s.1),
            conn: None,
        };
        worker.timer.run(sent + shared.timeout, h2.send(worker.idx, req)).await.map(|r| r.map(reply))
    } else {
        let idle = lock(pool).pop();
        let reply = |(resp, mut conn): (Response, Conn)| Reply {
            connect: conn.connect_time.take(),
            tls: conn.tls_time.take(),
            conn: resp.keep_alive.then_some(conn),
            resp,
        };
        worker.timer.run(sent + shared.timeout, exchange(req, idle)).await.map(|r| r.map(reply))
    };
    let done = Instant::now();
    if shared.busy_poll {
        shared.completed.fetch_add(1, Ordering::Relaxed);
    }
    let sec = done.saturating_duration_since(shared.start).as_secs();
    // What needs no tallies (the pool, variables, checks over the body) is done before taking the
    // shard's lock, which other workers on other threads may be waiting for.
    let outcome = match result {
        Some(Ok(Reply { resp, connect, tls, conn })) => {
            if let Some(conn) = conn {
                lock(pool).push(conn);
            }
            let latency = done.saturating_duration_since(intended.unwrap_or(sent));
            let mut extracted = true;
            for (name, ex) in &target.extract {
                match ex.apply(&resp.headers, &resp.body) {
                    Some(v) => {
                        vars.insert(name.clone(), v);
                    }
                    None => extracted = false,
                }
            }
            let verdict = judge(&resp, latency, &target.checks, extracted);
            Outcome::Response {
                status: resp.status,
                bytes: resp.bytes,
                ttfb: resp.ttfb,
                latency,
                connect,
                tls,
                verdict,
            }
        }
        Some(Err(HttpError::Connect(_) | HttpError::Tls(_))) => Outcome::Failed(FailureClass::Connect),
        Some(Err(_)) => Outcome::Failed(FailureClass::Other),
        None => Outcome::Failed(FailureClass::Timeout),
    };
    let (failed, latency_us, bytes) = lock(&shared.stats[worker.shard]).record(i, &outcome);
    shared.timeline.record(sec, latency_us, failed, bytes);
    !failed
}

/// How one request ended, worked out before its tallies are recorded.
enum Outcome {
    /// A complete response.
    Response {
        status: u16,
        bytes: u64,
        ttfb: Duration,
        latency: Duration,
        /// Set-up times of a connection opened for it.
        connect: Option<Duration>,
        tls: Option<Duration>,
        verdict: Verdict,
    },
    /// No complete response.
    Failed(FailureClass),
}

/// Why a request got no complete response.
enum FailureClass {
    Connect,
    Timeout,
    Other,
}

/// Whether a complete response counts as an error, and of which class.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// A status of 400 or more where the request has no status check.
    Status,
    /// A failed check or variable extraction.
    Check,
}

/// Judges a complete response to a request with `checks` (`extracted`: every variable it should yield
/// was found).
fn judge(resp: &Response, latency: Duration, checks: &Checks, extracted: bool) -> Verdict {
    if checks.status.is_empty() && resp.status >= 400 {
        return Verdict::Status;
    }
    let status_ok = checks.status.is_empty() || checks.status.contains(&resp.status);
    let body_ok = checks.body_contains.as_ref().is_none_or(|needle| contains(&resp.body, needle.as_bytes()));
    let latency_ok = checks.max_latency.is_none_or(|max| latency <= max);
    let json_ok = checks.json.is_empty() || {
        let doc: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
        doc.is_some_and(|doc| {
            checks
                .json
                .iter()
                .all(|(_, path, want)| json_at(doc.clone(), path).is_some_and(|got| json_equal(&got, want)))
        })
    };
    if status_ok && body_ok && latency_ok && json_ok && extracted {
        Verdict::Ok
    } else {
        Verdict::Check
    }
}

/// What one request got back: the response, the set-up times of a connection opened for it, and the
/// HTTP/1.1 connection to return to the pool (when it may be reused).
struct Reply {
    resp: Response,
    connect: Option<Duration>,
    tls: Option<Duration>,
    conn: Option<Conn>,
}

/// Locks `m`, also when a panicking holder poisoned it (the tallies stay usable).
fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A duration in whole microseconds, at least 1 (the histograms' lowest value).
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
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

/// Histograms for the phases (connect, TLS, TTFB): 2 significant digits are plenty there and take a
/// tenth of the memory.
fn phase_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("static histogram bounds are valid")
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
    /// Time to establish new connections.
    connect: Histogram<u64>,
    /// Time of TLS handshakes.
    tls: Histogram<u64>,
    /// Time from sending a request to reading its status line.
    ttfb: Histogram<u64>,
    requests: u64,
    /// Iterations finished (added by workers when they end).
    iterations: u64,
    errors: ErrorCounts,
    bytes: u64,
    status_codes: BTreeMap<u16, u64>,
    /// Indexed like `Shared::targets`.
    by_request: Vec<RequestStats>,
}

impl Stats {
    /// Tallies for `n_targets` requests; per-request histograms only when there are several (a
    /// single-URL run reports none, and each histogram costs ~190 KB per shard).
    fn new(n_targets: usize) -> Stats {
        Stats {
            hist: new_histogram(),
            connect: phase_histogram(),
            tls: phase_histogram(),
            ttfb: phase_histogram(),
            requests: 0,
            iterations: 0,
            errors: ErrorCounts::default(),
            bytes: 0,
            status_codes: BTreeMap::new(),
            by_request: (0..n_targets)
                .map(|_| {
                    let hist = if n_targets > 1 { new_histogram() } else { phase_histogram() };
                    RequestStats { hist, requests: 0, errors: 0 }
                })
                .collect(),
        }
    }

    /// Records how request `i` ended; returns whether it failed, its latency in µs (complete responses)
    /// and the bytes read, for the timeline.
    fn record(&mut self, i: usize, outcome: &Outcome) -> (bool, Option<u64>, u64) {
        self.requests += 1;
        self.by_request[i].requests += 1;
        let (failed, latency_us, bytes) = match outcome {
            Outcome::Response { status, bytes, ttfb, latency, connect, tls, verdict } => {
                if let Some(connect) = connect {
                    self.connect.saturating_record(micros(*connect));
                }
                if let Some(tls) = tls {
                    self.tls.saturating_record(micros(*tls));
                }
                self.ttfb.saturating_record(micros(*ttfb));
                let us = micros(*latency);
                self.hist.saturating_record(us);
                if self.by_request.len() > 1 {
                    self.by_request[i].hist.saturating_record(us);
                }
                self.bytes += bytes;
                *self.status_codes.entry(*status).or_default() += 1;
                match verdict {
                    Verdict::Ok => {}
                    Verdict::Status => self.errors.status += 1,
                    Verdict::Check => self.errors.check += 1,
                }
                (*verdict != Verdict::Ok, Some(us), *bytes)
            }
            Outcome::Failed(class) => {
                match class {
                    FailureClass::Connect => self.errors.connect += 1,
                    FailureClass::Timeout => self.errors.timeout += 1,
                    FailureClass::Other => self.errors.other += 1,
                }
                (true, None, 0)
            }
        };
        if failed {
            self.by_request[i].errors += 1;
        }
        (failed, latency_us, bytes)
    }

    fn merge(&mut self, other: Stats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        let _ = self.connect.add(&other.connect);
        let _ = self.tls.add(&other.tls);
        let _ = self.ttfb.add(&other.ttfb);
        for (mine, theirs) in self.by_request.iter_mut().zip(other.by_request) {
            let _ = mine.hist.add(&theirs.hist);
            mine.requests += theirs.requests;
            mine.errors += theirs.errors;
        }
        self.requests += other.requests;
        self.iterations += other.iterations;
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
            iterations: self.iterations,
        }
    }
}

/// Whether a JSON value equals a check's expected value; numbers compare by value (`7` equals `7.0`)
/// and a string check matches a number or bool written the same way (YAML `"7"`).
fn json_equal(got: &serde_json::Value, want: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(_) | Value::Bool(_), Value::String(s)) => {
            let written = got.to_string();
            written == *s
        }
        _ => got == want,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpu_list("0-1\n"), Some(2));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list("5"), Some(1));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
    }

    #[test]
    fn auto_busy_polls_only_with_a_core_to_spare() {
        // A 2-core machine: the default 2 threads do not spin, `--threads 1` does.
        assert!(!auto_busy_poll(2, 2, Some(2), 2));
        assert!(auto_busy_poll(1, 2, Some(2), 2));
        // `taskset -c 0` with one thread: the other core is left to the server.
        assert!(auto_busy_poll(1, 2, Some(1), 1));
        // A container with a 1-CPU quota on 8 cores: spinning would use up the quota.
        assert!(!auto_busy_poll(1, 8, Some(8), 1));
        // A 4-CPU quota and one thread: there is quota to spare.
        assert!(auto_busy_poll(1, 8, Some(8), 4));
        // Unknown affinity: by the online cores.
        assert!(auto_busy_poll(1, 4, None, 4));
        assert!(!auto_busy_poll(1, 1, None, 1));
        let cores = online_cpus();
        assert!(cores >= 1 && allowed_cpus().is_none_or(|a| a >= 1));
        assert!(!busy_poll_enabled(BusyPoll::Auto, cores));
        assert!(busy_poll_enabled(BusyPoll::On, cores));
        assert!(!busy_poll_enabled(BusyPoll::Off, 1));
    }
}
