//! The notifier's self-metrics, for the binary's `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;

/// A snapshot of the notifier's counters and gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotifyMetrics {
    /// Notifications attempted, by integration (`webhook`, `slack`, `email`).
    pub notifications_total: BTreeMap<String, u64>,
    /// Notifications that failed after all retries, by integration.
    pub notifications_failed_total: BTreeMap<String, u64>,
    /// Alerts not yet resolved, by state (`active`, `suppressed`, `unprocessed`).
    pub alerts: BTreeMap<String, u64>,
    /// Silences by state (`active`, `pending`, `expired`).
    pub silences: BTreeMap<String, u64>,
    /// The last delivery error of each receiver.
    pub last_errors: BTreeMap<String, String>,
}

impl NotifyMetrics {
    /// The metrics in Prometheus text format with `vitals_` names.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, label: &str, values: &BTreeMap<String, u64>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (k, v) in values {
                let _ = writeln!(out, "{name}{{{label}=\"{k}\"}} {v}");
            }
        };
        family(
            "vitals_notifications_total",
            "counter",
            "Notifications attempted.",
            "integration",
            &self.notifications_total,
        );
        family(
            "vitals_notifications_failed_total",
            "counter",
            "Notifications that failed after all retries.",
            "integration",
            &self.notifications_failed_total,
        );
        family("vitals_alerts", "gauge", "Alerts held by the notifier.", "state", &self.alerts);
        family("vitals_silences", "gauge", "Silences by state.", "state", &self.silences);
        out
    }
}

/// The running counters.
pub(crate) struct Counters {
    total: BTreeMap<String, u64>,
    failed: BTreeMap<String, u64>,
    last_errors: BTreeMap<String, String>,
}

impl Default for Counters {
    fn default() -> Self {
        let zero: BTreeMap<String, u64> = ["email", "slack", "webhook"].iter().map(|k| (k.to_string(), 0)).collect();
        Counters { total: zero.clone(), failed: zero, last_errors: BTreeMap::new() }
    }
}

impl Counters {
    pub fn attempt(&mut self, integration: &str) {
        *self.total.entry(integration.to_string()).or_default() += 1;
    }

    pub fn failure(&mut self, integration: &str, receiver: &str, error: &str) {
        *self.failed.entry(integration.to_string()).or_default() += 1;
        self.last_errors.insert(receiver.to_string(), error.to_string());
    }

    pub fn snapshot(&self) -> NotifyMetrics {
        let states = |names: &[&str]| names.iter().map(|k| (k.to_string(), 0)).collect();
        NotifyMetrics {
            notifications_total: self.total.clone(),
            notifications_failed_total: self.failed.clone(),
            alerts: states(&["active", "suppressed", "unprocessed"]),
            silences: states(&["active", "expired", "pending"]),
            last_errors: self.last_errors.clone(),
        }
    }
}
