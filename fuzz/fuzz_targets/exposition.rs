//! Fuzzes the scrape path: the text 0.0.4 and OpenMetrics parsers, the series parser and relabeling.
//! Any panic is a bug; parse errors are expected.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vitals_model::exposition::{parse_series, Entry, Format, Parser};
use vitals_model::relabel::{process, Action, Regex, RelabelConfig};

static CONFIGS: LazyLock<Vec<RelabelConfig>> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("constant regex");
    vec![
        RelabelConfig {
            source_labels: vec!["__name__".into()],
            regex: re("go_.*"),
            action: Action::Drop,
            ..Default::default()
        },
        RelabelConfig {
            source_labels: vec!["__name__".into(), "le".into()],
            regex: re("(.*)_bucket;(.+)"),
            target_label: "${1}_le".into(),
            replacement: "$2".into(),
            ..Default::default()
        },
        RelabelConfig {
            regex: re("(.+)"),
            replacement: "copy_$1".into(),
            action: Action::LabelMap,
            ..Default::default()
        },
        RelabelConfig {
            source_labels: vec!["instance".into(), "job".into()],
            target_label: "shard".into(),
            modulus: 7,
            action: Action::HashMod,
            ..Default::default()
        },
        RelabelConfig {
            source_labels: vec!["job".into()],
            target_label: "job".into(),
            action: Action::Uppercase,
            ..Default::default()
        },
        RelabelConfig { regex: re("copy_.*"), action: Action::LabelDrop, ..Default::default() },
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    for format in [Format::Text, Format::OpenMetrics] {
        for entry in Parser::new(body, format) {
            if let Ok(Entry::Sample { series, .. }) = entry {
                if let Ok(labels) = parse_series(series) {
                    let _ = process(&labels, &CONFIGS);
                }
            }
        }
    }
    let _ = parse_series(body);
});
