//! The scrape manager: one pool per job (discovery plus a loop per target), replaced on reload
//! without touching jobs whose configuration did not change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vitals_model::{Appendable, Labels};

use crate::config::{validate_all, GlobalConfig, ScrapeConfig};
use crate::discovery::Discoverer;
use crate::scrape_loop::{run, unix_ms, Health, JobSettings, Metadata, Stop, TargetStatus};
use crate::target::{resolve, Resolved, Target};
use crate::ScrapeError;

/// How often discovery files are checked for changes.
const DISCOVERY_POLL: Duration = Duration::from_secs(1);

/// Runs every job's scrape pool and answers what the targets API needs.
pub struct Manager {
    storage: Arc<dyn Appendable>,
    user_agent: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    global: GlobalConfig,
    pools: BTreeMap<String, Pool>,
}

struct Pool {
    config: ScrapeConfig,
    shared: Arc<PoolShared>,
    stop: watch::Sender<Stop>,
    task: JoinHandle<()>,
}

struct PoolShared {
    settings: Arc<JobSettings>,
    targets: Mutex<PoolTargets>,
}

#[derive(Default)]
struct PoolTargets {
    active: BTreeMap<String, TargetHandle>,
    dropped: Vec<Labels>,
}

struct TargetHandle {
    target: Target,
    status: Arc<Mutex<TargetStatus>>,
    stop: watch::Sender<Stop>,
    task: JoinHandle<()>,
}

impl Manager {
    /// A manager writing into `storage`; nothing runs until [`Manager::apply`].
    pub fn new(storage: Arc<dyn Appendable>, user_agent: &str) -> Self {
        Manager { storage, user_agent: user_agent.to_string(), state: Mutex::new(State::default()) }
    }

    /// Checks a configuration as `apply` would, without running anything.
    pub fn check(global: &GlobalConfig, jobs: &[ScrapeConfig]) -> Result<(), ScrapeError> {
        validate_all(global, jobs)?;
        for j in jobs {
            settings(j, global, "check")?;
        }
        Ok(())
    }

    /// Switches to a new configuration: new jobs start, removed jobs stop (their series marked
    /// stale), changed jobs restart; unchanged jobs keep running. Must run inside a multi-threaded
    /// tokio runtime (scrape loops parse on their worker with `block_in_place`).
    /// A configuration that fails validation changes nothing.
    pub fn apply(&self, global: &GlobalConfig, jobs: &[ScrapeConfig]) -> Result<(), ScrapeError> {
        validate_all(global, jobs)?;
        let mut built = BTreeMap::new();
        for j in jobs {
            built.insert(j.job_name.clone(), Arc::new(settings(j, global, &self.user_agent)?));
        }
        let mut state = self.state.lock();
        let global_changed = state.global != *global;
        let mut old = std::mem::take(&mut state.pools);
        for j in jobs {
            if let Some(p) = old.remove(&j.job_name) {
                if !global_changed && p.config == *j {
                    state.pools.insert(j.job_name.clone(), p);
                    continue;
                }
                let _ = p.stop.send(Stop::Reload);
            }
            let settings = built.remove(&j.job_name).expect("built above for every job");
            state.pools.insert(j.job_name.clone(), self.start_pool(j.clone(), global.clone(), settings));
        }
        for (name, p) in old {
            tracing::info!(job = %name, "scrape job removed");
            let _ = p.stop.send(Stop::Removed);
        }
        state.global = global.clone();
        Ok(())
    }

    /// Stops every loop without marking anything stale, and waits for them.
    pub async fn shutdown(&self) {
        let pools = std::mem::take(&mut self.state.lock().pools);
        for (_, p) in pools {
            let _ = p.stop.send(Stop::Shutdown);
            let _ = p.task.await;
        }
    }

    fn start_pool(&self, config: ScrapeConfig, global: GlobalConfig, settings: Arc<JobSettings>) -> Pool {
        let shared = Arc::new(PoolShared { settings, targets: Mutex::new(PoolTargets::default()) });
        let (stop, rx) = watch::channel(Stop::Run);
        let task = tokio::spawn(run_pool(shared.clone(), self.storage.clone(), global, config.clone(), rx));
        Pool { config, shared, stop, task }
    }

    /// The targets API's view: active and dropped targets of every pool.
    pub fn targets(&self) -> TargetsView {
        let state = self.state.lock();
        let mut view = TargetsView::default();
        for (name, p) in &state.pools {
            let s = &p.shared.settings;
            let targets = p.shared.targets.lock();
            for h in targets.active.values() {
                let st = h.status.lock();
                view.active_targets.push(ActiveTarget {
                    discovered_labels: label_map(&h.target.discovered),
                    labels: label_map(&h.target.labels),
                    scrape_pool: name.clone(),
                    scrape_url: h.target.url.clone(),
                    global_url: h.target.url.clone(),
                    last_error: st.last_error.clone(),
                    last_scrape: st.last_scrape.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339),
                    last_scrape_duration: st.last_duration.as_secs_f64(),
                    health: st.health.as_str(),
                    scrape_interval: vitals_model::PromDuration(s.interval).to_string(),
                    scrape_timeout: vitals_model::PromDuration(s.timeout).to_string(),
                });
            }
            view.dropped_targets
                .extend(targets.dropped.iter().map(|l| DroppedTarget { discovered_labels: label_map(l) }));
        }
        view
    }

    /// Names of the scrape pools.
    pub fn pools(&self) -> Vec<String> {
        self.state.lock().pools.keys().cloned().collect()
    }

    /// Metadata of every metric family seen on any target (deduplicated), for `/api/v1/metadata`.
    pub fn metadata(&self) -> BTreeMap<String, Vec<Metadata>> {
        let mut out: BTreeMap<String, Vec<Metadata>> = BTreeMap::new();
        let state = self.state.lock();
        for p in state.pools.values() {
            for h in p.shared.targets.lock().active.values() {
                let m = h.status.lock().metadata.clone();
                for (name, md) in m.iter() {
                    let list = out.entry(name.clone()).or_default();
                    if !list.contains(md) {
                        list.push(md.clone());
                    }
                }
            }
        }
        out
    }

    /// Counts of targets by health, for self-metrics: (up, down, unknown).
    pub fn health_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for p in self.state.lock().pools.values() {
            for h in p.shared.targets.lock().active.values() {
                match h.status.lock().health {
                    Health::Up => c.0 += 1,
                    Health::Down => c.1 += 1,
                    Health::Unknown => c.2 += 1,
                }
            }
        }
        c
    }
}

