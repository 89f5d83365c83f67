//! The configuration file: Prometheus' `global`, `scrape_configs`, `remote_write`, `rule_files`
//! and `alerting` keys, and vitals' own `storage` and `limits` sections.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;
use vitals_model::PromDuration;
use vitals_remote::IngestLimits;
use vitals_scrape::config::ByteSize;
use vitals_scrape::{GlobalConfig, Manager, ScrapeConfig};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for every job.
    #[serde(default)]
    pub global: GlobalConfig,
    /// Jobs to scrape.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Stores to forward samples to.
    #[serde(default)]
    pub remote_write: Vec<vitals_remote::send::RemoteWriteConfig>,
    /// Rule files (globs, relative to this file's folder).
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Whether vitals' default rule pack is evaluated (default true).
    #[serde(default)]
    pub default_rules: Option<bool>,
    /// Probe modules in blackbox_exporter's schema (the `modules:` map of a `blackbox.yml`).
    #[serde(default)]
    pub probe_modules: Option<serde_norway::Value>,
    /// Synthetic checks that use the modules.
    #[serde(default)]
    pub probes: Vec<ProbeCheckConfig>,
    /// Whether vitals collects host metrics with node_exporter's names (job `node`, default true).
    #[serde(default)]
    pub host_metrics: Option<bool>,
    /// Service level objectives: generate recording rules and burn-rate alerts.
    #[serde(default)]
    pub slos: Vec<vitals_rules::slo::SloConfig>,
    /// Notification routing and receivers, in Alertmanager's schema.
    #[serde(default)]
    pub notify: Option<vitals_notify::NotifyConfig>,
    /// External Alertmanagers alerts are forwarded to (Prometheus' `alerting` section).
    #[serde(default)]
    pub alerting: Option<AlertingConfig>,
    /// Storage settings.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Limits of the ingest endpoints.
    #[serde(default)]
    pub limits: IngestLimits,
    /// Where dashboards are kept as YAML/JSON files (default: `dashboards/` in the storage folder).
    #[serde(default)]
    pub dashboards: Option<DashboardsConfig>,
}

/// `dashboards:`: the folder of dashboard files the UI lists and saves to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardsConfig {
    /// The folder (relative to the configuration file's folder).
    pub path: PathBuf,
}

/// One `probes:` entry: a module run against targets at an interval.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeCheckConfig {
    /// The check's name (its series' `job` label).
    pub name: String,
    /// A module of `probe_modules`.
    pub module: String,
    /// URLs, `host:port` or names, depending on the module's prober.
    pub targets: Vec<String>,
    /// How often (default: `global.scrape_interval`).
    #[serde(default)]
    pub interval: Option<PromDuration>,
    /// Labels added to the check's series.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// `alerting:` — where alerts are forwarded, as in Prometheus.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// External Alertmanagers.
    #[serde(default)]
    pub alertmanagers: Vec<vitals_notify::AlertmanagerConfig>,
    /// Relabeling of alerts before they are sent (accepted, not applied yet).
    #[serde(default)]
    pub alert_relabel_configs: Vec<serde_norway::Value>,
}

impl Config {
    /// The probe modules (validated) and the checks, as the probe manager takes them.
    pub fn probe_setup(&self) -> anyhow::Result<(vitals_probe::Modules, Vec<vitals_probe::ProbeCheck>)> {
        let modules = match &self.probe_modules {
            Some(v) if !v.is_null() => {
                let text = serde_norway::to_string(v).context("probe_modules")?;
                vitals_probe::parse_modules(&text).map_err(|e| anyhow::anyhow!("probe_modules: {e}"))?
            }
            _ => vitals_probe::Modules::new(),
        };
        let mut checks = Vec::new();
        for p in &self.probes {
            if !modules.contains_key(&p.module) {
                bail!("probes: {:?}: unknown module {:?} (define it under probe_modules)", p.name, p.module);
            }
            checks.push(vitals_probe::ProbeCheck {
                name: p.name.clone(),
                module: p.module.clone(),
                targets: p.targets.clone(),
                interval: p.interval.unwrap_or(self.global.scrape_interval).0,
                labels: p.labels.clone(),
            });
        }
        Ok((modules, checks))
    }

