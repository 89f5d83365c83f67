//! Benchmarks of the query engine over an in-memory storage: dashboard-style range queries (1 h at a
//! 15 s step) over 2 000 counter series and 2 000 histogram bucket series scraped every 15 s.
//! Throughput is reported in input samples read.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vitals_model::{Appendable, Labels, MemStorage};
use vitals_promql::{Engine, EngineOptions, QueryOptions};

const STEP_MS: i64 = 15_000;
const POINTS: i64 = 480; // 2 h of data

fn storage() -> (MemStorage, u64) {
    let db = MemStorage::new();
    let mut app = db.appender();
    let mut n = 0u64;
    let les = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    for inst in 0..20 {
        for handler in 0..10 {
            for code in ["200", "500"] {
                for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                    let l = Labels::from_pairs([
                        ("__name__", "http_requests_total"),
                        ("job", "api"),
                        ("instance", &format!("10.0.0.{inst}:9090")),
                        ("handler", &format!("/api/v1/h{handler}")),
                        ("code", code),
                        ("method", method),
                    ]);
                    let r = app.append(&l, 0, 0.0).unwrap();
                    for i in 1..POINTS {
                        app.append_ref(r, i * STEP_MS + 7, (i * (inst + 1)) as f64).unwrap();
                    }
                    n += POINTS as u64;
                }
            }
            for (k, le) in les.iter().enumerate() {
                let l = Labels::from_pairs([
                    ("__name__", "http_request_duration_seconds_bucket"),
                    ("job", "api"),
                    ("instance", &format!("10.0.0.{inst}:9090")),
                    ("handler", &format!("/api/v1/h{handler}")),
                    ("le", le),
                ]);
                let r = app.append(&l, 0, 0.0).unwrap();
                for i in 1..POINTS {
                    app.append_ref(r, i * STEP_MS + 7, (i * (k as i64 + 1) * 3) as f64).unwrap();
                }
                n += POINTS as u64;
            }
        }
    }
    app.commit().unwrap();
    (db, n)
}

fn bench(c: &mut Criterion) {
    let (db, _) = storage();
    let engine = Engine::new(EngineOptions::default());
    let q = QueryOptions::default();
    let end = POINTS * STEP_MS;
    let start = end - 3_600_000;
    let queries = [
        ("sum_rate_by_job", "sum by (job) (rate(http_requests_total[5m]))", 2000u64),
        ("error_ratio", "sum by (handler) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (handler) (rate(http_requests_total[5m]))", 3000),
        ("p95_latency", "histogram_quantile(0.95, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))", 2000),
        ("topk_instances", "topk(5, sum by (instance) (rate(http_requests_total[5m])))", 2000),
        ("raw_selector", "http_requests_total{handler=\"/api/v1/h3\"}", 200),
    ];
    let mut g = c.benchmark_group("range_1h_step15s");
    g.sample_size(10);
    for (name, query, series) in queries {
        g.throughput(Throughput::Elements(series * 260));
        g.bench_function(name, |b| {
            b.iter(|| black_box(engine.range_query(&db, query, start, end, STEP_MS, &q).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
