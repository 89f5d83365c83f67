//! One rule's evaluation: recording rules turn a query into series; alerting rules keep alert
//! states (inactive → pending → firing → resolved) as Prometheus' `AlertingRule` does.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use vitals_model::{Labels, LabelsBuilder, METRIC_NAME};
use vitals_promql::{Engine, QueryOptions, Value};

use crate::file::RuleConfig;
use crate::template::{QuerySample, Template, TemplateData};

/// How long a resolved alert is kept (and re-sent) so that receivers hear of the resolution.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// State of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition cleared (kept a while to send the resolution).
    Inactive,
    /// The condition holds, but not yet for `for`.
    Pending,
    /// The condition held for `for`: notifications go out.
    Firing,
}

impl AlertState {
    /// Prometheus' word for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule (one label set).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alert {
    /// Labels: the series' labels without the name, the rule's labels and `alertname`.
    pub labels: BTreeMap<String, String>,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// Current state.
    pub state: AlertState,
    /// The last value of the expression for this alert (saved as a string: NaN and ±Inf survive).
    #[serde(with = "float_text")]
    pub value: f64,
    /// When the condition started to hold (ms).
    pub active_at: i64,
    /// When it started firing (ms).
    #[serde(default)]
    pub fired_at: Option<i64>,
    /// When it was resolved (ms).
    #[serde(default)]
    pub resolved_at: Option<i64>,
    /// When it was last handed to the notifier (ms).
    #[serde(default)]
    pub last_sent_at: Option<i64>,
    /// Until when the last notification is valid (ms).
    #[serde(default)]
    pub valid_until: i64,
    /// Since when it has been kept firing by `keep_firing_for` (ms).
    #[serde(default)]
    pub keep_firing_since: Option<i64>,
}

/// A float as JSON text (`"1.5"`, `"NaN"`, `"inf"`, `"-inf"`), since JSON numbers cannot hold NaN or Inf.
mod float_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<f64>().map_err(serde::de::Error::custom)
    }
}

impl Alert {
    fn needs_sending(&self, ts: i64, resend_delay: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last = self.last_sent_at.unwrap_or(i64::MIN);
        if self.resolved_at.is_some_and(|r| r > last) {
            return true;
        }
        last.saturating_add(resend_delay) < ts
    }
}

/// An alert handed to the notifier.
#[derive(Debug, Clone)]
pub struct OutgoingAlert {
    /// Labels (with `alertname`).
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (ms).
    pub starts_at: i64,
    /// When it ends: the resolution time, or how long this notification stays valid (ms).
    pub ends_at: i64,
    /// Link back to the expression.
    pub generator_url: String,
}

/// Health of a rule after its last evaluation.
#[derive(Debug, Clone, Default)]
pub struct RuleHealth {
    /// `ok`, `err` or `unknown` (not yet evaluated).
    pub health: &'static str,
    /// The last error, if any.
    pub last_error: String,
    /// When it was last evaluated (ms; 0 never).
    pub last_evaluation: i64,
    /// How long that took (s).
    pub evaluation_seconds: f64,
}

/// Things a rule needs while it is evaluated.
pub struct EvalEnv<'a> {
    /// The query engine.
    pub engine: &'a Engine,
    /// Where to read.
    pub storage: &'a dyn vitals_model::Queryable,
    /// `global.external_labels`.
    pub external_labels: &'a BTreeMap<String, String>,
    /// The URL vitals is reached at (for links).
    pub external_url: &'a str,
}

impl EvalEnv<'_> {
    fn query(&self, expr: &str, t: i64) -> Result<Vec<(Labels, f64)>, String> {
        let r =
            self.engine.instant_query(self.storage, expr, t, &QueryOptions::default()).map_err(|e| e.to_string())?;
        match r.value {
            Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
            Value::Scalar { v, .. } => Ok(vec![(Labels::empty(), v)]),
            other => Err(format!("rule result is not a vector or scalar: {}", other.type_name())),
        }
    }
}

/// A rule with its state.
pub enum Rule {
    /// Writes a new series.
    Recording(RecordingRule),
    /// Raises alerts.
    Alerting(AlertingRule),
}

/// A recording rule.
pub struct RecordingRule {
    /// Name of the series written.
    pub name: String,
    /// The expression.
    pub expr: String,
    /// Labels set on the output.
    pub labels: BTreeMap<String, String>,
    /// Health after the last evaluation.
    pub health: RuleHealth,
}

