//! Rule unit tests in `promtool test rules`' format: input series in the expanding notation,
//! `alert_rule_test` and `promql_expr_test` cases checked after evaluating the rule files over an
//! in-memory storage, group by group at every `evaluation_interval`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use vitals_model::{Appendable, Labels, MemStorage, PromDuration, Queryable, METRIC_NAME, STALE_NAN};
use vitals_promql::{Engine, QueryOptions, Value};

use crate::manager::{Group, ManagerOptions};
use crate::rule::{AlertState, Rule};

/// A test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Rule files, relative to the test file.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// How often rules are evaluated (default 1m).
    #[serde(default)]
    pub evaluation_interval: Option<PromDuration>,
    /// Order in which groups are evaluated (default: as in the files).
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    /// The test cases.
    #[serde(default)]
    pub tests: Vec<TestGroup>,
}

/// One test case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// Step of the input series (default: the evaluation interval).
    #[serde(default)]
    pub interval: Option<PromDuration>,
    /// Input series.
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    /// Expected alerts.
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTest>,
    /// Expected query results.
    #[serde(default)]
    pub promql_expr_test: Vec<ExprTest>,
    /// `external_labels` for templates.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// `external_url` for templates.
    #[serde(default)]
    pub external_url: String,
    /// A name shown in failures.
    #[serde(default)]
    pub name: String,
}

/// An input series.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// `name{label="value"}`.
    pub series: String,
    /// Values in the expanding notation (`0+10x5 _ stale`).
    pub values: String,
}

/// Expected firing alerts of one rule at one time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTest {
    /// When.
    pub eval_time: PromDuration,
    /// Which rule.
    pub alertname: String,
    /// The firing alerts expected.
    #[serde(default)]
    pub exp_alerts: Vec<ExpAlert>,
}

/// One expected alert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    /// Labels without `alertname`.
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

/// An expected query result.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExprTest {
    /// The expression.
    pub expr: String,
    /// When.
    pub eval_time: PromDuration,
    /// The samples expected.
    #[serde(default)]
    pub exp_samples: Vec<ExpSample>,
}

/// One expected sample.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    /// `name{label="value"}`.
    #[serde(default)]
    pub labels: String,
    /// The value.
    pub value: f64,
}

/// Parses a series descriptor such as `up{job="api"}` into labels.
pub fn parse_series(text: &str) -> Result<Labels, String> {
    if text.trim().is_empty() {
        return Ok(Labels::empty());
    }
    let expr = promql_parser::parser::parse(text).map_err(|e| format!("{text:?}: {}", e.trim()))?;
    let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
        return Err(format!("{text:?} is not a series"));
    };
    let mut b = Labels::empty().builder();
    if let Some(n) = &vs.name {
        b.set(METRIC_NAME, n);
    }
    for m in &vs.matchers.matchers {
        if m.op != promql_parser::label::MatchOp::Equal {
            return Err(format!("{text:?}: only = matchers describe a series"));
        }
        b.set(&m.name, &m.value);
    }
    Ok(b.build())
}

/// Expands `1+2x3 _ stale 5x2` into values (`None`: no sample at that step).
pub fn expand_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let num = |s: &str| -> Result<f64, String> {
        match s.to_ascii_lowercase().as_str() {
            "inf" | "+inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            _ => s.parse::<f64>().map_err(|_| format!("invalid value {s:?}")),
        }
    };
    let mut out = Vec::new();
    for item in text.split_whitespace() {
        if item == "_" {
            out.push(None);
        } else if item == "stale" {
            out.push(Some(STALE_NAN));
        } else if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("invalid repetition in {item:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
        } else if let Some((head, times)) = item.rsplit_once('x') {
            let times: usize = times.parse().map_err(|_| format!("invalid repetition in {item:?}"))?;
            // `a+bxN` / `a-bxN` (the sign after the first character), or `axN`.
            let split = head.char_indices().skip(1).find(|(_, c)| *c == '+' || *c == '-').map(|(i, _)| i);
            let (start, step) = match split {
                Some(i) if !head[..i].ends_with(['e', 'E']) => {
                    let step = num(&head[i + 1..])?;
                    (num(&head[..i])?, if &head[i..i + 1] == "-" { -step } else { step })
                }
                _ => (num(head)?, 0.0),
            };
            let mut v = start;
            for _ in 0..=times {
                out.push(Some(v));
                v += step;
            }
        } else {
            out.push(Some(num(item)?));
        }
    }
    Ok(out)
}