    /// The scrape jobs to run: the configured ones plus, unless `host_metrics: false` or a job is
    /// already named `node`, a `node` job scraping vitals' own `/host/metrics` at `self_target`.
    pub fn effective_scrape_configs(&self, self_target: &str) -> Vec<ScrapeConfig> {
        let mut jobs = self.scrape_configs.clone();
        if self.host_metrics.unwrap_or(true) && !jobs.iter().any(|j| j.job_name == "node") {
            let mut node = ScrapeConfig::with_targets("node", vec![self_target.to_string()]);
            node.metrics_path = "/host/metrics".into();
            jobs.push(node);
        }
        jobs
    }

    /// The notification settings: the `notify:` section, or a single receiver that only keeps
    /// alerts for the API when there is none.
    pub fn notify_config(&self) -> vitals_notify::NotifyConfig {
        match &self.notify {
            Some(n) => n.clone(),
            None => vitals_notify::NotifyConfig::from_yaml("route: {receiver: vitals}\nreceivers: [{name: vitals}]\n")
                .expect("the built-in notify configuration is valid"),
        }
    }
}

/// `storage:` — Prometheus' `tsdb`/`exemplars` keys and vitals' retention settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Prometheus' `storage.tsdb` section.
    #[serde(default)]
    pub tsdb: Option<TsdbConfig>,
    /// Prometheus' `storage.exemplars` section (accepted; vitals keeps no exemplars).
    #[serde(default)]
    pub exemplars: Option<serde_norway::Value>,
    /// Delete data older than this (default 15d).
    #[serde(default)]
    pub retention: Option<PromDuration>,
    /// Delete the oldest blocks while blocks take more than this.
    #[serde(default)]
    pub retention_size: Option<ByteSize>,
    /// Most active series; more are refused (0 = no limit).
    #[serde(default)]
    pub max_active_series: usize,
}

/// `storage.tsdb:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsdbConfig {
    /// Accept samples this much older than the newest of their series.
    #[serde(default)]
    pub out_of_order_time_window: Option<PromDuration>,
}

impl Config {
    /// Keys that are accepted but have no effect yet, one message each.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.alerting.as_ref().is_some_and(|a| !a.alert_relabel_configs.is_empty()) {
            w.push("alerting.alert_relabel_configs: accepted, but not applied yet".to_string());
        }
        if self.storage.exemplars.is_some() {
            w.push("storage.exemplars: vitals keeps no exemplars".to_string());
        }
        w
    }
}

/// Reads, parses and validates a configuration file; errors name the file, line and key.
pub fn load(path: &Path) -> anyhow::Result<Config> {
    Ok(load_with_text(path)?.0)
}

/// Like [`load`], also returning the file's text (for `/api/v1/status/config`).
pub fn load_with_text(path: &Path) -> anyhow::Result<(Config, String)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((parse(&text, path)?, text))
}

/// Keys whose values are secrets wherever they appear (Prometheus' `Secret` fields).
const SECRET_KEYS: [&str; 10] = [
    "password",
    "bearer_token",
    "credentials",
    "client_secret",
    "secret_key",
    "api_key",
    "auth_token",
    "auth_password",
    "auth_secret",
    "api_url",
];

/// Configuration text as `/api/v1/status/config` shows it: re-serialised YAML with every secret
/// replaced by `<secret>` and URL passwords by `xxxxx`, as Prometheus shows its configuration.
pub fn redacted_yaml(text: &str) -> String {
    let mut v: serde_norway::Value = serde_norway::from_str(text).unwrap_or(serde_norway::Value::Null);
    if v.is_null() {
        v = serde_norway::Value::Mapping(Default::default());
    }
    redact(&mut v, "");
    serde_norway::to_string(&v).unwrap_or_default()
}