/// An alerting rule.
pub struct AlertingRule {
    /// The alert's name.
    pub name: String,
    /// The expression.
    pub expr: String,
    /// `for`, in ms.
    pub hold_ms: i64,
    /// `keep_firing_for`, in ms.
    pub keep_firing_ms: i64,
    /// Label templates.
    pub labels: BTreeMap<String, String>,
    /// Annotation templates.
    pub annotations: BTreeMap<String, String>,
    label_tmpl: Vec<(String, Template)>,
    annotation_tmpl: Vec<(String, Template)>,
    /// Active alerts by label set.
    pub active: HashMap<BTreeMap<String, String>, Alert>,
    /// Health after the last evaluation.
    pub health: RuleHealth,
}

impl Rule {
    /// Builds a rule from its configuration (already checked by `parse_rule_file`).
    pub fn new(c: &RuleConfig) -> Result<Rule, String> {
        if let Some(alert) = c.alert.as_deref().filter(|s| !s.is_empty()) {
            let tname = format!("__alert_{alert}");
            let compile = |m: &BTreeMap<String, String>| -> Result<Vec<(String, Template)>, String> {
                m.iter()
                    .map(|(k, v)| Template::parse(&tname, v).map(|t| (k.clone(), t)).map_err(|e| e.to_string()))
                    .collect()
            };
            Ok(Rule::Alerting(AlertingRule {
                name: alert.to_string(),
                expr: c.expr.clone(),
                hold_ms: c.for_.map(|d| d.0.as_millis() as i64).unwrap_or(0),
                keep_firing_ms: c.keep_firing_for.map(|d| d.0.as_millis() as i64).unwrap_or(0),
                labels: c.labels.clone(),
                annotations: c.annotations.clone(),
                label_tmpl: compile(&c.labels)?,
                annotation_tmpl: compile(&c.annotations)?,
                active: HashMap::new(),
                health: RuleHealth { health: "unknown", ..RuleHealth::default() },
            }))
        } else {
            Ok(Rule::Recording(RecordingRule {
                name: c.record.clone().unwrap_or_default(),
                expr: c.expr.clone(),
                labels: c.labels.clone(),
                health: RuleHealth { health: "unknown", ..RuleHealth::default() },
            }))
        }
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.name,
            Rule::Alerting(r) => &r.name,
        }
    }

    /// The rule's health.
    pub fn health(&self) -> &RuleHealth {
        match self {
            Rule::Recording(r) => &r.health,
            Rule::Alerting(r) => &r.health,
        }
    }

    pub(crate) fn health_mut(&mut self) -> &mut RuleHealth {
        match self {
            Rule::Recording(r) => &mut r.health,
            Rule::Alerting(r) => &mut r.health,
        }
    }
}

fn with_labels(base: &Labels, set: &BTreeMap<String, String>, name: Option<&str>) -> Labels {
    let mut b: LabelsBuilder = base.builder();
    if let Some(n) = name {
        b.set(METRIC_NAME, n);
    }
    for (k, v) in set {
        b.set(k, v);
    }
    b.build()
}

fn to_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter().map(|x| (x.name.to_string(), x.value.to_string())).collect()
}

impl RecordingRule {
    /// Evaluates at `t` (ms): the series to write, or why not.
    pub fn eval(&self, env: &EvalEnv<'_>, t: i64, limit: usize) -> Result<Vec<(Labels, f64)>, String> {
        let res = env.query(&self.expr, t)?;
        let mut out = Vec::with_capacity(res.len());
        let mut seen = std::collections::HashSet::with_capacity(res.len());
        for (l, v) in res {
            let labels = with_labels(&l, &self.labels, Some(&self.name));
            if !seen.insert(labels.clone()) {
                return Err("vector contains metrics with the same labelset after applying rule labels".into());
            }
            out.push((labels, v));
        }
        if limit > 0 && out.len() > limit {
            return Err(format!("exceeded limit of {limit} with {} series", out.len()));
        }
        Ok(out)
    }
}

