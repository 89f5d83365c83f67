//! Rule groups and their scheduling: each group is evaluated at its interval on aligned ticks,
//! writes recorded series and `ALERTS`/`ALERTS_FOR_STATE` (with staleness markers when a series
//! disappears), hands alerts to the notifier, and saves its alert states so a restart resumes them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use vitals_model::{Appendable, Labels, Queryable};
use vitals_promql::Engine;

use crate::file::RuleFile;
use crate::rule::{Alert, AlertState, EvalEnv, OutgoingAlert, Rule};

/// Receives alerts to notify about (called from the evaluation thread).
pub type AlertSink = Arc<dyn Fn(Vec<OutgoingAlert>) + Send + Sync>;

/// Everything the rule manager needs.
#[derive(Clone)]
pub struct ManagerOptions {
    /// The query engine.
    pub engine: Engine,
    /// Where rules read.
    pub storage: Arc<dyn Queryable>,
    /// Where rules write.
    pub appendable: Arc<dyn Appendable>,
    /// Where alert states are saved (`<data>/rules-state`).
    pub state_dir: PathBuf,
    /// `global.external_labels`.
    pub external_labels: BTreeMap<String, String>,
    /// The URL vitals is reached at.
    pub external_url: String,
    /// Interval of groups without one (`global.evaluation_interval`).
    pub default_interval: Duration,
    /// Firing alerts are re-sent at least this often (Prometheus' 1m).
    pub resend_delay: Duration,
    /// Where alerts go.
    pub sink: Option<AlertSink>,
}

/// A group of rules with its state.
pub struct Group {
    /// The file it came from.
    pub file: PathBuf,
    /// Its name.
    pub name: String,
    /// Evaluation interval.
    pub interval: Duration,
    /// Most series or alerts per rule (0: none).
    pub limit: usize,
    /// Queries run this much in the past.
    pub query_offset: Duration,
    /// Labels added to every output.
    pub labels: BTreeMap<String, String>,
    /// The rules in order.
    pub rules: Vec<Rule>,
    /// When it last ran (ms, 0: never).
    pub last_evaluation: i64,
    /// How long that took (s).
    pub evaluation_seconds: f64,
    written: HashSet<Labels>,
    /// The state file's bytes as last saved (unchanged state is not written again).
    saved: Option<Vec<u8>>,
}

/// Saved alert states of one group (`rules-state/<hash>.json`).
#[derive(Serialize, Deserialize, Default)]
struct SavedGroup {
    file: String,
    group: String,
    /// Alerts by rule name.
    rules: BTreeMap<String, Vec<Alert>>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Group {
    /// Builds the groups of rule files (the files were checked already).
    pub fn from_files(files: &[(PathBuf, RuleFile)], default_interval: Duration) -> Result<Vec<Group>, String> {
        let mut out = Vec::new();
        for (path, f) in files {
            for g in &f.groups {
                let rules = g.rules.iter().map(Rule::new).collect::<Result<Vec<_>, _>>()?;
                out.push(Group {
                    file: path.clone(),
                    name: g.name.clone(),
                    interval: g.interval.map(|d| d.0).filter(|d| !d.is_zero()).unwrap_or(default_interval),
                    limit: g.limit,
                    query_offset: g.query_offset.map(|d| d.0).unwrap_or_default(),
                    labels: g.labels.clone(),
                    rules,
                    last_evaluation: 0,
                    evaluation_seconds: 0.0,
                    written: HashSet::new(),
                    saved: None,
                });
            }
        }
        Ok(out)
    }

    fn key(&self) -> String {
        format!("{}\u{0}{}", self.file.display(), self.name)
    }

    fn state_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{:016x}.json", fnv(&self.key())))
    }

    /// The first evaluation time at or after `now` (ms): ticks are spread over the interval by a
    /// hash of the group, as Prometheus does, so groups do not all run at once.
    pub fn next_tick(&self, now: i64) -> i64 {
        let iv = self.interval.as_millis().max(1) as i64;
        let offset = (fnv(&self.key()) % iv as u64) as i64;
        let base = (now - offset).div_euclid(iv) * iv + offset;
        if base < now {
            base + iv
        } else {
            base
        }
    }

    /// Takes over alert states and health from an older version of this group (reload).
    fn adopt(&mut self, old: &mut Group) {
        for r in &mut self.rules {
            if let Rule::Alerting(a) = r {
                if let Some(Rule::Alerting(o)) =
                    old.rules.iter_mut().find(|x| matches!(x, Rule::Alerting(y) if y.name == a.name))
                {
                    a.active = std::mem::take(&mut o.active);
                }
            }
        }
        self.written = std::mem::take(&mut old.written);
        self.last_evaluation = old.last_evaluation;
    }

