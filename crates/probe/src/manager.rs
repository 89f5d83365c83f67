//! Runs probe checks on their intervals: one task per (check, target), started at an offset
//! within the interval derived from its names (so a thousand targets do not fire together),
//! appending the `probe_*` series with `job` and `instance` labels, staleness markers for series
//! that disappear, the last result per target and the up/down history.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vitals_model::{Appendable, Labels, LabelsBuilder};

use crate::config::{Module, Modules};
use crate::history::{History, Uptime};
use crate::result::ProbeResult;

/// Default upper bound of one probe when the module sets none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the history is written.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// One configured check: a module applied to targets on an interval.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeCheck {
    /// Check name (the `job` label).
    pub name: String,
    /// Module name in `probe_modules`.
    pub module: String,
    /// Targets (each the `instance` label).
    pub targets: Vec<String>,
    /// How often each target is probed.
    pub interval: Duration,
    /// Extra labels on every series.
    pub labels: BTreeMap<String, String>,
}

/// Why `apply` refused a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A check names a module that does not exist.
    #[error("probe check {check:?}: unknown module {module:?}")]
    UnknownModule {
        /// The check.
        check: String,
        /// The module it names.
        module: String,
    },
    /// A check is not valid.
    #[error("probe check {check:?}: {message}")]
    Invalid {
        /// The check.
        check: String,
        /// What is wrong.
        message: String,
    },
    /// A module is not valid.
    #[error(transparent)]
    Module(#[from] crate::config::ConfigError),
}

/// The latest result of one (check, target), for the uptime API and the UI.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    /// Check name.
    pub check: String,
    /// Target.
    pub target: String,
    /// Module name.
    pub module: String,
    /// The latest result (None before the first probe ends).
    pub last: Option<ProbeResult>,
}

#[derive(Clone, PartialEq)]
struct Spec {
    check: String,
    target: String,
    module_name: String,
    module_text: String,
    interval: Duration,
    labels: BTreeMap<String, String>,
}

struct Running {
    spec: Spec,
    stop: watch::Sender<Stop>,
    task: JoinHandle<Vec<Labels>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Run,
    /// Stop and mark every series stale (the target was removed).
    Removed,
    /// Stop without staleness markers (shutdown, or replaced by a new loop that takes over).
    Quiet,
}

struct Shared {
    appendable: Arc<dyn Appendable>,
    status: Mutex<BTreeMap<(String, String), TargetStatus>>,
    history: Mutex<History>,
}

/// Runs probe checks and keeps their results and history.
pub struct ProbeManager {
    shared: Arc<Shared>,
    loops: Mutex<HashMap<(String, String), Running>>,
    history_path: Option<PathBuf>,
    saver: Mutex<Option<JoinHandle<()>>>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl ProbeManager {
    /// A manager appending to `appendable`, with no checks yet and an in-memory history.
    pub fn new(appendable: Arc<dyn Appendable>) -> ProbeManager {
        ProbeManager {
            shared: Arc::new(Shared {
                appendable,
                status: Mutex::new(BTreeMap::new()),
                history: Mutex::new(History::default()),
            }),
            loops: Mutex::new(HashMap::new()),
            history_path: None,
            saver: Mutex::new(None),
        }
    }

    /// Keeps the history in `data_dir/probes/history.json`: loads it now, saves it every minute
    /// (from a task of the current runtime) and on [`ProbeManager::shutdown`].
    pub fn with_data_dir(mut self, data_dir: impl Into<PathBuf>) -> Result<ProbeManager, crate::history::HistoryError> {
        let path = data_dir.into().join("probes").join("history.json");
        *self.shared.history.lock() = History::load(&path)?;
        let shared = self.shared.clone();
        let p = path.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAVE_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let h = shared.history.lock().clone();
                let p = p.clone();
                let r = tokio::task::spawn_blocking(move || h.save(&p, now_ms())).await;
                if let Ok(Err(e)) = r {
                    tracing::warn!(error = %e, "saving probe history");
                }
            }
        });
        *self.saver.lock() = Some(task);
        self.history_path = Some(path);
        Ok(self)
    }

    /// Replaces the running checks: new (check, target)s start, removed ones stop with staleness
    /// markers, changed ones restart; unchanged ones keep running undisturbed.
    pub fn apply(&self, modules: &Modules, checks: Vec<ProbeCheck>) -> Result<(), ApplyError> {
        let mut wanted: HashMap<(String, String), (Spec, Module)> = HashMap::new();
        let mut names = HashSet::new();
        for c in &checks {
            if !names.insert(c.name.as_str()) {
                return Err(ApplyError::Invalid { check: c.name.clone(), message: "check name is used twice".into() });
            }
            if c.interval.is_zero() {
                return Err(ApplyError::Invalid { check: c.name.clone(), message: "interval must be positive".into() });
            }
            let module = modules
                .get(&c.module)
                .ok_or_else(|| ApplyError::UnknownModule { check: c.name.clone(), module: c.module.clone() })?;
            module.validate(&c.module)?;
            for t in &c.targets {
                let spec = Spec {
                    check: c.name.clone(),
                    target: t.clone(),
                    module_name: c.module.clone(),
                    module_text: format!("{module:?}"),
                    interval: c.interval,
                    labels: c.labels.clone(),
                };
                wanted.insert((c.name.clone(), t.clone()), (spec, module.clone()));
            }
        }
        let mut loops = self.loops.lock();
        let keys: Vec<_> = loops.keys().cloned().collect();
        let mut handover: HashMap<(String, String), JoinHandle<Vec<Labels>>> = HashMap::new();
        for k in keys {
            match wanted.get(&k) {
                Some((spec, _)) if loops[&k].spec == *spec => {}
                Some(_) => {
                    let r = loops.remove(&k).expect("present");
                    let _ = r.stop.send(Stop::Quiet);
                    handover.insert(k, r.task);
                }
                None => {
                    let r = loops.remove(&k).expect("present");
                    let _ = r.stop.send(Stop::Removed);
                    self.shared.status.lock().remove(&k);
                }
            }
        }
        for (k, (spec, module)) in wanted {
            if loops.contains_key(&k) {
                continue;
            }
            self.shared.status.lock().insert(
                k.clone(),
                TargetStatus {
                    check: spec.check.clone(),
                    target: spec.target.clone(),
                    module: spec.module_name.clone(),
                    last: None,
                },
            );
            let (tx, rx) = watch::channel(Stop::Run);
            let prev = handover.remove(&k);
            let task = tokio::spawn(run_loop(self.shared.clone(), spec.clone(), module, rx, prev));
            loops.insert(k, Running { spec, stop: tx, task });
        }
        let live: HashSet<(String, String)> = loops.keys().cloned().collect();
        self.shared.history.lock().retain(|c, t| live.contains(&(c.to_string(), t.to_string())));
        Ok(())
    }

    /// The latest result of every (check, target), sorted by check then target.
    pub fn results(&self) -> Vec<TargetStatus> {
        self.shared.status.lock().values().cloned().collect()
    }

    /// Uptime of one (check, target); None when it was never probed.
    pub fn uptime(&self, check: &str, target: &str) -> Option<Uptime> {
        self.shared.history.lock().uptime(check, target, now_ms())
    }

    /// Stops every check (without staleness markers) and saves the history.
    pub async fn shutdown(&self) {
        let running: Vec<Running> = self.loops.lock().drain().map(|(_, r)| r).collect();
        for r in &running {
            let _ = r.stop.send(Stop::Quiet);
        }
        for r in running {
            let _ = r.task.await;
        }
        if let Some(t) = self.saver.lock().take() {
            t.abort();
        }
        if let Some(p) = &self.history_path {
            let h = self.shared.history.lock().clone();
            if let Err(e) = h.save(p, now_ms()) {
                tracing::warn!(error = %e, "saving probe history");
            }
        }
    }
}

