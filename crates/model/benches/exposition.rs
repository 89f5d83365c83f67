//! Scrape-path benchmarks: parsing a ~10k-line body in text 0.0.4 and OpenMetrics, and relabeling.

use std::fmt::Write;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use vitals_model::exposition::{parse_series, Entry, TextParser};
use vitals_model::openmetrics::OpenMetricsParser;
use vitals_model::relabel::{process, Action, Regex, RelabelConfig};
use vitals_model::Labels;

/// A body of `families` histogram families with `series` series each (plus counters and gauges).
fn body(openmetrics: bool) -> String {
    let mut s = String::new();
    let ts = |i: usize| if openmetrics { format!(" {}.{:03}", 1_700_000_000 + i, i % 1000) } else { String::new() };
    for f in 0..50 {
        let _ = writeln!(s, "# HELP http_requests_{f}_total Requests handled.");
        let _ = writeln!(s, "# TYPE http_requests_{f}_total counter");
        for i in 0..40 {
            let _ = writeln!(
                s,
                "http_requests_{f}_total{{method=\"GET\",code=\"{}\",handler=\"/api/v1/query_{i}\"}} {}{}",
                200 + i % 5,
                i * 17 + f,
                ts(i)
            );
        }
        let _ = writeln!(s, "# TYPE request_duration_{f}_seconds histogram");
        for i in 0..12 {
            for le in ["0.005", "0.01", "0.1", "1", "+Inf"] {
                let _ = writeln!(
                    s,
                    "request_duration_{f}_seconds_bucket{{handler=\"/h{i}\",le=\"{le}\"}} {}",
                    i * 3 + le.len()
                );
            }
            let _ = writeln!(s, "request_duration_{f}_seconds_sum{{handler=\"/h{i}\"}} {}.25", i);
            let _ = writeln!(s, "request_duration_{f}_seconds_count{{handler=\"/h{i}\"}} {}", i * 9);
        }
        let _ = writeln!(s, "# TYPE temperature_{f} gauge");
        for i in 0..38 {
            let _ = writeln!(s, "temperature_{f}{{sensor=\"s{i}\",room=\"r{}\"}} {}.5", i % 4, i);
        }
    }
    if openmetrics {
        s.push_str("# EOF\n");
    }
    s
}

fn count(entries: impl Iterator<Item = Result<Entry<'static>, vitals_model::exposition::ParseError>>) -> usize {
    entries.filter(|e| matches!(e, Ok(Entry::Sample { .. }))).count()
}

fn bench_parse(c: &mut Criterion) {
    let text: &'static str = Box::leak(body(false).into_boxed_str());
    let om: &'static str = Box::leak(body(true).into_boxed_str());
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(text.lines().count() as u64));
    g.bench_function("text_0.0.4", |b| b.iter(|| count(TextParser::new(black_box(text)))));
    g.throughput(Throughput::Elements(om.lines().count() as u64));
    g.bench_function("openmetrics_1.0", |b| b.iter(|| count(OpenMetricsParser::new(black_box(om)))));
    g.finish();
}

fn bench_relabel(c: &mut Criterion) {
    let series: Vec<Labels> = TextParser::new(Box::leak(body(false).into_boxed_str()))
        .filter_map(|e| match e {
            Ok(Entry::Sample { series, .. }) => parse_series(series).ok(),
            _ => None,
        })
        .map(|l| {
            let mut b = l.builder();
            b.set("instance", "10.0.0.1:9100").set("job", "node");
            b.build()
        })
        .collect();
    let configs = typical_configs();
    let mut g = c.benchmark_group("relabel");
    g.throughput(Throughput::Elements(series.len() as u64));
    g.bench_function("process_3_configs", |b| {
        b.iter(|| series.iter().filter_map(|l| process(black_box(l), &configs)).count())
    });
    g.finish();
}

/// Drop a family, copy `instance` to `host` stripping the port, drop a label: typical metric relabeling.
fn typical_configs() -> Vec<RelabelConfig> {
    let re = |s: &str| Regex::new(s).expect("constant regex");
    vec![
        RelabelConfig {
            source_labels: vec!["__name__".into()],
            regex: re("temperature_1.*"),
            action: Action::Drop,
            ..Default::default()
        },
        RelabelConfig {
            source_labels: vec!["instance".into()],
            regex: re("(.+):\\d+"),
            target_label: "host".into(),
            ..Default::default()
        },
        RelabelConfig { regex: re("room"), action: Action::LabelDrop, ..Default::default() },
    ]
}

criterion_group!(benches, bench_parse, bench_relabel);
criterion_main!(benches);