fn settings(j: &ScrapeConfig, g: &GlobalConfig, user_agent: &str) -> Result<JobSettings, ScrapeError> {
    let http = j.http();
    let timeout = j.timeout(g).get();
    let client = http
        .build(timeout, user_agent)
        .map_err(|e| ScrapeError::Config(format!("scrape_configs job {:?}: {e}", j.job_name)))?;
    Ok(JobSettings {
        name: j.job_name.clone(),
        interval: j.interval(g).get(),
        timeout,
        honor_labels: j.honor_labels,
        honor_timestamps: j.honor_timestamps,
        sample_limit: j.sample_limit,
        label_limit: j.label_limit,
        label_name_length_limit: j.label_name_length_limit,
        label_value_length_limit: j.label_value_length_limit,
        body_size_limit: j.body_size_limit.map_or(0, |b| b.0),
        metric_relabel: j.metric_relabel_configs.clone(),
        http,
        client,
    })
}

async fn run_pool(
    shared: Arc<PoolShared>,
    storage: Arc<dyn Appendable>,
    global: GlobalConfig,
    config: ScrapeConfig,
    mut stop: watch::Receiver<Stop>,
) {
    let mut disc = Discoverer::new(&config);
    disc.poll();
    sync(&shared, &storage, &config, resolve(&config, &global, &disc.groups()));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(DISCOVERY_POLL), if disc.watches_files() => {}
            _ = stop.changed() => break,
        }
        if disc.poll() {
            sync(&shared, &storage, &config, resolve(&config, &global, &disc.groups()));
        }
    }
    let reason = *stop.borrow();
    let handles = std::mem::take(&mut shared.targets.lock().active);
    for h in handles.values() {
        let _ = h.stop.send(reason);
    }
    for (_, h) in handles {
        let _ = h.task.await;
    }
}

/// Starts loops for new targets and stops (marking stale) those that went away.
fn sync(shared: &Arc<PoolShared>, storage: &Arc<dyn Appendable>, config: &ScrapeConfig, resolved: Vec<Resolved>) {
    let mut targets = shared.targets.lock();
    let mut next: BTreeMap<String, Target> = BTreeMap::new();
    let mut dropped = Vec::new();
    for r in resolved {
        match r {
            Resolved::Active(t) => {
                next.insert(format!("{}{}", t.url, t.labels), t);
            }
            Resolved::Dropped(l) => dropped.push(l),
        }
    }
    if config.target_limit > 0 && next.len() > config.target_limit {
        tracing::warn!(job = %config.job_name, targets = next.len(), limit = config.target_limit, "target_limit exceeded: scraping none of the job's targets");
        next.clear();
    }
    targets.dropped = dropped;
    let current = std::mem::take(&mut targets.active);
    for (key, h) in current {
        if next.remove(&key).is_some() {
            targets.active.insert(key, h);
        } else {
            let _ = h.stop.send(Stop::Removed);
        }
    }
    for (key, target) in next {
        let status = Arc::new(Mutex::new(TargetStatus::default()));
        let (stop, rx) = watch::channel(Stop::Run);
        let task = tokio::spawn(run(shared.settings.clone(), target.clone(), storage.clone(), status.clone(), rx));
        targets.active.insert(key, TargetHandle { target, status, stop, task });
    }
}

/// `GET /api/v1/targets` data, in Prometheus' JSON shape.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetsView {
    /// Targets being scraped.
    pub active_targets: Vec<ActiveTarget>,
    /// Targets relabeling dropped.
    pub dropped_targets: Vec<DroppedTarget>,
}

/// One scraped target.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveTarget {
    /// Labels before relabeling.
    pub discovered_labels: BTreeMap<String, String>,
    /// Labels after relabeling.
    pub labels: BTreeMap<String, String>,
    /// Job name.
    pub scrape_pool: String,
    /// URL scraped.
    pub scrape_url: String,
    /// URL as seen from outside.
    pub global_url: String,
    /// Last error, empty if none.
    pub last_error: String,
    /// RFC 3339 start of the last scrape.
    pub last_scrape: String,
    /// Seconds the last scrape took.
    pub last_scrape_duration: f64,
    /// `up`, `down` or `unknown`.
    pub health: &'static str,
    /// Interval, e.g. `15s`.
    pub scrape_interval: String,
    /// Timeout, e.g. `10s`.
    pub scrape_timeout: String,
}

/// One dropped target.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DroppedTarget {
    /// Labels before relabeling.
    pub discovered_labels: BTreeMap<String, String>,
}

fn label_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-23T14:05:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let ms = unix_ms(t);
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = vitals_model::civil::civil_from_days(days);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_442_700_123);
        assert_eq!(rfc3339(t), "2026-11-23T14:05:00.123Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