fn fmt_map(m: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Runs every test of a test file; returns the report and whether all passed.
pub fn run_file(path: &Path) -> (String, bool) {
    let mut report = format!("Unit Testing:  {}\n", path.display());
    match run(path) {
        Ok(failures) if failures.is_empty() => {
            report.push_str("  SUCCESS\n");
            (report, true)
        }
        Ok(failures) => {
            report.push_str("  FAILED:\n");
            for f in failures {
                let _ = writeln!(report, "{f}");
            }
            (report, false)
        }
        Err(e) => {
            let _ = writeln!(report, "  FAILED:\n    {e}");
            (report, false)
        }
    }
}

fn run(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let tf: TestFile = serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let files = crate::file::expand_globs(&tf.rule_files, base)?;
    let files = crate::file::load_files(&files)
        .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n    "))?;
    let eval_interval = tf.evaluation_interval.map(|d| d.0).unwrap_or(Duration::from_secs(60));
    let mut failures = Vec::new();
    for (i, t) in tf.tests.iter().enumerate() {
        let name = if t.name.is_empty() { format!("test {}", i + 1) } else { t.name.clone() };
        if let Err(e) = run_group(t, &files, eval_interval, &tf.group_eval_order, &mut failures) {
            failures.push(format!("    {name}: {e}"));
        }
    }
    Ok(failures)
}

fn run_group(
    t: &TestGroup,
    files: &[(PathBuf, crate::file::RuleFile)],
    eval_interval: Duration,
    order: &[String],
    failures: &mut Vec<String>,
) -> Result<(), String> {
    let db = Arc::new(MemStorage::new());
    let step = t.interval.map(|d| d.0).unwrap_or(eval_interval).as_millis() as i64;
    {
        let mut app = db.appender();
        for s in &t.input_series {
            let labels = parse_series(&s.series)?;
            for (i, v) in expand_values(&s.values)?.into_iter().enumerate() {
                if let Some(v) = v {
                    app.append(&labels, i as i64 * step, v).map_err(|e| e.to_string())?;
                }
            }
        }
        app.commit().map_err(|e| e.to_string())?;
    }
    let state = tempfile_dir()?;
    let opts = ManagerOptions {
        engine: Engine::default(),
        storage: db.clone() as Arc<dyn Queryable>,
        appendable: db.clone() as Arc<dyn Appendable>,
        state_dir: state.clone(),
        external_labels: t.external_labels.clone(),
        external_url: t.external_url.clone(),
        default_interval: eval_interval,
        resend_delay: Duration::from_secs(60),
        sink: None,
    };
    let mut groups = Group::from_files(files, eval_interval)?;
    if !order.is_empty() {
        groups.sort_by_key(|g| order.iter().position(|n| *n == g.name).unwrap_or(usize::MAX));
    }
    let mut alert_tests: Vec<&AlertTest> = t.alert_rule_test.iter().collect();
    alert_tests.sort_by_key(|a| a.eval_time.0);
    let max_t = alert_tests
        .iter()
        .map(|a| a.eval_time.0)
        .chain(t.promql_expr_test.iter().map(|e| e.eval_time.0))
        .max()
        .unwrap_or_default()
        .as_millis() as i64;
    let iv = eval_interval.as_millis().max(1) as i64;
    let mut ts = 0;
    let mut next_alert = 0;
    while ts <= max_t {
        for g in &mut groups {
            g.eval(&opts, ts);
        }
        // Alert checks at times between this evaluation and the next see this evaluation's state.
        while next_alert < alert_tests.len() && (alert_tests[next_alert].eval_time.0.as_millis() as i64) < ts + iv {
            check_alerts(alert_tests[next_alert], &groups, failures);
            next_alert += 1;
        }
        ts += iv;
    }
    for e in &t.promql_expr_test {
        let at = e.eval_time.0.as_millis() as i64;
        let got = match Engine::default().instant_query(&*db, &e.expr, at, &QueryOptions::default()) {
            Ok(r) => match r.value {
                Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.v)).collect::<Vec<_>>(),
                Value::Scalar { v, .. } => vec![(Labels::empty(), v)],
                other => {
                    failures.push(format!(
                        "    expr: {:?}, time: {}: unexpected {} result",
                        e.expr,
                        e.eval_time,
                        other.type_name()
                    ));
                    continue;
                }
            },
            Err(err) => {
                failures.push(format!("    expr: {:?}, time: {}, err: {err}", e.expr, e.eval_time));
                continue;
            }
        };
        let mut exp = Vec::new();
        for s in &e.exp_samples {
            exp.push((parse_series(&s.labels)?, s.value));
        }
        let key = |v: &mut Vec<(Labels, f64)>| v.sort_by(|a, b| a.0.cmp(&b.0));
        let (mut got, mut exp) = (got, exp);
        key(&mut got);
        key(&mut exp);
        let same = got.len() == exp.len() && got.iter().zip(&exp).all(|(g, x)| g.0 == x.0 && close(g.1, x.1));
        if !same {
            let show =
                |v: &[(Labels, f64)]| v.iter().map(|(l, v)| format!("{{{l} {v}}}")).collect::<Vec<_>>().join(", ");
            failures.push(format!(
                "    expr: {:?}, time: {},\n        exp: [{}]\n        got: [{}]",
                e.expr,
                e.eval_time,
                show(&exp),
                show(&got)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&state);
    Ok(())
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// An alert as a unit test sees it: labels and annotations.
type LabelsAndAnnotations = (BTreeMap<String, String>, BTreeMap<String, String>);

fn check_alerts(t: &AlertTest, groups: &[Group], failures: &mut Vec<String>) {
    let mut got: Vec<LabelsAndAnnotations> = Vec::new();
    for g in groups {
        for r in &g.rules {
            if let Rule::Alerting(a) = r {
                if a.name != t.alertname {
                    continue;
                }
                for al in a.active.values().filter(|x| x.state == AlertState::Firing) {
                    got.push((al.labels.clone(), al.annotations.clone()));
                }
            }
        }
    }
    let mut exp: Vec<LabelsAndAnnotations> = t
        .exp_alerts
        .iter()
        .map(|e| {
            let mut l = e.exp_labels.clone();
            l.insert("alertname".into(), t.alertname.clone());
            (l, e.exp_annotations.clone())
        })
        .collect();
    got.sort();
    exp.sort();
    if got != exp {
        let show = |v: &[LabelsAndAnnotations]| {
            v.iter()
                .map(|(l, a)| format!("(labels: {}, annotations: {})", fmt_map(l), fmt_map(a)))
                .collect::<Vec<_>>()
                .join(",\n            ")
        };
        failures.push(format!(
            "    alertname: {}, time: {},\n        exp:[\n            {}\n        ],\n        got:[\n            {}\n        ]",
            t.alertname,
            t.eval_time,
            show(&exp),
            show(&got)
        ));
    }
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "vitals-rule-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_promtool_notation() {
        assert_eq!(expand_values("1+1x3").unwrap(), vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)]);
        assert_eq!(
            expand_values("5-2x2 _ 7x1").unwrap(),
            vec![Some(5.0), Some(3.0), Some(1.0), None, Some(7.0), Some(7.0)]
        );
        assert_eq!(expand_values("_x2 1e3").unwrap(), vec![None, None, Some(1000.0)]);
        assert!(expand_values("stale").unwrap()[0].unwrap().is_nan());
        assert!(expand_values("abc").is_err());
        let l = parse_series("up{job=\"api\", instance=\"a:1\"}").unwrap();
        assert_eq!(l.get("job"), Some("api"));
        assert_eq!(l.metric_name(), Some("up"));
    }
}
