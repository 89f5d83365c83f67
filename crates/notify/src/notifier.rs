//! The notifier: keeps alerts, routes them into aggregation groups, and flushes each group on
//! Alertmanager's schedule (group_wait, group_interval, repeat_interval) through silences,
//! inhibition, time intervals and the notification log to the receivers' integrations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vitals_model::Labels;

use crate::alert::{
    fingerprint_hex, label_map, Alert, AlertFilter, AlertState, AlertStatus, ReceiverName, RESOLVE_TIMEOUT,
};
use crate::config::{go_quote, GroupBy, InhibitRule, NotifyConfig, Route, Routes};
use crate::error::NotifyError;
use crate::metrics::{Counters, NotifyMetrics};
use crate::nflog::{self, needs_update, NfLog};
use crate::receivers::{Integration, IntegrationList, NotifyContext};
use crate::silence::{Silence, SilenceInfo, Silences};
use crate::time::format;
use crate::timeinterval::TimeIntervalSpec;

/// Alertmanager-compatible notification delivery; cheap to clone (all clones share one state).
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    silences: Mutex<Silences>,
    nflog: Mutex<NfLog>,
    counters: Mutex<Counters>,
    external_url: String,
    started: SystemTime,
    runtime: Handle,
}

/// A configuration with everything derived from it.
struct Compiled {
    original: String,
    routes: Routes,
    inhibit: Vec<InhibitRule>,
    intervals: HashMap<String, Vec<TimeIntervalSpec>>,
    receivers: HashMap<String, Arc<IntegrationList>>,
}

struct State {
    cfg: Arc<Compiled>,
    alerts: HashMap<u64, Stored>,
    groups: HashMap<(usize, String), Arc<Group>>,
    closed: bool,
}

struct Stored {
    alert: Alert,
    updated_at: SystemTime,
    processed: bool,
}

/// One aggregation group: the alerts of one route with equal group labels.
struct Group {
    route: usize,
    key: String,
    labels: Labels,
    cfg: Arc<Compiled>,
    state: Mutex<GroupState>,
    wake: tokio::sync::Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct GroupState {
    alerts: BTreeMap<u64, Alert>,
    has_flushed: bool,
}

/// One aggregation group: its labels, its route's receiver and its alerts' fingerprints (hex).
#[derive(Debug, Clone)]
pub struct AlertGroupInfo {
    /// The values of the route's `group_by` labels.
    pub labels: BTreeMap<String, String>,
    /// The receiver of the group's route.
    pub receiver: String,
    /// Fingerprints of the alerts in the group (resolved ones not yet flushed included).
    pub fingerprints: Vec<String>,
}

/// The data `GET /api/v2/status` returns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusInfo {
    /// Always `{"name":"","status":"disabled","peers":[]}`: vitals runs no cluster.
    pub cluster: ClusterStatus,
    /// Build information.
    pub version_info: VersionInfo,
    /// The configuration in force.
    pub config: ConfigStatus,
    /// When the notifier started (RFC 3339), as Alertmanager reports it.
    pub uptime: String,
}

/// `cluster` of the status.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// Empty.
    pub name: String,
    /// `disabled`.
    pub status: String,
    /// Empty.
    pub peers: Vec<serde_json::Value>,
}

/// `versionInfo` of the status.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// Branch.
    pub branch: String,
    /// Build date.
    pub build_date: String,
    /// Build user.
    pub build_user: String,
    /// Toolchain (here: `rust`).
    pub go_version: String,
    /// Revision.
    pub revision: String,
    /// vitals' version.
    pub version: String,
}

/// `config` of the status.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigStatus {
    /// The configuration as YAML (secrets shown as `<secret>`).
    pub original: String,
}

fn compile(config: &NotifyConfig) -> Result<Compiled, NotifyError> {
    let routes = config.compile_routes()?;
    let inhibit = config.compile_inhibit_rules()?;
    let intervals = config.all_time_intervals().map(|t| (t.name.clone(), t.time_intervals.clone())).collect();
    let mut receivers = HashMap::new();
    for r in &config.receivers {
        receivers.insert(r.name.clone(), Arc::new(Integration::build_all(r)?));
    }
    let original = serde_norway::to_string(config).unwrap_or_default();
    Ok(Compiled { original, routes, inhibit, intervals, receivers })
}

