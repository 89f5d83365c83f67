//! Data-driven relabeling tests: cases live in `tests/data/relabel*.yaml`.

use std::collections::BTreeMap;

use serde::Deserialize;
use vitals_model::relabel::{process, process_vec, Action, RelabelConfig};
use vitals_model::Labels;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessCase {
    name: String,
    input: BTreeMap<String, String>,
    configs: Vec<RelabelConfig>,
    #[serde(default)]
    output: Option<BTreeMap<String, String>>,
    #[serde(default)]
    drop: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateCase {
    name: String,
    config: serde_norway::Value,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    defaults: Option<serde_norway::Value>,
}

fn load<T: for<'de> Deserialize<'de>>(file: &str) -> Vec<T> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn process_cases() {
    let cases: Vec<ProcessCase> = load("relabel.yaml");
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        for (i, cfg) in case.configs.iter().enumerate() {
            if let Err(e) = cfg.validate() {
                failures.push(format!("{}: config {i} invalid: {e}", case.name));
            }
        }
        assert!(case.drop != case.output.is_some(), "{}: give exactly one of output and drop", case.name);
        let input = Labels::from_pairs(&case.input);
        let expected = case.output.as_ref().map(Labels::from_pairs);
        let got = process(&input, &case.configs);
        if got != expected {
            failures.push(format!("{}: process gave {got:?}, want {expected:?}", case.name));
        }
        let mut v = input.as_slice().to_vec();
        let kept = process_vec(&mut v, &case.configs);
        let got_vec = kept.then(|| Labels::from_sorted(v));
        if got_vec != expected {
            failures.push(format!("{}: process_vec gave {got_vec:?}, want {expected:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn validate_cases() {
    let cases: Vec<ValidateCase> = load("relabel_validate.yaml");
    let mut failures = Vec::new();
    for case in &cases {
        let result = serde_norway::from_value::<RelabelConfig>(case.config.clone())
            .map_err(|e| e.to_string())
            .and_then(|c| c.validate().map(|()| c).map_err(|e| e.to_string()));
        match (&result, &case.error) {
            (Ok(_), None) => {}
            (Err(e), Some(want)) if e.contains(want.as_str()) => {}
            (r, want) => failures.push(format!("{}: got {:?}, want error {want:?}", case.name, r.as_ref().err())),
        }
        if let (Some(want), Ok(cfg)) = (&case.defaults, &result) {
            let got = serde_norway::to_value(cfg).expect("serialise");
            for (k, v) in want.as_mapping().expect("defaults is a mapping") {
                if got.get(k) != Some(v) {
                    failures.push(format!("{}: {k:?} is {:?}, want {v:?}", case.name, got.get(k)));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_action_is_covered_by_the_data() {
    let cases: Vec<ProcessCase> = load("relabel.yaml");
    for action in Action::ALL {
        assert!(cases.iter().any(|c| c.configs.iter().any(|cfg| cfg.action == action)), "no process case for {action}");
    }
}

#[test]
fn configs_round_trip_through_yaml() {
    let cases: Vec<ProcessCase> = load("relabel.yaml");
    for cfg in cases.iter().flat_map(|c| &c.configs) {
        let text = serde_norway::to_string(cfg).expect("serialise");
        let back: RelabelConfig = serde_norway::from_str(&text).expect("parse back");
        assert_eq!(&back, cfg, "{text}");
        assert!(text.contains(&format!("action: {}", cfg.action)), "{text}");
    }
}