fn redact(v: &mut serde_norway::Value, parent: &str) {
    use serde_norway::Value;
    match v {
        Value::Mapping(m) => {
            for (k, val) in m.iter_mut() {
                let key = k.as_str().unwrap_or("");
                let secret = SECRET_KEYS.contains(&key) || (key == "key" && parent == "tls_config");
                if secret && !val.is_null() {
                    *val = Value::String("<secret>".into());
                } else if key == "secrets" {
                    if let Value::Sequence(list) = val {
                        list.iter_mut().for_each(|s| *s = Value::String("<secret>".into()));
                    }
                } else if matches!(key, "url" | "proxy_url") {
                    if let Value::String(u) = val {
                        *u = redact_url_password(u);
                    }
                } else {
                    redact(val, key);
                }
            }
        }
        Value::Sequence(list) => list.iter_mut().for_each(|x| redact(x, parent)),
        Value::Tagged(t) => redact(&mut t.value, parent),
        _ => {}
    }
}

/// `http://user:pass@host/` → `http://user:xxxxx@host/` (Go's `url.URL.Redacted`).
fn redact_url_password(u: &str) -> String {
    let Some((scheme, rest)) = u.split_once("://") else { return u.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return u.to_string() };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:xxxxx{}", &rest[at..]),
        None => u.to_string(),
    }
}

/// Parses and validates configuration text read from `path`.
pub fn parse(text: &str, path: &Path) -> anyhow::Result<Config> {
    let cfg: Config = if text.trim().is_empty() {
        Config::default()
    } else {
        serde_norway::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), locate(&e.to_string(), text)))?
    };
    validate(&cfg, path)?;
    Ok(cfg)
}

/// Adds the line to an "unknown field" error that the YAML parser reported without one.
fn locate(msg: &str, text: &str) -> String {
    if msg.contains(" line ") {
        return msg.to_string();
    }
    let key = msg.split_once("unknown field `").and_then(|(_, rest)| rest.split_once('`')).map(|(k, _)| k);
    if let Some(key) = key {
        for (i, line) in text.lines().enumerate() {
            let l = line.trim_start().trim_start_matches("- ");
            if l.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':')) {
                return format!("line {}: {msg}", i + 1);
            }
        }
    }
    msg.to_string()
}

fn validate(cfg: &Config, path: &Path) -> anyhow::Result<()> {
    let file = path.display();
    Manager::check(&cfg.global, &cfg.scrape_configs).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let mut names = std::collections::HashSet::new();
    for (i, rw) in cfg.remote_write.iter().enumerate() {
        rw.validate().map_err(|e| anyhow::anyhow!("{file}: remote_write[{i}]: {e}"))?;
        if !names.insert(rw.queue_name()) {
            bail!("{file}: remote_write[{i}]: duplicate remote_write name or url {:?}", rw.queue_name());
        }
    }
    cfg.probe_setup().map_err(|e| anyhow::anyhow!("{file}: {e:#}"))?;
    let mut slo_names = std::collections::HashSet::new();
    for slo in &cfg.slos {
        slo.validate().map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        if !slo_names.insert(slo.name.clone()) {
            bail!("{file}: slos: duplicate name {:?}", slo.name);
        }
    }
    if let Some(n) = &cfg.notify {
        n.validate().map_err(|e| anyhow::anyhow!("{file}: notify: {e}"))?;
    }
    if let Some(a) = &cfg.alerting {
        for (i, am) in a.alertmanagers.iter().enumerate() {
            vitals_notify::AlertmanagerForwarder::new(am)
                .map_err(|e| anyhow::anyhow!("{file}: alerting.alertmanagers[{i}]: {e}"))?;
        }
    }
    let base = path.parent().unwrap_or(Path::new("."));
    for pattern in &cfg.rule_files {
        if !pattern.contains(['*', '?', '[']) && !resolve(base, pattern).exists() {
            bail!("{file}: rule_files: {pattern}: no such file");
        }
    }
    Ok(())
}

/// A path from the configuration, relative to the configuration file's directory.
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The text of [`default_config`], for `/api/v1/status/config`.
pub fn default_config_text(self_target: &str) -> String {
    format!(
        "global:\n  scrape_interval: 15s\nscrape_configs:\n- job_name: vitals\n  static_configs:\n  - targets:\n    - {self_target}\n"
    )
}