    /// Restores alert states saved by an earlier run.
    fn restore(&mut self, dir: &Path) {
        let Ok(bytes) = std::fs::read(self.state_path(dir)) else { return };
        let saved: SavedGroup = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(group = %self.name, error = %e, "ignoring unreadable saved alert state");
                return;
            }
        };
        for r in &mut self.rules {
            if let Rule::Alerting(a) = r {
                if let Some(alerts) = saved.rules.get(&a.name) {
                    // The notifier of this process has not seen them: send again at the next
                    // evaluation (its notification log keeps receivers from hearing twice).
                    a.active = alerts
                        .iter()
                        .map(|al| (al.labels.clone(), Alert { last_sent_at: None, ..al.clone() }))
                        .collect();
                }
            }
        }
    }

    /// Saves the alert states (atomically: temporary file, fsync, rename).
    fn save(&mut self, dir: &Path) -> std::io::Result<()> {
        if !self.rules.iter().any(|r| matches!(r, Rule::Alerting(_))) {
            return Ok(());
        }
        let mut saved =
            SavedGroup { file: self.file.display().to_string(), group: self.name.clone(), ..Default::default() };
        for r in &self.rules {
            if let Rule::Alerting(a) = r {
                let mut alerts: Vec<Alert> = a.active.values().cloned().collect();
                alerts.sort_by(|x, y| x.labels.cmp(&y.labels));
                saved.rules.entry(a.name.clone()).or_default().extend(alerts);
            }
        }
        let bytes = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
        if self.saved.as_deref() == Some(&bytes[..]) {
            return Ok(());
        }
        vitals_model::fsutil::write_atomic(&self.state_path(dir), &bytes)?;
        self.saved = Some(bytes);
        Ok(())
    }

    /// Evaluates every rule at `ts` (ms), writes the results and returns the alerts to send.
    pub fn eval(&mut self, opts: &ManagerOptions, ts: i64) -> Vec<OutgoingAlert> {
        let began = Instant::now();
        let env = EvalEnv {
            engine: &opts.engine,
            storage: &*opts.storage,
            external_labels: &opts.external_labels,
            external_url: &opts.external_url,
        };
        let qt = ts - self.query_offset.as_millis() as i64;
        let mut app = opts.appendable.appender();
        // Like scrapes, rule output does not wait for an fsync per commit: `vitals serve` syncs the
        // WAL every second (a sync per rule was most of 2,000 rules' time on a busy disk).
        app.set_durable(false);
        let mut now_written: HashSet<Labels> = HashSet::new();
        let mut to_send = Vec::new();
        let interval = self.interval.as_millis() as i64;
        let resend = opts.resend_delay.as_millis() as i64;
        for rule in &mut self.rules {
            let started = Instant::now();
            let res = match rule {
                Rule::Recording(r) => r.eval(&env, qt, self.limit),
                Rule::Alerting(a) => a.eval(&env, ts, qt, self.limit),
            };
            let gen_url = format!(
                "{}/graph?g0.expr={}&g0.tab=1",
                opts.external_url.trim_end_matches('/'),
                url_escape(match &*rule {
                    Rule::Recording(r) => &r.expr,
                    Rule::Alerting(a) => &a.expr,
                })
            );
            let err = match res {
                Ok(samples) => {
                    let mut err = None;
                    for (l, v) in samples {
                        let l = if self.labels.is_empty() { l } else { add_labels(&l, &self.labels) };
                        if let Err(e) = app.append(&l, qt, v) {
                            err.get_or_insert_with(|| e.to_string());
                        }
                        now_written.insert(l);
                    }
                    // Later rules of the group read what this one wrote, as in Prometheus.
                    if let Err(e) = app.commit() {
                        err.get_or_insert_with(|| e.to_string());
                    }
                    err
                }
                Err(e) => Some(e),
            };
            if let Rule::Alerting(a) = rule {
                to_send.extend(a.to_send(ts, resend, interval, &gen_url));
            }
            let h = rule.health_mut();
            h.last_evaluation = ts;
            h.evaluation_seconds = started.elapsed().as_secs_f64();
            match err {
                Some(e) => {
                    tracing::warn!(group = %self.name, rule = %rule.name(), error = %e, "rule evaluation failed");
                    let h = rule.health_mut();
                    h.health = "err";
                    h.last_error = e;
                }
                None => {
                    let h = rule.health_mut();
                    h.health = "ok";
                    h.last_error.clear();
                }
            }
        }
        for gone in self.written.difference(&now_written) {
            let _ = app.append_stale(gone, qt);
        }
        if let Err(e) = app.commit() {
            tracing::error!(group = %self.name, error = %e, "writing rule results failed");
        }
        self.written = now_written;
        self.last_evaluation = ts;
        self.evaluation_seconds = began.elapsed().as_secs_f64();
        if let Err(e) = self.save(&opts.state_dir) {
            tracing::error!(group = %self.name, error = %e, "saving alert state failed");
        }
        to_send
    }
}

