//! Service level objectives: the `slos:` section turns each objective into recording rules (the
//! error ratio over the windows the alerts need) and multi-window, multi-burn-rate alerts as in the
//! SRE workbook (page: 1h/5m at 14.4x and 6h/30m at 6x; ticket: 1d/2h at 3x and 3d/6h at 1x).

use std::collections::BTreeMap;

use serde::Deserialize;
use vitals_model::PromDuration;

use crate::file::{GroupConfig, RuleConfig, RuleFile};

/// One objective.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// Name, unique; becomes the `slo` label.
    pub name: String,
    /// Target in percent of good events, e.g. `99.9`.
    pub objective: f64,
    /// The compliance window (default 30d).
    #[serde(default)]
    pub window: Option<PromDuration>,
    /// How good and total events are counted.
    pub sli: SliConfig,
    /// Labels added to the rules' output and alerts.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Whether burn-rate alerts are generated (default true).
    #[serde(default)]
    pub alerting: Option<bool>,
}

/// The service level indicator: exactly one of the three forms.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SliConfig {
    /// Good and total events as PromQL; `$window` stands for the range, e.g.
    /// `sum(rate(http_requests_total{code!~"5.."}[$window]))`.
    #[serde(default)]
    pub events: Option<EventsSli>,
    /// Requests faster than a threshold, from a classic histogram.
    #[serde(default)]
    pub latency: Option<LatencySli>,
    /// The success of a probe (`probe_success`).
    #[serde(default)]
    pub probe: Option<ProbeSli>,
}

/// Good/total events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSli {
    /// Rate of good events, with `$window`.
    pub good: String,
    /// Rate of all events, with `$window`.
    pub total: String,
}

/// Requests under a latency threshold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySli {
    /// The histogram's name without `_bucket` (e.g. `http_request_duration_seconds`).
    pub histogram: String,
    /// A bucket bound (seconds), exactly as the `le` label writes it, e.g. `0.3`.
    pub threshold: String,
    /// Label matchers, e.g. `job="api", handler="/checkout"`.
    #[serde(default)]
    pub selector: String,
}

/// A probe's success.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSli {
    /// The probe check's name (its `job` label).
    pub job: String,
    /// Restrict to one target (`instance`).
    #[serde(default)]
    pub instance: Option<String>,
}

/// Windows the recording rules cover (besides the SLO window).
pub const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// The burn-rate alert pairs: (severity, long window, short window, factor, `for`).
pub const BURN_ALERTS: [(&str, &str, &str, f64, &str); 4] = [
    ("page", "1h", "5m", 14.4, "2m"),
    ("page", "6h", "30m", 6.0, "15m"),
    ("ticket", "1d", "2h", 3.0, "1h"),
    ("ticket", "3d", "6h", 1.0, "3h"),
];