impl Notifier {
    /// Validates the configuration, loads silences and the notification log from
    /// `data_dir/notify/`, and starts (must be called inside a tokio runtime).
    pub fn start(config: NotifyConfig, data_dir: &Path, external_url: String) -> Result<Notifier, NotifyError> {
        let runtime = Handle::try_current()
            .map_err(|_| NotifyError::Config("the notifier must be started inside a tokio runtime".into()))?;
        let cfg = Arc::new(compile(&config)?);
        let dir: PathBuf = data_dir.join("notify");
        std::fs::create_dir_all(&dir).map_err(|source| NotifyError::Io { path: dir.clone(), source })?;
        let silences = Silences::load(dir.join("silences.json"))?;
        let nflog = NfLog::load(dir.join("nflog.json"))?;
        let inner = Inner {
            state: Mutex::new(State { cfg, alerts: HashMap::new(), groups: HashMap::new(), closed: false }),
            silences: Mutex::new(silences),
            nflog: Mutex::new(nflog),
            counters: Mutex::new(Counters::default()),
            external_url: external_url.trim_end_matches('/').to_string(),
            started: SystemTime::now(),
            runtime,
        };
        Ok(Notifier { inner: Arc::new(inner) })
    }

    /// Accepts alerts as `POST /api/v2/alerts` does: merged by fingerprint, then routed to groups.
    pub fn put_alerts(&self, alerts: Vec<Alert>) {
        let now = SystemTime::now();
        let mut st = self.inner.state.lock();
        if st.closed {
            return;
        }
        for mut a in alerts {
            if a.ends_at.is_none() {
                a.ends_at = Some(now + RESOLVE_TIMEOUT);
            }
            let fp = a.fingerprint();
            let mut processed = false;
            if let Some(old) = st.alerts.get(&fp) {
                // Overlapping firing periods are one alert: keep the earliest start.
                if old.alert.ends_at.is_some_and(|e| e >= a.starts_at) && old.alert.starts_at < a.starts_at {
                    a.starts_at = old.alert.starts_at;
                }
                processed = old.processed;
            }
            st.alerts.insert(fp, Stored { alert: a.clone(), updated_at: now, processed });
            self.inner.route_alert(&mut st, a, now);
        }
        st.alerts.retain(|_, s| !s.alert.resolved_at(now - RESOLVE_TIMEOUT));
    }

    /// Replaces the configuration, keeping alerts, silences and the notification log; groups are
    /// rebuilt, and the log keeps them from sending anything twice.
    pub fn apply(&self, config: NotifyConfig) -> Result<(), NotifyError> {
        let cfg = Arc::new(compile(&config)?);
        let now = SystemTime::now();
        let mut st = self.inner.state.lock();
        st.cfg = cfg;
        for (_, g) in st.groups.drain() {
            if let Some(t) = g.task.lock().take() {
                t.abort();
            }
        }
        let alerts: Vec<Alert> = st.alerts.values().map(|s| s.alert.clone()).collect();
        for a in alerts {
            self.inner.route_alert(&mut st, a, now);
        }
        Ok(())
    }

    /// The alerts not yet resolved, with their state, as `GET /api/v2/alerts` lists them.
    pub fn alerts(&self, filter: &AlertFilter) -> Vec<AlertStatus> {
        let now = SystemTime::now();
        let st = self.inner.state.lock();
        let sil = self.inner.silences.lock();
        let mut out = Vec::new();
        for (fp, s) in &st.alerts {
            let a = &s.alert;
            if a.resolved_at(now) || !filter.matchers.iter().all(|m| m.matches(a.labels.get(&m.name).unwrap_or(""))) {
                continue;
            }
            let routes = st.cfg.routes.match_labels(&a.labels);
            let mut receivers: Vec<ReceiverName> = Vec::new();
            for r in &routes {
                let name = st.cfg.routes.nodes[*r].receiver.clone();
                if !receivers.iter().any(|x| x.name == name) {
                    receivers.push(ReceiverName { name });
                }
            }
            if let Some(re) = &filter.receiver {
                if !receivers.iter().any(|r| re.is_match(&r.name)) {
                    continue;
                }
            }
            let silenced_by = sil.muting(&a.labels, now);
            let inhibited_by: Vec<String> =
                inhibitors(&st, &st.cfg.inhibit, a, now).into_iter().map(fingerprint_hex).collect();
            let mut muted_by = Vec::new();
            let per_route: Vec<Option<Vec<String>>> =
                routes.iter().map(|r| time_muted(&st.cfg, &st.cfg.routes.nodes[*r], now)).collect();
            if per_route.iter().all(Option::is_some) {
                muted_by = per_route.into_iter().flatten().flatten().collect();
                muted_by.sort();
                muted_by.dedup();
            }
            // Alertmanager 0.25 works out silences and inhibitions on every read, so an alert is
            // active or suppressed as soon as it arrives, never "unprocessed".
            let state = if !silenced_by.is_empty() || !inhibited_by.is_empty() || !muted_by.is_empty() {
                "suppressed"
            } else {
                "active"
            };
            if (!filter.silenced && !silenced_by.is_empty())
                || (!filter.inhibited && !inhibited_by.is_empty())
                || (!filter.active && state == "active")
                || (!filter.unprocessed && state == "unprocessed")
            {
                continue;
            }
            out.push(AlertStatus {
                annotations: label_map(&a.annotations),
                ends_at: a.ends_at.map(format).unwrap_or_default(),
                fingerprint: fingerprint_hex(*fp),
                receivers,
                starts_at: format(a.starts_at),
                status: AlertState { state: state.into(), silenced_by, inhibited_by, muted_by },
                updated_at: format(s.updated_at),
                generator_url: a.generator_url.clone(),
                labels: label_map(&a.labels),
            });
        }
        out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        out
    }

