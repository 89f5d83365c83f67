//! remote_write forwarding: one sender per `remote_write` entry, fed from the storage's WAL, so
//! it resumes where it stopped after a restart.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use vitals_model::Labels;
use vitals_remote::{FollowOptions, QueueOptions, RemoteWriteConfig, RemoteWriteTask};

use crate::config::Config;

/// A running sender with the configuration and external labels it was started with.
type Running = BTreeMap<String, (RemoteWriteConfig, Labels, RemoteWriteTask)>;

/// The running remote_write senders, keyed by queue name.
#[derive(Clone, Default)]
pub struct Forwarders {
    inner: Arc<tokio::sync::Mutex<Running>>,
    /// Snapshot of the queues for `/metrics` (which must not wait on the async lock).
    queues: Arc<parking_lot::Mutex<Vec<Arc<vitals_remote::QueueManager>>>>,
}

impl Forwarders {
    /// Starts a sender per `remote_write` entry of `cfg`.
    pub async fn start(cfg: &Config, data: &Path) -> anyhow::Result<Self> {
        let f = Forwarders::default();
        f.apply(cfg, data).await?;
        Ok(f)
    }

    /// Switches to the entries of a new configuration: unchanged entries keep running, changed
    /// ones restart (from their saved WAL position), removed ones stop after flushing.
    pub async fn apply(&self, cfg: &Config, data: &Path) -> anyhow::Result<()> {
        let external = Labels::from_pairs(cfg.global.external_labels.iter());
        let mut running = self.inner.lock().await;
        let mut old = std::mem::take(&mut *running);
        let mut result = Ok(());
        for rw in &cfg.remote_write {
            let name = rw.queue_name();
            if let Some((c, l, task)) = old.remove(&name) {
                if c == *rw && l == external {
                    running.insert(name, (c, l, task));
                    continue;
                }
                stop(&name, task).await;
            }
            let opts = FollowOptions {
                queue: QueueOptions { external_labels: external.clone(), ..Default::default() },
                ..Default::default()
            };
            match RemoteWriteTask::start(rw, data, opts) {
                Ok(task) => {
                    tracing::info!(remote = %name, url = %vitals_client::redact_url(&rw.url), "remote_write started");
                    running.insert(name, (rw.clone(), external.clone(), task));
                }
                Err(e) => {
                    result = Err(anyhow::anyhow!("remote_write {name}: {e}"));
                }
            }
        }
        for (name, (_, _, task)) in old {
            stop(&name, task).await;
        }
        *self.queues.lock() = running.values().map(|(_, _, t)| t.queue().clone()).collect();
        result
    }

    /// Renders the senders' metrics.
    pub fn render_metrics(&self, out: &mut String) {
        for q in self.queues.lock().iter() {
            q.render_metrics(out);
        }
    }

    /// Sends what is queued (up to each sender's flush deadline), saves progress and stops.
    pub async fn shutdown(&self) {
        let all = std::mem::take(&mut *self.inner.lock().await);
        for (name, (_, _, task)) in all {
            stop(&name, task).await;
        }
        self.queues.lock().clear();
    }
}

async fn stop(name: &str, task: RemoteWriteTask) {
    if let Err(e) = task.stop().await {
        tracing::warn!(remote = %name, error = %e, "remote_write stopped with an error");
    }
}
