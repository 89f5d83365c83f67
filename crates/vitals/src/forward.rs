//! remote_write forwarding: one sender per `remote_write` entry, fed from the WAL.

use std::path::Path;
use std::sync::Arc;

use vitals_tsdb::Db;

use crate::config::Config;

/// The running remote_write senders.
#[derive(Clone, Default)]
pub struct Forwarders {
    inner: Arc<parking_lot::Mutex<Vec<String>>>,
}

impl Forwarders {
    /// Starts a sender per `remote_write` entry.
    pub fn start(db: &Arc<Db>, cfg: &Config, data: &Path) -> anyhow::Result<Self> {
        let f = Forwarders::default();
        f.apply(db, cfg, data)?;
        Ok(f)
    }

    /// Switches to the entries of a new configuration.
    pub fn apply(&self, _db: &Arc<Db>, cfg: &Config, _data: &Path) -> anyhow::Result<()> {
        if !cfg.remote_write.is_empty() {
            anyhow::bail!("remote_write is not wired into serve yet");
        }
        self.inner.lock().clear();
        Ok(())
    }

    /// Renders the senders' metrics.
    pub fn render_metrics(&self, _out: &mut String) {}

    /// Sends what is queued and stops.
    pub async fn shutdown(&self) {}
}