    /// The aggregation groups and the fingerprints of their alerts, for `GET /api/v2/alerts/groups`
    /// (join them with [`Notifier::alerts`], which applies the filters and drops resolved alerts).
    pub fn alert_groups(&self) -> Vec<AlertGroupInfo> {
        let st = self.inner.state.lock();
        st.groups
            .values()
            .map(|g| AlertGroupInfo {
                labels: label_map(&g.labels),
                receiver: g.cfg.routes.nodes[g.route].receiver.clone(),
                fingerprints: g.state.lock().alerts.keys().map(|fp| fingerprint_hex(*fp)).collect(),
            })
            .collect()
    }

    /// Creates a silence, or updates the one with `silence.id`; returns the id in force.
    pub fn add_silence(&self, silence: Silence) -> Result<String, NotifyError> {
        let now = SystemTime::now();
        let mut sil = self.inner.silences.lock();
        let id = sil.set(silence, now)?;
        sil.save(now)?;
        Ok(id)
    }

    /// Expires a silence now.
    pub fn expire_silence(&self, id: &str) -> Result<(), NotifyError> {
        let now = SystemTime::now();
        let mut sil = self.inner.silences.lock();
        sil.expire(id, now)?;
        sil.save(now)
    }

    /// Every silence with its state.
    pub fn silences(&self) -> Vec<SilenceInfo> {
        self.inner.silences.lock().list(SystemTime::now())
    }

    /// The data of `GET /api/v2/status`.
    pub fn status(&self) -> StatusInfo {
        StatusInfo {
            cluster: ClusterStatus { name: String::new(), status: "disabled".into(), peers: Vec::new() },
            version_info: VersionInfo {
                branch: String::new(),
                build_date: String::new(),
                build_user: String::new(),
                go_version: "rust".into(),
                revision: String::new(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            config: ConfigStatus { original: self.inner.state.lock().cfg.original.clone() },
            uptime: format(self.inner.started),
        }
    }

    /// Counters and gauges for `/metrics`.
    pub fn metrics(&self) -> NotifyMetrics {
        let mut m = self.inner.counters.lock().snapshot();
        for a in self.alerts(&AlertFilter::default()) {
            *m.alerts.entry(a.status.state).or_default() += 1;
        }
        for s in self.silences() {
            *m.silences.entry(s.status.state.as_str().to_string()).or_default() += 1;
        }
        m
    }

    /// Stops every group (in-flight notifications are abandoned) and writes the state files.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut st = self.inner.state.lock();
            st.closed = true;
            st.groups.drain().filter_map(|(_, g)| g.task.lock().take()).collect()
        };
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        let now = SystemTime::now();
        if let Err(e) = self.inner.silences.lock().save(now) {
            tracing::warn!(error = %e, "notify: saving silences");
        }
        if let Err(e) = self.inner.nflog.lock().save() {
            tracing::warn!(error = %e, "notify: saving the notification log");
        }
    }
}