impl Drop for ProbeManager {
    fn drop(&mut self) {
        for r in self.loops.lock().values() {
            r.task.abort();
        }
        if let Some(t) = self.saver.lock().take() {
            t.abort();
        }
    }
}

/// Where in the interval this (check, target) fires: a stable hash of both names.
fn offset(spec: &Spec) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    spec.check.hash(&mut h);
    spec.target.hash(&mut h);
    let ms = spec.interval.as_millis().max(1) as u64;
    Duration::from_millis(h.finish() % ms)
}

async fn run_loop(
    shared: Arc<Shared>,
    spec: Spec,
    module: Module,
    mut stop: watch::Receiver<Stop>,
    prev: Option<JoinHandle<Vec<Labels>>>,
) -> Vec<Labels> {
    let mut last_series: Vec<Labels> = match prev {
        Some(h) => h.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let start = tokio::time::Instant::now() + offset(&spec);
    let mut ticker = tokio::time::interval_at(start, spec.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let timeout = module.effective_timeout(spec.interval.min(DEFAULT_TIMEOUT));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let result = tokio::select! {
            r = crate::probe(&module, &spec.target, timeout) => r,
            _ = stop.changed() => break,
        };
        let t = result.started.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        last_series = append(&shared, &spec, &result, t, &last_series);
        if let Some(f) = &result.failure {
            tracing::debug!(check = %spec.check, target = %spec.target, reason = %f, "probe failed");
        }
        shared.history.lock().record(
            &spec.check,
            &spec.target,
            t,
            result.success,
            result.failure.as_deref().unwrap_or(""),
        );
        if let Some(s) = shared.status.lock().get_mut(&(spec.check.clone(), spec.target.clone())) {
            s.last = Some(result);
        }
    }
    if *stop.borrow() == Stop::Removed && !last_series.is_empty() {
        let t = now_ms();
        let mut app = shared.appendable.appender();
        app.set_durable(false);
        for l in &last_series {
            let _ = app.append_stale(l, t);
        }
        if let Err(e) = app.commit() {
            tracing::warn!(check = %spec.check, target = %spec.target, error = %e, "appending probe staleness markers");
        }
        return Vec::new();
    }
    last_series
}

/// Appends one result's series; marks stale the series of `prev` that are gone. Returns the series written.
fn append(shared: &Shared, spec: &Spec, result: &ProbeResult, t: i64, prev: &[Labels]) -> Vec<Labels> {
    let mut app = shared.appendable.appender();
    app.set_durable(false);
    let mut written = Vec::new();
    for m in result.all_metrics() {
        let mut b = LabelsBuilder::new();
        for (k, v) in &spec.labels {
            b.set(k, v);
        }
        for (k, v) in &m.labels {
            b.set(k, v);
        }
        b.set("job", &spec.check);
        b.set("instance", &spec.target);
        b.set(vitals_model::METRIC_NAME, m.name);
        let labels = b.build();
        if let Err(e) = app.append(&labels, t, m.value) {
            tracing::debug!(series = %labels, error = %e, "appending probe sample");
        }
        written.push(labels);
    }
    written.sort();
    for l in prev {
        if written.binary_search(l).is_err() {
            let _ = app.append_stale(l, t);
        }
    }
    if let Err(e) = app.commit() {
        tracing::warn!(check = %spec.check, target = %spec.target, error = %e, "appending probe results");
    }
    written
}
