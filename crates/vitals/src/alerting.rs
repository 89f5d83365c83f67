//! Where alerts go: rules hand their alerts to the built-in notifier (routing, grouping,
//! silences, receivers) and to the external Alertmanagers of `alerting.alertmanagers`.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use parking_lot::RwLock;
use vitals_model::Labels;
use vitals_notify::{AlertmanagerForwarder, Notifier};
use vitals_rules::{AlertSink, OutgoingAlert};

use crate::config::Config;

/// The notifier and the forwarders, replaced on reload.
pub struct Alerting {
    /// The built-in Alertmanager.
    pub notifier: Arc<Notifier>,
    forwarders: RwLock<Vec<Arc<AlertmanagerForwarder>>>,
    handle: tokio::runtime::Handle,
}

fn forwarders(cfg: &Config) -> anyhow::Result<Vec<Arc<AlertmanagerForwarder>>> {
    let mut out = Vec::new();
    if let Some(a) = &cfg.alerting {
        for (i, am) in a.alertmanagers.iter().enumerate() {
            out.push(Arc::new(AlertmanagerForwarder::new(am).with_context(|| format!("alerting.alertmanagers[{i}]"))?));
        }
    }
    Ok(out)
}

fn convert(a: &OutgoingAlert) -> vitals_notify::Alert {
    let at = |ms: i64| UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    vitals_notify::Alert {
        labels: Labels::from_pairs(a.labels.iter()),
        annotations: Labels::from_pairs(a.annotations.iter()),
        starts_at: at(a.starts_at),
        ends_at: Some(at(a.ends_at)),
        generator_url: a.generator_url.clone(),
    }
}

impl Alerting {
    /// Starts the notifier (its state lives under `data/notify`) and the forwarders.
    pub fn start(cfg: &Config, data: &std::path::Path, external_url: String) -> anyhow::Result<Arc<Alerting>> {
        let notifier = Notifier::start(cfg.notify_config(), data, external_url).context("starting the notifier")?;
        Ok(Arc::new(Alerting {
            notifier: Arc::new(notifier),
            forwarders: RwLock::new(forwarders(cfg)?),
            handle: tokio::runtime::Handle::current(),
        }))
    }

    /// Applies a new configuration (the old one stays if it is refused).
    pub fn apply(&self, cfg: &Config) -> anyhow::Result<()> {
        let f = forwarders(cfg)?;
        self.notifier.apply(cfg.notify_config()).context("notify")?;
        *self.forwarders.write() = f;
        Ok(())
    }

    /// The sink rules send their alerts to.
    pub fn sink(self: &Arc<Self>) -> AlertSink {
        let me = self.clone();
        Arc::new(move |alerts: Vec<OutgoingAlert>| {
            let alerts: Vec<vitals_notify::Alert> = alerts.iter().map(convert).collect();
            for f in me.forwarders.read().iter() {
                let (f, batch) = (f.clone(), alerts.clone());
                me.handle.spawn(async move {
                    for (url, r) in f.send(&batch).await {
                        if let Err(e) = r {
                            tracing::warn!(%url, error = %e, "sending alerts to Alertmanager failed");
                        }
                    }
                });
            }
            me.notifier.put_alerts(alerts);
        })
    }

    /// Notification counters for `/metrics`.
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str(&self.notifier.metrics().render());
        let fw = self.forwarders.read();
        let sent: u64 = fw.iter().map(|f| f.sent_total()).sum();
        let errors: u64 = fw.iter().map(|f| f.errors_total()).sum();
        out.push_str("# HELP vitals_notifications_alertmanager_sent_total Alerts sent to external Alertmanagers.\n");
        out.push_str("# TYPE vitals_notifications_alertmanager_sent_total counter\n");
        out.push_str(&format!("vitals_notifications_alertmanager_sent_total {sent}\n"));
        out.push_str("# HELP vitals_notifications_alertmanager_errors_total Failed sends to external Alertmanagers.\n");
        out.push_str("# TYPE vitals_notifications_alertmanager_errors_total counter\n");
        out.push_str(&format!("vitals_notifications_alertmanager_errors_total {errors}\n"));
    }

    /// Stops the notifier (after its pending writes).
    pub async fn shutdown(&self) {
        self.notifier.shutdown().await;
    }
}