impl Inner {
    /// Puts one alert into the group of every route it matches, creating groups as needed.
    fn route_alert(self: &Arc<Self>, st: &mut State, a: Alert, now: SystemTime) {
        let cfg = st.cfg.clone();
        for r in cfg.routes.match_labels(&a.labels) {
            let route = &cfg.routes.nodes[r];
            let labels = group_labels(&route.group_by, &a.labels);
            let key = format!("{}:{}", route.key, labelset_string(&labels));
            let g = st
                .groups
                .entry((r, key.clone()))
                .or_insert_with(|| {
                    let g = Arc::new(Group {
                        route: r,
                        key,
                        labels,
                        cfg: cfg.clone(),
                        state: Mutex::new(GroupState { alerts: BTreeMap::new(), has_flushed: false }),
                        wake: tokio::sync::Notify::new(),
                        task: Mutex::new(None),
                    });
                    let task = self.runtime.spawn(run_group(self.clone(), g.clone()));
                    *g.task.lock() = Some(task);
                    g
                })
                .clone();
            let mut gs = g.state.lock();
            gs.alerts.insert(a.fingerprint(), a.clone());
            // An alert older than group_wait needs no more waiting.
            if !gs.has_flushed && a.starts_at + route.group_wait <= now {
                g.wake.notify_one();
            }
        }
    }

    /// Ids of silences and fingerprints of inhibiting alerts that mute this alert.
    fn muted(&self, a: &Alert, cfg: &Compiled, now: SystemTime) -> bool {
        let inhibited = !inhibitors(&self.state.lock(), &cfg.inhibit, a, now).is_empty();
        inhibited || !self.silences.lock().muting(&a.labels, now).is_empty()
    }

    /// Sends a group's alerts to one integration if the log says it is due; false on failure.
    #[allow(clippy::too_many_arguments)]
    async fn notify_integration(
        &self,
        ctx: &NotifyContext,
        integration: &Integration,
        kind: &'static str,
        idx: u32,
        alerts: &[Alert],
        route: &Route,
        now: SystemTime,
    ) -> bool {
        let firing: BTreeSet<String> =
            alerts.iter().filter(|a| !a.resolved_at(now)).map(|a| fingerprint_hex(a.fingerprint())).collect();
        let resolved: BTreeSet<String> =
            alerts.iter().filter(|a| a.resolved_at(now)).map(|a| fingerprint_hex(a.fingerprint())).collect();
        let key = nflog::key(&ctx.group_key, &ctx.receiver, kind, idx);
        let entry = self.nflog.lock().get(&key).cloned();
        let send_resolved = integration.send_resolved();
        if !needs_update(entry.as_ref(), &firing, &resolved, send_resolved, route.repeat_interval, now) {
            return true;
        }
        let to_send: Vec<Alert> = alerts.iter().filter(|a| send_resolved || !a.resolved_at(now)).cloned().collect();
        if !to_send.is_empty() {
            self.counters.lock().attempt(kind);
            let deadline = Instant::now() + route.group_interval;
            let mut backoff = Duration::from_millis(100);
            loop {
                let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
                match integration.notify(ctx, &to_send, left).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::debug!(receiver = %ctx.receiver, integration = kind, error = %e, "notify attempt failed");
                        if !e.retryable || Instant::now() + backoff >= deadline {
                            tracing::warn!(receiver = %ctx.receiver, integration = kind, error = %e, "notify failed");
                            self.counters.lock().failure(kind, &ctx.receiver, &e.message);
                            return false;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        }
        let e = nflog::Entry {
            group_key: ctx.group_key.clone(),
            receiver: ctx.receiver.clone(),
            integration: kind.to_string(),
            idx,
            timestamp: now,
            firing_alerts: firing,
            resolved_alerts: resolved,
            expires_at: now + nflog::RETENTION,
        };
        if let Err(err) = self.nflog.lock().log(e, now) {
            tracing::warn!(error = %err, "notify: writing the notification log");
        }
        true
    }
}

/// A group's life: wait group_wait (or less when woken), flush, then flush every group_interval
/// until the group is empty.
async fn run_group(inner: Arc<Inner>, g: Arc<Group>) {
    let route = g.cfg.routes.nodes[g.route].clone();
    let mut next = Instant::now() + route.group_wait;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = g.wake.notified() => {
                if g.state.lock().has_flushed {
                    continue;
                }
            }
        }
        next = Instant::now() + route.group_interval;
        flush(&inner, &g, &route).await;
        let mut st = inner.state.lock();
        let gs = g.state.lock();
        if gs.alerts.is_empty() {
            let k = (g.route, g.key.clone());
            if st.groups.get(&k).is_some_and(|cur| Arc::ptr_eq(cur, &g)) {
                st.groups.remove(&k);
            }
            return;
        }
    }
}