fn add_labels(l: &Labels, extra: &BTreeMap<String, String>) -> Labels {
    let mut b = l.builder();
    for (k, v) in extra {
        if l.get(k).is_none() {
            b.set(k, v);
        }
    }
    b.build()
}

/// Percent-encodes a query parameter value.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One alert as `/api/v1/alerts` and `/api/v1/rules` show it.
#[derive(Debug, Clone)]
pub struct AlertStatus {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// `pending` or `firing` (resolved alerts are not listed).
    pub state: AlertState,
    /// When it became active (ms).
    pub active_at: i64,
    /// Current value.
    pub value: f64,
    /// `keep_firing_for` in effect since (ms).
    pub keep_firing_since: Option<i64>,
}

/// One rule as `/api/v1/rules` shows it.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    /// `alerting` or `recording`.
    pub kind: &'static str,
    /// Name.
    pub name: String,
    /// Expression.
    pub query: String,
    /// `for` in seconds (alerting).
    pub duration: f64,
    /// `keep_firing_for` in seconds (alerting).
    pub keep_firing_for: f64,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations (alerting).
    pub annotations: BTreeMap<String, String>,
    /// Active alerts (alerting).
    pub alerts: Vec<AlertStatus>,
    /// `inactive`, `pending` or `firing` (alerting).
    pub state: &'static str,
    /// `ok`, `err` or `unknown`.
    pub health: &'static str,
    /// Last error.
    pub last_error: String,
    /// Seconds the last evaluation took.
    pub evaluation_seconds: f64,
    /// Last evaluation (ms, 0 never).
    pub last_evaluation: i64,
}

/// One group as `/api/v1/rules` shows it.
#[derive(Debug, Clone)]
pub struct GroupStatus {
    /// Name.
    pub name: String,
    /// File.
    pub file: String,
    /// Interval in seconds.
    pub interval: f64,
    /// Limit.
    pub limit: usize,
    /// Rules.
    pub rules: Vec<RuleStatus>,
    /// Seconds the last evaluation took.
    pub evaluation_seconds: f64,
    /// Last evaluation (ms).
    pub last_evaluation: i64,
}

fn status_of(g: &Group) -> GroupStatus {
    let rules = g
        .rules
        .iter()
        .map(|r| {
            let h = r.health();
            match r {
                Rule::Recording(rr) => RuleStatus {
                    kind: "recording",
                    name: rr.name.clone(),
                    query: rr.expr.clone(),
                    duration: 0.0,
                    keep_firing_for: 0.0,
                    labels: rr.labels.clone(),
                    annotations: BTreeMap::new(),
                    alerts: Vec::new(),
                    state: "",
                    health: h.health,
                    last_error: h.last_error.clone(),
                    evaluation_seconds: h.evaluation_seconds,
                    last_evaluation: h.last_evaluation,
                },
                Rule::Alerting(a) => {
                    let mut alerts: Vec<AlertStatus> = a
                        .active
                        .values()
                        .filter(|x| x.state != AlertState::Inactive)
                        .map(|x| AlertStatus {
                            labels: x.labels.clone(),
                            annotations: x.annotations.clone(),
                            state: x.state,
                            active_at: x.active_at,
                            value: x.value,
                            keep_firing_since: x.keep_firing_since,
                        })
                        .collect();
                    alerts.sort_by(|x, y| x.labels.cmp(&y.labels));
                    RuleStatus {
                        kind: "alerting",
                        name: a.name.clone(),
                        query: a.expr.clone(),
                        duration: a.hold_ms as f64 / 1000.0,
                        keep_firing_for: a.keep_firing_ms as f64 / 1000.0,
                        labels: a.labels.clone(),
                        annotations: a.annotations.clone(),
                        alerts,
                        state: a.state().as_str(),
                        health: h.health,
                        last_error: h.last_error.clone(),
                        evaluation_seconds: h.evaluation_seconds,
                        last_evaluation: h.last_evaluation,
                    }
                }
            }
        })
        .collect();
    GroupStatus {
        name: g.name.clone(),
        file: g.file.display().to_string(),
        interval: g.interval.as_secs_f64(),
        limit: g.limit,
        rules,
        evaluation_seconds: g.evaluation_seconds,
        last_evaluation: g.last_evaluation,
    }
}