/// The recorded error-ratio series of a window.
pub fn ratio_series(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

impl SloConfig {
    /// The compliance window as PromQL text.
    pub fn window_text(&self) -> String {
        self.window.map(|d| d.to_string()).unwrap_or_else(|| "30d".into())
    }

    /// The allowed error ratio, e.g. 0.001 for 99.9 %.
    pub fn error_budget(&self) -> f64 {
        1.0 - self.objective / 100.0
    }

    /// Checks the objective and that exactly one SLI form is given.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("slos: name must not be empty".into());
        }
        if !(self.objective > 0.0 && self.objective < 100.0) {
            return Err(format!(
                "slos: {:?}: objective must be between 0 and 100 (percent), got {}",
                self.name, self.objective
            ));
        }
        let forms = [self.sli.events.is_some(), self.sli.latency.is_some(), self.sli.probe.is_some()];
        if forms.iter().filter(|x| **x).count() != 1 {
            return Err(format!("slos: {:?}: sli needs exactly one of events, latency, probe", self.name));
        }
        for w in WINDOWS.iter().map(|w| w.to_string()).chain([self.window_text()]) {
            let e = self.error_ratio_expr(&w);
            promql_parser::parser::parse(&e).map_err(|err| {
                format!("slos: {:?}: the SLI gives an invalid expression {e:?}: {}", self.name, err.trim())
            })?;
        }
        Ok(())
    }

    /// The error ratio over `window` (0 = all good) as PromQL.
    pub fn error_ratio_expr(&self, window: &str) -> String {
        if let Some(e) = &self.sli.events {
            let good = e.good.replace("$window", window);
            let total = e.total.replace("$window", window);
            return format!("1 - (({good}) / ({total}))");
        }
        if let Some(l) = &self.sli.latency {
            let sel = l.selector.trim();
            let sep = if sel.is_empty() { "" } else { ", " };
            return format!(
                "1 - (sum(rate({h}_bucket{{{sel}{sep}le=\"{t}\"}}[{window}])) / sum(rate({h}_count{{{sel}}}[{window}])))",
                h = l.histogram,
                t = l.threshold,
            );
        }
        if let Some(p) = &self.sli.probe {
            let inst = p.instance.as_ref().map(|i| format!(", instance=\"{i}\"")).unwrap_or_default();
            return format!("1 - avg(avg_over_time(probe_success{{job=\"{}\"{inst}}}[{window}]))", p.job);
        }
        "vector(0)".into()
    }

    fn labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert("slo".into(), self.name.clone());
        l
    }

    /// The generated rule groups: one recording group, one alerting group.
    pub fn rule_groups(&self) -> Vec<GroupConfig> {
        let labels = self.labels();
        let mut windows: Vec<String> = WINDOWS.iter().map(|w| w.to_string()).collect();
        let win = self.window_text();
        if !windows.contains(&win) {
            windows.push(win.clone());
        }
        let recording = windows
            .iter()
            .map(|w| RuleConfig {
                record: Some(ratio_series(w)),
                expr: self.error_ratio_expr(w),
                labels: labels.clone(),
                ..RuleConfig::default()
            })
            .collect();
        let mut groups = vec![GroupConfig {
            name: format!("slo:{}:recording", self.name),
            interval: None,
            rules: recording,
            ..GroupConfig::default()
        }];
        if self.alerting.unwrap_or(true) {
            let budget = self.error_budget();
            let budget_text = {
                let t = format!("{budget:.12}");
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            };
            let sel = format!("{{slo=\"{}\"}}", self.name);
            let alerts = BURN_ALERTS
                .iter()
                .map(|(severity, long, short, factor, hold)| {
                    let mut l = labels.clone();
                    l.insert("severity".into(), severity.to_string());
                    l.insert("long_window".into(), long.to_string());
                    l.insert("short_window".into(), short.to_string());
                    let mut annotations = BTreeMap::new();
                    annotations.insert(
                        "summary".into(),
                        format!(
                            "SLO {} burns its error budget {factor}x too fast over {long} and {short}",
                            self.name
                        ),
                    );
                    annotations.insert(
                        "description".into(),
                        format!(
                            "The error ratio of SLO {} ({}% over {win}) is {{{{ $value | humanizePercentage }}}} over the last {long}, \
                             above {factor} times the budget of {:.4}%. At this rate the budget of the window is gone in {}.",
                            self.name,
                            self.objective,
                            budget * 100.0,
                            exhaust_text(&win, *factor)
                        ),
                    );
                    RuleConfig {
                        alert: Some(format!("SLOBurnRate{}", capitalise(severity))),
                        expr: format!(
                            "{long_s}{sel} > ({factor} * {budget_text}) and {short_s}{sel} > ({factor} * {budget_text})",
                            long_s = ratio_series(long),
                            short_s = ratio_series(short),
                        ),
                        for_: PromDuration::parse(hold).ok(),
                        labels: l,
                        annotations,
                        ..RuleConfig::default()
                    }
                })
                .collect();
            groups.push(GroupConfig {
                name: format!("slo:{}:alerts", self.name),
                rules: alerts,
                ..GroupConfig::default()
            });
        }
        groups
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn exhaust_text(window: &str, factor: f64) -> String {
    match PromDuration::parse(window) {
        Ok(d) => {
            let secs = d.0.as_secs_f64() / factor;
            if secs >= 86_400.0 {
                format!("{:.1} days", secs / 86_400.0)
            } else {
                format!("{:.1} hours", secs / 3600.0)
            }
        }
        Err(_) => "less than the window".into(),
    }
}

/// The rule file generated for all objectives.
pub fn rule_file(slos: &[SloConfig]) -> RuleFile {
    RuleFile { groups: slos.iter().flat_map(|s| s.rule_groups()).collect() }
}

/// The generated rules as YAML (what `vitals check config` prints).
pub fn rules_yaml(slos: &[SloConfig]) -> String {
    let mut out = String::from("groups:\n");
    for g in rule_file(slos).groups {
        out.push_str(&format!("  - name: {}\n    rules:\n", yaml_str(&g.name)));
        for r in g.rules {
            if let Some(rec) = &r.record {
                out.push_str(&format!("      - record: {}\n", yaml_str(rec)));
            }
            if let Some(a) = &r.alert {
                out.push_str(&format!("      - alert: {}\n", yaml_str(a)));
            }
            out.push_str(&format!("        expr: {}\n", yaml_str(&r.expr)));
            if let Some(f) = r.for_ {
                out.push_str(&format!("        for: {f}\n"));
            }
            for (key, map) in [("labels", &r.labels), ("annotations", &r.annotations)] {
                if !map.is_empty() {
                    out.push_str(&format!("        {key}:\n"));
                    for (k, v) in map {
                        out.push_str(&format!("          {}: {}\n", k, yaml_str(v)));
                    }
                }
            }
        }
    }
    out
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(sli: &str) -> SloConfig {
        serde_norway::from_str(&format!("name: api\nobjective: 99.9\nwindow: 30d\nsli: {sli}\n")).unwrap()
    }

    #[test]
    fn generated_rules_pass_the_rule_checks() {
        for sli in [
            r#"{events: {good: 'sum(rate(http_requests_total{code!~"5.."}[$window]))', total: 'sum(rate(http_requests_total[$window]))'}}"#,
            r#"{latency: {histogram: http_request_duration_seconds, threshold: "0.3", selector: 'job="api"'}}"#,
            r#"{probe: {job: api-health}}"#,
        ] {
            let s = slo(sli);
            s.validate().unwrap();
            let yaml = rules_yaml(std::slice::from_ref(&s));
            let f = crate::file::parse_rule_file(std::path::Path::new("slo.yml"), &yaml)
                .unwrap_or_else(|e| panic!("{yaml}\n{e:?}"));
            assert_eq!(f.groups.len(), 2);
            assert_eq!(f.groups[0].rules.len(), 8, "7 windows and the 30d window");
            assert_eq!(f.groups[1].rules.len(), 4);
            assert!(f.groups[1].rules[0].expr.contains("slo:sli_error:ratio_rate1h{slo=\"api\"} > (14.4 * 0.001)"));
        }
    }

    #[test]
    fn bad_objectives_are_refused() {
        let mut s = slo("{probe: {job: x}}");
        s.objective = 100.0;
        assert!(s.validate().is_err());
        let s: SloConfig = serde_norway::from_str("name: x\nobjective: 99\nsli: {}\n").unwrap();
        assert!(s.validate().unwrap_err().contains("exactly one"));
    }
}