async fn flush(inner: &Arc<Inner>, g: &Arc<Group>, route: &Route) {
    let now = SystemTime::now();
    let snapshot: Vec<Alert> = {
        let mut gs = g.state.lock();
        gs.has_flushed = true;
        gs.alerts.values().cloned().collect()
    };
    {
        let mut st = inner.state.lock();
        for a in &snapshot {
            if let Some(s) = st.alerts.get_mut(&a.fingerprint()) {
                s.processed = true;
            }
        }
    }
    let ok = if time_muted(&g.cfg, route, now).is_some() {
        true
    } else {
        let visible: Vec<Alert> = snapshot.iter().filter(|a| !inner.muted(a, &g.cfg, now)).cloned().collect();
        let integrations = g.cfg.receivers.get(&route.receiver).cloned().unwrap_or_default();
        let ctx = NotifyContext {
            receiver: route.receiver.clone(),
            group_key: g.key.clone(),
            group_labels: g.labels.clone(),
            external_url: inner.external_url.clone(),
        };
        let mut ok = true;
        if !visible.is_empty() {
            let mut sends = Vec::new();
            for (integration, kind, idx) in integrations.iter() {
                sends.push(inner.notify_integration(&ctx, integration, kind, *idx, &visible, route, now));
            }
            for done in join_all(sends).await {
                ok &= done;
            }
        }
        ok
    };
    if ok {
        let mut gs = g.state.lock();
        for a in snapshot.iter().filter(|a| a.resolved_at(now)) {
            let fp = a.fingerprint();
            if gs.alerts.get(&fp) == Some(a) {
                gs.alerts.remove(&fp);
            }
        }
    }
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn join_all<F: std::future::Future<Output = bool>>(futs: Vec<F>) -> Vec<bool> {
    let mut futs: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<bool>> = vec![None; futs.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.unwrap_or(false)).collect()
}

/// The names of the time intervals muting a route now, or `None` when it is not muted.
fn time_muted(cfg: &Compiled, route: &Route, now: SystemTime) -> Option<Vec<String>> {
    let active = |name: &String| cfg.intervals.get(name).is_some_and(|specs| specs.iter().any(|s| s.contains(now)));
    let muting: Vec<String> = route.mute_time_intervals.iter().filter(|n| active(n)).cloned().collect();
    if !muting.is_empty() {
        return Some(muting);
    }
    if !route.active_time_intervals.is_empty() && !route.active_time_intervals.iter().any(active) {
        return Some(route.active_time_intervals.clone());
    }
    None
}

/// Fingerprints of firing alerts that inhibit `target` under some rule.
fn inhibitors(st: &State, rules: &[InhibitRule], target: &Alert, now: SystemTime) -> Vec<u64> {
    let get = |l: &Labels, n: &str| l.get(n).unwrap_or("").to_string();
    let target_fp = target.fingerprint();
    let mut out = Vec::new();
    for rule in rules {
        if !rule.target.iter().all(|m| m.matches(target.labels.get(&m.name).unwrap_or(""))) {
            continue;
        }
        for (fp, s) in &st.alerts {
            let src = &s.alert;
            if *fp == target_fp || src.resolved_at(now) {
                continue;
            }
            if rule.source.iter().all(|m| m.matches(src.labels.get(&m.name).unwrap_or("")))
                && rule.equal.iter().all(|n| get(&src.labels, n) == get(&target.labels, n))
                && !out.contains(fp)
            {
                out.push(*fp);
            }
        }
    }
    out.sort_unstable();
    out
}

fn group_labels(by: &GroupBy, labels: &Labels) -> Labels {
    match by {
        GroupBy::All => labels.clone(),
        GroupBy::Labels(names) => {
            Labels::from_pairs(names.iter().filter_map(|n| labels.get(n).map(|v| (n.as_str(), v))))
        }
    }
}

/// Prometheus' `LabelSet.String()`: `{a="1", b="2"}`.
fn labelset_string(l: &Labels) -> String {
    let parts: Vec<String> = l.iter().map(|l| format!("{}={}", l.name, go_quote(&l.value))).collect();
    format!("{{{}}}", parts.join(", "))
}