/// Runs rule groups on their schedules.
pub struct RuleManager {
    opts: ManagerOptions,
    groups: Mutex<Vec<Arc<Mutex<Group>>>>,
    stop: Mutex<Option<tokio::sync::watch::Sender<bool>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl RuleManager {
    /// A manager with no groups yet.
    pub fn new(opts: ManagerOptions) -> Arc<Self> {
        Arc::new(RuleManager {
            opts,
            groups: Mutex::new(Vec::new()),
            stop: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// Replaces the groups with those of `files` (already checked), keeping the alert states of
    /// groups that stay, restoring saved states of new ones, and (re)starts their schedules.
    pub async fn apply(self: &Arc<Self>, files: &[(PathBuf, RuleFile)]) -> Result<(), String> {
        let mut fresh = Group::from_files(files, self.opts.default_interval)?;
        self.stop_tasks().await;
        {
            let old = std::mem::take(&mut *self.groups.lock());
            let mut by_key: HashMap<String, Arc<Mutex<Group>>> = old
                .into_iter()
                .map(|g| {
                    let k = g.lock().key();
                    (k, g)
                })
                .collect();
            for g in &mut fresh {
                match by_key.remove(&g.key()) {
                    Some(o) => g.adopt(&mut o.lock()),
                    None => g.restore(&self.opts.state_dir),
                }
            }
            // Series written by removed groups are marked stale.
            let ts = now_ms();
            let mut app = self.opts.appendable.appender();
            for (_, o) in by_key {
                for l in &o.lock().written {
                    let _ = app.append_stale(l, ts);
                }
            }
            let _ = app.commit();
        }
        let groups: Vec<Arc<Mutex<Group>>> = fresh.into_iter().map(|g| Arc::new(Mutex::new(g))).collect();
        *self.groups.lock() = groups.clone();
        let (tx, rx) = tokio::sync::watch::channel(false);
        *self.stop.lock() = Some(tx);
        let mut tasks = self.tasks.lock();
        for g in groups {
            let me = self.clone();
            let mut rx = rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let next = g.lock().next_tick(now_ms());
                    let wait = Duration::from_millis((next - now_ms()).max(0) as u64);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = rx.changed() => return,
                    }
                    let (g2, me2) = (g.clone(), me.clone());
                    let sent = tokio::task::spawn_blocking(move || {
                        let alerts = g2.lock().eval(&me2.opts, next);
                        if let (Some(sink), false) = (&me2.opts.sink, alerts.is_empty()) {
                            sink(alerts);
                        }
                    })
                    .await;
                    if let Err(e) = sent {
                        tracing::error!(error = %e, "rule group evaluation panicked");
                    }
                    if *rx.borrow() {
                        return;
                    }
                }
            }));
        }
        Ok(())
    }

    async fn stop_tasks(&self) {
        if let Some(tx) = self.stop.lock().take() {
            let _ = tx.send(true);
        }
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Stops every schedule (after the running evaluations finish).
    pub async fn shutdown(&self) {
        self.stop_tasks().await;
    }

    /// The groups and their rules for `/api/v1/rules`.
    pub fn groups(&self) -> Vec<GroupStatus> {
        self.groups.lock().iter().map(|g| status_of(&g.lock())).collect()
    }

    /// Pending and firing alerts for `/api/v1/alerts`.
    pub fn alerts(&self) -> Vec<AlertStatus> {
        self.groups().into_iter().flat_map(|g| g.rules.into_iter().flat_map(|r| r.alerts)).collect()
    }

    /// Counts of rules and firing/pending alerts (for `/metrics`).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut rules = 0;
        let (mut firing, mut pending) = (0, 0);
        for g in self.groups() {
            rules += g.rules.len();
            for r in g.rules {
                for a in r.alerts {
                    match a.state {
                        AlertState::Firing => firing += 1,
                        AlertState::Pending => pending += 1,
                        AlertState::Inactive => {}
                    }
                }
            }
        }
        (rules, firing, pending)
    }
}