impl AlertingRule {
    /// Evaluates at `ts` (ms) with the query at `qt` (`ts` minus the group's query offset):
    /// updates alert states and returns the `ALERTS` and `ALERTS_FOR_STATE` samples to write.
    pub fn eval(&mut self, env: &EvalEnv<'_>, ts: i64, qt: i64, limit: usize) -> Result<Vec<(Labels, f64)>, String> {
        let res = env.query(&self.expr, qt)?;
        let mut fresh: HashMap<BTreeMap<String, String>, Alert> = HashMap::with_capacity(res.len());
        for (l, v) in res {
            let series = to_map(&vitals_promql_drop_name(&l));
            let data = TemplateData {
                labels: series.clone(),
                external_labels: env.external_labels.clone(),
                external_url: env.external_url.to_string(),
                value: v,
            };
            let q = |expr: &str| -> Result<Vec<QuerySample>, String> {
                env.query(expr, qt)
                    .map(|r| r.into_iter().map(|(l, value)| QuerySample { labels: to_map(&l), value }).collect())
            };
            let expand = |tm: &Template, what: &str| match tm.execute(&data, &q) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(alert = %self.name, error = %e, "expanding {what} template failed");
                    format!("<error expanding template: {e}>")
                }
            };
            let mut labels = series.clone();
            for (k, tm) in &self.label_tmpl {
                let val = expand(tm, "label");
                if val.is_empty() {
                    labels.remove(k);
                } else {
                    labels.insert(k.clone(), val);
                }
            }
            labels.insert("alertname".into(), self.name.clone());
            let annotations: BTreeMap<String, String> =
                self.annotation_tmpl.iter().map(|(k, tm)| (k.clone(), expand(tm, "annotation"))).collect();
            if fresh.contains_key(&labels) {
                return Err("vector contains metrics with the same labelset after applying alert labels".into());
            }
            fresh.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value: v,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: 0,
                    keep_firing_since: None,
                },
            );
        }
        let seen: std::collections::HashSet<BTreeMap<String, String>> = fresh.keys().cloned().collect();
        for (k, a) in fresh {
            match self.active.get_mut(&k) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(k, a);
                }
            }
        }
        let mut out = Vec::new();
        let mut remove = Vec::new();
        let mut active_pending = 0usize;
        for (k, a) in self.active.iter_mut() {
            if !seen.contains(k) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    if ts - since < self.keep_firing_ms {
                        keep_firing = true;
                    }
                }
                if a.state == AlertState::Pending || a.resolved_at.is_some_and(|r| ts - r > RESOLVED_RETENTION_MS) {
                    remove.push(k.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= self.hold_ms {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            let base = Labels::from_pairs(a.labels.iter());
            let mut b = base.builder();
            b.set(METRIC_NAME, "ALERTS");
            b.set("alertstate", a.state.as_str());
            out.push((b.build(), 1.0));
            let mut b = base.builder();
            b.set(METRIC_NAME, "ALERTS_FOR_STATE");
            out.push((b.build(), (a.active_at / 1000) as f64));
        }
        for k in remove {
            self.active.remove(&k);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(format!("exceeded limit of {limit} with {active_pending} alerts"));
        }
        Ok(out)
    }

    /// The alerts to hand to the notifier now (firing ones not sent for `resend_delay`, and new
    /// resolutions), marking them sent.
    pub fn to_send(&mut self, ts: i64, resend_delay: i64, interval: i64, generator_url: &str) -> Vec<OutgoingAlert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if !a.needs_sending(ts, resend_delay) {
                continue;
            }
            a.last_sent_at = Some(ts);
            a.valid_until = ts + 4 * resend_delay.max(interval);
            out.push(OutgoingAlert {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: a.fired_at.unwrap_or(a.active_at),
                ends_at: a.resolved_at.unwrap_or(a.valid_until),
                generator_url: generator_url.to_string(),
            });
        }
        out
    }

    /// The rule's state: the most severe of its alerts.
    pub fn state(&self) -> AlertState {
        let mut s = AlertState::Inactive;
        for a in self.active.values() {
            match a.state {
                AlertState::Firing => return AlertState::Firing,
                AlertState::Pending => s = AlertState::Pending,
                AlertState::Inactive => {}
            }
        }
        s
    }
}

/// The labels without `__name__`.
fn vitals_promql_drop_name(l: &Labels) -> Labels {
    if l.get(METRIC_NAME).is_none() {
        return l.clone();
    }
    let mut b = l.builder();
    b.del(METRIC_NAME);
    b.build()
}
