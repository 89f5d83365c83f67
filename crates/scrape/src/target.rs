//! Turning discovered groups into targets: Prometheus' meta labels, relabeling, the scrape URL.

use vitals_model::relabel::process;
use vitals_model::{Labels, LabelsBuilder};

use crate::config::{GlobalConfig, ScrapeConfig};
use crate::discovery::TargetGroup;

/// A target to scrape: its final labels and where to fetch it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Labels after relabeling, without `__` labels (`job`, `instance`, …).
    pub labels: Labels,
    /// Labels as discovered, before relabeling (shown in the targets API).
    pub discovered: Labels,
    /// The URL scraped.
    pub url: String,
}

/// The outcome of relabeling one discovered address.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// Scrape it.
    Active(Target),
    /// Relabeling dropped it; its discovered labels.
    Dropped(Labels),
}

/// Resolves every target of the groups for `job`.
pub fn resolve(job: &ScrapeConfig, global: &GlobalConfig, groups: &[TargetGroup]) -> Vec<Resolved> {
    let mut out = Vec::new();
    for g in groups {
        for addr in &g.targets {
            let discovered = discovered_labels(job, global, g, addr);
            out.push(match relabel_target(job, &discovered) {
                Some(t) => Resolved::Active(t),
                None => Resolved::Dropped(discovered),
            });
        }
    }
    out
}

fn discovered_labels(job: &ScrapeConfig, global: &GlobalConfig, g: &TargetGroup, addr: &str) -> Labels {
    let mut b = LabelsBuilder::new();
    b.set("job", &job.job_name);
    b.set("__scrape_interval__", &job.interval(global).to_string());
    b.set("__scrape_timeout__", &job.timeout(global).to_string());
    b.set("__metrics_path__", &job.metrics_path);
    b.set("__scheme__", &job.scheme);
    for (k, v) in &job.params {
        if let Some(first) = v.first() {
            b.set(&format!("__param_{k}"), first);
        }
    }
    for (k, v) in &g.labels {
        b.set(k, v);
    }
    b.set("__address__", addr);
    b.build()
}

fn relabel_target(job: &ScrapeConfig, discovered: &Labels) -> Option<Target> {
    let relabeled = process(discovered, &job.relabel_configs)?;
    let addr = relabeled.get("__address__").filter(|a| !a.is_empty())?.to_string();
    let scheme = relabeled.get("__scheme__").unwrap_or("http").to_string();
    let path = relabeled.get("__metrics_path__").unwrap_or("/metrics").to_string();
    let mut query = String::new();
    // Parameters: configured ones, with a relabeled `__param_x` replacing the first value of x.
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, vs) in &job.params {
        for (i, v) in vs.iter().enumerate() {
            let v = if i == 0 { relabeled.get(&format!("__param_{k}")).unwrap_or(v).to_string() } else { v.clone() };
            params.push((k.clone(), v));
        }
    }
    for l in relabeled.iter() {
        if let Some(k) = l.name.strip_prefix("__param_") {
            if !job.params.contains_key(k) {
                params.push((k.to_string(), l.value.to_string()));
            }
        }
    }
    for (k, v) in &params {
        query.push(if query.is_empty() { '?' } else { '&' });
        query.push_str(&encode(k));
        query.push('=');
        query.push_str(&encode(v));
    }
    let mut b = LabelsBuilder::new();
    for l in relabeled.iter() {
        if !l.name.starts_with("__") && !l.value.is_empty() {
            b.set(&l.name, &l.value);
        }
    }
    if relabeled.get("instance").is_none() {
        b.set("instance", &addr);
    }
    let url = format!("{scheme}://{addr}{path}{query}");
    Some(Target { labels: b.build(), discovered: discovered.clone(), url })
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(yaml: &str) -> ScrapeConfig {
        serde_norway::from_str(yaml).unwrap()
    }

    fn group(targets: &[&str]) -> TargetGroup {
        TargetGroup {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            labels: Default::default(),
            source: "0".into(),
        }
    }

    #[test]
    fn default_labels_and_url() {
        let j = job("job_name: node\nparams: {module: [http_2xx]}\n");
        let r = resolve(&j, &GlobalConfig::default(), &[group(&["h:9100"])]);
        let Resolved::Active(t) = &r[0] else { panic!("dropped") };
        assert_eq!(t.url, "http://h:9100/metrics?module=http_2xx");
        assert_eq!(t.labels.to_string(), r#"{instance="h:9100", job="node"}"#);
        assert_eq!(t.discovered.get("__scrape_interval__"), Some("1m"));
    }

    #[test]
    fn relabeling_rewrites_and_drops() {
        let j = job("job_name: blackbox
metrics_path: /probe
relabel_configs:
  - source_labels: [__address__]
    target_label: __param_target
  - source_labels: [__param_target]
    target_label: instance
  - target_label: __address__
    replacement: 127.0.0.1:9115
  - source_labels: [instance]
    regex: skip.*
    action: drop
");
        let r = resolve(&j, &GlobalConfig::default(), &[group(&["https://example.com", "skip.me"])]);
        let Resolved::Active(t) = &r[0] else { panic!("dropped") };
        assert_eq!(t.url, "http://127.0.0.1:9115/probe?target=https%3A%2F%2Fexample.com");
        assert_eq!(t.labels.get("instance"), Some("https://example.com"));
        assert!(matches!(r[1], Resolved::Dropped(_)));
    }
}