/// The configuration used without `--config`: vitals scrapes itself every 15 s.
pub fn default_config(self_target: &str) -> Config {
    let mut cfg = Config::default();
    cfg.global.scrape_interval = PromDuration::from_secs(15);
    cfg.scrape_configs.push(ScrapeConfig::with_targets("vitals", vec![self_target.to_string()]));
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prometheus_config_loads() {
        let text = r#"
global:
  scrape_interval: 15s
  evaluation_interval: 30s
  external_labels:
    monitor: codelab
rule_files: []
scrape_configs:
  - job_name: prometheus
    honor_labels: true
    static_configs:
      - targets: ["localhost:9090"]
        labels: {group: production}
  - job_name: node
    scrape_interval: 5s
    scrape_timeout: 3s
    metrics_path: /metrics
    scheme: http
    params:
      "collect[]": [cpu, meminfo]
    basic_auth: {username: u, password: p}
    tls_config: {insecure_skip_verify: true}
    file_sd_configs:
      - files: ["targets/*.json"]
        refresh_interval: 1m
    relabel_configs:
      - source_labels: [__address__]
        regex: "(.*):.*"
        target_label: host
        replacement: "$1"
    metric_relabel_configs:
      - action: labeldrop
        regex: "tmp_.*"
    sample_limit: 10000
    label_limit: 30
    label_name_length_limit: 200
    label_value_length_limit: 2000
    honor_timestamps: false
remote_write:
  - url: http://127.0.0.1:8428/api/v1/write
    remote_timeout: 30s
    queue_config: {max_samples_per_send: 2000, capacity: 10000, max_shards: 4}
storage:
  tsdb: {out_of_order_time_window: 10m}
"#;
        let cfg = parse(text, Path::new("prometheus.yml")).unwrap();
        assert_eq!(cfg.scrape_configs.len(), 2);
        assert_eq!(cfg.global.external_labels["monitor"], "codelab");
        assert_eq!(cfg.remote_write.len(), 1);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse(
            "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n",
            Path::new("p.yml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("p.yml") && e.contains("line 5") && e.contains("scrape_intervall"), "{e}");
        let e = parse("bogus_top: 1\n", Path::new("p.yml")).unwrap_err().to_string();
        assert!(e.contains("bogus_top") && e.contains("line 1"), "{e}");
        let e = parse("global: {scrape_interval: 5x}\n", Path::new("p.yml")).unwrap_err().to_string();
        assert!(e.contains("5x"), "{e}");
        let e = parse("scrape_configs: [{job_name: a, scrape_interval: 5s, scrape_timeout: 6s}]\n", Path::new("p.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.yml") && e.contains("scrape_timeout"), "{e}");
        let e = parse("rule_files: [missing.yml]\n", Path::new("/nonexistent/p.yml")).unwrap_err().to_string();
        assert!(e.contains("missing.yml"), "{e}");
    }

    #[test]
    fn secrets_are_redacted_in_the_shown_config() {
        let text = r#"
global: {scrape_interval: 15s}
scrape_configs:
  - job_name: a
    basic_auth: {username: u, password: hunter2}
    authorization: {type: Bearer, credentials: tok-1}
    bearer_token: tok-2
    bearer_token_file: /etc/token
    tls_config: {cert_file: c.pem, key: inline-key, key_file: k.pem}
    oauth2: {client_id: id, client_secret: csecret-9}
    static_configs: [{targets: ["h:1"]}]
remote_write:
  - url: https://user:pw@example.com/api/v1/write
    headers: {X-Scope-OrgID: team-a}
    http_headers: {X-Key: {secrets: [hdr-secret-1, hdr-secret-2]}}
"#;
        let shown = redacted_yaml(text);
        for secret in ["hunter2", "tok-1", "tok-2", "inline-key", "csecret-9", "hdr-secret", ":pw@"] {
            assert!(!shown.contains(secret), "{secret} shown in:\n{shown}");
        }
        for kept in
            ["username: u", "/etc/token", "key_file: k.pem", "team-a", "user:xxxxx@example.com", "client_id: id"]
        {
            assert!(shown.contains(kept), "{kept} missing in:\n{shown}");
        }
        assert!(shown.contains("password: <secret>"), "{shown}");
        assert_eq!(redacted_yaml(""), "{}\n");
    }

    #[test]
    fn empty_file_is_the_empty_config() {
        let cfg = parse("", Path::new("empty.yml")).unwrap();
        assert!(cfg.scrape_configs.is_empty());
    }
}
