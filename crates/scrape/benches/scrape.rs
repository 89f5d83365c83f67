//! The scrape hot path without the network: parse a 2000-series page, merge target labels,
//! look series up in the target's cache, append and commit into a real TSDB.

use std::fmt::Write as _;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vitals_client::HttpClientConfig;
use vitals_model::exposition::Format;
use vitals_model::Labels;
use vitals_scrape::scrape_loop::{Cache, JobSettings};

/// A page like a service's: counters by method/code, latency histograms by route, gauges.
fn page(series: usize) -> String {
    let mut s = String::new();
    let mut n = 0;
    let mut fam = 0;
    while n < series {
        let _ = writeln!(s, "# HELP http_requests_{fam}_total Requests.\n# TYPE http_requests_{fam}_total counter");
        for code in ["200", "404", "500"] {
            for method in ["GET", "POST"] {
                let _ = writeln!(s, "http_requests_{fam}_total{{method=\"{method}\",code=\"{code}\"}} {}", n * 7);
                n += 1;
            }
        }
        let _ = writeln!(s, "# TYPE latency_{fam}_seconds histogram");
        for route in ["/a", "/b"] {
            for le in ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "+Inf"] {
                let _ = writeln!(s, "latency_{fam}_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}", n * 3);
                n += 1;
            }
            let _ = writeln!(s, "latency_{fam}_seconds_sum{{route=\"{route}\"}} {}.25", n);
            let _ = writeln!(s, "latency_{fam}_seconds_count{{route=\"{route}\"}} {}", n * 3);
            n += 2;
        }
        let _ = writeln!(s, "# TYPE queue_{fam}_depth gauge\nqueue_{fam}_depth {}", n % 17);
        n += 1;
        fam += 1;
    }
    s
}

fn bench(c: &mut Criterion) {
    let body = page(2000);
    let samples = body.lines().filter(|l| !l.starts_with('#')).count() as u64;
    let dir = tempfile::tempdir().unwrap();
    let opts =
        vitals_tsdb::Options { wal_sync: vitals_tsdb::WalSync::Interval(Duration::from_secs(1)), ..Default::default() };
    let db = vitals_tsdb::Db::open(dir.path(), opts).unwrap();
    let job = JobSettings {
        name: "bench".into(),
        interval: Duration::from_secs(15),
        timeout: Duration::from_secs(10),
        honor_labels: false,
        honor_timestamps: true,
        sample_limit: 0,
        label_limit: 0,
        label_name_length_limit: 0,
        label_value_length_limit: 0,
        body_size_limit: 0,
        metric_relabel: Vec::new(),
        http: HttpClientConfig::default(),
        client: reqwest::Client::new(),
    };
    let target = Labels::from_pairs([("job", "bench"), ("instance", "10.0.0.1:9100")]);
    let mut cache = Cache::new();
    let mut t = 1_000_000i64;
    let mut g = c.benchmark_group("scrape");
    g.throughput(Throughput::Elements(samples));
    g.bench_function("append_page_2000_series", |b| {
        b.iter(|| {
            t += 15_000;
            cache.append_page(db.as_ref(), &job, &target, Ok((&body, Format::Text)), t, Duration::ZERO).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
