//! OpenMetrics parsing against a realistic body (as the Python prometheus_client writes it), malformed
//! inputs, format selection, and no-panic properties of both parsers.

use proptest::prelude::*;
use vitals_model::exposition::{content_type_format, parse_series, Entry, Format, Parser, TextParser};
use vitals_model::openmetrics::OpenMetricsParser;
use vitals_model::relabel::{process, Action, Regex, RelabelConfig};

fn body() -> String {
    let path = format!("{}/tests/data/python_client.om.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn parses_a_python_client_body() {
    let body = body();
    let entries: Vec<Entry> = OpenMetricsParser::new(&body).collect::<Result<_, _>>().expect("valid body");
    let samples: Vec<(&str, f64, Option<i64>)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Sample { series, value, timestamp } => Some((*series, *value, *timestamp)),
            _ => None,
        })
        .collect();
    assert_eq!(samples.len(), 32);
    let types: Vec<&str> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Type { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(
        types,
        [
            "counter",
            "gauge",
            "counter",
            "gauge",
            "counter",
            "histogram",
            "info",
            "stateset",
            "gaugehistogram",
            "summary",
            "gauge",
            "unknown"
        ]
    );
    let units: Vec<(&str, &str)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Unit { name, unit } => Some((*name, *unit)),
            _ => None,
        })
        .collect();
    assert_eq!(units.len(), 5);
    assert_eq!(units[0], ("process_cpu_seconds", "seconds"));
    assert!(entries.contains(&Entry::Help { name: "http_requests", text: "Total HTTP requests." }));

    // Exemplars are skipped; `_created` samples are yielded as they are.
    assert!(samples.contains(&("http_requests_total{method=\"GET\",path=\"/\"}", 42.0, None)));
    assert!(samples.contains(&("http_requests_created{method=\"GET\",path=\"/\"}", 1_700_000_000.4, None)));
    assert!(samples.contains(&("request_latency_seconds_bucket{le=\"+Inf\"}", 10.0, None)));
    assert!(samples.contains(&("temperature_celsius{room=\"kitchen\"}", -3.5, Some(1_700_000_000_500))));
    assert!(samples.contains(&("mystery", 1.0, Some(1_700_000_000_000))));
    let nan = samples.iter().find(|s| s.0 == "rpc_duration_seconds{quantile=\"0.99\"}").expect("NaN sample");
    assert!(nan.1.is_nan());

    for (series, ..) in &samples {
        let labels = parse_series(series).unwrap_or_else(|e| panic!("{series}: {e}"));
        assert!(labels.metric_name().is_some());
    }
    let quoted = parse_series("http_requests_total{method=\"POST\",path=\"/api \\\"v1\\\"\"}").expect("labels");
    assert_eq!(quoted.get("path"), Some("/api \"v1\""));
}

#[test]
fn the_same_samples_parse_as_text_without_exemplars_and_eof() {
    let body = body();
    let om: Vec<_> = OpenMetricsParser::new(&body)
        .filter_map(|e| match e {
            Ok(Entry::Sample { series, value, .. }) => Some((series.to_string(), value.to_bits())),
            _ => None,
        })
        .collect();
    let text: String = body
        .lines()
        .filter(|l| !l.starts_with("# UNIT") && !l.starts_with("# EOF"))
        .map(|l| {
            let l = l.split(" # ").next().unwrap_or(l);
            // Text timestamps are milliseconds: drop the float-seconds ones.
            let fields: Vec<&str> = l.rsplitn(3, ' ').collect();
            if !l.starts_with('#') && fields.len() == 3 && !fields[2].ends_with('}') && fields[1].parse::<f64>().is_ok()
                || fields.len() == 3 && fields[2].ends_with('}') && fields[1].parse::<f64>().is_ok()
            {
                format!("{} {}\n", fields[2], fields[1])
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>()
        .replace("# TYPE build info", "# TYPE build gauge")
        .replace("# TYPE feature stateset", "# TYPE feature gauge")
        .replace("# TYPE queue_size gaugehistogram", "# TYPE queue_size histogram")
        .replace("# TYPE mystery unknown", "# TYPE mystery untyped");
    let tp: Vec<_> = TextParser::new(&text)
        .filter_map(|e| match e.expect("text parses") {
            Entry::Sample { series, value, .. } => Some((series.to_string(), value.to_bits())),
            _ => None,
        })
        .collect();
    assert_eq!(om, tp);
}

#[test]
fn malformed_bodies_name_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "missing # EOF"),
        ("a 1\n", 2, "missing # EOF"),
        ("a 1\n# EOF\nb 2\n", 3, "after # EOF"),
        ("a 1\n\n# EOF\n", 2, "empty line"),
        ("# HELP\n# EOF\n", 1, "invalid metric name"),
        ("# TYPE a histogramm\n# EOF\n", 1, "invalid metric type"),
        ("# TYPE a\n# EOF\n", 1, "invalid metric type"),
        ("# UNIT a_bytes seconds\n# EOF\n", 1, "not a suffix"),
        ("# UNIT a_seconds se-conds\n# EOF\n", 1, "invalid unit"),
        ("# random comment\n# EOF\n", 1, "invalid comment"),
        ("#TYPE a counter\n# EOF\n", 1, "expected a space"),
        ("a 1\nb{c=\"d\" 2\n# EOF\n", 2, "unterminated label set"),
        ("a 1\nb x\n# EOF\n", 2, "invalid value"),
        ("a\n# EOF\n", 1, "expected a space"),
        ("a  1\n# EOF\n", 1, "invalid value"),
        ("a 1 1.5.5\n# EOF\n", 1, "invalid timestamp"),
        ("a 1 Inf\n# EOF\n", 1, "invalid timestamp"),
        ("a 1 2 3\n# EOF\n", 1, "unexpected text"),
        ("a 1 2 junk\n# EOF\n", 1, "unexpected text"),
        ("a 1 # x\n# EOF\n", 1, "invalid exemplar"),
        ("a 1 # {b=\"c\"}\n# EOF\n", 1, "invalid exemplar"),
        ("a 1 # {b=\"c\"} 1 x\n# EOF\n", 1, "invalid exemplar"),
        ("a 1 # {0b=\"c\"} 1\n# EOF\n", 1, "invalid label name"),
        ("a 1 # {b=\"c\" d=\"e\"} 1\n# EOF\n", 1, "expected ','"),
        ("1a 1\n# EOF\n", 1, "expected a metric name"),
        ("a-b 1\n# EOF\n", 1, "expected a metric name"),
        (" a 1\n# EOF\n", 1, "expected a metric name"),
        ("# EOF \n", 1, "invalid comment"),
    ];
    for (body, line, msg) in cases {
        let err = OpenMetricsParser::new(body)
            .find_map(Result::err)
            .unwrap_or_else(|| panic!("{body:?} should fail with {msg:?}"));
        assert_eq!(err.line, *line, "{body:?}: {err}");
        assert!(err.msg.contains(msg), "{body:?}: {err} should mention {msg:?}");
    }
}

#[test]
fn content_type_selects_the_parser() {
    assert_eq!(content_type_format("application/openmetrics-text; version=1.0.0; charset=utf-8"), Format::OpenMetrics);
    assert_eq!(content_type_format("Application/OpenMetrics-Text;version=0.0.1"), Format::OpenMetrics);
    assert_eq!(content_type_format("text/plain; version=0.0.4; charset=utf-8"), Format::Text);
    assert_eq!(content_type_format(""), Format::Text);
    assert_eq!(content_type_format("application/json"), Format::Text);
    let om = Parser::new("a 1 1.5\n# EOF\n", Format::OpenMetrics).collect::<Result<Vec<_>, _>>().expect("om");
    assert_eq!(om, [Entry::Sample { series: "a", value: 1.0, timestamp: Some(1500) }]);
    let text = Parser::new("a 1 1500\n", Format::Text).collect::<Result<Vec<_>, _>>().expect("text");
    assert_eq!(om, text);
}

/// Feeds a body to both parsers, the series parser and relabeling; only panics count as failures.
fn exercise(body: &str) {
    let configs = [
        RelabelConfig {
            source_labels: vec!["__name__".into(), "le".into()],
            regex: Regex::new("(.*)_bucket;(.+)").expect("regex"),
            target_label: "${1}_le".into(),
            replacement: "$2".into(),
            ..Default::default()
        },
        RelabelConfig { regex: Regex::new("a.*").expect("regex"), action: Action::LabelDrop, ..Default::default() },
    ];
    for parser in [Parser::new(body, Format::Text), Parser::new(body, Format::OpenMetrics)] {
        for entry in parser.take(10_000) {
            if let Ok(Entry::Sample { series, .. }) = entry {
                if let Ok(labels) = parse_series(series) {
                    let _ = process(&labels, &configs);
                }
            }
        }
    }
    let _ = parse_series(body);
}

#[test]
fn every_prefix_of_a_real_body_parses_without_panicking() {
    let body = body();
    for (i, _) in body.char_indices() {
        exercise(&body[..i]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn grammar_shaped_strings_never_panic(s in "([a-z_:{}=\",#. \n\\\\0-9+-]|EOF|TYPE|HELP|UNIT|Inf|NaN|le=\"|# \\{){0,120}") {
        exercise(&s);
    }
}
